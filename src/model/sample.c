#include "model/sample.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "base/xalloc.h"
#include "kernels/act.h"
#include "kernels/amx.h"
#include "kernels/attention.h"
#include "kernels/bf16.h"
#include "kernels/linear.h"
#include "kernels/loss.h"
#include "kernels/norm.h"
#include "kernels/prof.h"
#include "kernels/topk.h"

/* Positions per sequence in one prefill pass: big enough for efficient
 * matrix products, small enough to keep the scratch modest. */
#define PREFILL_CHUNK 64

enum gr_status
kvcache_init(struct kvcache *kv, const struct gpt_config *cfg, int NB,
             struct gr_error *err)
{
    memset(kv, 0, sizeof *kv);
    if (NB < 1)
        return gr_fail(err, GR_EINPUT, "number of sequences %d must be at "
                       "least 1", NB);
    enum gr_status rc = gpt_config_check(cfg, err);
    if (rc != GR_OK)
        return rc;
    kv->cfg = *cfg;
    kv->NB = NB;
    kv->chunk = cfg->T < PREFILL_CHUNK ? cfg->T : PREFILL_CHUNK;
    size_t L = cfg->L, C = cfg->C, T = cfg->T, R = (size_t)NB * kv->chunk;
    struct { float **p; size_t n; } v[] = {
        { &kv->k, L * NB * T * C }, { &kv->v, L * NB * T * C },
        { &kv->x, R * C }, { &kv->ln, R * C }, { &kv->qkv, R * 3 * C },
        { &kv->atty, R * C }, { &kv->fch, R * 4 * C },
        { &kv->mean, R }, { &kv->rstd, R }, { &kv->last, (size_t)NB * C },
        { &kv->scores, (size_t)NB * cfg->NH * T },
    };
    size_t n = 0;
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++)
        n += (v[i].n + 15) & ~(size_t)15;
    kv->mem = gr_aligned_alloc(n * sizeof(float));
    if (!kv->mem)
        return gr_fail(err, GR_ENOMEM, "cannot allocate %zu MiB for the "
                       "key-value cache of %d sequences",
                       n * sizeof(float) >> 20, NB);
    n = 0;
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        *v[i].p = kv->mem + n;
        n += (v[i].n + 15) & ~(size_t)15;
    }
    return GR_OK;
}

/* Rows up to which bf16 weights pay without AMX: reading the weights
 * bounds a few rows; more rows are bound by the products, and widening
 * bf16 costs instructions there, so they read the fp32 weights. */
#define BF16_MAX_ROWS 4

/* The weight matrices of generation: per layer qkv, attproj, fc, fcproj,
 * then (as layer L) the head; kv->wamx packs them in this order. */
enum { MAT_QKV, MAT_ATTPROJ, MAT_FC, MAT_FCPROJ, MAT_KINDS };

struct gen_mat {
    const float *w, *b;     /* weights (OC,C), bias (OC) or NULL */
    int C, OC;
};

/* Layer l's matrix of a kind (l == L: the head, whatever the kind); w and
 * b only when m is not NULL. */
static struct gen_mat
gen_mat(const struct gpt_config *cfg, const struct gpt *m, int l, int kind)
{
    size_t C = (size_t)cfg->C, c = (size_t)l * C;
    const struct gpt_params *p = m ? &m->p : NULL;
    if (l == cfg->L)
        return (struct gen_mat){ p ? p->wte : NULL, NULL, cfg->C, cfg->V };
    switch (kind) {
    case MAT_QKV:
        return (struct gen_mat){ p ? p->qkvw + 3 * c * C : NULL,
                                 p ? p->qkvb + 3 * c : NULL, cfg->C,
                                 3 * cfg->C };
    case MAT_ATTPROJ:
        return (struct gen_mat){ p ? p->attprojw + c * C : NULL,
                                 p ? p->attprojb + c : NULL, cfg->C, cfg->C };
    case MAT_FC:
        return (struct gen_mat){ p ? p->fcw + 4 * c * C : NULL,
                                 p ? p->fcb + 4 * c : NULL, cfg->C,
                                 4 * cfg->C };
    default:
        return (struct gen_mat){ p ? p->fcprojw + 4 * c * C : NULL,
                                 p ? p->fcprojb + c : NULL, 4 * cfg->C,
                                 cfg->C };
    }
}

/* Offset in kv->wamx of layer l's matrix of a kind (l == L: the head). */
static size_t
amx_offset(const struct gpt_config *cfg, int l, int kind)
{
    size_t per = 0, at = 0;
    for (int k = 0; k < MAT_KINDS; k++) {
        struct gen_mat g = gen_mat(cfg, NULL, 0, k);
        if (k == kind)
            at = per;
        per += amx_packed_len(g.C, g.OC);
    }
    return (size_t)l * per + (l < cfg->L ? at : 0);
}

static void
free_bf16(struct kvcache *kv)
{
    gr_aligned_free(kv->w16);
    gr_aligned_free(kv->wamx);
    kv->w16 = kv->wamx = kv->a16 = NULL;
}

enum gr_status
kvcache_set_precision(struct kvcache *kv, enum gpt_precision p,
                      struct gr_error *err)
{
    free_bf16(kv);
    kv->precision = GPT_FP32;
    if (p == GPT_FP32)
        return GR_OK;
    if (!linear_rows_bf16_available())
        return gr_fail(err, GR_EINPUT, "bf16 generation needs AVX-512 "
                       "(F, BW, VL), which this CPU lacks");
    uint16_t **w;
    size_t n;
    /* the packed matrices, the head last, then the rows' scratch */
    size_t rows_at = amx_offset(&kv->cfg, kv->cfg.L, 0) +
                     amx_packed_len(kv->cfg.C, kv->cfg.V);
    if (kv->NB <= BF16_MAX_ROWS) {
        w = &kv->w16;
        n = gpt_num_params(&kv->cfg);
    } else if (amx_available(NULL)) {
        w = &kv->wamx;
        n = rows_at + amx_rows_len(kv->NB * kv->chunk, 4 * kv->cfg.C);
    } else {
        return GR_OK;           /* fp32 (sample.h) */
    }
    *w = gr_aligned_alloc(n * sizeof **w);
    if (!*w)
        return gr_fail(err, GR_ENOMEM, "cannot allocate %zu MiB for bf16 "
                       "weights", n * sizeof **w >> 20);
    if (kv->wamx)
        kv->a16 = kv->wamx + rows_at;
    kv->precision = GPT_BF16;
    return GR_OK;
}

void
kvcache_release(struct kvcache *kv)
{
    if (!kv)
        return;
    free_bf16(kv);
    gr_aligned_free(kv->mem);
    memset(kv, 0, sizeof *kv);
}

void
kvcache_reset(struct kvcache *kv)
{
    kv->len = 0;
}

/* Copy the model's weights into the cache's bf16 forms. */
static void
refresh_bf16(const struct gpt *m, struct kvcache *kv)
{
    if (kv->w16)
        bf16_from_f32(kv->w16, m->params, m->nparams);
    if (!kv->wamx)
        return;
    for (int l = 0; l <= m->cfg.L; l++)
        for (int k = 0; k < (l < m->cfg.L ? MAT_KINDS : 1); k++) {
            struct gen_mat g = gen_mat(&m->cfg, m, l, k);
            amx_pack(kv->wamx + amx_offset(&m->cfg, l, k), g.w, g.C, g.OC);
        }
}

/* A linear layer of generation, layer l's matrix of a kind (l == L: the
 * head): out (R,OC) = [res +] inp (R,C) . w^T + b, with w the model's
 * (fp32), its place in kv->w16 (bf16) or in kv->wamx (AMX). */
static void
gen_linear(const struct gpt *m, const struct kvcache *kv, int l, int kind,
           float *out, const float *res, const float *inp, int R)
{
    struct gen_mat g = gen_mat(&m->cfg, m, l, kind);
    if (kv->wamx)
        linear_forward_rows_amx(out, res, inp, kv->a16,
                                kv->wamx + amx_offset(&m->cfg, l, kind), g.b,
                                R, g.C, g.OC);
    else if (kv->w16 && R <= BF16_MAX_ROWS)
        linear_forward_rows_bf16(out, res, inp, kv->w16 + (g.w - m->params),
                                 g.b, R, g.C, g.OC);
    else
        linear_forward_rows(out, res, inp, g.w, g.b, R, g.C, g.OC);
}

/* n positions pos..pos+n-1 of every sequence, tokens (NB,n) with row
 * stride ld; n <= kv->chunk. */
static void
forward_chunk(struct gpt *m, struct kvcache *kv, const int32_t *tokens,
              int ld, int pos, int n, float *logits_out)
{
    const struct gpt_config *cfg = &m->cfg;
    const struct gpt_params *p = &m->p;
    int L = cfg->L, C = cfg->C, NH = cfg->NH, V = cfg->V, Tc = cfg->T;
    int NB = kv->NB, R = NB * n;
    assert(kv->cfg.L == L && kv->cfg.C == C && kv->cfg.NH == NH &&
           kv->cfg.T == Tc);
    assert(n >= 1 && n <= kv->chunk && pos >= 0 && pos <= kv->len &&
           pos + n <= Tc);
    if (kv->precision == GPT_BF16 && pos == 0) {
        prof_begin(PROF_MATMUL);    /* new sequences: this model's weights */
        refresh_bf16(m, kv);
        prof_end(PROF_MATMUL);
    }
    for (int s = 0; s < NB; s++)
        for (int i = 0; i < n; i++) {
            int32_t tok = tokens[(size_t)s * ld + i];
            assert(tok >= 0 && tok < V);
            float *x = kv->x + ((size_t)s * n + i) * C;
            const float *e = p->wte + (size_t)tok * C;
            const float *q = p->wpe + (size_t)(pos + i) * C;
            for (int c = 0; c < C; c++)
                x[c] = e[c] + q[c];
        }
    size_t kvl = (size_t)NB * Tc * C;      /* one layer of the cache */
    for (int l = 0; l < L; l++) {
        size_t c = (size_t)l * C;
        layernorm_forward(kv->ln, kv->mean, kv->rstd, kv->x, p->ln1w + c,
                          p->ln1b + c, R, C);
        gen_linear(m, kv, l, MAT_QKV, kv->qkv, NULL, kv->ln, R);
        attention_forward_cached(kv->atty, kv->k + l * kvl, kv->v + l * kvl,
                                 kv->scores, kv->qkv, NB, n, pos, Tc, C, NH);
        gen_linear(m, kv, l, MAT_ATTPROJ, kv->x, kv->x, kv->atty, R);
        layernorm_forward(kv->ln, kv->mean, kv->rstd, kv->x, p->ln2w + c,
                          p->ln2b + c, R, C);
        gen_linear(m, kv, l, MAT_FC, kv->fch, NULL, kv->ln, R);
        gelu_forward(kv->fch, kv->fch, (size_t)R * 4 * C);
        gen_linear(m, kv, l, MAT_FCPROJ, kv->x, kv->x, kv->fch, R);
    }
    kv->len = pos + n;
    if (!logits_out)
        return;
    /* Only the last position of each sequence goes through the head. */
    for (int s = 0; s < NB; s++)
        memcpy(kv->ln + (size_t)s * C, kv->x + ((size_t)s * n + n - 1) * C,
               (size_t)C * sizeof(float));
    layernorm_forward(kv->last, kv->mean, kv->rstd, kv->ln, p->lnfw, p->lnfb,
                      NB, C);
    gen_linear(m, kv, L, 0, logits_out, NULL, kv->last, NB);
}

void
gpt_forward_step(struct gpt *m, struct kvcache *kv, const int32_t *tokens,
                 int pos, float *logits_out)
{
    forward_chunk(m, kv, tokens, 1, pos, 1, logits_out);
}

void
gpt_prefill(struct gpt *m, struct kvcache *kv, const int32_t *tokens, int n,
            float *logits_out)
{
    int pos = kv->len;
    assert(n >= 1 && pos + n <= m->cfg.T);
    /* Feed chunks of a copy-free strided view: tokens (NB,n). */
    for (int i = 0; i < n; i += kv->chunk) {
        int k = n - i < kv->chunk ? n - i : kv->chunk;
        forward_chunk(m, kv, tokens + i, n, pos + i, k,
                      i + k == n ? logits_out : NULL);
    }
}

/* --- the sampler ------------------------------------------------------- */

struct sampler_opts
sampler_defaults(void)
{
    return (struct sampler_opts){ .temperature = 1.0f, .top_k = 0,
                                  .top_p = 1.0f, .repetition_penalty = 1.0f };
}

int
sample_next(const float *logits, int V, const struct sampler_opts *o,
            const int32_t *history, int nhist, struct gr_rng *rng,
            float *scratch)
{
    float *x = scratch, *sorted = scratch + V;
    memcpy(x, logits, (size_t)V * sizeof *x);
    float pen = o->repetition_penalty;
    if (history && pen > 0.0f && pen != 1.0f)
        for (int i = 0; i < nhist; i++) {
            int t = history[i];
            if (t < 0 || t >= V)
                continue;
            float l = logits[t];    /* from the original: once per token */
            x[t] = l > 0.0f ? l / pen : l * pen;
        }
    if (!(o->temperature > 0.0f) || o->top_k == 1) {
        int best = 0;
        for (int i = 1; i < V; i++)
            if (x[i] > x[best])
                best = i;
        return best;
    }
    softmax_rows(x, 1, V, o->temperature);
    /* Keep tokens whose probability reaches a threshold set by top-k and
     * top-p on the sorted probabilities (ties at the threshold stay). */
    float thresh = 0.0f;
    int k = o->top_k > 0 && o->top_k < V ? o->top_k : V;
    int use_p = o->top_p > 0.0f && o->top_p < 1.0f;
    if (k < V || use_p) {
        top_values(x, V, k, sorted);
        int keep = k;
        if (use_p) {
            double cum = 0.0;
            for (int i = 0; i < k; i++) {
                cum += sorted[i];
                if (cum >= o->top_p) {
                    keep = i + 1;
                    break;
                }
            }
        }
        thresh = sorted[keep - 1];
    }
    /* the kept tokens, in the order of the vocabulary (sorted is free) */
    int32_t *kept = (int32_t *)sorted;
    int nk = indices_at_least(x, V, thresh, kept);
    double total = 0.0;
    for (int i = 0; i < nk; i++)
        total += x[kept[i]];
    double r = rng_float(rng) * total, cum = 0.0;
    int last = 0;
    for (int i = 0; i < nk; i++) {
        cum += x[kept[i]];
        last = kept[i];
        if (r < cum)
            return last;
    }
    return last;        /* rounding: the last kept token */
}
