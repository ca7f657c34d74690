/* Tests for the reduction ops (src/ops/reduce.c) and kernels (src/kernels/reduce.c). Expected values
 * are hand-computed (and match NumPy); large cases are checked against a double-precision reference. */
#include <stdlib.h>

#include "ds_test.h"
#include "kernels/reduce.h"
#include "tensor/dtype.h"
#include "tensor/tensor.h"

#define SH(...) ((const int64_t[]){__VA_ARGS__})
#define AX(...) ((const int64_t[]){__VA_ARGS__}), (int)(sizeof((const int64_t[]){__VA_ARGS__}) / sizeof(int64_t))
#define NONE NULL, -1

/* A new contiguous tensor holding `vals` converted to dt (vals NULL: 0, 1, 2, ...). */
static ds_tensor *mk(ds_dtype dt, int nd, const int64_t *shape, const double *vals) {
    static const int64_t scalar_shape[1] = {1};
    ds_tensor *t = NULL;
    if (ds_tensor_new(dt, nd, shape ? shape : scalar_shape, &t)) return NULL;
    char *p = ds_tensor_data(t);
    for (int64_t i = 0; i < ds_tensor_numel(t); i++)
        ds_dtype_store_double(dt, p + i * (int64_t)ds_dtype_size(dt), vals ? vals[i] : (double)i);
    return t;
}

/* Runs a list-axis reduction (nax < 0: axis None). */
static ds_status red(ds_op_id op, ds_tensor *x, const int64_t *axes, int nax, bool keep,
                     ds_tensor **out) {
    ds_attr at[3] = {{.kind = DS_ATTR_NONE}, {.kind = DS_ATTR_BOOL, .v.b = keep}, {.kind = DS_ATTR_NONE}};
    if (nax >= 0) at[0] = (ds_attr){.kind = DS_ATTR_INTS, .n = nax, .v.ints = axes};
    return ds_op_run1(op, 1, &x, at, out);
}

static ds_status red_ddof(ds_op_id op, ds_tensor *x, const int64_t *axes, int nax, int64_t ddof,
                          ds_tensor **out) {
    ds_attr at[3] = {{.kind = DS_ATTR_NONE}, {.kind = DS_ATTR_BOOL, .v.b = false},
                     {.kind = DS_ATTR_INT, .v.i = ddof}};
    if (nax >= 0) at[0] = (ds_attr){.kind = DS_ATTR_INTS, .n = nax, .v.ints = axes};
    return ds_op_run1(op, 1, &x, at, out);
}

/* argmax/argmin with an int axis (has_axis false: None). */
static ds_status arg(ds_op_id op, ds_tensor *x, bool has_axis, int64_t axis, bool keep,
                     ds_tensor **out) {
    ds_attr at[2] = {{.kind = DS_ATTR_NONE}, {.kind = DS_ATTR_BOOL, .v.b = keep}};
    if (has_axis) at[0] = (ds_attr){.kind = DS_ATTR_INT, .v.i = axis};
    return ds_op_run1(op, 1, &x, at, out);
}

/* True when t has dtype dt, the shape, and values within tol (NaN matches NaN). */
static bool same(ds_tensor *t, ds_dtype dt, int nd, const int64_t *shape, const double *vals,
                 double tol) {
    if (!t) return false;
    if (ds_tensor_dtype(t) != dt) {
        printf("  dtype %s, expected %s\n", ds_dtype_name(ds_tensor_dtype(t)), ds_dtype_name(dt));
        return false;
    }
    if (!ds_shape_equal(ds_tensor_ndim(t), ds_tensor_shape(t), nd, shape)) {
        printf("  shape mismatch (ndim %d)\n", ds_tensor_ndim(t));
        return false;
    }
    for (int64_t i = 0; i < ds_tensor_numel(t); i++) {
        double v = 0;
        ds_tensor_get_double(t, i, &v);
        bool ok = isnan(vals[i]) ? isnan(v) : (v == vals[i] || fabs(v - vals[i]) <= tol);
        if (!ok) {
            printf("  element %lld: got %.17g, expected %.17g\n", (long long)i, v, vals[i]);
            return false;
        }
    }
    return true;
}

#define CHECK_RED(expr, dt, nd, shape, vals, tol)                                                  \
    do {                                                                                           \
        ds_tensor *o_ = NULL;                                                                      \
        CHECK_OK(expr(&o_));                                                                       \
        CHECK(same(o_, dt, nd, shape, vals, tol));                                                 \
        ds_tensor_release(o_);                                                                     \
    } while (0)

/* x = [[0, 1, 2], [3, 4, 5]] */
DS_TEST(sum_axes_keepdims_float32) {
    ds_tensor *x = mk(DS_FLOAT32, 2, SH(2, 3), NULL), *o = NULL;
    CHECK_OK(red(DS_OP_SUM, x, NONE, false, &o));
    CHECK(same(o, DS_FLOAT32, 0, NULL, (double[]){15}, 0));
    ds_tensor_release(o);
    CHECK_OK(red(DS_OP_SUM, x, AX(0), false, &o));
    CHECK(same(o, DS_FLOAT32, 1, SH(3), (double[]){3, 5, 7}, 0));
    ds_tensor_release(o);
    CHECK_OK(red(DS_OP_SUM, x, AX(-1), true, &o));
    CHECK(same(o, DS_FLOAT32, 2, SH(2, 1), (double[]){3, 12}, 0));
    ds_tensor_release(o);
    CHECK_OK(red(DS_OP_SUM, x, AX(1, 0), true, &o));
    CHECK(same(o, DS_FLOAT32, 2, SH(1, 1), (double[]){15}, 0));
    ds_tensor_release(o);
    CHECK_OK(red(DS_OP_SUM, x, NONE, true, &o));
    CHECK(same(o, DS_FLOAT32, 2, SH(1, 1), (double[]){15}, 0));
    ds_tensor_release(o);
    CHECK_OK(red(DS_OP_SUM, x, NULL, 0, false, &o)); /* axis=() reduces nothing */
    CHECK(same(o, DS_FLOAT32, 2, SH(2, 3), (double[]){0, 1, 2, 3, 4, 5}, 0));
    ds_tensor_release(o);
    ds_tensor_release(x);
}

DS_TEST(sum_prod_dtypes) {
    ds_tensor *i8 = mk(DS_INT8, 1, SH(4), (double[]){100, 100, 100, -7}), *o = NULL;
    CHECK_OK(red(DS_OP_SUM, i8, NONE, false, &o)); /* int64 accumulation: no int8 overflow */
    CHECK(same(o, DS_INT64, 0, NULL, (double[]){293}, 0));
    ds_tensor_release(o);
    CHECK_OK(red(DS_OP_PROD, i8, NONE, false, &o));
    CHECK(same(o, DS_INT64, 0, NULL, (double[]){-7000000}, 0));
    ds_tensor_release(o);
    ds_tensor *b = mk(DS_BOOL, 2, SH(2, 2), (double[]){1, 0, 1, 1});
    CHECK_OK(red(DS_OP_SUM, b, AX(1), false, &o));
    CHECK(same(o, DS_INT64, 1, SH(2), (double[]){1, 2}, 0));
    ds_tensor_release(o);
    CHECK_OK(red(DS_OP_PROD, b, AX(0), false, &o));
    CHECK(same(o, DS_INT64, 1, SH(2), (double[]){1, 0}, 0));
    ds_tensor_release(o);
    ds_tensor *h = mk(DS_FLOAT16, 1, SH(3), (double[]){0.5, 1.25, 2048});
    CHECK_OK(red(DS_OP_SUM, h, NONE, false, &o)); /* float32 accumulation, rounded once */
    CHECK(same(o, DS_FLOAT16, 0, NULL, (double[]){2050}, 0));
    ds_tensor_release(o);
    ds_tensor *bf = mk(DS_BFLOAT16, 1, SH(3), (double[]){1.5, -2, 4});
    CHECK_OK(red(DS_OP_PROD, bf, NONE, false, &o));
    CHECK(same(o, DS_BFLOAT16, 0, NULL, (double[]){-12}, 0));
    ds_tensor_release(o);
    ds_tensor *d = mk(DS_FLOAT64, 2, SH(2, 2), (double[]){1e-3, 2, 3, 4});
    CHECK_OK(red(DS_OP_PROD, d, AX(0), false, &o));
    CHECK(same(o, DS_FLOAT64, 1, SH(2), (double[]){3e-3, 8}, 1e-18));
    ds_tensor_release(o);
    ds_tensor *i64 = mk(DS_INT64, 1, SH(2), NULL); /* wraps like NumPy */
    ((int64_t *)ds_tensor_data(i64))[0] = INT64_MAX;
    ((int64_t *)ds_tensor_data(i64))[1] = 1;
    CHECK_OK(red(DS_OP_SUM, i64, NONE, false, &o));
    int64_t v = 0;
    ds_tensor_get_int(o, 0, &v);
    CHECK(v == INT64_MIN);
    ds_tensor_release(o);
    ds_tensor_release(i8);
    ds_tensor_release(b);
    ds_tensor_release(h);
    ds_tensor_release(bf);
    ds_tensor_release(d);
    ds_tensor_release(i64);
}

DS_TEST(mean_var_std) {
    ds_tensor *x = mk(DS_INT32, 2, SH(2, 3), (double[]){1, 2, 3, 4, 6, 8}), *o = NULL;
    CHECK_OK(red(DS_OP_MEAN, x, AX(1), false, &o));
    CHECK(same(o, DS_FLOAT32, 1, SH(2), (double[]){2, 6}, 0));
    ds_tensor_release(o);
    CHECK_OK(red_ddof(DS_OP_VAR, x, AX(1), 0, &o));
    CHECK(same(o, DS_FLOAT32, 1, SH(2), (double[]){2.0 / 3, 8.0 / 3}, 1e-7));
    ds_tensor_release(o);
    CHECK_OK(red_ddof(DS_OP_VAR, x, AX(1), 1, &o));
    CHECK(same(o, DS_FLOAT32, 1, SH(2), (double[]){1, 4}, 0));
    ds_tensor_release(o);
    CHECK_OK(red_ddof(DS_OP_STD, x, AX(0), 0, &o));
    CHECK(same(o, DS_FLOAT32, 1, SH(3), (double[]){1.5, 2, 2.5}, 0));
    ds_tensor_release(o);
    CHECK_OK(red_ddof(DS_OP_STD, x, NONE, 1, &o)); /* mean 4, squares 9+4+1+0+4+16 = 34 */
    CHECK(same(o, DS_FLOAT32, 0, NULL, (double[]){sqrt(34.0 / 5)}, 1e-6));
    ds_tensor_release(o);
    CHECK_OK(red_ddof(DS_OP_VAR, x, AX(0), 2, &o)); /* divisor max(2 - 2, 0): inf */
    CHECK(same(o, DS_FLOAT32, 1, SH(3), (double[]){INFINITY, INFINITY, INFINITY}, 0));
    ds_tensor_release(o);
    ds_tensor *f = mk(DS_FLOAT64, 1, SH(4), (double[]){1e9 + 1, 1e9 + 2, 1e9 + 3, 1e9 + 4});
    CHECK_OK(red_ddof(DS_OP_VAR, f, NONE, 0, &o)); /* two-pass: no cancellation */
    CHECK(same(o, DS_FLOAT64, 0, NULL, (double[]){1.25}, 1e-12));
    ds_tensor_release(o);
    CHECK_OK(red(DS_OP_MEAN, f, NONE, false, &o));
    CHECK(same(o, DS_FLOAT64, 0, NULL, (double[]){1e9 + 2.5}, 0));
    ds_tensor_release(o);
    ds_tensor *b = mk(DS_BOOL, 1, SH(4), (double[]){1, 0, 1, 1});
    CHECK_OK(red(DS_OP_MEAN, b, NONE, false, &o));
    CHECK(same(o, DS_FLOAT32, 0, NULL, (double[]){0.75}, 0));
    ds_tensor_release(o);
    ds_tensor_release(x);
    ds_tensor_release(f);
    ds_tensor_release(b);
}

DS_TEST(amax_amin_nan_and_dtypes) {
    ds_tensor *x = mk(DS_FLOAT32, 2, SH(2, 3), (double[]){1, NAN, -2, 5, 0, -7}), *o = NULL;
    CHECK_OK(red(DS_OP_AMAX, x, AX(1), false, &o));
    CHECK(same(o, DS_FLOAT32, 1, SH(2), (double[]){NAN, 5}, 0));
    ds_tensor_release(o);
    CHECK_OK(red(DS_OP_AMIN, x, AX(0), false, &o));
    CHECK(same(o, DS_FLOAT32, 1, SH(3), (double[]){1, NAN, -7}, 0));
    ds_tensor_release(o);
    CHECK_OK(red(DS_OP_AMAX, x, NONE, false, &o));
    CHECK(same(o, DS_FLOAT32, 0, NULL, (double[]){NAN}, 0));
    ds_tensor_release(o);
    ds_tensor *u = mk(DS_UINT8, 1, SH(3), (double[]){7, 255, 0});
    CHECK_OK(red(DS_OP_AMAX, u, NONE, true, &o));
    CHECK(same(o, DS_UINT8, 1, SH(1), (double[]){255}, 0));
    ds_tensor_release(o);
    CHECK_OK(red(DS_OP_AMIN, u, NONE, false, &o));
    CHECK(same(o, DS_UINT8, 0, NULL, (double[]){0}, 0));
    ds_tensor_release(o);
    ds_tensor *h = mk(DS_FLOAT16, 2, SH(2, 2), (double[]){-0.5, 3.5, 65504, -65504});
    CHECK_OK(red(DS_OP_AMAX, h, AX(0), false, &o));
    CHECK(same(o, DS_FLOAT16, 1, SH(2), (double[]){65504, 3.5}, 0));
    ds_tensor_release(o);
    ds_tensor *i64 = mk(DS_INT64, 1, SH(3), NULL);
    int64_t *p = ds_tensor_data(i64);
    p[0] = INT64_MIN + 1, p[1] = INT64_MAX - 1, p[2] = INT64_MAX; /* exact: not through double */
    CHECK_OK(red(DS_OP_AMAX, i64, NONE, false, &o));
    int64_t v = 0;
    ds_tensor_get_int(o, 0, &v);
    CHECK(v == INT64_MAX);
    ds_tensor_release(o);
    ds_tensor_release(x);
    ds_tensor_release(u);
    ds_tensor_release(h);
    ds_tensor_release(i64);
}

DS_TEST(all_any) {
    ds_tensor *x = mk(DS_FLOAT32, 2, SH(2, 3), (double[]){1, NAN, -0.0, 2, 3, 4}), *o = NULL;
    CHECK_OK(red(DS_OP_ALL, x, AX(1), false, &o));
    CHECK(same(o, DS_BOOL, 1, SH(2), (double[]){0, 1}, 0));
    ds_tensor_release(o);
    CHECK_OK(red(DS_OP_ANY, x, AX(0), false, &o));
    CHECK(same(o, DS_BOOL, 1, SH(3), (double[]){1, 1, 1}, 0));
    ds_tensor_release(o);
    ds_tensor *i = mk(DS_INT16, 2, SH(2, 2), (double[]){0, 0, 0, 5});
    CHECK_OK(red(DS_OP_ANY, i, AX(1), false, &o));
    CHECK(same(o, DS_BOOL, 1, SH(2), (double[]){0, 1}, 0));
    ds_tensor_release(o);
    CHECK_OK(red(DS_OP_ALL, i, NONE, false, &o));
    CHECK(same(o, DS_BOOL, 0, NULL, (double[]){0}, 0));
    ds_tensor_release(o);
    ds_tensor *b = mk(DS_BOOL, 1, SH(3), (double[]){1, 1, 1});
    CHECK_OK(red(DS_OP_ALL, b, NONE, false, &o));
    CHECK(same(o, DS_BOOL, 0, NULL, (double[]){1}, 0));
    ds_tensor_release(o);
    ds_tensor_release(x);
    ds_tensor_release(i);
    ds_tensor_release(b);
}

DS_TEST(argmax_argmin) {
    ds_tensor *x = mk(DS_FLOAT32, 2, SH(2, 4), (double[]){3, 7, 7, 1, 2, NAN, 9, NAN}), *o = NULL;
    CHECK_OK(arg(DS_OP_ARGMAX, x, true, 1, false, &o));
    CHECK(same(o, DS_INT64, 1, SH(2), (double[]){1, 1}, 0)); /* first of ties; first NaN */
    ds_tensor_release(o);
    CHECK_OK(arg(DS_OP_ARGMIN, x, true, -1, true, &o));
    CHECK(same(o, DS_INT64, 2, SH(2, 1), (double[]){3, 1}, 0)); /* NaN wins argmin too */
    ds_tensor_release(o);
    CHECK_OK(arg(DS_OP_ARGMAX, x, true, 0, false, &o));
    CHECK(same(o, DS_INT64, 1, SH(4), (double[]){0, 1, 1, 1}, 0));
    ds_tensor_release(o);
    CHECK_OK(arg(DS_OP_ARGMAX, x, false, 0, false, &o)); /* flattened */
    CHECK(same(o, DS_INT64, 0, NULL, (double[]){5}, 0));
    ds_tensor_release(o);
    CHECK_OK(arg(DS_OP_ARGMIN, x, false, 0, true, &o));
    CHECK(same(o, DS_INT64, 2, SH(1, 1), (double[]){5}, 0));
    ds_tensor_release(o);
    ds_tensor *i = mk(DS_INT32, 2, SH(3, 2), (double[]){4, -1, 4, -5, 6, -5});
    CHECK_OK(arg(DS_OP_ARGMIN, i, true, 0, false, &o));
    CHECK(same(o, DS_INT64, 1, SH(2), (double[]){0, 1}, 0));
    ds_tensor_release(o);
    CHECK_OK(arg(DS_OP_ARGMAX, i, false, 0, false, &o));
    CHECK(same(o, DS_INT64, 0, NULL, (double[]){4}, 0));
    ds_tensor_release(o);
    ds_tensor *s = mk(DS_FLOAT64, 0, NULL, (double[]){2.5});
    CHECK_OK(arg(DS_OP_ARGMAX, s, false, 0, false, &o));
    CHECK(same(o, DS_INT64, 0, NULL, (double[]){0}, 0));
    ds_tensor_release(o);
    ds_tensor_release(x);
    ds_tensor_release(i);
    ds_tensor_release(s);
}

DS_TEST(empty_reductions) {
    ds_tensor *e = mk(DS_FLOAT32, 2, SH(0, 3), NULL), *o = NULL;
    CHECK_OK(red(DS_OP_SUM, e, AX(0), false, &o));
    CHECK(same(o, DS_FLOAT32, 1, SH(3), (double[]){0, 0, 0}, 0));
    ds_tensor_release(o);
    CHECK_OK(red(DS_OP_PROD, e, AX(0), true, &o));
    CHECK(same(o, DS_FLOAT32, 2, SH(1, 3), (double[]){1, 1, 1}, 0));
    ds_tensor_release(o);
    CHECK_OK(red(DS_OP_MEAN, e, AX(0), false, &o));
    CHECK(same(o, DS_FLOAT32, 1, SH(3), (double[]){NAN, NAN, NAN}, 0));
    ds_tensor_release(o);
    CHECK_OK(red_ddof(DS_OP_VAR, e, AX(0), 0, &o));
    CHECK(same(o, DS_FLOAT32, 1, SH(3), (double[]){NAN, NAN, NAN}, 0));
    ds_tensor_release(o);
    CHECK_OK(red(DS_OP_ALL, e, NONE, false, &o));
    CHECK(same(o, DS_BOOL, 0, NULL, (double[]){1}, 0));
    ds_tensor_release(o);
    CHECK_OK(red(DS_OP_ANY, e, NONE, false, &o));
    CHECK(same(o, DS_BOOL, 0, NULL, (double[]){0}, 0));
    ds_tensor_release(o);
    CHECK_OK(red(DS_OP_AMAX, e, AX(1), false, &o)); /* reduces 3 elements per (absent) row */
    CHECK(same(o, DS_FLOAT32, 1, SH(0), NULL, 0));
    ds_tensor_release(o);
    o = NULL;
    CHECK_ERR(red(DS_OP_AMAX, e, AX(0), false, &o), DS_ERR_VALUE,
              "amax: zero-size array to reduction operation maximum which has no identity");
    CHECK_ERR(red(DS_OP_AMIN, e, NONE, false, &o), DS_ERR_VALUE,
              "zero-size array to reduction operation minimum which has no identity");
    CHECK_ERR(arg(DS_OP_ARGMAX, e, true, 0, false, &o), DS_ERR_VALUE,
              "attempt to get argmax of an empty sequence");
    CHECK_ERR(arg(DS_OP_ARGMIN, e, false, 0, false, &o), DS_ERR_VALUE,
              "attempt to get argmin of an empty sequence");
    CHECK(o == NULL);
    ds_tensor_release(e);
}

DS_TEST(axis_errors) {
    ds_tensor *x = mk(DS_FLOAT32, 2, SH(2, 3), NULL), *o = NULL;
    CHECK_ERR(red(DS_OP_SUM, x, AX(0, -2), false, &o), DS_ERR_VALUE, "sum: duplicate value in 'axis'");
    CHECK_ERR(red(DS_OP_MEAN, x, AX(2), false, &o), DS_ERR_AXIS, "axis 2 is out of bounds");
    CHECK_ERR(red(DS_OP_STD, x, AX(-3), false, &o), DS_ERR_AXIS, "out of bounds");
    CHECK_ERR(arg(DS_OP_ARGMAX, x, true, 5, false, &o), DS_ERR_AXIS, "argmax: axis 5");
    CHECK(o == NULL);
    ds_tensor *s = mk(DS_FLOAT32, 0, NULL, (double[]){4});
    CHECK_OK(red(DS_OP_SUM, s, AX(0), false, &o)); /* NumPy accepts axis 0 / -1 on 0-d */
    CHECK(same(o, DS_FLOAT32, 0, NULL, (double[]){4}, 0));
    ds_tensor_release(o);
    CHECK_ERR(red(DS_OP_SUM, s, AX(1), false, &o), DS_ERR_AXIS, "out of bounds");
    ds_tensor_release(x);
    ds_tensor_release(s);
}

/* x = arange(24) as [2, 3, 4] */
DS_TEST(multi_axis_and_views) {
    ds_tensor *x = mk(DS_FLOAT64, 3, SH(2, 3, 4), NULL), *o = NULL, *t = NULL;
    CHECK_OK(red(DS_OP_SUM, x, AX(0, 2), false, &o)); /* non-adjacent axes: copy path */
    CHECK(same(o, DS_FLOAT64, 1, SH(3), (double[]){60, 92, 124}, 0));
    ds_tensor_release(o);
    CHECK_OK(red(DS_OP_SUM, x, AX(-1, 1), true, &o));
    CHECK(same(o, DS_FLOAT64, 3, SH(2, 1, 1), (double[]){66, 210}, 0));
    ds_tensor_release(o);
    CHECK_OK(red(DS_OP_AMAX, x, AX(1), false, &o)); /* middle axis: [outer, r, inner] in place */
    CHECK(same(o, DS_FLOAT64, 2, SH(2, 4), (double[]){8, 9, 10, 11, 20, 21, 22, 23}, 0));
    ds_tensor_release(o);
    /* t = x.transpose(2, 0, 1): shape [4, 2, 3]; reading it in memory order needs no copy */
    CHECK_OK(ds_tensor_permute(x, (const int[]){2, 0, 1}, &t));
    CHECK_OK(red(DS_OP_SUM, t, AX(0), false, &o));
    CHECK(same(o, DS_FLOAT64, 2, SH(2, 3), (double[]){6, 22, 38, 54, 70, 86}, 0));
    ds_tensor_release(o);
    CHECK_OK(red(DS_OP_SUM, t, AX(1, 2), false, &o));
    CHECK(same(o, DS_FLOAT64, 1, SH(4), (double[]){60, 66, 72, 78}, 0));
    ds_tensor_release(o);
    CHECK_OK(arg(DS_OP_ARGMAX, t, true, 2, false, &o));
    CHECK(same(o, DS_INT64, 2, SH(4, 2), (double[]){2, 2, 2, 2, 2, 2, 2, 2}, 0));
    ds_tensor_release(o);
    CHECK_OK(arg(DS_OP_ARGMIN, t, false, 0, false, &o)); /* flattened order of the view */
    CHECK(same(o, DS_INT64, 0, NULL, (double[]){0}, 0));
    ds_tensor_release(o);
    CHECK_OK(arg(DS_OP_ARGMAX, t, false, 0, false, &o)); /* t[3, 1, 2] = 23: row-major, not memory order */
    CHECK(same(o, DS_INT64, 0, NULL, (double[]){23}, 0));
    ds_tensor_release(o);
    ds_tensor_release(t);
    /* a strided slice: every other column */
    CHECK_OK(ds_tensor_slice(x, 2, 0, 4, 2, &t));
    CHECK_OK(red(DS_OP_SUM, t, AX(2), false, &o));
    CHECK(same(o, DS_FLOAT64, 2, SH(2, 3), (double[]){2, 10, 18, 26, 34, 42}, 0));
    ds_tensor_release(o);
    ds_tensor_release(t);
    ds_tensor_release(x);
}

/* Reference: reduce arange-like data over a mask with a naive loop, in double. */
static void naive_sum4(const double *x, const int64_t *sh, const bool *mask, double *out, int64_t *nout) {
    int64_t osh[4], n = 0;
    for (int d = 0; d < 4; d++) osh[d] = mask[d] ? 1 : sh[d];
    *nout = osh[0] * osh[1] * osh[2] * osh[3];
    for (int64_t k = 0; k < *nout; k++) out[k] = 0;
    for (int64_t a = 0; a < sh[0]; a++)
        for (int64_t b = 0; b < sh[1]; b++)
            for (int64_t c = 0; c < sh[2]; c++)
                for (int64_t d = 0; d < sh[3]; d++) {
                    int64_t o = (((mask[0] ? 0 : a) * osh[1] + (mask[1] ? 0 : b)) * osh[2] + (mask[2] ? 0 : c)) * osh[3] + (mask[3] ? 0 : d);
                    out[o] += x[n++];
                }
}

/* Every axis subset of a 4-d tensor (in place, two runs, or copied), contiguous and permuted. */
DS_TEST(all_axis_subsets_4d) {
    const int64_t sh[4] = {3, 4, 5, 6};
    double vals[360], want[360], got[360];
    for (int i = 0; i < 360; i++) vals[i] = (double)((i * 37) % 101) - 50;
    ds_tensor *x = mk(DS_FLOAT64, 4, sh, vals), *o = NULL;
    for (int m = 1; m < 16; m++) {
        bool mask[4] = {m & 1, (m >> 1) & 1, (m >> 2) & 1, (m >> 3) & 1};
        int64_t axes[4], na = 0, nout;
        for (int d = 0; d < 4; d++)
            if (mask[d]) axes[na++] = d;
        naive_sum4(vals, sh, mask, want, &nout);
        CHECK_OK(red(DS_OP_SUM, x, axes, (int)na, true, &o));
        for (int64_t k = 0; k < nout; k++) ds_tensor_get_double(o, k, &got[k]);
        bool ok = ds_tensor_numel(o) == nout;
        for (int64_t k = 0; k < nout && ok; k++) ok = got[k] == want[k];
        if (!ok) printf("  axis mask %d\n", m);
        CHECK(ok);
        ds_tensor_release(o);
        /* mean and var over the same axes agree with sum-based values */
        CHECK_OK(red(DS_OP_MEAN, x, axes, (int)na, true, &o));
        int64_t cnt = 360 / nout;
        for (int64_t k = 0; k < nout && ok; k++) {
            double v;
            ds_tensor_get_double(o, k, &v);
            ok = fabs(v - want[k] / (double)cnt) < 1e-12;
        }
        CHECK(ok);
        ds_tensor_release(o);
    }
    /* the same on a permuted view (memory order differs from logical order) */
    ds_tensor *t = NULL;
    CHECK_OK(ds_tensor_permute(x, (const int[]){2, 0, 3, 1}, &t)); /* shape [5, 3, 6, 4] */
    CHECK_OK(red(DS_OP_SUM, t, AX(1, 3), false, &o)); /* = x summed over (0, 1), as [5, 6] */
    bool mk01[4] = {true, true, false, false};
    int64_t nout;
    naive_sum4(vals, sh, mk01, want, &nout);
    bool ok = ds_tensor_numel(o) == 30;
    for (int64_t k = 0; k < 30 && ok; k++) {
        double v;
        ds_tensor_get_double(o, k, &v);
        ok = v == want[k];
    }
    CHECK(ok);
    ds_tensor_release(o);
    ds_tensor_release(t);
    /* batch-norm statistics: NCHW over (0, 2, 3) */
    CHECK_OK(red_ddof(DS_OP_VAR, x, AX(0, 2, 3), 0, &o));
    for (int c = 0; c < 4 && ok; c++) {
        double s = 0, s2 = 0, v;
        for (int a = 0; a < 3; a++)
            for (int k = 0; k < 30; k++) s += vals[(a * 4 + c) * 30 + k];
        for (int a = 0; a < 3; a++)
            for (int k = 0; k < 30; k++) s2 += pow(vals[(a * 4 + c) * 30 + k] - s / 90, 2);
        ds_tensor_get_double(o, c, &v);
        ok = fabs(v - s2 / 90) < 1e-9;
    }
    CHECK(ok);
    ds_tensor_release(o);
    ds_tensor_release(x);
}

/* ---------------------------------------------------------------- large and randomized */
static uint64_t g_rng = 88172645463325252ull;
static double urand(void) {
    g_rng ^= g_rng << 13, g_rng ^= g_rng >> 7, g_rng ^= g_rng << 17;
    return (double)(g_rng >> 11) / 9007199254740992.0;
}

DS_TEST(large_float32_sum_accuracy_and_determinism) {
    int64_t n = 1000000;
    ds_tensor *x = mk(DS_FLOAT32, 1, SH(n), NULL), *o1 = NULL, *o2 = NULL;
    float *p = ds_tensor_data(x);
    long double ref = 0;
    for (int64_t i = 0; i < n; i++) p[i] = (float)urand(), ref += p[i];
    int saved = ds_get_num_threads();
    ds_set_num_threads(1);
    CHECK_OK(red(DS_OP_SUM, x, NONE, false, &o1));
    ds_set_num_threads(2);
    CHECK_OK(red(DS_OP_SUM, x, NONE, false, &o2));
    ds_set_num_threads(saved);
    double a = 0, b = 0;
    ds_tensor_get_double(o1, 0, &a);
    ds_tensor_get_double(o2, 0, &b);
    CHECK(a == b);
    CHECK(fabs(a - (double)ref) <= 1e-7 * (double)ref); /* correctly rounded float32 is ~6e-8 */
    ds_tensor_release(o1);
    ds_tensor_release(o2);
    CHECK_OK(red(DS_OP_MEAN, x, NONE, false, &o1));
    ds_tensor_get_double(o1, 0, &a);
    CHECK(fabs(a - (double)(ref / n)) <= 1e-7 * (double)(ref / n));
    ds_tensor_release(o1);
    /* [1000, 1000] over each axis */
    int64_t sh[2] = {1000, 1000};
    ds_tensor *m = NULL;
    CHECK_OK(ds_tensor_reshape(x, 2, sh, &m));
    for (int ax = 0; ax < 2; ax++) {
        CHECK_OK(red(DS_OP_SUM, m, (const int64_t[]){ax}, 1, false, &o1));
        const float *q = ds_tensor_data(o1);
        for (int64_t k = 0; k < 1000; k++) {
            double s = 0;
            for (int64_t i = 0; i < 1000; i++) s += ax == 0 ? p[i * 1000 + k] : p[k * 1000 + i];
            if (fabs(q[k] - s) > 1e-6 * s) {
                CHECK(fabs(q[k] - s) <= 1e-6 * s);
                break;
            }
        }
        ds_tensor_release(o1);
    }
    ds_tensor_release(m);
    ds_tensor_release(x);
}

/* Reference results of every kind for one output of ds_reduce on [outer, r, inner] (v points at
 * x[o, 0, j], values already in the input dtype), with ddof 1 for var/std. */
static void ref_reduce(bool ints, const double *v, int64_t r, int64_t inner, double *res) {
    long double s = 0, s2 = 0;
    double p = 1;
    uint64_t pi = 1; /* integer products wrap */
    double mx = v[0], mn = v[0];
    int64_t amx = 0, amn = 0;
    bool all = true, any = false, nan = false;
    for (int64_t i = 0; i < r; i++) {
        double x = v[i * inner];
        s += x, p *= x, pi *= (uint64_t)(int64_t)x;
        all = all && x != 0, any = any || x != 0;
        if (isnan(x) && !nan) nan = true, amx = amn = i;
        if (!nan && x > mx) mx = x, amx = i;
        if (!nan && x < mn) mn = x, amn = i;
    }
    long double mean = s / r;
    for (int64_t i = 0; i < r; i++) s2 += (v[i * inner] - mean) * (v[i * inner] - mean);
    res[DS_REDUCE_SUM] = (double)s;
    res[DS_REDUCE_PROD] = ints ? (double)(int64_t)pi : p;
    res[DS_REDUCE_MEAN] = (double)mean;
    res[DS_REDUCE_MAX] = nan ? NAN : mx;
    res[DS_REDUCE_MIN] = nan ? NAN : mn;
    res[DS_REDUCE_ALL] = all;
    res[DS_REDUCE_ANY] = any;
    res[DS_REDUCE_VAR] = (double)(s2 / (r - 1));
    res[DS_REDUCE_STD] = sqrt((double)(s2 / (r - 1)));
    res[DS_REDUCE_ARGMAX] = (double)amx;
    res[DS_REDUCE_ARGMIN] = (double)amn;
}

/* Every kind x several dtypes x shapes (1-D runs, row blocks, split pieces) x every ISA. */
DS_TEST(kernel_matches_reference_all_isas) {
    const char *isas[] = {"generic", "avx2", "avx512"};
    const ds_dtype dts[] = {DS_FLOAT32, DS_FLOAT64, DS_FLOAT16, DS_INT32, DS_UINT8, DS_BOOL};
    const int64_t shapes[][3] = {{1, 1, 1},   {3, 37, 1},  {2, 70001, 1}, {5, 9, 7},
                                 {1, 300, 600}, {2, 3000, 40}, {70, 33, 1}, {1, 5, 3}};
    const int K = DS_REDUCE_KIND_COUNT;
    for (size_t si = 0; si < sizeof shapes / sizeof shapes[0]; si++) {
        int64_t outer = shapes[si][0], r = shapes[si][1], inner = shapes[si][2];
        int64_t n = outer * r * inner, nout = outer * inner;
        double *v = malloc(sizeof(double) * (size_t)n);
        double *ref = malloc(sizeof(double) * (size_t)(nout * K));
        double *y = malloc(8 * (size_t)nout);
        for (size_t di = 0; di < sizeof dts / sizeof dts[0]; di++) {
            ds_dtype dt = dts[di];
            size_t es = ds_dtype_size(dt);
            char *x = malloc(es * (size_t)n);
            for (int64_t i = 0; i < n; i++) {
                double u = urand();
                double val = dt == DS_BOOL ? (u < 0.7)
                             : ds_dtype_is_int(dt) ? floor(u * 200) - (dt == DS_UINT8 ? 0 : 100)
                                                   : u * 4 - 2;
                if (ds_dtype_is_float(dt) && urand() < 0.001) val = NAN;
                ds_dtype_store_double(dt, x + i * es, val);
                v[i] = ds_dtype_load_double(dt, x + i * es);
            }
            for (int64_t o = 0; o < outer; o++)
                for (int64_t j = 0; j < inner; j++)
                    ref_reduce(!ds_dtype_is_float(dt), v + o * r * inner + j, r, inner,
                               ref + (o * inner + j) * K);
            for (int ii = 0; ii < 3; ii++) {
                if (!ds_reduce_set_isa(isas[ii])) continue;
                for (int k = 0; k < K; k++) {
                    if (dt == DS_FLOAT16 && k == DS_REDUCE_PROD) continue; /* overflows half */
                    ds_dtype od = ds_reduce_out_dtype((ds_reduce_kind)k, dt);
                    if (od != DS_INT64 && od != DS_BOOL) od = DS_FLOAT64; /* compare unrounded */
                    CHECK_OK(ds_reduce((ds_reduce_kind)k, dt, x, outer, r, inner, od, y, 1));
                    int bad = 0;
                    for (int64_t q = 0; q < nout && !bad; q++) {
                        double want = ref[q * K + k];
                        double got = ds_dtype_load_double(od, (char *)y + q * (int64_t)ds_dtype_size(od));
                        double tol = (k == DS_REDUCE_PROD ? 1e-9 : 1e-12) * (fabs(want) + (double)r);
                        if (isnan(want) ? !isnan(got) : fabs(got - want) > tol) {
                            printf("  %s %s kind %d shape [%lld,%lld,%lld] output %lld: got %.17g want %.17g\n",
                                   isas[ii], ds_dtype_name(dt), k, (long long)outer, (long long)r,
                                   (long long)inner, (long long)q, got, want);
                            bad = 1;
                        }
                    }
                    CHECK(!bad);
                }
            }
            free(x);
        }
        free(v);
        free(ref);
        free(y);
    }
    ds_reduce_set_isa(NULL);
}

/* ds_reduce_ex over [A, C, B, D] (reducing A and B) against ds_reduce on the gathered
 * [C, A * B, D] copy, for every kind and a few dtypes and sizes (incl. split pieces). */
DS_TEST(kernel_two_runs_layout) {
    const int64_t dims[][4] = {{3, 4, 5, 2}, {2, 3, 40000, 1}, {7, 2, 3, 600}, {1, 3, 9, 1}};
    const ds_dtype dts[] = {DS_FLOAT32, DS_FLOAT64, DS_INT32, DS_FLOAT16};
    for (size_t di = 0; di < sizeof dims / sizeof dims[0]; di++) {
        int64_t A = dims[di][0], C = dims[di][1], B = dims[di][2], D = dims[di][3], n = A * C * B * D;
        for (size_t ti = 0; ti < sizeof dts / sizeof dts[0]; ti++) {
            ds_dtype dt = dts[ti];
            size_t es = ds_dtype_size(dt);
            char *x = malloc(es * (size_t)n), *g = malloc(es * (size_t)n);
            for (int64_t i = 0; i < n; i++)
                ds_dtype_store_double(dt, x + i * (int64_t)es, floor(urand() * 64) - 32 + (ds_dtype_is_float(dt) ? 0.25 : 0));
            for (int64_t a = 0; a < A; a++)
                for (int64_t c = 0; c < C; c++)
                    for (int64_t b = 0; b < B; b++)
                        memcpy(g + ((c * A + a) * B + b) * D * (int64_t)es, x + ((a * C + c) * B + b) * D * (int64_t)es, es * (size_t)D);
            double *y1 = malloc(8 * (size_t)(C * D)), *y2 = malloc(8 * (size_t)(C * D));
            for (int k = 0; k < DS_REDUCE_KIND_COUNT; k++) {
                ds_dtype od = ds_reduce_out_dtype((ds_reduce_kind)k, dt);
                if (od != DS_INT64 && od != DS_BOOL) od = DS_FLOAT64;
                CHECK_OK(ds_reduce_ex((ds_reduce_kind)k, dt, x, C, A * B, D, B * D, B, C * B * D, od, y1, 0));
                CHECK_OK(ds_reduce((ds_reduce_kind)k, dt, g, C, A * B, D, od, y2, 0));
                bool ok = true;
                for (int64_t q = 0; q < C * D && ok; q++) {
                    double u = ds_dtype_load_double(od, (char *)y1 + q * (int64_t)ds_dtype_size(od));
                    double v = ds_dtype_load_double(od, (char *)y2 + q * (int64_t)ds_dtype_size(od));
                    ok = u == v || fabs(u - v) <= 1e-12 * fabs(v) || (k == DS_REDUCE_PROD && fabs(u - v) <= 1e-9 * fabs(v));
                    if (!ok) printf("  kind %d %s [%lld,%lld,%lld,%lld] output %lld: %.17g vs %.17g\n", k, ds_dtype_name(dt),
                                    (long long)A, (long long)C, (long long)B, (long long)D, (long long)q, u, v);
                }
                CHECK(ok);
            }
            free(x), free(g), free(y1), free(y2);
        }
    }
}

DS_TEST(alloc_failures_do_not_leak) {
    ds_tensor *x = mk(DS_FLOAT32, 3, SH(4, 5, 6), NULL);
    int64_t live = ds_alloc_live_blocks();
    for (int fail = 1; fail < 12; fail++) {
        ds_tensor *o = NULL;
        ds_alloc_debug_begin(fail);
        ds_status st = red_ddof(DS_OP_VAR, x, AX(0, 2), 1, &o);
        ds_alloc_debug_begin(0);
        CHECK(st == DS_OK || st == DS_ERR_NOMEM);
        ds_tensor_release(o);
        CHECK(ds_alloc_live_blocks() == live);
    }
    ds_tensor_release(x);
}

DS_TEST_MAIN()
