/* datadir.h: where the files garage ships live (prompts.txt,
 * prompts-eval.txt, demos.jsonl, sessions/).
 *
 * Installed (make install), that is $(pkgdatadir).  A garage run from
 * its build folder without installing, as ./setup.sh leaves it, reads
 * them from the source tree's share/garage instead, so that its defaults
 * and advice name files that exist. */
#ifndef GR_DATADIR_H
#define GR_DATADIR_H

/* The folder (static text). */
const char *data_dir(void);

/* data_dir()/name; caller frees.  The path is returned even when the file
 * is missing, for messages. */
char *data_path(const char *name);

#endif
