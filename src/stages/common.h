/* common.h: what several stages share: the tokenizer, checkpoints of the
 * workspace, token byte lengths for bits per byte. */
#ifndef GR_STAGES_COMMON_H
#define GR_STAGES_COMMON_H

#include "app/workspace.h"
#include "model/checkpoint.h"
#include "model/gpt.h"
#include "text/bpe.h"

/* Load the workspace's tokenizer; GR_ESTATE with advice when missing. */
enum gr_status stage_load_tokenizer(const struct workspace *ws, struct bpe *t,
                                    struct gr_error *err);

/* Path of the checkpoint to use: path when given, else the newest of
 * kinds ("tuned,sft,base": the first kind that has one).  Caller frees.
 * GR_ESTATE with advice when there is none. */
enum gr_status stage_pick_checkpoint(const struct workspace *ws,
                                     const char *path, const char *kinds,
                                     char **out, struct gr_error *err);

/* GR_EINPUT "PATH: no such checkpoint" followed by extra; but when PATH
 * is relative and names a file inside the workspace folder dir (garage -C
 * DIR), the message gives that path instead of extra: file paths are
 * read from the current folder, as everywhere in garage. */
enum gr_status stage_no_checkpoint(const char *dir, const char *path,
                                   const char *extra, struct gr_error *err);

/* Load a checkpoint and check it was made with tokenizer t. */
enum gr_status stage_load_checkpoint(const char *path, const struct bpe *t,
                                     struct gpt *m, struct ckpt_meta *meta,
                                     int want_opt, struct gr_error *err);

/* checkpoints/<kind>-<step>.ckpt; caller frees. */
char *stage_checkpoint_path(const struct workspace *ws, const char *kind,
                            uint64_t step);

/* Remove checkpoints/<kind>-*.ckpt; returns how many. */
int stage_remove_checkpoints(const struct workspace *ws, const char *kind);

/* Bytes each token stands for, for bits per byte (special tokens: 0);
 * a new (V) array, caller frees. */
float *stage_token_bytes(const struct bpe *t);

/* The weights generation reads, from the 'precision' option of sample
 * and chat: "fp32", "bf16", or "auto" (NULL too): bf16 where this CPU
 * has the kernels (kvcache_set_precision), else fp32. */
enum gpt_precision stage_gen_precision(const char *choice);

/* The precision of training's matrix products for precision=auto|fp32|bf16:
 * auto is bf16 where the CPU has AMX and bf16 products are available
 * (garage built with oneDNN; kernels/bf16.h), else fp32. */
enum gpt_precision stage_train_precision(const char *choice);

/* How training's products run in precision p, for the opening line of a
 * run: "bf16 (oneDNN)", or fp32 through the sgemm in use. */
const char *stage_products_name(enum gpt_precision p);

/* Wall-clock seconds (monotonic). */
double stage_now(void);

#endif
