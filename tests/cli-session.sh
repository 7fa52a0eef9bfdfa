#!/bin/sh
# Session files, further, with the real stages on a tiny corpus: include,
# ${VAR} from the environment, when_missing skipping what exists and
# running what does not, so that a session can be run again to continue.
. "$srcdir/tests/cli-lib.sh"
cd "$tmp"

mkdir docs
i=0
while [ $i -lt 40 ]; do
    printf 'the cat sat on the mat number %d.\nthe dog ran to the log number %d.\n' $i $((i % 5)) > docs/d$i.txt
    i=$((i + 1))
done
mkdir parts
cat > parts/data.yaml <<'END'
garage: 1
steps:
  - corpus: { add: "${DOCS}", when_missing: true }
  - tokenizer: { vocab_size: 280, when_missing: true }
END
cat > main.yaml <<'END'
garage: 1
workspace: ${WS:-ws}
seed: 3
steps:
  - include: parts/data.yaml
  - model: { layers: 1, heads: 2, dim: 16, context: 16, when_missing: true }
  - pretrain: { steps: 4, batch: 2, lr: 3e-3, warmup: 1, eval_every: 0,
                save_every: 0, resume: true, when_missing: true }
  - sample: { prompt: "the", max_tokens: 3, seed: 1, when_missing: true }
END

DOCS=$tmp/docs; export DOCS
expect 0 "$GARAGE" -q run main.yaml
has "$err" "step 1/5: corpus"
has "$err" "step 5/5: sample"
hasnt "$err" "skipped"
has "$out" "Trained to step 4"
[ -f ws/checkpoints/base-000004.ckpt ] || fail "no checkpoint at step 4"
cp ws/checkpoints/base-000004.ckpt first.ckpt
sample1=$(printf '%s\n' "$out" | tail -n1)

# Again: everything that exists is skipped; sample always runs.
expect 0 "$GARAGE" -q run main.yaml
for s in "1/5: corpus" "2/5: tokenizer" "3/5: model" "4/5: pretrain"; do
    has "$err" "step $s: skipped, its output exists (when_missing)"
done
has "$err" "step 5/5: sample"
hasnt "$err" "step 5/5: sample: skipped"
hasnt "$out" "Trained"
same "$(printf '%s\n' "$out" | tail -n1)" "$sample1"
cmp -s first.ckpt ws/checkpoints/base-000004.ckpt || fail "a skipped step changed a checkpoint"
same "$(ls ws/checkpoints | tr '\n' ' ')" "base-000000.ckpt base-000004.ckpt "

# More steps: pretrain runs again (resuming), the rest is skipped.
expect 0 "$GARAGE" -q run main.yaml --set pretrain.steps=6
has "$err" "step 4/5: pretrain"
hasnt "$err" "step 4/5: pretrain: skipped"
has "$err" "step 3/5: model: skipped"
has "$out" "Trained to step 6"
# ... and without when_missing, model refuses (it exists): the step is named
expect 1 "$GARAGE" -q run main.yaml --set model.when_missing=false
has "$err" "garage: main.yaml:6: step 3 'model': "
has "$err" "already has a model"

# A step in an included file is named by that file.
expect 1 "$GARAGE" -q run main.yaml --set tokenizer.when_missing=no --set tokenizer.vocab_size=60000
has "$err" "garage: parts/data.yaml:4: step 2 'tokenizer': "

# ${VAR}: a default, and an unset variable
WS=other; export WS
expect 0 "$GARAGE" -q run main.yaml --dry-run
has "$out" "  1. corpus add=$tmp/docs when_missing=true"
unset WS
unset DOCS
expect 1 "$GARAGE" -q run main.yaml
same "$err" "garage: parts/data.yaml:3:21: environment variable 'DOCS' is not set"
[ -d other ] && fail "a dry run created a workspace"

# include cycles
printf 'garage: 1\nsteps:\n  - include: b.yaml\n' > a.yaml
printf 'garage: 1\nsteps:\n  - status: {}\n  - include: ./a.yaml\n' > b.yaml
expect 1 "$GARAGE" run a.yaml --dry-run
same "$err" "garage: b.yaml:4:14: include cycle: a.yaml -> b.yaml -> ./a.yaml"

finish
