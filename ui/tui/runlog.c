/* runlog.c: metrics logs read back (see runlog.h). */
#include "runlog.h"

#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "base/fsio.h"
#include "base/xalloc.h"

static int
by_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int
to_metric(json_t *o, struct gr_metric *m)
{
    json_t *kind = json_object_get(o, "kind");
    if (!json_is_string(kind))
        return 0;
    metric_begin(m, json_string_value(kind));
    const char *key;
    json_t *v;
    json_object_foreach(o, key, v) {
        if (json_is_number(v))
            metric_add(m, key, json_number_value(v));
        else if (json_is_null(v))
            metric_add(m, key, NAN);
        else if (json_is_string(v) && strcmp(key, "text") == 0)
            snprintf(m->text, sizeof m->text, "%s", json_string_value(v));
    }
    return 1;
}

int
runlog_parse_line_jansson(const char *line, struct gr_metric *m)
{
    json_t *o = json_loads(line, 0, NULL);
    int ok = o && json_is_object(o) && to_metric(o, m);
    json_decref(o);
    return ok;
}

/* ---- the hand-written parser ------------------------------------------
 * For the lines the metrics stream writes: {"kind":"...", then keys with
 * numbers, null, true, false or strings without escapes}.  Returns 1 with
 * *m filled in as to_metric would, or -1 when the line is anything else
 * (escapes, bytes outside ASCII, nesting, duplicate keys, numbers jansson
 * would refuse, "kind" not first...): then jansson decides. */

#define MAX_KEYS 64

static const char *
skip_ws(const char *p)
{
    while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')
        p++;
    return p;
}

/* A string without escapes at p (at its opening quote): its text in
 * [*s, *s + *len), and the position after it; NULL if not such a string. */
static const char *
plain_string(const char *p, const char **s, size_t *len)
{
    if (*p != '"')
        return NULL;
    const char *q = ++p;
    for (; *q != '"'; q++) {
        unsigned char c = (unsigned char)*q;
        if (c == '\\' || c < 0x20 || c >= 0x80)     /* also the end: c == 0 */
            return NULL;
    }
    *s = p;
    *len = (size_t)(q - p);
    return q + 1;
}

static int
is_digit(char c)
{
    return c >= '0' && c <= '9';
}

/* A JSON number at p, as jansson reads it (integers through strtoll,
 * reals through strtod); the position after it, or NULL. */
static const char *
number(const char *p, double *v)
{
    const char *q = p;
    int real = 0;
    if (*q == '-')
        q++;
    if (*q == '0')
        q++;
    else if (is_digit(*q))
        while (is_digit(*q))
            q++;
    else
        return NULL;
    if (*q == '.') {
        real = 1;
        if (!is_digit(*++q))
            return NULL;
        while (is_digit(*q))
            q++;
    }
    if (*q == 'e' || *q == 'E') {
        real = 1;
        q++;
        if (*q == '+' || *q == '-')
            q++;
        if (!is_digit(*q))
            return NULL;
        while (is_digit(*q))
            q++;
    }
    char *end;
    if (real) {
        *v = strtod(p, &end);
        if (!isfinite(*v))      /* jansson: "real number overflow" */
            return NULL;
    } else {
        if (q - p > 18)         /* may not fit a long long: jansson's call */
            return NULL;
        *v = (double)strtoll(p, &end, 10);
    }
    return end == q ? q : NULL;
}

/* metric_add without its snprintf (a long run's log holds millions of
 * values): the key cut to GR_METRIC_KEY - 1 bytes, as it would be. */
static void
add_value(struct gr_metric *m, const char *k, size_t kl, double v)
{
    if (m->n >= GR_METRIC_MAX)
        return;
    if (kl > GR_METRIC_KEY - 1)
        kl = GR_METRIC_KEY - 1;
    memcpy(m->keys[m->n], k, kl);
    m->keys[m->n][kl] = '\0';
    m->vals[m->n++] = v;
}

static int
parse_flat(const char *line, struct gr_metric *m)
{
    const char *keys[MAX_KEYS];
    size_t klen[MAX_KEYS];
    int nkeys = 0;
    const char *p = skip_ws(line);
    if (*p++ != '{')
        return -1;
    for (;;) {
        const char *k, *sv;
        size_t kl, sl;
        p = plain_string(skip_ws(p), &k, &kl);
        if (!p || nkeys == MAX_KEYS)
            return -1;
        for (int i = 0; i < nkeys; i++)
            if (klen[i] == kl && memcmp(keys[i], k, kl) == 0)
                return -1;      /* a duplicate: jansson keeps the last */
        keys[nkeys] = k;
        klen[nkeys++] = kl;
        p = skip_ws(p);
        if (*p++ != ':')
            return -1;
        p = skip_ws(p);
        if (nkeys == 1) {       /* "kind" first, a string */
            if (kl != 4 || memcmp(k, "kind", 4) != 0 || !(p = plain_string(p, &sv, &sl)))
                return -1;
            char kind[sizeof m->kind];
            snprintf(kind, sizeof kind, "%.*s", (int)sl, sv);
            metric_begin(m, kind);
        } else if (*p == '"') {
            if (!(p = plain_string(p, &sv, &sl)))
                return -1;
            if (kl == 4 && memcmp(k, "text", 4) == 0)
                snprintf(m->text, sizeof m->text, "%.*s", (int)sl, sv);
        } else if (*p == 'n' || *p == 't' || *p == 'f') {
            const char *word = *p == 'n' ? "null" : *p == 't' ? "true" : "false";
            size_t wl = strlen(word);
            if (strncmp(p, word, wl) != 0)
                return -1;
            p += wl;
            if (*word == 'n')
                add_value(m, k, kl, NAN);
        } else {
            double v;
            if (!(p = number(p, &v)))
                return -1;
            add_value(m, k, kl, v);
        }
        p = skip_ws(p);
        if (*p == ',') {
            p++;
            continue;
        }
        if (*p++ != '}')
            return -1;
        return *skip_ws(p) == '\0' ? 1 : -1;
    }
}

int
runlog_parse_line(const char *line, struct gr_metric *m)
{
    if (parse_flat(line, m) == 1)
        return 1;
    return runlog_parse_line_jansson(line, m);
}

/* ---- the logs -------------------------------------------------------- */

/* The names of logs/<prefix>-*.jsonl, sorted (oldest first); *n of them. */
static char **
log_names(const char *logs, const char *prefix, size_t *n)
{
    *n = 0;
    DIR *d = opendir(logs);
    if (!d)
        return NULL;
    char **names = NULL;
    size_t plen = strlen(prefix);
    struct dirent *e;
    while ((e = readdir(d))) {
        size_t len = strlen(e->d_name);
        if (strncmp(e->d_name, prefix, plen) != 0 || e->d_name[plen] != '-' ||
            len < 6 || strcmp(e->d_name + len - 6, ".jsonl") != 0)
            continue;
        names = xrealloc(names, (*n + 1) * sizeof *names);
        names[(*n)++] = xstrdup(e->d_name);
    }
    closedir(d);
    if (*n)
        qsort(names, *n, sizeof *names, by_name);
    return names;
}

static void
free_names(char **names, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
}

/* Records of f from where it stands, to fn (up to max_records; < 0: all).
 * With stop_at_run, stops after the first "run" record, which it leaves
 * in *m.  Returns the number read. */
static long
read_records(FILE *f, void (*fn)(void *ctx, const struct gr_metric *m),
             void *ctx, long max_records, int stop_at_run, struct gr_metric *m)
{
    char *line = NULL;
    size_t cap = 0;
    long count = 0;
    while ((max_records < 0 || count < max_records) && getline(&line, &cap, f) > 0) {
        if (!runlog_parse_line(line, m))
            continue;
        count++;
        if (fn)
            fn(ctx, m);
        if (stop_at_run && strcmp(m->kind, "run") == 0)
            break;
    }
    free(line);
    return count;
}

/* Does the log at path begin a run at step 0?  (Its "run" record, among
 * the first few, has start_step 0 or none.) */
static int
starts_fresh(const char *path)
{
    FILE *f = fopen(path, "re");
    if (!f)
        return 0;
    struct gr_metric m;
    m.kind[0] = '\0';
    read_records(f, NULL, NULL, 16, 1, &m);
    fclose(f);
    return strcmp(m.kind, "run") == 0 && metric_get(&m, "start_step", 0) == 0;
}

long
runlog_read(const char *ws_root, const char *prefix, enum runlog_which which,
            void (*fn)(void *ctx, const struct gr_metric *m), void *ctx)
{
    char *logs = fs_join(ws_root, "logs");
    size_t n;
    char **names = log_names(logs, prefix, &n);
    size_t first = 0;
    if (which == RUNLOG_NEWEST && n) {
        first = n - 1;
    } else if (which == RUNLOG_FRESH) {
        for (size_t i = n; i-- > 0;) {
            char *path = fs_join(logs, names[i]);
            int fresh = starts_fresh(path);
            free(path);
            if (fresh) {
                first = i;
                break;
            }
        }
    }
    long count = 0;
    struct gr_metric m;
    for (size_t i = first; i < n; i++) {
        char *path = fs_join(logs, names[i]);
        FILE *f = fopen(path, "re");
        free(path);
        if (!f)
            continue;
        count += read_records(f, fn, ctx, -1, 0, &m);
        fclose(f);
    }
    free_names(names, n);
    free(logs);
    return count;
}

long
runlog_read_tail(const char *ws_root, const char *prefix, long max_bytes,
                 void (*fn)(void *ctx, const struct gr_metric *m), void *ctx)
{
    char *logs = fs_join(ws_root, "logs");
    size_t n;
    char **names = log_names(logs, prefix, &n);
    long count = 0;
    FILE *f = NULL;
    if (n) {
        char *path = fs_join(logs, names[n - 1]);
        f = fopen(path, "re");
        free(path);
    }
    if (f) {
        if (fseek(f, 0, SEEK_END) == 0) {
            long size = ftell(f);
            if (size > max_bytes && fseek(f, size - max_bytes - 1, SEEK_SET) == 0) {
                /* from the first line that begins in the last max_bytes */
                int c;
                while ((c = getc(f)) != EOF && c != '\n')
                    ;
            } else {
                rewind(f);
            }
        }
        struct gr_metric m;
        count = read_records(f, fn, ctx, -1, 0, &m);
        fclose(f);
    }
    free_names(names, n);
    free(logs);
    return count;
}
