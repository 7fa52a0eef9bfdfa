#!/bin/sh
# pretrain profile=true: the share of the step time of each kind of layer
# (matmuls, attention, norms, activations, loss, optimizer, data), printed
# at the end and logged as a "profile" record; training is unchanged.
# pretrain precision=bf16 runs, or explains why it cannot; precision=auto
# is bf16 where it runs on AMX.
. "$srcdir/tests/cli-lib.sh"
cd "$tmp"

mkdir docs
i=0
while [ $i -lt 120 ]; do
    printf 'the cat sat on the mat number %d.\nthe dog ran to the log number %d.\n' $i $((i % 7)) > docs/d$i.txt
    i=$((i + 1))
done
expect 0 "$GARAGE" init ws
expect 0 "$GARAGE" -C ws corpus add docs
expect 0 "$GARAGE" -C ws tokenizer vocab_size=300
expect 0 "$GARAGE" -C ws model layers=2 heads=2 dim=32 context=32
expect 0 "$GARAGE" -q -C ws pretrain steps=6 batch=4 eval_every=3 profile=true
has "$out" "Share of the step time (6 steps,"
for kind in matmul attention norm activation loss embedding optimizer data other; do
    echo "$out" | grep -Eq "^$kind +[0-9.]+ s +[0-9.]+%$" ||
        fail "no '$kind' line in: $out"
done
cat ws/logs/pretrain-*.jsonl | grep -q '"kind":"profile","steps":6,' ||
    fail "no profile record in the log"
bpb=$(echo "$out" | grep -o 'validation [0-9.]* bits per byte')

# the same run without profiling ends the same
expect 0 "$GARAGE" -C ws model layers=2 heads=2 dim=32 context=32 replace=true
expect 0 "$GARAGE" -q -C ws pretrain steps=6 batch=4 eval_every=3
hasnt "$out" "Share of the step time"
has "$out" "$bpb"

# precision=bf16 trains where bf16 products exist, else says why
expect 0 "$GARAGE" -C ws model layers=2 heads=2 dim=32 context=32 replace=true
"$GARAGE" -q -C ws pretrain steps=6 batch=4 eval_every=3 precision=bf16 \
    >"$tmp/out" 2>"$tmp/err"
rc=$?
case $rc in
0) has "$(cat "$tmp/out")" "Trained to step 6" ;;
1) has "$(cat "$tmp/err")" "garage: precision bf16 is not available: " ;;
*) fail "pretrain precision=bf16 exited $rc: $(cat "$tmp/err")" ;;
esac
# precision=auto (the default) is bf16 exactly where bf16 works on AMX
expect 0 "$GARAGE" -C ws model layers=2 heads=2 dim=32 context=32 replace=true
expect 0 "$GARAGE" -C ws pretrain steps=4 batch=4 eval_every=0
if [ $rc -eq 0 ] && grep -qw amx_bf16 /proc/cpuinfo; then
    has "$err" "; products bf16 (oneDNN)"
else
    hasnt "$err" "; products bf16"
fi
expect 0 "$GARAGE" -C ws pretrain steps=8 batch=4 eval_every=0 resume=true precision=fp32
has "$err" "; products "
hasnt "$err" "; products bf16"
finish
