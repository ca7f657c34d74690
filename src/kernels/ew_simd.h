/* Shared by the ew_*.simd.c kernel files (each compiled once per ISA with DS_ISA = generic | avx2 |
 * avx512): symbol suffixing, float16/bfloat16 block conversion, and loop-writing macros. */
#ifndef DS_KERNELS_EW_SIMD_H
#define DS_KERNELS_EW_SIMD_H
#include <stdint.h>
#include <string.h>

#include "kernels/elementwise.h"
#include "kernels/vmath.h"
#include "tensor/dtype.h"

#if defined(__F16C__)
#include <immintrin.h>
#endif

#ifndef DS_ISA
#define DS_ISA generic
#endif
#define DS_EW_CAT2(a, b) a##_##b
#define DS_EW_CAT(a, b) DS_EW_CAT2(a, b)
/* ds_ew_fill_unary -> ds_ew_fill_unary_avx2 (in the avx2 build) */
#define DS_EW_SYM(name) DS_EW_CAT(name, DS_ISA)

#define DS_EW_BLOCK 512 /* elements per float32 staging block for float16/bfloat16 */

typedef void (*ds_ew_loop)(char **args, const int64_t *steps, int64_t n, void *ctx);

/* ---------------------------------------------------------------- float16 / bfloat16 <-> float32 */
/* Branch-free binary16 -> float32 (exact), vectorizable. */
static inline float ds_ew_h2f(uint16_t h) {
    uint32_t o = (uint32_t)(h & 0x7fffu) << 13;
    uint32_t e = o & 0x0f800000u;
    o += (uint32_t)(127 - 15) << 23;
    float fn = ds_vm_u2f(o);
    float fi = ds_vm_u2f(o + ((uint32_t)(128 - 16) << 23));
    float fs = ds_vm_u2f(o + (1u << 23)) - ds_vm_u2f(113u << 23);
    float r = e == 0x0f800000u ? fi : (e == 0 ? fs : fn);
    return ds_vm_u2f(ds_vm_f2u(r) | ((uint32_t)(h & 0x8000u) << 16));
}
/* Branch-free float32 -> binary16, round to nearest even, NaN -> quiet NaN, vectorizable. */
static inline uint16_t ds_ew_f2h(float f) {
    uint32_t u = ds_vm_f2u(f);
    uint32_t sign = u & 0x80000000u;
    u ^= sign;
    const float denorm_magic = ds_vm_u2f(((127 - 15) + (23 - 10) + 1) << 23);
    uint32_t big = u > 0x7f800000u ? 0x7e00u : 0x7c00u;
    uint32_t sub = ds_vm_f2u(ds_vm_u2f(u) + denorm_magic) - ds_vm_f2u(denorm_magic);
    uint32_t nrm = (u + ((uint32_t)(15 - 127) << 23) + 0xfffu + ((u >> 13) & 1u)) >> 13;
    uint32_t o = u >= ((127u + 16u) << 23) ? big : (u < (113u << 23) ? sub : nrm);
    return (uint16_t)(o | (sign >> 16));
}
static inline float ds_ew_bf2f(uint16_t b) { return ds_vm_u2f((uint32_t)b << 16); }
static inline uint16_t ds_ew_f2bf(float f) {
    uint32_t x = ds_vm_f2u(f);
    uint32_t r = (x + 0x7fffu + ((x >> 16) & 1u)) >> 16;
    return (uint16_t)((x & 0x7fffffffu) > 0x7f800000u ? ((x >> 16) | 0x40u) : r);
}

/* dst[0..n) = elements at src, src + step, ... (float16 if half, else bfloat16) as float32. */
static inline void ds_ew_load_f32(int half, const char *src, int64_t step, float *dst, int64_t n) {
    int64_t i = 0;
    if (step == 2) {
        const uint16_t *s = (const uint16_t *)src;
        if (half) {
#if defined(__F16C__)
            for (; i + 8 <= n; i += 8)
                _mm256_storeu_ps(dst + i, _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(s + i))));
#endif
            for (; i < n; i++) dst[i] = ds_ew_h2f(s[i]);
        } else
            for (; i < n; i++) dst[i] = ds_ew_bf2f(s[i]);
        return;
    }
    if (half)
        for (; i < n; i++) dst[i] = ds_ew_h2f(*(const uint16_t *)(src + i * step));
    else
        for (; i < n; i++) dst[i] = ds_ew_bf2f(*(const uint16_t *)(src + i * step));
}
/* Elements at dst, dst + step, ... = src[0..n) rounded to float16 (half) or bfloat16. */
static inline void ds_ew_store_f32(int half, const float *src, char *dst, int64_t step, int64_t n) {
    int64_t i = 0;
    if (step == 2) {
        uint16_t *d = (uint16_t *)dst;
        if (half) {
#if defined(__F16C__)
            for (; i + 8 <= n; i += 8)
                _mm_storeu_si128((__m128i *)(d + i),
                                 _mm256_cvtps_ph(_mm256_loadu_ps(src + i), _MM_FROUND_TO_NEAREST_INT));
#endif
            for (; i < n; i++) d[i] = ds_ew_f2h(src[i]);
        } else
            for (; i < n; i++) d[i] = ds_ew_f2bf(src[i]);
        return;
    }
    if (half)
        for (; i < n; i++) *(uint16_t *)(dst + i * step) = ds_ew_f2h(src[i]);
    else
        for (; i < n; i++) *(uint16_t *)(dst + i * step) = ds_ew_f2bf(src[i]);
}

/* Runs the float32 unary loop f32 on float16/bfloat16 data through staging blocks. When out_f32
 * is false the output is converted back to the input's type; otherwise f32 writes the output
 * directly (bool outputs). */
static inline void ds_ew_unary_via_f32(char **a, const int64_t *s, int64_t n, void *ctx, int half,
                                       ds_ew_loop f32, int out_direct) {
    float buf[DS_EW_BLOCK];
    for (int64_t i0 = 0; i0 < n; i0 += DS_EW_BLOCK) {
        int64_t m = n - i0 < DS_EW_BLOCK ? n - i0 : DS_EW_BLOCK;
        ds_ew_load_f32(half, a[0] + i0 * s[0], s[0], buf, m);
        if (out_direct) {
            char *args[2] = {(char *)buf, a[1] + i0 * s[1]};
            int64_t st[2] = {4, s[1]};
            f32(args, st, m, ctx);
        } else {
            char *args[2] = {(char *)buf, (char *)buf};
            int64_t st[2] = {4, 4};
            f32(args, st, m, ctx);
            ds_ew_store_f32(half, buf, a[1] + i0 * s[1], s[1], m);
        }
    }
}

/* Same for binary loops; a broadcast scalar input (step 0) stays a step-0 scalar for f32. */
static inline void ds_ew_binary_via_f32(char **a, const int64_t *s, int64_t n, void *ctx, int half,
                                        ds_ew_loop f32, int out_direct) {
    float ba[DS_EW_BLOCK], bb[DS_EW_BLOCK], bo[DS_EW_BLOCK];
    for (int64_t i0 = 0; i0 < n; i0 += DS_EW_BLOCK) {
        int64_t m = n - i0 < DS_EW_BLOCK ? n - i0 : DS_EW_BLOCK;
        ds_ew_load_f32(half, a[0] + i0 * s[0], s[0], ba, s[0] == 0 ? 1 : m);
        ds_ew_load_f32(half, a[1] + i0 * s[1], s[1], bb, s[1] == 0 ? 1 : m);
        char *args[3] = {(char *)ba, (char *)bb, out_direct ? a[2] + i0 * s[2] : (char *)bo};
        int64_t st[3] = {s[0] == 0 ? 0 : 4, s[1] == 0 ? 0 : 4, out_direct ? s[2] : 4};
        f32(args, st, m, ctx);
        if (!out_direct) ds_ew_store_f32(half, bo, a[2] + i0 * s[2], s[2], m);
    }
}

/* Defines NAME_f16 and NAME_bf16 wrapping the float32 loop F32 (unary or binary via). */
#define DS_EW_HALF_UNARY(NAME, F32, DIRECT)                                                        \
    static void NAME##_f16(char **a, const int64_t *s, int64_t n, void *ctx) {                     \
        ds_ew_unary_via_f32(a, s, n, ctx, 1, F32, DIRECT);                                         \
    }                                                                                              \
    static void NAME##_bf16(char **a, const int64_t *s, int64_t n, void *ctx) {                    \
        ds_ew_unary_via_f32(a, s, n, ctx, 0, F32, DIRECT);                                         \
    }
#define DS_EW_HALF_BINARY(NAME, F32, DIRECT)                                                       \
    static void NAME##_f16(char **a, const int64_t *s, int64_t n, void *ctx) {                     \
        ds_ew_binary_via_f32(a, s, n, ctx, 1, F32, DIRECT);                                        \
    }                                                                                              \
    static void NAME##_bf16(char **a, const int64_t *s, int64_t n, void *ctx) {                    \
        ds_ew_binary_via_f32(a, s, n, ctx, 0, F32, DIRECT);                                        \
    }

/* A unary loop TI -> TO computing EXPR from the input value `x`. */
#define DS_EW_UNARY_LOOP(NAME, TI, TO, EXPR)                                                       \
    static void NAME(char **a, const int64_t *s, int64_t n, void *ctx) {                           \
        (void)ctx;                                                                                 \
        if (s[0] == (int64_t)sizeof(TI) && s[1] == (int64_t)sizeof(TO)) {                          \
            const TI *xp = (const TI *)a[0];                                                       \
            TO *yp = (TO *)a[1];                                                                   \
            for (int64_t i = 0; i < n; i++) {                                                      \
                TI x = xp[i];                                                                      \
                yp[i] = (TO)(EXPR);                                                                \
            }                                                                                      \
            return;                                                                                \
        }                                                                                          \
        const char *ip = a[0];                                                                     \
        char *op = a[1];                                                                           \
        for (int64_t i = 0; i < n; i++) {                                                          \
            TI x = *(const TI *)(ip + i * s[0]);                                                   \
            *(TO *)(op + i * s[1]) = (TO)(EXPR);                                                   \
        }                                                                                          \
    }

/* A binary loop (T, T) -> TO computing EXPR from `x` (a) and `y` (b), with vectorized paths for
 * contiguous operands and for a broadcast scalar on either side. */
#define DS_EW_BINARY_LOOP(NAME, T, TO, EXPR)                                                       \
    static void NAME(char **a, const int64_t *s, int64_t n, void *ctx) {                           \
        (void)ctx;                                                                                 \
        const int64_t sz = (int64_t)sizeof(T);                                                     \
        if (s[2] == (int64_t)sizeof(TO)) {                                                         \
            TO *o = (TO *)a[2];                                                                    \
            if (s[0] == sz && s[1] == sz) {                                                        \
                const T *pa = (const T *)a[0], *pb = (const T *)a[1];                              \
                for (int64_t i = 0; i < n; i++) {                                                  \
                    T x = pa[i], y = pb[i];                                                        \
                    o[i] = (TO)(EXPR);                                                             \
                }                                                                                  \
                return;                                                                            \
            }                                                                                      \
            if (s[0] == sz && s[1] == 0) {                                                         \
                const T *pa = (const T *)a[0];                                                     \
                const T y = *(const T *)a[1];                                                      \
                for (int64_t i = 0; i < n; i++) {                                                  \
                    T x = pa[i];                                                                   \
                    o[i] = (TO)(EXPR);                                                             \
                }                                                                                  \
                return;                                                                            \
            }                                                                                      \
            if (s[0] == 0 && s[1] == sz) {                                                         \
                const T x = *(const T *)a[0];                                                      \
                const T *pb = (const T *)a[1];                                                     \
                for (int64_t i = 0; i < n; i++) {                                                  \
                    T y = pb[i];                                                                   \
                    o[i] = (TO)(EXPR);                                                             \
                }                                                                                  \
                return;                                                                            \
            }                                                                                      \
        }                                                                                          \
        for (int64_t i = 0; i < n; i++) {                                                          \
            T x = *(const T *)(a[0] + i * s[0]), y = *(const T *)(a[1] + i * s[1]);                \
            *(TO *)(a[2] + i * s[2]) = (TO)(EXPR);                                                 \
        }                                                                                          \
    }
#endif
