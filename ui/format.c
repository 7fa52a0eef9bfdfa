/* format.c: numbers for people, shared by the progress lines and the
 * curses application. */
#include "format.h"

#include <math.h>
#include <stdio.h>

void
fmt_count(char *buf, size_t cap, double x)
{
    if (!isfinite(x))
        snprintf(buf, cap, "-");
    else if (x >= 1e9)
        snprintf(buf, cap, "%.2fG", x / 1e9);
    else if (x >= 1e6)
        snprintf(buf, cap, "%.2fM", x / 1e6);
    else if (x >= 1e4)
        snprintf(buf, cap, "%.1fk", x / 1e3);
    else
        snprintf(buf, cap, "%.0f", x);
}

void
fmt_duration(char *buf, size_t cap, double s)
{
    if (!isfinite(s) || s < 0) {
        snprintf(buf, cap, "--:--");
        return;
    }
    long t = (long)(s + 0.5);
    if (t >= 3600)
        snprintf(buf, cap, "%ld:%02ld:%02ld", t / 3600, t / 60 % 60, t % 60);
    else
        snprintf(buf, cap, "%ld:%02ld", t / 60, t % 60);
}

void
fmt_bytes(char *buf, size_t cap, double b)
{
    if (b >= 1e9)
        snprintf(buf, cap, "%.2f GB", b / 1e9);
    else if (b >= 1e6)
        snprintf(buf, cap, "%.2f MB", b / 1e6);
    else if (b >= 1e3)
        snprintf(buf, cap, "%.1f kB", b / 1e3);
    else
        snprintf(buf, cap, "%.0f B", b);
}

void
fmt_si(char *buf, size_t cap, double x, const char *unit)
{
    static const char pre[] = " kMGTP";
    int i = 0;
    if (!isfinite(x)) {
        snprintf(buf, cap, "- %s", unit);
        return;
    }
    while (fabs(x) >= 1000 && i < 5) {
        x /= 1000;
        i++;
    }
    if (i)
        snprintf(buf, cap, "%.*f %c%s", x >= 100 ? 0 : x >= 10 ? 1 : 2, x, pre[i], unit);
    else
        snprintf(buf, cap, "%.0f %s", x, unit);
}
