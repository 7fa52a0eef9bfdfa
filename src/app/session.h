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
 * Paths inside steps resolve relative to the session file's folder.
 *
 * Further (garage-session(5)):
 *   - include: other.yaml      a step that inserts the steps of another
 *                              session file there (relative to this
 *                              file; its workspace and seed are ignored;
 *                              a cycle is an error);
 *   - ${NAME}, ${NAME:-word}   the environment, in every scalar value
 *                              ("$$" is one '$'); unset is an error;
 *   when_missing: true         in a step's options: skip the step when
 *                              its output exists (session_step_done). */
#ifndef GR_SESSION_H
#define GR_SESSION_H

#include <stddef.h>
#include <stdint.h>

#include "app/command.h"

struct session_step {
    const struct gr_command *cmd;
    struct gr_args args;
    const char *file;           /* the file it is in (one of session.files) */
    int line, col;              /* where the step starts (1-based) */
    int when_missing;           /* skip when its output exists */
};

struct session {
    char *path;                 /* as given */
    char *workspace;            /* NULL when the file has none */
    int has_seed;
    uint64_t seed;
    struct session_step *steps;
    size_t nsteps;
    char **files;               /* path of each file read (included ones too) */
    size_t nfiles;
    /* Called after each step that ran and succeeded (not a skipped
     * one); set after session_load.  The REPL records steps with it. */
    void (*on_step)(void *hctx, const struct session_step *st);
    void *hctx;
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
 * 'pretrain': ...", file being the one the step is written in).  A
 * when_missing step whose output exists is skipped with a note. */
enum gr_status session_run(struct session *s, struct gr_ctx *ctx,
                           struct gr_error *err);

/* ---- what steps produce ------------------------------------------- */

struct workspace;

/* 1 when the output of a step of cmd with options a exists in ws, so that
 * when_missing skips it.  The outputs (a table in session.c):
 *   corpus     the corpus holds documents
 *   tokenizer  tokenizer.bin and the training token shard
 *   model      a base checkpoint
 *   pretrain   a base checkpoint at step >= steps
 *   demos      labels/demos.jsonl is not empty
 *   sft, tune  an sft (tuned) checkpoint at step >= steps (any one,
 *              when the step counts in epochs)
 *   rank       labels/rankings.jsonl is not empty
 *   reward     a reward checkpoint
 * Every other command (sample, status, info, chat...) is never skipped:
 * 0.  a NULL means "any output at all" (pretrain: a step above 0). */
int session_step_done(const struct workspace *ws, const struct gr_command *cmd,
                      const struct gr_args *a);

/* The next stage of the recipe in ws: the first of corpus, tokenizer,
 * model, pretrain, demos, sft, rank, reward, tune (those the registry
 * has) whose output is missing; else chat, or sample without chat. */
const char *session_next_stage(const struct workspace *ws);

/* 0 for a step that only shows something (status, info, sample, help,
 * chat, corpus info, tokenizer show=..., demos list/export, prefs
 * export, reward score), so that save-session leaves it out; 1 for any
 * other. */
int session_step_changes_state(const struct gr_args *a);

/* One step as a line of a session file, "  - model: { layers: 2 }\n":
 * the options given, exactly (floats round-trip, paths as resolved,
 * '$' doubled), and seed: seed when the command has a seed option that
 * was not given, so a replay draws the same numbers.  Caller frees. */
char *session_step_yaml(const struct gr_args *a, uint64_t seed);

/* Write a session file (atomically): a header comment, "garage: 1",
 * "seed: SEED", and "steps:" followed by steps, lines from
 * session_step_yaml.  GR_EINPUT when steps is empty. */
enum gr_status session_write(const char *path, uint64_t seed, const char *steps,
                             struct gr_error *err);

/* The registry's 'run' command: load, validate, and run unless dry_run. */
enum gr_status cmd_run(struct gr_ctx *ctx, const struct gr_args *a,
                       struct gr_error *err);

#endif
