/* Joining and splitting: concat, stack, split, tile, pad. All outputs are new contiguous tensors.
 * Messages leave out the op name: the dispatcher prefixes it. */
#include <stdio.h>
#include <string.h>

#include "base/alloc.h"
#include "base/status.h"
#include "base/threadpool.h"
#include "kernels/copy.h"
#include "ops/op.h"
#include "tensor/dtype.h"

#define SHAPE_S(nd, s, buf) ds_shape_str((nd), (s), (buf), sizeof(buf))

/* "[2, *, 4]": the shape with dim `star` shown as "*" (for "all dims but the axis must match"). */
static char *shape_star(int nd, const int64_t *s, int star, char *buf, size_t n) {
    size_t pos = (size_t)snprintf(buf, n, "[");
    for (int i = 0; i < nd && pos < n; i++) {
        const char *sep = i ? ", " : "";
        if (i == star) pos += (size_t)snprintf(buf + pos, n - pos, "%s*", sep);
        else pos += (size_t)snprintf(buf + pos, n - pos, "%s%lld", sep, (long long)s[i]);
    }
    if (pos < n) snprintf(buf + pos, n - pos, "]");
    return buf;
}

/* ---------------------------------------------------------------- the row-join kernel */
/* The whole tensor is `outer` rows of whole_row bytes, each row the concatenation of the pieces'
 * rows (piece i's row is piece_row[i] bytes). Copies pieces -> whole, or whole -> pieces (split). */
typedef struct join_ctx {
    int n;
    char *const *piece;
    const size_t *piece_row;
    char *whole;
    size_t whole_row;
    bool split;
} join_ctx;

static void join_range(void *p, int64_t b, int64_t e) {
    const join_ctx *c = p;
    for (int64_t o = b; o < e; o++) {
        char *w = c->whole + (size_t)o * c->whole_row;
        for (int i = 0; i < c->n; i++) {
            size_t r = c->piece_row[i];
            char *q = c->piece[i] + (size_t)o * r;
            if (c->split) memcpy(q, w, r);
            else memcpy(w, q, r);
            w += r;
        }
    }
}

static void join_rows(join_ctx *c, int64_t outer) {
    int64_t grain = (int64_t)((1u << 15) / (c->whole_row ? c->whole_row : 1));
    ds_parallel_for(outer, grain < 1 ? 1 : grain, join_range, c);
}

/* Scratch arrays for the pieces: on the stack for a few, else from the allocator. */
typedef struct pieces {
    char *stack_ptr[16];
    size_t stack_row[16];
    char **ptr;
    size_t *row;
} pieces;

static ds_status pieces_init(pieces *p, int n) {
    p->ptr = p->stack_ptr;
    p->row = p->stack_row;
    if (n <= 16) return DS_OK;
    p->ptr = ds_malloc(sizeof(char *) * (size_t)n);
    p->row = ds_malloc(sizeof(size_t) * (size_t)n);
    if (!p->ptr || !p->row) {
        if (p->ptr) ds_free(p->ptr);
        if (p->row) ds_free(p->row);
        return DS_ERR_NOMEM;
    }
    return DS_OK;
}

static void pieces_deinit(pieces *p) {
    if (p->ptr != p->stack_ptr) {
        ds_free(p->ptr);
        ds_free(p->row);
    }
}

/* ---------------------------------------------------------------- concat / stack */
/* concat(t_0, ..., t_{n-1}; axis): dtypes promoted, shapes equal except along axis.
 * stack(...; axis): shapes all equal, a new dim of size n inserted at axis (in [-ndim-1, ndim]). */
static ds_status concat_infer(ds_op_id op, int n_in, const ds_meta *in, const ds_attr *attrs,
                              ds_meta *out, int *n_out) {
    bool stack = op == DS_OP_STACK;
    if (n_in < 1) return ds_errorf(DS_ERR_VALUE, "expected at least one tensor, got 0");
    int nd = in[0].ndim, ax;
    if (!stack && nd == 0)
        return ds_errorf(DS_ERR_SHAPE, "zero-dimensional tensors cannot be concatenated");
    if (stack && nd + 1 > DS_MAX_DIMS)
        return ds_errorf(DS_ERR_SHAPE, "result would have %d dims, at most %d are supported", nd + 1,
                         DS_MAX_DIMS);
    ds_status st = ds_axis_normalize(attrs[0].v.i, stack ? nd + 1 : nd, "axis", &ax);
    if (st) return st;
    ds_dtype dt = in[0].dtype;
    int64_t total = in[0].shape[stack ? 0 : ax];
    for (int i = 1; i < n_in; i++) {
        char a[DS_SHAPE_STR_MAX], b[DS_SHAPE_STR_MAX];
        dt = ds_dtype_promote(dt, in[i].dtype);
        if (in[i].ndim != nd)
            return ds_errorf(DS_ERR_SHAPE, "input %d has shape %s (%d dims), expected %d dims like input 0 %s",
                             i, SHAPE_S(in[i].ndim, in[i].shape, a), in[i].ndim, nd,
                             SHAPE_S(nd, in[0].shape, b));
        for (int d = 0; d < nd; d++) {
            int64_t x = in[i].shape[d], y = in[0].shape[d];
            if ((!stack && d == ax) || x == y || x < 0 || y < 0) continue;
            if (stack)
                return ds_errorf(DS_ERR_SHAPE, "input %d has shape %s, expected %s like input 0 (stacked tensors must have equal shapes)",
                                 i, SHAPE_S(nd, in[i].shape, a), SHAPE_S(nd, in[0].shape, b));
            return ds_errorf(DS_ERR_SHAPE, "input %d has shape %s, expected %s (all dims except axis %d must match input 0)",
                             i, SHAPE_S(nd, in[i].shape, a), shape_star(nd, in[0].shape, ax, b, sizeof b), ax);
        }
        if (!stack) total = total < 0 || in[i].shape[ax] < 0 ? -1 : total + in[i].shape[ax];
    }
    out->dtype = dt;
    if (stack) {
        out->ndim = nd + 1;
        for (int d = 0, k = 0; d <= nd; d++) out->shape[d] = d == ax ? n_in : in[0].shape[k++];
    } else {
        out->ndim = nd;
        memcpy(out->shape, in[0].shape, sizeof(int64_t) * (size_t)nd);
        out->shape[ax] = total;
    }
    *n_out = 1;
    return DS_OK;
}

static ds_status concat_run(ds_op_call *c) {
    ds_tensor *out = c->out[0];
    bool stack = c->op == DS_OP_STACK;
    int ax;
    ds_status st = ds_axis_normalize(c->attrs[0].v.i, out->ndim, "axis", &ax);
    if (st || out->numel == 0) return st;
    bool fast = true;
    for (int i = 0; i < c->n_in; i++)
        fast = fast && c->in[i]->contiguous && c->in[i]->dtype == out->dtype;
    if (fast) { /* rows of the output are the inputs' rows side by side */
        pieces p;
        if (pieces_init(&p, c->n_in)) return DS_ERR_NOMEM;
        int64_t outer = ds_shape_numel(ax, out->shape);
        size_t es = ds_dtype_size(out->dtype);
        for (int i = 0; i < c->n_in; i++) {
            p.ptr[i] = c->in[i]->data;
            p.row[i] = (size_t)(c->in[i]->numel / outer) * es;
        }
        join_ctx j = {c->n_in, p.ptr, p.row, out->data, (size_t)(out->numel / outer) * es, false};
        join_rows(&j, outer);
        pieces_deinit(&p);
        return DS_OK;
    }
    int64_t off = 0;
    for (int i = 0; i < c->n_in; i++) { /* general: copy each input into its view of the output */
        ds_tensor *v = NULL;
        int64_t len = stack ? 1 : c->in[i]->shape[ax];
        st = stack ? ds_tensor_select(out, ax, i, &v) : ds_tensor_slice(out, ax, off, off + len, 1, &v);
        if (!st) st = ds_tensor_copy_into(v, c->in[i]);
        ds_tensor_release(v);
        if (st) return st;
        off += len;
    }
    return DS_OK;
}

/* ---------------------------------------------------------------- split */
/* Resolves the `sizes` attribute against the split dim (dim < 0: unknown). The rule: a list whose
 * entries sum to the dim is taken literally (one output per entry); otherwise a single entry k that
 * divides the dim asks for k equal parts of dim / k (MindSpore's Split(output_num=k)). Anything else
 * is an error. Writes the part sizes and their count. */
static ds_status split_sizes(const ds_attr *a, int64_t dim, int ax, int64_t *sizes, int *n) {
    if (a->kind != DS_ATTR_INTS || a->n == 0)
        return ds_errorf(DS_ERR_VALUE, "sizes must be a non-empty list of ints");
    int64_t sum = 0;
    for (int64_t i = 0; i < a->n; i++) {
        if (a->v.ints[i] < 0)
            return ds_errorf(DS_ERR_VALUE, "sizes[%lld] = %lld is negative", (long long)i,
                             (long long)a->v.ints[i]);
        if (a->v.ints[i] > INT64_MAX - sum) return ds_errorf(DS_ERR_VALUE, "sizes overflow int64");
        sum += a->v.ints[i];
    }
    int64_t parts = a->n, each = -1;
    if (dim >= 0 && sum != dim) {
        int64_t k = a->v.ints[0];
        char buf[DS_SHAPE_STR_MAX];
        if (a->n != 1)
            return ds_errorf(DS_ERR_VALUE, "sizes %s sum to %lld, but axis %d has size %lld",
                             ds_shape_str((int)a->n, a->v.ints, buf, sizeof buf), (long long)sum, ax,
                             (long long)dim);
        if (k == 0 || dim % k != 0)
            return ds_errorf(DS_ERR_VALUE, "cannot split axis %d of size %lld into %lld equal parts",
                             ax, (long long)dim, (long long)k);
        parts = k;
        each = dim / k;
    }
    if (parts > DS_OP_MAX_OUT)
        return ds_errorf(DS_ERR_VALUE, "split into %lld parts, at most %d are supported",
                         (long long)parts, DS_OP_MAX_OUT);
    for (int64_t i = 0; i < parts; i++) sizes[i] = each >= 0 ? each : a->v.ints[i];
    *n = (int)parts;
    return DS_OK;
}

static ds_status split_infer(ds_op_id op, int n_in, const ds_meta *in, const ds_attr *attrs,
                             ds_meta *out, int *n_out) {
    int ax, n;
    int64_t sizes[DS_OP_MAX_OUT];
    if (in[0].ndim == 0) return ds_errorf(DS_ERR_SHAPE, "cannot split a zero-dimensional tensor");
    ds_status st = ds_axis_normalize(attrs[1].v.i, in[0].ndim, "axis", &ax);
    if (!st) st = split_sizes(&attrs[0], in[0].shape[ax], ax, sizes, &n);
    if (st) return st;
    for (int i = 0; i < n; i++) {
        out[i] = in[0];
        out[i].shape[ax] = sizes[i];
    }
    *n_out = n;
    return DS_OK;
}

static ds_status split_run(ds_op_call *c) {
    ds_tensor *x = c->in[0];
    int ax, n;
    int64_t sizes[DS_OP_MAX_OUT];
    ds_status st = ds_axis_normalize(c->attrs[1].v.i, x->ndim, "axis", &ax);
    if (!st) st = split_sizes(&c->attrs[0], x->shape[ax], ax, sizes, &n);
    if (st || x->numel == 0) return st;
    if (x->contiguous) {
        pieces p;
        if (pieces_init(&p, n)) return DS_ERR_NOMEM;
        int64_t outer = ds_shape_numel(ax, x->shape);
        size_t es = ds_dtype_size(x->dtype);
        for (int i = 0; i < n; i++) {
            p.ptr[i] = c->out[i]->data;
            p.row[i] = (size_t)(c->out[i]->numel / outer) * es;
        }
        join_ctx j = {n, p.ptr, p.row, x->data, (size_t)(x->numel / outer) * es, true};
        join_rows(&j, outer);
        pieces_deinit(&p);
        return DS_OK;
    }
    int64_t off = 0;
    for (int i = 0; i < n; i++) {
        ds_tensor *v = NULL;
        st = ds_tensor_slice(x, ax, off, off + sizes[i], 1, &v);
        if (!st) st = ds_tensor_copy_into(c->out[i], v);
        ds_tensor_release(v);
        if (st) return st;
        off += sizes[i];
    }
    return DS_OK;
}

/* ---------------------------------------------------------------- tile */
/* tile(x; multiples) as np.tile: multiples shorter than ndim are padded with leading 1s; longer
 * ones prepend size-1 dims to x. Output dim d = x dim d * multiples[d]. */
static void tile_dims(int nd, const int64_t *shape, const ds_attr *m, int *ond, int64_t *s,
                      int64_t *reps) {
    int n = nd > m->n ? nd : (int)m->n;
    for (int d = 0; d < n; d++) {
        int xd = d - (n - nd), md = d - (n - (int)m->n);
        s[d] = xd >= 0 ? shape[xd] : 1;
        reps[d] = md >= 0 ? m->v.ints[md] : 1;
    }
    *ond = n;
}

static ds_status tile_infer(ds_op_id op, int n_in, const ds_meta *in, const ds_attr *attrs,
                            ds_meta *out, int *n_out) {
    const ds_attr *m = &attrs[0];
    if (m->kind != DS_ATTR_INTS) return ds_errorf(DS_ERR_VALUE, "multiples must be a list of ints");
    for (int64_t i = 0; i < m->n; i++)
        if (m->v.ints[i] < 0)
            return ds_errorf(DS_ERR_VALUE, "multiples[%lld] = %lld is negative", (long long)i,
                             (long long)m->v.ints[i]);
    if (m->n > DS_MAX_DIMS)
        return ds_errorf(DS_ERR_SHAPE, "%lld multiples given, at most %d dims are supported",
                         (long long)m->n, DS_MAX_DIMS);
    int nd;
    int64_t s[DS_MAX_DIMS], reps[DS_MAX_DIMS];
    tile_dims(in[0].ndim, in[0].shape, m, &nd, s, reps);
    out->dtype = in[0].dtype;
    out->ndim = nd;
    for (int d = 0; d < nd; d++) out->shape[d] = s[d] < 0 ? -1 : s[d] * reps[d];
    *n_out = 1;
    return DS_OK;
}

typedef struct tile_ctx {
    const char *src;
    char *dst;
    int nd;
    int64_t s[DS_MAX_DIMS], o[DS_MAX_DIMS], sst[DS_MAX_DIMS]; /* src shape, out shape, src strides */
    size_t es;
} tile_ctx;

/* Each output row (all dims but the last) is one source row repeated. */
static void tile_range(void *p, int64_t b, int64_t e) {
    const tile_ctx *c = p;
    int last = c->nd - 1;
    size_t srow = (size_t)c->s[last] * c->es, orow = (size_t)c->o[last] * c->es;
    for (int64_t r = b; r < e; r++) {
        int64_t rem = r, off = 0;
        for (int d = last - 1; d >= 0; d--) {
            off += (rem % c->o[d]) % c->s[d] * c->sst[d];
            rem /= c->o[d];
        }
        const char *s = c->src + (size_t)off * c->es;
        char *q = c->dst + (size_t)r * orow;
        for (size_t k = 0; k < orow; k += srow) memcpy(q + k, s, srow);
    }
}

static ds_status tile_run(ds_op_call *c) {
    ds_tensor *out = c->out[0], *xc = NULL;
    if (out->numel == 0) return DS_OK;
    ds_status st = ds_tensor_contiguous(c->in[0], &xc);
    if (st) return st;
    size_t es = ds_dtype_size(out->dtype);
    if (out->ndim == 0) {
        memcpy(out->data, xc->data, es);
    } else {
        tile_ctx t = {.src = xc->data, .dst = out->data, .es = es};
        int64_t reps[DS_MAX_DIMS];
        tile_dims(xc->ndim, xc->shape, &c->attrs[0], &t.nd, t.s, reps);
        memcpy(t.o, out->shape, sizeof t.o);
        ds_shape_contiguous_strides(t.nd, t.s, t.sst);
        int64_t rows = out->numel / t.o[t.nd - 1];
        int64_t grain = (int64_t)((1u << 15) / ((size_t)t.o[t.nd - 1] * es)) + 1;
        ds_parallel_for(rows, grain, tile_range, &t);
    }
    ds_tensor_release(xc);
    return DS_OK;
}

/* ---------------------------------------------------------------- pad */
/* pad(x; paddings, value): paddings = [before_0, after_0, before_1, after_1, ...], one pair per dim
 * from dim 0 (exactly 2 * ndim entries). Constant mode: new cells hold `value` (converted to x's
 * dtype). Negative entries crop; a dim may not shrink below 0. */
static ds_status pad_infer(ds_op_id op, int n_in, const ds_meta *in, const ds_attr *attrs,
                           ds_meta *out, int *n_out) {
    const ds_attr *p = &attrs[0];
    int nd = in[0].ndim;
    if (p->kind != DS_ATTR_INTS || p->n != 2 * nd)
        return ds_errorf(DS_ERR_VALUE, "paddings must have 2 entries per dim (%d for %d dims), got %lld",
                         2 * nd, nd, p->kind == DS_ATTR_INTS ? (long long)p->n : 0LL);
    *out = in[0];
    for (int d = 0; d < nd; d++) {
        if (in[0].shape[d] < 0) continue;
        int64_t b = p->v.ints[2 * d], a = p->v.ints[2 * d + 1], n = in[0].shape[d] + b + a;
        if (n < 0)
            return ds_errorf(DS_ERR_VALUE, "paddings (%lld, %lld) would make dim %d of size %lld negative",
                             (long long)b, (long long)a, d, (long long)in[0].shape[d]);
        out->shape[d] = n;
    }
    *n_out = 1;
    return DS_OK;
}

static ds_status pad_run(ds_op_call *c) {
    ds_tensor *x = c->in[0], *out = c->out[0], *sv = NULL, *dv = NULL;
    const int64_t *p = c->attrs[0].v.ints;
    int nd = x->ndim;
    if (out->numel == 0) return DS_OK;
    bool grows = false, empty = false;
    int64_t len[DS_MAX_DIMS], soff = 0, doff = 0;
    for (int d = 0; d < nd; d++) {
        int64_t b = p[2 * d], a = p[2 * d + 1];
        int64_t s0 = b < 0 ? -b : 0, d0 = b > 0 ? b : 0;
        len[d] = x->shape[d] - s0 - (a < 0 ? -a : 0);
        if (len[d] <= 0) empty = true;
        if (b > 0 || a > 0) grows = true;
        soff += s0 * x->strides[d];
        doff += d0 * out->strides[d];
    }
    if (grows || empty) {
        unsigned char v[8];
        ds_dtype_store_double(out->dtype, v, c->attrs[1].v.f);
        ds_fill_elems(out->data, out->numel, v, ds_dtype_size(out->dtype));
    }
    if (empty) return DS_OK;
    ds_status st;
    DS_TRY(ds_tensor_view(x, nd, len, x->strides, soff, &sv));
    DS_TRY(ds_tensor_view(out, nd, len, out->strides, doff, &dv));
    DS_TRY(ds_tensor_copy_into(dv, sv));
fail:
    ds_tensor_release(sv);
    ds_tensor_release(dv);
    return st;
}

/* Fills the registry slots of concat, stack, split, tile and pad. */
void ds_ops_register_shape(ds_op_impl *table) {
    table[DS_OP_CONCAT] = (ds_op_impl){concat_infer, concat_run, 0};
    table[DS_OP_STACK] = (ds_op_impl){concat_infer, concat_run, 0};
    table[DS_OP_SPLIT] = (ds_op_impl){split_infer, split_run, 0};
    table[DS_OP_TILE] = (ds_op_impl){tile_infer, tile_run, 0};
    table[DS_OP_PAD] = (ds_op_impl){pad_infer, pad_run, 0};
}
