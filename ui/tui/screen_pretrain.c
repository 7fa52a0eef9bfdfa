/* screen_pretrain.c: create the model and pretrain it, watching the
 * training loss and the held-out bits per byte fall on a live chart,
 * with speed, FLOP/s, progress, time left, and samples at each
 * evaluation.  p pauses, s saves now, x stops with a checkpoint.
 *
 * Everything drawn comes from the job's records (or, before a job, from
 * the records the last runs logged), never from the job itself. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app/workspace.h"
#include "base/xalloc.h"
#include "model/checkpoint.h"
#include "chartview.h"
#include "form.h"
#include "runlog.h"
#include "screens.h"

#define MAX_SAMPLES 16

enum { PANE_CHART, PANE_SETTINGS, PANE_SAMPLES, NPANES };

struct pretrain {
    struct form train, model;
    int show_model;             /* the settings pane shows the model's */
    struct chartview cv;
    struct series loss, bpb;
    int which;                  /* one chart only: 0 loss, 1 val bpb */
    /* the newest "train" record */
    int have_train;
    double step, steps, cur_loss, first_loss, lr, gnorm, tok_s, flops, elapsed, eta;
    double last_bpb;
    /* samples of the newest evaluation */
    char *samples[MAX_SAMPLES];
    int nsamples;
    double sample_step;
    int sample_top;
    /* the model on disk */
    int have_model;
    long long ckpt_step;
    char model_info[160];
};

static const struct key_binding pretrain_keys[] = {
    { 'g', "start", "Start training (creating the model first if there is none; "
      "continuing a trained one when steps is higher)", NULL },
    { 'p', "pause", "Pause or resume training", NULL },
    { 's', "save", "Save a checkpoint after this step", NULL },
    { 'x', "stop", "Stop training, keeping a checkpoint (resume later with g)", NULL },
    { 'm', "model", "Settings pane: the model's settings, or training's", NULL },
    { 'n', "new model", "Replace the model with a new, untrained one (asks first)", NULL },
    { 'e', "EMA", "Chart: smoothing on or off", NULL },
    { 'l', "log", "Chart: log scale on or off", NULL },
    { 'z', "zoom", "Chart: the last 50/200/1000/5000 steps, or all (Z: back)", NULL },
    { 'v', "val/loss", "Chart: loss or validation bpb (when only one fits)", NULL },
    { '\n', NULL, "Settings pane: edit the selected value (Enter again keeps it, Esc "
      "cancels; Space flips or cycles; Backspace: the default)", "Enter" },
    { 'q', "back", "Back to the stages (asks before stopping training)", NULL },
    { 0 }
};

static void
reset_run(struct pretrain *p)
{
    series_clear(&p->loss);
    series_clear(&p->bpb);
    p->have_train = 0;
    p->first_loss = NAN;
    p->last_bpb = NAN;
}

static void
clear_samples(struct pretrain *p)
{
    for (int i = 0; i < p->nsamples; i++)
        free(p->samples[i]);
    p->nsamples = 0;
    p->sample_top = 0;
}

static void
take(struct pretrain *p, const struct gr_metric *m)
{
    if (!strcmp(m->kind, "run")) {
        if (metric_get(m, "start_step", 0) == 0)
            reset_run(p);
        p->steps = metric_get(m, "steps", p->steps);
    } else if (!strcmp(m->kind, "train")) {
        double step = metric_get(m, "step", NAN), loss = metric_get(m, "loss", NAN);
        if (!isfinite(step))
            return;
        if (p->loss.n && step <= p->loss.x[p->loss.n - 1])
            reset_run(p);       /* an older run's log before a new model */
        series_add(&p->loss, step, loss);
        if (!p->have_train || !isfinite(p->first_loss))
            p->first_loss = loss;
        p->have_train = 1;
        p->step = step;
        p->steps = metric_get(m, "steps", p->steps);
        p->cur_loss = loss;
        p->lr = metric_get(m, "lr", NAN);
        p->gnorm = metric_get(m, "grad_norm", NAN);
        p->tok_s = metric_get(m, "tok_s", NAN);
        p->flops = metric_get(m, "flops", NAN);
        p->elapsed = metric_get(m, "elapsed", NAN);
        p->eta = metric_get(m, "eta", NAN);
    } else if (!strcmp(m->kind, "eval")) {
        double step = metric_get(m, "step", NAN), bpb = metric_get(m, "val_bpb", NAN);
        if (isfinite(step) && isfinite(bpb)) {
            series_add(&p->bpb, step, bpb);
            p->last_bpb = bpb;
        }
    } else if (!strcmp(m->kind, "sample")) {
        double step = metric_get(m, "step", NAN);
        if (metric_get(m, "index", 0) == 0 || step != p->sample_step)
            clear_samples(p);
        p->sample_step = step;
        const char *t = m->text;
        while (*t == '\n' || *t == ' ' || *t == '\t')
            t++;
        size_t len = strlen(t);
        while (len && (t[len - 1] == '\n' || t[len - 1] == ' '))
            len--;
        if (p->nsamples < MAX_SAMPLES)
            p->samples[p->nsamples++] = len ? xstrndup(t, len) : xstrdup("(nothing)");
    }
}

static void
take_logged(void *ctx, const struct gr_metric *m)
{
    take(ctx, m);
}

static void
read_model(struct screen *scr)
{
    struct pretrain *p = scr->state;
    struct workspace ws;
    p->have_model = 0;
    p->model_info[0] = 0;
    const char *dir = tui_workspace(scr->tui);
    if (!dir || workspace_open(&ws, dir, NULL) != GR_OK)
        return;
    char *path = workspace_latest_checkpoint(&ws, "base");
    struct ckpt_meta meta;
    ckpt_meta_init(&meta);
    if (path && ckpt_read_meta(path, &meta, NULL) == GR_OK) {
        p->have_model = 1;
        p->ckpt_step = (long long)meta.step;
        snprintf(p->model_info, sizeof p->model_info,
                 "%d layers, %d heads, dim %d, context %d; step %llu",
                 meta.cfg.L, meta.cfg.NH, meta.cfg.C, meta.cfg.T,
                 (unsigned long long)meta.step);
        ckpt_meta_release(&meta);
    }
    free(path);
    workspace_release(&ws);
}

static void
pretrain_open(struct screen *scr, const char *arg)
{
    (void)arg;
    struct pretrain *p = xcalloc(1, sizeof *p);
    scr->state = p;
    const char *dir = tui_dir(scr->tui);
    static const char *const hide_train[] = { "resume", NULL };
    static const char *const hide_model[] = { "replace", NULL };
    form_init(&p->train, command_find("pretrain"), dir, hide_train);
    form_init(&p->model, command_find("model"), dir, hide_model);
    struct gr_error err;
    if (command_option(p->train.cmd, "eval_samples"))
        form_set(&p->train, "eval_samples", "2", &err);
    chartview_init(&p->cv);
    reset_run(p);
    p->sample_step = NAN;
    if (tui_workspace(scr->tui))
        runlog_read(tui_workspace(scr->tui), "pretrain", RUNLOG_FRESH, take_logged, p);
    read_model(scr);
    p->show_model = !p->have_model;
    scr->pane = PANE_CHART;
}

static void
pretrain_close(struct screen *scr)
{
    struct pretrain *p = scr->state;
    form_release(&p->train);
    form_release(&p->model);
    chartview_release(&p->cv);
    series_release(&p->loss);
    series_release(&p->bpb);
    clear_samples(p);
    free(p);
}

static void
pretrain_metric(struct screen *scr, const struct gr_metric *m)
{
    take(scr->state, m);
}

/* The job's text (its closing report): the last line, on the message line. */
static void
pretrain_text(struct screen *scr, const char *text, size_t n)
{
    tui_msg_line(scr->tui, text, n, 1);
}

static void
pretrain_done(struct screen *scr, enum gr_status rc, const char *msg)
{
    (void)rc;
    (void)msg;
    read_model(scr);
}

/* ---- drawing ------------------------------------------------------------- */

static void
draw_chart(struct screen *scr, struct rect r)
{
    struct pretrain *p = scr->state;
    int glyphs = tui_chart_glyphs(scr->tui);
    static const char *const loss_name[] = { "train loss" };
    static const char *const bpb_name[] = { "val bpb" };
    struct series *ls[] = { &p->loss }, *bs[] = { &p->bpb };
    if (r.h >= 18) {
        int h1 = r.h * 3 / 5;
        chartview_draw(&p->cv, (struct rect){ r.y, r.x, h1, r.w }, glyphs, loss_name, ls, 1);
        chartview_draw(&p->cv, (struct rect){ r.y + h1, r.x, r.h - h1, r.w }, glyphs,
                       bpb_name, bs, 1);
    } else if (p->which == 0) {
        chartview_draw(&p->cv, r, glyphs, loss_name, ls, 1);
    } else {
        chartview_draw(&p->cv, r, glyphs, bpb_name, bs, 1);
    }
}

static void
draw_stats(struct screen *scr, struct rect r)
{
    struct pretrain *p = scr->state;
    int y = r.y, x = r.x + 1, w = r.w - 2;
    char a[32], b[32];
    if (!p->have_train) {
        const char *text = p->have_model
            ? "Not trained yet. g starts training with the settings below."
            : "No model yet. g creates one (m: its settings) and trains it.";
        draw_wrap((struct rect){ y, x, r.h, w }, 0, A_NORMAL, text);
        return;
    }
    double frac = p->steps > 0 ? p->step / p->steps : 0;
    int end = r.y + r.h;
    fmt_duration(b, sizeof b, p->eta);
    if (y < end)
        draw_textf(y++, x, w, A_BOLD, "step %.0f / %.0f  ETA %s", p->step, p->steps, b);
    if (y < end)
        draw_bar(y++, x, w, frac);
    if (y < end)
        draw_textf(y++, x, w, A_NORMAL, "loss %.4f (from %.4f)", p->cur_loss,
                   p->first_loss);
    if (y < end) {
        if (isfinite(p->last_bpb))
            draw_textf(y++, x, w, A_NORMAL, "val  %.4f bits per byte", p->last_bpb);
        else
            draw_text(y++, x, w, style(ST_DIM), "val  (at the first evaluation)");
    }
    fmt_count(a, sizeof a, p->tok_s);
    fmt_si(b, sizeof b, p->flops, "FLOP/s");
    if (y < end)
        draw_textf(y++, x, w, A_NORMAL, "%s tok/s  %s", a, b);
    fmt_duration(a, sizeof a, p->elapsed);
    if (y < end)
        draw_textf(y++, x, w, style(ST_DIM), "%s  lr %.1e  |g| %.2g", a, p->lr, p->gnorm);
}

static void
draw_samples(struct screen *scr, struct rect r)
{
    struct pretrain *p = scr->state;
    if (!p->nsamples) {
        draw_text(r.y, r.x + 1, r.w - 2, style(ST_DIM),
                  "Samples appear at each evaluation (eval_samples, eval_every).");
        return;
    }
    int total = 0;
    for (int i = 0; i < p->nsamples; i++)
        total += draw_wrap((struct rect){ 0, 0, 0, r.w - 5 }, 0, A_NORMAL, p->samples[i]);
    if (p->sample_top > total - r.h)
        p->sample_top = total - r.h > 0 ? total - r.h : 0;
    int line = 0;
    for (int i = 0; i < p->nsamples; i++) {
        int n = draw_wrap((struct rect){ 0, 0, 0, r.w - 5 }, 0, A_NORMAL, p->samples[i]);
        int skip = p->sample_top - line;
        int y0 = r.y + (line - p->sample_top);
        if (line + n > p->sample_top && y0 < r.y + r.h) {
            int vis_skip = skip > 0 ? skip : 0;
            int yy = y0 + vis_skip;
            int h = r.y + r.h - yy;
            if (skip <= 0)
                draw_textf(yy, r.x + 1, 3, style(ST_KEY), "%d.", i + 1);
            draw_wrap((struct rect){ yy, r.x + 4, h, r.w - 5 }, vis_skip, A_NORMAL,
                      p->samples[i]);
        }
        line += n;
    }
}

static void
pretrain_draw(struct screen *scr, struct rect body)
{
    struct pretrain *p = scr->state;
    struct rect r = body;
    int samples_h = r.h >= 30 ? 10 : r.h >= 20 ? 6 : 4;
    struct rect sbox = rect_cut_bottom(&r, samples_h);
    int rightw = r.w >= 120 ? 40 : r.w >= 90 ? 34 : 30;
    struct rect right = rect_cut_right(&r, rightw);

    char title[96];
    snprintf(title, sizeof title, "%s", r.h - 2 >= 18 ? "Loss and validation"
             : p->which == 0 ? "Training loss (v: validation)" : "Validation (v: loss)");
    struct rect cin = draw_box(r, title, scr->pane == PANE_CHART);
    draw_chart(scr, (struct rect){ cin.y, cin.x + 1, cin.h, cin.w - 1 });

    int stats_h = right.h >= 16 ? 8 : right.h / 2;
    struct rect stats = rect_cut_top(&right, stats_h);
    const char *state = tui_job_is(scr->tui, scr)
        ? (tui_job_paused(scr->tui) ? "Training (paused)" : "Training") : "Training";
    struct rect sin = draw_box(stats, state, 0);
    draw_stats(scr, sin);

    struct form *f = p->show_model ? &p->model : &p->train;
    struct rect fin = draw_box(right, p->show_model ? "Model settings (m)"
                               : "Training settings (m)", scr->pane == PANE_SETTINGS);
    if (p->show_model && p->have_model && fin.h > 0) {
        draw_text(fin.y, fin.x + 1, fin.w - 2, style(ST_DIM), p->model_info);
        fin.y++;
        fin.h--;
    }
    form_draw(f, fin, scr->pane == PANE_SETTINGS);

    char stitle[96];
    if (p->nsamples)
        snprintf(stitle, sizeof stitle, "Samples at step %.0f", p->sample_step);
    else
        snprintf(stitle, sizeof stitle, "Samples");
    struct rect smp = draw_box(sbox, stitle, scr->pane == PANE_SAMPLES);
    draw_samples(scr, smp);
}

/* ---- starting ------------------------------------------------------------ */

static void
start(struct screen *scr, int new_model)
{
    struct pretrain *p = scr->state;
    struct tui *t = scr->tui;
    read_model(scr);
    struct gr_args *steps = xcalloc(2, sizeof *steps);
    size_t n = 0;
    struct gr_error err;
    if (!p->have_model || new_model) {
        form_args(&p->model, &steps[n]);
        if (new_model)
            args_set(&steps[n], command_option(p->model.cmd, "replace"), "true", &err);
        n++;
    }
    form_args(&p->train, &steps[n]);
    if (p->have_model && !new_model && p->ckpt_step > 0) {
        long long want = args_int(&steps[n], "steps");
        if (want <= p->ckpt_step) {
            tui_error(t, "the model is trained to step %lld already: raise steps to go "
                      "on, or n for a new model", p->ckpt_step);
            args_release(&steps[n]);
            free(steps);
            return;
        }
        args_set(&steps[n], command_option(p->train.cmd, "resume"), "true", &err);
    }
    n++;
    if (tui_run(t, scr, steps, n) == 0) {
        if (!p->have_model || new_model || p->ckpt_step == 0) {
            reset_run(p);
            clear_samples(p);
        }
        tui_msg(t, "%s", p->have_model && !new_model && p->ckpt_step > 0
                ? "continuing the training..." : "starting...");
    }
}

static void
replace_model(struct tui *t, void *arg)
{
    (void)t;
    start(arg, 1);
}

static enum screen_result
pretrain_key(struct screen *scr, int key)
{
    struct pretrain *p = scr->state;
    struct tui *t = scr->tui;
    int mine = tui_job_is(t, scr);
    if (scr->pane == PANE_SETTINGS &&
        form_key(p->show_model ? &p->model : &p->train, key))
        return SCREEN_HANDLED;
    if (scr->pane == PANE_SAMPLES) {
        if (key == KEY_UP || key == 'k' || key == KEY_WHEEL_UP) {
            p->sample_top = p->sample_top > 0 ? p->sample_top - 1 : 0;
            return SCREEN_HANDLED;
        }
        if (key == KEY_DOWN || key == 'j' || key == KEY_WHEEL_DOWN) {
            p->sample_top++;
            return SCREEN_HANDLED;
        }
    }
    if (chartview_key(&p->cv, key))
        return SCREEN_HANDLED;
    switch (key) {
    case 'g':
        if (tui_busy(t))
            tui_error(t, "training is running already (p pauses, x stops)");
        else
            start(scr, 0);
        return SCREEN_HANDLED;
    case 'p':
        if (!mine) {
            tui_msg(t, "nothing is training");
            return SCREEN_HANDLED;
        }
        tui_job_pause(t);
        tui_msg(t, "%s", tui_job_paused(t) ? "paused (p resumes)" : "resumed");
        return SCREEN_HANDLED;
    case 's':
        if (mine) {
            tui_job_save(t);
            tui_msg(t, "a checkpoint will be saved after this step");
        } else {
            tui_msg(t, "nothing is training");
        }
        return SCREEN_HANDLED;
    case 'x':
        if (mine) {
            tui_job_stop(t);
            tui_msg(t, "stopping after this step, with a checkpoint...");
        } else {
            tui_msg(t, "nothing is training");
        }
        return SCREEN_HANDLED;
    case 'm':
        p->show_model = !p->show_model;
        scr->pane = PANE_SETTINGS;
        return SCREEN_HANDLED;
    case 'n':
        if (tui_busy(t)) {
            tui_error(t, "stop the training first (x)");
            return SCREEN_HANDLED;
        }
        if (!p->have_model) {
            start(scr, 0);
            return SCREEN_HANDLED;
        }
        tui_confirm(t, "Replace the model with a new, untrained one? Its base "
                    "checkpoints are deleted.", replace_model, scr);
        return SCREEN_HANDLED;
    case 'v':
        p->which = !p->which;
        return SCREEN_HANDLED;
    }
    return SCREEN_IGNORED;
}

static void
pretrain_follow(struct screen *scr, const struct gr_args *a)
{
    struct pretrain *p = scr->state;
    if (a->cmd == p->model.cmd) {
        form_load_args(&p->model, a);
        p->show_model = 1;
    } else if (a->cmd == p->train.cmd) {
        form_load_args(&p->train, a);
        p->show_model = 0;
    }
}

const struct screen_ops pretrain_screen = {
    .name = "pretrain", .title = "Pretrain", .keys = pretrain_keys,
    .open = pretrain_open, .close = pretrain_close, .draw = pretrain_draw,
    .key = pretrain_key, .metric = pretrain_metric, .text = pretrain_text,
    .done = pretrain_done, .follow = pretrain_follow, .panes = NPANES,
};
