/* gpt.h: a GPT-2 model (token + learned position embeddings, pre-LayerNorm
 * blocks of causal multi-head attention and a GELU MLP of width 4C, final
 * LayerNorm, LM head tied to wte), trained on the CPU.
 *
 * Memory: parameters, gradients and the two AdamW moments are one 64-byte
 * aligned float block each, with the same named views (struct gpt_params)
 * and layout (gpt_tensors).  Activations for (B,T) are one more block,
 * allocated by gpt_alloc_acts; forward, backward and the optimizer step
 * allocate nothing.
 *
 * Shapes: B batch, T time, C channels, V vocab, L layers, NH heads,
 * hs = C/NH. */
#ifndef GR_MODEL_GPT_H
#define GR_MODEL_GPT_H

#include <stddef.h>
#include <stdint.h>

#include "base/error.h"
#include "base/rng.h"

struct gpt_config {
    int L;      /* layers */
    int NH;     /* heads */
    int C;      /* channels; a multiple of NH */
    int T;      /* maximum context */
    int V;      /* vocabulary */
};

/* Named views into one flat buffer, in this order. */
struct gpt_params {
    float *wte;         /* (V,C) token embedding, also the LM head */
    float *wpe;         /* (T,C) */
    float *ln1w;        /* (L,C) */
    float *ln1b;        /* (L,C) */
    float *qkvw;        /* (L,3C,C) */
    float *qkvb;        /* (L,3C) */
    float *attprojw;    /* (L,C,C) */
    float *attprojb;    /* (L,C) */
    float *ln2w;        /* (L,C) */
    float *ln2b;        /* (L,C) */
    float *fcw;         /* (L,4C,C) */
    float *fcb;         /* (L,4C) */
    float *fcprojw;     /* (L,C,4C) */
    float *fcprojb;     /* (L,C) */
    float *lnfw;        /* (C) */
    float *lnfb;        /* (C) */
};

#define GPT_NTENSORS 16

/* Where one named tensor lives in the flat buffers. */
struct gpt_tensor {
    const char *name;   /* "wte", "wpe", "ln1w", ... (struct gpt_params) */
    size_t offset;      /* in floats from the start of the buffer */
    size_t numel;
    int ndim;
    int shape[3];
    int decay;          /* 1: matrix or embedding (AdamW weight decay);
                           0: bias or LayerNorm parameter */
};

/* Forward state cached for the backward; views into one block. */
struct gpt_acts {
    float *encoded;                  /* (B,T,C) */
    float *ln1, *ln1_mean, *ln1_rstd;   /* (L,B,T,C) (L,B,T) (L,B,T) */
    float *qkv;                      /* (L,B,T,3C) */
    float *atty;                     /* (L,B,T,C) */
    float *att;                      /* (L,B,NH,T,T) */
    float *res2;                     /* (L,B,T,C) after attention */
    float *ln2, *ln2_mean, *ln2_rstd;
    float *fch, *fch_gelu;           /* (L,B,T,4C) */
    float *res3;                     /* (L,B,T,C) after the MLP */
    float *lnf, *lnf_mean, *lnf_rstd;   /* (B,T,C) (B,T) (B,T) */
    float *logits;                   /* (B,T,V); d(logits) after backward */
    float *lse;                      /* (B,T) log-sum-exp of each row */
    float *losses;                   /* (B,T) */
    float *dlosses;                  /* (B,T) */
    float *dres;                     /* (B,T,C) backward scratch */
    float *dln;                      /* (B,T,C) */
    float *dbig;                     /* (B,T,4C) */
    float *datt;                     /* (B,NH,T,T) */
    int32_t *inputs, *targets;       /* (B,T) copies of the last forward's */
    /* GPT_BF16 only: bf16 copies of the matrix products' inputs, kept for
     * the weight gradients, and scratch; views into gpt.acts16. */
    uint16_t *ln1_16, *atty16, *ln2_16; /* (L,B,T,C) */
    uint16_t *gel16;                 /* (L,B,T,4C) */
    uint16_t *lnf16;                 /* (B,T,C) */
    uint16_t *d16;                   /* (B,T,max(4C,V)) a d-output in bf16 */
};

/* Precision of the matrix products.  Weights, gradients, optimizer state
 * and every other layer stay float32 either way. */
enum gpt_precision {
    GPT_FP32,       /* sgemm (the default) */
    GPT_BF16,       /* bf16 inputs, float32 sums and results (oneDNN) */
};

struct gpt {
    struct gpt_config cfg;
    size_t nparams;
    float *params, *grads, *adam_m, *adam_v;    /* (nparams) each */
    struct gpt_params p, g;         /* views of params and grads */
    float loss_scale;               /* multiplies the loss gpt_backward
                                       differentiates; default 1 */
    /* Activations: allocated shape and the last forward's. */
    int B, T;
    float *acts_mem;
    size_t acts_size;               /* floats in acts_mem */
    struct gpt_acts a;
    float *losses;                  /* (B,T) of the last forward; = a.losses */
    int cur_B, cur_T, causal, has_targets;
    int nvalid;                     /* non-ignored targets, last forward */
    int precision;                  /* enum gpt_precision (gpt_set_precision) */
    uint16_t *params16;             /* GPT_BF16: (nparams) bf16 copy of params,
                                       refreshed by each forward */
    uint16_t *acts16;               /* GPT_BF16: block of the bf16 acts */
};

/* Check cfg (ranges, C % NH == 0) and allocate params, grads, AdamW m and
 * v (zeroed; weights unset until gpt_init_weights or a checkpoint). */
enum gr_status gpt_create(struct gpt *m, const struct gpt_config *cfg,
                          struct gr_error *err);

/* Check a config as gpt_create does, without allocating. */
enum gr_status gpt_config_check(const struct gpt_config *cfg,
                                struct gr_error *err);

/* GPT-2 initialisation: N(0, 0.02) for matrices and embeddings, residual
 * projections (attprojw, fcprojw) N(0, 0.02/sqrt(2L)), biases 0, LN
 * gains 1.  Deterministic for the state of rng. */
void gpt_init_weights(struct gpt *m, struct gr_rng *rng);

/* Free everything gpt_create and gpt_alloc_acts allocated; NULL-safe,
 * and safe on a zeroed or released struct. */
void gpt_release(struct gpt *m);

/* Number of parameters of cfg (= floats in each flat buffer). */
size_t gpt_num_params(const struct gpt_config *cfg);

/* The GPT_NTENSORS tensors of cfg in buffer order. */
void gpt_tensors(const struct gpt_config *cfg,
                 struct gpt_tensor out[GPT_NTENSORS]);

/* 1 if flat parameter index i belongs to a matrix or embedding (weight
 * decay applies), 0 for biases and LayerNorm parameters. */
int gpt_param_is_matrix(const struct gpt_config *cfg, size_t i);

/* Make room for forward passes of up to (B,T) (T <= cfg.T); reallocates
 * only when (B,T) is bigger than what is allocated. */
enum gr_status gpt_alloc_acts(struct gpt *m, int B, int T,
                              struct gr_error *err);

/* Use GPT_FP32 or GPT_BF16 matrix products from the next forward on
 * (GPT_BF16 allocates bf16 copies of the weights and of some activations).
 * GR_EINPUT naming the reason when bf16 products are not available
 * (no oneDNN at build time, or no bf16 units in this CPU). */
enum gr_status gpt_set_precision(struct gpt *m, enum gpt_precision p,
                                 struct gr_error *err);

/* The length to pad a batch of sequences of at most T tokens to, for a
 * causal forward (padding at the end leaves the real positions' results
 * as they were): in bf16, T rounded up to a multiple of GPT_PAD_BF16, at
 * most the context, so that batches of every length share a few shapes
 * of product (oneDNN makes a kernel for each new shape, and sft, reward
 * and PPO batches come in every length); in fp32, T. */
#define GPT_PAD_BF16 16
int gpt_padded_len(const struct gpt *m, int T);

/* Forward pass over inputs (B,T) (tokens in [0,V)); B and T at most the
 * allocated shape.  targets (B,T) may be NULL; a target of -1 is ignored.
 * causal = 0 lets every position see the whole sequence (masked LM).
 * Returns the mean cross-entropy over non-ignored targets (0 when none or
 * targets is NULL); leaves logits (B,T,V) and m->losses (B,T), 0 where
 * ignored. */
float gpt_forward(struct gpt *m, const int32_t *inputs,
                  const int32_t *targets, int B, int T, int causal);

/* The forward pass up to the final LayerNorm, for heads other than the LM
 * head (gpt_hidden); no logits.  gpt_backward_hidden goes back from it. */
void gpt_forward_trunk(struct gpt *m, const int32_t *inputs, int B, int T,
                       int causal);

/* Zero the gradient buffer. */
void gpt_zero_grad(struct gpt *m);

/* Backward of the last gpt_forward (which had targets): gradients of
 * loss_scale * (mean loss over non-ignored targets) ACCUMULATE (+=) into
 * m->grads.  Overwrites the logits with their gradient. */
void gpt_backward(struct gpt *m);

/* Like gpt_backward for the loss sum over positions of dlosses (B,T) *
 * losses (B,T) (ignored positions contribute nothing); loss_scale is not
 * applied.  For per-token weights (policy gradients). */
void gpt_backward_weighted(struct gpt *m, const float *dlosses);

/* Backward from a gradient dhidden (B,T,C) of the final LayerNorm's output
 * after gpt_forward_trunk or gpt_forward; accumulates into m->grads. */
void gpt_backward_hidden(struct gpt *m, const float *dhidden);

/* Row of V logits for position (b,t) of the last forward (valid until the
 * next gpt_backward). */
float *gpt_logits(struct gpt *m, int b, int t);

/* Final LayerNorm output (B,T,C) of the last forward. */
float *gpt_hidden(struct gpt *m);

#endif
