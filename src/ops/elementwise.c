/* Elementwise ops: every UNARY and BINARY kind op, plus WHERE, CAST and CLIP. Infer applies the
 * dtype rules (PyTorch / MindSpore 2.x) and NumPy broadcasting; run casts inputs to the compute dtype
 * when needed and drives the kernels of kernels/elementwise.h, calling the loop directly for small
 * contiguous operands and through ds_iter (strides, broadcasting, threads) otherwise. */
#include <string.h>

#include "base/status.h"
#include "kernels/elementwise.h"
#include "ops/op.h"
#include "ops/ew_rules.h"
#include "tensor/iter.h"

/* dtype rules: ops/ew_rules.h */
/* NumPy broadcast of metadata shapes, where -1 (unknown) broadcasts like a free dim. */
static ds_status broadcast_meta(int na, const int64_t *a, int nb, const int64_t *b, int *nd, int64_t *out) {
    if (na == nb) { /* the common case: equal shapes */
        int i = 0;
        while (i < na && a[i] == b[i]) i++;
        if (i == na) {
            for (i = 0; i < na; i++) out[i] = a[i];
            *nd = na;
            return DS_OK;
        }
    }
    int n = na > nb ? na : nb;
    for (int i = 0; i < n; i++) {
        int64_t da = i - (n - na) >= 0 ? a[i - (n - na)] : 1;
        int64_t db = i - (n - nb) >= 0 ? b[i - (n - nb)] : 1;
        if (da == db || db == 1) out[i] = da;
        else if (da == 1) out[i] = db;
        else if (da == -1) out[i] = db;
        else if (db == -1) out[i] = da;
        else {
            char sa[DS_SHAPE_STR_MAX], sb[DS_SHAPE_STR_MAX];
            return ds_errorf(DS_ERR_SHAPE, "shapes %s and %s cannot be broadcast", ds_shape_str(na, a, sa, sizeof sa),
                             ds_shape_str(nb, b, sb, sizeof sb));
        }
    }
    *nd = n;
    return DS_OK;
}

/* ---------------------------------------------------------------- running loops */
static const int64_t k_size[DS_DTYPE_COUNT] = {1, 1, 1, 2, 4, 8, 2, 2, 4, 8}; /* ds_dtype_size, inlined */
/* Runs fn over operands ops[0..nop) (the last is the contiguous output). Small iterations whose
 * operands are each contiguous with the output's size, or single elements (broadcast scalars), call
 * the loop directly; the rest go through ds_iter. */
static ds_status run_loop(ds_loop_fn fn, void *ctx, int nop, ds_tensor *const *ops, int64_t cost) {
    const ds_tensor *out = ops[nop - 1];
    int64_t n = out->numel;
    if (n == 0) return DS_OK;
    if (n * cost < 65536) {
        char *args[DS_ITER_MAX_OPS];
        int64_t steps[DS_ITER_MAX_OPS];
        int k = 0;
        for (; k < nop; k++) {
            const ds_tensor *t = ops[k];
            args[k] = t->data;
            if (t->numel == n && t->contiguous) steps[k] = k_size[t->dtype];
            else if (t->numel == 1) steps[k] = 0;
            else break;
        }
        if (k == nop) {
            fn(args, steps, n, ctx);
            return DS_OK;
        }
    }
    ds_iter it;
    ds_status st = ds_iter_init(&it, nop, ops, out->ndim, out->shape);
    if (st) return st;
    ds_iter_run(&it, fn, ctx, cost);
    return DS_OK;
}

/* A new contiguous tensor holding t converted to dt (same shape). */
static ds_status cast_new(ds_tensor *t, ds_dtype dt, ds_tensor **out) {
    ds_tensor *r;
    ds_status st = ds_tensor_new(dt, t->ndim, t->shape, &r);
    if (st) return st;
    ds_tensor *ops[2] = {t, r};
    st = run_loop(ds_kernel_cast(t->dtype, dt), NULL, 2, ops, 1);
    if (st) {
        ds_tensor_release(r);
        return st;
    }
    *out = r;
    return DS_OK;
}

static ds_status no_kernel(ds_dtype dt) {
    return ds_errorf(DS_ERR_DTYPE, "not supported for dtype %s", ds_dtype_name(dt));
}

/* ---------------------------------------------------------------- unary */
static ds_status infer_unary(ds_op_id op, int n_in, const ds_meta *in, const ds_attr *attrs, ds_meta *out,
                             int *n_out) {
    ds_dtype dt = in[0].dtype, ot = dt;
    if (ds_ew_is_math_unary(op)) ot = ds_dtype_is_float(dt) ? dt : DS_FLOAT32;
    else if (op == DS_OP_LOGICAL_NOT) ot = DS_BOOL;
    else if (op == DS_OP_NEG && dt == DS_BOOL)
        return ds_errorf(DS_ERR_DTYPE, "negation of a bool tensor is not supported; use logical_not");
    else if (op == DS_OP_BITWISE_NOT && ds_dtype_is_float(dt))
        return ds_errorf(DS_ERR_DTYPE, "expects an integer or bool tensor, got %s", ds_dtype_name(dt));
    *out = in[0];
    out->dtype = ot;
    *n_out = 1;
    return DS_OK;
}

static ds_status run_unary(ds_op_call *c) {
    ds_tensor *in = c->in[0], *out = c->out[0], *src = in;
    ds_status st;
    if (ds_ew_is_math_unary(c->op) && in->dtype != out->dtype) { /* int/bool: compute in float32, in place */
        ds_tensor *ops[2] = {in, out};
        if ((st = run_loop(ds_kernel_cast(in->dtype, out->dtype), NULL, 2, ops, 1))) return st;
        src = out;
    }
    ds_loop_fn fn = ds_kernel_unary(c->op, src->dtype);
    if (!fn) return no_kernel(src->dtype);
    ds_tensor *ops[2] = {src, out};
    return run_loop(fn, NULL, 2, ops, ds_ew_op_cost(c->op, src->dtype));
}

/* ---------------------------------------------------------------- binary */
static ds_status infer_binary(ds_op_id op, int n_in, const ds_meta *in, const ds_attr *attrs, ds_meta *out,
                              int *n_out) {
    ds_dtype cdt = DS_FLOAT32;
    ds_status st = ds_ew_binary_compute_dtype(op, in[0].dtype, in[1].dtype, &cdt);
    if (st) return st;
    if ((st = broadcast_meta(in[0].ndim, in[0].shape, in[1].ndim, in[1].shape, &out->ndim, out->shape))) return st;
    out->dtype = ds_ew_is_compare_or_logical(op) ? DS_BOOL : cdt;
    *n_out = 1;
    return DS_OK;
}

static ds_status run_binary(ds_op_call *c) {
    ds_tensor *a = c->in[0], *b = c->in[1], *ta = NULL, *tb = NULL;
    ds_dtype cdt = DS_FLOAT32;
    ds_status st;
    DS_TRY(ds_ew_binary_compute_dtype(c->op, a->dtype, b->dtype, &cdt));
    if (a->dtype != cdt) {
        DS_TRY(cast_new(a, cdt, &ta));
        a = ta;
    }
    if (b->dtype != cdt) {
        DS_TRY(cast_new(b, cdt, &tb));
        b = tb;
    }
    ds_loop_fn fn = ds_kernel_binary(c->op, cdt);
    if (!fn) {
        st = no_kernel(cdt);
        goto fail;
    }
    ds_tensor *ops[3] = {a, b, c->out[0]};
    st = run_loop(fn, NULL, 3, ops, ds_ew_op_cost(c->op, cdt));
fail:
    ds_tensor_release(ta);
    ds_tensor_release(tb);
    return st;
}

/* ---------------------------------------------------------------- where */
static ds_status infer_where(ds_op_id op, int n_in, const ds_meta *in, const ds_attr *attrs, ds_meta *out,
                             int *n_out) {
    int nd;
    int64_t sh[DS_MAX_DIMS];
    ds_status st = broadcast_meta(in[0].ndim, in[0].shape, in[1].ndim, in[1].shape, &nd, sh);
    if (!st) st = broadcast_meta(nd, sh, in[2].ndim, in[2].shape, &out->ndim, out->shape);
    if (st) {
        char s0[DS_SHAPE_STR_MAX], s1[DS_SHAPE_STR_MAX], s2[DS_SHAPE_STR_MAX];
        return ds_errorf(DS_ERR_SHAPE, "condition %s, x %s and y %s cannot be broadcast together",
                         ds_shape_str(in[0].ndim, in[0].shape, s0, sizeof s0),
                         ds_shape_str(in[1].ndim, in[1].shape, s1, sizeof s1),
                         ds_shape_str(in[2].ndim, in[2].shape, s2, sizeof s2));
    }
    out->dtype = ds_dtype_promote(in[1].dtype, in[2].dtype);
    *n_out = 1;
    return DS_OK;
}

static ds_status run_where(ds_op_call *c) {
    ds_tensor *cond = c->in[0], *x = c->in[1], *y = c->in[2], *out = c->out[0];
    ds_tensor *tc = NULL, *tx = NULL, *ty = NULL;
    ds_status st;
    if (cond->dtype != DS_BOOL) {
        DS_TRY(cast_new(cond, DS_BOOL, &tc));
        cond = tc;
    }
    if (x->dtype != out->dtype) {
        DS_TRY(cast_new(x, out->dtype, &tx));
        x = tx;
    }
    if (y->dtype != out->dtype) {
        DS_TRY(cast_new(y, out->dtype, &ty));
        y = ty;
    }
    ds_tensor *ops[4] = {cond, x, y, out};
    st = run_loop(ds_kernel_where(ds_dtype_size(out->dtype)), NULL, 4, ops, 1);
fail:
    ds_tensor_release(tc);
    ds_tensor_release(tx);
    ds_tensor_release(ty);
    return st;
}

/* ---------------------------------------------------------------- cast */
static ds_status infer_cast(ds_op_id op, int n_in, const ds_meta *in, const ds_attr *attrs, ds_meta *out,
                            int *n_out) {
    if (attrs[0].kind != DS_ATTR_DTYPE || (unsigned)attrs[0].v.dtype >= DS_DTYPE_COUNT)
        return ds_errorf(DS_ERR_VALUE, "attribute 'dtype' must be a dtype");
    *out = in[0];
    out->dtype = attrs[0].v.dtype;
    *n_out = 1;
    return DS_OK;
}

static ds_status run_cast(ds_op_call *c) {
    ds_tensor *ops[2] = {c->in[0], c->out[0]};
    return run_loop(ds_kernel_cast(c->in[0]->dtype, c->out[0]->dtype), NULL, 2, ops, 1);
}

/* ---------------------------------------------------------------- clip */
static ds_status infer_clip(ds_op_id op, int n_in, const ds_meta *in, const ds_attr *attrs, ds_meta *out,
                            int *n_out) {
    if (ds_attr_is_none(&attrs[0]) && ds_attr_is_none(&attrs[1]))
        return ds_errorf(DS_ERR_VALUE, "at least one of min and max must be given");
    *out = in[0];
    *n_out = 1;
    return DS_OK;
}

static ds_status run_clip(ds_op_call *c) {
    ds_clip_bounds b = {0, 0, false, false};
    if (!ds_attr_is_none(&c->attrs[0])) {
        b.lo = c->attrs[0].v.f;
        b.has_lo = true;
    }
    if (!ds_attr_is_none(&c->attrs[1])) {
        b.hi = c->attrs[1].v.f;
        b.has_hi = true;
    }
    ds_tensor *ops[2] = {c->in[0], c->out[0]};
    ds_loop_fn fn = ds_kernel_clip(c->in[0]->dtype);
    if (!fn) return no_kernel(c->in[0]->dtype);
    return run_loop(fn, &b, 2, ops, 1);
}

/* ---------------------------------------------------------------- registration */
void ds_ops_register_elementwise(ds_op_impl *table) {
#define DS_OP(ID, name, prim, kind, nin, nout, attrs)                                              \
    if (DS_KIND_##kind == DS_KIND_UNARY) table[DS_OP_##ID] = (ds_op_impl){infer_unary, run_unary, 0};   \
    if (DS_KIND_##kind == DS_KIND_BINARY) table[DS_OP_##ID] = (ds_op_impl){infer_binary, run_binary, 0};
#include "dynastat_ops.def"
#undef DS_OP
    table[DS_OP_WHERE] = (ds_op_impl){infer_where, run_where, 0};
    table[DS_OP_CAST] = (ds_op_impl){infer_cast, run_cast, 0};
    table[DS_OP_CLIP] = (ds_op_impl){infer_clip, run_clip, 0};
}
