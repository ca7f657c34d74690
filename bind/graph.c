/* Graphs and plans from Python: dynastat._C.Graph, Plan and load_graph / parse_graph (include/dynastat.h,
 * sections "graph IR" and "executor").
 *
 * This file owns the Graph type (printing, passes, gradients, parameter and output info, saving, the
 * reference interpreter), load_graph / parse_graph, the Plan type (runs with inputs used in place, compiling a
 * variant, statistics), routing print nodes to sys.stdout, and the conversions the graph binding files share
 * (bind/graph.h: tensor lists in and out, shapes of graph values). Graph capture (Trace) is bind/trace.c. */
#include <string.h>

#include "graph.h"
#include "ir/ir.h"

/* ---------------------------------------------------------------- conversions (shared: graph.h) */
/* Converts a sequence of tensor-likes; *out (PyMem) holds *n new references. */
int ds_py_to_tensors(PyObject *seq_obj, const char *what, ds_tensor ***out, int *n) {
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

void ds_py_free_tensors(ds_tensor **ts, int n) {
    if (!ts) return;
    for (int i = 0; i < n; i++) ds_tensor_release(ts[i]);
    PyMem_Free(ts);
}

/* A list of Tensors wrapping ts[0..n) (steals the references, also on failure). */
PyObject *ds_py_wrap_list(ds_tensor **ts, int n) {
    PyObject *l = PyList_New(n);
    for (int i = 0; i < n; i++) {
        PyObject *o = l ? ds_py_wrap(ts[i]) : (ds_tensor_release(ts[i]), NULL);
        if (l && !o) Py_CLEAR(l);
        if (l) PyList_SET_ITEM(l, i, o);
    }
    return l;
}

/* A shape tuple of a graph value: ints, None (unknown) and str (symbolic dims, by name). */
PyObject *ds_py_value_shape(const ds_graph *g, const ds_value *v) {
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
    PyObject *shape = ds_py_value_shape(self->g, v);
    if (!shape) return NULL;
    return Py_BuildValue("(sONO)", v->name ? v->name : "", ds_py_dtype(v->type.dtype), shape, v->weight ? Py_True : Py_False);
}

static PyObject *graph_output_info(GraphObject *self, PyObject *arg) {
    long i = PyLong_AsLong(arg);
    if ((i == -1 && PyErr_Occurred()) || check_index((int)i, self->g->outputs.n, "output") < 0) return NULL;
    const ds_value *v = self->g->outputs.items[i];
    PyObject *shape = ds_py_value_shape(self->g, v);
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
    if (ds_py_to_tensors(inputs, "Graph.eval(): inputs", &in, &n_in) < 0) return NULL;
    int max_out = self->g->outputs.n;
    out = PyMem_Calloc((size_t)max_out + 1, sizeof(ds_tensor *));
    PyObject *res = NULL;
    if (!out) res = PyErr_NoMemory();
    else {
        ds_status st = ds_graph_eval(self->g, n_in, in, max_out, out, &n_out);
        res = st ? ds_py_raise(st) : ds_py_wrap_list(out, n_out);
    }
    ds_py_free_tensors(in, n_in);
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
    PyObject *res = st ? ds_py_raise(st) : ds_py_wrap_list(out, n_out);
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

/* ---------------------------------------------------------------- module */
static PyMethodDef graph_module_methods[] = {
    {"load_graph", load_graph, METH_O, "load_graph(path) -> Graph (the binary format of Graph.save)."},
    {"parse_graph", parse_graph, METH_O, "parse_graph(text) -> Graph (the text format of Graph.text)."},
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
    if (PyType_Ready(&DsGraph_Type) < 0 || PyType_Ready(&DsPlan_Type) < 0) return -1;
    if (PyModule_AddObjectRef(m, "Graph", (PyObject *)&DsGraph_Type) < 0) return -1;
    if (PyModule_AddObjectRef(m, "Plan", (PyObject *)&DsPlan_Type) < 0) return -1;
    if (PyModule_AddFunctions(m, graph_module_methods) < 0) return -1;
    ds_set_print_hook(print_to_stdout, NULL);
    return 0;
}
