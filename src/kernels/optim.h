/* optim.h: elementwise optimizer updates over flat float arrays. */
#ifndef GR_KERNELS_OPTIM_H
#define GR_KERNELS_OPTIM_H

#include <stddef.h>

/* One AdamW update of n parameters p with gradients gs * g (gs: the
 * clipping scale, so that clipping costs no pass over g of its own) and
 * moments m, v:
 *   p -= lr * wd * p;  m = b1 m + (1-b1) g;  v = b2 v + (1-b2) g^2;
 *   p -= lr * (m / bc1) / (sqrt(v / bc2) + eps)
 * where bc1 = 1 - b1^t and bc2 = 1 - b2^t are the bias corrections. */
void adamw_update(float *p, const float *g, float *m, float *v, size_t n,
                  float gs, float lr, float b1, float b2, float eps,
                  float wd, float bc1, float bc2);

/* x (n) *= s. */
void vec_scale(float *x, size_t n, float s);

#endif
