/* tui.h: the curses application's parts, seen from a screen.
 *
 * One event loop (app.c) owns the terminal and a stack of screens; the
 * top one is drawn and gets the keys.  Long work runs on one worker
 * thread (worker.c); its metrics queue is drained by the loop, which
 * hands each record to the screen that started the job, and the screen
 * keeps what it needs to draw (a snapshot: draw never reads the job).
 *
 *   row 0            header: where we are, the workspace, the job
 *   rows 1..H-3      the screen's body
 *   row H-2          messages (or the ':' command line, or a prompt)
 *   row H-1          the screen's main keys
 */
#ifndef GR_TUI_H
#define GR_TUI_H

#include <stddef.h>

#include "app/command.h"
#include "base/metrics.h"
#include "draw.h"

struct tui;
struct screen;

enum screen_result {
    SCREEN_IGNORED,     /* not mine: the application may use it */
    SCREEN_HANDLED,     /* used; redraw */
    SCREEN_CLOSE,       /* go back (asks first if this screen runs a job) */
};

struct key_binding {
    int key;            /* 0 ends the table */
    const char *name;   /* a word for the key line: "pause" */
    const char *help;   /* a sentence for '?' */
    const char *shown;  /* how to write the key when not obvious ("1-9") */
};

struct screen_ops {
    const char *name;                   /* "pretrain" */
    const char *title;                  /* "Pretrain" */
    const struct key_binding *keys;     /* for '?' and the key line */
    /* Make the screen's state (scr->state); arg is the screen's own. */
    void (*open)(struct screen *scr, const char *arg);
    void (*close)(struct screen *scr);
    void (*draw)(struct screen *scr, struct rect body);
    enum screen_result (*key)(struct screen *scr, int key);
    /* Records and text of the job this screen started (or follows). */
    void (*metric)(struct screen *scr, const struct gr_metric *m);
    void (*text)(struct screen *scr, const char *text, size_t n);
    /* The job ended: rc, and its message when rc is not GR_OK. */
    void (*done)(struct screen *scr, enum gr_status rc, const char *msg);
    /* The job this screen follows (a session's step) runs with a. */
    void (*follow)(struct screen *scr, const struct gr_args *a);
    /* Called about twice a second and when the screen is shown again. */
    void (*tick)(struct screen *scr);
    int panes;                          /* Tab cycles scr->pane below this */
};

struct screen {
    const struct screen_ops *ops;
    struct tui *tui;
    void *state;
    int pane;
    char *arg;
    const char *title;          /* overrides ops->title in the header */
    int typing;                 /* keys go to a text field ('?', 'q' are text) */
};

/* ---- for screens --------------------------------------------------- */

/* The workspace folder ("." when none was given); NULL when the folder
 * is not a workspace yet. */
const char *tui_workspace(struct tui *t);
/* The folder given with -C, or "." */
const char *tui_dir(struct tui *t);
/* Re-check whether tui_dir is a workspace (after 'init'). */
void tui_workspace_changed(struct tui *t);

/* Open a screen on top (by its name: "home", "corpus", "pretrain", ...). */
struct screen *tui_push(struct tui *t, const char *name, const char *arg);
/* The screen for a command name ("corpus", "model", ...), or NULL. */
const char *tui_screen_for_command(const char *cmd);

/* Messages on the message line: info, or an error (shown in red). */
void tui_msg(struct tui *t, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void tui_error(struct tui *t, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* 'p' pauses or resumes and 'x' stops scr's job, when it runs one: 1
 * when key is one of the two (handled, job or not), else 0. */
int tui_job_keys(struct tui *t, struct screen *scr, int key);
/* The first line (last: the last non-empty one) of a job's text (n
 * bytes) as the message: a screen's text hook when the text is a report
 * ("Saved ..."). */
void tui_msg_line(struct tui *t, const char *text, size_t n, int last);

/* Run these commands in order on the worker thread, for scr (which gets
 * their records, text and the end).  Takes the args (released at the
 * end, also on failure).  0, or -1 with a message when a job runs. */
int tui_run(struct tui *t, struct screen *scr, struct gr_args *steps,
            size_t nsteps);
/* Convenience: one command by name from "key=value ..." text. */
int tui_run_line(struct tui *t, struct screen *scr, const char *line);
/* A job is running (any screen's). */
int tui_busy(struct tui *t);
/* The running job is scr's (or scr follows it). */
int tui_job_is(struct tui *t, struct screen *scr);
void tui_job_pause(struct tui *t);
int tui_job_paused(struct tui *t);
void tui_job_save(struct tui *t);
void tui_job_stop(struct tui *t);

/* Ask a yes/no question; yes() runs on 'y'. */
void tui_confirm(struct tui *t, const char *question,
                 void (*yes)(struct tui *t, void *arg), void *arg);
/* Ask for a line of text on the message line.  complete (may be NULL)
 * fills completions; submit gets the text (Enter), or is not called
 * (Esc). */
struct input;
void tui_prompt(struct tui *t, const char *label, const char *initial,
                void (*complete)(struct input *in, void *arg),
                void (*submit)(struct tui *t, const char *text, void *arg),
                void *arg);
/* After tui_prompt: call watch after every edit (it may set in->hint). */
void tui_prompt_watch(struct tui *t, void (*watch)(struct input *in, void *arg));

/* Redraw soon. */
void tui_dirty(struct tui *t);
/* Charts: braille, blocks or ASCII, as the terminal allows. */
int tui_chart_glyphs(struct tui *t);

/* ---- entry point ------------------------------------------------------ */

/* Run the application in dir (NULL: the current folder).  session: a
 * session file to run live (garage run --tui), or NULL; sets: its
 * overrides.  Returns the process exit status. */
int tui_main(const char *dir, const char *session, char *const *sets,
             size_t nsets);

#endif
