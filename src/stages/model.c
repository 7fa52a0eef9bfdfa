/* model.c: the 'model' command (a new base checkpoint at step 0) and
 * 'info' (describe a checkpoint). */
#include <stdlib.h>
#include <string.h>

#include "base/fsio.h"
#include "base/xalloc.h"
#include "stages/common.h"
#include "stages/stages.h"
#include "text/shard.h"

enum gr_status
stage_model(struct gr_ctx *ctx, const struct gr_args *a, struct gr_error *err)
{
    const struct workspace *ws = ctx->ws;
    struct gpt_config cfg = {
        .L = (int)args_int(a, "layers"), .NH = (int)args_int(a, "heads"),
        .C = (int)args_int(a, "dim"), .T = (int)args_int(a, "context"),
    };
    uint64_t seed = args_has(a, "seed") ? (uint64_t)args_int(a, "seed") : ws->seed;
    struct bpe tok;
    struct gpt m = { 0 };
    struct ckpt_meta meta;
    struct shard train = { 0 };
    char *path = NULL, *existing = NULL, *tp = NULL;
    enum gr_status rc;
    ckpt_meta_init(&meta);

    if (cfg.C % cfg.NH != 0)
        return gr_fail(err, GR_EINPUT, "dim %d is not divisible by heads %d "
                       "(each head gets dim/heads channels)", cfg.C, cfg.NH);
    if ((rc = stage_load_tokenizer(ws, &tok, err)) != GR_OK)
        return rc;
    cfg.V = tok.vocab_size;
    tp = workspace_path(ws, "corpus/train.tok");
    if (shard_open(&train, tp, NULL) == GR_OK) {
        if (train.ntok < (size_t)cfg.T + 2) {
            rc = gr_fail(err, GR_EINPUT, "context %d is larger than the corpus: the "
                         "training split has only %zu tokens", cfg.T, train.ntok);
            goto out;
        }
    }
    existing = workspace_latest_checkpoint(ws, "base");
    if (existing && !args_bool(a, "replace")) {
        rc = gr_fail(err, GR_EINPUT, "the workspace already has a model (%s): "
                     "train it with 'garage pretrain', or start over with "
                     "'garage model replace=true'", existing);
        goto out;
    }
    if ((rc = gpt_create(&m, &cfg, err)) != GR_OK)
        goto out;
    struct gr_rng rng;
    rng_seed(&rng, seed);
    gpt_init_weights(&m, &rng);
    if (existing) {
        int n = stage_remove_checkpoints(ws, "base");
        metrics_note(ctx->metrics, "replaced the old model (%d base checkpoint%s removed)",
                     n, n == 1 ? "" : "s");
    }
    snprintf(meta.kind, sizeof meta.kind, "base");
    meta.cfg = cfg;
    meta.tok_hash = tok.hash;
    rng_seed(&meta.rng, seed);
    path = stage_checkpoint_path(ws, "base", 0);
    if ((rc = ckpt_save(path, &m, &meta, NULL, err)) != GR_OK)
        goto out;
    ctx_printf(ctx, "Created %s: %d layers, %d heads, dim %d, context %d, vocabulary %d; "
               "%.2fM parameters\n", path, cfg.L, cfg.NH, cfg.C, cfg.T, cfg.V,
               gpt_num_params(&cfg) / 1e6);
out:
    shard_close(&train);
    free(tp);
    free(path);
    free(existing);
    gpt_release(&m);
    ckpt_meta_release(&meta);
    bpe_release(&tok);
    return rc;
}

enum gr_status
stage_info(struct gr_ctx *ctx, const struct gr_args *a, struct gr_error *err)
{
    const char *path = args_str(a, "checkpoint");
    char *picked = NULL;
    enum gr_status rc;
    struct workspace ws = { 0 };
    if (!path) {
        /* No file given: the newest checkpoint of the workspace. */
        if ((rc = workspace_open(&ws, ctx->dir, err)) != GR_OK)
            return gr_fail(err, GR_EUSAGE, "info: which checkpoint? (garage info "
                           "FILE.ckpt)");
        rc = stage_pick_checkpoint(&ws, NULL, "tuned,sft,base", &picked, err);
        workspace_release(&ws);
        if (rc != GR_OK)
            return rc;
        path = picked;
    } else if (!fs_exists(path)) {
        return stage_no_checkpoint(ctx->dir, path, "", err);
    }
    struct ckpt_meta meta;
    struct gpt m;
    rc = ckpt_load(path, &m, &meta, 0, NULL, err);   /* checks the checksum too */
    if (rc == GR_OK) {
        const struct gpt_config *c = &meta.cfg;
        ctx_printf(ctx,
                   "checkpoint   %s\n"
                   "kind         %s\n"
                   "step         %llu\n"
                   "layers       %d\n"
                   "heads        %d\n"
                   "dim          %d\n"
                   "context      %d\n"
                   "vocabulary   %d\n"
                   "parameters   %zu (%.2fM)\n"
                   "optimizer    %s\n"
                   "tokenizer    %016llx\n",
                   path, meta.kind, (unsigned long long)meta.step, c->L, c->NH, c->C,
                   c->T, c->V, gpt_num_params(c), gpt_num_params(c) / 1e6,
                   meta.has_opt ? "AdamW state saved" : "none",
                   (unsigned long long)meta.tok_hash);
        const char *objective = ckpt_objective(&meta);
        if (objective)
            ctx_printf(ctx, "objective    %s\n", !strcmp(objective, "masked")
                       ? "masked LM" : "next token");
        gpt_release(&m);
        ckpt_meta_release(&meta);
    }
    free(picked);
    return rc;
}
