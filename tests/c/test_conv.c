/* Convolution and pooling ops (src/ops/conv.c, src/kernels/conv.c, src/autodiff/rules_conv.c):
 * values against naive loops (float32 on larger shapes through every kernel path, float64, float16,
 * bfloat16) and against PyTorch's results on fixed inputs; gradients against finite differences in
 * float64, first and second order (stride 2, padding, dilation 2, groups 2, non-square, dynamic
 * batch); the eager tape and the plan executor; error messages. */
#include <stdlib.h>

#include "base/status.h"
#include "base/threadpool.h"
#include "grad_check.h"

#define SH(...) ((const int64_t[]){__VA_ARGS__})

/* ---------------------------------------------------------------- helpers */
/* Element i of t as double. */
static double at(const ds_tensor *t, int64_t i) {
    double v = 0;
    ds_tensor_get_double(t, i, &v);
    return v;
}

/* A tensor of dt holding `vals` (doubles, converted). */
static ds_tensor *from(ds_dtype dt, int nd, const int64_t *shape, const double *vals) {
    ds_tensor *d = NULL, *t = NULL;
    if (ds_tensor_from_data(DS_FLOAT64, nd, shape, vals, &d)) return NULL;
    if (!ds_tensor_new(dt, nd, shape, &t)) ds_tensor_copy_into(t, d);
    ds_tensor_release(d);
    return t;
}

/* t's values as a malloc'd double array. */
static double *vals(const ds_tensor *t) {
    int64_t n = ds_tensor_numel(t);
    double *v = malloc(sizeof(double) * (size_t)(n + 1));
    for (int64_t i = 0; i < n; i++) v[i] = at(t, i);
    return v;
}

/* Whether t has `shape` and |t - want| <= tol * (1 + max |want|) everywhere. */
static bool near_all(const ds_tensor *t, int nd, const int64_t *shape, const double *want, double tol) {
    if (!t || !ds_shape_equal(ds_tensor_ndim(t), ds_tensor_shape(t), nd, shape)) {
        printf("  wrong shape\n");
        return false;
    }
    int64_t n = ds_tensor_numel(t);
    double mx = 0;
    for (int64_t i = 0; i < n; i++) mx = fabs(want[i]) > mx ? fabs(want[i]) : mx;
    for (int64_t i = 0; i < n; i++)
        if (!(fabs(at(t, i) - want[i]) <= tol * (1 + mx))) {
            printf("  element %lld: got %.9g, want %.9g (tol %g)\n", (long long)i, at(t, i), want[i], tol * (1 + mx));
            return false;
        }
    return true;
}

/* The deterministic pattern the PyTorch goldens below were computed on. */
static double pat(int64_t i, int64_t mul, int64_t mod) { return (double)((i * mul) % mod - 8) / 4.0; }
static ds_tensor *pattern(ds_dtype dt, int nd, const int64_t *shape, int64_t mul, int64_t mod) {
    int64_t n = ds_shape_numel(nd, shape);
    double *v = malloc(sizeof(double) * (size_t)(n + 1));
    for (int64_t i = 0; i < n; i++) v[i] = pat(i, mul, mod);
    ds_tensor *t = from(dt, nd, shape, v);
    free(v);
    return t;
}

/* ---------------------------------------------------------------- naive references */
typedef struct cconf {
    int64_t n, c, h, w, o, kh, kw, sh, sw, pt, pb, pl, pr, dh, dw, groups;
} cconf;

static int64_t cho(const cconf *k) { return (k->h + k->pt + k->pb - k->dh * (k->kh - 1) - 1) / k->sh + 1; }
static int64_t cwo(const cconf *k) { return (k->w + k->pl + k->pr - k->dw * (k->kw - 1) - 1) / k->sw + 1; }

/* mode 0: y = conv(x, w); 1: dx += dy * w; 2: dw += dy * x (a = x or dx, b = w or dw, y = y or dy). */
static void ref_conv(const cconf *k, int mode, double *a, double *b, double *y) {
    int64_t ho = cho(k), wo = cwo(k), cg = k->c / k->groups, og = k->o / k->groups;
    for (int64_t n = 0; n < k->n; n++)
        for (int64_t o = 0; o < k->o; o++)
            for (int64_t oh = 0; oh < ho; oh++)
                for (int64_t ow = 0; ow < wo; ow++) {
                    double *py = &y[((n * k->o + o) * ho + oh) * wo + ow], s = 0;
                    for (int64_t c = 0; c < cg; c++)
                        for (int64_t i = 0; i < k->kh; i++)
                            for (int64_t j = 0; j < k->kw; j++) {
                                int64_t ih = oh * k->sh - k->pt + i * k->dh, iw = ow * k->sw - k->pl + j * k->dw;
                                if (ih < 0 || ih >= k->h || iw < 0 || iw >= k->w) continue;
                                double *px = &a[((n * k->c + o / og * cg + c) * k->h + ih) * k->w + iw];
                                double *pw = &b[((o * cg + c) * k->kh + i) * k->kw + j];
                                if (mode == 0) s += *px * *pw;
                                else if (mode == 1) *px += *py * *pw;
                                else *pw += *py * *px;
                            }
                    if (mode == 0) *py = s;
                }
}

typedef struct pconf {
    int64_t planes, h, w, kh, kw, sh, sw, pt, pb, pl, pr, dh, dw;
    bool ceil, cip;
    int64_t div;
} pconf;

static int64_t pout(int64_t in, int64_t pa, int64_t pb, int64_t k, int64_t s, int64_t d, bool ceil) {
    int64_t num = in + pa + pb - d * (k - 1) - 1, o = (ceil ? (num + s - 1) / s : num / s) + 1;
    if (ceil && (o - 1) * s >= in + pa) o--;
    return o;
}

/* mode 0: max forward, 1: max backward (dx += dy at the first max), 2: avg forward, 3: avg backward. */
static void ref_pool(const pconf *k, int mode, const double *x, double *dx, double *y) {
    int64_t ho = pout(k->h, k->pt, k->pb, k->kh, k->sh, k->dh, k->ceil), wo = pout(k->w, k->pl, k->pr, k->kw, k->sw, k->dw, k->ceil);
    for (int64_t p = 0; p < k->planes; p++)
        for (int64_t oh = 0; oh < ho; oh++)
            for (int64_t ow = 0; ow < wo; ow++) {
                double *py = &y[(p * ho + oh) * wo + ow], best = -INFINITY, s = 0;
                int64_t arg = -1, cnt = 0, full = 0;
                for (int64_t i = 0; i < k->kh; i++)
                    for (int64_t j = 0; j < k->kw; j++) {
                        int64_t ih = oh * k->sh - k->pt + i * k->dh, iw = ow * k->sw - k->pl + j * k->dw;
                        if (ih < k->h + k->pb && iw < k->w + k->pr) full++; /* inside input + padding */
                        if (ih < 0 || ih >= k->h || iw < 0 || iw >= k->w) continue;
                        int64_t e = (p * k->h + ih) * k->w + iw;
                        if (arg < 0 || x[e] > best) best = x[e], arg = e;
                        s += x[e], cnt++;
                    }
                double div = k->div ? (double)k->div : k->cip ? (double)full : (double)cnt;
                if (mode == 0) *py = best;
                else if (mode == 1 && arg >= 0) dx[arg] += *py;
                else if (mode == 2) *py = s / div;
                else if (mode == 3)
                    for (int64_t i = 0; i < k->kh; i++)
                        for (int64_t j = 0; j < k->kw; j++) {
                            int64_t ih = oh * k->sh - k->pt + i, iw = ow * k->sw - k->pl + j;
                            if (ih >= 0 && ih < k->h && iw >= 0 && iw < k->w) dx[(p * k->h + ih) * k->w + iw] += *py / div;
                        }
            }
}

static void ref_adaptive(int64_t planes, int64_t h, int64_t w, int64_t ho, int64_t wo, bool back, double *x, double *y) {
    for (int64_t p = 0; p < planes; p++)
        for (int64_t oh = 0; oh < ho; oh++)
            for (int64_t ow = 0; ow < wo; ow++) {
                int64_t h0 = (oh * h) / ho, h1 = ((oh + 1) * h + ho - 1) / ho, w0 = (ow * w) / wo, w1 = ((ow + 1) * w + wo - 1) / wo;
                double s = 0, n = (double)((h1 - h0) * (w1 - w0));
                for (int64_t i = h0; i < h1; i++)
                    for (int64_t j = w0; j < w1; j++)
                        if (back) x[(p * h + i) * w + j] += y[(p * ho + oh) * wo + ow] / n;
                        else s += x[(p * h + i) * w + j];
                if (!back) y[(p * ho + oh) * wo + ow] = s / n;
            }
}

/* ---------------------------------------------------------------- convolution values */
static ds_attr conv_at[4];
static const ds_attr *conv_attrs(const cconf *k) {
    static int64_t st[2], pd[4], dl[2];
    st[0] = k->sh, st[1] = k->sw, dl[0] = k->dh, dl[1] = k->dw;
    pd[0] = k->pt, pd[1] = k->pb, pd[2] = k->pl, pd[3] = k->pr;
    conv_at[0] = (ds_attr){.kind = DS_ATTR_INTS, .n = 2, .v.ints = st};
    conv_at[1] = (ds_attr){.kind = DS_ATTR_INTS, .n = 4, .v.ints = pd};
    conv_at[2] = (ds_attr){.kind = DS_ATTR_INTS, .n = 2, .v.ints = dl};
    conv_at[3] = AI(k->groups);
    return conv_at;
}

/* conv2d, conv2d_backprop_input and conv2d_backprop_filter in dtype dt against ref_conv. */
static bool conv_case(ds_dtype dt, cconf k, double tol) {
    int64_t ho = cho(&k), wo = cwo(&k), xs[4] = {k.n, k.c, k.h, k.w}, ws[4] = {k.o, k.c / k.groups, k.kh, k.kw};
    int64_t ys[4] = {k.n, k.o, ho, wo};
    ds_tensor *x = gc_rand(dt, 4, xs, -1, 1), *w = gc_rand(dt, 4, ws, -1, 1), *dy = gc_rand(dt, 4, ys, -1, 1);
    ds_tensor *y = NULL, *dx = NULL, *dw = NULL;
    double *vx = vals(x), *vw = vals(w), *vdy = vals(dy);
    int64_t nx = ds_shape_numel(4, xs), nw = ds_shape_numel(4, ws), ny = ds_shape_numel(4, ys);
    double *ry = calloc((size_t)ny + 1, 8), *rdx = calloc((size_t)nx + 1, 8), *rdw = calloc((size_t)nw + 1, 8);
    ref_conv(&k, 0, vx, vw, ry);
    ref_conv(&k, 1, rdx, vw, vdy);
    ref_conv(&k, 2, vx, rdw, vdy);
    const ds_attr *ca = conv_attrs(&k);
    ds_attr bi[5] = {{.kind = DS_ATTR_INTS, .n = 4, .v.ints = xs}, ca[0], ca[1], ca[2], ca[3]};
    ds_attr bf[5] = {{.kind = DS_ATTR_INTS, .n = 4, .v.ints = ws}, ca[0], ca[1], ca[2], ca[3]};
    bool ok = !ds_op_run1(DS_OP_CONV2D, 2, (ds_tensor *[]){x, w}, ca, &y) && near_all(y, 4, ys, ry, tol) &&
              !ds_op_run1(DS_OP_CONV2D_BACKPROP_INPUT, 2, (ds_tensor *[]){dy, w}, bi, &dx) && near_all(dx, 4, xs, rdx, tol) &&
              !ds_op_run1(DS_OP_CONV2D_BACKPROP_FILTER, 2, (ds_tensor *[]){dy, x}, bf, &dw) && near_all(dw, 4, ws, rdw, tol);
    ok = ok && ds_tensor_dtype(y) == dt && ds_tensor_dtype(dx) == dt && ds_tensor_dtype(dw) == dt;
    if (!ok)
        printf("  case %s n%lld c%lld %lldx%lld o%lld k%lldx%lld s%lld,%lld p%lld,%lld,%lld,%lld d%lld,%lld g%lld: %s\n",
               ds_dtype_name(dt), (long long)k.n, (long long)k.c, (long long)k.h, (long long)k.w, (long long)k.o,
               (long long)k.kh, (long long)k.kw, (long long)k.sh, (long long)k.sw, (long long)k.pt, (long long)k.pb,
               (long long)k.pl, (long long)k.pr, (long long)k.dh, (long long)k.dw, (long long)k.groups, ds_error_message());
    free(vx), free(vw), free(vdy), free(ry), free(rdx), free(rdw);
    ds_tensor_release(x), ds_tensor_release(w), ds_tensor_release(dy);
    ds_tensor_release(y), ds_tensor_release(dx), ds_tensor_release(dw);
    return ok;
}

#define CC(...) ((cconf){__VA_ARGS__})
/*                  n  c   h   w  o kh kw sh sw pt pb pl pr dh dw g */
#define LENET1 CC(8, 1, 28, 28, 6, 5, 5, 1, 1, 0, 0, 0, 0, 1, 1, 1)
#define LENET2 CC(8, 6, 12, 12, 16, 5, 5, 1, 1, 0, 0, 0, 0, 1, 1, 1)

DS_TEST(conv_float32_values_against_naive_loops) {
    CHECK(conv_case(DS_FLOAT32, LENET1, 1e-5));
    CHECK(conv_case(DS_FLOAT32, LENET2, 1e-5));
    CHECK(conv_case(DS_FLOAT32, CC(3, 4, 17, 13, 6, 3, 2, 2, 1, 1, 2, 0, 1, 2, 1, 2), 1e-5)); /* everything at once */
    CHECK(conv_case(DS_FLOAT32, CC(2, 6, 9, 11, 6, 3, 3, 1, 2, 1, 1, 1, 1, 1, 2, 6), 1e-5)); /* depthwise */
    CHECK(conv_case(DS_FLOAT32, CC(2, 8, 9, 7, 5, 1, 1, 1, 1, 0, 0, 0, 0, 1, 1, 1), 1e-5));  /* 1x1: no im2col */
    CHECK(conv_case(DS_FLOAT32, CC(2, 8, 9, 7, 4, 1, 1, 1, 1, 0, 0, 0, 0, 1, 1, 4), 1e-5));  /* 1x1, groups */
    CHECK(conv_case(DS_FLOAT32, CC(2, 8, 9, 7, 5, 1, 1, 2, 2, 0, 0, 0, 0, 1, 1, 1), 1e-5));  /* 1x1 strided */
    CHECK(conv_case(DS_FLOAT32, CC(2, 3, 6, 6, 4, 1, 1, 1, 1, 1, 0, 0, 1, 1, 1, 1), 1e-5));  /* 1x1 padded */
    CHECK(conv_case(DS_FLOAT32, CC(1, 2, 3, 3, 2, 3, 3, 3, 3, 2, 2, 2, 2, 2, 2, 1), 1e-5));  /* mostly padding */
    CHECK(conv_case(DS_FLOAT32, CC(1, 128, 8, 404, 3, 5, 5, 1, 1, 0, 0, 0, 0, 1, 1, 1), 1e-5)); /* row blocks */
    CHECK(conv_case(DS_FLOAT32, CC(20, 3, 8, 8, 4, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, 1), 1e-5)); /* filter chunks */
}

/* Samples one after the other with the pool inside GEMM and im2col (few samples, much work each). */
DS_TEST(conv_sequential_batch_path) {
    int keep = ds_get_num_threads();
    ds_set_num_threads(4);
    CHECK(conv_case(DS_FLOAT32, CC(2, 32, 24, 24, 32, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1), 1e-5));
    ds_set_num_threads(1);
    CHECK(conv_case(DS_FLOAT32, CC(3, 4, 10, 9, 6, 3, 3, 2, 1, 1, 1, 0, 0, 1, 2, 2), 1e-5));
    ds_set_num_threads(keep);
}

DS_TEST(conv_other_dtypes) {
    CHECK(conv_case(DS_FLOAT64, CC(3, 4, 9, 8, 6, 3, 2, 2, 1, 1, 2, 0, 1, 2, 1, 2), 1e-13));
    CHECK(conv_case(DS_FLOAT16, CC(2, 4, 8, 7, 4, 3, 3, 1, 2, 1, 1, 1, 1, 1, 1, 2), 3e-3));
    CHECK(conv_case(DS_BFLOAT16, CC(2, 4, 8, 7, 4, 3, 3, 1, 2, 1, 1, 1, 1, 1, 1, 2), 2e-2));
    /* mixed operands promote; a transposed (non-contiguous) input is read correctly */
    ds_tensor *x = gc_rand(DS_FLOAT32, 4, SH(2, 3, 5, 4), -1, 1), *w = gc_rand(DS_FLOAT64, 4, SH(2, 3, 2, 2), -1, 1);
    ds_tensor *xt = NULL, *xtc = NULL, *y = NULL, *y2 = NULL;
    ds_attr none[4] = {AN, AN, AN, AI(1)};
    CHECK_OK(ds_op_run1(DS_OP_CONV2D, 2, (ds_tensor *[]){x, w}, none, &y));
    CHECK(y && ds_tensor_dtype(y) == DS_FLOAT64);
    CHECK_OK(ds_tensor_permute(x, (int[]){0, 1, 3, 2}, &xt));
    CHECK_OK(ds_tensor_contiguous(xt, &xtc));
    ds_tensor_release(y);
    y = NULL;
    CHECK_OK(ds_op_run1(DS_OP_CONV2D, 2, (ds_tensor *[]){xt, w}, none, &y));
    CHECK_OK(ds_op_run1(DS_OP_CONV2D, 2, (ds_tensor *[]){xtc, w}, none, &y2));
    for (int64_t i = 0; y && y2 && i < ds_tensor_numel(y); i++) CHECK(at(y, i) == at(y2, i));
    ds_tensor_release(x), ds_tensor_release(w), ds_tensor_release(xt), ds_tensor_release(xtc);
    ds_tensor_release(y), ds_tensor_release(y2);
}

/* Empty batch, empty channels: empty or zero results, no failure. */
DS_TEST(conv_empty_shapes) {
    ds_attr none[4] = {AN, AN, AN, AI(1)};
    ds_tensor *x = NULL, *w = NULL, *y = NULL, *dy = NULL, *dw = NULL;
    CHECK_OK(ds_tensor_new_zeros(DS_FLOAT32, 4, SH(0, 2, 5, 5), &x));
    CHECK_OK(ds_tensor_new_zeros(DS_FLOAT32, 4, SH(3, 2, 3, 3), &w));
    CHECK_OK(ds_op_run1(DS_OP_CONV2D, 2, (ds_tensor *[]){x, w}, none, &y));
    CHECK(y && ds_shape_equal(4, ds_tensor_shape(y), 4, SH(0, 3, 3, 3)));
    CHECK_OK(ds_tensor_new_zeros(DS_FLOAT32, 4, SH(0, 3, 3, 3), &dy));
    ds_attr bf[5] = {AIS(3, 2, 3, 3), AN, AN, AN, AI(1)};
    CHECK_OK(ds_op_run1(DS_OP_CONV2D_BACKPROP_FILTER, 2, (ds_tensor *[]){dy, x}, bf, &dw));
    for (int64_t i = 0; dw && i < ds_tensor_numel(dw); i++) CHECK(at(dw, i) == 0);
    ds_tensor_release(x), ds_tensor_release(w), ds_tensor_release(y), ds_tensor_release(dy), ds_tensor_release(dw);
}

/* ---------------------------------------------------------------- against PyTorch
 * Computed by PyTorch 2.x (torch.nn.functional, float64) on the pattern inputs:
 *   pat(n, mul, mod)[i] = ((i * mul) % mod - 8) / 4
 *   x = pat(60, 37, 17) as [1, 2, 5, 6]; y = pat(70, 37, 17) as [1, 2, 5, 7]; xm = pat(84, 5, 7) as [1, 2, 6, 7]
 *   avg_a = avg_pool2d(x, (3, 2), (2, 2), (1, 1), ceil_mode=True, count_include_pad=True)
 *   avg_b = the same with count_include_pad=False
 *   avg_c = avg_pool2d(x, (3, 3), (2, 1), (1, 1), divisor_override=3)
 *   avg_d = avg_pool2d(x, 2, 2, 0, ceil_mode=True)
 *   ada_a = adaptive_avg_pool2d(y, (3, 4))
 *   max_a = max_pool2d(xm, (3, 2), (2, 2), (1, 1), dilation=(2, 1), ceil_mode=True); max_a_dx = its
 *           gradient for max_a_gy = pat(24, 3, 11) (many ties: the first maximum takes the gradient)
 *   conv_y = conv2d(pat(336, 37, 17) as [2, 4, 7, 6], pat(72, 11, 13) as [6, 2, 3, 2], stride=(2, 1),
 *            padding=(1, 2), dilation=(2, 1), groups=2) */
static const double avg_a[24] = {-0.625, -0.5, 0.5, 0.625, -0.75, -0.375, 1.125, -0.2916666666666667, -0.375, 0.0, 1.0, -0.5416666666666666, -0.20833333333333334, 0.3333333333333333, -0.08333333333333333, -0.375, -0.125, 0.875, -0.4583333333333333, -0.375, 0.041666666666666664, 0.8333333333333334, -1.0, -0.125};
static const double avg_b[24] = {-1.875, -0.75, 0.75, 1.875, -1.5, -0.375, 1.125, -0.5833333333333334, -1.125, 0.0, 1.5, -1.625, -0.625, 0.5, -0.125, -1.125, -0.25, 0.875, -0.4583333333333333, -0.75, 0.125, 1.25, -1.5, -0.375};
static const double avg_c[36] = {-2.0, -2.25, -0.75, 0.75, 2.25, 2.0, -2.25, -2.25, 0.0, 2.25, 1.6666666666666667, 0.9166666666666666, -1.0, -0.75, 0.75, 2.25, 0.9166666666666666, 0.16666666666666666, -0.3333333333333333, 0.25, 1.75, 0.4166666666666667, -0.9166666666666666, -2.0, 0.25, 1.5, 2.3333333333333335, 0.3333333333333333, -1.6666666666666667, -2.25, 0.6666666666666666, 1.75, 0.4166666666666667, -0.9166666666666666, -2.25, -1.0};
static const double avg_d[18] = {-1.5, 0.0, 1.5, -1.0, 0.5, -0.125, -0.625, 0.875, 0.25, -0.25, 1.25, -1.5, 0.25, 0.6875, -1.0, 0.625, 0.0, -0.625};
static const double ada_a[24] = {-1.125, 0.0, 0.7916666666666666, -0.5625, 0.375, 0.08333333333333333, -0.3055555555555555, -0.125, 0.8125, -0.5416666666666666, 0.25, 0.3125, -0.375, 0.75, 0.125, -0.875, 0.4166666666666667, -0.1111111111111111, -0.027777777777777776, 0.625, -0.5625, -0.5, 0.2916666666666667, 0.0};
static const double max_a[24] = {-2.0, -0.75, -0.5, -1.0, -2.0, -0.75, -0.5, -1.0, -2.0, -0.75, -0.5, -1.0, -2.0, -0.75, -0.5, -1.0, -2.0, -0.75, -0.5, -1.0, -2.0, -0.75, -0.5, -1.0};
static const double max_a_gy[24] = {-2.0, -1.25, -0.5, 0.25, -1.75, -1.0, -0.25, 0.5, -1.5, -0.75, 0.0, -2.0, -1.25, -0.5, 0.25, -1.75, -1.0, -0.25, 0.5, -1.5, -0.75, 0.0, -2.0, -1.25};
static const double max_a_dx[84] = {0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, -3.75, -2.25, 0.0, 0.0, -0.75, 0.75, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, -1.5, -0.75, 0.0, 0.0, 0.0, -2.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, -2.25, -0.75, 0.0, 0.0, 0.75, -3.25, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, -0.75, 0.0, 0.0, 0.0, -2.0, -1.25, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0};
static const double conv_y[324] = {0.0, 1.5, -0.125, -2.375, -0.375, -2.625, 0.4375, 1.5625, 0.0, 0.0, -1.0625, 1.875, 2.375, -3.5, 3.375, 3.875, -2.875, 0.0, 0.0, -0.25, 2.8125, 1.6875, -5.8125, 1.5625, -3.8125, 3.4375, 0.0, 0.0, 0.25, -1.125, -0.375, 0.375, -3.125, 0.8125, 1.4375, 0.0, 0.0, 3.5, 2.6875, 0.6875, 1.875, 2.0, -2.125, -3.375, 0.0, 0.0, 1.9375, 1.375, -3.75, -3.5625, -2.3125, 0.0, 2.1875, 0.0, 0.0, -1.0, 3.5625, 2.4375, -2.9375, 1.25, 1.1875, -3.5625, 0.0, 0.0, 2.375, 5.125, 0.625, -4.9375, 2.25, -6.5, 1.8125, 0.0, 0.0, 1.6875, 1.5625, -7.5625, 0.3125, -4.5625, 5.4375, 3.375, 0.0, 0.0, -2.8125, 0.0, 3.375, 0.375, 2.6875, 0.75, 0.25, 0.0, 0.0, 3.0, 5.4375, 2.6875, -4.3125, -2.8125, -2.375, -3.75, 0.0, 0.0, 4.75, 3.625, -3.125, -2.4375, -0.6875, 2.125, 2.625, 0.0, 0.0, -3.4375, 5.4375, 4.8125, -0.0625, -3.875, 1.875, -2.5, 0.0, 0.0, 1.75, 7.125, 1.875, -7.625, 0.9375, -5.375, 2.9375, 0.0, 0.0, 3.0, 1.625, -2.125, -0.5625, -0.0625, 1.5, 2.0, 0.0, 0.0, 3.25, 6.0, 1.375, -5.375, -1.5, -1.875, -2.0, 0.0, 0.0, 4.5625, 3.9375, -3.8125, -2.0, -0.1875, 0.5625, 2.3125, 0.0, 0.0, 1.25, -0.375, -1.125, 1.3125, 0.5625, 0.875, 1.375, 0.0, 0.0, -1.125, 1.1875, 3.1875, -0.125, -2.375, -0.375, -0.875, 0.0, 0.0, -3.125, 1.9375, -2.875, 1.875, 2.375, -3.5, 1.375, 0.0, 0.0, -0.375, -2.375, 3.9375, 2.8125, 1.6875, -5.8125, 0.5, 0.0, 0.0, -1.125, 0.5625, 1.3125, -1.125, -0.375, 0.375, -1.875, 0.0, 0.0, -0.75, -1.8125, 0.4375, 2.6875, 0.6875, 1.875, 0.625, 0.0, 0.0, -1.0, 4.1875, 4.375, 1.375, -3.75, -3.5625, 0.5, 0.0, 0.0, -1.125, 1.5625, -3.8125, 3.5625, 2.4375, -2.9375, 2.0, 0.0, 0.0, 0.0, -3.9375, 5.375, 5.125, 0.625, -4.9375, 1.5, 0.0, 0.0, 0.0, -1.4375, 6.4375, 1.5625, -7.5625, 0.3125, -1.125, 0.0, 0.0, -4.6875, -3.5625, -2.3125, 0.0, 3.375, 0.375, 0.6875, 0.0, 0.0, -0.5, -0.75, 2.875, 5.4375, 2.6875, -4.3125, -4.3125, 0.0, 0.0, 0.25, -4.125, 1.875, 3.625, -3.125, -2.4375, 0.4375, 0.0, 0.0, -4.0625, 0.3125, -4.5625, 5.4375, 4.8125, -0.0625, -4.875, 0.0, 0.0, 0.125, 0.625, -2.5, 7.125, 1.875, -7.625, 0.1875, 0.0, 0.0, -0.25, -3.625, 1.125, 1.625, -2.125, -0.5625, 1.0625, 0.0, 0.0, -0.1875, -0.6875, 2.125, 6.0, 1.375, -5.375, -3.125, 0.0, 0.0, 0.75, -2.875, 1.0625, 3.9375, -3.8125, -2.0, 1.4375, 0.0, 0.0, -0.75, -3.125, 0.375, -0.375, -1.125, 1.3125, 1.6875, 0.0};

static bool run_check(ds_op_id op, int n, ds_tensor *const *in, const ds_attr *attrs, int nd, const int64_t *shape,
                      const double *want) {
    ds_tensor *y = NULL;
    ds_status st = ds_op_run1(op, n, in, attrs, &y);
    if (st) printf("  %s: %s\n", ds_op_get_info(op)->name, ds_error_message());
    bool ok = !st && near_all(y, nd, shape, want, 1e-12);
    ds_tensor_release(y);
    return ok;
}

DS_TEST(pooling_matches_pytorch) {
    ds_tensor *x = pattern(DS_FLOAT64, 4, SH(1, 2, 5, 6), 37, 17), *y = pattern(DS_FLOAT64, 4, SH(1, 2, 5, 7), 37, 17);
    ds_tensor *xm = pattern(DS_FLOAT64, 4, SH(1, 2, 6, 7), 5, 7), *gy = pattern(DS_FLOAT64, 4, SH(1, 2, 3, 4), 3, 11);
    ds_attr a[6] = {AIS(3, 2), AIS(2, 2), AIS(1, 1), AB(true), AB(true), AN};
    CHECK(run_check(DS_OP_AVG_POOL2D, 1, &x, a, 4, SH(1, 2, 3, 4), avg_a));
    a[4] = AB(false);
    CHECK(run_check(DS_OP_AVG_POOL2D, 1, &x, a, 4, SH(1, 2, 3, 4), avg_b));
    ds_attr c[6] = {AIS(3), AIS(2, 1), AIS(1), AB(false), AB(true), AI(3)};
    CHECK(run_check(DS_OP_AVG_POOL2D, 1, &x, c, 4, SH(1, 2, 3, 6), avg_c));
    ds_attr d[6] = {AIS(2), AN, AN, AB(true), AB(true), AN};
    CHECK(run_check(DS_OP_AVG_POOL2D, 1, &x, d, 4, SH(1, 2, 3, 3), avg_d));
    ds_attr ad[1] = {AIS(3, 4)};
    CHECK(run_check(DS_OP_ADAPTIVE_AVG_POOL2D, 1, &y, ad, 4, SH(1, 2, 3, 4), ada_a));
    ds_attr m[5] = {AIS(3, 2), AIS(2, 2), AIS(1, 1), AIS(2, 1), AB(true)};
    CHECK(run_check(DS_OP_MAX_POOL2D, 1, &xm, m, 4, SH(1, 2, 3, 4), max_a));
    CHECK(near_all(gy, 4, SH(1, 2, 3, 4), max_a_gy, 0));
    CHECK(run_check(DS_OP_MAX_POOL2D_GRAD, 2, (ds_tensor *[]){gy, xm}, m, 4, SH(1, 2, 6, 7), max_a_dx));
    ds_tensor_release(x), ds_tensor_release(y), ds_tensor_release(xm), ds_tensor_release(gy);
}

DS_TEST(conv_matches_pytorch) {
    ds_tensor *x = pattern(DS_FLOAT64, 4, SH(2, 4, 7, 6), 37, 17), *w = pattern(DS_FLOAT64, 4, SH(6, 2, 3, 2), 11, 13);
    ds_attr a[4] = {AIS(2, 1), AIS(1, 2), AIS(2, 1), AI(2)};
    CHECK(run_check(DS_OP_CONV2D, 2, (ds_tensor *[]){x, w}, a, 4, SH(2, 6, 3, 9), conv_y));
    ds_tensor_release(x), ds_tensor_release(w);
}

/* The filter gradient sums the batch in shape-determined chunks: the same bits for any thread count. */
DS_TEST(filter_gradient_independent_of_thread_count) {
    int keep = ds_get_num_threads();
    ds_tensor *dy = gc_rand(DS_FLOAT32, 4, SH(13, 6, 10, 10), -1, 1), *x = gc_rand(DS_FLOAT32, 4, SH(13, 4, 12, 12), -1, 1);
    ds_tensor *dw[3] = {NULL};
    ds_attr bf[5] = {AIS(6, 4, 3, 3), AN, AN, AN, AI(1)};
    for (int k = 0; k < 3; k++) {
        ds_set_num_threads(k == 0 ? 1 : 2 * k);
        CHECK_OK(ds_op_run1(DS_OP_CONV2D_BACKPROP_FILTER, 2, (ds_tensor *[]){dy, x}, bf, &dw[k]));
    }
    ds_set_num_threads(keep);
    for (int k = 1; k < 3; k++)
        CHECK(dw[0] && dw[k] && memcmp(ds_tensor_data(dw[0]), ds_tensor_data(dw[k]), 4 * 6 * 4 * 9) == 0);
    ds_tensor_release(dy), ds_tensor_release(x);
    gc_release(3, dw);
}

/* ---------------------------------------------------------------- pooling values */
/* The pooling ops of kind max or avg in dtype dt against ref_pool, 4-D and 3-D. */
static bool pool_case(ds_dtype dt, bool max, pconf k, int64_t n, double tol) {
    int64_t ho = pout(k.h, k.pt, k.pb, k.kh, k.sh, k.dh, k.ceil), wo = pout(k.w, k.pl, k.pr, k.kw, k.sw, k.dw, k.ceil);
    int64_t xs[4] = {n, k.planes / n, k.h, k.w}, ys[4] = {n, k.planes / n, ho, wo};
    ds_tensor *x = gc_rand(dt, 4, xs, -1, 1), *dy = gc_rand(dt, 4, ys, -1, 1), *y = NULL, *dx = NULL;
    double *vx = vals(x), *vdy = vals(dy), *ry = calloc((size_t)ds_shape_numel(4, ys) + 1, 8);
    double *rdx = calloc((size_t)ds_shape_numel(4, xs) + 1, 8);
    ref_pool(&k, max ? 0 : 2, vx, NULL, ry);
    ref_pool(&k, max ? 1 : 3, vx, rdx, vdy);
    int64_t st[2] = {k.sh, k.sw}, pd[4] = {k.pt, k.pb, k.pl, k.pr}, dl[2] = {k.dh, k.dw}, ks[2] = {k.kh, k.kw};
    ds_attr ka = {.kind = DS_ATTR_INTS, .n = 2, .v.ints = ks}, sa = {.kind = DS_ATTR_INTS, .n = 2, .v.ints = st};
    ds_attr pa = {.kind = DS_ATTR_INTS, .n = 4, .v.ints = pd}, da = {.kind = DS_ATTR_INTS, .n = 2, .v.ints = dl};
    ds_attr am[5] = {ka, sa, pa, da, AB(k.ceil)};
    ds_attr aa[7] = {{.kind = DS_ATTR_INTS, .n = 4, .v.ints = xs}, ka, sa, pa, AB(k.ceil), AB(k.cip), k.div ? AI(k.div) : AN};
    bool ok;
    if (max)
        ok = !ds_op_run1(DS_OP_MAX_POOL2D, 1, &x, am, &y) && near_all(y, 4, ys, ry, tol) &&
             !ds_op_run1(DS_OP_MAX_POOL2D_GRAD, 2, (ds_tensor *[]){dy, x}, am, &dx) && near_all(dx, 4, xs, rdx, tol);
    else
        ok = !ds_op_run1(DS_OP_AVG_POOL2D, 1, &x, aa + 1, &y) && near_all(y, 4, ys, ry, tol) &&
             !ds_op_run1(DS_OP_AVG_POOL2D_GRAD, 1, &dy, aa, &dx) && near_all(dx, 4, xs, rdx, tol);
    ds_tensor_release(y);
    y = NULL;
    if (ok && n == 1) { /* the 3-D form [C, H, W] */
        ds_tensor *x3 = NULL;
        ok = !ds_tensor_reshape(x, 3, xs + 1, &x3) &&
             !ds_op_run1(max ? DS_OP_MAX_POOL2D : DS_OP_AVG_POOL2D, 1, &x3, max ? am : aa + 1, &y) &&
             near_all(y, 3, ys + 1, ry, tol);
        ds_tensor_release(x3);
    }
    if (!ok) printf("  pool case %s %s: %s\n", max ? "max" : "avg", ds_dtype_name(dt), ds_error_message());
    free(vx), free(vdy), free(ry), free(rdx);
    ds_tensor_release(x), ds_tensor_release(dy), ds_tensor_release(y), ds_tensor_release(dx);
    return ok;
}

#define PC(...) ((pconf){__VA_ARGS__})
DS_TEST(pooling_values_against_naive_loops) {
    /*                             planes h   w kh kw sh sw pt pb pl pr dh dw ceil   cip    div */
    CHECK(pool_case(DS_FLOAT32, true, PC(64 * 6, 24, 24, 2, 2, 2, 2, 0, 0, 0, 0, 1, 1, false, true, 0), 64, 1e-6));
    CHECK(pool_case(DS_FLOAT32, true, PC(6, 11, 9, 3, 2, 2, 1, 1, 1, 1, 0, 2, 1, true, true, 0), 2, 1e-6));
    CHECK(pool_case(DS_FLOAT32, true, PC(4, 7, 8, 3, 3, 2, 3, 1, 0, 1, 1, 1, 1, true, true, 0), 1, 1e-6));
    CHECK(pool_case(DS_FLOAT64, true, PC(6, 10, 10, 3, 3, 3, 3, 1, 1, 1, 1, 1, 1, false, true, 0), 3, 1e-12));
    CHECK(pool_case(DS_FLOAT16, true, PC(4, 6, 6, 2, 2, 2, 2, 0, 0, 0, 0, 1, 1, false, true, 0), 2, 0));
    CHECK(pool_case(DS_FLOAT32, false, PC(64 * 6, 24, 24, 2, 2, 2, 2, 0, 0, 0, 0, 1, 1, false, true, 0), 64, 1e-6));
    CHECK(pool_case(DS_FLOAT32, false, PC(6, 11, 9, 3, 2, 2, 1, 1, 1, 1, 0, 1, 1, true, true, 0), 2, 1e-6));
    CHECK(pool_case(DS_FLOAT32, false, PC(6, 11, 9, 3, 2, 2, 1, 1, 1, 1, 0, 1, 1, true, false, 0), 3, 1e-6));
    CHECK(pool_case(DS_FLOAT32, false, PC(4, 7, 8, 3, 3, 2, 3, 1, 0, 1, 1, 1, 1, true, false, 0), 1, 1e-6));
    CHECK(pool_case(DS_FLOAT64, false, PC(4, 7, 8, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, false, true, 5), 2, 1e-13));
    CHECK(pool_case(DS_BFLOAT16, false, PC(4, 6, 6, 2, 2, 2, 2, 0, 0, 0, 0, 1, 1, false, true, 0), 2, 1e-2));
}

DS_TEST(adaptive_pool_values) {
    static const int64_t cases[][4] = {{7, 5, 3, 2}, {6, 6, 3, 3}, {5, 7, 1, 1}, {4, 4, 6, 5}, {9, 13, 4, 7}};
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        int64_t h = cases[c][0], w = cases[c][1], ho = cases[c][2], wo = cases[c][3];
        ds_tensor *x = gc_rand(DS_FLOAT32, 4, SH(2, 3, h, w), -1, 1), *dy = gc_rand(DS_FLOAT32, 4, SH(2, 3, ho, wo), -1, 1);
        ds_tensor *y = NULL, *dx = NULL;
        double *vx = vals(x), *vdy = vals(dy), *ry = calloc((size_t)(6 * ho * wo), 8), *rdx = calloc((size_t)(6 * h * w), 8);
        ref_adaptive(6, h, w, ho, wo, false, vx, ry);
        ref_adaptive(6, h, w, ho, wo, true, rdx, vdy);
        ds_attr os[1] = {{.kind = DS_ATTR_INTS, .n = 2, .v.ints = cases[c] + 2}};
        ds_attr is[1] = {{.kind = DS_ATTR_INTS, .n = 4, .v.ints = SH(-1, 3, h, w)}};
        CHECK_OK(ds_op_run1(DS_OP_ADAPTIVE_AVG_POOL2D, 1, &x, os, &y));
        CHECK(near_all(y, 4, SH(2, 3, ho, wo), ry, 1e-6));
        CHECK_OK(ds_op_run1(DS_OP_ADAPTIVE_AVG_POOL2D_GRAD, 1, &dy, is, &dx));
        CHECK(near_all(dx, 4, SH(2, 3, h, w), rdx, 1e-6));
        free(vx), free(vdy), free(ry), free(rdx);
        ds_tensor_release(x), ds_tensor_release(dy), ds_tensor_release(y), ds_tensor_release(dx);
    }
    /* -1 keeps an input dim; a single entry is used for both */
    ds_tensor *x = gc_rand(DS_FLOAT32, 3, SH(2, 6, 5), -1, 1), *y = NULL;
    CHECK_OK(ds_op_run1(DS_OP_ADAPTIVE_AVG_POOL2D, 1, &x, (ds_attr[]){AIS(3, -1)}, &y));
    CHECK(y && ds_shape_equal(3, ds_tensor_shape(y), 3, SH(2, 3, 5)));
    ds_tensor_release(y);
    CHECK_OK(ds_op_run1(DS_OP_ADAPTIVE_AVG_POOL2D, 1, &x, (ds_attr[]){AIS(1)}, &y));
    CHECK(y && ds_shape_equal(3, ds_tensor_shape(y), 3, SH(2, 1, 1)));
    ds_tensor_release(y), ds_tensor_release(x);
}

/* Ties go to the first maximum; NaN wins; max_pool2d_grad_grad reads at the same positions. */
DS_TEST(max_pool_ties_and_nan) {
    double v[16] = {1, 1, 2, 2, 1, 1, 2, 2, 3, NAN, 0, 5, 3, 3, 5, 5};
    ds_tensor *x = from(DS_FLOAT32, 4, SH(1, 1, 4, 4), v), *dy = from(DS_FLOAT32, 4, SH(1, 1, 2, 2), (double[]){1, 2, 3, 4});
    ds_tensor *g = from(DS_FLOAT32, 4, SH(1, 1, 4, 4), (double[]){0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15});
    ds_tensor *y = NULL, *dx = NULL, *gg = NULL;
    ds_attr a[5] = {AIS(2), AN, AN, AN, AB(false)};
    CHECK_OK(ds_op_run1(DS_OP_MAX_POOL2D, 1, &x, a, &y));
    CHECK(y && at(y, 0) == 1 && at(y, 1) == 2 && isnan(at(y, 2)) && at(y, 3) == 5);
    CHECK_OK(ds_op_run1(DS_OP_MAX_POOL2D_GRAD, 2, (ds_tensor *[]){dy, x}, a, &dx));
    double want[16] = {1, 0, 2, 0, 0, 0, 0, 0, 0, 3, 0, 4, 0, 0, 0, 0};
    CHECK(near_all(dx, 4, SH(1, 1, 4, 4), want, 0));
    CHECK_OK(ds_op_run1(DS_OP_MAX_POOL2D_GRAD_GRAD, 2, (ds_tensor *[]){g, x}, a, &gg));
    CHECK(near_all(gg, 4, SH(1, 1, 2, 2), (double[]){0, 2, 9, 11}, 0));
    ds_tensor_release(x), ds_tensor_release(dy), ds_tensor_release(g);
    ds_tensor_release(y), ds_tensor_release(dx), ds_tensor_release(gg);
}

/* ---------------------------------------------------------------- gradients (float64, finite differences) */
DS_TEST(conv2d_gradients) {
    ds_attr all[4] = {AIS(2, 1), AIS(1, 0, 1, 1), AIS(1, 2), AI(2)}; /* stride 2, padding, dilation 2, groups 2 */
    CHECK(GC_OP(CONV2D, all, 2, GF(4, 2, 4, 5, 6), GF(4, 4, 2, 3, 2)));
    ds_attr sd[4] = {AIS(2), AIS(2), AIS(2), AI(1)};
    CHECK(GC_OP(CONV2D, sd, 2, GF(4, 2, 3, 6, 5), GF(4, 2, 3, 2, 3)));
    ds_attr pw[4] = {AN, AN, AN, AI(1)}; /* 1x1 */
    CHECK(GC_OP(CONV2D, pw, 2, GF(4, 1, 2, 4, 4), GF(4, 3, 2, 1, 1)));
}

DS_TEST(conv2d_backprop_gradients) {
    ds_attr bi[5] = {AIS(2, 4, 5, 6), AIS(2, 1), AIS(1, 0, 1, 1), AIS(1, 2), AI(2)};
    CHECK(GC_OP(CONV2D_BACKPROP_INPUT, bi, 2, GF(4, 2, 4, 2, 6), GF(4, 4, 2, 3, 2)));
    ds_attr bf[5] = {AIS(4, 2, 3, 2), AIS(2, 1), AIS(1, 0, 1, 1), AIS(1, 2), AI(2)};
    CHECK(GC_OP(CONV2D_BACKPROP_FILTER, bf, 2, GF(4, 2, 4, 2, 6), GF(4, 2, 4, 5, 6)));
    /* -1 entries: batch and channels from the operands */
    ds_attr bi1[5] = {AIS(-1, -1, 7, 7), AIS(2), AN, AN, AI(1)};
    CHECK(GC_OP(CONV2D_BACKPROP_INPUT, bi1, 2, GF(4, 1, 2, 3, 3), GF(4, 2, 2, 2, 2)));
}

DS_TEST(pooling_gradients) {
    ds_attr m[5] = {AIS(3, 2), AIS(2, 1), AIS(1, 1), AIS(2, 1), AB(true)};
    CHECK(GC_OP(MAX_POOL2D, m, 2, GF(4, 2, 2, 6, 5)));
    CHECK(GC_OP(MAX_POOL2D_GRAD, m, 2, GF(4, 2, 2, 3, 6), GF(4, 2, 2, 6, 5)));
    CHECK(GC_OP(MAX_POOL2D_GRAD_GRAD, m, 2, GF(4, 2, 2, 6, 5), GF(4, 2, 2, 6, 5)));
    ds_attr m3[5] = {AIS(2), AN, AN, AN, AB(false)};
    CHECK(GC_OP(MAX_POOL2D, m3, 2, GF(3, 2, 4, 6)));
    ds_attr a[6] = {AIS(3, 2), AIS(2), AIS(1, 1, 1, 0), AB(true), AB(false), AN};
    CHECK(GC_OP(AVG_POOL2D, a, 2, GF(4, 2, 2, 6, 5)));
    ds_attr a2[6] = {AIS(2, 3), AIS(1, 2), AIS(1), AB(false), AB(true), AI(4)};
    CHECK(GC_OP(AVG_POOL2D, a2, 2, GF(3, 2, 5, 5)));
    ds_attr ag[7] = {AIS(2, 2, 6, 5), AIS(3, 2), AIS(2), AIS(1, 1, 1, 0), AB(true), AB(false), AN};
    CHECK(GC_OP(AVG_POOL2D_GRAD, ag, 2, GF(4, 2, 2, 4, 3)));
    ds_attr ad[1] = {AIS(3, 2)};
    CHECK(GC_OP(ADAPTIVE_AVG_POOL2D, ad, 2, GF(4, 2, 2, 7, 5)));
    ds_attr adg[1] = {AIS(2, 2, 7, 5)};
    CHECK(GC_OP(ADAPTIVE_AVG_POOL2D_GRAD, adg, 2, GF(4, 2, 2, 3, 2)));
}

/* With a dynamic batch (the dims of size 3 are one symbol), the rules pass -1 for the batch. */
DS_TEST(gradients_with_dynamic_batch) {
    gc_symbolic = true;
    ds_attr c[4] = {AIS(2), AIS(1), AN, AI(1)};
    CHECK(GC_OP(CONV2D, c, 2, GF(4, 3, 2, 5, 4), GF(4, 2, 2, 2, 2)));
    ds_attr m[5] = {AIS(2), AN, AN, AN, AB(false)};
    CHECK(GC_OP(MAX_POOL2D, m, 2, GF(4, 3, 2, 4, 3 + 1)));
    ds_attr a[6] = {AIS(2), AIS(1), AN, AB(false), AB(true), AN};
    CHECK(GC_OP(AVG_POOL2D, a, 2, GF(4, 3, 2, 4, 5)));
    ds_attr ad[1] = {AIS(2)};
    CHECK(GC_OP(ADAPTIVE_AVG_POOL2D, ad, 2, GF(4, 3, 2, 5, 4)));
    gc_symbolic = false;
}

/* A symbolic spatial dim: the forward builds, the gradient refuses with a clear error. */
DS_TEST(gradient_needs_static_spatial_dims) {
    ds_graph *g = NULL, *G = NULL;
    ds_value *x, *w, *y;
    int64_t h;
    CHECK_OK(ds_graph_new("conv", &g));
    CHECK_OK(ds_graph_symbol(g, "h", &h));
    CHECK_OK(ds_graph_add_param(g, "x", DS_FLOAT64, 4, (int64_t[]){2, 2, h, 5}, false, &x));
    CHECK_OK(ds_graph_add_param(g, "w", DS_FLOAT64, 4, (int64_t[]){3, 2, 2, 2}, false, &w));
    CHECK_OK(ds_graph_add_op1(g, DS_OP_CONV2D, 2, (ds_value *[]){x, w}, (ds_attr[]){AN, AN, AN, AI(1)}, &y));
    CHECK(ds_value_dims(y)[2] < 0 && ds_value_dims(y)[3] == 4);
    CHECK_OK(ds_graph_set_outputs(g, 1, &y));
    CHECK_ERR(ds_graph_grad(g, 1, (int[]){0}, 1, (int[]){0}, true, &G), DS_ERR_UNSUPPORTED,
              "the gradient of conv2d needs static spatial dims");
    CHECK_OK(ds_graph_grad(g, 1, (int[]){0}, 1, (int[]){1}, true, &G)); /* the weight's gradient is fine */
    ds_graph_release(G);
    ds_graph_release(g);
}

/* ---------------------------------------------------------------- tape and plan */
/* A small CNN step as a graph: sum(avg(max_pool(relu(conv(x, w1))) conv w2)) with its gradient. */
static ds_graph *cnn_grad_graph(void) {
    ds_graph *g = NULL, *G = NULL;
    ds_value *x, *w1, *w2, *v;
    ds_attr c1[4] = {AN, AIS(1), AN, AI(1)}, c2[4] = {AIS(1), AN, AN, AI(2)}, mp[5] = {AIS(2), AN, AN, AN, AB(false)};
    ds_attr ad[1] = {AIS(1)}, sum[2] = {AN, AB(false)};
    if (ds_graph_new("cnn", &g)) return NULL;
    ds_graph_add_param(g, "x", DS_FLOAT32, 4, SH(4, 2, 10, 10), false, &x);
    ds_graph_add_param(g, "w1", DS_FLOAT32, 4, SH(4, 2, 3, 3), true, &w1);
    ds_graph_add_param(g, "w2", DS_FLOAT32, 4, SH(6, 2, 3, 3), true, &w2);
    ds_status st = ds_graph_add_op1(g, DS_OP_CONV2D, 2, (ds_value *[]){x, w1}, c1, &v);
    if (!st) st = ds_graph_add_op1(g, DS_OP_RELU, 1, &v, NULL, &v);
    if (!st) st = ds_graph_add_op1(g, DS_OP_MAX_POOL2D, 1, &v, mp, &v);
    if (!st) st = ds_graph_add_op1(g, DS_OP_CONV2D, 2, (ds_value *[]){v, w2}, c2, &v);
    if (!st) st = ds_graph_add_op1(g, DS_OP_ADAPTIVE_AVG_POOL2D, 1, &v, ad, &v);
    if (!st) st = ds_graph_add_op1(g, DS_OP_SUM, 1, &v, sum, &v);
    if (!st) st = ds_graph_set_outputs(g, 1, &v);
    if (!st) st = ds_graph_grad(g, 1, (int[]){0}, 3, (int[]){0, 1, 2}, false, &G);
    if (st) printf("  building the cnn graph: %s\n", ds_error_message());
    ds_graph_release(g);
    return G;
}

DS_TEST(plan_runs_a_cnn_step_like_the_interpreter) {
    ds_graph *G = cnn_grad_graph();
    CHECK(G != NULL);
    ds_tensor *in[3] = {gc_rand(DS_FLOAT32, 4, SH(4, 2, 10, 10), -1, 1), gc_rand(DS_FLOAT32, 4, SH(4, 2, 3, 3), -1, 1),
                        gc_rand(DS_FLOAT32, 4, SH(6, 2, 3, 3), -1, 1)};
    ds_tensor *a[4] = {NULL}, *b[4] = {NULL};
    int na = 0, nb = 0;
    ds_plan *p = NULL;
    CHECK_OK(ds_graph_eval(G, 3, in, 4, a, &na));
    CHECK_OK(ds_plan_new(G, &p));
    for (int rep = 0; rep < 2; rep++) {
        gc_release(4, b);
        CHECK_OK(ds_plan_run(p, 3, in, 4, b, &nb));
    }
    CHECK(na == 4 && nb == 4);
    for (int k = 0; k < na && k < nb; k++)
        for (int64_t i = 0; i < ds_tensor_numel(a[k]); i++) CHECK(at(a[k], i) == at(b[k], i));
    ds_plan_release(p);
    gc_release(3, in), gc_release(4, a), gc_release(4, b);
    ds_graph_release(G);
}

/* The eager tape differentiates conv and pooling like the graph pass. */
DS_TEST(tape_gradients_match_the_graph) {
    ds_graph *G = cnn_grad_graph();
    ds_tensor *in[3] = {gc_rand(DS_FLOAT32, 4, SH(4, 2, 10, 10), -1, 1), gc_rand(DS_FLOAT32, 4, SH(4, 2, 3, 3), -1, 1),
                        gc_rand(DS_FLOAT32, 4, SH(6, 2, 3, 3), -1, 1)};
    ds_tensor *ref[4] = {NULL}, *grads[3] = {NULL}, *v[6] = {NULL};
    ds_tape *tape = NULL;
    CHECK_OK(ds_graph_eval(G, 3, in, 4, ref, NULL));
    CHECK_OK(ds_tape_new(&tape));
    for (int i = 0; i < 3; i++) CHECK_OK(ds_tape_watch(tape, in[i]));
    ds_tape *prev = ds_tape_set_active(tape); /* eager dispatch records */
    CHECK_OK(ds_op_run1(DS_OP_CONV2D, 2, (ds_tensor *[]){in[0], in[1]}, (ds_attr[]){AN, AIS(1), AN, AI(1)}, &v[0]));
    CHECK_OK(ds_op_run1(DS_OP_RELU, 1, &v[0], NULL, &v[1]));
    CHECK_OK(ds_op_run1(DS_OP_MAX_POOL2D, 1, &v[1], (ds_attr[]){AIS(2), AN, AN, AN, AB(false)}, &v[2]));
    CHECK_OK(ds_op_run1(DS_OP_CONV2D, 2, (ds_tensor *[]){v[2], in[2]}, (ds_attr[]){AIS(1), AN, AN, AI(2)}, &v[3]));
    CHECK_OK(ds_op_run1(DS_OP_ADAPTIVE_AVG_POOL2D, 1, &v[3], (ds_attr[]){AIS(1)}, &v[4]));
    CHECK_OK(ds_op_run1(DS_OP_SUM, 1, &v[4], (ds_attr[]){AN, AB(false)}, &v[5]));
    ds_tape_set_active(prev);
    CHECK_OK(ds_tape_backward(tape, 1, &v[5], NULL, 3, in, grads));
    for (int k = 0; k < 3; k++)
        for (int64_t i = 0; grads[k] && ref[k + 1] && i < ds_tensor_numel(grads[k]); i++)
            CHECK_NEAR(at(grads[k], i), at(ref[k + 1], i), 1e-5);
    ds_tape_release(tape);
    gc_release(3, in), gc_release(4, ref), gc_release(3, grads), gc_release(6, v);
    ds_graph_release(G);
}

/* ---------------------------------------------------------------- errors */
static ds_status run2(ds_op_id op, ds_dtype dt, const int64_t *s0, int n0, const int64_t *s1, int n1, const ds_attr *attrs) {
    ds_tensor *a = NULL, *b = NULL, *y = NULL;
    ds_tensor_new_zeros(dt, n0, s0, &a);
    if (n1) ds_tensor_new_zeros(DS_FLOAT32, n1, s1, &b);
    ds_status st = ds_op_run1(op, n1 ? 2 : 1, (ds_tensor *[]){a, b}, attrs, &y);
    ds_tensor_release(a), ds_tensor_release(b), ds_tensor_release(y);
    return st;
}
#define F32 DS_FLOAT32

DS_TEST(conv_errors) {
    ds_attr g1[4] = {AN, AN, AN, AI(1)}, g2[4] = {AN, AN, AN, AI(2)};
    CHECK_ERR(run2(DS_OP_CONV2D, F32, SH(1, 3, 5, 5), 4, SH(2, 4, 3, 3), 4, g1), DS_ERR_SHAPE,
              "conv2d: input [1, 3, 5, 5] has 3 channels, weight [2, 4, 3, 3] expects 4 (groups=1)");
    CHECK_ERR(run2(DS_OP_CONV2D, F32, SH(1, 3, 5, 5), 4, SH(2, 1, 3, 3), 4, g2), DS_ERR_SHAPE,
              "conv2d: groups=2 does not divide the input's 3 channels (input [1, 3, 5, 5])");
    CHECK_ERR(run2(DS_OP_CONV2D, F32, SH(1, 4, 5, 5), 4, SH(3, 2, 3, 3), 4, g2), DS_ERR_SHAPE,
              "conv2d: groups=2 does not divide the weight's 3 output channels");
    CHECK_ERR(run2(DS_OP_CONV2D, F32, SH(1, 1, 2, 3), 4, SH(1, 1, 5, 3), 4, g1), DS_ERR_SHAPE,
              "conv2d: input [1, 1, 2, 3] with weight [1, 1, 5, 3] gives a non-positive output size [-2, 1]");
    CHECK_ERR(run2(DS_OP_CONV2D, F32, SH(3, 5, 5), 3, SH(1, 3, 3, 3), 4, g1), DS_ERR_SHAPE,
              "conv2d: input must be 4-D [N, C, H, W], got [3, 5, 5]");
    CHECK_ERR(run2(DS_OP_CONV2D, DS_INT32, SH(1, 1, 5, 5), 4, SH(1, 1, 3, 3), 4, g1), DS_ERR_DTYPE,
              "conv2d: input must be a float tensor, got int32");
    CHECK_ERR(run2(DS_OP_CONV2D, F32, SH(1, 1, 5, 5), 4, SH(1, 1, 0, 3), 4, g1), DS_ERR_SHAPE, "has an empty kernel");
    ds_attr bad_stride[4] = {AIS(1, 0), AN, AN, AI(1)}, bad_pad[4] = {AN, AIS(1, 1, 1), AN, AI(1)};
    ds_attr bad_dil[4] = {AN, AN, AIS(1, 2, 3), AI(1)}, bad_groups[4] = {AN, AN, AN, AI(0)}, neg_pad[4] = {AN, AIS(-1), AN, AI(1)};
    CHECK_ERR(run2(DS_OP_CONV2D, F32, SH(1, 1, 5, 5), 4, SH(1, 1, 3, 3), 4, bad_stride), DS_ERR_VALUE,
              "attribute 'stride' must be >= 1, got [1, 0]");
    CHECK_ERR(run2(DS_OP_CONV2D, F32, SH(1, 1, 5, 5), 4, SH(1, 1, 3, 3), 4, bad_pad), DS_ERR_VALUE,
              "attribute 'padding' must have 1, 2 or 4 entries, got 3");
    CHECK_ERR(run2(DS_OP_CONV2D, F32, SH(1, 1, 5, 5), 4, SH(1, 1, 3, 3), 4, neg_pad), DS_ERR_VALUE,
              "attribute 'padding' must be >= 0");
    CHECK_ERR(run2(DS_OP_CONV2D, F32, SH(1, 1, 5, 5), 4, SH(1, 1, 3, 3), 4, bad_dil), DS_ERR_VALUE,
              "attribute 'dilation' must have 1 or 2 entries, got 3");
    CHECK_ERR(run2(DS_OP_CONV2D, F32, SH(1, 1, 5, 5), 4, SH(1, 1, 3, 3), 4, bad_groups), DS_ERR_VALUE,
              "attribute 'groups' must be >= 1, got 0");
    ds_attr bi[5] = {AIS(1, 2, 8, 8), AIS(2), AN, AN, AI(1)};
    CHECK_ERR(run2(DS_OP_CONV2D_BACKPROP_INPUT, F32, SH(1, 3, 4, 4), 4, SH(3, 2, 3, 3), 4, bi), DS_ERR_SHAPE,
              "conv2d_backprop_input: dy is [1, 3, 4, 4], but conv2d of input [1, 2, 8, 8] with weight [3, 2, 3, 3] gives "
              "[1, 3, 3, 3]");
    ds_attr bf[5] = {AIS(3, 2, 3), AN, AN, AN, AI(1)};
    CHECK_ERR(run2(DS_OP_CONV2D_BACKPROP_FILTER, F32, SH(1, 3, 4, 4), 4, SH(1, 2, 6, 6), 4, bf), DS_ERR_VALUE,
              "conv2d_backprop_filter: attribute 'filter_shape' must have 4 entries, got 3");
    ds_attr bf2[5] = {AIS(3, 2, 3, 3), AN, AN, AN, AI(1)};
    CHECK_ERR(run2(DS_OP_CONV2D_BACKPROP_FILTER, F32, SH(1, 3, 4, 4), 4, SH(1, 2, 5, 6), 4, bf2), DS_ERR_SHAPE,
              "conv2d_backprop_filter: dy is [1, 3, 4, 4], but conv2d of input [1, 2, 5, 6] with weight [3, 2, 3, 3] gives "
              "[1, 3, 3, 4]");
}

DS_TEST(pool_errors) {
    ds_attr m[5] = {AIS(3), AN, AIS(2), AN, AB(false)}, m0[5] = {AIS(0, 2), AN, AN, AN, AB(false)};
    CHECK_ERR(run2(DS_OP_MAX_POOL2D, F32, SH(1, 1, 6, 6), 4, NULL, 0, m), DS_ERR_VALUE,
              "max_pool2d: padding 2 is more than half the kernel size 3");
    ds_attr md[5] = {AIS(2), AN, AIS(2), AIS(2), AB(false)};
    CHECK_ERR(run2(DS_OP_MAX_POOL2D, F32, SH(1, 1, 6, 6), 4, NULL, 0, md), DS_ERR_VALUE,
              "max_pool2d: padding 2 is more than half the dilated kernel size 3");
    CHECK_ERR(run2(DS_OP_MAX_POOL2D, F32, SH(1, 1, 6, 6), 4, NULL, 0, m0), DS_ERR_VALUE,
              "max_pool2d: attribute 'kernel_size' must be >= 1, got [0, 2]");
    ds_attr big[5] = {AIS(4), AN, AN, AN, AB(false)};
    CHECK_ERR(run2(DS_OP_MAX_POOL2D, F32, SH(1, 1, 3, 6), 4, NULL, 0, big), DS_ERR_SHAPE,
              "max_pool2d: input [1, 1, 3, 6] with kernel [4, 4] gives a non-positive output size [0, 1]");
    CHECK_ERR(run2(DS_OP_MAX_POOL2D, F32, SH(6, 6), 2, NULL, 0, big), DS_ERR_SHAPE,
              "max_pool2d: input must be 3-D [C, H, W] or 4-D [N, C, H, W], got [6, 6]");
    CHECK_ERR(run2(DS_OP_MAX_POOL2D, DS_INT64, SH(1, 6, 6), 3, NULL, 0, big), DS_ERR_DTYPE,
              "max_pool2d: input must be a float tensor, got int64");
    ds_attr k2[5] = {AIS(2), AN, AN, AN, AB(false)};
    CHECK_ERR(run2(DS_OP_MAX_POOL2D_GRAD, F32, SH(1, 1, 2, 2), 4, SH(1, 1, 6, 6), 4, k2), DS_ERR_SHAPE,
              "max_pool2d_grad: dy is [1, 1, 2, 2], but pooling input [1, 1, 6, 6] gives [1, 1, 3, 3]");
    CHECK_ERR(run2(DS_OP_MAX_POOL2D_GRAD_GRAD, F32, SH(1, 1, 2, 2), 4, SH(1, 1, 6, 6), 4, k2), DS_ERR_SHAPE,
              "max_pool2d_grad_grad: g is [1, 1, 2, 2], but the input is [1, 1, 6, 6]");
    ds_attr a0[6] = {AIS(2), AN, AN, AB(false), AB(true), AI(0)};
    CHECK_ERR(run2(DS_OP_AVG_POOL2D, F32, SH(1, 1, 6, 6), 4, NULL, 0, a0), DS_ERR_VALUE,
              "avg_pool2d: attribute 'divisor_override' must not be 0");
    ds_attr ag[7] = {AIS(1, 6, 6), AIS(2), AN, AN, AB(false), AB(true), AN};
    CHECK_ERR(run2(DS_OP_AVG_POOL2D_GRAD, F32, SH(1, 1, 3, 3), 4, NULL, 0, ag), DS_ERR_SHAPE,
              "avg_pool2d_grad: attribute 'input_shape' has 3 entries, dy [1, 1, 3, 3] has 4 dims");
    ds_attr ad[1] = {AIS(1, 2, 3)};
    CHECK_ERR(run2(DS_OP_ADAPTIVE_AVG_POOL2D, F32, SH(1, 1, 6, 6), 4, NULL, 0, ad), DS_ERR_VALUE,
              "adaptive_avg_pool2d: attribute 'output_size' must have 1 or 2 entries, got 3");
    ds_attr adg[1] = {AIS(2, 1, 6, 6)};
    CHECK_ERR(run2(DS_OP_ADAPTIVE_AVG_POOL2D_GRAD, F32, SH(1, 1, 3, 3), 4, NULL, 0, adg), DS_ERR_SHAPE,
              "adaptive_avg_pool2d_grad: dy [1, 1, 3, 3] does not match input_shape [2, 1, 6, 6] in its leading dims");
}

/* ---------------------------------------------------------------- allocation failures */
/* Conv and pooling calls that allocate: float16 temporaries, column buffers, filter partial sums. */
static ds_status workload(void) {
    ds_tensor *x = NULL, *w = NULL, *y = NULL, *dw = NULL, *dx = NULL, *p = NULL, *h = NULL;
    ds_status st = DS_OK;
    ds_attr c[4] = {AIS(2), AIS(1), AN, AI(2)}, m[5] = {AIS(2), AN, AN, AN, AB(false)};
    ds_attr bf[5] = {AIS(4, 2, 3, 3), AIS(2), AIS(1), AN, AI(2)}, bi[5] = {AIS(10, 4, 9, 9), AIS(2), AIS(1), AN, AI(2)};
    DS_TRY(ds_tensor_new_zeros(DS_FLOAT32, 4, SH(10, 4, 9, 9), &x));
    DS_TRY(ds_tensor_new_zeros(DS_FLOAT32, 4, SH(4, 2, 3, 3), &w));
    DS_TRY(ds_op_run1(DS_OP_CONV2D, 2, (ds_tensor *[]){x, w}, c, &y));
    DS_TRY(ds_op_run1(DS_OP_CONV2D_BACKPROP_FILTER, 2, (ds_tensor *[]){y, x}, bf, &dw));
    DS_TRY(ds_op_run1(DS_OP_CONV2D_BACKPROP_INPUT, 2, (ds_tensor *[]){y, w}, bi, &dx));
    DS_TRY(ds_tensor_new_zeros(DS_FLOAT16, 3, SH(2, 6, 6), &h));
    DS_TRY(ds_op_run1(DS_OP_MAX_POOL2D, 1, &h, m, &p));
fail:
    ds_tensor_release(x), ds_tensor_release(w), ds_tensor_release(y), ds_tensor_release(dw);
    ds_tensor_release(dx), ds_tensor_release(p), ds_tensor_release(h);
    return st;
}

DS_TEST(allocation_failures_leak_nothing) {
    int keep = ds_get_num_threads();
    ds_set_num_threads(1); /* a deterministic allocation order */
    CHECK_OK(workload());
    int64_t base = ds_alloc_live_blocks();
    ds_alloc_debug_begin(0);
    CHECK_OK(workload());
    int64_t total = ds_alloc_debug_count();
    CHECK(total > 10);
    for (int64_t k = 1; k <= total; k++) {
        ds_alloc_debug_begin(k);
        CHECK(workload() == DS_ERR_NOMEM);
        CHECK(ds_alloc_live_blocks() == base);
    }
    ds_alloc_debug_begin(0);
    ds_set_num_threads(keep);
}

DS_TEST_MAIN()
