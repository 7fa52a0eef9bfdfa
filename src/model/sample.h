/* sample.h: generation.  A cache of keys and values lets each new
 * position cost one position's work (gpt_forward_step) instead of a whole
 * forward pass; sample_next picks the next token from a row of logits.
 * The cache and its scratch are allocated once per generation session,
 * apart from the training activations. */
#ifndef GR_MODEL_SAMPLE_H
#define GR_MODEL_SAMPLE_H

#include <stdint.h>

#include "base/error.h"
#include "base/rng.h"
#include "model/gpt.h"

/* Keys and values of NB sequences, and the scratch of a forward step. */
struct kvcache {
    struct gpt_config cfg;
    int NB;             /* sequences */
    int chunk;          /* positions per sequence fed per pass by prefill */
    int len;            /* positions filled (the same for every sequence) */
    float *mem;         /* the one block the views below live in */
    float *k, *v;       /* (L,NB,NH,T,hs) */
    float *x;           /* (NB*chunk,C) residual stream */
    float *ln;          /* (NB*chunk,C) */
    float *qkv;         /* (NB*chunk,3C) */
    float *atty;        /* (NB*chunk,C) */
    float *fch;         /* (NB*chunk,4C) */
    float *mean, *rstd; /* (NB*chunk) */
    float *last;        /* (NB,C) final LayerNorm of the last positions */
    float *scores;      /* (NB,NH,T) */
    int precision;      /* enum gpt_precision (kvcache_set_precision) */
    uint16_t *w16;      /* GPT_BF16, NB <= 4: (nparams) bf16 copy of the
                           weights */
    uint16_t *wamx;     /* GPT_BF16, NB > 4 on AMX: the weight matrices
                           packed for amx_linear_add, then its scratch
                           for the rows in bf16 */
    uint16_t *a16;      /* that scratch, in the same block */
};

/* Allocate a cache for NB sequences of up to cfg->T positions. */
enum gr_status kvcache_init(struct kvcache *kv, const struct gpt_config *cfg,
                            int NB, struct gr_error *err);
void kvcache_release(struct kvcache *kv);

/* GPT_BF16: read the weight matrices as bf16, copied from the model
 * whenever a sequence starts (position 0); activations, sums and the
 * rest stay fp32.
 *  - Up to 4 sequences: half the memory traffic, which bounds their
 *    products (AVX-512 dot products of fp32 rows and bf16 weights).
 *    Prefill (more rows) reads the fp32 weights.
 *  - More sequences, on CPUs with AMX: every product, prefill included,
 *    on AMX tiles (kernels/amx.h), the rows rounded to bf16 too.  Without
 *    AMX such a cache keeps fp32 (the products bound them, and widening
 *    bf16 costs more than it saves): kv->precision says GPT_FP32.
 * GPT_FP32 (the default): the model's weights as they are.  GR_EINPUT
 * when this CPU lacks the AVX-512 the bf16 kernels use. */
enum gr_status kvcache_set_precision(struct kvcache *kv,
                                     enum gpt_precision p,
                                     struct gr_error *err);
/* Forget every position (start new sequences). */
void kvcache_reset(struct kvcache *kv);

/* Feed tokens (NB) at position pos (<= kv->len, < cfg.T) of every
 * sequence, caching their keys and values (positions after pos are
 * forgotten: kv->len becomes pos + 1); logits_out (NB,V) receives the
 * logits of that position (may be NULL). */
void gpt_forward_step(struct gpt *m, struct kvcache *kv,
                      const int32_t *tokens, int pos, float *logits_out);

/* Feed n positions of a prompt per sequence, tokens (NB,n) row-major,
 * from position kv->len on (kv->len + n <= cfg.T), in passes of
 * kv->chunk positions through matrix products; logits_out (NB,V) receives
 * the logits after the last one (may be NULL). */
void gpt_prefill(struct gpt *m, struct kvcache *kv, const int32_t *tokens,
                 int n, float *logits_out);

struct sampler_opts {
    float temperature;          /* 0: greedy (argmax) */
    int top_k;                  /* keep the k most likely; 0: all */
    float top_p;                /* keep the smallest set with mass >= p;
                                   >= 1 or <= 0: all */
    float repetition_penalty;   /* > 1 discourages tokens in history (CTRL:
                                   logit / p if > 0, else * p); 1: off */
};

/* Default options: temperature 1, no top-k, top-p or penalty. */
struct sampler_opts sampler_defaults(void);

/* Pick a token from logits (V).  history (nhist) are the tokens so far, for
 * the repetition penalty (may be NULL).  Draws at most one number from
 * rng, so a seed gives the same tokens.  Temperature 0 or top_k 1: the
 * argmax (lowest index on ties), no draw.  scratch: 2V floats. */
int sample_next(const float *logits, int V, const struct sampler_opts *o,
                const int32_t *history, int nhist, struct gr_rng *rng,
                float *scratch);

#endif
