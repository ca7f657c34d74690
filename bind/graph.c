/* Graphs, plans and graph capture from Python: dynastat._C.Graph, Plan, Trace, TraceError and
 * load_graph / parse_graph (include/dynastat.h, sections "graph IR", "executor", "graph capture").
 *
 * A Trace is a with-statement: inside it, every op that reads one of its symbolic tensors (made by
 * param(), or returned by such ops) adds a node to its graph instead of running, so library code
 * (ops, Tensor methods, nn layers) builds graphs unchanged. Sub traces for control flow come from
 * group(); their captures are the outer tensors read inside them. Symbolic tensors are instances of
 * the same Tensor class ops return; reading their data raises TraceError. */
#include <string.h>

#include "bind.h"
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
/* A new reference to the tensor for o (a Tensor, or anything Tensor() converts). */
static int to_tensor(PyObject *o, ds_tensor **out) { return ds_py_to_tensor(o, -1, out); }

/* Converts a sequence of tensor-likes; *out (PyMem) holds *n new references. */
static int to_tensors(PyObject *seq_obj, const char *what, ds_tensor ***out, int *n) {
    PyObject *seq = PySequence_Fast(seq_obj, "");
    if (!seq) {
        PyErr_Format(PyExc_TypeError, "%s must be a list or tuple of tensors, got %.100s", what, Py_TYPE(seq_obj)->tp_name);
        return -1;
    }
    Py_ssize_t len = PySequence_Fast_GET_SIZE(seq);
    ds_tensor **ts = PyMem_Calloc((size_t)len + 1, sizeof(ds_tensor *));
    if (!ts) {
        Py_DECREF(seq);
        PyErr_NoMemory();
        return -1;
    }
    for (Py_ssize_t i = 0; i < len; i++)
        if (to_tensor(PySequence_Fast_GET_ITEM(seq, i), &ts[i]) < 0) {
            for (Py_ssize_t k = 0; k < i; k++) ds_tensor_release(ts[k]);
            PyMem_Free(ts);
            Py_DECREF(seq);
            return -1;
        }
    Py_DECREF(seq);
    *out = ts;
    *n = (int)len;
    return 0;
}

static void free_tensors(ds_tensor **ts, int n) {
    if (!ts) return;
    for (int i = 0; i < n; i++) ds_tensor_release(ts[i]);
    PyMem_Free(ts);
}

/* A list of Tensors wrapping ts[0..n) (steals the references, also on failure). */
static PyObject *wrap_list(ds_tensor **ts, int n) {
    PyObject *l = PyList_New(n);
    for (int i = 0; i < n; i++) {
        PyObject *o = l ? ds_py_wrap(ts[i]) : (ds_tensor_release(ts[i]), NULL);
        if (l && !o) Py_CLEAR(l);
        if (l) PyList_SET_ITEM(l, i, o);
    }
    return l;
}

/* A shape tuple of a graph value: ints, None (unknown) and str (symbolic dims, by name). */
static PyObject *value_shape(const ds_graph *g, const ds_value *v) {
    PyObject *t = PyTuple_New(v->type.ndim);
    for (int d = 0; t && d < v->type.ndim; d++) {
        int64_t x = v->type.shape[d];
        PyObject *o;
        if (x >= 0) o = PyLong_FromLongLong(x);
        else if (DS_DIM_IS_SYM(x) && DS_DIM_SYM_INDEX(x) < g->symbols.n)
            o = PyUnicode_FromString(g->symbols.items[DS_DIM_SYM_INDEX(x)]);
        else o = Py_NewRef(Py_None);
        if (!o) Py_CLEAR(t);
        else PyTuple_SET_ITEM(t, d, o);
    }
    return t;
}

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

/* ---------------------------------------------------------------- Graph */
ds_graph *ds_py_graph_get(PyObject *o) {
    if (!o || !PyObject_TypeCheck(o, &DsGraph_Type)) {
        PyErr_Format(PyExc_TypeError, "expected a dynastat._C.Graph, got %.100s", o ? Py_TYPE(o)->tp_name : "NULL");
        return NULL;
    }
    return ((GraphObject *)o)->g;
}

PyObject *ds_py_graph_wrap(ds_graph *g) {
    GraphObject *o = PyObject_New(GraphObject, &DsGraph_Type);
    if (!o) {
        ds_graph_release(g);
        return NULL;
    }
    o->g = g;
    return (PyObject *)o;
}

static void graph_dealloc(GraphObject *self) {
    ds_graph_release(self->g);
    PyObject_Free(self);
}

static PyObject *graph_text(GraphObject *self, PyObject *unused) {
    char *s;
    ds_status st = ds_graph_print(self->g, &s);
    if (st) return ds_py_raise(st);
    PyObject *r = PyUnicode_FromString(s);
    ds_free(s);
    return r;
}

static PyObject *graph_dot(GraphObject *self, PyObject *unused) {
    char *s;
    ds_status st = ds_graph_print_dot(self->g, &s);
    if (st) return ds_py_raise(st);
    PyObject *r = PyUnicode_FromString(s);
    ds_free(s);
    return r;
}

static PyObject *graph_str(GraphObject *self) { return graph_text(self, NULL); }

static PyObject *graph_repr(GraphObject *self) {
    return PyUnicode_FromFormat("<dynastat Graph '%s': %d parameters, %d outputs, %d nodes%s>", self->g->name,
                                self->g->params.n, self->g->outputs.n, self->g->nodes.n, self->g->closed ? "" : ", open");
}

static PyObject *graph_optimize(GraphObject *self, PyObject *unused) {
    ds_graph *g;
    ds_status st = ds_graph_optimize(self->g, &g);
    return st ? ds_py_raise(st) : ds_py_graph_wrap(g);
}

static PyObject *graph_run_pass(GraphObject *self, PyObject *name) {
    const char *n = PyUnicode_AsUTF8(name);
    if (!n) return NULL;
    ds_graph *g;
    ds_status st = ds_graph_run_pass(self->g, n, &g);
    return st ? ds_py_raise(st) : ds_py_graph_wrap(g);
}

static PyObject *graph_verify(GraphObject *self, PyObject *unused) {
    ds_status st = ds_graph_verify(self->g);
    if (st) return ds_py_raise(st);
    Py_RETURN_NONE;
}

/* A list of ints (or None: 0..n) into a PyMem array. */
static int int_list(PyObject *o, int n_all, const char *what, int **out, int *n) {
    if (o == Py_None) {
        int *v = PyMem_Malloc(sizeof(int) * (size_t)(n_all + 1));
        if (!v) {
            PyErr_NoMemory();
            return -1;
        }
        for (int i = 0; i < n_all; i++) v[i] = i;
        *out = v;
        *n = n_all;
        return 0;
    }
    PyObject *seq = PySequence_Fast(o, "");
    if (!seq) {
        PyErr_Format(PyExc_TypeError, "%s must be a list of ints or None", what);
        return -1;
    }
    Py_ssize_t len = PySequence_Fast_GET_SIZE(seq);
    int *v = PyMem_Malloc(sizeof(int) * (size_t)(len + 1));
    if (!v) {
        Py_DECREF(seq);
        PyErr_NoMemory();
        return -1;
    }
    for (Py_ssize_t i = 0; i < len; i++) {
        long x = PyLong_AsLong(PySequence_Fast_GET_ITEM(seq, i));
        if (x == -1 && PyErr_Occurred()) {
            PyErr_Format(PyExc_TypeError, "%s must be a list of ints", what);
            PyMem_Free(v);
            Py_DECREF(seq);
            return -1;
        }
        v[i] = (int)x;
    }
    Py_DECREF(seq);
    *out = v;
    *n = (int)len;
    return 0;
}

static PyObject *graph_grad(GraphObject *self, PyObject *args, PyObject *kwargs) {
    static char *kwlist[] = {"outputs", "wrt", "sens_param", NULL};
    PyObject *outs_o = Py_None, *wrt_o = Py_None;
    int sens = 0;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "|OOp:grad", kwlist, &outs_o, &wrt_o, &sens)) return NULL;
    int *outs = NULL, *wrt = NULL, n_out = 0, n_wrt = 0;
    PyObject *res = NULL;
    if (int_list(outs_o, self->g->outputs.n, "outputs", &outs, &n_out) < 0) return NULL;
    if (wrt_o == Py_None) { /* every float parameter */
        wrt = PyMem_Malloc(sizeof(int) * (size_t)(self->g->params.n + 1));
        if (!wrt) {
            PyErr_NoMemory();
            goto done;
        }
        for (int i = 0; i < self->g->params.n; i++)
            if (ds_dtype_is_float(((ds_value *)self->g->params.items[i])->type.dtype)) wrt[n_wrt++] = i;
    } else if (int_list(wrt_o, 0, "wrt", &wrt, &n_wrt) < 0) goto done;
    ds_graph *g;
    ds_status st = ds_graph_grad(self->g, n_out, outs, n_wrt, wrt, sens, &g);
    res = st ? ds_py_raise(st) : ds_py_graph_wrap(g);
done:
    PyMem_Free(outs);
    PyMem_Free(wrt);
    return res;
}

static int check_index(int i, int n, const char *what) {
    if (i < 0 || i >= n) {
        PyErr_Format(PyExc_IndexError, "%s index %d out of range (the graph has %d)", what, i, n);
        return -1;
    }
    return 0;
}

static PyObject *graph_param_info(GraphObject *self, PyObject *arg) {
    long i = PyLong_AsLong(arg);
    if ((i == -1 && PyErr_Occurred()) || check_index((int)i, self->g->params.n, "parameter") < 0) return NULL;
    const ds_value *v = self->g->params.items[i];
    PyObject *shape = value_shape(self->g, v);
    if (!shape) return NULL;
    return Py_BuildValue("(sONO)", v->name ? v->name : "", ds_py_dtype(v->type.dtype), shape, v->weight ? Py_True : Py_False);
}

static PyObject *graph_output_info(GraphObject *self, PyObject *arg) {
    long i = PyLong_AsLong(arg);
    if ((i == -1 && PyErr_Occurred()) || check_index((int)i, self->g->outputs.n, "output") < 0) return NULL;
    const ds_value *v = self->g->outputs.items[i];
    PyObject *shape = value_shape(self->g, v);
    if (!shape) return NULL;
    return Py_BuildValue("(ON)", ds_py_dtype(v->type.dtype), shape);
}

static PyObject *graph_save(GraphObject *self, PyObject *path) {
    PyObject *b = NULL;
    if (!PyUnicode_FSConverter(path, &b)) return NULL;
    ds_status st = ds_graph_save(self->g, PyBytes_AS_STRING(b));
    Py_DECREF(b);
    if (st) return ds_py_raise(st);
    Py_RETURN_NONE;
}

static PyObject *graph_eval(GraphObject *self, PyObject *inputs) {
    ds_tensor **in = NULL, **out = NULL;
    int n_in = 0, n_out = 0;
    if (to_tensors(inputs, "Graph.eval(): inputs", &in, &n_in) < 0) return NULL;
    int max_out = self->g->outputs.n;
    out = PyMem_Calloc((size_t)max_out + 1, sizeof(ds_tensor *));
    PyObject *res = NULL;
    if (!out) res = PyErr_NoMemory();
    else {
        ds_status st = ds_graph_eval(self->g, n_in, in, max_out, out, &n_out);
        res = st ? ds_py_raise(st) : wrap_list(out, n_out);
    }
    free_tensors(in, n_in);
    PyMem_Free(out);
    return res;
}

static PyObject *graph_get_name(GraphObject *self, void *c) { return PyUnicode_FromString(self->g->name); }
static PyObject *graph_get_num_params(GraphObject *self, void *c) { return PyLong_FromLong(self->g->params.n); }
static PyObject *graph_get_num_outputs(GraphObject *self, void *c) { return PyLong_FromLong(self->g->outputs.n); }
static PyObject *graph_get_num_nodes(GraphObject *self, void *c) { return PyLong_FromLong(self->g->nodes.n); }
static PyObject *graph_get_closed(GraphObject *self, void *c) { return PyBool_FromLong(self->g->closed); }

static PyMethodDef graph_methods[] = {
    {"text", (PyCFunction)graph_text, METH_NOARGS, "The graph as text (ds_graph_print)."},
    {"dot", (PyCFunction)graph_dot, METH_NOARGS, "The graph as Graphviz text (ds_graph_print_dot)."},
    {"optimize", (PyCFunction)graph_optimize, METH_NOARGS, "A new graph after the optimization passes."},
    {"run_pass", (PyCFunction)graph_run_pass, METH_O, "run_pass(name): a new graph after one pass (inline, simplify, fold, cse, dce)."},
    {"verify", (PyCFunction)graph_verify, METH_NOARGS, "Checks the graph's invariants (RuntimeError if broken)."},
    {"grad", (PyCFunction)(void (*)(void))graph_grad, METH_VARARGS | METH_KEYWORDS,
     "grad(outputs=None, wrt=None, sens_param=False) -> Graph: the gradient graph (ds_graph_grad): parameters "
     "are this graph's (then one sensitivity per selected output with sens_param), outputs are this graph's "
     "followed by the gradients with respect to parameters wrt (None: every float parameter)."},
    {"param_info", (PyCFunction)graph_param_info, METH_O, "param_info(i) -> (name, dtype, shape, weight)."},
    {"output_info", (PyCFunction)graph_output_info, METH_O, "output_info(i) -> (dtype, shape)."},
    {"save", (PyCFunction)graph_save, METH_O, "save(path): the binary graph file format."},
    {"eval", (PyCFunction)graph_eval, METH_O, "eval(inputs) -> list of Tensors (the reference interpreter)."},
    {NULL},
};

static PyGetSetDef graph_getset[] = {
    {"name", (getter)graph_get_name, NULL, NULL, NULL},
    {"num_params", (getter)graph_get_num_params, NULL, NULL, NULL},
    {"num_outputs", (getter)graph_get_num_outputs, NULL, NULL, NULL},
    {"num_nodes", (getter)graph_get_num_nodes, NULL, NULL, NULL},
    {"closed", (getter)graph_get_closed, NULL, "whether its outputs are set", NULL},
    {NULL},
};

PyTypeObject DsGraph_Type = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "dynastat._C.Graph",
    .tp_basicsize = sizeof(GraphObject),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "A graph of the IR (from Trace.finish, load_graph, parse_graph, or a Graph method).",
    .tp_dealloc = (destructor)graph_dealloc,
    .tp_repr = (reprfunc)graph_repr,
    .tp_str = (reprfunc)graph_str,
    .tp_methods = graph_methods,
    .tp_getset = graph_getset,
};

static PyObject *load_graph(PyObject *m, PyObject *path) {
    PyObject *b = NULL;
    if (!PyUnicode_FSConverter(path, &b)) return NULL;
    ds_graph *g;
    ds_status st = ds_graph_load(PyBytes_AS_STRING(b), &g);
    Py_DECREF(b);
    return st ? ds_py_raise(st) : ds_py_graph_wrap(g);
}

static PyObject *parse_graph(PyObject *m, PyObject *text) {
    const char *s = PyUnicode_AsUTF8(text);
    if (!s) return NULL;
    ds_graph *g;
    ds_status st = ds_graph_parse(s, &g);
    return st ? ds_py_raise(st) : ds_py_graph_wrap(g);
}

/* ---------------------------------------------------------------- Plan */
static PyObject *plan_new(PyTypeObject *type, PyObject *args, PyObject *kwargs) {
    static char *kwlist[] = {"graph", NULL};
    PyObject *go;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "O:Plan", kwlist, &go)) return NULL;
    ds_graph *g = ds_py_graph_get(go);
    if (!g) return NULL;
    ds_plan *p;
    ds_status st = ds_plan_new(g, &p);
    if (st) return ds_py_raise(st);
    PlanObject *o = (PlanObject *)type->tp_alloc(type, 0);
    if (!o) {
        ds_plan_release(p);
        return NULL;
    }
    o->p = p;
    o->graph = Py_NewRef(go);
    return (PyObject *)o;
}

static void plan_dealloc(PlanObject *self) {
    ds_plan_release(self->p);
    Py_XDECREF(self->graph);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

#define PLAN_STACK 16

/* Converts the inputs of a run: Tensors are passed as they are (so weights are updated in place). */
static int plan_inputs(PyObject *inputs, ds_tensor **stack, ds_tensor ***in, int *n) {
    PyObject *seq = PySequence_Fast(inputs, "");
    if (!seq) {
        PyErr_Format(PyExc_TypeError, "Plan.run(): inputs must be a list or tuple, got %.100s", Py_TYPE(inputs)->tp_name);
        return -1;
    }
    Py_ssize_t len = PySequence_Fast_GET_SIZE(seq);
    ds_tensor **ts = len <= PLAN_STACK ? stack : PyMem_Calloc((size_t)len, sizeof(ds_tensor *));
    if (!ts) {
        Py_DECREF(seq);
        PyErr_NoMemory();
        return -1;
    }
    for (Py_ssize_t i = 0; i < len; i++) {
        PyObject *o = PySequence_Fast_GET_ITEM(seq, i);
        if (DsTensor_Check(o)) ts[i] = ds_tensor_retain(((TensorObject *)o)->t);
        else if (to_tensor(o, &ts[i]) < 0) {
            for (Py_ssize_t k = 0; k < i; k++) ds_tensor_release(ts[k]);
            if (ts != stack) PyMem_Free(ts);
            Py_DECREF(seq);
            return -1;
        }
    }
    Py_DECREF(seq);
    *in = ts;
    *n = (int)len;
    return 0;
}

static void plan_inputs_free(ds_tensor **stack, ds_tensor **in, int n) {
    for (int i = 0; i < n; i++) ds_tensor_release(in[i]);
    if (in != stack) PyMem_Free(in);
}

static PyObject *plan_run(PlanObject *self, PyObject *const *args, Py_ssize_t nargs) {
    if (nargs != 1) {
        PyErr_Format(PyExc_TypeError, "Plan.run() takes one argument (the list of inputs), got %zd", nargs);
        return NULL;
    }
    ds_tensor *stack[PLAN_STACK], **in, *out_stack[PLAN_STACK], **out = out_stack;
    int n_in, n_out = 0, max_out = ds_graph_num_outputs(ds_py_graph_get(self->graph));
    if (plan_inputs(args[0], stack, &in, &n_in) < 0) return NULL;
    if (max_out > PLAN_STACK && !(out = PyMem_Calloc((size_t)max_out, sizeof(ds_tensor *)))) {
        plan_inputs_free(stack, in, n_in);
        return PyErr_NoMemory();
    }
    ds_status st = ds_plan_run(self->p, n_in, in, max_out, out, &n_out);
    plan_inputs_free(stack, in, n_in);
    PyObject *res = st ? ds_py_raise(st) : wrap_list(out, n_out);
    if (out != out_stack) PyMem_Free(out);
    return res;
}

static PyObject *plan_compile(PlanObject *self, PyObject *inputs) {
    ds_tensor *stack[PLAN_STACK], **in;
    int n_in;
    if (plan_inputs(inputs, stack, &in, &n_in) < 0) return NULL;
    ds_status st = ds_plan_compile(self->p, n_in, in);
    plan_inputs_free(stack, in, n_in);
    if (st) return ds_py_raise(st);
    Py_RETURN_NONE;
}

static PyObject *plan_stats(PlanObject *self, PyObject *unused) {
    ds_plan_statistics s;
    ds_plan_stats(self->p, &s);
    return Py_BuildValue("{s:L,s:L,s:L,s:i,s:i,s:i,s:i,s:i,s:i,s:i,s:i,s:i,s:L,s:L,s:d}", "arena_bytes",
                         (long long)s.arena_bytes, "value_bytes", (long long)s.value_bytes, "scratch_bytes",
                         (long long)s.scratch_bytes, "n_steps", s.n_steps, "n_kernels", s.n_kernels, "n_groups", s.n_groups,
                         "n_fused_groups", s.n_fused_groups, "n_fused_ops", s.n_fused_ops, "n_views", s.n_views, "n_inplace",
                         s.n_inplace, "n_dynamic", s.n_dynamic, "n_variants", s.n_variants, "n_compiles",
                         (long long)s.n_compiles, "n_runs", (long long)s.n_runs, "compile_ms", s.compile_ms);
}

static PyObject *plan_get_graph(PlanObject *self, void *c) { return Py_NewRef(self->graph); }

static PyMethodDef plan_methods[] = {
    {"run", (PyCFunction)(void (*)(void))plan_run, METH_FASTCALL,
     "run(inputs) -> list of Tensors: inputs[i] binds parameter i (Tensors are used in place: weights written by the "
     "graph are updated)."},
    {"compile", (PyCFunction)plan_compile, METH_O, "compile(inputs): compiles the variant for these input shapes."},
    {"stats", (PyCFunction)plan_stats, METH_NOARGS, "Statistics of the plan (ds_plan_statistics) as a dict."},
    {NULL},
};

static PyGetSetDef plan_getset[] = {
    {"graph", (getter)plan_get_graph, NULL, "the Graph", NULL},
    {NULL},
};

PyTypeObject DsPlan_Type = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "dynastat._C.Plan",
    .tp_basicsize = sizeof(PlanObject),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "Plan(graph): the graph compiled for execution (one variant per input-shape signature).",
    .tp_new = plan_new,
    .tp_dealloc = (destructor)plan_dealloc,
    .tp_methods = plan_methods,
    .tp_getset = plan_getset,
};

/* ---------------------------------------------------------------- Trace */
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

static int remember(TraceObject *self, PyObject *obj) {
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
    if (!o || remember(self, o) < 0 || (bind != Py_None && remember(self, bind) < 0)) {
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
            if (!o || remember(self, o) < 0) {
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
    if (to_tensors(outputs, "finish(): outputs", &outs, &n) < 0) return NULL;
    bool root = ds_trace_parent(self->t) == NULL;
    ds_graph *g = NULL;
    ds_status st = ds_trace_finish(self->t, n, outs, root ? &g : NULL);
    free_tensors(outs, n);
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

static ds_trace *sub_arg(PyObject *o, const char *what) {
    if (!TraceObject_Check(o)) {
        PyErr_Format(PyExc_TypeError, "%s must be a Trace (from group()), got %.100s", what, Py_TYPE(o)->tp_name);
        return NULL;
    }
    return ((TraceObject *)o)->t;
}

#define MAX_RESULTS 64

static PyObject *trace_add_if(TraceObject *self, PyObject *args, PyObject *kwargs) {
    static char *kwlist[] = {"cond", "then_sub", "else_sub", "args", NULL};
    PyObject *cond_o, *then_o, *else_o, *args_o = Py_None;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "OOO|O:add_if", kwlist, &cond_o, &then_o, &else_o, &args_o)) return NULL;
    ds_trace *ts = sub_arg(then_o, "add_if(): then_sub"), *es = ts ? sub_arg(else_o, "add_if(): else_sub") : NULL;
    if (!es) return NULL;
    ds_tensor *cond, **a = NULL, *res[MAX_RESULTS];
    int na = 0, nres = 0;
    if (to_tensor(cond_o, &cond) < 0) return NULL;
    if (args_o != Py_None && to_tensors(args_o, "add_if(): args", &a, &na) < 0) {
        ds_tensor_release(cond);
        return NULL;
    }
    ds_status st = ds_trace_add_if(self->t, cond, ts, es, na, a, MAX_RESULTS, res, &nres);
    ds_tensor_release(cond);
    free_tensors(a, na);
    return st ? ds_py_raise(st) : wrap_list(res, nres);
}

static PyObject *trace_add_while(TraceObject *self, PyObject *args, PyObject *kwargs) {
    static char *kwlist[] = {"cond_sub", "body_sub", "init", NULL};
    PyObject *cond_o, *body_o, *init_o;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "OOO:add_while", kwlist, &cond_o, &body_o, &init_o)) return NULL;
    ds_trace *cs = sub_arg(cond_o, "add_while(): cond_sub"), *bs = cs ? sub_arg(body_o, "add_while(): body_sub") : NULL;
    if (!bs) return NULL;
    ds_tensor **init = NULL, **res = NULL;
    int n = 0;
    if (to_tensors(init_o, "add_while(): init", &init, &n) < 0) return NULL;
    if (!(res = PyMem_Calloc((size_t)n + 1, sizeof(ds_tensor *)))) {
        free_tensors(init, n);
        return PyErr_NoMemory();
    }
    ds_status st = ds_trace_add_while(self->t, cs, bs, n, init, res);
    free_tensors(init, n);
    PyObject *r = st ? ds_py_raise(st) : wrap_list(res, n);
    PyMem_Free(res);
    return r;
}

static PyObject *trace_add_call(TraceObject *self, PyObject *args, PyObject *kwargs) {
    static char *kwlist[] = {"sub", "args", "graph", "extra", NULL};
    PyObject *sub_o, *args_o, *graph_o = Py_None, *extra_o = Py_None;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "OO|OO:add_call", kwlist, &sub_o, &args_o, &graph_o, &extra_o))
        return NULL;
    ds_trace *sub = sub_arg(sub_o, "add_call(): sub");
    if (!sub) return NULL;
    ds_graph *callee = NULL;
    if (graph_o != Py_None && !(callee = ds_py_graph_get(graph_o))) return NULL;
    ds_tensor **a = NULL, **x = NULL, *res[MAX_RESULTS];
    int na = 0, nx = 0, nres = 0;
    if (to_tensors(args_o, "add_call(): args", &a, &na) < 0) return NULL;
    if (extra_o != Py_None && to_tensors(extra_o, "add_call(): extra", &x, &nx) < 0) {
        free_tensors(a, na);
        return NULL;
    }
    ds_status st = ds_trace_add_call(self->t, sub, callee, na, a, nx, x, MAX_RESULTS, res, &nres);
    free_tensors(a, na);
    free_tensors(x, nx);
    return st ? ds_py_raise(st) : wrap_list(res, nres);
}

static PyObject *trace_add_print(TraceObject *self, PyObject *args) {
    const char *prefix;
    PyObject *vals_o;
    if (!PyArg_ParseTuple(args, "sO:add_print", &prefix, &vals_o)) return NULL;
    ds_tensor **v = NULL;
    int n = 0;
    if (to_tensors(vals_o, "add_print(): tensors", &v, &n) < 0) return NULL;
    ds_status st = ds_trace_add_print(self->t, prefix, n, v);
    free_tensors(v, n);
    if (st) return ds_py_raise(st);
    Py_RETURN_NONE;
}

static PyObject *trace_add_assign(TraceObject *self, PyObject *args) {
    PyObject *target_o, *value_o;
    if (!PyArg_ParseTuple(args, "OO:add_assign", &target_o, &value_o)) return NULL;
    if (!DsTensor_Check(target_o)) {
        PyErr_Format(PyExc_TypeError, "add_assign(): the target must be a Tensor, got %.100s", Py_TYPE(target_o)->tp_name);
        return NULL;
    }
    ds_tensor *v;
    if (to_tensor(value_o, &v) < 0) return NULL;
    ds_status st = ds_trace_add_assign(self->t, ((TensorObject *)target_o)->t, v);
    ds_tensor_release(v);
    if (st) return ds_py_raise(st);
    Py_RETURN_NONE;
}

static PyObject *trace_rebind(TraceObject *self, PyObject *args) {
    PyObject *x_o, *value_o;
    if (!PyArg_ParseTuple(args, "OO:rebind", &x_o, &value_o)) return NULL;
    if (!DsTensor_Check(x_o)) {
        PyErr_Format(PyExc_TypeError, "rebind(): x must be a Tensor, got %.100s", Py_TYPE(x_o)->tp_name);
        return NULL;
    }
    ds_tensor *v;
    if (to_tensor(value_o, &v) < 0) return NULL;
    ds_status st = ds_trace_rebind(self->t, ((TensorObject *)x_o)->t, v);
    ds_tensor_release(v);
    if (st) return ds_py_raise(st);
    if (remember(self, x_o) < 0) return NULL;
    Py_RETURN_NONE;
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
    PyObject *shape = value_shape(ds_trace_graph(owner), v);
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
    {"add_if", (PyCFunction)(void (*)(void))trace_add_if, METH_VARARGS | METH_KEYWORDS,
     "add_if(cond, then_sub, else_sub, args=()) -> list of Tensors."},
    {"add_while", (PyCFunction)(void (*)(void))trace_add_while, METH_VARARGS | METH_KEYWORDS,
     "add_while(cond_sub, body_sub, init) -> list of Tensors (the final loop-carried values)."},
    {"add_call", (PyCFunction)(void (*)(void))trace_add_call, METH_VARARGS | METH_KEYWORDS,
     "add_call(sub, args, graph=None, extra=()) -> list of Tensors: calls graph (default: sub's) with args, the "
     "captures, then extra."},
    {"add_print", (PyCFunction)trace_add_print, METH_VARARGS, "add_print(prefix, tensors)."},
    {"add_assign", (PyCFunction)trace_add_assign, METH_VARARGS, "add_assign(target, value): writes a weight parameter."},
    {"rebind", (PyCFunction)trace_rebind, METH_VARARGS, "rebind(x, value): x reads value's graph value from now on."},
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

static PyMethodDef graph_module_methods[] = {
    {"load_graph", load_graph, METH_O, "load_graph(path) -> Graph (the binary format of Graph.save)."},
    {"parse_graph", parse_graph, METH_O, "parse_graph(text) -> Graph (the text format of Graph.text)."},
    {"tensor_is_symbolic", tensor_is_symbolic, METH_O, "Whether x is a symbolic tensor (made while compiling a graph)."},
    {"tensor_id", tensor_id, METH_O, "The address of x's C tensor (equal for Tensor objects over the same tensor)."},
    {"trace_active", trace_active, METH_NOARGS, "Whether a Trace is active on this thread."},
    {NULL},
};

/* Print nodes write to sys.stdout. */
static void print_to_stdout(void *ctx, const char *text) {
    PyGILState_STATE gs = PyGILState_Ensure();
    PyObject *et, *ev, *tb;
    PyErr_Fetch(&et, &ev, &tb);
    PyObject *out = PySys_GetObject("stdout");
    if (out && out != Py_None) {
        PyObject *r = PyObject_CallMethod(out, "write", "s", text);
        Py_XDECREF(r);
    }
    PyErr_Clear();
    PyErr_Restore(et, ev, tb);
    PyGILState_Release(gs);
}

int ds_py_init_graph(PyObject *m) {
    if (PyType_Ready(&DsGraph_Type) < 0 || PyType_Ready(&DsPlan_Type) < 0 || PyType_Ready(&DsTrace_Type) < 0) return -1;
    if (PyModule_AddObjectRef(m, "Graph", (PyObject *)&DsGraph_Type) < 0) return -1;
    if (PyModule_AddObjectRef(m, "Plan", (PyObject *)&DsPlan_Type) < 0) return -1;
    if (PyModule_AddObjectRef(m, "Trace", (PyObject *)&DsTrace_Type) < 0) return -1;
    ds_py_trace_error = PyErr_NewExceptionWithDoc("dynastat.TraceError",
                                                  "The value of a symbolic tensor was read while compiling a graph (a "
                                                  "RuntimeError).", PyExc_RuntimeError, NULL);
    if (!ds_py_trace_error || PyModule_AddObjectRef(m, "TraceError", ds_py_trace_error) < 0) return -1;
    if (PyModule_AddFunctions(m, graph_module_methods) < 0) return -1;
    ds_set_print_hook(print_to_stdout, NULL);
    return 0;
}
