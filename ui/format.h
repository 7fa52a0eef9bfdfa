/* format.h: numbers for people: 1.2k, 3.4M; 1:02:03; 12.3 MB;
 * 1.2 GFLOP/s.  Not-finite values print as "-" ("--:--" for durations). */
#ifndef GR_UI_FORMAT_H
#define GR_UI_FORMAT_H

#include <stddef.h>

void fmt_count(char *buf, size_t cap, double x);
void fmt_duration(char *buf, size_t cap, double seconds);
void fmt_bytes(char *buf, size_t cap, double bytes);
void fmt_si(char *buf, size_t cap, double x, const char *unit);

#endif
