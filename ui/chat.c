/* chat.c (ui): 'garage chat' at a terminal (GNU Readline) or in a pipe.
 * The conversation itself (context, generation, slash commands) is the
 * engine's (stages/chat.h); this file reads lines and shows answers. */
#include "chat.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <readline/history.h>
#include <readline/readline.h>

#include "app/job.h"
#include "app/workspace.h"
#include "base/xalloc.h"
#include "stages/chat.h"

#define HISTORY_FILE ".garage_chat_history"
#define HISTORY_KEEP 1000

static volatile sig_atomic_t interrupted;

static void
on_sigint(int sig)
{
    (void)sig;
    interrupted = 1;
}

struct answer {
    struct gr_ctx *ctx;
    struct chat *c;
    int pipe;                   /* newlines become spaces */
    int color;
    int noticed;                /* the notices of this answer are shown */
};

static void
notices_before(struct answer *a)
{
    const struct chat_reply_info *info = a->c->cur;
    if (a->noticed || !info)
        return;
    a->noticed = 1;
    const char *dim = a->color ? "\033[2m" : "", *off = a->color ? "\033[0m" : "";
    if (info->dropped)
        fprintf(stderr, "%s(the oldest %zu messages no longer fit the model's context "
                "of %d tokens: dropped)%s\n", dim, info->dropped, a->c->model.cfg.T, off);
    if (info->prompt_cut)
        fprintf(stderr, "%s(the message is longer than the model's context: only its "
                "end was read)%s\n", dim, off);
    fflush(stderr);
}

static int
on_token(void *ud, const char *bytes, size_t n)
{
    struct answer *a = ud;
    notices_before(a);
    if (a->pipe) {
        char buf[256];
        size_t k = 0;
        for (size_t i = 0; i < n; i++) {
            buf[k++] = bytes[i] == '\n' || bytes[i] == '\r' ? ' ' : bytes[i];
            if (k == sizeof buf) {
                ctx_write(a->ctx, buf, k);
                k = 0;
            }
        }
        ctx_write(a->ctx, buf, k);
    } else {
        ctx_write(a->ctx, bytes, n);
    }
    return interrupted || (a->ctx->job && atomic_load(&a->ctx->job->stop));
}

/* One message: answer it and finish the line. */
static enum gr_status
answer(struct answer *a, const char *line, struct gr_error *err)
{
    struct chat_reply_info info;
    a->noticed = 0;
    interrupted = 0;
    enum gr_status rc = chat_reply(a->c, line, on_token, a, &info, err);
    if (rc != GR_OK)
        return rc;
    if (!info.ntokens)
        notices_before(a);
    ctx_write(a->ctx, "\n", 1);
    if (!a->pipe && (info.stopped || info.cut)) {
        const char *dim = a->color ? "\033[2m" : "", *off = a->color ? "\033[0m" : "";
        fprintf(stderr, "%s(%s)%s\n", dim, info.stopped ? "stopped" :
                "the answer reached the end of the model's context", off);
    }
    return GR_OK;
}

/* A slash command; its reply or error goes to standard error in a pipe,
 * to standard output at a terminal.  Returns 1 to leave. */
static int
slash(struct answer *a, const char *line)
{
    char *reply;
    int quit;
    struct gr_error e = { 0 };
    FILE *f = a->pipe ? stderr : stdout;
    if (chat_slash(a->c, line, &reply, &quit, &e) != GR_OK)
        fprintf(stderr, "garage: %s\n", e.msg);
    else if (reply)
        fprintf(f, "%s\n", reply);
    fflush(f);
    free(reply);
    return quit;
}

static enum gr_status
pipe_loop(struct gr_ctx *ctx, struct chat *c, struct gr_error *err)
{
    struct answer a = { .ctx = ctx, .c = c, .pipe = 1 };
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    enum gr_status rc = GR_OK;
    while ((n = getline(&line, &cap, stdin)) >= 0) {
        while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
            line[--n] = '\0';
        if (strlen(line) != (size_t)n) {
            fprintf(stderr, "garage: a line holds a NUL character: skipped\n");
            ctx_write(ctx, "\n", 1);
            continue;
        }
        if (line[0] == '/') {
            if (slash(&a, line))
                break;
            continue;
        }
        if (line[strspn(line, " \t")] == '\0') {
            ctx_write(ctx, "\n", 1);            /* a blank line, a blank answer */
            continue;
        }
        if ((rc = answer(&a, line, err)) != GR_OK)
            break;
        if (ctx->job && atomic_load(&ctx->job->stop)) {
            rc = gr_fail(err, GR_ESTOPPED, "chat stopped");
            break;
        }
    }
    free(line);
    return rc;
}

/* ---- the terminal ---------------------------------------------------- */

/* Ctrl-C at the prompt: forget the line, prompt again (like a shell). */
static int
on_signal_event(void)
{
    if (interrupted) {
        interrupted = 0;
        rl_replace_line("", 0);
        rl_crlf();
        rl_on_new_line();
        rl_redisplay();
    }
    return 0;
}

static char *
slash_generator(const char *text, int state)
{
    static size_t i, len;
    if (!state) {
        i = 0;
        len = strlen(text);
    }
    while (chat_slash_commands[i].name) {
        const char *name = chat_slash_commands[i++].name;
        if (!strncmp(name, text, len))
            return xstrdup(name);
    }
    return NULL;
}

/* Slash commands at the start of the line; file names after /save and
 * /model; nothing in a message. */
static char **
complete(const char *text, int start, int end)
{
    (void)end;
    if (start == 0 && text[0] == '/') {
        rl_attempted_completion_over = 1;
        return rl_completion_matches(text, slash_generator);
    }
    if (!strncmp(rl_line_buffer, "/save ", 6) || !strncmp(rl_line_buffer, "/model ", 7))
        return NULL;                    /* readline's file names */
    rl_attempted_completion_over = 1;
    return NULL;
}

static int
use_color(void)
{
    const char *term = getenv("TERM");
    return isatty(STDOUT_FILENO) && !getenv("NO_COLOR") && term && strcmp(term, "dumb");
}

static enum gr_status
tty_loop(struct gr_ctx *ctx, struct chat *c, struct gr_error *err)
{
    struct answer a = { .ctx = ctx, .c = c, .color = use_color() };
    const char *prompt = a.color ? "\001\033[1;32m\002you>\001\033[0m\002 " : "you> ";
    char *hist = workspace_path(ctx->ws, HISTORY_FILE);
    enum gr_status rc = GR_OK;

    /* Readline's state is the process's: keep whatever another loop (the
     * REPL) had, and put it back at the end. */
    HISTORY_STATE *outer = history_get_history_state();
    HISTORY_STATE empty = { 0 };
    history_set_history_state(&empty);
    rl_hook_func_t *old_event = rl_signal_event_hook;
    rl_completion_func_t *old_complete = rl_attempted_completion_function;
    int old_catch = rl_catch_signals;
    struct sigaction sa = { 0 }, old_sa;
    sa.sa_handler = on_sigint;                  /* no SA_RESTART: reads end */
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, &old_sa);
    rl_catch_signals = 0;
    rl_signal_event_hook = on_signal_event;
    rl_attempted_completion_function = complete;

    FILE *hf = fopen(hist, "a");                /* append_history needs the file */
    int hist_ok = hf != NULL;
    if (hf)
        fclose(hf);
    read_history(hist);
    printf("Chatting with %s (%s, step %llu).  /help lists the commands; Ctrl-D "
           "leaves.\n", c->ckpt, c->meta.kind, (unsigned long long)c->meta.step);
    for (;;) {
        interrupted = 0;
        char *line = readline(prompt);
        if (!line) {                            /* Ctrl-D */
            putchar('\n');
            break;
        }
        char *s = line + strspn(line, " \t");
        if (!*s) {
            free(line);
            continue;
        }
        add_history(line);
        if (append_history(1, hist) != 0 && hist_ok) {
            fprintf(stderr, "garage: cannot write the history to %s\n", hist);
            hist_ok = 0;                        /* say it once */
        }
        if (*s == '/') {
            int quit = slash(&a, s);
            free(line);
            if (quit)
                break;
            continue;
        }
        rc = answer(&a, line, err);
        free(line);
        if (rc != GR_OK)
            break;
    }
    history_truncate_file(hist, HISTORY_KEEP);

    clear_history();
    HISTORY_STATE *ours = history_get_history_state();
    free(ours->entries);
    free(ours);
    history_set_history_state(outer);
    free(outer);
    rl_signal_event_hook = old_event;
    rl_attempted_completion_function = old_complete;
    rl_catch_signals = old_catch;
    sigaction(SIGINT, &old_sa, NULL);
    if (ctx->job)
        atomic_store(&ctx->job->stop, 0);
    free(hist);
    return rc;
}

enum gr_status
ui_chat_loop(struct gr_ctx *ctx, struct chat *c, struct gr_error *err)
{
    if (isatty(STDIN_FILENO))
        return tty_loop(ctx, c, err);
    return pipe_loop(ctx, c, err);
}
