/* screen_console.c: any registry command typed at ':' runs here: its
 * text, notes, progress and end, in a scrolling view. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/xalloc.h"
#include "screens.h"
#include "textlog.h"

struct console {
    struct textlog log;
    char line[256];             /* the latest train/progress line */
    double frac;                /* progress, or NAN */
    int running;
    enum gr_status rc;
    struct screen *viewer;      /* the Chat or Rank screen the command needs */
};

/* ':chat' and ':rank' need a person: the conversation loop and the
 * labeler, on the Chat and Rank screens opened when they start. */
static void
console_prepare(struct gr_ctx *ctx, void *arg)
{
    (void)arg;
    ctx->chat_loop = tui_chat_loop;
    tui_rank_prepare(ctx);
}

static const struct key_binding console_keys[] = {
    { 'p', "pause", "Pause or resume the job", NULL },
    { 'x', "stop", "Stop the job (training keeps a checkpoint)", NULL },
    { 'r', "again", "Run the command again", NULL },
    { KEY_UP, NULL, "Scroll (also PgUp/PgDn, Home/End, the mouse wheel)", "Up/Down" },
    { 'q', "back", "Back (asks before stopping a running job)", NULL },
    { 0 }
};

static void
start(struct screen *scr)
{
    struct console *c = scr->state;
    textlog_printf(&c->log, "%s$ garage %s\n", c->log.n ? "\n" : "", scr->arg);
    c->line[0] = 0;
    c->frac = NAN;
    tui_prepare_job(scr->tui, console_prepare, NULL);
    c->running = tui_run_line(scr->tui, scr, scr->arg) == 0;
    if (!c->running)
        textlog_printf(&c->log, "(not started)\n");
}

static void
console_open(struct screen *scr, const char *arg)
{
    (void)arg;
    struct console *c = xcalloc(1, sizeof *c);
    textlog_init(&c->log, 256 << 10);
    scr->state = c;
    start(scr);
}

static void
console_close(struct screen *scr)
{
    struct console *c = scr->state;
    textlog_release(&c->log);
    free(c);
}

static void
console_metric(struct screen *scr, const struct gr_metric *m)
{
    struct console *c = scr->state;
    if ((!strcmp(m->kind, "chat_ready") || !strcmp(m->kind, "rank_query")) &&
        !(c->viewer && tui_on_stack(scr->tui, c->viewer))) {
        c->viewer = tui_push(scr->tui, m->kind[0] == 'c' ? "chat" : "rank", NULL);
        if (c->viewer) {
            tui_follow(scr->tui, c->viewer);
            struct gr_args a;
            struct gr_error err;
            if (c->viewer->ops->follow && tui_parse_line(scr->tui, scr->arg, &a, &err) == GR_OK) {
                c->viewer->ops->follow(c->viewer, &a);  /* the settings typed */
                args_release(&a);
            }
            c->viewer->ops->metric(c->viewer, m);   /* it missed this one */
        }
        return;
    }
    if (!strcmp(m->kind, "note")) {
        textlog_newline(&c->log);
        textlog_printf(&c->log, "%s\n", m->text);
    } else if (!strcmp(m->kind, "progress")) {
        double total = metric_get(m, "total", 0);
        c->frac = total > 0 ? metric_get(m, "done", 0) / total : NAN;
        const char *bar = strchr(m->text, '|');
        snprintf(c->line, sizeof c->line, "%.*s %.0f / %.0f %s",
                 bar ? (int)(bar - m->text) : (int)strlen(m->text), m->text,
                 metric_get(m, "done", 0), total, bar ? bar + 1 : "");
    } else if (!strcmp(m->kind, "eval")) {
        textlog_newline(&c->log);
        textlog_printf(&c->log, "eval  step %.0f  val loss %.4f  val bpb %.4f\n",
                       metric_get(m, "step", 0), metric_get(m, "val_loss", NAN),
                       metric_get(m, "val_bpb", NAN));
    } else if (!strcmp(m->kind, "sample")) {
        textlog_newline(&c->log);
        textlog_printf(&c->log, "sample: %s\n", m->text);
    } else if (strncmp(m->kind, "chat_", 5) && strncmp(m->kind, "rank_", 5)) {
        double steps = metric_get(m, "steps", NAN);
        double step = metric_get(m, "step", NAN);
        if (isfinite(step) && isfinite(steps) && steps > 0)
            c->frac = step / steps;
        size_t k = (size_t)snprintf(c->line, sizeof c->line, "%s", m->kind);
        for (int i = 0; i < m->n && i < 6 && k < sizeof c->line; i++)
            k += (size_t)snprintf(c->line + k, sizeof c->line - k, "  %s %.4g",
                                  m->keys[i], m->vals[i]);
    }
}

static void
console_text(struct screen *scr, const char *text, size_t n)
{
    struct console *c = scr->state;
    textlog_add(&c->log, text, n);
}

static void
console_done(struct screen *scr, enum gr_status rc, const char *msg)
{
    struct console *c = scr->state;
    c->running = 0;
    c->rc = rc;
    textlog_newline(&c->log);
    if (rc == GR_OK)
        textlog_printf(&c->log, "(done)\n");
    else
        textlog_printf(&c->log, "garage: %s\n", msg);
    tui_workspace_changed(scr->tui);
}

static void
console_draw(struct screen *scr, struct rect body)
{
    struct console *c = scr->state;
    struct rect r = body;
    if (c->running || c->line[0]) {
        struct rect top = rect_cut_top(&r, 1);
        int x = top.x + 1;
        if (isfinite(c->frac)) {
            draw_bar(top.y, x, 20, c->frac);
            x += 21;
        }
        draw_text(top.y, x, top.w - x - 1, style(ST_DIM), c->line);
    }
    struct rect in = draw_box(r, "Output", 1);
    textlog_draw(&c->log, (struct rect){ in.y, in.x + 1, in.h, in.w - 2 }, A_NORMAL);
}

static enum screen_result
console_key(struct screen *scr, int key)
{
    struct console *c = scr->state;
    struct tui *t = scr->tui;
    if (textlog_key(&c->log, key, LINES - 5))
        return SCREEN_HANDLED;
    if (tui_job_keys(t, scr, key))
        return SCREEN_HANDLED;
    switch (key) {
    case 'r':
        if (!tui_busy(t))
            start(scr);
        else
            tui_error(t, "a job is running");
        return SCREEN_HANDLED;
    }
    return SCREEN_IGNORED;
}

const struct screen_ops console_screen = {
    .name = "console", .title = "Command", .keys = console_keys,
    .open = console_open, .close = console_close, .draw = console_draw,
    .key = console_key, .metric = console_metric, .text = console_text,
    .done = console_done,
};
