/* tests/test-bpe.c: the BPE tokenizer.  The pre-tokenizer against cases
 * checked with GPT-2's regex; training against merges worked out by hand
 * and against a naive trainer that recounts every pair at every step;
 * encoding against a naive encoder; round trips; specials; files. */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/error.h"
#include "base/metrics.h"
#include "base/rng.h"
#include "base/xalloc.h"
#include "check.h"
#include "text/bpe.h"

/* ---- pre-tokenizer ---------------------------------------------------- */

/* Pre-tokens of s joined with '|' (pieces never contain '|' here). */
static char *
pretok_join(const char *s)
{
    size_t n = strlen(s), ends[256];
    size_t k = bpe_pretokenize((const unsigned char *)s, n, ends, 256);
    char *out = xmalloc(2 * n + 2), *o = out;
    size_t prev = 0;
    for (size_t i = 0; i < k && i < 256; i++) {
        if (i)
            *o++ = '|';
        memcpy(o, s + prev, ends[i] - prev);
        o += ends[i] - prev;
        prev = ends[i];
    }
    *o = '\0';
    return out;
}

#define CHECK_PRETOK(s, want) do { char *_j = pretok_join(s); \
    CHECK_STR(_j, want); free(_j); } while (0)

/* Expected values produced with Python's regex module and GPT-2's pattern. */
static void
test_pretokenize(void)
{
    CHECK_PRETOK("Hello world", "Hello| world");
    CHECK_PRETOK("I'm", "I|'m");
    CHECK_PRETOK("  hi", " | hi");
    CHECK_PRETOK("a\n\nb", "a|\n|\n|b");
    CHECK_PRETOK("a\nb", "a|\n|b");
    CHECK_PRETOK("a \n b", "a| \n| b");
    CHECK_PRETOK("a  \t b", "a|  \t| b");
    CHECK_PRETOK("hi  ", "hi|  ");
    CHECK_PRETOK("   ", "   ");
    CHECK_PRETOK(" ", " ");
    CHECK_PRETOK("\n", "\n");
    CHECK_PRETOK("\t\tx", "\t|\t|x");
    CHECK_PRETOK("it's 42 cats!!  ", "it|'s| 42| cats|!!|  ");
    CHECK_PRETOK("don't we'll they're I've he'd", "don|'t| we|'ll| they|'re| I|'ve| he|'d");
    CHECK_PRETOK("DON'T 'S", "DON|'|T| '|S");      /* lowercase only */
    CHECK_PRETOK("x''s '", "x|''|s| '");
    CHECK_PRETOK("'ll'l", "'ll|'|l");
    CHECK_PRETOK("3.14159 + 2,000", "3|.|14159| +| 2|,|000");
    CHECK_PRETOK("abc123def", "abc|123|def");
    CHECK_PRETOK("foo(bar); // baz", "foo|(|bar|);| //| baz");
    CHECK_PRETOK("héllo wörld", "héllo| wörld");
    CHECK_PRETOK("日本語", "日本語");
    CHECK_PRETOK("日本語 テキスト。", "日本語| テキスト|。");
    CHECK_PRETOK("x²+½", "x|²|+|½");                 /* No is \p{N} */
    CHECK_PRETOK("café\u0301!", "café|\u0301!");     /* Mn is "other" */
    CHECK_PRETOK("a\u00a0b", "a|\u00a0|b");          /* NBSP is \s, not ' ' */
    CHECK_PRETOK("a\u3000\u3000b", "a|\u3000|\u3000|b");
    CHECK_PRETOK("a \x1c" "b", "a| \x1c|b");        /* not White_Space */
    CHECK_PRETOK("a \u00a0b", "a| |\u00a0|b");
    CHECK_PRETOK(" \u3000x", " |\u3000|x");
    CHECK_PRETOK("😀😀 ok", "😀😀| ok");

    /* invalid UTF-8: each bad byte is one "other" character */
    CHECK_PRETOK("a\xff\xfe b", "a|\xff\xfe| b");
    CHECK_PRETOK(" \xc3", " \xc3");                  /* truncated sequence */
    CHECK_PRETOK("\xe3\x81x", "\xe3\x81|x");
    CHECK_PRETOK("\xed\xa0\x80z", "\xed\xa0\x80|z");  /* a surrogate */
    CHECK_PRETOK("\xc0\xafq", "\xc0\xaf|q");          /* an overlong '/' */

    /* the ends cover the text and the count is right even past max */
    const char *s = "one two three four";
    size_t ends[2];
    CHECK_EQ_INT(bpe_pretokenize((const unsigned char *)s, strlen(s), ends, 2), 4);
    CHECK_EQ_INT(ends[0], 3);
    CHECK_EQ_INT(ends[1], 7);
    CHECK_EQ_INT(bpe_pretokenize((const unsigned char *)"", 0, ends, 2), 0);
}

/* ---- naive reference ------------------------------------------------- */

struct naive_word {
    int32_t *s;
    size_t n;
};

/* Pre-tokens of all documents as symbol strings (caller frees). */
static struct naive_word *
naive_words(const unsigned char *text, const uint64_t *offs, size_t ndocs,
            size_t *nwords)
{
    struct naive_word *w = NULL;
    size_t n = 0, cap = 0;
    for (size_t d = 0; d < ndocs; d++) {
        for (size_t i = offs[d]; i < offs[d + 1];) {
            size_t e = bpe_pretoken_end(text, offs[d + 1], i);
            if (n == cap) {
                cap = cap ? 2 * cap : 64;
                w = xrealloc(w, cap * sizeof *w);
            }
            w[n].n = e - i;
            w[n].s = xmalloc((e - i) * sizeof *w[n].s);
            for (size_t k = i; k < e; k++)
                w[n].s[k - i] = text[k];
            n++;
            i = e;
        }
    }
    *nwords = n;
    return w;
}

static void
naive_merge(struct naive_word *w, int32_t a, int32_t b, int32_t z)
{
    size_t o = 0;
    for (size_t i = 0; i < w->n;) {
        if (i + 1 < w->n && w->s[i] == a && w->s[i + 1] == b) {
            w->s[o++] = z;
            i += 2;
        } else {
            w->s[o++] = w->s[i++];
        }
    }
    w->n = o;
}

/* All merges possible on the corpus (as (left, right) pairs); returns the
 * count.  Recounts every pair at every step; vocabularies stay < maxv. */
static int
naive_train(const unsigned char *text, const uint64_t *offs, size_t ndocs,
            int maxv, int32_t *merges)
{
    size_t nw;
    struct naive_word *w = naive_words(text, offs, ndocs, &nw);
    long long *cnt = xmalloc((size_t)maxv * maxv * sizeof *cnt);
    int nm = 0;
    for (int z = BPE_FIRST_MERGE; z < maxv; z++) {
        memset(cnt, 0, (size_t)maxv * maxv * sizeof *cnt);
        for (size_t i = 0; i < nw; i++)
            for (size_t k = 0; k + 1 < w[i].n; k++)
                cnt[w[i].s[k] * maxv + w[i].s[k + 1]]++;
        long long best = 1;
        int ba = -1, bb = -1;
        for (int a = 0; a < z; a++)
            for (int b = 0; b < z; b++)
                if (cnt[a * maxv + b] > best) {
                    best = cnt[a * maxv + b];
                    ba = a;
                    bb = b;
                }
        if (ba < 0)
            break;
        merges[2 * nm] = ba;
        merges[2 * nm + 1] = bb;
        nm++;
        for (size_t i = 0; i < nw; i++)
            naive_merge(&w[i], ba, bb, z);
    }
    for (size_t i = 0; i < nw; i++)
        free(w[i].s);
    free(w);
    free(cnt);
    return nm;
}

/* Encode by applying every merge in order to every pre-token. */
static int32_t *
naive_encode(const struct bpe *t, const unsigned char *s, size_t n,
             size_t *ntoks)
{
    uint64_t offs[2] = { 0, n };
    size_t nw, total = 0;
    struct naive_word *w = naive_words(s, offs, 1, &nw);
    for (size_t i = 0; i < nw; i++) {
        for (int r = 0; r < t->nmerges; r++)
            naive_merge(&w[i], (int32_t)t->merges[2 * r],
                        (int32_t)t->merges[2 * r + 1], BPE_FIRST_MERGE + r);
        total += w[i].n;
    }
    int32_t *out = xmalloc((total ? total : 1) * sizeof *out);
    *ntoks = 0;
    for (size_t i = 0; i < nw; i++) {
        memcpy(out + *ntoks, w[i].s, w[i].n * sizeof *out);
        *ntoks += w[i].n;
        free(w[i].s);
    }
    free(w);
    return out;
}

/* ---- helpers --------------------------------------------------------- */

static enum gr_status
train_str(struct bpe *t, const char *text, int vocab, struct gr_error *err)
{
    uint64_t offs[2] = { 0, strlen(text) };
    return bpe_train(t, (const unsigned char *)text, offs, 1, vocab, NULL,
                     err);
}

/* Encode then decode s; 1 if the bytes come back and all ids are plain. */
static int
round_trips(const struct bpe *t, const unsigned char *s, size_t n)
{
    int32_t *toks = NULL;
    size_t nt = 0, cap = 0, len = 0;
    struct gr_error err;
    if (bpe_encode(t, s, n, &toks, &nt, &cap, &err) != GR_OK) {
        fprintf(stderr, "encode failed: %s\n", err.msg);
        return 0;
    }
    int ok = 1;
    for (size_t i = 0; i < nt; i++)
        if (toks[i] < 0 || toks[i] >= t->vocab_size
            || (toks[i] >= BPE_ENDOFTEXT && toks[i] < BPE_FIRST_MERGE))
            ok = 0;
    char *back = bpe_decode(t, toks, nt, &len);
    ok = ok && len == n && memcmp(back, s, n) == 0 && back[len] == '\0';
    free(back);
    free(toks);
    return ok;
}

/* Random text: raw bytes, code points, whitespace runs, words, runs. */
static size_t
random_text(struct gr_rng *r, unsigned char *buf, size_t max)
{
    static const char *pieces[] = {
        " ", "  ", "\n", "\n\n", "\t", " \n ", "\r\n", "the", " the", "'s",
        "'ll", "don't", "42", " 3.14", "!!", "...", "é", "日本", "\u00a0",
        "\u3000", "<|end|>", "<|endoftext|>", "aaaaaaaaaa", "ab",
    };
    size_t n = 0, want = (size_t)rng_below(r, max / 4 + 1);
    while (n < want && n + 64 < max) {
        switch (rng_below(r, 6)) {
        case 0:                 /* raw byte, often invalid UTF-8 */
            buf[n++] = (unsigned char)rng_below(r, 256);
            break;
        case 1: {               /* a random code point, UTF-8 encoded */
            uint32_t c = (uint32_t)rng_below(r, 0x110000);
            if (c >= 0xD800 && c < 0xE000)
                c = 'x';
            if (c < 0x80) {
                buf[n++] = (unsigned char)c;
            } else if (c < 0x800) {
                buf[n++] = (unsigned char)(0xC0 | c >> 6);
                buf[n++] = (unsigned char)(0x80 | (c & 0x3F));
            } else if (c < 0x10000) {
                buf[n++] = (unsigned char)(0xE0 | c >> 12);
                buf[n++] = (unsigned char)(0x80 | ((c >> 6) & 0x3F));
                buf[n++] = (unsigned char)(0x80 | (c & 0x3F));
            } else {
                buf[n++] = (unsigned char)(0xF0 | c >> 18);
                buf[n++] = (unsigned char)(0x80 | ((c >> 12) & 0x3F));
                buf[n++] = (unsigned char)(0x80 | ((c >> 6) & 0x3F));
                buf[n++] = (unsigned char)(0x80 | (c & 0x3F));
            }
            break;
        }
        case 2: {               /* a whitespace run, sometimes long */
            size_t k = (size_t)rng_below(r, rng_below(r, 8) ? 6 : 60);
            for (size_t i = 0; i < k && n + 64 < max; i++)
                buf[n++] = " \n\t "[rng_below(r, 4)];
            break;
        }
        case 3: case 4: {       /* a known piece */
            const char *p = pieces[rng_below(r, sizeof pieces / sizeof *pieces)];
            size_t k = strlen(p);
            memcpy(buf + n, p, k);
            n += k;
            break;
        }
        default:                /* ASCII letters */
            for (size_t i = rng_below(r, 8); i > 0; i--)
                buf[n++] = (unsigned char)('a' + rng_below(r, 4));
            break;
        }
    }
    return n;
}

/* ---- training by hand ------------------------------------------------ */

static void
test_train_by_hand(void)
{
    struct bpe t;
    struct gr_error err;
    bpe_init(&t);

    /* "aaabdaaabac": aa (4) first; then ab and (aa)a tie at 2 and the
     * lower ids win: ab; then (aa)(ab) at 2; then every pair is single. */
    CHECK_EQ_INT(train_str(&t, "aaabdaaabac", 264, &err), GR_OK);
    CHECK_EQ_INT(t.vocab_size, 264);
    CHECK_EQ_INT(t.nmerges, 3);
    CHECK_EQ_INT(t.merges[0], 'a');
    CHECK_EQ_INT(t.merges[1], 'a');
    CHECK_EQ_INT(t.merges[2], 'a');
    CHECK_EQ_INT(t.merges[3], 'b');
    CHECK_EQ_INT(t.merges[4], 261);
    CHECK_EQ_INT(t.merges[5], 262);
    const unsigned char *b;
    size_t n = bpe_token_bytes(&t, 263, &b);
    CHECK(n == 4 && memcmp(b, "aaab", 4) == 0);

    int32_t *toks = NULL;
    size_t nt = 0, cap = 0;
    CHECK_EQ_INT(bpe_encode(&t, "aaabdaaabac", 11, &toks, &nt, &cap, &err), GR_OK);
    CHECK_EQ_INT(nt, 5);
    if (nt == 5) {
        CHECK_EQ_INT(toks[0], 263);
        CHECK_EQ_INT(toks[1], 'd');
        CHECK_EQ_INT(toks[2], 263);
        CHECK_EQ_INT(toks[3], 'a');
        CHECK_EQ_INT(toks[4], 'c');
    }
    /* encode appends */
    CHECK_EQ_INT(bpe_encode(&t, "aa ab", 5, &toks, &nt, &cap, &err), GR_OK);
    CHECK_EQ_INT(nt, 8);
    if (nt == 8) {
        CHECK_EQ_INT(toks[5], 261);
        CHECK_EQ_INT(toks[6], ' ');     /* " ab" is not a merge */
        CHECK_EQ_INT(toks[7], 262);
    }
    size_t len;
    char *s = bpe_decode(&t, toks, nt, &len);
    CHECK_STR(s, "aaabdaaabacaa ab");
    CHECK_EQ_INT(len, 16);
    free(s);
    free(toks);

    /* one more merge than the corpus allows */
    CHECK_EQ_INT(train_str(&t, "aaabdaaabac", 265, &err), GR_EINPUT);
    CHECK_STR(err.msg, "vocab_size 265 is too large for this corpus: only 3 "
              "merges are possible (try vocab_size <= 264)");
    CHECK_EQ_INT(t.vocab_size, 264);           /* unchanged on failure */

    /* merges never cross pre-tokens: "x.x.x." has no pair inside one */
    CHECK_EQ_INT(train_str(&t, "x.x.x.x.", 262, &err), GR_EINPUT);
    CHECK_STR(err.msg, "vocab_size 262 is too large for this corpus: no pair "
              "of bytes repeats");

    /* "ab ab ab": ab (3), then " "(ab) (2); never b+" " */
    CHECK_EQ_INT(train_str(&t, "ab ab ab", 263, &err), GR_OK);
    CHECK(t.merges[0] == 'a' && t.merges[1] == 'b');
    CHECK(t.merges[2] == ' ' && t.merges[3] == 261);
    CHECK_EQ_INT(train_str(&t, "ab ab ab", 264, &err), GR_EINPUT);

    /* ... nor documents: "ab|ab|ab" as three documents allow one merge,
     * as one document "ababab" two */
    const unsigned char *ab = (const unsigned char *)"ababab";
    uint64_t three[4] = { 0, 2, 4, 6 }, one[2] = { 0, 6 };
    CHECK_EQ_INT(bpe_train(&t, ab, three, 3, 263, NULL, &err), GR_EINPUT);
    CHECK_EQ_INT(bpe_train(&t, ab, one, 1, 263, NULL, &err), GR_OK);
    CHECK(t.merges[2] == 261 && t.merges[3] == 261);

    /* bad arguments */
    CHECK_EQ_INT(train_str(&t, "aaaa", 261, &err), GR_EINPUT);
    CHECK_EQ_INT(train_str(&t, "aaaa", 65537, &err), GR_EINPUT);
    uint64_t backwards[3] = { 0, 4, 2 };
    CHECK_EQ_INT(bpe_train(&t, ab, backwards, 2, 262, NULL, &err), GR_EINPUT);

    /* an empty tokenizer refuses to encode */
    struct bpe empty;
    bpe_init(&empty);
    toks = NULL;
    nt = cap = 0;
    CHECK_EQ_INT(bpe_encode(&empty, "x", 1, &toks, &nt, &cap, &err), GR_ESTATE);
    free(toks);
    bpe_release(&empty);
    bpe_release(&t);
    bpe_release(&t);            /* twice is fine */
}

/* ---- against the naive reference ------------------------------------- */

static void
test_against_naive(void)
{
    struct gr_rng r;
    rng_seed(&r, 7);
    enum { MAXV = 1200 };
    int32_t *want = xmalloc(2 * MAXV * sizeof *want);
    unsigned char *text = xmalloc(1 << 14);
    for (int round = 0; round < 12; round++) {
        /* a corpus of a few documents over a small alphabet, so pairs repeat */
        static const char alpha[] = "aabbc  '\n.1s";
        size_t n = 1000 + (size_t)rng_below(&r, 3000);
        for (size_t i = 0; i < n; i++)
            text[i] = (unsigned char)alpha[rng_below(&r, sizeof alpha - 1)];
        if (round % 3 == 0) {           /* long runs for encode_long */
            for (size_t i = 0; i < 200; i++)
                text[100 + i] = 'a';
            for (size_t i = 0; i < 150; i++)
                text[400 + i] = i % 2 ? 'b' : 'a';
        }
        uint64_t offs[5] = { 0, n / 4, n / 2, n / 2, n };
        int nm = naive_train(text, offs, 4, MAXV, want);
        CHECK(nm > 10 && nm < MAXV - BPE_FIRST_MERGE);

        struct bpe t;
        struct gr_error err;
        bpe_init(&t);
        CHECK_EQ_INT(bpe_train(&t, text, offs, 4, BPE_FIRST_MERGE + nm + 1,
                               NULL, &err), GR_EINPUT);
        CHECK_EQ_INT(bpe_train(&t, text, offs, 4, BPE_FIRST_MERGE + nm,
                               NULL, &err), GR_OK);
        int same = t.nmerges == nm;
        for (int i = 0; same && i < 2 * nm; i++)
            same = (int32_t)t.merges[i] == want[i];
        CHECK_MSG(same, "round %d: merges differ from the naive trainer", round);

        /* encoding: corpus, then random strings over the alphabet */
        for (int k = 0; k < 40; k++) {
            size_t len = k == 0 ? n : (size_t)rng_below(&r, 400);
            unsigned char *s = k == 0 ? text : text + n;
            if (k)
                for (size_t i = 0; i < len; i++)
                    s[i] = (unsigned char)alpha[rng_below(&r, sizeof alpha - 1)];
            if (k % 5 == 1)
                memset(s, rng_below(&r, 2) ? 'a' : ' ', len);
            size_t nref, nt = 0, cap = 0;
            int32_t *ref = naive_encode(&t, s, len, &nref), *got = NULL;
            CHECK_EQ_INT(bpe_encode(&t, s, len, &got, &nt, &cap, &err), GR_OK);
            int eq = nt == nref && (nt == 0 || memcmp(got, ref, nt * sizeof *got) == 0);
            CHECK_MSG(eq, "round %d, string %d: encoding differs (%zu vs %zu tokens)",
                      round, k, nt, nref);
            free(ref);
            free(got);
        }
        bpe_release(&t);
    }
    free(want);
    free(text);
}

/* ---- round trips, specials ------------------------------------------- */

static const char corpus[] =
    "The quick brown fox jumps over the lazy dog. It's the dog's day; "
    "they're sure we'll see. Numbers: 1 22 333 4444 3.14159!\n\n"
    "  Indented   text\twith\ttabs and <|end|> markers <|user|> too.\n"
    "héllo wörld, 日本語のテキスト, ¿qué tal?  The end.\n";

static void
test_round_trip(struct bpe *t)
{
    struct gr_rng r;
    rng_seed(&r, 42);
    unsigned char *buf = xmalloc(4096);
    int bad = 0;
    for (int i = 0; i < 4000; i++) {
        size_t n = random_text(&r, buf, 4096);
        if (!round_trips(t, buf, n) && bad++ < 5)
            fprintf(stderr, "round trip %d failed (%zu bytes)\n", i, n);
    }
    for (int i = 0; i < 2000; i++) {     /* raw random bytes */
        size_t n = (size_t)rng_below(&r, 64);
        for (size_t k = 0; k < n; k++)
            buf[k] = (unsigned char)rng_below(&r, 256);
        if (!round_trips(t, buf, n) && bad++ < 5)
            fprintf(stderr, "raw round trip %d failed\n", i);
    }
    memset(buf, ' ', 3000);             /* long runs */
    CHECK(round_trips(t, buf, 3000));
    memset(buf, 'e', 3000);
    CHECK(round_trips(t, buf, 3000));
    memset(buf, 0xff, 3000);
    CHECK(round_trips(t, buf, 3000));
    CHECK(round_trips(t, buf, 0));
    CHECK_EQ_INT(bad, 0);
    free(buf);
}

static void
test_specials(struct bpe *t)
{
    CHECK_STR(bpe_special_name(BPE_ENDOFTEXT), "<|endoftext|>");
    CHECK_STR(bpe_special_name(BPE_USER), "<|user|>");
    CHECK_STR(bpe_special_name(BPE_ASSISTANT), "<|assistant|>");
    CHECK_STR(bpe_special_name(BPE_END), "<|end|>");
    CHECK_STR(bpe_special_name(BPE_MASK), "<|mask|>");
    CHECK(bpe_special_name(255) == NULL);
    CHECK(bpe_special_name(BPE_FIRST_MERGE) == NULL);
    CHECK(bpe_special_name(-1) == NULL);
    CHECK_EQ_INT(BPE_FIRST_MERGE, 261);

    const char *texts[] = { "<|end|>", "<|endoftext|>", "x<|user|>y",
                            "<|assistant|><|mask|>" };
    for (size_t i = 0; i < sizeof texts / sizeof *texts; i++)
        CHECK(round_trips(t, (const unsigned char *)texts[i], strlen(texts[i])));

    int32_t ids[] = { BPE_USER, 'h', 'i', BPE_END, BPE_ASSISTANT,
                      BPE_ENDOFTEXT, BPE_MASK, -5, 1 << 20 };
    size_t len;
    char *s = bpe_decode(t, ids, sizeof ids / sizeof *ids, &len);
    CHECK_STR(s, "<|user|>hi<|end|><|assistant|><|endoftext|><|mask|>");
    CHECK_EQ_INT(len, strlen(s));
    free(s);
    s = bpe_decode(t, NULL, 0, NULL);
    CHECK_STR(s, "");
    free(s);

    const unsigned char *b;
    CHECK_EQ_INT(bpe_token_bytes(t, BPE_END, &b), 7);
    CHECK(memcmp(b, "<|end|>", 7) == 0);
    CHECK_EQ_INT(bpe_token_bytes(t, 'Q', &b), 1);
    CHECK_EQ_INT(b[0], 'Q');
    CHECK_EQ_INT(bpe_token_bytes(t, t->vocab_size, &b), 0);
    CHECK_EQ_INT(bpe_token_bytes(t, -1, &b), 0);
    for (int id = BPE_FIRST_MERGE; id < t->vocab_size; id++)
        CHECK(bpe_token_bytes(t, id, NULL) >= 2);
}

/* ---- threads ---------------------------------------------------------- */

struct job {
    const struct bpe *t;
    int ok;
};

static void *
encode_many(void *arg)
{
    struct job *j = arg;
    j->ok = 1;
    for (int i = 0; i < 200; i++)
        j->ok &= round_trips(j->t, (const unsigned char *)corpus,
                             sizeof corpus - 1);
    return NULL;
}

static void
test_threads(const struct bpe *t)
{
    pthread_t th[4];
    struct job jobs[4];
    for (int i = 0; i < 4; i++) {
        jobs[i] = (struct job){ t, 0 };
        CHECK(pthread_create(&th[i], NULL, encode_many, &jobs[i]) == 0);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        CHECK(jobs[i].ok);
    }
}

/* ---- progress ---------------------------------------------------------- */

struct seen {
    int n;
    double done, total;
    char text[GR_METRIC_TEXT];
};

static void
on_metric(void *ctx, const struct gr_metric *rec)
{
    struct seen *s = ctx;
    if (strcmp(rec->kind, "progress") != 0)
        return;
    s->n++;
    s->done = metric_get(rec, "done", -1);
    s->total = metric_get(rec, "total", -1);
    snprintf(s->text, sizeof s->text, "%s", rec->text);
}

/* ---- files ------------------------------------------------------------- */

static unsigned char *
slurp(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    unsigned char *buf = xmalloc(1 << 20);
    *n = f ? fread(buf, 1, 1 << 20, f) : 0;
    if (f)
        fclose(f);
    return buf;
}

static void
spit(const char *path, const unsigned char *buf, size_t n)
{
    FILE *f = fopen(path, "wb");
    if (!f)
        return;
    fwrite(buf, 1, n, f);
    fclose(f);
}

static void
check_rejected(const char *path, const char *what)
{
    struct bpe t;
    struct gr_error err;
    bpe_init(&t);
    enum gr_status rc = bpe_load(&t, path, &err);
    CHECK_MSG(rc == GR_ECORRUPT, "%s: status %s", what, gr_status_name(rc));
    CHECK_MSG(strstr(err.msg, path) != NULL, "%s: message '%s' lacks the path",
              what, err.msg);
    CHECK_EQ_INT(t.vocab_size, 0);
    bpe_release(&t);
}

static void
test_files(const struct bpe *t)
{
    char path[64], bad[80];
    snprintf(path, sizeof path, "test-bpe-%ld.tok", (long)getpid());
    snprintf(bad, sizeof bad, "%s.bad", path);
    struct gr_error err;
    struct bpe u;
    bpe_init(&u);

    CHECK_EQ_INT(bpe_save(t, path, &err), GR_OK);
    CHECK_EQ_INT(bpe_load(&u, path, &err), GR_OK);
    CHECK_EQ_INT(u.vocab_size, t->vocab_size);
    CHECK_EQ_INT(u.nmerges, t->nmerges);
    CHECK(u.hash == t->hash && t->hash != 0);
    CHECK(memcmp(u.merges, t->merges, 2 * (size_t)t->nmerges * sizeof *t->merges) == 0);
    int32_t *a = NULL, *b = NULL;
    size_t na = 0, ca = 0, nb = 0, cb = 0;
    bpe_encode(t, corpus, sizeof corpus - 1, &a, &na, &ca, &err);
    bpe_encode(&u, corpus, sizeof corpus - 1, &b, &nb, &cb, &err);
    CHECK(na == nb && memcmp(a, b, na * sizeof *a) == 0);
    CHECK(na < (sizeof corpus - 1) / 2);        /* it does compress */
    free(a);
    free(b);

    size_t n;
    unsigned char *img = slurp(path, &n);
    CHECK_EQ_INT(n, 20 + 8 * (size_t)t->nmerges + 8);
    CHECK(memcmp(img, "GRBPE\0\0\1", 8) == 0);

    /* truncations */
    size_t cuts[] = { 0, 5, 8, 19, 27, n / 2, n - 8, n - 1 };
    for (size_t i = 0; i < sizeof cuts / sizeof *cuts; i++) {
        spit(bad, img, cuts[i]);
        check_rejected(bad, "truncated");
    }
    /* one flipped bit, anywhere */
    for (size_t i = 0; i < n; i++) {
        for (int bit = 0; bit < 8; bit += 7) {
            img[i] ^= (unsigned char)(1u << bit);
            spit(bad, img, n);
            img[i] ^= (unsigned char)(1u << bit);
            char what[64];
            snprintf(what, sizeof what, "byte %zu bit %d flipped", i, bit);
            check_rejected(bad, what);
        }
    }
    /* a trailing byte, another version */
    img[n] = 0;
    spit(bad, img, n + 1);
    check_rejected(bad, "trailing byte");
    img[8] = 2;
    spit(bad, img, n);
    check_rejected(bad, "version 2");
    CHECK(bpe_load(&u, bad, &err) == GR_ECORRUPT && strstr(err.msg, "version 2"));
    CHECK_EQ_INT(u.vocab_size, t->vocab_size);  /* unchanged on failure */

    /* a missing file is an error too, not a crash */
    unlink(bad);
    CHECK(bpe_load(&u, bad, &err) != GR_OK);

    struct bpe empty;
    bpe_init(&empty);
    CHECK_EQ_INT(bpe_save(&empty, bad, &err), GR_ESTATE);
    free(img);
    unlink(path);
    unlink(bad);
    bpe_release(&u);
}

int
main(void)
{
    test_pretokenize();
    test_train_by_hand();
    test_against_naive();

    /* a small general tokenizer for the rest */
    struct bpe t, t2;
    struct gr_error err;
    struct gr_metrics m;
    struct seen seen = { 0 };
    bpe_init(&t);
    bpe_init(&t2);
    size_t reps = 40, clen = sizeof corpus - 1;
    unsigned char *text = xmalloc(reps * clen);
    uint64_t *offs = xmalloc((reps + 1) * sizeof *offs);
    for (size_t i = 0; i < reps; i++) {
        memcpy(text + i * clen, corpus, clen);
        text[i * clen + i % clen] = (unsigned char)('a' + i % 26);  /* vary */
        offs[i] = i * clen;
    }
    offs[reps] = reps * clen;
    metrics_init(&m, on_metric, &seen, 0);
    CHECK_EQ_INT(bpe_train(&t, text, offs, reps, 400, &m, &err), GR_OK);
    CHECK(seen.n >= 2);
    CHECK_EQ_INT(seen.done, 400 - BPE_FIRST_MERGE);
    CHECK_EQ_INT(seen.total, 400 - BPE_FIRST_MERGE);
    CHECK_STR(seen.text, "tokenizer|merges");
    metrics_release(&m);
    CHECK_EQ_INT(bpe_train(&t2, text, offs, reps, 400, NULL, &err), GR_OK);
    CHECK(t.hash == t2.hash);                   /* deterministic */
    CHECK_EQ_INT(bpe_train(&t2, text, offs, reps, 300, NULL, &err), GR_OK);
    CHECK(t.hash != t2.hash);
    /* a stop request: GR_ESTOPPED, the tokenizer as it was; no stop: the
     * same tokenizer as bpe_train's */
    atomic_int stop = 1;
    uint64_t before = t2.hash;
    CHECK_EQ_INT(bpe_train_until(&t2, text, offs, reps, 400, NULL, &stop, &err),
                 GR_ESTOPPED);
    CHECK(strstr(err.msg, "stopped") != NULL);
    CHECK(t2.hash == before && t2.vocab_size == 300);
    atomic_store(&stop, 0);
    CHECK_EQ_INT(bpe_train_until(&t2, text, offs, reps, 400, NULL, &stop, &err), GR_OK);
    CHECK(t2.hash == t.hash);

    test_round_trip(&t);
    test_specials(&t);
    test_threads(&t);
    test_files(&t);

    free(text);
    free(offs);
    bpe_release(&t);
    bpe_release(&t2);
    return check_exit();
}
