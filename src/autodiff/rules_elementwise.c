/* Gradient rules of the elementwise ops: unary, binary (broadcasting undone with ds_gr_fit), where,
 * cast and clip. Decisions follow PyTorch's derivatives.yaml:
 *   floor, ceil, round, sign, floor_div: zero gradient (piecewise constant)
 *   comparisons, logical and bitwise ops: zero (boolean or integer results)
 *   maximum / minimum: the gradient goes to the larger / smaller input, split in half on ties
 *   pow: no gradient to a 0 base where the exponent is >= 0 (d/db) and none through a 0 exponent (d/da)
 *   mod: d/da = g, d/db = -g * floor_div(a, b)
 *   clip: g where min <= x <= max, else 0
 *   cast: the cotangent cast back to the input's dtype (no gradient to integer inputs)
 *   relu: g where x > 0 (0 at x == 0); abs: g * sign(x) (0 at 0) */
#include <math.h>

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
#define WHERE(c, a, b) ds_gr_where(r, (c), (a), (b))
#define FIT(g, i) ds_gr_fit(r, (g), (i))

/* ---------------------------------------------------------------- unary */
static ds_status rule_unary(ds_grad_call *r) {
    if (!r->need[0]) return DS_OK;
    ds_value *g = G0, *d = NULL;
    switch (r->node->op) {
    case DS_OP_NEG: d = UN(NEG, g); break;
    case DS_OP_ABS: d = MUL(g, UN(SIGN, X(0))); break;
    case DS_OP_EXP: d = MUL(g, Y(0)); break;
    case DS_OP_LOG: d = DIV(g, X(0)); break;
    case DS_OP_SQRT: { /* g / (2 sqrt x) */
        ds_value *y = Y(0);
        d = DIV(g, MUL(y, K(2, y)));
        break;
    }
    case DS_OP_RSQRT: { /* -x^{-3/2} / 2 = -y^3 / 2 */
        ds_value *y = Y(0);
        d = MUL(MUL(g, K(-0.5, y)), MUL(y, UN(SQUARE, y)));
        break;
    }
    case DS_OP_SIN: d = MUL(g, UN(COS, X(0))); break;
    case DS_OP_COS: d = UN(NEG, MUL(g, UN(SIN, X(0)))); break;
    case DS_OP_TANH: {
        ds_value *y = Y(0);
        d = MUL(g, SUB(K(1, y), UN(SQUARE, y)));
        break;
    }
    case DS_OP_SIGMOID: {
        ds_value *y = Y(0);
        d = MUL(g, MUL(y, SUB(K(1, y), y)));
        break;
    }
    case DS_OP_RELU: {
        ds_value *x = X(0);
        d = WHERE(BIN(GREATER, x, K(0, x)), g, K(0, g));
        break;
    }
    case DS_OP_GELU: { /* Phi(x) + x phi(x), gelu being exact: x Phi(x) */
        ds_value *x = X(0);
        ds_value *cdf = MUL(K(0.5, x), ADD(K(1, x), UN(ERF, MUL(x, K(M_SQRT1_2, x)))));
        ds_value *pdf = MUL(UN(EXP, MUL(UN(SQUARE, x), K(-0.5, x))), K(0.5 * M_2_SQRTPI * M_SQRT1_2, x));
        d = MUL(g, ADD(cdf, MUL(x, pdf)));
        break;
    }
    case DS_OP_ERF: {
        ds_value *x = X(0);
        d = MUL(g, MUL(K(M_2_SQRTPI, x), UN(EXP, UN(NEG, UN(SQUARE, x)))));
        break;
    }
    case DS_OP_RECIPROCAL: d = UN(NEG, MUL(g, UN(SQUARE, Y(0)))); break;
    case DS_OP_SQUARE: {
        ds_value *x = X(0);
        d = MUL(g, MUL(x, K(2, x)));
        break;
    }
    default: return ds_errorf(DS_ERR_INTERNAL, "no unary rule for %s", ds_op_get_info(r->node->op)->name);
    }
    r->gin[0] = FIT(d, 0);
    return r->st;
}

/* ---------------------------------------------------------------- binary */
static ds_status rule_add_sub(ds_grad_call *r) {
    ds_value *g = G0;
    if (r->need[0]) r->gin[0] = FIT(g, 0);
    if (r->need[1]) r->gin[1] = FIT(r->node->op == DS_OP_SUB ? UN(NEG, g) : g, 1);
    return r->st;
}

static ds_status rule_mul(ds_grad_call *r) {
    ds_value *g = G0;
    if (r->need[0]) r->gin[0] = FIT(MUL(g, X(1)), 0);
    if (r->need[1]) r->gin[1] = FIT(MUL(g, X(0)), 1);
    return r->st;
}

static ds_status rule_div(ds_grad_call *r) { /* y = a / b: da = g / b, db = -(g / b) * y */
    ds_value *ga = DIV(G0, X(1));
    if (r->need[0]) r->gin[0] = FIT(ga, 0);
    if (r->need[1]) r->gin[1] = FIT(UN(NEG, MUL(ga, Y(0))), 1);
    return r->st;
}

static ds_status rule_mod(ds_grad_call *r) {
    ds_value *g = G0;
    if (r->need[0]) r->gin[0] = FIT(g, 0);
    if (r->need[1]) r->gin[1] = FIT(UN(NEG, MUL(g, BIN(FLOOR_DIV, X(0), X(1)))), 1);
    return r->st;
}

static ds_status rule_pow(ds_grad_call *r) { /* y = a^b */
    ds_value *g = G0, *a = X(0), *b = X(1);
    if (r->need[0]) {
        ds_value *d = MUL(g, MUL(b, BIN(POW, a, SUB(b, K(1, b)))));
        r->gin[0] = FIT(WHERE(BIN(EQUAL, b, K(0, b)), K(0, g), d), 0);
    }
    if (r->need[1]) {
        ds_value *d = MUL(g, MUL(Y(0), UN(LOG, a)));
        ds_value *zero_base = BIN(LOGICAL_AND, BIN(EQUAL, a, K(0, a)), BIN(GREATER_EQUAL, b, K(0, b)));
        r->gin[1] = FIT(WHERE(zero_base, K(0, g), d), 1);
    }
    return r->st;
}

static ds_status rule_max_min(ds_grad_call *r) {
    bool max = r->node->op == DS_OP_MAXIMUM;
    ds_value *g = G0, *a = X(0), *b = X(1), *zero = K(0, g);
    ds_value *tie = BIN(EQUAL, a, b), *half = WHERE(tie, MUL(g, K(0.5, g)), zero);
    if (r->need[0]) r->gin[0] = FIT(WHERE(max ? BIN(GREATER, a, b) : BIN(LESS, a, b), g, half), 0);
    if (r->need[1]) r->gin[1] = FIT(WHERE(max ? BIN(LESS, a, b) : BIN(GREATER, a, b), g, half), 1);
    return r->st;
}

/* ---------------------------------------------------------------- where, cast, clip */
static ds_status rule_where(ds_grad_call *r) {
    ds_value *g = G0, *c = X(0), *zero = K(0, g);
    if (r->need[1]) r->gin[1] = FIT(WHERE(c, g, zero), 1);
    if (r->need[2]) r->gin[2] = FIT(WHERE(c, zero, g), 2);
    return r->st;
}

static ds_status rule_cast(ds_grad_call *r) {
    if (r->need[0]) r->gin[0] = FIT(G0, 0);
    return r->st;
}

static ds_status rule_clip(ds_grad_call *r) {
    if (!r->need[0]) return DS_OK;
    const ds_attr *lo = &r->node->attrs[0], *hi = &r->node->attrs[1];
    ds_value *x = X(0), *g = G0, *m = NULL;
    if (lo->kind != DS_ATTR_NONE) m = BIN(GREATER_EQUAL, x, K(lo->v.f, x));
    if (hi->kind != DS_ATTR_NONE) {
        ds_value *m2 = BIN(LESS_EQUAL, x, K(hi->v.f, x));
        m = m ? BIN(LOGICAL_AND, m, m2) : m2;
    }
    r->gin[0] = FIT(WHERE(m, g, K(0, g)), 0);
    return r->st;
}

/* Fills the rule table entries of the elementwise ops. */
void ds_grad_register_elementwise(ds_grad_entry *t) {
    static const ds_op_id unary[] = {DS_OP_NEG, DS_OP_ABS, DS_OP_EXP, DS_OP_LOG, DS_OP_SQRT, DS_OP_RSQRT,
                                     DS_OP_SIN, DS_OP_COS, DS_OP_TANH, DS_OP_SIGMOID, DS_OP_RELU, DS_OP_GELU,
                                     DS_OP_ERF, DS_OP_RECIPROCAL, DS_OP_SQUARE};
    for (size_t i = 0; i < sizeof unary / sizeof unary[0]; i++) t[unary[i]] = (ds_grad_entry){DS_GRAD_RULE, rule_unary, NULL};
    static const ds_op_id steps[] = {DS_OP_FLOOR, DS_OP_CEIL, DS_OP_ROUND, DS_OP_SIGN, DS_OP_FLOOR_DIV};
    for (size_t i = 0; i < sizeof steps / sizeof steps[0]; i++)
        t[steps[i]] = (ds_grad_entry){DS_GRAD_ZERO, NULL, "it is piecewise constant"};
    static const ds_op_id logical[] = {DS_OP_LOGICAL_NOT, DS_OP_BITWISE_NOT, DS_OP_EQUAL, DS_OP_NOT_EQUAL, DS_OP_LESS,
                                       DS_OP_LESS_EQUAL, DS_OP_GREATER, DS_OP_GREATER_EQUAL, DS_OP_LOGICAL_AND,
                                       DS_OP_LOGICAL_OR, DS_OP_LOGICAL_XOR, DS_OP_BITWISE_AND, DS_OP_BITWISE_OR,
                                       DS_OP_BITWISE_XOR};
    for (size_t i = 0; i < sizeof logical / sizeof logical[0]; i++)
        t[logical[i]] = (ds_grad_entry){DS_GRAD_ZERO, NULL, "its result is boolean or integer"};
    t[DS_OP_ADD] = (ds_grad_entry){DS_GRAD_RULE, rule_add_sub, NULL};
    t[DS_OP_SUB] = (ds_grad_entry){DS_GRAD_RULE, rule_add_sub, NULL};
    t[DS_OP_MUL] = (ds_grad_entry){DS_GRAD_RULE, rule_mul, NULL};
    t[DS_OP_DIV] = (ds_grad_entry){DS_GRAD_RULE, rule_div, NULL};
    t[DS_OP_MOD] = (ds_grad_entry){DS_GRAD_RULE, rule_mod, NULL};
    t[DS_OP_POW] = (ds_grad_entry){DS_GRAD_RULE, rule_pow, NULL};
    t[DS_OP_MAXIMUM] = (ds_grad_entry){DS_GRAD_RULE, rule_max_min, NULL};
    t[DS_OP_MINIMUM] = (ds_grad_entry){DS_GRAD_RULE, rule_max_min, NULL};
    t[DS_OP_WHERE] = (ds_grad_entry){DS_GRAD_RULE, rule_where, NULL};
    t[DS_OP_CAST] = (ds_grad_entry){DS_GRAD_RULE, rule_cast, NULL};
    t[DS_OP_CLIP] = (ds_grad_entry){DS_GRAD_RULE, rule_clip, NULL};
}
