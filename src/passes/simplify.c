/* Algebraic simplification. Every rewrite keeps every value bit-identical, for every input (NaN, inf
 * and the sign of zero included), and keeps the result's dtype and shape:
 *   x + 0 -> x, 0 + x -> x   integer/bool results; float results only when the zeros are -0.0 (since
 *                            -0.0 + +0.0 is +0.0, NumPy prints "0." where x printed "-0.")
 *   x - 0 -> x               integer results; float results when the zeros are +0.0
 *   x * 1, 1 * x, x / 1 -> x
 *   x * 0, 0 * x -> zeros    integer/bool results of known shape only; for floats x * 0 stays, as XLA
 *                            keeps it without fast-math (NaN * 0 and inf * 0 are NaN, -x * 0 is -0.0)
 *   neg(neg(x)) -> x
 *   cast(x, dtype of x) -> x
 *   transpose(transpose(x, p), q) -> transpose(x, p o q); an identity permutation -> x
 *   reshape/squeeze/unsqueeze of reshape/squeeze/unsqueeze -> one reshape (result shape known), or x
 *   reshape/squeeze/unsqueeze/broadcast_to giving x's own type -> x
 *   broadcast_to(broadcast_to(x, s), t) -> broadcast_to(x, t)
 * The constant operand must not broadcast x to a larger shape (each of its dims is 1 or equal to x's
 * known dim). No reassociation, no x - x, no x / x. A rewrite is skipped when an in-place write could
 * tell the difference (ds_rw_can_replace) or when the result type would differ. */
#include <math.h>
#include <string.h>

#include "base/status.h"
#include "passes/manager.h"
#include "passes/rewrite.h"

#define MAX_CONST_SCAN (1 << 16)

enum { SIGN_ANY, SIGN_POS, SIGN_NEG };

static const ds_node *producer_op(const ds_value *v, ds_op_id op) {
    const ds_node *p = v->producer;
    return p && p->kind == DS_NODE_OP && p->op == op ? p : NULL;
}

/* Whether v is a constant whose every element equals `want` (0 or 1), with the sign rule for zeros. */
static bool const_all(const ds_value *v, double want, int sign) {
    const ds_node *p = v->producer;
    if (!p || p->kind != DS_NODE_CONST || p->constant->numel > MAX_CONST_SCAN) return false;
    for (int64_t i = 0; i < p->constant->numel; i++) {
        double d;
        if (ds_tensor_get_double(p->constant, i, &d) || d != want) return false;
        if (want == 0 && sign != SIGN_ANY && (signbit(d) != 0) != (sign == SIGN_NEG)) return false;
    }
    return true;
}

/* The constant c cannot broadcast x: each of c's trailing-aligned dims is 1 or x's known equal dim. */
static bool no_broadcast(const ds_value *x, const ds_value *c) {
    if (c->type.ndim > x->type.ndim) return false;
    for (int i = 1; i <= c->type.ndim; i++) {
        int64_t cd = c->type.shape[c->type.ndim - i], xd = x->type.shape[x->type.ndim - i];
        if (cd != 1 && !(xd >= 0 && xd == cd)) return false;
    }
    return true;
}

static bool has_unknown(const ds_meta *m) {
    for (int d = 0; d < m->ndim; d++)
        if (m->shape[d] == DS_DIM_UNKNOWN) return true;
    return false;
}

static bool all_known(const ds_meta *m) {
    for (int d = 0; d < m->ndim; d++)
        if (m->shape[d] < 0) return false;
    return true;
}

/* x + 0, x - 0, x * 1, x / 1 (the constant on either side for + and *). */
static ds_value *arith_identity(const ds_node *n, ds_value *const *in) {
    ds_dtype dt = n->out[0]->type.dtype;
    bool fl = ds_dtype_is_float(dt);
    for (int side = 1; side >= 0; side--) {
        ds_value *x = in[1 - side], *c = in[side];
        bool hit = false;
        switch (n->op) {
        case DS_OP_ADD: hit = const_all(c, 0, fl ? SIGN_NEG : SIGN_ANY); break;
        case DS_OP_SUB: hit = side == 1 && const_all(c, 0, fl ? SIGN_POS : SIGN_ANY); break;
        case DS_OP_MUL: hit = const_all(c, 1, SIGN_ANY); break;
        case DS_OP_DIV: hit = side == 1 && const_all(c, 1, SIGN_ANY); break;
        default: break;
        }
        if (hit && no_broadcast(x, c) && ds_meta_equal(&x->type, &n->out[0]->type)) return x;
    }
    return NULL;
}

/* Normalised permutation of a transpose node over `ndim` dims (None = reversed). */
static bool perm_of(const ds_node *t, int ndim, int *perm) {
    const ds_attr *a = &t->attrs[0];
    if (a->kind != DS_ATTR_INTS) {
        for (int i = 0; i < ndim; i++) perm[i] = ndim - 1 - i;
        return true;
    }
    if (a->n != ndim) return false;
    for (int i = 0; i < ndim; i++) {
        int64_t p = a->v.ints[i] < 0 ? a->v.ints[i] + ndim : a->v.ints[i];
        if (p < 0 || p >= ndim) return false;
        perm[i] = (int)p;
    }
    return true;
}

static bool is_reshape_like(ds_op_id op) { return op == DS_OP_RESHAPE || op == DS_OP_SQUEEZE || op == DS_OP_UNSQUEEZE; }

/* squeeze without axes drops the dims that are 1 at run time, which a symbolic dim's type cannot tell. */
static bool statically_sound(const ds_node *n, const ds_value *x) {
    if (n->op != DS_OP_SQUEEZE || n->attrs[0].kind == DS_ATTR_INTS) return true;
    return all_known(&x->type);
}

/* Finds a replacement for op node n: an existing value (*r) or one it emits. `reads` gets the values
 * the replacement reads. */
static ds_status try_rewrite(ds_rw *rw, const ds_node *n, ds_value *const *in, ds_value **r, ds_value **reads, int *nr) {
    const ds_meta *yt = &n->out[0]->type;
    ds_value *x = NULL;
    *r = NULL;
    *nr = 0;
    switch (n->op) {
    case DS_OP_ADD:
    case DS_OP_SUB:
    case DS_OP_MUL:
    case DS_OP_DIV:
        if ((x = arith_identity(n, in))) break;
        if (n->op == DS_OP_MUL && !ds_dtype_is_float(yt->dtype) && all_known(yt) &&
            (const_all(in[0], 0, SIGN_ANY) || const_all(in[1], 0, SIGN_ANY))) {
            ds_attr a[3] = {{.kind = DS_ATTR_INTS, .n = yt->ndim, .v.ints = yt->shape},
                            {.kind = DS_ATTR_FLOAT, .v.f = 0},
                            {.kind = DS_ATTR_DTYPE, .v.dtype = yt->dtype}};
            return ds_rw_emit_op(rw, n, DS_OP_FULL, 0, NULL, a, r);
        }
        break;
    case DS_OP_NEG: {
        const ds_node *p = producer_op(in[0], DS_OP_NEG);
        if (p) x = p->in[0];
        break;
    }
    case DS_OP_CAST:
        if (n->attrs[0].kind == DS_ATTR_DTYPE && n->attrs[0].v.dtype == in[0]->type.dtype) x = in[0];
        break;
    case DS_OP_TRANSPOSE: {
        int nd = in[0]->type.ndim, q[DS_MAX_DIMS], p1[DS_MAX_DIMS];
        if (!perm_of(n, nd, q)) break;
        const ds_node *p = producer_op(in[0], DS_OP_TRANSPOSE);
        ds_value *src = in[0];
        if (p && perm_of(p, nd, p1)) {
            int c[DS_MAX_DIMS];
            for (int i = 0; i < nd; i++) c[i] = p1[q[i]];
            memcpy(q, c, sizeof c);
            src = p->in[0];
        }
        bool ident = true;
        for (int i = 0; i < nd; i++) ident &= q[i] == i;
        if (ident) {
            x = src;
            break;
        }
        if (src == in[0]) break; /* nothing to compose */
        int64_t perm[DS_MAX_DIMS];
        for (int i = 0; i < nd; i++) perm[i] = q[i];
        ds_attr a = {.kind = DS_ATTR_INTS, .n = nd, .v.ints = perm};
        reads[(*nr)++] = src;
        return ds_rw_emit_op(rw, n, DS_OP_TRANSPOSE, 1, &src, &a, r);
    }
    case DS_OP_RESHAPE:
    case DS_OP_SQUEEZE:
    case DS_OP_UNSQUEEZE:
    case DS_OP_BROADCAST_TO: {
        if (!statically_sound(n, in[0])) break;
        if (ds_meta_equal(&in[0]->type, yt) && !has_unknown(yt)) {
            x = in[0];
            break;
        }
        const ds_node *p = in[0]->producer;
        if (!p || p->kind != DS_NODE_OP) break;
        ds_value *src = p->in[0];
        if (n->op == DS_OP_BROADCAST_TO && p->op == DS_OP_BROADCAST_TO) {
            reads[(*nr)++] = src;
            return ds_rw_emit_op(rw, n, DS_OP_BROADCAST_TO, 1, &src, n->attrs, r);
        }
        if (!is_reshape_like(n->op) || !is_reshape_like(p->op) || !statically_sound(p, src)) break;
        if (ds_meta_equal(&src->type, yt) && !has_unknown(yt)) {
            x = src;
            break;
        }
        if (!all_known(yt)) break;
        ds_attr a = {.kind = DS_ATTR_INTS, .n = yt->ndim, .v.ints = yt->shape};
        reads[(*nr)++] = src;
        return ds_rw_emit_op(rw, n, DS_OP_RESHAPE, 1, &src, &a, r);
    }
    default: break;
    }
    if (x) {
        *r = x;
        reads[(*nr)++] = x;
    }
    return DS_OK;
}

static ds_status simplify_visit(ds_rw *rw, const ds_node *n, ds_value *const *in, ds_value **out) {
    if (n->kind != DS_NODE_OP || n->effect || n->n_out != 1) return ds_rw_clone_node(rw, n, in, out);
    ds_rw_mark mark;
    ds_rw_mark_get(rw, &mark);
    ds_value *r = NULL, *reads[4];
    int nr = 0;
    ds_status st = try_rewrite(rw, n, in, &r, reads, &nr);
    if (st == DS_ERR_NOMEM) return st;
    if (st) ds_error_clear(); /* a rewrite the builder refuses is simply not done */
    if (!st && r) reads[nr++] = r;
    if (!st && r && ds_meta_equal(&r->type, &n->out[0]->type) && ds_rw_can_replace(rw, n->out[0], reads, nr)) {
        out[0] = r;
        ds_rw_changed(rw, 1);
        return DS_OK;
    }
    ds_rw_rollback(rw, &mark);
    return ds_rw_clone_node(rw, n, in, out);
}

static const ds_rw_pass k_simplify = {.name = "simplify", .visit = simplify_visit, .needs_alias = true};

ds_status ds_pass_simplify(const ds_graph *g, ds_graph **out, int *changes) {
    return ds_rw_apply(&k_simplify, g, out, changes);
}
