/* status.c: 'garage status': each stage of the recipe, its state and
 * key facts, read from the workspace's files. */
#include <stdlib.h>
#include <string.h>

#include "app/command.h"
#include "app/datadir.h"
#include "app/workspace.h"
#include "base/fsio.h"
#include "model/checkpoint.h"
#include "stages/corpus.h"
#include "text/bpe.h"
#include "text/labels.h"
#include "text/shard.h"
#include "text/rankings.h"

enum gr_status
workspace_status(struct gr_ctx *ctx, struct gr_error *err)
{
    (void)err;
    const struct workspace *ws = ctx->ws;
    struct corpus c;
    int have_corpus = corpus_open(&c, ws, NULL) == GR_OK;
    ctx_printf(ctx, "workspace  %s (seed %llu)\n\n", ws->root,
               (unsigned long long)ws->seed);
    if (have_corpus) {
        ctx_printf(ctx, "  corpus     done     %zu documents, %.2f MB (%zu held out)\n",
                   c.ndocs, c.nbytes / 1e6, c.val_docs);
        corpus_close(&c);
    } else {
        ctx_printf(ctx, "  corpus     ready    add text: garage corpus add PATH\n");
    }

    char *tp = workspace_path(ws, "tokenizer.bin");
    char *sp = workspace_path(ws, "corpus/train.tok");
    struct bpe t;
    bpe_init(&t);
    int have_tok = fs_exists(tp) && bpe_load(&t, tp, NULL) == GR_OK;
    struct shard s = { 0 };
    int have_shard = have_tok && shard_open(&s, sp, NULL) == GR_OK &&
                     s.tok_hash == t.hash;
    if (have_tok && have_shard)
        ctx_printf(ctx, "  tokenizer  done     %d tokens; %zu training tokens\n",
                   t.vocab_size, s.ntok);
    else if (have_tok)
        ctx_printf(ctx, "  tokenizer  stale    the corpus changed: garage tokenizer\n");
    else
        ctx_printf(ctx, "  tokenizer  %s  garage tokenizer vocab_size=4096\n",
                   have_corpus ? "ready  " : "waiting");
    shard_close(&s);
    free(tp);
    free(sp);

    char *base = workspace_latest_checkpoint(ws, "base");
    struct ckpt_meta meta;
    if (base && ckpt_read_meta(base, &meta, NULL) == GR_OK) {
        ctx_printf(ctx, "  model      done     %d layers, %d heads, dim %d, context %d\n",
                   meta.cfg.L, meta.cfg.NH, meta.cfg.C, meta.cfg.T);
        if (meta.step > 0)
            ctx_printf(ctx, "  pretrain   done     step %llu (%s)\n",
                       (unsigned long long)meta.step, base);
        else
            ctx_printf(ctx, "  pretrain   ready    garage pretrain steps=2000\n");
        ckpt_meta_release(&meta);
    } else {
        ctx_printf(ctx, "  model      %s  garage model layers=4 heads=4 dim=256\n",
                   have_shard ? "ready  " : "waiting");
        ctx_printf(ctx, "  pretrain   waiting\n");
    }
    /* sft: demonstrations and supervised fine-tuning */
    char *dp = workspace_path(ws, "labels/demos.jsonl");
    struct demo_set ds;
    demos_init(&ds);
    demos_read_file(dp, 1, &ds, NULL, NULL, NULL);
    if (ds.n)
        ctx_printf(ctx, "  demos      done     %zu demonstrations (labels/demos.jsonl)\n",
                   ds.n);
    else
        ctx_printf(ctx, "  demos      ready    garage demos import %s/demos.jsonl\n",
                   data_dir());
    char *sftp = workspace_latest_checkpoint(ws, "sft");
    if (sftp && ckpt_read_meta(sftp, &meta, NULL) == GR_OK) {
        ctx_printf(ctx, "  sft        done     step %llu (%s); talk to it: garage chat\n",
                   (unsigned long long)meta.step, sftp);
        ckpt_meta_release(&meta);
    } else {
        ctx_printf(ctx, "  sft        %s  garage sft steps=300\n",
                   ds.n && base ? "ready  " : "waiting");
    }
    free(sftp);
    demos_release(&ds);
    free(dp);
    /* reward: rankings and the reward model */
    char *lp = workspace_path(ws, "labels/rankings.jsonl");
    struct ranking_set rs;
    rankings_init(&rs);
    rankings_read_file(lp, &rs, NULL, NULL, NULL);
    if (rs.n)
        ctx_printf(ctx, "  rank       done     %zu labels (labels/rankings.jsonl); more: "
                   "garage rank\n", rs.n);
    else
        ctx_printf(ctx, "  rank       %s  garage rank count=20\n",
                   base ? "ready  " : "waiting");
    char *rw = workspace_latest_checkpoint(ws, "reward");
    if (rw && ckpt_read_meta(rw, &meta, NULL) == GR_OK) {
        json_t *acc = meta.extra ? json_object_get(meta.extra, "heldout_acc") : NULL;
        if (acc && json_is_number(acc))
            ctx_printf(ctx, "  reward     done     held-out pair accuracy %.1f%% (%s)\n",
                       100 * json_number_value(acc), rw);
        else
            ctx_printf(ctx, "  reward     done     %s\n", rw);
        ckpt_meta_release(&meta);
    } else {
        ctx_printf(ctx, "  reward     %s  garage reward\n", rs.n ? "ready  " : "waiting");
    }
    /* tune: reward-guided fine-tuning */
    char *tn = workspace_latest_checkpoint(ws, "tuned");
    if (tn && ckpt_read_meta(tn, &meta, NULL) == GR_OK) {
        ctx_printf(ctx, "  tune       done     iteration %llu (%s); compare: garage eval\n",
                   (unsigned long long)meta.step, tn);
        ckpt_meta_release(&meta);
    } else {
        ctx_printf(ctx, "  tune       %s  garage tune steps=100\n", rw ? "ready  " : "waiting");
    }
    free(tn);
    free(rw);
    rankings_release(&rs);
    free(lp);
    free(base);
    bpe_release(&t);
    return GR_OK;
}
