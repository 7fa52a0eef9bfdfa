/* onednn.h: matrix products through oneDNN's matmul, when garage is built
 * with oneDNN 2.x (configure: HAVE_DNNL).  One primitive per shape, made
 * on first use and kept; each runs on the calling thread's OpenMP team of
 * kernels_threads() threads (one pool with the rest of the kernels).
 *
 * Used for the bf16 products of precision=bf16 (kernels/bf16.h) and, when
 * faster than OpenBLAS on this machine, for gr_sgemm's big fp32 products
 * (kernels/blas.h). */
#ifndef GR_KERNELS_ONEDNN_H
#define GR_KERNELS_ONEDNN_H

#include <cblas.h>

/* 1 if oneDNN is built in and its CPU engine works; else 0, and why in
 * *why (static text) when why != NULL. */
int onednn_available(const char **why);

/* C (M,N) = op(A) (M,K) . op(B) (K,N) + beta * C, row-major as cblas
 * takes them; A and B bf16 (uint16_t) when bf16, else float; C float;
 * beta 0 or 1.  Returns 0, or -1 (C untouched) when oneDNN is missing or
 * has no kernel for this case: the caller computes C another way. */
int onednn_gemm(int bf16, enum CBLAS_TRANSPOSE ta, enum CBLAS_TRANSPOSE tb,
                 int M, int N, int K, const void *A, int lda, const void *B,
                 int ldb, float beta, float *C, int ldc);

/* oneDNN's name for the kernel of the last new bf16 (or f32) shape, for
 * logs ("brg:avx512_core_amx_bf16", ...); "" before any. */
const char *onednn_kernel(int bf16);

#endif
