/* tests/grad-gpt.c: the whole model's gradient against central finite
 * differences, for every parameter of a tiny GPT (L=2, NH=2, C=8, T=5,
 * V=11, B=2), causal with some ignored targets and bidirectional with
 * masked-LM targets; plus the weighted and hidden-state backwards and
 * gradient accumulation. */
#include <stdint.h>
#include <stdlib.h>

#include "base/rng.h"
#include "check.h"
#include "kernels/blas.h"
#include "model/gpt.h"

enum { B = 2, T = 5 };
static struct gpt m;
static int32_t inputs[B * T], targets[B * T];
static float weights[B * T];            /* for the weighted loss */
static float *hid_k;                    /* (B,T,C) for the hidden loss */
static int causal, mode;                /* 0 mean CE, 1 weighted, 2 hidden */

/* The loss in double from the per-position losses. */
static double
loss(void)
{
    double s = 0.0;
    int n = 0;
    if (mode == 2) {
        gpt_forward_trunk(&m, inputs, B, T, causal);
        const float *h = gpt_hidden(&m);
        for (int i = 0; i < B * T * m.cfg.C; i++)
            s += (double)h[i] * hid_k[i];
        return s;
    }
    gpt_forward(&m, inputs, targets, B, T, causal);
    for (int i = 0; i < B * T; i++) {
        if (targets[i] < 0)
            continue;
        s += mode == 1 ? (double)weights[i] * m.losses[i] : m.losses[i];
        n++;
    }
    return mode == 1 ? s : s / n;
}

static void
check_model(const char *what)
{
    gpt_zero_grad(&m);
    loss();
    if (mode == 0)
        gpt_backward(&m);
    else if (mode == 1)
        gpt_backward_weighted(&m, weights);
    else
        gpt_backward_hidden(&m, hid_k);

    struct gpt_tensor ts[GPT_NTENSORS];
    gpt_tensors(&m.cfg, ts);
    /* Central differences at h and h/2, combined by Richardson
     * extrapolation to cancel the h^2 error term: LayerNorm over C = 8
     * channels is strongly curved where a row's variance is small. */
    double *num = malloc(m.nparams * sizeof *num);
    const float h = 1e-2f;
    for (size_t i = 0; i < m.nparams; i++) {
        float x0 = m.params[i];
        double d[2];
        for (int r = 0; r < 2; r++) {
            float e = r ? h / 2 : h;
            m.params[i] = x0 + e;
            double up = loss();
            m.params[i] = x0 - e;
            double down = loss();
            m.params[i] = x0;
            d[r] = (up - down) / ((double)(x0 + e) - (double)(x0 - e));
        }
        num[i] = (4.0 * d[1] - d[0]) / 3.0;
    }
    for (int k = 0; k < GPT_NTENSORS; k++) {
        size_t o = ts[k].offset, n = ts[k].numel, bad = 0;
        double mx = 0, worst = 0;
        for (size_t i = 0; i < n; i++)
            mx = fmax(mx, fabs(num[o + i]));
        double floor = fmax(2e-2 * mx, 1e-4);
        for (size_t i = 0; i < n; i++) {
            double a = m.grads[o + i], d = num[o + i];
            double e = fabs(a - d) / fmax(fmax(fabs(a), fabs(d)), floor);
            worst = fmax(worst, e);
            if (e > 2e-2 && bad++ < 3)
                fprintf(stderr, "%s %s[%zu]: analytic %.7g numeric %.7g\n",
                        what, ts[k].name, i, a, d);
        }
        CHECK_MSG(bad == 0, "%s: %s: %zu of %zu off (worst %.3g)", what,
                  ts[k].name, bad, n, worst);
        /* wpe rows past T and ignored structure aside, every tensor
         * takes part */
        CHECK_MSG(mx > 0, "%s: %s has no gradient", what, ts[k].name);
    }
    free(num);
}

int
main(void)
{
    struct gr_rng rng;
    rng_seed(&rng, 7);
    struct gpt_config cfg = { .L = 2, .NH = 2, .C = 8, .T = T, .V = 11 };
    struct gr_error err;
    CHECK(gpt_create(&m, &cfg, &err) == GR_OK);
    CHECK(gpt_alloc_acts(&m, B, T, &err) == GR_OK);
    /* Larger weights than GPT-2's init, so every path carries gradient. */
    gpt_init_weights(&m, &rng);
    for (size_t i = 0; i < m.nparams; i++)
        m.params[i] += 0.3f * rng_normal(&rng);
    hid_k = malloc((size_t)B * T * cfg.C * sizeof *hid_k);
    for (int i = 0; i < B * T * cfg.C; i++)
        hid_k[i] = rng_normal(&rng);
    for (int i = 0; i < B * T; i++) {
        inputs[i] = (int32_t)rng_below(&rng, cfg.V);
        weights[i] = rng_normal(&rng);
    }

    /* causal next-token targets, two ignored */
    causal = 1;
    for (int i = 0; i < B * T; i++)
        targets[i] = (int32_t)rng_below(&rng, cfg.V);
    targets[3] = targets[7] = -1;
    mode = 0;
    check_model("causal");
    mode = 1;
    check_model("causal weighted");

    /* bidirectional, masked-LM style: targets at a few positions only */
    causal = 0;
    for (int i = 0; i < B * T; i++)
        targets[i] = i % 3 == 0 ? (int32_t)rng_below(&rng, cfg.V) : -1;
    mode = 0;
    check_model("bidirectional");
    mode = 2;
    check_model("bidirectional hidden");
    causal = 1;
    check_model("causal hidden");

    /* accumulation: two backwards with loss_scale 1/2 = one with 1 */
    mode = 0;
    gpt_zero_grad(&m);
    gpt_forward(&m, inputs, targets, B, T, 1);
    gpt_backward(&m);
    float *g1 = malloc(m.nparams * sizeof *g1);
    for (size_t i = 0; i < m.nparams; i++)
        g1[i] = m.grads[i];
    gpt_zero_grad(&m);
    m.loss_scale = 0.5f;
    for (int r = 0; r < 2; r++) {
        gpt_forward(&m, inputs, targets, B, T, 1);
        gpt_backward(&m);
    }
    for (size_t i = 0; i < m.nparams; i++)
        CHECK_NEAR(m.grads[i], g1[i], 1e-5);

    /* the same gradients with products split across threads */
    kernels_set_threads(2);
    m.loss_scale = 1.0f;
    gpt_zero_grad(&m);
    gpt_forward(&m, inputs, targets, B, T, 1);
    gpt_backward(&m);
    for (size_t i = 0; i < m.nparams; i++)
        CHECK_NEAR(m.grads[i], g1[i], 1e-5);

    free(g1);
    free(hid_k);
    gpt_release(&m);
    return check_exit();
}
