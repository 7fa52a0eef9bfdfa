/* bpe.c: byte-level BPE tokenizer: GPT-2 pre-tokenizer over UTF-8,
 * training with incremental pair counts, encoding by merge rank.
 *
 * File format (all integers little-endian):
 *     0   magic "GRBPE\0\0\1"                      8 bytes
 *     8   format version (BPE_FORMAT_VERSION)      u32
 *     12  vocab_size V                             u32
 *     16  number of merges M = V - 261             u32
 *     20  M merges as (left, right) id pairs       M * 2 * u32
 *     ..  gr_hash64 of all the bytes above, seed 0 u64
 * The trailing checksum is also the tokenizer's hash (struct bpe.hash). */
#include "text/bpe.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <unictype.h>

#include "base/fsio.h"
#include "base/xalloc.h"

#define BPE_FORMAT_VERSION 1u
#define BPE_HEADER 20
#define BPE_MAX_TOKEN_LEN ((uint64_t)1 << 24)      /* bytes in one token */
#define BPE_MAX_TOTAL_LEN ((uint64_t)1 << 30)      /* bytes in all tokens */
#define RANK_EMPTY 0xFFFFFFFFu                     /* never a merge key */
#define SHORT_WORD 48          /* longer pre-tokens encode with a heap */

static const unsigned char bpe_magic[8] = { 'G', 'R', 'B', 'P', 'E', 0, 0, 1 };

static const char *const special_names[] = {
    "<|endoftext|>", "<|user|>", "<|assistant|>", "<|end|>", "<|mask|>",
};

const char *
bpe_special_name(int id)
{
    if (id >= BPE_ENDOFTEXT && id < BPE_FIRST_MERGE)
        return special_names[id - BPE_ENDOFTEXT];
    return NULL;
}

/* ---- pre-tokenizer ---------------------------------------------------- */

enum { CL_L, CL_N, CL_S, CL_O };    /* letter, number, space, other */

static inline int
ascii_class(unsigned c)
{
    if ((c | 32u) - 'a' < 26u)
        return CL_L;
    if (c - '0' < 10u)
        return CL_N;
    if (c == ' ' || (c >= 9 && c <= 13))
        return CL_S;
    return CL_O;
}

/* Code point at s[i] (i < n) and its length in *len; -1 with *len 1 for
 * a byte that does not start a well-formed UTF-8 sequence (overlongs,
 * surrogates, > U+10FFFF and truncated sequences included). */
static inline int32_t
utf8_decode(const unsigned char *s, size_t n, size_t i, int *len)
{
    unsigned c = s[i];
    size_t left = n - i;
    *len = 1;
    if (c < 0x80)
        return (int32_t)c;
    if (c >= 0xC2 && c <= 0xDF) {
        if (left < 2 || (s[i + 1] & 0xC0) != 0x80)
            return -1;
        *len = 2;
        return (int32_t)(((c & 0x1Fu) << 6) | (s[i + 1] & 0x3Fu));
    }
    if (c >= 0xE0 && c <= 0xEF) {
        if (left < 3)
            return -1;
        unsigned c1 = s[i + 1], c2 = s[i + 2];
        if ((c1 & 0xC0) != 0x80 || (c2 & 0xC0) != 0x80)
            return -1;
        if ((c == 0xE0 && c1 < 0xA0) || (c == 0xED && c1 >= 0xA0))
            return -1;
        *len = 3;
        return (int32_t)(((c & 0x0Fu) << 12) | ((c1 & 0x3Fu) << 6)
                         | (c2 & 0x3Fu));
    }
    if (c >= 0xF0 && c <= 0xF4) {
        if (left < 4)
            return -1;
        unsigned c1 = s[i + 1], c2 = s[i + 2], c3 = s[i + 3];
        if ((c1 & 0xC0) != 0x80 || (c2 & 0xC0) != 0x80
            || (c3 & 0xC0) != 0x80)
            return -1;
        if ((c == 0xF0 && c1 < 0x90) || (c == 0xF4 && c1 >= 0x90))
            return -1;
        *len = 4;
        return (int32_t)(((c & 0x07u) << 18) | ((c1 & 0x3Fu) << 12)
                         | ((c2 & 0x3Fu) << 6) | (c3 & 0x3Fu));
    }
    return -1;
}

/* Class of a non-ASCII code point.  \s is Unicode White_Space, as in the
 * Python regex module GPT-2 used (so U+001C..U+001F are not spaces). */
static int
unicode_class(int32_t cp)
{
    switch (cp) {
    case 0x85: case 0xA0: case 0x1680: case 0x2028: case 0x2029:
    case 0x202F: case 0x205F: case 0x3000:
        return CL_S;
    }
    if (cp >= 0x2000 && cp <= 0x200A)
        return CL_S;
    if (uc_is_general_category((ucs4_t)cp, UC_CATEGORY_L))
        return CL_L;
    if (uc_is_general_category((ucs4_t)cp, UC_CATEGORY_N))
        return CL_N;
    return CL_O;
}

/* Class of the character at s[i] and its length in bytes. */
static inline int
char_class(const unsigned char *s, size_t n, size_t i, int *len)
{
    if (s[i] < 0x80) {
        *len = 1;
        return ascii_class(s[i]);
    }
    int32_t cp = utf8_decode(s, n, i, len);
    return cp < 0 ? CL_O : unicode_class(cp);
}

/* The pattern's alternatives in order; see bpe.h. */
size_t
bpe_pretoken_end(const unsigned char *s, size_t n, size_t i)
{
    unsigned c = s[i];
    int len;

    /* 's|'t|'re|'ve|'m|'ll|'d (case-sensitive) */
    if (c == '\'' && i + 1 < n) {
        unsigned c1 = s[i + 1];
        if (c1 == 's' || c1 == 't' || c1 == 'm' || c1 == 'd')
            return i + 2;
        if (i + 2 < n && ((c1 == 'r' && s[i + 2] == 'e')
                          || (c1 == 'v' && s[i + 2] == 'e')
                          || (c1 == 'l' && s[i + 2] == 'l')))
            return i + 3;
    }

    /* ' ?\p{L}+', ' ?\p{N}+', ' ?[^\s\p{L}\p{N}]+': one class, greedy */
    size_t j = (c == ' ' && i + 1 < n) ? i + 1 : i;
    int cls = char_class(s, n, j, &len);
    if (cls != CL_S) {
        size_t k = j + (size_t)len;
        if (cls == CL_L) {
            while (k < n && s[k] < 0x80 && (s[k] | 32u) - 'a' < 26u)
                k++;
        }
        while (k < n) {
            int l2;
            if (char_class(s, n, k, &l2) != cls)
                break;
            k += (size_t)l2;
        }
        return k;
    }

    /* '\s+(?!\S)' then '\s+': a run of spaces ending the text is taken
     * whole; one followed by a non-space leaves its last character (to
     * prefix the next word if it is ' '), unless it has only one. */
    size_t k = i, last = i, count = 0;
    while (k < n) {
        int l2;
        if (char_class(s, n, k, &l2) != CL_S)
            break;
        last = k;
        k += (size_t)l2;
        count++;
    }
    if (k == n)
        return n;
    return count >= 2 ? last : k;
}

size_t
bpe_pretokenize(const unsigned char *s, size_t n, size_t *ends, size_t max)
{
    size_t count = 0;
    for (size_t i = 0; i < n;) {
        i = bpe_pretoken_end(s, n, i);
        if (count < max)
            ends[count] = i;
        count++;
    }
    return count;
}

/* ---- shared helpers ------------------------------------------------- */

static inline uint64_t
bytes_hash(const unsigned char *p, size_t n)
{
    uint64_t h = 0x9e3779b97f4a7c15ULL ^ (uint64_t)n;
    while (n >= 8) {
        uint64_t w;
        memcpy(&w, p, 8);
        h = (h ^ w) * 0xbf58476d1ce4e5b9ULL;
        h ^= h >> 29;
        p += 8;
        n -= 8;
    }
    uint64_t w = 0;
    memcpy(&w, p, n);
    h = (h ^ w) * 0x94d049bb133111ebULL;
    return h ^ (h >> 31);
}

static inline size_t
key_slot(uint32_t key, size_t mask)
{
    return (size_t)(((uint64_t)key * 0x9e3779b97f4a7c15ULL) >> 32) & mask;
}

static inline void
put32(unsigned char *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

static inline uint32_t
get32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16
           | (uint32_t)p[3] << 24;
}

static inline void
put64(unsigned char *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

static inline uint64_t
get64(const unsigned char *p)
{
    return (uint64_t)get32(p) | (uint64_t)get32(p + 4) << 32;
}

void
bpe_init(struct bpe *t)
{
    memset(t, 0, sizeof *t);
}

void
bpe_release(struct bpe *t)
{
    if (!t)
        return;
    free(t->merges);
    free(t->tok_off);
    free(t->tok_bytes);
    free(t->rank_keys);
    free(t->rank_vals);
    bpe_init(t);
}

/* The file image of t (caller frees); *len gets its size. */
static unsigned char *
bpe_serialize(const struct bpe *t, size_t *len)
{
    size_t body = BPE_HEADER + (size_t)t->nmerges * 8;
    unsigned char *buf = xmalloc(body + 8);
    memcpy(buf, bpe_magic, 8);
    put32(buf + 8, BPE_FORMAT_VERSION);
    put32(buf + 12, (uint32_t)t->vocab_size);
    put32(buf + 16, (uint32_t)t->nmerges);
    for (size_t i = 0; i < 2 * (size_t)t->nmerges; i++)
        put32(buf + BPE_HEADER + 4 * i, t->merges[i]);
    put64(buf + body, gr_hash64(buf, body, 0));
    *len = body + 8;
    return buf;
}

/* Given vocab_size, nmerges and merges, check the merges and derive the
 * token bytes, the rank map and the hash.  what names the source for
 * messages (a path, or NULL after training). */
static enum gr_status
bpe_build(struct bpe *t, const char *what, struct gr_error *err)
{
    int V = t->vocab_size, M = t->nmerges;
    uint64_t total = 0;
    t->tok_off = xmalloc(((size_t)V + 1) * sizeof *t->tok_off);

    /* lengths first (in tok_off[id + 1]), then prefix sums */
    for (int id = 0; id < V; id++) {
        uint64_t n;
        if (id < 256) {
            n = 1;
        } else if (id < BPE_FIRST_MERGE) {
            n = strlen(special_names[id - BPE_ENDOFTEXT]);
        } else {
            uint32_t l = t->merges[2 * (id - BPE_FIRST_MERGE)];
            uint32_t r = t->merges[2 * (id - BPE_FIRST_MERGE) + 1];
            if (l >= (uint32_t)id || r >= (uint32_t)id
                || (l >= BPE_ENDOFTEXT && l < BPE_FIRST_MERGE)
                || (r >= BPE_ENDOFTEXT && r < BPE_FIRST_MERGE))
                return gr_fail(err, GR_ECORRUPT, "%s: merge %d joins invalid "
                               "ids %u and %u", what ? what : "tokenizer",
                               id - BPE_FIRST_MERGE, l, r);
            n = t->tok_off[l + 1] + t->tok_off[r + 1];
        }
        if (n > BPE_MAX_TOKEN_LEN || total + n > BPE_MAX_TOTAL_LEN)
            return gr_fail(err, GR_ECORRUPT, "%s: token %d is too long",
                           what ? what : "tokenizer", id);
        t->tok_off[id + 1] = n;
        total += n;
    }
    t->tok_bytes = xmalloc(total ? (size_t)total : 1);
    t->tok_off[0] = 0;
    for (int id = 0; id < V; id++) {
        uint64_t off = t->tok_off[id], n = t->tok_off[id + 1];
        unsigned char *dst = t->tok_bytes + off;
        if (id < 256) {
            dst[0] = (unsigned char)id;
        } else if (id < BPE_FIRST_MERGE) {
            memcpy(dst, special_names[id - BPE_ENDOFTEXT], (size_t)n);
        } else {
            uint32_t l = t->merges[2 * (id - BPE_FIRST_MERGE)];
            uint32_t r = t->merges[2 * (id - BPE_FIRST_MERGE) + 1];
            uint64_t nl = t->tok_off[l + 1] - t->tok_off[l];
            memcpy(dst, t->tok_bytes + t->tok_off[l], (size_t)nl);
            memcpy(dst + nl, t->tok_bytes + t->tok_off[r], (size_t)(n - nl));
        }
        t->tok_off[id + 1] = off + n;
    }

    /* (left, right) -> rank, at most half full */
    size_t cap = 16;
    while (cap < 2 * (size_t)M)
        cap *= 2;
    t->rank_mask = cap - 1;
    t->rank_keys = xmalloc(cap * sizeof *t->rank_keys);
    t->rank_vals = xmalloc(cap * sizeof *t->rank_vals);
    memset(t->rank_keys, 0xFF, cap * sizeof *t->rank_keys);
    for (int i = 0; i < M; i++) {
        uint32_t key = t->merges[2 * i] << 16 | t->merges[2 * i + 1];
        size_t h = key_slot(key, t->rank_mask);
        while (t->rank_keys[h] != RANK_EMPTY) {
            if (t->rank_keys[h] == key)
                return gr_fail(err, GR_ECORRUPT, "%s: merge %d repeats an "
                               "earlier one", what ? what : "tokenizer", i);
            h = (h + 1) & t->rank_mask;
        }
        t->rank_keys[h] = key;
        t->rank_vals[h] = i;
    }

    size_t len;
    unsigned char *img = bpe_serialize(t, &len);
    t->hash = get64(img + len - 8);
    free(img);
    return GR_OK;
}

/* ---- training -------------------------------------------------------- */

/* Unique pre-tokens: open addressing over (hash, bytes in the corpus). */
struct word_entry {
    uint64_t h;
    uint64_t off;           /* into the corpus */
    uint32_t len;           /* 0: empty slot */
    int64_t count;
};

struct word_map {
    struct word_entry *v;
    size_t mask, n;
};

static void
word_map_grow(struct word_map *wm)
{
    size_t cap = wm->v ? 2 * (wm->mask + 1) : 1 << 16;
    struct word_entry *nv = xcalloc(cap, sizeof *nv);
    if (wm->v) {
        for (size_t i = 0; i <= wm->mask; i++) {
            if (!wm->v[i].len)
                continue;
            size_t h = wm->v[i].h & (cap - 1);
            while (nv[h].len)
                h = (h + 1) & (cap - 1);
            nv[h] = wm->v[i];
        }
    }
    free(wm->v);
    wm->v = nv;
    wm->mask = cap - 1;
}

static void
word_map_add(struct word_map *wm, const unsigned char *text, uint64_t off,
             uint32_t len)
{
    if (!wm->v || 2 * (wm->n + 1) > wm->mask + 1)
        word_map_grow(wm);
    uint64_t hv = bytes_hash(text + off, len);
    size_t h = hv & wm->mask;
    for (;;) {
        struct word_entry *e = &wm->v[h];
        if (!e->len) {
            e->h = hv;
            e->off = off;
            e->len = len;
            e->count = 1;
            wm->n++;
            return;
        }
        if (e->h == hv && e->len == len
            && memcmp(text + e->off, text + off, len) == 0) {
            e->count++;
            return;
        }
        h = (h + 1) & wm->mask;
    }
}

struct word {
    uint64_t off;           /* into trainer.sym */
    uint32_t len;           /* symbols now (shrinks as merges apply) */
    uint32_t stamp;         /* last merge step that visited it, + 1 */
    int64_t count;          /* occurrences in the corpus */
};

struct pair {
    uint32_t key;           /* left << 16 | right */
    uint32_t dirty;         /* step + 1 when its count rose in that step */
    int64_t count;          /* occurrences, weighted by word counts */
    int32_t *words;         /* words that contain (or once contained) it */
    uint32_t nwords, cap;
};

struct heap_entry {
    int64_t count;
    uint32_t key;
    uint32_t idx;           /* into trainer.pairs */
};

struct trainer {
    uint16_t *sym;          /* all words' symbols */
    struct word *words;
    size_t nwords;
    struct pair *pairs;
    size_t npairs, pairs_cap;
    uint32_t *slots;        /* pair index + 1, 0 empty */
    size_t slot_mask;
    struct heap_entry *heap;
    size_t nheap, heap_cap;
    uint32_t *dirty;        /* pairs whose count rose this step */
    size_t ndirty, dirty_cap;
    uint32_t step;          /* current merge step + 1 */
};

/* Higher count first; ties: lowest (left, right). */
static inline int
heap_before(const struct heap_entry *a, const struct heap_entry *b)
{
    return a->count > b->count || (a->count == b->count && a->key < b->key);
}

static void
heap_push(struct trainer *tr, int64_t count, uint32_t key, uint32_t idx)
{
    if (tr->nheap == tr->heap_cap) {
        tr->heap_cap = tr->heap_cap ? 2 * tr->heap_cap : 1024;
        tr->heap = xrealloc(tr->heap, tr->heap_cap * sizeof *tr->heap);
    }
    struct heap_entry e = { count, key, idx };
    size_t i = tr->nheap++;
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (!heap_before(&e, &tr->heap[p]))
            break;
        tr->heap[i] = tr->heap[p];
        i = p;
    }
    tr->heap[i] = e;
}

static void
heap_pop(struct trainer *tr)
{
    struct heap_entry e = tr->heap[--tr->nheap];
    size_t n = tr->nheap, i = 0;
    if (!n)
        return;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= n)
            break;
        if (c + 1 < n && heap_before(&tr->heap[c + 1], &tr->heap[c]))
            c++;
        if (!heap_before(&tr->heap[c], &e))
            break;
        tr->heap[i] = tr->heap[c];
        i = c;
    }
    tr->heap[i] = e;
}

static void
slots_grow(struct trainer *tr)
{
    size_t cap = tr->slots ? 2 * (tr->slot_mask + 1) : 1 << 16;
    free(tr->slots);
    tr->slots = xcalloc(cap, sizeof *tr->slots);
    tr->slot_mask = cap - 1;
    for (size_t i = 0; i < tr->npairs; i++) {
        size_t h = key_slot(tr->pairs[i].key, tr->slot_mask);
        while (tr->slots[h])
            h = (h + 1) & tr->slot_mask;
        tr->slots[h] = (uint32_t)i + 1;
    }
}

/* Index of pair key, created with count 0 if new. */
static uint32_t
pair_find(struct trainer *tr, uint32_t key)
{
    size_t h = key_slot(key, tr->slot_mask);
    for (;;) {
        uint32_t s = tr->slots[h];
        if (!s)
            break;
        if (tr->pairs[s - 1].key == key)
            return s - 1;
        h = (h + 1) & tr->slot_mask;
    }
    if (2 * (tr->npairs + 1) > tr->slot_mask + 1) {
        slots_grow(tr);
        h = key_slot(key, tr->slot_mask);
        while (tr->slots[h])
            h = (h + 1) & tr->slot_mask;
    }
    if (tr->npairs == tr->pairs_cap) {
        tr->pairs_cap = tr->pairs_cap ? 2 * tr->pairs_cap : 1 << 14;
        tr->pairs = xrealloc(tr->pairs, tr->pairs_cap * sizeof *tr->pairs);
    }
    uint32_t idx = (uint32_t)tr->npairs++;
    tr->pairs[idx] = (struct pair){ .key = key };
    tr->slots[h] = idx + 1;
    return idx;
}

/* Count delta more occurrences of (a, b) in word w. */
static inline void
pair_add(struct trainer *tr, uint32_t a, uint32_t b, int64_t delta,
         int32_t w)
{
    uint32_t idx = pair_find(tr, a << 16 | b);
    struct pair *p = &tr->pairs[idx];
    p->count += delta;
    if (delta <= 0)
        return;
    if (!p->nwords || p->words[p->nwords - 1] != w) {
        if (p->nwords == p->cap) {
            p->cap = p->cap ? 2 * p->cap : 4;
            p->words = xrealloc(p->words, p->cap * sizeof *p->words);
        }
        p->words[p->nwords++] = w;
    }
    if (p->dirty != tr->step) {
        p->dirty = tr->step;
        if (tr->ndirty == tr->dirty_cap) {
            tr->dirty_cap = tr->dirty_cap ? 2 * tr->dirty_cap : 1024;
            tr->dirty = xrealloc(tr->dirty, tr->dirty_cap * sizeof *tr->dirty);
        }
        tr->dirty[tr->ndirty++] = idx;
    }
}

/* Replace the non-overlapping (a, b) in word w, left to right, by z, and
 * move the counts of the neighbouring pairs. */
static void
word_merge(struct trainer *tr, int32_t w, uint32_t a, uint32_t b, uint32_t z)
{
    struct word *wd = &tr->words[w];
    uint16_t *s = tr->sym + wd->off;
    size_t n = wd->len, o = 0;
    int64_t c = wd->count;
    for (size_t i = 0; i < n;) {
        if (i + 1 < n && s[i] == a && s[i + 1] == b) {
            if (o > 0) {
                pair_add(tr, s[o - 1], a, -c, w);
                pair_add(tr, s[o - 1], z, c, w);
            }
            if (i + 2 < n) {
                pair_add(tr, b, s[i + 2], -c, w);
                pair_add(tr, z, s[i + 2], c, w);
            }
            pair_add(tr, a, b, -c, w);
            s[o++] = (uint16_t)z;
            i += 2;
        } else {
            s[o++] = s[i++];
        }
    }
    wd->len = (uint32_t)o;
}

static void
trainer_release(struct trainer *tr)
{
    free(tr->sym);
    free(tr->words);
    for (size_t i = 0; i < tr->npairs; i++)
        free(tr->pairs[i].words);
    free(tr->pairs);
    free(tr->slots);
    free(tr->heap);
    free(tr->dirty);
}

static double
now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

enum gr_status
bpe_train(struct bpe *t, const unsigned char *text, const uint64_t *offs,
          size_t ndocs, int vocab_size, struct gr_metrics *m,
          struct gr_error *err)
{
    return bpe_train_until(t, text, offs, ndocs, vocab_size, m, NULL, err);
}

static int
stopped(const atomic_int *stop)
{
    return stop && atomic_load(stop);
}

enum gr_status
bpe_train_until(struct bpe *t, const unsigned char *text, const uint64_t *offs,
                size_t ndocs, int vocab_size, struct gr_metrics *m,
                const atomic_int *stop, struct gr_error *err)
{
    enum gr_status rc = GR_OK;
    struct word_map wm = { 0 };
    struct trainer tr = { 0 };
    struct bpe nt;
    bpe_init(&nt);

    if (vocab_size < BPE_VOCAB_MIN || vocab_size > BPE_VOCAB_MAX)
        return gr_fail(err, GR_EINPUT, "vocab_size %d is out of range "
                       "(%d..%d)", vocab_size, BPE_VOCAB_MIN, BPE_VOCAB_MAX);
    for (size_t d = 0; d < ndocs; d++)
        if (offs[d] > offs[d + 1])
            return gr_fail(err, GR_EINPUT, "document %zu ends before it "
                           "starts (%llu > %llu)", d,
                           (unsigned long long)offs[d],
                           (unsigned long long)offs[d + 1]);

    int total = vocab_size - BPE_FIRST_MERGE;
    metrics_progress(m, "tokenizer", 0, total, "merges");

    /* 1. unique pre-tokens of two or more bytes, with counts */
    for (size_t d = 0; d < ndocs; d++) {
        if ((d & 255) == 0 && stopped(stop)) {
            rc = gr_fail(err, GR_ESTOPPED, "tokenizer training stopped");
            goto out;
        }
        size_t end = (size_t)offs[d + 1];
        for (size_t i = (size_t)offs[d]; i < end;) {
            size_t e = bpe_pretoken_end(text, end, i);
            if (e - i >= 2) {
                if (e - i > UINT32_MAX) {
                    rc = gr_fail(err, GR_EINPUT, "document %zu has a run of "
                                 "%zu bytes without a word break", d, e - i);
                    goto out;
                }
                word_map_add(&wm, text, i, (uint32_t)(e - i));
            }
            i = e;
        }
    }

    /* 2. words as symbol strings, and their pair counts */
    uint64_t nsym = 0;
    if (wm.n > INT32_MAX) {
        rc = gr_fail(err, GR_EINPUT, "the corpus has too many distinct words "
                     "(%zu)", wm.n);
        goto out;
    }
    tr.words = xmalloc((wm.n ? wm.n : 1) * sizeof *tr.words);
    for (size_t i = 0; wm.v && i <= wm.mask; i++)
        nsym += wm.v[i].len;
    tr.sym = xmalloc((nsym ? (size_t)nsym : 1) * sizeof *tr.sym);
    nsym = 0;
    for (size_t i = 0; wm.v && i <= wm.mask; i++) {
        struct word_entry *e = &wm.v[i];
        if (!e->len)
            continue;
        struct word *w = &tr.words[tr.nwords++];
        w->off = nsym;
        w->len = e->len;
        w->stamp = 0;
        w->count = e->count;
        for (uint32_t k = 0; k < e->len; k++)
            tr.sym[nsym++] = text[e->off + k];
    }
    free(wm.v);
    wm.v = NULL;

    slots_grow(&tr);
    tr.step = 0;
    for (size_t w = 0; w < tr.nwords; w++) {
        const uint16_t *s = tr.sym + tr.words[w].off;
        for (uint32_t k = 0; k + 1 < tr.words[w].len; k++)
            pair_add(&tr, s[k], s[k + 1], tr.words[w].count, (int32_t)w);
    }
    for (size_t i = 0; i < tr.npairs; i++)
        heap_push(&tr, tr.pairs[i].count, tr.pairs[i].key, (uint32_t)i);
    tr.ndirty = 0;

    /* 3. merges, most frequent pair first */
    nt.merges = xmalloc(2 * (size_t)total * sizeof *nt.merges);
    double last_report = now_seconds();
    for (int step = 0; step < total; step++) {
        if ((step & 31) == 0 && stopped(stop)) {
            rc = gr_fail(err, GR_ESTOPPED, "tokenizer training stopped at merge %d "
                         "of %d", step, total);
            goto out;
        }
        struct heap_entry top = { 0, 0, 0 };
        int found = 0;
        while (tr.nheap) {
            top = tr.heap[0];
            int64_t cur = tr.pairs[top.idx].count;
            heap_pop(&tr);
            if (cur == top.count) {
                found = 1;
                break;
            }
            if (cur > 0)
                heap_push(&tr, cur, top.key, top.idx);
        }
        if (!found || top.count < 2) {
            if (step == 0)
                rc = gr_fail(err, GR_EINPUT, "vocab_size %d is too large for "
                             "this corpus: no pair of bytes repeats",
                             vocab_size);
            else
                rc = gr_fail(err, GR_EINPUT, "vocab_size %d is too large for "
                             "this corpus: only %d merges are possible (try "
                             "vocab_size <= %d)", vocab_size, step,
                             BPE_FIRST_MERGE + step);
            goto out;
        }

        uint32_t a = top.key >> 16, b = top.key & 0xFFFF;
        uint32_t z = (uint32_t)(BPE_FIRST_MERGE + step);
        nt.merges[2 * step] = a;
        nt.merges[2 * step + 1] = b;

        tr.step = (uint32_t)step + 1;
        struct pair *p = &tr.pairs[top.idx];
        int32_t *list = p->words;
        uint32_t nlist = p->nwords;
        p->words = NULL;
        p->nwords = p->cap = 0;
        for (uint32_t k = 0; k < nlist; k++) {
            int32_t w = list[k];
            if (tr.words[w].stamp == tr.step)
                continue;
            tr.words[w].stamp = tr.step;
            word_merge(&tr, w, a, b, z);
        }
        free(list);
        for (size_t k = 0; k < tr.ndirty; k++) {
            uint32_t idx = tr.dirty[k];
            if (tr.pairs[idx].count > 0)
                heap_push(&tr, tr.pairs[idx].count, tr.pairs[idx].key, idx);
        }
        tr.ndirty = 0;

        if (m && (step & 31) == 31) {
            double now = now_seconds();
            if (now - last_report >= 0.25) {
                metrics_progress(m, "tokenizer", step + 1, total, "merges");
                last_report = now;
            }
        }
    }

    nt.vocab_size = vocab_size;
    nt.nmerges = total;
    if (bpe_build(&nt, NULL, err) != GR_OK) {    /* our bug */
        rc = err ? (err->code = GR_EINTERNAL) : GR_EINTERNAL;
        goto out;
    }
    metrics_progress(m, "tokenizer", total, total, "merges");
    bpe_release(t);
    *t = nt;
    bpe_init(&nt);
out:
    free(wm.v);
    trainer_release(&tr);
    bpe_release(&nt);
    return rc;
}

/* ---- encoding -------------------------------------------------------- */

/* Rank of merge (a, b), or -1 if there is none. */
static inline int32_t
rank_get(const struct bpe *t, uint32_t a, uint32_t b)
{
    uint32_t key = a << 16 | b;
    size_t h = key_slot(key, t->rank_mask);
    for (;;) {
        uint32_t k = t->rank_keys[h];
        if (k == key)
            return t->rank_vals[h];
        if (k == RANK_EMPTY)
            return -1;
        h = (h + 1) & t->rank_mask;
    }
}

/* Short pre-token (2 <= n <= SHORT_WORD): merge the leftmost lowest-rank
 * pair until none is left.  Writes the tokens to out; returns how many. */
static size_t
encode_short(const struct bpe *t, const unsigned char *p, size_t n,
             int32_t *out)
{
    int32_t sym[SHORT_WORD], rk[SHORT_WORD];    /* rk[i]: (sym[i], sym[i+1]) */
    size_t m = n;
    for (size_t i = 0; i < n; i++)
        sym[i] = p[i];
    for (size_t i = 0; i + 1 < n; i++) {
        int32_t r = rank_get(t, (uint32_t)sym[i], (uint32_t)sym[i + 1]);
        rk[i] = r < 0 ? INT32_MAX : r;
    }
    while (m > 1) {
        int32_t best = INT32_MAX;
        size_t bi = 0;
        for (size_t i = 0; i + 1 < m; i++) {
            if (rk[i] < best) {
                best = rk[i];
                bi = i;
            }
        }
        if (best == INT32_MAX)
            break;
        sym[bi] = BPE_FIRST_MERGE + best;
        if (bi + 2 < m) {
            memmove(sym + bi + 1, sym + bi + 2, (m - bi - 2) * sizeof *sym);
            memmove(rk + bi + 1, rk + bi + 2, (m - bi - 3) * sizeof *rk);
        }
        m--;
        if (bi > 0) {
            int32_t r = rank_get(t, (uint32_t)sym[bi - 1], (uint32_t)sym[bi]);
            rk[bi - 1] = r < 0 ? INT32_MAX : r;
        }
        if (bi + 1 < m) {
            int32_t r = rank_get(t, (uint32_t)sym[bi], (uint32_t)sym[bi + 1]);
            rk[bi] = r < 0 ? INT32_MAX : r;
        }
    }
    memcpy(out, sym, m * sizeof *sym);
    return m;
}

static inline void
minheap_push(uint64_t *h, size_t *n, uint64_t v)
{
    size_t i = (*n)++;
    while (i > 0 && h[(i - 1) / 2] > v) {
        h[i] = h[(i - 1) / 2];
        i = (i - 1) / 2;
    }
    h[i] = v;
}

static inline uint64_t
minheap_pop(uint64_t *h, size_t *n)
{
    uint64_t top = h[0], v = h[--*n];
    size_t i = 0;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= *n)
            break;
        if (c + 1 < *n && h[c + 1] < h[c])
            c++;
        if (h[c] >= v)
            break;
        h[i] = h[c];
        i = c;
    }
    if (*n)
        h[i] = v;
    return top;
}

/* Long pre-token: the same merges, O(n log n), on a linked list with a
 * heap of (rank, position).  Returns the token count, or (size_t)-1 when
 * memory runs out. */
static size_t
encode_long(const struct bpe *t, const unsigned char *p, size_t n,
            int32_t *out)
{
    if (n > UINT32_MAX)
        return (size_t)-1;
    int32_t *sym = malloc(n * sizeof *sym);
    int64_t *nxt = malloc(n * sizeof *nxt), *prv = malloc(n * sizeof *prv);
    uint64_t *heap = malloc(3 * n * sizeof *heap);
    size_t nheap = 0, count = 0;
    if (!sym || !nxt || !prv || !heap) {
        count = (size_t)-1;
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        sym[i] = p[i];
        prv[i] = (int64_t)i - 1;
        nxt[i] = i + 1 < n ? (int64_t)i + 1 : -1;
    }
    for (size_t i = 0; i + 1 < n; i++) {
        int32_t r = rank_get(t, (uint32_t)sym[i], (uint32_t)sym[i + 1]);
        if (r >= 0)
            minheap_push(heap, &nheap, (uint64_t)r << 32 | i);
    }
    while (nheap) {
        uint64_t e = minheap_pop(heap, &nheap);
        int32_t r = (int32_t)(e >> 32);
        size_t i = (size_t)(e & 0xFFFFFFFFu);
        if (sym[i] < 0 || nxt[i] < 0)
            continue;
        size_t j = (size_t)nxt[i];
        if (rank_get(t, (uint32_t)sym[i], (uint32_t)sym[j]) != r)
            continue;
        sym[i] = BPE_FIRST_MERGE + r;
        sym[j] = -1;
        nxt[i] = nxt[j];
        if (nxt[j] >= 0)
            prv[nxt[j]] = (int64_t)i;
        if (prv[i] >= 0) {
            size_t k = (size_t)prv[i];
            int32_t r2 = rank_get(t, (uint32_t)sym[k], (uint32_t)sym[i]);
            if (r2 >= 0)
                minheap_push(heap, &nheap, (uint64_t)r2 << 32 | k);
        }
        if (nxt[i] >= 0) {
            int32_t r2 = rank_get(t, (uint32_t)sym[i],
                                  (uint32_t)sym[nxt[i]]);
            if (r2 >= 0)
                minheap_push(heap, &nheap, (uint64_t)r2 << 32 | i);
        }
    }
    for (int64_t i = 0; i >= 0; i = nxt[i])
        out[count++] = sym[i];
out:
    free(sym);
    free(nxt);
    free(prv);
    free(heap);
    return count;
}

enum gr_status
bpe_encode(const struct bpe *t, const void *text, size_t n, int32_t **toks,
           size_t *ntoks, size_t *cap, struct gr_error *err)
{
    const unsigned char *s = text;
    if (t->vocab_size == 0)
        return gr_fail(err, GR_ESTATE, "the tokenizer is empty (train or "
                       "load one first)");
    for (size_t i = 0; i < n;) {
        size_t e = bpe_pretoken_end(s, n, i), len = e - i;
        if (*cap - *ntoks < len) {
            size_t nc = *cap ? *cap : 256;
            while (nc - *ntoks < len)
                nc *= 2;
            int32_t *nt = realloc(*toks, nc * sizeof *nt);
            if (!nt)
                return gr_fail(err, GR_ENOMEM, "out of memory for %zu "
                               "tokens", nc);
            *toks = nt;
            *cap = nc;
        }
        int32_t *out = *toks + *ntoks;
        if (len == 1) {
            out[0] = s[i];
            *ntoks += 1;
        } else if (len <= SHORT_WORD) {
            *ntoks += encode_short(t, s + i, len, out);
        } else {
            size_t k = encode_long(t, s + i, len, out);
            if (k == (size_t)-1)
                return gr_fail(err, GR_ENOMEM, "out of memory encoding a "
                               "word of %zu bytes", len);
            *ntoks += k;
        }
        i = e;
    }
    return GR_OK;
}

/* ---- decoding -------------------------------------------------------- */

size_t
bpe_token_bytes(const struct bpe *t, int id, const unsigned char **bytes)
{
    if (id < 0 || id >= t->vocab_size) {
        if (bytes)
            *bytes = (const unsigned char *)"";
        return 0;
    }
    if (bytes)
        *bytes = t->tok_bytes + t->tok_off[id];
    return (size_t)(t->tok_off[id + 1] - t->tok_off[id]);
}

char *
bpe_decode(const struct bpe *t, const int32_t *toks, size_t n, size_t *len)
{
    size_t total = 0;
    for (size_t i = 0; i < n; i++)
        total += bpe_token_bytes(t, toks[i], NULL);
    char *out = xmalloc(total + 1), *o = out;
    for (size_t i = 0; i < n; i++) {
        const unsigned char *b;
        size_t k = bpe_token_bytes(t, toks[i], &b);
        memcpy(o, b, k);
        o += k;
    }
    *o = '\0';
    if (len)
        *len = total;
    return out;
}

/* ---- files ----------------------------------------------------------- */

enum gr_status
bpe_save(const struct bpe *t, const char *path, struct gr_error *err)
{
    if (t->vocab_size == 0)
        return gr_fail(err, GR_ESTATE, "%s: cannot save an empty tokenizer",
                       path);
    size_t len;
    unsigned char *img = bpe_serialize(t, &len);
    enum gr_status rc = fs_write_atomic(path, img, len, err);
    free(img);
    return rc;
}

enum gr_status
bpe_load(struct bpe *t, const char *path, struct gr_error *err)
{
    char *buf = NULL;
    size_t len = 0;
    struct bpe nt;
    bpe_init(&nt);
    enum gr_status rc = fs_read_all(path, &buf, &len, err);
    if (rc != GR_OK)
        return rc;
    const unsigned char *p = (const unsigned char *)buf;

    if (len < 8 || memcmp(p, bpe_magic, 8) != 0) {
        rc = gr_fail(err, GR_ECORRUPT, "%s: not a garage tokenizer file "
                     "(bad magic)", path);
        goto out;
    }
    if (len < BPE_HEADER + 8) {
        rc = gr_fail(err, GR_ECORRUPT, "%s: truncated tokenizer file (%zu "
                     "bytes)", path, len);
        goto out;
    }
    uint32_t version = get32(p + 8);
    if (version != BPE_FORMAT_VERSION) {
        rc = gr_fail(err, GR_ECORRUPT, "%s: tokenizer format version %u, "
                     "expected %u", path, version, BPE_FORMAT_VERSION);
        goto out;
    }
    uint32_t V = get32(p + 12), M = get32(p + 16);
    uint64_t want = BPE_HEADER + 8 * (uint64_t)M + 8;
    if (want != len) {
        rc = gr_fail(err, GR_ECORRUPT, "%s: truncated or damaged tokenizer "
                     "file (%zu bytes, its header says %llu)", path, len,
                     (unsigned long long)want);
        goto out;
    }
    if (get64(p + len - 8) != gr_hash64(p, len - 8, 0)) {
        rc = gr_fail(err, GR_ECORRUPT, "%s: damaged tokenizer file "
                     "(checksum mismatch)", path);
        goto out;
    }
    if (V < BPE_VOCAB_MIN || V > BPE_VOCAB_MAX
        || M != V - BPE_FIRST_MERGE) {
        rc = gr_fail(err, GR_ECORRUPT, "%s: bad vocab_size %u with %u merges",
                     path, V, M);
        goto out;
    }
    nt.vocab_size = (int)V;
    nt.nmerges = (int)M;
    nt.merges = xmalloc(2 * (size_t)M * sizeof *nt.merges);
    for (size_t i = 0; i < 2 * (size_t)M; i++)
        nt.merges[i] = get32(p + BPE_HEADER + 4 * i);
    rc = bpe_build(&nt, path, err);
    if (rc != GR_OK)
        goto out;
    bpe_release(t);
    *t = nt;
    bpe_init(&nt);
out:
    bpe_release(&nt);
    free(buf);
    return rc;
}
