#!/bin/sh
# bench/run-bench.sh BENCH_TRAIN: `make bench`.  Measures on this machine,
# in one run: the FMA and sgemm ceilings; training tokens/s and model FLOP/s of
# garage, the PyTorch reference (bench/torch_ref.py) and llm.c's CPU
# trainer (when LLMC_DIR names a checkout) on configs S, M and GPT-2
# 124M; sampling tokens/s (1 and 16 sequences); peak RSS; and the
# correctness cross-check against PyTorch; and each fp32 product of a step
# through OpenBLAS and through oneDNN.  Prints `RATIO name value`
# lines (garage / peer: higher is better; for memory peer / garage, so
# higher is still better), `SPEEDUP name value` lines for garage against
# itself (bf16 against fp32, 16 sequences against one, garage's own fp32
# product against OpenBLAS split by gr_sgemm), and a Markdown table for
# bench/README.
#
# Environment: BENCH_ROUNDS (default 3) rounds of each training run,
# garage and PyTorch alternating, each figure the median step time over
# all rounds (after warm-up); BENCH_QUICK=1: S only, fewer steps;
# PYTHON (default /usr/bin/python3, Debian's python3-torch); LLMC_DIR.
set -u
BT=${1:?usage: run-bench.sh path/to/bench-train}
here=$(cd "$(dirname "$0")" && pwd)
PY=${PYTHON:-/usr/bin/python3}
ROUNDS=${BENCH_ROUNDS:-3}
QUICK=${BENCH_QUICK:-0}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/garage-bench.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT INT TERM
status=0

# The fast OpenBLAS kernel for everyone (Debian's build falls back to SSE3
# on CPUs it does not know; PERF-NOTES.md), one OpenMP pool, all CPUs.
if [ -z "${OPENBLAS_CORETYPE:-}" ] && grep -qw avx512f /proc/cpuinfo; then
    OPENBLAS_CORETYPE=SkylakeX
    export OPENBLAS_CORETYPE
fi
OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-PASSIVE}
GARAGE_REEXECED=1
export OMP_WAIT_POLICY GARAGE_REEXECED
unset OMP_NUM_THREADS OPENBLAS_NUM_THREADS

key() {     # key FILE KEY: the value(s) after KEY
    awk -v k="$2" '$1 == k { $1 = ""; sub(/^ /, ""); print; exit }' "$1"
}
median() {  # numbers on stdin, any layout
    tr ' ' '\n' | awk 'NF' | sort -g | awk '{ v[NR] = $1 }
        END { if (!NR) print "nan"; else if (NR % 2) print v[(NR + 1) / 2];
              else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
maxof() { tr ' ' '\n' | awk 'NF' | sort -g | tail -n 1; }
calc() { awk "BEGIN { printf \"%.4g\", $1 }"; }
pct() { awk "BEGIN { if ($2 + 0 > 0) printf \"%.3g\", 100 * $1 / $2; else printf \"n/a\" }"; }
load() { cut -d' ' -f1-3 /proc/loadavg; }
busy() {    # CPUs busy over one second, from /proc/stat
    a=$(awk '/^cpu /{ print $2+$3+$4+$7+$8, $5+$6 }' /proc/stat)
    sleep 1
    b=$(awk '/^cpu /{ print $2+$3+$4+$7+$8, $5+$6 }' /proc/stat)
    echo "$a $b" | awk -v n="$(nproc)" '{ u = $3 - $1; i = $4 - $2;
        printf "%.2f", ((u + i) > 0 ? n * u / (u + i) : 0) }'
}

have_torch=0
if "$PY" -c 'import torch' 2>/dev/null; then
    have_torch=1
else
    echo "NOTICE: PyTorch is not installed for $PY (Debian: apt-get install python3-torch); skipping the PyTorch reference and the cross-check"
fi
have_llmc=0
if [ -n "${LLMC_DIR:-}" ] && [ -f "$LLMC_DIR/train_gpt2.c" ]; then
    if ${CC:-cc} -Ofast -march=native -fopenmp -DOMP -I"$LLMC_DIR" \
        -Wno-unused-result "$here/llmc-bench.c" -lm -o "$tmp/llmc-bench" \
        2> "$tmp/llmc-cc.log"; then
        have_llmc=1
    else
        echo "NOTICE: cannot build bench/llmc-bench.c against $LLMC_DIR:"
        cat "$tmp/llmc-cc.log"
    fi
else
    echo "NOTICE: LLMC_DIR does not name an llm.c checkout; skipping llm.c (git clone https://github.com/karpathy/llm.c, then make bench LLMC_DIR=...)"
fi

echo "BENCH machine: $(grep -m1 'model name' /proc/cpuinfo | sed 's/.*: //'), $(nproc) CPUs"
echo "BENCH date: $(date -u '+%Y-%m-%d %H:%M UTC')"
echo "BENCH commit: $(git -C "$here" rev-parse --short HEAD 2>/dev/null || echo unknown)$(git -C "$here" diff --quiet HEAD -- ../src 2>/dev/null || echo ' (+ local changes)')"
echo "BENCH OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-unset} OMP_WAIT_POLICY=$OMP_WAIT_POLICY rounds=$ROUNDS"
echo "LOAD start: loadavg $(load), busy CPUs $(busy)"

# --- the sgemm ceiling -------------------------------------------------------
"$BT" sgemm 7 > "$tmp/sgemm" || status=1
grep '^SGEMM ' "$tmp/sgemm"
SGEMM=$(key "$tmp/sgemm" SGEMM_GFLOPS)
SGEMM1=$(key "$tmp/sgemm" SGEMM_1T_GFLOPS)
echo "sgemm: ${SGEMM} GFLOP/s through gr_sgemm on $(key "$tmp/sgemm" THREADS) threads, ${SGEMM1} on 1 (mean over shapes of each shape's median)"
PEAK=$(key "$tmp/sgemm" PEAK_GFLOPS)
PEAK1=$(key "$tmp/sgemm" PEAK_1T_GFLOPS)
echo "FMA peak ($(key "$tmp/sgemm" PEAK_ISA)): ${PEAK} GFLOP/s on $(key "$tmp/sgemm" THREADS) threads, ${PEAK1} on 1; sgemm is $(pct "$SGEMM" "${PEAK:-0}")% of it"
# garage's own product (GARAGE_SGEMM=garage, the default on AVX-512)
GEMM=$(key "$tmp/sgemm" GEMM_GARAGE_GFLOPS)
have_gemm=0
if [ -n "$GEMM" ]; then
    have_gemm=1
    echo "garage's product: ${GEMM} GFLOP/s on $(key "$tmp/sgemm" THREADS) threads, $(pct "$GEMM" "${PEAK:-0}")% of the FMA peak"
    echo "SPEEDUP gemm_garage_vs_sgemm $(calc "$GEMM / $SGEMM")"
fi

# --- OpenBLAS against oneDNN, product by product (GARAGE_SGEMM=auto) ---------
"$BT" shapes 7 > "$tmp/shapes" || status=1
cat "$tmp/shapes"
have_onednn=0
grep -q '^SHAPES [^s]' "$tmp/shapes" && have_onednn=1

# --- training ------------------------------------------------------------------
# name  L NH C V T(context)  B TSEQ  steps per round
if [ "$QUICK" = 1 ]; then
    CONFIGS="S:4:4:256:4096:256:8:256:4"
else
    CONFIGS="S:4:4:256:4096:256:8:256:6 M:6:6:384:8192:256:8:256:4 124M:12:12:768:50257:1024:4:64:3"
fi
TABLE=""
row() { TABLE="$TABLE$1
"; }
ratio() {   # ratio NAME A B: A / B when both are numbers
    case "$2$3" in *nan*|"") return ;; esac
    echo "RATIO $1 $(calc "$2 / $3")"
}

for c in $CONFIGS; do
    IFS=: read -r name L NH C V T B TS steps <<EOF
$c
EOF
    args="$L $NH $C $V $T $B $TS"
    : > "$tmp/g.$name"
    : > "$tmp/t.$name"
    : > "$tmp/o.$name"
    tset=""
    r=1
    while [ "$r" -le "$ROUNDS" ]; do
        "$BT" train $args "$steps" 2 >> "$tmp/g.$name" || status=1
        # the products through OpenBLAS split by gr_sgemm, in the same
        # rounds, where garage's own product is the default
        if [ "$have_gemm" = 1 ]; then
            GARAGE_SGEMM=openblas "$BT" train $args "$steps" 2 >> "$tmp/o.$name" || status=1
        fi
        if [ "$have_torch" = 1 ]; then
            TORCH_SETTING="$tset" "$PY" "$here/torch_ref.py" train $args "$steps" 2 \
                >> "$tmp/t.$name" || status=1
            [ -z "$tset" ] && tset=$(key "$tmp/t.$name" SETTING)
        fi
        r=$((r + 1))
    done
    n=$((B * TS))
    gs=$(grep '^STEP_S ' "$tmp/g.$name" | cut -d' ' -f2- | median)
    g_tok=$(calc "$n / $gs")
    g_fl=$(calc "$g_tok * $(grep -m1 '^FLOPS ' "$tmp/g.$name" | cut -d' ' -f2) / $(key "$tmp/g.$name" TOK_S) / 1e9")
    g_rss=$(grep '^PEAK_RSS_MIB ' "$tmp/g.$name" | cut -d' ' -f2 | maxof)
    echo "train $name garage ($(key "$tmp/g.$name" SGEMM_BACKEND)): $g_tok tok/s, $g_fl GFLOP/s ($(calc "100 * $g_fl / $SGEMM")% of sgemm, $(pct "$g_fl" "${PEAK:-0}")% of the FMA peak), peak RSS $g_rss MiB"
    t_tok=nan t_fl=nan t_rss=nan
    if [ "$have_torch" = 1 ]; then
        ts=$(grep '^STEP_S ' "$tmp/t.$name" | cut -d' ' -f2- | median)
        t_tok=$(calc "$n / $ts")
        t_fl=$(calc "$t_tok * $(grep -m1 '^FLOPS ' "$tmp/t.$name" | cut -d' ' -f2) / $(key "$tmp/t.$name" TOK_S) / 1e9")
        t_rss=$(grep '^PEAK_RSS_MIB ' "$tmp/t.$name" | cut -d' ' -f2 | maxof)
        echo "train $name pytorch: $t_tok tok/s, $t_fl GFLOP/s, peak RSS $t_rss MiB (threads $(key "$tmp/t.$name" SETTING))"
        ratio "train_${name}_vs_pytorch" "$g_tok" "$t_tok"
        ratio "mem_train_${name}_vs_pytorch" "$t_rss" "$g_rss"
    fi
    l_tok=nan l_rss=nan
    if [ "$have_llmc" = 1 ]; then
        lsteps=2
        [ "$name" = S ] && lsteps=3
        OMP_NUM_THREADS=$(nproc) "$tmp/llmc-bench" $args "$lsteps" 1 > "$tmp/l.$name" || status=1
        ls=$(grep '^STEP_S ' "$tmp/l.$name" | cut -d' ' -f2- | median)
        l_tok=$(calc "$n / $ls")
        l_rss=$(key "$tmp/l.$name" PEAK_RSS_MIB)
        echo "train $name llm.c: $l_tok tok/s, peak RSS $l_rss MiB"
        ratio "train_${name}_vs_llmc" "$g_tok" "$l_tok"
        ratio "mem_train_${name}_vs_llmc" "$l_rss" "$g_rss"
    fi
    o_tok=""
    if grep -q '^STEP_S ' "$tmp/o.$name"; then
        os=$(grep '^STEP_S ' "$tmp/o.$name" | cut -d' ' -f2- | median)
        o_tok=$(calc "$n / $os")
        echo "train $name garage GARAGE_SGEMM=openblas ($(key "$tmp/o.$name" SGEMM_BACKEND)): $o_tok tok/s"
        echo "SPEEDUP train_${name}_gemm_garage_vs_openblas $(calc "$g_tok / $o_tok")"
    fi
    # precision=bf16 (garage only; not part of the fp32 comparison)
    b_tok=""
    if [ "$name" != 124M ] &&
        BENCH_PRECISION=bf16 "$BT" train $args "$steps" 2 > "$tmp/b.$name" 2>/dev/null; then
        bs=$(grep '^STEP_S ' "$tmp/b.$name" | cut -d' ' -f2- | median)
        b_tok=$(calc "$n / $bs")
        echo "train $name garage precision=bf16: $b_tok tok/s ($(calc "$b_tok / $g_tok")x fp32), peak RSS $(key "$tmp/b.$name" PEAK_RSS_MIB) MiB"
        echo "SPEEDUP train_${name}_bf16_vs_fp32 $(calc "$b_tok / $g_tok")"
    fi
    row "| train $name tok/s | $g_tok | $t_tok | $l_tok |"
    [ -n "$o_tok" ] && row "| train $name tok/s, GARAGE_SGEMM=openblas (OpenBLAS split by gr_sgemm) | $o_tok | | |"
    [ -n "$b_tok" ] && row "| train $name tok/s, precision=bf16 (1 round) | $b_tok | | |"
    row "| train $name model GFLOP/s | $g_fl | $t_fl | |"
    row "| train $name peak RSS MiB | $g_rss | $t_rss | $l_rss |"
done

# --- sampling (model of config M's size, stage_sample's sampler) ---------------------
SM="6 6 384 8192 256"
for nb in 1 16; do
    "$BT" sample $SM $nb 256 > "$tmp/gs.$nb" || status=1
    gs_tok=$(key "$tmp/gs.$nb" TOK_S)
    gs_rss=$(key "$tmp/gs.$nb" PEAK_RSS_MIB)
    eval "GS_$nb=\$gs_tok"
    ts_tok=nan ts_rss=nan
    if [ "$have_torch" = 1 ]; then
        "$PY" "$here/torch_ref.py" sample $SM $nb 256 > "$tmp/ts.$nb" || status=1
        ts_tok=$(key "$tmp/ts.$nb" TOK_S)
        ts_rss=$(key "$tmp/ts.$nb" PEAK_RSS_MIB)
        ratio "sample${nb}_vs_pytorch" "$gs_tok" "$ts_tok"
        ratio "mem_sample${nb}_vs_pytorch" "$ts_rss" "$gs_rss"
    fi
    echo "sample x$nb: garage $gs_tok tok/s ($gs_rss MiB), pytorch $ts_tok tok/s ($ts_rss MiB)"
    row "| sample M x$nb tok/s (total) | $gs_tok | $ts_tok | |"
    row "| sample M x$nb peak RSS MiB | $gs_rss | $ts_rss | |"
    # bf16 weights (kvcache_set_precision; garage only)
    if BENCH_PRECISION=bf16 "$BT" sample $SM $nb 256 > "$tmp/gb.$nb" 2>/dev/null; then
        gb_tok=$(key "$tmp/gb.$nb" TOK_S)
        eval "GB_$nb=\$gb_tok"
        echo "sample x$nb: garage with bf16 weights $gb_tok tok/s ($(key "$tmp/gb.$nb" PEAK_RSS_MIB) MiB)"
        echo "SPEEDUP sample${nb}_bf16_vs_fp32 $(calc "$gb_tok / $gs_tok")"
        row "| sample M x$nb tok/s, bf16 weights | $gb_tok | | |"
    fi
done
echo "SPEEDUP sample16_vs_sample1 $(calc "$GS_16 / $GS_1")"
[ -n "${GB_16:-}" ] && [ -n "${GB_1:-}" ] &&
    echo "SPEEDUP sample16_vs_sample1_bf16 $(calc "$GB_16 / $GB_1")"

# --- bf16 products (oneDNN, OpenBLAS sbgemm) against sgemm ---------------------------
bf16="skipped (no oneDNN: apt-get install libdnnl-dev)"
build=$(cd "$(dirname "$BT")/.." && pwd)
if [ -f /usr/include/dnnl.h ] || [ -f /usr/include/oneapi/dnnl/dnnl.h ]; then
    if ${CC:-cc} -O2 -fopenmp -I"$here/../src" "$here/bench-bf16.c" \
        "$build/src/libkernels.a" -ldnnl -lopenblas -lm -ldl \
        -o "$tmp/bench-bf16" 2> "$tmp/bf16-cc.log"; then
        "$tmp/bench-bf16" 7 > "$tmp/bf16" || status=1
        cat "$tmp/bf16"
        set -- $(key "$tmp/bf16" BF16_MEAN)
        bf16="sgemm $2, oneDNN bf16 $6 ($8 converting from f32 on each call), oneDNN f32 ${10}, OpenBLAS sbgemm $4 GFLOP/s; $(key "$tmp/bf16" BF16_IMPL)"
        echo "SPEEDUP dnnl_bf16_vs_sgemm $(calc "$6 / $2")"
    else
        echo "NOTICE: cannot build bench/bench-bf16.c:"
        cat "$tmp/bf16-cc.log"
    fi
else
    echo "NOTICE: $bf16"
fi

# --- correctness: garage against PyTorch from the same weights and batches -----------
xcheck="skipped (no PyTorch)"
if [ "$have_torch" = 1 ]; then
    if "$BT" xcheck "$tmp/xcheck.bin" 50 > "$tmp/xg" &&
        "$PY" "$here/torch_ref.py" xcheck "$tmp/xcheck.bin" > "$tmp/xt"; then
        xcheck=PASS
    else
        xcheck=FAIL
        status=1
    fi
    cat "$tmp/xg" "$tmp/xt" 2>/dev/null
fi

echo "LOAD end: loadavg $(load), busy CPUs $(busy)"
echo
echo "| measure | garage | PyTorch | llm.c |"
echo "|---|---|---|---|"
echo "| FMA peak GFLOP/s ($(nproc) threads; 1 thread) | $PEAK; $PEAK1 | | |"
echo "| sgemm GFLOP/s ($(nproc) threads; 1 thread) | $SGEMM; $SGEMM1 | | |"
[ -n "$GEMM" ] && echo "| garage's product GFLOP/s ($(nproc) threads) | $GEMM | | |"
printf '%s' "$TABLE"
echo
echo "bf16 products (mean over the step's shapes): $bf16"
grep '^SHAPES ' "$tmp/shapes" | sed 's/^SHAPES /fp32 products, oneDNN against OpenBLAS: /'
echo "Cross-check against PyTorch (loss and logits, step 0 and after 50 AdamW steps): $xcheck"
exit $status
