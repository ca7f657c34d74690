/* JitFunction: the per-call path of @jit compiled functions.
 *
 * A JitFunction caches compiled entries of one Python function and runs them. The Python front end
 * (python/dynastat/jit/) supplies `compile(args, kwargs)`, called on a cache miss; everything a cached
 * call does is here, in C:
 *
 * 1. Key. The arguments (positional in order, then keyword names and values in call order) are walked
 *    into a flat int64 token sequence: a Tensor gives (tag|dtype|ndim, dims...), None/bool/int/float/str
 *    their type and value, tuple/list/dict their type, length and children (dict keys in insertion
 *    order), a subclass of int/float/str/tuple/list/dict its type pointer before the value, anything
 *    else its identity (type + pointer; the entry keeps a reference so the pointer stays unique). Two
 *    hashes are accumulated on the way: one over every token and one without the tensor dims, which is
 *    what an entry with wildcard dims (input_signature) is compared under; its key then ignores the dims
 *    marked in its `wild` mask. The walk also collects the Tensors, in order: they are the plan's inputs.
 * 2. Lookup. The entries form an LRU list (most recent first). The entries whose hash and tokens match
 *    are candidates; the first whose guards all pass is a hit. A guard (kind, obj, name, expected)
 *    reads getattr(obj, name) ("attr"), obj[name] ("item", a missing key fails) or the contents of the
 *    cell obj ("cell"), and passes when the value `is` expected, or has expected's type among
 *    bool/int/float/str/None/tuples of those and equals it (floats bit-for-bit up to NaN payloads).
 * 3. Run. A graph entry runs its plan on (argument tensors..., extra inputs...) and rebuilds the Python
 *    result from its output template; a Python entry calls its callable with the original arguments.
 * 4. Gradients. While a tape is active the plan runs with recording paused, and the call is recorded as
 *    one custom tape node (inputs: every plan input; outputs: the float outputs). Its backward runs the
 *    gradient graph ds_graph_grad(g, float outputs, float params, sens_param), built once per graph (with
 *    respect to the float params the graph does not assign; a second one including them is built only
 *    if an assigned parameter wants a gradient, which the reverse pass refuses when one would flow):
 *    through a cached plan, or, when a tape is active during the backward (a gradient being
 *    differentiated again), op by op with ds_graph_eval so that its ops are recorded on that tape.
 *    Parameters the graph assigns are snapshotted before the forward and each backward gets a fresh
 *    copy: the gradient graph recomputes the forward, whose assigns must neither touch the live weights
 *    again nor read their updated values.
 * 5. Miss. compile(args, kwargs) returns ("graph", graph, extra_inputs, guards, out_template,
 *    dim_pattern) or ("python", callable); the entry is inserted (evicting the least recently used one
 *    beyond max_entries) and run.
 *
 * A plan runs on one thread at a time and the GIL is held throughout; a call that finds its entry's
 * plan already running (re-entered from a host callback) runs a fresh plan. Entries and the graph
 * state shared with tape nodes are refcounted, so clearing or evicting an entry while it runs (or while
 * a tape still refers to its backward) is safe.
 *
 * The files: this one (the type, the call, running an entry), jit_key.c (keys and guards), jit_entry.c
 * (entries, the LRU list and lookup, output templates, a miss), jit_grad.c (the graph state shared with tape
 * nodes, recording, the backward); jit.h declares what they share. */
#include <string.h>

#include "jit.h"

static PyTypeObject JitFunction_Type;

/* The function's name for messages (its __qualname__ or __name__). */
PyObject *jit_fn_name(JitFunctionObject *jf) {
    PyObject *n = jf->dict ? PyDict_GetItemString(jf->dict, "__qualname__") : NULL;
    if (!n || !PyUnicode_Check(n)) n = jf->dict ? PyDict_GetItemString(jf->dict, "__name__") : NULL;
    if (!n || !PyUnicode_Check(n)) return PyUnicode_FromString("?");
    return Py_NewRef(n);
}

/* ---------------------------------------------------------------- running an entry */
/* After a C call that may have run Python code (host callbacks): its exception wins. */
static PyObject *raise_status(ds_status st) {
    if (PyErr_Occurred()) return NULL;
    return ds_py_raise(st);
}

static PyObject *run_graph_entry(JitFunctionObject *jf, jit_entry *e, const walk *w) {
    jit_graph *jg = e->jg;
    int n_in = jg->n_params, n_out = jg->n_out;
    ds_tensor *stack_in[16], *stack_out[8];
    ds_tensor **in = n_in <= 16 ? stack_in : PyMem_Malloc(sizeof(ds_tensor *) * (size_t)n_in);
    ds_tensor **outs = n_out <= 8 ? stack_out : PyMem_Malloc(sizeof(ds_tensor *) * (size_t)n_out);
    PyObject *result = NULL;
    jit_call *call = NULL;
    bool have_outs = false;
    if (!in || !outs) {
        PyErr_NoMemory();
        goto done;
    }
    for (int i = 0; i < w->nts; i++) in[i] = ((TensorObject *)w->ts[i])->t;
    for (int j = 0; j < e->nextra; j++) in[w->nts + j] = ((TensorObject *)e->extra[j])->t;
    ds_tape *tape = ds_tape_active();
    bool record = tape && jg->n_fo > 0 && jg->n_fp[1] > 0;
    ds_status st = DS_OK;
    if (record && jg->any_assigned && (st = jit_call_new(jg, in, &call))) {
        ds_py_raise(st);
        goto done;
    }
    if (tape) ds_tape_set_active(NULL); /* the call is recorded as one node, below */
    st = jit_run_plan(jg->g, &jg->plan, &jg->busy, n_in, in, n_out, outs);
    if (tape) ds_tape_set_active(tape);
    if (st) {
        raise_status(st);
        goto done;
    }
    have_outs = true;
    if (record && jit_record_call(jf, tape, jg, call, in, outs) < 0) goto done;
    if (e->tpl->kind == TP_OUT) { /* a single tensor */
        int k = e->tpl->k;
        result = ds_py_wrap(outs[k]);
        outs[k] = NULL;
    } else {
        PyObject *wstack[8], **wrapped = n_out <= 8 ? wstack : PyMem_Calloc((size_t)n_out, sizeof(PyObject *));
        if (!wrapped) {
            PyErr_NoMemory();
            goto done;
        }
        if (wrapped == wstack) memset(wstack, 0, sizeof wstack);
        result = jit_tmpl_build(e->tpl, outs, wrapped);
        for (int i = 0; i < n_out; i++) Py_XDECREF(wrapped[i]);
        if (wrapped != wstack) PyMem_Free(wrapped);
    }
done:
    if (have_outs)
        for (int i = 0; i < n_out; i++) ds_tensor_release(outs[i]);
    if (call) jit_call_release(call);
    if (in && in != stack_in) PyMem_Free(in);
    if (outs && outs != stack_out) PyMem_Free(outs);
    return result;
}

static PyObject *run_entry(JitFunctionObject *jf, jit_entry *e, const walk *w, PyObject *const *args, size_t nargsf,
                           PyObject *kwnames) {
    if (e->python) return PyObject_Vectorcall(e->target, args, nargsf, kwnames);
    return run_graph_entry(jf, e, w);
}

/* ---------------------------------------------------------------- the call */
static PyObject *jit_vectorcall(PyObject *self, PyObject *const *args, size_t nargsf, PyObject *kwnames) {
    JitFunctionObject *jf = (JitFunctionObject *)self;
    Py_ssize_t nargs = PyVectorcall_NARGS(nargsf);
    PyObject *result = NULL;
    if (ds_trace_active()) {
        /* called while a graph is being compiled (from library code): the caller's graph takes the
         * function's operations, through the front end's inlining hook */
        PyObject *hook = PyDict_GetItemString(jf->dict, "__ds_trace_call__");
        if (hook) return PyObject_Vectorcall(hook, args, nargsf, kwnames);
        PyErr_Format(PyExc_RuntimeError, "JitFunction '%U' was called while a graph is being compiled, and it has "
                     "no __ds_trace_call__ to inline it", PyDict_GetItemString(jf->dict, "__name__"));
        return NULL;
    }
    walk w;
    jit_walk_init(&w);
    if (jit_walk_call(&w, args, nargs, kwnames) < 0) goto done;
    jit_entry *e = jit_lookup(jf, &w);
    if (e) jf->hits++;
    else if (PyErr_Occurred() || !(e = jit_compile_and_insert(jf, &w, args, nargs, kwnames))) goto done;
    result = run_entry(jf, e, &w, args, nargsf, kwnames);
    jit_entry_release(e);
done:
    jit_walk_free(&w);
    return result;
}

/* ---------------------------------------------------------------- type slots and methods */
static PyObject *jit_new(PyTypeObject *type, PyObject *args, PyObject *kwargs) {
    static char *kwlist[] = {"compile", "name", "max_entries", NULL};
    PyObject *compile, *name = NULL;
    int max_entries = 8;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "O|Ui:JitFunction", kwlist, &compile, &name, &max_entries)) return NULL;
    if (!PyCallable_Check(compile)) {
        PyErr_Format(PyExc_TypeError, "JitFunction: compile must be callable, got %.100s", Py_TYPE(compile)->tp_name);
        return NULL;
    }
    if (max_entries < 1) {
        PyErr_Format(PyExc_ValueError, "JitFunction: max_entries must be at least 1, got %d", max_entries);
        return NULL;
    }
    JitFunctionObject *jf = (JitFunctionObject *)type->tp_alloc(type, 0);
    if (!jf) return NULL;
    jf->vectorcall = jit_vectorcall;
    jf->compile = Py_NewRef(compile);
    jf->max_entries = max_entries;
    jf->dict = PyDict_New();
    PyObject *nm = name ? Py_NewRef(name) : PyUnicode_FromString("fn");
    if (!jf->dict || !nm || PyDict_SetItemString(jf->dict, "__name__", nm) < 0 ||
        PyDict_SetItemString(jf->dict, "__qualname__", nm) < 0) {
        Py_XDECREF(nm);
        Py_DECREF(jf);
        return NULL;
    }
    Py_DECREF(nm);
    return (PyObject *)jf;
}

static int jit_traverse(JitFunctionObject *jf, visitproc visit, void *arg) {
    Py_VISIT(jf->compile);
    Py_VISIT(jf->dict);
    for (jit_entry *e = jf->head; e; e = e->next) {
        int rc = jit_entry_traverse(e, visit, arg);
        if (rc) return rc;
    }
    return 0;
}

static int jit_clear(JitFunctionObject *jf) {
    jit_clear_entries(jf);
    Py_CLEAR(jf->compile);
    Py_CLEAR(jf->dict);
    return 0;
}

static void jit_dealloc(JitFunctionObject *jf) {
    PyObject_GC_UnTrack(jf);
    if (jf->weakrefs) PyObject_ClearWeakRefs((PyObject *)jf);
    jit_clear(jf);
    Py_TYPE(jf)->tp_free((PyObject *)jf);
}

static PyObject *jit_descr_get(PyObject *self, PyObject *obj, PyObject *type) {
    if (!obj || obj == Py_None) return Py_NewRef(self);
    return PyMethod_New(self, obj);
}

static PyObject *jit_repr(JitFunctionObject *jf) {
    PyObject *nm = jit_fn_name(jf);
    if (!nm) return NULL;
    PyObject *r = PyUnicode_FromFormat("<JitFunction %U>", nm);
    Py_DECREF(nm);
    return r;
}

static PyObject *jit_cache_info(JitFunctionObject *jf, PyObject *unused) {
    return Py_BuildValue("{s:L,s:L,s:i,s:L}", "hits", (long long)jf->hits, "misses", (long long)jf->misses, "entries",
                         jf->n_entries, "evictions", (long long)jf->evictions);
}

static PyObject *jit_clear_method(JitFunctionObject *jf, PyObject *unused) {
    jit_clear_entries(jf);
    jf->hits = jf->misses = jf->evictions = 0;
    Py_RETURN_NONE;
}

static PyObject *jit_entries(JitFunctionObject *jf, PyObject *unused) {
    PyObject *list = PyList_New(0);
    for (jit_entry *e = jf->head; list && e; e = e->next) {
        PyObject *gl = PySequence_List(e->guards);
        PyObject *item = gl ? PyTuple_Pack(2, e->target, gl) : NULL;
        Py_XDECREF(gl);
        if (!item || PyList_Append(list, item) < 0) Py_CLEAR(list);
        Py_XDECREF(item);
    }
    return list;
}

static PyMethodDef jit_methods[] = {
    {"cache_info", (PyCFunction)jit_cache_info, METH_NOARGS,
     "dict(hits=, misses=, entries=, evictions=): calls served from the cache, calls that compiled, cached entries, "
     "entries evicted (least recently used first)."},
    {"clear", (PyCFunction)jit_clear_method, METH_NOARGS, "Drops every cached entry and resets the counters."},
    {"entries", (PyCFunction)jit_entries, METH_NOARGS,
     "[(graph or callable, guards), ...] of the cached entries, most recently used first (diagnostics)."},
    {NULL},
};

static PyObject *jit_get_max_entries(JitFunctionObject *jf, void *c) { return PyLong_FromLong(jf->max_entries); }
static PyObject *jit_get_compile(JitFunctionObject *jf, void *c) {
    return jf->compile ? Py_NewRef(jf->compile) : Py_NewRef(Py_None);
}

static PyGetSetDef jit_getset[] = {
    {"__dict__", PyObject_GenericGetDict, PyObject_GenericSetDict, NULL, NULL},
    {"max_entries", (getter)jit_get_max_entries, NULL, "most entries kept (least recently used evicted first)", NULL},
    {"compile", (getter)jit_get_compile, NULL, "the compile callable, called on a cache miss", NULL},
    {NULL},
};

static PyTypeObject JitFunction_Type = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "dynastat._C.JitFunction",
    .tp_basicsize = sizeof(JitFunctionObject),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC | Py_TPFLAGS_HAVE_VECTORCALL,
    .tp_doc = "JitFunction(compile, name='fn', max_entries=8): a callable caching compiled entries of one function, "
              "keyed by the arguments' structure (tensor dtypes and shapes, scalar values, containers, object "
              "identities) and checked by guards. A miss calls compile(args, kwargs), which returns ('graph', graph, "
              "extra_inputs, guards, out_template, dim_pattern) or ('python', callable).",
    .tp_new = jit_new,
    .tp_dealloc = (destructor)jit_dealloc,
    .tp_traverse = (traverseproc)jit_traverse,
    .tp_clear = (inquiry)jit_clear,
    .tp_vectorcall_offset = offsetof(JitFunctionObject, vectorcall),
    .tp_call = PyVectorcall_Call,
    .tp_descr_get = jit_descr_get,
    .tp_repr = (reprfunc)jit_repr,
    .tp_methods = jit_methods,
    .tp_getset = jit_getset,
    .tp_dictoffset = offsetof(JitFunctionObject, dict),
    .tp_weaklistoffset = offsetof(JitFunctionObject, weakrefs),
};

int ds_py_init_jit(PyObject *m) {
    if (PyType_Ready(&JitFunction_Type) < 0) return -1;
    return PyModule_AddObjectRef(m, "JitFunction", (PyObject *)&JitFunction_Type);
}
