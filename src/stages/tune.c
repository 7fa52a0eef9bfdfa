/* tune.c: the 'tune' command: reward-guided fine-tuning with PPO and a
 * per-token KL penalty to a frozen reference (model/ppo.h holds the
 * mathematics).
 *
 * The policy starts from the newest sft checkpoint (else base); the
 * reference is a frozen copy of the same checkpoint.  The value
 * function is a linear head on the policy's own trunk (why: ppo.h).
 * Each iteration takes the next `batch` prompts of the prompt stream (a
 * fresh seeded shuffle of the file per pass), samples one answer to
 * each in one batched key-value cache, scores them with the reward model
 * (an answer cut off at max_answer_tokens without <|end|> loses
 * cutoff_penalty), and runs the PPO epochs.
 *
 * checkpoints/tuned-ITER.ckpt holds the policy with its AdamW moments,
 * the value head and its moments (the extra floats), the RNG, the
 * position in the prompt stream (data_pos), and in the header's extra
 * object the KL controller, the optimizer's step count, the reference
 * and reward checkpoints, and the warnings' baselines: resuming
 * continues the same run bit for bit.
 *
 * compare=true: after each iteration's update, the reference and the
 * policy each answer the first prompt of that iteration, from the same
 * seed (one drawn from the iteration number, so the run's own random
 * stream, and resuming, stay as they are), both answers scored: two
 * "tune_compare" records, for the side-by-side view of a front end.
 *
 * A KL above kl_stop (or not finite) stops the run: the checkpoint
 * whose policy produced it is set aside as tuned-ITER.ckpt.rejected, so
 * the newest tuned checkpoint left is a good one. */
#include "stages/tune.h"

#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "app/datadir.h"
#include "app/job.h"
#include "base/fsio.h"
#include "base/xalloc.h"
#include "stages/common.h"
#include "stages/stages.h"
#include "stages/train.h"
#include "text/chat.h"

/* ---- shared with eval.c --------------------------------------------- */

enum gr_status
tune_prompts_load(struct tune_prompts *p, const char *path, const struct bpe *t,
                  int T, int max_answer, struct gr_error *err)
{
    memset(p, 0, sizeof *p);
    char **text = NULL;
    size_t n = 0;
    enum gr_status rc = rank_read_prompts(path, &text, &n, err);
    if (rc != GR_OK)
        return rc;
    p->text = xcalloc(n, sizeof *p->text);
    p->tok = xcalloc(n, sizeof *p->tok);
    p->len = xcalloc(n, sizeof *p->len);
    for (size_t i = 0; i < n; i++) {
        int32_t *toks = NULL;
        size_t ntok = 0, cap = 0;
        rc = chat_encode_pair(t, text[i], NULL, &toks, &ntok, &cap, NULL, err);
        if (rc != GR_OK) {
            free(toks);
            break;
        }
        if ((long long)ntok + max_answer > T) {
            free(toks);
            free(text[i]);
            p->skipped++;
            continue;
        }
        p->text[p->n] = text[i];
        p->tok[p->n] = toks;
        p->len[p->n] = (int)ntok;
        p->n++;
        text[i] = NULL;
    }
    for (size_t i = 0; i < n; i++)
        free(text[i]);
    free(text);
    if (rc == GR_OK && p->n == 0)
        rc = gr_fail(err, GR_EINPUT, "%s: every prompt is too long for the model's "
                     "context of %d tokens with max_answer_tokens=%d (lower it, or "
                     "use shorter prompts)", path, T, max_answer);
    if (rc != GR_OK)
        tune_prompts_release(p);
    return rc;
}

void
tune_prompts_release(struct tune_prompts *p)
{
    if (!p)
        return;
    for (size_t i = 0; i < p->n; i++) {
        free(p->text[i]);
        free(p->tok[i]);
    }
    free(p->text);
    free(p->tok);
    free(p->len);
    memset(p, 0, sizeof *p);
}

enum gr_status
tune_score(struct reward_model *rm, const struct ppo_rollouts *ro, float *scores,
           struct gr_error *err)
{
    int B = ro->B;
    int32_t **seqs = xcalloc((size_t)B, sizeof *seqs);
    int *lens = xcalloc((size_t)B, sizeof *lens);
    for (int b = 0; b < B; b++) {
        int n = ro->plen[b] + ro->alen[b];
        seqs[b] = xmalloc((size_t)(n + 1) * sizeof **seqs);
        memcpy(seqs[b], ro->seq + (size_t)b * ro->T, (size_t)n * sizeof **seqs);
        if (!ro->ended[b])
            seqs[b][n++] = BPE_END;     /* the head reads the closing <|end|> */
        lens[b] = n;
    }
    enum gr_status rc = reward_score_batch(rm, (const int32_t *const *)seqs, lens,
                                           B, scores, err);
    for (int b = 0; b < B; b++)
        free(seqs[b]);
    free(seqs);
    free(lens);
    return rc;
}

char *
tune_answer_text(const struct bpe *t, const struct ppo_rollouts *ro, int b)
{
    int n = ro->alen[b] - ro->ended[b];
    size_t nb;
    char *raw = bpe_decode(t, ro->seq + (size_t)b * ro->T + ro->plen[b], (size_t)n, &nb);
    char *text = chat_clean_text(raw, nb);
    free(raw);
    return text;
}

int
tune_read_rule(const struct gr_args *a, struct rank_rule *rule)
{
    memset(rule, 0, sizeof *rule);
    rule->nprefer = args_list(a, "prefer", &rule->prefer);
    rule->navoid = args_list(a, "avoid", &rule->avoid);
    rule->nmust = args_list(a, "must_contain", &rule->must);
    rule->target_length = (int)args_int(a, "target_length");
    return rule->nprefer || rule->navoid || rule->nmust || rule->target_length;
}

char *
tune_path_store(const struct workspace *ws, const char *path)
{
    size_t n = strlen(ws->root);
    if (strncmp(path, ws->root, n) == 0 && path[n] == '/')
        return xstrdup(path + n + 1);
    return xstrdup(path);
}

char *
tune_path_load(const struct workspace *ws, const char *stored)
{
    if (stored[0] == '/')
        return xstrdup(stored);
    return workspace_path(ws, stored);
}

/* ---- the run ---------------------------------------------------------- */

struct tune_opts {
    long long steps, stop_at, save_every, show_every;
    struct ppo_hparams h;
    double kl_coef, target_kl, kl_horizon, kl_bound, kl_stop, penalty;
    double ptx_coef;
    int ptx_batch;
    int resume, replace, show, compare;
    enum gpt_precision precision;   /* of the rollouts' weights */
    enum gpt_precision train_precision;     /* of the updates' products */
    uint64_t seed;
    struct rank_rule rule;
    int has_rule;
};

struct tune_run {
    struct tune_opts o;
    struct gr_ctx *ctx;
    const struct workspace *ws;
    struct bpe tok;
    struct gpt policy, ref;
    struct ckpt_meta meta;          /* of the tuned checkpoints */
    struct reward_model rm;
    int have_rm;
    struct tune_prompts prompts;
    struct ppo ppo;
    struct gr_rng rng;
    char *prompts_path, *init_path, *ref_path, *rm_path, *last_ckpt;
    uint64_t prompt_seed;
    long long perm_epoch;
    size_t *perm;                   /* (prompts.n) this pass's order */
    struct tune_watch watch;        /* for the warnings */
    /* PPO-ptx: windows of the training split */
    struct shard train;
    int32_t *ptx_in, *ptx_tg;       /* (ptx_batch,T) */
    /* compare=true: one answer of each model, sampled as rollouts are */
    struct kvcache cmp_kv;                  /* one sequence */
    int have_cmp_kv;
    struct ppo_rollouts cmp_ro[2];          /* the reference's, the policy's */
    float *cmp_scratch;                     /* (3V) for ppo_sample */
};

/* The ppo ptx hook: ptx_coef times the next-token loss on random windows
 * of the corpus, drawn from the run's rng (so resuming repeats them). */
static double
ptx_grads(void *ctx, struct gpt *m)
{
    struct tune_run *r = ctx;
    int B = r->o.ptx_batch, T = m->cfg.T;
    pretrain_fill_batch(&r->train, &r->rng, 0, m->cfg.V, B, T, r->ptx_in,
                        r->ptx_tg, NULL);
    double loss = gpt_forward(m, r->ptx_in, r->ptx_tg, B, T, 1);
    float keep = m->loss_scale;
    m->loss_scale = (float)r->o.ptx_coef;
    gpt_backward(m);
    m->loss_scale = keep;
    return loss;
}

static void
read_opts(struct tune_opts *o, const struct gr_args *a, const struct workspace *ws)
{
    o->steps = args_int(a, "steps");
    o->stop_at = args_has(a, "stop_at") ? args_int(a, "stop_at") : o->steps;
    o->save_every = args_int(a, "save_every");
    o->show_every = args_int(a, "show_every");
    o->show = (int)args_int(a, "show");
    o->compare = args_bool(a, "compare");
    o->precision = stage_gen_precision(args_str(a, "precision"));
    o->train_precision = stage_train_precision(args_str(a, "precision"));
    struct ppo_hparams *h = &o->h;
    *h = ppo_defaults();
    h->batch = (int)args_int(a, "batch");
    h->minibatch = (int)args_int(a, "minibatch");
    h->epochs = (int)args_int(a, "ppo_epochs");
    h->max_answer = (int)args_int(a, "max_answer_tokens");
    h->temperature = (float)args_float(a, "temperature");
    h->clip = (float)args_float(a, "clip");
    h->value_clip = (float)args_float(a, "value_clip");
    h->vf_coef = (float)args_float(a, "vf_coef");
    h->gamma = (float)args_float(a, "gamma");
    h->lambda = (float)args_float(a, "lambda");
    h->lr = (float)args_float(a, "lr");
    h->weight_decay = (float)args_float(a, "weight_decay");
    h->grad_clip = (float)args_float(a, "grad_clip");
    o->kl_coef = args_float(a, "kl_coef");
    o->target_kl = args_float(a, "target_kl");
    o->kl_horizon = args_float(a, "kl_horizon");
    o->kl_bound = args_float(a, "kl_bound");
    o->kl_stop = args_float(a, "kl_stop");
    o->penalty = args_float(a, "cutoff_penalty");
    o->ptx_coef = args_float(a, "ptx_coef");
    o->ptx_batch = (int)args_int(a, "ptx_batch");
    o->resume = args_bool(a, "resume");
    o->replace = args_bool(a, "replace");
    o->seed = args_has(a, "seed") ? (uint64_t)args_int(a, "seed") : ws->seed;
    o->has_rule = tune_read_rule(a, &o->rule);
}

/* Remove tuned checkpoints (replace=true), and temporary files a killed
 * run left behind. */
static void
clean_checkpoints(const struct workspace *ws, int all)
{
    char *dir = workspace_path(ws, "checkpoints");
    DIR *d = opendir(dir);
    if (d) {
        struct dirent *e;
        while ((e = readdir(d))) {
            const char *n = e->d_name;
            if (strncmp(n, "tuned-", 6) != 0)
                continue;
            size_t len = strlen(n);
            int tmp = strstr(n, ".ckpt.tmp.") != NULL;
            int ckpt = len > 5 && strcmp(n + len - 5, ".ckpt") == 0;
            if (tmp || (all && ckpt)) {
                char *p = fs_join(dir, n);
                unlink(p);
                free(p);
            }
        }
        closedir(d);
    }
    free(dir);
}

static double
jnum(json_t *o, const char *key, double def)
{
    json_t *v = o ? json_object_get(o, key) : NULL;
    return v && json_is_number(v) ? json_number_value(v) : def;
}

static const char *
jstr(json_t *o, const char *key)
{
    json_t *v = o ? json_object_get(o, key) : NULL;
    return v && json_is_string(v) ? json_string_value(v) : NULL;
}

/* The index of the prompt at position pos of the stream. */
static size_t
prompt_at(struct tune_run *r, uint64_t pos)
{
    size_t n = r->prompts.n;
    long long epoch = (long long)(pos / n);
    if (epoch != r->perm_epoch) {
        struct gr_rng g;
        rng_seed(&g, rng_hash64(r->prompt_seed, (uint64_t)epoch));
        for (size_t i = 0; i < n; i++)
            r->perm[i] = i;
        for (size_t i = n - 1; i > 0; i--) {
            size_t j = (size_t)rng_below(&g, i + 1), t = r->perm[i];
            r->perm[i] = r->perm[j];
            r->perm[j] = t;
        }
        r->perm_epoch = epoch;
    }
    return r->perm[pos % n];
}

static enum gr_status
save(struct tune_run *r, long long iter, struct gr_error *err)
{
    char *path = stage_checkpoint_path(r->ws, "tuned", (uint64_t)iter);
    struct ckpt_meta *m = &r->meta;
    snprintf(m->kind, sizeof m->kind, "tuned");
    m->step = (uint64_t)iter;
    m->rng = r->rng;
    m->has_opt = 1;
    m->nextra = ppo_head_floats(&r->ppo);
    if (m->extra)
        json_decref(m->extra);
    const struct tune_watch *w = &r->watch;
    char *ref = tune_path_store(r->ws, r->ref_path);
    char *rm = tune_path_store(r->ws, r->rm_path);
    m->extra = json_pack("{s:s, s:s, s:s, s:f, s:f, s:f, s:I, s:I, s:f, s:f, s:f, "
                         "s:f, s:f, s:f, s:I, s:i, s:i, s:i}",
                         "value", "head on the policy trunk",
                         "reference", ref, "reward", rm,
                         "kl_coef", r->ppo.kl.beta, "kl_coef_given", r->o.kl_coef,
                         "kl_target", r->ppo.kl.target,
                         "opt_steps", (json_int_t)r->ppo.opt_steps,
                         "prompt_seed", (json_int_t)r->prompt_seed,
                         "base_reward", w->base_reward, "base_rule", w->base_rule,
                         "base_len", w->base_len, "avg_reward", w->avg_reward,
                         "avg_rule", w->avg_rule, "avg_len", w->avg_len,
                         "nbase", (json_int_t)w->nbase, "warned", (int)w->warned,
                         "clear_neg", w->clear_neg, "clear_bound", w->clear_bound);
    free(ref);
    free(rm);
    float *extra = xmalloc(m->nextra * sizeof *extra);
    ppo_save_head(&r->ppo, extra);
    enum gr_status rc = ckpt_save(path, &r->policy, m, extra, err);
    free(extra);
    if (rc == GR_OK) {
        free(r->last_ckpt);
        r->last_ckpt = path;
    } else {
        free(path);
    }
    return rc;
}

/* Everything up to the first iteration. */
static enum gr_status
setup(struct tune_run *r, const struct gr_args *a, struct gr_error *err)
{
    const struct workspace *ws = r->ws;
    struct tune_opts *o = &r->o;
    struct gr_ctx *ctx = r->ctx;
    enum gr_status rc;
    float *head = NULL;
    struct ckpt_meta refmeta;
    ckpt_meta_init(&refmeta);
    ckpt_meta_init(&r->meta);
    if (o->h.minibatch > o->h.batch)
        return gr_fail(err, GR_EINPUT, "minibatch %d is larger than batch %d",
                       o->h.minibatch, o->h.batch);
    if (o->resume && o->replace)
        return gr_fail(err, GR_EINPUT, "resume=true and replace=true contradict each "
                       "other: choose one");
    if ((rc = stage_load_tokenizer(ws, &r->tok, err)) != GR_OK)
        return rc;

    /* The reward model first: without it there is nothing to do. */
    const char *rmopt = args_str(a, "reward");
    if (rmopt) {
        if (!fs_exists(rmopt))
            return gr_fail(err, GR_EINPUT, "%s: no such reward model", rmopt);
        r->rm_path = xstrdup(rmopt);
    } else if (!(r->rm_path = workspace_latest_checkpoint(ws, "reward"))) {
        return gr_fail(err, GR_ESTATE, "there is no reward model yet: rank answers "
                       "with 'garage rank' and train one with 'garage reward'");
    }

    if ((rc = reward_load(r->rm_path, &r->tok, &r->rm, err)) != GR_OK)
        return rc;
    r->have_rm = 1;

    /* replace=true removes the tuned checkpoints at the end, once every
     * setting has been checked: a mistake loses nothing. */
    char *latest = workspace_latest_checkpoint(ws, "tuned");
    int replacing = latest && o->replace;
    if (replacing) {
        free(latest);
        latest = NULL;
    }
    clean_checkpoints(ws, 0);
    if (latest && !o->resume) {
        struct ckpt_meta peek;
        ckpt_meta_init(&peek);
        rc = ckpt_read_meta(latest, &peek, err);
        if (rc == GR_OK)
            rc = gr_fail(err, GR_ESTATE, "%s is already tuned to iteration %llu: "
                         "continue with 'garage tune resume=true steps=N', or start "
                         "over with 'garage tune replace=true'", latest,
                         (unsigned long long)peek.step);
        ckpt_meta_release(&peek);
        free(latest);
        return rc;
    }
    int resuming = latest != NULL;
    if (resuming) {
        rc = ckpt_load(latest, &r->policy, &r->meta, 1, &head, err);
        r->last_ckpt = latest;
        if (rc != GR_OK)
            goto out;
        const char *ref = jstr(r->meta.extra, "reference");
        if (strcmp(r->meta.kind, "tuned") != 0 || !ref || !head ||
            r->meta.tok_hash != r->tok.hash) {
            rc = gr_fail(err, GR_ECORRUPT, "%s is not a tuned checkpoint of this "
                         "workspace (start over with 'garage tune replace=true')", latest);
            goto out;
        }
        r->ref_path = tune_path_load(ws, ref);
        r->init_path = xstrdup(r->ref_path);
        /* The run goes on with the reward model it started with. */
        char *stored = jstr(r->meta.extra, "reward") && !rmopt ?
                       tune_path_load(ws, jstr(r->meta.extra, "reward")) : NULL;
        if (stored && strcmp(stored, r->rm_path) != 0 && !fs_exists(stored)) {
            rc = gr_fail(err, GR_ESTATE, "%s was tuned with the reward model %s, which "
                         "is gone (a later 'garage reward' run replaces the earlier "
                         "run's checkpoints): go on with the newest one (add reward=%s), "
                         "or start over with 'garage tune replace=true'", latest, stored,
                         r->rm_path);
            free(stored);
            goto out;
        }
        if (stored && strcmp(stored, r->rm_path) != 0) {
            reward_release(&r->rm);
            r->have_rm = 0;
            free(r->rm_path);
            r->rm_path = stored;
            stored = NULL;
            if ((rc = reward_load(r->rm_path, &r->tok, &r->rm, err)) != GR_OK)
                goto out;
            r->have_rm = 1;
        }
        free(stored);
        if ((long long)r->meta.step >= o->steps) {
            rc = gr_fail(err, GR_EINPUT, "%s is at iteration %llu already; ask for "
                         "more (steps=%llu or more)", latest,
                         (unsigned long long)r->meta.step,
                         (unsigned long long)r->meta.step + 1);
            goto out;
        }
    } else {
        if ((rc = stage_pick_checkpoint(ws, args_str(a, "checkpoint"), "sft,base",
                                        &r->init_path, err)) != GR_OK ||
            (rc = stage_load_checkpoint(r->init_path, &r->tok, &r->policy, &r->meta,
                                        0, err)) != GR_OK)
            goto out;
        r->ref_path = xstrdup(r->init_path);
        if (!strcmp(r->meta.kind, "reward")) {
            rc = gr_fail(err, GR_EINPUT, "%s is a reward model: tune a language model "
                         "(an sft or base checkpoint)", r->init_path);
            goto out;
        }
        if (!strcmp(r->meta.kind, "base") && r->meta.step == 0)
            metrics_note(ctx->metrics, "note: %s is untrained (step 0): expect noise",
                         r->init_path);
    }
    if (!fs_exists(r->ref_path)) {
        rc = gr_fail(err, GR_ESTATE, "the reference model %s of %s is gone; tuning "
                     "cannot go on without it (start over with 'garage tune "
                     "replace=true')", r->ref_path, r->last_ckpt);
        goto out;
    }
    if ((rc = stage_load_checkpoint(r->ref_path, &r->tok, &r->ref, &refmeta, 0,
                                    err)) != GR_OK)
        goto out;

    int T = r->policy.cfg.T;
    if (o->h.max_answer >= T) {
        rc = gr_fail(err, GR_EINPUT, "max_answer_tokens=%d leaves no room for a "
                     "prompt in the model's context of %d tokens", o->h.max_answer, T);
        goto out;
    }
    const char *pp = args_str(a, "prompts");
    r->prompts_path = pp ? xstrdup(pp) : data_path("prompts.txt");
    if ((rc = tune_prompts_load(&r->prompts, r->prompts_path, &r->tok, T,
                                o->h.max_answer, err)) != GR_OK)
        goto out;
    if (r->prompts.skipped)
        metrics_note(ctx->metrics, "%zu of the prompts in %s are too long for the "
                     "context of %d tokens with max_answer_tokens=%d: left out",
                     r->prompts.skipped, r->prompts_path, T, o->h.max_answer);
    r->perm = xcalloc(r->prompts.n, sizeof *r->perm);
    r->perm_epoch = -1;

    if ((rc = ppo_init(&r->ppo, &o->h, &r->policy, &r->ref, o->kl_coef, o->target_kl,
                       o->kl_horizon, err)) != GR_OK ||
        (rc = kvcache_set_precision(&r->ppo.kv, o->precision, err)) != GR_OK)
        goto out;
    /* The reference in the policy's precision: at the start the two give
     * the same log-probabilities, and the KL is 0. */
    if ((rc = gpt_set_precision(&r->policy, o->train_precision, err)) != GR_OK ||
        (rc = gpt_set_precision(&r->ref, o->train_precision, err)) != GR_OK)
        goto out;
    if (o->ptx_coef > 0) {
        if ((rc = train_open_shard(ws, &r->tok, "train", &r->train, err)) != GR_OK)
            goto out;
        if (r->train.ntok < (size_t)T + 2) {
            rc = gr_fail(err, GR_EINPUT, "ptx_coef needs a training split longer than "
                         "the context of %d tokens (it has %zu)", T, r->train.ntok);
            goto out;
        }
        if (o->ptx_batch > o->h.minibatch &&
            (rc = gpt_alloc_acts(&r->policy, o->ptx_batch, T, err)) != GR_OK)
            goto out;
        r->ptx_in = xmalloc((size_t)o->ptx_batch * T * sizeof *r->ptx_in);
        r->ptx_tg = xmalloc((size_t)o->ptx_batch * T * sizeof *r->ptx_tg);
        r->ppo.ptx = ptx_grads;
        r->ppo.ptx_ctx = r;
    }
    if (o->compare) {
        if ((rc = kvcache_init(&r->cmp_kv, &r->policy.cfg, 1, err)) != GR_OK)
            goto out;
        r->have_cmp_kv = 1;
        if ((rc = kvcache_set_precision(&r->cmp_kv, o->precision, err)) != GR_OK)
            goto out;
        r->cmp_scratch = xmalloc(3 * (size_t)r->policy.cfg.V * sizeof *r->cmp_scratch);
        for (int k = 0; k < 2; k++)
            ppo_rollouts_init(&r->cmp_ro[k], 1, o->h.max_answer, T);
    }
    if (resuming) {
        if (r->meta.nextra != ppo_head_floats(&r->ppo)) {
            rc = gr_fail(err, GR_ECORRUPT, "%s: the value head has %zu floats, "
                         "expected %zu", r->last_ckpt, r->meta.nextra,
                         ppo_head_floats(&r->ppo));
            goto out;
        }
        ppo_load_head(&r->ppo, head);
        json_t *x = r->meta.extra;
        r->ppo.kl.beta = jnum(x, "kl_coef", o->kl_coef);
        r->ppo.opt_steps = (long long)jnum(x, "opt_steps", 0);
        r->prompt_seed = (uint64_t)jnum(x, "prompt_seed", 0);
        struct tune_watch *w = &r->watch;
        w->base_reward = jnum(x, "base_reward", 0);
        w->base_rule = jnum(x, "base_rule", 0);
        w->base_len = jnum(x, "base_len", 0);
        w->avg_reward = jnum(x, "avg_reward", 0);
        w->avg_rule = jnum(x, "avg_rule", 0);
        w->avg_len = jnum(x, "avg_len", 0);
        w->nbase = (long long)jnum(x, "nbase", 0);
        w->warned = (unsigned)jnum(x, "warned", 0);
        w->clear_neg = (int)jnum(x, "clear_neg", 0);
        w->clear_bound = (int)jnum(x, "clear_bound", 0);
        r->rng = r->meta.rng;
        /* The controller's coefficient goes on, unless kl_coef is given
         * anew (to calm a run that drifted). */
        double given = jnum(x, "kl_coef_given", o->kl_coef);
        if (args_isset(a, "kl_coef") && o->kl_coef != given) {
            metrics_note(ctx->metrics, "note: kl_coef=%g replaces the run's KL "
                         "coefficient %.4g", o->kl_coef, r->ppo.kl.beta);
            r->ppo.kl.beta = o->kl_coef;
        } else {
            o->kl_coef = given;
        }
    } else {
        rng_seed(&r->rng, o->seed ^ 0x74756e652d70706fULL);
        r->prompt_seed = rng_hash64(o->seed, 0x70726f6d707473ULL) >> 11;
        r->meta.data_pos = 0;
        r->meta.step = 0;
    }
    if (replacing) {
        clean_checkpoints(ws, 1);
        metrics_note(ctx->metrics, "replace=true: removed the tuned checkpoints");
    }
out:
    free(head);
    ckpt_meta_release(&refmeta);
    return rc;
}

static void
teardown(struct tune_run *r)
{
    ppo_release(&r->ppo);
    if (r->have_rm)
        reward_release(&r->rm);
    tune_prompts_release(&r->prompts);
    gpt_release(&r->policy);
    gpt_release(&r->ref);
    ckpt_meta_release(&r->meta);
    bpe_release(&r->tok);
    free(r->perm);
    free(r->ptx_in);
    free(r->ptx_tg);
    shard_close(&r->train);
    if (r->have_cmp_kv) {
        kvcache_release(&r->cmp_kv);
        ppo_rollouts_release(&r->cmp_ro[0]);
        ppo_rollouts_release(&r->cmp_ro[1]);
    }
    free(r->cmp_scratch);
    free(r->prompts_path);
    free(r->init_path);
    free(r->ref_path);
    free(r->rm_path);
    free(r->last_ckpt);
}

/* The KL went past kl_stop: the checkpoint of the previous iteration
 * made these rollouts, so it is set aside. */
static enum gr_status
exploded(struct tune_run *r, long long iter, double kl, struct gr_error *err)
{
    char *prev = stage_checkpoint_path(r->ws, "tuned", (uint64_t)(iter - 1));
    char *aside = NULL;
    if (iter > 1 && fs_exists(prev)) {
        aside = xasprintf("%s.rejected", prev);
        if (rename(prev, aside) != 0) {
            free(aside);
            aside = NULL;
        }
    }
    char *good = workspace_latest_checkpoint(r->ws, "tuned");
    enum gr_status rc = gr_fail(err, GR_ENUMERIC,
        "iteration %lld: the KL to the reference is %s%.4g nats per answer, above "
        "kl_stop=%g: tuning stopped%s%s%s; the last good checkpoint is %s (lower lr or "
        "raise kl_coef, and resume=true)", iter, isfinite(kl) ? "" : "not finite: ", kl,
        r->o.kl_stop, aside ? " (" : "", aside ? aside : "", aside ? " set aside)" : "",
        good ? good : r->init_path);
    free(good);
    free(prev);
    free(aside);
    return rc;
}

unsigned
tune_watch_update(struct tune_watch *w, double kl, double kl_bound, double reward,
                  double rule, int has_rule, double len, unsigned *fresh)
{
    unsigned bits = 0;
    if (w->nbase < TUNE_BASE_ITERS) {
        w->nbase++;
        double k = 1.0 / (double)w->nbase;
        w->base_reward += k * (reward - w->base_reward);
        w->base_rule += k * (rule - w->base_rule);
        w->base_len += k * (len - w->base_len);
        w->avg_reward = w->base_reward;
        w->avg_rule = w->base_rule;
        w->avg_len = w->base_len;
    } else {
        w->avg_reward += 0.2 * (reward - w->avg_reward);
        w->avg_rule += 0.2 * (rule - w->avg_rule);
        w->avg_len += 0.2 * (len - w->avg_len);
        if (has_rule && w->avg_reward > w->base_reward + 0.1 &&
            w->avg_rule < w->base_rule - 0.1)
            bits |= TUNE_WARN_GAMED;
        if (fabs(w->avg_len - w->base_len) > 4 &&
            (w->avg_len > 2 * w->base_len || w->avg_len < 0.5 * w->base_len))
            bits |= TUNE_WARN_LENGTH;
    }
    if (kl < -0.1)
        bits |= TUNE_WARN_KL_NEGATIVE;
    if (kl_bound > 0 && kl > kl_bound)
        bits |= TUNE_WARN_KL_BOUND;
    *fresh = bits & ~w->warned;
    w->warned |= bits;
    /* a KL warning is announced again when it comes back after a while */
    w->clear_neg = bits & TUNE_WARN_KL_NEGATIVE ? 0 : w->clear_neg + 1;
    w->clear_bound = bits & TUNE_WARN_KL_BOUND ? 0 : w->clear_bound + 1;
    if (w->clear_neg >= TUNE_BASE_ITERS)
        w->warned &= ~(unsigned)TUNE_WARN_KL_NEGATIVE;
    if (w->clear_bound >= TUNE_BASE_ITERS)
        w->warned &= ~(unsigned)TUNE_WARN_KL_BOUND;
    return bits;
}

/* One iteration's warnings, as notes (the log and the front end). */
static unsigned
check_warnings(struct tune_run *r, long long iter, double reward, double rule,
               double len)
{
    const struct tune_opts *o = &r->o;
    const struct ppo_stats *st = &r->ppo.st;
    const struct tune_watch *w = &r->watch;
    struct gr_metrics *mx = r->ctx->metrics;
    unsigned fresh;
    unsigned bits = tune_watch_update(&r->watch, st->kl, o->kl_bound, reward, rule,
                                      o->has_rule, len, &fresh);
    if (fresh & TUNE_WARN_KL_NEGATIVE)
        metrics_note(mx, "warning: iteration %lld: the KL to the reference is "
                     "negative (%.3f nats per answer): the batch is too small to "
                     "estimate it, or the samples do not come from the policy", iter,
                     st->kl);
    if (fresh & TUNE_WARN_KL_BOUND)
        metrics_note(mx, "warning: iteration %lld: the KL to the reference is %.3f "
                     "nats per answer, above kl_bound=%g: the policy is drifting from "
                     "the reference (raise kl_coef or lower target_kl)", iter, st->kl,
                     o->kl_bound);
    if (fresh & TUNE_WARN_GAMED)
        metrics_note(mx, "warning: iteration %lld: the reward rose (%+.3f -> %+.3f) "
                     "while the rule's score fell (%+.3f -> %+.3f): the policy may be "
                     "exploiting the reward model", iter, w->base_reward,
                     w->avg_reward, w->base_rule, w->avg_rule);
    if (fresh & TUNE_WARN_LENGTH)
        metrics_note(mx, "warning: iteration %lld: answers are %.1f tokens long on "
                     "average, the reference's %.1f: the length drifts (is the reward "
                     "paying for length?)", iter, w->avg_len, w->base_len);
    return bits;
}

/* The rolling table: a few prompts with their answers and rewards. */
static void
emit_samples(struct tune_run *r, long long iter, const size_t *ids, char **answers,
             const float *rule)
{
    const struct ppo_rollouts *ro = &r->ppo.ro;
    int n = r->o.show < ro->B ? r->o.show : ro->B;
    for (int b = 0; b < n; b++) {
        struct gr_metric rec;
        metric_begin(&rec, "tune_sample");
        metric_add(&rec, "iter", (double)iter);
        metric_add(&rec, "row", b);
        metric_add(&rec, "reward", ro->score[b]);
        if (rule)
            metric_add(&rec, "rule", rule[b]);
        metric_add(&rec, "len", ro->alen[b] - ro->ended[b]);
        metric_add(&rec, "ended", ro->ended[b]);
        for (char *c = answers[b]; *c; c++)     /* one line in a table */
            if (*c == '\n' || *c == '\r' || *c == '\t')
                *c = ' ';
        metric_text(&rec, "%s => %s", r->prompts.text[ids[b]], answers[b]);
        metrics_emit(r->ctx->metrics, &rec);
    }
}

/* compare: the reference's and the policy's answers to prompt id,
 * scored, as two "tune_compare" records in rec (model 0: the reference,
 * 1: the policy), emitted after the iteration's "tune" record. */
static enum gr_status
compare(struct tune_run *r, long long iter, size_t id, struct gr_metric rec[2],
        struct gr_error *err)
{
    struct gr_rng g0, g;
    rng_seed(&g0, rng_hash64(r->prompt_seed ^ 0x636f6d70617265ULL, (uint64_t)iter));
    struct gpt *models[2] = { &r->ref, &r->policy };
    const int32_t *pt = r->prompts.tok[id];
    const int np = r->prompts.len[id];
    for (int k = 0; k < 2; k++) {
        struct ppo_rollouts *ro = &r->cmp_ro[k];
        float score;
        g = g0;                 /* the same draws for both */
        ppo_sample(models[k], &r->cmp_kv, ro, &pt, &np, r->o.h.temperature, &g,
                   r->cmp_scratch);
        enum gr_status rc = tune_score(&r->rm, ro, &score, err);
        if (rc != GR_OK)
            return rc;
        int ended = ro->ended[0], alen = ro->alen[0] - ended;
        char *text = tune_answer_text(&r->tok, ro, 0);
        float reward = score - (ended ? 0.0f : (float)r->o.penalty);
        metric_begin(&rec[k], "tune_compare");
        metric_add(&rec[k], "iter", (double)iter);
        metric_add(&rec[k], "model", k);
        metric_add(&rec[k], "reward", reward);
        if (r->o.has_rule)
            metric_add(&rec[k], "rule", rank_rule_score(&r->o.rule, text));
        metric_add(&rec[k], "len", alen);
        metric_add(&rec[k], "ended", ended);
        metric_text(&rec[k], "%s => %s", r->prompts.text[id], text);
        free(text);
    }
    return GR_OK;
}

enum gr_status
stage_tune(struct gr_ctx *ctx, const struct gr_args *a, struct gr_error *err)
{
    struct tune_run r;
    memset(&r, 0, sizeof r);
    r.ctx = ctx;
    r.ws = ctx->ws;
    read_opts(&r.o, a, ctx->ws);
    struct tune_opts *o = &r.o;
    char *logpath = NULL, *run = NULL;
    float *scores = NULL, *rule = NULL;
    size_t *ids = NULL;
    const int32_t **pt = NULL;
    int *pl = NULL;
    char **answers = NULL;
    enum gr_status rc = setup(&r, a, err);
    if (rc != GR_OK)
        goto out;

    run = workspace_run_name("tune");
    char *rel = xasprintf("logs/%s.jsonl", run);
    logpath = workspace_path(r.ws, rel);
    free(rel);
    if (ctx->metrics && (rc = metrics_open_log(ctx->metrics, logpath, err)) != GR_OK)
        goto out;

    const int B = o->h.batch;
    long long iter = (long long)r.meta.step, first = iter;
    metrics_note(ctx->metrics, "%s %s against the reference %s with the reward model "
                 "%s; %zu prompts from %s; value: a head on the policy's trunk; "
                 "products %s, answers sampled with %s weights",
                 iter ? "resuming" : "tuning", iter ? r.last_ckpt : r.init_path,
                 r.ref_path, r.rm_path, r.prompts.n, r.prompts_path,
                 stage_products_name(o->train_precision),
                 o->precision == GPT_BF16 ? "bf16" : "fp32");
    {
        struct gr_metric rec;
        metric_begin(&rec, "run");
        metric_add(&rec, "steps", (double)o->steps);
        metric_add(&rec, "batch", B);
        metric_add(&rec, "minibatch", o->h.minibatch);
        metric_add(&rec, "ppo_epochs", o->h.epochs);
        metric_add(&rec, "lr", o->h.lr);
        metric_add(&rec, "kl_coef", r.ppo.kl.beta);
        metric_add(&rec, "target_kl", o->target_kl);
        metric_add(&rec, "kl_bound", o->kl_bound);
        metric_add(&rec, "max_answer_tokens", o->h.max_answer);
        metric_add(&rec, "params", (double)r.policy.nparams);
        metric_add(&rec, "start_step", (double)iter);
        metric_text(&rec, "tune");
        metrics_emit(ctx->metrics, &rec);
    }

    scores = xcalloc((size_t)B, sizeof *scores);
    rule = xcalloc((size_t)B, sizeof *rule);
    ids = xcalloc((size_t)B, sizeof *ids);
    pt = xcalloc((size_t)B, sizeof *pt);
    pl = xcalloc((size_t)B, sizeof *pl);
    answers = xcalloc((size_t)B, sizeof *answers);
    double t0 = stage_now(), ema_dt = 0, first_reward = NAN, reward = NAN;
    int stopped = 0;
    struct ppo *p = &r.ppo;
    while (iter < o->steps && iter < o->stop_at) {
        if (job_should_stop(ctx->job)) {
            stopped = 1;
            break;
        }
        long long it = iter + 1;
        double ts = stage_now();
        for (int b = 0; b < B; b++) {
            ids[b] = prompt_at(&r, r.meta.data_pos + (uint64_t)b);
            pt[b] = r.prompts.tok[ids[b]];
            pl[b] = r.prompts.len[ids[b]];
        }
        ppo_rollout(p, pt, pl, &r.rng);
        double t_sample = stage_now() - ts;

        double tsc = stage_now();
        if ((rc = tune_score(&r.rm, &p->ro, scores, err)) != GR_OK)
            goto out;
        for (int b = 0; b < B; b++) {
            p->ro.score[b] = scores[b] - (p->ro.ended[b] ? 0.0f : (float)o->penalty);
        }
        int show = o->show > 0 && (it == first + 1 || it % o->show_every == 0 ||
                                   it == o->steps);
        double rule_mean = 0;
        for (int b = 0; b < B; b++) {
            free(answers[b]);
            answers[b] = NULL;
            if (o->has_rule || (show && b < o->show))
                answers[b] = tune_answer_text(&r.tok, &p->ro, b);
            if (o->has_rule) {
                rule[b] = (float)rank_rule_score(&o->rule, answers[b]);
                rule_mean += rule[b] / B;
            }
        }
        ppo_prepare(p);
        double t_score = stage_now() - tsc;
        const struct ppo_stats *st = &p->st;
        if (!isfinite(st->kl) || (o->kl_stop > 0 && st->kl > o->kl_stop)) {
            rc = exploded(&r, it, st->kl, err);
            goto out;
        }

        double tu = stage_now();
        if ((rc = ppo_update(p, &r.rng, err)) != GR_OK) {
            char msg[sizeof err->msg];
            snprintf(msg, sizeof msg, "%s", err->msg);
            rc = gr_fail(err, GR_ENUMERIC, "iteration %lld: %s; tuning stopped (the "
                         "last good checkpoint is %s; try a lower lr)", it, msg,
                         r.last_ckpt ? r.last_ckpt : r.init_path);
            goto out;
        }
        double t_update = stage_now() - tu;
        double beta = p->kl.beta;
        ppo_klctl_update(&p->kl, st->kl, B);
        r.meta.data_pos += (uint64_t)B;
        iter = it;
        double tc = stage_now();
        struct gr_metric cmp[2];
        if (o->compare && (rc = compare(&r, it, ids[0], cmp, err)) != GR_OK)
            goto out;
        double t_compare = stage_now() - tc;

        reward = st->score_mean;
        if (isnan(first_reward))
            first_reward = reward;
        unsigned warn = check_warnings(&r, it, reward, rule_mean, st->answer_len);
        double now = stage_now(), dt = now - ts;
        ema_dt = it - first == 1 ? dt : 0.9 * ema_dt + 0.1 * dt;
        struct gr_metric rec;
        metric_begin(&rec, "tune");
        metric_add(&rec, "iter", (double)it);
        metric_add(&rec, "iters", (double)o->steps);
        metric_add(&rec, "reward", st->score_mean);
        metric_add(&rec, "reward_std", st->score_std);
        if (o->ptx_coef > 0)
            metric_add(&rec, "ptx_loss", st->ptx_loss);
        metric_add(&rec, "kl", st->kl);
        metric_add(&rec, "kl_coef", beta);
        metric_add(&rec, "entropy", st->entropy);
        metric_add(&rec, "policy_loss", st->policy_loss);
        metric_add(&rec, "value_loss", st->value_loss);
        metric_add(&rec, "clip_frac", st->clip_frac);
        metric_add(&rec, "approx_kl", st->approx_kl);
        metric_add(&rec, "answer_len", st->answer_len);
        metric_add(&rec, "ended", st->ended);
        metric_add(&rec, "t_sample", t_sample);
        metric_add(&rec, "t_score", t_score);
        metric_add(&rec, "t_update", t_update);
        if (o->compare)
            metric_add(&rec, "t_compare", t_compare);
        metric_add(&rec, "tok_s", (double)st->tokens / dt);
        metric_add(&rec, "gen_tok_s", (double)st->tokens / t_sample);
        metric_add(&rec, "grad_norm", st->grad_norm);
        metric_add(&rec, "elapsed", now - t0);
        metric_add(&rec, "eta", ema_dt * (double)(o->steps - it));
        metric_add(&rec, "warn", warn);
        if (o->has_rule)
            metric_add(&rec, "rule", rule_mean);
        metrics_emit(ctx->metrics, &rec);
        if (show)
            emit_samples(&r, it, ids, answers, o->has_rule ? rule : NULL);
        for (int k = 0; o->compare && k < 2; k++)
            metrics_emit(ctx->metrics, &cmp[k]);

        int last = it == o->steps;
        if ((o->save_every > 0 && it % o->save_every == 0) || last ||
            it == o->stop_at || job_take_save(ctx->job)) {
            if ((rc = save(&r, it, err)) != GR_OK)
                goto out;
        }
    }
    if (stopped || iter < o->steps) {
        if ((long long)r.meta.step != iter || !r.last_ckpt ||
            strstr(r.last_ckpt, "tuned-") == NULL)
            rc = save(&r, iter, err);
        if (rc == GR_OK) {
            ctx_printf(ctx, "Stopped at iteration %lld of %lld; saved %s.\nContinue "
                       "with: garage tune resume=true steps=%lld\n", iter, o->steps,
                       r.last_ckpt, o->steps);
            if (stopped)
                rc = gr_fail(err, GR_ESTOPPED, "tuning stopped at iteration %lld", iter);
        }
        goto out;
    }
    const struct ppo_stats *st = &p->st;
    ctx_printf(ctx, "Tuned to iteration %lld in %.1f s: reward %+.3f -> %+.3f, KL to "
               "the reference %.3f nats per answer (kl_coef now %.4g), answers %.1f "
               "tokens, %.0f%% closed with <|end|>.\nSaved %s\n", iter, stage_now() - t0,
               first_reward, reward, st->kl, p->kl.beta, st->answer_len,
               100 * st->ended, r.last_ckpt);
out:
    if (answers)
        for (int b = 0; b < o->h.batch; b++)
            free(answers[b]);
    free(answers);
    free(scores);
    free(rule);
    free(ids);
    free(pt);
    free(pl);
    if (ctx->metrics)
        metrics_close_log(ctx->metrics);
    free(logpath);
    free(run);
    teardown(&r);
    return rc;
}
