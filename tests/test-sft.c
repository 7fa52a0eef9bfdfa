/* tests/test-sft.c: the pieces of fine-tuning and chat on their own.
 * The batch row masks the prompt (loss on the assistant's tokens and its
 * <|end|> only), pads and cuts; the validation split depends on the seed
 * and the texts, not the order; the mix share adds up; and a
 * conversation with a small untrained model: streaming with a stop,
 * dropping the oldest turns, the KV cache kept between turns giving the
 * same answers as feeding everything again, slash commands, the saved
 * transcript. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "app/workspace.h"
#include "base/fsio.h"
#include "base/xalloc.h"
#include "check.h"
#include "kernels/blas.h"
#include "model/checkpoint.h"
#include "stages/chat.h"
#include "stages/sft.h"
#include "text/chat.h"
#include "text/labels.h"

static const char corpus[] =
    "hello there, how are you? i am fine, thank you. what is the time? "
    "it is time for tea. hello there, general. the cat sat on the mat. ";

static void
test_fill_row(const struct bpe *t)
{
    struct chat_turn turns[2] = {
        { CHAT_USER, "what is the time?", (size_t)-1 },
        { CHAT_ASSISTANT, "it is time for tea.", (size_t)-1 },
    };
    int32_t *toks = NULL;
    uint8_t *mask = NULL;
    size_t n = 0, cap = 0, plen = 0, pn = 0, pcap = 0;
    int32_t *pt = NULL;
    struct gr_error err;
    CHECK(chat_encode(t, turns, 2, 0, &toks, &mask, &n, &cap, &err) == GR_OK);
    CHECK(chat_encode_pair(t, turns[0].text, NULL, &pt, &pn, &pcap, &plen, &err) == GR_OK);
    size_t nans = n - plen;                 /* answer tokens and <|end|> */

    enum { T = 64 };
    int32_t in[T], tg[T];
    int count = sft_fill_row(toks, mask, n, T, in, tg);
    CHECK_EQ_INT(count, nans);
    for (int i = 0; i < T; i++) {
        size_t u = (size_t)i;
        if (u < n)
            CHECK_EQ_INT(in[i], toks[u]);
        else
            CHECK_EQ_INT(in[i], BPE_ENDOFTEXT);           /* padding */
        /* position i predicts token i+1: a target exactly when that token
         * is the assistant's; the prompt, <|assistant|> itself and the
         * padding are ignored */
        if (u + 1 >= plen && u + 1 < n)
            CHECK_EQ_INT(tg[i], toks[u + 1]);
        else
            CHECK_EQ_INT(tg[i], -1);
    }
    CHECK_EQ_INT(tg[plen - 1], toks[plen]);     /* <|assistant|> predicts the answer */
    CHECK_EQ_INT(tg[n - 2], BPE_END);           /* ... and the answer its end */
    CHECK_EQ_INT(in[plen - 1], BPE_ASSISTANT);

    /* cut: a row shorter than the conversation keeps its start */
    int Tc = (int)plen + 2;
    count = sft_fill_row(toks, mask, n, Tc, in, tg);
    CHECK_EQ_INT(count, 3);
    CHECK_EQ_INT(tg[Tc - 1], toks[(size_t)Tc]);
    /* a prompt that fills the row leaves nothing to learn */
    CHECK_EQ_INT(sft_fill_row(toks, mask, n, (int)plen - 1, in, tg), 0);
    free(toks);
    free(mask);
    free(pt);
}

static void
test_split(void)
{
    struct demo_set a, b;
    demos_init(&a);
    demos_init(&b);
    enum { N = 40 };
    for (int i = 0; i < N; i++) {
        char p[32], q[32];
        snprintf(p, sizeof p, "question %d", i);
        snprintf(q, sizeof q, "answer %d", i);
        struct demo d;
        demo_from_pair(&d, p, q);
        demos_push(&a, &d);
    }
    for (int i = N - 1; i >= 0; i--) {          /* the same, reversed */
        struct demo d;
        demo_from_pair(&d, a.v[i].turns[0].text, a.v[i].turns[1].text);
        demos_push(&b, &d);
    }
    uint8_t va[N], vb[N], vc[N];
    CHECK_EQ_INT(sft_split(&a, 0.1, 7, va), 4);
    CHECK_EQ_INT(sft_split(&b, 0.1, 7, vb), 4);
    for (int i = 0; i < N; i++)
        CHECK_EQ_INT(va[i], vb[N - 1 - i]);
    CHECK_EQ_INT(sft_split(&a, 0.1, 8, vc), 4);
    CHECK(memcmp(va, vc, N) != 0);              /* another seed, another choice */
    CHECK_EQ_INT(sft_split(&a, 0, 7, vc), 0);
    CHECK_EQ_INT(sft_split(&a, 0.001, 7, vc), 1);   /* at least one */
    a.n = 1;
    CHECK_EQ_INT(sft_split(&a, 0.5, 7, vc), 0);     /* never all */
    a.n = 2;
    CHECK_EQ_INT(sft_split(&a, 0.5, 7, vc), 1);
    a.n = N;
    demos_release(&a);
    demos_release(&b);
}

static void
test_mix(void)
{
    long long sum = 0;
    for (long long s = 0; s < 100; s++) {
        int k = sft_mix_rows(s, 0.25, 6);
        CHECK(k == 1 || k == 2);
        sum += k;
    }
    CHECK_EQ_INT(sum, 150);
    CHECK_EQ_INT(sft_mix_rows(3, 0, 8), 0);
    CHECK_EQ_INT(sft_mix_rows(3, 0.5, 8), 4);
}

/* ---- a conversation -------------------------------------------------- */

static const char *dir = "tests/tmp-test-sft";

static int stop_after;

static int
count_tokens(void *ud, const char *bytes, size_t n)
{
    (void)bytes;
    (void)n;
    int *k = ud;
    return ++*k == stop_after;
}

static void
make_workspace(const struct bpe *t, int T)
{
    struct gr_error err;
    CHECK(system("rm -rf tests/tmp-test-sft") == 0);
    CHECK(workspace_init(dir, 5, &err) == GR_OK);
    struct workspace ws;
    CHECK(workspace_open(&ws, dir, &err) == GR_OK);
    char *tp = workspace_path(&ws, "tokenizer.bin");
    CHECK(bpe_save(t, tp, &err) == GR_OK);
    struct gpt_config cfg = { .L = 1, .NH = 2, .C = 16, .T = T, .V = t->vocab_size };
    struct gpt m;
    struct gr_rng rng;
    CHECK(gpt_create(&m, &cfg, &err) == GR_OK);
    rng_seed(&rng, 3);
    gpt_init_weights(&m, &rng);
    struct ckpt_meta meta;
    ckpt_meta_init(&meta);
    snprintf(meta.kind, sizeof meta.kind, "base");
    meta.cfg = cfg;
    meta.tok_hash = t->hash;
    meta.step = 1;
    char *cp = workspace_path(&ws, "checkpoints/base-000001.ckpt");
    CHECK(ckpt_save(cp, &m, &meta, NULL, &err) == GR_OK);
    free(cp);
    free(tp);
    gpt_release(&m);
    ckpt_meta_release(&meta);
    workspace_release(&ws);
}

static void
test_conversation(void)
{
    struct gr_error err;
    struct workspace ws;
    CHECK(workspace_open(&ws, dir, &err) == GR_OK);
    struct chat_opts o = { .max_tokens = 6, .seed = 1 };
    o.so = sampler_defaults();
    o.so.temperature = 1;       /* an untrained model's greedy answer is empty */
    struct chat c, d;
    CHECK_MSG(chat_open(&c, &ws, NULL, &o, &err) == GR_OK, "%s", err.msg);
    CHECK(strstr(c.ckpt, "base-000001.ckpt") != NULL);

    /* the callback sees each token and can stop the answer (an untrained
     * model may end at once: try a few messages) */
    struct chat_reply_info info;
    struct chat e;
    CHECK_MSG(chat_open(&e, &ws, NULL, &o, &err) == GR_OK, "%s", err.msg);
    const char *tries[] = { "hello there", "the cat", "what is the time?", "i am fine",
                            "thank you", "general", NULL };
    int stopped = 0;
    stop_after = 2;
    for (int i = 0; tries[i] && !stopped; i++) {
        int k = 0;
        CHECK(chat_reply(&e, tries[i], count_tokens, &k, &info, &err) == GR_OK);
        CHECK_EQ_INT(k, info.ntokens);
        CHECK(info.ntokens <= 2);
        CHECK_EQ_INT(info.stopped, info.ntokens == 2);
        stopped = info.stopped;
        CHECK_EQ_INT(e.nturns, 2 * (size_t)(i + 1));
        CHECK_STR(e.turns[2 * i].text, tries[i]);
        CHECK_EQ_INT(e.turns[2 * i + 1].role, CHAT_ASSISTANT);
    }
    CHECK(stopped);
    chat_close(&e);
    stop_after = 0;
    int k = 0;
    CHECK(chat_reply(&c, "hello there", count_tokens, &k, &info, &err) == GR_OK);
    CHECK_EQ_INT(c.nturns, 2);
    CHECK_EQ_INT(c.turns[0].role, CHAT_USER);
    CHECK_STR(c.turns[0].text, "hello there");

    /* more turns: the cache is reused; feeding everything again from an
     * empty cache gives the same answers */
    const char *msgs[] = { "what is the time?", "the cat sat", "tea?", "i am fine",
                           "how are you? how are you? how are you?", NULL };
    CHECK_MSG(chat_open(&d, &ws, "base", &o, &err) == GR_OK, "%s", err.msg);
    k = 0;
    CHECK(chat_reply(&d, "hello there", count_tokens, &k, NULL, &err) == GR_OK);
    CHECK_STR(c.turns[1].text, d.turns[1].text);   /* the same seed */
    size_t dropped = 0;
    int generated = 0;
    for (int i = 0; msgs[i]; i++) {
        struct chat_reply_info ic, id;
        CHECK(chat_reply(&c, msgs[i], NULL, NULL, &ic, &err) == GR_OK);
        kvcache_reset(&d.kv);
        CHECK(chat_reply(&d, msgs[i], NULL, NULL, &id, &err) == GR_OK);
        CHECK_EQ_INT(c.nturns, d.nturns);
        CHECK_STR(c.turns[c.nturns - 1].text, d.turns[d.nturns - 1].text);
        CHECK_EQ_INT(ic.dropped, id.dropped);
        dropped += ic.dropped;
        generated += ic.ntokens;
        CHECK(c.nctx <= (size_t)c.model.cfg.T - 6);
    }
    CHECK_MSG(generated > 5, "generated %d", generated);
    /* the context of 40 tokens cannot hold six questions and answers */
    CHECK(dropped > 0 && dropped % 2 == 0);
    CHECK_EQ_INT(c.first, dropped);
    CHECK_EQ_INT(c.turns[c.first].role, CHAT_USER);
    CHECK_EQ_INT(c.nturns, 12);                 /* the transcript keeps all */

    /* a message longer than the context keeps its end */
    char *lng = xstrdup("");
    for (int i = 0; i < 20; i++) {
        char *t = xasprintf("%s the cat sat on the mat", lng);
        free(lng);
        lng = t;
    }
    CHECK(chat_reply(&c, lng, NULL, NULL, &info, &err) == GR_OK);
    CHECK(info.prompt_cut);
    CHECK_EQ_INT(c.nctx, c.model.cfg.T - 6);
    CHECK_EQ_INT(c.ctx_toks[0], BPE_USER);
    CHECK_EQ_INT(c.ctx_toks[c.nctx - 1], BPE_ASSISTANT);
    free(lng);

    /* slash commands */
    char *reply;
    int quit;
    CHECK(chat_slash(&c, "/temp 0.5", &reply, &quit, &err) == GR_OK);
    CHECK_STR(reply, "temperature 0.5");
    free(reply);
    CHECK(c.o.so.temperature == 0.5f);
    CHECK(chat_slash(&c, "/temp 11", &reply, &quit, &err) == GR_EINPUT);
    CHECK_STR(err.msg, "/temp must be between 0 and 10, got 11");
    CHECK(reply == NULL && c.o.so.temperature == 0.5f);
    CHECK(chat_slash(&c, "/top_k 1.5", &reply, &quit, &err) == GR_EINPUT);
    CHECK(chat_slash(&c, "/top_k 7", &reply, &quit, &err) == GR_OK);
    free(reply);
    CHECK_EQ_INT(c.o.so.top_k, 7);
    CHECK(chat_slash(&c, "/max_tokens   9 ", &reply, &quit, &err) == GR_OK);
    CHECK_STR(reply, "max_tokens 9");
    free(reply);
    CHECK(chat_slash(&c, "/seed 4", &reply, &quit, &err) == GR_OK);
    free(reply);
    CHECK_EQ_INT(c.o.seed, 4);
    CHECK(chat_slash(&c, "/model nowhere.ckpt", &reply, &quit, &err) == GR_EINPUT);
    CHECK(chat_slash(&c, "/model sft", &reply, &quit, &err) == GR_ESTATE);
    CHECK_STR(err.msg, "there is no sft checkpoint yet");
    CHECK(strstr(c.ckpt, "base-000001.ckpt") != NULL);     /* unchanged */
    CHECK(chat_slash(&c, "/help", &reply, &quit, &err) == GR_OK);
    CHECK(reply && strstr(reply, "/save FILE") && strstr(reply, "/reset"));
    free(reply);
    CHECK(chat_slash(&c, "/nope", &reply, &quit, &err) == GR_EINPUT);
    CHECK_STR(err.msg, "unknown command /nope (/help lists them)");

    /* the transcript, as demos import reads it */
    char *path = xasprintf("%s/t.jsonl", dir);
    CHECK(chat_slash(&c, "/save", &reply, &quit, &err) == GR_EINPUT);
    char *cmd = xasprintf("/save %s", path);
    CHECK(chat_slash(&c, cmd, &reply, &quit, &err) == GR_OK);
    free(reply);
    free(cmd);
    struct demo_set s;
    struct labels_bad *bad = NULL;
    size_t nbad = 0;
    demos_init(&s);
    CHECK(demos_read_file(path, 0, &s, &bad, &nbad, &err) == GR_OK);
    CHECK_EQ_INT(s.n + nbad, 1);
    if (s.n == 1) {
        CHECK_EQ_INT(s.v[0].nturns, c.nturns);
        CHECK_STR(s.v[0].turns[2].text, "what is the time?");
    }
    demos_release(&s);
    free(bad);
    free(path);

    CHECK(chat_slash(&c, "/reset", &reply, &quit, &err) == GR_OK);
    free(reply);
    CHECK_EQ_INT(c.nturns, 0);
    CHECK_EQ_INT(c.first, 0);
    CHECK(chat_slash(&c, "/quit", &reply, &quit, &err) == GR_OK);
    CHECK(quit == 1 && reply == NULL);

    chat_close(&c);
    chat_close(&d);
    workspace_release(&ws);
}

int
main(void)
{
    kernels_set_threads(1);
    struct bpe t;
    struct gr_error err;
    bpe_init(&t);
    uint64_t offs[2] = { 0, sizeof corpus - 1 };
    CHECK_MSG(bpe_train(&t, (const unsigned char *)corpus, offs, 1, 280, NULL, &err) == GR_OK,
              "%s", err.msg);
    test_fill_row(&t);
    test_split();
    test_mix();
    make_workspace(&t, 40);
    test_conversation();
    bpe_release(&t);
    int rc = check_exit();
    if (rc == 0)
        CHECK(system("rm -rf tests/tmp-test-sft") == 0);
    return rc;
}
