/* tests/test-gpt-speed.c: training throughput (not run by make check).
 *   tests/test-gpt-speed [L NH C V B T steps threads]
 * Prints the median tokens/s of full steps (zero grads, forward, backward,
 * grad norm, AdamW) and the split of one step into phases.  Set
 * OPENBLAS_CORETYPE=SkylakeX on CPUs Debian's OpenBLAS does not know. */
#include <stdint.h>
#include <stdlib.h>
#include <time.h>

#include "base/rng.h"
#include "check.h"
#include "kernels/blas.h"
#include "model/adamw.h"
#include "model/gpt.h"

static double
now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static int
cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int
main(int argc, char **argv)
{
    int v[8] = { 4, 4, 256, 4096, 8, 256, 10, 2 };
    for (int i = 1; i < argc && i <= 8; i++)
        v[i - 1] = atoi(argv[i]);
    struct gpt_config cfg = { .L = v[0], .NH = v[1], .C = v[2], .T = v[5],
                              .V = v[3] };
    int B = v[4], T = v[5], steps = v[6];
    if (v[7] > 0)
        kernels_set_threads(v[7]);
    struct gpt m;
    struct gr_error err;
    if (gpt_create(&m, &cfg, &err) != GR_OK ||
        gpt_alloc_acts(&m, B, T, &err) != GR_OK) {
        fprintf(stderr, "%s\n", err.msg);
        return 1;
    }
    struct gr_rng rng;
    rng_seed(&rng, 1);
    gpt_init_weights(&m, &rng);
    int32_t *in = malloc((size_t)B * T * 4), *tg = malloc((size_t)B * T * 4);
    for (int i = 0; i < B * T; i++) {
        in[i] = (int32_t)rng_below(&rng, cfg.V);
        tg[i] = (int32_t)rng_below(&rng, cfg.V);
    }
    double *dt = malloc(steps * sizeof *dt), ph[4] = { 0 };
    for (int s = 0; s <= steps; s++) {     /* step 0 warms up */
        double t0 = now();
        gpt_zero_grad(&m);
        float loss = gpt_forward(&m, in, tg, B, T, 1);
        double t1 = now();
        gpt_backward(&m);
        double t2 = now();
        gpt_clip_grads(&m, 1.0f);
        adamw_step(&m, 1e-4f, 0.9f, 0.95f, 1e-8f, 0.1f, s + 1);
        double t3 = now();
        if (s > 0) {
            dt[s - 1] = t3 - t0;
            ph[0] += t1 - t0;
            ph[1] += t2 - t1;
            ph[2] += t3 - t2;
        }
        (void)loss;
    }
    qsort(dt, steps, sizeof *dt, cmp_double);
    double med = dt[steps / 2];
    printf("L=%d NH=%d C=%d V=%d B=%d T=%d threads=%d (%s, core %s): "
           "%zu params\n", cfg.L, cfg.NH, cfg.C, cfg.V, B, T,
           kernels_threads(),
           kernels_split_mode() ? "one pool" : "openblas pool",
           kernels_blas_core(), m.nparams);
    printf("step median %.1f ms (min %.1f, max %.1f) = %.0f tokens/s; "
           "forward %.1f, backward %.1f, clip+adamw %.1f ms (means)\n",
           med * 1e3, dt[0] * 1e3, dt[steps - 1] * 1e3, B * T / med,
           ph[0] / steps * 1e3, ph[1] / steps * 1e3, ph[2] / steps * 1e3);
    free(dt);
    free(in);
    free(tg);
    gpt_release(&m);
    return 0;
}
