#!/bin/sh
# The REPL as a script on standard input: commands, comments and blank
# lines; nothing echoed; a failing command stops with its line number and
# status (--keep-going goes on); help, source, save-session; and a saved
# session replayed with 'garage run' gives the same checkpoints, bit for
# bit.  A tiny corpus and model, so it takes seconds.
. "$srcdir/tests/cli-lib.sh"
cd "$tmp"

# feed FILE ARGS...: garage ARGS... with FILE on standard input
feed() { f=$1; shift; "$GARAGE" "$@" < "$f"; }

mkdir docs
i=0
while [ $i -lt 60 ]; do
    printf 'the cat sat on the mat number %d.\nthe dog ran to the log number %d.\n' $i $((i % 7)) > docs/d$i.txt
    i=$((i + 1))
done

cat > build.txt <<'END'
# a tiny model, from nothing

init seed=7
corpus add docs          # a comment after a command
corpus info
tokenizer vocab_size=280
tokenizer show="the cat"
model layers=1 heads=2 dim=16 context=16
  pretrain steps=6 batch=2 lr=3e-3 warmup=1 eval_every=0 save_every=0
sample prompt='the cat' max_tokens=5 seed=3
status
save-session saved.yaml
END
expect 0 feed build.txt -q -C ws repl
has "$out" "Created a garage workspace in ws"
has "$out" "|the|"
has "$out" "Trained to step 6"
has "$out" "pretrain   done     step 6"
has "$out" "Saved 4 steps to saved.yaml"
hasnt "$out" "(next:"                   # no prompt in a script
hasnt "$err" "garage: line"
[ -f ws/checkpoints/base-000006.ckpt ] || fail "no checkpoint at step 6"
[ -f ws/.garage_history ] && fail "a script wrote history"

# The saved session: the steps that changed the workspace, with seeds.
grep -qx 'seed: 7' saved.yaml || fail "saved.yaml has no 'seed: 7'"
same "$(grep -c '^  - ' saved.yaml)" 4
same "$(sed -n 's/^  - \([a-z]*\):.*/\1/p' saved.yaml | tr '\n' ' ')" "corpus tokenizer model pretrain "
grep -q "add: \[\"$tmp/docs\"\]" saved.yaml || fail "the corpus path is not absolute"
grep -q '^  - pretrain: .*seed: 7 }$' saved.yaml || fail "pretrain has no seed"

# Replayed into a new workspace (from another folder): the same bytes.
mkdir elsewhere
expect 0 sh -c 'cd elsewhere && "$0" -q -C ../ws2 run ../saved.yaml' "$GARAGE"
for f in tokenizer.bin checkpoints/base-000000.ckpt checkpoints/base-000006.ckpt; do
    cmp -s "ws/$f" "ws2/$f" || fail "$f differs after replaying saved.yaml"
done

# Failures: the line number, the message, the status; nothing after.
cat > bad.txt <<'END'
status
# a comment: line 2

pretrain stepz=5
status
END
expect 2 feed bad.txt -q -C ws repl
same "$err" "garage: line 4: unknown option 'stepz' for 'pretrain' (did you mean 'steps'?)"
same "$(printf '%s\n' "$out" | grep -c '^workspace ')" 1

expect 2 feed bad.txt -q -C ws repl --keep-going
same "$err" "garage: line 4: unknown option 'stepz' for 'pretrain' (did you mean 'steps'?)"
same "$(printf '%s\n' "$out" | grep -c '^workspace ')" 2

# a command's --help at the prompt, as on the command line
printf 'sample --help\n' > help.txt
expect 0 feed help.txt -q -C ws repl
has "$out" "garage sample [key=value ...]"

printf 'status\ninfo checkpoint=nope.ckpt\nstatus\npretrian\nsample prompt="open\n' > bad2.txt
expect 1 feed bad2.txt -q -C ws repl
same "$err" "garage: line 2: nope.ckpt: no such checkpoint"
expect 1 feed bad2.txt -q -C ws repl keep_going=true    # the first failure's status
same "$err" "garage: line 2: nope.ckpt: no such checkpoint
garage: line 4: unknown command 'pretrian' (did you mean 'pretrain'?)
garage: line 5: missing closing quote (\")"

# exit, help, the REPL's own words
printf 'help\nhelp pretrain\nhelp source\nexit\nstatus\n' > words.txt
expect 0 feed words.txt -C ws repl
has "$out" "Commands:"
has "$out" "In the REPL also:"
has "$out" "  steps "
has "$out" "save-session FILE.yaml"
hasnt "$out" "workspace  ws"
printf 'repl\n' > nested.txt
expect 2 feed nested.txt -C ws repl
same "$err" "garage: line 1: this is the REPL already"
printf 'save-session x.yaml\n' > nothing.txt
expect 1 feed nothing.txt -C ws repl
same "$err" "garage: line 1: save-session: nothing to save yet: no command has changed the workspace in this REPL"
expect 0 "$GARAGE" repl < /dev/null
same "$out" ""
same "$err" ""

# 'repl' is a front end's: not a session step.
printf 'garage: 1\nsteps:\n  - repl: {}\n' > repl.yaml
expect 1 "$GARAGE" run repl.yaml
same "$err" "garage: repl.yaml:3:5: 'repl' cannot be a session step"

# source: a session file, here, with --set; its steps are saved one by
# one and replay to the same bytes.
cat > pipeline.yaml <<'END'
garage: 1
workspace: ./not-this-one
steps:
  - corpus: { add: docs }
  - tokenizer: { vocab_size: 280 }
  - model: { layers: 1, heads: 2, dim: 16, context: 16 }
  - pretrain: { steps: 100, batch: 2, lr: 3e-3, warmup: 1, eval_every: 0, save_every: 0 }
  - sample: { prompt: "the", max_tokens: 3 }
END
printf 'init seed=9\nsource pipeline.yaml --set pretrain.steps=4\nsave-session again.yaml\n' > src.txt
expect 0 feed src.txt -q -C ws3 repl
has "$out" "Trained to step 4"
has "$out" "Saved 4 steps to again.yaml"
[ -d not-this-one ] && fail "source used the file's workspace"
grep -q 'steps: 4,' again.yaml || fail "the --set value was not saved"
expect 0 "$GARAGE" -q -C ws4 run again.yaml
cmp -s ws3/checkpoints/base-000004.ckpt ws4/checkpoints/base-000004.ckpt ||
    fail "replaying a sourced session gave other bytes"

# Ctrl-C (SIGINT) during training: the job stops with a checkpoint, the
# script stops with status 130, the next line does not run.
printf 'pretrain steps=1000000 batch=2 eval_every=0 save_every=0 resume=true\nstatus\n' > long.txt
"$GARAGE" -q -C ws repl < long.txt > long.out 2> long.err &
pid=$!
n=0
until [ -s long.err ] || [ $n -ge 100 ]; do
    sleep 0.1; n=$((n + 1))
done
kill -INT $pid
wait $pid
got=$?
[ "$got" -eq 130 ] || fail "Ctrl-C during a script exited $got, expected 130"
grep -q 'garage: stopping (training saves a checkpoint first' long.err || fail "no stop notice: $(cat long.err)"
grep -q '^garage: line 1: ' long.err || fail "no line number: $(cat long.err)"
grep -q '^workspace ' long.out && fail "the line after the stopped one ran"
step=$(sed -n 's/.*stopped at step \([0-9]*\).*/\1/p' long.err)
[ -n "$step" ] || fail "no 'stopped at step N': $(cat long.err)"
[ -f "ws/checkpoints/base-$(printf %06d "${step:-0}").ckpt" ] ||
    fail "no checkpoint at the step where it stopped ($step)"

finish
