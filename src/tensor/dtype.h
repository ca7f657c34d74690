/* Element types: sizes, names, promotion, and float16/bfloat16 conversions used by kernels. */
#ifndef DS_TENSOR_DTYPE_H
#define DS_TENSOR_DTYPE_H
#include <stdint.h>
#include <string.h>

#include "dynastat.h"

typedef uint16_t ds_half; /* IEEE 754 binary16 bits */
typedef uint16_t ds_bf16; /* bfloat16 bits */

/* float32 -> binary16, round to nearest even, with inf/nan. */
static inline ds_half ds_f32_to_half(float f) {
    uint32_t x;
    memcpy(&x, &f, 4);
    uint32_t sign = (x >> 16) & 0x8000u;
    uint32_t abs = x & 0x7fffffffu;
    if (abs >= 0x7f800000u) return (ds_half)(sign | 0x7c00u | (abs > 0x7f800000u ? 0x200u : 0));
    if (abs >= 0x477ff000u) return (ds_half)(sign | 0x7c00u); /* overflow -> inf */
    if (abs < 0x38800000u) {                                  /* subnormal or zero */
        if (abs < 0x33000000u) return (ds_half)sign;
        uint32_t e = abs >> 23, m = (abs & 0x7fffffu) | 0x800000u;
        uint32_t sh = 126 - e; /* value / 2^-24 = m * 2^(e - 126) */
        uint32_t r = m >> sh;
        uint32_t rem = m & ((1u << sh) - 1), half = 1u << (sh - 1);
        if (rem > half || (rem == half && (r & 1))) r++;
        return (ds_half)(sign | r);
    }
    uint32_t r = ((abs - 0x38000000u) >> 13);
    uint32_t rem = abs & 0x1fffu;
    if (rem > 0x1000u || (rem == 0x1000u && (r & 1))) r++;
    return (ds_half)(sign | r);
}

/* binary16 -> float32 (exact). */
static inline float ds_half_to_f32(ds_half h) {
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
    uint32_t e = (h >> 10) & 0x1fu, m = h & 0x3ffu, x;
    if (e == 0) {
        if (m == 0) x = sign;
        else { /* subnormal */
            e = 113;
            while (!(m & 0x400u)) { m <<= 1; e--; }
            x = sign | (e << 23) | ((m & 0x3ffu) << 13);
        }
    } else if (e == 31) x = sign | 0x7f800000u | (m << 13);
    else x = sign | ((e + 112) << 23) | (m << 13);
    float f;
    memcpy(&f, &x, 4);
    return f;
}

/* float32 -> bfloat16, round to nearest even. */
static inline ds_bf16 ds_f32_to_bf16(float f) {
    uint32_t x;
    memcpy(&x, &f, 4);
    if ((x & 0x7fffffffu) > 0x7f800000u) return (ds_bf16)((x >> 16) | 0x40u);
    x += 0x7fffu + ((x >> 16) & 1u);
    return (ds_bf16)(x >> 16);
}

static inline float ds_bf16_to_f32(ds_bf16 b) {
    uint32_t x = (uint32_t)b << 16;
    float f;
    memcpy(&f, &x, 4);
    return f;
}

/* Reads element i of a buffer of dtype dt as double / writes a double converted to dt
 * (C conversion rules; float->int truncates, float->bool is x != 0). */
double ds_dtype_load_double(ds_dtype dt, const void *p);
void ds_dtype_store_double(ds_dtype dt, void *p, double v);
int64_t ds_dtype_load_int(ds_dtype dt, const void *p);
void ds_dtype_store_int(ds_dtype dt, void *p, int64_t v);
#endif
