/* worker.c: the TUI's worker thread (see worker.h). */
#include "worker.h"

#include <stdlib.h>
#include <string.h>

#include "base/xalloc.h"

/* The job's text, stamped with the number of records emitted before it
 * (locks: w->mu, then the queue's). */
static void
capture(void *ctx, const char *text, size_t n)
{
    struct worker *w = ctx;
    pthread_mutex_lock(&w->mu);
    pthread_mutex_lock(&w->metrics.mu);
    unsigned seq = w->metrics.tail;
    pthread_mutex_unlock(&w->metrics.mu);
    struct worker_text *last = w->nchunks ? &w->chunks[w->nchunks - 1] : NULL;
    if (!last || last->seq != seq) {
        if (w->nchunks == w->cap) {
            w->cap = w->cap ? w->cap * 2 : 16;
            w->chunks = xrealloc(w->chunks, w->cap * sizeof *w->chunks);
        }
        last = &w->chunks[w->nchunks++];
        last->s = NULL;
        last->n = 0;
        last->seq = seq;
    }
    last->s = xrealloc(last->s, last->n + n + 1);
    memcpy(last->s + last->n, text, n);
    last->n += n;
    last->s[last->n] = 0;
    pthread_mutex_unlock(&w->mu);
}

void
worker_init(struct worker *w)
{
    memset(w, 0, sizeof *w);
    atomic_init(&w->running, 0);
    atomic_init(&w->cur, 0);
    job_init(&w->job);
    metrics_init(&w->metrics, NULL, NULL, 1);
    pthread_mutex_init(&w->mu, NULL);
}

static void
free_steps(struct worker *w)
{
    for (size_t i = 0; i < w->nsteps; i++)
        args_release(&w->steps[i]);
    free(w->steps);
    w->steps = NULL;
    w->nsteps = 0;
}

void
worker_release(struct worker *w)
{
    if (w->started) {
        job_request_stop(&w->job);
        pthread_join(w->th, NULL);
        w->started = 0;
    }
    free_steps(w);
    for (size_t i = 0; i < w->nchunks; i++)
        free(w->chunks[i].s);
    free(w->chunks);
    free(w->dir);
    metrics_release(&w->metrics);
    pthread_mutex_destroy(&w->mu);
}

static void *
run(void *arg)
{
    struct worker *w = arg;
    enum gr_status rc = GR_OK;
    gr_error_clear(&w->err);
    if (w->fn) {
        rc = w->fn(&w->ctx, w->fn_arg, &w->err);
    } else {
        for (size_t i = 0; i < w->nsteps && rc == GR_OK; i++) {
            atomic_store(&w->cur, i);
            if (i > 0 && job_should_stop(&w->job)) {
                rc = gr_fail(&w->err, GR_ESTOPPED, "stopped before '%s'",
                             w->steps[i].cmd->name);
                break;
            }
            rc = command_run(&w->ctx, &w->steps[i], &w->err);
        }
    }
    w->rc = rc;
    atomic_store(&w->running, 0);
    return NULL;
}

static int
launch(struct worker *w, const char *dir)
{
    struct gr_metric m;
    while (metrics_poll(&w->metrics, &m))
        ;                               /* a previous job's leftovers */
    for (size_t i = 0; i < w->nchunks; i++)
        free(w->chunks[i].s);
    w->nchunks = 0;
    job_init(&w->job);
    free(w->dir);
    w->dir = dir ? xstrdup(dir) : NULL;
    w->ctx = (struct gr_ctx){
        .dir = w->dir,
        .metrics = &w->metrics,
        .job = &w->job,
        .write = capture,
        .wctx = w,
        .interactive = 0,
    };
    if (w->prepare)
        w->prepare(&w->ctx, w->prepare_arg);
    w->prepare = NULL;
    w->prepare_arg = NULL;
    atomic_store(&w->cur, 0);
    atomic_store(&w->running, 1);
    if (pthread_create(&w->th, NULL, run, w) != 0) {
        atomic_store(&w->running, 0);
        free_steps(w);
        return -1;
    }
    w->started = 1;
    return 0;
}

int
worker_start(struct worker *w, const char *dir, struct gr_args *steps,
             size_t nsteps)
{
    if (w->started) {
        for (size_t i = 0; i < nsteps; i++)
            args_release(&steps[i]);
        free(steps);
        return -1;
    }
    free_steps(w);
    w->steps = steps;
    w->nsteps = nsteps;
    w->fn = NULL;
    return launch(w, dir);
}

int
worker_start_fn(struct worker *w, const char *dir, worker_fn fn, void *arg)
{
    if (w->started)
        return -1;
    free_steps(w);
    w->fn = fn;
    w->fn_arg = arg;
    return launch(w, dir);
}

int
worker_busy(struct worker *w)
{
    return w->started;
}

const char *
worker_label(struct worker *w)
{
    if (!w->started)
        return "";
    if (w->fn)
        return "session";
    size_t i = atomic_load(&w->cur);
    return i < w->nsteps ? w->steps[i].cmd->name : "";
}

int
worker_next(struct worker *w, struct gr_metric *m, char **text, size_t *n)
{
    int got = 0;
    pthread_mutex_lock(&w->mu);
    if (w->nchunks) {
        pthread_mutex_lock(&w->metrics.mu);
        unsigned head = w->metrics.head;
        pthread_mutex_unlock(&w->metrics.mu);
        if ((int)(head - w->chunks[0].seq) >= 0) {
            *text = w->chunks[0].s;
            *n = w->chunks[0].n;
            memmove(w->chunks, w->chunks + 1, (w->nchunks - 1) * sizeof *w->chunks);
            w->nchunks--;
            got = 2;
        }
    }
    if (!got)
        got = metrics_poll(&w->metrics, m);
    if (!got && w->nchunks) {           /* records dropped on overflow */
        *text = w->chunks[0].s;
        *n = w->chunks[0].n;
        memmove(w->chunks, w->chunks + 1, (w->nchunks - 1) * sizeof *w->chunks);
        w->nchunks--;
        got = 2;
    }
    pthread_mutex_unlock(&w->mu);
    return got;
}

int
worker_reap(struct worker *w, enum gr_status *rc, struct gr_error *err)
{
    if (!w->started || atomic_load(&w->running))
        return 0;
    pthread_join(w->th, NULL);
    w->started = 0;
    *rc = w->rc;
    *err = w->err;
    free_steps(w);
    return 1;
}
