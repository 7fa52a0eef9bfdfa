#include "model/gpt.h"

#include <assert.h>
#include <math.h>
#include <string.h>

#include "base/xalloc.h"
#include "kernels/act.h"
#include "kernels/attention.h"
#include "kernels/bf16.h"
#include "kernels/linear.h"
#include "kernels/loss.h"
#include "kernels/norm.h"
#include "kernels/prof.h"

#define MAX_LAYERS 256
#define MAX_DIM 16384
#define MAX_CONTEXT 65536
#define MAX_VOCAB (1 << 24)     /* token ids stay exact in a float */

enum gr_status
gpt_config_check(const struct gpt_config *cfg, struct gr_error *err)
{
    if (cfg->L < 1 || cfg->L > MAX_LAYERS)
        return gr_fail(err, GR_EINPUT, "layers %d is out of range 1..%d",
                       cfg->L, MAX_LAYERS);
    if (cfg->C < 1 || cfg->C > MAX_DIM)
        return gr_fail(err, GR_EINPUT, "dim %d is out of range 1..%d",
                       cfg->C, MAX_DIM);
    if (cfg->NH < 1 || cfg->NH > cfg->C)
        return gr_fail(err, GR_EINPUT, "heads %d is out of range 1..%d",
                       cfg->NH, cfg->C);
    if (cfg->C % cfg->NH != 0)
        return gr_fail(err, GR_EINPUT, "dim %d is not divisible by heads %d",
                       cfg->C, cfg->NH);
    if (cfg->T < 1 || cfg->T > MAX_CONTEXT)
        return gr_fail(err, GR_EINPUT, "context %d is out of range 1..%d",
                       cfg->T, MAX_CONTEXT);
    if (cfg->V < 1 || cfg->V > MAX_VOCAB)
        return gr_fail(err, GR_EINPUT, "vocab %d is out of range 1..%d",
                       cfg->V, MAX_VOCAB);
    return GR_OK;
}

void
gpt_tensors(const struct gpt_config *cfg, struct gpt_tensor out[GPT_NTENSORS])
{
    size_t L = cfg->L, C = cfg->C;
    const struct { const char *name; int ndim; size_t s0, s1, s2; int decay; }
    t[GPT_NTENSORS] = {
        { "wte",      2, cfg->V, C, 1, 1 },
        { "wpe",      2, cfg->T, C, 1, 1 },
        { "ln1w",     2, L, C, 1, 0 },
        { "ln1b",     2, L, C, 1, 0 },
        { "qkvw",     3, L, 3 * C, C, 1 },
        { "qkvb",     2, L, 3 * C, 1, 0 },
        { "attprojw", 3, L, C, C, 1 },
        { "attprojb", 2, L, C, 1, 0 },
        { "ln2w",     2, L, C, 1, 0 },
        { "ln2b",     2, L, C, 1, 0 },
        { "fcw",      3, L, 4 * C, C, 1 },
        { "fcb",      2, L, 4 * C, 1, 0 },
        { "fcprojw",  3, L, C, 4 * C, 1 },
        { "fcprojb",  2, L, C, 1, 0 },
        { "lnfw",     1, C, 1, 1, 0 },
        { "lnfb",     1, C, 1, 1, 0 },
    };
    size_t off = 0;
    for (int i = 0; i < GPT_NTENSORS; i++) {
        out[i].name = t[i].name;
        out[i].offset = off;
        out[i].numel = t[i].s0 * t[i].s1 * t[i].s2;
        out[i].ndim = t[i].ndim;
        out[i].shape[0] = (int)t[i].s0;
        out[i].shape[1] = t[i].ndim > 1 ? (int)t[i].s1 : 0;
        out[i].shape[2] = t[i].ndim > 2 ? (int)t[i].s2 : 0;
        out[i].decay = t[i].decay;
        off += out[i].numel;
    }
}

size_t
gpt_num_params(const struct gpt_config *cfg)
{
    struct gpt_tensor t[GPT_NTENSORS];
    gpt_tensors(cfg, t);
    return t[GPT_NTENSORS - 1].offset + t[GPT_NTENSORS - 1].numel;
}

int
gpt_param_is_matrix(const struct gpt_config *cfg, size_t i)
{
    struct gpt_tensor t[GPT_NTENSORS];
    gpt_tensors(cfg, t);
    for (int k = 0; k < GPT_NTENSORS; k++)
        if (i < t[k].offset + t[k].numel)
            return t[k].decay;
    return 0;
}

static void
point_params(struct gpt_params *p, float *base, const struct gpt_config *cfg)
{
    struct gpt_tensor t[GPT_NTENSORS];
    gpt_tensors(cfg, t);
    float **v[GPT_NTENSORS] = {
        &p->wte, &p->wpe, &p->ln1w, &p->ln1b, &p->qkvw, &p->qkvb,
        &p->attprojw, &p->attprojb, &p->ln2w, &p->ln2b, &p->fcw, &p->fcb,
        &p->fcprojw, &p->fcprojb, &p->lnfw, &p->lnfb,
    };
    for (int i = 0; i < GPT_NTENSORS; i++)
        *v[i] = base + t[i].offset;
}

enum gr_status
gpt_create(struct gpt *m, const struct gpt_config *cfg, struct gr_error *err)
{
    memset(m, 0, sizeof *m);
    enum gr_status rc = gpt_config_check(cfg, err);
    if (rc != GR_OK)
        return rc;
    m->cfg = *cfg;
    m->nparams = gpt_num_params(cfg);
    m->loss_scale = 1.0f;
    size_t bytes = m->nparams * sizeof(float);
    float **bufs[4] = { &m->params, &m->grads, &m->adam_m, &m->adam_v };
    for (int i = 0; i < 4; i++) {
        *bufs[i] = gr_aligned_alloc(bytes);
        if (!*bufs[i]) {
            gpt_release(m);
            return gr_fail(err, GR_ENOMEM, "cannot allocate %zu MiB for a "
                           "model of %zu parameters", 4 * bytes >> 20,
                           gpt_num_params(cfg));
        }
    }
    point_params(&m->p, m->params, cfg);
    point_params(&m->g, m->grads, cfg);
    return GR_OK;
}

void
gpt_init_weights(struct gpt *m, struct gr_rng *rng)
{
    struct gpt_tensor t[GPT_NTENSORS];
    gpt_tensors(&m->cfg, t);
    float resid = 0.02f / sqrtf(2.0f * m->cfg.L);
    for (int k = 0; k < GPT_NTENSORS; k++) {
        float *x = m->params + t[k].offset;
        size_t n = t[k].numel;
        const char *name = t[k].name;
        if (t[k].decay) {
            float std = strcmp(name, "attprojw") == 0 ||
                        strcmp(name, "fcprojw") == 0 ? resid : 0.02f;
            for (size_t i = 0; i < n; i++)
                x[i] = std * rng_normal(rng);
        } else {
            float v = strcmp(name, "ln1w") == 0 || strcmp(name, "ln2w") == 0 ||
                      strcmp(name, "lnfw") == 0 ? 1.0f : 0.0f;
            for (size_t i = 0; i < n; i++)
                x[i] = v;
        }
    }
}

void
gpt_release(struct gpt *m)
{
    if (!m)
        return;
    gr_aligned_free(m->params);
    gr_aligned_free(m->grads);
    gr_aligned_free(m->adam_m);
    gr_aligned_free(m->adam_v);
    gr_aligned_free(m->acts_mem);
    gr_aligned_free(m->params16);
    gr_aligned_free(m->acts16);
    memset(m, 0, sizeof *m);
}

/* Lay the activations for (B,T) out from base (NULL: only count);
 * returns the number of floats.  Every view starts on 64 bytes. */
static size_t
acts_layout(const struct gpt_config *cfg, int B, int T, struct gpt_acts *a,
            float *base)
{
    size_t L = cfg->L, C = cfg->C, NH = cfg->NH, V = cfg->V;
    size_t BT = (size_t)B * T, TT = (size_t)T * T;
    struct { float **p; size_t n; } v[] = {
        { &a->encoded, BT * C },
        { &a->ln1, L * BT * C }, { &a->ln1_mean, L * BT },
        { &a->ln1_rstd, L * BT },
        { &a->qkv, L * BT * 3 * C }, { &a->atty, L * BT * C },
        { &a->att, L * B * NH * TT }, { &a->res2, L * BT * C },
        { &a->ln2, L * BT * C }, { &a->ln2_mean, L * BT },
        { &a->ln2_rstd, L * BT },
        { &a->fch, L * BT * 4 * C }, { &a->fch_gelu, L * BT * 4 * C },
        { &a->res3, L * BT * C },
        { &a->lnf, BT * C }, { &a->lnf_mean, BT }, { &a->lnf_rstd, BT },
        { &a->logits, BT * V }, { &a->lse, BT }, { &a->losses, BT },
        { &a->dlosses, BT },
        { &a->dres, BT * C }, { &a->dln, BT * C }, { &a->dbig, BT * 4 * C },
        { &a->datt, B * NH * TT },
    };
    size_t off = 0, nint = (BT + 15) & ~(size_t)15;
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        if (base)
            *v[i].p = base + off;
        off += (v[i].n + 15) & ~(size_t)15;
    }
    if (base) {     /* two int32 arrays after the floats */
        a->inputs = (int32_t *)(base + off);
        a->targets = (int32_t *)(base + off + nint);
    }
    return off + 2 * nint;
}

/* The bf16 activations for (B,T) from base (NULL: only count); returns
 * the number of bf16 values. */
static size_t
acts16_layout(const struct gpt_config *cfg, int B, int T, struct gpt_acts *a,
              uint16_t *base)
{
    size_t L = cfg->L, C = cfg->C, V = cfg->V, BT = (size_t)B * T;
    size_t wide = 4 * C > V ? 4 * C : V;
    struct { uint16_t **p; size_t n; } v[] = {
        { &a->ln1_16, L * BT * C }, { &a->atty16, L * BT * C },
        { &a->ln2_16, L * BT * C }, { &a->gel16, L * BT * 4 * C },
        { &a->lnf16, BT * C }, { &a->d16, BT * wide },
    };
    size_t off = 0;
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        if (base)
            *v[i].p = base + off;
        off += (v[i].n + 31) & ~(size_t)31;
    }
    return off;
}

/* (Re)allocate acts16 for the allocated (B,T). */
static enum gr_status
alloc_acts16(struct gpt *m, struct gr_error *err)
{
    struct gpt_acts a;
    size_t n = acts16_layout(&m->cfg, m->B, m->T, &a, NULL);
    uint16_t *mem = gr_aligned_alloc(n * sizeof *mem);
    gr_aligned_free(m->acts16);     /* too small now in any case */
    m->acts16 = mem;
    if (!mem)
        return gr_fail(err, GR_ENOMEM, "cannot allocate %zu MiB of bf16 "
                       "activations", n * sizeof *mem >> 20);
    return GR_OK;
}

enum gr_status
gpt_set_precision(struct gpt *m, enum gpt_precision p, struct gr_error *err)
{
    if (p == GPT_FP32) {
        gr_aligned_free(m->params16);
        gr_aligned_free(m->acts16);
        m->params16 = m->acts16 = NULL;
        m->precision = GPT_FP32;
        return GR_OK;
    }
    const char *why;
    if (!bf16_available(&why))
        return gr_fail(err, GR_EINPUT, "precision bf16 is not available: %s",
                       why);
    if (!m->params16) {
        m->params16 = gr_aligned_alloc(m->nparams * sizeof *m->params16);
        if (!m->params16)
            return gr_fail(err, GR_ENOMEM, "cannot allocate %zu MiB for "
                           "bf16 weights", m->nparams * 2 >> 20);
    }
    if (m->acts_mem && !m->acts16) {
        enum gr_status rc = alloc_acts16(m, err);
        if (rc != GR_OK)
            return rc;
    }
    m->precision = GPT_BF16;
    return GR_OK;
}

int
gpt_padded_len(const struct gpt *m, int T)
{
    if (m->precision != GPT_BF16)
        return T;
    int p = (T + GPT_PAD_BF16 - 1) / GPT_PAD_BF16 * GPT_PAD_BF16;
    int cap = m->cfg.T > T ? m->cfg.T : T;      /* the context, or T past it */
    return p < cap ? p : cap;
}

enum gr_status
gpt_alloc_acts(struct gpt *m, int B, int T, struct gr_error *err)
{
    if (B < 1)
        return gr_fail(err, GR_EINPUT, "batch %d must be at least 1", B);
    if (T < 1 || T > m->cfg.T)
        return gr_fail(err, GR_EINPUT, "sequence length %d is out of range "
                       "1..%d (the model's context)", T, m->cfg.T);
    if (m->acts_mem && B <= m->B && T <= m->T)
        return GR_OK;
    int nb = B > m->B ? B : m->B, nt = T > m->T ? T : m->T;
    struct gpt_acts a;
    size_t n = acts_layout(&m->cfg, nb, nt, &a, NULL);
    float *mem = gr_aligned_alloc(n * sizeof(float));
    if (!mem)
        return gr_fail(err, GR_ENOMEM, "cannot allocate %zu MiB of "
                       "activations for batch %d, length %d",
                       n * sizeof(float) >> 20, nb, nt);
    gr_aligned_free(m->acts_mem);
    m->acts_mem = mem;
    m->acts_size = n;
    m->B = nb;
    m->T = nt;
    m->cur_B = m->cur_T = 0;
    m->has_targets = 0;
    m->losses = NULL;
    if (m->precision == GPT_BF16)
        return alloc_acts16(m, err);
    return GR_OK;
}

/* The model's linear layers, in its precision.  Weights by offset into
 * the flat buffers, so that the bf16 copy and the gradient are found at
 * the same place.  out (N,OC) = [res +] inp (N,C) . w^T + b; inp16 (N,C)
 * receives inp in bf16 (GPT_BF16) for the backward. */
static void
lin_forward(struct gpt *m, float *out, const float *res, const float *inp,
            uint16_t *inp16, const float *w, const float *b, int N, int C,
            int OC)
{
    if (m->precision == GPT_BF16)
        linear_forward_bf16(out, res, inp, inp16,
                            m->params16 + (w - m->params), b, N, C, OC);
    else if (res)
        linear_forward_add(out, res, inp, w, b, N, C, OC);
    else
        linear_forward(out, inp, w, b, N, C, OC);
}

/* dinp (N,C) = dout (N,OC) . w;  dw += dout^T . inp;  db += sum dout. */
static void
lin_backward(struct gpt *m, float *dinp, const float *w, float *db,
             const float *dout, const float *inp, const uint16_t *inp16,
             int N, int C, int OC)
{
    size_t o = (size_t)(w - m->params);
    if (m->precision == GPT_BF16)
        linear_backward_bf16(dinp, m->grads + o, db, dout, m->a.d16, inp16,
                             m->params16 + o, N, C, OC);
    else
        linear_backward(dinp, m->grads + o, db, dout, inp, w, N, C, OC, 0);
}

/* Pointers to layer l's slice of a (L,...) activation of `width` per row. */
#define LAYER(p, l, width) ((p) + (size_t)(l) * (width))

void
gpt_forward_trunk(struct gpt *m, const int32_t *inputs, int B, int T,
                  int causal)
{
    assert(m->acts_mem && B >= 1 && T >= 1 && B <= m->B && T <= m->T);
    const struct gpt_config *cfg = &m->cfg;
    struct gpt_acts *a = &m->a;
    acts_layout(cfg, B, T, a, m->acts_mem);
    int bf16 = m->precision == GPT_BF16;
    if (bf16) {
        assert(m->acts16 && m->params16);
        acts16_layout(cfg, B, T, a, m->acts16);
        prof_begin(PROF_MATMUL);
        bf16_from_f32(m->params16, m->params, m->nparams);
        prof_end(PROF_MATMUL);
    }
    int L = cfg->L, C = cfg->C, NH = cfg->NH, N = B * T;
    size_t NC = (size_t)N * C, att_n = (size_t)B * NH * T * T;
    for (int i = 0; i < N; i++) {
        assert(inputs[i] >= 0 && inputs[i] < cfg->V);
        a->inputs[i] = inputs[i];
    }
    m->cur_B = B;
    m->cur_T = T;
    m->causal = causal;
    m->has_targets = 0;
    m->losses = a->losses;

    const struct gpt_params *p = &m->p;
    encoder_forward(a->encoded, inputs, p->wte, p->wpe, B, T, C);
    for (int l = 0; l < L; l++) {
        const float *res = l == 0 ? a->encoded : LAYER(a->res3, l - 1, NC);
        float *ln1 = LAYER(a->ln1, l, NC), *qkv = LAYER(a->qkv, l, 3 * NC);
        float *atty = LAYER(a->atty, l, NC), *att = LAYER(a->att, l, att_n);
        float *res2 = LAYER(a->res2, l, NC), *ln2 = LAYER(a->ln2, l, NC);
        float *fch = LAYER(a->fch, l, 4 * NC);
        float *gel = LAYER(a->fch_gelu, l, 4 * NC);
        float *res3 = LAYER(a->res3, l, NC);
        size_t c = (size_t)l * C;
        uint16_t *ln1_16 = NULL, *atty16 = NULL, *ln2_16 = NULL;
        uint16_t *gel16 = NULL;
        if (bf16) {
            ln1_16 = LAYER(a->ln1_16, l, NC);
            atty16 = LAYER(a->atty16, l, NC);
            ln2_16 = LAYER(a->ln2_16, l, NC);
            gel16 = LAYER(a->gel16, l, 4 * NC);
        }

        layernorm_forward(ln1, a->ln1_mean + (size_t)l * N,
                          a->ln1_rstd + (size_t)l * N, res, p->ln1w + c,
                          p->ln1b + c, N, C);
        lin_forward(m, qkv, NULL, ln1, ln1_16, p->qkvw + 3 * c * C,
                    p->qkvb + 3 * c, N, C, 3 * C);
        attention_forward(atty, att, qkv, B, T, C, NH, causal, bf16);
        lin_forward(m, res2, res, atty, atty16, p->attprojw + c * C,
                    p->attprojb + c, N, C, C);
        layernorm_forward(ln2, a->ln2_mean + (size_t)l * N,
                          a->ln2_rstd + (size_t)l * N, res2, p->ln2w + c,
                          p->ln2b + c, N, C);
        lin_forward(m, fch, NULL, ln2, ln2_16, p->fcw + 4 * c * C,
                    p->fcb + 4 * c, N, C, 4 * C);
        gelu_forward(gel, fch, 4 * NC);
        lin_forward(m, res3, res2, gel, gel16, p->fcprojw + 4 * c * C,
                    p->fcprojb + c, N, 4 * C, C);
    }
    layernorm_forward(a->lnf, a->lnf_mean, a->lnf_rstd,
                      LAYER(a->res3, L - 1, NC), p->lnfw, p->lnfb, N, C);
}

float
gpt_forward(struct gpt *m, const int32_t *inputs, const int32_t *targets,
            int B, int T, int causal)
{
    gpt_forward_trunk(m, inputs, B, T, causal);
    struct gpt_acts *a = &m->a;
    int N = B * T, C = m->cfg.C, V = m->cfg.V;
    lin_forward(m, a->logits, NULL, a->lnf, a->lnf16, m->p.wte, NULL, N, C,
                V);
    if (!targets) {
        memset(a->losses, 0, (size_t)N * sizeof *a->losses);
        m->nvalid = 0;
        return 0.0f;
    }
    int nvalid = 0;
    for (int i = 0; i < N; i++) {
        assert(targets[i] >= -1 && targets[i] < V);
        a->targets[i] = targets[i] < 0 ? -1 : targets[i];
        nvalid += targets[i] >= 0;
    }
    crossentropy_forward(a->losses, a->lse, a->logits, a->targets, N, V);
    m->has_targets = 1;
    m->nvalid = nvalid;
    double sum = 0.0;
    for (int i = 0; i < N; i++)
        sum += a->losses[i];
    return nvalid ? (float)(sum / nvalid) : 0.0f;
}

void
gpt_zero_grad(struct gpt *m)
{
    prof_begin(PROF_OPTIMIZER);
    memset(m->grads, 0, m->nparams * sizeof(float));
    prof_end(PROF_OPTIMIZER);
}

/* Backward through the blocks from d(lnf output) (B,T,C). */
static void
trunk_backward(struct gpt *m, const float *dlnf)
{
    const struct gpt_config *cfg = &m->cfg;
    struct gpt_acts *a = &m->a;
    const struct gpt_params *p = &m->p, *g = &m->g;
    int B = m->cur_B, T = m->cur_T, L = cfg->L, C = cfg->C, NH = cfg->NH;
    int N = B * T;
    size_t NC = (size_t)N * C, att_n = (size_t)B * NH * T * T;
    float *dres = a->dres, *dln = a->dln, *dbig = a->dbig;

    memset(dres, 0, NC * sizeof *dres);
    layernorm_backward(dres, g->lnfw, g->lnfb, dlnf, LAYER(a->res3, L - 1, NC),
                       p->lnfw, a->lnf_mean, a->lnf_rstd, N, C);
    for (int l = L - 1; l >= 0; l--) {
        const float *res = l == 0 ? a->encoded : LAYER(a->res3, l - 1, NC);
        const float *ln1 = LAYER(a->ln1, l, NC);
        const float *qkv = LAYER(a->qkv, l, 3 * NC);
        const float *atty = LAYER(a->atty, l, NC);
        const float *att = LAYER(a->att, l, att_n);
        const float *res2 = LAYER(a->res2, l, NC);
        const float *ln2 = LAYER(a->ln2, l, NC);
        const float *fch = LAYER(a->fch, l, 4 * NC);
        const float *gel = LAYER(a->fch_gelu, l, 4 * NC);
        size_t c = (size_t)l * C;
        const uint16_t *ln1_16 = NULL, *atty16 = NULL, *ln2_16 = NULL;
        const uint16_t *gel16 = NULL;
        if (m->precision == GPT_BF16) {
            ln1_16 = LAYER(a->ln1_16, l, NC);
            atty16 = LAYER(a->atty16, l, NC);
            ln2_16 = LAYER(a->ln2_16, l, NC);
            gel16 = LAYER(a->gel16, l, 4 * NC);
        }

        /* MLP: dres holds d(res3), which is also d(res2) via the skip. */
        lin_backward(m, dbig, p->fcprojw + 4 * c * C, g->fcprojb + c, dres,
                     gel, gel16, N, 4 * C, C);
        gelu_backward(dbig, fch, dbig, 4 * NC);
        lin_backward(m, dln, p->fcw + 4 * c * C, g->fcb + 4 * c, dbig, ln2,
                     ln2_16, N, C, 4 * C);
        layernorm_backward(dres, g->ln2w + c, g->ln2b + c, dln, res2,
                           p->ln2w + c, a->ln2_mean + (size_t)l * N,
                           a->ln2_rstd + (size_t)l * N, N, C);
        /* Attention: dln is d(atty), dbig d(qkv). */
        lin_backward(m, dln, p->attprojw + c * C, g->attprojb + c, dres,
                     atty, atty16, N, C, C);
        attention_backward(dbig, a->datt, dln, qkv, att, B, T, C, NH,
                           m->causal, m->precision == GPT_BF16);
        lin_backward(m, dln, p->qkvw + 3 * c * C, g->qkvb + 3 * c, dbig,
                     ln1, ln1_16, N, C, 3 * C);
        layernorm_backward(dres, g->ln1w + c, g->ln1b + c, dln, res,
                           p->ln1w + c, a->ln1_mean + (size_t)l * N,
                           a->ln1_rstd + (size_t)l * N, N, C);
    }
    encoder_backward(g->wte, g->wpe, dres, a->inputs, B, T, C);
}

/* Backward from a->dlosses through the loss, LM head and trunk. */
static void
backward_from_dlosses(struct gpt *m)
{
    struct gpt_acts *a = &m->a;
    int N = m->cur_B * m->cur_T, C = m->cfg.C, V = m->cfg.V;
    /* Tied head: logits = lnf . wte^T.  In bf16 the gradient of the
     * logits goes straight into the bf16 buffer the product reads. */
    if (m->precision == GPT_BF16) {
        crossentropy_backward_bf16(a->d16, a->logits, a->lse, a->targets,
                                   a->dlosses, N, V);
        lin_backward(m, a->dln, m->p.wte, NULL, NULL, a->lnf, a->lnf16, N,
                     C, V);
    } else {
        crossentropy_backward(a->logits, a->logits, a->lse, a->targets,
                              a->dlosses, N, V);
        lin_backward(m, a->dln, m->p.wte, NULL, a->logits, a->lnf,
                     a->lnf16, N, C, V);
    }
    m->has_targets = 0;     /* the logits are gone */
    trunk_backward(m, a->dln);
}

void
gpt_backward(struct gpt *m)
{
    assert(m->has_targets);
    int N = m->cur_B * m->cur_T;
    float d = m->nvalid ? m->loss_scale / m->nvalid : 0.0f;
    for (int i = 0; i < N; i++)
        m->a.dlosses[i] = m->a.targets[i] >= 0 ? d : 0.0f;
    backward_from_dlosses(m);
}

void
gpt_backward_weighted(struct gpt *m, const float *dlosses)
{
    assert(m->has_targets);
    int N = m->cur_B * m->cur_T;
    for (int i = 0; i < N; i++)
        m->a.dlosses[i] = m->a.targets[i] >= 0 ? dlosses[i] : 0.0f;
    backward_from_dlosses(m);
}

void
gpt_backward_hidden(struct gpt *m, const float *dhidden)
{
    assert(m->cur_B > 0);
    trunk_backward(m, dhidden);
}

float *
gpt_logits(struct gpt *m, int b, int t)
{
    assert(b >= 0 && b < m->cur_B && t >= 0 && t < m->cur_T);
    return m->a.logits + ((size_t)b * m->cur_T + t) * m->cfg.V;
}

float *
gpt_hidden(struct gpt *m)
{
    return m->a.lnf;
}
