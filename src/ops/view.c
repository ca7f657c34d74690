/* View ops (reshape, transpose, broadcast_to, squeeze, unsqueeze, strided_slice), the copy op, and
 * the tensor functions that may need a copy: reshape, contiguous, copy_into. */
#include <string.h>

#include "base/alloc.h"
#include "base/status.h"
#include "kernels/elementwise.h"
#include "ops/op.h"
#include "tensor/iter.h"

/* ---------------------------------------------------------------- copies */
static void copy_loop(char **args, const int64_t *steps, int64_t n, void *ctx) {
    size_t sz = *(const size_t *)ctx;
    const char *s = args[0];
    char *d = args[1];
    int64_t ss = steps[0], ds = steps[1];
    if (ss == (int64_t)sz && ds == (int64_t)sz) {
        memcpy(d, s, (size_t)n * sz);
        return;
    }
    switch (sz) {
    case 1: for (int64_t i = 0; i < n; i++) d[i * ds] = s[i * ss]; break;
    case 2: for (int64_t i = 0; i < n; i++) *(uint16_t *)(d + i * ds) = *(const uint16_t *)(s + i * ss); break;
    case 4: for (int64_t i = 0; i < n; i++) *(uint32_t *)(d + i * ds) = *(const uint32_t *)(s + i * ss); break;
    default: for (int64_t i = 0; i < n; i++) *(uint64_t *)(d + i * ds) = *(const uint64_t *)(s + i * ss); break;
    }
}

ds_status ds_copy_strided(ds_tensor *dst, const ds_tensor *src) {
    ds_tensor *ops[2] = {(ds_tensor *)src, dst};
    ds_iter it;
    ds_status st = ds_iter_init(&it, 2, ops, dst->ndim, dst->shape);
    if (st) return st;
    size_t sz = ds_dtype_size(dst->dtype);
    if (src->dtype == dst->dtype) {
        ds_iter_run(&it, copy_loop, &sz, 1);
        return DS_OK;
    }
    ds_loop_fn cast = ds_kernel_cast(src->dtype, dst->dtype);
    if (!cast) return ds_errorf(DS_ERR_DTYPE, "cannot convert %s to %s", ds_dtype_name(src->dtype), ds_dtype_name(dst->dtype));
    ds_iter_run(&it, cast, NULL, 2);
    return DS_OK;
}

ds_status ds_tensor_copy_into(ds_tensor *dst, const ds_tensor *src) {
    if (!dst->data && dst->numel) return ds_errorf(DS_ERR_VALUE, "cannot copy into a declared-only tensor");
    if (!src->data && src->numel) return ds_errorf(DS_ERR_VALUE, "cannot copy from a declared-only tensor");
    if (!ds_tensor_shares_storage(dst, src)) return ds_copy_strided(dst, src);
    ds_tensor *tmp; /* overlapping: go through a temporary */
    ds_status st = ds_tensor_new(src->dtype, src->ndim, src->shape, &tmp);
    if (st) return st;
    st = ds_copy_strided(tmp, src);
    if (!st) st = ds_copy_strided(dst, tmp);
    ds_tensor_release(tmp);
    return st;
}

ds_status ds_tensor_contiguous(ds_tensor *t, ds_tensor **out) {
    if (t->contiguous) {
        *out = ds_tensor_retain(t);
        return DS_OK;
    }
    ds_tensor *c;
    ds_status st = ds_tensor_new(t->dtype, t->ndim, t->shape, &c);
    if (st) return st;
    st = ds_tensor_copy_into(c, t);
    if (st) {
        ds_tensor_release(c);
        return st;
    }
    *out = c;
    return DS_OK;
}

/* Resolves a requested shape (one entry may be -1) against numel. */
static ds_status resolve_shape(int64_t numel, int ndim, const int64_t *req, int64_t *shape, int in_ndim,
                               const int64_t *in_shape) {
    if (ndim > DS_MAX_DIMS) return ds_errorf(DS_ERR_SHAPE, "a tensor has at most %d dims, got %d", DS_MAX_DIMS, ndim);
    int infer = -1;
    int64_t known = 1;
    for (int i = 0; i < ndim; i++) {
        if (req[i] == -1) {
            if (infer >= 0) return ds_errorf(DS_ERR_SHAPE, "only one dimension can be -1");
            infer = i;
        } else if (req[i] < 0) return ds_errorf(DS_ERR_SHAPE, "invalid shape dimension %lld", (long long)req[i]);
        else known *= req[i];
        shape[i] = req[i];
    }
    if (infer >= 0 && known != 0 && numel % known == 0) shape[infer] = numel / known;
    if (ds_shape_numel(ndim, shape) != numel || (infer >= 0 && known == 0)) {
        char a[DS_SHAPE_STR_MAX], b[DS_SHAPE_STR_MAX];
        return ds_errorf(DS_ERR_SHAPE, "cannot reshape tensor of shape %s (%lld elements) into shape %s",
                         ds_shape_str(in_ndim, in_shape, a, sizeof a), (long long)numel,
                         ds_shape_str(ndim, req, b, sizeof b));
    }
    return DS_OK;
}

ds_status ds_tensor_reshape(ds_tensor *t, int ndim, const int64_t *req, ds_tensor **out) {
    int64_t shape[DS_MAX_DIMS], strides[DS_MAX_DIMS];
    ds_status st = resolve_shape(t->numel, ndim, req, shape, t->ndim, t->shape);
    if (st) return st;
    if (ds_tensor_reshape_strides(t, ndim, shape, strides))
        return ds_tensor_view(t, ndim, shape, strides, 0, out);
    ds_tensor *c;
    st = ds_tensor_contiguous(t, &c);
    if (st) return st;
    ds_shape_contiguous_strides(ndim, shape, strides);
    st = ds_tensor_view(c, ndim, shape, strides, 0, out);
    ds_tensor_release(c);
    return st;
}

/* ---------------------------------------------------------------- view ops */
/* Normalised axis list from an ints attr (NONE gives `none_all` ? all dims : none). */
static ds_status axes_from_attr(const ds_attr *a, int ndim, bool *mask) {
    memset(mask, 0, sizeof(bool) * DS_MAX_DIMS);
    for (int64_t i = 0; i < a->n; i++) {
        int d;
        ds_status st = ds_axis_normalize(a->v.ints[i], ndim, "axis", &d);
        if (st) return st;
        mask[d] = true;
    }
    return DS_OK;
}

/* Applies the op to a declared-only tensor of the input meta to get the output layout. The view
 * functions only compute metadata, so infer and run share one code path. */
static ds_status apply_view(ds_op_id op, ds_tensor *x, const ds_attr *attrs, ds_tensor **out) {
    switch (op) {
    case DS_OP_RESHAPE:
        return ds_tensor_reshape(x, (int)attrs[0].n, attrs[0].v.ints, out);
    case DS_OP_TRANSPOSE: {
        int perm[DS_MAX_DIMS];
        if (attrs[0].kind == DS_ATTR_NONE)
            for (int i = 0; i < x->ndim; i++) perm[i] = x->ndim - 1 - i;
        else {
            if (attrs[0].n != x->ndim)
                return ds_errorf(DS_ERR_VALUE, "perm has %lld entries, tensor has %d dims", (long long)attrs[0].n, x->ndim);
            for (int i = 0; i < x->ndim; i++) perm[i] = (int)attrs[0].v.ints[i];
        }
        return ds_tensor_permute(x, perm, out);
    }
    case DS_OP_BROADCAST_TO:
        return ds_tensor_expand(x, (int)attrs[0].n, attrs[0].v.ints, out);
    case DS_OP_SQUEEZE: {
        if (attrs[0].kind == DS_ATTR_NONE) return ds_tensor_squeeze(x, -1, out);
        bool mask[DS_MAX_DIMS];
        ds_status st = axes_from_attr(&attrs[0], x->ndim, mask);
        if (st) return st;
        int64_t shape[DS_MAX_DIMS], strides[DS_MAX_DIMS];
        int k = 0;
        for (int i = 0; i < x->ndim; i++) {
            if (mask[i]) {
                if (x->shape[i] != 1)
                    return ds_errorf(DS_ERR_SHAPE, "cannot squeeze dimension %d of size %lld (must be 1)", i,
                                     (long long)x->shape[i]);
                continue;
            }
            shape[k] = x->shape[i];
            strides[k++] = x->strides[i];
        }
        return ds_tensor_view(x, k, shape, strides, 0, out);
    }
    case DS_OP_UNSQUEEZE:
        return ds_tensor_unsqueeze(x, (int)attrs[0].v.i, out);
    case DS_OP_SLICE: {
        const ds_attr *b = &attrs[0], *e = &attrs[1], *s = &attrs[2];
        if (b->n != e->n || b->n != s->n || b->n > x->ndim)
            return ds_errorf(DS_ERR_VALUE, "begin, end and strides must have the same length (at most %d), got %lld, %lld, %lld",
                             x->ndim, (long long)b->n, (long long)e->n, (long long)s->n);
        ds_tensor *cur = ds_tensor_retain(x), *next;
        for (int i = 0; i < b->n; i++) {
            ds_status st = ds_tensor_slice(cur, i, b->v.ints[i], e->v.ints[i], s->v.ints[i], &next);
            ds_tensor_release(cur);
            if (st) return st;
            cur = next;
        }
        *out = cur;
        return DS_OK;
    }
    default:
        return ds_errorf(DS_ERR_INTERNAL, "not a view op");
    }
}

static ds_status view_infer(ds_op_id op, int n_in, const ds_meta *in, const ds_attr *attrs, ds_meta *out,
                            int *n_out) {
    ds_tensor *x, *y;
    ds_status st = ds_tensor_new_declared(in[0].dtype, in[0].ndim, in[0].shape, &x);
    if (st) return st;
    x->numel = ds_shape_numel(x->ndim, x->shape);
    x->contiguous = true;
    st = apply_view(op, x, attrs, &y);
    ds_tensor_release(x);
    if (st) return st;
    ds_meta_of(y, out);
    ds_tensor_release(y);
    *n_out = 1;
    return DS_OK;
}

static ds_status view_run(ds_op_call *c) { return apply_view(c->op, c->in[0], c->attrs, &c->out[0]); }

static ds_status copy_infer(ds_op_id op, int n_in, const ds_meta *in, const ds_attr *attrs, ds_meta *out,
                            int *n_out) {
    *out = in[0];
    *n_out = 1;
    return DS_OK;
}

static ds_status copy_run(ds_op_call *c) { return ds_tensor_copy_into(c->out[0], c->in[0]); }

void ds_ops_register_view(ds_op_impl *table) {
    static const ds_op_id views[] = {DS_OP_RESHAPE, DS_OP_TRANSPOSE, DS_OP_BROADCAST_TO,
                                     DS_OP_SQUEEZE, DS_OP_UNSQUEEZE, DS_OP_SLICE};
    for (size_t i = 0; i < sizeof views / sizeof views[0]; i++)
        table[views[i]] = (ds_op_impl){view_infer, view_run, DS_IMPL_ALLOCATES};
    table[DS_OP_COPY] = (ds_op_impl){copy_infer, copy_run, 0};
}
