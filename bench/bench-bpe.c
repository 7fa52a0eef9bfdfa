/* bench/bench-bpe.c: tokenizer speed.  Trains a 4096-token vocabulary on
 * a corpus (folders or files; default the fortune files) and encodes the
 * corpus with it, one core; prints the median of a few runs.
 *     bench/bench-bpe [-v VOCAB] [-r RUNS] [FOLDER|FILE]...
 * In a folder, *.dat files and symbolic links (the *.u8 copies) are
 * skipped.  Each file is one document. */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "base/error.h"
#include "base/fsio.h"
#include "base/xalloc.h"
#include "text/bpe.h"

#define DEFAULT_CORPUS "/usr/share/games/fortunes"

struct corpus {
    unsigned char *text;
    uint64_t *offs;         /* ndocs + 1 */
    size_t ndocs, len, cap;
};

static double
now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int
cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static int
cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static double
median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

static int
add_file(struct corpus *c, const char *path)
{
    struct gr_error err;
    char *buf;
    size_t n;
    if (fs_read_all(path, &buf, &n, &err) != GR_OK) {
        fprintf(stderr, "bench-bpe: %s\n", err.msg);
        return -1;
    }
    if (c->len + n > c->cap) {
        c->cap = 2 * (c->len + n);
        c->text = xrealloc(c->text, c->cap);
    }
    memcpy(c->text + c->len, buf, n);
    c->len += n;
    free(buf);
    c->offs = xrealloc(c->offs, (c->ndocs + 2) * sizeof *c->offs);
    c->offs[0] = 0;
    c->offs[++c->ndocs] = c->len;
    return 0;
}

static int
add_path(struct corpus *c, const char *path)
{
    struct stat st;
    if (stat(path, &st) != 0) {
        fprintf(stderr, "bench-bpe: %s: not found\n", path);
        return -1;
    }
    if (!S_ISDIR(st.st_mode))
        return add_file(c, path);
    DIR *d = opendir(path);
    if (!d) {
        fprintf(stderr, "bench-bpe: %s: cannot open\n", path);
        return -1;
    }
    char **names = NULL;
    size_t nn = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        size_t l = strlen(e->d_name);
        if (e->d_name[0] == '.' || (l > 4 && !strcmp(e->d_name + l - 4, ".dat")))
            continue;
        char *full = fs_join(path, e->d_name);
        if (lstat(full, &st) != 0 || !S_ISREG(st.st_mode)) {
            free(full);
            continue;
        }
        names = xrealloc(names, (nn + 1) * sizeof *names);
        names[nn++] = full;
    }
    closedir(d);
    qsort(names, nn, sizeof *names, cmp_str);
    int rc = 0;
    for (size_t i = 0; i < nn; i++) {
        if (!rc)
            rc = add_file(c, names[i]);
        free(names[i]);
    }
    free(names);
    return rc;
}

int
main(int argc, char **argv)
{
    int vocab = 4096, runs = 3, first = 1;
    struct corpus c = { 0 };
    while (first + 1 < argc && argv[first][0] == '-') {
        if (!strcmp(argv[first], "-v"))
            vocab = atoi(argv[first + 1]);
        else if (!strcmp(argv[first], "-r"))
            runs = atoi(argv[first + 1]);
        else
            break;
        first += 2;
    }
    if (runs < 1 || runs > 100)
        runs = 3;
    if (first >= argc) {
        if (add_path(&c, DEFAULT_CORPUS) != 0) {
            fprintf(stderr, "bench-bpe: no corpus (Debian: apt-get install "
                    "fortunes)\n");
            return 77;
        }
    }
    for (int i = first; i < argc; i++)
        if (add_path(&c, argv[i]) != 0)
            return 1;
    printf("corpus: %zu documents, %.2f MB\n", c.ndocs, c.len / 1e6);

    struct bpe t;
    struct gr_error err;
    bpe_init(&t);
    double *secs = xmalloc((size_t)(runs > 5 ? runs : 5) * sizeof *secs);
    for (int r = 0; r < runs; r++) {
        double t0 = now();
        if (bpe_train(&t, c.text, c.offs, c.ndocs, vocab, NULL, &err) != GR_OK) {
            fprintf(stderr, "bench-bpe: %s\n", err.msg);
            return 1;
        }
        secs[r] = now() - t0;
    }
    printf("train: vocab %d in %.3f s (median of %d)\n", vocab,
           median(secs, runs), runs);

    int32_t *toks = NULL;
    size_t ntoks = 0, cap = 0;
    int eruns = runs > 5 ? runs : 5;
    for (int r = 0; r < eruns; r++) {
        ntoks = 0;
        double t0 = now();
        for (size_t d = 0; d < c.ndocs; d++) {
            if (bpe_encode(&t, c.text + c.offs[d], c.offs[d + 1] - c.offs[d],
                           &toks, &ntoks, &cap, &err) != GR_OK) {
                fprintf(stderr, "bench-bpe: %s\n", err.msg);
                return 1;
            }
        }
        secs[r] = c.len / 1e6 / (now() - t0);
    }
    printf("encode: %.1f MB/s (median of %d), %zu tokens, %.2f bytes/token\n",
           median(secs, eruns), eruns, ntoks, (double)c.len / (double)ntoks);

    size_t len;
    char *back = bpe_decode(&t, toks, ntoks, &len);
    int ok = len == c.len && memcmp(back, c.text, len) == 0;
    printf("round trip: %s\n", ok ? "ok" : "FAILED");
    free(back);
    free(toks);
    free(secs);
    free(c.text);
    free(c.offs);
    bpe_release(&t);
    return ok ? 0 : 1;
}
