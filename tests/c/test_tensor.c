/* Tests of src/base and src/tensor: errors, allocator hooks, tensors, views, iteration, registry. */
#include <stdlib.h>

#include "ds_test.h"
#include "base/status.h"
#include "tensor/dtype.h"
#include "tensor/iter.h"
#include "tensor/tensor.h"

static ds_tensor *arange_f32(int ndim, const int64_t *shape) {
    ds_tensor *t = NULL;
    if (ds_tensor_new(DS_FLOAT32, ndim, shape, &t)) return NULL;
    float *p = ds_tensor_data(t);
    for (int64_t i = 0; i < ds_tensor_numel(t); i++) p[i] = (float)i;
    return t;
}

DS_TEST(error_message_and_prefix) {
    CHECK(ds_errorf(DS_ERR_SHAPE, "bad %d", 3) == DS_ERR_SHAPE);
    CHECK(strcmp(ds_error_message(), "bad 3") == 0);
    ds_error_prefix("add");
    CHECK(strcmp(ds_error_message(), "add: bad 3") == 0);
    ds_error_prefix("add"); /* not twice */
    CHECK(strcmp(ds_error_message(), "add: bad 3") == 0);
    CHECK(ds_error_status() == DS_ERR_SHAPE);
    ds_error_clear();
    CHECK(ds_error_message()[0] == '\0');
}

DS_TEST(dtype_basics) {
    CHECK(ds_dtype_size(DS_FLOAT16) == 2 && ds_dtype_size(DS_INT64) == 8 && ds_dtype_size(DS_BOOL) == 1);
    ds_dtype d;
    CHECK(ds_dtype_from_name("bfloat16", &d) && d == DS_BFLOAT16);
    CHECK(!ds_dtype_from_name("complex64", &d));
    CHECK(ds_dtype_promote(DS_INT8, DS_UINT8) == DS_INT16);
    CHECK(ds_dtype_promote(DS_FLOAT16, DS_BFLOAT16) == DS_FLOAT32);
    CHECK(ds_dtype_promote(DS_INT64, DS_FLOAT16) == DS_FLOAT16);
    CHECK(ds_dtype_promote(DS_BOOL, DS_INT32) == DS_INT32);
    CHECK(ds_dtype_promote(DS_FLOAT32, DS_FLOAT64) == DS_FLOAT64);
}

DS_TEST(new_and_scalar) {
    int64_t shape[2] = {2, 3};
    ds_tensor *t;
    CHECK_OK(ds_tensor_new_zeros(DS_INT32, 2, shape, &t));
    CHECK(ds_tensor_numel(t) == 6 && ds_tensor_is_contiguous(t));
    CHECK(ds_tensor_strides(t)[0] == 3 && ds_tensor_strides(t)[1] == 1);
    int64_t v;
    CHECK_OK(ds_tensor_get_int(t, 5, &v));
    CHECK(v == 0);
    CHECK_ERR(ds_tensor_get_int(t, 6, &v), DS_ERR_INDEX, "out of bounds");
    ds_tensor_release(t);
    int64_t bad[1] = {-2};
    CHECK_ERR(ds_tensor_new(DS_FLOAT32, 1, bad, &t), DS_ERR_SHAPE, "negative dimension");
    int64_t nine[9] = {1, 1, 1, 1, 1, 1, 1, 1, 1};
    CHECK_ERR(ds_tensor_new(DS_FLOAT32, 9, nine, &t), DS_ERR_SHAPE, "at most 8 dims");
    CHECK_OK(ds_tensor_scalar(DS_FLOAT16, 1.5, &t));
    double x;
    CHECK_OK(ds_tensor_get_double(t, 0, &x));
    CHECK(x == 1.5 && ds_tensor_ndim(t) == 0 && ds_tensor_numel(t) == 1);
    ds_tensor_release(t);
}

DS_TEST(half_conversions) {
    const float vals[] = {0.f, -0.f, 1.f, -2.5f, 65504.f, 6.1035156e-05f, 5.9604645e-08f, 1e-9f, 70000.f, 0.1f};
    const uint16_t bits[] = {0x0000, 0x8000, 0x3c00, 0xc100, 0x7bff, 0x0400, 0x0001, 0x0000, 0x7c00, 0x2e66};
    for (int i = 0; i < 10; i++) {
        CHECK(ds_f32_to_half(vals[i]) == bits[i]);
        if (i != 7 && i != 8 && i != 9) CHECK(ds_half_to_f32(bits[i]) == vals[i]);
    }
    CHECK(ds_f32_to_bf16(1.0f) == 0x3f80);
    CHECK(ds_bf16_to_f32(0x4049) == 3.140625f);
}

DS_TEST(views_share_storage) {
    int64_t shape[2] = {3, 4};
    ds_tensor *t = arange_f32(2, shape), *tt, *s, *e, *u, *q, *sel;
    int perm[2] = {1, 0};
    CHECK_OK(ds_tensor_permute(t, perm, &tt));
    CHECK(ds_tensor_shape(tt)[0] == 4 && ds_tensor_strides(tt)[0] == 1 && !ds_tensor_is_contiguous(tt));
    CHECK(ds_tensor_shares_storage(t, tt));
    double v;
    CHECK_OK(ds_tensor_get_double(tt, 1, &v)); /* tt[0,1] = t[1,0] = 4 */
    CHECK(v == 4.0);
    CHECK_OK(ds_tensor_slice(t, 1, 3, -5, -2, &s)); /* columns 3, 1 */
    CHECK(ds_tensor_shape(s)[1] == 2);
    CHECK_OK(ds_tensor_get_double(s, 1, &v));
    CHECK(v == 1.0);
    CHECK_OK(ds_tensor_get_double(s, 2, &v)); /* s[1,0] = t[1,3] = 7 */
    CHECK(v == 7.0);
    int64_t big[3] = {2, 3, 4};
    CHECK_OK(ds_tensor_expand(t, 3, big, &e));
    CHECK(ds_tensor_strides(e)[0] == 0 && ds_tensor_numel(e) == 24);
    int64_t bad[2] = {3, 5};
    CHECK_ERR(ds_tensor_expand(t, 2, bad, &q), DS_ERR_SHAPE, "cannot broadcast shape [3, 4] to [3, 5]");
    CHECK_OK(ds_tensor_unsqueeze(t, -1, &u));
    CHECK(ds_tensor_ndim(u) == 3 && ds_tensor_shape(u)[2] == 1);
    CHECK_OK(ds_tensor_squeeze(u, -1, &q));
    CHECK(ds_tensor_ndim(q) == 2);
    CHECK_ERR(ds_tensor_squeeze(t, 0, &sel), DS_ERR_SHAPE, "cannot squeeze dimension 0 of size 3");
    CHECK_OK(ds_tensor_select(t, 0, -1, &sel));
    CHECK_OK(ds_tensor_get_double(sel, 0, &v));
    CHECK(v == 8.0 && ds_tensor_ndim(sel) == 1);
    ds_tensor_release(sel);
    CHECK_ERR(ds_tensor_select(t, 0, 3, &sel), DS_ERR_INDEX, "index 3 is out of bounds for axis 0 with size 3");
    CHECK_ERR(ds_tensor_slice(t, 0, 0, 3, 0, &sel), DS_ERR_VALUE, "slice step cannot be zero");
    ds_tensor_release(t); /* views keep the storage alive */
    CHECK_OK(ds_tensor_get_double(tt, 11, &v));
    CHECK(v == 11.0);
    ds_tensor *all[] = {tt, s, e, u, q};
    for (int i = 0; i < 5; i++) ds_tensor_release(all[i]);
}

DS_TEST(reshape_views_and_copies) {
    int64_t shape[2] = {3, 4};
    ds_tensor *t = arange_f32(2, shape), *r, *tt, *r2;
    int64_t to[3] = {2, -1, 3};
    CHECK_OK(ds_tensor_reshape(t, 3, to, &r));
    CHECK(ds_tensor_shape(r)[1] == 2 && ds_tensor_shares_storage(t, r));
    int perm[2] = {1, 0};
    CHECK_OK(ds_tensor_permute(t, perm, &tt));
    int64_t flat[1] = {12};
    CHECK_OK(ds_tensor_reshape(tt, 1, flat, &r2)); /* a transposed tensor cannot be flattened as a view */
    CHECK(!ds_tensor_shares_storage(t, r2));
    double v;
    CHECK_OK(ds_tensor_get_double(r2, 1, &v));
    CHECK(v == 4.0);
    ds_tensor_release(r2);
    int64_t bad[2] = {5, -1};
    CHECK_ERR(ds_tensor_reshape(t, 2, bad, &r2), DS_ERR_SHAPE, "cannot reshape tensor of shape [3, 4] (12 elements) into shape [5, -1]");
    ds_tensor_release(r);
    ds_tensor_release(tt);
    ds_tensor_release(t);
}

DS_TEST(contiguous_and_copy_into) {
    int64_t shape[2] = {3, 4};
    ds_tensor *t = arange_f32(2, shape), *tt, *c, *d;
    int perm[2] = {1, 0};
    CHECK_OK(ds_tensor_permute(t, perm, &tt));
    CHECK_OK(ds_tensor_contiguous(tt, &c));
    CHECK(ds_tensor_is_contiguous(c) && !ds_tensor_shares_storage(c, t));
    const float *p = ds_tensor_data(c);
    CHECK(p[0] == 0 && p[1] == 4 && p[2] == 8 && p[3] == 1);
    CHECK_OK(ds_tensor_new(DS_INT64, 2, shape, &d));
    CHECK_OK(ds_tensor_copy_into(d, t)); /* converts float32 -> int64 */
    CHECK(((int64_t *)ds_tensor_data(d))[11] == 11);
    ds_tensor *same;
    CHECK_OK(ds_tensor_contiguous(t, &same));
    CHECK(same == t);
    ds_tensor_release(same);
    ds_tensor *all[] = {t, tt, c, d};
    for (int i = 0; i < 4; i++) ds_tensor_release(all[i]);
}

DS_TEST(wrap_external_memory) {
    float buf[6] = {1, 2, 3, 4, 5, 6};
    int64_t shape[2] = {2, 3}, strides[2] = {1, 2}; /* column-major view */
    ds_tensor *t;
    CHECK_OK(ds_tensor_wrap(DS_FLOAT32, 2, shape, strides, buf, NULL, NULL, &t));
    double v;
    CHECK_OK(ds_tensor_get_double(t, 1, &v)); /* t[0,1] = buf[2] */
    CHECK(v == 3.0 && !ds_tensor_is_contiguous(t));
    ds_tensor_release(t);
}

typedef struct sum_ctx {
    double total;
    int64_t calls;
} sum_ctx;

static void sum_loop(char **args, const int64_t *steps, int64_t n, void *ctx) {
    sum_ctx *s = ctx;
    for (int64_t i = 0; i < n; i++) s->total += *(const float *)(args[0] + i * steps[0]);
    s->calls++;
}

DS_TEST(iter_coalesces_and_broadcasts) {
    int64_t shape[3] = {2, 3, 4};
    ds_tensor *t = arange_f32(3, shape);
    ds_iter it;
    CHECK_OK(ds_iter_init(&it, 1, &t, 3, shape));
    CHECK(it.ndim == 1 && it.numel == 24);
    sum_ctx s = {0, 0};
    ds_iter_run(&it, sum_loop, &s, 1);
    CHECK(s.total == 276.0 && s.calls == 1);
    int64_t b[3] = {5, 2, 3};
    ds_tensor *x;
    int64_t xs[2] = {2, 3};
    CHECK_OK(ds_tensor_new_zeros(DS_FLOAT32, 2, xs, &x));
    CHECK_OK(ds_iter_init(&it, 1, &x, 3, b));
    CHECK(it.ndim == 2 && it.strides[0][0] == 0);
    int64_t bad[2] = {3, 3};
    CHECK_ERR(ds_iter_init(&it, 1, &x, 2, bad), DS_ERR_SHAPE, "shape [2, 3] cannot be broadcast to [3, 3]");
    ds_tensor_release(x);
    ds_tensor_release(t);
}

DS_TEST(iter_parallel_matches_serial) {
    int64_t shape[2] = {1000, 1001};
    ds_tensor *t = arange_f32(2, shape), *tt;
    int perm[2] = {1, 0};
    CHECK_OK(ds_tensor_permute(t, perm, &tt));
    ds_tensor *c;
    CHECK_OK(ds_tensor_contiguous(tt, &c)); /* the copy runs on the pool */
    const float *p = ds_tensor_data(c);
    int bad = 0;
    for (int64_t i = 0; i < 1001 && !bad; i++)
        for (int64_t j = 0; j < 1000; j++)
            if (p[i * 1000 + j] != (float)(j * 1001 + i)) bad = 1;
    CHECK(!bad);
    ds_tensor_release(c);
    ds_tensor_release(tt);
    ds_tensor_release(t);
}

DS_TEST(registry_complete) {
    for (int op = 0; op < DS_OP_COUNT; op++) {
        const ds_op_info *info = ds_op_get_info((ds_op_id)op);
        CHECK(info && info->name && info->prim);
        if (!ds_op_is_implemented((ds_op_id)op)) {
            printf("  op %s has no implementation\n", info->name);
            *ds_failed_ = 1;
        }
    }
    CHECK(ds_op_lookup("matmul") == DS_OP_MATMUL);
    CHECK(ds_op_lookup("nope") == DS_OP_COUNT);
    CHECK(strcmp(ds_op_attr_name(DS_OP_SUM, 1), "keepdims") == 0);
    CHECK(ds_op_get_info(DS_OP_SUM)->n_attrs == 2);
}

DS_TEST(dispatch_errors) {
    int64_t shape[1] = {3};
    ds_tensor *a = arange_f32(1, shape), *out;
    ds_tensor *in[2] = {a, a};
    CHECK_ERR(ds_op_run1(DS_OP_ADD, 1, in, NULL, &out), DS_ERR_VALUE, "add: expected 2 inputs, got 1");
    CHECK_ERR(ds_op_run1(DS_OP_RESHAPE, 1, in, NULL, &out), DS_ERR_VALUE, "reshape: missing required attribute 'shape'");
    ds_attr bad = {.kind = DS_ATTR_DTYPE, .v.dtype = DS_INT8};
    CHECK_ERR(ds_op_run1(DS_OP_RESHAPE, 1, in, &bad, &out), DS_ERR_DTYPE, "attribute 'shape' must be ints, got dtype");
    int64_t r[2] = {3, 1};
    ds_attr ok = {.kind = DS_ATTR_INTS, .n = 2, .v.ints = r};
    CHECK_OK(ds_op_run1(DS_OP_RESHAPE, 1, in, &ok, &out));
    CHECK(ds_tensor_ndim(out) == 2 && ds_tensor_shares_storage(out, a));
    ds_tensor_release(out);
    ds_tensor_release(a);
}

/* Allocation-failure sweep: every allocation in creation and dispatch may fail; each failure must
 * surface as DS_ERR_NOMEM and leak nothing. */
static ds_status workload(void) {
    int64_t shape[2] = {64, 33};
    ds_tensor *a = NULL, *b = NULL, *c = NULL, *d = NULL, *e = NULL;
    ds_status st;
    DS_TRY(ds_tensor_new_zeros(DS_FLOAT32, 2, shape, &a));
    DS_TRY(ds_tensor_scalar(DS_FLOAT32, 2.0, &b));
    ds_tensor *in[2] = {a, b};
    DS_TRY(ds_op_run1(DS_OP_MUL, 2, in, NULL, &c));
    ds_attr none = {.kind = DS_ATTR_NONE};
    DS_TRY(ds_op_run1(DS_OP_TRANSPOSE, 1, &c, &none, &d));
    DS_TRY(ds_tensor_contiguous(d, &e));
fail:
    ds_tensor_release(a);
    ds_tensor_release(b);
    ds_tensor_release(c);
    ds_tensor_release(d);
    ds_tensor_release(e);
    return st;
}

DS_TEST(alloc_failure_sweep) {
    int64_t base = ds_alloc_live_blocks();
    CHECK_OK(workload()); /* warm up lazily created state (registry, pool) */
    base = ds_alloc_live_blocks();
    ds_alloc_debug_begin(0);
    CHECK_OK(workload());
    int64_t total = ds_alloc_debug_count();
    CHECK(total > 3);
    for (int64_t k = 1; k <= total; k++) {
        ds_alloc_debug_begin(k);
        ds_status st = workload();
        CHECK(st == DS_ERR_NOMEM);
        CHECK(ds_alloc_live_blocks() == base);
    }
    ds_alloc_debug_begin(0);
}

DS_TEST_MAIN()
