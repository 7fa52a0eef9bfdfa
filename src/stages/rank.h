/* rank.h: the ranking step's parts that tests and other stages use: the
 * rule labeler, prompt files, and the label store's loading. */
#ifndef GR_STAGES_RANK_H
#define GR_STAGES_RANK_H

#include <stddef.h>

#include "app/command.h"
#include "app/workspace.h"
#include "text/rankings.h"

/* The rule labeler: a deterministic score per answer, for headless runs
 * and tests.  Words match case-insensitively as whole words (not inside
 * a longer word of letters and digits); a "word" may be a phrase.
 *
 *   score = + 1   for each prefer word the answer contains
 *           - 1   for each avoid word it contains
 *           - 100 for each must_contain word it lacks
 *           - min(1, |n - target_length| / target_length), rounded to
 *             tenths, where n is the answer's length in characters
 *             (when target_length > 0)
 *
 * Answers are sorted by score, best first, with a stable tie-break
 * (earlier answer first); answers with equal scores are recorded as
 * ties. */
struct rank_rule {
    char *const *prefer, *const *avoid, *const *must;
    size_t nprefer, navoid, nmust;
    int target_length;          /* characters; 0: no length term */
};

double rank_rule_score(const struct rank_rule *rule, const char *answer);

/* order (n): answers best first; group (n): tie group or -1. */
void rank_rule_order(const struct rank_rule *rule, const char *const *answers,
                     int n, int *order, int *group);

/* 1 if text contains word as a whole word, ignoring ASCII case. */
int rank_has_word(const char *text, const char *word);

/* Prompts of a file: one per line (blank lines and lines starting with
 * '#' skipped), or, for a .jsonl file, the "prompt" field of each line.
 * Duplicates are dropped.  A new array of *n strings; caller frees each
 * and the array. */
enum gr_status rank_read_prompts(const char *path, char ***out, size_t *n,
                                 struct gr_error *err);

/* Load the labels at path (default labels/rankings.jsonl when NULL):
 * each bad line is reported as a note "FILE:LINE: reason; skipped".
 * with_demos: a ranking without a better answer gets the first
 * single-turn demonstration of labels/demos.jsonl for its prompt as
 * its better answer (a demonstration is preferred over every sampled
 * answer). */
enum gr_status rank_load_labels(struct gr_ctx *ctx, const struct workspace *ws,
                                const char *path, int with_demos,
                                struct ranking_set *out, struct gr_error *err);

#endif
