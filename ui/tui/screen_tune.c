/* screen_tune.c: tune the model with the reward model (PPO with a KL
 * penalty to the frozen reference), watching it live: a chart of the
 * metric chosen with 1-6 (reward, KL, entropy, clip fraction, answer
 * length, end-token rate) beside sparklines of all of them, the time
 * split between sampling, scoring and updating, a rolling table of
 *
 * recent prompts with their answers and rewards, and above it the
 * reference's and the tuned model's answers to the same prompt, side by
 * side, refreshed each iteration (tune compare=true).
 *
 * Everything comes from the job's "tune", "tune_sample" and
 * "tune_compare" records (or the last run's log).  'c' compares the
 * tuned model with its reference on held-out prompts (the registry's
 * 'eval': both answers to many prompts, their rewards, the win rate). */
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

#define NMETRIC 6
#define MAX_ROWS 64

enum { PANE_CHART, PANE_TABLE, PANE_SETTINGS, NPANES };

static const struct {
    const char *key, *name;
} metrics[NMETRIC] = {
    { "reward", "reward" }, { "kl", "KL" }, { "entropy", "entropy" },
    { "clip_frac", "clip fraction" }, { "answer_len", "answer length" },
    { "ended", "end-token rate" },
};

struct tune_row {
    double iter, reward;
    char *text;                 /* "prompt => answer" */
};

/* The newest side-by-side comparison: [0] the reference, [1] tuned. */
struct tune_cmp {
    double iter;
    char *prompt;
    char *answer[2];
    double reward[2];
};

struct tune_scr {
    struct form form;
    struct chartview cv;
    struct series s[NMETRIC];
    int which;
    double iter, iters, eta, tok_s, t_sample, t_score, t_update, kl_coef;
    struct tune_row rows[MAX_ROWS];     /* newest last */
    int nrows;
    int table_top;
    struct tune_cmp now;        /* the last iteration's two answers */
    struct textlog cmp;         /* the last comparison ('eval') */
    int show_cmp, comparing;
};

static const struct key_binding tune_keys[] = {
    { 'g', "start", "Start tuning with these settings", NULL },
    { 'p', "pause", "Pause or resume", NULL },
    { 's', "save", "Save a checkpoint after this iteration", NULL },
    { 'x', "stop", "Stop, keeping a checkpoint", NULL },
    { '1', "metric", "Chart: 1 reward, 2 KL, 3 entropy, 4 clip fraction, 5 answer "
      "length, 6 end-token rate", "1-6" },
    { 'c', "compare", "Compare the tuned model with its reference on held-out prompts: "
      "answers side by side, rewards, win rate (again: back to the table)", NULL },
    { 'e', NULL, "Chart: smoothing on or off (l: log scale, z: zoom)", NULL },
    { '\t', NULL, "Panes: the chart, the table of answers, the settings", "Tab" },
    { 'q', "back", "Back to the stages (asks before stopping the tuning)", NULL },
    { 0 }
};

static void
clear_cmp(struct tune_cmp *c)
{
    free(c->prompt);
    free(c->answer[0]);
    free(c->answer[1]);
    memset(c, 0, sizeof *c);
    c->iter = c->reward[0] = c->reward[1] = NAN;
}

/* A "tune_compare" record: "prompt => answer" of model 0 or 1. */
static void
take_cmp(struct tune_cmp *c, const struct gr_metric *m)
{
    double it = metric_get(m, "iter", NAN);
    int k = metric_get(m, "model", 0) != 0;
    if (it != c->iter)
        clear_cmp(c);
    c->iter = it;
    const char *sep = strstr(m->text, " => ");
    const char *ans = sep ? sep + 4 : m->text;
    if (!c->prompt)
        c->prompt = sep ? xstrndup(m->text, (size_t)(sep - m->text)) : xstrdup("");
    free(c->answer[k]);
    c->answer[k] = xstrdup(*ans ? ans : "(nothing)");
    c->reward[k] = metric_get(m, "reward", NAN);
}

static void
clear_run(struct tune_scr *s)
{
    for (int k = 0; k < NMETRIC; k++)
        series_clear(&s->s[k]);
    for (int i = 0; i < s->nrows; i++)
        free(s->rows[i].text);
    s->nrows = 0;
    clear_cmp(&s->now);
    s->iter = s->iters = s->eta = s->tok_s = NAN;
    s->t_sample = s->t_score = s->t_update = s->kl_coef = NAN;
}

static void
take(struct tune_scr *s, const struct gr_metric *m)
{
    if (!strcmp(m->kind, "run") && !strcmp(m->text, "tune")) {
        if (metric_get(m, "start_step", 0) == 0)
            clear_run(s);
    } else if (!strcmp(m->kind, "tune")) {
        double it = metric_get(m, "iter", NAN);
        if (s->s[0].n && it <= s->s[0].x[s->s[0].n - 1])
            clear_run(s);
        for (int k = 0; k < NMETRIC; k++)
            series_add(&s->s[k], it, metric_get(m, metrics[k].key, NAN));
        s->iter = it;
        s->iters = metric_get(m, "iters", s->iters);
        s->eta = metric_get(m, "eta", NAN);
        s->tok_s = metric_get(m, "tok_s", NAN);
        s->t_sample = metric_get(m, "t_sample", NAN);
        s->t_score = metric_get(m, "t_score", NAN);
        s->t_update = metric_get(m, "t_update", NAN);
        s->kl_coef = metric_get(m, "kl_coef", NAN);
    } else if (!strcmp(m->kind, "tune_compare")) {
        take_cmp(&s->now, m);
    } else if (!strcmp(m->kind, "tune_sample")) {
        if (s->nrows == MAX_ROWS) {
            free(s->rows[0].text);
            memmove(s->rows, s->rows + 1, (MAX_ROWS - 1) * sizeof *s->rows);
            s->nrows--;
        }
        struct tune_row *r = &s->rows[s->nrows++];
        r->iter = metric_get(m, "iter", NAN);
        r->reward = metric_get(m, "reward", NAN);
        r->text = xstrdup(m->text);
        for (char *p = r->text; *p; p++)
            if (*p == '\n' || *p == '\t')
                *p = ' ';
    }
}

static void
take_logged(void *ctx, const struct gr_metric *m)
{
    take(ctx, m);
}

static void
tune_open(struct screen *scr, const char *arg)
{
    (void)arg;
    struct tune_scr *s = xcalloc(1, sizeof *s);
    scr->state = s;
    static const char *const hide[] = { "resume", NULL };
    if (command_find("tune"))   /* else draw says it is not available */
        form_init(&s->form, command_find("tune"), tui_dir(scr->tui), hide);
    chartview_init(&s->cv);
    textlog_init(&s->cmp, 128 << 10);
    clear_run(s);
    if (tui_workspace(scr->tui))
        runlog_read(tui_workspace(scr->tui), "tune", RUNLOG_NEWEST, take_logged, s);
}

static void
tune_close(struct screen *scr)
{
    struct tune_scr *s = scr->state;
    clear_run(s);
    form_release(&s->form);
    chartview_release(&s->cv);
    textlog_release(&s->cmp);
    for (int k = 0; k < NMETRIC; k++)
        series_release(&s->s[k]);
    free(s);
}

static void
tune_metric(struct screen *scr, const struct gr_metric *m)
{
    take(scr->state, m);
}

static void
tune_text(struct screen *scr, const char *text, size_t n)
{
    struct tune_scr *s = scr->state;
    if (s->comparing) {
        textlog_add(&s->cmp, text, n);
        return;
    }
    tui_msg_line(scr->tui, text, n, 1);
}

static void
tune_follow(struct screen *scr, const struct gr_args *a)
{
    struct tune_scr *s = scr->state;
    form_load_args(&s->form, a);
}

/* ---- drawing ------------------------------------------------------------- */

/* One row of braille: the last 2*w values of s, scaled to their range. */
static void
sparkline(int y, int x, int w, const struct series *s, attr_t a)
{
    if (w <= 0 || !s->n)
        return;
    size_t n = s->n, want = (size_t)w * 2, first = n > want ? n - want : 0;
    double lo = INFINITY, hi = -INFINITY;
    for (size_t i = first; i < n; i++)
        if (isfinite(s->y[i])) {
            lo = s->y[i] < lo ? s->y[i] : lo;
            hi = s->y[i] > hi ? s->y[i] : hi;
        }
    if (!(lo <= hi))
        return;
    static const unsigned left[4] = { 0x40, 0x04, 0x02, 0x01 };  /* bottom to top */
    static const unsigned right[4] = { 0x80, 0x20, 0x10, 0x08 };
    char buf[1024];
    size_t k = 0;
    int uni = draw_utf8();
    for (size_t i = first; i < n && k + 4 < sizeof buf; i += 2) {
        unsigned bits = 0;
        for (int h = 0; h < 2 && i + (size_t)h < n; h++) {
            double v = s->y[i + (size_t)h];
            if (!isfinite(v))
                continue;
            int level = hi > lo ? (int)lround((v - lo) / (hi - lo) * 3) : 1;
            bits |= (h ? right : left)[level];
        }
        if (uni) {
            unsigned cp = 0x2800 + bits;
            buf[k++] = (char)(0xe0 | (cp >> 12));
            buf[k++] = (char)(0x80 | ((cp >> 6) & 0x3f));
            buf[k++] = (char)(0x80 | (cp & 0x3f));
        } else {
            buf[k++] = bits & 0x89 ? '\'' : bits & 0x12 ? '-' : bits & 0x24 ? '.' : '_';
        }
    }
    draw_textn(y, x, w, a, buf, k);
}

static void
draw_stats(struct screen *scr, struct rect r)
{
    struct tune_scr *s = scr->state;
    int x = r.x + 1, w = r.w - 2, y = r.y, end = r.y + r.h;
    char a[32], b[32];
    if (!isfinite(s->iter)) {
        draw_wrap((struct rect){ y, x, r.h, w }, 0, A_NORMAL,
                  "Not tuned yet. g starts: it needs a reward model, and tunes the newest "
                  "sft (else base) model.");
        return;
    }
    fmt_duration(a, sizeof a, s->eta);
    draw_textf(y++, x, w, A_BOLD, "iteration %.0f / %.0f  ETA %s", s->iter, s->iters, a);
    if (y < end)
        draw_bar(y++, x, w, s->iters > 0 ? s->iter / s->iters : 0);
    if (end - y >= NMETRIC + 3) {
        /* a row each, with its sparkline */
        for (int k = 0; k < NMETRIC && y < end; k++, y++) {
            double v = series_last(&s->s[k]);
            attr_t at = k == s->which ? A_BOLD : A_NORMAL;
            draw_textf(y, x, 16, at, "%d %-14s", k + 1, metrics[k].name);
            draw_textf(y, x + 16, 8, at, "%7.3g", v);
            sparkline(y, x + 25, w - 25, &s->s[k], style(k == s->which ? ST_SERIES1 : ST_DIM));
        }
    } else {
        /* short of rows: two to a row, the names shortened */
        static const char *const brief[NMETRIC] = { "reward", "KL", "entropy", "clip",
                                                    "length", "end" };
        int half = w / 2;
        for (int k = 0; k < NMETRIC && y < end; k++) {
            attr_t at = k == s->which ? A_BOLD : A_NORMAL;
            int cx = x + (k % 2) * half;
            draw_textf(y, cx, half - 1, at, "%d %-8s%7.3g", k + 1, brief[k],
                       series_last(&s->s[k]));
            if (k % 2)
                y++;
        }
    }
    double tot = s->t_sample + s->t_score + s->t_update;
    if (y < end && tot > 0) {
        draw_textf(y++, x, w, A_NORMAL, "sample %.0f%%  score %.0f%%  update %.0f%%",
                   100 * s->t_sample / tot, 100 * s->t_score / tot, 100 * s->t_update / tot);
        if (y < end) {
            int ws = (int)lround(w * s->t_sample / tot), wc = (int)lround(w * s->t_score / tot);
            draw_fill(y, x, ws, style(ST_SERIES1) | A_REVERSE);
            draw_fill(y, x + ws, wc, style(ST_SERIES2) | A_REVERSE);
            draw_fill(y, x + ws + wc, w - ws - wc, style(ST_SERIES3) | A_REVERSE);
            y++;
        }
    }
    fmt_count(a, sizeof a, s->tok_s);
    snprintf(b, sizeof b, "%.3g", s->kl_coef);
    if (y < end)
        draw_textf(y++, x, w, style(ST_DIM), "%s tok/s  kl_coef %s", a, b);
}

static void
draw_table(struct screen *scr, struct rect r)
{
    struct tune_scr *s = scr->state;
    if (!s->nrows) {
        draw_text(r.y, r.x + 1, r.w - 2, style(ST_DIM),
                  "Recent answers and their rewards appear here (show_every, show).");
        return;
    }
    int maxtop = s->nrows - r.h > 0 ? s->nrows - r.h : 0;
    if (s->table_top > maxtop || scr->pane != PANE_TABLE)
        s->table_top = maxtop;
    for (int k = 0; k < r.h && s->table_top + k < s->nrows; k++) {
        struct tune_row *row = &s->rows[s->table_top + k];
        int y = r.y + k;
        draw_textf(y, r.x + 1, 6, style(ST_DIM), "%5.0f", row->iter);
        draw_textf(y, r.x + 7, 8, style(row->reward >= 0 ? ST_GOOD : ST_BAD), "%+7.2f",
                   row->reward);
        draw_text(y, r.x + 16, r.w - 17, A_NORMAL, row->text);
    }
}

/* The reference's and the tuned model's answers to the same prompt, side
 * by side, with their rewards. */
static void
draw_compare(struct tune_scr *s, struct rect r)
{
    const struct tune_cmp *c = &s->now;
    char title[160];
    snprintf(title, sizeof title, "Iteration %.0f, the same prompt: %s", c->iter,
             c->prompt ? c->prompt : "");
    struct rect in = draw_box(r, title, 0);
    int colw = (in.w - 4) / 2;     /* a column, a rule between, a column */
    static const char *const who[2] = { "reference", "tuned" };
    for (int k = 0; k < 2; k++) {
        int x = in.x + 1 + k * (colw + 2);
        draw_textf(in.y, x, colw, A_BOLD, "%s", who[k]);
        draw_textf(in.y, x + (int)strlen(who[k]) + 1, colw - (int)strlen(who[k]) - 1,
                   style(c->reward[k] >= 0 ? ST_GOOD : ST_BAD), "reward %+.2f",
                   c->reward[k]);
        if (c->answer[k])
            draw_wrap((struct rect){ in.y + 1, x, in.h - 1, colw }, 0, A_NORMAL,
                      c->answer[k]);
    }
    for (int y = in.y; y < in.y + in.h; y++)
        draw_text(y, in.x + 1 + colw, 1, style(ST_DIM), draw_utf8() ? "\u2502" : "|");
}

static void
tune_draw(struct screen *scr, struct rect body)
{
    struct tune_scr *s = scr->state;
    if (!s->form.cmd) {
        struct rect in = draw_box(body, "Tune", 1);
        draw_text(in.y + 1, in.x + 1, in.w - 2, style(ST_WARN) | A_BOLD, "Not available yet.");
        draw_wrap((struct rect){ in.y + 3, in.x + 1, 3, in.w - 2 }, 0, A_NORMAL,
                  "PPO tuning (the 'tune' command) is not in this build of garage yet.");
        return;
    }
    struct rect r = body;
    int big = r.h >= 30;
    int with_cmp = s->now.prompt && scr->pane != PANE_SETTINGS && !s->show_cmp;
    int bottom_h = with_cmp ? (big ? 10 : 5) : (big ? 12 : 7);
    struct rect bottom = rect_cut_bottom(&r, bottom_h);
    if (with_cmp)
        draw_compare(s, rect_cut_bottom(&r, big ? 8 : 6));
    int rightw = r.w >= 110 ? 50 : 40;
    struct rect right = rect_cut_right(&r, rightw);
    char title[96];
    snprintf(title, sizeof title, "%s (1-6 picks)", metrics[s->which].name);
    struct rect cin = draw_box(r, title, scr->pane == PANE_CHART);
    static const char *names[1];
    names[0] = metrics[s->which].name;
    struct series *ss[] = { &s->s[s->which] };
    chartview_draw(&s->cv, (struct rect){ cin.y, cin.x + 1, cin.h, cin.w - 1 },
                   tui_chart_glyphs(scr->tui), names, ss, 1);
    draw_stats(scr, draw_box(right, "Tuning", 0));
    if (scr->pane == PANE_SETTINGS) {
        form_draw(&s->form, draw_box(bottom, "Settings", 1), 1);
    } else if (s->show_cmp) {
        struct rect in = draw_box(bottom, s->comparing ? "Tuned and reference: comparing..."
                                  : "Tuned and reference, the same prompts (c: the table)",
                                  scr->pane == PANE_TABLE);
        textlog_draw(&s->cmp, (struct rect){ in.y, in.x + 1, in.h, in.w - 2 }, A_NORMAL);
    } else {
        struct rect tin = draw_box(bottom, "Recent answers: iteration, reward, prompt => answer",
                                   scr->pane == PANE_TABLE);
        draw_table(scr, tin);
    }
}

static enum screen_result
tune_key(struct screen *scr, int key)
{
    struct tune_scr *s = scr->state;
    struct tui *t = scr->tui;
    if (!s->form.cmd)
        return SCREEN_IGNORED;
    if (scr->pane == PANE_SETTINGS && form_key(&s->form, key))
        return SCREEN_HANDLED;
    if (scr->pane == PANE_TABLE && s->show_cmp && textlog_key(&s->cmp, key, 5))
        return SCREEN_HANDLED;
    if (scr->pane == PANE_TABLE) {
        if (key == KEY_UP || key == 'k' || key == KEY_WHEEL_UP) {
            s->table_top = s->table_top > 0 ? s->table_top - 1 : 0;
            return SCREEN_HANDLED;
        }
        if (key == KEY_DOWN || key == 'j' || key == KEY_WHEEL_DOWN) {
            s->table_top++;
            return SCREEN_HANDLED;
        }
    }
    if (key >= '1' && key < '1' + NMETRIC) {
        s->which = key - '1';
        return SCREEN_HANDLED;
    }
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
        if (tui_run(t, scr, a, 1) == 0) {
            s->show_cmp = 0;
            tui_msg(t, "tuning...");
        }
        return SCREEN_HANDLED;
    }
    case 'c':
        if (s->show_cmp && !s->comparing) {
            s->show_cmp = 0;
        } else if (!command_find("eval")) {
            tui_msg(t, "the comparison (the 'eval' command) is not in this build yet");
        } else if (tui_busy(t)) {
            tui_error(t, "a job is running: wait for it first");
        } else {
            /* eval with the settings it shares with tune (answer length,
             * temperature, ...), and a few answers shown */
            struct gr_args *a = xcalloc(1, sizeof *a);
            struct gr_error err;
            args_init(a, command_find("eval"), tui_dir(t));
            for (const struct gr_option *o = a->cmd->opts; o && o->name; o++) {
                const char *v = strcmp(o->name, "prompts") ? form_get(&s->form, o->name) : NULL;
                if (v)
                    args_set(a, o, v, &err);
            }
            if (command_option(a->cmd, "show"))
                args_set(a, command_option(a->cmd, "show"), "4", &err);
            if (tui_run(t, scr, a, 1) == 0) {
                textlog_clear(&s->cmp);
                s->show_cmp = s->comparing = 1;
                scr->pane = PANE_TABLE;
            }
        }
        return SCREEN_HANDLED;
    case 's':
        if (tui_job_is(t, scr)) {
            tui_job_save(t);
            tui_msg(t, "a checkpoint will be saved after this iteration");
        }
        return SCREEN_HANDLED;
    }
    return SCREEN_IGNORED;
}

static void
tune_done(struct screen *scr, enum gr_status rc, const char *msg)
{
    struct tune_scr *s = scr->state;
    if (s->comparing && rc != GR_OK) {
        textlog_newline(&s->cmp);
        textlog_printf(&s->cmp, "%s\n", msg);
    }
    s->comparing = 0;
}

const struct screen_ops tune_screen = {
    .name = "tune", .title = "Tune", .keys = tune_keys,
    .open = tune_open, .close = tune_close, .draw = tune_draw, .key = tune_key,
    .metric = tune_metric, .text = tune_text, .done = tune_done, .follow = tune_follow,
    .panes = NPANES,
};
