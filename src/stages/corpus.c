#include "stages/corpus.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "app/command.h"
#include "app/workspace.h"
#include "base/rng.h"
#include "base/xalloc.h"
#include "stages/stages.h"
#include "text/jsonl.h"

#define SNIFF_BYTES 8192            /* binary test looks this far */
#define FLUSH_BYTES (4u << 20)      /* a sink gets text in pieces this big */
#define BAD_LINE_NOTES 10           /* bad JSONL lines noted one by one */

/* ---- formats ------------------------------------------------------------ */

static const char *const format_names[] = { "auto", "text", "fortune", "jsonl" };

const char *
corpus_format_name(enum corpus_format f)
{
    return (unsigned)f < 4 ? format_names[f] : "?";
}

int
corpus_format_parse(const char *name, enum corpus_format *out)
{
    for (int i = 0; i < 4; i++)
        if (strcmp(name, format_names[i]) == 0) {
            *out = (enum corpus_format)i;
            return 0;
        }
    return -1;
}

int
corpus_is_binary(const void *data, size_t n)
{
    const unsigned char *p = data;
    size_t m = n < SNIFF_BYTES ? n : SNIFF_BYTES;
    if (memchr(p, 0, m))
        return 1;
    size_t ctrl = 0;
    for (size_t i = 0; i < m; i++) {
        unsigned char b = p[i];
        /* tab, newline, vt, ff, cr, backspace (overstrike) and escape
         * (terminal colours) turn up in text files */
        if ((b < 0x20 && !(b >= '\b' && b <= '\r') && b != 0x1b) || b == 0x7f)
            ctrl++;
    }
    return ctrl * 10 > m;               /* more than a tenth */
}

static int
has_ext(const char *path, const char *ext)
{
    size_t n = strlen(path), e = strlen(ext);
    return n > e && strcasecmp(path + n - e, ext) == 0;
}

static int
is_space(unsigned char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

static int
is_separator(const unsigned char *s, const unsigned char *e)
{
    return (e - s == 1 && s[0] == '%') || (e - s == 2 && s[0] == '%' && s[1] == '\r');
}

static char *
index_path(const char *path)
{
    return xasprintf("%s.dat", path);
}

/* A strfile index: version 1 or 2, big-endian words, flags at 16. */
static int
read_strfile_flags(const char *path, uint32_t *flags)
{
    unsigned char h[24];
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    ssize_t k = read(fd, h, sizeof h);
    close(fd);
    if (k != (ssize_t)sizeof h)
        return -1;
    uint32_t version = (uint32_t)h[0] << 24 | (uint32_t)h[1] << 16 |
                       (uint32_t)h[2] << 8 | h[3];
    if (version != 1 && version != 2)
        return -1;
    *flags = (uint32_t)h[16] << 24 | (uint32_t)h[17] << 16 |
             (uint32_t)h[18] << 8 | h[19];
    return 0;
}

enum corpus_format
corpus_detect_format(const char *path, const void *data, size_t n)
{
    const unsigned char *p = data, *end = p + n;
    if (has_ext(path, ".jsonl") || has_ext(path, ".json") || has_ext(path, ".ndjson"))
        return CORPUS_JSONL;
    if (n >= 3 && memcmp(p, "\xef\xbb\xbf", 3) == 0)
        p += 3;
    /* the first non-blank line: a JSON object? */
    for (const unsigned char *s = p; s < end; ) {
        const unsigned char *nl = memchr(s, '\n', (size_t)(end - s));
        const unsigned char *e = nl ? nl : end;
        const unsigned char *t = s;
        while (t < e && is_space(*t))
            t++;
        if (t < e) {
            if (*t == '{') {
                json_t *v = json_loadb((const char *)t, (size_t)(e - t),
                                       JSON_ALLOW_NUL, NULL);
                int obj = v && json_is_object(v);
                json_decref(v);
                if (obj)
                    return CORPUS_JSONL;
            }
            break;
        }
        s = nl ? nl + 1 : end;
    }
    int seps = 0;
    for (const unsigned char *s = p; s < end && seps < 2; ) {
        const unsigned char *nl = memchr(s, '\n', (size_t)(end - s));
        const unsigned char *e = nl ? nl : end;
        if (is_separator(s, e))
            seps++;
        s = nl ? nl + 1 : end;
    }
    if (seps >= 2)
        return CORPUS_FORTUNE;
    if (seps == 1) {
        char *dat = index_path(path);
        uint32_t flags;
        int idx = read_strfile_flags(dat, &flags) == 0;
        free(dat);
        if (idx)
            return CORPUS_FORTUNE;
    }
    return CORPUS_TEXT;
}

/* ---- the split ------------------------------------------------------------ */

void
corpus_split_init(struct corpus_split *s, uint64_t seed, double val_fraction,
                  size_t ndocs)
{
    s->seed = seed;
    if (!(val_fraction > 0))
        s->threshold = 0;
    else if (val_fraction >= 1)
        s->threshold = UINT64_MAX;
    else
        s->threshold = (uint64_t)(val_fraction * 18446744073709551616.0);
    s->force_val = s->force_train = SIZE_MAX;
    if (ndocs < 2)
        return;
    size_t nval = 0, lo = 0, hi = 0;
    uint64_t hlo = UINT64_MAX, hhi = 0;
    for (size_t i = 0; i < ndocs; i++) {
        uint64_t h = rng_hash64(seed, i);
        nval += h < s->threshold;
        if (h < hlo || i == 0) {
            hlo = h;
            lo = i;
        }
        if (h > hhi || i == 0) {
            hhi = h;
            hi = i;
        }
    }
    if (nval == 0)
        s->force_val = lo;
    else if (nval == ndocs)
        s->force_train = hi;
}

int
corpus_split_is_val(const struct corpus_split *s, size_t i)
{
    if (i == s->force_val)
        return 1;
    if (i == s->force_train)
        return 0;
    return rng_hash64(s->seed, i) < s->threshold;
}

/* ---- the index file --------------------------------------------------------
 *
 *   0   8  magic "GRCORPUS"
 *   8   4  version (1)
 *  12   4  nsources
 *  16   8  ndocs
 *  24   8  nbytes (= offs[ndocs])
 *  32   8  val_fraction (double)
 *  40   8  zero
 *  48      offs, (ndocs+1) uint64
 *          src, (ndocs) uint32, then zero padding to a multiple of 8
 *          checksum: gr_hash64 of everything before it, seed 0
 *
 * Host byte order (little-endian on every machine garage runs on).  */

static const char idx_magic[8] = { 'G', 'R', 'C', 'O', 'R', 'P', 'U', 'S' };
#define IDX_VERSION 1
#define IDX_HEADER 48

struct idx_header {
    uint32_t nsources;
    uint64_t ndocs, nbytes;
    double val_fraction;
};

static size_t
idx_size(size_t ndocs)
{
    size_t src = 4 * ndocs;
    src = (src + 7) & ~(size_t)7;
    return IDX_HEADER + 8 * (ndocs + 1) + src + 8;
}

/* Check a mapped index; on success fill h, *offs and *src (pointing into m). */
static enum gr_status
idx_check(const struct fs_map *m, const char *path, struct idx_header *h,
          const uint64_t **offs, const uint32_t **src, struct gr_error *err)
{
    const unsigned char *p = m->data;
    size_t len = m->len;
    if (len < IDX_HEADER || memcmp(p, idx_magic, 8) != 0)
        return gr_fail(err, GR_ECORRUPT, "%s: not a garage corpus index "
                       "(start again with 'garage corpus clear')", path);
    uint32_t version;
    memcpy(&version, p + 8, 4);
    if (version != IDX_VERSION)
        return gr_fail(err, GR_ECORRUPT, "%s: corpus index version %u, this "
                       "garage reads %d", path, (unsigned)version, IDX_VERSION);
    memcpy(&h->nsources, p + 12, 4);
    memcpy(&h->ndocs, p + 16, 8);
    memcpy(&h->nbytes, p + 24, 8);
    memcpy(&h->val_fraction, p + 32, 8);
    if (h->ndocs > len / 12 || idx_size((size_t)h->ndocs) != len)
        return gr_fail(err, GR_ECORRUPT, "%s: %zu bytes, but the header says "
                       "%llu documents (truncated or damaged)", path, len,
                       (unsigned long long)h->ndocs);
    uint64_t sum;
    memcpy(&sum, p + len - 8, 8);
    if (sum != gr_hash64(p, len - 8, 0))
        return gr_fail(err, GR_ECORRUPT, "%s: checksum mismatch, the file is "
                       "damaged (start again with 'garage corpus clear')", path);
    size_t n = (size_t)h->ndocs;
    const uint64_t *o = (const uint64_t *)(p + IDX_HEADER);
    const uint32_t *s = (const uint32_t *)(p + IDX_HEADER + 8 * (n + 1));
    if (o[0] != 0 || o[n] != h->nbytes || !(h->val_fraction >= 0 && h->val_fraction <= 1))
        return gr_fail(err, GR_ECORRUPT, "%s: inconsistent header", path);
    for (size_t i = 0; i < n; i++)
        if (o[i + 1] < o[i] || s[i] >= h->nsources)
            return gr_fail(err, GR_ECORRUPT, "%s: document %zu is damaged", path, i);
    *offs = o;
    *src = s;
    return GR_OK;
}

static void *
idx_build(const struct idx_header *h, const uint64_t *old_offs,
          const uint32_t *old_src, size_t nold, uint64_t base,
          const struct corpus_load *L, size_t *len)
{
    size_t n = (size_t)h->ndocs;
    size_t sz = idx_size(n);
    unsigned char *p = xcalloc(1, sz);
    memcpy(p, idx_magic, 8);
    uint32_t version = IDX_VERSION;
    memcpy(p + 8, &version, 4);
    memcpy(p + 12, &h->nsources, 4);
    memcpy(p + 16, &h->ndocs, 8);
    memcpy(p + 24, &h->nbytes, 8);
    memcpy(p + 32, &h->val_fraction, 8);
    uint64_t *o = (uint64_t *)(p + IDX_HEADER);
    uint32_t *s = (uint32_t *)(p + IDX_HEADER + 8 * (n + 1));
    if (nold)
        memcpy(o, old_offs, 8 * nold);
    if (nold)
        memcpy(s, old_src, 4 * nold);
    size_t nnew = L ? L->ndocs : 0;
    o[nold] = base;                         /* L->offs[0] is 0, or absent */
    for (size_t i = 1; i <= nnew; i++)
        o[nold + i] = base + L->offs[i];
    for (size_t i = 0; i < nnew; i++)
        s[nold + i] = L->doc_src[i];
    uint64_t sum = gr_hash64(p, sz - 8, 0);
    memcpy(p + sz - 8, &sum, 8);
    *len = sz;
    return p;
}

/* ---- reading a stored corpus ------------------------------------------- */

enum gr_status
corpus_open_dir(struct corpus *c, const char *dir, uint64_t seed,
                struct gr_error *err)
{
    memset(c, 0, sizeof *c);
    enum gr_status rc = GR_OK;
    char *idxp = fs_join(dir, "docs.idx");
    char *binp = fs_join(dir, "docs.bin");
    struct idx_header h;
    if (!fs_exists(idxp)) {
        rc = gr_fail(err, GR_ESTATE, "the corpus is empty: add text with "
                     "'garage corpus add PATH'");
        goto out;
    }
    if ((rc = fs_map_open(&c->idx, idxp, err)) != GR_OK)
        goto out;
    if ((rc = idx_check(&c->idx, idxp, &h, &c->offs, &c->src, err)) != GR_OK)
        goto out;
    if (h.ndocs == 0) {
        rc = gr_fail(err, GR_ESTATE, "the corpus is empty: add text with "
                     "'garage corpus add PATH'");
        goto out;
    }
    if ((rc = fs_map_open(&c->bin, binp, err)) != GR_OK) {
        if (rc == GR_EINPUT)            /* the index exists: bytes are missing */
            rc = gr_fail_errno(err, GR_ECORRUPT, "%s", binp);
        goto out;
    }
    if (c->bin.len < h.nbytes) {
        rc = gr_fail(err, GR_ECORRUPT, "%s: %zu bytes, but the index says %llu "
                     "(truncated)", binp, c->bin.len, (unsigned long long)h.nbytes);
        goto out;
    }
    c->text = c->bin.data;
    c->ndocs = (size_t)h.ndocs;
    c->nbytes = h.nbytes;
    c->nsources = h.nsources;
    c->val_fraction = h.val_fraction;
    c->seed = seed;
    corpus_split_init(&c->split, seed, h.val_fraction, c->ndocs);
    for (size_t i = 0; i < c->ndocs; i++)
        if (corpus_split_is_val(&c->split, i)) {
            c->val_docs++;
            c->val_bytes += c->offs[i + 1] - c->offs[i];
        }
out:
    if (rc != GR_OK)
        corpus_close(c);
    free(idxp);
    free(binp);
    return rc;
}

enum gr_status
corpus_open(struct corpus *c, const struct workspace *ws, struct gr_error *err)
{
    char *dir = workspace_path(ws, "corpus");
    enum gr_status rc = corpus_open_dir(c, dir, ws->seed, err);
    free(dir);
    return rc;
}

void
corpus_close(struct corpus *c)
{
    fs_map_close(&c->bin);
    fs_map_close(&c->idx);
    c->text = NULL;
    c->offs = NULL;
    c->src = NULL;
    c->ndocs = 0;
}

int
corpus_is_val(const struct corpus *c, size_t i)
{
    return corpus_split_is_val(&c->split, i);
}

const unsigned char *
corpus_doc(const struct corpus *c, size_t i, size_t *len)
{
    *len = (size_t)(c->offs[i + 1] - c->offs[i]);
    return c->text + c->offs[i];
}

static int
cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

void
corpus_stats_compute(const struct corpus *c, struct corpus_stats *st)
{
    memset(st, 0, sizeof *st);
    st->ndocs = c->ndocs;
    st->nbytes = c->nbytes;
    uint64_t *hash = xmalloc((c->ndocs ? c->ndocs : 1) * sizeof *hash);
    for (size_t i = 0; i < c->ndocs; i++) {
        size_t n;
        const unsigned char *p = corpus_doc(c, i, &n);
        int in_word = 0;
        for (size_t k = 0; k < n; k++) {
            int sp = is_space(p[k]);
            st->nwords += !sp && !in_word;
            in_word = !sp;
            st->nlines += p[k] == '\n';
        }
        if (n && p[n - 1] != '\n')
            st->nlines++;
        /* the length mixed in: a copy must match in both */
        hash[i] = gr_hash64(p, n, 0x636f72707573ULL) ^ (uint64_t)n << 40;
        if (corpus_is_val(c, i)) {
            st->val_docs++;
            st->val_bytes += n;
        } else {
            st->train_docs++;
            st->train_bytes += n;
        }
    }
    qsort(hash, c->ndocs, sizeof *hash, cmp_u64);
    for (size_t i = 1; i < c->ndocs; i++)
        st->ndups += hash[i] == hash[i - 1];
    free(hash);
}

/* ---- loading -------------------------------------------------------------- */

struct strset {
    char **slot;
    size_t cap, n;
};

/* 1 if s was added, 0 if it was there already. */
static int
strset_add(struct strset *set, const char *s)
{
    if (2 * (set->n + 1) > set->cap) {
        size_t cap = set->cap ? 2 * set->cap : 64;
        char **slot = xcalloc(cap, sizeof *slot);
        for (size_t i = 0; i < set->cap; i++) {
            if (!set->slot[i])
                continue;
            size_t j = gr_hash64(set->slot[i], strlen(set->slot[i]), 0) & (cap - 1);
            while (slot[j])
                j = (j + 1) & (cap - 1);
            slot[j] = set->slot[i];
        }
        free(set->slot);
        set->slot = slot;
        set->cap = cap;
    }
    size_t j = gr_hash64(s, strlen(s), 0) & (set->cap - 1);
    for (; set->slot[j]; j = (j + 1) & (set->cap - 1))
        if (strcmp(set->slot[j], s) == 0)
            return 0;
    set->slot[j] = xstrdup(s);
    set->n++;
    return 1;
}

static void
strset_free(struct strset *set)
{
    for (size_t i = 0; i < set->cap; i++)
        free(set->slot[i]);
    free(set->slot);
    memset(set, 0, sizeof *set);
}

enum src_kind { SRC_FILE, SRC_FOLDER, SRC_GLOB };

struct file_item {
    char *path;
    size_t src;         /* index in L->srcs */
    int explicit;       /* named by the person, not found by a walk */
};

struct load_priv {
    struct strset seen;         /* realpaths of files met in this call */
    struct strset dirs;         /* realpaths of folders walked */
    struct file_item *files;
    size_t nfiles, cap;
    enum src_kind *kind;        /* per source */
    unsigned *fmts;             /* per source: formats met, 1 << format */
    uint64_t *ndup;             /* per source: files that were links to others */
};

void
corpus_load_init(struct corpus_load *L)
{
    memset(L, 0, sizeof *L);
    L->format = CORPUS_AUTO;
    L->field = "text";
}

void
corpus_load_release(struct corpus_load *L)
{
    for (size_t i = 0; i < L->nsrcs; i++) {
        free(L->srcs[i].path);
        free(L->srcs[i].key);
        free(L->srcs[i].format);
    }
    free(L->srcs);
    free(L->offs);
    free(L->doc_src);
    free(L->text);
    struct load_priv *P = L->priv;
    if (P) {
        strset_free(&P->seen);
        strset_free(&P->dirs);
        for (size_t i = 0; i < P->nfiles; i++)
            free(P->files[i].path);
        free(P->files);
        free(P->kind);
        free(P->fmts);
        free(P->ndup);
        free(P);
    }
    L->srcs = NULL;
    L->offs = NULL;
    L->doc_src = NULL;
    L->text = NULL;
    L->priv = NULL;
    L->nsrcs = L->ndocs = 0;
}

const unsigned char *
corpus_load_doc(const struct corpus_load *L, size_t i, size_t *len)
{
    *len = (size_t)(L->offs[i + 1] - L->offs[i]);
    return L->text + L->offs[i];
}

static enum gr_status
load_flush(struct corpus_load *L, struct gr_error *err)
{
    if (!L->sink || L->tlen == 0)
        return GR_OK;
    enum gr_status rc = L->sink(L->sctx, L->text, L->tlen, err);
    L->tlen = 0;
    return rc;
}

/* One document of source si; whitespace-only text is dropped. */
static enum gr_status
add_doc(struct corpus_load *L, size_t si, const unsigned char *p, size_t n,
        int rot13, struct gr_error *err)
{
    size_t k = 0;
    while (k < n && is_space(p[k]))
        k++;
    if (k == n)
        return GR_OK;
    if (L->ndocs + 2 > L->docs_cap) {
        L->docs_cap = L->docs_cap ? 2 * L->docs_cap : 1024;
        L->offs = xrealloc(L->offs, L->docs_cap * sizeof *L->offs);
        L->doc_src = xrealloc(L->doc_src, L->docs_cap * sizeof *L->doc_src);
    }
    if (L->tlen + n > L->tcap) {
        size_t cap = L->tcap ? L->tcap : 1 << 16;
        while (cap < L->tlen + n)
            cap *= 2;
        L->text = xrealloc(L->text, cap);
        L->tcap = cap;
    }
    unsigned char *d = L->text + L->tlen;
    memcpy(d, p, n);
    if (rot13)
        for (size_t i = 0; i < n; i++) {
            unsigned char c = d[i];
            if (c >= 'a' && c <= 'z')
                d[i] = (unsigned char)('a' + (c - 'a' + 13) % 26);
            else if (c >= 'A' && c <= 'Z')
                d[i] = (unsigned char)('A' + (c - 'A' + 13) % 26);
        }
    L->tlen += n;
    if (L->ndocs == 0)
        L->offs[0] = 0;
    L->doc_src[L->ndocs] = L->src_base + (uint32_t)si;
    L->nbytes += n;
    L->offs[++L->ndocs] = L->nbytes;
    L->srcs[si].ndocs++;
    L->srcs[si].nbytes += n;
    if (L->sink && L->tlen >= FLUSH_BYTES)
        return load_flush(L, err);
    return GR_OK;
}

/* Where to end a piece of a large text file that starts at pos and may
 * not pass lim: after a blank line, else after a line, else at a UTF-8
 * character boundary; a cut in the first quarter only when nothing
 * better exists. */
static size_t
text_cut(const unsigned char *p, size_t n, size_t pos, size_t lim)
{
    size_t blank = 0, nl = 0, quarter = pos + CORPUS_TEXT_CHUNK / 4;
    for (size_t k = lim - 1; k > pos; k--) {
        if (p[k] != '\n')
            continue;
        if (!nl)
            nl = k + 1;
        if (p[k - 1] == '\n' || (p[k - 1] == '\r' && k - 1 > pos && p[k - 2] == '\n')) {
            blank = k + 1;
            break;
        }
    }
    size_t cut;
    if (blank >= quarter)
        cut = blank;
    else if (nl >= quarter)
        cut = nl;
    else if (blank)
        cut = blank;
    else if (nl)
        cut = nl;
    else {
        cut = lim;
        for (int i = 0; i < 3 && cut > pos + 1 && (p[cut] & 0xc0) == 0x80; i++)
            cut--;
        return cut;
    }
    while (cut < n && (p[cut] == '\n' || p[cut] == '\r'))
        cut++;                          /* the next piece starts with text */
    return cut;
}

static enum gr_status
load_text(struct corpus_load *L, size_t si, const unsigned char *p, size_t n,
          struct gr_error *err)
{
    enum gr_status rc;
    size_t pos = 0;
    while (n - pos > CORPUS_TEXT_CHUNK) {
        size_t cut = text_cut(p, n, pos, pos + CORPUS_TEXT_CHUNK);
        if ((rc = add_doc(L, si, p + pos, cut - pos, 0, err)) != GR_OK)
            return rc;
        pos = cut;
    }
    return add_doc(L, si, p + pos, n - pos, 0, err);
}

static enum gr_status
load_fortune(struct corpus_load *L, size_t si, const char *path,
             const unsigned char *p, size_t n, struct gr_error *err)
{
    /* offensive fortunes ship rot13-encoded, flagged in the index */
    char *dat = index_path(path);
    uint32_t flags = 0;
    int rot13 = read_strfile_flags(dat, &flags) == 0 && (flags & 0x4);
    free(dat);
    enum gr_status rc;
    size_t start = 0, pos = 0;
    while (pos < n) {
        const unsigned char *nl = memchr(p + pos, '\n', n - pos);
        size_t e = nl ? (size_t)(nl - p) : n, next = nl ? e + 1 : n;
        if (is_separator(p + pos, p + e)) {
            if ((rc = add_doc(L, si, p + start, pos - start, rot13, err)) != GR_OK)
                return rc;
            start = next;
        }
        pos = next;
    }
    return add_doc(L, si, p + start, n - start, rot13, err);
}

static enum gr_status
load_jsonl(struct corpus_load *L, size_t si, const char *path,
           const unsigned char *p, size_t n, struct gr_error *err)
{
    enum gr_status rc = GR_OK;
    size_t good = 0, bad = 0, first_bad = 0;
    char why[JSONL_REASON], first_why[JSONL_REASON] = "";
    size_t k = 0;
    if (n >= 3 && memcmp(p, "\xef\xbb\xbf", 3) == 0)
        k = 3;
    while (k < n && is_space(p[k]))
        k++;
    /* a .json file: one array of objects, or one object over many lines */
    json_t *arr = NULL;
    if (k < n && p[k] == '[') {
        json_error_t jerr;
        arr = json_loadb((const char *)p + k, n - k, JSON_ALLOW_NUL, &jerr);
        if (!arr || !json_is_array(arr)) {
            rc = gr_fail(err, GR_EINPUT, "%s:%d: %s", path, jerr.line,
                         arr ? "expected an array of objects" : jerr.text);
            json_decref(arr);
            return rc;
        }
    } else if (k < n && p[k] == '{') {
        json_t *one = json_loadb((const char *)p + k, n - k, JSON_ALLOW_NUL, NULL);
        if (json_is_object(one)) {
            arr = json_array();
            json_array_append_new(arr, one);
        } else {
            json_decref(one);       /* more than one line: JSON Lines */
        }
    }
    if (arr) {
        for (size_t i = 0; i < json_array_size(arr) && rc == GR_OK; i++) {
            json_t *o = json_array_get(arr, i);
            size_t len = 0;
            const char *s = NULL;
            if (json_is_object(o))
                s = jsonl_get_string(o, L->field, &len, why);
            else
                snprintf(why, sizeof why, "item is %s, expected an object",
                         jsonl_type_name(o));
            if (s) {
                good++;
                rc = add_doc(L, si, (const unsigned char *)s, len, 0, err);
            } else {
                if (bad++ == 0) {
                    first_bad = i + 1;
                    snprintf(first_why, sizeof first_why, "%s", why);
                }
                if (bad <= BAD_LINE_NOTES)
                    metrics_note(L->metrics, "%s: item %zu: %s (skipped)", path,
                                 i + 1, why);
            }
        }
        json_decref(arr);
    } else {
        struct jsonl_reader r;
        jsonl_reader_init(&r, p, n);
        json_t *o;
        enum jsonl_result jr;
        while (rc == GR_OK && (jr = jsonl_next(&r, &o, why)) != JSONL_END) {
            size_t len = 0;
            const char *s = jr == JSONL_OBJECT ? jsonl_get_string(o, L->field, &len, why)
                                               : NULL;
            if (s) {
                good++;
                rc = add_doc(L, si, (const unsigned char *)s, len, 0, err);
            } else {
                if (bad++ == 0) {
                    first_bad = r.line;
                    snprintf(first_why, sizeof first_why, "%s", why);
                }
                if (bad <= BAD_LINE_NOTES)
                    metrics_note(L->metrics, "%s:%zu: %s (line skipped)", path,
                                 r.line, why);
            }
            json_decref(o);
        }
    }
    if (rc != GR_OK)
        return rc;
    if (bad > BAD_LINE_NOTES)
        metrics_note(L->metrics, "%s: %zu more bad lines skipped", path,
                     bad - BAD_LINE_NOTES);
    L->srcs[si].nbad += bad;
    if (good == 0 && bad > 0)
        return gr_fail(err, GR_EINPUT, "%s: no usable JSONL line with a string "
                       "field '%s' (line %zu: %s)", path, L->field, first_bad,
                       first_why);
    return GR_OK;
}

static void
push_file(struct load_priv *P, const char *path, size_t si, int explicit)
{
    if (P->nfiles == P->cap) {
        P->cap = P->cap ? 2 * P->cap : 64;
        P->files = xrealloc(P->files, P->cap * sizeof *P->files);
    }
    P->files[P->nfiles].path = xstrdup(path);
    P->files[P->nfiles].src = si;
    P->files[P->nfiles].explicit = explicit;
    P->nfiles++;
}

/* A file found for source si: skip strfile indexes and files met before. */
static enum gr_status
add_candidate(struct corpus_load *L, const char *path, size_t si, int explicit,
              struct gr_error *err)
{
    struct load_priv *P = L->priv;
    if (has_ext(path, ".dat")) {
        char *text = xstrndup(path, strlen(path) - 4);
        struct stat st;
        int beside = stat(text, &st) == 0 && S_ISREG(st.st_mode);
        free(text);
        if (beside) {
            L->srcs[si].nskipped++;
            return GR_OK;
        }
    }
    char *rp = realpath(path, NULL);
    if (!rp) {
        if (explicit)
            return gr_fail_errno(err, GR_EINPUT, "%s", path);
        metrics_note(L->metrics, "skipped %s: %s", path, strerror(errno));
        L->srcs[si].nskipped++;
        return GR_OK;
    }
    if (!strset_add(&P->seen, rp)) {
        L->srcs[si].nskipped++;
        P->ndup[si]++;
    } else {
        push_file(P, path, si, explicit);
    }
    free(rp);
    return GR_OK;
}

static int
cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Walk a folder in sorted (byte) order; hidden entries are left out. */
static enum gr_status
walk(struct corpus_load *L, const char *dir, size_t si, int top,
     struct gr_error *err)
{
    struct load_priv *P = L->priv;
    enum gr_status rc = GR_OK;
    char *rp = realpath(dir, NULL);
    if (rp && L->exclude && !strcmp(rp, L->exclude)) {
        /* The workspace's own files (corpus shards, logs, labels) are
         * not text to learn from. */
        free(rp);
        if (top)
            return gr_fail(err, GR_EINPUT, "%s is the garage workspace itself: give "
                           "the files you want from it by name", dir);
        metrics_note(L->metrics, "skipped folder %s: it is the garage workspace", dir);
        L->srcs[si].nskipped++;
        return GR_OK;
    }
    if (rp && !strset_add(&P->dirs, rp)) {      /* a link back up: done already */
        free(rp);
        return GR_OK;
    }
    free(rp);
    DIR *d = opendir(dir);
    if (!d) {
        if (top)
            return gr_fail_errno(err, GR_EINPUT, "%s", dir);
        metrics_note(L->metrics, "skipped folder %s: %s", dir, strerror(errno));
        L->srcs[si].nskipped++;
        return GR_OK;
    }
    char **names = NULL;
    size_t n = 0, cap = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        if (n == cap) {
            cap = cap ? 2 * cap : 32;
            names = xrealloc(names, cap * sizeof *names);
        }
        names[n++] = xstrdup(e->d_name);
    }
    closedir(d);
    qsort(names, n, sizeof *names, cmp_str);
    for (size_t i = 0; i < n; i++) {
        char *path = fs_join(dir, names[i]);
        struct stat st;
        if (rc != GR_OK) {
            /* keep freeing */
        } else if (stat(path, &st) < 0) {
            metrics_note(L->metrics, "skipped %s: %s", path, strerror(errno));
            L->srcs[si].nskipped++;
        } else if (S_ISDIR(st.st_mode)) {
            rc = walk(L, path, si, 0, err);
        } else if (S_ISREG(st.st_mode)) {
            rc = add_candidate(L, path, si, 0, err);
        }
        free(path);
        free(names[i]);
    }
    free(names);
    return rc;
}

static int
has_glob_chars(const char *s)
{
    return strpbrk(s, "*?[") != NULL;
}

static size_t
add_source(struct corpus_load *L, const char *path, const char *key,
           enum src_kind kind)
{
    struct load_priv *P = L->priv;
    size_t si = L->nsrcs++;
    L->srcs = xrealloc(L->srcs, L->nsrcs * sizeof *L->srcs);
    P->kind = xrealloc(P->kind, L->nsrcs * sizeof *P->kind);
    P->fmts = xrealloc(P->fmts, L->nsrcs * sizeof *P->fmts);
    P->ndup = xrealloc(P->ndup, L->nsrcs * sizeof *P->ndup);
    memset(&L->srcs[si], 0, sizeof L->srcs[si]);
    L->srcs[si].path = xstrdup(path);
    L->srcs[si].key = xstrdup(key);
    P->kind[si] = kind;
    P->fmts[si] = 0;
    P->ndup[si] = 0;
    return si;
}

/* Phase one: the files each path stands for. */
static enum gr_status
expand_path(struct corpus_load *L, const char *path, struct gr_error *err)
{
    enum gr_status rc = GR_OK;
    struct stat st;
    if (stat(path, &st) < 0) {
        int e = errno;
        if (e == ENOENT && has_glob_chars(path)) {
            glob_t g;
            int r = glob(path, GLOB_NOSORT, NULL, &g);
            if (r == GLOB_NOMATCH || (r == 0 && g.gl_pathc == 0)) {
                if (r == 0)
                    globfree(&g);
                return gr_fail(err, GR_EINPUT, "%s: no files match", path);
            }
            if (r != 0)
                return gr_fail(err, GR_EINPUT, "%s: cannot read the folders "
                               "this pattern names", path);
            for (size_t k = 0; k < L->nknown; k++)
                if (strcmp(L->known[k], path) == 0) {
                    metrics_note(L->metrics, "%s is already in the corpus: "
                                 "skipped", path);
                    L->nalready++;
                    globfree(&g);
                    return GR_OK;
                }
            size_t si = add_source(L, path, path, SRC_GLOB);
            qsort(g.gl_pathv, g.gl_pathc, sizeof *g.gl_pathv, cmp_str);
            for (size_t i = 0; i < g.gl_pathc && rc == GR_OK; i++) {
                const char *m = g.gl_pathv[i];
                if (stat(m, &st) < 0)
                    continue;
                if (S_ISDIR(st.st_mode))
                    rc = walk(L, m, si, 0, err);
                else if (S_ISREG(st.st_mode))
                    rc = add_candidate(L, m, si, 0, err);
            }
            globfree(&g);
            return rc;
        }
        errno = e;
        if (e == ENOENT)
            return gr_fail(err, GR_EINPUT, "%s: no such file or folder", path);
        return gr_fail_errno(err, GR_EINPUT, "%s", path);
    }
    if (!S_ISDIR(st.st_mode) && !S_ISREG(st.st_mode))
        return gr_fail(err, GR_EINPUT, "%s: not a file or folder", path);
    char *rp = realpath(path, NULL);
    if (!rp)
        return gr_fail_errno(err, GR_EINPUT, "%s", path);
    for (size_t k = 0; k < L->nknown; k++)
        if (strcmp(L->known[k], rp) == 0) {
            metrics_note(L->metrics, "%s is already in the corpus: skipped "
                         "(to read it again, start over with 'garage corpus "
                         "clear')", path);
            L->nalready++;
            free(rp);
            return GR_OK;
        }
    for (size_t k = 0; k < L->nsrcs; k++)
        if (strcmp(L->srcs[k].key, rp) == 0) {      /* given twice */
            free(rp);
            return GR_OK;
        }
    if (S_ISDIR(st.st_mode)) {
        size_t si = add_source(L, path, rp, SRC_FOLDER);
        rc = walk(L, path, si, 1, err);
    } else {
        size_t si = add_source(L, path, rp, SRC_FILE);
        rc = add_candidate(L, path, si, 1, err);
    }
    free(rp);
    return rc;
}

/* Phase two: one file's documents. */
static enum gr_status
load_file(struct corpus_load *L, const struct file_item *f, struct gr_error *err)
{
    struct load_priv *P = L->priv;
    struct corpus_source *src = &L->srcs[f->src];
    struct fs_map m;
    struct gr_error e2;
    enum gr_status rc = fs_map_open(&m, f->path, &e2);
    if (rc != GR_OK) {
        if (f->explicit) {
            if (err)
                *err = e2;
            return rc;
        }
        metrics_note(L->metrics, "skipped %s", e2.msg);
        src->nskipped++;
        return GR_OK;
    }
    const unsigned char *p = m.data;
    size_t n = m.len;
    uint64_t before = src->ndocs;
    if (n == 0) {
        metrics_note(L->metrics, "skipped empty file %s", f->path);
        src->nskipped++;
        goto out;
    }
    if (corpus_is_binary(p, n)) {
        metrics_note(L->metrics, "skipped binary file %s", f->path);
        src->nskipped++;
        goto out;
    }
    enum corpus_format fmt = L->format;
    if (fmt == CORPUS_AUTO)
        fmt = corpus_detect_format(f->path, p, n);
    switch (fmt) {
    case CORPUS_FORTUNE:
        rc = load_fortune(L, f->src, f->path, p, n, err);
        break;
    case CORPUS_JSONL:
        rc = load_jsonl(L, f->src, f->path, p, n, err);
        break;
    default:
        rc = load_text(L, f->src, p, n, err);
        break;
    }
    if (rc != GR_OK)
        goto out;
    if (src->ndocs == before) {
        metrics_note(L->metrics, "skipped empty file %s", f->path);
        src->nskipped++;
    } else {
        src->nfiles++;
        P->fmts[f->src] |= 1u << fmt;
    }
out:
    fs_map_close(&m);
    return rc;
}

enum gr_status
corpus_load_paths(struct corpus_load *L, char *const *paths, size_t npaths,
                  struct gr_error *err)
{
    enum gr_status rc = GR_OK;
    if (!L->field || !*L->field)
        return gr_fail(err, GR_EINPUT, "the JSONL field name is empty");
    if (!L->priv)
        L->priv = xcalloc(1, sizeof(struct load_priv));
    struct load_priv *P = L->priv;
    size_t first_src = L->nsrcs, first_file = P->nfiles;
    for (size_t i = 0; i < npaths; i++)
        if ((rc = expand_path(L, paths[i], err)) != GR_OK)
            return rc;
    size_t total = P->nfiles - first_file;
    size_t every = total / 100 + 1;
    for (size_t i = first_file; i < P->nfiles; i++) {
        size_t done = i - first_file;
        if (done % every == 0)
            metrics_progress(L->metrics, "reading files", (double)done,
                             (double)total, "files");
        if ((rc = load_file(L, &P->files[i], err)) != GR_OK)
            return rc;
    }
    metrics_progress(L->metrics, "reading files", (double)total, (double)total,
                     "files");
    if ((rc = load_flush(L, err)) != GR_OK)
        return rc;
    uint64_t ndocs = 0;
    for (size_t si = first_src; si < L->nsrcs; si++) {
        struct corpus_source *s = &L->srcs[si];
        ndocs += s->ndocs;
        L->nskipped += s->nskipped;
        unsigned f = P->fmts[si];
        s->format = xstrdup(f == 0 ? "none" : (f & (f - 1)) ? "mixed"
                            : f == 1u << CORPUS_TEXT ? "text"
                            : f == 1u << CORPUS_FORTUNE ? "fortune" : "jsonl");
    }
    for (size_t si = first_src; si < L->nsrcs; si++) {
        const struct corpus_source *s = &L->srcs[si];
        if (s->ndocs || P->ndup[si] || P->kind[si] == SRC_FILE)
            continue;
        if (P->kind[si] == SRC_FOLDER)
            return gr_fail(err, GR_EINPUT, "%s: no text files in this folder", s->path);
        return gr_fail(err, GR_EINPUT, "%s: no text files match", s->path);
    }
    if (ndocs == 0 && L->nsrcs > first_src) {
        size_t len = 0;
        char list[700] = "";
        for (size_t si = first_src; si < L->nsrcs && len + 8 < sizeof list; si++) {
            int k = snprintf(list + len, sizeof list - len, "%s%s",
                             si > first_src ? ", " : "", L->srcs[si].path);
            len += k > 0 ? (size_t)k : 0;
        }
        return gr_fail(err, GR_EINPUT, "no documents found in %s", list);
    }
    return GR_OK;
}

/* ---- the manifest ---------------------------------------------------------- */

/* A JSON string for s, whose bytes may not be UTF-8 (a file name):
 * invalid bytes become U+FFFD. */
static json_t *
json_text(const char *s)
{
    json_t *v = json_string(s);
    if (v)
        return v;
    size_t n = strlen(s), j = 0;
    char *buf = xmalloc(3 * n + 1);
    const unsigned char *p = (const unsigned char *)s;
    for (size_t i = 0; i < n; ) {
        int len = p[i] < 0x80 ? 1 : (p[i] & 0xe0) == 0xc0 ? 2
                : (p[i] & 0xf0) == 0xe0 ? 3 : (p[i] & 0xf8) == 0xf0 ? 4 : 0;
        int ok = len > 0 && i + (size_t)len <= n;
        for (int k = 1; ok && k < len; k++)
            ok = (p[i + k] & 0xc0) == 0x80;
        if (ok && len > 1) {
            json_t *t = json_stringn((const char *)p + i, (size_t)len);
            ok = t != NULL;         /* overlong forms, surrogates */
            json_decref(t);
        }
        if (ok) {
            memcpy(buf + j, p + i, (size_t)len);
            j += (size_t)len;
            i += (size_t)len;
        } else {
            memcpy(buf + j, "\xef\xbf\xbd", 3);
            j += 3;
            i++;
        }
    }
    v = json_stringn(buf, j);
    free(buf);
    return v ? v : json_string("?");
}

static json_t *
source_json(const char *path, const char *key, const char *format,
            uint64_t files, uint64_t skipped, uint64_t bad)
{
    json_t *o = json_object();
    json_object_set_new(o, "path", json_text(path));
    json_object_set_new(o, "key", json_text(key ? key : path));
    json_object_set_new(o, "format", json_string(format ? format : "?"));
    json_object_set_new(o, "documents", json_integer(0));
    json_object_set_new(o, "bytes", json_integer(0));
    json_object_set_new(o, "files", json_integer((json_int_t)files));
    json_object_set_new(o, "skipped", json_integer((json_int_t)skipped));
    json_object_set_new(o, "bad_lines", json_integer((json_int_t)bad));
    return o;
}

/* The stored sources: manifest.json's list cut or padded to n entries
 * (docs.idx decides how many sources exist). */
static json_t *
sources_read(const char *dir, size_t n)
{
    char *path = fs_join(dir, "manifest.json");
    json_t *root = json_load_file(path, 0, NULL);
    free(path);
    json_t *in = root ? json_object_get(root, "sources") : NULL;
    json_t *out = json_array();
    for (size_t i = 0; i < n; i++) {
        json_t *s = json_is_array(in) ? json_array_get(in, i) : NULL;
        if (json_is_object(s) && json_is_string(json_object_get(s, "path")))
            json_array_append(out, s);
        else
            json_array_append_new(out, source_json("(unknown source)", "", "?",
                                                   0, 0, 0));
    }
    json_decref(root);
    return out;
}

static const char *
src_str(const json_t *s, const char *key)
{
    const char *v = json_string_value(json_object_get(s, key));
    return v ? v : "";
}

static uint64_t
src_int(const json_t *s, const char *key)
{
    json_int_t v = json_integer_value(json_object_get(s, key));
    return v > 0 ? (uint64_t)v : 0;
}

/* ---- changing the store ------------------------------------------------------ */

static enum gr_status
write_all(int fd, const void *data, size_t n)
{
    const char *p = data;
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return GR_EIO;
        p += w;
        n -= (size_t)w;
    }
    return GR_OK;
}

static enum gr_status
sink_fd(void *sctx, const void *p, size_t n, struct gr_error *err)
{
    struct corpus_txn *t = sctx;
    if (write_all(t->fd, p, n) != GR_OK)
        return gr_fail_errno(err, GR_EIO, "%s/docs.bin: write failed", t->dir);
    t->written += n;
    return GR_OK;
}

static enum gr_status
sink_atomic(void *sctx, const void *p, size_t n, struct gr_error *err)
{
    struct corpus_txn *t = sctx;
    enum gr_status rc = fs_atomic_write(&t->bin, p, n, err);
    if (rc == GR_OK)
        t->written += n;
    return rc;
}

/* One writer at a time: an exclusive lock on dir/.lock, or GR_ESTATE. */
static enum gr_status
store_lock(const char *dir, int *fd, struct gr_error *err)
{
    char *path = fs_join(dir, ".lock");
    enum gr_status rc = GR_OK;
    *fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (*fd < 0) {
        rc = gr_fail_errno(err, GR_EIO, "%s", path);
    } else if (flock(*fd, LOCK_EX | LOCK_NB) < 0) {
        if (errno == EWOULDBLOCK)
            rc = gr_fail(err, GR_ESTATE, "another garage is changing the corpus "
                         "in %s: try again when it is done", dir);
        else
            rc = gr_fail_errno(err, GR_EIO, "%s: cannot lock", path);
        close(*fd);
        *fd = -1;
    }
    free(path);
    return rc;
}

enum gr_status
corpus_txn_begin(struct corpus_txn *t, const char *dir, int clear,
                 struct corpus_load *L, struct gr_error *err)
{
    enum gr_status rc;
    memset(t, 0, sizeof *t);
    t->fd = -1;
    t->lock = -1;
    t->bin.fd = -1;
    t->dir = xstrdup(dir);
    t->clear = clear;
    t->old_val_fraction = -1;
    char *idxp = fs_join(dir, "docs.idx");
    char *binp = fs_join(dir, "docs.bin");
    struct fs_map m = { 0 };
    if ((rc = fs_mkdirs(dir, err)) != GR_OK)
        goto out;
    if ((rc = store_lock(dir, &t->lock, err)) != GR_OK)
        goto out;
    if (fs_exists(idxp)) {
        struct idx_header h;
        const uint64_t *o = NULL;
        const uint32_t *s = NULL;
        if ((rc = fs_map_open(&m, idxp, err)) != GR_OK)
            goto out;
        rc = idx_check(&m, idxp, &h, &o, &s, err);
        if (rc != GR_OK) {
            if (!clear)
                goto out;
            rc = GR_OK;             /* clearing: a damaged index goes anyway */
        } else {
            t->had_corpus = h.ndocs > 0;
            t->old_val_fraction = h.val_fraction;
        }
        if (o && !clear) {
            long long have = fs_size(binp);
            if (h.ndocs && (have < 0 || (uint64_t)have < h.nbytes)) {
                rc = gr_fail(err, GR_ECORRUPT, "%s: missing or truncated (start "
                             "again with 'garage corpus clear')", binp);
                goto out;
            }
            t->old_ndocs = (size_t)h.ndocs;
            t->base = h.nbytes;
            t->old_offs = xmalloc(8 * (t->old_ndocs + 1));
            memcpy(t->old_offs, o, 8 * (t->old_ndocs + 1));
            t->old_src = xmalloc(4 * (t->old_ndocs ? t->old_ndocs : 1));
            memcpy(t->old_src, s, 4 * t->old_ndocs);
            json_t *srcs = sources_read(dir, h.nsources);
            t->old_sources = srcs;
            /* documents per source, from the index */
            uint64_t *nd = xcalloc(h.nsources ? h.nsources : 1, sizeof *nd);
            for (size_t i = 0; i < t->old_ndocs; i++)
                nd[s[i]]++;
            t->keys = xcalloc(h.nsources ? h.nsources : 1, sizeof *t->keys);
            for (size_t i = 0; i < h.nsources; i++)
                if (nd[i] && *src_str(json_array_get(srcs, i), "key"))
                    t->keys[t->nkeys++] = xstrdup(src_str(json_array_get(srcs, i), "key"));
            free(nd);
        }
    }
    if (!t->old_sources)
        t->old_sources = json_array();
    if (!t->old_offs) {
        t->old_offs = xcalloc(1, 8);
        t->old_src = xcalloc(1, 4);
    }
    if (clear) {
        if ((rc = fs_atomic_open(&t->bin, binp, err)) != GR_OK)
            goto out;
        L->sink = sink_atomic;
    } else {
        t->fd = open(binp, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
        if (t->fd < 0) {
            rc = gr_fail_errno(err, GR_EIO, "%s", binp);
            goto out;
        }
        /* bytes past the committed end are what a crash left: drop them */
        if (ftruncate(t->fd, (off_t)t->base) < 0 ||
            lseek(t->fd, (off_t)t->base, SEEK_SET) < 0) {
            rc = gr_fail_errno(err, GR_EIO, "%s", binp);
            goto out;
        }
        L->sink = sink_fd;
    }
    L->sctx = t;
    L->src_base = (uint32_t)json_array_size(t->old_sources);
    L->known = t->keys;
    L->nknown = t->nkeys;
out:
    fs_map_close(&m);
    free(idxp);
    free(binp);
    if (rc != GR_OK)
        corpus_txn_abort(t);
    return rc;
}

static void
txn_free(struct corpus_txn *t)
{
    if (t->fd >= 0)
        close(t->fd);
    if (t->lock >= 0)
        close(t->lock);             /* and the lock goes with it */
    t->fd = t->lock = -1;
    free(t->dir);
    free(t->old_offs);
    free(t->old_src);
    json_decref(t->old_sources);
    for (size_t i = 0; i < t->nkeys; i++)
        free(t->keys[i]);
    free(t->keys);
    t->dir = NULL;
    t->old_offs = NULL;
    t->old_src = NULL;
    t->old_sources = NULL;
    t->keys = NULL;
    t->nkeys = 0;
}

void
corpus_txn_abort(struct corpus_txn *t)
{
    if (!t->dir)
        return;
    if (t->clear) {
        if (t->bin.path)
            fs_atomic_abort(&t->bin);
    } else if (t->fd >= 0) {
        if (ftruncate(t->fd, (off_t)t->base) < 0) {
            /* the index still ends at base: the extra bytes are ignored */
        }
    }
    txn_free(t);
}

static int
remove_shards(const char *dir)
{
    static const char *const names[] = { "train.tok", "val.tok" };
    int removed = 0;
    for (int i = 0; i < 2; i++) {
        char *p = fs_join(dir, names[i]);
        if (unlink(p) == 0)
            removed++;
        free(p);
    }
    return removed;
}

enum gr_status
corpus_txn_commit(struct corpus_txn *t, const struct corpus_load *L,
                  double val_fraction, uint64_t seed, struct gr_error *err)
{
    enum gr_status rc = GR_OK;
    char *idxp = fs_join(t->dir, "docs.idx");
    char *manp = fs_join(t->dir, "manifest.json");
    char *old_manifest = NULL;
    size_t old_manifest_len = 0;
    int have_old_manifest = 0;
    void *idx = NULL;
    char *man = NULL;
    json_t *root = NULL;
    size_t nold = t->old_ndocs;
    size_t nnew = L ? L->ndocs : 0;

    if (!(val_fraction >= 0 && val_fraction <= 0.5)) {
        rc = gr_fail(err, GR_EINPUT, "val_fraction %g is out of range (0 to 0.5)",
                     val_fraction);
        goto fail;
    }
    if (nnew == 0 && !t->clear &&
        (!t->had_corpus || val_fraction == t->old_val_fraction))
        goto done;                                  /* nothing changes */

    /* sources: the stored ones, then this load's */
    json_t *srcs = json_copy(t->old_sources);
    for (size_t i = 0; L && i < L->nsrcs; i++) {
        const struct corpus_source *s = &L->srcs[i];
        json_array_append_new(srcs, source_json(s->path, s->key, s->format,
                                                s->nfiles, s->nskipped, s->nbad));
    }
    size_t nsrc = json_array_size(srcs);
    struct idx_header h = {
        .nsources = (uint32_t)nsrc,
        .ndocs = nold + nnew,
        .nbytes = t->base + (L ? L->nbytes : 0),
        .val_fraction = val_fraction,
    };
    size_t idx_len;
    idx = idx_build(&h, t->old_offs, t->old_src, nold, t->base, L, &idx_len);
    const uint64_t *offs = (const uint64_t *)((char *)idx + IDX_HEADER);
    const uint32_t *dsrc = (const uint32_t *)((char *)idx + IDX_HEADER + 8 * (h.ndocs + 1));

    /* counts, recomputed from the index: it is the authority */
    uint64_t *nd = xcalloc(nsrc ? nsrc : 1, sizeof *nd);
    uint64_t *nb = xcalloc(nsrc ? nsrc : 1, sizeof *nb);
    struct corpus_split split;
    corpus_split_init(&split, seed, val_fraction, (size_t)h.ndocs);
    uint64_t vd = 0, vb = 0;
    for (size_t i = 0; i < h.ndocs; i++) {
        uint64_t len = offs[i + 1] - offs[i];
        nd[dsrc[i]]++;
        nb[dsrc[i]] += len;
        if (corpus_split_is_val(&split, i)) {
            vd++;
            vb += len;
        }
    }
    for (size_t i = 0; i < nsrc; i++) {
        json_t *s = json_array_get(srcs, i);
        json_object_set_new(s, "documents", json_integer((json_int_t)nd[i]));
        json_object_set_new(s, "bytes", json_integer((json_int_t)nb[i]));
    }
    free(nd);
    free(nb);
    root = json_object();
    json_object_set_new(root, "garage_corpus", json_integer(1));
    json_object_set_new(root, "documents", json_integer((json_int_t)h.ndocs));
    json_object_set_new(root, "bytes", json_integer((json_int_t)h.nbytes));
    json_object_set_new(root, "train_documents", json_integer((json_int_t)(h.ndocs - vd)));
    json_object_set_new(root, "train_bytes", json_integer((json_int_t)(h.nbytes - vb)));
    json_object_set_new(root, "val_documents", json_integer((json_int_t)vd));
    json_object_set_new(root, "val_bytes", json_integer((json_int_t)vb));
    json_object_set_new(root, "val_fraction", json_real(val_fraction));
    json_object_set_new(root, "seed", json_integer((json_int_t)seed));
    json_object_set_new(root, "sources", srcs);
    man = json_dumps(root, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(15));
    if (!man) {
        rc = gr_fail(err, GR_ENOMEM, "out of memory writing the corpus manifest");
        goto fail;
    }

    /* 1. the document bytes */
    if (t->clear) {
        if (unlink(idxp) < 0 && errno != ENOENT) {    /* the old corpus goes */
            rc = gr_fail_errno(err, GR_EIO, "%s", idxp);
            goto fail;
        }
        rc = fs_atomic_commit(&t->bin, err);        /* aborts itself on failure */
        t->bin.path = NULL;
        if (rc != GR_OK)
            goto fail;
    } else if (fsync(t->fd) < 0) {
        rc = gr_fail_errno(err, GR_EIO, "%s/docs.bin: fsync failed", t->dir);
        goto fail;
    }
    /* 2. the manifest, keeping the old one to put back */
    if (fs_exists(manp) &&
        fs_read_all(manp, &old_manifest, &old_manifest_len, NULL) == GR_OK)
        have_old_manifest = 1;
    if ((rc = fs_write_atomic(manp, man, strlen(man), err)) != GR_OK)
        goto fail;
    /* 3. the index: the commit point */
    if ((rc = fs_write_atomic(idxp, idx, idx_len, err)) != GR_OK) {
        if (have_old_manifest)
            fs_write_atomic(manp, old_manifest, old_manifest_len, NULL);
        else
            unlink(manp);
        goto fail;
    }
    t->removed_shards = remove_shards(t->dir);
done:
    t->clear = 0;           /* committed: abort must not touch the bytes */
    t->bin.path = NULL;
    txn_free(t);
    goto out;
fail:
    corpus_txn_abort(t);
out:
    json_decref(root);
    free(man);
    free(idx);
    free(old_manifest);
    free(idxp);
    free(manp);
    return rc;
}

enum gr_status
corpus_store_clear(const char *dir, int *removed, struct gr_error *err)
{
    static const char *const names[] = {
        "docs.idx", "docs.bin", "manifest.json", "train.tok", "val.tok", NULL
    };
    *removed = 0;
    if (!fs_is_dir(dir))
        return GR_OK;
    int lock;
    enum gr_status rc = store_lock(dir, &lock, err);
    if (rc != GR_OK)
        return rc;
    for (const char *const *n = names; *n && rc == GR_OK; n++) {  /* index first */
        char *p = fs_join(dir, *n);
        if (unlink(p) == 0) {
            if (n == names)
                *removed = 1;
        } else if (errno != ENOENT) {
            rc = gr_fail_errno(err, GR_EIO, "%s", p);
        }
        free(p);
    }
    close(lock);
    return rc;
}

/* ---- the stage --------------------------------------------------------------- */

/* 1234567 -> "1,234,567" */
static const char *
fmt_count(char *buf, size_t size, uint64_t v)
{
    char tmp[32];
    int n = snprintf(tmp, sizeof tmp, "%llu", (unsigned long long)v);
    size_t j = 0;
    for (int i = 0; i < n && j + 2 < size; i++) {
        if (i > 0 && (n - i) % 3 == 0)
            buf[j++] = ',';
        buf[j++] = tmp[i];
    }
    buf[j] = '\0';
    return buf;
}

/* 4412345 -> "4.4 MB" */
static const char *
fmt_bytes(char *buf, size_t size, uint64_t v)
{
    static const char *const unit[] = { "bytes", "KB", "MB", "GB", "TB" };
    double x = (double)v;
    int u = 0;
    while (x >= 1000 && u < 4) {
        x /= 1000;
        u++;
    }
    if (u == 0)
        snprintf(buf, size, "%llu bytes", (unsigned long long)v);
    else
        snprintf(buf, size, "%.1f %s", x, unit[u]);
    return buf;
}

/* The end of a long path, to fit a column. */
static const char *
fmt_path(char *buf, size_t size, const char *path, size_t width)
{
    size_t n = strlen(path);
    if (n <= width || width < 8)
        snprintf(buf, size, "%s", path);
    else
        snprintf(buf, size, "...%s", path + n - (width - 3));
    return buf;
}

static void
print_shards_removed(struct gr_ctx *ctx, int removed)
{
    if (removed)
        ctx_printf(ctx, "Removed the token shards of the old corpus "
                   "(corpus/train.tok, corpus/val.tok): run 'garage tokenizer' "
                   "to encode it again.\n");
}

static enum gr_status
print_info(struct gr_ctx *ctx, const char *dir, uint64_t seed,
           struct gr_error *err)
{
    struct corpus c;
    struct gr_error e2;
    enum gr_status rc = corpus_open_dir(&c, dir, seed, &e2);
    if (rc == GR_ESTATE) {
        ctx_printf(ctx, "The corpus is empty: add text with 'garage corpus add PATH'.\n");
        return GR_OK;
    }
    if (rc != GR_OK) {
        if (err)
            *err = e2;
        return rc;
    }
    struct corpus_stats st;
    corpus_stats_compute(&c, &st);
    char a[32], b[32], sz[32];
    ctx_printf(ctx, "Corpus (%s)\n", dir);
    ctx_printf(ctx, "  documents   %14s\n", fmt_count(a, sizeof a, st.ndocs));
    ctx_printf(ctx, "  bytes       %14s   %s\n", fmt_count(a, sizeof a, st.nbytes),
               fmt_bytes(sz, sizeof sz, st.nbytes));
    ctx_printf(ctx, "  lines       %14s\n", fmt_count(a, sizeof a, st.nlines));
    ctx_printf(ctx, "  words       %14s\n", fmt_count(a, sizeof a, st.nwords));
    ctx_printf(ctx, "  duplicates  %14s   documents identical to an earlier one\n",
               fmt_count(a, sizeof a, st.ndups));
    ctx_printf(ctx, "\n  split          documents           bytes\n");
    ctx_printf(ctx, "  training    %14s  %14s\n", fmt_count(a, sizeof a, st.train_docs),
               fmt_count(b, sizeof b, st.train_bytes));
    ctx_printf(ctx, "  validation  %14s  %14s   (val_fraction %g, seed %llu)\n",
               fmt_count(a, sizeof a, st.val_docs), fmt_count(b, sizeof b, st.val_bytes),
               c.val_fraction, (unsigned long long)seed);

    json_t *srcs = sources_read(dir, c.nsources);
    uint64_t *nd = xcalloc(c.nsources ? c.nsources : 1, sizeof *nd);
    uint64_t *nb = xcalloc(c.nsources ? c.nsources : 1, sizeof *nb);
    for (size_t i = 0; i < c.ndocs; i++) {
        nd[c.src[i]]++;
        nb[c.src[i]] += c.offs[i + 1] - c.offs[i];
    }
    size_t w = 6;
    for (size_t i = 0; i < c.nsources; i++) {
        size_t n = strlen(src_str(json_array_get(srcs, i), "path"));
        if (n > w)
            w = n;
    }
    if (w > 48)
        w = 48;
    ctx_printf(ctx, "\n  %-*s  %-7s  %10s  %14s  %7s\n", (int)w, "source", "format",
               "documents", "bytes", "skipped");
    for (size_t i = 0; i < c.nsources; i++) {
        const json_t *s = json_array_get(srcs, i);
        char p[64], sk[32];
        ctx_printf(ctx, "  %-*s  %-7s  %10s  %14s  %7s\n", (int)w,
                   fmt_path(p, sizeof p, src_str(s, "path"), w), src_str(s, "format"),
                   fmt_count(a, sizeof a, nd[i]), fmt_count(b, sizeof b, nb[i]),
                   fmt_count(sk, sizeof sk, src_int(s, "skipped")));
    }
    free(nd);
    free(nb);
    json_decref(srcs);
    corpus_close(&c);
    return GR_OK;
}

static void
print_added(struct gr_ctx *ctx, const struct corpus_load *L)
{
    char a[32], b[32];
    for (size_t i = 0; i < L->nsrcs; i++) {
        const struct corpus_source *s = &L->srcs[i];
        if (s->ndocs == 0) {
            ctx_printf(ctx, "Nothing from %s [%llu file%s skipped]\n", s->path,
                       (unsigned long long)s->nskipped, s->nskipped == 1 ? "" : "s");
            continue;
        }
        ctx_printf(ctx, "Added %s document%s (%s) from %s", fmt_count(a, sizeof a, s->ndocs),
                   s->ndocs == 1 ? "" : "s", fmt_bytes(b, sizeof b, s->nbytes), s->path);
        ctx_printf(ctx, " [%s; %llu file%s", s->format, (unsigned long long)s->nfiles,
                   s->nfiles == 1 ? "" : "s");
        if (s->nskipped)
            ctx_printf(ctx, ", %llu skipped", (unsigned long long)s->nskipped);
        if (s->nbad)
            ctx_printf(ctx, ", %llu bad line%s skipped", (unsigned long long)s->nbad,
                       s->nbad == 1 ? "" : "s");
        ctx_printf(ctx, "]\n");
    }
}

static void
print_summary(struct gr_ctx *ctx, const char *dir, uint64_t seed)
{
    struct corpus c;
    if (corpus_open_dir(&c, dir, seed, NULL) != GR_OK)
        return;
    char a[32], b[32], t[32], v[32];
    ctx_printf(ctx, "The corpus holds %s documents (%s): %s for training, %s held "
               "out for validation (val_fraction %g).\n",
               fmt_count(a, sizeof a, c.ndocs), fmt_bytes(b, sizeof b, c.nbytes),
               fmt_count(t, sizeof t, c.ndocs - c.val_docs),
               fmt_count(v, sizeof v, c.val_docs), c.val_fraction);
    corpus_close(&c);
}

enum gr_status
stage_corpus(struct gr_ctx *ctx, const struct gr_args *a, struct gr_error *err)
{
    enum gr_status rc = GR_OK;
    char *const *paths = NULL;
    size_t npaths = args_list(a, "add", &paths);
    const char *fmt_name = args_str(a, "format");
    const char *field = args_str(a, "field");
    double val = args_float(a, "val_fraction");
    int val_set = args_isset(a, "val_fraction");
    int info = args_bool(a, "info");
    int clear = args_bool(a, "clear");
    uint64_t seed = ctx->ws->seed;
    char *dir = workspace_path(ctx->ws, "corpus");
    struct corpus_load L;
    struct corpus_txn t;
    char *ws_real = NULL;
    corpus_load_init(&L);

    enum corpus_format fmt = CORPUS_AUTO;
    if (fmt_name && corpus_format_parse(fmt_name, &fmt) != 0) {
        rc = gr_fail(err, GR_EINPUT, "unknown corpus format '%s' (auto, text, "
                     "fortune or jsonl)", fmt_name);
        goto out;
    }
    if (!npaths && !clear && !val_set)
        info = 1;

    if (clear && !npaths) {
        int removed;
        if ((rc = corpus_store_clear(dir, &removed, err)) != GR_OK)
            goto out;
        ctx_printf(ctx, removed ? "Cleared the corpus.\n"
                                : "The corpus was empty already.\n");
    } else if (npaths || val_set) {
        L.format = fmt;
        L.field = field ? field : "text";
        L.metrics = ctx->metrics;
        ws_real = realpath(ctx->ws->root, NULL);
        L.exclude = ws_real;
        if ((rc = corpus_txn_begin(&t, dir, clear, &L, err)) != GR_OK)
            goto out;
        if (!npaths && !t.had_corpus) {
            corpus_txn_abort(&t);
            rc = gr_fail(err, GR_ESTATE, "the corpus is empty: add text with "
                         "'garage corpus add PATH' (val_fraction goes with it)");
            goto out;
        }
        if (npaths && (rc = corpus_load_paths(&L, paths, npaths, err)) != GR_OK) {
            corpus_txn_abort(&t);
            goto out;
        }
        /* an explicit val_fraction wins; else keep the stored one */
        if (!val_set && t.had_corpus && !clear && t.old_val_fraction >= 0)
            val = t.old_val_fraction;
        if (npaths && L.ndocs == 0) {
            ctx_printf(ctx, "Nothing new: %s already in the corpus.\n",
                       L.nalready == 1 ? "that path is" : "those paths are");
            if (!val_set) {
                corpus_txn_abort(&t);
                goto report;
            }
        }
        double old_val = t.old_val_fraction;
        if ((rc = corpus_txn_commit(&t, &L, val, seed, err)) != GR_OK)
            goto out;
        if (clear)
            ctx_printf(ctx, "Cleared the corpus.\n");
        print_added(ctx, &L);
        if (!npaths && val != old_val)
            ctx_printf(ctx, "Validation share set to %g.\n", val);
        print_shards_removed(ctx, t.removed_shards);
        if (!info)
            print_summary(ctx, dir, seed);
    }
report:
    if (info)
        rc = print_info(ctx, dir, seed, err);
out:
    corpus_load_release(&L);
    free(ws_real);
    free(dir);
    return rc;
}
