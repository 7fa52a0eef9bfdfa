/* adamw.h: the optimizer step and gradient clipping over the flat buffers
 * of a struct gpt. */
#ifndef GR_MODEL_ADAMW_H
#define GR_MODEL_ADAMW_H

#include "model/gpt.h"

/* One AdamW step (PyTorch's formulation, decoupled weight decay) over all
 * parameters, with weight decay on matrices and embeddings only (see
 * struct gpt_tensor.decay).  t is the 1-based step number, for the bias
 * corrections. */
void adamw_step(struct gpt *m, float lr, float beta1, float beta2, float eps,
                float weight_decay, int t);

/* The same step on the gradients times gscale, which leaves m->grads as
 * they are: clipping folded into the step (gscale = gpt_clip_scale). */
void adamw_step_scaled(struct gpt *m, float gscale, float lr, float beta1,
                       float beta2, float eps, float weight_decay, int t);

/* The factor that clips a gradient of L2 norm `norm` to max_norm:
 * max_norm / norm when norm > max_norm > 0, else 1. */
float gpt_clip_scale(float norm, float max_norm);

/* Global L2 norm of the gradients, summed in double; NaN or infinity if
 * any gradient is (check with isfinite: this file is built without
 * -ffast-math).  The same value for any number of threads. */
float gpt_grad_norm(const struct gpt *m);

/* grads *= s (for clipping: s = max_norm / norm when norm > max_norm). */
void gpt_scale_grads(struct gpt *m, float s);

/* Clip the global gradient norm to max_norm (> 0); returns the norm
 * before clipping. */
float gpt_clip_grads(struct gpt *m, float max_norm);

#endif
