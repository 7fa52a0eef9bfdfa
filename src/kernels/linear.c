#include "kernels/linear.h"

#include <assert.h>
#include <omp.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "kernels/amx.h"
#include "kernels/blas.h"
#include "kernels/par.h"
#include "kernels/prof.h"
#include "kernels/simd.h"

#ifdef HAVE_AVX512
#define HAVE_SKINNY 1
#endif

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

/* Few rows (2..SKINNY_ROWS: batched sampling): sgemm would copy (pack)
 * all the weights into panels for so few rows, at several times the cost
 * of the products.  These kernels read each weight row once, straight
 * from w, for 4 input rows at a time, with AVX-512 dot products. */
#define SKINNY_ROWS 16

#ifdef HAVE_SKINNY

/* Weights are float, or bf16 widened exactly to float as they load. */
#define LOAD_F32(p, k) _mm512_maskz_loadu_ps(k, p)
#define LOAD_BF16(p, k) _mm512_castsi512_ps(_mm512_slli_epi32( \
    _mm512_cvtepu16_epi32(_mm256_maskz_loadu_epi16(k, p)), 16))
#define MASK(C, c) ((C) - (c) >= 16 ? (__mmask16)0xffff : \
                    (__mmask16)((1u << ((C) - (c))) - 1))

/* One 16-wide step of dot4x4 at column c under mask k. */
#define STEP4x4(LOADW, k) do {                                               \
        __m512 b0 = LOADW(w0 + c, k), b1 = LOADW(w1 + c, k);                 \
        __m512 b2 = LOADW(w2 + c, k), b3 = LOADW(w3 + c, k);                 \
        __m512 v = _mm512_maskz_loadu_ps(k, x0 + c);                         \
        a00 = _mm512_fmadd_ps(v, b0, a00);                                   \
        a01 = _mm512_fmadd_ps(v, b1, a01);                                   \
        a02 = _mm512_fmadd_ps(v, b2, a02);                                   \
        a03 = _mm512_fmadd_ps(v, b3, a03);                                   \
        v = _mm512_maskz_loadu_ps(k, x1 + c);                                \
        a10 = _mm512_fmadd_ps(v, b0, a10);                                   \
        a11 = _mm512_fmadd_ps(v, b1, a11);                                   \
        a12 = _mm512_fmadd_ps(v, b2, a12);                                   \
        a13 = _mm512_fmadd_ps(v, b3, a13);                                   \
        v = _mm512_maskz_loadu_ps(k, x2 + c);                                \
        a20 = _mm512_fmadd_ps(v, b0, a20);                                   \
        a21 = _mm512_fmadd_ps(v, b1, a21);                                   \
        a22 = _mm512_fmadd_ps(v, b2, a22);                                   \
        a23 = _mm512_fmadd_ps(v, b3, a23);                                   \
        v = _mm512_maskz_loadu_ps(k, x3 + c);                                \
        a30 = _mm512_fmadd_ps(v, b0, a30);                                   \
        a31 = _mm512_fmadd_ps(v, b1, a31);                                   \
        a32 = _mm512_fmadd_ps(v, b2, a32);                                   \
        a33 = _mm512_fmadd_ps(v, b3, a33);                                   \
    } while (0)

/* The kernels, for weights of type WT loaded by LOADW:
 *  dot4x4: out (4 rows, 4 columns; row stride ldo) += x (4,C) . w (4,C)^T;
 *          pf (may be NULL): 4 weight rows to prefetch into L2 meanwhile
 *          (those of the block after next: the hardware prefetcher alone
 *          leaves this loop waiting on memory at every 4 KiB page);
 *  dot1x4: the same for one row of x;
 *  dot1x1: *out += x (C) . w (C);
 *  cols:   out (N,OC) += inp (N,C) . w^T for output columns [o0, o1). */
#define SKINNY_KERNELS(SFX, WT, LOADW)                                       \
AVX512 static void                                                           \
dot4x4##SFX(float *out, size_t ldo, const float *x, size_t ldx,              \
            const WT *w, size_t ldw, int C, const WT *pf)                    \
{                                                                            \
    const float *x0 = x, *x1 = x + ldx, *x2 = x + 2 * ldx, *x3 = x + 3 * ldx;\
    const WT *w0 = w, *w1 = w + ldw, *w2 = w + 2 * ldw, *w3 = w + 3 * ldw;   \
    __m512 a00 = _mm512_setzero_ps(), a01 = a00, a02 = a00, a03 = a00;       \
    __m512 a10 = a00, a11 = a00, a12 = a00, a13 = a00;                       \
    __m512 a20 = a00, a21 = a00, a22 = a00, a23 = a00;                       \
    __m512 a30 = a00, a31 = a00, a32 = a00, a33 = a00;                       \
    int c = 0;                                                               \
    for (; c + 16 <= C; c += 16) {                                           \
        if (pf) {                                                            \
            _mm_prefetch((const char *)(pf + c), _MM_HINT_T1);               \
            _mm_prefetch((const char *)(pf + ldw + c), _MM_HINT_T1);         \
            _mm_prefetch((const char *)(pf + 2 * ldw + c), _MM_HINT_T1);     \
            _mm_prefetch((const char *)(pf + 3 * ldw + c), _MM_HINT_T1);     \
        }                                                                    \
        STEP4x4(LOADW, 0xffff);                                              \
    }                                                                        \
    if (c < C) {                                                             \
        __mmask16 k = MASK(C, c);                                            \
        STEP4x4(LOADW, k);                                                   \
    }                                                                        \
    /* the 16 sums of the 16 accumulators in one vector, in the order     */ \
    /* of the outputs                                                      */ \
    __m512 sums = reduce16(a00, a01, a02, a03, a10, a11, a12, a13,          \
                           a20, a21, a22, a23, a30, a31, a32, a33);          \
    float t[16];                                                             \
    _mm512_storeu_ps(t, sums);                                               \
    for (int i = 0; i < 4; i++)                                              \
        for (int j = 0; j < 4; j++)                                          \
            out[i * ldo + j] += t[4 * i + j];                                \
}                                                                            \
                                                                             \
AVX512 static void                                                           \
dot1x4##SFX(float *out, const float *x, const WT *w, size_t ldw, int C,      \
            const WT *pf)                                                    \
{                                                                            \
    const WT *w0 = w, *w1 = w + ldw, *w2 = w + 2 * ldw, *w3 = w + 3 * ldw;   \
    __m512 a0 = _mm512_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;              \
    for (int c = 0; c < C; c += 16) {                                        \
        __mmask16 k = MASK(C, c);                                            \
        if (pf) {                                                            \
            _mm_prefetch((const char *)(pf + c), _MM_HINT_T1);               \
            _mm_prefetch((const char *)(pf + ldw + c), _MM_HINT_T1);         \
            _mm_prefetch((const char *)(pf + 2 * ldw + c), _MM_HINT_T1);     \
            _mm_prefetch((const char *)(pf + 3 * ldw + c), _MM_HINT_T1);     \
        }                                                                    \
        __m512 v = _mm512_maskz_loadu_ps(k, x + c);                          \
        a0 = _mm512_fmadd_ps(v, LOADW(w0 + c, k), a0);                       \
        a1 = _mm512_fmadd_ps(v, LOADW(w1 + c, k), a1);                       \
        a2 = _mm512_fmadd_ps(v, LOADW(w2 + c, k), a2);                       \
        a3 = _mm512_fmadd_ps(v, LOADW(w3 + c, k), a3);                       \
    }                                                                        \
    out[0] += _mm512_reduce_add_ps(a0);                                      \
    out[1] += _mm512_reduce_add_ps(a1);                                      \
    out[2] += _mm512_reduce_add_ps(a2);                                      \
    out[3] += _mm512_reduce_add_ps(a3);                                      \
}                                                                            \
                                                                             \
AVX512 static void                                                           \
dot1x1##SFX(float *out, const float *x, const WT *w, int C)                  \
{                                                                            \
    __m512 a = _mm512_setzero_ps();                                          \
    for (int c = 0; c < C; c += 16) {                                        \
        __mmask16 k = MASK(C, c);                                            \
        a = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(k, x + c),                 \
                            LOADW(w + c, k), a);                             \
    }                                                                        \
    *out += _mm512_reduce_add_ps(a);                                         \
}                                                                            \
                                                                             \
AVX512 static void                                                           \
cols##SFX(float *out, const float *inp, const WT *w, int N, int C, int OC,   \
          int o0, int o1)                                                    \
{                                                                            \
    int o = o0;                                                              \
    for (; o + 4 <= o1; o += 4) {                                            \
        const WT *wo = w + (size_t)o * C;                                    \
        const WT *next = o + 12 <= o1 ? wo + 8 * (size_t)C : NULL;            \
        int r = 0;                                                           \
        for (; r + 4 <= N; r += 4)                                           \
            dot4x4##SFX(out + (size_t)r * OC + o, (size_t)OC,                \
                        inp + (size_t)r * C, (size_t)C, wo, (size_t)C, C,    \
                        r == 0 ? next : NULL);                               \
        for (; r < N; r++)                                                   \
            dot1x4##SFX(out + (size_t)r * OC + o, inp + (size_t)r * C, wo,   \
                        (size_t)C, C, r == 0 ? next : NULL);                 \
    }                                                                        \
    for (; o < o1; o++)                                                      \
        for (int r = 0; r < N; r++)                                          \
            dot1x1##SFX(out + (size_t)r * OC + o, inp + (size_t)r * C,       \
                        w + (size_t)o * C, C);                               \
}

SKINNY_KERNELS(_f32, float, LOAD_F32)
SKINNY_KERNELS(_bf16, uint16_t, LOAD_BF16)

static int
have_skinny(void)
{
    return simd_avx512();
}

/* out (N,OC) += inp (N,C) . w^T with w float (w16 NULL) or bf16 (w16),
 * blocks of output columns across the threads; 0 when not done (no
 * AVX-512): the caller does it another way. */
static int
skinny_add2(float *out, const float *inp, const float *w,
            const uint16_t *w16, int N, int C, int OC)
{
    if (!have_skinny())
        return 0;
    int nt = kernels_threads(), blk = 64;
    int nblk = (OC + blk - 1) / blk;
    if ((size_t)OC * C < (size_t)2 * GEMV_PER_THREAD || omp_in_parallel())
        nt = 1;
#pragma omp parallel for num_threads(nt) if (nt > 1) schedule(dynamic, 1)
    for (int i = 0; i < nblk; i++) {
        int b0 = i * blk, b1 = b0 + blk < OC ? b0 + blk : OC;
        if (w16)
            cols_bf16(out, inp, w16, N, C, OC, b0, b1);
        else
            cols_f32(out, inp, w, N, C, OC, b0, b1);
    }
    return 1;
}

static int
skinny_add(float *out, const float *inp, const float *w, int N, int C,
           int OC)
{
    return skinny_add2(out, inp, w, NULL, N, C, OC);
}
#else
static int
skinny_add2(float *out, const float *inp, const float *w,
            const uint16_t *w16, int N, int C, int OC)
{
    (void)out; (void)inp; (void)w; (void)w16; (void)N; (void)C; (void)OC;
    return 0;
}

static int
skinny_add(float *out, const float *inp, const float *w, int N, int C,
           int OC)
{
    return skinny_add2(out, inp, w, NULL, N, C, OC);
}
#endif

int
linear_rows_bf16_available(void)
{
#ifdef HAVE_SKINNY
    return have_skinny();
#else
    return 0;
#endif
}

void
linear_forward(float *out, const float *inp, const float *w,
               const float *b, int N, int C, int OC)
{
    prof_begin(PROF_MATMUL);
    if (b) {
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
linear_forward_rows(float *out, const float *res, const float *inp,
                    const float *w, const float *b, int N, int C, int OC)
{
    prof_begin(PROF_MATMUL);
    init_out(out, res, b, N, OC);
    if (N == 1)
        gemv_add(out, inp, w, C, OC);
    else if (N > SKINNY_ROWS || !skinny_add(out, inp, w, N, C, OC))
        gr_sgemm(CblasNoTrans, CblasTrans, N, OC, C, 1.0f, inp, C, w, C,
                 1.0f, out, OC);
    prof_end(PROF_MATMUL);
}

void
linear_forward_rows_bf16(float *out, const float *res, const float *inp,
                         const uint16_t *w16, const float *b, int N, int C,
                         int OC)
{
    prof_begin(PROF_MATMUL);
    init_out(out, res, b, N, OC);
    /* blocks of up to SKINNY_ROWS rows, each reading the weights once */
    for (int r = 0; r < N; r += SKINNY_ROWS) {
        int n = N - r < SKINNY_ROWS ? N - r : SKINNY_ROWS;
        int done = skinny_add2(out + (size_t)r * OC, inp + (size_t)r * C,
                               NULL, w16, n, C, OC);
        assert(done);       /* callers check linear_rows_bf16_available() */
        (void)done;
    }
    prof_end(PROF_MATMUL);
}

void
linear_forward_rows_amx(float *out, const float *res, const float *inp,
                        uint16_t *a16, const uint16_t *wp, const float *b,
                        int N, int C, int OC)
{
    prof_begin(PROF_MATMUL);
    init_out(out, res, b, N, OC);
    amx_linear_add(out, inp, a16, wp, N, C, OC);
    prof_end(PROF_MATMUL);
}

void
linear_forward_add(float *out, const float *res, const float *inp,
                   const float *w, const float *b, int N, int C, int OC)
{
    prof_begin(PROF_MATMUL);
    init_out(out, res, b, N, OC);
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
    assert(dout || !db);
    if (dout)
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
