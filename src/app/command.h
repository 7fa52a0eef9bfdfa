/* command.h: the one command registry.
 *
 * Every action is a command with typed, documented options.  This table
 * drives the command line, session validation, the REPL, help text and
 * the man pages.  Values are parsed and range-checked here, once. */
#ifndef GR_COMMAND_H
#define GR_COMMAND_H

#include <stddef.h>
#include <stdint.h>

#include "base/error.h"
#include "base/metrics.h"

enum opt_type {
    OPT_INT,
    OPT_FLOAT,
    OPT_BOOL,
    OPT_STRING,
    OPT_PATH,       /* a file or folder; resolved against the base folder */
    OPT_CHOICE,     /* one of choices ("next|masked") */
    OPT_PATHS,      /* a list of paths */
    OPT_STRINGS,    /* a list of texts (words, answers); no path resolution */
};

struct gr_option {
    const char *name;
    enum opt_type type;
    const char *def;        /* default, as text; NULL: unset unless given */
    double min, max;        /* INT/FLOAT range, inclusive; ignored if min > max */
    const char *choices;    /* OPT_CHOICE: "a|b|c" */
    const char *help;       /* one line */
};

struct gr_value {
    int set;                /* given by the user (not the default) */
    int has;                /* has a value (given or default) */
    long long i;            /* OPT_INT, OPT_BOOL */
    double f;               /* OPT_FLOAT */
    char *s;                /* OPT_STRING, OPT_PATH, OPT_CHOICE (owned) */
    char **list;            /* OPT_PATHS, OPT_STRINGS (owned) */
    size_t nlist;
};

struct gr_ctx;
struct gr_args;

enum {
    CMD_WORKSPACE = 1 << 0,  /* needs an open workspace */
    CMD_NO_SESSION = 1 << 1, /* not allowed as a session step */
};

struct gr_command {
    const char *name;
    const char *summary;     /* one line for `garage help` */
    const char *positional;  /* option that takes bare arguments, or NULL */
    const char *description; /* a paragraph for `garage help NAME` */
    int flags;
    const struct gr_option *opts;  /* ends with { NULL } */
    enum gr_status (*run)(struct gr_ctx *ctx, const struct gr_args *a,
                          struct gr_error *err);
};

struct gr_args {
    const struct gr_command *cmd;
    struct gr_value *v;      /* one per option, in table order */
    size_t nopts;
    char *base_dir;          /* relative paths resolve against this */
};

/* What a command runs with.  Front ends fill it; the engine reads it. */
struct chat;
struct workspace;
struct gr_job;
struct labeler_ops;
struct gr_ctx {
    const char *dir;             /* -C folder (NULL: current folder) */
    struct workspace *ws;        /* open workspace, when the command needs one */
    struct gr_metrics *metrics;  /* progress and metrics; may be NULL */
    struct gr_job *job;          /* pause/stop/save requests; may be NULL */
    /* sft: the conversation loop of the 'chat' command (stages/chat.h): a
     * readline prompt, or one turn per line of a pipe; NULL: none. */
    enum gr_status (*chat_loop)(struct gr_ctx *ctx, struct chat *c,
                                struct gr_error *err);
    /* Results meant for the person (reports, samples, tables).  The
     * engine calls it; the front end decides where the text goes. */
    void (*write)(void *wctx, const char *text, size_t n);
    void *wctx;
    int interactive;             /* a person is at a terminal */
    /* A person's rankings (app/labeler.h): the front end's ranking
     * screen, or NULL when it has none (labeler=human then fails). */
    const struct labeler_ops *labeler;
    void *labeler_ctx;
};

/* printf into ctx->write (no-op when write is NULL). */
void ctx_printf(struct gr_ctx *ctx, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void ctx_write(struct gr_ctx *ctx, const char *text, size_t n);

/* ---- the registry -------------------------------------------------- */

/* All commands, ending with { NULL }. */
extern const struct gr_command gr_commands[];

const struct gr_command *command_find(const char *name);
/* Edit distance between two names, ignoring case (for "did you mean"). */
size_t command_name_distance(const char *a, const char *b);
/* Nearest command name to name (edit distance), or NULL. */
const char *command_nearest(const char *name);
/* Option by name ('-' and '_' are the same), or NULL. */
const struct gr_option *command_option(const struct gr_command *cmd,
                                       const char *name);
const char *command_nearest_option(const struct gr_command *cmd,
                                   const char *name);
/* Index of opt in cmd->opts. */
size_t command_option_index(const struct gr_command *cmd,
                            const struct gr_option *opt);

/* Type of an option as a word ("integer", "number", ...). */
const char *option_type_name(const struct gr_option *opt);

/* ---- arguments ------------------------------------------------------ */

/* Defaults in place; base_dir NULL means the current folder. */
void args_init(struct gr_args *a, const struct gr_command *cmd,
               const char *base_dir);
void args_release(struct gr_args *a);

/* Parse text as the value of opt and store it (a list option appends).
 * On error the message says what was expected, without any location;
 * the caller prefixes "file:line:col: " or "garage: ". */
enum gr_status args_set(struct gr_args *a, const struct gr_option *opt,
                        const char *text, struct gr_error *err);
/* Apply "key=value" (as on the command line). */
enum gr_status args_set_kv(struct gr_args *a, const char *kv,
                           struct gr_error *err);
/* 1 if a command line after the command name asks for its help: a word
 * "-h" or "--help" (no command has an option named help). */
int args_ask_help(int argc, char *const *argv);
/* Parse a whole command line after the command name:
 * key=value, --key value, --key=value, --flag, bare positional words,
 * and a first word naming a list or boolean option ("corpus add a b",
 * "corpus info"). */
enum gr_status args_parse_argv(struct gr_args *a, int argc, char **argv,
                               struct gr_error *err);

/* Typed access by option name (asserts the name and type exist). */
long long args_int(const struct gr_args *a, const char *name);
double args_float(const struct gr_args *a, const char *name);
int args_bool(const struct gr_args *a, const char *name);
/* String, choice or path; NULL when unset.  Paths come back resolved. */
const char *args_str(const struct gr_args *a, const char *name);
/* List option (paths or texts); returns count, *out the items (paths
 * resolved). */
size_t args_list(const struct gr_args *a, const char *name, char *const **out);
/* 1 if the user gave this option. */
int args_isset(const struct gr_args *a, const char *name);
/* 1 if the option has a value (given or default). */
int args_has(const struct gr_args *a, const char *name);

/* Run a parsed command: opens the workspace when the command needs one. */
enum gr_status command_run(struct gr_ctx *ctx, const struct gr_args *a,
                           struct gr_error *err);

/* ---- help ----------------------------------------------------------- */

/* Text for `garage help` (all commands) and `garage help NAME`; caller frees. */
char *command_help_all(void);
char *command_help(const struct gr_command *cmd);
/* roff for the man pages' command and option sections; caller frees. */
char *command_help_roff(void);

#endif
