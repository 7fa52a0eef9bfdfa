/* runlog.h: read back the metrics a run wrote to logs/<kind>-*.jsonl, so
 * that a screen opened after (or without) a job still shows its charts. */
#ifndef GR_TUI_RUNLOG_H
#define GR_TUI_RUNLOG_H

#include "base/metrics.h"

/* Call fn for every record of the workspace's logs/<prefix>-*.jsonl
 * files, oldest file first (newest_only: only the newest file).
 * Returns the number of records read (0 when there is no log). */
long runlog_read(const char *ws_root, const char *prefix, int newest_only,
                 void (*fn)(void *ctx, const struct gr_metric *m), void *ctx);

#endif
