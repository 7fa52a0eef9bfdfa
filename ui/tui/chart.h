/* chart.h: a line chart drawn with text.
 *
 * Series are drawn with braille dots (2x4 per cell), half blocks (1x2)
 * or ASCII (1x1), consecutive points joined by lines, under a labelled
 * y axis on the left and an x axis with its labels below:
 *
 *     6.3┤⠑⢄
 *        │  ⠈⠢⣀
 *     2.1┤     ⠉⠒⠤
 *        └────────
 *        0     200
 *
 * Pure: it renders into a grid of cells, without curses, so that the
 * grid can be tested on its own (tests/test-chart.c). */
#ifndef GR_TUI_CHART_H
#define GR_TUI_CHART_H

#include <stddef.h>

enum chart_glyphs {
    CHART_BRAILLE,      /* 2x4 dots per cell (U+2800..U+28FF) */
    CHART_BLOCK,        /* 1x2: upper, lower and full half blocks */
    CHART_ASCII,        /* 1x1: '*', '+', 'o' per series, '#' where they meet */
};

struct chart_series {
    const double *x, *y;        /* (n) points, x ascending */
    size_t n;
    int style;                  /* >= 1; copied into the cells it draws */
};

struct chart_opts {
    int width, height;          /* the whole chart: labels and axes included */
    enum chart_glyphs glyphs;
    int log_y;                  /* log10 scale; values <= 0 are left out */
    double ema;                 /* smoothing in [0,1): s = ema*s + (1-ema)*y; 0: off */
    double last_x;              /* > 0: only points with x >= max x - last_x */
};

#define CHART_STYLE_AXIS 0      /* axes, labels and messages */

struct chart_cell {
    char s[5];                  /* one UTF-8 character, NUL-terminated */
    unsigned char style;        /* CHART_STYLE_AXIS or a series' style */
};

struct chart_grid {
    int w, h;
    struct chart_cell *cells;   /* (h,w) row-major */
};

/* A w x h grid of blanks; release with chart_grid_release. */
void chart_grid_init(struct chart_grid *g, int w, int h);
void chart_grid_release(struct chart_grid *g);

/* Render ns series into g (resized to o->width x o->height).  Too small
 * a size (under 12x4) gives a grid that says so; no visible point gives
 * axes and "no data yet". */
void chart_render(struct chart_grid *g, const struct chart_opts *o,
                  const struct chart_series *s, int ns);

/* The grid as text: rows joined by '\n' (each ending in one), trailing
 * blanks cut.  Caller frees. */
char *chart_grid_text(const struct chart_grid *g);

/* A compact number for labels: "6.3", "0.042", "12k", "3.1M" (at most
 * 6 characters), with as many decimals as step (the gap between labels)
 * needs. */
void chart_format_number(char *buf, size_t cap, double v, double step);

#endif
