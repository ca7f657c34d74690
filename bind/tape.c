/* Eager autograd from Python: a thin binding of the C tape (include/dynastat.h, section "autodiff").
 *
 * Recording needs no Python: ds_op_run records every op on the thread's active tapes. This file gives
 * Python the tape object (watch, push/pop as a context manager, backward), switching recording off
 * (no_grad), and Python backward functions for the tape's custom nodes: Cell.bprop / custom_vjp,
 * tensor hooks and op gradient overrides (bprop_getters). A Python backward is called as
 *     fn(inputs, outputs, douts, need, attrs) -> sequence of len(inputs) (Tensor or None each)
 * with tuples of Tensors, `need` a tuple of bools (inputs that want a gradient) and `attrs` a dict of
 * the op's attributes for an op override (None otherwise). Its exceptions propagate out of backward. */
#include "bind.h"

/* ---------------------------------------------------------------- Python backward functions */
static void py_retain(void *ctx) { Py_INCREF((PyObject *)ctx); }
static void py_release(void *ctx) { Py_DECREF((PyObject *)ctx); }

static PyObject *tensor_tuple(int n, ds_tensor *const *ts) {
    PyObject *tup = PyTuple_New(n);
    for (int i = 0; tup && i < n; i++) {
        PyObject *o = ds_py_wrap(ds_tensor_retain(ts[i]));
        if (!o) Py_CLEAR(tup);
        else PyTuple_SET_ITEM(tup, i, o);
    }
    return tup;
}

static PyObject *attr_value(const ds_attr *a) {
    switch (a->kind) {
    case DS_ATTR_BOOL: return PyBool_FromLong(a->v.b);
    case DS_ATTR_INT: return PyLong_FromLongLong(a->v.i);
    case DS_ATTR_FLOAT: return PyFloat_FromDouble(a->v.f);
    case DS_ATTR_DTYPE: return Py_NewRef(ds_py_dtype(a->v.dtype));
    case DS_ATTR_INTS: {
        PyObject *t = PyTuple_New(a->n);
        for (int64_t i = 0; t && i < a->n; i++) {
            PyObject *v = PyLong_FromLongLong(a->v.ints[i]);
            if (!v) Py_CLEAR(t);
            else PyTuple_SET_ITEM(t, i, v);
        }
        return t;
    }
    default: return Py_NewRef(Py_None);
    }
}

static PyObject *attrs_dict(const ds_tape_vjp_args *a) {
    if (!a->attrs || a->op >= DS_OP_COUNT) return Py_NewRef(Py_None);
    PyObject *d = PyDict_New();
    int n = ds_op_get_info(a->op)->n_attrs;
    for (int i = 0; d && i < n; i++) {
        PyObject *v = attr_value(&a->attrs[i]);
        if (!v || PyDict_SetItemString(d, ds_op_attr_name(a->op, i), v) < 0) Py_CLEAR(d);
        Py_XDECREF(v);
    }
    return d;
}

/* The ds_tape_vjp_fn calling a Python backward; a Python exception stays set and fails the backward. */
static ds_status py_vjp(void *ctx, const ds_tape_vjp_args *a, ds_tensor **gin) {
    PyObject *ins = tensor_tuple(a->n_in, a->inputs), *outs = tensor_tuple(a->n_out, a->outputs);
    PyObject *gouts = tensor_tuple(a->n_out, a->gout), *need = PyTuple_New(a->n_in), *attrs = attrs_dict(a);
    PyObject *res = NULL, *seq = NULL;
    for (int i = 0; need && i < a->n_in; i++) PyTuple_SET_ITEM(need, i, PyBool_FromLong(a->need[i]));
    if (ins && outs && gouts && need && attrs)
        res = PyObject_CallFunctionObjArgs((PyObject *)ctx, ins, outs, gouts, need, attrs, NULL);
    Py_XDECREF(ins);
    Py_XDECREF(outs);
    Py_XDECREF(gouts);
    Py_XDECREF(need);
    Py_XDECREF(attrs);
    if (!res) goto fail;
    seq = PySequence_Fast(res, "");
    if (!seq || PySequence_Fast_GET_SIZE(seq) != a->n_in) {
        PyErr_Clear();
        PyErr_Format(PyExc_TypeError, "%s: the backward function must return a sequence of %d gradients (one per input), "
                     "got %.100s", a->name, a->n_in, Py_TYPE(res)->tp_name);
        goto fail;
    }
    for (int i = 0; i < a->n_in; i++) {
        PyObject *g = PySequence_Fast_GET_ITEM(seq, i);
        if (g == Py_None || !a->need[i]) continue;
        if (!DsTensor_Check(g)) {
            PyErr_Format(PyExc_TypeError, "%s: gradient %d returned by the backward function must be a Tensor or None, got "
                         "%.100s", a->name, i, Py_TYPE(g)->tp_name);
            goto fail;
        }
        gin[i] = ds_tensor_retain(((TensorObject *)g)->t);
    }
    Py_DECREF(seq);
    Py_DECREF(res);
    return DS_OK;
fail:
    Py_XDECREF(seq);
    Py_XDECREF(res);
    return ds_errorf(DS_ERR_VALUE, "%s: the Python backward function raised", a->name);
}

static ds_tape_vjp make_vjp(PyObject *fn) {
    ds_tape_vjp v = {py_vjp, fn, py_retain, py_release};
    return v;
}

/* After a C call that may have run Python backward functions: their exception wins. */
static PyObject *raise_status(ds_status st) {
    if (PyErr_Occurred()) return NULL;
    return ds_py_raise(st);
}

/* ---------------------------------------------------------------- argument helpers */
static ds_tensor *as_tensor(PyObject *o, const char *what) {
    if (!DsTensor_Check(o)) {
        PyErr_Format(PyExc_TypeError, "%s must be a Tensor, got %.100s", what, Py_TYPE(o)->tp_name);
        return NULL;
    }
    return ((TensorObject *)o)->t;
}

/* Borrowed ds_tensor pointers of a sequence of Tensors (None allowed with allow_none). PyMem_Free *out. */
static int tensor_list(PyObject *o, const char *what, bool allow_none, Py_ssize_t *n, ds_tensor ***out) {
    PyObject *seq = PySequence_Fast(o, "");
    if (!seq) {
        PyErr_Clear();
        PyErr_Format(PyExc_TypeError, "%s must be a sequence of Tensors, got %.100s", what, Py_TYPE(o)->tp_name);
        return -1;
    }
    Py_ssize_t k = PySequence_Fast_GET_SIZE(seq);
    ds_tensor **ts = PyMem_Calloc((size_t)(k ? k : 1), sizeof(ds_tensor *));
    if (!ts) {
        Py_DECREF(seq);
        PyErr_NoMemory();
        return -1;
    }
    for (Py_ssize_t i = 0; i < k; i++) {
        PyObject *e = PySequence_Fast_GET_ITEM(seq, i);
        if (e == Py_None && allow_none) continue;
        if (!DsTensor_Check(e)) {
            PyErr_Format(PyExc_TypeError, "%s[%zd] must be a Tensor%s, got %.100s", what, i, allow_none ? " or None" : "",
                         Py_TYPE(e)->tp_name);
            PyMem_Free(ts);
            Py_DECREF(seq);
            return -1;
        }
        ts[i] = ((TensorObject *)e)->t; /* kept alive by `o`, which the caller holds */
    }
    Py_DECREF(seq);
    *n = k;
    *out = ts;
    return 0;
}

static int no_args(const char *name, PyObject *args, PyObject *kwargs) {
    if ((args && PyTuple_GET_SIZE(args)) || (kwargs && PyDict_GET_SIZE(kwargs))) {
        PyErr_Format(PyExc_TypeError, "%s() takes no arguments", name);
        return -1;
    }
    return 0;
}

/* ---------------------------------------------------------------- Tape */
typedef struct TapeObject {
    PyObject_HEAD
    ds_tape *tape;
} TapeObject;

static PyTypeObject Tape_Type;

static PyObject *tape_new(PyTypeObject *type, PyObject *args, PyObject *kwargs) {
    if (no_args("Tape", args, kwargs) < 0) return NULL;
    TapeObject *self = (TapeObject *)type->tp_alloc(type, 0);
    if (!self) return NULL;
    ds_status st = ds_tape_new(&self->tape);
    if (st) {
        Py_DECREF(self);
        return ds_py_raise(st);
    }
    return (PyObject *)self;
}

static void tape_dealloc(TapeObject *self) {
    ds_tape_release(self->tape);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyObject *tape_watch(TapeObject *self, PyObject *x) {
    ds_tensor *t = as_tensor(x, "Tape.watch(): x");
    if (!t) return NULL;
    ds_status st = ds_tape_watch(self->tape, t);
    return st ? ds_py_raise(st) : Py_NewRef(Py_None);
}

static PyObject *tape_requires_grad(TapeObject *self, PyObject *x) {
    ds_tensor *t = as_tensor(x, "Tape.requires_grad(): x");
    return t ? PyBool_FromLong(ds_tape_requires_grad(self->tape, t)) : NULL;
}

static PyObject *tape_push(TapeObject *self, PyObject *unused) {
    ds_status st = ds_tape_push(self->tape);
    return st ? ds_py_raise(st) : Py_NewRef(self);
}

static PyObject *tape_pop(TapeObject *self, PyObject *unused) {
    ds_status st = ds_tape_pop(self->tape);
    return st ? ds_py_raise(st) : Py_NewRef(Py_None);
}

static PyObject *tape_exit(TapeObject *self, PyObject *args) {
    ds_status st = ds_tape_pop(self->tape);
    if (st) return ds_py_raise(st);
    Py_RETURN_FALSE;
}

static PyObject *tape_backward(TapeObject *self, PyObject *args, PyObject *kwargs) {
    static char *kwlist[] = {"outputs", "sens", "wrt", NULL};
    PyObject *outs_o, *sens_o = Py_None, *wrt_o = NULL;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "O|OO:backward", kwlist, &outs_o, &sens_o, &wrt_o)) return NULL;
    ds_tensor **outs = NULL, **sens = NULL, **wrt = NULL, **grads = NULL;
    Py_ssize_t n_out = 0, n_sens = 0, n_wrt = 0;
    PyObject *result = NULL;
    if (tensor_list(outs_o, "backward(): outputs", false, &n_out, &outs) < 0) goto done;
    if (sens_o != Py_None) {
        if (tensor_list(sens_o, "backward(): sens", true, &n_sens, &sens) < 0) goto done;
        if (n_sens != n_out) {
            PyErr_Format(PyExc_ValueError, "backward(): %zd sensitivities for %zd outputs", n_sens, n_out);
            goto done;
        }
    }
    if (wrt_o && tensor_list(wrt_o, "backward(): wrt", false, &n_wrt, &wrt) < 0) goto done;
    grads = PyMem_Calloc((size_t)(n_wrt ? n_wrt : 1), sizeof(ds_tensor *));
    if (!grads) {
        PyErr_NoMemory();
        goto done;
    }
    ds_status st = ds_tape_backward(self->tape, (int)n_out, outs, sens, (int)n_wrt, wrt, grads);
    if (st) {
        raise_status(st);
        goto done;
    }
    result = PyTuple_New(n_wrt);
    for (Py_ssize_t i = 0; i < n_wrt; i++) {
        PyObject *g = result ? ds_py_wrap(grads[i]) : (ds_tensor_release(grads[i]), NULL);
        if (result && !g) Py_CLEAR(result);
        if (result) PyTuple_SET_ITEM(result, i, g);
    }
done:
    PyMem_Free(outs);
    PyMem_Free(sens);
    PyMem_Free(wrt);
    PyMem_Free(grads);
    return result;
}

static PyObject *tape_add_hook(TapeObject *self, PyObject *args) {
    PyObject *x, *fn;
    if (!PyArg_ParseTuple(args, "OO:add_hook", &x, &fn)) return NULL;
    ds_tensor *t = as_tensor(x, "Tape.add_hook(): x");
    if (!t) return NULL;
    ds_tape_vjp v = make_vjp(fn);
    ds_status st = ds_tape_add_hook(self->tape, t, &v);
    return st ? ds_py_raise(st) : Py_NewRef(Py_None);
}

static PyObject *tape_graph(TapeObject *self, PyObject *unused) {
    char *s;
    ds_status st = ds_graph_print(ds_tape_graph(self->tape), &s);
    if (st) return ds_py_raise(st);
    PyObject *r = PyUnicode_FromString(s);
    ds_free(s);
    return r;
}

static PyObject *tape_num_nodes(TapeObject *self, void *c) {
    return PyLong_FromLong(ds_graph_num_nodes(ds_tape_graph(self->tape)));
}

static PyMethodDef tape_methods[] = {
    {"watch", (PyCFunction)tape_watch, METH_O, "Marks a float tensor as a leaf whose gradient is wanted."},
    {"requires_grad", (PyCFunction)tape_requires_grad, METH_O,
     "Whether the tensor requires grad on this tape (a watched leaf or a recorded result)."},
    {"push", (PyCFunction)tape_push, METH_NOARGS,
     "Makes this the active tape, nested in the active one (which keeps recording). Returns self."},
    {"pop", (PyCFunction)tape_pop, METH_NOARGS, "Undoes push (tapes pop in reverse order)."},
    {"__enter__", (PyCFunction)tape_push, METH_NOARGS, NULL},
    {"__exit__", (PyCFunction)tape_exit, METH_VARARGS, NULL},
    {"backward", (PyCFunction)(void (*)(void))tape_backward, METH_VARARGS | METH_KEYWORDS,
     "backward(outputs, sens=None, wrt=()) -> tuple of gradients of sum(outputs weighted by sens) with "
     "respect to each tensor of wrt (zeros where it does not contribute). An output without sens must have "
     "one element. Recorded on the active tapes (except this one): gradients can be differentiated again."},
    {"add_hook", (PyCFunction)tape_add_hook, METH_VARARGS,
     "add_hook(x, fn): the gradient flowing into x from its later uses goes through fn (a Python backward)."},
    {"graph", (PyCFunction)tape_graph, METH_NOARGS, "The recorded graph as text."},
    {NULL},
};

static PyGetSetDef tape_getset[] = {
    {"num_nodes", (getter)tape_num_nodes, NULL, "number of recorded nodes", NULL},
    {NULL},
};

static PyTypeObject Tape_Type = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "dynastat._C.Tape",
    .tp_basicsize = sizeof(TapeObject),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "An eager autodiff tape: records the ops run on tensors that require grad while it is active "
              "(with tape: ...), and differentiates them.",
    .tp_new = tape_new,
    .tp_dealloc = (destructor)tape_dealloc,
    .tp_methods = tape_methods,
    .tp_getset = tape_getset,
};

/* ---------------------------------------------------------------- no_grad */
typedef struct NoGradObject {
    PyObject_HEAD
    ds_tape *prev; /* the active tape when entered (a reference), restored on exit */
    bool entered;
} NoGradObject;

static PyObject *nograd_new(PyTypeObject *type, PyObject *args, PyObject *kwargs) {
    if (no_args("no_grad", args, kwargs) < 0) return NULL;
    return type->tp_alloc(type, 0);
}

static void nograd_dealloc(NoGradObject *self) {
    ds_tape_release(self->prev);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyObject *nograd_enter(NoGradObject *self, PyObject *unused) {
    if (self->entered) {
        PyErr_SetString(PyExc_RuntimeError, "no_grad: this object is already entered (use a new no_grad() per with-block)");
        return NULL;
    }
    self->prev = ds_tape_retain(ds_tape_set_active(NULL));
    self->entered = true;
    return Py_NewRef(self);
}

static PyObject *nograd_exit(NoGradObject *self, PyObject *args) {
    if (self->entered) {
        ds_tape_set_active(self->prev);
        ds_tape_release(self->prev);
        self->prev = NULL;
        self->entered = false;
    }
    Py_RETURN_FALSE;
}

static PyMethodDef nograd_methods[] = {
    {"__enter__", (PyCFunction)nograd_enter, METH_NOARGS, NULL},
    {"__exit__", (PyCFunction)nograd_exit, METH_VARARGS, NULL},
    {NULL},
};

static PyTypeObject NoGrad_Type = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "dynastat._C.no_grad",
    .tp_basicsize = sizeof(NoGradObject),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "with no_grad(): ... runs without recording on any tape (results do not require grad).",
    .tp_new = nograd_new,
    .tp_dealloc = (destructor)nograd_dealloc,
    .tp_methods = nograd_methods,
};

/* ---------------------------------------------------------------- module functions */
static PyObject *py_is_recording(PyObject *m, PyObject *unused) { return PyBool_FromLong(ds_tape_active() != NULL); }

static PyObject *py_requires_grad(PyObject *m, PyObject *x) {
    ds_tensor *t = as_tensor(x, "requires_grad(): x");
    if (!t) return NULL;
    ds_tape *tape = ds_tape_active();
    return PyBool_FromLong(tape && ds_tape_requires_grad(tape, t));
}

static PyObject *py_record_custom(PyObject *m, PyObject *args) {
    const char *name;
    PyObject *ins_o, *outs_o, *fn;
    if (!PyArg_ParseTuple(args, "sOOO:record_custom", &name, &ins_o, &outs_o, &fn)) return NULL;
    if (!PyCallable_Check(fn)) {
        PyErr_Format(PyExc_TypeError, "record_custom(): the backward function must be callable, got %.100s",
                     Py_TYPE(fn)->tp_name);
        return NULL;
    }
    ds_tape *t = ds_tape_active();
    if (!t) Py_RETURN_NONE;
    ds_tensor **ins = NULL, **outs = NULL;
    Py_ssize_t ni = 0, no = 0;
    PyObject *res = NULL;
    if (tensor_list(ins_o, "record_custom(): inputs", false, &ni, &ins) < 0 ||
        tensor_list(outs_o, "record_custom(): outputs", false, &no, &outs) < 0)
        goto done;
    ds_tape_vjp v = make_vjp(fn);
    ds_status st = ds_tape_record_custom(t, name, (int)ni, ins, (int)no, outs, &v);
    res = st ? ds_py_raise(st) : Py_NewRef(Py_None);
done:
    PyMem_Free(ins);
    PyMem_Free(outs);
    return res;
}

static PyObject *py_add_hook(PyObject *m, PyObject *args) {
    PyObject *x, *fn;
    if (!PyArg_ParseTuple(args, "OO:add_hook", &x, &fn)) return NULL;
    ds_tensor *t = as_tensor(x, "add_hook(): x");
    if (!t) return NULL;
    ds_tape *tape = ds_tape_active();
    if (!tape) Py_RETURN_NONE;
    ds_tape_vjp v = make_vjp(fn);
    ds_status st = ds_tape_add_hook(tape, t, &v);
    return st ? ds_py_raise(st) : Py_NewRef(Py_None);
}

static PyObject *py_record_view(PyObject *m, PyObject *args) {
    PyObject *b, *v;
    if (!PyArg_ParseTuple(args, "OO:record_view", &b, &v)) return NULL;
    ds_tensor *tb = as_tensor(b, "record_view(): base"), *tv = tb ? as_tensor(v, "record_view(): view") : NULL;
    if (!tv) return NULL;
    ds_tape *tape = ds_tape_active();
    if (!tape) Py_RETURN_NONE;
    ds_status st = ds_tape_record_view(tape, tb, tv);
    return st ? ds_py_raise(st) : Py_NewRef(Py_None);
}

static PyObject *py_check_write(PyObject *m, PyObject *args) {
    PyObject *d, *v = Py_None;
    if (!PyArg_ParseTuple(args, "O|O:check_write", &d, &v)) return NULL;
    ds_tensor *td = as_tensor(d, "check_write(): dst");
    if (!td) return NULL;
    ds_tape *tape = ds_tape_active();
    if (!tape) Py_RETURN_NONE;
    ds_status st = ds_tape_check_write(tape, td, DsTensor_Check(v) ? ((TensorObject *)v)->t : NULL);
    return st ? ds_py_raise(st) : Py_NewRef(Py_None);
}

static PyObject *py_set_op_bprop(PyObject *m, PyObject *args) {
    const char *name;
    PyObject *fn;
    if (!PyArg_ParseTuple(args, "sO:set_op_bprop", &name, &fn)) return NULL;
    ds_op_id op = ds_op_lookup(name);
    if (op == DS_OP_COUNT) {
        PyErr_Format(PyExc_ValueError, "set_op_bprop(): unknown op '%s'", name);
        return NULL;
    }
    if (fn != Py_None && !PyCallable_Check(fn)) {
        PyErr_Format(PyExc_TypeError, "set_op_bprop(): the backward function must be callable or None, got %.100s",
                     Py_TYPE(fn)->tp_name);
        return NULL;
    }
    ds_tape_vjp v = make_vjp(fn);
    ds_status st = ds_tape_set_op_vjp(op, fn == Py_None ? NULL : &v);
    return st ? ds_py_raise(st) : Py_NewRef(Py_None);
}

static PyMethodDef tape_module_methods[] = {
    {"is_recording", py_is_recording, METH_NOARGS, "Whether a tape is active on this thread."},
    {"tape_requires_grad", py_requires_grad, METH_O, "Whether x requires grad on the active tape."},
    {"record_custom", py_record_custom, METH_VARARGS,
     "record_custom(name, inputs, outputs, fn): on the active tapes, outputs (computed from inputs without "
     "recording) get the Python backward fn(inputs, outputs, douts, need, attrs) -> grads of the inputs."},
    {"add_hook", py_add_hook, METH_VARARGS,
     "add_hook(x, fn): on the active tapes where x requires grad, the gradient flowing into x goes through fn."},
    {"record_view", py_record_view, METH_VARARGS,
     "record_view(base, view): on the active tapes, view (made without an op, sharing base's memory) is a view of "
     "base for differentiation."},
    {"check_write", py_check_write, METH_VARARGS,
     "check_write(dst, value=None): raises if assigning value into dst in place would break a gradient on the "
     "active tapes."},
    {"set_op_bprop", py_set_op_bprop, METH_VARARGS,
     "set_op_bprop(op_name, fn or None): eager recording of op uses the Python backward fn (process-wide)."},
    {NULL},
};

int ds_py_init_tape(PyObject *m) {
    if (PyType_Ready(&Tape_Type) < 0 || PyType_Ready(&NoGrad_Type) < 0) return -1;
    if (PyModule_AddObjectRef(m, "Tape", (PyObject *)&Tape_Type) < 0) return -1;
    if (PyModule_AddObjectRef(m, "no_grad", (PyObject *)&NoGrad_Type) < 0) return -1;
    return PyModule_AddFunctions(m, tape_module_methods);
}
