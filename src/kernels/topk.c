#include "kernels/topk.h"

#include <stdlib.h>
#include <string.h>

#include "kernels/par.h"
#include "kernels/simd.h"

static int
cmp_desc(const void *a, const void *b)
{
    float x = *(const float *)a, y = *(const float *)b;
    return x < y ? 1 : x > y ? -1 : 0;
}

/* Offer v to a min-heap top of the k best so far (h of them now);
 * returns the new count. */
static inline int
heap_offer(float *top, int h, int k, float v)
{
    if (h == k && !(v > top[0]))
        return h;
    int j;
    if (h < k) {                        /* sift up from a new leaf */
        j = h++;
        while (j > 0 && top[(j - 1) / 2] > v) {
            top[j] = top[(j - 1) / 2];
            j = (j - 1) / 2;
        }
    } else {                            /* replace the root, sift down */
        j = 0;
        for (;;) {
            int c = 2 * j + 1;
            if (c >= k)
                break;
            if (c + 1 < k && top[c + 1] < top[c])
                c++;
            if (!(top[c] < v))
                break;
            top[j] = top[c];
            j = c;
        }
    }
    top[j] = v;
    return h;
}

#ifdef HAVE_AVX512
/* Values i0.. of x (n) offered to a full heap, 16 compared with its root
 * at once: most of a row is below it. */
AVX512 static void
offer_avx512(const float *x, int i0, int n, int k, float *top)
{
    int i = i0;
    for (; i + 16 <= n; i += 16) {
        __mmask16 m = _mm512_cmp_ps_mask(_mm512_loadu_ps(x + i),
                                         _mm512_set1_ps(top[0]), _CMP_GT_OQ);
        while (m) {
            int j = __builtin_ctz(m);
            heap_offer(top, k, k, x[i + j]);
            m &= m - 1;
        }
    }
    for (; i < n; i++)
        heap_offer(top, k, k, x[i]);
}

AVX512 static int
at_least_avx512(const float *x, int n, float t, int32_t *idx)
{
    int m = 0, i = 0;
    __m512i at = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11,
                                   12, 13, 14, 15);
    __m512 tv = _mm512_set1_ps(t);
    for (; i + 16 <= n; i += 16) {
        __mmask16 k = _mm512_cmp_ps_mask(_mm512_loadu_ps(x + i), tv,
                                         _CMP_GE_OQ);
        if (k) {
            _mm512_mask_compressstoreu_epi32(idx + m, k, at);
            m += __builtin_popcount(k);
        }
        at = _mm512_add_epi32(at, _mm512_set1_epi32(16));
    }
    for (; i < n; i++)
        if (x[i] >= t)
            idx[m++] = i;
    return m;
}
#endif

/* A min-heap of the k best so far: O(n log k) instead of sorting all n,
 * while k is under a quarter of n. */
void
top_values(const float *x, int n, int k, float *top)
{
    if (k >= n / 4) {
        memcpy(top, x, (size_t)n * sizeof *top);
        qsort(top, (size_t)n, sizeof *top, cmp_desc);
        return;
    }
    int h = 0, i = 0;
    for (; i < n && h < k; i++)
        h = heap_offer(top, h, k, x[i]);
#ifdef HAVE_AVX512
    if (simd_avx512()) {
        offer_avx512(x, i, n, k, top);
        i = n;
    }
#endif
    for (; i < n; i++)
        h = heap_offer(top, h, k, x[i]);
    qsort(top, (size_t)h, sizeof *top, cmp_desc);
}

int
indices_at_least(const float *x, int n, float t, int32_t *idx)
{
#ifdef HAVE_AVX512
    if (simd_avx512())
        return at_least_avx512(x, n, t, idx);
#endif
    int m = 0;
    for (int i = 0; i < n; i++)
        if (x[i] >= t)
            idx[m++] = i;
    return m;
}
