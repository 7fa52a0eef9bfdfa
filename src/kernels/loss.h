/* loss.h: softmax fused with cross-entropy.  N = B*T rows of V logits. */
#ifndef GR_KERNELS_LOSS_H
#define GR_KERNELS_LOSS_H

#include <stdint.h>

/* For each row n: lse[n] = log(sum(exp(logits[n]))), and
 * losses[n] = lse[n] - logits[n][targets[n]], or 0 where targets[n] < 0
 * (ignored).  targets may be NULL (all ignored; lse still computed). */
void crossentropy_forward(float *losses, float *lse, const float *logits,
                          const int32_t *targets, int N, int V);

/* dlogits (N,V) = dlosses[n] * (softmax(logits[n]) - onehot(targets[n]))
 * for each row n, and 0 on ignored rows: the gradient of
 * sum(dlosses * losses).  Overwrites dlogits, which may be logits. */
void crossentropy_backward(float *dlogits, const float *logits,
                           const float *lse, const int32_t *targets,
                           const float *dlosses, int N, int V);

/* The same gradient rounded to bf16 into d16 (N,V), for a bf16 product
 * to read straight away: no fp32 copy written and read back.  logits
 * are left as they are. */
void crossentropy_backward_bf16(uint16_t *d16, const float *logits,
                                const float *lse, const int32_t *targets,
                                const float *dlosses, int N, int V);

/* In place: each row (N,V) becomes softmax(row / temperature). */
void softmax_rows(float *x, int N, int V, float temperature);

#endif
