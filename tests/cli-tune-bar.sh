#!/bin/sh
# The bar of reward-guided tuning, on a tiny model with fixed seeds:
# from a pretrained and SFT'd model, with rankings made by a rule (prefer
# "happy") that the SFT model satisfies in about one answer in ten,
# 'tune' makes a model that the rule itself prefers to the reference on
# at least 70% of held-out prompts (a tie counts half), with the KL to
# the reference within the bound this test sets, and bits per byte on
# the corpus's held-out split no more than 10% worse than before tuning.
# PPO-ptx (ptx_coef) keeps the language model: without it this tiny SFT
# model loses 7-15% bits per byte for the same win rate.
. "$srcdir/tests/cli-lib.sh"
. "$srcdir/tests/tune-lib.sh"
cd "$tmp"

bound=12
tune_recipe w
expect 0 "$GARAGE" -C w tune steps=30 lr=1e-4 kl_coef=0.2 target_kl=4 ptx_coef=1 \
    max_answer_tokens=16 prompts="$tune_data/prompts.txt" prefer=happy kl_bound=$bound \
    precision=fp32
has "$out" "Tuned to iteration 30"
expect 0 "$GARAGE" -C w eval prompts="$tune_data/prompts-eval.txt" prefer=happy \
    max_answer_tokens=16 kl_bound=$bound show=2 precision=fp32
echo "$out"
win=$(printf '%s\n' "$out" | sed -n 's/^  win rate, rule *\([0-9]*\)%.*/\1/p')
kl=$(printf '%s\n' "$out" | sed -n 's/^  KL to the reference *\([-0-9.]*\) .*/\1/p')
bpb=$(printf '%s\n' "$out" | sed -n 's/^  validation bits\/byte *\([0-9.]*\) *\([0-9.]*\) .*/\1 \2/p')
[ -n "$win" ] && [ -n "$kl" ] && [ -n "$bpb" ] || fail "no win rate, KL or bpb in: $out"
[ "${win:-0}" -ge 70 ] || fail "rule-judged win rate $win% is below 70%"
awk -v k="$kl" -v b=$bound 'BEGIN { exit !(k <= b) }' || fail "KL $kl is above the bound $bound"
echo "$bpb" | awk '{ exit !($1 <= 1.10 * $2) }' ||
    fail "validation bpb (tuned, reference) $bpb: more than 10% worse"
log=$(ls w/logs/eval-*.jsonl | head -n1)
grep -q '"kind":"tune_eval"' "$log" || fail "no tune_eval record in $log"
finish
