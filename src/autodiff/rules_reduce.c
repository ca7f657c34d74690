/* Gradient rules of the reductions and matmul. Decisions (as PyTorch):
 *   sum, mean: the cotangent broadcast back over the reduced axes (mean divided by the count)
 *   prod: exact with zeros (the product of the other elements), to second order
 *   amax / amin: split evenly between the elements equal to the extreme
 *   var / std (ddof): 2 (x - mean) / (N - ddof) (std: divided by 2 std, 0 where std == 0)
 *   all, any, argmax, argmin: zero (boolean or integer results)
 *   matmul: g @ op(b)^T and op(a)^T @ g with the transposes folded into the matmul attributes, 1-D
 *           operands promoted as in the forward, batch broadcasting summed away. */
#include <string.h>

#include "autodiff/autodiff.h"

#define G0 (r->gout[0])
#define X(i) ds_gr_x(r, i)
#define Y(i) ds_gr_y(r, i)
#define K(v, like) ds_gr_k(r, (v), (like))
#define UN(op, a) ds_gr_un(r, DS_OP_##op, (a))
#define BIN(op, a, b) ds_gr_bin(r, DS_OP_##op, (a), (b))
#define SUB(a, b) BIN(SUB, a, b)
#define MUL(a, b) BIN(MUL, a, b)
#define DIV(a, b) BIN(DIV, a, b)
#define WHERE(c, a, b) ds_gr_where(r, (c), (a), (b))

/* The reduced axes of the forward node (over input 0's dims), whether all are, and keepdims. */
typedef struct red {
    bool mask[DS_MAX_DIMS];
    int nd;
    bool all, keep;
} red;

static void red_of(ds_grad_call *r, red *q) {
    const ds_attr *ax = &r->node->attrs[0];
    q->nd = ds_gr_xt(r, 0)->ndim;
    q->keep = r->node->attrs[1].kind == DS_ATTR_BOOL && r->node->attrs[1].v.b;
    memset(q->mask, 0, sizeof q->mask);
    if (ax->kind == DS_ATTR_NONE)
        for (int d = 0; d < q->nd; d++) q->mask[d] = true;
    else
        for (int64_t k = 0; k < ax->n && q->nd > 0; k++) {
            int64_t a = ax->v.ints[k];
            q->mask[a < 0 ? a + q->nd : a] = true;
        }
    q->all = true;
    for (int d = 0; d < q->nd; d++) q->all &= q->mask[d];
}

/* A reduced value (the shape of the output) with the reduced axes put back as size-1 dims. */
static ds_value *keepdims(ds_grad_call *r, const red *q, ds_value *v) {
    if (q->keep || q->all) return v; /* a scalar broadcasts as it is */
    for (int d = 0; d < q->nd; d++)
        if (q->mask[d]) v = ds_gr_unsqueeze(r, v, d);
    return v;
}

/* The cotangent broadcast back to the input's shape. */
static ds_value *expand(ds_grad_call *r, const red *q, ds_value *g) { return ds_gr_bcast(r, keepdims(r, q, g), 0); }

/* The number of reduced elements: a scalar constant when the dims are static, else a keepdims
 * tensor counting them. */
static ds_value *count(ds_grad_call *r, const red *q, double minus) {
    const ds_meta *t = ds_gr_xt(r, 0);
    bool known = true;
    double n = 1;
    for (int d = 0; d < q->nd; d++)
        if (q->mask[d]) {
            known &= t->shape[d] >= 0;
            n *= (double)t->shape[d];
        }
    if (known) return ds_gr_const(r, n - minus, t->dtype);
    ds_value *x = X(0);
    ds_value *c = ds_gr_sum(r, UN(ONES_LIKE, x), q->mask, true);
    return minus != 0 ? SUB(c, K(minus, c)) : c;
}

static ds_status rule_sum_mean(ds_grad_call *r) {
    if (!r->need[0]) return DS_OK;
    red q;
    red_of(r, &q);
    ds_value *d = expand(r, &q, G0);
    if (r->node->op == DS_OP_MEAN) d = DIV(d, count(r, &q, 0));
    r->gin[0] = ds_gr_fit(r, d, 0);
    return r->st;
}

/* d prod / d x_i = (product of the nonzero elements other than x_i) * Z_i, with Z_i the product of
 * the zero elements other than x_i, written so that its value and first derivatives are exact:
 * no zero: 1; one zero: 1 at the zero, elsewhere the sum of the zeros (= that zero); two zeros: at a
 * zero the other one (sum of zeros - x_i), elsewhere 0; more: 0. The result is correct to second
 * order. */
static ds_status rule_prod(ds_grad_call *r) {
    if (!r->need[0]) return DS_OK;
    red q;
    red_of(r, &q);
    ds_value *x = X(0), *zero = K(0, x), *one = K(1, x);
    ds_value *is0 = BIN(EQUAL, x, zero), *nz = WHERE(is0, one, x);
    ds_attr at[2] = {r->node->attrs[0], {.kind = DS_ATTR_BOOL, .v.b = true}};
    ds_value *pnz = ds_gr_op(r, DS_OP_PROD, 1, &nz, at); /* product of the nonzero elements */
    ds_value *zc = ds_gr_sum(r, ds_gr_cast(r, is0, x->type.dtype), q.mask, true);
    ds_value *zsum = ds_gr_sum(r, WHERE(is0, x, zero), q.mask, true);
    ds_value *z2 = WHERE(BIN(EQUAL, zc, K(2, x)), WHERE(is0, SUB(zsum, x), zero), zero);
    ds_value *z1 = WHERE(BIN(EQUAL, zc, one), WHERE(is0, one, zsum), z2);
    ds_value *z = WHERE(BIN(EQUAL, zc, zero), one, z1);
    ds_value *others = MUL(DIV(pnz, nz), z); /* d prod / d x_i */
    r->gin[0] = ds_gr_fit(r, MUL(expand(r, &q, G0), others), 0);
    return r->st;
}

static ds_status rule_amax_amin(ds_grad_call *r) {
    if (!r->need[0]) return DS_OK;
    red q;
    red_of(r, &q);
    ds_value *x = X(0), *g = G0;
    ds_value *hit = BIN(EQUAL, x, keepdims(r, &q, Y(0)));
    ds_value *n = ds_gr_sum(r, ds_gr_cast(r, hit, g->type.dtype), q.mask, true);
    ds_value *share = DIV(keepdims(r, &q, g), n);
    r->gin[0] = ds_gr_fit(r, WHERE(hit, share, K(0, g)), 0);
    return r->st;
}

static ds_status rule_var_std(ds_grad_call *r) {
    if (!r->need[0]) return DS_OK;
    red q;
    red_of(r, &q);
    double ddof = r->node->attrs[2].kind == DS_ATTR_INT ? (double)r->node->attrs[2].v.i : 0.0;
    ds_value *x = X(0), *g = G0;
    ds_attr at[2] = {r->node->attrs[0], {.kind = DS_ATTR_BOOL, .v.b = true}};
    ds_value *dev = SUB(x, ds_gr_op(r, DS_OP_MEAN, 1, &x, at));
    ds_value *scale = DIV(dev, count(r, &q, ddof)); /* (x - mean) / (N - ddof) */
    if (r->node->op == DS_OP_VAR) g = MUL(g, K(2, g));
    else {
        ds_value *y = Y(0);
        g = WHERE(BIN(EQUAL, y, K(0, y)), K(0, g), DIV(g, y));
    }
    r->gin[0] = ds_gr_fit(r, MUL(expand(r, &q, g), scale), 0);
    return r->st;
}

/* ---------------------------------------------------------------- matmul */
static ds_value *matmul(ds_grad_call *r, ds_value *a, ds_value *b, bool ta, bool tb) {
    ds_value *in[2] = {a, b};
    ds_attr at[2] = {{.kind = DS_ATTR_BOOL, .v.b = ta}, {.kind = DS_ATTR_BOOL, .v.b = tb}};
    return ds_gr_op(r, DS_OP_MATMUL, 2, in, at);
}

static ds_status rule_matmul(ds_grad_call *r) {
    bool ta = r->node->attrs[0].v.b, tb = r->node->attrs[1].v.b;
    bool a1 = ds_gr_xt(r, 0)->ndim == 1, b1 = ds_gr_xt(r, 1)->ndim == 1;
    ds_value *g = G0;
    /* 1-D operands as the forward promotes them: a -> [1, k], b -> [k, 1]; g gets the dims back */
    if (a1) ta = false;
    if (b1) {
        tb = false;
        g = ds_gr_unsqueeze(r, g, g->type.ndim);
    }
    if (a1 && g) g = ds_gr_unsqueeze(r, g, g->type.ndim - 1);
    if (r->need[0]) {
        ds_value *b = X(1);
        if (b1) b = ds_gr_unsqueeze(r, b, 1);
        ds_value *ga = !ta ? matmul(r, g, b, false, !tb) : matmul(r, b, g, tb, true);
        r->gin[0] = ds_gr_fit(r, ga, 0);
    }
    if (r->need[1]) {
        ds_value *a = X(0);
        if (a1) a = ds_gr_unsqueeze(r, a, 0);
        ds_value *gb = !tb ? matmul(r, a, g, !ta, false) : matmul(r, g, a, true, ta);
        if (b1 && gb) gb = ds_gr_squeeze(r, gb, gb->type.ndim - 1);
        r->gin[1] = ds_gr_fit(r, gb, 1);
    }
    return r->st;
}

/* Fills the rule table entries of the reductions and matmul. */
void ds_grad_register_reduce(ds_grad_entry *t) {
    t[DS_OP_SUM] = (ds_grad_entry){DS_GRAD_RULE, rule_sum_mean, NULL};
    t[DS_OP_MEAN] = (ds_grad_entry){DS_GRAD_RULE, rule_sum_mean, NULL};
    t[DS_OP_PROD] = (ds_grad_entry){DS_GRAD_RULE, rule_prod, NULL};
    t[DS_OP_AMAX] = (ds_grad_entry){DS_GRAD_RULE, rule_amax_amin, NULL};
    t[DS_OP_AMIN] = (ds_grad_entry){DS_GRAD_RULE, rule_amax_amin, NULL};
    t[DS_OP_VAR] = (ds_grad_entry){DS_GRAD_RULE, rule_var_std, NULL};
    t[DS_OP_STD] = (ds_grad_entry){DS_GRAD_RULE, rule_var_std, NULL};
    static const ds_op_id zero[] = {DS_OP_ALL, DS_OP_ANY, DS_OP_ARGMAX, DS_OP_ARGMIN};
    for (size_t i = 0; i < sizeof zero / sizeof zero[0]; i++)
        t[zero[i]] = (ds_grad_entry){DS_GRAD_ZERO, NULL, "its result is boolean or integer"};
    t[DS_OP_MATMUL] = (ds_grad_entry){DS_GRAD_RULE, rule_matmul, NULL};
}
