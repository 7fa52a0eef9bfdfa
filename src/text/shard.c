#include "text/shard.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/xalloc.h"

static const char shard_magic[8] = { 'G', 'R', 'S', 'H', 'A', 'R', 'D', 0 };

#define BLOCK_TOKENS (SHARD_BLOCK / sizeof(uint16_t))

static void
put_u32(unsigned char *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

static void
put_u64(unsigned char *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

static uint32_t
get_u32(const unsigned char *p)
{
    uint32_t v = 0;
    for (int i = 0; i < 4; i++)
        v |= (uint32_t)p[i] << (8 * i);
    return v;
}

static uint64_t
get_u64(const unsigned char *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v |= (uint64_t)p[i] << (8 * i);
    return v;
}

static void
header_build(unsigned char h[SHARD_HEADER], int vocab_size, uint64_t tok_hash,
             uint64_t ntok, uint64_t nbytes, uint64_t ndocs)
{
    memset(h, 0, SHARD_HEADER);
    memcpy(h, shard_magic, 8);
    put_u32(h + 8, SHARD_VERSION);
    put_u32(h + 12, (uint32_t)vocab_size);
    put_u64(h + 16, tok_hash);
    put_u64(h + 24, ntok);
    put_u64(h + 32, nbytes);
    put_u64(h + 40, ndocs);
}

/* Checksum of the token bytes, chained block by block. */
static uint64_t
chain_tokens(const unsigned char *p, size_t n)
{
    uint64_t h = 0;
    for (size_t i = 0; i < n; i += SHARD_BLOCK) {
        size_t k = n - i < SHARD_BLOCK ? n - i : SHARD_BLOCK;
        h = gr_hash64(p + i, k, h);
    }
    return h;
}

/* ---- writing ---------------------------------------------------------- */

enum gr_status
shard_writer_open(struct shard_writer *w, const char *path, int vocab_size,
                  uint64_t tok_hash, struct gr_error *err)
{
    memset(w, 0, sizeof *w);
    w->file.fd = -1;
    if (vocab_size < 1 || vocab_size > SHARD_MAX_VOCAB)
        return gr_fail(err, GR_EINPUT, "%s: vocabulary of %d tokens does not "
                       "fit 16-bit tokens (1 to %d)", path, vocab_size,
                       SHARD_MAX_VOCAB);
    enum gr_status rc = fs_atomic_open(&w->file, path, err);
    if (rc != GR_OK)
        return rc;
    unsigned char h[SHARD_HEADER];
    memset(h, 0, sizeof h);                 /* the real header comes at commit */
    if ((rc = fs_atomic_write(&w->file, h, sizeof h, err)) != GR_OK) {
        fs_atomic_abort(&w->file);
        return rc;
    }
    w->buf = xmalloc(SHARD_BLOCK);
    w->vocab_size = vocab_size;
    w->tok_hash = tok_hash;
    w->open = 1;
    return GR_OK;
}

static enum gr_status
writer_flush(struct shard_writer *w, struct gr_error *err)
{
    if (w->nbuf == 0)
        return GR_OK;
    size_t n = w->nbuf * sizeof(uint16_t);
    w->chain = gr_hash64(w->buf, n, w->chain);
    w->nbuf = 0;
    return fs_atomic_write(&w->file, w->buf, n, err);
}

enum gr_status
shard_writer_append(struct shard_writer *w, const uint16_t *tok, size_t n,
                    struct gr_error *err)
{
    if (!w->open)
        return gr_fail(err, GR_EINTERNAL, "shard writer is not open");
    for (size_t i = 0; i < n; i++)
        if (tok[i] >= w->vocab_size)
            return gr_fail(err, GR_EINTERNAL, "%s: token %u is outside the "
                           "vocabulary of %d", w->file.path, (unsigned)tok[i],
                           w->vocab_size);
    while (n > 0) {
        size_t k = BLOCK_TOKENS - w->nbuf;
        if (k > n)
            k = n;
        memcpy(w->buf + w->nbuf, tok, k * sizeof *tok);
        w->nbuf += k;
        w->ntok += k;
        tok += k;
        n -= k;
        if (w->nbuf == BLOCK_TOKENS) {
            enum gr_status rc = writer_flush(w, err);
            if (rc != GR_OK)
                return rc;
        }
    }
    return GR_OK;
}

enum gr_status
shard_writer_commit(struct shard_writer *w, uint64_t nbytes, uint64_t ndocs,
                    struct gr_error *err)
{
    enum gr_status rc;
    if (!w->open)
        return gr_fail(err, GR_EINTERNAL, "shard writer is not open");
    if ((rc = writer_flush(w, err)) != GR_OK)
        goto fail;
    unsigned char h[SHARD_HEADER], sum[8];
    header_build(h, w->vocab_size, w->tok_hash, w->ntok, nbytes, ndocs);
    put_u64(sum, gr_hash64(h, sizeof h, w->chain));
    if ((rc = fs_atomic_write(&w->file, sum, sizeof sum, err)) != GR_OK)
        goto fail;
    for (size_t done = 0; done < sizeof h; ) {  /* the header, in place */
        ssize_t k = pwrite(w->file.fd, h + done, sizeof h - done, (off_t)done);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0) {
            rc = gr_fail_errno(err, GR_EIO, "%s: write failed", w->file.tmp);
            goto fail;
        }
        done += (size_t)k;
    }
    rc = fs_atomic_commit(&w->file, err);   /* aborts by itself on failure */
    free(w->buf);
    w->buf = NULL;
    w->open = 0;
    return rc;
fail:
    shard_writer_abort(w);
    return rc;
}

void
shard_writer_abort(struct shard_writer *w)
{
    if (w->open)
        fs_atomic_abort(&w->file);
    free(w->buf);
    w->buf = NULL;
    w->open = 0;
}

enum gr_status
shard_write(const char *path, const uint16_t *tok, size_t ntok, uint64_t nbytes,
            uint64_t ndocs, int vocab_size, uint64_t tok_hash,
            struct gr_error *err)
{
    struct shard_writer w;
    enum gr_status rc = shard_writer_open(&w, path, vocab_size, tok_hash, err);
    if (rc != GR_OK)
        return rc;
    if ((rc = shard_writer_append(&w, tok, ntok, err)) != GR_OK) {
        shard_writer_abort(&w);
        return rc;
    }
    return shard_writer_commit(&w, nbytes, ndocs, err);
}

/* ---- reading ---------------------------------------------------------- */

enum gr_status
shard_open(struct shard *s, const char *path, struct gr_error *err)
{
    memset(s, 0, sizeof *s);
    enum gr_status rc = fs_map_open(&s->map, path, err);
    if (rc != GR_OK)
        return rc;
    const unsigned char *p = s->map.data;
    size_t len = s->map.len;
    if (len < SHARD_HEADER + 8 || memcmp(p, shard_magic, 8) != 0) {
        rc = gr_fail(err, GR_ECORRUPT, "%s: not a garage token shard%s", path,
                     len < SHARD_HEADER + 8 && len >= 8 &&
                     memcmp(p, shard_magic, 8) == 0 ? " (truncated header)" : "");
        goto fail;
    }
    uint32_t version = get_u32(p + 8);
    if (version != SHARD_VERSION) {
        rc = gr_fail(err, GR_ECORRUPT, "%s: token shard version %u, this garage "
                     "reads %d (run 'garage tokenizer' again)", path,
                     (unsigned)version, SHARD_VERSION);
        goto fail;
    }
    uint32_t vocab = get_u32(p + 12);
    uint64_t ntok = get_u64(p + 24);
    if (vocab < 1 || vocab > SHARD_MAX_VOCAB) {
        rc = gr_fail(err, GR_ECORRUPT, "%s: damaged header (vocabulary of %u "
                     "tokens)", path, (unsigned)vocab);
        goto fail;
    }
    if (ntok > (len - SHARD_HEADER - 8) / 2 ||
        SHARD_HEADER + 2 * ntok + 8 != len) {
        rc = gr_fail(err, GR_ECORRUPT, "%s: %zu bytes, but the header says %llu "
                     "tokens (%s)", path, len, (unsigned long long)ntok,
                     ntok > (len - SHARD_HEADER - 8) / 2 ? "truncated"
                                                         : "trailing bytes");
        goto fail;
    }
    uint64_t sum = gr_hash64(p, SHARD_HEADER,
                             chain_tokens(p + SHARD_HEADER, 2 * ntok));
    if (sum != get_u64(p + SHARD_HEADER + 2 * ntok)) {
        rc = gr_fail(err, GR_ECORRUPT, "%s: checksum mismatch, the file is "
                     "damaged (run 'garage tokenizer' again)", path);
        goto fail;
    }
    s->tok = (const uint16_t *)(p + SHARD_HEADER);
    s->ntok = (size_t)ntok;
    s->vocab_size = (int)vocab;
    s->tok_hash = get_u64(p + 16);
    s->nbytes = get_u64(p + 32);
    s->ndocs = get_u64(p + 40);
    return GR_OK;
fail:
    shard_close(s);
    return rc;
}

void
shard_close(struct shard *s)
{
    fs_map_close(&s->map);
    s->tok = NULL;
    s->ntok = 0;
}
