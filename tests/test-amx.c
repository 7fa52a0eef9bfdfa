/* tests/test-amx.c: the AMX few-row product (generating many sequences
 * with bf16 weights) computes out += inp . w^T to bf16's rounding: against
 * a double-precision product of the bf16-rounded operands (float sums
 * only), and against the fp32 product (bf16 rounding), for row counts
 * around the 16-row tile, inner sizes that are and are not whole tiles,
 * and column counts that leave partial tiles and groups; the rows
 * already in out are kept (out +=), and 2 threads give the same sums as
 * 1.  Attention with bf16 = 1 (its products on AMX tiles) stays within
 * bf16's rounding of fp32's attention, forward and backward, causal and
 * both ways, and gives the same gradients on 1 thread as on 2.  Skipped
 * (77) where the CPU or the system has no AMX. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/rng.h"
#include "check.h"
#include "kernels/amx.h"
#include "kernels/attention.h"
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

/* Attention with bf16 = 1 (AMX tiles) against fp32, forward and backward,
 * causal and not: bf16's rounding of the operands, no more; and the same
 * on 1 thread as on 2. */
static void
check_attention(struct gr_rng *rng, int B, int T, int C, int NH, int causal)
{
    size_t n3 = (size_t)B * T * 3 * C, n1 = (size_t)B * T * C;
    size_t na = (size_t)B * NH * T * T;
    float *qkv = malloc(n3 * sizeof *qkv), *dout = malloc(n1 * sizeof *dout);
    float *o32 = malloc(n1 * sizeof *o32), *o16 = malloc(n1 * sizeof *o16);
    float *a32 = calloc(na, sizeof *a32), *a16 = calloc(na, sizeof *a16);
    float *d32 = malloc(n3 * sizeof *d32), *d16 = malloc(n3 * sizeof *d16);
    float *d16b = malloc(n3 * sizeof *d16b), *datt = malloc(na * sizeof *datt);
    for (size_t i = 0; i < n3; i++)
        qkv[i] = rng_normal(rng);
    for (size_t i = 0; i < n1; i++)
        dout[i] = rng_normal(rng);
    kernels_set_threads(2);
    CHECK(attention_bf16_runs(T, C, NH));
    attention_forward(o32, a32, qkv, B, T, C, NH, causal, 0);
    attention_backward(d32, datt, dout, qkv, a32, B, T, C, NH, causal, 0);
    attention_forward(o16, a16, qkv, B, T, C, NH, causal, 1);
    attention_backward(d16, datt, dout, qkv, a16, B, T, C, NH, causal, 1);
    double eo = check_rel_l2(o16, o32, n1), ed = check_rel_l2(d16, d32, n3);
    CHECK_MSG(eo < 1e-2 && eo > 1e-5, "attention T %d C %d NH %d causal %d: "
              "output %g from fp32's", T, C, NH, causal, eo);
    CHECK_MSG(ed < 2e-2 && ed > 1e-5, "attention T %d C %d NH %d causal %d: "
              "gradient %g from fp32's", T, C, NH, causal, ed);
    kernels_set_threads(1);
    attention_backward(d16b, datt, dout, qkv, a16, B, T, C, NH, causal, 1);
    CHECK_MSG(memcmp(d16, d16b, n3 * sizeof *d16) == 0, "attention: 2 threads "
              "differ from 1");
    free(qkv);
    free(dout);
    free(o32);
    free(o16);
    free(a32);
    free(a16);
    free(d32);
    free(d16);
    free(d16b);
    free(datt);
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
    check_attention(&rng, 2, 128, 128, 2, 1);      /* head size 64 */
    check_attention(&rng, 2, 64, 192, 6, 0);       /* 32, both ways */
    check_attention(&rng, 1, 192, 256, 4, 1);
    CHECK(!attention_bf16_runs(100, 128, 2));      /* T not whole blocks */
    CHECK(!attention_bf16_runs(128, 96, 2));       /* head size 48 */
    return check_exit();
}
