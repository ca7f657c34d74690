/* Graph executor benchmark (public API only):
 *  - a chain of 8 elementwise float32 ops on 4M elements, run op by op (eager ds_op_run), as one fused
 *    plan (ds_plan_run_into a preallocated output, and ds_plan_run allocating it), next to one memory
 *    pass over the same bytes (memcpy of the input into the output);
 *  - the time to compile a 200-node graph (ds_plan_new + ds_plan_compile).
 * Prints medians; the budgets are fused <= 1.5x memcpy and compile < 5 ms.
 * Usage: graph_bench [--quick] [--threads N] */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dynastat.h"

#define N_ELEMS (4 * 1024 * 1024)
#define MAX_REPS 64

static double now_ms(void) { /* wall clock, ms */
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec * 1e-6;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double median(double *t, int n) {
    qsort(t, (size_t)n, sizeof(double), cmp_double);
    return n % 2 ? t[n / 2] : 0.5 * (t[n / 2 - 1] + t[n / 2]);
}

#define CHECK(expr)                                                                                \
    do {                                                                                           \
        if ((expr) != DS_OK) {                                                                     \
            fprintf(stderr, "%s:%d: %s failed: %s\n", __FILE__, __LINE__, #expr, ds_error_message()); \
            exit(1);                                                                               \
        }                                                                                          \
    } while (0)

/* The chain: y = neg(min(abs(relu(x * 1.5 + 0.5) * 0.75 - 0.25), 2)) ... 8 ops with scalar operands. */
static const ds_op_id k_ops[8] = {DS_OP_MUL, DS_OP_ADD, DS_OP_RELU, DS_OP_MUL, DS_OP_SUB, DS_OP_ABS, DS_OP_MINIMUM, DS_OP_NEG};
static const double k_consts[8] = {1.5, 0.5, 0, 0.75, 0.25, 0, 2.0, 0};

static ds_status run_eager(ds_tensor *x, ds_tensor *const *consts, ds_tensor **out) {
    ds_tensor *cur = ds_tensor_retain(x);
    for (int i = 0; i < 8; i++) {
        ds_tensor *in[2] = {cur, consts[i]}, *next;
        ds_status st = ds_op_run1(k_ops[i], consts[i] ? 2 : 1, in, NULL, &next);
        ds_tensor_release(cur);
        if (st) return st;
        cur = next;
    }
    *out = cur;
    return DS_OK;
}

static ds_graph *chain_graph(ds_tensor *const *consts) {
    ds_graph *g;
    ds_value *x, *v;
    int64_t n = N_ELEMS;
    CHECK(ds_graph_new("chain8", &g));
    CHECK(ds_graph_add_param(g, "x", DS_FLOAT32, 1, &n, false, &x));
    v = x;
    for (int i = 0; i < 8; i++) {
        ds_value *in[2] = {v, NULL};
        if (consts[i]) CHECK(ds_graph_add_const(g, consts[i], &in[1]));
        CHECK(ds_graph_add_op1(g, k_ops[i], consts[i] ? 2 : 1, in, NULL, &v));
    }
    CHECK(ds_graph_set_outputs(g, 1, &v));
    return g;
}

/* 200 nodes: 10 blocks of a dense layer with a normalisation, views and a residual. */
static ds_graph *big_graph(void) {
    ds_graph *g;
    ds_value *x, *w, *b, *h;
    int64_t B;
    CHECK(ds_graph_new("layers", &g));
    CHECK(ds_graph_symbol(g, "batch", &B));
    int64_t xs[2] = {B, 64}, ws[2] = {64, 64}, bs[1] = {64};
    CHECK(ds_graph_add_param(g, "x", DS_FLOAT32, 2, xs, false, &x));
    CHECK(ds_graph_add_param(g, "w", DS_FLOAT32, 2, ws, true, &w));
    CHECK(ds_graph_add_param(g, "b", DS_FLOAT32, 1, bs, true, &b));
    ds_tensor *eps_t, *half_t;
    ds_value *eps, *half;
    CHECK(ds_tensor_scalar(DS_FLOAT32, 1e-5, &eps_t));
    CHECK(ds_tensor_scalar(DS_FLOAT32, 0.5, &half_t));
    h = x;
    int64_t axis[1] = {-1}, perm[2] = {1, 0};
    ds_attr red[2] = {{.kind = DS_ATTR_INTS, .n = 1, .v.ints = axis}, {.kind = DS_ATTR_BOOL, .v.b = true}};
    ds_attr tr = {.kind = DS_ATTR_INTS, .n = 2, .v.ints = perm};
    while (ds_graph_num_nodes(g) < 200) {
        ds_value *t, *mu, *d, *var, *r;
        CHECK(ds_graph_add_const(g, eps_t, &eps));                                        /* 1 */
        CHECK(ds_graph_add_const(g, half_t, &half));                                      /* 2 */
        CHECK(ds_graph_add_op1(g, DS_OP_MATMUL, 2, (ds_value *[]){h, w}, NULL, &t));        /* 3 */
        CHECK(ds_graph_add_op1(g, DS_OP_ADD, 2, (ds_value *[]){t, b}, NULL, &t));           /* 4 */
        CHECK(ds_graph_add_op1(g, DS_OP_MEAN, 1, &t, red, &mu));                           /* 5 */
        CHECK(ds_graph_add_op1(g, DS_OP_SUB, 2, (ds_value *[]){t, mu}, NULL, &d));          /* 6 */
        CHECK(ds_graph_add_op1(g, DS_OP_SQUARE, 1, &d, NULL, &var));                       /* 7 */
        CHECK(ds_graph_add_op1(g, DS_OP_MEAN, 1, &var, red, &var));                        /* 8 */
        CHECK(ds_graph_add_op1(g, DS_OP_ADD, 2, (ds_value *[]){var, eps}, NULL, &var));     /* 9 */
        CHECK(ds_graph_add_op1(g, DS_OP_RSQRT, 1, &var, NULL, &var));                      /* 10 */
        CHECK(ds_graph_add_op1(g, DS_OP_MUL, 2, (ds_value *[]){d, var}, NULL, &d));         /* 11 */
        CHECK(ds_graph_add_op1(g, DS_OP_GELU, 1, &d, NULL, &r));                           /* 12 */
        CHECK(ds_graph_add_op1(g, DS_OP_TRANSPOSE, 1, &r, &tr, &r));                       /* 13 */
        CHECK(ds_graph_add_op1(g, DS_OP_TRANSPOSE, 1, &r, &tr, &r));                       /* 14 */
        CHECK(ds_graph_add_op1(g, DS_OP_MUL, 2, (ds_value *[]){r, half}, NULL, &r));        /* 15 */
        CHECK(ds_graph_add_op1(g, DS_OP_ADD, 2, (ds_value *[]){r, h}, NULL, &r));           /* 16 */
        CHECK(ds_graph_add_op1(g, DS_OP_TANH, 1, &r, NULL, &r));                           /* 17 */
        CHECK(ds_graph_add_op1(g, DS_OP_SIGMOID, 1, &r, NULL, &d));                        /* 18 */
        CHECK(ds_graph_add_op1(g, DS_OP_MUL, 2, (ds_value *[]){r, d}, NULL, &r));           /* 19 */
        CHECK(ds_graph_add_op1(g, DS_OP_MAXIMUM, 2, (ds_value *[]){r, t}, NULL, &h));       /* 20 */
    }
    CHECK(ds_graph_set_outputs(g, 1, &h));
    ds_tensor_release(eps_t);
    ds_tensor_release(half_t);
    return g;
}

int main(int argc, char **argv) {
    int reps = 21;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--quick")) reps = 7;
        else if (!strcmp(argv[i], "--threads") && i + 1 < argc) ds_set_num_threads(atoi(argv[++i]));
        else {
            fprintf(stderr, "usage: %s [--quick] [--threads N]\n", argv[0]);
            return 2;
        }
    }
    printf("dynastat graph executor benchmark: %d threads, SIMD %s, BLAS %s\n", ds_get_num_threads(), ds_simd_level(),
           ds_blas_backend());

    /* ---- the 8-op chain */
    int64_t n = N_ELEMS;
    ds_tensor *x, *y, *consts[8] = {NULL};
    CHECK(ds_tensor_new(DS_FLOAT32, 1, &n, &x));
    CHECK(ds_tensor_new(DS_FLOAT32, 1, &n, &y));
    float *xp = ds_tensor_data(x);
    for (int64_t i = 0; i < n; i++) xp[i] = (float)((i * 7919) % 2001) / 500.0f - 2.0f;
    memset(ds_tensor_data(y), 0, sizeof(float) * (size_t)n);
    for (int i = 0; i < 8; i++)
        if (k_consts[i] != 0) CHECK(ds_tensor_scalar(DS_FLOAT32, k_consts[i], &consts[i]));
    ds_graph *g = chain_graph(consts);
    ds_plan *p;
    CHECK(ds_plan_new(g, &p));

    double t_eager[MAX_REPS], t_fused[MAX_REPS], t_fused_alloc[MAX_REPS], t_copy[MAX_REPS];
    ds_tensor *ref, *got;
    CHECK(run_eager(x, consts, &ref)); /* warm up, and the reference */
    CHECK(ds_plan_run_into(p, 1, &x, 1, &y));
    if (memcmp(ds_tensor_data(ref), ds_tensor_data(y), sizeof(float) * (size_t)n) != 0) {
        fprintf(stderr, "fused result differs from eager\n");
        return 1;
    }
    ds_tensor_release(ref);
    /* each method in its own warm loop */
    for (int r = 0; r < reps; r++) {
        double t0 = now_ms();
        CHECK(run_eager(x, consts, &ref));
        t_eager[r] = now_ms() - t0;
        ds_tensor_release(ref);
    }
    for (int r = 0; r < reps; r++) {
        double t0 = now_ms();
        CHECK(ds_plan_run(p, 1, &x, 1, &got, NULL));
        t_fused_alloc[r] = now_ms() - t0;
        ds_tensor_release(got);
    }
    for (int r = 0; r < reps + 2; r++) {
        double t0 = now_ms();
        CHECK(ds_plan_run_into(p, 1, &x, 1, &y));
        if (r >= 2) t_fused[r - 2] = now_ms() - t0;
    }
    for (int r = 0; r < reps + 2; r++) {
        double t0 = now_ms();
        memcpy(ds_tensor_data(y), xp, sizeof(float) * (size_t)n);
        if (r >= 2) t_copy[r - 2] = now_ms() - t0;
    }
    double me = median(t_eager, reps), mf = median(t_fused, reps), mfa = median(t_fused_alloc, reps), mc = median(t_copy, reps);
    ds_plan_statistics st;
    ds_plan_stats(p, &st);
    double gb = 2.0 * sizeof(float) * (double)n / 1e9;
    printf("\n8 elementwise float32 ops on %d elements (median of %d, ms; GB/s = read + write of one pass)\n", N_ELEMS, reps);
    printf("  %-34s %9.3f ms  %6.1f GB/s  %5.2fx memcpy\n", "eager, op by op (ds_op_run)", me, gb / me * 1e3, me / mc);
    printf("  %-34s %9.3f ms  %6.1f GB/s  %5.2fx memcpy\n", "fused plan (ds_plan_run_into)", mf, gb / mf * 1e3, mf / mc);
    printf("  %-34s %9.3f ms  %6.1f GB/s  %5.2fx memcpy\n", "fused plan (ds_plan_run, new output)", mfa, gb / mfa * 1e3, mfa / mc);
    printf("  %-34s %9.3f ms  %6.1f GB/s\n", "one memory pass (memcpy)", mc, gb / mc * 1e3);
    printf("  plan: %d kernel launch(es), %d fused group(s) of %d ops, arena %lld bytes, tile scratch %lld bytes\n", st.n_kernels,
           st.n_fused_groups, st.n_fused_ops, (long long)st.arena_bytes, (long long)st.scratch_bytes);
    printf("  fused vs eager: %.1fx faster; fused vs memcpy: %.2fx (budget 1.5x): %s\n", me / mf, mf / mc, mf / mc <= 1.5 ? "ok" : "OVER");

    /* ---- compiling a 200-node graph */
    ds_graph *big = big_graph();
    int64_t xs[2] = {32, 64}, ws[2] = {64, 64}, bs[1] = {64};
    ds_tensor *args[3];
    CHECK(ds_tensor_new_zeros(DS_FLOAT32, 2, xs, &args[0]));
    CHECK(ds_tensor_new_zeros(DS_FLOAT32, 2, ws, &args[1]));
    CHECK(ds_tensor_new_zeros(DS_FLOAT32, 1, bs, &args[2]));
    double t_compile[MAX_REPS];
    for (int r = 0; r < reps; r++) {
        ds_plan *bp;
        double t0 = now_ms();
        CHECK(ds_plan_new(big, &bp));
        CHECK(ds_plan_compile(bp, 3, args));
        t_compile[r] = now_ms() - t0;
        if (r == 0) ds_plan_stats(bp, &st);
        ds_plan_release(bp);
    }
    double mcomp = median(t_compile, reps);
    printf("\ncompiling a %d-node graph (dense + layer norm + gelu + views + residual, x10)\n", ds_graph_num_nodes(big));
    printf("  ds_plan_new + ds_plan_compile: %.3f ms (budget 5 ms): %s\n", mcomp, mcomp < 5.0 ? "ok" : "OVER");
    printf("  plan: %d steps, %d kernel launches, %d fused groups of %d ops, %d views, %d in place, arena %lld of %lld bytes\n",
           st.n_steps, st.n_kernels, st.n_fused_groups, st.n_fused_ops, st.n_views, st.n_inplace, (long long)st.arena_bytes,
           (long long)st.value_bytes);

    for (int i = 0; i < 3; i++) ds_tensor_release(args[i]);
    for (int i = 0; i < 8; i++) ds_tensor_release(consts[i]);
    ds_tensor_release(x);
    ds_tensor_release(y);
    ds_plan_release(p);
    ds_graph_release(g);
    ds_graph_release(big);
    return 0;
}
