/* labeler.h: how a front end lets a person rank answers.
 *
 * The ranking step ('rank labeler=human', src/stages/rank.c) samples K
 * answers to a prompt and hands them to the front end through these ops;
 * the front end shows them, reads the person's ranking and fills a reply.
 * The engine then appends the label to labels/rankings.jsonl with one
 * fsync, calls saved(), and only then asks for the next prompt.
 *
 * A front end that can rank sets ctx->labeler and ctx->labeler_ctx
 * (struct gr_ctx, app/command.h) before running commands:
 *   - ui/rank_cli.c: the plain line interface of the command line and
 *     the REPL (reads standard input: a terminal, or a script);
 *   - the curses ranking screen of the TUI implements the same ops.
 * With ctx->labeler NULL, 'rank labeler=human' fails with advice.
 *
 * Calls come on the thread that runs the command, one at a time; the
 * strings in a query live until the call returns. */
#ifndef GR_LABELER_H
#define GR_LABELER_H

#include <stddef.h>

#include "base/error.h"

#define LABEL_MAX_ANSWERS 9     /* K, sampled answers per prompt */
#define LABEL_MAX_RATING 5      /* ratings are 0..5 */

/* One prompt to rank. */
struct label_query {
    const char *prompt;
    const char *answers[LABEL_MAX_ANSWERS];
    int nanswers;               /* 2..LABEL_MAX_ANSWERS */
    size_t number, total;       /* this is prompt `number` (1-based) of
                                   `total` still to rank in this run */
    size_t done;                /* prompts of the file ranked before */
    int want_ratings;           /* rank ratings=true: ask for 0-5 ratings */
    const char *checkpoint;     /* the model that wrote the answers */
    size_t can_undo;            /* labels of this run LABEL_UNDO can take back */
};

enum label_verdict {
    LABEL_ORDERED = 0,  /* order (and tie) filled; ratings, better optional */
    LABEL_RATED,        /* only ratings filled: the order follows from them */
    LABEL_ALL_BAD,      /* every answer is bad (with better: the written
                           answer beats each, the rest are tied) */
    LABEL_SKIP,         /* the person skips this prompt: recorded, not
                           asked again */
    LABEL_QUIT,         /* stop the step now; nothing is recorded for
                           this prompt (it is asked again next time) */
    LABEL_RESAMPLE,     /* sample new answers to this prompt and ask again;
                           nothing is recorded */
    LABEL_UNDO,         /* take back the label this run saved last (cut
                           from the end of the file, with the
                           demonstration it added) and ask its prompt
                           again; only when q->can_undo > 0 */
};

/* What the person said.  The engine zeroes it and sets every rating to
 * -1 before each call. */
struct label_reply {
    enum label_verdict verdict;
    int norder;                         /* LABEL_ORDERED: = nanswers */
    int order[LABEL_MAX_ANSWERS];       /* answer indices (0-based), best
                                           first, each exactly once */
    int tie[LABEL_MAX_ANSWERS];         /* tie[i] != 0: order[i] is as good
                                           as order[i + 1] */
    int ratings[LABEL_MAX_ANSWERS];     /* per answer 0..5, or -1 unrated */
    char *better;                       /* a better answer the person wrote,
                                           ranked first and stored as a
                                           demonstration (malloc'd; the
                                           engine frees), or NULL */
};

struct labeler_ops {
    /* Show q, fill r.  GR_OK with a verdict, or an error (err filled);
     * GR_ESTOPPED when the person interrupted the program. */
    enum gr_status (*rank)(void *self, const struct label_query *q,
                           struct label_reply *r, struct gr_error *err);
    /* Optional: the label of prompt q is on disk (n labels this run). */
    void (*saved)(void *self, const struct label_query *q, size_t n);
    /* Optional: something the person should read between prompts ("prompt
     * 12 skipped: fewer than two usable answers"). */
    void (*notice)(void *self, const char *text);
};

#endif
