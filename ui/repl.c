/* repl.c: 'garage repl'.  One loop for the prompt and for scripts; each
 * line goes through complete_split and the registry's args_parse_argv
 * and command_run, like the command line.  The REPL's own words are
 * help (with its extra section), source, save-session, exit and quit.
 *
 * The prompt uses readline's callback interface, so that Ctrl-C at the
 * prompt only sets a flag (the signal handler does nothing unsafe) and
 * the loop clears the line.  While a command runs, readline is out of
 * the way and Ctrl-C asks the job to stop (it writes a checkpoint); a
 * second Ctrl-C within a second quits at once. */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/select.h>
#include <time.h>
#include <unistd.h>

#include <readline/history.h>
#include <readline/readline.h>

#include "app/command.h"
#include "app/complete.h"
#include "app/job.h"
#include "app/session.h"
#include "app/workspace.h"
#include "base/fsio.h"
#include "base/xalloc.h"
#include "repl.h"

enum { EXIT_USAGE = 2, EXIT_STOPPED = 130, HISTORY_LINES = 1000 };

/* The REPL's own commands, for completion: source takes run's options. */
static const struct complete_extra repl_words[] = {
    { "source", "run", 0 },
    { "save-session", NULL, 1 },
    { "exit", NULL, 0 },
    { "quit", NULL, 0 },
    { NULL, NULL, 0 }
};

static const char repl_help_text[] =
    "\nIn the REPL also:\n"
    "  source FILE.yaml [--set step.key=value]...\n"
    "              run a session file in this workspace (run does the same)\n"
    "  save-session FILE.yaml\n"
    "              write what changed the workspace so far as a session file\n"
    "  exit, quit  leave (Ctrl-D on an empty line too)\n"
    "Tab completes; Ctrl-R searches the history; Ctrl-C stops a running job\n"
    "with a checkpoint (twice within a second: quit at once).\n";

struct repl {
    struct gr_ctx *ctx;
    struct progress *prog;
    const char *dir;            /* the workspace folder; NULL: the current one */
    int script;                 /* standard input is not a terminal */
    int keep_going;
    int done;                   /* exit or quit, or end of input */
    char *steps;                /* save-session's steps (session_step_yaml lines) */
    size_t nsteps_len;
    size_t nsteps;
};

/* ---- signals -------------------------------------------------------- */

static struct gr_job *sig_job;
static volatile sig_atomic_t sig_running;   /* a command runs */
static volatile sig_atomic_t sig_pending;   /* Ctrl-C outside a command */
static volatile sig_atomic_t sig_quit;      /* SIGTERM: leave after this */
static volatile sig_atomic_t sig_stops;     /* Ctrl-C during this command */
static struct timespec sig_last;

static void
say(const char *msg, size_t n)
{
    ssize_t w = write(STDERR_FILENO, msg, n);
    (void)w;
}

static void
on_signal(int sig)
{
    if (sig == SIGTERM) {
        sig_quit = 1;
        if (sig_running)
            job_request_stop(sig_job);
        return;
    }
    if (!sig_running) {
        sig_pending = 1;
        return;
    }
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    double dt = (double)(now.tv_sec - sig_last.tv_sec) +
                (double)(now.tv_nsec - sig_last.tv_nsec) * 1e-9;
    if (sig_stops > 0 && dt < 1.0) {
        static const char msg[] = "\ngarage: interrupted again; quitting without saving\n";
        say(msg, sizeof msg - 1);
        _exit(EXIT_STOPPED);
    }
    sig_stops++;
    sig_last = now;
    static const char msg[] = "\ngarage: stopping (training saves a checkpoint first; "
                              "Ctrl-C again within a second to quit now)\n";
    say(msg, sizeof msg - 1);
    job_request_stop(sig_job);
}

static void
install_signals(struct gr_job *job)
{
    sig_job = job;
    struct sigaction sa = { 0 };
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
}

/* ---- running one line ----------------------------------------------- */

static int
exit_status(enum gr_status rc)
{
    if (rc == GR_OK)
        return 0;
    if (rc == GR_EUSAGE)
        return EXIT_USAGE;
    if (rc == GR_ESTOPPED)
        return EXIT_STOPPED;
    return 1;
}

/* The workspace's seed, or the default one when there is no workspace. */
static uint64_t
workspace_seed(struct repl *r)
{
    struct workspace ws = { 0 };
    uint64_t seed = 1337;
    const struct gr_command *init = command_find("init");
    const struct gr_option *o = init ? command_option(init, "seed") : NULL;
    if (o && o->def)
        seed = strtoull(o->def, NULL, 10);
    if (workspace_open(&ws, r->dir, NULL) == GR_OK) {
        seed = ws.seed;
        workspace_release(&ws);
    }
    return seed;
}

/* Keep a step that ran, for save-session. */
static void
record(struct repl *r, const struct gr_args *a)
{
    if (!session_step_changes_state(a))
        return;
    char *line = session_step_yaml(a, workspace_seed(r));
    if (!line)
        return;
    size_t n = strlen(line);
    r->steps = xrealloc(r->steps, r->nsteps_len + n + 1);
    memcpy(r->steps + r->nsteps_len, line, n + 1);
    r->nsteps_len += n;
    r->nsteps++;
    free(line);
}

static void
record_step(void *hctx, const struct session_step *st)
{
    record(hctx, &st->args);
}

/* source FILE [--set step.key=value]... [--dry-run]: run's options. */
static enum gr_status
do_source(struct repl *r, int argc, char **argv, struct gr_error *err)
{
    const struct gr_command *run = command_find("run");
    struct gr_args a;
    struct session s;
    enum gr_status rc;
    args_init(&a, run, NULL);
    if ((rc = args_parse_argv(&a, argc, argv, err)) != GR_OK)
        goto out;
    if (!args_str(&a, "file")) {
        rc = gr_fail(err, GR_EUSAGE, "source: missing session file (source FILE.yaml)");
        goto out;
    }
    const char *saved = r->ctx->dir;
    if (!r->ctx->dir)
        r->ctx->dir = ".";          /* this workspace, not the file's workspace: */
    if (args_bool(&a, "dry_run")) {
        rc = command_run(r->ctx, &a, err);
    } else {
        char *const *sets;
        size_t nsets = args_list(&a, "set", &sets);
        if ((rc = session_load(&s, args_str(&a, "file"), sets, nsets, err)) == GR_OK) {
            s.on_step = record_step;
            s.hctx = r;
            rc = session_run(&s, r->ctx, err);
            session_release(&s);
        }
    }
    r->ctx->dir = saved;
out:
    args_release(&a);
    return rc;
}

static enum gr_status
do_save(struct repl *r, int argc, char **argv, struct gr_error *err)
{
    if (argc != 1)
        return gr_fail(err, GR_EUSAGE, "save-session: expected one file name "
                       "(save-session FILE.yaml)");
    if (!r->nsteps)
        return gr_fail(err, GR_ESTATE, "save-session: nothing to save yet: no command "
                       "has changed the workspace in this REPL");
    enum gr_status rc = session_write(argv[0], workspace_seed(r), r->steps, err);
    if (rc == GR_OK)
        ctx_printf(r->ctx, "Saved %zu step%s to %s (replay: garage -C DIR run %s)\n",
                   r->nsteps, r->nsteps == 1 ? "" : "s", argv[0], argv[0]);
    return rc;
}

static enum gr_status
do_help(struct repl *r, int argc, char **argv, struct gr_error *err)
{
    const struct gr_command *help = command_find("help");
    struct gr_args a;
    enum gr_status rc;
    args_init(&a, help, NULL);
    if ((rc = args_parse_argv(&a, argc, argv, err)) != GR_OK)
        goto out;
    const char *name = args_str(&a, "command");
    if (name && (!strcmp(name, "source") || !strcmp(name, "save-session") ||
                 !strcmp(name, "exit") || !strcmp(name, "quit"))) {
        ctx_printf(r->ctx, "%s", repl_help_text + 1);
        goto out;
    }
    if ((rc = command_run(r->ctx, &a, err)) == GR_OK && !name)
        ctx_printf(r->ctx, "%s", repl_help_text);
out:
    args_release(&a);
    return rc;
}

/* One line: a comment, nothing, or one command. */
static enum gr_status
run_line(struct repl *r, const char *line, struct gr_error *err)
{
    struct complete_words w;
    enum gr_status rc = complete_split(line, &w, err);
    if (rc != GR_OK || w.argc == 0)
        goto out;
    const char *name = w.argv[0];
    int argc = w.argc - 1;
    char **argv = w.argv + 1;
    if (!strcmp(name, "exit") || !strcmp(name, "quit")) {
        if (argc)
            rc = gr_fail(err, GR_EUSAGE, "'%s' takes no arguments", name);
        else
            r->done = 1;
        goto out;
    }
    if (!strcmp(name, "help")) {
        rc = do_help(r, argc, argv, err);
        goto out;
    }
    if (!strcmp(name, "source") || !strcmp(name, "run")) {
        rc = do_source(r, argc, argv, err);
        goto out;
    }
    if (!strcmp(name, "save-session")) {
        rc = do_save(r, argc, argv, err);
        goto out;
    }
    if (!strcmp(name, "repl")) {
        rc = gr_fail(err, GR_EUSAGE, "this is the REPL already");
        goto out;
    }
    const struct gr_command *cmd = command_find(name);
    if (!cmd) {
        const char *near = command_nearest(name);
        rc = gr_fail(err, GR_EUSAGE, "unknown command '%s' (did you mean '%s'?)",
                     name, near ? near : "help");
        goto out;
    }
    if (args_ask_help(argc, argv)) {         /* "sample --help" */
        char *text = command_help(cmd);
        ctx_printf(r->ctx, "%s", text);
        free(text);
        goto out;
    }
    struct gr_args a;
    args_init(&a, cmd, NULL);
    if ((rc = args_parse_argv(&a, argc, argv, err)) == GR_OK &&
        (rc = command_run(r->ctx, &a, err)) == GR_OK)
        record(r, &a);
    args_release(&a);
out:
    complete_words_release(&w);
    return rc;
}

/* Run a line with Ctrl-C going to the job; print a failure.  Returns the
 * status. */
static enum gr_status
exec_line(struct repl *r, const char *line, size_t lineno)
{
    struct gr_error err;
    gr_error_clear(&err);
    job_init(r->ctx->job);
    sig_stops = 0;
    sig_running = 1;
    enum gr_status rc = run_line(r, line, &err);
    sig_running = 0;
    progress_break(r->prog);
    fflush(stdout);
    if (rc != GR_OK) {
        const char *msg = err.msg[0] ? err.msg : rc == GR_ESTOPPED ? "stopped" : "failed";
        if (lineno)
            fprintf(stderr, "garage: line %zu: %s\n", lineno, msg);
        else
            fprintf(stderr, "garage: %s\n", msg);
    }
    job_init(r->ctx->job);
    return rc;
}

/* ---- scripts -------------------------------------------------------- */

static int
run_script(struct repl *r)
{
    char *line = NULL;
    size_t cap = 0, lineno = 0;
    ssize_t n;
    int status = 0;
    while (!r->done && !sig_quit && (n = getline(&line, &cap, stdin)) >= 0) {
        lineno++;
        while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
            line[--n] = '\0';
        enum gr_status rc = exec_line(r, line, lineno);
        if (rc != GR_OK && !status)
            status = exit_status(rc);
        if (rc == GR_ESTOPPED || (rc != GR_OK && !r->keep_going))
            break;
        if (sig_pending) {
            fprintf(stderr, "garage: line %zu: interrupted\n", lineno);
            if (!status)
                status = EXIT_STOPPED;
            break;
        }
    }
    free(line);
    return status;
}

/* ---- the prompt ----------------------------------------------------- */

static struct repl *the_repl;       /* for readline's callbacks */
static char *history_path;          /* the workspace's .garage_history, or NULL */

/* "garage my-garage (next: pretrain)> " */
static char *
make_prompt(struct repl *r)
{
    struct workspace ws = { 0 };
    if (workspace_open(&ws, r->dir, NULL) != GR_OK)
        return xstrdup("garage (no workspace; next: init)> ");
    char *real = realpath(ws.root, NULL);
    const char *name = real ? real : ws.root;
    const char *slash = strrchr(name, '/');
    if (slash && slash[1])
        name = slash + 1;
    char *p = xasprintf("garage %s (next: %s)> ", name, session_next_stage(&ws));
    free(real);
    workspace_release(&ws);
    return p;
}

/* The history file, once the folder is a workspace. */
static const char *
history_file(struct repl *r)
{
    if (history_path)
        return history_path;
    char *marker = fs_join(r->dir ? r->dir : ".", "garage.yaml");
    if (fs_exists(marker)) {
        history_path = fs_join(r->dir ? r->dir : ".", ".garage_history");
        if (fs_exists(history_path))
            read_history(history_path);
    }
    free(marker);
    return history_path;
}

static void
remember(struct repl *r, const char *line)
{
    const char *p = line;
    while (*p == ' ' || *p == '\t')
        p++;
    if (!*p)
        return;
    HIST_ENTRY *last = history_length > 0 ? history_get(history_base + history_length - 1)
                                          : NULL;
    if (last && !strcmp(last->line, line))
        return;                         /* no runs of the same line */
    add_history(line);
    const char *file = history_file(r);
    if (file && (fs_exists(file) ? append_history(1, file) : write_history(file)) != 0)
        history_path = NULL;            /* unwritable: keep it in memory only */
}

static void on_line(char *line);

static void
show_prompt(struct repl *r)
{
    char *prompt = make_prompt(r);
    fflush(stdout);
    rl_callback_handler_install(prompt, on_line);
    free(prompt);
}

static void
on_line(char *line)
{
    struct repl *r = the_repl;
    rl_callback_handler_remove();       /* commands run with the terminal as usual */
    if (!line) {                        /* Ctrl-D on an empty line */
        fputc('\n', stdout);
        r->done = 1;
        return;
    }
    remember(r, line);
    exec_line(r, line, 0);
    free(line);
    if (!r->done && !sig_quit)
        show_prompt(r);
}

/* Ctrl-C at the prompt: drop the line (and a search), show a new prompt. */
static void
clear_line(struct repl *r)
{
    rl_free_line_state();
    rl_callback_sigcleanup();
    rl_echo_signal_char(SIGINT);
    rl_callback_handler_remove();
    fputc('\n', stdout);
    show_prompt(r);
}

static char **
attempt_completion(const char *text, int start, int end)
{
    (void)text;
    struct complete_result res;
    rl_attempted_completion_over = 1;   /* no readline file names instead */
    complete_line(rl_line_buffer, (size_t)end, the_repl->dir, repl_words, &res);
    char **m = NULL;
    if (res.n == 0 || res.start != (size_t)start)
        goto out;
    m = xcalloc(res.n + 2, sizeof *m);
    if (res.n == 1) {
        m[0] = res.items[0];
        const char *s = m[0];
        size_t len = strlen(s);
        if (len && (s[len - 1] == '=' || s[len - 1] == '/'))
            rl_completion_suppress_append = 1;
    } else {
        /* m[0]: the longest common prefix, then the matches */
        size_t len = strlen(res.items[0]);
        for (size_t i = 1; i < res.n; i++) {
            size_t k = 0;
            while (k < len && res.items[i][k] == res.items[0][k])
                k++;
            len = k;
        }
        m[0] = xstrndup(res.items[0], len);
        for (size_t i = 0; i < res.n; i++)
            m[i + 1] = res.items[i];
    }
    rl_filename_completion_desired = res.paths;
    free(res.items);                    /* the strings now belong to m */
    res.items = NULL;
    res.n = 0;
out:
    complete_result_release(&res);
    return m;
}

static void
run_prompt(struct repl *r)
{
    the_repl = r;
    rl_readline_name = "garage";
    rl_catch_signals = 0;               /* our handler only sets flags */
    rl_basic_word_break_characters = " \t\n=";
    rl_completer_word_break_characters = " \t\n=";
    rl_attempted_completion_function = attempt_completion;
    history_file(r);
    show_prompt(r);
    while (!r->done && !sig_quit) {
        fd_set fds;
        FD_ZERO(&fds);
        FD_SET(STDIN_FILENO, &fds);
        int n = select(STDIN_FILENO + 1, &fds, NULL, NULL, NULL);
        if (n < 0 && errno != EINTR)
            break;
        if (sig_pending) {
            sig_pending = 0;
            clear_line(r);
            continue;
        }
        if (n > 0)
            rl_callback_read_char();
    }
    if (!r->done)
        rl_callback_handler_remove();
    const char *file = history_file(r);
    if (file)
        history_truncate_file(file, HISTORY_LINES);
}

int
repl_main(struct gr_ctx *ctx, const struct gr_args *a, struct progress *prog)
{
    struct repl r = {
        .ctx = ctx,
        .prog = prog,
        .dir = ctx->dir,
        .script = !isatty(STDIN_FILENO),
        .keep_going = args_bool(a, "keep_going"),
    };
    install_signals(ctx->job);
    int status = 0;
    if (r.script)
        status = run_script(&r);
    else
        run_prompt(&r);
    free(r.steps);
    free(history_path);
    history_path = NULL;
    return status;
}
