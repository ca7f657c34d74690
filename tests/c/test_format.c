/* ds_tensor_format: golden strings from NumPy's str() (format_cases.h, written by
 * gen_format_cases.py), the seed examples, the float scalar helper, the string buffer, error paths
 * and allocation failures. */
#include <stdint.h>
#include <stdlib.h>

#include "base/strbuf.h"
#include "ds_test.h"
#include "format_cases.h"
#include "tensor/dtype.h"
#include "tensor/format.h"
#include "tensor/tensor.h"

/* Base elements a case does not list get a value that would change the output if it were shown. */
static void store_poison(ds_dtype dt, void *p) {
    switch (dt) {
    case DS_BOOL: ds_dtype_store_int(dt, p, 1); break;
    case DS_INT8: ds_dtype_store_int(dt, p, INT8_MIN); break;
    case DS_UINT8: ds_dtype_store_int(dt, p, UINT8_MAX); break;
    case DS_INT16: ds_dtype_store_int(dt, p, INT16_MIN); break;
    case DS_INT32: ds_dtype_store_int(dt, p, INT32_MIN); break;
    case DS_INT64: ds_dtype_store_int(dt, p, INT64_MIN); break;
    default: ds_dtype_store_double(dt, p, NAN); break;
    }
}

/* The case's view over a fresh base buffer that the tensor frees when it dies. */
static ds_status make_case(const fmt_case *c, ds_tensor **out) {
    size_t es = ds_dtype_size(c->dtype);
    char *base = malloc((size_t)(c->nbase ? c->nbase : 1) * es);
    if (!base) return ds_errorf(DS_ERR_NOMEM, "test: malloc");
    for (int64_t i = 0; i < c->nbase; i++) store_poison(c->dtype, base + i * es);
    for (int64_t k = 0; k < c->nvals; k++) {
        char *p = base + (c->idx ? c->idx[k] : k) * (int64_t)es;
        if (c->fvals) ds_dtype_store_double(c->dtype, p, c->fvals[k]);
        else ds_dtype_store_int(c->dtype, p, c->ivals[k]);
    }
    ds_status st = ds_tensor_wrap(c->dtype, c->ndim, c->shape, c->strides,
                                  base + c->offset * (int64_t)es, free, base, out);
    if (st != DS_OK) free(base);
    return st;
}

/* Formats t and compares with `want`, printing both on a mismatch. */
static int check_format(const char *name, const ds_tensor *t, const char *want) {
    char *got = NULL;
    ds_status st = ds_tensor_format(t, &got);
    if (st != DS_OK) {
        printf("  %s: ds_tensor_format failed: %s\n", name, ds_error_message());
        return 0;
    }
    int ok = strcmp(got, want) == 0;
    if (!ok) printf("  %s:\n--- expected\n%s\n--- got\n%s\n---\n", name, want, got);
    ds_free(got);
    return ok;
}

DS_TEST(format_golden_numpy_cases) {
    int bad = 0;
    for (int i = 0; i < FMT_NCASES; i++) {
        const fmt_case *c = &k_fmt_cases[i];
        ds_tensor *t = NULL;
        CHECK_OK(make_case(c, &t));
        if (!t) continue;
        if (!check_format(c->name, t, c->expected) && ++bad > 20) {
            printf("  (stopping after 20 mismatches)\n");
            ds_tensor_release(t);
            break;
        }
        ds_tensor_release(t);
    }
    CHECK(bad == 0);
}

DS_TEST(format_seed_full_2) {
    int64_t shape[4] = {1, 3, 3, 4};
    ds_tensor *t = NULL;
    CHECK_OK(ds_tensor_new(DS_FLOAT32, 4, shape, &t));
    if (!t) return;
    for (int i = 0; i < 36; i++) ((float *)ds_tensor_data(t))[i] = 2.0f;
    const char *want = "[[[[2. 2. 2. 2.]\n"
                       "   [2. 2. 2. 2.]\n"
                       "   [2. 2. 2. 2.]]\n\n"
                       "  [[2. 2. 2. 2.]\n"
                       "   [2. 2. 2. 2.]\n"
                       "   [2. 2. 2. 2.]]\n\n"
                       "  [[2. 2. 2. 2.]\n"
                       "   [2. 2. 2. 2.]\n"
                       "   [2. 2. 2. 2.]]]]";
    CHECK(check_format("seed_full_2", t, want));
    ds_tensor_release(t);
}

DS_TEST(format_seed_902) {
    float v[6] = {9.02f, 5.4f, 7.2000003f, 9.02f, 5.4f, 7.2000003f};
    int64_t shape[2] = {2, 3};
    ds_tensor *t = NULL;
    CHECK_OK(ds_tensor_from_data(DS_FLOAT32, 2, shape, v, &t));
    if (!t) return;
    CHECK(check_format("seed_902", t,
                       "[[9.02      5.4       7.2000003]\n [9.02      5.4       7.2000003]]"));
    ds_tensor_release(t);
}

DS_TEST(format_scalars_and_views) {
    ds_tensor *t = NULL;
    CHECK_OK(ds_tensor_scalar(DS_FLOAT32, 2.0, &t));
    if (t) CHECK(check_format("scalar_f32", t, "2.0"));
    ds_tensor_release(t);
    t = NULL;
    CHECK_OK(ds_tensor_scalar_int(DS_INT64, -7, &t));
    if (t) CHECK(check_format("scalar_i64", t, "-7"));
    ds_tensor_release(t);

    /* a permuted view made by the library itself */
    double v[6] = {1, 2, 3, 4, 5, 6.5};
    int64_t shape[2] = {2, 3};
    int perm[2] = {1, 0};
    ds_tensor *a = NULL, *p = NULL;
    CHECK_OK(ds_tensor_from_data(DS_FLOAT64, 2, shape, v, &a));
    if (a) CHECK_OK(ds_tensor_permute(a, perm, &p));
    if (p) CHECK(check_format("permute", p, "[[1.  4. ]\n [2.  5. ]\n [3.  6.5]]"));
    ds_tensor_release(p);
    ds_tensor_release(a);
}

DS_TEST(format_float_scalar_helper) {
    char b[32];
    const size_t n = sizeof b;
    CHECK(ds_format_float_scalar(DS_FLOAT32, 7.2000003f, b, n) == 9 && !strcmp(b, "7.2000003"));
    CHECK(ds_format_float_scalar(DS_FLOAT16, 0.0999755859375, b, n) == 3 && !strcmp(b, "0.1"));
    CHECK(ds_format_float_scalar(DS_FLOAT64, 0.1 + 0.2, b, n) == 19 &&
          !strcmp(b, "0.30000000000000004"));
    CHECK(ds_format_float_scalar(DS_BFLOAT16, 0.10009765625, b, n) == 3 && !strcmp(b, "0.1"));
    CHECK(ds_format_float_scalar(DS_BFLOAT16, 300.0, b, n) == 5 && !strcmp(b, "3e+02"));
    CHECK(ds_format_float_scalar(DS_FLOAT64, 1e-5, b, n) == 5 && !strcmp(b, "1e-05"));
    CHECK(ds_format_float_scalar(DS_FLOAT64, -INFINITY, b, n) == 4 && !strcmp(b, "-inf"));
    /* truncation keeps the full length as the result */
    CHECK(ds_format_float_scalar(DS_FLOAT64, 0.1 + 0.2, b, 5) == 19 && !strcmp(b, "0.30"));
    CHECK(ds_format_float_scalar(DS_FLOAT64, 1.5, NULL, 0) == 3);
}

DS_TEST(format_errors) {
    char *s = (char *)"untouched";
    CHECK_ERR(ds_tensor_format(NULL, &s), DS_ERR_VALUE, "NULL");
    CHECK(!strcmp(s, "untouched"));
    int64_t shape[2] = {2, 3};
    ds_tensor *t = NULL;
    CHECK_OK(ds_tensor_new_declared(DS_FLOAT32, 2, shape, &t));
    if (t) {
        CHECK_ERR(ds_tensor_format(t, NULL), DS_ERR_VALUE, "NULL");
        CHECK_ERR(ds_tensor_format(t, &s), DS_ERR_VALUE, "no data");
        CHECK(!strcmp(s, "untouched"));
    }
    ds_tensor_release(t);
    int64_t unknown[2] = {-1, 3};
    t = NULL;
    CHECK_OK(ds_tensor_new_declared(DS_FLOAT32, 2, unknown, &t));
    if (t) CHECK_ERR(ds_tensor_format(t, &s), DS_ERR_VALUE, "unknown");
    ds_tensor_release(t);
}

/* Every allocation the formatter makes may fail: it must report DS_ERR_NOMEM, leave *out alone and
 * leak nothing, and succeed once the failures run out. */
DS_TEST(format_allocation_failures) {
    static const char *names[] = {"summ_f64_3d", "wrap_f64_rand", "float32_0d_0", "empty_0x3"};
    for (size_t n = 0; n < sizeof names / sizeof names[0]; n++) {
        const fmt_case *c = NULL;
        for (int i = 0; i < FMT_NCASES; i++)
            if (!strcmp(k_fmt_cases[i].name, names[n])) c = &k_fmt_cases[i];
        CHECK(c != NULL);
        if (!c) continue;
        ds_tensor *t = NULL;
        CHECK_OK(make_case(c, &t));
        if (!t) continue;
        int64_t live = ds_alloc_live_blocks();
        int done = 0;
        for (int64_t k = 1; k < 100 && !done; k++) {
            char *s = (char *)"untouched";
            ds_alloc_debug_begin(k);
            ds_status st = ds_tensor_format(t, &s);
            ds_alloc_debug_begin(0);
            if (st == DS_OK) {
                CHECK(!strcmp(s, c->expected));
                ds_free(s);
                done = 1;
            } else {
                CHECK(st == DS_ERR_NOMEM && !strcmp(s, "untouched"));
                CHECK(ds_alloc_live_blocks() == live);
            }
        }
        CHECK(done);
        CHECK(ds_alloc_live_blocks() == live);
        ds_tensor_release(t);
    }
}

DS_TEST(strbuf_basics) {
    ds_strbuf sb;
    ds_strbuf_init(&sb);
    char *s = NULL;
    CHECK_OK(ds_strbuf_finish(&sb, &s)); /* nothing appended: "" */
    CHECK(s && s[0] == '\0');
    ds_free(s);
    ds_strbuf_init(&sb);
    CHECK_OK(ds_strbuf_puts(&sb, "ab"));
    CHECK_OK(ds_strbuf_putc(&sb, 'c'));
    CHECK_OK(ds_strbuf_fill(&sb, '-', 3));
    CHECK_OK(ds_strbuf_printf(&sb, "%d|%s", 42, "x"));
    CHECK(sb.len == 10 && !strcmp(sb.data, "abc---42|x"));
    ds_strbuf_truncate(&sb, 3);
    CHECK(!strcmp(sb.data, "abc"));
    char big[1000];
    memset(big, 'z', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    CHECK_OK(ds_strbuf_printf(&sb, "%s!", big)); /* longer than the printf scratch buffer */
    CHECK(sb.len == 3 + 999 + 1 && sb.data[sb.len - 1] == '!' && sb.data[sb.len] == '\0');
    s = NULL;
    CHECK_OK(ds_strbuf_finish(&sb, &s));
    CHECK(s && strlen(s) == 1003);
    ds_free(s);
    CHECK(sb.data == NULL && sb.len == 0);

    /* a failed growth is sticky and finish reports it */
    int64_t live = ds_alloc_live_blocks();
    ds_strbuf_init(&sb);
    ds_alloc_debug_begin(1);
    CHECK(ds_strbuf_puts(&sb, "x") == DS_ERR_NOMEM);
    ds_alloc_debug_begin(0);
    CHECK(ds_strbuf_puts(&sb, "y") == DS_ERR_NOMEM);
    s = (char *)"untouched";
    CHECK(ds_strbuf_finish(&sb, &s) == DS_ERR_NOMEM && !strcmp(s, "untouched"));
    CHECK(ds_alloc_live_blocks() == live);
}

DS_TEST_MAIN()
