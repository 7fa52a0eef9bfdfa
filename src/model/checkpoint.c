#include "model/checkpoint.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/fsio.h"
#include "base/xalloc.h"

static const char ckpt_magic[8] = { 'G', 'R', 'C', 'K', 'P', 'T', '\r', '\n' };

void
ckpt_meta_init(struct ckpt_meta *meta)
{
    memset(meta, 0, sizeof *meta);
}

void
ckpt_meta_release(struct ckpt_meta *meta)
{
    if (meta && meta->extra) {
        json_decref(meta->extra);
        meta->extra = NULL;
    }
}

const char *
ckpt_objective(const struct ckpt_meta *meta)
{
    json_t *obj = meta->extra ? json_object_get(meta->extra, "objective") : NULL;
    return json_is_string(obj) ? json_string_value(obj) : NULL;
}

static char *
hex64(uint64_t x)
{
    return xasprintf("%016" PRIx64, x);
}

static json_t *
meta_to_json(const struct ckpt_meta *meta, size_t nparams)
{
    json_t *j = json_object();
    json_object_set_new(j, "kind", json_string(meta->kind));
    json_t *c = json_object();
    json_object_set_new(c, "layers", json_integer(meta->cfg.L));
    json_object_set_new(c, "heads", json_integer(meta->cfg.NH));
    json_object_set_new(c, "dim", json_integer(meta->cfg.C));
    json_object_set_new(c, "context", json_integer(meta->cfg.T));
    json_object_set_new(c, "vocab", json_integer(meta->cfg.V));
    json_object_set_new(j, "config", c);
    json_object_set_new(j, "nparams", json_integer((json_int_t)nparams));
    json_object_set_new(j, "step", json_integer((json_int_t)meta->step));
    char *h = hex64(meta->tok_hash);
    json_object_set_new(j, "tokenizer_hash", json_string(h));
    free(h);
    json_t *r = json_array();
    for (int i = 0; i < 4; i++) {
        h = hex64(meta->rng.s[i]);
        json_array_append_new(r, json_string(h));
        free(h);
    }
    json_object_set_new(j, "rng", r);
    json_object_set_new(j, "data_pos", json_integer((json_int_t)meta->data_pos));
    json_object_set_new(j, "optimizer", json_boolean(meta->has_opt));
    json_object_set_new(j, "nextra", json_integer((json_int_t)meta->nextra));
    if (meta->extra)
        json_object_set(j, "extra", meta->extra);
    return j;
}

static int
get_hex(json_t *v, uint64_t *out)
{
    const char *s = json_string_value(v);
    if (!s)
        return -1;
    char *end;
    *out = strtoull(s, &end, 16);
    return *end ? -1 : 0;
}

static int
get_int(json_t *o, const char *key, long long lo, long long hi, long long *out)
{
    json_t *v = json_object_get(o, key);
    if (!json_is_integer(v))
        return -1;
    long long x = json_integer_value(v);
    if (x < lo || x > hi)
        return -1;
    *out = x;
    return 0;
}

static enum gr_status
meta_from_json(const char *path, json_t *j, struct ckpt_meta *meta,
               size_t *nparams, struct gr_error *err)
{
    long long L, NH, C, T, V, step, np, dp, nextra;
    json_t *c = json_object_get(j, "config");
    const char *kind = json_string_value(json_object_get(j, "kind"));
    json_t *r = json_object_get(j, "rng");
    if (!kind || !json_is_object(c) ||
        get_int(c, "layers", 1, 1024, &L) || get_int(c, "heads", 1, 1024, &NH) ||
        get_int(c, "dim", 1, 1 << 20, &C) || get_int(c, "context", 1, 1 << 24, &T) ||
        get_int(c, "vocab", 1, 1 << 24, &V) ||
        get_int(j, "step", 0, INT64_MAX, &step) ||
        get_int(j, "nparams", 1, INT64_MAX, &np) ||
        get_int(j, "data_pos", 0, INT64_MAX, &dp) ||
        get_int(j, "nextra", 0, INT64_MAX, &nextra) ||
        get_hex(json_object_get(j, "tokenizer_hash"), &meta->tok_hash) ||
        !json_is_array(r) || json_array_size(r) != 4 ||
        !json_is_boolean(json_object_get(j, "optimizer")))
        return gr_fail(err, GR_ECORRUPT, "%s: damaged checkpoint header", path);
    for (int i = 0; i < 4; i++)
        if (get_hex(json_array_get(r, i), &meta->rng.s[i]))
            return gr_fail(err, GR_ECORRUPT, "%s: damaged checkpoint header", path);
    snprintf(meta->kind, sizeof meta->kind, "%s", kind);
    meta->cfg = (struct gpt_config){ .L = (int)L, .NH = (int)NH, .C = (int)C,
                                     .T = (int)T, .V = (int)V };
    if (gpt_num_params(&meta->cfg) != (size_t)np)
        return gr_fail(err, GR_ECORRUPT, "%s: parameter count %lld does not match "
                       "its config", path, np);
    meta->step = (uint64_t)step;
    meta->data_pos = (uint64_t)dp;
    meta->has_opt = json_is_true(json_object_get(j, "optimizer"));
    meta->nextra = (size_t)nextra;
    json_t *extra = json_object_get(j, "extra");
    meta->extra = extra ? json_incref(extra) : NULL;
    *nparams = (size_t)np;
    return GR_OK;
}

enum gr_status
ckpt_save(const char *path, const struct gpt *m, const struct ckpt_meta *meta,
          const float *extra, struct gr_error *err)
{
    json_t *j = meta_to_json(meta, m->nparams);
    char *text = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(j);
    uint32_t version = CKPT_VERSION, hlen = (uint32_t)strlen(text);
    size_t head = sizeof ckpt_magic + 8 + hlen;
    size_t pad = (64 - head % 64) % 64;
    char *hbuf = xcalloc(1, head + pad);
    memcpy(hbuf, ckpt_magic, 8);
    memcpy(hbuf + 8, &version, 4);
    memcpy(hbuf + 12, &hlen, 4);
    memcpy(hbuf + 16, text, hlen);
    free(text);

    struct fs_atomic a;
    enum gr_status rc = fs_atomic_open(&a, path, err);
    if (rc != GR_OK) {
        free(hbuf);
        return rc;
    }
    uint64_t h = gr_hash64(hbuf, head + pad, 0);
    rc = fs_atomic_write(&a, hbuf, head + pad, err);
    free(hbuf);
    size_t nbytes = m->nparams * sizeof(float);
    const float *sections[4] = { m->params, meta->has_opt ? m->adam_m : NULL,
                                 meta->has_opt ? m->adam_v : NULL, extra };
    size_t sizes[4] = { nbytes, nbytes, nbytes, meta->nextra * sizeof(float) };
    for (int s = 0; s < 4 && rc == GR_OK; s++) {
        if (!sections[s] || !sizes[s])
            continue;
        h = gr_hash64(sections[s], sizes[s], h);
        rc = fs_atomic_write(&a, sections[s], sizes[s], err);
    }
    if (rc == GR_OK)
        rc = fs_atomic_write(&a, &h, sizeof h, err);
    if (rc != GR_OK) {
        fs_atomic_abort(&a);
        return rc;
    }
    return fs_atomic_commit(&a, err);
}

/* Read the header from an open file; leaves the file positioned at the
 * first float section. */
static enum gr_status
read_header(FILE *f, const char *path, struct ckpt_meta *meta, size_t *nparams,
            size_t *head_bytes, long long fsize, struct gr_error *err)
{
    char magic[8];
    uint32_t version, hlen;
    if (fread(magic, 1, 8, f) != 8 || memcmp(magic, ckpt_magic, 8) != 0)
        return gr_fail(err, GR_ECORRUPT, "%s: not a garage checkpoint", path);
    if (fread(&version, 4, 1, f) != 1 || fread(&hlen, 4, 1, f) != 1)
        return gr_fail(err, GR_ECORRUPT, "%s: truncated checkpoint", path);
    if (version != CKPT_VERSION)
        return gr_fail(err, GR_ECORRUPT, "%s: checkpoint format version %u, but this "
                       "garage reads version %d", path, version, CKPT_VERSION);
    if ((long long)hlen + 16 > fsize)
        return gr_fail(err, GR_ECORRUPT, "%s: truncated checkpoint", path);
    char *text = xmalloc(hlen + 1);
    if (fread(text, 1, hlen, f) != hlen) {
        free(text);
        return gr_fail(err, GR_ECORRUPT, "%s: truncated checkpoint", path);
    }
    text[hlen] = '\0';
    json_error_t jerr;
    json_t *j = json_loads(text, 0, &jerr);
    free(text);
    if (!j)
        return gr_fail(err, GR_ECORRUPT, "%s: damaged checkpoint header", path);
    enum gr_status rc = meta_from_json(path, j, meta, nparams, err);
    json_decref(j);
    if (rc != GR_OK)
        return rc;
    size_t head = 16 + hlen;
    *head_bytes = head + (64 - head % 64) % 64;
    size_t nb = *nparams * sizeof(float);
    long long expect = (long long)*head_bytes + (long long)nb * (meta->has_opt ? 3 : 1) +
                       (long long)(meta->nextra * sizeof(float)) + 8;
    if (fsize != expect) {
        ckpt_meta_release(meta);
        return gr_fail(err, GR_ECORRUPT, "%s: checkpoint is %lld bytes, expected %lld "
                       "(truncated or damaged)", path, fsize, expect);
    }
    return GR_OK;
}

enum gr_status
ckpt_read_meta(const char *path, struct ckpt_meta *meta, struct gr_error *err)
{
    ckpt_meta_init(meta);
    long long fsize = fs_size(path);
    if (fsize < 0)
        return gr_fail_errno(err, GR_EINPUT, "%s", path);
    FILE *f = fopen(path, "rbe");
    if (!f)
        return gr_fail_errno(err, GR_EINPUT, "%s", path);
    size_t np, head;
    enum gr_status rc = read_header(f, path, meta, &np, &head, fsize, err);
    fclose(f);
    return rc;
}

static int
read_section(FILE *f, void *dst, size_t n, uint64_t *h)
{
    if (fread(dst, 1, n, f) != n)
        return -1;
    *h = gr_hash64(dst, n, *h);
    return 0;
}

enum gr_status
ckpt_load(const char *path, struct gpt *m, struct ckpt_meta *meta, int want_opt,
          float **extra, struct gr_error *err)
{
    ckpt_meta_init(meta);
    memset(m, 0, sizeof *m);
    if (extra)
        *extra = NULL;
    float *ex = NULL;
    long long fsize = fs_size(path);
    if (fsize < 0)
        return gr_fail_errno(err, GR_EINPUT, "%s", path);
    FILE *f = fopen(path, "rbe");
    if (!f)
        return gr_fail_errno(err, GR_EINPUT, "%s", path);
    size_t np, head;
    enum gr_status rc = read_header(f, path, meta, &np, &head, fsize, err);
    if (rc != GR_OK)
        goto out;
    if (want_opt && !meta->has_opt) {
        rc = gr_fail(err, GR_EINPUT, "%s: has no optimizer state to resume from", path);
        goto out;
    }
    if ((rc = gpt_create(m, &meta->cfg, err)) != GR_OK)
        goto out;
    char *hbuf = xmalloc(head);
    rewind(f);
    uint64_t h = 0;
    if (fread(hbuf, 1, head, f) != head) {
        free(hbuf);
        rc = gr_fail(err, GR_ECORRUPT, "%s: truncated checkpoint", path);
        goto out;
    }
    h = gr_hash64(hbuf, head, 0);
    free(hbuf);
    size_t nb = np * sizeof(float);
    int bad = read_section(f, m->params, nb, &h);
    if (!bad && meta->has_opt) {
        /* Read moments even when not wanted: the checksum covers them. */
        bad = read_section(f, m->adam_m, nb, &h) || read_section(f, m->adam_v, nb, &h);
        if (!want_opt) {
            memset(m->adam_m, 0, nb);
            memset(m->adam_v, 0, nb);
        }
    }
    if (!bad && meta->nextra) {
        ex = xmalloc(meta->nextra * sizeof(float));
        bad = read_section(f, ex, meta->nextra * sizeof(float), &h);
    }
    uint64_t stored;
    if (bad || fread(&stored, 8, 1, f) != 1) {
        rc = gr_fail(err, GR_ECORRUPT, "%s: truncated checkpoint", path);
        goto out;
    }
    if (stored != h) {
        rc = gr_fail(err, GR_ECORRUPT, "%s: checksum mismatch (the file is damaged)", path);
        goto out;
    }
    if (extra) {
        *extra = ex;
        ex = NULL;
    }
out:
    free(ex);
    fclose(f);
    if (rc != GR_OK) {
        gpt_release(m);
        ckpt_meta_release(meta);
    }
    return rc;
}
