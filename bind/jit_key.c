/* JitFunction, keys and guards: steps 1 and 2 of the contract at the top of bind/jit.c, up to choosing an
 * entry. It owns the walk of a call's arguments into the flat token sequence and its two hashes (the tensors
 * found on the way are the plan's inputs), the comparison of a walked call with an entry's key (wildcard dims
 * included), an entry's key and guards made from the result of compile (dim_pattern and the guard tuples,
 * validated), and the guard checks. */
#include <math.h>
#include <string.h>

#include "jit.h"

/* ---------------------------------------------------------------- the argument walk */
enum {
    K_TENSOR = 1, /* | dtype << 8 | ndim << 16, then the dims */
    K_NONE,
    K_FALSE,
    K_TRUE,
    K_INT,    /* value */
    K_BIGINT, /* decimal digits as bytes */
    K_FLOAT,  /* bits */
    K_STR,    /* | kind << 8, length, then the code units packed 8 bytes a token */
    K_TUPLE,  /* length, children */
    K_LIST,
    K_DICT,   /* length, then key, value per item */
    K_OBJ,    /* pointer (identity) */
    K_SUB,    /* type pointer, then the base type's encoding */
    K_KW,     /* header: positional count, keyword count */
};

void jit_walk_init(walk *w) {
    w->tok = w->tok0;
    w->captok = (int)(sizeof w->tok0 / sizeof w->tok0[0]);
    w->ntok = 0;
    w->ts = w->ts0;
    w->tpos = w->tpos0;
    w->capts = 16;
    w->nts = 0;
    w->refs = w->refs0;
    w->caprefs = 8;
    w->nrefs = 0;
    w->hs = 0xcbf29ce484222325ull;
    w->hd = 0x84222325cbf29ce4ull;
}

void jit_walk_free(walk *w) {
    for (int i = 0; i < w->nts; i++) Py_DECREF(w->ts[i]);
    for (int i = 0; i < w->nrefs; i++) Py_DECREF(w->refs[i]);
    if (w->tok != w->tok0) PyMem_Free(w->tok);
    if (w->ts != w->ts0) PyMem_Free(w->ts);
    if (w->tpos != w->tpos0) PyMem_Free(w->tpos);
    if (w->refs != w->refs0) PyMem_Free(w->refs);
}

/* Grows an array that starts in the walk's inline storage. */
static int grow(void **arr, void *inline_arr, int *cap, size_t elem) {
    int ncap = *cap * 2;
    void *p = PyMem_Malloc(elem * (size_t)ncap);
    if (!p) {
        PyErr_NoMemory();
        return -1;
    }
    memcpy(p, *arr, elem * (size_t)*cap);
    if (*arr != inline_arr) PyMem_Free(*arr);
    *arr = p;
    *cap = ncap;
    return 0;
}

static inline int put(walk *w, int64_t v) {
    if (w->ntok == w->captok && grow((void **)&w->tok, w->tok0, &w->captok, sizeof(int64_t)) < 0) return -1;
    w->tok[w->ntok++] = v;
    w->hs = mix(w->hs, (uint64_t)v);
    return 0;
}

static inline int put_dim(walk *w, int64_t v) {
    if (w->ntok == w->captok && grow((void **)&w->tok, w->tok0, &w->captok, sizeof(int64_t)) < 0) return -1;
    w->tok[w->ntok++] = v;
    w->hd = mix(w->hd, (uint64_t)v);
    return 0;
}

static int keep(walk *w, PyObject *o) {
    if (w->nrefs == w->caprefs && grow((void **)&w->refs, w->refs0, &w->caprefs, sizeof(PyObject *)) < 0) return -1;
    w->refs[w->nrefs++] = Py_NewRef(o);
    return 0;
}

static int put_bytes(walk *w, const void *data, size_t n) {
    const unsigned char *p = data;
    for (size_t i = 0; i < n; i += 8) {
        int64_t v = 0;
        memcpy(&v, p + i, n - i < 8 ? n - i : 8);
        if (put(w, v) < 0) return -1;
    }
    return 0;
}

static int walk_tensor(walk *w, PyObject *o) {
    const ds_tensor *t = ((TensorObject *)o)->t;
    if (put(w, K_TENSOR | (int64_t)t->dtype << 8 | (int64_t)t->ndim << 16) < 0) return -1;
    if (w->nts == w->capts) {
        int cap = w->capts;
        if (grow((void **)&w->ts, w->ts0, &w->capts, sizeof(PyObject *)) < 0 ||
            grow((void **)&w->tpos, w->tpos0, &cap, sizeof(int)) < 0)
            return -1;
    }
    w->ts[w->nts] = Py_NewRef(o);
    w->tpos[w->nts++] = w->ntok;
    for (int d = 0; d < t->ndim; d++)
        if (put_dim(w, t->shape[d]) < 0) return -1;
    return 0;
}

static int walk_str(walk *w, PyObject *o) {
#if PY_VERSION_HEX < 0x030C0000
    if (PyUnicode_READY(o) < 0) return -1;
#endif
    int kind = PyUnicode_KIND(o); /* a str's representation is canonical: equal strings, equal bytes */
    Py_ssize_t n = PyUnicode_GET_LENGTH(o);
    if (put(w, K_STR | (int64_t)kind << 8) < 0 || put(w, (int64_t)n) < 0) return -1;
    return put_bytes(w, PyUnicode_DATA(o), (size_t)n * (size_t)kind);
}

static int walk_int(walk *w, PyObject *o) {
    int overflow;
    long long v = PyLong_AsLongLongAndOverflow(o, &overflow);
    if (v == -1 && PyErr_Occurred()) return -1;
    if (!overflow) return put(w, K_INT) < 0 ? -1 : put(w, (int64_t)v);
    PyObject *s = PyLong_Type.tp_repr(o); /* the digits, without calling a subclass's __repr__ */
    if (!s) return -1;
    Py_ssize_t n;
    const char *c = PyUnicode_AsUTF8AndSize(s, &n);
    int rc = c && put(w, K_BIGINT) == 0 && put(w, (int64_t)n) == 0 ? put_bytes(w, c, (size_t)n) : -1;
    Py_DECREF(s);
    return rc;
}

static int walk_float(walk *w, double d) {
    int64_t bits;
    memcpy(&bits, &d, sizeof bits);
    return put(w, K_FLOAT) < 0 ? -1 : put(w, bits);
}

static int walk_obj(walk *w, PyObject *o, int depth);

static int walk_items(walk *w, int tag, PyObject *const *items, Py_ssize_t n, int depth) {
    if (put(w, tag) < 0 || put(w, (int64_t)n) < 0) return -1;
    for (Py_ssize_t i = 0; i < n; i++)
        if (walk_obj(w, items[i], depth + 1) < 0) return -1;
    return 0;
}

static int walk_dict(walk *w, PyObject *o, int depth) {
    if (put(w, K_DICT) < 0 || put(w, (int64_t)PyDict_GET_SIZE(o)) < 0) return -1;
    Py_ssize_t pos = 0;
    PyObject *k, *v;
    while (PyDict_Next(o, &pos, &k, &v)) /* no Python code runs while walking: the dict cannot change */
        if (walk_obj(w, k, depth + 1) < 0 || walk_obj(w, v, depth + 1) < 0) return -1;
    return 0;
}

static int walk_obj(walk *w, PyObject *o, int depth) {
    PyTypeObject *tp = Py_TYPE(o);
    if (PyObject_TypeCheck(o, &DsTensor_Type)) return walk_tensor(w, o);
    if (o == Py_None) return put(w, K_NONE);
    if (tp == &PyBool_Type) return put(w, o == Py_True ? K_TRUE : K_FALSE);
    if (depth > WALK_MAX_DEPTH) {
        PyErr_Format(PyExc_ValueError, "the arguments of a compiled function are nested more than %d deep", WALK_MAX_DEPTH);
        return -1;
    }
    bool exact = tp == &PyLong_Type || tp == &PyFloat_Type || tp == &PyUnicode_Type || tp == &PyTuple_Type ||
                 tp == &PyList_Type || tp == &PyDict_Type;
    if (!exact) {
        if (!(PyLong_Check(o) || PyFloat_Check(o) || PyUnicode_Check(o) || PyTuple_Check(o) || PyList_Check(o) ||
              PyDict_Check(o))) /* any other object: its identity */
            return put(w, K_OBJ) < 0 || put(w, (int64_t)(intptr_t)o) < 0 ? -1 : keep(w, o);
        if (put(w, K_SUB) < 0 || put(w, (int64_t)(intptr_t)tp) < 0 || keep(w, (PyObject *)tp) < 0) return -1;
    }
    if (PyLong_Check(o)) return walk_int(w, o);
    if (PyFloat_Check(o)) return walk_float(w, PyFloat_AS_DOUBLE(o));
    if (PyUnicode_Check(o)) return walk_str(w, o);
    if (PyTuple_Check(o)) return walk_items(w, K_TUPLE, ((PyTupleObject *)o)->ob_item, PyTuple_GET_SIZE(o), depth);
    if (PyList_Check(o)) return walk_items(w, K_LIST, PySequence_Fast_ITEMS(o), PyList_GET_SIZE(o), depth);
    return walk_dict(w, o, depth);
}

int jit_walk_call(walk *w, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames) {
    Py_ssize_t nkw = kwnames ? PyTuple_GET_SIZE(kwnames) : 0;
    if (put(w, K_KW) < 0 || put(w, (int64_t)nargs) < 0 || put(w, (int64_t)nkw) < 0) return -1;
    for (Py_ssize_t i = 0; i < nargs; i++)
        if (walk_obj(w, args[i], 0) < 0) return -1;
    for (Py_ssize_t k = 0; k < nkw; k++)
        if (walk_str(w, PyTuple_GET_ITEM(kwnames, k)) < 0 || walk_obj(w, args[nargs + k], 0) < 0) return -1;
    return 0;
}

/* ---------------------------------------------------------------- guards */
static int same_value(PyObject *a, PyObject *b, int depth) {
    if (a == b) return 1;
    PyTypeObject *t = Py_TYPE(a);
    if (t != Py_TYPE(b)) return 0;
    if (t == &PyLong_Type || t == &PyUnicode_Type) return PyObject_RichCompareBool(a, b, Py_EQ);
    if (t == &PyFloat_Type) {
        double x = PyFloat_AS_DOUBLE(a), y = PyFloat_AS_DOUBLE(b);
        return (x == y && signbit(x) == signbit(y)) || (isnan(x) && isnan(y));
    }
    if (t == &PyTuple_Type && depth < WALK_MAX_DEPTH) {
        Py_ssize_t n = PyTuple_GET_SIZE(a);
        if (n != PyTuple_GET_SIZE(b)) return 0;
        for (Py_ssize_t i = 0; i < n; i++) {
            int r = same_value(PyTuple_GET_ITEM(a, i), PyTuple_GET_ITEM(b, i), depth + 1);
            if (r != 1) return r;
        }
        return 1;
    }
    return 0; /* bool and None are singletons; other objects are compared by identity */
}

/* 1: passes, 0: fails, -1: error (an exception other than a missing attribute or key). */
int jit_guard_check(const jit_guard *g) {
    PyObject *cur = NULL;
    bool own = false;
    switch (g->kind) {
    case G_ATTR:
        cur = PyObject_GetAttr(g->obj, g->name);
        if (!cur) {
            if (!PyErr_ExceptionMatches(PyExc_AttributeError)) return -1;
            PyErr_Clear();
            return 0;
        }
        own = true;
        break;
    case G_ITEM:
        if (PyDict_CheckExact(g->obj)) {
            cur = PyDict_GetItemWithError(g->obj, g->name);
            if (!cur) return PyErr_Occurred() ? -1 : 0;
        } else {
            cur = PyObject_GetItem(g->obj, g->name);
            if (!cur) {
                if (!PyErr_ExceptionMatches(PyExc_KeyError) && !PyErr_ExceptionMatches(PyExc_IndexError)) return -1;
                PyErr_Clear();
                return 0;
            }
            own = true;
        }
        break;
    default:
        cur = PyCell_GET(g->obj);
        if (!cur) return 0; /* an empty cell */
    }
    int r = same_value(cur, g->expected, 0);
    if (own) Py_DECREF(cur);
    return r;
}

/* ---------------------------------------------------------------- matching a key */
bool jit_key_matches(const jit_entry *e, const walk *w, uint64_t hfull) {
    if (e->nkey != w->ntok || e->hash != (e->wild ? w->hs : hfull)) return false;
    if (!e->wild) return memcmp(e->key, w->tok, sizeof(int64_t) * (size_t)w->ntok) == 0;
    for (int i = 0; i < w->ntok; i++)
        if (e->key[i] != w->tok[i] && !e->wild[i]) return false;
    return true;
}

/* ---------------------------------------------------------------- an entry's key and guards */
int jit_parse_guards(JitFunctionObject *jf, jit_entry *e, PyObject *guards) {
    if (guards == Py_None) guards = NULL;
    PyObject *seq = guards ? PySequence_Fast(guards, "") : PyTuple_New(0);
    if (!seq) {
        PyErr_Clear();
        JF_ERR(jf, PyExc_TypeError, "compile returned guards of type %.100s; expected a list of (kind, obj, name, "
               "expected) tuples", Py_TYPE(guards)->tp_name);
        return -1;
    }
    Py_ssize_t n = PySequence_Fast_GET_SIZE(seq);
    e->guards = PyTuple_New(n);
    e->g = PyMem_Calloc((size_t)(n ? n : 1), sizeof(jit_guard));
    if (!e->guards || !e->g) {
        Py_DECREF(seq);
        if (!PyErr_Occurred()) PyErr_NoMemory();
        return -1;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *gi = PySequence_Fast_GET_ITEM(seq, i);
        PyObject *t = PyTuple_Check(gi) || PyList_Check(gi) ? PySequence_Tuple(gi) : NULL;
        if (!t || PyTuple_GET_SIZE(t) != 4 || !PyUnicode_Check(PyTuple_GET_ITEM(t, 0))) {
            Py_XDECREF(t);
            PyErr_Clear();
            JF_ERR(jf, PyExc_ValueError, "guard %zd is %R; expected a (kind, obj, name, expected) tuple", i, gi);
            Py_DECREF(seq);
            return -1;
        }
        PyTuple_SET_ITEM(e->guards, i, t);
        jit_guard *g = &e->g[i];
        PyObject *kind = PyTuple_GET_ITEM(t, 0);
        g->obj = PyTuple_GET_ITEM(t, 1);
        g->name = PyTuple_GET_ITEM(t, 2);
        g->expected = PyTuple_GET_ITEM(t, 3);
        if (!PyUnicode_CompareWithASCIIString(kind, "attr")) {
            g->kind = G_ATTR;
            if (!PyUnicode_Check(g->name)) {
                JF_ERR(jf, PyExc_TypeError, "guard %zd: an 'attr' guard needs a str name, got %.100s", i,
                       Py_TYPE(g->name)->tp_name);
                Py_DECREF(seq);
                return -1;
            }
        } else if (!PyUnicode_CompareWithASCIIString(kind, "item")) {
            g->kind = G_ITEM;
        } else if (!PyUnicode_CompareWithASCIIString(kind, "cell")) {
            g->kind = G_CELL;
            if (!PyCell_Check(g->obj)) {
                JF_ERR(jf, PyExc_TypeError, "guard %zd: a 'cell' guard needs a cell object, got %.100s", i,
                       Py_TYPE(g->obj)->tp_name);
                Py_DECREF(seq);
                return -1;
            }
        } else {
            JF_ERR(jf, PyExc_ValueError, "guard %zd has kind %R; expected 'attr', 'item' or 'cell'", i, kind);
            Py_DECREF(seq);
            return -1;
        }
        e->ng = (int)i + 1;
    }
    Py_DECREF(seq);
    return 0;
}

/* The key's tokens, with wildcards from dim_pattern (None or one entry per tensor: None or a tuple of dims,
 * None = any size). */
int jit_set_key(JitFunctionObject *jf, jit_entry *e, const walk *w, PyObject *pattern) {
    e->nkey = w->ntok;
    e->key = PyMem_Malloc(sizeof(int64_t) * (size_t)(w->ntok + 1));
    e->refs = PyMem_Malloc(sizeof(PyObject *) * (size_t)(w->nrefs + 1));
    if (!e->key || !e->refs) {
        PyErr_NoMemory();
        return -1;
    }
    memcpy(e->key, w->tok, sizeof(int64_t) * (size_t)w->ntok);
    for (int i = 0; i < w->nrefs; i++) e->refs[i] = Py_NewRef(w->refs[i]);
    e->nrefs = w->nrefs;
    e->hash = hash_full(w);
    if (pattern == Py_None) return 0;
    PyObject *seq = PySequence_Fast(pattern, "");
    if (!seq || PySequence_Fast_GET_SIZE(seq) != w->nts) {
        PyErr_Clear();
        JF_ERR(jf, PyExc_ValueError, "dim_pattern must be None or a list with one entry per tensor argument (%d), got %R",
               w->nts, pattern);
        Py_XDECREF(seq);
        return -1;
    }
    int rc = 0;
    for (int i = 0; i < w->nts && !rc; i++) {
        PyObject *p = PySequence_Fast_GET_ITEM(seq, i);
        if (p == Py_None) continue;
        const ds_tensor *t = ((TensorObject *)w->ts[i])->t;
        if (!PyTuple_Check(p) || PyTuple_GET_SIZE(p) != t->ndim) {
            JF_ERR(jf, PyExc_ValueError, "dim_pattern[%d] is %R; tensor argument %d has %d dims", i, p, i, t->ndim);
            rc = -1;
            break;
        }
        for (int d = 0; d < t->ndim; d++) {
            PyObject *x = PyTuple_GET_ITEM(p, d);
            if (x == Py_None) {
                if (!e->wild && !(e->wild = PyMem_Calloc((size_t)w->ntok + 1, 1))) {
                    PyErr_NoMemory();
                    rc = -1;
                    break;
                }
                e->wild[w->tpos[i] + d] = 1;
                e->key[w->tpos[i] + d] = -1;
                continue;
            }
            long long v = PyLong_Check(x) ? PyLong_AsLongLong(x) : -2;
            if (v != t->shape[d]) {
                PyErr_Clear();
                JF_ERR(jf, PyExc_ValueError, "dim_pattern[%d] is %R, but dim %d of tensor argument %d is %lld", i, p, d, i,
                       (long long)t->shape[d]);
                rc = -1;
                break;
            }
        }
    }
    Py_DECREF(seq);
    if (!rc && e->wild) e->hash = w->hs;
    return rc;
}
