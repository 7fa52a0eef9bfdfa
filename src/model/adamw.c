#include "model/adamw.h"

#include <math.h>

#include "kernels/blas.h"
#include "kernels/optim.h"
#include "kernels/prof.h"

void
adamw_step(struct gpt *m, float lr, float beta1, float beta2, float eps,
           float weight_decay, int t)
{
    adamw_step_scaled(m, 1.0f, lr, beta1, beta2, eps, weight_decay, t);
}

void
adamw_step_scaled(struct gpt *m, float gscale, float lr, float beta1,
                  float beta2, float eps, float weight_decay, int t)
{
    prof_begin(PROF_OPTIMIZER);
    struct gpt_tensor ts[GPT_NTENSORS];
    gpt_tensors(&m->cfg, ts);
    float bc1 = (float)(1.0 - pow(beta1, t));
    float bc2 = (float)(1.0 - pow(beta2, t));
    for (int k = 0; k < GPT_NTENSORS; k++) {
        size_t o = ts[k].offset;
        adamw_update(m->params + o, m->grads + o, m->adam_m + o,
                     m->adam_v + o, ts[k].numel, gscale, lr, beta1, beta2, eps,
                     ts[k].decay ? weight_decay : 0.0f, bc1, bc2);
    }
    prof_end(PROF_OPTIMIZER);
}

/* Fixed blocks, each summed in one order, then added in order: the result
 * does not depend on how many threads ran. */
#define NORM_BLOCKS 64

float
gpt_grad_norm(const struct gpt *m)
{
    prof_begin(PROF_OPTIMIZER);
    double part[NORM_BLOCKS];
    size_t n = m->nparams, per = (n + NORM_BLOCKS - 1) / NORM_BLOCKS;
    const float *g = m->grads;
#pragma omp parallel for num_threads(kernels_threads()) if (n > 1 << 16)
    for (int b = 0; b < NORM_BLOCKS; b++) {
        size_t i0 = (size_t)b * per, i1 = i0 + per < n ? i0 + per : n;
        double s = 0.0;
#pragma omp simd reduction(+:s)
        for (size_t i = i0; i < i1; i++)
            s += (double)g[i] * g[i];
        part[b] = s;
    }
    double s = 0.0;
    for (int b = 0; b < NORM_BLOCKS; b++)
        s += part[b];
    prof_end(PROF_OPTIMIZER);
    return (float)sqrt(s);
}

void
gpt_scale_grads(struct gpt *m, float s)
{
    prof_begin(PROF_OPTIMIZER);
    vec_scale(m->grads, m->nparams, s);
    prof_end(PROF_OPTIMIZER);
}

float
gpt_clip_scale(float norm, float max_norm)
{
    return max_norm > 0 && isfinite(norm) && norm > max_norm ? max_norm / norm : 1.0f;
}

float
gpt_clip_grads(struct gpt *m, float max_norm)
{
    float norm = gpt_grad_norm(m), s = gpt_clip_scale(norm, max_norm);
    if (s != 1.0f)
        gpt_scale_grads(m, s);
    return norm;
}
