/* rankings.h: rankings of answers, stored as JSON Lines in a workspace's
 * labels/rankings.jsonl, one label per line, each appended with one
 * fsync:
 *
 *   {"prompt": "...", "answers": ["a", "b", "c"], "order": [2, 0, 1],
 *    "ties": [[0, 1]], "ratings": [3, 3, 5], "better": "...",
 *    "labeler": "human", "checkpoint": "checkpoints/sft-000300.ckpt",
 *    "time": "2024-05-01T12:00:00Z"}
 *
 * A label of labeler "rule" also records its rule: "rule": {"prefer":
 * [...], "avoid": [...], "must_contain": [...], "target_length": N}.
 *
 * order lists every answer (0-based indices into answers), best first;
 * ties holds groups of answers that are equally good; ratings (optional)
 * are 0..5 per answer or null; better (optional) is an answer the person
 * wrote, preferred over every sampled one.  "skipped": true and
 * "all_bad": true mark prompts the person skipped or found all bad (order
 * empty).  Each label implies pairs (chosen, rejected): every answer over
 * each one ranked below it and not tied with it, and better over every
 * answer.  A label with ratings and no order is ordered by its ratings
 * (equal ratings tie).  Imported preferences ({"prompt", "chosen",
 * "rejected"}) are labels with two answers, order [0, 1] and labeler
 * "import". */
#ifndef GR_RANKINGS_H
#define GR_RANKINGS_H

#include <stddef.h>

#include <jansson.h>

#include "base/error.h"
#include "text/jsonl.h"

#define RANKING_MAX_ANSWERS 64

struct ranking {
    char *prompt;
    char **answers;         /* (nanswers) */
    int nanswers;
    int *order;             /* (norder) best first; norder is 0 or nanswers */
    int norder;
    int *group;             /* (nanswers) tie group of each answer, -1: none */
    int *ratings;           /* (nanswers) 0..5 or -1; NULL: no ratings */
    char *better;           /* NULL when none */
    char *labeler;          /* "human", "rule", "import", ... */
    char *checkpoint;       /* NULL when unknown */
    char *time;             /* ISO 8601, NULL when unknown */
    json_t *rule;           /* labeler "rule": its settings (an object, owned); NULL */
    int skipped, all_bad;
    size_t line;            /* 1-based line of the file it came from */
};

/* A preference: candidate win over candidate lose.  Candidates are the
 * answers 0..nanswers-1, then better (index nanswers) when present. */
struct rank_pair {
    int win, lose;
};

struct ranking_set {
    struct ranking *v;
    size_t n, cap;
};

struct ranking_bad {
    size_t line;
    char why[JSONL_REASON];
};

void ranking_release(struct ranking *r);
void rankings_init(struct ranking_set *s);
void rankings_release(struct ranking_set *s);
/* Move *r into s (r is zeroed). */
void rankings_push(struct ranking_set *s, struct ranking *r);

/* Parse one JSON object; 0 and r filled, or -1 with a reason in why. */
int ranking_parse(const json_t *obj, struct ranking *r, char why[JSONL_REASON]);

/* The label as one JSON line with its '\n'; caller frees. */
char *ranking_to_line(const struct ranking *r);

/* Candidates of r: answers, then better.  Text of candidate i. */
int ranking_ncandidates(const struct ranking *r);
const char *ranking_candidate(const struct ranking *r, int i);

/* The pairs r implies, in a new array (caller frees; NULL when none);
 * returns their count. */
size_t ranking_pairs(const struct ranking *r, struct rank_pair **out);

/* Order answers by ratings, best first (a stable sort: equal ratings keep
 * their answer order), with equal ratings tied; unrated answers go last,
 * tied.  Fills order (nanswers) and group (nanswers). */
void ranking_order_from_ratings(int nanswers, const int *ratings, int *order,
                                int *group);

/* Parse n bytes of JSON Lines, appending good labels to out and bad lines
 * to (*bad, *nbad) (caller frees; may be NULL).  A last line without its
 * '\n' that does not parse is a torn write: skipped, not reported. */
void rankings_parse_buf(const char *buf, size_t n, struct ranking_set *out,
                        struct ranking_bad **bad, size_t *nbad);

/* Read a file as rankings_parse_buf does; a missing file reads as empty. */
enum gr_status rankings_read_file(const char *path, struct ranking_set *out,
                                  struct ranking_bad **bad, size_t *nbad,
                                  struct gr_error *err);

/* Append r to path with one write and one fsync, starting a fresh line
 * first when the file does not end with one (a torn last line). */
enum gr_status rankings_append(const char *path, const struct ranking *r,
                               struct gr_error *err);

/* Append n bytes of whole lines the same way (one write, one fsync). */
enum gr_status rankings_append_lines(const char *path, const char *text,
                                     size_t n, struct gr_error *err);

/* The current time as ISO 8601 UTC ("2024-05-01T12:00:00Z"); caller frees. */
char *rankings_now(void);

#endif
