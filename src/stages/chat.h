/* chat.h (stages): a conversation with a model, for every front end.
 *
 * The transcript holds every turn; the model sees the newest ones that
 * fit its context, encoded with the chat template (text/chat.h) and
 * ending with an open <|assistant|> turn, with room left for the answer
 * (max_tokens, at most half the context).  When the context overflows,
 * the oldest turns are dropped, a question and its answer at a time,
 * and chat_reply says so; a single message too long for the context
 * keeps its last tokens.  The answer is generated with the KV cache,
 * which keeps the keys and values of the context between turns, so each
 * turn feeds only its new tokens; it ends at <|end|> (or any special
 * token), at max_tokens, at the end of the context, or when the token
 * callback asks to stop.  Slash commands (/temp, /reset, /save, ...)
 * are parsed here, so every front end offers the same ones. */
#ifndef GR_STAGES_CHAT_H
#define GR_STAGES_CHAT_H

#include <stddef.h>
#include <stdint.h>

#include "app/workspace.h"
#include "base/error.h"
#include "base/rng.h"
#include "model/checkpoint.h"
#include "model/gpt.h"
#include "model/sample.h"
#include "text/bpe.h"
#include "text/chat.h"

struct chat_opts {
    struct sampler_opts so;     /* temperature, top_k, top_p, penalty */
    int max_tokens;             /* longest answer, in tokens */
    uint64_t seed;
    enum gpt_precision precision;   /* of the weights generation reads */
};

struct chat_reply_info {
    size_t dropped;             /* turns dropped from the context this time */
    int prompt_cut;             /* the message kept only its last tokens */
    int ntokens;                /* tokens generated */
    int ended;                  /* the model closed its answer (<|end|>) */
    int stopped;                /* the callback asked to stop */
    int cut;                    /* the answer reached the end of the context */
    double seconds;             /* generation time, prompt included */
};

struct chat {
    const struct workspace *ws;
    struct chat_opts o;
    struct gr_rng rng;
    struct bpe tok;
    struct gpt model;
    struct ckpt_meta meta;
    char *ckpt;                 /* path of the loaded checkpoint */
    struct kvcache kv;
    int32_t *cached;            /* (T) the tokens kv holds (kv.len of them) */
    float *logits, *scratch;    /* (V), (2V) */
    int32_t *ctx_toks;          /* the context being built */
    size_t nctx, ctx_cap;
    struct chat_turn *turns;    /* the transcript; texts owned */
    size_t nturns, cap;
    size_t first;               /* oldest turn still in the model's context */
    struct chat_reply_info *cur;    /* the answer in progress (for the token
                                       callback: notices before the text) */
};

/* Receives the bytes of each new token of an answer as it is generated
 * (a multi-byte character may come in pieces); nonzero stops the answer. */
typedef int (*chat_token_fn)(void *ud, const char *bytes, size_t n);

/* Open a conversation in ws with a checkpoint: a path, a kind ("base",
 * "sft", "tuned": its newest), or NULL for the newest of tuned, sft, base.
 * c is zeroed first; release it with chat_close (also after a failure). */
enum gr_status chat_open(struct chat *c, const struct workspace *ws,
                         const char *ckpt, const struct chat_opts *o,
                         struct gr_error *err);
void chat_close(struct chat *c);

/* Switch to another checkpoint (as chat_open takes it), keeping the
 * transcript; on failure the current model stays. */
enum gr_status chat_load(struct chat *c, const char *ckpt, struct gr_error *err);

/* Forget every turn. */
void chat_reset(struct chat *c);
/* Restart the sampler's random numbers from seed. */
void chat_seed(struct chat *c, uint64_t seed);

/* The person says text (a NUL-terminated message); generate the answer,
 * passing each token to fn (may be NULL), and add both turns to the
 * transcript.  info (may be NULL) tells how it went. */
enum gr_status chat_reply(struct chat *c, const char *text, chat_token_fn fn,
                          void *ud, struct chat_reply_info *info,
                          struct gr_error *err);

/* The transcript as one JSON line {"messages": [...]} (the format 'demos
 * import' reads), invalid UTF-8 replaced; caller frees. */
char *chat_transcript_json(const struct chat *c);
/* Write it to path atomically. */
enum gr_status chat_save(const struct chat *c, const char *path,
                         struct gr_error *err);

/* ---- slash commands ------------------------------------------------ */

struct chat_slash {
    const char *name;           /* "/temp" */
    const char *arg;            /* "X", or NULL */
    const char *help;
};

/* The table, ending with { NULL }: help and completion read it. */
extern const struct chat_slash chat_slash_commands[];

/* Run the slash command in line ("/temp 0.5").  *reply: a new text for
 * the person (caller frees; NULL when there is none); *quit set to 1 by
 * /quit.  Bad commands or values: GR_EINPUT, and nothing changes. */
enum gr_status chat_slash(struct chat *c, const char *line, char **reply,
                          int *quit, struct gr_error *err);

#endif
