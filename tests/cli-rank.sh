#!/bin/sh
# The ranking step with a person: the line interface driven by a script
# (orders, ties, skip, all bad, a written answer, ratings, mistakes), no
# terminal at all, resuming, kill -9 in the middle (every label saved
# before the kill is in the file, which stays valid JSONL, and the step
# resumes without asking a ranked prompt again), and prompts without two
# usable answers.
. "$srcdir/tests/cli-lib.sh"
cd "$tmp"
export OMP_NUM_THREADS=1

mkdir docs
i=0
while [ $i -lt 100 ]; do
    printf 'the cat sat on the mat number %d.\nthe dog ran to the log number %d.\n' $i $((i % 7)) > docs/d$i.txt
    i=$((i + 1))
done
i=0
: > prompts.txt
while [ $i -lt 40 ]; do
    echo "prompt number $i, please answer" >> prompts.txt
    i=$((i + 1))
done

expect 0 "$GARAGE" init ws
expect 0 "$GARAGE" -C ws corpus add docs
expect 0 "$GARAGE" -C ws tokenizer vocab_size=290
expect 1 "$GARAGE" -C ws rank prompts=prompts.txt labeler=rule prefer=cat
has "$err" "there is no model yet"
expect 0 "$GARAGE" -C ws model layers=1 heads=2 dim=16 context=64
expect 0 "$GARAGE" -q -C ws pretrain steps=30 batch=8 lr=5e-3 warmup=2 eval_every=0 save_every=0

rank="rank prompts=prompts.txt labeler=human answers=3 max_tokens=12"

# No terminal and no script: a clear refusal, nothing written.
expect 1 "$GARAGE" -C ws $rank < /dev/null
has "$err" "labeler=human needs a person"
has "$err" "labeler=rule"
[ -e ws/labels/rankings.jsonl ] && fail "a refused run wrote labels"

# A scripted person.
printf '%s\n' "2 1 3" "1t2 3" s b e "My own answer," "on two lines." . "3 2 1" \
    "r 5 0 3" "9 1 2" "1 1 2" "2 1" "x" "?" "3,1,2" q > script
expect 0 "$GARAGE" -C ws $rank < script
has "$out" "=== Prompt 1 of 40 ==="
has "$out" "prompt number 0, please answer"
has "$out" "[3] "
has "$out" "there is no answer 9 (they are numbered 1 to 3)"
has "$out" "answer 1 is named twice"
has "$out" "name all 3 answers once (answer 3 is missing)"
has "$out" "'x' is not an answer number"
has "$out" "write a better answer yourself"
has "$out" "Saved (7 this run; 33 of 40 left)."
has "$out" "Stopped: 7 labels saved this run, 7 of 40 prompts ranked."
f=ws/labels/rankings.jsonl
[ "$(wc -l < $f)" -eq 7 ] || fail "expected 7 labels, got $(wc -l < $f)"
line() { sed -n "$1p" $f; }
has "$(line 1)" '"order":[1,0,2],"ties":[],'
has "$(line 1)" '"labeler":"human"'
has "$(line 2)" '"order":[0,1,2],"ties":[[0,1]]'
has "$(line 3)" '"skipped":true'
has "$(line 4)" '"all_bad":true'
has "$(line 5)" '"better":"My own answer,\non two lines."'
has "$(line 5)" '"order":[2,1,0]'
has "$(line 6)" '"ratings":[5,0,3]'
has "$(line 6)" '"order":[0,2,1]'
has "$(line 7)" '"order":[2,0,1]'
has "$(line 7)" '"prompt":"prompt number 6, please answer"'
grep -q '"content":"My own answer,\\non two lines."' ws/labels/demos.jsonl ||
    fail "the written answer is not a demonstration"
expect 0 "$GARAGE" -C ws prefs
has "$out" "7 labels for 7 prompts"
has "$out" "skipped 1, all bad 1, with a written answer 1, with ratings 1"

# Ratings asked after the order.
printf '%s\n' "1 2 3" "7 7 7" "4 - 2" q > script
expect 0 "$GARAGE" -C ws $rank ratings=true < script
has "$out" "=== Prompt 1 of 33 (7 ranked before) ==="
has "$out" "prompt number 7, please answer"
has "$out" "ratings are 0 to 5"
has "$(sed -n 8p $f)" '"ratings":[4,null,2]'

# The input ends: like q.
printf '2 1 3\n' | "$GARAGE" -C ws $rank > out 2> err || fail "rank failed at end of input"
has "$(cat out)" "Stopped: 1 label saved this run, 9 of 40 prompts ranked."

# kill -9 while a scripted person ranks, one answer every 50 ms.
# The output file exists before the background job starts, so the wait
# loop never reads a missing file; the feeder and the wait allow a slow,
# loaded machine a minute.
: > killed.out
( i=0; while [ $i -lt 1200 ]; do echo "3 1 2"; sleep 0.05; i=$((i + 1)); done ) |
    "$GARAGE" -C ws $rank >> killed.out 2> killed.err &
pid=$!
n=0
while [ "$(grep -c '^Saved (' killed.out)" -lt 5 ] && [ $n -lt 600 ]; do
    sleep 0.1
    n=$((n + 1))
done
kill -9 $pid 2>/dev/null
wait $pid 2>/dev/null
saved=$(grep -c '^Saved (' killed.out)
lines=$(wc -l < $f)
echo "killed after $saved labels were reported saved; $lines lines in the file"
[ "$saved" -ge 5 ] || fail "only $saved labels before the kill"
[ "$lines" -ge $((9 + saved)) ] || fail "$saved labels were saved but the file has $lines lines"
[ "$lines" -le $((9 + saved + 1)) ] || fail "more labels ($lines) than answers given"
expect 0 "$GARAGE" -C ws prefs
[ -z "$err" ] || fail "the file is not valid after the kill: $err"
has "$out" "$lines labels for $lines prompts"

# Resume: no prompt is asked twice, and every prompt ends up ranked once.
left=$((40 - lines))
yes "2 3 1" | head -n $left > script
expect 0 "$GARAGE" -C ws $rank < script
has "$out" "=== Prompt 1 of $left ($lines ranked before) ==="
has "$out" "prompt number $lines, please answer"
[ "$(grep -c '^=== Prompt' "$tmp/out")" -eq $left ] || fail "prompts asked again"
[ "$(wc -l < $f)" -eq 40 ] || fail "expected 40 labels, got $(wc -l < $f)"
[ "$(sed 's/.*"prompt":"\([^"]*\)".*/\1/' $f | sort -u | wc -l)" -eq 40 ] ||
    fail "a prompt was ranked twice"
expect 0 "$GARAGE" -C ws $rank < /dev/null
has "$out" "All 40 prompts are ranked already"

# Fewer than two usable answers: the prompt is skipped with a notice.
printf 'one\ntwo\n' > two.txt
expect 0 "$GARAGE" -C ws rank prompts=two.txt labeler=rule prefer=cat temperature=0
has "$err" "prompt 1 skipped: fewer than two usable answers (1 distinct, non-empty)"
has "$err" "prompt 2 skipped"
has "$out" "Ranked 0 prompts (0 skipped by the labeler, 2 without two usable answers)"
[ "$(wc -l < $f)" -eq 40 ] || fail "skipped prompts were written"

finish
