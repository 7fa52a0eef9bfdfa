/* worker.c: the TUI's worker thread (see worker.h). */
#include "worker.h"

#include <stdlib.h>
#include <string.h>

#include "base/xalloc.h"

static void
capture(void *ctx, const char *text, size_t n)
{
    struct worker *w = ctx;
    pthread_mutex_lock(&w->mu);
    if (w->outlen + n + 1 > w->outcap) {
        w->outcap = (w->outlen + n + 1) * 2;
        w->out = xrealloc(w->out, w->outcap);
    }
    memcpy(w->out + w->outlen, text, n);
    w->outlen += n;
    w->out[w->outlen] = 0;
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
    free(w->out);
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
worker_poll(struct worker *w, struct gr_metric *out)
{
    return metrics_poll(&w->metrics, out);
}

char *
worker_take_text(struct worker *w, size_t *n)
{
    char *t = NULL;
    pthread_mutex_lock(&w->mu);
    if (w->outlen) {
        t = w->out;
        *n = w->outlen;
        w->out = NULL;
        w->outlen = w->outcap = 0;
    }
    pthread_mutex_unlock(&w->mu);
    return t;
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
