/* app.c: the curses application's event loop (see tui.h).
 *
 * One thread owns the terminal.  Each turn of the loop: take what the
 * worker produced (records, text, its end) and hand it to the screen
 * that started the job; tick the top screen; draw when something
 * changed (at most every 100 ms while a job streams records, at once
 * after a key); then wait up to 50 ms for a key.  So keys are answered
 * within 100 ms and charts move several times a second.
 *
 * The terminal is given back on every way out: quit, Ctrl-C (twice while
 * a job runs), SIGTERM/SIGHUP (the job is stopped and saved first), a
 * fatal error, and SIGSEGV/SIGBUS/SIGFPE/SIGILL/SIGABRT. */
#include "tui.h"

#include <errno.h>
#include <locale.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#ifdef __SANITIZE_ADDRESS__
#include <sanitizer/common_interface_defs.h>
#endif

#include "app/complete.h"
#include "app/job.h"
#include "app/session.h"
#include "base/fsio.h"
#include "base/xalloc.h"
#include "chart.h"
#include "input.h"
#include "list.h"
#include "screens.h"
#include "worker.h"

#define MAX_DEPTH 16

enum modal { MODAL_NONE, MODAL_HELP, MODAL_CONFIRM, MODAL_PROMPT };

struct tui {
    char *dir;                  /* -C DIR or "." */
    int dir_given;              /* -C was given */
    int have_ws;
    struct screen *stack[MAX_DEPTH];
    int depth;
    struct worker worker;
    struct screen *owner;       /* started the job */
    struct screen *viewer;      /* follows the job too (a session's step) */
    int close_when_done;        /* pop the owner when its job ends */
    int quit_when_done;
    int quit;
    int stop_sent;              /* a stop was requested: Ctrl-C again quits */
    double quit_deadline;
    /* message line */
    char msg[512];
    int msg_err;
    /* the job's progress, for the header */
    char prog_what[64];
    double prog_done, prog_total;
    /* modals */
    enum modal modal;
    struct scroll help_scroll;
    char question[256];
    void (*yes)(struct tui *t, void *arg);
    void *yes_arg;
    struct input prompt;
    char prompt_label[64];
    void (*submit)(struct tui *t, const char *text, void *arg);
    void *submit_arg;
    void (*watch)(struct input *in, void *arg);
    char **cmd_history;
    size_t ncmd_history;
    int dirty;
    int glyphs;
    double last_tick, last_draw;
    int curses_on;
    int exit_code;
    char *session;              /* garage run --tui FILE */
    char *const *sets;
    size_t nsets;
};

static struct tui *the_tui;
static volatile sig_atomic_t got_int, got_term;
static volatile sig_atomic_t curses_active;

static double
now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* ---- the terminal: always given back ------------------------------------ */

static void
restore_terminal(void)
{
    if (curses_active) {
        curses_active = 0;
        endwin();
    }
}

static void
on_crash(int sig)
{
    restore_terminal();
    static const char msg[] = "garage: crashed; the terminal was restored\n";
    ssize_t w = write(STDERR_FILENO, msg, sizeof msg - 1);
    (void)w;
    signal(sig, SIG_DFL);
    raise(sig);
}

static void
on_int(int sig)
{
    (void)sig;
    got_int = 1;
}

static void
on_term(int sig)
{
    (void)sig;
    got_term++;
    if (got_term >= 3) {            /* asked three times: go now */
        restore_terminal();
        _exit(143);
    }
}

static void
install_signals(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sigemptyset(&sa.sa_mask);
    sa.sa_handler = on_int;
    sigaction(SIGINT, &sa, NULL);
    sa.sa_handler = on_term;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
#ifdef __SANITIZE_ADDRESS__
    /* A sanitizer's report ends the process its own way. */
    __sanitizer_set_death_callback(restore_terminal);
#endif
    /* Crashes: only where nobody (a sanitizer) handles them already. */
    static const int crash[] = { SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT };
    for (size_t i = 0; i < sizeof crash / sizeof crash[0]; i++) {
        struct sigaction old;
        if (sigaction(crash[i], NULL, &old) == 0 && old.sa_handler == SIG_DFL &&
            !(old.sa_flags & SA_SIGINFO)) {
            sa.sa_handler = on_crash;
            sa.sa_flags = SA_RESETHAND;
            sigaction(crash[i], &sa, NULL);
        }
    }
}

/* A fatal error: give the terminal back, then say what happened. */
static void __attribute__((noreturn))
fatal(const char *fmt, ...)
{
    restore_terminal();
    va_list ap;
    va_start(ap, fmt);
    fputs("garage: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    exit(EXIT_FAILURE);
}

/* ---- screens ------------------------------------------------------------ */

static const struct screen_ops *const all_screens[] = {
    &home_screen, &corpus_screen, &tokenizer_screen, &pretrain_screen,
    &console_screen, &stage_screen, &session_screen, &chat_screen, &rank_screen,
    &sft_screen, &reward_screen, &tune_screen, NULL
};

static const struct screen_ops *
find_screen(const char *name)
{
    for (const struct screen_ops *const *s = all_screens; *s; s++)
        if (strcmp((*s)->name, name) == 0)
            return *s;
    return NULL;
}

const char *
tui_screen_for_command(const char *cmd)
{
    static const char *const map[][2] = {
        { "corpus", "corpus" }, { "tokenizer", "tokenizer" },
        { "model", "pretrain" }, { "pretrain", "pretrain" }, { "chat", "chat" },
        { "sft", "sft" }, { "demos", "sft" }, { "reward", "reward" }, { "tune", "tune" },
        { "rank", "rank" },
        { NULL, NULL }
    };
    for (int i = 0; map[i][0]; i++)
        if (strcmp(map[i][0], cmd) == 0)
            return map[i][1];
    return NULL;
}

struct screen *
tui_push(struct tui *t, const char *name, const char *arg)
{
    const struct screen_ops *ops = find_screen(name);
    if (!ops || t->depth >= MAX_DEPTH)
        return NULL;
    struct screen *scr = xcalloc(1, sizeof *scr);
    scr->ops = ops;
    scr->tui = t;
    scr->arg = arg ? xstrdup(arg) : NULL;
    t->stack[t->depth++] = scr;
    if (ops->open)
        ops->open(scr, arg);
    if (ops->tick)
        ops->tick(scr);
    t->dirty = 1;
    return scr;
}

static void
pop(struct tui *t)
{
    if (t->depth == 0)
        return;
    struct screen *scr = t->stack[--t->depth];
    if (t->owner == scr)
        t->owner = NULL;        /* its job (if any) finishes unattended */
    if (t->viewer == scr)
        t->viewer = NULL;
    if (scr->ops->close)
        scr->ops->close(scr);
    free(scr->arg);
    free(scr);
    if (t->depth) {
        struct screen *top = t->stack[t->depth - 1];
        if (top->ops->tick)
            top->ops->tick(top);
    }
    t->dirty = 1;
}

static struct screen *
top(struct tui *t)
{
    return t->depth ? t->stack[t->depth - 1] : NULL;
}

/* ---- for screens ---------------------------------------------------------- */

const char *
tui_workspace(struct tui *t)
{
    return t->have_ws ? t->dir : NULL;
}

const char *
tui_dir(struct tui *t)
{
    return t->dir;
}

void
tui_workspace_changed(struct tui *t)
{
    char *yaml = fs_join(t->dir, "garage.yaml");
    t->have_ws = fs_exists(yaml);
    free(yaml);
    t->dirty = 1;
}

void
tui_set_dir(struct tui *t, const char *dir)
{
    free(t->dir);
    t->dir = xstrdup(dir);
    t->dir_given = 1;
    tui_workspace_changed(t);
}

int
tui_dir_given(struct tui *t)
{
    return t->dir_given;
}

int
tui_on_stack(struct tui *t, struct screen *scr)
{
    for (int i = 0; i < t->depth; i++)
        if (t->stack[i] == scr)
            return 1;
    return 0;
}

void
tui_pop_screen(struct tui *t, struct screen *scr)
{
    if (!tui_on_stack(t, scr))
        return;
    while (t->depth > 0 && t->stack[t->depth - 1] != scr)
        pop(t);
    pop(t);
}

static void
vmsg(struct tui *t, int err, const char *fmt, va_list ap)
{
    vsnprintf(t->msg, sizeof t->msg, fmt, ap);
    for (char *p = t->msg; *p; p++)
        if (*p == '\n')
            *p = ' ';
    t->msg_err = err;
    t->dirty = 1;
}

void
tui_msg(struct tui *t, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vmsg(t, 0, fmt, ap);
    va_end(ap);
}

int
tui_job_keys(struct tui *t, struct screen *scr, int key)
{
    if (key != 'p' && key != 'x')
        return 0;
    if (tui_job_is(t, scr)) {
        if (key == 'p')
            tui_job_pause(t);
        else
            tui_job_stop(t);
    }
    return 1;
}

void
tui_msg_line(struct tui *t, const char *text, size_t n, int last)
{
    char *s = xstrndup(text, n);
    char *end = s + strlen(s);
    while (end > s && end[-1] == '\n')
        *--end = 0;
    char *line = s;
    if (last) {
        char *nl = strrchr(s, '\n');
        line = nl ? nl + 1 : s;
    } else if ((end = strchr(s, '\n'))) {
        *end = 0;
    }
    if (*line)
        tui_msg(t, "%s", line);
    free(s);
}

void
tui_error(struct tui *t, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vmsg(t, 1, fmt, ap);
    va_end(ap);
    if (t->curses_on)
        beep();
}

void
tui_dirty(struct tui *t)
{
    t->dirty = 1;
}

int
tui_chart_glyphs(struct tui *t)
{
    return t->glyphs;
}

int
tui_busy(struct tui *t)
{
    return worker_busy(&t->worker);
}

int
tui_job_is(struct tui *t, struct screen *scr)
{
    return worker_busy(&t->worker) && (t->owner == scr || t->viewer == scr);
}

void
tui_job_pause(struct tui *t)
{
    if (worker_busy(&t->worker))
        job_toggle_pause(&t->worker.job);
}

int
tui_job_paused(struct tui *t)
{
    return worker_busy(&t->worker) && atomic_load(&t->worker.job.pause);
}

void
tui_job_save(struct tui *t)
{
    if (worker_busy(&t->worker))
        job_request_save(&t->worker.job);
}

void
tui_job_stop(struct tui *t)
{
    if (!worker_busy(&t->worker))
        return;
    job_request_stop(&t->worker.job);
    t->stop_sent = 1;
    t->dirty = 1;
}

int
tui_run(struct tui *t, struct screen *scr, struct gr_args *steps, size_t nsteps)
{
    if (worker_busy(&t->worker)) {
        for (size_t i = 0; i < nsteps; i++)
            args_release(&steps[i]);
        free(steps);
        t->worker.prepare = NULL;
        tui_error(t, "a job is running ('%s'): wait for it, or stop it first",
                  worker_label(&t->worker));
        return -1;
    }
    t->prog_what[0] = 0;
    t->prog_done = t->prog_total = 0;
    t->stop_sent = 0;
    t->close_when_done = 0;
    if (worker_start(&t->worker, t->dir, steps, nsteps) != 0) {
        tui_error(t, "cannot start a thread for the job");
        return -1;
    }
    t->owner = scr;
    t->viewer = NULL;
    t->dirty = 1;
    return 0;
}

int
tui_run_fn(struct tui *t, struct screen *scr, worker_fn fn, void *arg)
{
    if (worker_busy(&t->worker)) {
        tui_error(t, "a job is running ('%s'): wait for it, or stop it first",
                  worker_label(&t->worker));
        t->worker.prepare = NULL;
        return -1;
    }
    t->prog_what[0] = 0;
    t->prog_done = t->prog_total = 0;
    t->stop_sent = 0;
    t->close_when_done = 0;
    if (worker_start_fn(&t->worker, t->dir_given ? t->dir : NULL, fn, arg) != 0) {
        tui_error(t, "cannot start a thread for the job");
        return -1;
    }
    t->owner = scr;
    t->viewer = NULL;
    t->dirty = 1;
    return 0;
}

void
tui_prepare_job(struct tui *t, void (*fn)(struct gr_ctx *ctx, void *arg), void *arg)
{
    t->worker.prepare = fn;
    t->worker.prepare_arg = arg;
}

void
tui_close_when_done(struct tui *t)
{
    if (worker_busy(&t->worker))
        t->close_when_done = 1;
}

void
tui_follow(struct tui *t, struct screen *viewer)
{
    t->viewer = viewer;
}

/* Split a command line into words: blanks separate, quotes group,
 * backslash escapes.  Returns the count; *out is a new array (caller
 * frees each word and the array). */
int
tui_split_words(const char *line, char ***out)
{
    char **v = NULL;
    int n = 0;
    const char *p = line;
    for (;;) {
        while (*p == ' ' || *p == '\t')
            p++;
        if (!*p)
            break;
        char *w = xmalloc(strlen(p) + 1);
        size_t k = 0;
        char q = 0;
        for (; *p; p++) {
            if (q) {
                if (*p == q)
                    q = 0;
                else if (*p == '\\' && q == '"' && p[1])
                    w[k++] = *++p;
                else
                    w[k++] = *p;
            } else if (*p == '\'' || *p == '"') {
                q = *p;
            } else if (*p == '\\' && p[1]) {
                w[k++] = *++p;
            } else if (*p == ' ' || *p == '\t') {
                break;
            } else {
                w[k++] = *p;
            }
        }
        w[k] = 0;
        v = xrealloc(v, (size_t)(n + 1) * sizeof *v);
        v[n++] = w;
    }
    *out = v;
    return n;
}

/* Parse "command key=value ..." into a; GR_EUSAGE with a message. */
enum gr_status
tui_parse_line(struct tui *t, const char *line, struct gr_args *a,
               struct gr_error *err)
{
    struct complete_words cw;
    enum gr_status rc = complete_split(line, &cw, err);    /* as the REPL reads it */
    char **w = cw.argv;
    int n = cw.argc;
    if (rc != GR_OK)
        goto out;
    if (n == 0) {
        rc = gr_fail(err, GR_EUSAGE, "no command given");
        goto out;
    }
    const struct gr_command *cmd = command_find(w[0]);
    if (!cmd) {
        const char *near = command_nearest(w[0]);
        rc = gr_fail(err, GR_EUSAGE, "unknown command '%s' (did you mean '%s'?)",
                     w[0], near ? near : "help");
        goto out;
    }
    (void)t;
    if (args_ask_help(n - 1, w + 1)) {      /* ":sample --help" is ":help sample" */
        args_init(a, command_find("help"), NULL);
        char *kv = xasprintf("command=%s", cmd->name);
        rc = args_set_kv(a, kv, err);
        free(kv);
    } else {
        args_init(a, cmd, NULL);
        rc = args_parse_argv(a, n - 1, w + 1, err);
    }
    if (rc != GR_OK)
        args_release(a);
out:
    complete_words_release(&cw);
    return rc;
}

int
tui_run_line(struct tui *t, struct screen *scr, const char *line)
{
    struct gr_args *a = xcalloc(1, sizeof *a);
    struct gr_error err;
    if (tui_parse_line(t, line, a, &err) != GR_OK) {
        free(a);
        tui_error(t, "%s", err.msg);
        return -1;
    }
    return tui_run(t, scr, a, 1);
}

void
tui_confirm(struct tui *t, const char *question,
            void (*yes)(struct tui *t, void *arg), void *arg)
{
    snprintf(t->question, sizeof t->question, "%s", question);
    t->yes = yes;
    t->yes_arg = arg;
    t->modal = MODAL_CONFIRM;
    t->dirty = 1;
}

void
tui_prompt(struct tui *t, const char *label, const char *initial,
           void (*complete)(struct input *in, void *arg),
           void (*submit)(struct tui *t, const char *text, void *arg), void *arg)
{
    snprintf(t->prompt_label, sizeof t->prompt_label, "%s", label);
    input_set(&t->prompt, initial ? initial : "");
    input_set_hint(&t->prompt, NULL);
    t->prompt.complete = complete;
    t->prompt.carg = arg;
    t->submit = submit;
    t->submit_arg = arg;
    t->watch = NULL;
    t->modal = MODAL_PROMPT;
    t->dirty = 1;
}

void
tui_prompt_watch(struct tui *t, void (*watch)(struct input *in, void *arg))
{
    t->watch = watch;
    if (watch)
        watch(&t->prompt, t->submit_arg);
}

/* ---- the ':' command line ------------------------------------------------ */

/* The REPL's completion (app/complete.h): command names, option names,
 * their values, paths. */
static void
complete_command(struct input *in, void *arg)
{
    struct tui *t = arg;
    static const struct complete_extra extra[] = { { "quit", NULL, 0 }, { NULL, NULL, 0 } };
    struct complete_result r;
    complete_line(in->buf, in->cur, tui_workspace(t), extra, &r);
    if (r.n == 0) {
        input_set_hint(in, "no completion");
    } else {
        size_t pre = strlen(r.items[0]);
        for (size_t i = 1; i < r.n; i++) {
            size_t k = 0;
            while (k < pre && r.items[i][k] == r.items[0][k])
                k++;
            pre = k;
        }
        char *ext = xstrndup(r.items[0], pre);
        if (pre >= in->cur - r.start) {
            /* replace [start, cursor) with the common prefix */
            char *tail = xstrdup(in->buf + in->cur);
            in->buf[r.start] = 0;
            in->len = r.start;
            in->cur = r.start;
            input_insert(in, ext);
            size_t len = strlen(ext);
            if (r.n == 1 && len && ext[len - 1] != '/' && ext[len - 1] != '=')
                input_insert(in, " ");
            size_t cur = in->cur;
            input_insert(in, tail);
            in->cur = cur;
            free(tail);
        }
        free(ext);
        if (r.n > 1) {
            char hint[512];
            size_t k = 0;
            for (size_t i = 0; i < r.n && k + 2 < sizeof hint; i++)
                k += (size_t)snprintf(hint + k, sizeof hint - k, "%s%s", i ? "  " : "",
                                      r.items[i]);
            input_set_hint(in, hint);
        }
    }
    complete_result_release(&r);
}

static void
submit_command(struct tui *t, const char *text, void *arg)
{
    (void)arg;
    char **w;
    int n = tui_split_words(text, &w);
    if (n > 0) {
        if (!strcmp(w[0], "q") || !strcmp(w[0], "quit") || !strcmp(w[0], "exit")) {
            t->quit = !worker_busy(&t->worker);
            if (!t->quit)
                tui_error(t, "a job is running: stop it first (x), or press Ctrl-C");
        } else if (!strcmp(w[0], "tui")) {
            tui_msg(t, "this is the curses application already");
        } else if (!command_find(w[0])) {
            const char *near = command_nearest(w[0]);
            tui_error(t, "unknown command '%s' (did you mean '%s'?)", w[0],
                      near ? near : "help");
        } else if (worker_busy(&t->worker)) {
            tui_error(t, "a job is running ('%s'): wait for it, or stop it first",
                      worker_label(&t->worker));
        } else {
            tui_push(t, "console", text);
        }
    }
    for (int i = 0; i < n; i++)
        free(w[i]);
    free(w);
}

/* ---- going back and quitting ---------------------------------------------- */

static void
stop_and_close(struct tui *t, void *arg)
{
    (void)arg;
    tui_job_stop(t);
    t->close_when_done = 1;
    tui_msg(t, "stopping '%s' after this step (a checkpoint is kept)...",
            worker_label(&t->worker));
}

static void
stop_and_quit(struct tui *t, void *arg)
{
    (void)arg;
    tui_job_stop(t);
    t->quit_when_done = 1;
    tui_msg(t, "stopping '%s', then quitting...", worker_label(&t->worker));
}

static void
go_back(struct tui *t)
{
    struct screen *scr = top(t);
    int busy = worker_busy(&t->worker);
    if (t->depth <= 1) {
        if (busy)
            tui_confirm(t, "A job is running. Stop it (keeping a checkpoint) and quit?",
                        stop_and_quit, NULL);
        else
            t->quit = 1;
        return;
    }
    if (busy && t->owner == scr) {
        if (t->close_when_done)
            return;                     /* stopping already */
        char q[256];
        snprintf(q, sizeof q, "'%s' is running. Stop it (keeping a checkpoint) and go back?",
                 worker_label(&t->worker));
        tui_confirm(t, q, stop_and_close, NULL);
        return;
    }
    pop(t);
}

/* Ctrl-C or SIGINT: stop the job; again, or with no job, quit. */
static void
interrupt(struct tui *t)
{
    if (!worker_busy(&t->worker)) {
        t->quit = 1;
        return;
    }
    if (t->stop_sent) {
        restore_terminal();
        fprintf(stderr, "garage: interrupted again; quitting without waiting for '%s'\n",
                worker_label(&t->worker));
        _exit(130);
    }
    tui_job_stop(t);
    tui_msg(t, "stopping '%s' after this step (Ctrl-C again quits at once)",
            worker_label(&t->worker));
}

/* ---- the job's output ---------------------------------------------------- */

static void
deliver(struct tui *t, const struct gr_metric *m)
{
    if (!strcmp(m->kind, "progress")) {
        const char *bar = strchr(m->text, '|');
        size_t len = bar ? (size_t)(bar - m->text) : strlen(m->text);
        snprintf(t->prog_what, sizeof t->prog_what, "%.*s", (int)len, m->text);
        t->prog_done = metric_get(m, "done", 0);
        t->prog_total = metric_get(m, "total", 0);
    } else if (!strcmp(m->kind, "note")) {
        tui_msg(t, "%s", m->text);
    } else {
        double steps = metric_get(m, "steps", NAN), step = metric_get(m, "step", NAN);
        if (isfinite(steps) && isfinite(step) && steps > 0) {
            snprintf(t->prog_what, sizeof t->prog_what, "step");
            t->prog_done = step;
            t->prog_total = steps;
        }
    }
    if (t->owner && t->owner->ops->metric)
        t->owner->ops->metric(t->owner, m);
    if (t->viewer && t->viewer != t->owner && t->viewer->ops->metric)
        t->viewer->ops->metric(t->viewer, m);
    t->dirty = 1;
}

static void
pump(struct tui *t)
{
    if (!worker_busy(&t->worker))
        return;
    enum gr_status rc;
    struct gr_error err;
    int ended = worker_reap(&t->worker, &rc, &err);
    /* records and text in the order the job made them */
    struct gr_metric m;
    char *text;
    size_t len;
    int got;
    for (int n = 0; (ended || n < 5000) &&
                    (got = worker_next(&t->worker, &m, &text, &len)); n++) {
        if (got == 1) {
            deliver(t, &m);
            continue;
        }
        if (t->owner && t->owner->ops->text)
            t->owner->ops->text(t->owner, text, len);
        if (t->viewer && t->viewer != t->owner && t->viewer->ops->text)
            t->viewer->ops->text(t->viewer, text, len);
        free(text);
        t->dirty = 1;
    }
    if (!ended)
        return;
    struct screen *owner = t->owner, *viewer = t->viewer;
    t->owner = t->viewer = NULL;
    t->prog_what[0] = 0;
    t->stop_sent = 0;
    if (rc == GR_OK)
        ;
    else if (rc == GR_ESTOPPED)
        tui_msg(t, "%s", err.msg[0] ? err.msg : "stopped");
    else
        tui_error(t, "%s", err.msg);
    /* the viewer first: the owner may close it */
    if (viewer && viewer != owner && viewer->ops->done)
        viewer->ops->done(viewer, rc, err.msg);
    if (owner && owner->ops->done)
        owner->ops->done(owner, rc, err.msg);
    if (t->close_when_done) {
        t->close_when_done = 0;
        if (owner && t->depth > 1 && t->stack[0] != owner)
            tui_pop_screen(t, owner);
    }
    if (t->quit_when_done)
        t->quit = 1;
    tui_workspace_changed(t);
    t->dirty = 1;
}

/* ---- drawing ------------------------------------------------------------------ */

static void
key_label(int key, char *buf, size_t cap)
{
    if (key == '\n' || key == '\r' || key == KEY_ENTER)
        snprintf(buf, cap, "Enter");
    else if (key == '\t')
        snprintf(buf, cap, "Tab");
    else if (key == ' ')
        snprintf(buf, cap, "Space");
    else if (key == KEY_ESC)
        snprintf(buf, cap, "Esc");
    else if (key == KEY_BACKSPACE || key == 127)
        snprintf(buf, cap, "Bksp");
    else if (key == KEY_DC)
        snprintf(buf, cap, "Del");
    else if (key == KEY_UP)
        snprintf(buf, cap, "Up");
    else if (key == KEY_DOWN)
        snprintf(buf, cap, "Down");
    else if (key >= KEY_F(1) && key <= KEY_F(12))
        snprintf(buf, cap, "F%d", key - KEY_F(0));
    else if (key > 0 && key < 32)
        snprintf(buf, cap, "Ctrl-%c", key + '@');
    else if (key > 32 && key < 127)
        snprintf(buf, cap, "%c", key);
    else
        snprintf(buf, cap, "?");
}

static void
draw_header(struct tui *t)
{
    draw_fill(0, 0, COLS, style(ST_HEADER));
    char path[256] = "garage";
    size_t n = strlen(path);
    int uni = draw_utf8();
    for (int i = 0; i < t->depth && n < sizeof path; i++)
        n += (size_t)snprintf(path + n, sizeof path - n, " %s %s",
                              i == 0 ? (uni ? "\u2502" : "|") : (uni ? "\u203a" : ">"),
                              t->stack[i]->title ? t->stack[i]->title
                                                 : t->stack[i]->ops->title);
    int used = draw_text(0, 1, COLS - 2, style(ST_HEADER) | A_BOLD, path);
    char right[768];
    char cwd[512];
    const char *ws = t->have_ws ? t->dir : "(no workspace)";
    if (t->have_ws && strcmp(t->dir, ".") == 0 && getcwd(cwd, sizeof cwd)) {
        const char *base = strrchr(cwd, '/');
        ws = base && base[1] ? base + 1 : cwd;
    }
    if (worker_busy(&t->worker)) {
        char pct[32] = "";
        if (t->prog_total > 0)
            snprintf(pct, sizeof pct, " %.0f%%", 100 * t->prog_done / t->prog_total);
        snprintf(right, sizeof right, "%s %s%s  %s",
                 t->stop_sent ? "stopping" : tui_job_paused(t) ? "paused" : "running",
                 worker_label(&t->worker), pct, ws);
    } else {
        snprintf(right, sizeof right, "%s", ws);
    }
    int rw = text_width(right, strlen(right));
    if (rw > COLS - used - 4)
        rw = COLS - used - 4;
    if (rw > 0)
        draw_text(0, COLS - rw - 1, rw, style(ST_HEADER), right);
}

static void
draw_keyline(struct tui *t, struct screen *scr)
{
    int y = LINES - 1, x = 0;
    draw_fill(y, 0, COLS, A_NORMAL);
    if (t->modal == MODAL_PROMPT) {
        x += draw_text(y, x, COLS - x, style(ST_KEY), "Enter");
        x += draw_text(y, x, COLS - x, A_NORMAL, " ok  ");
        x += draw_text(y, x, COLS - x, style(ST_KEY), "Tab");
        x += draw_text(y, x, COLS - x, A_NORMAL, " complete  ");
        x += draw_text(y, x, COLS - x, style(ST_KEY), "Esc");
        draw_text(y, x, COLS - x, A_NORMAL, " cancel");
        return;
    }
    const char *hk = scr->typing ? "F1" : "?", *bk = scr->typing ? "Esc" : "q";
    char tail[64];
    snprintf(tail, sizeof tail, "%s help  %s %s", hk, bk, t->depth > 1 ? "back" : "quit");
    int tailw = (int)strlen(tail);
    for (const struct key_binding *k = scr->ops->keys; k && k->key; k++) {
        char kl[32];
        if (k->shown)
            snprintf(kl, sizeof kl, "%s", k->shown);
        else
            key_label(k->key, kl, sizeof kl);
        if (k->key == 'q' || k->key == '?' || !k->name)
            continue;
        int need = (int)strlen(kl) + 1 + (int)strlen(k->name) + 2;
        if (x + need > COLS - tailw - 1)
            break;
        x += draw_text(y, x, COLS - x, style(ST_KEY), kl);
        x += draw_text(y, x, COLS - x, A_NORMAL, " ");
        x += draw_text(y, x, COLS - x, A_NORMAL, k->name);
        x += draw_text(y, x, COLS - x, A_NORMAL, "  ");
    }
    int tx = COLS - tailw;
    tx += draw_text(y, tx, 2, style(ST_KEY), hk);
    tx += draw_text(y, tx, 7, A_NORMAL, " help  ");
    tx += draw_text(y, tx, 3, style(ST_KEY), bk);
    draw_text(y, tx, COLS - tx, A_NORMAL, t->depth > 1 ? " back" : " quit");
}

static void
draw_msgline(struct tui *t)
{
    int y = LINES - 2;
    draw_fill(y, 0, COLS, A_NORMAL);
    if (t->modal == MODAL_PROMPT) {
        int lw = draw_text(y, 0, COLS, style(ST_KEY), t->prompt_label);
        input_draw(&t->prompt, y, lw, COLS - lw, A_NORMAL, 1);
        if (t->prompt.hint) {
            draw_fill(y - 1, 0, COLS, style(ST_DIM));
            draw_text(y - 1, 1, COLS - 2, style(ST_DIM), t->prompt.hint);
        }
        return;
    }
    if (t->msg[0])
        draw_text(y, 0, COLS, t->msg_err ? style(ST_BAD) : A_NORMAL, t->msg);
}

static int
help_lines(struct screen *scr, char ***out)
{
    char **v = NULL;
    int n = 0;
#define ADD(...) do { v = xrealloc(v, (size_t)(n + 1) * sizeof *v); \
        v[n++] = xasprintf(__VA_ARGS__); } while (0)
    for (const struct key_binding *k = scr->ops->keys; k && k->key; k++) {
        char kl[32];
        if (k->shown)
            snprintf(kl, sizeof kl, "%s", k->shown);
        else
            key_label(k->key, kl, sizeof kl);
        ADD("%-9s %s", kl, k->help ? k->help : k->name);
    }
    ADD("%s", "");
    ADD("%s", "Everywhere");
    ADD("%-9s %s", "? F1", "Show this help (any key closes it)");
    ADD("%-9s %s", "q Esc", "Go back; on the home screen, quit (asks before stopping a job)");
    ADD("%-9s %s", "Tab", "Move to the next pane (Shift-Tab: the previous one)");
    ADD("%-9s %s", ":", "Run any command, as in the REPL: ':pretrain steps=100'");
    ADD("%-9s %s", "Ctrl-C", "Stop the running job with a checkpoint; again: quit at once");
    ADD("%-9s %s", "Ctrl-L", "Redraw the screen");
#undef ADD
    *out = v;
    return n;
}

static void
draw_help(struct tui *t, struct screen *scr)
{
    char **lines;
    int n = help_lines(scr, &lines);
    int w = COLS - 4 < 76 ? COLS - 4 : 76;
    int h = n + 2 < LINES - 2 ? n + 2 : LINES - 2;
    struct rect r = { (LINES - h) / 2, (COLS - w) / 2, h, w };
    draw_clear(r);
    char title[96];
    snprintf(title, sizeof title, "Keys: %s", scr->ops->title);
    struct rect in = draw_box(r, title, 1);
    scroll_fix(&t->help_scroll, n, in.h);
    t->help_scroll.follow = 0;
    for (int i = 0; i < in.h && t->help_scroll.top + i < n; i++) {
        const char *l = lines[t->help_scroll.top + i];
        int bold = l[0] && l[0] != ' ' && strchr(l, ' ') == NULL;
        if (bold) {
            draw_text(in.y + i, in.x + 1, in.w - 2, style(ST_TITLE), l);
        } else {
            draw_textn(in.y + i, in.x + 1, 10, style(ST_KEY), l, strlen(l) < 10 ? strlen(l) : 10);
            if (strlen(l) > 10)
                draw_text(in.y + i, in.x + 11, in.w - 12, A_NORMAL, l + 10);
        }
    }
    for (int i = 0; i < n; i++)
        free(lines[i]);
    free(lines);
}

static void
draw_confirm(struct tui *t)
{
    int w = COLS - 4 < 60 ? COLS - 4 : 60;
    int tl = draw_wrap((struct rect){ 0, 0, 0, w - 4 }, 0, A_NORMAL, t->question);
    int h = tl + 4;
    struct rect r = { (LINES - h) / 2, (COLS - w) / 2, h, w };
    draw_clear(r);
    struct rect in = draw_box(r, "Are you sure?", 1);
    draw_wrap((struct rect){ in.y, in.x + 1, tl, in.w - 2 }, 0, A_BOLD, t->question);
    int x = in.x + 1, y = in.y + in.h - 1;
    x += draw_text(y, x, 3, style(ST_KEY), "y");
    x += draw_text(y, x, 8, A_NORMAL, " yes   ");
    x += draw_text(y, x, 3, style(ST_KEY), "n");
    draw_text(y, x, 8, A_NORMAL, " no");
}

static void
draw_all(struct tui *t)
{
    erase();
    if (LINES < 10 || COLS < 40) {
        /* Short lines: the message must fit where nothing else does. */
        draw_text(0, 0, COLS, A_BOLD, "Terminal too small:");
        draw_textf(1, 0, COLS, A_NORMAL, "%dx%d, needs 40x10", COLS, LINES);
        draw_text(2, 0, COLS, A_NORMAL, "(80x24 is best)");
        draw_text(3, 0, COLS, A_NORMAL, "q quits");
        curs_set(0);
        refresh();
        return;
    }
    struct screen *scr = top(t);
    draw_header(t);
    struct rect body = { 1, 0, LINES - 3, COLS };
    if (scr && scr->ops->draw)
        scr->ops->draw(scr, body);
    draw_msgline(t);
    draw_keyline(t, scr);
    if (t->modal == MODAL_HELP)
        draw_help(t, scr);
    else if (t->modal == MODAL_CONFIRM)
        draw_confirm(t);
    int cy, cx;
    if (draw_take_cursor(&cy, &cx) && t->modal != MODAL_HELP && t->modal != MODAL_CONFIRM) {
        curs_set(1);
        move(cy, cx);
    } else {
        curs_set(0);
    }
    refresh();
    t->dirty = 0;
    t->last_draw = now_s();
}

/* ---- keys -------------------------------------------------------------------- */

static void
handle_key(struct tui *t, int key)
{
    t->dirty = 1;
    if (key == KEY_RESIZE) {
        clearok(curscr, TRUE);
        return;
    }
    if (key == KEY_CTRL('c')) {
        /* a screen may use it first (the Chat screen stops an answer) */
        struct screen *s0 = top(t);
        t->modal = MODAL_NONE;
        if (!(s0 && s0->ops->key && s0->ops->key(s0, key) == SCREEN_HANDLED))
            interrupt(t);
        return;
    }
    if (key == KEY_CTRL('l')) {
        clearok(curscr, TRUE);
        return;
    }
    struct screen *scr = top(t);
    if (LINES < 10 || COLS < 40) {
        if (key == 'q' || key == KEY_ESC)
            go_back(t);
        return;
    }
    switch (t->modal) {
    case MODAL_HELP:
        if (!scroll_key(&t->help_scroll, key, LINES / 2))
            t->modal = MODAL_NONE;
        return;
    case MODAL_CONFIRM:
        if (key == 'y' || key == 'Y') {
            t->modal = MODAL_NONE;
            if (t->yes)
                t->yes(t, t->yes_arg);
        } else if (key == 'n' || key == 'N' || key == KEY_ESC || key == 'q') {
            t->modal = MODAL_NONE;
        }
        return;
    case MODAL_PROMPT: {
        enum input_event ev = input_key(&t->prompt, key);
        if (ev == INPUT_CANCEL) {
            t->modal = MODAL_NONE;
        } else if (ev == INPUT_SUBMIT) {
            t->modal = MODAL_NONE;
            char *text = xstrdup(t->prompt.buf);
            input_history_add(&t->prompt, text);
            if (t->submit)
                t->submit(t, text, t->submit_arg);
            free(text);
        } else if (ev == INPUT_EDITED && t->watch && key != '\t') {
            t->watch(&t->prompt, t->submit_arg);
        }
        return;
    }
    case MODAL_NONE:
        break;
    }
    if (key == KEY_F(1)) {
        t->modal = MODAL_HELP;
        t->help_scroll = (struct scroll){ 0, 0 };
        return;
    }
    enum screen_result r = scr && scr->ops->key ? scr->ops->key(scr, key) : SCREEN_IGNORED;
    if (r == SCREEN_HANDLED)
        return;
    if (r == SCREEN_CLOSE) {
        go_back(t);
        return;
    }
    switch (key) {
    case '?':
        t->modal = MODAL_HELP;
        t->help_scroll = (struct scroll){ 0, 0 };
        break;
    case ':':
        tui_prompt(t, ":", "", complete_command, submit_command, t);
        break;
    case 'q': case KEY_ESC:
        go_back(t);
        break;
    case '\t':
        if (scr && scr->ops->panes > 1)
            scr->pane = (scr->pane + 1) % scr->ops->panes;
        break;
    case KEY_BTAB:
        if (scr && scr->ops->panes > 1)
            scr->pane = (scr->pane + scr->ops->panes - 1) % scr->ops->panes;
        break;
    }
}

/* ---- the loop ------------------------------------------------------------------ */

static void
start_curses(struct tui *t)
{
    if (!isatty(STDIN_FILENO) || !isatty(STDOUT_FILENO))
        fatal("the curses application needs a terminal (use the commands, "
              "or 'garage run FILE.yaml', when there is none)");
    const char *term = getenv("TERM");
    if (!term || !*term || !strcmp(term, "dumb"))
        fatal("TERM is %s: the curses application needs a real terminal",
              term && *term ? term : "unset");
    set_escdelay(25);
    if (!newterm(NULL, stdout, stdin))
        fatal("cannot start curses on this terminal (TERM=%s)", term);
    curses_active = 1;
    t->curses_on = 1;
    raw();                      /* Ctrl-C arrives as a key; we restore anyway */
    noecho();
    nonl();
    keypad(stdscr, TRUE);
    curs_set(0);
    mousemask(BUTTON4_PRESSED
#ifdef BUTTON5_PRESSED
              | BUTTON5_PRESSED
#endif
              , NULL);
    mouseinterval(0);
    draw_init_styles();
    t->glyphs = draw_utf8() ? CHART_BRAILLE : CHART_ASCII;
    if (getenv("GARAGE_CHART") && !strcmp(getenv("GARAGE_CHART"), "ascii"))
        t->glyphs = CHART_ASCII;
    else if (getenv("GARAGE_CHART") && !strcmp(getenv("GARAGE_CHART"), "block"))
        t->glyphs = CHART_BLOCK;
}

static void
run_loop(struct tui *t)
{
    t->dirty = 1;
    while (!t->quit) {
        if (got_int) {
            got_int = 0;
            interrupt(t);
        }
        if (got_term && !t->quit_when_done) {
            if (worker_busy(&t->worker)) {
                tui_job_stop(t);
                t->quit_when_done = 1;
                t->quit_deadline = now_s() + 10;
                tui_msg(t, "terminated: stopping '%s' with a checkpoint...",
                        worker_label(&t->worker));
            } else {
                t->quit = 1;
                break;
            }
        }
        if (t->quit_deadline > 0 && now_s() > t->quit_deadline)
            break;
        pump(t);
        if (t->quit)
            break;
        double now = now_s();
        struct screen *scr = top(t);
        if (now - t->last_tick >= 0.5) {
            t->last_tick = now;
            if (scr && scr->ops->tick)
                scr->ops->tick(scr);
            if (worker_busy(&t->worker))
                t->dirty = 1;
        }
        if (t->dirty && (!worker_busy(&t->worker) || now - t->last_draw >= 0.1))
            draw_all(t);
        int key = key_read(50);
        if (key >= 0) {
            handle_key(t, key);
            /* take every key already typed before drawing again */
            while (!t->quit && (key = key_read(0)) >= 0)
                handle_key(t, key);
            if (!t->quit)
                draw_all(t);
        }
    }
}

int
tui_main(const char *dir, const char *session, char *const *sets, size_t nsets)
{
    setlocale(LC_ALL, "");
    /* Characters as the user's locale has them (UTF-8 for curses), but
     * numbers always with a decimal point: the jobs run in this process
     * and write JSON logs, and options such as lr=0.001 are read with
     * strtod. */
    setlocale(LC_NUMERIC, "C");
    struct tui *t = xcalloc(1, sizeof *t);
    the_tui = t;
    t->dir = xstrdup(dir ? dir : ".");
    t->dir_given = dir != NULL;
    tui_workspace_changed(t);
    worker_init(&t->worker);
    input_init(&t->prompt);
    atexit(restore_terminal);
    install_signals();
    start_curses(t);

    t->sets = sets;
    t->nsets = nsets;
    tui_push(t, "home", NULL);
    if (session)
        tui_push(t, "session", session);
    run_loop(t);

    int status = got_term ? 143 : 0;
    if (t->exit_code)
        status = t->exit_code;
    while (t->depth)
        pop(t);
    restore_terminal();
    if (worker_busy(&t->worker)) {
        /* Out of time waiting for a stop: leave; checkpoints are written
         * atomically, so the last good one stays. */
        fprintf(stderr, "garage: '%s' did not stop in time; quitting\n",
                worker_label(&t->worker));
        return status ? status : 1;
    }
    worker_release(&t->worker);
    input_release(&t->prompt);
    free(t->dir);
    free(t);
    the_tui = NULL;
    return status;
}

void
tui_set_exit(struct tui *t, int code)
{
    t->exit_code = code;
}

char *const *
tui_session_sets(struct tui *t, size_t *n)
{
    *n = t->nsets;
    return t->sets;
}
