#include "kernels/act.h"

#include <math.h>
#include <string.h>

#include "kernels/par.h"
#include "kernels/prof.h"

/* Rational approximation of tanh on [-7.9, 7.9] (odd degree-13 numerator,
 * even degree-6 denominator; the coefficients Eigen uses), clamped
 * outside, where tanh is 1 to float precision.  Branch-free, so loops
 * calling it vectorise; no libm call. */
static inline float
tanh_rational(float x)
{
    const float clamp = 7.90531110763549805f;
    x = x > clamp ? clamp : x;
    x = x < -clamp ? -clamp : x;
    float x2 = x * x;
    float p = -2.76076847742355e-16f;
    p = p * x2 + 2.00018790482477e-13f;
    p = p * x2 + -8.60467152213735e-11f;
    p = p * x2 + 5.12229709037114e-08f;
    p = p * x2 + 1.48572235717979e-05f;
    p = p * x2 + 6.37261928875436e-04f;
    p = p * x2 + 4.89352455891786e-03f;
    p = p * x;
    float q = 1.19825839466702e-06f;
    q = q * x2 + 1.18534705686654e-04f;
    q = q * x2 + 2.26843463243900e-03f;
    q = q * x2 + 4.89352518554385e-03f;
    return p / q;
}

float
fast_tanhf(float x)
{
    return tanh_rational(x);
}

#define GELU_S 0.7978845608028654f      /* sqrt(2/pi) */
#define GELU_A 0.044715f

GR_CLONES static void
gelu_fwd_chunk(float *out, const float *inp, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        float x = inp[i];
        float t = tanh_rational(GELU_S * (x + GELU_A * x * x * x));
        out[i] = 0.5f * x * (1.0f + t);
    }
}

GR_CLONES static void
gelu_bwd_chunk(float *dinp, const float *inp, const float *dout, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        float x = inp[i];
        float t = tanh_rational(GELU_S * (x + GELU_A * x * x * x));
        float du = GELU_S * (1.0f + 3.0f * GELU_A * x * x);
        float g = 0.5f * (1.0f + t) + 0.5f * x * (1.0f - t * t) * du;
        dinp[i] = dout[i] * g;
    }
}

#define CHUNK ((size_t)1 << 14)

void
gelu_forward(float *out, const float *inp, size_t n)
{
    prof_begin(PROF_ACT);
    long nch = (long)((n + CHUNK - 1) / CHUNK);
#pragma omp parallel for num_threads(kernels_threads()) if (nch > 1)
    for (long c = 0; c < nch; c++) {
        size_t i = (size_t)c * CHUNK;
        gelu_fwd_chunk(out + i, inp + i, n - i < CHUNK ? n - i : CHUNK);
    }
    prof_end(PROF_ACT);
}

void
gelu_backward(float *dinp, const float *inp, const float *dout, size_t n)
{
    prof_begin(PROF_ACT);
    long nch = (long)((n + CHUNK - 1) / CHUNK);
#pragma omp parallel for num_threads(kernels_threads()) if (nch > 1)
    for (long c = 0; c < nch; c++) {
        size_t i = (size_t)c * CHUNK;
        gelu_bwd_chunk(dinp + i, inp + i, dout + i,
                       n - i < CHUNK ? n - i : CHUNK);
    }
    prof_end(PROF_ACT);
}

GR_CLONES static void
add_chunk(float *out, const float *a, const float *b, size_t n)
{
    for (size_t i = 0; i < n; i++)
        out[i] = a[i] + b[i];
}

GR_CLONES static void
acc_chunk(float *d, const float *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        d[i] += s[i];
}

void
residual_forward(float *out, const float *a, const float *b, size_t n)
{
    prof_begin(PROF_ACT);
    long nch = (long)((n + CHUNK - 1) / CHUNK);
#pragma omp parallel for num_threads(kernels_threads()) if (nch > 1)
    for (long c = 0; c < nch; c++) {
        size_t i = (size_t)c * CHUNK;
        add_chunk(out + i, a + i, b + i, n - i < CHUNK ? n - i : CHUNK);
    }
    prof_end(PROF_ACT);
}

void
residual_backward(float *da, float *db, const float *dout, size_t n)
{
    prof_begin(PROF_ACT);
    long nch = (long)((n + CHUNK - 1) / CHUNK);
#pragma omp parallel for num_threads(kernels_threads()) if (nch > 1)
    for (long c = 0; c < nch; c++) {
        size_t i = (size_t)c * CHUNK, k = n - i < CHUNK ? n - i : CHUNK;
        if (da)
            acc_chunk(da + i, dout + i, k);
        if (db)
            acc_chunk(db + i, dout + i, k);
    }
    prof_end(PROF_ACT);
}

GR_CLONES static void
enc_rows(float *out, const int32_t *inp, const float *wte, const float *wpe,
         int t0, int n, int C)
{
    for (int r = 0; r < n; r++) {
        const float *e = wte + (size_t)inp[r] * C;
        const float *p = wpe + (size_t)(t0 + r) * C;
        float *o = out + (size_t)r * C;
        for (int i = 0; i < C; i++)
            o[i] = e[i] + p[i];
    }
}

void
encoder_forward(float *out, const int32_t *inp, const float *wte,
                const float *wpe, int B, int T, int C)
{
    prof_begin(PROF_EMBED);
#pragma omp parallel for num_threads(kernels_threads()) \
    if ((size_t)B * T * C > 1 << 15)
    for (int b = 0; b < B; b++)
        enc_rows(out + (size_t)b * T * C, inp + (size_t)b * T, wte, wpe, 0,
                 T, C);
    prof_end(PROF_EMBED);
}

/* Columns [0, n) of the rows: each thread owns a block of columns, so
 * repeated tokens never race and the sums do not depend on threads. */
GR_CLONES static void
enc_back_cols(float *dwte, float *dwpe, const float *dout, const int32_t *inp,
              int B, int T, int C, int n)
{
    for (int b = 0; b < B; b++)
        for (int t = 0; t < T; t++) {
            const float *d = dout + ((size_t)b * T + t) * C;
            float *e = dwte + (size_t)inp[b * T + t] * C;
            for (int i = 0; i < n; i++)
                e[i] += d[i];
            if (dwpe) {
                float *p = dwpe + (size_t)t * C;
                for (int i = 0; i < n; i++)
                    p[i] += d[i];
            }
        }
}

void
encoder_backward(float *dwte, float *dwpe, const float *dout,
                 const int32_t *inp, int B, int T, int C)
{
    prof_begin(PROF_EMBED);
    int nblk = (C + 63) / 64;
#pragma omp parallel for num_threads(kernels_threads()) \
    if ((size_t)B * T * C > 1 << 15)
    for (int k = 0; k < nblk; k++) {
        int c0 = k * 64;
        enc_back_cols(dwte + c0, dwpe ? dwpe + c0 : NULL, dout + c0, inp,
                      B, T, C, C - c0 < 64 ? C - c0 : 64);
    }
    prof_end(PROF_EMBED);
}
