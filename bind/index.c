/* Tensor indexing with NumPy's rules: ints, slices, None, Ellipsis give views; integer and boolean
 * tensors (or lists / arrays) are advanced indices handled by the INDEX and INDEX_PUT ops. */
#include "bind.h"

#define MAX_ADV DS_MAX_DIMS

typedef struct adv_index {
    int ndim_pos[MAX_ADV]; /* dim of the basic-indexed view each index applies to */
    ds_tensor *idx[MAX_ADV];
    int n;
} adv_index;

static void adv_clear(adv_index *a) {
    for (int i = 0; i < a->n; i++) ds_tensor_release(a->idx[i]);
    a->n = 0;
}

static int is_adv_item(PyObject *o) {
    if (DsTensor_Check(o)) return ((TensorObject *)o)->t->ndim > 0 || ((TensorObject *)o)->t->dtype == DS_BOOL;
    return PyList_Check(o) || PyTuple_Check(o) || PyObject_CheckBuffer(o);
}

static int fail_status(ds_status st) { return ds_py_raise_int(st); }

/* Replaces *v by the new view in *next (consumes the old reference). Takes next by address because
 * the status argument is what computes it. */
static int step(ds_tensor **v, ds_status st, ds_tensor **next) {
    if (st) return fail_status(st);
    ds_tensor_release(*v);
    *v = *next;
    return 0;
}

/* Applies the basic part of `key` to t, producing the view *out and the advanced indices. */
static int apply_key(ds_tensor *t, PyObject *key, ds_tensor **out, adv_index *adv) {
    PyObject *tup = PyTuple_Check(key) ? Py_NewRef(key) : PyTuple_Pack(1, key);
    if (!tup) return -1;
    Py_ssize_t n = PyTuple_GET_SIZE(tup);
    int consumed = 0, ellipses = 0;
    bool has_adv = false;
    adv->n = 0;
    /* pass 1: validate and count the dims the key consumes */
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *it = PyTuple_GET_ITEM(tup, i);
        if (it == Py_Ellipsis) ellipses++;
        else if (it == Py_None) continue;
        else if (PyBool_Check(it)) {
            PyErr_SetString(PyExc_IndexError, "boolean scalar indices are not supported; use a boolean tensor");
            goto fail;
        } else if (PySlice_Check(it) || PyLong_Check(it)) consumed++;
        else if (DsTensor_Check(it) && ((TensorObject *)it)->t->dtype == DS_BOOL) {
            consumed += ((TensorObject *)it)->t->ndim;
            has_adv = true;
        } else if (DsTensor_Check(it) && ((TensorObject *)it)->t->ndim == 0) consumed++;
        else if (is_adv_item(it)) {
            consumed++; /* refined below for boolean arrays */
            has_adv = true;
        } else if (PyIndex_Check(it)) consumed++;
        else {
            PyErr_Format(PyExc_IndexError, "only integers, slices (`:`), ellipsis (`...`), None and integer or "
                         "boolean tensors are valid indices (got %.100s)", Py_TYPE(it)->tp_name);
            goto fail;
        }
    }
    if (ellipses > 1) {
        PyErr_SetString(PyExc_IndexError, "an index can only have a single ellipsis ('...')");
        goto fail;
    }
    ds_tensor *v = ds_tensor_retain(t);
    int d = 0;
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *it = PyTuple_GET_ITEM(tup, i);
        ds_tensor *next = NULL;
        if (it == Py_None) {
            if (step(&v, ds_tensor_unsqueeze(v, d, &next), &next) < 0) goto fail_v;
            d++;
        } else if (it == Py_Ellipsis) {
            d += t->ndim - consumed;
        } else if (PySlice_Check(it)) {
            Py_ssize_t start, stop, stp;
            if (PySlice_Unpack(it, &start, &stop, &stp) < 0) goto fail_v;
            if (d >= v->ndim) goto too_many;
            if (step(&v, ds_tensor_slice(v, d, start, stop, stp, &next), &next) < 0) goto fail_v;
            d++;
        } else if (!is_adv_item(it)) { /* an integer */
            Py_ssize_t k = PyNumber_AsSsize_t(it, PyExc_IndexError);
            if (k == -1 && PyErr_Occurred()) goto fail_v;
            if (d >= v->ndim) goto too_many;
            if (has_adv) { /* NumPy treats an int next to advanced indices as an advanced index */
                ds_tensor *s;
                int64_t dim = v->shape[d];
                if (k < -dim || k >= dim) {
                    PyErr_Format(PyExc_IndexError, "index %zd is out of bounds for axis %d with size %lld", k, d,
                                 (long long)dim);
                    goto fail_v;
                }
                ds_status st = ds_tensor_scalar_int(DS_INT64, k, &s);
                if (st) {
                    fail_status(st);
                    goto fail_v;
                }
                adv->ndim_pos[adv->n] = d++;
                adv->idx[adv->n++] = s;
            } else if (step(&v, ds_tensor_select(v, d, k, &next), &next) < 0) goto fail_v;
        } else { /* advanced: integer or boolean array */
            ds_tensor *ix;
            if (ds_py_to_tensor(it, -1, &ix) < 0) goto fail_v;
            if (ix->dtype == DS_BOOL) {
                if (d + ix->ndim > v->ndim) {
                    ds_tensor_release(ix);
                    goto too_many;
                }
                for (int j = 0; j < ix->ndim; j++)
                    if (ix->shape[j] != v->shape[d + j]) {
                        PyErr_Format(PyExc_IndexError, "boolean index did not match indexed tensor along axis %d; "
                                     "size of axis is %lld but size of boolean index is %lld", d + j,
                                     (long long)v->shape[d + j], (long long)ix->shape[j]);
                        ds_tensor_release(ix);
                        goto fail_v;
                    }
                ds_tensor *nz;
                ds_status st = ds_op_run1(DS_OP_NONZERO, 1, &ix, NULL, &nz);
                int k = ix->ndim;
                ds_tensor_release(ix);
                if (st) {
                    fail_status(st);
                    goto fail_v;
                }
                for (int j = 0; j < k; j++) {
                    ds_tensor *col;
                    st = ds_tensor_select(nz, 1, j, &col);
                    if (st || adv->n >= MAX_ADV) {
                        ds_tensor_release(nz);
                        if (st) fail_status(st);
                        else PyErr_SetString(PyExc_IndexError, "too many advanced indices");
                        goto fail_v;
                    }
                    adv->ndim_pos[adv->n] = d++;
                    adv->idx[adv->n++] = col;
                }
                ds_tensor_release(nz);
            } else {
                if (!ds_dtype_is_int(ix->dtype)) {
                    PyErr_Format(PyExc_IndexError, "tensors used as indices must be of integer or boolean type, "
                                 "not %s", ds_dtype_name(ix->dtype));
                    ds_tensor_release(ix);
                    goto fail_v;
                }
                if (d >= v->ndim || adv->n >= MAX_ADV) {
                    ds_tensor_release(ix);
                    goto too_many;
                }
                adv->ndim_pos[adv->n] = d++;
                adv->idx[adv->n++] = ix;
            }
        }
    }
    if (d > v->ndim) goto too_many;
    Py_DECREF(tup);
    *out = v;
    return 0;
too_many:
    PyErr_Format(PyExc_IndexError, "too many indices for tensor: tensor is %d-dimensional, but more were indexed",
                 t->ndim);
fail_v:
    ds_tensor_release(v);
fail:
    adv_clear(adv);
    Py_DECREF(tup);
    return -1;
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
    bool adjacent = true;
    for (int i = 1; i < adv->n; i++) adjacent &= adv->ndim_pos[i] == adv->ndim_pos[0] + i;
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
