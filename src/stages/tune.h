/* tune.h: what 'tune' (tune.c) and 'eval' (eval.c) share: prompt files
 * encoded with the chat template, scoring rollouts with the reward
 * model, answers as text, the rule labeler's options, and the tuned
 * checkpoints' record of their reference. */
#ifndef GR_STAGES_TUNE_H
#define GR_STAGES_TUNE_H

#include <stddef.h>
#include <stdint.h>

#include "app/command.h"
#include "app/workspace.h"
#include "model/ppo.h"
#include "model/reward.h"
#include "stages/rank.h"
#include "text/bpe.h"

/* Prompts of a file, each chat-encoded as <|user|> text <|end|>
 * <|assistant|>, ready to be answered. */
struct tune_prompts {
    char **text;            /* (n) */
    int32_t **tok;          /* (n) */
    int *len;               /* (n) tokens */
    size_t n;
    size_t skipped;         /* too long for the context with max_answer */
};

/* Read path (rank_read_prompts' format), encode each prompt, and drop
 * those longer than T - max_answer tokens.  GR_EINPUT naming the file
 * when it has no prompts, or none that fit. */
enum gr_status tune_prompts_load(struct tune_prompts *p, const char *path,
                                 const struct bpe *t, int T, int max_answer,
                                 struct gr_error *err);
void tune_prompts_release(struct tune_prompts *p);

/* Reward-model scores (B) of the rollouts in ro, each scored as prompt,
 * answer and the closing <|end|> (added when the answer was cut off).
 * Sequences longer than the reward model's context keep their end. */
enum gr_status tune_score(struct reward_model *rm, const struct ppo_rollouts *ro,
                          float *scores, struct gr_error *err);

/* The answer of rollout b as text, without its <|end|>, cleaned as
 * chat_clean_text says (as rank shows answers); caller frees. */
char *tune_answer_text(const struct bpe *t, const struct ppo_rollouts *ro, int b);

/* The rule options (prefer, avoid, must_contain, target_length) of a
 * command; 1 when any is given (a rule labeler is configured). */
int tune_read_rule(const struct gr_args *a, struct rank_rule *rule);

/* Warnings of a tuning run, as bits. */
enum {
    TUNE_WARN_KL_NEGATIVE = 1,  /* mean KL per answer below -0.1 nats */
    TUNE_WARN_KL_BOUND = 2,     /* above kl_bound */
    TUNE_WARN_GAMED = 4,        /* reward up while the rule's score falls */
    TUNE_WARN_LENGTH = 8,       /* answer length far from the reference's */
};

/* Iterations whose means are the baselines the warnings compare with:
 * the policy is still close to the reference then. */
#define TUNE_BASE_ITERS 5

/* What the warnings remember; saved in tuned checkpoints. */
struct tune_watch {
    double base_reward, base_rule, base_len;    /* baselines */
    double avg_reward, avg_rule, avg_len;       /* moving averages (0.2) */
    long long nbase;            /* iterations in the baselines so far */
    unsigned warned;            /* bits announced and not cleared since */
    int clear_neg, clear_bound; /* iterations since the KL warnings held */
};

/* Take one iteration's numbers; returns the bits that hold now, and in
 * *fresh those not announced before (a KL warning is announced again
 * after TUNE_BASE_ITERS iterations without it).  Reward up / rule down: both moving averages
 * moved by more than 0.1 from their baselines (has_rule only).  Length:
 * the moving average is more than 4 tokens and a factor 2 away from the
 * baseline. */
unsigned tune_watch_update(struct tune_watch *w, double kl, double kl_bound,
                           double reward, double rule, int has_rule, double len,
                           unsigned *fresh);

/* A checkpoint path as stored in a tuned checkpoint: relative to the
 * workspace when inside it; and back.  Caller frees. */
char *tune_path_store(const struct workspace *ws, const char *path);
char *tune_path_load(const struct workspace *ws, const char *stored);

#endif
