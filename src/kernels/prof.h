/* prof.h: where the time of a training step goes, by kind of layer.
 *
 * Each kernel's entry point (and the optimizer's) brackets its work with
 * prof_begin/prof_end; when the profiler is off (the default) a bracket
 * costs a load and a branch.  One profiler per process, for the thread
 * that runs the model: turn it on only while one model trains
 * (`pretrain profile=true`, bench-train profile). */
#ifndef GR_KERNELS_PROF_H
#define GR_KERNELS_PROF_H

enum prof_kind {
    PROF_MATMUL,        /* linear layers and the LM head (sgemm) */
    PROF_ATTENTION,     /* scores, softmax, weighted values */
    PROF_NORM,          /* LayerNorm */
    PROF_ACT,           /* GELU, residual adds */
    PROF_LOSS,          /* softmax cross-entropy */
    PROF_EMBED,         /* token and position embeddings */
    PROF_OPTIMIZER,     /* zeroing gradients, norm, clipping, AdamW */
    PROF_DATA,          /* drawing batches */
    PROF_NKINDS
};

/* Turn timing on or off (off by default); the totals stay until
 * prof_reset, so a pause (an evaluation) leaves them as they are. */
void prof_enable(int on);
int prof_enabled(void);
/* Zero every total. */
void prof_reset(void);

/* Time spent between a begin and the matching end adds to kind k's total.
 * Brackets of different kinds must not overlap. */
void prof_begin(enum prof_kind k);
void prof_end(enum prof_kind k);

/* Seconds accumulated for k; the name of k ("matmul", ...). */
double prof_seconds(enum prof_kind k);
const char *prof_name(enum prof_kind k);

/* A table of each kind's share of `total` seconds (<= 0: of the sum of
 * the kinds), with "other" for the rest, one kind a line, largest first.
 * Caller frees (NULL when out of memory). */
char *prof_report_total(double total);
/* prof_report_total(0), each line prefixed with "PROF ". */
char *prof_report(void);

#endif
