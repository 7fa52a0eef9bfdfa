#include "text/chat.h"

#include <ctype.h>
#include <string.h>
#include <unistr.h>

#include "base/xalloc.h"

const char *
chat_role_name(enum chat_role r)
{
    return r == CHAT_USER ? "user" : "assistant";
}

int
chat_role_parse(const char *name)
{
    if (!strcmp(name, "user"))
        return CHAT_USER;
    if (!strcmp(name, "assistant"))
        return CHAT_ASSISTANT;
    return -1;
}

static void
push(int32_t **toks, uint8_t **mask, size_t *ntok, size_t *cap, int32_t id,
     uint8_t m)
{
    if (*ntok + 1 > *cap) {
        *cap = *cap ? *cap * 2 : 256;
        *toks = xrealloc(*toks, *cap * sizeof **toks);
    }
    if (mask)
        *mask = xrealloc(*mask, *cap);
    (*toks)[*ntok] = id;
    if (mask)
        (*mask)[*ntok] = m;
    (*ntok)++;
}

enum gr_status
chat_encode(const struct bpe *t, const struct chat_turn *turns, size_t n,
            int open_assistant, int32_t **toks, uint8_t **mask, size_t *ntok,
            size_t *cap, struct gr_error *err)
{
    for (size_t i = 0; i < n; i++) {
        const struct chat_turn *c = &turns[i];
        uint8_t m = c->role == CHAT_ASSISTANT;
        size_t len = c->len == (size_t)-1 ? strlen(c->text) : c->len;
        push(toks, mask, ntok, cap, c->role == CHAT_USER ? BPE_USER : BPE_ASSISTANT, 0);
        size_t before = *ntok;
        enum gr_status rc = bpe_encode(t, c->text, len, toks, ntok, cap, err);
        if (rc != GR_OK)
            return rc;
        if (mask) {
            *mask = xrealloc(*mask, *cap);
            memset(*mask + before, m, *ntok - before);
        }
        push(toks, mask, ntok, cap, BPE_END, m);
    }
    if (open_assistant)
        push(toks, mask, ntok, cap, BPE_ASSISTANT, 0);
    return GR_OK;
}

enum gr_status
chat_encode_pair(const struct bpe *t, const char *prompt, const char *answer,
                 int32_t **toks, size_t *ntok, size_t *cap, size_t *prompt_len,
                 struct gr_error *err)
{
    struct chat_turn turns[2] = {
        { CHAT_USER, prompt, (size_t)-1 },
        { CHAT_ASSISTANT, answer ? answer : "", (size_t)-1 },
    };
    enum gr_status rc = chat_encode(t, turns, 1, 1, toks, NULL, ntok, cap, err);
    if (rc != GR_OK)
        return rc;
    if (prompt_len)
        *prompt_len = *ntok;
    if (!answer)
        return GR_OK;
    size_t len = strlen(answer);
    if ((rc = bpe_encode(t, answer, len, toks, ntok, cap, err)) != GR_OK)
        return rc;
    push(toks, NULL, ntok, cap, BPE_END, 0);
    return GR_OK;
}

/* Model output is bytes; labels, logs and the screen want text. */
char *
chat_clean_text(const char *s, size_t n)
{
    char *o = xmalloc(3 * n + 1), *q = o;
    const unsigned char *p = (const unsigned char *)s, *end = p + n;
    while (p < end) {
        ucs4_t uc;
        int len = u8_mbtoucr(&uc, p, (size_t)(end - p));
        if (len < 1) {          /* invalid or cut short: one byte */
            memcpy(q, "\xef\xbf\xbd", 3);
            q += 3;
            p++;
            continue;
        }
        if ((uc < 0x20 || uc == 0x7f) && uc != '\n' && uc != '\t') {
            p++;                /* a control character */
            continue;
        }
        memcpy(q, p, (size_t)len);
        q += (size_t)len;
        p += len;
    }
    *q = '\0';
    char *a = o;
    while (*a && isspace((unsigned char)*a))
        a++;
    q = a + strlen(a);
    while (q > a && isspace((unsigned char)q[-1]))
        q--;
    *q = '\0';
    memmove(o, a, (size_t)(q - a) + 1);
    return o;
}
