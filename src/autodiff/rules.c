/* The gradient rule table, expanded from the op table, and the emit helpers the rules share.
 *
 * Every op of include/dynastat_ops.def has one decision (tests/c/test_grad.c checks that none is
 * missing): a rule (rules_elementwise.c, rules_reduce.c, rules_shape.c), DS_GRAD_ZERO, or
 * DS_GRAD_NONE. Ops without inputs (CREATE and RANDOM kinds) default to ZERO from their kind. */
#include <pthread.h>
#include <string.h>

#include "autodiff/autodiff.h"
#include "base/status.h"

static ds_grad_entry g_rules[DS_OP_COUNT];
static pthread_once_t g_once = PTHREAD_ONCE_INIT;

static void init_rules(void) {
#define DS_OP(ID, name, prim, kind, nin, nout, attrs)                                                  \
    if (DS_KIND_##kind == DS_KIND_CREATE)                                                              \
        g_rules[DS_OP_##ID] = (ds_grad_entry){DS_GRAD_ZERO, NULL, "it creates a tensor from attributes only"}; \
    if (DS_KIND_##kind == DS_KIND_RANDOM)                                                              \
        g_rules[DS_OP_##ID] = (ds_grad_entry){DS_GRAD_ZERO, NULL, "random samples are treated as constants"};
#include "dynastat_ops.def"
#undef DS_OP
    ds_grad_register_elementwise(g_rules);
    ds_grad_register_reduce(g_rules);
    ds_grad_register_shape(g_rules);
    ds_grad_register_conv(g_rules);
    ds_grad_register_nn(g_rules);
}

const ds_grad_entry *ds_grad_entry_get(ds_op_id op) {
    pthread_once(&g_once, init_rules);
    return &g_rules[op];
}

bool ds_meta_static(const ds_meta *m) {
    for (int d = 0; d < m->ndim; d++)
        if (m->shape[d] < 0) return false;
    return true;
}

/* ---------------------------------------------------------------- emit helpers */
ds_value *ds_gr_fail(ds_grad_call *r, ds_status st) {
    if (!r->st) r->st = st ? st : DS_ERR_INTERNAL;
    return NULL;
}

/* NULL arguments: a failure recorded earlier, or (if none was) a bug in a rule. */
static bool args_ok(ds_grad_call *r, int n, ds_value *const *in) {
    if (r->st) return false;
    for (int i = 0; i < n; i++)
        if (!in[i]) {
            ds_gr_fail(r, ds_errorf(DS_ERR_INTERNAL, "gradient rule of %s: an operand is missing",
                                    ds_op_get_info(r->node->op)->name));
            return false;
        }
    return true;
}

static ds_value *fwd_value(ds_grad_call *r, const ds_value *v) {
    if (r->st) return NULL;
    ds_value *res = r->fwd(r->pass, v);
    if (!res) ds_gr_fail(r, ds_error_status() ? ds_error_status() : DS_ERR_INTERNAL);
    return res;
}

ds_value *ds_gr_x(ds_grad_call *r, int i) { return fwd_value(r, r->node->in[i]); }
ds_value *ds_gr_y(ds_grad_call *r, int i) { return fwd_value(r, r->node->out[i]); }

ds_value *ds_gr_op(ds_grad_call *r, ds_op_id op, int n, ds_value *const *in, const ds_attr *attrs) {
    if (!args_ok(r, n, in)) return NULL;
    ds_value *out = NULL;
    ds_status st = ds_graph_add_op1(r->g, op, n, in, attrs, &out);
    return st ? ds_gr_fail(r, st) : out;
}

ds_value *ds_gr_un(ds_grad_call *r, ds_op_id op, ds_value *a) { return ds_gr_op(r, op, 1, &a, NULL); }

ds_value *ds_gr_bin(ds_grad_call *r, ds_op_id op, ds_value *a, ds_value *b) {
    ds_value *in[2] = {a, b};
    return ds_gr_op(r, op, 2, in, NULL);
}

ds_value *ds_gr_where(ds_grad_call *r, ds_value *c, ds_value *a, ds_value *b) {
    ds_value *in[3] = {c, a, b};
    return ds_gr_op(r, DS_OP_WHERE, 3, in, NULL);
}

ds_value *ds_gr_const(ds_grad_call *r, double v, ds_dtype dt) {
    if (r->st) return NULL;
    ds_tensor *t = NULL;
    ds_value *out = NULL;
    ds_status st = ds_tensor_scalar(dt, v, &t);
    if (!st) st = ds_graph_add_const(r->g, t, &out);
    ds_tensor_release(t);
    return st ? ds_gr_fail(r, st) : out;
}

ds_value *ds_gr_k(ds_grad_call *r, double v, const ds_value *a) {
    if (!args_ok(r, 1, (ds_value *const *)&a)) return NULL;
    return ds_gr_const(r, v, a->type.dtype);
}

ds_value *ds_gr_cast(ds_grad_call *r, ds_value *a, ds_dtype dt) {
    if (!args_ok(r, 1, &a)) return NULL;
    if (a->type.dtype == dt) return a;
    ds_attr at = {.kind = DS_ATTR_DTYPE, .v.dtype = dt};
    return ds_gr_op(r, DS_OP_CAST, 1, &a, &at);
}

static ds_value *with_shape(ds_grad_call *r, ds_op_id op, ds_value *a, const ds_meta *t) {
    ds_attr at = {.kind = DS_ATTR_INTS, .n = t->ndim, .v.ints = t->shape};
    return ds_gr_op(r, op, 1, &a, &at);
}

ds_value *ds_gr_sum(ds_grad_call *r, ds_value *a, const bool *mask, bool keepdims) {
    if (!args_ok(r, 1, &a)) return NULL;
    int64_t axes[DS_MAX_DIMS];
    int n = 0;
    for (int d = 0; d < a->type.ndim; d++)
        if (mask[d]) axes[n++] = d;
    if (n == 0) return a;
    ds_attr at[2] = {{.kind = DS_ATTR_INTS, .n = n, .v.ints = axes}, {.kind = DS_ATTR_BOOL, .v.b = keepdims}};
    return ds_gr_op(r, DS_OP_SUM, 1, &a, at);
}

ds_value *ds_gr_fit(ds_grad_call *r, ds_value *g, int i) {
    if (!args_ok(r, 1, &g)) return NULL;
    const ds_meta *t = ds_gr_xt(r, i), *gt = &g->type;
    ds_value *v = g;
    if (!ds_shape_equal(gt->ndim, gt->shape, t->ndim, t->shape)) {
        if (ds_meta_static(t) && ds_meta_static(gt) && gt->ndim >= t->ndim) {
            bool mask[DS_MAX_DIMS] = {false};
            int lead = gt->ndim - t->ndim;
            for (int d = 0; d < gt->ndim; d++) mask[d] = d < lead || gt->shape[d] != t->shape[d - lead];
            v = ds_gr_sum(r, g, mask, true);
            if (v && !ds_shape_equal(v->type.ndim, v->type.shape, t->ndim, t->shape)) v = with_shape(r, DS_OP_RESHAPE, v, t);
        } else {
            ds_value *in[2] = {g, ds_gr_x(r, i)};
            v = ds_gr_op(r, DS_OP_SUM_LIKE, 2, in, NULL);
        }
    }
    return ds_gr_cast(r, v, t->dtype);
}

/* g given the shape of forward input i by a view op (static shape) or its *_like form. */
static ds_value *to_shape(ds_grad_call *r, ds_value *g, int i, ds_op_id static_op, ds_op_id like_op) {
    if (!args_ok(r, 1, &g)) return NULL;
    const ds_meta *t = ds_gr_xt(r, i);
    if (ds_shape_equal(g->type.ndim, g->type.shape, t->ndim, t->shape)) return g;
    if (ds_meta_static(t)) return with_shape(r, static_op, g, t);
    ds_value *in[2] = {g, ds_gr_x(r, i)};
    return ds_gr_op(r, like_op, 2, in, NULL);
}

ds_value *ds_gr_bcast(ds_grad_call *r, ds_value *g, int i) {
    return to_shape(r, g, i, DS_OP_BROADCAST_TO, DS_OP_BROADCAST_LIKE);
}

ds_value *ds_gr_reshape(ds_grad_call *r, ds_value *g, int i) {
    return to_shape(r, g, i, DS_OP_RESHAPE, DS_OP_RESHAPE_LIKE);
}

ds_value *ds_gr_zeros(ds_grad_call *r, const ds_meta *type, ds_value *like) {
    if (r->st) return NULL;
    if (ds_meta_static(type)) {
        ds_attr at[3] = {{.kind = DS_ATTR_INTS, .n = type->ndim, .v.ints = type->shape},
                         {.kind = DS_ATTR_FLOAT, .v.f = 0.0},
                         {.kind = DS_ATTR_DTYPE, .v.dtype = type->dtype}};
        return ds_gr_op(r, DS_OP_FULL, 0, NULL, at);
    }
    ds_attr at = {.kind = DS_ATTR_DTYPE, .v.dtype = type->dtype};
    return ds_gr_op(r, DS_OP_ZEROS_LIKE, 1, &like, &at);
}

ds_value *ds_gr_zeros_in(ds_grad_call *r, int i) {
    const ds_meta *t = ds_gr_xt(r, i);
    return ds_gr_zeros(r, t, ds_meta_static(t) ? NULL : ds_gr_x(r, i));
}

ds_value *ds_gr_zeros_out(ds_grad_call *r, int i) {
    const ds_meta *t = ds_gr_yt(r, i);
    return ds_gr_zeros(r, t, ds_meta_static(t) ? NULL : ds_gr_y(r, i));
}

ds_value *ds_gr_unsqueeze(ds_grad_call *r, ds_value *a, int axis) {
    ds_attr at = {.kind = DS_ATTR_INT, .v.i = axis};
    return ds_gr_op(r, DS_OP_UNSQUEEZE, 1, &a, &at);
}

ds_value *ds_gr_squeeze(ds_grad_call *r, ds_value *a, int axis) {
    int64_t ax = axis;
    ds_attr at = {.kind = DS_ATTR_INTS, .n = 1, .v.ints = &ax};
    return ds_gr_op(r, DS_OP_SQUEEZE, 1, &a, &at);
}

ds_value *ds_gr_transpose(ds_grad_call *r, ds_value *a, int nd, const int *perm) {
    int64_t p[DS_MAX_DIMS];
    bool identity = true;
    for (int d = 0; d < nd; d++) {
        p[d] = perm[d];
        identity &= perm[d] == d;
    }
    if (identity) return args_ok(r, 1, &a) ? a : NULL;
    ds_attr at = {.kind = DS_ATTR_INTS, .n = nd, .v.ints = p};
    return ds_gr_op(r, DS_OP_TRANSPOSE, 1, &a, &at);
}
