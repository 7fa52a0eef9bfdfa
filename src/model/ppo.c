/* ppo.c: rollouts, advantages and the clipped updates (see ppo.h).
 *
 * The policy's backward pass is done here rather than by
 * gpt_backward_weighted because the loss is not a cross-entropy: the
 * gradient of each answer token's log-probability under
 * softmax(logits / temperature) is written over its row of logits,
 * taken through the tied LM head to the final hidden state, the value
 * head's gradient is added there, and one gpt_backward_hidden takes both
 * through the trunk. */
#include "model/ppo.h"

#include <assert.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/xalloc.h"
#include "kernels/linear.h"
#include "kernels/optim.h"
#include "model/adamw.h"
#include "text/bpe.h"

struct ppo_hparams
ppo_defaults(void)
{
    return (struct ppo_hparams){
        .batch = 16, .minibatch = 4, .epochs = 4, .max_answer = 48,
        .temperature = 1.0f, .clip = 0.2f, .value_clip = 0.2f,
        .vf_coef = 0.1f, .gamma = 1.0f, .lambda = 0.95f,
        .lr = 1e-5f, .beta1 = 0.9f, .beta2 = 0.95f, .eps = 1e-8f,
        .weight_decay = 0.0f, .grad_clip = 1.0f,
    };
}

void
ppo_klctl_update(struct ppo_klctl *c, double kl, int n)
{
    if (c->target <= 0 || c->horizon <= 0 || !isfinite(kl))
        return;
    double e = kl / c->target - 1.0;
    if (e > 0.2)
        e = 0.2;
    if (e < -0.2)
        e = -0.2;
    c->beta *= 1.0 + e * (double)n / c->horizon;
}

void
ppo_gae(const float *rewards, const float *values, int n, float gamma,
        float lambda, float *adv, float *returns)
{
    double last = 0.0;
    for (int i = n - 1; i >= 0; i--) {
        double next = i + 1 < n ? values[i + 1] : 0.0;
        double delta = rewards[i] + gamma * next - values[i];
        last = delta + (double)gamma * lambda * last;
        adv[i] = (float)last;
        returns[i] = (float)(last + values[i]);
    }
}

double
ppo_whiten(float *x, size_t n)
{
    if (n == 0)
        return 0.0;
    double s = 0.0, ss = 0.0;
    for (size_t i = 0; i < n; i++)
        s += x[i];
    double mean = s / (double)n;
    for (size_t i = 0; i < n; i++)
        ss += (x[i] - mean) * (x[i] - mean);
    double sd = sqrt(ss / (double)n);
    for (size_t i = 0; i < n; i++)
        x[i] = (float)((x[i] - mean) / (sd + 1e-8));
    return sd;
}

/* log-sum-exp of row / temperature, and sum(p * row / temperature). */
static double
row_lse(const float *row, int V, float temperature, double *pz)
{
    double inv = 1.0 / temperature, mx = -INFINITY;
    for (int j = 0; j < V; j++)
        if (row[j] * inv > mx)
            mx = row[j] * inv;
    double s = 0.0, sz = 0.0;
    for (int j = 0; j < V; j++) {
        double z = row[j] * inv, e = exp(z - mx);
        s += e;
        sz += e * z;
    }
    if (pz)
        *pz = sz / s;
    return mx + log(s);
}

float
ppo_row_logprob(const float *logits, int V, int target, float temperature,
                float *entropy)
{
    double pz;
    double lse = row_lse(logits, V, temperature, &pz);
    if (entropy)
        *entropy = (float)(lse - pz);
    return (float)(logits[target] / (double)temperature - lse);
}

/* Overwrite row with d(loss)/d(logits) given g = d(loss)/d(logp[target]):
 * g (onehot - softmax(row / temperature)) / temperature. */
static void
row_grad(float *row, int V, int target, float temperature, double lse,
         double g)
{
    double inv = 1.0 / temperature;
    for (int j = 0; j < V; j++) {
        double p = exp(row[j] * inv - lse);
        row[j] = (float)(g * ((j == target) - p) * inv);
    }
}

float
ppo_policy_loss(float logp, float logp_old, float adv, float clip,
                float *dlogp, int *clipped)
{
    double r = exp((double)logp - logp_old);
    double rc = r < 1.0 - clip ? 1.0 - clip : r > 1.0 + clip ? 1.0 + clip : r;
    double l1 = -adv * r, l2 = -adv * rc;
    int c = l2 > l1;
    if (dlogp)
        *dlogp = c ? 0.0f : (float)(-adv * r);
    if (clipped)
        *clipped = c;
    return (float)(c ? l2 : l1);
}

float
ppo_value_loss(float v, float v_old, float ret, float clip, float *dv,
               int *clipped)
{
    double l1 = ((double)v - ret) * ((double)v - ret);
    double vc = v;
    if (clip > 0) {
        double d = (double)v - v_old;
        vc = v_old + (d < -clip ? -clip : d > clip ? clip : d);
    }
    double l2 = (vc - ret) * (vc - ret);
    int c = l2 > l1;
    if (dv)
        *dv = c ? 0.0f : (float)((double)v - ret);
    if (clipped)
        *clipped = c;
    return (float)(0.5 * (c ? l2 : l1));
}

/* ---- setup ----------------------------------------------------------- */

void
ppo_rollouts_init(struct ppo_rollouts *ro, int B, int A, int T)
{
    memset(ro, 0, sizeof *ro);
    ro->B = B;
    ro->A = A;
    ro->T = T;
    ro->seq = xcalloc((size_t)B * T, sizeof *ro->seq);
    ro->plen = xcalloc((size_t)B, sizeof *ro->plen);
    ro->alen = xcalloc((size_t)B, sizeof *ro->alen);
    ro->ended = xcalloc((size_t)B, 1);
    ro->score = xcalloc((size_t)B, sizeof(float));
    float **bufs[] = { &ro->logp, &ro->ref_logp, &ro->values, &ro->rewards,
                       &ro->adv, &ro->ret, &ro->entropy };
    for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++)
        *bufs[i] = xcalloc((size_t)B * A, sizeof(float));
}

void
ppo_rollouts_release(struct ppo_rollouts *ro)
{
    free(ro->seq);
    free(ro->plen);
    free(ro->alen);
    free(ro->ended);
    free(ro->score);
    free(ro->logp);
    free(ro->ref_logp);
    free(ro->values);
    free(ro->rewards);
    free(ro->adv);
    free(ro->ret);
    free(ro->entropy);
    memset(ro, 0, sizeof *ro);
}

enum gr_status
ppo_init(struct ppo *p, const struct ppo_hparams *h, struct gpt *policy,
         struct gpt *ref, double kl_coef, double kl_target, double kl_horizon,
         struct gr_error *err)
{
    memset(p, 0, sizeof *p);
    const struct gpt_config *c = &policy->cfg;
    if (memcmp(c, &ref->cfg, sizeof *c) != 0)
        return gr_fail(err, GR_EINPUT, "the policy and the reference model "
                       "have different shapes");
    if (h->batch < 1 || h->minibatch < 1 || h->minibatch > h->batch ||
        h->epochs < 1 || h->max_answer < 1 || h->max_answer >= c->T ||
        !(h->temperature > 0))
        return gr_fail(err, GR_EINPUT, "PPO settings out of range (batch %d, "
                       "minibatch %d, epochs %d, max answer %d, context %d)",
                       h->batch, h->minibatch, h->epochs, h->max_answer, c->T);
    p->h = *h;
    p->policy = policy;
    p->ref = ref;
    p->kl.beta = kl_coef;
    p->kl.target = kl_target;
    p->kl.horizon = kl_horizon;
    enum gr_status rc;
    int B = h->batch, M = h->minibatch, A = h->max_answer, T = c->T;
    if ((rc = gpt_alloc_acts(policy, M, T, err)) != GR_OK ||
        (rc = gpt_alloc_acts(ref, M, T, err)) != GR_OK ||
        (rc = kvcache_init(&p->kv, c, B, err)) != GR_OK) {
        ppo_release(p);
        return rc;
    }
    size_t C1 = (size_t)c->C + 1;
    p->head = xcalloc(C1, sizeof(float));
    p->head_g = xcalloc(C1, sizeof(float));
    p->head_m = xcalloc(C1, sizeof(float));
    p->head_v = xcalloc(C1, sizeof(float));
    ppo_rollouts_init(&p->ro, B, A, T);
    p->inputs = xcalloc((size_t)M * T, sizeof *p->inputs);
    p->dlnf = xcalloc((size_t)M * T * c->C, sizeof *p->dlnf);
    p->scratch = xcalloc(2 * (size_t)c->V + (size_t)B * c->V, sizeof(float));
    p->perm = xcalloc((size_t)B, sizeof *p->perm);
    p->row_logp = xcalloc((size_t)M * T, sizeof(float));
    p->row_akl = xcalloc((size_t)M * T, sizeof(float));
    p->row_clip = xcalloc((size_t)M * T, sizeof(int));
    return GR_OK;
}

void
ppo_release(struct ppo *p)
{
    if (!p)
        return;
    ppo_rollouts_release(&p->ro);
    free(p->head);
    free(p->head_g);
    free(p->head_m);
    free(p->head_v);
    free(p->inputs);
    free(p->dlnf);
    free(p->scratch);
    free(p->perm);
    free(p->row_logp);
    free(p->row_akl);
    free(p->row_clip);
    kvcache_release(&p->kv);
    memset(p, 0, sizeof *p);
}

size_t
ppo_head_floats(const struct ppo *p)
{
    return 3 * ((size_t)p->policy->cfg.C + 1);
}

void
ppo_save_head(const struct ppo *p, float *out)
{
    size_t C1 = (size_t)p->policy->cfg.C + 1;
    memcpy(out, p->head, C1 * sizeof *out);
    memcpy(out + C1, p->head_m, C1 * sizeof *out);
    memcpy(out + 2 * C1, p->head_v, C1 * sizeof *out);
}

void
ppo_load_head(struct ppo *p, const float *in)
{
    size_t C1 = (size_t)p->policy->cfg.C + 1;
    memcpy(p->head, in, C1 * sizeof *in);
    memcpy(p->head_m, in + C1, C1 * sizeof *in);
    memcpy(p->head_v, in + 2 * C1, C1 * sizeof *in);
}

/* ---- rollouts ---------------------------------------------------------- */

void
ppo_rollout(struct ppo *p, const int32_t *const *prompts, const int *plens,
            struct gr_rng *rng)
{
    ppo_sample(p->policy, &p->kv, &p->ro, prompts, plens, p->h.temperature, rng,
               p->scratch);
}

void
ppo_sample(struct gpt *m, struct kvcache *kv, struct ppo_rollouts *ro,
           const int32_t *const *prompts, const int *plens, float temperature,
           struct gr_rng *rng, float *scratch)
{
    const int B = ro->B, T = ro->T, A = ro->A, V = m->cfg.V;
    assert(kv->NB == B);
    struct sampler_opts so = sampler_defaults();
    so.temperature = temperature;
    float *logits = scratch + 2 * (size_t)V;        /* (B,V) */
    int32_t *feed = xmalloc((size_t)B * sizeof *feed);
    uint8_t *done = xcalloc((size_t)B, 1);
    int minp = T;
    for (int b = 0; b < B; b++) {
        assert(plens[b] >= 1 && plens[b] + A <= T);
        memcpy(ro->seq + (size_t)b * T, prompts[b], (size_t)plens[b] * sizeof(int32_t));
        ro->plen[b] = plens[b];
        ro->alen[b] = 0;
        ro->ended[b] = 0;
        ro->score[b] = 0.0f;
        if (plens[b] < minp)
            minp = plens[b];
    }
    /* The shared part of the prompts' lengths goes in one prefill. */
    int32_t *pre = xmalloc((size_t)B * minp * sizeof *pre);
    for (int b = 0; b < B; b++)
        memcpy(pre + (size_t)b * minp, prompts[b], (size_t)minp * sizeof *pre);
    kvcache_reset(kv);
    gpt_prefill(m, kv, pre, minp, logits);
    free(pre);
    /* logits hold position pos of every sequence. */
    for (int pos = minp - 1;; pos++) {
        int more = 0;
        for (int b = 0; b < B; b++) {
            int32_t *row = ro->seq + (size_t)b * T;
            if (pos + 1 < ro->plen[b]) {
                feed[b] = row[pos + 1];
                more = 1;
            } else if (!done[b]) {
                int tok = sample_next(logits + (size_t)b * V, V, &so, NULL, 0,
                                      rng, scratch);
                row[ro->plen[b] + ro->alen[b]++] = tok;
                if (tok == BPE_END) {
                    ro->ended[b] = 1;
                    done[b] = 1;
                } else if (ro->alen[b] == A) {
                    done[b] = 1;
                }
                feed[b] = tok;
                more |= !done[b];
            } else {
                feed[b] = BPE_END;      /* finished: a placeholder */
            }
        }
        if (!more)
            break;
        assert(pos + 1 < T);
        gpt_forward_step(m, kv, feed, pos + 1, logits);
    }
    free(feed);
    free(done);
}

/* ---- log-probabilities, values, advantages --------------------------- */

/* Inputs (m,Tb) for rollouts ids (m): each sequence but its last token,
 * padded with <|end|> (to gpt_padded_len of the longest); returns Tb. */
static int
pack_inputs(struct ppo *p, const int *ids, int m)
{
    const struct ppo_rollouts *ro = &p->ro;
    int Tb = 1;
    for (int k = 0; k < m; k++) {
        int n = ro->plen[ids[k]] + ro->alen[ids[k]] - 1;
        if (n > Tb)
            Tb = n;
    }
    Tb = gpt_padded_len(p->policy, Tb);     /* the reference's precision too */
    for (int k = 0; k < m; k++) {
        const int32_t *row = ro->seq + (size_t)ids[k] * ro->T;
        int n = ro->plen[ids[k]] + ro->alen[ids[k]] - 1;
        int32_t *in = p->inputs + (size_t)k * Tb;
        memcpy(in, row, (size_t)n * sizeof *in);
        for (int t = n; t < Tb; t++)
            in[t] = BPE_END;
    }
    return Tb;
}

/* Row of (k,t) in an (m,Tb) forward for answer token i of rollout ids[k]. */
static inline size_t
answer_row(const struct ppo_rollouts *ro, int id, int k, int Tb, int i)
{
    return (size_t)k * Tb + (size_t)(ro->plen[id] - 1 + i);
}

static float
head_value(const float *head, const float *h, int C)
{
    double s = head[C];
    for (int c = 0; c < C; c++)
        s += (double)head[c] * h[c];
    return (float)s;
}

/* Log-probabilities (and entropies, values when wanted) of the answer
 * tokens of rollouts ids (m) under g, after its forward pass. */
static void
answer_logprobs(struct ppo *p, struct gpt *g, const int *ids, int m, int Tb,
                float *logp, float *ent, float *values)
{
    const struct ppo_rollouts *ro = &p->ro;
    const int V = g->cfg.V, C = g->cfg.C, A = ro->A;
    const float temp = p->h.temperature;
    const float *logits = g->a.logits, *hidden = gpt_hidden(g);
#pragma omp parallel for schedule(dynamic, 1)
    for (int k = 0; k < m; k++) {
        int id = ids[k];
        const int32_t *row = ro->seq + (size_t)id * ro->T;
        for (int i = 0; i < ro->alen[id]; i++) {
            size_t r = answer_row(ro, id, k, Tb, i);
            float e;
            logp[(size_t)id * A + i] = ppo_row_logprob(logits + r * V, V,
                                                       row[ro->plen[id] + i],
                                                       temp, &e);
            if (ent)
                ent[(size_t)id * A + i] = e;
            if (values)
                values[(size_t)id * A + i] = head_value(p->head, hidden + r * C, C);
        }
    }
}

void
ppo_prepare(struct ppo *p)
{
    struct ppo_rollouts *ro = &p->ro;
    const int B = ro->B, M = p->h.minibatch, A = ro->A;
    int *ids = p->perm;
    for (int b = 0; b < B; b++)
        ids[b] = b;
    for (int c0 = 0; c0 < B; c0 += M) {
        int m = B - c0 < M ? B - c0 : M;
        int Tb = pack_inputs(p, ids + c0, m);
        gpt_forward(p->policy, p->inputs, NULL, m, Tb, 1);
        answer_logprobs(p, p->policy, ids + c0, m, Tb, ro->logp, ro->entropy,
                        ro->values);
        gpt_forward(p->ref, p->inputs, NULL, m, Tb, 1);
        answer_logprobs(p, p->ref, ids + c0, m, Tb, ro->ref_logp, NULL, NULL);
    }

    /* Per-token rewards, GAE, statistics. */
    struct ppo_stats *st = &p->st;
    memset(st, 0, sizeof *st);
    double s = 0, ss = 0, kl = 0, ent = 0, len = 0, ended = 0, val = 0;
    long long ntok = 0;
    const double beta = p->kl.beta;
    for (int b = 0; b < B; b++) {
        size_t o = (size_t)b * A;
        int n = ro->alen[b];
        double klb = 0;
        for (int i = 0; i < n; i++) {
            double d = (double)ro->logp[o + i] - ro->ref_logp[o + i];
            klb += d;
            ro->rewards[o + i] = (float)(-beta * d);
            ent += ro->entropy[o + i];
            val += ro->values[o + i];
        }
        ro->rewards[o + n - 1] += ro->score[b];
        ppo_gae(ro->rewards + o, ro->values + o, n, p->h.gamma, p->h.lambda,
                ro->adv + o, ro->ret + o);
        kl += klb;
        s += ro->score[b];
        ss += (double)ro->score[b] * ro->score[b];
        len += n - ro->ended[b];
        ended += ro->ended[b];
        ntok += n;
    }
    /* Whiten the advantages over every answer token of the batch. */
    float *flat = xmalloc((size_t)(ntok ? ntok : 1) * sizeof *flat);
    size_t k = 0;
    for (int b = 0; b < B; b++)
        for (int i = 0; i < ro->alen[b]; i++)
            flat[k++] = ro->adv[(size_t)b * A + i];
    st->adv_std = ppo_whiten(flat, k);
    k = 0;
    for (int b = 0; b < B; b++)
        for (int i = 0; i < ro->alen[b]; i++)
            ro->adv[(size_t)b * A + i] = flat[k++];
    free(flat);
    st->score_mean = s / B;
    double var = ss / B - st->score_mean * st->score_mean;
    st->score_std = var > 0 ? sqrt(var) : 0;
    st->kl = kl / B;
    st->entropy = ntok ? ent / (double)ntok : 0;
    st->value_mean = ntok ? val / (double)ntok : 0;
    st->answer_len = len / B;
    st->ended = ended / B;
    st->tokens = ntok;
}

/* ---- the update -------------------------------------------------------- */

double
ppo_minibatch(struct ppo *p, const int *ids, int m, struct ppo_mb *out)
{
    double pgs = 0, vfs = 0, clipped = 0, vclipped = 0, akls = 0;
    gpt_zero_grad(p->policy);
    memset(p->head_g, 0, ((size_t)p->policy->cfg.C + 1) * sizeof *p->head_g);
    struct ppo_rollouts *ro = &p->ro;
    struct gpt *g = p->policy;
    const int V = g->cfg.V, C = g->cfg.C, A = ro->A;
    const float temp = p->h.temperature;
    int Tb = pack_inputs(p, ids, m);
    gpt_forward(g, p->inputs, NULL, m, Tb, 1);
    long long ntok = 0;
    for (int k = 0; k < m; k++)
        ntok += ro->alen[ids[k]];
    const double inv = 1.0 / (double)ntok;
    float *logits = g->a.logits;
    const float *hidden = gpt_hidden(g);
    float *rl = p->row_logp, *re = p->row_akl;
    int *rclip = p->row_clip;
    size_t N = (size_t)m * Tb;

    /* Rows that are not answer tokens get a zero gradient. */
#pragma omp parallel for schedule(dynamic, 1)
    for (int k = 0; k < m; k++) {
        int id = ids[k], n = ro->alen[id];
        const int32_t *row = ro->seq + (size_t)id * ro->T;
        size_t first = (size_t)k * Tb, a0 = answer_row(ro, id, k, Tb, 0);
        for (size_t r = first; r < first + (size_t)Tb; r++)
            if (r < a0 || r >= a0 + (size_t)n)
                memset(logits + r * V, 0, (size_t)V * sizeof *logits);
        for (int i = 0; i < n; i++) {
            size_t r = a0 + (size_t)i, o = (size_t)id * A + i;
            float *z = logits + r * V;
            int y = row[ro->plen[id] + i];
            double pz, lse = row_lse(z, V, temp, &pz);
            float logp = (float)(z[y] / (double)temp - lse);
            float dlogp;
            int c;
            rl[r] = ppo_policy_loss(logp, ro->logp[o], ro->adv[o], p->h.clip,
                                    &dlogp, &c);
            re[r] = (float)(0.5 * ((double)logp - ro->logp[o]) *
                            ((double)logp - ro->logp[o]));
            rclip[r] = c;
            row_grad(z, V, y, temp, lse, dlogp * inv);
        }
    }
    /* Sums in a fixed order. */
    for (int k = 0; k < m; k++) {
        int id = ids[k];
        size_t a0 = answer_row(ro, id, k, Tb, 0);
        for (int i = 0; i < ro->alen[id]; i++) {
            pgs += rl[a0 + i];
            akls += re[a0 + i];
            clipped += rclip[a0 + i];
        }
    }
    /* Through the tied LM head: dlnf = dlogits . wte, dwte += dlogits^T . lnf */
    linear_backward(p->dlnf, g->g.wte, NULL, logits, hidden, g->p.wte,
                    (int)N, C, V, 0);
    /* The value head, on the same hidden states. */
    const float vc = p->h.vf_coef;
    for (int k = 0; k < m; k++) {
        int id = ids[k];
        for (int i = 0; i < ro->alen[id]; i++) {
            size_t r = answer_row(ro, id, k, Tb, i), o = (size_t)id * A + i;
            const float *h = hidden + r * C;
            float v = head_value(p->head, h, C), dv;
            int c;
            vfs += ppo_value_loss(v, ro->values[o], ro->ret[o],
                                      p->h.value_clip, &dv, &c);
            vclipped += c;
            double d = (double)vc * dv * inv;
            float *dh = p->dlnf + r * C;
            for (int j = 0; j < C; j++) {
                p->head_g[j] += (float)(d * h[j]);
                dh[j] += (float)(d * p->head[j]);
            }
            p->head_g[C] += (float)d;
        }
    }
    gpt_backward_hidden(g, p->dlnf);
    if (out) {
        out->pg_sum = pgs;
        out->vf_sum = vfs;
        out->clipped = clipped;
        out->vclipped = vclipped;
        out->akl_sum = akls;
        out->ntok = ntok;
    }
    return (pgs + p->h.vf_coef * vfs) / (double)ntok;
}

enum gr_status
ppo_update(struct ppo *p, struct gr_rng *rng, struct gr_error *err)
{
    struct ppo_rollouts *ro = &p->ro;
    const int B = ro->B, M = p->h.minibatch, C = p->policy->cfg.C;
    const size_t C1 = (size_t)C + 1;
    struct ppo_stats *st = &p->st;
    double pg = 0, vf = 0, clipped = 0, vclipped = 0, akl = 0, gn = 0, ptx = 0;
    long long tok = 0;
    int steps = 0;
    for (int e = 0; e < p->h.epochs; e++) {
        for (int b = 0; b < B; b++)
            p->perm[b] = b;
        for (int b = B - 1; b > 0; b--) {
            int j = (int)rng_below(rng, (uint64_t)b + 1);
            int t = p->perm[b];
            p->perm[b] = p->perm[j];
            p->perm[j] = t;
        }
        for (int c0 = 0; c0 < B; c0 += M) {
            int m = B - c0 < M ? B - c0 : M;
            struct ppo_mb mb;
            double loss = ppo_minibatch(p, p->perm + c0, m, &mb);
            tok += mb.ntok;
            clipped += mb.clipped;
            vclipped += mb.vclipped;
            akl += mb.akl_sum;
            if (p->ptx)
                ptx += p->ptx(p->ptx_ctx, p->policy);
            double hn = 0;
            for (size_t j = 0; j < C1; j++)
                hn += (double)p->head_g[j] * p->head_g[j];
            double pn = gpt_grad_norm(p->policy);
            double norm = sqrt(pn * pn + hn);
            if (!isfinite(loss) || !isfinite(norm))
                return gr_fail(err, GR_ENUMERIC, "the %s is %s",
                               isfinite(loss) ? "gradient norm" : "PPO loss",
                               isnan(isfinite(loss) ? norm : loss) ? "NaN" : "infinite");
            float gs = gpt_clip_scale((float)norm, (float)p->h.grad_clip);
            p->opt_steps++;
            int t = (int)p->opt_steps;
            float bc1 = (float)(1.0 - pow(p->h.beta1, t));
            float bc2 = (float)(1.0 - pow(p->h.beta2, t));
            adamw_update(p->head, p->head_g, p->head_m, p->head_v, C1, gs, p->h.lr,
                         p->h.beta1, p->h.beta2, p->h.eps, 0.0f, bc1, bc2);
            adamw_step_scaled(p->policy, gs, p->h.lr, p->h.beta1, p->h.beta2,
                              p->h.eps, p->h.weight_decay, t);
            pg += mb.pg_sum;
            vf += mb.vf_sum;
            gn += norm;
            steps++;
        }
    }
    st->policy_loss = tok ? pg / (double)tok : 0;
    st->value_loss = tok ? vf / (double)tok : 0;
    st->clip_frac = tok ? clipped / (double)tok : 0;
    st->value_clip_frac = tok ? vclipped / (double)tok : 0;
    st->approx_kl = tok ? akl / (double)tok : 0;
    st->grad_norm = steps ? gn / steps : 0;
    st->ptx_loss = steps ? ptx / steps : 0;
    return GR_OK;
}
