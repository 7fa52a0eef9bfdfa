#include "stages/train.h"

#include <math.h>
#include <stdlib.h>

#include "base/fsio.h"
#include "base/xalloc.h"
#include "model/adamw.h"
#include "stages/common.h"

void
train_read_hparams(struct train_hparams *h, const struct gr_args *a)
{
    h->steps = args_int(a, "steps");
    h->warmup = args_int(a, "warmup");
    h->lr = args_float(a, "lr");
    h->min_lr = args_has(a, "min_lr") ? args_float(a, "min_lr") : h->lr / 10;
    h->wd = args_float(a, "weight_decay");
    h->beta1 = args_float(a, "beta1");
    h->beta2 = args_float(a, "beta2");
    h->clip = args_float(a, "grad_clip");
}

double
train_lr(long long step, long long steps, long long warmup, double lr,
         double min_lr)
{
    if (step < warmup)
        return lr * (double)(step + 1) / (double)warmup;
    if (steps <= warmup)
        return lr;
    double progress = (double)(step - warmup) / (double)(steps - warmup);
    if (progress > 1)
        progress = 1;
    return min_lr + 0.5 * (lr - min_lr) * (1.0 + cos(M_PI * progress));
}

enum gr_status
train_update(struct gpt *m, const struct train_hparams *h, long long step,
             double loss, const char *last_ckpt, double *lr, double *gnorm,
             struct gr_error *err)
{
    double g = gpt_grad_norm(m);
    *gnorm = g;
    if (!isfinite(loss) || !isfinite(g))
        return gr_fail(err, GR_ENUMERIC, "step %lld: the %s is %s; training stopped "
                       "(the last good checkpoint is %s; try a lower lr)", step + 1,
                       isfinite(loss) ? "gradient norm" : "loss",
                       isnan(isfinite(loss) ? g : loss) ? "NaN" : "infinite",
                       last_ckpt ? last_ckpt : "none");
    *lr = train_lr(step, h->steps, h->warmup, h->lr, h->min_lr);
    adamw_step_scaled(m, gpt_clip_scale((float)g, (float)h->clip), (float)*lr,
                      (float)h->beta1, (float)h->beta2, 1e-8f, (float)h->wd,
                      (int)(step + 1));
    return GR_OK;
}

void
train_clock_start(struct train_clock *c, long long first_step)
{
    c->t0 = stage_now();
    c->ema_dt = 0;
    c->first = first_step;
}

void
train_report(struct gr_metrics *mx, const char *kind, struct train_clock *c,
             long long step, long long steps, double loss, double lr,
             double gnorm, double tokens, double flops_per_tok,
             double step_start)
{
    double now = stage_now(), dt = now - step_start;
    c->ema_dt = step - c->first == 1 ? dt : 0.9 * c->ema_dt + 0.1 * dt;
    struct gr_metric rec;
    metric_begin(&rec, kind);
    metric_add(&rec, "step", (double)step);
    metric_add(&rec, "steps", (double)steps);
    metric_add(&rec, "loss", loss);
    metric_add(&rec, "lr", lr);
    metric_add(&rec, "grad_norm", gnorm);
    metric_add(&rec, "tok_s", tokens / dt);
    metric_add(&rec, "flops", tokens / dt * flops_per_tok);
    metric_add(&rec, "elapsed", now - c->t0);
    metric_add(&rec, "eta", c->ema_dt * (double)(steps - step));
    metrics_emit(mx, &rec);
}

double
train_flops_per_token(const struct gpt *m, int T)
{
    const struct gpt_config *cfg = &m->cfg;
    return 6.0 * (double)m->nparams + 12.0 * cfg->L * cfg->C * (double)T;
}

enum gr_status
train_save(const struct workspace *ws, const char *kind, const struct gpt *m,
           struct ckpt_meta *meta, const struct gr_rng *rng, long long step,
           char **last, struct gr_error *err)
{
    char *path = stage_checkpoint_path(ws, kind, (uint64_t)step);
    meta->step = (uint64_t)step;
    meta->rng = *rng;
    meta->has_opt = 1;
    enum gr_status rc = ckpt_save(path, m, meta, NULL, err);
    if (rc == GR_OK) {
        free(*last);
        *last = path;
    } else {
        free(path);
    }
    return rc;
}

enum gr_status
train_open_shard(const struct workspace *ws, const struct bpe *t,
                 const char *split, struct shard *s, struct gr_error *err)
{
    char *rel = xasprintf("corpus/%s.tok", split);
    char *p = workspace_path(ws, rel);
    enum gr_status rc = GR_OK;
    free(rel);
    if (!fs_exists(p))
        rc = gr_fail(err, GR_ESTATE, "the corpus is not encoded with this tokenizer: "
                     "run 'garage tokenizer' again");
    else if ((rc = shard_open(s, p, err)) == GR_OK && s->tok_hash != t->hash)
        rc = gr_fail(err, GR_ESTATE, "the encoded corpus is from another tokenizer: "
                     "run 'garage tokenizer' again");
    free(p);
    return rc;
}
