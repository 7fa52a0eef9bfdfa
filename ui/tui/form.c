/* form.c: settings panels from the registry (see form.h). */
#include "form.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/xalloc.h"

static size_t
nopts(const struct gr_command *cmd)
{
    size_t n = 0;
    for (const struct gr_option *o = cmd->opts; o && o->name; o++)
        n++;
    return n;
}

void
form_init(struct form *f, const struct gr_command *cmd, const char *base_dir,
          const char *const *hide)
{
    memset(f, 0, sizeof *f);
    f->cmd = cmd;
    f->base_dir = base_dir ? xstrdup(base_dir) : NULL;
    size_t n = nopts(cmd);
    f->text = xcalloc(n ? n : 1, sizeof *f->text);
    f->rows = xcalloc(n ? n : 1, sizeof *f->rows);
    for (size_t i = 0; i < n; i++) {
        int hidden = cmd->opts[i].type >= OPT_PATHS;     /* lists */
        for (const char *const *h = hide; h && *h; h++)
            if (strcmp(*h, cmd->opts[i].name) == 0)
                hidden = 1;
        if (!hidden)
            f->rows[f->list.n++] = (int)i;
    }
    input_init(&f->edit);
}

void
form_release(struct form *f)
{
    if (!f || !f->cmd)
        return;
    size_t n = nopts(f->cmd);
    for (size_t i = 0; i < n; i++)
        free(f->text[i]);
    free(f->text);
    free(f->rows);
    free(f->base_dir);
    input_release(&f->edit);
    memset(f, 0, sizeof *f);
}

static enum gr_status
check(const struct form *f, const struct gr_option *o, const char *text,
      struct gr_error *err)
{
    struct gr_args tmp;
    args_init(&tmp, f->cmd, f->base_dir);
    enum gr_status rc = args_set(&tmp, o, text, err);
    args_release(&tmp);
    return rc;
}

enum gr_status
form_set(struct form *f, const char *name, const char *text, struct gr_error *err)
{
    const struct gr_option *o = command_option(f->cmd, name);
    if (!o)
        return gr_fail(err, GR_EINPUT, "'%s' has no option '%s'", f->cmd->name, name);
    enum gr_status rc = check(f, o, text, err);
    if (rc != GR_OK)
        return rc;
    size_t i = command_option_index(f->cmd, o);
    free(f->text[i]);
    f->text[i] = xstrdup(text);
    return GR_OK;
}

void
form_unset(struct form *f, const char *name)
{
    const struct gr_option *o = command_option(f->cmd, name);
    if (!o)
        return;
    size_t i = command_option_index(f->cmd, o);
    free(f->text[i]);
    f->text[i] = NULL;
}

const char *
form_get(const struct form *f, const char *name)
{
    const struct gr_option *o = command_option(f->cmd, name);
    return o ? f->text[command_option_index(f->cmd, o)] : NULL;
}

void
form_load_args(struct form *f, const struct gr_args *a)
{
    if (a->cmd != f->cmd)
        return;
    for (size_t i = 0; i < a->nopts; i++) {
        const struct gr_option *o = &f->cmd->opts[i];
        const struct gr_value *v = &a->v[i];
        char buf[64];
        const char *text = NULL;
        if (!v->set)
            ;
        else if (o->type == OPT_INT)
            snprintf(buf, sizeof buf, "%lld", v->i), text = buf;
        else if (o->type == OPT_FLOAT)
            snprintf(buf, sizeof buf, "%g", v->f), text = buf;
        else if (o->type == OPT_BOOL)
            text = v->i ? "true" : "false";
        else if (o->type == OPT_STRING || o->type == OPT_PATH || o->type == OPT_CHOICE)
            text = v->s;
        else
            continue;                   /* lists are not shown */
        free(f->text[i]);
        f->text[i] = text ? xstrdup(text) : NULL;
    }
}

void
form_args(const struct form *f, struct gr_args *out)
{
    args_init(out, f->cmd, f->base_dir);
    size_t n = nopts(f->cmd);
    for (size_t i = 0; i < n; i++) {
        if (!f->text[i])
            continue;
        struct gr_error e;
        enum gr_status rc = args_set(out, &f->cmd->opts[i], f->text[i], &e);
        (void)rc;       /* checked when typed */
    }
}

/* The next choice after cur in "a|b|c" (wrapping). */
static char *
next_choice(const char *choices, const char *cur)
{
    const char *c = choices;
    const char *first = c;
    while (c && *c) {
        const char *bar = strchr(c, '|');
        size_t len = bar ? (size_t)(bar - c) : strlen(c);
        if (cur && strlen(cur) == len && strncmp(c, cur, len) == 0) {
            const char *nx = bar ? bar + 1 : first;
            const char *nbar = strchr(nx, '|');
            return nbar ? xstrndup(nx, (size_t)(nbar - nx)) : xstrdup(nx);
        }
        c = bar ? bar + 1 : NULL;
    }
    const char *bar = strchr(first, '|');
    return bar ? xstrndup(first, (size_t)(bar - first)) : xstrdup(first);
}

static const char *
current(const struct form *f, size_t i)
{
    return f->text[i] ? f->text[i] : f->cmd->opts[i].def;
}

int
form_key(struct form *f, int key)
{
    if (!f->list.n)
        return 0;
    size_t i = (size_t)f->rows[f->list.sel];
    const struct gr_option *o = &f->cmd->opts[i];
    struct gr_error err;
    if (f->searching) {
        enum input_event ev = input_key(&f->edit, key);
        if (ev == INPUT_CANCEL || ev == INPUT_SUBMIT) {
            f->searching = 0;
        } else if (ev == INPUT_EDITED && f->edit.len) {
            /* the first option whose name starts with the text, else holds it */
            int found = -1;
            for (int pass = 0; pass < 2 && found < 0; pass++)
                for (int k = 0; k < f->list.n && found < 0; k++) {
                    const char *name = f->cmd->opts[f->rows[k]].name;
                    if (pass == 0 ? strncmp(name, f->edit.buf, f->edit.len) == 0
                                  : strstr(name, f->edit.buf) != NULL)
                        found = k;
                }
            if (found >= 0)
                f->list.sel = found;
            snprintf(f->msg, sizeof f->msg, "%s", found >= 0 ? "" : "no such setting");
        }
        return 1;
    }
    if (key == '/' && !f->editing) {
        f->searching = 1;
        f->msg[0] = 0;
        input_set(&f->edit, "");
        return 1;
    }
    if (f->editing) {
        enum input_event ev = input_key(&f->edit, key);
        if (ev == INPUT_CANCEL) {
            f->editing = 0;
            f->msg[0] = 0;
        } else if (ev == INPUT_SUBMIT) {
            if (!f->edit.buf[0] && !(o->type == OPT_STRING)) {
                form_unset(f, o->name);
                f->editing = 0;
                f->msg[0] = 0;
            } else if (form_set(f, o->name, f->edit.buf, &err) == GR_OK) {
                f->editing = 0;
                f->msg[0] = 0;
            } else {
                snprintf(f->msg, sizeof f->msg, "%s", err.msg);
            }
        }
        return 1;               /* every key goes to the field while editing */
    }
    f->msg[0] = 0;
    if (list_key(&f->list, key, 5))
        return 1;
    switch (key) {
    case '\n': case '\r': case KEY_ENTER: case 'e':
        if (o->type == OPT_BOOL) {
            const char *cur = current(f, i);
            form_set(f, o->name, cur && strcmp(cur, "true") == 0 ? "false" : "true", &err);
            return 1;
        }
        f->editing = 1;
        input_set(&f->edit, current(f, i) ? current(f, i) : "");
        return 1;
    case ' ':
        if (o->type == OPT_BOOL) {
            const char *cur = current(f, i);
            form_set(f, o->name, cur && strcmp(cur, "true") == 0 ? "false" : "true", &err);
            return 1;
        }
        if (o->type == OPT_CHOICE) {
            char *nx = next_choice(o->choices, current(f, i));
            form_set(f, o->name, nx, &err);
            free(nx);
            return 1;
        }
        return 0;
    case KEY_BACKSPACE: case KEY_DC: case 127:
        form_unset(f, o->name);
        return 1;
    }
    return 0;
}

static void
describe(const struct gr_option *o, char *buf, size_t cap)
{
    char range[96] = "";
    if (o->type == OPT_CHOICE)
        snprintf(range, sizeof range, " %s", o->choices);
    else if ((o->type == OPT_INT || o->type == OPT_FLOAT) && o->min <= o->max &&
             !(o->min == 0 && o->max == 0))
        snprintf(range, sizeof range, " %g..%g", o->min, o->max);
    snprintf(buf, cap, "%s (%s%s%s%s)", o->help, option_type_name(o), range,
             o->def ? ", default " : "", o->def ? (o->def[0] ? o->def : "\"\"") : "");
}

void
form_draw(struct form *f, struct rect r, int focused)
{
    if (r.h <= 0 || r.w <= 0)
        return;
    int help_rows = r.h >= 4 ? 2 : r.h >= 3 ? 1 : 0;
    int rows = r.h - help_rows;
    list_show(&f->list, rows);
    int namew = 0;
    for (int k = 0; k < f->list.n; k++) {
        int len = (int)strlen(f->cmd->opts[f->rows[k]].name);
        namew = len > namew ? len : namew;
    }
    if (namew > r.w / 2)
        namew = r.w / 2;
    for (int k = 0; k < rows; k++) {
        int row = f->list.top + k;
        int y = r.y + k;
        draw_fill(y, r.x, r.w, A_NORMAL);
        if (row >= f->list.n)
            continue;
        size_t i = (size_t)f->rows[row];
        const struct gr_option *o = &f->cmd->opts[i];
        int sel = row == f->list.sel;
        attr_t a = sel && focused ? style(ST_SELECT) : A_NORMAL;
        if (sel && focused)
            draw_fill(y, r.x, r.w, a);
        draw_text(y, r.x + 1, namew, a, o->name);
        int vx = r.x + namew + 2, vw = r.w - namew - 3;
        if (sel && f->editing) {
            input_draw(&f->edit, y, vx, vw, style(ST_NORMAL) | A_UNDERLINE, focused);
            continue;
        }
        const char *val = current(f, i);
        attr_t va = a | (f->text[i] ? A_BOLD : style(ST_DIM));
        if (!val)
            draw_text(y, vx, vw, a | style(ST_DIM), "auto");
        else if (!*val)
            draw_text(y, vx, vw, a | style(ST_DIM), "\"\"");
        else
            draw_text(y, vx, vw, va, val);
    }
    if (f->list.n > rows && rows > 0) {
        if (f->list.top > 0)
            draw_text(r.y, r.x + r.w - 1, 1, style(ST_DIM), "^");
        if (f->list.top + rows < f->list.n)
            draw_text(r.y + rows - 1, r.x + r.w - 1, 1, style(ST_DIM), "v");
    }
    if (help_rows && f->list.n) {
        struct rect h = { r.y + rows, r.x + 1, help_rows, r.w - 1 };
        draw_clear(h);
        const struct gr_option *o = &f->cmd->opts[f->rows[f->list.sel]];
        char buf[512];
        if (f->searching) {
            int lw = draw_text(h.y, h.x, h.w, style(ST_KEY), "find: ");
            input_draw(&f->edit, h.y, h.x + lw, h.w - lw, A_NORMAL, focused);
            if (f->msg[0] && h.h > 1)
                draw_text(h.y + 1, h.x, h.w, style(ST_BAD), f->msg);
        } else if (f->msg[0])
            draw_wrap(h, 0, style(ST_BAD), f->msg);
        else if (focused) {
            describe(o, buf, sizeof buf);
            draw_wrap(h, 0, style(ST_DIM), buf);
        }
    }
}
