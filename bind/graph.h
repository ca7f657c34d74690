/* Private declarations of the graph binding, included only by its files: bind/graph.c (Graph, Plan,
 * load_graph / parse_graph, and the conversions declared here), bind/trace.c (Trace, TraceError) and
 * bind/trace_nodes.c (the Trace methods adding control-flow and effect nodes). What other binding files use
 * (GraphObject, PlanObject, the type objects, TraceError, ds_py_check_readable) is in bind.h. */
#ifndef DS_BIND_GRAPH_H
#define DS_BIND_GRAPH_H
#include "bind.h"

/* ---------------------------------------------------------------- conversions (graph.c) */
/* A new reference to the tensor for o (a Tensor, or anything Tensor() converts). */
static inline int to_tensor(PyObject *o, ds_tensor **out) { return ds_py_to_tensor(o, -1, out); }

/* Converts a sequence of tensor-likes; *out (PyMem) holds *n new references. */
int ds_py_to_tensors(PyObject *seq_obj, const char *what, ds_tensor ***out, int *n);
/* Releases ts[0..n) and frees ts (NULL is ignored). */
void ds_py_free_tensors(ds_tensor **ts, int n);

/* A list of Tensors wrapping ts[0..n) (steals the references, also on failure). */
PyObject *ds_py_wrap_list(ds_tensor **ts, int n);

/* A shape tuple of a graph value: ints, None (unknown) and str (symbolic dims, by name). */
PyObject *ds_py_value_shape(const ds_graph *g, const ds_value *v);

/* ---------------------------------------------------------------- the Trace object (trace.c) */
#define TRACE_NEST 32

typedef struct TraceObject {
    PyObject_HEAD
    ds_trace *t;
    PyObject *parent;   /* the parent Trace object (sub traces) */
    PyObject *known;    /* {address of a C tensor: Tensor object} bound or made here, so captures() keeps identity */
    PyObject *params;   /* list of the explicit parameter Tensors (sub traces), made once */
    ds_trace *prev[TRACE_NEST];
    int n_prev;
} TraceObject;

#define TraceObject_Check(o) PyObject_TypeCheck((o), &DsTrace_Type)

/* Records obj (a Tensor) as the object for its C tensor in this trace, so captures() keeps identity. */
int ds_py_trace_remember(TraceObject *self, PyObject *obj);

/* ---------------------------------------------------------------- methods adding nodes (trace_nodes.c) */
PyObject *ds_py_trace_add_if(TraceObject *self, PyObject *args, PyObject *kwargs);
PyObject *ds_py_trace_add_while(TraceObject *self, PyObject *args, PyObject *kwargs);
PyObject *ds_py_trace_add_call(TraceObject *self, PyObject *args, PyObject *kwargs);
PyObject *ds_py_trace_add_print(TraceObject *self, PyObject *args);
PyObject *ds_py_trace_add_assign(TraceObject *self, PyObject *args);
PyObject *ds_py_trace_rebind(TraceObject *self, PyObject *args);
#endif
