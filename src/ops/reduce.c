/* Reduction ops: SUM, MEAN, PROD, AMAX, AMIN, ALL, ANY, VAR, STD (axis: None or a list of ints),
 * ARGMAX, ARGMIN (axis: None = flattened, or one int). NumPy semantics: negative axes count from the
 * end, duplicates are an error, keepdims keeps reduced dims as size 1. Output dtypes follow
 * ds_reduce_out_dtype. The kernel reads the input in place when, in memory order, it is dense and
 * its dims group as [kept][reduced][kept] or [reduced][kept][reduced][kept] (e.g. NCHW over N, H, W);
 * otherwise it is copied once with the reduced dims last. */
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

/* Where the kernel reads x: see ds_reduce_ex. */
typedef struct red_layout {
    int64_t outer, r, inner, ostride, run, run_stride;
} red_layout;

/* Finds an order of x's dims (size-1 dims dropped) in which x is dense row-major and the kept dims
 * keep their order, and in which the dims form [kept][reduced][kept] or [reduced][kept][reduced]
 * [kept] groups; then the kernel reads x in place. */
static bool in_place_layout(const ds_tensor *x, const bool *mask, bool arg, red_layout *l) {
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
    /* groups of adjacent dims with the same reduced flag */
    bool gred[DS_MAX_DIMS];
    int64_t gsize[DS_MAX_DIMS];
    int ng = 0, prev_kept = -1, prev_red = -1;
    for (int k = 0; k < n; k++) {
        bool red = mask[idx[k]];
        if (!red) {
            if (idx[k] < prev_kept) return false;
            prev_kept = idx[k];
        } else if (arg) { /* a flat argmax index counts in row-major order */
            if (idx[k] < prev_red) return false;
            prev_red = idx[k];
        }
        if (ng > 0 && gred[ng - 1] == red) gsize[ng - 1] *= x->shape[idx[k]];
        else gred[ng] = red, gsize[ng++] = x->shape[idx[k]];
    }
    int g = 0;
    *l = (red_layout){1, 1, 1, 1, 1, 0};
    if ((ng == 4 || ng == 3) && gred[0]) { /* [R1][K1][R2][K2?] */
        l->outer = gsize[1];
        l->run = gsize[2];
        l->r = gsize[0] * gsize[2];
        l->inner = ng == 4 ? gsize[3] : 1;
        l->ostride = l->run * l->inner;
        l->run_stride = l->outer * l->ostride;
        return true;
    }
    if (ng > 3) return false;
    if (g < ng && !gred[g]) l->outer = gsize[g++];
    if (g < ng && gred[g]) l->r = gsize[g++];
    if (g < ng && !gred[g]) l->inner = gsize[g++];
    if (g != ng) return false;
    l->ostride = l->r * l->inner;
    l->run = l->r;
    return true;
}

static ds_status reduce_run(ds_op_call *c) {
    ds_tensor *x = c->in[0], *y = c->out[0], *perm_view = NULL, *dense = NULL;
    ds_status st = DS_OK;
    bool mask[DS_MAX_DIMS];
    DS_TRY(reduced_axes(c->op, c->attrs, x->ndim, mask));
    DS_TRY(check_empty(c->op, x->ndim, x->shape, mask));
    red_layout l = {1, 1, 1, 1, 1, 0};
    const void *data = x->data;
    bool arg = c->op == DS_OP_ARGMAX || c->op == DS_OP_ARGMIN;
    if (x->numel == 0 || !in_place_layout(x, mask, arg, &l)) {
        /* kept dims first, then the reduced ones, as one contiguous copy (none if empty) */
        int perm[DS_MAX_DIMS], n = 0;
        l = (red_layout){1, 1, 1, 1, 1, 0};
        for (int i = 0; i < x->ndim; i++)
            if (!mask[i]) perm[n++] = i, l.outer *= x->shape[i];
        for (int i = 0; i < x->ndim; i++)
            if (mask[i]) perm[n++] = i, l.r *= x->shape[i];
        l.ostride = l.run = l.r;
        if (x->numel) {
            DS_TRY(ds_tensor_permute(x, perm, &perm_view));
            DS_TRY(ds_tensor_contiguous(perm_view, &dense));
            data = dense->data;
        }
    }
    int64_t ddof = 0;
    if ((c->op == DS_OP_VAR || c->op == DS_OP_STD) && c->attrs[2].kind == DS_ATTR_INT)
        ddof = c->attrs[2].v.i;
    DS_TRY(ds_reduce_ex(kind_of(c->op), x->dtype, data, l.outer, l.r, l.inner, l.ostride, l.run,
                        l.run_stride, y->dtype, y->data, ddof));
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
