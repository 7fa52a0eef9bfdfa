/* tests/test-chart.c: the TUI's line chart on its own: given series and
 * a size, the exact grid of text (axes, labels, glyphs), for each kind of
 * glyph and each view setting (log scale, EMA smoothing, zoom). */
#include <stdlib.h>

#include "check.h"
#include "../ui/tui/chart.h"

static char *
render(int w, int h, enum chart_glyphs gl, int log_y, double ema, double last_x,
       const struct chart_series *s, int ns)
{
    struct chart_grid g;
    chart_grid_init(&g, 0, 0);
    struct chart_opts o = { w, h, gl, log_y, ema, last_x };
    chart_render(&g, &o, s, ns);
    char *text = chart_grid_text(&g);
    chart_grid_release(&g);
    return text;
}

#define EXPECT(got, want) do { char *_g = (got); CHECK_STR(_g, want); free(_g); } while (0)

int
main(void)
{
    double x[5] = { 0, 1, 2, 3, 4 }, y[5] = { 4, 3, 2, 1, 0 };
    struct chart_series falling = { x, y, 5, 1 };
    EXPECT(render(20, 7, CHART_ASCII, 0, 0, 0, &falling, 1),
           "4+**\n"
           " |  *****\n"
           "2+       ****\n"
           " |           ****\n"
           "0+               ***\n"
           " +------------------\n"
           "  0                4\n");

    /* a line between two points, in braille dots and in half blocks */
    double x2[2] = { 0, 100 }, y2[2] = { 1, 0 };
    struct chart_series two = { x2, y2, 2, 1 };
    EXPECT(render(14, 5, CHART_BRAILLE, 0, 0, 0, &two, 1),
           "1\u2524\u2809\u2812\u2824\u28c0\n"
           " \u2502    \u2809\u2812\u2824\u28c0\n"
           "0\u2524        \u2809\u2812\u2824\u28c0\n"
           " \u2514\u2500\u2500\u2500\u2500\u2500\u2500\u2500\u2500\u2500\u2500\u2500\u2500\n"
           "  0        100\n");
    EXPECT(render(14, 5, CHART_BLOCK, 0, 0, 0, &two, 1),
           "1\u2524\u2580\u2580\u2584\u2584\n"
           " \u2502    \u2580\u2580\u2584\u2584\n"
           "0\u2524        \u2580\u2580\u2584\u2584\n"
           " \u2514\u2500\u2500\u2500\u2500\u2500\u2500\u2500\u2500\u2500\u2500\u2500\u2500\n"
           "  0        100\n");

    /* log scale: a straight line, labelled in real values */
    double x3[4] = { 1, 2, 3, 4 }, y3[4] = { 1000, 100, 10, 1 };
    struct chart_series decades = { x3, y3, 4, 1 };
    EXPECT(render(16, 6, CHART_ASCII, 1, 0, 0, &decades, 1),
           "1000+**\n"
           "    |  ***\n"
           "    |     ****\n"
           "   1+         **\n"
           "    +-----------\n"
           "     1         4\n");

    /* EMA 0.5 turns 8 0 8 0 into 8 4 6 3 */
    double y4[4] = { 8, 0, 8, 0 };
    struct chart_series zigzag = { x3, y4, 4, 1 };
    EXPECT(render(16, 6, CHART_ASCII, 0, 0.5, 0, &zigzag, 1),
           "8+*\n"
           " | **    ***\n"
           " |   ****   **\n"
           "3+            **\n"
           " +--------------\n"
           "  1            4\n");

    /* zoom to the last 20 steps: the early plateau at 9 is out of view */
    double x5[6] = { 0, 10, 20, 30, 40, 50 }, y5[6] = { 9, 9, 9, 3, 2, 1 };
    struct chart_series late = { x5, y5, 6, 1 };
    EXPECT(render(16, 6, CHART_ASCII, 0, 0, 20, &late, 1),
           "3+**\n"
           " |  ****\n"
           " |      ****\n"
           "1+          ****\n"
           " +--------------\n"
           "  30          50\n");

    /* two series: each its own glyph, '#' where they cross; styles kept */
    double xa[3] = { 0, 1, 2 }, ya[3] = { 0, 1, 2 }, yb[3] = { 2, 1, 0 };
    struct chart_series both[2] = { { xa, ya, 3, 1 }, { xa, yb, 3, 2 } };
    EXPECT(render(15, 5, CHART_ASCII, 0, 0, 0, both, 2),
           "2++++      ****\n"
           " |   ######\n"
           "0+***      ++++\n"
           " +-------------\n"
           "  0           2\n");
    struct chart_grid g;
    chart_grid_init(&g, 0, 0);
    struct chart_opts o = { 15, 5, CHART_ASCII, 0, 0, 0 };
    chart_render(&g, &o, both, 2);
    CHECK_EQ_INT(g.cells[0 * 15 + 2].style, 2);     /* '+' of series 2 */
    CHECK_EQ_INT(g.cells[2 * 15 + 2].style, 1);     /* '*' of series 1 */
    CHECK_EQ_INT(g.cells[0 * 15 + 0].style, CHART_STYLE_AXIS);
    chart_grid_release(&g);

    /* a flat series gets a range around it; no points: axes and a word */
    double yc[3] = { 2, 2, 2 };
    struct chart_series flat = { xa, yc, 3, 1 };
    EXPECT(render(14, 5, CHART_ASCII, 0, 0, 0, &flat, 1),
           "2.10+\n"
           "    |*********\n"
           "1.90+\n"
           "    +---------\n"
           "     0       2\n");
    EXPECT(render(16, 5, CHART_BRAILLE, 0, 0, 0, NULL, 0),
           " \u2502\n"
           " \u2502 no data yet\n"
           " \u2502\n"
           " \u2514\u2500\u2500\u2500\u2500\u2500\u2500\u2500\u2500\u2500\u2500\u2500\u2500\u2500\u2500\n"
           "\n");
    EXPECT(render(8, 3, CHART_ASCII, 0, 0, 0, &falling, 1), "(too sma\n\n\n");

    /* NaN and infinite values are skipped, not drawn */
    double yn[5] = { 4, NAN, 2, INFINITY, 0 };
    struct chart_series gaps = { x, yn, 5, 1 };
    EXPECT(render(20, 7, CHART_ASCII, 0, 0, 0, &gaps, 1),
           "4+*\n"
           " |\n"
           "2+         *\n"
           " |\n"
           "0+                 *\n"
           " +------------------\n"
           "  0                4\n");

    /* labels */
    char b[32];
    chart_format_number(b, sizeof b, 6.3, 2.1);
    CHECK_STR(b, "6.3");
    chart_format_number(b, sizeof b, 0.0421, 0.01);
    CHECK_STR(b, "0.042");
    chart_format_number(b, sizeof b, 12000, 3000);
    CHECK_STR(b, "12k");
    chart_format_number(b, sizeof b, 3.1e6, 1e5);
    CHECK_STR(b, "3.1M");
    chart_format_number(b, sizeof b, 2000, 2000);
    CHECK_STR(b, "2000");
    chart_format_number(b, sizeof b, -0.0001, 0.5);
    CHECK_STR(b, "0.00");
    return check_exit();
}
