/* The eager tape: recording ops run on watched tensors and differentiating them with the same reverse
 * pass as graphs (results compared with ds_graph_grad on the equivalent graph). */
#include <time.h>

#include "grad_check.h"

/* Runs op eagerly and records it on the tape (what eager dispatch will do when a tape is active). */
static ds_tensor *run(ds_tape *t, ds_op_id op, int n, ds_tensor *const *in, const ds_attr *attrs) {
    ds_tensor *out = NULL;
    if (ds_op_run1(op, n, in, attrs, &out)) {
        printf("  %s: %s\n", ds_op_get_info(op)->name, ds_error_message());
        return NULL;
    }
    if (ds_tape_record(t, op, n, in, attrs, 1, &out)) {
        printf("  record %s: %s\n", ds_op_get_info(op)->name, ds_error_message());
        ds_tensor_release(out);
        return NULL;
    }
    return out;
}

static bool close_to(const ds_tensor *a, const ds_tensor *b, double tol) {
    if (!a || !b || ds_tensor_numel(a) != ds_tensor_numel(b) || ds_tensor_dtype(a) != ds_tensor_dtype(b)) return false;
    for (int64_t i = 0; i < ds_tensor_numel(a); i++) {
        double x, y;
        ds_tensor_get_double(a, i, &x);
        ds_tensor_get_double(b, i, &y);
        if (!(fabs(x - y) <= tol * (1 + fabs(y)))) {
            printf("  element %lld: %.15g vs %.15g\n", (long long)i, x, y);
            return false;
        }
    }
    return true;
}

/* loss = sum(tanh((x * z) @ w + b)), x and w and b watched, z not. */
DS_TEST(tape_matches_graph_pass) {
    int64_t base = ds_alloc_live_blocks();
    ds_tape *tape;
    CHECK_OK(ds_tape_new(&tape));
    ds_tensor *x = gc_rand(DS_FLOAT64, 2, (int64_t[]){2, 3}, -1, 1), *z = gc_rand(DS_FLOAT64, 2, (int64_t[]){2, 3}, -1, 1);
    ds_tensor *w = gc_rand(DS_FLOAT64, 2, (int64_t[]){3, 4}, -1, 1), *b = gc_rand(DS_FLOAT64, 1, (int64_t[]){4}, -1, 1);
    CHECK_OK(ds_tape_watch(tape, x));
    CHECK_OK(ds_tape_watch(tape, w));
    CHECK_OK(ds_tape_watch(tape, b));
    CHECK(ds_tape_requires_grad(tape, x) && !ds_tape_requires_grad(tape, z));
    ds_tensor *xz = run(tape, DS_OP_MUL, 2, (ds_tensor *[]){x, z}, NULL);
    ds_tensor *mm = run(tape, DS_OP_MATMUL, 2, (ds_tensor *[]){xz, w}, NULL);
    ds_tensor *h = run(tape, DS_OP_ADD, 2, (ds_tensor *[]){mm, b}, NULL);
    ds_tensor *a = run(tape, DS_OP_TANH, 1, &h, NULL);
    ds_tensor *loss = run(tape, DS_OP_SUM, 1, &a, (ds_attr[]){AN, AB(false)});
    CHECK(ds_tape_requires_grad(tape, loss));
    CHECK(ds_graph_num_nodes(ds_tape_graph(tape)) == 5);
    ds_tensor *grads[4] = {NULL};
    CHECK_OK(ds_tape_backward(tape, 1, &loss, NULL, 4, (ds_tensor *[]){x, w, b, z}, grads));
    /* the same computation as a graph */
    ds_graph *g, *G;
    ds_value *px, *pz, *pw, *pb, *v;
    ds_graph_new("ref", &g);
    ds_graph_add_param(g, "x", DS_FLOAT64, 2, (int64_t[]){2, 3}, false, &px);
    ds_graph_add_param(g, "z", DS_FLOAT64, 2, (int64_t[]){2, 3}, false, &pz);
    ds_graph_add_param(g, "w", DS_FLOAT64, 2, (int64_t[]){3, 4}, false, &pw);
    ds_graph_add_param(g, "b", DS_FLOAT64, 1, (int64_t[]){4}, false, &pb);
    ds_graph_add_op1(g, DS_OP_MUL, 2, (ds_value *[]){px, pz}, NULL, &v);
    ds_graph_add_op1(g, DS_OP_MATMUL, 2, (ds_value *[]){v, pw}, NULL, &v);
    ds_graph_add_op1(g, DS_OP_ADD, 2, (ds_value *[]){v, pb}, NULL, &v);
    ds_graph_add_op1(g, DS_OP_TANH, 1, &v, NULL, &v);
    ds_graph_add_op1(g, DS_OP_SUM, 1, &v, (ds_attr[]){AN, AB(false)}, &v);
    CHECK_OK(ds_graph_set_outputs(g, 1, &v));
    CHECK_OK(ds_graph_grad(g, 1, (int[]){0}, 3, (int[]){0, 2, 3}, false, &G));
    ds_tensor *ref[4];
    CHECK_OK(ds_graph_eval(G, 4, (ds_tensor *[]){x, z, w, b}, 4, ref, NULL));
    CHECK(close_to(grads[0], ref[1], 1e-14));
    CHECK(close_to(grads[1], ref[2], 1e-14));
    CHECK(close_to(grads[2], ref[3], 1e-14));
    double zsum = 0, e;
    for (int i = 0; i < 6; i++) zsum += (ds_tensor_get_double(grads[3], i, &e), fabs(e));
    CHECK(zsum == 0); /* z was not watched: zeros */
    /* a second backward gives the same result */
    ds_tensor *again[4];
    CHECK_OK(ds_tape_backward(tape, 1, &loss, NULL, 4, (ds_tensor *[]){x, w, b, z}, again));
    CHECK(close_to(again[1], grads[1], 0));
    gc_release(4, again);
    gc_release(4, ref);
    gc_release(4, grads);
    ds_graph_release(G);
    ds_graph_release(g);
    ds_tensor *ts[] = {x, z, w, b, xz, mm, h, a, loss};
    gc_release(9, ts);
    ds_tape_release(tape);
    CHECK(ds_alloc_live_blocks() == base);
}

DS_TEST(tape_sens_intermediates_and_reuse) {
    ds_tape *tape;
    CHECK_OK(ds_tape_new(&tape));
    ds_tensor *x = gc_rand(DS_FLOAT64, 1, (int64_t[]){4}, -1, 1);
    CHECK_OK(ds_tape_watch(tape, x));
    ds_tensor *y = run(tape, DS_OP_SIN, 1, &x, NULL);
    ds_tensor *z = run(tape, DS_OP_MUL, 2, (ds_tensor *[]){y, x}, NULL); /* x used twice: cotangents add */
    ds_tensor *s = gc_rand(DS_FLOAT64, 1, (int64_t[]){4}, -1, 1), *g[2];
    CHECK_ERR(ds_tape_backward(tape, 1, &z, NULL, 1, &x, g), DS_ERR_VALUE, "grad of a non-scalar output needs a sensitivity (sens): output 0 has shape [4]");
    CHECK_OK(ds_tape_backward(tape, 1, &z, &s, 2, (ds_tensor *[]){x, y}, g));
    for (int i = 0; i < 4; i++) {
        double xv, sv, gx, gy;
        ds_tensor_get_double(x, i, &xv), ds_tensor_get_double(s, i, &sv);
        ds_tensor_get_double(g[0], i, &gx), ds_tensor_get_double(g[1], i, &gy);
        CHECK_NEAR(gx, sv * (cos(xv) * xv + sin(xv)), 1e-14);
        CHECK_NEAR(gy, sv * xv, 1e-14); /* with respect to the intermediate y */
    }
    gc_release(2, g);
    ds_tensor *ts[] = {x, y, z, s};
    gc_release(4, ts);
    ds_tape_release(tape);
}

DS_TEST(tape_records_only_what_needs_grad) {
    ds_tape *tape;
    CHECK_OK(ds_tape_new(&tape));
    ds_tensor *x = gc_rand(DS_FLOAT64, 1, (int64_t[]){4}, -1, 1), *c = gc_rand(DS_FLOAT64, 1, (int64_t[]){4}, -1, 1);
    ds_tensor *xi = gc_ints(1, (int64_t[]){4}, VALS(1, 2, 3, 4));
    CHECK_ERR(ds_tape_watch(tape, xi), DS_ERR_DTYPE, "only float tensors can require gradients, got int64");
    CHECK_OK(ds_tape_watch(tape, x));
    ds_tensor *cc = run(tape, DS_OP_EXP, 1, &c, NULL);                            /* no input requires grad */
    ds_tensor *gt = run(tape, DS_OP_GREATER, 2, (ds_tensor *[]){x, c}, NULL);     /* zero gradient */
    ds_tensor *am = run(tape, DS_OP_ARGMAX, 1, &x, (ds_attr[]){AN, AB(false)});   /* zero gradient */
    ds_tensor *sg = run(tape, DS_OP_STOP_GRADIENT, 1, &x, NULL);                  /* stops gradients */
    CHECK(ds_graph_num_nodes(ds_tape_graph(tape)) == 0);
    CHECK(!ds_tape_requires_grad(tape, cc) && !ds_tape_requires_grad(tape, gt) && !ds_tape_requires_grad(tape, sg));
    ds_tensor *m = run(tape, DS_OP_MUL, 2, (ds_tensor *[]){x, sg}, NULL), *gr;
    CHECK(ds_graph_num_nodes(ds_tape_graph(tape)) == 1);
    ds_tensor *sum = run(tape, DS_OP_SUM, 1, &m, (ds_attr[]){AN, AB(false)});
    CHECK_OK(ds_tape_backward(tape, 1, &sum, NULL, 1, &x, &gr));
    CHECK(close_to(gr, x, 0)); /* d/dx sum(x * stop_gradient(x)) = x */
    ds_tensor_release(gr);
    /* an in-place write into a tensor that requires grad is refused */
    ds_tensor *idx = gc_ints(1, (int64_t[]){1}, VALS(0)), *val = gc_rand(DS_FLOAT64, 0, NULL, 1, 1);
    CHECK_ERR(ds_tape_record(tape, DS_OP_INDEX_PUT, 3, (ds_tensor *[]){m, val, idx}, NULL, 0, NULL), DS_ERR_UNSUPPORTED,
              "index_put: an in-place write into a tensor that requires grad is not supported");
    ds_tensor *ts[] = {x, c, xi, cc, gt, am, sg, m, sum, idx, val};
    gc_release(11, ts);
    ds_tape_release(tape);
}

DS_TEST(active_tape_is_per_thread) {
    ds_tape *t;
    CHECK(ds_tape_active() == NULL);
    CHECK_OK(ds_tape_new(&t));
    CHECK(ds_tape_set_active(t) == NULL);
    CHECK(ds_tape_active() == t);
    ds_tape_release(t); /* releasing the active tape deactivates it */
    CHECK(ds_tape_active() == NULL);
}

/* Recording cost (informational; budgets are measured in bench/, never asserted in tests). */
DS_TEST(record_cost) {
    ds_tape *tape;
    CHECK_OK(ds_tape_new(&tape));
    ds_tensor *x = gc_rand(DS_FLOAT32, 1, (int64_t[]){8}, -1, 1), *y = gc_rand(DS_FLOAT32, 1, (int64_t[]){8}, -1, 1);
    CHECK_OK(ds_tape_watch(tape, x));
    enum { N = 20000 };
    ds_tensor **outs = calloc(N, sizeof(ds_tensor *));
    for (int i = 0; i < N; i++) ds_op_run1(DS_OP_ADD, 2, (ds_tensor *[]){i ? outs[i - 1] : x, y}, NULL, &outs[i]);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (int i = 0; i < N; i++) ds_tape_record(tape, DS_OP_ADD, 2, (ds_tensor *[]){i ? outs[i - 1] : x, y}, NULL, 1, &outs[i]);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double ns = ((double)(t1.tv_sec - t0.tv_sec) * 1e9 + (double)(t1.tv_nsec - t0.tv_nsec)) / N;
    printf("  record: %.0f ns per op\n", ns);
    CHECK(ds_graph_num_nodes(ds_tape_graph(tape)) == N);
    gc_release(N, outs);
    free(outs);
    ds_tensor_release(x);
    ds_tensor_release(y);
    ds_tape_release(tape);
}

DS_TEST(tape_alloc_failure_sweep) {
    ds_tensor *x = gc_rand(DS_FLOAT64, 2, (int64_t[]){2, 3}, -1, 1), *w = gc_rand(DS_FLOAT64, 2, (int64_t[]){3, 2}, -1, 1);
    int64_t k = 1;
    for (;; k++) {
        int64_t base = ds_alloc_live_blocks();
        ds_tape *tape = NULL;
        ds_tensor *mm = NULL, *a = NULL, *l = NULL, *g[2] = {NULL, NULL};
        ds_alloc_debug_begin(k);
        ds_status st = ds_tape_new(&tape);
        if (!st) st = ds_tape_watch(tape, x);
        if (!st) st = ds_tape_watch(tape, w);
        if (!st && !(st = ds_op_run1(DS_OP_MATMUL, 2, (ds_tensor *[]){x, w}, NULL, &mm)))
            st = ds_tape_record(tape, DS_OP_MATMUL, 2, (ds_tensor *[]){x, w}, NULL, 1, &mm);
        if (!st && !(st = ds_op_run1(DS_OP_SIGMOID, 1, &mm, NULL, &a))) st = ds_tape_record(tape, DS_OP_SIGMOID, 1, &mm, NULL, 1, &a);
        ds_attr all[2] = {AN, AB(false)};
        if (!st && !(st = ds_op_run1(DS_OP_MEAN, 1, &a, all, &l))) st = ds_tape_record(tape, DS_OP_MEAN, 1, &a, all, 1, &l);
        if (!st) st = ds_tape_backward(tape, 1, &l, NULL, 2, (ds_tensor *[]){x, w}, g);
        int64_t used = ds_alloc_debug_count();
        ds_alloc_debug_begin(0);
        CHECK(st == DS_OK || st == DS_ERR_NOMEM);
        gc_release(2, g);
        ds_tensor *ts[] = {mm, a, l};
        gc_release(3, ts);
        ds_tape_release(tape);
        CHECK(ds_alloc_live_blocks() == base);
        if ((st == DS_OK && used < k) || k > 5000) break;
    }
    CHECK(k > 20);
    ds_tensor_release(x);
    ds_tensor_release(w);
}

DS_TEST_MAIN()
