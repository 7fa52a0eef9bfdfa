#!/bin/sh
# The command line: help, version, the registry's errors.
. "$srcdir/tests/cli-lib.sh"

expect 0 "$GARAGE" --help
has "$out" "Usage: garage"
for c in init corpus tokenizer model pretrain sample info run help; do
    has "$out" "  $c "
done
# reward
for c in rank prefs reward; do
    has "$out" "  $c "
done
expect 0 "$GARAGE" help rank
has "$out" "prefer             rule: +1 for each of these words an answer contains"
has "$out" "texts"
help_rank=$out
# --help or -h after a command: its help, as 'garage help COMMAND'
expect 0 "$GARAGE" rank --help
same "$out" "$help_rank"
expect 0 "$GARAGE" corpus add x -h
has "$out" "garage corpus [add ...]"
# -q may follow the command; -C may not
cd "$tmp"
expect 0 "$GARAGE" init wsq -q
same "$out" "Created a garage workspace in wsq"
expect 2 "$GARAGE" status -C ws
same "$err" "garage: -C goes before the command: garage -C DIR status ..."

expect 0 "$GARAGE" --version
has "$out" "garage "
has "$out" "BLAS: OpenBLAS, kernel"
has "$out" "Products: "
# and what precision=auto picks on this machine
has "$out" "Training (precision=auto): "
has "$out" "Generation (precision=auto): "
# the choice of who computes the products, and the variable that sets it
expect 0 env OMP_NUM_THREADS=2 GARAGE_SGEMM=openblas "$GARAGE" --version
has "$out" "Products: OpenBLAS, 2 threads"
expect 0 env OMP_NUM_THREADS=1 GARAGE_SGEMM=openblas "$GARAGE" --version
has "$out" "Products: OpenBLAS, 1 thread"
# the default: garage's own product where the CPU has AVX-512
expect 0 env OMP_NUM_THREADS=2 "$GARAGE" --version
if grep -q avx512f /proc/cpuinfo 2>/dev/null; then
    has "$out" "Products: garage (AVX-512), 2 threads"
else
    has "$out" "Products: OpenBLAS, 2 threads"
fi

expect 2 "$GARAGE"
has "$err" "Usage: garage"

expect 2 "$GARAGE" pretrian
same "$err" "garage: unknown command 'pretrian' (did you mean 'pretrain'?)"

expect 2 "$GARAGE" --bogus
same "$err" "garage: unknown option '--bogus' (see 'garage --help')"

expect 0 "$GARAGE" help pretrain
for o in steps batch accum lr warmup min_lr weight_decay grad_clip objective \
         eval_every save_every resume; do
    has "$out" "  $o "
done
has "$out" "default 2000"
has "$out" "next|masked"

expect 0 "$GARAGE" help
has "$out" "Commands:"

expect 2 "$GARAGE" help pretrian
same "$err" "garage: unknown command 'pretrian' (did you mean 'pretrain'?)"

# options are checked before anything runs, even outside a workspace
cd "$tmp"
expect 2 "$GARAGE" pretrain stepz=10
same "$err" "garage: unknown option 'stepz' for 'pretrain' (did you mean 'steps'?)"
expect 2 "$GARAGE" pretrain --stepz 10
same "$err" "garage: unknown option 'stepz' for 'pretrain' (did you mean 'steps'?)"
expect 2 "$GARAGE" pretrain steps=many
same "$err" "garage: 'steps' expects an integer, got 'many'"
expect 2 "$GARAGE" pretrain steps=3e-3
same "$err" "garage: 'steps' expects an integer, got '3e-3'"
expect 2 "$GARAGE" pretrain steps=1.5
same "$err" "garage: 'steps' expects an integer, got '1.5'"
expect 2 "$GARAGE" pretrain steps='5 5'
same "$err" "garage: 'steps' expects an integer, got '5 5'"
expect 1 "$GARAGE" pretrain steps=' 5 ' lr='1e-3 '     # spaces around a number are fine
has "$err" "not a garage workspace"
expect 2 "$GARAGE" pretrain lr=5
same "$err" "garage: 'lr' must be between 0 and 1, got 5"
expect 2 "$GARAGE" pretrain objective=sideways
same "$err" "garage: 'objective' must be one of next,masked, got 'sideways'"
expect 2 "$GARAGE" sample --temperature
same "$err" "garage: option '--temperature' needs a value"

# outside a workspace
expect 1 "$GARAGE" status
same "$err" "garage: this folder is not a garage workspace (create one with 'garage init DIR', or use -C DIR)"
expect 1 "$GARAGE" -C nowhere corpus info
same "$err" "garage: nowhere is not a garage workspace (create one with 'garage init nowhere')"

finish
