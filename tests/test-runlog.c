/* tests/test-runlog.c: the TUI's reading of metrics logs (ui/tui/runlog.c).
 * The hand-written parser gives what jansson gives, line for line, on the
 * lines the metrics stream writes and on lines it must hand over (escapes,
 * UTF-8, nesting, duplicates, numbers out of range, broken JSON); the
 * choice of logs (all, newest, from the newest run begun at step 0) and
 * the reading of a log's tail; the metrics stream writes valid UTF-8 (so
 * JSON) whatever bytes a record's text holds. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "base/fsio.h"
#include "base/xalloc.h"
#include "../ui/tui/runlog.h"

static int
same_metric(const struct gr_metric *a, const struct gr_metric *b)
{
    if (strcmp(a->kind, b->kind) || a->n != b->n || strcmp(a->text, b->text))
        return 0;
    for (int i = 0; i < a->n; i++) {
        if (strcmp(a->keys[i], b->keys[i]))
            return 0;
        double x = a->vals[i], y = b->vals[i];
        if (isnan(x) ? !isnan(y) : memcmp(&x, &y, sizeof x) != 0)
            return 0;
    }
    return 1;
}

static void
check_line(const char *line, int want)
{
    struct gr_metric a, b;
    int ra = runlog_parse_line(line, &a), rb = runlog_parse_line_jansson(line, &b);
    if (ra != rb || ra != want || (ra && !same_metric(&a, &b))) {
        fprintf(stderr, "line: %s\n  hand %d, jansson %d, want %d\n", line, ra, rb, want);
        CHECK(0);
    }
}

static void
test_lines(void)
{
    /* as the metrics stream writes them */
    check_line("{\"kind\":\"train\",\"step\":1,\"steps\":60,\"loss\":6.26534081,\"lr\":1e-05,"
               "\"grad_norm\":1.31092143,\"tok_s\":33603.6348,\"flops\":3.09174946e+10,"
               "\"elapsed\":0.01523706,\"eta\":0.898950373}\n", 1);
    check_line("{\"kind\":\"eval\",\"step\":100,\"val_loss\":5.3301,\"val_bpb\":null}\n", 1);
    check_line("{\"kind\":\"note\",\"text\":\"pretraining ./checkpoints/base-000000.ckpt: 2 layers\"}", 1);
    check_line("{\"kind\":\"run\",\"steps\":60,\"start_step\":0,\"text\":\"pretrain objective=next\"}", 1);
    check_line("{\"kind\":\"x\",\"a\":-0,\"b\":-0.0,\"c\":0.5E-3,\"d\":123456789012345678,"
               "\"e\":true,\"f\":false,\"g\":\"other\",\"text\":7}", 1);
    check_line(" { \"kind\" : \"x\" , \"a\" : 1 } \r\n", 1);
    check_line("{\"kind\":\"a-very-long-kind-name-indeed\",\"a-very-long-key-name-that-is-cut\":1}", 1);
    /* handed to jansson */
    check_line("{\"kind\":\"sample\",\"text\":\"line\\none \\\"quoted\\\" \\u00e9\"}", 1);
    check_line("{\"kind\":\"note\",\"text\":\"caf\xc3\xa9\"}", 1);
    check_line("{\"kind\":\"x\",\"nested\":{\"a\":1},\"b\":[1,2],\"c\":2}", 1);
    check_line("{\"step\":1,\"kind\":\"late\"}", 1);
    check_line("{\"kind\":\"x\",\"a\":1,\"a\":2}", 1);
    check_line("{\"kind\":\"x\",\"big\":12345678901234567890}", 0);    /* too big */
    check_line("{\"kind\":\"x\",\"r\":1e999}", 0);                     /* overflow */
    check_line("{\"kind\":\"x\",\"lead\":012}", 0);
    check_line("{\"kind\":\"x\",\"hex\":0x10}", 0);
    check_line("{\"kind\":\"x\",\"a\":1.}", 0);
    check_line("{\"kind\":\"x\",\"a\":nan}", 0);
    check_line("{\"kind\":\"train\",\"step\":3,\"loss\":5.1", 0);         /* cut short */
    check_line("{\"kind\":\"x\",\"a\":1} trailing", 0);
    check_line("{\"kind\":3,\"a\":1}", 0);
    check_line("{\"a\":1}", 0);
    check_line("[1,2]", 0);
    check_line("", 0);
    check_line("{\"kind\":\"x\",\"bad\":\"\x01\"}", 0);
}

/* A model's answer cut inside a UTF-8 sequence, a stray continuation
 * byte, an overlong form and a surrogate: each bad byte is written as
 * U+FFFD, the good characters as they are, and jansson reads the line. */
static void
test_write_utf8(void)
{
    struct gr_metric rec;
    metric_begin(&rec, "tune_sample");
    metric_add(&rec, "iter", 3);
    metric_text(&rec, "%s", "caf\xc3\xa9 \x99 ok \xc0\xaf \xed\xa0\x80 end \xe2\x82");
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    CHECK(f != NULL);
    if (!f)
        return;
    metric_write_json(f, &rec);
    fclose(f);
    struct gr_metric a;
    CHECK(runlog_parse_line_jansson(buf, &a) == 1);
    CHECK_STR(a.text, "caf\xc3\xa9 \xef\xbf\xbd ok \xef\xbf\xbd\xef\xbf\xbd "
              "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd end \xef\xbf\xbd\xef\xbf\xbd");
    CHECK(metric_get(&a, "iter", 0) == 3);
    free(buf);
}

static char root[] = "/tmp/garage-test-runlog-XXXXXX";

static void
write_log(const char *name, const char *text)
{
    char *dir = fs_join(root, "logs");
    mkdir(dir, 0755);
    char *path = fs_join(dir, name);
    FILE *f = fopen(path, "w");
    CHECK(f != NULL);
    if (f) {
        fputs(text, f);
        fclose(f);
    }
    free(path);
    free(dir);
}

struct seen {
    int n;
    double steps[64];
};

static void
take(void *ctx, const struct gr_metric *m)
{
    struct seen *s = ctx;
    if (strcmp(m->kind, "train") == 0 && s->n < 64)
        s->steps[s->n++] = metric_get(m, "step", NAN);
}

static void
test_logs(void)
{
    CHECK(mkdtemp(root) != NULL);
    struct seen s = { 0 };
    CHECK(runlog_read(root, "pretrain", RUNLOG_ALL, take, &s) == 0);
    /* an old model's run, then a fresh run resumed once, and another
     * kind's log that shares the prefix's first letters */
    write_log("pretrain-20260101-000000.jsonl",
              "{\"kind\":\"run\",\"start_step\":0}\n{\"kind\":\"train\",\"step\":1}\n"
              "{\"kind\":\"train\",\"step\":2}\n");
    write_log("pretrain-20260102-000000.jsonl",
              "{\"kind\":\"note\",\"text\":\"new model\"}\n{\"kind\":\"run\",\"start_step\":0}\n"
              "{\"kind\":\"train\",\"step\":1}\n");
    write_log("pretrain-20260103-000000.jsonl",
              "{\"kind\":\"run\",\"start_step\":1}\n{\"kind\":\"train\",\"step\":2}\n"
              "{\"kind\":\"train\",\"step\":3}\n{\"kind\":\"train\",\"st");
    write_log("pretrainx-20260104-000000.jsonl", "{\"kind\":\"train\",\"step\":9}\n");

    memset(&s, 0, sizeof s);
    CHECK(runlog_read(root, "pretrain", RUNLOG_ALL, take, &s) == 9);
    CHECK(s.n == 5 && s.steps[0] == 1 && s.steps[2] == 1 && s.steps[4] == 3);
    memset(&s, 0, sizeof s);
    CHECK(runlog_read(root, "pretrain", RUNLOG_NEWEST, take, &s) == 3);
    CHECK(s.n == 2 && s.steps[0] == 2 && s.steps[1] == 3);
    memset(&s, 0, sizeof s);
    CHECK(runlog_read(root, "pretrain", RUNLOG_FRESH, take, &s) == 6);
    CHECK(s.n == 3 && s.steps[0] == 1 && s.steps[1] == 2 && s.steps[2] == 3);

    /* the tail: the records that begin in the last bytes, whole */
    const char *tail = "{\"kind\":\"train\",\"step\":2}\n{\"kind\":\"train\",\"step\":3}\n"
                       "{\"kind\":\"train\",\"st";
    memset(&s, 0, sizeof s);
    CHECK(runlog_read_tail(root, "pretrain", (long)strlen(tail), take, &s) == 2);
    CHECK(s.n == 2 && s.steps[0] == 2 && s.steps[1] == 3);
    memset(&s, 0, sizeof s);
    CHECK(runlog_read_tail(root, "pretrain", (long)strlen(tail) - 1, take, &s) == 1);
    CHECK(s.n == 1 && s.steps[0] == 3);
    memset(&s, 0, sizeof s);
    CHECK(runlog_read_tail(root, "pretrain", 1 << 20, take, &s) == 3);

    /* no fresh start at all: every log */
    write_log("sft-20260101-000000.jsonl", "{\"kind\":\"run\",\"start_step\":5}\n"
              "{\"kind\":\"train\",\"step\":6}\n");
    write_log("sft-20260102-000000.jsonl", "{\"kind\":\"train\",\"step\":7}\n");
    memset(&s, 0, sizeof s);
    CHECK(runlog_read(root, "sft", RUNLOG_FRESH, take, &s) == 3);
    CHECK(s.n == 2);

    char *cmd = xasprintf("rm -rf '%s'", root);
    CHECK(system(cmd) == 0);
    free(cmd);
}

int
main(void)
{
    test_lines();
    test_write_utf8();
    test_logs();
    return check_exit();
}
