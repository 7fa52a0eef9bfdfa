/* chat.h: the chat template, one definition for SFT, ranking, reward,
 * tuning, chat and export:
 *
 *   <|user|> text <|end|> <|assistant|> text <|end|> <|user|> ...
 *
 * Special tokens are inserted by id; the texts are encoded with BPE, so
 * a user can never type a special token. */
#ifndef GR_CHAT_H
#define GR_CHAT_H

#include <stddef.h>
#include <stdint.h>

#include "text/bpe.h"

enum chat_role { CHAT_USER, CHAT_ASSISTANT };

struct chat_turn {
    enum chat_role role;
    const char *text;
    size_t len;             /* bytes of text; (size_t)-1: strlen(text) */
};

/* "user" / "assistant", and back (-1 for anything else). */
const char *chat_role_name(enum chat_role r);
int chat_role_parse(const char *name);

/* Append the tokens of n turns to (*toks, *ntok, *cap) (caller frees).
 * When mask is not NULL it grows alongside: 1 for the tokens an
 * assistant produced (its text and its closing <|end|>), 0 otherwise,
 * which is what SFT trains on.  open_assistant: end with <|assistant|>,
 * ready for the model to answer. */
enum gr_status chat_encode(const struct bpe *t, const struct chat_turn *turns,
                           size_t n, int open_assistant, int32_t **toks,
                           uint8_t **mask, size_t *ntok, size_t *cap,
                           struct gr_error *err);

/* One prompt and, when answer is not NULL, its answer:
 * <|user|> prompt <|end|> <|assistant|> [answer <|end|>].
 * *prompt_len (may be NULL) receives the number of tokens before the
 * answer, so the answer's final <|end|> sits at index *ntok - 1. */
enum gr_status chat_encode_pair(const struct bpe *t, const char *prompt,
                                const char *answer, int32_t **toks,
                                size_t *ntok, size_t *cap, size_t *prompt_len,
                                struct gr_error *err);

/* A model's output as text (caller frees): s (n bytes) made valid UTF-8
 * (a byte that starts no valid sequence becomes U+FFFD: an answer can
 * stop inside a character), without control characters other than
 * newline and tab, trimmed of surrounding space. */
char *chat_clean_text(const char *s, size_t n);

#endif
