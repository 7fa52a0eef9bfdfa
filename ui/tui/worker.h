/* worker.h: the one worker thread that runs long commands for the TUI.
 *
 * The job reports through a metrics queue the event loop drains, and
 * writes its text into a buffer the loop takes; pause, save-now and stop
 * go to it through the job flags (app/job.h).  Nothing here touches
 * curses. */
#ifndef GR_TUI_WORKER_H
#define GR_TUI_WORKER_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>

#include "app/command.h"
#include "app/job.h"
#include "base/metrics.h"

/* Text written while the metrics queue had seen seq records: it goes
 * after those records and before the next. */
struct worker_text {
    char *s;
    size_t n;
    unsigned seq;
};

typedef enum gr_status (*worker_fn)(struct gr_ctx *ctx, void *arg,
                                    struct gr_error *err);

struct worker {
    pthread_t th;
    int started;                /* a thread to join */
    atomic_int running;         /* 1 until the job returns */
    struct gr_job job;
    struct gr_metrics metrics;  /* with a queue */
    struct gr_ctx ctx;
    char *dir;
    pthread_mutex_t mu;         /* guards chunks */
    struct worker_text *chunks; /* text the job wrote, not taken yet */
    size_t nchunks, cap;
    struct gr_args *steps;      /* commands to run in order (owned) */
    size_t nsteps;
    atomic_size_t cur;          /* the step running */
    worker_fn fn;               /* or a function to run */
    void *fn_arg;
    /* Called with the job's context before it starts, to add what the
     * front end offers it (a chat loop, a labeler); then cleared. */
    void (*prepare)(struct gr_ctx *ctx, void *arg);
    void *prepare_arg;
    enum gr_status rc;
    struct gr_error err;
};

void worker_init(struct worker *w);
/* Stops and joins a running job first. */
void worker_release(struct worker *w);

/* Run steps (taken over: released when done) in dir on a new thread.
 * -1 if a job runs already (the steps are released then too). */
int worker_start(struct worker *w, const char *dir, struct gr_args *steps,
                 size_t nsteps);
/* Run fn(ctx, arg) instead of commands. */
int worker_start_fn(struct worker *w, const char *dir, worker_fn fn, void *arg);

int worker_busy(struct worker *w);
/* Name of the command running ("" when none). */
const char *worker_label(struct worker *w);
/* What the job produced next, in the order it did: 1 and a record in
 * *m, 2 and text in *text (caller frees) and *n, or 0 when nothing is
 * waiting. */
int worker_next(struct worker *w, struct gr_metric *m, char **text, size_t *n);
/* 1 once when the job has ended (the thread is joined): its status and
 * error. */
int worker_reap(struct worker *w, enum gr_status *rc, struct gr_error *err);

#endif
