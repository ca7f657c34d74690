/* Stand-in for the Graph type (the real one is bind/graph.c in the main tree): a minimal _C.Graph
 * wrapping a ds_graph*, _C.graph_from_text(text) (ds_graph_parse), and the accessor ds_py_graph_get
 * that other binding files use. Only the accessor is part of the interface; replace this file with
 * bind/graph.c when merging. */
#include "bind.h"

typedef struct GraphObject {
    PyObject_HEAD
    ds_graph *g; /* owned; never NULL after construction */
} GraphObject;

static PyTypeObject Graph_Type;

ds_graph *ds_py_graph_get(PyObject *o) {
    if (!PyObject_TypeCheck(o, &Graph_Type)) {
        PyErr_Format(PyExc_TypeError, "expected a Graph, got %.100s", Py_TYPE(o)->tp_name);
        return NULL;
    }
    return ((GraphObject *)o)->g;
}

static void graph_dealloc(GraphObject *self) {
    ds_graph_release(self->g);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyObject *graph_str(GraphObject *self) {
    char *s;
    ds_status st = ds_graph_print(self->g, &s);
    if (st) return ds_py_raise(st);
    PyObject *r = PyUnicode_FromString(s);
    ds_free(s);
    return r;
}

static PyObject *graph_repr(GraphObject *self) {
    return PyUnicode_FromFormat("<Graph @%s: %d params, %d outputs>", ds_graph_name(self->g), ds_graph_num_params(self->g),
                                ds_graph_num_outputs(self->g));
}

static PyTypeObject Graph_Type = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "dynastat._C.Graph",
    .tp_basicsize = sizeof(GraphObject),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "A graph of the IR (stand-in type: made by graph_from_text).",
    .tp_dealloc = (destructor)graph_dealloc,
    .tp_str = (reprfunc)graph_str,
    .tp_repr = (reprfunc)graph_repr,
};

static PyObject *graph_from_text(PyObject *m, PyObject *arg) {
    const char *text = PyUnicode_AsUTF8(arg);
    if (!text) return NULL;
    ds_graph *g;
    ds_status st = ds_graph_parse(text, &g);
    if (st) return ds_py_raise(st);
    GraphObject *o = PyObject_New(GraphObject, &Graph_Type);
    if (!o) {
        ds_graph_release(g);
        return NULL;
    }
    o->g = g;
    return (PyObject *)o;
}

static PyMethodDef graph_module_methods[] = {
    {"graph_from_text", graph_from_text, METH_O, "graph_from_text(text) -> Graph parsed from the IR text format."},
    {NULL},
};

int ds_py_init_graph(PyObject *m) {
    if (PyType_Ready(&Graph_Type) < 0) return -1;
    if (PyModule_AddObjectRef(m, "Graph", (PyObject *)&Graph_Type) < 0) return -1;
    return PyModule_AddFunctions(m, graph_module_methods);
}
