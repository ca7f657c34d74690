/* The dtype and cost rules of the elementwise ops, shared by their eager implementation
 * (ops/elementwise.c) and the fused groups of the plan executor (exec/plan_fuse.c), so both compute
 * every op in the same dtype with the same conversions. */
#ifndef DS_OPS_EW_RULES_H
#define DS_OPS_EW_RULES_H
#include "base/status.h"
#include "dynastat.h"

/* Unary math functions: int/bool inputs are computed in float32. */
static inline bool ds_ew_is_math_unary(ds_op_id op) {
    switch (op) {
    case DS_OP_EXP: case DS_OP_LOG: case DS_OP_SQRT: case DS_OP_RSQRT: case DS_OP_SIN: case DS_OP_COS:
    case DS_OP_TANH: case DS_OP_SIGMOID: case DS_OP_GELU: case DS_OP_ERF: case DS_OP_RECIPROCAL:
        return true;
    default: return false;
    }
}

static inline bool ds_ew_is_logical(ds_op_id op) {
    return op == DS_OP_LOGICAL_AND || op == DS_OP_LOGICAL_OR || op == DS_OP_LOGICAL_XOR;
}

/* Ops whose result is bool whatever they compute in. */
static inline bool ds_ew_is_compare_or_logical(ds_op_id op) {
    return (op >= DS_OP_EQUAL && op <= DS_OP_GREATER_EQUAL) || ds_ew_is_logical(op);
}

static inline bool ds_ew_is_bitwise(ds_op_id op) {
    return op == DS_OP_BITWISE_AND || op == DS_OP_BITWISE_OR || op == DS_OP_BITWISE_XOR;
}

/* Relative cost of one element (the unit is a simple add), for threading decisions. */
static inline int64_t ds_ew_op_cost(ds_op_id op, ds_dtype dt) {
    int64_t c = 1;
    switch (op) {
    case DS_OP_EXP: case DS_OP_LOG: case DS_OP_TANH: case DS_OP_SIGMOID: c = 8; break;
    case DS_OP_SIN: case DS_OP_COS: c = dt == DS_FLOAT64 ? 24 : 8; break;
    case DS_OP_GELU: case DS_OP_ERF: c = dt == DS_FLOAT64 ? 24 : 16; break;
    case DS_OP_SQRT: case DS_OP_RSQRT: case DS_OP_RECIPROCAL: case DS_OP_DIV: c = 2; break;
    case DS_OP_FLOOR_DIV: case DS_OP_MOD: c = 8; break;
    case DS_OP_POW: c = ds_dtype_is_float(dt) ? 24 : 8; break;
    default: break;
    }
    return dt == DS_FLOAT16 || dt == DS_BFLOAT16 ? 2 * c : c;
}

/* The dtype a binary op computes in (both inputs are converted to it), or a TypeError (DS_ERR_DTYPE)
 * for unsupported combinations. */
static inline ds_status ds_ew_binary_compute_dtype(ds_op_id op, ds_dtype a, ds_dtype b, ds_dtype *out) {
    ds_dtype p = ds_dtype_promote(a, b);
    if (ds_ew_is_bitwise(op) && ds_dtype_is_float(p))
        return ds_errorf(DS_ERR_DTYPE, "expects integer or bool tensors, got %s and %s", ds_dtype_name(a),
                         ds_dtype_name(b));
    switch (op) {
    case DS_OP_DIV:
        if (!ds_dtype_is_float(p)) p = DS_FLOAT32;
        break;
    case DS_OP_FLOOR_DIV: case DS_OP_MOD: case DS_OP_POW:
        if (p == DS_BOOL) p = DS_INT8;
        break;
    case DS_OP_SUB:
        if (p == DS_BOOL)
            return ds_errorf(DS_ERR_DTYPE, "subtracting bool tensors is not supported; use logical_xor or bitwise_xor");
        break;
    case DS_OP_LOGICAL_AND: case DS_OP_LOGICAL_OR: case DS_OP_LOGICAL_XOR:
        if (a != b) p = DS_BOOL; /* only truthiness matters: convert each side to bool */
        break;
    default: break;
    }
    *out = p;
    return DS_OK;
}
#endif
