/* Binary elementwise loops (arithmetic, comparisons, logical and bitwise ops), compiled once per ISA
 * (see ew_simd.h). Fills the binary part of a ds_ew_table. */
#include <math.h>

#include "kernels/ew_simd.h"

/* ---------------------------------------------------------------- scalar helpers */
/* Python/NumPy floor division and modulo on integers; y == 0 gives 0 and MIN // -1 wraps, so
 * nothing ever traps. */
#define EW_INT_DIVMOD(W, UW)                                                                       \
    static inline W ew_fdiv_##W(W x, W y) {                                                        \
        if (y == 0) return 0;                                                                      \
        if (y == -1) return (W)(0u - (UW)x);                                                       \
        W q = x / y, r = x % y;                                                                    \
        return (r != 0 && ((r < 0) != (y < 0))) ? q - 1 : q;                                       \
    }                                                                                              \
    static inline W ew_fmod_##W(W x, W y) {                                                        \
        if (y == 0 || y == -1) return 0;                                                           \
        W r = x % y;                                                                               \
        return (r != 0 && ((r < 0) != (y < 0))) ? r + y : r;                                       \
    }
EW_INT_DIVMOD(int32_t, uint32_t)
EW_INT_DIVMOD(int64_t, uint64_t)

/* Integer power by squaring (wrapping); negative exponents give 1 for base 1, +-1 for base -1,
 * else 0. */
static inline int64_t ew_ipow(int64_t b, int64_t e) {
    if (e < 0) return b == 1 ? 1 : (b == -1 ? ((e & 1) ? -1 : 1) : 0);
    uint64_t r = 1, x = (uint64_t)b;
    while (e) {
        if (e & 1) r *= x;
        x *= x;
        e >>= 1;
    }
    return (int64_t)r;
}

/* NumPy's float floor_divide / remainder (npy_divmod): results consistent with fmod, sign of the
 * remainder follows the divisor. */
#define EW_FLOAT_DIVMOD(tag, T, FMOD, FLOOR, COPYSIGN)                                             \
    static inline T ew_fdiv_##tag(T a, T b) {                                                      \
        if (b == 0) return a / b;                                                                  \
        T mod = FMOD(a, b);                                                                        \
        T div = (a - mod) / b;                                                                     \
        if (mod != 0 && ((b < 0) != (mod < 0))) div -= 1;                                          \
        if (div == 0) return COPYSIGN((T)0, a / b);                                                \
        T fl = FLOOR(div);                                                                         \
        return div - fl > (T)0.5 ? fl + 1 : fl;                                                    \
    }                                                                                              \
    static inline T ew_fmod_##tag(T a, T b) {                                                      \
        T mod = FMOD(a, b);                                                                        \
        if (b == 0) return mod;                                                                    \
        if (mod != 0) return ((b < 0) != (mod < 0)) ? mod + b : mod;                               \
        return COPYSIGN((T)0, b);                                                                  \
    }
EW_FLOAT_DIVMOD(f32, float, fmodf, floorf, copysignf)
EW_FLOAT_DIVMOD(f64, double, fmod, floor, copysign)

/* ---------------------------------------------------------------- loops shared by all dtypes */
#define EW_COMPARE_LOGICAL(tag, T)                                                                 \
    DS_EW_BINARY_LOOP(eq_##tag, T, uint8_t, x == y)                                                \
    DS_EW_BINARY_LOOP(ne_##tag, T, uint8_t, x != y)                                                \
    DS_EW_BINARY_LOOP(lt_##tag, T, uint8_t, x < y)                                                 \
    DS_EW_BINARY_LOOP(le_##tag, T, uint8_t, x <= y)                                                \
    DS_EW_BINARY_LOOP(gt_##tag, T, uint8_t, x > y)                                                 \
    DS_EW_BINARY_LOOP(ge_##tag, T, uint8_t, x >= y)                                                \
    DS_EW_BINARY_LOOP(land_##tag, T, uint8_t, (x != 0) & (y != 0))                                 \
    DS_EW_BINARY_LOOP(lor_##tag, T, uint8_t, (x != 0) | (y != 0))                                  \
    DS_EW_BINARY_LOOP(lxor_##tag, T, uint8_t, (x != 0) ^ (y != 0))

/* ---------------------------------------------------------------- float32 / float64 */
#define EW_FLOAT_BINARY(tag, T, POW)                                                               \
    DS_EW_BINARY_LOOP(add_##tag, T, T, x + y)                                                      \
    DS_EW_BINARY_LOOP(sub_##tag, T, T, x - y)                                                      \
    DS_EW_BINARY_LOOP(mul_##tag, T, T, x * y)                                                      \
    DS_EW_BINARY_LOOP(div_##tag, T, T, x / y)                                                      \
    DS_EW_BINARY_LOOP(fdiv_##tag, T, T, ew_fdiv_##tag(x, y))                                       \
    DS_EW_BINARY_LOOP(fmod_##tag, T, T, ew_fmod_##tag(x, y))                                       \
    DS_EW_BINARY_LOOP(powg_##tag, T, T, POW(x, y))                                                 \
    DS_EW_BINARY_LOOP(max_##tag, T, T, (x >= y || x != x) ? x : y)                                 \
    DS_EW_BINARY_LOOP(min_##tag, T, T, (x <= y || x != x) ? x : y)                                 \
    EW_COMPARE_LOGICAL(tag, T)                                                                     \
    /* pow with a broadcast scalar exponent: exact shortcuts for 0, 1, -1 and 2 */                 \
    static void pow_##tag(char **a, const int64_t *s, int64_t n, void *ctx) {                      \
        const int64_t sz = (int64_t)sizeof(T);                                                     \
        if (s[1] == 0 && s[0] == sz && s[2] == sz) {                                               \
            const T e = *(const T *)a[1], *x = (const T *)a[0];                                    \
            T *o = (T *)a[2];                                                                      \
            if (e == 2) {                                                                          \
                for (int64_t i = 0; i < n; i++) o[i] = x[i] * x[i];                                \
                return;                                                                            \
            }                                                                                      \
            if (e == 1 || e == 0 || e == -1) {                                                     \
                for (int64_t i = 0; i < n; i++)                                                    \
                    o[i] = e == 1 ? x[i] : (e == 0 ? (T)1 : (T)1 / x[i]);                          \
                return;                                                                            \
            }                                                                                      \
        }                                                                                          \
        powg_##tag(a, s, n, ctx);                                                                  \
    }
EW_FLOAT_BINARY(f32, float, powf)
EW_FLOAT_BINARY(f64, double, pow)

/* ---------------------------------------------------------------- float16 / bfloat16 */
DS_EW_HALF_BINARY(add, add_f32, 0)
DS_EW_HALF_BINARY(sub, sub_f32, 0)
DS_EW_HALF_BINARY(mul, mul_f32, 0)
DS_EW_HALF_BINARY(div, div_f32, 0)
DS_EW_HALF_BINARY(fdiv, fdiv_f32, 0)
DS_EW_HALF_BINARY(fmod, fmod_f32, 0)
DS_EW_HALF_BINARY(pow, pow_f32, 0)
DS_EW_HALF_BINARY(max, max_f32, 0)
DS_EW_HALF_BINARY(min, min_f32, 0)
DS_EW_HALF_BINARY(eq, eq_f32, 1)
DS_EW_HALF_BINARY(ne, ne_f32, 1)
DS_EW_HALF_BINARY(lt, lt_f32, 1)
DS_EW_HALF_BINARY(le, le_f32, 1)
DS_EW_HALF_BINARY(gt, gt_f32, 1)
DS_EW_HALF_BINARY(ge, ge_f32, 1)
/* truthiness of float16/bfloat16 bits: anything but +-0 is true */
DS_EW_BINARY_LOOP(land_h, uint16_t, uint8_t, ((x & 0x7fffu) != 0) & ((y & 0x7fffu) != 0))
DS_EW_BINARY_LOOP(lor_h, uint16_t, uint8_t, ((x & 0x7fffu) != 0) | ((y & 0x7fffu) != 0))
DS_EW_BINARY_LOOP(lxor_h, uint16_t, uint8_t, ((x & 0x7fffu) != 0) ^ ((y & 0x7fffu) != 0))

/* ---------------------------------------------------------------- integers and bool */
#define EW_INT_BINARY(tag, T, UT, W)                                                               \
    DS_EW_BINARY_LOOP(add_##tag, T, T, (T)((UT)x + (UT)y))                                         \
    DS_EW_BINARY_LOOP(sub_##tag, T, T, (T)((UT)x - (UT)y))                                         \
    DS_EW_BINARY_LOOP(mul_##tag, T, T, (T)((UT)x * (UT)y))                                         \
    DS_EW_BINARY_LOOP(fdiv_##tag, T, T, (T)ew_fdiv_##W((W)x, (W)y))                                \
    DS_EW_BINARY_LOOP(fmod_##tag, T, T, (T)ew_fmod_##W((W)x, (W)y))                                \
    DS_EW_BINARY_LOOP(pow_##tag, T, T, (T)ew_ipow((int64_t)x, (int64_t)y))                         \
    DS_EW_BINARY_LOOP(max_##tag, T, T, x > y ? x : y)                                              \
    DS_EW_BINARY_LOOP(min_##tag, T, T, x < y ? x : y)                                              \
    DS_EW_BINARY_LOOP(band_##tag, T, T, x & y)                                                     \
    DS_EW_BINARY_LOOP(bor_##tag, T, T, x | y)                                                      \
    DS_EW_BINARY_LOOP(bxor_##tag, T, T, x ^ y)                                                     \
    EW_COMPARE_LOGICAL(tag, T)
EW_INT_BINARY(i8, int8_t, uint32_t, int32_t)
EW_INT_BINARY(i16, int16_t, uint32_t, int32_t)
EW_INT_BINARY(i32, int32_t, uint32_t, int32_t)
EW_INT_BINARY(i64, int64_t, uint64_t, int64_t)
/* uint8: unsigned division never overflows; only the zero divisor needs a guard */
DS_EW_BINARY_LOOP(add_u8, uint8_t, uint8_t, x + y)
DS_EW_BINARY_LOOP(sub_u8, uint8_t, uint8_t, x - y)
DS_EW_BINARY_LOOP(mul_u8, uint8_t, uint8_t, x * y)
DS_EW_BINARY_LOOP(fdiv_u8, uint8_t, uint8_t, y == 0 ? 0 : x / y)
DS_EW_BINARY_LOOP(fmod_u8, uint8_t, uint8_t, y == 0 ? 0 : x % y)
DS_EW_BINARY_LOOP(pow_u8, uint8_t, uint8_t, (uint8_t)ew_ipow(x, y))
DS_EW_BINARY_LOOP(max_u8, uint8_t, uint8_t, x > y ? x : y)
DS_EW_BINARY_LOOP(min_u8, uint8_t, uint8_t, x < y ? x : y)
DS_EW_BINARY_LOOP(band_u8, uint8_t, uint8_t, x & y)
DS_EW_BINARY_LOOP(bor_u8, uint8_t, uint8_t, x | y)
DS_EW_BINARY_LOOP(bxor_u8, uint8_t, uint8_t, x ^ y)
EW_COMPARE_LOGICAL(u8, uint8_t)

/* ---------------------------------------------------------------- the table */
void DS_EW_SYM(ds_ew_fill_binary)(ds_ew_table *t) {
#define SET(OP, dt, fn) t->binary[DS_OP_##OP][dt] = fn;
#define SET_CMP(dt, tag)                                                                           \
    SET(EQUAL, dt, eq_##tag) SET(NOT_EQUAL, dt, ne_##tag) SET(LESS, dt, lt_##tag)                  \
    SET(LESS_EQUAL, dt, le_##tag) SET(GREATER, dt, gt_##tag) SET(GREATER_EQUAL, dt, ge_##tag)
#define SET_LOGICAL(dt, tag) SET(LOGICAL_AND, dt, land_##tag) SET(LOGICAL_OR, dt, lor_##tag) SET(LOGICAL_XOR, dt, lxor_##tag)
#define SET_ARITH(dt, tag)                                                                         \
    SET(ADD, dt, add_##tag) SET(SUB, dt, sub_##tag) SET(MUL, dt, mul_##tag)                        \
    SET(FLOOR_DIV, dt, fdiv_##tag) SET(MOD, dt, fmod_##tag) SET(POW, dt, pow_##tag)                \
    SET(MAXIMUM, dt, max_##tag) SET(MINIMUM, dt, min_##tag)
#define SET_BITWISE(dt, tag) SET(BITWISE_AND, dt, band_##tag) SET(BITWISE_OR, dt, bor_##tag) SET(BITWISE_XOR, dt, bxor_##tag)
    SET_ARITH(DS_FLOAT32, f32) SET_CMP(DS_FLOAT32, f32) SET_LOGICAL(DS_FLOAT32, f32) SET(DIV, DS_FLOAT32, div_f32)
    SET_ARITH(DS_FLOAT64, f64) SET_CMP(DS_FLOAT64, f64) SET_LOGICAL(DS_FLOAT64, f64) SET(DIV, DS_FLOAT64, div_f64)
    SET_ARITH(DS_FLOAT16, f16) SET_CMP(DS_FLOAT16, f16) SET(DIV, DS_FLOAT16, div_f16)
    SET_ARITH(DS_BFLOAT16, bf16) SET_CMP(DS_BFLOAT16, bf16) SET(DIV, DS_BFLOAT16, div_bf16)
    SET_LOGICAL(DS_FLOAT16, h) SET_LOGICAL(DS_BFLOAT16, h)
    SET_ARITH(DS_INT8, i8) SET_CMP(DS_INT8, i8) SET_LOGICAL(DS_INT8, i8) SET_BITWISE(DS_INT8, i8)
    SET_ARITH(DS_INT16, i16) SET_CMP(DS_INT16, i16) SET_LOGICAL(DS_INT16, i16) SET_BITWISE(DS_INT16, i16)
    SET_ARITH(DS_INT32, i32) SET_CMP(DS_INT32, i32) SET_LOGICAL(DS_INT32, i32) SET_BITWISE(DS_INT32, i32)
    SET_ARITH(DS_INT64, i64) SET_CMP(DS_INT64, i64) SET_LOGICAL(DS_INT64, i64) SET_BITWISE(DS_INT64, i64)
    SET_ARITH(DS_UINT8, u8) SET_CMP(DS_UINT8, u8) SET_LOGICAL(DS_UINT8, u8) SET_BITWISE(DS_UINT8, u8)
    /* bool (0/1): add = or, mul = and, max = or, min = and, as in NumPy */
    SET_CMP(DS_BOOL, u8) SET_LOGICAL(DS_BOOL, u8) SET_BITWISE(DS_BOOL, u8)
    SET(ADD, DS_BOOL, bor_u8) SET(MUL, DS_BOOL, band_u8) SET(MAXIMUM, DS_BOOL, bor_u8) SET(MINIMUM, DS_BOOL, band_u8)
#undef SET
#undef SET_CMP
#undef SET_LOGICAL
#undef SET_ARITH
#undef SET_BITWISE
}
