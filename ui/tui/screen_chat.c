/* screen_chat.c: talk to the model.  A scrolling transcript, an input
 * line with editing and history, the answer streaming in token by token,
 * and the sampling settings in a side panel (applied from the next
 * message on).  Slash commands (/temp, /reset, /save, /model, ...) are
 * the engine's own (stages/chat.h).
 *
 * The registry's 'chat' command runs on the worker with ctx->chat_loop
 * set to tui_chat_loop, which waits for the person's messages on a
 * channel and answers each through the engine; its text streams back
 * like any job's.  A session's 'chat' step runs the same loop, with
 * this screen opened on top to hold the conversation. */
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "app/job.h"
#include "base/xalloc.h"
#include "stages/chat.h"
#include "stages/common.h"
#include "form.h"
#include "input.h"
#include "list.h"
#include "screens.h"

/* ---- the channel between this screen and the loop on the worker ------- */

struct chat_link {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    char *msg;                  /* a message to answer (owned), or NULL */
    struct chat_opts o;         /* settings to answer it with (not the seed) */
    int has_seed;               /* o.seed was given: restart from it if new */
    char *checkpoint;           /* switch to this first (owned), or NULL */
    int quit;                   /* end the conversation */
    atomic_int stop_answer;     /* cut the answer being generated */
};

static struct chat_link link = {
    .mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER,
};

static int
on_token(void *ud, const char *bytes, size_t n)
{
    struct gr_ctx *ctx = ud;
    ctx_write(ctx, bytes, n);
    return atomic_load(&link.stop_answer) ||
           (ctx->job && atomic_load(&ctx->job->stop));
}

static void
emit_ready(struct gr_ctx *ctx, const struct chat *c)
{
    struct gr_metric m;
    metric_begin(&m, "chat_ready");
    metric_add(&m, "step", (double)c->meta.step);
    metric_add(&m, "context", c->model.cfg.T);
    metric_text(&m, "%s", c->ckpt ? c->ckpt : "");
    metrics_emit(ctx->metrics, &m);
}

enum gr_status
tui_chat_loop(struct gr_ctx *ctx, struct chat *c, struct gr_error *err)
{
    (void)err;
    pthread_mutex_lock(&link.mu);
    link.quit = 0;
    free(link.msg);
    link.msg = NULL;
    pthread_mutex_unlock(&link.mu);
    emit_ready(ctx, c);
    enum gr_status rc = GR_OK;
    for (;;) {
        pthread_mutex_lock(&link.mu);
        while (!link.msg && !link.quit && !(ctx->job && atomic_load(&ctx->job->stop))) {
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            ts.tv_nsec += 100 * 1000 * 1000;
            if (ts.tv_nsec >= 1000000000L) {
                ts.tv_sec++;
                ts.tv_nsec -= 1000000000L;
            }
            pthread_cond_timedwait(&link.cv, &link.mu, &ts);
        }
        if (link.quit || (ctx->job && atomic_load(&ctx->job->stop))) {
            pthread_mutex_unlock(&link.mu);
            break;
        }
        char *msg = link.msg, *ckpt = link.checkpoint;
        struct chat_opts o = link.o;
        int has_seed = link.has_seed;
        link.msg = NULL;
        link.checkpoint = NULL;
        atomic_store(&link.stop_answer, 0);
        pthread_mutex_unlock(&link.mu);

        struct gr_error e;
        gr_error_clear(&e);
        if (ckpt) {
            if (chat_load(c, ckpt, &e) == GR_OK) {
                metrics_note(ctx->metrics, "now talking to %s", c->ckpt);
                emit_ready(ctx, c);
            } else {
                metrics_note(ctx->metrics, "%s", e.msg);
            }
            free(ckpt);
        }
        if (has_seed && o.seed != c->o.seed)
            chat_seed(c, o.seed);
        else
            o.seed = c->o.seed;
        c->o = o;
        struct gr_metric m;
        metric_begin(&m, "chat_reply");
        if (msg[0] == '/') {
            char *reply = NULL;
            int quit = 0;
            /* the reply goes as text (it may be long): the screen
             * knows a command is pending and shows it as a note */
            if (chat_slash(c, msg, &reply, &quit, &e) != GR_OK)
                ctx_printf(ctx, "%s", e.msg);
            else if (reply)
                ctx_printf(ctx, "%s", reply);
            metric_add(&m, "slash", 1);
            metric_add(&m, "quit", quit);
            metric_add(&m, "temperature", c->o.so.temperature);
            metric_add(&m, "top_k", c->o.so.top_k);
            metric_add(&m, "top_p", c->o.so.top_p);
            metric_add(&m, "max_tokens", c->o.max_tokens);
            free(reply);
            free(msg);
            metrics_emit(ctx->metrics, &m);
            if (quit)
                break;
            continue;
        }
        struct chat_reply_info info = { 0 };
        rc = chat_reply(c, msg, on_token, ctx, &info, &e);
        free(msg);
        if (rc != GR_OK) {
            metric_text(&m, "%s", e.msg);
            rc = GR_OK;                 /* the conversation goes on */
        }
        metric_add(&m, "tokens", info.ntokens);
        metric_add(&m, "seconds", info.seconds);
        metric_add(&m, "dropped", (double)info.dropped);
        metric_add(&m, "ended", info.ended);
        metric_add(&m, "stopped", info.stopped);
        metric_add(&m, "cut", info.cut);
        metric_add(&m, "prompt_cut", info.prompt_cut);
        metrics_emit(ctx->metrics, &m);
        if (ctx->job && atomic_load(&ctx->job->stop))
            break;
    }
    return rc;
}

void
tui_chat_quit(void)
{
    pthread_mutex_lock(&link.mu);
    link.quit = 1;
    atomic_store(&link.stop_answer, 1);
    pthread_cond_signal(&link.cv);
    pthread_mutex_unlock(&link.mu);
}

static void
prepare(struct gr_ctx *ctx, void *arg)
{
    (void)arg;
    ctx->chat_loop = tui_chat_loop;
}

/* ---- the screen ---------------------------------------------------------- */

enum role { ROLE_YOU, ROLE_MODEL, ROLE_NOTE };

struct turn {
    enum role role;
    char *text;
    size_t len, cap;
};

enum { PANE_INPUT, PANE_SETTINGS, NPANES };

struct chat_scr {
    struct form form;
    struct input in;
    struct turn *turns;
    size_t nturns, cap;
    int top, follow;            /* transcript scrolling (lines) */
    int ready;                  /* the model is loaded: messages can go */
    int answering;
    int slash;                  /* a /command is pending: its text is a note */
    int sent_max;               /* max_tokens of the last message */
    int attached;               /* a session's step, not our own job */
    int leaving;
    char model[512];            /* checkpoint talked to */
    double model_step;
    char info[160];             /* about the last answer */
    char *applied_ckpt;         /* the checkpoint setting last sent */
};

static const struct key_binding chat_keys[] = {
    { '\n', "send", "Send the message (or a /command: /help lists them)", "Enter" },
    { KEY_ESC, "stop/back", "Stop the answer being written; otherwise leave the chat", "Esc" },
    { KEY_UP, NULL, "The previous message you sent (Down: the next)", "Up" },
    { KEY_PPAGE, NULL, "Scroll the transcript (also the mouse wheel)", "PgUp/PgDn" },
    { '\t', "settings", "Move to the sampling settings and back", "Tab" },
    { KEY_F(1), NULL, "This help", "F1" },
    { 0 }
};

static struct turn *
add_turn(struct chat_scr *s, enum role role, const char *text)
{
    if (s->nturns == s->cap) {
        s->cap = s->cap ? s->cap * 2 : 16;
        s->turns = xrealloc(s->turns, s->cap * sizeof *s->turns);
    }
    struct turn *t = &s->turns[s->nturns++];
    t->role = role;
    t->len = strlen(text);
    t->cap = t->len + 64;
    t->text = xmalloc(t->cap);
    memcpy(t->text, text, t->len + 1);
    s->follow = 1;
    return t;
}

static void
append(struct turn *t, const char *text, size_t n)
{
    if (t->len + n + 1 > t->cap) {
        t->cap = (t->len + n + 1) * 2;
        t->text = xrealloc(t->text, t->cap);
    }
    memcpy(t->text + t->len, text, n);
    t->len += n;
    t->text[t->len] = 0;
}

static void
start(struct screen *scr)
{
    struct chat_scr *s = scr->state;
    struct gr_args *a = xcalloc(1, sizeof *a);
    form_args(&s->form, a);
    tui_prepare_job(scr->tui, prepare, NULL);
    if (tui_run(scr->tui, scr, a, 1) == 0)
        tui_msg(scr->tui, "loading the model...");
}

static void
chatscr_open(struct screen *scr, const char *arg)
{
    (void)arg;
    struct chat_scr *s = xcalloc(1, sizeof *s);
    scr->state = s;
    static const char *const hide[] = { "prompt", NULL };
    form_init(&s->form, command_find("chat"), tui_dir(scr->tui), hide);
    input_init(&s->in);
    s->follow = 1;
    scr->typing = 1;
    if (tui_busy(scr->tui))
        s->attached = 1;        /* a session's step: it runs the loop */
    else
        start(scr);
}

static void
chatscr_close(struct screen *scr)
{
    struct chat_scr *s = scr->state;
    for (size_t i = 0; i < s->nturns; i++)
        free(s->turns[i].text);
    free(s->turns);
    form_release(&s->form);
    input_release(&s->in);
    free(s->applied_ckpt);
    free(s);
}

static void
chat_follow(struct screen *scr, const struct gr_args *a)
{
    struct chat_scr *s = scr->state;
    form_load_args(&s->form, a);
    s->attached = 1;
}

static void
chat_metric(struct screen *scr, const struct gr_metric *m)
{
    struct chat_scr *s = scr->state;
    if (!strcmp(m->kind, "chat_ready")) {
        s->ready = 1;
        snprintf(s->model, sizeof s->model, "%s", m->text);
        s->model_step = metric_get(m, "step", 0);
        tui_msg(scr->tui, "talking to %s: type a message, Enter sends", m->text);
    } else if (!strcmp(m->kind, "chat_reply")) {
        s->answering = 0;
        if (metric_get(m, "slash", 0)) {
            s->slash = 0;
            if (metric_get(m, "quit", 0)) {
                s->leaving = 1;
                if (!s->attached)
                    tui_close_when_done(scr->tui);
            }
            /* settings the command changed, back into the panel */
            char buf[32];
            struct gr_error e;
            snprintf(buf, sizeof buf, "%g", metric_get(m, "temperature", 0));
            form_set(&s->form, "temperature", buf, &e);
            snprintf(buf, sizeof buf, "%.0f", metric_get(m, "top_k", 0));
            form_set(&s->form, "top_k", buf, &e);
            snprintf(buf, sizeof buf, "%g", metric_get(m, "top_p", 0));
            form_set(&s->form, "top_p", buf, &e);
            snprintf(buf, sizeof buf, "%.0f", metric_get(m, "max_tokens", 0));
            form_set(&s->form, "max_tokens", buf, &e);
            return;
        }
        if (m->text[0])
            add_turn(s, ROLE_NOTE, m->text);
        else if (!s->nturns || s->turns[s->nturns - 1].role != ROLE_MODEL)
            add_turn(s, ROLE_MODEL, "(nothing: the model ended its answer at once)");
        double tok = metric_get(m, "tokens", 0), sec = metric_get(m, "seconds", 0);
        size_t k = (size_t)snprintf(s->info, sizeof s->info, "%.0f tokens, %.1f s (%.0f tok/s)",
                                    tok, sec, sec > 0 ? tok / sec : 0);
        if (metric_get(m, "stopped", 0))
            k += (size_t)snprintf(s->info + k, sizeof s->info - k, "; stopped");
        else if (metric_get(m, "cut", 0))
            k += (size_t)snprintf(s->info + k, sizeof s->info - k, "; the context is full");
        else if (tok >= s->sent_max)
            k += (size_t)snprintf(s->info + k, sizeof s->info - k, "; max_tokens reached");
        if (metric_get(m, "dropped", 0) > 0 && k < sizeof s->info)
            snprintf(s->info + k, sizeof s->info - k, "; %.0f old turns left the context",
                     metric_get(m, "dropped", 0));
    } else if (!strcmp(m->kind, "note")) {
        add_turn(s, ROLE_NOTE, m->text);
    }
}

static void
chat_text(struct screen *scr, const char *text, size_t n)
{
    struct chat_scr *s = scr->state;
    enum role want = s->slash ? ROLE_NOTE : ROLE_MODEL;
    if (!s->nturns || s->turns[s->nturns - 1].role != want ||
        (want == ROLE_NOTE && s->slash == 1)) {
        add_turn(s, want, "");
        if (s->slash)
            s->slash = 2;       /* one note per command */
    }
    append(&s->turns[s->nturns - 1], text, n);
}

static void
chat_done(struct screen *scr, enum gr_status rc, const char *msg)
{
    struct chat_scr *s = scr->state;
    s->ready = 0;
    s->answering = 0;
    if (rc != GR_OK && rc != GR_ESTOPPED)
        add_turn(s, ROLE_NOTE, msg);
}

/* ---- drawing ------------------------------------------------------------- */

static const char *
role_name(enum role r)
{
    return r == ROLE_YOU ? "You" : r == ROLE_MODEL ? "Model" : "";
}

/* Lines the transcript takes at width w, or draws them (r.h > 0) from
 * line skip on. */
static int
transcript(struct chat_scr *s, struct rect r, int skip)
{
    int line = 0;
    for (size_t i = 0; i < s->nturns; i++) {
        struct turn *t = &s->turns[i];
        const char *text = t->text;
        while (t->role == ROLE_MODEL && *text == ' ')
            text++;
        if (t->role != ROLE_NOTE) {
            if (r.h && line >= skip && line - skip < r.h)
                draw_text(r.y + line - skip, r.x, r.w,
                          style(t->role == ROLE_YOU ? ST_KEY : ST_GOOD), role_name(t->role));
            line++;
        }
        attr_t a = t->role == ROLE_NOTE ? style(ST_DIM) : A_NORMAL;
        struct rect tr = { r.y + line - skip, r.x + 2, 0, r.w - 2 };
        int n = draw_wrap(tr, 0, a, *text ? text : (t->role == ROLE_MODEL ? "..." : ""));
        if (r.h) {
            /* the visible part of these n lines */
            int first = skip - line > 0 ? skip - line : 0;
            int y = r.y + line + first - skip;
            int h = r.y + r.h - y;
            if (h > 0 && first < n)
                draw_wrap((struct rect){ y, r.x + 2, h, r.w - 2 }, first, a,
                          *text ? text : (t->role == ROLE_MODEL ? "..." : ""));
        }
        line += n + 1;
    }
    return line;
}

static void
chat_draw(struct screen *scr, struct rect body)
{
    struct chat_scr *s = scr->state;
    struct rect r = body;
    int sidew = r.w >= 100 ? 36 : 30;
    struct rect side = rect_cut_right(&r, sidew);
    struct rect inbox = rect_cut_bottom(&r, 3);
    char title[600];
    if (s->model[0]) {
        const char *base = strrchr(s->model, '/');
        snprintf(title, sizeof title, "Chat with %s", base ? base + 1 : s->model);
    } else {
        snprintf(title, sizeof title, "Chat");
    }
    struct rect tin = draw_box(r, title, 0);
    struct rect tr = { tin.y, tin.x + 1, tin.h, tin.w - 2 };
    int total = transcript(s, (struct rect){ tr.y, tr.x, 0, tr.w }, 0);
    int max = total - tr.h > 0 ? total - tr.h : 0;
    if (s->follow || s->top > max)
        s->top = max;
    if (s->top >= max)
        s->follow = 1;
    if (!s->nturns)
        draw_wrap(tr, 0, style(ST_DIM), s->ready
                  ? "Say something. The model answers with what it learned: a base model "
                    "continues text, a fine-tuned one answers. /help lists the commands."
                  : "Loading the model...");
    else
        transcript(s, tr, s->top);

    const char *label = s->answering ? "Answering... (Esc stops)" : s->ready ? "Message"
                        : "Message (the model is not loaded)";
    struct rect iin = draw_box(inbox, label, scr->pane == PANE_INPUT);
    input_draw(&s->in, iin.y, iin.x + 1, iin.w - 2, A_NORMAL, scr->pane == PANE_INPUT);

    struct rect sin = draw_box(side, "Sampling (Tab)", scr->pane == PANE_SETTINGS);
    int info_h = s->info[0] || s->model[0] ? 3 : 0;
    struct rect fr = { sin.y, sin.x, sin.h - info_h, sin.w };
    form_draw(&s->form, fr, scr->pane == PANE_SETTINGS);
    if (info_h && sin.h > info_h + 3) {
        char buf[256];
        snprintf(buf, sizeof buf, "%s%s", s->model_step > 0 ? "" : "untrained model. ",
                 s->info);
        draw_wrap((struct rect){ sin.y + sin.h - info_h, sin.x + 1, info_h, sin.w - 2 }, 0,
                  style(ST_DIM), buf);
    }
}

/* ---- keys ------------------------------------------------------------------ */

static void
send(struct screen *scr)
{
    struct chat_scr *s = scr->state;
    struct tui *t = scr->tui;
    const char *text = s->in.buf;
    if (!*text)
        return;
    if (!s->ready) {
        tui_error(t, "the model is not loaded%s", tui_busy(t) ? " yet" : " (see the messages)");
        return;
    }
    if (s->answering) {
        tui_msg(t, "the model is still answering (Esc stops it)");
        return;
    }
    struct gr_args a;
    form_args(&s->form, &a);
    struct chat_opts o = {
        .so = {
            .temperature = (float)args_float(&a, "temperature"),
            .top_k = (int)args_int(&a, "top_k"),
            .top_p = (float)args_float(&a, "top_p"),
            .repetition_penalty = (float)args_float(&a, "repetition_penalty"),
        },
        .max_tokens = (int)args_int(&a, "max_tokens"),
        .seed = 0,
        .precision = stage_gen_precision(args_str(&a, "precision")),
    };
    const char *ck = args_str(&a, "checkpoint");
    pthread_mutex_lock(&link.mu);
    link.has_seed = args_has(&a, "seed");
    o.seed = link.has_seed ? (uint64_t)args_int(&a, "seed") : 0;
    free(link.checkpoint);
    link.checkpoint = NULL;
    if (ck && (!s->applied_ckpt || strcmp(ck, s->applied_ckpt) != 0)) {
        link.checkpoint = xstrdup(ck);
        free(s->applied_ckpt);
        s->applied_ckpt = xstrdup(ck);
    }
    link.o = o;
    free(link.msg);
    link.msg = xstrdup(text);
    atomic_store(&link.stop_answer, 0);
    pthread_cond_signal(&link.cv);
    pthread_mutex_unlock(&link.mu);
    args_release(&a);
    if (text[0] != '/')
        add_turn(s, ROLE_YOU, text);
    else
        s->slash = 1;
    s->sent_max = o.max_tokens;
    input_history_add(&s->in, text);
    input_set(&s->in, "");
    s->answering = 1;
    s->info[0] = 0;
}

static void
leave(struct screen *scr)
{
    struct chat_scr *s = scr->state;
    struct tui *t = scr->tui;
    if (tui_job_is(t, scr) && !s->attached) {
        tui_chat_quit();
        tui_close_when_done(t);
    } else if (s->attached && tui_busy(t)) {
        tui_chat_quit();        /* the session goes on with its next step */
    }
}

static enum screen_result
chat_key(struct screen *scr, int key)
{
    struct chat_scr *s = scr->state;
    struct tui *t = scr->tui;
    scr->typing = scr->pane == PANE_INPUT;
    if (key == '\t' || key == KEY_BTAB) {
        scr->pane = (scr->pane + 1) % NPANES;
        scr->typing = scr->pane == PANE_INPUT;
        return SCREEN_HANDLED;
    }
    switch (key) {
    case KEY_PPAGE: case KEY_WHEEL_UP:
        s->top -= key == KEY_PPAGE ? LINES / 2 : 3;
        if (s->top < 0)
            s->top = 0;
        s->follow = 0;
        return SCREEN_HANDLED;
    case KEY_NPAGE: case KEY_WHEEL_DOWN:
        s->top += key == KEY_NPAGE ? LINES / 2 : 3;
        return SCREEN_HANDLED;
    case KEY_CTRL('c'):
        if (!s->answering)
            return SCREEN_IGNORED;
        atomic_store(&link.stop_answer, 1);
        tui_msg(t, "stopping the answer");
        return SCREEN_HANDLED;
    case KEY_CTRL('d'):
        if (scr->pane != PANE_INPUT || s->in.len)
            break;
        leave(scr);
        return !tui_job_is(t, scr) || s->attached ? SCREEN_CLOSE : SCREEN_HANDLED;
    case KEY_ESC:
        if (s->answering) {
            atomic_store(&link.stop_answer, 1);
            tui_msg(t, "stopping the answer");
            return SCREEN_HANDLED;
        }
        if (scr->pane == PANE_SETTINGS && s->form.editing)
            break;
        leave(scr);
        if (!tui_job_is(t, scr) || s->attached)
            return SCREEN_CLOSE;
        return SCREEN_HANDLED;
    }
    if (scr->pane == PANE_SETTINGS) {
        if (form_key(&s->form, key))
            return SCREEN_HANDLED;
        if (key == 'q') {
            leave(scr);
            return !tui_job_is(t, scr) || s->attached ? SCREEN_CLOSE : SCREEN_HANDLED;
        }
        return SCREEN_IGNORED;
    }
    enum input_event ev = input_key(&s->in, key);
    if (ev == INPUT_SUBMIT) {
        send(scr);
        return SCREEN_HANDLED;
    }
    if (ev == INPUT_EDITED)
        return SCREEN_HANDLED;
    if (key == 'g' && !tui_busy(t) && !s->ready) {
        start(scr);
        return SCREEN_HANDLED;
    }
    return key_char(key) ? SCREEN_HANDLED : SCREEN_IGNORED;
}

static void
chat_tick(struct screen *scr)
{
    struct chat_scr *s = scr->state;
    if (s->leaving) {
        s->leaving = 0;
        leave(scr);
    }
}

const struct screen_ops chat_screen = {
    .name = "chat", .title = "Chat", .keys = chat_keys,
    .open = chatscr_open, .close = chatscr_close, .draw = chat_draw, .key = chat_key,
    .metric = chat_metric, .text = chat_text, .done = chat_done,
    .tick = chat_tick, .follow = chat_follow, .panes = NPANES,
};
