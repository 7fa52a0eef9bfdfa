/* tests/test-rankings.c: the label format (parsing, pairs, ties,
 * ratings, written answers, bad and torn lines, appends) and the rule
 * labeler. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/fsio.h"
#include "base/xalloc.h"
#include "check.h"
#include "stages/rank.h"
#include "text/rankings.h"

static int
parse(const char *text, struct ranking *r)
{
    json_error_t je;
    json_t *o = json_loads(text, 0, &je);
    char why[JSONL_REASON];
    int rc = o ? ranking_parse(o, r, why) : -1;
    if (rc)
        fprintf(stderr, "(parse: %s)\n", o ? why : je.text);
    json_decref(o);
    return rc;
}

/* Pairs of r as "w>l w>l ..." */
static char *
pairs_text(const struct ranking *r)
{
    struct rank_pair *p;
    size_t n = ranking_pairs(r, &p);
    char *s = xstrdup("");
    for (size_t i = 0; i < n; i++) {
        char *t = xasprintf("%s%s%d>%d", s, i ? " " : "", p[i].win, p[i].lose);
        free(s);
        s = t;
    }
    free(p);
    return s;
}

static void
check_pairs(const char *line, const char *want)
{
    struct ranking r;
    CHECK_MSG(parse(line, &r) == 0, "%s", line);
    char *got = pairs_text(&r);
    CHECK_STR(got, want);
    free(got);
    ranking_release(&r);
}

static void
test_pairs(void)
{
    check_pairs("{\"prompt\":\"p\",\"answers\":[\"a\",\"b\",\"c\"],\"order\":[2,0,1]}",
                "2>0 2>1 0>1");
    /* ties: no pair inside a group */
    check_pairs("{\"prompt\":\"p\",\"answers\":[\"a\",\"b\",\"c\",\"d\"],\"order\":[3,0,1,2],"
                "\"ties\":[[0,1]]}", "3>0 3>1 3>2 0>2 1>2");
    /* a written answer (candidate 2) beats each sampled one */
    check_pairs("{\"prompt\":\"p\",\"answers\":[\"a\",\"b\"],\"order\":[1,0],\"better\":\"B\"}",
                "2>0 2>1 1>0");
    check_pairs("{\"prompt\":\"p\",\"answers\":[\"a\",\"b\"],\"order\":[],\"all_bad\":true,"
                "\"better\":\"B\"}", "2>0 2>1");
    check_pairs("{\"prompt\":\"p\",\"answers\":[\"a\",\"b\"],\"order\":[],\"all_bad\":true}", "");
    check_pairs("{\"prompt\":\"p\",\"answers\":[\"a\",\"b\"],\"order\":[],\"skipped\":true}", "");
    /* ratings without an order: the order follows, equal ratings tie */
    check_pairs("{\"prompt\":\"p\",\"answers\":[\"a\",\"b\",\"c\",\"d\"],\"ratings\":[3,5,3,null]}",
                "1>0 1>2 1>3 0>3 2>3");
}

static void
check_bad(const char *line, const char *why_part)
{
    struct ranking_set s;
    struct ranking_bad *bad;
    size_t nbad;
    rankings_init(&s);
    char *buf = xasprintf("%s\n", line);
    rankings_parse_buf(buf, strlen(buf), &s, &bad, &nbad);
    CHECK_EQ_INT(s.n, 0);
    CHECK_EQ_INT(nbad, 1);
    if (nbad == 1)
        CHECK_MSG(strstr(bad[0].why, why_part) != NULL, "'%s' lacks '%s'", bad[0].why,
                  why_part);
    free(bad);
    free(buf);
    rankings_release(&s);
}

static void
test_bad_lines(void)
{
    check_bad("{\"answers\":[\"a\",\"b\"],\"order\":[0,1]}", "no field 'prompt'");
    check_bad("{\"prompt\":\"p\",\"order\":[0,1]}", "no field 'answers'");
    check_bad("{\"prompt\":\"p\",\"answers\":[\"a\",\"b\"],\"order\":[0,2]}", "names answer 2");
    check_bad("{\"prompt\":\"p\",\"answers\":[\"a\",\"b\"],\"order\":[0,0]}", "twice");
    check_bad("{\"prompt\":\"p\",\"answers\":[\"a\",\"b\",\"c\"],\"order\":[0,1]}", "ranks 2 answers");
    check_bad("{\"prompt\":\"p\",\"answers\":[\"a\",\"b\"]}", "no 'order'");
    check_bad("{\"prompt\":\"p\",\"answers\":[\"a\",\"b\"],\"order\":[0,1],\"ratings\":[9,1]}",
              "rating 0");
    check_bad("{\"prompt\":\"p\",\"answers\":[\"a\",\"b\"],\"order\":[0,1],\"ties\":[[0]]}",
              "group of one");
    check_bad("{\"prompt\":\"p\",\"answers\":[1,\"b\"],\"order\":[0,1]}", "answer 0 is a number");
    check_bad("[1,2]", "expected a JSON object");
    check_bad("{\"prompt\": ", "");

    /* good, bad, good, then a torn last line: the bad one is named with
     * its line number, the torn one is not reported */
    const char *text =
        "{\"prompt\":\"p1\",\"answers\":[\"a\",\"b\"],\"order\":[1,0]}\n"
        "not json\n"
        "\n"
        "{\"prompt\":\"p2\",\"answers\":[\"a\",\"b\"],\"order\":[0,1]}\n"
        "{\"prompt\":\"p3\",\"answ";
    struct ranking_set s;
    struct ranking_bad *bad;
    size_t nbad;
    rankings_init(&s);
    rankings_parse_buf(text, strlen(text), &s, &bad, &nbad);
    CHECK_EQ_INT(s.n, 2);
    CHECK_EQ_INT(nbad, 1);
    if (nbad)
        CHECK_EQ_INT(bad[0].line, 2);
    if (s.n == 2) {
        CHECK_STR(s.v[1].prompt, "p2");
        CHECK_EQ_INT(s.v[1].line, 4);
    }
    free(bad);
    rankings_release(&s);
}

static void
test_round_trip(void)
{
    struct ranking r;
    const char *in = "{\"prompt\":\"why \\u00e9?\",\"answers\":[\"a\\nb\",\"c\",\"d\"],"
                     "\"order\":[2,1,0],\"ties\":[[1,0]],\"ratings\":[1,1,4],"
                     "\"better\":\"mine\",\"labeler\":\"human\",\"checkpoint\":"
                     "\"checkpoints/base-000010.ckpt\",\"time\":\"2024-01-01T00:00:00Z\"}";
    CHECK(parse(in, &r) == 0);
    char *line = ranking_to_line(&r);
    CHECK(line[strlen(line) - 1] == '\n');
    struct ranking r2;
    CHECK(parse(line, &r2) == 0);
    char *a = pairs_text(&r), *b = pairs_text(&r2);
    CHECK_STR(a, b);
    CHECK_STR(a, "3>0 3>1 3>2 2>1 2>0");
    CHECK_STR(r2.prompt, "why \xc3\xa9?");
    CHECK_STR(r2.answers[0], "a\nb");
    CHECK_STR(r2.better, "mine");
    CHECK_STR(r2.labeler, "human");
    CHECK(r2.ratings && r2.ratings[2] == 4);
    free(a);
    free(b);
    free(line);
    ranking_release(&r);
    ranking_release(&r2);

    /* a rule label keeps its rule through a rewrite; a rule that is not
     * an object is a bad line */
    CHECK(parse("{\"prompt\":\"p\",\"answers\":[\"a\",\"b\"],\"order\":[1,0],"
                "\"labeler\":\"rule\",\"rule\":{\"prefer\":[\"cat\"],"
                "\"target_length\":80}}", &r) == 0);
    line = ranking_to_line(&r);
    CHECK(strstr(line, "\"rule\":{\"prefer\":[\"cat\"],\"target_length\":80}") != NULL);
    free(line);
    ranking_release(&r);
    CHECK(parse("{\"prompt\":\"p\",\"answers\":[\"a\",\"b\"],\"order\":[1,0],"
                "\"rule\":\"cat\"}", &r) == -1);

    /* appends after a torn last line start on a fresh line */
    char path[] = "/tmp/test-rankings-XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    const char *torn = "{\"prompt\":\"p0\",\"answers\":[\"a\",\"b\"],\"order\":[0,1]}\n{\"pro";
    CHECK(write(fd, torn, strlen(torn)) == (ssize_t)strlen(torn));
    close(fd);
    CHECK(parse("{\"prompt\":\"p1\",\"answers\":[\"x\",\"y\"],\"order\":[1,0]}", &r) == 0);
    struct gr_error err;
    CHECK(rankings_append(path, &r, &err) == GR_OK);
    CHECK(rankings_append(path, &r, &err) == GR_OK);
    ranking_release(&r);
    struct ranking_set s;
    struct ranking_bad *bad;
    size_t nbad;
    rankings_init(&s);
    CHECK(rankings_read_file(path, &s, &bad, &nbad, &err) == GR_OK);
    CHECK_EQ_INT(s.n, 3);
    CHECK_EQ_INT(nbad, 1);          /* the torn line, no longer last */
    free(bad);
    rankings_release(&s);
    unlink(path);
}

static void
test_rule(void)
{
    char *prefer[] = { "cat", "big dog" }, *avoid[] = { "rain" }, *must[] = { "the" };
    struct rank_rule rule = { .prefer = prefer, .nprefer = 2 };
    CHECK_NEAR(rank_rule_score(&rule, "The CAT sat"), 1, 0);
    CHECK_NEAR(rank_rule_score(&rule, "a category"), 0, 0);        /* whole words */
    CHECK_NEAR(rank_rule_score(&rule, "cat, big dog!"), 2, 0);
    CHECK_NEAR(rank_rule_score(&rule, "cat cat cat"), 1, 0);       /* once per word */
    rule.avoid = avoid;
    rule.navoid = 1;
    CHECK_NEAR(rank_rule_score(&rule, "cat in the rain"), 0, 0);
    rule.must = must;
    rule.nmust = 1;
    CHECK_NEAR(rank_rule_score(&rule, "cat"), -99, 0);
    rule.nmust = 0;
    rule.navoid = 0;
    rule.nprefer = 0;
    rule.target_length = 10;
    CHECK_NEAR(rank_rule_score(&rule, "0123456789"), 0, 1e-12);
    CHECK_NEAR(rank_rule_score(&rule, "012345678"), -0.1, 1e-12);
    CHECK_NEAR(rank_rule_score(&rule, "01234"), -0.5, 1e-12);
    CHECK_NEAR(rank_rule_score(&rule, "0123456789012345678901234"), -1, 1e-12);
    CHECK_NEAR(rank_rule_score(&rule, "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"), -0.5, 1e-12);

    /* sorted best first, stable, equal scores tied */
    rule.target_length = 0;
    rule.prefer = prefer;
    rule.nprefer = 1;
    const char *ans[] = { "no", "a cat", "nothing", "cat again", "dog" };
    int order[5], group[5];
    rank_rule_order(&rule, ans, 5, order, group);
    int want[5] = { 1, 3, 0, 2, 4 };
    for (int i = 0; i < 5; i++)
        CHECK_EQ_INT(order[i], want[i]);
    CHECK(group[1] >= 0 && group[1] == group[3]);
    CHECK(group[0] >= 0 && group[0] == group[2] && group[2] == group[4]);
    CHECK(group[0] != group[1]);
}

int
main(void)
{
    test_pairs();
    test_bad_lines();
    test_round_trip();
    test_rule();
    return check_exit();
}
