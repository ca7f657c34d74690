/* Tests of the optimization passes: per pass, the graph before and after (node counts and kinds), the
 * verifier on every result, and equivalence under the reference interpreter on random inputs
 * (outputs, printed text and assigned parameters bit-identical). */
#include <stdlib.h>

#include "ds_test.h"
#include "passes/manager.h"
#include "passes/rewrite.h"
#include "passes_util.h"

/* Runs one pass, checks the result verifies and behaves like the input; returns it (or NULL). */
static ds_graph *pass_ok(int *ds_failed_, const ds_graph *g, const char *pass) {
    ds_graph *out = NULL;
    CHECK_OK(ds_graph_run_pass(g, pass, &out));
    if (!out) return NULL;
    CHECK_OK(ds_graph_verify(out));
    CHECK(pu_same_behavior(g, out, 4));
    return out;
}
#define PASS(g, name) pass_ok(ds_failed_, (g), (name))

static ds_graph *optimize_ok(int *ds_failed_, const ds_graph *g) {
    ds_graph *out = NULL;
    CHECK_OK(ds_graph_optimize(g, &out));
    if (!out) return NULL;
    CHECK_OK(ds_graph_verify(out));
    CHECK(pu_same_behavior(g, out, 4));
    return out;
}
#define OPTIMIZE(g) optimize_ok(ds_failed_, (g))

static const int64_t S3[1] = {3}, S23[2] = {2, 3}, S32[2] = {3, 2};

/* f(a, b) = a * b + a */
static ds_graph *make_f(void) {
    ds_graph *f;
    PU(ds_graph_new("f", &f));
    ds_value *a = pu_param(f, "a", DS_FLOAT32, 1, S3, false), *b = pu_param(f, "b", DS_FLOAT32, 1, S3, false);
    ds_value *r = pu_bin(f, DS_OP_ADD, pu_bin(f, DS_OP_MUL, a, b), a);
    pu_outputs(f, 1, &r);
    return f;
}

/* ---------------------------------------------------------------- inline */
DS_TEST(inline_calls_nested_and_repeated) {
    pu_fail = 0;
    ds_graph *f = make_f(), *h, *g;
    /* h(a) = f(a, exp(a)) ; g(x, y) = h(x) - f(y, x) */
    PU(ds_graph_new("h", &h));
    ds_value *ha = pu_param(h, "a", DS_FLOAT32, 1, S3, false), *hr;
    ds_value *hargs[2] = {ha, pu_un(h, DS_OP_EXP, ha)};
    PU(ds_graph_add_call(h, f, 2, hargs, 1, &hr, NULL));
    pu_outputs(h, 1, &hr);
    PU(ds_graph_new("g", &g));
    ds_value *x = pu_param(g, "x", DS_FLOAT32, 1, S3, false), *y = pu_param(g, "y", DS_FLOAT32, 1, S3, false), *c1, *c2;
    PU(ds_graph_add_call(g, h, 1, &x, 1, &c1, NULL));
    ds_value *fa[2] = {y, x};
    PU(ds_graph_add_call(g, f, 2, fa, 1, &c2, NULL));
    ds_value *r = pu_bin(g, DS_OP_SUB, c1, c2);
    pu_outputs(g, 1, &r);
    CHECK(!pu_fail);
    ds_graph *o = PASS(g, "inline");
    if (o) {
        CHECK(pu_count_kind(o, DS_NODE_CALL) == 0);
        CHECK(ds_graph_num_nodes(o) == 6); /* exp, mul, add, mul, add, sub */
        CHECK(pu_count_op(o, DS_OP_MUL) == 2 && pu_count_op(o, DS_OP_ADD) == 2 && pu_count_op(o, DS_OP_EXP) == 1);
        ds_graph_release(o);
    }
    ds_graph_release(f);
    ds_graph_release(h);
    ds_graph_release(g);
}

/* If nodes nested in each other's branches, deeper than the rewriter's first memo of subgraphs holds
 * (the nested ones are memoized while an outer one is being rewritten). */
DS_TEST(deeply_nested_branches) {
    for (int order = 0; order < 2; order++)
        for (int depth = 1; depth <= 12; depth++) {
            pu_fail = 0;
            ds_graph *inner;
            PU(ds_graph_new("leaf", &inner));
            ds_value *la = pu_param(inner, "a", DS_FLOAT32, 1, S3, false), *lr = pu_un(inner, DS_OP_EXP, la);
            pu_outputs(inner, 1, &lr);
            for (int k = 0; k < depth; k++) { /* level k: if c: inner(a) else: -a (or the other way round) */
                ds_graph *neg, *g;
                PU(ds_graph_new("neg", &neg));
                ds_value *na = pu_param(neg, "a", DS_FLOAT32, 1, S3, false), *nr = pu_un(neg, DS_OP_NEG, na);
                pu_outputs(neg, 1, &nr);
                PU(ds_graph_new("level", &g));
                ds_value *a = pu_param(g, "a", DS_FLOAT32, 1, S3, false);
                ds_value *c = pu_bin(g, DS_OP_GREATER, pu_un(g, DS_OP_SIN, a), pu_scalar(g, DS_FLOAT32, 0)), *r;
                ds_value *any = pu_un(g, DS_OP_ANY, c);
                PU(ds_graph_add_if(g, any, order ? neg : inner, order ? inner : neg, 1, &a, 1, &r, NULL));
                pu_outputs(g, 1, &r);
                ds_graph_release(neg);
                ds_graph_release(inner);
                inner = g;
            }
            CHECK(!pu_fail);
            ds_graph *o = OPTIMIZE(inner);
            if (o) {
                CHECK(pu_count_kind(o, DS_NODE_IF) == 1);
                ds_graph_release(o);
            }
            ds_graph_release(inner);
        }
}

DS_TEST(inline_if_with_constant_condition) {
    pu_fail = 0;
    ds_graph *t, *e, *g;
    PU(ds_graph_new("then", &t));
    ds_value *ta = pu_param(t, "a", DS_FLOAT32, 1, S3, false), *tr = pu_un(t, DS_OP_EXP, ta);
    pu_outputs(t, 1, &tr);
    PU(ds_graph_new("else", &e));
    ds_value *ea = pu_param(e, "a", DS_FLOAT32, 1, S3, false), *er = pu_un(e, DS_OP_NEG, ea);
    pu_outputs(e, 1, &er);
    PU(ds_graph_new("g", &g));
    ds_value *x = pu_param(g, "x", DS_FLOAT32, 1, S3, false), *c = pu_param(g, "c", DS_BOOL, 0, NULL, false);
    ds_value *k0 = pu_scalar(g, DS_BOOL, 0), *r1, *r2;
    PU(ds_graph_add_if(g, k0, t, e, 1, &x, 1, &r1, NULL));
    PU(ds_graph_add_if(g, c, t, e, 1, &r1, 1, &r2, NULL)); /* not constant: stays */
    pu_outputs(g, 1, &r2);
    CHECK(!pu_fail);
    ds_graph *o = PASS(g, "inline");
    if (o) {
        CHECK(pu_count_kind(o, DS_NODE_IF) == 1);
        CHECK(pu_count_op(o, DS_OP_NEG) == 1 && pu_count_op(o, DS_OP_EXP) == 0);
        ds_graph_release(o);
    }
    ds_graph_release(t);
    ds_graph_release(e);
    ds_graph_release(g);
}

/* Effects inside the callee are threaded into the caller in place: print order and assigned values. */
DS_TEST(inline_keeps_effect_order) {
    pu_fail = 0;
    ds_graph *f, *g;
    PU(ds_graph_new("f", &f));
    ds_value *fw = pu_param(f, "w", DS_FLOAT32, 1, S3, true), *fx = pu_param(f, "x", DS_FLOAT32, 1, S3, false);
    PU(ds_graph_add_print(f, "in f:", 1, &fw));
    ds_value *nw = pu_bin(f, DS_OP_ADD, fw, fx);
    PU(ds_graph_add_assign(f, fw, nw));
    ds_value *fr = pu_bin(f, DS_OP_MUL, fw, fx);
    pu_outputs(f, 1, &fr);
    PU(ds_graph_new("g", &g));
    ds_value *w = pu_param(g, "w", DS_FLOAT32, 1, S3, true), *x = pu_param(g, "x", DS_FLOAT32, 1, S3, false), *r1, *r2;
    PU(ds_graph_add_print(g, "before:", 1, &w));
    ds_value *args[2] = {w, x};
    PU(ds_graph_add_call(g, f, 2, args, 1, &r1, NULL));
    PU(ds_graph_add_print(g, "after:", 1, &w));
    ds_value *args2[2] = {w, r1}; /* second call: the weight is still a weight, inlinable */
    PU(ds_graph_add_call(g, f, 2, args2, 1, &r2, NULL));
    pu_outputs(g, 1, &r2);
    CHECK(!pu_fail);
    ds_graph *o = PASS(g, "inline");
    if (o) {
        CHECK(pu_count_kind(o, DS_NODE_CALL) == 0);
        CHECK(pu_count_kind(o, DS_NODE_PRINT) == 4 && pu_count_kind(o, DS_NODE_ASSIGN) == 2);
        ds_graph_release(o);
    }
    ds_graph_release(f);
    ds_graph_release(g);
}

DS_TEST(inline_refuses_assign_without_target) {
    pu_fail = 0;
    ds_graph *f, *g;
    PU(ds_graph_new("f", &f));
    ds_value *fw = pu_param(f, "w", DS_FLOAT32, 1, S3, true);
    PU(ds_graph_add_assign(f, fw, pu_un(f, DS_OP_EXP, fw)));
    pu_outputs(f, 1, &fw);
    PU(ds_graph_new("g", &g));
    ds_value *x = pu_param(g, "x", DS_FLOAT32, 1, S3, false), *r;
    PU(ds_graph_add_call(g, f, 1, &x, 1, &r, NULL)); /* x is not a weight of g */
    pu_outputs(g, 1, &r);
    CHECK(!pu_fail);
    ds_graph *o = PASS(g, "inline");
    if (o) {
        CHECK(pu_count_kind(o, DS_NODE_CALL) == 1);
        ds_graph_release(o);
    }
    ds_graph_release(f);
    ds_graph_release(g);
}

/* f(a: [n], b: [n]) = a + b called with [3] and [4]: fails at run time, so it is not inlined. */
DS_TEST(inline_keeps_calls_that_fail_at_run_time) {
    pu_fail = 0;
    ds_graph *f, *g;
    int64_t n, dn[1], s4[1] = {4};
    PU(ds_graph_new("f", &f));
    PU(ds_graph_symbol(f, "n", &n));
    dn[0] = n;
    ds_value *a = pu_param(f, "a", DS_FLOAT32, 1, dn, false), *b = pu_param(f, "b", DS_FLOAT32, 1, dn, false);
    ds_value *r = pu_bin(f, DS_OP_ADD, a, b);
    pu_outputs(f, 1, &r);
    PU(ds_graph_new("g", &g));
    ds_value *args[2] = {pu_param(g, "x", DS_FLOAT32, 1, S3, false), pu_param(g, "y", DS_FLOAT32, 1, s4, false)}, *c;
    PU(ds_graph_add_call(g, f, 2, args, 1, &c, NULL));
    pu_outputs(g, 1, &c);
    CHECK(!pu_fail);
    ds_graph *o = PASS(g, "inline");
    if (o) {
        CHECK(pu_count_kind(o, DS_NODE_CALL) == 1);
        ds_graph_release(o);
    }
    ds_graph_release(f);
    ds_graph_release(g);
}

DS_TEST(inline_depth_is_bounded) {
    pu_fail = 0;
    ds_graph *prev = NULL, *first = NULL;
    for (int i = 0; i < DS_RW_MAX_INLINE_DEPTH + 2; i++) {
        ds_graph *g;
        PU(ds_graph_new(i == 0 ? "leaf" : "level", &g));
        ds_value *a = pu_param(g, "a", DS_FLOAT32, 0, NULL, false), *r;
        if (prev) PU(ds_graph_add_call(g, prev, 1, &a, 1, &r, NULL));
        else r = pu_un(g, DS_OP_NEG, a);
        pu_outputs(g, 1, &r);
        if (prev) ds_graph_release(prev);
        prev = g;
        if (!first) first = g;
    }
    CHECK(!pu_fail);
    ds_graph *o = NULL; /* deeper than the verifier allows, so run the pass directly */
    CHECK_ERR(ds_pass_inline(prev, &o, NULL), DS_ERR_VALUE, "inline: calls nested more than 64 deep");
    CHECK(o == NULL);
    ds_graph_release(prev);
}

/* ---------------------------------------------------------------- fold */
DS_TEST(fold_constants_runs_kernels) {
    pu_fail = 0;
    ds_graph *g;
    PU(ds_graph_new("g", &g));
    ds_value *x = pu_param(g, "x", DS_FLOAT32, 1, S3, false);
    double v3[3] = {1, 2, 3}, v6[6] = {1, 2, 3, 4, 5, 6};
    ds_value *a = pu_const(g, DS_FLOAT32, 1, S3, v3), *b = pu_scalar(g, DS_FLOAT32, 0.5);
    ds_value *e = pu_un(g, DS_OP_EXP, pu_bin(g, DS_OP_MUL, a, b));          /* folds */
    ds_value *m = pu_const(g, DS_FLOAT32, 2, S23, v6);
    ds_value *t = pu_ints_op(g, DS_OP_RESHAPE, m, 2, S32);                   /* a view of a constant: folds */
    ds_value *s = pu_op(g, DS_OP_SUM, 1, &t, NULL);                          /* folds */
    int64_t big[2] = {2048, 1024};
    ds_value *bb = pu_ints_op(g, DS_OP_BROADCAST_TO, b, 2, big);             /* would grow: stays */
    ds_value *bs = pu_op(g, DS_OP_SUM, 1, &bb, NULL);
    int64_t us[1] = {3};
    ds_value *u = pu_uniform(g, 1, us);                 /* random: stays */
    (void)u;
    ds_value *y = pu_bin(g, DS_OP_ADD, pu_bin(g, DS_OP_ADD, x, e), pu_bin(g, DS_OP_ADD, s, bs));
    pu_outputs(g, 1, &y);
    CHECK(!pu_fail);
    ds_graph *o = PASS(g, "fold");
    if (o) {
        CHECK(pu_count_op(o, DS_OP_EXP) == 0 && pu_count_op(o, DS_OP_RESHAPE) == 0);
        CHECK(pu_count_op(o, DS_OP_SUM) == 1 && pu_count_op(o, DS_OP_BROADCAST_TO) == 1);
        CHECK(pu_count_op(o, DS_OP_UNIFORM) == 1);
        /* the folded reshape owns its storage */
        for (int i = 0; i < o->nodes.n; i++) {
            const ds_node *n = o->nodes.items[i];
            if (n->kind == DS_NODE_CONST && n->constant->ndim == 2 && n->constant->shape[0] == 3)
                CHECK(!ds_tensor_shares_storage(n->constant, m->producer->constant));
        }
        ds_graph_release(o);
    }
    ds_graph_release(g);
}

DS_TEST(fold_leaves_failing_kernels_and_data_dependent_shapes) {
    pu_fail = 0;
    ds_graph *g;
    PU(ds_graph_new("g", &g));
    ds_value *x = pu_param(g, "x", DS_INT64, 1, S3, false);
    double v3[3] = {1, 0, 3}, idx[1] = {7};
    int64_t s1[1] = {1};
    ds_value *a = pu_const(g, DS_FLOAT32, 1, S3, v3), *i = pu_const(g, DS_INT64, 1, s1, idx);
    ds_value *gi[2] = {a, i};
    ds_value *bad = pu_op(g, DS_OP_GATHER, 2, gi, NULL); /* index 7 out of range: fails at run time */
    ds_value *nz = pu_un(g, DS_OP_NONZERO, a);            /* unknown dims in the graph: not folded */
    ds_value *outs[3] = {x, bad, nz};
    pu_outputs(g, 3, outs);
    CHECK(!pu_fail);
    ds_graph *o = PASS(g, "fold");
    if (o) {
        CHECK(pu_count_op(o, DS_OP_GATHER) == 1 && pu_count_op(o, DS_OP_NONZERO) == 1);
        ds_graph_release(o);
    }
    ds_graph_release(g);
}

/* ---------------------------------------------------------------- cse */
DS_TEST(cse_merges_same_op_attrs_inputs) {
    pu_fail = 0;
    ds_graph *g;
    PU(ds_graph_new("g", &g));
    ds_value *x = pu_param(g, "x", DS_FLOAT32, 2, S23, false), *y = pu_param(g, "y", DS_FLOAT32, 2, S23, false);
    ds_value *a1 = pu_bin(g, DS_OP_ADD, x, y), *a2 = pu_bin(g, DS_OP_ADD, x, y), *a3 = pu_bin(g, DS_OP_ADD, y, x);
    int64_t ax0[1] = {0}, ax1[1] = {1};
    ds_value *s1 = pu_ints_op(g, DS_OP_SUM, a1, 1, ax0), *s2 = pu_ints_op(g, DS_OP_SUM, a2, 1, ax0);
    ds_value *s3 = pu_ints_op(g, DS_OP_SUM, a2, 1, ax1);
    ds_attr c1[2] = {{.kind = DS_ATTR_FLOAT, .v.f = 0.0}, {.kind = DS_ATTR_FLOAT, .v.f = 1.0}};
    ds_attr c2[2] = {{.kind = DS_ATTR_FLOAT, .v.f = -0.0}, {.kind = DS_ATTR_FLOAT, .v.f = 1.0}};
    ds_value *k1 = pu_op(g, DS_OP_CLIP, 1, &x, c1), *k2 = pu_op(g, DS_OP_CLIP, 1, &x, c2), *k3 = pu_op(g, DS_OP_CLIP, 1, &x, c1);
    ds_value *z1 = pu_scalar(g, DS_FLOAT32, 0.0), *z2 = pu_scalar(g, DS_FLOAT32, -0.0), *z3 = pu_scalar(g, DS_FLOAT32, 0.0);
    ds_value *z4 = pu_scalar(g, DS_FLOAT64, 0.0);
    int64_t us[1] = {3};
    ds_value *u1 = pu_uniform(g, 1, us), *u2 = pu_uniform(g, 1, us);
    PU(ds_graph_add_print(g, "p", 1, &x));
    PU(ds_graph_add_print(g, "p", 1, &x));
    ds_value *outs[] = {a1, a2, a3, s1, s2, s3, k1, k2, k3, z1, z2, z3, z4, u1, u2};
    pu_outputs(g, 15, outs);
    CHECK(!pu_fail);
    ds_graph *o = PASS(g, "cse");
    if (o) {
        CHECK(pu_count_op(o, DS_OP_ADD) == 2); /* add(y, x) is another node: no commutation */
        CHECK(pu_count_op(o, DS_OP_SUM) == 2 && pu_count_op(o, DS_OP_CLIP) == 2);
        CHECK(pu_count_kind(o, DS_NODE_CONST) == 3); /* 0.0f, -0.0f, 0.0 float64 */
        CHECK(pu_count_op(o, DS_OP_UNIFORM) == 2 && pu_count_kind(o, DS_NODE_PRINT) == 2);
        CHECK(ds_graph_output(o, 0) == ds_graph_output(o, 1) && ds_graph_output(o, 0) != ds_graph_output(o, 2));
        CHECK(ds_graph_output(o, 6) == ds_graph_output(o, 8) && ds_graph_output(o, 6) != ds_graph_output(o, 7));
        ds_graph_release(o);
    }
    ds_graph_release(g);
}

/* A value read after an in-place write must not be merged with one computed before it. */
DS_TEST(cse_and_simplify_respect_assign) {
    pu_fail = 0;
    ds_graph *g;
    PU(ds_graph_new("g", &g));
    ds_value *w = pu_param(g, "w", DS_FLOAT32, 1, S3, true), *x = pu_param(g, "x", DS_FLOAT32, 1, S3, false);
    ds_value *two = pu_scalar(g, DS_FLOAT32, 2), *one = pu_scalar(g, DS_FLOAT32, 1);
    ds_value *a = pu_bin(g, DS_OP_MUL, w, two), *keep = pu_bin(g, DS_OP_MUL, w, one);
    int64_t p10[2] = {1, 0};
    ds_value *w2 = pu_param(g, "w2", DS_FLOAT32, 2, S23, true);
    ds_value *tt = pu_ints_op(g, DS_OP_TRANSPOSE, pu_ints_op(g, DS_OP_TRANSPOSE, w2, 2, p10), 2, p10);
    ds_value *use = pu_bin(g, DS_OP_ADD, tt, tt); /* read before the write: may be simplified */
    PU(ds_graph_add_assign(g, w, pu_bin(g, DS_OP_ADD, w, x)));
    PU(ds_graph_add_assign(g, w2, use));
    ds_value *b = pu_bin(g, DS_OP_MUL, w, two);
    ds_value *outs[4] = {a, b, keep, use};
    pu_outputs(g, 4, outs);
    CHECK(!pu_fail);
    ds_graph *o = PASS(g, "cse");
    if (o) {
        CHECK(ds_graph_output(o, 0) != ds_graph_output(o, 1));
        ds_graph_release(o);
    }
    o = PASS(g, "simplify");
    if (o) {
        CHECK(ds_graph_output(o, 2) != ds_graph_param(o, 0)); /* w * 1 is a copy taken before the assign */
        const ds_node *u = ds_graph_output(o, 3)->producer; /* add(w2, w2): the transposes cancel */
        CHECK(u && u->in[0] == ds_graph_param(o, 2) && u->in[1] == ds_graph_param(o, 2));
        ds_graph_release(o);
    }
    ds_graph_release(g);
}

/* ---------------------------------------------------------------- dce */
DS_TEST(dce_removes_unused_keeps_effects) {
    pu_fail = 0;
    ds_graph *g;
    PU(ds_graph_new("g", &g));
    ds_value *x = pu_param(g, "x", DS_FLOAT32, 1, S3, false), *unused = pu_param(g, "unused", DS_FLOAT32, 1, S3, false);
    ds_value *dead = pu_un(g, DS_OP_EXP, pu_un(g, DS_OP_SIN, x));
    (void)dead;
    (void)unused;
    int64_t us[1] = {3};
    ds_value *u = pu_uniform(g, 1, us); /* unused but random: kept */
    (void)u;
    ds_value *p = pu_un(g, DS_OP_COS, x);
    PU(ds_graph_add_print(g, "cos", 1, &p));
    ds_value *r = pu_un(g, DS_OP_NEG, x);
    pu_outputs(g, 1, &r);
    CHECK(!pu_fail);
    ds_graph *o = PASS(g, "dce");
    if (o) {
        CHECK(ds_graph_num_nodes(o) == 4); /* uniform, cos, print, neg */
        CHECK(pu_count_op(o, DS_OP_SIN) == 0 && pu_count_op(o, DS_OP_EXP) == 0 && pu_count_op(o, DS_OP_UNIFORM) == 1);
        CHECK(ds_graph_num_params(o) == 2);
        ds_graph_release(o);
    }
    ds_graph_release(g);
}

/* ---------------------------------------------------------------- simplify */
DS_TEST(simplify_arithmetic_identities) {
    pu_fail = 0;
    ds_graph *g;
    PU(ds_graph_new("g", &g));
    ds_value *x = pu_param(g, "x", DS_FLOAT32, 2, S23, false), *i = pu_param(g, "i", DS_INT32, 2, S23, false);
    ds_value *zf = pu_scalar(g, DS_FLOAT32, 0.0), *nz = pu_scalar(g, DS_FLOAT32, -0.0), *of = pu_scalar(g, DS_FLOAT32, 1);
    ds_value *zi = pu_scalar(g, DS_INT32, 0), *oi = pu_scalar(g, DS_INT32, 1);
    ds_value *z23 = pu_const(g, DS_FLOAT32, 2, S23, (double[6]){0, 0, 0, 0, 0, 0});
    ds_value *outs[] = {
        pu_bin(g, DS_OP_ADD, x, zf),   /* 0: kept (-0.0 + 0.0) */
        pu_bin(g, DS_OP_ADD, nz, x),   /* 1: x */
        pu_bin(g, DS_OP_SUB, x, zf),   /* 2: x */
        pu_bin(g, DS_OP_SUB, x, nz),   /* 3: kept */
        pu_bin(g, DS_OP_MUL, of, x),   /* 4: x */
        pu_bin(g, DS_OP_DIV, x, of),   /* 5: x */
        pu_bin(g, DS_OP_MUL, x, zf),   /* 6: kept (NaN * 0) */
        pu_bin(g, DS_OP_ADD, i, zi),   /* 7: i */
        pu_bin(g, DS_OP_MUL, zi, i),   /* 8: full(0) */
        pu_bin(g, DS_OP_MUL, i, oi),   /* 9: i */
        pu_bin(g, DS_OP_DIV, i, oi),   /* 10: float32 result: kept */
        pu_bin(g, DS_OP_ADD, x, z23),  /* 11: kept (+0.0) */
        pu_bin(g, DS_OP_MUL, i, of),   /* 12: float32 result: kept */
        pu_un(g, DS_OP_NEG, pu_un(g, DS_OP_NEG, x)), /* 13: x */
    };
    int n = (int)(sizeof outs / sizeof outs[0]);
    pu_outputs(g, n, outs);
    CHECK(!pu_fail);
    ds_graph *o = PASS(g, "simplify");
    if (o) {
        ds_value *ox = ds_graph_param(o, 0), *oi2 = ds_graph_param(o, 1);
        bool is_x[14] = {0, 1, 1, 0, 1, 1, 0, 0, 0, 0, 0, 0, 0, 1}, is_i[14] = {0, 0, 0, 0, 0, 0, 0, 1, 0, 1};
        for (int k = 0; k < n; k++) {
            CHECK((ds_graph_output(o, k) == ox) == is_x[k]);
            CHECK((ds_graph_output(o, k) == oi2) == is_i[k]);
        }
        const ds_node *f = ds_graph_output(o, 8)->producer;
        CHECK(f && f->kind == DS_NODE_OP && f->op == DS_OP_FULL);
        ds_graph_release(o);
    }
    ds_graph_release(g);
}

DS_TEST(simplify_broadcasting_constant_is_not_identity) {
    pu_fail = 0;
    ds_graph *g;
    PU(ds_graph_new("g", &g));
    int64_t unk[1] = {DS_DIM_UNKNOWN}, sym, s1[1] = {1}, s11[2] = {1, 1};
    PU(ds_graph_symbol(g, "n", &sym));
    int64_t ss[1] = {sym};
    ds_value *x = pu_param(g, "x", DS_INT32, 1, unk, false), *y = pu_param(g, "y", DS_INT32, 1, ss, false);
    ds_value *m = pu_param(g, "m", DS_INT32, 2, S23, false), *v = pu_param(g, "v", DS_INT32, 1, S3, false);
    ds_value *z1 = pu_const(g, DS_INT32, 1, s1, (double[1]){0}), *z11 = pu_const(g, DS_INT32, 2, s11, (double[1]){0});
    ds_value *z3 = pu_const(g, DS_INT32, 1, S3, (double[3]){0, 0, 0}), *z23 = pu_const(g, DS_INT32, 2, S23, (double[6]){0});
    ds_value *outs[6] = {pu_bin(g, DS_OP_ADD, x, z11), pu_bin(g, DS_OP_ADD, y, z1), pu_bin(g, DS_OP_ADD, x, z1),
                         pu_bin(g, DS_OP_ADD, m, z3), pu_bin(g, DS_OP_ADD, z23, v), pu_bin(g, DS_OP_ADD, y, z11)};
    pu_outputs(g, 6, outs);
    CHECK(!pu_fail);
    ds_graph *o = PASS(g, "simplify");
    if (o) {
        bool same[6] = {0, 1, 1, 1, 0, 0};
        int which[6] = {0, 1, 0, 2, 3, 1};
        for (int k = 0; k < 6; k++) CHECK((ds_graph_output(o, k) == ds_graph_param(o, which[k])) == same[k]);
        ds_graph_release(o);
    }
    ds_graph_release(g);
}

DS_TEST(simplify_views_and_casts) {
    pu_fail = 0;
    ds_graph *g;
    PU(ds_graph_new("g", &g));
    int64_t s234[3] = {2, 3, 4}, p120[3] = {1, 2, 0}, p201[3] = {2, 0, 1}, p021[3] = {0, 2, 1}, r6x4[2] = {6, 4},
            r24[1] = {24}, ax0[1] = {0};
    ds_value *x = pu_param(g, "x", DS_FLOAT32, 3, s234, false);
    ds_value *t_id = pu_ints_op(g, DS_OP_TRANSPOSE, pu_ints_op(g, DS_OP_TRANSPOSE, x, 3, p120), 3, p201);
    ds_value *t_cmp = pu_ints_op(g, DS_OP_TRANSPOSE, pu_ints_op(g, DS_OP_TRANSPOSE, x, 3, p120), 3, p021);
    ds_value *r2 = pu_ints_op(g, DS_OP_RESHAPE, pu_ints_op(g, DS_OP_RESHAPE, x, 2, r6x4), 1, r24);
    ds_value *r_id = pu_ints_op(g, DS_OP_RESHAPE, pu_ints_op(g, DS_OP_RESHAPE, x, 1, r24), 3, s234);
    ds_attr u0 = {.kind = DS_ATTR_INT, .v.i = 0};
    ds_value *un = pu_op(g, DS_OP_UNSQUEEZE, 1, &x, &u0);
    ds_value *sq = pu_ints_op(g, DS_OP_SQUEEZE, un, 1, ax0);
    ds_attr c32 = {.kind = DS_ATTR_DTYPE, .v.dtype = DS_FLOAT32}, c64 = {.kind = DS_ATTR_DTYPE, .v.dtype = DS_FLOAT64};
    ds_value *cs = pu_op(g, DS_OP_CAST, 1, &x, &c32), *cd = pu_op(g, DS_OP_CAST, 1, &x, &c64);
    ds_value *bt = pu_ints_op(g, DS_OP_BROADCAST_TO, x, 3, s234);
    int64_t s5234[4] = {5, 2, 3, 4};
    ds_value *bb = pu_ints_op(g, DS_OP_BROADCAST_TO, pu_ints_op(g, DS_OP_BROADCAST_TO, x, 3, s234), 4, s5234);
    ds_value *outs[] = {t_id, t_cmp, r2, r_id, sq, cs, cd, bt, bb};
    int n = (int)(sizeof outs / sizeof outs[0]);
    pu_outputs(g, n, outs);
    CHECK(!pu_fail);
    ds_graph *o = PASS(g, "simplify");
    if (o) {
        ds_value *ox = ds_graph_param(o, 0);
        bool is_x[9] = {1, 0, 0, 1, 1, 1, 0, 1, 0};
        for (int k = 0; k < n; k++) CHECK((ds_graph_output(o, k) == ox) == is_x[k]);
        const ds_node *tc = ds_graph_output(o, 1)->producer, *rr = ds_graph_output(o, 2)->producer, *b2 = ds_graph_output(o, 8)->producer;
        CHECK(tc->op == DS_OP_TRANSPOSE && tc->in[0] == ox);
        CHECK(tc->attrs[0].v.ints[0] == 1 && tc->attrs[0].v.ints[1] == 0 && tc->attrs[0].v.ints[2] == 2);
        CHECK(rr->op == DS_OP_RESHAPE && rr->in[0] == ox);
        CHECK(b2->op == DS_OP_BROADCAST_TO && b2->in[0] == ox);
        ds_graph_release(o);
        ds_graph *d = PASS(g, "dce"), *o2 = NULL;
        if (d) {
            o2 = OPTIMIZE(d);
            if (o2) CHECK(pu_count_op(o2, DS_OP_TRANSPOSE) == 1 && pu_count_op(o2, DS_OP_RESHAPE) == 1 && pu_count_op(o2, DS_OP_CAST) == 1);
        }
        ds_graph_release(o2);
        ds_graph_release(d);
    }
    ds_graph_release(g);
}

/* ---------------------------------------------------------------- subgraphs and the pipeline */
/* while (i < n) { i = i + 1; acc = acc * (c * c) + 0 }  with foldable, CSE-able and dead code inside */
static ds_graph *make_loop(void) {
    ds_graph *cond, *body, *g;
    PU(ds_graph_new("cond", &cond));
    ds_value *ci = pu_param(cond, "i", DS_INT64, 0, NULL, false);
    pu_param(cond, "acc", DS_FLOAT32, 1, S3, false);
    ds_value *lt = pu_bin(cond, DS_OP_LESS, ci, pu_scalar(cond, DS_INT64, 4));
    pu_outputs(cond, 1, &lt);
    PU(ds_graph_new("body", &body));
    ds_value *bi = pu_param(body, "i", DS_INT64, 0, NULL, false), *ba = pu_param(body, "acc", DS_FLOAT32, 1, S3, false);
    ds_value *c = pu_scalar(body, DS_FLOAT32, 1.5), *c2 = pu_scalar(body, DS_FLOAT32, 1.5);
    ds_value *cc = pu_bin(body, DS_OP_MUL, c, c2);
    ds_value *na = pu_bin(body, DS_OP_SUB, pu_bin(body, DS_OP_MUL, ba, cc), pu_scalar(body, DS_FLOAT32, 0));
    pu_un(body, DS_OP_EXP, ba); /* dead */
    PU(ds_graph_add_print(body, "acc", 1, &na));
    ds_value *outs[2] = {pu_bin(body, DS_OP_ADD, bi, pu_scalar(body, DS_INT64, 1)), na};
    pu_outputs(body, 2, outs);
    PU(ds_graph_new("loop", &g));
    ds_value *init[2] = {pu_param(g, "i", DS_INT64, 0, NULL, false), pu_param(g, "acc", DS_FLOAT32, 1, S3, false)}, *res[2];
    PU(ds_graph_add_while(g, cond, body, 2, init, res));
    pu_outputs(g, 2, res);
    ds_graph_release(cond);
    ds_graph_release(body);
    return g;
}

DS_TEST(optimize_inside_while_bodies) {
    pu_fail = 0;
    ds_graph *g = make_loop();
    CHECK(!pu_fail);
    ds_graph *o = OPTIMIZE(g);
    if (o) {
        const ds_node *w = ds_graph_node(o, 0);
        CHECK(w->kind == DS_NODE_WHILE && w->effect);
        const ds_graph *body = w->sub[1];
        /* acc * 2.25, print, i + 1 and their constants */
        CHECK(pu_count_op(body, DS_OP_EXP) == 0 && pu_count_op(body, DS_OP_SUB) == 0);
        CHECK(pu_count_op(body, DS_OP_MUL) == 1 && pu_count_op(body, DS_OP_ADD) == 1);
        CHECK(pu_count_kind(body, DS_NODE_CONST) == 2 && ds_graph_num_nodes(body) == 5);
        ds_graph_release(o);
    }
    ds_graph_release(g);
}

DS_TEST(optimize_is_a_fixed_point_and_input_is_untouched) {
    pu_fail = 0;
    ds_graph *f = make_f(), *g;
    PU(ds_graph_new("main", &g));
    ds_value *x = pu_param(g, "x", DS_FLOAT32, 1, S3, false), *r1, *r2;
    ds_value *one = pu_scalar(g, DS_FLOAT32, 1);
    ds_value *a1[2] = {x, pu_bin(g, DS_OP_MUL, x, one)}, *a2[2] = {x, x};
    PU(ds_graph_add_call(g, f, 2, a1, 1, &r1, NULL));
    PU(ds_graph_add_call(g, f, 2, a2, 1, &r2, NULL));
    ds_value *r = pu_bin(g, DS_OP_SUB, r1, r2);
    pu_outputs(g, 1, &r);
    CHECK(!pu_fail);
    int before = ds_graph_num_nodes(g);
    ds_graph *o = OPTIMIZE(g);
    CHECK(ds_graph_num_nodes(g) == before);
    if (o) {
        CHECK(ds_graph_num_nodes(o) == 3); /* mul, add, sub: both calls became the same expression */
        int changes = -1;
        for (int i = 0; i < 5; i++) {
            const ds_pass *p = ds_pass_find((const char *[]){"inline", "simplify", "fold", "cse", "dce"}[i]);
            ds_graph *t = NULL;
            CHECK(p && !p->run(o, &t, &changes) && changes == 0);
            ds_graph_release(t);
        }
        ds_graph_release(o);
    }
    ds_graph_release(f);
    ds_graph_release(g);
}

DS_TEST(unknown_pass_and_unverified_input) {
    pu_fail = 0;
    ds_graph *g, *o = NULL;
    PU(ds_graph_new("g", &g));
    ds_value *x = pu_param(g, "x", DS_FLOAT32, 0, NULL, false);
    CHECK_ERR(ds_graph_run_pass(g, "nope", &o), DS_ERR_VALUE, "unknown pass 'nope'");
    CHECK_ERR(ds_graph_optimize(g, &o), DS_ERR_INTERNAL, "has no outputs set");
    pu_outputs(g, 1, &x);
    CHECK_OK(ds_graph_optimize(g, &o));
    CHECK(o && o != g && ds_graph_num_params(o) == 1 && ds_graph_output(o, 0) == ds_graph_param(o, 0));
    ds_graph_release(o);
    ds_graph_release(g);
}

/* A pass whose result breaks an invariant is reported as DS_ERR_INTERNAL naming it. */
static ds_status broken_pass(const ds_graph *g, ds_graph **out, int *changes) {
    ds_status st = ds_pass_dce(g, out, changes);
    if (!st && (*out)->nodes.n) ((ds_node *)(*out)->nodes.items[0])->id = 99;
    return st;
}

DS_TEST(manager_names_a_broken_pass) {
    pu_fail = 0;
    ds_graph *g = make_f(), *o = NULL;
    ds_pass p[2] = {{"cse", ds_pass_cse}, {"broken", broken_pass}};
    CHECK_ERR(ds_pass_pipeline(g, p, 2, 4, &o), DS_ERR_INTERNAL, "pass 'broken' produced an invalid graph: verify: graph 'f', node 99");
    CHECK(o == NULL);
    ds_graph_release(g);
}

/* ---------------------------------------------------------------- allocation failures */
static ds_graph *make_everything(void) {
    ds_graph *f = make_f(), *loop = make_loop(), *g;
    PU(ds_graph_new("all", &g));
    ds_value *i = pu_param(g, "i", DS_INT64, 0, NULL, false), *x = pu_param(g, "x", DS_FLOAT32, 1, S3, false), *r, *lr[2];
    ds_value *c = pu_bin(g, DS_OP_ADD, pu_scalar(g, DS_FLOAT32, 2), pu_scalar(g, DS_FLOAT32, 3));
    ds_value *args[2] = {x, pu_bin(g, DS_OP_MUL, x, c)};
    PU(ds_graph_add_call(g, f, 2, args, 1, &r, NULL));
    ds_value *largs[2] = {i, r};
    PU(ds_graph_add_call(g, loop, 2, largs, 2, lr, NULL));
    ds_value *outs[2] = {lr[1], pu_bin(g, DS_OP_ADD, pu_un(g, DS_OP_NEG, pu_un(g, DS_OP_NEG, x)), pu_scalar(g, DS_FLOAT32, -0.0))};
    pu_outputs(g, 2, outs);
    ds_graph_release(f);
    ds_graph_release(loop);
    return g;
}

DS_TEST(alloc_failure_sweep_every_pass) {
    pu_fail = 0;
    ds_graph *g = make_everything();
    CHECK(!pu_fail);
    const char *names[6] = {"inline", "simplify", "fold", "cse", "dce", NULL};
    for (int p = 0; p < 6; p++) {
        int64_t k = 1;
        for (; k < 20000; k++) {
            int64_t base = ds_alloc_live_blocks();
            ds_graph *o = NULL;
            ds_alloc_debug_begin(k);
            ds_status st = names[p] ? ds_graph_run_pass(g, names[p], &o) : ds_graph_optimize(g, &o);
            int64_t used = ds_alloc_debug_count();
            ds_alloc_debug_begin(0);
            CHECK(st == DS_OK || st == DS_ERR_NOMEM);
            CHECK((st == DS_OK) == (o != NULL));
            if (st == DS_OK) CHECK(pu_same_behavior(g, o, 1));
            ds_graph_release(o);
            if (ds_alloc_live_blocks() != base) {
                printf("  %s: leak at allocation %lld\n", names[p] ? names[p] : "optimize", (long long)k);
                CHECK(0);
                break;
            }
            if (st == DS_OK && used < k) break;
        }
        CHECK(k < 20000 && k > 20);
        if (getenv("DS_TEST_VERBOSE")) printf("  %s: %lld allocations swept\n", names[p] ? names[p] : "optimize", (long long)k);
    }
    ds_graph_release(g);
}

DS_TEST_MAIN()
