/* Gathering and indexing: gather (np.take), gather_elements (torch.gather), one_hot, nonzero,
 * index (x[i_0, ..., i_{k-1}] with integer tensors) and index_put (the in-place assignment).
 * Index values are bounds-checked at run time; negative ones wrap once, as in NumPy.
 * Messages leave out the op name: the dispatcher prefixes it. */
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "base/alloc.h"
#include "base/status.h"
#include "base/threadpool.h"
#include "kernels/copy.h"
#include "ops/index_util.h"
#include "ops/op.h"
#include "tensor/dtype.h"

#define SHAPE_S(nd, s, buf) ds_shape_str((nd), (s), (buf), sizeof(buf))

/* ---------------------------------------------------------------- helpers */
ds_status ds_index_check_dtype(ds_dtype dt, const char *what) {
    if (ds_dtype_is_int(dt)) return DS_OK;
    if (dt == DS_BOOL)
        return ds_errorf(DS_ERR_DTYPE, "%s must be an integer tensor, got bool (convert masks with nonzero)", what);
    return ds_errorf(DS_ERR_DTYPE, "%s must be an integer tensor, got %s", what, ds_dtype_name(dt));
}


/* Reads the integer tensor t, broadcast (right-aligned) to (nd, shape), into dst in row-major order. */
static void read_ints_bcast(const ds_tensor *t, int nd, const int64_t *shape, int64_t *dst) {
    int64_t n = ds_shape_numel(nd, shape);
    if (n == 0) return;
    int64_t st[DS_MAX_DIMS], idx[DS_MAX_DIMS] = {0};
    int64_t es = (int64_t)ds_dtype_size(t->dtype);
    for (int d = 0; d < nd; d++) {
        int td = d - (nd - t->ndim);
        st[d] = td >= 0 && t->shape[td] != 1 ? t->strides[td] * es : 0;
    }
    if (nd == 0) {
        dst[0] = ds_index_load(t->dtype, t->data);
        return;
    }
    const char *p = t->data;
    int64_t inner = shape[nd - 1], ist = st[nd - 1];
    for (int64_t done = 0; done < n; done += inner) {
        for (int64_t j = 0; j < inner; j++) *dst++ = ds_index_load(t->dtype, p + j * ist);
        for (int d = nd - 2; d >= 0; d--) { /* odometer over the outer dims */
            p += st[d];
            if (++idx[d] < shape[d]) break;
            p -= st[d] * shape[d];
            idx[d] = 0;
        }
    }
}

/* Wraps negative indices against `size`; DS_ERR_INDEX (NumPy's message) if any is out of range. */
static ds_status wrap_indices(int64_t *v, int64_t n, int64_t size, int axis) {
    for (int64_t i = 0; i < n; i++) {
        int64_t x = v[i];
        if (x < -size || x >= size)
            return ds_errorf(DS_ERR_INDEX, "index %lld is out of bounds for axis %d with size %lld",
                             (long long)x, axis, (long long)size);
        if (x < 0) v[i] = x + size;
    }
    return DS_OK;
}

static int64_t *alloc_ints(int64_t n) { return ds_malloc(sizeof(int64_t) * (size_t)(n > 0 ? n : 1)); }

static inline void copy_elem(char *d, const char *s, size_t es) {
    switch (es) {
    case 1: *d = *s; break;
    case 2: memcpy(d, s, 2); break;
    case 4: memcpy(d, s, 4); break;
    default: memcpy(d, s, 8); break;
    }
}

/* ---------------------------------------------------------------- gather */
/* gather(params, indices; axis) = np.take(params, indices, axis): out shape
 * params.shape[:axis] + indices.shape + params.shape[axis+1:]. */
static ds_status gather_infer(ds_op_id op, int n_in, const ds_meta *in, const ds_attr *attrs,
                              ds_meta *out, int *n_out) {
    const ds_meta *p = &in[0], *ix = &in[1];
    int ax;
    if (p->ndim == 0) return ds_errorf(DS_ERR_SHAPE, "cannot gather from a zero-dimensional tensor");
    ds_status st = ds_axis_normalize(attrs[0].v.i, p->ndim, "axis", &ax);
    if (!st) st = ds_index_check_dtype(ix->dtype, "indices");
    if (st) return st;
    int nd = p->ndim - 1 + ix->ndim;
    if (nd > DS_MAX_DIMS)
        return ds_errorf(DS_ERR_SHAPE, "result would have %d dims, at most %d are supported", nd, DS_MAX_DIMS);
    out->dtype = p->dtype;
    out->ndim = nd;
    int k = 0;
    for (int d = 0; d < ax; d++) out->shape[k++] = p->shape[d];
    for (int d = 0; d < ix->ndim; d++) out->shape[k++] = ix->shape[d];
    for (int d = ax + 1; d < p->ndim; d++) out->shape[k++] = p->shape[d];
    *n_out = 1;
    return DS_OK;
}

static ds_status gather_run(ds_op_call *c) {
    ds_tensor *p = c->in[0], *ix = c->in[1], *out = c->out[0], *pc = NULL;
    int ax;
    ds_status st = ds_axis_normalize(c->attrs[0].v.i, p->ndim, "axis", &ax);
    if (st) return st;
    int64_t *idx = alloc_ints(ix->numel);
    if (!idx) return DS_ERR_NOMEM;
    read_ints_bcast(ix, ix->ndim, ix->shape, idx);
    DS_TRY(wrap_indices(idx, ix->numel, p->shape[ax], ax));
    if (out->numel > 0) {
        DS_TRY(ds_tensor_contiguous(p, &pc));
        int64_t outer = ds_shape_numel(ax, p->shape);
        int64_t inner = ds_shape_numel(p->ndim - ax - 1, p->shape + ax + 1);
        ds_take_rows(out->data, pc->data, outer, p->shape[ax], idx, ix->numel,
                     (size_t)inner * ds_dtype_size(p->dtype));
    }
fail:
    ds_tensor_release(pc);
    ds_free(idx);
    return st;
}

/* ---------------------------------------------------------------- gather_elements */
/* gather_elements(x, index; axis) = torch.gather / MindSpore GatherD: out has index's shape and
 * out[i_0, ..., i_n] = x[i_0, ..., index[i_0, ..., i_n], ..., i_n] (index replaces dim `axis`).
 * index.ndim == x.ndim, and index.shape[d] <= x.shape[d] for d != axis. */
static ds_status gather_elements_infer(ds_op_id op, int n_in, const ds_meta *in, const ds_attr *attrs,
                                       ds_meta *out, int *n_out) {
    const ds_meta *x = &in[0], *ix = &in[1];
    char a[DS_SHAPE_STR_MAX], b[DS_SHAPE_STR_MAX];
    int ax;
    if (x->ndim == 0) return ds_errorf(DS_ERR_SHAPE, "input must have at least one dim");
    if (ix->ndim != x->ndim)
        return ds_errorf(DS_ERR_SHAPE, "index has shape %s (%d dims) but input has shape %s (%d dims); they must have the same number of dims",
                         SHAPE_S(ix->ndim, ix->shape, a), ix->ndim, SHAPE_S(x->ndim, x->shape, b), x->ndim);
    ds_status st = ds_axis_normalize(attrs[0].v.i, x->ndim, "axis", &ax);
    if (!st) st = ds_index_check_dtype(ix->dtype, "index");
    if (st) return st;
    for (int d = 0; d < x->ndim; d++)
        if (d != ax && ix->shape[d] >= 0 && x->shape[d] >= 0 && ix->shape[d] > x->shape[d])
            return ds_errorf(DS_ERR_SHAPE, "index has shape %s but input has shape %s: index dim %d (%lld) exceeds the input's (%lld)",
                             SHAPE_S(ix->ndim, ix->shape, a), SHAPE_S(x->ndim, x->shape, b), d,
                             (long long)ix->shape[d], (long long)x->shape[d]);
    out->dtype = x->dtype;
    out->ndim = ix->ndim;
    memcpy(out->shape, ix->shape, sizeof(int64_t) * (size_t)ix->ndim);
    *n_out = 1;
    return DS_OK;
}

typedef struct gel_ctx {
    const ds_tensor *x, *ix;
    char *dst;
    int ax;
    _Atomic int64_t bad; /* lowest flat position of an out-of-range index (INT64_MAX: none) */
} gel_ctx;

static void gel_range(void *p, int64_t b, int64_t e) {
    gel_ctx *c = p;
    const ds_tensor *x = c->x, *ix = c->ix;
    int nd = ix->ndim, last = nd - 1, ax = c->ax;
    size_t es = ds_dtype_size(x->dtype), ies = ds_dtype_size(ix->dtype);
    int64_t n = ix->shape[last], size = x->shape[ax];
    for (int64_t r = b; r < e; r++) {
        int64_t rem = r, xoff = 0, ioff = 0;
        for (int d = last - 1; d >= 0; d--) {
            int64_t i = rem % ix->shape[d];
            rem /= ix->shape[d];
            ioff += i * ix->strides[d];
            if (d != ax) xoff += i * x->strides[d];
        }
        char *q = c->dst + (size_t)(r * n) * es;
        for (int64_t j = 0; j < n; j++) {
            int64_t v = ds_index_load(ix->dtype, ix->data + (size_t)(ioff + j * ix->strides[last]) * ies);
            if (v < -size || v >= size) {
                int64_t pos = r * n + j, cur = atomic_load(&c->bad);
                while (pos < cur && !atomic_compare_exchange_weak(&c->bad, &cur, pos)) {}
                return;
            }
            if (v < 0) v += size;
            int64_t o = xoff + v * x->strides[ax] + (ax == last ? 0 : j * x->strides[last]);
            copy_elem(q + (size_t)j * es, x->data + o * (int64_t)es, es);
        }
    }
}

static ds_status gather_elements_run(ds_op_call *c) {
    ds_tensor *ix = c->in[1], *out = c->out[0];
    int ax;
    ds_status st = ds_axis_normalize(c->attrs[0].v.i, c->in[0]->ndim, "axis", &ax);
    if (st || out->numel == 0) return st;
    gel_ctx g = {.x = c->in[0], .ix = ix, .dst = out->data, .ax = ax};
    atomic_init(&g.bad, INT64_MAX);
    int64_t rows = out->numel / ix->shape[ix->ndim - 1];
    ds_parallel_for(rows, 1 + (1 << 14) / ix->shape[ix->ndim - 1], gel_range, &g);
    int64_t bad = atomic_load(&g.bad);
    if (bad != INT64_MAX) {
        int64_t v = 0;
        ds_tensor_get_int(ix, bad, &v);
        return ds_errorf(DS_ERR_INDEX, "index %lld is out of bounds for axis %d with size %lld",
                         (long long)v, ax, (long long)c->in[0]->shape[ax]);
    }
    return DS_OK;
}

/* ---------------------------------------------------------------- one_hot */
/* one_hot(indices; depth, on_value, off_value, axis, dtype): a new dim of size depth is inserted at
 * axis (-1 = last); out[..., k, ...] = on_value where indices == k, else off_value. As in
 * MindSpore/TensorFlow, an index outside [0, depth) gives a row of off_value. */
static ds_status one_hot_infer(ds_op_id op, int n_in, const ds_meta *in, const ds_attr *attrs,
                               ds_meta *out, int *n_out) {
    int nd = in[0].ndim, ax;
    int64_t depth = attrs[0].v.i;
    ds_status st = ds_index_check_dtype(in[0].dtype, "indices");
    if (st) return st;
    if (depth < 0) return ds_errorf(DS_ERR_VALUE, "depth must be non-negative, got %lld", (long long)depth);
    if (nd + 1 > DS_MAX_DIMS)
        return ds_errorf(DS_ERR_SHAPE, "result would have %d dims, at most %d are supported", nd + 1, DS_MAX_DIMS);
    st = ds_axis_normalize(attrs[3].v.i, nd + 1, "axis", &ax);
    if (st) return st;
    out->dtype = attrs[4].v.dtype;
    out->ndim = nd + 1;
    for (int d = 0, k = 0; d <= nd; d++) out->shape[d] = d == ax ? depth : in[0].shape[k++];
    *n_out = 1;
    return DS_OK;
}

static ds_status one_hot_run(ds_op_call *c) {
    ds_tensor *ix = c->in[0], *out = c->out[0];
    int64_t depth = c->attrs[0].v.i;
    int ax;
    ds_status st = ds_axis_normalize(c->attrs[3].v.i, ix->ndim + 1, "axis", &ax);
    if (st || out->numel == 0) return st;
    int64_t *idx = alloc_ints(ix->numel);
    if (!idx) return DS_ERR_NOMEM;
    read_ints_bcast(ix, ix->ndim, ix->shape, idx);
    size_t es = ds_dtype_size(out->dtype);
    unsigned char on[8], off[8];
    ds_dtype_store_double(out->dtype, on, c->attrs[1].v.f);
    ds_dtype_store_double(out->dtype, off, c->attrs[2].v.f);
    ds_fill_elems(out->data, out->numel, off, es);
    int64_t inner = ds_shape_numel(ix->ndim - ax, ix->shape + ax);
    for (int64_t p = 0; p < ix->numel; p++) {
        int64_t v = idx[p];
        if (v < 0 || v >= depth) continue;
        int64_t o = p / inner, i = p % inner;
        memcpy(out->data + (size_t)((o * depth + v) * inner + i) * es, on, es);
    }
    ds_free(idx);
    return DS_OK;
}

/* ---------------------------------------------------------------- nonzero */
/* nonzero(x) -> int64 [nnz, ndim]: the row-major multi-indices of x's nonzero elements (NaN counts as
 * nonzero, -0.0 as zero). Its output shape depends on the data, so run allocates it. */
static ds_status nonzero_infer(ds_op_id op, int n_in, const ds_meta *in, const ds_attr *attrs,
                               ds_meta *out, int *n_out) {
    out->dtype = DS_INT64;
    out->ndim = 2;
    out->shape[0] = -1;
    out->shape[1] = in[0].ndim;
    *n_out = 1;
    return DS_OK;
}

static inline bool is_nonzero(ds_dtype dt, const char *p) {
    switch (dt) {
    case DS_BOOL: case DS_INT8: case DS_UINT8: return *p != 0;
    case DS_INT16: { int16_t v; memcpy(&v, p, 2); return v != 0; }
    case DS_FLOAT16: case DS_BFLOAT16: { uint16_t v; memcpy(&v, p, 2); return (v & 0x7fffu) != 0; }
    case DS_INT32: { int32_t v; memcpy(&v, p, 4); return v != 0; }
    case DS_FLOAT32: { uint32_t v; memcpy(&v, p, 4); return (v & 0x7fffffffu) != 0; }
    case DS_INT64: { int64_t v; memcpy(&v, p, 8); return v != 0; }
    default: { uint64_t v; memcpy(&v, p, 8); return (v & 0x7fffffffffffffffull) != 0; }
    }
}

#define NZ_CHUNK (1 << 16)

typedef struct nz_ctx {
    const ds_tensor *x;
    int64_t *counts; /* per chunk; after the prefix sum, the chunk's first output row */
    int64_t *out;    /* NULL: count only */
} nz_ctx;

/* Walks flat elements [b, e) of x in row-major order, counting or writing multi-indices. */
static int64_t nz_walk(const nz_ctx *c, int64_t b, int64_t e, int64_t *out) {
    const ds_tensor *x = c->x;
    int nd = x->ndim;
    size_t es = ds_dtype_size(x->dtype);
    int64_t idx[DS_MAX_DIMS], rem = b, off = 0, cnt = 0;
    for (int d = nd - 1; d >= 0; d--) {
        idx[d] = rem % x->shape[d];
        rem /= x->shape[d];
        off += idx[d] * x->strides[d];
    }
    for (int64_t i = b; i < e; i++) {
        if (is_nonzero(x->dtype, x->data + off * (int64_t)es)) {
            if (out) {
                memcpy(out, idx, sizeof(int64_t) * (size_t)nd);
                out += nd;
            }
            cnt++;
        }
        for (int d = nd - 1; d >= 0; d--) {
            off += x->strides[d];
            if (++idx[d] < x->shape[d]) break;
            off -= x->strides[d] * x->shape[d];
            idx[d] = 0;
        }
    }
    return cnt;
}

static void nz_range(void *p, int64_t b, int64_t e) {
    const nz_ctx *c = p;
    int64_t n = c->x->numel, nd = c->x->ndim;
    for (int64_t ch = b; ch < e; ch++) {
        int64_t lo = ch * NZ_CHUNK, hi = lo + NZ_CHUNK < n ? lo + NZ_CHUNK : n;
        if (c->out) nz_walk(c, lo, hi, c->out + c->counts[ch] * nd);
        else c->counts[ch] = nz_walk(c, lo, hi, NULL);
    }
}

static ds_status nonzero_run(ds_op_call *c) {
    ds_tensor *x = c->in[0], *out = NULL;
    int64_t nch = (x->numel + NZ_CHUNK - 1) / NZ_CHUNK;
    int64_t *counts = alloc_ints(nch);
    if (!counts) return DS_ERR_NOMEM;
    nz_ctx z = {x, counts, NULL};
    ds_parallel_for(nch, 1, nz_range, &z);
    int64_t total = 0;
    for (int64_t i = 0; i < nch; i++) {
        int64_t k = counts[i];
        counts[i] = total;
        total += k;
    }
    int64_t shape[2] = {total, x->ndim};
    ds_status st = ds_tensor_new(DS_INT64, 2, shape, &out);
    if (!st && total > 0 && x->ndim > 0) {
        z.out = (int64_t *)out->data;
        ds_parallel_for(nch, 1, nz_range, &z);
    }
    ds_free(counts);
    if (!st) c->out[0] = out;
    return st;
}

/* ---------------------------------------------------------------- index / index_put */
/* Broadcast shape B of the k index tensors (metas; -1 dims are unknown). */
static ds_status index_bshape(int k, const ds_meta *ix, int *nb, int64_t *b) {
    int n = 0;
    for (int j = 0; j < k; j++) n = ix[j].ndim > n ? ix[j].ndim : n;
    for (int d = 0; d < n; d++) {
        int64_t r = 1;
        for (int j = 0; j < k; j++) {
            int jd = d - (n - ix[j].ndim);
            int64_t s = jd >= 0 ? ix[j].shape[jd] : 1;
            if (s == 1 || s == r) continue;
            if (r == 1 || r < 0) r = s;
            else if (s >= 0) {
                char msg[DS_SHAPE_STR_MAX * 8] = "", one[DS_SHAPE_STR_MAX];
                for (int i = 0; i < k; i++) {
                    if (i) strncat(msg, " ", sizeof msg - strlen(msg) - 1);
                    strncat(msg, SHAPE_S(ix[i].ndim, ix[i].shape, one), sizeof msg - strlen(msg) - 1);
                }
                return ds_errorf(DS_ERR_SHAPE, "shape mismatch: indexing tensors could not be broadcast together with shapes %s", msg);
            }
        }
        b[d] = r;
    }
    *nb = n;
    return DS_OK;
}

static ds_status too_many_indices(int ndim, int k) {
    return ds_errorf(DS_ERR_INDEX, "too many indices for tensor: tensor is %d-dimensional, but %d were indexed",
                     ndim, k);
}

ds_status ds_index_target(const ds_meta *x, int k, const ds_meta *ix, int *nb, int64_t *b, int *nt,
                             int64_t *t) {
    if (k > x->ndim) return too_many_indices(x->ndim, k);
    for (int j = 0; j < k; j++) {
        char what[32];
        snprintf(what, sizeof what, "index %d", j);
        ds_status st = ds_index_check_dtype(ix[j].dtype, what);
        if (st) return st;
    }
    ds_status st = index_bshape(k, ix, nb, b);
    if (st) return st;
    *nt = *nb + x->ndim - k;
    if (*nt > DS_MAX_DIMS)
        return ds_errorf(DS_ERR_SHAPE, "result would have %d dims, at most %d are supported", *nt, DS_MAX_DIMS);
    memcpy(t, b, sizeof(int64_t) * (size_t)*nb);
    memcpy(t + *nb, x->shape + k, sizeof(int64_t) * (size_t)(x->ndim - k));
    return DS_OK;
}

/* index(x, i_0, ..., i_{k-1}) = x[i_0, ..., i_{k-1}] (NumPy advanced indexing on the leading dims):
 * integer index tensors broadcast to B; the result has shape B + x.shape[k:]. */
static ds_status index_infer(ds_op_id op, int n_in, const ds_meta *in, const ds_attr *attrs,
                             ds_meta *out, int *n_out) {
    if (n_in < 1) return ds_errorf(DS_ERR_VALUE, "expected a tensor and index tensors, got no inputs");
    int nb, nt;
    int64_t b[DS_MAX_DIMS * 2];
    ds_status st = ds_index_target(&in[0], n_in - 1, in + 1, &nb, b, &nt, out->shape);
    if (st) return st;
    out->dtype = in[0].dtype;
    out->ndim = nt;
    *n_out = 1;
    return DS_OK;
}

/* Reads the k index tensors broadcast to B, wraps them against x's dims, and writes per element of
 * B the byte offset into x (with x's strides) and, if rows != NULL, the row-major row number in
 * x.shape[:k]. */
static ds_status index_offsets(const ds_tensor *x, int k, ds_tensor *const *ix, int nb,
                               const int64_t *b, int64_t *offs, int64_t *rows) {
    int64_t n = ds_shape_numel(nb, b), es = (int64_t)ds_dtype_size(x->dtype);
    int64_t *tmp = alloc_ints(n);
    if (!tmp) return DS_ERR_NOMEM;
    memset(offs, 0, sizeof(int64_t) * (size_t)(n > 0 ? n : 1));
    if (rows) memset(rows, 0, sizeof(int64_t) * (size_t)(n > 0 ? n : 1));
    ds_status st = DS_OK;
    for (int j = 0; j < k && !st; j++) {
        read_ints_bcast(ix[j], nb, b, tmp);
        st = wrap_indices(tmp, n, x->shape[j], j);
        for (int64_t i = 0; i < n && !st; i++) {
            offs[i] += tmp[i] * x->strides[j] * es;
            if (rows) rows[i] = rows[i] * x->shape[j] + tmp[i];
        }
    }
    ds_free(tmp);
    return st;
}

static ds_status index_run(ds_op_call *c) {
    ds_tensor *x = c->in[0], *xc = NULL, *out = c->out[0];
    int k = c->n_in - 1, nb, nt;
    int64_t b[DS_MAX_DIMS], t[DS_MAX_DIMS];
    ds_meta m[DS_MAX_DIMS + 1];
    if (k > x->ndim) return too_many_indices(x->ndim, k);
    for (int j = 0; j <= k; j++) ds_meta_of(c->in[j], &m[j]);
    ds_status st = ds_index_target(&m[0], k, m + 1, &nb, b, &nt, t);
    if (st) return st;
    int64_t *offs = alloc_ints(ds_shape_numel(nb, b));
    if (!offs) return DS_ERR_NOMEM;
    DS_TRY(ds_tensor_contiguous(x, &xc));
    DS_TRY(index_offsets(xc, k, c->in + 1, nb, b, offs, NULL));
    int64_t inner = ds_shape_numel(x->ndim - k, x->shape + k);
    if (out->numel > 0)
        ds_gather_rows(out->data, xc->data, offs, ds_shape_numel(nb, b), (size_t)inner * ds_dtype_size(x->dtype));
fail:
    ds_tensor_release(xc);
    ds_free(offs);
    return st;
}

/* index_put(x, values, i_0, ..., i_{k-1}): in place, x[i_0, ..., i_{k-1}] = values, with values
 * broadcast to B + x.shape[k:] and converted to x's dtype. No outputs. With duplicate indices the
 * last write (in row-major order of B) wins, whatever the number of threads. */
static ds_status index_put_infer(ds_op_id op, int n_in, const ds_meta *in, const ds_attr *attrs,
                                 ds_meta *out, int *n_out) {
    if (n_in < 2) return ds_errorf(DS_ERR_VALUE, "expected a tensor, values and index tensors, got %d inputs", n_in);
    int nb, nt;
    int64_t b[DS_MAX_DIMS * 2], t[DS_MAX_DIMS];
    const ds_meta *v = &in[1];
    ds_status st = ds_index_target(&in[0], n_in - 2, in + 2, &nb, b, &nt, t);
    if (st) return st;
    bool ok = v->ndim <= nt;
    for (int d = 0; ok && d < v->ndim; d++) {
        int64_t s = v->shape[d], want = t[d + nt - v->ndim];
        ok = s == want || s == 1 || s < 0 || want < 0;
    }
    if (!ok) {
        char a[DS_SHAPE_STR_MAX], bs[DS_SHAPE_STR_MAX];
        return ds_errorf(DS_ERR_SHAPE, "shape mismatch: value tensor of shape %s could not be broadcast to indexing result of shape %s",
                         SHAPE_S(v->ndim, v->shape, a), SHAPE_S(nt, t, bs));
    }
    *n_out = 0;
    return DS_OK;
}

typedef struct put_ctx {
    const ds_tensor *x;
    const char *vals; /* contiguous [nB, inner] in x's dtype */
    const int64_t *offs, *rows;
    int64_t n, inner;
    int k;
    bool inner_contig;
} put_ctx;

static void put_row(const put_ctx *c, int64_t i) {
    const ds_tensor *x = c->x;
    size_t es = ds_dtype_size(x->dtype);
    char *dst = x->data + c->offs[i];
    const char *src = c->vals + (size_t)(i * c->inner) * es;
    if (c->inner_contig) {
        memcpy(dst, src, (size_t)c->inner * es);
        return;
    }
    int nd = x->ndim - c->k;
    const int64_t *sh = x->shape + c->k, *st = x->strides + c->k;
    int64_t idx[DS_MAX_DIMS] = {0}, off = 0;
    for (int64_t e = 0; e < c->inner; e++) {
        copy_elem(dst + off * (int64_t)es, src + (size_t)e * es, es);
        for (int d = nd - 1; d >= 0; d--) {
            off += st[d];
            if (++idx[d] < sh[d]) break;
            off -= st[d] * sh[d];
            idx[d] = 0;
        }
    }
}

/* Threads own disjoint ranges of x's rows and each scans B in order, so the last write wins. */
static void put_range(void *p, int64_t b, int64_t e) {
    const put_ctx *c = p;
    for (int64_t i = 0; i < c->n; i++)
        if (c->rows[i] >= b && c->rows[i] < e) put_row(c, i);
}

static ds_status index_put_run(ds_op_call *c) {
    ds_tensor *x = c->in[0], *vals = c->in[1], *v = NULL;
    int k = c->n_in - 2, nb, nt;
    int64_t b[DS_MAX_DIMS], t[DS_MAX_DIMS];
    ds_meta m[DS_MAX_DIMS + 1];
    if (k > x->ndim) return too_many_indices(x->ndim, k);
    ds_meta_of(x, &m[0]);
    for (int j = 0; j < k; j++) ds_meta_of(c->in[2 + j], &m[1 + j]);
    ds_status st = ds_index_target(&m[0], k, m + 1, &nb, b, &nt, t);
    if (st) return st;
    int64_t n = ds_shape_numel(nb, b);
    int64_t *offs = alloc_ints(n), *rows = alloc_ints(n);
    if (!offs || !rows) {
        st = DS_ERR_NOMEM;
        goto fail;
    }
    DS_TRY(index_offsets(x, k, c->in + 2, nb, b, offs, rows));
    if (vals->contiguous && vals->dtype == x->dtype && ds_shape_equal(vals->ndim, vals->shape, nt, t) &&
        !ds_tensor_shares_storage(vals, x))
        v = ds_tensor_retain(vals);
    else {
        DS_TRY(ds_tensor_new(x->dtype, nt, t, &v));
        DS_TRY(ds_tensor_copy_into(v, vals));
    }
    put_ctx p = {.x = x, .vals = v->data, .offs = offs, .rows = rows, .n = n, .k = k,
                 .inner = ds_shape_numel(x->ndim - k, x->shape + k), .inner_contig = true};
    int64_t expect = 1;
    for (int d = x->ndim - 1; d >= k; d--) {
        if (x->shape[d] != 1 && x->strides[d] != expect) p.inner_contig = false;
        expect *= x->shape[d];
    }
    if (n == 0 || p.inner == 0) goto fail;
    int64_t nrows = ds_shape_numel(k, x->shape), nth = ds_get_num_threads();
    if (nth <= 1 || n * p.inner < (1 << 15) || nrows < 2) {
        for (int64_t i = 0; i < n; i++) put_row(&p, i);
    } else {
        ds_parallel_for(nrows, (nrows + nth - 1) / nth, put_range, &p);
    }
fail:
    ds_tensor_release(v);
    ds_free(offs);
    ds_free(rows);
    return st;
}

/* Fills the registry slots of gather, gather_elements, one_hot, nonzero, index and index_put. */
void ds_ops_register_index(ds_op_impl *table) {
    table[DS_OP_GATHER] = (ds_op_impl){gather_infer, gather_run, 0};
    table[DS_OP_GATHER_ELEMENTS] = (ds_op_impl){gather_elements_infer, gather_elements_run, 0};
    table[DS_OP_ONE_HOT] = (ds_op_impl){one_hot_infer, one_hot_run, 0};
    table[DS_OP_NONZERO] = (ds_op_impl){nonzero_infer, nonzero_run, DS_IMPL_ALLOCATES};
    table[DS_OP_INDEX] = (ds_op_impl){index_infer, index_run, 0};
    table[DS_OP_INDEX_PUT] = (ds_op_impl){index_put_infer, index_put_run, DS_IMPL_EFFECT};
}
