/* Shared declarations of the Python binding (the only code that includes Python.h). */
#ifndef DS_BIND_H
#define DS_BIND_H
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include "dynastat.h"
#include "tensor/tensor.h"

/* ---------------------------------------------------------------- Tensor */
typedef struct TensorObject {
    PyObject_HEAD
    ds_tensor *t;         /* owned; never NULL after construction */
    PyObject *dict;       /* instance __dict__ (Parameter and subclasses) */
    PyObject *weakrefs;
} TensorObject;

extern PyTypeObject DsTensor_Type;
#define DsTensor_Check(o) PyObject_TypeCheck((o), &DsTensor_Type)

/* Wraps t (steals the reference) in a new Tensor object; releases t on failure. */
PyObject *ds_py_wrap(ds_tensor *t);
/* Wraps t (steals) in an object of `type` (a Tensor subclass). */
PyObject *ds_py_wrap_as(PyTypeObject *type, ds_tensor *t);

/* ---------------------------------------------------------------- dtypes */
typedef struct DTypeObject {
    PyObject_HEAD
    ds_dtype code;
} DTypeObject;
extern PyTypeObject DsDType_Type;
/* The dtype object for a code (borrowed). */
PyObject *ds_py_dtype(ds_dtype dt);
/* Converts a dtype object, a name ("float32"), a NumPy dtype or a Python type (bool/int/float) to a
 * code. Sets TypeError and returns -1 on failure. */
int ds_py_dtype_from_object(PyObject *o, ds_dtype *out);

/* ---------------------------------------------------------------- conversions */
/* A new ds_tensor from any Python value: Tensor (retained, or cast if dtype given), NumPy array or
 * buffer (copied), nested lists/tuples, scalars. `dtype` < 0 means infer (Python floats -> float32,
 * ints -> int64, bools -> bool, NumPy keeps its dtype). Sets a Python error and returns -1 on failure. */
int ds_py_to_tensor(PyObject *o, int dtype, ds_tensor **out);
/* Operand conversion for binary ops: Tensors are borrowed (retained); Python scalars become 0-d
 * tensors whose dtype follows the scalar promotion rule against `other`'s dtype (see docs/dtypes.md). */
int ds_py_operand(PyObject *o, const ds_tensor *other, ds_tensor **out);
/* A zero-copy tensor over an object exporting the buffer protocol. */
int ds_py_tensor_from_buffer(PyObject *o, bool writable, ds_tensor **out);
/* NumPy module (imported lazily, borrowed) */
PyObject *ds_py_numpy(void);

/* ---------------------------------------------------------------- errors */
/* dynastat.AxisError (created at module init). */
extern PyObject *ds_py_axis_error;
int ds_py_init_errors(PyObject *m);
/* Raises the Python exception for the last ds_status of this thread and returns NULL. */
PyObject *ds_py_raise(ds_status st);
/* Same, returning -1. */
int ds_py_raise_int(ds_status st);

/* ---------------------------------------------------------------- ops */
/* Runs a single-output op on Python-level operands (a, b may be scalars), returning a Tensor. */
PyObject *ds_py_binary(ds_op_id op, PyObject *a, PyObject *b);
PyObject *ds_py_unary(ds_op_id op, PyObject *a);
/* Creates the op function objects and puts them into module dict `d` under "op_<name>". */
int ds_py_init_ops(PyObject *module);
/* Tensor.__getitem__ / __setitem__ */
PyObject *ds_py_getitem(TensorObject *self, PyObject *key);
int ds_py_setitem(TensorObject *self, PyObject *key, PyObject *value);
/* Buffer protocol and DLPack */
extern PyBufferProcs ds_py_buffer_procs;
PyObject *ds_py_dlpack(PyObject *self, PyObject *args, PyObject *kwargs);
PyObject *ds_py_dlpack_device(PyObject *self, PyObject *unused);
PyObject *ds_py_from_dlpack(PyObject *module, PyObject *obj);

/* Module-level methods defined in other files, collected by module.c */
extern PyMethodDef ds_py_tensor_module_methods[];

/* ---------------------------------------------------------------- graphs, plans (graph.c), capture (trace.c) */
/* dynastat._C.Graph: a graph of the IR (immutable once its outputs are set). */
typedef struct GraphObject {
    PyObject_HEAD
    ds_graph *g; /* owned; never NULL after construction */
} GraphObject;
/* dynastat._C.Plan: a plan (compiled graph) and the Graph it was made from. */
typedef struct PlanObject {
    PyObject_HEAD
    ds_plan *p;      /* owned */
    PyObject *graph; /* the GraphObject */
} PlanObject;
extern PyTypeObject DsGraph_Type, DsPlan_Type, DsTrace_Type;
/* The graph of a Graph object (borrowed); NULL with TypeError if o is not a Graph. */
ds_graph *ds_py_graph_get(PyObject *o);
/* Wraps g (steals the reference) in a new Graph object; releases g on failure. */
PyObject *ds_py_graph_wrap(ds_graph *g);
/* dynastat._C.TraceError (a RuntimeError): reading the value of a symbolic tensor. */
extern PyObject *ds_py_trace_error;
/* 0 if t's data may be read; -1 with TraceError naming `what` ("bool()") if t is symbolic. */
int ds_py_check_readable(const ds_tensor *t, const char *what);
/* Registers Graph, Plan, load_graph, parse_graph and routes print nodes to sys.stdout (graph.c). */
int ds_py_init_graph(PyObject *m);
/* Registers Trace, TraceError, tensor_is_symbolic, tensor_id, trace_active (trace.c). */
int ds_py_init_trace(PyObject *m);
#endif
