#!/bin/sh
# The Tune screen of the curses application, driven through tmux at
# 80x24: on a tiny recipe up to the reward model, tuning started from the
# settings panel shows its chart and figures, the rolling table of
# answers, and the reference's and the tuned model's answers to the
# same prompt side by side, each with its reward, refreshed as the
# iterations go; the run leaves its tuned checkpoint.  Skipped without
# tmux.
. "$srcdir/tests/cli-lib.sh"
. "$srcdir/tests/tui-lib.sh"
. "$srcdir/tests/tune-lib.sh"
cd "$tmp"

tune_recipe w

tm new-session -d -s app -x 80 -y 24 \
    "env LANG=C.UTF-8 TERM=screen '$GARAGE' -C w tui; echo \"exit status \$?\"; sleep 60"
wait_for "The recipe"
keys 7
wait_for "Not tuned yet"
keys Tab Tab
wait_for "Settings"
set_opt prompts "$tune_data/prompts.txt"
set_opt steps 1000
set_opt batch 4
set_opt minibatch 4
set_opt ppo_epochs 1
set_opt max_answer_tokens 12
set_opt show_every 1
set_opt lr 1e-4
keys Tab
keys g
wait_for "the same prompt:" 60
wait_for "Recent answers"
has "$s" "reference reward "
has "$s" "tuned reward "
has "$s" "iteration "
# the prompt in the comparison's title is one of the prompts file's
iter1=$(printf '%s\n' "$s" | sed -n 's/.*Iteration \([0-9]*\), the same prompt: \(.*[^ ─]\) ─*┐.*/\1/p')
prompt=$(printf '%s\n' "$s" | sed -n 's/.*Iteration [0-9]*, the same prompt: \(.*[^ ─]\) ─*┐.*/\1/p')
[ -n "$iter1" ] || fail "no iteration in the comparison's title:
$s"
grep -qxF "$prompt" "$tune_data/prompts.txt" || fail "'$prompt' is not one of the prompts"
# refreshed each iteration: a later iteration's comparison comes
n=300
while :; do
    it=$(screen | sed -n 's/.*Iteration \([0-9]*\), the same prompt.*/\1/p')
    [ -n "$it" ] && [ "$it" -gt "$iter1" ] && break
    n=$((n - 1))
    [ "$n" -gt 0 ] || { fail "the comparison stayed at iteration $iter1:
$(screen)"; break; }
    sleep 0.1
done
# x stops with a checkpoint; the comparison stays on the screen
keys x
wait_for "stopped at iteration" 60
has "$s" "the same prompt:"
ls w/checkpoints/tuned-*.ckpt >/dev/null 2>&1 || fail "no tuned checkpoint after x"
grep -q '"kind":"tune_compare"' w/logs/tune-*.jsonl || fail "no comparison in the log"
keys q
wait_for "The recipe"
keys q
wait_for "exit status 0"

finish
