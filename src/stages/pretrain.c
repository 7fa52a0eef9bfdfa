/* pretrain.c: the language-model training loop.
 *
 * Batches are random windows of the training shard, drawn from an RNG
 * whose state the checkpoint carries, so a resumed run continues exactly
 * where it stopped.  Evaluation uses fixed windows of the held-out shard
 * and reports bits per byte: the summed loss in bits over the bytes the
 * predicted tokens stand for, comparable across tokenizers. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <cblas.h>

#include "app/job.h"
#include "base/xalloc.h"
#include "kernels/blas.h"
#include "kernels/prof.h"
#include "model/sample.h"
#include "stages/common.h"
#include "stages/stages.h"
#include "stages/train.h"
#include "text/shard.h"

struct pt_opts {
    struct train_hparams h;     /* steps, lr and schedule, AdamW */
    long long stop_at;
    int B, accum, T;
    long long eval_every, save_every;
    int eval_batches;
    int eval_samples;           /* short samples at each evaluation */
    int masked;
    int resume;
    int profile;                /* time each kind of layer */
    enum gpt_precision precision;   /* of the matrix products */
    uint64_t seed;
};

struct pt_run {
    struct pt_opts o;
    struct gr_ctx *ctx;
    const struct workspace *ws;
    struct bpe tok;
    struct shard train, val;
    struct gpt model;
    struct ckpt_meta meta;      /* config, tokenizer hash, rng, step */
    float *tok_bytes;           /* (V) bytes per token */
    int32_t *inputs, *targets;  /* (B,T) */
    char *last_ckpt;            /* newest checkpoint written or loaded */
};

/* A random ordinary token (never a special one). */
static int32_t
random_token(struct gr_rng *rng, int V)
{
    int32_t x = (int32_t)rng_below(rng, (uint64_t)(V - 5));
    return x >= 256 ? x + 5 : x;
}

/* Fill (B,T) inputs/targets from windows of s.  Causal: targets are the
 * next tokens.  Masked: 15% of positions are chosen (at least one per
 * row); of those 80% become <|mask|>, 10% a random token, 10% stay; the
 * targets elsewhere are -1 (ignored). */
void
pretrain_fill_batch(const struct shard *s, struct gr_rng *rng, int masked,
                    int V, int B, int T, int32_t *inputs, int32_t *targets,
                    const size_t *fixed_offsets)
{
    size_t span = s->ntok - (size_t)T - (masked ? 0 : 1);
    for (int b = 0; b < B; b++) {
        size_t off = fixed_offsets ? fixed_offsets[b] : (size_t)rng_below(rng, span + 1);
        const uint16_t *w = s->tok + off;
        int32_t *in = inputs + (size_t)b * T, *tg = targets + (size_t)b * T;
        if (!masked) {
            for (int t = 0; t < T; t++) {
                in[t] = w[t];
                tg[t] = w[t + 1];
            }
            continue;
        }
        int chosen = 0;
        for (int t = 0; t < T; t++) {
            in[t] = w[t];
            tg[t] = -1;
            if (rng_float(rng) < 0.15f) {
                tg[t] = w[t];
                chosen++;
                float r = rng_float(rng);
                if (r < 0.8f)
                    in[t] = BPE_MASK;
                else if (r < 0.9f)
                    in[t] = random_token(rng, V);
            }
        }
        if (!chosen) {
            int t = (int)rng_below(rng, (uint64_t)T);
            tg[t] = w[t];
            in[t] = BPE_MASK;
        }
    }
}

/* Loss and bits per byte on fixed windows of the held-out shard. */
static void
evaluate(struct pt_run *r, double *val_loss, double *val_bpb)
{
    const struct pt_opts *o = &r->o;
    int T = o->T;
    const int masked = o->masked;
    if (r->val.ntok < (size_t)T + 2)
        T = (int)r->val.ntok - 2;
    size_t nseq = (size_t)o->eval_batches * (size_t)o->B;
    size_t span = r->val.ntok - (size_t)T - 1;
    size_t *offs = xmalloc((size_t)o->B * sizeof *offs);
    struct gr_rng mrng;
    rng_seed(&mrng, 0x6576616cULL);     /* the same masks at every evaluation */
    double loss_sum = 0, bytes = 0;
    size_t ntargets = 0;
    for (size_t first = 0; first < nseq; first += (size_t)o->B) {
        for (int b = 0; b < o->B; b++) {
            size_t i = first + (size_t)b;
            offs[b] = nseq > 1 ? span * i / (nseq - 1) : 0;
        }
        pretrain_fill_batch(&r->val, &mrng, masked, r->model.cfg.V, o->B, T,
                            r->inputs, r->targets, offs);
        gpt_forward(&r->model, r->inputs, r->targets, o->B, T, !masked);
        for (size_t k = 0; k < (size_t)o->B * T; k++) {
            int32_t tg = r->targets[k];
            if (tg < 0)
                continue;
            loss_sum += r->model.losses[k];
            bytes += r->tok_bytes[tg];
            ntargets++;
        }
    }
    free(offs);
    *val_loss = ntargets ? loss_sum / (double)ntargets : NAN;
    *val_bpb = bytes > 0 ? loss_sum / M_LN2 / bytes : NAN;
}

static enum gr_status
save(struct pt_run *r, struct gr_rng *rng, long long step, struct gr_error *err)
{
    return train_save(r->ws, "base", &r->model, &r->meta, rng, step, &r->last_ckpt, err);
}

static void
read_opts(struct pt_opts *o, const struct gr_args *a, const struct workspace *ws)
{
    train_read_hparams(&o->h, a);
    o->stop_at = args_has(a, "stop_at") ? args_int(a, "stop_at") : o->h.steps;
    o->B = (int)args_int(a, "batch");
    o->accum = (int)args_int(a, "accum");
    o->T = args_has(a, "context") ? (int)args_int(a, "context") : 0;
    o->eval_every = args_int(a, "eval_every");
    o->eval_batches = (int)args_int(a, "eval_batches");
    o->eval_samples = (int)args_int(a, "eval_samples");
    o->save_every = args_int(a, "save_every");
    o->masked = strcmp(args_str(a, "objective"), "masked") == 0;
    o->resume = args_bool(a, "resume");
    o->profile = args_bool(a, "profile");
    o->precision = stage_train_precision(args_str(a, "precision"));
    o->seed = args_has(a, "seed") ? (uint64_t)args_int(a, "seed") : ws->seed;
}

/* Everything up to the first step: tokenizer, shards, model. */
static enum gr_status
setup(struct pt_run *r, struct gr_rng *rng, struct gr_error *err)
{
    const struct workspace *ws = r->ws;
    struct pt_opts *o = &r->o;
    enum gr_status rc;
    if ((rc = stage_load_tokenizer(ws, &r->tok, err)) != GR_OK)
        return rc;
    if ((rc = train_open_shard(ws, &r->tok, "train", &r->train, err)) != GR_OK ||
        (rc = train_open_shard(ws, &r->tok, "val", &r->val, err)) != GR_OK)
        return rc;

    char *latest = workspace_latest_checkpoint(ws, "base");
    if (!latest)
        return gr_fail(err, GR_ESTATE, "there is no model yet: create one with 'garage "
                       "model' (e.g. garage model layers=4 heads=4 dim=256 context=256)");
    struct ckpt_meta peek;
    rc = ckpt_read_meta(latest, &peek, err);
    if (rc != GR_OK) {
        free(latest);
        return rc;
    }
    int resuming = o->resume && peek.step > 0;
    if (!o->resume && peek.step > 0) {
        rc = gr_fail(err, GR_ESTATE, "%s is already trained to step %llu: continue "
                     "with 'garage pretrain resume=true steps=N', or start over with "
                     "'garage model replace=true'", latest,
                     (unsigned long long)peek.step);
        ckpt_meta_release(&peek);
        free(latest);
        return rc;
    }
    ckpt_meta_release(&peek);
    rc = stage_load_checkpoint(latest, &r->tok, &r->model, &r->meta, resuming, err);
    r->last_ckpt = latest;
    if (rc != GR_OK)
        return rc;
    /* The checkpoints say which objective trained them (reward picks its
     * attention from it; a run goes on with the objective it began with). */
    const char *want = o->masked ? "masked" : "next";
    const char *had = ckpt_objective(&r->meta);
    if (resuming && had && strcmp(had, want) != 0)
        return gr_fail(err, GR_EINPUT, "%s was pretrained with objective=%s: resume it "
                       "with objective=%s, or start over with 'garage model replace=true'",
                       latest, had, had);
    if (!json_is_object(r->meta.extra)) {
        if (r->meta.extra)
            json_decref(r->meta.extra);
        r->meta.extra = json_object();
    }
    json_object_set_new(r->meta.extra, "objective", json_string(want));
    if (resuming) {
        *rng = r->meta.rng;
        if ((long long)r->meta.step >= o->h.steps)
            return gr_fail(err, GR_EINPUT, "%s is at step %llu already; ask for more "
                           "steps (steps=%llu or more)", latest,
                           (unsigned long long)r->meta.step,
                           (unsigned long long)r->meta.step + 1);
    } else {
        rng_seed(rng, o->seed ^ 0x7072657472616e69ULL);
        r->meta.step = 0;
    }
    if (!o->T)
        o->T = r->model.cfg.T;
    if (o->T > r->model.cfg.T)
        return gr_fail(err, GR_EINPUT, "context %d is longer than the model's context %d",
                       o->T, r->model.cfg.T);
    if (r->train.ntok < (size_t)o->T + 2)
        return gr_fail(err, GR_EINPUT, "the training split has only %zu tokens, fewer "
                       "than the context %d: add more text, or use a smaller context",
                       r->train.ntok, o->T);
    if (r->val.ntok < 3)
        return gr_fail(err, GR_EINPUT, "the held-out split has only %zu tokens: add more "
                       "text or raise val_fraction", r->val.ntok);
    if ((rc = gpt_set_precision(&r->model, o->precision, err)) != GR_OK)
        return rc;
    if ((rc = gpt_alloc_acts(&r->model, o->B, o->T, err)) != GR_OK)
        return rc;
    r->inputs = xmalloc((size_t)o->B * o->T * sizeof *r->inputs);
    r->targets = xmalloc((size_t)o->B * o->T * sizeof *r->targets);
    r->tok_bytes = stage_token_bytes(&r->tok);
    return GR_OK;
}

static void
teardown(struct pt_run *r)
{
    free(r->inputs);
    free(r->targets);
    free(r->tok_bytes);
    free(r->last_ckpt);
    gpt_release(&r->model);
    ckpt_meta_release(&r->meta);
    shard_close(&r->train);
    shard_close(&r->val);
    bpe_release(&r->tok);
}

/* eval_samples: a few short samples from the model as it is, each a
 * "sample" record (step, index, text) for front ends to show live.  They
 * draw from their own rng, so training goes on exactly as without. */
static void
emit_samples(struct pt_run *r, long long step)
{
    const struct gpt_config *cfg = &r->model.cfg;
    struct kvcache kv = { 0 };
    if (r->o.eval_samples <= 0 || r->o.masked || kvcache_init(&kv, cfg, 1, NULL) != GR_OK)
        return;
    const int maxnew = cfg->T - 1 < 48 ? cfg->T - 1 : 48;
    float *logits = xmalloc((size_t)cfg->V * sizeof *logits);
    float *scratch = xmalloc(2 * (size_t)cfg->V * sizeof *scratch);
    int32_t *hist = xmalloc((size_t)(maxnew + 1) * sizeof *hist);
    struct sampler_opts so = sampler_defaults();
    so.temperature = 0.8f;
    so.top_k = 40;
    struct gr_rng rng;
    rng_seed(&rng, r->o.seed ^ (0x73616d706c65ULL + (uint64_t)step));
    for (int i = 0; i < r->o.eval_samples; i++) {
        struct gr_metric rec;
        metric_begin(&rec, "sample");
        metric_add(&rec, "step", (double)step);
        metric_add(&rec, "index", i);
        size_t n = 0;
        int len = 1;
        hist[0] = BPE_ENDOFTEXT;            /* a new document */
        kvcache_reset(&kv);
        gpt_prefill(&r->model, &kv, hist, 1, logits);
        for (int k = 0; k < maxnew; k++) {
            int next = sample_next(logits, cfg->V, &so, hist, len, &rng, scratch);
            if (bpe_special_name(next))
                break;
            const unsigned char *b;
            size_t nb = bpe_token_bytes(&r->tok, next, &b);
            if (n + nb >= sizeof rec.text)
                break;
            memcpy(rec.text + n, b, nb);
            n += nb;
            hist[len] = next;
            gpt_forward_step(&r->model, &kv, &hist[len], len, logits);
            len++;
        }
        rec.text[n] = 0;
        metrics_emit(r->ctx->metrics, &rec);
    }
    free(hist);
    free(scratch);
    free(logits);
    kvcache_release(&kv);
}

static void
emit_eval(struct pt_run *r, long long step, double *last_bpb)
{
    double vl, vb;
    evaluate(r, &vl, &vb);
    struct gr_metric rec;
    metric_begin(&rec, "eval");
    metric_add(&rec, "step", (double)step);
    metric_add(&rec, "val_loss", vl);
    metric_add(&rec, "val_bpb", vb);
    metrics_emit(r->ctx->metrics, &rec);
    *last_bpb = vb;
    emit_samples(r, step);
}

/* profile=true: the share of step time of each kind of layer, as a
 * "profile" record (fractions of step_time) and a table. */
static void
report_profile(struct pt_run *r, double step_time, long long steps)
{
    struct gr_metric rec;
    metric_begin(&rec, "profile");
    metric_add(&rec, "steps", (double)steps);
    metric_add(&rec, "step_time", step_time);
    double sum = 0;
    for (int k = 0; k < PROF_NKINDS; k++) {
        double s = prof_seconds((enum prof_kind)k);
        sum += s;
        metric_add(&rec, prof_name((enum prof_kind)k),
                   step_time > 0 ? s / step_time : 0);
    }
    metric_add(&rec, "other", step_time > sum ? (step_time - sum) / step_time : 0);
    metrics_emit(r->ctx->metrics, &rec);
    char *table = prof_report_total(step_time);
    if (table && steps > 0)
        ctx_printf(r->ctx, "Share of the step time (%lld steps, %.3f s each):\n%s",
                   steps, step_time / (double)steps, table);
    free(table);
}

enum gr_status
stage_pretrain(struct gr_ctx *ctx, const struct gr_args *a, struct gr_error *err)
{
    struct pt_run r = { 0 };
    struct gr_rng rng;
    r.ctx = ctx;
    r.ws = ctx->ws;
    read_opts(&r.o, a, ctx->ws);
    struct pt_opts *o = &r.o;
    char *logpath = NULL, *run = NULL;
    enum gr_status rc = setup(&r, &rng, err);
    if (rc != GR_OK)
        goto out;

    run = workspace_run_name("pretrain");
    char *rel = xasprintf("logs/%s.jsonl", run);
    logpath = workspace_path(r.ws, rel);
    free(rel);
    if (ctx->metrics && (rc = metrics_open_log(ctx->metrics, logpath, err)) != GR_OK)
        goto out;

    const struct gpt_config *cfg = &r.model.cfg;
    size_t N = r.model.nparams;
    double flops_per_tok = train_flops_per_token(&r.model, o->T);
    long long step = (long long)r.meta.step;
    metrics_note(ctx->metrics, "%s %s: %d layers, %d heads, dim %d, context %d, "
                 "%.2fM parameters; %s, %zu training tokens; BLAS kernel %s; "
                 "products %s", step ? "resuming" : "pretraining", r.last_ckpt,
                 cfg->L, cfg->NH, cfg->C, cfg->T, N / 1e6,
                 o->masked ? "masked LM" : "next token", r.train.ntok,
                 kernels_blas_core(),
                 stage_products_name(o->precision));
    {
        struct gr_metric rec;
        metric_begin(&rec, "run");
        metric_add(&rec, "steps", (double)o->h.steps);
        metric_add(&rec, "batch", o->B);
        metric_add(&rec, "accum", o->accum);
        metric_add(&rec, "context", o->T);
        metric_add(&rec, "lr", o->h.lr);
        metric_add(&rec, "params", (double)N);
        metric_add(&rec, "start_step", (double)step);
        metric_text(&rec, "pretrain objective=%s", o->masked ? "masked" : "next");
        metrics_emit(ctx->metrics, &rec);
    }

    struct train_clock clock;
    train_clock_start(&clock, step);
    double last_bpb = NAN, prof_time = 0;
    int stopped = 0;
    r.model.loss_scale = 1.0f / (float)o->accum;
    prof_reset();
    prof_enable(o->profile);
    while (step < o->h.steps && step < o->stop_at) {
        if (job_should_stop(ctx->job)) {
            stopped = 1;
            break;
        }
        double ts = stage_now();
        gpt_zero_grad(&r.model);
        double loss = 0;
        for (int k = 0; k < o->accum; k++) {
            prof_begin(PROF_DATA);
            pretrain_fill_batch(&r.train, &rng, o->masked, cfg->V, o->B, o->T,
                                r.inputs, r.targets, NULL);
            prof_end(PROF_DATA);
            loss += gpt_forward(&r.model, r.inputs, r.targets, o->B, o->T, !o->masked);
            gpt_backward(&r.model);
        }
        loss /= o->accum;
        double lr, gnorm;
        if ((rc = train_update(&r.model, &o->h, step, loss, r.last_ckpt, &lr, &gnorm,
                               err)) != GR_OK)
            goto out;
        step++;
        prof_time += stage_now() - ts;
        r.meta.data_pos += (uint64_t)o->B * o->accum;
        train_report(ctx->metrics, "train", &clock, step, o->h.steps, loss, lr, gnorm,
                     (double)o->B * o->T * o->accum, flops_per_tok, ts);

        int last = step == o->h.steps;
        prof_enable(0);             /* evaluating and saving are not steps */
        if ((o->eval_every > 0 && step % o->eval_every == 0) || last)
            emit_eval(&r, step, &last_bpb);
        if ((o->save_every > 0 && step % o->save_every == 0) || last ||
            step == o->stop_at || job_take_save(ctx->job)) {
            if ((rc = save(&r, &rng, step, err)) != GR_OK)
                goto out;
        }
        prof_enable(o->profile);
    }
    prof_enable(0);
    if (o->profile)
        report_profile(&r, prof_time, step - clock.first);
    if (stopped || step < o->h.steps) {
        if ((long long)r.meta.step != step)     /* not saved at this step yet */
            rc = save(&r, &rng, step, err);
        if (rc == GR_OK) {
            ctx_printf(ctx, "Stopped at step %lld of %lld; saved %s.\nContinue with: "
                       "garage pretrain resume=true steps=%lld\n", step, o->h.steps,
                       r.last_ckpt, o->h.steps);
            if (stopped)
                rc = gr_fail(err, GR_ESTOPPED, "pretraining stopped at step %lld", step);
        }
        goto out;
    }
    ctx_printf(ctx, "Trained to step %lld in %.1f s; validation %.4f bits per byte.\n"
               "Saved %s\n", step, stage_now() - clock.t0, last_bpb, r.last_ckpt);
out:
    prof_enable(0);
    if (ctx->metrics)
        metrics_close_log(ctx->metrics);
    free(logpath);
    free(run);
    teardown(&r);
    return rc;
}
