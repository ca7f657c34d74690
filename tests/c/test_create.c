/* Tests for full, arange, linspace, eye and the random ops (src/ops/create.c, src/kernels/random.c).
 * Expected values are hand-computed and match NumPy's full/arange/linspace/eye. */
#include <stdlib.h>

#include "ds_test.h"
#include "kernels/random.h"
#include "tensor/dtype.h"
#include "tensor/tensor.h"

#define SH(...) ((const int64_t[]){__VA_ARGS__})
#define A_INT(x) ((ds_attr){.kind = DS_ATTR_INT, .v.i = (x)})
#define A_F(x) ((ds_attr){.kind = DS_ATTR_FLOAT, .v.f = (x)})
#define A_INTS(arr, cnt) ((ds_attr){.kind = DS_ATTR_INTS, .n = (cnt), .v.ints = (arr)})
#define A_DT(d) ((ds_attr){.kind = DS_ATTR_DTYPE, .v.dtype = (d)})
#define A_NONE ((ds_attr){.kind = DS_ATTR_NONE})

static bool same(const ds_tensor *t, int nd, const int64_t *shape, const double *vals) {
    if (!t || !ds_shape_equal(ds_tensor_ndim(t), ds_tensor_shape(t), nd, shape)) {
        printf("  shape mismatch\n");
        return false;
    }
    for (int64_t i = 0; i < ds_tensor_numel(t); i++) {
        double v;
        if (ds_tensor_get_double(t, i, &v) || v != vals[i]) {
            printf("  element %lld: got %.17g, expected %.17g\n", (long long)i, v, vals[i]);
            return false;
        }
    }
    return true;
}

static bool bytes_equal(const ds_tensor *a, const ds_tensor *b) {
    return a && b && ds_tensor_numel(a) == ds_tensor_numel(b) &&
           !memcmp(ds_tensor_data(a), ds_tensor_data(b), (size_t)ds_tensor_numel(a) * ds_dtype_size(ds_tensor_dtype(a)));
}

DS_TEST(full_values_and_dtypes) {
    ds_tensor *out = NULL;
    int64_t s23[] = {2, 3};
    CHECK_OK(ds_op_run1(DS_OP_FULL, 0, NULL, (ds_attr[]){A_INTS(s23, 2), A_F(1.5), A_DT(DS_FLOAT32)}, &out));
    CHECK(out && ds_tensor_dtype(out) == DS_FLOAT32);
    CHECK(same(out, 2, SH(2, 3), (double[]){1.5, 1.5, 1.5, 1.5, 1.5, 1.5}));
    ds_tensor_release(out);
    CHECK_OK(ds_op_run1(DS_OP_FULL, 0, NULL, (ds_attr[]){A_INTS(s23, 2), A_F(-2.7), A_DT(DS_INT16)}, &out));
    CHECK(same(out, 2, SH(2, 3), (double[]){-2, -2, -2, -2, -2, -2}));
    ds_tensor_release(out);
    CHECK_OK(ds_op_run1(DS_OP_FULL, 0, NULL, (ds_attr[]){A_INTS(s23, 0), A_F(3), A_DT(DS_BFLOAT16)}, &out));
    CHECK(same(out, 0, SH(0), (double[]){3}));
    ds_tensor_release(out);
    int64_t big[] = {1000, 1000};
    CHECK_OK(ds_op_run1(DS_OP_FULL, 0, NULL, (ds_attr[]){A_INTS(big, 2), A_F(0.25), A_DT(DS_FLOAT64)}, &out));
    bool ok = out != NULL;
    for (int64_t i = 0; ok && i < 1000000; i++) ok = ((double *)ds_tensor_data(out))[i] == 0.25;
    CHECK(ok);
    ds_tensor_release(out);
    int64_t neg[] = {2, -1};
    CHECK_ERR(ds_op_run1(DS_OP_FULL, 0, NULL, (ds_attr[]){A_INTS(neg, 2), A_F(0), A_DT(DS_FLOAT32)}, &out),
              DS_ERR_VALUE, "full: negative dimensions are not allowed (shape [2, -1])");
    CHECK_ERR(ds_op_run1(DS_OP_FULL, 0, NULL, (ds_attr[]){A_NONE, A_F(0), A_DT(DS_FLOAT32)}, &out), DS_ERR_VALUE,
              "missing required attribute 'shape'");
}

DS_TEST(arange_numpy_length_rule) {
    ds_tensor *out = NULL;
    CHECK_OK(ds_op_run1(DS_OP_ARANGE, 0, NULL, (ds_attr[]){A_F(0), A_F(5), A_F(1), A_DT(DS_INT64)}, &out));
    CHECK(out && ds_tensor_dtype(out) == DS_INT64);
    CHECK(same(out, 1, SH(5), (double[]){0, 1, 2, 3, 4}));
    ds_tensor_release(out);
    CHECK_OK(ds_op_run1(DS_OP_ARANGE, 0, NULL, (ds_attr[]){A_F(1), A_F(2), A_F(0.25), A_DT(DS_FLOAT32)}, &out));
    CHECK(same(out, 1, SH(4), (double[]){1, 1.25, 1.5, 1.75}));
    ds_tensor_release(out);
    CHECK_OK(ds_op_run1(DS_OP_ARANGE, 0, NULL, (ds_attr[]){A_F(5), A_F(0), A_F(-2), A_DT(DS_INT32)}, &out));
    CHECK(same(out, 1, SH(3), (double[]){5, 3, 1}));
    ds_tensor_release(out);
    /* ceil((1 - 0) / 0.3) = 4: 0, 0.3, 0.6, 0.9 (the last computed as 3 * 0.3) */
    CHECK_OK(ds_op_run1(DS_OP_ARANGE, 0, NULL, (ds_attr[]){A_F(0), A_F(1), A_F(0.3), A_DT(DS_FLOAT64)}, &out));
    CHECK(same(out, 1, SH(4), (double[]){0, 0.3, 0.6, 3 * 0.3}));
    ds_tensor_release(out);
    CHECK_OK(ds_op_run1(DS_OP_ARANGE, 0, NULL, (ds_attr[]){A_F(3), A_F(1), A_F(1), A_DT(DS_INT64)}, &out));
    CHECK(out && ds_tensor_numel(out) == 0 && ds_tensor_ndim(out) == 1);
    ds_tensor_release(out);
    CHECK_OK(ds_op_run1(DS_OP_ARANGE, 0, NULL, (ds_attr[]){A_F(0), A_F(100000), A_F(1), A_DT(DS_INT64)}, &out));
    bool ok = out && ds_tensor_numel(out) == 100000;
    for (int64_t i = 0; ok && i < 100000; i++) ok = ((int64_t *)ds_tensor_data(out))[i] == i;
    CHECK(ok);
    ds_tensor_release(out);
    CHECK_ERR(ds_op_run1(DS_OP_ARANGE, 0, NULL, (ds_attr[]){A_F(0), A_F(5), A_F(0), A_DT(DS_INT64)}, &out),
              DS_ERR_VALUE, "arange: step must not be zero");
    CHECK_ERR(ds_op_run1(DS_OP_ARANGE, 0, NULL, (ds_attr[]){A_F(0), A_F(INFINITY), A_F(1), A_DT(DS_INT64)}, &out),
              DS_ERR_VALUE, "stop must be finite");
    CHECK_ERR(ds_op_run1(DS_OP_ARANGE, 0, NULL, (ds_attr[]){A_F(0), A_F(2), A_F(1), A_DT(DS_BOOL)}, &out),
              DS_ERR_DTYPE, "dtype bool is not supported");
    CHECK_ERR(ds_op_run1(DS_OP_ARANGE, 0, NULL, (ds_attr[]){A_F(0), A_F(1e300), A_F(1e-300), A_DT(DS_FLOAT64)}, &out),
              DS_ERR_VALUE, "too many");
    CHECK_ERR(ds_op_run1(DS_OP_ARANGE, 0, NULL, (ds_attr[]){A_F(0), A_F(2e19), A_F(1e18), A_DT(DS_INT64)}, &out),
              DS_ERR_VALUE, "do not fit in an integer dtype");
}

DS_TEST(linspace_like_numpy) {
    ds_tensor *out = NULL;
    CHECK_OK(ds_op_run1(DS_OP_LINSPACE, 0, NULL, (ds_attr[]){A_F(0), A_F(1), A_INT(5), A_DT(DS_FLOAT32)}, &out));
    CHECK(same(out, 1, SH(5), (double[]){0, 0.25, 0.5, 0.75, 1}));
    ds_tensor_release(out);
    /* float64: start + i * step, last exactly stop */
    CHECK_OK(ds_op_run1(DS_OP_LINSPACE, 0, NULL, (ds_attr[]){A_F(0), A_F(0.3), A_INT(7), A_DT(DS_FLOAT64)}, &out));
    double step = 0.3 / 6, e[7];
    for (int i = 0; i < 6; i++) e[i] = i * step;
    e[6] = 0.3;
    CHECK(same(out, 1, SH(7), e));
    ds_tensor_release(out);
    CHECK_OK(ds_op_run1(DS_OP_LINSPACE, 0, NULL, (ds_attr[]){A_F(2), A_F(9), A_INT(1), A_DT(DS_FLOAT64)}, &out));
    CHECK(same(out, 1, SH(1), (double[]){2}));
    ds_tensor_release(out);
    CHECK_OK(ds_op_run1(DS_OP_LINSPACE, 0, NULL, (ds_attr[]){A_F(2), A_F(9), A_INT(0), A_DT(DS_FLOAT64)}, &out));
    CHECK(out && ds_tensor_numel(out) == 0);
    ds_tensor_release(out);
    /* integer dtypes floor: np.linspace(-1, 1, 4, dtype=int) == [-1, -1, 0, 1] */
    CHECK_OK(ds_op_run1(DS_OP_LINSPACE, 0, NULL, (ds_attr[]){A_F(-1), A_F(1), A_INT(4), A_DT(DS_INT64)}, &out));
    CHECK(same(out, 1, SH(4), (double[]){-1, -1, 0, 1}));
    ds_tensor_release(out);
    CHECK_OK(ds_op_run1(DS_OP_LINSPACE, 0, NULL, (ds_attr[]){A_F(3), A_F(3), A_INT(3), A_DT(DS_FLOAT32)}, &out));
    CHECK(same(out, 1, SH(3), (double[]){3, 3, 3}));
    ds_tensor_release(out);
    CHECK_OK(ds_op_run1(DS_OP_LINSPACE, 0, NULL, (ds_attr[]){A_F(1), A_F(0), A_INT(3), A_DT(DS_FLOAT32)}, &out));
    CHECK(same(out, 1, SH(3), (double[]){1, 0.5, 0}));
    ds_tensor_release(out);
    CHECK_ERR(ds_op_run1(DS_OP_LINSPACE, 0, NULL, (ds_attr[]){A_F(0), A_F(1), A_INT(-1), A_DT(DS_FLOAT32)}, &out),
              DS_ERR_VALUE, "linspace: number of samples, -1, must be non-negative");
    CHECK_ERR(ds_op_run1(DS_OP_LINSPACE, 0, NULL, (ds_attr[]){A_F(NAN), A_F(1), A_INT(2), A_DT(DS_FLOAT32)}, &out),
              DS_ERR_VALUE, "start must be finite");
}

DS_TEST(eye_shapes_and_dtypes) {
    ds_tensor *out = NULL;
    CHECK_OK(ds_op_run1(DS_OP_EYE, 0, NULL, (ds_attr[]){A_INT(2), A_INT(3), A_DT(DS_INT32)}, &out));
    CHECK(out && ds_tensor_dtype(out) == DS_INT32);
    CHECK(same(out, 2, SH(2, 3), (double[]){1, 0, 0, 0, 1, 0}));
    ds_tensor_release(out);
    CHECK_OK(ds_op_run1(DS_OP_EYE, 0, NULL, (ds_attr[]){A_INT(3), A_INT(2), A_DT(DS_FLOAT16)}, &out));
    CHECK(same(out, 2, SH(3, 2), (double[]){1, 0, 0, 1, 0, 0}));
    ds_tensor_release(out);
    CHECK_OK(ds_op_run1(DS_OP_EYE, 0, NULL, (ds_attr[]){A_INT(0), A_INT(4), A_DT(DS_FLOAT32)}, &out));
    CHECK(out && ds_tensor_numel(out) == 0);
    ds_tensor_release(out);
    CHECK_ERR(ds_op_run1(DS_OP_EYE, 0, NULL, (ds_attr[]){A_INT(-1), A_INT(2), A_DT(DS_FLOAT32)}, &out),
              DS_ERR_VALUE, "eye: negative dimensions are not allowed (n = -1, m = 2)");
}

/* ---------------------------------------------------------------- random */
DS_TEST(philox_known_answers) {
    /* Random123's tests/kat_vectors, "philox4x32 10" lines: ctr[4] key[2] -> out[4] */
    static const uint32_t kat[3][10] = {
        {0, 0, 0, 0, 0, 0, 0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8},
        {0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff, 0x408f276d, 0x41c83b0e,
         0xa20bc7c6, 0x6d5451fd},
        {0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344, 0xa4093822, 0x299f31d0, 0xd16cfe09, 0x94fdcceb,
         0x5001e420, 0x24126ea1},
    };
    for (int i = 0; i < 3; i++) {
        uint32_t out[4];
        ds_philox4x32_10(kat[i], kat[i] + 4, out);
        CHECK(!memcmp(out, kat[i] + 6, sizeof out));
    }
}

static ds_tensor *run_uniform(int64_t n, double lo, double hi, ds_dtype dt) {
    ds_tensor *out = NULL;
    int64_t shape[] = {n};
    if (ds_op_run1(DS_OP_UNIFORM, 0, NULL, (ds_attr[]){A_INTS(shape, 1), A_F(lo), A_F(hi), A_DT(dt)}, &out))
        return NULL;
    return out;
}

DS_TEST(uniform_reproducible_and_fresh) {
    ds_random_seed(42);
    ds_tensor *a = run_uniform(1001, 0, 1, DS_FLOAT32), *b = run_uniform(1001, 0, 1, DS_FLOAT32);
    ds_random_seed(42);
    ds_tensor *c = run_uniform(1001, 0, 1, DS_FLOAT32), *d = run_uniform(1001, 0, 1, DS_FLOAT32);
    CHECK(bytes_equal(a, c) && bytes_equal(b, d));
    CHECK(a && b && !bytes_equal(a, b)); /* each call draws fresh counters */
    ds_random_seed(43);
    ds_tensor *e = run_uniform(1001, 0, 1, DS_FLOAT32);
    CHECK(e && !bytes_equal(a, e));
    /* independent of the number of threads */
    int nt = ds_get_num_threads();
    ds_set_num_threads(1);
    ds_random_seed(5);
    ds_tensor *s1 = run_uniform(300000, -1, 1, DS_FLOAT64);
    ds_set_num_threads(nt > 1 ? nt : 2);
    ds_random_seed(5);
    ds_tensor *s2 = run_uniform(300000, -1, 1, DS_FLOAT64);
    ds_set_num_threads(nt);
    CHECK(bytes_equal(s1, s2));
    ds_tensor *all[] = {a, b, c, d, e, s1, s2};
    for (int i = 0; i < 7; i++) ds_tensor_release(all[i]);
}

DS_TEST(uniform_range_and_mean) {
    ds_random_seed(1);
    int64_t n = 1000000;
    ds_tensor *t = run_uniform(n, 2, 5, DS_FLOAT32);
    CHECK(t != NULL);
    if (t) {
        const float *p = ds_tensor_data(t);
        double sum = 0, mn = 10, mx = -10;
        for (int64_t i = 0; i < n; i++) {
            sum += p[i];
            mn = p[i] < mn ? p[i] : mn;
            mx = p[i] > mx ? p[i] : mx;
        }
        CHECK(mn >= 2 && mx < 5);
        CHECK_NEAR(sum / n, 3.5, 0.01);
        CHECK(mn < 2.001 && mx > 4.999);
    }
    ds_tensor_release(t);
    /* narrow dtypes never round up to high */
    ds_dtype narrow[] = {DS_FLOAT16, DS_BFLOAT16, DS_FLOAT32, DS_FLOAT64};
    for (int k = 0; k < 4; k++) {
        ds_tensor *h = run_uniform(200000, 1, 2, narrow[k]);
        bool ok = h != NULL;
        for (int64_t i = 0; ok && i < 200000; i++) {
            double v;
            ds_tensor_get_double(h, i, &v);
            ok = v >= 1 && v < 2;
        }
        CHECK(ok);
        ds_tensor_release(h);
    }
    ds_tensor *same_lh = run_uniform(10, 3, 3, DS_FLOAT32);
    CHECK(same(same_lh, 1, SH(10), (double[]){3, 3, 3, 3, 3, 3, 3, 3, 3, 3}));
    ds_tensor_release(same_lh);
    ds_tensor *out = NULL;
    int64_t s[] = {4};
    CHECK_ERR(ds_op_run1(DS_OP_UNIFORM, 0, NULL, (ds_attr[]){A_INTS(s, 1), A_F(0), A_F(1), A_DT(DS_INT32)}, &out),
              DS_ERR_DTYPE, "uniform: dtype int32 is not supported: a floating-point dtype is required");
    CHECK_ERR(ds_op_run1(DS_OP_UNIFORM, 0, NULL, (ds_attr[]){A_INTS(s, 1), A_F(2), A_F(1), A_DT(DS_FLOAT32)}, &out),
              DS_ERR_VALUE, "low (2) must be <= high (1)");
    CHECK_ERR(ds_op_run1(DS_OP_UNIFORM, 0, NULL, (ds_attr[]){A_INTS(s, 1), A_F(-1e308), A_F(1e308), A_DT(DS_FLOAT64)}, &out),
              DS_ERR_VALUE, "overflows");
}

DS_TEST(normal_moments) {
    ds_random_seed(2024);
    int64_t n = 1000000, shape[] = {1000, 1000};
    ds_tensor *t = NULL;
    CHECK_OK(ds_op_run1(DS_OP_NORMAL, 0, NULL, (ds_attr[]){A_INTS(shape, 2), A_F(0), A_F(1), A_DT(DS_FLOAT32)}, &t));
    if (t) {
        const float *p = ds_tensor_data(t);
        double s = 0, s2 = 0, s4 = 0;
        int64_t beyond3 = 0;
        for (int64_t i = 0; i < n; i++) {
            s += p[i];
            s2 += (double)p[i] * p[i];
            s4 += (double)p[i] * p[i] * p[i] * p[i];
            beyond3 += fabs(p[i]) > 3;
        }
        double mean = s / n, var = s2 / n - mean * mean;
        CHECK_NEAR(mean, 0, 0.005);
        CHECK_NEAR(sqrt(var), 1, 0.005);
        CHECK_NEAR(s4 / n, 3, 0.05);             /* kurtosis of a normal */
        CHECK(beyond3 > 2300 && beyond3 < 3100); /* P(|z| > 3) = 0.0027 */
    }
    ds_tensor_release(t);
    ds_random_seed(9);
    int64_t s1[] = {100001};
    ds_tensor *a = NULL, *b = NULL;
    CHECK_OK(ds_op_run1(DS_OP_NORMAL, 0, NULL, (ds_attr[]){A_INTS(s1, 1), A_F(3), A_F(2), A_DT(DS_FLOAT64)}, &a));
    if (a) {
        double sum = 0, sq = 0;
        for (int64_t i = 0; i < s1[0]; i++) {
            double v = ((double *)ds_tensor_data(a))[i];
            sum += v;
            sq += v * v;
        }
        double mean = sum / s1[0];
        CHECK_NEAR(mean, 3, 0.03);
        CHECK_NEAR(sqrt(sq / s1[0] - mean * mean), 2, 0.03);
    }
    ds_random_seed(9);
    CHECK_OK(ds_op_run1(DS_OP_NORMAL, 0, NULL, (ds_attr[]){A_INTS(s1, 1), A_F(3), A_F(2), A_DT(DS_FLOAT64)}, &b));
    CHECK(bytes_equal(a, b));
    ds_tensor_release(a);
    ds_tensor_release(b);
    ds_tensor *out = NULL;
    CHECK_ERR(ds_op_run1(DS_OP_NORMAL, 0, NULL, (ds_attr[]){A_INTS(s1, 1), A_F(0), A_F(-1), A_DT(DS_FLOAT32)}, &out),
              DS_ERR_VALUE, "normal: std must be non-negative, got -1");
    CHECK_ERR(ds_op_run1(DS_OP_NORMAL, 0, NULL, (ds_attr[]){A_INTS(s1, 1), A_F(0), A_F(1), A_DT(DS_BOOL)}, &out),
              DS_ERR_DTYPE, "dtype bool is not supported");
}

DS_TEST(bernoulli_scalar_and_tensor_p) {
    ds_random_seed(3);
    int64_t n = 200000;
    ds_tensor *x = NULL, *out = NULL, *out2 = NULL;
    ds_tensor_new_zeros(DS_FLOAT32, 1, SH(n), &x);
    CHECK_OK(ds_op_run1(DS_OP_BERNOULLI, 1, &x, (ds_attr[]){A_F(0.3)}, &out));
    if (out) {
        double sum = 0;
        bool binary = true;
        for (int64_t i = 0; i < n; i++) {
            float v = ((float *)ds_tensor_data(out))[i];
            binary = binary && (v == 0 || v == 1);
            sum += v;
        }
        CHECK(binary);
        CHECK_NEAR(sum / n, 0.3, 0.005);
    }
    ds_random_seed(3);
    CHECK_OK(ds_op_run1(DS_OP_BERNOULLI, 1, &x, (ds_attr[]){A_F(0.3)}, &out2));
    CHECK(bytes_equal(out, out2));
    ds_tensor_release(out);
    ds_tensor_release(out2);
    /* p read from a (transposed, float64) tensor: 0 and 1 are exact, 0.5 is a coin */
    ds_tensor *p = NULL, *pt = NULL;
    ds_tensor_new(DS_FLOAT64, 2, SH(3, 1000), &p);
    double *pp = ds_tensor_data(p);
    for (int64_t i = 0; i < 3000; i++) pp[i] = i < 1000 ? 0 : i < 2000 ? 1 : 0.5;
    ds_tensor_permute(p, (const int[]){1, 0}, &pt);
    CHECK_OK(ds_op_run1(DS_OP_BERNOULLI, 1, &pt, (ds_attr[]){A_NONE}, &out));
    CHECK(out && ds_tensor_dtype(out) == DS_FLOAT64 && ds_tensor_shape(out)[0] == 1000);
    if (out) {
        const double *o = ds_tensor_data(out);
        bool exact = true;
        double coin = 0;
        for (int64_t r = 0; r < 1000; r++) {
            exact = exact && o[r * 3] == 0 && o[r * 3 + 1] == 1;
            coin += o[r * 3 + 2];
        }
        CHECK(exact);
        CHECK(coin > 400 && coin < 600);
    }
    ds_tensor_release(out);
    /* int output with the attr */
    ds_tensor *xi = NULL;
    ds_tensor_new(DS_INT32, 1, SH(1000), &xi);
    CHECK_OK(ds_op_run1(DS_OP_BERNOULLI, 1, &xi, (ds_attr[]){A_F(1)}, &out));
    bool ones = out && ds_tensor_dtype(out) == DS_INT32;
    for (int64_t i = 0; ones && i < 1000; i++) ones = ((int32_t *)ds_tensor_data(out))[i] == 1;
    CHECK(ones);
    ds_tensor_release(out);
    pp[1234] = 1.5;
    CHECK_ERR(ds_op_run1(DS_OP_BERNOULLI, 1, &p, (ds_attr[]){A_NONE}, &out), DS_ERR_VALUE,
              "bernoulli: probability 1.5 at element 1234 is outside [0, 1]");
    CHECK_ERR(ds_op_run1(DS_OP_BERNOULLI, 1, &x, (ds_attr[]){A_F(-0.1)}, &out), DS_ERR_VALUE,
              "p must be in [0, 1], got -0.1");
    ds_tensor_release(x);
    ds_tensor_release(xi);
    ds_tensor_release(p);
    ds_tensor_release(pt);
}

DS_TEST_MAIN()
