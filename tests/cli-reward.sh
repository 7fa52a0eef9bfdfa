#!/bin/sh
# Rankings and the reward model end to end on a tiny model: the rule
# labeler ranks 300 prompts, the reward model reaches the bar of 90% pair
# accuracy on held-out prompts, scores answers, and the labels go out and
# come back in as preference pairs.  Bad label lines are named and skipped.
. "$srcdir/tests/cli-lib.sh"
cd "$tmp"
# Tiny matrices: one thread is fastest, and the numbers are reproducible.
export OMP_NUM_THREADS=1

mkdir docs
i=0
while [ $i -lt 200 ]; do
    printf 'the cat sat on the mat number %d.\nthe dog ran to the log number %d.\na bird sang in the tree.\n' \
        $i $((i % 7)) > docs/d$i.txt
    i=$((i + 1))
done
# Prompts that never name the preferred words.
i=0
: > prompts.txt
while [ $i -lt 300 ]; do
    case $((i % 4)) in
    0) echo "tell me about thing $i" ;;
    1) echo "what happened on day $i?" ;;
    2) echo "write line $i of a story" ;;
    3) echo "# a comment, not a prompt $i" ; echo "say something, please ($i)" ;;
    esac >> prompts.txt
    i=$((i + 1))
done

expect 0 "$GARAGE" init ws
expect 0 "$GARAGE" -C ws corpus add docs
expect 0 "$GARAGE" -C ws tokenizer vocab_size=300
expect 0 "$GARAGE" -C ws model layers=1 heads=2 dim=32 context=64

# Nothing to train on yet.
expect 1 "$GARAGE" -C ws reward
has "$err" "there are no rankings yet"
expect 1 "$GARAGE" -C ws reward score "a prompt" "an answer"
has "$err" "there is no reward model yet"
expect 1 "$GARAGE" -C ws rank prompts=prompts.txt labeler=rule
has "$err" "labeler=rule needs a rule"

expect 0 "$GARAGE" -q -C ws pretrain steps=150 batch=8 lr=5e-3 warmup=5 eval_every=0 save_every=0

# The rule: answers naming a cat or a dog, near 40 characters, win.
rank="rank prompts=prompts.txt labeler=rule prefer=cat prefer=dog target_length=40 answers=4 max_tokens=32"
expect 0 "$GARAGE" -C ws $rank count=120
has "$out" "Ranked 120 prompts"
expect 0 "$GARAGE" -C ws $rank
has "$out" "Ranked 180 prompts"
has "$out" "300 of 300 prompts are ranked"
has "$err" "resuming: 120 of 300 prompts are ranked already"
expect 0 "$GARAGE" -C ws $rank
has "$out" "All 300 prompts are ranked already"
[ "$(wc -l < ws/labels/rankings.jsonl)" -eq 300 ] || fail "expected 300 labels"
grep -q '"labeler":"rule","checkpoint":"checkpoints/base-000150.ckpt"' ws/labels/rankings.jsonl ||
    fail "labels do not name the labeler and the checkpoint"
grep -q '"rule":{"prefer":\["cat","dog"\],"avoid":\[\],"must_contain":\[\],"target_length":40}' \
    ws/labels/rankings.jsonl || fail "rule labels do not record their rule"
grep -q 'comment' ws/labels/rankings.jsonl && fail "a comment line was ranked"

# A bad line is named and skipped; the rest still loads.
cp ws/labels/rankings.jsonl rankings.good
printf '{"prompt": "broken", "answers": ["a"], "order": [3]}\n' >> ws/labels/rankings.jsonl
expect 0 "$GARAGE" -C ws prefs
has "$err" "rankings.jsonl:301: 'order' names answer 3, but there is 1"
has "$out" "300 labels for 300 prompts"
npairs=$(printf '%s\n' "$out" | sed -n 's/.*prompts, \([0-9]*\) preference pairs/\1/p')
[ -n "$npairs" ] && [ "$npairs" -gt 300 ] || fail "too few pairs: '$npairs'"

# The bar: at least 90% pair accuracy on held-out prompts.
expect 0 "$GARAGE" -C ws reward epochs=8 lr=1e-3 batch=8
has "$err" "rankings.jsonl:301"
has "$out" "held-out labels"
has "$out" "very long"
has "$out" "the prompt echoed"
acc=$(printf '%s\n' "$out" | awk '/pair accuracy/ { sub("%", "", $4); print $4 }')
echo "held-out pair accuracy: $acc%"
awk -v a="$acc" 'BEGIN { exit !(a + 0 >= 90) }' ||
    fail "held-out pair accuracy $acc% is below 90%"
ckpt=$(ls ws/checkpoints/reward-*.ckpt)
[ "$(echo "$ckpt" | wc -l)" -eq 1 ] || fail "expected one reward checkpoint: $ckpt"
expect 0 "$GARAGE" info "$ckpt"
has "$out" "reward"
log=$(ls ws/logs/reward-*.jsonl)
grep -q '"kind":"reward_eval"' "$log" || fail "no reward_eval records"
grep -q '"probe_repeat"' "$log" || fail "no probe scores in the log"
grep -q '"heldout_acc"' "$log" || fail "no held-out accuracy in the log"

# Scoring: an answer the rule likes beats one it does not.
expect 0 "$GARAGE" -C ws reward score "tell me about thing 7" "the cat sat on the log number 4."
good=$out
expect 0 "$GARAGE" -C ws reward score "tell me about thing 7" "number number number"
bad=$out
awk -v g="$good" -v b="$bad" 'BEGIN { exit !(g > b) }' ||
    fail "the preferred answer scores $good, not above $bad"
expect 0 "$GARAGE" -C ws reward score prompt="tell me about thing 7" "a bird" "the dog ran" --explain
has "$out" "P(beats #1)"
has "$out" "#2 \"the dog ran\""
has "$out" "(probe: very short)"
expect 2 "$GARAGE" -C ws reward score "only a prompt"
has "$err" "needs a prompt and at least one answer"

# Training again replaces the earlier run's checkpoint.
expect 0 "$GARAGE" -q -C ws reward epochs=1 lr=1e-3 stop_at=3
[ "$(ls ws/checkpoints/reward-*.ckpt)" = "ws/checkpoints/reward-000003.ckpt" ] ||
    fail "expected only reward-000003.ckpt: $(ls ws/checkpoints)"

# Preferences out and back in.
cp rankings.good ws/labels/rankings.jsonl
expect 0 "$GARAGE" -C ws prefs export=pairs.jsonl
has "$out" "Wrote $npairs preference pairs"
[ "$(wc -l < pairs.jsonl)" -eq "$npairs" ] || fail "pairs.jsonl does not hold $npairs lines"
grep -q '^{"prompt":"tell me about thing 0","chosen":' pairs.jsonl || fail "unexpected export format"

expect 0 "$GARAGE" init ws2
cp ws/tokenizer.bin ws2/
cp ws/checkpoints/base-000150.ckpt ws2/checkpoints/
head -n 20 pairs.jsonl > some.jsonl
printf 'not json\n{"prompt": "p", "chosen": "same", "rejected": "same"}\n{"prompt": "p", "chosen": "a"}\n' >> some.jsonl
expect 0 "$GARAGE" -C ws2 prefs import=some.jsonl
has "$out" "Imported 20 preferences"
has "$out" "3 bad lines skipped"
has "$err" "some.jsonl:21:"
has "$err" "some.jsonl:22: 'chosen' and 'rejected' are the same text"
has "$err" "some.jsonl:23: no field 'rejected'"
expect 0 "$GARAGE" -C ws2 prefs import=some.jsonl
has "$out" "Imported 0 preferences"
has "$out" "20 already there"
expect 0 "$GARAGE" -C ws2 prefs export=back.jsonl
head -n 20 pairs.jsonl > some.head
cmp -s back.jsonl some.head || fail "imported pairs do not export as they came in"
expect 0 "$GARAGE" -q -C ws2 reward epochs=1
has "$out" "Saved"

# The demo session is valid, its word lists included.
expect 0 "$GARAGE" run "$srcdir/share/garage/sessions/reward-demo.yaml" --dry-run
has "$out" "4 steps, valid"
has "$out" "prefer=[you, good] avoid=not max_tokens=48"
has "$out" "answers=[\"You will like this one"

finish
