/* tests/test-gpt-learns.c: a tiny GPT memorises a fixed batch of a few
 * hundred bytes with AdamW, as a next-byte predictor (causal) and as a
 * masked language model (bidirectional, loss only at masked positions). */
#include <stdint.h>
#include <stdlib.h>

#include "base/rng.h"
#include "check.h"
#include "kernels/blas.h"
#include "model/adamw.h"
#include "model/gpt.h"

enum { B = 4, T = 64, MASK = 0 };

static const char text[] =
    "It was the best of times, it was the worst of times, it was the age "
    "of wisdom, it was the age of foolishness, it was the epoch of belief, "
    "it was the epoch of incredulity, it was the season of Light, it was "
    "the season of Darkness, it was the spring of hope, it was the winter "
    "of despair.";

/* Train until the loss is below goal; returns the steps taken (or -1). */
static int
train(struct gpt *m, const int32_t *in, const int32_t *tg, int causal,
      float goal, int max_steps, float *final)
{
    struct gr_rng rng;
    rng_seed(&rng, 1234);
    gpt_init_weights(m, &rng);
    memset(m->adam_m, 0, m->nparams * sizeof(float));
    memset(m->adam_v, 0, m->nparams * sizeof(float));
    float loss = 0.0f;
    for (int step = 1; step <= max_steps; step++) {
        gpt_zero_grad(m);
        loss = gpt_forward(m, in, tg, B, T, causal);
        if (loss < goal) {
            *final = loss;
            return step;
        }
        gpt_backward(m);
        float norm = gpt_clip_grads(m, 1.0f);
        CHECK(isfinite(norm));
        adamw_step(m, 1e-2f, 0.9f, 0.95f, 1e-8f, 0.0f, step);
    }
    *final = loss;
    return -1;
}

int
main(void)
{
    CHECK((int)sizeof text - 1 >= B * T + 1);
    /* One thread: the model is too small to gain from more, and a test
     * that forks and joins thousands of times crawls on a loaded machine. */
    kernels_set_threads(1);
    struct gpt_config cfg = { .L = 2, .NH = 4, .C = 64, .T = T, .V = 256 };
    struct gpt m;
    struct gr_error err;
    CHECK(gpt_create(&m, &cfg, &err) == GR_OK);
    CHECK(gpt_alloc_acts(&m, B, T, &err) == GR_OK);

    int32_t in[B * T], tg[B * T];
    for (int i = 0; i < B * T; i++) {
        in[i] = (unsigned char)text[i];
        tg[i] = (unsigned char)text[i + 1];
    }
    float loss;
    int steps = train(&m, in, tg, 1, 0.05f, 400, &loss);
    fprintf(stderr, "causal: loss %.4f after %d steps\n", loss, steps);
    CHECK_MSG(steps > 0, "causal model did not memorise (loss %.4f)", loss);

    /* masked LM: every sixth byte (offset by row) hidden, predicted from
     * both sides */
    int nmask = 0;
    for (int i = 0; i < B * T; i++) {
        int hide = (i + i / T) % 6 == 0;
        in[i] = hide ? MASK : (unsigned char)text[i];
        tg[i] = hide ? (unsigned char)text[i] : -1;
        nmask += hide;
    }
    steps = train(&m, in, tg, 0, 0.05f, 400, &loss);
    fprintf(stderr, "masked (%d targets): loss %.4f after %d steps\n", nmask,
            loss, steps);
    CHECK_MSG(steps > 0, "masked model did not memorise (loss %.4f)", loss);

    gpt_release(&m);
    return check_exit();
}
