/* Gradient checking for the autodiff tests: central finite differences in float64 against
 * ds_graph_grad, first order and second order (the gradient of the gradient graph).
 *
 * For a graph g with float64 parameters, the scalar checked is L = sum_k <y_k, s_k> over g's float
 * outputs y_k with random sensitivities s_k; its gradient comes from ds_graph_grad(g, all float
 * outputs, all float64 parameters, sens_param). Second order differentiates that gradient graph the
 * same way (with respect to the same parameters) and checks it against finite differences of the
 * first-order graph. */
#ifndef DS_GRAD_CHECK_H
#define DS_GRAD_CHECK_H
#include <stdint.h>
#include <stdlib.h>

#include "ds_test.h"
#include "ir/ir.h"
#include "tensor/dtype.h"
#include "tensor/tensor.h"

#define GC_MAX 32

static uint64_t gc_rng = 0x9E3779B97F4A7C15ull;
static double gc_uniform(void) {
    gc_rng ^= gc_rng << 13;
    gc_rng ^= gc_rng >> 7;
    gc_rng ^= gc_rng << 17;
    return (double)(gc_rng >> 11) / 9007199254740992.0;
}

/* Random values in [lo, hi]; lo < 0 < hi: magnitudes in [0.2, hi] with random signs (away from the
 * kinks of abs, relu, sign at 0). */
static ds_tensor *gc_rand(ds_dtype dt, int nd, const int64_t *shape, double lo, double hi) {
    ds_tensor *t = NULL;
    if (ds_tensor_new(dt, nd, shape, &t)) return NULL;
    char *p = ds_tensor_data(t);
    for (int64_t i = 0; i < ds_tensor_numel(t); i++) {
        double v = lo < 0 && hi > 0 ? (0.2 + gc_uniform() * (hi - 0.2)) * (gc_uniform() < 0.5 ? -1 : 1) : lo + gc_uniform() * (hi - lo);
        ds_dtype_store_double(dt, p + i * (int64_t)ds_dtype_size(dt), v);
    }
    return t;
}

static ds_tensor *gc_ints(int nd, const int64_t *shape, const int64_t *vals) {
    ds_tensor *t = NULL;
    if (ds_tensor_new(DS_INT64, nd, shape, &t)) return NULL;
    memcpy(ds_tensor_data(t), vals, sizeof(int64_t) * (size_t)ds_tensor_numel(t));
    return t;
}

static double gc_dot(const ds_tensor *a, const ds_tensor *b) {
    double s = 0, x, y;
    for (int64_t i = 0; i < ds_tensor_numel(a); i++) {
        ds_tensor_get_double(a, i, &x);
        ds_tensor_get_double(b, i, &y);
        s += x * y;
    }
    return s;
}

static void gc_release(int n, ds_tensor **t) {
    for (int i = 0; i < n; i++) {
        ds_tensor_release(t[i]);
        t[i] = NULL;
    }
}

/* L = sum_k <outs[sel[k]], s[k]> of g at args. */
static bool gc_loss(const ds_graph *g, ds_tensor **args, int nsel, const int *sel, ds_tensor **s, double *L) {
    ds_tensor *outs[GC_MAX];
    int n = 0;
    if (ds_graph_eval(g, ds_graph_num_params(g), args, GC_MAX, outs, &n)) {
        printf("  eval failed: %s\n", ds_error_message());
        return false;
    }
    *L = 0;
    for (int k = 0; k < nsel; k++) *L += gc_dot(outs[sel[k]], s[k]);
    gc_release(n, outs);
    return true;
}

/* Central differences of L with respect to args[wrt[i]] (contiguous float64), against ana[i]. */
static bool gc_fd(const ds_graph *g, ds_tensor **args, int nsel, const int *sel, ds_tensor **s, int nw, const int *wrt,
                  ds_tensor **ana, const char *what) {
    const double eps = 1e-6;
    bool ok = true;
    for (int i = 0; i < nw && ok; i++) {
        ds_tensor *x = args[wrt[i]];
        double *p = ds_tensor_data(x);
        if (ds_tensor_dtype(ana[i]) != ds_tensor_dtype(x) ||
            !ds_shape_equal(ds_tensor_ndim(ana[i]), ds_tensor_shape(ana[i]), ds_tensor_ndim(x), ds_tensor_shape(x))) {
            printf("  %s: gradient %d has the wrong type\n", what, i);
            return false;
        }
        for (int64_t e = 0; e < ds_tensor_numel(x) && ok; e++) {
            double keep = p[e], lp, lm, a;
            p[e] = keep + eps;
            ok = gc_loss(g, args, nsel, sel, s, &lp);
            p[e] = keep - eps;
            ok = ok && gc_loss(g, args, nsel, sel, s, &lm);
            p[e] = keep;
            ds_tensor_get_double(ana[i], e, &a);
            double num = (lp - lm) / (2 * eps);
            if (ok && !(fabs(num - a) <= 1e-6 * (1 + fabs(num)))) {
                printf("  %s: d/d(param %d)[%lld]: analytic %.10g, numeric %.10g\n", what, wrt[i], (long long)e, a, num);
                ok = false;
            }
        }
    }
    return ok;
}

static void gc_quiet(void *ctx, const char *text) {}

/* Checks g's gradient (order 1) and its gradient's gradient (order 2) at args (prints are muted). */
static bool gc_check_(const ds_graph *g, ds_tensor **args, int order);
static bool gc_check(const ds_graph *g, ds_tensor **args, int order) {
    ds_set_print_hook(gc_quiet, NULL);
    bool ok = gc_check_(g, args, order);
    ds_set_print_hook(NULL, NULL);
    return ok;
}

static bool gc_check_(const ds_graph *g, ds_tensor **args, int order) {
    int np = ds_graph_num_params(g), no = ds_graph_num_outputs(g), nw = 0, nsel = 0, n = 0;
    int wrt[GC_MAX], sel[GC_MAX], gsel[GC_MAX];
    ds_tensor *outs[GC_MAX] = {NULL}, *s[GC_MAX] = {NULL}, *t[GC_MAX] = {NULL}, *gout[GC_MAX] = {NULL}, *hout[2 * GC_MAX] = {NULL};
    ds_tensor *gargs[2 * GC_MAX], *hargs[3 * GC_MAX];
    ds_graph *G = NULL, *H = NULL;
    bool ok = false;
    for (int i = 0; i < np; i++)
        if (ds_value_dtype(ds_graph_param(g, i)) == DS_FLOAT64) wrt[nw++] = i;
    for (int k = 0; k < no; k++)
        if (ds_dtype_is_float(ds_value_dtype(ds_graph_output(g, k)))) sel[nsel++] = k;
    if (ds_graph_eval(g, np, args, GC_MAX, outs, &n)) {
        printf("  forward failed: %s\n", ds_error_message());
        goto done;
    }
    for (int k = 0; k < nsel; k++) s[k] = gc_rand(DS_FLOAT64, ds_tensor_ndim(outs[sel[k]]), ds_tensor_shape(outs[sel[k]]), -1, 1);
    if (ds_graph_grad(g, nsel, sel, nw, wrt, true, &G) || ds_graph_verify(G)) {
        printf("  grad failed: %s\n", ds_error_message());
        goto done;
    }
    for (int i = 0; i < np; i++) gargs[i] = args[i];
    for (int k = 0; k < nsel; k++) gargs[np + k] = s[k];
    if (ds_graph_eval(G, np + nsel, gargs, GC_MAX, gout, &n)) {
        printf("  gradient graph failed: %s\n", ds_error_message());
        goto done;
    }
    for (int k = 0; k < no; k++)
        if (ds_dtype_is_float(ds_tensor_dtype(outs[k])) && fabs(gc_dot(outs[k], outs[k]) - gc_dot(outs[k], gout[k])) > 1e-9 * (1 + gc_dot(outs[k], outs[k]))) {
            printf("  the gradient graph's forward output %d differs\n", k);
            goto done;
        }
    if (!gc_fd(g, args, nsel, sel, s, nw, wrt, gout + no, "first order")) goto done;
    if (order >= 2) {
        for (int i = 0; i < nw; i++) {
            gsel[i] = no + i;
            t[i] = gc_rand(DS_FLOAT64, ds_tensor_ndim(gout[no + i]), ds_tensor_shape(gout[no + i]), -1, 1);
        }
        if (ds_graph_grad(G, nw, gsel, nw, wrt, true, &H) || ds_graph_verify(H)) {
            printf("  second-order grad failed: %s\n", ds_error_message());
            goto done;
        }
        for (int i = 0; i < np + nsel; i++) hargs[i] = gargs[i];
        for (int i = 0; i < nw; i++) hargs[np + nsel + i] = t[i];
        if (ds_graph_eval(H, np + nsel + nw, hargs, 2 * GC_MAX, hout, &n)) {
            printf("  second-order graph failed: %s\n", ds_error_message());
            goto done;
        }
        if (!gc_fd(G, gargs, nw, gsel, t, nw, wrt, hout + no + nw, "second order")) goto done;
    }
    ok = true;
done:
    gc_release(GC_MAX, outs);
    gc_release(GC_MAX, s);
    gc_release(GC_MAX, t);
    gc_release(GC_MAX, gout);
    gc_release(2 * GC_MAX, hout);
    ds_graph_release(G);
    ds_graph_release(H);
    return ok;
}

/* ---------------------------------------------------------------- one-op graphs */
typedef struct gc_in {
    int nd;
    int64_t sh[DS_MAX_DIMS];
    ds_dtype dt;
    const int64_t *ints; /* integer inputs: their values */
    double lo, hi;
} gc_in;

#define GF(nd, ...) ((gc_in){nd, {__VA_ARGS__}, DS_FLOAT64, NULL, -2, 2})    /* float64, away from 0 */
#define GP(nd, ...) ((gc_in){nd, {__VA_ARGS__}, DS_FLOAT64, NULL, 0.3, 2})   /* float64, positive */
#define GI(v, nd, ...) ((gc_in){nd, {__VA_ARGS__}, DS_INT64, (v), 0, 0})     /* int64 with values v */
#define GB(v, nd, ...) ((gc_in){nd, {__VA_ARGS__}, DS_BOOL, (v), 0, 0})      /* bool from 0/1 values */
#define AI(x) ((ds_attr){.kind = DS_ATTR_INT, .v.i = (x)})
#define AB(x) ((ds_attr){.kind = DS_ATTR_BOOL, .v.b = (x)})
#define AF(x) ((ds_attr){.kind = DS_ATTR_FLOAT, .v.f = (x)})
#define AN ((ds_attr){.kind = DS_ATTR_NONE})
#define AIS(...) ((ds_attr){.kind = DS_ATTR_INTS, .n = sizeof((int64_t[]){__VA_ARGS__}) / sizeof(int64_t), .v.ints = (const int64_t[]){__VA_ARGS__}})
#define VALS(...) ((const int64_t[]){__VA_ARGS__})

/* When set, gc_op types the dims of size 3 of float parameters with one symbol, so the rules take
 * their shape-agnostic paths (*_like ops). (One symbol: the builder's probe mapping cannot yet tell
 * several symbols apart.) */
static bool gc_symbolic;

/* g: parameters as specified, outputs = all outputs of op(params; attrs). Checks to `order`. */
static inline bool gc_op(ds_op_id op, const ds_attr *attrs, int order, int n, const gc_in *in) {
    ds_graph *g = NULL;
    ds_value *p[GC_MAX], *y[GC_MAX];
    ds_tensor *args[GC_MAX] = {NULL};
    int ny = 0;
    bool ok = false;
    if (ds_graph_new(ds_op_get_info(op)->name, &g)) return false;
    for (int i = 0; i < n; i++) {
        int64_t dims[DS_MAX_DIMS];
        for (int d = 0; d < in[i].nd; d++) {
            dims[d] = in[i].sh[d];
            if (gc_symbolic && in[i].dt == DS_FLOAT64 && dims[d] == 3 && ds_graph_symbol(g, "n", &dims[d])) goto done;
        }
        if (ds_graph_add_param(g, "p", in[i].dt, in[i].nd, dims, false, &p[i])) goto done;
        if (in[i].dt == DS_FLOAT64) args[i] = gc_rand(DS_FLOAT64, in[i].nd, in[i].sh, in[i].lo, in[i].hi);
        else {
            args[i] = gc_ints(in[i].nd, in[i].sh, in[i].ints);
            if (in[i].dt != DS_INT64) {
                ds_tensor *c = NULL;
                ds_tensor_new(in[i].dt, in[i].nd, in[i].sh, &c);
                ds_tensor_copy_into(c, args[i]);
                ds_tensor_release(args[i]);
                args[i] = c;
            }
        }
    }
    if (ds_graph_add_op(g, op, n, p, attrs, GC_MAX, y, &ny) || ds_graph_set_outputs(g, ny, y)) {
        printf("  building %s failed: %s\n", ds_op_get_info(op)->name, ds_error_message());
        goto done;
    }
    ok = gc_check(g, args, order);
    if (!ok) printf("  (op %s)\n", ds_op_get_info(op)->name);
done:
    gc_release(n, args);
    ds_graph_release(g);
    return ok;
}

#define GC_OP(op, attrs, order, ...) gc_op(DS_OP_##op, attrs, order, sizeof((gc_in[]){__VA_ARGS__}) / sizeof(gc_in), (gc_in[]){__VA_ARGS__})
#endif
