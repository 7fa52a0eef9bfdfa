/* main.c: the garage program.  Global options, the BLAS kernel fix,
 * then one registry command (or, later, the TUI or the REPL). */
#include "config.h"

#include <cblas.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "app/command.h"
#include "app/complete.h"
#include "app/job.h"
#include "base/metrics.h"
#include "base/xalloc.h"
#include "kernels/amx.h"
#include "kernels/bf16.h"
#include "kernels/blas.h"
#include "stages/common.h"
#include "chat.h"
#include "progress.h"
#include "rank_cli.h"
#include "repl.h"
#include "tui/tui.h"

/* Exit statuses: 0 ok, 1 failure, 2 usage. */
enum { EXIT_USAGE = 2 };

static const char usage_text[] =
    "Usage: garage [-C DIR] [-q] COMMAND [key=value | --key value]...\n"
    "       garage help [COMMAND]\n"
    "       garage [-C DIR] repl [--keep-going]\n"
    "\n"
    "Build a small ChatGPT from scratch: gather text, train a tokenizer and a\n"
    "language model, rank its answers, train a reward model, tune, and chat.\n"
    "\n"
    "Options:\n"
    "  -C DIR         run in the workspace DIR (default: the current folder)\n"
    "  -q, --quiet    print only results and errors, no progress (also after\n"
    "                 the command)\n"
    "  -h, --help     show this help; after a command, that command's help\n"
    "  -V, --version  show the version, the BLAS kernel and the precision in use\n"
    "\n";

/* Debian's OpenBLAS 0.3.21 does not know recent CPUs and falls back to an
 * SSE3 kernel, 5x slower.  The core type is read when the library loads,
 * so set it and re-execute ourselves once.  A value the user set wins.
 * OMP_WAIT_POLICY=PASSIVE keeps OpenMP's spinning threads from fighting
 * OpenBLAS's pool (../shared/PERF-NOTES.md). */
static int
is_fallback_core(const char *core)
{
    static const char *const slow[] = {
        "Prescott", "Core2", "Nehalem", "Sandybridge", "Haswell", "Penryn",
        "Dunnington", "Atom", NULL
    };
    for (const char *const *s = slow; *s; s++)
        if (core && strcasecmp(core, *s) == 0)
            return 1;
    return 0;
}

static void
fix_blas_kernel(char **argv)
{
    if (getenv("GARAGE_REEXECED"))
        return;
    int again = 0;
#ifdef HAVE_OPENBLAS_GET_CORENAME
    if (!getenv("OPENBLAS_CORETYPE") && __builtin_cpu_supports("avx512f") &&
        is_fallback_core(openblas_get_corename())) {
        setenv("OPENBLAS_CORETYPE", "SkylakeX", 1);
        again = 1;
    }
#endif
    if (!getenv("OMP_WAIT_POLICY")) {
        setenv("OMP_WAIT_POLICY", "PASSIVE", 1);
        again = 1;
    }
    if (!again)
        return;
    setenv("GARAGE_REEXECED", "1", 1);
    execv("/proc/self/exe", argv);
    fprintf(stderr, "garage: warning: could not re-execute to select the fast "
            "BLAS kernel; continuing slower\n");
}

static void
write_stdout(void *ctx, const char *text, size_t n)
{
    struct progress *p = ctx;
    progress_break(p);
    fwrite(text, 1, n, stdout);
    fflush(stdout);
}

static struct gr_job main_job;
static volatile sig_atomic_t interrupts;

static void
on_sigint(int sig)
{
    (void)sig;
    if (++interrupts >= 2) {
        static const char msg[] = "\ngarage: interrupted again; quitting without saving\n";
        ssize_t w = write(STDERR_FILENO, msg, sizeof msg - 1);
        (void)w;
        _exit(130);
    }
    static const char msg[] = "\ngarage: stopping after this step (Ctrl-C again to quit now)\n";
    ssize_t w = write(STDERR_FILENO, msg, sizeof msg - 1);
    (void)w;
    job_request_stop(&main_job);
}

static void
print_version(void)
{
    printf("garage %s\n", PACKAGE_VERSION);
#ifdef HAVE_OPENBLAS_GET_CORENAME
    const char *ct = getenv("OPENBLAS_CORETYPE");
    printf("BLAS: OpenBLAS, kernel %s%s%s%s\n", openblas_get_corename(),
           ct ? " (OPENBLAS_CORETYPE=" : "", ct ? ct : "", ct ? ")" : "");
#endif
    const char *nt = getenv("OMP_NUM_THREADS");
    kernels_set_threads(nt ? atoi(nt) : 0);
    printf("Products: %s, %d thread%s\n", kernels_sgemm_backend(),
           kernels_threads(), kernels_threads() == 1 ? "" : "s");
    /* what precision=auto picks here, and why not bf16 */
    if (stage_train_precision(NULL) == GPT_BF16) {
        printf("Training (precision=auto): bf16 products (oneDNN, AMX)\n");
    } else {
        const char *why = NULL;
        if (bf16_available(&why))
            amx_available(&why);
        printf("Training (precision=auto): fp32 products (bf16: %s)\n",
               why ? why : "not available");
    }
    printf("Generation (precision=auto): %s\n",
           stage_gen_precision(NULL) != GPT_BF16 ?
           "fp32 weights (bf16 weights need AVX-512)" :
           amx_available(NULL) ? "bf16 weights (more than 4 sequences on "
                                 "AMX tiles)" : "bf16 weights");
}

int
main(int argc, char **argv)
{
    fix_blas_kernel(argv);

    const char *dir = NULL;
    int quiet = 0;
    int i = 1;
    for (; i < argc && argv[i][0] == '-'; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-C")) {
            if (++i >= argc) {
                fprintf(stderr, "garage: -C needs a folder\n");
                return EXIT_USAGE;
            }
            dir = argv[i];
        } else if (!strncmp(a, "-C", 2)) {
            dir = a + 2;
        } else if (!strcmp(a, "-q") || !strcmp(a, "--quiet")) {
            quiet = 1;
        } else if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            char *all = command_help_all();
            printf("%s%s", usage_text, all);
            free(all);
            return EXIT_SUCCESS;
        } else if (!strcmp(a, "--roff-commands")) {   /* for the man pages */
            char *roff = command_help_roff();
            fputs(roff, stdout);
            free(roff);
            return EXIT_SUCCESS;
        } else if (!strcmp(a, "--list-commands")) {   /* repl: shell completion */
            char *list = complete_list_commands();
            fputs(list, stdout);
            free(list);
            return EXIT_SUCCESS;
        } else if (!strcmp(a, "--list-options")) {    /* repl: "NAME KIND POS ..." */
            const struct gr_command *c = i + 1 < argc ? command_find(argv[i + 1]) : NULL;
            if (!c) {
                fprintf(stderr, "garage: --list-options needs a command name\n");
                return EXIT_USAGE;
            }
            char *list = complete_list_options(c);
            fputs(list, stdout);
            free(list);
            return EXIT_SUCCESS;
        } else if (!strcmp(a, "-V") || !strcmp(a, "--version")) {
            print_version();
            return EXIT_SUCCESS;
        } else {
            fprintf(stderr, "garage: unknown option '%s' (see 'garage --help')\n", a);
            return EXIT_USAGE;
        }
    }
    if (i >= argc && isatty(STDIN_FILENO) && isatty(STDOUT_FILENO)) {
        /* tui: 'garage' alone on a terminal opens the curses application */
        const char *nt = getenv("OMP_NUM_THREADS");
        kernels_set_threads(nt ? atoi(nt) : 0);
        return tui_main(dir, NULL, NULL, 0);
    }
    if (i >= argc) {
        char *all = command_help_all();
        fprintf(stderr, "%s%s", usage_text, all);
        free(all);
        return EXIT_USAGE;
    }

    const char *name = argv[i++];
    const struct gr_command *cmd = command_find(name);
    if (!cmd) {
        const char *near = command_nearest(name);
        fprintf(stderr, "garage: unknown command '%s' (did you mean '%s'?)\n",
                name, near ? near : "help");
        return EXIT_USAGE;
    }

    /* After the command: -h/--help shows its help, as 'garage help NAME'
     * does; -q/--quiet is taken as before it; -C must come before it (a
     * folder after the command would be read as one of its arguments). */
    if (args_ask_help(argc - i, argv + i)) {
        char *text = command_help(cmd);
        fputs(text, stdout);
        free(text);
        return EXIT_SUCCESS;
    }
    int nargs = 0;
    char **cargs = xmalloc((size_t)(argc - i + 1) * sizeof *cargs);
    for (int k = i; k < argc; k++) {
        const char *a = argv[k];
        if (!strcmp(a, "-q") || !strcmp(a, "--quiet")) {
            quiet = 1;
            continue;
        }
        if (!strncmp(a, "-C", 2)) {
            fprintf(stderr, "garage: -C goes before the command: garage -C DIR %s ...\n",
                    cmd->name);
            free(cargs);
            return EXIT_USAGE;
        }
        cargs[nargs++] = argv[k];
    }
    cargs[nargs] = NULL;

    /* One pool of threads: OpenMP, with OpenBLAS held at one thread and
     * each product split across our threads (kernels/blas.h). */
    const char *nt = getenv("OMP_NUM_THREADS");
    kernels_set_threads(nt ? atoi(nt) : 0);

    struct progress prog;
    progress_init(&prog, stderr, quiet);
    struct gr_metrics metrics;
    metrics_init(&metrics, progress_on_metric, &prog, 0);
    job_init(&main_job);
    struct sigaction sa = { 0 };
    sa.sa_handler = on_sigint;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);

    struct gr_ctx ctx = {
        .dir = dir,
        .metrics = &metrics,
        .job = &main_job,
        .write = write_stdout,
        .wctx = &prog,
        .interactive = isatty(STDIN_FILENO) && isatty(STDOUT_FILENO),
        .chat_loop = ui_chat_loop,      /* sft: 'garage chat' (ui/chat.c) */
    };
    /* reward: a person ranks answers at the terminal (or a script on
     * standard input); with neither, labeler=human fails with advice. */
    struct rank_cli ranker;
    rank_cli_init(&ranker, stdin, stdout, &prog);
    if (rank_cli_usable(STDIN_FILENO)) {
        ctx.labeler = &rank_cli_ops;
        ctx.labeler_ctx = &ranker;
    }
    struct gr_error err = { 0 };
    struct gr_args args;
    args_init(&args, cmd, NULL);
    enum gr_status rc = args_parse_argv(&args, nargs, cargs, &err);
    free(cargs);
    if (rc == GR_OK && !strcmp(cmd->name, "repl")) {    /* repl: its own loop and signals */
        int status = repl_main(&ctx, &args, &prog);
        args_release(&args);
        metrics_release(&metrics);
        return status;
    }
    if (rc == GR_OK && (!strcmp(cmd->name, "tui") ||              /* tui */
                        (!strcmp(cmd->name, "run") && args_bool(&args, "tui")))) {
        char *const *sets = NULL;
        size_t nsets = !strcmp(cmd->name, "run") ? args_list(&args, "set", &sets) : 0;
        int status = tui_main(dir, !strcmp(cmd->name, "run") ? args_str(&args, "file") : NULL,
                              sets, nsets);
        args_release(&args);
        metrics_release(&metrics);
        return status;
    }
    if (rc == GR_OK)
        rc = command_run(&ctx, &args, &err);
    progress_break(&prog);
    args_release(&args);
    metrics_release(&metrics);

    if (rc == GR_ESTOPPED) {
        fprintf(stderr, "garage: %s\n", err.msg[0] ? err.msg : "stopped");
        return 130;
    }
    if (rc != GR_OK) {
        fprintf(stderr, "garage: %s\n", err.msg);
        return rc == GR_EUSAGE ? EXIT_USAGE : EXIT_FAILURE;
    }
    return EXIT_SUCCESS;
}
