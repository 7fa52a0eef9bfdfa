/* tests/test-ppo.c: the PPO machinery with a stand-in reward function,
 * on tiny random GPTs: GAE and whitening against hand computations, the
 * clipped losses and the whole minibatch gradient (policy through the
 * LM head and trunk, value head) against central differences, the KL
 * controller, batched rollouts of prompts of different lengths against
 * one-at-a-time generation, learning a reward, and resuming from saved
 * state bit for bit. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/rng.h"
#include "check.h"
#include "model/adamw.h"
#include "model/gpt.h"
#include "model/ppo.h"
#include "text/bpe.h"

static void
make_model(struct gpt *m, int L, int C, int T, int V, uint64_t seed)
{
    struct gpt_config cfg = { .L = L, .NH = 2, .C = C, .T = T, .V = V };
    struct gr_error err;
    struct gr_rng r;
    CHECK(gpt_create(m, &cfg, &err) == GR_OK);
    rng_seed(&r, seed);
    gpt_init_weights(m, &r);
}

static void
copy_model(struct gpt *dst, const struct gpt *src)
{
    struct gr_error err;
    CHECK(gpt_create(dst, &src->cfg, &err) == GR_OK);
    memcpy(dst->params, src->params, src->nparams * sizeof(float));
    memcpy(dst->adam_m, src->adam_m, src->nparams * sizeof(float));
    memcpy(dst->adam_v, src->adam_v, src->nparams * sizeof(float));
}

static void
test_gae(void)
{
    float r[3] = { 0.5f, -1.0f, 2.0f }, v[3] = { 0.1f, 0.2f, -0.3f };
    float adv[3], ret[3];
    const double g = 0.9, l = 0.8;
    ppo_gae(r, v, 3, (float)g, (float)l, adv, ret);
    double d2 = 2.0 - -0.3;
    double d1 = -1.0 + g * -0.3 - 0.2;
    double d0 = 0.5 + g * 0.2 - 0.1;
    double a2 = d2, a1 = d1 + g * l * a2, a0 = d0 + g * l * a1;
    CHECK_NEAR(adv[2], a2, 1e-6);
    CHECK_NEAR(adv[1], a1, 1e-6);
    CHECK_NEAR(adv[0], a0, 1e-6);
    CHECK_NEAR(ret[0], a0 + 0.1, 1e-6);
    /* gamma = lambda = 1: the advantage is the sum of later rewards
     * minus the value. */
    ppo_gae(r, v, 3, 1.0f, 1.0f, adv, ret);
    CHECK_NEAR(adv[0], 0.5 - 1.0 + 2.0 - 0.1, 1e-6);
    CHECK_NEAR(ret[0], 1.5, 1e-6);

    float x[5] = { 1, 2, 3, 4, 10 };
    ppo_whiten(x, 5);
    double s = 0, ss = 0;
    for (int i = 0; i < 5; i++) {
        s += x[i];
        ss += x[i] * x[i];
    }
    CHECK_NEAR(s / 5, 0.0, 1e-6);
    CHECK_NEAR(ss / 5, 1.0, 1e-5);
}

static void
test_losses(void)
{
    const float eps = 1e-3f;
    float d;
    int c;
    /* Inside the clip range: the plain surrogate, d = -A r. */
    float l = ppo_policy_loss(-1.0f, -1.05f, 2.0f, 0.2f, &d, &c);
    double r = exp(0.05);
    CHECK_NEAR(l, -2.0 * r, 1e-6);
    CHECK_NEAR(d, -2.0 * r, 1e-6);
    CHECK(!c);
    float up = ppo_policy_loss(-1.0f + eps, -1.05f, 2.0f, 0.2f, NULL, NULL);
    float dn = ppo_policy_loss(-1.0f - eps, -1.05f, 2.0f, 0.2f, NULL, NULL);
    CHECK_NEAR(d, (up - dn) / (2 * eps), 1e-3);
    /* A > 0 and the ratio far above 1 + clip: clipped, no gradient. */
    l = ppo_policy_loss(0.0f, -1.0f, 1.5f, 0.2f, &d, &c);
    CHECK(c);
    CHECK_NEAR(l, -1.5 * 1.2, 1e-6);
    CHECK_NEAR(d, 0.0, 1e-9);
    /* A < 0 and the ratio far above: the unclipped term is larger (the
     * pessimistic bound), so the gradient flows. */
    l = ppo_policy_loss(0.0f, -1.0f, -1.5f, 0.2f, &d, &c);
    CHECK(!c);
    CHECK_NEAR(d, 1.5 * exp(1.0), 1e-5);

    /* Value loss: inside, 0.5 (v-R)^2; the clipped value far from R. */
    l = ppo_value_loss(1.1f, 1.0f, 2.0f, 0.2f, &d, &c);
    CHECK_NEAR(l, 0.5 * 0.9 * 0.9, 1e-6);
    CHECK_NEAR(d, 1.1 - 2.0, 1e-6);
    CHECK(!c);
    /* v moved close to R, beyond the clip: the clipped term is larger */
    l = ppo_value_loss(2.1f, 1.0f, 2.0f, 0.2f, &d, &c);
    CHECK(c);
    CHECK_NEAR(l, 0.5 * 0.8 * 0.8, 1e-6);
    CHECK_NEAR(d, 0.0, 1e-9);
    l = ppo_value_loss(3.0f, 1.0f, 2.0f, 0.0f, &d, &c);
    CHECK_NEAR(l, 0.5, 1e-6);
    CHECK_NEAR(d, 1.0, 1e-6);

    /* A row's log-probability and entropy at a temperature. */
    float row[4] = { 1.0f, 2.0f, 0.5f, -1.0f };
    float ent;
    float lp = ppo_row_logprob(row, 4, 1, 0.5f, &ent);
    double z[4], mx = 4.0, sum = 0, h = 0;
    for (int i = 0; i < 4; i++)
        sum += exp((z[i] = row[i] / 0.5) - mx);
    double lse = mx + log(sum);
    for (int i = 0; i < 4; i++)
        h -= exp(z[i] - lse) * (z[i] - lse);
    CHECK_NEAR(lp, z[1] - lse, 1e-6);
    CHECK_NEAR(ent, h, 1e-5);
}

static void
test_klctl(void)
{
    struct ppo_klctl c = { .beta = 0.1, .target = 6, .horizon = 100 };
    ppo_klctl_update(&c, 12, 10);       /* error clipped to +0.2 */
    CHECK_NEAR(c.beta, 0.1 * 1.02, 1e-12);
    c.beta = 0.1;
    ppo_klctl_update(&c, 5.4, 10);      /* -0.1 */
    CHECK_NEAR(c.beta, 0.1 * 0.99, 1e-12);
    c.target = 0;                       /* fixed coefficient */
    ppo_klctl_update(&c, 100, 10);
    CHECK_NEAR(c.beta, 0.1 * 0.99, 1e-12);
}

/* Prompts of different lengths: <|user|> x.. <|end|> <|assistant|> */
#define NP 4
static int32_t prompt_buf[NP][8];
static int prompt_len[NP] = { 4, 6, 3, 5 };
static const int32_t *prompt_ptr[NP];

static void
make_prompts(int V)
{
    for (int b = 0; b < NP; b++) {
        int n = prompt_len[b];
        prompt_buf[b][0] = BPE_USER;
        for (int i = 1; i < n - 2; i++)
            prompt_buf[b][i] = (int32_t)((b * 7 + i * 13) % (V - 5));
        prompt_buf[b][n - 2] = BPE_END;
        prompt_buf[b][n - 1] = BPE_ASSISTANT;
        prompt_ptr[b] = prompt_buf[b];
    }
}

/* The stand-in reward: the share of answer tokens below 128 (bytes of
 * the lower half), and 0.5 more for closing with <|end|>. */
static void
stand_in_reward(struct ppo *p)
{
    struct ppo_rollouts *ro = &p->ro;
    for (int b = 0; b < ro->B; b++) {
        const int32_t *a = ro->seq + (size_t)b * ro->T + ro->plen[b];
        int low = 0;
        for (int i = 0; i < ro->alen[b]; i++)
            low += a[i] < 128;
        ro->score[b] = (float)low / (float)ro->alen[b] + 0.5f * ro->ended[b];
    }
}

static struct ppo_hparams
small_hparams(void)
{
    struct ppo_hparams h = ppo_defaults();
    h.batch = NP;
    h.minibatch = 2;
    h.epochs = 2;
    h.max_answer = 6;
    h.lr = 3e-3f;
    return h;
}

/* The minibatch gradient against central differences of its loss. */
static void
test_gradient(void)
{
    struct gpt pol, ref;
    make_model(&pol, 1, 8, 16, 262, 11);
    copy_model(&ref, &pol);
    /* make the policy differ from the reference */
    struct gr_rng r;
    rng_seed(&r, 5);
    for (size_t i = 0; i < pol.nparams; i++)
        pol.params[i] += 0.01f * rng_normal(&r);
    make_prompts(262);
    struct ppo p;
    struct gr_error err;
    struct ppo_hparams h = small_hparams();
    h.temperature = 0.7f;
    h.value_clip = 0.0f;    /* the clipped value loss is not smooth */
    h.vf_coef = 0.5f;
    CHECK(ppo_init(&p, &h, &pol, &ref, 0.1, 6, 100, &err) == GR_OK);
    for (int i = 0; i <= pol.cfg.C; i++)
        p.head[i] = 0.1f * rng_normal(&r);
    rng_seed(&r, 9);
    ppo_rollout(&p, prompt_ptr, prompt_len, &r);
    stand_in_reward(&p);
    ppo_prepare(&p);
    /* Move the policy so that ratios differ from 1 (but stay within the
     * clip range: the clipped loss is flat, not wrong, elsewhere). */
    for (size_t i = 0; i < pol.nparams; i++)
        pol.params[i] += 0.002f * rng_normal(&r);
    int ids[2] = { 2, 0 };
    ppo_minibatch(&p, ids, 2, NULL);
    float *g = malloc(pol.nparams * sizeof *g);
    memcpy(g, pol.grads, pol.nparams * sizeof *g);
    float hg[9];
    memcpy(hg, p.head_g, sizeof hg);
    /* a sample of parameters across the tensors, and the head */
    struct gpt_tensor ts[GPT_NTENSORS];
    gpt_tensors(&pol.cfg, ts);
    int bad = 0, tried = 0;
    for (int k = 0; k < GPT_NTENSORS; k++) {
        for (int j = 0; j < 3; j++) {
            size_t i = ts[k].offset + rng_below(&r, ts[k].numel);
            float x0 = pol.params[i];
            const float e = 3e-3f;
            pol.params[i] = x0 + e;
            double up = ppo_minibatch(&p, ids, 2, NULL);
            pol.params[i] = x0 - e;
            double dn = ppo_minibatch(&p, ids, 2, NULL);
            pol.params[i] = x0;
            double num = (up - dn) / (2 * e);
            tried++;
            if (fabs(num - g[i]) > 2e-3 * fmax(1.0, fabs(num)) + 2e-4) {
                bad++;
                fprintf(stderr, "%s[%zu]: analytic %g numeric %g\n",
                        ts[k].name, i - ts[k].offset, g[i], num);
            }
        }
    }
    for (int i = 0; i <= pol.cfg.C; i++) {
        float x0 = p.head[i];
        const float e = 1e-2f;
        p.head[i] = x0 + e;
        double up = ppo_minibatch(&p, ids, 2, NULL);
        p.head[i] = x0 - e;
        double dn = ppo_minibatch(&p, ids, 2, NULL);
        p.head[i] = x0;
        CHECK_NEAR(hg[i], (up - dn) / (2 * e), 2e-3);
    }
    CHECK_MSG(bad == 0, "%d of %d policy gradients disagree", bad, tried);
    free(g);
    ppo_release(&p);
    gpt_release(&pol);
    gpt_release(&ref);
}

/* Batched rollouts with a near-greedy temperature equal one prompt at
 * a time; answers are well formed. */
static void
test_rollout(void)
{
    struct gpt pol, ref;
    make_model(&pol, 2, 16, 24, 270, 3);
    copy_model(&ref, &pol);
    make_prompts(270);
    struct ppo_hparams h = small_hparams();
    h.temperature = 1e-3f;
    h.max_answer = 10;
    struct ppo p;
    struct gr_error err;
    CHECK(ppo_init(&p, &h, &pol, &ref, 0.1, 6, 100, &err) == GR_OK);
    struct gr_rng r;
    rng_seed(&r, 1);
    ppo_rollout(&p, prompt_ptr, prompt_len, &r);
    h.batch = h.minibatch = 1;
    for (int b = 0; b < NP; b++) {
        struct ppo one;
        CHECK(ppo_init(&one, &h, &pol, &ref, 0.1, 6, 100, &err) == GR_OK);
        ppo_rollout(&one, &prompt_ptr[b], &prompt_len[b], &r);
        CHECK_EQ_INT(one.ro.alen[0], p.ro.alen[b]);
        CHECK(memcmp(one.ro.seq, p.ro.seq + (size_t)b * p.ro.T,
                     (size_t)(prompt_len[b] + one.ro.alen[0]) * sizeof(int32_t)) == 0);
        ppo_release(&one);
    }
    /* at a normal temperature: lengths and endings are consistent */
    p.h.temperature = 1.0f;
    for (int it = 0; it < 5; it++) {
        ppo_rollout(&p, prompt_ptr, prompt_len, &r);
        for (int b = 0; b < NP; b++) {
            int n = p.ro.alen[b];
            CHECK(n >= 1 && n <= 10);
            const int32_t *a = p.ro.seq + (size_t)b * p.ro.T + prompt_len[b];
            CHECK_EQ_INT(p.ro.ended[b], a[n - 1] == BPE_END);
            for (int i = 0; i < n - 1; i++)
                CHECK(a[i] != BPE_END);
            CHECK(memcmp(p.ro.seq + (size_t)b * p.ro.T, prompt_ptr[b],
                         (size_t)prompt_len[b] * sizeof(int32_t)) == 0);
        }
        /* the policy is the reference: the KL is 0 exactly */
        stand_in_reward(&p);
        ppo_prepare(&p);
        CHECK_NEAR(p.st.kl, 0.0, 1e-12);
    }
    ppo_release(&p);
    gpt_release(&pol);
    gpt_release(&ref);
}

/* iters iterations from the state in (pol, p, rng). */
static void
run(struct ppo *p, struct gr_rng *r, int iters, double *first, double *last)
{
    struct gr_error err;
    for (int it = 0; it < iters; it++) {
        ppo_rollout(p, prompt_ptr, prompt_len, r);
        stand_in_reward(p);
        ppo_prepare(p);
        if (it == 0 && first)
            *first = p->st.score_mean;
        if (last)
            *last = p->st.score_mean;
        CHECK(ppo_update(p, r, &err) == GR_OK);
        ppo_klctl_update(&p->kl, p->st.kl, p->ro.B);
    }
}

/* The stand-in reward goes up; a copy of the state mid-way continues
 * bit for bit. */
static void
test_learn_and_resume(void)
{
    struct gpt pol, ref;
    make_model(&pol, 1, 16, 16, 262, 21);
    copy_model(&ref, &pol);
    make_prompts(262);
    struct ppo_hparams h = small_hparams();
    h.batch = 16;
    h.minibatch = 4;
    h.max_answer = 6;
    static const int32_t *pp[16];
    static int pl[16];
    for (int b = 0; b < 16; b++) {
        pp[b] = prompt_ptr[b % NP];
        pl[b] = prompt_len[b % NP];
    }
    struct ppo p;
    struct gr_error err;
    CHECK(ppo_init(&p, &h, &pol, &ref, 0.02, 1, 64, &err) == GR_OK);
    struct gr_rng r;
    rng_seed(&r, 77);
    double first = 0, last = 0, tail = 0;
    int iters = 40;
    for (int it = 0; it < iters; it++) {
        ppo_rollout(&p, pp, pl, &r);
        stand_in_reward(&p);
        ppo_prepare(&p);
        if (it == 0)
            first = p.st.score_mean;
        if (it >= iters - 5)
            tail += p.st.score_mean / 5;
        last = p.st.score_mean;
        CHECK(ppo_update(&p, &r, &err) == GR_OK);
        ppo_klctl_update(&p.kl, p.st.kl, p.ro.B);
    }
    (void)last;
    CHECK_MSG(tail > first + 0.3, "reward %.3f -> %.3f", first, tail);
    CHECK_MSG(p.st.kl > 0, "KL %g", p.st.kl);
    CHECK(p.kl.beta != 0.02);
    fprintf(stderr, "stand-in reward %.3f -> %.3f, KL %.3f, beta %.4f\n",
            first, tail, p.st.kl, p.kl.beta);
    ppo_release(&p);

    /* Resume: 4 iterations in one go vs 2, a copy of every piece of
     * state into new objects, 2 more. */
    struct gpt a, b2, ref2;
    make_model(&a, 1, 8, 16, 262, 4);
    copy_model(&ref2, &a);
    struct ppo pa, pb;
    h = small_hparams();
    CHECK(ppo_init(&pa, &h, &a, &ref2, 0.05, 2, 20, &err) == GR_OK);
    struct gr_rng ra;
    rng_seed(&ra, 3);
    run(&pa, &ra, 2, NULL, NULL);
    /* the saved state: parameters and moments, head, controller, steps, rng */
    copy_model(&b2, &a);
    struct gpt refb;
    copy_model(&refb, &ref2);
    CHECK(ppo_init(&pb, &h, &b2, &refb, 0.0, 2, 20, &err) == GR_OK);
    float *hs = malloc(ppo_head_floats(&pa) * sizeof *hs);
    ppo_save_head(&pa, hs);
    ppo_load_head(&pb, hs);
    free(hs);
    pb.kl.beta = pa.kl.beta;
    pb.opt_steps = pa.opt_steps;
    struct gr_rng rb = ra;
    run(&pa, &ra, 2, NULL, NULL);
    run(&pb, &rb, 2, NULL, NULL);
    CHECK(memcmp(a.params, b2.params, a.nparams * sizeof(float)) == 0);
    CHECK(memcmp(a.adam_v, b2.adam_v, a.nparams * sizeof(float)) == 0);
    CHECK(memcmp(pa.head, pb.head, (a.cfg.C + 1) * sizeof(float)) == 0);
    CHECK(pa.kl.beta == pb.kl.beta);
    ppo_release(&pa);
    ppo_release(&pb);
    gpt_release(&a);
    gpt_release(&b2);
    gpt_release(&ref2);
    gpt_release(&refb);
    gpt_release(&pol);
    gpt_release(&ref);
}

int
main(void)
{
    test_gae();
    test_losses();
    test_klctl();
    test_gradient();
    test_rollout();
    test_learn_and_resume();
    return check_exit();
}
