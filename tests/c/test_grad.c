/* Gradient rules: every differentiable op against central finite differences in float64, first and
 * second order, with broadcasting, keepdims and several shapes; the rule table covers every op. */
#include "autodiff/autodiff.h"
#include "grad_check.h"

DS_TEST(every_op_has_a_gradient_decision) {
    for (int op = 0; op < DS_OP_COUNT; op++) {
        const ds_grad_entry *e = ds_grad_entry_get((ds_op_id)op);
        if (e->kind == DS_GRAD_UNSET || (e->kind == DS_GRAD_RULE && !e->fn) || (e->kind != DS_GRAD_RULE && !e->why)) {
            printf("  %s has no gradient decision\n", ds_op_get_info((ds_op_id)op)->name);
            CHECK(0);
        }
    }
}

DS_TEST(unary_ops) {
    static const ds_op_id any[] = {DS_OP_NEG, DS_OP_ABS, DS_OP_EXP, DS_OP_SIN, DS_OP_COS, DS_OP_TANH, DS_OP_SIGMOID,
                                   DS_OP_RELU, DS_OP_GELU, DS_OP_ERF, DS_OP_RECIPROCAL, DS_OP_SQUARE};
    for (size_t i = 0; i < sizeof any / sizeof any[0]; i++) CHECK(gc_op(any[i], NULL, 2, 1, (gc_in[]){GF(2, 2, 3)}));
    static const ds_op_id pos[] = {DS_OP_LOG, DS_OP_SQRT, DS_OP_RSQRT};
    for (size_t i = 0; i < sizeof pos / sizeof pos[0]; i++) CHECK(gc_op(pos[i], NULL, 2, 1, (gc_in[]){GP(3, 2, 1, 3)}));
    CHECK(GC_OP(TANH, NULL, 2, GF(0, 0)));
}

DS_TEST(binary_ops_with_broadcasting) {
    CHECK(GC_OP(ADD, NULL, 2, GF(2, 2, 3), GF(1, 3)));
    CHECK(GC_OP(SUB, NULL, 2, GF(3, 2, 1, 3), GF(2, 4, 1)));
    CHECK(GC_OP(MUL, NULL, 2, GF(1, 3), GF(2, 2, 3)));
    CHECK(GC_OP(MUL, NULL, 2, GF(0, 0), GF(2, 2, 3)));
    CHECK(GC_OP(DIV, NULL, 2, GF(2, 2, 3), GF(2, 2, 1)));
    CHECK(GC_OP(DIV, NULL, 2, GF(1, 1), GF(2, 3, 4)));
    CHECK(GC_OP(POW, NULL, 2, GP(2, 2, 3), GF(1, 3)));
    CHECK(GC_OP(MAXIMUM, NULL, 2, GF(2, 2, 3), GF(1, 3)));
    CHECK(GC_OP(MINIMUM, NULL, 2, GF(2, 1, 3), GF(2, 2, 1)));
    CHECK(GC_OP(MOD, NULL, 2, GF(2, 2, 3), GP(1, 3)));
}

DS_TEST(where_cast_clip) {
    CHECK(GC_OP(WHERE, NULL, 2, GB(VALS(1, 0, 0, 1, 1, 0), 2, 2, 3), GF(2, 2, 3), GF(1, 3)));
    CHECK(GC_OP(WHERE, NULL, 2, GB(VALS(1, 0, 1), 1, 3), GF(0, 0), GF(2, 2, 3)));
    ds_attr clip[2] = {AF(-0.7), AF(0.9)};
    CHECK(GC_OP(CLIP, clip, 2, GF(2, 3, 4)));
    ds_attr clip_hi[2] = {AN, AF(0.5)};
    CHECK(GC_OP(CLIP, clip_hi, 2, GF(1, 6)));
    ds_attr cast64[1] = {{.kind = DS_ATTR_DTYPE, .v.dtype = DS_FLOAT64}};
    CHECK(GC_OP(CAST, cast64, 2, GF(2, 2, 2)));
    /* float32 -> float64: the cotangent comes back as float32 */
    ds_graph *g, *G;
    ds_value *x, *y;
    CHECK_OK(ds_graph_new("cast", &g));
    CHECK_OK(ds_graph_add_param(g, "x", DS_FLOAT32, 1, (int64_t[]){3}, false, &x));
    CHECK_OK(ds_graph_add_op1(g, DS_OP_CAST, 1, &x, cast64, &y));
    CHECK_OK(ds_graph_set_outputs(g, 1, &y));
    CHECK_OK(ds_graph_grad(g, 1, (int[]){0}, 1, (int[]){0}, true, &G));
    CHECK(ds_value_dtype(ds_graph_output(G, 1)) == DS_FLOAT32);
    ds_graph_release(G);
    ds_graph_release(g);
}

DS_TEST(zero_gradient_ops) {
    /* floor(x) * x: floor contributes nothing, so d/dx = floor(x) */
    ds_graph *g;
    ds_value *x, *f, *y, *cmp, *sel;
    CHECK_OK(ds_graph_new("steps", &g));
    CHECK_OK(ds_graph_add_param(g, "x", DS_FLOAT64, 1, (int64_t[]){6}, false, &x));
    CHECK_OK(ds_graph_add_op1(g, DS_OP_FLOOR, 1, &x, NULL, &f));
    CHECK_OK(ds_graph_add_op1(g, DS_OP_MUL, 2, (ds_value *[]){f, x}, NULL, &y));
    CHECK_OK(ds_graph_add_op1(g, DS_OP_GREATER, 2, (ds_value *[]){x, f}, NULL, &cmp));
    CHECK_OK(ds_graph_add_op1(g, DS_OP_WHERE, 3, (ds_value *[]){cmp, y, x}, NULL, &sel));
    CHECK_OK(ds_graph_set_outputs(g, 1, &sel));
    ds_tensor *a = gc_rand(DS_FLOAT64, 1, (int64_t[]){6}, -3.1, 3.3);
    double *p = ds_tensor_data(a);
    for (int i = 0; i < 6; i++) p[i] = floor(p[i]) + 0.25 + 0.5 * gc_uniform(); /* away from the jumps */
    CHECK(gc_check(g, &a, 2));
    ds_tensor_release(a);
    ds_graph_release(g);
}

DS_TEST(reductions) {
    ds_attr ax1[2] = {AIS(1), AB(false)}, ax02k[2] = {AIS(0, 2), AB(true)}, all[2] = {AN, AB(false)}, allk[2] = {AN, AB(true)};
    ds_attr neg[2] = {AIS(-1), AB(false)};
    for (int k = 0; k < 2; k++) {
        ds_op_id op = k ? DS_OP_MEAN : DS_OP_SUM;
        CHECK(gc_op(op, ax1, 2, 1, (gc_in[]){GF(3, 2, 3, 4)}));
        CHECK(gc_op(op, ax02k, 2, 1, (gc_in[]){GF(3, 2, 3, 4)}));
        CHECK(gc_op(op, all, 2, 1, (gc_in[]){GF(2, 3, 2)}));
        CHECK(gc_op(op, allk, 2, 1, (gc_in[]){GF(2, 3, 2)}));
    }
    CHECK(GC_OP(PROD, ax1, 2, GF(3, 2, 3, 2)));
    CHECK(GC_OP(PROD, all, 2, GF(1, 4)));
    CHECK(GC_OP(AMAX, neg, 2, GF(2, 3, 4)));
    CHECK(GC_OP(AMIN, allk, 2, GF(2, 3, 4)));
    CHECK(GC_OP(AMAX, ax02k, 2, GF(3, 2, 3, 2)));
    ds_attr v1[3] = {AIS(1), AB(false), AI(1)}, v0k[3] = {AIS(0, 1), AB(true), AI(0)}, vall[3] = {AN, AB(false), AI(0)};
    CHECK(GC_OP(VAR, v1, 2, GF(2, 3, 4)));
    CHECK(GC_OP(VAR, v0k, 2, GF(3, 2, 3, 2)));
    CHECK(GC_OP(STD, v1, 2, GF(2, 3, 4)));
    CHECK(GC_OP(STD, vall, 2, GF(2, 2, 3)));
}

/* prod is exact with zeros: with one zero the gradient there is the product of the rest. */
DS_TEST(prod_with_zeros) {
    ds_graph *g;
    ds_value *x, *y;
    ds_attr ax[2] = {AIS(1), AB(false)};
    CHECK_OK(ds_graph_new("prod", &g));
    CHECK_OK(ds_graph_add_param(g, "x", DS_FLOAT64, 2, (int64_t[]){3, 3}, false, &x));
    CHECK_OK(ds_graph_add_op1(g, DS_OP_PROD, 1, &x, ax, &y));
    CHECK_OK(ds_graph_set_outputs(g, 1, &y));
    double v[9] = {2, 0, 3, 0, 0, 5, 1.5, -2, 0.5};
    ds_tensor *a;
    CHECK_OK(ds_tensor_from_data(DS_FLOAT64, 2, (int64_t[]){3, 3}, v, &a));
    CHECK(gc_check(g, &a, 2));
    ds_graph *G;
    CHECK_OK(ds_graph_grad(g, 1, (int[]){0}, 1, (int[]){0}, true, &G));
    ds_tensor *ones, *out[2];
    double o[3] = {1, 1, 1};
    CHECK_OK(ds_tensor_from_data(DS_FLOAT64, 1, (int64_t[]){3}, o, &ones));
    CHECK_OK(ds_graph_eval(G, 2, (ds_tensor *[]){a, ones}, 2, out, NULL));
    const double *d = ds_tensor_data(out[1]);
    double want[9] = {0, 6, 0, 0, 0, 0, -1, 0.75, -3};
    for (int i = 0; i < 9; i++) CHECK(d[i] == want[i]);
    gc_release(2, out);
    ds_tensor_release(ones);
    ds_tensor_release(a);
    ds_graph_release(G);
    ds_graph_release(g);
}

DS_TEST(matmul_variants) {
    ds_attr nn[2] = {AB(false), AB(false)}, tn[2] = {AB(true), AB(false)}, nt[2] = {AB(false), AB(true)}, tt[2] = {AB(true), AB(true)};
    CHECK(GC_OP(MATMUL, nn, 2, GF(2, 2, 3), GF(2, 3, 4)));
    CHECK(GC_OP(MATMUL, tn, 2, GF(2, 3, 2), GF(2, 3, 4)));
    CHECK(GC_OP(MATMUL, nt, 2, GF(2, 2, 3), GF(2, 4, 3)));
    CHECK(GC_OP(MATMUL, tt, 2, GF(2, 3, 2), GF(2, 4, 3)));
    CHECK(GC_OP(MATMUL, nn, 2, GF(3, 5, 2, 3), GF(2, 3, 4)));         /* batch broadcast */
    CHECK(GC_OP(MATMUL, tn, 2, GF(4, 2, 1, 3, 2), GF(3, 3, 3, 4)));   /* both broadcast */
    CHECK(GC_OP(MATMUL, nn, 2, GF(1, 3), GF(3, 2, 3, 4)));            /* 1-D a */
    CHECK(GC_OP(MATMUL, nt, 2, GF(3, 2, 4, 3), GF(1, 3)));            /* 1-D b */
    CHECK(GC_OP(MATMUL, nn, 2, GF(1, 3), GF(1, 3)));                  /* both 1-D */
}

DS_TEST(views) {
    ds_attr rs[1] = {AIS(4, 6)}, rs1[1] = {AIS(-1)}, perm[1] = {AIS(2, 0, 1)}, rev[1] = {AN};
    CHECK(GC_OP(RESHAPE, rs, 2, GF(3, 2, 3, 4)));
    CHECK(GC_OP(RESHAPE, rs1, 2, GF(2, 2, 3)));
    CHECK(GC_OP(TRANSPOSE, perm, 2, GF(3, 2, 3, 4)));
    CHECK(GC_OP(TRANSPOSE, rev, 2, GF(3, 2, 3, 4)));
    ds_attr b1[1] = {AIS(2, 4, 3)}, b2[1] = {AIS(2, 5, 3)};
    CHECK(GC_OP(BROADCAST_TO, b1, 2, GF(1, 3)));
    CHECK(GC_OP(BROADCAST_TO, b2, 2, GF(3, 2, 1, 3)));
    ds_attr sq1[1] = {AIS(1)}, sqn[1] = {AN}, us1[1] = {AI(1)}, usm[1] = {AI(-1)};
    CHECK(GC_OP(SQUEEZE, sq1, 2, GF(3, 2, 1, 3)));
    CHECK(GC_OP(SQUEEZE, sqn, 2, GF(3, 1, 3, 1)));
    CHECK(GC_OP(UNSQUEEZE, us1, 2, GF(2, 2, 3)));
    CHECK(GC_OP(UNSQUEEZE, usm, 2, GF(2, 2, 3)));
    ds_attr sl[3] = {AIS(1, 0), AIS(5, 6), AIS(2, 3)}, back[3] = {AIS(3), AIS(-5), AIS(-1)};
    CHECK(GC_OP(SLICE, sl, 2, GF(2, 5, 6)));
    CHECK(GC_OP(SLICE, back, 2, GF(2, 4, 2)));
    CHECK(GC_OP(COPY, NULL, 2, GF(2, 2, 2)));
}

DS_TEST(join_split) {
    ds_attr ax1[1] = {AI(1)}, axm[1] = {AI(-1)};
    CHECK(GC_OP(CONCAT, ax1, 2, GF(2, 2, 3), GF(2, 2, 1), GF(2, 2, 2)));
    CHECK(GC_OP(STACK, ax1, 2, GF(2, 2, 3), GF(2, 2, 3), GF(2, 2, 3)));
    CHECK(GC_OP(STACK, axm, 2, GF(1, 3), GF(1, 3)));
    ds_attr sp[2] = {AIS(1, 2, 3), AI(1)}, sp3[2] = {AIS(3), AI(0)};
    CHECK(GC_OP(SPLIT, sp, 2, GF(2, 2, 6)));
    CHECK(GC_OP(SPLIT, sp3, 2, GF(2, 6, 2)));
}

DS_TEST(gathers) {
    ds_attr ax0[1] = {AI(0)}, ax1[1] = {AI(1)}, axm[1] = {AI(-1)};
    CHECK(GC_OP(GATHER, ax1, 2, GF(3, 3, 4, 2), GI(VALS(0, 3, 3, -1), 2, 2, 2))); /* duplicates accumulate */
    CHECK(GC_OP(GATHER, ax0, 2, GF(2, 3, 2), GI(VALS(2), 0, 0)));
    CHECK(GC_OP(GATHER, axm, 2, GF(2, 2, 3), GI(VALS(2, 0, 2), 1, 3)));
    CHECK(GC_OP(GATHER_ELEMENTS, ax1, 2, GF(2, 2, 3), GI(VALS(0, 2, 2, 1, 1, 1), 2, 2, 3)));
    CHECK(GC_OP(GATHER_ELEMENTS, ax0, 2, GF(2, 3, 2), GI(VALS(2, 0), 2, 1, 2)));
    CHECK(GC_OP(INDEX, NULL, 2, GF(3, 4, 5, 2), GI(VALS(1, 3), 2, 2, 1), GI(VALS(0, 4, 4), 1, 3)));
    CHECK(GC_OP(INDEX, NULL, 2, GF(2, 3, 2), GI(VALS(0, 0, 2), 1, 3)));
}

DS_TEST(tile_pad) {
    ds_attr t1[1] = {AIS(2, 1, 2)}, t2[1] = {AIS(3)}, t3[1] = {AIS(2, 2)};
    CHECK(GC_OP(TILE, t1, 2, GF(2, 2, 3)));
    CHECK(GC_OP(TILE, t2, 2, GF(2, 2, 3)));
    CHECK(GC_OP(TILE, t3, 2, GF(1, 3)));
    ds_attr p1[2] = {AIS(1, 0, 2, 1), AF(0.5)}, p2[2] = {AIS(0, -1, -1, 2), AF(0)};
    CHECK(GC_OP(PAD, p1, 2, GF(2, 2, 3)));
    CHECK(GC_OP(PAD, p2, 2, GF(2, 3, 3)));
}

DS_TEST(support_ops) {
    CHECK(GC_OP(SUM_LIKE, NULL, 2, GF(3, 2, 3, 4), GF(2, 3, 1)));
    CHECK(GC_OP(BROADCAST_LIKE, NULL, 2, GF(2, 3, 1), GF(3, 2, 3, 4)));
    CHECK(GC_OP(RESHAPE_LIKE, NULL, 2, GF(2, 2, 6), GF(2, 3, 4)));
    ds_attr ax1[1] = {AI(1)}, ax0[1] = {AI(0)};
    CHECK(GC_OP(SPLIT_LIKE, ax1, 2, GF(2, 2, 6), GF(2, 2, 2), GF(2, 2, 4)));
    ds_attr sl[3] = {AIS(1), AIS(5), AIS(2)};
    CHECK(GC_OP(SLICE_SCATTER, sl, 2, GF(2, 5, 4), GF(2, 2, 4)));
    CHECK(GC_OP(SLICE_SCATTER, sl, 2, GF(2, 5, 4), GF(1, 4)));
    CHECK(GC_OP(INDEX_ADD, NULL, 2, GF(2, 4, 3), GF(2, 3, 3), GI(VALS(1, 3, 1), 1, 3)));
    CHECK(GC_OP(INDEX_ADD, NULL, 2, GF(2, 4, 3), GF(1, 1), GI(VALS(0, 0), 1, 2), GI(VALS(2, 2), 1, 2)));
    CHECK(GC_OP(SCATTER_ADD, ax0, 2, GF(2, 3, 4), GI(VALS(2, 0, 2, 1, 2, 2, 0, 0), 2, 2, 4), GF(2, 2, 4)));
    CHECK(GC_OP(SCATTER_ADD, ax1, 2, GF(2, 2, 3), GI(VALS(2, 2), 2, 2, 1), GF(2, 2, 2)));
    CHECK(GC_OP(TENSOR_LIST_PUSH, NULL, 2, GF(2, 2, 3), GF(1, 3)));
}

/* Support op values, checked directly. */
DS_TEST(support_op_values) {
    ds_tensor *x = gc_ints(2, (int64_t[]){2, 3}, VALS(1, 2, 3, 4, 5, 6)), *ref, *out = NULL;
    CHECK_OK(ds_tensor_new(DS_FLOAT32, 1, (int64_t[]){3}, &ref));
    CHECK_OK(ds_op_run1(DS_OP_SUM_LIKE, 2, (ds_tensor *[]){x, ref}, NULL, &out));
    if (!out) return;
    CHECK(ds_tensor_dtype(out) == DS_INT64 && ds_tensor_ndim(out) == 1);
    int64_t v;
    ds_tensor_get_int(out, 2, &v);
    CHECK(v == 9);
    ds_tensor_release(out);
    ds_tensor *idx = gc_ints(1, (int64_t[]){3}, VALS(1, 1, -2)), *vals = gc_ints(1, (int64_t[]){3}, VALS(10, 20, 30));
    CHECK_OK(ds_op_run1(DS_OP_INDEX_ADD, 3, (ds_tensor *[]){x, vals, idx}, NULL, &out));
    ds_tensor_get_int(out, 4, &v);
    CHECK(v == 5 + 20 + 20); /* duplicates accumulate; -2 wraps to row 0 */
    ds_tensor_get_int(out, 1, &v);
    CHECK(v == 2 + 20);
    ds_tensor_release(out);
    ds_tensor *bad = gc_ints(1, (int64_t[]){1}, VALS(2));
    CHECK_ERR(ds_op_run1(DS_OP_INDEX_ADD, 3, (ds_tensor *[]){x, vals, bad}, NULL, &out), DS_ERR_INDEX, "index 2 is out of bounds for axis 0 with size 2");
    /* lists append in place beyond the rows any tensor sees, and never change a value */
    ds_attr ln[2] = {{.kind = DS_ATTR_DTYPE, .v.dtype = DS_INT64}, AIS(3)};
    ds_tensor *l0, *l1, *l2, *l2b, *row;
    CHECK_OK(ds_op_run1(DS_OP_TENSOR_LIST_NEW, 0, NULL, ln, &l0));
    row = gc_ints(1, (int64_t[]){3}, VALS(7, 8, 9));
    CHECK_OK(ds_op_run1(DS_OP_TENSOR_LIST_PUSH, 2, (ds_tensor *[]){l0, row}, NULL, &l1));
    CHECK_ERR(ds_op_run1(DS_OP_TENSOR_LIST_PUSH, 2, (ds_tensor *[]){l1, x}, NULL, &out), DS_ERR_SHAPE, "does not fit a list");
    ds_tensor *r2 = gc_ints(1, (int64_t[]){3}, VALS(1, 1, 1)), *r3 = gc_ints(1, (int64_t[]){3}, VALS(2, 2, 2));
    CHECK_OK(ds_op_run1(DS_OP_TENSOR_LIST_PUSH, 2, (ds_tensor *[]){l1, r2}, NULL, &l2));
    CHECK_OK(ds_op_run1(DS_OP_TENSOR_LIST_PUSH, 2, (ds_tensor *[]){l1, r3}, NULL, &l2b)); /* a second push onto l1 copies */
    CHECK(ds_tensor_shape(l1)[0] == 1 && ds_tensor_shape(l2)[0] == 2 && ds_tensor_shape(l2b)[0] == 2);
    ds_tensor_get_int(l2, 3, &v);
    CHECK(v == 1);
    ds_tensor_get_int(l2b, 3, &v);
    CHECK(v == 2);
    CHECK(ds_tensor_shares_storage(l1, l2) && !ds_tensor_shares_storage(l1, l2b));
    ds_tensor *n1 = gc_ints(0, NULL, VALS(1)), *d;
    CHECK_OK(ds_op_run1(DS_OP_TENSOR_LIST_DROP, 2, (ds_tensor *[]){l2, n1}, NULL, &d));
    CHECK(ds_tensor_shape(d)[0] == 1);
    ds_tensor_release(d);
    ds_tensor *bad_row = gc_ints(1, (int64_t[]){2}, VALS(1, 2));
    CHECK_ERR(ds_op_run1(DS_OP_TENSOR_LIST_PUSH, 2, (ds_tensor *[]){l2, bad_row}, NULL, &out), DS_ERR_SHAPE,
              "a row of shape [2] does not fit a list of rows of shape [3] (does a loop value change shape between iterations?)");
    ds_tensor *ts[] = {x, ref, idx, vals, bad, l0, l1, l2, l2b, row, r2, r3, n1, bad_row};
    gc_release(sizeof ts / sizeof ts[0], ts);
}

/* Symbolic dims: the rules fall back to the *_like ops and the result runs for any size. */
DS_TEST(symbolic_dims) {
    ds_graph *g;
    int64_t b;
    ds_value *x, *w, *bias, *mm, *y, *s, *out;
    CHECK_OK(ds_graph_new("sym", &g));
    CHECK_OK(ds_graph_symbol(g, "batch", &b));
    CHECK_OK(ds_graph_add_param(g, "x", DS_FLOAT64, 2, (int64_t[]){b, 3}, false, &x));
    CHECK_OK(ds_graph_add_param(g, "w", DS_FLOAT64, 2, (int64_t[]){3, 2}, false, &w));
    CHECK_OK(ds_graph_add_param(g, "bias", DS_FLOAT64, 2, (int64_t[]){b, 1}, false, &bias));
    CHECK_OK(ds_graph_add_op1(g, DS_OP_MATMUL, 2, (ds_value *[]){x, w}, NULL, &mm));
    CHECK_OK(ds_graph_add_op1(g, DS_OP_ADD, 2, (ds_value *[]){mm, bias}, NULL, &y));
    CHECK_OK(ds_graph_add_op1(g, DS_OP_TANH, 1, &y, NULL, &s));
    ds_attr m[2] = {AIS(0), AB(false)};
    CHECK_OK(ds_graph_add_op1(g, DS_OP_MEAN, 1, &s, m, &out));
    CHECK_OK(ds_graph_set_outputs(g, 1, &out));
    for (int64_t n = 1; n <= 3; n += 2) {
        ds_tensor *args[3] = {gc_rand(DS_FLOAT64, 2, (int64_t[]){n, 3}, -1, 1), gc_rand(DS_FLOAT64, 2, (int64_t[]){3, 2}, -1, 1),
                              gc_rand(DS_FLOAT64, 2, (int64_t[]){n, 1}, -1, 1)};
        CHECK(gc_check(g, args, 2));
        gc_release(3, args);
    }
    ds_graph_release(g);
}

DS_TEST(stop_gradient_and_like_ops) {
    /* y = x * stop_gradient(x) + ones_like(x): dy/dx = x */
    ds_graph *g, *G;
    ds_value *x, *sg, *m, *one, *y;
    CHECK_OK(ds_graph_new("sg", &g));
    CHECK_OK(ds_graph_add_param(g, "x", DS_FLOAT64, 1, (int64_t[]){4}, false, &x));
    CHECK_OK(ds_graph_add_op1(g, DS_OP_STOP_GRADIENT, 1, &x, NULL, &sg));
    CHECK_OK(ds_graph_add_op1(g, DS_OP_MUL, 2, (ds_value *[]){x, sg}, NULL, &m));
    CHECK_OK(ds_graph_add_op1(g, DS_OP_ONES_LIKE, 1, &x, NULL, &one));
    CHECK_OK(ds_graph_add_op1(g, DS_OP_ADD, 2, (ds_value *[]){m, one}, NULL, &y));
    CHECK_OK(ds_graph_set_outputs(g, 1, &y));
    CHECK_OK(ds_graph_grad(g, 1, (int[]){0}, 1, (int[]){0}, true, &G));
    ds_tensor *a = gc_rand(DS_FLOAT64, 1, (int64_t[]){4}, -1, 1), *s, *out[2];
    CHECK_OK(ds_graph_eval(g, 1, &a, 1, out, NULL));
    s = gc_rand(DS_FLOAT64, 1, (int64_t[]){4}, 1, 1);
    ds_tensor_release(out[0]);
    CHECK_OK(ds_graph_eval(G, 2, (ds_tensor *[]){a, s}, 2, out, NULL));
    for (int i = 0; i < 4; i++) {
        double gx, xv;
        ds_tensor_get_double(out[1], i, &gx);
        ds_tensor_get_double(a, i, &xv);
        CHECK_NEAR(gx, xv, 1e-15);
    }
    gc_release(2, out);
    ds_tensor_release(a);
    ds_tensor_release(s);
    ds_graph_release(G);
    ds_graph_release(g);
}

/* The shape-agnostic paths of the rules: the same ops with symbolic parameter dims. */
DS_TEST(rules_with_symbolic_dims) {
    gc_symbolic = true;
    CHECK(GC_OP(TANH, NULL, 2, GF(2, 2, 3)));
    CHECK(GC_OP(ADD, NULL, 2, GF(2, 2, 3), GF(1, 3)));
    CHECK(GC_OP(MUL, NULL, 2, GF(3, 2, 1, 3), GF(2, 4, 1)));
    CHECK(GC_OP(DIV, NULL, 2, GF(2, 2, 3), GF(2, 2, 1)));
    CHECK(GC_OP(WHERE, NULL, 2, GB(VALS(1, 0, 1), 1, 3), GF(2, 2, 3), GF(1, 3)));
    ds_attr ax1[2] = {AIS(1), AB(false)}, ax02k[2] = {AIS(0, 2), AB(true)}, all[2] = {AN, AB(false)};
    CHECK(GC_OP(SUM, ax1, 2, GF(3, 2, 3, 4)));
    CHECK(GC_OP(MEAN, ax02k, 2, GF(3, 2, 3, 4)));
    CHECK(GC_OP(MEAN, all, 2, GF(2, 3, 2)));
    CHECK(GC_OP(PROD, ax1, 2, GF(2, 2, 3)));
    CHECK(GC_OP(AMAX, ax02k, 2, GF(3, 2, 3, 2)));
    ds_attr v1[3] = {AIS(1), AB(false), AI(1)};
    CHECK(GC_OP(VAR, v1, 2, GF(2, 3, 4)));
    CHECK(GC_OP(STD, v1, 2, GF(2, 3, 4)));
    ds_attr nn[2] = {AB(false), AB(false)}, tn[2] = {AB(true), AB(false)};
    CHECK(GC_OP(MATMUL, nn, 2, GF(3, 5, 2, 3), GF(2, 3, 4)));
    CHECK(GC_OP(MATMUL, tn, 2, GF(4, 2, 1, 3, 2), GF(3, 3, 3, 4)));
    CHECK(GC_OP(MATMUL, nn, 2, GF(1, 3), GF(3, 2, 3, 4)));
    ds_attr perm[1] = {AIS(2, 0, 1)}, sqn[1] = {AN}, us1[1] = {AI(1)};
    CHECK(GC_OP(TRANSPOSE, perm, 2, GF(3, 2, 3, 4)));
    CHECK(GC_OP(SQUEEZE, sqn, 2, GF(3, 1, 3, 1)));
    CHECK(GC_OP(UNSQUEEZE, us1, 2, GF(2, 2, 3)));
    ds_attr sl[3] = {AIS(1, 0), AIS(5, 6), AIS(2, 3)};
    CHECK(GC_OP(SLICE, sl, 2, GF(2, 5, 6)));
    ds_attr cat[1] = {AI(1)};
    CHECK(GC_OP(CONCAT, cat, 2, GF(2, 2, 3), GF(2, 2, 1), GF(2, 2, 2)));
    CHECK(GC_OP(STACK, cat, 2, GF(2, 2, 3), GF(2, 2, 3)));
    ds_attr g1[1] = {AI(1)}, g0[1] = {AI(0)};
    CHECK(GC_OP(GATHER, g1, 2, GF(3, 3, 4, 2), GI(VALS(0, 3, 3, -1), 2, 2, 2)));
    CHECK(GC_OP(GATHER, g0, 2, GF(2, 3, 2), GI(VALS(2, 2), 1, 2)));
    CHECK(GC_OP(GATHER_ELEMENTS, g1, 2, GF(2, 2, 3), GI(VALS(0, 2, 2, 1, 1, 1), 2, 2, 3)));
    CHECK(GC_OP(INDEX, NULL, 2, GF(3, 4, 5, 2), GI(VALS(1, 3), 2, 2, 1), GI(VALS(0, 4, 4), 1, 3)));
    ds_attr t1[1] = {AIS(2, 1, 2)}, p1[2] = {AIS(1, 0, 2, 1), AF(0.5)};
    CHECK(GC_OP(TILE, t1, 2, GF(2, 2, 3)));
    CHECK(GC_OP(PAD, p1, 2, GF(2, 2, 3)));
    CHECK(GC_OP(SUM_LIKE, NULL, 2, GF(3, 2, 3, 4), GF(2, 3, 1)));
    CHECK(GC_OP(BROADCAST_LIKE, NULL, 2, GF(2, 3, 1), GF(3, 2, 3, 4)));
    ds_attr ss[3] = {AIS(1), AIS(5), AIS(2)};
    CHECK(GC_OP(SLICE_SCATTER, ss, 2, GF(2, 5, 4), GF(1, 4)));
    CHECK(GC_OP(INDEX_ADD, NULL, 2, GF(2, 4, 3), GF(2, 2, 3), GI(VALS(1, 1), 1, 2)));
    CHECK(GC_OP(SCATTER_ADD, g0, 2, GF(2, 3, 4), GI(VALS(2, 0, 2, 1, 2, 2, 0, 0), 2, 2, 4), GF(2, 2, 4)));
    gc_symbolic = false;
}

DS_TEST_MAIN()
