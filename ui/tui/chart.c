/* chart.c: line charts as a grid of text cells (see chart.h). */
#include "chart.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/xalloc.h"

#define MAX_SERIES 8
#define MAX_LABEL 7

void
chart_grid_init(struct chart_grid *g, int w, int h)
{
    g->w = w > 0 ? w : 0;
    g->h = h > 0 ? h : 0;
    size_t n = (size_t)g->w * (size_t)g->h;
    g->cells = xcalloc(n ? n : 1, sizeof *g->cells);
    for (size_t i = 0; i < n; i++)
        g->cells[i].s[0] = ' ';
}

void
chart_grid_release(struct chart_grid *g)
{
    if (!g)
        return;
    free(g->cells);
    g->cells = NULL;
    g->w = g->h = 0;
}

static void
put(struct chart_grid *g, int y, int x, const char *s, int style)
{
    if (y < 0 || y >= g->h || x < 0 || x >= g->w)
        return;
    struct chart_cell *c = &g->cells[(size_t)y * g->w + x];
    snprintf(c->s, sizeof c->s, "%s", s);
    c->style = (unsigned char)style;
}

/* ASCII text from (y, x), cut at the right edge. */
static void
put_text(struct chart_grid *g, int y, int x, const char *text)
{
    for (; *text && x < g->w; text++, x++) {
        char one[2] = { *text, 0 };
        put(g, y, x, one, CHART_STYLE_AXIS);
    }
}

void
chart_format_number(char *buf, size_t cap, double v, double step)
{
    double a = fabs(v), st = fabs(step);
    double big = a > st ? a : st;
    if (!isfinite(v)) {
        snprintf(buf, cap, "?");
        return;
    }
    if (big >= 1e4) {
        double scale = big >= 1e9 ? 1e9 : big >= 1e6 ? 1e6 : 1e3;
        char unit = big >= 1e9 ? 'G' : big >= 1e6 ? 'M' : 'k';
        int d = st / scale >= 1 || st == 0 ? 0 : 1;
        if (a / scale >= 100)
            d = 0;
        snprintf(buf, cap, "%.*f%c", d, v / scale, unit);
        return;
    }
    int d;
    if (v == floor(v) && (st == 0 || (st >= 1 && step == floor(step))))
        d = 0;
    else if (st > 0)
        d = 1 - (int)floor(log10(st));
    else
        d = a >= 100 ? 0 : a >= 1 ? 2 : 4;
    if (d < 0)
        d = 0;
    if (d > 4)
        d = 4;
    snprintf(buf, cap, "%.*f", d, v);
    if (strcmp(buf, "-0") == 0 || strspn(buf, "-0.") == strlen(buf))
        snprintf(buf, cap, "%.*f", d, 0.0);    /* no "-0.00" */
}

/* UTF-8 of code point cp (< 0x10000) into out (4 bytes + NUL). */
static void
utf8(char *out, unsigned cp)
{
    if (cp < 0x80) {
        out[0] = (char)cp;
        out[1] = 0;
    } else if (cp < 0x800) {
        out[0] = (char)(0xc0 | (cp >> 6));
        out[1] = (char)(0x80 | (cp & 0x3f));
        out[2] = 0;
    } else {
        out[0] = (char)(0xe0 | (cp >> 12));
        out[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
        out[2] = (char)(0x80 | (cp & 0x3f));
        out[3] = 0;
    }
}

struct raster {
    int dw, dh;                 /* dots */
    uint8_t *mask;              /* (dh,dw): bit s set when series s drew here */
};

static void
dot(struct raster *r, int x, int y, int s)
{
    if (x < 0 || x >= r->dw || y < 0 || y >= r->dh)
        return;
    r->mask[(size_t)y * r->dw + x] |= (uint8_t)(1u << s);
}

static void
line(struct raster *r, int x0, int y0, int x1, int y1, int s)
{
    int dx = abs(x1 - x0), sx = x0 < x1 ? 1 : -1;
    int dy = -abs(y1 - y0), sy = y0 < y1 ? 1 : -1;
    int e = dx + dy;
    for (;;) {
        dot(r, x0, y0, s);
        if (x0 == x1 && y0 == y1)
            break;
        int e2 = 2 * e;
        if (e2 >= dy) {
            e += dy;
            x0 += sx;
        }
        if (e2 <= dx) {
            e += dx;
            y0 += sy;
        }
    }
}

/* Braille dot bits by (column, row) inside a cell. */
static const unsigned braille_bit[4][2] = {
    { 0x01, 0x08 }, { 0x02, 0x10 }, { 0x04, 0x20 }, { 0x40, 0x80 },
};

void
chart_render(struct chart_grid *g, const struct chart_opts *o,
             const struct chart_series *s, int ns)
{
    const int W = o->width, H = o->height;
    const int uni = o->glyphs != CHART_ASCII;
    chart_grid_release(g);
    chart_grid_init(g, W, H);
    if (W < 12 || H < 4) {
        put_text(g, 0, 0, "(too small)");
        return;
    }
    if (ns > MAX_SERIES)
        ns = MAX_SERIES;
    int cw = 1, ch = 1;
    if (o->glyphs == CHART_BRAILLE)
        cw = 2, ch = 4;
    else if (o->glyphs == CHART_BLOCK)
        ch = 2;

    /* Smooth (over the whole series), transform, then bound what shows. */
    double xmax_all = -INFINITY;
    for (int k = 0; k < ns; k++)
        for (size_t i = 0; i < s[k].n; i++)
            if (isfinite(s[k].x[i]) && s[k].x[i] > xmax_all)
                xmax_all = s[k].x[i];
    double xlo = o->last_x > 0 ? xmax_all - o->last_x : -INFINITY;
    double *ty[MAX_SERIES] = { 0 };
    double xmin = INFINITY, xmax = -INFINITY, ymin = INFINITY, ymax = -INFINITY;
    for (int k = 0; k < ns; k++) {
        ty[k] = xmalloc((s[k].n ? s[k].n : 1) * sizeof *ty[k]);
        double sm = NAN;
        for (size_t i = 0; i < s[k].n; i++) {
            double y = s[k].y[i], x = s[k].x[i];
            ty[k][i] = NAN;
            if (!isfinite(y) || !isfinite(x))
                continue;
            if (o->ema > 0) {
                sm = isnan(sm) ? y : o->ema * sm + (1 - o->ema) * y;
                y = sm;
            }
            if (o->log_y)
                y = y > 0 ? log10(y) : NAN;
            ty[k][i] = y;
            if (isnan(y) || x < xlo)
                continue;
            xmin = x < xmin ? x : xmin;
            xmax = x > xmax ? x : xmax;
            ymin = y < ymin ? y : ymin;
            ymax = y > ymax ? y : ymax;
        }
    }
    int have = xmin <= xmax;
    if (!have) {
        xmin = ymin = 0;
        xmax = ymax = 1;
    }
    if (ymax - ymin < 1e-12 * (fabs(ymax) > 1 ? fabs(ymax) : 1)) {
        double pad = fabs(ymax) * 0.05;
        if (pad == 0)
            pad = 0.5;
        ymin -= pad;
        ymax += pad;
    }
    if (xmax <= xmin)
        xmax = xmin + 1;

    const int ph = H - 2;
    const int dh = ph * ch;
    /* y labels: top, bottom, and the middle row when there is room */
    int label_row[3] = { 0, ph - 1, ph >= 5 ? (ph - 1) / 2 : -1 };
    char labels[3][16] = { "", "", "" };
    int lw = 1;
    if (have) {
        double rowval[3];
        for (int i = 0; i < 3; i++) {
            int r = label_row[i];
            if (r < 0)
                continue;
            int d = r == 0 ? 0 : r == ph - 1 ? dh - 1 : r * ch + ch / 2;
            rowval[i] = ymax - (ymax - ymin) * d / (dh - 1);
        }
        for (int i = 0; i < 3; i++) {
            if (label_row[i] < 0)
                continue;
            if (o->log_y) {
                double v = pow(10, rowval[i]);     /* two significant digits */
                chart_format_number(labels[i], sizeof labels[i], v, v);
            } else {
                double step = (ymax - ymin) / (label_row[2] >= 0 ? 2 : 1);
                chart_format_number(labels[i], sizeof labels[i], rowval[i], step);
            }
            labels[i][MAX_LABEL] = 0;
            int len = (int)strlen(labels[i]);
            lw = len > lw ? len : lw;
        }
    }
    const int x0 = lw + 1, pw = W - x0;
    const int dw = pw * cw;

    /* axes */
    for (int r = 0; r < ph; r++) {
        int tick = have && (r == label_row[0] || r == label_row[1] || r == label_row[2]);
        put(g, r, lw, uni ? (tick ? "\u2524" : "\u2502") : (tick ? "+" : "|"),
            CHART_STYLE_AXIS);
    }
    put(g, ph, lw, uni ? "\u2514" : "+", CHART_STYLE_AXIS);
    for (int x = x0; x < W; x++)
        put(g, ph, x, uni ? "\u2500" : "-", CHART_STYLE_AXIS);
    for (int i = 0; i < 3; i++)
        if (label_row[i] >= 0 && labels[i][0])
            put_text(g, label_row[i], lw - (int)strlen(labels[i]), labels[i]);
    if (have) {
        char lo[16], hi[16], mid[16];
        double span = xmax - xmin;
        chart_format_number(lo, sizeof lo, xmin, span);
        chart_format_number(hi, sizeof hi, xmax, span);
        double xmid = xmin + span / 2;
        if (xmin == floor(xmin) && xmax == floor(xmax))
            xmid = floor(xmid);             /* steps: a whole one */
        chart_format_number(mid, sizeof mid, xmid, span / 2);
        int lhi = (int)strlen(hi), llo = (int)strlen(lo), lmid = (int)strlen(mid);
        put_text(g, H - 1, x0, lo);
        if (x0 + llo < W - lhi)
            put_text(g, H - 1, W - lhi, hi);
        int cm = x0 + (pw - lmid) / 2;
        if (pw >= 24 && cm > x0 + llo + 1 && cm + lmid < W - lhi - 1 &&
            xmax - xmin >= 2)
            put_text(g, H - 1, cm, mid);
    } else {
        const char *msg = "no data yet";
        int len = (int)strlen(msg);
        put_text(g, ph / 2, x0 + (pw > len ? (pw - len) / 2 : 0), msg);
    }

    /* the series */
    struct raster r = { dw, dh, xcalloc((size_t)dw * dh, 1) };
    for (int k = 0; k < ns; k++) {
        int px = 0, py = 0, prev = 0;
        for (size_t i = 0; i < s[k].n; i++) {
            double y = ty[k][i], x = s[k].x[i];
            if (isnan(y) || x < xlo || !isfinite(x)) {
                prev = 0;
                continue;
            }
            int dx = (int)lround((x - xmin) / (xmax - xmin) * (dw - 1));
            int dy = (int)lround((ymax - y) / (ymax - ymin) * (dh - 1));
            dx = dx < 0 ? 0 : dx >= dw ? dw - 1 : dx;
            dy = dy < 0 ? 0 : dy >= dh ? dh - 1 : dy;
            if (prev)
                line(&r, px, py, dx, dy, k);
            else
                dot(&r, dx, dy, k);
            px = dx, py = dy, prev = 1;
        }
    }
    for (int cy = 0; cy < ph; cy++) {
        for (int cx = 0; cx < pw; cx++) {
            unsigned bits = 0, all = 0;
            for (int yy = 0; yy < ch; yy++)
                for (int xx = 0; xx < cw; xx++) {
                    uint8_t m = r.mask[(size_t)(cy * ch + yy) * dw + cx * cw + xx];
                    if (!m)
                        continue;
                    all |= m;
                    if (o->glyphs == CHART_BRAILLE)
                        bits |= braille_bit[yy][xx];
                    else
                        bits |= 1u << yy;
                }
            if (!all)
                continue;
            int top = 0;                /* the last series drawn here wins */
            for (int k = 0; k < ns; k++)
                if (all & (1u << k))
                    top = k;
            char glyph[5];
            if (o->glyphs == CHART_BRAILLE)
                utf8(glyph, 0x2800 + bits);
            else if (o->glyphs == CHART_BLOCK)
                utf8(glyph, bits == 3 ? 0x2588 : bits == 1 ? 0x2580 : 0x2584);
            else if (all & (all - 1))
                strcpy(glyph, "#");
            else
                snprintf(glyph, sizeof glyph, "%c", "*+oxs%@&"[top]);
            put(g, cy, x0 + cx, glyph, s[top].style);
        }
    }
    free(r.mask);
    for (int k = 0; k < ns; k++)
        free(ty[k]);
}

char *
chart_grid_text(const struct chart_grid *g)
{
    size_t cap = (size_t)g->w * g->h * 4 + g->h + 1, n = 0;
    char *out = xmalloc(cap);
    for (int y = 0; y < g->h; y++) {
        size_t line_start = n, keep = n;
        for (int x = 0; x < g->w; x++) {
            const char *c = g->cells[(size_t)y * g->w + x].s;
            size_t len = strlen(c);
            memcpy(out + n, c, len);
            n += len;
            if (strcmp(c, " ") != 0)
                keep = n;
        }
        (void)line_start;
        n = keep;
        out[n++] = '\n';
    }
    out[n] = 0;
    return out;
}
