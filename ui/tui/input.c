/* input.c: an editable line of text (see input.h). */
#include "input.h"

#include <glob.h>
#include <stdlib.h>
#include <string.h>
#include <wchar.h>

#include "base/xalloc.h"

void
input_init(struct input *in)
{
    memset(in, 0, sizeof *in);
    in->cap = 64;
    in->buf = xcalloc(in->cap, 1);
}

void
input_release(struct input *in)
{
    if (!in)
        return;
    free(in->buf);
    for (size_t i = 0; i < in->nhist; i++)
        free(in->hist[i]);
    free(in->hist);
    free(in->saved);
    free(in->kill);
    free(in->hint);
    memset(in, 0, sizeof *in);
}

static void
reserve(struct input *in, size_t more)
{
    if (in->len + more + 1 <= in->cap)
        return;
    while (in->len + more + 1 > in->cap)
        in->cap *= 2;
    in->buf = xrealloc(in->buf, in->cap);
}

void
input_set(struct input *in, const char *text)
{
    in->len = 0;
    in->buf[0] = 0;
    in->cur = 0;
    input_insert(in, text ? text : "");
}

void
input_insert(struct input *in, const char *text)
{
    size_t n = strlen(text);
    reserve(in, n);
    memmove(in->buf + in->cur + n, in->buf + in->cur, in->len - in->cur + 1);
    memcpy(in->buf + in->cur, text, n);
    in->len += n;
    in->cur += n;
}

void
input_set_hint(struct input *in, const char *hint)
{
    free(in->hint);
    in->hint = hint ? xstrdup(hint) : NULL;
}

void
input_history_add(struct input *in, const char *text)
{
    if (!*text || (in->nhist && strcmp(in->hist[in->nhist - 1], text) == 0)) {
        in->hpos = in->nhist;
        return;
    }
    in->hist = xrealloc(in->hist, (in->nhist + 1) * sizeof *in->hist);
    in->hist[in->nhist++] = xstrdup(text);
    in->hpos = in->nhist;
}

static size_t
prev_char(const struct input *in, size_t i)
{
    if (i == 0)
        return 0;
    i--;
    while (i > 0 && ((unsigned char)in->buf[i] & 0xc0) == 0x80)
        i--;
    return i;
}

static size_t
next_char(const struct input *in, size_t i)
{
    if (i >= in->len)
        return in->len;
    i++;
    while (i < in->len && ((unsigned char)in->buf[i] & 0xc0) == 0x80)
        i++;
    return i;
}

static int
is_word(char c)
{
    return c != ' ' && c != '\n' && c != '\t' && c != '/' && c != '=';
}

static size_t
word_left(const struct input *in, size_t i)
{
    while (i > 0 && !is_word(in->buf[i - 1]))
        i--;
    while (i > 0 && is_word(in->buf[i - 1]))
        i--;
    return i;
}

static size_t
word_right(const struct input *in, size_t i)
{
    while (i < in->len && !is_word(in->buf[i]))
        i++;
    while (i < in->len && is_word(in->buf[i]))
        i++;
    return i;
}

/* Remove [a, b) and keep it for Ctrl-Y. */
static void
cut(struct input *in, size_t a, size_t b, int keep)
{
    if (b <= a)
        return;
    if (keep) {
        free(in->kill);
        in->kill = xstrndup(in->buf + a, b - a);
    }
    memmove(in->buf + a, in->buf + b, in->len - b + 1);
    in->len -= b - a;
    in->cur = a;
}

static size_t
line_start(const struct input *in, size_t i)
{
    while (i > 0 && in->buf[i - 1] != '\n')
        i--;
    return i;
}

static size_t
line_end(const struct input *in, size_t i)
{
    while (i < in->len && in->buf[i] != '\n')
        i++;
    return i;
}

/* Move to the same column on the line above (dir -1) or below (+1). */
static int
move_line(struct input *in, int dir)
{
    size_t ls = line_start(in, in->cur);
    size_t col = in->cur - ls;
    size_t target;
    if (dir < 0) {
        if (ls == 0)
            return 0;
        target = line_start(in, ls - 1);
    } else {
        size_t le = line_end(in, in->cur);
        if (le >= in->len)
            return 0;
        target = le + 1;
    }
    size_t te = line_end(in, target);
    in->cur = target + col < te ? target + col : te;
    while (in->cur > target && ((unsigned char)in->buf[in->cur] & 0xc0) == 0x80)
        in->cur--;
    return 1;
}

static void
history_move(struct input *in, int dir)
{
    if (!in->nhist)
        return;
    if (dir < 0 && in->hpos == 0)
        return;
    if (dir > 0 && in->hpos >= in->nhist)
        return;
    if (in->hpos == in->nhist) {
        free(in->saved);
        in->saved = xstrdup(in->buf);
    }
    in->hpos += dir;
    input_set(in, in->hpos == in->nhist ? in->saved : in->hist[in->hpos]);
}

enum input_event
input_key(struct input *in, int key)
{
    if (key & KEY_ALT(0)) {
        key &= ~KEY_ALT(0);
        if (key == 'b' || key == 'B') {
            in->cur = word_left(in, in->cur);
            return INPUT_EDITED;
        }
        if (key == 'f' || key == 'F') {
            in->cur = word_right(in, in->cur);
            return INPUT_EDITED;
        }
        if (key == 'd') {
            cut(in, in->cur, word_right(in, in->cur), 1);
            return INPUT_EDITED;
        }
        if (key == '\n' || key == '\r' || key == KEY_ENTER)
            return INPUT_SUBMIT;
        return INPUT_UNUSED;
    }
    switch (key) {
    case KEY_ESC:
        return INPUT_CANCEL;
    case '\n': case '\r': case KEY_ENTER:
        if (in->multiline) {
            input_insert(in, "\n");
            return INPUT_EDITED;
        }
        return INPUT_SUBMIT;
    case KEY_CTRL('s'): case KEY_F(2):
        return in->multiline ? INPUT_SUBMIT : INPUT_UNUSED;
    case KEY_LEFT: case KEY_CTRL('b'):
        in->cur = prev_char(in, in->cur);
        return INPUT_EDITED;
    case KEY_RIGHT: case KEY_CTRL('f'):
        in->cur = next_char(in, in->cur);
        return INPUT_EDITED;
    case KEY_HOME: case KEY_CTRL('a'):
        in->cur = in->multiline ? line_start(in, in->cur) : 0;
        return INPUT_EDITED;
    case KEY_END: case KEY_CTRL('e'):
        in->cur = in->multiline ? line_end(in, in->cur) : in->len;
        return INPUT_EDITED;
    case KEY_SLEFT: case 545: case 546:     /* Ctrl-Left in xterm, tmux */
        in->cur = word_left(in, in->cur);
        return INPUT_EDITED;
    case KEY_SRIGHT: case 560: case 561:
        in->cur = word_right(in, in->cur);
        return INPUT_EDITED;
    case KEY_BACKSPACE: case 127: case KEY_CTRL('h'):
        cut(in, prev_char(in, in->cur), in->cur, 0);
        return INPUT_EDITED;
    case KEY_DC: case KEY_CTRL('d'):
        cut(in, in->cur, next_char(in, in->cur), 0);
        return INPUT_EDITED;
    case KEY_CTRL('k'):
        cut(in, in->cur, in->multiline ? line_end(in, in->cur) : in->len, 1);
        return INPUT_EDITED;
    case KEY_CTRL('u'):
        cut(in, in->multiline ? line_start(in, in->cur) : 0, in->cur, 1);
        return INPUT_EDITED;
    case KEY_CTRL('w'):
        cut(in, word_left(in, in->cur), in->cur, 1);
        return INPUT_EDITED;
    case KEY_CTRL('y'):
        if (in->kill)
            input_insert(in, in->kill);
        return INPUT_EDITED;
    case KEY_UP: case KEY_CTRL('p'):
        if (!in->multiline || !move_line(in, -1))
            history_move(in, -1);
        return INPUT_EDITED;
    case KEY_DOWN: case KEY_CTRL('n'):
        if (!in->multiline || !move_line(in, +1))
            history_move(in, +1);
        return INPUT_EDITED;
    case '\t':
        if (in->complete) {
            input_set_hint(in, NULL);
            in->complete(in, in->carg);
        }
        return INPUT_EDITED;
    }
    int c = key_char(key);
    if (!c)
        return INPUT_UNUSED;
    char mb[8];
    mbstate_t st;
    memset(&st, 0, sizeof st);
    size_t n = wcrtomb(mb, (wchar_t)c, &st);
    if (n == (size_t)-1)
        return INPUT_EDITED;
    mb[n] = 0;
    input_insert(in, mb);
    return INPUT_EDITED;
}

void
input_draw(struct input *in, int y, int x, int w, attr_t a, int focused)
{
    if (w <= 0)
        return;
    draw_fill(y, x, w, a);
    /* first byte shown: as far left as keeps the cursor in view */
    size_t start = 0;
    while (text_width(in->buf + start, in->cur - start) > w - 1)
        start = next_char(in, start);
    draw_textn(y, x, w, a, in->buf + start, in->len - start);
    if (focused)
        draw_set_cursor(y, x + text_width(in->buf + start, in->cur - start));
}

void
input_draw_multi(struct input *in, struct rect r, attr_t a, int focused)
{
    if (r.w <= 0 || r.h <= 0)
        return;
    /* Hard-wrap by characters: rows of (start, end) byte offsets. */
    size_t nrows = 0, cap = 16;
    size_t (*rows)[2] = xmalloc(cap * sizeof *rows);
    int cur_row = 0, cur_col = 0;
    size_t i = 0;
    for (;;) {
        size_t s = i;
        int wsum = 0;
        while (i < in->len && in->buf[i] != '\n') {
            size_t nx = next_char(in, i);
            int cw = text_width(in->buf + i, nx - i);
            if (wsum + cw > r.w - 1 && wsum > 0)
                break;
            if (i == in->cur) {
                cur_row = (int)nrows;
                cur_col = wsum;
            }
            wsum += cw;
            i = nx;
        }
        if (i == in->cur && (i == in->len || in->buf[i] == '\n')) {
            cur_row = (int)nrows;
            cur_col = wsum;
        }
        if (nrows == cap) {
            cap *= 2;
            rows = xrealloc(rows, cap * sizeof *rows);
        }
        rows[nrows][0] = s;
        rows[nrows][1] = i;
        nrows++;
        if (i >= in->len)
            break;
        if (in->buf[i] == '\n')
            i++;
        if (i >= in->len && in->buf[in->len - 1] == '\n') {
            if (in->cur == in->len) {
                cur_row = (int)nrows;
                cur_col = 0;
            }
            if (nrows == cap) {
                cap *= 2;
                rows = xrealloc(rows, cap * sizeof *rows);
            }
            rows[nrows][0] = rows[nrows][1] = in->len;
            nrows++;
            break;
        }
    }
    int top = cur_row >= r.h ? cur_row - r.h + 1 : 0;
    for (int k = 0; k < r.h; k++) {
        draw_fill(r.y + k, r.x, r.w, a);
        size_t row = (size_t)(top + k);
        if (row < nrows)
            draw_textn(r.y + k, r.x, r.w, a, in->buf + rows[row][0],
                       rows[row][1] - rows[row][0]);
    }
    if (focused)
        draw_set_cursor(r.y + cur_row - top, r.x + cur_col);
    free(rows);
}

/* ---- completion ------------------------------------------------------- */

static size_t
last_word(const struct input *in)
{
    size_t i = in->cur;
    while (i > 0 && in->buf[i - 1] != ' ')
        i--;
    return i;
}

static void
replace_word(struct input *in, size_t start, const char *text)
{
    cut(in, start, in->cur, 0);
    input_insert(in, text);
}

static size_t
common_prefix(const char *a, const char *b)
{
    size_t i = 0;
    while (a[i] && a[i] == b[i])
        i++;
    return i;
}

void
input_complete_path(struct input *in, void *arg)
{
    (void)arg;
    size_t ws = last_word(in);
    char *word = xstrndup(in->buf + ws, in->cur - ws);
    if (word[0] == '~' && (word[1] == '/' || word[1] == 0) && getenv("HOME")) {
        char *e = xasprintf("%s%s", getenv("HOME"), word + 1);
        free(word);
        word = e;
    }
    char *pat = xasprintf("%s*", word);
    glob_t g;
    int rc = glob(pat, GLOB_MARK, NULL, &g);
    free(pat);
    if (rc != 0 || g.gl_pathc == 0) {
        input_set_hint(in, "no such file or folder");
        if (rc == 0)
            globfree(&g);
        free(word);
        return;
    }
    size_t pre = strlen(g.gl_pathv[0]);
    for (size_t k = 1; k < g.gl_pathc; k++) {
        size_t c = common_prefix(g.gl_pathv[0], g.gl_pathv[k]);
        pre = c < pre ? c : pre;
    }
    char *ext = xstrndup(g.gl_pathv[0], pre);
    if (strlen(ext) >= strlen(word))
        replace_word(in, ws, ext);
    free(ext);
    if (g.gl_pathc > 1) {
        char hint[512] = "";
        size_t n = 0;
        for (size_t k = 0; k < g.gl_pathc && n + 2 < sizeof hint; k++) {
            const char *p = g.gl_pathv[k];
            size_t len = strlen(p);
            const char *base = p + len;
            if (len > 1 && p[len - 1] == '/')
                base--;
            while (base > p && base[-1] != '/')
                base--;
            n += (size_t)snprintf(hint + n, sizeof hint - n, "%s%s", k ? "  " : "", base);
        }
        if (n >= sizeof hint - 2)
            strcpy(hint + sizeof hint - 5, "...");
        input_set_hint(in, hint);
    }
    globfree(&g);
    free(word);
}

size_t
input_complete_words(struct input *in, const char *const *cands,
                     const char *suffix_if_one)
{
    size_t ws = last_word(in);
    size_t wl = in->cur - ws;
    const char *first = NULL;
    size_t pre = 0, nmatch = 0;
    char hint[512] = "";
    size_t hn = 0;
    for (const char *const *c = cands; *c; c++) {
        if (strncmp(*c, in->buf + ws, wl) != 0)
            continue;
        if (!first) {
            first = *c;
            pre = strlen(*c);
        } else {
            size_t k = common_prefix(first, *c);
            pre = k < pre ? k : pre;
        }
        if (hn + 2 < sizeof hint)
            hn += (size_t)snprintf(hint + hn, sizeof hint - hn, "%s%s",
                                   nmatch ? "  " : "", *c);
        nmatch++;
    }
    if (!nmatch)
        return 0;
    char *ext = xstrndup(first, pre);
    if (nmatch == 1 && suffix_if_one) {
        char *e2 = xasprintf("%s%s", ext, suffix_if_one);
        free(ext);
        ext = e2;
    }
    replace_word(in, ws, ext);
    free(ext);
    if (nmatch > 1)
        input_set_hint(in, hint);
    return nmatch;
}
