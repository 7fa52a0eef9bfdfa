/* simd.h: private to src/kernels.  AVX-512 helpers for the kernels that
 * write it out by hand (few-row products, cached attention), compiled
 * for AVX-512 by function attribute and used only where the CPU has it
 * (simd_avx512()), so the library stays portable. */
#ifndef GR_KERNELS_SIMD_H
#define GR_KERNELS_SIMD_H

#if defined(__x86_64__) && defined(__GNUC__)
#define HAVE_AVX512 1
#include <immintrin.h>

#define AVX512 __attribute__((target("avx512f,avx512bw,avx512vl")))

/* 1 if this CPU has AVX-512 F, BW and VL. */
static inline int
simd_avx512(void)
{
    static int have = -1;
    int h = __atomic_load_n(&have, __ATOMIC_RELAXED);
    if (h < 0) {
        __builtin_cpu_init();
        h = __builtin_cpu_supports("avx512f") &&
            __builtin_cpu_supports("avx512bw") &&
            __builtin_cpu_supports("avx512vl");
        __atomic_store_n(&have, h, __ATOMIC_RELAXED);
    }
    return h;
}

/* Sums of 4 vectors in the 4 lanes of each 128-bit quarter: quarter q of
 * the result holds sum(a)|sum(b)|sum(c)|sum(d) over quarter q. */
AVX512 static inline __m512
hsum4(__m512 a, __m512 b, __m512 c, __m512 d)
{
    __m512 ab = _mm512_add_ps(_mm512_unpacklo_ps(a, b),
                              _mm512_unpackhi_ps(a, b));  /* a0+a2 b0+b2 a1+a3 b1+b3 */
    __m512 cd = _mm512_add_ps(_mm512_unpacklo_ps(c, d),
                              _mm512_unpackhi_ps(c, d));
    __m512 lo = _mm512_castpd_ps(_mm512_unpacklo_pd(_mm512_castps_pd(ab),
                                                    _mm512_castps_pd(cd)));
    __m512 hi = _mm512_castpd_ps(_mm512_unpackhi_pd(_mm512_castps_pd(ab),
                                                    _mm512_castps_pd(cd)));
    return _mm512_add_ps(lo, hi);       /* a b c d per quarter */
}

/* The full sums of 16 vectors, in their order, as one vector. */
AVX512 static inline __m512
reduce16(__m512 v0, __m512 v1, __m512 v2, __m512 v3, __m512 v4, __m512 v5,
         __m512 v6, __m512 v7, __m512 v8, __m512 v9, __m512 v10, __m512 v11,
         __m512 v12, __m512 v13, __m512 v14, __m512 v15)
{
    __m512 s0 = hsum4(v0, v1, v2, v3), s1 = hsum4(v4, v5, v6, v7);
    __m512 s2 = hsum4(v8, v9, v10, v11), s3 = hsum4(v12, v13, v14, v15);
    /* add the quarters: s0|s1 -> quarters (s0q0+s0q1, s0q2+s0q3, ...) */
    __m512 t0 = _mm512_add_ps(_mm512_shuffle_f32x4(s0, s1, 0x88),
                              _mm512_shuffle_f32x4(s0, s1, 0xdd));
    __m512 t1 = _mm512_add_ps(_mm512_shuffle_f32x4(s2, s3, 0x88),
                              _mm512_shuffle_f32x4(s2, s3, 0xdd));
    /* t0 = s0(q0+q1) s0(q2+q3) s1(q0+q1) s1(q2+q3); same for t1 */
    return _mm512_add_ps(_mm512_shuffle_f32x4(t0, t1, 0x88),
                         _mm512_shuffle_f32x4(t0, t1, 0xdd));
}

/* r[0..15] (16 rows of 16) become its columns: r[c][j] = old r[j][c]. */
AVX512 static inline void
transpose16(__m512 r[16])
{
    __m512 t[16];
    for (int i = 0; i < 8; i++) {           /* pairs of rows, per 128-bit lane */
        t[2 * i] = _mm512_unpacklo_ps(r[2 * i], r[2 * i + 1]);
        t[2 * i + 1] = _mm512_unpackhi_ps(r[2 * i], r[2 * i + 1]);
    }
    for (int i = 0; i < 4; i++) {           /* lane L of r[4i+j]: column 4L+j */
        __m512d a = _mm512_castps_pd(t[4 * i]), b = _mm512_castps_pd(t[4 * i + 2]);
        __m512d c = _mm512_castps_pd(t[4 * i + 1]), d = _mm512_castps_pd(t[4 * i + 3]);
        r[4 * i] = _mm512_castpd_ps(_mm512_unpacklo_pd(a, b));
        r[4 * i + 1] = _mm512_castpd_ps(_mm512_unpackhi_pd(a, b));
        r[4 * i + 2] = _mm512_castpd_ps(_mm512_unpacklo_pd(c, d));
        r[4 * i + 3] = _mm512_castpd_ps(_mm512_unpackhi_pd(c, d));
    }
    for (int j = 0; j < 4; j++) {           /* lanes of rows 0-3, 4-7, 8-11, 12-15 */
        __m512 lo01 = _mm512_shuffle_f32x4(r[j], r[4 + j], 0x44);
        __m512 hi01 = _mm512_shuffle_f32x4(r[j], r[4 + j], 0xee);
        __m512 lo23 = _mm512_shuffle_f32x4(r[8 + j], r[12 + j], 0x44);
        __m512 hi23 = _mm512_shuffle_f32x4(r[8 + j], r[12 + j], 0xee);
        t[j] = _mm512_shuffle_f32x4(lo01, lo23, 0x88);
        t[4 + j] = _mm512_shuffle_f32x4(lo01, lo23, 0xdd);
        t[8 + j] = _mm512_shuffle_f32x4(hi01, hi23, 0x88);
        t[12 + j] = _mm512_shuffle_f32x4(hi01, hi23, 0xdd);
    }
    for (int i = 0; i < 16; i++)
        r[i] = t[i];
}

#endif

#endif
