/* complete.h: command lines as the REPL reads them, and tab completion
 * from the command registry.
 *
 * A line is words separated by blanks.  'Single' and "double" quotes
 * group blanks into a word (inside double quotes \" and \\ escape); a
 * backslash outside quotes escapes the next character; an unquoted '#'
 * at the start of a word begins a comment.  The words after the command
 * name go to args_parse_argv: key=value, --key value, bare words.
 *
 * Completion is a pure function of the line, the cursor, the files on
 * disk and the registry, so it is tested without a terminal. */
#ifndef GR_COMPLETE_H
#define GR_COMPLETE_H

#include <stddef.h>

#include "app/command.h"

struct complete_words {
    char **argv;            /* words, unquoted; argv[argc] is NULL */
    int argc;
};

/* Split line into words.  GR_EUSAGE "unterminated quote (\")" when a
 * quote is left open.  Release w even after a failure. */
enum gr_status complete_split(const char *line, struct complete_words *w,
                              struct gr_error *err);
void complete_words_release(struct complete_words *w);

/* A front end's own command, completed beside the registry's. */
struct complete_extra {
    const char *name;       /* "source" */
    const char *like;       /* complete its arguments as this registry
                             * command's ("run"), or NULL: */
    int paths;              /*   bare words are paths (1) or nothing (0) */
};

struct complete_result {
    size_t start;           /* the items replace line[start, cursor) */
    char **items;           /* sorted, no duplicates */
    size_t n;
    int paths;              /* some items are file paths (folders end in '/') */
};

/* The candidates for the word that ends at cursor (a byte offset) in
 * line:
 *   - the first word: command names (the registry's and extra's);
 *   - "key=VALUE": the option's values (true/false for a boolean, the
 *     choices of a choice, paths for a path option; for an option named
 *     checkpoint, first the files in WSDIR/checkpoints/, then any path;
 *     command names for help's command); start is just after the '=';
 *   - "--KEY": "--name" for each option;
 *   - any other word: "key=" for each option not given yet, and the
 *     values of the command's bare words (its positional option, or the
 *     paths after a list verb such as "corpus add").
 * wsdir: the workspace folder (NULL: the current folder); relative paths
 * are relative to the current folder.  extra ends with { NULL }; may be
 * NULL.  Release r afterwards. */
void complete_line(const char *line, size_t cursor, const char *wsdir,
                   const struct complete_extra *extra,
                   struct complete_result *r);
void complete_result_release(struct complete_result *r);

/* For shell completion and the tests, one item a line (caller frees):
 * the command names, in registry order; and each option of cmd as
 * "NAME KIND POS [VALUE...]" with KIND one of int, number, bool, text,
 * path, choice, paths, texts, command; POS "positional" for the option
 * bare words go to, else "-"; VALUEs the choices (true false for bool). */
char *complete_list_commands(void);
char *complete_list_options(const struct gr_command *cmd);

#endif
