/* tests/test-tune.c: the warnings of a tuning run (stages/tune.h): each
 * condition raises its bit, is announced once, and a KL warning is
 * announced again when it comes back after a while. */
#include <string.h>

#include "check.h"
#include "stages/tune.h"

/* The warnings: each condition raises its bit and is announced once. */
static void
test_watch(void)
{
    struct tune_watch w;
    memset(&w, 0, sizeof w);
    unsigned fresh, bits;
    for (int i = 0; i < TUNE_BASE_ITERS; i++) {
        bits = tune_watch_update(&w, 0.5, 12, 0.0, 1.0, 1, 10, &fresh);
        CHECK_EQ_INT(bits, 0);
    }
    CHECK_NEAR(w.base_len, 10, 1e-12);
    bits = tune_watch_update(&w, -0.5, 12, 0.0, 1.0, 1, 10, &fresh);
    CHECK_EQ_INT(bits, TUNE_WARN_KL_NEGATIVE);
    CHECK_EQ_INT(fresh, TUNE_WARN_KL_NEGATIVE);
    bits = tune_watch_update(&w, -0.5, 12, 0.0, 1.0, 1, 10, &fresh);
    CHECK_EQ_INT(fresh, 0);             /* announced already */
    tune_watch_update(&w, 0.5, 12, 0.0, 1.0, 1, 10, &fresh);
    bits = tune_watch_update(&w, 13, 12, 0.0, 1.0, 1, 10, &fresh);
    CHECK_EQ_INT(bits, TUNE_WARN_KL_BOUND);
    CHECK_EQ_INT(fresh, TUNE_WARN_KL_BOUND);
    bits = tune_watch_update(&w, 13, 0, 0.0, 1.0, 1, 10, &fresh);
    CHECK_EQ_INT(bits, 0);              /* kl_bound 0: never */
    bits = tune_watch_update(&w, -0.5, 12, 0.0, 1.0, 1, 10, &fresh);
    CHECK_EQ_INT(fresh, 0);             /* back too soon to say it again */
    for (int i = 0; i < TUNE_BASE_ITERS; i++)
        tune_watch_update(&w, 0.5, 12, 0.0, 1.0, 1, 10, &fresh);
    bits = tune_watch_update(&w, -0.5, 12, 0.0, 1.0, 1, 10, &fresh);
    CHECK_EQ_INT(fresh, TUNE_WARN_KL_NEGATIVE);     /* it came back later */
    /* the reward rises while the rule falls */
    unsigned seen = 0;
    for (int i = 0; i < 10; i++)
        seen |= tune_watch_update(&w, 1, 12, 2.0, -1.0, 1, 10, &fresh) & fresh;
    CHECK_EQ_INT(seen, TUNE_WARN_GAMED);
    /* without a rule, no such warning */
    struct tune_watch w2;
    memset(&w2, 0, sizeof w2);
    seen = 0;
    for (int i = 0; i < 15; i++)
        seen |= tune_watch_update(&w2, 1, 12, i < 5 ? 0.0 : 2.0, 0, 0, 10, &fresh);
    CHECK_EQ_INT(seen, 0);
    /* answers grow from 10 to 30 tokens */
    for (int i = 0; i < 10; i++)
        seen |= tune_watch_update(&w2, 1, 12, 2.0, 0, 0, 30, &fresh) & fresh;
    CHECK_EQ_INT(seen, TUNE_WARN_LENGTH);
    /* a small model's short answers: 2 -> 5 tokens is not a drift */
    memset(&w2, 0, sizeof w2);
    seen = 0;
    for (int i = 0; i < 20; i++)
        seen |= tune_watch_update(&w2, 1, 12, 0, 0, 0, i < 5 ? 2 : 5, &fresh);
    CHECK_EQ_INT(seen, 0);
}

int
main(void)
{
    test_watch();
    return check_exit();
}
