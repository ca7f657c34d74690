/* Creation ops (full, arange, linspace, eye) and random ops (uniform, normal, bernoulli) drawing from
 * the global Philox generator (kernels/random.h). Messages leave out the op name: the dispatcher
 * prefixes it. */
#include <math.h>
#include <string.h>

#include "base/alloc.h"
#include "base/status.h"
#include "base/threadpool.h"
#include "kernels/copy.h"
#include "kernels/random.h"
#include "ops/op.h"
#include "tensor/dtype.h"

/* Reads a `shape` attribute into out (DS_ERR_VALUE / DS_ERR_SHAPE if bad). */
static ds_status shape_attr(const ds_attr *a, ds_meta *out) {
    if (a->kind != DS_ATTR_INTS) return ds_errorf(DS_ERR_VALUE, "shape must be a list of ints");
    if (a->n > DS_MAX_DIMS)
        return ds_errorf(DS_ERR_SHAPE, "a tensor has at most %d dims, got %lld", DS_MAX_DIMS, (long long)a->n);
    for (int64_t i = 0; i < a->n; i++)
        if (a->v.ints[i] < 0) {
            char buf[DS_SHAPE_STR_MAX];
            return ds_errorf(DS_ERR_VALUE, "negative dimensions are not allowed (shape %s)",
                             ds_shape_str((int)a->n, a->v.ints, buf, sizeof buf));
        }
    out->ndim = (int)a->n;
    memcpy(out->shape, a->v.ints, sizeof(int64_t) * (size_t)a->n);
    return DS_OK;
}

static ds_status check_finite(double v, const char *what) {
    if (isfinite(v)) return DS_OK;
    return ds_errorf(DS_ERR_VALUE, "%s must be finite, got %g", what, v);
}

/* ---------------------------------------------------------------- full */
/* full(shape, value, dtype): every element is value converted to dtype. */
static ds_status full_infer(ds_op_id op, int n_in, const ds_meta *in, const ds_attr *attrs,
                            ds_meta *out, int *n_out) {
    ds_status st = shape_attr(&attrs[0], out);
    if (st) return st;
    out->dtype = attrs[2].v.dtype;
    *n_out = 1;
    return DS_OK;
}

static ds_status full_run(ds_op_call *c) {
    ds_tensor *out = c->out[0];
    unsigned char v[8];
    ds_dtype_store_double(out->dtype, v, c->attrs[1].v.f);
    ds_fill_elems(out->data, out->numel, v, ds_dtype_size(out->dtype));
    return DS_OK;
}

/* ---------------------------------------------------------------- arange / linspace */
/* out[i] = start + i * step for i < n; linspace sets out[n-1] = last exactly and floors for integer
 * dtypes (as NumPy); arange computes in int64 when dtype is an integer and start, step are integral. */
typedef struct affine_ctx {
    ds_dtype dt;
    char *dst;
    int64_t n;
    double start, step, div, delta; /* div > 0: y = start + (i / div) * delta (linspace, step 0) */
    bool has_last, floor_int, exact_int;
    double last;
    int64_t istart, istep;
} affine_ctx;

static void affine_range(void *p, int64_t b, int64_t e) {
    const affine_ctx *c = p;
    size_t es = ds_dtype_size(c->dt);
    if (c->exact_int) {
        for (int64_t i = b; i < e; i++) {
            int64_t v = c->istart + i * c->istep;
            if (c->dt == DS_INT64) ((int64_t *)c->dst)[i] = v;
            else ds_dtype_store_int(c->dt, c->dst + (size_t)i * es, v);
        }
        return;
    }
    for (int64_t i = b; i < e; i++) {
        double v = c->div > 0 ? c->start + ((double)i / c->div) * c->delta : c->start + (double)i * c->step;
        if (c->has_last && i == c->n - 1) v = c->last;
        if (c->floor_int) v = floor(v);
        if (c->dt == DS_FLOAT32) ((float *)c->dst)[i] = (float)v;
        else if (c->dt == DS_FLOAT64) ((double *)c->dst)[i] = v;
        else ds_dtype_store_double(c->dt, c->dst + (size_t)i * es, v);
    }
}

static void affine_fill(affine_ctx *c) {
    if (c->n > 0) ds_parallel_for(c->n, 1 << 15, affine_range, c);
}

/* NumPy's length rule: ceil((stop - start) / step), at least 0. */
static ds_status arange_len(const ds_attr *a, int64_t *n) {
    double start = a[0].v.f, stop = a[1].v.f, step = a[2].v.f;
    ds_status st = check_finite(start, "start");
    if (!st) st = check_finite(stop, "stop");
    if (!st) st = check_finite(step, "step");
    if (st) return st;
    if (step == 0) return ds_errorf(DS_ERR_VALUE, "step must not be zero");
    double len = ceil((stop - start) / step);
    if (!(len > 0)) len = 0;
    if (len > 9.0e15)
        return ds_errorf(DS_ERR_VALUE, "arange(%g, %g, %g) would have %g elements, too many", start, stop,
                         step, len);
    *n = (int64_t)len;
    return DS_OK;
}

static ds_status arange_infer(ds_op_id op, int n_in, const ds_meta *in, const ds_attr *attrs,
                              ds_meta *out, int *n_out) {
    int64_t n = 0;
    ds_dtype dt = attrs[3].v.dtype;
    if (dt == DS_BOOL) return ds_errorf(DS_ERR_DTYPE, "dtype bool is not supported");
    ds_status st = arange_len(attrs, &n);
    if (st) return st;
    double last = attrs[0].v.f + (double)(n > 0 ? n - 1 : 0) * attrs[2].v.f;
    if (ds_dtype_is_int(dt) && (fabs(attrs[0].v.f) >= 0x1p63 || fabs(last) >= 0x1p63))
        return ds_errorf(DS_ERR_VALUE, "values up to %g do not fit in an integer dtype", last);
    out->dtype = dt;
    out->ndim = 1;
    out->shape[0] = n;
    *n_out = 1;
    return DS_OK;
}

static bool is_int_valued(double v) { return v == floor(v) && fabs(v) < 9.0e15; }

static ds_status arange_run(ds_op_call *c) {
    ds_tensor *out = c->out[0];
    double start = c->attrs[0].v.f, step = c->attrs[2].v.f;
    affine_ctx a = {.dt = out->dtype, .dst = out->data, .n = out->numel, .start = start, .step = step};
    if (ds_dtype_is_int(out->dtype) && is_int_valued(start) && is_int_valued(step)) {
        a.exact_int = true;
        a.istart = (int64_t)start;
        a.istep = (int64_t)step;
    }
    affine_fill(&a);
    return DS_OK;
}

/* linspace(start, stop, num, dtype): num evenly spaced values from start to stop inclusive,
 * computed as NumPy does: start + i * step with step = (stop - start) / (num - 1), the last one
 * exactly stop; integer dtypes take the floor. */
static ds_status linspace_infer(ds_op_id op, int n_in, const ds_meta *in, const ds_attr *attrs,
                                ds_meta *out, int *n_out) {
    int64_t num = attrs[2].v.i;
    ds_status st = check_finite(attrs[0].v.f, "start");
    if (!st) st = check_finite(attrs[1].v.f, "stop");
    if (st) return st;
    if (num < 0) return ds_errorf(DS_ERR_VALUE, "number of samples, %lld, must be non-negative", (long long)num);
    out->dtype = attrs[3].v.dtype;
    out->ndim = 1;
    out->shape[0] = num;
    *n_out = 1;
    return DS_OK;
}

static ds_status linspace_run(ds_op_call *c) {
    ds_tensor *out = c->out[0];
    double start = c->attrs[0].v.f, stop = c->attrs[1].v.f;
    int64_t num = out->numel;
    affine_ctx a = {.dt = out->dtype, .dst = out->data, .n = num, .start = start,
                    .floor_int = ds_dtype_is_int(out->dtype)};
    if (num > 1) {
        double div = (double)(num - 1), delta = stop - start;
        a.step = delta / div;
        if (a.step == 0) { /* underflow (or start == stop): NumPy divides first */
            a.div = div;
            a.delta = delta;
        }
        a.has_last = true;
        a.last = stop;
    }
    affine_fill(&a);
    return DS_OK;
}

/* ---------------------------------------------------------------- eye */
/* eye(n, m, dtype): an [n, m] matrix (m None -> n) with ones on the main diagonal. */
static ds_status eye_dims(const ds_attr *attrs, int64_t *n, int64_t *m) {
    *n = attrs[0].v.i;
    *m = ds_attr_is_none(&attrs[1]) ? *n : attrs[1].v.i;
    if (*n < 0 || *m < 0)
        return ds_errorf(DS_ERR_VALUE, "negative dimensions are not allowed (n = %lld, m = %lld)",
                         (long long)*n, (long long)*m);
    return DS_OK;
}

static ds_status eye_infer(ds_op_id op, int n_in, const ds_meta *in, const ds_attr *attrs,
                           ds_meta *out, int *n_out) {
    int64_t n, m;
    ds_status st = eye_dims(attrs, &n, &m);
    if (st) return st;
    out->dtype = attrs[2].v.dtype;
    out->ndim = 2;
    out->shape[0] = n;
    out->shape[1] = m;
    *n_out = 1;
    return DS_OK;
}

static ds_status eye_run(ds_op_call *c) {
    ds_tensor *out = c->out[0];
    if (out->numel == 0) return DS_OK;
    size_t es = ds_dtype_size(out->dtype);
    int64_t n = out->shape[0], m = out->shape[1];
    unsigned char zero[8] = {0}, one[8];
    ds_fill_elems(out->data, out->numel, zero, es);
    ds_dtype_store_double(out->dtype, one, 1.0);
    for (int64_t i = 0; i < n && i < m; i++) memcpy(out->data + (size_t)(i * m + i) * es, one, es);
    return DS_OK;
}

/* ---------------------------------------------------------------- uniform / normal */
static ds_status random_infer_common(const ds_attr *attrs, ds_meta *out, int *n_out) {
    ds_status st = shape_attr(&attrs[0], out);
    if (st) return st;
    ds_dtype dt = attrs[3].v.dtype;
    if (!ds_dtype_is_float(dt))
        return ds_errorf(DS_ERR_DTYPE, "dtype %s is not supported: a floating-point dtype is required",
                         ds_dtype_name(dt));
    out->dtype = dt;
    *n_out = 1;
    return DS_OK;
}

/* uniform(shape, low, high, dtype): values in [low, high) (low <= high; low == high gives low). */
static ds_status uniform_infer(ds_op_id op, int n_in, const ds_meta *in, const ds_attr *attrs,
                               ds_meta *out, int *n_out) {
    double lo = attrs[1].v.f, hi = attrs[2].v.f;
    ds_status st = check_finite(lo, "low");
    if (!st) st = check_finite(hi, "high");
    if (!st && !isfinite(hi - lo)) st = ds_errorf(DS_ERR_VALUE, "high - low overflows (low = %g, high = %g)", lo, hi);
    if (!st && lo > hi) st = ds_errorf(DS_ERR_VALUE, "low (%g) must be <= high (%g)", lo, hi);
    return st ? st : random_infer_common(attrs, out, n_out);
}

static ds_status uniform_run(ds_op_call *c) {
    ds_tensor *out = c->out[0];
    ds_random_fill_uniform(out->dtype, out->data, out->numel, c->attrs[1].v.f, c->attrs[2].v.f);
    return DS_OK;
}

/* normal(shape, mean, std, dtype): values from N(mean, std^2), std >= 0. */
static ds_status normal_infer(ds_op_id op, int n_in, const ds_meta *in, const ds_attr *attrs,
                              ds_meta *out, int *n_out) {
    double mean = attrs[1].v.f, std = attrs[2].v.f;
    ds_status st = check_finite(mean, "mean");
    if (!st) st = check_finite(std, "std");
    if (!st && std < 0) st = ds_errorf(DS_ERR_VALUE, "std must be non-negative, got %g", std);
    return st ? st : random_infer_common(attrs, out, n_out);
}

static ds_status normal_run(ds_op_call *c) {
    ds_tensor *out = c->out[0];
    ds_random_fill_normal(out->dtype, out->data, out->numel, c->attrs[1].v.f, c->attrs[2].v.f);
    return DS_OK;
}

/* ---------------------------------------------------------------- bernoulli */
/* bernoulli(x; p): output with x's shape and dtype, each element 1 with probability p (attr given)
 * or x's element (attr None), else 0. Probabilities must lie in [0, 1]. */
static ds_status bernoulli_infer(ds_op_id op, int n_in, const ds_meta *in, const ds_attr *attrs,
                                 ds_meta *out, int *n_out) {
    if (!ds_attr_is_none(&attrs[0])) {
        double p = attrs[0].v.f;
        if (!(p >= 0 && p <= 1)) return ds_errorf(DS_ERR_VALUE, "p must be in [0, 1], got %g", p);
    }
    *out = in[0];
    *n_out = 1;
    return DS_OK;
}

static ds_status bernoulli_run(ds_op_call *c) {
    ds_tensor *x = c->in[0], *out = c->out[0], *pc = NULL;
    if (!ds_attr_is_none(&c->attrs[0])) {
        ds_random_fill_bernoulli(out->dtype, out->data, out->numel, c->attrs[0].v.f, x->dtype, NULL);
        return DS_OK;
    }
    ds_status st = ds_tensor_contiguous(x, &pc);
    if (st) return st;
    size_t es = ds_dtype_size(pc->dtype);
    for (int64_t i = 0; i < pc->numel; i++) {
        double p = ds_dtype_load_double(pc->dtype, pc->data + (size_t)i * es);
        if (!(p >= 0 && p <= 1)) {
            st = ds_errorf(DS_ERR_VALUE, "probability %g at element %lld is outside [0, 1]", p, (long long)i);
            goto fail;
        }
    }
    ds_random_fill_bernoulli(out->dtype, out->data, out->numel, 0, pc->dtype, pc->data);
fail:
    ds_tensor_release(pc);
    return st;
}

/* Fills the registry slots of full, arange, linspace, eye, uniform, normal and bernoulli. */
void ds_ops_register_create(ds_op_impl *table) {
    table[DS_OP_FULL] = (ds_op_impl){full_infer, full_run, 0};
    table[DS_OP_ARANGE] = (ds_op_impl){arange_infer, arange_run, 0};
    table[DS_OP_LINSPACE] = (ds_op_impl){linspace_infer, linspace_run, 0};
    table[DS_OP_EYE] = (ds_op_impl){eye_infer, eye_run, 0};
    table[DS_OP_UNIFORM] = (ds_op_impl){uniform_infer, uniform_run, DS_IMPL_EFFECT};
    table[DS_OP_NORMAL] = (ds_op_impl){normal_infer, normal_run, DS_IMPL_EFFECT};
    table[DS_OP_BERNOULLI] = (ds_op_impl){bernoulli_infer, bernoulli_run, DS_IMPL_EFFECT};
}
