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
 * a tape still refers to its backward) is safe. */
#include <math.h>
#include <string.h>

#include "base/alloc.h"
#include "bind.h"
#include "ir/ir.h" /* node kinds: finding the parameters a graph assigns */

/* ================================================================ graph state shared with tape nodes */
/* C only (no Python objects): a tape may release it after the JitFunction is gone. */
typedef struct jit_graph {
    int64_t refcount;
    ds_graph *g;              /* retained */
    ds_plan *plan;            /* the forward plan */
    bool busy;                /* plan running */
    int n_params, n_out;
    int n_fo, n_fp[2];        /* float outputs; float params (0: not assigned, 1: all) */
    int *fo, *fp[2];          /* their indices */
    unsigned char *assigned;  /* per param: written by an assign (here or in a subgraph) */
    bool any_assigned;
    /* gradient graphs (lazy) with respect to fp[0] (the usual one: the reverse pass refuses to differentiate
     * through an assigned parameter), and fp[1] (only when an assigned parameter wants a gradient) */
    ds_graph *gg[2];
    ds_plan *gplan[2];
    bool gbusy[2];
} jit_graph;

static void jg_retain(void *ctx) { ((jit_graph *)ctx)->refcount++; }

static void jg_release(void *ctx) {
    jit_graph *jg = ctx;
    if (!jg || --jg->refcount > 0) return;
    ds_plan_release(jg->plan);
    for (int k = 0; k < 2; k++) {
        ds_plan_release(jg->gplan[k]);
        ds_graph_release(jg->gg[k]);
        ds_free(jg->fp[k]);
    }
    ds_graph_release(jg->g);
    ds_free(jg->fo);
    ds_free(jg->assigned);
    ds_free(jg);
}

static bool has_assign(const ds_graph *g, int depth) {
    if (depth > 64) return true; /* deeper than the verifier allows: be conservative */
    for (int i = 0; i < g->nodes.n; i++) {
        const ds_node *n = g->nodes.items[i];
        if (n->kind == DS_NODE_ASSIGN) return true;
        for (int k = 0; k < n->n_sub; k++)
            if (has_assign(n->sub[k], depth + 1)) return true;
    }
    return false;
}

static void mark_param(jit_graph *jg, const ds_value *v) {
    if (!v->producer && v->kind == DS_VALUE_TENSOR && v->index >= 0 && v->index < jg->n_params) {
        jg->assigned[v->index] = 1;
        jg->any_assigned = true;
    }
}

static ds_status jg_new(ds_graph *g, jit_graph **out) {
    jit_graph *jg = ds_calloc(sizeof *jg);
    if (!jg) return DS_ERR_NOMEM;
    jg->refcount = 1;
    jg->g = ds_graph_retain(g);
    jg->n_params = ds_graph_num_params(g);
    jg->n_out = ds_graph_num_outputs(g);
    jg->fo = ds_malloc(sizeof(int) * (size_t)(jg->n_out + 1));
    jg->fp[0] = ds_malloc(sizeof(int) * (size_t)(jg->n_params + 1));
    jg->fp[1] = ds_malloc(sizeof(int) * (size_t)(jg->n_params + 1));
    jg->assigned = ds_calloc((size_t)jg->n_params + 1);
    ds_status st = jg->fo && jg->fp[0] && jg->fp[1] && jg->assigned ? ds_plan_new(g, &jg->plan) : DS_ERR_NOMEM;
    if (st) {
        jg_release(jg);
        return st;
    }
    for (int i = 0; i < jg->n_out; i++)
        if (ds_dtype_is_float(ds_value_dtype(ds_graph_output(g, i)))) jg->fo[jg->n_fo++] = i;
    for (int i = 0; i < g->nodes.n; i++) {
        const ds_node *n = g->nodes.items[i];
        if (n->kind == DS_NODE_ASSIGN) mark_param(jg, n->in[0]);
        bool sub = false;
        for (int k = 0; k < n->n_sub && !sub; k++) sub = has_assign(n->sub[k], 1);
        if (sub) /* a subgraph writes into what it is given: every weight passed in may be written */
            for (int k = 0; k < n->n_in; k++)
                if (n->in[k]->weight) mark_param(jg, n->in[k]);
    }
    for (int i = 0; i < jg->n_params; i++) {
        if (!ds_dtype_is_float(ds_value_dtype(ds_graph_param(g, i)))) continue;
        jg->fp[1][jg->n_fp[1]++] = i;
        if (!jg->assigned[i]) jg->fp[0][jg->n_fp[0]++] = i;
    }
    *out = jg;
    return DS_OK;
}

/* Runs graph g through *slot (created on first use); a fresh plan when *slot is already running. */
static ds_status run_plan(const ds_graph *g, ds_plan **slot, bool *busy, int n_in, ds_tensor *const *in, int max_out,
                          ds_tensor **outs) {
    ds_status st;
    if (*busy) {
        ds_plan *p;
        if ((st = ds_plan_new(g, &p))) return st;
        st = ds_plan_run(p, n_in, in, max_out, outs, NULL);
        ds_plan_release(p);
        return st;
    }
    if (!*slot && (st = ds_plan_new(g, slot))) return st;
    *busy = true;
    st = ds_plan_run(*slot, n_in, in, max_out, outs, NULL);
    *busy = false;
    return st;
}

static ds_status fresh_copy(const ds_tensor *src, ds_tensor **out) {
    ds_tensor *c;
    ds_status st = ds_tensor_new(src->dtype, src->ndim, src->shape, &c);
    if (!st && (st = ds_tensor_copy_into(c, src))) ds_tensor_release(c);
    if (!st) *out = c;
    return st;
}

/* ---------------------------------------------------------------- backward of a recorded call */
/* The snapshot of the assigned parameters taken before one recorded forward (a tape node's context). */
typedef struct jit_call {
    int64_t refcount;
    jit_graph *jg;
    ds_tensor *snap[]; /* per param: its value before the forward, or NULL (not assigned) */
} jit_call;

static void call_retain(void *ctx) { ((jit_call *)ctx)->refcount++; }

static void call_release(void *ctx) {
    jit_call *c = ctx;
    if (!c || --c->refcount > 0) return;
    for (int i = 0; i < c->jg->n_params; i++) ds_tensor_release(c->snap[i]);
    jg_release(c->jg);
    ds_free(c);
}

static ds_status call_new(jit_graph *jg, ds_tensor *const *in, jit_call **out) {
    jit_call *c = ds_calloc(sizeof *c + sizeof(ds_tensor *) * (size_t)(jg->n_params + 1));
    if (!c) return DS_ERR_NOMEM;
    c->refcount = 1;
    jg_retain(jg);
    c->jg = jg;
    ds_status st = DS_OK;
    for (int i = 0; i < jg->n_params && !st; i++)
        if (jg->assigned[i]) st = fresh_copy(in[i], &c->snap[i]);
    if (st) call_release(c);
    else *out = c;
    return st;
}

/* Gradients of the inputs that need one: the gradient graph run on (inputs..., cotangents...). */
static ds_status grad_run(jit_graph *jg, ds_tensor *const *snap, const ds_tape_vjp_args *a, ds_tensor **gin) {
    if (a->n_in != jg->n_params || a->n_out != jg->n_fo)
        return ds_errorf(DS_ERR_INTERNAL, "%s: backward called with %d inputs and %d outputs (expected %d and %d)", a->name,
                         a->n_in, a->n_out, jg->n_params, jg->n_fo);
    int v = 0; /* which gradient graph: 1 when an assigned parameter wants a gradient */
    for (int i = 0; i < jg->n_params && !v; i++) v = jg->assigned[i] && a->need[i];
    int n_fp = jg->n_fp[v];
    const int *fp = jg->fp[v];
    ds_status st;
    if (!jg->gg[v] && (st = ds_graph_grad(jg->g, jg->n_fo, jg->fo, n_fp, fp, true, &jg->gg[v]))) return st;
    int n_in = jg->n_params + jg->n_fo, n_res = jg->n_out + n_fp;
    ds_tensor *stack_in[32], *stack_res[32], *stack_cp[32];
    ds_tensor **in = n_in <= 32 ? stack_in : ds_malloc(sizeof(ds_tensor *) * (size_t)n_in);
    ds_tensor **res = n_res <= 32 ? stack_res : ds_malloc(sizeof(ds_tensor *) * (size_t)n_res);
    ds_tensor **cp = jg->n_params <= 32 ? stack_cp : ds_malloc(sizeof(ds_tensor *) * (size_t)jg->n_params);
    if (res) memset(res, 0, sizeof(ds_tensor *) * (size_t)n_res);
    if (cp) memset(cp, 0, sizeof(ds_tensor *) * (size_t)jg->n_params);
    st = in && res && cp ? DS_OK : DS_ERR_NOMEM;
    if (st) goto done;
    for (int i = 0; i < jg->n_params && !st; i++) {
        in[i] = a->inputs[i];
        /* the recomputed forward's assigns write into a private copy of the value the forward saw */
        if (jg->assigned[i] && !(st = fresh_copy(snap && snap[i] ? snap[i] : a->inputs[i], &cp[i]))) in[i] = cp[i];
    }
    if (st) goto done;
    for (int j = 0; j < jg->n_fo; j++) in[jg->n_params + j] = a->gout[j];
    if (ds_tape_active()) /* differentiated again: run op by op, recorded on the active tapes */
        st = ds_graph_eval(jg->gg[v], n_in, in, n_res, res, NULL);
    else
        st = run_plan(jg->gg[v], &jg->gplan[v], &jg->gbusy[v], n_in, in, n_res, res);
    if (st) {
        memset(res, 0, sizeof(ds_tensor *) * (size_t)n_res);
        goto done;
    }
    for (int j = 0; j < n_fp; j++) {
        int p = fp[j];
        if (a->need[p]) {
            gin[p] = res[jg->n_out + j];
            res[jg->n_out + j] = NULL;
        }
    }
done:
    if (res)
        for (int i = 0; i < n_res; i++) ds_tensor_release(res[i]);
    if (cp)
        for (int i = 0; i < jg->n_params; i++) ds_tensor_release(cp[i]);
    if (in != stack_in) ds_free(in);
    if (res != stack_res) ds_free(res);
    if (cp != stack_cp) ds_free(cp);
    return st;
}

static ds_status vjp_graph(void *ctx, const ds_tape_vjp_args *a, ds_tensor **gin) {
    return grad_run(ctx, NULL, a, gin);
}

static ds_status vjp_call(void *ctx, const ds_tape_vjp_args *a, ds_tensor **gin) {
    jit_call *c = ctx;
    return grad_run(c->jg, c->snap, a, gin);
}

/* ================================================================ keys */
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

#define WALK_MAX_DEPTH 100

typedef struct walk {
    int64_t *tok;
    int ntok, captok;
    PyObject **ts; /* the Tensors found (strong references), in walk order */
    int *tpos;     /* token index of each tensor's first dim */
    int nts, capts;
    PyObject **refs; /* objects the key names by pointer (strong references) */
    int nrefs, caprefs;
    uint64_t hs, hd; /* hash of the tokens other than tensor dims, of the dims */
    int64_t tok0[96];
    PyObject *ts0[16];
    int tpos0[16];
    PyObject *refs0[8];
} walk;

static void walk_init(walk *w) {
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

static void walk_free(walk *w) {
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

static inline uint64_t mix(uint64_t h, uint64_t v) { return (h ^ v) * 0x100000001b3ull; }

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

static int walk_call(walk *w, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames) {
    Py_ssize_t nkw = kwnames ? PyTuple_GET_SIZE(kwnames) : 0;
    if (put(w, K_KW) < 0 || put(w, (int64_t)nargs) < 0 || put(w, (int64_t)nkw) < 0) return -1;
    for (Py_ssize_t i = 0; i < nargs; i++)
        if (walk_obj(w, args[i], 0) < 0) return -1;
    for (Py_ssize_t k = 0; k < nkw; k++)
        if (walk_str(w, PyTuple_GET_ITEM(kwnames, k)) < 0 || walk_obj(w, args[nargs + k], 0) < 0) return -1;
    return 0;
}

static inline uint64_t hash_full(const walk *w) { return mix(w->hs, w->hd ^ (w->hd >> 29)); }

/* ================================================================ entries */
enum { G_ATTR, G_ITEM, G_CELL };

typedef struct jit_guard {
    int kind;
    PyObject *obj, *name, *expected; /* borrowed from the entry's guards tuple */
} jit_guard;

enum { TP_OUT, TP_CONST, TP_TUPLE, TP_LIST, TP_DICT };

typedef struct tmpl {
    int kind;
    int k;              /* TP_OUT: output index; containers: number of children */
    PyObject *obj;      /* TP_CONST: the constant; TP_DICT: the keys (a tuple); strong */
    struct tmpl *ch;    /* children */
} tmpl;

typedef struct jit_entry {
    int64_t refcount;
    struct jit_entry *prev, *next;
    bool linked;
    uint64_t hash;          /* hash_full, or the hash without dims when the key has wildcards */
    int nkey;
    int64_t *key;
    unsigned char *wild;    /* per token: a wildcard dim (NULL: none) */
    PyObject **refs;        /* objects named by pointer in the key (strong) */
    int nrefs;
    PyObject *guards;       /* tuple of (kind, obj, name, expected) tuples */
    jit_guard *g;
    int ng;
    bool python;            /* a ("python", callable) entry */
    PyObject *target;       /* the Graph or the callable */
    jit_graph *jg;
    PyObject **extra;       /* extra input Tensors (strong) */
    int nextra;
    tmpl *tpl;
} jit_entry;

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

static void entry_release(jit_entry *e) {
    if (!e || --e->refcount > 0) return;
    entry_clear_objects(e);
    jg_release(e->jg);
    PyMem_Free(e->key);
    PyMem_Free(e->wild);
    PyMem_Free(e->refs);
    PyMem_Free(e->g);
    PyMem_Free(e->extra);
    PyMem_Free(e);
}

static int entry_traverse(const jit_entry *e, visitproc visit, void *arg) {
    for (int i = 0; i < e->nrefs; i++) Py_VISIT(e->refs[i]);
    for (int i = 0; i < e->nextra; i++) Py_VISIT(e->extra[i]);
    Py_VISIT(e->guards);
    Py_VISIT(e->target);
    return e->tpl ? tmpl_traverse(e->tpl, visit, arg) : 0;
}

/* ================================================================ the JitFunction object */
typedef struct JitFunctionObject {
    PyObject_HEAD
    vectorcallfunc vectorcall;
    PyObject *compile;
    PyObject *dict;
    PyObject *weakrefs;
    jit_entry *head, *tail; /* most / least recently used */
    int n_entries, max_entries;
    int64_t hits, misses, evictions;
} JitFunctionObject;

static PyTypeObject JitFunction_Type;

static void list_unlink(JitFunctionObject *jf, jit_entry *e) {
    if (e->prev) e->prev->next = e->next;
    else jf->head = e->next;
    if (e->next) e->next->prev = e->prev;
    else jf->tail = e->prev;
    e->prev = e->next = NULL;
    e->linked = false;
    jf->n_entries--;
}

static void list_push_front(JitFunctionObject *jf, jit_entry *e) {
    e->prev = NULL;
    e->next = jf->head;
    if (jf->head) jf->head->prev = e;
    jf->head = e;
    if (!jf->tail) jf->tail = e;
    e->linked = true;
    jf->n_entries++;
}

static void clear_entries(JitFunctionObject *jf) {
    while (jf->head) {
        jit_entry *e = jf->head;
        list_unlink(jf, e);
        entry_release(e);
    }
}

/* The function's name for messages (its __qualname__ or __name__). */
static PyObject *jf_name(JitFunctionObject *jf) {
    PyObject *n = jf->dict ? PyDict_GetItemString(jf->dict, "__qualname__") : NULL;
    if (!n || !PyUnicode_Check(n)) n = jf->dict ? PyDict_GetItemString(jf->dict, "__name__") : NULL;
    if (!n || !PyUnicode_Check(n)) return PyUnicode_FromString("?");
    return Py_NewRef(n);
}

#define JF_ERR(jf, exc, fmt, ...)                                                                                   \
    do {                                                                                                            \
        PyObject *nm_ = jf_name(jf);                                                                                \
        if (nm_) {                                                                                                  \
            PyErr_Format(exc, "JitFunction '%U': " fmt, nm_, __VA_ARGS__);                                          \
            Py_DECREF(nm_);                                                                                         \
        }                                                                                                           \
    } while (0)

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
static int guard_check(const jit_guard *g) {
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

/* ---------------------------------------------------------------- lookup */
static bool key_matches(const jit_entry *e, const walk *w, uint64_t hfull) {
    if (e->nkey != w->ntok || e->hash != (e->wild ? w->hs : hfull)) return false;
    if (!e->wild) return memcmp(e->key, w->tok, sizeof(int64_t) * (size_t)w->ntok) == 0;
    for (int i = 0; i < w->ntok; i++)
        if (e->key[i] != w->tok[i] && !e->wild[i]) return false;
    return true;
}

/* The entry for this call (a new reference), NULL without error on a miss, NULL with an error set when a
 * guard raised. Guards may run Python code that changes the cache: the candidates are held first. */
static jit_entry *lookup(JitFunctionObject *jf, const walk *w) {
    uint64_t hfull = hash_full(w);
    jit_entry *e = jf->head;
    while (e && !key_matches(e, w, hfull)) e = e->next;
    if (!e) return NULL;
    if (!e->ng) { /* no guards: a hit without running Python code */
        if (e != jf->head) {
            list_unlink(jf, e);
            list_push_front(jf, e);
        }
        e->refcount++;
        return e;
    }
    jit_entry *stack[16], **cand = stack;
    int n = 0, cap = 16;
    for (; e; e = e->next) {
        if (!key_matches(e, w, hfull)) continue;
        if (n == cap) {
            jit_entry **c = PyMem_Malloc(sizeof(jit_entry *) * (size_t)cap * 2);
            if (!c) {
                for (int i = 0; i < n; i++) entry_release(cand[i]);
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
        for (int k = 0; k < c->ng && ok == 1; k++) ok = guard_check(&c->g[k]);
        if (ok < 0) failed = true;
        else if (ok) found = c;
    }
    for (int i = 0; i < n; i++)
        if (cand[i] != found) entry_release(cand[i]);
    if (cand != stack) PyMem_Free(cand);
    if (found && found->linked && found != jf->head) {
        list_unlink(jf, found);
        list_push_front(jf, found);
    }
    return found;
}

/* ---------------------------------------------------------------- running an entry */
static PyObject *build(const tmpl *t, ds_tensor **outs, PyObject **wrapped) {
    switch (t->kind) {
    case TP_OUT:
        if (!wrapped[t->k] && !(wrapped[t->k] = ds_py_wrap(ds_tensor_retain(outs[t->k])))) return NULL;
        return Py_NewRef(wrapped[t->k]);
    case TP_CONST: return Py_NewRef(t->obj);
    case TP_TUPLE:
    case TP_LIST: {
        PyObject *r = t->kind == TP_TUPLE ? PyTuple_New(t->k) : PyList_New(t->k);
        for (int i = 0; r && i < t->k; i++) {
            PyObject *c = build(&t->ch[i], outs, wrapped);
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
            PyObject *c = build(&t->ch[i], outs, wrapped);
            if (!c || PyDict_SetItem(r, PyTuple_GET_ITEM(t->obj, i), c) < 0) Py_CLEAR(r);
            Py_XDECREF(c);
        }
        return r;
    }
    }
}

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
    if (record && jg->any_assigned && (st = call_new(jg, in, &call))) {
        ds_py_raise(st);
        goto done;
    }
    if (tape) ds_tape_set_active(NULL); /* the call is recorded as one node, below */
    st = run_plan(jg->g, &jg->plan, &jg->busy, n_in, in, n_out, outs);
    if (tape) ds_tape_set_active(tape);
    if (st) {
        raise_status(st);
        goto done;
    }
    have_outs = true;
    if (record) {
        ds_tensor *fstack[8], **fouts = jg->n_fo <= 8 ? fstack : PyMem_Malloc(sizeof(ds_tensor *) * (size_t)jg->n_fo);
        if (!fouts) {
            PyErr_NoMemory();
            goto done;
        }
        for (int j = 0; j < jg->n_fo; j++) fouts[j] = outs[jg->fo[j]];
        ds_tape_vjp v = call ? (ds_tape_vjp){vjp_call, call, call_retain, call_release}
                             : (ds_tape_vjp){vjp_graph, jg, jg_retain, jg_release};
        st = ds_tape_record_custom(tape, ds_graph_name(jg->g), n_in, in, jg->n_fo, fouts, &v);
        if (fouts != fstack) PyMem_Free(fouts);
        if (st) {
            PyObject *nm = jf_name(jf);
            if (nm) {
                PyErr_Format(st == DS_ERR_NOMEM ? PyExc_MemoryError : PyExc_ValueError,
                             "JitFunction '%U': cannot record the call for gradients: %s", nm, ds_error_message());
                Py_DECREF(nm);
            }
            goto done;
        }
    }
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
        result = build(e->tpl, outs, wrapped);
        for (int i = 0; i < n_out; i++) Py_XDECREF(wrapped[i]);
        if (wrapped != wstack) PyMem_Free(wrapped);
    }
done:
    if (have_outs)
        for (int i = 0; i < n_out; i++) ds_tensor_release(outs[i]);
    if (call) call_release(call);
    if (in && in != stack_in) PyMem_Free(in);
    if (outs && outs != stack_out) PyMem_Free(outs);
    return result;
}

static PyObject *run_entry(JitFunctionObject *jf, jit_entry *e, const walk *w, PyObject *const *args, size_t nargsf,
                           PyObject *kwnames) {
    if (e->python) return PyObject_Vectorcall(e->target, args, nargsf, kwnames);
    return run_graph_entry(jf, e, w);
}

/* ---------------------------------------------------------------- miss: compile and insert */
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

static int parse_guards(JitFunctionObject *jf, jit_entry *e, PyObject *guards) {
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
static int set_key(JitFunctionObject *jf, jit_entry *e, const walk *w, PyObject *pattern) {
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
        if (set_key(jf, e, w, Py_None) < 0 || parse_guards(jf, e, Py_None) < 0) goto fail;
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
    if (set_key(jf, e, w, pattern) < 0 || parse_guards(jf, e, guards) < 0) goto fail;
    ds_status st = jg_new(g, &e->jg);
    if (st) {
        ds_py_raise(st);
        goto fail;
    }
    return e;
fail:
    entry_release(e);
    return NULL;
}

static jit_entry *compile_and_insert(JitFunctionObject *jf, const walk *w, PyObject *const *args, Py_ssize_t nargs,
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
        list_unlink(jf, old);
        entry_release(old);
        jf->evictions++;
    }
    list_push_front(jf, e);
    e->refcount++; /* the caller's */
    return e;
fail:
    Py_XDECREF(tup);
    Py_XDECREF(kw);
    return NULL;
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
    walk_init(&w);
    if (walk_call(&w, args, nargs, kwnames) < 0) goto done;
    jit_entry *e = lookup(jf, &w);
    if (e) jf->hits++;
    else if (PyErr_Occurred() || !(e = compile_and_insert(jf, &w, args, nargs, kwnames))) goto done;
    result = run_entry(jf, e, &w, args, nargsf, kwnames);
    entry_release(e);
done:
    walk_free(&w);
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
        int rc = entry_traverse(e, visit, arg);
        if (rc) return rc;
    }
    return 0;
}

static int jit_clear(JitFunctionObject *jf) {
    clear_entries(jf);
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
    PyObject *nm = jf_name(jf);
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
    clear_entries(jf);
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
