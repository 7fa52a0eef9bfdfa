/* test-session.c: session files load into registry steps; every error
 * names file:line:column with the exact wording; --set overrides;
 * dry runs; running creates the workspace and names a failing step;
 * include, ${VAR} and when_missing; steps written back as a session. */
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "app/command.h"
#include "app/session.h"
#include "app/workspace.h"
#include "base/fsio.h"
#include "base/metrics.h"
#include "base/xalloc.h"
#include "check.h"

/* $srcdir/tests/data/sessions/name; caller frees. */
static char *
fixture(const char *name)
{
    char *rel = xasprintf("tests/data/sessions/%s", name);
    char *p = xstrdup(check_srcpath(rel));
    free(rel);
    return p;
}

static void
test_valid(void)
{
    char *path = fixture("valid.yaml");
    char *dir = fs_dirname(path);
    struct session s;
    struct gr_error err = { 0 };
    enum gr_status rc = session_load(&s, path, NULL, 0, &err);
    CHECK_MSG(rc == GR_OK, "%s", err.msg);
    if (rc != GR_OK)
        goto out;
    CHECK_STR(s.path, path);
    CHECK_STR(s.workspace, "./my-garage");          /* as written: cwd-relative */
    CHECK(s.has_seed);
    CHECK_EQ_INT(s.seed, 42);
    CHECK_EQ_INT(s.nsteps, 8);

    /* corpus: a list with a glob; paths resolve against the session folder */
    struct session_step *st = &s.steps[0];
    CHECK_STR(st->cmd->name, "corpus");
    CHECK_EQ_INT(st->line, 6);
    CHECK_EQ_INT(st->col, 5);
    char *const *list;
    size_t n = args_list(&st->args, "add", &list);
    CHECK_EQ_INT(n, 2);
    char *want = fs_join(dir, "fortunes.txt");
    if (n == 2)
        CHECK_STR(list[0], want);
    free(want);
    want = fs_join(dir, "texts/*.txt");
    if (n == 2)
        CHECK_STR(list[1], want);
    free(want);
    CHECK_STR(args_str(&st->args, "format"), "fortune");
    CHECK(args_isset(&st->args, "format"));
    CHECK(!args_isset(&st->args, "field"));
    CHECK_STR(args_str(&st->args, "field"), "text");  /* default */

    st = &s.steps[1];
    CHECK_STR(st->cmd->name, "tokenizer");
    CHECK_EQ_INT(args_int(&st->args, "vocab_size"), 512);

    st = &s.steps[2];                                /* block mapping */
    CHECK_STR(st->cmd->name, "model");
    CHECK_EQ_INT(st->line, 8);
    CHECK_EQ_INT(args_int(&st->args, "layers"), 2);
    CHECK_EQ_INT(args_int(&st->args, "heads"), 2);
    CHECK_EQ_INT(args_int(&st->args, "dim"), 64);
    CHECK_EQ_INT(args_int(&st->args, "context"), 256);

    st = &s.steps[3];
    CHECK_STR(st->cmd->name, "pretrain");
    CHECK_EQ_INT(args_int(&st->args, "steps"), 2000);
    CHECK_EQ_INT(args_int(&st->args, "batch"), 16);
    CHECK_NEAR(args_float(&st->args, "lr"), 3e-3, 1e-12);
    CHECK(args_bool(&st->args, "resume"));
    CHECK_STR(args_str(&st->args, "objective"), "masked");

    st = &s.steps[4];
    CHECK_STR(st->cmd->name, "sample");
    CHECK_STR(args_str(&st->args, "prompt"), "Q: Why is the sky blue?");
    want = fs_join(dir, "checkpoints/base-000100.ckpt");   /* resolved, not checked */
    CHECK_STR(args_str(&st->args, "checkpoint"), want);
    free(want);

    st = &s.steps[5];                                /* "- status:" (null) */
    CHECK_STR(st->cmd->name, "status");
    CHECK_EQ_INT(st->args.nopts, 0);

    st = &s.steps[6];                                /* one scalar for a list */
    CHECK_STR(st->cmd->name, "corpus");
    n = args_list(&st->args, "add", &list);
    CHECK_EQ_INT(n, 1);
    want = fs_join(dir, "texts/notes.txt");
    if (n == 1)
        CHECK_STR(list[0], want);
    free(want);
    CHECK_NEAR(args_float(&st->args, "val_fraction"), 0.1, 1e-12);
    CHECK_STR(args_str(&st->args, "format"), "auto");

    st = &s.steps[7];
    CHECK_STR(st->cmd->name, "info");
    CHECK(!args_has(&st->args, "checkpoint"));
    CHECK_STR(st->args.base_dir, dir);
    session_release(&s);
    CHECK(s.steps == NULL && s.nsteps == 0 && s.path == NULL);

    /* Only what is required: no workspace, no seed. */
    char *min = fixture("minimal.yaml");
    rc = session_load(&s, min, NULL, 0, &err);
    CHECK_MSG(rc == GR_OK, "%s", err.msg);
    if (rc == GR_OK) {
        CHECK(s.workspace == NULL);
        CHECK(!s.has_seed);
        CHECK_EQ_INT(s.nsteps, 1);
        CHECK_STR(s.steps[0].cmd->name, "status");
        CHECK_EQ_INT(s.steps[0].line, 3);
        session_release(&s);
    }
    free(min);
out:
    free(dir);
    free(path);
}

/* Each bad fixture and its exact message after "PATH:". */
static const struct {
    const char *file, *msg;
} bad[] = {
    { "bad-option.yaml", "3:17: unknown option 'stepz' for 'pretrain' (did you mean 'steps'?)" },
    { "bad-command.yaml", "5:5: unknown command 'pretrian' (did you mean 'pretrain'?)" },
    { "bad-int.yaml", "3:24: 'steps' expects an integer, got 'many'" },
    { "bad-range.yaml", "4:11: 'lr' must be between 0 and 1, got 5" },
    { "bad-choice.yaml", "3:23: 'format' must be one of auto,text,fortune,jsonl, got 'rot13'" },
    { "bad-top-key.yaml", "1:1: unknown key 'stepz' (did you mean 'steps'?)" },
    { "bad-top-key-far.yaml",
      "2:1: unknown key 'author' (a session has garage, workspace, seed and steps)" },
    { "tab.yaml", "3:1: tabs are not allowed in YAML; indent with spaces" },
    { "tab-flow.yaml", "4:3: tabs are not allowed in YAML; indent with spaces" },
    { "malformed.yaml", "5:6: malformed YAML: did not find expected key" },
    { "unquoted-glob.yaml", "3:21: malformed YAML: did not find expected alphabetic or "
      "numeric character (a value that starts with '*' names an alias: quote globs, "
      "\"*.txt\")" },
    { "no-version.yaml", "1:1: missing 'garage: 1' (the session format version)" },
    { "empty.yaml", "1:1: missing 'garage: 1' (the session format version)" },
    { "version2.yaml", "1:9: unsupported session format version 2 (this garage reads 1)" },
    { "missing-file.yaml", "7:13: file not found: corpus.txt" },
    { "no-glob-match.yaml", "3:20: no file matches: texts/*.md" },
    { "no-session.yaml", "3:5: 'help' cannot be a session step" },
    { "two-keys.yaml", "4:5: a step has one command; to give 'add' to 'corpus', "
      "indent it under 'corpus:'" },
    { "two-commands.yaml", "4:5: a step has one command; start another step with '- ' "
      "before 'pretrain'" },
    { "scalar-step.yaml", "3:5: a step is a command with its options, like "
      "'- status: {}'; got 'status' alone" },
    { "empty-step.yaml", "3:5: a step needs a command, like '- pretrain: { steps: 100 }'; "
      "got an empty mapping" },
    { "map-value.yaml", "3:24: 'steps' expects an integer, got a mapping" },
    { "list-value.yaml", "3:24: 'steps' expects an integer, got a list" },
    { "options-scalar.yaml", "3:15: the options of 'pretrain' are a mapping, like "
      "'pretrain: { key: value }'; got '100'" },
    { "null-value.yaml", "3:17: 'steps' has no value (it expects an integer)" },
    { "dup-option.yaml", "3:37: 'steps' is given twice for 'pretrain'" },
    { "dup-key.yaml", "4:1: 'garage' is given twice" },
    { "no-steps.yaml", "1:1: missing 'steps:' (the list of steps to run)" },
    { "steps-scalar.yaml", "2:8: 'steps' is a list of steps, like "
      "'- pretrain: { steps: 100 }'; got a scalar" },
    { "steps-empty.yaml", "2:8: 'steps' is empty; list at least one step, like "
      "'- pretrain: { steps: 100 }'" },
    { "bad-seed.yaml", "2:7: 'seed' must be between 0 and 2147483647, got -1" },
    { "bad-workspace.yaml", "2:12: 'workspace' expects a folder, got a list" },
    { "no-options.yaml", "3:15: 'status' takes no options (got 'verbose')" },
    { "two-docs.yaml", "4:1: a session is one YAML document; found a second one" },
    { "not-a-map.yaml", "1:1: a session is a mapping with 'garage: 1' and 'steps:', "
      "got a list" },
    /* include, ${VAR}, when_missing */
    { "inc-missing.yaml", "4:14: include: file not found: nope.yaml" },
    { "inc-extra-key.yaml", "4:5: an include step has nothing but 'include: FILE'" },
    { "inc-top.yaml", "2:1: 'include' is a step: write '- include: FILE' under 'steps:'" },
    { "env-unset.yaml", "3:21: environment variable 'GARAGE_TEST_UNSET' is not set" },
    { "env-unset-second.yaml", "4:45: environment variable 'GARAGE_TEST_UNSET' is not set" },
    { "env-bad-name.yaml", "4:17: '${1X}' is not a variable name (letters, digits and _)" },
    { "env-unclosed.yaml", "4:18: '${' without a closing '}' (write $$ for a '$')" },
    { "wm-bad.yaml", "3:42: 'when_missing' expects true or false, got 'maybe'" },
    { "wm-list.yaml", "4:21: 'when_missing' expects true or false, got a list" },
    { "wm-twice.yaml", "3:45: 'when_missing' is given twice for 'model'" },
};

static void
test_errors(void)
{
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char *path = fixture(bad[i].file);
        char *want = xasprintf("%s:%s", path, bad[i].msg);
        struct session s;
        struct gr_error err = { 0 };
        enum gr_status rc = session_load(&s, path, NULL, 0, &err);
        CHECK_MSG(rc == GR_EINPUT, "%s: status %d", bad[i].file, (int)rc);
        CHECK_STR(err.msg, want);
        CHECK(strchr(err.msg, '\n') == NULL);
        CHECK(s.steps == NULL && s.nsteps == 0 && s.path == NULL);
        session_release(&s);                    /* harmless after a failure */
        free(want);
        free(path);
    }

    /* A tab inside a quoted string is content, not indentation. */
    char *path = fixture("tab-in-string.yaml");
    struct session s;
    struct gr_error err = { 0 };
    CHECK_MSG(session_load(&s, path, NULL, 0, &err) == GR_OK, "%s", err.msg);
    if (err.code == GR_OK) {
        CHECK_STR(args_str(&s.steps[0].args, "prompt"), "a b");
        session_release(&s);
    }
    free(path);

    /* A missing file: no location. */
    CHECK(session_load(&s, "no-such.yaml", NULL, 0, &err) == GR_EINPUT);
    CHECK_STR(err.msg, "no-such.yaml: cannot open: No such file or directory");

    /* Include cycles name the include that closes the cycle, and the
     * chain of files; errors in an included file name that file. */
    char *a = fixture("inc-cycle-a.yaml"), *b = fixture("inc-cycle-b.yaml");
    char *want = xasprintf("%s:3:14: include cycle: %s -> %s -> %s", b, a, b, a);
    CHECK(session_load(&s, a, NULL, 0, &err) == GR_EINPUT);
    CHECK_STR(err.msg, want);
    CHECK(s.steps == NULL && s.files == NULL);
    free(want);
    free(a);
    free(b);
    a = fixture("inc-self.yaml");
    want = xasprintf("%s:4:16: include cycle: %s -> %s", a, a, a);
    CHECK(session_load(&s, a, NULL, 0, &err) == GR_EINPUT);
    CHECK_STR(err.msg, want);
    free(want);
    free(a);
    a = fixture("inc-broken-outer.yaml");
    b = fixture("inc/broken.yaml");
    want = xasprintf("%s:4:32: 'lr' must be between 0 and 1, got 7", b);
    CHECK(session_load(&s, a, NULL, 0, &err) == GR_EINPUT);
    CHECK_STR(err.msg, want);
    free(want);
    free(a);
    free(b);
}

static void
test_include(void)
{
    char *path = fixture("inc-main.yaml");
    char *part = fixture("inc/part.yaml");
    char *dir = fs_dirname(path);
    struct session s;
    struct gr_error err = { 0 };
    enum gr_status rc = session_load(&s, path, NULL, 0, &err);
    CHECK_MSG(rc == GR_OK, "%s", err.msg);
    if (rc == GR_OK) {
        CHECK(s.workspace == NULL);             /* the included file's is ignored */
        CHECK(s.has_seed);
        CHECK_EQ_INT(s.seed, 5);
        CHECK_EQ_INT(s.nfiles, 2);
        CHECK_EQ_INT(s.nsteps, 4);
        if (s.nsteps == 4) {
            CHECK_STR(s.steps[0].cmd->name, "status");
            CHECK_STR(s.steps[0].file, path);
            CHECK_STR(s.steps[1].cmd->name, "corpus");
            CHECK_STR(s.steps[1].file, part);
            CHECK_EQ_INT(s.steps[1].line, 7);
            CHECK_EQ_INT(s.steps[1].col, 5);
            CHECK(s.steps[1].when_missing);
            char *const *list;
            CHECK_EQ_INT(args_list(&s.steps[1].args, "add", &list), 1);
            char *want = xasprintf("%s/inc/../texts/notes.txt", dir);
            CHECK_STR(list[0], want);           /* relative to the included file */
            free(want);
            CHECK_STR(s.steps[2].cmd->name, "tokenizer");
            CHECK_EQ_INT(args_int(&s.steps[2].args, "vocab_size"), 300);
            CHECK(!s.steps[2].when_missing);
            CHECK_STR(s.steps[3].cmd->name, "info");
            CHECK_STR(s.steps[3].file, path);
        }
        session_release(&s);
        CHECK(s.files == NULL && s.nfiles == 0);
    }

    /* --set numbers steps across includes, and sets when_missing */
    const char *sets[] = { "3.vocab_size=400", "corpus.when_missing=false",
                           "tokenizer.when_missing=yes" };
    rc = session_load(&s, path, (char *const *)sets, 3, &err);
    CHECK_MSG(rc == GR_OK, "%s", err.msg);
    if (rc == GR_OK) {
        CHECK_EQ_INT(args_int(&s.steps[2].args, "vocab_size"), 400);
        CHECK(!s.steps[1].when_missing);
        CHECK(s.steps[2].when_missing);
        session_release(&s);
    }
    const char *bad[] = { "model.when_missing=1" };
    CHECK(session_load(&s, path, (char *const *)bad, 1, &err) == GR_EUSAGE);
    const char *bad2[] = { "corpus.when_missing=perhaps" };
    CHECK(session_load(&s, path, (char *const *)bad2, 1, &err) == GR_EUSAGE);
    CHECK_STR(err.msg, "--set corpus.when_missing=perhaps: 'when_missing' expects "
              "true or false, got 'perhaps'");

    /* The included file runs on its own too, with its own header. */
    rc = session_load(&s, part, NULL, 0, &err);
    CHECK_MSG(rc == GR_OK, "%s", err.msg);
    if (rc == GR_OK) {
        CHECK_STR(s.workspace, "./elsewhere");
        CHECK_EQ_INT(s.seed, 9);
        session_release(&s);
    }
    free(dir);
    free(part);
    free(path);
}

static void
test_env(void)
{
    char *path = fixture("env.yaml");
    char *part = fixture("inc/part.yaml");
    struct session s;
    struct gr_error err = { 0 };
    setenv("GARAGE_TEST_WS", "/tmp/x", 1);
    setenv("GARAGE_TEST_SEED", "11", 1);
    setenv("GARAGE_TEST_STEPS", "30", 1);
    setenv("GARAGE_TEST_INC", "inc/part.yaml", 1);
    unsetenv("GARAGE_TEST_OBJ");
    enum gr_status rc = session_load(&s, path, NULL, 0, &err);
    CHECK_MSG(rc == GR_OK, "%s", err.msg);
    if (rc == GR_OK) {
        CHECK_STR(s.workspace, "/tmp/x/ws");
        CHECK_EQ_INT(s.seed, 11);
        CHECK_EQ_INT(s.nsteps, 4);
        CHECK_EQ_INT(args_int(&s.steps[0].args, "steps"), 30);
        CHECK_STR(args_str(&s.steps[0].args, "objective"), "masked");   /* ${X:-word} */
        CHECK_STR(args_str(&s.steps[1].args, "prompt"), "hello, $5 and  hello");
        if (s.nsteps == 4)
            CHECK_STR(s.steps[2].file, part);
        session_release(&s);
    }
    setenv("GARAGE_TEST_OBJ", "next", 1);
    setenv("GARAGE_TEST_STEPS", "lots", 1);
    rc = session_load(&s, path, NULL, 0, &err);
    CHECK(rc == GR_EINPUT);
    char *want = xasprintf("%s:7:24: 'steps' expects an integer, got 'lots'", path);
    CHECK_STR(err.msg, want);
    free(want);
    setenv("GARAGE_TEST_STEPS", "30", 1);
    rc = session_load(&s, path, NULL, 0, &err);
    CHECK_MSG(rc == GR_OK, "%s", err.msg);
    if (rc == GR_OK) {
        CHECK_STR(args_str(&s.steps[0].args, "objective"), "next");
        session_release(&s);
    }
    unsetenv("GARAGE_TEST_INC");
    rc = session_load(&s, path, NULL, 0, &err);
    want = xasprintf("%s:10:14: environment variable 'GARAGE_TEST_INC' is not set", path);
    CHECK_STR(err.msg, want);
    free(want);
    free(part);
    free(path);
}

/* Load valid.yaml with overrides; returns the status, message in err. */
static enum gr_status
load_with(struct session *s, const char *const *sets, size_t n, struct gr_error *err)
{
    char *path = fixture("valid.yaml");
    enum gr_status rc = session_load(s, path, (char *const *)sets, n, err);
    free(path);
    return rc;
}

static void
test_sets(void)
{
    struct session s;
    struct gr_error err = { 0 };
    char *path = fixture("valid.yaml");
    char *dir = fs_dirname(path);
    char *other = fixture("fortunes.txt");
    char *notes = fixture("texts/notes.txt");
    char *add = xasprintf("corpus.add=%s", other);
    char *add7 = xasprintf("7.add=%s", notes);
    const char *sets[] = {
        "pretrain.steps=100",       /* by name */
        "2.vocab_size=1024",        /* by index */
        "corpus.format=text",       /* every corpus step */
        add,                        /* replaces the list, both corpus steps */
        add7,                       /* appends: the second override of the list */
        "pretrain.min-lr=1e-4",     /* '-' and '_' are the same */
    };
    enum gr_status rc = load_with(&s, sets, sizeof sets / sizeof sets[0], &err);
    CHECK_MSG(rc == GR_OK, "%s", err.msg);
    if (rc == GR_OK) {
        CHECK_EQ_INT(args_int(&s.steps[3].args, "steps"), 100);
        CHECK_EQ_INT(args_int(&s.steps[3].args, "batch"), 16);
        CHECK_NEAR(args_float(&s.steps[3].args, "min_lr"), 1e-4, 1e-12);
        CHECK_EQ_INT(args_int(&s.steps[1].args, "vocab_size"), 1024);
        CHECK_STR(args_str(&s.steps[0].args, "format"), "text");
        CHECK_STR(args_str(&s.steps[6].args, "format"), "text");
        char *const *list;
        size_t n = args_list(&s.steps[0].args, "add", &list);
        CHECK_EQ_INT(n, 1);
        if (n == 1)
            CHECK_STR(list[0], other);
        n = args_list(&s.steps[6].args, "add", &list);
        CHECK_EQ_INT(n, 2);
        if (n == 2) {
            CHECK_STR(list[0], other);
            CHECK_STR(list[1], notes);
        }
        session_release(&s);
    }
    free(add);
    free(add7);
    free(notes);
    free(other);

    static const struct {
        const char *set, *msg;      /* msg: FILE is the session path */
    } errs[] = {
        { "pretrain.stepz=5",
          "--set pretrain.stepz=5: unknown option 'stepz' for 'pretrain' (did you mean 'steps'?)" },
        { "foo.x=1", "--set foo.x=1: no step 'foo' in FILE" },
        { "chat.x=1", "--set chat.x=1: no step 'chat' in FILE" },
        { "9.steps=1", "--set 9.steps=1: no step 9 in FILE (it has 8 steps)" },
        { "0.steps=1", "--set 0.steps=1: no step 0 in FILE (it has 8 steps)" },
        { "2.stepz=1",
          "--set 2.stepz=1: unknown option 'stepz' for 'tokenizer' (did you mean 'show'?)" },
        { "pretrain.steps=many", "--set pretrain.steps=many: 'steps' expects an integer, got 'many'" },
        { "pretrain.lr=5", "--set pretrain.lr=5: 'lr' must be between 0 and 1, got 5" },
        { "status.x=1", "--set status.x=1: 'status' takes no options (got 'x')" },
        { "pretrain", "--set pretrain: expected step.key=value (like pretrain.steps=100)" },
        { "pretrain.steps", "--set pretrain.steps: expected step.key=value (like pretrain.steps=100)" },
        { ".steps=1", "--set .steps=1: expected step.key=value (like pretrain.steps=100)" },
        { "corpus.add=nope.txt", "--set corpus.add=nope.txt: file not found: nope.txt" },
    };
    for (size_t i = 0; i < sizeof errs / sizeof errs[0]; i++) {
        const char *one[] = { errs[i].set };
        const char *at = strstr(errs[i].msg, "FILE");
        char *want = at ? xasprintf("%.*s%s%s", (int)(at - errs[i].msg), errs[i].msg,
                                    path, at + 4)
                        : xstrdup(errs[i].msg);
        rc = load_with(&s, one, 1, &err);
        CHECK_MSG(rc == GR_EUSAGE, "%s: status %d", errs[i].set, (int)rc);
        CHECK_STR(err.msg, want);
        CHECK(s.steps == NULL);
        free(want);
    }
    free(dir);
    free(path);
}

/* ---- cmd_run and session_run --------------------------------------- */

struct capture {
    char buf[8192];
    size_t n;
};

static void
capture_write(void *wctx, const char *text, size_t n)
{
    struct capture *c = wctx;
    if (c->n + n >= sizeof c->buf)
        n = sizeof c->buf - c->n - 1;
    memcpy(c->buf + c->n, text, n);
    c->n += n;
    c->buf[c->n] = '\0';
}

static void
capture_note(void *wctx, const struct gr_metric *m)
{
    struct capture *c = wctx;
    if (!strcmp(m->kind, "note")) {
        capture_write(c, m->text, strlen(m->text));
        capture_write(c, "\n", 1);
    }
}

static void
test_dry_run(void)
{
    const struct gr_command *run = command_find("run");
    CHECK(run != NULL);
    if (!run)
        return;
    struct capture out = { .n = 0 };
    struct gr_ctx ctx = { .write = capture_write, .wctx = &out };
    struct gr_error err = { 0 };
    struct gr_args a;

    args_init(&a, run, NULL);
    CHECK(cmd_run(&ctx, &a, &err) == GR_EUSAGE);
    CHECK_STR(err.msg, "run: missing session file (garage run FILE.yaml)");
    args_release(&a);

    char *path = fixture("valid.yaml");
    char *dir = fs_dirname(path);
    args_init(&a, run, NULL);
    CHECK(args_set_kv(&a, "dry_run=true", &err) == GR_OK);
    CHECK(args_set(&a, command_option(run, "file"), path, &err) == GR_OK);
    CHECK(args_set(&a, command_option(run, "set"), "pretrain.steps=100", &err) == GR_OK);
    enum gr_status rc = cmd_run(&ctx, &a, &err);
    CHECK_MSG(rc == GR_OK, "%s", err.msg);
    char *want = xasprintf(
        "%s: 8 steps, valid\n"
        "  1. corpus add=[%s/fortunes.txt, %s/texts/*.txt] format=fortune\n"
        "  2. tokenizer vocab_size=512\n"
        "  3. model layers=2 heads=2 dim=64\n"
        "  4. pretrain steps=100 batch=16 lr=0.003 objective=masked resume=true\n"
        "  5. sample prompt=\"Q: Why is the sky blue?\" checkpoint=%s/checkpoints/base-000100.ckpt\n"
        "  6. status\n"
        "  7. corpus add=%s/texts/notes.txt val_fraction=0.1\n"
        "  8. info\n", path, dir, dir, dir, dir);
    CHECK_STR(out.buf, want);
    free(want);
    args_release(&a);

    /* An error from the file comes back as it is. */
    out.n = 0;
    out.buf[0] = '\0';
    args_init(&a, run, NULL);
    args_set_kv(&a, "dry_run=true", &err);
    CHECK(args_set(&a, command_option(run, "file"), path, &err) == GR_OK);
    CHECK(args_set(&a, command_option(run, "set"), "foo.x=1", &err) == GR_OK);
    CHECK(cmd_run(&ctx, &a, &err) == GR_EUSAGE);
    want = xasprintf("--set foo.x=1: no step 'foo' in %s", path);
    CHECK_STR(err.msg, want);
    CHECK_STR(out.buf, "");
    free(want);
    args_release(&a);
    free(dir);
    free(path);
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
test_run(void)
{
    /* In the build tree: tests write only there ('make clean' removes
     * tests/tmp-* left by a crash). */
    char tmp[] = "tests/tmp-session.XXXXXX";
    struct gr_error err = { 0 };
    if (fs_mkdirs("tests", &err) != GR_OK || !mkdtemp(tmp)) {
        CHECK_MSG(0, "mkdtemp failed");
        return;
    }
    char *file = xasprintf("%s/sub/run.yaml", tmp);
    char *sub = xasprintf("%s/sub", tmp);
    CHECK(fs_mkdirs(sub, &err) == GR_OK);
    /* workspace: is relative to the current folder, not to run.yaml's */
    char *text = xasprintf("garage: 1\nworkspace: %s/ws\nseed: 42\nsteps:\n"
                           "  - status: {}\n"
                           "  - info: { checkpoint: missing.ckpt }\n", tmp);
    CHECK(fs_write_atomic(file, text, strlen(text), &err) == GR_OK);

    struct session s;
    enum gr_status rc = session_load(&s, file, NULL, 0, &err);
    CHECK_MSG(rc == GR_OK, "%s", err.msg);
    if (rc == GR_OK) {
        struct capture notes = { .n = 0 }, out = { .n = 0 };
        struct gr_metrics m;
        metrics_init(&m, capture_note, &notes, 0);
        struct gr_ctx ctx = { .metrics = &m, .write = capture_write, .wctx = &out };
        rc = session_run(&s, &ctx, &err);
        CHECK(rc != GR_OK);
        char *prefix = xasprintf("%s:6: step 2 'info': ", file);
        CHECK_MSG(!strncmp(err.msg, prefix, strlen(prefix)), "got: %s", err.msg);
        free(prefix);
        CHECK(ctx.ws == NULL);                  /* restored */
        char *want = xasprintf("created a garage workspace in %s/ws (seed 42)\n"
                               "step 1/2: status\nstep 2/2: info\n", tmp);
        CHECK_STR(notes.buf, want);
        free(want);

        char *wsdir = xasprintf("%s/ws", tmp);
        struct workspace ws = { 0 };
        rc = workspace_open(&ws, wsdir, &err);
        CHECK_MSG(rc == GR_OK, "%s", err.msg);
        if (rc == GR_OK) {
            CHECK_EQ_INT(ws.seed, 42);
            workspace_release(&ws);
        }
        free(wsdir);

        /* -C wins over workspace:, and an open workspace is reused:
         * run only the status step. */
        char *other = xasprintf("%s/other", tmp);
        notes.n = 0;
        notes.buf[0] = '\0';
        ctx.dir = other;
        s.nsteps = 1;
        rc = session_run(&s, &ctx, &err);
        CHECK_MSG(rc == GR_OK, "%s", err.msg);
        want = xasprintf("created a garage workspace in %s (seed 42)\n"
                         "step 1/1: status\n", other);
        CHECK_STR(notes.buf, want);
        free(want);
        s.nsteps = 2;
        free(other);
        metrics_release(&m);
        session_release(&s);
    }

    /* A --set path is relative to the current folder, not the session's. */
    char *valid = fixture("valid.yaml");
    char *set = xasprintf("corpus.add=%s", file);
    char *const sets[] = { set };
    rc = session_load(&s, valid, sets, 1, &err);
    CHECK_MSG(rc == GR_OK, "%s", err.msg);
    if (rc == GR_OK) {
        char *const *list;
        CHECK_EQ_INT(args_list(&s.steps[0].args, "add", &list), 1);
        CHECK_STR(list[0], file);
        session_release(&s);
    }
    free(set);
    free(valid);
    free(text);
    free(sub);
    free(file);
    nftw(tmp, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static void
touch(const char *dir, const char *rel, const char *text)
{
    char *p = fs_join(dir, rel);
    struct gr_error err;
    CHECK_MSG(fs_write_atomic(p, text, strlen(text), &err) == GR_OK, "%s", err.msg);
    free(p);
}

static void
test_when_missing(void)
{
    char *path = fixture("wm-all.yaml");
    struct session s;
    struct gr_error err = { 0 };
    enum gr_status rc = session_load(&s, path, NULL, 0, &err);
    CHECK_MSG(rc == GR_OK, "%s", err.msg);
    if (rc == GR_OK) {
        static const int want[] = { 1, 1, 1, 1, 1, 0, 1, 0 };
        CHECK_EQ_INT(s.nsteps, 8);
        for (size_t i = 0; i < s.nsteps && i < 8; i++)
            CHECK_EQ_INT(s.steps[i].when_missing, want[i]);
        session_release(&s);
    }
    free(path);

    /* What counts as a step's output, in a workspace made by hand
     * (tests/cli-session.sh runs the real stages). */
    char tmp[] = "tests/tmp-session-wm.XXXXXX";
    if (fs_mkdirs("tests", &err) != GR_OK || !mkdtemp(tmp)) {
        CHECK_MSG(0, "mkdtemp failed");
        return;
    }
    char *dir = fs_join(tmp, "ws");
    struct workspace ws = { 0 };
    CHECK(workspace_init(dir, 1, &err) == GR_OK);
    CHECK(workspace_open(&ws, dir, &err) == GR_OK);
    const struct gr_command *corpus = command_find("corpus"),
                            *tok = command_find("tokenizer"),
                            *model = command_find("model"),
                            *pre = command_find("pretrain"),
                            *sample = command_find("sample"),
                            *status = command_find("status");
    struct gr_args a;
    args_init(&a, pre, NULL);
    CHECK(!session_step_done(&ws, corpus, NULL));
    CHECK(!session_step_done(&ws, tok, NULL));
    CHECK(!session_step_done(&ws, model, NULL));
    CHECK(!session_step_done(&ws, pre, &a));
    CHECK_STR(session_next_stage(&ws), "corpus");
    touch(dir, "tokenizer.bin", "x");
    CHECK(!session_step_done(&ws, tok, NULL));      /* no shard yet */
    touch(dir, "corpus/train.tok", "x");
    CHECK(session_step_done(&ws, tok, NULL));
    touch(dir, "checkpoints/base-000000.ckpt", "not really");
    CHECK(session_step_done(&ws, model, NULL));
    CHECK(!session_step_done(&ws, pre, &a));        /* unreadable: run it */
    CHECK(!session_step_done(&ws, sample, NULL));   /* never skipped */
    CHECK(!session_step_done(&ws, status, NULL));
    CHECK_STR(session_next_stage(&ws), "corpus");
    args_release(&a);
    workspace_release(&ws);
    nftw(tmp, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    free(dir);
}

/* Steps written by session_step_yaml load back as the same values. */
static void
test_save(void)
{
    char tmp[] = "tests/tmp-session-save.XXXXXX";
    struct gr_error err = { 0 };
    if (fs_mkdirs("tests", &err) != GR_OK || !mkdtemp(tmp)) {
        CHECK_MSG(0, "mkdtemp failed");
        return;
    }
    char cwd[4096];
    CHECK(getcwd(cwd, sizeof cwd) != NULL);
    const struct gr_command *pre = command_find("pretrain"), *sample = command_find("sample"),
                            *corpus = command_find("corpus"), *status = command_find("status"),
                            *tok = command_find("tokenizer");
    struct gr_args a[3], q;
    char *fort = fixture("fortunes.txt");
    args_init(&a[0], corpus, NULL);
    CHECK(args_set_kv(&a[0], "add=tests/../tests", &err) == GR_OK);   /* relative */
    CHECK(args_set(&a[0], command_option(corpus, "add"), fort, &err) == GR_OK);
    CHECK(args_set_kv(&a[0], "format=fortune", &err) == GR_OK);
    args_init(&a[1], pre, NULL);
    CHECK(args_set_kv(&a[1], "steps=7", &err) == GR_OK);
    CHECK(args_set_kv(&a[1], "lr=0.30000000000000004", &err) == GR_OK);
    CHECK(args_set_kv(&a[1], "resume=true", &err) == GR_OK);
    args_init(&a[2], sample, NULL);
    CHECK(args_set_kv(&a[2], "prompt=say \"hi\"\\ $HOME ${X}\n\tdone", &err) == GR_OK);
    CHECK(args_set_kv(&a[2], "seed=3", &err) == GR_OK);

    char *y0 = session_step_yaml(&a[0], 42);
    char *want = xasprintf("  - corpus: { add: [\"%s/tests/../tests\", \"%s\"], "
                           "format: \"fortune\" }\n", cwd, fort);
    CHECK_STR(y0, want);
    free(want);
    char *y1 = session_step_yaml(&a[1], 42);
    CHECK_STR(y1, "  - pretrain: { steps: 7, lr: 0.30000000000000004, resume: true, "
              "seed: 42 }\n");
    char *y2 = session_step_yaml(&a[2], 42);
    CHECK_STR(y2, "  - sample: { prompt: \"say \\\"hi\\\"\\\\ $$HOME $${X}\\n\\tdone\", "
              "seed: 3 }\n");
    args_init(&q, status, NULL);
    char *y3 = session_step_yaml(&q, 42);
    CHECK_STR(y3, "  - status: {}\n");

    char *steps = xasprintf("%s%s%s%s", y0, y1, y2, y3);
    char *file = xasprintf("%s/saved.yaml", tmp);
    CHECK(session_write(file, 42, "", &err) == GR_EINPUT);
    CHECK(session_write(file, 42, steps, &err) == GR_OK);
    struct session s;
    enum gr_status rc = session_load(&s, file, NULL, 0, &err);
    CHECK_MSG(rc == GR_OK, "%s", err.msg);
    if (rc == GR_OK) {
        CHECK_EQ_INT(s.seed, 42);
        CHECK(s.workspace == NULL);
        CHECK_EQ_INT(s.nsteps, 4);
        char *const *list;
        CHECK_EQ_INT(args_list(&s.steps[0].args, "add", &list), 2);
        char *abs = xasprintf("%s/tests/../tests", cwd);
        CHECK_STR(list[0], abs);
        CHECK_STR(list[1], fort);
        free(abs);
        CHECK_EQ_INT(args_int(&s.steps[1].args, "steps"), 7);
        CHECK(args_float(&s.steps[1].args, "lr") == 0.30000000000000004);
        CHECK(args_bool(&s.steps[1].args, "resume"));
        CHECK_EQ_INT(args_int(&s.steps[1].args, "seed"), 42);
        CHECK_STR(args_str(&s.steps[2].args, "prompt"), "say \"hi\"\\ $HOME ${X}\n\tdone");
        CHECK_EQ_INT(args_int(&s.steps[2].args, "seed"), 3);
        session_release(&s);
    }

    /* what save-session leaves out */
    CHECK(session_step_changes_state(&a[0]));
    CHECK(session_step_changes_state(&a[1]));
    CHECK(!session_step_changes_state(&a[2]));      /* sample */
    CHECK(!session_step_changes_state(&q));         /* status */
    struct gr_args c, t;
    args_init(&c, corpus, NULL);
    args_set_kv(&c, "info=true", &err);
    CHECK(!session_step_changes_state(&c));
    args_set_kv(&c, "clear=true", &err);
    CHECK(session_step_changes_state(&c));
    args_release(&c);
    args_init(&t, tok, NULL);
    CHECK(session_step_changes_state(&t));
    args_set_kv(&t, "show=hello", &err);
    CHECK(!session_step_changes_state(&t));
    args_release(&t);
    args_init(&t, command_find("help"), NULL);
    CHECK(!session_step_changes_state(&t));          /* not a session step */
    args_release(&t);

    for (int i = 0; i < 3; i++)
        args_release(&a[i]);
    args_release(&q);
    free(y0);
    free(y1);
    free(y2);
    free(y3);
    free(steps);
    free(file);
    free(fort);
    nftw(tmp, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

int
main(void)
{
    setenv("GARAGE_TEST_WORD", "hello", 1);
    unsetenv("GARAGE_TEST_UNSET");
    test_valid();
    test_errors();
    test_sets();
    test_dry_run();
    test_run();
    test_include();
    test_env();
    test_when_missing();
    test_save();
    return check_exit();
}
