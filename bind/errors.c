/* ds_status -> Python exception. */
#include "bind.h"

PyObject *ds_py_raise(ds_status st) {
    PyObject *exc;
    switch (st) {
    case DS_ERR_SHAPE:
    case DS_ERR_VALUE: exc = PyExc_ValueError; break;
    case DS_ERR_DTYPE: exc = PyExc_TypeError; break;
    case DS_ERR_INDEX: exc = PyExc_IndexError; break;
    case DS_ERR_NOMEM: exc = PyExc_MemoryError; break;
    case DS_ERR_UNSUPPORTED: exc = PyExc_NotImplementedError; break;
    default: exc = PyExc_RuntimeError; break;
    }
    PyErr_SetString(exc, ds_error_message());
    return NULL;
}

int ds_py_raise_int(ds_status st) {
    ds_py_raise(st);
    return -1;
}
