/* prefs.c: the 'prefs' command: preferences in the JSONL format other
 * tools use, {"prompt": ..., "chosen": ..., "rejected": ...}.  Import
 * appends each new pair to labels/rankings.jsonl as a label of two
 * answers (labeler "import"); export writes every pair the labels imply
 * (a demonstration is preferred over each sampled answer to its
 * prompt); with neither, a summary of the labels. */
#include <stdlib.h>
#include <string.h>

#include "base/fsio.h"
#include "base/xalloc.h"
#include "stages/rank.h"
#include "stages/stages.h"
#include "text/jsonl.h"

/* 1 if the store already holds this preference. */
static int
known(const struct ranking_set *s, const char *prompt, const char *chosen,
      const char *rejected)
{
    for (size_t i = 0; i < s->n; i++) {
        const struct ranking *r = &s->v[i];
        if (r->nanswers != 2 || r->norder != 2 || strcmp(r->prompt, prompt))
            continue;
        if (!strcmp(r->answers[r->order[0]], chosen) &&
            !strcmp(r->answers[r->order[1]], rejected))
            return 1;
    }
    return 0;
}

static int
text_field(const json_t *obj, const char *key, const char **out,
           char why[JSONL_REASON])
{
    size_t len;
    const char *s = jsonl_get_string(obj, key, &len, why);
    if (!s)
        return -1;
    if (strlen(s) != len) {
        snprintf(why, JSONL_REASON, "field '%s' contains a NUL character", key);
        return -1;
    }
    if (strspn(s, " \t\r\n") == len) {
        snprintf(why, JSONL_REASON, "field '%s' is empty", key);
        return -1;
    }
    *out = s;
    return 0;
}

static enum gr_status
import_file(struct gr_ctx *ctx, const char *path, struct ranking_set *store,
            char **buf_out, size_t *nbuf, size_t *added, size_t *dups,
            size_t *nbad, struct gr_error *err)
{
    char *buf;
    size_t len;
    enum gr_status rc = fs_read_all(path, &buf, &len, err);
    if (rc != GR_OK)
        return rc;
    struct jsonl_reader rd;
    jsonl_reader_init(&rd, buf, len);
    json_t *obj;
    char why[JSONL_REASON];
    enum jsonl_result res;
    char *now = rankings_now();
    while ((res = jsonl_next(&rd, &obj, why)) != JSONL_END) {
        const char *p, *c, *r;
        int ok = res == JSONL_OBJECT && !text_field(obj, "prompt", &p, why) &&
                 !text_field(obj, "chosen", &c, why) &&
                 !text_field(obj, "rejected", &r, why);
        if (ok && !strcmp(c, r)) {
            snprintf(why, JSONL_REASON, "'chosen' and 'rejected' are the same text");
            ok = 0;
        }
        if (!ok) {
            if (*nbad < 20)
                metrics_note(ctx->metrics, "%s:%zu: %s; skipped", path, rd.line, why);
            (*nbad)++;
            json_decref(obj);
            continue;
        }
        if (known(store, p, c, r)) {
            (*dups)++;
            json_decref(obj);
            continue;
        }
        struct ranking k = { 0 };
        k.prompt = xstrdup(p);
        k.nanswers = 2;
        k.answers = xmalloc(2 * sizeof *k.answers);
        k.answers[0] = xstrdup(c);
        k.answers[1] = xstrdup(r);
        k.norder = 2;
        k.order = xmalloc(2 * sizeof *k.order);
        k.order[0] = 0;
        k.order[1] = 1;
        k.labeler = xstrdup("import");
        k.time = xstrdup(now);
        char *line = ranking_to_line(&k);
        size_t n = strlen(line);
        *buf_out = xrealloc(*buf_out, *nbuf + n + 1);
        memcpy(*buf_out + *nbuf, line, n + 1);
        *nbuf += n;
        free(line);
        rankings_push(store, &k);       /* later duplicates in the same import */
        (*added)++;
        json_decref(obj);
    }
    free(now);
    free(buf);
    return GR_OK;
}

static enum gr_status
do_import(struct gr_ctx *ctx, const struct workspace *ws, char *const *files,
          size_t nfiles, struct ranking_set *store, struct gr_error *err)
{
    char *buf = NULL;
    size_t nbuf = 0, added = 0, dups = 0, nbad = 0;
    enum gr_status rc = GR_OK;
    for (size_t i = 0; i < nfiles && rc == GR_OK; i++)
        rc = import_file(ctx, files[i], store, &buf, &nbuf, &added, &dups, &nbad, err);
    if (rc == GR_OK && nbad > 20)
        metrics_note(ctx->metrics, "... %zu bad lines in all", nbad);
    char *path = workspace_path(ws, "labels/rankings.jsonl");
    if (rc == GR_OK && nbuf) {
        /* One write and one fsync for the whole import. */
        rc = rankings_append_lines(path, buf, nbuf, err);
    }
    if (rc == GR_OK)
        ctx_printf(ctx, "Imported %zu preference%s into labels/rankings.jsonl (%zu already "
                   "there, %zu bad line%s skipped).\n", added, added == 1 ? "" : "s",
                   dups, nbad, nbad == 1 ? "" : "s");
    free(path);
    free(buf);
    return rc;
}

static void
put_pair(FILE *f, const char *prompt, const char *chosen, const char *rejected)
{
    json_t *o = json_object();
    json_object_set_new(o, "prompt", json_string(prompt));
    json_object_set_new(o, "chosen", json_string(chosen));
    json_object_set_new(o, "rejected", json_string(rejected));
    char *s = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
    fprintf(f, "%s\n", s);
    free(s);
    json_decref(o);
}

static enum gr_status
do_export(struct gr_ctx *ctx, const char *out, const struct ranking_set *s,
          struct gr_error *err)
{
    char *buf = NULL;
    size_t len = 0, npairs = 0, nlabels = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f)
        return gr_fail_errno(err, GR_ENOMEM, "export");
    for (size_t i = 0; i < s->n; i++) {
        const struct ranking *r = &s->v[i];
        struct rank_pair *p;
        size_t n = ranking_pairs(r, &p);
        for (size_t j = 0; j < n; j++)
            put_pair(f, r->prompt, ranking_candidate(r, p[j].win),
                     ranking_candidate(r, p[j].lose));
        npairs += n;
        nlabels += n > 0;
        free(p);
    }
    fclose(f);
    enum gr_status rc = fs_write_atomic(out, buf, len, err);
    free(buf);
    if (rc == GR_OK)
        ctx_printf(ctx, "Wrote %zu preference pair%s from %zu label%s to %s.\n", npairs,
                   npairs == 1 ? "" : "s", nlabels, nlabels == 1 ? "" : "s", out);
    return rc;
}

static void
summary(struct gr_ctx *ctx, const struct ranking_set *s)
{
    size_t human = 0, rule = 0, imp = 0, other = 0, skipped = 0, bad = 0, better = 0,
           rated = 0, pairs = 0, prompts = 0;
    for (size_t i = 0; i < s->n; i++) {
        const struct ranking *r = &s->v[i];
        const char *l = r->labeler ? r->labeler : "";
        human += !strcmp(l, "human");
        rule += !strcmp(l, "rule");
        imp += !strcmp(l, "import");
        skipped += r->skipped;
        bad += r->all_bad;
        better += r->better != NULL;
        rated += r->ratings != NULL;
        struct rank_pair *p;
        pairs += ranking_pairs(r, &p);
        free(p);
        int seen = 0;
        for (size_t j = 0; j < i && !seen; j++)
            seen = !strcmp(s->v[j].prompt, r->prompt);
        prompts += !seen;
    }
    other = s->n - human - rule - imp;
    ctx_printf(ctx, "labels/rankings.jsonl: %zu label%s for %zu prompt%s, %zu preference "
               "pairs\n  by a person %zu, by the rule %zu, imported %zu, other %zu\n"
               "  skipped %zu, all bad %zu, with a written answer %zu, with ratings %zu\n",
               s->n, s->n == 1 ? "" : "s", prompts, prompts == 1 ? "" : "s", pairs, human,
               rule, imp, other, skipped, bad, better, rated);
}

enum gr_status
stage_prefs(struct gr_ctx *ctx, const struct gr_args *a, struct gr_error *err)
{
    const struct workspace *ws = ctx->ws;
    char *const *files;
    size_t nfiles = args_list(a, "import", &files);
    const char *out = args_str(a, "export");
    struct ranking_set s;
    rankings_init(&s);
    /* Export counts demonstrations as preferred answers; an import
     * compares with the store as it is. */
    enum gr_status rc = rank_load_labels(ctx, ws, NULL, !nfiles, &s, err);
    if (rc == GR_OK && nfiles)
        rc = do_import(ctx, ws, files, nfiles, &s, err);
    if (rc == GR_OK && out) {
        if (nfiles) {
            rankings_release(&s);
            rankings_init(&s);
            rc = rank_load_labels(ctx, ws, NULL, 1, &s, err);
        }
        if (rc == GR_OK)
            rc = do_export(ctx, out, &s, err);
    }
    if (rc == GR_OK && !nfiles && !out)
        summary(ctx, &s);
    rankings_release(&s);
    return rc;
}
