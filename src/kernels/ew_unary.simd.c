/* Unary elementwise loops, the where (select) loops and the clip loops, compiled once per ISA
 * (see ew_simd.h). Fills the unary, where and clip parts of a ds_ew_table. */
#include <float.h>
#include <math.h>

#include "kernels/ew_simd.h"

/* ---------------------------------------------------------------- rounding helpers */
static inline float ew_rintf(float x) { /* half to even (default rounding mode) */
#if defined(__SSE4_1__) || defined(__aarch64__)
    return rintf(x);
#else
    float t = ds_vm_copysignf(8388608.0f, x);
    float r = (x + t) - t;
    return fabsf(x) < 8388608.0f ? ds_vm_copysignf(r, x) : x;
#endif
}
static inline double ew_rint(double x) {
#if defined(__SSE4_1__) || defined(__aarch64__)
    return rint(x);
#else
    double t = ds_vm_copysign(4503599627370496.0, x);
    double r = (x + t) - t;
    return fabs(x) < 4503599627370496.0 ? ds_vm_copysign(r, x) : x;
#endif
}
static inline float ew_floorf(float x) {
#if defined(__SSE4_1__) || defined(__aarch64__)
    return floorf(x);
#else
    float r = ew_rintf(x);
    return ds_vm_copysignf(r > x ? r - 1.0f : r, x);
#endif
}
static inline float ew_ceilf(float x) {
#if defined(__SSE4_1__) || defined(__aarch64__)
    return ceilf(x);
#else
    float r = ew_rintf(x);
    return ds_vm_copysignf(r < x ? r + 1.0f : r, x);
#endif
}
static inline double ew_floor(double x) {
#if defined(__SSE4_1__) || defined(__aarch64__)
    return floor(x);
#else
    double r = ew_rint(x);
    return ds_vm_copysign(r > x ? r - 1.0 : r, x);
#endif
}
static inline double ew_ceil(double x) {
#if defined(__SSE4_1__) || defined(__aarch64__)
    return ceil(x);
#else
    double r = ew_rint(x);
    return ds_vm_copysign(r < x ? r + 1.0 : r, x);
#endif
}

/* ---------------------------------------------------------------- float32 / float64 */
#define EW_FLOAT_UNARY(tag, T, ONE, EXPF, LOGF, TANHF, SIGF, GELUF, ERFF, SQRTF, FABSF, RINTF, FLOORF, CEILF) \
    DS_EW_UNARY_LOOP(neg_##tag, T, T, -x)                                                          \
    DS_EW_UNARY_LOOP(abs_##tag, T, T, FABSF(x))                                                    \
    DS_EW_UNARY_LOOP(exp_##tag, T, T, EXPF(x))                                                     \
    DS_EW_UNARY_LOOP(log_##tag, T, T, LOGF(x))                                                     \
    DS_EW_UNARY_LOOP(sqrt_##tag, T, T, SQRTF(x))                                                   \
    DS_EW_UNARY_LOOP(rsqrt_##tag, T, T, ONE / SQRTF(x))                                            \
    DS_EW_UNARY_LOOP(tanh_##tag, T, T, TANHF(x))                                                   \
    DS_EW_UNARY_LOOP(sigmoid_##tag, T, T, SIGF(x))                                                 \
    DS_EW_UNARY_LOOP(relu_##tag, T, T, (x > 0 || x != x) ? x : (T)0)                               \
    DS_EW_UNARY_LOOP(gelu_##tag, T, T, GELUF(x))                                                   \
    DS_EW_UNARY_LOOP(erf_##tag, T, T, ERFF(x))                                                     \
    DS_EW_UNARY_LOOP(floor_##tag, T, T, FLOORF(x))                                                 \
    DS_EW_UNARY_LOOP(ceil_##tag, T, T, CEILF(x))                                                   \
    DS_EW_UNARY_LOOP(round_##tag, T, T, RINTF(x))                                                  \
    DS_EW_UNARY_LOOP(sign_##tag, T, T, x > 0 ? ONE : (x < 0 ? -ONE : (x == 0 ? (T)0 : x)))                           \
    DS_EW_UNARY_LOOP(reciprocal_##tag, T, T, ONE / x)                                              \
    DS_EW_UNARY_LOOP(square_##tag, T, T, x * x)                                                    \
    DS_EW_UNARY_LOOP(lnot_##tag, T, uint8_t, x == 0)

static inline double ew_gelu_d(double x) { return 0.5 * x * erfc(-x * 0.70710678118654752440); }

EW_FLOAT_UNARY(f32, float, 1.0f, ds_vm_expf, ds_vm_logf, ds_vm_tanhf, ds_vm_sigmoidf, ds_vm_geluf,
               ds_vm_erff, sqrtf, fabsf, ew_rintf, ew_floorf, ew_ceilf)
EW_FLOAT_UNARY(f64, double, 1.0, ds_vm_exp, ds_vm_log, ds_vm_tanh, ds_vm_sigmoid, ew_gelu_d, erf, sqrt,
               fabs, ew_rint, ew_floor, ew_ceil)
DS_EW_UNARY_LOOP(sin_f64, double, double, sin(x))
DS_EW_UNARY_LOOP(cos_f64, double, double, cos(x))

/* sin/cos float32: blocks whose arguments are all in the polynomial's range take the vectorized
 * path; a block with a huge or infinite argument goes through libm. */
#define EW_TRIG_F32(name, VM, LIBM)                                                                \
    static void name##_f32(char **a, const int64_t *s, int64_t n, void *ctx) {                     \
        (void)ctx;                                                                                 \
        if (s[0] != 4 || s[1] != 4) {                                                              \
            for (int64_t i = 0; i < n; i++) {                                                      \
                float x = *(const float *)(a[0] + i * s[0]);                                       \
                *(float *)(a[1] + i * s[1]) = ds_vm_trig_ok(x) ? VM(x) : LIBM(x);                  \
            }                                                                                      \
            return;                                                                                \
        }                                                                                          \
        const float *xp = (const float *)a[0];                                                     \
        float *yp = (float *)a[1];                                                                 \
        for (int64_t i0 = 0; i0 < n; i0 += 256) {                                                  \
            int64_t m = n - i0 < 256 ? n - i0 : 256;                                               \
            int bad = 0;                                                                           \
            for (int64_t i = 0; i < m; i++) bad |= !ds_vm_trig_ok(xp[i0 + i]);                     \
            if (!bad)                                                                              \
                for (int64_t i = 0; i < m; i++) yp[i0 + i] = VM(xp[i0 + i]);                       \
            else                                                                                   \
                for (int64_t i = 0; i < m; i++) yp[i0 + i] = LIBM(xp[i0 + i]);                     \
        }                                                                                          \
    }
EW_TRIG_F32(sin, ds_vm_sinf, sinf)
EW_TRIG_F32(cos, ds_vm_cosf, cosf)

/* ---------------------------------------------------------------- float16 / bfloat16 */
DS_EW_UNARY_LOOP(neg_h, uint16_t, uint16_t, x ^ 0x8000u)
DS_EW_UNARY_LOOP(abs_h, uint16_t, uint16_t, x & 0x7fffu)
DS_EW_UNARY_LOOP(lnot_h, uint16_t, uint8_t, (x & 0x7fffu) == 0)
DS_EW_HALF_UNARY(exp, exp_f32, 0)
DS_EW_HALF_UNARY(log, log_f32, 0)
DS_EW_HALF_UNARY(sqrt, sqrt_f32, 0)
DS_EW_HALF_UNARY(rsqrt, rsqrt_f32, 0)
DS_EW_HALF_UNARY(sin, sin_f32, 0)
DS_EW_HALF_UNARY(cos, cos_f32, 0)
DS_EW_HALF_UNARY(tanh, tanh_f32, 0)
DS_EW_HALF_UNARY(sigmoid, sigmoid_f32, 0)
DS_EW_HALF_UNARY(relu, relu_f32, 0)
DS_EW_HALF_UNARY(gelu, gelu_f32, 0)
DS_EW_HALF_UNARY(erf, erf_f32, 0)
DS_EW_HALF_UNARY(floor, floor_f32, 0)
DS_EW_HALF_UNARY(ceil, ceil_f32, 0)
DS_EW_HALF_UNARY(round, round_f32, 0)
DS_EW_HALF_UNARY(sign, sign_f32, 0)
DS_EW_HALF_UNARY(reciprocal, reciprocal_f32, 0)
DS_EW_HALF_UNARY(square, square_f32, 0)

/* ---------------------------------------------------------------- integers and bool */
#define EW_INT_UNARY(tag, T, UT)                                                                   \
    DS_EW_UNARY_LOOP(neg_##tag, T, T, (T)(0u - (UT)x))                                             \
    DS_EW_UNARY_LOOP(abs_##tag, T, T, x < 0 ? (T)(0u - (UT)x) : x)                                 \
    DS_EW_UNARY_LOOP(relu_##tag, T, T, x > 0 ? x : 0)                                              \
    DS_EW_UNARY_LOOP(sign_##tag, T, T, (x > 0) - (x < 0))                                          \
    DS_EW_UNARY_LOOP(square_##tag, T, T, (T)((UT)x * (UT)x))                                       \
    DS_EW_UNARY_LOOP(lnot_##tag, T, uint8_t, x == 0)                                               \
    DS_EW_UNARY_LOOP(bnot_##tag, T, T, ~x)                                                         \
    DS_EW_UNARY_LOOP(copy_##tag, T, T, x)
EW_INT_UNARY(i8, int8_t, uint32_t)
EW_INT_UNARY(i16, int16_t, uint32_t)
EW_INT_UNARY(i32, int32_t, uint32_t)
EW_INT_UNARY(i64, int64_t, uint64_t)
DS_EW_UNARY_LOOP(neg_u8, uint8_t, uint8_t, 0u - x)
DS_EW_UNARY_LOOP(sign_u8, uint8_t, uint8_t, x > 0)
DS_EW_UNARY_LOOP(square_u8, uint8_t, uint8_t, x * x)
DS_EW_UNARY_LOOP(lnot_u8, uint8_t, uint8_t, x == 0)
DS_EW_UNARY_LOOP(bnot_u8, uint8_t, uint8_t, ~x)
DS_EW_UNARY_LOOP(copy_u8, uint8_t, uint8_t, x)
DS_EW_UNARY_LOOP(bnot_b8, uint8_t, uint8_t, x == 0)

/* ---------------------------------------------------------------- where */
#define EW_WHERE(NAME, T)                                                                          \
    static void NAME(char **a, const int64_t *s, int64_t n, void *ctx) {                           \
        (void)ctx;                                                                                 \
        const int64_t sz = (int64_t)sizeof(T);                                                     \
        if (s[0] == 1 && s[3] == sz && s[1] == sz && s[2] == sz) {                                 \
            const uint8_t *c = (const uint8_t *)a[0];                                              \
            const T *x = (const T *)a[1], *y = (const T *)a[2];                                    \
            T *o = (T *)a[3];                                                                      \
            for (int64_t i = 0; i < n; i++) {                                                      \
                T xv = x[i], yv = y[i];                                                            \
                o[i] = c[i] ? xv : yv;                                                             \
            }                                                                                      \
            return;                                                                                \
        }                                                                                          \
        if (s[0] == 1 && s[3] == sz && (s[1] == 0 || s[1] == sz) && (s[2] == 0 || s[2] == sz)) {   \
            /* one side a broadcast scalar (e.g. the zero of a relu gradient) */                   \
            const uint8_t *c = (const uint8_t *)a[0];                                              \
            const T *x = (const T *)a[1], *y = (const T *)a[2];                                    \
            T *o = (T *)a[3];                                                                      \
            if (s[1] == 0 && s[2] == 0) {                                                          \
                const T xv = x[0], yv = y[0];                                                      \
                for (int64_t i = 0; i < n; i++) o[i] = c[i] ? xv : yv;                             \
            } else if (s[2] == 0) {                                                                \
                const T yv = y[0];                                                                 \
                for (int64_t i = 0; i < n; i++) {                                                  \
                    T xv = x[i];                                                                   \
                    o[i] = c[i] ? xv : yv;                                                         \
                }                                                                                  \
            } else {                                                                               \
                const T xv = x[0];                                                                 \
                for (int64_t i = 0; i < n; i++) {                                                  \
                    T yv = y[i];                                                                   \
                    o[i] = c[i] ? xv : yv;                                                         \
                }                                                                                  \
            }                                                                                      \
            return;                                                                                \
        }                                                                                          \
        for (int64_t i = 0; i < n; i++)                                                            \
            *(T *)(a[3] + i * s[3]) = *(const uint8_t *)(a[0] + i * s[0])                          \
                                          ? *(const T *)(a[1] + i * s[1])                          \
                                          : *(const T *)(a[2] + i * s[2]);                         \
    }
EW_WHERE(where_1, uint8_t)
EW_WHERE(where_2, uint16_t)
EW_WHERE(where_4, uint32_t)
EW_WHERE(where_8, uint64_t)

/* ---------------------------------------------------------------- clip */
#define EW_CLIP_LOOP(NAME, T, LO, HI)                                                              \
    static void NAME(char **a, const int64_t *s, int64_t n, void *ctx) {                           \
        const ds_clip_bounds *b = (const ds_clip_bounds *)ctx;                                     \
        const T lo = LO, hi = HI;                                                                  \
        if (s[0] == (int64_t)sizeof(T) && s[1] == (int64_t)sizeof(T)) {                            \
            const T *xp = (const T *)a[0];                                                         \
            T *yp = (T *)a[1];                                                                     \
            for (int64_t i = 0; i < n; i++) {                                                      \
                T v = xp[i];                                                                       \
                v = v < lo ? lo : v;                                                               \
                yp[i] = v > hi ? hi : v;                                                           \
            }                                                                                      \
            return;                                                                                \
        }                                                                                          \
        for (int64_t i = 0; i < n; i++) {                                                          \
            T v = *(const T *)(a[0] + i * s[0]);                                                   \
            v = v < lo ? lo : v;                                                                   \
            *(T *)(a[1] + i * s[1]) = v > hi ? hi : v;                                             \
        }                                                                                          \
    }
/* A bound converted to an integer type: truncated, saturated to [tmin, tmax]; NaN = absent. */
static inline int64_t ew_int_bound(double v, bool has, double tmin, double tmax, bool upper) {
    if (!has || v != v) return upper ? (int64_t)tmax : (int64_t)tmin;
    if (v <= tmin) return (int64_t)tmin;
    if (v >= tmax) return (int64_t)tmax;
    return (int64_t)v;
}
#define EW_INT_CLIP(tag, T, TMIN, TMAX)                                                            \
    EW_CLIP_LOOP(clip_##tag, T, (T)ew_int_bound(b->lo, b->has_lo, TMIN, TMAX, false),              \
                 (T)ew_int_bound(b->hi, b->has_hi, TMIN, TMAX, true))
EW_INT_CLIP(b8, uint8_t, 0, 1)
EW_INT_CLIP(i8, int8_t, INT8_MIN, INT8_MAX)
EW_INT_CLIP(u8, uint8_t, 0, UINT8_MAX)
EW_INT_CLIP(i16, int16_t, INT16_MIN, INT16_MAX)
EW_INT_CLIP(i32, int32_t, INT32_MIN, INT32_MAX)
EW_INT_CLIP(i64, int64_t, -9223372036854775808.0, 9223372036854775807.0)
EW_CLIP_LOOP(clip_f32, float, b->has_lo ? (float)b->lo : -INFINITY, b->has_hi ? (float)b->hi : INFINITY)
EW_CLIP_LOOP(clip_f64, double, b->has_lo ? b->lo : -INFINITY, b->has_hi ? b->hi : INFINITY)
DS_EW_HALF_UNARY(clip, clip_f32, 0)

/* ---------------------------------------------------------------- the table */
void DS_EW_SYM(ds_ew_fill_unary)(ds_ew_table *t) {
#define SETF(OP, name)                                                                             \
    t->unary[DS_OP_##OP][DS_FLOAT32] = name##_f32;                                                 \
    t->unary[DS_OP_##OP][DS_FLOAT64] = name##_f64;                                                 \
    t->unary[DS_OP_##OP][DS_FLOAT16] = name##_f16;                                                 \
    t->unary[DS_OP_##OP][DS_BFLOAT16] = name##_bf16;
    SETF(EXP, exp) SETF(LOG, log) SETF(SQRT, sqrt) SETF(RSQRT, rsqrt) SETF(SIN, sin) SETF(COS, cos)
    SETF(TANH, tanh) SETF(SIGMOID, sigmoid) SETF(RELU, relu) SETF(GELU, gelu) SETF(ERF, erf)
    SETF(FLOOR, floor) SETF(CEIL, ceil) SETF(ROUND, round) SETF(SIGN, sign) SETF(RECIPROCAL, reciprocal)
    SETF(SQUARE, square)
#undef SETF
    t->unary[DS_OP_NEG][DS_FLOAT32] = neg_f32;
    t->unary[DS_OP_NEG][DS_FLOAT64] = neg_f64;
    t->unary[DS_OP_ABS][DS_FLOAT32] = abs_f32;
    t->unary[DS_OP_ABS][DS_FLOAT64] = abs_f64;
    t->unary[DS_OP_LOGICAL_NOT][DS_FLOAT32] = lnot_f32;
    t->unary[DS_OP_LOGICAL_NOT][DS_FLOAT64] = lnot_f64;
    t->unary[DS_OP_NEG][DS_FLOAT16] = t->unary[DS_OP_NEG][DS_BFLOAT16] = neg_h;
    t->unary[DS_OP_ABS][DS_FLOAT16] = t->unary[DS_OP_ABS][DS_BFLOAT16] = abs_h;
    t->unary[DS_OP_LOGICAL_NOT][DS_FLOAT16] = t->unary[DS_OP_LOGICAL_NOT][DS_BFLOAT16] = lnot_h;
#define SETI(dt, tag)                                                                              \
    t->unary[DS_OP_NEG][dt] = neg_##tag;                                                           \
    t->unary[DS_OP_ABS][dt] = abs_##tag;                                                           \
    t->unary[DS_OP_RELU][dt] = relu_##tag;                                                         \
    t->unary[DS_OP_SIGN][dt] = sign_##tag;                                                         \
    t->unary[DS_OP_SQUARE][dt] = square_##tag;                                                     \
    t->unary[DS_OP_LOGICAL_NOT][dt] = lnot_##tag;                                                  \
    t->unary[DS_OP_BITWISE_NOT][dt] = bnot_##tag;                                                  \
    t->unary[DS_OP_FLOOR][dt] = t->unary[DS_OP_CEIL][dt] = t->unary[DS_OP_ROUND][dt] = copy_##tag;
    SETI(DS_INT8, i8) SETI(DS_INT16, i16) SETI(DS_INT32, i32) SETI(DS_INT64, i64)
#undef SETI
    t->unary[DS_OP_NEG][DS_UINT8] = neg_u8;
    t->unary[DS_OP_ABS][DS_UINT8] = t->unary[DS_OP_RELU][DS_UINT8] = copy_u8;
    t->unary[DS_OP_SIGN][DS_UINT8] = sign_u8;
    t->unary[DS_OP_SQUARE][DS_UINT8] = square_u8;
    t->unary[DS_OP_LOGICAL_NOT][DS_UINT8] = lnot_u8;
    t->unary[DS_OP_BITWISE_NOT][DS_UINT8] = bnot_u8;
    t->unary[DS_OP_FLOOR][DS_UINT8] = t->unary[DS_OP_CEIL][DS_UINT8] = t->unary[DS_OP_ROUND][DS_UINT8] = copy_u8;
    /* bool: values are 0/1, so abs, relu, sign, square, floor, ceil, round are copies */
    t->unary[DS_OP_ABS][DS_BOOL] = t->unary[DS_OP_RELU][DS_BOOL] = t->unary[DS_OP_SIGN][DS_BOOL] = copy_u8;
    t->unary[DS_OP_SQUARE][DS_BOOL] = t->unary[DS_OP_FLOOR][DS_BOOL] = copy_u8;
    t->unary[DS_OP_CEIL][DS_BOOL] = t->unary[DS_OP_ROUND][DS_BOOL] = copy_u8;
    t->unary[DS_OP_LOGICAL_NOT][DS_BOOL] = lnot_u8;
    t->unary[DS_OP_BITWISE_NOT][DS_BOOL] = bnot_b8;

    t->where[0] = where_1;
    t->where[1] = where_2;
    t->where[2] = where_4;
    t->where[3] = where_8;

    t->clip[DS_BOOL] = clip_b8;
    t->clip[DS_INT8] = clip_i8;
    t->clip[DS_UINT8] = clip_u8;
    t->clip[DS_INT16] = clip_i16;
    t->clip[DS_INT32] = clip_i32;
    t->clip[DS_INT64] = clip_i64;
    t->clip[DS_FLOAT16] = clip_f16;
    t->clip[DS_BFLOAT16] = clip_bf16;
    t->clip[DS_FLOAT32] = clip_f32;
    t->clip[DS_FLOAT64] = clip_f64;
}
