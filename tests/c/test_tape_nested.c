/* The eager tape from C: nested tapes (ds_tape_push / pop) and gradients of gradients, custom nodes with
 * host backward functions, hooks, op gradient overrides, and their memory behaviour. Ops run through
 * ds_op_run, which records on the active tapes (as eager code does). */
#include "grad_check.h"

static ds_tensor *op1(ds_op_id op, int n, ds_tensor *const *in, const ds_attr *attrs) {
    ds_tensor *out = NULL;
    if (ds_op_run1(op, n, in, attrs, &out)) printf("  %s: %s\n", ds_op_get_info(op)->name, ds_error_message());
    return out;
}

static double value(const ds_tensor *t, int64_t i) {
    double v = NAN;
    if (t) ds_tensor_get_double(t, i, &v);
    return v;
}

static ds_tensor *vec(int n, const double *v) {
    ds_tensor *t = NULL;
    if (ds_tensor_new(DS_FLOAT64, 1, (int64_t[]){n}, &t)) return NULL;
    double *p = ds_tensor_data(t);
    for (int i = 0; i < n; i++) p[i] = v[i];
    return t;
}

#define SUM_ALL ((ds_attr[]){AN, AB(false)})

/* f(x) = sum(x^3): grad 3x^2, second 6x, third 6 (each order recorded on the tape outside it). */
DS_TEST(nested_tapes_give_higher_orders) {
    int64_t base = ds_alloc_live_blocks();
    ds_tensor *x = vec(3, (double[]){1, 2, -3});
    ds_tape *t1, *t2, *t3;
    CHECK_OK(ds_tape_new(&t1));
    CHECK_OK(ds_tape_new(&t2));
    CHECK_OK(ds_tape_new(&t3));
    CHECK_OK(ds_tape_watch(t1, x));
    CHECK_OK(ds_tape_push(t1));
    CHECK_OK(ds_tape_watch(t2, x));
    CHECK_OK(ds_tape_push(t2));
    CHECK_OK(ds_tape_watch(t3, x));
    CHECK_OK(ds_tape_push(t3));
    CHECK_ERR(ds_tape_push(t1), DS_ERR_VALUE, "already active");
    ds_tensor *x2 = op1(DS_OP_MUL, 2, (ds_tensor *[]){x, x}, NULL);
    ds_tensor *x3 = op1(DS_OP_MUL, 2, (ds_tensor *[]){x2, x}, NULL);
    ds_tensor *f = op1(DS_OP_SUM, 1, &x3, SUM_ALL);
    CHECK(ds_graph_num_nodes(ds_tape_graph(t1)) == 3 && ds_graph_num_nodes(ds_tape_graph(t3)) == 3);
    CHECK_ERR(ds_tape_pop(t2), DS_ERR_VALUE, "reverse order");
    CHECK_OK(ds_tape_pop(t3));
    ds_tensor *g1 = NULL, *s1 = NULL, *g2 = NULL, *s2 = NULL, *g3 = NULL;
    CHECK_OK(ds_tape_backward(t3, 1, &f, NULL, 1, &x, &g1)); /* recorded on t2 and t1 */
    for (int i = 0; i < 3; i++) CHECK_NEAR(value(g1, i), 3 * value(x, i) * value(x, i), 1e-12);
    CHECK(ds_tape_requires_grad(t2, g1) && ds_tape_requires_grad(t1, g1) && !ds_tape_requires_grad(t3, g1));
    s1 = op1(DS_OP_SUM, 1, &g1, SUM_ALL);
    CHECK_OK(ds_tape_pop(t2));
    CHECK_OK(ds_tape_backward(t2, 1, &s1, NULL, 1, &x, &g2)); /* recorded on t1 */
    for (int i = 0; i < 3; i++) CHECK_NEAR(value(g2, i), 6 * value(x, i), 1e-12);
    s2 = op1(DS_OP_SUM, 1, &g2, SUM_ALL);
    CHECK_OK(ds_tape_pop(t1));
    CHECK(ds_tape_active() == NULL);
    CHECK_OK(ds_tape_backward(t1, 1, &s2, NULL, 1, &x, &g3));
    for (int i = 0; i < 3; i++) CHECK_NEAR(value(g3, i), 6, 1e-12);
    ds_tensor *ts[] = {x, x2, x3, f, g1, s1, g2, s2, g3};
    gc_release(9, ts);
    ds_tape_release(t1);
    ds_tape_release(t2);
    ds_tape_release(t3);
    CHECK(ds_alloc_live_blocks() == base);
}

/* Pausing recording (set_active(NULL)) and resuming keeps the stack; a backward run while its own tape is
 * active is not recorded on it. */
DS_TEST(pause_and_backward_while_active) {
    ds_tensor *x = vec(2, (double[]){1.5, -2});
    ds_tape *t;
    CHECK_OK(ds_tape_new(&t));
    CHECK_OK(ds_tape_watch(t, x));
    CHECK_OK(ds_tape_push(t));
    ds_tape *prev = ds_tape_set_active(NULL);
    ds_tensor *c = op1(DS_OP_EXP, 1, &x, NULL);
    CHECK(ds_graph_num_nodes(ds_tape_graph(t)) == 0 && !ds_tape_requires_grad(t, c));
    ds_tape_set_active(prev);
    ds_tensor *e = op1(DS_OP_EXP, 1, &x, NULL), *s = op1(DS_OP_SUM, 1, &e, SUM_ALL), *g = NULL;
    CHECK(ds_graph_num_nodes(ds_tape_graph(t)) == 2);
    CHECK_OK(ds_tape_backward(t, 1, &s, NULL, 1, &x, &g));
    CHECK(ds_graph_num_nodes(ds_tape_graph(t)) == 2 && !ds_tape_requires_grad(t, g));
    for (int i = 0; i < 2; i++) CHECK_NEAR(value(g, i), exp(value(x, i)), 1e-12);
    CHECK_OK(ds_tape_pop(t));
    ds_tensor *ts[] = {x, c, e, s, g};
    gc_release(5, ts);
    ds_tape_release(t);
}

/* A custom node: y = 2x computed outside the tape, backward by a host function (here 3 * dout, to tell
 * it from the true derivative), called with the live tensors. */
typedef struct vjp_log {
    int calls;
    double scale;
    bool saw_out;
} vjp_log;

static ds_status scale_vjp(void *ctx, const ds_tape_vjp_args *a, ds_tensor **gin) {
    vjp_log *log = ctx;
    log->calls++;
    log->saw_out = a->n_out == 1 && a->outputs[0] && a->op == DS_OP_COUNT && a->attrs == NULL;
    ds_tensor *k = NULL;
    ds_status st = ds_tensor_scalar(DS_FLOAT64, log->scale, &k);
    if (!st && a->need[0]) st = ds_op_run1(DS_OP_MUL, 2, (ds_tensor *[]){a->gout[0], k}, NULL, &gin[0]);
    ds_tensor_release(k);
    return st;
}

static int retained;
static void log_retain(void *ctx) { retained++; }
static void log_release(void *ctx) { retained--; }

DS_TEST(custom_node_backward_and_second_order) {
    int64_t base = ds_alloc_live_blocks();
    ds_tensor *x = vec(3, (double[]){1, 2, 3});
    vjp_log log = {0, 3.0, false};
    ds_tape_vjp v = {scale_vjp, &log, log_retain, log_release};
    ds_tape *outer, *inner;
    CHECK_OK(ds_tape_new(&outer));
    CHECK_OK(ds_tape_new(&inner));
    CHECK_OK(ds_tape_watch(outer, x));
    CHECK_OK(ds_tape_push(outer));
    CHECK_OK(ds_tape_watch(inner, x));
    CHECK_OK(ds_tape_push(inner));
    ds_tensor *xx = op1(DS_OP_MUL, 2, (ds_tensor *[]){x, x}, NULL); /* x^2 */
    ds_tape *prev = ds_tape_set_active(NULL);
    ds_tensor *y = op1(DS_OP_ADD, 2, (ds_tensor *[]){xx, xx}, NULL); /* 2 x^2, not recorded */
    ds_tape_set_active(prev);
    CHECK_OK(ds_tape_record_custom(inner, "twice", 1, &xx, 1, &y, &v)); /* on inner and outer */
    CHECK(retained == 2 && ds_tape_requires_grad(inner, y) && ds_tape_requires_grad(outer, y));
    ds_tensor *f = op1(DS_OP_SUM, 1, &y, SUM_ALL), *g = NULL, *s = NULL, *gg = NULL;
    CHECK_OK(ds_tape_pop(inner));
    CHECK_OK(ds_tape_backward(inner, 1, &f, NULL, 1, &x, &g)); /* 3 * 2x (the custom backward, then x^2) */
    CHECK(log.calls == 1 && log.saw_out);
    for (int i = 0; i < 3; i++) CHECK_NEAR(value(g, i), 6 * value(x, i), 1e-12);
    s = op1(DS_OP_SUM, 1, &g, SUM_ALL);
    CHECK_OK(ds_tape_pop(outer));
    CHECK_OK(ds_tape_backward(outer, 1, &s, NULL, 1, &x, &gg)); /* d/dx sum(6x) = 6 */
    for (int i = 0; i < 3; i++) CHECK_NEAR(value(gg, i), 6, 1e-12);
    ds_tape_release(inner);
    CHECK(retained == 1);
    ds_tape_release(outer);
    CHECK(retained == 0);
    ds_tensor *ts[] = {x, xx, y, f, g, s, gg};
    gc_release(7, ts);
    CHECK(ds_alloc_live_blocks() == base);
}

/* A host backward returning a wrong shape or failing: the backward fails with its message. */
static ds_status bad_shape_vjp(void *ctx, const ds_tape_vjp_args *a, ds_tensor **gin) {
    return ds_tensor_new_zeros(DS_FLOAT64, 1, (int64_t[]){7}, &gin[0]);
}
static ds_status failing_vjp(void *ctx, const ds_tape_vjp_args *a, ds_tensor **gin) {
    return ds_errorf(DS_ERR_VALUE, "%s: refused", a->name);
}

DS_TEST(custom_node_errors) {
    ds_tensor *x = vec(2, (double[]){1, 2}), *g = NULL;
    ds_tape *t;
    CHECK_OK(ds_tape_new(&t));
    CHECK_OK(ds_tape_watch(t, x));
    ds_tensor *y = op1(DS_OP_NEG, 1, &x, NULL);
    ds_tape_vjp bad = {bad_shape_vjp, NULL, NULL, NULL}, fail = {failing_vjp, NULL, NULL, NULL};
    CHECK_ERR(ds_tape_record_custom(t, "neg", 1, &x, 1, &y, NULL), DS_ERR_VALUE, "no backward function");
    CHECK_OK(ds_tape_record_custom(t, "neg", 1, &x, 1, &y, &bad));
    ds_tensor *s = op1(DS_OP_SUM, 1, &y, SUM_ALL);
    CHECK_OK(ds_tape_record(t, DS_OP_SUM, 1, &y, SUM_ALL, 1, &s));
    CHECK_ERR(ds_tape_backward(t, 1, &s, NULL, 1, &x, &g), DS_ERR_SHAPE,
              "neg: the backward returned a gradient of shape [7] for input 0 of shape [2]");
    ds_tensor *y2 = op1(DS_OP_NEG, 1, &x, NULL);
    CHECK_OK(ds_tape_record_custom(t, "neg2", 1, &x, 1, &y2, &fail));
    CHECK_ERR(ds_tape_backward(t, 1, &y2, (ds_tensor *[]){x}, 1, &x, &g), DS_ERR_VALUE, "neg2: refused");
    CHECK(g == NULL);
    ds_tensor *ts[] = {x, y, s, y2};
    gc_release(4, ts);
    ds_tape_release(t);
}

/* Hooks: the gradient reaching x from its later uses goes through the hook (here: times 10); the
 * gradient with respect to x is the hooked one; the same hook twice is added once. */
DS_TEST(hooks_transform_the_gradient) {
    ds_tensor *x = vec(2, (double[]){1, 2}), *g = NULL;
    vjp_log log = {0, 10.0, false};
    ds_tape_vjp h = {scale_vjp, &log, NULL, NULL};
    ds_tape *t;
    CHECK_OK(ds_tape_new(&t));
    CHECK_OK(ds_tape_watch(t, x));
    CHECK_OK(ds_tape_push(t));
    CHECK_OK(ds_tape_add_hook(t, x, &h));
    CHECK_OK(ds_tape_add_hook(t, x, &h));
    CHECK(ds_graph_num_nodes(ds_tape_graph(t)) == 1);
    ds_tensor *y = op1(DS_OP_MUL, 2, (ds_tensor *[]){x, x}, NULL), *s = op1(DS_OP_SUM, 1, &y, SUM_ALL);
    CHECK_OK(ds_tape_pop(t));
    CHECK_OK(ds_tape_backward(t, 1, &s, NULL, 1, &x, &g));
    CHECK(log.calls == 1);
    for (int i = 0; i < 2; i++) CHECK_NEAR(value(g, i), 20 * value(x, i), 1e-12);
    ds_tensor *ts[] = {x, y, s, g};
    gc_release(4, ts);
    ds_tape_release(t);
}

/* An op gradient override: mul recorded as a custom node whose backward sees the op and its attrs. */
static ds_status mul_override(void *ctx, const ds_tape_vjp_args *a, ds_tensor **gin) {
    int *calls = ctx;
    (*calls)++;
    if (a->op != DS_OP_MUL || a->n_in != 2) return ds_errorf(DS_ERR_INTERNAL, "wrong op");
    for (int i = 0; i < 2; i++) /* d(x*y)/dx = dout * y, times 100 to tell it from the built-in rule */
        if (a->need[i]) {
            ds_tensor *p = op1(DS_OP_MUL, 2, (ds_tensor *[]){a->gout[0], a->inputs[1 - i]}, NULL), *k = NULL;
            ds_tensor_scalar(DS_FLOAT64, 100, &k);
            gin[i] = op1(DS_OP_MUL, 2, (ds_tensor *[]){p, k}, NULL);
            ds_tensor_release(p);
            ds_tensor_release(k);
        }
    return DS_OK;
}

DS_TEST(op_gradient_override) {
    int calls = 0;
    ds_tape_vjp v = {mul_override, &calls, NULL, NULL};
    ds_tensor *x = vec(2, (double[]){1, 2}), *w = vec(2, (double[]){3, 4}), *g[2] = {NULL, NULL};
    CHECK_OK(ds_tape_set_op_vjp(DS_OP_MUL, &v));
    ds_tape *t;
    CHECK_OK(ds_tape_new(&t));
    CHECK_OK(ds_tape_watch(t, x));
    CHECK_OK(ds_tape_push(t));
    ds_tensor *y = op1(DS_OP_MUL, 2, (ds_tensor *[]){x, w}, NULL), *s = op1(DS_OP_SUM, 1, &y, SUM_ALL);
    CHECK_OK(ds_tape_pop(t));
    CHECK_OK(ds_tape_set_op_vjp(DS_OP_MUL, NULL)); /* recorded nodes keep their backward */
    CHECK_OK(ds_tape_backward(t, 1, &s, NULL, 2, (ds_tensor *[]){x, w}, g));
    CHECK(calls == 1);
    for (int i = 0; i < 2; i++) {
        CHECK_NEAR(value(g[0], i), 100 * value(w, i), 1e-12);
        CHECK_NEAR(value(g[1], i), 0, 0); /* w is not watched */
    }
    CHECK_ERR(ds_tape_set_op_vjp(DS_OP_COUNT, &v), DS_ERR_VALUE, "unknown op");
    ds_tensor *ts[] = {x, w, y, s, g[0], g[1]};
    gc_release(6, ts);
    ds_tape_release(t);
}

/* Views made without ds_op_run: recorded explicitly (also of a non-contiguous base), or adopted when an
 * op reads them; both differentiate into the base, to second order. */
DS_TEST(views_made_outside_ops) {
    int64_t base = ds_alloc_live_blocks();
    ds_tensor *x = NULL;
    CHECK_OK(ds_tensor_new(DS_FLOAT64, 2, (int64_t[]){2, 3}, &x));
    for (int i = 0; i < 6; i++) ((double *)ds_tensor_data(x))[i] = i + 1; /* [[1 2 3] [4 5 6]] */
    ds_tape *outer, *t;
    CHECK_OK(ds_tape_new(&outer));
    CHECK_OK(ds_tape_new(&t));
    CHECK_OK(ds_tape_watch(outer, x));
    CHECK_OK(ds_tape_push(outer));
    CHECK_OK(ds_tape_watch(t, x));
    CHECK_OK(ds_tape_push(t));
    ds_tensor *xt = op1(DS_OP_TRANSPOSE, 1, &x, NULL), *col = NULL, *row = NULL, *other = NULL; /* [3, 2] view */
    CHECK_OK(ds_tensor_select(xt, 1, 1, &col)); /* x[1, :] through the transpose: 4 5 6 */
    CHECK_OK(ds_tape_record_view(t, xt, col));
    CHECK_OK(ds_tensor_select(x, 0, 0, &row)); /* x[0, :], adopted when mul reads it */
    ds_tensor *p = op1(DS_OP_MUL, 2, (ds_tensor *[]){col, row}, NULL); /* [4 10 18] */
    ds_tensor *p2 = op1(DS_OP_MUL, 2, (ds_tensor *[]){p, p}, NULL), *f = op1(DS_OP_SUM, 1, &p2, SUM_ALL);
    ds_tensor *g = NULL, *gs = NULL, *gg = NULL;
    CHECK_OK(ds_tensor_new(DS_FLOAT32, 1, (int64_t[]){3}, &other));
    CHECK_ERR(ds_tape_record_view(t, x, other), DS_ERR_VALUE, "is not a view of distinct elements");
    CHECK_OK(ds_tape_pop(t));
    /* f = sum((x0 * x1)^2): df/dx0 = 2 x0 x1^2, df/dx1 = 2 x1 x0^2 */
    CHECK_OK(ds_tape_backward(t, 1, &f, NULL, 1, &x, &g));
    double want[6] = {2 * 1 * 16, 2 * 2 * 25, 2 * 3 * 36, 2 * 4 * 1, 2 * 5 * 4, 2 * 6 * 9};
    for (int i = 0; i < 6; i++) CHECK_NEAR(value(g, i), want[i], 1e-9);
    gs = op1(DS_OP_SUM, 1, &g, SUM_ALL);
    CHECK_OK(ds_tape_pop(outer));
    /* d/dx0 sum(2 x0 x1^2 + 2 x1 x0^2) = 2 x1^2 + 4 x0 x1; d/dx1 = 4 x0 x1 + 2 x0^2 */
    CHECK_OK(ds_tape_backward(outer, 1, &gs, NULL, 1, &x, &gg));
    for (int i = 0; i < 3; i++) {
        double a = i + 1, b = i + 4;
        CHECK_NEAR(value(gg, i), 2 * b * b + 4 * a * b, 1e-9);
        CHECK_NEAR(value(gg, i + 3), 4 * a * b + 2 * a * a, 1e-9);
    }
    ds_tensor *ts[] = {x, xt, col, row, other, p, p2, f, g, gs, gg};
    gc_release(11, ts);
    ds_tape_release(t);
    ds_tape_release(outer);
    CHECK(ds_alloc_live_blocks() == base);
}

DS_TEST(nested_alloc_failure_sweep) {
    ds_tensor *x = gc_rand(DS_FLOAT64, 1, (int64_t[]){3}, -1, 1);
    vjp_log log = {0, 2.0, false};
    ds_tape_vjp h = {scale_vjp, &log, NULL, NULL};
    int64_t k = 1;
    for (;; k++) {
        int64_t base = ds_alloc_live_blocks();
        ds_tape *a = NULL, *b = NULL;
        ds_tensor *y = NULL, *s = NULL, *g = NULL, *gs = NULL, *gg = NULL;
        bool pa = false, pb = false;
        ds_alloc_debug_begin(k);
        ds_status st = ds_tape_new(&a);
        if (!st) st = ds_tape_new(&b);
        if (!st) st = ds_tape_watch(a, x);
        if (!st && !(st = ds_tape_push(a))) pa = true;
        if (!st) st = ds_tape_watch(b, x);
        if (!st && !(st = ds_tape_push(b))) pb = true;
        if (!st) st = ds_tape_add_hook(b, x, &h);
        if (!st) st = ds_op_run1(DS_OP_SIN, 1, &x, NULL, &y);
        if (!st) st = ds_op_run1(DS_OP_SUM, 1, &y, SUM_ALL, &s);
        if (pb && !ds_tape_pop(b)) pb = false;
        if (!st) st = ds_tape_backward(b, 1, &s, NULL, 1, &x, &g);
        if (!st) st = ds_op_run1(DS_OP_SUM, 1, &g, SUM_ALL, &gs);
        if (pa && !ds_tape_pop(a)) pa = false;
        if (!st) st = ds_tape_backward(a, 1, &gs, NULL, 1, &x, &gg);
        int64_t used = ds_alloc_debug_count();
        ds_alloc_debug_begin(0);
        CHECK(st == DS_OK || st == DS_ERR_NOMEM);
        CHECK(!pa && !pb && ds_tape_active() == NULL);
        if (st == DS_OK)
            for (int i = 0; i < 3; i++) CHECK_NEAR(value(gg, i), -4 * sin(value(x, i)), 1e-12); /* the hook doubles both orders */
        ds_tensor *ts[] = {y, s, g, gs, gg};
        gc_release(5, ts);
        ds_tape_release(b);
        ds_tape_release(a);
        CHECK(ds_alloc_live_blocks() == base);
        if ((st == DS_OK && used < k) || k > 5000) break;
    }
    CHECK(k > 20);
    ds_tensor_release(x);
}

DS_TEST_MAIN()
