/* demos.c: the 'demos' command: demonstrations (conversations a person
 * wrote, the answers the model should give) in labels/demos.jsonl.
 *
 * Import validates every line of every file before it appends anything,
 * then appends each new record with its own fsync (text/labels.h); exact
 * duplicates of stored demonstrations are skipped, so importing a file
 * twice changes nothing. */
#include <stdlib.h>
#include <string.h>

#include "base/fsio.h"
#include "base/xalloc.h"
#include "stages/common.h"
#include "stages/stages.h"
#include "text/labels.h"

/* A set of 64-bit hashes (open addressing; 0 marks a free slot). */
struct hset {
    uint64_t *v;
    size_t mask, n;
};

static int
hset_add(struct hset *h, uint64_t x)        /* 1 if x was new */
{
    x |= 1;                                 /* never 0 */
    if (2 * (h->n + 1) > h->mask + 1 || !h->v) {
        struct hset g = { 0 };
        g.mask = h->v ? 2 * (h->mask + 1) - 1 : 255;
        g.v = xcalloc(g.mask + 1, sizeof *g.v);
        for (size_t i = 0; h->v && i <= h->mask; i++)
            if (h->v[i])
                hset_add(&g, h->v[i]);
        free(h->v);
        *h = g;
    }
    for (size_t i = x & h->mask; ; i = (i + 1) & h->mask) {
        if (h->v[i] == x)
            return 0;
        if (!h->v[i]) {
            h->v[i] = x;
            h->n++;
            return 1;
        }
    }
}

/* Read the store, noting (and skipping) lines that are not demonstrations. */
static enum gr_status
load_store(struct gr_ctx *ctx, const char *path, struct demo_set *s,
           struct gr_error *err)
{
    struct labels_bad *bad = NULL;
    size_t nbad = 0;
    enum gr_status rc = demos_read_file(path, 1, s, &bad, &nbad, err);
    for (size_t i = 0; i < nbad; i++)
        metrics_note(ctx->metrics, "%s:%zu: %s (skipped)", path, bad[i].line, bad[i].why);
    free(bad);
    return rc;
}

static enum gr_status
do_import(struct gr_ctx *ctx, const char *store, struct demo_set *have,
          char *const *files, size_t nfiles, int strict, struct gr_error *err)
{
    struct demo_set *in = xcalloc(nfiles, sizeof *in);
    struct hset seen = { 0 };
    size_t nbad_all = 0, added = 0, dups = 0, total = 0;
    enum gr_status rc = GR_OK;
    char first_bad[GR_METRIC_TEXT] = "";

    /* Everything is read and checked before the first append. */
    for (size_t f = 0; f < nfiles && rc == GR_OK; f++) {
        struct labels_bad *bad = NULL;
        size_t nbad = 0;
        rc = demos_read_file(files[f], 0, &in[f], &bad, &nbad, err);
        for (size_t i = 0; i < nbad; i++) {
            if (!nbad_all++)
                snprintf(first_bad, sizeof first_bad, "%s:%zu: %s", files[f],
                         bad[i].line, bad[i].why);
            if (!strict)
                metrics_note(ctx->metrics, "%s:%zu: %s (skipped)", files[f],
                             bad[i].line, bad[i].why);
        }
        free(bad);
        total += in[f].n;
    }
    if (rc == GR_OK && strict && nbad_all) {
        rc = nbad_all == 1
           ? gr_fail(err, GR_EINPUT, "%s; nothing was imported (strict=true)", first_bad)
           : gr_fail(err, GR_EINPUT, "%s; nothing was imported (strict=true; %zu bad "
                     "lines in all)", first_bad, nbad_all);
    }
    if (rc == GR_OK && total == 0)
        rc = gr_fail(err, GR_EINPUT, "%s%s: no demonstrations found (expected JSON "
                     "Lines with 'prompt' and 'completion', or 'messages')", files[0],
                     nfiles > 1 ? " and the other files" : "");
    if (rc != GR_OK)
        goto out;

    for (size_t i = 0; i < have->n; i++)
        hset_add(&seen, demo_hash(&have->v[i]));
    for (size_t f = 0; f < nfiles && rc == GR_OK; f++) {
        for (size_t i = 0; i < in[f].n; i++) {
            if (!hset_add(&seen, demo_hash(&in[f].v[i]))) {
                dups++;
                continue;
            }
            if ((rc = demos_append(store, &in[f].v[i], err)) != GR_OK)
                break;
            added++;
            metrics_progress(ctx->metrics, "import", (double)added, (double)total,
                             "demos");
        }
    }
    if (added || rc == GR_OK) {
        ctx_printf(ctx, "Imported %zu demonstration%s", added, added == 1 ? "" : "s");
        if (nbad_all || dups) {
            ctx_printf(ctx, " (skipped");
            if (nbad_all)
                ctx_printf(ctx, " %zu bad line%s", nbad_all, nbad_all == 1 ? "" : "s");
            if (dups)
                ctx_printf(ctx, "%s%zu already stored", nbad_all ? ", " : " ", dups);
            ctx_printf(ctx, ")");
        }
        ctx_printf(ctx, "; %s holds %zu.\n", store, have->n + added);
    }
out:
    for (size_t f = 0; f < nfiles; f++)
        demos_release(&in[f]);
    free(in);
    free(seen.v);
    return rc;
}

/* Text shown indented after its label, continuation lines aligned. */
static void
print_text(struct gr_ctx *ctx, const char *label, const char *s, size_t n)
{
    ctx_printf(ctx, "  %-10s ", label);
    for (size_t i = 0; i < n; i++) {
        ctx_write(ctx, s + i, 1);
        if (s[i] == '\n' && i + 1 < n)
            ctx_printf(ctx, "  %-10s ", "");
    }
    ctx_printf(ctx, "\n");
}

static void
do_list(struct gr_ctx *ctx, const struct demo_set *s)
{
    for (size_t i = 0; i < s->n; i++) {
        ctx_printf(ctx, "#%zu\n", i + 1);
        for (size_t k = 0; k < s->v[i].nturns; k++) {
            const struct chat_turn *t = &s->v[i].turns[k];
            print_text(ctx, t->role == CHAT_USER ? "user:" : "assistant:", t->text, t->len);
        }
    }
    if (!s->n)
        ctx_printf(ctx, "No demonstrations yet: add some with 'garage demos import "
                   "FILE' or 'garage demos add prompt=... answer=...'.\n");
}

static enum gr_status
do_add(struct gr_ctx *ctx, const char *store, const struct demo_set *have,
       const char *prompt, const char *answer, struct gr_error *err)
{
    if (!prompt || !answer)
        return gr_fail(err, GR_EUSAGE, "'demos add' needs prompt=TEXT and answer=TEXT");
    json_t *o = json_pack("{s:s, s:s}", "prompt", prompt, "completion", answer);
    if (!o)
        return gr_fail(err, GR_EINPUT, "the prompt or the answer is not valid UTF-8");
    struct demo d;
    char why[JSONL_REASON];
    int ok = demo_parse(o, &d, why) == 0;
    json_decref(o);
    if (!ok) {
        const char *w = strstr(why, "field 'completion'") ? "the answer" : "the prompt";
        return gr_fail(err, GR_EINPUT, "%s is empty", w);
    }
    for (size_t i = 0; i < have->n; i++) {
        if (demo_equal(&have->v[i], &d)) {
            demo_release(&d);
            return gr_fail(err, GR_EINPUT, "this demonstration is stored already (#%zu)",
                           i + 1);
        }
    }
    enum gr_status rc = demos_append(store, &d, err);
    if (rc == GR_OK)
        ctx_printf(ctx, "Added demonstration #%zu to %s.\n", have->n + 1, store);
    demo_release(&d);
    return rc;
}

enum gr_status
stage_demos(struct gr_ctx *ctx, const struct gr_args *a, struct gr_error *err)
{
    char *const *files;
    size_t nfiles = args_list(a, "import", &files);
    int add = args_bool(a, "add"), list = args_bool(a, "list");
    const char *export = args_str(a, "export");
    int del = args_has(a, "delete");
    if ((nfiles > 0) + add + list + (export != NULL) + del > 1)
        return gr_fail(err, GR_EUSAGE, "choose one action: import, add, list, export "
                       "or delete");
    if (!add && (args_isset(a, "prompt") || args_isset(a, "answer")))
        return gr_fail(err, GR_EUSAGE, "prompt= and answer= go with 'demos add'");

    char *dir = workspace_path(ctx->ws, "labels");
    char *store = workspace_path(ctx->ws, "labels/demos.jsonl");
    struct demo_set have;
    demos_init(&have);
    enum gr_status rc = fs_mkdirs(dir, err);
    if (rc == GR_OK)
        rc = load_store(ctx, store, &have, err);
    if (rc != GR_OK)
        goto out;

    if (nfiles) {
        rc = do_import(ctx, store, &have, files, nfiles, args_bool(a, "strict"), err);
    } else if (add) {
        rc = do_add(ctx, store, &have, args_str(a, "prompt"), args_str(a, "answer"), err);
    } else if (list) {
        do_list(ctx, &have);
    } else if (export) {
        int completion = !strcmp(args_str(a, "format"), "completion");
        rc = demos_write_file(export, &have, completion, err);
        if (rc == GR_OK)
            ctx_printf(ctx, "Exported %zu demonstration%s to %s.\n", have.n,
                       have.n == 1 ? "" : "s", export);
    } else if (del) {
        long long n = args_int(a, "delete");
        if (n < 1 || (size_t)n > have.n) {
            rc = gr_fail(err, GR_EINPUT, "there is no demonstration #%lld (%zu stored; "
                         "see 'garage demos list')", n, have.n);
            goto out;
        }
        rc = labels_remove_line(store, have.v[n - 1].line, err);
        if (rc == GR_OK)
            ctx_printf(ctx, "Deleted demonstration #%lld; %zu left.\n", n, have.n - 1);
    } else {
        size_t multi = 0;
        for (size_t i = 0; i < have.n; i++)
            multi += have.v[i].nturns > 2;
        ctx_printf(ctx, "%s: %zu demonstration%s (%zu with several turns)\n", store,
                   have.n, have.n == 1 ? "" : "s", multi);
    }
out:
    demos_release(&have);
    free(store);
    free(dir);
    return rc;
}
