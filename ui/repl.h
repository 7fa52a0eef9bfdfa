/* repl.h: 'garage repl': the registry's commands at a GNU Readline
 * prompt, or a script read from standard input.  See garage(1). */
#ifndef GR_UI_REPL_H
#define GR_UI_REPL_H

#include "app/command.h"
#include "progress.h"

/* Run the REPL in ctx (ctx->dir is the workspace folder, NULL for the
 * current one; ctx->job receives Ctrl-C) with the repl command's options
 * a.  A terminal on standard input gets the prompt; anything else is a
 * script, one command a line.  Returns the exit status: 0, or that of
 * the first failing command (1; 2 for usage; 130 when stopped). */
int repl_main(struct gr_ctx *ctx, const struct gr_args *a, struct progress *prog);

#endif
