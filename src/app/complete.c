/* complete.c: splitting command lines into words, and the candidates
 * for tab completion, from the command registry. */
#include "app/complete.h"

#include <ctype.h>
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "base/fsio.h"
#include "base/xalloc.h"

/* ---- scanning ------------------------------------------------------ */

#define NONE SIZE_MAX

struct word {
    char *text;             /* unquoted */
    size_t start;           /* offset of its first byte in the line */
    size_t eq_raw;          /* offset just past its first unquoted '=' (NONE) */
    size_t eq_text;         /* index of that '=' in text */
};

struct scan {
    struct word *w;
    size_t n;
    int in_word;            /* the text ends inside the last word */
    char open;              /* an unclosed quote at the end, or 0 */
    int comment;            /* the text ends in a comment */
};

struct buf {
    char *s;
    size_t n, cap;
};

static void
buf_push(struct buf *b, char c)
{
    if (b->n + 2 > b->cap) {
        b->cap = b->cap ? b->cap * 2 : 32;
        b->s = xrealloc(b->s, b->cap);
    }
    b->s[b->n++] = c;
    b->s[b->n] = '\0';
}

/* Words of line[0, len). */
static void
scan_line(const char *line, size_t len, struct scan *sc)
{
    memset(sc, 0, sizeof *sc);
    size_t i = 0;
    while (i < len) {
        while (i < len && isspace((unsigned char)line[i]))
            i++;
        if (i >= len)
            break;
        if (line[i] == '#') {
            sc->comment = 1;
            break;
        }
        struct word w = { .start = i, .eq_raw = NONE, .eq_text = NONE };
        struct buf b = { xcalloc(32, 1), 0, 32 };   /* "" for an empty word */
        char q = 0;
        while (i < len) {
            char c = line[i];
            if (q == '\'') {
                if (c == '\'')
                    q = 0;
                else
                    buf_push(&b, c);
                i++;
                continue;
            }
            if (q == '"') {
                if (c == '"') {
                    q = 0;
                } else if (c == '\\' && i + 1 < len &&
                           (line[i + 1] == '"' || line[i + 1] == '\\')) {
                    buf_push(&b, line[i + 1]);
                    i++;
                } else {
                    buf_push(&b, c);
                }
                i++;
                continue;
            }
            if (isspace((unsigned char)c))
                break;
            if (c == '\'' || c == '"') {
                q = c;
            } else if (c == '\\') {
                if (i + 1 < len)
                    buf_push(&b, line[++i]);
            } else {
                if (c == '=' && w.eq_raw == NONE) {
                    w.eq_raw = i + 1;
                    w.eq_text = b.n;
                }
                buf_push(&b, c);
            }
            i++;
        }
        w.text = b.s;
        sc->w = xrealloc(sc->w, (sc->n + 1) * sizeof *sc->w);
        sc->w[sc->n++] = w;
        sc->open = q;
        sc->in_word = i >= len;
    }
}

static void
scan_release(struct scan *sc)
{
    for (size_t i = 0; i < sc->n; i++)
        free(sc->w[i].text);
    free(sc->w);
    memset(sc, 0, sizeof *sc);
}

enum gr_status
complete_split(const char *line, struct complete_words *w, struct gr_error *err)
{
    struct scan sc;
    memset(w, 0, sizeof *w);
    scan_line(line, strlen(line), &sc);
    if (sc.open) {
        enum gr_status rc = gr_fail(err, GR_EUSAGE, "missing closing quote (%c)", sc.open);
        scan_release(&sc);
        return rc;
    }
    w->argv = xcalloc(sc.n + 1, sizeof *w->argv);
    for (size_t i = 0; i < sc.n; i++) {
        w->argv[i] = sc.w[i].text;
        sc.w[i].text = NULL;
    }
    w->argc = (int)sc.n;
    scan_release(&sc);
    return GR_OK;
}

void
complete_words_release(struct complete_words *w)
{
    if (!w || !w->argv)
        return;
    for (int i = 0; i < w->argc; i++)
        free(w->argv[i]);
    free(w->argv);
    memset(w, 0, sizeof *w);
}

/* ---- candidates ---------------------------------------------------- */

static void
add(struct complete_result *r, char *item)
{
    r->items = xrealloc(r->items, (r->n + 1) * sizeof *r->items);
    r->items[r->n++] = item;
}

static int
cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void
sort_unique(struct complete_result *r)
{
    if (r->n == 0)
        return;
    qsort(r->items, r->n, sizeof *r->items, cmp_str);
    size_t k = 1;
    for (size_t i = 1; i < r->n; i++) {
        if (strcmp(r->items[i], r->items[k - 1]) == 0)
            free(r->items[i]);
        else
            r->items[k++] = r->items[i];
    }
    r->n = k;
}

/* name starts with prefix, '-' and '_' being the same. */
static int
starts(const char *name, const char *prefix)
{
    for (; *prefix; name++, prefix++) {
        char x = *name == '-' ? '_' : *name, y = *prefix == '-' ? '_' : *prefix;
        if (!*name || x != y)
            return 0;
    }
    return 1;
}

static void
add_commands(struct complete_result *r, const char *prefix,
             const struct complete_extra *extra)
{
    for (const struct gr_command *c = gr_commands; c->name; c++)
        if (starts(c->name, prefix))
            add(r, xstrdup(c->name));
    for (const struct complete_extra *e = extra; e && e->name; e++)
        if (starts(e->name, prefix))
            add(r, xstrdup(e->name));
}

/* Entries of the folder part of prefix that complete it. */
static void
add_paths(struct complete_result *r, const char *prefix)
{
    const char *slash = strrchr(prefix, '/');
    size_t dlen = slash ? (size_t)(slash - prefix) + 1 : 0;
    char *dirpart = xstrndup(prefix, dlen);
    const char *base = prefix + dlen;
    char *dir;
    const char *home = getenv("HOME");
    if (!dlen)
        dir = xstrdup(".");
    else if (dirpart[0] == '~' && dirpart[1] == '/' && home)
        dir = xasprintf("%s%s", home, dirpart + 1);
    else
        dir = xstrdup(dirpart);
    DIR *d = opendir(dir);
    if (d) {
        struct dirent *e;
        while ((e = readdir(d))) {
            const char *n = e->d_name;
            if (!strcmp(n, ".") || !strcmp(n, ".."))
                continue;
            if (n[0] == '.' && base[0] != '.')
                continue;
            if (strncmp(n, base, strlen(base)) != 0)
                continue;
            char *full = fs_join(dir, n);
            struct stat st;
            int isdir = stat(full, &st) == 0 && S_ISDIR(st.st_mode);
            free(full);
            add(r, xasprintf("%s%s%s", dirpart, n, isdir ? "/" : ""));
            r->paths = 1;
        }
        closedir(d);
    }
    free(dir);
    free(dirpart);
}

/* The workspace's checkpoints, as paths from the current folder. */
static void
add_checkpoints(struct complete_result *r, const char *prefix, const char *wsdir)
{
    int plain = !wsdir || !strcmp(wsdir, ".") || !strcmp(wsdir, "./");
    char *cdir = plain ? xstrdup("checkpoints") : fs_join(wsdir, "checkpoints");
    DIR *d = opendir(cdir);
    if (d) {
        struct dirent *e;
        while ((e = readdir(d))) {
            size_t len = strlen(e->d_name);
            if (e->d_name[0] == '.' || len < 6 || strcmp(e->d_name + len - 5, ".ckpt"))
                continue;
            char *p = fs_join(cdir, e->d_name);
            if (!strncmp(p, prefix, strlen(prefix))) {
                add(r, p);
                r->paths = 1;
            } else {
                free(p);
            }
        }
        closedir(d);
    }
    free(cdir);
}

static void
add_values(struct complete_result *r, const struct gr_option *o,
           const char *prefix, const char *wsdir,
           const struct complete_extra *extra)
{
    switch (o->type) {
    case OPT_BOOL:
        if (starts("false", prefix))
            add(r, xstrdup("false"));
        if (starts("true", prefix))
            add(r, xstrdup("true"));
        break;
    case OPT_CHOICE:
        for (const char *c = o->choices; c && *c;) {
            const char *bar = strchr(c, '|');
            size_t len = bar ? (size_t)(bar - c) : strlen(c);
            char *one = xstrndup(c, len);
            if (!strncmp(one, prefix, strlen(prefix)))
                add(r, one);
            else
                free(one);
            c = bar ? bar + 1 : NULL;
        }
        break;
    case OPT_PATH:
    case OPT_PATHS:
        if (!strcmp(o->name, "checkpoint")) {
            size_t before = r->n;
            add_checkpoints(r, prefix, wsdir);
            if (r->n > before)
                break;
        }
        add_paths(r, prefix);
        break;
    case OPT_STRING:
        if (!strcmp(o->name, "command"))
            add_commands(r, prefix, extra);
        break;
    default:
        break;
    }
}

/* An option named by a word "key=...", "--key" or "--key=...", or NULL. */
static const struct gr_option *
word_option(const struct gr_command *cmd, const struct word *w)
{
    const char *t = w->text;
    size_t n = w->eq_text != NONE ? w->eq_text : strlen(t);
    if (n > 2 && t[0] == '-' && t[1] == '-') {
        t += 2;
        n -= 2;
    } else if (w->eq_text == NONE) {
        return NULL;
    }
    char *key = xstrndup(t, n);
    const struct gr_option *o = command_option(cmd, key);
    free(key);
    return o;
}

static int
is_list(const struct gr_option *o)
{
    return o->type != OPT_INT && o->type != OPT_FLOAT && o->type != OPT_BOOL &&
           o->type != OPT_STRING && o->type != OPT_PATH && o->type != OPT_CHOICE;
}

/* A bare word: "key=" for the options not given yet, and the values of
 * the command's bare words. */
static void
complete_bare(struct complete_result *r, const struct gr_command *cmd,
              const struct word *args, size_t nargs, const struct word *cur,
              const char *wsdir, const struct complete_extra *extra)
{
    size_t nopts = 0;
    for (const struct gr_option *o = cmd->opts; o && o->name; o++)
        nopts++;
    unsigned char *given = xcalloc(nopts + 1, 1);
    const struct gr_option *positional =
        cmd->positional ? command_option(cmd, cmd->positional) : NULL;
    int verb_list = 0, nbare = 0;
    for (size_t i = 0; i < nargs; i++) {
        const struct word *w = &args[i];
        const struct gr_option *o = word_option(cmd, w);
        if (o) {
            given[command_option_index(cmd, o)] = 1;
            if (w->eq_text == NONE && o->type != OPT_BOOL)
                i++;                    /* "--key value" */
            continue;
        }
        if (i == 0 && (o = command_option(cmd, w->text)) &&
            (o->type == OPT_BOOL || is_list(o))) {
            given[command_option_index(cmd, o)] = 1;
            if (is_list(o)) {
                positional = o;         /* "corpus add PATH..." */
                verb_list = 1;
            }
            continue;
        }
        nbare++;
    }
    if (!verb_list) {
        for (const struct gr_option *o = cmd->opts; o && o->name; o++)
            if ((!given[command_option_index(cmd, o)] || is_list(o)) &&
                starts(o->name, cur->text))
                add(r, xasprintf("%s=", o->name));
    }
    if (positional && (is_list(positional) || nbare == 0))
        add_values(r, positional, cur->text, wsdir, extra);
    free(given);
}

void
complete_line(const char *line, size_t cursor, const char *wsdir,
              const struct complete_extra *extra, struct complete_result *r)
{
    struct scan sc;
    memset(r, 0, sizeof *r);
    size_t len = strlen(line);
    if (cursor > len)
        cursor = len;
    r->start = cursor;
    scan_line(line, cursor, &sc);
    if (sc.comment)
        goto out;

    struct word empty = { .text = (char *)"", .start = cursor,
                          .eq_raw = NONE, .eq_text = NONE };
    size_t nprev = sc.n;
    const struct word *cur = &empty;
    if (sc.in_word) {
        nprev--;
        cur = &sc.w[nprev];
    }
    r->start = cur->start;
    if (nprev == 0) {
        add_commands(r, cur->text, extra);
        goto out;
    }

    const char *name = sc.w[0].text;
    const struct gr_command *cmd = command_find(name);
    if (!cmd) {
        for (const struct complete_extra *e = extra; e && e->name; e++) {
            if (strcmp(e->name, name) != 0)
                continue;
            if (e->like)
                cmd = command_find(e->like);
            else if (e->paths)
                add_paths(r, cur->text);
            break;
        }
        if (!cmd)
            goto out;
    }

    const struct word *args = &sc.w[1];
    size_t nargs = nprev - 1;
    /* "--key VALUE" */
    const struct gr_option *pending = NULL;
    for (size_t i = 0; i < nargs; i++) {
        const struct gr_option *o = word_option(cmd, &args[i]);
        pending = NULL;
        if (o && args[i].eq_text == NONE && o->type != OPT_BOOL) {
            if (i + 1 < nargs)
                i++;
            else
                pending = o;
        }
    }
    if (pending) {
        add_values(r, pending, cur->text, wsdir, extra);
        goto out;
    }
    if (cur->eq_text != NONE && cur->eq_text > 0) {
        const struct gr_option *o = word_option(cmd, cur);
        r->start = cur->eq_raw;
        if (o)
            add_values(r, o, cur->text + cur->eq_text + 1, wsdir, extra);
        goto out;
    }
    if (cur->text[0] == '-' && cur->text[1] == '-') {
        for (const struct gr_option *o = cmd->opts; o && o->name; o++)
            if (starts(o->name, cur->text + 2))
                add(r, xasprintf("--%s", o->name));
        goto out;
    }
    complete_bare(r, cmd, args, nargs, cur, wsdir, extra);
out:
    sort_unique(r);
    scan_release(&sc);
}

void
complete_result_release(struct complete_result *r)
{
    if (!r)
        return;
    for (size_t i = 0; i < r->n; i++)
        free(r->items[i]);
    free(r->items);
    memset(r, 0, sizeof *r);
}

/* ---- lists for shell completion ------------------------------------ */

static const char *
kind_word(const struct gr_option *o)
{
    switch (o->type) {
    case OPT_INT:    return "int";
    case OPT_FLOAT:  return "number";
    case OPT_BOOL:   return "bool";
    case OPT_STRING: return !strcmp(o->name, "command") ? "command" : "text";
    case OPT_PATH:   return "path";
    case OPT_CHOICE: return "choice";
    case OPT_PATHS:  return "paths";
    default:         return option_type_name(o);
    }
}

char *
complete_list_commands(void)
{
    char *buf = NULL;
    size_t n = 0;
    FILE *f = open_memstream(&buf, &n);
    if (!f)
        return xstrdup("");
    for (const struct gr_command *c = gr_commands; c->name; c++)
        fprintf(f, "%s\n", c->name);
    fclose(f);
    return buf;
}

char *
complete_list_options(const struct gr_command *cmd)
{
    char *buf = NULL;
    size_t n = 0;
    FILE *f = open_memstream(&buf, &n);
    if (!f)
        return xstrdup("");
    for (const struct gr_option *o = cmd->opts; o && o->name; o++) {
        int pos = cmd->positional && !strcmp(cmd->positional, o->name);
        fprintf(f, "%s %s %s", o->name, kind_word(o), pos ? "positional" : "-");
        if (o->type == OPT_BOOL)
            fputs(" true false", f);
        for (const char *c = o->type == OPT_CHOICE ? o->choices : NULL; c && *c;) {
            const char *bar = strchr(c, '|');
            size_t len = bar ? (size_t)(bar - c) : strlen(c);
            fprintf(f, " %.*s", (int)len, c);
            c = bar ? bar + 1 : NULL;
        }
        fputc('\n', f);
    }
    fclose(f);
    return buf;
}
