/* tests/test-gpt.c: the model's API: config checks and their messages,
 * parameter layout and count, initialisation, activation allocation,
 * losses with ignored targets, AdamW against a scalar reference, gradient
 * norm and clipping; padding a causal batch (gpt_padded_len) leaves the
 * real positions' logits as they were, in fp32 and bf16. */
#include <stdint.h>
#include <stdlib.h>

#include "base/rng.h"
#include "check.h"
#include "kernels/bf16.h"
#include "kernels/blas.h"
#include "model/adamw.h"
#include "model/gpt.h"

static void
test_config(void)
{
    struct gpt m;
    struct gr_error err;
    struct gpt_config c = { .L = 2, .NH = 3, .C = 100, .T = 16, .V = 50 };
    CHECK_EQ_INT(gpt_create(&m, &c, &err), GR_EINPUT);
    CHECK_STR(err.msg, "dim 100 is not divisible by heads 3");
    CHECK(m.params == NULL);
    gpt_release(&m);
    c.NH = 4;
    c.L = 0;
    CHECK_EQ_INT(gpt_create(&m, &c, &err), GR_EINPUT);
    CHECK_STR(err.msg, "layers 0 is out of range 1..256");
    c.L = 2;
    c.T = 0;
    CHECK_EQ_INT(gpt_config_check(&c, &err), GR_EINPUT);
    CHECK_STR(err.msg, "context 0 is out of range 1..65536");
    c.T = 16;
    c.V = 0;
    CHECK_EQ_INT(gpt_config_check(&c, &err), GR_EINPUT);
    CHECK_STR(err.msg, "vocab 0 is out of range 1..16777216");
    c.V = 50;
    c.NH = 200;
    CHECK_EQ_INT(gpt_config_check(&c, &err), GR_EINPUT);
    CHECK_STR(err.msg, "heads 200 is out of range 1..100");
    c.NH = 4;
    CHECK_EQ_INT(gpt_config_check(&c, &err), GR_OK);

    /* GPT-2 small has 124,439,808 parameters */
    struct gpt_config g2 = { .L = 12, .NH = 12, .C = 768, .T = 1024,
                             .V = 50257 };
    CHECK_EQ_INT(gpt_num_params(&g2), 124439808);
}

static void
test_layout(void)
{
    struct gpt m;
    struct gr_error err;
    struct gpt_config c = { .L = 3, .NH = 2, .C = 16, .T = 10, .V = 37 };
    CHECK(gpt_create(&m, &c, &err) == GR_OK);
    size_t L = 3, C = 16;
    CHECK_EQ_INT(m.nparams, 37 * C + 10 * C + L * (12 * C * C + 13 * C) +
                 2 * C);
    CHECK_EQ_INT(m.nparams, gpt_num_params(&c));
    float *bufs[4] = { m.params, m.grads, m.adam_m, m.adam_v };
    for (int i = 0; i < 4; i++)
        CHECK(bufs[i] && (uintptr_t)bufs[i] % 64 == 0);
    CHECK(m.p.wte == m.params && m.g.wte == m.grads);
    CHECK(m.p.lnfb == m.params + m.nparams - C);
    CHECK(m.g.fcprojw - m.grads == m.p.fcprojw - m.params);

    struct gpt_tensor t[GPT_NTENSORS];
    gpt_tensors(&c, t);
    float *views[GPT_NTENSORS] = {
        m.p.wte, m.p.wpe, m.p.ln1w, m.p.ln1b, m.p.qkvw, m.p.qkvb,
        m.p.attprojw, m.p.attprojb, m.p.ln2w, m.p.ln2b, m.p.fcw, m.p.fcb,
        m.p.fcprojw, m.p.fcprojb, m.p.lnfw, m.p.lnfb,
    };
    size_t off = 0;
    int decays = 0;
    for (int k = 0; k < GPT_NTENSORS; k++) {
        CHECK_EQ_INT(t[k].offset, off);
        CHECK(views[k] == m.params + off);
        size_t n = 1;
        for (int d = 0; d < t[k].ndim; d++)
            n *= t[k].shape[d];
        CHECK_EQ_INT(n, t[k].numel);
        CHECK_EQ_INT(gpt_param_is_matrix(&c, off), t[k].decay);
        CHECK_EQ_INT(gpt_param_is_matrix(&c, off + t[k].numel - 1),
                     t[k].decay);
        decays += t[k].decay;
        off += t[k].numel;
    }
    CHECK_EQ_INT(off, m.nparams);
    CHECK_EQ_INT(decays, 6);    /* wte wpe qkvw attprojw fcw fcprojw */
    CHECK_STR(t[4].name, "qkvw");
    CHECK_EQ_INT(t[4].shape[0], 3);
    CHECK_EQ_INT(t[4].shape[1], 48);
    CHECK_EQ_INT(t[4].shape[2], 16);
    gpt_release(&m);
    gpt_release(&m);            /* twice is fine */
}

static double
stddev(const float *x, size_t n, double *mean)
{
    double s = 0, q = 0;
    for (size_t i = 0; i < n; i++)
        s += x[i];
    *mean = s / n;
    for (size_t i = 0; i < n; i++)
        q += (x[i] - *mean) * (x[i] - *mean);
    return sqrt(q / n);
}

static void
test_init(void)
{
    struct gpt m, m2;
    struct gr_error err;
    struct gpt_config c = { .L = 4, .NH = 4, .C = 64, .T = 32, .V = 300 };
    CHECK(gpt_create(&m, &c, &err) == GR_OK);
    CHECK(gpt_create(&m2, &c, &err) == GR_OK);
    struct gr_rng r;
    rng_seed(&r, 11);
    gpt_init_weights(&m, &r);
    rng_seed(&r, 11);
    gpt_init_weights(&m2, &r);
    CHECK(memcmp(m.params, m2.params, m.nparams * sizeof(float)) == 0);
    double mean, sd;
    sd = stddev(m.p.wte, (size_t)c.V * c.C, &mean);
    CHECK_NEAR(sd, 0.02, 0.001);
    CHECK_NEAR(mean, 0.0, 0.001);
    sd = stddev(m.p.fcw, (size_t)c.L * 4 * c.C * c.C, &mean);
    CHECK_NEAR(sd, 0.02, 0.001);
    sd = stddev(m.p.attprojw, (size_t)c.L * c.C * c.C, &mean);
    CHECK_NEAR(sd, 0.02 / sqrt(2.0 * c.L), 0.0005);
    sd = stddev(m.p.fcprojw, (size_t)c.L * 4 * c.C * c.C, &mean);
    CHECK_NEAR(sd, 0.02 / sqrt(2.0 * c.L), 0.0005);
    for (int i = 0; i < c.L * c.C; i++) {
        CHECK(m.p.ln1w[i] == 1.0f && m.p.ln2w[i] == 1.0f);
        CHECK(m.p.ln1b[i] == 0.0f && m.p.attprojb[i] == 0.0f);
    }
    for (int i = 0; i < c.L * 4 * c.C; i++)
        CHECK(m.p.fcb[i] == 0.0f);
    for (int i = 0; i < c.C; i++)
        CHECK(m.p.lnfw[i] == 1.0f && m.p.lnfb[i] == 0.0f);
    gpt_release(&m);
    gpt_release(&m2);
}

static void
test_forward(void)
{
    struct gpt m;
    struct gr_error err;
    struct gpt_config c = { .L = 2, .NH = 2, .C = 32, .T = 12, .V = 40 };
    CHECK(gpt_create(&m, &c, &err) == GR_OK);
    CHECK_EQ_INT(gpt_alloc_acts(&m, 2, 13, &err), GR_EINPUT);
    CHECK_STR(err.msg, "sequence length 13 is out of range 1..12 (the "
              "model's context)");
    CHECK_EQ_INT(gpt_alloc_acts(&m, 0, 4, &err), GR_EINPUT);
    CHECK(gpt_alloc_acts(&m, 3, 12, &err) == GR_OK);
    float *mem = m.acts_mem;
    CHECK(gpt_alloc_acts(&m, 2, 8, &err) == GR_OK);    /* fits: kept */
    CHECK(m.acts_mem == mem && m.B == 3 && m.T == 12);
    struct gr_rng r;
    rng_seed(&r, 5);
    gpt_init_weights(&m, &r);

    enum { B = 3, T = 12 };
    int32_t in[B * T], tg[B * T];
    for (int i = 0; i < B * T; i++) {
        in[i] = (int32_t)rng_below(&r, c.V);
        tg[i] = i % 4 == 2 ? -1 : (int32_t)rng_below(&r, c.V);
    }
    float loss = gpt_forward(&m, in, tg, B, T, 1);
    /* small init: the loss is about log(V) */
    CHECK_NEAR(loss, log(c.V), 0.05);
    double s = 0;
    int n = 0;
    for (int i = 0; i < B * T; i++) {
        if (tg[i] < 0) {
            CHECK(m.losses[i] == 0.0f);
            continue;
        }
        /* each loss is -log softmax(logits)[target] */
        const float *row = gpt_logits(&m, i / T, i % T);
        double z = 0;
        for (int v = 0; v < c.V; v++)
            z += exp(row[v]);
        CHECK_NEAR(m.losses[i], log(z) - row[tg[i]], 1e-5);
        s += m.losses[i];
        n++;
    }
    CHECK_NEAR(loss, s / n, 1e-6);

    /* a smaller forward in the same block matches the first rows */
    float l0 = m.losses[T + 1];
    float logit = gpt_logits(&m, 1, 5)[7];
    CHECK_EQ_INT(gpt_forward(&m, in, NULL, B, T, 1) == 0.0f, 1);
    gpt_forward(&m, in + T, tg + T, 1, 8, 1);
    CHECK_NEAR(m.losses[1], l0, 1e-5);
    CHECK_NEAR(gpt_logits(&m, 0, 5)[7], logit, 1e-5);

    /* causal: the last token does not change earlier logits;
     * bidirectional: it does */
    int32_t in2[B * T];
    memcpy(in2, in, sizeof in);
    in2[T - 1] = (in2[T - 1] + 1) % c.V;
    for (int causal = 1; causal >= 0; causal--) {
        gpt_forward(&m, in, NULL, B, T, causal);
        float a = gpt_logits(&m, 0, 3)[0];
        gpt_forward(&m, in2, NULL, B, T, causal);
        float b = gpt_logits(&m, 0, 3)[0];
        CHECK(causal ? a == b : a != b);
    }

    /* all targets ignored: loss 0, zero gradients */
    int32_t none[B * T];
    for (int i = 0; i < B * T; i++)
        none[i] = -1;
    gpt_zero_grad(&m);
    CHECK(gpt_forward(&m, in, none, B, T, 1) == 0.0f);
    gpt_backward(&m);
    CHECK(gpt_grad_norm(&m) == 0.0f);

    /* the same numbers with products and heads split across threads */
    gpt_forward(&m, in, tg, B, T, 1);
    float before = m.losses[5];
    kernels_set_threads(2);
    gpt_forward(&m, in, tg, B, T, 1);
    CHECK_NEAR(m.losses[5], before, 1e-5);
    kernels_set_threads(1);
    gpt_release(&m);
}

static void
test_adamw(void)
{
    struct gpt m;
    struct gr_error err;
    struct gpt_config c = { .L = 1, .NH = 2, .C = 8, .T = 4, .V = 10 };
    CHECK(gpt_create(&m, &c, &err) == GR_OK);
    struct gr_rng r;
    rng_seed(&r, 9);
    size_t n = m.nparams;
    double *p = malloc(n * 8), *mm = calloc(n, 8), *vv = calloc(n, 8);
    for (size_t i = 0; i < n; i++)
        p[i] = m.params[i] = rng_normal(&r);
    const double lr = 0.01, b1 = 0.9, b2 = 0.95, eps = 1e-8, wd = 0.1;
    for (int t = 1; t <= 5; t++) {
        for (size_t i = 0; i < n; i++)
            m.grads[i] = rng_normal(&r) * (i % 7 == 0 ? 1e-3f : 1.0f);
        adamw_step(&m, lr, b1, b2, eps, wd, t);
        for (size_t i = 0; i < n; i++) {
            double g = m.grads[i];
            double d = gpt_param_is_matrix(&c, i) ? wd : 0.0;
            p[i] -= lr * d * p[i];
            mm[i] = b1 * mm[i] + (1 - b1) * g;
            vv[i] = b2 * vv[i] + (1 - b2) * g * g;
            double mh = mm[i] / (1 - pow(b1, t)), vh = vv[i] / (1 - pow(b2, t));
            p[i] -= lr * mh / (sqrt(vh) + eps);
        }
    }
    double worst = 0;
    for (size_t i = 0; i < n; i++)
        worst = fmax(worst, fabs(m.params[i] - p[i]));
    CHECK_MSG(worst < 1e-5, "AdamW differs from the reference by %g", worst);

    /* zero gradients: only matrices and embeddings decay */
    memset(m.adam_m, 0, n * 4);
    memset(m.adam_v, 0, n * 4);
    gpt_zero_grad(&m);
    float w0 = m.p.qkvw[3], b0 = m.p.qkvb[3], e0 = m.p.wpe[2];
    float g0 = m.p.ln1w[1];
    adamw_step(&m, 0.5f, 0.9f, 0.95f, 1e-8f, 0.1f, 1);
    CHECK_NEAR(m.p.qkvw[3], w0 * 0.95f, 1e-6);
    CHECK_NEAR(m.p.wpe[2], e0 * 0.95f, 1e-6);
    CHECK(m.p.qkvb[3] == b0 && m.p.ln1w[1] == g0);

    /* norm in double, clipping, NaN shows */
    double q = 0;
    for (size_t i = 0; i < n; i++) {
        m.grads[i] = (float)(i % 5) - 2.0f;
        q += (double)m.grads[i] * m.grads[i];
    }
    CHECK_NEAR(gpt_grad_norm(&m), sqrt(q), 1e-6);
    float before = gpt_clip_grads(&m, 1.0f);
    CHECK_NEAR(before, sqrt(q), 1e-6);
    CHECK_NEAR(gpt_grad_norm(&m), 1.0, 1e-5);
    gpt_scale_grads(&m, 3.0f);
    CHECK_NEAR(gpt_grad_norm(&m), 3.0, 1e-5);
    m.grads[n / 2] = NAN;
    CHECK(!isfinite(gpt_grad_norm(&m)));
    m.grads[n / 2] = INFINITY;
    CHECK(!isfinite(gpt_grad_norm(&m)));
    free(p);
    free(mm);
    free(vv);
    gpt_release(&m);
}

/* Sequences of 21 tokens padded to gpt_padded_len: in bf16 to 32 (the
 * context is 40), in fp32 not at all; the logits of the 21 positions
 * agree with the unpadded forward's, and the products take the padded
 * shape without complaint. */
static void
test_padding(void)
{
    struct gpt m;
    struct gr_error err;
    struct gpt_config c = { .L = 2, .NH = 2, .C = 32, .T = 40, .V = 50 };
    CHECK(gpt_create(&m, &c, &err) == GR_OK);
    CHECK(gpt_alloc_acts(&m, 3, 40, &err) == GR_OK);
    struct gr_rng r;
    rng_seed(&r, 9);
    gpt_init_weights(&m, &r);
    for (size_t i = 0; i < m.nparams; i++)      /* livelier logits */
        m.params[i] += 0.05f * rng_normal(&r);
    enum { B = 3, T = 21 };
    int32_t in[B * T], pad[B * 40];
    for (int i = 0; i < B * T; i++)
        in[i] = (int32_t)rng_below(&r, c.V);
    CHECK_EQ_INT(gpt_padded_len(&m, T), T);
    for (int bf = 0; bf < 2; bf++) {
        if (bf && !bf16_available(NULL))
            break;
        CHECK(gpt_set_precision(&m, bf ? GPT_BF16 : GPT_FP32, &err) == GR_OK);
        int Tp = gpt_padded_len(&m, T);
        CHECK_EQ_INT(Tp, bf ? 32 : T);
        CHECK_EQ_INT(gpt_padded_len(&m, 39), bf ? 40 : 39);    /* the context caps it */
        gpt_forward(&m, in, NULL, B, T, 1);
        float *want = malloc((size_t)B * T * c.V * sizeof *want);
        memcpy(want, m.a.logits, (size_t)B * T * c.V * sizeof *want);
        for (int b = 0; b < B; b++)
            for (int t = 0; t < Tp; t++)
                pad[b * Tp + t] = t < T ? in[b * T + t] : 0;
        gpt_forward(&m, pad, NULL, B, Tp, 1);
        double worst = 0;
        for (int b = 0; b < B; b++)
            for (int t = 0; t < T; t++)
                for (int v = 0; v < c.V; v++) {
                    double d = fabs(m.a.logits[((size_t)b * Tp + t) * c.V + v] -
                                    want[((size_t)b * T + t) * c.V + v]);
                    worst = d > worst ? d : worst;
                }
        CHECK(worst < (bf ? 1e-2 : 1e-5));
        free(want);
    }
    gpt_release(&m);
}

int
main(void)
{
    test_config();
    test_layout();
    test_init();
    test_forward();
    test_adamw();
    test_padding();
    return check_exit();
}
