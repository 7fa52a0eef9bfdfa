#!/bin/sh
# The engine end to end on a tiny corpus: corpus, tokenizer, model,
# pretraining (both objectives), evaluation, checkpoints, exact resume,
# sampling, info, and the errors on the way.
. "$srcdir/tests/cli-lib.sh"
cd "$tmp"

# A small patterned corpus: 120 short documents.
mkdir docs
i=0
while [ $i -lt 120 ]; do
    printf 'the cat sat on the mat number %d.\nthe dog ran to the log number %d.\n' $i $((i % 7)) > docs/d$i.txt
    i=$((i + 1))
done

expect 0 "$GARAGE" init ws
expect 0 "$GARAGE" -C ws corpus add docs
expect 0 "$GARAGE" -C ws corpus info
has "$out" "120"

expect 1 "$GARAGE" -C ws tokenizer vocab_size=60000
has "$err" "too large for this corpus"
[ -f ws/tokenizer.bin ] && fail "a failed tokenizer run left tokenizer.bin"

expect 0 "$GARAGE" -C ws tokenizer vocab_size=300
has "$out" "Tokenizer: 300 tokens"
[ -f ws/tokenizer.bin ] || fail "no tokenizer.bin"
[ -f ws/corpus/train.tok ] || fail "no train shard"
[ -f ws/corpus/val.tok ] || fail "no val shard"
expect 0 "$GARAGE" -C ws tokenizer show="the cat"
has "$out" "|the| cat|"

# bad model settings change nothing
expect 1 "$GARAGE" -C ws model layers=1 heads=3 dim=32 context=16
same "$err" "garage: dim 32 is not divisible by heads 3 (each head gets dim/heads channels)"
expect 1 "$GARAGE" -C ws model layers=1 heads=2 dim=32 context=8192
has "$err" "context 8192 is larger than the corpus"
[ -n "$(ls ws/checkpoints)" ] && fail "a refused model left a checkpoint"

expect 0 "$GARAGE" -C ws model layers=2 heads=2 dim=32 context=32
has "$out" "base-000000.ckpt"
expect 1 "$GARAGE" -C ws model layers=2 heads=2 dim=32 context=32
has "$err" "already has a model"
# the same tokenizer trained again (a session run twice) still fits the
# model; another one does not, and it is said
cp -r ws wst
expect 0 "$GARAGE" -C wst tokenizer vocab_size=300
hasnt "$err" "old tokenizer"
expect 0 "$GARAGE" -C wst tokenizer vocab_size=290
has "$err" "note: the model wst/checkpoints/base-000000.ckpt was made with the old tokenizer"

# Train 20 steps in one go, in a copy of the workspace.
cp -r ws ws2
expect 0 "$GARAGE" -C ws pretrain steps=20 batch=4 lr=3e-3 warmup=2 eval_every=10 save_every=0
has "$out" "Trained to step 20"
has "$err" "val bpb"
[ -f ws/checkpoints/base-000020.ckpt ] || fail "no checkpoint at step 20"
log=$(ls ws/logs/pretrain-*.jsonl | head -n1)
grep -q '"kind":"train"' "$log" || fail "no train records in $log"
grep -q '"val_bpb"' "$log" || fail "no eval records in $log"
[ "$(grep -c '"kind":"train"' "$log")" -eq 20 ] || fail "expected 20 train records"

# The same 20 steps as 10 + resume + 10 give the same bytes.
expect 0 "$GARAGE" -C ws2 pretrain steps=20 batch=4 lr=3e-3 warmup=2 eval_every=10 save_every=0 stop_at=10
has "$out" "Stopped at step 10"
[ -f ws2/checkpoints/base-000010.ckpt ] || fail "no checkpoint at step 10"
expect 1 "$GARAGE" -C ws2 pretrain steps=20 batch=4
has "$err" "already trained to step 10"
expect 0 "$GARAGE" -C ws2 pretrain steps=20 batch=4 lr=3e-3 warmup=2 eval_every=10 save_every=0 resume=true
cmp -s ws/checkpoints/base-000020.ckpt ws2/checkpoints/base-000020.ckpt ||
    fail "20 steps and 10 + resume + 10 steps differ"

# Info and sampling.
expect 0 "$GARAGE" info ws/checkpoints/base-000020.ckpt
has "$out" "step         20"
has "$out" "layers       2"
expect 0 "$GARAGE" -C ws sample prompt="the cat" max_tokens=20 seed=7 count=2
s1=$out
expect 0 "$GARAGE" -C ws sample prompt="the cat" max_tokens=20 seed=7 count=2
same "$out" "$s1"
has "$out" "the cat"
# the weights' precision: fp32 and bf16 each repeat themselves with a seed
for p in fp32 bf16; do
    if [ $p = bf16 ] && ! grep -q avx512bw /proc/cpuinfo 2>/dev/null; then
        expect 1 "$GARAGE" -C ws sample prompt="the cat" precision=bf16
        has "$err" "needs AVX-512"
        continue
    fi
    expect 0 "$GARAGE" -C ws sample prompt="the cat" max_tokens=20 seed=7 precision=$p
    s1=$out
    expect 0 "$GARAGE" -C ws sample prompt="the cat" max_tokens=20 seed=7 precision=$p
    same "$out" "$s1"
    has "$out" "the cat"
done
expect 2 "$GARAGE" -C ws sample precision=fp16
has "$err" "fp32"

# A damaged checkpoint is refused, with no crash.
head -c 1000 ws/checkpoints/base-000020.ckpt > trunc.ckpt
expect 1 "$GARAGE" info trunc.ckpt
has "$err" "trunc.ckpt"
cp ws/checkpoints/base-000020.ckpt flip.ckpt
printf '\377' | dd of=flip.ckpt bs=1 seek=5000 conv=notrunc 2>/dev/null
expect 1 "$GARAGE" info flip.ckpt
has "$err" "checksum mismatch"

# A NaN stops training with a message naming the step; the last good
# checkpoint stays.
mkdir -p ws3 && cp -r ws/. ws3/ && rm -f ws3/checkpoints/*
"$(dirname "$GARAGE")/tests/poison-ckpt" ws/checkpoints/base-000000.ckpt ws3/checkpoints/base-000000.ckpt ||
    fail "could not poison a checkpoint"
expect 1 "$GARAGE" -C ws3 pretrain steps=5 batch=4
has "$err" "step 1: the loss is NaN; training stopped"
[ "$(ls ws3/checkpoints)" = "base-000000.ckpt" ] || fail "a failed run changed the checkpoints"

# Masked language modelling trains too.
expect 0 "$GARAGE" -C ws model layers=1 heads=2 dim=32 context=32 replace=true
expect 0 "$GARAGE" -C ws pretrain steps=5 batch=4 objective=masked eval_every=5
has "$out" "Trained to step 5"
# the checkpoint says so; a run goes on with the objective it began with
expect 0 "$GARAGE" info ws/checkpoints/base-000005.ckpt
has "$out" "objective    masked LM"
expect 1 "$GARAGE" -C ws pretrain steps=10 batch=4 resume=true
has "$err" "was pretrained with objective=masked: resume it with objective=masked"
expect 0 "$GARAGE" -C ws pretrain steps=10 batch=4 objective=masked eval_every=0 resume=true
has "$out" "Trained to step 10"
# and a reward model on it reads both ways unless told otherwise
printf 'the cat\nthe dog\nthe mat\nthe log\n' > prompts.txt
expect 0 "$GARAGE" -q -C ws rank prompts=prompts.txt labeler=rule target_length=12 answers=3 max_tokens=8
expect 0 "$GARAGE" -C ws reward epochs=1 held_out=0
has "$err" "pretrained with masked LM: the reward model reads it both ways"
has "$err" "note: 4 training labels are few for a reward model"
has "$out" "Trained 1 step in "
expect 0 "$GARAGE" -C ws reward epochs=1 held_out=0 attention=causal
hasnt "$err" "reads it both ways"
# fine-tuning it says what to expect
expect 0 "$GARAGE" -q -C ws demos add prompt="the cat" answer="sat on the mat."
expect 0 "$GARAGE" -q -C ws demos add prompt="the dog" answer="ran to the log."
expect 0 "$GARAGE" -C ws sft steps=2 batch=2 val_fraction=0
has "$err" "was pretrained with masked LM; fine-tuning teaches it"

# A model from another tokenizer is refused.
expect 0 "$GARAGE" -C ws tokenizer vocab_size=280
cp ws/tokenizer.bin ws2/tokenizer.bin
cp ws/corpus/train.tok ws/corpus/val.tok ws2/corpus/
expect 1 "$GARAGE" -C ws2 pretrain steps=30 resume=true
has "$err" "another tokenizer"

finish
