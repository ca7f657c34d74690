#include "tensor/dtype.h"

#include <string.h>

static const size_t k_size[DS_DTYPE_COUNT] = {1, 1, 1, 2, 4, 8, 2, 2, 4, 8};
static const char *const k_name[DS_DTYPE_COUNT] = {"bool",    "int8",     "uint8",   "int16",
                                                   "int32",   "int64",    "float16", "bfloat16",
                                                   "float32", "float64"};

size_t ds_dtype_size(ds_dtype dt) { return (unsigned)dt < DS_DTYPE_COUNT ? k_size[dt] : 0; }

const char *ds_dtype_name(ds_dtype dt) { return (unsigned)dt < DS_DTYPE_COUNT ? k_name[dt] : "?"; }

bool ds_dtype_from_name(const char *name, ds_dtype *out) {
    for (int i = 0; i < DS_DTYPE_COUNT; i++)
        if (strcmp(name, k_name[i]) == 0) {
            *out = (ds_dtype)i;
            return true;
        }
    return false;
}

bool ds_dtype_is_float(ds_dtype dt) { return dt >= DS_FLOAT16 && dt <= DS_FLOAT64; }

bool ds_dtype_is_int(ds_dtype dt) { return dt >= DS_INT8 && dt <= DS_INT64; }

/* Promotion follows the lattice bool < (u)int8 < int16 < int32 < int64 < float16/bfloat16 < float32 <
 * float64, with int8+uint8 -> int16 and float16+bfloat16 -> float32 (as MindSpore and PyTorch do). */
ds_dtype ds_dtype_promote(ds_dtype a, ds_dtype b) {
    if (a == b) return a;
    if ((a == DS_INT8 && b == DS_UINT8) || (a == DS_UINT8 && b == DS_INT8)) return DS_INT16;
    if ((a == DS_FLOAT16 && b == DS_BFLOAT16) || (a == DS_BFLOAT16 && b == DS_FLOAT16)) return DS_FLOAT32;
    return a > b ? a : b;
}

double ds_dtype_load_double(ds_dtype dt, const void *p) {
    switch (dt) {
    case DS_BOOL: return *(const uint8_t *)p ? 1.0 : 0.0;
    case DS_INT8: return *(const int8_t *)p;
    case DS_UINT8: return *(const uint8_t *)p;
    case DS_INT16: return *(const int16_t *)p;
    case DS_INT32: return *(const int32_t *)p;
    case DS_INT64: return (double)*(const int64_t *)p;
    case DS_FLOAT16: return ds_half_to_f32(*(const ds_half *)p);
    case DS_BFLOAT16: return ds_bf16_to_f32(*(const ds_bf16 *)p);
    case DS_FLOAT32: return *(const float *)p;
    case DS_FLOAT64: return *(const double *)p;
    default: return 0;
    }
}

int64_t ds_dtype_load_int(ds_dtype dt, const void *p) {
    switch (dt) {
    case DS_BOOL: return *(const uint8_t *)p ? 1 : 0;
    case DS_INT8: return *(const int8_t *)p;
    case DS_UINT8: return *(const uint8_t *)p;
    case DS_INT16: return *(const int16_t *)p;
    case DS_INT32: return *(const int32_t *)p;
    case DS_INT64: return *(const int64_t *)p;
    default: return (int64_t)ds_dtype_load_double(dt, p);
    }
}

void ds_dtype_store_double(ds_dtype dt, void *p, double v) {
    switch (dt) {
    case DS_BOOL: *(uint8_t *)p = v != 0.0; break;
    case DS_INT8: *(int8_t *)p = (int8_t)(int64_t)v; break;
    case DS_UINT8: *(uint8_t *)p = (uint8_t)(int64_t)v; break;
    case DS_INT16: *(int16_t *)p = (int16_t)(int64_t)v; break;
    case DS_INT32: *(int32_t *)p = (int32_t)(int64_t)v; break;
    case DS_INT64: *(int64_t *)p = (int64_t)v; break;
    case DS_FLOAT16: *(ds_half *)p = ds_f32_to_half((float)v); break;
    case DS_BFLOAT16: *(ds_bf16 *)p = ds_f32_to_bf16((float)v); break;
    case DS_FLOAT32: *(float *)p = (float)v; break;
    case DS_FLOAT64: *(double *)p = v; break;
    default: break;
    }
}

void ds_dtype_store_int(ds_dtype dt, void *p, int64_t v) {
    switch (dt) {
    case DS_BOOL: *(uint8_t *)p = v != 0; break;
    case DS_INT8: *(int8_t *)p = (int8_t)v; break;
    case DS_UINT8: *(uint8_t *)p = (uint8_t)v; break;
    case DS_INT16: *(int16_t *)p = (int16_t)v; break;
    case DS_INT32: *(int32_t *)p = (int32_t)v; break;
    case DS_INT64: *(int64_t *)p = v; break;
    default: ds_dtype_store_double(dt, p, (double)v); break;
    }
}
