/* check.h: a tiny test harness.  CHECK* record failures and go on;
 * check_exit() returns the exit status for automake's harness
 * (0 pass, 1 fail).  Tests read fixtures from $srcdir. */
#ifndef GR_CHECK_H
#define GR_CHECK_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int check_failures;
static int check_count;

#define CHECK(cond) do { check_count++; if (!(cond)) { check_failures++; \
    fprintf(stderr, "%s:%d: CHECK(%s) failed\n", __FILE__, __LINE__, #cond); } } while (0)
#define CHECK_MSG(cond, ...) do { check_count++; if (!(cond)) { check_failures++; \
    fprintf(stderr, "%s:%d: CHECK(%s) failed: ", __FILE__, __LINE__, #cond); \
    fprintf(stderr, __VA_ARGS__); fputc('\n', stderr); } } while (0)
#define CHECK_EQ_INT(a, b) do { long long _a = (a), _b = (b); check_count++; if (_a != _b) { \
    check_failures++; fprintf(stderr, "%s:%d: %s == %s failed: %lld != %lld\n", \
    __FILE__, __LINE__, #a, #b, _a, _b); } } while (0)
#define CHECK_STR(a, b) do { const char *_a = (a), *_b = (b); check_count++; \
    if (!_a || !_b || strcmp(_a, _b) != 0) { check_failures++; \
    fprintf(stderr, "%s:%d: %s == %s failed:\n  got:      %s\n  expected: %s\n", \
    __FILE__, __LINE__, #a, #b, _a ? _a : "(null)", _b ? _b : "(null)"); } } while (0)
/* |a - b| <= tol * max(1, |b|) */
#define CHECK_NEAR(a, b, tol) do { double _a = (a), _b = (b); check_count++; \
    double _s = fabs(_b) > 1.0 ? fabs(_b) : 1.0; \
    if (!(fabs(_a - _b) <= (tol) * _s)) { check_failures++; \
    fprintf(stderr, "%s:%d: %s ~ %s failed: %.9g vs %.9g\n", __FILE__, __LINE__, \
    #a, #b, _a, _b); } } while (0)

static inline int
check_exit(void)
{
    if (check_failures)
        fprintf(stderr, "%d of %d checks failed\n", check_failures, check_count);
    return check_failures ? 1 : 0;
}

/* Relative L2 distance of x (n) from ref (the absolute one when ref is
 * all zeros). */
static inline double
check_rel_l2(const float *x, const float *ref, size_t n)
{
    double d = 0, r = 0;
    for (size_t i = 0; i < n; i++) {
        d += ((double)x[i] - ref[i]) * ((double)x[i] - ref[i]);
        r += (double)ref[i] * ref[i];
    }
    return r > 0 ? sqrt(d / r) : sqrt(d);
}

/* $srcdir/rel, for fixtures; static buffer. */
static inline const char *
check_srcpath(const char *rel)
{
    static char buf[4096];
    const char *s = getenv("srcdir");
    snprintf(buf, sizeof buf, "%s/%s", s ? s : ".", rel);
    return buf;
}

#endif
