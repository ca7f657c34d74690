/* Dtype conversion loops for all 10 x 10 pairs, compiled once per ISA (see ew_simd.h). Fills the
 * cast part of a ds_ew_table. float16/bfloat16 go through float32 in staging blocks. */
#include "kernels/ew_simd.h"

/* Conversion of a value v to each plain type (see ds_kernel_cast for the rules). Float to narrow
 * integers goes through int32, so out-of-range values wrap the way NumPy's do on x86. */
#define EW_TO_b8(v) ((uint8_t)((v) != 0))
#define EW_TO_i8(v) ((int8_t)(int32_t)(v))
#define EW_TO_u8(v) ((uint8_t)(int32_t)(v))
#define EW_TO_i16(v) ((int16_t)(int32_t)(v))
#define EW_TO_i32(v) ((int32_t)(v))
#define EW_TO_i64(v) ((int64_t)(v))
#define EW_TO_f32(v) ((float)(v))
#define EW_TO_f64(v) ((double)(v))

/* The plain (non-16-bit-float) types: X(dtype, tag, C type). Two copies so that they can nest. */
#define EW_PLAIN_A(X, ...)                                                                         \
    X(DS_BOOL, b8, uint8_t, __VA_ARGS__) X(DS_INT8, i8, int8_t, __VA_ARGS__)                      \
    X(DS_UINT8, u8, uint8_t, __VA_ARGS__) X(DS_INT16, i16, int16_t, __VA_ARGS__)                  \
    X(DS_INT32, i32, int32_t, __VA_ARGS__) X(DS_INT64, i64, int64_t, __VA_ARGS__)                 \
    X(DS_FLOAT32, f32, float, __VA_ARGS__) X(DS_FLOAT64, f64, double, __VA_ARGS__)
#define EW_PLAIN_B(X, ...)                                                                         \
    X(DS_BOOL, b8, uint8_t, __VA_ARGS__) X(DS_INT8, i8, int8_t, __VA_ARGS__)                      \
    X(DS_UINT8, u8, uint8_t, __VA_ARGS__) X(DS_INT16, i16, int16_t, __VA_ARGS__)                  \
    X(DS_INT32, i32, int32_t, __VA_ARGS__) X(DS_INT64, i64, int64_t, __VA_ARGS__)                 \
    X(DS_FLOAT32, f32, float, __VA_ARGS__) X(DS_FLOAT64, f64, double, __VA_ARGS__)

/* cast_<from>_<to> for every plain pair */
#define EW_CAST_PAIR(DTO, TTAG, TO, FTAG, TI) DS_EW_UNARY_LOOP(cast_##FTAG##_##TTAG, TI, TO, EW_TO_##TTAG(x))
#define EW_CAST_FROM(DFROM, FTAG, TI, unused) EW_PLAIN_B(EW_CAST_PAIR, FTAG, TI)
EW_PLAIN_A(EW_CAST_FROM, 0)

/* bool from float16/bfloat16 bits; float16 <-> bfloat16 and same-type copies */
DS_EW_UNARY_LOOP(cast_h_b8, uint16_t, uint8_t, (x & 0x7fffu) != 0)
DS_EW_UNARY_LOOP(cast_h_h, uint16_t, uint16_t, x)
DS_EW_UNARY_LOOP(cast_f16_bf16, uint16_t, uint16_t, ds_ew_f2bf(ds_ew_h2f(x)))
DS_EW_UNARY_LOOP(cast_bf16_f16, uint16_t, uint16_t, ds_ew_f2h(ds_ew_bf2f(x)))

/* plain <-> 16-bit float through float32 blocks */
static void ew_cast_from_half(char **a, const int64_t *s, int64_t n, int half, ds_ew_loop to) {
    float buf[DS_EW_BLOCK];
    for (int64_t i0 = 0; i0 < n; i0 += DS_EW_BLOCK) {
        int64_t m = n - i0 < DS_EW_BLOCK ? n - i0 : DS_EW_BLOCK;
        ds_ew_load_f32(half, a[0] + i0 * s[0], s[0], buf, m);
        char *args[2] = {(char *)buf, a[1] + i0 * s[1]};
        int64_t st[2] = {4, s[1]};
        to(args, st, m, NULL);
    }
}
static void ew_cast_to_half(char **a, const int64_t *s, int64_t n, int half, ds_ew_loop from) {
    float buf[DS_EW_BLOCK];
    for (int64_t i0 = 0; i0 < n; i0 += DS_EW_BLOCK) {
        int64_t m = n - i0 < DS_EW_BLOCK ? n - i0 : DS_EW_BLOCK;
        char *args[2] = {a[0] + i0 * s[0], (char *)buf};
        int64_t st[2] = {s[0], 4};
        from(args, st, m, NULL);
        ds_ew_store_f32(half, buf, a[1] + i0 * s[1], s[1], m);
    }
}
#define EW_HALF_CASTS(DT, TAG, T, unused)                                                          \
    static void cast_f16_##TAG(char **a, const int64_t *s, int64_t n, void *ctx) {                 \
        ew_cast_from_half(a, s, n, 1, cast_f32_##TAG);                                             \
    }                                                                                              \
    static void cast_bf16_##TAG(char **a, const int64_t *s, int64_t n, void *ctx) {                \
        ew_cast_from_half(a, s, n, 0, cast_f32_##TAG);                                             \
    }                                                                                              \
    static void cast_##TAG##_f16(char **a, const int64_t *s, int64_t n, void *ctx) {               \
        ew_cast_to_half(a, s, n, 1, cast_##TAG##_f32);                                             \
    }                                                                                              \
    static void cast_##TAG##_bf16(char **a, const int64_t *s, int64_t n, void *ctx) {              \
        ew_cast_to_half(a, s, n, 0, cast_##TAG##_f32);                                             \
    }
EW_PLAIN_A(EW_HALF_CASTS, 0)

void DS_EW_SYM(ds_ew_fill_cast)(ds_ew_table *t) {
#define EW_SET_PAIR(DTO, TTAG, TO, DFROM, FTAG) t->cast[DFROM][DTO] = cast_##FTAG##_##TTAG;
#define EW_SET_FROM(DFROM, FTAG, TI, unused) EW_PLAIN_B(EW_SET_PAIR, DFROM, FTAG)
    EW_PLAIN_A(EW_SET_FROM, 0)
#define EW_SET_HALF(DT, TAG, T, unused)                                                            \
    t->cast[DS_FLOAT16][DT] = cast_f16_##TAG;                                                      \
    t->cast[DS_BFLOAT16][DT] = cast_bf16_##TAG;                                                    \
    t->cast[DT][DS_FLOAT16] = cast_##TAG##_f16;                                                    \
    t->cast[DT][DS_BFLOAT16] = cast_##TAG##_bf16;
    EW_PLAIN_A(EW_SET_HALF, 0)
    /* bool from 16-bit floats needs no conversion; replace the generic path */
    t->cast[DS_FLOAT16][DS_BOOL] = t->cast[DS_BFLOAT16][DS_BOOL] = cast_h_b8;
    t->cast[DS_FLOAT16][DS_FLOAT16] = t->cast[DS_BFLOAT16][DS_BFLOAT16] = cast_h_h;
    t->cast[DS_FLOAT16][DS_BFLOAT16] = cast_f16_bf16;
    t->cast[DS_BFLOAT16][DS_FLOAT16] = cast_bf16_f16;
#undef EW_SET_PAIR
#undef EW_SET_FROM
#undef EW_SET_HALF
}
