/* Graph capture from Python, the Trace methods adding nodes other than ops: control flow over sub traces
 * (add_if, add_while, add_call, whose sub traces come from Trace.group()), effects (add_print, add_assign of a
 * weight parameter) and rebind (a Tensor reads another graph value from then on). Each converts its Python
 * arguments, calls the matching ds_trace_* function (include/dynastat.h, section "graph capture") and wraps the
 * results; the Trace type and its method table are bind/trace.c. */
#include "graph.h"

static ds_trace *sub_arg(PyObject *o, const char *what) {
    if (!TraceObject_Check(o)) {
        PyErr_Format(PyExc_TypeError, "%s must be a Trace (from group()), got %.100s", what, Py_TYPE(o)->tp_name);
        return NULL;
    }
    return ((TraceObject *)o)->t;
}

#define MAX_RESULTS 64

PyObject *ds_py_trace_add_if(TraceObject *self, PyObject *args, PyObject *kwargs) {
    static char *kwlist[] = {"cond", "then_sub", "else_sub", "args", NULL};
    PyObject *cond_o, *then_o, *else_o, *args_o = Py_None;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "OOO|O:add_if", kwlist, &cond_o, &then_o, &else_o, &args_o)) return NULL;
    ds_trace *ts = sub_arg(then_o, "add_if(): then_sub"), *es = ts ? sub_arg(else_o, "add_if(): else_sub") : NULL;
    if (!es) return NULL;
    ds_tensor *cond, **a = NULL, *res[MAX_RESULTS];
    int na = 0, nres = 0;
    if (to_tensor(cond_o, &cond) < 0) return NULL;
    if (args_o != Py_None && ds_py_to_tensors(args_o, "add_if(): args", &a, &na) < 0) {
        ds_tensor_release(cond);
        return NULL;
    }
    ds_status st = ds_trace_add_if(self->t, cond, ts, es, na, a, MAX_RESULTS, res, &nres);
    ds_tensor_release(cond);
    ds_py_free_tensors(a, na);
    return st ? ds_py_raise(st) : ds_py_wrap_list(res, nres);
}

PyObject *ds_py_trace_add_while(TraceObject *self, PyObject *args, PyObject *kwargs) {
    static char *kwlist[] = {"cond_sub", "body_sub", "init", NULL};
    PyObject *cond_o, *body_o, *init_o;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "OOO:add_while", kwlist, &cond_o, &body_o, &init_o)) return NULL;
    ds_trace *cs = sub_arg(cond_o, "add_while(): cond_sub"), *bs = cs ? sub_arg(body_o, "add_while(): body_sub") : NULL;
    if (!bs) return NULL;
    ds_tensor **init = NULL, **res = NULL;
    int n = 0;
    if (ds_py_to_tensors(init_o, "add_while(): init", &init, &n) < 0) return NULL;
    if (!(res = PyMem_Calloc((size_t)n + 1, sizeof(ds_tensor *)))) {
        ds_py_free_tensors(init, n);
        return PyErr_NoMemory();
    }
    ds_status st = ds_trace_add_while(self->t, cs, bs, n, init, res);
    ds_py_free_tensors(init, n);
    PyObject *r = st ? ds_py_raise(st) : ds_py_wrap_list(res, n);
    PyMem_Free(res);
    return r;
}

PyObject *ds_py_trace_add_call(TraceObject *self, PyObject *args, PyObject *kwargs) {
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
    if (ds_py_to_tensors(args_o, "add_call(): args", &a, &na) < 0) return NULL;
    if (extra_o != Py_None && ds_py_to_tensors(extra_o, "add_call(): extra", &x, &nx) < 0) {
        ds_py_free_tensors(a, na);
        return NULL;
    }
    ds_status st = ds_trace_add_call(self->t, sub, callee, na, a, nx, x, MAX_RESULTS, res, &nres);
    ds_py_free_tensors(a, na);
    ds_py_free_tensors(x, nx);
    return st ? ds_py_raise(st) : ds_py_wrap_list(res, nres);
}

PyObject *ds_py_trace_add_print(TraceObject *self, PyObject *args) {
    const char *prefix;
    PyObject *vals_o;
    if (!PyArg_ParseTuple(args, "sO:add_print", &prefix, &vals_o)) return NULL;
    ds_tensor **v = NULL;
    int n = 0;
    if (ds_py_to_tensors(vals_o, "add_print(): tensors", &v, &n) < 0) return NULL;
    ds_status st = ds_trace_add_print(self->t, prefix, n, v);
    ds_py_free_tensors(v, n);
    if (st) return ds_py_raise(st);
    Py_RETURN_NONE;
}

PyObject *ds_py_trace_add_assign(TraceObject *self, PyObject *args) {
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

PyObject *ds_py_trace_rebind(TraceObject *self, PyObject *args) {
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
    if (ds_py_trace_remember(self, x_o) < 0) return NULL;
    Py_RETURN_NONE;
}
