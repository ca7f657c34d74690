/* Reduction ops: SUM, MEAN, PROD, AMAX, AMIN, ALL, ANY, VAR, STD (axis: None or a list of ints),
 * ARGMAX, ARGMIN (axis: None = flattened, or one int). NumPy semantics: negative axes count from the
 * end, duplicates are an error, keepdims keeps reduced dims as size 1. Output dtypes follow
 * ds_reduce_out_dtype. The kernel sees the input as contiguous [outer, r, inner]; the input is copied
 * only when the reduced axes are not adjacent in memory. */
#include <string.h>

#include "base/status.h"
#include "kernels/reduce.h"
#include "ops/op.h"

static ds_reduce_kind kind_of(ds_op_id op) {
    switch (op) {
    case DS_OP_SUM: return DS_REDUCE_SUM;
    case DS_OP_MEAN: return DS_REDUCE_MEAN;
    case DS_OP_PROD: return DS_REDUCE_PROD;
    case DS_OP_AMAX: return DS_REDUCE_MAX;
    case DS_OP_AMIN: return DS_REDUCE_MIN;
    case DS_OP_ALL: return DS_REDUCE_ALL;
    case DS_OP_ANY: return DS_REDUCE_ANY;
    case DS_OP_VAR: return DS_REDUCE_VAR;
    case DS_OP_STD: return DS_REDUCE_STD;
    case DS_OP_ARGMAX: return DS_REDUCE_ARGMAX;
    default: return DS_REDUCE_ARGMIN;
    }
}

/* Which axes of an ndim-dimensional input the attrs reduce. */
static ds_status reduced_axes(ds_op_id op, const ds_attr *attrs, int ndim, bool *mask) {
    const ds_attr *ax = &attrs[0];
    for (int i = 0; i < DS_MAX_DIMS; i++) mask[i] = ds_attr_is_none(ax);
    if (ds_attr_is_none(ax)) return DS_OK;
    if (ax->kind == DS_ATTR_INT) { /* argmax / argmin */
        int a;
        ds_status st = ds_axis_normalize(ax->v.i, ndim, "axis", &a);
        if (st) return st;
        if (ndim > 0) mask[a] = true;
        return DS_OK;
    }
    for (int64_t k = 0; k < ax->n; k++) {
        int a;
        ds_status st = ds_axis_normalize(ax->v.ints[k], ndim, "axis", &a);
        if (st) return st;
        if (ndim == 0) continue; /* axis 0 / -1 of a 0-d tensor: nothing to reduce, as in NumPy */
        if (mask[a]) return ds_errorf(DS_ERR_VALUE, "duplicate value in 'axis'");
        mask[a] = true;
    }
    return DS_OK;
}

/* The error NumPy gives for an empty reduction without identity, or DS_OK. */
static ds_status check_empty(ds_op_id op, int ndim, const int64_t *shape, const bool *mask) {
    if (op != DS_OP_AMAX && op != DS_OP_AMIN && op != DS_OP_ARGMAX && op != DS_OP_ARGMIN)
        return DS_OK;
    int64_t r = 1;
    for (int i = 0; i < ndim; i++)
        if (mask[i]) {
            if (shape[i] < 0) return DS_OK; /* unknown until run time */
            r *= shape[i];
        }
    if (r != 0) return DS_OK;
    if (op == DS_OP_ARGMAX || op == DS_OP_ARGMIN)
        return ds_errorf(DS_ERR_VALUE, "attempt to get %s of an empty sequence",
                         op == DS_OP_ARGMAX ? "argmax" : "argmin");
    return ds_errorf(DS_ERR_VALUE, "zero-size array to reduction operation %s which has no identity",
                     op == DS_OP_AMAX ? "maximum" : "minimum");
}

static ds_status reduce_infer(ds_op_id op, int n_in, const ds_meta *in, const ds_attr *attrs,
                              ds_meta *out, int *n_out) {
    bool mask[DS_MAX_DIMS];
    ds_status st = reduced_axes(op, attrs, in->ndim, mask);
    if (st) return st;
    if ((st = check_empty(op, in->ndim, in->shape, mask))) return st;
    bool keep = attrs[1].kind == DS_ATTR_BOOL && attrs[1].v.b;
    out->dtype = ds_reduce_out_dtype(kind_of(op), in->dtype);
    out->ndim = 0;
    for (int i = 0; i < in->ndim; i++) {
        if (!mask[i]) out->shape[out->ndim++] = in->shape[i];
        else if (keep) out->shape[out->ndim++] = 1;
    }
    *n_out = 1;
    return DS_OK;
}

/* Finds an order of x's dims (size-1 dims dropped) in which x is dense row-major, the reduced dims
 * are adjacent and the kept dims keep their order; then the kernel can read x in place. */
static bool in_place_layout(const ds_tensor *x, const bool *mask, int64_t *outer, int64_t *r,
                            int64_t *inner) {
    int idx[DS_MAX_DIMS], n = 0;
    for (int i = 0; i < x->ndim; i++) {
        if (x->shape[i] == 1) continue;
        if (x->strides[i] <= 0) return false;
        int k = n++; /* insertion sort by stride, descending; stable for equal strides */
        while (k > 0 && x->strides[idx[k - 1]] < x->strides[i]) {
            idx[k] = idx[k - 1];
            k--;
        }
        idx[k] = i;
    }
    int64_t expect = 1;
    for (int k = n - 1; k >= 0; k--) {
        if (x->strides[idx[k]] != expect) return false;
        expect *= x->shape[idx[k]];
    }
    int first = -1, last = -2, prev_kept = -1;
    for (int k = 0; k < n; k++) {
        if (mask[idx[k]]) {
            if (first < 0) first = k;
            else if (last != k - 1) return false; /* a second run of reduced dims */
            last = k;
        } else {
            if (idx[k] < prev_kept) return false;
            prev_kept = idx[k];
        }
    }
    *outer = *r = *inner = 1;
    for (int k = 0; k < n; k++) {
        int64_t s = x->shape[idx[k]];
        if (first < 0 || k < first) *outer *= s;
        else if (k <= last) *r *= s;
        else *inner *= s;
    }
    return true;
}

static ds_status reduce_run(ds_op_call *c) {
    ds_tensor *x = c->in[0], *y = c->out[0], *perm_view = NULL, *dense = NULL;
    ds_status st = DS_OK;
    bool mask[DS_MAX_DIMS];
    DS_TRY(reduced_axes(c->op, c->attrs, x->ndim, mask));
    DS_TRY(check_empty(c->op, x->ndim, x->shape, mask));
    int64_t outer = 1, r = 1, inner = 1;
    const void *data = x->data;
    if (x->numel == 0) {
        for (int i = 0; i < x->ndim; i++) {
            if (mask[i]) r *= x->shape[i];
            else outer *= x->shape[i];
        }
    } else if (!in_place_layout(x, mask, &outer, &r, &inner)) {
        /* kept dims first, then the reduced ones, as one contiguous copy */
        int perm[DS_MAX_DIMS], n = 0;
        for (int i = 0; i < x->ndim; i++)
            if (!mask[i]) perm[n++] = i, outer *= x->shape[i];
        for (int i = 0; i < x->ndim; i++)
            if (mask[i]) perm[n++] = i, r *= x->shape[i];
        DS_TRY(ds_tensor_permute(x, perm, &perm_view));
        DS_TRY(ds_tensor_contiguous(perm_view, &dense));
        data = dense->data;
    }
    int64_t ddof = 0;
    if ((c->op == DS_OP_VAR || c->op == DS_OP_STD) && c->attrs[2].kind == DS_ATTR_INT)
        ddof = c->attrs[2].v.i;
    DS_TRY(ds_reduce(kind_of(c->op), x->dtype, data, outer, r, inner, y->dtype, y->data, ddof));
fail:
    ds_tensor_release(perm_view);
    ds_tensor_release(dense);
    return st;
}

void ds_ops_register_reduce(ds_op_impl *table) {
    static const ds_op_id ops[] = {DS_OP_SUM, DS_OP_MEAN, DS_OP_PROD, DS_OP_AMAX,
                                   DS_OP_AMIN, DS_OP_ALL, DS_OP_ANY, DS_OP_VAR,
                                   DS_OP_STD, DS_OP_ARGMAX, DS_OP_ARGMIN};
    for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++)
        table[ops[i]] = (ds_op_impl){reduce_infer, reduce_run, 0};
}
