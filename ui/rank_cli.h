/* rank_cli.h: the plain line interface for ranking answers: the
 * labeler_ops (app/labeler.h) of the command line and the REPL.
 *
 * Shows the prompt and its numbered answers, then reads one line:
 *   3 1 2 4   the order, best first (also "3124", "3,1,2,4", "3>1>2>4")
 *   3 1t2 4   't' (or '=') between two answers ties them
 *   r 5 3 4 0 rate each answer 0-5 ('-' unrated); the order follows
 *   s         skip this prompt          b   every answer is bad
 *   e         write a better answer, then order the sampled ones
 *   q         stop (run the step again to go on)       ?  help
 * It reads standard input, so a script can rank too ("scripted human").
 * The curses ranking screen implements the same ops. */
#ifndef GR_UI_RANK_CLI_H
#define GR_UI_RANK_CLI_H

#include <stdio.h>

#include "app/labeler.h"
#include "progress.h"

struct rank_cli {
    FILE *in, *out;
    struct progress *prog;      /* live progress line to end first; may be NULL */
};

void rank_cli_init(struct rank_cli *c, FILE *in, FILE *out, struct progress *prog);

/* 1 if fd can be read for rankings: a terminal, a pipe or a file (not
 * /dev/null or a closed descriptor). */
int rank_cli_usable(int fd);

extern const struct labeler_ops rank_cli_ops;

#endif
