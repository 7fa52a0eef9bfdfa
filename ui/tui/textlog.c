/* textlog.c: a scrolling text (see textlog.h). */
#include "textlog.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/xalloc.h"

void
textlog_init(struct textlog *l, size_t max)
{
    memset(l, 0, sizeof *l);
    l->max = max ? max : 1 << 20;
    l->cap = 256;
    l->s = xcalloc(l->cap, 1);
    l->scroll.follow = 1;
}

void
textlog_release(struct textlog *l)
{
    free(l->s);
    memset(l, 0, sizeof *l);
}

void
textlog_clear(struct textlog *l)
{
    l->n = 0;
    l->s[0] = 0;
    l->scroll.top = 0;
    l->scroll.follow = 1;
}

void
textlog_add(struct textlog *l, const char *text, size_t n)
{
    if (l->n + n + 1 > l->cap) {
        while (l->n + n + 1 > l->cap)
            l->cap *= 2;
        l->s = xrealloc(l->s, l->cap);
    }
    memcpy(l->s + l->n, text, n);
    l->n += n;
    l->s[l->n] = 0;
    if (l->n > l->max) {
        /* drop the oldest lines */
        size_t cut = l->n - l->max / 2;
        const char *nl = memchr(l->s + cut, '\n', l->n - cut);
        if (nl)
            cut = (size_t)(nl - l->s) + 1;
        memmove(l->s, l->s + cut, l->n - cut + 1);
        l->n -= cut;
    }
}

void
textlog_printf(struct textlog *l, const char *fmt, ...)
{
    char *s = NULL;
    va_list ap;
    va_start(ap, fmt);
    int n = vasprintf(&s, fmt, ap);
    va_end(ap);
    if (n > 0)
        textlog_add(l, s, (size_t)n);
    free(s);
}

void
textlog_newline(struct textlog *l)
{
    if (l->n && l->s[l->n - 1] != '\n')
        textlog_add(l, "\n", 1);
}

void
textlog_draw(struct textlog *l, struct rect r, attr_t a)
{
    if (r.h <= 0 || r.w <= 0)
        return;
    int total = draw_wrap((struct rect){ r.y, r.x, 0, r.w }, 0, a, l->s);
    scroll_fix(&l->scroll, total, r.h);
    draw_wrap(r, l->scroll.top, a, l->s);
}

int
textlog_key(struct textlog *l, int key, int h)
{
    return scroll_key(&l->scroll, key, h - 1);
}
