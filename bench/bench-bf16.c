/* bench/bench-bf16.c: are bf16 matrix products worth a precision=bf16?
 * Built and run by run-bench.sh when oneDNN's headers are installed
 * (Debian: libdnnl-dev):
 *     cc -O2 -fopenmp -Isrc bench/bench-bf16.c BUILD/src/libkernels.a \
 *        -ldnnl -lopenblas -lm -o bench-bf16
 * On the products of a training step of configs S and M (batch 8 x 256)
 * it times, each as the median of REPS runs after warm-up:
 *   - sgemm through gr_sgemm (garage's fp32 path: one OpenMP pool),
 *   - OpenBLAS's cblas_sbgemm, when the library exports it (looked up at
 *     run time: Debian's 0.3.21 declares it but does not export it),
 *   - oneDNN matmul, bf16 inputs and f32 output, operands already bf16,
 *   - the same with both operands converted from f32 on every call,
 *   - oneDNN matmul in f32,
 * and the relative Frobenius error of the bf16 results against sgemm.
 * Output: `BF16 shape M N K sgemm sbgemm dnnl_bf16 dnnl_bf16+cvt
 * dnnl_f32 relerr` (GFLOP/s), then the means and oneDNN's kernel name. */
#include <dlfcn.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <dnnl.h>

#include "kernels/blas.h"

typedef void (*sbgemm_fn)(enum CBLAS_ORDER, enum CBLAS_TRANSPOSE,
                          enum CBLAS_TRANSPOSE, int, int, int, float,
                          const uint16_t *, int, const uint16_t *, int, float,
                          float *, int);

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
median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

/* f32 -> bf16, round to nearest even (no NaNs here). */
static void
to_bf16(uint16_t *out, const float *in, size_t n)
{
#pragma omp parallel for num_threads(kernels_threads()) if (n > 1 << 16)
    for (size_t i = 0; i < n; i++) {
        uint32_t u;
        memcpy(&u, &in[i], 4);
        u += 0x7fffu + ((u >> 16) & 1u);
        out[i] = (uint16_t)(u >> 16);
    }
}

#define CHECK(x) do { dnnl_status_t st_ = (x); if (st_ != dnnl_success) { \
    fprintf(stderr, "bench-bf16: %s failed (%d)\n", #x, (int)st_); exit(1); } \
} while (0)

struct mm {
    dnnl_primitive_t prim;
    dnnl_memory_t a, b, c;
    const char *impl;
};

/* C (M,N) f32 = op(A) . op(B), A and B of type dt, row-major as cblas
 * would take them (ta: A stored (K,M); tb: B stored (N,K)). */
static void
mm_init(struct mm *p, dnnl_engine_t eng, dnnl_data_type_t dt, int M, int N,
        int K, int ta, int tb, void *A, void *B, float *C)
{
    dnnl_memory_desc_t a_md, b_md, c_md;
    dnnl_dims_t ad = { M, K }, bd = { K, N }, cd = { M, N };
    dnnl_dims_t as = { ta ? 1 : K, ta ? M : 1 };
    dnnl_dims_t bs = { tb ? 1 : N, tb ? K : 1 };
    dnnl_dims_t cs = { N, 1 };
    CHECK(dnnl_memory_desc_init_by_strides(&a_md, 2, ad, dt, as));
    CHECK(dnnl_memory_desc_init_by_strides(&b_md, 2, bd, dt, bs));
    CHECK(dnnl_memory_desc_init_by_strides(&c_md, 2, cd, dnnl_f32, cs));
    dnnl_matmul_desc_t md;
    CHECK(dnnl_matmul_desc_init(&md, &a_md, &b_md, NULL, &c_md));
    dnnl_primitive_desc_t pd;
    CHECK(dnnl_primitive_desc_create(&pd, &md, NULL, eng, NULL));
    const char *impl = "?";
    dnnl_primitive_desc_query(pd, dnnl_query_impl_info_str, 0, &impl);
    p->impl = strdup(impl);
    CHECK(dnnl_primitive_create(&p->prim, pd));
    CHECK(dnnl_memory_create(&p->a, &a_md, eng, A));
    CHECK(dnnl_memory_create(&p->b, &b_md, eng, B));
    CHECK(dnnl_memory_create(&p->c, &c_md, eng, C));
    dnnl_primitive_desc_destroy(pd);
}

static void
mm_run(struct mm *p, dnnl_stream_t s)
{
    dnnl_exec_arg_t args[3] = {
        { DNNL_ARG_SRC, p->a }, { DNNL_ARG_WEIGHTS, p->b }, { DNNL_ARG_DST, p->c },
    };
    CHECK(dnnl_primitive_execute(p->prim, s, 3, args));
    CHECK(dnnl_stream_wait(s));
}

static void
mm_free(struct mm *p)
{
    dnnl_memory_destroy(p->a);
    dnnl_memory_destroy(p->b);
    dnnl_memory_destroy(p->c);
    dnnl_primitive_destroy(p->prim);
    free((void *)p->impl);
}

static double
relerr(const float *x, const float *ref, size_t n)
{
    double d = 0, r = 0;
    for (size_t i = 0; i < n; i++) {
        d += ((double)x[i] - ref[i]) * ((double)x[i] - ref[i]);
        r += (double)ref[i] * ref[i];
    }
    return sqrt(d / r);
}

int
main(int argc, char **argv)
{
    int reps = argc > 1 ? atoi(argv[1]) : 7;
    if (reps < 1)
        reps = 7;
    const char *nt = getenv("OMP_NUM_THREADS");
    kernels_set_threads(nt ? atoi(nt) : 0);
    sbgemm_fn sbgemm = (sbgemm_fn)(uintptr_t)dlsym(RTLD_DEFAULT, "cblas_sbgemm");
    printf("SBGEMM %s\n", sbgemm ? "exported" : "not exported by this OpenBLAS");
    static const struct { const char *name; int M, N, K, ta, tb; } sh[] = {
        { "S.qkv.fwd",    2048,  768,  256, 0, 1 },
        { "S.fc.fwd",     2048, 1024,  256, 0, 1 },
        { "S.fcproj.fwd", 2048,  256, 1024, 0, 1 },
        { "S.head.fwd",   2048, 4096,  256, 0, 1 },
        { "M.qkv.fwd",    2048, 1152,  384, 0, 1 },
        { "M.fc.fwd",     2048, 1536,  384, 0, 1 },
        { "M.fcproj.fwd", 2048,  384, 1536, 0, 1 },
        { "M.fc.dinp",    2048,  384, 1536, 0, 0 },
        { "M.fc.dw",      1536,  384, 2048, 1, 0 },
        { "M.head.fwd",   2048, 8192,  384, 0, 1 },
        { "M.head.dw",    8192,  384, 2048, 1, 0 },
    };
    int nsh = (int)(sizeof sh / sizeof sh[0]);
    dnnl_engine_t eng;
    dnnl_stream_t strm;
    CHECK(dnnl_engine_create(&eng, dnnl_cpu, 0));
    CHECK(dnnl_stream_create(&strm, eng, dnnl_stream_default_flags));
    double *t = malloc((size_t)reps * sizeof *t), mean[5] = { 0 };
    const char *impl_bf16 = NULL, *impl_f32 = NULL;
    unsigned seed = 1;
    for (int s = 0; s < nsh; s++) {
        int M = sh[s].M, N = sh[s].N, K = sh[s].K;
        size_t na = (size_t)M * K, nb = (size_t)K * N, nc = (size_t)M * N;
        float *A = malloc(na * 4), *B = malloc(nb * 4);
        float *C0 = malloc(nc * 4), *C1 = malloc(nc * 4);
        uint16_t *A16 = malloc(na * 2), *B16 = malloc(nb * 2);
        for (size_t i = 0; i < na; i++)
            A[i] = (float)rand_r(&seed) / RAND_MAX - 0.5f;
        for (size_t i = 0; i < nb; i++)
            B[i] = (float)rand_r(&seed) / RAND_MAX - 0.5f;
        to_bf16(A16, A, na);
        to_bf16(B16, B, nb);
        enum CBLAS_TRANSPOSE ta = sh[s].ta ? CblasTrans : CblasNoTrans;
        enum CBLAS_TRANSPOSE tb = sh[s].tb ? CblasTrans : CblasNoTrans;
        int lda = sh[s].ta ? M : K, ldb = sh[s].tb ? K : N;
        struct mm bf, f32;
        mm_init(&bf, eng, dnnl_bf16, M, N, K, sh[s].ta, sh[s].tb, A16, B16, C1);
        mm_init(&f32, eng, dnnl_f32, M, N, K, sh[s].ta, sh[s].tb, A, B, C1);
        impl_bf16 = impl_bf16 ? impl_bf16 : strdup(bf.impl);
        impl_f32 = impl_f32 ? impl_f32 : strdup(f32.impl);
        double g[5], err = NAN;
        for (int mode = 0; mode < 5; mode++) {
            if (mode == 1 && !sbgemm) {
                g[1] = NAN;
                continue;
            }
            for (int r = -2; r < reps; r++) {
                double t0 = now();
                switch (mode) {
                case 0:
                    gr_sgemm(ta, tb, M, N, K, 1.0f, A, lda, B, ldb, 0.0f, C0, N);
                    break;
                case 1:
                    sbgemm(CblasRowMajor, ta, tb, M, N, K, 1.0f, A16, lda, B16,
                           ldb, 0.0f, C1, N);
                    break;
                case 2:
                    mm_run(&bf, strm);
                    break;
                case 3:
                    to_bf16(A16, A, na);
                    to_bf16(B16, B, nb);
                    mm_run(&bf, strm);
                    break;
                case 4:
                    mm_run(&f32, strm);
                    break;
                }
                if (r >= 0)
                    t[r] = now() - t0;
            }
            g[mode] = 2.0 * M * N * K / median(t, reps) / 1e9;
            if (mode == 2)
                err = relerr(C1, C0, nc);
        }
        printf("BF16 %s %d %d %d %.1f %.1f %.1f %.1f %.1f %.2e\n", sh[s].name,
               M, N, K, g[0], g[1], g[2], g[3], g[4], err);
        for (int k = 0; k < 5; k++)
            mean[k] += g[k] / nsh;
        mm_free(&bf);
        mm_free(&f32);
        free(A);
        free(B);
        free(C0);
        free(C1);
        free(A16);
        free(B16);
    }
    printf("BF16_MEAN sgemm %.1f sbgemm %.1f dnnl_bf16 %.1f dnnl_bf16_cvt %.1f "
           "dnnl_f32 %.1f\n", mean[0], mean[1], mean[2], mean[3], mean[4]);
    printf("BF16_IMPL %s\nF32_IMPL %s\nTHREADS %d\n", impl_bf16, impl_f32,
           kernels_threads());
    free(t);
    dnnl_stream_destroy(strm);
    dnnl_engine_destroy(eng);
    return 0;
}
