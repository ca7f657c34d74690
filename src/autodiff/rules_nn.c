/* Gradient rules of the nn ops (ops/nn_ops.c). First order uses the fused backward ops; the rules of
 * those backward ops are compositions of differentiable ops, so every order works:
 *   softmax: softmax_grad(y, g) = y (g - sum(g y));  log_softmax: log_softmax_grad(y, g) = g - e^y sum(g)
 *   softmax_grad(y, g) -> u:  dy = u (g - sum(g y)) - g sum(u y),  dg = softmax_grad(y, u)
 *   log_softmax_grad(y, g) -> u:  dy = -u e^y sum(g),  dg = u - sum(u e^y)
 *   softmax_cross_entropy: d logits = softmax_cross_entropy_grad(logits, labels, g) (fused: w (p S - T));
 *       dense labels get -(1 - eps) w log_softmax(logits); sparse labels get none (integers)
 *   softmax_cross_entropy_grad(x, labels, g) -> u, with a_i = w_i S_i valid_i (w_i the row weight of g):
 *       dx = softmax_grad(p, u a), dg = <u, the op at g = 1> per row (none) or in total (mean, sum),
 *       dense d labels = (1 - eps) w (sum(u p) - u)
 *   bce_with_logits: d logits = w (sigmoid(x) - t), d targets = -w x (w: g, divided by the count for mean)
 *   sgd_update, momentum_update, adam_update: zero (no outputs; an optimizer step is not differentiated) */
#include "autodiff/autodiff.h"

#define G0 (r->gout[0])
#define X(i) ds_gr_x(r, i)
#define Y(i) ds_gr_y(r, i)
#define K(v, like) ds_gr_k(r, (v), (like))
#define UN(op, a) ds_gr_un(r, DS_OP_##op, (a))
#define BIN(op, a, b) ds_gr_bin(r, DS_OP_##op, (a), (b))
#define ADD(a, b) BIN(ADD, a, b)
#define SUB(a, b) BIN(SUB, a, b)
#define MUL(a, b) BIN(MUL, a, b)
#define DIV(a, b) BIN(DIV, a, b)
#define FIT(g, i) ds_gr_fit(r, (g), (i))

/* The forward node's axis attribute (attr 0) normalised against input 0. */
static int node_axis(ds_grad_call *r) {
    int nd = ds_gr_xt(r, 0)->ndim;
    int64_t a = r->node->attrs[0].kind == DS_ATTR_INT ? r->node->attrs[0].v.i : -1;
    return nd == 0 ? 0 : (int)(a < 0 ? a + nd : a);
}

/* Sum of v over one axis (keepdims); a 0-d v is its own sum. */
static ds_value *sum_axis(ds_grad_call *r, ds_value *v, int axis, bool keepdims) {
    bool mask[DS_MAX_DIMS] = {false};
    if (v && v->type.ndim > 0) mask[axis] = true;
    return ds_gr_sum(r, v, mask, keepdims);
}

static ds_value *sum_all(ds_grad_call *r, ds_value *v) {
    bool mask[DS_MAX_DIMS];
    for (int d = 0; d < DS_MAX_DIMS; d++) mask[d] = true;
    return ds_gr_sum(r, v, mask, false);
}

static ds_value *op_attrs(ds_grad_call *r, ds_op_id op, int n, ds_value *const *in) {
    return ds_gr_op(r, op, n, in, r->node->attrs);
}

/* ---------------------------------------------------------------- softmax family */
static ds_status rule_softmax(ds_grad_call *r) {
    if (!r->need[0]) return DS_OK;
    ds_value *in[2] = {Y(0), G0};
    ds_op_id op = r->node->op == DS_OP_SOFTMAX ? DS_OP_SOFTMAX_GRAD : DS_OP_LOG_SOFTMAX_GRAD;
    r->gin[0] = FIT(op_attrs(r, op, 2, in), 0);
    return r->st;
}

static ds_status rule_softmax_grad(ds_grad_call *r) {
    int ax = node_axis(r);
    ds_value *y = X(0), *g = X(1), *u = G0;
    if (r->need[0]) {
        ds_value *s = sum_axis(r, MUL(g, y), ax, true), *t = sum_axis(r, MUL(u, y), ax, true);
        r->gin[0] = FIT(SUB(MUL(u, SUB(g, s)), MUL(g, t)), 0);
    }
    if (r->need[1]) {
        ds_value *in[2] = {y, u};
        r->gin[1] = FIT(op_attrs(r, DS_OP_SOFTMAX_GRAD, 2, in), 1);
    }
    return r->st;
}

static ds_status rule_log_softmax_grad(ds_grad_call *r) {
    int ax = node_axis(r);
    ds_value *e = UN(EXP, X(0)), *u = G0;
    if (r->need[0]) r->gin[0] = FIT(UN(NEG, MUL(MUL(u, e), sum_axis(r, X(1), ax, true))), 0);
    if (r->need[1]) r->gin[1] = FIT(SUB(u, sum_axis(r, MUL(u, e), ax, true)), 1);
    return r->st;
}

/* ---------------------------------------------------------------- cross-entropy */
/* Attributes (both ops): sparse (None: integer labels), reduction, ignore_index, label_smoothing. */
#define CE_SPARSE(r) ((r)->node->attrs[0].kind == DS_ATTR_BOOL ? (r)->node->attrs[0].v.b : ds_dtype_is_int(ds_gr_xt(r, 1)->dtype))
#define CE_RED(r) ((r)->node->attrs[1].v.i)
#define CE_EPS(r) ((r)->node->attrs[3].v.f)

/* 1 where a sparse label is counted (not ignore_index), in dtype dt, shaped like the labels; NULL when
 * every row counts. */
static ds_value *ce_valid(ds_grad_call *r, ds_dtype dt) {
    const ds_attr *ig = &r->node->attrs[2];
    if (!CE_SPARSE(r) || ig->kind != DS_ATTR_INT) return NULL;
    ds_value *lab = X(1);
    ds_value *ne = BIN(NOT_EQUAL, lab, ds_gr_const(r, (double)ig->v.i, ds_gr_xt(r, 1)->dtype));
    return ds_gr_cast(r, ne, dt);
}

/* The number of rows the mean divides by, a scalar of g's dtype. */
static ds_value *ce_count(ds_grad_call *r, ds_value *g, ds_value *valid) {
    if (valid) return sum_all(r, valid);
    const ds_meta *xt = ds_gr_xt(r, 0);
    if (xt->ndim == 1) return K(1, g);
    if (xt->shape[0] >= 0) return K((double)xt->shape[0], g);
    ds_attr dt = {.kind = DS_ATTR_DTYPE, .v.dtype = g->type.dtype};
    ds_value *rows = sum_axis(r, X(0), 1, false); /* [N]: its shape only */
    return sum_all(r, ds_gr_op(r, DS_OP_ONES_LIKE, 1, &rows, &dt));
}

/* Row weights of the loss cotangent g, broadcasting against the logits: g per row (none), g (sum),
 * g / count (mean). */
static ds_value *ce_weight(ds_grad_call *r, ds_value *g, ds_value *valid) {
    int64_t red = CE_RED(r);
    if (red == 1) return DIV(g, ce_count(r, g, valid));
    if (red == 0 && ds_gr_xt(r, 0)->ndim == 2) return ds_gr_unsqueeze(r, g, 1);
    return g;
}

static ds_value *unsq_rows(ds_grad_call *r, ds_value *v) {
    return v && ds_gr_xt(r, 0)->ndim == 2 ? ds_gr_unsqueeze(r, v, 1) : v;
}

static ds_status rule_ce(ds_grad_call *r) {
    ds_value *g = G0;
    if (r->need[0]) {
        ds_value *in[3] = {X(0), X(1), g};
        r->gin[0] = FIT(op_attrs(r, DS_OP_SOFTMAX_CROSS_ENTROPY_GRAD, 3, in), 0);
    }
    if (r->need[1] && !CE_SPARSE(r)) {
        ds_value *x = X(0);
        ds_attr ax = {.kind = DS_ATTR_INT, .v.i = -1};
        ds_value *ls = ds_gr_op(r, DS_OP_LOG_SOFTMAX, 1, &x, &ax);
        ds_value *w = ce_weight(r, g, NULL);
        r->gin[1] = FIT(MUL(MUL(ls, w), K(-(1 - CE_EPS(r)), g)), 1);
    }
    return r->st;
}

static ds_status rule_ce_grad(ds_grad_call *r) {
    ds_value *x = X(0), *g = X(2), *u = G0;
    int cax = ds_gr_xt(r, 0)->ndim - 1;
    double eps = CE_EPS(r);
    ds_attr ax = {.kind = DS_ATTR_INT, .v.i = -1};
    ds_value *valid = NULL, *w = NULL, *p = NULL;
    if (r->need[0] || r->need[1]) {
        valid = ce_valid(r, g->type.dtype);
        w = ce_weight(r, g, valid);
        p = ds_gr_op(r, DS_OP_SOFTMAX, 1, &x, &ax);
    }
    if (r->need[0]) {
        ds_value *a = valid ? MUL(w, unsq_rows(r, valid)) : w;
        if (!CE_SPARSE(r)) /* S = (1 - eps) sum(t) + eps */
            a = MUL(a, ADD(MUL(sum_axis(r, X(1), cax, true), K(1 - eps, g)), K(eps, g)));
        ds_value *in[2] = {p, MUL(u, a)};
        r->gin[0] = FIT(ds_gr_op(r, DS_OP_SOFTMAX_GRAD, 2, in, &ax), 0);
    }
    if (r->need[1] && !CE_SPARSE(r)) {
        ds_value *d = SUB(sum_axis(r, MUL(u, p), cax, true), u);
        r->gin[1] = FIT(MUL(MUL(d, w), K(1 - eps, g)), 1);
    }
    if (r->need[2]) { /* the op is linear in g */
        ds_value *in[3] = {x, X(1), UN(ONES_LIKE, g)};
        ds_value *h = MUL(u, op_attrs(r, DS_OP_SOFTMAX_CROSS_ENTROPY_GRAD, 3, in));
        r->gin[2] = FIT(CE_RED(r) == 0 ? sum_axis(r, h, cax, false) : sum_all(r, h), 2);
    }
    return r->st;
}

/* ---------------------------------------------------------------- binary cross-entropy */
static ds_status rule_bce(ds_grad_call *r) {
    ds_value *x = X(0), *g = G0;
    if (r->node->attrs[0].v.i == 1) { /* mean: divide by the element count */
        const ds_meta *xt = ds_gr_xt(r, 0);
        double n = 1;
        bool known = ds_meta_static(xt);
        for (int d = 0; d < xt->ndim; d++) n *= (double)xt->shape[d];
        ds_attr dt = {.kind = DS_ATTR_DTYPE, .v.dtype = g->type.dtype};
        g = DIV(g, known ? K(n, g) : sum_all(r, ds_gr_op(r, DS_OP_ONES_LIKE, 1, &x, &dt)));
    }
    if (r->need[0]) r->gin[0] = FIT(MUL(g, SUB(UN(SIGMOID, x), X(1))), 0);
    if (r->need[1]) r->gin[1] = FIT(UN(NEG, MUL(g, x)), 1);
    return r->st;
}

/* Fills the rule table entries of the nn ops. */
void ds_grad_register_nn(ds_grad_entry *t) {
    t[DS_OP_SOFTMAX] = (ds_grad_entry){DS_GRAD_RULE, rule_softmax, NULL};
    t[DS_OP_LOG_SOFTMAX] = (ds_grad_entry){DS_GRAD_RULE, rule_softmax, NULL};
    t[DS_OP_SOFTMAX_GRAD] = (ds_grad_entry){DS_GRAD_RULE, rule_softmax_grad, NULL};
    t[DS_OP_LOG_SOFTMAX_GRAD] = (ds_grad_entry){DS_GRAD_RULE, rule_log_softmax_grad, NULL};
    t[DS_OP_SOFTMAX_CROSS_ENTROPY] = (ds_grad_entry){DS_GRAD_RULE, rule_ce, NULL};
    t[DS_OP_SOFTMAX_CROSS_ENTROPY_GRAD] = (ds_grad_entry){DS_GRAD_RULE, rule_ce_grad, NULL};
    t[DS_OP_BCE_WITH_LOGITS] = (ds_grad_entry){DS_GRAD_RULE, rule_bce, NULL};
    static const ds_op_id opt[] = {DS_OP_SGD_UPDATE, DS_OP_MOMENTUM_UPDATE, DS_OP_ADAM_UPDATE};
    for (size_t i = 0; i < sizeof opt / sizeof opt[0]; i++)
        t[opt[i]] = (ds_grad_entry){DS_GRAD_ZERO, NULL, "an in-place optimizer update has no outputs; gradients do not flow through it"};
}
