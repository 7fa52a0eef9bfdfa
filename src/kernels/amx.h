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

#endif
