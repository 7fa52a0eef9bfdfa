/* tests/test-sample.c: the KV-cache forward agrees with the full forward
 * at every position (NB=1 and NB=3, single steps, chunked prefill,
 * rewinding), and the sampler is deterministic and honours temperature 0,
 * top-k, top-p and the repetition penalty; its vectorised scans give what
 * plain loops give, and so does sample_next over a large vocabulary. */
#include <stdint.h>
#include <stdlib.h>

#include "base/rng.h"
#include "check.h"
#include "kernels/amx.h"
#include "kernels/loss.h"
#include "kernels/topk.h"
#include "model/gpt.h"
#include "model/sample.h"

static struct gpt m;
static struct gr_rng rng;

/* Full forward of tok (NB,T) vs steps (and prefill of the first npre);
 * bf16: generation reads bf16 weights (and, for more than 4 sequences on
 * AMX, rounds the rows to bf16 too), so the logits agree to bf16's
 * rounding (skipped where the kernels are missing). */
static void
check_cache_p(int NB, int T, int npre, int bf16)
{
    int V = m.cfg.V;
    int32_t *tok = malloc((size_t)NB * T * sizeof *tok);
    for (int i = 0; i < NB * T; i++)
        tok[i] = (int32_t)rng_below(&rng, V);
    gpt_forward(&m, tok, NULL, NB, T, 1);
    struct kvcache kv;
    struct gr_error err;
    CHECK(kvcache_init(&kv, &m.cfg, NB, &err) == GR_OK);
    double tol = 1e-4;
    if (bf16) {
        if (kvcache_set_precision(&kv, GPT_BF16, &err) != GR_OK) {
            printf("skipping bf16 generation: %s\n", err.msg);
            kvcache_release(&kv);
            free(tok);
            return;
        }
        tol = 5e-2;
    }
    float *lg = malloc((size_t)NB * V * sizeof *lg);
    int32_t *col = malloc(NB * sizeof *col);
    double worst = 0.0;
    int t = 0;
    if (npre > 0) {
        /* prefill wants (NB,n) contiguous rows */
        int32_t *pre = malloc((size_t)NB * npre * sizeof *pre);
        for (int s = 0; s < NB; s++)
            for (int i = 0; i < npre; i++)
                pre[s * npre + i] = tok[s * T + i];
        gpt_prefill(&m, &kv, pre, npre, lg);
        CHECK_EQ_INT(kv.len, npre);
        for (int s = 0; s < NB; s++)
            for (int v = 0; v < V; v++)
                worst = fmax(worst, fabs(lg[s * V + v] -
                                         gpt_logits(&m, s, npre - 1)[v]));
        t = npre;
        free(pre);
    }
    for (; t < T; t++) {
        for (int s = 0; s < NB; s++)
            col[s] = tok[s * T + t];
        gpt_forward_step(&m, &kv, col, t, lg);
        for (int s = 0; s < NB; s++)
            for (int v = 0; v < V; v++)
                worst = fmax(worst, fabs(lg[s * V + v] -
                                         gpt_logits(&m, s, t)[v]));
    }
    CHECK_MSG(worst < tol, "NB=%d T=%d prefill %d bf16 %d: cached logits "
              "differ by %g", NB, T, npre, bf16, worst);
    /* more rows read fp32 weights, unless on AMX (sample.h) */
    if (bf16 && kv.precision == GPT_BF16)
        CHECK_MSG(worst > 1e-6, "bf16 generation gave fp32's logits exactly");
    if (bf16 && NB > 4)
        CHECK_EQ_INT(kv.precision, amx_available(NULL) ? GPT_BF16 : GPT_FP32);

    /* rewind to position 3 with other tokens: as if the sequence were so */
    for (int s = 0; s < NB; s++)
        tok[s * T + 3] = col[s] = (int32_t)((tok[s * T + 3] + 1) % V);
    gpt_forward(&m, tok, NULL, NB, T, 1);
    gpt_forward_step(&m, &kv, col, 3, lg);
    CHECK_EQ_INT(kv.len, 4);
    worst = 0.0;
    for (int s = 0; s < NB; s++)
        for (int v = 0; v < V; v++)
            worst = fmax(worst, fabs(lg[s * V + v] - gpt_logits(&m, s, 3)[v]));
    CHECK_MSG(worst < tol, "rewound step differs by %g", worst);

    kvcache_release(&kv);
    free(lg);
    free(col);
    free(tok);
}

static void
check_cache(int NB, int T, int npre)
{
    check_cache_p(NB, T, npre, 0);
    check_cache_p(NB, T, npre, 1);
}

static void
test_sampler(void)
{
    enum { V = 6 };
    float lg[V] = { 1.0f, 3.0f, 2.5f, -1.0f, 3.0f, 0.0f }, scratch[2 * V];
    struct sampler_opts o = sampler_defaults();
    struct gr_rng r;
    rng_seed(&r, 1);
    /* temperature 0 and top_k 1: argmax, lowest index on ties */
    o.temperature = 0.0f;
    CHECK_EQ_INT(sample_next(lg, V, &o, NULL, 0, &r, scratch), 1);
    o.temperature = 1.0f;
    o.top_k = 1;
    for (int i = 0; i < 20; i++)
        CHECK_EQ_INT(sample_next(lg, V, &o, NULL, 0, &r, scratch), 1);
    /* repetition penalty moves the argmax off a repeated token */
    o.temperature = 0.0f;
    o.top_k = 0;
    o.repetition_penalty = 2.0f;
    int32_t hist[3] = { 1, 4, 1 };
    CHECK_EQ_INT(sample_next(lg, V, &o, hist, 3, &r, scratch), 2);
    o.repetition_penalty = 1.0f;

    /* frequencies follow softmax(lg / temp) */
    o.temperature = 0.7f;
    int count[V] = { 0 }, n = 40000;
    for (int i = 0; i < n; i++)
        count[sample_next(lg, V, &o, NULL, 0, &r, scratch)]++;
    double z = 0, p[V];
    for (int v = 0; v < V; v++)
        z += p[v] = exp(lg[v] / 0.7);
    for (int v = 0; v < V; v++)
        CHECK_NEAR((double)count[v] / n, p[v] / z, 0.01);

    /* top-k 3: only tokens 1, 4, 2 */
    o.top_k = 3;
    for (int i = 0; i < 2000; i++) {
        int t = sample_next(lg, V, &o, NULL, 0, &r, scratch);
        CHECK(t == 1 || t == 4 || t == 2);
    }
    /* top-p: probabilities 0.5 0.3 0.15 0.05 and p = 0.7 keep 0 and 1 */
    float lp[4] = { logf(0.5f), logf(0.3f), logf(0.15f), logf(0.05f) };
    o.top_k = 0;
    o.temperature = 1.0f;
    o.top_p = 0.7f;
    int c2[4] = { 0 };
    for (int i = 0; i < 4000; i++)
        c2[sample_next(lp, 4, &o, NULL, 0, &r, scratch)]++;
    CHECK(c2[2] == 0 && c2[3] == 0);
    CHECK_NEAR(c2[0] / 4000.0, 0.625, 0.04);

    /* the same seed gives the same tokens */
    o = (struct sampler_opts){ 0.9f, 4, 0.95f, 1.3f };
    int32_t a[50], b[50];
    for (int run = 0; run < 2; run++) {
        int32_t *out = run ? b : a;
        rng_seed(&r, 99);
        for (int i = 0; i < 50; i++)
            out[i] = sample_next(lg, V, &o, out, i, &r, scratch);
    }
    CHECK(memcmp(a, b, sizeof a) == 0);
}

static int
cmp_down(const void *a, const void *b)
{
    float x = *(const float *)a, y = *(const float *)b;
    return x < y ? 1 : x > y ? -1 : 0;
}

/* sample_next as plain loops: the whole row sorted, every token scanned */
static int
plain_sample(const float *lg, int V, const struct sampler_opts *o,
             struct gr_rng *r)
{
    float *x = malloc((size_t)V * sizeof *x), *srt = malloc((size_t)V * sizeof *srt);
    memcpy(x, lg, (size_t)V * sizeof *x);
    softmax_rows(x, 1, V, o->temperature);
    memcpy(srt, x, (size_t)V * sizeof *srt);
    qsort(srt, (size_t)V, sizeof *srt, cmp_down);
    int k = o->top_k > 0 && o->top_k < V ? o->top_k : V, keep = k;
    double cum = 0.0;
    for (int i = 0; i < k; i++)
        if ((cum += srt[i]) >= o->top_p) {
            keep = i + 1;
            break;
        }
    float th = srt[keep - 1];
    double total = 0.0;
    for (int i = 0; i < V; i++)
        if (x[i] >= th)
            total += x[i];
    double u = rng_float(r) * total;
    int last = 0;
    cum = 0.0;
    for (int i = 0; i < V; i++)
        if (x[i] >= th) {
            cum += x[i];
            last = i;
            if (u < cum)
                break;
        }
    free(x);
    free(srt);
    return last;
}

/* top_values and indices_at_least against sorting and a plain loop, on
 * rows of many lengths (not multiples of 16 too), with and without ties;
 * then sample_next, token for token, against plain_sample. */
static void
test_topk(void)
{
    static const int ns[] = { 1, 5, 16, 17, 40, 100, 1000, 8197 };
    struct gr_rng r;
    rng_seed(&r, 5);
    for (size_t a = 0; a < sizeof ns / sizeof *ns; a++)
        for (int ties = 0; ties < 2; ties++) {
            int n = ns[a];
            float *x = malloc((size_t)n * sizeof *x);
            float *srt = malloc((size_t)n * sizeof *srt);
            float *top = malloc((size_t)n * sizeof *top);
            int32_t *idx = malloc((size_t)n * sizeof *idx);
            for (int i = 0; i < n; i++)
                x[i] = ties ? (float)rng_below(&r, 7) : rng_float(&r);
            memcpy(srt, x, (size_t)n * sizeof *srt);
            qsort(srt, (size_t)n, sizeof *srt, cmp_down);
            int ks[] = { 1, 3, 40, n };
            for (int j = 0; j < 4; j++) {
                int k = ks[j] < n ? ks[j] : n;
                top_values(x, n, k, top);
                CHECK(memcmp(top, srt, (size_t)k * sizeof *top) == 0);
                float t = srt[k - 1];
                int m = indices_at_least(x, n, t, idx), want = 0, same = 1;
                for (int i = 0; i < n; i++)
                    if (x[i] >= t)
                        same &= want < m && idx[want++] == i;
                CHECK(same && m == want);
            }
            free(x);
            free(srt);
            free(top);
            free(idx);
        }

    enum { V = 5000 };
    float *lg = malloc(V * sizeof *lg), *scratch = malloc(2 * V * sizeof *scratch);
    struct gr_rng r1, r2;
    rng_seed(&r1, 8);
    rng_seed(&r2, 8);
    struct sampler_opts o = sampler_defaults();
    int diff = 0;
    for (int i = 0; i < 300; i++) {
        for (int v = 0; v < V; v++)
            lg[v] = 3.0f * rng_normal(&r);
        o.temperature = 0.5f + (float)(i % 3) * 0.3f;
        o.top_k = i % 4 == 0 ? 0 : 40 + i % 50;
        o.top_p = i % 5 == 0 ? 1.0f : 0.9f;
        diff += sample_next(lg, V, &o, NULL, 0, &r1, scratch) !=
                plain_sample(lg, V, &o, &r2);
    }
    CHECK_EQ_INT(diff, 0);
    free(lg);
    free(scratch);
}

/* Generation end to end: same seed, same text; greedy = argmax of the
 * full forward. */
static void
test_generate(void)
{
    int V = m.cfg.V, n = 30;
    struct kvcache kv;
    struct gr_error err;
    CHECK(kvcache_init(&kv, &m.cfg, 1, &err) == GR_OK);
    float *lg = malloc(V * sizeof *lg), *scratch = malloc(2 * V * 4);
    int32_t out[2][30];
    struct sampler_opts o = { 1.0f, 0, 0.9f, 1.1f };
    for (int run = 0; run < 2; run++) {
        struct gr_rng r;
        rng_seed(&r, 5);
        kvcache_reset(&kv);
        int32_t prompt[3] = { 1, 2, 3 };
        gpt_prefill(&m, &kv, prompt, 3, lg);
        for (int i = 0; i < n; i++) {
            out[run][i] = sample_next(lg, V, &o, out[run], i, &r, scratch);
            gpt_forward_step(&m, &kv, &out[run][i], kv.len, lg);
        }
    }
    CHECK(memcmp(out[0], out[1], sizeof out[0]) == 0);
    /* greedy */
    o.temperature = 0.0f;
    o.repetition_penalty = 1.0f;
    int32_t seq[40] = { 4, 5 };
    kvcache_reset(&kv);
    gpt_prefill(&m, &kv, seq, 2, lg);
    for (int i = 2; i < 12; i++) {
        seq[i] = sample_next(lg, V, &o, NULL, 0, NULL, scratch);
        gpt_forward_step(&m, &kv, &seq[i], i, lg);
    }
    gpt_forward(&m, seq, NULL, 1, 12, 1);
    for (int i = 1; i < 11; i++) {
        const float *row = gpt_logits(&m, 0, i);
        int best = 0;
        for (int v = 1; v < V; v++)
            if (row[v] > row[best])
                best = v;
        CHECK_EQ_INT(seq[i + 1], best);
    }
    free(lg);
    free(scratch);
    kvcache_release(&kv);
}

int
main(void)
{
    rng_seed(&rng, 3);
    struct gpt_config cfg = { .L = 2, .NH = 2, .C = 16, .T = 80, .V = 23 };
    struct gr_error err;
    CHECK(gpt_create(&m, &cfg, &err) == GR_OK);
    CHECK(gpt_alloc_acts(&m, 16, cfg.T, &err) == GR_OK);
    gpt_init_weights(&m, &rng);
    for (size_t i = 0; i < m.nparams; i++)   /* livelier logits */
        m.params[i] += 0.1f * rng_normal(&rng);
    check_cache(1, 20, 0);
    check_cache(3, 20, 0);
    check_cache(1, 80, 70);     /* prefill in two passes (64 + 6) */
    check_cache(3, 75, 9);
    check_cache(4, 30, 0);      /* 4x4 kernels, bf16 weights too */
    check_cache(16, 30, 0);     /* batched generation: 4x4 kernels, AMX */
    check_cache(5, 30, 20);
    check_cache(16, 40, 35);    /* AMX: prefill, more rows than a tile */
    test_sampler();
    test_topk();
    test_generate();
    gpt_release(&m);
    return check_exit();
}
