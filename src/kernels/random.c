#include "kernels/random.h"

#include <math.h>
#include <stdatomic.h>
#include <string.h>

#include "base/threadpool.h"
#include "tensor/dtype.h"

/* ---------------------------------------------------------------- Philox4x32-10 */
#define PHILOX_M0 0xD2511F53u
#define PHILOX_M1 0xCD9E8D57u
#define PHILOX_W0 0x9E3779B9u
#define PHILOX_W1 0xBB67AE85u

void ds_philox4x32_10(const uint32_t ctr[4], const uint32_t key[2], uint32_t out[4]) {
    uint32_t c0 = ctr[0], c1 = ctr[1], c2 = ctr[2], c3 = ctr[3];
    uint32_t k0 = key[0], k1 = key[1];
    for (int r = 0; r < 10; r++) {
        uint64_t p0 = (uint64_t)PHILOX_M0 * c0, p1 = (uint64_t)PHILOX_M1 * c2;
        uint32_t hi0 = (uint32_t)(p0 >> 32), lo0 = (uint32_t)p0;
        uint32_t hi1 = (uint32_t)(p1 >> 32), lo1 = (uint32_t)p1;
        c0 = hi1 ^ c1 ^ k0;
        c1 = lo1;
        c2 = hi0 ^ c3 ^ k1;
        c3 = lo0;
        k0 += PHILOX_W0;
        k1 += PHILOX_W1;
    }
    out[0] = c0;
    out[1] = c1;
    out[2] = c2;
    out[3] = c3;
}

/* ---------------------------------------------------------------- the global stream */
/* Default seed 0 until ds_random_seed is called: an unseeded program is still deterministic. */
static _Atomic uint64_t g_seed = 0;
static _Atomic uint64_t g_offset = 0;

/* Sets the key to `seed` and rewinds the block offset. A call racing with random ops on other
 * threads is safe but leaves it unspecified which of those ops see the new seed. */
void ds_random_seed(uint64_t seed) {
    atomic_store(&g_seed, seed);
    atomic_store(&g_offset, 0);
}

void ds_rng_reserve(uint64_t nblocks, ds_rng_stream *out) {
    uint64_t seed = atomic_load(&g_seed);
    out->key[0] = (uint32_t)seed;
    out->key[1] = (uint32_t)(seed >> 32);
    out->base = atomic_fetch_add(&g_offset, nblocks);
}

void ds_rng_block(const ds_rng_stream *s, uint64_t j, uint32_t out[4]) {
    uint64_t c = s->base + j;
    uint32_t ctr[4] = {(uint32_t)c, (uint32_t)(c >> 32), 0, 0};
    ds_philox4x32_10(ctr, s->key, out);
}

/* 53 random bits from two words, as a double in [0, 1). */
static inline double u53(uint32_t a, uint32_t b) {
    uint64_t m = ((uint64_t)a << 21) | (b >> 11);
    return (double)m * 0x1.0p-53;
}

/* 24 random bits from one word, as a double in [0, 1). */
static inline double u24(uint32_t a) { return (double)(a >> 8) * 0x1.0p-24; }

#define RNG_GRAIN 2048 /* blocks per parallel chunk */

/* ---------------------------------------------------------------- uniform */
typedef struct uniform_ctx {
    ds_rng_stream s;
    ds_dtype dt;
    char *dst;
    int64_t n;
    double low, span, high;
    double below; /* largest value of dt below high: replaces results that round up to high */
    int per;      /* values per block */
} uniform_ctx;

/* Largest value of the float dtype dt that is < x (x finite). */
static double float_below(ds_dtype dt, double x) {
    if (dt == DS_FLOAT64) return nextafter(x, -INFINITY);
    if (dt == DS_FLOAT32) {
        float f = (float)x;
        if ((double)f >= x) f = nextafterf(f, -INFINITY);
        return f;
    }
    uint16_t h = dt == DS_FLOAT16 ? ds_f32_to_half((float)x) : ds_f32_to_bf16((float)x);
    double v = dt == DS_FLOAT16 ? ds_half_to_f32(h) : ds_bf16_to_f32(h);
    if (v >= x) {
        if (h == 0) h = 0x8001u;              /* +0 -> smallest negative subnormal */
        else if (h & 0x8000u) h = (uint16_t)(h + 1); /* negative: away from zero */
        else h = (uint16_t)(h - 1);
    }
    return dt == DS_FLOAT16 ? ds_half_to_f32(h) : ds_bf16_to_f32(h);
}

static void uniform_range(void *p, int64_t b, int64_t e) {
    const uniform_ctx *c = p;
    size_t es = ds_dtype_size(c->dt);
    for (int64_t blk = b; blk < e; blk++) {
        uint32_t w[4];
        ds_rng_block(&c->s, (uint64_t)blk, w);
        double u[4];
        if (c->per == 2) {
            u[0] = u53(w[0], w[1]);
            u[1] = u53(w[2], w[3]);
        } else {
            for (int l = 0; l < 4; l++) u[l] = u24(w[l]);
        }
        for (int l = 0; l < c->per; l++) {
            int64_t i = blk * c->per + l;
            if (i >= c->n) break;
            double v = c->low + c->span * u[l];
            char *q = c->dst + (size_t)i * es;
            if (c->dt == DS_FLOAT32) {
                float f = (float)v;
                if ((double)f >= c->high && c->span > 0) f = (float)c->below;
                *(float *)q = f;
            } else if (c->dt == DS_FLOAT64) {
                *(double *)q = v < c->high || c->span == 0 ? v : c->below;
            } else {
                ds_dtype_store_double(c->dt, q, v);
                if (c->span > 0 && ds_dtype_load_double(c->dt, q) >= c->high)
                    ds_dtype_store_double(c->dt, q, c->below);
            }
        }
    }
}

void ds_random_fill_uniform(ds_dtype dt, void *dst, int64_t n, double low, double high) {
    uniform_ctx c = {.dt = dt, .dst = dst, .n = n, .low = low, .span = high - low, .high = high};
    c.per = dt == DS_FLOAT64 ? 2 : 4;
    c.below = float_below(dt, high);
    int64_t nblocks = (n + c.per - 1) / c.per;
    ds_rng_reserve((uint64_t)nblocks, &c.s);
    if (n > 0) ds_parallel_for(nblocks, RNG_GRAIN, uniform_range, &c);
}

/* ---------------------------------------------------------------- normal */
typedef struct normal_ctx {
    ds_rng_stream s;
    ds_dtype dt;
    char *dst;
    int64_t n;
    double mean, std;
} normal_ctx;

static void normal_range(void *p, int64_t b, int64_t e) {
    const normal_ctx *c = p;
    size_t es = ds_dtype_size(c->dt);
    const double two_pi = 6.283185307179586476925286766559;
    for (int64_t blk = b; blk < e; blk++) {
        uint32_t w[4];
        ds_rng_block(&c->s, (uint64_t)blk, w);
        double u1 = 1.0 - u53(w[0], w[1]); /* (0, 1] */
        double u2 = u53(w[2], w[3]);
        double r = sqrt(-2.0 * log(u1)), th = two_pi * u2;
        double z[2] = {r * cos(th), r * sin(th)};
        for (int l = 0; l < 2; l++) {
            int64_t i = blk * 2 + l;
            if (i >= c->n) break;
            double v = c->mean + c->std * z[l];
            char *q = c->dst + (size_t)i * es;
            if (c->dt == DS_FLOAT32) *(float *)q = (float)v;
            else if (c->dt == DS_FLOAT64) *(double *)q = v;
            else ds_dtype_store_double(c->dt, q, v);
        }
    }
}

void ds_random_fill_normal(ds_dtype dt, void *dst, int64_t n, double mean, double std) {
    normal_ctx c = {.dt = dt, .dst = dst, .n = n, .mean = mean, .std = std};
    int64_t nblocks = (n + 1) / 2;
    ds_rng_reserve((uint64_t)nblocks, &c.s);
    if (n > 0) ds_parallel_for(nblocks, RNG_GRAIN, normal_range, &c);
}

/* ---------------------------------------------------------------- bernoulli */
typedef struct bernoulli_ctx {
    ds_rng_stream s;
    size_t es;
    char *dst;
    int64_t n;
    double p;
    ds_dtype p_dt;
    const char *p_data;
    unsigned char one[8], zero[8]; /* the element bytes of 1 and 0 in the output dtype */
} bernoulli_ctx;

static void bernoulli_range(void *p, int64_t b, int64_t e) {
    const bernoulli_ctx *c = p;
    size_t pes = c->p_data ? ds_dtype_size(c->p_dt) : 0;
    for (int64_t blk = b; blk < e; blk++) {
        uint32_t w[4];
        ds_rng_block(&c->s, (uint64_t)blk, w);
        double u[2] = {u53(w[0], w[1]), u53(w[2], w[3])};
        for (int l = 0; l < 2; l++) {
            int64_t i = blk * 2 + l;
            if (i >= c->n) break;
            double pi = c->p_data ? ds_dtype_load_double(c->p_dt, c->p_data + (size_t)i * pes) : c->p;
            memcpy(c->dst + (size_t)i * c->es, u[l] < pi ? c->one : c->zero, c->es);
        }
    }
}

void ds_random_fill_bernoulli(ds_dtype dt, void *dst, int64_t n, double p, ds_dtype p_dt,
                              const void *p_data) {
    bernoulli_ctx c = {.es = ds_dtype_size(dt), .dst = dst, .n = n, .p = p, .p_dt = p_dt,
                       .p_data = p_data};
    ds_dtype_store_double(dt, c.one, 1.0);
    ds_dtype_store_double(dt, c.zero, 0.0);
    int64_t nblocks = (n + 1) / 2;
    ds_rng_reserve((uint64_t)nblocks, &c.s);
    if (n > 0) ds_parallel_for(nblocks, RNG_GRAIN, bernoulli_range, &c);
}
