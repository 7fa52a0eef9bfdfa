#include "kernels/attention.h"

#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>

#include "kernels/amx.h"
#include "kernels/blas.h"
#include "kernels/par.h"
#include "kernels/prof.h"
#include "kernels/simd.h"

/* Rows r0..r0+nr of S (ld T) hold nk scores each; make each row t a
 * softmax over columns 0..t (causal) or 0..nk-1, zero to column nk. */
GR_CLONES static void
softmax_block(float *S, int T, int r0, int nr, int nk, int causal)
{
    for (int i = 0; i < nr; i++) {
        float *s = S + (size_t)i * T;
        int n = causal ? r0 + i + 1 : nk;
        float mx = s[0];
        for (int j = 1; j < n; j++)
            mx = s[j] > mx ? s[j] : mx;
        float sum = 0.0f;
        for (int j = 0; j < n; j++) {
            s[j] = expf(s[j] - mx);
            sum += s[j];
        }
        float r = 1.0f / sum;
        for (int j = 0; j < n; j++)
            s[j] *= r;
        for (int j = n; j < nk; j++)
            s[j] = 0.0f;
    }
}

/* dS = P * (dP - sum(P * dP)) * scale, in place over dP, same shape rules. */
GR_CLONES static void
dsoftmax_block(float *dP, const float *P, int T, int r0, int nr, int nk,
               int causal, float scale)
{
    for (int i = 0; i < nr; i++) {
        float *d = dP + (size_t)i * T;
        const float *p = P + (size_t)i * T;
        int n = causal ? r0 + i + 1 : nk;
        float dot = 0.0f;
        for (int j = 0; j < n; j++)
            dot += p[j] * d[j];
        for (int j = 0; j < n; j++)
            d[j] = p[j] * (d[j] - dot) * scale;
        for (int j = n; j < nk; j++)
            d[j] = 0.0f;
    }
}

/* Threads for a loop over heads: in one-pool mode, heads run in parallel
 * with their products on one thread each; otherwise one after another with
 * OpenBLAS threading each product.  Tiny problems stay on one thread. */
static int
par_heads(int B, int T, int C)
{
    if (!kernels_split_mode() || (double)B * T * T * C < (1 << 21))
        return 1;
    return kernels_threads();
}

/* One (b, h): q, k, v (T,hs) with row stride 3C; y (T,hs) stride C. */
static void
head_forward(float *y, float *att, const float *q, const float *k,
             const float *v, int T, int C, int hs, int causal)
{
    int C3 = 3 * C, blk = causal ? ATT_BLOCK : T;
    float scale = 1.0f / sqrtf((float)hs);
    for (int r0 = 0; r0 < T; r0 += blk) {
        int nr = T - r0 < blk ? T - r0 : blk;
        int nk = causal ? r0 + nr : T;
        float *S = att + (size_t)r0 * T;
        gr_sgemm(CblasNoTrans, CblasTrans, nr, nk, hs, scale,
                 q + (size_t)r0 * C3, C3, k, C3, 0.0f, S, T);
        softmax_block(S, T, r0, nr, nk, causal);
        gr_sgemm(CblasNoTrans, CblasNoTrans, nr, hs, nk, 1.0f, S, T, v, C3,
                 0.0f, y + (size_t)r0 * C, C);
    }
}

static void
head_backward(float *dq, float *dk, float *dv, float *dS, const float *dy,
              const float *q, const float *k, const float *v,
              const float *att, int T, int C, int hs, int causal)
{
    int C3 = 3 * C, blk = causal ? ATT_BLOCK : T;
    float scale = 1.0f / sqrtf((float)hs);
    for (int r0 = 0; r0 < T; r0 += blk) {
        int nr = T - r0 < blk ? T - r0 : blk;
        int nk = causal ? r0 + nr : T;
        float *d = dS + (size_t)r0 * T;
        /* dP = dy v^T */
        gr_sgemm(CblasNoTrans, CblasTrans, nr, nk, hs, 1.0f,
                 dy + (size_t)r0 * C, C, v, C3, 0.0f, d, T);
        dsoftmax_block(d, att + (size_t)r0 * T, T, r0, nr, nk, causal, scale);
        /* dq = dS k */
        gr_sgemm(CblasNoTrans, CblasNoTrans, nr, hs, nk, 1.0f, d, T, k, C3,
                 0.0f, dq + (size_t)r0 * C3, C3);
    }
    /* Column block c0..c0+nc of dS and P is nonzero only in rows >= c0
     * when causal. */
    for (int c0 = 0; c0 < T; c0 += blk) {
        int nc = T - c0 < blk ? T - c0 : blk;
        int rs = causal ? c0 : 0, n = T - rs;
        /* dk = dS^T q;  dv = P^T dy */
        gr_sgemm(CblasTrans, CblasNoTrans, nc, hs, n, 1.0f,
                 dS + (size_t)rs * T + c0, T, q + (size_t)rs * C3, C3,
                 0.0f, dk + (size_t)c0 * C3, C3);
        gr_sgemm(CblasTrans, CblasNoTrans, nc, hs, n, 1.0f,
                 att + (size_t)rs * T + c0, T, dy + (size_t)rs * C, C,
                 0.0f, dv + (size_t)c0 * C3, C3);
    }
}

/* ---- bf16 on AMX tiles ----------------------------------------------------
 *
 * The same blocks as above, each product on the thread's AMX tiles.  b
 * operands are packed per head: k (and v) as the transposed b of the
 * scores (and of dP), v (and k) as the b of the values (and of dq).  The
 * key gradients come out transposed, dk^T = q^T dS and dv^T = dy^T P,
 * so that the long inner dimension (queries) sits in the packed b; a
 * 64 x hs block is then written back in place. */

int
attention_bf16_runs(int T, int C, int NH)
{
    int hs = NH > 0 ? C / NH : 0;
    return hs > 0 && hs % 32 == 0 && T % ATT_BLOCK == 0 && ATT_BLOCK % 32 == 0 &&
           amx_available(NULL);
}

/* A thread's scratch for its heads, one allocation per call (under a
 * megabyte for a context of 1024). */
struct amx_head {
    gr_bf16 *bt;        /* (hs x T) packed: k^T, or v^T for dP */
    gr_bf16 *bn;        /* (T x hs) packed: v, or k for dq */
    gr_bf16 *a;         /* (ATT_BLOCK x T): a block of rows in bf16 */
    gr_bf16 *qt, *dyt;  /* (hs x T): q^T and dy^T */
    gr_bf16 *bs;        /* (T x ATT_BLOCK) packed: a column block of dS or P */
    float *ct;          /* (hs x ATT_BLOCK): dk^T or dv^T of a block */
    void *mem;
};

static void
amx_head_init(struct amx_head *s, int T, int hs)
{
    /* packed b operands: amx_packed_len(inner, columns) */
    size_t nb = amx_packed_len(hs, T), nt = (size_t)hs * T;
    size_t na = (size_t)ATT_BLOCK * T, ns = amx_packed_len(T, ATT_BLOCK);
    size_t n16 = 2 * nb + na + 2 * nt + ns;     /* all multiples of 32 */
    size_t bytes = n16 * sizeof(gr_bf16) + (size_t)hs * ATT_BLOCK * sizeof(float);
    s->mem = aligned_alloc(64, (bytes + 63) / 64 * 64);
    if (!s->mem) {
        fprintf(stderr, "garage: out of memory in attention\n");
        abort();
    }
    s->bt = s->mem;
    s->bn = s->bt + nb;
    s->a = s->bn + nb;
    s->qt = s->a + na;
    s->dyt = s->qt + nt;
    s->bs = s->dyt + nt;
    s->ct = (float *)(s->bs + ns);
}

static void
head_forward_amx(struct amx_head *s, float *y, float *att, const float *q,
                 const float *k, const float *v, int T, int C, int hs, int causal)
{
    int C3 = 3 * C, KT = T / 32, HT = hs / 32;
    amx_small_pack_bt(s->bt, k, C3, hs, T);         /* b[d][key] = k[key][d] */
    amx_small_pack_b(s->bn, v, C3, T, hs);          /* b[key][d] = v[key][d] */
    for (int r0 = 0; r0 < T; r0 += ATT_BLOCK) {
        int nk = causal ? r0 + ATT_BLOCK : T;
        float *S = att + (size_t)r0 * T;
        amx_small_rows(s->a, hs, q + (size_t)r0 * C3, C3, ATT_BLOCK, hs,
                       1.0f / sqrtf((float)hs));
        amx_small_product(S, T, s->a, hs, s->bt, HT, HT, ATT_BLOCK, nk);
        softmax_block(S, T, r0, ATT_BLOCK, nk, causal);
        amx_small_rows(s->a, T, S, T, ATT_BLOCK, nk, 1.0f);
        amx_small_product(y + (size_t)r0 * C, C, s->a, T, s->bn, KT, nk / 32,
                          ATT_BLOCK, hs);
    }
}

static void
head_backward_amx(struct amx_head *s, float *dq, float *dk, float *dv,
                  float *dS, const float *dy, const float *q, const float *k,
                  const float *v, const float *att, int T, int C, int hs,
                  int causal)
{
    int C3 = 3 * C, KT = T / 32, HT = hs / 32;
    float scale = 1.0f / sqrtf((float)hs);
    amx_small_pack_bt(s->bt, v, C3, hs, T);         /* b[d][key] = v[key][d] */
    amx_small_pack_b(s->bn, k, C3, T, hs);          /* b[key][d] = k[key][d] */
    for (int r0 = 0; r0 < T; r0 += ATT_BLOCK) {
        int nk = causal ? r0 + ATT_BLOCK : T;
        float *d = dS + (size_t)r0 * T;
        /* dP = dy v^T */
        amx_small_rows(s->a, hs, dy + (size_t)r0 * C, C, ATT_BLOCK, hs, 1.0f);
        amx_small_product(d, T, s->a, hs, s->bt, HT, HT, ATT_BLOCK, nk);
        dsoftmax_block(d, att + (size_t)r0 * T, T, r0, ATT_BLOCK, nk, causal,
                       scale);
        /* dq = dS k */
        amx_small_rows(s->a, T, d, T, ATT_BLOCK, nk, 1.0f);
        amx_small_product(dq + (size_t)r0 * C3, C3, s->a, T, s->bn, KT, nk / 32,
                          ATT_BLOCK, hs);
    }
    amx_small_rows_t(s->qt, T, q, C3, hs, T);       /* qt[d][t] = q[t][d] */
    amx_small_rows_t(s->dyt, T, dy, C, hs, T);
    /* Column block c0 of dS and P is nonzero only in rows >= c0 when causal. */
    for (int c0 = 0; c0 < T; c0 += ATT_BLOCK) {
        int rs = causal ? c0 : 0, n = T - rs;
        /* dk^T = q^T dS[:, block];  dv^T = dy^T P[:, block] */
        amx_small_pack_b(s->bs, dS + (size_t)rs * T + c0, T, n, ATT_BLOCK);
        amx_small_product(s->ct, ATT_BLOCK, s->qt + rs, T, s->bs, n / 32, n / 32,
                          hs, ATT_BLOCK);
        amx_small_transpose(dk + (size_t)c0 * C3, C3, s->ct, ATT_BLOCK, hs, ATT_BLOCK);
        amx_small_pack_b(s->bs, att + (size_t)rs * T + c0, T, n, ATT_BLOCK);
        amx_small_product(s->ct, ATT_BLOCK, s->dyt + rs, T, s->bs, n / 32, n / 32,
                          hs, ATT_BLOCK);
        amx_small_transpose(dv + (size_t)c0 * C3, C3, s->ct, ATT_BLOCK, hs, ATT_BLOCK);
    }
}

/* One layer's attention for amx_for_heads: forward, out (B,T,C) and att
 * from qkv; backward, out = dqkv and att = datt from dout, qkv and patt. */
struct att_args {
    float *out, *att;
    const float *qkv, *dout, *patt;
    int T, C, NH, causal;
};

/* fn(s, bh, arg) for every (batch, head) bh, in parallel, each thread
 * with its scratch and its tiles set up. */
static void
amx_for_heads(int nt, int nbh, int T, int hs,
              void (*fn)(struct amx_head *s, int bh, const struct att_args *a),
              const struct att_args *a)
{
#pragma omp parallel num_threads(nt) if (nt > 1)
    {
        struct amx_head s;
        amx_head_init(&s, T, hs);
        amx_small_begin();
#pragma omp for schedule(static)
        for (int bh = 0; bh < nbh; bh++)
            fn(&s, bh, a);
        amx_small_end();
        free(s.mem);
    }
}

static void
forward_amx(struct amx_head *s, int bh, const struct att_args *a)
{
    int T = a->T, C = a->C, hs = C / a->NH, b = bh / a->NH, h = bh % a->NH;
    const float *base = a->qkv + (size_t)b * T * 3 * C + h * hs;
    head_forward_amx(s, a->out + (size_t)b * T * C + h * hs,
                     a->att + (size_t)bh * T * T, base, base + C, base + 2 * C,
                     T, C, hs, a->causal);
}

static void
backward_amx(struct amx_head *s, int bh, const struct att_args *a)
{
    int T = a->T, C = a->C, hs = C / a->NH, b = bh / a->NH, h = bh % a->NH;
    size_t o3 = (size_t)b * T * 3 * C + h * hs;
    const float *base = a->qkv + o3;
    float *dbase = a->out + o3;
    head_backward_amx(s, dbase, dbase + C, dbase + 2 * C, a->att + (size_t)bh * T * T,
                      a->dout + (size_t)b * T * C + h * hs, base, base + C,
                      base + 2 * C, a->patt + (size_t)bh * T * T, T, C, hs,
                      a->causal);
}

void
attention_forward(float *out, float *att, const float *qkv,
                  int B, int T, int C, int NH, int causal, int bf16)
{
    prof_begin(PROF_ATTENTION);
    int hs = C / NH, nbh = B * NH;
    /* One pool: heads in parallel, each product on its own thread.
     * Otherwise one head after another, OpenBLAS threading each product. */
    int nt = par_heads(B, T, C);
    if (bf16 && attention_bf16_runs(T, C, NH)) {
        struct att_args a = { .out = out, .att = att, .qkv = qkv, .T = T,
                              .C = C, .NH = NH, .causal = causal };
        amx_for_heads(nt, nbh, T, hs, forward_amx, &a);
        prof_end(PROF_ATTENTION);
        return;
    }
#pragma omp parallel for num_threads(nt) if (nt > 1) schedule(static)
    for (int bh = 0; bh < nbh; bh++) {
        int b = bh / NH, h = bh % NH;
        const float *base = qkv + (size_t)b * T * 3 * C + h * hs;
        head_forward(out + (size_t)b * T * C + h * hs,
                     att + (size_t)bh * T * T, base, base + C, base + 2 * C,
                     T, C, hs, causal);
    }
    prof_end(PROF_ATTENTION);
}

void
attention_backward(float *dqkv, float *datt, const float *dout,
                   const float *qkv, const float *att,
                   int B, int T, int C, int NH, int causal, int bf16)
{
    prof_begin(PROF_ATTENTION);
    int hs = C / NH, nbh = B * NH;
    int nt = par_heads(B, T, C);
    if (bf16 && attention_bf16_runs(T, C, NH)) {
        struct att_args a = { .out = dqkv, .att = datt, .qkv = qkv, .dout = dout,
                              .patt = att, .T = T, .C = C, .NH = NH,
                              .causal = causal };
        amx_for_heads(nt, nbh, T, hs, backward_amx, &a);
        prof_end(PROF_ATTENTION);
        return;
    }
#pragma omp parallel for num_threads(nt) if (nt > 1) schedule(static)
    for (int bh = 0; bh < nbh; bh++) {
        int b = bh / NH, h = bh % NH;
        size_t o3 = (size_t)b * T * 3 * C + h * hs;
        const float *base = qkv + o3;
        float *dbase = dqkv + o3;
        head_backward(dbase, dbase + C, dbase + 2 * C,
                      datt + (size_t)bh * T * T,
                      dout + (size_t)b * T * C + h * hs,
                      base, base + C, base + 2 * C,
                      att + (size_t)bh * T * T, T, C, hs, causal);
    }
    prof_end(PROF_ATTENTION);
}

#ifdef HAVE_AVX512
/* scores64 for heads of 64: 16 keys at a time, each a dot product of 4
 * vectors, the 16 sums reduced together into one vector. */
AVX512 static void
scores64_avx512(float *sc, const float *q, const float *K, int nk,
                float scale)
{
    __m512 s = _mm512_set1_ps(scale);
    __m512 q0 = _mm512_mul_ps(_mm512_loadu_ps(q), s);
    __m512 q1 = _mm512_mul_ps(_mm512_loadu_ps(q + 16), s);
    __m512 q2 = _mm512_mul_ps(_mm512_loadu_ps(q + 32), s);
    __m512 q3 = _mm512_mul_ps(_mm512_loadu_ps(q + 48), s);
#define DOT(t) __m512 a##t; do { const float *k = K + (size_t)(j + t) * 64;  \
        a##t = _mm512_mul_ps(q0, _mm512_loadu_ps(k));                        \
        a##t = _mm512_fmadd_ps(q1, _mm512_loadu_ps(k + 16), a##t);           \
        a##t = _mm512_fmadd_ps(q2, _mm512_loadu_ps(k + 32), a##t);           \
        a##t = _mm512_fmadd_ps(q3, _mm512_loadu_ps(k + 48), a##t); } while (0)
    int j = 0;
    for (; j + 16 <= nk; j += 16) {
        DOT(0); DOT(1); DOT(2); DOT(3); DOT(4); DOT(5); DOT(6); DOT(7);
        DOT(8); DOT(9); DOT(10); DOT(11); DOT(12); DOT(13); DOT(14); DOT(15);
        _mm512_storeu_ps(sc + j, reduce16(a0, a1, a2, a3, a4, a5, a6, a7, a8,
                                          a9, a10, a11, a12, a13, a14, a15));
    }
    for (; j < nk; j++) {
        DOT(0);
        sc[j] = _mm512_reduce_add_ps(a0);
    }
#undef DOT
}
#endif

/* sc (nk) = scale * (q . K[j]) for keys j < nk, K (nk,hs). */
GR_CLONES static void
scores_generic(float *sc, const float *q, const float *K, int nk, int hs,
               float scale)
{
    for (int j = 0; j < nk; j++) {
        const float *kj = K + (size_t)j * hs;
        float s = 0.0f;
        for (int d = 0; d < hs; d++)
            s += q[d] * kj[d];
        sc[j] = s * scale;
    }
}

static void
scores(float *sc, const float *q, const float *K, int nk, int hs,
       float scale)
{
#ifdef HAVE_AVX512
    if (hs == 64 && simd_avx512()) {
        scores64_avx512(sc, q, K, nk, scale);
        return;
    }
#endif
    scores_generic(sc, q, K, nk, hs, scale);
}

/* One (sequence, head): n queries (row stride 3C) against keys and values
 * 0..pos+i (T,hs); y rows have stride C. */
GR_CLONES static void
head_cached(float *y, float *sc, const float *q, const float *K,
            const float *Vc, int n, int pos, int C, int hs)
{
    float scale = 1.0f / sqrtf((float)hs);
    for (int i = 0; i < n; i++) {
        const float *qi = q + (size_t)i * 3 * C;
        int nk = pos + i + 1;
        scores(sc, qi, K, nk, hs, scale);
        float mx = sc[0];
        for (int j = 1; j < nk; j++)
            mx = sc[j] > mx ? sc[j] : mx;
        float sum = 0.0f;
        for (int j = 0; j < nk; j++) {
            sc[j] = expf(sc[j] - mx);
            sum += sc[j];
        }
        float r = 1.0f / sum;
        float *yi = y + (size_t)i * C;
        if (hs == 64) {     /* the usual head size: sums in registers */
            float acc[64] = { 0 };
            for (int j = 0; j < nk; j++) {
                const float *vj = Vc + (size_t)j * 64;
                float p = sc[j];
                for (int d = 0; d < 64; d++)
                    acc[d] += p * vj[d];
            }
            for (int d = 0; d < 64; d++)
                yi[d] = acc[d] * r;
            continue;
        }
        for (int d = 0; d < hs; d++)
            yi[d] = 0.0f;
        for (int j = 0; j < nk; j++) {
            const float *vj = Vc + (size_t)j * hs;
            float p = sc[j] * r;
            for (int d = 0; d < hs; d++)
                yi[d] += p * vj[d];
        }
    }
}

void
attention_forward_cached(float *out, float *kc, float *vc, float *scores,
                         const float *qkv, int NB, int n, int pos, int Tc,
                         int C, int NH)
{
    prof_begin(PROF_ATTENTION);
    int hs = C / NH, nsh = NB * NH;
    size_t work = (size_t)nsh * n * (pos + n) * hs;
#pragma omp parallel for num_threads(kernels_threads()) if (work > 1 << 16)
    for (int sh = 0; sh < nsh; sh++) {
        int s = sh / NH, h = sh % NH;
        const float *q = qkv + (size_t)s * n * 3 * C + h * hs;
        float *K = kc + (size_t)sh * Tc * hs, *Vc = vc + (size_t)sh * Tc * hs;
        for (int i = 0; i < n; i++)
            for (int d = 0; d < hs; d++) {
                K[(size_t)(pos + i) * hs + d] = q[(size_t)i * 3 * C + C + d];
                Vc[(size_t)(pos + i) * hs + d] =
                    q[(size_t)i * 3 * C + 2 * C + d];
            }
        head_cached(out + (size_t)s * n * C + h * hs,
                    scores + (size_t)sh * Tc, q, K, Vc, n, pos, C, hs);
    }
    prof_end(PROF_ATTENTION);
}
