/* jsonl.h: reading JSON Lines (one JSON object per line) with jansson.
 *
 * The reader walks a buffer line by line, skipping blank lines, and
 * parses each line as one JSON object; a bad line comes back with its
 * line number and a reason, so the caller can report "file:line: reason"
 * and go on. */
#ifndef GR_JSONL_H
#define GR_JSONL_H

#include <stddef.h>

#include <jansson.h>

#define JSONL_REASON 160

struct jsonl_reader {
    const char *p, *end;    /* what is left of the buffer */
    size_t line;            /* 1-based number of the line last returned */
};

enum jsonl_result {
    JSONL_END = 0,          /* no more lines */
    JSONL_OBJECT,           /* *obj holds a new reference: caller json_decref()s */
    JSONL_BAD,              /* the line is not a JSON object: why says so */
};

/* Read the n bytes at buf (not copied: keep them alive while reading). */
void jsonl_reader_init(struct jsonl_reader *r, const void *buf, size_t n);

/* The next non-blank line.  On JSONL_BAD, why holds a reason (no
 * location: r->line is the line number).  A NUL escape ("\u0000") in a
 * string is allowed; jansson rejects invalid UTF-8. */
enum jsonl_result jsonl_next(struct jsonl_reader *r, json_t **obj,
                             char why[JSONL_REASON]);

/* The string member key of obj: its bytes and length, or NULL with a
 * reason in why ("no field 'text'", "field 'text' is a number"). */
const char *jsonl_get_string(const json_t *obj, const char *key, size_t *len,
                             char why[JSONL_REASON]);

/* A short name for the JSON type of v ("a number", "an array", ...). */
const char *jsonl_type_name(const json_t *v);

#endif
