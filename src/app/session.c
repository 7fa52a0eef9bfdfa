/* session.c: YAML session files (libyaml's document API), validated
 * against the command registry before anything runs.
 *
 * Every error is one line that names file:line:column (1-based; libyaml
 * counts from 0).  The walk is fixed in depth (top level, steps, one
 * step, its options, a list of paths), so aliases cannot make it loop;
 * includes nest at most MAX_INCLUDE deep and a cycle is an error. */
#include "app/session.h"

#include <ctype.h>
#include <errno.h>
#include <glob.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include <yaml.h>

#include "app/job.h"
#include "app/workspace.h"
#include "base/fsio.h"
#include "base/xalloc.h"
#include "model/checkpoint.h"
#include "stages/corpus.h"

#define SESSION_VERSION 1
#define MAX_INCLUDE 16          /* files included inside included files */
#define STEP_KEY_WHEN_MISSING "when_missing"

/* Top-level keys of a session file. */
static const char *const top_keys[] = { "garage", "workspace", "seed", "steps", NULL };

/* Options naming files the person supplies, checked when the session
 * loads.  Other paths (sample.checkpoint, ...) may name files that
 * earlier steps produce, so they are checked when their step runs. */
static const struct {
    const char *cmd, *opt;
} input_paths[] = {
    { "corpus", "add" },
    { "demos", "import" },
    { "rank", "prompts" },
    { NULL, NULL }
};

struct loader {
    const char *path;           /* as given, for messages */
    char *text;                 /* the whole file */
    size_t len;
    yaml_document_t doc;
    int have_doc;
    struct gr_error *err;
    const char *file;           /* path, as kept in session.files */
    char *real;                 /* realpath, to spot include cycles */
    struct loader *parent;      /* the file that includes this one */
    int depth;                  /* 0 for the file given */
    char **scratch;             /* texts with ${VAR} expanded, freed at the end */
    size_t nscratch;
};

/* ---- small helpers ------------------------------------------------- */

/* "path:line:col: message" (mark is libyaml's, 0-based). */
static enum gr_status
fail_at(struct loader *L, yaml_mark_t mark, enum gr_status code,
        const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static enum gr_status
fail_at(struct loader *L, yaml_mark_t mark, enum gr_status code,
        const char *fmt, ...)
{
    char msg[sizeof L->err->msg];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return gr_fail(L->err, code, "%s:%zu:%zu: %s", L->path,
                   (size_t)mark.line + 1, (size_t)mark.column + 1, msg);
}

static yaml_node_t *
node(struct loader *L, int id)
{
    return yaml_document_get_node(&L->doc, id);
}

static const char *
scalar(const yaml_node_t *n)
{
    return (const char *)n->data.scalar.value;
}

/* A YAML null: "key:" with nothing after it, "~" or "null". */
static int
is_null(const yaml_node_t *n)
{
    if (n->type != YAML_SCALAR_NODE || n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
        return 0;
    const char *s = scalar(n);
    return !*s || !strcmp(s, "~") || !strcmp(s, "null") || !strcmp(s, "Null") ||
           !strcmp(s, "NULL");
}

/* What a node is, for "got ..." in messages. */
static const char *
node_kind(const yaml_node_t *n)
{
    switch (n->type) {
    case YAML_MAPPING_NODE:  return "a mapping";
    case YAML_SEQUENCE_NODE: return "a list";
    default:                 return is_null(n) ? "nothing" : "a scalar";
    }
}

/* What an option expects, for messages ("an integer", ...). */
static const char *
expects(const struct gr_option *o)
{
    switch (o->type) {
    case OPT_INT:    return "an integer";
    case OPT_FLOAT:  return "a number";
    case OPT_BOOL:   return "true or false";
    case OPT_STRING: return "text";
    case OPT_PATH:   return "a path";
    case OPT_CHOICE: return "one of its choices";
    case OPT_PATHS:  return "a path or a list of paths";
    case OPT_STRINGS: return "a text or a list of texts";
    }
    return "a value";
}

/* Key nodes must be plain names. */
static enum gr_status
key_text(struct loader *L, yaml_node_t *k, const char **out)
{
    if (k->type != YAML_SCALAR_NODE || is_null(k))
        return fail_at(L, k->start_mark, GR_EINPUT,
                       "expected a name as the key here, got %s", node_kind(k));
    if (strlen(scalar(k)) != k->data.scalar.length)
        return fail_at(L, k->start_mark, GR_EINPUT, "a key contains a NUL character");
    *out = scalar(k);
    return GR_OK;
}

/* ---- ${VAR} --------------------------------------------------------- */

/* Byte offset in L->text of a mark (whose column counts characters). */
static size_t
mark_offset(struct loader *L, yaml_mark_t m)
{
    size_t i = 0, line = 0;
    while (i < L->len && line < m.line) {
        if (L->text[i++] == '\n')
            line++;
    }
    for (size_t c = 0; i < L->len && c < m.column; c++) {
        i++;
        while (i < L->len && ((unsigned char)L->text[i] & 0xc0) == 0x80)
            i++;
    }
    return i;
}

/* Where the k-th "${" of scalar v is in the file (v's start when the
 * source does not show it, as with an escape in a quoted string). */
static yaml_mark_t
env_mark(struct loader *L, yaml_node_t *v, size_t k)
{
    size_t from = mark_offset(L, v->start_mark), to = mark_offset(L, v->end_mark);
    yaml_mark_t m = v->start_mark;
    for (size_t i = from; i < to && i < L->len; i++) {
        const char *p = L->text + i;
        if (p[0] == '$' && i + 1 < to && p[1] == '$') {
            i++;                        /* "$$" is no variable */
            m.column += 2;
            continue;
        }
        if (p[0] == '$' && i + 1 < to && p[1] == '{' && k-- == 0)
            return m;
        if (p[0] == '\n') {
            m.line++;
            m.column = 0;
        } else if (((unsigned char)p[0] & 0xc0) != 0x80) {
            m.column++;
        }
    }
    return v->start_mark;
}

static int
env_name_ok(const char *s, size_t n)
{
    if (n == 0 || !(isalpha((unsigned char)s[0]) || s[0] == '_'))
        return 0;
    for (size_t i = 1; i < n; i++)
        if (!(isalnum((unsigned char)s[i]) || s[i] == '_'))
            return 0;
    return 1;
}

/* text (the value of scalar v) with ${NAME} and ${NAME:-word} replaced
 * from the environment and "$$" by '$'.  *out is text itself when there
 * is nothing to replace, else a string the loader frees. */
static enum gr_status
expand_env(struct loader *L, yaml_node_t *v, const char *text, const char **out)
{
    *out = text;
    if (!strchr(text, '$'))
        return GR_OK;
    char *buf = NULL;
    size_t n = 0, k = 0;
    FILE *f = open_memstream(&buf, &n);
    enum gr_status rc = GR_OK;
    if (!f)
        return gr_fail(L->err, GR_ENOMEM, "%s: out of memory", L->path);
    for (const char *p = text; *p;) {
        if (p[0] == '$' && p[1] == '$') {
            fputc('$', f);
            p += 2;
            continue;
        }
        if (p[0] != '$' || p[1] != '{') {
            fputc(*p++, f);
            continue;
        }
        const char *name = p + 2, *close = strchr(name, '}');
        if (!close) {
            rc = fail_at(L, env_mark(L, v, k), GR_EINPUT,
                         "'${' without a closing '}' (write $$ for a '$')");
            break;
        }
        const char *dflt = NULL;
        size_t nlen = (size_t)(close - name);
        const char *colon = memchr(name, ':', nlen);
        if (colon && colon[1] == '-') {
            dflt = colon + 2;
            nlen = (size_t)(colon - name);
        }
        if (!env_name_ok(name, nlen)) {
            rc = fail_at(L, env_mark(L, v, k), GR_EINPUT,
                         "'${%.*s}' is not a variable name (letters, digits and _)",
                         (int)(close - name), name);
            break;
        }
        char *key = xstrndup(name, nlen);
        const char *val = getenv(key);
        if (!val && dflt) {
            fwrite(dflt, 1, (size_t)(close - dflt), f);
        } else if (!val) {
            rc = fail_at(L, env_mark(L, v, k), GR_EINPUT,
                         "environment variable '%s' is not set", key);
            free(key);
            break;
        } else {
            fputs(val, f);
        }
        free(key);
        k++;
        p = close + 1;
    }
    fclose(f);
    if (rc != GR_OK) {
        free(buf);
        return rc;
    }
    L->scratch = xrealloc(L->scratch, (L->nscratch + 1) * sizeof *L->scratch);
    L->scratch[L->nscratch++] = buf;
    *out = buf;
    return GR_OK;
}

/* A value's text, which must be a scalar without NUL characters. */
static enum gr_status
value_text(struct loader *L, yaml_node_t *v, const struct gr_option *o,
           const char **out)
{
    if (v->type != YAML_SCALAR_NODE)
        return fail_at(L, v->start_mark, GR_EINPUT, "'%s' expects %s, got %s",
                       o->name, expects(o), node_kind(v));
    if (strlen(scalar(v)) != v->data.scalar.length)
        return fail_at(L, v->start_mark, GR_EINPUT,
                       "'%s': the value contains a NUL character", o->name);
    return expand_env(L, v, scalar(v), out);
}

static int
is_input_path(const struct gr_command *cmd, const struct gr_option *o)
{
    if (o->type != OPT_PATH && o->type != OPT_PATHS)
        return 0;
    for (size_t i = 0; input_paths[i].cmd; i++)
        if (!strcmp(input_paths[i].cmd, cmd->name) &&
            !strcmp(input_paths[i].opt, o->name))
            return 1;
    return 0;
}

/* For an input path just stored in a: it exists, or (a glob) matches
 * something.  shown is the text the person wrote.  Message without
 * location; the caller prefixes it. */
static enum gr_status
check_input_path(const struct gr_args *a, const struct gr_option *o,
                 const char *shown, struct gr_error *err)
{
    const struct gr_value *v = &a->v[command_option_index(a->cmd, o)];
    const char *p = o->type == OPT_PATHS ? (v->nlist ? v->list[v->nlist - 1] : NULL) : v->s;
    if (!p)
        return GR_OK;
    if (strpbrk(p, "*?[")) {
        glob_t g;
        int r = glob(p, 0, NULL, &g);
        size_t n = r == 0 ? g.gl_pathc : 0;
        if (r == 0 || r == GLOB_NOMATCH)
            globfree(&g);
        if (n == 0)
            return gr_fail(err, GR_EINPUT, "no file matches: %s", shown);
        return GR_OK;
    }
    if (!fs_exists(p))
        return gr_fail(err, GR_EINPUT, "file not found: %s", shown);
    return GR_OK;
}

/* args_set plus the input-path check; message without location. */
static enum gr_status
set_value(struct gr_args *a, const struct gr_option *o, const char *text,
          struct gr_error *err)
{
    enum gr_status rc = args_set(a, o, text, err);
    if (rc == GR_OK && is_input_path(a->cmd, o))
        rc = check_input_path(a, o, text, err);
    return rc;
}

/* ---- reading ------------------------------------------------------- */

static enum gr_status
read_file(struct loader *L)
{
    FILE *f = fopen(L->path, "rb");
    if (!f)
        return gr_fail_errno(L->err, GR_EINPUT, "%s: cannot open", L->path);
    size_t cap = 4096, n = 0;
    char *buf = xmalloc(cap);
    for (;;) {
        if (n + 1 >= cap) {
            cap *= 2;
            buf = xrealloc(buf, cap);
        }
        size_t r = fread(buf + n, 1, cap - n - 1, f);
        n += r;
        if (r == 0)
            break;
    }
    if (ferror(f)) {
        enum gr_status rc = gr_fail_errno(L->err, GR_EINPUT, "%s: cannot read", L->path);
        fclose(f);
        free(buf);
        return rc;
    }
    fclose(f);
    buf[n] = '\0';
    L->text = buf;
    L->len = n;
    return GR_OK;
}

/* Is line (0-based) inside a scalar that spans lines, at column col?
 * Tabs there are content (a quoted or block scalar), not indentation. */
static int
inside_scalar(struct loader *L, size_t line, size_t col)
{
    if (!L->have_doc)
        return 0;
    for (yaml_node_t *n = L->doc.nodes.start; n < L->doc.nodes.top; n++) {
        if (n->type != YAML_SCALAR_NODE)
            continue;
        yaml_mark_t s = n->start_mark, e = n->end_mark;
        if (line > s.line && (line < e.line || (line == e.line && col < e.column)))
            return 1;
    }
    return 0;
}

/* The first tab in the indentation of a line, at or before max_line
 * (0-based).  YAML forbids them; libyaml's own messages about them are
 * hard to read.  Blank and comment lines are skipped when the document
 * parsed: a tab there is harmless. */
static int
find_tab(struct loader *L, size_t max_line, yaml_mark_t *where)
{
    size_t line = 0;
    const char *p = L->text, *end = L->text + L->len;
    while (p < end && line <= max_line) {
        const char *q = p;
        while (q < end && (*q == ' ' || *q == '\t'))
            q++;
        const char *tab = memchr(p, '\t', (size_t)(q - p));
        int blank = q == end || *q == '\n' || *q == '\r' || *q == '#';
        if (tab && !(L->have_doc && blank) &&
            !inside_scalar(L, line, (size_t)(tab - p))) {
            memset(where, 0, sizeof *where);
            where->line = line;
            where->column = (size_t)(tab - p);
            return 1;
        }
        const char *nl = memchr(q, '\n', (size_t)(end - q));
        if (!nl)
            break;
        p = nl + 1;
        line++;
    }
    return 0;
}

static enum gr_status
parse_failed(struct loader *L, yaml_parser_t *parser)
{
    yaml_mark_t m = parser->problem_mark;
    if (parser->error == YAML_MEMORY_ERROR)
        return gr_fail(L->err, GR_ENOMEM, "%s: out of memory reading YAML", L->path);
    if (parser->error == YAML_READER_ERROR) {
        /* Encoding errors carry a byte offset, not a mark. */
        memset(&m, 0, sizeof m);
        for (size_t i = 0; i < parser->problem_offset && i < L->len; i++) {
            if (L->text[i] == '\n') {
                m.line++;
                m.column = 0;
            } else {
                m.column++;
            }
        }
    }
    yaml_mark_t tab;
    if (find_tab(L, m.line, &tab))
        return fail_at(L, tab, GR_EINPUT, "tabs are not allowed in YAML; indent with spaces");
    const char *hint = "";
    if (parser->context && !strcmp(parser->context, "while scanning an alias"))
        hint = " (a value that starts with '*' names an alias: quote globs, \"*.txt\")";
    return fail_at(L, m, GR_EINPUT, "malformed YAML: %s%s",
                   parser->problem ? parser->problem : "cannot parse", hint);
}

static enum gr_status
parse(struct loader *L)
{
    yaml_parser_t parser;
    enum gr_status rc = GR_OK;
    if (!yaml_parser_initialize(&parser))
        return gr_fail(L->err, GR_ENOMEM, "%s: out of memory reading YAML", L->path);
    yaml_parser_set_input_string(&parser, (const unsigned char *)L->text, L->len);
    if (!yaml_parser_load(&parser, &L->doc)) {
        rc = parse_failed(L, &parser);
        goto out;
    }
    L->have_doc = 1;

    /* One document only. */
    yaml_document_t more;
    if (!yaml_parser_load(&parser, &more)) {
        rc = parse_failed(L, &parser);
        goto out;
    }
    yaml_node_t *root2 = yaml_document_get_root_node(&more);
    if (root2) {
        yaml_mark_t m = more.start_mark;
        yaml_document_delete(&more);
        rc = fail_at(L, m, GR_EINPUT, "a session is one YAML document; found a second one");
        goto out;
    }
    yaml_document_delete(&more);

    yaml_mark_t tab;
    if (find_tab(L, (size_t)-1, &tab))
        rc = fail_at(L, tab, GR_EINPUT, "tabs are not allowed in YAML; indent with spaces");
out:
    yaml_parser_delete(&parser);
    return rc;
}

/* ---- validation ---------------------------------------------------- */

/* Parse a boolean as the registry does (YAML's True, YES... too); -1
 * when text is none. */
static int
parse_bool(const char *text)
{
    static const char *const yes[] = { "true", "yes", "on", "1", NULL };
    static const char *const no[] = { "false", "no", "off", "0", NULL };
    for (size_t i = 0; yes[i]; i++)
        if (!strcasecmp(text, yes[i]))
            return 1;
    for (size_t i = 0; no[i]; i++)
        if (!strcasecmp(text, no[i]))
            return 0;
    return -1;
}

/* "when_missing: true" among a step's options: not a registry option,
 * so every step accepts it. */
static enum gr_status
load_when_missing(struct loader *L, struct session_step *st, yaml_node_t *k,
                  yaml_node_t *v, unsigned char *seen)
{
    const char *text;
    if (*seen)
        return fail_at(L, k->start_mark, GR_EINPUT, "'%s' is given twice for '%s'",
                       STEP_KEY_WHEN_MISSING, st->cmd->name);
    *seen = 1;
    if (is_null(v))
        return fail_at(L, k->start_mark, GR_EINPUT,
                       "'%s' has no value (it expects true or false)",
                       STEP_KEY_WHEN_MISSING);
    if (v->type != YAML_SCALAR_NODE)
        return fail_at(L, v->start_mark, GR_EINPUT, "'%s' expects true or false, got %s",
                       STEP_KEY_WHEN_MISSING, node_kind(v));
    if (strlen(scalar(v)) != v->data.scalar.length)
        return fail_at(L, v->start_mark, GR_EINPUT,
                       "'%s': the value contains a NUL character", STEP_KEY_WHEN_MISSING);
    enum gr_status rc = expand_env(L, v, scalar(v), &text);
    if (rc != GR_OK)
        return rc;
    int b = parse_bool(text);
    if (b < 0)
        return fail_at(L, v->start_mark, GR_EINPUT, "'%s' expects true or false, got '%s'",
                       STEP_KEY_WHEN_MISSING, text);
    st->when_missing = b;
    return GR_OK;
}

/* One option of a step: key -> scalar, or a list of scalars for a list
 * option. */
static enum gr_status
load_option(struct loader *L, struct session_step *st, yaml_node_t *k,
            yaml_node_t *v, unsigned char *seen)
{
    const struct gr_command *cmd = st->cmd;
    const char *key;
    enum gr_status rc;
    struct gr_error e;
    if ((rc = key_text(L, k, &key)) != GR_OK)
        return rc;
    if (!strcmp(key, STEP_KEY_WHEN_MISSING))
        return load_when_missing(L, st, k, v, &seen[st->args.nopts]);
    const struct gr_option *o = command_option(cmd, key);
    if (!o) {
        const char *near = command_nearest_option(cmd, key);
        if (near)
            return fail_at(L, k->start_mark, GR_EINPUT,
                           "unknown option '%s' for '%s' (did you mean '%s'?)",
                           key, cmd->name, near);
        return fail_at(L, k->start_mark, GR_EINPUT, "'%s' takes no options (got '%s')",
                       cmd->name, key);
    }
    size_t idx = command_option_index(cmd, o);
    if (seen[idx])
        return fail_at(L, k->start_mark, GR_EINPUT, "'%s' is given twice for '%s'",
                       o->name, cmd->name);
    seen[idx] = 1;

    if (is_null(v))
        return fail_at(L, k->start_mark, GR_EINPUT, "'%s' has no value (it expects %s)",
                       o->name, expects(o));
    if (v->type == YAML_SEQUENCE_NODE &&
        (o->type == OPT_PATHS || o->type == OPT_STRINGS)) {
        for (yaml_node_item_t *it = v->data.sequence.items.start;
             it < v->data.sequence.items.top; it++) {
            yaml_node_t *item = node(L, *it);
            const char *text;
            if (is_null(item))
                return fail_at(L, item->start_mark, GR_EINPUT,
                               "'%s' has an empty item", o->name);
            if ((rc = value_text(L, item, o, &text)) != GR_OK)
                return rc;
            if ((rc = set_value(&st->args, o, text, &e)) != GR_OK)
                return fail_at(L, item->start_mark, rc, "%s", e.msg);
        }
        return GR_OK;
    }
    const char *text;
    if ((rc = value_text(L, v, o, &text)) != GR_OK)
        return rc;
    /* YAML writes booleans as True, TRUE, Yes, ... too. */
    char lower[8];
    if (o->type == OPT_BOOL && v->data.scalar.style == YAML_PLAIN_SCALAR_STYLE &&
        strlen(text) < sizeof lower) {
        size_t i = 0;
        for (; text[i]; i++)
            lower[i] = (char)tolower((unsigned char)text[i]);
        lower[i] = '\0';
        text = lower;
    }
    if ((rc = set_value(&st->args, o, text, &e)) != GR_OK)
        return fail_at(L, v->start_mark, rc, "%s", e.msg);
    return GR_OK;
}

static enum gr_status load_file(struct loader *L, struct session *s);

/* "- include: FILE": the steps of another session file, here. */
static enum gr_status
load_include(struct loader *L, struct session *s, yaml_node_t *k, yaml_node_t *v,
             const char *base)
{
    const char *text;
    enum gr_status rc;
    if (is_null(v))
        return fail_at(L, k->start_mark, GR_EINPUT,
                       "'include' has no value (it expects a session file)");
    if (v->type != YAML_SCALAR_NODE)
        return fail_at(L, v->start_mark, GR_EINPUT,
                       "'include' expects a session file, got %s", node_kind(v));
    if (strlen(scalar(v)) != v->data.scalar.length)
        return fail_at(L, v->start_mark, GR_EINPUT,
                       "'include': the value contains a NUL character");
    if ((rc = expand_env(L, v, scalar(v), &text)) != GR_OK)
        return rc;
    if (!*text)
        return fail_at(L, v->start_mark, GR_EINPUT,
                       "'include' expects a session file, got an empty string");
    const char *home = getenv("HOME");
    char *path;
    if (text[0] == '/')
        path = xstrdup(text);
    else if (text[0] == '~' && text[1] == '/' && home)
        path = xasprintf("%s%s", home, text + 1);
    else if (!strcmp(base, "."))
        path = xstrdup(text);           /* "b.yaml", not "./b.yaml" */
    else
        path = fs_join(base, text);
    char *real = realpath(path, NULL);
    if (!real || fs_is_dir(real)) {
        rc = fail_at(L, v->start_mark, GR_EINPUT, real ? "include: %s is a folder" :
                     "include: file not found: %s", text);
        goto out;
    }
    for (struct loader *p = L; p; p = p->parent) {
        if (strcmp(p->real, real) != 0)
            continue;
        /* p -> ... -> L -> path */
        char *chain = NULL;
        size_t n = 0;
        FILE *f = open_memstream(&chain, &n);
        if (f) {
            size_t depth = (size_t)(L->depth - p->depth) + 1;
            for (size_t i = depth; i-- > 0;) {
                const struct loader *q = L;
                for (size_t j = 0; j < i; j++)
                    q = q->parent;
                fprintf(f, "%s -> ", q->path);
            }
            fputs(path, f);
            fclose(f);
        }
        rc = fail_at(L, v->start_mark, GR_EINPUT, "include cycle: %s", chain ? chain : path);
        free(chain);
        goto out;
    }
    if (L->depth >= MAX_INCLUDE) {
        rc = fail_at(L, v->start_mark, GR_EINPUT,
                     "includes nest more than %d deep", MAX_INCLUDE);
        goto out;
    }
    struct loader sub = {
        .path = path, .err = L->err, .parent = L, .depth = L->depth + 1, .real = real,
    };
    real = NULL;
    rc = load_file(&sub, s);
out:
    free(real);
    free(path);
    return rc;
}

/* One item of steps: a mapping of one command name to its options. */
static enum gr_status
load_step(struct loader *L, struct session *s, yaml_node_t *item,
          const char *base)
{
    enum gr_status rc;
    if (item->type != YAML_MAPPING_NODE) {
        if (item->type == YAML_SCALAR_NODE && !is_null(item))
            return fail_at(L, item->start_mark, GR_EINPUT,
                           "a step is a command with its options, like '- %s: {}'; "
                           "got '%s' alone", scalar(item), scalar(item));
        return fail_at(L, item->start_mark, GR_EINPUT,
                       "a step is a command with its options, like "
                       "'- pretrain: { steps: 100 }'; got %s", node_kind(item));
    }
    yaml_node_pair_t *pairs = item->data.mapping.pairs.start;
    size_t npairs = (size_t)(item->data.mapping.pairs.top - pairs);
    if (npairs == 0)
        return fail_at(L, item->start_mark, GR_EINPUT,
                       "a step needs a command, like '- pretrain: { steps: 100 }'; "
                       "got an empty mapping");

    yaml_node_t *k = node(L, pairs[0].key), *v = node(L, pairs[0].value);
    const char *name;
    if ((rc = key_text(L, k, &name)) != GR_OK)
        return rc;
    if (!strcmp(name, "include") && !command_find(name)) {
        if (npairs > 1) {
            yaml_node_t *k2 = node(L, pairs[1].key);
            return fail_at(L, k2->start_mark, GR_EINPUT,
                           "an include step has nothing but 'include: FILE'");
        }
        return load_include(L, s, k, v, base);
    }
    const struct gr_command *cmd = command_find(name);
    if (!cmd) {
        const char *near = command_nearest(name);
        return fail_at(L, k->start_mark, GR_EINPUT,
                       "unknown command '%s' (did you mean '%s'?)", name,
                       near ? near : "help");
    }
    if (cmd->flags & CMD_NO_SESSION)
        return fail_at(L, k->start_mark, GR_EINPUT, "'%s' cannot be a session step",
                       cmd->name);
    if (npairs > 1) {
        yaml_node_t *k2 = node(L, pairs[1].key);
        const char *second = k2->type == YAML_SCALAR_NODE ? scalar(k2) : "";
        if (command_option(cmd, second))
            return fail_at(L, k2->start_mark, GR_EINPUT,
                           "a step has one command; to give '%s' to '%s', indent it "
                           "under '%s:'", second, cmd->name, cmd->name);
        return fail_at(L, k2->start_mark, GR_EINPUT,
                       "a step has one command; start another step with '- ' "
                       "before '%s'", second);
    }

    /* Room for the step now, so that a failure below releases it. */
    s->steps = xrealloc(s->steps, (s->nsteps + 1) * sizeof *s->steps);
    struct session_step *st = &s->steps[s->nsteps++];
    memset(st, 0, sizeof *st);
    st->cmd = cmd;
    st->file = L->file;
    st->line = (int)k->start_mark.line + 1;
    st->col = (int)k->start_mark.column + 1;
    args_init(&st->args, cmd, base);

    if (is_null(v))
        return GR_OK;
    if (v->type != YAML_MAPPING_NODE) {
        if (v->type == YAML_SCALAR_NODE)
            return fail_at(L, v->start_mark, GR_EINPUT,
                           "the options of '%s' are a mapping, like '%s: { key: value }'; "
                           "got '%s'", cmd->name, cmd->name, scalar(v));
        return fail_at(L, v->start_mark, GR_EINPUT,
                       "the options of '%s' are a mapping, like '%s: { key: value }'; "
                       "got %s", cmd->name, cmd->name, node_kind(v));
    }
    unsigned char *seen = xcalloc(st->args.nopts + 1, 1);
    rc = GR_OK;
    for (yaml_node_pair_t *p = v->data.mapping.pairs.start;
         p < v->data.mapping.pairs.top && rc == GR_OK; p++)
        rc = load_option(L, st, node(L, p->key), node(L, p->value), seen);
    free(seen);
    return rc;
}

static const char *
nearest_top_key(const char *key)
{
    const char *best = NULL;
    size_t bestd = (size_t)-1;
    for (size_t i = 0; top_keys[i]; i++) {
        size_t d = command_name_distance(key, top_keys[i]);
        if (d < bestd) {
            bestd = d;
            best = top_keys[i];
        }
    }
    return bestd <= 2 || bestd * 2 <= strlen(key) ? best : NULL;
}

static enum gr_status
unknown_top_key(struct loader *L, yaml_node_t *k, const char *key)
{
    const char *near = nearest_top_key(key);
    if (!strcmp(key, "include"))
        return fail_at(L, k->start_mark, GR_EINPUT,
                       "'include' is a step: write '- include: FILE' under 'steps:'");
    if (near)
        return fail_at(L, k->start_mark, GR_EINPUT, "unknown key '%s' (did you mean '%s'?)",
                       key, near);
    return fail_at(L, k->start_mark, GR_EINPUT,
                   "unknown key '%s' (a session has garage, workspace, seed and steps)",
                   key);
}

static int
top_index(const char *key)
{
    for (int i = 0; top_keys[i]; i++)
        if (!strcmp(top_keys[i], key))
            return i;
    return -1;
}

/* The session's seed, validated like init's. */
static enum gr_status
load_seed(struct loader *L, struct session *s, yaml_node_t *v)
{
    const struct gr_command *init = command_find("init");
    const struct gr_option *o = init ? command_option(init, "seed") : NULL;
    static const struct gr_option fallback = {
        "seed", OPT_INT, NULL, 0, 2147483647, NULL, "seed"
    };
    struct gr_args a;
    struct gr_error e;
    const char *text;
    enum gr_status rc;
    if (!o || o->type != OPT_INT) {
        init = NULL;
        o = &fallback;
    }
    if (is_null(v) || v->type != YAML_SCALAR_NODE)
        return fail_at(L, v->start_mark, GR_EINPUT, "'seed' expects an integer, got %s",
                       node_kind(v));
    if ((rc = value_text(L, v, o, &text)) != GR_OK)
        return rc;
    if (init) {
        args_init(&a, init, NULL);
        rc = args_set(&a, o, text, &e);
        long long x = rc == GR_OK ? args_int(&a, "seed") : 0;
        args_release(&a);
        if (rc != GR_OK)
            return fail_at(L, v->start_mark, rc, "%s", e.msg);
        if (x < 0)
            return fail_at(L, v->start_mark, GR_EINPUT,
                           "'seed' must not be negative, got %lld", x);
        s->seed = (uint64_t)x;
    } else {
        char *end;
        errno = 0;
        long long x = strtoll(text, &end, 10);
        if (!*text || *end || errno || x < 0)
            return fail_at(L, v->start_mark, GR_EINPUT,
                           "'seed' expects an integer, got '%s'", text);
        s->seed = (uint64_t)x;
    }
    s->has_seed = 1;
    return GR_OK;
}

static enum gr_status
load_top(struct loader *L, struct session *s, const char *base)
{
    yaml_node_t *root = yaml_document_get_root_node(&L->doc);
    yaml_mark_t start = { 0, 0, 0 };
    enum gr_status rc;

    if (!root || is_null(root))
        return fail_at(L, start, GR_EINPUT,
                       "missing 'garage: %d' (the session format version)", SESSION_VERSION);
    if (root->type != YAML_MAPPING_NODE)
        return fail_at(L, root->start_mark, GR_EINPUT,
                       "a session is a mapping with 'garage: %d' and 'steps:', got %s",
                       SESSION_VERSION, node_kind(root));

    yaml_node_pair_t *pairs = root->data.mapping.pairs.start;
    size_t npairs = (size_t)(root->data.mapping.pairs.top - pairs);
    yaml_node_t *val[4] = { NULL, NULL, NULL, NULL };

    /* Keys first: names, no duplicates.  A version other than ours is
     * reported before anything else, since a newer format may have keys
     * we do not know. */
    yaml_node_t *first_unknown = NULL;
    for (size_t i = 0; i < npairs; i++) {
        yaml_node_t *k = node(L, pairs[i].key);
        const char *key;
        if ((rc = key_text(L, k, &key)) != GR_OK)
            return rc;
        int t = top_index(key);
        if (t < 0) {
            if (!first_unknown)
                first_unknown = k;
            continue;
        }
        if (val[t])
            return fail_at(L, k->start_mark, GR_EINPUT, "'%s' is given twice", key);
        val[t] = node(L, pairs[i].value);
    }
    if (!val[0]) {
        if (first_unknown)
            return unknown_top_key(L, first_unknown, scalar(first_unknown));
        return fail_at(L, start, GR_EINPUT,
                       "missing 'garage: %d' (the session format version)", SESSION_VERSION);
    }
    yaml_node_t *ver = val[0];
    if (ver->type != YAML_SCALAR_NODE || is_null(ver))
        return fail_at(L, ver->start_mark, GR_EINPUT,
                       "'garage' is the session format version, %d; got %s",
                       SESSION_VERSION, node_kind(ver));
    if (strcmp(scalar(ver), "1") != 0)
        return fail_at(L, ver->start_mark, GR_EINPUT,
                       "unsupported session format version %s (this garage reads %d)",
                       scalar(ver), SESSION_VERSION);
    if (first_unknown)
        return unknown_top_key(L, first_unknown, scalar(first_unknown));

    if (val[1]) {
        yaml_node_t *w = val[1];
        if (w->type != YAML_SCALAR_NODE || is_null(w) || !*scalar(w))
            return fail_at(L, w->start_mark, GR_EINPUT,
                           "'workspace' expects a folder, got %s", node_kind(w));
        if (strlen(scalar(w)) != w->data.scalar.length)
            return fail_at(L, w->start_mark, GR_EINPUT,
                           "'workspace' contains a NUL character");
        const char *home = getenv("HOME");
        const char *ws;
        if ((rc = expand_env(L, w, scalar(w), &ws)) != GR_OK)
            return rc;
        if (!*ws)
            return fail_at(L, w->start_mark, GR_EINPUT,
                           "'workspace' expects a folder, got an empty string");
        /* An included file's workspace and seed are checked, not used. */
        if (!L->parent) {
            if (ws[0] == '~' && (ws[1] == '/' || !ws[1]) && home)
                s->workspace = xasprintf("%s%s", home, ws + 1);
            else
                s->workspace = xstrdup(ws);
        }
    }
    if (val[2]) {
        struct session ignored = { 0 };
        if ((rc = load_seed(L, L->parent ? &ignored : s, val[2])) != GR_OK)
            return rc;
    }

    yaml_node_t *steps = val[3];
    if (!steps)
        return fail_at(L, start, GR_EINPUT, "missing 'steps:' (the list of steps to run)");
    if (steps->type != YAML_SEQUENCE_NODE || steps->data.sequence.items.start ==
                                             steps->data.sequence.items.top) {
        if (steps->type == YAML_SEQUENCE_NODE || is_null(steps))
            return fail_at(L, steps->start_mark, GR_EINPUT,
                           "'steps' is empty; list at least one step, like "
                           "'- pretrain: { steps: 100 }'");
        return fail_at(L, steps->start_mark, GR_EINPUT,
                       "'steps' is a list of steps, like '- pretrain: { steps: 100 }'; "
                       "got %s", node_kind(steps));
    }
    for (yaml_node_item_t *it = steps->data.sequence.items.start;
         it < steps->data.sequence.items.top; it++)
        if ((rc = load_step(L, s, node(L, *it), base)) != GR_OK)
            return rc;
    return GR_OK;
}

/* ---- --set overrides ----------------------------------------------- */

static int
all_digits(const char *s, size_t n)
{
    if (n == 0)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!isdigit((unsigned char)s[i]))
            return 0;
    return 1;
}

/* Apply one "step.key=value".  touched[i] is a bitmap per step of the
 * options an override already set: the first override of a list option
 * replaces the file's list, later ones append. */
static enum gr_status
apply_set(struct session *s, const char *set, unsigned char **touched,
          struct gr_error *err)
{
    const char *eq = strchr(set, '=');
    const char *dot = eq ? memchr(set, '.', (size_t)(eq - set)) : NULL;
    if (!eq || !dot || dot == set || dot + 1 == eq)
        return gr_fail(err, GR_EUSAGE, "--set %s: expected step.key=value "
                       "(like pretrain.steps=100)", set);
    char *step = xstrndup(set, (size_t)(dot - set));
    char *key = xstrndup(dot + 1, (size_t)(eq - dot - 1));
    const char *value = eq + 1;
    enum gr_status rc = GR_OK;
    size_t lo = 0, hi = s->nsteps;      /* steps [lo, hi) considered */
    int by_index = all_digits(step, strlen(step));
    if (by_index) {
        char *end;
        errno = 0;
        unsigned long long n = strtoull(step, &end, 10);
        if (errno || n < 1 || n > s->nsteps) {
            rc = gr_fail(err, GR_EUSAGE, "--set %s: no step %s in %s (it has %zu step%s)",
                         set, step, s->path, s->nsteps, s->nsteps == 1 ? "" : "s");
            goto out;
        }
        lo = (size_t)n - 1;
        hi = lo + 1;
    }
    int matched = 0;
    for (size_t i = lo; i < hi; i++) {
        struct session_step *st = &s->steps[i];
        if (!by_index && strcmp(st->cmd->name, step) != 0)
            continue;
        matched = 1;
        if (!strcmp(key, STEP_KEY_WHEN_MISSING)) {
            int b = parse_bool(value);
            if (b < 0) {
                rc = gr_fail(err, GR_EUSAGE, "--set %s: '%s' expects true or false, "
                             "got '%s'", set, STEP_KEY_WHEN_MISSING, value);
                goto out;
            }
            st->when_missing = b;
            continue;
        }
        const struct gr_option *o = command_option(st->cmd, key);
        if (!o) {
            const char *near = command_nearest_option(st->cmd, key);
            if (near)
                rc = gr_fail(err, GR_EUSAGE, "--set %s: unknown option '%s' for '%s' "
                             "(did you mean '%s'?)", set, key, st->cmd->name, near);
            else
                rc = gr_fail(err, GR_EUSAGE, "--set %s: '%s' takes no options (got '%s')",
                             set, st->cmd->name, key);
            goto out;
        }
        size_t idx = command_option_index(st->cmd, o);
        if (!touched[i])
            touched[i] = xcalloc(st->args.nopts + 1, 1);
        if ((o->type == OPT_PATHS || o->type == OPT_STRINGS) && !touched[i][idx])
            st->args.v[idx].set = 0;    /* args_set then replaces the list */
        touched[i][idx] = 1;
        /* A path on the command line is relative to the current folder,
         * not to the session file's. */
        char *base = st->args.base_dir;
        st->args.base_dir = NULL;
        struct gr_error e;
        rc = set_value(&st->args, o, value, &e);
        st->args.base_dir = base;
        if (rc != GR_OK) {
            rc = gr_fail(err, GR_EUSAGE, "--set %s: %s", set, e.msg);
            goto out;
        }
    }
    if (!matched)
        rc = gr_fail(err, GR_EUSAGE, "--set %s: no step '%s' in %s", set, step, s->path);
out:
    free(step);
    free(key);
    return rc;
}

static enum gr_status
apply_sets(struct session *s, char *const *sets, size_t nsets, struct gr_error *err)
{
    enum gr_status rc = GR_OK;
    unsigned char **touched = xcalloc(s->nsteps + 1, sizeof *touched);
    for (size_t i = 0; i < nsets && rc == GR_OK; i++)
        rc = apply_set(s, sets[i], touched, err);
    for (size_t i = 0; i < s->nsteps; i++)
        free(touched[i]);
    free(touched);
    return rc;
}

/* ---- the API ------------------------------------------------------- */

/* Read, parse and load one file (L->path) into s; frees what L holds. */
static enum gr_status
load_file(struct loader *L, struct session *s)
{
    char *base = NULL;
    enum gr_status rc;
    s->files = xrealloc(s->files, (s->nfiles + 1) * sizeof *s->files);
    s->files[s->nfiles++] = xstrdup(L->path);
    L->file = s->files[s->nfiles - 1];
    if ((rc = read_file(L)) != GR_OK)
        goto out;
    if (!L->real && !(L->real = realpath(L->path, NULL)))
        L->real = xstrdup(L->path);
    if ((rc = parse(L)) != GR_OK)
        goto out;
    base = fs_dirname(L->path);
    rc = load_top(L, s, base);
out:
    if (L->have_doc)
        yaml_document_delete(&L->doc);
    for (size_t i = 0; i < L->nscratch; i++)
        free(L->scratch[i]);
    free(L->scratch);
    free(L->text);
    free(L->real);
    free(base);
    return rc;
}

enum gr_status
session_load(struct session *s, const char *path, char *const *sets,
             size_t nsets, struct gr_error *err)
{
    struct loader L = { .path = path, .err = err };
    enum gr_status rc;

    memset(s, 0, sizeof *s);
    s->path = xstrdup(path);
    if ((rc = load_file(&L, s)) == GR_OK)
        rc = apply_sets(s, sets, nsets, err);
    if (rc != GR_OK)
        session_release(s);
    return rc;
}

void
session_release(struct session *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < s->nsteps; i++)
        args_release(&s->steps[i].args);
    free(s->steps);
    for (size_t i = 0; i < s->nfiles; i++)
        free(s->files[i]);
    free(s->files);
    free(s->workspace);
    free(s->path);
    memset(s, 0, sizeof *s);
}

/* init's default seed, for a workspace a session creates without seed:. */
static uint64_t
default_seed(void)
{
    const struct gr_command *init = command_find("init");
    const struct gr_option *o = init ? command_option(init, "seed") : NULL;
    return o && o->def ? strtoull(o->def, NULL, 10) : 1337;
}

enum gr_status
session_run(struct session *s, struct gr_ctx *ctx, struct gr_error *err)
{
    struct workspace *ws = NULL;       /* on the heap: ctx outlives this frame */
    struct workspace *saved = ctx->ws;
    int need_ws = 0;
    enum gr_status rc = GR_OK;

    for (size_t i = 0; i < s->nsteps; i++)
        if (s->steps[i].cmd->flags & CMD_WORKSPACE)
            need_ws = 1;
    /* -C wins; else the session's workspace:, relative to the current
     * folder (installed sessions live read-only under /usr/share). */
    const char *dir = ctx->dir ? ctx->dir : s->workspace ? s->workspace : ".";
    if (need_ws && !(ctx->ws && (ctx->dir || !s->workspace))) {
        char *marker = fs_join(dir, "garage.yaml");
        int exists = fs_exists(marker);
        free(marker);
        if (!exists) {
            uint64_t seed = s->has_seed ? s->seed : default_seed();
            if ((rc = workspace_init(dir, seed, err)) != GR_OK)
                goto out;
            metrics_note(ctx->metrics, "created a garage workspace in %s (seed %" PRIu64 ")",
                         dir, seed);
        }
        ws = xcalloc(1, sizeof *ws);
        if ((rc = workspace_open(ws, dir, err)) != GR_OK)
            goto out;
        ctx->ws = ws;
        if (exists && s->has_seed && ws->seed != s->seed)
            metrics_note(ctx->metrics, "%s: the workspace keeps its seed %" PRIu64
                         "; the session's seed %" PRIu64 " applies to new workspaces",
                         s->path, ws->seed, s->seed);
    }

    for (size_t i = 0; i < s->nsteps; i++) {
        struct session_step *st = &s->steps[i];
        if (job_stop_requested(ctx->job)) {
            rc = gr_fail(err, GR_ESTOPPED, "%s: stopped before step %zu '%s'",
                         s->path, i + 1, st->cmd->name);
            goto out;
        }
        if (st->when_missing && ctx->ws &&
            session_step_done(ctx->ws, st->cmd, &st->args)) {
            metrics_note(ctx->metrics, "step %zu/%zu: %s: skipped, its output exists "
                         "(when_missing)", i + 1, s->nsteps, st->cmd->name);
            continue;
        }
        metrics_note(ctx->metrics, "step %zu/%zu: %s", i + 1, s->nsteps, st->cmd->name);
        struct gr_error e;
        gr_error_clear(&e);
        if ((rc = command_run(ctx, &st->args, &e)) != GR_OK) {
            gr_fail(err, rc, "%s:%d: step %zu '%s': %s", st->file ? st->file : s->path,
                    st->line, i + 1, st->cmd->name, e.msg);
            goto out;
        }
        if (s->on_step)
            s->on_step(s->hctx, st);
    }
out:
    if (ws) {
        ctx->ws = saved;
        workspace_release(ws);
        free(ws);
    }
    return rc;
}

/* ---- what steps produce ------------------------------------------- */

enum output {
    OUT_CORPUS,         /* the corpus holds documents */
    OUT_TOKENIZER,      /* tokenizer.bin and the training shard */
    OUT_CKPT,           /* a checkpoint of a kind */
    OUT_CKPT_STEPS,     /* one at step >= the step's 'steps' */
    OUT_FILE,           /* a file that is not empty */
};

/* The outputs when_missing looks for (session.h); the recipe's order. */
static const struct {
    const char *cmd;
    enum output out;
    const char *what;   /* checkpoint kind, or file in the workspace */
} outputs[] = {
    { "corpus", OUT_CORPUS, NULL },
    { "tokenizer", OUT_TOKENIZER, NULL },
    { "model", OUT_CKPT, "base" },
    { "pretrain", OUT_CKPT_STEPS, "base" },
    { "demos", OUT_FILE, "labels/demos.jsonl" },
    { "sft", OUT_CKPT_STEPS, "sft" },
    { "rank", OUT_FILE, "labels/rankings.jsonl" },
    { "reward", OUT_CKPT, "reward" },
    { "tune", OUT_CKPT_STEPS, "tuned" },
    { NULL, 0, NULL }
};

static int
ws_file_nonempty(const struct workspace *ws, const char *rel)
{
    char *p = workspace_path(ws, rel);
    int yes = fs_size(p) > 0;
    free(p);
    return yes;
}

int
session_step_done(const struct workspace *ws, const struct gr_command *cmd,
                  const struct gr_args *a)
{
    size_t i = 0;
    while (outputs[i].cmd && strcmp(outputs[i].cmd, cmd->name) != 0)
        i++;
    if (!outputs[i].cmd)
        return 0;
    switch (outputs[i].out) {
    case OUT_CORPUS: {
        struct corpus c;
        if (corpus_open(&c, ws, NULL) != GR_OK)
            return 0;
        int yes = c.ndocs > 0;
        corpus_close(&c);
        return yes;
    }
    case OUT_TOKENIZER:
        return ws_file_nonempty(ws, "tokenizer.bin") &&
               ws_file_nonempty(ws, "corpus/train.tok");
    case OUT_CKPT:
    case OUT_CKPT_STEPS: {
        char *p = workspace_latest_checkpoint(ws, outputs[i].what);
        if (!p)
            return 0;
        const struct gr_option *o = command_option(cmd, "steps");
        const struct gr_option *ep = command_option(cmd, "epochs");
        int yes = 1;
        if (a && ep && a->v[command_option_index(cmd, ep)].set)
            o = NULL;                   /* counted in epochs: any checkpoint */
        if (outputs[i].out == OUT_CKPT_STEPS && (!a || (o && o->type == OPT_INT))) {
            struct ckpt_meta meta;
            if (ckpt_read_meta(p, &meta, NULL) != GR_OK) {
                yes = 0;
            } else {
                /* without options: trained at all (model writes step 0) */
                yes = a ? meta.step >= (uint64_t)args_int(a, "steps") : meta.step > 0;
                ckpt_meta_release(&meta);
            }
        }
        free(p);
        return yes;
    }
    case OUT_FILE:
        return ws_file_nonempty(ws, outputs[i].what);
    }
    return 0;
}

const char *
session_next_stage(const struct workspace *ws)
{
    for (size_t i = 0; outputs[i].cmd; i++) {
        const struct gr_command *cmd = command_find(outputs[i].cmd);
        if (cmd && !session_step_done(ws, cmd, NULL))
            return cmd->name;
    }
    return command_find("chat") ? "chat" : "sample";
}

/* Steps that only show something: always, or when one of the options in
 * queries is set and none in actions is. */
static const struct {
    const char *cmd, *queries, *actions;    /* space-separated option names */
} shows[] = {
    { "status", NULL, NULL },
    { "info", NULL, NULL },
    { "sample", NULL, NULL },
    { "help", NULL, NULL },
    { "chat", NULL, NULL },
    { "corpus", "info", "add clear" },
    { "tokenizer", "show", "" },
    { "demos", "list export", "import add delete" },
    { "prefs", "export", "import" },
    { "reward", "score", "" },
    { NULL, NULL, NULL }
};

/* 1 if an option of a named in the list words is set. */
static int
any_set(const struct gr_args *a, const char *words)
{
    char *list = xstrdup(words), *save = NULL;
    int yes = 0;
    for (char *w = strtok_r(list, " ", &save); w && !yes; w = strtok_r(NULL, " ", &save)) {
        const struct gr_option *o = command_option(a->cmd, w);
        yes = o && a->v[command_option_index(a->cmd, o)].set;
    }
    free(list);
    return yes;
}

int
session_step_changes_state(const struct gr_args *a)
{
    if (a->cmd->flags & CMD_NO_SESSION)
        return 0;
    for (size_t i = 0; shows[i].cmd; i++) {
        if (strcmp(shows[i].cmd, a->cmd->name) != 0)
            continue;
        if (!shows[i].queries)
            return 0;
        return !(any_set(a, shows[i].queries) && !any_set(a, shows[i].actions));
    }
    return 1;
}

/* ---- writing sessions ---------------------------------------------- */

/* A YAML double-quoted string; '$' doubled, since values are expanded. */
static void
put_quoted(FILE *f, const char *s)
{
    fputc('"', f);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            fprintf(f, "\\%c", c);
        else if (c == '\n')
            fputs("\\n", f);
        else if (c == '\t')
            fputs("\\t", f);
        else if (c < 0x20 || c == 0x7f)
            fprintf(f, "\\x%02x", c);
        else if (c == '$')
            fputs("$$", f);
        else
            fputc(c, f);
    }
    fputc('"', f);
}

/* A path as the current folder sees it, absolute: a session file's
 * paths are relative to the file's folder. */
static void
put_path(FILE *f, const char *p)
{
    char cwd[PATH_MAX];
    if (p[0] == '/' || (p[0] == '~' && p[1] == '/') || !getcwd(cwd, sizeof cwd)) {
        put_quoted(f, p);
        return;
    }
    while (p[0] == '.' && p[1] == '/')
        p += 2;
    char *abs = !strcmp(p, ".") ? xstrdup(cwd) : fs_join(cwd, p);
    put_quoted(f, abs);
    free(abs);
}

/* The shortest text that reads back as exactly x. */
static void
put_double(FILE *f, double x)
{
    char buf[64];
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(buf, sizeof buf, "%.*g", prec, x);
        if (strtod(buf, NULL) == x)
            break;
    }
    fputs(buf, f);
}

char *
session_step_yaml(const struct gr_args *a, uint64_t seed)
{
    const struct gr_command *cmd = a->cmd;
    char *buf = NULL;
    size_t n = 0;
    FILE *f = open_memstream(&buf, &n);
    if (!f)
        return NULL;
    fprintf(f, "  - %s: {", cmd->name);
    int first = 1;
    for (size_t i = 0; i < a->nopts; i++) {
        const struct gr_option *o = &cmd->opts[i];
        const struct gr_value *v = &a->v[i];
        int seed_here = !v->set && !strcmp(o->name, "seed") && o->type == OPT_INT;
        if (!v->set && !seed_here)
            continue;
        fprintf(f, "%s %s: ", first ? "" : ",", o->name);
        first = 0;
        if (seed_here) {
            fprintf(f, "%" PRIu64, seed);
            continue;
        }
        switch (o->type) {
        case OPT_INT:    fprintf(f, "%lld", v->i); break;
        case OPT_FLOAT:  put_double(f, v->f); break;
        case OPT_BOOL:   fputs(v->i ? "true" : "false", f); break;
        case OPT_STRING:
        case OPT_CHOICE: put_quoted(f, v->s ? v->s : ""); break;
        case OPT_PATH:   put_path(f, v->s ? v->s : "."); break;
        default:                        /* a list */
            fputc('[', f);
            for (size_t j = 0; j < v->nlist; j++) {
                fputs(j ? ", " : "", f);
                if (o->type == OPT_PATHS)
                    put_path(f, v->list[j]);
                else
                    put_quoted(f, v->list[j]);
            }
            fputc(']', f);
            break;
        }
    }
    fputs(first ? "}\n" : " }\n", f);
    fclose(f);
    return buf;
}

enum gr_status
session_write(const char *path, uint64_t seed, const char *steps, struct gr_error *err)
{
    if (!steps || !*steps)
        return gr_fail(err, GR_EINPUT, "%s: no steps to write", path);
    char *text = xasprintf(
        "# A garage session (garage-session(5)), saved by the REPL's save-session:\n"
        "# the commands that changed the workspace, in order, with their seeds.\n"
        "# Replay it in a new workspace with:  garage -C DIR run FILE\n"
        "garage: %d\n"
        "seed: %" PRIu64 "\n"
        "steps:\n%s", SESSION_VERSION, seed, steps);
    enum gr_status rc = fs_write_atomic(path, text, strlen(text), err);
    free(text);
    return rc;
}

/* ---- dry run listing ----------------------------------------------- */

static void
put_text(FILE *f, const char *s)
{
    if (*s && !strpbrk(s, " \t\n\"'=#,[]{}\\")) {
        fputs(s, f);
        return;
    }
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '"' || *s == '\\')
            fputc('\\', f);
        if (*s == '\n')
            fputs("\\n", f);
        else
            fputc(*s, f);
    }
    fputc('"', f);
}

/* "corpus add=a format=fortune": the options the session gives. */
static char *
step_line(const struct session_step *st)
{
    char *buf = NULL;
    size_t n = 0;
    FILE *f = open_memstream(&buf, &n);
    if (!f)
        return xstrdup(st->cmd->name);
    fputs(st->cmd->name, f);
    for (size_t i = 0; i < st->args.nopts; i++) {
        const struct gr_option *o = &st->cmd->opts[i];
        const struct gr_value *v = &st->args.v[i];
        if (!v->set)
            continue;
        fprintf(f, " %s=", o->name);
        switch (o->type) {
        case OPT_INT:   fprintf(f, "%lld", v->i); break;
        case OPT_FLOAT: fprintf(f, "%g", v->f); break;
        case OPT_BOOL:  fputs(v->i ? "true" : "false", f); break;
        case OPT_STRING:
        case OPT_PATH:
        case OPT_CHOICE:
            put_text(f, v->s ? v->s : "");
            break;
        case OPT_PATHS:
        case OPT_STRINGS:
            if (v->nlist == 1) {
                put_text(f, v->list[0]);
                break;
            }
            fputc('[', f);
            for (size_t j = 0; j < v->nlist; j++) {
                if (j)
                    fputs(", ", f);
                put_text(f, v->list[j]);
            }
            fputc(']', f);
            break;
        }
    }
    if (st->when_missing)
        fputs(" when_missing=true", f);
    fclose(f);
    return buf;
}

enum gr_status
cmd_run(struct gr_ctx *ctx, const struct gr_args *a, struct gr_error *err)
{
    const char *file = args_str(a, "file");
    if (!file)
        return gr_fail(err, GR_EUSAGE, "run: missing session file (garage run FILE.yaml)");
    if (args_bool(a, "tui"))    /* tui: the front end runs those (ui/tui/) */
        return gr_fail(err, GR_EUSAGE, "run --tui needs the terminal front end: "
                       "run 'garage run --tui %s' in a terminal", file);
    char *const *raw;
    size_t nsets = args_list(a, "set", &raw);
    /* 'set' is a list option, so its items went through path
     * resolution: undo that, they are step.key=value texts. */
    char **sets = xcalloc(nsets + 1, sizeof *sets);
    char *prefix = a->base_dir ? fs_join(a->base_dir, "") : NULL;
    for (size_t i = 0; i < nsets; i++) {
        const char *t = raw[i];
        if (prefix && !strncmp(t, prefix, strlen(prefix)))
            t += strlen(prefix);
        sets[i] = xstrdup(t);
    }
    free(prefix);

    struct session s;
    enum gr_status rc = session_load(&s, file, sets, nsets, err);
    for (size_t i = 0; i < nsets; i++)
        free(sets[i]);
    free(sets);
    if (rc != GR_OK)
        return rc;
    if (args_bool(a, "dry_run")) {
        ctx_printf(ctx, "%s: %zu step%s, valid\n", s.path, s.nsteps,
                   s.nsteps == 1 ? "" : "s");
        for (size_t i = 0; i < s.nsteps; i++) {
            char *line = step_line(&s.steps[i]);
            ctx_printf(ctx, "  %zu. %s\n", i + 1, line);
            free(line);
        }
    } else {
        rc = session_run(&s, ctx, err);
    }
    session_release(&s);
    return rc;
}
