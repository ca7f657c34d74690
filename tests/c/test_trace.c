/* Tests of graph capture (exec/trace.c): eager op calls on symbolic tensors build a graph whose plan
 * and interpreter give the eager results; captures through If/While/Call groups two levels deep;
 * effects go to the graph; bound weights are updated in place by plans; errors; no leaks. */
#include <stdlib.h>

#include "ds_test.h"
#include "ir/ir.h"

/* ---------------------------------------------------------------- helpers */
static ds_tensor *f32(int nd, const int64_t *shape, const float *data) {
    ds_tensor *t = NULL;
    ds_tensor_from_data(DS_FLOAT32, nd, shape, data, &t);
    return t;
}

static ds_tensor *f32_seq(int nd, const int64_t *shape, float start, float step) {
    ds_tensor *t = NULL;
    if (ds_tensor_new(DS_FLOAT32, nd, shape, &t)) return NULL;
    float *p = ds_tensor_data(t);
    for (int64_t i = 0; i < ds_tensor_numel(t); i++) p[i] = start + step * (float)((i * 7) % 11);
    return t;
}

static ds_tensor *scalar_f(double v) {
    ds_tensor *t = NULL;
    ds_tensor_scalar(DS_FLOAT32, v, &t);
    return t;
}

static ds_tensor *op1(ds_op_id op, int n, ds_tensor *const *in, const ds_attr *attrs) {
    ds_tensor *out = NULL;
    ds_status st = ds_op_run1(op, n, in, attrs, &out);
    if (st) printf("    op %s failed: %s\n", ds_op_get_info(op)->name, ds_error_message());
    return out;
}
#define OP2(OP, a, b) op1(DS_OP_##OP, 2, (ds_tensor *[]){(a), (b)}, NULL)
#define OP1(OP, a) op1(DS_OP_##OP, 1, (ds_tensor *[]){(a)}, NULL)

static void rel(int n, ds_tensor **t) {
    for (int i = 0; i < n; i++) {
        ds_tensor_release(t[i]);
        t[i] = NULL;
    }
}

static bool close_to(const ds_tensor *a, const ds_tensor *b, double tol) {
    if (!a || !b || ds_tensor_ndim(a) != ds_tensor_ndim(b) || ds_tensor_numel(a) != ds_tensor_numel(b)) {
        printf("    shapes differ\n");
        return false;
    }
    for (int d = 0; d < ds_tensor_ndim(a); d++)
        if (ds_tensor_shape(a)[d] != ds_tensor_shape(b)[d]) return false;
    for (int64_t i = 0; i < ds_tensor_numel(a); i++) {
        double x, y;
        ds_tensor_get_double(a, i, &x);
        ds_tensor_get_double(b, i, &y);
        if (!(fabs(x - y) <= tol * (1 + fabs(y)))) {
            printf("    element %lld: %.9g vs %.9g\n", (long long)i, x, y);
            return false;
        }
    }
    return true;
}

static bool values_are(const ds_tensor *a, int n, const double *want, double tol) {
    if (!a || ds_tensor_numel(a) != n) return false;
    for (int i = 0; i < n; i++) {
        double x;
        ds_tensor_get_double(a, i, &x);
        if (!(fabs(x - want[i]) <= tol * (1 + fabs(want[i])))) {
            printf("    element %d: %.9g, want %.9g\n", i, x, want[i]);
            return false;
        }
    }
    return true;
}

/* Runs g on inputs through the interpreter and a plan; both must equal want[0..n_want). */
static bool run_both(ds_graph *g, int n_in, ds_tensor *const *in, int n_want, ds_tensor *const *want, double tol) {
    bool ok = true;
    for (int mode = 0; mode < 2; mode++) {
        ds_tensor *out[8] = {NULL};
        int n = 0;
        ds_status st;
        if (mode == 0) st = ds_graph_eval(g, n_in, in, 8, out, &n);
        else {
            ds_plan *p = NULL;
            st = ds_plan_new(g, &p);
            if (!st) st = ds_plan_run(p, n_in, in, 8, out, &n);
            ds_plan_release(p);
        }
        if (st) {
            printf("    %s failed: %s\n", mode ? "plan" : "eval", ds_error_message());
            return false;
        }
        ok = ok && n == n_want;
        for (int i = 0; ok && i < n; i++) ok = close_to(out[i], want[i], tol);
        rel(n, out);
    }
    return ok;
}

/* ---------------------------------------------------------------- tests */
/* relu(x @ W1 + b1) @ W2 + b2 + 1 on symbolic x, bound W1/b1, unbound (constant) W2/b2. */
static ds_tensor *mlp(ds_tensor *x, ds_tensor *w1, ds_tensor *b1, ds_tensor *w2, ds_tensor *b2, ds_tensor *one) {
    ds_tensor *h = OP2(MATMUL, x, w1), *h2 = OP2(ADD, h, b1), *r = OP1(RELU, h2), *y = OP2(MATMUL, r, w2);
    ds_tensor *y2 = OP2(ADD, y, b2), *y3 = OP2(ADD, y2, one);
    ds_tensor *tmp[] = {h, h2, r, y, y2};
    rel(5, tmp);
    return y3;
}

DS_TEST(trace_mlp_matches_eager) {
    int64_t base = ds_alloc_live_blocks();
    {
        int64_t sx[2] = {3, 4}, sw1[2] = {4, 5}, sb1[1] = {5}, sw2[2] = {5, 2}, sb2[1] = {2};
        ds_tensor *x = f32_seq(2, sx, -1, 0.25f), *w1 = f32_seq(2, sw1, -0.5f, 0.125f), *b1 = f32_seq(1, sb1, -0.25f, 0.1f);
        ds_tensor *w2 = f32_seq(2, sw2, 0.5f, -0.1f), *b2 = f32_seq(1, sb2, 0.1f, 0.1f), *one = scalar_f(1.0);
        ds_tensor *want = mlp(x, w1, b1, w2, b2, one);

        ds_trace *t = NULL;
        CHECK_OK(ds_trace_new("mlp", &t));
        CHECK(ds_trace_active() == NULL);
        int64_t n_sym;
        CHECK_OK(ds_graph_symbol(ds_trace_graph(t), "N", &n_sym));
        int64_t dx[2] = {n_sym, 4};
        ds_tensor *sx_t = NULL, *sw1_t = NULL;
        CHECK_OK(ds_trace_add_param(t, "x", DS_FLOAT32, 2, dx, false, NULL, &sx_t));
        CHECK_OK(ds_trace_add_param(t, "w1", DS_FLOAT32, 2, sw1, true, w1, &sw1_t));
        CHECK_OK(ds_trace_add_param(t, "b1", DS_FLOAT32, 1, sb1, true, b1, NULL));
        CHECK(ds_tensor_is_symbolic(sx_t) && !ds_tensor_is_symbolic(w1));
        CHECK(ds_tensor_shape(sx_t)[0] == -1 && ds_tensor_data(sx_t) == NULL);
        CHECK(ds_trace_lookup(t, w1) == ds_graph_param(ds_trace_graph(t), 1));
        CHECK(ds_trace_lookup(t, w2) == NULL);

        CHECK(ds_trace_set_active(t) == NULL);
        CHECK(ds_trace_active() == t);
        /* ops without symbolic inputs still run eagerly (constant folding) */
        ds_tensor *c = OP2(MUL, w2, one);
        CHECK(c && ds_tensor_data(c) != NULL && !ds_tensor_is_symbolic(c));
        int before = ds_graph_num_nodes(ds_trace_graph(t));
        ds_tensor *y = mlp(sx_t, w1, b1, w2, b2, one);
        CHECK(y && ds_tensor_is_symbolic(y) && ds_tensor_ndim(y) == 2 && ds_tensor_shape(y)[0] == -1 &&
              ds_tensor_shape(y)[1] == 2);
        /* 6 ops + constants for w2, b2 and one (each added once) */
        CHECK(ds_graph_num_nodes(ds_trace_graph(t)) == before + 9);
        ds_tensor *y_again = OP2(ADD, y, one); /* the constant for `one` is reused */
        CHECK(ds_graph_num_nodes(ds_trace_graph(t)) == before + 10);
        CHECK(ds_trace_set_active(NULL) == t);
        ds_graph *g = NULL;
        CHECK_OK(ds_trace_finish(t, 1, &y, &g));
        CHECK(ds_trace_is_finished(t));
        CHECK_OK(ds_graph_verify(g));
        ds_value *out0 = ds_graph_output(g, 0);
        CHECK(DS_DIM_IS_SYM(ds_value_dims(out0)[0]) && ds_value_dims(out0)[1] == 2);
        ds_tensor *in[3] = {x, w1, b1};
        CHECK(run_both(g, 3, in, 1, &want, 1e-6));
        /* another batch size through the same graph */
        int64_t sx7[2] = {7, 4};
        ds_tensor *x7 = f32_seq(2, sx7, 0.5f, -0.2f), *want7 = mlp(x7, w1, b1, w2, b2, one);
        ds_tensor *in7[3] = {x7, w1, b1};
        CHECK(run_both(g, 3, in7, 1, &want7, 1e-6));
        /* no more ops after finishing */
        ds_trace_set_active(t);
        ds_tensor *bad = NULL;
        CHECK_ERR(ds_op_run1(DS_OP_NEG, 1, &sx_t, NULL, &bad), DS_ERR_VALUE, "is finished");
        ds_trace_set_active(NULL);
        /* a symbolic tensor used without its trace */
        CHECK_ERR(ds_op_run1(DS_OP_NEG, 1, &y, NULL, &bad), DS_ERR_VALUE, "symbolic tensor");
        ds_tensor *tmp[] = {x, w1, b1, w2, b2, one, want, sx_t, sw1_t, c, y, y_again, x7, want7};
        rel(14, tmp);
        ds_graph_release(g);
        ds_trace_release(t);
    }
    CHECK(ds_alloc_live_blocks() == base);
}

DS_TEST(trace_errors_name_shapes_and_locations) {
    int64_t base = ds_alloc_live_blocks();
    {
        ds_trace *t = NULL;
        CHECK_OK(ds_trace_new("bad", &t));
        int64_t s23[2] = {2, 3}, s4[1] = {4};
        ds_tensor *a = NULL, *b = NULL, *r = NULL, *w = f32_seq(1, s4, 0, 1);
        CHECK_OK(ds_trace_add_param(t, "a", DS_FLOAT32, 2, s23, false, NULL, &a));
        CHECK_OK(ds_trace_add_param(t, "b", DS_FLOAT32, 1, s4, false, NULL, &b));
        CHECK_ERR(ds_trace_add_param(t, "w", DS_FLOAT32, 1, s23, true, w, NULL), DS_ERR_SHAPE, "cannot be bound");
        ds_trace_set_loc(t, "model.py", 12, 5);
        ds_trace *prev = ds_trace_set_active(t);
        CHECK_ERR(ds_op_run1(DS_OP_ADD, 2, (ds_tensor *[]){a, b}, NULL, &r), DS_ERR_SHAPE,
                  "model.py:12:5: add: shapes [2, 3] and [4] cannot be broadcast");
        /* an in-place effect on a tensor the graph does not know */
        int n = 0;
        CHECK_ERR(ds_op_run(DS_OP_INDEX_PUT, 2, (ds_tensor *[]){w, b}, NULL, 0, NULL, &n), DS_ERR_VALUE,
                  "input 0 is written in place");
        ds_trace_set_active(prev);
        CHECK_OK(ds_trace_finish(t, 1, &w, NULL)); /* a concrete output is a constant */
        ds_tensor *tmp[] = {a, b, w};
        rel(3, tmp);
        ds_trace_release(t);
    }
    CHECK(ds_alloc_live_blocks() == base);
}

/* If(sum(x) > 0) { y = x * 2; (i, acc) = while i < 3: (i + 1, acc + x * w); acc + y } else { x - w }:
 * the then branch captures x; the loop inside it captures x and w two levels down. */
DS_TEST(trace_if_while_captures_two_levels) {
    int64_t base = ds_alloc_live_blocks();
    {
        int64_t s3[1] = {3};
        ds_tensor *w = f32(1, s3, (float[]){0.5f, -1, 2});
        ds_trace *t = NULL;
        CHECK_OK(ds_trace_new("outer", &t));
        ds_tensor *x = NULL, *zero = scalar_f(0), *two = scalar_f(2);
        CHECK_OK(ds_trace_add_param(t, "x", DS_FLOAT32, 1, s3, false, NULL, &x));
        CHECK_OK(ds_trace_add_param(t, "w", DS_FLOAT32, 1, s3, true, w, NULL));
        ds_trace *prev = ds_trace_set_active(t);
        ds_tensor *sx = OP1(SUM, x), *cond = OP2(GREATER, sx, zero);
        ds_trace *br[2] = {NULL, NULL};
        CHECK_OK(ds_trace_new_group(t, 2, (const char *[]){"then", "else"}, 0, NULL, br));
        CHECK(ds_trace_parent(br[0]) == t && ds_trace_num_params(br[0]) == 0);
        /* then branch */
        ds_trace_set_active(br[0]);
        ds_tensor *y = OP2(MUL, x, two);
        CHECK(ds_trace_num_captures(br[0]) == 1 && ds_trace_capture(br[1], 0) == x);
        ds_trace *lp[2] = {NULL, NULL};
        ds_trace_param_type carried[2] = {{"i", DS_INT64, 0, NULL}, {"acc", DS_FLOAT32, 1, s3}};
        CHECK_OK(ds_trace_new_group(br[0], 2, (const char *[]){"cond", "body"}, 2, carried, lp));
        ds_tensor *three = NULL, *onei = NULL, *i0 = NULL, *acc0 = NULL;
        ds_tensor_scalar_int(DS_INT64, 3, &three);
        ds_tensor_scalar_int(DS_INT64, 1, &onei);
        ds_tensor_scalar_int(DS_INT64, 0, &i0);
        ds_tensor_new_zeros(DS_FLOAT32, 1, s3, &acc0);
        ds_trace_set_active(lp[0]);
        ds_tensor *lt = OP2(LESS, ds_trace_param(lp[0], 0), three);
        CHECK_OK(ds_trace_finish(lp[0], 1, &lt, NULL));
        ds_trace_set_active(lp[1]);
        ds_tensor *i1 = OP2(ADD, ds_trace_param(lp[1], 0), onei);
        ds_tensor *xw = OP2(MUL, x, w); /* x and w come from two levels up */
        ds_tensor *acc1 = OP2(ADD, ds_trace_param(lp[1], 1), xw);
        CHECK(ds_trace_num_captures(lp[1]) == 2 && ds_trace_capture(lp[0], 1) == w);
        CHECK(ds_trace_num_captures(br[0]) == 2); /* w lifted through the then branch */
        CHECK_OK(ds_trace_finish(lp[1], 2, (ds_tensor *[]){i1, acc1}, NULL));
        ds_trace_set_active(br[0]);
        ds_tensor *loop_out[2] = {NULL, NULL};
        CHECK_OK(ds_trace_add_while(br[0], lp[0], lp[1], 2, (ds_tensor *[]){i0, acc0}, loop_out));
        ds_tensor *then_out = OP2(ADD, loop_out[1], y);
        CHECK_OK(ds_trace_finish(br[0], 1, &then_out, NULL));
        /* else branch */
        ds_trace_set_active(br[1]);
        ds_tensor *else_out = OP2(SUB, x, w);
        CHECK_OK(ds_trace_finish(br[1], 1, &else_out, NULL));
        ds_trace_set_active(t);
        ds_tensor *res[2] = {NULL, NULL};
        int nres = 0;
        CHECK_OK(ds_trace_add_if(t, cond, br[0], br[1], 0, NULL, 2, res, &nres));
        CHECK(nres == 1);
        ds_trace_set_active(prev);
        ds_graph *g = NULL;
        CHECK_OK(ds_trace_finish(t, 1, res, &g));
        CHECK_OK(ds_graph_verify(g));
        /* x positive: 3 * x * w + 2 x; else x - w */
        float xp[3] = {1, 2, 3}, xn[3] = {-1, -2, 0.5f};
        ds_tensor *xpos = f32(1, s3, xp), *xneg = f32(1, s3, xn);
        double wv[3] = {0.5, -1, 2};
        ds_tensor *want_p = NULL, *want_n = NULL;
        {
            float a[3], b[3];
            for (int i = 0; i < 3; i++) {
                a[i] = (float)(3 * xp[i] * wv[i] + 2 * xp[i]);
                b[i] = (float)(xn[i] - wv[i]);
            }
            want_p = f32(1, s3, a);
            want_n = f32(1, s3, b);
        }
        CHECK(run_both(g, 2, (ds_tensor *[]){xpos, w}, 1, &want_p, 1e-6));
        CHECK(run_both(g, 2, (ds_tensor *[]){xneg, w}, 1, &want_n, 1e-6));
        ds_tensor *tmp[] = {w, x, zero, two, sx, cond, y, three, onei, i0, acc0, lt, i1, xw, acc1, loop_out[0], loop_out[1],
                            then_out, else_out, res[0], xpos, xneg, want_p, want_n};
        rel(sizeof tmp / sizeof tmp[0], tmp);
        for (int i = 0; i < 2; i++) {
            ds_trace_release(lp[i]);
            ds_trace_release(br[i]);
        }
        ds_graph_release(g);
        ds_trace_release(t);
    }
    CHECK(ds_alloc_live_blocks() == base);
}

/* f(x) = sum(x * x * w) traced in a sub trace, called together with its gradient graph. */
DS_TEST(trace_call_with_gradient_graph) {
    int64_t base = ds_alloc_live_blocks();
    {
        int64_t s3[1] = {3};
        ds_tensor *w = f32(1, s3, (float[]){1, 2, 3}), *xv = f32(1, s3, (float[]){0.5f, -1, 2});
        ds_trace *t = NULL, *sub = NULL;
        ds_tensor *x = NULL;
        CHECK_OK(ds_trace_new("step", &t));
        CHECK_OK(ds_trace_add_param(t, "x", DS_FLOAT32, 1, s3, false, NULL, &x));
        CHECK_OK(ds_trace_add_param(t, "w", DS_FLOAT32, 1, s3, true, w, NULL));
        ds_trace_param_type p = {"x", DS_FLOAT32, 1, s3};
        CHECK_OK(ds_trace_new_group(t, 1, (const char *[]){"f"}, 1, &p, &sub));
        ds_trace *prev = ds_trace_set_active(sub);
        ds_tensor *px = ds_trace_param(sub, 0), *xx = OP2(MUL, px, px), *xxw = OP2(MUL, xx, w), *f = OP1(SUM, xxw);
        CHECK_OK(ds_trace_finish(sub, 1, &f, NULL));
        ds_graph *fg = NULL, *gg = NULL;
        CHECK_OK(ds_trace_get_graph(sub, &fg));
        CHECK(ds_graph_num_params(fg) == 2 && ds_graph_num_outputs(fg) == 1);
        CHECK_OK(ds_graph_grad(fg, 1, (int[]){0}, 2, (int[]){0, 1}, true, &gg));
        ds_tensor *sens = scalar_f(1), *outs[3] = {NULL};
        int n = 0;
        ds_trace_set_active(t);
        CHECK_OK(ds_trace_add_call(t, sub, gg, 1, &x, 1, &sens, 3, outs, &n));
        CHECK(n == 3);
        ds_tensor *plain[1] = {NULL};
        CHECK_OK(ds_trace_add_call(t, sub, NULL, 1, &x, 0, NULL, 1, plain, &n));
        ds_trace_set_active(prev);
        ds_graph *g = NULL;
        CHECK_OK(ds_trace_finish(t, 4, (ds_tensor *[]){outs[0], outs[1], outs[2], plain[0]}, &g));
        CHECK_OK(ds_graph_verify(g));
        float fv = 0.5f * 0.5f * 1 + 1 * 2 + 4 * 3;
        ds_tensor *want[4] = {scalar_f(fv), f32(1, s3, (float[]){2 * 0.5f * 1, 2 * -1.f * 2, 2 * 2.f * 3}),
                              f32(1, s3, (float[]){0.25f, 1, 4}), scalar_f(fv)};
        CHECK(run_both(g, 2, (ds_tensor *[]){xv, w}, 4, want, 1e-6));
        ds_tensor *tmp[] = {w, xv, x, xx, xxw, f, sens, outs[0], outs[1], outs[2], plain[0]};
        rel(sizeof tmp / sizeof tmp[0], tmp);
        rel(4, want);
        ds_graph_release(fg);
        ds_graph_release(gg);
        ds_graph_release(g);
        ds_trace_release(sub);
        ds_trace_release(t);
    }
    CHECK(ds_alloc_live_blocks() == base);
}

DS_TEST(trace_effects_go_to_the_graph) {
    int64_t base = ds_alloc_live_blocks();
    {
        ds_trace *t = NULL;
        CHECK_OK(ds_trace_new("fx", &t));
        int64_t s3[1] = {3};
        ds_tensor *x = NULL;
        CHECK_OK(ds_trace_add_param(t, "x", DS_FLOAT32, 1, s3, false, NULL, &x));
        ds_trace *prev = ds_trace_set_active(t);
        int64_t shape[1] = {3};
        ds_attr ua[4] = {{.kind = DS_ATTR_INTS, .n = 1, .v.ints = shape}};
        ds_tensor *u = op1(DS_OP_UNIFORM, 0, NULL, ua); /* no inputs, but random: a node */
        CHECK(u && ds_tensor_is_symbolic(u));
        ds_tensor *half = scalar_f(0.5);
        ds_tensor *bern = op1(DS_OP_BERNOULLI, 1, &u, NULL);
        /* a functional update through index_put on a copy of x */
        ds_tensor *xc = OP1(COPY, x), *idx = NULL, *val = scalar_f(9);
        ds_tensor_scalar_int(DS_INT64, 1, &idx);
        ds_tensor *idx1 = NULL;
        int64_t one[1] = {1};
        ds_tensor_new(DS_INT64, 1, one, &idx1);
        ((int64_t *)ds_tensor_data(idx1))[0] = 1;
        int n = -1;
        CHECK_OK(ds_op_run(DS_OP_INDEX_PUT, 3, (ds_tensor *[]){xc, val, idx1}, NULL, 0, NULL, &n));
        CHECK(n == 0);
        ds_tensor *s = OP2(ADD, xc, half);
        ds_trace_set_active(prev);
        int effects = 0, uniform = 0;
        ds_graph *tg = ds_trace_graph(t);
        for (int i = 0; i < ds_graph_num_nodes(tg); i++) {
            ds_node *nd = ds_graph_node(tg, i);
            effects += nd->effect;
            uniform += nd->kind == DS_NODE_OP && nd->op == DS_OP_UNIFORM;
        }
        CHECK(effects == 3 && uniform == 1);
        ds_graph *g = NULL;
        CHECK_OK(ds_trace_finish(t, 2, (ds_tensor *[]){s, bern}, &g));
        CHECK_OK(ds_graph_verify(g));
        ds_tensor *xv = f32(1, s3, (float[]){1, 2, 3}), *want = f32(1, s3, (float[]){1.5f, 9.5f, 3.5f});
        ds_tensor *out[2] = {NULL};
        CHECK_OK(ds_graph_eval(g, 1, &xv, 2, out, &n));
        CHECK(n == 2 && close_to(out[0], want, 0));
        CHECK(values_are(xv, 3, (double[]){1, 2, 3}, 0)); /* the input is not written */
        rel(2, out);
        ds_plan *p = NULL;
        CHECK_OK(ds_plan_new(g, &p));
        CHECK_OK(ds_plan_run(p, 1, &xv, 2, out, &n));
        CHECK(n == 2 && close_to(out[0], want, 0));
        rel(2, out);
        ds_plan_release(p);
        ds_tensor *tmp[] = {x, u, half, bern, xc, idx, val, idx1, s, xv, want};
        rel(sizeof tmp / sizeof tmp[0], tmp);
        ds_graph_release(g);
        ds_trace_release(t);
    }
    CHECK(ds_alloc_live_blocks() == base);
}

/* sgd_update and assign on bound weights: running the plan updates the bound tensors in place. */
DS_TEST(trace_bound_weights_updated_in_place) {
    int64_t base = ds_alloc_live_blocks();
    {
        int64_t s3[1] = {3};
        ds_tensor *w = f32(1, s3, (float[]){1, 2, 3}), *buf = f32(1, s3, (float[]){0, 0, 0});
        ds_tensor *v = f32(1, s3, (float[]){10, 20, 30});
        ds_trace *t = NULL;
        ds_tensor *g_sym = NULL;
        CHECK_OK(ds_trace_new("train", &t));
        CHECK_OK(ds_trace_add_param(t, "w", DS_FLOAT32, 1, s3, true, w, NULL));
        CHECK_OK(ds_trace_add_param(t, "buf", DS_FLOAT32, 1, s3, true, buf, NULL));
        CHECK_OK(ds_trace_add_param(t, "v", DS_FLOAT32, 1, s3, true, v, NULL));
        CHECK_OK(ds_trace_add_param(t, "g", DS_FLOAT32, 1, s3, false, NULL, &g_sym));
        ds_trace *prev = ds_trace_set_active(t);
        ds_tensor *loss = OP1(SUM, w); /* read before the update */
        ds_attr sgd[6] = {{.kind = DS_ATTR_FLOAT, .v.f = 0.5}, {.kind = DS_ATTR_FLOAT, .v.f = 0.9}};
        int n = -1;
        CHECK_OK(ds_op_run(DS_OP_SGD_UPDATE, 3, (ds_tensor *[]){w, g_sym, buf}, sgd, 0, NULL, &n));
        ds_tensor *half = scalar_f(0.5), *vh = OP2(MUL, v, half);
        CHECK_OK(ds_trace_add_assign(t, v, vh));
        /* an assign target must be a weight parameter */
        CHECK_ERR(ds_trace_add_assign(t, g_sym, vh), DS_ERR_VALUE, "weight parameter");
        CHECK_ERR(ds_trace_add_assign(t, half, vh), DS_ERR_VALUE, "not bound");
        ds_trace_set_active(prev);
        ds_graph *g = NULL;
        CHECK_OK(ds_trace_finish(t, 1, &loss, &g));
        CHECK_OK(ds_graph_verify(g));
        ds_tensor *gv = f32(1, s3, (float[]){1, -1, 2}), *out[1] = {NULL};
        ds_plan *p = NULL;
        CHECK_OK(ds_plan_new(g, &p));
        CHECK_OK(ds_plan_run(p, 4, (ds_tensor *[]){w, buf, v, gv}, 1, out, &n));
        CHECK(values_are(out[0], 1, (double[]){6}, 0));
        CHECK(values_are(w, 3, (double[]){0.5, 2.5, 2}, 1e-7));
        CHECK(values_are(buf, 3, (double[]){1, -1, 2}, 1e-7));
        CHECK(values_are(v, 3, (double[]){5, 10, 15}, 0));
        rel(1, out);
        /* a second run continues from the updated state (momentum 0.9) */
        CHECK_OK(ds_plan_run(p, 4, (ds_tensor *[]){w, buf, v, gv}, 1, out, &n));
        CHECK(values_are(out[0], 1, (double[]){5}, 1e-7));
        CHECK(values_are(w, 3, (double[]){0.5 - 0.95, 2.5 + 0.95, 2 - 1.9}, 1e-6));
        CHECK(values_are(v, 3, (double[]){2.5, 5, 7.5}, 0));
        rel(1, out);
        ds_plan_release(p);
        ds_tensor *tmp[] = {w, buf, v, g_sym, loss, half, vh, gv};
        rel(sizeof tmp / sizeof tmp[0], tmp);
        ds_graph_release(g);
        ds_trace_release(t);
    }
    CHECK(ds_alloc_live_blocks() == base);
}

/* rebind (x[i] = v in functional form), print, and an assign inside an If branch on a captured weight. */
DS_TEST(trace_rebind_print_and_assign_in_branch) {
    int64_t base = ds_alloc_live_blocks();
    {
        int64_t s3[1] = {3};
        ds_tensor *w = f32(1, s3, (float[]){1, 2, 3}), *c = f32(1, s3, (float[]){1, 1, 1});
        ds_trace *t = NULL;
        ds_tensor *x = NULL, *flag = NULL;
        CHECK_OK(ds_trace_new("rb", &t));
        CHECK_OK(ds_trace_add_param(t, "x", DS_FLOAT32, 1, s3, false, NULL, &x));
        CHECK_OK(ds_trace_add_param(t, "w", DS_FLOAT32, 1, s3, true, w, NULL));
        CHECK_OK(ds_trace_add_param(t, "flag", DS_BOOL, 0, NULL, false, NULL, &flag));
        ds_trace *prev = ds_trace_set_active(t);
        /* c is concrete and unmapped; after rebind it reads x + c from the graph */
        ds_tensor *xc = OP2(ADD, x, c);
        CHECK_OK(ds_trace_rebind(t, c, xc));
        CHECK(ds_trace_lookup(t, c) != NULL);
        ds_tensor *cc = OP2(MUL, c, c);
        CHECK(ds_tensor_is_symbolic(cc));
        CHECK_OK(ds_trace_add_print(t, "cc:", 1, &cc));
        ds_trace *br[2] = {NULL, NULL};
        CHECK_OK(ds_trace_new_group(t, 2, NULL, 0, NULL, br));
        ds_trace_set_active(br[0]);
        ds_tensor *w2 = OP2(ADD, w, w);
        CHECK_OK(ds_trace_add_assign(br[0], w, w2));
        CHECK_OK(ds_trace_finish(br[0], 1, &w2, NULL));
        ds_trace_set_active(br[1]);
        CHECK_OK(ds_trace_finish(br[1], 1, &w, NULL));
        ds_trace_set_active(t);
        ds_tensor *r = NULL;
        int n = 0;
        CHECK_OK(ds_trace_add_if(t, flag, br[0], br[1], 0, NULL, 1, &r, &n));
        ds_trace_set_active(prev);
        ds_graph *g = NULL;
        CHECK_OK(ds_trace_finish(t, 2, (ds_tensor *[]){cc, r}, &g));
        CHECK_OK(ds_graph_verify(g));
        CHECK(values_are(c, 3, (double[]){1, 1, 1}, 0)); /* c itself is untouched */
        ds_tensor *xv = f32(1, s3, (float[]){1, 2, 3}), *out[2] = {NULL};
        for (int mode = 0; mode < 2; mode++) {
            ds_tensor *fl = NULL;
            ds_tensor_scalar_int(DS_BOOL, 1, &fl);
            ds_tensor *wm = f32(1, s3, (float[]){1, 2, 3});
            if (mode == 0) CHECK_OK(ds_graph_eval(g, 3, (ds_tensor *[]){xv, wm, fl}, 2, out, &n));
            else {
                ds_plan *p = NULL;
                CHECK_OK(ds_plan_new(g, &p));
                CHECK_OK(ds_plan_run(p, 3, (ds_tensor *[]){xv, wm, fl}, 2, out, &n));
                ds_plan_release(p);
            }
            CHECK(values_are(out[0], 3, (double[]){4, 9, 16}, 0));
            CHECK(values_are(out[1], 3, (double[]){2, 4, 6}, 0));
            CHECK(values_are(wm, 3, (double[]){2, 4, 6}, 0)); /* written by the assign in the branch */
            rel(2, out);
            ds_tensor_release(fl);
            ds_tensor_release(wm);
        }
        ds_tensor *tmp[] = {w, c, x, flag, xc, cc, w2, r, xv};
        rel(sizeof tmp / sizeof tmp[0], tmp);
        ds_trace_release(br[0]);
        ds_trace_release(br[1]);
        ds_graph_release(g);
        ds_trace_release(t);
    }
    CHECK(ds_alloc_live_blocks() == base);
}

DS_TEST(trace_group_misuse) {
    int64_t base = ds_alloc_live_blocks();
    {
        ds_trace *t = NULL, *u = NULL, *br[2] = {NULL, NULL}, *other[2] = {NULL, NULL};
        CHECK_OK(ds_trace_new("t", &t));
        CHECK_OK(ds_trace_new("u", &u));
        ds_tensor *x = NULL, *y = NULL, *r[2] = {NULL};
        CHECK_OK(ds_trace_add_param(t, "x", DS_FLOAT32, 0, NULL, false, NULL, &x));
        CHECK_OK(ds_trace_new_group(t, 2, NULL, 0, NULL, br));
        CHECK_OK(ds_trace_new_group(t, 2, NULL, 0, NULL, other));
        CHECK_ERR(ds_trace_add_param(br[0], "p", DS_FLOAT32, 0, NULL, false, NULL, NULL), DS_ERR_VALUE, "ds_trace_new_group");
        int n = 0;
        CHECK_OK(ds_trace_finish(br[0], 1, &x, NULL));
        CHECK_ERR(ds_trace_add_if(t, x, br[0], br[1], 0, NULL, 2, r, &n), DS_ERR_VALUE, "not finished");
        CHECK_ERR(ds_trace_get_graph(br[1], NULL), DS_ERR_VALUE, "not finished");
        CHECK_OK(ds_trace_finish(br[1], 1, &x, NULL));
        CHECK_OK(ds_trace_finish(other[0], 1, &x, NULL));
        CHECK_OK(ds_trace_finish(other[1], 1, &x, NULL));
        CHECK_ERR(ds_trace_add_if(t, x, br[0], other[1], 0, NULL, 2, r, &n), DS_ERR_VALUE, "not siblings");
        CHECK_ERR(ds_trace_add_if(u, x, br[0], br[1], 0, NULL, 2, r, &n), DS_ERR_VALUE, "not a sub trace");
        /* the symbolic x of t is not a value of u */
        ds_trace *prev = ds_trace_set_active(u);
        CHECK_ERR(ds_op_run1(DS_OP_NEG, 1, &x, NULL, &y), DS_ERR_VALUE, "another graph");
        ds_trace_set_active(prev);
        ds_tensor *b = NULL;
        ds_tensor_scalar_int(DS_BOOL, 1, &b);
        CHECK_OK(ds_trace_add_if(t, b, br[0], br[1], 0, NULL, 2, r, &n));
        CHECK_ERR(ds_trace_add_while(t, other[0], other[1], 0, NULL, r), DS_ERR_VALUE,
                  "While: the body returns 1 values for 0 loop-carried values");
        ds_trace *third[2] = {NULL, NULL};
        CHECK_OK(ds_trace_new_group(t, 2, NULL, 0, NULL, third));
        CHECK_OK(ds_trace_finish(third[0], 1, &x, NULL));
        CHECK_OK(ds_trace_finish(third[1], 0, NULL, NULL));
        CHECK_ERR(ds_trace_add_while(t, third[0], third[1], 0, NULL, r), DS_ERR_VALUE, "one bool scalar");
        ds_trace_release(third[0]);
        ds_trace_release(third[1]);
        ds_tensor *tmp[] = {x, y, r[0], b};
        rel(4, tmp);
        for (int i = 0; i < 2; i++) {
            ds_trace_release(br[i]);
            ds_trace_release(other[i]);
        }
        ds_trace_release(t);
        ds_trace_release(u);
    }
    CHECK(ds_alloc_live_blocks() == base);
}

DS_TEST(trace_allocation_failures_do_not_leak) {
    int64_t base = ds_alloc_live_blocks();
    for (int fail = 1; fail < 400; fail++) {
        int64_t s3[1] = {3};
        ds_tensor *w = f32(1, s3, (float[]){1, 2, 3}), *one = scalar_f(1);
        ds_trace *t = NULL, *br[2] = {NULL, NULL};
        ds_tensor *x = NULL, *y = NULL, *z = NULL, *r = NULL;
        ds_graph *g = NULL;
        ds_alloc_debug_begin(fail);
        ds_status st = ds_trace_new("f", &t);
        if (!st) st = ds_trace_add_param(t, "x", DS_FLOAT32, 1, s3, false, NULL, &x);
        ds_trace *prev = ds_trace_set_active(t);
        if (!st) st = ds_op_run1(DS_OP_MUL, 2, (ds_tensor *[]){x, w}, NULL, &y);
        if (!st) st = ds_trace_new_group(t, 2, NULL, 0, NULL, br);
        if (!st) {
            ds_trace_set_active(br[0]);
            st = ds_op_run1(DS_OP_ADD, 2, (ds_tensor *[]){y, one}, NULL, &z);
            if (!st) st = ds_trace_finish(br[0], 1, &z, NULL);
            if (!st) st = ds_trace_finish(br[1], 1, &x, NULL);
            ds_trace_set_active(t);
        }
        int n = 0;
        if (!st) st = ds_trace_add_if(t, one, br[0], br[1], 0, NULL, 1, &r, &n);
        ds_trace_set_active(prev);
        if (!st) st = ds_trace_finish(t, 1, &r, &g);
        int64_t count = ds_alloc_debug_count();
        ds_alloc_debug_begin(0);
        ds_tensor *tmp[] = {w, one, x, y, z, r};
        rel(6, tmp);
        ds_trace_release(br[0]);
        ds_trace_release(br[1]);
        ds_trace_release(t);
        ds_graph_release(g);
        CHECK(ds_alloc_live_blocks() == base);
        if (!st) {
            CHECK(count < fail);
            break;
        }
    }
}

DS_TEST_MAIN()
