/* bench/bench-train.c: garage's side of `make bench` (bench/run-bench.sh).
 *
 *   bench-train sgemm [REPS]
 *       cblas_sgemm GFLOP/s on the products of a training step (configs S
 *       and M, batch 8 x 256): on one thread, and through gr_sgemm (one
 *       OpenMP pool, OpenBLAS at 1 thread, products split across threads);
 *       then garage's own product (GARAGE_SGEMM=garage, all threads);
 *       and the cores' own ceiling: independent fused multiply-adds of
 *       the widest vectors (AVX-512, else AVX2), on 1 thread and on all.
 *   bench-train shapes [REPS]
 *       the fp32 products of a step of S, M and 124M, each through
 *       OpenBLAS and through oneDNN (gr_sgemm; calls alternating), the
 *       measurements behind GARAGE_SGEMM=auto.
 *   bench-train train L NH C V T B TSEQ STEPS [WARMUP]
 *       training steps as `garage pretrain` takes them: zero grads,
 *       gpt_forward, gpt_backward, gradient norm, adamw_step_scaled
 *       (clipping folded into the step).
 *   bench-train sample L NH C V T NB NTOK
 *       generation with the KV cache: NB sequences, NTOK tokens each, one
 *       gpt_forward_step and sample_next per token and sequence
 *       (BENCH_PROFILE=1: and the share of each kind of layer).
 *   bench-train xcheck FILE [STEPS]
 *       writes FILE for bench/torch_ref.py: a small model's initial
 *       weights, STEPS+1 batches, garage's losses over STEPS AdamW steps,
 *       the logits of the first and last forward passes and the gradients
 *       of the first backward pass.
 *   bench-train profile L NH C V T B TSEQ STEPS
 *       like train, with the per-kind timers of `pretrain profile=true`.
 *
 * BENCH_PRECISION=bf16 makes the model's products bf16 (gpt_set_precision)
 * and generation read bf16 weights (kvcache_set_precision).
 * Threads as in ui/main.c: kernels_set_threads(OMP_NUM_THREADS or all
 * CPUs).  OpenBLAS reads OPENBLAS_CORETYPE when it loads, so on CPUs
 * Debian's build does not know, launch this with OPENBLAS_CORETYPE=SkylakeX
 * (run-bench.sh does) or it re-executes itself as garage does.
 * Output: `KEY value` lines; times are medians after warm-up. */
#include <cblas.h>
#include <math.h>
#include <omp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "base/rng.h"
#include "base/xalloc.h"
#include "kernels/blas.h"
#include "kernels/prof.h"
#include "model/adamw.h"
#include "model/gpt.h"
#include "model/sample.h"

static double
now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int
cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double
median(const double *v, int n)
{
    double *s = xmalloc((size_t)n * sizeof *s);
    memcpy(s, v, (size_t)n * sizeof *s);
    qsort(s, (size_t)n, sizeof *s, cmp_double);
    double m = n % 2 ? s[n / 2] : 0.5 * (s[n / 2 - 1] + s[n / 2]);
    free(s);
    return m;
}

/* CPU seconds of all our threads: a steadier gauge than wall time when
 * other programs share the cores (for comparing changes). */
static double
cpu_time(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + 1e-6 * (double)ru.ru_utime.tv_usec +
           (double)ru.ru_stime.tv_sec + 1e-6 * (double)ru.ru_stime.tv_usec;
}

static double
peak_rss_mib(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_maxrss / 1024.0;      /* KiB on Linux */
}

/* ui/main.c's fix: Debian's OpenBLAS falls back to an SSE3 kernel on CPUs
 * it does not know; the core type is read at load time. */
static void
fix_blas_kernel(char **argv)
{
    static const char *const slow[] = {
        "Prescott", "Core2", "Nehalem", "Sandybridge", "Haswell", "Penryn",
        "Dunnington", "Atom", NULL
    };
    if (getenv("GARAGE_REEXECED"))
        return;
    int again = 0;
    const char *core = openblas_get_corename();
    if (!getenv("OPENBLAS_CORETYPE") && __builtin_cpu_supports("avx512f"))
        for (const char *const *s = slow; *s; s++)
            if (core && strcasecmp(core, *s) == 0) {
                setenv("OPENBLAS_CORETYPE", "SkylakeX", 1);
                again = 1;
            }
    if (!getenv("OMP_WAIT_POLICY")) {
        setenv("OMP_WAIT_POLICY", "PASSIVE", 1);
        again = 1;
    }
    if (!again)
        return;
    setenv("GARAGE_REEXECED", "1", 1);
    execv("/proc/self/exe", argv);
    fprintf(stderr, "bench-train: warning: could not re-execute\n");
}

static void
print_times(const char *key, const double *t, int n)
{
    printf("%s", key);
    for (int i = 0; i < n; i++)
        printf(" %.5f", t[i]);
    printf("\n");
}

/* --- sgemm ---------------------------------------------------------------- */

struct shape {
    const char *name;
    int M, N, K;
    enum CBLAS_TRANSPOSE ta, tb;
};

/* A (M,K) and B (K,N) of N(0,1) numbers, C (M,N) zeros, all aligned. */
static void
operands(struct gr_rng *rng, int M, int N, int K, float **A, float **B,
         float **C)
{
    size_t na = (size_t)M * K, nb = (size_t)K * N, nc = (size_t)M * N;
    *A = gr_aligned_alloc(na * sizeof **A);
    *B = gr_aligned_alloc(nb * sizeof **B);
    *C = gr_aligned_alloc(nc * sizeof **C);
    for (size_t i = 0; i < na; i++)
        (*A)[i] = rng_normal(rng);
    for (size_t i = 0; i < nb; i++)
        (*B)[i] = rng_normal(rng);
    memset(*C, 0, nc * sizeof **C);
}

static void
run_sgemm(int reps)
{
    /* The products of a step of batch 8 x 256 (N = 2048 rows). */
    static const struct shape sh[] = {
        { "S.qkv.fwd",   2048,  768,  256, CblasNoTrans, CblasTrans },
        { "S.fc.fwd",    2048, 1024,  256, CblasNoTrans, CblasTrans },
        { "S.fcproj.fwd", 2048, 256, 1024, CblasNoTrans, CblasTrans },
        { "S.head.fwd",  2048, 4096,  256, CblasNoTrans, CblasTrans },
        { "M.qkv.fwd",   2048, 1152,  384, CblasNoTrans, CblasTrans },
        { "M.fc.fwd",    2048, 1536,  384, CblasNoTrans, CblasTrans },
        { "M.fcproj.fwd", 2048, 384, 1536, CblasNoTrans, CblasTrans },
        { "M.fc.dinp",   2048,  384, 1536, CblasNoTrans, CblasNoTrans },
        { "M.fc.dw",     1536,  384, 2048, CblasTrans, CblasNoTrans },
        { "M.head.fwd",  2048, 8192,  384, CblasNoTrans, CblasTrans },
        { "M.head.dw",   8192,  384, 2048, CblasTrans, CblasNoTrans },
    };
    int nsh = (int)(sizeof sh / sizeof sh[0]);
    struct gr_rng rng;
    rng_seed(&rng, 7);
    double *t = xmalloc((size_t)reps * sizeof *t);
    double sum1 = 0, sumn = 0, sumg = 0;
    /* the ceiling is OpenBLAS's rate (GARAGE_SGEMM=openblas); garage's
     * own product (GARAGE_SGEMM=garage) beside it where it runs */
    const char *def = kernels_sgemm_name();
    int have_gemm = kernels_set_sgemm("garage") == 0;
    for (int s = 0; s < nsh; s++) {
        const struct shape *p = &sh[s];
        float *A, *B, *C;
        operands(&rng, p->M, p->N, p->K, &A, &B, &C);
        int lda = p->ta == CblasNoTrans ? p->K : p->M;
        int ldb = p->tb == CblasNoTrans ? p->N : p->K;
        double fl = 2.0 * p->M * p->N * p->K, g[3] = { 0, 0, 0 };
        for (int mode = 0; mode < 2 + have_gemm; mode++) {
            kernels_set_sgemm(mode < 2 ? "openblas" : "garage");
            for (int r = -1; r < reps; r++) {
                double t0 = now();
                if (mode == 0)
                    cblas_sgemm(CblasRowMajor, p->ta, p->tb, p->M, p->N,
                                p->K, 1.0f, A, lda, B, ldb, 0.0f, C, p->N);
                else
                    gr_sgemm(p->ta, p->tb, p->M, p->N, p->K, 1.0f, A, lda, B,
                             ldb, 0.0f, C, p->N);
                if (r >= 0)
                    t[r] = now() - t0;
            }
            g[mode] = fl / median(t, reps) / 1e9;
        }
        printf("SGEMM %s %d %d %d %.1f %.1f %.1f\n", p->name, p->M, p->N,
               p->K, g[0], g[1], g[2]);
        sum1 += g[0];
        sumn += g[1];
        sumg += g[2];
        gr_aligned_free(A);
        gr_aligned_free(B);
        gr_aligned_free(C);
    }
    printf("SGEMM_1T_GFLOPS %.1f\n", sum1 / nsh);
    printf("SGEMM_GFLOPS %.1f\n", sumn / nsh);
    if (have_gemm)
        printf("GEMM_GARAGE_GFLOPS %.1f\n", sumg / nsh);
    printf("THREADS %d\n", kernels_threads());
    kernels_set_sgemm(def);
    free(t);
}

/* --- the cores' FMA ceiling ------------------------------------------------ */

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
/* 12 independent chains (more than an FMA's latency times its units),
 * a = a * b + c converging to 1, so no value grows or goes subnormal.
 * Returns the FLOPs done. */
#define FMA_CHAINS(T, SET1, FMA, ADD, W)                                     \
    T b = SET1(0.999999f), c = SET1(1e-6f), s;                               \
    T a0 = SET1(0.1f), a1 = SET1(0.2f), a2 = SET1(0.3f), a3 = SET1(0.4f);    \
    T a4 = SET1(0.5f), a5 = SET1(0.6f), a6 = SET1(0.7f), a7 = SET1(0.8f);    \
    T a8 = SET1(0.9f), a9 = SET1(1.1f), a10 = SET1(1.2f), a11 = SET1(1.3f);  \
    for (long i = 0; i < n; i++) {                                           \
        a0 = FMA(a0, b, c); a1 = FMA(a1, b, c); a2 = FMA(a2, b, c);          \
        a3 = FMA(a3, b, c); a4 = FMA(a4, b, c); a5 = FMA(a5, b, c);          \
        a6 = FMA(a6, b, c); a7 = FMA(a7, b, c); a8 = FMA(a8, b, c);          \
        a9 = FMA(a9, b, c); a10 = FMA(a10, b, c); a11 = FMA(a11, b, c);      \
    }                                                                        \
    s = ADD(ADD(ADD(a0, a1), ADD(a2, a3)), ADD(ADD(a4, a5), ADD(a6, a7)));   \
    s = ADD(s, ADD(ADD(a8, a9), ADD(a10, a11)));                             \
    float out[W];                                                            \
    memcpy(out, &s, sizeof out);                                             \
    fma_sink += out[0];                                                      \
    return 2.0 * W * 12 * (double)n;

static volatile float fma_sink;

__attribute__((target("avx512f"))) static double
fma_avx512(long n)
{
    FMA_CHAINS(__m512, _mm512_set1_ps, _mm512_fmadd_ps, _mm512_add_ps, 16)
}

__attribute__((target("avx2,fma"))) static double
fma_avx2(long n)
{
    FMA_CHAINS(__m256, _mm256_set1_ps, _mm256_fmadd_ps, _mm256_add_ps, 8)
}

/* GFLOP/s of nt threads each doing n rounds; isa: the unit used. */
static double
fma_rate(int nt, long n, const char **isa)
{
    __builtin_cpu_init();
    int wide = __builtin_cpu_supports("avx512f");
    if (!wide && !__builtin_cpu_supports("fma")) {
        *isa = "none";
        return 0.0;
    }
    *isa = wide ? "avx512" : "avx2";
    double fl = 0.0, t0 = now();
#pragma omp parallel num_threads(nt) reduction(+:fl)
    fl += wide ? fma_avx512(n) : fma_avx2(n);
    return fl / (now() - t0) / 1e9;
}
#else
static double
fma_rate(int nt, long n, const char **isa)
{
    (void)nt; (void)n;
    *isa = "none";
    return 0.0;
}
#endif

/* The median FMA rate over reps runs of about 0.1 s, on 1 thread and on
 * all: the ceiling no product can pass. */
static void
run_peak(int reps)
{
    const char *isa = "none";
    double *t = xmalloc((size_t)reps * sizeof *t);
    int nts[2] = { 1, kernels_threads() };
    const char *keys[2] = { "PEAK_1T_GFLOPS", "PEAK_GFLOPS" };
    for (int k = 0; k < 2; k++) {
        fma_rate(nts[k], 1L << 20, &isa);               /* warm up */
        for (int r = 0; r < reps; r++)
            t[r] = fma_rate(nts[k], 1L << 22, &isa);
        printf("%s %.1f\n", keys[k], median(t, reps));
    }
    printf("PEAK_ISA %s\n", isa);
    free(t);
}

/* The fp32 products of a training step of configs S, M (batch 8 x 256)
 * and 124M (batch 4 x 64) through gr_sgemm, all by OpenBLAS and all by
 * oneDNN, calls alternating so that both see the same machine: what
 * GARAGE_SGEMM=auto's choice rests on. */
static void
run_shapes(int reps)
{
    const char *def = kernels_sgemm_name();
    if (kernels_set_sgemm("onednn") != 0) {
        printf("SHAPES skipped: garage was built without oneDNN\n");
        return;
    }
    static const struct { const char *name; int N, C, V; } cf[] = {
        { "S", 2048, 256, 4096 }, { "M", 2048, 384, 8192 },
        { "124M", 256, 768, 50257 },
    };
    struct gr_rng rng;
    rng_seed(&rng, 9);
    double *t = xmalloc(2 * (size_t)reps * sizeof *t);
    for (int c = 0; c < 3; c++) {
        int N = cf[c].N, C = cf[c].C, V = cf[c].V;
        /* name, M, N, K, ta, tb, beta: out (N,OC) = inp . w^T (+ bias),
         * dinp (N,C) = dout . w, dw (OC,C) += dout^T . inp */
        const struct { const char *name; int M, N, K, ta, tb; float beta; } sh[] = {
            { "qkv.fwd", N, 3 * C, C, 0, 1, 1 }, { "proj.fwd", N, C, C, 0, 1, 1 },
            { "fc.fwd", N, 4 * C, C, 0, 1, 1 }, { "fcproj.fwd", N, C, 4 * C, 0, 1, 1 },
            { "head.fwd", N, V, C, 0, 1, 0 },
            { "qkv.dinp", N, C, 3 * C, 0, 0, 0 }, { "proj.dinp", N, C, C, 0, 0, 0 },
            { "fc.dinp", N, C, 4 * C, 0, 0, 0 }, { "fcproj.dinp", N, 4 * C, C, 0, 0, 0 },
            { "head.dinp", N, C, V, 0, 0, 0 },
            { "qkv.dw", 3 * C, C, N, 1, 0, 1 }, { "proj.dw", C, C, N, 1, 0, 1 },
            { "fc.dw", 4 * C, C, N, 1, 0, 1 }, { "fcproj.dw", C, 4 * C, N, 1, 0, 1 },
            { "head.dw", V, C, N, 1, 0, 1 },
        };
        double tot[2][2] = { { 0, 0 }, { 0, 0 } };    /* [fwd?][backend] */
        for (int s = 0; s < 15; s++) {
            int M = sh[s].M, NN = sh[s].N, K = sh[s].K;
            float *A, *B, *Cm;
            operands(&rng, M, NN, K, &A, &B, &Cm);
            enum CBLAS_TRANSPOSE ta = sh[s].ta ? CblasTrans : CblasNoTrans;
            enum CBLAS_TRANSPOSE tb = sh[s].tb ? CblasTrans : CblasNoTrans;
            int lda = sh[s].ta ? M : K, ldb = sh[s].tb ? K : NN;
            for (int r = -2; r < reps; r++)
                for (int b = 0; b < 2; b++) {
                    kernels_set_sgemm(b ? "onednn" : "openblas");
                    double t0 = now();
                    gr_sgemm(ta, tb, M, NN, K, 1.0f, A, lda, B, ldb, sh[s].beta, Cm, NN);
                    if (r >= 0)
                        t[b * reps + r] = now() - t0;
                }
            double fl = 2.0 * M * NN * K, to = median(t, reps), td = median(t + reps, reps);
            int fwd = sh[s].tb;
            tot[fwd][0] += to;
            tot[fwd][1] += td;
            printf("SHAPE %s.%s %d %d %d openblas %.1f onednn %.1f GFLOP/s, %.2fx\n",
                   cf[c].name, sh[s].name, M, NN, K, fl / to / 1e9, fl / td / 1e9, to / td);
            gr_aligned_free(A);
            gr_aligned_free(B);
            gr_aligned_free(Cm);
        }
        printf("SHAPES %s forward %.2fx backward %.2fx (oneDNN / OpenBLAS speed, "
               "all products of the kind)\n", cf[c].name, tot[1][0] / tot[1][1],
               tot[0][0] / tot[0][1]);
    }
    kernels_set_sgemm(def);
    free(t);
}

/* --- training --------------------------------------------------------------- */

static int
make_model(struct gpt *m, const int *v, int B, int T)
{
    struct gpt_config cfg = { .L = v[0], .NH = v[1], .C = v[2], .V = v[3],
                              .T = v[4] };
    struct gr_error err;
    if (gpt_create(m, &cfg, &err) != GR_OK ||
        (B > 0 && gpt_alloc_acts(m, B, T, &err) != GR_OK)) {
        fprintf(stderr, "bench-train: %s\n", err.msg);
        return -1;
    }
    struct gr_rng rng;
    rng_seed(&rng, 1);
    gpt_init_weights(m, &rng);
    /* BENCH_PRECISION=bf16: bf16 matrix products (precision=bf16) */
    const char *prec = getenv("BENCH_PRECISION");
    if (prec && !strcmp(prec, "bf16") &&
        gpt_set_precision(m, GPT_BF16, &err) != GR_OK) {
        fprintf(stderr, "bench-train: %s\n", err.msg);
        return -1;
    }
    return 0;
}

/* One optimizer step as stage_pretrain takes it (clip 1.0, wd 0.1). */
static float
train_step(struct gpt *m, const int32_t *in, const int32_t *tg, int B, int T,
           float lr, float clip, int t)
{
    gpt_zero_grad(m);
    float loss = gpt_forward(m, in, tg, B, T, 1);
    gpt_backward(m);
    float norm = gpt_grad_norm(m);
    adamw_step_scaled(m, gpt_clip_scale(norm, clip), lr, 0.9f, 0.95f, 1e-8f,
                      0.1f, t);
    return loss;
}

static int
run_train(const int *v, int B, int T, int steps, int warmup, int profile)
{
    struct gpt m;
    if (make_model(&m, v, B, T))
        return 1;
    struct gr_rng rng;
    rng_seed(&rng, 2);
    size_t n = (size_t)B * T;
    int32_t *in = xmalloc(2 * n * sizeof *in), *tg = in + n;
    double *t = xmalloc(2 * (size_t)steps * sizeof *t), *cpu = t + steps;
    for (int s = 0; s < warmup + steps; s++) {
        if (profile && s == warmup)
            prof_enable(1);
        double t0 = now(), c0 = cpu_time();
        prof_begin(PROF_DATA);
        for (size_t i = 0; i < 2 * n; i++)
            in[i] = (int32_t)rng_below(&rng, (uint64_t)m.cfg.V);
        prof_end(PROF_DATA);
        train_step(&m, in, tg, B, T, 1e-4f, 1.0f, s + 1);
        if (s >= warmup) {
            t[s - warmup] = now() - t0;
            cpu[s - warmup] = cpu_time() - c0;
        }
    }
    double med = median(t, steps);
    double fpt = 6.0 * (double)m.nparams + 12.0 * m.cfg.L * m.cfg.C * T;
    printf("CORE %s\n", kernels_blas_core());
    printf("SGEMM_BACKEND %s\n", kernels_sgemm_backend());
    printf("THREADS %d\n", kernels_threads());
    printf("PRECISION %s\n", m.precision == GPT_BF16 ? "bf16" : "fp32");
    printf("PARAMS %zu\n", m.nparams);
    print_times("STEP_S", t, steps);
    printf("TOK_S %.1f\n", (double)n / med);
    printf("CPU_STEP_S %.4f\n", median(cpu, steps));
    printf("FLOPS %.4g\n", (double)n / med * fpt);
    if (profile) {
        char *rep = prof_report();
        if (rep)
            fputs(rep, stdout);
        free(rep);
    }
    printf("PEAK_RSS_MIB %.1f\n", peak_rss_mib());
    free(t);
    free(in);
    gpt_release(&m);
    return 0;
}

/* --- sampling ------------------------------------------------------------- */

static int
run_sample(const int *v, int NB, int ntok)
{
    struct gpt m;
    if (make_model(&m, v, 0, 0))
        return 1;
    int V = m.cfg.V;
    if (ntok > m.cfg.T)
        ntok = m.cfg.T;
    struct kvcache kv;
    struct gr_error err;
    if (kvcache_init(&kv, &m.cfg, NB, &err) != GR_OK ||
        (m.precision == GPT_BF16 &&
         kvcache_set_precision(&kv, GPT_BF16, &err) != GR_OK)) {
        fprintf(stderr, "bench-train: %s\n", err.msg);
        return 1;
    }
    /* stage_sample's defaults */
    struct sampler_opts so = { .temperature = 0.8f, .top_k = 40,
                               .top_p = 0.95f, .repetition_penalty = 1.0f };
    float *logits = xmalloc((size_t)NB * V * sizeof *logits);
    float *scratch = xmalloc(2 * (size_t)V * sizeof *scratch);
    int32_t *tok = xmalloc((size_t)NB * sizeof *tok);
    struct gr_rng rng;
    rng_seed(&rng, 3);
    enum { RUNS = 3 };
    double t[RUNS], cpu[RUNS];
    int profile = getenv("BENCH_PROFILE") != NULL;
    for (int r = -1; r < RUNS; r++) {
        int n = r < 0 ? 16 : ntok;     /* the first run warms up */
        prof_enable(profile && r >= 0);
        double t0 = now(), c0 = cpu_time();
        kvcache_reset(&kv);
        for (int s = 0; s < NB; s++)
            tok[s] = 0;
        for (int pos = 0; pos < n; pos++) {
            gpt_forward_step(&m, &kv, tok, pos, logits);
            for (int s = 0; s < NB; s++)
                tok[s] = sample_next(logits + (size_t)s * V, V, &so, NULL, 0,
                                     &rng, scratch);
        }
        if (r >= 0) {
            t[r] = now() - t0;
            cpu[r] = cpu_time() - c0;
        }
    }
    printf("CORE %s\n", kernels_blas_core());
    printf("THREADS %d\n", kernels_threads());
    printf("PRECISION %s\n", kv.precision == GPT_BF16 ? "bf16" : "fp32");
    print_times("RUN_S", t, RUNS);
    if (profile) {
        char *rep = prof_report_total(t[0] + t[1] + t[2]);
        if (rep)
            fputs(rep, stdout);
        free(rep);
    }
    printf("TOK_S %.1f\n", (double)NB * ntok / median(t, RUNS));
    printf("CPU_TOK_MS %.4f\n", 1e3 * median(cpu, RUNS) / ((double)NB * ntok));
    printf("PEAK_RSS_MIB %.1f\n", peak_rss_mib());
    free(tok);
    free(scratch);
    free(logits);
    kvcache_release(&kv);
    gpt_release(&m);
    return 0;
}

/* --- cross-check ---------------------------------------------------------- */

/* Batches from a fixed Markov chain over the first 256 tokens: each has 4
 * likely successors, so the loss falls fast over the steps. */
static void
markov_batch(struct gr_rng *rng, int B, int T, int32_t *in, int32_t *tg)
{
    for (int b = 0; b < B; b++) {
        int32_t x = (int32_t)rng_below(rng, 256);
        for (int t = 0; t <= T; t++) {
            if (t < T)
                in[b * T + t] = x;
            if (t > 0)
                tg[b * T + t - 1] = x;
            uint64_t r = rng_below(rng, 16);
            x = r < 12 ? (int32_t)(((uint64_t)x * 31 + 7 * (r % 4) + 1) % 256)
                       : (int32_t)rng_below(rng, 256);
        }
    }
}

static int
run_xcheck(const char *path, int steps)
{
    /* Config S's model on short batches. */
    const int v[5] = { 4, 4, 256, 4096, 256 };
    const int B = 4, T = 64;
    const float lr = 1e-3f, b1 = 0.9f, b2 = 0.95f, eps = 1e-8f, wd = 0.1f;
    const float clip = 1.0f;
    struct gpt m;
    if (make_model(&m, v, B, T))
        return 1;
    int V = m.cfg.V, N = B * T, nlogit = N * V;
    size_t ntok = (size_t)(steps + 1) * N;
    int32_t *in = xmalloc(2 * ntok * sizeof *in), *tg = in + ntok;
    struct gr_rng rng;
    rng_seed(&rng, 4);
    for (int s = 0; s <= steps; s++)
        markov_batch(&rng, B, T, in + (size_t)s * N, tg + (size_t)s * N);
    float *init = xmalloc(m.nparams * sizeof *init);
    memcpy(init, m.params, m.nparams * sizeof *init);
    float *losses = xmalloc((size_t)(steps + 1) * sizeof *losses);
    float *lg = xmalloc(2 * (size_t)nlogit * sizeof *lg);
    float *grad0 = xmalloc(m.nparams * sizeof *grad0);
    for (int s = 0; s <= steps; s++) {
        gpt_zero_grad(&m);
        losses[s] = gpt_forward(&m, in + (size_t)s * N, tg + (size_t)s * N,
                                B, T, 1);
        if (s == 0 || s == steps)
            memcpy(lg + (s ? (size_t)nlogit : 0), m.a.logits,
                   (size_t)nlogit * sizeof *lg);
        if (s == steps)
            break;
        gpt_backward(&m);
        if (s == 0)
            memcpy(grad0, m.grads, m.nparams * sizeof *grad0);
        float norm = gpt_grad_norm(&m);
        adamw_step_scaled(&m, gpt_clip_scale(norm, clip), lr, b1, b2, eps, wd,
                          s + 1);
    }
    FILE *f = fopen(path, "wb");
    if (!f) {
        perror(path);
        return 1;
    }
    int32_t hdr[10] = { v[0], v[1], v[2], v[3], v[4], B, T, steps, 0,
                        nlogit };
    float hp[6] = { lr, b1, b2, eps, wd, clip };
    int ok = fwrite("GRXCHK01", 1, 8, f) == 8 &&
             fwrite(hdr, sizeof hdr, 1, f) == 1 &&
             fwrite(hp, sizeof hp, 1, f) == 1 &&
             fwrite(init, sizeof *init, m.nparams, f) == m.nparams &&
             fwrite(in, sizeof *in, 2 * ntok, f) == 2 * ntok &&
             fwrite(losses, sizeof *losses, (size_t)steps + 1, f) ==
                 (size_t)steps + 1 &&
             fwrite(lg, sizeof *lg, 2 * (size_t)nlogit, f) ==
                 2 * (size_t)nlogit &&
             fwrite(grad0, sizeof *grad0, m.nparams, f) == m.nparams;
    if (fclose(f) != 0 || !ok) {
        fprintf(stderr, "bench-train: cannot write %s\n", path);
        return 1;
    }
    printf("XCHECK_GARAGE loss %.6f -> %.6f after %d steps\n", losses[0],
           losses[steps], steps);
    free(grad0);
    free(lg);
    free(losses);
    free(init);
    free(in);
    gpt_release(&m);
    return 0;
}

static void
usage(void)
{
    fprintf(stderr,
            "usage: bench-train sgemm [REPS]\n"
            "       bench-train shapes [REPS]\n"
            "       bench-train train L NH C V T B TSEQ STEPS [WARMUP]\n"
            "       bench-train profile L NH C V T B TSEQ STEPS\n"
            "       bench-train sample L NH C V T NB NTOK\n"
            "       bench-train xcheck FILE [STEPS]\n");
    exit(2);
}

int
main(int argc, char **argv)
{
    fix_blas_kernel(argv);
    const char *nt = getenv("OMP_NUM_THREADS");
    kernels_set_threads(nt ? atoi(nt) : 0);
    if (argc < 2)
        usage();
    const char *mode = argv[1];
    int v[9] = { 0 };
    for (int i = 2; i < argc && i < 11; i++)
        v[i - 2] = atoi(argv[i]);
    if (!strcmp(mode, "sgemm")) {
        run_sgemm(argc > 2 && v[0] > 0 ? v[0] : 7);
        run_peak(argc > 2 && v[0] > 0 ? v[0] : 7);
    } else if (!strcmp(mode, "shapes"))
        run_shapes(argc > 2 && v[0] > 0 ? v[0] : 7);
    else if (!strcmp(mode, "train") && argc >= 10)
        return run_train(v, v[5], v[6], v[7] > 0 ? v[7] : 1,
                         argc > 10 ? v[8] : 2, 0);
    else if (!strcmp(mode, "profile") && argc >= 10)
        return run_train(v, v[5], v[6], v[7] > 0 ? v[7] : 1, 2, 1);
    else if (!strcmp(mode, "sample") && argc >= 9)
        return run_sample(v, v[5] > 0 ? v[5] : 1, v[6] > 0 ? v[6] : 1);
    else if (!strcmp(mode, "xcheck") && argc >= 3)
        return run_xcheck(argv[2], argc > 3 ? atoi(argv[3]) : 50);
    else
        usage();
    return 0;
}
