/* input.h: a line (or a few lines) of text being edited, with the keys
 * of readline: arrows, Home/End, Ctrl-A/E/B/F, Backspace, Delete/Ctrl-D,
 * Ctrl-K/U/W (kill), Ctrl-Y (yank), Alt-B/F (words), Up/Down (history,
 * or lines in a multi-line field), Tab (completion), Enter, Esc. */
#ifndef GR_TUI_INPUT_H
#define GR_TUI_INPUT_H

#include <stddef.h>

#include "draw.h"

struct input {
    char *buf;                  /* UTF-8, NUL-terminated */
    size_t len, cap;
    size_t cur;                 /* cursor, a byte offset */
    int multiline;              /* Enter inserts a newline; Ctrl-S/F2 submits */
    char **hist;                /* history, oldest first (owned) */
    size_t nhist;
    size_t hpos;                /* nhist: not browsing */
    char *saved;                /* the line being typed while browsing */
    char *kill;                 /* the last killed text, for Ctrl-Y */
    void (*complete)(struct input *in, void *arg);
    void *carg;
    char *hint;                 /* completions to show, or NULL (owned) */
};

enum input_event {
    INPUT_UNUSED,               /* not an editing key */
    INPUT_EDITED,               /* the text or cursor changed */
    INPUT_SUBMIT,               /* Enter (Ctrl-S / F2 in a multi-line field) */
    INPUT_CANCEL,               /* Esc */
};

void input_init(struct input *in);
void input_release(struct input *in);
/* Replace the text (cursor at the end). */
void input_set(struct input *in, const char *text);
void input_insert(struct input *in, const char *text);
/* Add text to the history (not an empty line or a repeat of the last). */
void input_history_add(struct input *in, const char *text);
void input_set_hint(struct input *in, const char *hint);

enum input_event input_key(struct input *in, int key);

/* Draw one line at (y, x) over w columns, scrolled to show the cursor;
 * focused: place the terminal's cursor there. */
void input_draw(struct input *in, int y, int x, int w, attr_t a, int focused);
/* Draw wrapped into r, scrolled to show the cursor. */
void input_draw_multi(struct input *in, struct rect r, attr_t a, int focused);

/* Completion of the last word as a path (for tui_prompt). */
void input_complete_path(struct input *in, void *arg);
/* Complete the last word of in from candidates (NULL-terminated):
 * extends it to their common prefix, and lists several in the hint.
 * Returns how many matched. */
size_t input_complete_words(struct input *in, const char *const *cands,
                            const char *suffix_if_one);

#endif
