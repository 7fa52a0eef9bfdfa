/* xalloc.h: allocation.  x* functions abort() on exhaustion (small,
 * bookkeeping allocations); gr_aligned_alloc returns NULL so that big
 * buffers (parameters, activations) can fail with a message. */
#ifndef GR_XALLOC_H
#define GR_XALLOC_H

#include <stddef.h>

void *xmalloc(size_t n);
void *xcalloc(size_t n, size_t size);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
/* printf into a new string; caller frees. */
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* 64-byte aligned, zeroed block of n bytes, or NULL; free with gr_aligned_free. */
void *gr_aligned_alloc(size_t n);
void gr_aligned_free(void *p);

#endif
