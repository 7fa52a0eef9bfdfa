/* test-complete.c: splitting REPL lines into words, and the exact tab
 * completion candidates for a line and a cursor: commands, options as
 * "key=", choices, booleans, paths in a fixture folder and checkpoint
 * names in a temporary workspace. */
#include <ftw.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "app/command.h"
#include "app/complete.h"
#include "base/fsio.h"
#include "base/xalloc.h"
#include "check.h"

static const struct complete_extra extra[] = {
    { "source", "run", 0 },
    { "save-session", NULL, 1 },
    { "exit", NULL, 0 },
    { NULL, NULL, 0 }
};

static const char *wsdir;       /* for checkpoint names */

/* The candidates joined with ' ', and the start offset. */
static char *
cands(const char *line, size_t cursor, size_t *start, int *paths)
{
    struct complete_result r;
    complete_line(line, cursor, wsdir, extra, &r);
    size_t len = 1;
    for (size_t i = 0; i < r.n; i++)
        len += strlen(r.items[i]) + 1;
    char *s = xcalloc(len, 1);
    for (size_t i = 0; i < r.n; i++) {
        if (i)
            strcat(s, " ");
        strcat(s, r.items[i]);
    }
    if (start)
        *start = r.start;
    if (paths)
        *paths = r.paths;
    complete_result_release(&r);
    return s;
}

/* want: candidates joined with ' '; cursor at the end of the line. */
#define EXPECT(line, want) do { char *_got = cands(line, strlen(line), NULL, NULL); \
    CHECK_MSG(strcmp(_got, want) == 0, "'%s':\n  got:      %s\n  expected: %s", \
              line, _got, want); free(_got); } while (0)

/* Like EXPECT, for a line printf'd from fmt. */
static void
expect_fmt(const char *want, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *line = NULL;
    if (vasprintf(&line, fmt, ap) < 0)
        abort();
    va_end(ap);
    EXPECT(line, want);
    free(line);
}

static void
test_split(void)
{
    struct complete_words w;
    struct gr_error err = { 0 };
    CHECK(complete_split("sample prompt=\"the cat\" count=2", &w, &err) == GR_OK);
    CHECK_EQ_INT(w.argc, 3);
    if (w.argc == 3) {
        CHECK_STR(w.argv[0], "sample");
        CHECK_STR(w.argv[1], "prompt=the cat");
        CHECK_STR(w.argv[2], "count=2");
        CHECK(w.argv[3] == NULL);
    }
    complete_words_release(&w);

    CHECK(complete_split("  a 'b c'  d\\ e \"x\\\"y\\\\\" 'it''s' --k=\"\"  ", &w, &err) == GR_OK);
    CHECK_EQ_INT(w.argc, 6);
    if (w.argc == 6) {
        CHECK_STR(w.argv[0], "a");
        CHECK_STR(w.argv[1], "b c");
        CHECK_STR(w.argv[2], "d e");
        CHECK_STR(w.argv[3], "x\"y\\");
        CHECK_STR(w.argv[4], "its");
        CHECK_STR(w.argv[5], "--k=");
    }
    complete_words_release(&w);

    /* comments, blank lines, a '#' inside a word */
    CHECK(complete_split("# only a comment", &w, &err) == GR_OK);
    CHECK_EQ_INT(w.argc, 0);
    complete_words_release(&w);
    CHECK(complete_split(" \t ", &w, &err) == GR_OK);
    CHECK_EQ_INT(w.argc, 0);
    complete_words_release(&w);
    CHECK(complete_split("sample prompt=a#b  # the rest", &w, &err) == GR_OK);
    CHECK_EQ_INT(w.argc, 2);
    if (w.argc == 2)
        CHECK_STR(w.argv[1], "prompt=a#b");
    complete_words_release(&w);
    CHECK(complete_split("sample prompt=\"\"", &w, &err) == GR_OK);
    CHECK_EQ_INT(w.argc, 2);
    if (w.argc == 2)
        CHECK_STR(w.argv[1], "prompt=");
    complete_words_release(&w);

    CHECK(complete_split("sample prompt=\"open", &w, &err) == GR_EUSAGE);
    CHECK_STR(err.msg, "missing closing quote (\")");
    complete_words_release(&w);
    CHECK(complete_split("x 'open", &w, &err) == GR_EUSAGE);
    CHECK_STR(err.msg, "missing closing quote (')");
    complete_words_release(&w);
}

static int
cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void
test_commands(void)
{
    /* every command of the registry, and the front end's, sorted */
    const char *names[256];
    size_t n = 0;
    for (const struct gr_command *c = gr_commands; c->name && n < 250; c++)
        names[n++] = c->name;
    for (const struct complete_extra *e = extra; e->name; e++)
        names[n++] = e->name;
    qsort(names, n, sizeof *names, cmp_str);
    char all[4096] = "";
    for (size_t i = 0; i < n; i++) {
        if (i)
            strcat(all, " ");
        strcat(all, names[i]);
    }
    EXPECT("", all);
    EXPECT("   ", all);
    EXPECT("pret", "pretrain");
    EXPECT("  tok", "tokenizer");
    EXPECT("sou", "source");
    EXPECT("save", "save-session");
    EXPECT("zzz", "");
    EXPECT("frobnicate ", "");
    EXPECT("help pret", "pretrain");
    EXPECT("help command=tok", "tokenizer");
    EXPECT("help sou", "source");

    size_t start;
    char *got = cands("  pret", 6, &start, NULL);
    CHECK_STR(got, "pretrain");
    CHECK_EQ_INT(start, 2);
    free(got);
}

/* From the registry, as the registry grows: "BEFORE" each option of cmd
 * that starts with prefix and is not skip, "AFTER", sorted, joined with
 * ' '.  Caller frees. */
static char *
opts(const char *cmd, const char *prefix, const char *skip,
     const char *before, const char *after)
{
    const char *names[256];
    size_t n = 0;
    const struct gr_command *c = command_find(cmd);
    for (const struct gr_option *o = c ? c->opts : NULL; o && o->name && n < 256; o++)
        if (!strncmp(o->name, prefix, strlen(prefix)) && (!skip || strcmp(o->name, skip)))
            names[n++] = o->name;
    qsort(names, n, sizeof *names, cmp_str);
    char *s = xstrdup("");
    for (size_t i = 0; i < n; i++) {
        char *t = xasprintf("%s%s%s%s%s", s, i ? " " : "", before, names[i], after);
        free(s);
        s = t;
    }
    return s;
}

#define EXPECT_OPTS(line, cmd, prefix, skip, before, after) do { \
    char *_w = opts(cmd, prefix, skip, before, after); EXPECT(line, _w); free(_w); } while (0)

static void
test_options(void)
{
    /* the pretrain options at the time of writing: steps, stop_at,
     * eval_batches, eval_every...; others may come */
    EXPECT_OPTS("pretrain st", "pretrain", "st", NULL, "", "=");
    char *st = opts("pretrain", "st", NULL, "", "=");
    CHECK(strstr(st, "steps= stop_at=") != NULL);
    free(st);
    EXPECT_OPTS("pretrain eval", "pretrain", "eval", NULL, "", "=");
    EXPECT("pretrain eval-b", "eval_batches=");       /* '-' is '_' */
    EXPECT_OPTS("pretrain steps=10 st", "pretrain", "st", "steps", "", "=");  /* given */
    EXPECT_OPTS("pretrain --steps 10 st", "pretrain", "st", "steps", "", "=");
    EXPECT("pretrain steps=10 sto", "stop_at=");
    EXPECT("pretrain stx", "");
    EXPECT_OPTS("model ", "model", "", NULL, "", "=");
    EXPECT("status ", "");
    EXPECT_OPTS("pretrain --st", "pretrain", "st", NULL, "--", "");
    EXPECT_OPTS("tokenizer --", "tokenizer", "", NULL, "--", "");
    EXPECT("source --se", "--set");
    EXPECT("exit ", "");

    /* the cursor in the middle: only what is before it counts */
    const char *line = "pretrain st batch=4";
    size_t start;
    char *got = cands(line, 11, &start, NULL);
    CHECK_STR(got, "steps= stop_at=");
    CHECK_EQ_INT(start, 9);
    free(got);
    got = cands(line, 10, &start, NULL);
    char *want = opts("pretrain", "s", NULL, "", "=");
    CHECK_STR(got, want);
    free(want);
    free(got);

    /* a comment, an unknown option */
    EXPECT("pretrain # st", "");
    EXPECT("pretrain stepz=", "");
}

static void
test_values(void)
{
    size_t start;
    int paths;
    char *got = cands("pretrain objective=", 19, &start, &paths);
    CHECK_STR(got, "masked next");
    CHECK_EQ_INT(start, 19);
    CHECK(!paths);
    free(got);
    EXPECT("pretrain objective=m", "masked");
    EXPECT("pretrain objective=x", "");
    EXPECT("pretrain --objective ", "masked next");
    EXPECT("pretrain --objective n", "next");
    EXPECT("pretrain --objective=ma", "masked");
    EXPECT("pretrain resume=", "false true");
    EXPECT("pretrain resume=t", "true");
    EXPECT("corpus info=f", "false");
    EXPECT("corpus format=", "auto fortune jsonl text");
    EXPECT("pretrain steps=", "");                     /* a number: nothing to offer */
    EXPECT("sample prompt=", "");
    EXPECT("sample prompt=\"the c", "");
}

static void
test_paths(void)
{
    const char *fx = check_srcpath("tests/data/complete");
    char *dir = xstrdup(fx);
    size_t start;
    int paths;

    /* key=PATH: start is just after the '=' */
    char *line = xasprintf("corpus add=%s/al", dir);
    char *got = cands(line, strlen(line), &start, &paths);
    char *want = xasprintf("%s/alpha.txt %s/alpine/", dir, dir);
    CHECK_STR(got, want);
    CHECK_EQ_INT(start, 11);
    CHECK(paths);
    free(got);
    free(want);
    free(line);

    /* the paths after a list verb; no options there */
    want = xasprintf("%s/alpha.txt %s/alpine/ %s/beta.yaml", dir, dir, dir);
    expect_fmt(want, "corpus add %s/", dir);
    free(want);
    want = xasprintf("%s/.hidden", dir);
    expect_fmt(want, "corpus add %s/.h", dir);          /* dot files when asked */
    free(want);
    want = xasprintf("%s/beta.yaml", dir);
    expect_fmt(want, "corpus add %s/alpha.txt %s/b", dir, dir);
    expect_fmt(want, "corpus %s/b", dir);               /* the positional option */
    expect_fmt(want, "run %s/b", dir);
    expect_fmt(want, "save-session %s/b", dir);
    expect_fmt(want, "source %s/b", dir);
    expect_fmt(want, "init dir=%s/b", dir);
    free(want);
    want = xasprintf("%s/alpine/inner.txt", dir);
    expect_fmt(want, "corpus add %s/alpine/", dir);
    free(want);
    expect_fmt("", "corpus add %s/nothing", dir);
    expect_fmt("", "corpus add %s/nowhere/a", dir);
    free(dir);
}

static int
rm_entry(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(p);
}

static void
touch(const char *dir, const char *name)
{
    char *p = fs_join(dir, name);
    FILE *f = fopen(p, "w");
    CHECK_MSG(f != NULL, "cannot create %s", p);
    if (f)
        fclose(f);
    free(p);
}

static void
test_checkpoints(void)
{
    char tmp[] = "tests/tmp-complete.XXXXXX";
    struct gr_error err = { 0 };
    if (fs_mkdirs("tests", &err) != GR_OK || !mkdtemp(tmp)) {
        CHECK_MSG(0, "mkdtemp failed");
        return;
    }
    char *ws = fs_join(tmp, "ws");
    char *ck = fs_join(ws, "checkpoints");
    CHECK(fs_mkdirs(ck, &err) == GR_OK);
    touch(ck, "base-000000.ckpt");
    touch(ck, "base-000020.ckpt");
    touch(ck, "sft-000010.ckpt");
    touch(ck, "notes.txt");                 /* not a checkpoint */
    touch(ck, ".base-000030.ckpt.tmp");
    wsdir = ws;

    size_t start;
    int paths;
    char *got = cands("sample checkpoint=", 18, &start, &paths);
    char *want = xasprintf("%s/base-000000.ckpt %s/base-000020.ckpt %s/sft-000010.ckpt",
                           ck, ck, ck);
    CHECK_STR(got, want);
    CHECK_EQ_INT(start, 18);
    CHECK(paths);
    free(got);
    /* info's bare word is its checkpoint */
    char *with_key = xasprintf("checkpoint= %s", want);
    EXPECT("info ", with_key);
    free(with_key);
    free(want);
    want = xasprintf("%s/base-000000.ckpt %s/base-000020.ckpt", ck, ck);
    expect_fmt(want, "sample checkpoint=%s/b", ck);
    expect_fmt(want, "sample --checkpoint %s/ba", ck);
    free(want);
    EXPECT("info x", "");
    EXPECT("info checkpoint=x", "");

    /* another path: any file */
    char *fx = xstrdup(check_srcpath("tests/data/complete"));
    want = xasprintf("%s/beta.yaml", fx);
    expect_fmt(want, "sample checkpoint=%s/b", fx);
    free(want);
    free(fx);

    /* the workspace is the current folder: names from checkpoints/ */
    char cwd[4096];
    CHECK(getcwd(cwd, sizeof cwd) != NULL);
    CHECK(chdir(ws) == 0);
    wsdir = NULL;
    EXPECT("sample checkpoint=checkpoints/s", "checkpoints/sft-000010.ckpt");
    EXPECT("sample checkpoint=", "checkpoints/base-000000.ckpt "
           "checkpoints/base-000020.ckpt checkpoints/sft-000010.ckpt");
    /* bare words in a folder: options and paths together */
    EXPECT("corpus c", "checkpoints/ clear=");
    EXPECT("info c", "checkpoint= checkpoints/base-000000.ckpt "
           "checkpoints/base-000020.ckpt checkpoints/sft-000010.ckpt");
    /* like run: its options, and paths for its file */
    char *src = cands("source ", 7, NULL, NULL);
    char *runopts = opts("run", "", NULL, "", "=");
    CHECK(strncmp(src, "checkpoints/ ", 13) == 0);
    CHECK_STR(src + 13, runopts);
    free(runopts);
    free(src);
    CHECK(chdir(cwd) == 0);

    nftw(tmp, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    free(ck);
    free(ws);
}

static void
test_lists(void)
{
    char *cmds = complete_list_commands();
    CHECK(strncmp(cmds, "init\n", 5) == 0);
    CHECK(strstr(cmds, "\npretrain\n") != NULL);
    CHECK(strstr(cmds, "\nrepl\n") != NULL);
    free(cmds);
    char *opts = complete_list_options(command_find("pretrain"));
    CHECK(strncmp(opts, "steps int -\n", 12) == 0);
    CHECK(strstr(opts, "\nobjective choice - next masked\n") != NULL);
    CHECK(strstr(opts, "\nresume bool - true false\n") != NULL);
    CHECK(strstr(opts, "\nlr number -\n") != NULL);
    free(opts);
    opts = complete_list_options(command_find("corpus"));
    CHECK(strncmp(opts, "add paths positional\n", 21) == 0);
    free(opts);
    opts = complete_list_options(command_find("help"));
    CHECK_STR(opts, "command command positional\n");
    free(opts);
    opts = complete_list_options(command_find("status"));
    CHECK_STR(opts, "");
    free(opts);
}

int
main(void)
{
    test_split();
    test_commands();
    test_options();
    test_values();
    test_paths();
    test_checkpoints();
    test_lists();
    return check_exit();
}
