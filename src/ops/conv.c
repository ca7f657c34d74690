/* Convolution and pooling ops (include/dynastat_ops.def, section "convolution and pooling"), NCHW:
 *
 *   conv2d(x [N, C, H, W], w [O, C/groups, kh, kw]; stride, padding, dilation, groups) -> [N, O, Ho, Wo]
 *       Ho = floor((H + pad_top + pad_bottom - dilation_h * (kh - 1) - 1) / stride_h) + 1 (no bias)
 *   conv2d_backprop_input(dy, w; input_shape, ...)   the gradient of conv2d with respect to x, of shape
 *       input_shape (MindSpore's Conv2DBackpropInput; also conv2d_transpose with w as the input)
 *   conv2d_backprop_filter(dy, x; filter_shape, ...) the gradient of conv2d with respect to w
 *   max_pool2d(x; kernel_size, stride, padding, dilation, ceil_mode)
 *   max_pool2d_grad(dy, x; same)        dy routed to each window's maximum of x (the first on ties)
 *   max_pool2d_grad_grad(g, x; same)    g (shaped like x) read at each window's maximum: the adjoint
 *                                        of max_pool2d_grad in dy, so second order closes
 *   avg_pool2d(x; kernel_size, stride, padding, ceil_mode, count_include_pad, divisor_override)
 *   avg_pool2d_grad(dy; input_shape, kernel_size, ...)
 *   adaptive_avg_pool2d(x; output_size)  PyTorch's windows [floor(i H / Ho), ceil((i + 1) H / Ho))
 *   adaptive_avg_pool2d_grad(dy; input_shape)
 *
 * Attributes: stride, dilation and kernel_size take 1 or 2 ints (None: stride 1 for conv and the
 * kernel size for pools, dilation 1); padding takes 1, 2 (h, w) or 4 (top, bottom, left, right) ints
 * (None: 0). Pool paddings are at most half the (dilated) kernel, as in PyTorch. ceil_mode rounds the
 * output size up, dropping a last window that would start in the bottom/right padding. output_size
 * takes 1 or 2 ints, -1 keeping that input dim. In input_shape / filter_shape, -1 entries are taken
 * from the other operands (batch from dy, channels from w, x or dy), so a dynamic batch works.
 * Pools accept [C, H, W] or [N, C, H, W]; conv needs [N, C, H, W]. Float dtypes only; mixed operands
 * promote; float16/bfloat16 compute in float32. Messages leave out the op name (the dispatcher adds it). */
#include <string.h>

#include "base/alloc.h"
#include "base/status.h"
#include "kernels/conv.h"
#include "ops/op.h"

#define SHAPE_S(nd, s, buf) ds_shape_str((nd), (s), (buf), sizeof(buf))

/* ---------------------------------------------------------------- attributes */
/* An ints attribute of 1 or 2 entries (None: def) into out[2], each >= lo. */
static ds_status pair_attr(const ds_attr *a, const char *name, int64_t def, int64_t lo, int64_t out[2]) {
    if (ds_attr_is_none(a)) {
        out[0] = out[1] = def;
    } else if (a->n == 1 || a->n == 2) {
        out[0] = a->v.ints[0];
        out[1] = a->v.ints[a->n - 1];
    } else {
        return ds_errorf(DS_ERR_VALUE, "attribute '%s' must have 1 or 2 entries, got %lld", name, (long long)a->n);
    }
    if (out[0] < lo || out[1] < lo)
        return ds_errorf(DS_ERR_VALUE, "attribute '%s' must be >= %lld, got [%lld, %lld]", name, (long long)lo,
                         (long long)out[0], (long long)out[1]);
    return DS_OK;
}

/* padding: None, 1, 2 (h, w) or 4 (top, bottom, left, right) non-negative ints -> out[4] (t, b, l, r). */
static ds_status pad_attr(const ds_attr *a, int64_t out[4]) {
    if (ds_attr_is_none(a)) {
        memset(out, 0, 4 * sizeof(int64_t));
        return DS_OK;
    }
    const int64_t *v = a->v.ints;
    if (a->n == 1) out[0] = out[1] = out[2] = out[3] = v[0];
    else if (a->n == 2) out[0] = out[1] = v[0], out[2] = out[3] = v[1];
    else if (a->n == 4) memcpy(out, v, 4 * sizeof(int64_t));
    else return ds_errorf(DS_ERR_VALUE, "attribute 'padding' must have 1, 2 or 4 entries, got %lld", (long long)a->n);
    for (int i = 0; i < 4; i++)
        if (out[i] < 0) return ds_errorf(DS_ERR_VALUE, "attribute 'padding' must be >= 0, got %lld", (long long)out[i]);
    return DS_OK;
}

/* An ints attribute naming a shape of one of the given ranks. */
static ds_status shape_attr(const ds_attr *a, const char *name, int lo_rank, int hi_rank) {
    if (a->n < lo_rank || a->n > hi_rank) {
        if (lo_rank == hi_rank)
            return ds_errorf(DS_ERR_VALUE, "attribute '%s' must have %d entries, got %lld", name, lo_rank, (long long)a->n);
        return ds_errorf(DS_ERR_VALUE, "attribute '%s' must have %d or %d entries, got %lld", name, lo_rank, hi_rank,
                         (long long)a->n);
    }
    for (int64_t i = 0; i < a->n; i++)
        if (a->v.ints[i] < -1) return ds_errorf(DS_ERR_VALUE, "attribute '%s' has a negative entry %lld", name,
                                                (long long)a->v.ints[i]);
    return DS_OK;
}

static ds_status need_float(const ds_meta *m, const char *what) {
    if (!ds_dtype_is_float(m->dtype))
        return ds_errorf(DS_ERR_DTYPE, "%s must be a float tensor, got %s", what, ds_dtype_name(m->dtype));
    return DS_OK;
}

/* floor((in + pa + pb - d (k - 1) - 1 [+ s - 1 with ceil]) / s) + 1; with ceil_mode the last window
 * must start inside the input or its leading padding. May be <= 0 (the caller reports it). */
static int64_t out_dim(int64_t in, int64_t pa, int64_t pb, int64_t k, int64_t s, int64_t d, bool ceil) {
    int64_t num = in + pa + pb - d * (k - 1) - 1 + (ceil ? s - 1 : 0);
    int64_t o = (num >= 0 ? num / s : -((-num + s - 1) / s)) + 1;
    if (ceil && o > 0 && (o - 1) * s >= in + pa) o--;
    return o;
}

/* ---------------------------------------------------------------- convolution geometry */
typedef struct conv_attrs {
    int64_t stride[2], pad[4], dil[2], groups;
} conv_attrs;

/* at: stride, padding, dilation, groups. */
static ds_status conv_attrs_of(const ds_attr *at, conv_attrs *ca) {
    ds_status st;
    if ((st = pair_attr(&at[0], "stride", 1, 1, ca->stride)) || (st = pad_attr(&at[1], ca->pad)) ||
        (st = pair_attr(&at[2], "dilation", 1, 1, ca->dil)))
        return st;
    ca->groups = at[3].kind == DS_ATTR_INT ? at[3].v.i : 1;
    if (ca->groups < 1) return ds_errorf(DS_ERR_VALUE, "attribute 'groups' must be >= 1, got %lld", (long long)ca->groups);
    return DS_OK;
}

/* Checks x [N, C, H, W] against w [O, C/groups, kh, kw] and fills the geometry. */
static ds_status conv_geom(const int64_t *xs, const int64_t *ws, const conv_attrs *ca, ds_conv2d_geom *g) {
    char sx[DS_SHAPE_STR_MAX], sw[DS_SHAPE_STR_MAX];
    SHAPE_S(4, xs, sx);
    SHAPE_S(4, ws, sw);
    int64_t gr = ca->groups;
    if (xs[1] % gr != 0)
        return ds_errorf(DS_ERR_SHAPE, "groups=%lld does not divide the input's %lld channels (input %s)", (long long)gr,
                         (long long)xs[1], sx);
    if (ws[0] % gr != 0)
        return ds_errorf(DS_ERR_SHAPE, "groups=%lld does not divide the weight's %lld output channels (weight %s)",
                         (long long)gr, (long long)ws[0], sw);
    if (xs[1] != ws[1] * gr)
        return ds_errorf(DS_ERR_SHAPE, "input %s has %lld channels, weight %s expects %lld (groups=%lld)", sx,
                         (long long)xs[1], sw, (long long)(ws[1] * gr), (long long)gr);
    if (ws[2] < 1 || ws[3] < 1) return ds_errorf(DS_ERR_SHAPE, "weight %s has an empty kernel", sw);
    *g = (ds_conv2d_geom){.n = xs[0], .c = xs[1], .h = xs[2], .w = xs[3], .o = ws[0], .kh = ws[2], .kw = ws[3],
                          .sh = ca->stride[0], .sw = ca->stride[1], .pt = ca->pad[0], .pl = ca->pad[2],
                          .dh = ca->dil[0], .dw = ca->dil[1], .groups = gr};
    g->ho = out_dim(g->h, ca->pad[0], ca->pad[1], g->kh, g->sh, g->dh, false);
    g->wo = out_dim(g->w, ca->pad[2], ca->pad[3], g->kw, g->sw, g->dw, false);
    if (g->ho < 1 || g->wo < 1)
        return ds_errorf(DS_ERR_SHAPE,
                         "input %s with weight %s gives a non-positive output size [%lld, %lld] (stride [%lld, %lld], "
                         "padding [%lld, %lld, %lld, %lld], dilation [%lld, %lld])",
                         sx, sw, (long long)g->ho, (long long)g->wo, (long long)ca->stride[0], (long long)ca->stride[1],
                         (long long)ca->pad[0], (long long)ca->pad[1], (long long)ca->pad[2], (long long)ca->pad[3],
                         (long long)ca->dil[0], (long long)ca->dil[1]);
    return DS_OK;
}

static ds_status need_4d(const ds_meta *m, const char *what, const char *layout) {
    if (m->ndim != 4) {
        char s[DS_SHAPE_STR_MAX];
        return ds_errorf(DS_ERR_SHAPE, "%s must be 4-D %s, got %s", what, layout, SHAPE_S(m->ndim, m->shape, s));
    }
    return DS_OK;
}

/* The geometry of a conv op call from its input metas: conv2d (x, w), backprop_input (dy, w;
 * input_shape), backprop_filter (dy, x; filter_shape). With `full`, also checks that dy is the
 * forward's output shape; infer leaves that to run, because while a graph is built, dims that are not
 * static stand in for sizes only known to agree at run time (as in ops/grad_ops.c). */
static ds_status conv_op_geom(ds_op_id op, const ds_meta *in, const ds_attr *attrs, bool full, ds_conv2d_geom *g) {
    conv_attrs ca = {{1, 1}, {0}, {1, 1}, 1};
    ds_status st;
    const ds_attr *at = op == DS_OP_CONV2D ? attrs : attrs + 1;
    if ((st = conv_attrs_of(at, &ca))) return st;
    if (op == DS_OP_CONV2D) {
        if ((st = need_4d(&in[0], "input", "[N, C, H, W]")) || (st = need_4d(&in[1], "weight", "[O, C/groups, kh, kw]")))
            return st;
        return conv_geom(in[0].shape, in[1].shape, &ca, g);
    }
    bool bi = op == DS_OP_CONV2D_BACKPROP_INPUT;
    if ((st = need_4d(&in[0], "dy", "[N, O, Ho, Wo]")) ||
        (st = need_4d(&in[1], bi ? "weight" : "input", bi ? "[O, C/groups, kh, kw]" : "[N, C, H, W]")) ||
        (st = shape_attr(&attrs[0], bi ? "input_shape" : "filter_shape", 4, 4)))
        return st;
    int64_t s[4];
    memcpy(s, attrs[0].v.ints, sizeof s);
    if (bi) {
        if (s[0] < 0) s[0] = in[0].shape[0];
        if (s[1] < 0) s[1] = in[1].shape[1] * ca.groups;
        if (s[2] < 0 || s[3] < 0) return ds_errorf(DS_ERR_VALUE, "attribute 'input_shape' needs the spatial dims");
    } else {
        if (s[0] < 0) s[0] = in[0].shape[1];
        if (s[1] < 0) s[1] = in[1].shape[1] / ca.groups;
        if (s[2] < 0 || s[3] < 0) return ds_errorf(DS_ERR_VALUE, "attribute 'filter_shape' needs the kernel dims");
    }
    if ((st = bi ? conv_geom(s, in[1].shape, &ca, g) : conv_geom(in[1].shape, s, &ca, g))) return st;
    int64_t want[4] = {g->n, g->o, g->ho, g->wo};
    if (full && !ds_shape_equal(4, want, 4, in[0].shape)) {
        char sd[DS_SHAPE_STR_MAX], sx[DS_SHAPE_STR_MAX], sw[DS_SHAPE_STR_MAX], sy[DS_SHAPE_STR_MAX];
        return ds_errorf(DS_ERR_SHAPE, "dy is %s, but conv2d of input %s with weight %s gives %s",
                         SHAPE_S(4, in[0].shape, sd), SHAPE_S(4, bi ? s : in[1].shape, sx),
                         SHAPE_S(4, bi ? in[1].shape : s, sw), SHAPE_S(4, want, sy));
    }
    return DS_OK;
}

static ds_status conv_infer(ds_op_id op, int n_in, const ds_meta *in, const ds_attr *attrs, ds_meta *out, int *n_out) {
    ds_status st;
    static const char *names[][2] = {{"input", "weight"}, {"dy", "weight"}, {"dy", "input"}};
    int k = op == DS_OP_CONV2D ? 0 : op == DS_OP_CONV2D_BACKPROP_INPUT ? 1 : 2;
    if ((st = need_float(&in[0], names[k][0])) || (st = need_float(&in[1], names[k][1]))) return st;
    ds_conv2d_geom g;
    if ((st = conv_op_geom(op, in, attrs, false, &g))) return st;
    out->dtype = ds_dtype_promote(in[0].dtype, in[1].dtype);
    out->ndim = 4;
    int64_t y[4] = {g.n, g.o, g.ho, g.wo}, x[4] = {g.n, g.c, g.h, g.w}, w[4] = {g.o, g.c / g.groups, g.kh, g.kw};
    memcpy(out->shape, k == 0 ? y : k == 1 ? x : w, sizeof y);
    *n_out = 1;
    return DS_OK;
}

/* ---------------------------------------------------------------- running in float32 / float64 */
/* The computing form of a call: inputs as contiguous tensors of the compute dtype, and the buffer the
 * kernel writes (the output itself, or a float32 temporary for float16/bfloat16). */
typedef struct run_buf {
    ds_dtype cdt;
    ds_tensor *in[2], *out;
} run_buf;

static ds_status buf_open(ds_op_call *c, run_buf *b) {
    ds_status st = DS_OK;
    ds_tensor *y = c->out[0];
    memset(b, 0, sizeof *b);
    b->cdt = y->dtype == DS_FLOAT64 ? DS_FLOAT64 : DS_FLOAT32;
    for (int i = 0; i < c->n_in; i++) {
        ds_tensor *x = c->in[i];
        if (x->dtype == b->cdt) DS_TRY(ds_tensor_contiguous(x, &b->in[i]));
        else {
            DS_TRY(ds_tensor_new(b->cdt, x->ndim, x->shape, &b->in[i]));
            DS_TRY(ds_tensor_copy_into(b->in[i], x));
        }
    }
    if (y->dtype == b->cdt && y->contiguous) b->out = ds_tensor_retain(y);
    else DS_TRY(ds_tensor_new(b->cdt, y->ndim, y->shape, &b->out));
    return DS_OK;
fail:
    for (int i = 0; i < 2; i++) ds_tensor_release(b->in[i]);
    return st;
}

/* Copies the result into the output if it was computed elsewhere; releases the buffers. */
static ds_status buf_close(ds_op_call *c, run_buf *b, ds_status st) {
    if (!st && b->out != c->out[0]) st = ds_tensor_copy_into(c->out[0], b->out);
    for (int i = 0; i < 2; i++) ds_tensor_release(b->in[i]);
    ds_tensor_release(b->out);
    return st;
}

static ds_status conv_run(ds_op_call *c) {
    ds_meta m[2];
    ds_meta_of(c->in[0], &m[0]);
    ds_meta_of(c->in[1], &m[1]);
    ds_conv2d_geom g;
    run_buf b;
    ds_status st = conv_op_geom(c->op, m, c->attrs, true, &g);
    if (st || (st = buf_open(c, &b))) return st;
    const void *p0 = b.in[0]->data, *p1 = b.in[1]->data;
    void *o = b.out->data;
    bool f64 = b.cdt == DS_FLOAT64;
    if (b.out->numel == 0) st = DS_OK;
    else if (g.c == 0) memset(o, 0, (size_t)b.out->numel * ds_dtype_size(b.cdt)); /* empty sums */
    else if (c->op == DS_OP_CONV2D)
        st = f64 ? ds_conv2d_f64(&g, p0, p1, o) : ds_conv2d_f32(&g, p0, p1, o);
    else if (c->op == DS_OP_CONV2D_BACKPROP_INPUT)
        st = f64 ? ds_conv2d_backprop_input_f64(&g, p0, p1, o) : ds_conv2d_backprop_input_f32(&g, p0, p1, o);
    else
        st = f64 ? ds_conv2d_backprop_filter_f64(&g, p0, p1, o) : ds_conv2d_backprop_filter_f32(&g, p0, p1, o);
    return buf_close(c, &b, st);
}

/* ---------------------------------------------------------------- pooling geometry */
/* Attribute positions: max ops: kernel_size, stride, padding, dilation, ceil_mode;
 * avg_pool2d: kernel_size, stride, padding, ceil_mode, count_include_pad, divisor_override;
 * avg_pool2d_grad: input_shape, then as avg_pool2d. */
static bool is_max(ds_op_id op) {
    return op == DS_OP_MAX_POOL2D || op == DS_OP_MAX_POOL2D_GRAD || op == DS_OP_MAX_POOL2D_GRAD_GRAD;
}

static ds_status need_planes(const ds_meta *m, const char *what) {
    if (m->ndim != 3 && m->ndim != 4) {
        char s[DS_SHAPE_STR_MAX];
        return ds_errorf(DS_ERR_SHAPE, "%s must be 3-D [C, H, W] or 4-D [N, C, H, W], got %s", what,
                         SHAPE_S(m->ndim, m->shape, s));
    }
    return DS_OK;
}

/* The pooling geometry of input shape xs (3-D or 4-D) under the window attributes at. */
static ds_status pool_geom(ds_op_id op, int nd, const int64_t *xs, const ds_attr *at, ds_pool2d_geom *g) {
    int64_t k[2] = {1, 1}, s[2] = {1, 1}, d[2] = {1, 1}, p[4] = {0};
    bool mx = is_max(op);
    ds_status st;
    if ((st = pair_attr(&at[0], "kernel_size", 1, 1, k))) return st;
    if (ds_attr_is_none(&at[1])) s[0] = k[0], s[1] = k[1];
    else if ((st = pair_attr(&at[1], "stride", 1, 1, s))) return st;
    if ((st = pad_attr(&at[2], p)) || (mx && (st = pair_attr(&at[3], "dilation", 1, 1, d)))) return st;
    bool ceil = at[mx ? 4 : 3].kind == DS_ATTR_BOOL && at[mx ? 4 : 3].v.b;
    int64_t eh = d[0] * (k[0] - 1) + 1, ew = d[1] * (k[1] - 1) + 1;
    for (int i = 0; i < 4; i++)
        if (p[i] > (i < 2 ? eh : ew) / 2)
            return ds_errorf(DS_ERR_VALUE, "padding %lld is more than half the %skernel size %lld", (long long)p[i],
                             mx && (d[0] > 1 || d[1] > 1) ? "dilated " : "", (long long)(i < 2 ? eh : ew));
    *g = (ds_pool2d_geom){.h = xs[nd - 2], .w = xs[nd - 1], .kh = k[0], .kw = k[1], .sh = s[0], .sw = s[1],
                          .pt = p[0], .pb = p[1], .pl = p[2], .pr = p[3], .dh = d[0], .dw = d[1]};
    g->planes = 1;
    for (int i = 0; i < nd - 2; i++) g->planes *= xs[i];
    if (!mx) {
        g->count_include_pad = at[4].kind != DS_ATTR_BOOL || at[4].v.b;
        g->divisor = at[5].kind == DS_ATTR_INT ? at[5].v.i : 0;
        if (at[5].kind == DS_ATTR_INT && g->divisor == 0)
            return ds_errorf(DS_ERR_VALUE, "attribute 'divisor_override' must not be 0");
    }
    g->ho = out_dim(g->h, p[0], p[1], k[0], s[0], d[0], ceil);
    g->wo = out_dim(g->w, p[2], p[3], k[1], s[1], d[1], ceil);
    if (g->ho < 1 || g->wo < 1) {
        char sx[DS_SHAPE_STR_MAX];
        return ds_errorf(DS_ERR_SHAPE, "input %s with kernel [%lld, %lld] gives a non-positive output size [%lld, %lld]",
                         SHAPE_S(nd, xs, sx), (long long)k[0], (long long)k[1], (long long)g->ho, (long long)g->wo);
    }
    return DS_OK;
}

/* An input_shape attribute (3 or 4 entries) completed from dy: -1 entries before the last two dims
 * are dy's dims. */
static ds_status input_shape_of(const ds_attr *a, const ds_meta *dy, int64_t *xs) {
    ds_status st = shape_attr(a, "input_shape", 3, 4);
    if (st) return st;
    if (a->n != dy->ndim) {
        char s[DS_SHAPE_STR_MAX];
        return ds_errorf(DS_ERR_SHAPE, "attribute 'input_shape' has %lld entries, dy %s has %d dims", (long long)a->n,
                         SHAPE_S(dy->ndim, dy->shape, s), dy->ndim);
    }
    for (int i = 0; i < dy->ndim; i++) {
        xs[i] = a->v.ints[i] >= 0 || i >= dy->ndim - 2 ? a->v.ints[i] : dy->shape[i];
        if (xs[i] < 0) return ds_errorf(DS_ERR_VALUE, "attribute 'input_shape' needs the spatial dims");
    }
    return DS_OK;
}

/* A pooled shape: xs with its last two dims replaced. Checks dy (if given) against it. */
static ds_status pooled(int nd, const int64_t *xs, int64_t ho, int64_t wo, const ds_meta *dy, int64_t *ys) {
    memcpy(ys, xs, sizeof(int64_t) * (size_t)nd);
    ys[nd - 2] = ho;
    ys[nd - 1] = wo;
    if (dy && !ds_shape_equal(nd, ys, dy->ndim, dy->shape)) {
        char sd[DS_SHAPE_STR_MAX], sx[DS_SHAPE_STR_MAX], sy[DS_SHAPE_STR_MAX];
        return ds_errorf(DS_ERR_SHAPE, "dy is %s, but pooling input %s gives %s", SHAPE_S(dy->ndim, dy->shape, sd),
                         SHAPE_S(nd, xs, sx), SHAPE_S(nd, ys, sy));
    }
    return DS_OK;
}

/* Geometry of a pooling op call; xs / ys get the input and pooled shapes (nd dims). With `full`, also
 * checks that the operands agree (dy is the pooled shape, g the input's); see conv_op_geom. */
static ds_status pool_op_geom(ds_op_id op, const ds_meta *in, const ds_attr *attrs, bool full, ds_pool2d_geom *g,
                              int *nd, int64_t *xs, int64_t *ys) {
    ds_status st;
    switch (op) {
    case DS_OP_MAX_POOL2D:
    case DS_OP_AVG_POOL2D:
        if ((st = need_planes(&in[0], "input"))) return st;
        *nd = in[0].ndim;
        memcpy(xs, in[0].shape, sizeof(int64_t) * (size_t)*nd);
        if ((st = pool_geom(op, *nd, xs, attrs, g))) return st;
        return pooled(*nd, xs, g->ho, g->wo, NULL, ys);
    case DS_OP_MAX_POOL2D_GRAD:
    case DS_OP_MAX_POOL2D_GRAD_GRAD: {
        const char *a = op == DS_OP_MAX_POOL2D_GRAD ? "dy" : "g";
        if ((st = need_planes(&in[1], "input")) || (st = need_planes(&in[0], a))) return st;
        *nd = in[1].ndim;
        memcpy(xs, in[1].shape, sizeof(int64_t) * (size_t)*nd);
        if ((st = pool_geom(op, *nd, xs, attrs, g))) return st;
        if (op == DS_OP_MAX_POOL2D_GRAD) return pooled(*nd, xs, g->ho, g->wo, full ? &in[0] : NULL, ys);
        if (full && !ds_shape_equal(*nd, xs, in[0].ndim, in[0].shape)) {
            char s0[DS_SHAPE_STR_MAX], s1[DS_SHAPE_STR_MAX];
            return ds_errorf(DS_ERR_SHAPE, "g is %s, but the input is %s (they must agree)",
                             SHAPE_S(in[0].ndim, in[0].shape, s0), SHAPE_S(*nd, xs, s1));
        }
        return pooled(*nd, xs, g->ho, g->wo, NULL, ys);
    }
    case DS_OP_AVG_POOL2D_GRAD:
        if ((st = need_planes(&in[0], "dy")) || (st = input_shape_of(&attrs[0], &in[0], xs))) return st;
        *nd = in[0].ndim;
        if ((st = pool_geom(op, *nd, xs, attrs + 1, g))) return st;
        return pooled(*nd, xs, g->ho, g->wo, full ? &in[0] : NULL, ys);
    default: /* adaptive */
        if ((st = need_planes(&in[0], op == DS_OP_ADAPTIVE_AVG_POOL2D ? "input" : "dy"))) return st;
        *nd = in[0].ndim;
        if (op == DS_OP_ADAPTIVE_AVG_POOL2D) {
            int64_t os[2] = {-1, -1};
            const ds_attr *a = &attrs[0];
            if ((st = pair_attr(a, "output_size", -1, -1, os))) return st;
            memcpy(xs, in[0].shape, sizeof(int64_t) * (size_t)*nd);
            st = pooled(*nd, xs, os[0] < 0 ? xs[*nd - 2] : os[0], os[1] < 0 ? xs[*nd - 1] : os[1], NULL, ys);
        } else {
            if ((st = input_shape_of(&attrs[0], &in[0], xs))) return st;
            memcpy(ys, in[0].shape, sizeof(int64_t) * (size_t)*nd);
            for (int i = 0; i < *nd - 2 && !st && full; i++)
                if (ys[i] != xs[i]) {
                    char sd[DS_SHAPE_STR_MAX], sx[DS_SHAPE_STR_MAX];
                    st = ds_errorf(DS_ERR_SHAPE, "dy %s does not match input_shape %s in its leading dims",
                                   SHAPE_S(*nd, ys, sd), SHAPE_S(*nd, xs, sx));
                }
        }
        *g = (ds_pool2d_geom){.h = xs[*nd - 2], .w = xs[*nd - 1], .ho = ys[*nd - 2], .wo = ys[*nd - 1], .planes = 1};
        for (int i = 0; i < *nd - 2; i++) g->planes *= xs[i];
        return st;
    }
}

static ds_status pool_infer(ds_op_id op, int n_in, const ds_meta *in, const ds_attr *attrs, ds_meta *out, int *n_out) {
    ds_status st;
    const char *first = op == DS_OP_MAX_POOL2D_GRAD_GRAD                            ? "g"
                        : op == DS_OP_MAX_POOL2D || op == DS_OP_AVG_POOL2D || op == DS_OP_ADAPTIVE_AVG_POOL2D ? "input"
                                                                                                           : "dy";
    if ((st = need_float(&in[0], first)) || (n_in == 2 && (st = need_float(&in[1], "input")))) return st;
    ds_pool2d_geom g;
    int nd;
    int64_t xs[4], ys[4];
    if ((st = pool_op_geom(op, in, attrs, false, &g, &nd, xs, ys))) return st;
    out->dtype = n_in == 2 ? ds_dtype_promote(in[0].dtype, in[1].dtype) : in[0].dtype;
    out->ndim = nd;
    bool to_input = op == DS_OP_MAX_POOL2D_GRAD || op == DS_OP_AVG_POOL2D_GRAD || op == DS_OP_ADAPTIVE_AVG_POOL2D_GRAD;
    memcpy(out->shape, to_input ? xs : ys, sizeof(int64_t) * (size_t)nd);
    *n_out = 1;
    return DS_OK;
}

static ds_status pool_run(ds_op_call *c) {
    ds_meta m[2];
    for (int i = 0; i < c->n_in; i++) ds_meta_of(c->in[i], &m[i]);
    ds_pool2d_geom g;
    int nd;
    int64_t xs[4], ys[4];
    run_buf b;
    ds_status st = pool_op_geom(c->op, m, c->attrs, true, &g, &nd, xs, ys);
    if (st || (st = buf_open(c, &b))) return st;
    if (b.out->numel == 0) return buf_close(c, &b, DS_OK);
    const void *a = b.in[0]->data, *x = b.in[1] ? b.in[1]->data : NULL;
    void *o = b.out->data;
    bool f64 = b.cdt == DS_FLOAT64;
    switch (c->op) {
    case DS_OP_MAX_POOL2D: f64 ? ds_max_pool2d_f64(&g, a, o) : ds_max_pool2d_f32(&g, a, o); break;
    case DS_OP_MAX_POOL2D_GRAD: f64 ? ds_max_pool2d_grad_f64(&g, a, x, o) : ds_max_pool2d_grad_f32(&g, a, x, o); break;
    case DS_OP_MAX_POOL2D_GRAD_GRAD:
        f64 ? ds_max_pool2d_gather_f64(&g, a, x, o) : ds_max_pool2d_gather_f32(&g, a, x, o);
        break;
    case DS_OP_AVG_POOL2D: f64 ? ds_avg_pool2d_f64(&g, a, o) : ds_avg_pool2d_f32(&g, a, o); break;
    case DS_OP_AVG_POOL2D_GRAD: f64 ? ds_avg_pool2d_grad_f64(&g, a, o) : ds_avg_pool2d_grad_f32(&g, a, o); break;
    case DS_OP_ADAPTIVE_AVG_POOL2D:
        f64 ? ds_adaptive_avg_pool2d_f64(g.planes, g.h, g.w, g.ho, g.wo, a, o)
            : ds_adaptive_avg_pool2d_f32(g.planes, g.h, g.w, g.ho, g.wo, a, o);
        break;
    default:
        f64 ? ds_adaptive_avg_pool2d_grad_f64(g.planes, g.h, g.w, g.ho, g.wo, a, o)
            : ds_adaptive_avg_pool2d_grad_f32(g.planes, g.h, g.w, g.ho, g.wo, a, o);
        break;
    }
    return buf_close(c, &b, DS_OK);
}

/* Fills the registry slots of the convolution and pooling ops. */
void ds_ops_register_conv(ds_op_impl *table) {
    table[DS_OP_CONV2D] = (ds_op_impl){conv_infer, conv_run, 0};
    table[DS_OP_CONV2D_BACKPROP_INPUT] = (ds_op_impl){conv_infer, conv_run, 0};
    table[DS_OP_CONV2D_BACKPROP_FILTER] = (ds_op_impl){conv_infer, conv_run, 0};
    static const ds_op_id pools[] = {DS_OP_MAX_POOL2D,     DS_OP_MAX_POOL2D_GRAD,          DS_OP_MAX_POOL2D_GRAD_GRAD,
                                     DS_OP_AVG_POOL2D,     DS_OP_AVG_POOL2D_GRAD,          DS_OP_ADAPTIVE_AVG_POOL2D,
                                     DS_OP_ADAPTIVE_AVG_POOL2D_GRAD};
    for (size_t i = 0; i < sizeof pools / sizeof pools[0]; i++) table[pools[i]] = (ds_op_impl){pool_infer, pool_run, 0};
}
