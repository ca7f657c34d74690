/* Op functions: one callable per op of the op table (dynastat._C.ops[name]), with the arguments
 * parsed in C: tensor inputs first, then attributes by position or keyword, as in the schema. */
#include <string.h>

#include "bind.h"
#include "ops/op.h"

typedef struct OpFunctionObject {
    PyObject_HEAD
    ds_op_id op;
    const ds_op_info *info;
    PyObject *attr_names[8]; /* interned */
    vectorcallfunc vectorcall;
} OpFunctionObject;

static PyTypeObject OpFunction_Type;

#define INTS_POOL 64

typedef struct attr_scratch {
    int64_t pool[INTS_POOL];
    int used;
    int64_t *heap[8];
    int nheap;
} attr_scratch;

static void scratch_free(attr_scratch *s) {
    for (int i = 0; i < s->nheap; i++) PyMem_Free(s->heap[i]);
}

int ds_py_parse_shape(PyObject *o, int *ndim, int64_t *shape);

/* The schema kind of attribute i, parsed from the schema string. */
static ds_attr_kind attr_kind(const ds_op_info *info, int i) {
    const char *s = info->attr_schema;
    for (int k = 0; k < i; k++) s = strchr(s, ';') + 1;
    const char *c = strchr(s, ':') + 1;
    if (!strncmp(c, "bool", 4)) return DS_ATTR_BOOL;
    if (!strncmp(c, "ints", 4)) return DS_ATTR_INTS;
    if (!strncmp(c, "int", 3)) return DS_ATTR_INT;
    if (!strncmp(c, "float", 5)) return DS_ATTR_FLOAT;
    return DS_ATTR_DTYPE;
}

static int convert_attr(OpFunctionObject *f, int i, PyObject *v, ds_attr *a, attr_scratch *s) {
    if (v == Py_None) {
        a->kind = DS_ATTR_NONE;
        return 0;
    }
    ds_attr_kind k = attr_kind(f->info, i);
    const char *name = ds_op_attr_name(f->op, i);
    switch (k) {
    case DS_ATTR_BOOL: {
        int truth = PyObject_IsTrue(v);
        a->kind = DS_ATTR_BOOL;
        a->v.b = truth > 0;
        return truth < 0 ? -1 : 0;
    }
    case DS_ATTR_INT:
        a->kind = DS_ATTR_INT;
        a->v.i = PyLong_AsLongLong(v);
        if (a->v.i == -1 && PyErr_Occurred()) goto type_error;
        return 0;
    case DS_ATTR_FLOAT:
        a->kind = DS_ATTR_FLOAT;
        a->v.f = PyFloat_AsDouble(v);
        if (a->v.f == -1.0 && PyErr_Occurred()) goto type_error;
        return 0;
    case DS_ATTR_DTYPE:
        a->kind = DS_ATTR_DTYPE;
        return ds_py_dtype_from_object(v, &a->v.dtype);
    case DS_ATTR_INTS: {
        a->kind = DS_ATTR_INTS;
        if (PyLong_Check(v) || DsTensor_Check(v)) {
            if (s->used >= INTS_POOL) goto too_many;
            int64_t x = PyLong_AsLongLong(v);
            if (x == -1 && PyErr_Occurred()) goto type_error;
            s->pool[s->used] = x;
            a->v.ints = &s->pool[s->used++];
            a->n = 1;
            return 0;
        }
        PyObject *seq = PySequence_Fast(v, "");
        if (!seq) goto type_error;
        Py_ssize_t n = PySequence_Fast_GET_SIZE(seq);
        int64_t *dst;
        if (s->used + n <= INTS_POOL) {
            dst = &s->pool[s->used];
            s->used += (int)n;
        } else {
            if (s->nheap >= 8) {
                Py_DECREF(seq);
                goto too_many;
            }
            dst = PyMem_Malloc(sizeof(int64_t) * (size_t)(n ? n : 1));
            if (!dst) {
                Py_DECREF(seq);
                PyErr_NoMemory();
                return -1;
            }
            s->heap[s->nheap++] = dst;
        }
        for (Py_ssize_t j = 0; j < n; j++) {
            dst[j] = PyLong_AsLongLong(PySequence_Fast_GET_ITEM(seq, j));
            if (dst[j] == -1 && PyErr_Occurred()) {
                Py_DECREF(seq);
                goto type_error;
            }
        }
        Py_DECREF(seq);
        a->v.ints = dst;
        a->n = n;
        return 0;
    }
    default: break;
    }
type_error:
    PyErr_Clear();
    {
        static const char *const kind_names[] = {"None", "a bool", "an int", "a float", "an int or a sequence of ints", "a dtype"};
        PyErr_Format(PyExc_TypeError, "%s(): argument '%s' must be %s, got %.100s", f->info->name, name,
                     kind_names[k], Py_TYPE(v)->tp_name);
    }
    return -1;
too_many:
    PyErr_Format(PyExc_ValueError, "%s(): too many integer attribute values", f->info->name);
    return -1;
}

/* Converts positional/keyword inputs; returns the number of tensors in `in` (all retained). */
static int convert_inputs(OpFunctionObject *f, PyObject *const *args, Py_ssize_t n, ds_tensor **in, int max) {
    /* scalars follow the promotion rule against a reference tensor (for where: x or y) */
    const ds_tensor *ref = NULL;
    for (Py_ssize_t i = (f->op == DS_OP_WHERE ? 1 : 0); i < n && !ref; i++)
        if (DsTensor_Check(args[i])) ref = ((TensorObject *)args[i])->t;
    for (Py_ssize_t i = 0; i < n; i++) {
        int rc = ref && !(f->op == DS_OP_WHERE && i == 0) ? ds_py_operand(args[i], ref, &in[i])
                                                         : ds_py_to_tensor(args[i], -1, &in[i]);
        if (rc < 0) {
            for (Py_ssize_t j = 0; j < i; j++) ds_tensor_release(in[j]);
            return -1;
        }
    }
    return (int)n;
}

static PyObject *op_vectorcall(PyObject *self, PyObject *const *args, size_t nargsf, PyObject *kwnames) {
    OpFunctionObject *f = (OpFunctionObject *)self;
    const ds_op_info *info = f->info;
    Py_ssize_t nargs = PyVectorcall_NARGS(nargsf);
    ds_tensor *stack_in[8], **in = stack_in;
    PyObject *seq = NULL, *result = NULL;
    PyObject *const *tensor_args;
    Py_ssize_t n_tensors, attr_pos;
    if (info->n_in < 0) { /* variadic: first argument is a sequence of tensors */
        if (nargs < 1) {
            PyErr_Format(PyExc_TypeError, "%s() missing its tensor list argument", info->name);
            return NULL;
        }
        seq = PySequence_Fast(args[0], "");
        if (!seq) {
            PyErr_Format(PyExc_TypeError, "%s(): the first argument must be a list or tuple of tensors",
                         info->name);
            return NULL;
        }
        n_tensors = PySequence_Fast_GET_SIZE(seq);
        tensor_args = PySequence_Fast_ITEMS(seq);
        attr_pos = 1;
    } else {
        if (nargs < info->n_in) {
            PyErr_Format(PyExc_TypeError, "%s() takes %d tensor arguments, got %zd", info->name, info->n_in, nargs);
            return NULL;
        }
        n_tensors = info->n_in;
        tensor_args = args;
        attr_pos = info->n_in;
    }
    if (nargs - attr_pos > info->n_attrs) {
        PyErr_Format(PyExc_TypeError, "%s() takes at most %d arguments (%zd given)", info->name,
                     (int)(attr_pos + info->n_attrs), nargs);
        Py_XDECREF(seq);
        return NULL;
    }
    ds_attr attrs[8];
    attr_scratch scratch;
    scratch.used = 0;
    scratch.nheap = 0;
    for (int i = 0; i < info->n_attrs; i++) attrs[i].kind = DS_ATTR_NONE;
    for (Py_ssize_t i = attr_pos; i < nargs; i++)
        if (convert_attr(f, (int)(i - attr_pos), args[i], &attrs[i - attr_pos], &scratch) < 0) goto done;
    if (kwnames) {
        Py_ssize_t nk = PyTuple_GET_SIZE(kwnames);
        for (Py_ssize_t k = 0; k < nk; k++) {
            PyObject *key = PyTuple_GET_ITEM(kwnames, k);
            int i = 0;
            while (i < info->n_attrs && PyUnicode_Compare(key, f->attr_names[i]) != 0) i++;
            if (i == info->n_attrs) {
                PyErr_Format(PyExc_TypeError, "%s() got an unexpected keyword argument '%U'", info->name, key);
                goto done;
            }
            if (convert_attr(f, i, args[nargs + k], &attrs[i], &scratch) < 0) goto done;
        }
    }
    if (n_tensors > 8) {
        in = PyMem_Malloc(sizeof(ds_tensor *) * (size_t)n_tensors);
        if (!in) {
            PyErr_NoMemory();
            goto done;
        }
    }
    if (convert_inputs(f, tensor_args, n_tensors, in, (int)n_tensors) < 0) goto done;
    ds_tensor *outs[DS_OP_MAX_OUT];
    int n_out = 0;
    ds_status st = ds_op_run(f->op, (int)n_tensors, in, attrs, DS_OP_MAX_OUT, outs, &n_out);
    for (Py_ssize_t i = 0; i < n_tensors; i++) ds_tensor_release(in[i]);
    if (st) {
        ds_py_raise(st);
        goto done;
    }
    if (info->n_out == 1) result = ds_py_wrap(outs[0]);
    else if (info->n_out == 0) result = Py_NewRef(Py_None);
    else {
        result = PyTuple_New(n_out);
        for (int i = 0; i < n_out; i++) {
            PyObject *o = result ? ds_py_wrap(outs[i]) : (ds_tensor_release(outs[i]), NULL);
            if (result && !o) Py_CLEAR(result);
            if (result) PyTuple_SET_ITEM(result, i, o);
        }
    }
done:
    scratch_free(&scratch);
    if (in != stack_in) PyMem_Free(in);
    Py_XDECREF(seq);
    return result;
}

static void op_dealloc(OpFunctionObject *f) {
    for (int i = 0; i < 8; i++) Py_XDECREF(f->attr_names[i]);
    PyObject_Free(f);
}

static PyObject *op_repr(OpFunctionObject *f) { return PyUnicode_FromFormat("<dynastat op %s>", f->info->name); }

static PyObject *op_get_name(OpFunctionObject *f, void *c) { return PyUnicode_FromString(f->info->name); }
static PyObject *op_get_info(OpFunctionObject *f, void *c) {
    static const char *const kinds[] = {"unary", "binary", "reduce", "view", "shape", "create", "random", "other"};
    return Py_BuildValue("{s:s,s:s,s:s,s:i,s:i,s:s,s:i}", "name", f->info->name, "prim", f->info->prim, "kind",
                         kinds[f->info->kind], "n_in", f->info->n_in, "n_out", f->info->n_out, "attrs",
                         f->info->attr_schema, "id", (int)f->op);
}

static PyGetSetDef op_getset[] = {
    {"__name__", (getter)op_get_name, NULL, NULL, NULL},
    {"info", (getter)op_get_info, NULL, "the op table entry", NULL},
    {NULL},
};

static PyTypeObject OpFunction_Type = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "dynastat._C.OpFunction",
    .tp_basicsize = sizeof(OpFunctionObject),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_VECTORCALL,
    .tp_vectorcall_offset = offsetof(OpFunctionObject, vectorcall),
    .tp_call = PyVectorcall_Call,
    .tp_dealloc = (destructor)op_dealloc,
    .tp_repr = (reprfunc)op_repr,
    .tp_getset = op_getset,
    .tp_doc = "An op of the op table, called with tensors then attributes.",
};

int ds_py_init_ops(PyObject *m) {
    if (PyType_Ready(&OpFunction_Type) < 0) return -1;
    PyObject *d = PyDict_New();
    if (!d) return -1;
    for (int op = 0; op < DS_OP_COUNT; op++) {
        OpFunctionObject *f = PyObject_New(OpFunctionObject, &OpFunction_Type);
        if (!f) goto fail;
        f->op = (ds_op_id)op;
        f->info = ds_op_get_info((ds_op_id)op);
        f->vectorcall = op_vectorcall;
        for (int i = 0; i < 8; i++) {
            const char *n = ds_op_attr_name((ds_op_id)op, i);
            f->attr_names[i] = n ? PyUnicode_InternFromString(n) : NULL;
        }
        int rc = PyDict_SetItemString(d, f->info->name, (PyObject *)f);
        Py_DECREF(f);
        if (rc < 0) goto fail;
    }
    if (PyModule_AddObjectRef(m, "ops", d) < 0) goto fail;
    Py_DECREF(d);
    return 0;
fail:
    Py_DECREF(d);
    return -1;
}
