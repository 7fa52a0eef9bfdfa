#include "kernels/blas.h"

#include <omp.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/gemm.h"
#include "kernels/onednn.h"
#include "kernels/par.h"

static int kernel_threads;      /* set by kernels_set_threads */
static int split_forced;        /* kernels_set_threads was called */

void
kernels_set_threads(int n)
{
    if (n <= 0)
        n = omp_get_num_procs();
    __atomic_store_n(&kernel_threads, n, __ATOMIC_RELAXED);
    __atomic_store_n(&split_forced, 1, __ATOMIC_RELAXED);
    openblas_set_num_threads(1);
}

int
kernels_threads(void)
{
    if (__atomic_load_n(&split_forced, __ATOMIC_RELAXED))
        return __atomic_load_n(&kernel_threads, __ATOMIC_RELAXED);
    /* OpenBLAS at one thread: ours is the only pool. */
    if (openblas_get_num_threads() == 1) {
        int n = omp_get_max_threads();
        return n > 0 ? n : 1;
    }
    /* OpenBLAS's pool does the products; loops stay on this thread, as
     * two spinning pools on the same cores slow each other down. */
    return 1;
}

int
kernels_split_mode(void)
{
    return kernels_threads() > 1;
}

const char *
kernels_blas_core(void)
{
    return openblas_get_corename();
}

/* The big products of one-pool mode (GARAGE_SGEMM):
 *   garage    (the default where the CPU has AVX-512) gemm_f32
 *             (kernels/gemm.c) on the same OpenMP threads, which share
 *             its packed operands;
 *   openblas  (the default elsewhere) OpenBLAS at one thread, each
 *             product split across the threads by gr_sgemm;
 *   onednn    oneDNN's f32 matmul on the same OpenMP threads, for all;
 *   auto      oneDNN for the products shaped A . B^T (the forward of every
 *             linear layer), OpenBLAS for the rest.
 * Whole fp32 training steps of config M ran 1.13-1.44x faster with
 * garage's product than with OpenBLAS split by gr_sgemm, S 1.02-1.21x,
 * 124M about the same (three runs of make bench, bench/README).  Product
 * by product oneDNN measured 1.0-1.3x OpenBLAS on most shapes and down to
 * 0.5x on a few, but whole training steps were no faster with either
 * oneDNN mode.  The choice is by shape alone, never by timing, so that a
 * seed gives the same run every time. */
enum { SGEMM_OPENBLAS, SGEMM_ONEDNN, SGEMM_AUTO, SGEMM_GARAGE };
static int sgemm_mode = -1;

/* The mode a name asks for, if it can run here; else -1. */
static int
sgemm_named(const char *name)
{
    int u = !strcmp(name, "onednn") ? SGEMM_ONEDNN :
            !strcmp(name, "openblas") ? SGEMM_OPENBLAS :
            !strcmp(name, "auto") ? SGEMM_AUTO :
            !strcmp(name, "garage") ? SGEMM_GARAGE : -1;
    if (u == SGEMM_ONEDNN || u == SGEMM_AUTO)
        return onednn_available(NULL) ? u : -1;
    if (u == SGEMM_GARAGE)
        return gemm_f32_runs() ? u : -1;
    return u;
}

static int
f32_mode(void)
{
    int u = __atomic_load_n(&sgemm_mode, __ATOMIC_RELAXED);
    if (u < 0) {
        const char *e = getenv("GARAGE_SGEMM");
        u = e ? sgemm_named(e) : -1;
        if (u < 0)
            u = gemm_f32_runs() ? SGEMM_GARAGE : SGEMM_OPENBLAS;
        __atomic_store_n(&sgemm_mode, u, __ATOMIC_RELAXED);
    }
    return u;
}

int
kernels_set_sgemm(const char *name)
{
    int u = sgemm_named(name);
    if (u < 0)
        return -1;
    __atomic_store_n(&sgemm_mode, u, __ATOMIC_RELAXED);
    return 0;
}

const char *
kernels_sgemm_name(void)
{
    static const char *const names[] = { "openblas", "onednn", "auto", "garage" };
    return names[f32_mode()];
}

/* 1 unless OpenBLAS's own pool threads the products (blas.h). */
static int
own_pool(void)
{
    return __atomic_load_n(&split_forced, __ATOMIC_RELAXED) ||
           openblas_get_num_threads() == 1;
}

const char *
kernels_sgemm_backend(void)
{
    if (!own_pool())
        return "OpenBLAS";
    if (f32_mode() == SGEMM_GARAGE)
        return "garage (AVX-512)";
    if (!kernels_split_mode())
        return "OpenBLAS";
    switch (f32_mode()) {
    case SGEMM_ONEDNN: return "oneDNN";
    case SGEMM_AUTO: return "oneDNN (forward) + OpenBLAS (backward)";
    default: return "OpenBLAS";
    }
}

/* Below this many multiply-adds a product is not worth splitting, nor
 * packing for garage's product (OpenBLAS's small kernels take it). */
#define SPLIT_MIN_WORK (1 << 21)
/* Blocks are multiples of this many rows or columns, at least
 * SPLIT_MIN_BLOCK, about SPLIT_PER_THREAD per thread. */
#define SPLIT_ALIGN 16
#define SPLIT_MIN_BLOCK 128
#define SPLIT_PER_THREAD 2

void
gr_sgemm(enum CBLAS_TRANSPOSE ta, enum CBLAS_TRANSPOSE tb,
         int M, int N, int K, float alpha, const float *A, int lda,
         const float *B, int ldb, float beta, float *C, int ldc)
{
    if (M <= 0 || N <= 0)
        return;
    int big = (double)M * N * K >= SPLIT_MIN_WORK;
    int nt = 1;
    if (big && !omp_in_parallel() && kernels_split_mode())
        nt = kernels_threads();
    int mode = f32_mode();
    /* garage's product where it repays its packing, on our pool alone */
    if (mode == SGEMM_GARAGE && big && own_pool()) {
        gemm_f32(nt, ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
        return;
    }
    if (nt <= 1) {
        cblas_sgemm(CblasRowMajor, ta, tb, M, N, K, alpha, A, lda, B, ldb,
                    beta, C, ldc);
        return;
    }
    if (alpha == 1.0f && (beta == 0.0f || beta == 1.0f) &&
        (mode == SGEMM_ONEDNN ||
         (mode == SGEMM_AUTO && ta == CblasNoTrans && tb == CblasTrans)) &&
        onednn_gemm(0, ta, tb, M, N, K, A, lda, B, ldb, beta, C, ldc) == 0)
        return;
    /* Split the longer side of C into aligned blocks, a few per thread and
     * handed out dynamically, so that a thread the OS pauses for a moment
     * does not hold the others up at the join. */
    int by_rows = M >= N;
    int len = by_rows ? M : N;
    int want = nt * SPLIT_PER_THREAD;
    int blk = (len + want - 1) / want;
    blk = (blk + SPLIT_ALIGN - 1) / SPLIT_ALIGN * SPLIT_ALIGN;
    if (blk < SPLIT_MIN_BLOCK)
        blk = SPLIT_MIN_BLOCK;
    int nblk = (len + blk - 1) / blk;
#pragma omp parallel for num_threads(nt) schedule(dynamic, 1)
    for (int i = 0; i < nblk; i++) {
        int s = i * blk, n = len - s < blk ? len - s : blk;
        if (by_rows) {
            const float *a = ta == CblasNoTrans ? A + (size_t)s * lda : A + s;
            cblas_sgemm(CblasRowMajor, ta, tb, n, N, K, alpha, a, lda, B, ldb,
                        beta, C + (size_t)s * ldc, ldc);
        } else {
            const float *b = tb == CblasNoTrans ? B + s : B + (size_t)s * ldb;
            cblas_sgemm(CblasRowMajor, ta, tb, M, n, K, alpha, A, lda, b, ldb,
                        beta, C + s, ldc);
        }
    }
}
