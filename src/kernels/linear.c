#include "kernels/linear.h"

#include <omp.h>
#include <stddef.h>
#include <string.h>

#include "kernels/blas.h"
#include "kernels/par.h"
#include "kernels/prof.h"

/* out[r] = res[r] + b for rows [0, n) of width OC (res or b may be NULL). */
GR_CLONES static void
rows_init(float *out, const float *res, const float *b, int n, int OC)
{
    for (int r = 0; r < n; r++) {
        float *o = out + (size_t)r * OC;
        const float *s = res ? res + (size_t)r * OC : NULL;
        if (s && b)
            for (int i = 0; i < OC; i++)
                o[i] = s[i] + b[i];
        else if (s) {
            if (o != s)
                memcpy(o, s, (size_t)OC * sizeof *o);
        } else if (b)
            for (int i = 0; i < OC; i++)
                o[i] = b[i];
        else
            memset(o, 0, (size_t)OC * sizeof *o);
    }
}

static void
init_out(float *out, const float *res, const float *b, int N, int OC)
{
    int rows = par_rows(N, OC, 1 << 14);
    int nch = (N + rows - 1) / rows;
#pragma omp parallel for num_threads(kernels_threads()) if (nch > 1)
    for (int c = 0; c < nch; c++) {
        int r0 = c * rows, n = N - r0 < rows ? N - r0 : rows;
        rows_init(out + (size_t)r0 * OC, res ? res + (size_t)r0 * OC : NULL,
                  b, n, OC);
    }
}

/* Minimum weights per thread for a split matrix-vector product. */
#define GEMV_PER_THREAD (1 << 16)

/* out (OC) += w (OC,C) . x (C), one row: a matrix-vector product, which
 * reads each weight once where sgemm would first copy (pack) them all.
 * Blocks of output rows go to the threads. */
static void
gemv_add(float *out, const float *x, const float *w, int C, int OC)
{
    int nt = kernels_threads();
    size_t work = (size_t)OC * C;
    if (nt > 1 && work >= (size_t)2 * GEMV_PER_THREAD && !omp_in_parallel()) {
        int nblk = nt * 4, blk = (OC + nblk - 1) / nblk;
        blk = (blk + 15) & ~15;
        nblk = (OC + blk - 1) / blk;
#pragma omp parallel for num_threads(nt) schedule(static)
        for (int i = 0; i < nblk; i++) {
            int o0 = i * blk, n = OC - o0 < blk ? OC - o0 : blk;
            cblas_sgemv(CblasRowMajor, CblasNoTrans, n, C, 1.0f,
                        w + (size_t)o0 * C, C, x, 1, 1.0f, out + o0, 1);
        }
        return;
    }
    cblas_sgemv(CblasRowMajor, CblasNoTrans, OC, C, 1.0f, w, C, x, 1, 1.0f,
                out, 1);
}

void
linear_forward(float *out, const float *inp, const float *w,
               const float *b, int N, int C, int OC)
{
    prof_begin(PROF_MATMUL);
    if (N == 1) {
        init_out(out, NULL, b, N, OC);
        gemv_add(out, inp, w, C, OC);
    } else if (b) {
        init_out(out, NULL, b, N, OC);
        gr_sgemm(CblasNoTrans, CblasTrans, N, OC, C, 1.0f, inp, C, w, C,
                 1.0f, out, OC);
    } else {
        gr_sgemm(CblasNoTrans, CblasTrans, N, OC, C, 1.0f, inp, C, w, C,
                 0.0f, out, OC);
    }
    prof_end(PROF_MATMUL);
}

void
linear_forward_add(float *out, const float *res, const float *inp,
                   const float *w, const float *b, int N, int C, int OC)
{
    prof_begin(PROF_MATMUL);
    init_out(out, res, b, N, OC);
    if (N == 1)
        gemv_add(out, inp, w, C, OC);
    else
        gr_sgemm(CblasNoTrans, CblasTrans, N, OC, C, 1.0f, inp, C, w, C,
                 1.0f, out, OC);
    prof_end(PROF_MATMUL);
}

/* db[0:n] += sum over N rows of dout[:, 0:n] (row stride OC). */
GR_CLONES static void
colsum_block(float *db, const float *dout, int N, int OC, int n)
{
    float acc[64];
    for (int i = 0; i < n; i++)
        acc[i] = 0.0f;
    for (int r = 0; r < N; r++) {
        const float *d = dout + (size_t)r * OC;
        for (int i = 0; i < n; i++)
            acc[i] += d[i];
    }
    for (int i = 0; i < n; i++)
        db[i] += acc[i];
}

void
bias_backward(float *db, const float *dout, int N, int OC)
{
    int nblk = (OC + 63) / 64;
#pragma omp parallel for num_threads(kernels_threads()) \
    if ((size_t)N * OC > 1 << 15)
    for (int k = 0; k < nblk; k++) {
        int o = k * 64;
        colsum_block(db + o, dout + o, N, OC, OC - o < 64 ? OC - o : 64);
    }
}

void
linear_backward(float *dinp, float *dw, float *db, const float *dout,
                const float *inp, const float *w, int N, int C, int OC,
                int dinp_acc)
{
    prof_begin(PROF_MATMUL);
    if (dinp)       /* dinp (N,C) (+)= dout (N,OC) . w (OC,C) */
        gr_sgemm(CblasNoTrans, CblasNoTrans, N, C, OC, 1.0f, dout, OC, w, C,
                 dinp_acc ? 1.0f : 0.0f, dinp, C);
    if (dw)         /* dw (OC,C) += dout^T (OC,N) . inp (N,C) */
        gr_sgemm(CblasTrans, CblasNoTrans, OC, C, N, 1.0f, dout, OC, inp, C,
                 1.0f, dw, C);
    if (db)
        bias_backward(db, dout, N, OC);
    prof_end(PROF_MATMUL);
}

void
linear_forward_bf16(float *out, const float *res, const float *inp,
                    gr_bf16 *inp16, const gr_bf16 *w16, const float *b,
                    int N, int C, int OC)
{
    prof_begin(PROF_MATMUL);
    if (inp)
        bf16_from_f32(inp16, inp, (size_t)N * C);
    init_out(out, res, b, N, OC);
    bf16_gemm(CblasNoTrans, CblasTrans, N, OC, C, inp16, C, w16, C, 1.0f,
              out, OC);
    prof_end(PROF_MATMUL);
}

void
linear_backward_bf16(float *dinp, float *dw, float *db, const float *dout,
                     gr_bf16 *dout16, const gr_bf16 *inp16,
                     const gr_bf16 *w16, int N, int C, int OC)
{
    prof_begin(PROF_MATMUL);
    bf16_from_f32(dout16, dout, (size_t)N * OC);
    if (dinp)       /* dinp (N,C) = dout (N,OC) . w (OC,C) */
        bf16_gemm(CblasNoTrans, CblasNoTrans, N, C, OC, dout16, OC, w16, C,
                  0.0f, dinp, C);
    if (dw)         /* dw (OC,C) += dout^T (OC,N) . inp (N,C) */
        bf16_gemm(CblasTrans, CblasNoTrans, OC, C, N, dout16, OC, inp16, C,
                  1.0f, dw, C);
    if (db)
        bias_backward(db, dout, N, OC);
    prof_end(PROF_MATMUL);
}
