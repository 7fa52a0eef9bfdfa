/* tests/test-linear.c: the forward paths of the linear layers agree with a
 * plain loop: linear_forward and linear_forward_add (sgemm), and
 * linear_forward_rows for generation: one row (matrix-vector products), a
 * few rows (the AVX-512 kernels of batched sampling, every edge of their
 * 4x4 blocks and 16-wide vectors), many rows; with and without bias and
 * residual, in place, on one and on two threads, and big products split
 * across threads or computed by oneDNN (blas.c). */
#include <math.h>
#include <stdlib.h>

#include "base/rng.h"
#include "check.h"
#include "kernels/blas.h"
#include "kernels/linear.h"

static void
check_shape(struct gr_rng *rng, int N, int C, int OC, int rows)
{
    float *x = malloc((size_t)N * C * sizeof *x);
    float *w = malloc((size_t)OC * C * sizeof *w);
    float *b = malloc((size_t)OC * sizeof *b);
    float *res = malloc((size_t)N * OC * sizeof *res);
    float *out = malloc((size_t)N * OC * sizeof *out);
    float *ref = malloc((size_t)N * OC * sizeof *ref);
    for (int i = 0; i < N * C; i++)
        x[i] = rng_normal(rng);
    for (int i = 0; i < OC * C; i++)
        w[i] = rng_normal(rng);
    for (int i = 0; i < OC; i++)
        b[i] = rng_normal(rng);
    for (int i = 0; i < N * OC; i++)
        res[i] = rng_normal(rng);
    for (int mode = 0; mode < 3; mode++) {     /* plain, bias, residual */
        for (int n = 0; n < N; n++)
            for (int o = 0; o < OC; o++) {
                double s = mode == 2 ? res[n * OC + o] : 0.0;
                s += mode ? b[o] : 0.0;
                for (int c = 0; c < C; c++)
                    s += (double)x[n * C + c] * w[o * C + c];
                ref[n * OC + o] = (float)s;
            }
        for (int i = 0; i < N * OC; i++)
            out[i] = 1e9f;          /* every output must be written */
        if (rows)
            linear_forward_rows(out, mode == 2 ? res : NULL, x, w,
                                mode ? b : NULL, N, C, OC);
        else if (mode == 2)
            linear_forward_add(out, res, x, w, b, N, C, OC);
        else
            linear_forward(out, x, w, mode ? b : NULL, N, C, OC);
        for (int i = 0; i < N * OC; i++)
            CHECK_MSG(fabs(out[i] - ref[i]) <= 1e-4 * (1 + fabs(ref[i])),
                      "N %d C %d OC %d mode %d rows %d: [%d] %g vs %g", N, C,
                      OC, mode, rows, i, out[i], ref[i]);
    }
    /* in place: out = out + x . w^T + b */
    for (int i = 0; i < N * OC; i++)
        out[i] = res[i];
    if (rows)
        linear_forward_rows(out, out, x, w, b, N, C, OC);
    else
        linear_forward_add(out, out, x, w, b, N, C, OC);
    for (int i = 0; i < N * OC; i++)
        CHECK(fabs(out[i] - ref[i]) <= 1e-4 * (1 + fabs(ref[i])));
    free(x);
    free(w);
    free(b);
    free(res);
    free(out);
    free(ref);
}

int
main(void)
{
    struct gr_rng rng;
    rng_seed(&rng, 5);
    static const int Ns[] = { 1, 2, 3, 4, 5, 8, 13, 16, 17, 40 };
    static const int Cs[] = { 1, 7, 16, 33, 64, 200 };
    static const int OCs[] = { 1, 3, 4, 9, 130, 700 };
    for (int t = 1; t <= 2; t++) {
        kernels_set_threads(t);
        for (size_t i = 0; i < sizeof Ns / sizeof Ns[0]; i++)
            for (size_t j = 0; j < sizeof Cs / sizeof Cs[0]; j++)
                for (size_t k = 0; k < sizeof OCs / sizeof OCs[0]; k++)
                    for (int rows = 0; rows < 2; rows++)
                        check_shape(&rng, Ns[i], Cs[j], OCs[k], rows);
        /* big enough to be split across threads, by each backend of
         * gr_sgemm that is built in (GARAGE_SGEMM) */
        static const char *const backends[] = { "openblas", "onednn", "auto",
                                                "garage" };
        const char *def = kernels_sgemm_name();
        for (int b = 0; b < 4; b++) {
            if (kernels_set_sgemm(backends[b]) != 0)
                continue;
            check_shape(&rng, 300, 129, 257, 0);
            check_shape(&rng, 512, 384, 1152, 0);
        }
        kernels_set_sgemm(def);     /* the default again */
    }
    return check_exit();
}
