/* The extension module dynastat._C (multi-phase init). */
#include "bind.h"

int ds_py_init_dtypes(PyObject *m);
int ds_py_init_tape(PyObject *m); /* bind/tape.c: eager autograd (Tape, no_grad, custom backward functions) */
int ds_py_init_jit(PyObject *m);  /* bind/jit*.c: JitFunction, the cache and call path of compiled functions */

static PyObject *py_set_seed(PyObject *m, PyObject *arg) {
    unsigned long long s = PyLong_AsUnsignedLongLongMask(arg);
    if (PyErr_Occurred()) return NULL;
    ds_random_seed((uint64_t)s);
    Py_RETURN_NONE;
}

static PyObject *py_set_num_threads(PyObject *m, PyObject *arg) {
    long n = PyLong_AsLong(arg);
    if (n == -1 && PyErr_Occurred()) return NULL;
    ds_set_num_threads((int)n);
    Py_RETURN_NONE;
}

static PyObject *py_config(PyObject *m, PyObject *unused) {
    return Py_BuildValue("{s:s,s:s,s:i,s:s}", "blas", ds_blas_backend(), "simd", ds_simd_level(), "num_threads",
                         ds_get_num_threads(), "version", "0.1.0");
}

static PyObject *py_alloc_live_blocks(PyObject *m, PyObject *unused) {
    return PyLong_FromLongLong(ds_alloc_live_blocks());
}

/* set_dump_dir(path_or_None): the directory the pass manager writes .ir/.dot dumps to (None: off). */
static PyObject *py_set_dump_dir(PyObject *m, PyObject *arg) {
    PyObject *bytes = NULL;
    if (arg != Py_None && !PyUnicode_FSConverter(arg, &bytes)) return NULL;
    ds_status st = ds_set_dump_dir(bytes ? PyBytes_AS_STRING(bytes) : NULL);
    Py_XDECREF(bytes);
    if (st) return ds_py_raise(st);
    Py_RETURN_NONE;
}

static PyMethodDef module_methods[] = {
    {"set_seed", py_set_seed, METH_O, "Seeds the global random generator."},
    {"set_num_threads", py_set_num_threads, METH_O, "Threads kernels may use."},
    {"config", py_config, METH_NOARGS, "Build and run-time configuration (BLAS backend, SIMD level, threads)."},
    {"alloc_live_blocks", py_alloc_live_blocks, METH_NOARGS, "Blocks the C library has allocated and not freed."},
    {"set_dump_dir", py_set_dump_dir, METH_O, "Directory for the IR dumps (.ir and .dot after each pass); None: off."},
    {NULL},
};

static int module_exec(PyObject *m) {
    if (PyType_Ready(&DsTensor_Type) < 0) return -1;
    if (PyModule_AddObjectRef(m, "TensorBase", (PyObject *)&DsTensor_Type) < 0) return -1;
    if (ds_py_init_dtypes(m) < 0) return -1;
    if (ds_py_init_errors(m) < 0) return -1;
    if (ds_py_init_ops(m) < 0) return -1;
    if (PyModule_AddFunctions(m, ds_py_tensor_module_methods) < 0) return -1;
    if (ds_py_init_tape(m) < 0) return -1; /* autograd */
    if (ds_py_init_graph(m) < 0) return -1; /* Graph, Plan (bind/graph.c) */
    if (ds_py_init_trace(m) < 0) return -1; /* Trace, TraceError (bind/trace.c) */
    if (ds_py_init_jit(m) < 0) return -1; /* JitFunction (bind/jit*.c) */
    return 0;
}

static PyModuleDef_Slot module_slots[] = {
    {Py_mod_exec, module_exec},
#if PY_VERSION_HEX >= 0x030C0000
    {Py_mod_multiple_interpreters, Py_MOD_MULTIPLE_INTERPRETERS_NOT_SUPPORTED},
#endif
    {0, NULL},
};

static PyModuleDef module_def = {
    PyModuleDef_HEAD_INIT,
    .m_name = "dynastat._C",
    .m_doc = "The C engine of dynastat.",
    .m_size = 0,
    .m_methods = module_methods,
    .m_slots = module_slots,
};

PyMODINIT_FUNC PyInit__C(void) { return PyModuleDef_Init(&module_def); }
