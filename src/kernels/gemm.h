/* gemm.h: garage's own fp32 matrix product for AVX-512 CPUs (private to
 * src/kernels; gr_sgemm in blas.h decides when it runs).
 *
 * Packed operands and a 12 x 32 register tile of fused multiply-adds, as
 * BLIS and OpenBLAS do it, with the block sizes of today's Intel cores
 * (48 KiB of L1, 2 MiB of L2 per core), and the threads of one pool
 * sharing the packed operands of a product.  See bench/README for its
 * rate against OpenBLAS's. */
#ifndef GR_KERNELS_GEMM_H
#define GR_KERNELS_GEMM_H

#include <cblas.h>

/* 1 if this CPU can run gemm_f32 (AVX-512 F, BW, VL). */
int gemm_f32_runs(void);

/* C (M,N) = alpha * op(A) (M,K) . op(B) (K,N) + beta * C, row-major, as
 * cblas_sgemm (beta 0: C is only written), on nt OpenMP threads (1 inside
 * a parallel region), which share the packed operands.  Each element of C
 * is summed in an order that depends on K alone: the same numbers on any
 * number of threads. */
void gemm_f32(int nt, enum CBLAS_TRANSPOSE ta, enum CBLAS_TRANSPOSE tb,
              int M, int N, int K, float alpha, const float *A, int lda,
              const float *B, int ldb, float beta, float *C, int ldc);

#endif
