/* bpe.h: a byte-level BPE tokenizer (GPT-2 style).
 *
 * Ids 0..255 are the raw bytes, 256..260 the special tokens below, and
 * 261.. the merges in the order they were learned; vocab_size counts all
 * of them (262..65536, so every id fits a uint16).  Text is split into
 * pre-tokens by GPT-2's pattern
 *     's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
 * over UTF-8 (\s is Unicode White_Space; each invalid UTF-8 byte counts as
 * one character that is neither letter, number nor space), and merges
 * never cross a pre-token.  Plain text never encodes to a special token. */
#ifndef GR_BPE_H
#define GR_BPE_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "base/error.h"
#include "base/metrics.h"

enum {
    BPE_ENDOFTEXT = 256,    /* <|endoftext|> */
    BPE_USER,               /* <|user|> */
    BPE_ASSISTANT,          /* <|assistant|> */
    BPE_END,                /* <|end|> */
    BPE_MASK,               /* <|mask|> */
    BPE_FIRST_MERGE,        /* 261: the first learned merge */
};

#define BPE_VOCAB_MIN (BPE_FIRST_MERGE + 1)
#define BPE_VOCAB_MAX 65536

struct bpe {
    int vocab_size;         /* V; 0 until trained or loaded */
    int nmerges;            /* V - BPE_FIRST_MERGE */
    uint32_t *merges;       /* (nmerges, 2): merge i makes id 261+i of (left, right) */
    uint64_t hash;          /* checksum of the vocabulary, for checkpoints */
    /* derived on train/load */
    uint64_t *tok_off;      /* (V+1): token id's bytes are tok_bytes[off[id]..off[id+1]) */
    unsigned char *tok_bytes;
    uint32_t *rank_keys;    /* open-addressing map (left<<16|right) -> merge rank */
    int32_t *rank_vals;
    size_t rank_mask;       /* map capacity - 1 */
};

/* An empty tokenizer (vocab_size 0) that bpe_release accepts. */
void bpe_init(struct bpe *t);
/* Free everything t holds; t is empty again afterwards. */
void bpe_release(struct bpe *t);

/* Learn vocab_size - 261 merges from ndocs documents text[offs[i]..offs[i+1])
 * (offs has ndocs+1 entries); ties go to the lowest (left, right) ids.
 * Reports progress to m (may be NULL).  On success t's previous contents
 * are replaced; on failure t is unchanged (GR_EINPUT: bad vocab_size, or
 * the corpus has too few repeated pairs). */
enum gr_status bpe_train(struct bpe *t, const unsigned char *text,
                         const uint64_t *offs, size_t ndocs, int vocab_size,
                         struct gr_metrics *m, struct gr_error *err);
/* The same, returning GR_ESTOPPED (t unchanged) soon after *stop becomes
 * nonzero (stop may be NULL). */
enum gr_status bpe_train_until(struct bpe *t, const unsigned char *text,
                               const uint64_t *offs, size_t ndocs,
                               int vocab_size, struct gr_metrics *m,
                               const atomic_int *stop, struct gr_error *err);

/* Append the tokens of the n bytes at text to the growable array
 * (*toks, *ntoks, *cap) (realloc'd; caller frees with free()).  Never
 * produces special tokens.  Thread-safe on a shared const t. */
enum gr_status bpe_encode(const struct bpe *t, const void *text, size_t n,
                          int32_t **toks, size_t *ntoks, size_t *cap,
                          struct gr_error *err);

/* Point *bytes at token id's bytes (specials give their text, "<|end|>")
 * and return their count; ids outside [0, vocab_size) give 0 bytes. */
size_t bpe_token_bytes(const struct bpe *t, int id,
                       const unsigned char **bytes);

/* The bytes of n tokens as a new NUL-terminated buffer (caller frees);
 * *len (may be NULL) gets the length without the NUL. */
char *bpe_decode(const struct bpe *t, const int32_t *toks, size_t n,
                 size_t *len);

/* "<|endoftext|>", "<|user|>", "<|assistant|>", "<|end|>", "<|mask|>"
 * for the special ids, NULL for any other id. */
const char *bpe_special_name(int id);

/* Write t to path atomically (format: bpe.c, top). */
enum gr_status bpe_save(const struct bpe *t, const char *path,
                        struct gr_error *err);
/* Read a tokenizer saved by bpe_save into t (replacing its contents on
 * success, unchanged on failure).  Damaged, truncated or other-version
 * files fail with GR_ECORRUPT and a message naming path. */
enum gr_status bpe_load(struct bpe *t, const char *path, struct gr_error *err);

/* Pre-tokenizer, exposed for tests and tools: the end of the pre-token
 * that starts at s[i] (i < n), always > i. */
size_t bpe_pretoken_end(const unsigned char *s, size_t n, size_t i);
/* Split s (n bytes) into pre-tokens, storing up to max end offsets in
 * ends; returns the number of pre-tokens (which may exceed max). */
size_t bpe_pretokenize(const unsigned char *s, size_t n, size_t *ends,
                       size_t max);

#endif
