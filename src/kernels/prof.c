#include "kernels/prof.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static int enabled;
static double totals[PROF_NKINDS];
static double started[PROF_NKINDS];

static const char *const names[PROF_NKINDS] = {
    "matmul", "attention", "norm", "activation", "loss", "embedding",
    "optimizer", "data",
};

static double
now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

void
prof_enable(int on)
{
    __atomic_store_n(&enabled, on != 0, __ATOMIC_RELAXED);
}

int
prof_enabled(void)
{
    return __atomic_load_n(&enabled, __ATOMIC_RELAXED);
}

void
prof_reset(void)
{
    memset(totals, 0, sizeof totals);
    memset(started, 0, sizeof started);
}

void
prof_begin(enum prof_kind k)
{
    if (prof_enabled())
        started[k] = now();
}

void
prof_end(enum prof_kind k)
{
    if (prof_enabled() && started[k] > 0) {
        totals[k] += now() - started[k];
        started[k] = 0;
    }
}

double
prof_seconds(enum prof_kind k)
{
    return totals[k];
}

const char *
prof_name(enum prof_kind k)
{
    return names[k];
}

static char *
report(double total, const char *prefix)
{
    double sum = 0;
    int order[PROF_NKINDS];
    for (int k = 0; k < PROF_NKINDS; k++) {
        sum += totals[k];
        order[k] = k;
    }
    for (int i = 1; i < PROF_NKINDS; i++)       /* largest first */
        for (int j = i; j > 0 && totals[order[j]] > totals[order[j - 1]]; j--) {
            int t = order[j];
            order[j] = order[j - 1];
            order[j - 1] = t;
        }
    if (total <= 0)
        total = sum;
    size_t cap = 64 * (PROF_NKINDS + 2), len = 0;
    char *out = malloc(cap);     /* libkernels links after libgarage */
    if (!out)
        return NULL;
    out[0] = 0;
    for (int i = 0; i <= PROF_NKINDS; i++) {
        const char *name;
        double s;
        if (i < PROF_NKINDS) {
            name = names[order[i]];
            s = totals[order[i]];
        } else {
            name = "other";
            s = total - sum;
            if (s < 0)
                s = 0;
        }
        len += (size_t)snprintf(out + len, cap - len,
                                "%s%-11s %8.3f s %5.1f%%\n", prefix, name, s,
                                total > 0 ? 100.0 * s / total : 0.0);
    }
    return out;
}

char *
prof_report_total(double total)
{
    return report(total, "");
}

char *
prof_report(void)
{
    return report(0, "PROF ");
}
