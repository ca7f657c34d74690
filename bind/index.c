/* Tensor indexing with NumPy's rules: ints, slices, None, Ellipsis give views; integer and boolean
 * tensors (or lists / arrays) are advanced indices handled by the INDEX and INDEX_PUT ops.
 *
 * While a graph is compiled (a trace is active, exec/trace.c), indexing a symbolic or bound tensor,
 * or indexing with a symbolic index, goes through ops instead of making views (strided_slice,
 * squeeze, unsqueeze, transpose, index, nonzero), so it becomes graph nodes; x[key] = v becomes a
 * functional update (slice_scatter, or index_put on a copy) and x is rebound to the result. */
#include <limits.h>
#include <string.h>

#include "bind.h"

/* How views are made: with header functions (eager), or with ops (graph mode). */
typedef struct index_ctx {
    bool graph;
    ds_trace *tr;    /* the active trace (graph mode) */
    PyObject *basic; /* graph-mode setitem: the key with advanced items replaced by full slices */
} index_ctx;

/* Whether t is a value of the graph being compiled (symbolic, or bound in the active trace). */
static bool graph_tensor(ds_trace *tr, const ds_tensor *t) {
    return t->symbolic || (tr && ds_trace_lookup(tr, t) != NULL);
}

static ds_status v_unsqueeze(const index_ctx *c, ds_tensor *v, int d, ds_tensor **out) {
    if (!c->graph) return ds_tensor_unsqueeze(v, d, out);
    ds_attr a = {.kind = DS_ATTR_INT, .v.i = d};
    return ds_op_run1(DS_OP_UNSQUEEZE, 1, &v, &a, out);
}

/* strided_slice attributes slicing dim d only. */
static ds_status slice_op(ds_tensor *v, int d, int64_t start, int64_t stop, int64_t step, ds_tensor **out) {
    int64_t b[DS_MAX_DIMS], e[DS_MAX_DIMS], s[DS_MAX_DIMS];
    for (int i = 0; i < d; i++) {
        b[i] = 0;
        e[i] = INT64_MAX;
        s[i] = 1;
    }
    b[d] = start;
    e[d] = stop;
    s[d] = step;
    ds_attr a[3] = {{.kind = DS_ATTR_INTS, .n = d + 1, .v.ints = b},
                    {.kind = DS_ATTR_INTS, .n = d + 1, .v.ints = e},
                    {.kind = DS_ATTR_INTS, .n = d + 1, .v.ints = s}};
    return ds_op_run1(DS_OP_SLICE, 1, &v, a, out);
}

static ds_status v_slice(const index_ctx *c, ds_tensor *v, int d, int64_t start, int64_t stop, int64_t step,
                         ds_tensor **out) {
    if (!c->graph) return ds_tensor_slice(v, d, start, stop, step, out);
    return slice_op(v, d, start, stop, step, out);
}

static ds_status squeeze_op(ds_tensor *v, int d, ds_tensor **out) {
    int64_t ax = d;
    ds_attr a = {.kind = DS_ATTR_INTS, .n = 1, .v.ints = &ax};
    return ds_op_run1(DS_OP_SQUEEZE, 1, &v, &a, out);
}

/* v[..., k, ...] at dim d (k in range, possibly negative). */
static ds_status v_select(const index_ctx *c, ds_tensor *v, int d, int64_t k, ds_tensor **out) {
    if (!c->graph) return ds_tensor_select(v, d, k, out);
    ds_tensor *s;
    ds_status st = slice_op(v, d, k, k == -1 ? INT64_MAX : k + 1, 1, &s);
    if (st) return st;
    st = squeeze_op(s, d, out);
    ds_tensor_release(s);
    return st;
}

static ds_status v_permute(const index_ctx *c, ds_tensor *v, const int *perm, ds_tensor **out) {
    if (!c->graph) return ds_tensor_permute(v, perm, out);
    int64_t p[DS_MAX_DIMS];
    for (int i = 0; i < v->ndim; i++) p[i] = perm[i];
    ds_attr a = {.kind = DS_ATTR_INTS, .n = v->ndim, .v.ints = p};
    return ds_op_run1(DS_OP_TRANSPOSE, 1, &v, &a, out);
}

/* Appends `n` full slices (or `o` when n < 0) to the basic key being collected. */
static int basic_push(const index_ctx *c, PyObject *o, int n) {
    if (!c->basic) return 0;
    if (n < 0) return PyList_Append(c->basic, o);
    for (int i = 0; i < n; i++) {
        PyObject *s = PySlice_New(NULL, NULL, NULL);
        int rc = s ? PyList_Append(c->basic, s) : -1;
        Py_XDECREF(s);
        if (rc < 0) return -1;
    }
    return 0;
}

#define MAX_ADV DS_MAX_DIMS

typedef struct adv_index {
    int ndim_pos[MAX_ADV]; /* dim of the basic-indexed view each index applies to */
    int key_pos[MAX_ADV];  /* position in the key of the item it came from (for NumPy's adjacency rule) */
    ds_tensor *idx[MAX_ADV];
    int n;
} adv_index;

static void adv_clear(adv_index *a) {
    for (int i = 0; i < a->n; i++) ds_tensor_release(a->idx[i]);
    a->n = 0;
}

typedef enum item_kind { IT_NONE, IT_ELLIPSIS, IT_SLICE, IT_INT, IT_ADV_INT, IT_ADV_BOOL, IT_BOOL0 } item_kind;

typedef struct key_item {
    item_kind kind;
    PyObject *obj;   /* borrowed (slices) */
    int64_t value;   /* IT_INT, IT_BOOL0 */
    ds_tensor *idx;  /* IT_ADV_*: owned */
} key_item;

#define MAX_ITEMS 64

static int fail_status(ds_status st) { return ds_py_raise_int(st); }

/* Replaces *v by the new view in *next (consumes the old reference). Takes next by address because
 * the status argument is what computes it. */
static int step(ds_tensor **v, ds_status st, ds_tensor **next) {
    if (st) return fail_status(st);
    ds_tensor_release(*v);
    *v = *next;
    return 0;
}

/* Classifies an index tensor: integer or boolean array, or a 0-d int/bool acting like a scalar.
 * Consumes the reference to ix. */
static int classify_tensor(ds_tensor *ix, key_item *it, const index_ctx *c) {
    if (ix->dtype != DS_BOOL && !ds_dtype_is_int(ix->dtype)) {
        if (ix->numel != 0 || ix->symbolic) {
            PyErr_Format(PyExc_IndexError, "tensors used as indices must be of integer or boolean type, not %s",
                         ds_dtype_name(ix->dtype));
            ds_tensor_release(ix);
            return -1;
        }
        ds_tensor *c; /* an empty list arrives as float: it indexes nothing */
        ds_attr a = {.kind = DS_ATTR_DTYPE, .v.dtype = DS_INT64};
        ds_status st = ds_op_run1(DS_OP_CAST, 1, &ix, &a, &c);
        ds_tensor_release(ix);
        if (st) return fail_status(st);
        ix = c;
    }
    bool is_bool = ix->dtype == DS_BOOL;
    if (c->graph && graph_tensor(c->tr, ix)) { /* its value is only known when the graph runs */
        if (ix->ndim == 0 && is_bool) {
            ds_tensor_release(ix);
            PyErr_SetString(ds_py_trace_error, "a boolean scalar tensor whose value is only known when the graph runs "
                            "cannot be used as an index while compiling a graph (use ops.where or an if statement)");
            return -1;
        }
        it->kind = is_bool ? IT_ADV_BOOL : IT_ADV_INT; /* a 0-d integer index acts like an int */
        it->idx = ix;
        return 0;
    }
    if (ix->ndim == 0) { /* a scalar: x[True] / x[t] with a 0-d int tensor */
        ds_status st = ds_tensor_get_int(ix, 0, &it->value);
        ds_tensor_release(ix);
        if (st) return fail_status(st);
        it->kind = is_bool ? IT_BOOL0 : IT_INT;
        return 0;
    }
    it->kind = is_bool ? IT_ADV_BOOL : IT_ADV_INT;
    it->idx = ix;
    return 0;
}

static int classify(PyObject *o, key_item *it, const index_ctx *c) {
    it->obj = o;
    it->idx = NULL;
    if (o == Py_None) it->kind = IT_NONE;
    else if (o == Py_Ellipsis) it->kind = IT_ELLIPSIS;
    else if (PySlice_Check(o)) it->kind = IT_SLICE;
    else if (PyBool_Check(o)) {
        it->kind = IT_BOOL0;
        it->value = o == Py_True;
    } else if (PyLong_Check(o)) {
        it->value = PyLong_AsLongLong(o);
        if (it->value == -1 && PyErr_Occurred()) {
            PyErr_Clear();
            PyErr_SetString(PyExc_IndexError, "index is too large");
            return -1;
        }
        it->kind = IT_INT;
    } else if (DsTensor_Check(o)) {
        return classify_tensor(ds_tensor_retain(((TensorObject *)o)->t), it, c);
    } else if (PyList_Check(o) || PyTuple_Check(o) || PyObject_CheckBuffer(o)) {
        /* NumPy scalars and 0-d integer arrays index like ints (views, not copies) */
        if (PyIndex_Check(o) && !PyList_Check(o) && !PyTuple_Check(o)) {
            PyObject *nd = PyObject_GetAttrString(o, "ndim");
            long ndim = nd ? PyLong_AsLong(nd) : 0;
            Py_XDECREF(nd);
            PyErr_Clear();
            if (ndim == 0) {
                PyObject *i = PyNumber_Index(o);
                if (!i) return -1;
                it->value = PyLong_AsLongLong(i);
                Py_DECREF(i);
                if (it->value == -1 && PyErr_Occurred()) return -1;
                it->kind = IT_INT;
                return 0;
            }
        }
        ds_tensor *ix;
        if (ds_py_to_tensor(o, -1, &ix) < 0) return -1;
        return classify_tensor(ix, it, c);
    } else if (PyIndex_Check(o)) {
        PyObject *i = PyNumber_Index(o);
        if (!i) return -1;
        it->value = PyLong_AsLongLong(i);
        Py_DECREF(i);
        if (it->value == -1 && PyErr_Occurred()) return -1;
        it->kind = IT_INT;
    } else {
        PyErr_Format(PyExc_IndexError, "only integers, slices (`:`), ellipsis (`...`), None and integer or boolean "
                     "tensors are valid indices (got %.100s)", Py_TYPE(o)->tp_name);
        return -1;
    }
    return 0;
}

/* Checks an integer index tensor against the dim size (NumPy's message, naming the original axis). */
static int check_adv_bounds(ds_tensor *ix, int axis, int64_t size) {
    if (ix->numel == 0) return 0;
    ds_tensor *mx = NULL, *mn = NULL;
    ds_attr a[2] = {{.kind = DS_ATTR_NONE}, {.kind = DS_ATTR_BOOL, .v.b = false}};
    ds_status st = ds_op_run1(DS_OP_AMAX, 1, &ix, a, &mx);
    if (!st) st = ds_op_run1(DS_OP_AMIN, 1, &ix, a, &mn);
    int64_t hi = 0, lo = 0;
    if (!st) st = ds_tensor_get_int(mx, 0, &hi);
    if (!st) st = ds_tensor_get_int(mn, 0, &lo);
    ds_tensor_release(mx);
    ds_tensor_release(mn);
    if (st) return fail_status(st);
    int64_t bad = hi >= size ? hi : lo < -size ? lo : 0;
    if (hi >= size || lo < -size) {
        PyErr_Format(PyExc_IndexError, "index %lld is out of bounds for axis %d with size %lld", (long long)bad, axis,
                     (long long)size);
        return -1;
    }
    return 0;
}

static int too_many(const ds_tensor *t, int consumed) {
    PyErr_Format(PyExc_IndexError, "too many indices for tensor: tensor is %d-dimensional, but %d were indexed",
                 t->ndim, consumed);
    return -1;
}

/* A boolean graph tensor of k > 1 dims indexing: the k dims of *v it covers are merged into one, indexed
 * by the nonzero positions of the flattened mask. (Its k columns of nonzero(mask) would be k index tensors
 * whose length is unknown: the IR cannot tell they have the same length, so they could not be
 * broadcast together.) Returns 1 when done (adv gets the index, *v the merged view), 0 when dims other
 * than the merged ones are unknown (the caller takes the general path), -1 on error. */
static int merged_mask(const index_ctx *c, ds_tensor **v, int d, ds_tensor *ix, adv_index *adv, int key_pos) {
    int k = ix->ndim, nd = (*v)->ndim - k + 1, unknown = 0;
    int64_t shape[DS_MAX_DIMS], flat = -1, size = 1, known = 1;
    for (int j = d; j < d + k; j++) size = (*v)->shape[j] < 0 || size < 0 ? -1 : size * (*v)->shape[j];
    for (int j = 0; j < nd; j++) {
        shape[j] = j < d ? (*v)->shape[j] : j == d ? size : (*v)->shape[j + k - 1];
        if (shape[j] < 0) unknown++;
        else known *= shape[j];
    }
    if (unknown > 1 || (unknown && !known)) return 0; /* a reshape could not infer the unknown dim */
    if (adv->n >= MAX_ADV) return too_many(*v, adv->n + 1);
    ds_attr a = {.kind = DS_ATTR_INTS, .n = nd, .v.ints = shape}, fa = {.kind = DS_ATTR_INTS, .n = 1, .v.ints = &flat};
    ds_tensor *merged = NULL, *fm = NULL, *nz = NULL, *col = NULL;
    ds_status st = ds_op_run1(DS_OP_RESHAPE, 1, v, &a, &merged);
    if (!st) st = ds_op_run1(DS_OP_RESHAPE, 1, &ix, &fa, &fm);
    if (!st) st = ds_op_run1(DS_OP_NONZERO, 1, &fm, NULL, &nz);
    if (!st) st = v_select(c, nz, 1, 0, &col);
    ds_tensor_release(fm);
    ds_tensor_release(nz);
    if (st) {
        ds_tensor_release(merged);
        return fail_status(st);
    }
    ds_tensor_release(*v);
    *v = merged;
    adv->key_pos[adv->n] = key_pos;
    adv->ndim_pos[adv->n] = d;
    adv->idx[adv->n++] = col;
    return 1;
}

/* Applies the basic part of `key` to t, producing the view *out and the advanced indices. */
static int apply_key(ds_tensor *t, PyObject *key, ds_tensor **out, adv_index *adv, const index_ctx *c) {
    PyObject *tup = PyTuple_Check(key) ? Py_NewRef(key) : PyTuple_Pack(1, key);
    if (!tup) return -1;
    Py_ssize_t n = PyTuple_GET_SIZE(tup);
    key_item items[MAX_ITEMS];
    int n_items = 0, consumed = 0, ellipses = 0, rc = -1;
    bool has_adv = false;
    ds_tensor *v = NULL;
    adv->n = 0;
    if (n > MAX_ITEMS) {
        PyErr_SetString(PyExc_IndexError, "too many indices");
        goto done;
    }
    /* pass 1: classify each item and count the dims the key consumes */
    for (Py_ssize_t i = 0; i < n; i++, n_items++) {
        key_item *it = &items[i];
        if (classify(PyTuple_GET_ITEM(tup, i), it, c) < 0) goto done;
        switch (it->kind) {
        case IT_ELLIPSIS: ellipses++; break;
        case IT_SLICE:
        case IT_INT:
        case IT_ADV_INT: consumed++; break;
        case IT_ADV_BOOL: consumed += it->idx->ndim; break;
        default: break;
        }
        has_adv |= it->kind == IT_ADV_INT || it->kind == IT_ADV_BOOL;
    }
    if (ellipses > 1) {
        PyErr_SetString(PyExc_IndexError, "an index can only have a single ellipsis ('...')");
        goto done;
    }
    if (consumed > t->ndim) {
        too_many(t, consumed);
        goto done;
    }
    /* pass 2: basic indexing makes views; advanced indices are collected with the dim they index */
    v = ds_tensor_retain(t);
    int d = 0, axis = 0; /* dim in v, and the matching axis of t (for messages) */
    for (int i = 0; i < n_items; i++) {
        key_item *it = &items[i];
        ds_tensor *next = NULL;
        switch (it->kind) {
        case IT_NONE:
            if (step(&v, v_unsqueeze(c, v, d, &next), &next) < 0 || basic_push(c, it->obj, -1) < 0) goto done;
            d++;
            break;
        case IT_ELLIPSIS:
            if (basic_push(c, it->obj, -1) < 0) goto done;
            d += t->ndim - consumed;
            axis += t->ndim - consumed;
            break;
        case IT_BOOL0: /* x[True] adds a dim of size 1, x[False] one of size 0 */
            if (step(&v, v_unsqueeze(c, v, d, &next), &next) < 0) goto done;
            if (!it->value && step(&v, v_slice(c, v, d, 0, 0, 1, &next), &next) < 0) goto done;
            if (basic_push(c, it->value ? Py_True : Py_False, -1) < 0) goto done;
            d++;
            break;
        case IT_SLICE: {
            Py_ssize_t start, stop, stp;
            if (PySlice_Unpack(it->obj, &start, &stop, &stp) < 0) goto done;
            if (step(&v, v_slice(c, v, d, start, stop, stp, &next), &next) < 0 || basic_push(c, it->obj, -1) < 0) goto done;
            d++;
            axis++;
            break;
        }
        case IT_INT: {
            int64_t size = v->shape[d], k = it->value;
            if (size >= 0 && (k < -size || k >= size)) {
                PyErr_Format(PyExc_IndexError, "index %lld is out of bounds for axis %d with size %lld", (long long)k,
                             axis, (long long)size);
                goto done;
            }
            if (has_adv) { /* NumPy treats an int next to advanced indices as an advanced index */
                ds_tensor *s;
                ds_status st = ds_tensor_scalar_int(DS_INT64, k, &s);
                if (st) {
                    fail_status(st);
                    goto done;
                }
                if (adv->n >= MAX_ADV) {
                    ds_tensor_release(s);
                    too_many(t, consumed);
                    goto done;
                }
                adv->key_pos[adv->n] = i;
                adv->ndim_pos[adv->n] = d++;
                adv->idx[adv->n++] = s;
                if (basic_push(c, NULL, 1) < 0) goto done;
            } else if (step(&v, v_select(c, v, d, k, &next), &next) < 0 || basic_push(c, it->obj, -1) < 0) goto done;
            axis++;
            break;
        }
        case IT_ADV_INT:
            if (!(c->graph && graph_tensor(c->tr, it->idx)) && v->shape[d] >= 0 &&
                check_adv_bounds(it->idx, axis, v->shape[d]) < 0)
                goto done;
            if (basic_push(c, NULL, 1) < 0) goto done;
            if (adv->n >= MAX_ADV) {
                too_many(t, consumed);
                goto done;
            }
            adv->key_pos[adv->n] = i;
                adv->ndim_pos[adv->n] = d++;
            adv->idx[adv->n++] = it->idx;
            it->idx = NULL;
            axis++;
            break;
        case IT_ADV_BOOL: {
            ds_tensor *ix = it->idx;
            if (basic_push(c, NULL, ix->ndim) < 0) goto done;
            for (int j = 0; j < ix->ndim; j++)
                if (ix->shape[j] != v->shape[d + j] && ix->shape[j] >= 0 && v->shape[d + j] >= 0) {
                    PyErr_Format(PyExc_IndexError, "boolean index did not match indexed tensor along axis %d; size of "
                                 "axis is %lld but size of boolean index is %lld", axis + j, (long long)v->shape[d + j],
                                 (long long)ix->shape[j]);
                    goto done;
                }
            if (c->graph && !c->basic && ix->ndim > 1 && graph_tensor(c->tr, ix)) { /* one index over the merged dims */
                int m = merged_mask(c, &v, d, ix, adv, i);
                if (m < 0) goto done;
                if (m > 0) {
                    d++;
                    axis += ix->ndim;
                    break;
                }
            }
            ds_tensor *nz;
            ds_status st = ds_op_run1(DS_OP_NONZERO, 1, &ix, NULL, &nz);
            if (st) {
                fail_status(st);
                goto done;
            }
            for (int j = 0; j < ix->ndim; j++) {
                ds_tensor *col;
                st = v_select(c, nz, 1, j, &col);
                if (st || adv->n >= MAX_ADV) {
                    ds_tensor_release(nz);
                    if (st) fail_status(st);
                    else too_many(t, consumed);
                    goto done;
                }
                adv->key_pos[adv->n] = i;
                adv->ndim_pos[adv->n] = d++;
                adv->idx[adv->n++] = col;
            }
            ds_tensor_release(nz);
            axis += ix->ndim;
            break;
        }
        }
    }
    *out = v;
    v = NULL;
    rc = 0;
done:
    for (int i = 0; i < n_items; i++) ds_tensor_release(items[i].idx);
    if (rc < 0) adv_clear(adv);
    ds_tensor_release(v);
    Py_DECREF(tup);
    return rc;
}

/* Permutation putting the advanced dims first; also the result permutation that moves the broadcast
 * dims back in place when the advanced indices are adjacent (NumPy's rule). */
typedef struct adv_plan {
    int perm[DS_MAX_DIMS];
    int nb;       /* dims of the broadcast index shape */
    int64_t bshape[DS_MAX_DIMS];
    int insert_at; /* where the broadcast dims go in the result (0 = front) */
} adv_plan;

/* ds_shape_broadcast that also takes unknown dims (-1, symbolic index tensors): an unknown dim
 * facing 1 or another unknown stays unknown, facing a known size > 1 takes it. */
static ds_status bcast_dims(int na, const int64_t *a, int nb, const int64_t *b, int *nd, int64_t *out) {
    bool unknown = false;
    for (int i = 0; i < na; i++) unknown |= a[i] < 0;
    for (int i = 0; i < nb; i++) unknown |= b[i] < 0;
    if (!unknown) return ds_shape_broadcast(na, a, nb, b, nd, out);
    int n = na > nb ? na : nb;
    for (int k = 0; k < n; k++) {
        int64_t x = k < na ? a[na - 1 - k] : 1, y = k < nb ? b[nb - 1 - k] : 1, r;
        if (x == y || y == 1) r = x;
        else if (x == 1) r = y;
        else if (x < 0 || y < 0) r = x < 0 ? y : x;
        else return ds_shape_broadcast(na, a, nb, b, nd, out); /* the error message */
        out[n - 1 - k] = r;
    }
    *nd = n;
    return DS_OK;
}

static int plan_adv(const ds_tensor *v, const adv_index *adv, adv_plan *p) {
    int k = 0;
    bool used[DS_MAX_DIMS] = {false};
    for (int i = 0; i < adv->n; i++) {
        p->perm[k++] = adv->ndim_pos[i];
        used[adv->ndim_pos[i]] = true;
    }
    for (int d = 0; d < v->ndim; d++)
        if (!used[d]) p->perm[k++] = d;
    /* NumPy: the broadcast dims replace the indexed ones in place only when the advanced indices sit
     * next to each other in the key (anything between them, even an empty Ellipsis, sends them first) */
    bool adjacent = true;
    for (int i = 1; i < adv->n; i++) adjacent &= adv->key_pos[i] - adv->key_pos[i - 1] <= 1;
    p->insert_at = adjacent ? adv->ndim_pos[0] : 0;
    p->nb = 0;
    for (int i = 0; i < adv->n; i++) {
        int nd;
        int64_t tmp[DS_MAX_DIMS];
        ds_status st = bcast_dims(p->nb, p->bshape, adv->idx[i]->ndim, adv->idx[i]->shape, &nd, tmp);
        if (st) {
            PyErr_Format(PyExc_IndexError, "shape mismatch: indexing tensors could not be broadcast together (%s)",
                         ds_error_message());
            return -1;
        }
        for (int j = 0; j < nd; j++) p->bshape[j] = tmp[j];
        p->nb = nd;
    }
    if (p->nb + v->ndim - adv->n > DS_MAX_DIMS) {
        PyErr_SetString(PyExc_IndexError, "advanced indexing result has too many dims");
        return -1;
    }
    return 0;
}

/* Result-order permutation of a [B..., rest...] tensor (rest has nr dims). */
static void result_perm(const adv_plan *p, int nr, int *perm) {
    int k = 0;
    for (int i = 0; i < p->insert_at; i++) perm[k++] = p->nb + i;
    for (int i = 0; i < p->nb; i++) perm[k++] = i;
    for (int i = p->insert_at; i < nr; i++) perm[k++] = p->nb + i;
}

static int raise_st(ds_status st) { return ds_py_raise_int(st); }

/* Whether the key holds a tensor of the graph being compiled. */
static bool key_has_graph_tensor(ds_trace *tr, PyObject *key) {
    if (DsTensor_Check(key)) return graph_tensor(tr, ((TensorObject *)key)->t);
    if (!PyTuple_Check(key)) return false;
    for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(key); i++) {
        PyObject *o = PyTuple_GET_ITEM(key, i);
        if (DsTensor_Check(o) && graph_tensor(tr, ((TensorObject *)o)->t)) return true;
    }
    return false;
}

/* v[adv] for the advanced indices of a basic-indexed view (NumPy's placement of the index dims). */
static int adv_getitem(const index_ctx *c, ds_tensor *v, adv_index *adv, ds_tensor **out) {
    adv_plan p;
    ds_tensor *vp = NULL, *r = NULL;
    ds_status st;
    int rc = -1;
    if (plan_adv(v, adv, &p) < 0) return -1;
    if ((st = v_permute(c, v, p.perm, &vp))) return raise_st(st);
    ds_tensor *in[1 + MAX_ADV];
    in[0] = vp;
    for (int i = 0; i < adv->n; i++) in[1 + i] = adv->idx[i];
    if ((st = ds_op_run1(DS_OP_INDEX, 1 + adv->n, in, NULL, &r))) {
        raise_st(st);
        goto done;
    }
    if (p.insert_at == 0) *out = ds_tensor_retain(r);
    else {
        int perm[DS_MAX_DIMS];
        result_perm(&p, v->ndim - adv->n, perm);
        if ((st = v_permute(c, r, perm, out))) {
            raise_st(st);
            goto done;
        }
    }
    rc = 0;
done:
    ds_tensor_release(r);
    ds_tensor_release(vp);
    return rc;
}

PyObject *ds_py_getitem(TensorObject *self, PyObject *key) {
    ds_tensor *v, *res = NULL;
    adv_index adv;
    ds_trace *tr = ds_trace_active();
    index_ctx c = {false, tr, NULL};
    c.graph = self->t->symbolic || (tr && (ds_trace_lookup(tr, self->t) || key_has_graph_tensor(tr, key)));
    if (!c.graph && !self->t->data && self->t->numel != 0) {
        PyErr_SetString(PyExc_ValueError, "cannot index a declared-only tensor");
        return NULL;
    }
    if (apply_key(self->t, key, &v, &adv, &c) < 0) return NULL;
    if (adv.n == 0) return ds_py_wrap(v);
    int rc = adv_getitem(&c, v, &adv, &res);
    ds_tensor_release(v);
    adv_clear(&adv);
    return rc < 0 ? NULL : ds_py_wrap(res);
}

/* ---------------------------------------------------------------- graph-mode assignment */
static bool dims_known(int nd, const int64_t *s) {
    for (int i = 0; i < nd; i++)
        if (s[i] < 0) return false;
    return true;
}

/* Runs a one-output op; returns NULL with a Python error on failure. */
static ds_tensor *op_or_raise(ds_op_id op, int n, ds_tensor *const *in, const ds_attr *attrs) {
    ds_tensor *out = NULL;
    ds_status st = ds_op_run1(op, n, in, attrs, &out);
    if (st) ds_py_raise(st);
    return out;
}

/* The value arranged for an assignment into `view` (NumPy's check: it must broadcast to the view). */
static int check_value_fits(const ds_tensor *val, const ds_tensor *view) {
    if (!dims_known(val->ndim, val->shape) || !dims_known(view->ndim, view->shape)) return 0;
    int nd;
    int64_t b[DS_MAX_DIMS];
    if (val->ndim > view->ndim || ds_shape_broadcast(val->ndim, val->shape, view->ndim, view->shape, &nd, b) ||
        !ds_shape_equal(nd, b, view->ndim, view->shape)) {
        char a[DS_SHAPE_STR_MAX], s[DS_SHAPE_STR_MAX];
        ds_error_clear();
        PyErr_Format(PyExc_ValueError, "could not broadcast input array from shape %s into shape %s",
                     ds_shape_str(val->ndim, val->shape, a, sizeof a), ds_shape_str(view->ndim, view->shape, s, sizeof s));
        return -1;
    }
    return 0;
}

/* A copy of `view` with view[adv] = val (index_put on a copy of the permuted view). */
static int adv_update(const index_ctx *c, ds_tensor *view, adv_index *adv, ds_tensor *val, ds_tensor **out) {
    adv_plan p;
    ds_tensor *vp = NULL, *cp = NULL, *ve = NULL, *vperm = NULL, *ref = NULL;
    ds_status st;
    int rc = -1;
    if (plan_adv(view, adv, &p) < 0) return -1;
    if ((st = v_permute(c, view, p.perm, &vp))) return raise_st(st);
    if (!(cp = op_or_raise(DS_OP_COPY, 1, &vp, NULL))) goto done;
    /* the value broadcasts against the result in NumPy order; bring it to [B..., rest...] order */
    int nr = view->ndim - adv->n, perm[DS_MAX_DIMS], inv[DS_MAX_DIMS], nd = p.nb + nr;
    int64_t shape_np[DS_MAX_DIMS];
    result_perm(&p, nr, perm);
    for (int i = 0; i < nd; i++) shape_np[i] = perm[i] < p.nb ? p.bshape[perm[i]] : vp->shape[adv->n + perm[i] - p.nb];
    if (dims_known(nd, shape_np)) {
        ds_tensor *decl = NULL;
        if ((st = ds_tensor_new_declared(val->dtype, nd, shape_np, &decl))) {
            raise_st(st);
            goto done;
        }
        rc = check_value_fits(val, decl);
        ds_tensor_release(decl);
        if (rc < 0) goto done;
        rc = -1;
        ds_attr a = {.kind = DS_ATTR_INTS, .n = nd, .v.ints = shape_np};
        if (!(ve = op_or_raise(DS_OP_BROADCAST_TO, 1, &val, &a))) goto done;
    } else { /* unknown dims: broadcast like the result of view[adv] */
        if (adv_getitem(c, view, adv, &ref) < 0) goto done;
        if (!(ve = op_or_raise(DS_OP_BROADCAST_LIKE, 2, (ds_tensor *[]){val, ref}, NULL))) goto done;
    }
    for (int i = 0; i < nd; i++) inv[perm[i]] = i;
    if ((st = v_permute(c, ve, inv, &vperm))) {
        raise_st(st);
        goto done;
    }
    ds_tensor *in[2 + MAX_ADV];
    in[0] = cp;
    in[1] = vperm;
    for (int i = 0; i < adv->n; i++) in[2 + i] = adv->idx[i];
    int n_out;
    if ((st = ds_op_run(DS_OP_INDEX_PUT, 2 + adv->n, in, NULL, 0, NULL, &n_out))) {
        raise_st(st);
        goto done;
    }
    int back[DS_MAX_DIMS];
    for (int i = 0; i < view->ndim; i++) back[p.perm[i]] = i;
    if ((st = v_permute(c, cp, back, out))) {
        raise_st(st);
        goto done;
    }
    rc = 0;
done:
    ds_tensor_release(ref);
    ds_tensor_release(vperm);
    ds_tensor_release(ve);
    ds_tensor_release(cp);
    ds_tensor_release(vp);
    return rc;
}

/* x with x[key] = src, for a basic key (ints, slices, None, Ellipsis, bools): slice_scatter of the
 * strided slice the key selects. `view` is x[key] (src broadcasts to it). */
static int basic_update(const index_ctx *c, ds_tensor *x, PyObject *key, ds_tensor *view, ds_tensor *src, ds_tensor **out) {
    PyObject *tup = PyTuple_Check(key) ? Py_NewRef(key) : PyTuple_Pack(1, key);
    if (!tup) return -1;
    int64_t b[DS_MAX_DIMS], e[DS_MAX_DIMS], s[DS_MAX_DIMS];
    for (int i = 0; i < x->ndim; i++) {
        b[i] = 0;
        e[i] = INT64_MAX;
        s[i] = 1;
    }
    Py_ssize_t n = PyTuple_GET_SIZE(tup);
    int consumed = 0, d = 0, rc = -1;
    bool reshape = false, empty = false;
    ds_tensor *sliced = NULL, *bc = NULL, *rs = NULL;
    key_item items[MAX_ITEMS];
    if (n > MAX_ITEMS) {
        PyErr_SetString(PyExc_IndexError, "too many indices");
        goto done;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        if (classify(PyTuple_GET_ITEM(tup, i), &items[i], c) < 0) goto done;
        ds_tensor_release(items[i].idx);
        items[i].idx = NULL;
        consumed += items[i].kind == IT_SLICE || items[i].kind == IT_INT;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *o = PyTuple_GET_ITEM(tup, i);
        key_item it = items[i];
        switch (it.kind) {
        case IT_NONE: reshape = true; break;
        case IT_BOOL0:
            reshape = true;
            empty |= !it.value;
            break;
        case IT_ELLIPSIS: d += x->ndim - consumed; break;
        case IT_SLICE: {
            Py_ssize_t start, stop, stp;
            if (PySlice_Unpack(o, &start, &stop, &stp) < 0) goto done;
            b[d] = start;
            e[d] = stop;
            s[d++] = stp;
            break;
        }
        case IT_INT: {
            int64_t k = it.value, size = x->shape[d];
            if (k < 0 && size >= 0) k += size;
            b[d] = k;
            e[d++] = k == -1 ? INT64_MAX : k + 1;
            reshape = true;
            break;
        }
        default:
            PyErr_SetString(PyExc_IndexError, "internal: advanced index in a basic assignment");
            goto done;
        }
    }
    if (empty) { /* x[False] = v assigns nothing */
        *out = ds_tensor_retain(x);
        rc = 0;
        goto done;
    }
    if (check_value_fits(src, view) < 0) goto done;
    ds_attr a[3] = {{.kind = DS_ATTR_INTS, .n = x->ndim, .v.ints = b},
                    {.kind = DS_ATTR_INTS, .n = x->ndim, .v.ints = e},
                    {.kind = DS_ATTR_INTS, .n = x->ndim, .v.ints = s}};
    ds_tensor *put = src;
    if (reshape) { /* ints drop dims and None adds some: go through the view's shape to the slice's */
        if (!(sliced = op_or_raise(DS_OP_SLICE, 1, &x, a))) goto done;
        if (!(bc = op_or_raise(DS_OP_BROADCAST_LIKE, 2, (ds_tensor *[]){src, view}, NULL))) goto done;
        if (!(rs = op_or_raise(DS_OP_RESHAPE_LIKE, 2, (ds_tensor *[]){bc, sliced}, NULL))) goto done;
        put = rs;
    }
    if (!(*out = op_or_raise(DS_OP_SLICE_SCATTER, 2, (ds_tensor *[]){x, put}, a))) goto done;
    rc = 0;
done:
    ds_tensor_release(rs);
    ds_tensor_release(bc);
    ds_tensor_release(sliced);
    Py_DECREF(tup);
    return rc;
}

/* x[mask] = val while compiling, with `mask` a boolean graph tensor over x's leading dims:
 * where(mask, val, x). (The index_put route would need val's dims to match the number of selected
 * elements, which only the run knows: unknown dims have no identity in the IR.) So val must not depend
 * on that number: a scalar, or a tensor broadcastable to one selected item. */
static int mask_update(ds_tensor *x, ds_tensor *mask, ds_tensor *val, ds_tensor **out) {
    int k = mask->ndim, rest = x->ndim - k;
    if (k > x->ndim) return too_many(x, k);
    for (int j = 0; j < k; j++)
        if (mask->shape[j] != x->shape[j] && mask->shape[j] >= 0 && x->shape[j] >= 0) {
            PyErr_Format(PyExc_IndexError, "boolean index did not match indexed tensor along axis %d; size of axis is "
                         "%lld but size of boolean index is %lld", j, (long long)x->shape[j], (long long)mask->shape[j]);
            return -1;
        }
    int vn = val->ndim;
    while (vn > rest && val->shape[val->ndim - vn] == 1) vn--; /* leading 1s broadcast over the selection */
    if (vn > rest) {
        char a[DS_SHAPE_STR_MAX];
        size_t k = 0;
        for (int d = 0; d < val->ndim && k < sizeof a; d++) /* unknown dims as '?' */
            k += (size_t)(val->shape[d] >= 0 ? snprintf(a + k, sizeof a - k, "%s%lld", d ? ", " : "", (long long)val->shape[d])
                                               : snprintf(a + k, sizeof a - k, "%s?", d ? ", " : ""));
        PyErr_Format(PyExc_ValueError, "assigning a tensor of shape [%s] through a boolean mask in a graph: the number of "
                     "selected elements is only known when the graph runs, so the value must be a scalar or broadcast "
                     "to one selected item (or use ops.where)", k ? a : "");
        return -1;
    }
    ds_tensor *m = ds_tensor_retain(mask), *next = NULL, *vb = NULL;
    ds_status st = DS_OK;
    for (int j = 0; j < rest && !st; j++) { /* the mask broadcasts over the dims it does not index */
        ds_attr a = {.kind = DS_ATTR_INT, .v.i = k + j};
        if (!(st = ds_op_run1(DS_OP_UNSQUEEZE, 1, &m, &a, &next))) {
            ds_tensor_release(m);
            m = next;
        }
    }
    if (!st) st = ds_op_run1(DS_OP_BROADCAST_LIKE, 2, (ds_tensor *[]){val, x}, NULL, &vb);
    if (!st) st = ds_op_run1(DS_OP_WHERE, 3, (ds_tensor *[]){m, vb, x}, NULL, out);
    ds_tensor_release(vb);
    ds_tensor_release(m);
    return st ? raise_st(st) : 0;
}

/* x[key] = value while compiling: a functional update, then x is rebound to the result. */
static int setitem_graph(TensorObject *self, ds_trace *tr, PyObject *key, PyObject *value) {
    ds_tensor *x = self->t, *val = NULL, *view = NULL, *upd = NULL, *res = NULL;
    adv_index adv = {.n = 0};
    index_ctx c = {true, tr, NULL};
    PyObject *basic_key = NULL;
    int rc = -1;
    ds_status st;
    if (!tr) {
        PyErr_SetString(ds_py_trace_error, "cannot assign into a symbolic tensor outside the trace that made it");
        return -1;
    }
    /* an unbound concrete x becomes a graph constant first: from here on it is a value of the graph */
    if (!ds_trace_lookup(tr, x) && (st = ds_trace_rebind(tr, x, x))) return raise_st(st);
    if (ds_py_to_tensor(value, DsTensor_Check(value) ? -1 : (int)x->dtype, &val) < 0) return -1;
    if (val->dtype != x->dtype) {
        ds_attr a = {.kind = DS_ATTR_DTYPE, .v.dtype = x->dtype};
        ds_tensor *cv = op_or_raise(DS_OP_CAST, 1, &val, &a);
        ds_tensor_release(val);
        if (!(val = cv)) return -1;
    }
    ds_tensor *kt = DsTensor_Check(key) ? ((TensorObject *)key)->t : NULL;
    if (kt && kt->dtype == DS_BOOL && kt->ndim > 0 && graph_tensor(tr, kt)) {
        if (mask_update(x, kt, val, &res) < 0) goto done;
    } else {
        if (!(c.basic = PyList_New(0))) goto done;
        if (apply_key(x, key, &view, &adv, &c) < 0) goto done;
        if (adv.n == 0) {
            if (basic_update(&c, x, key, view, val, &res) < 0) goto done;
        } else {
            if (adv_update(&c, view, &adv, val, &upd) < 0) goto done;
            if (!(basic_key = PyList_AsTuple(c.basic))) goto done;
            if (basic_update(&c, x, basic_key, view, upd, &res) < 0) goto done;
        }
    }
    if ((st = ds_trace_rebind(tr, x, res))) {
        raise_st(st);
        goto done;
    }
    rc = 0;
done:
    Py_XDECREF(basic_key);
    Py_XDECREF(c.basic);
    ds_tensor_release(res);
    ds_tensor_release(upd);
    ds_tensor_release(view);
    ds_tensor_release(val);
    adv_clear(&adv);
    return rc;
}

static bool value_is_graph(ds_trace *tr, PyObject *value) {
    return DsTensor_Check(value) && graph_tensor(tr, ((TensorObject *)value)->t);
}

int ds_py_setitem(TensorObject *self, PyObject *key, PyObject *value) {
    ds_tensor *v, *val = NULL, *vp = NULL, *ve = NULL, *vperm = NULL;
    adv_index adv;
    int rc = -1;
    ds_status st;
    ds_trace *tr = ds_trace_active();
    if (self->t->symbolic || (tr && (ds_trace_lookup(tr, self->t) || value_is_graph(tr, value) ||
                                     key_has_graph_tensor(tr, key))))
        return setitem_graph(self, tr, key, value);
    if (!self->t->data && self->t->numel != 0) {
        PyErr_SetString(PyExc_ValueError, "cannot assign into a declared-only tensor");
        return -1;
    }
    index_ctx c = {false, NULL, NULL};
    if (apply_key(self->t, key, &v, &adv, &c) < 0) return -1;
    if (ds_py_to_tensor(value, DsTensor_Check(value) ? -1 : (int)self->t->dtype, &val) < 0) goto done;
    if (adv.n == 0) {
        if ((st = ds_tensor_copy_into(v, val))) {
            ds_py_raise(st);
            goto done;
        }
        rc = 0;
        goto done;
    }
    adv_plan p;
    if (plan_adv(v, &adv, &p) < 0) goto done;
    if ((st = ds_tensor_permute(v, p.perm, &vp))) {
        ds_py_raise(st);
        goto done;
    }
    /* the value broadcasts against the result in NumPy order; bring it to [B..., rest...] order */
    int nr = v->ndim - adv.n, perm[DS_MAX_DIMS], inv[DS_MAX_DIMS], nd = p.nb + nr;
    int64_t shape_np[DS_MAX_DIMS];
    result_perm(&p, nr, perm);
    for (int i = 0; i < nd; i++) shape_np[i] = perm[i] < p.nb ? p.bshape[perm[i]] : vp->shape[adv.n + perm[i] - p.nb];
    if ((st = ds_tensor_expand(val, nd, shape_np, &ve))) {
        ds_py_raise(st);
        goto done;
    }
    for (int i = 0; i < nd; i++) inv[perm[i]] = i;
    if ((st = ds_tensor_permute(ve, inv, &vperm))) {
        ds_py_raise(st);
        goto done;
    }
    ds_tensor *in[2 + MAX_ADV];
    in[0] = vp;
    in[1] = vperm;
    for (int i = 0; i < adv.n; i++) in[2 + i] = adv.idx[i];
    ds_tensor *none[1];
    int n_out;
    if ((st = ds_op_run(DS_OP_INDEX_PUT, 2 + adv.n, in, NULL, 0, none, &n_out))) {
        ds_py_raise(st);
        goto done;
    }
    rc = 0;
done:
    ds_tensor_release(vperm);
    ds_tensor_release(ve);
    ds_tensor_release(vp);
    ds_tensor_release(val);
    ds_tensor_release(v);
    adv_clear(&adv);
    return rc;
}
