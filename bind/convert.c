/* Python values -> tensors: scalars, sequences, NumPy arrays and other buffers. */
#include <stdlib.h>
#include <string.h>

#include "bind.h"

static PyObject *g_numpy;

PyObject *ds_py_numpy(void) {
    if (!g_numpy) g_numpy = PyImport_ImportModule("numpy");
    return g_numpy;
}

/* ---------------------------------------------------------------- buffers */
static int dtype_from_format(const char *fmt, Py_ssize_t itemsize, ds_dtype *out) {
    if (*fmt == '<' || *fmt == '=' || *fmt == '@' || *fmt == '|') fmt++;
    if (fmt[0] == '\0' || fmt[1] != '\0') return -1;
    switch (fmt[0]) {
    case '?': *out = DS_BOOL; return 0;
    case 'b': *out = DS_INT8; return 0;
    case 'B': *out = DS_UINT8; return 0;
    case 'h': *out = DS_INT16; return 0;
    case 'i': *out = DS_INT32; return 0;
    case 'l':
    case 'q': *out = itemsize == 8 ? DS_INT64 : DS_INT32; return 0;
    case 'e': *out = DS_FLOAT16; return 0;
    case 'f': *out = DS_FLOAT32; return 0;
    case 'd': *out = DS_FLOAT64; return 0;
    default: return -1;
    }
}

static void release_buffer(void *ctx) {
    PyGILState_STATE g = PyGILState_Ensure();
    PyBuffer_Release((Py_buffer *)ctx);
    PyMem_RawFree(ctx);
    PyGILState_Release(g);
}

int ds_py_tensor_from_buffer(PyObject *o, bool writable, ds_tensor **out) {
    Py_buffer *view = PyMem_RawMalloc(sizeof(Py_buffer));
    if (!view) {
        PyErr_NoMemory();
        return -1;
    }
    if (PyObject_GetBuffer(o, view, writable ? PyBUF_RECORDS : PyBUF_RECORDS_RO) < 0) {
        PyMem_RawFree(view);
        if (writable && PyObject_CheckBuffer(o) && PyErr_ExceptionMatches(PyExc_BufferError)) {
            PyErr_Clear();
            PyErr_SetString(PyExc_ValueError, "the array is read-only, so a tensor cannot share its memory; "
                            "Tensor(array) makes a copy");
        }
        return -1;
    }
    ds_dtype dt;
    int64_t shape[DS_MAX_DIMS], strides[DS_MAX_DIMS];
    if (dtype_from_format(view->format ? view->format : "B", view->itemsize, &dt) < 0) {
        PyErr_Format(PyExc_TypeError, "buffer format '%s' is not a supported dtype", view->format);
        goto fail;
    }
    if (view->ndim > DS_MAX_DIMS) {
        PyErr_Format(PyExc_ValueError, "a tensor has at most %d dims, got %d", DS_MAX_DIMS, view->ndim);
        goto fail;
    }
    for (int i = 0; i < view->ndim; i++) {
        shape[i] = view->shape[i];
        Py_ssize_t s = view->strides ? view->strides[i] : 0;
        if (s % view->itemsize) {
            PyErr_SetString(PyExc_ValueError, "buffer strides are not a multiple of the element size");
            goto fail;
        }
        strides[i] = s / view->itemsize;
    }
    ds_status st = ds_tensor_wrap(dt, view->ndim, shape, view->strides ? strides : NULL, view->buf,
                                  release_buffer, view, out);
    if (st) {
        ds_py_raise(st);
        goto fail;
    }
    return 0;
fail:
    PyBuffer_Release(view);
    PyMem_RawFree(view);
    return -1;
}

/* ---------------------------------------------------------------- scalars */
static int scalar_tensor(PyObject *o, ds_dtype dt, ds_tensor **out) {
    ds_status st;
    if (PyFloat_Check(o)) st = ds_tensor_scalar(dt, PyFloat_AS_DOUBLE(o), out);
    else {
        int overflow = 0;
        long long v = PyLong_AsLongLongAndOverflow(o, &overflow);
        if (overflow) {
            PyErr_SetString(PyExc_OverflowError, "Python int too large to convert to a tensor (int64)");
            return -1;
        }
        if (v == -1 && PyErr_Occurred()) return -1;
        if (ds_dtype_is_int(dt)) {
            static const long long lo[DS_DTYPE_COUNT] = {[DS_INT8] = -128, [DS_UINT8] = 0, [DS_INT16] = -32768,
                                                         [DS_INT32] = -2147483648LL, [DS_INT64] = INT64_MIN};
            static const long long hi[DS_DTYPE_COUNT] = {[DS_INT8] = 127, [DS_UINT8] = 255, [DS_INT16] = 32767,
                                                         [DS_INT32] = 2147483647LL, [DS_INT64] = INT64_MAX};
            if (v < lo[dt] || v > hi[dt]) {
                PyErr_Format(PyExc_OverflowError, "Python integer %lld out of bounds for %s", v, ds_dtype_name(dt));
                return -1;
            }
        }
        if (ds_dtype_is_float(dt)) st = ds_tensor_scalar(dt, (double)v, out);
        else st = ds_tensor_scalar_int(dt, v, out);
    }
    return st ? ds_py_raise_int(st) : 0;
}

static int cast_tensor(ds_tensor *t, ds_dtype dt, ds_tensor **out) {
    if (t->dtype == dt) {
        *out = ds_tensor_retain(t);
        return 0;
    }
    ds_attr a = {.kind = DS_ATTR_DTYPE, .v.dtype = dt};
    ds_status st = ds_op_run1(DS_OP_CAST, 1, &t, &a, out);
    return st ? ds_py_raise_int(st) : 0;
}

int ds_py_to_tensor(PyObject *o, int dtype, ds_tensor **out) {
    if (DsTensor_Check(o)) {
        ds_tensor *t = ((TensorObject *)o)->t;
        if (dtype < 0) {
            *out = ds_tensor_retain(t);
            return 0;
        }
        return cast_tensor(t, (ds_dtype)dtype, out);
    }
    if (PyBool_Check(o)) return scalar_tensor(o, dtype < 0 ? DS_BOOL : (ds_dtype)dtype, out);
    if (PyLong_CheckExact(o)) return scalar_tensor(o, dtype < 0 ? DS_INT64 : (ds_dtype)dtype, out);
    if (PyFloat_CheckExact(o)) return scalar_tensor(o, dtype < 0 ? DS_FLOAT32 : (ds_dtype)dtype, out);
    if (PyComplex_Check(o)) {
        PyErr_SetString(PyExc_TypeError, "complex numbers are not supported by dynastat tensors");
        return -1;
    }
    /* everything else goes through NumPy, then is copied into a tensor of our own */
    PyObject *np = ds_py_numpy();
    if (!np) return -1;
    bool from_sequence = PyList_Check(o) || PyTuple_Check(o);
    PyObject *arr = PyObject_CallMethod(np, "asarray", "(O)", o);
    if (!arr) return -1;
    PyObject *npdt = PyObject_GetAttrString(arr, "dtype");
    PyObject *kind = npdt ? PyObject_GetAttrString(npdt, "kind") : NULL;
    Py_XDECREF(npdt);
    const char *k = kind ? PyUnicode_AsUTF8(kind) : NULL;
    if (!k || !strchr("biuf", k[0])) {
        if (!PyErr_Occurred())
            PyErr_Format(PyExc_TypeError, "cannot make a tensor from %.100s of NumPy dtype kind '%s' "
                         "(numbers or bools are needed)", Py_TYPE(o)->tp_name, k ? k : "?");
        Py_XDECREF(kind);
        Py_DECREF(arr);
        return -1;
    }
    bool is_float = k[0] == 'f';
    Py_DECREF(kind);
    if (from_sequence && is_float && dtype < 0) dtype = DS_FLOAT32; /* Python floats -> float32 */
    ds_tensor *view;
    if (ds_py_tensor_from_buffer(arr, false, &view) < 0) {
        /* e.g. float128 or non-native byte order: let NumPy convert to a supported dtype first */
        PyErr_Clear();
        PyObject *conv = PyObject_CallMethod(arr, "astype", "s", is_float ? "float64" : "int64");
        Py_DECREF(arr);
        if (!conv) return -1;
        arr = conv;
        if (ds_py_tensor_from_buffer(arr, false, &view) < 0) {
            Py_DECREF(arr);
            return -1;
        }
    }
    Py_DECREF(arr);
    ds_tensor *res = NULL;
    ds_status st = ds_tensor_new(dtype < 0 ? view->dtype : (ds_dtype)dtype, view->ndim, view->shape, &res);
    if (!st) st = ds_tensor_copy_into(res, view);
    ds_tensor_release(view);
    if (st) {
        if (res) ds_tensor_release(res);
        return ds_py_raise_int(st);
    }
    *out = res;
    return 0;
}

int ds_py_operand(PyObject *o, const ds_tensor *other, ds_tensor **out) {
    if (DsTensor_Check(o)) {
        *out = ds_tensor_retain(((TensorObject *)o)->t);
        return 0;
    }
    ds_dtype od = other->dtype;
    if (PyFloat_Check(o)) return scalar_tensor(o, ds_dtype_is_float(od) ? od : DS_FLOAT32, out);
    if (PyBool_Check(o)) return scalar_tensor(o, od, out);
    if (PyLong_Check(o)) return scalar_tensor(o, od == DS_BOOL ? DS_INT64 : od, out);
    return ds_py_to_tensor(o, -1, out);
}
