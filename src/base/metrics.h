/* metrics.h: how the engine reports what it is doing.
 *
 * A job emits records: a kind ("train", "eval", "progress", "sample",
 * "note", ...) with up to GR_METRIC_MAX named numbers and one text.
 * Each record goes (1) to the JSONL log, one object per line, unless it
 * is a "progress" record, (2) to the front end's callback, called on the
 * emitting (worker) thread, and (3) into a bounded queue that a front end
 * polls from its own thread.  The engine never prints. */
#ifndef GR_METRICS_H
#define GR_METRICS_H

#include <pthread.h>
#include <stdio.h>

#include "base/error.h"

#define GR_METRIC_MAX 32
#define GR_METRIC_KEY 24
#define GR_METRIC_TEXT 512
#define GR_METRICS_QUEUE 4096

struct gr_metric {
    char kind[16];
    int n;
    char keys[GR_METRIC_MAX][GR_METRIC_KEY];
    double vals[GR_METRIC_MAX];
    char text[GR_METRIC_TEXT];   /* "" when none */
};

struct gr_metrics {
    FILE *log;                          /* NULL: no log */
    void (*on_metric)(void *ctx, const struct gr_metric *m);
    void *ctx;
    pthread_mutex_t mu;
    struct gr_metric *ring;             /* GR_METRICS_QUEUE records */
    unsigned head, tail;                /* tail - head = records queued */
    int queue_on;                       /* 0: queue disabled */
};

/* Set up a sink.  callback may be NULL; queue nonzero keeps a queue. */
void metrics_init(struct gr_metrics *m,
                  void (*callback)(void *ctx, const struct gr_metric *rec),
                  void *ctx, int queue);
void metrics_release(struct gr_metrics *m);

/* Open (append) the JSONL log at path; closes any previous one. */
enum gr_status metrics_open_log(struct gr_metrics *m, const char *path,
                                struct gr_error *err);
void metrics_close_log(struct gr_metrics *m);

/* Record building. */
void metric_begin(struct gr_metric *rec, const char *kind);
void metric_add(struct gr_metric *rec, const char *key, double val);
void metric_text(struct gr_metric *rec, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Value of key in rec, or def when absent. */
double metric_get(const struct gr_metric *rec, const char *key, double def);

/* Deliver rec (m may be NULL: then nothing happens).  Thread-safe. */
void metrics_emit(struct gr_metrics *m, const struct gr_metric *rec);

/* Shorthands. */
void metrics_progress(struct gr_metrics *m, const char *what,
                      double done, double total, const char *unit);
void metrics_note(struct gr_metrics *m, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Take the oldest queued record into *out; 1 if one was taken, 0 if the
 * queue is empty.  When the queue overflows the oldest records are dropped. */
int metrics_poll(struct gr_metrics *m, struct gr_metric *out);

/* Write rec as one JSON object (no newline) to f. */
void metric_write_json(FILE *f, const struct gr_metric *rec);

#endif
