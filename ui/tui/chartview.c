/* chartview.c: charts in panes (see chartview.h). */
#include "chartview.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/xalloc.h"

static const double zooms[] = { 0, 50, 200, 1000, 5000 };
#define NZOOM (int)(sizeof zooms / sizeof zooms[0])

void
series_add(struct series *s, double x, double y)
{
    if (s->n == s->cap) {
        s->cap = s->cap ? s->cap * 2 : 256;
        s->x = xrealloc(s->x, s->cap * sizeof *s->x);
        s->y = xrealloc(s->y, s->cap * sizeof *s->y);
    }
    s->x[s->n] = x;
    s->y[s->n] = y;
    s->n++;
}

void
series_clear(struct series *s)
{
    s->n = 0;
}

void
series_release(struct series *s)
{
    free(s->x);
    free(s->y);
    memset(s, 0, sizeof *s);
}

double
series_last(const struct series *s)
{
    return s->n ? s->y[s->n - 1] : NAN;
}

void
chartview_init(struct chartview *cv)
{
    memset(cv, 0, sizeof *cv);
    chart_grid_init(&cv->grid, 0, 0);
}

void
chartview_release(struct chartview *cv)
{
    chart_grid_release(&cv->grid);
}

int
chartview_key(struct chartview *cv, int key)
{
    switch (key) {
    case 'e':
        cv->ema = !cv->ema;
        return 1;
    case 'l':
        cv->log_y = !cv->log_y;
        return 1;
    case 'z':
        cv->zoom = (cv->zoom + 1) % NZOOM;
        return 1;
    case 'Z':
        cv->zoom = (cv->zoom + NZOOM - 1) % NZOOM;
        return 1;
    }
    return 0;
}

void
chartview_draw(struct chartview *cv, struct rect r, int glyphs,
               const char *const *names, struct series *const *s, int ns)
{
    if (r.h < 2 || r.w < 12)
        return;
    /* title line: names in their colours, then the view's settings */
    int x = r.x;
    static const enum style st[] = { ST_SERIES1, ST_SERIES2, ST_SERIES3 };
    for (int k = 0; k < ns && k < 3; k++) {
        char buf[96];
        double last = series_last(s[k]);
        if (isfinite(last))
            snprintf(buf, sizeof buf, "%s %.4g", names[k], last);
        else
            snprintf(buf, sizeof buf, "%s", names[k]);
        x += draw_text(r.y, x, r.x + r.w - x, style(st[k]) | A_BOLD, buf);
        x += draw_text(r.y, x, r.x + r.w - x, A_NORMAL, "  ");
    }
    char view[96] = "";
    size_t n = 0;
    if (cv->ema)
        n += (size_t)snprintf(view + n, sizeof view - n, " EMA");
    if (cv->log_y)
        n += (size_t)snprintf(view + n, sizeof view - n, " log");
    if (zooms[cv->zoom] > 0)
        snprintf(view + n, sizeof view - n, " last %.0f", zooms[cv->zoom]);
    if (view[0]) {
        int vw = (int)strlen(view);
        if (r.x + r.w - vw > x)
            draw_text(r.y, r.x + r.w - vw, vw, style(ST_DIM), view);
    }
    struct chart_series cs[3];
    for (int k = 0; k < ns && k < 3; k++)
        cs[k] = (struct chart_series){ s[k]->x, s[k]->y, s[k]->n, k + 1 };
    struct chart_opts o = {
        .width = r.w, .height = r.h - 1, .glyphs = (enum chart_glyphs)glyphs,
        .log_y = cv->log_y, .ema = cv->ema ? 0.9 : 0, .last_x = zooms[cv->zoom],
    };
    chart_render(&cv->grid, &o, cs, ns < 3 ? ns : 3);
    for (int y = 0; y < cv->grid.h; y++)
        for (int cx = 0; cx < cv->grid.w; cx++) {
            const struct chart_cell *c = &cv->grid.cells[(size_t)y * cv->grid.w + cx];
            if (c->s[0] == ' ' && !c->s[1])
                continue;
            attr_t a = c->style == CHART_STYLE_AXIS ? A_NORMAL
                                                   : style(st[(c->style - 1) % 3]);
            draw_text(r.y + 1 + y, r.x + cx, 1, a, c->s);
        }
}
