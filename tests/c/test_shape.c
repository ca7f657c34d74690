/* Tests for concat, stack, split, tile and pad (src/ops/shape.c). Expected values are hand-computed
 * (they match NumPy's concatenate/stack/split/tile/pad). */
#include "ds_test.h"
#include "tensor/dtype.h"
#include "tensor/tensor.h"

#define SH(...) ((const int64_t[]){__VA_ARGS__})
#define A_INT(x) ((ds_attr){.kind = DS_ATTR_INT, .v.i = (x)})
#define A_F(x) ((ds_attr){.kind = DS_ATTR_FLOAT, .v.f = (x)})
#define A_INTS(arr, cnt) ((ds_attr){.kind = DS_ATTR_INTS, .n = (cnt), .v.ints = (arr)})

/* A new contiguous tensor holding `vals` converted to dt (vals NULL: 0, 1, 2, ...). */
static ds_tensor *mk(ds_dtype dt, int nd, const int64_t *shape, const double *vals) {
    ds_tensor *t = NULL;
    if (ds_tensor_new(dt, nd, shape, &t)) return NULL;
    char *p = ds_tensor_data(t);
    for (int64_t i = 0; i < ds_tensor_numel(t); i++)
        ds_dtype_store_double(dt, p + i * (int64_t)ds_dtype_size(dt), vals ? vals[i] : (double)i);
    return t;
}

/* True when t has the given shape and row-major values. */
static bool same(const ds_tensor *t, int nd, const int64_t *shape, const double *vals) {
    if (!t || !ds_shape_equal(ds_tensor_ndim(t), ds_tensor_shape(t), nd, shape)) {
        printf("  shape mismatch\n");
        return false;
    }
    for (int64_t i = 0; i < ds_tensor_numel(t); i++) {
        double v;
        if (ds_tensor_get_double(t, i, &v) || v != vals[i]) {
            printf("  element %lld: got %g, expected %g\n", (long long)i, v, vals[i]);
            return false;
        }
    }
    return true;
}

static ds_tensor *perm2(ds_tensor *t) { /* transposed view of a 2-d tensor */
    ds_tensor *v = NULL;
    ds_tensor_permute(t, (const int[]){1, 0}, &v);
    return v;
}

DS_TEST(concat_axis0_and_negative_axis) {
    ds_tensor *a = mk(DS_FLOAT32, 2, SH(2, 3), NULL), *b = mk(DS_FLOAT32, 2, SH(1, 3), (double[]){6, 7, 8});
    ds_tensor *out = NULL;
    ds_attr at[] = {A_INT(0)};
    CHECK_OK(ds_op_run1(DS_OP_CONCAT, 2, (ds_tensor *[]){a, b}, at, &out));
    CHECK(same(out, 2, SH(3, 3), (double[]){0, 1, 2, 3, 4, 5, 6, 7, 8}));
    ds_tensor_release(out);
    ds_tensor *c = mk(DS_FLOAT32, 2, SH(2, 1), (double[]){9, 10});
    at[0] = A_INT(-1);
    CHECK_OK(ds_op_run1(DS_OP_CONCAT, 3, (ds_tensor *[]){a, c, a}, at, &out));
    CHECK(same(out, 2, SH(2, 7), (double[]){0, 1, 2, 9, 0, 1, 2, 3, 4, 5, 10, 3, 4, 5}));
    ds_tensor_release(out);
    ds_tensor_release(a);
    ds_tensor_release(b);
    ds_tensor_release(c);
}

DS_TEST(concat_promotes_dtypes_and_reads_views) {
    ds_tensor *a = mk(DS_INT32, 2, SH(2, 1), (double[]){1, 2});
    ds_tensor *base = mk(DS_FLOAT32, 2, SH(2, 2), (double[]){3, 5, 4, 6});
    ds_tensor *b = perm2(base); /* [[3, 4], [5, 6]], not contiguous */
    ds_tensor *out = NULL;
    CHECK(!ds_tensor_is_contiguous(b));
    CHECK_OK(ds_op_run1(DS_OP_CONCAT, 2, (ds_tensor *[]){a, b}, (ds_attr[]){A_INT(1)}, &out));
    CHECK(out && ds_tensor_dtype(out) == DS_FLOAT32);
    CHECK(same(out, 2, SH(2, 3), (double[]){1, 3, 4, 2, 5, 6}));
    ds_tensor_release(out);
    ds_tensor *u = mk(DS_UINT8, 1, SH(2), (double[]){200, 1}), *i8 = mk(DS_INT8, 1, SH(1), (double[]){-3});
    CHECK_OK(ds_op_run1(DS_OP_CONCAT, 2, (ds_tensor *[]){u, i8}, (ds_attr[]){A_INT(0)}, &out));
    CHECK(out && ds_tensor_dtype(out) == DS_INT16);
    CHECK(same(out, 1, SH(3), (double[]){200, 1, -3}));
    ds_tensor_release(out);
    ds_tensor_release(a);
    ds_tensor_release(b);
    ds_tensor_release(base);
    ds_tensor_release(u);
    ds_tensor_release(i8);
}

DS_TEST(concat_errors) {
    ds_tensor *a = mk(DS_FLOAT32, 2, SH(2, 3), NULL), *b = mk(DS_FLOAT32, 2, SH(3, 4), NULL);
    ds_tensor *c = mk(DS_FLOAT32, 1, SH(3), NULL), *s = mk(DS_FLOAT32, 0, SH(0), NULL), *out = NULL;
    CHECK_ERR(ds_op_run1(DS_OP_CONCAT, 2, (ds_tensor *[]){a, b}, (ds_attr[]){A_INT(1)}, &out), DS_ERR_SHAPE,
              "concat: input 1 has shape [3, 4], expected [2, *]");
    CHECK_ERR(ds_op_run1(DS_OP_CONCAT, 2, (ds_tensor *[]){a, c}, (ds_attr[]){A_INT(0)}, &out), DS_ERR_SHAPE,
              "input 1 has shape [3] (1 dims), expected 2 dims");
    CHECK_ERR(ds_op_run1(DS_OP_CONCAT, 2, (ds_tensor *[]){a, a}, (ds_attr[]){A_INT(2)}, &out), DS_ERR_AXIS,
              "axis 2 is out of bounds for tensor of dimension 2");
    CHECK_ERR(ds_op_run1(DS_OP_CONCAT, 2, (ds_tensor *[]){s, s}, (ds_attr[]){A_INT(0)}, &out), DS_ERR_SHAPE,
              "zero-dimensional tensors cannot be concatenated");
    CHECK_ERR(ds_op_run1(DS_OP_CONCAT, 0, NULL, (ds_attr[]){A_INT(0)}, &out), DS_ERR_VALUE,
              "expected at least one tensor");
    CHECK_ERR(ds_op_run1(DS_OP_STACK, 2, (ds_tensor *[]){a, b}, (ds_attr[]){A_INT(0)}, &out), DS_ERR_SHAPE,
              "stack: input 1 has shape [3, 4], expected [2, 3]");
    CHECK_ERR(ds_op_run1(DS_OP_STACK, 2, (ds_tensor *[]){a, a}, (ds_attr[]){A_INT(-4)}, &out), DS_ERR_AXIS,
              "axis -4 is out of bounds");
    ds_tensor_release(a);
    ds_tensor_release(b);
    ds_tensor_release(c);
    ds_tensor_release(s);
}

DS_TEST(stack_axes) {
    ds_tensor *a = mk(DS_INT64, 1, SH(2), (double[]){1, 2}), *b = mk(DS_INT64, 1, SH(2), (double[]){3, 4});
    ds_tensor *out = NULL;
    CHECK_OK(ds_op_run1(DS_OP_STACK, 2, (ds_tensor *[]){a, b}, (ds_attr[]){A_INT(0)}, &out));
    CHECK(same(out, 2, SH(2, 2), (double[]){1, 2, 3, 4}));
    ds_tensor_release(out);
    CHECK_OK(ds_op_run1(DS_OP_STACK, 2, (ds_tensor *[]){a, b}, (ds_attr[]){A_INT(-1)}, &out));
    CHECK(same(out, 2, SH(2, 2), (double[]){1, 3, 2, 4}));
    ds_tensor_release(out);
    /* a transposed view, stacked on the middle axis with float64 (promotion) */
    ds_tensor *m = mk(DS_INT32, 2, SH(2, 2), (double[]){1, 2, 3, 4}), *mt = perm2(m);
    ds_tensor *f = mk(DS_FLOAT64, 2, SH(2, 2), (double[]){.5, .25, .125, 0});
    CHECK_OK(ds_op_run1(DS_OP_STACK, 2, (ds_tensor *[]){mt, f}, (ds_attr[]){A_INT(1)}, &out));
    CHECK(out && ds_tensor_dtype(out) == DS_FLOAT64);
    CHECK(same(out, 3, SH(2, 2, 2), (double[]){1, 3, .5, .25, 2, 4, .125, 0}));
    ds_tensor_release(out);
    ds_tensor *s0 = mk(DS_BOOL, 0, SH(0), (double[]){1}), *s1 = mk(DS_FLOAT16, 0, SH(0), (double[]){-2});
    CHECK_OK(ds_op_run1(DS_OP_STACK, 2, (ds_tensor *[]){s0, s1}, (ds_attr[]){A_INT(-1)}, &out));
    CHECK(out && ds_tensor_dtype(out) == DS_FLOAT16);
    CHECK(same(out, 1, SH(2), (double[]){1, -2}));
    ds_tensor_release(out);
    ds_tensor_release(s0);
    ds_tensor_release(s1);
    CHECK_OK(ds_op_run1(DS_OP_STACK, 1, (ds_tensor *[]){a}, (ds_attr[]){A_INT(1)}, &out));
    CHECK(same(out, 2, SH(2, 1), (double[]){1, 2}));
    ds_tensor_release(out);
    ds_tensor_release(a);
    ds_tensor_release(b);
    ds_tensor_release(m);
    ds_tensor_release(mt);
    ds_tensor_release(f);
}

DS_TEST(concat_many_inputs) {
    ds_tensor *ins[40];
    double expect[40];
    for (int i = 0; i < 40; i++) {
        ins[i] = mk(DS_FLOAT32, 1, SH(1), (double[]){i * 2.0});
        expect[i] = i * 2.0;
    }
    ds_tensor *out = NULL;
    CHECK_OK(ds_op_run1(DS_OP_CONCAT, 40, ins, (ds_attr[]){A_INT(0)}, &out));
    CHECK(same(out, 1, SH(40), expect));
    ds_tensor_release(out);
    for (int i = 0; i < 40; i++) ds_tensor_release(ins[i]);
}

DS_TEST(split_sizes_and_equal_parts) {
    ds_tensor *x = mk(DS_FLOAT32, 2, SH(5, 2), NULL), *outs[8] = {NULL};
    int n = 0;
    int64_t sz[] = {2, 3};
    CHECK_OK(ds_op_run(DS_OP_SPLIT, 1, &x, (ds_attr[]){A_INTS(sz, 2), A_INT(0)}, 8, outs, &n));
    CHECK(n == 2);
    CHECK(same(outs[0], 2, SH(2, 2), (double[]){0, 1, 2, 3}));
    CHECK(same(outs[1], 2, SH(3, 2), (double[]){4, 5, 6, 7, 8, 9}));
    for (int i = 0; i < n; i++) ds_tensor_release(outs[i]);
    /* one entry k dividing the dim: k equal parts */
    ds_tensor *y = mk(DS_INT64, 2, SH(3, 4), NULL);
    int64_t two[] = {2}, four[] = {4};
    CHECK_OK(ds_op_run(DS_OP_SPLIT, 1, &y, (ds_attr[]){A_INTS(two, 1), A_INT(-1)}, 8, outs, &n));
    CHECK(n == 2);
    CHECK(same(outs[0], 2, SH(3, 2), (double[]){0, 1, 4, 5, 8, 9}));
    CHECK(same(outs[1], 2, SH(3, 2), (double[]){2, 3, 6, 7, 10, 11}));
    for (int i = 0; i < n; i++) ds_tensor_release(outs[i]);
    /* one entry equal to the dim: taken literally (one part) */
    CHECK_OK(ds_op_run(DS_OP_SPLIT, 1, &y, (ds_attr[]){A_INTS(four, 1), A_INT(1)}, 8, outs, &n));
    CHECK(n == 1 && same(outs[0], 2, SH(3, 4), (double[]){0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11}));
    ds_tensor_release(outs[0]);
    /* zero-size parts */
    int64_t z[] = {0, 3, 0};
    CHECK_OK(ds_op_run(DS_OP_SPLIT, 1, &y, (ds_attr[]){A_INTS(z, 3), A_INT(0)}, 8, outs, &n));
    CHECK(n == 3 && ds_tensor_numel(outs[0]) == 0 && ds_tensor_numel(outs[2]) == 0);
    CHECK(same(outs[1], 2, SH(3, 4), (double[]){0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11}));
    for (int i = 0; i < n; i++) ds_tensor_release(outs[i]);
    ds_tensor_release(x);
    ds_tensor_release(y);
}

DS_TEST(split_non_contiguous) {
    ds_tensor *base = mk(DS_INT16, 2, SH(3, 2), NULL), *x = perm2(base), *outs[4] = {NULL};
    int n = 0;
    int64_t sz[] = {1, 2};
    /* x = [[0, 2, 4], [1, 3, 5]] */
    CHECK_OK(ds_op_run(DS_OP_SPLIT, 1, &x, (ds_attr[]){A_INTS(sz, 2), A_INT(1)}, 4, outs, &n));
    CHECK(n == 2);
    CHECK(same(outs[0], 2, SH(2, 1), (double[]){0, 1}));
    CHECK(same(outs[1], 2, SH(2, 2), (double[]){2, 4, 3, 5}));
    CHECK(outs[1] && ds_tensor_is_contiguous(outs[1]) && ds_tensor_dtype(outs[1]) == DS_INT16);
    for (int i = 0; i < n; i++) ds_tensor_release(outs[i]);
    ds_tensor_release(x);
    ds_tensor_release(base);
}

DS_TEST(split_errors) {
    ds_tensor *y = mk(DS_FLOAT32, 2, SH(3, 4), NULL), *s = mk(DS_FLOAT32, 0, SH(0), NULL), *outs[4];
    int n;
    int64_t bad[] = {1, 2}, three[] = {3}, neg[] = {5, -1}, many[] = {100};
    CHECK_ERR(ds_op_run(DS_OP_SPLIT, 1, &y, (ds_attr[]){A_INTS(bad, 2), A_INT(1)}, 4, outs, &n), DS_ERR_VALUE,
              "split: sizes [1, 2] sum to 3, but axis 1 has size 4");
    CHECK_ERR(ds_op_run(DS_OP_SPLIT, 1, &y, (ds_attr[]){A_INTS(three, 1), A_INT(1)}, 4, outs, &n), DS_ERR_VALUE,
              "cannot split axis 1 of size 4 into 3 equal parts");
    CHECK_ERR(ds_op_run(DS_OP_SPLIT, 1, &y, (ds_attr[]){A_INTS(neg, 2), A_INT(1)}, 4, outs, &n), DS_ERR_VALUE,
              "sizes[1] = -1 is negative");
    CHECK_ERR(ds_op_run(DS_OP_SPLIT, 1, &y, (ds_attr[]){A_INTS(bad, 0), A_INT(1)}, 4, outs, &n), DS_ERR_VALUE,
              "non-empty");
    CHECK_ERR(ds_op_run(DS_OP_SPLIT, 1, &y, (ds_attr[]){A_INTS(three, 1), A_INT(2)}, 4, outs, &n), DS_ERR_AXIS,
              "axis 2 is out of bounds");
    CHECK_ERR(ds_op_run(DS_OP_SPLIT, 1, &s, (ds_attr[]){A_INTS(three, 1), A_INT(0)}, 4, outs, &n), DS_ERR_SHAPE,
              "zero-dimensional");
    ds_tensor *big = mk(DS_FLOAT32, 1, SH(200), NULL);
    CHECK_ERR(ds_op_run(DS_OP_SPLIT, 1, &big, (ds_attr[]){A_INTS(many, 1), A_INT(0)}, 4, outs, &n), DS_ERR_VALUE,
              "split into 100 parts, at most 64");
    ds_tensor_release(y);
    ds_tensor_release(s);
    ds_tensor_release(big);
}

DS_TEST(tile_like_numpy) {
    ds_tensor *a = mk(DS_INT8, 1, SH(2), (double[]){1, 2}), *out = NULL;
    int64_t m3[] = {3}, m22[] = {2, 2}, m2[] = {2}, m211[] = {2, 1, 1}, m0[] = {0, 2};
    CHECK_OK(ds_op_run1(DS_OP_TILE, 1, &a, (ds_attr[]){A_INTS(m3, 1)}, &out));
    CHECK(same(out, 1, SH(6), (double[]){1, 2, 1, 2, 1, 2}));
    CHECK(out && ds_tensor_dtype(out) == DS_INT8);
    ds_tensor_release(out);
    CHECK_OK(ds_op_run1(DS_OP_TILE, 1, &a, (ds_attr[]){A_INTS(m22, 2)}, &out));
    CHECK(same(out, 2, SH(2, 4), (double[]){1, 2, 1, 2, 1, 2, 1, 2}));
    ds_tensor_release(out);
    ds_tensor *b = mk(DS_FLOAT32, 2, SH(2, 2), (double[]){1, 2, 3, 4}), *bt = perm2(b);
    CHECK_OK(ds_op_run1(DS_OP_TILE, 1, &b, (ds_attr[]){A_INTS(m2, 1)}, &out)); /* multiples padded: (1, 2) */
    CHECK(same(out, 2, SH(2, 4), (double[]){1, 2, 1, 2, 3, 4, 3, 4}));
    ds_tensor_release(out);
    CHECK_OK(ds_op_run1(DS_OP_TILE, 1, &bt, (ds_attr[]){A_INTS(m211, 3)}, &out)); /* x gains a dim */
    CHECK(same(out, 3, SH(2, 2, 2), (double[]){1, 3, 2, 4, 1, 3, 2, 4}));
    ds_tensor_release(out);
    CHECK_OK(ds_op_run1(DS_OP_TILE, 1, &b, (ds_attr[]){A_INTS(m0, 2)}, &out));
    CHECK(out && ds_tensor_numel(out) == 0 && ds_tensor_shape(out)[0] == 0 && ds_tensor_shape(out)[1] == 4);
    ds_tensor_release(out);
    ds_tensor *s = mk(DS_FLOAT64, 0, SH(0), (double[]){7});
    CHECK_OK(ds_op_run1(DS_OP_TILE, 1, &s, (ds_attr[]){A_INTS(m3, 0)}, &out));
    CHECK(same(out, 0, SH(0), (double[]){7}));
    ds_tensor_release(out);
    CHECK_OK(ds_op_run1(DS_OP_TILE, 1, &s, (ds_attr[]){A_INTS(m3, 1)}, &out));
    CHECK(same(out, 1, SH(3), (double[]){7, 7, 7}));
    ds_tensor_release(out);
    int64_t neg[] = {1, -2}, nine[9] = {1, 1, 1, 1, 1, 1, 1, 1, 1};
    CHECK_ERR(ds_op_run1(DS_OP_TILE, 1, &b, (ds_attr[]){A_INTS(neg, 2)}, &out), DS_ERR_VALUE,
              "tile: multiples[1] = -2 is negative");
    CHECK_ERR(ds_op_run1(DS_OP_TILE, 1, &b, (ds_attr[]){A_INTS(nine, 9)}, &out), DS_ERR_SHAPE, "9 multiples");
    ds_tensor_release(a);
    ds_tensor_release(b);
    ds_tensor_release(bt);
    ds_tensor_release(s);
}

DS_TEST(tile_large) {
    ds_tensor *a = mk(DS_INT32, 2, SH(3, 5), NULL), *out = NULL;
    int64_t m[] = {300, 200};
    CHECK_OK(ds_op_run1(DS_OP_TILE, 1, &a, (ds_attr[]){A_INTS(m, 2)}, &out));
    CHECK(out && ds_tensor_numel(out) == 900 * 1000);
    if (out) {
        const int32_t *p = ds_tensor_data(out);
        bool ok = true;
        for (int64_t i = 0; i < 900 && ok; i++)
            for (int64_t j = 0; j < 1000; j++)
                if (p[i * 1000 + j] != (int32_t)((i % 3) * 5 + j % 5)) ok = false;
        CHECK(ok);
    }
    ds_tensor_release(out);
    ds_tensor_release(a);
}

DS_TEST(pad_constant_and_crop) {
    ds_tensor *x = mk(DS_FLOAT32, 2, SH(2, 2), (double[]){1, 2, 3, 4}), *out = NULL;
    int64_t p1[] = {1, 0, 0, 2}, p2[] = {-1, 0, 0, 1}, p3[] = {0, 0, -2, 1}, p4[] = {-1, -1, 0, 0};
    CHECK_OK(ds_op_run1(DS_OP_PAD, 1, &x, (ds_attr[]){A_INTS(p1, 4), A_F(9)}, &out));
    CHECK(same(out, 2, SH(3, 4), (double[]){9, 9, 9, 9, 1, 2, 9, 9, 3, 4, 9, 9}));
    ds_tensor_release(out);
    CHECK_OK(ds_op_run1(DS_OP_PAD, 1, &x, (ds_attr[]){A_INTS(p2, 4), A_F(0)}, &out));
    CHECK(same(out, 2, SH(1, 3), (double[]){3, 4, 0}));
    ds_tensor_release(out);
    CHECK_OK(ds_op_run1(DS_OP_PAD, 1, &x, (ds_attr[]){A_INTS(p3, 4), A_F(-1)}, &out));
    CHECK(same(out, 2, SH(2, 1), (double[]){-1, -1}));
    ds_tensor_release(out);
    CHECK_OK(ds_op_run1(DS_OP_PAD, 1, &x, (ds_attr[]){A_INTS(p4, 4), A_F(0)}, &out));
    CHECK(out && ds_tensor_numel(out) == 0);
    ds_tensor_release(out);
    /* a transposed int32 view; the value is converted (7.5 -> 7) */
    ds_tensor *xt = perm2(x), *xi = NULL;
    ds_tensor_new(DS_INT32, 2, SH(2, 2), &xi);
    ds_tensor_copy_into(xi, xt); /* [[1, 3], [2, 4]] */
    ds_tensor *xit = perm2(xi); /* [[1, 2], [3, 4]] again, as a view */
    int64_t p5[] = {0, 1, 1, 0};
    CHECK_OK(ds_op_run1(DS_OP_PAD, 1, &xit, (ds_attr[]){A_INTS(p5, 4), A_F(7.5)}, &out));
    CHECK(out && ds_tensor_dtype(out) == DS_INT32);
    CHECK(same(out, 2, SH(3, 3), (double[]){7, 1, 2, 7, 3, 4, 7, 7, 7}));
    ds_tensor_release(out);
    int64_t bad[] = {1, 1}, neg[] = {-2, -1, 0, 0};
    CHECK_ERR(ds_op_run1(DS_OP_PAD, 1, &x, (ds_attr[]){A_INTS(bad, 2), A_F(0)}, &out), DS_ERR_VALUE,
              "pad: paddings must have 2 entries per dim (4 for 2 dims), got 2");
    CHECK_ERR(ds_op_run1(DS_OP_PAD, 1, &x, (ds_attr[]){A_INTS(neg, 4), A_F(0)}, &out), DS_ERR_VALUE,
              "paddings (-2, -1) would make dim 0 of size 2 negative");
    ds_tensor_release(x);
    ds_tensor_release(xt);
    ds_tensor_release(xi);
    ds_tensor_release(xit);
}

/* Every allocation failure inside concat/split/pad is reported as NOMEM and leaks nothing. */
DS_TEST(allocation_failures_do_not_leak) {
    ds_tensor *a = mk(DS_FLOAT32, 2, SH(2, 3), NULL), *bb = mk(DS_INT32, 2, SH(3, 2), NULL), *b = perm2(bb);
    int64_t before = ds_alloc_live_blocks();
    int64_t pads[] = {1, 1, 1, 1}, sz[] = {1, 1};
    for (int which = 0; which < 3; which++) {
        bool succeeded = false;
        for (int64_t k = 1; k < 50 && !succeeded; k++) {
            ds_tensor *outs[4] = {NULL};
            int n = 0;
            ds_alloc_debug_begin(k);
            ds_status st;
            if (which == 0)
                st = ds_op_run1(DS_OP_CONCAT, 2, (ds_tensor *[]){a, b}, (ds_attr[]){A_INT(0)}, &outs[0]);
            else if (which == 1)
                st = ds_op_run1(DS_OP_PAD, 1, &b, (ds_attr[]){A_INTS(pads, 4), A_F(0)}, &outs[0]);
            else st = ds_op_run(DS_OP_SPLIT, 1, &b, (ds_attr[]){A_INTS(sz, 2), A_INT(0)}, 4, outs, &n);
            ds_alloc_debug_begin(0);
            CHECK(st == DS_OK || st == DS_ERR_NOMEM);
            succeeded = st == DS_OK;
            for (int i = 0; i < 4; i++) ds_tensor_release(outs[i]);
            CHECK(ds_alloc_live_blocks() == before);
        }
        CHECK(succeeded);
    }
    ds_tensor_release(a);
    ds_tensor_release(b);
    ds_tensor_release(bb);
}

DS_TEST_MAIN()
