/* chartview.h: a chart in a pane: series that grow as records arrive,
 * and the viewer's choices (EMA smoothing, log scale, zoom to the last
 * N steps) with their keys e, l and z. */
#ifndef GR_TUI_CHARTVIEW_H
#define GR_TUI_CHARTVIEW_H

#include <stddef.h>

#include "chart.h"
#include "draw.h"

struct series {
    double *x, *y;
    size_t n, cap;
};

void series_add(struct series *s, double x, double y);
void series_clear(struct series *s);
void series_release(struct series *s);
/* Last y, or NAN when empty. */
double series_last(const struct series *s);

struct chartview {
    int ema;                    /* smoothing on */
    int log_y;
    int zoom;                   /* index into the zoom levels (0: everything) */
    struct chart_grid grid;
};

void chartview_init(struct chartview *cv);
void chartview_release(struct chartview *cv);
/* e: smoothing, l: log scale, z: zoom.  1 if used. */
int chartview_key(struct chartview *cv, int key);
/* Draw series (styles ST_SERIES1.. in order) into r under a title line
 * that names them and the view's settings. */
void chartview_draw(struct chartview *cv, struct rect r, int glyphs,
                    const char *const *names, struct series *const *s, int ns);

#endif
