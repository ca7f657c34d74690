/* JitFunction, entries: the cached entries and everything about them between a call's key and running it. It
 * owns an entry's lifetime (refcounted, so clearing or evicting one while it runs is safe), the LRU list
 * (most recent first), the lookup (step 2 of the contract at the top of bind/jit.c: the candidates whose key
 * matches, then the first whose guards pass), output templates (parsed from compile's out_template, built
 * into the Python result of a run), and a miss (step 5: compile, make the entry, insert it and evict the
 * least recently used beyond max_entries). */
#include <string.h>

#include "jit.h"

/* ---------------------------------------------------------------- lifetime */
static void tmpl_free(tmpl *t) {
    if (!t) return;
    Py_CLEAR(t->obj);
    if (t->kind >= TP_TUPLE && t->ch) {
        for (int i = 0; i < t->k; i++) tmpl_free(&t->ch[i]);
        PyMem_Free(t->ch);
        t->ch = NULL;
    }
}

static int tmpl_traverse(const tmpl *t, visitproc visit, void *arg) {
    Py_VISIT(t->obj);
    if (t->kind >= TP_TUPLE && t->ch)
        for (int i = 0; i < t->k; i++) {
            int rc = tmpl_traverse(&t->ch[i], visit, arg);
            if (rc) return rc;
        }
    return 0;
}

static void entry_clear_objects(jit_entry *e) {
    for (int i = 0; i < e->nrefs; i++) Py_CLEAR(e->refs[i]);
    e->nrefs = 0;
    for (int i = 0; i < e->nextra; i++) Py_CLEAR(e->extra[i]);
    e->nextra = 0;
    Py_CLEAR(e->guards);
    e->ng = 0;
    Py_CLEAR(e->target);
    if (e->tpl) {
        tmpl_free(e->tpl);
        PyMem_Free(e->tpl);
        e->tpl = NULL;
    }
}

void jit_entry_release(jit_entry *e) {
    if (!e || --e->refcount > 0) return;
    entry_clear_objects(e);
    jit_graph_release(e->jg);
    PyMem_Free(e->key);
    PyMem_Free(e->wild);
    PyMem_Free(e->refs);
    PyMem_Free(e->g);
    PyMem_Free(e->extra);
    PyMem_Free(e);
}

int jit_entry_traverse(const jit_entry *e, visitproc visit, void *arg) {
    for (int i = 0; i < e->nrefs; i++) Py_VISIT(e->refs[i]);
    for (int i = 0; i < e->nextra; i++) Py_VISIT(e->extra[i]);
    Py_VISIT(e->guards);
    Py_VISIT(e->target);
    return e->tpl ? tmpl_traverse(e->tpl, visit, arg) : 0;
}

/* ---------------------------------------------------------------- the LRU list */
void jit_list_unlink(JitFunctionObject *jf, jit_entry *e) {
    if (e->prev) e->prev->next = e->next;
    else jf->head = e->next;
    if (e->next) e->next->prev = e->prev;
    else jf->tail = e->prev;
    e->prev = e->next = NULL;
    e->linked = false;
    jf->n_entries--;
}

void jit_list_push_front(JitFunctionObject *jf, jit_entry *e) {
    e->prev = NULL;
    e->next = jf->head;
    if (jf->head) jf->head->prev = e;
    jf->head = e;
    if (!jf->tail) jf->tail = e;
    e->linked = true;
    jf->n_entries++;
}

void jit_clear_entries(JitFunctionObject *jf) {
    while (jf->head) {
        jit_entry *e = jf->head;
        jit_list_unlink(jf, e);
        jit_entry_release(e);
    }
}

/* ---------------------------------------------------------------- lookup */
/* The entry for this call (a new reference), NULL without error on a miss, NULL with an error set when a
 * guard raised. Guards may run Python code that changes the cache: the candidates are held first. */
jit_entry *jit_lookup(JitFunctionObject *jf, const walk *w) {
    uint64_t hfull = hash_full(w);
    jit_entry *e = jf->head;
    while (e && !jit_key_matches(e, w, hfull)) e = e->next;
    if (!e) return NULL;
    if (!e->ng) { /* no guards: a hit without running Python code */
        if (e != jf->head) {
            jit_list_unlink(jf, e);
            jit_list_push_front(jf, e);
        }
        e->refcount++;
        return e;
    }
    jit_entry *stack[16], **cand = stack;
    int n = 0, cap = 16;
    for (; e; e = e->next) {
        if (!jit_key_matches(e, w, hfull)) continue;
        if (n == cap) {
            jit_entry **c = PyMem_Malloc(sizeof(jit_entry *) * (size_t)cap * 2);
            if (!c) {
                for (int i = 0; i < n; i++) jit_entry_release(cand[i]);
                if (cand != stack) PyMem_Free(cand);
                PyErr_NoMemory();
                return NULL;
            }
            memcpy(c, cand, sizeof(jit_entry *) * (size_t)n);
            if (cand != stack) PyMem_Free(cand);
            cand = c;
            cap *= 2;
        }
        e->refcount++;
        cand[n++] = e;
    }
    jit_entry *found = NULL;
    bool failed = false;
    for (int i = 0; i < n && !found && !failed; i++) {
        jit_entry *c = cand[i];
        int ok = 1;
        for (int k = 0; k < c->ng && ok == 1; k++) ok = jit_guard_check(&c->g[k]);
        if (ok < 0) failed = true;
        else if (ok) found = c;
    }
    for (int i = 0; i < n; i++)
        if (cand[i] != found) jit_entry_release(cand[i]);
    if (cand != stack) PyMem_Free(cand);
    if (found && found->linked && found != jf->head) {
        jit_list_unlink(jf, found);
        jit_list_push_front(jf, found);
    }
    return found;
}

/* ---------------------------------------------------------------- output templates */
PyObject *jit_tmpl_build(const tmpl *t, ds_tensor **outs, PyObject **wrapped) {
    switch (t->kind) {
    case TP_OUT:
        if (!wrapped[t->k] && !(wrapped[t->k] = ds_py_wrap(ds_tensor_retain(outs[t->k])))) return NULL;
        return Py_NewRef(wrapped[t->k]);
    case TP_CONST: return Py_NewRef(t->obj);
    case TP_TUPLE:
    case TP_LIST: {
        PyObject *r = t->kind == TP_TUPLE ? PyTuple_New(t->k) : PyList_New(t->k);
        for (int i = 0; r && i < t->k; i++) {
            PyObject *c = jit_tmpl_build(&t->ch[i], outs, wrapped);
            if (!c) Py_CLEAR(r);
            else if (t->kind == TP_TUPLE) PyTuple_SET_ITEM(r, i, c);
            else PyList_SET_ITEM(r, i, c);
        }
        if (r && t->obj) Py_SETREF(r, PyObject_CallObject(t->obj, r)); /* a namedtuple */
        return r;
    }
    default: {
        PyObject *r = PyDict_New();
        for (int i = 0; r && i < t->k; i++) {
            PyObject *c = jit_tmpl_build(&t->ch[i], outs, wrapped);
            if (!c || PyDict_SetItem(r, PyTuple_GET_ITEM(t->obj, i), c) < 0) Py_CLEAR(r);
            Py_XDECREF(c);
        }
        return r;
    }
    }
}

static int parse_tmpl(JitFunctionObject *jf, PyObject *o, int n_out, tmpl *t, int depth) {
    memset(t, 0, sizeof *t);
    Py_ssize_t n = PyTuple_Check(o) ? PyTuple_GET_SIZE(o) : 0;
    PyObject *tag = n ? PyTuple_GET_ITEM(o, 0) : NULL;
    if (depth > WALK_MAX_DEPTH) {
        JF_ERR(jf, PyExc_ValueError, "the output template is nested more than %d deep", WALK_MAX_DEPTH);
        return -1;
    }
    if (!tag || !PyUnicode_Check(tag)) goto bad;
    if (!PyUnicode_CompareWithASCIIString(tag, "T") && n == 2) {
        long k = PyLong_Check(PyTuple_GET_ITEM(o, 1)) ? PyLong_AsLong(PyTuple_GET_ITEM(o, 1)) : -1;
        if (k == -1 && PyErr_Occurred()) PyErr_Clear();
        if (k < 0 || k >= n_out) {
            JF_ERR(jf, PyExc_ValueError, "the output template refers to graph output %R, but the graph has %d outputs",
                   PyTuple_GET_ITEM(o, 1), n_out);
            return -1;
        }
        t->kind = TP_OUT;
        t->k = (int)k;
        return 0;
    }
    if (!PyUnicode_CompareWithASCIIString(tag, "C") && n == 2) {
        t->kind = TP_CONST;
        t->obj = Py_NewRef(PyTuple_GET_ITEM(o, 1));
        return 0;
    }
    bool is_dict = !PyUnicode_CompareWithASCIIString(tag, "dict");
    bool is_tuple = !PyUnicode_CompareWithASCIIString(tag, "tuple");
    bool is_list = !PyUnicode_CompareWithASCIIString(tag, "list");
    if (is_dict ? n != 3 : is_tuple ? n != 2 && n != 3 : n != 2 || !is_list) goto bad;
    if (is_tuple && n == 3) { /* ('tuple', [...], cls): a tuple subclass (a namedtuple) made as cls(*items) */
        PyObject *cls = PyTuple_GET_ITEM(o, 2);
        if (!PyType_Check(cls) || !PyType_IsSubtype((PyTypeObject *)cls, &PyTuple_Type)) goto bad;
        t->obj = Py_NewRef(cls);
    }
    PyObject *items = PySequence_Fast(PyTuple_GET_ITEM(o, is_dict ? 2 : 1), "");
    if (!items) {
        PyErr_Clear();
        goto bad;
    }
    Py_ssize_t k = PySequence_Fast_GET_SIZE(items);
    t->kind = is_dict ? TP_DICT : is_tuple ? TP_TUPLE : TP_LIST;
    if (is_dict) {
        t->obj = PySequence_Tuple(PyTuple_GET_ITEM(o, 1));
        if (!t->obj || PyTuple_GET_SIZE(t->obj) != k) {
            PyErr_Clear();
            Py_DECREF(items);
            goto bad;
        }
    }
    t->ch = PyMem_Calloc((size_t)(k ? k : 1), sizeof(tmpl));
    if (!t->ch) {
        Py_DECREF(items);
        PyErr_NoMemory();
        return -1;
    }
    for (Py_ssize_t i = 0; i < k; i++) {
        t->k = (int)i + 1; /* children to free on failure (the rest are zeroed) */
        if (parse_tmpl(jf, PySequence_Fast_GET_ITEM(items, i), n_out, &t->ch[i], depth + 1) < 0) {
            Py_DECREF(items);
            return -1;
        }
    }
    t->k = (int)k;
    Py_DECREF(items);
    return 0;
bad:
    JF_ERR(jf, PyExc_ValueError, "bad output template %R: expected ('T', k), ('C', obj), ('tuple', [...]), "
           "('tuple', [...], tuple subclass), ('list', [...]) or ('dict', [keys], [...])", o);
    return -1;
}

/* ---------------------------------------------------------------- miss: compile and insert */
static jit_entry *make_entry(JitFunctionObject *jf, PyObject *res, const walk *w) {
    jit_entry *e = PyMem_Calloc(1, sizeof *e);
    if (!e) {
        PyErr_NoMemory();
        return NULL;
    }
    e->refcount = 1;
    Py_ssize_t n = PyTuple_Check(res) ? PyTuple_GET_SIZE(res) : 0;
    PyObject *kind = n ? PyTuple_GET_ITEM(res, 0) : NULL;
    bool python = kind && PyUnicode_Check(kind) && !PyUnicode_CompareWithASCIIString(kind, "python") && n == 2;
    bool graph = kind && PyUnicode_Check(kind) && !PyUnicode_CompareWithASCIIString(kind, "graph") && n == 6;
    if (!python && !graph) {
        JF_ERR(jf, PyExc_TypeError, "compile must return ('graph', graph, extra_inputs, guards, out_template, "
               "dim_pattern) or ('python', callable), got %R", res);
        goto fail;
    }
    if (python) {
        e->python = true;
        e->target = Py_NewRef(PyTuple_GET_ITEM(res, 1));
        if (!PyCallable_Check(e->target)) {
            JF_ERR(jf, PyExc_TypeError, "compile returned a 'python' entry whose callable is a %.100s",
                   Py_TYPE(e->target)->tp_name);
            goto fail;
        }
        if (jit_set_key(jf, e, w, Py_None) < 0 || jit_parse_guards(jf, e, Py_None) < 0) goto fail;
        return e;
    }
    PyObject *gobj = PyTuple_GET_ITEM(res, 1), *extra = PyTuple_GET_ITEM(res, 2), *guards = PyTuple_GET_ITEM(res, 3);
    PyObject *tpl = PyTuple_GET_ITEM(res, 4), *pattern = PyTuple_GET_ITEM(res, 5);
    ds_graph *g = ds_py_graph_get(gobj);
    if (!g) goto fail;
    e->target = Py_NewRef(gobj);
    PyObject *xs = extra == Py_None ? PyTuple_New(0) : PySequence_Fast(extra, "");
    if (!xs) {
        PyErr_Clear();
        JF_ERR(jf, PyExc_TypeError, "extra_inputs must be a list of Tensors, got %.100s", Py_TYPE(extra)->tp_name);
        goto fail;
    }
    Py_ssize_t nx = PySequence_Fast_GET_SIZE(xs);
    e->extra = PyMem_Calloc((size_t)(nx ? nx : 1), sizeof(PyObject *));
    if (!e->extra) {
        Py_DECREF(xs);
        PyErr_NoMemory();
        goto fail;
    }
    for (Py_ssize_t i = 0; i < nx; i++) {
        PyObject *x = PySequence_Fast_GET_ITEM(xs, i);
        if (!DsTensor_Check(x)) {
            JF_ERR(jf, PyExc_TypeError, "extra_inputs[%zd] must be a Tensor, got %.100s", i, Py_TYPE(x)->tp_name);
            Py_DECREF(xs);
            goto fail;
        }
        e->extra[e->nextra++] = Py_NewRef(x);
    }
    Py_DECREF(xs);
    int n_params = ds_graph_num_params(g), n_out = ds_graph_num_outputs(g);
    if (n_params != w->nts + e->nextra) {
        JF_ERR(jf, PyExc_ValueError, "the compiled graph '%s' takes %d inputs, but the call provides %d (%d tensor "
               "argument%s + %d extra input%s)", ds_graph_name(g), n_params, w->nts + e->nextra, w->nts,
               w->nts == 1 ? "" : "s", e->nextra, e->nextra == 1 ? "" : "s");
        goto fail;
    }
    if (!(e->tpl = PyMem_Calloc(1, sizeof(tmpl)))) {
        PyErr_NoMemory();
        goto fail;
    }
    if (parse_tmpl(jf, tpl, n_out, e->tpl, 0) < 0) goto fail;
    if (jit_set_key(jf, e, w, pattern) < 0 || jit_parse_guards(jf, e, guards) < 0) goto fail;
    ds_status st = jit_graph_new(g, &e->jg);
    if (st) {
        ds_py_raise(st);
        goto fail;
    }
    return e;
fail:
    jit_entry_release(e);
    return NULL;
}

jit_entry *jit_compile_and_insert(JitFunctionObject *jf, const walk *w, PyObject *const *args, Py_ssize_t nargs,
                                  PyObject *kwnames) {
    jf->misses++;
    PyObject *tup = PyTuple_New(nargs), *kw = PyDict_New(), *res = NULL;
    if (!tup || !kw) goto fail;
    for (Py_ssize_t i = 0; i < nargs; i++) PyTuple_SET_ITEM(tup, i, Py_NewRef(args[i]));
    Py_ssize_t nkw = kwnames ? PyTuple_GET_SIZE(kwnames) : 0;
    for (Py_ssize_t k = 0; k < nkw; k++)
        if (PyDict_SetItem(kw, PyTuple_GET_ITEM(kwnames, k), args[nargs + k]) < 0) goto fail;
    res = PyObject_CallFunctionObjArgs(jf->compile, tup, kw, NULL);
    if (!res) goto fail;
    jit_entry *e = make_entry(jf, res, w);
    Py_DECREF(res);
    Py_DECREF(tup);
    Py_DECREF(kw);
    if (!e) return NULL;
    while (jf->n_entries >= jf->max_entries && jf->tail) {
        jit_entry *old = jf->tail;
        jit_list_unlink(jf, old);
        jit_entry_release(old);
        jf->evictions++;
    }
    jit_list_push_front(jf, e);
    e->refcount++; /* the caller's */
    return e;
fail:
    Py_XDECREF(tup);
    Py_XDECREF(kw);
    return NULL;
}
