/* workspace.h: a garage workspace is a folder, like a git repository:
 *
 *   garage.yaml  corpus/  tokenizer.bin  checkpoints/  labels/  logs/
 *
 * Stage state is read from the files themselves (a tokenizer exists when
 * tokenizer.bin does), so it cannot go stale. */
#ifndef GR_WORKSPACE_H
#define GR_WORKSPACE_H

#include <stdint.h>

#include "base/error.h"

struct workspace {
    char *root;         /* folder, as given */
    uint64_t seed;      /* from garage.yaml */
};

/* Create the layout in dir (created if missing).  Refuses a folder that
 * already holds a workspace. */
enum gr_status workspace_init(const char *dir, uint64_t seed,
                              struct gr_error *err);
/* Open the workspace at dir ("." if NULL); GR_ESTATE if it is not one. */
enum gr_status workspace_open(struct workspace *ws, const char *dir,
                              struct gr_error *err);
void workspace_release(struct workspace *ws);

/* root/rel; caller frees. */
char *workspace_path(const struct workspace *ws, const char *rel);

/* Newest checkpoint of a kind ("base", "sft", "reward", "tuned") by
 * step, as a path (caller frees), or NULL when there is none. */
char *workspace_latest_checkpoint(const struct workspace *ws,
                                  const char *kind);

/* A new run name "<kind>-YYYYmmdd-HHMMSS" for logs/<run>.jsonl; caller frees. */
char *workspace_run_name(const char *kind);

struct gr_ctx;
/* Print (ctx_printf) each stage with its state and key facts. */
enum gr_status workspace_status(struct gr_ctx *ctx, struct gr_error *err);

#endif
