/* runlog.h: read back the metrics a run wrote to logs/<kind>-*.jsonl, so
 * that a screen opened after (or without) a job still shows its charts.
 *
 * A long run's log holds hundreds of thousands of records (55 MB for
 * 300,000 steps), and the screens read it on the UI thread, so lines of
 * the shape the metrics stream writes (a flat object of numbers, null and
 * plain strings) are parsed by hand; any other line goes to jansson. */
#ifndef GR_TUI_RUNLOG_H
#define GR_TUI_RUNLOG_H

#include "base/metrics.h"

enum runlog_which {
    RUNLOG_ALL,         /* every log, oldest first */
    RUNLOG_NEWEST,      /* only the newest log */
    RUNLOG_FRESH,       /* from the newest log whose "run" record says it
                         * started at step 0 (start_step), then the newer
                         * ones: the logs of the model trained now */
};

/* Call fn for every record of the workspace's logs/<prefix>-*.jsonl
 * files chosen by which, in order.  Returns the number of records read
 * (0 when there is no log). */
long runlog_read(const char *ws_root, const char *prefix, enum runlog_which which,
                 void (*fn)(void *ctx, const struct gr_metric *m), void *ctx);

/* The same for the records that begin in the last max_bytes of the newest
 * log only (the whole log when it is shorter): its latest values, without
 * reading a long run's whole history. */
long runlog_read_tail(const char *ws_root, const char *prefix, long max_bytes,
                      void (*fn)(void *ctx, const struct gr_metric *m), void *ctx);

/* One line of a log as a record: 1, or 0 when it is not one (not JSON, not
 * an object, no string "kind").  Numbers become values, null NaN, and the
 * string "text" the record's text; other strings, booleans, arrays and
 * objects are left out.  (For tests: the hand-written parser must give
 * what jansson gives.) */
int runlog_parse_line(const char *line, struct gr_metric *m);

/* The same through jansson alone. */
int runlog_parse_line_jansson(const char *line, struct gr_metric *m);

#endif
