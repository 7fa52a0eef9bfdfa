#!/bin/sh
# Supervised fine-tuning end to end on a tiny corpus and model: the
# validation loss on held-out demonstrations falls, checkpoints and
# metrics are written, a stopped run resumes to the same bytes, mix and
# epochs work, bf16 products reach fp32's validation loss, and the errors
# on the way.
. "$srcdir/tests/cli-lib.sh"
cd "$tmp"

mkdir docs
i=0
while [ $i -lt 120 ]; do
    printf 'the cat sat on the mat number %d.\nthe dog ran to the log number %d.\n' $i $((i % 7)) > docs/d$i.txt
    i=$((i + 1))
done
cat > demos.jsonl <<'EOF'
{"prompt": "hello", "completion": "the cat sat on the mat."}
{"prompt": "bye", "completion": "the dog ran to the log."}
{"prompt": "where is the cat?", "completion": "on the mat number 3."}
{"prompt": "where is the dog?", "completion": "on the log number 5."}
{"prompt": "what did the cat do?", "completion": "the cat sat."}
{"prompt": "what did the dog do?", "completion": "the dog ran."}
{"messages": [{"role": "user", "content": "cat?"}, {"role": "assistant", "content": "the cat."}, {"role": "user", "content": "dog?"}, {"role": "assistant", "content": "the dog."}]}
{"prompt": "number?", "completion": "number 7."}
EOF

expect 0 "$GARAGE" init ws
expect 0 "$GARAGE" -q -C ws corpus add docs
expect 0 "$GARAGE" -q -C ws tokenizer vocab_size=300
expect 0 "$GARAGE" -q -C ws model layers=2 heads=2 dim=32 context=32
expect 0 "$GARAGE" -q -C ws pretrain steps=20 batch=4 lr=3e-3 warmup=2 eval_every=0

expect 1 "$GARAGE" -C ws sft steps=5
has "$err" "there are no demonstrations yet"
expect 0 "$GARAGE" -q -C ws demos import demos.jsonl
expect 2 "$GARAGE" -C ws sft steps=5 epochs=2
same "$err" "garage: give steps or epochs, not both"
expect 1 "$GARAGE" -C ws sft resume=true
has "$err" "there is no sft checkpoint to resume"
cp -r ws ws2
cp -r ws ws5
cp -r ws ws6
cp -r ws ws3
cp -r ws ws7

# 120 steps; two of the eight demonstrations are held out
expect 0 "$GARAGE" -C ws sft steps=120 batch=4 lr=5e-3 warmup=5 eval_every=40 val_fraction=0.25
has "$out" "Fine-tuned to step 120"
has "$out" "Saved ws/checkpoints/sft-000120.ckpt"
has "$err" "6 demonstrations to train on, 2 held out"
[ -f ws/checkpoints/sft-000120.ckpt ] || fail "no sft checkpoint"
log=$(ls ws/logs/sft-*.jsonl | head -n1)
[ "$(grep -c '"kind":"sft"' "$log")" -eq 120 ] || fail "expected 120 sft records in $log"
for k in step steps loss lr grad_norm tok_s elapsed eta; do
    grep '"kind":"sft"' "$log" | head -n1 | grep -q "\"$k\":" || fail "sft records lack $k"
done
# validation loss at steps 0, 40, 80, 120; it falls by a third at least
vals=$(grep '"kind":"eval"' "$log" | sed 's/.*"val_loss":\([^,}]*\).*/\1/')
[ "$(echo "$vals" | wc -l)" -eq 4 ] || fail "expected 4 evaluations, got: $vals"
first=$(echo "$vals" | head -n1) last=$(echo "$vals" | tail -n1)
awk -v a="$first" -v b="$last" 'BEGIN { exit !(b < a * 0.67) }' ||
    fail "validation loss did not fall enough: $first -> $last"
expect 0 "$GARAGE" info ws/checkpoints/sft-000120.ckpt
has "$out" "kind         sft"
expect 0 "$GARAGE" -C ws status
has "$out" "  demos      done     8 demonstrations (labels/demos.jsonl)"
has "$out" "  sft        done     step 120 (ws/checkpoints/sft-000120.ckpt)"

# no silent restart; replace starts over from the base
expect 1 "$GARAGE" -C ws sft steps=10
has "$err" "sft-000120.ckpt exists already: continue it with 'garage sft resume=true steps=N', or start over with replace=true"
expect 1 "$GARAGE" -C ws sft resume=true steps=120
has "$err" "is at step 120 already"

# stop at 60 and resume: the same bytes as 120 steps in one go
expect 0 "$GARAGE" -q -C ws2 sft steps=120 batch=4 lr=5e-3 warmup=5 eval_every=40 val_fraction=0.25 stop_at=60
has "$out" "Stopped at step 60 of 120"
expect 0 "$GARAGE" -q -C ws2 sft steps=120 batch=4 lr=5e-3 warmup=5 eval_every=40 val_fraction=0.25 resume=true
cmp -s ws/checkpoints/sft-000120.ckpt ws2/checkpoints/sft-000120.ckpt ||
    fail "120 steps and 60 + resume + 60 steps differ"

# precision: the same run with fp32 products, and with bf16 products
# where this CPU and build have them; the final validation losses agree
# within 2% (bf16 keeps fp32 weights, gradients and optimizer)
val_loss() {
    grep '"kind":"eval"' "$(ls "$1"/logs/sft-*.jsonl | head -n1)" | tail -n1 |
        sed 's/.*"val_loss":\([^,}]*\).*/\1/'
}
expect 0 "$GARAGE" -C ws5 sft steps=120 batch=4 lr=5e-3 warmup=5 eval_every=40 val_fraction=0.25 precision=fp32
has "$err" "; products "
hasnt "$err" "products bf16"
if "$GARAGE" -q -C ws6 sft steps=120 batch=4 lr=5e-3 warmup=5 eval_every=40 val_fraction=0.25 precision=bf16 >out.txt 2>err.txt; then
    a=$(val_loss ws5) b=$(val_loss ws6)
    awk -v a="$a" -v b="$b" 'BEGIN { d = (a - b) / a; exit !(d < 0.02 && d > -0.02) }' ||
        fail "bf16 validation loss $b is not within 2% of fp32's $a"
else
    has "$(cat err.txt)" "precision bf16 is not available"
fi

# epochs, mix, and replace
expect 0 "$GARAGE" -C ws3 sft epochs=2 batch=4 mix=0.5 val_fraction=0.25
has "$out" "Fine-tuned to step 6"
has "$err" "mixing in pretraining text"
expect 0 "$GARAGE" -q -C ws3 sft steps=3 batch=4 replace=true val_fraction=0
same "$(ls ws3/checkpoints | grep sft)" "sft-000003.ckpt"

# a NaN stops fine-tuning, naming the step; no sft checkpoint appears
mkdir -p ws4 && cp -r ws3/. ws4/ && rm -f ws4/checkpoints/*
"$(dirname "$GARAGE")/tests/poison-ckpt" ws3/checkpoints/base-000020.ckpt ws4/checkpoints/base-000020.ckpt ||
    fail "could not poison a checkpoint"
expect 1 "$GARAGE" -C ws4 sft steps=5 batch=4
has "$err" "step 1: the loss is NaN; training stopped (the last good checkpoint is ws4/checkpoints/base-000020.ckpt"
[ "$(ls ws4/checkpoints)" = "base-000020.ckpt" ] || fail "a failed run wrote a checkpoint"

# Far too many steps for 6 demonstrations: the held-out loss turns up,
# and the end says where it was lowest and how to stop there
expect 0 "$GARAGE" -C ws7 sft steps=300 batch=4 lr=5e-3 warmup=5 eval_every=20 val_fraction=0.25 precision=fp32
has "$err" "note: the held-out loss was lowest at step "
has "$err" "replace=true"

finish
