/* tests/test-corpus.c: the corpus formats, skips, split and store, and
 * the corpus command end to end in a scratch workspace. */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "app/command.h"
#include "app/workspace.h"
#include "base/fsio.h"
#include "base/metrics.h"
#include "base/rng.h"
#include "base/xalloc.h"
#include "check.h"
#include "stages/corpus.h"
#include "stages/stages.h"

static char notes[16384];

static void
on_metric(void *ctx, const struct gr_metric *m)
{
    (void)ctx;
    if (strcmp(m->kind, "note") == 0) {
        size_t n = strlen(notes);
        snprintf(notes + n, sizeof notes - n, "%s\n", m->text);
    }
}

static struct gr_metrics metrics;

static char scratch[] = "/tmp/garage-test-corpus-XXXXXX";

static char *
scratch_path(const char *rel)
{
    return fs_join(scratch, rel);
}

static void
write_file(const char *rel, const void *data, size_t n)
{
    char *p = scratch_path(rel);
    char *dir = fs_dirname(p);
    fs_mkdirs(dir, NULL);
    FILE *f = fopen(p, "wb");
    CHECK(f != NULL);
    if (f) {
        fwrite(data, 1, n, f);
        fclose(f);
    }
    free(dir);
    free(p);
}

static char *
read_file(const char *path, size_t *n)
{
    char *buf = NULL;
    if (fs_read_all(path, &buf, n, NULL) != GR_OK)
        return NULL;
    return buf;
}

/* Load one path with format fmt into memory; returns the status. */
static enum gr_status
load_one(struct corpus_load *L, const char *path, enum corpus_format fmt,
         const char *field, struct gr_error *err)
{
    corpus_load_init(L);
    L->format = fmt;
    if (field)
        L->field = field;
    L->metrics = &metrics;
    notes[0] = '\0';
    char *paths[1] = { (char *)path };
    return corpus_load_paths(L, paths, 1, err);
}

static int
doc_is(const struct corpus_load *L, size_t i, const char *want)
{
    size_t n;
    const unsigned char *p = corpus_load_doc(L, i, &n);
    return n == strlen(want) && memcmp(p, want, n) == 0;
}

static void
test_text(void)
{
    struct corpus_load L;
    struct gr_error err;
    const char *path = check_srcpath("tests/data/corpus/plain.txt");
    CHECK_EQ_INT(load_one(&L, path, CORPUS_TEXT, NULL, &err), GR_OK);
    size_t n;
    char *want = read_file(path, &n);
    CHECK_EQ_INT(L.ndocs, 1);
    CHECK_EQ_INT(L.nbytes, n);
    CHECK(want && L.ndocs == 1 && doc_is(&L, 0, want));
    CHECK_EQ_INT(L.nsrcs, 1);
    CHECK_STR(L.srcs[0].format, "text");
    CHECK_EQ_INT(L.doc_src[0], 0);
    free(want);
    corpus_load_release(&L);
}

static void
test_fortune(void)
{
    struct corpus_load L;
    struct gr_error err;
    const char *path = check_srcpath("tests/data/corpus/quotes");
    CHECK_EQ_INT(load_one(&L, path, CORPUS_FORTUNE, NULL, &err), GR_OK);
    CHECK_EQ_INT(L.ndocs, 3);             /* empty and blank records dropped */
    CHECK(L.ndocs == 3 && doc_is(&L, 0, "A journey of a thousand miles begins "
                                 "with a single step.\n\t\t-- Lao Tzu\n"));
    CHECK(L.ndocs == 3 && doc_is(&L, 2, "Talk is cheap.  Show me the code.\n"
                                 "\t\t-- Linus Torvalds\n"));
    for (size_t i = 0; i < L.ndocs; i++) {
        size_t n;
        const unsigned char *p = corpus_load_doc(&L, i, &n);
        CHECK(memmem(p, n, "\n%\n", 3) == NULL && p[0] != '%');
    }
    corpus_load_release(&L);

    /* auto picks fortune for it too */
    CHECK_EQ_INT(load_one(&L, path, CORPUS_AUTO, NULL, &err), GR_OK);
    CHECK_EQ_INT(L.ndocs, 3);
    CHECK_STR(L.srcs[0].format, "fortune");
    corpus_load_release(&L);
}

static void
test_jsonl(void)
{
    struct corpus_load L;
    struct gr_error err;
    const char *path = check_srcpath("tests/data/corpus/docs.jsonl");
    CHECK_EQ_INT(load_one(&L, path, CORPUS_AUTO, NULL, &err), GR_OK);
    CHECK_EQ_INT(L.ndocs, 3);
    CHECK(L.ndocs == 3 && doc_is(&L, 0, "first document"));
    CHECK(L.ndocs == 3 && doc_is(&L, 1, "second\nline"));
    CHECK(L.ndocs == 3 && doc_is(&L, 2, "third \xe2\x80\x94 UTF-8 \xe2\x9c\x93"));
    CHECK_EQ_INT(L.srcs[0].nbad, 2);
    CHECK_STR(L.srcs[0].format, "jsonl");
    char want[4200];
    snprintf(want, sizeof want, "%s:3: ", path);
    CHECK_MSG(strstr(notes, want) != NULL, "notes: %s", notes);
    snprintf(want, sizeof want, "%s:4: no field 'text'", path);
    CHECK_MSG(strstr(notes, want) != NULL, "notes: %s", notes);
    corpus_load_release(&L);

    /* another field */
    CHECK_EQ_INT(load_one(&L, path, CORPUS_JSONL, "body", &err), GR_OK);
    CHECK_EQ_INT(L.ndocs, 3);
    CHECK(L.ndocs == 3 && doc_is(&L, 0, "b1") && doc_is(&L, 2, "b3"));
    snprintf(want, sizeof want, "%s:6: no field 'body'", path);
    CHECK_MSG(strstr(notes, want) != NULL, "notes: %s", notes);
    corpus_load_release(&L);

    /* no usable line at all: an error naming the file */
    CHECK_EQ_INT(load_one(&L, path, CORPUS_JSONL, "missing", &err), GR_EINPUT);
    CHECK_MSG(strstr(err.msg, path) && strstr(err.msg, "'missing'"), "%s", err.msg);
    corpus_load_release(&L);

    /* a .json file holding one array */
    const char arr[] = "[{\"text\": \"one\"}, {\"text\": 2}, {\"text\": \"two\"}]\n";
    write_file("array.json", arr, sizeof arr - 1);
    char *p = scratch_path("array.json");
    CHECK_EQ_INT(load_one(&L, p, CORPUS_AUTO, NULL, &err), GR_OK);
    CHECK_EQ_INT(L.ndocs, 2);
    CHECK(L.ndocs == 2 && doc_is(&L, 1, "two"));
    CHECK_MSG(strstr(notes, "item 2: field 'text' is a number") != NULL, "%s", notes);
    corpus_load_release(&L);
    free(p);

    /* a .json file holding one object over several lines */
    const char obj[] = "{\n  \"title\": \"t\",\n  \"text\": \"pretty\"\n}\n";
    write_file("pretty.json", obj, sizeof obj - 1);
    p = scratch_path("pretty.json");
    CHECK_EQ_INT(load_one(&L, p, CORPUS_AUTO, NULL, &err), GR_OK);
    CHECK_EQ_INT(L.ndocs, 1);
    CHECK(L.ndocs == 1 && doc_is(&L, 0, "pretty"));
    corpus_load_release(&L);
    free(p);
}

static void
test_detect(void)
{
    static const struct { const char *name; enum corpus_format f; } cases[] = {
        { "tests/data/corpus/auto/records", CORPUS_JSONL },
        { "tests/data/corpus/auto/sayings", CORPUS_FORTUNE },
        { "tests/data/corpus/auto/brace.c", CORPUS_TEXT },
        { "tests/data/corpus/auto/notes.json", CORPUS_JSONL },
        { "tests/data/corpus/auto/essay.txt", CORPUS_TEXT },
        { "tests/data/corpus/plain.txt", CORPUS_TEXT },
        { "tests/data/corpus/quotes", CORPUS_FORTUNE },
        { "tests/data/corpus/docs.jsonl", CORPUS_JSONL },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char *path = check_srcpath(cases[i].name);
        size_t n;
        char *data = read_file(path, &n);
        CHECK_MSG(data != NULL, "%s", path);
        if (!data)
            continue;
        enum corpus_format f = corpus_detect_format(path, data, n);
        CHECK_MSG(f == cases[i].f, "%s: detected %s, expected %s", cases[i].name,
                  corpus_format_name(f), corpus_format_name(cases[i].f));
        free(data);
    }
    /* the whole folder, auto: every file read its own way */
    struct corpus_load L;
    struct gr_error err;
    CHECK_EQ_INT(load_one(&L, check_srcpath("tests/data/corpus/auto"), CORPUS_AUTO,
                          NULL, &err), GR_OK);
    CHECK_EQ_INT(L.ndocs, 1 + 1 + 1 + 2 + 2);  /* brace essay notes records sayings */
    CHECK_STR(L.srcs[0].format, "mixed");
    CHECK(L.ndocs == 7 && doc_is(&L, 5, "Look before you leap.\n"));
    corpus_load_release(&L);
}

static void
test_bad_utf8(void)
{
    struct corpus_load L;
    struct gr_error err;
    const char *path = check_srcpath("tests/data/corpus/bad-utf8.txt");
    size_t n;
    char *want = read_file(path, &n);
    CHECK_EQ_INT(load_one(&L, path, CORPUS_AUTO, NULL, &err), GR_OK);
    CHECK_EQ_INT(L.ndocs, 1);
    CHECK(want && L.ndocs == 1 && L.nbytes == n && memcmp(L.text, want, n) == 0);
    free(want);
    corpus_load_release(&L);
}

/* A large plain-text file becomes documents of at most ~64 KB, cut at
 * blank lines, that put together give the file back. */
static void
test_large_text(void)
{
    size_t cap = 300000, n = 0;
    char *buf = xmalloc(cap + 200);
    struct gr_rng r;
    rng_seed(&r, 7);
    while (n < cap) {
        int words = 20 + (int)rng_below(&r, 200);
        for (int w = 0; w < words; w++)
            n += (size_t)sprintf(buf + n, "w%u ", (unsigned)rng_below(&r, 1000));
        n += (size_t)sprintf(buf + n, "\n\n");
    }
    write_file("big.txt", buf, n);
    char *path = scratch_path("big.txt");
    struct corpus_load L;
    struct gr_error err;
    CHECK_EQ_INT(load_one(&L, path, CORPUS_TEXT, NULL, &err), GR_OK);
    CHECK_MSG(L.ndocs >= n / CORPUS_TEXT_CHUNK + 1, "%zu documents", L.ndocs);
    CHECK_EQ_INT(L.nbytes, n);
    CHECK(L.nbytes == n && memcmp(L.text, buf, n) == 0);
    for (size_t i = 0; i < L.ndocs; i++) {
        size_t len;
        const unsigned char *p = corpus_load_doc(&L, i, &len);
        CHECK(len <= CORPUS_TEXT_CHUNK + 2);
        if (i + 1 < L.ndocs)
            CHECK(len > CORPUS_TEXT_CHUNK / 4 && p[len - 1] == '\n' && p[len - 2] == '\n');
    }
    corpus_load_release(&L);
    free(path);
    free(buf);
}

static void
test_folder_skips(void)
{
    char *dir = scratch_path("fortunes");
    const char rec[] = "one\n%\ntwo\n%\nthree\n";
    write_file("fortunes/sayings", rec, sizeof rec - 1);
    unsigned char dat[40] = { 0, 0, 0, 2, 0, 0, 0, 3 };
    write_file("fortunes/sayings.dat", dat, sizeof dat);
    char *target = scratch_path("fortunes/sayings.u8");
    CHECK(symlink("sayings", target) == 0);
    free(target);
    write_file("fortunes/empty", "", 0);
    unsigned char blob[64] = { 0x7f, 'E', 'L', 'F', 2, 1, 1, 0 };
    write_file("fortunes/blob", blob, sizeof blob);
    write_file("fortunes/sub/more", "four\n%\nfive\n%\n", 14);
    write_file("fortunes/.hidden", "not me\n", 7);
    write_file("fortunes/orphan.dat", "a lone .dat is just a file\n", 27);

    struct corpus_load L;
    struct gr_error err;
    CHECK_EQ_INT(load_one(&L, dir, CORPUS_AUTO, NULL, &err), GR_OK);
    /* orphan.dat (text), sayings 3, sub/more 2; .u8 link and .dat skipped */
    CHECK_EQ_INT(L.ndocs, 1 + 3 + 2);
    CHECK_EQ_INT(L.srcs[0].nfiles, 3);
    CHECK_EQ_INT(L.srcs[0].nskipped, 4);   /* blob, empty, sayings.dat, sayings.u8 */
    CHECK_EQ_INT(L.nskipped, 4);
    CHECK_MSG(strstr(notes, "skipped binary file") && strstr(notes, "/blob"), "%s", notes);
    CHECK_MSG(strstr(notes, "skipped empty file") && strstr(notes, "/empty"), "%s", notes);
    CHECK(L.ndocs == 6 && doc_is(&L, 1, "one\n") && doc_is(&L, 4, "four\n"));
    corpus_load_release(&L);

    /* the same file twice in one call counts once */
    corpus_load_init(&L);
    L.metrics = &metrics;
    char *f1 = scratch_path("fortunes/sayings"), *f2 = scratch_path("fortunes/sayings.u8");
    char *both[2] = { f1, f2 };
    CHECK_EQ_INT(corpus_load_paths(&L, both, 2, &err), GR_OK);
    CHECK_EQ_INT(L.ndocs, 3);
    corpus_load_release(&L);

    /* a glob */
    char *pat = scratch_path("fortunes/s*");
    CHECK_EQ_INT(load_one(&L, pat, CORPUS_AUTO, NULL, &err), GR_OK);
    CHECK_EQ_INT(L.ndocs, 3 + 2);           /* sayings (+.dat, .u8 skipped), sub/ */
    corpus_load_release(&L);
    free(pat);
    pat = scratch_path("fortunes/nothing*");
    CHECK_EQ_INT(load_one(&L, pat, CORPUS_AUTO, NULL, &err), GR_EINPUT);
    CHECK_MSG(strstr(err.msg, "no files match") != NULL, "%s", err.msg);
    corpus_load_release(&L);
    free(pat);
    free(f1);
    free(f2);
    free(dir);
}

/* Offensive fortunes ship rot13-encoded, flagged in their strfile index. */
static void
test_fortune_rot13(void)
{
    const char rec[] = "Uryyb, jbeyq!\n%\nNOP kly\n%\n";
    write_file("off/rude", rec, sizeof rec - 1);
    unsigned char dat[40] = { 0, 0, 0, 2, 0, 0, 0, 2 };
    dat[19] = 0x4;                                  /* STR_ROTATED */
    write_file("off/rude.dat", dat, sizeof dat);
    char *dir = scratch_path("off");
    struct corpus_load L;
    struct gr_error err;
    CHECK_EQ_INT(load_one(&L, dir, CORPUS_AUTO, NULL, &err), GR_OK);
    CHECK_EQ_INT(L.ndocs, 2);
    CHECK(L.ndocs == 2 && doc_is(&L, 0, "Hello, world!\n") && doc_is(&L, 1, "ABC xyl\n"));
    corpus_load_release(&L);
    free(dir);
}

static void
test_errors(void)
{
    struct corpus_load L;
    struct gr_error err;
    char *p = scratch_path("no-such-file.txt");
    char want[4200];
    CHECK_EQ_INT(load_one(&L, p, CORPUS_AUTO, NULL, &err), GR_EINPUT);
    snprintf(want, sizeof want, "%s: no such file or folder", p);
    CHECK_STR(err.msg, want);
    corpus_load_release(&L);
    free(p);

    /* a folder with nothing but binary files */
    unsigned char blob[16] = { 0, 1, 2, 3 };
    write_file("binonly/a.bin", blob, sizeof blob);
    p = scratch_path("binonly");
    CHECK_EQ_INT(load_one(&L, p, CORPUS_AUTO, NULL, &err), GR_EINPUT);
    snprintf(want, sizeof want, "%s: no text files in this folder", p);
    CHECK_STR(err.msg, want);
    corpus_load_release(&L);
    free(p);

    /* a lone empty file: nothing added */
    write_file("empty.txt", "", 0);
    p = scratch_path("empty.txt");
    CHECK_EQ_INT(load_one(&L, p, CORPUS_AUTO, NULL, &err), GR_EINPUT);
    snprintf(want, sizeof want, "no documents found in %s", p);
    CHECK_STR(err.msg, want);
    CHECK(strstr(notes, "skipped empty file") != NULL);
    corpus_load_release(&L);
    free(p);

    /* unreadable (skipped when running as root, who reads anything) */
    write_file("secret.txt", "hidden\n", 7);
    p = scratch_path("secret.txt");
    chmod(p, 0);
    if (access(p, R_OK) != 0) {
        CHECK_EQ_INT(load_one(&L, p, CORPUS_AUTO, NULL, &err), GR_EINPUT);
        CHECK_MSG(strstr(err.msg, p) && strstr(err.msg, "ermission"), "%s", err.msg);
        corpus_load_release(&L);
    }
    chmod(p, 0644);
    free(p);
}

static void
test_split(void)
{
    size_t n = 20000;
    struct corpus_split a, b, c;
    corpus_split_init(&a, 1337, 0.05, n);
    corpus_split_init(&b, 1337, 0.05, n);
    corpus_split_init(&c, 1338, 0.05, n);
    size_t nval = 0, same = 1, differ = 0;
    for (size_t i = 0; i < n; i++) {
        int va = corpus_split_is_val(&a, i);
        nval += va;
        same &= va == corpus_split_is_val(&b, i);
        differ += va != corpus_split_is_val(&c, i);
    }
    CHECK(same);
    CHECK(differ > 0);
    CHECK_MSG(nval > n / 25 && nval < n / 15, "%zu of %zu", nval, n);   /* ~5% */
    /* the rule itself */
    for (size_t i = 0; i < 100; i++)
        CHECK_EQ_INT(corpus_split_is_val(&a, i),
                     rng_hash64(1337, i) < (uint64_t)(0.05 * 18446744073709551616.0));

    /* tiny corpora still get one of each */
    for (uint64_t seed = 0; seed < 200; seed++) {
        for (size_t m = 2; m < 6; m++) {
            double fr[3] = { 0.0, 0.01, 0.5 };
            for (int k = 0; k < 3; k++) {
                corpus_split_init(&a, seed, fr[k], m);
                size_t v = 0;
                for (size_t i = 0; i < m; i++)
                    v += corpus_split_is_val(&a, i);
                CHECK(v >= 1 && v <= m - 1);
            }
        }
    }
    corpus_split_init(&a, 5, 0.05, 1);      /* one document: it trains */
    CHECK_EQ_INT(corpus_split_is_val(&a, 0), rng_hash64(5, 0) < a.threshold);
}

/* Add through a transaction, as the stage does. */
static enum gr_status
store_add(const char *dir, const char *path, int clear, double val,
          struct gr_error *err)
{
    struct corpus_load L;
    struct corpus_txn t;
    corpus_load_init(&L);
    L.metrics = &metrics;
    enum gr_status rc = corpus_txn_begin(&t, dir, clear, &L, err);
    if (rc == GR_OK) {
        char *paths[1] = { (char *)path };
        rc = corpus_load_paths(&L, paths, 1, err);
        if (rc == GR_OK)
            rc = corpus_txn_commit(&t, &L, val, 1337, err);
        else
            corpus_txn_abort(&t);
    }
    corpus_load_release(&L);
    return rc;
}

static void
test_store(void)
{
    char *dir = scratch_path("ws1/corpus");
    struct corpus c;
    struct gr_error err;
    CHECK_EQ_INT(corpus_open_dir(&c, dir, 1, &err), GR_ESTATE);
    CHECK_STR(err.msg, "the corpus is empty: add text with 'garage corpus add PATH'");

    const char *quotes = check_srcpath("tests/data/corpus/quotes");
    CHECK_EQ_INT(store_add(dir, quotes, 0, 0.05, &err), GR_OK);
    CHECK_EQ_INT(corpus_open_dir(&c, dir, 1337, &err), GR_OK);
    CHECK_EQ_INT(c.ndocs, 3);
    CHECK_EQ_INT(c.nsources, 1);
    CHECK_EQ_INT(c.val_docs, 1);            /* 3 docs at 5%: the guarantee */
    size_t n;
    const unsigned char *d = corpus_doc(&c, 1, &n);
    CHECK(n > 10 && memcmp(d, "Simplicity", 10) == 0);
    uint64_t first_bytes = c.nbytes;
    corpus_close(&c);

    /* stale shards go; a crash's leftovers past the end are cut away */
    char *tok = fs_join(dir, "train.tok");
    write_file("ws1/corpus/train.tok", "x", 1);
    char *bin = fs_join(dir, "docs.bin");
    int fd = open(bin, O_WRONLY | O_APPEND);
    CHECK(fd >= 0 && write(fd, "GARBAGE", 7) == 7);
    if (fd >= 0)
        close(fd);
    CHECK_EQ_INT(corpus_open_dir(&c, dir, 1337, &err), GR_OK);   /* still fine */
    corpus_close(&c);
    const char *plain = check_srcpath("tests/data/corpus/plain.txt");
    CHECK_EQ_INT(store_add(dir, plain, 0, 0.05, &err), GR_OK);
    CHECK(!fs_exists(tok));
    CHECK_EQ_INT(corpus_open_dir(&c, dir, 1337, &err), GR_OK);
    CHECK_EQ_INT(c.ndocs, 4);
    CHECK_EQ_INT(c.nsources, 2);
    CHECK_EQ_INT(c.src[3], 1);
    CHECK_EQ_INT(c.offs[3], first_bytes);
    CHECK_EQ_INT(fs_size(bin), (long long)c.nbytes);
    size_t pn;
    char *pt = read_file(plain, &pn);
    d = corpus_doc(&c, 3, &n);
    CHECK(pt && n == pn && memcmp(d, pt, n) == 0);
    free(pt);
    struct corpus_stats st;
    corpus_stats_compute(&c, &st);
    CHECK_EQ_INT(st.ndocs, 4);
    CHECK_EQ_INT(st.train_docs + st.val_docs, 4);
    CHECK_EQ_INT(st.train_bytes + st.val_bytes, c.nbytes);
    CHECK_EQ_INT(st.ndups, 0);
    CHECK_EQ_INT(st.nlines, 2 + 2 + 2 + 5);
    corpus_close(&c);

    /* a failed add changes nothing */
    char *idx = fs_join(dir, "docs.idx"), *man = fs_join(dir, "manifest.json");
    size_t n1, n2, m1, m2;
    char *before = read_file(idx, &n1), *mbefore = read_file(man, &m1);
    long long binsize = fs_size(bin);
    char *missing = scratch_path("missing.txt");
    CHECK_EQ_INT(store_add(dir, missing, 0, 0.05, &err), GR_EINPUT);
    CHECK_EQ_INT(store_add(dir, missing, 1, 0.05, &err), GR_EINPUT);   /* clear too */
    char *after = read_file(idx, &n2), *mafter = read_file(man, &m2);
    CHECK(before && after && n1 == n2 && memcmp(before, after, n1) == 0);
    CHECK(mbefore && mafter && m1 == m2 && memcmp(mbefore, mafter, m1) == 0);
    CHECK_EQ_INT(fs_size(bin), binsize);
    free(before);
    free(after);
    free(mbefore);
    free(mafter);
    free(missing);

    /* the same source again is skipped: the corpus is unchanged */
    struct corpus_load L;
    struct corpus_txn t;
    corpus_load_init(&L);
    L.metrics = &metrics;
    notes[0] = '\0';
    CHECK_EQ_INT(corpus_txn_begin(&t, dir, 0, &L, &err), GR_OK);
    char *again[1] = { (char *)plain };
    CHECK_EQ_INT(corpus_load_paths(&L, again, 1, &err), GR_OK);
    CHECK_EQ_INT(L.ndocs, 0);
    CHECK_EQ_INT(L.nalready, 1);
    CHECK(strstr(notes, "already in the corpus") != NULL);
    /* one writer at a time */
    struct corpus_load L2;
    struct corpus_txn t2;
    corpus_load_init(&L2);
    CHECK_EQ_INT(corpus_txn_begin(&t2, dir, 0, &L2, &err), GR_ESTATE);
    CHECK_MSG(strstr(err.msg, "another garage") != NULL, "%s", err.msg);
    corpus_load_release(&L2);
    corpus_txn_abort(&t);
    corpus_load_release(&L);

    /* a file name that is not UTF-8 still makes a valid manifest */
    write_file("bad\xffname.txt", "odd name\n", 9);
    char *odd = scratch_path("bad\xffname.txt");
    CHECK_EQ_INT(store_add(dir, odd, 0, 0.05, &err), GR_OK);
    json_t *mroot = json_load_file(man, 0, NULL);
    const char *opath = json_string_value(json_object_get(json_array_get(
        json_object_get(mroot, "sources"), 2), "path"));
    CHECK_MSG(opath && strstr(opath, "bad\xef\xbf\xbdname.txt"), "%s", opath);
    json_decref(mroot);
    free(odd);

    /* the manifest */
    json_t *root = json_load_file(man, 0, NULL);
    CHECK(root != NULL);
    CHECK_EQ_INT(json_integer_value(json_object_get(root, "documents")), 5);
    json_t *srcs = json_object_get(root, "sources");
    CHECK_EQ_INT(json_array_size(srcs), 3);
    CHECK_STR(json_string_value(json_object_get(json_array_get(srcs, 0), "format")),
              "fortune");
    CHECK_EQ_INT(json_integer_value(json_object_get(json_array_get(srcs, 0),
                                                    "documents")), 3);
    json_decref(root);

    /* clear and add at once: only the new source is left */
    CHECK_EQ_INT(store_add(dir, plain, 1, 0.1, &err), GR_OK);
    CHECK_EQ_INT(corpus_open_dir(&c, dir, 1337, &err), GR_OK);
    CHECK_EQ_INT(c.ndocs, 1);
    CHECK_EQ_INT(c.nsources, 1);
    CHECK_NEAR(c.val_fraction, 0.1, 1e-12);
    corpus_close(&c);

    /* a damaged index is reported, not trusted */
    size_t il;
    char *ib = read_file(idx, &il);
    CHECK(ib != NULL);
    if (ib) {
        ib[48 + 8] ^= 0x40;       /* offs[1], just past the header */
        CHECK_EQ_INT(fs_write_atomic(idx, ib, il, &err), GR_OK);
        CHECK_EQ_INT(corpus_open_dir(&c, dir, 1337, &err), GR_ECORRUPT);
        CHECK_MSG(strstr(err.msg, idx) != NULL, "%s", err.msg);
        CHECK_EQ_INT(fs_write_atomic(idx, ib, il - 8, &err), GR_OK);
        CHECK_EQ_INT(corpus_open_dir(&c, dir, 1337, &err), GR_ECORRUPT);
        free(ib);
    }

    int removed = 0;
    CHECK_EQ_INT(corpus_store_clear(dir, &removed, &err), GR_OK);
    CHECK_EQ_INT(removed, 1);
    CHECK_EQ_INT(corpus_open_dir(&c, dir, 1337, &err), GR_ESTATE);
    free(idx);
    free(man);
    free(tok);
    free(bin);
    free(dir);
}

/* ---- the command, end to end ------------------------------------------- */

static char out[65536];

static void
on_write(void *wctx, const char *text, size_t n)
{
    (void)wctx;
    size_t have = strlen(out);
    if (have + n >= sizeof out)
        n = sizeof out - have - 1;
    memcpy(out + have, text, n);
    out[have + n] = '\0';
}

static enum gr_status
run_corpus(struct workspace *ws, int argc, char **argv, struct gr_error *err)
{
    const struct gr_command *cmd = command_find("corpus");
    CHECK(cmd != NULL);
    if (!cmd)
        return GR_EINTERNAL;
    struct gr_args a;
    args_init(&a, cmd, NULL);
    enum gr_status rc = args_parse_argv(&a, argc, argv, err);
    if (rc == GR_OK) {
        struct gr_ctx ctx = { .ws = ws, .metrics = &metrics, .write = on_write };
        out[0] = '\0';
        notes[0] = '\0';
        gr_error_clear(err);
        rc = stage_corpus(&ctx, &a, err);
    }
    args_release(&a);
    return rc;
}

static void
test_stage(void)
{
    char *root = scratch_path("ws2");
    struct workspace ws;
    struct gr_error err;
    CHECK_EQ_INT(workspace_init(root, 42, &err), GR_OK);
    CHECK_EQ_INT(workspace_open(&ws, root, &err), GR_OK);

    char *info[] = { "info" };
    CHECK_EQ_INT(run_corpus(&ws, 1, info, &err), GR_OK);
    CHECK_MSG(strstr(out, "empty") != NULL, "%s", out);

    char quotes[4096], plain[4096];
    snprintf(quotes, sizeof quotes, "%s", check_srcpath("tests/data/corpus/quotes"));
    snprintf(plain, sizeof plain, "%s", check_srcpath("tests/data/corpus/plain.txt"));
    char *add[] = { "add", quotes, plain };
    CHECK_EQ_INT(run_corpus(&ws, 3, add, &err), GR_OK);
    CHECK_MSG(strstr(out, "Added 3 documents") && strstr(out, "Added 1 document "),
              "%s", out);
    CHECK_MSG(strstr(out, "holds 4 documents") != NULL, "%s", out);
    CHECK_MSG(strstr(out, "3 for training, 1 held out") != NULL, "%s", out);

    char *none[] = { "info" };
    CHECK_EQ_INT(run_corpus(&ws, 1, none, &err), GR_OK);
    CHECK_MSG(strstr(out, "documents") && strstr(out, "duplicates") &&
              strstr(out, "validation") && strstr(out, "fortune"), "%s", out);

    struct corpus c;
    CHECK_EQ_INT(corpus_open(&c, &ws, &err), GR_OK);
    CHECK_EQ_INT(c.ndocs, 4);
    CHECK_EQ_INT(c.seed, 42);
    corpus_close(&c);

    char missing[4200], want[4300];
    snprintf(missing, sizeof missing, "%s/nope.txt", root);
    char *bad[] = { "add", missing };
    CHECK_EQ_INT(run_corpus(&ws, 2, bad, &err), GR_EINPUT);
    snprintf(want, sizeof want, "%s: no such file or folder", missing);
    CHECK_STR(err.msg, want);

    char *vf[] = { "val_fraction=0.5" };
    CHECK_EQ_INT(run_corpus(&ws, 1, vf, &err), GR_OK);
    CHECK_EQ_INT(corpus_open(&c, &ws, &err), GR_OK);
    CHECK_NEAR(c.val_fraction, 0.5, 1e-12);
    corpus_close(&c);

    char *clr[] = { "clear" };
    CHECK_EQ_INT(run_corpus(&ws, 1, clr, &err), GR_OK);
    CHECK_EQ_INT(corpus_open(&c, &ws, &err), GR_ESTATE);
    workspace_release(&ws);
    free(root);
}

static void
remove_tree(const char *path)
{
    char *cmd = xasprintf("rm -rf '%s'", path);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", path);
    free(cmd);
}

int
main(void)
{
    if (!mkdtemp(scratch)) {
        perror("mkdtemp");
        return 99;
    }
    metrics_init(&metrics, on_metric, NULL, 0);
    test_text();
    test_fortune();
    test_jsonl();
    test_detect();
    test_bad_utf8();
    test_large_text();
    test_folder_skips();
    test_fortune_rot13();
    test_errors();
    test_split();
    test_store();
    test_stage();
    metrics_release(&metrics);
    remove_tree(scratch);
    return check_exit();
}
