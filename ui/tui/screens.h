/* screens.h: the screens of the curses application, and what the
 * event loop offers them beyond tui.h. */
#ifndef GR_TUI_SCREENS_H
#define GR_TUI_SCREENS_H

#include "tui.h"

struct chat;
#include "worker.h"

extern const struct screen_ops home_screen;      /* screen_home.c */
extern const struct screen_ops corpus_screen;    /* screen_corpus.c */
extern const struct screen_ops tokenizer_screen; /* screen_tokenizer.c */
extern const struct screen_ops pretrain_screen;  /* screen_pretrain.c */
extern const struct screen_ops console_screen;   /* screen_console.c */
extern const struct screen_ops stage_screen;     /* screen_stage.c */
extern const struct screen_ops session_screen;   /* screen_session.c */
extern const struct screen_ops chat_screen;      /* screen_chat.c */
extern const struct screen_ops rank_screen;      /* screen_rank.c */
extern const struct screen_ops sft_screen;       /* screen_sft.c */
extern const struct screen_ops reward_screen;    /* screen_reward.c */
extern const struct screen_ops tune_screen;      /* screen_tune.c */

/* Run fn on the worker for scr (a session). */
int tui_run_fn(struct tui *t, struct screen *scr, worker_fn fn, void *arg);
/* The next job started (tui_run, tui_run_fn) is prepared by fn first. */
void tui_prepare_job(struct tui *t, void (*fn)(struct gr_ctx *ctx, void *arg),
                     void *arg);
/* When the running job ends, close the screen that started it (which
 * has asked it to end its own way). */
void tui_close_when_done(struct tui *t);
/* The Chat screen's conversation loop, for ctx->chat_loop. */
enum gr_status tui_chat_loop(struct gr_ctx *ctx, struct chat *c, struct gr_error *err);
/* Ask a running conversation (tui_chat_loop) to end. */
void tui_chat_quit(void);
/* Give a job the Rank screen as its labeler (ctx->labeler). */
void tui_rank_prepare(struct gr_ctx *ctx);
/* viewer gets the running job's records, text and end as well. */
void tui_follow(struct tui *t, struct screen *viewer);
/* Work in another folder from now on. */
void tui_set_dir(struct tui *t, const char *dir);
/* -C named the folder (or tui_set_dir did). */
int tui_dir_given(struct tui *t);
/* scr is open (anywhere on the stack). */
int tui_on_stack(struct tui *t, struct screen *scr);
/* Close scr and every screen above it. */
void tui_pop_screen(struct tui *t, struct screen *scr);
/* The process's exit status when the application ends. */
void tui_set_exit(struct tui *t, int code);
/* The --set overrides given with garage run --tui. */
char *const *tui_session_sets(struct tui *t, size_t *n);

/* Words of a command line (quotes group, backslash escapes); returns the
 * count, *out a new array of new strings. */
int tui_split_words(const char *line, char ***out);
/* "command key=value ..." into a (args_init'ed on success). */
enum gr_status tui_parse_line(struct tui *t, const char *line,
                              struct gr_args *a, struct gr_error *err);

#endif
