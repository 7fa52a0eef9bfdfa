#include "text/rankings.h"

#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/fsio.h"
#include "base/xalloc.h"

void
ranking_release(struct ranking *r)
{
    if (!r)
        return;
    free(r->prompt);
    for (int i = 0; i < r->nanswers; i++)
        free(r->answers[i]);
    free(r->answers);
    free(r->order);
    free(r->group);
    free(r->ratings);
    free(r->better);
    free(r->labeler);
    free(r->checkpoint);
    free(r->time);
    json_decref(r->rule);
    memset(r, 0, sizeof *r);
}

void
rankings_init(struct ranking_set *s)
{
    memset(s, 0, sizeof *s);
}

void
rankings_release(struct ranking_set *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < s->n; i++)
        ranking_release(&s->v[i]);
    free(s->v);
    memset(s, 0, sizeof *s);
}

void
rankings_push(struct ranking_set *s, struct ranking *r)
{
    if (s->n == s->cap) {
        s->cap = s->cap ? 2 * s->cap : 16;
        s->v = xrealloc(s->v, s->cap * sizeof *s->v);
    }
    s->v[s->n++] = *r;
    memset(r, 0, sizeof *r);
}

/* ---- parsing -------------------------------------------------------- */

static int
bad(char why[JSONL_REASON], const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int
bad(char why[JSONL_REASON], const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, JSONL_REASON, fmt, ap);
    va_end(ap);
    return -1;
}

/* A string member without NUL characters, copied; NULL when absent. */
static int
opt_string(const json_t *obj, const char *key, char **out, char why[JSONL_REASON])
{
    json_t *v = json_object_get(obj, key);
    *out = NULL;
    if (!v || json_is_null(v))
        return 0;
    if (!json_is_string(v))
        return bad(why, "field '%s' is %s, expected a string", key, jsonl_type_name(v));
    if (strlen(json_string_value(v)) != json_string_length(v))
        return bad(why, "field '%s' contains a NUL character", key);
    *out = xstrdup(json_string_value(v));
    return 0;
}

static int
opt_bool(const json_t *obj, const char *key, int *out, char why[JSONL_REASON])
{
    json_t *v = json_object_get(obj, key);
    *out = 0;
    if (!v || json_is_null(v))
        return 0;
    if (!json_is_boolean(v))
        return bad(why, "field '%s' is %s, expected true or false", key,
                   jsonl_type_name(v));
    *out = json_is_true(v);
    return 0;
}

/* An answer index: an integer in [0, n). */
static int
index_of(const json_t *v, int n, const char *what, int *out, char why[JSONL_REASON])
{
    if (!json_is_integer(v))
        return bad(why, "'%s' holds %s, expected answer numbers", what,
                   jsonl_type_name(v));
    json_int_t x = json_integer_value(v);
    if (x < 0 || x >= n)
        return bad(why, "'%s' names answer %lld, but there %s %d (numbered from 0)",
                   what, (long long)x, n == 1 ? "is" : "are", n);
    *out = (int)x;
    return 0;
}

static int
parse_answers(const json_t *obj, struct ranking *r, char why[JSONL_REASON])
{
    json_t *a = json_object_get(obj, "answers");
    if (!a)
        return bad(why, "no field 'answers'");
    if (!json_is_array(a))
        return bad(why, "field 'answers' is %s, expected a list of texts",
                   jsonl_type_name(a));
    size_t n = json_array_size(a);
    if (n > RANKING_MAX_ANSWERS)
        return bad(why, "%zu answers, more than %d", n, RANKING_MAX_ANSWERS);
    r->answers = xcalloc(n ? n : 1, sizeof *r->answers);
    for (size_t i = 0; i < n; i++) {
        json_t *v = json_array_get(a, i);
        if (!json_is_string(v))
            return bad(why, "answer %zu is %s, expected a text", i, jsonl_type_name(v));
        if (strlen(json_string_value(v)) != json_string_length(v))
            return bad(why, "answer %zu contains a NUL character", i);
        r->answers[i] = xstrdup(json_string_value(v));
        r->nanswers = (int)i + 1;
    }
    return 0;
}

static int
parse_order(const json_t *obj, struct ranking *r, char why[JSONL_REASON])
{
    json_t *o = json_object_get(obj, "order");
    int n = r->nanswers;
    r->group = xmalloc((size_t)(n ? n : 1) * sizeof *r->group);
    for (int i = 0; i < n; i++)
        r->group[i] = -1;
    if (o && !json_is_null(o)) {
        if (!json_is_array(o))
            return bad(why, "field 'order' is %s, expected a list of answer numbers",
                       jsonl_type_name(o));
        size_t k = json_array_size(o);
        if (k && k != (size_t)n)
            return bad(why, "'order' ranks %zu answers, but there are %d", k, n);
        r->order = xmalloc((size_t)(n ? n : 1) * sizeof *r->order);
        int seen[RANKING_MAX_ANSWERS] = { 0 };
        for (size_t i = 0; i < k; i++) {
            int x;
            if (index_of(json_array_get(o, i), n, "order", &x, why))
                return -1;
            if (seen[x]++)
                return bad(why, "'order' names answer %d twice", x);
            r->order[i] = x;
        }
        r->norder = (int)k;
    }
    json_t *t = json_object_get(obj, "ties");
    if (t && !json_is_null(t)) {
        if (!json_is_array(t))
            return bad(why, "field 'ties' is %s, expected a list of groups",
                       jsonl_type_name(t));
        for (size_t g = 0; g < json_array_size(t); g++) {
            json_t *grp = json_array_get(t, g);
            if (!json_is_array(grp) || json_array_size(grp) < 2)
                return bad(why, "'ties' holds %s, expected groups of two or more "
                           "answer numbers", json_is_array(grp) ? "a group of one"
                           : jsonl_type_name(grp));
            for (size_t i = 0; i < json_array_size(grp); i++) {
                int x;
                if (index_of(json_array_get(grp, i), n, "ties", &x, why))
                    return -1;
                if (r->group[x] >= 0)
                    return bad(why, "'ties' names answer %d twice", x);
                r->group[x] = (int)g;
            }
        }
    }
    return 0;
}

static int
parse_ratings(const json_t *obj, struct ranking *r, char why[JSONL_REASON])
{
    json_t *a = json_object_get(obj, "ratings");
    if (!a || json_is_null(a))
        return 0;
    if (!json_is_array(a))
        return bad(why, "field 'ratings' is %s, expected a list of 0-5 scores",
                   jsonl_type_name(a));
    if (json_array_size(a) != (size_t)r->nanswers)
        return bad(why, "%zu ratings for %d answers", json_array_size(a), r->nanswers);
    r->ratings = xmalloc((size_t)(r->nanswers ? r->nanswers : 1) * sizeof *r->ratings);
    for (int i = 0; i < r->nanswers; i++) {
        json_t *v = json_array_get(a, (size_t)i);
        if (json_is_null(v)) {
            r->ratings[i] = -1;
            continue;
        }
        if (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) > 5)
            return bad(why, "rating %d is not a whole number from 0 to 5", i);
        r->ratings[i] = (int)json_integer_value(v);
    }
    return 0;
}

int
ranking_parse(const json_t *obj, struct ranking *r, char why[JSONL_REASON])
{
    memset(r, 0, sizeof *r);
    json_t *p = json_object_get(obj, "prompt");
    if (!p)
        goto fail_msg;
    if (opt_string(obj, "prompt", &r->prompt, why) ||
        opt_string(obj, "better", &r->better, why) ||
        opt_string(obj, "labeler", &r->labeler, why) ||
        opt_string(obj, "checkpoint", &r->checkpoint, why) ||
        opt_string(obj, "time", &r->time, why) ||
        opt_bool(obj, "skipped", &r->skipped, why) ||
        opt_bool(obj, "all_bad", &r->all_bad, why) ||
        parse_answers(obj, r, why) || parse_order(obj, r, why) ||
        parse_ratings(obj, r, why))
        goto fail;
    json_t *rule = json_object_get(obj, "rule");
    if (rule && !json_is_null(rule)) {
        if (!json_is_object(rule)) {
            bad(why, "field 'rule' is not an object");
            goto fail;
        }
        r->rule = json_incref(rule);
    }
    if (!r->prompt)
        goto fail_msg;
    if (r->better && !*r->better) {
        free(r->better);
        r->better = NULL;
    }
    if (!r->skipped && !r->all_bad && r->norder == 0 && !r->ratings && !r->better) {
        bad(why, "no 'order' (and not marked skipped or all_bad)");
        goto fail;
    }
    if (r->norder == 0 && r->ratings && !r->skipped && !r->all_bad) {
        r->order = xmalloc((size_t)(r->nanswers ? r->nanswers : 1) * sizeof *r->order);
        ranking_order_from_ratings(r->nanswers, r->ratings, r->order, r->group);
        r->norder = r->nanswers;
    }
    return 0;
fail_msg:
    bad(why, "no field 'prompt'");
fail:
    ranking_release(r);
    return -1;
}

/* ---- writing -------------------------------------------------------- */

char *
ranking_to_line(const struct ranking *r)
{
    json_t *o = json_object();
    json_object_set_new(o, "prompt", json_string(r->prompt));
    json_t *a = json_array();
    for (int i = 0; i < r->nanswers; i++)
        json_array_append_new(a, json_string(r->answers[i]));
    json_object_set_new(o, "answers", a);
    json_t *ord = json_array();
    for (int i = 0; i < r->norder; i++)
        json_array_append_new(ord, json_integer(r->order[i]));
    json_object_set_new(o, "order", ord);
    json_t *ties = json_array();
    if (r->group) {
        /* Groups in order of their best member, renumbered from 0. */
        int done[RANKING_MAX_ANSWERS] = { 0 };
        for (int i = 0; i < r->norder; i++) {
            int g = r->group[r->order[i]];
            if (g < 0 || done[r->order[i]])
                continue;
            json_t *grp = json_array();
            for (int j = i; j < r->norder; j++)
                if (r->group[r->order[j]] == g) {
                    json_array_append_new(grp, json_integer(r->order[j]));
                    done[r->order[j]] = 1;
                }
            json_array_append_new(ties, grp);
        }
    }
    json_object_set_new(o, "ties", ties);
    if (r->ratings) {
        json_t *rt = json_array();
        for (int i = 0; i < r->nanswers; i++)
            json_array_append_new(rt, r->ratings[i] < 0 ? json_null()
                                                        : json_integer(r->ratings[i]));
        json_object_set_new(o, "ratings", rt);
    }
    if (r->better)
        json_object_set_new(o, "better", json_string(r->better));
    if (r->skipped)
        json_object_set_new(o, "skipped", json_true());
    if (r->all_bad)
        json_object_set_new(o, "all_bad", json_true());
    json_object_set_new(o, "labeler", json_string(r->labeler ? r->labeler : "unknown"));
    json_object_set_new(o, "checkpoint", r->checkpoint ? json_string(r->checkpoint)
                                                       : json_null());
    if (r->time)
        json_object_set_new(o, "time", json_string(r->time));
    if (r->rule)
        json_object_set(o, "rule", r->rule);
    char *s = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(o);
    char *line = xasprintf("%s\n", s);
    free(s);
    return line;
}

/* ---- pairs ---------------------------------------------------------- */

int
ranking_ncandidates(const struct ranking *r)
{
    return r->nanswers + (r->better != NULL);
}

const char *
ranking_candidate(const struct ranking *r, int i)
{
    return i < r->nanswers ? r->answers[i] : r->better;
}

size_t
ranking_pairs(const struct ranking *r, struct rank_pair **out)
{
    size_t n = 0, cap = (size_t)r->nanswers * (size_t)(r->nanswers + 1) / 2 + 1;
    struct rank_pair *p = xmalloc(cap * sizeof *p);
    if (r->skipped) {
        free(p);
        *out = NULL;
        return 0;
    }
    if (r->better)
        for (int i = 0; i < r->nanswers; i++)
            p[n++] = (struct rank_pair){ r->nanswers, i };
    if (!r->all_bad) {
        for (int i = 0; i < r->norder; i++)
            for (int j = i + 1; j < r->norder; j++) {
                int a = r->order[i], b = r->order[j];
                if (r->group && r->group[a] >= 0 && r->group[a] == r->group[b])
                    continue;
                p[n++] = (struct rank_pair){ a, b };
            }
    }
    if (!n) {
        free(p);
        p = NULL;
    }
    *out = p;
    return n;
}

void
ranking_order_from_ratings(int nanswers, const int *ratings, int *order, int *group)
{
    int k = 0;
    for (int r = 5; r >= -1; r--) {
        int first = k;
        for (int i = 0; i < nanswers; i++)
            if (ratings[i] == r || (r == -1 && ratings[i] < 0))
                order[k++] = i;
        for (int i = first; i < k; i++)
            group[order[i]] = k - first > 1 ? 5 - r : -1;
    }
}

/* ---- files ---------------------------------------------------------- */

void
rankings_parse_buf(const char *buf, size_t n, struct ranking_set *out,
                   struct ranking_bad **bad_out, size_t *nbad)
{
    struct jsonl_reader rd;
    jsonl_reader_init(&rd, buf, n);
    json_t *obj;
    char why[JSONL_REASON];
    enum jsonl_result res;
    size_t cap = 0;
    if (nbad)
        *nbad = 0;
    if (bad_out)
        *bad_out = NULL;
    while ((res = jsonl_next(&rd, &obj, why)) != JSONL_END) {
        struct ranking r;
        if (res == JSONL_OBJECT) {
            int ok = ranking_parse(obj, &r, why) == 0;
            json_decref(obj);
            if (ok) {
                r.line = rd.line;
                rankings_push(out, &r);
                continue;
            }
        } else if (rd.p == rd.end && n > 0 && buf[n - 1] != '\n') {
            break;                      /* a torn last line */
        }
        if (bad_out && nbad) {
            if (*nbad == cap) {
                cap = cap ? 2 * cap : 8;
                *bad_out = xrealloc(*bad_out, cap * sizeof **bad_out);
            }
            (*bad_out)[*nbad].line = rd.line;
            snprintf((*bad_out)[*nbad].why, JSONL_REASON, "%s", why);
            (*nbad)++;
        }
    }
}

enum gr_status
rankings_read_file(const char *path, struct ranking_set *out,
                   struct ranking_bad **bad_out, size_t *nbad, struct gr_error *err)
{
    if (bad_out)
        *bad_out = NULL;
    if (nbad)
        *nbad = 0;
    if (!fs_exists(path))
        return GR_OK;
    char *buf;
    size_t len;
    enum gr_status rc = fs_read_all(path, &buf, &len, err);
    if (rc != GR_OK)
        return rc;
    rankings_parse_buf(buf, len, out, bad_out, nbad);
    free(buf);
    return GR_OK;
}

/* 1 if path is missing, empty, or ends with '\n'. */
static int
ends_with_newline(const char *path)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 1;
    off_t end = lseek(fd, 0, SEEK_END);
    char c = '\n';
    if (end > 0 && pread(fd, &c, 1, end - 1) != 1)
        c = '\n';
    close(fd);
    return c == '\n';
}

enum gr_status
rankings_append_lines(const char *path, const char *text, size_t n,
                      struct gr_error *err)
{
    if (ends_with_newline(path))
        return fs_append_sync(path, text, n, err);
    char *fixed = xmalloc(n + 1);
    fixed[0] = '\n';
    memcpy(fixed + 1, text, n);
    enum gr_status rc = fs_append_sync(path, fixed, n + 1, err);
    free(fixed);
    return rc;
}

enum gr_status
rankings_append(const char *path, const struct ranking *r, struct gr_error *err)
{
    char *line = ranking_to_line(r);
    enum gr_status rc = rankings_append_lines(path, line, strlen(line), err);
    free(line);
    return rc;
}

char *
rankings_now(void)
{
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    char buf[32];
    strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return xstrdup(buf);
}
