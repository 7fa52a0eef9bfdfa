#include "app/command.h"

#include <assert.h>
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app/workspace.h"
#include "base/fsio.h"
#include "base/xalloc.h"

void
ctx_write(struct gr_ctx *ctx, const char *text, size_t n)
{
    if (ctx && ctx->write)
        ctx->write(ctx->wctx, text, n);
}

void
ctx_printf(struct gr_ctx *ctx, const char *fmt, ...)
{
    if (!ctx || !ctx->write)
        return;
    char *s = NULL;
    va_list ap;
    va_start(ap, fmt);
    int n = vasprintf(&s, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    ctx->write(ctx->wctx, s, (size_t)n);
    free(s);
}

/* ---- names ---------------------------------------------------------- */

/* Option names compare with '-' and '_' equal. */
static int
name_eq(const char *a, const char *b)
{
    for (; *a && *b; a++, b++) {
        char x = *a == '-' ? '_' : *a, y = *b == '-' ? '_' : *b;
        if (x != y)
            return 0;
    }
    return *a == *b;
}

size_t
command_name_distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    size_t *row = xcalloc(lb + 1, sizeof *row);
    for (size_t j = 0; j <= lb; j++)
        row[j] = j;
    for (size_t i = 1; i <= la; i++) {
        size_t diag = row[0];
        row[0] = i;
        for (size_t j = 1; j <= lb; j++) {
            size_t up = row[j];
            size_t cost = tolower((unsigned char)a[i - 1]) ==
                          tolower((unsigned char)b[j - 1]) ? 0 : 1;
            size_t best = diag + cost;
            if (row[j - 1] + 1 < best)
                best = row[j - 1] + 1;
            if (up + 1 < best)
                best = up + 1;
            row[j] = best;
            diag = up;
        }
    }
    size_t d = row[lb];
    free(row);
    return d;
}

const struct gr_command *
command_find(const char *name)
{
    for (const struct gr_command *c = gr_commands; c->name; c++)
        if (strcmp(c->name, name) == 0)
            return c;
    return NULL;
}

const char *
command_nearest(const char *name)
{
    const char *best = NULL;
    size_t bestd = (size_t)-1;
    for (const struct gr_command *c = gr_commands; c->name; c++) {
        size_t d = command_name_distance(name, c->name);
        if (strncmp(c->name, name, strlen(name)) == 0 && *name)
            d = d < 1 ? d : 1;          /* a prefix is a near miss */
        if (d < bestd) {
            bestd = d;
            best = c->name;
        }
    }
    return best;
}

const struct gr_option *
command_option(const struct gr_command *cmd, const char *name)
{
    for (const struct gr_option *o = cmd->opts; o && o->name; o++)
        if (name_eq(o->name, name))
            return o;
    return NULL;
}

const char *
command_nearest_option(const struct gr_command *cmd, const char *name)
{
    const char *best = NULL;
    size_t bestd = (size_t)-1;
    for (const struct gr_option *o = cmd->opts; o && o->name; o++) {
        size_t d = command_name_distance(name, o->name);
        if (d < bestd) {
            bestd = d;
            best = o->name;
        }
    }
    return best;
}

size_t
command_option_index(const struct gr_command *cmd, const struct gr_option *opt)
{
    return (size_t)(opt - cmd->opts);
}

const char *
option_type_name(const struct gr_option *opt)
{
    switch (opt->type) {
    case OPT_INT:    return "integer";
    case OPT_FLOAT:  return "number";
    case OPT_BOOL:   return "true/false";
    case OPT_STRING: return "text";
    case OPT_PATH:   return "path";
    case OPT_CHOICE: return "choice";
    case OPT_PATHS:  return "paths";
    case OPT_STRINGS: return "texts";
    }
    return "?";
}

/* ---- values --------------------------------------------------------- */

static int
has_range(const struct gr_option *o)
{
    return o->min <= o->max && !(o->min == 0 && o->max == 0);
}

static void
value_clear(struct gr_value *v)
{
    free(v->s);
    for (size_t i = 0; i < v->nlist; i++)
        free(v->list[i]);
    free(v->list);
    memset(v, 0, sizeof *v);
}

static char *
resolve_path(const struct gr_args *a, const char *p)
{
    if (!a->base_dir || p[0] == '/' || p[0] == '\0')
        return xstrdup(p);
    if (p[0] == '~' && (p[1] == '/' || p[1] == '\0')) {
        const char *home = getenv("HOME");
        if (home)
            return xasprintf("%s%s", home, p + 1);
    }
    return fs_join(a->base_dir, p);
}

static enum gr_status
parse_value(const struct gr_args *a, const struct gr_option *o,
            struct gr_value *v, const char *text, struct gr_error *err)
{
    char *end, num[64];
    if (o->type == OPT_INT || o->type == OPT_FLOAT) {
        /* Spaces around a number are nothing ("steps= 5 " is 5). */
        size_t n = strlen(text);
        while (n > 0 && isspace((unsigned char)text[n - 1]))
            n--;
        size_t k = strspn(text, " \t\r\n\v\f");
        if (k < n && n - k < sizeof num) {
            memcpy(num, text + k, n - k);
            num[n - k] = '\0';
            text = num;
        }
    }
    switch (o->type) {
    case OPT_INT: {
        errno = 0;
        long long x = strtoll(text, &end, 10);
        /* accept 1e3-style integers too */
        if (*end == 'e' || *end == 'E' || *end == '.') {
            double d = strtod(text, &end);
            if (*end == '\0' && d == floor(d) && fabs(d) < 9e18)
                x = (long long)d;
            else
                end = (char *)"x";      /* 3e-3, 1.5: not an integer */
        }
        if (!*text || *end || errno == ERANGE)
            return gr_fail(err, GR_EINPUT, "'%s' expects an integer, got '%s'",
                           o->name, text);
        if (has_range(o) && (x < o->min || x > o->max))
            return gr_fail(err, GR_EINPUT, "'%s' must be between %.15g and %.15g, got %lld",
                           o->name, o->min, o->max, x);
        v->i = x;
        break;
    }
    case OPT_FLOAT: {
        errno = 0;
        double x = strtod(text, &end);
        if (!*text || *end || errno == ERANGE || !isfinite(x))
            return gr_fail(err, GR_EINPUT, "'%s' expects a number, got '%s'",
                           o->name, text);
        if (has_range(o) && (x < o->min || x > o->max))
            return gr_fail(err, GR_EINPUT, "'%s' must be between %g and %g, got %s",
                           o->name, o->min, o->max, text);
        v->f = x;
        break;
    }
    case OPT_BOOL:
        if (!strcmp(text, "true") || !strcmp(text, "yes") || !strcmp(text, "on") ||
            !strcmp(text, "1"))
            v->i = 1;
        else if (!strcmp(text, "false") || !strcmp(text, "no") ||
                 !strcmp(text, "off") || !strcmp(text, "0"))
            v->i = 0;
        else
            return gr_fail(err, GR_EINPUT, "'%s' expects true or false, got '%s'",
                           o->name, text);
        break;
    case OPT_CHOICE: {
        size_t n = strlen(text);
        const char *c = o->choices;
        int ok = 0;
        while (c && *c) {
            const char *bar = strchr(c, '|');
            size_t len = bar ? (size_t)(bar - c) : strlen(c);
            if (len == n && strncmp(c, text, n) == 0)
                ok = 1;
            c = bar ? bar + 1 : NULL;
        }
        if (!ok) {
            char *alts = xstrdup(o->choices);
            for (char *p = alts; *p; p++)
                if (*p == '|')
                    *p = ',';
            enum gr_status rc = gr_fail(err, GR_EINPUT,
                "'%s' must be one of %s, got '%s'", o->name, alts, text);
            free(alts);
            return rc;
        }
        free(v->s);
        v->s = xstrdup(text);
        break;
    }
    case OPT_STRING:
        free(v->s);
        v->s = xstrdup(text);
        break;
    case OPT_PATH:
        if (!*text)
            return gr_fail(err, GR_EINPUT, "'%s' expects a path, got an empty string", o->name);
        free(v->s);
        v->s = resolve_path(a, text);
        break;
    case OPT_PATHS:
        if (!*text)
            return gr_fail(err, GR_EINPUT, "'%s' expects a path, got an empty string", o->name);
        v->list = xrealloc(v->list, (v->nlist + 1) * sizeof *v->list);
        v->list[v->nlist++] = resolve_path(a, text);
        break;
    case OPT_STRINGS:
        v->list = xrealloc(v->list, (v->nlist + 1) * sizeof *v->list);
        v->list[v->nlist++] = xstrdup(text);
        break;
    }
    v->has = 1;
    return GR_OK;
}

void
args_init(struct gr_args *a, const struct gr_command *cmd, const char *base_dir)
{
    memset(a, 0, sizeof *a);
    a->cmd = cmd;
    for (const struct gr_option *o = cmd->opts; o && o->name; o++)
        a->nopts++;
    a->v = xcalloc(a->nopts ? a->nopts : 1, sizeof *a->v);
    a->base_dir = base_dir ? xstrdup(base_dir) : NULL;
    for (size_t i = 0; i < a->nopts; i++) {
        const struct gr_option *o = &cmd->opts[i];
        if (!o->def)
            continue;
        struct gr_error e;
        /* Defaults are ours: a bad one is a bug. */
        if (o->type == OPT_PATHS || o->type == OPT_STRINGS)
            continue;
        enum gr_status rc = parse_value(a, o, &a->v[i], o->def, &e);
        assert(rc == GR_OK);
        (void)rc;
    }
}

void
args_release(struct gr_args *a)
{
    if (!a || !a->v)
        return;
    for (size_t i = 0; i < a->nopts; i++)
        value_clear(&a->v[i]);
    free(a->v);
    free(a->base_dir);
    a->v = NULL;
    a->base_dir = NULL;
}

enum gr_status
args_set(struct gr_args *a, const struct gr_option *opt, const char *text,
         struct gr_error *err)
{
    struct gr_value *v = &a->v[command_option_index(a->cmd, opt)];
    if ((opt->type == OPT_PATHS || opt->type == OPT_STRINGS) && !v->set) {
        value_clear(v);                 /* the first given item replaces defaults */
    }
    enum gr_status rc = parse_value(a, opt, v, text, err);
    if (rc == GR_OK)
        v->set = 1;
    return rc;
}

static enum gr_status
unknown_option(const struct gr_command *cmd, const char *key, struct gr_error *err)
{
    const char *near = command_nearest_option(cmd, key);
    if (near)
        return gr_fail(err, GR_EUSAGE, "unknown option '%s' for '%s' (did you mean '%s'?)",
                       key, cmd->name, near);
    return gr_fail(err, GR_EUSAGE, "'%s' takes no options (got '%s')", cmd->name, key);
}

enum gr_status
args_set_kv(struct gr_args *a, const char *kv, struct gr_error *err)
{
    const char *eq = strchr(kv, '=');
    if (!eq)
        return gr_fail(err, GR_EUSAGE, "expected key=value, got '%s'", kv);
    char *key = xstrndup(kv, (size_t)(eq - kv));
    const struct gr_option *o = command_option(a->cmd, key);
    enum gr_status rc;
    if (!o) {
        rc = unknown_option(a->cmd, key, err);
    } else {
        rc = args_set(a, o, eq + 1, err);
        if (rc == GR_EINPUT)
            err->code = rc = GR_EUSAGE;
    }
    free(key);
    return rc;
}

int
args_ask_help(int argc, char *const *argv)
{
    for (int i = 0; i < argc; i++)
        if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help"))
            return 1;
    return 0;
}

enum gr_status
args_parse_argv(struct gr_args *a, int argc, char **argv, struct gr_error *err)
{
    const struct gr_command *cmd = a->cmd;
    const struct gr_option *positional =
        cmd->positional ? command_option(cmd, cmd->positional) : NULL;
    int npos = 0;
    enum gr_status rc = GR_OK;

    for (int i = 0; i < argc; i++) {
        const char *arg = argv[i];
        if (strncmp(arg, "--", 2) == 0 && arg[2]) {
            const char *name = arg + 2;
            const char *eq = strchr(name, '=');
            char *key = eq ? xstrndup(name, (size_t)(eq - name)) : xstrdup(name);
            const struct gr_option *o = command_option(cmd, key);
            if (!o) {
                rc = unknown_option(cmd, key, err);
                free(key);
                return rc;
            }
            free(key);
            const char *val;
            if (eq)
                val = eq + 1;
            else if (o->type == OPT_BOOL)
                val = "true";
            else if (i + 1 < argc)
                val = argv[++i];
            else
                return gr_fail(err, GR_EUSAGE, "option '--%s' needs a value", o->name);
            if ((rc = args_set(a, o, val, err)) != GR_OK) {
                err->code = GR_EUSAGE;
                return GR_EUSAGE;
            }
            continue;
        }
        if (strchr(arg, '=') && arg[0] != '=' && arg[0] != '/' && arg[0] != '.') {
            /* key=value, unless it looks like a path with '=' in it */
            const char *eq = strchr(arg, '=');
            char *key = xstrndup(arg, (size_t)(eq - arg));
            int is_opt = command_option(cmd, key) != NULL ||
                         strspn(key, "abcdefghijklmnopqrstuvwxyz_-0123456789") == strlen(key);
            free(key);
            if (is_opt) {
                if ((rc = args_set_kv(a, arg, err)) != GR_OK)
                    return rc;
                continue;
            }
        }
        /* A first bare word naming a list or boolean option: a verb. */
        if (i == 0) {
            const struct gr_option *o = command_option(cmd, arg);
            if (o && o->type == OPT_BOOL) {
                args_set(a, o, "true", err);
                continue;
            }
            if (o && (o->type == OPT_PATHS || o->type == OPT_STRINGS)) {
                positional = o;
                continue;
            }
        }
        if (!positional) {
            const struct gr_option *near = NULL;
            for (const struct gr_option *o = cmd->opts; o && o->name; o++)
                if ((o->type == OPT_BOOL || o->type == OPT_PATHS ||
                     o->type == OPT_STRINGS) &&
                    command_name_distance(arg, o->name) <= 2)
                    near = o;
            if (near)
                return gr_fail(err, GR_EUSAGE, "unexpected argument '%s' for '%s' "
                               "(did you mean '%s'?)", arg, cmd->name, near->name);
            return gr_fail(err, GR_EUSAGE, "unexpected argument '%s' for '%s' "
                           "(options are key=value; see 'garage help %s')",
                           arg, cmd->name, cmd->name);
        }
        if (positional->type != OPT_PATHS && positional->type != OPT_STRINGS &&
            npos > 0)
            return gr_fail(err, GR_EUSAGE, "'%s' takes one %s, got also '%s'",
                           cmd->name, positional->name, arg);
        if ((rc = args_set(a, positional, arg, err)) != GR_OK) {
            err->code = GR_EUSAGE;
            return GR_EUSAGE;
        }
        npos++;
    }
    return GR_OK;
}

static const struct gr_value *
lookup(const struct gr_args *a, const char *name, const struct gr_option **opt)
{
    const struct gr_option *o = command_option(a->cmd, name);
    assert(o && "no such option in the registry");
    if (opt)
        *opt = o;
    return &a->v[command_option_index(a->cmd, o)];
}

long long
args_int(const struct gr_args *a, const char *name)
{
    const struct gr_option *o;
    const struct gr_value *v = lookup(a, name, &o);
    assert(o->type == OPT_INT || o->type == OPT_BOOL);
    return v->i;
}

double
args_float(const struct gr_args *a, const char *name)
{
    const struct gr_option *o;
    const struct gr_value *v = lookup(a, name, &o);
    if (o->type == OPT_INT)
        return (double)v->i;
    assert(o->type == OPT_FLOAT);
    return v->f;
}

int
args_bool(const struct gr_args *a, const char *name)
{
    const struct gr_option *o;
    const struct gr_value *v = lookup(a, name, &o);
    assert(o->type == OPT_BOOL);
    return v->i != 0;
}

const char *
args_str(const struct gr_args *a, const char *name)
{
    const struct gr_option *o;
    const struct gr_value *v = lookup(a, name, &o);
    assert(o->type == OPT_STRING || o->type == OPT_PATH || o->type == OPT_CHOICE);
    return v->has ? v->s : NULL;
}

size_t
args_list(const struct gr_args *a, const char *name, char *const **out)
{
    const struct gr_option *o;
    const struct gr_value *v = lookup(a, name, &o);
    assert(o->type == OPT_PATHS || o->type == OPT_STRINGS);
    *out = v->list;
    return v->nlist;
}

int
args_isset(const struct gr_args *a, const char *name)
{
    return lookup(a, name, NULL)->set;
}

int
args_has(const struct gr_args *a, const char *name)
{
    return lookup(a, name, NULL)->has;
}

enum gr_status
command_run(struct gr_ctx *ctx, const struct gr_args *a, struct gr_error *err)
{
    const struct gr_command *cmd = a->cmd;
    struct workspace ws = { 0 };
    struct workspace *saved = ctx->ws;
    enum gr_status rc;
    if ((cmd->flags & CMD_WORKSPACE) && !ctx->ws) {
        if ((rc = workspace_open(&ws, ctx->dir, err)) != GR_OK)
            return rc;
        ctx->ws = &ws;
    }
    rc = cmd->run(ctx, a, err);
    if (ctx->ws == &ws) {
        workspace_release(&ws);
        ctx->ws = saved;
    }
    return rc;
}

/* ---- help ----------------------------------------------------------- */

struct sbuf {
    char *s;
    size_t n, cap;
};

static void
sb_printf(struct sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void
sb_printf(struct sbuf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    if (b->n + (size_t)n + 1 > b->cap) {
        b->cap = (b->n + (size_t)n + 1) * 2;
        b->s = xrealloc(b->s, b->cap);
    }
    va_start(ap, fmt);
    vsnprintf(b->s + b->n, b->cap - b->n, fmt, ap);
    va_end(ap);
    b->n += (size_t)n;
}

static void
option_range_text(const struct gr_option *o, char *buf, size_t cap)
{
    buf[0] = '\0';
    if (o->type == OPT_CHOICE) {
        snprintf(buf, cap, "%s", o->choices);
    } else if (has_range(o)) {
        if (o->type == OPT_INT)
            snprintf(buf, cap, "%.0f..%.0f", o->min, o->max);
        else
            snprintf(buf, cap, "%g..%g", o->min, o->max);
    }
}

char *
command_help_all(void)
{
    struct sbuf b = { 0 };
    sb_printf(&b, "Commands:\n");
    for (const struct gr_command *c = gr_commands; c->name; c++)
        sb_printf(&b, "  %-11s %s\n", c->name, c->summary);
    sb_printf(&b, "\nRun 'garage help COMMAND' (or 'garage COMMAND --help') for a command's "
              "options.\n");
    return b.s;
}

char *
command_help(const struct gr_command *cmd)
{
    struct sbuf b = { 0 };
    sb_printf(&b, "garage %s", cmd->name);
    if (cmd->positional) {
        const struct gr_option *p = command_option(cmd, cmd->positional);
        sb_printf(&b, p && (p->type == OPT_PATHS || p->type == OPT_STRINGS) ?
                  " [%s ...]" : " [%s]",
                  cmd->positional);
    }
    if (cmd->opts && cmd->opts[0].name)
        sb_printf(&b, " [key=value ...]");
    sb_printf(&b, "\n  %s\n", cmd->summary);
    if (cmd->description)
        sb_printf(&b, "\n%s\n", cmd->description);
    if (cmd->opts && cmd->opts[0].name) {
        sb_printf(&b, "\nOptions:\n");
        for (const struct gr_option *o = cmd->opts; o->name; o++) {
            char range[128];
            option_range_text(o, range, sizeof range);
            sb_printf(&b, "  %-18s %s\n", o->name, o->help);
            sb_printf(&b, "  %-18s %s", "", option_type_name(o));
            if (range[0])
                sb_printf(&b, " (%s)", range);
            if (o->def)
                sb_printf(&b, ", default %s", o->def[0] ? o->def : "\"\"");
            sb_printf(&b, "\n");
        }
    }
    return b.s;
}

static void
roff_escape(struct sbuf *b, const char *s)
{
    for (; *s; s++) {
        if (*s == '\\')
            sb_printf(b, "\\e");
        else if (*s == '-')
            sb_printf(b, "\\-");
        else
            sb_printf(b, "%c", *s);
    }
}

char *
command_help_roff(void)
{
    struct sbuf b = { 0 };
    for (const struct gr_command *c = gr_commands; c->name; c++) {
        sb_printf(&b, ".SS %s\n", c->name);
        roff_escape(&b, c->summary);
        sb_printf(&b, "\n");
        if (c->description) {
            sb_printf(&b, ".PP\n");
            roff_escape(&b, c->description);
            sb_printf(&b, "\n");
        }
        for (const struct gr_option *o = c->opts; o && o->name; o++) {
            char range[128];
            option_range_text(o, range, sizeof range);
            sb_printf(&b, ".TP\n.B %s\n", o->name);
            roff_escape(&b, o->help);
            sb_printf(&b, " (%s", option_type_name(o));
            if (range[0]) {
                sb_printf(&b, "; ");
                roff_escape(&b, range);
            }
            if (o->def) {
                sb_printf(&b, "; default ");
                roff_escape(&b, o->def[0] ? o->def : "\"\"");
            }
            sb_printf(&b, ")\n");
        }
    }
    return b.s ? b.s : xstrdup("");
}
