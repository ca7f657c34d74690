/* Graph capture: traces turn eager op calls on symbolic tensors into graph nodes (contract in
 * include/dynastat.h, section "graph capture").
 *
 * A trace owns a graph and a map from tensors (retained) to values of that graph. A sub trace
 * belongs to a group of siblings (the branches of an If, the cond and body of a While, the body of a
 * Call) that share one parameter list: the explicit parameters, then the captures. Reading a tensor
 * that only an ancestor maps captures it: the tensor is resolved in the group's parent (which may
 * capture it in turn from its own parent), a parameter is appended to every sibling's graph, and the
 * parent's value is kept as the argument the group's node will pass. Siblings record their outputs
 * when finished; the graphs get them when the group is closed (by the node that uses them), because
 * a later sibling may still append capture parameters to an earlier sibling's graph. */
#include <stdio.h>
#include <string.h>

#include "base/alloc.h"
#include "base/status.h"
#include "exec/trace.h"
#include "ir/ir.h"

_Thread_local ds_trace *ds_trace_tls;

/* ---------------------------------------------------------------- tensor -> value map */
typedef struct tmap_entry {
    ds_tensor *key; /* retained; NULL = empty slot */
    ds_value *v;
    bool is_const;  /* v is a constant holding key's data: key does not count as mapped */
} tmap_entry;

typedef struct tmap {
    tmap_entry *e;
    int cap, n; /* cap: 0 or a power of 2 */
} tmap;

static size_t hash_ptr(const void *p) {
    uint64_t x = (uint64_t)(uintptr_t)p;
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    return (size_t)x;
}

static tmap_entry *tmap_find(const tmap *m, const ds_tensor *k) {
    if (!m->cap) return NULL;
    size_t mask = (size_t)m->cap - 1;
    for (size_t i = hash_ptr(k) & mask;; i = (i + 1) & mask) {
        tmap_entry *e = &m->e[i];
        if (e->key == k) return e;
        if (!e->key) return NULL;
    }
}

static ds_status tmap_put(tmap *m, ds_tensor *k, ds_value *v, bool is_const) {
    tmap_entry *e = tmap_find(m, k);
    if (e) {
        e->v = v;
        e->is_const = is_const;
        return DS_OK;
    }
    if ((m->n + 1) * 4 > m->cap * 3) {
        int cap = m->cap ? m->cap * 2 : 64;
        tmap_entry *ne = ds_calloc(sizeof(tmap_entry) * (size_t)cap);
        if (!ne) return DS_ERR_NOMEM;
        for (int i = 0; i < m->cap; i++) {
            if (!m->e[i].key) continue;
            size_t j = hash_ptr(m->e[i].key) & ((size_t)cap - 1);
            while (ne[j].key) j = (j + 1) & ((size_t)cap - 1);
            ne[j] = m->e[i];
        }
        ds_free(m->e);
        m->e = ne;
        m->cap = cap;
    }
    size_t mask = (size_t)m->cap - 1, i = hash_ptr(k) & mask;
    while (m->e[i].key) i = (i + 1) & mask;
    m->e[i] = (tmap_entry){ds_tensor_retain(k), v, is_const};
    m->n++;
    return DS_OK;
}

static void tmap_free(tmap *m) {
    for (int i = 0; i < m->cap; i++) ds_tensor_release(m->e[i].key);
    ds_free(m->e);
    m->e = NULL;
    m->cap = m->n = 0;
}

/* ---------------------------------------------------------------- traces and groups */
typedef struct sibling_outs {
    bool finished;
    int n;
    ds_value **v; /* ds_malloc'd */
} sibling_outs;

typedef struct trace_group {
    int64_t refcount;
    ds_trace *parent;     /* retained */
    int n;                /* siblings */
    ds_graph **graphs;    /* the siblings' graphs (retained) */
    sibling_outs *outs;   /* recorded by ds_trace_finish */
    int n_explicit;       /* explicit parameters */
    ds_ptrvec cap_tensors; /* captured outer tensors (retained) */
    ds_ptrvec cap_values;  /* their values in the parent's graph */
    int closed;           /* 0 open, 1 closed with the recorded outputs, 2 + i: closed as a While with body i */
} trace_group;

struct ds_trace {
    int64_t refcount;
    ds_graph *g;          /* retained */
    trace_group *group;   /* retained; NULL for a root */
    int index;            /* in the group */
    tmap map;
    ds_tensor **params;   /* symbolic tensors of the explicit parameters (retained; n_explicit) */
    bool finished;
};

static ds_trace *parent_of(const ds_trace *t) { return t->group ? t->group->parent : NULL; }

static void group_release(trace_group *G) {
    if (!G || --G->refcount > 0) return;
    for (int i = 0; i < G->n; i++) {
        if (G->graphs) ds_graph_release(G->graphs[i]);
        if (G->outs) ds_free(G->outs[i].v);
    }
    for (int i = 0; i < G->cap_tensors.n; i++) ds_tensor_release(G->cap_tensors.items[i]);
    ds_ptrvec_deinit(&G->cap_tensors);
    ds_ptrvec_deinit(&G->cap_values);
    ds_free(G->graphs);
    ds_free(G->outs);
    ds_trace_release(G->parent);
    ds_free(G);
}

ds_trace *ds_trace_retain(ds_trace *t) {
    if (t) t->refcount++;
    return t;
}

void ds_trace_release(ds_trace *t) {
    if (!t || --t->refcount > 0) return;
    if (ds_trace_tls == t) ds_trace_tls = NULL;
    if (t->params)
        for (int i = 0; i < t->group->n_explicit; i++) ds_tensor_release(t->params[i]);
    ds_free(t->params);
    tmap_free(&t->map);
    ds_graph_release(t->g);
    group_release(t->group);
    ds_free(t);
}

ds_status ds_trace_new(const char *name, ds_trace **out) {
    ds_trace *t = ds_calloc(sizeof(ds_trace));
    if (!t) return DS_ERR_NOMEM;
    t->refcount = 1;
    ds_status st = ds_graph_new(name ? name : "graph", &t->g);
    if (st) {
        ds_free(t);
        return st;
    }
    *out = t;
    return DS_OK;
}

ds_trace *ds_trace_active(void) { return ds_trace_tls; }

ds_trace *ds_trace_set_active(ds_trace *t) {
    ds_trace *prev = ds_trace_tls;
    ds_trace_tls = t;
    return prev;
}

ds_graph *ds_trace_graph(const ds_trace *t) { return t->g; }
ds_trace *ds_trace_parent(const ds_trace *t) { return parent_of(t); }
bool ds_trace_is_finished(const ds_trace *t) { return t->finished; }
bool ds_tensor_is_symbolic(const ds_tensor *x) { return x && x->symbolic; }

void ds_trace_set_loc(ds_trace *t, const char *file, int line, int col) { ds_graph_set_loc(t->g, file, line, col); }

static ds_status check_open(const ds_trace *t) {
    if (t->finished) return ds_errorf(DS_ERR_VALUE, "trace of graph '%s' is finished: no more ops can be added to it", t->g->name);
    return DS_OK;
}

/* Gives `to` the symbols of `from` it does not have yet (sub graphs mirror their parent's symbols,
 * so a symbolic dim means the same in both). */
static ds_status sync_symbols(const ds_graph *from, ds_graph *to) {
    for (int i = to->symbols.n; i < from->symbols.n; i++) {
        int64_t d;
        ds_status st = ds_graph_symbol(to, from->symbols.items[i], &d);
        if (st) return st;
    }
    return DS_OK;
}

/* A new symbolic tensor for value v, mapped to it in t. */
static ds_status new_symbolic(ds_trace *t, ds_value *v, ds_tensor **out) {
    int64_t dims[DS_MAX_DIMS];
    for (int d = 0; d < v->type.ndim; d++) dims[d] = v->type.shape[d] < 0 ? -1 : v->type.shape[d];
    ds_tensor *x;
    ds_status st = ds_tensor_new_declared(v->type.dtype, v->type.ndim, dims, &x);
    if (st) return st;
    x->symbolic = true;
    if ((st = tmap_put(&t->map, x, v, false))) {
        ds_tensor_release(x);
        return st;
    }
    *out = x;
    return DS_OK;
}

static ds_status new_symbolics(ds_trace *t, int n, ds_value *const *v, ds_tensor **out) {
    for (int i = 0; i < n; i++) {
        ds_status st = new_symbolic(t, v[i], &out[i]);
        if (st) {
            for (int k = 0; k < i; k++) ds_tensor_release(out[k]);
            return st;
        }
    }
    return DS_OK;
}

/* Whether x is mapped (not as a constant) in t or an ancestor. */
static bool mapped_chain(const ds_trace *t, const ds_tensor *x) {
    for (; t; t = parent_of(t)) {
        const tmap_entry *e = tmap_find(&t->map, x);
        if (e && !e->is_const) return true;
    }
    return false;
}

ds_value *ds_trace_lookup(const ds_trace *t, const ds_tensor *x) {
    for (; t; t = parent_of(t)) {
        const tmap_entry *e = tmap_find(&t->map, x);
        if (e && !e->is_const) return e->v;
    }
    return NULL;
}

static ds_status resolve(ds_trace *t, ds_tensor *x, ds_value **out);

/* x is mapped in an ancestor of sub trace t: makes it a parameter of every sibling. */
static ds_status capture(ds_trace *t, ds_tensor *x, ds_value **out) {
    trace_group *G = t->group;
    ds_trace *P = G->parent;
    ds_value *pv;
    ds_status st = resolve(P, x, &pv);
    if (st) return st;
    if (G->closed) return ds_errorf(DS_ERR_INTERNAL, "trace: capture into a closed group");
    int k = G->cap_tensors.n;
    char name[64];
    if (!pv->producer && pv->name && pv->name[0]) snprintf(name, sizeof name, "%s", pv->name);
    else snprintf(name, sizeof name, "capture.%d", k);
    bool weight = !pv->producer && pv->weight; /* so an assign in the sub trace can write it */
    for (int i = 0; i < G->n; i++) {
        ds_value *p;
        if ((st = sync_symbols(P->g, G->graphs[i]))) return st;
        if ((st = ds_graph_add_param(G->graphs[i], name, pv->type.dtype, pv->type.ndim, pv->type.shape, weight, &p)))
            return st;
    }
    if ((st = ds_ptrvec_push(&G->cap_values, pv))) return st;
    if ((st = ds_ptrvec_push(&G->cap_tensors, x))) return st;
    ds_tensor_retain(x);
    *out = ds_graph_param(t->g, G->n_explicit + k);
    return tmap_put(&t->map, x, *out, false);
}

/* The value of x in t: mapped in t, captured from an ancestor, or a constant copy of x's data. */
static ds_status resolve(ds_trace *t, ds_tensor *x, ds_value **out) {
    ds_status st;
    if (!x) return ds_errorf(DS_ERR_VALUE, "trace: a tensor is NULL");
    tmap_entry *e = tmap_find(&t->map, x);
    if (e) {
        *out = e->v;
        return DS_OK;
    }
    trace_group *G = t->group;
    if (G) {
        for (int k = 0; k < G->cap_tensors.n; k++)
            if (G->cap_tensors.items[k] == x) {
                *out = ds_graph_param(t->g, G->n_explicit + k);
                return tmap_put(&t->map, x, *out, false);
            }
        if (mapped_chain(G->parent, x)) return capture(t, x, out);
    }
    if (x->symbolic)
        return ds_errorf(DS_ERR_VALUE, "a symbolic tensor of another graph is used in graph '%s' (a value computed inside "
                         "a branch or loop body used outside it, or a tensor of a finished trace)", t->g->name);
    if (!x->data && x->numel != 0)
        return ds_errorf(DS_ERR_VALUE, "a declared-only tensor (no data) is used in graph '%s' without being a parameter of it",
                         t->g->name);
    ds_tensor *copy; /* a snapshot: later in-place changes of x do not change the graph */
    if ((st = ds_tensor_new(x->dtype, x->ndim, x->shape, &copy))) return st;
    if ((st = ds_tensor_copy_into(copy, x))) {
        ds_tensor_release(copy);
        return st;
    }
    ds_value *v;
    st = ds_graph_add_const(t->g, copy, &v);
    ds_tensor_release(copy);
    if (st) return st;
    if ((st = tmap_put(&t->map, x, v, true))) return st;
    *out = v;
    return DS_OK;
}

static ds_status resolve_all(ds_trace *t, int n, ds_tensor *const *x, ds_value **out) {
    for (int i = 0; i < n; i++) {
        ds_status st = resolve(t, x[i], &out[i]);
        if (st) return st;
    }
    return DS_OK;
}

/* ---------------------------------------------------------------- parameters */
ds_status ds_trace_add_param(ds_trace *t, const char *name, ds_dtype dt, int ndim, const int64_t *dims, bool weight,
                             ds_tensor *bind, ds_tensor **out) {
    ds_status st = check_open(t);
    if (st) return st;
    if (t->group)
        return ds_errorf(DS_ERR_VALUE, "trace: parameters of a sub trace are given to ds_trace_new_group (graph '%s')", t->g->name);
    if (bind) {
        if (bind->symbolic || (!bind->data && bind->numel != 0))
            return ds_errorf(DS_ERR_VALUE, "parameter '%s': the tensor to bind must have data", name ? name : "");
        bool ok = bind->dtype == dt && bind->ndim == ndim;
        for (int d = 0; ok && d < ndim; d++) ok = dims[d] < 0 || dims[d] == bind->shape[d];
        if (!ok) {
            char a[DS_SHAPE_STR_MAX], b[DS_SHAPE_STR_MAX];
            return ds_errorf(DS_ERR_SHAPE, "parameter '%s' of type %s%s cannot be bound to a %s tensor of shape %s", name ? name : "",
                             ds_dtype_name(dt), ds_shape_str(ndim, dims, a, sizeof a), ds_dtype_name(bind->dtype),
                             ds_shape_str(bind->ndim, bind->shape, b, sizeof b));
        }
    }
    ds_value *v;
    if ((st = ds_graph_add_param(t->g, name, dt, ndim, dims, weight, &v))) return st;
    if (bind && (st = tmap_put(&t->map, bind, v, false))) return st;
    if (!out) return DS_OK;
    return new_symbolic(t, v, out);
}

/* ---------------------------------------------------------------- groups */
ds_status ds_trace_new_group(ds_trace *parent, int n, const char *const *names, int n_params,
                             const ds_trace_param_type *params, ds_trace **subs) {
    ds_status st = check_open(parent);
    if (st) return st;
    if (n < 1 || n_params < 0) return ds_errorf(DS_ERR_VALUE, "trace group: need at least one sibling (got %d)", n);
    trace_group *G = ds_calloc(sizeof(trace_group));
    if (!G) return DS_ERR_NOMEM;
    G->refcount = 1;
    G->parent = ds_trace_retain(parent);
    G->n = n;
    G->n_explicit = n_params;
    G->graphs = ds_calloc(sizeof(ds_graph *) * (size_t)n);
    G->outs = ds_calloc(sizeof(sibling_outs) * (size_t)n);
    ds_trace **made = ds_calloc(sizeof(ds_trace *) * (size_t)n);
    if (!G->graphs || !G->outs || !made) {
        st = DS_ERR_NOMEM;
        goto fail;
    }
    const ds_loc *loc = &parent->g->cur_loc;
    for (int i = 0; i < n; i++) {
        char buf[256];
        const char *name = names && names[i] ? names[i] : (snprintf(buf, sizeof buf, "%s.%d", parent->g->name, i), buf);
        ds_trace *s = ds_calloc(sizeof(ds_trace));
        if (!s) {
            st = DS_ERR_NOMEM;
            goto fail;
        }
        made[i] = s;
        s->refcount = 1;
        s->index = i;
        s->group = G;
        G->refcount++;
        if ((st = ds_graph_new(name, &s->g))) goto fail;
        G->graphs[i] = ds_graph_retain(s->g);
        if ((st = sync_symbols(parent->g, s->g))) goto fail;
        ds_graph_set_loc(s->g, loc->file, loc->line, loc->col);
        s->params = ds_calloc(sizeof(ds_tensor *) * (size_t)(n_params + 1));
        if (!s->params) {
            st = DS_ERR_NOMEM;
            goto fail;
        }
        for (int k = 0; k < n_params; k++) {
            ds_value *v;
            if ((st = ds_graph_add_param(s->g, params[k].name, params[k].dtype, params[k].ndim, params[k].dims, false, &v)))
                goto fail;
            if ((st = new_symbolic(s, v, &s->params[k]))) goto fail;
        }
    }
    memcpy(subs, made, sizeof(ds_trace *) * (size_t)n);
    ds_free(made);
    group_release(G); /* the siblings hold it */
    return DS_OK;
fail:
    if (made)
        for (int i = 0; i < n; i++) ds_trace_release(made[i]);
    ds_free(made);
    group_release(G);
    return st;
}

int ds_trace_num_params(const ds_trace *sub) { return sub->group ? sub->group->n_explicit : 0; }
ds_tensor *ds_trace_param(const ds_trace *sub, int i) {
    return sub->group && i >= 0 && i < sub->group->n_explicit ? sub->params[i] : NULL;
}
int ds_trace_num_captures(const ds_trace *sub) { return sub->group ? sub->group->cap_tensors.n : 0; }
ds_tensor *ds_trace_capture(const ds_trace *sub, int i) {
    return sub->group && i >= 0 && i < sub->group->cap_tensors.n ? sub->group->cap_tensors.items[i] : NULL;
}

/* Sets every sibling graph's outputs (the recorded ones; a While body also passes the captures
 * through). body < 0: not a loop. */
static ds_status close_group(trace_group *G, int body) {
    int want = body < 0 ? 1 : 2 + body;
    if (G->closed) {
        if (G->closed == want) return DS_OK;
        return ds_errorf(DS_ERR_VALUE, "trace group of graph '%s' was already used %s", G->graphs[0]->name,
                         G->closed == 1 ? "as an If or Call (or its graph taken)" : "as a While");
    }
    for (int i = 0; i < G->n; i++)
        if (!G->outs[i].finished)
            return ds_errorf(DS_ERR_VALUE, "sub trace '%s' is not finished (ds_trace_finish)", G->graphs[i]->name);
    int nc = G->cap_tensors.n;
    for (int i = 0; i < G->n; i++) {
        sibling_outs *o = &G->outs[i];
        ds_status st;
        if (i != body) st = ds_graph_set_outputs(G->graphs[i], o->n, o->v);
        else {
            ds_value **all = ds_malloc(sizeof(ds_value *) * (size_t)(o->n + nc + 1));
            if (!all) return DS_ERR_NOMEM;
            for (int k = 0; k < o->n; k++) all[k] = o->v[k];
            for (int k = 0; k < nc; k++) all[o->n + k] = ds_graph_param(G->graphs[i], G->n_explicit + k);
            st = ds_graph_set_outputs(G->graphs[i], o->n + nc, all);
            ds_free(all);
        }
        if (st) return st;
    }
    G->closed = want;
    return DS_OK;
}

ds_status ds_trace_finish(ds_trace *t, int n_out, ds_tensor *const *outs, ds_graph **out) {
    ds_status st = check_open(t);
    if (st) return st;
    if (t->group && out) return ds_errorf(DS_ERR_VALUE, "trace: finishing a sub trace gives no graph (pass NULL)");
    if (n_out < 0) return ds_errorf(DS_ERR_VALUE, "trace: negative output count");
    ds_value **vals = ds_malloc(sizeof(ds_value *) * (size_t)(n_out + 1));
    if (!vals) return DS_ERR_NOMEM;
    if ((st = resolve_all(t, n_out, outs, vals))) {
        ds_free(vals);
        return st;
    }
    if (t->group) {
        sibling_outs *o = &t->group->outs[t->index];
        o->v = vals;
        o->n = n_out;
        o->finished = true;
        t->finished = true;
        return DS_OK;
    }
    st = ds_graph_set_outputs(t->g, n_out, vals);
    ds_free(vals);
    if (st) return st;
    t->finished = true;
    if (out) *out = ds_graph_retain(t->g);
    return DS_OK;
}

ds_status ds_trace_get_graph(ds_trace *t, ds_graph **out) {
    if (t->group) {
        if (!t->finished) return ds_errorf(DS_ERR_VALUE, "sub trace '%s' is not finished", t->g->name);
        ds_status st = close_group(t->group, -1);
        if (st) return st;
    }
    *out = ds_graph_retain(t->g);
    return DS_OK;
}

/* "float32[N, ?, 3]": symbolic dims by name, unknown ones as '?'. */
static const char *type_str(const ds_graph *g, const ds_meta *m, char *buf, size_t n) {
    size_t k = (size_t)snprintf(buf, n, "%s[", ds_dtype_name(m->dtype));
    for (int d = 0; d < m->ndim && k < n; d++) {
        int64_t x = m->shape[d];
        const char *sep = d ? ", " : "";
        if (x >= 0) k += (size_t)snprintf(buf + k, n - k, "%s%lld", sep, (long long)x);
        else if (DS_DIM_IS_SYM(x) && DS_DIM_SYM_INDEX(x) < g->symbols.n)
            k += (size_t)snprintf(buf + k, n - k, "%s%s", sep, (const char *)g->symbols.items[DS_DIM_SYM_INDEX(x)]);
        else k += (size_t)snprintf(buf + k, n - k, "%s?", sep);
    }
    if (k < n) snprintf(buf + k, n - k, "]");
    return buf;
}

/* Checks that the subs are finished siblings of a group whose parent is t. */
static ds_status check_subs(ds_trace *t, const char *what, int n, ds_trace *const *subs) {
    ds_status st = check_open(t);
    if (st) return st;
    for (int i = 0; i < n; i++) {
        if (!subs[i] || !subs[i]->group || subs[i]->group->parent != t)
            return ds_errorf(DS_ERR_VALUE, "%s: sub trace %d is not a sub trace of graph '%s'", what, i, t->g->name);
        if (subs[i]->group != subs[0]->group)
            return ds_errorf(DS_ERR_VALUE, "%s: the sub traces are not siblings (one ds_trace_new_group)", what);
        if (!subs[i]->finished) return ds_errorf(DS_ERR_VALUE, "%s: sub trace '%s' is not finished", what, subs[i]->g->name);
    }
    return DS_OK;
}

/* args[0..n_args) resolved in t, then the group's captured values: *out is ds_malloc'd. */
static ds_status group_args(ds_trace *t, trace_group *G, const char *what, int n_args, ds_tensor *const *args,
                            int n_extra, ds_tensor *const *extra, ds_value ***out, int *n_total) {
    if (n_args != G->n_explicit)
        return ds_errorf(DS_ERR_VALUE, "%s: %d arguments given for %d parameters of graph '%s'", what, n_args, G->n_explicit,
                         G->graphs[0]->name);
    int nc = G->cap_tensors.n, n = n_args + nc + n_extra;
    ds_value **v = ds_malloc(sizeof(ds_value *) * (size_t)(n + 1));
    if (!v) return DS_ERR_NOMEM;
    ds_status st = resolve_all(t, n_args, args, v);
    for (int k = 0; !st && k < nc; k++) v[n_args + k] = G->cap_values.items[k];
    if (!st) st = resolve_all(t, n_extra, extra, v + n_args + nc);
    if (st) {
        ds_free(v);
        return st;
    }
    *out = v;
    *n_total = n;
    return DS_OK;
}

/* The branches return values of one dtype and rank each, with equal static dims (the builder merges
 * the others into unknown dims); checked here for messages that name symbolic dims. */
static ds_status check_branches(const trace_group *G, int a, int b) {
    const sibling_outs *x = &G->outs[a], *y = &G->outs[b];
    if (x->n != y->n) return ds_errorf(DS_ERR_VALUE, "If: the branches return %d and %d values", x->n, y->n);
    for (int i = 0; i < x->n; i++) {
        const ds_meta *p = &x->v[i]->type, *q = &y->v[i]->type;
        bool ok = p->dtype == q->dtype && p->ndim == q->ndim;
        for (int d = 0; ok && d < p->ndim; d++) ok = p->shape[d] == q->shape[d] || p->shape[d] < 0 || q->shape[d] < 0;
        if (!ok) {
            char s1[DS_SHAPE_STR_MAX + 16], s2[DS_SHAPE_STR_MAX + 16];
            return ds_errorf(DS_ERR_SHAPE, "If: branch output %d differs: then gives %s, else gives %s", i,
                             type_str(G->graphs[a], p, s1, sizeof s1), type_str(G->graphs[b], q, s2, sizeof s2));
        }
    }
    return DS_OK;
}

ds_status ds_trace_add_if(ds_trace *t, ds_tensor *cond, ds_trace *then_sub, ds_trace *else_sub, int n_args,
                          ds_tensor *const *args, int max_out, ds_tensor **outs, int *n_out) {
    ds_trace *subs[2] = {then_sub, else_sub};
    ds_status st = check_subs(t, "If", 2, subs);
    if (st) return st;
    trace_group *G = then_sub->group;
    if ((st = check_branches(G, then_sub->index, else_sub->index))) return st;
    ds_value *c, **in = NULL, *res[DS_OP_MAX_OUT];
    int n_in = 0, nres = 0;
    if ((st = resolve(t, cond, &c))) return st;
    if ((st = group_args(t, G, "If", n_args, args, 0, NULL, &in, &n_in))) return st;
    if (!(st = close_group(G, -1)))
        st = ds_graph_add_if(t->g, c, then_sub->g, else_sub->g, n_in, in, max_out < DS_OP_MAX_OUT ? max_out : DS_OP_MAX_OUT,
                             res, &nres);
    ds_free(in);
    if (st) return st;
    if ((st = new_symbolics(t, nres, res, outs))) return st;
    if (n_out) *n_out = nres;
    return DS_OK;
}

/* Loop-carried values keep their type: the declared parameter, the initial value and what the body
 * returns must agree (symbolic dims mean the same in the sub graphs, which mirror the parent's symbols). */
static ds_status check_carried(ds_trace *t, trace_group *G, int body, ds_value *const *init) {
    const sibling_outs *o = &G->outs[body];
    if (o->n != G->n_explicit)
        return ds_errorf(DS_ERR_VALUE, "While: the body returns %d values for %d loop-carried values", o->n, G->n_explicit);
    for (int i = 0; i < G->n_explicit; i++) {
        const ds_meta *p = &((ds_value *)G->graphs[body]->params.items[i])->type;
        char a[DS_SHAPE_STR_MAX + 16], b[DS_SHAPE_STR_MAX + 16];
        if (!ds_meta_equal(p, &init[i]->type))
            return ds_errorf(DS_ERR_SHAPE, "While: loop-carried value %d is declared as %s but its initial value is %s", i,
                             type_str(t->g, p, a, sizeof a), type_str(t->g, &init[i]->type, b, sizeof b));
        if (!ds_meta_equal(p, &o->v[i]->type))
            return ds_errorf(DS_ERR_SHAPE, "While: loop-carried value %d changes from %s to %s in the body", i,
                             type_str(t->g, p, a, sizeof a), type_str(G->graphs[body], &o->v[i]->type, b, sizeof b));
    }
    return DS_OK;
}

ds_status ds_trace_add_while(ds_trace *t, ds_trace *cond_sub, ds_trace *body_sub, int n_init, ds_tensor *const *init,
                             ds_tensor **outs) {
    ds_trace *subs[2] = {cond_sub, body_sub};
    ds_status st = check_subs(t, "While", 2, subs);
    if (st) return st;
    if (cond_sub == body_sub) return ds_errorf(DS_ERR_VALUE, "While: the cond and body must be different sub traces");
    trace_group *G = body_sub->group;
    ds_value **in = NULL, **res = NULL;
    int n_in = 0;
    if ((st = group_args(t, G, "While", n_init, init, 0, NULL, &in, &n_in))) return st;
    if (!G->closed && (st = check_carried(t, G, body_sub->index, in))) {
        ds_free(in);
        return st;
    }
    res = ds_malloc(sizeof(ds_value *) * (size_t)(n_in + 1));
    if (!res) st = DS_ERR_NOMEM;
    if (!st) st = close_group(G, body_sub->index);
    if (!st) st = ds_graph_add_while(t->g, cond_sub->g, body_sub->g, n_in, in, res);
    if (!st) st = new_symbolics(t, n_init, res, outs);
    ds_free(in);
    ds_free(res);
    return st;
}

ds_status ds_trace_add_call(ds_trace *t, ds_trace *sub, ds_graph *callee, int n_args, ds_tensor *const *args,
                            int n_extra, ds_tensor *const *extra, int max_out, ds_tensor **outs, int *n_out) {
    ds_status st = check_subs(t, "Call", 1, &sub);
    if (st) return st;
    trace_group *G = sub->group;
    ds_value **in = NULL, *res[DS_OP_MAX_OUT];
    int n_in = 0, nres = 0;
    if ((st = group_args(t, G, "Call", n_args, args, n_extra, extra, &in, &n_in))) return st;
    if (!(st = close_group(G, -1)))
        st = ds_graph_add_call(t->g, callee ? callee : sub->g, n_in, in, max_out < DS_OP_MAX_OUT ? max_out : DS_OP_MAX_OUT,
                               res, &nres);
    ds_free(in);
    if (st) return st;
    if ((st = new_symbolics(t, nres, res, outs))) return st;
    if (n_out) *n_out = nres;
    return DS_OK;
}

/* ---------------------------------------------------------------- effects and rebinding */
ds_status ds_trace_add_print(ds_trace *t, const char *prefix, int n, ds_tensor *const *vals) {
    ds_status st = check_open(t);
    if (st) return st;
    ds_value *stack[16], **v = n <= 16 ? stack : ds_malloc(sizeof(ds_value *) * (size_t)n);
    if (!v) return DS_ERR_NOMEM;
    st = resolve_all(t, n, vals, v);
    if (!st) st = ds_graph_add_print(t->g, prefix, n, v);
    if (v != stack) ds_free(v);
    return st;
}

ds_status ds_trace_add_assign(ds_trace *t, ds_tensor *target, ds_tensor *value) {
    ds_status st = check_open(t);
    if (st) return st;
    if (!mapped_chain(t, target))
        return ds_errorf(DS_ERR_VALUE, "assign: the target is not bound to a weight parameter of graph '%s'", t->g->name);
    ds_value *tv, *vv;
    if ((st = resolve(t, target, &tv)) || (st = resolve(t, value, &vv))) return st;
    return ds_graph_add_assign(t->g, tv, vv);
}

ds_status ds_trace_rebind(ds_trace *t, ds_tensor *x, ds_tensor *value) {
    ds_status st = check_open(t);
    if (st) return st;
    if (!x) return ds_errorf(DS_ERR_VALUE, "rebind: the tensor is NULL");
    ds_value *v;
    if ((st = resolve(t, value, &v))) return st;
    return tmap_put(&t->map, x, v, false);
}

/* ---------------------------------------------------------------- eager dispatch hook */
/* Which inputs an in-place effect writes (marks w[i]); only ops without outputs write inputs. */
static void written_inputs(ds_op_id op, const ds_attr *full, int n_in, bool *w) {
    memset(w, 0, sizeof(bool) * (size_t)n_in);
    if (n_in > 0) w[0] = true;
    switch (op) {
    case DS_OP_SGD_UPDATE:
        if (n_in > 2 && full[1].kind == DS_ATTR_FLOAT && full[1].v.f != 0) w[2] = true;
        break;
    case DS_OP_MOMENTUM_UPDATE:
        if (n_in > 2) w[2] = true;
        break;
    case DS_OP_ADAM_UPDATE:
        for (int i = 2; i < n_in && i < 4 + (full[7].kind == DS_ATTR_BOOL && full[7].v.b); i++) w[i] = true;
        break;
    default: break;
    }
}

ds_status ds_trace_dispatch(ds_trace *t, ds_op_id op, int n_in, ds_tensor *const *inputs, const ds_attr *attrs,
                            int max_out, ds_tensor **outputs, int *n_out, bool *handled) {
    bool traced = ds_op_is_effectful(op);
    for (int i = 0; i < n_in && !traced; i++) /* a symbolic tensor of another trace gets resolve's message */
        traced = inputs[i] && (inputs[i]->symbolic || mapped_chain(t, inputs[i]));
    if (!traced) return DS_OK;
    *handled = true;
    const op_entry *e = ds_op_entry_get(op);
    ds_status st = check_open(t);
    if (st) {
        ds_error_prefix(e->info.name);
        return st;
    }
    ds_value *stack[16], **in = n_in <= 16 ? stack : ds_malloc(sizeof(ds_value *) * (size_t)n_in);
    ds_value *res[DS_OP_MAX_OUT];
    bool wstack[16], *w = n_in <= 16 ? wstack : ds_malloc(sizeof(bool) * (size_t)n_in);
    int nres = 0;
    if (!in || !w) {
        st = DS_ERR_NOMEM;
        goto done;
    }
    if (e->info.n_out == 0) { /* an in-place effect: what it writes must be graph values, not snapshots */
        ds_attr full[DS_MAX_ATTRS];
        if ((st = ds_op_fill_attrs(e, attrs, full))) {
            ds_error_prefix(e->info.name);
            goto done;
        }
        written_inputs(op, full, n_in, w);
        for (int i = 0; i < n_in; i++)
            if (w[i] && inputs[i] && !mapped_chain(t, inputs[i]) && !inputs[i]->symbolic) {
                st = ds_errorf(DS_ERR_VALUE, "%s: input %d is written in place but is not a value of the graph being "
                               "compiled ('%s'): bind the tensor to a parameter of the graph", e->info.name, i, t->g->name);
                goto done;
            }
    }
    if ((st = resolve_all(t, n_in, inputs, in))) {
        ds_error_prefix(e->info.name);
        goto done;
    }
    if ((st = ds_graph_add_op(t->g, op, n_in, in, attrs, max_out < DS_OP_MAX_OUT ? max_out : DS_OP_MAX_OUT, res, &nres)))
        goto done;
    if ((st = new_symbolics(t, nres, res, outputs))) goto done;
    if (n_out) *n_out = nres;
done:
    if (in != stack) ds_free(in);
    if (w != wstack) ds_free(w);
    return st;
}
