/* Tests for gather, gather_elements, one_hot, nonzero, index and index_put (src/ops/index.c).
 * Expected values are hand-computed (they match np.take, torch.gather, NumPy advanced indexing). */
#include <stdlib.h>

#include "ds_test.h"
#include "tensor/dtype.h"
#include "tensor/tensor.h"

#define SH(...) ((const int64_t[]){__VA_ARGS__})
#define A_INT(x) ((ds_attr){.kind = DS_ATTR_INT, .v.i = (x)})
#define A_F(x) ((ds_attr){.kind = DS_ATTR_FLOAT, .v.f = (x)})
#define A_DT(d) ((ds_attr){.kind = DS_ATTR_DTYPE, .v.dtype = (d)})
#define A_NONE ((ds_attr){.kind = DS_ATTR_NONE})

static ds_tensor *mk(ds_dtype dt, int nd, const int64_t *shape, const double *vals) {
    ds_tensor *t = NULL;
    if (ds_tensor_new(dt, nd, shape, &t)) return NULL;
    char *p = ds_tensor_data(t);
    for (int64_t i = 0; i < ds_tensor_numel(t); i++)
        ds_dtype_store_double(dt, p + i * (int64_t)ds_dtype_size(dt), vals ? vals[i] : (double)i);
    return t;
}

static bool same(const ds_tensor *t, int nd, const int64_t *shape, const double *vals) {
    if (!t || !ds_shape_equal(ds_tensor_ndim(t), ds_tensor_shape(t), nd, shape)) {
        printf("  shape mismatch\n");
        return false;
    }
    for (int64_t i = 0; i < ds_tensor_numel(t); i++) {
        double v;
        if (ds_tensor_get_double(t, i, &v) || !(v == vals[i] || (isnan(v) && isnan(vals[i])))) {
            printf("  element %lld: got %g, expected %g\n", (long long)i, v, vals[i]);
            return false;
        }
    }
    return true;
}

static ds_tensor *perm2(ds_tensor *t) {
    ds_tensor *v = NULL;
    ds_tensor_permute(t, (const int[]){1, 0}, &v);
    return v;
}

DS_TEST(gather_like_take) {
    ds_tensor *p = mk(DS_FLOAT32, 2, SH(3, 2), (double[]){1, 2, 3, 4, 5, 6}), *out = NULL;
    ds_tensor *i1 = mk(DS_INT32, 1, SH(2), (double[]){2, -3});
    CHECK_OK(ds_op_run1(DS_OP_GATHER, 2, (ds_tensor *[]){p, i1}, (ds_attr[]){A_INT(0)}, &out));
    CHECK(same(out, 2, SH(2, 2), (double[]){5, 6, 1, 2}));
    ds_tensor_release(out);
    ds_tensor *i2 = mk(DS_INT64, 2, SH(2, 2), (double[]){0, 1, 1, 0});
    CHECK_OK(ds_op_run1(DS_OP_GATHER, 2, (ds_tensor *[]){p, i2}, (ds_attr[]){A_INT(-1)}, &out));
    CHECK(same(out, 3, SH(3, 2, 2), (double[]){1, 2, 2, 1, 3, 4, 4, 3, 5, 6, 6, 5}));
    ds_tensor_release(out);
    /* 0-d index drops the axis; transposed params: pt = [[1, 3, 5], [2, 4, 6]] */
    ds_tensor *i0 = mk(DS_UINT8, 0, SH(0), (double[]){2}), *pt = perm2(p);
    CHECK_OK(ds_op_run1(DS_OP_GATHER, 2, (ds_tensor *[]){pt, i0}, (ds_attr[]){A_INT(1)}, &out));
    CHECK(same(out, 1, SH(2), (double[]){5, 6}));
    ds_tensor_release(out);
    /* empty indices */
    ds_tensor *ie = mk(DS_INT64, 1, SH(0), NULL);
    CHECK_OK(ds_op_run1(DS_OP_GATHER, 2, (ds_tensor *[]){p, ie}, (ds_attr[]){A_INT(0)}, &out));
    CHECK(out && ds_tensor_numel(out) == 0 && ds_tensor_ndim(out) == 2);
    ds_tensor_release(out);
    ds_tensor_release(p);
    ds_tensor_release(pt);
    ds_tensor_release(i0);
    ds_tensor_release(i1);
    ds_tensor_release(i2);
    ds_tensor_release(ie);
}

DS_TEST(gather_errors) {
    ds_tensor *p = mk(DS_FLOAT32, 2, SH(3, 2), NULL), *out = NULL;
    ds_tensor *big = mk(DS_INT32, 1, SH(2), (double[]){0, 5}), *neg = mk(DS_INT64, 1, SH(1), (double[]){-4});
    ds_tensor *fl = mk(DS_FLOAT32, 1, SH(1), NULL), *bo = mk(DS_BOOL, 1, SH(1), NULL);
    ds_tensor *s = mk(DS_FLOAT32, 0, SH(0), NULL);
    CHECK_ERR(ds_op_run1(DS_OP_GATHER, 2, (ds_tensor *[]){p, big}, (ds_attr[]){A_INT(0)}, &out), DS_ERR_INDEX,
              "gather: index 5 is out of bounds for axis 0 with size 3");
    CHECK_ERR(ds_op_run1(DS_OP_GATHER, 2, (ds_tensor *[]){p, neg}, (ds_attr[]){A_INT(0)}, &out), DS_ERR_INDEX,
              "index -4 is out of bounds for axis 0 with size 3");
    CHECK_ERR(ds_op_run1(DS_OP_GATHER, 2, (ds_tensor *[]){p, big}, (ds_attr[]){A_INT(1)}, &out), DS_ERR_INDEX,
              "index 5 is out of bounds for axis 1 with size 2");
    CHECK_ERR(ds_op_run1(DS_OP_GATHER, 2, (ds_tensor *[]){p, fl}, (ds_attr[]){A_INT(0)}, &out), DS_ERR_DTYPE,
              "indices must be an integer tensor, got float32");
    CHECK_ERR(ds_op_run1(DS_OP_GATHER, 2, (ds_tensor *[]){p, bo}, (ds_attr[]){A_INT(0)}, &out), DS_ERR_DTYPE,
              "got bool");
    CHECK_ERR(ds_op_run1(DS_OP_GATHER, 2, (ds_tensor *[]){p, big}, (ds_attr[]){A_INT(2)}, &out), DS_ERR_AXIS,
              "axis 2 is out of bounds");
    CHECK_ERR(ds_op_run1(DS_OP_GATHER, 2, (ds_tensor *[]){s, big}, (ds_attr[]){A_INT(0)}, &out), DS_ERR_SHAPE,
              "zero-dimensional");
    ds_tensor_release(p);
    ds_tensor_release(big);
    ds_tensor_release(neg);
    ds_tensor_release(fl);
    ds_tensor_release(bo);
    ds_tensor_release(s);
}

DS_TEST(gather_elements_like_torch) {
    ds_tensor *x = mk(DS_INT64, 2, SH(2, 3), (double[]){1, 2, 3, 4, 5, 6}), *out = NULL;
    ds_tensor *i1 = mk(DS_INT32, 2, SH(2, 2), (double[]){0, 2, 1, -3});
    CHECK_OK(ds_op_run1(DS_OP_GATHER_ELEMENTS, 2, (ds_tensor *[]){x, i1}, (ds_attr[]){A_INT(1)}, &out));
    CHECK(same(out, 2, SH(2, 2), (double[]){1, 3, 5, 4}));
    ds_tensor_release(out);
    ds_tensor *i0 = mk(DS_INT64, 2, SH(1, 3), (double[]){1, 0, 1});
    CHECK_OK(ds_op_run1(DS_OP_GATHER_ELEMENTS, 2, (ds_tensor *[]){x, i0}, (ds_attr[]){A_INT(-2)}, &out));
    CHECK(same(out, 2, SH(1, 3), (double[]){4, 2, 6}));
    ds_tensor_release(out);
    /* transposed x = [[1, 4], [2, 5], [3, 6]] and transposed index */
    ds_tensor *xt = perm2(x), *ib = mk(DS_INT16, 2, SH(2, 3), (double[]){1, 0, 1, 0, 1, 0}), *ibt = perm2(ib);
    /* ibt = [[1, 0], [0, 1], [1, 0]]; axis 1 picks along rows of xt */
    CHECK_OK(ds_op_run1(DS_OP_GATHER_ELEMENTS, 2, (ds_tensor *[]){xt, ibt}, (ds_attr[]){A_INT(1)}, &out));
    CHECK(same(out, 2, SH(3, 2), (double[]){4, 1, 2, 5, 6, 3}));
    ds_tensor_release(out);
    ds_tensor *bad = mk(DS_INT32, 2, SH(1, 2), (double[]){0, 3}), *wide = mk(DS_INT32, 2, SH(3, 1), NULL);
    ds_tensor *flat = mk(DS_INT32, 1, SH(2), NULL);
    CHECK_ERR(ds_op_run1(DS_OP_GATHER_ELEMENTS, 2, (ds_tensor *[]){x, bad}, (ds_attr[]){A_INT(1)}, &out),
              DS_ERR_INDEX, "gather_elements: index 3 is out of bounds for axis 1 with size 3");
    CHECK_ERR(ds_op_run1(DS_OP_GATHER_ELEMENTS, 2, (ds_tensor *[]){x, wide}, (ds_attr[]){A_INT(1)}, &out),
              DS_ERR_SHAPE, "index dim 0 (3) exceeds the input's (2)");
    CHECK_ERR(ds_op_run1(DS_OP_GATHER_ELEMENTS, 2, (ds_tensor *[]){x, flat}, (ds_attr[]){A_INT(1)}, &out),
              DS_ERR_SHAPE, "same number of dims");
    ds_tensor_release(x);
    ds_tensor_release(xt);
    ds_tensor_release(i0);
    ds_tensor_release(i1);
    ds_tensor_release(ib);
    ds_tensor_release(ibt);
    ds_tensor_release(bad);
    ds_tensor_release(wide);
    ds_tensor_release(flat);
}

DS_TEST(gather_elements_large_parallel) {
    int64_t n = 400, m = 300;
    ds_tensor *x = mk(DS_FLOAT32, 2, SH(n, m), NULL), *ix = NULL, *out = NULL;
    ds_tensor_new(DS_INT64, 2, SH(n, m), &ix);
    int64_t *p = ds_tensor_data(ix);
    for (int64_t i = 0; i < n * m; i++) p[i] = (i * 7919) % n;
    CHECK_OK(ds_op_run1(DS_OP_GATHER_ELEMENTS, 2, (ds_tensor *[]){x, ix}, (ds_attr[]){A_INT(0)}, &out));
    bool ok = out != NULL;
    for (int64_t i = 0; ok && i < n * m; i++) ok = ((float *)ds_tensor_data(out))[i] == (float)(p[i] * m + i % m);
    CHECK(ok);
    ds_tensor_release(out);
    p[n * m - 5] = n; /* one bad index near the end is found and reported */
    p[n * m - 2] = -n - 1;
    CHECK_ERR(ds_op_run1(DS_OP_GATHER_ELEMENTS, 2, (ds_tensor *[]){x, ix}, (ds_attr[]){A_INT(0)}, &out),
              DS_ERR_INDEX, "index 400 is out of bounds for axis 0 with size 400");
    ds_tensor_release(x);
    ds_tensor_release(ix);
}

DS_TEST(one_hot_values_axes_dtypes) {
    ds_tensor *ix = mk(DS_INT64, 1, SH(3), (double[]){0, 2, 5}), *out = NULL;
    ds_attr at[] = {A_INT(3), A_F(1), A_F(0), A_INT(-1), A_DT(DS_FLOAT32)};
    CHECK_OK(ds_op_run1(DS_OP_ONE_HOT, 1, &ix, at, &out));
    CHECK(out && ds_tensor_dtype(out) == DS_FLOAT32);
    CHECK(same(out, 2, SH(3, 3), (double[]){1, 0, 0, 0, 0, 1, 0, 0, 0}));
    ds_tensor_release(out);
    ds_attr at2[] = {A_INT(3), A_F(5), A_F(-1), A_INT(0), A_DT(DS_INT32)};
    CHECK_OK(ds_op_run1(DS_OP_ONE_HOT, 1, &ix, at2, &out));
    CHECK(out && ds_tensor_dtype(out) == DS_INT32);
    CHECK(same(out, 2, SH(3, 3), (double[]){5, -1, -1, -1, -1, -1, -1, 5, -1}));
    ds_tensor_release(out);
    /* 2-d transposed indices, depth on the middle axis; -1 gives all off */
    ds_tensor *b = mk(DS_INT8, 2, SH(2, 2), (double[]){1, -1, 0, 1}), *bt = perm2(b); /* [[1, 0], [-1, 1]] */
    ds_attr at3[] = {A_INT(2), A_F(1), A_F(0), A_INT(1), A_DT(DS_BOOL)};
    CHECK_OK(ds_op_run1(DS_OP_ONE_HOT, 1, &bt, at3, &out));
    CHECK(same(out, 3, SH(2, 2, 2), (double[]){0, 1, 1, 0, 0, 0, 0, 1}));
    ds_tensor_release(out);
    ds_attr bad_depth[] = {A_INT(-2), A_F(1), A_F(0), A_INT(-1), A_DT(DS_FLOAT32)};
    ds_attr bad_axis[] = {A_INT(2), A_F(1), A_F(0), A_INT(3), A_DT(DS_FLOAT32)};
    CHECK_ERR(ds_op_run1(DS_OP_ONE_HOT, 1, &ix, bad_depth, &out), DS_ERR_VALUE,
              "one_hot: depth must be non-negative, got -2");
    CHECK_ERR(ds_op_run1(DS_OP_ONE_HOT, 1, &bt, bad_axis, &out), DS_ERR_AXIS, "axis 3 is out of bounds");
    ds_tensor *f = mk(DS_FLOAT32, 1, SH(1), NULL);
    CHECK_ERR(ds_op_run1(DS_OP_ONE_HOT, 1, &f, at, &out), DS_ERR_DTYPE, "indices must be an integer tensor");
    ds_tensor_release(ix);
    ds_tensor_release(b);
    ds_tensor_release(bt);
    ds_tensor_release(f);
}

DS_TEST(nonzero_small_cases) {
    ds_tensor *x = mk(DS_INT32, 2, SH(2, 3), (double[]){0, 1, 0, 2, 0, 3}), *out = NULL;
    CHECK_OK(ds_op_run1(DS_OP_NONZERO, 1, &x, NULL, &out));
    CHECK(out && ds_tensor_dtype(out) == DS_INT64);
    CHECK(same(out, 2, SH(3, 2), (double[]){0, 1, 1, 0, 1, 2}));
    ds_tensor_release(out);
    ds_tensor *xt = perm2(x); /* [[0, 2], [1, 0], [0, 3]] */
    CHECK_OK(ds_op_run1(DS_OP_NONZERO, 1, &xt, NULL, &out));
    CHECK(same(out, 2, SH(3, 2), (double[]){0, 1, 1, 0, 2, 1}));
    ds_tensor_release(out);
    ds_tensor *f = mk(DS_FLOAT16, 1, SH(4), (double[]){-0.0, NAN, 0, 0.5});
    CHECK_OK(ds_op_run1(DS_OP_NONZERO, 1, &f, NULL, &out));
    CHECK(same(out, 2, SH(2, 1), (double[]){1, 3}));
    ds_tensor_release(out);
    ds_tensor *z = mk(DS_FLOAT64, 2, SH(2, 2), (double[]){0, 0, -0.0, 0});
    CHECK_OK(ds_op_run1(DS_OP_NONZERO, 1, &z, NULL, &out));
    CHECK(out && ds_tensor_shape(out)[0] == 0 && ds_tensor_shape(out)[1] == 2);
    ds_tensor_release(out);
    ds_tensor *s = mk(DS_BOOL, 0, SH(0), (double[]){1});
    CHECK_OK(ds_op_run1(DS_OP_NONZERO, 1, &s, NULL, &out));
    CHECK(out && ds_tensor_shape(out)[0] == 1 && ds_tensor_shape(out)[1] == 0);
    ds_tensor_release(out);
    ds_tensor *e = mk(DS_BOOL, 2, SH(0, 3), NULL);
    CHECK_OK(ds_op_run1(DS_OP_NONZERO, 1, &e, NULL, &out));
    CHECK(out && ds_tensor_shape(out)[0] == 0 && ds_tensor_shape(out)[1] == 2);
    ds_tensor_release(out);
    ds_tensor_release(x);
    ds_tensor_release(xt);
    ds_tensor_release(f);
    ds_tensor_release(z);
    ds_tensor_release(s);
    ds_tensor_release(e);
}

DS_TEST(nonzero_large_many_chunks) {
    int64_t n = 700, m = 500; /* 350000 elements: several chunks */
    ds_tensor *x = NULL, *out = NULL;
    ds_tensor_new_zeros(DS_UINT8, 2, SH(n, m), &x);
    uint8_t *p = ds_tensor_data(x);
    int64_t cnt = 0;
    for (int64_t i = 0; i < n * m; i++)
        if ((i * 2654435761u) % 7 == 0) p[i] = 1, cnt++;
    CHECK_OK(ds_op_run1(DS_OP_NONZERO, 1, &x, NULL, &out));
    CHECK(out && ds_tensor_shape(out)[0] == cnt);
    bool ok = out != NULL;
    const int64_t *o = out ? ds_tensor_data(out) : NULL;
    for (int64_t i = 0, k = 0; ok && i < n * m; i++)
        if (p[i]) {
            ok = o[2 * k] == i / m && o[2 * k + 1] == i % m;
            k++;
        }
    CHECK(ok);
    ds_tensor_release(out);
    ds_tensor_release(x);
}

DS_TEST(index_advanced) {
    ds_tensor *x = mk(DS_FLOAT32, 2, SH(3, 4), NULL), *out = NULL;
    ds_tensor *r = mk(DS_INT64, 1, SH(2), (double[]){2, -3});
    CHECK_OK(ds_op_run1(DS_OP_INDEX, 2, (ds_tensor *[]){x, r}, NULL, &out));
    CHECK(same(out, 2, SH(2, 4), (double[]){8, 9, 10, 11, 0, 1, 2, 3}));
    ds_tensor_release(out);
    /* broadcast [2, 1] with [2] -> B = [2, 2] */
    ds_tensor *i0 = mk(DS_INT32, 2, SH(2, 1), (double[]){0, 2}), *i1 = mk(DS_INT8, 1, SH(2), (double[]){1, -1});
    CHECK_OK(ds_op_run1(DS_OP_INDEX, 3, (ds_tensor *[]){x, i0, i1}, NULL, &out));
    CHECK(same(out, 2, SH(2, 2), (double[]){1, 3, 9, 11}));
    ds_tensor_release(out);
    /* non-contiguous x (xt = x^T, [4, 3]) with a 0-d index: xt[1] = column 1 of x */
    ds_tensor *xt = perm2(x), *s = mk(DS_INT16, 0, SH(0), (double[]){1});
    CHECK_OK(ds_op_run1(DS_OP_INDEX, 2, (ds_tensor *[]){xt, s}, NULL, &out));
    CHECK(same(out, 1, SH(3), (double[]){1, 5, 9}));
    ds_tensor_release(out);
    /* no index tensors: a copy */
    CHECK_OK(ds_op_run1(DS_OP_INDEX, 1, (ds_tensor *[]){xt}, NULL, &out));
    CHECK(same(out, 2, SH(4, 3), (double[]){0, 4, 8, 1, 5, 9, 2, 6, 10, 3, 7, 11}));
    CHECK(out && !ds_tensor_shares_storage(out, x));
    ds_tensor_release(out);
    ds_tensor_release(x);
    ds_tensor_release(xt);
    ds_tensor_release(r);
    ds_tensor_release(i0);
    ds_tensor_release(i1);
    ds_tensor_release(s);
}

DS_TEST(index_errors) {
    ds_tensor *x = mk(DS_FLOAT32, 2, SH(3, 4), NULL), *out = NULL;
    ds_tensor *m = mk(DS_BOOL, 1, SH(3), NULL), *f = mk(DS_FLOAT64, 1, SH(1), NULL);
    ds_tensor *a = mk(DS_INT64, 1, SH(2), NULL), *b = mk(DS_INT64, 1, SH(3), NULL);
    ds_tensor *oob = mk(DS_INT64, 1, SH(2), (double[]){0, 4});
    CHECK_ERR(ds_op_run1(DS_OP_INDEX, 2, (ds_tensor *[]){x, m}, NULL, &out), DS_ERR_DTYPE,
              "index: index 0 must be an integer tensor, got bool (convert masks with nonzero)");
    CHECK_ERR(ds_op_run1(DS_OP_INDEX, 3, (ds_tensor *[]){x, a, f}, NULL, &out), DS_ERR_DTYPE,
              "index 1 must be an integer tensor, got float64");
    CHECK_ERR(ds_op_run1(DS_OP_INDEX, 4, (ds_tensor *[]){x, a, a, a}, NULL, &out), DS_ERR_INDEX,
              "too many indices for tensor: tensor is 2-dimensional, but 3 were indexed");
    CHECK_ERR(ds_op_run1(DS_OP_INDEX, 3, (ds_tensor *[]){x, a, b}, NULL, &out), DS_ERR_SHAPE,
              "could not be broadcast together with shapes [2] [3]");
    CHECK_ERR(ds_op_run1(DS_OP_INDEX, 3, (ds_tensor *[]){x, a, oob}, NULL, &out), DS_ERR_INDEX,
              "index 4 is out of bounds for axis 1 with size 4");
    CHECK_ERR(ds_op_run1(DS_OP_INDEX, 0, NULL, NULL, &out), DS_ERR_VALUE, "no inputs");
    ds_tensor_release(x);
    ds_tensor_release(m);
    ds_tensor_release(f);
    ds_tensor_release(a);
    ds_tensor_release(b);
    ds_tensor_release(oob);
}

DS_TEST(index_put_in_place) {
    ds_tensor *x = NULL;
    ds_tensor_new_zeros(DS_FLOAT32, 2, SH(3, 3), &x);
    ds_tensor *v = mk(DS_INT32, 0, SH(0), (double[]){5});
    ds_tensor *i0 = mk(DS_INT64, 1, SH(2), (double[]){0, -1}), *i1 = mk(DS_INT64, 1, SH(2), (double[]){1, 1});
    ds_tensor *outs[1];
    int n = -1;
    CHECK_OK(ds_op_run(DS_OP_INDEX_PUT, 4, (ds_tensor *[]){x, v, i0, i1}, NULL, 0, outs, &n));
    CHECK(n == 0);
    CHECK(same(x, 2, SH(3, 3), (double[]){0, 5, 0, 0, 0, 0, 0, 5, 0}));
    /* duplicates: the last write wins; values [2, 1] broadcast over the row */
    ds_tensor *dup = mk(DS_INT32, 1, SH(2), (double[]){1, 1}), *vals = mk(DS_FLOAT64, 2, SH(2, 1), (double[]){7, 8});
    CHECK_OK(ds_op_run(DS_OP_INDEX_PUT, 3, (ds_tensor *[]){x, vals, dup}, NULL, 0, outs, &n));
    CHECK(same(x, 2, SH(3, 3), (double[]){0, 5, 0, 8, 8, 8, 0, 5, 0}));
    /* through a transposed view: xt[2] = [1, 2, 3] writes column 2 of x */
    ds_tensor *xt = perm2(x), *c2 = mk(DS_INT64, 0, SH(0), (double[]){2}), *row = mk(DS_FLOAT32, 1, SH(3), (double[]){1, 2, 3});
    CHECK_OK(ds_op_run(DS_OP_INDEX_PUT, 3, (ds_tensor *[]){xt, row, c2}, NULL, 0, outs, &n));
    CHECK(same(x, 2, SH(3, 3), (double[]){0, 5, 1, 8, 8, 2, 0, 5, 3}));
    /* no indices: assign everything (values from x itself, overlapping) */
    CHECK_OK(ds_op_run(DS_OP_INDEX_PUT, 2, (ds_tensor *[]){x, xt}, NULL, 0, outs, &n));
    CHECK(same(x, 2, SH(3, 3), (double[]){0, 8, 0, 5, 8, 5, 1, 2, 3}));
    ds_tensor *bad = mk(DS_FLOAT32, 1, SH(2), NULL), *oob = mk(DS_INT64, 1, SH(1), (double[]){3});
    CHECK_ERR(ds_op_run(DS_OP_INDEX_PUT, 3, (ds_tensor *[]){x, bad, dup}, NULL, 0, outs, &n), DS_ERR_SHAPE,
              "index_put: shape mismatch: value tensor of shape [2] could not be broadcast to indexing result of shape [2, 3]");
    CHECK_ERR(ds_op_run(DS_OP_INDEX_PUT, 3, (ds_tensor *[]){x, v, oob}, NULL, 0, outs, &n), DS_ERR_INDEX,
              "index 3 is out of bounds for axis 0 with size 3");
    CHECK_ERR(ds_op_run(DS_OP_INDEX_PUT, 1, (ds_tensor *[]){x}, NULL, 0, outs, &n), DS_ERR_VALUE, "got 1 inputs");
    CHECK(same(x, 2, SH(3, 3), (double[]){0, 8, 0, 5, 8, 5, 1, 2, 3})); /* failures leave x alone */
    ds_tensor_release(x);
    ds_tensor_release(xt);
    ds_tensor_release(v);
    ds_tensor_release(i0);
    ds_tensor_release(i1);
    ds_tensor_release(dup);
    ds_tensor_release(vals);
    ds_tensor_release(c2);
    ds_tensor_release(row);
    ds_tensor_release(bad);
    ds_tensor_release(oob);
}

/* Many duplicate rows, enough work for the parallel path: each row holds the last value written. */
DS_TEST(index_put_duplicates_last_wins_parallel) {
    int64_t rows = 1000, cols = 64, n = 20000;
    ds_tensor *x = NULL, *ix = NULL, *vals = NULL;
    ds_tensor_new_zeros(DS_INT32, 2, SH(rows, cols), &x);
    ds_tensor_new(DS_INT64, 1, SH(n), &ix);
    ds_tensor_new(DS_INT32, 2, SH(n, 1), &vals);
    int64_t *ip = ds_tensor_data(ix), last[1000];
    int32_t *vp = ds_tensor_data(vals);
    for (int64_t r = 0; r < rows; r++) last[r] = -1;
    srand(7);
    for (int64_t i = 0; i < n; i++) {
        ip[i] = rand() % 900; /* rows 900.. stay untouched */
        vp[i] = (int32_t)i + 1;
        last[ip[i]] = i + 1;
    }
    ds_tensor *outs[1];
    int nout = 0;
    CHECK_OK(ds_op_run(DS_OP_INDEX_PUT, 3, (ds_tensor *[]){x, vals, ix}, NULL, 0, outs, &nout));
    const int32_t *xp = ds_tensor_data(x);
    bool ok = true;
    for (int64_t r = 0; r < rows && ok; r++)
        for (int64_t c = 0; c < cols; c++)
            if (xp[r * cols + c] != (last[r] < 0 ? 0 : last[r])) ok = false;
    CHECK(ok);
    ds_tensor_release(x);
    ds_tensor_release(ix);
    ds_tensor_release(vals);
}

DS_TEST(allocation_failures_do_not_leak) {
    ds_tensor *x = mk(DS_FLOAT32, 2, SH(3, 4), NULL), *xt = perm2(x);
    ds_tensor *i0 = mk(DS_INT32, 2, SH(2, 1), (double[]){0, 2}), *i1 = mk(DS_INT64, 1, SH(2), (double[]){1, 0});
    int64_t before = ds_alloc_live_blocks();
    for (int which = 0; which < 4; which++) {
        bool succeeded = false;
        for (int64_t k = 1; k < 50 && !succeeded; k++) {
            ds_tensor *out = NULL, *outs[1];
            int n;
            ds_alloc_debug_begin(k);
            ds_status st;
            if (which == 0) st = ds_op_run1(DS_OP_INDEX, 3, (ds_tensor *[]){xt, i0, i1}, NULL, &out);
            else if (which == 1) st = ds_op_run(DS_OP_INDEX_PUT, 4, (ds_tensor *[]){xt, i1, i0, i1}, NULL, 0, outs, &n);
            else if (which == 2) st = ds_op_run1(DS_OP_GATHER, 2, (ds_tensor *[]){xt, i0}, (ds_attr[]){A_INT(1)}, &out);
            else st = ds_op_run1(DS_OP_NONZERO, 1, &xt, NULL, &out);
            ds_alloc_debug_begin(0);
            CHECK(st == DS_OK || st == DS_ERR_NOMEM);
            succeeded = st == DS_OK;
            ds_tensor_release(out);
            CHECK(ds_alloc_live_blocks() == before);
        }
        CHECK(succeeded);
    }
    ds_tensor_release(x);
    ds_tensor_release(xt);
    ds_tensor_release(i0);
    ds_tensor_release(i1);
}

DS_TEST_MAIN()
