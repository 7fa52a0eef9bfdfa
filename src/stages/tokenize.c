/* tokenize.c: the 'tokenizer' command.  Trains BPE on the training
 * split only (held-out text must stay unseen), then encodes both splits
 * into token shards: each document followed by <|endoftext|>. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app/job.h"
#include "base/fsio.h"
#include "base/xalloc.h"
#include "stages/common.h"
#include "stages/corpus.h"
#include "stages/stages.h"
#include "text/shard.h"

/* Print how t splits text: tokens between '|', then their ids. */
static void
show_tokens(struct gr_ctx *ctx, const struct bpe *t, const char *text)
{
    int32_t *toks = NULL;
    size_t n = 0, cap = 0;
    if (bpe_encode(t, text, strlen(text), &toks, &n, &cap, NULL) != GR_OK)
        return;
    ctx_printf(ctx, "%zu bytes -> %zu tokens\n|", strlen(text), n);
    for (size_t i = 0; i < n; i++) {
        const unsigned char *b;
        size_t len = bpe_token_bytes(t, toks[i], &b);
        for (size_t k = 0; k < len; k++) {
            if (b[k] == '\n')
                ctx_printf(ctx, "\\n");
            else
                ctx_write(ctx, (const char *)b + k, 1);
        }
        ctx_printf(ctx, "|");
    }
    ctx_printf(ctx, "\n");
    for (size_t i = 0; i < n; i++)
        ctx_printf(ctx, "%s%d", i ? " " : "", toks[i]);
    ctx_printf(ctx, "\n");
    free(toks);
}

/* Encode the documents of one split into path. */
static enum gr_status
encode_split(struct gr_ctx *ctx, const struct corpus *c, const struct bpe *t,
             int want_val, const char *path, size_t *ntok_out, struct gr_error *err)
{
    struct shard_writer w;
    enum gr_status rc = shard_writer_open(&w, path, t->vocab_size, t->hash, err);
    if (rc != GR_OK)
        return rc;
    int32_t *toks = NULL;
    uint16_t *buf = NULL;
    size_t cap = 0, bufcap = 0, total = 0;
    uint64_t nbytes = 0, ndocs = 0, done = 0;
    for (size_t i = 0; i < c->ndocs && rc == GR_OK; i++) {
        if (corpus_is_val(c, i) != want_val)
            continue;
        if (!want_val && (i & 255) == 0 && job_stop_requested(ctx->job)) {
            rc = gr_fail(err, GR_ESTOPPED, "tokenizer stopped while encoding the "
                         "corpus; the workspace's tokenizer is as it was");
            break;
        }
        size_t len, n = 0;
        const unsigned char *doc = corpus_doc(c, i, &len);
        rc = bpe_encode(t, doc, len, &toks, &n, &cap, err);
        if (rc != GR_OK)
            break;
        if (n + 1 > bufcap) {
            bufcap = (n + 1) * 2;
            buf = xrealloc(buf, bufcap * sizeof *buf);
        }
        for (size_t k = 0; k < n; k++)
            buf[k] = (uint16_t)toks[k];
        buf[n] = BPE_ENDOFTEXT;
        rc = shard_writer_append(&w, buf, n + 1, err);
        total += n + 1;
        nbytes += len;
        ndocs++;
        done += len;
        if ((ndocs & 255) == 0)
            metrics_progress(ctx->metrics, "encode", (double)done,
                             (double)(want_val ? c->val_bytes : c->nbytes - c->val_bytes),
                             "bytes");
    }
    free(toks);
    free(buf);
    if (rc != GR_OK) {
        shard_writer_abort(&w);
        return rc;
    }
    *ntok_out = total;
    return shard_writer_commit(&w, nbytes, ndocs, err);
}

enum gr_status
stage_tokenizer(struct gr_ctx *ctx, const struct gr_args *a, struct gr_error *err)
{
    const struct workspace *ws = ctx->ws;
    const char *show = args_str(a, "show");
    int V = (int)args_int(a, "vocab_size");
    struct corpus c;
    struct bpe t;
    bpe_init(&t);
    unsigned char *train = NULL;
    uint64_t *offs = NULL;
    char *tpath = NULL, *trpath = NULL, *vpath = NULL;
    enum gr_status rc;

    if (show) {
        if ((rc = stage_load_tokenizer(ws, &t, err)) == GR_OK)
            show_tokens(ctx, &t, show);
        bpe_release(&t);
        return rc;
    }
    if ((rc = corpus_open(&c, ws, err)) != GR_OK)
        return rc;

    /* The training split, contiguous. */
    size_t ntrain = 0;
    uint64_t tbytes = 0;
    offs = xmalloc((c.ndocs + 1) * sizeof *offs);
    train = xmalloc(c.nbytes ? c.nbytes : 1);
    offs[0] = 0;
    for (size_t i = 0; i < c.ndocs; i++) {
        if (corpus_is_val(&c, i))
            continue;
        size_t len;
        const unsigned char *d = corpus_doc(&c, i, &len);
        memcpy(train + tbytes, d, len);
        tbytes += len;
        offs[++ntrain] = tbytes;
    }
    metrics_note(ctx->metrics, "training a %d-token vocabulary on %zu documents "
                 "(%.2f MB)", V, ntrain, tbytes / 1e6);
    double t0 = stage_now();
    /* A stop (x, Ctrl-C) is heard while training and while encoding the
     * training split: until then nothing on disk has changed. */
    const atomic_int *stop = ctx->job ? &ctx->job->stop : NULL;
    if ((rc = bpe_train_until(&t, train, offs, ntrain, V, ctx->metrics, stop,
                              err)) != GR_OK) {
        if (rc == GR_ESTOPPED) {
            char msg[sizeof err->msg];
            snprintf(msg, sizeof msg, "%s", err->msg);
            rc = gr_fail(err, GR_ESTOPPED, "%s; the workspace's tokenizer is as it "
                         "was", msg);
        }
        goto out;
    }
    double t1 = stage_now();

    /* Write the shards first, then the tokenizer: a failure leaves the
     * old tokenizer; shards always carry the hash of theirs. */
    tpath = workspace_path(ws, "tokenizer.bin");
    trpath = workspace_path(ws, "corpus/train.tok");
    vpath = workspace_path(ws, "corpus/val.tok");
    size_t ntr = 0, nva = 0;
    if ((rc = encode_split(ctx, &c, &t, 0, trpath, &ntr, err)) != GR_OK ||
        (rc = encode_split(ctx, &c, &t, 1, vpath, &nva, err)) != GR_OK ||
        (rc = bpe_save(&t, tpath, err)) != GR_OK)
        goto out;
    double t2 = stage_now();
    ctx_printf(ctx, "Tokenizer: %d tokens, trained in %.1f s; saved %s\n"
               "Encoded %llu training bytes into %zu tokens (%.2f bytes per token) and "
               "%llu held-out bytes into %zu tokens in %.1f s\n",
               V, t1 - t0, tpath, (unsigned long long)(c.nbytes - c.val_bytes), ntr,
               ntr ? (double)(c.nbytes - c.val_bytes) / ntr : 0.0,
               (unsigned long long)c.val_bytes, nva, t2 - t1);
    /* A model made with another tokenizer no longer fits; one made with
     * this very vocabulary (the same corpus and size again) still does. */
    char *model = workspace_latest_checkpoint(ws, "base");
    struct ckpt_meta meta;
    ckpt_meta_init(&meta);
    if (model && ckpt_read_meta(model, &meta, NULL) == GR_OK &&
        (meta.tok_hash != t.hash || meta.cfg.V != t.vocab_size))
        metrics_note(ctx->metrics, "note: the model %s was made with the old "
                     "tokenizer; create a new one with 'garage model replace=true'",
                     model);
    ckpt_meta_release(&meta);
    free(model);
out:
    free(train);
    free(offs);
    free(tpath);
    free(trpath);
    free(vpath);
    bpe_release(&t);
    corpus_close(&c);
    return rc;
}
