/* rank.c: the ranking step.  For each prompt not ranked yet, sample K
 * answers from the current model (exact duplicates resampled), get a
 * ranking from the labeler (a person through the front end's
 * labeler_ops, or the rule), and append it to labels/rankings.jsonl with
 * one fsync before the next prompt is shown.  Answers are drawn from an
 * RNG seeded by the prompt, so a resumed run shows the same answers. */
#include "stages/rank.h"

#include <assert.h>
#include <ctype.h>
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "app/datadir.h"
#include "app/job.h"
#include "app/labeler.h"
#include "base/fsio.h"
#include "base/xalloc.h"
#include "model/sample.h"
#include "stages/common.h"
#include "stages/stages.h"
#include "text/chat.h"
#include "text/jsonl.h"
#include "text/labels.h"

#define RANK_RESAMPLE_ROUNDS 3      /* extra rounds to replace duplicates */

/* A label this run saved, as LABEL_UNDO takes it back: the prompt, and
 * the sizes of the files before it was appended. */
struct rank_undo {
    size_t i, number;
    long long labels_size, demos_size;  /* demos_size -1: no demonstration */
    int skipped;
};

/* Cut path back to size bytes, synced: what an undone label appended. */
static enum gr_status
cut_back(const char *path, long long size, struct gr_error *err)
{
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0 || ftruncate(fd, (off_t)size) != 0 || fsync(fd) != 0) {
        enum gr_status rc = gr_fail_errno(err, GR_EIO, "%s: cannot take back the last "
                                          "label", path);
        if (fd >= 0)
            close(fd);
        return rc;
    }
    close(fd);
    return GR_OK;
}

/* ---- the rule ------------------------------------------------------- */

static int
is_word_byte(unsigned char c)
{
    return isalnum(c) || c >= 0x80 || c == '_';
}

int
rank_has_word(const char *text, const char *word)
{
    size_t n = strlen(word);
    if (!n)
        return 0;
    for (const char *p = text; *p; p++) {
        if (strncasecmp(p, word, n) != 0)
            continue;
        int left = p == text || !is_word_byte((unsigned char)p[-1]);
        int right = !is_word_byte((unsigned char)p[n]);
        if (left && right)
            return 1;
    }
    return 0;
}

/* Characters (UTF-8 code points) of s. */
static size_t
utf8_chars(const char *s)
{
    size_t n = 0;
    for (; *s; s++)
        n += ((unsigned char)*s & 0xc0) != 0x80;
    return n;
}

double
rank_rule_score(const struct rank_rule *rule, const char *answer)
{
    double s = 0;
    for (size_t i = 0; i < rule->nprefer; i++)
        s += rank_has_word(answer, rule->prefer[i]);
    for (size_t i = 0; i < rule->navoid; i++)
        s -= rank_has_word(answer, rule->avoid[i]);
    for (size_t i = 0; i < rule->nmust; i++)
        s -= 100 * !rank_has_word(answer, rule->must[i]);
    if (rule->target_length > 0) {
        double d = fabs((double)utf8_chars(answer) - rule->target_length) /
                   rule->target_length;
        s -= round(10 * (d < 1 ? d : 1)) / 10;
    }
    return s;
}

void
rank_rule_order(const struct rank_rule *rule, const char *const *answers, int n,
                int *order, int *group)
{
    double score[LABEL_MAX_ANSWERS];
    assert(n <= LABEL_MAX_ANSWERS);
    for (int i = 0; i < n; i++) {
        score[i] = rank_rule_score(rule, answers[i]);
        order[i] = i;
        group[i] = -1;
    }
    /* insertion sort: stable, best first */
    for (int i = 1; i < n; i++) {
        int x = order[i], j = i;
        while (j > 0 && score[order[j - 1]] < score[x] - 1e-9) {
            order[j] = order[j - 1];
            j--;
        }
        order[j] = x;
    }
    for (int i = 0; i + 1 < n; i++) {
        int a = order[i], b = order[i + 1];
        if (fabs(score[a] - score[b]) < 1e-9) {
            if (group[a] < 0)
                group[a] = a;
            group[b] = group[a];
        }
    }
}

/* ---- prompts -------------------------------------------------------- */

static int
has_suffix(const char *s, const char *suf)
{
    size_t n = strlen(s), m = strlen(suf);
    return n >= m && strcmp(s + n - m, suf) == 0;
}

static void
push_prompt(char ***v, size_t *n, size_t *cap, const char *s, size_t len)
{
    for (size_t i = 0; i < *n; i++)
        if (strlen((*v)[i]) == len && memcmp((*v)[i], s, len) == 0)
            return;                     /* a duplicate */
    if (*n == *cap) {
        *cap = *cap ? 2 * *cap : 64;
        *v = xrealloc(*v, *cap * sizeof **v);
    }
    (*v)[(*n)++] = xstrndup(s, len);
}

enum gr_status
rank_read_prompts(const char *path, char ***out, size_t *n, struct gr_error *err)
{
    char *buf;
    size_t len, cap = 0;
    *out = NULL;
    *n = 0;
    enum gr_status rc = fs_read_all(path, &buf, &len, err);
    if (rc != GR_OK)
        return rc;
    if (has_suffix(path, ".jsonl")) {
        struct jsonl_reader rd;
        jsonl_reader_init(&rd, buf, len);
        json_t *obj;
        char why[JSONL_REASON];
        enum jsonl_result res;
        while ((res = jsonl_next(&rd, &obj, why)) != JSONL_END) {
            size_t sl;
            const char *s = res == JSONL_OBJECT ? jsonl_get_string(obj, "prompt", &sl, why)
                                                : NULL;
            if (s && strlen(s) != sl)
                s = NULL;
            if (!s) {
                rc = gr_fail(err, GR_EINPUT, "%s:%zu: %s", path, rd.line, why);
                json_decref(obj);
                break;
            }
            push_prompt(out, n, &cap, s, sl);
            json_decref(obj);
        }
    } else {
        for (char *p = buf, *e; p < buf + len; p = e + 1) {
            e = memchr(p, '\n', (size_t)(buf + len - p));
            if (!e)
                e = buf + len;
            char *s = p, *t = e;
            while (s < t && isspace((unsigned char)*s))
                s++;
            while (t > s && isspace((unsigned char)t[-1]))
                t--;
            if (s == t || *s == '#')
                continue;
            if (memchr(s, '\0', (size_t)(t - s))) {
                rc = gr_fail(err, GR_EINPUT, "%s: a line contains a NUL character "
                             "(is it a text file?)", path);
                break;
            }
            push_prompt(out, n, &cap, s, (size_t)(t - s));
        }
    }
    free(buf);
    if (rc == GR_OK && *n == 0)
        rc = gr_fail(err, GR_EINPUT, "%s holds no prompts (one prompt per line)", path);
    if (rc != GR_OK) {
        for (size_t i = 0; i < *n; i++)
            free((*out)[i]);
        free(*out);
        *out = NULL;
        *n = 0;
    }
    return rc;
}

/* ---- the label store ------------------------------------------------ */

static char *
default_labels_path(const struct workspace *ws)
{
    return workspace_path(ws, "labels/rankings.jsonl");
}

enum gr_status
rank_load_labels(struct gr_ctx *ctx, const struct workspace *ws, const char *path,
                 int with_demos, struct ranking_set *out, struct gr_error *err)
{
    char *own = path ? NULL : default_labels_path(ws);
    const char *p = path ? path : own;
    struct ranking_bad *bad = NULL;
    size_t nbad = 0;
    enum gr_status rc = rankings_read_file(p, out, &bad, &nbad, err);
    for (size_t i = 0; i < nbad && rc == GR_OK; i++) {
        if (i == 20) {
            metrics_note(ctx->metrics, "%s: %zu more bad lines skipped", p, nbad - i);
            break;
        }
        metrics_note(ctx->metrics, "%s:%zu: %s; skipped", p, bad[i].line, bad[i].why);
    }
    free(bad);
    if (rc == GR_OK && with_demos) {
        char *dp = workspace_path(ws, "labels/demos.jsonl");
        struct demo_set demos;
        demos_init(&demos);
        rc = demos_read_file(dp, 1, &demos, NULL, NULL, err);
        for (size_t i = 0; rc == GR_OK && i < out->n; i++) {
            struct ranking *r = &out->v[i];
            if (r->better || r->skipped)
                continue;
            for (size_t j = 0; j < demos.n; j++) {
                const struct demo *d = &demos.v[j];
                if (d->nturns == 2 && d->turns[0].role == CHAT_USER &&
                    !strcmp(d->turns[0].text, r->prompt)) {
                    r->better = xstrdup(d->turns[1].text);
                    break;
                }
            }
        }
        demos_release(&demos);
        free(dp);
    }
    free(own);
    return rc;
}

/* ---- sampling ------------------------------------------------------- */

struct sampler {
    struct gpt model;
    struct kvcache kv;
    struct sampler_opts so;
    int K, max_tokens;
    float *logits, *scratch;        /* (K,V), (2V) */
    int32_t *hist;                  /* (K,T) */
    int32_t *tok;                   /* (K) */
};

/* Sample K answers to the encoded prompt (np tokens): texts into out (K),
 * caller frees each. */
static void
sample_answers(struct sampler *s, const struct bpe *t, const int32_t *prompt,
               int np, struct gr_rng *rng, char **out)
{
    const int K = s->K, T = s->model.cfg.T, V = s->model.cfg.V;
    int room = T - np - 1;              /* the final <|end|> must fit too */
    int maxn = s->max_tokens < room ? s->max_tokens : room;
    int32_t *pre = xmalloc((size_t)K * np * sizeof *pre);
    for (int k = 0; k < K; k++)
        memcpy(pre + (size_t)k * np, prompt, (size_t)np * sizeof *pre);
    kvcache_reset(&s->kv);
    gpt_prefill(&s->model, &s->kv, pre, np, s->logits);
    free(pre);
    int len[LABEL_MAX_ANSWERS] = { 0 }, done[LABEL_MAX_ANSWERS] = { 0 };
    int alive = K;
    for (int n = 0; n < maxn && alive; n++) {
        for (int k = 0; k < K; k++) {
            int32_t *h = s->hist + (size_t)k * T;
            if (done[k]) {
                s->tok[k] = BPE_END;
                continue;
            }
            /* the answer so far is the repetition penalty's history */
            int next = sample_next(s->logits + (size_t)k * V, V, &s->so, h, len[k],
                                   rng, s->scratch);
            if (next >= BPE_ENDOFTEXT && next < BPE_FIRST_MERGE) {  /* any special */
                done[k] = 1;
                alive--;
                s->tok[k] = BPE_END;
                continue;
            }
            h[len[k]++] = next;
            s->tok[k] = next;
        }
        if (alive && n + 1 < maxn)
            gpt_forward_step(&s->model, &s->kv, s->tok, np + n, s->logits);
    }
    for (int k = 0; k < K; k++) {
        size_t nb;
        char *raw = bpe_decode(t, s->hist + (size_t)k * T, (size_t)len[k], &nb);
        out[k] = chat_clean_text(raw, nb);
        free(raw);
    }
}

/* Up to K distinct, non-empty answers; returns how many. */
static int
sample_distinct(struct sampler *s, const struct bpe *t, const int32_t *prompt,
                int np, struct gr_rng *rng, char **answers)
{
    int K = s->K, have = 0;
    char *batch[LABEL_MAX_ANSWERS];
    for (int round = 0; round <= RANK_RESAMPLE_ROUNDS && have < K; round++) {
        sample_answers(s, t, prompt, np, rng, batch);
        for (int k = 0; k < K; k++) {
            int dup = !*batch[k];
            for (int j = 0; j < have && !dup; j++)
                dup = !strcmp(answers[j], batch[k]);
            if (dup || have == K) {
                free(batch[k]);
                continue;
            }
            answers[have++] = batch[k];
        }
    }
    return have;
}

/* ---- the step ------------------------------------------------------- */

struct rank_opts {
    const char *prompts_path;
    long long count;
    int K, max_tokens, ratings, human;
    enum gpt_precision precision;   /* of the weights sampling reads */
    struct sampler_opts so;
    uint64_t seed;
    struct rank_rule rule;
};

/* The rule's settings, as a label records them. */
static json_t *
rule_json(const struct rank_rule *rule)
{
    struct { const char *key; char *const *v; size_t n; } lists[] = {
        { "prefer", rule->prefer, rule->nprefer },
        { "avoid", rule->avoid, rule->navoid },
        { "must_contain", rule->must, rule->nmust },
    };
    json_t *o = json_object();
    for (size_t i = 0; i < sizeof lists / sizeof *lists; i++) {
        json_t *a = json_array();
        for (size_t j = 0; j < lists[i].n; j++)
            json_array_append_new(a, json_string(lists[i].v[j]));
        json_object_set_new(o, lists[i].key, a);
    }
    json_object_set_new(o, "target_length", json_integer(rule->target_length));
    return o;
}

static void
read_opts(struct rank_opts *o, const struct gr_args *a, const struct workspace *ws)
{
    o->prompts_path = args_str(a, "prompts");
    o->count = args_int(a, "count");
    o->K = (int)args_int(a, "answers");
    o->max_tokens = (int)args_int(a, "max_tokens");
    o->precision = stage_gen_precision(args_str(a, "precision"));
    o->ratings = args_bool(a, "ratings");
    o->human = strcmp(args_str(a, "labeler"), "human") == 0;
    o->so = (struct sampler_opts){
        .temperature = (float)args_float(a, "temperature"),
        .top_k = (int)args_int(a, "top_k"),
        .top_p = (float)args_float(a, "top_p"),
        .repetition_penalty = (float)args_float(a, "repetition_penalty"),
    };
    o->seed = args_has(a, "seed") ? (uint64_t)args_int(a, "seed") : ws->seed;
    o->rule.nprefer = args_list(a, "prefer", &o->rule.prefer);
    o->rule.navoid = args_list(a, "avoid", &o->rule.avoid);
    o->rule.nmust = args_list(a, "must_contain", &o->rule.must);
    o->rule.target_length = (int)args_int(a, "target_length");
}

/* path relative to the workspace when inside it. */
static const char *
ws_relative(const struct workspace *ws, const char *path)
{
    size_t n = strlen(ws->root);
    if (!strncmp(path, ws->root, n) && path[n] == '/')
        return path + n + 1;
    return path;
}

/* To the person when one is ranking, else a note. */
static void
notice(struct gr_ctx *ctx, int human, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
notice(struct gr_ctx *ctx, int human, const char *fmt, ...)
{
    char buf[GR_METRIC_TEXT];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    if (human && ctx->labeler && ctx->labeler->notice)
        ctx->labeler->notice(ctx->labeler_ctx, buf);
    else
        metrics_note(ctx->metrics, "%s", buf);
}

/* Check a person's reply and turn it into r's order, groups and ratings. */
static enum gr_status
take_reply(const struct label_query *q, struct label_reply *rep, struct ranking *r,
           struct gr_error *err)
{
    int K = q->nanswers;
    r->group = xmalloc((size_t)K * sizeof *r->group);
    r->order = xmalloc((size_t)K * sizeof *r->order);
    for (int i = 0; i < K; i++)
        r->group[i] = -1;
    int rated = 0;
    for (int i = 0; i < K; i++) {
        if (rep->ratings[i] > LABEL_MAX_RATING || rep->ratings[i] < -1)
            return gr_fail(err, GR_EINTERNAL, "the labeler gave rating %d (0-5)",
                           rep->ratings[i]);
        rated |= rep->ratings[i] >= 0;
    }
    if (rated) {
        r->ratings = xmalloc((size_t)K * sizeof *r->ratings);
        memcpy(r->ratings, rep->ratings, (size_t)K * sizeof *r->ratings);
    }
    if (rep->better) {
        char *b = chat_clean_text(rep->better, strlen(rep->better));
        if (*b)
            r->better = b;
        else
            free(b);
    }
    switch (rep->verdict) {
    case LABEL_SKIP:
        r->skipped = 1;
        return GR_OK;
    case LABEL_ALL_BAD:
        r->all_bad = 1;
        return GR_OK;
    case LABEL_RATED:
        if (!rated)
            return gr_fail(err, GR_EINTERNAL, "the labeler rated no answer");
        ranking_order_from_ratings(K, r->ratings, r->order, r->group);
        r->norder = K;
        return GR_OK;
    case LABEL_ORDERED: {
        int seen[LABEL_MAX_ANSWERS] = { 0 };
        if (rep->norder != K)
            return gr_fail(err, GR_EINTERNAL, "the labeler ordered %d of %d answers",
                           rep->norder, K);
        for (int i = 0; i < K; i++) {
            int x = rep->order[i];
            if (x < 0 || x >= K || seen[x]++)
                return gr_fail(err, GR_EINTERNAL, "the labeler gave a bad order");
            r->order[i] = x;
        }
        r->norder = K;
        for (int i = 0; i + 1 < K; i++)
            if (rep->tie[i]) {
                int a = r->order[i], b = r->order[i + 1];
                if (r->group[a] < 0)
                    r->group[a] = a;
                r->group[b] = r->group[a];
            }
        return GR_OK;
    }
    case LABEL_QUIT:
    case LABEL_RESAMPLE:        /* handled by the caller */
    case LABEL_UNDO:
        break;
    }
    return gr_fail(err, GR_EINTERNAL, "unexpected labeler verdict");
}

enum gr_status
stage_rank(struct gr_ctx *ctx, const struct gr_args *a, struct gr_error *err)
{
    const struct workspace *ws = ctx->ws;
    struct rank_opts o;
    read_opts(&o, a, ws);
    struct bpe t;
    struct ckpt_meta meta;
    struct sampler s = { .K = o.K, .max_tokens = o.max_tokens, .so = o.so };
    struct ranking_set have;
    char **prompts = NULL, *ckpt = NULL, *own_prompts = NULL, *labels = NULL;
    struct rank_undo *undo = NULL;      /* labels LABEL_UNDO can take back */
    size_t nprompts = 0;
    int32_t *ptoks = NULL;
    size_t ptcap = 0;
    unsigned char *done = NULL;
    enum gr_status rc;
    ckpt_meta_init(&meta);
    rankings_init(&have);
    bpe_init(&t);

    if (!o.human && !o.rule.nprefer && !o.rule.navoid && !o.rule.nmust &&
        !o.rule.target_length)
        return gr_fail(err, GR_EINPUT, "labeler=rule needs a rule: give prefer=WORD, "
                       "avoid=WORD, must_contain=WORD or target_length=N (see 'garage "
                       "help rank')");
    if (!o.prompts_path) {
        own_prompts = data_path("prompts.txt");
        if (!fs_exists(own_prompts)) {
            rc = gr_fail(err, GR_EINPUT, "no prompts to rank: give prompts=FILE (one "
                         "prompt per line); the default %s is not installed",
                         own_prompts);
            free(own_prompts);
            return rc;
        }
        o.prompts_path = own_prompts;
    }
    if ((rc = rank_read_prompts(o.prompts_path, &prompts, &nprompts, err)) != GR_OK ||
        (rc = stage_load_tokenizer(ws, &t, err)) != GR_OK ||
        (rc = stage_pick_checkpoint(ws, args_str(a, "checkpoint"), "sft,base",
                                    &ckpt, err)) != GR_OK ||
        (rc = stage_load_checkpoint(ckpt, &t, &s.model, &meta, 0, err)) != GR_OK)
        goto out;
    if (meta.step == 0)
        metrics_note(ctx->metrics, "note: %s is untrained (step 0): its answers will be "
                     "noise", ckpt);
    labels = default_labels_path(ws);
    if ((rc = rank_load_labels(ctx, ws, labels, 0, &have, err)) != GR_OK)
        goto out;

    /* Which of the first `count` prompts are left. */
    size_t first = o.count > 0 && (size_t)o.count < nprompts ? (size_t)o.count : nprompts;
    done = xcalloc(first ? first : 1, 1);
    size_t left = 0, before = 0;
    for (size_t i = 0; i < first; i++) {
        for (size_t j = 0; j < have.n && !done[i]; j++)
            done[i] = have.v[j].labeler && strcmp(have.v[j].labeler, "import") != 0 &&
                      !strcmp(have.v[j].prompt, prompts[i]);
        left += !done[i];
        before += done[i];
    }
    if (!left) {
        ctx_printf(ctx, "All %zu prompts are ranked already (%s); nothing to do.\n"
                   "Rank more with count=N or another prompts file.\n", first,
                   ws_relative(ws, labels));
        goto out;
    }
    if (o.human && !ctx->labeler) {
        rc = gr_fail(err, GR_EINPUT, "labeler=human needs a person to rank the answers, "
                     "and this run has no terminal to ask one (standard input is not "
                     "a terminal or a script): run 'garage rank' in a terminal, or use "
                     "labeler=rule with prefer/avoid/target_length for a headless run");
        goto out;
    }
    if (before)
        metrics_note(ctx->metrics, "resuming: %zu of %zu prompts are ranked already",
                     before, first);

    if ((rc = kvcache_init(&s.kv, &s.model.cfg, o.K, err)) != GR_OK ||
        (rc = kvcache_set_precision(&s.kv, o.precision, err)) != GR_OK)
        goto out;
    const int T = s.model.cfg.T, V = s.model.cfg.V;
    s.logits = xmalloc((size_t)o.K * V * sizeof *s.logits);
    s.scratch = xmalloc(2 * (size_t)V * sizeof *s.scratch);
    s.hist = xmalloc((size_t)o.K * T * sizeof *s.hist);
    s.tok = xmalloc((size_t)o.K * sizeof *s.tok);
    const char *ckrel = ws_relative(ws, ckpt);

    size_t nlabels = 0, nskipped = 0, nfew = 0, number = 0;
    int quit = 0;
    undo = xmalloc((first ? first : 1) * sizeof *undo);
    size_t nundo = 0;
    for (size_t i = 0; i < first && !quit; i++) {
        if (done[i])
            continue;
        number++;
        if (job_should_stop(ctx->job)) {
            rc = gr_fail(err, GR_ESTOPPED, "ranking stopped; %zu labels saved this run "
                         "(run the step again to go on)", nlabels);
            goto out;
        }
        if (!o.human)
            metrics_progress(ctx->metrics, "rank", (double)(number - 1), (double)left,
                             "prompts");
        size_t np = 0;
        if ((rc = chat_encode_pair(&t, prompts[i], NULL, &ptoks, &np, &ptcap, NULL,
                                   err)) != GR_OK)
            goto out;
        if ((int)np + 4 > T) {
            notice(ctx, o.human, "prompt %zu skipped: %zu tokens, too long for the model's "
                   "context of %d", i + 1, np, T);
            nfew++;
            continue;
        }
        struct gr_rng rng;
        rng_seed(&rng, rng_hash64(o.seed, gr_hash64(prompts[i], strlen(prompts[i]),
                                                     0x72616e6bULL)));
    resample:                           /* LABEL_RESAMPLE: the rng goes on */
        ;
        char *answers[LABEL_MAX_ANSWERS];
        int K = sample_distinct(&s, &t, ptoks, (int)np, &rng, answers);
        if (K < 2) {
            notice(ctx, o.human, "prompt %zu skipped: fewer than two usable answers (%d distinct, "
                   "non-empty) after %d tries: \"%.60s\"", i + 1, K,
                   RANK_RESAMPLE_ROUNDS + 1, prompts[i]);
            for (int k = 0; k < K; k++)
                free(answers[k]);
            nfew++;
            continue;
        }

        struct ranking r = { 0 };
        r.prompt = xstrdup(prompts[i]);
        r.answers = xmalloc((size_t)K * sizeof *r.answers);
        memcpy(r.answers, answers, (size_t)K * sizeof *answers);
        r.nanswers = K;
        r.labeler = xstrdup(o.human ? "human" : "rule");
        if (!o.human)
            r.rule = rule_json(&o.rule);
        r.checkpoint = xstrdup(ckrel);
        struct label_query q = {
            .prompt = prompts[i], .nanswers = K, .number = number, .total = left,
            .done = before + nlabels, .want_ratings = o.ratings, .checkpoint = ckrel,
            .can_undo = nundo,
        };
        for (int k = 0; k < K; k++)
            q.answers[k] = r.answers[k];
        if (o.human) {
            struct label_reply rep;
            memset(&rep, 0, sizeof rep);
            for (int k = 0; k < LABEL_MAX_ANSWERS; k++)
                rep.ratings[k] = -1;
            rc = ctx->labeler->rank(ctx->labeler_ctx, &q, &rep, err);
            if (rc == GR_OK && rep.verdict == LABEL_RESAMPLE) {
                free(rep.better);
                ranking_release(&r);
                goto resample;
            }
            if (rc == GR_OK && rep.verdict == LABEL_UNDO) {
                free(rep.better);
                ranking_release(&r);
                if (!nundo) {
                    rc = gr_fail(err, GR_EINTERNAL, "the labeler asked to undo, and "
                                 "this run has saved no label");
                    goto out;
                }
                struct rank_undo *u = &undo[--nundo];
                char *dp = workspace_path(ws, "labels/demos.jsonl");
                rc = cut_back(labels, u->labels_size, err);
                if (rc == GR_OK && u->demos_size >= 0)
                    rc = cut_back(dp, u->demos_size, err);
                free(dp);
                if (rc != GR_OK)
                    goto out;
                nlabels--;
                nskipped -= (size_t)u->skipped;
                number = u->number - 1;         /* the loop counts it again */
                i = u->i - 1;                   /* (wraps, then ++ back to u->i) */
                continue;
            }
            if (rc == GR_OK && rep.verdict == LABEL_QUIT)
                quit = 1;
            else if (rc == GR_OK)
                rc = take_reply(&q, &rep, &r, err);
            free(rep.better);
        } else {
            r.order = xmalloc((size_t)K * sizeof *r.order);
            r.group = xmalloc((size_t)K * sizeof *r.group);
            rank_rule_order(&o.rule, (const char *const *)r.answers, K, r.order, r.group);
            r.norder = K;
        }
        if (rc != GR_OK || quit) {
            ranking_release(&r);
            if (rc == GR_ESTOPPED && !err->msg[0])
                gr_fail(err, GR_ESTOPPED, "ranking stopped; %zu labels saved this run",
                        nlabels);
            if (rc != GR_OK)
                goto out;
            break;
        }
        r.time = rankings_now();
        char *demos_path = workspace_path(ws, "labels/demos.jsonl");
        struct rank_undo u = {
            .i = i, .number = number, .skipped = r.skipped,
            .labels_size = fs_exists(labels) ? fs_size(labels) : 0,
            .demos_size = !r.better ? -1 : fs_exists(demos_path) ? fs_size(demos_path) : 0,
        };
        free(demos_path);
        rc = rankings_append(labels, &r, err);
        if (rc == GR_OK && r.better) {
            /* A written answer is a demonstration too (for SFT). */
            char *dp = workspace_path(ws, "labels/demos.jsonl");
            struct demo d;
            demo_from_pair(&d, r.prompt, r.better);
            rc = demos_append(dp, &d, err);
            demo_release(&d);
            free(dp);
        }
        nskipped += r.skipped;
        ranking_release(&r);
        if (rc != GR_OK)
            goto out;
        nlabels++;
        if (u.labels_size >= 0)             /* else it cannot be taken back */
            undo[nundo++] = u;
        if (ctx->labeler && ctx->labeler->saved && o.human)
            ctx->labeler->saved(ctx->labeler_ctx, &q, nlabels);
    }
    if (!o.human)
        metrics_progress(ctx->metrics, "rank", (double)left, (double)left, "prompts");
    size_t total = before + nlabels;
    if (quit)
        ctx_printf(ctx, "Stopped: %zu label%s saved this run, %zu of %zu prompts ranked.\n"
                   "Run the same command again to go on where you left off.\n",
                   nlabels, nlabels == 1 ? "" : "s", total, first);
    else
        ctx_printf(ctx, "Ranked %zu prompt%s (%zu skipped by the labeler, %zu without two "
                   "usable answers); %zu of %zu prompts are ranked in %s.\n"
                   "Next: train the reward model with 'garage reward'.\n",
                   nlabels, nlabels == 1 ? "" : "s", nskipped, nfew, total, first,
                   ws_relative(ws, labels));
out:
    for (size_t i = 0; i < nprompts; i++)
        free(prompts[i]);
    free(prompts);
    free(done);
    free(undo);
    free(ptoks);
    free(ckpt);
    free(own_prompts);
    free(labels);
    free(s.logits);
    free(s.scratch);
    free(s.hist);
    free(s.tok);
    kvcache_release(&s.kv);
    gpt_release(&s.model);
    ckpt_meta_release(&meta);
    rankings_release(&have);
    bpe_release(&t);
    return rc;
}
