/* Counter-based random numbers: Philox4x32-10 (Salmon et al., "Parallel random numbers: as easy as
 * 1, 2, 3", SC'11). The global generator is a key (from ds_random_seed) plus a 64-bit block offset.
 * Every random op call reserves a fresh run of blocks; block j of the run is the Philox of counter
 * (base + j) under the key, so element i's value depends only on (seed, calls so far, i): results are
 * reproducible after reseeding and independent of the number of threads. */
#ifndef DS_KERNELS_RANDOM_H
#define DS_KERNELS_RANDOM_H
#include <stdint.h>

#include "dynastat.h"

/* A reserved run of blocks of the global stream. */
typedef struct ds_rng_stream {
    uint32_t key[2];
    uint64_t base; /* counter of the run's first block */
} ds_rng_stream;

/* One Philox4x32-10 block: out = philox(ctr, key). */
void ds_philox4x32_10(const uint32_t ctr[4], const uint32_t key[2], uint32_t out[4]);

/* Reserves `nblocks` consecutive blocks of the global stream (thread-safe). */
void ds_rng_reserve(uint64_t nblocks, ds_rng_stream *out);

/* Block `j` of a reserved run (counter = base + j in the low 64 bits, 0 in the high). */
void ds_rng_block(const ds_rng_stream *s, uint64_t j, uint32_t out[4]);

/* Fills dst[0..n) (contiguous, float dtype dt) with uniform values in [low, high); low <= high.
 * Reserves its own blocks. float64 uses 53 random bits per value, narrower dtypes 24. */
void ds_random_fill_uniform(ds_dtype dt, void *dst, int64_t n, double low, double high);

/* Fills dst[0..n) (contiguous, float dtype dt) with normal values N(mean, std^2) (Box-Muller on
 * 53-bit uniforms, two values per block). */
void ds_random_fill_normal(ds_dtype dt, void *dst, int64_t n, double mean, double std);

/* Fills dst[0..n) (contiguous, any dtype dt) with 1 with probability p and 0 otherwise. When
 * p_data is non-NULL, the probability of element i is p_data[i] (contiguous, dtype p_dt) and `p` is
 * ignored. Probabilities must already be checked to lie in [0, 1]. */
void ds_random_fill_bernoulli(ds_dtype dt, void *dst, int64_t n, double p, ds_dtype p_dt,
                              const void *p_data);
#endif
