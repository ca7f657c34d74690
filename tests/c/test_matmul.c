/* Tests for GEMM (src/kernels/gemm.c) and the MATMUL op (src/ops/matmul.c): the builtin kernels of
 * every ISA and the BLAS path against a naive triple loop, and matmul's NumPy semantics (1-D
 * promotion, batch broadcasting, transposes, views, dtypes, errors). */
#include <stdlib.h>

#include "base/threadpool.h"
#include "ds_test.h"
#include "kernels/gemm.h"
#include "tensor/dtype.h"
#include "tensor/tensor.h"

#define SH(...) ((const int64_t[]){__VA_ARGS__})

static uint64_t g_rng = 0x9E3779B97F4A7C15ull;
static double urand(void) {
    g_rng ^= g_rng << 13, g_rng ^= g_rng >> 7, g_rng ^= g_rng << 17;
    return (double)(g_rng >> 11) / 9007199254740992.0;
}
static int64_t irand(int64_t lo, int64_t hi) { return lo + (int64_t)(urand() * (double)(hi - lo + 1)); }

/* ---------------------------------------------------------------- GEMM */
/* c = alpha * op(a) op(b) + beta * c in long double (beta == 0: c not read). */
static void naive(bool ta, bool tb, int64_t m, int64_t n, int64_t k, double alpha, const double *a,
                  int64_t lda, const double *b, int64_t ldb, double beta, double *c, int64_t ldc) {
    for (int64_t i = 0; i < m; i++)
        for (int64_t j = 0; j < n; j++) {
            long double s = 0;
            for (int64_t p = 0; p < k; p++)
                s += (long double)(ta ? a[p * lda + i] : a[i * lda + p]) * (tb ? b[j * ldb + p] : b[p * ldb + j]);
            c[i * ldc + j] = (double)(alpha * s + (beta != 0 ? beta * c[i * ldc + j] : 0));
        }
}

typedef enum { BUILTIN, DEFAULT, SKINNY } which_gemm;

/* Runs one random GEMM in f32 or f64 and compares with the naive loop; returns false on mismatch. */
static bool gemm_case(which_gemm which, bool f64, bool ta, bool tb, int64_t m, int64_t n, int64_t k,
                      double alpha, double beta, int pad) {
    int64_t ar = ta ? k : m, ac = ta ? m : k, br = tb ? n : k, bc = tb ? k : n;
    int64_t lda = ac + pad, ldb = bc + pad, ldc = n + pad;
    size_t na = (size_t)(ar * lda), nb = (size_t)(br * ldb), nc = (size_t)(m * ldc);
    double *a = malloc(8 * na + 8), *b = malloc(8 * nb + 8), *c = malloc(8 * nc + 8), *r = malloc(8 * nc + 8);
    void *a2 = malloc(8 * na + 8), *b2 = malloc(8 * nb + 8), *c2 = malloc(8 * nc + 8);
    for (size_t i = 0; i < na; i++) a[i] = f64 ? urand() - 0.5 : (float)(urand() - 0.5);
    for (size_t i = 0; i < nb; i++) b[i] = f64 ? urand() - 0.5 : (float)(urand() - 0.5);
    for (size_t i = 0; i < nc; i++) c[i] = r[i] = beta == 0 ? NAN : (f64 ? urand() : (float)urand());
    for (size_t i = 0; i < na; i++) f64 ? (((double *)a2)[i] = a[i]) : (((float *)a2)[i] = (float)a[i]);
    for (size_t i = 0; i < nb; i++) f64 ? (((double *)b2)[i] = b[i]) : (((float *)b2)[i] = (float)b[i]);
    for (size_t i = 0; i < nc; i++) f64 ? (((double *)c2)[i] = c[i]) : (((float *)c2)[i] = (float)c[i]);
    naive(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, r, ldc);
    ds_status st;
    if (f64)
        st = (which == BUILTIN ? ds_gemm_f64_builtin : ds_gemm_f64)(ta, tb, m, n, k, alpha, a2, lda, b2, ldb, beta, c2, ldc);
    else
        st = (which == BUILTIN  ? ds_gemm_f32_builtin
              : which == SKINNY ? ds_gemm_f32_skinny
                                : ds_gemm_f32)(ta, tb, m, n, k, (float)alpha, a2, lda, b2, ldb, (float)beta, c2, ldc);
    bool ok = st == DS_OK;
    double tol = (f64 ? 1e-13 : 2e-6) * (double)(k + 2);
    for (int64_t i = 0; i < m && ok; i++)
        for (int64_t j = 0; j < n + pad && ok; j++) {
            double got = f64 ? ((double *)c2)[i * ldc + j] : ((float *)c2)[i * ldc + j];
            double want = r[i * ldc + j];
            if (j >= n) { /* padding must be untouched */
                ok = (isnan(want) && isnan(got)) || got == (f64 ? want : (float)want);
            } else {
                ok = fabs(got - want) <= tol;
            }
            if (!ok)
                printf("  %s %s ta=%d tb=%d m=%lld n=%lld k=%lld alpha=%g beta=%g: c[%lld,%lld] = %.9g, want %.9g\n",
                       which == DEFAULT ? ds_blas_backend() : ds_gemm_builtin_isa(), f64 ? "f64" : "f32", ta, tb,
                       (long long)m, (long long)n, (long long)k, alpha, beta, (long long)i, (long long)j, got, want);
        }
    free(a), free(b), free(c), free(r), free(a2), free(b2), free(c2);
    return ok;
}

DS_TEST(gemm_builtin_all_isas_odd_sizes) {
    const char *isas[] = {"generic", "avx2", "avx512"};
    for (int ii = 0; ii < 3; ii++) {
        if (!ds_gemm_builtin_force_isa(isas[ii])) continue;
        int bad = 0;
        for (int t = 0; t < 160 && bad < 3; t++) {
            int64_t m = irand(1, 67), n = irand(1, 67), k = irand(1, 67);
            if (t < 8) m = n = k = 1 + t * 9; /* 1, 10, ..., 64 */
            bool ta = t & 1, tb = (t >> 1) & 1, f64 = (t >> 2) & 1;
            double alpha = t % 5 == 0 ? 1.0 : urand() * 2 - 1, beta = t % 3 == 0 ? 0.0 : (t % 3 == 1 ? 1.0 : 0.5);
            if (!gemm_case(BUILTIN, f64, ta, tb, m, n, k, alpha, beta, t % 4)) bad++;
        }
        CHECK(bad == 0);
        /* large enough to be split into tasks over the pool, several K slices */
        CHECK(gemm_case(BUILTIN, false, false, false, 257, 263, 300, 1.0, 0.0, 0));
        CHECK(gemm_case(BUILTIN, true, true, true, 131, 301, 517, -0.5, 0.5, 1));
    }
    ds_gemm_builtin_force_isa(NULL);
    CHECK(!ds_gemm_builtin_force_isa("sse9"));
}

DS_TEST(gemm_default_backend_matches) {
    const char *be = ds_blas_backend();
    CHECK(!strcmp(be, "openblas") || !strcmp(be, "cblas") || !strcmp(be, "builtin"));
    for (int t = 0; t < 40; t++) {
        int64_t m = irand(1, 90), n = irand(1, 90), k = irand(1, 90);
        CHECK(gemm_case(DEFAULT, t & 4, t & 1, t & 2, m, n, k, 1.5, t % 3 == 0 ? 0.0 : 2.0, t % 2));
    }
    /* big enough for the BLAS path to split the call over the pool (both by rows and by columns) */
    CHECK(gemm_case(DEFAULT, false, false, true, 400, 150, 300, 1.0, 0.0, 0));
    CHECK(gemm_case(DEFAULT, true, true, false, 120, 333, 200, 1.0, 1.0, 3));
    /* degenerate: k == 0 scales C by beta; alpha == 0 reads neither A nor B */
    float c[4] = {1, 2, 3, 4}, a[1] = {NAN}, b[1] = {NAN};
    CHECK_OK(ds_gemm_f32(false, false, 2, 2, 0, 1.0f, a, 1, b, 2, 0.5f, c, 2));
    CHECK(c[0] == 0.5f && c[3] == 2.0f);
    CHECK_OK(ds_gemm_f32_builtin(false, false, 2, 2, 0, 1.0f, a, 1, b, 2, 0.0f, c, 2));
    CHECK(c[0] == 0 && c[3] == 0);
}

/* A random skinny-path shape: m or k small (with trans_b: m small, n >= 32). */
static void skinny_shape(int t, bool tb, int64_t *m, int64_t *n, int64_t *k) {
    bool small_m = tb || t % 3 != 0;
    *m = small_m ? irand(1, 64) : irand(65, 150);
    *k = small_m ? irand(1, 300) : irand(1, 64);
    *n = tb ? irand(32, 140) : irand(1, 140);
}

DS_TEST(gemm_skinny_against_naive) {
    const char *isas[] = {"avx2", "avx512"};
    for (int ii = 0; ii < 2; ii++) {
        if (!ds_gemm_builtin_force_isa(isas[ii])) continue;
        int bad = 0, tried = 0;
        for (int t = 0; t < 400 && bad < 3; t++) {
            bool ta = t & 1, tb = (t >> 1) & 1;
            int64_t m, n, k;
            skinny_shape(t, tb, &m, &n, &k);
            if (t < 16) { /* edges: vector widths, tile heights and their remainders */
                int64_t ms[] = {1, 7, 8, 9, 15, 16, 17, 31, 32, 33, 47, 48, 49, 63, 64, 12};
                m = ms[t], n = 32 + t * 7, k = 1 + t * 5;
            }
            if (!ds_gemm_skinny_ok(ta, tb, m, n, k)) continue;
            tried++;
            double alpha = t % 5 == 0 ? 1.0 : urand() * 2 - 1, beta = t % 3 == 0 ? 0.0 : (t % 3 == 1 ? 1.0 : 0.5);
            if (!gemm_case(SKINNY, false, ta, tb, m, n, k, alpha, beta, t % 4)) bad++;
        }
        CHECK(bad == 0);
        CHECK(tried > 100);
        /* big enough to be split over the pool; a copied V block (rows a page apart); both orders of
         * tasks (few rows of C: along them; many: down them) */
        const int64_t big[][5] = {{0, 0, 32, 300, 1100}, {1, 0, 500, 800, 32}, {0, 1, 32, 512, 784},
                                  {1, 1, 50, 700, 300}, {0, 0, 7, 1000, 16}, {1, 0, 16, 2000, 64}};
        for (int b = 0; b < 6; b++)
            if (ds_gemm_skinny_ok(big[b][0], big[b][1], big[b][2], big[b][3], big[b][4]))
                CHECK(gemm_case(SKINNY, false, big[b][0], big[b][1], big[b][2], big[b][3], big[b][4],
                                b % 2 ? 1.0 : -0.5, b % 3 ? 0.0 : 0.5, b % 4));
    }
    CHECK(ds_gemm_builtin_force_isa("generic"));
    CHECK(!ds_gemm_skinny_ok(false, false, 32, 512, 784)); /* no SIMD kernels: BLAS or builtin */
    ds_gemm_builtin_force_isa(NULL);
    CHECK(!ds_gemm_skinny_ok(false, true, 32, 10, 784));   /* nt: too few columns */
    CHECK(!ds_gemm_skinny_ok(false, true, 65, 512, 784));  /* nt: m too big */
    CHECK(!ds_gemm_skinny_ok(false, false, 100, 100, 100)); /* neither m nor k small */
    CHECK(!ds_gemm_skinny_ok(false, false, 32, 100, 0));
    float c1 = 7;
    CHECK(ds_gemm_f32_skinny(false, false, 1, 1, 0, 1.0f, &c1, 1, &c1, 1, 0.0f, &c1, 1) == DS_ERR_INTERNAL);
    CHECK(c1 == 7);
}

/* Every element is one FMA chain over k in order: the same bits whatever the thread split or ISA. */
DS_TEST(gemm_skinny_is_deterministic) {
    const int64_t shapes[][5] = {{0, 1, 32, 512, 784}, {1, 0, 512, 784, 32}, {0, 0, 32, 512, 256}, {1, 1, 40, 300, 200},
                                 {0, 0, 5, 3000, 1500}};
    for (int s = 0; s < 5; s++) {
        bool ta = shapes[s][0], tb = shapes[s][1];
        int64_t m = shapes[s][2], n = shapes[s][3], k = shapes[s][4];
        if (!ds_gemm_skinny_ok(ta, tb, m, n, k)) continue;
        int64_t na = m * k, nb = k * n;
        float *a = malloc(4 * (size_t)na), *b = malloc(4 * (size_t)nb), *c[3];
        for (int64_t i = 0; i < na; i++) a[i] = (float)(urand() - 0.5);
        for (int64_t i = 0; i < nb; i++) b[i] = (float)(urand() - 0.5);
        int threads = ds_get_num_threads();
        const char *isas[3] = {NULL, NULL, "avx2"};
        for (int r = 0; r < 3; r++) {
            c[r] = malloc(4 * (size_t)(m * n));
            ds_set_num_threads(r == 1 ? 1 : (threads > 1 ? threads : 2));
            bool have = ds_gemm_builtin_force_isa(isas[r]);
            if (have && ds_gemm_skinny_ok(ta, tb, m, n, k))
                CHECK_OK(ds_gemm_f32_skinny(ta, tb, m, n, k, 1.0f, a, ta ? m : k, b, tb ? k : n, 0.0f, c[r], n));
            else
                memcpy(c[r], c[0], 4 * (size_t)(m * n));
        }
        ds_set_num_threads(threads);
        ds_gemm_builtin_force_isa(NULL);
        CHECK(memcmp(c[0], c[1], 4 * (size_t)(m * n)) == 0);
        CHECK(memcmp(c[0], c[2], 4 * (size_t)(m * n)) == 0);
        free(a), free(b), free(c[0]), free(c[1]), free(c[2]);
    }
}

DS_TEST(gemm_skinny_alloc_failures) {
    float *a = calloc(32 * 2048, 4), *b = calloc(2048 * 1100, 4), *c = calloc(32 * 300, 4);
    if (!ds_gemm_skinny_ok(false, true, 32, 300, 2048)) { /* no AVX2 */
        free(a), free(b), free(c);
        return;
    }
    int64_t live = ds_alloc_live_blocks();
    int nomem = 0;
    for (int fail = 1; fail < 4; fail++) {
        ds_alloc_debug_begin(fail);
        /* nt packs A^T; nn with B rows a page apart copies V blocks */
        ds_status s1 = ds_gemm_f32_skinny(false, true, 32, 300, 2048, 1.0f, a, 2048, b, 2048, 0.0f, c, 300);
        ds_status s2 = ds_gemm_f32_skinny(false, false, 32, 300, 2048, 1.0f, a, 2048, b, 1100, 0.0f, c, 300);
        ds_alloc_debug_begin(0);
        CHECK(s1 == DS_OK || s1 == DS_ERR_NOMEM);
        CHECK(s2 == DS_OK || s2 == DS_ERR_NOMEM);
        nomem += (s1 == DS_ERR_NOMEM) + (s2 == DS_ERR_NOMEM);
        CHECK(ds_alloc_live_blocks() == live);
    }
    CHECK(nomem >= 1);
    free(a), free(b), free(c);
}

typedef struct inner_ctx {
    int failures;
} inner_ctx;

static void gemm_in_task(void *ctx, int64_t b, int64_t e) {
    inner_ctx *ic = ctx;
    for (int64_t i = b; i < e; i++) {
        if (ds_gemm_max_threads() != 1) __atomic_add_fetch(&ic->failures, 1, __ATOMIC_RELAXED);
        /* each task runs a whole GEMM on its own thread */
        float a[64 * 64], bb[64 * 64], c[64 * 64];
        for (int k = 0; k < 64 * 64; k++) a[k] = (float)((k * 7 + i) % 13) - 6, bb[k] = (float)((k * 5) % 11) - 5;
        if (ds_gemm_f32(false, false, 64, 64, 64, 1.0f, a, 64, bb, 64, 0.0f, c, 64)) __atomic_add_fetch(&ic->failures, 1, __ATOMIC_RELAXED);
        for (int r = 0; r < 64; r += 21)
            for (int col = 0; col < 64; col += 17) {
                float s = 0;
                for (int p = 0; p < 64; p++) s += a[r * 64 + p] * bb[p * 64 + col];
                if (s != c[r * 64 + col]) __atomic_add_fetch(&ic->failures, 1, __ATOMIC_RELAXED);
            }
    }
}

DS_TEST(gemm_from_inside_the_pool) {
    inner_ctx ic = {0};
    ds_parallel_for(8, 1, gemm_in_task, &ic);
    CHECK(ic.failures == 0);
    CHECK(ds_gemm_max_threads() >= 1);
}

/* ---------------------------------------------------------------- MATMUL */
static ds_tensor *mk(ds_dtype dt, int nd, const int64_t *shape, const double *vals) {
    ds_tensor *t = NULL;
    if (ds_tensor_new(dt, nd, shape, &t)) return NULL;
    char *p = ds_tensor_data(t);
    for (int64_t i = 0; i < ds_tensor_numel(t); i++)
        ds_dtype_store_double(dt, p + i * (int64_t)ds_dtype_size(dt), vals ? vals[i] : (double)i);
    return t;
}

static ds_status mm(ds_tensor *a, ds_tensor *b, bool ta, bool tb, ds_tensor **out) {
    ds_attr at[2] = {{.kind = DS_ATTR_BOOL, .v.b = ta}, {.kind = DS_ATTR_BOOL, .v.b = tb}};
    return ds_op_run1(DS_OP_MATMUL, 2, (ds_tensor *[]){a, b}, at, out);
}

static bool same(ds_tensor *t, ds_dtype dt, int nd, const int64_t *shape, const double *vals, double tol) {
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
        if (fabs(v - vals[i]) > tol) {
            printf("  element %lld: got %.9g, expected %.9g\n", (long long)i, v, vals[i]);
            return false;
        }
    }
    return true;
}

#define CHECK_MM(a, b, ta, tb, dt, nd, shape, vals)                                                \
    do {                                                                                           \
        ds_tensor *o_ = NULL;                                                                      \
        CHECK_OK(mm(a, b, ta, tb, &o_));                                                           \
        CHECK(same(o_, dt, nd, shape, vals, 1e-5));                                                \
        ds_tensor_release(o_);                                                                     \
    } while (0)

/* a = [[0, 1, 2], [3, 4, 5]], b = [[0, 1], [2, 3], [4, 5]] */
DS_TEST(matmul_2d_1d_and_transposes) {
    ds_tensor *a = mk(DS_FLOAT32, 2, SH(2, 3), NULL), *b = mk(DS_FLOAT32, 2, SH(3, 2), NULL);
    CHECK_MM(a, b, false, false, DS_FLOAT32, 2, SH(2, 2), ((double[]){10, 13, 28, 40}));
    CHECK_MM(b, a, false, false, DS_FLOAT32, 2, SH(3, 3), ((double[]){3, 4, 5, 9, 14, 19, 15, 24, 33}));
    CHECK_MM(a, a, false, true, DS_FLOAT32, 2, SH(2, 2), ((double[]){5, 14, 14, 50})); /* a a^T */
    CHECK_MM(a, a, true, false, DS_FLOAT32, 2, SH(3, 3), ((double[]){9, 12, 15, 12, 17, 22, 15, 22, 29}));
    CHECK_MM(b, a, true, true, DS_FLOAT32, 2, SH(2, 2), ((double[]){10, 28, 13, 40})); /* b^T a^T */
    ds_tensor *v = mk(DS_FLOAT32, 1, SH(3), ((double[]){1, -1, 2}));
    CHECK_MM(a, v, false, false, DS_FLOAT32, 1, SH(2), ((double[]){3, 9}));
    CHECK_MM(v, b, false, false, DS_FLOAT32, 1, SH(2), ((double[]){6, 8}));
    CHECK_MM(v, v, false, false, DS_FLOAT32, 0, SH(1), ((double[]){6}));
    CHECK_MM(v, a, false, true, DS_FLOAT32, 1, SH(2), ((double[]){3, 9})); /* v @ a^T */
    ds_tensor_release(a);
    ds_tensor_release(b);
    ds_tensor_release(v);
}

DS_TEST(matmul_batched_broadcast) {
    /* a: [2, 1, 2, 3] (arange), b: [3, 3, 2] (arange) -> [2, 3, 2, 2] */
    ds_tensor *a = mk(DS_FLOAT64, 4, SH(2, 1, 2, 3), NULL), *b = mk(DS_FLOAT64, 3, SH(3, 3, 2), NULL), *o = NULL;
    CHECK_OK(mm(a, b, false, false, &o));
    double want[24];
    for (int i = 0; i < 2; i++)
        for (int j = 0; j < 3; j++)
            for (int r = 0; r < 2; r++)
                for (int c = 0; c < 2; c++) {
                    double s = 0;
                    for (int p = 0; p < 3; p++) s += (double)(i * 6 + r * 3 + p) * (double)(j * 6 + p * 2 + c);
                    want[((i * 3 + j) * 2 + r) * 2 + c] = s;
                }
    CHECK(same(o, DS_FLOAT64, 4, SH(2, 3, 2, 2), want, 0));
    ds_tensor_release(o);
    /* 1-D against a batch: [3] @ [3, 3, 2] -> [3, 2] */
    ds_tensor *v = mk(DS_FLOAT64, 1, SH(3), ((double[]){1, 0, -1}));
    CHECK_MM(v, b, false, false, DS_FLOAT64, 2, SH(3, 2), ((double[]){-4, -4, -4, -4, -4, -4}));
    /* many small matrices: the parallel-over-batch path */
    ds_tensor *x = mk(DS_FLOAT32, 3, SH(300, 4, 5), NULL), *y = mk(DS_FLOAT32, 2, SH(5, 3), NULL);
    CHECK_OK(mm(x, y, false, false, &o));
    bool ok = ds_tensor_ndim(o) == 3 && ds_tensor_shape(o)[0] == 300;
    const float *po = ds_tensor_data(o);
    for (int bi = 0; bi < 300 && ok; bi += 37)
        for (int r = 0; r < 4; r++)
            for (int c = 0; c < 3; c++) {
                double s = 0;
                for (int p = 0; p < 5; p++) s += (double)(bi * 20 + r * 5 + p) * (p * 3 + c);
                ok = ok && fabs(po[(bi * 4 + r) * 3 + c] - s) <= 1e-6 * s;
            }
    CHECK(ok);
    ds_tensor_release(o);
    ds_tensor_release(a);
    ds_tensor_release(b);
    ds_tensor_release(v);
    ds_tensor_release(x);
    ds_tensor_release(y);
}

DS_TEST(matmul_views) {
    ds_tensor *a = mk(DS_FLOAT32, 2, SH(3, 2), NULL), *b = mk(DS_FLOAT32, 2, SH(3, 2), NULL);
    ds_tensor *at = NULL, *bt = NULL, *sl = NULL, *ex = NULL;
    CHECK_OK(ds_tensor_permute(a, (const int[]){1, 0}, &at)); /* [2, 3] column-major: no copy */
    CHECK_MM(at, b, false, false, DS_FLOAT32, 2, SH(2, 2), ((double[]){20, 26, 26, 35}));
    CHECK_OK(ds_tensor_permute(b, (const int[]){1, 0}, &bt));
    CHECK_MM(at, bt, false, true, DS_FLOAT32, 2, SH(2, 2), ((double[]){20, 26, 26, 35}));
    CHECK_MM(at, bt, true, false, DS_FLOAT32, 2, SH(3, 3), ((double[]){1, 3, 5, 3, 13, 23, 5, 23, 41}));
    /* a strided column slice needs a copy: a[:, ::2] of [[0,1],[2,3],[4,5]] -> [[0],[2],[4]] */
    CHECK_OK(ds_tensor_slice(a, 1, 0, 2, 2, &sl));
    CHECK_MM(at, sl, false, false, DS_FLOAT32, 2, SH(2, 1), ((double[]){20, 26}));
    /* a broadcast (stride 0) operand */
    ds_tensor *row = mk(DS_FLOAT32, 2, SH(1, 3), ((double[]){1, 2, 3}));
    CHECK_OK(ds_tensor_expand(row, 2, SH(2, 3), &ex));
    CHECK_MM(ex, b, false, false, DS_FLOAT32, 2, SH(2, 2), ((double[]){16, 22, 16, 22}));
    ds_tensor_release(a), ds_tensor_release(b), ds_tensor_release(at), ds_tensor_release(bt);
    ds_tensor_release(sl), ds_tensor_release(ex), ds_tensor_release(row);
}

DS_TEST(matmul_dtypes) {
    ds_tensor *a = mk(DS_INT32, 2, SH(2, 2), ((double[]){100000, 3, -7, 2})), *b = mk(DS_INT32, 2, SH(2, 2), ((double[]){30000, 1, 5, -4}));
    ds_tensor *o = NULL;
    CHECK_OK(mm(a, b, false, false, &o)); /* 3e9 wraps in int32 like NumPy: 3000000015 - 2^32 */
    CHECK(same(o, DS_INT32, 2, SH(2, 2), ((double[]){3000000015.0 - 4294967296.0, 99988, -209990, -15}), 0));
    ds_tensor_release(o);
    ds_tensor *i8 = mk(DS_INT8, 1, SH(2), ((double[]){100, 100}));
    CHECK_OK(mm(i8, i8, false, false, &o)); /* 20000 mod 256 = 32 */
    CHECK(same(o, DS_INT8, 0, SH(1), ((double[]){32}), 0));
    ds_tensor_release(o);
    ds_tensor *ba = mk(DS_BOOL, 2, SH(2, 2), ((double[]){1, 0, 0, 0})), *bb = mk(DS_BOOL, 2, SH(2, 2), ((double[]){1, 1, 0, 1}));
    CHECK_OK(mm(ba, bb, false, false, &o));
    CHECK(same(o, DS_BOOL, 2, SH(2, 2), ((double[]){1, 1, 0, 0}), 0));
    ds_tensor_release(o);
    ds_tensor *h = mk(DS_FLOAT16, 2, SH(2, 2), ((double[]){0.5, 1.5, -2, 4})), *f = mk(DS_FLOAT32, 2, SH(2, 2), ((double[]){1, 2, 3, 4}));
    CHECK_OK(mm(h, h, false, false, &o));
    CHECK(same(o, DS_FLOAT16, 2, SH(2, 2), ((double[]){-2.75, 6.75, -9, 13}), 0));
    ds_tensor_release(o);
    CHECK_OK(mm(a, f, false, false, &o)); /* int32 @ float32 -> float32 */
    CHECK(same(o, DS_FLOAT32, 2, SH(2, 2), ((double[]){100009, 200012, -1, -6}), 0));
    ds_tensor_release(o);
    ds_tensor *bf = mk(DS_BFLOAT16, 1, SH(2), ((double[]){1.5, 2})), *hv = mk(DS_FLOAT16, 1, SH(2), ((double[]){2, 0.25}));
    CHECK_OK(mm(bf, hv, false, false, &o)); /* bfloat16 @ float16 -> float32 */
    CHECK(same(o, DS_FLOAT32, 0, SH(1), ((double[]){3.5}), 0));
    ds_tensor_release(o);
    ds_tensor_release(a), ds_tensor_release(b), ds_tensor_release(i8), ds_tensor_release(ba);
    ds_tensor_release(bb), ds_tensor_release(h), ds_tensor_release(f), ds_tensor_release(bf), ds_tensor_release(hv);
}

DS_TEST(matmul_empty_and_errors) {
    ds_tensor *a = mk(DS_FLOAT32, 2, SH(2, 0), NULL), *b = mk(DS_FLOAT32, 2, SH(0, 3), NULL), *o = NULL;
    CHECK_MM(a, b, false, false, DS_FLOAT32, 2, SH(2, 3), ((double[]){0, 0, 0, 0, 0, 0}));
    ds_tensor *c = mk(DS_FLOAT32, 2, SH(3, 4), NULL);
    CHECK_MM(b, c, false, false, DS_FLOAT32, 2, SH(0, 4), NULL);
    ds_tensor_release(c);
    ds_tensor *x = mk(DS_FLOAT32, 2, SH(2, 3), NULL), *y = mk(DS_FLOAT32, 2, SH(4, 5), NULL);
    CHECK_ERR(mm(x, y, false, false, &o), DS_ERR_SHAPE,
              "matmul: inner dimensions differ: a is [2, 3], b is [4, 5] (3 vs 4)");
    CHECK_ERR(mm(x, y, true, false, &o), DS_ERR_SHAPE, "a is [2, 3] (transposed), b is [4, 5] (2 vs 4)");
    ds_tensor *p = mk(DS_FLOAT32, 3, SH(2, 3, 4), NULL), *q = mk(DS_FLOAT32, 3, SH(3, 4, 1), NULL);
    CHECK_ERR(mm(p, q, false, false, &o), DS_ERR_SHAPE, "batch dimensions do not broadcast: a is [2, 3, 4], b is [3, 4, 1]");
    ds_tensor *s = mk(DS_FLOAT32, 0, SH(1), ((double[]){2}));
    CHECK_ERR(mm(s, x, false, false, &o), DS_ERR_SHAPE, "operand a is 0-d");
    CHECK(o == NULL);
    ds_tensor_release(a), ds_tensor_release(b), ds_tensor_release(x), ds_tensor_release(y);
    ds_tensor_release(p), ds_tensor_release(q), ds_tensor_release(s);
}

DS_TEST(matmul_alloc_failures_do_not_leak) {
    ds_tensor *a = mk(DS_INT32, 3, SH(2, 3, 4), NULL), *b = mk(DS_FLOAT16, 2, SH(4, 5), NULL), *bt = NULL;
    CHECK_OK(ds_tensor_slice(b, 1, 0, 5, 2, &bt)); /* [4, 3], needs a copy */
    int64_t live = ds_alloc_live_blocks();
    for (int fail = 1; fail < 12; fail++) {
        ds_tensor *o = NULL;
        ds_alloc_debug_begin(fail);
        ds_status st = mm(a, bt, false, false, &o);
        ds_alloc_debug_begin(0);
        CHECK(st == DS_OK || st == DS_ERR_NOMEM);
        ds_tensor_release(o);
        CHECK(ds_alloc_live_blocks() == live);
    }
    ds_tensor_release(a), ds_tensor_release(b), ds_tensor_release(bt);
}

DS_TEST_MAIN()
