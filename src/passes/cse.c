/* Common-subexpression elimination: a node that computes what an earlier node of the same graph already
 * computed (same op, same attributes -- ints arrays and float bits included --, same inputs) reuses the
 * earlier node's outputs. Constants with the same dtype, shape and bytes merge (so 0.0 and -0.0 stay
 * apart). Pure If/While/Call nodes merge when they run the same (transformed) subgraphs on the same
 * inputs. Never merged: effects (print, assign, callbacks, random ops, in-place writes, control flow
 * with effects), and values an in-place write could make differ (see ds_rw_can_replace). Works within
 * one graph at a time (subgraphs cannot read their parent's values) and inside every subgraph. */
#include <string.h>

#include "base/alloc.h"
#include "passes/manager.h"
#include "passes/rewrite.h"

typedef struct cse_table {
    ds_node **slots; /* dst nodes, open addressing */
    uint64_t *hashes;
    int cap; /* power of two */
} cse_table;

static void cse_release(void *state) {
    cse_table *t = state;
    if (!t) return;
    ds_free(t->slots);
    ds_free(t->hashes);
    ds_free(t);
}

static ds_status cse_prepare(ds_rw *rw, const ds_graph *g, void **state) {
    cse_table *t = ds_calloc(sizeof *t);
    if (!t) return DS_ERR_NOMEM;
    t->cap = 16;
    while (t->cap < 2 * g->nodes.n + 2) t->cap *= 2;
    t->slots = ds_calloc(sizeof(ds_node *) * (size_t)t->cap);
    t->hashes = ds_calloc(sizeof(uint64_t) * (size_t)t->cap);
    if (!t->slots || !t->hashes) {
        cse_release(t);
        return DS_ERR_NOMEM;
    }
    *state = t;
    return DS_OK;
}

static uint64_t mix(uint64_t h, uint64_t v) {
    h ^= v + 0x9e3779b97f4a7c15ull + (h << 6) + (h >> 2);
    return h * 0xff51afd7ed558ccdull;
}

static uint64_t mix_bytes(uint64_t h, const void *p, size_t n) {
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++) h = (h ^ b[i]) * 0x100000001b3ull;
    return h;
}

static int n_attrs(const ds_node *n) { return n->kind == DS_NODE_OP ? ds_op_get_info(n->op)->n_attrs : 0; }

static uint64_t attr_hash(uint64_t h, const ds_attr *a) {
    h = mix(h, (uint64_t)a->kind);
    switch (a->kind) {
    case DS_ATTR_BOOL: return mix(h, a->v.b);
    case DS_ATTR_INT: return mix(h, (uint64_t)a->v.i);
    case DS_ATTR_FLOAT: return mix_bytes(h, &a->v.f, sizeof(double));
    case DS_ATTR_INTS: return mix_bytes(mix(h, (uint64_t)a->n), a->v.ints, sizeof(int64_t) * (size_t)a->n);
    case DS_ATTR_DTYPE: return mix(h, (uint64_t)a->v.dtype);
    default: return h;
    }
}

static bool attr_equal(const ds_attr *a, const ds_attr *b) {
    if (a->kind != b->kind) return false;
    switch (a->kind) {
    case DS_ATTR_BOOL: return a->v.b == b->v.b;
    case DS_ATTR_INT: return a->v.i == b->v.i;
    case DS_ATTR_FLOAT: return !memcmp(&a->v.f, &b->v.f, sizeof(double));
    case DS_ATTR_INTS: return a->n == b->n && (a->n == 0 || !memcmp(a->v.ints, b->v.ints, sizeof(int64_t) * (size_t)a->n));
    case DS_ATTR_DTYPE: return a->v.dtype == b->v.dtype;
    default: return true;
    }
}

static size_t const_bytes(const ds_tensor *t) { return (size_t)t->numel * ds_dtype_size(t->dtype); }

/* Hash of a pure node whose inputs are dst values and subgraphs dst graphs. */
static uint64_t node_hash(const ds_node *n) {
    uint64_t h = mix(mix(1469598103934665603ull, (uint64_t)n->kind), (uint64_t)n->op);
    h = mix(h, (uint64_t)n->n_in);
    for (int k = 0; k < n->n_in; k++) h = mix(h, (uint64_t)n->in[k]->id);
    for (int k = 0; k < n->n_sub; k++) h = mix(h, (uint64_t)(uintptr_t)n->sub[k]);
    for (int k = 0; k < n_attrs(n); k++) h = attr_hash(h, &n->attrs[k]);
    if (n->kind == DS_NODE_CONST) {
        const ds_tensor *t = n->constant;
        h = mix(mix(h, (uint64_t)t->dtype), (uint64_t)t->ndim);
        for (int d = 0; d < t->ndim; d++) h = mix(h, (uint64_t)t->shape[d]);
        size_t nb = const_bytes(t);
        h = mix_bytes(h, t->data, nb < 256 ? nb : 256);
    }
    return h;
}

static bool node_equal(const ds_node *a, const ds_node *b) {
    if (a->kind != b->kind || a->op != b->op || a->n_in != b->n_in || a->n_sub != b->n_sub || a->n_out != b->n_out) return false;
    for (int k = 0; k < a->n_in; k++)
        if (a->in[k] != b->in[k]) return false;
    for (int k = 0; k < a->n_sub; k++)
        if (a->sub[k] != b->sub[k]) return false;
    for (int k = 0; k < n_attrs(a); k++)
        if (!attr_equal(&a->attrs[k], &b->attrs[k])) return false;
    if (a->kind == DS_NODE_CONST) {
        const ds_tensor *x = a->constant, *y = b->constant;
        if (x->dtype != y->dtype || !ds_shape_equal(x->ndim, x->shape, y->ndim, y->shape)) return false;
        return x == y || !memcmp(x->data, y->data, const_bytes(x));
    }
    return true;
}

static bool mergeable_kind(const ds_node *n) {
    if (n->effect) return false;
    switch (n->kind) {
    case DS_NODE_OP:
    case DS_NODE_CONST:
    case DS_NODE_IF:
    case DS_NODE_WHILE:
    case DS_NODE_CALL: return n->n_out > 0;
    default: return false;
    }
}

static ds_status cse_visit(ds_rw *rw, const ds_node *n, ds_value *const *in, ds_value **out) {
    cse_table *t = rw->state;
    if (!mergeable_kind(n)) return ds_rw_clone_node(rw, n, in, out);
    /* the node as it would be in dst: dst inputs and transformed subgraphs */
    ds_graph *subs[2] = {NULL, NULL};
    ds_status st;
    for (int k = 0; k < n->n_sub && k < 2; k++)
        if ((st = ds_rw_subgraph(rw, n->sub[k], &subs[k]))) return st;
    ds_node probe = *n;
    probe.in = (ds_value **)in;
    probe.sub = subs;
    uint64_t h = node_hash(&probe);
    int mask = t->cap - 1, slot = (int)(h & (uint64_t)mask);
    for (; t->slots[slot]; slot = (slot + 1) & mask) {
        ds_node *m = t->slots[slot];
        if (t->hashes[slot] != h || !node_equal(&probe, m)) continue;
        bool ok = true;
        for (int k = 0; k < n->n_out && ok; k++) {
            ds_value *reads[1 + 64];
            int nr = 0;
            reads[nr++] = m->out[k];
            for (int j = 0; j < m->n_in && nr < 65; j++) reads[nr++] = m->in[j];
            ok = m->n_in < 64 && ds_rw_can_replace(rw, n->out[k], reads, nr);
        }
        if (!ok) break; /* keep the new copy; the older entry stays for later nodes */
        for (int k = 0; k < n->n_out; k++) out[k] = m->out[k];
        ds_rw_changed(rw, 1);
        return DS_OK;
    }
    if ((st = ds_rw_clone_node(rw, n, in, out))) return st;
    ds_node *m = out[0]->producer;
    if (m && !t->slots[slot]) {
        t->slots[slot] = m;
        t->hashes[slot] = h;
    }
    return DS_OK;
}

static const ds_rw_pass k_cse = {
    .name = "cse", .prepare = cse_prepare, .release = cse_release, .visit = cse_visit, .needs_alias = true};

ds_status ds_pass_cse(const ds_graph *g, ds_graph **out, int *changes) { return ds_rw_apply(&k_cse, g, out, changes); }
