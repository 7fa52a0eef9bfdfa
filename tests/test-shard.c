/* tests/test-shard.c: token shards round-trip, stream, and refuse
 * truncated or damaged files. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/fsio.h"
#include "base/rng.h"
#include "base/xalloc.h"
#include "check.h"
#include "text/shard.h"

static char scratch[] = "/tmp/garage-test-shard-XXXXXX";

static void
test_round_trip(void)
{
    char *path = fs_join(scratch, "small.tok");
    uint16_t tok[] = { 0, 1, 2, 300, 4095, 7, 7, 7 };
    struct gr_error err;
    CHECK_EQ_INT(shard_write(path, tok, 8, 31, 2, 4096, 0xfeedfacecafeULL, &err), GR_OK);
    CHECK_EQ_INT(fs_size(path), SHARD_HEADER + 2 * 8 + 8);
    struct shard s;
    CHECK_EQ_INT(shard_open(&s, path, &err), GR_OK);
    CHECK_EQ_INT(s.ntok, 8);
    CHECK_EQ_INT(s.nbytes, 31);
    CHECK_EQ_INT(s.ndocs, 2);
    CHECK_EQ_INT(s.vocab_size, 4096);
    CHECK(s.tok_hash == 0xfeedfacecafeULL);
    CHECK(s.ntok == 8 && memcmp(s.tok, tok, sizeof tok) == 0);
    shard_close(&s);

    /* no tokens at all is a valid shard */
    CHECK_EQ_INT(shard_write(path, NULL, 0, 0, 0, 300, 1, &err), GR_OK);
    CHECK_EQ_INT(shard_open(&s, path, &err), GR_OK);
    CHECK_EQ_INT(s.ntok, 0);
    shard_close(&s);

    /* tokens outside the vocabulary are our bug: refused, nothing written */
    unlink(path);
    CHECK_EQ_INT(shard_write(path, tok, 8, 31, 2, 4000, 1, &err), GR_EINTERNAL);
    CHECK(!fs_exists(path));
    CHECK_EQ_INT(shard_write(path, tok, 8, 31, 2, 70000, 1, &err), GR_EINPUT);
    free(path);
}

/* Many blocks, appended in odd-sized pieces, equal one shard_write. */
static void
test_stream(void)
{
    size_t n = 3 * (SHARD_BLOCK / 2) + 12345;
    uint16_t *tok = xmalloc(n * sizeof *tok);
    struct gr_rng r;
    rng_seed(&r, 11);
    for (size_t i = 0; i < n; i++)
        tok[i] = (uint16_t)rng_below(&r, 65536);
    char *a = fs_join(scratch, "a.tok"), *b = fs_join(scratch, "b.tok");
    struct gr_error err;
    struct shard_writer w;
    CHECK_EQ_INT(shard_writer_open(&w, a, 65536, 99, &err), GR_OK);
    for (size_t i = 0; i < n; ) {
        size_t k = 1 + rng_below(&r, 200000);
        if (k > n - i)
            k = n - i;
        CHECK_EQ_INT(shard_writer_append(&w, tok + i, k, &err), GR_OK);
        i += k;
    }
    CHECK(!fs_exists(a));                   /* not before commit */
    CHECK_EQ_INT(shard_writer_commit(&w, 5 * n, 77, &err), GR_OK);
    CHECK_EQ_INT(shard_write(b, tok, n, 5 * n, 77, 65536, 99, &err), GR_OK);
    size_t la, lb;
    char *da = NULL, *db = NULL;
    CHECK_EQ_INT(fs_read_all(a, &da, &la, &err), GR_OK);
    CHECK_EQ_INT(fs_read_all(b, &db, &lb, &err), GR_OK);
    CHECK(da && db && la == lb && memcmp(da, db, la) == 0);
    free(da);
    free(db);
    struct shard s;
    CHECK_EQ_INT(shard_open(&s, a, &err), GR_OK);
    CHECK_EQ_INT(s.ntok, n);
    CHECK_EQ_INT(s.ndocs, 77);
    CHECK(s.ntok == n && memcmp(s.tok, tok, n * sizeof *tok) == 0);
    shard_close(&s);

    /* abort leaves nothing behind */
    char *c = fs_join(scratch, "c.tok");
    CHECK_EQ_INT(shard_writer_open(&w, c, 65536, 99, &err), GR_OK);
    CHECK_EQ_INT(shard_writer_append(&w, tok, 1000, &err), GR_OK);
    shard_writer_abort(&w);
    CHECK(!fs_exists(c));
    free(c);
    free(a);
    free(b);
    free(tok);
}

static void
expect_corrupt(const char *path, const void *data, size_t n, const char *what)
{
    struct gr_error err;
    CHECK_EQ_INT(fs_write_atomic(path, data, n, &err), GR_OK);
    struct shard s;
    enum gr_status rc = shard_open(&s, path, &err);
    CHECK_MSG(rc == GR_ECORRUPT, "%s: got %s", what, gr_status_name(rc));
    if (rc == GR_ECORRUPT) {
        CHECK_MSG(strncmp(err.msg, path, strlen(path)) == 0, "%s", err.msg);
        CHECK_MSG(strstr(err.msg, what) != NULL, "%s: %s", what, err.msg);
    } else if (rc == GR_OK) {
        shard_close(&s);
    }
}

static void
test_damage(void)
{
    char *path = fs_join(scratch, "d.tok");
    uint16_t tok[1000];
    for (int i = 0; i < 1000; i++)
        tok[i] = (uint16_t)(i % 512);
    struct gr_error err;
    CHECK_EQ_INT(shard_write(path, tok, 1000, 4000, 10, 512, 5, &err), GR_OK);
    size_t n;
    char *good = NULL;
    CHECK_EQ_INT(fs_read_all(path, &good, &n, &err), GR_OK);
    if (!good)
        return;
    char *bad = xmalloc(n + 16);

    expect_corrupt(path, good, n - 1, "truncated");
    expect_corrupt(path, good, n - 200, "truncated");
    expect_corrupt(path, good, 40, "not a garage token shard");
    memcpy(bad, good, n);
    memset(bad + n, 0, 16);
    expect_corrupt(path, bad, n + 2, "trailing bytes");
    memcpy(bad, good, n);
    bad[SHARD_HEADER + 500] ^= 1;                       /* one token bit */
    expect_corrupt(path, bad, n, "checksum mismatch");
    memcpy(bad, good, n);
    bad[32] ^= 1;                                       /* nbytes in the header */
    expect_corrupt(path, bad, n, "checksum mismatch");
    memcpy(bad, good, n);
    bad[n - 1] ^= 0x80;                                 /* the checksum itself */
    expect_corrupt(path, bad, n, "checksum mismatch");
    memcpy(bad, good, n);
    bad[8] = 2;                                         /* version */
    expect_corrupt(path, bad, n, "version 2");
    memcpy(bad, good, n);
    bad[0] = 'X';
    expect_corrupt(path, bad, n, "not a garage token shard");

    struct shard s;
    char *missing = fs_join(scratch, "missing.tok");
    CHECK_EQ_INT(shard_open(&s, missing, &err), GR_EINPUT);
    free(missing);
    free(bad);
    free(good);
    free(path);
}

int
main(void)
{
    if (!mkdtemp(scratch)) {
        perror("mkdtemp");
        return 99;
    }
    test_round_trip();
    test_stream();
    test_damage();
    char *cmd = xasprintf("rm -rf '%s'", scratch);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", scratch);
    free(cmd);
    return check_exit();
}
