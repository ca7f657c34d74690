/* Training a two-layer MLP with the graph executor, from C, using only the public header.
 *
 * 1. build the forward graph: loss = mean((relu(x @ w1 + b1) @ w2 + b2 - y)^2);
 * 2. differentiate it once with ds_graph_grad: a graph returning the loss and the weights' gradients;
 * 3. build one SGD training step as a graph: Call the gradient graph, then assign w - lr * dw to every
 *    weight (the assigns update the caller's weight tensors in place, in program order);
 * 4. compile the step into a plan and run it until the loss falls 10x. The data is a regression to a
 *    fixed random "teacher" network. Exits non-zero if the loss does not fall 10x.
 *
 * Every run of the compiled step reuses the plan: no allocation besides the returned loss tensor. */
#include <stdio.h>
#include <stdlib.h>

#include "dynastat.h"

#define BATCH 256
#define IN 8
#define HIDDEN 32
#define TEACHER_HIDDEN 6
#define LR 0.05
#define MAX_STEPS 3000

#define CHECK(expr)                                                                                \
    do {                                                                                           \
        if ((expr) != DS_OK) {                                                                     \
            fprintf(stderr, "%s:%d: %s failed: %s\n", __FILE__, __LINE__, #expr, ds_error_message()); \
            exit(2);                                                                               \
        }                                                                                          \
    } while (0)

static ds_value *op2(ds_graph *g, ds_op_id op, ds_value *a, ds_value *b) {
    ds_value *in[2] = {a, b}, *r;
    CHECK(ds_graph_add_op1(g, op, 2, in, NULL, &r));
    return r;
}

static ds_value *op1(ds_graph *g, ds_op_id op, ds_value *a, const ds_attr *attrs) {
    ds_value *r;
    CHECK(ds_graph_add_op1(g, op, 1, &a, attrs, &r));
    return r;
}

static ds_value *scalar(ds_graph *g, double v) {
    ds_tensor *t;
    ds_value *r;
    CHECK(ds_tensor_scalar(DS_FLOAT32, v, &t));
    CHECK(ds_graph_add_const(g, t, &r));
    ds_tensor_release(t);
    return r;
}

/* Parameters x, y, w1, b1, w2, b2 (the weights marked trainable); returns the network's prediction. */
static ds_value *mlp(ds_graph *g, int hidden, ds_op_id act, ds_value **params) {
    int64_t batch, xs[2], ys[2] = {0, 1}, w1s[2] = {IN, hidden}, b1s[1] = {hidden}, w2s[2] = {hidden, 1}, b2s[1] = {1};
    CHECK(ds_graph_symbol(g, "batch", &batch));
    xs[0] = ys[0] = batch;
    xs[1] = IN;
    CHECK(ds_graph_add_param(g, "x", DS_FLOAT32, 2, xs, false, &params[0]));
    CHECK(ds_graph_add_param(g, "y", DS_FLOAT32, 2, ys, false, &params[1]));
    CHECK(ds_graph_add_param(g, "w1", DS_FLOAT32, 2, w1s, true, &params[2]));
    CHECK(ds_graph_add_param(g, "b1", DS_FLOAT32, 1, b1s, true, &params[3]));
    CHECK(ds_graph_add_param(g, "w2", DS_FLOAT32, 2, w2s, true, &params[4]));
    CHECK(ds_graph_add_param(g, "b2", DS_FLOAT32, 1, b2s, true, &params[5]));
    ds_graph_set_loc(g, "mlp.c", __LINE__, 0);
    ds_value *h = op1(g, act, op2(g, DS_OP_ADD, op2(g, DS_OP_MATMUL, params[0], params[2]), params[3]), NULL);
    return op2(g, DS_OP_ADD, op2(g, DS_OP_MATMUL, h, params[4]), params[5]);
}

/* A new tensor of normal random values times `scale`. */
static ds_tensor *randn(int ndim, const int64_t *shape, double scale) {
    ds_attr attrs[4] = {{.kind = DS_ATTR_INTS, .n = ndim, .v.ints = shape}, {.kind = DS_ATTR_FLOAT, .v.f = 0},
                        {.kind = DS_ATTR_FLOAT, .v.f = scale}, {.kind = DS_ATTR_DTYPE, .v.dtype = DS_FLOAT32}};
    ds_tensor *t;
    CHECK(ds_op_run1(DS_OP_NORMAL, 0, NULL, attrs, &t));
    return t;
}

int main(void) {
    ds_random_seed(7);
    /* ---- the forward graph and its gradient */
    ds_graph *fwd, *grad, *step, *teacher_g;
    ds_value *p[6];
    CHECK(ds_graph_new("mlp_loss", &fwd));
    ds_value *pred = mlp(fwd, HIDDEN, DS_OP_RELU, p);
    ds_attr all[2] = {{.kind = DS_ATTR_NONE}, {.kind = DS_ATTR_BOOL, .v.b = false}};
    ds_value *loss = op1(fwd, DS_OP_MEAN, op1(fwd, DS_OP_SQUARE, op2(fwd, DS_OP_SUB, pred, p[1]), NULL), all);
    CHECK(ds_graph_set_outputs(fwd, 1, &loss));
    int sel = 0, wrt[4] = {2, 3, 4, 5};
    CHECK(ds_graph_grad(fwd, 1, &sel, 4, wrt, false, &grad)); /* (x, y, w...) -> loss, dw1, db1, dw2, db2 */

    /* ---- one SGD step: call the gradient graph, assign w - lr * dw */
    ds_value *s[6], *res[5];
    int n;
    CHECK(ds_graph_new("sgd_step", &step));
    for (int i = 0; i < 6; i++) { /* the loss graph's parameters (its symbolic batch dim left unknown) */
        ds_value *gp = ds_graph_param(fwd, i);
        int64_t dims[2] = {0, 0};
        for (int d = 0; d < ds_value_ndim(gp); d++) dims[d] = ds_value_dims(gp)[d] < 0 ? -1 : ds_value_dims(gp)[d];
        CHECK(ds_graph_add_param(step, i == 0 ? "x" : i == 1 ? "y" : "w", ds_value_dtype(gp), ds_value_ndim(gp), dims, i >= 2, &s[i]));
    }
    CHECK(ds_graph_add_call(step, grad, 6, s, 5, res, &n));
    ds_value *lr = scalar(step, LR);
    for (int i = 0; i < 4; i++) CHECK(ds_graph_add_assign(step, s[2 + i], op2(step, DS_OP_SUB, s[2 + i], op2(step, DS_OP_MUL, res[1 + i], lr))));
    CHECK(ds_graph_set_outputs(step, 1, &res[0]));
    CHECK(ds_graph_verify(step));

    /* ---- data: x ~ N(0, 1), y = teacher(x) with a fixed random tanh network */
    ds_value *tp[6];
    CHECK(ds_graph_new("teacher", &teacher_g));
    ds_value *ty = mlp(teacher_g, TEACHER_HIDDEN, DS_OP_TANH, tp);
    CHECK(ds_graph_set_outputs(teacher_g, 1, &ty));
    int64_t xs[2] = {BATCH, IN}, ys[2] = {BATCH, 1}, tw1[2] = {IN, TEACHER_HIDDEN}, tb1[1] = {TEACHER_HIDDEN},
            tw2[2] = {TEACHER_HIDDEN, 1}, one[1] = {1};
    ds_tensor *x = randn(2, xs, 1.0), *y0 = randn(2, ys, 0.0), *y;
    ds_tensor *targs[6] = {x, y0, randn(2, tw1, 0.7), randn(1, tb1, 0.3), randn(2, tw2, 1.0), randn(1, one, 0.2)};
    ds_plan *teacher;
    CHECK(ds_plan_new(teacher_g, &teacher));
    CHECK(ds_plan_run(teacher, 6, targs, 1, &y, NULL));

    /* ---- the student, and training */
    int64_t w1s[2] = {IN, HIDDEN}, b1s[1] = {HIDDEN}, w2s[2] = {HIDDEN, 1};
    ds_tensor *w[4] = {randn(2, w1s, 0.5), randn(1, b1s, 0.1), randn(2, w2s, 0.2), randn(1, one, 0.0)};
    ds_tensor *args[6] = {x, y, w[0], w[1], w[2], w[3]};
    ds_plan *plan;
    CHECK(ds_plan_new(step, &plan));
    double first = 0, last = 0;
    int steps = 0;
    for (; steps < MAX_STEPS; steps++) {
        ds_tensor *l;
        CHECK(ds_plan_run(plan, 6, args, 1, &l, NULL));
        CHECK(ds_tensor_get_double(l, 0, &last));
        ds_tensor_release(l);
        if (steps == 0) first = last;
        if (steps % 100 == 0) printf("step %4d  loss %.6f\n", steps, last);
        if (last <= first / 10) break;
    }
    ds_plan_statistics st;
    ds_plan_stats(plan, &st);
    printf("step %4d  loss %.6f (%.1fx lower than at the start)\n", steps, last, first / last);
    printf("plan: %d compile(s), %d runs; the step's %d steps launch %d kernels with an arena of %lld bytes\n", (int)st.n_compiles,
           (int)st.n_runs, st.n_steps, st.n_kernels, (long long)st.arena_bytes);
    int ok = last <= first / 10;
    printf(ok ? "ok: the loss fell 10x\n" : "FAILED: the loss did not fall 10x in %d steps\n", MAX_STEPS);

    for (int i = 0; i < 4; i++) ds_tensor_release(w[i]);
    for (int i = 2; i < 6; i++) ds_tensor_release(targs[i]);
    ds_tensor_release(x);
    ds_tensor_release(y0);
    ds_tensor_release(y);
    ds_plan_release(plan);
    ds_plan_release(teacher);
    ds_graph_release(fwd);
    ds_graph_release(grad);
    ds_graph_release(step);
    ds_graph_release(teacher_g);
    return ok ? 0 : 1;
}
