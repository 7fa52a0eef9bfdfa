/* screen_session.c: 'garage run --tui FILE.yaml': the session's steps
 * run on the worker, and each step's own screen (Corpus, Tokenizer,
 * Pretrain, ...) opens on top to show it live.  This screen lists the
 * steps with their state and keeps everything the steps wrote. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app/session.h"
#include "base/xalloc.h"
#include "screens.h"
#include "textlog.h"

enum step_state { STEP_PENDING, STEP_RUNNING, STEP_DONE, STEP_FAILED };

struct session_scr {
    struct session s;
    int loaded;
    enum step_state *state;
    int cur;                    /* the step running, -1 before the first */
    struct screen *viewer;      /* the step's screen, on top of this one */
    struct textlog log;
    int finished;
    enum gr_status rc;
};

static const struct key_binding session_keys[] = {
    { 'p', "pause", "Pause or resume the session's job", NULL },
    { 'x', "stop", "Stop the session (a training step keeps a checkpoint)", NULL },
    { 'o', "open step", "Open the running step's screen again", NULL },
    { KEY_UP, NULL, "Scroll the output (also PgUp/PgDn, Home/End)", "Up/Down" },
    { 'q', "back", "Back home (asks before stopping the session)", NULL },
    { 0 }
};

static enum gr_status
run_session(struct gr_ctx *ctx, void *arg, struct gr_error *err)
{
    return session_run(arg, ctx, err);
}

/* What a session's steps get from this front end: a 'chat' step talks
 * on the Chat screen, a 'rank' step with labeler: human ranks on the
 * Rank screen. */
static void
session_prepare(struct gr_ctx *ctx, void *arg)
{
    (void)arg;
    ctx->chat_loop = tui_chat_loop;
    tui_rank_prepare(ctx);
}

static void
open_viewer(struct screen *scr)
{
    struct session_scr *ss = scr->state;
    struct tui *t = scr->tui;
    if (ss->cur < 0 || (size_t)ss->cur >= ss->s.nsteps)
        return;
    const char *name = ss->s.steps[ss->cur].cmd->name;
    const char *screen = tui_screen_for_command(name);
    if (!screen)
        return;
    tui_workspace_changed(t);
    ss->viewer = tui_push(t, screen, name);
    if (ss->viewer) {
        tui_follow(t, ss->viewer);
        if (ss->viewer->ops->follow)
            ss->viewer->ops->follow(ss->viewer, &ss->s.steps[ss->cur].args);
    }
}

/* Close the step's screen if it is the one on top. */
static void
close_viewer(struct screen *scr)
{
    struct session_scr *ss = scr->state;
    if (ss->viewer)
        tui_pop_screen(scr->tui, ss->viewer);
    ss->viewer = NULL;
}

static void
session_open(struct screen *scr, const char *arg)
{
    struct session_scr *ss = xcalloc(1, sizeof *ss);
    struct tui *t = scr->tui;
    scr->state = ss;
    ss->cur = -1;
    textlog_init(&ss->log, 256 << 10);
    struct gr_error err;
    size_t nsets;
    char *const *sets = tui_session_sets(t, &nsets);
    if (session_load(&ss->s, arg, sets, nsets, &err) != GR_OK) {
        textlog_printf(&ss->log, "garage: %s\n", err.msg);
        tui_error(t, "%s", err.msg);
        tui_set_exit(t, 1);
        return;
    }
    ss->loaded = 1;
    ss->state = xcalloc(ss->s.nsteps ? ss->s.nsteps : 1, sizeof *ss->state);
    /* the session's workspace, unless -C named one */
    if (ss->s.workspace && !tui_dir_given(t))
        tui_set_dir(t, ss->s.workspace);
    textlog_printf(&ss->log, "$ garage run %s\n", arg);
    tui_prepare_job(t, session_prepare, NULL);
    if (tui_run_fn(t, scr, run_session, &ss->s) != 0) {
        tui_set_exit(t, 1);
        return;
    }
}

static void
session_close(struct screen *scr)
{
    struct session_scr *ss = scr->state;
    if (ss->loaded)
        session_release(&ss->s);
    free(ss->state);
    textlog_release(&ss->log);
    free(ss);
}

static void
session_metric(struct screen *scr, const struct gr_metric *m)
{
    struct session_scr *ss = scr->state;
    if (!strcmp(m->kind, "note")) {
        size_t i, n;
        char name[64];
        if (sscanf(m->text, "step %zu/%zu: %63s", &i, &n, name) == 3 && i >= 1 &&
            i <= ss->s.nsteps) {
            if (ss->cur >= 0)
                ss->state[ss->cur] = STEP_DONE;
            close_viewer(scr);
            ss->cur = (int)i - 1;
            ss->state[ss->cur] = STEP_RUNNING;
            textlog_newline(&ss->log);
            textlog_printf(&ss->log, "--- step %zu of %zu: %s\n", i, n, name);
            open_viewer(scr);
            return;
        }
        textlog_newline(&ss->log);
        textlog_printf(&ss->log, "%s\n", m->text);
    } else if (!strcmp(m->kind, "eval")) {
        textlog_newline(&ss->log);
        textlog_printf(&ss->log, "eval  step %.0f  val bpb %.4f\n",
                       metric_get(m, "step", 0), metric_get(m, "val_bpb", 0));
    }
}

static void
session_text(struct screen *scr, const char *text, size_t n)
{
    struct session_scr *ss = scr->state;
    textlog_add(&ss->log, text, n);
}

static void
session_done(struct screen *scr, enum gr_status rc, const char *msg)
{
    struct session_scr *ss = scr->state;
    struct tui *t = scr->tui;
    ss->finished = 1;
    ss->rc = rc;
    if (ss->cur >= 0)
        ss->state[ss->cur] = rc == GR_OK ? STEP_DONE : STEP_FAILED;
    close_viewer(scr);
    textlog_newline(&ss->log);
    if (rc == GR_OK) {
        textlog_printf(&ss->log, "The session ran every step.\n");
        tui_msg(t, "the session ran every step (q: home)");
    } else {
        textlog_printf(&ss->log, "garage: %s\n", msg);
    }
    tui_set_exit(t, rc == GR_OK ? 0 : rc == GR_ESTOPPED ? 130 : 1);
    tui_workspace_changed(t);
}

static void
session_draw(struct screen *scr, struct rect body)
{
    struct session_scr *ss = scr->state;
    struct rect r = body;
    int listh = ss->loaded ? (int)ss->s.nsteps + 2 : 0;
    if (listh > r.h / 2)
        listh = r.h / 2;
    if (ss->loaded) {
        char title[256];
        snprintf(title, sizeof title, "Session %s", ss->s.path);
        struct rect in = draw_box(rect_cut_top(&r, listh), title, 0);
        int first = ss->cur - in.h + 2;
        if (first > (int)ss->s.nsteps - in.h)
            first = (int)ss->s.nsteps - in.h;
        if (first < 0)
            first = 0;
        for (int k = 0; k < in.h && (size_t)(first + k) < ss->s.nsteps; k++) {
            int i = first + k;
            static const char *const mark[] = { "  ", "> ", "ok", "!!" };
            static const enum style st[] = { ST_DIM, ST_WARN, ST_GOOD, ST_BAD };
            draw_text(in.y + k, in.x + 1, 3, style(st[ss->state[i]]), mark[ss->state[i]]);
            draw_textf(in.y + k, in.x + 4, in.w - 5,
                       ss->state[i] == STEP_RUNNING ? A_BOLD : A_NORMAL, "%d. %s", i + 1,
                       ss->s.steps[i].cmd->name);
        }
    }
    struct rect lin = draw_box(r, "Output", 1);
    textlog_draw(&ss->log, (struct rect){ lin.y, lin.x + 1, lin.h, lin.w - 2 }, A_NORMAL);
}

static enum screen_result
session_key(struct screen *scr, int key)
{
    struct session_scr *ss = scr->state;
    struct tui *t = scr->tui;
    if (textlog_key(&ss->log, key, LINES - 8))
        return SCREEN_HANDLED;
    if (tui_job_keys(t, scr, key))
        return SCREEN_HANDLED;
    switch (key) {
    case 'o':
        if (tui_job_is(t, scr) && !ss->viewer)
            open_viewer(scr);
        return SCREEN_HANDLED;
    }
    return SCREEN_IGNORED;
}

/* The step's screen was closed by the person: forget it. */
static void
session_tick(struct screen *scr)
{
    struct session_scr *ss = scr->state;
    if (ss->viewer && !tui_on_stack(scr->tui, ss->viewer))
        ss->viewer = NULL;
}

const struct screen_ops session_screen = {
    .name = "session", .title = "Session", .keys = session_keys,
    .open = session_open, .close = session_close, .draw = session_draw,
    .key = session_key, .metric = session_metric, .text = session_text,
    .done = session_done, .tick = session_tick,
};
