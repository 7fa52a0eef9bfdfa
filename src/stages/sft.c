/* sft.c: supervised fine-tuning.  Starts from a base checkpoint (or
 * resumes an sft one) and trains on the demonstrations of
 * labels/demos.jsonl, encoded with the chat template, with the loss on
 * the assistant's tokens only.
 *
 * Batches: the training demonstrations in a fresh seeded order each
 * epoch; the position in that stream is the checkpoint's data_pos, so a
 * resumed run continues it.  Each batch is padded to its longest
 * conversation (at most the model's context; longer ones are cut), which
 * gives the same loss as padding to the full context for less work.  A
 * share `mix` of the rows are windows of the pretraining corpus, drawn
 * from the rng the checkpoint carries.  Validation: the held-out
 * demonstrations (sft_split), loss per assistant token. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "app/datadir.h"
#include "app/job.h"
#include "base/xalloc.h"
#include "stages/common.h"
#include "stages/sft.h"
#include "stages/stages.h"
#include "stages/train.h"
#include "text/chat.h"

struct sft_opts {
    struct train_hparams h;
    long long stop_at, eval_every, save_every;
    int B;
    double epochs;              /* 0: use steps */
    double val_fraction, mix;
    int resume, replace;
    uint64_t seed;
    const char *from;           /* checkpoint= */
    enum gpt_precision precision;   /* of the matrix products */
};

struct sft_run {
    struct sft_opts o;
    struct gr_ctx *ctx;
    const struct workspace *ws;
    struct bpe tok;
    struct demo_set demos;
    int32_t *toks;              /* every conversation, concatenated */
    uint8_t *mask;              /* assistant mask beside toks */
    size_t *off, *len;          /* (ndemos) conversation i: toks[off[i]..+len[i]) */
    size_t *train, ntrain;      /* demonstration indices */
    size_t *val, nval;
    size_t *perm;               /* (ntrain) order of the current epoch */
    long long perm_epoch;
    struct shard corpus;        /* for mix */
    struct gpt model;
    struct ckpt_meta meta;
    float *tok_bytes;
    int32_t *inputs, *targets;  /* (B,T) */
    int T;
    char *from;                 /* the base checkpoint this run started from */
    char *last_ckpt;
};

int
sft_fill_row(const int32_t *toks, const uint8_t *mask, size_t n, int T,
             int32_t *in, int32_t *tg)
{
    int count = 0;
    for (int t = 0; t < T; t++) {
        size_t u = (size_t)t;
        in[t] = u < n ? toks[u] : BPE_ENDOFTEXT;
        tg[t] = u + 1 < n && mask[u + 1] ? toks[u + 1] : -1;
        count += tg[t] >= 0;
    }
    return count;
}

struct keyed {
    uint64_t key;
    size_t i;
};

static int
cmp_keyed(const void *a, const void *b)
{
    const struct keyed *x = a, *y = b;
    return x->key < y->key ? -1 : x->key > y->key ? 1 : (x->i > y->i) - (x->i < y->i);
}

size_t
sft_split(const struct demo_set *s, double fraction, uint64_t seed, uint8_t *is_val)
{
    size_t n = s->n;
    memset(is_val, 0, n);
    if (n < 2 || fraction <= 0)
        return 0;
    size_t k = (size_t)llround((double)n * fraction);
    if (k < 1)
        k = 1;
    if (k > n - 1)
        k = n - 1;
    struct keyed *v = xmalloc(n * sizeof *v);
    for (size_t i = 0; i < n; i++) {
        v[i].key = rng_hash64(seed ^ 0x73667476616cULL, demo_hash(&s->v[i]));
        v[i].i = i;
    }
    qsort(v, n, sizeof *v, cmp_keyed);
    for (size_t j = 0; j < k; j++)
        is_val[v[j].i] = 1;
    free(v);
    return k;
}

int
sft_mix_rows(long long step, double mix, int B)
{
    if (mix <= 0)
        return 0;
    double x = mix * B;
    return (int)(floor((double)(step + 1) * x) - floor((double)step * x));
}

static void
read_opts(struct sft_opts *o, const struct gr_args *a, const struct workspace *ws)
{
    train_read_hparams(&o->h, a);
    o->stop_at = args_has(a, "stop_at") ? args_int(a, "stop_at") : 0;
    o->B = (int)args_int(a, "batch");
    o->epochs = args_has(a, "epochs") ? args_float(a, "epochs") : 0;
    o->val_fraction = args_float(a, "val_fraction");
    o->mix = args_float(a, "mix");
    o->eval_every = args_int(a, "eval_every");
    o->save_every = args_int(a, "save_every");
    o->resume = args_bool(a, "resume");
    o->replace = args_bool(a, "replace");
    o->seed = args_has(a, "seed") ? (uint64_t)args_int(a, "seed") : ws->seed;
    o->from = args_str(a, "checkpoint");
    o->precision = stage_train_precision(args_str(a, "precision"));
}

/* Positions a conversation of n tokens needs in a row of at most T. */
static int
row_len(size_t n, int T)
{
    return n < 2 ? 1 : n - 1 < (size_t)T ? (int)(n - 1) : T;
}

/* The demonstrations: read, encode, split. */
static enum gr_status
load_demos(struct sft_run *r, struct gr_error *err)
{
    struct labels_bad *bad = NULL;
    size_t nbad = 0;
    char *path = workspace_path(r->ws, "labels/demos.jsonl");
    enum gr_status rc = demos_read_file(path, 1, &r->demos, &bad, &nbad, err);
    for (size_t i = 0; rc == GR_OK && i < nbad; i++)
        metrics_note(r->ctx->metrics, "%s:%zu: %s (skipped)", path, bad[i].line,
                     bad[i].why);
    free(bad);
    free(path);
    if (rc != GR_OK)
        return rc;
    size_t n = r->demos.n;
    if (n == 0)
        return gr_fail(err, GR_ESTATE, "there are no demonstrations yet: import some "
                       "with 'garage demos import FILE' (the shipped set is %s/demos.jsonl)",
                       data_dir());

    size_t ntok = 0, cap = 0;
    r->off = xmalloc(n * sizeof *r->off);
    r->len = xmalloc(n * sizeof *r->len);
    for (size_t i = 0; i < n; i++) {
        const struct demo *d = &r->demos.v[i];
        r->off[i] = ntok;
        if ((rc = chat_encode(&r->tok, d->turns, d->nturns, 0, &r->toks, &r->mask,
                              &ntok, &cap, err)) != GR_OK)
            return rc;
        r->len[i] = ntok - r->off[i];
    }

    uint8_t *is_val = xmalloc(n);
    sft_split(&r->demos, r->o.val_fraction, r->o.seed, is_val);
    r->train = xmalloc(n * sizeof *r->train);
    r->val = xmalloc(n * sizeof *r->val);
    size_t cut = 0, empty = 0;
    int32_t *in = xmalloc((size_t)r->T * sizeof *in), *tg = xmalloc((size_t)r->T * sizeof *tg);
    for (size_t i = 0; i < n; i++) {
        cut += r->len[i] > (size_t)r->T + 1;
        if (sft_fill_row(r->toks + r->off[i], r->mask + r->off[i], r->len[i], r->T,
                         in, tg) == 0) {
            empty++;
            continue;
        }
        if (is_val[i])
            r->val[r->nval++] = i;
        else
            r->train[r->ntrain++] = i;
    }
    free(in);
    free(tg);
    free(is_val);
    if (cut)
        metrics_note(r->ctx->metrics, "%zu of %zu demonstrations are longer than the "
                     "context of %d tokens: they are cut%s", cut, n, r->T,
                     empty ? "" : " to fit");
    if (empty)
        metrics_note(r->ctx->metrics, "%zu demonstrations have no answer within the "
                     "context of %d tokens: skipped", empty, r->T);
    if (r->ntrain == 0)
        return gr_fail(err, GR_EINPUT, "no demonstration is left to train on (%zu held "
                       "out for validation): add more, or lower val_fraction", r->nval);
    if (r->nval == 0)
        metrics_note(r->ctx->metrics, "no demonstrations are held out (val_fraction=%g, "
                     "%zu demonstrations): no validation loss", r->o.val_fraction, n);
    r->perm = xmalloc(r->ntrain * sizeof *r->perm);
    r->perm_epoch = -1;
    return GR_OK;
}

/* The checkpoint to start from: the newest sft one (resume), or a base. */
static enum gr_status
load_model(struct sft_run *r, struct gr_rng *rng, struct gr_error *err)
{
    struct sft_opts *o = &r->o;
    const struct workspace *ws = r->ws;
    enum gr_status rc;
    char *latest_sft = workspace_latest_checkpoint(ws, "sft");
    char *path = NULL;
    if (o->resume) {
        if (!latest_sft)
            return gr_fail(err, GR_ESTATE, "there is no sft checkpoint to resume: start "
                           "with 'garage sft' (without resume=true)");
        path = latest_sft;
        latest_sft = NULL;
    } else {
        if (latest_sft && !o->replace) {
            rc = gr_fail(err, GR_ESTATE, "%s exists already: continue it with 'garage sft "
                         "resume=true steps=N', or start over with replace=true",
                         latest_sft);
            free(latest_sft);
            return rc;
        }
        free(latest_sft);
        if ((rc = stage_pick_checkpoint(ws, o->from, "base", &path, err)) != GR_OK)
            return rc;
    }
    rc = stage_load_checkpoint(path, &r->tok, &r->model, &r->meta, o->resume, err);
    r->last_ckpt = path;
    if (rc != GR_OK)
        return rc;
    if (o->resume) {
        if (strcmp(r->meta.kind, "sft") != 0)
            return gr_fail(err, GR_EINPUT, "%s is a %s checkpoint, not an sft one", path,
                           r->meta.kind);
        json_t *ex = r->meta.extra;
        json_t *from = ex ? json_object_get(ex, "from") : NULL;
        json_t *seed = ex ? json_object_get(ex, "seed") : NULL;
        r->from = xstrdup(json_is_string(from) ? json_string_value(from) : "?");
        if (json_is_integer(seed))
            o->seed = (uint64_t)json_integer_value(seed);
        *rng = r->meta.rng;
    } else {
        if (strcmp(r->meta.kind, "base") != 0)
            return gr_fail(err, GR_EINPUT, "%s is a %s checkpoint: sft starts from a base "
                           "one", path, r->meta.kind);
        if (r->meta.step == 0)
            metrics_note(r->ctx->metrics, "note: %s is untrained (step 0): fine-tuning "
                         "works better after 'garage pretrain'", path);
        const char *objective = ckpt_objective(&r->meta);
        if (objective && !strcmp(objective, "masked"))
            metrics_note(r->ctx->metrics, "note: %s was pretrained with masked LM; "
                         "fine-tuning teaches it to write left to right from there, "
                         "which a next-token base does much better", path);
        /* recorded relative to the workspace, so copies of it compare */
        size_t rl = strlen(ws->root);
        int inside = !strncmp(path, ws->root, rl) && path[rl] == '/';
        r->from = xstrdup(inside ? path + rl + 1 : path);
        snprintf(r->meta.kind, sizeof r->meta.kind, "sft");
        r->meta.step = 0;
        r->meta.data_pos = 0;
        rng_seed(rng, o->seed ^ 0x7366746d6978ULL);
    }
    r->T = r->model.cfg.T;
    return GR_OK;
}

/* Index (into demos) of the pos-th training row of the stream. */
static size_t
stream_demo(struct sft_run *r, uint64_t pos)
{
    long long epoch = (long long)(pos / r->ntrain);
    if (epoch != r->perm_epoch) {
        struct gr_rng prng;
        rng_seed(&prng, r->o.seed ^ 0x736674657063ULL ^ ((uint64_t)epoch * 0x9e3779b97f4a7c15ULL));
        for (size_t i = 0; i < r->ntrain; i++)
            r->perm[i] = i;
        for (size_t i = r->ntrain; i > 1; i--) {
            size_t j = (size_t)rng_below(&prng, i);
            size_t t = r->perm[i - 1];
            r->perm[i - 1] = r->perm[j];
            r->perm[j] = t;
        }
        r->perm_epoch = epoch;
    }
    return r->train[r->perm[pos % r->ntrain]];
}

/* Fill the rows of demonstrations idx (n) after nmix corpus rows; returns
 * the row length used (the longest, padded as gpt_padded_len says). */
static int
fill_batch(struct sft_run *r, struct gr_rng *rng, const size_t *idx, int n, int nmix)
{
    int Tb = 1;
    for (int b = 0; b < n; b++) {
        int l = row_len(r->len[idx[b]], r->T);
        if (l > Tb)
            Tb = l;
    }
    if (n == 0)
        Tb = r->T;
    int Tl = Tb;                        /* the longest row */
    Tb = gpt_padded_len(&r->model, Tb);
    if (nmix) {
        int Tm = Tl < (int)r->corpus.ntok - 2 ? Tl : (int)r->corpus.ntok - 2;
        pretrain_fill_batch(&r->corpus, rng, 0, r->model.cfg.V, nmix, Tm, r->inputs,
                            r->targets, NULL);
        if (Tm < Tb) {          /* a tiny corpus, or padding: re-lay and pad the rows */
            for (int b = nmix - 1; b >= 0; b--)
                for (int t = Tb - 1; t >= 0; t--) {
                    size_t k = (size_t)b * Tb + t, s = (size_t)b * Tm + t;
                    r->inputs[k] = t < Tm ? r->inputs[s] : BPE_ENDOFTEXT;
                    r->targets[k] = t < Tm ? r->targets[s] : -1;
                }
        }
    }
    for (int b = 0; b < n; b++) {
        size_t i = idx[b];
        size_t row = (size_t)(nmix + b) * Tb;
        sft_fill_row(r->toks + r->off[i], r->mask + r->off[i], r->len[i], Tb,
                     r->inputs + row, r->targets + row);
    }
    return Tb;
}

/* Mean loss per assistant token over the held-out demonstrations. */
static void
evaluate(struct sft_run *r, double *val_loss, double *val_bpb)
{
    double sum = 0, bytes = 0;
    size_t count = 0;
    for (size_t first = 0; first < r->nval; first += (size_t)r->o.B) {
        int n = r->nval - first < (size_t)r->o.B ? (int)(r->nval - first) : r->o.B;
        int Tb = fill_batch(r, NULL, r->val + first, n, 0);
        gpt_forward(&r->model, r->inputs, r->targets, n, Tb, 1);
        for (size_t k = 0; k < (size_t)n * Tb; k++) {
            int32_t tg = r->targets[k];
            if (tg < 0)
                continue;
            sum += r->model.losses[k];
            bytes += r->tok_bytes[tg];
            count++;
        }
    }
    *val_loss = count ? sum / (double)count : NAN;
    *val_bpb = bytes > 0 ? sum / M_LN2 / bytes : NAN;
}

static double
emit_eval(struct sft_run *r, long long step)
{
    if (!r->nval)
        return NAN;
    double vl, vb;
    evaluate(r, &vl, &vb);
    struct gr_metric rec;
    metric_begin(&rec, "eval");
    metric_add(&rec, "step", (double)step);
    metric_add(&rec, "val_loss", vl);
    metric_add(&rec, "val_bpb", vb);
    metric_text(&rec, "sft");
    metrics_emit(r->ctx->metrics, &rec);
    return vl;
}

static enum gr_status
save(struct sft_run *r, struct gr_rng *rng, long long step, struct gr_error *err)
{
    json_t *ex = json_object();
    json_object_set_new(ex, "from", json_string(r->from));
    json_object_set_new(ex, "seed", json_integer((json_int_t)r->o.seed));
    json_object_set_new(ex, "demos", json_integer((json_int_t)r->ntrain));
    json_object_set_new(ex, "val_demos", json_integer((json_int_t)r->nval));
    json_object_set_new(ex, "mix", json_real(r->o.mix));
    json_decref(r->meta.extra);
    r->meta.extra = ex;
    return train_save(r->ws, "sft", &r->model, &r->meta, rng, step, &r->last_ckpt, err);
}

static void
teardown(struct sft_run *r)
{
    demos_release(&r->demos);
    free(r->toks);
    free(r->mask);
    free(r->off);
    free(r->len);
    free(r->train);
    free(r->val);
    free(r->perm);
    free(r->tok_bytes);
    free(r->inputs);
    free(r->targets);
    free(r->from);
    free(r->last_ckpt);
    shard_close(&r->corpus);
    gpt_release(&r->model);
    ckpt_meta_release(&r->meta);
    bpe_release(&r->tok);
}

enum gr_status
stage_sft(struct gr_ctx *ctx, const struct gr_args *a, struct gr_error *err)
{
    struct sft_run r = { 0 };
    struct sft_opts *o = &r.o;
    struct gr_rng rng;
    char *logpath = NULL, *run = NULL;
    size_t *rows = NULL;
    r.ctx = ctx;
    r.ws = ctx->ws;
    ckpt_meta_init(&r.meta);
    read_opts(o, a, ctx->ws);
    if (args_isset(a, "steps") && args_isset(a, "epochs"))
        return gr_fail(err, GR_EUSAGE, "give steps or epochs, not both");
    if (o->resume && o->replace)
        return gr_fail(err, GR_EUSAGE, "resume=true continues the newest sft checkpoint; "
                       "replace=true deletes it: choose one");

    enum gr_status rc = stage_load_tokenizer(r.ws, &r.tok, err);
    if (rc == GR_OK)
        rc = load_model(&r, &rng, err);
    if (rc == GR_OK)
        rc = load_demos(&r, err);
    if (rc == GR_OK && o->mix > 0) {
        rc = train_open_shard(r.ws, &r.tok, "train", &r.corpus, err);
        if (rc == GR_OK && r.corpus.ntok < 3)
            rc = gr_fail(err, GR_EINPUT, "the training corpus is too small to mix in");
    }
    if (rc != GR_OK)
        goto out;
    if (o->epochs > 0) {
        double per_step = o->B * (1.0 - o->mix);
        o->h.steps = (long long)ceil(o->epochs * (double)r.ntrain / per_step);
        if (o->h.steps < 1)
            o->h.steps = 1;
    }
    if (!o->stop_at)
        o->stop_at = o->h.steps;
    long long step = (long long)r.meta.step;
    if (step >= o->h.steps) {
        rc = gr_fail(err, GR_EINPUT, "%s is at step %lld already; ask for more steps "
                     "(steps=%lld or more)", r.last_ckpt, step, step + 1);
        goto out;
    }
    if ((rc = gpt_alloc_acts(&r.model, o->B, r.T, err)) != GR_OK ||
        (rc = gpt_set_precision(&r.model, o->precision, err)) != GR_OK)
        goto out;
    r.inputs = xmalloc((size_t)o->B * r.T * sizeof *r.inputs);
    r.targets = xmalloc((size_t)o->B * r.T * sizeof *r.targets);
    r.tok_bytes = stage_token_bytes(&r.tok);
    rows = xmalloc((size_t)o->B * sizeof *rows);
    if (o->replace && !o->resume) {
        int n = stage_remove_checkpoints(r.ws, "sft");
        if (n)
            metrics_note(ctx->metrics, "removed %d sft checkpoint%s", n, n == 1 ? "" : "s");
    }

    run = workspace_run_name("sft");
    char *rel = xasprintf("logs/%s.jsonl", run);
    logpath = workspace_path(r.ws, rel);
    free(rel);
    if (ctx->metrics && (rc = metrics_open_log(ctx->metrics, logpath, err)) != GR_OK)
        goto out;

    const struct gpt_config *cfg = &r.model.cfg;
    metrics_note(ctx->metrics, "%s %s: %d layers, dim %d, context %d; %zu "
                 "demonstrations to train on, %zu held out%s; products %s",
                 step ? "resuming" : "fine-tuning",
                 r.last_ckpt, cfg->L, cfg->C, cfg->T, r.ntrain, r.nval,
                 o->mix > 0 ? "; mixing in pretraining text" : "",
                 stage_products_name(o->precision));
    {
        struct gr_metric rec;
        metric_begin(&rec, "run");
        metric_add(&rec, "steps", (double)o->h.steps);
        metric_add(&rec, "batch", o->B);
        metric_add(&rec, "context", r.T);
        metric_add(&rec, "lr", o->h.lr);
        metric_add(&rec, "params", (double)r.model.nparams);
        metric_add(&rec, "start_step", (double)step);
        metric_add(&rec, "demos", (double)r.ntrain);
        metric_add(&rec, "val_demos", (double)r.nval);
        metric_add(&rec, "mix", o->mix);
        metric_text(&rec, "sft");
        metrics_emit(ctx->metrics, &rec);
    }

    double first_val = step == 0 ? emit_eval(&r, step) : NAN, last_val = first_val;
    double best_val = first_val;        /* the lowest held-out loss of this run */
    long long best_step = step;
    struct train_clock clock;
    train_clock_start(&clock, step);
    int stopped = 0;
    r.model.loss_scale = 1.0f;
    while (step < o->h.steps && step < o->stop_at) {
        if (job_should_stop(ctx->job)) {
            stopped = 1;
            break;
        }
        double ts = stage_now();
        int nmix = sft_mix_rows(step, o->mix, o->B), n = o->B - nmix;
        for (int b = 0; b < n; b++)
            rows[b] = stream_demo(&r, r.meta.data_pos + (uint64_t)b);
        int Tb = fill_batch(&r, &rng, rows, n, nmix);
        gpt_zero_grad(&r.model);
        double loss = gpt_forward(&r.model, r.inputs, r.targets, o->B, Tb, 1);
        gpt_backward(&r.model);
        /* the loss reported is the demonstrations' alone */
        double dsum = 0;
        size_t dcount = 0;
        for (size_t k = (size_t)nmix * Tb; k < (size_t)o->B * Tb; k++) {
            if (r.targets[k] >= 0) {
                dsum += r.model.losses[k];
                dcount++;
            }
        }
        double lr, gnorm;
        if ((rc = train_update(&r.model, &o->h, step, loss, r.last_ckpt, &lr, &gnorm,
                               err)) != GR_OK)
            goto out;
        step++;
        r.meta.data_pos += (uint64_t)n;
        train_report(ctx->metrics, "sft", &clock, step, o->h.steps,
                     dcount ? dsum / (double)dcount : loss, lr, gnorm,
                     (double)o->B * Tb, train_flops_per_token(&r.model, Tb), ts);

        int last = step == o->h.steps;
        if ((o->eval_every > 0 && step % o->eval_every == 0) || last) {
            last_val = emit_eval(&r, step);
            if (isfinite(last_val) && !(last_val >= best_val)) {
                best_val = last_val;
                best_step = step;
            }
        }
        if ((o->save_every > 0 && step % o->save_every == 0) || last ||
            step == o->stop_at || job_take_save(ctx->job)) {
            if ((rc = save(&r, &rng, step, err)) != GR_OK)
                goto out;
        }
    }
    if (stopped || step < o->h.steps) {
        if ((long long)r.meta.step != step)
            rc = save(&r, &rng, step, err);
        if (rc == GR_OK) {
            ctx_printf(ctx, "Stopped at step %lld of %lld; saved %s.\nContinue with: "
                       "garage sft resume=true steps=%lld\n", step, o->h.steps,
                       r.last_ckpt, o->h.steps);
            if (stopped)
                rc = gr_fail(err, GR_ESTOPPED, "fine-tuning stopped at step %lld", step);
        }
        goto out;
    }
    ctx_printf(ctx, "Fine-tuned to step %lld in %.1f s", step, stage_now() - clock.t0);
    if (r.nval && isfinite(first_val))
        ctx_printf(ctx, "; validation loss %.4f (%.4f before)", last_val, first_val);
    else if (r.nval)
        ctx_printf(ctx, "; validation loss %.4f", last_val);
    ctx_printf(ctx, ".\nSaved %s\n", r.last_ckpt);
    /* Overfitting is expected with few demonstrations; say so, and how to
     * stop earlier, rather than leave a rising curve unexplained. */
    if (r.nval && best_step > 0 && best_step < step && last_val > best_val * 1.05)
        metrics_note(ctx->metrics, "note: the held-out loss was lowest at step %lld "
                     "(%.4f) and ended at %.4f: with few demonstrations, more steps fit "
                     "their wording more than new prompts.  InstructGPT trained past "
                     "this point on purpose (its answers kept improving); to stop there "
                     "instead: garage sft steps=%lld replace=true", best_step, best_val,
                     last_val, best_step);
out:
    if (ctx->metrics)
        metrics_close_log(ctx->metrics);
    free(rows);
    free(logpath);
    free(run);
    teardown(&r);
    return rc;
}
