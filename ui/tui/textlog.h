/* textlog.h: a growing text a job writes (reports, samples, notes), kept
 * whole for a scrolling view. */
#ifndef GR_TUI_TEXTLOG_H
#define GR_TUI_TEXTLOG_H

#include <stddef.h>

#include "draw.h"
#include "list.h"

struct textlog {
    char *s;                    /* NUL-terminated */
    size_t n, cap;
    size_t max;                 /* keep at most this many bytes (the newest) */
    struct scroll scroll;
};

void textlog_init(struct textlog *l, size_t max);
void textlog_release(struct textlog *l);
void textlog_clear(struct textlog *l);
void textlog_add(struct textlog *l, const char *text, size_t n);
void textlog_printf(struct textlog *l, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Start a new line unless at the start of one. */
void textlog_newline(struct textlog *l);
/* Draw wrapped into r, scrolled (following the end unless scrolled up). */
void textlog_draw(struct textlog *l, struct rect r, attr_t a);
/* Scrolling keys for a view of h rows; 1 if used. */
int textlog_key(struct textlog *l, int key, int h);

#endif
