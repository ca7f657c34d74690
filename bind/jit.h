/* Private declarations of the JitFunction binding, included only by its files:
 *
 * - bind/jit.c: the JitFunction type, the per-call path (the vectorcall: key, lookup, run or compile) and
 *   running a graph entry's plan into the Python result;
 * - bind/jit_key.c: the argument-key walk, key matching, an entry's key and guards from compile's result,
 *   and the guard checks;
 * - bind/jit_entry.c: entries and their LRU list, the lookup, output templates, and a miss (compile, make
 *   the entry, insert and evict);
 * - bind/jit_grad.c: the graph state shared with tape nodes (its plans and gradient graphs), recording a
 *   call as one tape node, and that node's backward.
 *
 * The contract of the whole (keys, lookup, run, gradients, miss) is the comment at the top of bind/jit.c. */
#ifndef DS_BIND_JIT_H
#define DS_BIND_JIT_H
#include "bind.h"

/* ================================================================ types */
/* ---------------------------------------------------------------- graph state (jit_grad.c) */
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

/* The snapshot of the assigned parameters taken before one recorded forward (a tape node's context). */
typedef struct jit_call jit_call;

/* ---------------------------------------------------------------- keys (jit_key.c) */
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

static inline uint64_t mix(uint64_t h, uint64_t v) { return (h ^ v) * 0x100000001b3ull; }

static inline uint64_t hash_full(const walk *w) { return mix(w->hs, w->hd ^ (w->hd >> 29)); }

/* ---------------------------------------------------------------- entries (jit_entry.c) */
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

/* ---------------------------------------------------------------- the JitFunction object (jit.c) */
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

/* The function's name for messages (its __qualname__ or __name__; in jit.c). */
PyObject *jit_fn_name(JitFunctionObject *jf);

/* Raises exc with a message naming the function. */
#define JF_ERR(jf, exc, fmt, ...)                                                                                   \
    do {                                                                                                            \
        PyObject *nm_ = jit_fn_name(jf);                                                                            \
        if (nm_) {                                                                                                  \
            PyErr_Format(exc, "JitFunction '%U': " fmt, nm_, __VA_ARGS__);                                          \
            Py_DECREF(nm_);                                                                                         \
        }                                                                                                           \
    } while (0)

/* ================================================================ functions, by file */
/* ---------------------------------------------------------------- jit_key.c: keys and guards */
void jit_walk_init(walk *w);
void jit_walk_free(walk *w);
/* Walks a call's arguments (vectorcall convention) into w. 0, or -1 with an error set. */
int jit_walk_call(walk *w, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames);

/* Whether e's key matches the walked call (hfull: hash_full(w)). */
bool jit_key_matches(const jit_entry *e, const walk *w, uint64_t hfull);
/* 1: passes, 0: fails, -1: error (an exception other than a missing attribute or key). */
int jit_guard_check(const jit_guard *g);
/* The key's tokens, with wildcards from dim_pattern (None or one entry per tensor: None or a tuple of dims,
 * None = any size). */
int jit_set_key(JitFunctionObject *jf, jit_entry *e, const walk *w, PyObject *pattern);
/* e's guards from compile's list of (kind, obj, name, expected) tuples (None: none). */
int jit_parse_guards(JitFunctionObject *jf, jit_entry *e, PyObject *guards);

/* ---------------------------------------------------------------- jit_entry.c: entries, a miss */
void jit_entry_release(jit_entry *e);
int jit_entry_traverse(const jit_entry *e, visitproc visit, void *arg);

void jit_list_unlink(JitFunctionObject *jf, jit_entry *e);
void jit_list_push_front(JitFunctionObject *jf, jit_entry *e);
/* Unlinks and releases every entry. */
void jit_clear_entries(JitFunctionObject *jf);
/* The entry for this call (a new reference), NULL without error on a miss, NULL with an error set when a
 * guard raised. */
jit_entry *jit_lookup(JitFunctionObject *jf, const walk *w);
/* The Python result of template t over the plan outputs outs (wrapped[k]: outs[k]'s Tensor once made). */
PyObject *jit_tmpl_build(const tmpl *t, ds_tensor **outs, PyObject **wrapped);
/* A miss: calls compile(args, kwargs), inserts the entry (evicting beyond max_entries) and returns it (a new
 * reference), or NULL with an error set. */
jit_entry *jit_compile_and_insert(JitFunctionObject *jf, const walk *w, PyObject *const *args, Py_ssize_t nargs,
                                  PyObject *kwnames);

/* ---------------------------------------------------------------- jit_grad.c: graph state, recording */
/* The state of graph g: its forward plan, float outputs and params, the params it assigns (refcount 1). */
ds_status jit_graph_new(ds_graph *g, jit_graph **out);
/* Drops a reference (ctx is a jit_graph; NULL is ignored). */
void jit_graph_release(void *ctx);
/* Runs graph g through *slot (created on first use); a fresh plan when *slot is already running. */
ds_status jit_run_plan(const ds_graph *g, ds_plan **slot, bool *busy, int n_in, ds_tensor *const *in, int max_out,
                       ds_tensor **outs);
/* Snapshots the parameters jg assigns, from the inputs in[0..n_params) of the forward about to run. */
ds_status jit_call_new(jit_graph *jg, ds_tensor *const *in, jit_call **out);
/* Drops a reference (ctx is a jit_call; NULL is ignored). */
void jit_call_release(void *ctx);

/* Records a forward run of jg on `tape` as one custom node (inputs: the plan inputs in[0..n_params); outputs:
 * the float outputs among outs); its backward runs the gradient graph, with call's snapshot when call is not
 * NULL. 0, or -1 with a Python error set. */
int jit_record_call(JitFunctionObject *jf, ds_tape *tape, jit_graph *jg, jit_call *call, ds_tensor *const *in,
                    ds_tensor *const *outs);
#endif
