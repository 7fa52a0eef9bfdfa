/* checkpoint.h: model checkpoints.
 *
 * Layout: magic "GRCKPT\r\n", u32 format version, u32 length of a JSON
 * header (kind, config, step, tokenizer hash, RNG state, data position,
 * stage extras), the header, zero padding to 64 bytes, then float32
 * sections: parameters, AdamW m and v (when saved), extra floats (heads
 * of later stages), and last a u64 checksum chained over every section.
 * Written to a temporary file, synced and renamed: a crash never leaves
 * a torn checkpoint. */
#ifndef GR_CHECKPOINT_H
#define GR_CHECKPOINT_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "base/error.h"
#include "base/rng.h"
#include "model/gpt.h"

#define CKPT_VERSION 1

struct ckpt_meta {
    char kind[16];              /* "base", "sft", "reward", "tuned" */
    struct gpt_config cfg;
    uint64_t step;
    uint64_t tok_hash;          /* the tokenizer's vocabulary hash */
    struct gr_rng rng;          /* training RNG (batches, masking) */
    uint64_t data_pos;          /* position in the data stream */
    int has_opt;                /* AdamW moments present */
    size_t nextra;              /* extra floats */
    json_t *extra;              /* stage-specific values (owned), or NULL */
};

void ckpt_meta_init(struct ckpt_meta *meta);
void ckpt_meta_release(struct ckpt_meta *meta);

/* The pretraining objective a checkpoint records (extra "objective":
 * "next" or "masked"), or NULL when it records none (older checkpoints,
 * kinds that do not say). */
const char *ckpt_objective(const struct ckpt_meta *meta);

/* Write m's parameters (and moments when meta->has_opt) plus nextra
 * floats from extra to path, atomically. */
enum gr_status ckpt_save(const char *path, const struct gpt *m,
                         const struct ckpt_meta *meta, const float *extra,
                         struct gr_error *err);

/* Read and check only the header (and the file's size); for 'info'. */
enum gr_status ckpt_read_meta(const char *path, struct ckpt_meta *meta,
                              struct gr_error *err);

/* Load path into m (created here; release with gpt_release), checking
 * sizes, version and checksum.  want_opt: load AdamW moments (an error
 * if absent).  *extra (may be NULL): a new array of meta->nextra floats,
 * caller frees. */
enum gr_status ckpt_load(const char *path, struct gpt *m,
                         struct ckpt_meta *meta, int want_opt, float **extra,
                         struct gr_error *err);

#endif
