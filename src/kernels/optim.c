#include "kernels/optim.h"

#include <math.h>

#include "kernels/par.h"

GR_CLONES static void
adamw_chunk(float *p, const float *g, float *m, float *v, size_t n,
            float gs, float lr, float b1, float b2, float eps, float wd,
            float bc1, float bc2)
{
    float decay = 1.0f - lr * wd, ib1 = 1.0f / bc1, ib2 = 1.0f / bc2;
    for (size_t i = 0; i < n; i++) {
        float gi = g[i] * gs;
        float mi = b1 * m[i] + (1.0f - b1) * gi;
        float vi = b2 * v[i] + (1.0f - b2) * gi * gi;
        m[i] = mi;
        v[i] = vi;
        p[i] = p[i] * decay - lr * (mi * ib1) / (sqrtf(vi * ib2) + eps);
    }
}

GR_CLONES static void
scale_chunk(float *x, size_t n, float s)
{
    for (size_t i = 0; i < n; i++)
        x[i] *= s;
}

#define CHUNK ((size_t)1 << 14)

void
adamw_update(float *p, const float *g, float *m, float *v, size_t n,
             float gs, float lr, float b1, float b2, float eps, float wd,
             float bc1, float bc2)
{
    long nch = (long)((n + CHUNK - 1) / CHUNK);
#pragma omp parallel for num_threads(kernels_threads()) if (nch > 1)
    for (long c = 0; c < nch; c++) {
        size_t i = (size_t)c * CHUNK;
        adamw_chunk(p + i, g + i, m + i, v + i, n - i < CHUNK ? n - i : CHUNK,
                    gs, lr, b1, b2, eps, wd, bc1, bc2);
    }
}

void
vec_scale(float *x, size_t n, float s)
{
    long nch = (long)((n + CHUNK - 1) / CHUNK);
#pragma omp parallel for num_threads(kernels_threads()) if (nch > 1)
    for (long c = 0; c < nch; c++) {
        size_t i = (size_t)c * CHUNK;
        scale_chunk(x + i, n - i < CHUNK ? n - i : CHUNK, s);
    }
}
