/* reward.h: the reward model: a GPT trunk and a scalar head read at the
 * answer's final <|end|>:
 *
 *   raw(seq) = w . h[len-1] + b          h: final LayerNorm output (C)
 *   score(seq) = raw(seq) - offset
 *
 * The sequence is chat_encode_pair(prompt, answer): <|user|> prompt
 * <|end|> <|assistant|> answer <|end|>, so its last token is the answer's
 * closing <|end|>.  offset is the mean raw score of the reference
 * model's answers (those that were ranked), so they score 0 on average.
 *
 * Stored as an ordinary checkpoint of kind "reward" (model/checkpoint.h):
 * the trunk's parameters, the head as the C+1 extra floats (w, then b),
 * and in the header's extra object {"offset": number, "attention":
 * "causal"|"bidirectional", ...}.  Higher scores are better. */
#ifndef GR_MODEL_REWARD_H
#define GR_MODEL_REWARD_H

#include <stdint.h>

#include "base/error.h"
#include "model/checkpoint.h"
#include "model/gpt.h"
#include "text/bpe.h"

struct reward_model {
    struct gpt gpt;             /* the trunk; its LM head is not used */
    float *head;                /* (C+1): w, then b */
    float offset;               /* subtracted from raw scores */
    int causal;                 /* 0: the trunk sees both ways (masked LM) */
    struct ckpt_meta meta;
    int32_t *inputs;            /* (B,T) scratch for packed sequences */
    int *lens;                  /* (B) */
    size_t cap;                 /* ints in inputs */
};

/* Load a reward checkpoint (kind "reward", C+1 extra floats) made with
 * tokenizer t.  Release with reward_release. */
enum gr_status reward_load(const char *path, const struct bpe *t,
                           struct reward_model *rm, struct gr_error *err);

/* Free everything rm holds; safe on a zeroed or released struct. */
void reward_release(struct reward_model *rm);

/* Scores (n) of n token sequences seqs[i] (lens[i] tokens, each ending
 * with the answer's final <|end|>), normalised (raw - offset).  A
 * sequence longer than the context keeps its last T tokens.  Uses and
 * may grow rm->gpt's activations; not thread-safe on one rm. */
enum gr_status reward_score_batch(struct reward_model *rm,
                                  const int32_t *const *seqs, const int *lens,
                                  int n, float *scores, struct gr_error *err);

/* The same for texts: prompt and n answers through the chat template. */
enum gr_status reward_score_texts(struct reward_model *rm, const struct bpe *t,
                                  const char *prompt,
                                  const char *const *answers, int n,
                                  float *scores, struct gr_error *err);

/* ---- for training (stages/reward.c) -------------------------------- */

/* Copy n sequences into inputs (n,T) padded with <|endoftext|>, where T
 * is the longest length capped at T_max, then, when pad is not NULL, as
 * gpt_padded_len(pad, T) says (at most T_max; a causal trunk's batches:
 * a bidirectional one would see the padding); lens_out (n) gets each
 * kept length (the last T_max tokens of a longer one).  Returns T. */
int reward_pack(const int32_t *const *seqs, const int *lens, int n, int T_max,
                const struct gpt *pad, int32_t *inputs, int *lens_out);

/* raw (B) = w . hidden[b, lens[b]-1] + b for hidden (B,T,C). */
void reward_head_forward(const float *hidden, const float *head,
                         const int *lens, int B, int T, int C, float *raw);

/* From draw (B), the gradient of the loss by each raw score: dhidden
 * (B,T,C) is overwritten (zero except at each final position), and the
 * head's gradient ACCUMULATES into dhead (C+1). */
void reward_head_backward(const float *hidden, const float *head,
                          const int *lens, const float *draw, int B, int T,
                          int C, float *dhidden, float *dhead);

#endif
