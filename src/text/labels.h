/* labels.h: human labels, stored as JSON Lines under a workspace's
 * labels/ folder.  Demonstrations (labels/demos.jsonl) are conversations
 * a person wrote or imported, one per line, in the chat format
 *
 *   {"messages": [{"role": "user", "content": "..."},
 *                 {"role": "assistant", "content": "..."}, ...]}
 *
 * Each record is appended with one fsync, so a crash or a full disk
 * never loses an earlier one; a torn last line is skipped on reading and
 * the next append starts on a fresh line.  Removing a record rewrites the
 * file atomically. */
#ifndef GR_LABELS_H
#define GR_LABELS_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "base/error.h"
#include "text/chat.h"
#include "text/jsonl.h"

/* One conversation: user and assistant turns alternating, starting with
 * the user's and ending with the assistant's. */
struct demo {
    struct chat_turn *turns;    /* (nturns); texts owned, NUL-terminated */
    size_t nturns;
    size_t line;                /* 1-based line in the file it came from */
};

struct demo_set {
    struct demo *v;
    size_t n, cap;
};

/* A line that is not a demonstration. */
struct labels_bad {
    size_t line;
    char why[JSONL_REASON];
};

void demo_release(struct demo *d);
void demos_init(struct demo_set *s);
void demos_release(struct demo_set *s);
/* Move *d into s (d is empty afterwards). */
void demos_push(struct demo_set *s, struct demo *d);

/* A demonstration from prompt and answer (copied). */
void demo_from_pair(struct demo *d, const char *prompt, const char *answer);

/* Parse one JSON object in either import format: {"prompt", "completion"}
 * or {"messages": [...]} (several turns allowed).  Returns 0 and fills d,
 * or -1 with a reason in why (no location).  Empty or blank texts, NUL
 * characters, other roles and turns out of order are refused. */
int demo_parse(const json_t *obj, struct demo *d, char why[JSONL_REASON]);

/* The record as one JSON line with its '\n' (caller frees).  completion:
 * {"prompt", "completion"} (single-turn only: NULL otherwise); else the
 * chat "messages" format, which is what the store holds. */
char *demo_to_line(const struct demo *d, int completion);

/* 1 if a and b hold the same turns. */
int demo_equal(const struct demo *a, const struct demo *b);
/* A hash of the turns (roles and texts), for deterministic splits. */
uint64_t demo_hash(const struct demo *d);

/* Parse the n bytes at buf as JSON Lines of demonstrations, appending the
 * good ones to out and the bad lines to (*bad, *nbad) (caller frees
 * *bad; may be NULL to ignore them).  A last line without its '\n' that
 * does not parse is a torn write: it is skipped, not reported. */
void demos_parse_buf(const char *buf, size_t n, struct demo_set *out,
                     struct labels_bad **bad, size_t *nbad);

/* Read a file of demonstrations as demos_parse_buf does.  missing_ok: a
 * file that does not exist reads as empty (the store before its first
 * record). */
enum gr_status demos_read_file(const char *path, int missing_ok,
                               struct demo_set *out, struct labels_bad **bad,
                               size_t *nbad, struct gr_error *err);

/* Append d to the store at path with one write and one fsync (starting a
 * new line first if the file does not end with one). */
enum gr_status demos_append(const char *path, const struct demo *d,
                            struct gr_error *err);

/* Write every demonstration of s to path atomically (export). */
enum gr_status demos_write_file(const char *path, const struct demo_set *s,
                                int completion, struct gr_error *err);

/* Rewrite path atomically without its line number line (1-based), every
 * other byte kept as it was. */
enum gr_status labels_remove_line(const char *path, size_t line,
                                  struct gr_error *err);

#endif
