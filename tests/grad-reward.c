/* tests/grad-reward.c: the reward head.  Its gradient, through the trunk,
 * against central finite differences for sequences of different lengths
 * packed into one batch (causal and bidirectional); scores in a padded
 * batch equal scores alone; a saved reward model loads and scores the
 * same, offset applied. */
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

#include "base/rng.h"
#include "check.h"
#include "model/checkpoint.h"
#include "model/reward.h"

enum { B = 3, TMAX = 6 };
static struct gpt m;
static float *head, *dhead, *dhidden;
static int32_t seqs[B][TMAX];
static int lens[B] = { 6, 4, 5 };
static int32_t inputs[B * TMAX];
static int plens[B];
static float k[B];                      /* loss = sum_b k[b] * raw[b] */
static int causal, T;

static double
loss(void)
{
    const int32_t *p[B] = { seqs[0], seqs[1], seqs[2] };
    float raw[B];
    T = reward_pack(p, lens, B, TMAX, NULL, inputs, plens);
    gpt_forward_trunk(&m, inputs, B, T, causal);
    reward_head_forward(gpt_hidden(&m), head, plens, B, T, m.cfg.C, raw);
    double s = 0;
    for (int b = 0; b < B; b++)
        s += (double)k[b] * raw[b];
    return s;
}

/* Central difference of loss() by *x, Richardson-extrapolated. */
static double
numeric(float *x)
{
    const float h = 1e-2f;
    float x0 = *x;
    double d[2];
    for (int r = 0; r < 2; r++) {
        float e = r ? h / 2 : h;
        *x = x0 + e;
        double up = loss();
        *x = x0 - e;
        double down = loss();
        *x = x0;
        d[r] = (up - down) / ((double)(x0 + e) - (double)(x0 - e));
    }
    return (4.0 * d[1] - d[0]) / 3.0;
}

static void
check_grads(const char *what)
{
    int C = m.cfg.C;
    gpt_zero_grad(&m);
    memset(dhead, 0, (size_t)(C + 1) * sizeof *dhead);
    loss();
    reward_head_backward(gpt_hidden(&m), head, plens, k, B, T, C, dhidden, dhead);
    gpt_backward_hidden(&m, dhidden);
    size_t bad = 0;
    for (int c = 0; c <= C; c++) {
        double n = numeric(&head[c]);
        if (fabs(n - dhead[c]) > 2e-2 * fmax(1, fabs(n)) && bad++ < 3)
            fprintf(stderr, "%s head[%d]: analytic %g numeric %g\n", what, c, dhead[c], n);
    }
    for (size_t i = 0; i < m.nparams; i += 7) {
        double n = numeric(&m.params[i]);
        double a = m.grads[i];
        if (fabs(n - a) > 2e-2 * fmax(1e-1, fmax(fabs(n), fabs(a))) && bad++ < 6)
            fprintf(stderr, "%s param %zu: analytic %g numeric %g\n", what, i, a, n);
    }
    CHECK_MSG(bad == 0, "%s: %zu gradients off", what, bad);
}

int
main(void)
{
    struct gr_rng rng;
    rng_seed(&rng, 11);
    struct gpt_config cfg = { .L = 2, .NH = 2, .C = 8, .T = TMAX, .V = 270 };
    struct gr_error err;
    CHECK(gpt_create(&m, &cfg, &err) == GR_OK);
    CHECK(gpt_alloc_acts(&m, B, TMAX, &err) == GR_OK);
    gpt_init_weights(&m, &rng);
    for (size_t i = 0; i < m.nparams; i++)
        m.params[i] += 0.3f * rng_normal(&rng);
    head = malloc((size_t)(cfg.C + 1) * sizeof *head);
    dhead = malloc((size_t)(cfg.C + 1) * sizeof *dhead);
    dhidden = malloc((size_t)B * TMAX * cfg.C * sizeof *dhidden);
    for (int c = 0; c <= cfg.C; c++)
        head[c] = rng_normal(&rng);
    for (int b = 0; b < B; b++) {
        k[b] = rng_normal(&rng);
        for (int t = 0; t < TMAX; t++)
            seqs[b][t] = (int32_t)rng_below(&rng, 256);
        seqs[b][lens[b] - 1] = BPE_END;
    }

    causal = 1;
    check_grads("causal");
    /* bidirectional with equal lengths (padding would be seen) */
    lens[1] = lens[2] = 6;
    causal = 0;
    check_grads("bidirectional");
    lens[1] = 4;
    lens[2] = 5;

    /* Save as a reward model, load, score: batch = one by one = by hand. */
    char path[] = "/tmp/grad-reward-XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    close(fd);
    struct ckpt_meta meta;
    ckpt_meta_init(&meta);
    snprintf(meta.kind, sizeof meta.kind, "reward");
    meta.cfg = cfg;
    meta.nextra = (size_t)cfg.C + 1;
    meta.extra = json_pack("{s:f, s:s}", "offset", 0.25, "attention", "causal");
    CHECK(ckpt_save(path, &m, &meta, head, &err) == GR_OK);
    ckpt_meta_release(&meta);
    struct reward_model rm;
    CHECK(reward_load(path, NULL, &rm, &err) == GR_OK);
    CHECK_NEAR(rm.offset, 0.25, 1e-6);
    CHECK(rm.causal == 1);
    const int32_t *p[B] = { seqs[0], seqs[1], seqs[2] };
    float all[B], one[B];
    CHECK(reward_score_batch(&rm, p, lens, B, all, &err) == GR_OK);
    for (int b = 0; b < B; b++) {
        CHECK(reward_score_batch(&rm, &p[b], &lens[b], 1, &one[b], &err) == GR_OK);
        CHECK_NEAR(all[b], one[b], 1e-4);
    }
    causal = 1;
    for (int b = 0; b < B; b++)
        k[b] = b == 0;
    CHECK_NEAR(all[0], loss() - 0.25, 1e-4);
    reward_release(&rm);

    /* a base checkpoint is not a reward model */
    ckpt_meta_init(&meta);
    snprintf(meta.kind, sizeof meta.kind, "base");
    meta.cfg = cfg;
    CHECK(ckpt_save(path, &m, &meta, NULL, &err) == GR_OK);
    CHECK(reward_load(path, NULL, &rm, &err) == GR_EINPUT);
    CHECK(strstr(err.msg, "not a reward model") != NULL);
    unlink(path);

    free(head);
    free(dhead);
    free(dhidden);
    gpt_release(&m);
    return check_exit();
}
