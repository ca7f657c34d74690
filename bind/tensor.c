/* The Tensor type: construction, properties, conversion methods, operators, printing.
 * Operators call the C ops directly from the type's slots. */
#include <string.h>

#include "bind.h"

static PyTypeObject *g_result_type = &DsTensor_Type; /* the Python subclass dynastat.Tensor, once set */

PyObject *ds_py_wrap_as(PyTypeObject *type, ds_tensor *t) {
    TensorObject *o = (TensorObject *)type->tp_alloc(type, 0);
    if (!o) {
        ds_tensor_release(t);
        return NULL;
    }
    o->t = t;
    /* A tensor without an instance dict cannot be part of a reference cycle: keep it out of the cyclic
     * GC's lists (it is tracked again when it gets a __dict__), so collections stay cheap however many
     * tensors a training step creates. */
    if (PyObject_IS_GC((PyObject *)o)) PyObject_GC_UnTrack(o);
    return (PyObject *)o;
}

PyObject *ds_py_wrap(ds_tensor *t) { return ds_py_wrap_as(g_result_type, t); }

static PyObject *set_tensor_type(PyObject *m, PyObject *type) {
    if (!PyType_Check(type) || !PyType_IsSubtype((PyTypeObject *)type, &DsTensor_Type)) {
        PyErr_SetString(PyExc_TypeError, "expected a subclass of TensorBase");
        return NULL;
    }
    Py_INCREF(type);
    g_result_type = (PyTypeObject *)type;
    Py_RETURN_NONE;
}

/* ---------------------------------------------------------------- construction */
static int parse_shape(PyObject *o, int *ndim, int64_t *shape, bool allow_none) {
    if (PyLong_Check(o)) {
        *ndim = 1;
        shape[0] = PyLong_AsLongLong(o);
        return PyErr_Occurred() ? -1 : 0;
    }
    PyObject *seq = PySequence_Fast(o, "shape must be an int or a sequence of ints");
    if (!seq) return -1;
    Py_ssize_t n = PySequence_Fast_GET_SIZE(seq);
    if (n > DS_MAX_DIMS) {
        Py_DECREF(seq);
        PyErr_Format(PyExc_ValueError, "a tensor has at most %d dims, got %zd", DS_MAX_DIMS, n);
        return -1;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *d = PySequence_Fast_GET_ITEM(seq, i);
        if (d == Py_None && allow_none) shape[i] = -1;
        else {
            shape[i] = PyLong_AsLongLong(d);
            if (shape[i] == -1 && PyErr_Occurred()) {
                Py_DECREF(seq);
                PyErr_Format(PyExc_TypeError, "shape entries must be ints%s, got %.100s",
                             allow_none ? " or None" : "", Py_TYPE(d)->tp_name);
                return -1;
            }
        }
    }
    *ndim = (int)n;
    Py_DECREF(seq);
    return 0;
}

/* Exposed for other bind files. */
int ds_py_parse_shape(PyObject *o, int *ndim, int64_t *shape) { return parse_shape(o, ndim, shape, false); }

static PyObject *tensor_new(PyTypeObject *type, PyObject *args, PyObject *kwargs) {
    static char *kwlist[] = {"input_data", "dtype", "shape", "init", "internal", "const_arg", NULL};
    PyObject *data = Py_None, *dtype_obj = Py_None, *shape_obj = Py_None, *init = Py_None;
    int internal = 0, const_arg = 0;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "|OOOOpp:Tensor", kwlist, &data, &dtype_obj, &shape_obj,
                                     &init, &internal, &const_arg))
        return NULL;
    int dt = -1;
    if (dtype_obj != Py_None) {
        ds_dtype d;
        if (ds_py_dtype_from_object(dtype_obj, &d) < 0) return NULL;
        dt = (int)d;
    }
    ds_tensor *t = NULL;
    if (data == Py_None) {
        if (shape_obj == Py_None) {
            PyErr_SetString(PyExc_ValueError, "Tensor: give input_data, or shape and dtype for a declared tensor");
            return NULL;
        }
        int ndim;
        int64_t shape[DS_MAX_DIMS];
        if (parse_shape(shape_obj, &ndim, shape, true) < 0) return NULL;
        if (dt < 0) {
            PyErr_SetString(PyExc_TypeError, "Tensor: a declared tensor (shape=...) needs a dtype");
            return NULL;
        }
        bool known = true;
        for (int i = 0; i < ndim; i++) known &= shape[i] >= 0;
        ds_status st;
        if (init != Py_None && known) st = ds_tensor_new_zeros((ds_dtype)dt, ndim, shape, &t);
        else st = ds_tensor_new_declared((ds_dtype)dt, ndim, shape, &t);
        if (st) return ds_py_raise(st);
    } else {
        if (shape_obj != Py_None) {
            PyErr_SetString(PyExc_ValueError, "Tensor: give either input_data or shape, not both");
            return NULL;
        }
        if (ds_py_to_tensor(data, dt, &t) < 0) return NULL;
        if (DsTensor_Check(data) && t == ((TensorObject *)data)->t) {
            /* Tensor(tensor) makes a new tensor object sharing nothing mutable: copy */
            ds_tensor *c;
            ds_status st = ds_op_run1(DS_OP_COPY, 1, &t, NULL, &c);
            ds_tensor_release(t);
            if (st) return ds_py_raise(st);
            t = c;
        }
    }
    return ds_py_wrap_as(type, t);
}

static void tensor_dealloc(TensorObject *self) {
    PyObject_GC_UnTrack(self);
    if (self->weakrefs) PyObject_ClearWeakRefs((PyObject *)self);
    Py_CLEAR(self->dict);
    ds_tensor_release(self->t);
    /* a Python subclass's subtype_dealloc drops the reference to its heap type after we return */
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static int tensor_traverse(TensorObject *self, visitproc visit, void *arg) {
    Py_VISIT(self->dict); /* subtype_traverse visits a subclass's heap type */
    return 0;
}

static int tensor_clear(TensorObject *self) {
    Py_CLEAR(self->dict);
    return 0;
}

/* ---------------------------------------------------------------- properties */
/* The tensor's data may be read (TraceError naming `what` for a symbolic tensor). */
static int require_data(TensorObject *self, const char *what) {
    if (ds_py_check_readable(self->t, what) < 0) return -1;
    if (!self->t->data && self->t->numel != 0) {
        PyErr_SetString(PyExc_ValueError, "this tensor is declared only (shape and dtype, no data)");
        return -1;
    }
    return 0;
}

static PyObject *shape_tuple(const ds_tensor *t) {
    PyObject *tup = PyTuple_New(t->ndim);
    if (!tup) return NULL;
    for (int i = 0; i < t->ndim; i++) {
        PyObject *d = t->shape[i] < 0 ? Py_NewRef(Py_None) : PyLong_FromLongLong(t->shape[i]);
        if (!d) {
            Py_DECREF(tup);
            return NULL;
        }
        PyTuple_SET_ITEM(tup, i, d);
    }
    return tup;
}

static PyObject *get_shape(TensorObject *self, void *c) { return shape_tuple(self->t); }
static PyObject *get_dtype(TensorObject *self, void *c) { return Py_NewRef(ds_py_dtype(self->t->dtype)); }
static PyObject *get_ndim(TensorObject *self, void *c) { return PyLong_FromLong(self->t->ndim); }
static int known_size(TensorObject *self, const char *what) {
    if (self->t->numel >= 0) return 0;
    char shape[DS_SHAPE_STR_MAX];
    size_t k = (size_t)snprintf(shape, sizeof shape, "[");
    for (int i = 0; i < self->t->ndim && k < sizeof shape; i++)
        k += (size_t)(self->t->shape[i] < 0 ? snprintf(shape + k, sizeof shape - k, "%sNone", i ? ", " : "")
                                            : snprintf(shape + k, sizeof shape - k, "%s%lld", i ? ", " : "",
                                                       (long long)self->t->shape[i]));
    if (k < sizeof shape) snprintf(shape + k, sizeof shape - k, "]");
    PyErr_Format(self->t->symbolic ? ds_py_trace_error : PyExc_ValueError,
                 "%s of a tensor with unknown dims (shape %s) is not known%s", what, shape,
                 self->t->symbolic ? " while compiling a graph" : "");
    return -1;
}

static PyObject *get_size(TensorObject *self, void *c) {
    return known_size(self, ".size") < 0 ? NULL : PyLong_FromLongLong(self->t->numel);
}
static PyObject *get_itemsize(TensorObject *self, void *c) { return PyLong_FromSize_t(ds_dtype_size(self->t->dtype)); }
static PyObject *get_nbytes(TensorObject *self, void *c) {
    if (known_size(self, ".nbytes") < 0) return NULL;
    return PyLong_FromLongLong(self->t->numel * (int64_t)ds_dtype_size(self->t->dtype));
}
static PyObject *get_strides(TensorObject *self, void *c) {
    PyObject *tup = PyTuple_New(self->t->ndim);
    for (int i = 0; tup && i < self->t->ndim; i++)
        PyTuple_SET_ITEM(tup, i, PyLong_FromLongLong(self->t->strides[i] * (int64_t)ds_dtype_size(self->t->dtype)));
    return tup;
}

static PyObject *get_T(TensorObject *self, void *c) {
    if (!self->t->symbolic && require_data(self, ".T") < 0) return NULL;
    ds_tensor *out;
    ds_status st = ds_op_run1(DS_OP_TRANSPOSE, 1, &self->t, NULL, &out);
    return st ? ds_py_raise(st) : ds_py_wrap(out);
}

static void track_if_dict(TensorObject *self) {
    if (self->dict && !PyObject_GC_IsTracked((PyObject *)self)) PyObject_GC_Track(self);
}

static PyObject *get_dict(TensorObject *self, void *c) {
    if (!self->dict && !(self->dict = PyDict_New())) return NULL;
    track_if_dict(self);
    return Py_NewRef(self->dict);
}

static int tensor_setattro(PyObject *o, PyObject *name, PyObject *value) {
    int rc = PyObject_GenericSetAttr(o, name, value);
    track_if_dict((TensorObject *)o);
    return rc;
}

static PyGetSetDef tensor_getset[] = {
    {"shape", (getter)get_shape, NULL, "the shape as a tuple (None for an unknown dim)", NULL},
    {"dtype", (getter)get_dtype, NULL, "the element type", NULL},
    {"ndim", (getter)get_ndim, NULL, "number of dimensions", NULL},
    {"size", (getter)get_size, NULL, "number of elements", NULL},
    {"itemsize", (getter)get_itemsize, NULL, "bytes per element", NULL},
    {"nbytes", (getter)get_nbytes, NULL, "bytes of all elements", NULL},
    {"strides", (getter)get_strides, NULL, "strides in bytes", NULL},
    {"T", (getter)get_T, NULL, "the transpose (all dims reversed)", NULL},
    {"__dict__", (getter)get_dict, NULL, NULL, NULL},
    {NULL},
};

/* ---------------------------------------------------------------- conversions */
static PyObject *tensor_asnumpy(TensorObject *self, PyObject *unused) {
    if (require_data(self, "asnumpy()") < 0) return NULL;
    PyObject *np = ds_py_numpy();
    if (!np) return NULL;
    if (self->t->dtype == DS_BFLOAT16) { /* NumPy has no bfloat16: widen to float32 */
        ds_attr a = {.kind = DS_ATTR_DTYPE, .v.dtype = DS_FLOAT32};
        ds_tensor *f;
        ds_status st = ds_op_run1(DS_OP_CAST, 1, &self->t, &a, &f);
        if (st) return ds_py_raise(st);
        PyObject *tmp = ds_py_wrap_as(&DsTensor_Type, f);
        if (!tmp) return NULL;
        PyObject *r = tensor_asnumpy((TensorObject *)tmp, NULL);
        Py_DECREF(tmp);
        return r;
    }
    PyObject *mv = PyMemoryView_FromObject((PyObject *)self);
    if (!mv) return NULL;
    PyObject *arr = PyObject_CallMethod(np, "asarray", "(O)", mv);
    Py_DECREF(mv);
    return arr;
}

static PyObject *tensor_array(TensorObject *self, PyObject *args, PyObject *kwargs) {
    static char *kwlist[] = {"dtype", "copy", NULL};
    PyObject *dtype = Py_None, *copy = Py_None;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "|OO:__array__", kwlist, &dtype, &copy)) return NULL;
    if (ds_py_check_readable(self->t, "conversion to a NumPy array") < 0) return NULL;
    PyObject *arr = tensor_asnumpy(self, NULL);
    if (!arr || (dtype == Py_None && copy != Py_True)) return arr;
    PyObject *res = dtype == Py_None ? PyObject_CallMethod(arr, "copy", NULL)
                                     : PyObject_CallMethod(arr, "astype", "(O)", dtype);
    Py_DECREF(arr);
    return res;
}

static PyObject *scalar_at(const ds_tensor *t, int64_t i) {
    if (t->dtype == DS_BOOL) {
        int64_t v;
        ds_status st = ds_tensor_get_int(t, i, &v);
        return st ? ds_py_raise(st) : PyBool_FromLong(v != 0);
    }
    if (ds_dtype_is_float(t->dtype)) {
        double v;
        ds_status st = ds_tensor_get_double(t, i, &v);
        return st ? ds_py_raise(st) : PyFloat_FromDouble(v);
    }
    int64_t v;
    ds_status st = ds_tensor_get_int(t, i, &v);
    return st ? ds_py_raise(st) : PyLong_FromLongLong(v);
}

static PyObject *tensor_item(TensorObject *self, PyObject *args) {
    PyObject *index = NULL;
    if (!PyArg_ParseTuple(args, "|O:item", &index)) return NULL;
    if (require_data(self, "item()") < 0) return NULL;
    int64_t i = 0;
    if (index && index != Py_None) {
        i = PyLong_AsLongLong(index);
        if (i == -1 && PyErr_Occurred()) return NULL;
        if (i < 0) i += self->t->numel;
    } else if (self->t->numel != 1) {
        PyErr_Format(PyExc_ValueError, "item(): only a tensor with one element can be converted to a "
                     "Python scalar (this one has %lld)", (long long)self->t->numel);
        return NULL;
    }
    return scalar_at(self->t, i);
}

static PyObject *tensor_tolist(TensorObject *self, PyObject *unused) {
    if (ds_py_check_readable(self->t, "tolist()") < 0) return NULL;
    PyObject *arr = tensor_asnumpy(self, NULL);
    if (!arr) return NULL;
    PyObject *res = PyObject_CallMethod(arr, "tolist", NULL);
    Py_DECREF(arr);
    return res;
}

static PyObject *tensor_astype(TensorObject *self, PyObject *args, PyObject *kwargs) {
    static char *kwlist[] = {"dtype", "copy", NULL};
    PyObject *dtype;
    int copy = 1;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "O|p:astype", kwlist, &dtype, &copy)) return NULL;
    ds_dtype dt;
    if (ds_py_dtype_from_object(dtype, &dt) < 0 || (!self->t->symbolic && require_data(self, "astype()") < 0)) return NULL;
    if (dt == self->t->dtype && !copy) return Py_NewRef(self);
    ds_attr a = {.kind = DS_ATTR_DTYPE, .v.dtype = dt};
    ds_tensor *out;
    ds_status st = dt == self->t->dtype ? ds_op_run1(DS_OP_COPY, 1, &self->t, NULL, &out)
                                        : ds_op_run1(DS_OP_CAST, 1, &self->t, &a, &out);
    return st ? ds_py_raise(st) : ds_py_wrap(out);
}

static PyObject *tensor_is_contiguous(TensorObject *self, PyObject *unused) {
    return PyBool_FromLong(self->t->contiguous);
}

static PyObject *tensor_contiguous(TensorObject *self, PyObject *unused) {
    if (self->t->symbolic) return Py_NewRef(self); /* graph values have no layout */
    if (require_data(self, "contiguous()") < 0) return NULL;
    if (self->t->contiguous) return Py_NewRef(self);
    ds_tensor *out;
    ds_status st = ds_tensor_contiguous(self->t, &out);
    return st ? ds_py_raise(st) : ds_py_wrap(out);
}

static PyObject *tensor_shares_memory(TensorObject *self, PyObject *other) {
    if (!DsTensor_Check(other)) Py_RETURN_FALSE;
    return PyBool_FromLong(ds_tensor_shares_storage(self->t, ((TensorObject *)other)->t));
}

static PyObject *tensor_reduce(TensorObject *self, PyObject *unused) {
    if (ds_py_check_readable(self->t, "pickling") < 0) return NULL;
    PyObject *arr = tensor_asnumpy(self, NULL);
    if (!arr) return NULL;
    return Py_BuildValue("(O(NN))", (PyObject *)Py_TYPE(self), arr, Py_NewRef(ds_py_dtype(self->t->dtype)));
}

static PyObject *tensor_data_ptr(TensorObject *self, PyObject *unused) {
    if (ds_py_check_readable(self->t, "data_ptr()") < 0) return NULL;
    return PyLong_FromVoidPtr(self->t->data);
}

/* format(t, spec): as object.__format__ (str() for an empty spec); a symbolic tensor cannot be formatted. */
static PyObject *tensor_format(TensorObject *self, PyObject *spec) {
    if (ds_py_check_readable(self->t, "format()") < 0) return NULL;
    PyObject *f = PyObject_GetAttrString((PyObject *)&PyBaseObject_Type, "__format__");
    if (!f) return NULL;
    PyObject *r = PyObject_CallFunctionObjArgs(f, (PyObject *)self, spec, NULL);
    Py_DECREF(f);
    return r;
}

static PyMethodDef tensor_methods[] = {
    {"asnumpy", (PyCFunction)tensor_asnumpy, METH_NOARGS,
     "A NumPy array viewing the same memory (a float32 copy for bfloat16)."},
    {"numpy", (PyCFunction)tensor_asnumpy, METH_NOARGS, "Same as asnumpy()."},
    {"__array__", (PyCFunction)(void (*)(void))tensor_array, METH_VARARGS | METH_KEYWORDS, NULL},
    {"item", (PyCFunction)tensor_item, METH_VARARGS, "The single element as a Python scalar."},
    {"tolist", (PyCFunction)tensor_tolist, METH_NOARGS, "Nested Python lists of the elements."},
    {"astype", (PyCFunction)(void (*)(void))tensor_astype, METH_VARARGS | METH_KEYWORDS,
     "A copy converted to dtype (with copy=False, self when it already has that dtype)."},
    {"is_contiguous", (PyCFunction)tensor_is_contiguous, METH_NOARGS, NULL},
    {"contiguous", (PyCFunction)tensor_contiguous, METH_NOARGS, "self if contiguous, else a contiguous copy."},
    {"shares_memory", (PyCFunction)tensor_shares_memory, METH_O, "Whether both tensors view one storage."},
    {"data_ptr", (PyCFunction)tensor_data_ptr, METH_NOARGS, "Address of the first element."},
    {"__reduce__", (PyCFunction)tensor_reduce, METH_NOARGS, NULL},
    {"__format__", (PyCFunction)tensor_format, METH_O, NULL},
    {"__dlpack__", (PyCFunction)(void (*)(void))ds_py_dlpack, METH_VARARGS | METH_KEYWORDS, NULL},
    {"__dlpack_device__", (PyCFunction)ds_py_dlpack_device, METH_NOARGS, NULL},
    {NULL},
};

/* ---------------------------------------------------------------- printing */
static PyObject *format_values(TensorObject *self, const char *what) {
    if (ds_py_check_readable(self->t, what) < 0) return NULL;
    if (!self->t->data && self->t->numel != 0) return PyUnicode_FromString("<declared>");
    char *s;
    ds_status st = ds_tensor_format(self->t, &s);
    if (st) return ds_py_raise(st);
    PyObject *r = PyUnicode_FromString(s);
    ds_free(s);
    return r;
}

static PyObject *tensor_str(TensorObject *self) { return format_values(self, "str()"); }

static PyObject *tensor_repr(TensorObject *self) {
    char shape[DS_SHAPE_STR_MAX];
    ds_shape_str(self->t->ndim, self->t->shape, shape, sizeof shape);
    PyObject *vals = format_values(self, "repr()");
    if (!vals) return NULL;
    PyObject *dt = PyObject_Repr(ds_py_dtype(self->t->dtype));
    const char *v = PyUnicode_AsUTF8(vals);
    PyObject *r = PyUnicode_FromFormat("Tensor(shape=%s, dtype=%U, value=%s%U)", shape, dt,
                                       strchr(v, '\n') ? "\n" : "", vals);
    Py_DECREF(dt);
    Py_DECREF(vals);
    return r;
}

/* ---------------------------------------------------------------- operators */
PyObject *ds_py_binary(ds_op_id op, PyObject *a, PyObject *b) {
    ds_tensor *ta = NULL, *tb = NULL, *out;
    if (DsTensor_Check(a)) {
        if (ds_py_operand(b, ((TensorObject *)a)->t, &tb) < 0) goto bad_operand;
        ta = ds_tensor_retain(((TensorObject *)a)->t);
    } else {
        if (ds_py_operand(a, ((TensorObject *)b)->t, &ta) < 0) goto bad_operand;
        tb = ds_tensor_retain(((TensorObject *)b)->t);
    }
    ds_tensor *in[2] = {ta, tb};
    ds_status st = ds_op_run1(op, 2, in, NULL, &out);
    ds_tensor_release(ta);
    ds_tensor_release(tb);
    return st ? ds_py_raise(st) : ds_py_wrap(out);
bad_operand:
    if (PyErr_ExceptionMatches(PyExc_TypeError)) {
        PyErr_Clear();
        Py_RETURN_NOTIMPLEMENTED;
    }
    return NULL;
}

PyObject *ds_py_unary(ds_op_id op, PyObject *a) {
    ds_tensor *out, *t = ((TensorObject *)a)->t;
    ds_status st = ds_op_run1(op, 1, &t, NULL, &out);
    return st ? ds_py_raise(st) : ds_py_wrap(out);
}

#define BINARY_SLOT(fn, OP) \
    static PyObject *fn(PyObject *a, PyObject *b) { return ds_py_binary(DS_OP_##OP, a, b); }
BINARY_SLOT(nb_add, ADD)
BINARY_SLOT(nb_sub, SUB)
BINARY_SLOT(nb_mul, MUL)
BINARY_SLOT(nb_truediv, DIV)
BINARY_SLOT(nb_floordiv, FLOOR_DIV)
BINARY_SLOT(nb_mod, MOD)
BINARY_SLOT(nb_matmul, MATMUL)
BINARY_SLOT(nb_and, BITWISE_AND)
BINARY_SLOT(nb_or, BITWISE_OR)
BINARY_SLOT(nb_xor, BITWISE_XOR)

static PyObject *nb_pow(PyObject *a, PyObject *b, PyObject *mod) {
    if (mod != Py_None) {
        PyErr_SetString(PyExc_TypeError, "pow() with a modulus is not supported for tensors");
        return NULL;
    }
    return ds_py_binary(DS_OP_POW, a, b);
}
static PyObject *nb_neg(PyObject *a) { return ds_py_unary(DS_OP_NEG, a); }
static PyObject *nb_abs(PyObject *a) { return ds_py_unary(DS_OP_ABS, a); }
static PyObject *nb_invert(PyObject *a) { return ds_py_unary(DS_OP_BITWISE_NOT, a); }
static PyObject *nb_pos(PyObject *a) { return Py_NewRef(a); }

static int one_element(TensorObject *self, const char *what) {
    if (require_data(self, what) < 0) return -1;
    if (self->t->numel != 1) {
        PyErr_Format(PyExc_ValueError, "%s of a tensor with %lld elements is ambiguous (only one-element "
                     "tensors convert)", what, (long long)self->t->numel);
        return -1;
    }
    return 0;
}

static int nb_bool(PyObject *a) {
    TensorObject *self = (TensorObject *)a;
    if (ds_py_check_readable(self->t, "bool()") < 0 || one_element(self, "the truth value") < 0) return -1;
    double v;
    ds_status st = ds_tensor_get_double(self->t, 0, &v);
    return st ? ds_py_raise_int(st) : v != 0.0;
}

static PyObject *nb_float(PyObject *a) {
    TensorObject *self = (TensorObject *)a;
    if (one_element(self, "float()") < 0) return NULL;
    double v;
    ds_status st = ds_tensor_get_double(self->t, 0, &v);
    return st ? ds_py_raise(st) : PyFloat_FromDouble(v);
}

static PyObject *nb_int(PyObject *a) {
    TensorObject *self = (TensorObject *)a;
    if (one_element(self, "int()") < 0) return NULL;
    if (ds_dtype_is_float(self->t->dtype)) {
        PyObject *f = nb_float(a);
        if (!f) return NULL;
        PyObject *r = PyNumber_Long(f);
        Py_DECREF(f);
        return r;
    }
    int64_t v;
    ds_status st = ds_tensor_get_int(self->t, 0, &v);
    return st ? ds_py_raise(st) : PyLong_FromLongLong(v);
}

static PyObject *nb_index(PyObject *a) {
    TensorObject *self = (TensorObject *)a;
    if (ds_py_check_readable(self->t, "use as a Python int (__index__)") < 0) return NULL;
    if (ds_dtype_is_float(self->t->dtype) || self->t->numel != 1) {
        PyErr_SetString(PyExc_TypeError, "only integer tensors of a single element can be used as an index");
        return NULL;
    }
    return nb_int(a);
}

static PyNumberMethods tensor_as_number = {
    .nb_add = nb_add,
    .nb_subtract = nb_sub,
    .nb_multiply = nb_mul,
    .nb_true_divide = nb_truediv,
    .nb_floor_divide = nb_floordiv,
    .nb_remainder = nb_mod,
    .nb_power = nb_pow,
    .nb_matrix_multiply = nb_matmul,
    .nb_negative = nb_neg,
    .nb_positive = nb_pos,
    .nb_absolute = nb_abs,
    .nb_invert = nb_invert,
    .nb_and = nb_and,
    .nb_or = nb_or,
    .nb_xor = nb_xor,
    .nb_bool = nb_bool,
    .nb_int = nb_int,
    .nb_float = nb_float,
    .nb_index = nb_index,
};

static PyObject *tensor_richcompare(PyObject *a, PyObject *b, int op) {
    static const ds_op_id ops[] = {[Py_LT] = DS_OP_LESS,       [Py_LE] = DS_OP_LESS_EQUAL,
                                   [Py_EQ] = DS_OP_EQUAL,      [Py_NE] = DS_OP_NOT_EQUAL,
                                   [Py_GT] = DS_OP_GREATER,    [Py_GE] = DS_OP_GREATER_EQUAL};
    if (b == Py_None) { /* x == None is plain Python identity, as in NumPy */
        if (op == Py_EQ) Py_RETURN_FALSE;
        if (op == Py_NE) Py_RETURN_TRUE;
    }
    return ds_py_binary(ops[op], a, b);
}

static Py_ssize_t mp_length(PyObject *a) {
    ds_tensor *t = ((TensorObject *)a)->t;
    if (t->ndim == 0) {
        PyErr_SetString(PyExc_TypeError, "len() of a 0-d tensor");
        return -1;
    }
    if (t->shape[0] < 0) {
        PyErr_SetString(PyExc_TypeError, "len() of a tensor whose first dimension is unknown");
        return -1;
    }
    return (Py_ssize_t)t->shape[0];
}

static PyObject *mp_subscript(PyObject *a, PyObject *key) { return ds_py_getitem((TensorObject *)a, key); }
static int mp_ass_subscript(PyObject *a, PyObject *key, PyObject *v) {
    if (!v) {
        PyErr_SetString(PyExc_TypeError, "tensor elements cannot be deleted");
        return -1;
    }
    return ds_py_setitem((TensorObject *)a, key, v);
}

static PyMappingMethods tensor_as_mapping = {mp_length, mp_subscript, mp_ass_subscript};

/* Iteration yields the sub-tensors along dim 0 (views). */
static PyObject *tensor_iter(PyObject *a) {
    ds_tensor *t = ((TensorObject *)a)->t;
    if (t->ndim == 0) {
        PyErr_SetString(PyExc_TypeError, "iteration over a 0-d tensor");
        return NULL;
    }
    ds_trace *tr = ds_trace_active();
    bool graph = t->symbolic || (tr && ds_trace_lookup(tr, t)); /* rows are graph values: index with ops */
    if (graph && t->shape[0] < 0) {
        PyErr_SetString(ds_py_trace_error, "cannot iterate over a tensor whose first dim is unknown while compiling a graph");
        return NULL;
    }
    if (!graph && !t->data && t->numel != 0) {
        PyErr_SetString(PyExc_TypeError, "iteration over a declared-only tensor (it has no data)");
        return NULL;
    }
    PyObject *list = PyList_New((Py_ssize_t)t->shape[0]);
    if (!list) return NULL;
    for (int64_t i = 0; i < t->shape[0]; i++) {
        PyObject *o;
        if (graph) {
            PyObject *k = PyLong_FromLongLong(i);
            o = k ? ds_py_getitem((TensorObject *)a, k) : NULL;
            Py_XDECREF(k);
        } else {
            ds_tensor *v;
            ds_status st = ds_tensor_select(t, 0, i, &v);
            o = st ? ds_py_raise(st) : ds_py_wrap(v);
        }
        if (!o) {
            Py_DECREF(list);
            return NULL;
        }
        PyList_SET_ITEM(list, (Py_ssize_t)i, o);
    }
    PyObject *it = PyObject_GetIter(list);
    Py_DECREF(list);
    return it;
}

/* Tensors hash by identity (== is elementwise), as in NumPy-free frameworks. */
static Py_hash_t tensor_hash(PyObject *o) {
    Py_hash_t h = (Py_hash_t)((uintptr_t)o >> 4);
    return h == -1 ? -2 : h;
}

PyTypeObject DsTensor_Type = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "dynastat._C.TensorBase",
    .tp_basicsize = sizeof(TensorObject),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE | Py_TPFLAGS_HAVE_GC,
    .tp_doc = "The C part of dynastat.Tensor.",
    .tp_new = tensor_new,
    .tp_dealloc = (destructor)tensor_dealloc,
    .tp_traverse = (traverseproc)tensor_traverse,
    .tp_clear = (inquiry)tensor_clear,
    .tp_repr = (reprfunc)tensor_repr,
    .tp_str = (reprfunc)tensor_str,
    .tp_hash = tensor_hash,
    .tp_as_number = &tensor_as_number,
    .tp_as_mapping = &tensor_as_mapping,
    .tp_as_buffer = &ds_py_buffer_procs,
    .tp_richcompare = tensor_richcompare,
    .tp_iter = tensor_iter,
    .tp_methods = tensor_methods,
    .tp_getset = tensor_getset,
    .tp_dictoffset = offsetof(TensorObject, dict),
    .tp_setattro = tensor_setattro,
    .tp_weaklistoffset = offsetof(TensorObject, weakrefs),
};

/* from_numpy: shares the array's memory; a read-only array is copied, since tensors are writable. */
static PyObject *from_buffer(PyObject *m, PyObject *obj) {
    ds_tensor *t;
    if (ds_py_tensor_from_buffer(obj, true, &t) < 0) {
        if (!PyErr_ExceptionMatches(PyExc_ValueError) || !PyObject_CheckBuffer(obj)) return NULL;
        PyErr_Clear();
        ds_tensor *ro;
        if (ds_py_tensor_from_buffer(obj, false, &ro) < 0) return NULL;
        ds_status st = ds_op_run1(DS_OP_COPY, 1, &ro, NULL, &t);
        ds_tensor_release(ro);
        if (st) return ds_py_raise(st);
    }
    return ds_py_wrap(t);
}

static PyObject *as_dtype(PyObject *m, PyObject *obj) {
    ds_dtype dt;
    if (ds_py_dtype_from_object(obj, &dt) < 0) return NULL;
    return Py_NewRef(ds_py_dtype(dt));
}

PyMethodDef ds_py_tensor_module_methods[] = {
    {"from_buffer", from_buffer, METH_O, "A tensor sharing memory with a buffer-protocol object (NumPy array)."},
    {"as_dtype", as_dtype, METH_O, "The dtype for a dtype-like object (name, NumPy dtype, Python type)."},
    {"_set_tensor_type", set_tensor_type, METH_O, "Sets the class of tensors returned by ops."},
    {"from_dlpack", ds_py_from_dlpack, METH_O, "A tensor sharing memory with a DLPack-exporting object."},
    {NULL},
};
