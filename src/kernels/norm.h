/* norm.h: LayerNorm over the last dimension C.  N = B*T rows. */
#ifndef GR_KERNELS_NORM_H
#define GR_KERNELS_NORM_H

#define LAYERNORM_EPS 1e-5f

/* out (N,C) = (inp - mean) * rstd * w (C) + b (C); keeps mean (N) and
 * rstd (N) = 1/sqrt(var + eps) for the backward. */
void layernorm_forward(float *out, float *mean, float *rstd,
                       const float *inp, const float *w, const float *b,
                       int N, int C);

/* Backward given dout (N,C): dinp (N,C), dw (C), db (C) all accumulate
 * (+=), so dinp can be the residual stream's gradient.  dw, db may be NULL. */
void layernorm_backward(float *dinp, float *dw, float *db, const float *dout,
                        const float *inp, const float *w, const float *mean,
                        const float *rstd, int N, int C);

#endif
