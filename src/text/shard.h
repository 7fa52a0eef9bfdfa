/* shard.h: token shards, the tokenized corpus the trainer reads.
 *
 * One file per split (corpus/train.tok, corpus/val.tok), little-endian:
 *
 *   offset  size
 *        0     8  magic "GRSHARD\0"
 *        8     4  version (1)
 *       12     4  vocab_size: every token is below it (at most 65536)
 *       16     8  tok_hash: hash of the tokenizer that wrote the tokens
 *       24     8  ntokens
 *       32     8  nbytes: text bytes these tokens encode (bits per byte)
 *       40     8  ndocs: documents encoded
 *       48    16  zero
 *       64  2*nt  tokens, uint16
 *    64+2nt    8  checksum
 *
 * The checksum is gr_hash64 of the 64-byte header, seeded with a chain
 * of gr_hash64 over the token bytes in blocks of SHARD_BLOCK bytes
 * (seed 0 for the first block, the previous block's hash after), so a
 * writer can stream tokens without knowing their count in advance. */
#ifndef GR_SHARD_H
#define GR_SHARD_H

#include <stddef.h>
#include <stdint.h>

#include "base/error.h"
#include "base/fsio.h"

#define SHARD_VERSION 1
#define SHARD_HEADER 64
#define SHARD_BLOCK (1u << 20)          /* bytes of tokens per checksum block */
#define SHARD_MAX_VOCAB 65536

/* Write ntok tokens (all below vocab_size) to path atomically. */
enum gr_status shard_write(const char *path, const uint16_t *tok, size_t ntok,
                           uint64_t nbytes, uint64_t ndocs, int vocab_size,
                           uint64_t tok_hash, struct gr_error *err);

/* Streaming writer: open, append any number of times, then commit (the
 * file appears whole) or abort (nothing appears).  After a failed append
 * only abort is allowed. */
struct shard_writer {
    struct fs_atomic file;
    uint16_t *buf;          /* SHARD_BLOCK / 2 tokens not yet written */
    size_t nbuf;
    uint64_t ntok;
    uint64_t chain;         /* checksum chain over the blocks written */
    uint64_t tok_hash;
    int vocab_size;
    int open;
};
enum gr_status shard_writer_open(struct shard_writer *w, const char *path,
                                 int vocab_size, uint64_t tok_hash,
                                 struct gr_error *err);
enum gr_status shard_writer_append(struct shard_writer *w, const uint16_t *tok,
                                   size_t n, struct gr_error *err);
/* nbytes, ndocs: totals for the whole shard.  Frees the writer either way. */
enum gr_status shard_writer_commit(struct shard_writer *w, uint64_t nbytes,
                                   uint64_t ndocs, struct gr_error *err);
/* Drop the temporary file; safe after commit or a failed open. */
void shard_writer_abort(struct shard_writer *w);

/* A shard mapped read-only. */
struct shard {
    const uint16_t *tok;    /* (ntok) */
    size_t ntok;
    uint64_t nbytes, ndocs, tok_hash;
    int vocab_size;
    struct fs_map map;
};

/* Map and validate path: magic, version, vocab size, the length the
 * header implies, and the checksum.  GR_ECORRUPT naming the path when
 * any is wrong; GR_EINPUT when it cannot be opened. */
enum gr_status shard_open(struct shard *s, const char *path,
                          struct gr_error *err);
void shard_close(struct shard *s);

#endif
