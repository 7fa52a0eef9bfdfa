/* tests/test-amx.c: the AMX few-row product (generating many sequences
 * with bf16 weights) computes out += inp . w^T to bf16's rounding: against
 * a double-precision product of the bf16-rounded operands (float sums
 * only), and against the fp32 product (bf16 rounding), for row counts
 * around the 16-row tile, inner sizes that are and are not whole tiles,
 * and column counts that leave partial tiles and groups; the rows
 * already in out are kept (out +=), and 2 threads give the same sums as
 * 1.  Skipped (77) where the CPU or the system has no AMX. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>

#include "base/rng.h"
#include "check.h"
#include "kernels/amx.h"
#include "kernels/blas.h"

static float
rounded(float f)
{
    uint32_t u = (uint32_t)bf16_round(f) << 16;
    float r;
    memcpy(&r, &u, sizeof r);
    return r;
}

static void
check_shape(struct gr_rng *rng, int N, int C, int OC)
{
    float *x = malloc((size_t)N * C * sizeof *x);
    float *w = malloc((size_t)OC * C * sizeof *w);
    float *out = malloc((size_t)N * OC * sizeof *out);
    float *out1 = malloc((size_t)N * OC * sizeof *out1);
    gr_bf16 *wp = malloc(amx_packed_len(C, OC) * sizeof *wp);
    for (int i = 0; i < N * C; i++)
        x[i] = rng_normal(rng);
    for (int i = 0; i < OC * C; i++)
        w[i] = rng_normal(rng) * 0.1f;
    for (int i = 0; i < N * OC; i++)
        out[i] = out1[i] = (float)(i % 7) - 3.0f;
    amx_pack(wp, w, C, OC);
    gr_bf16 *a16 = malloc(amx_rows_len(N, C) * sizeof *a16);
    kernels_set_threads(2);
    amx_linear_add(out, x, a16, wp, N, C, OC);
    kernels_set_threads(1);
    amx_linear_add(out1, x, a16, wp, N, C, OC);
    double worst16 = 0, d32 = 0, r32 = 0;
    int same = 1;
    for (int r = 0; r < N; r++)
        for (int o = 0; o < OC; o++) {
            double s16 = 0, s32 = 0, mag = 0;
            for (int c = 0; c < C; c++) {
                float a = x[(size_t)r * C + c], b = w[(size_t)o * C + c];
                s16 += (double)rounded(a) * rounded(b);
                s32 += (double)a * b;
                mag += fabs((double)a * b);
            }
            double init = (double)((r * OC + o) % 7) - 3.0;
            double got = out[(size_t)r * OC + o] - init;
            /* float sums of C terms: a few ulps of the magnitude */
            double e = fabs(got - s16) / (mag + 1e-30);
            if (e > worst16)
                worst16 = e;
            d32 += (got - s32) * (got - s32);
            r32 += s32 * s32;
            same &= out[(size_t)r * OC + o] == out1[(size_t)r * OC + o];
        }
    CHECK_MSG(worst16 < 1e-5, "N %d C %d OC %d: %g from the bf16 operands' "
              "product", N, C, OC, worst16);
    double e32 = sqrt(d32 / r32);
    CHECK_MSG(e32 < 1e-2 && e32 > 1e-5, "N %d C %d OC %d: %g from fp32's "
              "product", N, C, OC, e32);
    CHECK_MSG(same, "N %d C %d OC %d: 2 threads differ from 1", N, C, OC);
    free(x);
    free(w);
    free(out);
    free(out1);
    free(wp);
    free(a16);
}

int
main(void)
{
    const char *why;
    if (!amx_available(&why)) {
        printf("SKIP: %s\n", why);
        return 77;
    }
    struct gr_rng rng;
    rng_seed(&rng, 5);
    CHECK_EQ_INT(amx_packed_len(384, 1152), 384 * 1152);
    CHECK_EQ_INT(amx_packed_len(70, 53), 96 * 64);
    static const int rows[] = { 1, 5, 16, 17, 40 };
    static const int shapes[][2] = {  /* C, OC */
        { 64, 64 }, { 70, 53 }, { 384, 1152 }, { 32, 200 }, { 96, 17 },
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++)
        for (size_t j = 0; j < sizeof shapes / sizeof shapes[0]; j++)
            check_shape(&rng, rows[i], shapes[j][0], shapes[j][1]);
    return check_exit();
}
