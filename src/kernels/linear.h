/* linear.h: fully connected layers over gr_sgemm.  N = B*T rows. */
#ifndef GR_KERNELS_LINEAR_H
#define GR_KERNELS_LINEAR_H

/* out (N,OC) = inp (N,C) . w^T (OC,C) + b (OC, may be NULL). */
void linear_forward(float *out, const float *inp, const float *w,
                    const float *b, int N, int C, int OC);

/* out (N,OC) = res (N,OC) + inp (N,C) . w^T + b: a residual branch.
 * out may be res (in place); b may be NULL. */
void linear_forward_add(float *out, const float *res, const float *inp,
                        const float *w, const float *b, int N, int C, int OC);

/* Backward of linear_forward given dout (N,OC).  dw (OC,C) and db (OC)
 * accumulate (+=); dinp (N,C) accumulates when dinp_acc, else it is
 * overwritten.  Any of dinp, dw, db may be NULL (not wanted). */
void linear_backward(float *dinp, float *dw, float *db, const float *dout,
                     const float *inp, const float *w, int N, int C, int OC,
                     int dinp_acc);

/* db (OC) += column sums of dout (N,OC). */
void bias_backward(float *db, const float *dout, int N, int OC);

#endif
