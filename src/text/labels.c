#include "text/labels.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/fsio.h"
#include "base/xalloc.h"

void
demo_release(struct demo *d)
{
    if (!d)
        return;
    for (size_t i = 0; i < d->nturns; i++)
        free((char *)d->turns[i].text);
    free(d->turns);
    memset(d, 0, sizeof *d);
}

void
demos_init(struct demo_set *s)
{
    memset(s, 0, sizeof *s);
}

void
demos_release(struct demo_set *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < s->n; i++)
        demo_release(&s->v[i]);
    free(s->v);
    memset(s, 0, sizeof *s);
}

void
demos_push(struct demo_set *s, struct demo *d)
{
    if (s->n == s->cap) {
        s->cap = s->cap ? s->cap * 2 : 64;
        s->v = xrealloc(s->v, s->cap * sizeof *s->v);
    }
    s->v[s->n++] = *d;
    memset(d, 0, sizeof *d);
}

static void
add_turn(struct demo *d, enum chat_role role, const char *text, size_t len)
{
    d->turns = xrealloc(d->turns, (d->nturns + 1) * sizeof *d->turns);
    d->turns[d->nturns].role = role;
    d->turns[d->nturns].text = xstrndup(text, len);
    d->turns[d->nturns].len = len;
    d->nturns++;
}

void
demo_from_pair(struct demo *d, const char *prompt, const char *answer)
{
    memset(d, 0, sizeof *d);
    add_turn(d, CHAT_USER, prompt, strlen(prompt));
    add_turn(d, CHAT_ASSISTANT, answer, strlen(answer));
}

static int
is_blank(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (s[i] != ' ' && s[i] != '\t' && s[i] != '\n' && s[i] != '\r')
            return 0;
    return 1;
}

/* A text field's checks; what names it in messages ("field 'prompt'",
 * "message 2"). */
static int
check_text(const char *s, size_t n, const char *what, char why[JSONL_REASON])
{
    if (memchr(s, '\0', n)) {
        snprintf(why, JSONL_REASON, "%s contains a NUL character", what);
        return -1;
    }
    if (is_blank(s, n)) {
        snprintf(why, JSONL_REASON, "%s is empty", what);
        return -1;
    }
    return 0;
}

static int
parse_messages(const json_t *msgs, struct demo *d, char why[JSONL_REASON])
{
    if (!json_is_array(msgs)) {
        snprintf(why, JSONL_REASON, "field 'messages' is %s, expected an array",
                 jsonl_type_name(msgs));
        return -1;
    }
    size_t n = json_array_size(msgs);
    if (n == 0) {
        snprintf(why, JSONL_REASON, "field 'messages' is empty");
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        const json_t *m = json_array_get(msgs, i);
        char what[32], sub[JSONL_REASON];
        snprintf(what, sizeof what, "message %zu", i + 1);
        if (!json_is_object(m)) {
            snprintf(why, JSONL_REASON, "%s is %s, expected an object", what,
                     jsonl_type_name(m));
            return -1;
        }
        size_t rlen, clen;
        const char *role = jsonl_get_string(m, "role", &rlen, sub);
        if (!role) {
            snprintf(why, JSONL_REASON, "%s: %.120s", what, sub);
            return -1;
        }
        int r = chat_role_parse(role);
        if (r < 0) {
            snprintf(why, JSONL_REASON, "%s: role '%.40s' is not supported "
                     "(use 'user' and 'assistant')", what, role);
            return -1;
        }
        enum chat_role want = i % 2 ? CHAT_ASSISTANT : CHAT_USER;
        if ((enum chat_role)r != want) {
            snprintf(why, JSONL_REASON, "%s: expected the %s's turn, got the %s's "
                     "(turns alternate, starting with the user's)", what,
                     chat_role_name(want), chat_role_name((enum chat_role)r));
            return -1;
        }
        const char *text = jsonl_get_string(m, "content", &clen, sub);
        if (!text) {
            snprintf(why, JSONL_REASON, "%s: %.120s", what, sub);
            return -1;
        }
        if (check_text(text, clen, what, why) < 0)
            return -1;
        add_turn(d, (enum chat_role)r, text, clen);
    }
    if (n % 2) {
        snprintf(why, JSONL_REASON, "the last message is the user's: a "
                 "demonstration ends with the assistant's answer");
        return -1;
    }
    return 0;
}

int
demo_parse(const json_t *obj, struct demo *d, char why[JSONL_REASON])
{
    memset(d, 0, sizeof *d);
    const json_t *msgs = json_object_get(obj, "messages");
    int rc;
    if (msgs) {
        rc = parse_messages(msgs, d, why);
    } else if (json_object_get(obj, "prompt") || json_object_get(obj, "completion")) {
        size_t plen, clen;
        const char *p = jsonl_get_string(obj, "prompt", &plen, why);
        const char *c = p ? jsonl_get_string(obj, "completion", &clen, why) : NULL;
        rc = p && c && check_text(p, plen, "field 'prompt'", why) == 0 &&
             check_text(c, clen, "field 'completion'", why) == 0 ? 0 : -1;
        if (rc == 0) {
            add_turn(d, CHAT_USER, p, plen);
            add_turn(d, CHAT_ASSISTANT, c, clen);
        }
    } else {
        snprintf(why, JSONL_REASON, "expected fields 'prompt' and 'completion', "
                 "or 'messages'");
        rc = -1;
    }
    if (rc < 0)
        demo_release(d);
    return rc;
}

char *
demo_to_line(const struct demo *d, int completion)
{
    json_t *o = json_object();
    if (completion) {
        if (d->nturns != 2) {
            json_decref(o);
            return NULL;
        }
        json_object_set_new(o, "prompt", json_stringn(d->turns[0].text, d->turns[0].len));
        json_object_set_new(o, "completion", json_stringn(d->turns[1].text, d->turns[1].len));
    } else {
        json_t *a = json_array();
        for (size_t i = 0; i < d->nturns; i++) {
            json_t *m = json_object();
            json_object_set_new(m, "role", json_string(chat_role_name(d->turns[i].role)));
            json_object_set_new(m, "content", json_stringn(d->turns[i].text, d->turns[i].len));
            json_array_append_new(a, m);
        }
        json_object_set_new(o, "messages", a);
    }
    char *s = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    if (!s)
        abort();                /* out of memory */
    char *line = xasprintf("%s\n", s);
    free(s);
    return line;
}

int
demo_equal(const struct demo *a, const struct demo *b)
{
    if (a->nturns != b->nturns)
        return 0;
    for (size_t i = 0; i < a->nturns; i++)
        if (a->turns[i].role != b->turns[i].role ||
            a->turns[i].len != b->turns[i].len ||
            memcmp(a->turns[i].text, b->turns[i].text, a->turns[i].len) != 0)
            return 0;
    return 1;
}

uint64_t
demo_hash(const struct demo *d)
{
    uint64_t h = 0x64656d6fULL;
    for (size_t i = 0; i < d->nturns; i++) {
        h = gr_hash64(d->turns[i].text, d->turns[i].len, h ^ (uint64_t)d->turns[i].role);
        h ^= (uint64_t)i * 0x9e3779b97f4a7c15ULL;
    }
    return h;
}

void
demos_parse_buf(const char *buf, size_t n, struct demo_set *out,
                struct labels_bad **bad, size_t *nbad)
{
    struct jsonl_reader r;
    jsonl_reader_init(&r, buf, n);
    for (;;) {
        json_t *obj;
        char why[JSONL_REASON];
        enum jsonl_result jr = jsonl_next(&r, &obj, why);
        if (jr == JSONL_END)
            break;
        struct demo d;
        if (jr == JSONL_OBJECT) {
            int ok = demo_parse(obj, &d, why) == 0;
            json_decref(obj);
            if (ok) {
                d.line = r.line;
                demos_push(out, &d);
                continue;
            }
        }
        if (r.p == r.end && n > 0 && buf[n - 1] != '\n')
            break;                      /* a torn last line */
        if (bad) {
            *bad = xrealloc(*bad, (*nbad + 1) * sizeof **bad);
            (*bad)[*nbad].line = r.line;
            snprintf((*bad)[*nbad].why, JSONL_REASON, "%s", why);
            (*nbad)++;
        }
    }
}

enum gr_status
demos_read_file(const char *path, int missing_ok, struct demo_set *out,
                struct labels_bad **bad, size_t *nbad, struct gr_error *err)
{
    if (missing_ok && !fs_exists(path))
        return GR_OK;
    char *buf;
    size_t n;
    enum gr_status rc = fs_read_all(path, &buf, &n, err);
    if (rc != GR_OK)
        return rc;
    demos_parse_buf(buf, n, out, bad, nbad);
    free(buf);
    return GR_OK;
}

/* 1 if path exists, is not empty and does not end with '\n'. */
static int
ends_mid_line(const char *path)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    char c = '\n';
    off_t end = lseek(fd, 0, SEEK_END);
    if (end > 0 && pread(fd, &c, 1, end - 1) != 1)
        c = '\n';
    close(fd);
    return c != '\n';
}

enum gr_status
demos_append(const char *path, const struct demo *d, struct gr_error *err)
{
    char *line = demo_to_line(d, 0);
    char *rec = line;
    if (ends_mid_line(path)) {
        rec = xasprintf("\n%s", line);
        free(line);
    }
    enum gr_status rc = fs_append_sync(path, rec, strlen(rec), err);
    free(rec);
    return rc;
}

enum gr_status
demos_write_file(const char *path, const struct demo_set *s, int completion,
                 struct gr_error *err)
{
    struct fs_atomic a;
    enum gr_status rc = fs_atomic_open(&a, path, err);
    if (rc != GR_OK)
        return rc;
    for (size_t i = 0; i < s->n && rc == GR_OK; i++) {
        char *line = demo_to_line(&s->v[i], completion);
        if (!line) {
            rc = gr_fail(err, GR_EINPUT, "demonstration %zu has %zu turns: the "
                         "prompt/completion format holds one question and its "
                         "answer (use the chat format)", i + 1, s->v[i].nturns);
            break;
        }
        rc = fs_atomic_write(&a, line, strlen(line), err);
        free(line);
    }
    if (rc != GR_OK) {
        fs_atomic_abort(&a);
        return rc;
    }
    return fs_atomic_commit(&a, err);
}

enum gr_status
labels_remove_line(const char *path, size_t line, struct gr_error *err)
{
    char *buf;
    size_t n;
    enum gr_status rc = fs_read_all(path, &buf, &n, err);
    if (rc != GR_OK)
        return rc;
    const char *s = buf, *end = buf + n;
    for (size_t k = 1; k < line && s < end; k++) {
        const char *nl = memchr(s, '\n', (size_t)(end - s));
        s = nl ? nl + 1 : end;
    }
    if (s >= end) {
        free(buf);
        return gr_fail(err, GR_EINPUT, "%s has no line %zu", path, line);
    }
    const char *nl = memchr(s, '\n', (size_t)(end - s));
    const char *e = nl ? nl + 1 : end;
    memmove((char *)s, e, (size_t)(end - e));
    n -= (size_t)(e - s);
    rc = fs_write_atomic(path, buf, n, err);
    free(buf);
    return rc;
}
