/* sample.c: the 'sample' command.  Generates with the KV cache, one
 * token at a time, streaming each as it comes.  When a sample reaches the
 * model's context, the last half is fed again and generation goes on. */
#include <stdlib.h>
#include <string.h>

#include "app/job.h"
#include "base/xalloc.h"
#include "model/sample.h"
#include "stages/common.h"
#include "stages/stages.h"

struct sample_opts {
    int count, max_tokens;
    struct sampler_opts so;
    uint64_t seed;
};

/* Generate one continuation of prompt (np tokens) and stream it. */
static void
generate(struct gr_ctx *ctx, struct gpt *m, struct kvcache *kv,
         const struct bpe *t, const int32_t *prompt, int np,
         const struct sample_opts *o, struct gr_rng *rng, float *logits,
         float *scratch, int32_t *hist)
{
    const int T = m->cfg.T, V = m->cfg.V;
    int n = np;
    memcpy(hist, prompt, (size_t)np * sizeof *hist);
    kvcache_reset(kv);
    gpt_prefill(m, kv, hist, n, logits);
    for (int k = 0; k < o->max_tokens; k++) {
        int next = sample_next(logits, V, &o->so, hist, n, rng, scratch);
        if (next == BPE_END || next == BPE_ENDOFTEXT)
            break;
        const unsigned char *b;
        size_t len = bpe_token_bytes(t, next, &b);
        ctx_write(ctx, (const char *)b, len);
        if (job_stop_requested(ctx->job))
            break;
        if (n == T) {
            /* Context full: keep the newest half and feed it again. */
            int keep = T / 2;
            memmove(hist, hist + n - keep, (size_t)keep * sizeof *hist);
            n = keep;
            kvcache_reset(kv);
            gpt_prefill(m, kv, hist, n, NULL);
        }
        hist[n] = next;
        gpt_forward_step(m, kv, &hist[n], n, logits);
        n++;
    }
}

enum gr_status
stage_sample(struct gr_ctx *ctx, const struct gr_args *a, struct gr_error *err)
{
    const struct workspace *ws = ctx->ws;
    struct sample_opts o = {
        .count = (int)args_int(a, "count"),
        .max_tokens = (int)args_int(a, "max_tokens"),
        .so = {
            .temperature = (float)args_float(a, "temperature"),
            .top_k = (int)args_int(a, "top_k"),
            .top_p = (float)args_float(a, "top_p"),
            .repetition_penalty = (float)args_float(a, "repetition_penalty"),
        },
        .seed = args_has(a, "seed") ? (uint64_t)args_int(a, "seed") : ws->seed,
    };
    const char *text = args_str(a, "prompt");
    struct bpe t;
    struct gpt m = { 0 };
    struct ckpt_meta meta;
    struct kvcache kv = { 0 };
    char *path = NULL;
    int32_t *toks = NULL, *hist = NULL;
    float *logits = NULL, *scratch = NULL;
    size_t ntok = 0, cap = 0;
    enum gr_status rc;
    ckpt_meta_init(&meta);

    if ((rc = stage_load_tokenizer(ws, &t, err)) != GR_OK)
        return rc;
    if ((rc = stage_pick_checkpoint(ws, args_str(a, "checkpoint"), "tuned,sft,base",
                                    &path, err)) != GR_OK ||
        (rc = stage_load_checkpoint(path, &t, &m, &meta, 0, err)) != GR_OK)
        goto out;
    if (meta.step == 0)
        metrics_note(ctx->metrics, "note: %s is untrained (step 0): expect noise; "
                     "train it with 'garage pretrain'", path);

    /* An empty prompt starts a new document. */
    if (!text || !*text) {
        toks = xmalloc(sizeof *toks);
        toks[0] = BPE_ENDOFTEXT;
        ntok = 1;
    } else if ((rc = bpe_encode(&t, text, strlen(text), &toks, &ntok, &cap, err)) != GR_OK) {
        goto out;
    }
    const int T = m.cfg.T;
    int np = (int)ntok, skip = 0;
    if (np > T - 1) {
        skip = np - T / 2;
        metrics_note(ctx->metrics, "the prompt is %d tokens, longer than the model's "
                     "context of %d: keeping its last %d tokens", np, T, T / 2);
        np = T / 2;
    }
    if ((rc = kvcache_init(&kv, &m.cfg, 1, err)) != GR_OK ||
        (rc = kvcache_set_precision(&kv, stage_gen_precision(args_str(a, "precision")),
                                    err)) != GR_OK)
        goto out;
    logits = xmalloc((size_t)m.cfg.V * sizeof *logits);
    scratch = xmalloc(2 * (size_t)m.cfg.V * sizeof *scratch);
    hist = xmalloc((size_t)(T + 1) * sizeof *hist);
    struct gr_rng rng;
    rng_seed(&rng, o.seed);
    for (int i = 0; i < o.count; i++) {
        if (o.count > 1)
            ctx_printf(ctx, "%s--- sample %d of %d ---\n", i ? "\n" : "", i + 1, o.count);
        if (text && *text) {
            if (skip) {
                char *kept = bpe_decode(&t, toks + skip, (size_t)np, NULL);
                ctx_printf(ctx, "...%s", kept);
                free(kept);
            } else {
                ctx_printf(ctx, "%s", text);
            }
        }
        generate(ctx, &m, &kv, &t, toks + skip, np, &o, &rng, logits, scratch, hist);
        ctx_printf(ctx, "\n");
        if (job_stop_requested(ctx->job))
            break;
    }
out:
    free(toks);
    free(hist);
    free(logits);
    free(scratch);
    free(path);
    kvcache_release(&kv);
    gpt_release(&m);
    ckpt_meta_release(&meta);
    bpe_release(&t);
    return rc;
}
