/* bf16.h: matrix products with bfloat16 inputs and float32 results, for
 * precision=bf16 training.  They go through oneDNN's matmul (AMX or
 * AVX512-BF16 kernels), 2-6x the speed of sgemm on CPUs that have them
 * (PERF-NOTES.md section 3, bench/README).  bf16 keeps float32's range
 * and 8 bits of mantissa: rounding the inputs costs about 2e-3 relative
 * error per product; sums and results stay float32.
 *
 * Without oneDNN at build time, or on a CPU without bf16 units,
 * bf16_available() is 0 and nothing else here may be called. */
#ifndef GR_KERNELS_BF16_H
#define GR_KERNELS_BF16_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cblas.h>

typedef uint16_t gr_bf16;       /* the upper half of a float32 */

/* 1 if bf16 products run here (built with oneDNN, CPU with AVX512-BF16
 * or AMX-BF16); else 0, and why in *why (static text) when why != NULL. */
int bf16_available(const char **why);

/* f rounded to the nearest bf16 (ties to even). */
static inline gr_bf16
bf16_round(float f)
{
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    u += 0x7fffu + ((u >> 16) & 1u);
    return (gr_bf16)(u >> 16);
}

/* out (n) = in (n) rounded to the nearest bf16 (ties to even); threaded. */
void bf16_from_f32(gr_bf16 *out, const float *in, size_t n);

/* The same for rows: out (rows, cols) with row stride ldo from in (rows,
 * cols) with row stride ldi. */
void bf16_from_f32_rows(gr_bf16 *out, int ldo, const float *in, int ldi,
                        int rows, int cols);

/* C (M,N) = op(A) (M,K) . op(B) (K,N) + beta * C, row-major, A and B in
 * bf16, C in float32: cblas_sgemm's contract with alpha = 1 and beta 0 or
 * 1.  Each shape's oneDNN primitive is made on first use and kept. */
void bf16_gemm(enum CBLAS_TRANSPOSE ta, enum CBLAS_TRANSPOSE tb,
               int M, int N, int K, const gr_bf16 *A, int lda,
               const gr_bf16 *B, int ldb, float beta, float *C, int ldc);

/* Name of oneDNN's kernel for the last new shape ("brg:avx512_core_amx_bf16",
 * ...), for logs; "" before the first product. */
const char *bf16_kernel(void);

#endif
