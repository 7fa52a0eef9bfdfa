/* progress.h: how the command line shows the engine's metrics: a live
 * line with a bar, rate and ETA on a terminal, plain periodic lines when
 * output is not a terminal. */
#ifndef GR_UI_PROGRESS_H
#define GR_UI_PROGRESS_H

#include <stdio.h>

#include "base/metrics.h"

struct progress {
    FILE *f;            /* where lines go (stderr) */
    int tty;            /* f is a terminal: redraw one line in place */
    int quiet;          /* only notes and errors */
    int line_open;      /* a live line is on screen */
    char what[GR_METRIC_TEXT]; /* current progress task */
    double t0;          /* its start (seconds) */
    double last_draw;   /* last time drawn */
    double last_plain;  /* last plain line */
    double table_iter;  /* tune: the iteration of the last table rows */
};

void progress_init(struct progress *p, FILE *f, int quiet);
/* metrics callback (ctx is a struct progress *). */
void progress_on_metric(void *ctx, const struct gr_metric *m);
/* End a live line before other output. */
void progress_break(struct progress *p);

#endif
