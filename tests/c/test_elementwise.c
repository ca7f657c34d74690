/* Tests of the elementwise kernels (src/kernels/elementwise.h, vmath.h) and ops (src/ops/elementwise.c):
 * values against libm / hand-computed references for several dtypes, broadcasting, strided views,
 * float16/bfloat16, casts, errors, integer division by zero, every ISA variant, and vmath accuracy. */
#include <float.h>
#include <stdint.h>
#include <stdlib.h>

#include "ds_test.h"
#include "kernels/elementwise.h"
#include "kernels/vmath.h"
#include "tensor/dtype.h"
#include "tensor/tensor.h"

static const char *const k_isas[] = {"generic", "avx2", "avx512"};

/* A 1-d tensor of dtype dt holding vals (converted with C rules). */
static ds_tensor *vec(ds_dtype dt, int64_t n, const double *vals) {
    ds_tensor *t = NULL;
    if (ds_tensor_new(dt, 1, &n, &t)) return NULL;
    for (int64_t i = 0; i < n; i++)
        ds_dtype_store_double(dt, (char *)ds_tensor_data(t) + i * (int64_t)ds_dtype_size(dt), vals[i]);
    return t;
}
static ds_tensor *shaped(ds_dtype dt, int ndim, const int64_t *shape, const double *vals) {
    ds_tensor *t = vec(dt, ds_shape_numel(ndim, shape), vals), *r = NULL;
    if (t && ds_tensor_reshape(t, ndim, shape, &r)) r = NULL;
    ds_tensor_release(t);
    return r;
}
static ds_tensor *scalar(ds_dtype dt, double v) {
    ds_tensor *t = NULL;
    return ds_tensor_scalar(dt, v, &t) ? NULL : t;
}
static double at(const ds_tensor *t, int64_t i) {
    double v = NAN;
    ds_tensor_get_double(t, i, &v);
    return v;
}
static ds_tensor *run(ds_op_id op, int n, ds_tensor *a, ds_tensor *b, ds_tensor *c, const ds_attr *attrs) {
    ds_tensor *in[3] = {a, b, c}, *out = NULL;
    return ds_op_run1(op, n, in, attrs, &out) ? NULL : out;
}
static ds_tensor *un(ds_op_id op, ds_tensor *a) { return run(op, 1, a, NULL, NULL, NULL); }
static ds_tensor *bin(ds_op_id op, ds_tensor *a, ds_tensor *b) { return run(op, 2, a, b, NULL, NULL); }
/* Same value, treating two NaNs as equal and telling -0 from +0 only if strict_zero. */
static bool same(double a, double b) { return (isnan(a) && isnan(b)) || a == b; }
static bool close_rel(double a, double b, double rtol) {
    if (isnan(a) || isnan(b)) return isnan(a) && isnan(b);
    if (isinf(a) || isinf(b)) return a == b;
    return fabs(a - b) <= rtol * fabs(b) + 1e-300;
}
#define CHECK_VALS(t, dt_, n, ...)                                                                 \
    do {                                                                                           \
        const double want_[] = {__VA_ARGS__};                                                      \
        CHECK((t) != NULL);                                                                        \
        if (t) {                                                                                   \
            CHECK(ds_tensor_dtype(t) == (dt_) && ds_tensor_numel(t) >= (n));                       \
            for (int64_t i_ = 0; i_ < (n); i_++)                                                   \
                if (!same(at(t, i_), want_[i_])) {                                                 \
                    printf("  element %lld: got %.17g want %.17g\n", (long long)i_, at(t, i_), want_[i_]); \
                    CHECK(same(at(t, i_), want_[i_]));                                             \
                }                                                                                  \
        }                                                                                          \
    } while (0)

/* ---------------------------------------------------------------- unary */
typedef double (*ref1)(double);
static double r_rsqrt(double x) { return 1 / sqrt(x); }
static double r_sigmoid(double x) { return 1 / (1 + exp(-x)); }
static double r_gelu(double x) { return 0.5 * x * erfc(-x / sqrt(2.0)); }
static double r_recip(double x) { return 1 / x; }

DS_TEST(unary_math_float) {
    static const struct { ds_op_id op; ref1 f; double lo, hi; } cases[] = {
        {DS_OP_EXP, exp, -20, 20}, {DS_OP_LOG, log, 0.01, 100}, {DS_OP_SQRT, sqrt, 0, 50},
        {DS_OP_RSQRT, r_rsqrt, 0.1, 50}, {DS_OP_SIN, sin, -30, 30}, {DS_OP_COS, cos, -30, 30},
        {DS_OP_TANH, tanh, -5, 5}, {DS_OP_SIGMOID, r_sigmoid, -20, 20}, {DS_OP_GELU, r_gelu, -6, 6},
        {DS_OP_ERF, erf, -3, 3}, {DS_OP_RECIPROCAL, r_recip, 0.1, 9},
    };
    double xs[101];
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        for (int i = 0; i < 101; i++) xs[i] = cases[c].lo + (cases[c].hi - cases[c].lo) * i / 100.0;
        for (int k = 0; k < 2; k++) {
            ds_dtype dt = k ? DS_FLOAT64 : DS_FLOAT32;
            ds_tensor *x = vec(dt, 101, xs), *y = un(cases[c].op, x);
            CHECK(y && ds_tensor_dtype(y) == dt);
            for (int i = 0; y && i < 101; i++) {
                double in = at(x, i), want = cases[c].f(in);
                if (!close_rel(at(y, i), want, k ? 1e-14 : 4e-7) && fabs(at(y, i) - want) > (k ? 1e-300 : 1e-37)) {
                    printf("  %s(%s %.9g) = %.17g, want %.17g\n", ds_op_get_info(cases[c].op)->name,
                           ds_dtype_name(dt), in, at(y, i), want);
                    CHECK(0);
                    break;
                }
            }
            ds_tensor_release(x);
            ds_tensor_release(y);
        }
    }
}

DS_TEST(unary_special_values) {
    double v[] = {NAN, INFINITY, -INFINITY, 0.0, -0.0};
    ds_tensor *x = vec(DS_FLOAT32, 5, v), *y;
    y = un(DS_OP_EXP, x);
    CHECK_VALS(y, DS_FLOAT32, 5, NAN, INFINITY, 0, 1, 1);
    ds_tensor_release(y);
    y = un(DS_OP_LOG, x);
    CHECK_VALS(y, DS_FLOAT32, 5, NAN, INFINITY, NAN, -INFINITY, -INFINITY);
    ds_tensor_release(y);
    y = un(DS_OP_TANH, x);
    CHECK_VALS(y, DS_FLOAT32, 5, NAN, 1, -1, 0, 0);
    ds_tensor_release(y);
    y = un(DS_OP_SIGMOID, x);
    CHECK_VALS(y, DS_FLOAT32, 5, NAN, 1, 0, 0.5, 0.5);
    ds_tensor_release(y);
    y = un(DS_OP_ERF, x);
    CHECK_VALS(y, DS_FLOAT32, 5, NAN, 1, -1, 0, 0);
    ds_tensor_release(y);
    y = un(DS_OP_SIN, x);
    CHECK_VALS(y, DS_FLOAT32, 5, NAN, NAN, NAN, 0, 0);
    ds_tensor_release(y);
    y = un(DS_OP_RELU, x);
    CHECK_VALS(y, DS_FLOAT32, 5, NAN, INFINITY, 0, 0, 0);
    ds_tensor_release(y);
    ds_tensor_release(x);
    /* sin/cos of huge arguments go through libm */
    double big[] = {1e6, -3e7, 12345.678, 1e30};
    x = vec(DS_FLOAT32, 4, big);
    y = un(DS_OP_SIN, x);
    for (int i = 0; y && i < 4; i++) CHECK(at(y, i) == (double)sinf((float)big[i]));
    ds_tensor_release(y);
    ds_tensor_release(x);
}

DS_TEST(unary_rounding_and_sign) {
    double v[] = {0.5, 1.5, 2.5, -0.5, -1.5, -2.7, 2.7, -0.0, 1073741824.0, NAN};
    for (int k = 0; k < 4; k++) {
        ds_dtype dt = (ds_dtype[]){DS_FLOAT32, DS_FLOAT64, DS_FLOAT16, DS_BFLOAT16}[k];
        ds_tensor *x = vec(dt, 10, v), *y;
        int64_t n = dt == DS_FLOAT16 ? 8 : 10; /* 2^30 overflows float16 */
        y = un(DS_OP_ROUND, x);
        CHECK_VALS(y, dt, n, 0, 2, 2, -0.0, -2, -3, 3, -0.0, 1073741824.0, NAN);
        if (y) CHECK(signbit(at(y, 3)) && signbit(at(y, 7)));
        ds_tensor_release(y);
        y = un(DS_OP_FLOOR, x);
        CHECK_VALS(y, dt, n, 0, 1, 2, -1, -2, -3, 2, -0.0, 1073741824.0, NAN);
        ds_tensor_release(y);
        y = un(DS_OP_CEIL, x);
        CHECK_VALS(y, dt, n, 1, 2, 3, -0.0, -1, -2, 3, -0.0, 1073741824.0, NAN);
        if (y) CHECK(signbit(at(y, 3)));
        ds_tensor_release(y);
        y = un(DS_OP_SIGN, x);
        CHECK_VALS(y, dt, n, 1, 1, 1, -1, -1, -1, 1, 0, 1, NAN);
        ds_tensor_release(y);
        ds_tensor_release(x);
    }
}

DS_TEST(unary_int_and_bool) {
    double v[] = {-128, -3, 0, 5, 127};
    ds_tensor *x = vec(DS_INT8, 5, v), *y;
    y = un(DS_OP_NEG, x);
    CHECK_VALS(y, DS_INT8, 5, -128, 3, 0, -5, -127);
    ds_tensor_release(y);
    y = un(DS_OP_ABS, x);
    CHECK_VALS(y, DS_INT8, 5, -128, 3, 0, 5, 127);
    ds_tensor_release(y);
    y = un(DS_OP_SIGN, x);
    CHECK_VALS(y, DS_INT8, 5, -1, -1, 0, 1, 1);
    ds_tensor_release(y);
    y = un(DS_OP_RELU, x);
    CHECK_VALS(y, DS_INT8, 5, 0, 0, 0, 5, 127);
    ds_tensor_release(y);
    y = un(DS_OP_SQUARE, x);
    CHECK_VALS(y, DS_INT8, 5, 0, 9, 0, 25, 1);
    ds_tensor_release(y);
    y = un(DS_OP_FLOOR, x);
    CHECK_VALS(y, DS_INT8, 5, -128, -3, 0, 5, 127);
    ds_tensor_release(y);
    y = un(DS_OP_BITWISE_NOT, x);
    CHECK_VALS(y, DS_INT8, 5, 127, 2, -1, -6, -128);
    ds_tensor_release(y);
    y = un(DS_OP_LOGICAL_NOT, x);
    CHECK_VALS(y, DS_BOOL, 5, 0, 0, 1, 0, 0);
    ds_tensor_release(y);
    ds_tensor_release(x);
    /* math ops on ints compute in float32 */
    double iv[] = {0, 1, 2, 100000};
    x = vec(DS_INT64, 4, iv);
    y = un(DS_OP_EXP, x);
    CHECK_VALS(y, DS_FLOAT32, 4, 1, (float)exp(1), (float)exp(2), INFINITY);
    ds_tensor_release(y);
    y = un(DS_OP_SQRT, x);
    CHECK_VALS(y, DS_FLOAT32, 4, 0, 1, (float)sqrt(2), (float)sqrt(100000));
    ds_tensor_release(y);
    ds_tensor_release(x);
    double bv[] = {0, 1, 1};
    x = vec(DS_BOOL, 3, bv);
    y = un(DS_OP_BITWISE_NOT, x);
    CHECK_VALS(y, DS_BOOL, 3, 1, 0, 0);
    ds_tensor_release(y);
    y = un(DS_OP_SIN, x);
    CHECK_VALS(y, DS_FLOAT32, 3, 0, (float)sin(1), (float)sin(1));
    ds_tensor_release(y);
    y = un(DS_OP_SQUARE, x);
    CHECK_VALS(y, DS_BOOL, 3, 0, 1, 1);
    ds_tensor_release(y);
    ds_tensor *in[1] = {x};
    CHECK_ERR(ds_op_run1(DS_OP_NEG, 1, in, NULL, &y), DS_ERR_DTYPE, "neg: negation of a bool tensor");
    ds_tensor_release(x);
    x = vec(DS_FLOAT32, 3, bv);
    in[0] = x;
    CHECK_ERR(ds_op_run1(DS_OP_BITWISE_NOT, 1, in, NULL, &y), DS_ERR_DTYPE, "integer or bool tensor, got float32");
    ds_tensor_release(x);
    double uv[] = {0, 1, 255};
    x = vec(DS_UINT8, 3, uv);
    y = un(DS_OP_NEG, x);
    CHECK_VALS(y, DS_UINT8, 3, 0, 255, 1);
    ds_tensor_release(y);
    ds_tensor_release(x);
}

/* ---------------------------------------------------------------- binary */
DS_TEST(binary_arith_dtypes) {
    double a[] = {7, -7, 3, 0, 100}, b[] = {2, 2, -4, 5, 3};
    ds_dtype dts[] = {DS_INT8, DS_INT16, DS_INT32, DS_INT64, DS_FLOAT32, DS_FLOAT64, DS_FLOAT16, DS_BFLOAT16};
    for (size_t k = 0; k < sizeof dts / sizeof dts[0]; k++) {
        ds_dtype dt = dts[k];
        ds_tensor *x = vec(dt, 5, a), *y = vec(dt, 5, b), *r;
        r = bin(DS_OP_ADD, x, y);
        CHECK_VALS(r, dt, 5, 9, -5, -1, 5, 103);
        ds_tensor_release(r);
        r = bin(DS_OP_SUB, x, y);
        CHECK_VALS(r, dt, 5, 5, -9, 7, -5, 97);
        ds_tensor_release(r);
        r = bin(DS_OP_MUL, x, y);
        CHECK_VALS(r, dt, 5, 14, -14, -12, 0, dt == DS_INT8 ? 44 : 300); /* int8 wraps */
        ds_tensor_release(r);
        r = bin(DS_OP_FLOOR_DIV, x, y);
        CHECK_VALS(r, dt, 5, 3, -4, -1, 0, 33);
        ds_tensor_release(r);
        r = bin(DS_OP_MOD, x, y);
        CHECK_VALS(r, dt, 5, 1, 1, -1, 0, 1);
        ds_tensor_release(r);
        r = bin(DS_OP_MAXIMUM, x, y);
        CHECK_VALS(r, dt, 5, 7, 2, 3, 5, 100);
        ds_tensor_release(r);
        r = bin(DS_OP_MINIMUM, x, y);
        CHECK_VALS(r, dt, 5, 2, -7, -4, 0, 3);
        ds_tensor_release(r);
        r = bin(DS_OP_DIV, x, y);
        ds_dtype fdt = ds_dtype_is_float(dt) ? dt : DS_FLOAT32;
        double q[5] = {3.5, -3.5, -0.75, 0, 100.0 / 3};
        for (int i = 0; r && i < 5; i++) {
            char buf[8];
            ds_dtype_store_double(fdt, buf, q[i]);
            CHECK(ds_tensor_dtype(r) == fdt && at(r, i) == ds_dtype_load_double(fdt, buf));
        }
        ds_tensor_release(r);
        r = bin(DS_OP_LESS, x, y);
        CHECK_VALS(r, DS_BOOL, 5, 0, 1, 0, 1, 0);
        ds_tensor_release(r);
        r = bin(DS_OP_GREATER_EQUAL, x, y);
        CHECK_VALS(r, DS_BOOL, 5, 1, 0, 1, 0, 1);
        ds_tensor_release(r);
        r = bin(DS_OP_LOGICAL_AND, x, y);
        CHECK_VALS(r, DS_BOOL, 5, 1, 1, 1, 0, 1);
        ds_tensor_release(r);
        r = bin(DS_OP_LOGICAL_XOR, x, y);
        CHECK_VALS(r, DS_BOOL, 5, 0, 0, 0, 1, 0);
        ds_tensor_release(r);
        ds_tensor_release(x);
        ds_tensor_release(y);
    }
}

DS_TEST(binary_int_division_edge_cases) {
    /* division and modulo by zero give 0 (never SIGFPE); INT_MIN // -1 wraps */
    double a[] = {5, -5, 0, -2147483648.0, -2147483648.0, 7}, b[] = {0, 0, 0, -1, 1, -1};
    ds_tensor *x = vec(DS_INT32, 6, a), *y = vec(DS_INT32, 6, b), *r;
    r = bin(DS_OP_FLOOR_DIV, x, y);
    CHECK_VALS(r, DS_INT32, 6, 0, 0, 0, -2147483648.0, -2147483648.0, -7);
    ds_tensor_release(r);
    r = bin(DS_OP_MOD, x, y);
    CHECK_VALS(r, DS_INT32, 6, 0, 0, 0, 0, 0, 0);
    ds_tensor_release(r);
    ds_tensor_release(x);
    ds_tensor_release(y);
    x = vec(DS_INT64, 6, a);
    y = scalar(DS_INT64, 0);
    r = bin(DS_OP_FLOOR_DIV, x, y);
    CHECK_VALS(r, DS_INT64, 6, 0, 0, 0, 0, 0, 0);
    ds_tensor_release(r);
    ds_tensor_release(y);
    int64_t mn = INT64_MIN, m1 = -1;
    ds_tensor *p, *q;
    CHECK_OK(ds_tensor_from_data(DS_INT64, 0, NULL, &mn, &p));
    CHECK_OK(ds_tensor_from_data(DS_INT64, 0, NULL, &m1, &q));
    r = bin(DS_OP_FLOOR_DIV, p, q);
    int64_t got = 0;
    if (r) ds_tensor_get_int(r, 0, &got);
    CHECK(r && got == INT64_MIN);
    ds_tensor_release(r);
    r = bin(DS_OP_MOD, p, q);
    if (r) ds_tensor_get_int(r, 0, &got);
    CHECK(r && got == 0);
    ds_tensor_release(r);
    ds_tensor_release(p);
    ds_tensor_release(q);
    ds_tensor_release(x);
    /* uint8 and bool (floor_div of bools computes in int8, like NumPy) */
    double ua[] = {200, 7, 9}, ub[] = {0, 2, 4};
    x = vec(DS_UINT8, 3, ua);
    y = vec(DS_UINT8, 3, ub);
    r = bin(DS_OP_FLOOR_DIV, x, y);
    CHECK_VALS(r, DS_UINT8, 3, 0, 3, 2);
    ds_tensor_release(r);
    r = bin(DS_OP_MOD, x, y);
    CHECK_VALS(r, DS_UINT8, 3, 0, 1, 1);
    ds_tensor_release(r);
    ds_tensor_release(x);
    ds_tensor_release(y);
    double ba[] = {1, 0}, bb[] = {1, 0};
    x = vec(DS_BOOL, 2, ba);
    y = vec(DS_BOOL, 2, bb);
    r = bin(DS_OP_FLOOR_DIV, x, y);
    CHECK_VALS(r, DS_INT8, 2, 1, 0);
    ds_tensor_release(r);
    ds_tensor_release(x);
    ds_tensor_release(y);
}

DS_TEST(binary_float_divmod_python_semantics) {
    double a[] = {1.0, -1.0, 5.5, -5.5, 1.0, 0.0, 3.0, 1.0}, b[] = {0.1, 0.3, -2.0, -2.0, 0.0, -3.0, INFINITY, -INFINITY};
    ds_tensor *x = vec(DS_FLOAT64, 8, a), *y = vec(DS_FLOAT64, 8, b), *r;
    r = bin(DS_OP_FLOOR_DIV, x, y); /* Python: 1.0 // 0.1 == 9.0 */
    CHECK_VALS(r, DS_FLOAT64, 8, 9.0, -4.0, -3.0, 2.0, INFINITY, -0.0, 0.0, -1.0);
    ds_tensor_release(r);
    r = bin(DS_OP_MOD, x, y);
    CHECK_VALS(r, DS_FLOAT64, 8, 0.09999999999999995, 0.19999999999999996, -0.5, -1.5, NAN, -0.0, 3.0, -INFINITY);
    ds_tensor_release(r);
    ds_tensor_release(x);
    ds_tensor_release(y);
}

DS_TEST(binary_pow) {
    double a[] = {2, -2, 1, -1, 3, 0, 5}, b[] = {10, 3, -5, -3, -1, 0, 2};
    ds_tensor *x = vec(DS_INT32, 7, a), *y = vec(DS_INT32, 7, b), *r;
    r = bin(DS_OP_POW, x, y);
    CHECK_VALS(r, DS_INT32, 7, 1024, -8, 1, -1, 0, 1, 25);
    ds_tensor_release(r);
    ds_tensor_release(x);
    ds_tensor_release(y);
    double fa[] = {2, -3, 0.5, 0, NAN, 4};
    x = vec(DS_FLOAT32, 6, fa);
    double ex[] = {2, 1, 0, -1, 0.5, 3, -2.5};
    for (int k = 0; k < 7; k++) { /* broadcast scalar exponents, including the shortcut ones */
        y = scalar(DS_FLOAT32, ex[k]);
        r = bin(DS_OP_POW, x, y);
        for (int i = 0; r && i < 6; i++) CHECK(same(at(r, i), (double)powf((float)fa[i], (float)ex[k])));
        ds_tensor_release(r);
        ds_tensor_release(y);
    }
    ds_tensor_release(x);
}

DS_TEST(binary_nan_and_bool_rules) {
    double a[] = {NAN, 1, NAN, 2}, b[] = {1, NAN, NAN, 3};
    ds_tensor *x = vec(DS_FLOAT32, 4, a), *y = vec(DS_FLOAT32, 4, b), *r;
    r = bin(DS_OP_MAXIMUM, x, y);
    CHECK_VALS(r, DS_FLOAT32, 4, NAN, NAN, NAN, 3);
    ds_tensor_release(r);
    r = bin(DS_OP_MINIMUM, x, y);
    CHECK_VALS(r, DS_FLOAT32, 4, NAN, NAN, NAN, 2);
    ds_tensor_release(r);
    r = bin(DS_OP_NOT_EQUAL, x, y);
    CHECK_VALS(r, DS_BOOL, 4, 1, 1, 1, 1);
    ds_tensor_release(r);
    r = bin(DS_OP_EQUAL, x, x);
    CHECK_VALS(r, DS_BOOL, 4, 0, 1, 0, 1);
    ds_tensor_release(r);
    ds_tensor_release(x);
    ds_tensor_release(y);
    double p[] = {0, 0, 1, 1}, q[] = {0, 1, 0, 1};
    x = vec(DS_BOOL, 4, p);
    y = vec(DS_BOOL, 4, q);
    r = bin(DS_OP_ADD, x, y);
    CHECK_VALS(r, DS_BOOL, 4, 0, 1, 1, 1);
    ds_tensor_release(r);
    r = bin(DS_OP_MUL, x, y);
    CHECK_VALS(r, DS_BOOL, 4, 0, 0, 0, 1);
    ds_tensor_release(r);
    r = bin(DS_OP_BITWISE_XOR, x, y);
    CHECK_VALS(r, DS_BOOL, 4, 0, 1, 1, 0);
    ds_tensor_release(r);
    r = bin(DS_OP_DIV, x, y);
    CHECK_VALS(r, DS_FLOAT32, 4, NAN, 0, INFINITY, 1);
    ds_tensor_release(r);
    ds_tensor *in[2] = {x, y};
    CHECK_ERR(ds_op_run1(DS_OP_SUB, 2, in, NULL, &r), DS_ERR_DTYPE, "sub: subtracting bool tensors");
    ds_tensor *f = vec(DS_FLOAT64, 4, p);
    in[1] = f;
    CHECK_ERR(ds_op_run1(DS_OP_BITWISE_AND, 2, in, NULL, &r), DS_ERR_DTYPE, "got bool and float64");
    /* logical ops take any dtypes by truthiness */
    r = bin(DS_OP_LOGICAL_OR, f, y);
    CHECK_VALS(r, DS_BOOL, 4, 0, 1, 1, 1);
    ds_tensor_release(r);
    ds_tensor_release(f);
    ds_tensor_release(x);
    ds_tensor_release(y);
    /* bitwise on ints */
    double ia[] = {12, -1, 5}, ib[] = {10, 7, 3};
    x = vec(DS_INT16, 3, ia);
    y = vec(DS_INT16, 3, ib);
    r = bin(DS_OP_BITWISE_AND, x, y);
    CHECK_VALS(r, DS_INT16, 3, 8, 7, 1);
    ds_tensor_release(r);
    r = bin(DS_OP_BITWISE_OR, x, y);
    CHECK_VALS(r, DS_INT16, 3, 14, -1, 7);
    ds_tensor_release(r);
    ds_tensor_release(x);
    ds_tensor_release(y);
}

DS_TEST(binary_promotion) {
    double a[] = {1, 2, 3}, b[] = {0.5, 0.25, 2};
    ds_tensor *x = vec(DS_INT32, 3, a), *y = vec(DS_FLOAT32, 3, b), *r;
    r = bin(DS_OP_ADD, x, y);
    CHECK_VALS(r, DS_FLOAT32, 3, 1.5, 2.25, 5);
    ds_tensor_release(r);
    ds_tensor *i8 = vec(DS_INT8, 3, a), *u8 = vec(DS_UINT8, 3, a);
    r = bin(DS_OP_MUL, i8, u8);
    CHECK_VALS(r, DS_INT16, 3, 1, 4, 9);
    ds_tensor_release(r);
    ds_tensor *h = vec(DS_FLOAT16, 3, b), *bf = vec(DS_BFLOAT16, 3, b);
    r = bin(DS_OP_SUB, h, bf);
    CHECK_VALS(r, DS_FLOAT32, 3, 0, 0, 0);
    ds_tensor_release(r);
    r = bin(DS_OP_LESS, x, h); /* int32 vs float16 -> compare in float16 */
    CHECK_VALS(r, DS_BOOL, 3, 0, 0, 0);
    ds_tensor_release(r);
    ds_tensor_release(h);
    ds_tensor_release(bf);
    ds_tensor_release(i8);
    ds_tensor_release(u8);
    ds_tensor_release(x);
    ds_tensor_release(y);
}

/* ---------------------------------------------------------------- broadcasting and strides */
DS_TEST(broadcasting) {
    int64_t s23[2] = {2, 3}, s21[2] = {2, 1}, s13[2] = {1, 3};
    double v[] = {1, 2, 3, 4, 5, 6}, w[] = {10, 20, 30};
    ds_tensor *a = shaped(DS_FLOAT32, 2, s23, v), *b = vec(DS_FLOAT32, 3, w), *r;
    r = bin(DS_OP_ADD, a, b);
    CHECK_VALS(r, DS_FLOAT32, 6, 11, 22, 33, 14, 25, 36);
    if (r) CHECK(ds_tensor_ndim(r) == 2 && ds_tensor_shape(r)[0] == 2 && ds_tensor_shape(r)[1] == 3);
    ds_tensor_release(r);
    ds_tensor *c = shaped(DS_INT32, 2, s21, w), *d = shaped(DS_INT32, 2, s13, v);
    r = bin(DS_OP_MUL, c, d);
    CHECK_VALS(r, DS_INT32, 6, 10, 20, 30, 20, 40, 60);
    ds_tensor_release(r);
    ds_tensor *s = scalar(DS_FLOAT32, 2);
    r = bin(DS_OP_SUB, s, a); /* scalar on the left */
    CHECK_VALS(r, DS_FLOAT32, 6, 1, 0, -1, -2, -3, -4);
    ds_tensor_release(r);
    ds_tensor *bad = vec(DS_FLOAT32, 2, w), *in[2] = {a, bad};
    CHECK_ERR(ds_op_run1(DS_OP_ADD, 2, in, NULL, &r), DS_ERR_SHAPE, "add: shapes [2, 3] and [2] cannot be broadcast");
    ds_tensor *three[3] = {bad, a, b};
    CHECK_ERR(ds_op_run1(DS_OP_WHERE, 3, three, NULL, &r), DS_ERR_SHAPE, "condition [2], x [2, 3] and y [3]");
    ds_tensor_release(bad);
    ds_tensor_release(s);
    ds_tensor_release(c);
    ds_tensor_release(d);
    ds_tensor_release(a);
    ds_tensor_release(b);
}

DS_TEST(strided_views) {
    int64_t s23[2] = {2, 3};
    double v[] = {1, 2, 3, 4, 5, 6};
    ds_tensor *a = shaped(DS_FLOAT32, 2, s23, v), *t = NULL, *rev = NULL, *r;
    int perm[2] = {1, 0};
    CHECK_OK(ds_tensor_permute(a, perm, &t)); /* [[1,4],[2,5],[3,6]] */
    r = un(DS_OP_NEG, t);
    CHECK_VALS(r, DS_FLOAT32, 6, -1, -4, -2, -5, -3, -6);
    ds_tensor_release(r);
    r = bin(DS_OP_ADD, t, t);
    CHECK_VALS(r, DS_FLOAT32, 6, 2, 8, 4, 10, 6, 12);
    ds_tensor_release(r);
    CHECK_OK(ds_tensor_slice(a, 1, -1, -4, -1, &rev)); /* [[3,2,1],[6,5,4]] */
    r = bin(DS_OP_SUB, rev, a);
    CHECK_VALS(r, DS_FLOAT32, 6, 2, 0, -2, 2, 0, -2);
    ds_tensor_release(r);
    r = un(DS_OP_EXP, rev);
    const double ev[6] = {3, 2, 1, 6, 5, 4};
    for (int i = 0; r && i < 6; i++) CHECK(close_rel(at(r, i), exp(ev[i]), 2e-7));
    ds_tensor_release(r);
    ds_tensor *h = NULL, *ht = NULL; /* float16 through a transposed view */
    ds_tensor *cin[1] = {a};
    ds_attr to16 = {.kind = DS_ATTR_DTYPE, .v.dtype = DS_FLOAT16};
    CHECK_OK(ds_op_run1(DS_OP_CAST, 1, cin, &to16, &h));
    if (h) {
        CHECK_OK(ds_tensor_permute(h, perm, &ht));
        r = un(DS_OP_SQUARE, ht);
        CHECK_VALS(r, DS_FLOAT16, 6, 1, 16, 4, 25, 9, 36);
        ds_tensor_release(r);
        r = bin(DS_OP_GREATER, ht, t);
        CHECK_VALS(r, DS_BOOL, 6, 0, 0, 0, 0, 0, 0);
        ds_tensor_release(r);
    }
    ds_tensor_release(ht);
    ds_tensor_release(h);
    ds_tensor_release(rev);
    ds_tensor_release(t);
    ds_tensor_release(a);
}

DS_TEST(large_threaded_and_in_order) {
    int64_t n = 1 << 20;
    ds_tensor *a = NULL, *b = NULL, *r;
    CHECK_OK(ds_tensor_new(DS_FLOAT32, 1, &n, &a));
    CHECK_OK(ds_tensor_new(DS_FLOAT32, 1, &n, &b));
    float *pa = ds_tensor_data(a), *pb = ds_tensor_data(b);
    for (int64_t i = 0; i < n; i++) {
        pa[i] = (float)i;
        pb[i] = (float)(2 * i);
    }
    r = bin(DS_OP_ADD, a, b);
    bool ok = r != NULL;
    for (int64_t i = 0; r && i < n; i++) ok &= ((float *)ds_tensor_data(r))[i] == (float)(3 * i);
    CHECK(ok);
    ds_tensor_release(r);
    r = un(DS_OP_SIN, a);
    ok = r != NULL;
    for (int64_t i = 0; r && i < n; i += 997) ok &= fabs(((float *)ds_tensor_data(r))[i] - sin((double)i)) < 1e-5;
    CHECK(ok);
    ds_tensor_release(r);
    ds_tensor_release(a);
    ds_tensor_release(b);
}

/* ---------------------------------------------------------------- where, cast, clip */
DS_TEST(where_op) {
    double c[] = {1, 0, 1, 0}, x[] = {1, 2, 3, 4};
    ds_tensor *cond = vec(DS_BOOL, 4, c), *xs = vec(DS_INT32, 4, x), *y = scalar(DS_FLOAT64, -1.5), *r;
    r = run(DS_OP_WHERE, 3, cond, xs, y, NULL);
    CHECK_VALS(r, DS_FLOAT64, 4, 1, -1.5, 3, -1.5);
    ds_tensor_release(r);
    ds_tensor *ci = vec(DS_FLOAT32, 4, (double[]){0.5, 0, NAN, -0.0}); /* truthiness: NaN is true */
    r = run(DS_OP_WHERE, 3, ci, xs, xs, NULL);
    CHECK_VALS(r, DS_INT32, 4, 1, 2, 3, 4);
    ds_tensor_release(r);
    ds_tensor *z = scalar(DS_INT32, 0);
    r = run(DS_OP_WHERE, 3, ci, xs, z, NULL);
    CHECK_VALS(r, DS_INT32, 4, 1, 0, 3, 0);
    ds_tensor_release(r);
    ds_tensor_release(z);
    ds_tensor_release(ci);
    ds_tensor_release(cond);
    ds_tensor_release(xs);
    ds_tensor_release(y);
}

DS_TEST(cast_all_pairs) {
    double v[] = {0, 1, 2, 100, 3};
    for (int f = 0; f < DS_DTYPE_COUNT; f++)
        for (int t = 0; t < DS_DTYPE_COUNT; t++) {
            ds_tensor *x = vec((ds_dtype)f, 5, v), *r;
            ds_attr a = {.kind = DS_ATTR_DTYPE, .v.dtype = (ds_dtype)t};
            r = run(DS_OP_CAST, 1, x, NULL, NULL, &a);
            CHECK(r && ds_tensor_dtype(r) == (ds_dtype)t);
            for (int i = 0; r && i < 5; i++) {
                double want = f == DS_BOOL || t == DS_BOOL ? (v[i] != 0) : v[i];
                if (at(r, i) != want) {
                    printf("  cast %s -> %s [%d]: %g\n", ds_dtype_name(f), ds_dtype_name(t), i, at(r, i));
                    CHECK(0);
                }
            }
            CHECK(ds_kernel_cast((ds_dtype)f, (ds_dtype)t) != NULL);
            ds_tensor_release(r);
            ds_tensor_release(x);
        }
    double fv[] = {-2.7, 2.7, 300, NAN, -0.0, 1e-3};
    ds_tensor *x = vec(DS_FLOAT32, 6, fv), *r;
    ds_attr a = {.kind = DS_ATTR_DTYPE, .v.dtype = DS_INT32};
    r = run(DS_OP_CAST, 1, x, NULL, NULL, &a);
    CHECK(r && at(r, 0) == -2 && at(r, 1) == 2 && at(r, 2) == 300);
    ds_tensor_release(r);
    a.v.dtype = DS_UINT8;
    r = run(DS_OP_CAST, 1, x, NULL, NULL, &a);
    CHECK(r && at(r, 2) == 44); /* 300 wraps like NumPy */
    ds_tensor_release(r);
    a.v.dtype = DS_BOOL;
    r = run(DS_OP_CAST, 1, x, NULL, NULL, &a);
    CHECK_VALS(r, DS_BOOL, 6, 1, 1, 1, 1, 0, 1);
    ds_tensor_release(r);
    ds_tensor_release(x);
}

/* float16 / bfloat16 conversions: every float16 value round-trips through float32, and float32 ->
 * float16 / bfloat16 rounds to nearest even (compared with the scalar reference in tensor/dtype.h). */
DS_TEST(half_round_trips) {
    int64_t n = 65536;
    ds_tensor *h = NULL, *f = NULL, *back = NULL;
    CHECK_OK(ds_tensor_new(DS_FLOAT16, 1, &n, &h));
    for (int64_t i = 0; i < n; i++) ((uint16_t *)ds_tensor_data(h))[i] = (uint16_t)i;
    ds_attr a32 = {.kind = DS_ATTR_DTYPE, .v.dtype = DS_FLOAT32}, a16 = {.kind = DS_ATTR_DTYPE, .v.dtype = DS_FLOAT16};
    for (int isa = 0; isa < 3; isa++) {
        if (!ds_kernel_set_isa(k_isas[isa])) continue;
        f = run(DS_OP_CAST, 1, h, NULL, NULL, &a32);
        back = f ? run(DS_OP_CAST, 1, f, NULL, NULL, &a16) : NULL;
        bool ok = back != NULL;
        for (int64_t i = 0; back && i < n; i++) {
            uint16_t x = (uint16_t)i, y = ((uint16_t *)ds_tensor_data(back))[i];
            float fx = ((float *)ds_tensor_data(f))[i];
            bool nan = (x & 0x7c00) == 0x7c00 && (x & 0x3ff);
            ok &= nan ? (y & 0x7c00) == 0x7c00 && (y & 0x3ff) : (y == x && fx == ds_half_to_f32(x));
        }
        CHECK(ok);
        ds_tensor_release(f);
        ds_tensor_release(back);
        /* rounding of float32 values between float16 / bfloat16 neighbours */
        int64_t m = 100000;
        ds_tensor *g = NULL;
        CHECK_OK(ds_tensor_new(DS_FLOAT32, 1, &m, &g));
        srand(7);
        for (int64_t i = 0; i < m; i++) {
            uint32_t bits = ((uint32_t)rand() << 16) ^ (uint32_t)rand();
            float v;
            memcpy(&v, &bits, 4);
            ((float *)ds_tensor_data(g))[i] = isnan(v) ? 1.0f : v;
        }
        ds_tensor *g16 = run(DS_OP_CAST, 1, g, NULL, NULL, &a16);
        ds_attr abf = {.kind = DS_ATTR_DTYPE, .v.dtype = DS_BFLOAT16};
        ds_tensor *gbf = run(DS_OP_CAST, 1, g, NULL, NULL, &abf);
        ok = g16 && gbf;
        for (int64_t i = 0; ok && i < m; i++) {
            float v = ((float *)ds_tensor_data(g))[i];
            ok &= ((uint16_t *)ds_tensor_data(g16))[i] == ds_f32_to_half(v);
            ok &= ((uint16_t *)ds_tensor_data(gbf))[i] == ds_f32_to_bf16(v);
        }
        CHECK(ok);
        ds_tensor_release(g16);
        ds_tensor_release(gbf);
        ds_tensor_release(g);
    }
    ds_kernel_set_isa(NULL);
    ds_tensor_release(h);
}

DS_TEST(half_ops) {
    double v[] = {0.1, -1.5, 3.0, 65504, -0.0};
    for (int k = 0; k < 2; k++) {
        ds_dtype dt = k ? DS_BFLOAT16 : DS_FLOAT16;
        ds_tensor *x = vec(dt, 5, v), *r;
        r = un(DS_OP_EXP, x);
        for (int i = 0; r && i < 5; i++) {
            char buf[2];
            ds_dtype_store_double(dt, buf, expf((float)at(x, i)));
            CHECK(same(at(r, i), ds_dtype_load_double(dt, buf)));
        }
        ds_tensor_release(r);
        r = un(DS_OP_NEG, x);
        CHECK(r && at(r, 1) == 1.5 && !signbit(at(r, 4)));
        ds_tensor_release(r);
        r = un(DS_OP_ABS, x);
        CHECK(r && at(r, 1) == 1.5);
        ds_tensor_release(r);
        r = bin(DS_OP_ADD, x, x);
        for (int i = 0; r && i < 5; i++) {
            char buf[2];
            ds_dtype_store_double(dt, buf, (float)at(x, i) + (float)at(x, i));
            CHECK(same(at(r, i), ds_dtype_load_double(dt, buf)));
        }
        ds_tensor_release(r);
        r = un(DS_OP_LOGICAL_NOT, x);
        CHECK_VALS(r, DS_BOOL, 5, 0, 0, 0, 0, 1);
        ds_tensor_release(r);
        ds_tensor_release(x);
    }
}

DS_TEST(clip_op) {
    double v[] = {-5, 0.5, 2, NAN, 10};
    ds_attr both[2] = {{.kind = DS_ATTR_FLOAT, .v.f = 0}, {.kind = DS_ATTR_FLOAT, .v.f = 3}};
    ds_attr lo_only[2] = {{.kind = DS_ATTR_FLOAT, .v.f = 1}, {.kind = DS_ATTR_NONE}};
    ds_attr none[2] = {{.kind = DS_ATTR_NONE}, {.kind = DS_ATTR_NONE}};
    ds_dtype dts[] = {DS_FLOAT32, DS_FLOAT64, DS_FLOAT16, DS_BFLOAT16};
    for (int k = 0; k < 4; k++) {
        ds_tensor *x = vec(dts[k], 5, v), *r;
        r = run(DS_OP_CLIP, 1, x, NULL, NULL, both);
        CHECK_VALS(r, dts[k], 5, 0, 0.5, 2, NAN, 3);
        ds_tensor_release(r);
        r = run(DS_OP_CLIP, 1, x, NULL, NULL, lo_only);
        CHECK_VALS(r, dts[k], 5, 1, 1, 2, NAN, 10);
        ds_tensor_release(r);
        ds_tensor *in[1] = {x};
        CHECK_ERR(ds_op_run1(DS_OP_CLIP, 1, in, none, &r), DS_ERR_VALUE, "clip: at least one of min and max");
        ds_tensor_release(x);
    }
    double iv[] = {-128, -1, 0, 7, 127};
    ds_tensor *x = vec(DS_INT8, 5, iv), *r;
    ds_attr wide[2] = {{.kind = DS_ATTR_FLOAT, .v.f = -1000}, {.kind = DS_ATTR_FLOAT, .v.f = 5.9}};
    r = run(DS_OP_CLIP, 1, x, NULL, NULL, wide);
    CHECK_VALS(r, DS_INT8, 5, -128, -1, 0, 5, 5);
    ds_tensor_release(r);
    ds_tensor_release(x);
}

/* ---------------------------------------------------------------- ISA variants and vmath accuracy */
/* Every variant computes the same values as generic (to a few ulp where FMA contraction differs). */
DS_TEST(isa_variants_agree) {
    static const ds_op_id ops[] = {DS_OP_EXP, DS_OP_LOG, DS_OP_SIN, DS_OP_COS, DS_OP_TANH, DS_OP_SIGMOID,
                                   DS_OP_GELU, DS_OP_ERF, DS_OP_SQRT, DS_OP_ROUND, DS_OP_FLOOR, DS_OP_RELU};
    enum { N = 4099 };
    static float x[N], ref[N], out[N];
    for (int i = 0; i < N; i++) x[i] = (float)((i - N / 2) * 0.0137);
    int64_t st[2] = {4, 4};
    for (size_t o = 0; o < sizeof ops / sizeof ops[0]; o++) {
        CHECK(ds_kernel_set_isa("generic"));
        char *args[2] = {(char *)x, (char *)ref};
        ds_kernel_unary(ops[o], DS_FLOAT32)(args, st, N, NULL);
        for (int isa = 1; isa < 3; isa++) {
            if (!ds_kernel_set_isa(k_isas[isa])) continue;
            args[1] = (char *)out;
            ds_kernel_unary(ops[o], DS_FLOAT32)(args, st, N, NULL);
            float worst = 0;
            for (int i = 0; i < N; i++) {
                if (isnan(ref[i]) != isnan(out[i])) worst = INFINITY;
                else if (!isnan(ref[i]) && ref[i] != out[i])
                    worst = fmaxf(worst, fabsf(out[i] - ref[i]) / fmaxf(fabsf(ref[i]) * FLT_EPSILON, FLT_MIN));
            }
            if (worst > 4) printf("  %s: %s differs from generic by %g ulp\n", ds_op_get_info(ops[o])->name, k_isas[isa], worst);
            CHECK(worst <= 4);
        }
    }
    ds_kernel_set_isa(NULL);
    const char *lvl = ds_simd_level();
    CHECK(!strcmp(lvl, "generic") || !strcmp(lvl, "avx2") || !strcmp(lvl, "avx512"));
}

static double ulp_err_f(float got, double want) {
    if (isnan(want)) return isnan(got) ? 0 : INFINITY;
    if (isinf(want)) return (double)got == want ? 0 : INFINITY;
    float w = (float)want;
    double u = fabsf(w) < FLT_MIN ? 1.401298464324817e-45 : (double)nextafterf(fabsf(w), INFINITY) - fabsf(w);
    return fabs((double)got - want) / u;
}

/* Max ulp error of the float32 kernel for op over [lo, hi] (n points), against ref in double. */
static double sweep_f32(ds_op_id op, ref1 ref, double lo, double hi, int n) {
    float *x = malloc(sizeof(float) * (size_t)n), *y = malloc(sizeof(float) * (size_t)n);
    for (int i = 0; i < n; i++) x[i] = (float)(lo + (hi - lo) * i / (n - 1));
    char *args[2] = {(char *)x, (char *)y};
    int64_t st[2] = {4, 4};
    ds_kernel_unary(op, DS_FLOAT32)(args, st, n, NULL);
    double worst = 0;
    for (int i = 0; i < n; i++) worst = fmax(worst, ulp_err_f(y[i], ref((double)x[i])));
    free(x);
    free(y);
    return worst;
}

DS_TEST(vmath_f32_accuracy) {
    static const struct { ds_op_id op; ref1 f; double lo, hi, bound; } cases[] = {
        {DS_OP_EXP, exp, -103, 88.7, 1.5},    {DS_OP_EXP, exp, -1, 1, 1.5},
        {DS_OP_LOG, log, 1e-37, 10, 1.5},     {DS_OP_LOG, log, 10, 3e38, 1.5},
        {DS_OP_SIN, sin, -6000, 6000, 2.5},   {DS_OP_SIN, sin, -4, 4, 2},
        {DS_OP_COS, cos, -6000, 6000, 2.5},   {DS_OP_COS, cos, -4, 4, 2},
        {DS_OP_TANH, tanh, -10, 10, 2},       {DS_OP_SIGMOID, r_sigmoid, -100, 40, 3},
        {DS_OP_ERF, erf, -5, 5, 2.5},         {DS_OP_GELU, r_gelu, -15, 10, 1},
    };
    for (int isa = 0; isa < 3; isa++) {
        if (!ds_kernel_set_isa(k_isas[isa])) continue;
        for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
            double e = sweep_f32(cases[c].op, cases[c].f, cases[c].lo, cases[c].hi, 400001);
            if (e > cases[c].bound)
                printf("  %s %s on [%g, %g]: %.2f ulp > %.1f\n", k_isas[isa], ds_op_get_info(cases[c].op)->name,
                       cases[c].lo, cases[c].hi, e, cases[c].bound);
            CHECK(e <= cases[c].bound);
        }
    }
    ds_kernel_set_isa(NULL);
}

DS_TEST(vmath_f64_accuracy) {
    double worst[4] = {0};
    for (int i = 0; i < 200001; i++) {
        double x = -740 + 1450.0 * i / 200000, l = exp(-700 + 1400.0 * i / 200000), t = -20 + 40.0 * i / 200000;
        double ref[4] = {exp(x), log(l), tanh(t), 1 / (1 + exp(-t))};
        double got[4] = {ds_vm_exp(x), ds_vm_log(l), ds_vm_tanh(t), ds_vm_sigmoid(t)};
        for (int k = 0; k < 4; k++) {
            double u = fabs(ref[k]) < DBL_MIN ? 4.9e-324 : nextafter(fabs(ref[k]), INFINITY) - fabs(ref[k]);
            worst[k] = fmax(worst[k], fabs(got[k] - ref[k]) / u);
        }
    }
    CHECK(worst[0] <= 1.5 && worst[1] <= 1.5 && worst[2] <= 3.5 && worst[3] <= 3.5);
    if (worst[0] > 1.5 || worst[1] > 1.5 || worst[2] > 3.5 || worst[3] > 3.5)
        printf("  f64 ulp: exp %.2f log %.2f tanh %.2f sigmoid %.2f\n", worst[0], worst[1], worst[2], worst[3]);
}

/* ---------------------------------------------------------------- allocation failures */
DS_TEST(allocation_failures_do_not_leak) {
    double v[] = {1, 2, 3};
    ds_tensor *a = vec(DS_INT32, 3, v), *b = vec(DS_FLOAT64, 3, v), *c = vec(DS_BOOL, 3, v);
    int64_t live = ds_alloc_live_blocks();
    for (int k = 1; k < 40; k++) {
        ds_alloc_debug_begin(k);
        ds_tensor *r = run(DS_OP_WHERE, 3, a, b, c, NULL);
        ds_alloc_debug_begin(0);
        ds_tensor_release(r);
        CHECK(ds_alloc_live_blocks() == live);
        if (r) break;
    }
    ds_tensor_release(a);
    ds_tensor_release(b);
    ds_tensor_release(c);
}

DS_TEST_MAIN()
