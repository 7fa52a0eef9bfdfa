/* tests/test-labels.c: demonstrations in JSON Lines.  Both import formats
 * (several turns too), every reason a line is refused with its line
 * number, a torn last line, appends that start on a fresh line, export
 * round trips, and removing one record. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/fsio.h"
#include "base/xalloc.h"
#include "check.h"
#include "text/labels.h"

static const char *dir = "tests/tmp-test-labels";

static char *
tmp_path(const char *name)
{
    return xasprintf("%s/%s", dir, name);
}

static void
put(const char *path, const char *text)
{
    struct gr_error err;
    CHECK(fs_write_atomic(path, text, strlen(text), &err) == GR_OK);
}

static char *
get(const char *path)
{
    char *buf = NULL;
    size_t n;
    struct gr_error err;
    CHECK(fs_read_all(path, &buf, &n, &err) == GR_OK);
    return buf;
}

static void
test_formats(void)
{
    static const char text[] =
        "{\"prompt\": \"Hi\", \"completion\": \"Hello!\"}\n"
        "\n"
        "{\"messages\": [{\"role\": \"user\", \"content\": \"One?\"}, "
        "{\"role\": \"assistant\", \"content\": \"Yes.\"}, "
        "{\"role\": \"user\", \"content\": \"Two?\"}, "
        "{\"role\": \"assistant\", \"content\": \"Also \\u00e9.\", \"extra\": 1}]}\n"
        "{\"messages\": [{\"role\": \"user\", \"content\": \"a\\nb\"}, "
        "{\"role\": \"assistant\", \"content\": \"c\"}], \"id\": 7}\n";
    struct demo_set s;
    struct labels_bad *bad = NULL;
    size_t nbad = 0;
    demos_init(&s);
    demos_parse_buf(text, sizeof text - 1, &s, &bad, &nbad);
    CHECK_EQ_INT(nbad, 0);
    CHECK_EQ_INT(s.n, 3);
    if (s.n == 3) {
        CHECK_EQ_INT(s.v[0].nturns, 2);
        CHECK_EQ_INT(s.v[0].line, 1);
        CHECK_STR(s.v[0].turns[0].text, "Hi");
        CHECK_EQ_INT(s.v[0].turns[0].role, CHAT_USER);
        CHECK_STR(s.v[0].turns[1].text, "Hello!");
        CHECK_EQ_INT(s.v[0].turns[1].role, CHAT_ASSISTANT);
        CHECK_EQ_INT(s.v[1].nturns, 4);
        CHECK_EQ_INT(s.v[1].line, 3);
        CHECK_STR(s.v[1].turns[2].text, "Two?");
        CHECK_STR(s.v[1].turns[3].text, "Also \xc3\xa9.");
        CHECK_EQ_INT(s.v[1].turns[3].len, 8);
        CHECK_STR(s.v[2].turns[0].text, "a\nb");
        CHECK_EQ_INT(s.v[2].line, 4);

        /* the store's line, and the same demonstration read back */
        char *line = demo_to_line(&s.v[0], 0);
        CHECK_STR(line, "{\"messages\":[{\"role\":\"user\",\"content\":\"Hi\"},"
                  "{\"role\":\"assistant\",\"content\":\"Hello!\"}]}\n");
        free(line);
        line = demo_to_line(&s.v[0], 1);
        CHECK_STR(line, "{\"prompt\":\"Hi\",\"completion\":\"Hello!\"}\n");
        free(line);
        CHECK(demo_to_line(&s.v[1], 1) == NULL);       /* several turns */
        CHECK(!demo_equal(&s.v[0], &s.v[1]));
        CHECK(demo_hash(&s.v[0]) != demo_hash(&s.v[1]));

        struct demo d;
        demo_from_pair(&d, "Hi", "Hello!");
        CHECK(demo_equal(&d, &s.v[0]));
        CHECK(demo_hash(&d) == demo_hash(&s.v[0]));
        demo_release(&d);
    }
    demos_release(&s);
    free(bad);
}

/* Each bad line gives its number and this reason. */
static const struct {
    const char *line, *why;
} bad_lines[] = {
    { "not json", "'[' or '{' expected near 'not'" },
    { "[1, 2]", "expected a JSON object, got an array" },
    { "{\"prompt\": \"x\"}", "no field 'completion'" },
    { "{\"completion\": \"x\"}", "no field 'prompt'" },
    { "{\"prompt\": 3, \"completion\": \"x\"}", "field 'prompt' is a number, expected a string" },
    { "{\"prompt\": \"  \", \"completion\": \"x\"}", "field 'prompt' is empty" },
    { "{\"prompt\": \"x\", \"completion\": \"\"}", "field 'completion' is empty" },
    { "{\"prompt\": \"x\\u0000\", \"completion\": \"y\"}", "field 'prompt' contains a NUL character" },
    { "{\"text\": \"x\"}", "expected fields 'prompt' and 'completion', or 'messages'" },
    { "{\"messages\": {}}", "field 'messages' is an object, expected an array" },
    { "{\"messages\": []}", "field 'messages' is empty" },
    { "{\"messages\": [\"hi\"]}", "message 1 is a string, expected an object" },
    { "{\"messages\": [{\"role\": \"system\", \"content\": \"x\"}]}",
      "message 1: role 'system' is not supported (use 'user' and 'assistant')" },
    { "{\"messages\": [{\"role\": \"assistant\", \"content\": \"x\"}]}",
      "message 1: expected the user's turn, got the assistant's (turns alternate, starting with the user's)" },
    { "{\"messages\": [{\"role\": \"user\", \"content\": \"x\"}, {\"role\": \"user\", \"content\": \"y\"}]}",
      "message 2: expected the assistant's turn, got the user's (turns alternate, starting with the user's)" },
    { "{\"messages\": [{\"role\": \"user\"}, {\"role\": \"assistant\", \"content\": \"y\"}]}",
      "message 1: no field 'content'" },
    { "{\"messages\": [{\"role\": \"user\", \"content\": \"x\"}, {\"role\": \"assistant\", \"content\": \" \"}]}",
      "message 2 is empty" },
    { "{\"messages\": [{\"role\": \"user\", \"content\": \"x\"}]}",
      "the last message is the user's: a demonstration ends with the assistant's answer" },
    { NULL, NULL }
};

static void
test_bad_lines(void)
{
    /* good line, then each bad one, then a good one, all newline-ended */
    char *text = xstrdup("{\"prompt\": \"a\", \"completion\": \"b\"}\n");
    size_t nb = 0;
    for (; bad_lines[nb].line; nb++) {
        char *t = xasprintf("%s%s\n", text, bad_lines[nb].line);
        free(text);
        text = t;
    }
    char *t = xasprintf("%s{\"prompt\": \"c\", \"completion\": \"d\"}\n", text);
    free(text);
    text = t;

    struct demo_set s;
    struct labels_bad *bad = NULL;
    size_t nbad = 0;
    demos_init(&s);
    demos_parse_buf(text, strlen(text), &s, &bad, &nbad);
    CHECK_EQ_INT(s.n, 2);
    CHECK_EQ_INT(nbad, nb);
    for (size_t i = 0; i < nbad && i < nb; i++) {
        CHECK_EQ_INT(bad[i].line, i + 2);
        CHECK_STR(bad[i].why, bad_lines[i].why);
    }
    if (s.n == 2)
        CHECK_EQ_INT(s.v[1].line, nb + 2);
    demos_release(&s);
    free(bad);
    free(text);
}

static void
test_torn_and_append(void)
{
    char *store = tmp_path("store.jsonl");
    struct gr_error err;
    struct demo d, e;
    demo_from_pair(&d, "first", "one");
    demo_from_pair(&e, "second", "two");

    /* a crash left half a record: it is skipped, not reported */
    put(store, "{\"messages\":[{\"role\":\"user\",\"content\":\"zero\"},"
        "{\"role\":\"assistant\",\"content\":\"0\"}]}\n{\"messages\":[{\"ro");
    struct demo_set s;
    struct labels_bad *bad = NULL;
    size_t nbad = 0;
    demos_init(&s);
    CHECK(demos_read_file(store, 0, &s, &bad, &nbad, &err) == GR_OK);
    CHECK_EQ_INT(s.n, 1);
    CHECK_EQ_INT(nbad, 0);
    demos_release(&s);

    /* the next append starts a fresh line; the torn one is then reported */
    CHECK(demos_append(store, &d, &err) == GR_OK);
    CHECK(demos_append(store, &e, &err) == GR_OK);
    demos_init(&s);
    CHECK(demos_read_file(store, 0, &s, &bad, &nbad, &err) == GR_OK);
    CHECK_EQ_INT(s.n, 3);
    CHECK_EQ_INT(nbad, 1);
    if (nbad == 1)
        CHECK_EQ_INT(bad[0].line, 2);
    if (s.n == 3) {
        CHECK(demo_equal(&s.v[1], &d));
        CHECK_EQ_INT(s.v[1].line, 3);
        CHECK(demo_equal(&s.v[2], &e));
        CHECK_EQ_INT(s.v[2].line, 4);
    }
    free(bad);
    bad = NULL;
    nbad = 0;

    /* remove the torn line and the first record; the rest stays byte for byte */
    char *before = get(store);
    CHECK(labels_remove_line(store, 2, &err) == GR_OK);
    CHECK(labels_remove_line(store, 1, &err) == GR_OK);
    CHECK(labels_remove_line(store, 9, &err) == GR_EINPUT);
    char *after = get(store);
    char *tail = strstr(before, "{\"messages\":[{\"role\":\"user\",\"content\":\"first\"}");
    CHECK(tail && after && strcmp(after, tail) == 0);
    free(before);
    free(after);
    demos_release(&s);

    /* a missing store reads as empty only when allowed */
    char *none = tmp_path("none.jsonl");
    demos_init(&s);
    CHECK(demos_read_file(none, 1, &s, NULL, NULL, &err) == GR_OK);
    CHECK_EQ_INT(s.n, 0);
    CHECK(demos_read_file(none, 0, &s, NULL, NULL, &err) != GR_OK);
    CHECK(strstr(err.msg, "none.jsonl") != NULL);
    /* appending creates it */
    CHECK(demos_append(none, &d, &err) == GR_OK);
    char *one = get(none);
    CHECK_STR(one, "{\"messages\":[{\"role\":\"user\",\"content\":\"first\"},"
              "{\"role\":\"assistant\",\"content\":\"one\"}]}\n");
    free(one);
    free(none);

    demo_release(&d);
    demo_release(&e);
    free(store);
}

static void
test_export_round_trip(void)
{
    static const char text[] =
        "{\"prompt\": \"Tab\\there \\\"quoted\\\"\", \"completion\": \"\\u00fcber \\ud83d\\ude00\"}\n"
        "{\"messages\": [{\"role\": \"user\", \"content\": \"u1\"}, "
        "{\"role\": \"assistant\", \"content\": \"a1\\nline\"}, "
        "{\"role\": \"user\", \"content\": \"u2\"}, "
        "{\"role\": \"assistant\", \"content\": \"a2\"}]}\n";
    struct demo_set s, back;
    struct gr_error err;
    demos_init(&s);
    demos_init(&back);
    demos_parse_buf(text, sizeof text - 1, &s, NULL, NULL);
    CHECK_EQ_INT(s.n, 2);

    char *out = tmp_path("export.jsonl");
    CHECK(demos_write_file(out, &s, 0, &err) == GR_OK);
    CHECK(demos_read_file(out, 0, &back, NULL, NULL, &err) == GR_OK);
    CHECK_EQ_INT(back.n, s.n);
    for (size_t i = 0; i < s.n && i < back.n; i++)
        CHECK(demo_equal(&s.v[i], &back.v[i]));
    demos_release(&back);

    /* prompt/completion: refused for several turns, leaving no file */
    char *out2 = tmp_path("export2.jsonl");
    CHECK(demos_write_file(out2, &s, 1, &err) == GR_EINPUT);
    CHECK(strstr(err.msg, "demonstration 2 has 4 turns") != NULL);
    CHECK(!fs_exists(out2));
    s.n = 1;                            /* just the single-turn one */
    CHECK(demos_write_file(out2, &s, 1, &err) == GR_OK);
    s.n = 2;
    demos_init(&back);
    CHECK(demos_read_file(out2, 0, &back, NULL, NULL, &err) == GR_OK);
    CHECK_EQ_INT(back.n, 1);
    if (back.n == 1)
        CHECK(demo_equal(&s.v[0], &back.v[0]));
    char *raw = get(out2);
    CHECK(raw && strncmp(raw, "{\"prompt\":", 10) == 0);
    free(raw);
    demos_release(&back);
    demos_release(&s);
    free(out);
    free(out2);
}

static void
clean(int all)
{
    const char *files[] = { "store.jsonl", "none.jsonl", "export.jsonl",
                            "export2.jsonl", "full.jsonl", NULL };
    for (int i = 0; files[i]; i++) {
        char *p = tmp_path(files[i]);
        unlink(p);
        free(p);
    }
    if (all)
        rmdir(dir);
}

/* A disk that fills up in the middle of an append (here: a file size
 * limit, which fails the write the same way) leaves the file as it was,
 * whole lines only, and says so. */
static void
test_disk_full(void)
{
    char *store = tmp_path("full.jsonl");
    struct gr_error err;
    struct demo d, e;
    demo_from_pair(&d, "first", "one");
    demo_from_pair(&e, "a second demonstration, longer than the room left",
                   "so that its line is cut in the middle");
    unlink(store);
    CHECK(demos_append(store, &d, &err) == GR_OK);
    char *before = get(store);
    struct rlimit old, lim;
    CHECK(getrlimit(RLIMIT_FSIZE, &old) == 0);
    lim = old;
    lim.rlim_cur = strlen(before) + 20;
    void (*saved)(int) = signal(SIGXFSZ, SIG_IGN);
    CHECK(setrlimit(RLIMIT_FSIZE, &lim) == 0);
    enum gr_status rc = demos_append(store, &e, &err);
    /* and a file written whole (checkpoints, settings) is not replaced */
    char big[4096];
    memset(big, 'x', sizeof big);
    struct gr_error err2;
    enum gr_status rc2 = fs_write_atomic(store, big, sizeof big, &err2);
    CHECK(setrlimit(RLIMIT_FSIZE, &old) == 0);
    signal(SIGXFSZ, saved);
    CHECK(rc == GR_EIO);
    CHECK(strstr(err.msg, "append failed") != NULL);
    CHECK(rc2 == GR_EIO);
    CHECK(strstr(err2.msg, "full.jsonl: not saved, nothing was replaced") != NULL);
    char *after = get(store);
    CHECK_STR(after, before);
    free(after);
    free(before);
    demo_release(&d);
    demo_release(&e);
    free(store);
}

int
main(void)
{
    struct gr_error err;
    CHECK(fs_mkdirs(dir, &err) == GR_OK);
    clean(0);                   /* what a failed run left */
    test_formats();
    test_bad_lines();
    test_torn_and_append();
    test_export_round_trip();
    test_disk_full();
    int rc = check_exit();
    if (rc == 0)
        clean(1);
    return rc;
}
