#include "text/jsonl.h"

#include <stdio.h>
#include <string.h>

void
jsonl_reader_init(struct jsonl_reader *r, const void *buf, size_t n)
{
    r->p = buf;
    r->end = r->p + n;
    r->line = 0;
}

static int
is_blank(const char *s, const char *e)
{
    for (; s < e; s++)
        if (*s != ' ' && *s != '\t' && *s != '\r' && *s != '\f' && *s != '\v')
            return 0;
    return 1;
}

enum jsonl_result
jsonl_next(struct jsonl_reader *r, json_t **obj, char why[JSONL_REASON])
{
    *obj = NULL;
    why[0] = '\0';
    while (r->p < r->end) {
        const char *s = r->p;
        const char *nl = memchr(s, '\n', (size_t)(r->end - s));
        const char *e = nl ? nl : r->end;
        r->p = nl ? nl + 1 : r->end;
        r->line++;
        if (r->line == 1 && e - s >= 3 && memcmp(s, "\xef\xbb\xbf", 3) == 0)
            s += 3;                             /* a UTF-8 byte order mark */
        if (is_blank(s, e))
            continue;
        json_error_t jerr;
        json_t *v = json_loadb(s, (size_t)(e - s), JSON_ALLOW_NUL, &jerr);
        if (!v) {
            snprintf(why, JSONL_REASON, "%s", jerr.text);
            return JSONL_BAD;
        }
        if (!json_is_object(v)) {
            snprintf(why, JSONL_REASON, "expected a JSON object, got %s",
                     jsonl_type_name(v));
            json_decref(v);
            return JSONL_BAD;
        }
        *obj = v;
        return JSONL_OBJECT;
    }
    return JSONL_END;
}

const char *
jsonl_type_name(const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT:  return "an object";
    case JSON_ARRAY:   return "an array";
    case JSON_STRING:  return "a string";
    case JSON_INTEGER:
    case JSON_REAL:    return "a number";
    case JSON_TRUE:
    case JSON_FALSE:   return "a boolean";
    case JSON_NULL:    return "null";
    }
    return "?";
}

const char *
jsonl_get_string(const json_t *obj, const char *key, size_t *len,
                 char why[JSONL_REASON])
{
    json_t *v = json_object_get(obj, key);
    if (!v) {
        snprintf(why, JSONL_REASON, "no field '%s'", key);
        return NULL;
    }
    if (!json_is_string(v)) {
        snprintf(why, JSONL_REASON, "field '%s' is %s, expected a string",
                 key, jsonl_type_name(v));
        return NULL;
    }
    *len = json_string_length(v);
    return json_string_value(v);
}
