/* ppo.h: proximal policy optimisation of a GPT policy against a scalar
 * reward given at the end of each answer, with a per-token KL penalty to
 * a frozen reference model (Ziegler et al. 2019, InstructGPT 2022).
 *
 * One iteration:
 *   1. ppo_rollout: B answers to B prompts, sampled from the policy at
 *      a temperature, all in one key-value cache (batched);
 *   2. the caller scores each answer (ro.score: the reward model, plus
 *      any penalty) -- this module knows nothing about reward models;
 *   3. ppo_prepare: log-probabilities of the sampled tokens under the
 *      policy and the reference, values, per-token rewards
 *          r_i = -beta (log pi(a_i) - log pi_ref(a_i))  (+ score at the end),
 *      GAE advantages and returns, advantages whitened over the batch;
 *   4. ppo_update: epochs passes over the batch in shuffled minibatches:
 *      clipped policy loss, clipped value loss, global gradient clipping,
 *      AdamW;
 *   5. ppo_klctl_update: the adaptive KL coefficient moves beta so the
 *      measured KL approaches the target.
 *
 * The value function is a linear head (C+1: w, b) on the policy's own
 * final hidden state, not a second trunk initialised from the reward
 * model as in InstructGPT.  Why: on a CPU a second trunk doubles the
 * update's forward and backward passes and the memory, and the value
 * head rides on the forward pass the policy loss needs anyway; one
 * checkpoint then holds everything (the head goes in its extra floats).
 * The cost is that value gradients reach the policy's trunk; vf_coef
 * (0.1) keeps them small, as in TRL's value-head models.
 *
 * Temperature: the policy is softmax(logits / temperature) throughout:
 * for sampling, for log-probabilities, for the KL and for the gradients,
 * so the samples come from the distribution that is optimised and the
 * KL estimate is unbiased.
 *
 * Determinism: every random choice comes from the rng passed in, in a
 * fixed order, and every reduction is summed in a fixed order, so a run
 * resumed from a checkpoint repeats the same numbers bit for bit.
 *
 * Shapes: B rollouts per iteration, M per minibatch, A answer tokens at
 * most, T context, C channels, V vocabulary. */
#ifndef GR_MODEL_PPO_H
#define GR_MODEL_PPO_H

#include <stddef.h>
#include <stdint.h>

#include "base/error.h"
#include "base/rng.h"
#include "model/gpt.h"
#include "model/sample.h"

struct ppo_hparams {
    int batch;              /* B: rollouts per iteration */
    int minibatch;          /* M: rollouts per gradient step (<= B) */
    int epochs;             /* passes over the batch per iteration */
    int max_answer;         /* A: answer tokens at most, <|end|> included */
    float temperature;      /* > 0 */
    float clip;             /* policy ratio clip epsilon (0.2) */
    float value_clip;       /* value change clip around the old value */
    float vf_coef;          /* weight of the value loss */
    float gamma, lambda;    /* discount, GAE lambda */
    float lr, beta1, beta2, eps, weight_decay;
    float grad_clip;        /* global norm, policy and head; 0: off */
};

/* InstructGPT / TRL defaults (B 16, M 4, 4 epochs, clip 0.2, ...). */
struct ppo_hparams ppo_defaults(void);

/* ---- the adaptive KL controller (Ziegler et al.) -------------------- */

struct ppo_klctl {
    double beta;            /* current KL coefficient */
    double target;          /* KL per answer to aim at, nats; <= 0: fixed */
    double horizon;         /* rollouts over which beta may move by e^0.2 */
};

/* After an iteration of n rollouts with mean KL kl (nats per answer):
 * e = clip(kl / target - 1, -0.2, 0.2); beta *= 1 + e n / horizon. */
void ppo_klctl_update(struct ppo_klctl *c, double kl, int n);

/* ---- per-token mathematics ------------------------------------------ */

/* Generalised advantage estimation over one answer of n tokens with
 * per-token rewards (n) and values (n); the value after the last token
 * is 0 (the answer is over).  adv (n) and returns (n) = adv + values. */
void ppo_gae(const float *rewards, const float *values, int n, float gamma,
             float lambda, float *adv, float *returns);

/* x = (x - mean) / (std + 1e-8) over n values (population std).  Returns
 * the std before whitening. */
double ppo_whiten(float *x, size_t n);

/* From one row of logits (V) at a temperature: log-probability of target
 * under softmax(logits / temperature), and its entropy in *entropy (may
 * be NULL). */
float ppo_row_logprob(const float *logits, int V, int target,
                      float temperature, float *entropy);

/* Clipped policy loss of one token: max(-A r, -A clip(r, 1-e, 1+e)) with
 * r = exp(logp - logp_old).  *dlogp receives the derivative by logp;
 * *clipped 1 when the clipped term was the larger. */
float ppo_policy_loss(float logp, float logp_old, float adv, float clip,
                      float *dlogp, int *clipped);

/* Clipped value loss of one token: 0.5 max((v - R)^2, (vc - R)^2) with
 * vc = v_old + clip(v - v_old, -c, c); c <= 0: plain 0.5 (v - R)^2.
 * *dv the derivative by v; *clipped 1 when the clipped term was larger. */
float ppo_value_loss(float v, float v_old, float ret, float clip, float *dv,
                     int *clipped);

/* ---- rollouts ---------------------------------------------------------- */

/* B sequences: a prompt (chat-encoded, ending with <|assistant|>), then an
 * answer of alen tokens, which ended when its last token is <|end|>. */
struct ppo_rollouts {
    int B, A, T;
    int32_t *seq;           /* (B,T) prompt then answer */
    int *plen, *alen;       /* (B) prompt and answer tokens */
    uint8_t *ended;         /* (B) 1: the answer closed with <|end|> */
    float *score;           /* (B) the reward at the end: the caller's */
    float *logp, *ref_logp; /* (B,A) log pi, log pi_ref of each answer token */
    float *values;          /* (B,A) the value head before each token */
    float *rewards;         /* (B,A) per-token rewards, score included */
    float *adv, *ret;       /* (B,A) advantages (whitened), returns */
    float *entropy;         /* (B,A) the policy's entropy at each token */
};

/* Allocate rollouts of B sequences of T tokens, answers of up to A; every
 * array zeroed.  Release frees them all. */
void ppo_rollouts_init(struct ppo_rollouts *ro, int B, int A, int T);
void ppo_rollouts_release(struct ppo_rollouts *ro);

/* ---- one iteration's numbers ------------------------------------------ */

struct ppo_stats {
    double score_mean, score_std;   /* of ro.score */
    double kl;              /* mean over rollouts of sum(log pi - log pi_ref) */
    double entropy;         /* mean per answer token, nats */
    double answer_len;      /* mean answer tokens, <|end|> excluded */
    double ended;           /* share of answers closed with <|end|> */
    double value_mean;      /* mean value of the answer tokens */
    double adv_std;         /* advantages' std before whitening */
    double policy_loss, value_loss;     /* means over minibatches */
    double clip_frac;       /* share of tokens where the policy clip acted */
    double value_clip_frac;
    double approx_kl;       /* 0.5 mean (log pi_new - log pi_old)^2 */
    double grad_norm;       /* mean over minibatches, before clipping */
    double ptx_loss;        /* mean of the ptx hook's losses (0: none) */
    long long tokens;       /* answer tokens generated */
};

/* ---- the trainer -------------------------------------------------------- */

struct ppo {
    struct ppo_hparams h;
    struct gpt *policy;     /* trained in place; its AdamW moments used */
    struct gpt *ref;        /* frozen; its grads are never touched */
    float *head;            /* (C+1) value head w, then b */
    float *head_g, *head_m, *head_v;    /* (C+1) gradient and moments */
    struct ppo_klctl kl;
    long long opt_steps;    /* AdamW steps taken (for bias corrections) */
    struct ppo_rollouts ro;
    struct kvcache kv;      /* (B sequences) for rollouts */
    int32_t *inputs;        /* (M,T) */
    float *dlnf;            /* (M,T,C) */
    float *scratch;         /* (2V) for the sampler */
    int *perm;              /* (B) */
    float *row_logp, *row_akl;  /* (M,T) per-row loss terms */
    int *row_clip;              /* (M,T) */
    struct ppo_stats st;    /* of the last iteration */
    /* PPO-ptx (InstructGPT): when set, called after each minibatch's
     * backward to ADD the gradient of an extra loss (the pretraining
     * objective on corpus text, scaled) to the policy's grads; returns
     * that loss, unscaled. */
    double (*ptx)(void *ctx, struct gpt *policy);
    void *ptx_ctx;
};

/* Set up a trainer for policy and ref (same config; both stay the
 * caller's).  The value head starts at zero.  Allocates the rollout
 * buffer, the cache and both models' activations for (M,T). */
enum gr_status ppo_init(struct ppo *p, const struct ppo_hparams *h,
                        struct gpt *policy, struct gpt *ref,
                        double kl_coef, double kl_target, double kl_horizon,
                        struct gr_error *err);
void ppo_release(struct ppo *p);

/* Floats ppo_save_head writes: the head, its two moments: 3 (C+1). */
size_t ppo_head_floats(const struct ppo *p);
void ppo_save_head(const struct ppo *p, float *out);
void ppo_load_head(struct ppo *p, const float *in);

/* Sample one answer to each of the B prompts (prompts[b], plens[b]
 * tokens; plens[b] + h.max_answer <= T) into p->ro, zeroing ro.score.
 * Prompts of different lengths share the cache: each sequence is fed
 * its own prompt tokens until it has none left, then samples, so the
 * result is the same as generating each alone.  Draws from rng. */
void ppo_rollout(struct ppo *p, const int32_t *const *prompts,
                 const int *plens, struct gr_rng *rng);

/* ppo_rollout's sampler, for any model m of the rollouts' shape: one
 * answer to each of ro->B prompts at temperature, in the cache kv (of
 * ro->B sequences), into ro's seq, plen, alen and ended (score zeroed).
 * scratch: 2V + B*V floats.  Draws from rng. */
void ppo_sample(struct gpt *m, struct kvcache *kv, struct ppo_rollouts *ro,
                const int32_t *const *prompts, const int *plens,
                float temperature, struct gr_rng *rng, float *scratch);

/* After the caller filled ro.score: log-probabilities, values, rewards,
 * advantages; fills the rollout half of p->st. */
void ppo_prepare(struct ppo *p);

/* Sums of one minibatch's loss terms over its answer tokens. */
struct ppo_mb {
    double pg_sum, vf_sum;      /* policy and value losses */
    double clipped, vclipped;   /* tokens where a clip acted */
    double akl_sum;             /* 0.5 (log pi - log pi_old)^2 */
    long long ntok;             /* answer tokens */
};

/* Gradients of one minibatch, rollouts ids (m <= M), after ppo_prepare:
 * zeroes and fills the policy's grads and head_g with the gradient of
 * the returned loss, (sum of policy losses + vf_coef * sum of value
 * losses) / answer tokens.  out (may be NULL) gets the sums. */
double ppo_minibatch(struct ppo *p, const int *ids, int m, struct ppo_mb *out);

/* The optimisation passes; fills the update half of p->st.  GR_ENUMERIC
 * when a loss or the gradient norm is not finite (the parameters are
 * then unusable: reload them). */
enum gr_status ppo_update(struct ppo *p, struct gr_rng *rng,
                          struct gr_error *err);

#endif
