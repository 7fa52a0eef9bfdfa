/* linear.h: fully connected layers over gr_sgemm.  N = B*T rows. */
#ifndef GR_KERNELS_LINEAR_H
#define GR_KERNELS_LINEAR_H

#include "kernels/bf16.h"

/* out (N,OC) = inp (N,C) . w^T (OC,C) + b (OC, may be NULL). */
void linear_forward(float *out, const float *inp, const float *w,
                    const float *b, int N, int C, int OC);

/* out (N,OC) = res (N,OC) + inp (N,C) . w^T + b: a residual branch.
 * out may be res (in place); b may be NULL. */
void linear_forward_add(float *out, const float *res, const float *inp,
                        const float *w, const float *b, int N, int C, int OC);

/* out (N,OC) = [res (N,OC) +] inp (N,C) . w^T + b for few rows, as in
 * generation (res and b may be NULL; out may be res).  One row is a
 * matrix-vector product and up to 16 rows use dot-product kernels, each
 * weight read once where sgemm would first copy them all: generation is
 * bound by reading the weights.  Rounding differs from linear_forward's. */
void linear_forward_rows(float *out, const float *res, const float *inp,
                         const float *w, const float *b, int N, int C,
                         int OC);

/* linear_forward_rows with the weights w16 (OC,C) in bf16, widened to
 * float as they load (half the memory to read); inputs and sums stay
 * float.  Only where linear_rows_bf16_available() (AVX-512). */
void linear_forward_rows_bf16(float *out, const float *res, const float *inp,
                              const uint16_t *w16, const float *b, int N,
                              int C, int OC);
int linear_rows_bf16_available(void);

/* linear_forward_rows on AMX tiles, the weights wp packed by amx_pack
 * (kernels/amx.h), inp rounded to bf16 in a16 (amx_rows_len(N, C));
 * sums float.  Any N; only where amx_available(). */
void linear_forward_rows_amx(float *out, const float *res, const float *inp,
                             uint16_t *a16, const uint16_t *wp,
                             const float *b, int N, int C, int OC);

/* Backward of linear_forward given dout (N,OC).  dw (OC,C) and db (OC)
 * accumulate (+=); dinp (N,C) accumulates when dinp_acc, else it is
 * overwritten.  Any of dinp, dw, db may be NULL (not wanted). */
void linear_backward(float *dinp, float *dw, float *db, const float *dout,
                     const float *inp, const float *w, int N, int C, int OC,
                     int dinp_acc);

/* bf16 products (kernels/bf16.h; only when bf16_available()).
 * out (N,OC) = [res (N,OC) +] inp . w^T + b, with inp16 (N,C) the bf16
 * copy of inp (N,C): filled here from inp, or, when inp is NULL, given.
 * w16 (OC,C) is bf16; res and b may be NULL; out may be res. */
void linear_forward_bf16(float *out, const float *res, const float *inp,
                         gr_bf16 *inp16, const gr_bf16 *w16, const float *b,
                         int N, int C, int OC);

/* Backward of linear_forward_bf16: as linear_backward, with the products
 * in bf16.  dout16 (N,OC) is scratch (it receives dout in bf16), or,
 * with dout NULL (and db NULL), holds dout in bf16 already; inp16 and w16
 * as in the forward.  dinp (N,C) is overwritten. */
void linear_backward_bf16(float *dinp, float *dw, float *db,
                          const float *dout, gr_bf16 *dout16,
                          const gr_bf16 *inp16, const gr_bf16 *w16,
                          int N, int C, int OC);

/* db (OC) += column sums of dout (N,OC). */
void bias_backward(float *db, const float *dout, int N, int OC);

#endif
