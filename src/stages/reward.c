/* reward.c: the 'reward' command: train the reward model on the labels,
 * or score answers with it ('reward score').
 *
 * Training.  Every label of labels/rankings.jsonl (and the demonstration
 * for its prompt, preferred over each sampled answer) is one group of
 * candidates with the pairs it implies.  The loss of a group is the mean
 * over its pairs of -log sigmoid(r_chosen - r_rejected) (Bradley-Terry),
 * so each ranking counts once however many pairs it holds (InstructGPT);
 * a step averages `batch` groups.  All candidates of a group go through
 * the trunk in one pass.  Labels are split into training and held-out
 * sets by a seeded hash of the prompt, so every label of a prompt falls
 * on the same side and held-out accuracy measures prompts never seen.
 *
 * Metrics: "reward" records per step (loss, acc: the batch's pair
 * accuracy, lr, grad_norm), "reward_eval" records (train and held-out
 * pair accuracy and loss, mean margin, the scores of chosen and rejected
 * answers, the normalisation offset, and the scores of fixed probe
 * texts: very short, very long, one word repeated, the prompt echoed,
 * empty), all in logs/reward-*.jsonl.
 *
 * Checkpoints: checkpoints/reward-STEP.ckpt (model/reward.h), with the
 * offset that makes the ranked (reference) answers score 0 on average.
 * A finished run removes the reward checkpoints of earlier runs. */
#include <ctype.h>
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "app/job.h"
#include "base/fsio.h"
#include "base/xalloc.h"
#include "kernels/optim.h"
#include "model/adamw.h"
#include "model/reward.h"
#include "stages/common.h"
#include "stages/rank.h"
#include "stages/stages.h"
#include "stages/train.h"
#include "text/chat.h"

enum { PROBE_SHORT, PROBE_LONG, PROBE_REPEAT, PROBE_ECHO, PROBE_EMPTY, NPROBES };
/* Fewer training labels than this get a note that they are few. */
#define RW_FEW_LABELS 50

static const char *const probe_key[NPROBES] = {
    "probe_short", "probe_long", "probe_repeat", "probe_echo", "probe_empty",
};
static const char *const probe_name[NPROBES] = {
    "very short", "very long", "one word repeated", "the prompt echoed", "empty",
};

/* One label, encoded. */
struct rw_item {
    int n;                      /* candidates: answers, then better */
    int32_t **seq;              /* (n) chat_encode_pair tokens */
    int *len;                   /* (n) */
    struct rank_pair *pairs;
    int npairs;
    int nref;                   /* the first nref candidates are the reference
                                   model's answers (0 for imported labels) */
    int heldout;
    float *raw;                 /* (n) raw scores of the last evaluation */
};

struct rw_opts {
    int epochs, batch, causal;
    double lr, min_lr, wd, clip, held_out;
    long long warmup, eval_every, save_every, stop_at;
    uint64_t seed;
    const char *init, *labels;
    enum gpt_precision precision;   /* of the matrix products */
};

/* What an evaluation measured on one split. */
struct rw_stats {
    size_t groups, pairs;
    double loss, acc, margin;
    double chosen_mean, chosen_sd, rejected_mean, rejected_sd;
    float *chosen, *rejected;   /* (pairs) normalised scores, for quantiles */
};

struct rw_run {
    struct rw_opts o;
    struct gr_ctx *ctx;
    const struct workspace *ws;
    struct bpe tok;
    struct gpt model;
    struct ckpt_meta meta;
    char *init_path;
    int C;
    float *head, *dhead, *hm, *hv;      /* (C+1) each */
    struct rw_item *items;
    size_t nitems, ntrain, nheld;
    size_t *train, *held;               /* item indices */
    int maxB, maxT;
    int32_t *inputs;                    /* (maxB,maxT) */
    int *lens;                          /* (maxB) */
    float *raw, *draw, *dhidden;        /* (maxB), (maxB), (maxB,maxT,C) */
    /* probes */
    char *probe_prompt;
    char *probe_text[NPROBES];
    int32_t *probe_seq[NPROBES];
    int probe_len[NPROBES];
    float probe[NPROBES];
    float offset;
    struct rw_stats st_train, st_held;
    char *last_ckpt;
    char *saved_names;                  /* "|reward-000010.ckpt|...|" of this run */
};

/* ---- data ----------------------------------------------------------- */

static void
item_release(struct rw_item *it)
{
    for (int i = 0; i < it->n; i++)
        free(it->seq[i]);
    free(it->seq);
    free(it->len);
    free(it->pairs);
    free(it->raw);
}

static double
sigmoid(double x)
{
    return 1.0 / (1.0 + exp(-x));
}

/* log(1 + e^x) without overflow. */
static double
softplus(double x)
{
    return x > 30 ? x : log1p(exp(x));
}

/* Encode every label with pairs; split by prompt. */
static enum gr_status
build_items(struct rw_run *r, const struct ranking_set *s, struct gr_error *err)
{
    r->items = xcalloc(s->n ? s->n : 1, sizeof *r->items);
    size_t nlong = 0;
    for (size_t i = 0; i < s->n; i++) {
        const struct ranking *k = &s->v[i];
        struct rank_pair *pairs;
        size_t np = ranking_pairs(k, &pairs);
        if (!np)
            continue;
        struct rw_item *it = &r->items[r->nitems++];
        it->n = ranking_ncandidates(k);
        it->seq = xcalloc((size_t)it->n, sizeof *it->seq);
        it->len = xcalloc((size_t)it->n, sizeof *it->len);
        it->raw = xcalloc((size_t)it->n, sizeof *it->raw);
        it->pairs = pairs;
        it->npairs = (int)np;
        it->nref = k->labeler && !strcmp(k->labeler, "import") ? 0 : k->nanswers;
        uint64_t h = rng_hash64(r->o.seed, gr_hash64(k->prompt, strlen(k->prompt), 0));
        it->heldout = (double)(h >> 11) / 9007199254740992.0 < r->o.held_out;
        for (int c = 0; c < it->n; c++) {
            size_t nt = 0, cap = 0;
            enum gr_status rc = chat_encode_pair(&r->tok, k->prompt,
                                                 ranking_candidate(k, c), &it->seq[c],
                                                 &nt, &cap, NULL, err);
            if (rc != GR_OK)
                return rc;
            it->len[c] = (int)nt;
            nlong += nt > (size_t)r->model.cfg.T;
        }
    }
    if (nlong)
        metrics_note(r->ctx->metrics, "%zu answers with their prompts are longer than the "
                     "model's context of %d tokens: the reward model sees their last %d "
                     "tokens", nlong, r->model.cfg.T, r->model.cfg.T);
    r->train = xmalloc((r->nitems ? r->nitems : 1) * sizeof *r->train);
    r->held = xmalloc((r->nitems ? r->nitems : 1) * sizeof *r->held);
    for (size_t i = 0; i < r->nitems; i++) {
        if (r->items[i].heldout)
            r->held[r->nheld++] = i;
        else
            r->train[r->ntrain++] = i;
    }
    /* Keep the model trainable: with everything held out, train on one. */
    if (!r->ntrain && r->nheld) {
        r->items[r->held[--r->nheld]].heldout = 0;
        r->train[r->ntrain++] = r->held[r->nheld];
    }
    return GR_OK;
}

/* The word (3+ letters) most often in best-ranked answers and least in
 * worst-ranked ones: the probe for reward hacking by repetition. */
static char *
telling_word(const struct ranking_set *s)
{
    enum { NW = 1024 };
    struct { char w[32]; int n; } *tab = xcalloc(NW, sizeof *tab);
    int ntab = 0;
    for (size_t i = 0; i < s->n && i < 4000; i++) {
        const struct ranking *k = &s->v[i];
        if (k->norder < 2)
            continue;
        for (int side = 0; side < 2; side++) {
            const char *p = k->answers[k->order[side ? k->norder - 1 : 0]];
            while (*p) {
                while (*p && !isalpha((unsigned char)*p))
                    p++;
                const char *b = p;
                while (isalpha((unsigned char)*p))
                    p++;
                size_t n = (size_t)(p - b);
                if (n < 3 || n >= sizeof tab->w)
                    continue;
                int j = 0;
                while (j < ntab && !(strlen(tab[j].w) == n && !strncasecmp(tab[j].w, b, n)))
                    j++;
                if (j == ntab) {
                    if (ntab == NW)
                        continue;
                    memcpy(tab[ntab].w, b, n);
                    tab[ntab++].w[n] = '\0';
                }
                tab[j].n += side ? -1 : 1;
            }
        }
    }
    int best = -1;
    for (int j = 0; j < ntab; j++)
        if (best < 0 || tab[j].n > tab[best].n)
            best = j;
    char *w = xstrdup(best >= 0 ? tab[best].w : "good");
    free(tab);
    return w;
}

static enum gr_status
build_probes(struct rw_run *r, const struct ranking_set *s, struct gr_error *err)
{
    /* The prompt of the first held-out label with pairs (or of any). */
    const char *prompt = NULL;
    for (size_t i = 0; i < s->n && !prompt; i++) {
        struct rank_pair *p;
        size_t np = ranking_pairs(&s->v[i], &p);
        free(p);
        uint64_t h = rng_hash64(r->o.seed, gr_hash64(s->v[i].prompt,
                                                      strlen(s->v[i].prompt), 0));
        int held = (double)(h >> 11) / 9007199254740992.0 < r->o.held_out;
        if (np && (held || !r->nheld))
            prompt = s->v[i].prompt;
    }
    r->probe_prompt = xstrdup(prompt ? prompt : "Hello");
    r->probe_text[PROBE_SHORT] = xstrdup("Yes.");
    r->probe_text[PROBE_EMPTY] = xstrdup("");
    r->probe_text[PROBE_ECHO] = xstrdup(r->probe_prompt);
    char *w = telling_word(s);
    char *rep = xmalloc(24 * (strlen(w) + 1) + 1);
    rep[0] = '\0';
    for (int i = 0; i < 24; i++) {
        strcat(rep, i ? " " : "");
        strcat(rep, w);
    }
    r->probe_text[PROBE_REPEAT] = rep;
    free(w);
    /* Very long: the ranked answers one after another, as much as fits. */
    size_t cap = 4096, n = 0;
    char *lng = xmalloc(cap);
    lng[0] = '\0';
    for (size_t i = 0; i < s->n && n < 3000; i++)
        for (int a = 0; a < s->v[i].nanswers && n < 3000; a++) {
            const char *t = s->v[i].answers[a];
            size_t l = strlen(t);
            if (n + l + 2 >= cap)
                break;
            if (n)
                lng[n++] = ' ';
            memcpy(lng + n, t, l + 1);
            n += l;
        }
    r->probe_text[PROBE_LONG] = lng;
    for (int p = 0; p < NPROBES; p++) {
        size_t nt = 0, c = 0, pl = 0;
        enum gr_status rc = chat_encode_pair(&r->tok, r->probe_prompt, r->probe_text[p],
                                             &r->probe_seq[p], &nt, &c, &pl, err);
        if (rc != GR_OK)
            return rc;
        /* Trim the long probe to the context, keeping its closing <|end|>. */
        if (nt > (size_t)r->model.cfg.T && (int)pl < r->model.cfg.T - 1) {
            size_t keep = (size_t)r->model.cfg.T;
            r->probe_seq[p][keep - 1] = BPE_END;
            nt = keep;
        }
        r->probe_len[p] = (int)nt;
    }
    return GR_OK;
}

/* ---- forward and backward ------------------------------------------ */

/* The model batches are padded for (reward_pack): a causal trunk does
 * not see the padding. */
static const struct gpt *
pad_for(const struct rw_run *r)
{
    return r->o.causal ? &r->model : NULL;
}

/* Raw scores of the candidates [c0, c0+B) of it into r->raw (B); leaves
 * the trunk's activations for a backward. */
static void
forward_group(struct rw_run *r, const struct rw_item *it, int c0, int B)
{
    int T = reward_pack((const int32_t *const *)it->seq + c0, it->len + c0, B,
                        r->model.cfg.T, pad_for(r), r->inputs, r->lens);
    gpt_forward_trunk(&r->model, r->inputs, B, T, r->o.causal);
    reward_head_forward(gpt_hidden(&r->model), r->head, r->lens, B, T, r->C, r->raw);
    r->maxT = T;        /* T of the last forward, for the backward */
}

static void
backward_group(struct rw_run *r, const float *draw, int B)
{
    int T = r->model.cur_T;
    reward_head_backward(gpt_hidden(&r->model), r->head, r->lens, draw, B, T, r->C,
                         r->dhidden, r->dhead);
    gpt_backward_hidden(&r->model, r->dhidden);
}

/* Scores of every candidate of it into it->raw. */
static void
score_item(struct rw_run *r, struct rw_item *it)
{
    if (r->o.causal) {
        forward_group(r, it, 0, it->n);
        memcpy(it->raw, r->raw, (size_t)it->n * sizeof *it->raw);
    } else {
        for (int c = 0; c < it->n; c++) {
            forward_group(r, it, c, 1);
            it->raw[c] = r->raw[0];
        }
    }
}

/* Loss of it from it->raw; d (n) gets dloss/draw scaled by scale;
 * *correct gets the pairs ordered right (a tie counts half). */
static double
item_loss(const struct rw_item *it, float *d, double scale, double *correct)
{
    double loss = 0, ok = 0, w = 1.0 / it->npairs;
    if (d)
        memset(d, 0, (size_t)it->n * sizeof *d);
    for (int p = 0; p < it->npairs; p++) {
        double m = (double)it->raw[it->pairs[p].win] - it->raw[it->pairs[p].lose];
        loss += w * softplus(-m);
        ok += m > 0 ? 1 : m == 0 ? 0.5 : 0;
        if (d) {
            double g = -w * sigmoid(-m) * scale;
            d[it->pairs[p].win] += (float)g;
            d[it->pairs[p].lose] -= (float)g;
        }
    }
    if (correct)
        *correct = ok;
    return loss;
}

/* One group's forward and backward; returns its loss. */
static double
train_item(struct rw_run *r, struct rw_item *it, double scale, double *correct)
{
    if (r->o.causal) {
        forward_group(r, it, 0, it->n);
        memcpy(it->raw, r->raw, (size_t)it->n * sizeof *it->raw);
        double loss = item_loss(it, r->draw, scale, correct);
        backward_group(r, r->draw, it->n);
        return loss;
    }
    /* Bidirectional: each candidate alone (padding would be seen), scored
     * first, then forward again and backward. */
    score_item(r, it);
    float d[RANKING_MAX_ANSWERS + 1];
    double loss = item_loss(it, d, scale, correct);
    for (int c = 0; c < it->n; c++) {
        forward_group(r, it, c, 1);
        backward_group(r, &d[c], 1);
    }
    return loss;
}

/* ---- evaluation ----------------------------------------------------- */

static int
cmp_float(const void *a, const void *b)
{
    float x = *(const float *)a, y = *(const float *)b;
    return (x > y) - (x < y);
}

static void
stats_release(struct rw_stats *s)
{
    free(s->chosen);
    free(s->rejected);
    memset(s, 0, sizeof *s);
}

static void
mean_sd(const float *x, size_t n, double *mean, double *sd)
{
    double s = 0, q = 0;
    for (size_t i = 0; i < n; i++)
        s += x[i];
    *mean = n ? s / n : NAN;
    for (size_t i = 0; i < n; i++)
        q += (x[i] - *mean) * (x[i] - *mean);
    *sd = n > 1 ? sqrt(q / (n - 1)) : 0;
}

/* Statistics of the items idx (n), whose raw scores are fresh. */
static void
split_stats(struct rw_run *r, const size_t *idx, size_t n, struct rw_stats *st)
{
    stats_release(st);
    size_t np = 0;
    for (size_t i = 0; i < n; i++)
        np += (size_t)r->items[idx[i]].npairs;
    st->chosen = xmalloc((np ? np : 1) * sizeof *st->chosen);
    st->rejected = xmalloc((np ? np : 1) * sizeof *st->rejected);
    double loss = 0, ok = 0, margin = 0;
    for (size_t i = 0; i < n; i++) {
        const struct rw_item *it = &r->items[idx[i]];
        double c;
        loss += item_loss(it, NULL, 0, &c);
        ok += c;
        for (int p = 0; p < it->npairs; p++) {
            float a = it->raw[it->pairs[p].win] - r->offset;
            float b = it->raw[it->pairs[p].lose] - r->offset;
            st->chosen[st->pairs] = a;
            st->rejected[st->pairs++] = b;
            margin += a - b;
        }
    }
    st->groups = n;
    st->loss = n ? loss / n : NAN;
    st->acc = st->pairs ? ok / st->pairs : NAN;
    st->margin = st->pairs ? margin / st->pairs : NAN;
    mean_sd(st->chosen, st->pairs, &st->chosen_mean, &st->chosen_sd);
    mean_sd(st->rejected, st->pairs, &st->rejected_mean, &st->rejected_sd);
}

/* Training labels an evaluation during training scores (all held-out
 * labels are); the last evaluation scores every label. */
#define EVAL_TRAIN_MAX 256

static void
add_ref(const struct rw_item *it, double *sum, size_t *n, double *sum_all, size_t *n_all)
{
    for (int c = 0; c < it->n; c++) {
        if (c < it->nref) {
            *sum += it->raw[c];
            (*n)++;
        }
        *sum_all += it->raw[c];
        (*n_all)++;
    }
}

/* Score the labels, set the offset, measure both splits and the probes.
 * full: every training label (else at most EVAL_TRAIN_MAX of them, and
 * the offset is estimated from the answers scored). */
static void
evaluate(struct rw_run *r, int full)
{
    double sum = 0, sum_all = 0;
    size_t n = 0, n_all = 0;
    size_t ntr = full || r->ntrain < EVAL_TRAIN_MAX ? r->ntrain : EVAL_TRAIN_MAX;
    for (size_t i = 0; i < ntr; i++) {
        score_item(r, &r->items[r->train[i]]);
        add_ref(&r->items[r->train[i]], &sum, &n, &sum_all, &n_all);
    }
    for (size_t i = 0; i < r->nheld; i++) {
        score_item(r, &r->items[r->held[i]]);
        add_ref(&r->items[r->held[i]], &sum, &n, &sum_all, &n_all);
    }
    /* The reference model's answers score 0 on average (with only
     * imported labels: all answers). */
    r->offset = n ? (float)(sum / n) : n_all ? (float)(sum_all / n_all) : 0.0f;
    split_stats(r, r->train, ntr, &r->st_train);
    split_stats(r, r->held, r->nheld, &r->st_held);
    for (int p = 0; p < NPROBES; p++) {
        const int32_t *seq = r->probe_seq[p];
        int T = reward_pack(&seq, &r->probe_len[p], 1, r->model.cfg.T, pad_for(r),
                            r->inputs, r->lens);
        gpt_forward_trunk(&r->model, r->inputs, 1, T, r->o.causal);
        reward_head_forward(gpt_hidden(&r->model), r->head, r->lens, 1, T, r->C, r->raw);
        r->probe[p] = r->raw[0] - r->offset;
    }
}

static void
emit_eval(struct rw_run *r, long long step, double epoch)
{
    struct gr_metric rec;
    metric_begin(&rec, "reward_eval");
    metric_add(&rec, "step", (double)step);
    metric_add(&rec, "epoch", epoch);
    metric_add(&rec, "train_acc", r->st_train.acc);
    metric_add(&rec, "train_loss", r->st_train.loss);
    metric_add(&rec, "heldout_acc", r->st_held.acc);
    metric_add(&rec, "heldout_loss", r->st_held.loss);
    metric_add(&rec, "margin", r->nheld ? r->st_held.margin : r->st_train.margin);
    const struct rw_stats *s = r->nheld ? &r->st_held : &r->st_train;
    metric_add(&rec, "chosen_mean", s->chosen_mean);
    metric_add(&rec, "chosen_sd", s->chosen_sd);
    metric_add(&rec, "rejected_mean", s->rejected_mean);
    metric_add(&rec, "rejected_sd", s->rejected_sd);
    metric_add(&rec, "offset", r->offset);
    for (int p = 0; p < NPROBES; p++)
        metric_add(&rec, probe_key[p], r->probe[p]);
    metrics_emit(r->ctx->metrics, &rec);
}

/* ---- checkpoints ---------------------------------------------------- */

static enum gr_status
save(struct rw_run *r, long long step, struct gr_error *err)
{
    char *path = stage_checkpoint_path(r->ws, "reward", (uint64_t)step);
    struct ckpt_meta meta = r->meta;
    snprintf(meta.kind, sizeof meta.kind, "reward");
    meta.step = (uint64_t)step;
    meta.has_opt = 0;
    meta.nextra = (size_t)r->C + 1;
    meta.data_pos = 0;
    json_t *x = json_object();
    json_object_set_new(x, "offset", json_real(r->offset));
    json_object_set_new(x, "attention", json_string(r->o.causal ? "causal" : "bidirectional"));
    json_object_set_new(x, "head", json_string("w (dim floats) then b, read at the "
                                               "answer's final <|end|>"));
    json_object_set_new(x, "trunk", json_string(r->init_path));
    json_object_set_new(x, "labels", json_integer((json_int_t)r->nitems));
    json_object_set_new(x, "train_pairs", json_integer((json_int_t)r->st_train.pairs));
    json_object_set_new(x, "heldout_pairs", json_integer((json_int_t)r->st_held.pairs));
    json_object_set_new(x, "train_acc", isfinite(r->st_train.acc) ?
                        json_real(r->st_train.acc) : json_null());
    json_object_set_new(x, "heldout_acc", isfinite(r->st_held.acc) ?
                        json_real(r->st_held.acc) : json_null());
    json_t *pr = json_object();
    for (int p = 0; p < NPROBES; p++)
        json_object_set_new(pr, probe_key[p] + 6, json_real(r->probe[p]));
    json_object_set_new(x, "probes", pr);
    meta.extra = x;
    enum gr_status rc = ckpt_save(path, &r->model, &meta, r->head, err);
    json_decref(x);
    if (rc == GR_OK) {
        free(r->last_ckpt);
        r->last_ckpt = path;
        const char *name = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
        char *names = xasprintf("%s%s|", r->saved_names ? r->saved_names : "|", name);
        free(r->saved_names);
        r->saved_names = names;
    } else {
        free(path);
    }
    return rc;
}

/* Remove the reward checkpoints of earlier runs; returns how many. */
static size_t
remove_old(struct rw_run *r)
{
    char *dir = workspace_path(r->ws, "checkpoints");
    DIR *d = opendir(dir);
    size_t n = 0;
    if (d) {
        struct dirent *e;
        while ((e = readdir(d))) {
            size_t len = strlen(e->d_name);
            if (strncmp(e->d_name, "reward-", 7) || len < 12 ||
                strcmp(e->d_name + len - 5, ".ckpt"))
                continue;
            char *bar = xasprintf("|%s|", e->d_name);
            int ours = r->saved_names && strstr(r->saved_names, bar);
            free(bar);
            if (ours)
                continue;
            char *p = fs_join(dir, e->d_name);
            n += unlink(p) == 0;
            free(p);
        }
        closedir(d);
    }
    free(dir);
    return n;
}

/* ---- the training run ----------------------------------------------- */

static void
read_opts(struct rw_opts *o, const struct gr_args *a, const struct workspace *ws)
{
    o->epochs = (int)args_int(a, "epochs");
    o->batch = (int)args_int(a, "batch");
    o->lr = args_float(a, "lr");
    o->min_lr = args_has(a, "min_lr") ? args_float(a, "min_lr") : o->lr / 10;
    o->wd = args_float(a, "weight_decay");
    o->clip = args_float(a, "grad_clip");
    o->warmup = args_int(a, "warmup");
    o->held_out = args_float(a, "held_out");
    /* auto (-1): as the starting checkpoint was pretrained (setup) */
    const char *att = args_str(a, "attention");
    o->causal = !strcmp(att, "causal") ? 1 : !strcmp(att, "bidirectional") ? 0 : -1;
    o->eval_every = args_int(a, "eval_every");
    o->save_every = args_int(a, "save_every");
    o->stop_at = args_has(a, "stop_at") ? args_int(a, "stop_at") : 0;
    o->seed = args_has(a, "seed") ? (uint64_t)args_int(a, "seed") : ws->seed;
    o->init = args_str(a, "init");
    o->labels = args_str(a, "labels");
    o->precision = stage_train_precision(args_str(a, "precision"));
}

static enum gr_status
setup(struct rw_run *r, struct ranking_set *labels, struct gr_error *err)
{
    enum gr_status rc;
    if ((rc = stage_load_tokenizer(r->ws, &r->tok, err)) != GR_OK ||
        (rc = rank_load_labels(r->ctx, r->ws, r->o.labels, 1, labels, err)) != GR_OK)
        return rc;
    if (!labels->n)
        return gr_fail(err, GR_ESTATE, "there are no rankings yet: rank some answers with "
                       "'garage rank' (or import preferences with 'garage prefs "
                       "import=FILE')");
    if ((rc = stage_pick_checkpoint(r->ws, r->o.init, "sft,base", &r->init_path,
                                    err)) != GR_OK ||
        (rc = stage_load_checkpoint(r->init_path, &r->tok, &r->model, &r->meta, 0,
                                    err)) != GR_OK)
        return rc;
    if (!strcmp(r->meta.kind, "reward"))
        return gr_fail(err, GR_EINPUT, "%s is a reward model; start from a language "
                       "model (init=checkpoints/sft-... or base-...)", r->init_path);
    if (r->o.causal < 0) {
        const char *objective = ckpt_objective(&r->meta);
        r->o.causal = !(objective && !strcmp(objective, "masked"));
        if (!r->o.causal)
            metrics_note(r->ctx->metrics, "%s was pretrained with masked LM: the reward "
                         "model reads it both ways (attention=bidirectional)",
                         r->init_path);
    }
    if ((rc = build_items(r, labels, err)) != GR_OK)
        return rc;
    if (!r->nitems)
        return gr_fail(err, GR_ESTATE, "the %zu labels imply no preference pairs (all "
                       "skipped, all bad or fully tied): rank more with 'garage rank'",
                       labels->n);
    if ((rc = build_probes(r, labels, err)) != GR_OK)
        return rc;
    const int C = r->C = r->model.cfg.C;
    int maxB = 1, maxT = 1;
    for (size_t i = 0; i < r->nitems; i++)
        for (int c = 0; c < r->items[i].n; c++) {
            maxB = r->items[i].n > maxB ? r->items[i].n : maxB;
            maxT = r->items[i].len[c] > maxT ? r->items[i].len[c] : maxT;
        }
    for (int p = 0; p < NPROBES; p++)
        maxT = r->probe_len[p] > maxT ? r->probe_len[p] : maxT;
    if (maxT > r->model.cfg.T)
        maxT = r->model.cfg.T;
    if (!r->o.causal)
        maxB = 1;
    if ((rc = gpt_set_precision(&r->model, r->o.precision, err)) != GR_OK)
        return rc;
    if (r->o.causal)
        maxT = gpt_padded_len(&r->model, maxT);
    if ((rc = gpt_alloc_acts(&r->model, maxB, maxT, err)) != GR_OK)
        return rc;
    r->maxB = maxB;
    r->inputs = xmalloc((size_t)maxB * maxT * sizeof *r->inputs);
    r->lens = xmalloc((size_t)maxB * sizeof *r->lens);
    r->raw = xmalloc((size_t)maxB * sizeof *r->raw);
    r->draw = xmalloc((size_t)maxB * sizeof *r->draw);
    r->dhidden = gr_aligned_alloc((size_t)maxB * maxT * C * sizeof *r->dhidden);
    if (!r->dhidden)
        return gr_fail(err, GR_ENOMEM, "cannot allocate the reward model's gradients");
    r->head = xcalloc((size_t)C + 1, sizeof *r->head);
    r->dhead = xcalloc((size_t)C + 1, sizeof *r->dhead);
    r->hm = xcalloc((size_t)C + 1, sizeof *r->hm);
    r->hv = xcalloc((size_t)C + 1, sizeof *r->hv);
    /* A small random head, so the trunk gets gradients from the first step. */
    struct gr_rng hr;
    rng_seed(&hr, r->o.seed ^ 0x68656164ULL);
    for (int c = 0; c < C; c++)
        r->head[c] = rng_normal(&hr) * (float)(0.1 / sqrt((double)C));
    /* The trunk's optimizer starts afresh. */
    memset(r->model.adam_m, 0, r->model.nparams * sizeof(float));
    memset(r->model.adam_v, 0, r->model.nparams * sizeof(float));
    return GR_OK;
}

static void
teardown(struct rw_run *r)
{
    for (size_t i = 0; i < r->nitems; i++)
        item_release(&r->items[i]);
    free(r->items);
    free(r->train);
    free(r->held);
    free(r->inputs);
    free(r->lens);
    free(r->raw);
    free(r->draw);
    gr_aligned_free(r->dhidden);
    free(r->head);
    free(r->dhead);
    free(r->hm);
    free(r->hv);
    free(r->probe_prompt);
    for (int p = 0; p < NPROBES; p++) {
        free(r->probe_text[p]);
        free(r->probe_seq[p]);
    }
    stats_release(&r->st_train);
    stats_release(&r->st_held);
    free(r->init_path);
    free(r->last_ckpt);
    free(r->saved_names);
    gpt_release(&r->model);
    ckpt_meta_release(&r->meta);
    bpe_release(&r->tok);
}

static double
quantile(float *x, size_t n, double q)
{
    if (!n)
        return NAN;
    size_t i = (size_t)(q * (double)(n - 1) + 0.5);
    return x[i];
}

static void
print_dist(struct gr_ctx *ctx, const char *name, float *x, size_t n)
{
    double m, sd;
    mean_sd(x, n, &m, &sd);
    qsort(x, n, sizeof *x, cmp_float);
    ctx_printf(ctx, "  %-9s %7.3f %6.3f %7.3f %7.3f %7.3f %7.3f %7.3f\n", name, m, sd,
               quantile(x, n, 0), quantile(x, n, 0.25), quantile(x, n, 0.5),
               quantile(x, n, 0.75), quantile(x, n, 1));
}

static void
one_line(char *buf, size_t cap, const char *s, size_t width)
{
    size_t n = 0;
    for (; *s && n + 4 < cap && n < width; s++)
        buf[n++] = *s == '\n' || *s == '\t' ? ' ' : *s;
    if (*s && n >= 3) {
        /* do not cut a UTF-8 character */
        while (n > 0 && ((unsigned char)buf[n - 1] & 0xc0) == 0x80)
            n--;
        if (n > 0 && ((unsigned char)buf[n - 1] & 0xc0) == 0xc0)
            n--;
        memcpy(buf + n, "...", 3);
        n += 3;
    }
    buf[n] = '\0';
}

static void
report(struct rw_run *r, long long step, double secs)
{
    struct gr_ctx *ctx = r->ctx;
    const struct rw_stats *tr = &r->st_train, *he = &r->st_held;
    ctx_printf(ctx, "Reward model: %zu training labels (%zu pairs), %zu held-out labels "
               "(%zu pairs, prompts never trained on); trunk %s.\n",
               r->ntrain, tr->pairs, r->nheld, he->pairs, r->init_path);
    ctx_printf(ctx, "Trained %lld step%s in %.1f s.\n\n", step, step == 1 ? "" : "s", secs);
    ctx_printf(ctx, "                   train  held-out\n");
    ctx_printf(ctx, "  pair accuracy   %5.1f%%    %5.1f%%\n", 100 * tr->acc, 100 * he->acc);
    ctx_printf(ctx, "  loss            %6.3f    %6.3f\n", tr->loss, he->loss);
    ctx_printf(ctx, "  mean margin     %6.3f    %6.3f\n\n", tr->margin, he->margin);
    const struct rw_stats *s = r->nheld ? he : tr;
    ctx_printf(ctx, "Scores of %s pairs (the model's own answers average 0):\n",
               r->nheld ? "held-out" : "training");
    ctx_printf(ctx, "               mean     sd     min     25%%  median     75%%     max\n");
    print_dist(ctx, "chosen", s->chosen, s->pairs);
    print_dist(ctx, "rejected", s->rejected, s->pairs);
    char pbuf[64];
    one_line(pbuf, sizeof pbuf, r->probe_prompt, 48);
    ctx_printf(ctx, "\nProbes (to the prompt \"%s\"):\n", pbuf);
    int warn = 0;
    for (int p = 0; p < NPROBES; p++) {
        char tb[64];
        one_line(tb, sizeof tb, r->probe_text[p], 40);
        int high = s->pairs && r->probe[p] > s->chosen_mean;
        warn |= high;
        ctx_printf(ctx, "  %-18s %7.3f  \"%s\"%s\n", probe_name[p], r->probe[p], tb,
                   high ? "  <- above the chosen mean" : "");
    }
    if (warn)
        ctx_printf(ctx, "A probe scores above the answers people chose: tuning against this "
                   "reward model may learn to game it (more varied rankings help).\n");
    if (r->nheld && isfinite(he->acc) && he->acc < 0.6)
        ctx_printf(ctx, "Held-out accuracy is near chance: rank more prompts, or train "
                   "longer (epochs=).\n");
    ctx_printf(ctx, "\nSaved %s (score offset %.3f).\n", r->last_ckpt, r->offset);
}

static enum gr_status
train(struct gr_ctx *ctx, const struct gr_args *a, struct gr_error *err)
{
    struct rw_run r = { 0 };
    struct ranking_set labels;
    rankings_init(&labels);
    r.ctx = ctx;
    r.ws = ctx->ws;
    bpe_init(&r.tok);
    ckpt_meta_init(&r.meta);
    read_opts(&r.o, a, ctx->ws);
    struct rw_opts *o = &r.o;
    char *logpath = NULL, *run = NULL;
    size_t *perm = NULL;
    enum gr_status rc = setup(&r, &labels, err);
    rankings_release(&labels);
    if (rc != GR_OK)
        goto out;

    run = workspace_run_name("reward");
    char *rel = xasprintf("logs/%s.jsonl", run);
    logpath = workspace_path(r.ws, rel);
    free(rel);
    if (ctx->metrics && (rc = metrics_open_log(ctx->metrics, logpath, err)) != GR_OK)
        goto out;

    const int B = o->batch < (int)r.ntrain ? o->batch : (int)r.ntrain;
    const long long per_epoch = ((long long)r.ntrain + B - 1) / B;
    const long long steps = per_epoch * o->epochs;
    const long long stop_at = o->stop_at > 0 && o->stop_at < steps ? o->stop_at : steps;
    metrics_note(ctx->metrics, "reward model from %s: %zu training label%s, %zu held out; "
                 "%d epoch%s of %lld step%s, %d label%s a step, %s attention; "
                 "products %s", r.init_path, r.ntrain, r.ntrain == 1 ? "" : "s",
                 r.nheld, o->epochs, o->epochs == 1 ? "" : "s", per_epoch,
                 per_epoch == 1 ? "" : "s", B, B == 1 ? "" : "s",
                 o->causal ? "causal" : "bidirectional",
                 stage_products_name(o->precision));
    if (r.ntrain < RW_FEW_LABELS)
        metrics_note(ctx->metrics, "note: %zu training labels are few for a reward model: "
                     "what it learns, and its held-out accuracy, say little yet; rank "
                     "more with 'garage rank' (a few hundred is a start) before tuning "
                     "against it", r.ntrain);
    {
        struct gr_metric rec;
        metric_begin(&rec, "run");
        metric_add(&rec, "steps", (double)steps);
        metric_add(&rec, "batch", B);
        metric_add(&rec, "lr", o->lr);
        metric_add(&rec, "train_labels", (double)r.ntrain);
        metric_add(&rec, "heldout_labels", (double)r.nheld);
        metric_text(&rec, "reward attention=%s", o->causal ? "causal" : "bidirectional");
        metrics_emit(ctx->metrics, &rec);
    }

    struct gr_rng rng;
    rng_seed(&rng, o->seed ^ 0x726577617264ULL);
    perm = xmalloc(r.ntrain * sizeof *perm);
    double t0 = stage_now(), ema = 0;
    long long step = 0;
    int stopped = 0;
    evaluate(&r, 0);
    emit_eval(&r, 0, 0);
    while (step < stop_at) {
        long long in_epoch = step % per_epoch;
        if (in_epoch == 0) {
            /* a fresh shuffle each epoch */
            memcpy(perm, r.train, r.ntrain * sizeof *perm);
            for (size_t i = r.ntrain; i > 1; i--) {
                size_t j = (size_t)rng_below(&rng, i);
                size_t x = perm[i - 1];
                perm[i - 1] = perm[j];
                perm[j] = x;
            }
        }
        if (job_should_stop(ctx->job)) {
            stopped = 1;
            break;
        }
        double ts = stage_now();
        size_t lo = (size_t)(in_epoch * B);
        size_t hi = lo + (size_t)B < r.ntrain ? lo + (size_t)B : r.ntrain;
        int nb = (int)(hi - lo);
        gpt_zero_grad(&r.model);
        memset(r.dhead, 0, ((size_t)r.C + 1) * sizeof *r.dhead);
        double loss = 0, correct = 0, pairs = 0;
        for (size_t k = lo; k < hi; k++) {
            struct rw_item *it = &r.items[perm[k]];
            double c;
            loss += train_item(&r, it, 1.0 / nb, &c);
            correct += c;
            pairs += it->npairs;
        }
        loss /= nb;
        /* One norm over trunk and head. */
        double gn = gpt_grad_norm(&r.model), hn = 0;
        for (int c = 0; c <= r.C; c++)
            hn += (double)r.dhead[c] * r.dhead[c];
        double gnorm = sqrt(gn * gn + hn);
        if (!isfinite(loss) || !isfinite(gnorm)) {
            rc = gr_fail(err, GR_ENUMERIC, "step %lld: the %s is %s; training stopped (try "
                         "a lower lr)", step + 1, isfinite(loss) ? "gradient norm" : "loss",
                         isnan(isfinite(loss) ? gnorm : loss) ? "NaN" : "infinite");
            goto out;
        }
        float gs = gpt_clip_scale((float)gnorm, (float)o->clip);
        double lr = train_lr(step, steps, o->warmup, o->lr, o->min_lr);
        adamw_step_scaled(&r.model, gs, (float)lr, 0.9f, 0.95f, 1e-8f, (float)o->wd,
                          (int)(step + 1));
        float bc1 = 1.0f - powf(0.9f, (float)(step + 1));
        float bc2 = 1.0f - powf(0.95f, (float)(step + 1));
        adamw_update(r.head, r.dhead, r.hm, r.hv, (size_t)r.C + 1, gs, (float)lr, 0.9f,
                     0.95f, 1e-8f, 0.0f, bc1, bc2);
        step++;

        double now = stage_now(), dt = now - ts;
        ema = step == 1 ? dt : 0.9 * ema + 0.1 * dt;
        struct gr_metric rec;
        metric_begin(&rec, "reward");
        metric_add(&rec, "step", (double)step);
        metric_add(&rec, "steps", (double)steps);
        metric_add(&rec, "epoch", (double)step / per_epoch);
        metric_add(&rec, "loss", loss);
        metric_add(&rec, "acc", pairs ? correct / pairs : NAN);
        metric_add(&rec, "lr", lr);
        metric_add(&rec, "grad_norm", gnorm);
        metric_add(&rec, "elapsed", now - t0);
        metric_add(&rec, "eta", ema * (double)(stop_at - step));
        metrics_emit(ctx->metrics, &rec);

        int last = step == stop_at;
        if ((o->eval_every > 0 && step % o->eval_every == 0) ||
            (o->eval_every == 0 && step % per_epoch == 0) || last) {
            evaluate(&r, last);
            emit_eval(&r, step, (double)step / per_epoch);
        }
        if ((o->save_every > 0 && step % o->save_every == 0 && !last) ||
            job_take_save(ctx->job)) {
            evaluate(&r, 0);        /* the offset of these weights */
            if ((rc = save(&r, step, err)) != GR_OK)
                goto out;
        }
    }
    if (stopped) {
        evaluate(&r, 1);
        emit_eval(&r, step, (double)step / per_epoch);
    }
    if ((rc = save(&r, step, err)) != GR_OK)
        goto out;
    size_t removed = remove_old(&r);
    if (removed)
        metrics_note(ctx->metrics, "removed %zu reward checkpoint%s of an earlier run",
                     removed, removed == 1 ? "" : "s");
    report(&r, step, stage_now() - t0);
    if (stopped)
        rc = gr_fail(err, GR_ESTOPPED, "reward training stopped at step %lld of %lld "
                     "(the checkpoint is usable; run 'garage reward' again to train "
                     "fully)", step, steps);
out:
    if (ctx->metrics)
        metrics_close_log(ctx->metrics);
    free(perm);
    free(logpath);
    free(run);
    teardown(&r);
    return rc;
}

/* ---- scoring -------------------------------------------------------- */

static enum gr_status
score(struct gr_ctx *ctx, const struct gr_args *a, struct gr_error *err)
{
    const struct workspace *ws = ctx->ws;
    char *const *words;
    size_t nw = args_list(a, "answers", &words);
    const char *prompt = args_str(a, "prompt");
    size_t first = 0;
    if (!prompt && nw >= 1) {
        prompt = words[0];
        first = 1;
    }
    if (!prompt || nw <= first)
        return gr_fail(err, GR_EUSAGE, "reward score needs a prompt and at least one "
                       "answer: garage reward score PROMPT ANSWER [ANSWER...]");
    int explain = args_bool(a, "explain");
    struct bpe t;
    struct reward_model rm = { 0 };
    char *path = NULL;
    float *sc = NULL;
    const char **texts = NULL;
    enum gr_status rc;
    bpe_init(&t);
    if ((rc = stage_load_tokenizer(ws, &t, err)) != GR_OK)
        goto out;
    const char *given = args_str(a, "checkpoint");
    if (given) {
        path = xstrdup(given);
    } else if (!(path = workspace_latest_checkpoint(ws, "reward"))) {
        rc = gr_fail(err, GR_ESTATE, "there is no reward model yet: train one with "
                     "'garage reward' (after ranking answers with 'garage rank')");
        goto out;
    }
    if ((rc = reward_load(path, &t, &rm, err)) != GR_OK)
        goto out;
    int n = (int)(nw - first), nprobe = explain ? 3 : 0;
    texts = xcalloc((size_t)(n + nprobe), sizeof *texts);
    for (int i = 0; i < n; i++)
        texts[i] = words[first + (size_t)i];
    if (explain) {
        texts[n] = "Yes.";
        texts[n + 1] = prompt;
        texts[n + 2] = "";
    }
    sc = xcalloc((size_t)(n + nprobe), sizeof *sc);
    if ((rc = reward_score_texts(&rm, &t, prompt, texts, n + nprobe, sc, err)) != GR_OK)
        goto out;
    if (!explain) {
        for (int i = 0; i < n; i++) {
            if (n == 1) {
                ctx_printf(ctx, "%.4f\n", sc[i]);
                continue;
            }
            char tb[96];
            one_line(tb, sizeof tb, texts[i], 60);
            ctx_printf(ctx, "%8.4f  %s\n", sc[i], tb);
        }
        goto out;
    }
    char pb[96];
    one_line(pb, sizeof pb, prompt, 70);
    ctx_printf(ctx, "Reward model %s\nPrompt: %s\n\n", path, pb);
    ctx_printf(ctx, "  rank    score  P(beats #1)  answer\n");
    int order[RANKING_MAX_ANSWERS + 8];
    int total = n + nprobe;
    int *ord = total <= (int)(sizeof order / sizeof *order) ? order
                                                          : xmalloc((size_t)total * sizeof *ord);
    for (int i = 0; i < total; i++)
        ord[i] = i;
    for (int i = 1; i < total; i++) {         /* stable, best first */
        int x = ord[i], j = i;
        while (j > 0 && sc[ord[j - 1]] < sc[x]) {
            ord[j] = ord[j - 1];
            j--;
        }
        ord[j] = x;
    }
    static const char *const probe_label[3] = { "(probe: very short)",
                                                "(probe: the prompt echoed)",
                                                "(probe: empty)" };
    int rank = 0;
    for (int k = 0; k < total; k++) {
        int i = ord[k];
        char tb[96];
        one_line(tb, sizeof tb, texts[i], 56);
        if (i < n)
            ctx_printf(ctx, "  %4d  %7.3f       %5.1f%%  #%d \"%s\"\n", ++rank, sc[i],
                       100 * sigmoid((double)sc[i] - sc[0]), i + 1, tb);
        else
            ctx_printf(ctx, "     -  %7.3f       %5.1f%%  %s\n", sc[i],
                       100 * sigmoid((double)sc[i] - sc[0]), probe_label[i - n]);
    }
    ctx_printf(ctx, "\nScores are normalised so the model's own answers average 0 (offset "
               "%.3f).\nP(beats #1) is the Bradley-Terry chance that a person prefers the "
               "answer to answer #1: sigmoid(score - score of #1).\n", rm.offset);
    if (ord != order)
        free(ord);
out:
    free(sc);
    free(texts);
    free(path);
    reward_release(&rm);
    bpe_release(&t);
    return rc;
}

enum gr_status
stage_reward(struct gr_ctx *ctx, const struct gr_args *a, struct gr_error *err)
{
    char *const *answers;
    if (args_bool(a, "score"))
        return score(ctx, a, err);
    if (args_list(a, "answers", &answers) || args_isset(a, "prompt") ||
        args_bool(a, "explain"))
        return gr_fail(err, GR_EUSAGE, "answers, prompt and explain are for scoring: "
                       "garage reward score PROMPT ANSWER [ANSWER...]");
    return train(ctx, a, err);
}
