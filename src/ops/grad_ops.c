/* Ops that gradient rules need (include/dynastat_ops.def, section "autodiff support"): they let a
 * gradient be written without knowing static shapes, and accumulate into gathered positions.
 *
 *   stop_gradient(x)            x (a new tensor sharing x's data, like PyTorch's detach); its gradient is 0
 *   zeros_like(x; dtype)        zeros of x's shape (and x's dtype unless dtype is given); ones_like: ones
 *   sum_like(x, ref)            x summed down to ref's shape, reversing NumPy broadcasting (ref must
 *                               broadcast to x); the result has x's dtype
 *   broadcast_like(x, ref)      x broadcast to ref's shape (a view)
 *   reshape_like(x, ref)        x reshaped to ref's shape (a view when one exists)
 *   split_like(x, r_0..; axis)  x split along axis into pieces as long as each r_i along axis
 *   slice_scatter(base, src; begin, end, strides)
 *                               a copy of base whose strided slice (as strided_slice) is src (broadcast)
 *   index_add(base, values, i_0, ..., i_{k-1})
 *                               a copy of base with values added at base[i_0, ..., i_{k-1}] (values
 *                               broadcast to the indexing result's shape); duplicates accumulate
 *   scatter_add(base, index, src; axis)
 *                               torch.scatter_add: a copy of base where for every position p of index,
 *                               out[p with p[axis] = index[p]] += src[p]
 *   tensor_list_new(; dtype, shape), tensor_list_push(list, x), tensor_list_drop(list, n)
 *                               append-only lists of rows: new gives an empty list ([0] + shape; its
 *                               type's first dim is unknown, shape entries may be unknown/symbolic dims
 *                               and are 0 at run time), push returns the list with x appended as a new
 *                               last row (x's shape is adopted by an empty list), drop returns the list
 *                               without its last n rows (n an integer scalar tensor).
 *
 * Infer checks ranks only: while a graph is built, symbolic dims stand in for sizes that are only
 * known to agree at run time, so the dims are checked when the op runs.
 * Values are never mutated: push appends in place only beyond the rows any existing tensor can see
 * (the storage records how many rows have been written; a push onto an older or shorter view copies),
 * so a loop that pushes one row per iteration costs amortized O(row), not O(list).
 * Messages leave out the op name: the dispatcher prefixes it. */
#include <stdatomic.h>
#include <string.h>

#include "base/alloc.h"
#include "base/status.h"
#include "kernels/copy.h"
#include "kernels/elementwise.h"
#include "ops/index_util.h"
#include "ops/op.h"
#include "tensor/dtype.h"

#define SHAPE_S(nd, s, buf) ds_shape_str((nd), (s), (buf), sizeof(buf))

/* Runs `op` through its registry entry (no eager dispatch, so nothing is recorded on a tape). */
static ds_status run_direct(ds_op_id op, int n_in, ds_tensor *const *in, const ds_attr *attrs, ds_tensor **out) {
    const op_entry *e = ds_op_entry_get(op);
    ds_attr full[DS_MAX_ATTRS];
    ds_meta m[4], om[DS_OP_MAX_OUT];
    int no = 0;
    ds_tensor *res = NULL;
    ds_status st = ds_op_fill_attrs(e, attrs, full);
    if (st) return st;
    for (int i = 0; i < n_in; i++) ds_meta_of(in[i], &m[i]);
    if ((st = e->impl.infer(op, n_in, m, full, om, &no))) return st;
    if (!(e->impl.flags & DS_IMPL_ALLOCATES) && (st = ds_tensor_new(om[0].dtype, om[0].ndim, om[0].shape, &res)))
        return st;
    ds_op_call call = {op, &e->info, n_in, in, full, 1, &res};
    if ((st = e->impl.run(&call))) {
        ds_tensor_release(res);
        return st;
    }
    *out = res;
    return DS_OK;
}

static bool dims_fit(int64_t a, int64_t b) { return a == b || a < 0 || b < 0; }

/* ---------------------------------------------------------------- stop_gradient, zeros/ones_like */
static ds_status same_infer(ds_op_id op, int n_in, const ds_meta *in, const ds_attr *attrs, ds_meta *out, int *n_out) {
    *out = in[0];
    if ((op == DS_OP_ZEROS_LIKE || op == DS_OP_ONES_LIKE) && !ds_attr_is_none(&attrs[0])) {
        if ((unsigned)attrs[0].v.dtype >= DS_DTYPE_COUNT) return ds_errorf(DS_ERR_VALUE, "attribute 'dtype' must be a dtype");
        out->dtype = attrs[0].v.dtype;
    }
    *n_out = 1;
    return DS_OK;
}

static ds_status stop_gradient_run(ds_op_call *c) { /* a new header over the same data, like a view */
    ds_tensor *x = c->in[0];
    return ds_tensor_view(x, x->ndim, x->shape, x->strides, 0, &c->out[0]);
}

static ds_status fill_like_run(ds_op_call *c) {
    ds_tensor *out = c->out[0];
    unsigned char v[8];
    ds_dtype_store_double(out->dtype, v, c->op == DS_OP_ONES_LIKE ? 1.0 : 0.0);
    ds_fill_elems(out->data, out->numel, v, ds_dtype_size(out->dtype));
    return DS_OK;
}

/* ---------------------------------------------------------------- sum_like, broadcast_like, reshape_like */
/* Whether `small` broadcasts to `big` (NumPy rules; unknown dims fit anything). */
static bool bcasts(const ds_meta *small, const ds_meta *big) {
    bool ok = small->ndim <= big->ndim;
    for (int d = 0; ok && d < small->ndim; d++) {
        int64_t s = small->shape[d], b = big->shape[d + big->ndim - small->ndim];
        ok = dims_fit(s, b) || s == 1;
    }
    return ok;
}

/* "<what> <a> <verb> <b>" shape error. */
static ds_status shape_err(const char *what, const ds_meta *a, const char *verb, const ds_meta *b) {
    char sa[DS_SHAPE_STR_MAX], sb[DS_SHAPE_STR_MAX];
    return ds_errorf(DS_ERR_SHAPE, "%s %s %s %s", what, SHAPE_S(a->ndim, a->shape, sa), verb, SHAPE_S(b->ndim, b->shape, sb));
}

static ds_status like_infer(ds_op_id op, int n_in, const ds_meta *in, const ds_attr *attrs, ds_meta *out, int *n_out) {
    const ds_meta *x = &in[0], *ref = &in[1];
    if (op == DS_OP_SUM_LIKE && ref->ndim > x->ndim) return shape_err("cannot sum shape", x, "down to the larger rank of", ref);
    if (op == DS_OP_BROADCAST_LIKE && x->ndim > ref->ndim) return shape_err("cannot broadcast shape", x, "to the smaller rank of", ref);
    out->dtype = x->dtype;
    out->ndim = ref->ndim;
    memcpy(out->shape, ref->shape, sizeof(int64_t) * (size_t)ref->ndim);
    *n_out = 1;
    return DS_OK;
}

static ds_status sum_like_run(ds_op_call *c) {
    ds_tensor *x = c->in[0], *ref = c->in[1], *s = NULL, *t = NULL;
    ds_meta mx, mr;
    ds_meta_of(x, &mx);
    ds_meta_of(ref, &mr);
    if (!bcasts(&mr, &mx)) return shape_err("cannot sum shape", &mx, "down to a shape that does not broadcast to it:", &mr);
    int64_t axes[DS_MAX_DIMS];
    int na = 0, lead = x->ndim - ref->ndim;
    for (int d = 0; d < lead; d++) axes[na++] = d;
    for (int d = 0; d < ref->ndim; d++)
        if (ref->shape[d] != x->shape[lead + d]) axes[na++] = lead + d;
    ds_status st;
    if (na == 0) { /* a fresh copy, never an alias */
        DS_TRY(ds_tensor_new(x->dtype, x->ndim, x->shape, &s));
        DS_TRY(ds_tensor_copy_into(s, x));
        c->out[0] = s;
        return DS_OK;
    }
    ds_attr a[2] = {{.kind = DS_ATTR_INTS, .n = na, .v.ints = axes}, {.kind = DS_ATTR_BOOL, .v.b = true}};
    DS_TRY(run_direct(DS_OP_SUM, 1, &x, a, &s));
    if (s->dtype != x->dtype) { /* integer sums come back as int64 */
        DS_TRY(ds_tensor_new(x->dtype, s->ndim, s->shape, &t));
        DS_TRY(ds_tensor_copy_into(t, s));
        ds_tensor_release(s);
        s = t;
        t = NULL;
    }
    DS_TRY(ds_tensor_reshape(s, ref->ndim, ref->shape, &c->out[0]));
fail:
    ds_tensor_release(s);
    ds_tensor_release(t);
    return st;
}

static ds_status broadcast_like_run(ds_op_call *c) {
    return ds_tensor_expand(c->in[0], c->in[1]->ndim, c->in[1]->shape, &c->out[0]);
}

static ds_status reshape_like_run(ds_op_call *c) {
    return ds_tensor_reshape(c->in[0], c->in[1]->ndim, c->in[1]->shape, &c->out[0]);
}

/* ---------------------------------------------------------------- split_like */
static ds_status split_like_infer(ds_op_id op, int n_in, const ds_meta *in, const ds_attr *attrs, ds_meta *out, int *n_out) {
    const ds_meta *x = &in[0];
    int ax;
    if (n_in < 2) return ds_errorf(DS_ERR_VALUE, "expected a tensor and at least one reference, got %d inputs", n_in);
    if (n_in - 1 > DS_OP_MAX_OUT) return ds_errorf(DS_ERR_VALUE, "split into %d parts, at most %d are supported", n_in - 1, DS_OP_MAX_OUT);
    if (x->ndim == 0) return ds_errorf(DS_ERR_SHAPE, "cannot split a zero-dimensional tensor");
    ds_status st = ds_axis_normalize(attrs[0].v.i, x->ndim, "axis", &ax);
    if (st) return st;
    int64_t total = 0;
    for (int i = 1; i < n_in; i++) {
        if (in[i].ndim != x->ndim)
            return ds_errorf(DS_ERR_SHAPE, "reference %d has %d dims, the tensor has %d", i - 1, in[i].ndim, x->ndim);
        out[i - 1] = *x;
        out[i - 1].shape[ax] = in[i].shape[ax];
        total = total < 0 || in[i].shape[ax] < 0 ? -1 : total + in[i].shape[ax];
    }
    *n_out = n_in - 1;
    return DS_OK;
}

static ds_status split_like_run(ds_op_call *c) {
    ds_tensor *x = c->in[0];
    int ax;
    ds_status st = ds_axis_normalize(c->attrs[0].v.i, x->ndim, "axis", &ax);
    int64_t off = 0, total = 0;
    for (int i = 0; i < c->n_out; i++) total += c->out[i]->shape[ax];
    if (!st && total != x->shape[ax])
        return ds_errorf(DS_ERR_SHAPE, "the references' sizes along axis %d sum to %lld, the tensor has %lld", ax, (long long)total,
                         (long long)x->shape[ax]);
    for (int i = 0; i < c->n_out && !st; i++) {
        ds_tensor *v = NULL;
        int64_t len = c->out[i]->shape[ax];
        st = ds_tensor_slice(x, ax, off, off + len, 1, &v);
        if (!st) st = ds_tensor_copy_into(c->out[i], v);
        ds_tensor_release(v);
        off += len;
    }
    return st;
}

/* ---------------------------------------------------------------- slice_scatter */
/* Applies strided_slice's attributes to t (a view). */
static ds_status apply_slices(ds_tensor *t, const ds_attr *attrs, ds_tensor **out) {
    const ds_attr *b = &attrs[0], *e = &attrs[1], *s = &attrs[2];
    if (b->kind != DS_ATTR_INTS || e->kind != DS_ATTR_INTS || s->kind != DS_ATTR_INTS || b->n != e->n || b->n != s->n ||
        b->n > t->ndim)
        return ds_errorf(DS_ERR_VALUE, "begin, end and strides must have the same length (at most %d), got %lld, %lld, %lld", t->ndim,
                         (long long)b->n, (long long)e->n, (long long)s->n);
    ds_tensor *cur = ds_tensor_retain(t), *next;
    for (int i = 0; i < b->n; i++) {
        ds_status st = ds_tensor_slice(cur, i, b->v.ints[i], e->v.ints[i], s->v.ints[i], &next);
        ds_tensor_release(cur);
        if (st) return st;
        cur = next;
    }
    *out = cur;
    return DS_OK;
}

static ds_status slice_scatter_infer(ds_op_id op, int n_in, const ds_meta *in, const ds_attr *attrs, ds_meta *out, int *n_out) {
    ds_tensor *x, *v;
    ds_status st = ds_tensor_new_declared(in[0].dtype, in[0].ndim, in[0].shape, &x);
    if (st) return st;
    x->numel = ds_shape_numel(x->ndim, x->shape);
    x->contiguous = true;
    st = apply_slices(x, attrs, &v);
    ds_tensor_release(x);
    if (st) return st;
    ds_meta sl;
    ds_meta_of(v, &sl);
    ds_tensor_release(v);
    if (in[1].ndim > sl.ndim) return shape_err("source of shape", &in[1], "has a larger rank than the slice", &sl);
    *out = in[0];
    *n_out = 1;
    return DS_OK;
}

static ds_status slice_scatter_run(ds_op_call *c) {
    ds_tensor *v = NULL;
    ds_status st = ds_tensor_copy_into(c->out[0], c->in[0]);
    if (!st) st = apply_slices(c->out[0], c->attrs, &v);
    if (!st) {
        ds_meta ms, mv;
        ds_meta_of(c->in[1], &ms);
        ds_meta_of(v, &mv);
        if (!bcasts(&ms, &mv)) st = shape_err("source of shape", &ms, "does not broadcast to the slice's shape", &mv);
    }
    if (!st) st = ds_tensor_copy_into(v, c->in[1]);
    ds_tensor_release(v);
    return st;
}

/* ---------------------------------------------------------------- index reading */


/* Element e of t broadcast (right-aligned) to (nd, shape), e in row-major order. */
static int64_t index_at(const ds_tensor *t, int nd, const int64_t *shape, int64_t e) {
    int64_t off = 0;
    for (int d = nd - 1; d >= 0; d--) {
        int64_t i = e % shape[d];
        e /= shape[d];
        int td = d - (nd - t->ndim);
        if (td >= 0 && t->shape[td] != 1) off += i * t->strides[td];
    }
    return ds_index_load(t->dtype, t->data + off * (int64_t)ds_dtype_size(t->dtype));
}

static ds_status out_of_bounds(int64_t v, int axis, int64_t size) {
    return ds_errorf(DS_ERR_INDEX, "index %lld is out of bounds for axis %d with size %lld", (long long)v, axis, (long long)size);
}

/* Adds n elements of src to dst (both contiguous, dtype dt). */
static ds_status add_rows(ds_dtype dt, char *dst, const char *src, int64_t n) {
    ds_loop_fn fn = ds_kernel_binary(DS_OP_ADD, dt);
    if (!fn) return ds_errorf(DS_ERR_DTYPE, "not supported for dtype %s", ds_dtype_name(dt));
    int64_t es = (int64_t)ds_dtype_size(dt), steps[3] = {es, es, es};
    char *args[3] = {dst, (char *)src, dst};
    fn(args, steps, n, NULL);
    return DS_OK;
}

/* ---------------------------------------------------------------- index_add */
static ds_status index_add_infer(ds_op_id op, int n_in, const ds_meta *in, const ds_attr *attrs, ds_meta *out, int *n_out) {
    if (n_in < 2) return ds_errorf(DS_ERR_VALUE, "expected a tensor, values and index tensors, got %d inputs", n_in);
    const ds_meta *x = &in[0];
    int k = n_in - 2, nb;
    int64_t b[DS_MAX_DIMS * 2];
    ds_meta t = {x->dtype, 0, {0}};
    ds_status st = ds_index_target(x, k, in + 2, &nb, b, &t.ndim, t.shape);
    if (st) return st;
    if (in[1].ndim > t.ndim) return shape_err("values of shape", &in[1], "have a larger rank than the indexing result", &t);
    *out = *x;
    *n_out = 1;
    return DS_OK;
}

static ds_status index_add_run(ds_op_call *c) {
    ds_tensor *x = c->in[0], *out = c->out[0], *v = NULL;
    int k = c->n_in - 2, nb;
    ds_meta m[DS_MAX_DIMS];
    for (int j = 0; j < k; j++) ds_meta_of(c->in[2 + j], &m[j]);
    int64_t b[DS_MAX_DIMS * 2], t[DS_MAX_DIMS];
    int nt;
    ds_status st;
    ds_meta mx;
    ds_meta_of(x, &mx);
    DS_TRY(ds_index_target(&mx, k, m, &nb, b, &nt, t));
    DS_TRY(ds_tensor_copy_into(out, x));
    ds_meta mv, mt = {x->dtype, nt, {0}};
    ds_meta_of(c->in[1], &mv);
    memcpy(mt.shape, t, sizeof(int64_t) * (size_t)nt);
    if (!bcasts(&mv, &mt)) {
        st = shape_err("values of shape", &mv, "do not broadcast to the indexing result's shape", &mt);
        goto fail;
    }
    DS_TRY(ds_tensor_new(x->dtype, nt, t, &v)); /* values broadcast and converted to x's dtype */
    DS_TRY(ds_tensor_copy_into(v, c->in[1]));
    int64_t n = ds_shape_numel(nb, b), inner = ds_shape_numel(x->ndim - k, x->shape + k);
    size_t es = ds_dtype_size(x->dtype);
    for (int64_t i = 0; i < n && inner > 0; i++) {
        int64_t row = 0;
        for (int j = 0; j < k; j++) {
            int64_t ix = index_at(c->in[2 + j], nb, b, i), size = x->shape[j];
            if (ix < -size || ix >= size) {
                st = out_of_bounds(ix, j, size);
                goto fail;
            }
            row = row * size + (ix < 0 ? ix + size : ix);
        }
        DS_TRY(add_rows(x->dtype, out->data + (size_t)(row * inner) * es, v->data + (size_t)(i * inner) * es, inner));
    }
fail:
    ds_tensor_release(v);
    return st;
}

/* ---------------------------------------------------------------- scatter_add */
static ds_status scatter_add_infer(ds_op_id op, int n_in, const ds_meta *in, const ds_attr *attrs, ds_meta *out, int *n_out) {
    const ds_meta *x = &in[0], *ix = &in[1], *src = &in[2];
    int ax;
    if (x->ndim == 0) return ds_errorf(DS_ERR_SHAPE, "input must have at least one dim");
    if (ix->ndim != x->ndim || src->ndim != x->ndim)
        return ds_errorf(DS_ERR_SHAPE, "input, index and src must have the same number of dims, got %d, %d and %d", x->ndim,
                         ix->ndim, src->ndim);
    ds_status st = ds_axis_normalize(attrs[0].v.i, x->ndim, "axis", &ax);
    if (!st) st = ds_index_check_dtype(ix->dtype, "index");
    if (st) return st;
    *out = *x;
    *n_out = 1;
    return DS_OK;
}

static void add_elem(ds_dtype dt, char *d, const char *s) {
    switch (dt) {
    case DS_FLOAT32: *(float *)d += *(const float *)s; break;
    case DS_FLOAT64: *(double *)d += *(const double *)s; break;
    case DS_BOOL: *d = (char)(*d | *s); break;
    case DS_FLOAT16: case DS_BFLOAT16: ds_dtype_store_double(dt, d, ds_dtype_load_double(dt, d) + ds_dtype_load_double(dt, s)); break;
    default: ds_dtype_store_int(dt, d, ds_dtype_load_int(dt, d) + ds_dtype_load_int(dt, s)); break;
    }
}

static ds_status scatter_add_run(ds_op_call *c) {
    ds_tensor *x = c->in[0], *ix = c->in[1], *src = c->in[2], *out = c->out[0], *sc = NULL;
    int ax, nd = x->ndim;
    ds_status st;
    DS_TRY(ds_axis_normalize(c->attrs[0].v.i, nd, "axis", &ax));
    for (int d = 0; d < nd; d++)
        if (ix->shape[d] > src->shape[d] || (d != ax && ix->shape[d] > x->shape[d])) {
            char a[DS_SHAPE_STR_MAX], b[DS_SHAPE_STR_MAX], s[DS_SHAPE_STR_MAX];
            return ds_errorf(DS_ERR_SHAPE, "index of shape %s does not fit input %s and src %s at dim %d", SHAPE_S(nd, ix->shape, a),
                             SHAPE_S(nd, x->shape, b), SHAPE_S(nd, src->shape, s), d);
        }
    DS_TRY(ds_tensor_copy_into(out, x));
    if (src->dtype != x->dtype) {
        DS_TRY(ds_tensor_new(x->dtype, src->ndim, src->shape, &sc));
        DS_TRY(ds_tensor_copy_into(sc, src));
        src = sc;
    }
    size_t es = ds_dtype_size(x->dtype), ies = ds_dtype_size(ix->dtype);
    int64_t size = x->shape[ax];
    for (int64_t e = 0; e < ix->numel; e++) {
        int64_t rem = e, ioff = 0, soff = 0, ooff = 0;
        for (int d = nd - 1; d >= 0; d--) {
            int64_t i = rem % ix->shape[d];
            rem /= ix->shape[d];
            ioff += i * ix->strides[d];
            soff += i * src->strides[d];
            if (d != ax) ooff += i * out->strides[d];
        }
        int64_t v = ds_index_load(ix->dtype, ix->data + (size_t)ioff * ies);
        if (v < -size || v >= size) {
            st = out_of_bounds(v, ax, size);
            goto fail;
        }
        ooff += (v < 0 ? v + size : v) * out->strides[ax];
        add_elem(x->dtype, out->data + ooff * (int64_t)es, src->data + soff * (int64_t)es);
    }
fail:
    ds_tensor_release(sc);
    return st;
}

/* ---------------------------------------------------------------- tensor lists */
/* A list's storage is one block: this header, then room for `cap` rows. `rows` is the high-water
 * mark: rows below it may be visible through some tensor, rows above it are free to append into. */
typedef struct list_block {
    _Atomic int64_t rows;
    int64_t cap;
    size_t row_bytes;
    char *data;
} list_block;

#define LIST_HDR (((sizeof(list_block) + DS_ALIGN - 1) / DS_ALIGN) * DS_ALIGN)

static void list_release(void *ctx) { ds_free(ctx); }

/* A new list tensor [n] + row (n <= cap) over a fresh block. */
static ds_status list_alloc(ds_dtype dt, int row_nd, const int64_t *row, int64_t n, int64_t cap, ds_tensor **out) {
    size_t row_bytes = (size_t)ds_shape_numel(row_nd, row) * ds_dtype_size(dt);
    list_block *b = ds_malloc(LIST_HDR + row_bytes * (size_t)cap);
    if (!b) return DS_ERR_NOMEM;
    atomic_init(&b->rows, n);
    b->cap = cap;
    b->row_bytes = row_bytes;
    b->data = (char *)b + LIST_HDR;
    int64_t shape[DS_MAX_DIMS];
    shape[0] = n;
    memcpy(shape + 1, row, sizeof(int64_t) * (size_t)row_nd);
    ds_status st = ds_tensor_wrap(dt, row_nd + 1, shape, NULL, b->data, list_release, b, out);
    if (st) ds_free(b);
    return st;
}

static list_block *list_block_of(const ds_tensor *t) {
    return t->storage && t->storage->release == list_release ? t->storage->ctx : NULL;
}

static ds_status list_new_infer(ds_op_id op, int n_in, const ds_meta *in, const ds_attr *attrs, ds_meta *out, int *n_out) {
    const ds_attr *s = &attrs[1];
    if (attrs[0].kind != DS_ATTR_DTYPE || (unsigned)attrs[0].v.dtype >= DS_DTYPE_COUNT)
        return ds_errorf(DS_ERR_VALUE, "attribute 'dtype' must be a dtype");
    if (s->kind != DS_ATTR_INTS || s->n + 1 > DS_MAX_DIMS)
        return ds_errorf(DS_ERR_SHAPE, "shape must be a list of at most %d ints", DS_MAX_DIMS - 1);
    out->dtype = attrs[0].v.dtype;
    out->ndim = (int)s->n + 1;
    out->shape[0] = DS_DIM_UNKNOWN;
    memcpy(out->shape + 1, s->v.ints, sizeof(int64_t) * (size_t)s->n);
    *n_out = 1;
    return DS_OK;
}

static ds_status list_new_run(ds_op_call *c) {
    int64_t row[DS_MAX_DIMS];
    const ds_attr *s = &c->attrs[1];
    for (int64_t i = 0; i < s->n; i++) row[i] = s->v.ints[i] > 0 ? s->v.ints[i] : 0;
    return list_alloc(c->attrs[0].v.dtype, (int)s->n, row, 0, 0, &c->out[0]);
}

static ds_status list_push_infer(ds_op_id op, int n_in, const ds_meta *in, const ds_attr *attrs, ds_meta *out, int *n_out) {
    const ds_meta *l = &in[0], *x = &in[1];
    if (l->ndim < 1 || x->ndim != l->ndim - 1) {
        char a[DS_SHAPE_STR_MAX], b[DS_SHAPE_STR_MAX];
        return ds_errorf(DS_ERR_SHAPE, "a row of shape %s does not fit a list of shape %s", SHAPE_S(x->ndim, x->shape, a),
                         SHAPE_S(l->ndim, l->shape, b));
    }
    if (x->dtype != l->dtype)
        return ds_errorf(DS_ERR_DTYPE, "a %s row does not fit a %s list", ds_dtype_name(x->dtype), ds_dtype_name(l->dtype));
    *out = *l;
    out->shape[0] = l->shape[0] >= 0 ? l->shape[0] + 1 : DS_DIM_UNKNOWN;
    *n_out = 1;
    return DS_OK;
}

static ds_status list_push_run(ds_op_call *c) {
    ds_tensor *l = c->in[0], *x = c->in[1], *nl = NULL, *row = NULL, *old = NULL;
    int64_t n = l->shape[0];
    ds_status st = DS_OK;
    if (n > 0 && !ds_shape_equal(x->ndim, x->shape, l->ndim - 1, l->shape + 1)) {
        char a[DS_SHAPE_STR_MAX], b[DS_SHAPE_STR_MAX];
        return ds_errorf(DS_ERR_SHAPE, "a row of shape %s does not fit a list of rows of shape %s (does a loop value change shape "
                         "between iterations?)", SHAPE_S(x->ndim, x->shape, a), SHAPE_S(l->ndim - 1, l->shape + 1, b));
    }
    list_block *b = list_block_of(l);
    size_t row_bytes = (size_t)x->numel * ds_dtype_size(x->dtype);
    int64_t expect = n;
    if (b && l->data == b->data && l->contiguous && b->row_bytes == row_bytes && n < b->cap &&
        atomic_compare_exchange_strong(&b->rows, &expect, n + 1)) {
        int64_t shape[DS_MAX_DIMS];
        memcpy(shape, l->shape, sizeof shape);
        shape[0] = n + 1;
        DS_TRY(ds_tensor_view(l, l->ndim, shape, NULL, 0, &nl));
    } else {
        int64_t cap = 2 * (n + 1) < 4 ? 4 : 2 * (n + 1);
        DS_TRY(list_alloc(x->dtype, x->ndim, x->shape, n + 1, cap, &nl));
        if (n > 0) {
            int64_t shape[DS_MAX_DIMS];
            memcpy(shape, l->shape, sizeof shape);
            DS_TRY(ds_tensor_view(nl, l->ndim, shape, NULL, 0, &old));
            DS_TRY(ds_tensor_copy_into(old, l));
        }
    }
    DS_TRY(ds_tensor_view(nl, x->ndim, x->shape, NULL, n * x->numel, &row));
    DS_TRY(ds_tensor_copy_into(row, x));
    c->out[0] = nl;
    nl = NULL;
fail:
    ds_tensor_release(nl);
    ds_tensor_release(row);
    ds_tensor_release(old);
    return st;
}

static ds_status list_drop_infer(ds_op_id op, int n_in, const ds_meta *in, const ds_attr *attrs, ds_meta *out, int *n_out) {
    if (in[0].ndim < 1) return ds_errorf(DS_ERR_SHAPE, "expected a list (at least one dim)");
    ds_status st = ds_index_check_dtype(in[1].dtype, "the row count");
    if (st) return st;
    if (in[1].ndim != 0) return ds_errorf(DS_ERR_SHAPE, "the row count must be a scalar, got %d dims", in[1].ndim);
    *out = in[0];
    out->shape[0] = DS_DIM_UNKNOWN;
    *n_out = 1;
    return DS_OK;
}

static ds_status list_drop_run(ds_op_call *c) {
    ds_tensor *l = c->in[0];
    int64_t n = ds_index_load(c->in[1]->dtype, c->in[1]->data);
    if (n < 0 || n > l->shape[0])
        return ds_errorf(DS_ERR_INDEX, "cannot drop %lld rows from a list of %lld", (long long)n, (long long)l->shape[0]);
    return ds_tensor_slice(l, 0, 0, l->shape[0] - n, 1, &c->out[0]);
}

/* Fills the registry slots of the autodiff support ops. */
void ds_ops_register_grad(ds_op_impl *table) {
    table[DS_OP_STOP_GRADIENT] = (ds_op_impl){same_infer, stop_gradient_run, DS_IMPL_ALLOCATES};
    table[DS_OP_ZEROS_LIKE] = (ds_op_impl){same_infer, fill_like_run, 0};
    table[DS_OP_ONES_LIKE] = (ds_op_impl){same_infer, fill_like_run, 0};
    table[DS_OP_SUM_LIKE] = (ds_op_impl){like_infer, sum_like_run, DS_IMPL_ALLOCATES};
    table[DS_OP_BROADCAST_LIKE] = (ds_op_impl){like_infer, broadcast_like_run, DS_IMPL_ALLOCATES};
    table[DS_OP_RESHAPE_LIKE] = (ds_op_impl){like_infer, reshape_like_run, DS_IMPL_ALLOCATES};
    table[DS_OP_SPLIT_LIKE] = (ds_op_impl){split_like_infer, split_like_run, 0};
    table[DS_OP_SLICE_SCATTER] = (ds_op_impl){slice_scatter_infer, slice_scatter_run, 0};
    table[DS_OP_INDEX_ADD] = (ds_op_impl){index_add_infer, index_add_run, 0};
    table[DS_OP_SCATTER_ADD] = (ds_op_impl){scatter_add_infer, scatter_add_run, 0};
    table[DS_OP_TENSOR_LIST_NEW] = (ds_op_impl){list_new_infer, list_new_run, DS_IMPL_ALLOCATES};
    table[DS_OP_TENSOR_LIST_PUSH] = (ds_op_impl){list_push_infer, list_push_run, DS_IMPL_ALLOCATES};
    table[DS_OP_TENSOR_LIST_DROP] = (ds_op_impl){list_drop_infer, list_drop_run, DS_IMPL_ALLOCATES};
}
