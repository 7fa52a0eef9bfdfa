/* rng.h: a small, fast, seedable generator (xoshiro256**), whose whole
 * state is four words so checkpoints can save and restore it exactly. */
#ifndef GR_RNG_H
#define GR_RNG_H

#include <stdint.h>

struct gr_rng {
    uint64_t s[4];
};

/* Seed from one 64-bit value (splitmix64 expansion). */
void rng_seed(struct gr_rng *r, uint64_t seed);
uint64_t rng_u64(struct gr_rng *r);
/* Uniform in [0, 1). */
float rng_float(struct gr_rng *r);
/* Uniform integer in [0, n); n > 0. */
uint64_t rng_below(struct gr_rng *r, uint64_t n);
/* Standard normal (Box-Muller). */
float rng_normal(struct gr_rng *r);
/* A stateless 64-bit hash of (seed, x), for deterministic per-item choices. */
uint64_t rng_hash64(uint64_t seed, uint64_t x);

#endif
