/* sft.h: supervised fine-tuning on demonstrations; the pieces of the
 * 'sft' command (stages.h) that tests check on their own. */
#ifndef GR_STAGES_SFT_H
#define GR_STAGES_SFT_H

#include <stddef.h>
#include <stdint.h>

#include "text/labels.h"

/* One row of a batch from a conversation toks (n) and its assistant mask
 * (chat_encode): in[t] = toks[t]; tg[t] = toks[t+1] where mask[t+1] is
 * set (the assistant's tokens and their closing <|end|>: the loss falls
 * there only), else -1.  Positions past the conversation are padding
 * (in <|endoftext|>, tg -1); a conversation of more than T + 1 tokens is
 * cut.  in, tg: (T).  Returns the number of targets. */
int sft_fill_row(const int32_t *toks, const uint8_t *mask, size_t n, int T,
                 int32_t *in, int32_t *tg);

/* Mark the held-out demonstrations in is_val (n): round(n * fraction) of
 * them, at least one when fraction > 0 and n >= 2, never all; chosen by
 * a seeded hash of their texts, so the choice depends on the seed and the
 * demonstrations, not on their order.  Returns how many. */
size_t sft_split(const struct demo_set *s, double fraction, uint64_t seed,
                 uint8_t *is_val);

/* Rows of a batch of B drawn from the pretraining corpus at 0-based step
 * for a share mix: floor((step+1) mix B) - floor(step mix B), so that the
 * share over any run is mix, without state to save. */
int sft_mix_rows(long long step, double mix, int B);

#endif
