#!/bin/sh
# The curses application, driven through tmux: start it detached at 80x24
# on a small workspace, send keys, read the screen with capture-pane.
# The home screen lists the stages; the Pretrain screen's settings panel
# takes a tiny model; training shows the chart's axis labels and a
# falling loss; resizing while it trains does not crash it; q asks before
# abandoning the job; x stops it with a checkpoint; the Chat screen
# answers; ranking by keystrokes writes the expected JSONL records (and u
# takes one back); q quits and gives the terminal back; run --tui shows
# a session.  Skipped without tmux.
. "$srcdir/tests/cli-lib.sh"
. "$srcdir/tests/tui-lib.sh"
cd "$tmp"

# sample_step: the step of the samples on the screen (0 when none)
sample_step() {
    _st=$(screen | grep -oE 'Samples at step [0-9]+' | head -n1 | awk '{print $4}')
    echo "${_st:-0}"
}

mkdir docs
i=0
while [ $i -lt 120 ]; do
    printf 'the cat sat on the mat number %d.\nthe dog ran to the log number %d.\n' $i $((i % 7)) > docs/d$i.txt
    i=$((i + 1))
done
expect 0 "$GARAGE" init ws
expect 0 "$GARAGE" -C ws corpus add docs
expect 0 "$GARAGE" -C ws tokenizer vocab_size=300

# 'tui' without a terminal front end (a session step, the REPL) says so
cat > tui.yaml <<EOF
garage: 1
steps:
  - tui: {}
EOF
expect 1 "$GARAGE" run tui.yaml
has "$err" "tui"
# and without a terminal, the application itself says what to use instead
expect 1 "$GARAGE" -C ws tui </dev/null
has "$err" "needs a terminal"

tm new-session -d -s app -x 80 -y 24 \
    "env LANG=C.UTF-8 TERM=screen '$GARAGE' -C ws tui; echo \"exit status \$?\"; stty -a; sleep 60"

# home: all eight stages, with their state
wait_for "8 Chat"
for stage in Corpus Tokenizer Pretrain "Demonstrations & SFT" Rank Reward Tune Chat; do
    has "$s" "$stage"
done
has "$s" "done"
has "$s" "120 documents"

# the help overlay, and back
keys '?'
wait_for "Keys: Home"
keys Escape
sleep 0.2

# Pretrain: a tiny model through the settings panel
keys 3
wait_for "No model yet"
keys Tab
set_opt layers 1
set_opt heads 2
set_opt dim 32
set_opt context 32
wait_for "context 32"
keys m
set_opt steps 1000000
set_opt batch 8
set_opt eval_every 20
set_opt warmup 5
set_opt lr 3e-3
keys Tab Tab
keys g
# (a fast machine runs many evaluations between two looks at the
# screen, so wait for any step's samples, then for a later one's)
wait_for "Samples at step" 60
first_step=$(sample_step)
wait_for "from"
# resizing while it trains
tm resize-window -t app -x 100 -y 30
sleep 0.5
tm resize-window -t app -x 50 -y 14
sleep 0.5
tm resize-window -t app -x 30 -y 8      # too small: says so, in lines that fit
wait_for "30x8, needs 40x10" 10
tm resize-window -t app -x 80 -y 24
# a screen drawn after the last resize: samples of a later evaluation
sleep 0.3
last_step=$(sample_step)
[ "$last_step" -ge "$first_step" ] || last_step=$first_step
n=600
while [ "$(sample_step)" -le "$last_step" ]; do
    n=$((n - 1))
    [ "$n" -gt 0 ] || { fail "no samples after step $last_step; the screen shows:
$(screen)"; finish; }
    tm has-session -t app 2>/dev/null ||
        { fail "the application's terminal is gone while training"; finish; }
    sleep 0.1
done
wait_for "(from "
# the chart's axes and labels: "5.6┤", "│", "└───", the steps below
has "$s" "┤"
has "$s" "└──"
has "$s" "train loss"
# the loss falls: "loss A (from B)" with A < B
line=$(printf '%s\n' "$s" | grep -o 'loss [0-9.]* (from [0-9.]*' | head -n1)
now=$(echo "$line" | sed 's/loss \([0-9.]*\) .*/\1/')
first=$(echo "$line" | sed 's/.*from \([0-9.]*\)/\1/')
if [ -z "$now" ] || ! awk -v a="$now" -v b="$first" 'BEGIN { exit !(a < b) }'; then
    fail "the loss did not fall: '$line'; the screen shows:
$s"
fi
# q asks before abandoning the job; n keeps it running
keys q
wait_for "Stop it"
keys n
sleep 0.2
# x stops with a checkpoint
keys x
wait_for "stopped at step" 30
ls ws/checkpoints/base-0*.ckpt >/dev/null 2>&1 || fail "no checkpoint after stopping"
[ -n "$(ls ws/checkpoints | grep -v 'base-000000')" ] || fail "only the step-0 checkpoint"

# q back home; Chat: a message, the answer streams in, Esc leaves
keys q
wait_for "The recipe"
keys 8
wait_for "type a message"
keys "the cat" Enter
wait_for "tok/s)"
has "$s" "You"
has "$s" "Model"
keys Escape
wait_for "The recipe"

# Demonstrations: i imports the set garage ships, found uninstalled too
keys 4
wait_for "None yet: a writes one"
keys i
wait_for "Imported 196 demonstrations"
has "$s" "Demonstrations (196)"
keys q
wait_for "The recipe"

# Rank: keystrokes make labels on disk; u takes the last one back
printf 'the cat\nthe dog\n' > prompts.txt
keys 5
wait_for "Ranking settings"
set_opt prompts "$tmp/prompts.txt"
set_opt count 2
set_opt answers 3
set_opt max_tokens 8
keys g
wait_for "Prompt 1 / 2"
keys 2
keys 3
keys Enter
wait_for "Prompt 2 / 2"
grep -q '"order":\[1,2,0\]' ws/labels/rankings.jsonl || fail "no label with order [1,2,0]"
grep -q '"labeler":"human"' ws/labels/rankings.jsonl || fail "the label is not a human's"
keys u
wait_for "Prompt 1 / 2"
[ -s ws/labels/rankings.jsonl ] && fail "u did not take the label back"
keys 1
keys 2
keys Enter
wait_for "Prompt 2 / 2"
keys s
wait_for "Ranked 2 prompts"
[ "$(wc -l < ws/labels/rankings.jsonl)" -eq 2 ] || fail "expected 2 labels"
head -n1 ws/labels/rankings.jsonl | grep -q '"order":\[0,1,2\]' || fail "first label: $(head -n1 ws/labels/rankings.jsonl)"
tail -n1 ws/labels/rankings.jsonl | grep -q '"skipped":true' || fail "second label: $(tail -n1 ws/labels/rankings.jsonl)"
keys q
wait_for "The recipe"

# q quits: exit status 0 and the terminal's modes back
keys q
wait_for "exit status 0"
has "$s" " icanon"
has "$s" " echo "
hasnt "$s" "The recipe"

# garage run --tui: each step's screen, then the session's summary
cat > quick.yaml <<EOF
garage: 1
steps:
  - sample: { prompt: "the ", count: 1, max_tokens: 8 }
  - corpus: { info: true }
EOF
# (the new session first: a server left without sessions exits)
tm new-session -d -s app2 -x 80 -y 24 \
    "env LANG=C.UTF-8 TERM=screen '$GARAGE' -C ws run --tui quick.yaml; echo \"exit status \$?\"; sleep 60"
tm kill-session -t app
tm rename-session -t app2 app
wait_for "The session ran every step"
has "$s" "ok 1. sample"
has "$s" "ok 2. corpus"
keys q
wait_for "The recipe"
keys q
wait_for "exit status 0"

finish
