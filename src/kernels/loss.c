#include "kernels/loss.h"

#include <math.h>
#include <stddef.h>
#include <string.h>

#include "kernels/bf16.h"
#include "kernels/par.h"
#include "kernels/prof.h"

GR_CLONES static float
row_lse(const float *x, int V)
{
    float mx = x[0];
    for (int i = 1; i < V; i++)
        mx = x[i] > mx ? x[i] : mx;
    float s = 0.0f;
    for (int i = 0; i < V; i++)
        s += expf(x[i] - mx);
    return mx + logf(s);
}

GR_CLONES static void
row_xent_back(float *d, const float *x, float lse, float scale, int V)
{
    for (int i = 0; i < V; i++)
        d[i] = scale * expf(x[i] - lse);
}

void
crossentropy_forward(float *losses, float *lse, const float *logits,
                     const int32_t *targets, int N, int V)
{
    prof_begin(PROF_LOSS);
#pragma omp parallel for num_threads(kernels_threads()) \
    if ((size_t)N * V > 1 << 15)
    for (int n = 0; n < N; n++) {
        const float *x = logits + (size_t)n * V;
        float l = row_lse(x, V);
        lse[n] = l;
        int t = targets ? targets[n] : -1;
        losses[n] = t >= 0 ? l - x[t] : 0.0f;
    }
    prof_end(PROF_LOSS);
}

GR_CLONES static void
row_xent_back16(uint16_t *d, const float *x, float lse, float scale, int t,
                int V)
{
    for (int i = 0; i < V; i++) {
        float g = scale * expf(x[i] - lse) - (i == t ? scale : 0.0f);
        d[i] = bf16_round(g);
    }
}

/* The gradient of the logits into d32 (fp32, may be logits) or, when d32
 * is NULL, into d16 (bf16). */
static void
xent_backward(float *d32, uint16_t *d16, const float *logits, const float *lse,
              const int32_t *targets, const float *dlosses, int N, int V)
{
    prof_begin(PROF_LOSS);
#pragma omp parallel for num_threads(kernels_threads()) \
    if ((size_t)N * V > 1 << 15)
    for (int n = 0; n < N; n++) {
        size_t row = (size_t)n * V;
        int t = targets ? targets[n] : -1;
        float s = t >= 0 ? dlosses[n] : 0.0f;
        if (s == 0.0f) {
            if (d32)
                memset(d32 + row, 0, (size_t)V * sizeof *d32);
            else
                memset(d16 + row, 0, (size_t)V * sizeof *d16);
        } else if (d32) {
            row_xent_back(d32 + row, logits + row, lse[n], s, V);
            d32[row + (size_t)t] -= s;
        } else {
            row_xent_back16(d16 + row, logits + row, lse[n], s, t, V);
        }
    }
    prof_end(PROF_LOSS);
}

void
crossentropy_backward(float *dlogits, const float *logits, const float *lse,
                      const int32_t *targets, const float *dlosses,
                      int N, int V)
{
    xent_backward(dlogits, NULL, logits, lse, targets, dlosses, N, V);
}

void
crossentropy_backward_bf16(uint16_t *d16, const float *logits,
                           const float *lse, const int32_t *targets,
                           const float *dlosses, int N, int V)
{
    xent_backward(NULL, d16, logits, lse, targets, dlosses, N, V);
}

GR_CLONES static void
row_softmax(float *x, int V, float inv_temp)
{
    float mx = x[0];
    for (int i = 1; i < V; i++)
        mx = x[i] > mx ? x[i] : mx;
    float s = 0.0f;
    for (int i = 0; i < V; i++) {
        x[i] = expf((x[i] - mx) * inv_temp);
        s += x[i];
    }
    float r = 1.0f / s;
    for (int i = 0; i < V; i++)
        x[i] *= r;
}

void
softmax_rows(float *x, int N, int V, float temperature)
{
    float it = 1.0f / temperature;
#pragma omp parallel for num_threads(kernels_threads()) \
    if ((size_t)N * V > 1 << 15)
    for (int n = 0; n < N; n++)
        row_softmax(x + (size_t)n * V, V, it);
}
