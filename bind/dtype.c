/* dtype objects: ms.float32 etc. They print as the seeds' system prints them ("Float32"). */
#include <string.h>

#include "bind.h"

static const char *const k_display[DS_DTYPE_COUNT] = {"Bool",    "Int8",     "UInt8",   "Int16",
                                                      "Int32",   "Int64",    "Float16", "BFloat16",
                                                      "Float32", "Float64"};
static DTypeObject g_dtypes[DS_DTYPE_COUNT];

static PyObject *dtype_repr(PyObject *self) {
    return PyUnicode_FromString(k_display[((DTypeObject *)self)->code]);
}

static Py_hash_t dtype_hash(PyObject *self) { return (Py_hash_t)((DTypeObject *)self)->code + 0x5d7; }

static PyObject *dtype_richcompare(PyObject *a, PyObject *b, int op) {
    if ((op != Py_EQ && op != Py_NE)) Py_RETURN_NOTIMPLEMENTED;
    ds_dtype other;
    if (!PyObject_TypeCheck(b, &DsDType_Type)) {
        if (!PyUnicode_Check(b)) Py_RETURN_NOTIMPLEMENTED;
        if (ds_py_dtype_from_object(b, &other) < 0) {
            PyErr_Clear();
            return PyBool_FromLong(op == Py_NE);
        }
    } else other = ((DTypeObject *)b)->code;
    bool eq = ((DTypeObject *)a)->code == other;
    return PyBool_FromLong(op == Py_EQ ? eq : !eq);
}

static PyObject *dtype_get_name(PyObject *self, void *c) {
    return PyUnicode_FromString(ds_dtype_name(((DTypeObject *)self)->code));
}

static PyObject *dtype_get_itemsize(PyObject *self, void *c) {
    return PyLong_FromSize_t(ds_dtype_size(((DTypeObject *)self)->code));
}

static PyObject *dtype_get_code(PyObject *self, void *c) { return PyLong_FromLong(((DTypeObject *)self)->code); }

static PyObject *dtype_reduce(PyObject *self, PyObject *unused) {
    return PyUnicode_FromString(ds_dtype_name(((DTypeObject *)self)->code));
}

static PyGetSetDef dtype_getset[] = {
    {"name", dtype_get_name, NULL, "lower-case name, as NumPy spells it", NULL},
    {"itemsize", dtype_get_itemsize, NULL, "bytes per element", NULL},
    {"code", dtype_get_code, NULL, "the C enum value", NULL},
    {NULL},
};

static PyMethodDef dtype_methods[] = {
    {"__reduce__", dtype_reduce, METH_NOARGS, NULL},
    {NULL},
};

PyTypeObject DsDType_Type = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "dynastat.dtype",
    .tp_basicsize = sizeof(DTypeObject),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "A tensor element type (dynastat.float32, ...).",
    .tp_repr = dtype_repr,
    .tp_str = dtype_repr,
    .tp_hash = dtype_hash,
    .tp_richcompare = dtype_richcompare,
    .tp_getset = dtype_getset,
    .tp_methods = dtype_methods,
};

PyObject *ds_py_dtype(ds_dtype dt) { return (PyObject *)&g_dtypes[dt]; }

/* Called from module init: makes the singletons and adds them to the module. */
int ds_py_init_dtypes(PyObject *m) {
    if (PyType_Ready(&DsDType_Type) < 0) return -1;
    for (int i = 0; i < DS_DTYPE_COUNT; i++) {
        PyObject *o = (PyObject *)&g_dtypes[i];
        if (Py_TYPE(o) == NULL) {
            (void)PyObject_Init(o, &DsDType_Type);
            Py_INCREF(o); /* immortal singletons */
        }
        g_dtypes[i].code = (ds_dtype)i;
        if (PyModule_AddObjectRef(m, ds_dtype_name((ds_dtype)i), o) < 0) return -1;
    }
    return PyModule_AddObjectRef(m, "dtype", (PyObject *)&DsDType_Type);
}

int ds_py_dtype_from_object(PyObject *o, ds_dtype *out) {
    if (PyObject_TypeCheck(o, &DsDType_Type)) {
        *out = ((DTypeObject *)o)->code;
        return 0;
    }
    if (o == (PyObject *)&PyBool_Type) {
        *out = DS_BOOL;
        return 0;
    }
    if (o == (PyObject *)&PyLong_Type) {
        *out = DS_INT64;
        return 0;
    }
    if (o == (PyObject *)&PyFloat_Type) {
        *out = DS_FLOAT32;
        return 0;
    }
    PyObject *name = NULL;
    if (PyUnicode_Check(o)) name = Py_NewRef(o);
    else {
        /* NumPy dtypes and scalar types: use numpy.dtype(o).name */
        PyObject *np = ds_py_numpy();
        if (np) {
            PyObject *d = PyObject_CallMethod(np, "dtype", "(O)", o);
            if (d) {
                name = PyObject_GetAttrString(d, "name");
                Py_DECREF(d);
            }
        }
        PyErr_Clear();
    }
    if (name) {
        const char *s = PyUnicode_AsUTF8(name);
        bool ok = s && ds_dtype_from_name(s, out);
        if (!ok && s && !strcmp(s, "bool_")) {
            *out = DS_BOOL;
            ok = true;
        }
        Py_DECREF(name);
        if (ok) return 0;
        if (PyErr_Occurred()) PyErr_Clear();
    }
    PyErr_Format(PyExc_TypeError, "data type %R is not supported by dynastat (supported: bool, int8, uint8, "
                 "int16, int32, int64, float16, bfloat16, float32, float64)", o);
    return -1;
}
