/* train.h: what the training loops share (pretrain, sft): AdamW
 * hyper-parameters read from the registry's common option names, the
 * optimizer step with its NaN check, clipping and schedule, the metrics
 * record of a step, checkpoints, the token shards, and the batches of
 * the pretraining stream. */
#ifndef GR_STAGES_TRAIN_H
#define GR_STAGES_TRAIN_H

#include <stddef.h>
#include <stdint.h>

#include "app/command.h"
#include "app/workspace.h"
#include "base/metrics.h"
#include "base/rng.h"
#include "model/checkpoint.h"
#include "model/gpt.h"
#include "text/bpe.h"
#include "text/shard.h"

struct train_hparams {
    long long steps;            /* in total, resumed runs included */
    long long warmup;           /* steps of linear warm-up */
    double lr, min_lr;          /* peak, and the end of the cosine decay */
    double wd, beta1, beta2;    /* AdamW */
    double clip;                /* global gradient norm limit; 0: off */
};

/* Read the options steps, lr, min_lr (default lr/10), warmup,
 * weight_decay, beta1, beta2 and grad_clip of a command that has them. */
void train_read_hparams(struct train_hparams *h, const struct gr_args *a);

/* Learning rate at 0-based step: linear warm-up to lr over warmup steps,
 * then cosine decay to min_lr at steps. */
double train_lr(long long step, long long steps, long long warmup, double lr,
                double min_lr);

/* The optimizer step numbered step + 1, after the backward pass(es) that
 * gave loss: checks that loss and the gradient norm are finite (else
 * GR_ENUMERIC naming the step and last_ckpt, the last good checkpoint,
 * and nothing changes), clips, and takes the AdamW step at the scheduled
 * rate.  *lr and *gnorm (the norm before clipping) are for the record. */
enum gr_status train_update(struct gpt *m, const struct train_hparams *h,
                            long long step, double loss, const char *last_ckpt,
                            double *lr, double *gnorm, struct gr_error *err);

/* Speed and time-left bookkeeping of one run. */
struct train_clock {
    double t0;                  /* run start (stage_now) */
    double ema_dt;              /* smoothed seconds per step */
    long long first;            /* step the run started at */
};

void train_clock_start(struct train_clock *c, long long first_step);

/* Emit the record of a finished step (step counts from 1), of kind
 * "train" or "sft": step, steps, loss, lr, grad_norm, tok_s, flops,
 * elapsed, eta.  step_start: stage_now() when the step began; tokens:
 * the tokens it processed. */
void train_report(struct gr_metrics *mx, const char *kind, struct train_clock *c,
                  long long step, long long steps, double loss, double lr,
                  double gnorm, double tokens, double flops_per_tok,
                  double step_start);

/* Training FLOPs per token of m at context T (6N + attention). */
double train_flops_per_token(const struct gpt *m, int T);

/* Save m as checkpoints/<kind>-<step>.ckpt with its optimizer state and
 * the training rng; on success *last (freed) becomes the new path. */
enum gr_status train_save(const struct workspace *ws, const char *kind,
                          const struct gpt *m, struct ckpt_meta *meta,
                          const struct gr_rng *rng, long long step,
                          char **last, struct gr_error *err);

/* Open corpus/<split>.tok ("train" or "val") and check it was encoded
 * with t; GR_ESTATE with advice otherwise. */
enum gr_status train_open_shard(const struct workspace *ws, const struct bpe *t,
                                const char *split, struct shard *s,
                                struct gr_error *err);

/* Fill (B,T) inputs/targets with windows of s (pretrain.c).  Causal:
 * targets are the next tokens.  Masked: 15% of positions are chosen (at
 * least one per row); of those 80% become <|mask|>, 10% a random token,
 * 10% stay; targets elsewhere are -1.  fixed_offsets (B) or NULL: random
 * windows from rng.  s holds at least T + 2 tokens. */
void pretrain_fill_batch(const struct shard *s, struct gr_rng *rng, int masked,
                         int V, int B, int T, int32_t *inputs, int32_t *targets,
                         const size_t *fixed_offsets);

#endif
