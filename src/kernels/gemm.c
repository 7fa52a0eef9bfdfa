#include "kernels/gemm.h"

#include <omp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#include "kernels/par.h"
#include "kernels/simd.h"

/* The register tile: MR rows of C by NR columns (two vectors), 24 of the
 * 32 vector registers.  Per step along K: two loads of b, MR broadcasts
 * of a, 2 * MR fused multiply-adds.
 *
 * Blocks: a micro-panel of a (MR x KC, 18 KiB) stays in L1 while the
 * kernel walks the packed block of b (KC x NC, 768 KiB) in L2, panel by
 * panel; packed a (up to MC rows) sits in L3.  Loops, outer to inner:
 * rows by MC, K by KC (pack a), columns by NC (pack b), micro-panels of
 * a, panels of b.
 *
 * Threads: the team packs a's micro-panels and b's panels together, into
 * the calling thread's buffers, then takes units of rows (UNIT_ROWS, or
 * a share of the panels when rows are few) one at a time, so a thread
 * the OS pauses holds the others up by one unit at most.  Each operand
 * is packed once per product, where splitting the product into blocks
 * packed the shared operand again for every block. */
#define MR 12
#define NR 32
#define KC 384
#define NC 512
#define MC 3072
/* how far ahead, in steps along K, the kernel fetches b */
#define PREFETCH 16

int
gemm_f32_runs(void)
{
#ifdef HAVE_AVX512
    return simd_avx512();
#else
    return 0;
#endif
}

#ifdef HAVE_AVX512

static void
out_of_memory(void)
{
    fprintf(stderr, "garage: out of memory in a matrix product\n");
    abort();
}

/* Each thread's packing buffers, kept between calls (no allocation per
 * product once the largest shape has been seen) and freed when the
 * thread ends: the TUI runs each command on a thread of its own. */
struct pack_bufs {
    float *a, *b;
    size_t cap_a, cap_b;
};

static pthread_key_t bufs_key;
static pthread_once_t bufs_once = PTHREAD_ONCE_INIT;

static void
free_bufs(void *p)
{
    struct pack_bufs *s = p;
    free(s->a);
    free(s->b);
    free(s);
}

static void
make_bufs_key(void)
{
    if (pthread_key_create(&bufs_key, free_bufs) != 0)
        out_of_memory();
}

static struct pack_bufs *
thread_bufs(void)
{
    pthread_once(&bufs_once, make_bufs_key);
    struct pack_bufs *s = pthread_getspecific(bufs_key);
    if (!s) {
        s = calloc(1, sizeof *s);
        if (!s || pthread_setspecific(bufs_key, s) != 0)
            out_of_memory();
    }
    return s;
}

/* *p with room for n floats, 64-byte aligned (the old contents lost). */
static float *
scratch(float **p, size_t *cap, size_t n)
{
    if (n > *cap) {
        free(*p);
        *p = aligned_alloc(64, (n * sizeof(float) + 63) / 64 * 64);
        if (!*p)
            out_of_memory();
        *cap = n;
    }
    return *p;
}

static inline __mmask16
lanes(int n)
{
    return n >= 16 ? 0xffff : n <= 0 ? 0 : (__mmask16)((1u << n) - 1);
}

/* r[p] = element p (p < np, the rest zero) of each of the rows s,
 * s + lds, ...: nr of them, zero after. */
AVX512 static inline void
load_t(__m512 r[16], const float *s, size_t lds, int nr, int np)
{
    __mmask16 m = lanes(np);
    for (int j = 0; j < 16; j++)
        r[j] = j < nr ? _mm512_maskz_loadu_ps(m, s + j * lds) : _mm512_setzero_ps();
    transpose16(r);
}

/* Columns c0..c0+nc (of an operand whose element (k, c) is s[k * ld + c]
 * when rows_contiguous, else s[c * ld + k]), rows k0..k0+kc, as panels
 * of w columns (w <= 32): panel j holds kc rows of w floats, zero past
 * column nc.  b is packed in panels of NR columns; a, read as its
 * transpose, in micro-panels of MR rows. */
AVX512 static inline void
pack_panels(float *dst, int w, int rows_contiguous, const float *s, int ld,
            int k0, int kc, int c0, int nc)
{
    for (int j = 0; j < nc; j += w) {
        int n = nc - j < w ? nc - j : w;
        float *d = dst + (size_t)j * kc;
        if (rows_contiguous) {
            const float *r = s + (size_t)k0 * ld + c0 + j;
            __mmask16 m0 = lanes(n), m1 = lanes(n - 16);
            for (int p = 0; p < kc; p++, r += ld) {
                _mm512_mask_storeu_ps(d + p * w, lanes(w), _mm512_maskz_loadu_ps(m0, r));
                if (w > 16)
                    _mm512_mask_storeu_ps(d + p * w + 16, lanes(w - 16),
                                          _mm512_maskz_loadu_ps(m1, r + 16));
            }
        } else {
            const float *c = s + (size_t)(c0 + j) * ld + k0;
            __m512 r[16];
            for (int p = 0; p < kc; p += 16) {
                int np = kc - p < 16 ? kc - p : 16;
                for (int h = 0; h < w; h += 16) {
                    load_t(r, c + (size_t)h * ld + p, ld, n - h, np);
                    for (int q = 0; q < np; q++)
                        _mm512_mask_storeu_ps(d + (size_t)(p + q) * w + h,
                                              lanes(w - h), r[q]);
                }
            }
        }
    }
}

/* Rows k0..k0+kc and columns j0..j0+nc of op(B) in panels of NR. */
AVX512 __attribute__((flatten)) static void
pack_b(float *bp, enum CBLAS_TRANSPOSE tb, const float *B, int ldb, int k0,
       int kc, int j0, int nc)
{
    pack_panels(bp, NR, tb == CblasNoTrans, B, ldb, k0, kc, j0, nc);
}

/* Rows i0..i0+mc and columns k0..k0+kc of op(A) in micro-panels of MR
 * rows, each kc groups of MR floats: op(A)^T's columns in panels. */
AVX512 __attribute__((flatten)) static void
pack_a(float *ap, enum CBLAS_TRANSPOSE ta, const float *A, int lda, int i0,
       int mc, int k0, int kc)
{
    pack_panels(ap, MR, ta == CblasTrans, A, lda, k0, kc, i0, mc);
}

/* C (m x n of it, m <= MR, n <= NR) = alpha * a . b + beta * C, from a
 * micro-panel of a and a panel of b, kc steps; beta 0 leaves C unread. */
AVX512 static void
kernel(int kc, const float *a, const float *b, float *C, int ldc, float alpha,
       float beta, int m, int n)
{
    __m512 c0[MR], c1[MR];
#pragma GCC unroll 12
    for (int r = 0; r < MR; r++) {
        _mm_prefetch((const char *)(C + (size_t)r * ldc), _MM_HINT_T0);
        _mm_prefetch((const char *)(C + (size_t)r * ldc + 16), _MM_HINT_T0);
        c0[r] = _mm512_setzero_ps();
        c1[r] = _mm512_setzero_ps();
    }
#pragma GCC unroll 4
    for (int p = 0; p < kc; p++) {
        __m512 b0 = _mm512_load_ps(b), b1 = _mm512_load_ps(b + 16);
        _mm_prefetch((const char *)(b + PREFETCH * NR), _MM_HINT_T0);
        _mm_prefetch((const char *)(b + PREFETCH * NR + 16), _MM_HINT_T0);
#pragma GCC unroll 12
        for (int r = 0; r < MR; r++) {
            __m512 x = _mm512_set1_ps(a[r]);
            c0[r] = _mm512_fmadd_ps(x, b0, c0[r]);
            c1[r] = _mm512_fmadd_ps(x, b1, c1[r]);
        }
        a += MR;
        b += NR;
    }
    __m512 va = _mm512_set1_ps(alpha), vb = _mm512_set1_ps(beta);
    __mmask16 m0 = lanes(n), m1 = lanes(n - 16);
#pragma GCC unroll 12
    for (int r = 0; r < MR; r++) {
        if (r >= m)
            break;
        float *cr = C + (size_t)r * ldc;
        __m512 x0 = _mm512_mul_ps(va, c0[r]), x1 = _mm512_mul_ps(va, c1[r]);
        if (beta != 0.0f) {
            x0 = _mm512_fmadd_ps(vb, _mm512_maskz_loadu_ps(m0, cr), x0);
            x1 = _mm512_fmadd_ps(vb, _mm512_maskz_loadu_ps(m1, cr + 16), x1);
        }
        _mm512_mask_storeu_ps(cr, m0, x0);
        _mm512_mask_storeu_ps(cr + 16, m1, x1);
    }
}

/* Rows per unit of work: the threads share out a block's rows (and, when
 * there are few, its panels) a unit at a time. */
#define UNIT_ROWS (8 * MR)

static void
scale_c(int M, int N, float beta, float *C, int ldc)
{
    for (int i = 0; i < M; i++)
        for (int j = 0; j < N; j++) {
            float *c = C + (size_t)i * ldc + j;
            *c = beta == 0.0f ? 0.0f : beta * *c;
        }
}

void
gemm_f32(int nt, enum CBLAS_TRANSPOSE ta, enum CBLAS_TRANSPOSE tb, int M,
         int N, int K, float alpha, const float *A, int lda, const float *B,
         int ldb, float beta, float *C, int ldc)
{
    if (M <= 0 || N <= 0)
        return;
    if (K <= 0 || alpha == 0.0f) {      /* C = beta * C, as cblas_sgemm */
        scale_c(M, N, beta, C, ldc);
        return;
    }
    if (nt < 1 || omp_in_parallel())
        nt = 1;
    /* the calling thread's buffers, shared by the team */
    struct pack_bufs *pb = thread_bufs();
    int mcap = M < MC ? M : MC, kcap = K < KC ? K : KC, ncap = N < NC ? N : NC;
    float *ap = scratch(&pb->a, &pb->cap_a, (size_t)(mcap + MR - 1) / MR * MR * kcap);
    float *bp = scratch(&pb->b, &pb->cap_b, (size_t)(ncap + NR - 1) / NR * NR * kcap);
#pragma omp parallel num_threads(nt) if (nt > 1)
    for (int ic = 0; ic < M; ic += MC) {
        int mc = M - ic < MC ? M - ic : MC;
        int npa = (mc + MR - 1) / MR;           /* micro-panels of a */
        for (int pc = 0; pc < K; pc += KC) {
            int kc = K - pc < KC ? K - pc : KC;
            float be = pc ? 1.0f : beta;
#pragma omp for schedule(static)
            for (int i = 0; i < npa; i++)
                pack_a(ap + (size_t)i * MR * kc, ta, A, lda, ic + i * MR,
                       mc - i * MR < MR ? mc - i * MR : MR, pc, kc);
            for (int jc = 0; jc < N; jc += NC) {
                int nc = N - jc < NC ? N - jc : NC;
                int npb = (nc + NR - 1) / NR;   /* panels of b */
#pragma omp for schedule(static)
                for (int j = 0; j < npb; j++)
                    pack_b(bp + (size_t)j * NR * kc, tb, B, ldb, pc, kc,
                           jc + j * NR, nc - j * NR < NR ? nc - j * NR : NR);
                /* units: UNIT_ROWS rows by a share of the panels, enough
                 * of them for every thread to have a few */
                int nru = (mc + UNIT_ROWS - 1) / UNIT_ROWS;
                int ncu = nru >= 4 * nt ? 1 : (4 * nt + nru - 1) / nru;
                if (ncu > npb)
                    ncu = npb;
                int ppu = (npb + ncu - 1) / ncu;
#pragma omp for schedule(dynamic, 1)
                for (int u = 0; u < nru * ncu; u++) {
                    int r0 = u / ncu * UNIT_ROWS;
                    int r1 = r0 + UNIT_ROWS < mc ? r0 + UNIT_ROWS : mc;
                    int p0 = u % ncu * ppu, p1 = p0 + ppu < npb ? p0 + ppu : npb;
                    for (int ir = r0; ir < r1; ir += MR)
                        for (int jp = p0; jp < p1; jp++) {
                            int jr = jp * NR;
                            kernel(kc, ap + (size_t)ir * kc, bp + (size_t)jr * kc,
                                   C + (size_t)(ic + ir) * ldc + jc + jr, ldc,
                                   alpha, be, r1 - ir < MR ? r1 - ir : MR,
                                   nc - jr < NR ? nc - jr : NR);
                        }
                }
            }
        }
    }
}

#else

void
gemm_f32(int nt, enum CBLAS_TRANSPOSE ta, enum CBLAS_TRANSPOSE tb, int M,
         int N, int K, float alpha, const float *A, int lda, const float *B,
         int ldb, float beta, float *C, int ldc)
{
    (void)nt;
    cblas_sgemm(CblasRowMajor, ta, tb, M, N, K, alpha, A, lda, B, ldb, beta,
                C, ldc);
}

#endif
