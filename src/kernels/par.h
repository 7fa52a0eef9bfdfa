/* par.h: private to src/kernels.  Threading and instruction-set helpers
 * for the elementwise kernels.
 *
 * GR_CLONES compiles a function for AVX-512, AVX2+FMA and baseline x86-64
 * and picks one at load time (ifunc), so the loops vectorise to the widest
 * unit the CPU has while the library stays portable.  OpenMP outlines the
 * body of a parallel loop into a function of its own that would not get the
 * clones, so the pattern is: the parallel loop calls a GR_CLONES function
 * on a chunk of rows. */
#ifndef GR_KERNELS_PAR_H
#define GR_KERNELS_PAR_H

#include <stddef.h>

#include "kernels/blas.h"

/* The build asks for -O3 for these files, but automake puts the user's
 * CFLAGS (by default -g -O2) last, and at -O2 GCC 12 vectorises only loops
 * whose trip count is a known multiple of the vector width: none of ours.
 * Ask for -O3 here, for every function defined after this point. */
#if defined(__GNUC__) && !defined(__clang__) && defined(__OPTIMIZE__)
#pragma GCC optimize("O3")
#endif

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && \
    defined(__linux__)
#define GR_CLONES __attribute__((target_clones("arch=x86-64-v4", \
                                               "arch=x86-64-v3", "default")))
#else
#define GR_CLONES
#endif

/* Rows per chunk so that n rows of `width` floats make about `per` floats
 * of work per chunk (at least 1 row). */
static inline int
par_rows(int n, size_t width, size_t per)
{
    size_t r = width ? per / width : (size_t)n;
    if (r < 1)
        r = 1;
    if (r > (size_t)n)
        r = (size_t)n;
    return (int)r;
}

#endif
