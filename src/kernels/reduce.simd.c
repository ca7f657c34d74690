/* Per-ISA reduction loops (see reduce.h). Compiled once per instruction set with DS_ISA = generic |
 * avx2 | avx512; everything is static except the table filler, whose name carries the ISA.
 * The loops keep many independent lanes in small arrays so that GCC vectorizes them without
 * -ffast-math (the order of operations is fixed by the source, so results are reproducible). */
#include <stdint.h>

#include "kernels/reduce.h"

#ifndef DS_ISA
#define DS_ISA generic
#endif
#define DS_RD_CAT2(a, b) a##_##b
#define DS_RD_CAT(a, b) DS_RD_CAT2(a, b)

#define PAIRWISE_BLOCK 4096 /* below this a run is summed in lanes, above it split in halves */

/* ---------------------------------------------------------------- sums (double lanes) */
#define DEF_SUM(T, SUF, L)                                                                         \
    static double sum_##SUF(const T *restrict x, int64_t n) {                                      \
        if (n > PAIRWISE_BLOCK) {                                                                  \
            int64_t h = (n / 2 + (L)-1) / (L) * (L);                                               \
            return sum_##SUF(x, h) + sum_##SUF(x + h, n - h);                                      \
        }                                                                                          \
        double acc[L] = {0};                                                                       \
        int64_t i = 0;                                                                             \
        for (; i + (L) <= n; i += (L))                                                             \
            for (int l = 0; l < (L); l++) acc[l] += (double)x[i + l];                              \
        double tail = 0;                                                                           \
        for (; i < n; i++) tail += (double)x[i];                                                   \
        for (int w = (L) / 2; w >= 1; w /= 2)                                                      \
            for (int l = 0; l < w; l++) acc[l] += acc[l + w];                                      \
        return acc[0] + tail;                                                                      \
    }                                                                                              \
    static double sqdev_##SUF(const T *restrict x, int64_t n, double m) {                          \
        if (n > PAIRWISE_BLOCK) {                                                                  \
            int64_t h = (n / 2 + (L)-1) / (L) * (L);                                               \
            return sqdev_##SUF(x, h, m) + sqdev_##SUF(x + h, n - h, m);                            \
        }                                                                                          \
        double acc[L] = {0};                                                                       \
        int64_t i = 0;                                                                             \
        for (; i + (L) <= n; i += (L))                                                             \
            for (int l = 0; l < (L); l++) {                                                        \
                double d = (double)x[i + l] - m;                                                   \
                acc[l] += d * d;                                                                   \
            }                                                                                      \
        double tail = 0;                                                                           \
        for (; i < n; i++) {                                                                       \
            double d = (double)x[i] - m;                                                           \
            tail += d * d;                                                                         \
        }                                                                                          \
        for (int w = (L) / 2; w >= 1; w /= 2)                                                      \
            for (int l = 0; l < w; l++) acc[l] += acc[l + w];                                      \
        return acc[0] + tail;                                                                      \
    }                                                                                              \
    static void sum_rows_##SUF(const T *restrict x, int64_t r, int64_t ld, int64_t c,              \
                               double *restrict acc) {                                             \
        for (int64_t i = 0; i < r; i++) {                                                          \
            const T *restrict row = x + i * ld;                                                    \
            for (int64_t j = 0; j < c; j++) acc[j] += (double)row[j];                              \
        }                                                                                          \
    }                                                                                              \
    static void sqdev_rows_##SUF(const T *restrict x, int64_t r, int64_t ld, int64_t c,            \
                                 const double *restrict m, double *restrict acc) {                 \
        for (int64_t i = 0; i < r; i++) {                                                          \
            const T *restrict row = x + i * ld;                                                    \
            for (int64_t j = 0; j < c; j++) {                                                      \
                double d = (double)row[j] - m[j];                                                  \
                acc[j] += d * d;                                                                   \
            }                                                                                      \
        }                                                                                          \
    }

DEF_SUM(float, f32, 32)
DEF_SUM(double, f64, 16)

/* ---------------------------------------------------------------- max / min, NaN-propagating */
/* "Better" for max: v > m, or v is NaN (a NaN, once taken, is never replaced: v > NaN is false and
 * a later non-NaN v is not NaN). */
#define GT_OR_NAN(v, m) (((v) > (m)) | ((v) != (v)))
#define LT_OR_NAN(v, m) (((v) < (m)) | ((v) != (v)))

#define DEF_EXT(T, SUF, L, NAME, BETTER)                                                           \
    static T NAME##_##SUF(const T *restrict x, int64_t n) {                                        \
        int64_t i = 0;                                                                             \
        T best = x[0];                                                                             \
        if (n >= 2 * (L)) {                                                                        \
            T m[L];                                                                                \
            for (int l = 0; l < (L); l++) m[l] = x[l];                                             \
            for (i = (L); i + (L) <= n; i += (L))                                                  \
                for (int l = 0; l < (L); l++) {                                                    \
                    T v = x[i + l];                                                                \
                    m[l] = BETTER(v, m[l]) ? v : m[l];                                             \
                }                                                                                  \
            best = m[0];                                                                           \
            for (int l = 1; l < (L); l++) best = BETTER(m[l], best) ? m[l] : best;                 \
        }                                                                                          \
        for (; i < n; i++) best = BETTER(x[i], best) ? x[i] : best;                                \
        return best;                                                                               \
    }                                                                                              \
    static void NAME##_rows_##SUF(const T *restrict x, int64_t r, int64_t ld, int64_t c,           \
                                  T *restrict acc) {                                               \
        for (int64_t i = 0; i < r; i++) {                                                          \
            const T *restrict row = x + i * ld;                                                    \
            for (int64_t j = 0; j < c; j++) {                                                      \
                T v = row[j], a = acc[j];                                                          \
                acc[j] = BETTER(v, a) ? v : a;                                                     \
            }                                                                                      \
        }                                                                                          \
    }

DEF_EXT(float, f32, 32, max, GT_OR_NAN)
DEF_EXT(float, f32, 32, min, LT_OR_NAN)
DEF_EXT(double, f64, 16, max, GT_OR_NAN)
DEF_EXT(double, f64, 16, min, LT_OR_NAN)

/* ---------------------------------------------------------------- find (for argmax / argmin) */
#define DEF_FIND(T, SUF)                                                                           \
    static int64_t find_##SUF(const T *restrict x, int64_t n, T v) {                               \
        const int64_t B = 256;                                                                     \
        bool nan = v != v;                                                                         \
        for (int64_t i0 = 0; i0 < n; i0 += B) {                                                    \
            int64_t e = i0 + B < n ? i0 + B : n;                                                   \
            int hit = 0;                                                                           \
            if (nan)                                                                               \
                for (int64_t i = i0; i < e; i++) hit |= x[i] != x[i];                              \
            else                                                                                   \
                for (int64_t i = i0; i < e; i++) hit |= x[i] == v;                                 \
            if (!hit) continue;                                                                    \
            for (int64_t i = i0; i < e; i++)                                                       \
                if (nan ? x[i] != x[i] : x[i] == v) return i;                                      \
        }                                                                                          \
        return n;                                                                                  \
    }

DEF_FIND(float, f32)
DEF_FIND(double, f64)

void DS_RD_CAT(ds_reduce_fill_vt, DS_ISA)(ds_reduce_vt *vt) {
    vt->sum_f32 = sum_f32;
    vt->sum_f64 = sum_f64;
    vt->sqdev_f32 = sqdev_f32;
    vt->sqdev_f64 = sqdev_f64;
    vt->sum_rows_f32 = sum_rows_f32;
    vt->sum_rows_f64 = sum_rows_f64;
    vt->sqdev_rows_f32 = sqdev_rows_f32;
    vt->sqdev_rows_f64 = sqdev_rows_f64;
    vt->max_f32 = max_f32;
    vt->min_f32 = min_f32;
    vt->max_f64 = max_f64;
    vt->min_f64 = min_f64;
    vt->max_rows_f32 = max_rows_f32;
    vt->min_rows_f32 = min_rows_f32;
    vt->max_rows_f64 = max_rows_f64;
    vt->min_rows_f64 = min_rows_f64;
    vt->find_f32 = find_f32;
    vt->find_f64 = find_f64;
}
