/* facts.c: stage states and key facts from the workspace (see facts.h). */
#include "facts.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app/command.h"
#include "app/workspace.h"
#include "base/fsio.h"
#include "model/checkpoint.h"
#include "stages/corpus.h"
#include "text/bpe.h"
#include "text/shard.h"
#include "draw.h"
#include "runlog.h"

const char *
stage_state_name(enum stage_state s)
{
    switch (s) {
    case STAGE_DONE:    return "done";
    case STAGE_READY:   return "ready";
    case STAGE_WAITING: return "waiting";
    case STAGE_STALE:   return "stale";
    case STAGE_MISSING: return "not available yet";
    }
    return "?";
}

long
facts_count_lines(const char *path)
{
    FILE *f = fopen(path, "re");
    if (!f)
        return 0;
    long n = 0;
    int c, last = '\n';
    while ((c = getc(f)) != EOF) {
        if (c == '\n')
            n++;
        last = c;
    }
    if (last != '\n')
        n++;
    fclose(f);
    return n;
}

/* The last value of key in records of kind from the newest log of prefix. */
struct last_value {
    const char *kind, *key;
    double val;
};

static void
take_last(void *ctx, const struct gr_metric *m)
{
    struct last_value *lv = ctx;
    if (lv->kind && strcmp(m->kind, lv->kind) != 0)
        return;
    double v = metric_get(m, lv->key, NAN);
    if (isfinite(v))
        lv->val = v;
}

static double
last_logged(const char *root, const char *prefix, const char *kind, const char *key)
{
    struct last_value lv = { kind, key, NAN };
    /* the end of the newest log first: a long run's is tens of MB */
    runlog_read_tail(root, prefix, 1 << 20, take_last, &lv);
    if (!isfinite(lv.val))
        runlog_read(root, prefix, RUNLOG_NEWEST, take_last, &lv);
    return lv.val;
}

/* "step N" of the newest checkpoint of kind, or 0 when none. */
static int
checkpoint_fact(const struct workspace *ws, const char *kind, struct ckpt_meta *meta)
{
    char *p = workspace_latest_checkpoint(ws, kind);
    int ok = p && ckpt_read_meta(p, meta, NULL) == GR_OK;
    free(p);
    return ok;
}

static void
missing(struct stage_fact *f, const char *what)
{
    f->state = STAGE_MISSING;
    snprintf(f->facts, sizeof f->facts, "%s is not in this build yet", what);
}

void
facts_read(const char *dir, struct stage_fact out[STAGE_COUNT])
{
    static const struct { const char *title, *screen, *command; } base[STAGE_COUNT] = {
        { "Corpus", "corpus", "corpus" },
        { "Tokenizer", "tokenizer", "tokenizer" },
        { "Pretrain", "pretrain", "pretrain" },
        { "Demonstrations & SFT", "sft", "sft" },
        { "Rank", "rank", "rank" },
        { "Reward", "reward", "reward" },
        { "Tune", "tune", "tune" },
        { "Chat", "chat", "chat" },
    };
    for (int i = 0; i < STAGE_COUNT; i++) {
        out[i].title = base[i].title;
        out[i].screen = base[i].screen;
        out[i].command = base[i].command;
        out[i].state = STAGE_WAITING;
        out[i].facts[0] = 0;
    }
    struct workspace ws;
    if (!dir || workspace_open(&ws, dir, NULL) != GR_OK) {
        snprintf(out[0].facts, sizeof out[0].facts, "no workspace yet");
        return;
    }
    char b1[32], b2[32];

    /* corpus */
    struct corpus c;
    int have_corpus = corpus_open(&c, &ws, NULL) == GR_OK;
    if (have_corpus) {
        fmt_bytes(b1, sizeof b1, (double)c.nbytes);
        fmt_count(b2, sizeof b2, (double)c.ndocs);
        out[STAGE_CORPUS].state = STAGE_DONE;
        snprintf(out[STAGE_CORPUS].facts, sizeof out[0].facts,
                 "%s documents, %s (%zu held out)", b2, b1, c.val_docs);
        corpus_close(&c);
    } else {
        out[STAGE_CORPUS].state = STAGE_READY;
        snprintf(out[STAGE_CORPUS].facts, sizeof out[0].facts, "add text: files, folders, fortunes, JSONL");
    }

    /* tokenizer */
    char *tp = workspace_path(&ws, "tokenizer.bin");
    char *sp = workspace_path(&ws, "corpus/train.tok");
    struct bpe t;
    bpe_init(&t);
    int have_tok = fs_exists(tp) && bpe_load(&t, tp, NULL) == GR_OK;
    struct shard s = { 0 };
    int have_shard = have_tok && fs_exists(sp) && shard_open(&s, sp, NULL) == GR_OK;
    int shard_ok = have_shard && s.tok_hash == t.hash;
    struct stage_fact *f = &out[STAGE_TOKENIZER];
    if (have_tok && shard_ok) {
        f->state = STAGE_DONE;
        fmt_count(b1, sizeof b1, (double)s.ntok);
        snprintf(f->facts, sizeof f->facts, "%d tokens; %s training tokens", t.vocab_size, b1);
    } else if (have_tok && have_corpus) {
        f->state = STAGE_STALE;
        snprintf(f->facts, sizeof f->facts, "%d tokens; the corpus changed: train again",
                 t.vocab_size);
    } else if (have_corpus) {
        f->state = STAGE_READY;
        snprintf(f->facts, sizeof f->facts, "train a BPE vocabulary on the corpus");
    } else {
        snprintf(f->facts, sizeof f->facts, "needs a corpus");
    }
    if (have_shard)
        shard_close(&s);
    free(tp);
    free(sp);

    /* model and pretraining */
    f = &out[STAGE_PRETRAIN];
    struct ckpt_meta meta;
    ckpt_meta_init(&meta);
    int trained = 0;
    if (checkpoint_fact(&ws, "base", &meta)) {
        int fits = have_tok && meta.tok_hash == t.hash;
        if (meta.step > 0) {
            trained = 1;
            double bpb = last_logged(ws.root, "pretrain", "eval", "val_bpb");
            f->state = fits ? STAGE_DONE : STAGE_STALE;
            if (isfinite(bpb))
                snprintf(f->facts, sizeof f->facts, "step %llu, val %.3f bpb; %d layers, dim %d",
                         (unsigned long long)meta.step, bpb, meta.cfg.L, meta.cfg.C);
            else
                snprintf(f->facts, sizeof f->facts, "step %llu; %d layers, dim %d",
                         (unsigned long long)meta.step, meta.cfg.L, meta.cfg.C);
        } else {
            f->state = fits ? STAGE_READY : STAGE_STALE;
            snprintf(f->facts, sizeof f->facts, "model of %d layers, dim %d, not trained yet",
                     meta.cfg.L, meta.cfg.C);
        }
        if (!fits)
            snprintf(f->facts, sizeof f->facts, "the model is from another tokenizer: "
                     "create a new one");
        ckpt_meta_release(&meta);
    } else if (have_tok && shard_ok) {
        f->state = STAGE_READY;
        snprintf(f->facts, sizeof f->facts, "create a model and train it");
    } else {
        snprintf(f->facts, sizeof f->facts, "needs a tokenizer");
    }
    bpe_release(&t);

    /* demonstrations and SFT */
    f = &out[STAGE_SFT];
    if (!command_find("sft")) {
        missing(f, "supervised fine-tuning");
    } else {
        char *dp = workspace_path(&ws, "labels/demos.jsonl");
        long nd = facts_count_lines(dp);
        free(dp);
        ckpt_meta_init(&meta);
        if (checkpoint_fact(&ws, "sft", &meta)) {
            f->state = STAGE_DONE;
            snprintf(f->facts, sizeof f->facts, "%ld demonstrations; tuned to step %llu",
                     nd, (unsigned long long)meta.step);
            ckpt_meta_release(&meta);
        } else {
            f->state = trained ? STAGE_READY : STAGE_WAITING;
            snprintf(f->facts, sizeof f->facts, trained ? "%ld demonstrations" :
                     "%ld demonstrations; needs a pretrained model", nd);
        }
    }

    /* rankings */
    f = &out[STAGE_RANK];
    if (!command_find("rank")) {
        missing(f, "ranking");
    } else {
        char *rp = workspace_path(&ws, "labels/rankings.jsonl");
        long nr = facts_count_lines(rp);
        free(rp);
        f->state = nr > 0 ? STAGE_DONE : trained ? STAGE_READY : STAGE_WAITING;
        snprintf(f->facts, sizeof f->facts, "%ld rankings collected%s", nr,
                 trained ? "" : "; needs a pretrained model");
    }

    /* reward model */
    f = &out[STAGE_REWARD];
    if (!command_find("reward")) {
        missing(f, "the reward model");
    } else {
        ckpt_meta_init(&meta);
        if (checkpoint_fact(&ws, "reward", &meta)) {
            double acc = last_logged(ws.root, "reward", "reward_eval", "heldout_acc");
            f->state = STAGE_DONE;
            if (isfinite(acc))
                snprintf(f->facts, sizeof f->facts, "held-out accuracy %.0f%% (step %llu)",
                         acc <= 1 ? 100 * acc : acc, (unsigned long long)meta.step);
            else
                snprintf(f->facts, sizeof f->facts, "trained to step %llu",
                         (unsigned long long)meta.step);
            ckpt_meta_release(&meta);
        } else {
            f->state = out[STAGE_RANK].state == STAGE_DONE ? STAGE_READY : STAGE_WAITING;
            snprintf(f->facts, sizeof f->facts, "%s", f->state == STAGE_READY ?
                     "fit a reward model to the rankings" : "needs rankings");
        }
    }

    /* tuning */
    f = &out[STAGE_TUNE];
    if (!command_find("tune")) {
        missing(f, "PPO tuning");
    } else {
        ckpt_meta_init(&meta);
        if (checkpoint_fact(&ws, "tuned", &meta)) {
            double win = last_logged(ws.root, "eval", "tune_eval", "win_rm");
            f->state = STAGE_DONE;
            if (isfinite(win))
                snprintf(f->facts, sizeof f->facts, "win rate %.0f%% over the reference "
                         "(step %llu)", win <= 1 ? 100 * win : win,
                         (unsigned long long)meta.step);
            else
                snprintf(f->facts, sizeof f->facts, "tuned to step %llu",
                         (unsigned long long)meta.step);
            ckpt_meta_release(&meta);
        } else {
            f->state = out[STAGE_REWARD].state == STAGE_DONE ? STAGE_READY : STAGE_WAITING;
            snprintf(f->facts, sizeof f->facts, "%s", f->state == STAGE_READY ?
                     "tune the model with the reward model" : "needs a reward model");
        }
    }

    /* chat */
    f = &out[STAGE_CHAT];
    if (!command_find("chat")) {
        missing(f, "chat");
    } else {
        const char *best = out[STAGE_TUNE].state == STAGE_DONE ? "the tuned model" :
                           out[STAGE_SFT].state == STAGE_DONE ? "the SFT model" :
                           trained ? "the base model" : NULL;
        f->state = best ? STAGE_READY : STAGE_WAITING;
        snprintf(f->facts, sizeof f->facts, best ? "talk to %s" : "needs a trained model",
                 best);
    }
    workspace_release(&ws);
}
