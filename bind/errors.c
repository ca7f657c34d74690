/* ds_status -> Python exception. */
#include "bind.h"

PyObject *ds_py_axis_error;

int ds_py_init_errors(PyObject *m) {
    PyObject *bases = PyTuple_Pack(2, PyExc_ValueError, PyExc_IndexError);
    if (!bases) return -1;
    ds_py_axis_error = PyErr_NewExceptionWithDoc("dynastat.AxisError",
                                                 "An axis argument is out of range (a ValueError and an IndexError, "
                                                 "as NumPy's AxisError).", bases, NULL);
    Py_DECREF(bases);
    if (!ds_py_axis_error) return -1;
    return PyModule_AddObjectRef(m, "AxisError", ds_py_axis_error);
}

PyObject *ds_py_raise(ds_status st) {
    PyObject *exc;
    switch (st) {
    case DS_ERR_SHAPE:
    case DS_ERR_VALUE: exc = PyExc_ValueError; break;
    case DS_ERR_DTYPE: exc = PyExc_TypeError; break;
    case DS_ERR_INDEX: exc = PyExc_IndexError; break;
    case DS_ERR_AXIS: exc = ds_py_axis_error ? ds_py_axis_error : PyExc_IndexError; break;
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
