#include "base/metrics.h"

#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistr.h>

#include "base/xalloc.h"

void
metrics_init(struct gr_metrics *m,
             void (*callback)(void *ctx, const struct gr_metric *rec),
             void *ctx, int queue)
{
    memset(m, 0, sizeof *m);
    m->on_metric = callback;
    m->ctx = ctx;
    pthread_mutex_init(&m->mu, NULL);
    if (queue) {
        m->ring = xcalloc(GR_METRICS_QUEUE, sizeof *m->ring);
        m->queue_on = 1;
    }
}

void
metrics_release(struct gr_metrics *m)
{
    if (!m)
        return;
    metrics_close_log(m);
    free(m->ring);
    m->ring = NULL;
    pthread_mutex_destroy(&m->mu);
}

enum gr_status
metrics_open_log(struct gr_metrics *m, const char *path, struct gr_error *err)
{
    metrics_close_log(m);
    m->log = fopen(path, "ae");
    if (!m->log)
        return gr_fail_errno(err, GR_EIO, "%s: cannot open log", path);
    return GR_OK;
}

void
metrics_close_log(struct gr_metrics *m)
{
    if (m->log)
        fclose(m->log);
    m->log = NULL;
}

void
metric_begin(struct gr_metric *rec, const char *kind)
{
    snprintf(rec->kind, sizeof rec->kind, "%s", kind);
    rec->n = 0;
    rec->text[0] = '\0';
}

void
metric_add(struct gr_metric *rec, const char *key, double val)
{
    if (rec->n >= GR_METRIC_MAX)
        return;
    snprintf(rec->keys[rec->n], GR_METRIC_KEY, "%s", key);
    rec->vals[rec->n++] = val;
}

void
metric_text(struct gr_metric *rec, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(rec->text, sizeof rec->text, fmt, ap);
    va_end(ap);
}

double
metric_get(const struct gr_metric *rec, const char *key, double def)
{
    for (int i = 0; i < rec->n; i++)
        if (strcmp(rec->keys[i], key) == 0)
            return rec->vals[i];
    return def;
}

/* s as a JSON string.  Text can hold any bytes (a model's answer may end
 * inside a UTF-8 sequence), but a log line must be UTF-8 to be JSON: a
 * byte that starts no valid sequence becomes U+FFFD. */
static void
write_json_string(FILE *f, const char *s)
{
    fputc('"', f);
    const unsigned char *end = (const unsigned char *)s + strlen(s);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p >= 0x80) {
            ucs4_t uc;
            int len = u8_mbtoucr(&uc, p, (size_t)(end - p));
            if (len < 1) {
                fputs("\ufffd", f);
                continue;
            }
            fwrite(p, 1, (size_t)len, f);
            p += len - 1;
            continue;
        }
        switch (*p) {
        case '"':  fputs("\\\"", f); break;
        case '\\': fputs("\\\\", f); break;
        case '\n': fputs("\\n", f); break;
        case '\r': fputs("\\r", f); break;
        case '\t': fputs("\\t", f); break;
        default:
            if (*p < 0x20)
                fprintf(f, "\\u%04x", *p);
            else
                fputc(*p, f);
        }
    }
    fputc('"', f);
}

void
metric_write_json(FILE *f, const struct gr_metric *rec)
{
    fputs("{\"kind\":", f);
    write_json_string(f, rec->kind);
    for (int i = 0; i < rec->n; i++) {
        fputc(',', f);
        write_json_string(f, rec->keys[i]);
        double v = rec->vals[i];
        if (isfinite(v)) {
            if (v == (double)(long long)v && fabs(v) < 1e15)
                fprintf(f, ":%lld", (long long)v);
            else
                fprintf(f, ":%.9g", v);
        } else {
            fputs(":null", f);
        }
    }
    if (rec->text[0]) {
        fputs(",\"text\":", f);
        write_json_string(f, rec->text);
    }
    fputc('}', f);
}

void
metrics_emit(struct gr_metrics *m, const struct gr_metric *rec)
{
    if (!m)
        return;
    pthread_mutex_lock(&m->mu);
    if (m->log && strcmp(rec->kind, "progress") != 0) {
        metric_write_json(m->log, rec);
        fputc('\n', m->log);
        fflush(m->log);
    }
    if (m->queue_on) {
        if (m->tail - m->head >= GR_METRICS_QUEUE)
            m->head++;                  /* drop the oldest */
        m->ring[m->tail % GR_METRICS_QUEUE] = *rec;
        m->tail++;
    }
    pthread_mutex_unlock(&m->mu);
    if (m->on_metric)
        m->on_metric(m->ctx, rec);
}

void
metrics_progress(struct gr_metrics *m, const char *what, double done,
                 double total, const char *unit)
{
    if (!m)
        return;
    struct gr_metric rec;
    metric_begin(&rec, "progress");
    metric_add(&rec, "done", done);
    metric_add(&rec, "total", total);
    metric_text(&rec, "%s|%s", what, unit ? unit : "");
    metrics_emit(m, &rec);
}

void
metrics_note(struct gr_metrics *m, const char *fmt, ...)
{
    if (!m)
        return;
    struct gr_metric rec;
    metric_begin(&rec, "note");
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(rec.text, sizeof rec.text, fmt, ap);
    va_end(ap);
    metrics_emit(m, &rec);
}

int
metrics_poll(struct gr_metrics *m, struct gr_metric *out)
{
    int got = 0;
    pthread_mutex_lock(&m->mu);
    if (m->queue_on && m->tail != m->head) {
        *out = m->ring[m->head % GR_METRICS_QUEUE];
        m->head++;
        got = 1;
    }
    pthread_mutex_unlock(&m->mu);
    return got;
}
