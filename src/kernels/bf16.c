#include "kernels/bf16.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/onednn.h"
#include "kernels/par.h"

GR_CLONES static void
cvt_chunk(gr_bf16 *out, const float *in, size_t n)
{
    for (size_t i = 0; i < n; i++)
        out[i] = bf16_round(in[i]);
}

#define CHUNK ((size_t)1 << 15)

void
bf16_from_f32(gr_bf16 *out, const float *in, size_t n)
{
    long nch = (long)((n + CHUNK - 1) / CHUNK);
#pragma omp parallel for num_threads(kernels_threads()) if (nch > 1)
    for (long c = 0; c < nch; c++) {
        size_t i = (size_t)c * CHUNK;
        cvt_chunk(out + i, in + i, n - i < CHUNK ? n - i : CHUNK);
    }
}

void
bf16_from_f32_rows(gr_bf16 *out, int ldo, const float *in, int ldi, int rows,
                   int cols)
{
    if (ldo == cols && ldi == cols) {
        bf16_from_f32(out, in, (size_t)rows * cols);
        return;
    }
    int per = par_rows(rows, (size_t)cols, CHUNK);
    int nch = (rows + per - 1) / per;
#pragma omp parallel for num_threads(kernels_threads()) if (nch > 1)
    for (int c = 0; c < nch; c++)
        for (int r = c * per; r < rows && r < (c + 1) * per; r++)
            cvt_chunk(out + (size_t)r * ldo, in + (size_t)r * ldi,
                      (size_t)cols);
}

int
bf16_available(const char **why)
{
    if (!onednn_available(why))
        return 0;
    __builtin_cpu_init();
    if (!__builtin_cpu_supports("avx512bf16")) {
        if (why)
            *why = "this CPU has no bf16 units (AVX512-BF16 or AMX)";
        return 0;
    }
    return 1;
}

GR_CLONES static void
widen(float *out, const gr_bf16 *in, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        uint32_t u = (uint32_t)in[i] << 16;
        memcpy(&out[i], &u, sizeof u);
    }
}

/* The bf16 values of a (rows, ld) matrix as floats (caller frees). */
static float *
widened(const gr_bf16 *x, int rows, int ld)
{
    size_t n = (size_t)rows * ld;
    float *f = malloc(n * sizeof *f);
    if (!f) {
        fprintf(stderr, "garage: out of memory in bf16_gemm\n");
        abort();
    }
    widen(f, x, n);
    return f;
}

void
bf16_gemm(enum CBLAS_TRANSPOSE ta, enum CBLAS_TRANSPOSE tb, int M, int N,
          int K, const gr_bf16 *A, int lda, const gr_bf16 *B, int ldb,
          float beta, float *C, int ldc)
{
    if (onednn_gemm(1, ta, tb, M, N, K, A, lda, B, ldb, beta, C, ldc) == 0)
        return;
    /* No oneDNN kernel for this case (not seen with garage's shapes): the
     * same product from the widened values through sgemm. */
    float *a = widened(A, ta == CblasNoTrans ? M : K, lda);
    float *b = widened(B, tb == CblasNoTrans ? K : N, ldb);
    gr_sgemm(ta, tb, M, N, K, 1.0f, a, lda, b, ldb, beta, C, ldc);
    free(a);
    free(b);
}

const char *
bf16_kernel(void)
{
    return onednn_kernel(1);
}
