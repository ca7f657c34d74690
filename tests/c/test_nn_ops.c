/* nn ops: softmax, log_softmax (and their backward ops), softmax cross-entropy, bce with logits and the
 * in-place optimizer updates, against reference code computed here in double precision; gradients by
 * finite differences to second order; stability at logits of +-1e4; every error path. */
#include <stdlib.h>

#include "grad_check.h"
#include "kernels/nn.h"

/* ---------------------------------------------------------------- helpers */
static double urand(double lo, double hi) { return lo + gc_uniform() * (hi - lo); }

/* A tensor of dtype dt holding v (rounded to dt). */
static ds_tensor *mk(ds_dtype dt, int nd, const int64_t *sh, const double *v) {
    ds_tensor *d = NULL, *t = NULL;
    if (ds_tensor_from_data(DS_FLOAT64, nd, sh, v, &d)) return NULL;
    if (dt == DS_FLOAT64) return d;
    if (!ds_tensor_new(dt, nd, sh, &t) && ds_tensor_copy_into(t, d)) {
        ds_tensor_release(t);
        t = NULL;
    }
    ds_tensor_release(d);
    return t;
}

static ds_tensor *mk_int(ds_dtype dt, int nd, const int64_t *sh, const int64_t *v) {
    ds_tensor *t = gc_ints(nd, sh, v), *c = NULL;
    if (dt == DS_INT64) return t;
    ds_tensor_new(dt, nd, sh, &c);
    ds_tensor_copy_into(c, t);
    ds_tensor_release(t);
    return c;
}

/* v rounded to dt, as double (what the op sees). */
static void round_to(ds_dtype dt, double *v, int64_t n) {
    char buf[8];
    for (int64_t i = 0; i < n; i++) {
        ds_dtype_store_double(dt, buf, v[i]);
        v[i] = ds_dtype_load_double(dt, buf);
    }
}

static double *rnd(int64_t n, double lo, double hi) {
    double *v = malloc(sizeof(double) * (size_t)(n ? n : 1));
    for (int64_t i = 0; i < n; i++) v[i] = urand(lo, hi);
    return v;
}

static ds_tensor *run1(ds_op_id op, int n, ds_tensor *const *in, const ds_attr *attrs) {
    ds_tensor *out = NULL;
    if (ds_op_run1(op, n, in, attrs, &out)) printf("  %s: %s\n", ds_op_get_info(op)->name, ds_error_message());
    return out;
}

static ds_status run0(ds_op_id op, int n, ds_tensor *const *in, const ds_attr *attrs) {
    int nout = -1;
    ds_status st = ds_op_run(op, n, in, attrs, 0, NULL, &nout);
    return st ? st : nout == 0 ? DS_OK : DS_ERR_INTERNAL;
}

/* t's values against ref: |a - b| <= tol (|b| + floor) everywhere; prints the first miss. */
static bool near(const ds_tensor *t, const double *ref, int64_t n, double tol, double floor) {
    if (!t || ds_tensor_numel(t) != n) return false;
    for (int64_t i = 0; i < n; i++) {
        double a;
        ds_tensor_get_double(t, i, &a);
        if (!(fabs(a - ref[i]) <= tol * (fabs(ref[i]) + floor))) {
            printf("  element %lld: %.12g, expected %.12g\n", (long long)i, a, ref[i]);
            return false;
        }
    }
    return true;
}

static double tol_of(ds_dtype dt) {
    return dt == DS_FLOAT64 ? 1e-13 : dt == DS_FLOAT32 ? 2e-6 : dt == DS_FLOAT16 ? 2e-3 : 1.6e-2;
}
static const ds_dtype k_floats[] = {DS_FLOAT64, DS_FLOAT32, DS_FLOAT16, DS_BFLOAT16};

/* ---------------------------------------------------------------- references */
static void ref_softmax(const double *x, double *y, int64_t outer, int64_t n, int64_t inner, bool lg) {
    for (int64_t o = 0; o < outer; o++)
        for (int64_t j = 0; j < inner; j++) {
            const double *xr = x + o * n * inner + j;
            double m = -INFINITY, s = 0;
            for (int64_t k = 0; k < n; k++) m = fmax(m, xr[k * inner]);
            for (int64_t k = 0; k < n; k++) s += exp(xr[k * inner] - m);
            for (int64_t k = 0; k < n; k++)
                y[o * n * inner + j + k * inner] = lg ? xr[k * inner] - m - log(s) : exp(xr[k * inner] - m) / s;
        }
}

/* -sum_j T_j log_softmax(x)_j for one row (label < 0: dense t). */
static double ref_ce_row(const double *x, int64_t c, int64_t label, const double *t, double eps) {
    double m = -INFINITY, s = 0, loss = 0;
    for (int64_t j = 0; j < c; j++) m = fmax(m, x[j]);
    for (int64_t j = 0; j < c; j++) s += exp(x[j] - m);
    for (int64_t j = 0; j < c; j++) {
        double tj = (1 - eps) * (t ? t[j] : j == label) + eps / (double)c;
        loss -= tj * (x[j] - m - log(s));
    }
    return loss;
}

static double ref_bce(double x, double t) { /* the formula as given, in long double */
    long double lx = x;
    return (double)(fmaxl(lx, 0) - lx * (long double)t + log1pl(expl(-fabsl(lx))));
}

/* ---------------------------------------------------------------- softmax */
static void check_softmax(int *ds_failed_, ds_dtype dt, int nd, const int64_t *sh, int axis, bool lg) {
    int64_t n = 1, outer = 1, inner = 1;
    for (int d = 0; d < nd; d++) {
        n *= sh[d];
        if (d < axis) outer *= sh[d];
        if (d > axis) inner *= sh[d];
    }
    double *x = rnd(n, -6, 6), *y = malloc(sizeof(double) * (size_t)n);
    round_to(dt, x, n);
    ref_softmax(x, y, outer, nd ? sh[axis] : 1, inner, lg);
    ds_tensor *xt = mk(dt, nd, sh, x);
    ds_attr ax = AI(axis);
    ds_tensor *out = run1(lg ? DS_OP_LOG_SOFTMAX : DS_OP_SOFTMAX, 1, &xt, &ax);
    CHECK(out && ds_tensor_dtype(out) == dt);
    if (!near(out, y, n, tol_of(dt), lg ? 1 : 1e-3)) {
        printf("  (%s %s, axis %d)\n", lg ? "log_softmax" : "softmax", ds_dtype_name(dt), axis);
        CHECK(0);
    }
    ds_tensor_release(xt);
    ds_tensor_release(out);
    free(x);
    free(y);
}

DS_TEST(softmax_and_log_softmax_values) {
    for (size_t k = 0; k < 4; k++)
        for (int lg = 0; lg < 2; lg++) {
            ds_dtype dt = k_floats[k];
            check_softmax(ds_failed_, dt, 2, (int64_t[]){4, 7}, 1, lg);           /* rows */
            check_softmax(ds_failed_, dt, 3, (int64_t[]){3, 5, 6}, 1, lg);        /* columns */
            check_softmax(ds_failed_, dt, 3, (int64_t[]){3, 5, 6}, 0, lg);
            check_softmax(ds_failed_, dt, 3, (int64_t[]){2, 9, 300}, 1, lg);      /* several column blocks */
            check_softmax(ds_failed_, dt, 2, (int64_t[]){96, 1000}, 1, lg);       /* parallel rows */
            check_softmax(ds_failed_, dt, 1, (int64_t[]){37}, 0, lg);
            check_softmax(ds_failed_, dt, 0, (int64_t[]){0}, 0, lg);              /* 0-d: 1 and 0 */
            check_softmax(ds_failed_, dt, 2, (int64_t[]){0, 5}, 1, lg);           /* empty */
        }
}

DS_TEST(softmax_of_views_and_default_axis) {
    double v[6] = {1, 2, 3, 4, 5, 6}, ref[6];
    ds_tensor *x = mk(DS_FLOAT32, 2, (int64_t[]){2, 3}, v), *xt = NULL, *y = NULL;
    CHECK_OK(ds_tensor_permute(x, (int[]){1, 0}, &xt)); /* [3, 2], non-contiguous */
    double tv[6] = {1, 4, 2, 5, 3, 6};
    ref_softmax(tv, ref, 3, 2, 1, false);
    y = run1(DS_OP_SOFTMAX, 1, &xt, NULL);
    CHECK(near(y, ref, 6, 1e-6, 1e-6));
    ds_tensor_release(y);
    ds_tensor_release(xt);
    ds_tensor_release(x);
}

DS_TEST(softmax_is_stable_for_huge_logits) {
    double v[8] = {1e4, -1e4, 1e4 - 1, 0, -1e4, -1e4, -1e4 + 2, -1e4};
    for (size_t k = 0; k < 2; k++) {
        ds_tensor *x = mk(k_floats[k], 2, (int64_t[]){2, 4}, v);
        for (int lg = 0; lg < 2; lg++) {
            double ref[8];
            ref_softmax(v, ref, 2, 4, 1, lg);
            ds_tensor *y = run1(lg ? DS_OP_LOG_SOFTMAX : DS_OP_SOFTMAX, 1, &x, NULL);
            CHECK(near(y, ref, 8, 1e-6, 1e-30));
            for (int i = 0; i < 8 && y; i++) {
                double a;
                ds_tensor_get_double(y, i, &a);
                CHECK(isfinite(a));
            }
            ds_tensor_release(y);
        }
        ds_tensor_release(x);
    }
}

DS_TEST(softmax_backward_ops_values) {
    int64_t sh[3] = {3, 4, 5};
    for (int axis = 0; axis < 3; axis++)
        for (int lg = 0; lg < 2; lg++) {
            double *x = rnd(60, -3, 3), *g = rnd(60, -1, 1), y[60], ref[60];
            int64_t outer = axis == 0 ? 1 : axis == 1 ? 3 : 12, n = sh[axis], inner = 60 / outer / n;
            ref_softmax(x, y, outer, n, inner, lg);
            for (int64_t o = 0; o < outer; o++)
                for (int64_t j = 0; j < inner; j++) {
                    double s = 0;
                    for (int64_t k = 0; k < n; k++) {
                        int64_t i = o * n * inner + k * inner + j;
                        s += lg ? g[i] : g[i] * y[i];
                    }
                    for (int64_t k = 0; k < n; k++) {
                        int64_t i = o * n * inner + k * inner + j;
                        ref[i] = lg ? g[i] - exp(y[i]) * s : y[i] * (g[i] - s);
                    }
                }
            ds_tensor *in[2] = {mk(DS_FLOAT64, 3, sh, y), mk(DS_FLOAT64, 3, sh, g)};
            ds_attr ax = AI(axis - 3);
            ds_tensor *dx = run1(lg ? DS_OP_LOG_SOFTMAX_GRAD : DS_OP_SOFTMAX_GRAD, 2, in, &ax);
            CHECK(near(dx, ref, 60, 1e-12, 1));
            gc_release(2, in);
            ds_tensor_release(dx);
            free(x);
            free(g);
        }
}

DS_TEST(softmax_gradients_first_and_second_order) {
    static const ds_op_id ops[] = {DS_OP_SOFTMAX, DS_OP_LOG_SOFTMAX};
    for (int s = 0; s < 2; s++) {
        gc_symbolic = s;
        for (int k = 0; k < 2; k++) {
            ds_attr a0 = AI(0), a1 = AI(1), am1 = AI(-1);
            CHECK(gc_op(ops[k], &am1, 2, 1, (gc_in[]){GF(2, 2, 3)}));
            CHECK(gc_op(ops[k], &a0, 2, 1, (gc_in[]){GF(2, 3, 4)}));
            CHECK(gc_op(ops[k], &a1, 2, 1, (gc_in[]){GF(3, 2, 3, 2)}));
            CHECK(gc_op(ops[k], NULL, 2, 1, (gc_in[]){GF(0, 0)}));
        }
        ds_attr a1 = AI(1);
        CHECK(GC_OP(SOFTMAX_GRAD, &a1, 2, GP(2, 2, 3), GF(2, 2, 3)));
        CHECK(GC_OP(LOG_SOFTMAX_GRAD, &a1, 2, GF(3, 2, 3, 2), GF(3, 2, 3, 2)));
    }
    gc_symbolic = false;
}

/* ---------------------------------------------------------------- softmax cross-entropy */
typedef struct ce_case {
    int64_t n, c;
    bool sparse, one_d;
    int64_t red, ignore; /* ignore < -1000: none */
    double eps;
} ce_case;

/* Runs the op on random data and compares with ref_ce_row; also the fused gradient at g = 1. */
static void check_ce(int *ds_failed_, ds_dtype dt, ds_dtype ldt, ce_case k) {
    int64_t n = k.n, c = k.c, labels[64];
    double *x = rnd(n * c, -4, 4), *t = rnd(n * c, 0, 1), loss[64], grad[64 * 16];
    round_to(dt, x, n * c);
    round_to(dt, t, n * c);
    int64_t counted = 0;
    for (int64_t i = 0; i < n; i++) {
        labels[i] = (i * 7 + 3) % c;
        if (i % 3 == 1 && k.ignore > -1000) labels[i] = k.ignore;
        bool ign = k.sparse && k.ignore > -1000 && labels[i] == k.ignore;
        loss[i] = ign ? 0 : ref_ce_row(x + i * c, c, k.sparse ? labels[i] : -1, k.sparse ? NULL : t + i * c, k.eps);
        counted += !ign;
        double m = -INFINITY, s = 0, st = 0;
        for (int64_t j = 0; j < c; j++) m = fmax(m, x[i * c + j]), st += k.sparse ? 0 : t[i * c + j];
        for (int64_t j = 0; j < c; j++) s += exp(x[i * c + j] - m);
        double S = k.sparse ? 1 : (1 - k.eps) * st + k.eps;
        for (int64_t j = 0; j < c; j++) {
            double T = (1 - k.eps) * (k.sparse ? j == labels[i] : t[i * c + j]) + k.eps / (double)c;
            grad[i * c + j] = ign ? 0 : exp(x[i * c + j] - m) / s * S - T;
        }
    }
    double total = 0;
    for (int64_t i = 0; i < n; i++) total += loss[i];
    int64_t xs[2] = {n, c};
    ds_tensor *in[3] = {k.one_d ? mk(dt, 1, &c, x) : mk(dt, 2, xs, x),
                        k.sparse ? mk_int(ldt, k.one_d ? 0 : 1, &n, labels) : mk(dt, k.one_d ? 1 : 2, k.one_d ? &c : xs, t), NULL};
    ds_attr at[8] = {AB(k.sparse), AI(k.red), k.ignore > -1000 ? AI(k.ignore) : AN, AF(k.eps)};
    ds_tensor *out = run1(DS_OP_SOFTMAX_CROSS_ENTROPY, 2, in, at);
    double want = k.red == 1 ? total / (double)counted : total;
    bool ok = k.red == 0 ? near(out, loss, n, tol_of(dt) * 4, 1) : near(out, &want, 1, tol_of(dt) * 4, 1);
    CHECK(out && ds_tensor_ndim(out) == (k.red == 0 && !k.one_d ? 1 : 0));
    /* gradient at g = 1 (none: one per row) */
    double ones[64];
    for (int i = 0; i < 64; i++) ones[i] = 1;
    in[2] = k.red == 0 && !k.one_d ? mk(dt, 1, &n, ones) : mk(dt, 0, NULL, ones);
    ds_tensor *dx = run1(DS_OP_SOFTMAX_CROSS_ENTROPY_GRAD, 3, in, at);
    if (k.red == 1)
        for (int64_t i = 0; i < n * c; i++) grad[i] /= (double)counted;
    ok = ok && near(dx, grad, n * c, tol_of(dt) * 4, 1);
    if (!ok) {
        printf("  (%s, n %lld, c %lld, sparse %d, red %lld, ignore %lld, eps %g)\n", ds_dtype_name(dt), (long long)n,
               (long long)c, k.sparse, (long long)k.red, (long long)k.ignore, k.eps);
        CHECK(0);
    }
    gc_release(3, in);
    ds_tensor_release(out);
    ds_tensor_release(dx);
    free(x);
    free(t);
}

DS_TEST(cross_entropy_values) {
    static const ce_case cases[] = {
        {5, 4, true, false, 0, -2000, 0},  {5, 4, true, false, 1, -2000, 0}, {5, 4, true, false, 2, -2000, 0},
        {6, 3, true, false, 1, -100, 0},   {6, 3, true, false, 0, 2, 0},     {7, 5, true, false, 1, -2000, 0.1},
        {4, 6, false, false, 0, -2000, 0}, {4, 6, false, false, 1, -100, 0}, {4, 6, false, false, 2, -2000, 0.2},
        {1, 9, true, true, 0, -2000, 0},   {1, 9, false, true, 1, -2000, 0}, {40, 16, true, false, 1, -2000, 0.05},
    };
    for (size_t k = 0; k < 4; k++)
        for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) check_ce(ds_failed_, k_floats[k], DS_INT64, cases[i]);
    check_ce(ds_failed_, DS_FLOAT32, DS_INT32, cases[1]);
    check_ce(ds_failed_, DS_FLOAT32, DS_INT32, cases[3]);
}

DS_TEST(cross_entropy_large_and_all_ignored) {
    /* many rows (parallel) with the class count > one vector; all rows ignored: the mean is NaN as in PyTorch */
    check_ce(ds_failed_, DS_FLOAT32, DS_INT64, (ce_case){64, 16, true, false, 1, -2000, 0});
    int64_t lab[2] = {-100, -100};
    double x[6] = {1, 2, 3, 4, 5, 6};
    ds_tensor *in[2] = {mk(DS_FLOAT32, 2, (int64_t[]){2, 3}, x), mk_int(DS_INT64, 1, (int64_t[]){2}, lab)};
    ds_attr mean[8] = {AN, AI(1)};
    ds_tensor *out = run1(DS_OP_SOFTMAX_CROSS_ENTROPY, 2, in, mean), *none = run1(DS_OP_SOFTMAX_CROSS_ENTROPY, 2, in, NULL);
    double v = 0, zeros[2] = {0, 0};
    if (out) ds_tensor_get_double(out, 0, &v);
    CHECK(out && isnan(v));
    CHECK(near(none, zeros, 2, 0, 1)); /* defaults: sparse from the int64 labels, reduction none */
    gc_release(2, in);
    ds_tensor_release(out);
    ds_tensor_release(none);
}

DS_TEST(cross_entropy_is_stable_for_huge_logits) {
    double x[6] = {1e4, -1e4, 0, -1e4, -1e4, 1e4}, t[6] = {0.5, 0.5, 0, 0, 0, 1};
    int64_t lab[2] = {1, 0};
    for (size_t k = 0; k < 2; k++) {
        ds_tensor *in[3] = {mk(k_floats[k], 2, (int64_t[]){2, 3}, x), mk_int(DS_INT64, 1, (int64_t[]){2}, lab), NULL};
        ds_attr at[8] = {AB(true), AI(0)};
        ds_tensor *out = run1(DS_OP_SOFTMAX_CROSS_ENTROPY, 2, in, at);
        double want[2] = {2e4, 2e4}; /* -log_softmax of the labelled logits */
        CHECK(near(out, want, 2, 1e-7, 1));
        double one[2] = {1, 1}, g[6] = {1, -1, 0, -1, 0, 1};
        in[2] = mk(k_floats[k], 1, (int64_t[]){2}, one);
        ds_tensor *dx = run1(DS_OP_SOFTMAX_CROSS_ENTROPY_GRAD, 3, in, at);
        CHECK(near(dx, g, 6, 1e-7, 1e-7));
        ds_tensor_release(in[1]);
        in[1] = mk(k_floats[k], 2, (int64_t[]){2, 3}, t);
        ds_attr dense[8] = {AB(false), AI(0)};
        ds_tensor *out2 = run1(DS_OP_SOFTMAX_CROSS_ENTROPY, 2, in, dense);
        double want2[2] = {1e4, 0};
        CHECK(near(out2, want2, 2, 1e-7, 1e-9));
        gc_release(3, in);
        ds_tensor_release(out);
        ds_tensor_release(out2);
        ds_tensor_release(dx);
    }
}

DS_TEST(cross_entropy_gradients_first_and_second_order) {
    for (int s = 0; s < 2; s++) {
        gc_symbolic = s;
        for (int red = 0; red < 3; red++) {
            ds_attr sp[8] = {AB(true), AI(red), AN, AF(0)}, spi[8] = {AB(true), AI(red), AI(-100), AF(0.1)};
            ds_attr de[8] = {AB(false), AI(red), AN, AF(0)}, des[8] = {AB(false), AI(red), AN, AF(0.2)};
            CHECK(GC_OP(SOFTMAX_CROSS_ENTROPY, sp, 2, GF(2, 4, 3), GI(VALS(0, 2, 1, 2), 1, 4)));
            CHECK(GC_OP(SOFTMAX_CROSS_ENTROPY, spi, 2, GF(2, 4, 3), GI(VALS(0, -100, 1, 2), 1, 4)));
            CHECK(GC_OP(SOFTMAX_CROSS_ENTROPY, de, 2, GF(2, 2, 3), GP(2, 2, 3)));
            CHECK(GC_OP(SOFTMAX_CROSS_ENTROPY, des, 2, GF(1, 3), GP(1, 3)));
            CHECK(GC_OP(SOFTMAX_CROSS_ENTROPY, sp, 2, GF(1, 3), GI(VALS(1), 0, 0)));
            CHECK(GC_OP(SOFTMAX_CROSS_ENTROPY, des, 2, GF(2, 3, 2), GP(2, 3, 2))); /* symbolic N: counted at run time */
            /* the fused backward op itself, with respect to logits, dense labels and g */
            if (red == 0) {
                CHECK(GC_OP(SOFTMAX_CROSS_ENTROPY_GRAD, spi, 2, GF(2, 4, 3), GI(VALS(0, -100, 1, 2), 1, 4), GF(1, 4)));
                CHECK(GC_OP(SOFTMAX_CROSS_ENTROPY_GRAD, des, 2, GF(2, 2, 3), GP(2, 2, 3), GF(1, 2)));
            } else {
                CHECK(GC_OP(SOFTMAX_CROSS_ENTROPY_GRAD, spi, 2, GF(2, 4, 3), GI(VALS(0, -100, 1, 2), 1, 4), GF(0, 0)));
                CHECK(GC_OP(SOFTMAX_CROSS_ENTROPY_GRAD, des, 2, GF(2, 2, 3), GP(2, 2, 3), GF(0, 0)));
            }
        }
    }
    gc_symbolic = false;
}

/* ---------------------------------------------------------------- bce with logits */
DS_TEST(bce_with_logits_values_and_stability) {
    for (size_t k = 0; k < 4; k++) {
        ds_dtype dt = k_floats[k];
        int64_t n = 20000, sh[2] = {100, 200};
        double *x = rnd(n, -30, 30), *t = rnd(n, 0, 1), *ref = malloc(sizeof(double) * (size_t)n), total = 0;
        x[0] = 1e4, x[1] = -1e4, x[2] = 20, t[2] = 1, x[3] = -20, t[3] = 0, x[4] = 0;
        round_to(dt, x, n);
        round_to(dt, t, n);
        for (int64_t i = 0; i < n; i++) total += ref[i] = ref_bce(x[i], t[i]);
        ds_tensor *in[2] = {mk(dt, 2, sh, x), mk(dt, 2, sh, t)};
        for (int red = 0; red < (dt == DS_FLOAT16 ? 2 : 3); red++) { /* the float16 sum overflows */
            ds_attr at = AI(red);
            ds_tensor *out = run1(DS_OP_BCE_WITH_LOGITS, 2, in, &at);
            double want = red == 1 ? total / (double)n : total;
            /* relative to each loss itself: x = 20, t = 1 gives 2.06e-9 and must keep its digits */
            CHECK(red == 0 ? near(out, ref, n, tol_of(dt) * 2, dt == DS_FLOAT64 ? 1e-300 : dt == DS_FLOAT16 ? 1e-4 : 1e-30) : near(out, &want, 1, tol_of(dt) * 2, 1));
            ds_tensor_release(out);
        }
        gc_release(2, in);
        free(x);
        free(t);
        free(ref);
    }
}

DS_TEST(bce_with_logits_gradients) {
    for (int s = 0; s < 2; s++) {
        gc_symbolic = s;
        for (int red = 0; red < 3; red++) {
            ds_attr at = AI(red);
            CHECK(GC_OP(BCE_WITH_LOGITS, &at, 2, GF(2, 2, 3), GP(2, 2, 3)));
            CHECK(GC_OP(BCE_WITH_LOGITS, &at, 2, GF(0, 0), GF(0, 0)));
        }
    }
    gc_symbolic = false;
}

DS_TEST(losses_do_not_depend_on_thread_count) {
    int64_t n = 300000;
    double *x = rnd(n, -5, 5), *t = rnd(n, 0, 1), r[2][2];
    ds_tensor *in[2] = {mk(DS_FLOAT32, 2, (int64_t[]){3000, 100}, x), mk(DS_FLOAT32, 2, (int64_t[]){3000, 100}, t)};
    int keep = ds_get_num_threads();
    for (int k = 0; k < 2; k++) {
        ds_set_num_threads(k ? 4 : 1);
        ds_attr dense[8] = {AB(false), AI(1)}, sum = AI(2);
        ds_tensor *a = run1(DS_OP_SOFTMAX_CROSS_ENTROPY, 2, in, dense), *b = run1(DS_OP_BCE_WITH_LOGITS, 2, in, &sum);
        ds_tensor_get_double(a, 0, &r[k][0]);
        ds_tensor_get_double(b, 0, &r[k][1]);
        ds_tensor_release(a);
        ds_tensor_release(b);
    }
    ds_set_num_threads(keep);
    CHECK(r[0][0] == r[1][0] && r[0][1] == r[1][1]);
    gc_release(2, in);
    free(x);
    free(t);
}

/* ---------------------------------------------------------------- optimizer updates */
typedef struct opt_case {
    ds_op_id op;
    double lr, a1, a2, a3, wd; /* sgd: momentum, dampening; momentum: momentum; adam: beta1, beta2, eps */
    bool flag;                 /* nesterov / decoupled */
    bool ams;                  /* adam: amsgrad */
    bool raw;                  /* adam: step 0, no bias correction */
} opt_case;

/* One reference step in double, from the documented equations (PyTorch SGD, Adam, AdamW; MindSpore
 * Momentum). s1, s2: the state. */
static void ref_step(const opt_case *k, int64_t step, double *p, double g, double *s1, double *s2, double *s3) {
    if (k->op == DS_OP_SGD_UPDATE) {
        double d = g + k->wd * *p;
        if (k->a1 != 0) {
            *s1 = step == 1 ? d : k->a1 * *s1 + (1 - k->a2) * d;
            d = k->flag ? d + k->a1 * *s1 : *s1;
        }
        *p -= k->lr * d;
    } else if (k->op == DS_OP_MOMENTUM_UPDATE) {
        double d = g + k->wd * *p;
        *s1 = *s1 * k->a1 + d;
        *p -= k->flag ? d * k->lr + *s1 * k->a1 * k->lr : k->lr * *s1;
    } else {
        if (k->flag) *p -= k->lr * k->wd * *p;
        else g += k->wd * *p;
        *s1 = k->a1 * *s1 + (1 - k->a1) * g;
        *s2 = k->a2 * *s2 + (1 - k->a2) * g * g;
        *s3 = fmax(*s3, *s2);
        double v = k->ams ? *s3 : *s2;
        double mh = k->raw ? *s1 : *s1 / (1 - pow(k->a1, (double)step)), vh = k->raw ? v : v / (1 - pow(k->a2, (double)step));
        *p -= k->lr * mh / (sqrt(vh) + k->a3);
    }
}

static int fill_attrs(const opt_case *k, int64_t step, ds_attr *at) {
    at[0] = AF(k->lr);
    if (k->op == DS_OP_SGD_UPDATE) {
        at[1] = AF(k->a1), at[2] = AF(k->a2), at[3] = AB(k->flag), at[4] = AF(k->wd), at[5] = AI(step);
        return 6;
    }
    if (k->op == DS_OP_MOMENTUM_UPDATE) {
        at[1] = AF(k->a1), at[2] = AB(k->flag), at[3] = AF(k->wd);
        return 4;
    }
    at[1] = AF(k->a1), at[2] = AF(k->a2), at[3] = AF(k->a3), at[4] = AF(k->wd), at[5] = AI(k->raw ? 0 : step);
    at[6] = AB(k->flag), at[7] = AB(k->ams);
    return 8;
}

/* Runs `steps` updates on n elements of dtype dt (param as a transposed view when `view`; lr and step
 * as tensors when `tensors`) and compares param and state with the reference loop. */
static void check_opt(int *ds_failed_, opt_case k, ds_dtype dt, int64_t n, bool view, bool tensors) {
    int ns = k.op == DS_OP_ADAM_UPDATE ? 4 + k.ams : 3, steps = 6;
    double *p = rnd(n, -1, 1), *s1 = calloc((size_t)n, sizeof(double)), *s2 = calloc((size_t)n, sizeof(double));
    double *s3 = calloc((size_t)n, sizeof(double));
    round_to(dt, p, n);
    if (tensors) k.lr = (double)(float)k.lr; /* the lr tensor is float32 */
    int64_t sh[2] = {n / 4, 4}, tsh[2] = {4, n / 4};
    ds_tensor *t[8] = {NULL};
    if (view) {
        ds_tensor *base = mk(dt, 2, tsh, p); /* param[i, j] = base[j, i]: reference order follows param */
        ds_tensor_permute(base, (int[]){1, 0}, &t[0]);
        ds_tensor_release(base);
        for (int64_t i = 0; i < n; i++) ds_tensor_get_double(t[0], i, &p[i]);
    } else {
        t[0] = mk(dt, 2, sh, p);
    }
    ds_tensor_new_zeros(dt, 2, sh, &t[2]);
    for (int i = 3; i < ns; i++) ds_tensor_new_zeros(dt, 2, sh, &t[i]);
    for (int step = 1; step <= steps; step++) {
        double *g = rnd(n, -1, 1);
        round_to(dt, g, n);
        t[1] = mk(dt, 2, sh, g);
        ds_attr at[8] = {{0}};
        fill_attrs(&k, step, at);
        int nin = ns;
        if (tensors) {
            ds_tensor_scalar(DS_FLOAT32, k.lr, &t[ns]);
            at[0] = AN;
            nin++;
            if (k.op != DS_OP_MOMENTUM_UPDATE) {
                ds_tensor_scalar(DS_INT64, step, &t[ns + 1]);
                nin++;
                if (k.raw) ds_tensor_release(t[ns + 1]);
                at[5] = AI(0);
                if (k.raw) ds_tensor_scalar(DS_INT64, 0, &t[ns + 1]);
            }
        }
        CHECK_OK(run0(k.op, nin, t, at));
        for (int64_t i = 0; i < n; i++) ref_step(&k, step, &p[i], g[i], &s1[i], &s2[i], &s3[i]);
        ds_tensor_release(t[1]);
        ds_tensor_release(t[ns]);
        ds_tensor_release(t[ns + 1]);
        t[1] = t[ns] = t[ns + 1] = NULL;
        free(g);
    }
    double tol = dt == DS_FLOAT64 ? 1e-12 : dt == DS_FLOAT32 ? 2e-5 : dt == DS_FLOAT16 ? 1e-2 : 4e-2;
    bool ok = near(t[0], p, n, tol, 1); /* rounding errors scale with |param| ~ 1 */
    if (k.op != DS_OP_SGD_UPDATE || k.a1 != 0) ok = ok && near(t[2], s1, n, tol, 1);
    if (ns >= 4) ok = ok && near(t[3], s2, n, tol, 1e-4);
    if (ns == 5) ok = ok && near(t[4], s3, n, tol, 1e-4);
    if (!ok) {
        printf("  (%s %s, n %lld, view %d, tensors %d, flag %d, wd %g, a1 %g)\n", ds_op_get_info(k.op)->name, ds_dtype_name(dt), (long long)n,
               view, tensors, k.flag, k.wd, k.a1);
        CHECK(0);
    }
    gc_release(8, t);
    free(p);
    free(s1);
    free(s2);
    free(s3);
}

DS_TEST(optimizer_updates_match_reference_loops) {
    static const opt_case cases[] = { /* op, lr, a1, a2, a3, wd, flag, amsgrad, no bias correction */
        {DS_OP_SGD_UPDATE, 0.1, 0, 0, 0, 0, false, false, false},
        {DS_OP_SGD_UPDATE, 0.1, 0, 0, 0, 0.01, false, false, false},
        {DS_OP_SGD_UPDATE, 0.05, 0.9, 0, 0, 0, false, false, false},
        {DS_OP_SGD_UPDATE, 0.05, 0.9, 0.3, 0, 1e-3, false, false, false},
        {DS_OP_SGD_UPDATE, 0.05, 0.8, 0, 0, 1e-2, true, false, false},
        {DS_OP_MOMENTUM_UPDATE, 0.1, 0.9, 0, 0, 0, false, false, false},
        {DS_OP_MOMENTUM_UPDATE, 0.1, 0.9, 0, 0, 1e-3, true, false, false},
        {DS_OP_ADAM_UPDATE, 1e-2, 0.9, 0.999, 1e-8, 0, false, false, false},
        {DS_OP_ADAM_UPDATE, 1e-2, 0.9, 0.99, 1e-6, 0.1, false, false, false},
        {DS_OP_ADAM_UPDATE, 1e-2, 0.9, 0.999, 1e-8, 0.1, true, false, false},
        {DS_OP_ADAM_UPDATE, 1e-2, 0.3, 0.9, 1e-8, 0, false, false, false}, /* beta1 < 0.5: the other lerp form */
        {DS_OP_ADAM_UPDATE, 1e-2, 0.9, 0.99, 1e-8, 0.01, false, true, false},
        {DS_OP_ADAM_UPDATE, 1e-2, 0.9, 0.99, 1e-8, 0.01, true, true, false},
        {DS_OP_ADAM_UPDATE, 1e-2, 0.9, 0.999, 1e-6, 0.01, true, false, true},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        for (size_t d = 0; d < 4; d++) check_opt(ds_failed_, cases[i], k_floats[d], 36, false, false);
        check_opt(ds_failed_, cases[i], DS_FLOAT32, 36, true, false);  /* strided param */
        check_opt(ds_failed_, cases[i], DS_FLOAT64, 8, false, true);   /* lr and step tensors */
        check_opt(ds_failed_, cases[i], DS_FLOAT32, 1 << 18, false, false); /* parallel */
    }
    check_opt(ds_failed_, cases[9], DS_BFLOAT16, 4096, true, false);
}

DS_TEST(optimizer_updates_in_graphs_and_on_tapes) {
    /* a graph whose weight is updated by adam_update: eval and the plan both write it in place */
    ds_graph *g = NULL;
    ds_value *v[4];
    int64_t sh[1] = {5};
    CHECK_OK(ds_graph_new("step", &g));
    CHECK_OK(ds_graph_add_param(g, "w", DS_FLOAT32, 1, sh, true, &v[0]));
    for (int i = 1; i < 4; i++) CHECK_OK(ds_graph_add_param(g, "s", DS_FLOAT32, 1, sh, false, &v[i]));
    ds_attr at[8] = {AF(0.1), AN, AN, AN, AN, AI(1), AN};
    int nout = -1;
    CHECK_OK(ds_graph_add_op(g, DS_OP_ADAM_UPDATE, 4, v, at, 0, NULL, &nout));
    CHECK(nout == 0);
    CHECK_OK(ds_graph_set_outputs(g, 1, &v[1]));
    CHECK_OK(ds_graph_verify(g));
    ds_node *node = ds_graph_node(g, ds_graph_num_nodes(g) - 1);
    CHECK(node && node->effect);
    double w0[5] = {1, 2, 3, 4, 5}, g0[5] = {1, -1, 2, -2, 0}, z[5] = {0};
    for (int mode = 0; mode < 2; mode++) {
        ds_tensor *in[4] = {mk(DS_FLOAT32, 1, sh, w0), mk(DS_FLOAT32, 1, sh, g0), mk(DS_FLOAT32, 1, sh, z), mk(DS_FLOAT32, 1, sh, z)};
        ds_tensor *out[2] = {NULL};
        int n = 0;
        if (mode == 0) CHECK_OK(ds_graph_eval(g, 4, in, 2, out, &n));
        else {
            ds_plan *p = NULL;
            CHECK_OK(ds_plan_new(g, &p));
            CHECK_OK(ds_plan_run(p, 4, in, 2, out, &n));
            ds_plan_release(p);
        }
        double want[5] = {0.9, 2.1, 2.9, 4.1, 5}; /* the first Adam step moves by lr sign(g) */
        CHECK(near(in[0], want, 5, 1e-6, 1));
        gc_release(2, out);
        gc_release(4, in);
    }
    ds_graph_release(g);
    /* an active tape does not record updates (their gradient decision is zero) */
    ds_tape *tape = NULL;
    CHECK_OK(ds_tape_new(&tape));
    ds_tensor *t[3] = {mk(DS_FLOAT64, 1, sh, w0), mk(DS_FLOAT64, 1, sh, g0), mk(DS_FLOAT64, 1, sh, z)};
    CHECK_OK(ds_tape_watch(tape, t[0]));
    ds_tape *prev = ds_tape_set_active(tape);
    int before = ds_graph_num_nodes(ds_tape_graph(tape));
    ds_attr sgd[8] = {AF(0.5)};
    CHECK_OK(run0(DS_OP_SGD_UPDATE, 3, t, sgd));
    CHECK(ds_graph_num_nodes(ds_tape_graph(tape)) == before);
    ds_tape_set_active(prev);
    double want[5] = {0.5, 2.5, 2, 5, 5};
    CHECK(near(t[0], want, 5, 0, 1));
    gc_release(3, t);
    ds_tape_release(tape);
}

DS_TEST(eager_tape_through_cross_entropy) {
    double x[6] = {0.5, -1, 2, 0.1, 0.2, -0.3};
    int64_t lab[2] = {2, 0};
    ds_tensor *in[2] = {mk(DS_FLOAT64, 2, (int64_t[]){2, 3}, x), mk_int(DS_INT64, 1, (int64_t[]){2}, lab)}, *loss = NULL, *gx = NULL;
    ds_tape *tape = NULL;
    CHECK_OK(ds_tape_new(&tape));
    CHECK_OK(ds_tape_watch(tape, in[0]));
    ds_tape *prev = ds_tape_set_active(tape);
    ds_attr sum[8] = {AB(true), AI(2)};
    loss = run1(DS_OP_SOFTMAX_CROSS_ENTROPY, 2, in, sum);
    ds_tape_set_active(prev);
    CHECK_OK(ds_tape_backward(tape, 1, &loss, NULL, 1, in, &gx));
    double ref[6];
    ref_softmax(x, ref, 2, 3, 1, false);
    ref[2] -= 1, ref[3] -= 1;
    CHECK(near(gx, ref, 6, 1e-12, 1));
    ds_tensor_release(gx);
    ds_tensor_release(loss);
    gc_release(2, in);
    ds_tape_release(tape);
}

DS_TEST(kernels_agree_across_isas) {
    const char *isas[3] = {"generic", "avx2", "avx512"};
    double *x = rnd(4000, -8, 8), *t = rnd(4000, 0, 1), ref[3][3];
    ds_tensor *in[2] = {mk(DS_FLOAT32, 2, (int64_t[]){40, 100}, x), mk(DS_FLOAT32, 2, (int64_t[]){40, 100}, t)};
    int nisa = 0;
    for (int i = 0; i < 3; i++) {
        if (!ds_nn_set_isa(isas[i])) continue;
        ds_attr dense[8] = {AB(false), AI(1)}, mean = AI(1), ax0 = AI(0);
        ds_tensor *a = run1(DS_OP_SOFTMAX_CROSS_ENTROPY, 2, in, dense), *b = run1(DS_OP_BCE_WITH_LOGITS, 2, in, &mean);
        ds_tensor *c = run1(DS_OP_LOG_SOFTMAX, 1, in, &ax0);
        ds_tensor_get_double(a, 0, &ref[nisa][0]);
        ds_tensor_get_double(b, 0, &ref[nisa][1]);
        ds_tensor_get_double(c, 1234, &ref[nisa][2]);
        for (int k = 0; k < 3; k++) CHECK_NEAR(ref[nisa][k], ref[0][k], 1e-5 * (1 + fabs(ref[0][k])));
        nisa++;
        ds_tensor_release(a);
        ds_tensor_release(b);
        ds_tensor_release(c);
    }
    ds_nn_set_isa(NULL);
    CHECK(nisa >= 1);
    gc_release(2, in);
    free(x);
    free(t);
}

DS_TEST(no_leaks_when_allocations_fail) {
    double x[12] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};
    int64_t lab[3] = {0, 3, 1};
    ds_tensor *in[3] = {mk(DS_FLOAT16, 2, (int64_t[]){3, 4}, x), mk_int(DS_INT32, 1, (int64_t[]){3}, lab), NULL};
    ds_tensor_scalar(DS_FLOAT16, 1, &in[2]);
    int64_t base = ds_alloc_live_blocks();
    for (int op = 0; op < 3; op++) {
        bool done = false;
        for (int fail = 1; fail < 40 && !done; fail++) {
            ds_alloc_debug_begin(fail);
            ds_tensor *out = NULL;
            ds_attr mean[8] = {AN, AI(1)};
            ds_status st = op == 0 ? ds_op_run1(DS_OP_SOFTMAX, 1, in, NULL, &out)
                         : op == 1 ? ds_op_run1(DS_OP_SOFTMAX_CROSS_ENTROPY, 2, in, mean, &out)
                                   : ds_op_run1(DS_OP_SOFTMAX_CROSS_ENTROPY_GRAD, 3, in, mean, &out);
            ds_alloc_debug_begin(0);
            CHECK(st == DS_OK || st == DS_ERR_NOMEM);
            done = st == DS_OK;
            ds_tensor_release(out);
            CHECK(ds_alloc_live_blocks() == base);
        }
        CHECK(done);
    }
    gc_release(3, in);
}

/* ---------------------------------------------------------------- errors */
DS_TEST(error_paths) {
    double v[24] = {0};
    int64_t lab[4] = {0, 1, 7, 0}, neg[4] = {0, -1, 0, 0};
    ds_tensor *f = mk(DS_FLOAT32, 2, (int64_t[]){4, 3}, v), *f3 = mk(DS_FLOAT32, 3, (int64_t[]){2, 2, 3}, v);
    ds_tensor *d = mk(DS_FLOAT64, 2, (int64_t[]){4, 3}, v), *i32 = mk_int(DS_INT32, 2, (int64_t[]){2, 2}, lab);
    ds_tensor *l_bad = mk_int(DS_INT64, 1, (int64_t[]){4}, lab), *l_neg = mk_int(DS_INT64, 1, (int64_t[]){4}, neg);
    ds_tensor *l_3 = mk_int(DS_INT64, 1, (int64_t[]){3}, lab), *fl = mk(DS_FLOAT32, 1, (int64_t[]){4}, v);
    ds_tensor *f2 = mk(DS_FLOAT32, 2, (int64_t[]){4, 2}, v), *vec = mk(DS_FLOAT32, 1, (int64_t[]){2}, v), *out = NULL;
    ds_attr ax5 = AI(5), red5[8] = {AB(true), AI(5)}, ls[8] = {AB(true), AI(1), AN, AF(1.5)}, dense[8] = {AB(false)};
    /* softmax family */
    CHECK_ERR(ds_op_run1(DS_OP_SOFTMAX, 1, &i32, NULL, &out), DS_ERR_DTYPE, "input must be a float tensor, got int32");
    CHECK_ERR(ds_op_run1(DS_OP_LOG_SOFTMAX, 1, &f, &ax5, &out), DS_ERR_AXIS, "axis 5 is out of bounds");
    ds_tensor *scalar = NULL;
    ds_tensor_scalar(DS_FLOAT32, 2, &scalar);
    CHECK_ERR(ds_op_run1(DS_OP_SOFTMAX, 1, &scalar, (ds_attr[1]){AI(1)}, &out), DS_ERR_AXIS, "axis 1 is out of bounds for tensor of dimension 0");
    CHECK_ERR(ds_op_run1(DS_OP_SOFTMAX_GRAD, 2, (ds_tensor *[]){f, f3}, NULL, &out), DS_ERR_SHAPE, "g of shape [2, 2, 3] does not match y of shape [4, 3]");
    CHECK_ERR(ds_op_run1(DS_OP_SOFTMAX_GRAD, 2, (ds_tensor *[]){f, f2}, NULL, &out), DS_ERR_SHAPE, "g of shape [4, 2] does not match y of shape [4, 3]");
    CHECK_ERR(ds_op_run1(DS_OP_LOG_SOFTMAX_GRAD, 2, (ds_tensor *[]){f, d}, NULL, &out), DS_ERR_DTYPE, "is float64 but y is float32");
    /* cross-entropy */
    CHECK_ERR(ds_op_run1(DS_OP_SOFTMAX_CROSS_ENTROPY, 2, (ds_tensor *[]){f3, l_bad}, NULL, &out), DS_ERR_SHAPE, "logits must have shape [N, C] or [C], got [2, 2, 3]");
    CHECK_ERR(ds_op_run1(DS_OP_SOFTMAX_CROSS_ENTROPY, 2, (ds_tensor *[]){i32, l_bad}, NULL, &out), DS_ERR_DTYPE, "logits must be a float tensor");
    CHECK_ERR(ds_op_run1(DS_OP_SOFTMAX_CROSS_ENTROPY, 2, (ds_tensor *[]){f, fl}, (ds_attr[8]){AB(true)}, &out), DS_ERR_DTYPE, "sparse labels must be int32 or int64");
    CHECK_ERR(ds_op_run1(DS_OP_SOFTMAX_CROSS_ENTROPY, 2, (ds_tensor *[]){f, fl}, NULL, &out), DS_ERR_SHAPE, "dense labels of shape [4] does not match logits of shape [4, 3]");
    CHECK_ERR(ds_op_run1(DS_OP_SOFTMAX_CROSS_ENTROPY, 2, (ds_tensor *[]){f, l_3}, NULL, &out), DS_ERR_SHAPE, "sparse labels of shape [3] do not match logits of shape [4, 3]");
    CHECK_ERR(ds_op_run1(DS_OP_SOFTMAX_CROSS_ENTROPY, 2, (ds_tensor *[]){f, l_bad}, NULL, &out), DS_ERR_INDEX, "label 7 of sample 2 is out of range for 3 classes");
    CHECK_ERR(ds_op_run1(DS_OP_SOFTMAX_CROSS_ENTROPY, 2, (ds_tensor *[]){f, l_neg}, NULL, &out), DS_ERR_INDEX, "label -1 of sample 1");
    CHECK_ERR(ds_op_run1(DS_OP_SOFTMAX_CROSS_ENTROPY_GRAD, 3, (ds_tensor *[]){f, l_bad, fl}, (ds_attr[8]){AN, AI(1)}, &out), DS_ERR_SHAPE, "g of shape [4] does not match the loss of shape []");
    CHECK_ERR(ds_op_run1(DS_OP_SOFTMAX_CROSS_ENTROPY_GRAD, 3, (ds_tensor *[]){f, l_bad, fl}, NULL, &out), DS_ERR_INDEX, "label 7 of sample 2");
    CHECK_ERR(ds_op_run1(DS_OP_SOFTMAX_CROSS_ENTROPY_GRAD, 3, (ds_tensor *[]){d, l_bad, fl}, NULL, &out), DS_ERR_DTYPE, "g is float32 but the loss is float64");
    CHECK_ERR(ds_op_run1(DS_OP_SOFTMAX_CROSS_ENTROPY, 2, (ds_tensor *[]){f, l_neg}, red5, &out), DS_ERR_VALUE, "reduction must be 0 (none), 1 (mean) or 2 (sum), got 5");
    CHECK_ERR(ds_op_run1(DS_OP_SOFTMAX_CROSS_ENTROPY, 2, (ds_tensor *[]){f, l_neg}, ls, &out), DS_ERR_VALUE, "label_smoothing must be in [0, 1], got 1.5");
    CHECK_ERR(ds_op_run1(DS_OP_SOFTMAX_CROSS_ENTROPY, 2, (ds_tensor *[]){f, d}, dense, &out), DS_ERR_DTYPE, "dense labels is float64 but logits is float32");
    CHECK_ERR(ds_op_run1(DS_OP_SOFTMAX_CROSS_ENTROPY, 2, (ds_tensor *[]){f, f2}, dense, &out), DS_ERR_SHAPE, "dense labels of shape [4, 2] does not match logits of shape [4, 3]");
    /* bce */
    CHECK_ERR(ds_op_run1(DS_OP_BCE_WITH_LOGITS, 2, (ds_tensor *[]){f, f2}, NULL, &out), DS_ERR_SHAPE, "targets of shape [4, 2] does not match logits of shape [4, 3]");
    CHECK_ERR(ds_op_run1(DS_OP_BCE_WITH_LOGITS, 2, (ds_tensor *[]){f, d}, NULL, &out), DS_ERR_DTYPE, "targets is float64 but logits is float32");
    CHECK_ERR(ds_op_run1(DS_OP_BCE_WITH_LOGITS, 2, (ds_tensor *[]){l_3, l_3}, NULL, &out), DS_ERR_DTYPE, "logits must be a float tensor, got int64");
    CHECK_ERR(ds_op_run1(DS_OP_BCE_WITH_LOGITS, 2, (ds_tensor *[]){f, f}, &ax5, &out), DS_ERR_VALUE, "reduction must be");
    /* optimizer updates */
    ds_tensor *p = mk(DS_FLOAT32, 2, (int64_t[]){4, 3}, v), *gr = mk(DS_FLOAT32, 2, (int64_t[]){4, 3}, v), *b = mk(DS_FLOAT32, 2, (int64_t[]){4, 3}, v);
    ds_tensor *m2 = mk(DS_FLOAT32, 2, (int64_t[]){4, 3}, v), *row = NULL, *bview = NULL, *lr_i = NULL, *st_half = NULL;
    ds_tensor_scalar(DS_INT64, 1, &lr_i);
    ds_tensor_scalar(DS_FLOAT32, 1.5, &st_half);
    ds_tensor_slice(f, 0, 0, 1, 1, &row);
    ds_tensor_expand(row, 2, (int64_t[]){4, 3}, &bview);
    ds_attr sgd[8] = {AF(0.1), AF(0.9)}, nolr[8] = {AN}, neglr[8] = {AF(-1)}, nest[8] = {AF(0.1), AF(0), AN, AB(true)};
    ds_attr mom[8] = {AF(0.1)}, adam0[8] = {AF(0.1), AN, AN, AN, AN, AI(-1)}, adamb[8] = {AF(0.1), AF(1.0), AN, AN, AN, AI(1)}, adam1[8] = {AF(0.1), AN, AN, AN, AN, AI(1)};
    CHECK_ERR(run0(DS_OP_SGD_UPDATE, 2, (ds_tensor *[]){p, gr}, sgd), DS_ERR_VALUE, "expects the tensors param, grad, momentum_buf, then optionally lr and step: got 2 inputs");
    CHECK_ERR(run0(DS_OP_ADAM_UPDATE, 7, (ds_tensor *[]){p, gr, b, m2, lr_i, lr_i, lr_i}, adam1), DS_ERR_VALUE, "param, grad, m, v, then optionally lr and step: got 7");
    CHECK_ERR(run0(DS_OP_SGD_UPDATE, 3, (ds_tensor *[]){l_3, l_3, l_3}, sgd), DS_ERR_DTYPE, "param must be a float tensor, got int64");
    CHECK_ERR(run0(DS_OP_SGD_UPDATE, 3, (ds_tensor *[]){p, d, b}, sgd), DS_ERR_DTYPE, "grad is float64 but param is float32");
    CHECK_ERR(run0(DS_OP_SGD_UPDATE, 3, (ds_tensor *[]){p, gr, f2}, sgd), DS_ERR_SHAPE, "momentum_buf of shape [4, 2] does not match param of shape [4, 3]");
    CHECK_ERR(run0(DS_OP_ADAM_UPDATE, 4, (ds_tensor *[]){p, gr, b, vec}, adam1), DS_ERR_SHAPE, "v of shape [2] does not match param of shape [4, 3]");
    CHECK_ERR(run0(DS_OP_MOMENTUM_UPDATE, 3, (ds_tensor *[]){p, gr, b}, nolr), DS_ERR_VALUE, "missing required attribute 'momentum'");
    CHECK_ERR(run0(DS_OP_SGD_UPDATE, 3, (ds_tensor *[]){p, gr, b}, nolr), DS_ERR_VALUE, "lr is missing: pass the lr attribute or an lr tensor after momentum_buf");
    CHECK_ERR(run0(DS_OP_SGD_UPDATE, 3, (ds_tensor *[]){p, gr, b}, neglr), DS_ERR_VALUE, "lr must be in [0, inf], got -1");
    CHECK_ERR(run0(DS_OP_SGD_UPDATE, 4, (ds_tensor *[]){p, gr, b, lr_i}, nolr), DS_ERR_DTYPE, "lr must be a one-element float tensor, got int64 of shape []");
    CHECK_ERR(run0(DS_OP_SGD_UPDATE, 4, (ds_tensor *[]){p, gr, b, vec}, nolr), DS_ERR_DTYPE, "lr must be a one-element float tensor, got float32 of shape [2]");
    CHECK_ERR(run0(DS_OP_SGD_UPDATE, 5, (ds_tensor *[]){p, gr, b, st_half, st_half}, nolr), DS_ERR_VALUE, "step must be an integer >= 0");
    ds_tensor *neg1 = NULL, *zero = NULL;
    ds_tensor_scalar(DS_FLOAT32, -1, &neg1);
    ds_tensor_scalar(DS_INT32, 0, &zero);
    CHECK_ERR(run0(DS_OP_SGD_UPDATE, 4, (ds_tensor *[]){p, gr, b, neg1}, nolr), DS_ERR_VALUE, "lr must be in [0, inf], got -1");
    CHECK_ERR(run0(DS_OP_ADAM_UPDATE, 6, (ds_tensor *[]){p, gr, b, m2, st_half, neg1}, nolr), DS_ERR_VALUE, "step must be an integer >= 0");
    CHECK_OK(run0(DS_OP_ADAM_UPDATE, 6, (ds_tensor *[]){p, gr, b, m2, st_half, zero}, nolr));
    CHECK_ERR(run0(DS_OP_ADAM_UPDATE, 4, (ds_tensor *[]){p, gr, b, m2}, (ds_attr[8]){AF(0.1), AN, AN, AN, AN, AN, AN, AB(true)}), DS_ERR_VALUE,
              "expects the tensors param, grad, m, v, v_max, then optionally lr and step: got 4 inputs");
    CHECK_ERR(run0(DS_OP_SGD_UPDATE, 3, (ds_tensor *[]){p, gr, b}, (ds_attr[8]){AF(0.1), AN, AN, AN, AN, AI(-1)}), DS_ERR_VALUE, "step must be >= 0");
    CHECK_ERR(run0(DS_OP_SGD_UPDATE, 3, (ds_tensor *[]){p, gr, b}, (ds_attr[8]){AF(0.1), AN, AN, AN, AF(-1)}), DS_ERR_VALUE, "weight_decay must be in [0, inf], got -1");
    CHECK_ERR(run0(DS_OP_ADAM_UPDATE, 4, (ds_tensor *[]){p, gr, b, m2}, (ds_attr[8]){AF(0.1), AN, AF(-0.1), AN, AN, AI(1)}), DS_ERR_VALUE, "beta2 must be in [0, 1), got -0.1");
    CHECK_ERR(run0(DS_OP_ADAM_UPDATE, 4, (ds_tensor *[]){p, gr, b, m2}, (ds_attr[8]){AF(0.1), AN, AN, AF(-1), AN, AI(1)}), DS_ERR_VALUE, "eps must be in [0, inf], got -1");
    CHECK_ERR(run0(DS_OP_MOMENTUM_UPDATE, 5, (ds_tensor *[]){p, gr, b, neg1, neg1}, (ds_attr[8]){AN, AF(0.9)}), DS_ERR_VALUE, "expects the tensors param, grad, accum, then optionally lr: got 5 inputs");
    CHECK_ERR(run0(DS_OP_SGD_UPDATE, 3, (ds_tensor *[]){p, gr, d}, (ds_attr[8]){AF(0.1)}), DS_ERR_DTYPE, "momentum_buf is float64 but param is float32");
    CHECK_OK(run0(DS_OP_SGD_UPDATE, 3, (ds_tensor *[]){p, gr, vec}, (ds_attr[8]){AF(0.1)})); /* no momentum: the buffer is unused */
    ds_tensor_release(neg1);
    ds_tensor_release(zero);
    CHECK_ERR(run0(DS_OP_SGD_UPDATE, 3, (ds_tensor *[]){p, gr, b}, nest), DS_ERR_VALUE, "nesterov momentum requires a momentum > 0 and zero dampening");
    CHECK_ERR(run0(DS_OP_MOMENTUM_UPDATE, 3, (ds_tensor *[]){p, gr, b}, (ds_attr[8]){AF(0.1), AF(-0.5)}), DS_ERR_VALUE, "momentum must be in [0, inf], got -0.5");
    CHECK_ERR(run0(DS_OP_ADAM_UPDATE, 4, (ds_tensor *[]){p, gr, b, m2}, adam0), DS_ERR_VALUE, "step must be >= 0 (the 1-based number of this update, or 0), got -1");
    CHECK_ERR(run0(DS_OP_ADAM_UPDATE, 4, (ds_tensor *[]){p, gr, b, m2}, adamb), DS_ERR_VALUE, "beta1 must be in [0, 1), got 1");
    CHECK_ERR(run0(DS_OP_SGD_UPDATE, 3, (ds_tensor *[]){bview, gr, b}, sgd), DS_ERR_VALUE, "param is a broadcast view (stride 0 in dim 0)");
    CHECK_ERR(run0(DS_OP_ADAM_UPDATE, 4, (ds_tensor *[]){p, gr, b, b}, adam1), DS_ERR_VALUE, "m and v are the same memory");
    CHECK_ERR(run0(DS_OP_MOMENTUM_UPDATE, 3, (ds_tensor *[]){p, gr, b}, mom), DS_ERR_VALUE, "missing required attribute 'momentum'");
    CHECK(!strcmp(ds_error_message(), "momentum_update: missing required attribute 'momentum'"));
    ds_tensor *all[] = {scalar, f, f3, d, i32, l_bad, l_neg, l_3, fl, f2, vec, p, gr, b, m2, row, bview, lr_i, st_half};
    gc_release(sizeof all / sizeof all[0], all);
}

DS_TEST_MAIN()
