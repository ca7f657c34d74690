/* Gradient rules of the convolution and pooling ops (src/ops/conv.c). Every op here is linear in its
 * first input, so each rule is written with the family's own ops and second order closes:
 *   conv2d(x, w):                 dx = conv2d_backprop_input(g, w), dw = conv2d_backprop_filter(g, x)
 *   conv2d_backprop_input(dy, w): d dy = conv2d(g, w),              dw = conv2d_backprop_filter(dy, g)
 *   conv2d_backprop_filter(dy, x): d dy = conv2d(x, g),             dx = conv2d_backprop_input(dy, g)
 *   max_pool2d(x):                dx = max_pool2d_grad(g, x)  (to the first maximum of each window)
 *   max_pool2d_grad(dy, x):       d dy = max_pool2d_grad_grad(g, x); x: zero (the routing is piecewise
 *                                 constant in x)
 *   max_pool2d_grad_grad(s, x):   d s = max_pool2d_grad(g, x); x: zero
 *   avg_pool2d(x) <-> avg_pool2d_grad(dy), adaptive_avg_pool2d(x) <-> adaptive_avg_pool2d_grad(dy):
 *                                 each is the other's adjoint
 * The shape attributes (input_shape, filter_shape) come from the forward types; dims that are not
 * static are passed as -1 where the op can recover them (batch and channels), and a rule refuses
 * non-static spatial or kernel dims with an error naming the op. */
#include "autodiff/autodiff.h"
#include "base/status.h"

/* An ints attribute holding type t's shape (into buf); non-static dims among the first n_free become
 * -1, others are an error. */
static bool shape_of(ds_grad_call *r, const ds_meta *t, int n_free, int64_t *buf, ds_attr *out) {
    for (int d = 0; d < t->ndim; d++) {
        buf[d] = t->shape[d] >= 0 ? t->shape[d] : -1;
        if (buf[d] < 0 && d >= n_free) {
            char s[DS_SHAPE_STR_MAX];
            ds_gr_fail(r, ds_errorf(DS_ERR_UNSUPPORTED, "the gradient of %s needs static spatial dims, got %s",
                                    ds_op_get_info(r->node->op)->name, ds_shape_str(t->ndim, t->shape, s, sizeof s)));
            return false;
        }
    }
    *out = (ds_attr){.kind = DS_ATTR_INTS, .n = t->ndim, .v.ints = buf};
    return true;
}

/* op(a, b) with attributes `lead` (if given) followed by the forward node's attributes from `from`. */
static ds_value *emit(ds_grad_call *r, ds_op_id op, ds_value *a, ds_value *b, const ds_attr *lead, int from) {
    ds_attr at[DS_MAX_ATTRS];
    int n = 0, total = ds_op_get_info(r->node->op)->n_attrs;
    if (lead) at[n++] = *lead;
    for (int i = from; i < total; i++) at[n++] = r->node->attrs[i];
    ds_value *in[2] = {a, b};
    return ds_gr_op(r, op, b ? 2 : 1, in, at);
}

/* ---------------------------------------------------------------- convolution */
static ds_value *backprop_input(ds_grad_call *r, ds_value *dy, ds_value *w, const ds_meta *x, int from) {
    int64_t buf[DS_MAX_DIMS];
    ds_attr s;
    if (!shape_of(r, x, 2, buf, &s)) return NULL;
    return emit(r, DS_OP_CONV2D_BACKPROP_INPUT, dy, w, &s, from);
}

static ds_value *backprop_filter(ds_grad_call *r, ds_value *dy, ds_value *x, const ds_meta *w, int from) {
    int64_t buf[DS_MAX_DIMS];
    ds_attr s;
    if (!shape_of(r, w, 2, buf, &s)) return NULL;
    return emit(r, DS_OP_CONV2D_BACKPROP_FILTER, dy, x, &s, from);
}

static ds_status rule_conv2d(ds_grad_call *r) {
    ds_value *g = r->gout[0];
    if (r->need[0]) r->gin[0] = ds_gr_fit(r, backprop_input(r, g, ds_gr_x(r, 1), ds_gr_xt(r, 0), 0), 0);
    if (r->need[1]) r->gin[1] = ds_gr_fit(r, backprop_filter(r, g, ds_gr_x(r, 0), ds_gr_xt(r, 1), 0), 1);
    return r->st;
}

static ds_status rule_backprop_input(ds_grad_call *r) { /* (dy, w) -> x-shaped */
    ds_value *g = r->gout[0];
    if (r->need[0]) r->gin[0] = ds_gr_fit(r, emit(r, DS_OP_CONV2D, g, ds_gr_x(r, 1), NULL, 1), 0);
    if (r->need[1]) r->gin[1] = ds_gr_fit(r, backprop_filter(r, ds_gr_x(r, 0), g, ds_gr_xt(r, 1), 1), 1);
    return r->st;
}

static ds_status rule_backprop_filter(ds_grad_call *r) { /* (dy, x) -> w-shaped */
    ds_value *g = r->gout[0];
    if (r->need[0]) r->gin[0] = ds_gr_fit(r, emit(r, DS_OP_CONV2D, ds_gr_x(r, 1), g, NULL, 1), 0);
    if (r->need[1]) r->gin[1] = ds_gr_fit(r, backprop_input(r, ds_gr_x(r, 0), g, ds_gr_xt(r, 1), 1), 1);
    return r->st;
}

/* ---------------------------------------------------------------- pooling */
static ds_status rule_max_pool2d(ds_grad_call *r) {
    if (r->need[0]) r->gin[0] = ds_gr_fit(r, emit(r, DS_OP_MAX_POOL2D_GRAD, r->gout[0], ds_gr_x(r, 0), NULL, 0), 0);
    return r->st;
}

/* max_pool2d_grad and max_pool2d_grad_grad are each other's adjoint in their first input. */
static ds_status rule_max_pool2d_grad(ds_grad_call *r) {
    ds_op_id adj = r->node->op == DS_OP_MAX_POOL2D_GRAD ? DS_OP_MAX_POOL2D_GRAD_GRAD : DS_OP_MAX_POOL2D_GRAD;
    if (r->need[0]) r->gin[0] = ds_gr_fit(r, emit(r, adj, r->gout[0], ds_gr_x(r, 1), NULL, 0), 0);
    return r->st;
}

static ds_status rule_avg_pool2d(ds_grad_call *r) {
    if (!r->need[0]) return DS_OK;
    int64_t buf[DS_MAX_DIMS];
    ds_attr s;
    const ds_meta *x = ds_gr_xt(r, 0);
    if (!shape_of(r, x, x->ndim - 2, buf, &s)) return r->st;
    r->gin[0] = ds_gr_fit(r, emit(r, DS_OP_AVG_POOL2D_GRAD, r->gout[0], NULL, &s, 0), 0);
    return r->st;
}

static ds_status rule_avg_pool2d_grad(ds_grad_call *r) {
    if (r->need[0]) r->gin[0] = ds_gr_fit(r, emit(r, DS_OP_AVG_POOL2D, r->gout[0], NULL, NULL, 1), 0);
    return r->st;
}

static ds_status rule_adaptive(ds_grad_call *r) {
    if (!r->need[0]) return DS_OK;
    int64_t buf[DS_MAX_DIMS];
    ds_attr s;
    const ds_meta *x = ds_gr_xt(r, 0);
    if (!shape_of(r, x, x->ndim - 2, buf, &s)) return r->st;
    ds_value *g = r->gout[0];
    ds_op_id op = DS_OP_ADAPTIVE_AVG_POOL2D_GRAD;
    if (r->node->op == DS_OP_ADAPTIVE_AVG_POOL2D_GRAD) { /* the adjoint pools to dy's spatial size */
        op = DS_OP_ADAPTIVE_AVG_POOL2D;
        s.n = 2;
        s.v.ints = buf + x->ndim - 2;
    }
    r->gin[0] = ds_gr_fit(r, ds_gr_op(r, op, 1, &g, &s), 0);
    return r->st;
}

/* Fills the rule table entries of the convolution and pooling ops. */
void ds_grad_register_conv(ds_grad_entry *t) {
    t[DS_OP_CONV2D] = (ds_grad_entry){DS_GRAD_RULE, rule_conv2d, NULL};
    t[DS_OP_CONV2D_BACKPROP_INPUT] = (ds_grad_entry){DS_GRAD_RULE, rule_backprop_input, NULL};
    t[DS_OP_CONV2D_BACKPROP_FILTER] = (ds_grad_entry){DS_GRAD_RULE, rule_backprop_filter, NULL};
    t[DS_OP_MAX_POOL2D] = (ds_grad_entry){DS_GRAD_RULE, rule_max_pool2d, NULL};
    t[DS_OP_MAX_POOL2D_GRAD] = (ds_grad_entry){DS_GRAD_RULE, rule_max_pool2d_grad, NULL};
    t[DS_OP_MAX_POOL2D_GRAD_GRAD] = (ds_grad_entry){DS_GRAD_RULE, rule_max_pool2d_grad, NULL};
    t[DS_OP_AVG_POOL2D] = (ds_grad_entry){DS_GRAD_RULE, rule_avg_pool2d, NULL};
    t[DS_OP_AVG_POOL2D_GRAD] = (ds_grad_entry){DS_GRAD_RULE, rule_avg_pool2d_grad, NULL};
    t[DS_OP_ADAPTIVE_AVG_POOL2D] = (ds_grad_entry){DS_GRAD_RULE, rule_adaptive, NULL};
    t[DS_OP_ADAPTIVE_AVG_POOL2D_GRAD] = (ds_grad_entry){DS_GRAD_RULE, rule_adaptive, NULL};
}
