/* draw.c: drawing helpers (see draw.h). */
#include "draw.h"

#include <langinfo.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <wchar.h>

#include "base/xalloc.h"

static attr_t styles[ST_COUNT];
static int colors_on;

int
draw_utf8(void)
{
    const char *cs = nl_langinfo(CODESET);
    return cs && (strcasecmp(cs, "UTF-8") == 0 || strcasecmp(cs, "utf8") == 0);
}

int
draw_has_colors(void)
{
    return colors_on;
}

void
draw_init_styles(void)
{
    const char *nc = getenv("NO_COLOR");
    colors_on = has_colors() && !(nc && *nc);
    if (colors_on) {
        start_color();
        use_default_colors();
        static const struct { short fg, bg; } pairs[] = {
            { 0, 0 },
            { COLOR_BLACK, COLOR_CYAN },     /* 1 header */
            { COLOR_CYAN, -1 },              /* 2 titles, keys, series 1 */
            { COLOR_YELLOW, -1 },            /* 3 focus, warn, series 2 */
            { COLOR_GREEN, -1 },             /* 4 good */
            { COLOR_RED, -1 },               /* 5 bad */
            { COLOR_MAGENTA, -1 },           /* 6 series 3, alternate */
        };
        for (short i = 1; i < (short)(sizeof pairs / sizeof pairs[0]); i++)
            init_pair(i, pairs[i].fg, pairs[i].bg);
        styles[ST_NORMAL] = A_NORMAL;
        styles[ST_HEADER] = COLOR_PAIR(1);
        styles[ST_TITLE] = COLOR_PAIR(2) | A_BOLD;
        styles[ST_FOCUS] = COLOR_PAIR(3) | A_BOLD;
        styles[ST_SELECT] = A_REVERSE;
        styles[ST_DIM] = A_DIM;
        styles[ST_KEY] = COLOR_PAIR(2) | A_BOLD;
        styles[ST_GOOD] = COLOR_PAIR(4) | A_BOLD;
        styles[ST_WARN] = COLOR_PAIR(3);
        styles[ST_BAD] = COLOR_PAIR(5) | A_BOLD;
        styles[ST_SERIES1] = COLOR_PAIR(2);
        styles[ST_SERIES2] = COLOR_PAIR(3);
        styles[ST_SERIES3] = COLOR_PAIR(6);
        styles[ST_ALT] = COLOR_PAIR(6) | A_UNDERLINE;
    } else {
        styles[ST_NORMAL] = A_NORMAL;
        styles[ST_HEADER] = A_REVERSE;
        styles[ST_TITLE] = A_BOLD;
        styles[ST_FOCUS] = A_BOLD | A_UNDERLINE;
        styles[ST_SELECT] = A_REVERSE;
        styles[ST_DIM] = A_DIM;
        styles[ST_KEY] = A_BOLD;
        styles[ST_GOOD] = A_BOLD;
        styles[ST_WARN] = A_NORMAL;
        styles[ST_BAD] = A_BOLD | A_UNDERLINE;
        styles[ST_SERIES1] = A_NORMAL;
        styles[ST_SERIES2] = A_BOLD;
        styles[ST_SERIES3] = A_UNDERLINE;
        styles[ST_ALT] = A_UNDERLINE;
    }
}

attr_t
style(enum style s)
{
    return s >= 0 && s < ST_COUNT ? styles[s] : A_NORMAL;
}

/* ---- keys ------------------------------------------------------------ */

int
key_read(int timeout_ms)
{
    timeout(timeout_ms);
    wint_t wc;
    int r = get_wch(&wc);
    if (r == ERR)
        return -1;
    if (r == KEY_CODE_YES) {
        if (wc == KEY_MOUSE) {
            MEVENT ev;
            if (getmouse(&ev) == OK) {
                if (ev.bstate & BUTTON4_PRESSED)
                    return KEY_WHEEL_UP;
#ifdef BUTTON5_PRESSED
                if (ev.bstate & BUTTON5_PRESSED)
                    return KEY_WHEEL_DOWN;
#endif
            }
            return -1;
        }
        return (int)wc;
    }
    if (wc == 27) {             /* Alt-x arrives as Esc x, at once */
        timeout(0);
        wint_t w2;
        int r2 = get_wch(&w2);
        if (r2 == OK && w2 != 27)
            return KEY_ALT((int)w2);
        if (r2 == KEY_CODE_YES || r2 == OK)
            unget_wch(w2);
        return 27;
    }
    if (wc >= KEY_MIN && wc <= KEY_MAX + 2)
        return (int)wc | KEY_CHAR_FLAG;
    return (int)wc;
}

int
key_char(int key)
{
    if (key & KEY_ALT(0))
        return 0;
    if (key & KEY_CHAR_FLAG)
        return key & ~KEY_CHAR_FLAG;
    if (key < 32 || key == 127 || (key >= KEY_MIN && key <= KEY_MAX + 2) ||
        key >= 0x110000)
        return 0;
    return key;
}

/* ---- text -------------------------------------------------------------- */

/* Decode one character of s (n > 0 bytes left): *wc, its byte length. */
static size_t
next_char(const char *s, size_t n, wchar_t *wc)
{
    mbstate_t st;
    memset(&st, 0, sizeof st);
    size_t k = mbrtowc(wc, s, n, &st);
    if (k == (size_t)-1 || k == (size_t)-2) {
        *wc = L'?';
        return 1;
    }
    if (k == 0) {
        *wc = L'?';
        return 1;
    }
    return k;
}

static int
char_width(wchar_t wc)
{
    if (wc == L'\t')
        return 1;
    int w = wcwidth(wc);
    return w < 0 ? 1 : w;
}

int
text_width(const char *s, size_t n)
{
    int w = 0;
    for (size_t i = 0; i < n;) {
        wchar_t wc;
        i += next_char(s + i, n - i, &wc);
        w += char_width(wc);
    }
    return w;
}

int
draw_textn(int y, int x, int w, attr_t a, const char *s, size_t n)
{
    if (w <= 0 || y < 0 || y >= LINES || x >= COLS)
        return 0;
    if (x + w > COLS)
        w = COLS - x;
    wchar_t buf[512];
    int used = 0, nb = 0;
    attr_t old;
    short pair;
    attr_get(&old, &pair, NULL);
    attrset(a);
    move(y, x);
    for (size_t i = 0; i < n;) {
        wchar_t wc;
        i += next_char(s + i, n - i, &wc);
        if (wc == L'\t')
            wc = L' ';
        else if (wc < 32 || wc == 127 || (wc >= 0x80 && wc < 0xa0))
            wc = L'?';
        int cw = char_width(wc);
        if (cw == 0 && nb == 0)
            continue;                       /* a combining mark with no base */
        if (used + cw > w)
            break;
        buf[nb++] = wc;
        used += cw;
        if (nb == (int)(sizeof buf / sizeof buf[0]) - 1) {
            addnwstr(buf, nb);
            nb = 0;
        }
    }
    if (nb)
        addnwstr(buf, nb);
    attr_set(old, pair, NULL);
    return used;
}

int
draw_text(int y, int x, int w, attr_t a, const char *s)
{
    return draw_textn(y, x, w, a, s, strlen(s));
}

int
draw_textf(int y, int x, int w, attr_t a, const char *fmt, ...)
{
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    return draw_text(y, x, w, a, buf);
}

void
draw_fill(int y, int x, int w, attr_t a)
{
    if (y < 0 || y >= LINES || w <= 0)
        return;
    if (x + w > COLS)
        w = COLS - x;
    attr_t old;
    short pair;
    attr_get(&old, &pair, NULL);
    attrset(a);
    mvhline(y, x, ' ', w);
    attr_set(old, pair, NULL);
}

void
draw_clear(struct rect r)
{
    for (int i = 0; i < r.h; i++)
        draw_fill(r.y + i, r.x, r.w, A_NORMAL);
}

int
draw_wrap(struct rect r, int skip, attr_t a, const char *text)
{
    int line = 0;
    if (r.w <= 0)
        return 0;
    const char *p = text;
    for (;;) {
        const char *nl = strchr(p, '\n');
        size_t plen = nl ? (size_t)(nl - p) : strlen(p);
        size_t i = 0;
        do {
            /* one line: as many characters as fit, broken at a space */
            size_t start = i, brk = 0, k = i;
            int w = 0;
            while (k < plen) {
                wchar_t wc;
                size_t len = next_char(p + k, plen - k, &wc);
                int cw = char_width(wc);
                if (w + cw > r.w)
                    break;
                w += cw;
                k += len;
                if (wc == L' ')
                    brk = k;
            }
            size_t end = k;
            if (k < plen && brk > start)
                end = brk;
            if (end == start && k < plen) {     /* not even one character fits */
                wchar_t wc;
                end = start + next_char(p + start, plen - start, &wc);
            }
            if (line >= skip && line - skip < r.h)
                draw_textn(r.y + line - skip, r.x, r.w, a, p + start, end - start);
            line++;
            i = end;
        } while (i < plen);
        if (!nl)
            break;
        p = nl + 1;
        if (!*p)
            break;
    }
    return line;
}

struct rect
draw_box(struct rect r, const char *title, int focused)
{
    if (r.h < 2 || r.w < 2)
        return (struct rect){ r.y, r.x, 0, 0 };
    attr_t a = focused ? style(ST_FOCUS) : style(ST_DIM);
    attr_t old;
    short pair;
    attr_get(&old, &pair, NULL);
    attrset(focused ? style(ST_FOCUS) & ~A_UNDERLINE : A_NORMAL);
    mvhline(r.y, r.x + 1, ACS_HLINE, r.w - 2);
    mvhline(r.y + r.h - 1, r.x + 1, ACS_HLINE, r.w - 2);
    mvvline(r.y + 1, r.x, ACS_VLINE, r.h - 2);
    mvvline(r.y + 1, r.x + r.w - 1, ACS_VLINE, r.h - 2);
    mvaddch(r.y, r.x, ACS_ULCORNER);
    mvaddch(r.y, r.x + r.w - 1, ACS_URCORNER);
    mvaddch(r.y + r.h - 1, r.x, ACS_LLCORNER);
    mvaddch(r.y + r.h - 1, r.x + r.w - 1, ACS_LRCORNER);
    attr_set(old, pair, NULL);
    if (title && *title && r.w > 6) {
        char buf[256];
        snprintf(buf, sizeof buf, " %s ", title);
        draw_text(r.y, r.x + 2, r.w - 4, focused ? a : style(ST_TITLE), buf);
    }
    return (struct rect){ r.y + 1, r.x + 1, r.h - 2, r.w - 2 };
}

void
draw_bar(int y, int x, int w, double frac)
{
    if (w <= 0)
        return;
    if (!(frac >= 0))
        frac = 0;
    if (frac > 1)
        frac = 1;
    int uni = draw_utf8();
    int eighths = (int)lround(frac * w * 8);
    char buf[4096];
    size_t n = 0;
    static const char *const part[] = {
        "", "\u258f", "\u258e", "\u258d", "\u258c", "\u258b", "\u258a", "\u2589"
    };
    for (int i = 0; i < w && n + 8 < sizeof buf; i++) {
        int e = eighths - i * 8;
        const char *g;
        if (uni)
            g = e >= 8 ? "\u2588" : e > 0 ? part[e] : "\u2591";
        else
            g = e >= 4 ? "#" : ".";
        if (!*g)
            g = "\u2591";
        size_t len = strlen(g);
        memcpy(buf + n, g, len);
        n += len;
    }
    draw_textn(y, x, w, style(ST_SERIES1), buf, n);
}

static int cursor_y = -1, cursor_x = -1;

void
draw_set_cursor(int y, int x)
{
    cursor_y = y;
    cursor_x = x;
}

int
draw_take_cursor(int *y, int *x)
{
    int have = cursor_y >= 0;
    *y = cursor_y;
    *x = cursor_x;
    cursor_y = cursor_x = -1;
    return have;
}

/* ---- rectangles ----------------------------------------------------------- */

struct rect
rect_cut_top(struct rect *r, int n)
{
    if (n > r->h)
        n = r->h;
    if (n < 0)
        n = 0;
    struct rect out = { r->y, r->x, n, r->w };
    r->y += n;
    r->h -= n;
    return out;
}

struct rect
rect_cut_bottom(struct rect *r, int n)
{
    if (n > r->h)
        n = r->h;
    if (n < 0)
        n = 0;
    r->h -= n;
    return (struct rect){ r->y + r->h, r->x, n, r->w };
}

struct rect
rect_cut_left(struct rect *r, int n)
{
    if (n > r->w)
        n = r->w;
    if (n < 0)
        n = 0;
    struct rect out = { r->y, r->x, r->h, n };
    r->x += n;
    r->w -= n;
    return out;
}

struct rect
rect_cut_right(struct rect *r, int n)
{
    if (n > r->w)
        n = r->w;
    if (n < 0)
        n = 0;
    r->w -= n;
    return (struct rect){ r->y, r->x + r->w, r->h, n };
}
