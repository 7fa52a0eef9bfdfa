/* chat.c: conversations (stages/chat.h) and the 'chat' command.  The
 * command opens a conversation and hands it to the front end's loop
 * (gr_ctx.chat_loop: a readline prompt, or one turn per line of a pipe);
 * with prompt= it answers that one message itself. */
#include "stages/chat.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistr.h>

#include "app/command.h"
#include "app/job.h"
#include "base/fsio.h"
#include "base/xalloc.h"
#include "stages/common.h"
#include "stages/stages.h"

static const char *const kinds[] = { "base", "sft", "tuned", NULL };

/* The checkpoint arg names: NULL (the newest of tuned, sft, base), a
 * file, or a kind.  *out: a path, caller frees. */
static enum gr_status
pick(const struct workspace *ws, const char *arg, char **out, struct gr_error *err)
{
    *out = NULL;
    if (!arg || fs_exists(arg))
        return stage_pick_checkpoint(ws, arg, "tuned,sft,base", out, err);
    const char *base = strrchr(arg, '/');
    base = base ? base + 1 : arg;
    for (int i = 0; kinds[i]; i++) {
        if (strcmp(base, kinds[i]) != 0)
            continue;
        if (!(*out = workspace_latest_checkpoint(ws, base)))
            return gr_fail(err, GR_ESTATE, "there is no %s checkpoint yet", base);
        return GR_OK;
    }
    return stage_no_checkpoint(ws->root, arg, " (give a file, or one of base, "
                               "sft, tuned)", err);
}

/* Load path's model into c (replacing the current one only on success). */
static enum gr_status
load(struct chat *c, const char *path, struct gr_error *err)
{
    struct gpt m = { 0 };
    struct ckpt_meta meta;
    struct kvcache kv = { 0 };
    ckpt_meta_init(&meta);
    enum gr_status rc = stage_load_checkpoint(path, &c->tok, &m, &meta, 0, err);
    if (rc == GR_OK)
        rc = kvcache_init(&kv, &m.cfg, 1, err);
    if (rc == GR_OK)
        rc = kvcache_set_precision(&kv, c->o.precision, err);
    if (rc != GR_OK) {
        kvcache_release(&kv);
        gpt_release(&m);
        ckpt_meta_release(&meta);
        return rc;
    }
    kvcache_release(&c->kv);
    gpt_release(&c->model);
    ckpt_meta_release(&c->meta);
    free(c->ckpt);
    c->model = m;
    c->meta = meta;
    c->kv = kv;
    c->ckpt = xstrdup(path);
    const int T = m.cfg.T, V = m.cfg.V;
    c->cached = xrealloc(c->cached, (size_t)T * sizeof *c->cached);
    c->logits = xrealloc(c->logits, (size_t)V * sizeof *c->logits);
    c->scratch = xrealloc(c->scratch, 2 * (size_t)V * sizeof *c->scratch);
    return GR_OK;
}

enum gr_status
chat_open(struct chat *c, const struct workspace *ws, const char *ckpt,
          const struct chat_opts *o, struct gr_error *err)
{
    memset(c, 0, sizeof *c);
    c->ws = ws;
    c->o = *o;
    bpe_init(&c->tok);
    ckpt_meta_init(&c->meta);
    rng_seed(&c->rng, o->seed);
    char *path = NULL;
    enum gr_status rc = stage_load_tokenizer(ws, &c->tok, err);
    if (rc == GR_OK)
        rc = pick(ws, ckpt, &path, err);
    if (rc == GR_OK)
        rc = load(c, path, err);
    free(path);
    return rc;
}

void
chat_close(struct chat *c)
{
    if (!c)
        return;
    chat_reset(c);
    free(c->turns);
    free(c->cached);
    free(c->logits);
    free(c->scratch);
    free(c->ctx_toks);
    free(c->ckpt);
    kvcache_release(&c->kv);
    gpt_release(&c->model);
    ckpt_meta_release(&c->meta);
    bpe_release(&c->tok);
    memset(c, 0, sizeof *c);
}

enum gr_status
chat_load(struct chat *c, const char *ckpt, struct gr_error *err)
{
    char *path;
    enum gr_status rc = pick(c->ws, ckpt, &path, err);
    if (rc == GR_OK)
        rc = load(c, path, err);
    free(path);
    return rc;
}

void
chat_reset(struct chat *c)
{
    for (size_t i = 0; i < c->nturns; i++)
        free((char *)c->turns[i].text);
    c->nturns = 0;
    c->first = 0;
    kvcache_reset(&c->kv);
}

void
chat_seed(struct chat *c, uint64_t seed)
{
    c->o.seed = seed;
    rng_seed(&c->rng, seed);
}

static void
add_turn(struct chat *c, enum chat_role role, const char *text, size_t len)
{
    if (c->nturns == c->cap) {
        c->cap = c->cap ? 2 * c->cap : 16;
        c->turns = xrealloc(c->turns, c->cap * sizeof *c->turns);
    }
    c->turns[c->nturns].role = role;
    c->turns[c->nturns].text = xstrndup(text, len);
    c->turns[c->nturns].len = len;
    c->nturns++;
}

/* Encode turns [first, nturns) and an open assistant turn into ctx_toks. */
static enum gr_status
encode_context(struct chat *c, struct gr_error *err)
{
    c->nctx = 0;
    return chat_encode(&c->tok, c->turns + c->first, c->nturns - c->first, 1,
                       &c->ctx_toks, NULL, &c->nctx, &c->ctx_cap, err);
}

/* Fit the context into budget tokens: drop the oldest question and
 * answer while there are older turns, then cut the message itself. */
static enum gr_status
fit_context(struct chat *c, size_t budget, struct chat_reply_info *info,
            struct gr_error *err)
{
    enum gr_status rc;
    for (;;) {
        if ((rc = encode_context(c, err)) != GR_OK)
            return rc;
        if (c->nctx <= budget)
            return GR_OK;
        if (c->nturns - c->first > 1) {
            c->first += 2;
            info->dropped += 2;
            continue;
        }
        /* <|user|> [last budget-3 tokens] <|end|> <|assistant|> */
        size_t keep = budget - 3, drop = c->nctx - 3 - keep;
        memmove(c->ctx_toks + 1, c->ctx_toks + 1 + drop, (keep + 2) * sizeof *c->ctx_toks);
        c->nctx = budget;
        info->prompt_cut = 1;
        return GR_OK;
    }
}

enum gr_status
chat_reply(struct chat *c, const char *text, chat_token_fn fn, void *ud,
           struct chat_reply_info *info_out, struct gr_error *err)
{
    struct chat_reply_info info = { 0 };
    const int T = c->model.cfg.T, V = c->model.cfg.V;
    double t0 = stage_now();
    add_turn(c, CHAT_USER, text, strlen(text));
    size_t reserve = (size_t)c->o.max_tokens < (size_t)T / 2 ? (size_t)c->o.max_tokens
                                                             : (size_t)T / 2;
    enum gr_status rc = fit_context(c, (size_t)T - reserve, &info, err);
    if (rc != GR_OK) {
        c->nturns--;
        free((char *)c->turns[c->nturns].text);
        return rc;
    }
    c->cur = &info;
    if ((enum gpt_precision)c->kv.precision != c->o.precision) {
        /* the settings changed: the weights are copied at position 0 */
        if ((rc = kvcache_set_precision(&c->kv, c->o.precision, err)) != GR_OK) {
            c->cur = NULL;
            c->nturns--;
            free((char *)c->turns[c->nturns].text);
            return rc;
        }
        kvcache_reset(&c->kv);
    }

    /* Feed only what the cache does not hold yet (at least the last
     * token, whose logits come next). */
    size_t n = c->nctx, same = 0, held = (size_t)c->kv.len;
    while (same < held && same < n - 1 && c->cached[same] == c->ctx_toks[same])
        same++;
    c->kv.len = (int)same;              /* forget the positions after */
    memcpy(c->cached, c->ctx_toks, n * sizeof *c->cached);
    gpt_prefill(&c->model, &c->kv, c->ctx_toks + same, (int)(n - same), c->logits);

    char *ans = NULL;
    size_t alen = 0, acap = 0;
    int pos = (int)n;
    for (int k = 0; k < c->o.max_tokens; k++) {
        int next = sample_next(c->logits, V, &c->o.so, c->cached, pos, &c->rng,
                               c->scratch);
        if (next >= BPE_ENDOFTEXT && next < BPE_FIRST_MERGE) {
            info.ended = next == BPE_END;
            break;
        }
        const unsigned char *b;
        size_t len = bpe_token_bytes(&c->tok, next, &b);
        if (alen + len + 1 > acap) {
            acap = (alen + len + 1) * 2;
            ans = xrealloc(ans, acap);
        }
        memcpy(ans + alen, b, len);
        alen += len;
        info.ntokens++;
        if (fn && fn(ud, (const char *)b, len)) {
            info.stopped = 1;
            break;
        }
        if (pos == T) {
            info.cut = 1;
            break;
        }
        c->cached[pos] = next;
        gpt_forward_step(&c->model, &c->kv, &c->cached[pos], pos, c->logits);
        pos++;
    }
    c->cur = NULL;
    add_turn(c, CHAT_ASSISTANT, ans ? ans : "", alen);
    free(ans);
    info.seconds = stage_now() - t0;
    if (info_out)
        *info_out = info;
    return GR_OK;
}

/* s (n bytes) with each invalid UTF-8 sequence replaced by U+FFFD. */
static json_t *
json_text(const char *s, size_t n)
{
    json_t *j = json_stringn(s, n);
    if (j)
        return j;
    char *o = xmalloc(3 * n + 1);
    size_t k = 0;
    for (size_t i = 0; i < n;) {
        ucs4_t uc;
        int l = u8_mbtoucr(&uc, (const uint8_t *)s + i, n - i);
        if (l > 0 && uc != 0) {
            memcpy(o + k, s + i, (size_t)l);
            k += (size_t)l;
            i += (size_t)l;
        } else {
            memcpy(o + k, "\xef\xbf\xbd", 3);
            k += 3;
            i++;
        }
    }
    j = json_stringn(o, k);
    free(o);
    return j;
}

char *
chat_transcript_json(const struct chat *c)
{
    json_t *a = json_array();
    for (size_t i = 0; i < c->nturns; i++) {
        json_t *m = json_object();
        json_object_set_new(m, "role", json_string(chat_role_name(c->turns[i].role)));
        json_object_set_new(m, "content", json_text(c->turns[i].text, c->turns[i].len));
        json_array_append_new(a, m);
    }
    json_t *o = json_object();
    json_object_set_new(o, "messages", a);
    char *s = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    if (!s)
        abort();                /* out of memory */
    char *line = xasprintf("%s\n", s);
    free(s);
    return line;
}

enum gr_status
chat_save(const struct chat *c, const char *path, struct gr_error *err)
{
    if (!c->nturns)
        return gr_fail(err, GR_EINPUT, "nothing to save yet: the conversation is empty");
    char *line = chat_transcript_json(c);
    enum gr_status rc = fs_write_atomic(path, line, strlen(line), err);
    free(line);
    return rc;
}

/* ---- slash commands ------------------------------------------------ */

const struct chat_slash chat_slash_commands[] = {
    { "/temp", "X", "sampling temperature (0: always the likeliest token)" },
    { "/top_k", "N", "sample among the N likeliest tokens (0: all)" },
    { "/top_p", "P", "nucleus sampling: the smallest set with this much probability" },
    { "/seed", "N", "restart the random numbers from seed N" },
    { "/max_tokens", "N", "longest answer, in tokens" },
    { "/reset", NULL, "forget the conversation so far" },
    { "/save", "FILE", "write the conversation to FILE as JSONL messages" },
    { "/model", "CKPT", "switch to a checkpoint file, or base, sft or tuned" },
    { "/help", NULL, "list these commands" },
    { "/quit", NULL, "leave (so does Ctrl-D)" },
    { NULL, NULL, NULL }
};

/* Parse a number in [lo, hi]; integer when want_int. */
static enum gr_status
number(const char *name, const char *s, double lo, double hi, int want_int,
       double *out, struct gr_error *err)
{
    char *end;
    errno = 0;
    double x = strtod(s, &end);
    while (*end == ' ' || *end == '\t')
        end++;
    if (end == s || *end || errno || !isfinite(x) || (want_int && x != floor(x)))
        return gr_fail(err, GR_EINPUT, "%s expects %s, got '%s'", name,
                       want_int ? "an integer" : "a number", s);
    if (x < lo || x > hi)
        return gr_fail(err, GR_EINPUT, "%s must be between %g and %g, got %s", name,
                       lo, hi, s);
    *out = x;
    return GR_OK;
}

static char *
help_text(void)
{
    size_t n = 0;
    char *s = xstrdup("");
    for (const struct chat_slash *k = chat_slash_commands; k->name; k++) {
        char *arg = xasprintf("%s%s%s", k->name, k->arg ? " " : "", k->arg ? k->arg : "");
        char *t = xasprintf("%s%s%-16s %s", s, n++ ? "\n" : "", arg, k->help);
        free(arg);
        free(s);
        s = t;
    }
    char *t = xasprintf("%s\nCtrl-C stops an answer; Ctrl-D leaves.", s);
    free(s);
    return t;
}

enum gr_status
chat_slash(struct chat *c, const char *line, char **reply, int *quit,
           struct gr_error *err)
{
    *reply = NULL;
    *quit = 0;
    char *cmd = xstrdup(line);
    char *arg = cmd + strcspn(cmd, " \t");
    if (*arg) {
        *arg++ = '\0';
        arg += strspn(arg, " \t");
        size_t l = strlen(arg);
        while (l && (arg[l - 1] == ' ' || arg[l - 1] == '\t'))
            arg[--l] = '\0';
    }
    int has = *arg != '\0';
    enum gr_status rc = GR_OK;
    double x;
    struct sampler_opts *so = &c->o.so;

    if (!strcmp(cmd, "/temp") || !strcmp(cmd, "/temperature")) {
        if (has && (rc = number("/temp", arg, 0, 10, 0, &x, err)) == GR_OK)
            so->temperature = (float)x;
        *reply = xasprintf("temperature %g", so->temperature);
    } else if (!strcmp(cmd, "/top_k")) {
        if (has && (rc = number("/top_k", arg, 0, 65536, 1, &x, err)) == GR_OK)
            so->top_k = (int)x;
        *reply = xasprintf("top_k %d", so->top_k);
    } else if (!strcmp(cmd, "/top_p")) {
        if (has && (rc = number("/top_p", arg, 0, 1, 0, &x, err)) == GR_OK)
            so->top_p = (float)x;
        *reply = xasprintf("top_p %g", so->top_p);
    } else if (!strcmp(cmd, "/seed")) {
        if (has && (rc = number("/seed", arg, 0, 2147483647, 1, &x, err)) == GR_OK)
            chat_seed(c, (uint64_t)x);
        *reply = xasprintf("seed %llu", (unsigned long long)c->o.seed);
    } else if (!strcmp(cmd, "/max_tokens")) {
        if (has && (rc = number("/max_tokens", arg, 1, 100000, 1, &x, err)) == GR_OK)
            c->o.max_tokens = (int)x;
        *reply = xasprintf("max_tokens %d", c->o.max_tokens);
    } else if (!strcmp(cmd, "/reset")) {
        chat_reset(c);
        *reply = xstrdup("The conversation starts over.");
    } else if (!strcmp(cmd, "/save")) {
        if (!has)
            rc = gr_fail(err, GR_EINPUT, "/save needs a file name");
        else if ((rc = chat_save(c, arg, err)) == GR_OK)
            *reply = xasprintf("Saved %zu messages to %s.", c->nturns, arg);
    } else if (!strcmp(cmd, "/model")) {
        if (has && (rc = chat_load(c, arg, err)) != GR_OK)
            goto out;
        *reply = xasprintf("%s (%s, step %llu)", c->ckpt, c->meta.kind,
                           (unsigned long long)c->meta.step);
    } else if (!strcmp(cmd, "/help") || !strcmp(cmd, "/?")) {
        *reply = help_text();
    } else if (!strcmp(cmd, "/quit") || !strcmp(cmd, "/exit")) {
        *quit = 1;
    } else {
        rc = gr_fail(err, GR_EINPUT, "unknown command %s (/help lists them)", cmd);
    }
out:
    if (rc != GR_OK) {
        free(*reply);
        *reply = NULL;
    }
    free(cmd);
    return rc;
}

/* ---- the 'chat' command ---------------------------------------------- */

static int
write_token(void *ud, const char *bytes, size_t n)
{
    struct gr_ctx *ctx = ud;
    ctx_write(ctx, bytes, n);
    return job_stop_requested(ctx->job);
}

enum gr_status
stage_chat(struct gr_ctx *ctx, const struct gr_args *a, struct gr_error *err)
{
    struct chat_opts o = {
        .so = {
            .temperature = (float)args_float(a, "temperature"),
            .top_k = (int)args_int(a, "top_k"),
            .top_p = (float)args_float(a, "top_p"),
            .repetition_penalty = (float)args_float(a, "repetition_penalty"),
        },
        .max_tokens = (int)args_int(a, "max_tokens"),
        .seed = args_has(a, "seed") ? (uint64_t)args_int(a, "seed") : ctx->ws->seed,
        .precision = stage_gen_precision(args_str(a, "precision")),
    };
    const char *prompt = args_str(a, "prompt");
    struct chat c;
    enum gr_status rc = chat_open(&c, ctx->ws, args_str(a, "checkpoint"), &o, err);
    if (rc != GR_OK)
        goto out;
    if (c.meta.step == 0)
        metrics_note(ctx->metrics, "note: %s is untrained (step 0): expect noise", c.ckpt);
    else if (!strcmp(c.meta.kind, "base"))
        metrics_note(ctx->metrics, "note: %s is a base model: it continues text rather "
                     "than answering, until 'garage sft' teaches it to", c.ckpt);
    if (prompt) {
        struct chat_reply_info info;
        rc = chat_reply(&c, prompt, write_token, ctx, &info, err);
        if (rc == GR_OK)
            ctx_printf(ctx, "\n");
        if (rc == GR_OK && info.prompt_cut)
            metrics_note(ctx->metrics, "the message is longer than the context: only "
                         "its end was read");
    } else if (ctx->chat_loop) {
        rc = ctx->chat_loop(ctx, &c, err);
    } else {
        rc = gr_fail(err, GR_EINPUT, "this front end cannot hold a conversation: give "
                     "the message as prompt=TEXT");
    }
out:
    chat_close(&c);
    return rc;
}
