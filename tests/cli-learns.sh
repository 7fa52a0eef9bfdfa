#!/bin/sh
# It learns: on a small patterned corpus, held-out bits per byte fall
# from about 2.7 (an untrained model) below 0.35 within 150 steps.  The
# corpus's own entropy (the document numbers) keeps it above ~0.15.
. "$srcdir/tests/cli-lib.sh"
cd "$tmp"

mkdir docs
i=0
while [ $i -lt 200 ]; do
    printf 'the cat sat on the mat number %d.\nthe dog ran to the log number %d.\n' $i $((i % 7)) > docs/d$i.txt
    i=$((i + 1))
done
expect 0 "$GARAGE" init w
expect 0 "$GARAGE" -q -C w corpus add docs
expect 0 "$GARAGE" -q -C w tokenizer vocab_size=300
expect 0 "$GARAGE" -q -C w model layers=2 heads=2 dim=32 context=32
expect 0 "$GARAGE" -C w pretrain steps=150 batch=8 lr=1e-2 warmup=10 eval_every=150
bpb=$(printf '%s\n' "$out" | sed -n 's/.*validation \([0-9.]*\) bits per byte.*/\1/p')
[ -n "$bpb" ] || fail "no validation bits per byte in: $out"
awk -v b="$bpb" 'BEGIN { exit !(b < 0.35) }' || fail "val bpb $bpb is not below 0.35"

finish
