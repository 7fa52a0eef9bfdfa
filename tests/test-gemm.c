/* test-gemm: garage's own fp32 product (GARAGE_SGEMM=garage) against a
 * double-precision reference, for every transposition, alpha and beta,
 * sizes around its tile and block edges and padded leading dimensions;
 * the same numbers, bit for bit, whether gr_sgemm splits a product across
 * threads or not; and a thread that ends frees its packing buffers (the
 * sanitizer build's leak check sees it). */
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/rng.h"
#include "check.h"
#include "kernels/blas.h"
#include "kernels/gemm.h"

static float *
random_floats(struct gr_rng *rng, size_t n)
{
    float *v = malloc(n * sizeof *v);
    for (size_t i = 0; i < n; i++)
        v[i] = rng_float(rng) - 0.5f;
    return v;
}

/* One product through gemm_f32, checked element by element against the
 * sum in double; the columns of C past N (its padding) stay untouched. */
static void
check_product(struct gr_rng *rng, int ta, int tb, int M, int N, int K,
              float alpha, float beta)
{
    int lda = (ta ? M : K) + 3, ldb = (tb ? K : N) + 5, ldc = N + 7;
    size_t na = (size_t)(ta ? K : M) * lda, nb = (size_t)(tb ? N : K) * ldb;
    size_t nc = (size_t)M * ldc;
    float *A = random_floats(rng, na), *B = random_floats(rng, nb);
    float *C = random_floats(rng, nc), *C0 = malloc(nc * sizeof *C0);
    memcpy(C0, C, nc * sizeof *C);
    if (beta == 0.0f)           /* beta 0: C is not read, even a NaN */
        for (int i = 0; i < M; i++)
            C[(size_t)i * ldc] = NAN;
    gemm_f32(1, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans,
             M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
    int bad = 0;
    for (int i = 0; i < M && !bad; i++)
        for (int j = 0; j < ldc && !bad; j++) {
            float got = C[(size_t)i * ldc + j], was = C0[(size_t)i * ldc + j];
            if (j >= N) {
                bad = got != was;
                continue;
            }
            double s = 0, mag = 0;
            for (int p = 0; p < K; p++) {
                double a = ta ? A[(size_t)p * lda + i] : A[(size_t)i * lda + p];
                double b = tb ? B[(size_t)j * ldb + p] : B[(size_t)p * ldb + j];
                s += a * b;
                mag += fabs(a * b);
            }
            double want = alpha * s + (beta != 0.0f ? beta * (double)was : 0.0);
            double tol = 1e-6 * (fabs(alpha) * mag + fabs(beta * was)) + 1e-30;
            bad = !(fabs(got - want) <= tol);
        }
    if (bad)
        fprintf(stderr, "ta %d tb %d M %d N %d K %d alpha %g beta %g: wrong\n",
                ta, tb, M, N, K, alpha, beta);
    CHECK(!bad);
    free(A);
    free(B);
    free(C);
    free(C0);
}

/* gr_sgemm on 1 and on 2 threads (split into blocks) gives equal bits. */
static void
check_split(struct gr_rng *rng, int ta, int tb, int M, int N, int K)
{
    size_t na = (size_t)M * K, nb = (size_t)N * K, nc = (size_t)M * N;
    float *A = random_floats(rng, na), *B = random_floats(rng, nb);
    float *C1 = malloc(nc * sizeof *C1), *C2 = malloc(nc * sizeof *C2);
    enum CBLAS_TRANSPOSE TA = ta ? CblasTrans : CblasNoTrans;
    enum CBLAS_TRANSPOSE TB = tb ? CblasTrans : CblasNoTrans;
    kernels_set_threads(1);
    gr_sgemm(TA, TB, M, N, K, 1.0f, A, ta ? M : K, B, tb ? K : N, 0.0f, C1, N);
    kernels_set_threads(2);
    gr_sgemm(TA, TB, M, N, K, 1.0f, A, ta ? M : K, B, tb ? K : N, 0.0f, C2, N);
    CHECK(memcmp(C1, C2, nc * sizeof *C1) == 0);
    free(A);
    free(B);
    free(C1);
    free(C2);
}

/* A product on a thread of its own, as the TUI runs a command. */
static void *
product_on_thread(void *arg)
{
    check_product(arg, 0, 1, 100, 600, 400, 1, 0);
    return NULL;
}

int
main(void)
{
    if (!gemm_f32_runs()) {
        printf("SKIP: no AVX-512 on this CPU, gr_sgemm uses OpenBLAS alone\n");
        return 77;
    }
    struct gr_rng rng;
    rng_seed(&rng, 11);
    /* tile 12 x 32, K blocks of 384, columns by 512: sizes on and off them */
    static const int sizes[][3] = {
        { 1, 1, 1 }, { 12, 32, 1 }, { 13, 33, 7 }, { 11, 31, 385 },
        { 100, 77, 800 }, { 37, 129, 3 }, { 24, 64, 384 }, { 5, 1100, 2 },
        { 200, 40, 1000 }, { 3, 513, 17 }, { 25, 16, 769 },
    };
    static const float ab[][2] = { { 1, 0 }, { 0.5f, 1 }, { -2, 0.25f } };
    for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++)
        for (int ta = 0; ta < 2; ta++)
            for (int tb = 0; tb < 2; tb++)
                for (int k = 0; k < 3; k++)
                    check_product(&rng, ta, tb, sizes[s][0], sizes[s][1],
                                  sizes[s][2], ab[k][0], ab[k][1]);
    /* alpha 0 and K 0: C = beta C */
    check_product(&rng, 0, 0, 20, 40, 0, 1, 0.5f);
    check_product(&rng, 0, 1, 20, 40, 30, 0, 0.5f);
    pthread_t th;
    CHECK(pthread_create(&th, NULL, product_on_thread, &rng) == 0 &&
          pthread_join(th, NULL) == 0);
    if (kernels_set_sgemm("garage") != 0) {
        CHECK(!"GARAGE_SGEMM=garage refused where gemm_f32 runs");
        return check_exit();
    }
    for (int ta = 0; ta < 2; ta++)
        for (int tb = 0; tb < 2; tb++) {
            check_split(&rng, ta, tb, 300, 200, 390);
            check_split(&rng, ta, tb, 100, 700, 64);
        }
    return check_exit();
}
