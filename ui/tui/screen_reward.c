/* screen_reward.c: train the reward model on the rankings, watching the
 * pairwise loss and the accuracy on training and held-out pairs, and
 * score any prompt and answer typed in ('reward score'). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/xalloc.h"
#include "chartview.h"
#include "form.h"
#include "runlog.h"
#include "screens.h"
#include "textlog.h"

enum { PANE_CHART, PANE_SETTINGS, PANE_SCORES, NPANES };

struct reward_scr {
    struct form form;
    struct chartview cv;
    struct series loss, hloss, acc, hacc;
    int which;                  /* one chart only: 0 loss, 1 accuracy */
    double step, steps, eta, margin;
    struct textlog scores;
    int scoring;                /* the job is a 'reward score' */
    char *score_prompt;         /* asked first, then the answer */
};

static const struct key_binding reward_keys[] = {
    { 'g', "train", "Train the reward model on the rankings with these settings", NULL },
    { 's', "score", "Score an answer to a prompt with the newest reward model", NULL },
    { 'p', "pause", "Pause or resume training", NULL },
    { 'x', "stop", "Stop training, keeping a checkpoint", NULL },
    { 'v', "loss/acc", "Chart: loss or accuracy (when only one fits)", NULL },
    { 'e', NULL, "Chart: smoothing on or off (l: log scale, z: zoom)", NULL },
    { 'q', "back", "Back to the stages", NULL },
    { 0 }
};

static void
clear_run(struct reward_scr *s)
{
    series_clear(&s->loss);
    series_clear(&s->hloss);
    series_clear(&s->acc);
    series_clear(&s->hacc);
    s->step = s->steps = s->eta = s->margin = NAN;
}

static void
take(struct reward_scr *s, const struct gr_metric *m)
{
    if (!strcmp(m->kind, "run")) {
        clear_run(s);
    } else if (!strcmp(m->kind, "reward")) {
        double step = metric_get(m, "step", NAN);
        if (s->loss.n && step <= s->loss.x[s->loss.n - 1])
            clear_run(s);
        series_add(&s->loss, step, metric_get(m, "loss", NAN));
        series_add(&s->acc, step, metric_get(m, "acc", NAN));
        s->step = step;
        s->steps = metric_get(m, "steps", s->steps);
        s->eta = metric_get(m, "eta", NAN);
    } else if (!strcmp(m->kind, "reward_eval")) {
        double step = metric_get(m, "step", NAN);
        series_add(&s->hloss, step, metric_get(m, "heldout_loss", NAN));
        series_add(&s->hacc, step, metric_get(m, "heldout_acc", NAN));
        s->margin = metric_get(m, "margin", NAN);
    }
}

static void
take_logged(void *ctx, const struct gr_metric *m)
{
    take(ctx, m);
}

static void
reward_open(struct screen *scr, const char *arg)
{
    (void)arg;
    struct reward_scr *s = xcalloc(1, sizeof *s);
    scr->state = s;
    static const char *const hide[] = { "score", "prompt", "explain", NULL };
    form_init(&s->form, command_find("reward"), tui_dir(scr->tui), hide);
    chartview_init(&s->cv);
    textlog_init(&s->scores, 64 << 10);
    clear_run(s);
    if (tui_workspace(scr->tui))
        runlog_read(tui_workspace(scr->tui), "reward", RUNLOG_NEWEST, take_logged, s);
}

static void
reward_close(struct screen *scr)
{
    struct reward_scr *s = scr->state;
    form_release(&s->form);
    chartview_release(&s->cv);
    series_release(&s->loss);
    series_release(&s->hloss);
    series_release(&s->acc);
    series_release(&s->hacc);
    textlog_release(&s->scores);
    free(s->score_prompt);
    free(s);
}

static void
reward_metric(struct screen *scr, const struct gr_metric *m)
{
    take(scr->state, m);
}

static void
reward_text(struct screen *scr, const char *text, size_t n)
{
    struct reward_scr *s = scr->state;
    if (s->scoring) {
        textlog_add(&s->scores, text, n);
        return;
    }
    tui_msg_line(scr->tui, text, n, 1);
}

static void
reward_done(struct screen *scr, enum gr_status rc, const char *msg)
{
    struct reward_scr *s = scr->state;
    if (s->scoring && rc != GR_OK) {
        textlog_newline(&s->scores);
        textlog_printf(&s->scores, "%s\n", msg);
    }
    s->scoring = 0;
}

static void
reward_follow(struct screen *scr, const struct gr_args *a)
{
    struct reward_scr *s = scr->state;
    form_load_args(&s->form, a);
}

static void
reward_draw(struct screen *scr, struct rect body)
{
    struct reward_scr *s = scr->state;
    struct rect r = body;
    int rightw = r.w >= 100 ? 40 : 32;
    struct rect right = rect_cut_right(&r, rightw);
    int glyphs = tui_chart_glyphs(scr->tui);

    char title[128], eta[32];
    fmt_duration(eta, sizeof eta, s->eta);
    if (isfinite(s->step))
        snprintf(title, sizeof title, "Step %.0f/%.0f, ETA %s%s", s->step, s->steps, eta,
                 r.h >= 20 ? "" : s->which ? " (v: loss)" : " (v: accuracy)");
    else
        snprintf(title, sizeof title, "Reward model training");
    struct rect cin = draw_box(r, title, scr->pane == PANE_CHART);
    struct rect c = { cin.y, cin.x + 1, cin.h, cin.w - 1 };
    static const char *const lnames[] = { "loss", "held out" };
    static const char *const anames[] = { "accuracy", "held out" };
    struct series *ls[] = { &s->loss, &s->hloss }, *as[] = { &s->acc, &s->hacc };
    if (c.h >= 18) {
        int h1 = c.h / 2;
        chartview_draw(&s->cv, (struct rect){ c.y, c.x, h1, c.w }, glyphs, lnames, ls, 2);
        chartview_draw(&s->cv, (struct rect){ c.y + h1, c.x, c.h - h1, c.w }, glyphs, anames,
                       as, 2);
    } else if (!s->which) {
        chartview_draw(&s->cv, c, glyphs, lnames, ls, 2);
    } else {
        chartview_draw(&s->cv, c, glyphs, anames, as, 2);
    }

    int formh = right.h / 2 > 6 ? right.h / 2 : 6;
    struct rect fbox = rect_cut_top(&right, formh);
    form_draw(&s->form, draw_box(fbox, "Settings", scr->pane == PANE_SETTINGS),
              scr->pane == PANE_SETTINGS);
    struct rect sin = draw_box(right, "Scores (s)", scr->pane == PANE_SCORES);
    if (!s->scores.n)
        draw_wrap((struct rect){ sin.y, sin.x + 1, sin.h, sin.w - 2 }, 0, style(ST_DIM),
                  "s asks for a prompt and an answer and shows the score the newest "
                  "reward model gives it.");
    else
        textlog_draw(&s->scores, (struct rect){ sin.y, sin.x + 1, sin.h, sin.w - 2 },
                     A_NORMAL);
}

static void
score_answer(struct tui *t, const char *text, void *arg)
{
    struct screen *scr = arg;
    struct reward_scr *s = scr->state;
    if (!*text || !s->score_prompt)
        return;
    struct gr_args *a = xcalloc(1, sizeof *a);
    struct gr_error err;
    form_args(&s->form, a);
    if (args_set(a, command_option(a->cmd, "score"), "true", &err) != GR_OK ||
        args_set(a, command_option(a->cmd, "prompt"), s->score_prompt, &err) != GR_OK ||
        args_set(a, command_option(a->cmd, "answers"), text, &err) != GR_OK) {
        tui_error(t, "%s", err.msg);
        args_release(a);
        free(a);
        return;
    }
    textlog_newline(&s->scores);
    textlog_printf(&s->scores, "> %s\n> %s\n", s->score_prompt, text);
    s->scoring = 1;
    if (tui_run(t, scr, a, 1) != 0)
        s->scoring = 0;
}

static void
score_prompt(struct tui *t, const char *text, void *arg)
{
    struct screen *scr = arg;
    struct reward_scr *s = scr->state;
    if (!*text)
        return;
    free(s->score_prompt);
    s->score_prompt = xstrdup(text);
    tui_prompt(t, "Answer to score: ", "", NULL, score_answer, scr);
}

static enum screen_result
reward_key(struct screen *scr, int key)
{
    struct reward_scr *s = scr->state;
    struct tui *t = scr->tui;
    if (scr->pane == PANE_SETTINGS && form_key(&s->form, key))
        return SCREEN_HANDLED;
    if (scr->pane == PANE_SCORES && textlog_key(&s->scores, key, 8))
        return SCREEN_HANDLED;
    if (chartview_key(&s->cv, key))
        return SCREEN_HANDLED;
    if (tui_job_keys(t, scr, key))
        return SCREEN_HANDLED;
    switch (key) {
    case 'g': {
        if (tui_busy(t)) {
            tui_error(t, "a job is running: wait for it first");
            return SCREEN_HANDLED;
        }
        struct gr_args *a = xcalloc(1, sizeof *a);
        form_args(&s->form, a);
        if (tui_run(t, scr, a, 1) == 0)
            tui_msg(t, "training the reward model...");
        return SCREEN_HANDLED;
    }
    case 's':
        if (tui_busy(t))
            tui_error(t, "a job is running: wait for it first");
        else
            tui_prompt(t, "Prompt to score an answer to: ", s->score_prompt, NULL,
                       score_prompt, scr);
        return SCREEN_HANDLED;
    case 'v':
        s->which = !s->which;
        return SCREEN_HANDLED;
    }
    return SCREEN_IGNORED;
}

const struct screen_ops reward_screen = {
    .name = "reward", .title = "Reward", .keys = reward_keys,
    .open = reward_open, .close = reward_close, .draw = reward_draw, .key = reward_key,
    .metric = reward_metric, .text = reward_text, .done = reward_done,
    .follow = reward_follow, .panes = NPANES,
};
