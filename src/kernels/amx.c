#include "kernels/amx.h"

#include <omp.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/par.h"
#include "kernels/simd.h"

#if defined(__x86_64__) && defined(__linux__) && defined(__GNUC__) && \
    !defined(__clang__)
#define HAVE_AMX 1
#include <sys/syscall.h>
#include <unistd.h>
#endif

/* The packed layout.  Tile (nb, kb) holds output columns 16nb..16nb+15
 * over inner indices 32kb..32kb+31, as TDPBF16PS takes its second
 * operand: 16 rows of 64 bytes, row kp holding, for each of the 16
 * columns n, the pair w[n][2kp], w[n][2kp+1].  Tiles of one column block
 * follow each other along the inner dimension, so a block's weights are
 * read in one sweep.  Columns and the inner dimension are padded with
 * zeros to whole tiles. */
#define TILE_N 16               /* output columns per tile */
#define TILE_K 32               /* inner indices per tile (bf16 pairs x 16) */
#define TILE_ELEMS (TILE_N * TILE_K)
#define GROUP 4                 /* column tiles computed together */

static int
round_up(int x, int m)
{
    return (x + m - 1) / m * m;
}

size_t
amx_packed_len(int C, int OC)
{
    return (size_t)round_up(OC, TILE_N) * round_up(C, TILE_K);
}

size_t
amx_rows_len(int N, int C)
{
    return (size_t)N * round_up(C, TILE_K);
}

void
amx_pack(gr_bf16 *wp, const float *w, int C, int OC)
{
    int KB = round_up(C, TILE_K) / TILE_K, NBLK = round_up(OC, TILE_N) / TILE_N;
#pragma omp parallel for num_threads(kernels_threads()) if (NBLK > 1)
    for (int nb = 0; nb < NBLK; nb++) {
        gr_bf16 *blk = wp + (size_t)nb * KB * TILE_ELEMS;
        for (int n = 0; n < TILE_N; n++) {
            int o = nb * TILE_N + n;
            const float *row = w + (size_t)o * C;
            for (int k = 0; k < KB * TILE_K; k++) {
                size_t at = ((size_t)(k / TILE_K) * (TILE_K / 2) +
                             (size_t)(k % TILE_K) / 2) * (2 * TILE_N) +
                            (size_t)n * 2 + (size_t)(k % 2);
                blk[at] = o < OC && k < C ? bf16_round(row[k]) : 0;
            }
        }
    }
}

#ifdef HAVE_AMX

#define ARCH_REQ_XCOMP_PERM 0x1023
#define XFEATURE_XTILEDATA 18

static struct {
    pthread_once_t once;
    int ok;
    const char *why;
} g = { .once = PTHREAD_ONCE_INIT };

static void
setup(void)
{
    __builtin_cpu_init();
    if (!__builtin_cpu_supports("amx-tile") ||
        !__builtin_cpu_supports("amx-bf16"))
        g.why = "this CPU has no AMX (AMX-TILE and AMX-BF16)";
    else if (syscall(SYS_arch_prctl, ARCH_REQ_XCOMP_PERM,
                     XFEATURE_XTILEDATA) != 0)
        g.why = "the operating system does not let garage use AMX";
    else
        g.ok = 1;
}

int
amx_available(const char **why)
{
    pthread_once(&g.once, setup);
    if (why)
        *why = g.ok ? NULL : g.why;
    return g.ok;
}

#define AMX __attribute__((target("amx-tile,amx-bf16,avx512f")))

/* Tiles 0-3: sums (rows x 16 floats); 4: rows (rows x 32 bf16); 5-7:
 * weights (16 pairs x 16 columns). */
struct tilecfg {
    uint8_t palette, start_row, reserved[14];
    uint16_t colsb[16];
    uint8_t rows[16];
};

AMX static void
configure(int rows)
{
    struct tilecfg c;
    memset(&c, 0, sizeof c);
    c.palette = 1;
    for (int t = 0; t < 8; t++) {
        c.colsb[t] = 64;
        c.rows[t] = t < 5 ? (uint8_t)rows : TILE_K / 2;
    }
    /* GCC 12's _tile_loadconfig tells the compiler it reads 8 bytes, so
     * the stores of the counts above could be dropped: say all 64. */
    __asm__ volatile("ldtilecfg %0" : : "m"(c));
}

/* Inner blocks ahead to prefetch the weights of (4 tiles each): a tile
 * load that misses waits on memory.  With it the products of 16
 * sequences of M took 1.69 s against 1.95 s (medians of 3, interleaved). */
#define PF_TILES 4

/* sums (rows, 64; row stride 64 floats) = a (rows, 32 KB; stride lda
 * bytes) . the 4 column tiles starting at w. */
AMX static void
dot_group(float *sums, const gr_bf16 *a, size_t lda, const gr_bf16 *w,
          int KB)
{
    size_t blk = (size_t)KB * TILE_ELEMS;
    const gr_bf16 *w0 = w, *w1 = w + blk, *w2 = w + 2 * blk, *w3 = w + 3 * blk;
    _tile_zero(0);
    _tile_zero(1);
    _tile_zero(2);
    _tile_zero(3);
    for (int kb = 0; kb < KB; kb++) {
        size_t o = (size_t)kb * TILE_ELEMS;
        if (kb + PF_TILES < KB)
            for (int i = 0; i < TILE_ELEMS; i += 32) {
                size_t f = o + PF_TILES * TILE_ELEMS + i;
                _mm_prefetch((const char *)(w0 + f), _MM_HINT_T0);
                _mm_prefetch((const char *)(w1 + f), _MM_HINT_T0);
                _mm_prefetch((const char *)(w2 + f), _MM_HINT_T0);
                _mm_prefetch((const char *)(w3 + f), _MM_HINT_T0);
            }
        _tile_loadd(4, a + (size_t)kb * TILE_K, lda);
        _tile_loadd(5, w0 + o, 64);
        _tile_loadd(6, w1 + o, 64);
        _tile_dpbf16ps(0, 4, 5);
        _tile_loadd(7, w2 + o, 64);
        _tile_dpbf16ps(1, 4, 6);
        _tile_loadd(5, w3 + o, 64);
        _tile_dpbf16ps(2, 4, 7);
        _tile_dpbf16ps(3, 4, 5);
    }
    _tile_stored(0, sums, 256);
    _tile_stored(1, sums + 16, 256);
    _tile_stored(2, sums + 32, 256);
    _tile_stored(3, sums + 48, 256);
}

/* The same for one column tile: sums (rows, 16; row stride 64 floats). */
AMX static void
dot_one(float *sums, const gr_bf16 *a, size_t lda, const gr_bf16 *w, int KB)
{
    _tile_zero(0);
    for (int kb = 0; kb < KB; kb++) {
        _tile_loadd(4, a + (size_t)kb * TILE_K, lda);
        _tile_loadd(5, w + (size_t)kb * TILE_ELEMS, 64);
        _tile_dpbf16ps(0, 4, 5);
    }
    _tile_stored(0, sums, 256);
}

AMX static void
release(void)
{
    _tile_release();
}

/* out (N,OC) += a (N,Cp) . the weights' columns of group g, in blocks of
 * 16 rows (the group's weights stay in cache across the blocks).
 * *rows: the row count the tiles are configured for (0: none yet). */
static void
group_add(float *out, const gr_bf16 *a, const gr_bf16 *wp, int N, int Cp,
          int OC, int g, int *rows)
{
    int KB = Cp / TILE_K, NBLK = round_up(OC, TILE_N) / TILE_N;
    int nb0 = g * GROUP, nblk = NBLK - nb0 < GROUP ? NBLK - nb0 : GROUP;
    int o0 = nb0 * TILE_N, ncol = OC - o0 < GROUP * TILE_N ? OC - o0
                                                          : GROUP * TILE_N;
    const gr_bf16 *w = wp + (size_t)nb0 * KB * TILE_ELEMS;
    float sums[TILE_N * GROUP * TILE_N] __attribute__((aligned(64)));
    for (int r0 = 0; r0 < N; r0 += TILE_N) {
        int rr = N - r0 < TILE_N ? N - r0 : TILE_N;
        if (rr != *rows) {
            configure(rr);
            *rows = rr;
        }
        const gr_bf16 *ar = a + (size_t)r0 * Cp;
        if (nblk == GROUP)
            dot_group(sums, ar, (size_t)Cp * sizeof *a, w, KB);
        else
            for (int j = 0; j < nblk; j++)
                dot_one(sums + j * TILE_N, ar, (size_t)Cp * sizeof *a,
                        w + (size_t)j * KB * TILE_ELEMS, KB);
        for (int r = 0; r < rr; r++) {
            float *o = out + (size_t)(r0 + r) * OC + o0;
            const float *s = sums + r * GROUP * TILE_N;
            for (int c = 0; c < ncol; c++)
                o[c] += s[c];
        }
    }
}

/* Below this many weights a product stays on one thread. */
#define AMX_PER_THREAD ((size_t)1 << 16)

void
amx_linear_add(float *out, const float *inp, gr_bf16 *a, const gr_bf16 *wp,
               int N, int C, int OC)
{
    if (N < 1 || OC < 1)
        return;
    int Cp = round_up(C, TILE_K);
    bf16_from_f32_rows(a, Cp, inp, C, N, C);
    if (Cp > C)
        for (int r = 0; r < N; r++)
            memset(a + (size_t)r * Cp + C, 0, (size_t)(Cp - C) * sizeof *a);
    int ngroups = (round_up(OC, TILE_N) / TILE_N + GROUP - 1) / GROUP;
    int nt = kernels_threads();
    if ((size_t)OC * C < 2 * AMX_PER_THREAD || omp_in_parallel() ||
        ngroups < 2)
        nt = 1;
#pragma omp parallel num_threads(nt) if (nt > 1)
    {
        int rows = 0;
#pragma omp for schedule(static)
        for (int g = 0; g < ngroups; g++)
            group_add(out, a, wp, N, Cp, OC, g, &rows);
        if (rows)
            release();
    }
}

/* ---- small products on one thread (attention) ---------------------------- */

/* x rounded to bf16, ties to even, each in the upper half of its lane. */
AMX static inline __m512i
round_hi(__m512 x)
{
    __m512i u = _mm512_castps_si512(x);
    __m512i odd = _mm512_and_si512(_mm512_srli_epi32(u, 16), _mm512_set1_epi32(1));
    return _mm512_add_epi32(u, _mm512_add_epi32(_mm512_set1_epi32(0x7fff), odd));
}

/* 16 floats to 16 bf16. */
AMX static inline __m256i
to_bf16(__m512 x)
{
    return _mm512_cvtepi32_epi16(_mm512_srli_epi32(round_hi(x), 16));
}

/* The bf16 pairs (lo[n], hi[n]) as 16 32-bit lanes: a tile row of b. */
AMX static inline __m512i
pairs(__m512 lo, __m512 hi)
{
    return _mm512_or_si512(_mm512_srli_epi32(round_hi(lo), 16),
                           _mm512_and_si512(round_hi(hi),
                                            _mm512_set1_epi32((int)0xffff0000)));
}

AMX void
amx_small_pack_b(gr_bf16 *bp, const float *src, int ld, int K, int N)
{
    int KB = K / TILE_K;
    for (int nb = 0; nb < N / TILE_N; nb++)
        for (int kb = 0; kb < KB; kb++) {
            gr_bf16 *t = bp + ((size_t)nb * KB + kb) * TILE_ELEMS;
            const float *s = src + (size_t)kb * TILE_K * ld + nb * TILE_N;
            for (int kp = 0; kp < TILE_K / 2; kp++) {
                const float *r = s + (size_t)2 * kp * ld;
                _mm512_storeu_si512(t + kp * 2 * TILE_N,
                                    pairs(_mm512_loadu_ps(r), _mm512_loadu_ps(r + ld)));
            }
        }
}

AMX void
amx_small_pack_bt(gr_bf16 *bp, const float *src, int ld, int K, int N)
{
    int KB = K / TILE_K;
    __m512i rows = _mm512_mullo_epi32(_mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8,
                                                        9, 10, 11, 12, 13, 14, 15),
                                      _mm512_set1_epi32(ld));
    for (int nb = 0; nb < N / TILE_N; nb++)
        for (int kb = 0; kb < KB; kb++) {
            gr_bf16 *t = bp + ((size_t)nb * KB + kb) * TILE_ELEMS;
            const float *s = src + (size_t)nb * TILE_N * ld + kb * TILE_K;
            for (int kp = 0; kp < TILE_K / 2; kp++) {
                __m512 lo = _mm512_i32gather_ps(rows, s + 2 * kp, 4);
                __m512 hi = _mm512_i32gather_ps(rows, s + 2 * kp + 1, 4);
                _mm512_storeu_si512(t + kp * 2 * TILE_N, pairs(lo, hi));
            }
        }
}

AMX void
amx_small_rows(gr_bf16 *a, int lda, const float *src, int lds, int M, int K,
               float scale)
{
    __m512 sc = _mm512_set1_ps(scale);
    for (int i = 0; i < M; i++) {
        const float *s = src + (size_t)i * lds;
        gr_bf16 *d = a + (size_t)i * lda;
        for (int k = 0; k < K; k += 16)
            _mm256_storeu_si256((__m256i *)(d + k),
                                to_bf16(_mm512_mul_ps(_mm512_loadu_ps(s + k), sc)));
    }
}

/* r[c] = column c of the 16 x 16 block of src (row stride lds) at s. */
AMX static inline void
load_columns16(__m512 r[16], const float *s, int lds)
{
    for (int j = 0; j < 16; j++)
        r[j] = _mm512_loadu_ps(s + (size_t)j * lds);
    transpose16(r);
}

AMX void
amx_small_rows_t(gr_bf16 *a, int lda, const float *src, int lds, int M, int K)
{
    __m512 r[16];
    for (int k0 = 0; k0 < K; k0 += 16)
        for (int i0 = 0; i0 < M; i0 += 16) {
            load_columns16(r, src + (size_t)k0 * lds + i0, lds);
            for (int c = 0; c < 16; c++)
                _mm256_storeu_si256((__m256i *)(a + (size_t)(i0 + c) * lda + k0),
                                    to_bf16(r[c]));
        }
}

AMX void
amx_small_transpose(float *dst, int ldd, const float *src, int lds, int R, int Cn)
{
    __m512 r[16];
    for (int r0 = 0; r0 < R; r0 += 16)
        for (int c0 = 0; c0 < Cn; c0 += 16) {
            load_columns16(r, src + (size_t)r0 * lds + c0, lds);
            for (int c = 0; c < 16; c++)
                _mm512_storeu_ps(dst + (size_t)(c0 + c) * ldd + r0, r[c]);
        }
}

void
amx_small_begin(void)
{
    configure(TILE_N);
}

void
amx_small_end(void)
{
    release();
}

/* Blocks of 32 x 32 of c: two row tiles by two column tiles, four sums. */
AMX void
amx_small_product(float *c, int ldc, const gr_bf16 *a, int lda,
                  const gr_bf16 *bp, int KB, int kt, int M, int N)
{
    size_t sa = (size_t)lda * sizeof *a, sc = (size_t)ldc * sizeof *c;
    for (int i = 0; i < M; i += 2 * TILE_N)
        for (int j = 0; j < N; j += 2 * TILE_N) {
            const gr_bf16 *a0 = a + (size_t)i * lda, *a1 = a0 + (size_t)TILE_N * lda;
            const gr_bf16 *b0 = bp + (size_t)(j / TILE_N) * KB * TILE_ELEMS;
            const gr_bf16 *b1 = b0 + (size_t)KB * TILE_ELEMS;
            _tile_zero(0);
            _tile_zero(1);
            _tile_zero(2);
            _tile_zero(3);
            for (int kb = 0; kb < kt; kb++) {
                _tile_loadd(4, a0 + kb * TILE_K, sa);
                _tile_loadd(5, a1 + kb * TILE_K, sa);
                _tile_loadd(6, b0 + (size_t)kb * TILE_ELEMS, 64);
                _tile_loadd(7, b1 + (size_t)kb * TILE_ELEMS, 64);
                _tile_dpbf16ps(0, 4, 6);
                _tile_dpbf16ps(1, 4, 7);
                _tile_dpbf16ps(2, 5, 6);
                _tile_dpbf16ps(3, 5, 7);
            }
            float *c0 = c + (size_t)i * ldc + j, *c1 = c0 + (size_t)TILE_N * ldc;
            _tile_stored(0, c0, sc);
            _tile_stored(1, c0 + TILE_N, sc);
            _tile_stored(2, c1, sc);
            _tile_stored(3, c1 + TILE_N, sc);
        }
}

#else   /* !HAVE_AMX */

int
amx_available(const char **why)
{
    if (why)
        *why = "garage was built without AMX support (x86-64 Linux, GCC)";
    return 0;
}

void
amx_linear_add(float *out, const float *inp, gr_bf16 *a16, const gr_bf16 *wp,
               int N, int C, int OC)
{
    (void)out; (void)inp; (void)a16; (void)wp; (void)N; (void)C; (void)OC;
    abort();        /* callers check amx_available() */
}

/* Callers check amx_available(): none of these is reached. */
void
amx_small_pack_b(gr_bf16 *bp, const float *src, int ld, int K, int N)
{
    (void)bp; (void)src; (void)ld; (void)K; (void)N;
    abort();
}

void
amx_small_pack_bt(gr_bf16 *bp, const float *src, int ld, int K, int N)
{
    (void)bp; (void)src; (void)ld; (void)K; (void)N;
    abort();
}

void
amx_small_rows(gr_bf16 *a, int lda, const float *src, int lds, int M, int K,
               float scale)
{
    (void)a; (void)lda; (void)src; (void)lds; (void)M; (void)K; (void)scale;
    abort();
}

void
amx_small_rows_t(gr_bf16 *a, int lda, const float *src, int lds, int M, int K)
{
    (void)a; (void)lda; (void)src; (void)lds; (void)M; (void)K;
    abort();
}

void
amx_small_transpose(float *dst, int ldd, const float *src, int lds, int R, int Cn)
{
    (void)dst; (void)ldd; (void)src; (void)lds; (void)R; (void)Cn;
    abort();
}

void
amx_small_begin(void)
{
    abort();
}

void
amx_small_end(void)
{
    abort();
}

void
amx_small_product(float *c, int ldc, const gr_bf16 *a, int lda,
                  const gr_bf16 *bp, int KB, int kt, int M, int N)
{
    (void)c; (void)ldc; (void)a; (void)lda; (void)bp; (void)KB; (void)kt; (void)M;
    (void)N;
    abort();
}

#endif
