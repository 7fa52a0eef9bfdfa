/* amx.h: products of a few rows against a weight matrix on Intel AMX
 * tiles, for generating many sequences at once with bf16 weights.
 *
 * Generating NB sequences multiplies NB rows by every weight matrix each
 * token: too few rows for sgemm (it packs all the weights for them), and
 * too many for AVX-512 dot products to stay bound by reading the weights.
 * AMX multiplies 16 rows by 16 columns over 32 of the inner dimension in
 * one instruction, so the products cost about what reading the bf16
 * weights costs.  The weights are packed once (amx_pack) into the tiles'
 * layout; the rows are rounded to bf16 on the way in (about 2e-3 relative
 * error per product, as precision=bf16 training); sums and results stay
 * float32.
 *
 * Only where amx_available(); nothing else here may be called otherwise. */
#ifndef GR_KERNELS_AMX_H
#define GR_KERNELS_AMX_H

#include <stddef.h>

#include "kernels/bf16.h"

/* 1 if this CPU has AMX-TILE and AMX-BF16, garage was built for x86-64
 * Linux, and the kernel granted the tile state to this process; else 0,
 * and why in *why (static text) when why != NULL. */
int amx_available(const char **why);

/* Elements (bf16) of the packed form of a (OC, C) weight matrix. */
size_t amx_packed_len(int C, int OC);

/* wp (amx_packed_len(C, OC)) = w (OC, C, row-major, as linear layers keep
 * their weights), rounded to bf16 and laid out in tiles; threaded. */
void amx_pack(gr_bf16 *wp, const float *w, int C, int OC);

/* Elements (bf16) of the scratch for N rows of C inputs. */
size_t amx_rows_len(int N, int C);

/* out (N,OC) += inp (N,C) . w^T, with wp = amx_pack(w) and a16 scratch
 * of amx_rows_len(N, C) for the rows in bf16; any N >= 1, the columns
 * split across kernels_threads() threads. */
void amx_linear_add(float *out, const float *inp, gr_bf16 *a16,
                    const gr_bf16 *wp, int N, int C, int OC);

/* ---- small products on one thread, for attention in bf16 ----------------
 *
 * c (M,N) = a (M,K) . b (K,N) with a in bf16 rows and b packed into the
 * tiles' layout (as amx_pack lays out weights: column blocks of 16, each
 * a run of K/32 tiles; amx_packed_len(K, N) elements), on the calling
 * thread's tiles, between
 * amx_small_begin and amx_small_end.  M, N and K are multiples of 32.
 * Operands are rounded to bf16 on the way in (ties to even); sums and
 * results are float32. */

/* bp = b packed, b (K,N) given by rows: b[k][n] = src[k * ld + n]. */
void amx_small_pack_b(gr_bf16 *bp, const float *src, int ld, int K, int N);

/* bp = b packed, b (K,N) given by its transpose: b[k][n] = src[n * ld + k]. */
void amx_small_pack_bt(gr_bf16 *bp, const float *src, int ld, int K, int N);

/* a (M,K; row stride lda) = scale * src (M,K; row stride lds) in bf16. */
void amx_small_rows(gr_bf16 *a, int lda, const float *src, int lds, int M,
                    int K, float scale);

/* a (M,K; row stride lda) = src^T in bf16: a[i][k] = src[k * lds + i]. */
void amx_small_rows_t(gr_bf16 *a, int lda, const float *src, int lds, int M,
                      int K);

/* dst (Cn,R; row stride ldd) = src (R,Cn; row stride lds)^T, float32;
 * R and Cn multiples of 16 (AVX-512, as the rest here). */
void amx_small_transpose(float *dst, int ldd, const float *src, int lds, int R,
                         int Cn);

/* Set up, and give back, this thread's tiles for amx_small_product. */
void amx_small_begin(void);
void amx_small_end(void);

/* c (M,N; row stride ldc) = a (M, 32 kt; row stride lda) . the first 32 kt
 * inner rows of bp, packed for KB tiles of inner dimension (KB >= kt). */
void amx_small_product(float *c, int ldc, const gr_bf16 *a, int lda,
                       const gr_bf16 *bp, int KB, int kt, int M, int N);

#endif
