/* form.h: a settings panel built from a registry command's options.
 *
 * Each option is a row: name, value (the default dimmed until set).
 * Enter edits a value in place and Enter again keeps it once the
 * registry accepts it (args_set: type, range, choices); Space flips a
 * true/false and steps through choices; Backspace/Delete puts the
 * default back; '/' and a name jumps to that option.  The help line
 * under the rows says what the selected option means, or why a value
 * was refused. */
#ifndef GR_TUI_FORM_H
#define GR_TUI_FORM_H

#include "app/command.h"
#include "draw.h"
#include "input.h"
#include "list.h"

struct form {
    const struct gr_command *cmd;
    char *base_dir;             /* relative paths resolve against it */
    char **text;                /* (nopts) value as typed, NULL: default */
    int *rows;                  /* option index of each row shown */
    struct list list;           /* list.n rows */
    int editing;
    int searching;              /* '/' typed: edit holds the name sought */
    struct input edit;
    char msg[1024];             /* a refusal, shown until the next key */
};

/* Rows for every option of cmd except those named in hide (NULL-ended,
 * may be NULL). */
void form_init(struct form *f, const struct gr_command *cmd,
               const char *base_dir, const char *const *hide);
void form_release(struct form *f);

/* Set option name to text as if typed; GR_EINPUT (err says why) when
 * the registry refuses it. */
enum gr_status form_set(struct form *f, const char *name, const char *text,
                        struct gr_error *err);
/* Back to the default. */
void form_unset(struct form *f, const char *name);
/* The value as typed, or NULL when it is the default. */
const char *form_get(const struct form *f, const char *name);
/* Show the values a holds (those given; the rest as defaults). */
void form_load_args(struct form *f, const struct gr_args *a);
/* Fresh arguments holding the values set (caller args_release()s). */
void form_args(const struct form *f, struct gr_args *out);

/* 1 if the key was used. */
int form_key(struct form *f, int key);
void form_draw(struct form *f, struct rect r, int focused);

#endif
