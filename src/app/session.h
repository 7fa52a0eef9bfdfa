/* session.h: YAML session files, run headless.
 *
 *   garage: 1
 *   workspace: ./my-garage      # relative to the current folder; -C wins
 *   seed: 1337
 *   steps:
 *     - corpus: { add: [/usr/share/games/fortunes], format: fortune }
 *     - pretrain: { steps: 100 }
 *
 * Each step is one registry command with its options, validated against
 * the registry before anything runs; every error names file:line:column.
 * Paths inside steps resolve relative to the session file's folder. */
#ifndef GR_SESSION_H
#define GR_SESSION_H

#include <stddef.h>
#include <stdint.h>

#include "app/command.h"

struct session_step {
    const struct gr_command *cmd;
    struct gr_args args;
    int line, col;              /* where the step starts (1-based) */
};

struct session {
    char *path;                 /* as given */
    char *workspace;            /* NULL when the file has none */
    int has_seed;
    uint64_t seed;
    struct session_step *steps;
    size_t nsteps;
};

/* Parse and validate path.  sets: "step.key=value" overrides (step is a
 * command name, applied to every step of that command, or a 1-based
 * index).  On error nothing is kept and err says file:line:col: what. */
enum gr_status session_load(struct session *s, const char *path,
                            char *const *sets, size_t nsets,
                            struct gr_error *err);
void session_release(struct session *s);

/* Run the steps in order in ctx (creating the workspace if missing);
 * stops at the first failure, naming the step ("file:line: step 3
 * 'pretrain': ..."). */
enum gr_status session_run(struct session *s, struct gr_ctx *ctx,
                           struct gr_error *err);

/* The registry's 'run' command: load, validate, and run unless dry_run. */
enum gr_status cmd_run(struct gr_ctx *ctx, const struct gr_args *a,
                       struct gr_error *err);

#endif
