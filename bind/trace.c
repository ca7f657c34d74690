/* Graph capture from Python: dynastat._C.Trace, TraceError and tensor_is_symbolic / tensor_id / trace_active
 * (include/dynastat.h, section "graph capture").
 *
 * A Trace is a with-statement: inside it, every op that reads one of its symbolic tensors (made by
 * param(), or returned by such ops) adds a node to its graph instead of running, so library code
 * (ops, Tensor methods, nn layers) builds graphs unchanged. Sub traces for control flow come from
 * group(); their captures are the outer tensors read inside them. Symbolic tensors are instances of
 * the same Tensor class ops return; reading their data raises TraceError.
 *
 * This file owns TraceError and ds_py_check_readable, the Trace type (entering and leaving, parameters,
 * sub-trace groups, finishing, the graph, lookups) with the map from C tensors to the Tensor objects a trace
 * made or bound, and the module functions about symbolic tensors. The Trace methods adding control-flow and
 * effect nodes (add_if, add_while, add_call, add_print, add_assign, rebind) are bind/trace_nodes.c. */
#include <string.h>

#include "graph.h"
#include "ir/ir.h"

PyObject *ds_py_trace_error;

/* ---------------------------------------------------------------- TraceError */
/* "[2, None, 3]" */
static void py_shape_str(const ds_tensor *t, char *buf, size_t n) {
    size_t k = (size_t)snprintf(buf, n, "[");
    for (int i = 0; i < t->ndim && k < n; i++) {
        if (t->shape[i] < 0) k += (size_t)snprintf(buf + k, n - k, "%sNone", i ? ", " : "");
        else k += (size_t)snprintf(buf + k, n - k, "%s%lld", i ? ", " : "", (long long)t->shape[i]);
    }
    if (k < n) snprintf(buf + k, n - k, "]");
}

int ds_py_check_readable(const ds_tensor *t, const char *what) {
    if (!t->symbolic) return 0;
    char shape[DS_SHAPE_STR_MAX];
    py_shape_str(t, shape, sizeof shape);
    PyErr_Format(ds_py_trace_error,
                 "cannot read the value of a tensor while compiling a graph (%s of a %s tensor of shape %s); its value "
                 "is only known when the graph runs: compute with tensor ops instead (e.g. ops.where for a choice), or "
                 "return it from the compiled function",
                 what, ds_dtype_name(t->dtype), shape);
    return -1;
}

/* ---------------------------------------------------------------- helpers */
/* Parses a shape of ints, None (unknown) and str (symbolic dims of g). */
static int parse_dims(PyObject *o, ds_graph *g, int *ndim, int64_t *dims) {
    if (PyLong_Check(o)) {
        *ndim = 1;
        dims[0] = PyLong_AsLongLong(o);
        return PyErr_Occurred() ? -1 : 0;
    }
    PyObject *seq = PySequence_Fast(o, "shape must be a sequence of ints, None or str");
    if (!seq) return -1;
    Py_ssize_t n = PySequence_Fast_GET_SIZE(seq);
    int rc = -1;
    if (n > DS_MAX_DIMS) {
        PyErr_Format(PyExc_ValueError, "a tensor has at most %d dims, got %zd", DS_MAX_DIMS, n);
        goto done;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *d = PySequence_Fast_GET_ITEM(seq, i);
        if (d == Py_None) dims[i] = DS_DIM_UNKNOWN;
        else if (PyUnicode_Check(d)) {
            const char *name = PyUnicode_AsUTF8(d);
            ds_status st = name ? ds_graph_symbol(g, name, &dims[i]) : DS_ERR_VALUE;
            if (!name) goto done;
            if (st) {
                ds_py_raise(st);
                goto done;
            }
        } else {
            dims[i] = PyLong_AsLongLong(d);
            if (dims[i] == -1 && PyErr_Occurred()) {
                PyErr_Format(PyExc_TypeError, "shape entries must be ints, None or str, got %.100s", Py_TYPE(d)->tp_name);
                goto done;
            }
            if (dims[i] < 0) {
                PyErr_Format(PyExc_ValueError, "shape entries must be >= 0 (None for an unknown dim), got %lld", (long long)dims[i]);
                goto done;
            }
        }
    }
    *ndim = (int)n;
    rc = 0;
done:
    Py_DECREF(seq);
    return rc;
}

/* ---------------------------------------------------------------- Trace */
int ds_py_trace_remember(TraceObject *self, PyObject *obj) {
    if (!self->known && !(self->known = PyDict_New())) return -1;
    PyObject *k = PyLong_FromVoidPtr(((TensorObject *)obj)->t);
    int rc = k ? PyDict_SetItem(self->known, k, obj) : -1;
    Py_XDECREF(k);
    return rc;
}

/* The Tensor object for t: one remembered by this trace or an ancestor, else a new wrapper. */
static PyObject *object_for(TraceObject *self, ds_tensor *t) {
    PyObject *k = PyLong_FromVoidPtr(t);
    if (!k) return NULL;
    for (TraceObject *o = self; o; o = (TraceObject *)o->parent) {
        PyObject *v = o->known ? PyDict_GetItemWithError(o->known, k) : NULL;
        if (v) {
            Py_DECREF(k);
            return Py_NewRef(v);
        }
        if (PyErr_Occurred()) {
            Py_DECREF(k);
            return NULL;
        }
    }
    Py_DECREF(k);
    return ds_py_wrap(ds_tensor_retain(t));
}

static PyObject *trace_make(PyTypeObject *type, ds_trace *t, PyObject *parent) {
    TraceObject *o = (TraceObject *)type->tp_alloc(type, 0);
    if (!o) {
        ds_trace_release(t);
        return NULL;
    }
    o->t = t;
    o->parent = Py_XNewRef(parent);
    return (PyObject *)o;
}

static PyObject *trace_new(PyTypeObject *type, PyObject *args, PyObject *kwargs) {
    static char *kwlist[] = {"name", NULL};
    const char *name = "graph";
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "|s:Trace", kwlist, &name)) return NULL;
    ds_trace *t;
    ds_status st = ds_trace_new(name, &t);
    return st ? ds_py_raise(st) : trace_make(type, t, NULL);
}

static int trace_traverse(TraceObject *self, visitproc visit, void *arg) {
    Py_VISIT(self->parent);
    Py_VISIT(self->known);
    Py_VISIT(self->params);
    return 0;
}

static int trace_clear(TraceObject *self) {
    Py_CLEAR(self->parent);
    Py_CLEAR(self->known);
    Py_CLEAR(self->params);
    return 0;
}

static void trace_dealloc(TraceObject *self) {
    PyObject_GC_UnTrack(self);
    trace_clear(self);
    ds_trace_release(self->t);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyObject *trace_repr(TraceObject *self) {
    ds_graph *g = ds_trace_graph(self->t);
    return PyUnicode_FromFormat("<dynastat Trace '%s'%s%s>", ds_graph_name(g), ds_trace_parent(self->t) ? " (sub)" : "",
                                ds_trace_is_finished(self->t) ? " finished" : "");
}

static PyObject *trace_enter(TraceObject *self, PyObject *unused) {
    if (self->n_prev >= TRACE_NEST) {
        PyErr_SetString(PyExc_RuntimeError, "Trace: entered too many times without leaving");
        return NULL;
    }
    self->prev[self->n_prev++] = ds_trace_set_active(self->t);
    return Py_NewRef(self);
}

static PyObject *trace_exit(TraceObject *self, PyObject *args) {
    if (self->n_prev > 0) ds_trace_set_active(self->prev[--self->n_prev]);
    Py_RETURN_FALSE;
}

static PyObject *trace_set_loc(TraceObject *self, PyObject *args, PyObject *kwargs) {
    static char *kwlist[] = {"file", "line", "col", NULL};
    const char *file = NULL;
    int line, col = 0;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "zi|i:set_loc", kwlist, &file, &line, &col)) return NULL;
    ds_trace_set_loc(self->t, file, line, col);
    Py_RETURN_NONE;
}

static PyObject *trace_param(TraceObject *self, PyObject *args, PyObject *kwargs) {
    static char *kwlist[] = {"name", "dtype", "shape", "weight", "bind", NULL};
    const char *name;
    PyObject *dtype_o, *shape_o, *bind = Py_None;
    int weight = 0;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "sOO|pO:param", kwlist, &name, &dtype_o, &shape_o, &weight, &bind))
        return NULL;
    ds_dtype dt;
    int ndim;
    int64_t dims[DS_MAX_DIMS];
    if (ds_py_dtype_from_object(dtype_o, &dt) < 0) return NULL;
    if (parse_dims(shape_o, ds_trace_graph(self->t), &ndim, dims) < 0) return NULL;
    if (bind != Py_None && !DsTensor_Check(bind)) {
        PyErr_Format(PyExc_TypeError, "param(): bind must be a Tensor or None, got %.100s", Py_TYPE(bind)->tp_name);
        return NULL;
    }
    ds_tensor *out;
    ds_status st = ds_trace_add_param(self->t, name, dt, ndim, dims, weight, bind == Py_None ? NULL : ((TensorObject *)bind)->t, &out);
    if (st) return ds_py_raise(st);
    PyObject *o = ds_py_wrap(out);
    if (!o || ds_py_trace_remember(self, o) < 0 || (bind != Py_None && ds_py_trace_remember(self, bind) < 0)) {
        Py_XDECREF(o);
        return NULL;
    }
    return o;
}

static PyObject *trace_group(TraceObject *self, PyObject *args, PyObject *kwargs) {
    static char *kwlist[] = {"n", "params", "names", NULL};
    int n;
    PyObject *params_o = Py_None, *names_o = Py_None, *res = NULL, *pseq = NULL, *nseq = NULL;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "i|OO:group", kwlist, &n, &params_o, &names_o)) return NULL;
    if (n < 1 || n > 64) {
        PyErr_Format(PyExc_ValueError, "group(): n must be in [1, 64], got %d", n);
        return NULL;
    }
    Py_ssize_t np = 0;
    if (params_o != Py_None) {
        if (!(pseq = PySequence_Fast(params_o, "group(): params must be a list of (name, dtype, shape)"))) return NULL;
        np = PySequence_Fast_GET_SIZE(pseq);
    }
    if (names_o != Py_None) {
        if (!(nseq = PySequence_Fast(names_o, "group(): names must be a list of str")) || PySequence_Fast_GET_SIZE(nseq) != n) {
            if (nseq) PyErr_Format(PyExc_ValueError, "group(): %d names given for %d sub traces", (int)PySequence_Fast_GET_SIZE(nseq), n);
            goto done;
        }
    }
    ds_trace_param_type *ps = PyMem_Calloc((size_t)np + 1, sizeof(ds_trace_param_type));
    int64_t(*dims)[DS_MAX_DIMS] = PyMem_Calloc((size_t)np + 1, sizeof(int64_t[DS_MAX_DIMS]));
    const char *names[64];
    ds_trace *subs[64];
    if (!ps || !dims) {
        PyErr_NoMemory();
        goto free;
    }
    for (Py_ssize_t i = 0; i < np; i++) {
        PyObject *item = PySequence_Fast_GET_ITEM(pseq, i), *dt_o, *shape_o;
        const char *pname;
        if (PyTuple_Check(item) && PyTuple_GET_SIZE(item) == 2 && DsTensor_Check(PyTuple_GET_ITEM(item, 1))) {
            /* (name, tensor): the type of the value the tensor has here, symbolic dims included */
            if (!(pname = PyUnicode_AsUTF8(PyTuple_GET_ITEM(item, 0)))) goto free;
            ds_tensor *x = ((TensorObject *)PyTuple_GET_ITEM(item, 1))->t;
            const ds_value *v = ds_trace_lookup(self->t, x);
            ps[i].name = pname;
            ps[i].dtype = v ? v->type.dtype : x->dtype;
            ps[i].ndim = v ? v->type.ndim : x->ndim;
            for (int d = 0; d < ps[i].ndim; d++) dims[i][d] = v ? v->type.shape[d] : x->shape[d];
            ps[i].dims = dims[i];
            continue;
        }
        if (!PyTuple_Check(item) || !PyArg_ParseTuple(item, "sOO", &pname, &dt_o, &shape_o)) {
            if (!PyErr_Occurred() || PyErr_ExceptionMatches(PyExc_TypeError)) {
                PyErr_Clear();
                PyErr_Format(PyExc_TypeError, "group(): params[%zd] must be a tuple (name, dtype, shape) or (name, tensor)", i);
            }
            goto free;
        }
        ps[i].name = pname;
        if (ds_py_dtype_from_object(dt_o, &ps[i].dtype) < 0) goto free;
        if (parse_dims(shape_o, ds_trace_graph(self->t), &ps[i].ndim, dims[i]) < 0) goto free;
        ps[i].dims = dims[i];
    }
    for (int i = 0; i < n; i++) {
        names[i] = NULL;
        if (nseq && !(names[i] = PyUnicode_AsUTF8(PySequence_Fast_GET_ITEM(nseq, i)))) goto free;
    }
    ds_status st = ds_trace_new_group(self->t, n, names, (int)np, ps, subs);
    if (st) {
        ds_py_raise(st);
        goto free;
    }
    res = PyList_New(n);
    for (int i = 0; i < n; i++) {
        PyObject *o = res ? trace_make(Py_TYPE(self), subs[i], (PyObject *)self) : (ds_trace_release(subs[i]), NULL);
        if (res && !o) Py_CLEAR(res);
        if (res) PyList_SET_ITEM(res, i, o);
    }
free:
    PyMem_Free(ps);
    PyMem_Free(dims);
done:
    Py_XDECREF(pseq);
    Py_XDECREF(nseq);
    return res;
}

static PyObject *trace_params(TraceObject *self, PyObject *unused) {
    if (!self->params) {
        int n = ds_trace_num_params(self->t);
        PyObject *l = PyList_New(n);
        for (int i = 0; l && i < n; i++) {
            PyObject *o = ds_py_wrap(ds_tensor_retain(ds_trace_param(self->t, i)));
            if (!o || ds_py_trace_remember(self, o) < 0) {
                Py_XDECREF(o);
                Py_CLEAR(l);
                break;
            }
            PyList_SET_ITEM(l, i, o);
        }
        if (!l) return NULL;
        self->params = l;
    }
    return PyList_GetSlice(self->params, 0, PyList_GET_SIZE(self->params));
}

static PyObject *trace_captures(TraceObject *self, PyObject *unused) {
    int n = ds_trace_num_captures(self->t);
    PyObject *l = PyList_New(n), *parent = self->parent;
    for (int i = 0; l && i < n; i++) {
        PyObject *o = object_for(parent ? (TraceObject *)parent : self, ds_trace_capture(self->t, i));
        if (!o) Py_CLEAR(l);
        else PyList_SET_ITEM(l, i, o);
    }
    return l;
}

static PyObject *trace_finish(TraceObject *self, PyObject *outputs) {
    ds_tensor **outs = NULL;
    int n = 0;
    if (ds_py_to_tensors(outputs, "finish(): outputs", &outs, &n) < 0) return NULL;
    bool root = ds_trace_parent(self->t) == NULL;
    ds_graph *g = NULL;
    ds_status st = ds_trace_finish(self->t, n, outs, root ? &g : NULL);
    ds_py_free_tensors(outs, n);
    if (st) return ds_py_raise(st);
    if (!root) Py_RETURN_NONE;
    return ds_py_graph_wrap(g);
}

static PyObject *trace_graph(TraceObject *self, PyObject *unused) {
    ds_graph *g;
    if (ds_trace_parent(self->t) && !ds_trace_is_finished(self->t)) /* the graph so far (open) */
        return ds_py_graph_wrap(ds_graph_retain(ds_trace_graph(self->t)));
    ds_status st = ds_trace_get_graph(self->t, &g);
    return st ? ds_py_raise(st) : ds_py_graph_wrap(g);
}

static PyObject *trace_is_symbolic(TraceObject *self, PyObject *x) {
    if (!DsTensor_Check(x)) Py_RETURN_FALSE;
    return PyBool_FromLong(ds_trace_lookup(self->t, ((TensorObject *)x)->t) != NULL);
}

static PyObject *trace_lookup(TraceObject *self, PyObject *x) {
    if (!DsTensor_Check(x)) Py_RETURN_NONE;
    ds_value *v = ds_trace_lookup(self->t, ((TensorObject *)x)->t);
    if (!v) Py_RETURN_NONE;
    const ds_trace *owner = self->t; /* the trace whose graph v belongs to (for symbol names) */
    while (ds_trace_parent(owner) && ds_trace_lookup(ds_trace_parent(owner), ((TensorObject *)x)->t) == v)
        owner = ds_trace_parent(owner);
    PyObject *shape = ds_py_value_shape(ds_trace_graph(owner), v);
    if (!shape) return NULL;
    PyObject *param = v->producer ? Py_NewRef(Py_None) : PyLong_FromLong(v->index);
    return Py_BuildValue("(ONN)", ds_py_dtype(v->type.dtype), shape, param);
}

static PyObject *trace_get_name(TraceObject *self, void *c) { return PyUnicode_FromString(ds_graph_name(ds_trace_graph(self->t))); }
static PyObject *trace_get_finished(TraceObject *self, void *c) { return PyBool_FromLong(ds_trace_is_finished(self->t)); }
static PyObject *trace_get_parent(TraceObject *self, void *c) { return Py_NewRef(self->parent ? self->parent : Py_None); }

static PyMethodDef trace_methods[] = {
    {"__enter__", (PyCFunction)trace_enter, METH_NOARGS, "Makes this the thread's active trace."},
    {"__exit__", (PyCFunction)trace_exit, METH_VARARGS, "Restores the trace active before __enter__."},
    {"set_loc", (PyCFunction)(void (*)(void))trace_set_loc, METH_VARARGS | METH_KEYWORDS,
     "set_loc(file, line, col=0): source location of the nodes added from now on."},
    {"param", (PyCFunction)(void (*)(void))trace_param, METH_VARARGS | METH_KEYWORDS,
     "param(name, dtype, shape, weight=False, bind=None) -> Tensor: a graph parameter (root traces). Shape items: "
     "int, None (unknown) or str (a named symbolic dim). A concrete Tensor `bind` is mapped to the parameter."},
    {"group", (PyCFunction)(void (*)(void))trace_group, METH_VARARGS | METH_KEYWORDS,
     "group(n, params=(), names=None) -> list of n sibling sub traces with the explicit parameters "
     "params = [(name, dtype, shape) or (name, tensor), ...] (a tensor gives the type of its value in this trace, "
     "symbolic dims included: use it for loop-carried values)."},
    {"params", (PyCFunction)trace_params, METH_NOARGS, "The symbolic Tensors of a sub trace's explicit parameters."},
    {"captures", (PyCFunction)trace_captures, METH_NOARGS,
     "The outer Tensors the sub trace's group captured, in parameter order (after the explicit ones)."},
    {"finish", (PyCFunction)trace_finish, METH_O,
     "finish(outputs): ends the trace; a root trace returns its Graph, a sub trace None."},
    {"graph", (PyCFunction)trace_graph, METH_NOARGS,
     "The graph: for a finished sub trace, its group is closed first (all siblings finished)."},
    {"add_if", (PyCFunction)(void (*)(void))ds_py_trace_add_if, METH_VARARGS | METH_KEYWORDS,
     "add_if(cond, then_sub, else_sub, args=()) -> list of Tensors."},
    {"add_while", (PyCFunction)(void (*)(void))ds_py_trace_add_while, METH_VARARGS | METH_KEYWORDS,
     "add_while(cond_sub, body_sub, init) -> list of Tensors (the final loop-carried values)."},
    {"add_call", (PyCFunction)(void (*)(void))ds_py_trace_add_call, METH_VARARGS | METH_KEYWORDS,
     "add_call(sub, args, graph=None, extra=()) -> list of Tensors: calls graph (default: sub's) with args, the "
     "captures, then extra."},
    {"add_print", (PyCFunction)ds_py_trace_add_print, METH_VARARGS, "add_print(prefix, tensors)."},
    {"add_assign", (PyCFunction)ds_py_trace_add_assign, METH_VARARGS, "add_assign(target, value): writes a weight parameter."},
    {"rebind", (PyCFunction)ds_py_trace_rebind, METH_VARARGS, "rebind(x, value): x reads value's graph value from now on."},
    {"is_symbolic", (PyCFunction)trace_is_symbolic, METH_O, "Whether x maps to a value in this trace or an ancestor."},
    {"lookup", (PyCFunction)trace_lookup, METH_O,
     "lookup(x) -> (dtype, shape, param_index or None) of the value x maps to, or None."},
    {NULL},
};

static PyGetSetDef trace_getset[] = {
    {"name", (getter)trace_get_name, NULL, "the graph's name", NULL},
    {"finished", (getter)trace_get_finished, NULL, NULL, NULL},
    {"parent", (getter)trace_get_parent, NULL, "the parent Trace (None for a root)", NULL},
    {NULL},
};

PyTypeObject DsTrace_Type = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "dynastat._C.Trace",
    .tp_basicsize = sizeof(TraceObject),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC,
    .tp_doc = "Trace(name='graph'): captures the ops run on its symbolic tensors as a graph (use it in a with block).",
    .tp_new = trace_new,
    .tp_dealloc = (destructor)trace_dealloc,
    .tp_traverse = (traverseproc)trace_traverse,
    .tp_clear = (inquiry)trace_clear,
    .tp_repr = (reprfunc)trace_repr,
    .tp_methods = trace_methods,
    .tp_getset = trace_getset,
};

/* ---------------------------------------------------------------- module */
static PyObject *tensor_is_symbolic(PyObject *m, PyObject *x) {
    return PyBool_FromLong(DsTensor_Check(x) && ((TensorObject *)x)->t->symbolic);
}

static PyObject *tensor_id(PyObject *m, PyObject *x) {
    if (!DsTensor_Check(x)) {
        PyErr_Format(PyExc_TypeError, "tensor_id(): expected a Tensor, got %.100s", Py_TYPE(x)->tp_name);
        return NULL;
    }
    return PyLong_FromVoidPtr(((TensorObject *)x)->t);
}

static PyObject *trace_active(PyObject *m, PyObject *unused) { return PyBool_FromLong(ds_trace_active() != NULL); }

static PyMethodDef trace_module_methods[] = {
    {"tensor_is_symbolic", tensor_is_symbolic, METH_O, "Whether x is a symbolic tensor (made while compiling a graph)."},
    {"tensor_id", tensor_id, METH_O, "The address of x's C tensor (equal for Tensor objects over the same tensor)."},
    {"trace_active", trace_active, METH_NOARGS, "Whether a Trace is active on this thread."},
    {NULL},
};

int ds_py_init_trace(PyObject *m) {
    if (PyType_Ready(&DsTrace_Type) < 0) return -1;
    if (PyModule_AddObjectRef(m, "Trace", (PyObject *)&DsTrace_Type) < 0) return -1;
    ds_py_trace_error = PyErr_NewExceptionWithDoc("dynastat.TraceError",
                                                  "The value of a symbolic tensor was read while compiling a graph (a "
                                                  "RuntimeError).", PyExc_RuntimeError, NULL);
    if (!ds_py_trace_error || PyModule_AddObjectRef(m, "TraceError", ds_py_trace_error) < 0) return -1;
    if (PyModule_AddFunctions(m, trace_module_methods) < 0) return -1;
    return 0;
}
