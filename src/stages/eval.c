/* eval.c: the 'eval' command: a tuned model against its reference on
 * held-out prompts.
 *
 * Both models answer every prompt (one answer each, the same seed for
 * both, batched in one key-value cache as in tune).  Reported: the mean
 * reward-model score of each, the reward model's win rate of the tuned
 * model (a tie counts half), and, when a rule is given (prefer, avoid,
 * must_contain, target_length: the rule labeler's options), the rule's
 * win rate -- the true preference when the rankings came from that rule;
 * also the KL of the tuned model to the reference on its own answers,
 * answer lengths, the share closed with <|end|>, and bits per byte of
 * both on the corpus's held-out split, so a gain in reward can be
 * weighed against what the language model lost. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "app/datadir.h"
#include "app/job.h"
#include "base/xalloc.h"
#include "stages/common.h"
#include "stages/stages.h"
#include "stages/train.h"
#include "stages/tune.h"

struct side {
    const char *name;
    char *path;
    struct gpt m;
    struct ckpt_meta meta;
    struct ppo ppo;
    int have_ppo;
    double reward, rule, len, ended, bpb;
};

/* Bits per byte of m on nwin fixed windows of the held-out split. */
static enum gr_status
val_bpb(struct gpt *m, const struct shard *s, const float *tok_bytes, int nwin,
        double *out, struct gr_error *err)
{
    const int B = 8;
    int T = m->cfg.T;
    if (s->ntok < 3) {
        *out = NAN;
        return GR_OK;
    }
    if ((size_t)T + 2 > s->ntok)
        T = (int)s->ntok - 2;
    enum gr_status rc = gpt_alloc_acts(m, B, T, err);
    if (rc != GR_OK)
        return rc;
    int32_t *in = xmalloc((size_t)B * T * sizeof *in), *tg = xmalloc((size_t)B * T * sizeof *tg);
    size_t span = s->ntok - (size_t)T - 1;
    double loss = 0, bytes = 0;
    for (int first = 0; first < nwin; first += B) {
        int nb = nwin - first < B ? nwin - first : B;
        for (int b = 0; b < nb; b++) {
            size_t i = (size_t)(first + b);
            size_t off = nwin > 1 ? span * i / (size_t)(nwin - 1) : 0;
            for (int t = 0; t < T; t++) {
                in[(size_t)b * T + t] = s->tok[off + t];
                tg[(size_t)b * T + t] = s->tok[off + t + 1];
            }
        }
        gpt_forward(m, in, tg, nb, T, 1);
        for (size_t k = 0; k < (size_t)nb * T; k++) {
            loss += m->losses[k];
            bytes += tok_bytes[tg[k]];
        }
    }
    free(in);
    free(tg);
    *out = bytes > 0 ? loss / M_LN2 / bytes : NAN;
    return GR_OK;
}

static double
win(double a, double b)
{
    return a > b ? 1.0 : a == b ? 0.5 : 0.0;
}

enum gr_status
stage_eval(struct gr_ctx *ctx, const struct gr_args *a, struct gr_error *err)
{
    const struct workspace *ws = ctx->ws;
    struct bpe tok;
    struct reward_model rm;
    int have_rm = 0, have_shard = 0;
    struct side s[2];
    memset(s, 0, sizeof s);
    memset(&rm, 0, sizeof rm);
    s[0].name = "tuned";
    s[1].name = "reference";
    ckpt_meta_init(&s[0].meta);
    ckpt_meta_init(&s[1].meta);
    struct tune_prompts pr;
    memset(&pr, 0, sizeof pr);
    struct shard val;
    memset(&val, 0, sizeof val);
    char *rm_path = NULL, *prompts_path = NULL, *logpath = NULL, *run = NULL;
    float *tok_bytes = NULL, *sc[2] = { NULL, NULL };
    char **ans[2] = { NULL, NULL };
    double *rsc[2] = { NULL, NULL };
    const int32_t **pt = NULL;
    int *pl = NULL;
    size_t n = 0;
    struct rank_rule rule;
    int has_rule = tune_read_rule(a, &rule);
    const int E = (int)args_int(a, "batch"), show = (int)args_int(a, "show");
    const double kl_bound = args_has(a, "kl_bound") ? args_float(a, "kl_bound") : 0;
    uint64_t seed = args_has(a, "seed") ? (uint64_t)args_int(a, "seed") : ws->seed;
    enum gr_status rc;

    if ((rc = stage_load_tokenizer(ws, &tok, err)) != GR_OK)
        return rc;
    if ((rc = stage_pick_checkpoint(ws, args_str(a, "checkpoint"), "tuned", &s[0].path,
                                    err)) != GR_OK) {
        if (!args_str(a, "checkpoint"))
            rc = gr_fail(err, GR_ESTATE, "there is no tuned model yet: tune one with "
                         "'garage tune' (or name one with checkpoint=FILE)");
        goto out;
    }
    if ((rc = stage_load_checkpoint(s[0].path, &tok, &s[0].m, &s[0].meta, 0, err)) != GR_OK)
        goto out;
    /* The reference: against=, else the one the tuned model was tuned
     * against, else the newest sft or base. */
    const char *against = args_str(a, "against");
    const char *stored = NULL;
    json_t *ref = s[0].meta.extra ? json_object_get(s[0].meta.extra, "reference") : NULL;
    if (ref && json_is_string(ref))
        stored = json_string_value(ref);
    if (against) {
        rc = stage_pick_checkpoint(ws, against, NULL, &s[1].path, err);
    } else if (stored) {
        s[1].path = tune_path_load(ws, stored);
    } else {
        rc = stage_pick_checkpoint(ws, NULL, "sft,base", &s[1].path, err);
    }
    if (rc != GR_OK ||
        (rc = stage_load_checkpoint(s[1].path, &tok, &s[1].m, &s[1].meta, 0, err)) != GR_OK)
        goto out;
    const char *rmopt = args_str(a, "reward");
    if (rmopt) {
        rm_path = xstrdup(rmopt);
    } else if (!(rm_path = workspace_latest_checkpoint(ws, "reward"))) {
        rc = gr_fail(err, GR_ESTATE, "there is no reward model yet: rank answers with "
                     "'garage rank' and train one with 'garage reward'");
        goto out;
    }
    if ((rc = reward_load(rm_path, &tok, &rm, err)) != GR_OK)
        goto out;
    have_rm = 1;

    /* Answers as in tune: the same length limit, plain temperature. */
    struct ppo_hparams h = ppo_defaults();
    h.max_answer = (int)args_int(a, "max_answer_tokens");
    h.temperature = (float)args_float(a, "temperature");
    int T = s[0].m.cfg.T < s[1].m.cfg.T ? s[0].m.cfg.T : s[1].m.cfg.T;
    if (h.max_answer >= T) {
        rc = gr_fail(err, GR_EINPUT, "max_answer_tokens=%d leaves no room for a prompt "
                     "in the context of %d tokens", h.max_answer, T);
        goto out;
    }
    const char *pp = args_str(a, "prompts");
    prompts_path = pp ? xstrdup(pp) : data_path("prompts-eval.txt");
    if ((rc = tune_prompts_load(&pr, prompts_path, &tok, T, h.max_answer, err)) != GR_OK)
        goto out;
    n = pr.n;
    long long count = args_int(a, "count");
    if (count > 0 && (size_t)count < n)
        n = (size_t)count;
    if (pr.skipped)
        metrics_note(ctx->metrics, "%zu prompts of %s are too long for the context with "
                     "max_answer_tokens=%d: left out", pr.skipped, prompts_path,
                     h.max_answer);
    h.batch = h.minibatch = E;
    /* The KL of the tuned model to the reference needs equal shapes. */
    int same = memcmp(&s[0].m.cfg, &s[1].m.cfg, sizeof s[0].m.cfg) == 0;
    for (int k = 0; k < 2; k++) {
        struct gpt *other = same ? &s[1 - k].m : &s[k].m;
        if ((rc = ppo_init(&s[k].ppo, &h, &s[k].m, other, 0.0, 0, 0, err)) != GR_OK)
            goto out;
        s[k].have_ppo = 1;
        if ((rc = kvcache_set_precision(&s[k].ppo.kv,
                                        stage_gen_precision(args_str(a, "precision")),
                                        err)) != GR_OK)
            goto out;
    }

    run = workspace_run_name("eval");
    char *rel = xasprintf("logs/%s.jsonl", run);
    logpath = workspace_path(ws, rel);
    free(rel);
    if (ctx->metrics && (rc = metrics_open_log(ctx->metrics, logpath, err)) != GR_OK)
        goto out;

    pt = xcalloc((size_t)E, sizeof *pt);
    pl = xcalloc((size_t)E, sizeof *pl);
    for (int k = 0; k < 2; k++) {
        sc[k] = xcalloc((size_t)E, sizeof *sc[k]);
        ans[k] = xcalloc(n, sizeof *ans[k]);
        rsc[k] = xcalloc(n * 2, sizeof *rsc[k]);     /* reward, rule */
    }
    double kl = 0, wins_rm = 0, wins_rule = 0;
    struct gr_rng rng[2];
    rng_seed(&rng[0], seed ^ 0x6576616c2d616e73ULL);
    rng[1] = rng[0];
    for (size_t first = 0; first < n; first += (size_t)E) {
        if (job_should_stop(ctx->job)) {
            rc = gr_fail(err, GR_ESTOPPED, "evaluation stopped");
            goto out;
        }
        metrics_progress(ctx->metrics, "eval", (double)first, (double)n, "prompts");
        size_t nb = n - first < (size_t)E ? n - first : (size_t)E;
        for (int b = 0; b < E; b++) {
            size_t i = first + ((size_t)b < nb ? (size_t)b : nb - 1);
            pt[b] = pr.tok[i];
            pl[b] = pr.len[i];
        }
        for (int k = 0; k < 2; k++) {
            struct ppo *p = &s[k].ppo;
            ppo_rollout(p, pt, pl, &rng[k]);
            if ((rc = tune_score(&rm, &p->ro, sc[k], err)) != GR_OK)
                goto out;
            for (size_t b = 0; b < nb; b++) {
                size_t i = first + b;
                ans[k][i] = tune_answer_text(&tok, &p->ro, (int)b);
                rsc[k][2 * i] = sc[k][b];
                rsc[k][2 * i + 1] = has_rule ? rank_rule_score(&rule, ans[k][i]) : 0;
                s[k].reward += sc[k][b];
                s[k].rule += rsc[k][2 * i + 1];
                s[k].len += p->ro.alen[b] - p->ro.ended[b];
                s[k].ended += p->ro.ended[b];
            }
            if (k == 0 && same) {
                memcpy(p->ro.score, sc[0], (size_t)E * sizeof *sc[0]);
                ppo_prepare(p);
                for (size_t b = 0; b < nb; b++) {
                    const float *lp = p->ro.logp + b * (size_t)p->ro.A;
                    const float *lr = p->ro.ref_logp + b * (size_t)p->ro.A;
                    for (int j = 0; j < p->ro.alen[b]; j++)
                        kl += (double)lp[j] - lr[j];
                }
            }
        }
        for (size_t b = 0; b < nb; b++) {
            size_t i = first + b;
            wins_rm += win(rsc[0][2 * i], rsc[1][2 * i]);
            wins_rule += win(rsc[0][2 * i + 1], rsc[1][2 * i + 1]);
        }
    }
    metrics_progress(ctx->metrics, "eval", (double)n, (double)n, "prompts");
    for (int k = 0; k < 2; k++) {
        s[k].reward /= (double)n;
        s[k].rule /= (double)n;
        s[k].len /= (double)n;
        s[k].ended /= (double)n;
        s[k].bpb = NAN;
    }
    kl = same ? kl / (double)n : NAN;
    double win_rm = wins_rm / (double)n, win_rule = has_rule ? wins_rule / (double)n : NAN;

    /* What the tuning cost the language model. */
    if (args_bool(a, "bpb")) {
        struct gr_error e2;
        if (train_open_shard(ws, &tok, "val", &val, &e2) == GR_OK) {
            have_shard = 1;
            tok_bytes = stage_token_bytes(&tok);
            int nwin = (int)args_int(a, "bpb_windows");
            for (int k = 0; k < 2; k++)
                if ((rc = val_bpb(&s[k].m, &val, tok_bytes, nwin, &s[k].bpb, err)) != GR_OK)
                    goto out;
        } else {
            metrics_note(ctx->metrics, "note: no bits per byte: %s", e2.msg);
        }
    }

    struct gr_metric rec;
    metric_begin(&rec, "tune_eval");
    metric_add(&rec, "prompts", (double)n);
    metric_add(&rec, "reward_tuned", s[0].reward);
    metric_add(&rec, "reward_ref", s[1].reward);
    metric_add(&rec, "win_rm", win_rm);
    if (has_rule) {
        metric_add(&rec, "win_rule", win_rule);
        metric_add(&rec, "rule_tuned", s[0].rule);
        metric_add(&rec, "rule_ref", s[1].rule);
    }
    if (same)
        metric_add(&rec, "kl", kl);
    metric_add(&rec, "len_tuned", s[0].len);
    metric_add(&rec, "len_ref", s[1].len);
    metric_add(&rec, "ended_tuned", s[0].ended);
    metric_add(&rec, "ended_ref", s[1].ended);
    if (have_shard) {
        metric_add(&rec, "bpb_tuned", s[0].bpb);
        metric_add(&rec, "bpb_ref", s[1].bpb);
    }
    metric_text(&rec, "%s against %s on %s", s[0].path, s[1].path, prompts_path);
    metrics_emit(ctx->metrics, &rec);

    for (int i = 0; i < show && (size_t)i < n; i++) {
        ctx_printf(ctx, "prompt: %s\n", pr.text[i]);
        for (int k = 0; k < 2; k++) {
            ctx_printf(ctx, "  %-9s reward %+.3f", s[k].name, rsc[k][2 * i]);
            if (has_rule)
                ctx_printf(ctx, "  rule %+.1f", rsc[k][2 * i + 1]);
            ctx_printf(ctx, "  %s\n", ans[k][i]);
        }
    }
    ctx_printf(ctx, "Evaluation on %zu held-out prompts (%s), one answer each:\n",
               n, prompts_path);
    ctx_printf(ctx, "  tuned:     %s\n  reference: %s\n  reward model: %s\n",
               s[0].path, s[1].path, rm_path);
    ctx_printf(ctx, "                          %10s %10s\n", "tuned", "reference");
    ctx_printf(ctx, "  mean reward             %+10.3f %+10.3f\n", s[0].reward, s[1].reward);
    if (has_rule)
        ctx_printf(ctx, "  mean rule score         %+10.3f %+10.3f\n", s[0].rule, s[1].rule);
    ctx_printf(ctx, "  answer length (tokens)  %10.1f %10.1f\n", s[0].len, s[1].len);
    ctx_printf(ctx, "  closed with <|end|>     %9.0f%% %9.0f%%\n", 100 * s[0].ended,
               100 * s[1].ended);
    if (have_shard)
        ctx_printf(ctx, "  validation bits/byte    %10.4f %10.4f  (%+.1f%%)\n", s[0].bpb,
                   s[1].bpb, 100 * (s[0].bpb / s[1].bpb - 1));
    ctx_printf(ctx, "  win rate, reward model  %9.0f%%\n", 100 * win_rm);
    if (has_rule)
        ctx_printf(ctx, "  win rate, rule          %9.0f%%\n", 100 * win_rule);
    if (same)
        ctx_printf(ctx, "  KL to the reference     %10.3f nats per answer\n", kl);

    if (same && kl < -0.1)
        metrics_note(ctx->metrics, "warning: the KL to the reference is negative (%.3f)",
                     kl);
    if (same && kl_bound > 0 && kl > kl_bound)
        metrics_note(ctx->metrics, "warning: the KL to the reference is %.3f nats per "
                     "answer, above kl_bound=%g", kl, kl_bound);
    if (has_rule && win_rm > 0.5 && win_rule < 0.5)
        metrics_note(ctx->metrics, "warning: the reward model prefers the tuned model "
                     "(%.0f%%) but the rule does not (%.0f%%): the policy may be "
                     "exploiting the reward model", 100 * win_rm, 100 * win_rule);
    if (fabs(s[0].len - s[1].len) > 4 &&
        (s[0].len > 2 * s[1].len || s[0].len < 0.5 * s[1].len))
        metrics_note(ctx->metrics, "warning: the tuned model's answers are %.1f tokens "
                     "long on average, the reference's %.1f: the length drifted",
                     s[0].len, s[1].len);
out:
    if (ctx->metrics)
        metrics_close_log(ctx->metrics);
    for (int k = 0; k < 2; k++) {
        if (ans[k])
            for (size_t i = 0; i < n; i++)
                free(ans[k][i]);
        free(ans[k]);
        free(sc[k]);
        free(rsc[k]);
        if (s[k].have_ppo)
            ppo_release(&s[k].ppo);
        gpt_release(&s[k].m);
        ckpt_meta_release(&s[k].meta);
        free(s[k].path);
    }
    if (have_rm)
        reward_release(&rm);
    shard_close(&val);
    tune_prompts_release(&pr);
    free(tok_bytes);
    free(pt);
    free(pl);
    free(rm_path);
    free(prompts_path);
    free(logpath);
    free(run);
    bpe_release(&tok);
    return rc;
}
