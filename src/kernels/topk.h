/* topk.h: the scans over a whole row of probabilities that sampling makes
 * for every token (top-k, top-p): vectorised here, so that drawing a
 * token from 8192 or 50257 of them costs little beside the forward pass.
 * Both give exactly what the plain loops would (comparisons only). */
#ifndef GR_KERNELS_TOPK_H
#define GR_KERNELS_TOPK_H

#include <stdint.h>

/* The k largest of x (n) into top[0..k), largest first (equal values
 * repeat); 1 <= k <= n.  top has room for n: when k is a large share of
 * n, the whole row is sorted there. */
void top_values(const float *x, int n, int k, float *top);

/* The indices i of x (n) with x[i] >= t, in increasing order, into idx
 * (room for n); returns how many. */
int indices_at_least(const float *x, int n, float t, int32_t *idx);

#endif
