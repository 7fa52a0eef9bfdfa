/* attention.h: multi-head self-attention, every product through sgemm
 * per (batch, head); with bf16 = 1, where the CPU has AMX and the shapes
 * allow (head size a multiple of 32, T of ATT_BLOCK), through bf16
 * products on AMX tiles instead (kernels/amx.h), as precision=bf16 does
 * for the linear layers: q, k, v, the probabilities and the gradients
 * rounded to bf16 on the way into each product, sums and softmax float32.
 *
 * qkv (B,T,3C) holds, for each position, q (NH,hs) | k (NH,hs) | v (NH,hs)
 * with hs = C/NH.  causal = 1 lets position t see 0..t; 0 lets every
 * position see all T (for masked language modelling).
 * att (B,NH,T,T) keeps the softmax probabilities for the backward.  In
 * causal mode rows are computed in blocks of ATT_BLOCK, so a row's entries
 * beyond its block are never written (nor read): read att[t][0..t] only. */
#ifndef GR_KERNELS_ATTENTION_H
#define GR_KERNELS_ATTENTION_H

#define ATT_BLOCK 64

/* out (B,T,C) = softmax(q k^T / sqrt(hs) [+ causal mask]) v, per head. */
void attention_forward(float *out, float *att, const float *qkv,
                       int B, int T, int C, int NH, int causal, int bf16);

/* dqkv (B,T,3C) (overwritten) from dout (B,T,C); datt (B,NH,T,T) is
 * scratch.  qkv and att as left by attention_forward. */
void attention_backward(float *dqkv, float *datt, const float *dout,
                        const float *qkv, const float *att,
                        int B, int T, int C, int NH, int causal, int bf16);

/* 1 if attention with bf16 = 1 runs on AMX for these shapes. */
int attention_bf16_runs(int T, int C, int NH);

/* Generation with a cache of keys and values, kc and vc (NB,NH,Tc,hs) for
 * NB sequences of up to Tc positions.  qkv (NB,n,3C) holds n new
 * positions pos..pos+n-1 of each sequence: their k and v are appended to
 * the cache, then out (NB,n,C) is each new position's causal attention
 * over positions 0..itself.  scores (NB,NH,Tc) is scratch. */
void attention_forward_cached(float *out, float *kc, float *vc, float *scores,
                              const float *qkv, int NB, int n, int pos,
                              int Tc, int C, int NH);

#endif
