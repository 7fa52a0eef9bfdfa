# tune-lib.sh: a tiny recipe up to the reward model, for the tune tests
# (sourced after cli-lib.sh).  The data (tests/data/tune) is a small
# synthetic world: sentences "the cat is old and wet.", demonstrations
# answering "describe the cat." and the like, prompts about animals the
# demonstrations never mention.  The rule labeler prefers answers with
# the word "happy", which about one answer in ten of the SFT model has.
tune_data=$srcdir/tests/data/tune
# cli-lib.sh sets GARAGE_REEXECED, so garage does not re-execute itself
# with OMP_WAIT_POLICY=PASSIVE; spinning OpenMP threads make these many
# small steps 20 times slower on a busy machine.
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-PASSIVE}

# tune_recipe DIR [STAGE]: init, corpus, tokenizer, model, pretrain,
# demos, sft, and unless STAGE is "sft", rule-labeled rankings and the
# reward model.  Fixed seeds throughout (the workspace's), and fp32
# products and sampling, so that the runs the tests expect (the KL they
# reach, where it crosses a bound) are the same on CPUs with and without
# bf16 units.
tune_recipe() {
    expect 0 "$GARAGE" init "$1"
    expect 0 "$GARAGE" -q -C "$1" corpus add "$tune_data/corpus.txt" format=fortune val_fraction=0.1
    expect 0 "$GARAGE" -q -C "$1" tokenizer vocab_size=320
    expect 0 "$GARAGE" -q -C "$1" model layers=2 heads=2 dim=48 context=48
    expect 0 "$GARAGE" -q -C "$1" pretrain steps=300 batch=16 lr=1e-2 warmup=20 eval_every=0 precision=fp32
    expect 0 "$GARAGE" -q -C "$1" demos import "$tune_data/demos.jsonl"
    expect 0 "$GARAGE" -q -C "$1" sft steps=150 batch=16 lr=3e-3 precision=fp32
    [ "${2:-}" = sft ] && return
    expect 0 "$GARAGE" -q -C "$1" rank prompts="$tune_data/prompts.txt" labeler=rule \
        prefer=happy answers=6 max_tokens=16 precision=fp32
    expect 0 "$GARAGE" -q -C "$1" reward epochs=10 lr=1e-3 precision=fp32
    [ -n "$(ls "$1"/checkpoints/reward-*.ckpt 2>/dev/null)" ] ||
        fail "the recipe made no reward model"
}
