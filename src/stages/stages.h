/* stages.h: the run functions behind the registry's commands.
 * Each one reads its options from a, works in ctx->ws, reports through
 * ctx->metrics and ctx_printf, and returns a status. */
#ifndef GR_STAGES_H
#define GR_STAGES_H

#include "app/command.h"

enum gr_status stage_corpus(struct gr_ctx *ctx, const struct gr_args *a, struct gr_error *err);
enum gr_status stage_tokenizer(struct gr_ctx *ctx, const struct gr_args *a, struct gr_error *err);
enum gr_status stage_model(struct gr_ctx *ctx, const struct gr_args *a, struct gr_error *err);
enum gr_status stage_pretrain(struct gr_ctx *ctx, const struct gr_args *a, struct gr_error *err);
enum gr_status stage_sample(struct gr_ctx *ctx, const struct gr_args *a, struct gr_error *err);
enum gr_status stage_info(struct gr_ctx *ctx, const struct gr_args *a, struct gr_error *err);
/* sft: demonstrations, supervised fine-tuning, chat */
enum gr_status stage_demos(struct gr_ctx *ctx, const struct gr_args *a, struct gr_error *err);
enum gr_status stage_sft(struct gr_ctx *ctx, const struct gr_args *a, struct gr_error *err);
enum gr_status stage_chat(struct gr_ctx *ctx, const struct gr_args *a, struct gr_error *err);
/* reward: ranking, preferences, the reward model */
enum gr_status stage_rank(struct gr_ctx *ctx, const struct gr_args *a, struct gr_error *err);
enum gr_status stage_prefs(struct gr_ctx *ctx, const struct gr_args *a, struct gr_error *err);
enum gr_status stage_reward(struct gr_ctx *ctx, const struct gr_args *a, struct gr_error *err);
/* tune: reward-guided fine-tuning and its evaluation */
enum gr_status stage_tune(struct gr_ctx *ctx, const struct gr_args *a, struct gr_error *err);
enum gr_status stage_eval(struct gr_ctx *ctx, const struct gr_args *a, struct gr_error *err);

#endif
