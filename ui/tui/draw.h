/* draw.h: drawing helpers over curses: styles with a monochrome
 * fallback, UTF-8 text cut or wrapped to a width, boxes, bars, numbers. */
#ifndef GR_TUI_DRAW_H
#define GR_TUI_DRAW_H

#include <stddef.h>

#include <curses.h>

#include "../format.h"

struct rect {
    int y, x, h, w;
};

enum style {
    ST_NORMAL,
    ST_HEADER,      /* the top line */
    ST_TITLE,       /* box titles */
    ST_FOCUS,       /* the title of the focused pane */
    ST_SELECT,      /* the selected line */
    ST_DIM,         /* defaults, hints */
    ST_KEY,         /* key names in the key line */
    ST_GOOD,        /* done */
    ST_WARN,        /* ready, paused */
    ST_BAD,         /* errors, stale */
    ST_SERIES1,     /* chart series */
    ST_SERIES2,
    ST_SERIES3,
    ST_ALT,         /* alternate token colour */
    ST_COUNT
};

/* Set up colour pairs (when the terminal has colours and NO_COLOR is
 * unset or empty) or monochrome attributes. */
void draw_init_styles(void);
attr_t style(enum style s);
int draw_has_colors(void);

/* Keys: curses key codes as they are (KEY_UP...), characters as their
 * code point, except those that would look like key codes, which carry
 * KEY_CHAR_FLAG.  key_char() gives the character of a key, or 0. */
#define KEY_CHAR_FLAG 0x1000000
#define KEY_ALT(c) ((c) | 0x2000000)     /* Esc then a key, at once */
#define KEY_CTRL(c) ((c) & 0x1f)
#define KEY_ESC 27
#define KEY_WHEEL_UP (KEY_MAX + 1)      /* mouse wheel, as keys */
#define KEY_WHEEL_DOWN (KEY_MAX + 2)
int key_char(int key);
/* Read one key within timeout_ms (-1 when none). */
int key_read(int timeout_ms);

/* Columns text would take (UTF-8; invalid bytes count one). */
int text_width(const char *s, size_t n);
/* Draw n bytes of UTF-8 at (y, x), at most w columns; control
 * characters show as '?' (a tab as a space).  Returns the columns used. */
int draw_textn(int y, int x, int w, attr_t a, const char *s, size_t n);
int draw_text(int y, int x, int w, attr_t a, const char *s);
int draw_textf(int y, int x, int w, attr_t a, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
/* Fill w columns at (y, x) with blanks in a. */
void draw_fill(int y, int x, int w, attr_t a);
void draw_clear(struct rect r);

/* Word-wrap text (paragraphs split at '\n') into r, skipping the first
 * skip lines; returns the number of lines the whole text takes at this
 * width.  r.h may be 0 to only count. */
int draw_wrap(struct rect r, int skip, attr_t a, const char *text);

/* A box around r with a title; the inside is returned. */
struct rect draw_box(struct rect r, const char *title, int focused);
/* A progress bar of w columns, frac in [0,1]. */
void draw_bar(int y, int x, int w, double frac);


/* r less n rows at the top (or bottom, or columns at left/right). */
struct rect rect_cut_top(struct rect *r, int n);
struct rect rect_cut_bottom(struct rect *r, int n);
struct rect rect_cut_left(struct rect *r, int n);
struct rect rect_cut_right(struct rect *r, int n);

/* Where the text cursor should be after this frame (an input line
 * being edited); the loop hides the cursor when nobody asked. */
void draw_set_cursor(int y, int x);
int draw_take_cursor(int *y, int *x);

/* 1 when the terminal's locale is UTF-8 (box lines, braille). */
int draw_utf8(void);

#endif
