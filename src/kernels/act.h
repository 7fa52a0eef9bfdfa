/* act.h: elementwise layers and the embedding.  n = number of floats. */
#ifndef GR_KERNELS_ACT_H
#define GR_KERNELS_ACT_H

#include <stddef.h>
#include <stdint.h>

/* tanh(x) by a rational approximation (|error| < 1e-6) that vectorises. */
float fast_tanhf(float x);

/* out (n) = 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))), x = inp (n). */
void gelu_forward(float *out, const float *inp, size_t n);

/* dinp (n) = dout (n) * gelu'(inp) (overwritten; may be dout). */
void gelu_backward(float *dinp, const float *inp, const float *dout,
                   size_t n);

/* out (n) = a (n) + b (n). */
void residual_forward(float *out, const float *a, const float *b, size_t n);

/* da (n) += dout, db (n) += dout. */
void residual_backward(float *da, float *db, const float *dout, size_t n);

/* out (B,T,C) = wte (V,C)[inp (B,T)] + wpe (T',C)[t]; T <= T'. */
void encoder_forward(float *out, const int32_t *inp, const float *wte,
                     const float *wpe, int B, int T, int C);

/* dwte (V,C) and dwpe (T',C) += the rows of dout (B,T,C) they produced.
 * dwpe may be NULL. */
void encoder_backward(float *dwte, float *dwpe, const float *dout,
                      const int32_t *inp, int B, int T, int C);

#endif
