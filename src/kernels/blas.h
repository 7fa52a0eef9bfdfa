/* blas.h: matrix products and the thread policy of the kernels.
 *
 * Every matrix product goes through gr_sgemm.  One pool of threads at a
 * time (two pools spinning on the same cores slow each other down,
 * PERF-NOTES.md section 2):
 *  - after kernels_set_threads(n), or whenever OpenBLAS runs at 1 thread
 *    (OPENBLAS_NUM_THREADS=1): OpenBLAS stays at 1 thread; gr_sgemm runs
 *    each big product on the OpenMP threads (garage's own product, or
 *    OpenBLAS split into row or column blocks: GARAGE_SGEMM below), heads
 *    of attention run in parallel and so do the other kernels' loops.
 *    This is the fast setup: front ends should call kernels_set_threads.
 *  - otherwise: OpenBLAS's own pool threads each product, and every other
 *    loop runs on the calling thread. */
#ifndef GR_KERNELS_BLAS_H
#define GR_KERNELS_BLAS_H

#include <cblas.h>

/* For the front end: use n threads for everything (n <= 0: all CPUs).
 * Holds OpenBLAS at 1 thread (a process-wide setting) and makes every
 * kernel loop, on any thread, use n OpenMP threads. */
void kernels_set_threads(int n);

/* Threads our loops use now (>= 1; 1 when OpenBLAS's pool is in use). */
int kernels_threads(void);

/* 1 when products are split by us across OpenMP threads (one pool). */
int kernels_split_mode(void);

/* Who does the big products in one-pool mode, for logs: "garage
 * (AVX-512)" (kernels/gemm.h; the default on CPUs with AVX-512),
 * "OpenBLAS" (split across threads by gr_sgemm), "oneDNN" (its f32 matmul
 * on the same OpenMP threads) or oneDNN and OpenBLAS by shape
 * (GARAGE_SGEMM=auto when garage is built with oneDNN; see blas.c). */
const char *kernels_sgemm_backend(void);

/* Choose it from now on, as GARAGE_SGEMM would ("garage", "openblas",
 * "onednn", "auto"): 0, or -1 (nothing changed) for another name, for
 * garage's product on a CPU without AVX-512 and for oneDNN when it is not
 * built in.  For tests and benchmarks; call it between products. */
int kernels_set_sgemm(const char *name);

/* The choice in force: "garage", "openblas", "onednn" or "auto" (static
 * text). */
const char *kernels_sgemm_name(void);

/* Name of OpenBLAS's kernel ("SkylakeX", "Prescott", ...), for logs. */
const char *kernels_blas_core(void);

/* C (M,N) = alpha * op(A) (M,K) . op(B) (K,N) + beta * C, row-major:
 * cblas_sgemm's contract, threaded according to the policy above. */
void gr_sgemm(enum CBLAS_TRANSPOSE ta, enum CBLAS_TRANSPOSE tb,
              int M, int N, int K, float alpha, const float *A, int lda,
              const float *B, int ldb, float beta, float *C, int ldc);

#endif
