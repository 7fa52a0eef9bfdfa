#include "progress.h"

#include <math.h>
#include <pthread.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "format.h"

static pthread_mutex_t draw_mu = PTHREAD_MUTEX_INITIALIZER;

static double
now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

void
progress_init(struct progress *p, FILE *f, int quiet)
{
    memset(p, 0, sizeof *p);
    p->f = f;
    p->tty = isatty(fileno(f));
    p->quiet = quiet;
    p->table_iter = -1;
}

void
progress_break(struct progress *p)
{
    pthread_mutex_lock(&draw_mu);
    if (p->line_open) {
        fputs("\r\033[K", p->f);
        p->line_open = 0;
    }
    pthread_mutex_unlock(&draw_mu);
}

static void
bar(char *buf, size_t width, double frac)
{
    if (frac < 0)
        frac = 0;
    if (frac > 1)
        frac = 1;
    size_t fill = (size_t)(frac * width + 0.5);
    for (size_t i = 0; i < width; i++)
        buf[i] = i < fill ? '#' : '.';
    buf[width] = '\0';
}

/* Draw a live line (tty) or decide whether a plain line is due. */
static void
show(struct progress *p, const char *line, int final)
{
    double t = now_s();
    if (p->tty) {
        if (!final && t - p->last_draw < 0.1)
            return;
        p->last_draw = t;
        fprintf(p->f, "\r\033[K%s", line);
        if (final) {
            fputc('\n', p->f);
            p->line_open = 0;
        } else {
            p->line_open = 1;
        }
        fflush(p->f);
    } else {
        if (!final && t - p->last_plain < 10.0)
            return;
        p->last_plain = t;
        fprintf(p->f, "%s\n", line);
        fflush(p->f);
    }
}

static void
on_progress(struct progress *p, const struct gr_metric *m)
{
    char what[GR_METRIC_TEXT], unit[GR_METRIC_TEXT] = "";
    const char *bar_sep = strchr(m->text, '|');
    if (bar_sep) {
        snprintf(what, sizeof what, "%.*s", (int)(bar_sep - m->text), m->text);
        snprintf(unit, sizeof unit, "%s", bar_sep + 1);
    } else {
        snprintf(what, sizeof what, "%s", m->text);
    }
    double done = metric_get(m, "done", 0), total = metric_get(m, "total", 0);
    double t = now_s();
    if (strcmp(what, p->what) != 0 || done == 0) {
        snprintf(p->what, sizeof p->what, "%s", what);
        p->t0 = t;
        p->last_plain = t;
    }
    double el = t - p->t0, rate = el > 0 ? done / el : 0;
    double eta = rate > 0 && total > done ? (total - done) / rate : (done >= total ? 0 : NAN);
    char b[32], d[32], tt[32], r[32], e[32], line[2 * GR_METRIC_TEXT + 256];
    bar(b, 24, total > 0 ? done / total : 0);
    fmt_count(d, sizeof d, done);
    fmt_count(tt, sizeof tt, total);
    fmt_count(r, sizeof r, rate);
    fmt_duration(e, sizeof e, eta);
    snprintf(line, sizeof line, "%-10s [%s] %s/%s %s  %s/s  ETA %s",
             what, b, d, tt, unit, r, e);
    show(p, line, total > 0 && done >= total);
}

static void
on_train(struct progress *p, const struct gr_metric *m)
{
    double step = metric_get(m, "step", 0), steps = metric_get(m, "steps", 0);
    char b[32], e[32], el[32], line[512];
    bar(b, 20, steps > 0 ? step / steps : 0);
    fmt_duration(e, sizeof e, metric_get(m, "eta", NAN));
    fmt_duration(el, sizeof el, metric_get(m, "elapsed", NAN));
    snprintf(line, sizeof line,
             "%-8s [%s] step %.0f/%.0f  loss %.4f  lr %.2e  %.0f tok/s  %.1f GFLOP/s  %s ETA %s",
             m->kind, b, step, steps, metric_get(m, "loss", NAN),
             metric_get(m, "lr", NAN), metric_get(m, "tok_s", 0),
             metric_get(m, "flops", 0) / 1e9, el, e);
    show(p, line, steps > 0 && step >= steps);
}

/* reward: a step of reward-model training. */
static void
on_reward(struct progress *p, const struct gr_metric *m)
{
    double step = metric_get(m, "step", 0), steps = metric_get(m, "steps", 0);
    char b[32], e[32], el[32], line[512];
    bar(b, 20, steps > 0 ? step / steps : 0);
    fmt_duration(e, sizeof e, metric_get(m, "eta", NAN));
    fmt_duration(el, sizeof el, metric_get(m, "elapsed", NAN));
    snprintf(line, sizeof line,
             "reward   [%s] step %.0f/%.0f  loss %.4f  pair acc %5.1f%%  lr %.2e  %s ETA %s",
             b, step, steps, metric_get(m, "loss", NAN), 100 * metric_get(m, "acc", NAN),
             metric_get(m, "lr", NAN), el, e);
    show(p, line, steps > 0 && step >= steps);
}

/* tune: a PPO iteration, and rows of its table of sample answers. */
static void
on_tune(struct progress *p, const struct gr_metric *m)
{
    double it = metric_get(m, "iter", 0), its = metric_get(m, "iters", 0);
    double ts = metric_get(m, "t_sample", 0), tc = metric_get(m, "t_score", 0);
    double tu = metric_get(m, "t_update", 0), tt = ts + tc + tu;
    char b[32], e[32], line[512];
    bar(b, 16, its > 0 ? it / its : 0);
    fmt_duration(e, sizeof e, metric_get(m, "eta", NAN));
    snprintf(line, sizeof line,
             "tune     [%s] iter %.0f/%.0f  reward %+.3f  KL %.3f  beta %.3g  entropy %.2f  "
             "len %.1f  end %.0f%%  clip %.2f  time %.0f/%.0f/%.0f%% sample/score/update  "
             "%.0f tok/s  ETA %s", b, it, its, metric_get(m, "reward", NAN),
             metric_get(m, "kl", NAN), metric_get(m, "kl_coef", NAN),
             metric_get(m, "entropy", NAN), metric_get(m, "answer_len", NAN),
             100 * metric_get(m, "ended", NAN), metric_get(m, "clip_frac", NAN),
             tt > 0 ? 100 * ts / tt : 0, tt > 0 ? 100 * tc / tt : 0,
             tt > 0 ? 100 * tu / tt : 0, metric_get(m, "tok_s", 0), e);
    show(p, line, its > 0 && it >= its);
}

void
progress_on_metric(void *ctx, const struct gr_metric *m)
{
    struct progress *p = ctx;
    pthread_mutex_lock(&draw_mu);
    if (!strcmp(m->kind, "progress")) {
        if (!p->quiet)
            on_progress(p, m);
    } else if (!strcmp(m->kind, "train") || !strcmp(m->kind, "sft")) {
        if (!p->quiet)
            on_train(p, m);
    } else if (!strcmp(m->kind, "reward")) {         /* reward */
        if (!p->quiet)
            on_reward(p, m);
    } else if (!strcmp(m->kind, "reward_eval")) {
        if (p->line_open) {
            fputs("\r\033[K", p->f);
            p->line_open = 0;
        }
        if (!p->quiet)
            fprintf(p->f, "eval     step %.0f  pair accuracy: train %.1f%%, held-out %.1f%%  "
                    "margin %.3f\n", metric_get(m, "step", 0),
                    100 * metric_get(m, "train_acc", NAN),
                    100 * metric_get(m, "heldout_acc", NAN), metric_get(m, "margin", NAN));
        p->last_plain = 0;
    } else if (!strcmp(m->kind, "tune")) {           /* tune */
        if (!p->quiet)
            on_tune(p, m);
    } else if (!strcmp(m->kind, "tune_sample")) {
        if (p->line_open) {
            fputs("\r\033[K", p->f);
            p->line_open = 0;
        }
        if (!p->quiet)
            fprintf(p->f, "  iter %.0f  reward %+.3f  %s\n", metric_get(m, "iter", 0),
                    metric_get(m, "reward", NAN), m->text);
        p->table_iter = metric_get(m, "iter", -1);
        p->last_plain = 0;
    } else if (!strcmp(m->kind, "tune_compare")) {
        /* with the table's rows: the same prompt, reference and tuned */
        if (!p->quiet && metric_get(m, "iter", -2) == p->table_iter) {
            if (p->line_open) {
                fputs("\r\033[K", p->f);
                p->line_open = 0;
            }
            fprintf(p->f, "  iter %.0f  %-9s %+.3f  %s\n", metric_get(m, "iter", 0),
                    metric_get(m, "model", 0) ? "tuned" : "reference",
                    metric_get(m, "reward", NAN), m->text);
            p->last_plain = 0;
        }
    } else if (!strcmp(m->kind, "eval")) {
        if (p->line_open) {
            fputs("\r\033[K", p->f);
            p->line_open = 0;
        }
        fprintf(p->f, "eval     step %.0f  val loss %.4f  val bpb %.4f\n",
                metric_get(m, "step", 0), metric_get(m, "val_loss", NAN),
                metric_get(m, "val_bpb", NAN));
        p->last_plain = 0;      /* next train line prints at once when piped */
    } else if (!strcmp(m->kind, "note")) {
        if (p->line_open) {
            fputs("\r\033[K", p->f);
            p->line_open = 0;
        }
        fprintf(p->f, "%s\n", m->text);
    }
    fflush(p->f);
    pthread_mutex_unlock(&draw_mu);
}
