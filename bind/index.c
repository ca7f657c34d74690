/* Tensor indexing with NumPy's rules: ints, slices, None, Ellipsis give views; integer and boolean
 * tensors (or lists / arrays) are advanced indices handled by the INDEX and INDEX_PUT ops. */
#include "bind.h"

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
static int classify_tensor(ds_tensor *ix, key_item *it) {
    if (ix->dtype != DS_BOOL && !ds_dtype_is_int(ix->dtype)) {
        if (ix->numel != 0) {
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

static int classify(PyObject *o, key_item *it) {
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
        return classify_tensor(ds_tensor_retain(((TensorObject *)o)->t), it);
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
        return classify_tensor(ix, it);
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

/* Applies the basic part of `key` to t, producing the view *out and the advanced indices. */
static int apply_key(ds_tensor *t, PyObject *key, ds_tensor **out, adv_index *adv) {
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
        if (classify(PyTuple_GET_ITEM(tup, i), it) < 0) goto done;
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
            if (step(&v, ds_tensor_unsqueeze(v, d, &next), &next) < 0) goto done;
            d++;
            break;
        case IT_ELLIPSIS:
            d += t->ndim - consumed;
            axis += t->ndim - consumed;
            break;
        case IT_BOOL0: /* x[True] adds a dim of size 1, x[False] one of size 0 */
            if (step(&v, ds_tensor_unsqueeze(v, d, &next), &next) < 0) goto done;
            if (!it->value && step(&v, ds_tensor_slice(v, d, 0, 0, 1, &next), &next) < 0) goto done;
            d++;
            break;
        case IT_SLICE: {
            Py_ssize_t start, stop, stp;
            if (PySlice_Unpack(it->obj, &start, &stop, &stp) < 0) goto done;
            if (step(&v, ds_tensor_slice(v, d, start, stop, stp, &next), &next) < 0) goto done;
            d++;
            axis++;
            break;
        }
        case IT_INT: {
            int64_t size = v->shape[d], k = it->value;
            if (k < -size || k >= size) {
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
            } else if (step(&v, ds_tensor_select(v, d, k, &next), &next) < 0) goto done;
            axis++;
            break;
        }
        case IT_ADV_INT:
            if (check_adv_bounds(it->idx, axis, v->shape[d]) < 0) goto done;
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
            for (int j = 0; j < ix->ndim; j++)
                if (ix->shape[j] != v->shape[d + j]) {
                    PyErr_Format(PyExc_IndexError, "boolean index did not match indexed tensor along axis %d; size of "
                                 "axis is %lld but size of boolean index is %lld", axis + j, (long long)v->shape[d + j],
                                 (long long)ix->shape[j]);
                    goto done;
                }
            ds_tensor *nz;
            ds_status st = ds_op_run1(DS_OP_NONZERO, 1, &ix, NULL, &nz);
            if (st) {
                fail_status(st);
                goto done;
            }
            for (int j = 0; j < ix->ndim; j++) {
                ds_tensor *col;
                st = ds_tensor_select(nz, 1, j, &col);
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
        ds_status st = ds_shape_broadcast(p->nb, p->bshape, adv->idx[i]->ndim, adv->idx[i]->shape, &nd, tmp);
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

PyObject *ds_py_getitem(TensorObject *self, PyObject *key) {
    ds_tensor *v;
    adv_index adv;
    if (!self->t->data && self->t->numel != 0) {
        PyErr_SetString(PyExc_ValueError, "cannot index a declared-only tensor");
        return NULL;
    }
    if (apply_key(self->t, key, &v, &adv) < 0) return NULL;
    if (adv.n == 0) return ds_py_wrap(v);
    adv_plan p;
    ds_tensor *vp = NULL, *r = NULL, *res = NULL;
    PyObject *out = NULL;
    ds_status st;
    if (plan_adv(v, &adv, &p) < 0) goto done;
    if ((st = ds_tensor_permute(v, p.perm, &vp))) {
        ds_py_raise(st);
        goto done;
    }
    ds_tensor *in[1 + MAX_ADV];
    in[0] = vp;
    for (int i = 0; i < adv.n; i++) in[1 + i] = adv.idx[i];
    if ((st = ds_op_run1(DS_OP_INDEX, 1 + adv.n, in, NULL, &r))) {
        ds_py_raise(st);
        goto done;
    }
    if (p.insert_at == 0) res = ds_tensor_retain(r);
    else {
        int perm[DS_MAX_DIMS];
        result_perm(&p, v->ndim - adv.n, perm);
        if ((st = ds_tensor_permute(r, perm, &res))) {
            ds_py_raise(st);
            goto done;
        }
    }
    out = ds_py_wrap(res);
done:
    ds_tensor_release(r);
    ds_tensor_release(vp);
    ds_tensor_release(v);
    adv_clear(&adv);
    return out;
}

int ds_py_setitem(TensorObject *self, PyObject *key, PyObject *value) {
    ds_tensor *v, *val = NULL, *vp = NULL, *ve = NULL, *vperm = NULL;
    adv_index adv;
    int rc = -1;
    ds_status st;
    if (!self->t->data && self->t->numel != 0) {
        PyErr_SetString(PyExc_ValueError, "cannot assign into a declared-only tensor");
        return -1;
    }
    if (apply_key(self->t, key, &v, &adv) < 0) return -1;
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
