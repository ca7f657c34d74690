/* The eager tape: an IR graph bound to live tensors, differentiated by the same reverse pass.
 *
 * How live tensors map to the graph:
 * - Every tensor the tape sees is bound to one value of the tape's graph, and the tape holds a
 *   reference to it until the tape is released (the backward may read it).
 * - Tensors from outside (watched leaves, and other inputs of recorded ops) become graph parameters
 *   bound to the tensor; only watched ones are differentiated. Parameters rather than constants keep
 *   the graph free of data, so its structure (ops, shapes, dtypes) can key a cache of backward plans
 *   and a repeated training step can rebind new tensors to the same plan.
 * - Outputs of recorded ops become the node's outputs, bound to the output tensors.
 * - An op is recorded only when an input requires grad (a watched leaf or a recorded output) and the
 *   op has a nonzero gradient; its float outputs then require grad. Random ops, comparisons, argmax
 *   and the like are never recorded: their outputs are constants for the tape.
 * - In-place writes (index_put) into a tensor that requires grad are refused. Writing into a bound
 *   tensor by other means (e.g. ds_tensor_copy_into) after recording changes what the backward reads.
 * Recording is a hash lookup per input and an append of one node to the graph's arena.
 *
 * Backward runs the reverse pass in tape mode: no forward is re-emitted; the backward graph takes
 * the sensitivities and the recorded tensors it needs as parameters, and runs with ds_graph_eval
 * (the optimized executor will replace it). Its ops are recorded on the thread's active tapes other
 * than the tape itself, so a backward run inside a function being differentiated (an outer tape is
 * active) can be differentiated again: gradients of gradients.
 *
 * Nesting: ds_tape_push links a tape to the active one (its "outer" tape); recording on a tape also
 * records on its outer tapes, so an outer gradient sees the ops of the inner function.
 *
 * Custom nodes: a CALLBACK node of the tape's graph (no host function: the forward already ran)
 * whose fn_ctx is a custom_entry holding a backward host function (ds_tape_vjp). The reverse pass
 * asks the tape (ds_ad_ctx.custom) for their backward, which becomes a CALLBACK node of the backward
 * graph calling the host function with the live inputs, outputs and output cotangents. Its results
 * are copied into the callback's outputs, and the copy is recorded on the active tapes (COPY), so the
 * ops the host function ran stay connected for a higher-order gradient. Tensor hooks are identity
 * custom nodes (output = input): the tensor is rebound to the node's output, so its later uses read
 * it; `origin` remembers the earlier value, and a gradient with respect to the tensor is taken at its
 * first value (after all hooks). Op gradient overrides (ds_tape_set_op_vjp) record custom nodes
 * carrying the op and its attrs.
 *
 * Views made outside ds_op_run (the binding's basic indexing and iteration build them directly with
 * ds_tensor_slice / select / unsqueeze): a tensor the tape has not seen that shares its storage with a
 * contiguous tensor requiring grad (the largest one the tape bound, kept per storage) is adopted as a
 * view of it: a custom node whose backward scatters the cotangent into zeros of the base's shape at
 * the view's elements, recorded itself as a node whose backward gathers it back, so higher orders
 * work too. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "autodiff/pass.h"
#include "base/alloc.h"
#include "base/status.h"

typedef struct custom_entry {
    ds_tape_vjp vjp;
} custom_entry;

struct ds_tape {
    int64_t refcount;
    ds_graph *g;
    ds_tensor **bound;     /* value id -> tensor (a reference) */
    ds_value **vals;       /* value id -> value */
    unsigned char *req;    /* value id -> requires grad */
    int *origin;           /* value id -> the value its tensor was bound to before (rebinding), or -1 */
    int cap_bound;
    const ds_tensor **keys; /* open addressing: tensor -> value id */
    int *ids;
    int cap, count;
    const ds_storage **skeys; /* open addressing: storage -> the largest contiguous tensor requiring grad */
    ds_tensor **sbase;        /*   bound on it (a base for views made outside ds_op_run) */
    int scap, scount;
    ds_tape *outer;        /* pushed inside this tape: it records too */
    bool pushed;
    ds_ptrvec customs;     /* custom_entry* of the custom nodes (contexts released with the tape) */
};

static _Thread_local ds_tape *tl_active;
static ds_tape_vjp g_op_vjp[DS_OP_COUNT]; /* op gradient overrides (process-wide) */

ds_tape *ds_tape_active(void) { return tl_active; }

ds_tape *ds_tape_set_active(ds_tape *t) {
    ds_tape *prev = tl_active;
    tl_active = t;
    return prev;
}

ds_status ds_tape_push(ds_tape *t) {
    for (ds_tape *u = tl_active; u; u = u->outer)
        if (u == t) return ds_errorf(DS_ERR_VALUE, "tape: pushing a tape that is already active");
    if (t->pushed) return ds_errorf(DS_ERR_VALUE, "tape: pushing a tape that is already pushed");
    t->outer = tl_active;
    t->pushed = true;
    tl_active = ds_tape_retain(t);
    return DS_OK;
}

ds_status ds_tape_pop(ds_tape *t) {
    if (!t || tl_active != t || !t->pushed)
        return ds_errorf(DS_ERR_VALUE, "tape: popping a tape that is not the active pushed tape (tapes must be popped in "
                         "reverse order of pushing)");
    tl_active = t->outer;
    t->outer = NULL;
    t->pushed = false;
    ds_tape_release(t);
    return DS_OK;
}

ds_status ds_tape_new(ds_tape **out) {
    ds_tape *t = ds_calloc(sizeof *t);
    if (!t) return DS_ERR_NOMEM;
    t->refcount = 1;
    ds_status st = ds_graph_new("tape", &t->g);
    if (st) {
        ds_free(t);
        return st;
    }
    *out = t;
    return DS_OK;
}

ds_tape *ds_tape_retain(ds_tape *t) {
    if (t) t->refcount++;
    return t;
}

void ds_tape_release(ds_tape *t) {
    if (!t || --t->refcount > 0) return;
    if (tl_active == t) tl_active = NULL;
    for (int i = 0; i < t->cap_bound; i++) ds_tensor_release(t->bound[i]);
    for (int i = 0; i < t->customs.n; i++) {
        custom_entry *e = t->customs.items[i];
        if (e->vjp.release) e->vjp.release(e->vjp.ctx);
    }
    ds_ptrvec_deinit(&t->customs);
    ds_free(t->skeys);
    ds_free(t->sbase);
    ds_free(t->bound);
    ds_free(t->vals);
    ds_free(t->req);
    ds_free(t->origin);
    ds_free(t->keys);
    ds_free(t->ids);
    ds_graph_release(t->g);
    ds_free(t);
}

const ds_graph *ds_tape_graph(const ds_tape *t) { return t->g; }

/* ---------------------------------------------------------------- tensor -> value */
static inline uint32_t slot_of(const ds_tensor *x, int cap) {
    uint64_t h = (uint64_t)(uintptr_t)x * 0x9E3779B97F4A7C15ull;
    return (uint32_t)(h >> 32) & (uint32_t)(cap - 1);
}

static int lookup(const ds_tape *t, const ds_tensor *x) {
    if (!t->cap) return -1;
    for (uint32_t s = slot_of(x, t->cap);; s = (s + 1) & (uint32_t)(t->cap - 1)) {
        if (t->keys[s] == x) return t->ids[s];
        if (!t->keys[s]) return -1;
    }
}

static ds_status map_grow(ds_tape *t) {
    int cap = t->cap ? 2 * t->cap : 64;
    const ds_tensor **keys = ds_calloc(sizeof(ds_tensor *) * (size_t)cap);
    int *ids = ds_malloc(sizeof(int) * (size_t)cap);
    if (!keys || !ids) {
        ds_free(keys);
        ds_free(ids);
        return DS_ERR_NOMEM;
    }
    for (int i = 0; i < t->cap; i++) {
        if (!t->keys[i]) continue;
        uint32_t s = slot_of(t->keys[i], cap);
        while (keys[s]) s = (s + 1) & (uint32_t)(cap - 1);
        keys[s] = t->keys[i];
        ids[s] = t->ids[i];
    }
    ds_free(t->keys);
    ds_free(t->ids);
    t->keys = keys;
    t->ids = ids;
    t->cap = cap;
    return DS_OK;
}

/* storage -> base tensor for views (see the file comment) */
static ds_tensor *storage_base(const ds_tape *t, const ds_storage *st) {
    if (!t->scap || !st) return NULL;
    for (uint32_t s = slot_of((const ds_tensor *)st, t->scap);; s = (s + 1) & (uint32_t)(t->scap - 1)) {
        if (t->skeys[s] == st) return t->sbase[s];
        if (!t->skeys[s]) return NULL;
    }
}

static ds_status storage_note(ds_tape *t, ds_tensor *x) {
    if (!x->storage || !x->contiguous || !x->numel) return DS_OK;
    if (2 * (t->scount + 1) > t->scap) {
        int cap = t->scap ? 2 * t->scap : 32;
        const ds_storage **keys = ds_calloc(sizeof(ds_storage *) * (size_t)cap);
        ds_tensor **base = ds_malloc(sizeof(ds_tensor *) * (size_t)cap);
        if (!keys || !base) {
            ds_free(keys);
            ds_free(base);
            return DS_ERR_NOMEM;
        }
        for (int i = 0; i < t->scap; i++) {
            if (!t->skeys[i]) continue;
            uint32_t s = slot_of((const ds_tensor *)t->skeys[i], cap);
            while (keys[s]) s = (s + 1) & (uint32_t)(cap - 1);
            keys[s] = t->skeys[i];
            base[s] = t->sbase[i];
        }
        ds_free(t->skeys);
        ds_free(t->sbase);
        t->skeys = keys;
        t->sbase = base;
        t->scap = cap;
    }
    uint32_t s = slot_of((const ds_tensor *)x->storage, t->scap);
    while (t->skeys[s] && t->skeys[s] != x->storage) s = (s + 1) & (uint32_t)(t->scap - 1);
    if (!t->skeys[s]) {
        t->skeys[s] = x->storage;
        t->sbase[s] = x;
        t->scount++;
    } else if (t->sbase[s]->numel < x->numel)
        t->sbase[s] = x;
    return DS_OK;
}

/* Binds tensor x to value v (the tape takes a reference). */
static ds_status bind(ds_tape *t, ds_tensor *x, ds_value *v, bool req) {
    ds_status st;
    if (v->id >= t->cap_bound) {
        int cap = t->cap_bound ? t->cap_bound : 64;
        while (cap <= v->id) cap *= 2;
        ds_tensor **b = ds_calloc(sizeof(ds_tensor *) * (size_t)cap);
        ds_value **vs = ds_calloc(sizeof(ds_value *) * (size_t)cap);
        unsigned char *r = ds_calloc((size_t)cap);
        int *o = ds_malloc(sizeof(int) * (size_t)cap);
        if (!b || !vs || !r || !o) {
            ds_free(b);
            ds_free(vs);
            ds_free(r);
            ds_free(o);
            return DS_ERR_NOMEM;
        }
        if (t->cap_bound) {
            memcpy(b, t->bound, sizeof(ds_tensor *) * (size_t)t->cap_bound);
            memcpy(vs, t->vals, sizeof(ds_value *) * (size_t)t->cap_bound);
            memcpy(r, t->req, (size_t)t->cap_bound);
            memcpy(o, t->origin, sizeof(int) * (size_t)t->cap_bound);
        }
        for (int i = t->cap_bound; i < cap; i++) o[i] = -1;
        ds_free(t->bound);
        ds_free(t->vals);
        ds_free(t->req);
        ds_free(t->origin);
        t->bound = b;
        t->vals = vs;
        t->req = r;
        t->origin = o;
        t->cap_bound = cap;
    }
    if (2 * (t->count + 1) > t->cap && (st = map_grow(t))) return st;
    uint32_t s = slot_of(x, t->cap);
    while (t->keys[s] && t->keys[s] != x) s = (s + 1) & (uint32_t)(t->cap - 1);
    if (!t->keys[s]) t->count++;
    else if (t->ids[s] != v->id) t->origin[v->id] = t->ids[s]; /* rebinding: remember the earlier value */
    t->keys[s] = x;
    t->ids[s] = v->id;
    t->bound[v->id] = ds_tensor_retain(x);
    t->vals[v->id] = v;
    t->req[v->id] = req;
    return req ? storage_note(t, x) : DS_OK;
}

static ds_status adopt_view(ds_tape *t, ds_tensor *v, bool *adopted);

/* The value bound to x, binding it to a new parameter if needed (or adopting x as a view). */
static ds_status value_of(ds_tape *t, ds_tensor *x, bool req, ds_value **out) {
    int id = lookup(t, x);
    if (id < 0 && !req) {
        bool adopted;
        ds_status st = adopt_view(t, x, &adopted);
        if (st) return st;
        if (adopted) id = lookup(t, x);
    }
    if (id >= 0) {
        *out = t->vals[id];
        return DS_OK;
    }
    ds_value *p;
    ds_status st = ds_graph_add_param(t->g, req ? "leaf" : "input", x->dtype, x->ndim, x->shape, false, &p);
    if (!st) st = bind(t, x, p, req);
    if (!st) *out = p;
    return st;
}

bool ds_tape_requires_grad(const ds_tape *t, const ds_tensor *x) {
    int id = lookup(t, x);
    return id >= 0 && t->req[id];
}

ds_status ds_tape_watch(ds_tape *t, ds_tensor *x) {
    if (!ds_dtype_is_float(x->dtype))
        return ds_errorf(DS_ERR_DTYPE, "only float tensors can require gradients, got %s", ds_dtype_name(x->dtype));
    int id = lookup(t, x);
    if (id >= 0) {
        t->req[id] = 1;
        return DS_OK;
    }
    ds_value *p;
    return value_of(t, x, true, &p);
}

/* ---------------------------------------------------------------- recording */
static bool any_requires_grad(const ds_tape *t, int n_in, ds_tensor *const *inputs) {
    for (int i = 0; i < n_in; i++) {
        int id = lookup(t, inputs[i]);
        if (id >= 0 ? t->req[id] != 0 : storage_base(t, inputs[i]->storage) != NULL) return true;
    }
    return false;
}

/* Appends a custom node (a CALLBACK node without host function whose fn_ctx holds the backward) to t.
 * `full` (op < DS_OP_COUNT): the op's attrs, all filled. */
static ds_status record_custom_one(ds_tape *t, const char *name, int n_in, ds_tensor *const *inputs, int n_out,
                                   ds_tensor *const *outputs, const ds_tape_vjp *vjp, ds_op_id op, const ds_attr *full) {
    if (!any_requires_grad(t, n_in, inputs)) return DS_OK;
    ds_value *stack[16], **in = n_in <= 16 ? stack : ds_malloc(sizeof(ds_value *) * (size_t)n_in);
    ds_meta metas[DS_OP_MAX_OUT];
    ds_status st = in ? DS_OK : DS_ERR_NOMEM;
    for (int i = 0; i < n_in && !st; i++) st = value_of(t, inputs[i], false, &in[i]);
    if (st) goto done;
    for (int k = 0; k < n_out; k++) ds_meta_of(outputs[k], &metas[k]);
    ds_node *n = ds_ir_new_node(t->g, DS_NODE_CALLBACK, n_in, in, n_out, metas);
    custom_entry *e = ds_arena_alloc(&t->g->arena, sizeof *e);
    if (!n || !e || !(n->text = ds_arena_strdup(&t->g->arena, name ? name : "custom"))) {
        st = DS_ERR_NOMEM;
        goto done;
    }
    n->op = op;
    if (op < DS_OP_COUNT) {
        int na = ds_op_get_info(op)->n_attrs;
        n->attrs = ds_ir_copy_attrs(t->g, full, na);
        if (na && !n->attrs) {
            st = DS_ERR_NOMEM;
            goto done;
        }
    }
    if ((st = ds_ptrvec_push(&t->customs, e))) goto done;
    e->vjp = *vjp;
    if (vjp->retain) vjp->retain(vjp->ctx);
    n->fn = NULL;
    n->fn_ctx = e;
    if ((st = ds_ir_append(t->g, n))) goto done;
    for (int k = 0; k < n_out && !st; k++) st = bind(t, outputs[k], n->out[k], ds_dtype_is_float(outputs[k]->dtype));
done:
    if (in != stack) ds_free(in);
    return st;
}

/* Outputs of an op without gradient (stop_gradient) that view an input's storage are bound as constants,
 * so they are not adopted as differentiable views. */
static ds_status constant_outputs(ds_tape *t, int n_in, ds_tensor *const *inputs, int n_out, ds_tensor *const *outputs) {
    ds_status st = DS_OK;
    for (int k = 0; k < n_out && !st; k++) {
        const ds_tensor *y = outputs[k];
        bool aliases = false;
        for (int i = 0; i < n_in && !aliases; i++) aliases = y->storage && y->storage == inputs[i]->storage;
        if (!aliases || lookup(t, y) >= 0) continue;
        ds_value *p;
        st = ds_graph_add_param(t->g, "input", y->dtype, y->ndim, y->shape, false, &p);
        if (!st) st = bind(t, outputs[k], p, false);
    }
    return st;
}

static ds_status record_one(ds_tape *t, ds_op_id op, int n_in, ds_tensor *const *inputs, const ds_attr *attrs, int n_out,
                            ds_tensor *const *outputs) {
    if (!any_requires_grad(t, n_in, inputs) || (unsigned)op >= DS_OP_COUNT) return DS_OK;
    const ds_grad_entry *ge = ds_grad_entry_get(op);
    const op_entry *e = ds_op_entry_get(op);
    ds_attr full[DS_MAX_ATTRS];
    ds_status st;
    if (g_op_vjp[op].fn && !ds_op_is_effectful(op)) { /* a gradient override */
        if (n_out > DS_OP_MAX_OUT) return ds_errorf(DS_ERR_VALUE, "%s: too many outputs to record", e->info.name);
        if ((st = ds_op_fill_attrs(e, attrs, full))) return st;
        return record_custom_one(t, e->info.name, n_in, inputs, n_out, outputs, &g_op_vjp[op], op, full);
    }
    if (ge->kind == DS_GRAD_ZERO) return constant_outputs(t, n_in, inputs, n_out, outputs);
    if (ds_op_is_effectful(op))
        return ds_errorf(DS_ERR_UNSUPPORTED, "%s: an in-place write into a tensor that requires grad is not supported "
                         "(use a functional form such as slice_scatter or index_add)", e->info.name);
    if (n_out > DS_OP_MAX_OUT) return ds_errorf(DS_ERR_VALUE, "%s: too many outputs to record", e->info.name);
    ds_value *stack[16], **in = n_in <= 16 ? stack : ds_malloc(sizeof(ds_value *) * (size_t)n_in);
    ds_meta metas[DS_OP_MAX_OUT];
    st = in ? DS_OK : DS_ERR_NOMEM;
    for (int i = 0; i < n_in && !st; i++) st = value_of(t, inputs[i], false, &in[i]);
    if (!st) st = ds_op_fill_attrs(e, attrs, full);
    if (st) goto done;
    for (int k = 0; k < n_out; k++) ds_meta_of(outputs[k], &metas[k]);
    ds_node *n = ds_ir_new_node(t->g, DS_NODE_OP, n_in, in, n_out, metas);
    if (!n) {
        st = DS_ERR_NOMEM;
        goto done;
    }
    n->op = op;
    n->attrs = ds_ir_copy_attrs(t->g, full, e->info.n_attrs);
    if (e->info.n_attrs && !n->attrs) {
        st = DS_ERR_NOMEM;
        goto done;
    }
    if ((st = ds_ir_append(t->g, n))) goto done;
    for (int k = 0; k < n_out && !st; k++) st = bind(t, outputs[k], n->out[k], ds_dtype_is_float(outputs[k]->dtype));
done:
    if (in != stack) ds_free(in);
    return st;
}

ds_status ds_tape_record(ds_tape *t, ds_op_id op, int n_in, ds_tensor *const *inputs, const ds_attr *attrs, int n_out,
                         ds_tensor *const *outputs) {
    ds_status st = DS_OK;
    for (ds_tape *u = t; u && !st; u = u->outer) st = record_one(u, op, n_in, inputs, attrs, n_out, outputs);
    return st;
}

static ds_status check_custom(const char *what, int n_in, int n_out, const ds_tape_vjp *vjp) {
    if (!vjp || !vjp->fn) return ds_errorf(DS_ERR_VALUE, "%s: no backward function", what);
    if (n_in < 0 || n_out < 0 || n_out > DS_OP_MAX_OUT || n_in + 2 * n_out > 256)
        return ds_errorf(DS_ERR_VALUE, "%s: a custom node has at most %d outputs and n_in + 2 * n_out <= 256 (got %d inputs, "
                         "%d outputs)", what, DS_OP_MAX_OUT, n_in, n_out);
    return DS_OK;
}

ds_status ds_tape_record_custom(ds_tape *t, const char *name, int n_in, ds_tensor *const *inputs, int n_out,
                                ds_tensor *const *outputs, const ds_tape_vjp *vjp) {
    ds_status st = check_custom(name ? name : "custom", n_in, n_out, vjp);
    for (ds_tape *u = t; u && !st; u = u->outer)
        st = record_custom_one(u, name, n_in, inputs, n_out, outputs, vjp, DS_OP_COUNT, NULL);
    return st;
}

ds_status ds_tape_add_hook(ds_tape *t, ds_tensor *x, const ds_tape_vjp *vjp) {
    ds_status st = check_custom("hook", 1, 1, vjp);
    for (ds_tape *u = t; u && !st; u = u->outer) {
        int id = lookup(u, x);
        if (id < 0 || !u->req[id]) continue;
        const ds_node *p = u->vals[id]->producer;
        if (p && p->kind == DS_NODE_CALLBACK && p->fn_ctx && ((custom_entry *)p->fn_ctx)->vjp.fn == vjp->fn &&
            ((custom_entry *)p->fn_ctx)->vjp.ctx == vjp->ctx)
            continue; /* already hooked by this function */
        st = record_custom_one(u, "hook", 1, &x, 1, &x, vjp, DS_OP_COUNT, NULL);
    }
    return st;
}

/* Whether x requires grad on t, itself or as a view of the memory of a tensor that does. */
static bool touches_grad(const ds_tape *t, const ds_tensor *x) {
    int id = lookup(t, x);
    if (id >= 0) return t->req[id] != 0;
    return storage_base(t, x->storage) != NULL;
}

ds_status ds_tape_check_write(const ds_tape *t, const ds_tensor *dst, const ds_tensor *src) {
    for (const ds_tape *u = t; u; u = u->outer) {
        if (touches_grad(u, dst))
            return ds_errorf(DS_ERR_UNSUPPORTED, "an in-place assignment into a tensor that requires grad is not "
                             "differentiable (the backward would read the new values); build the result with a functional "
                             "op (where, concat, slice_scatter) or assign under no_grad");
        if (src && touches_grad(u, src))
            return ds_errorf(DS_ERR_UNSUPPORTED, "assigning a value that requires grad into a tensor in place is not "
                             "differentiable (its gradient would be lost); build the result with a functional op (where, "
                             "concat, stack, slice_scatter) or assign under no_grad");
    }
    return DS_OK;
}

ds_status ds_tape_set_op_vjp(ds_op_id op, const ds_tape_vjp *vjp) {
    if ((unsigned)op >= DS_OP_COUNT) return ds_errorf(DS_ERR_VALUE, "set_op_vjp: unknown op id %d", (int)op);
    if (vjp && !vjp->fn) return ds_errorf(DS_ERR_VALUE, "set_op_vjp: no backward function");
    ds_tape_vjp old = g_op_vjp[op];
    if (vjp) {
        if (vjp->retain) vjp->retain(vjp->ctx);
        g_op_vjp[op] = *vjp;
    } else
        memset(&g_op_vjp[op], 0, sizeof g_op_vjp[op]);
    if (old.release) old.release(old.ctx);
    return DS_OK;
}

/* ---------------------------------------------------------------- views made outside ds_op_run */
/* A view v of a base b, both as layouts over one buffer of `span` elements (b's memory span): the
 * backward of the view scatters into zeros laid out like b, the backward of that gathers back. */
typedef struct view_geom {
    int64_t refcount;
    ds_dtype dtype;
    int ndim, bndim;
    int64_t shape[DS_MAX_DIMS], strides[DS_MAX_DIMS], offset;    /* v */
    int64_t bshape[DS_MAX_DIMS], bstrides[DS_MAX_DIMS], boffset; /* b */
    int64_t span;
} view_geom;

static void geom_retain(void *g) { ((view_geom *)g)->refcount++; }
static void geom_release(void *g) {
    if (--((view_geom *)g)->refcount == 0) ds_free(g);
}

static ds_status view_vjp(void *ctx, const ds_tape_vjp_args *a, ds_tensor **gin);
static ds_status gather_vjp(void *ctx, const ds_tape_vjp_args *a, ds_tensor **gin);

/* Lowest and highest element offsets of t relative to t->data; false if some element repeats. */
static bool layout_range(const ds_tensor *t, int64_t *lo, int64_t *hi) {
    int order[DS_MAX_DIMS], n = 0;
    *lo = *hi = 0;
    for (int d = 0; d < t->ndim; d++) {
        if (t->shape[d] <= 1) continue;
        int64_t ext = (t->shape[d] - 1) * t->strides[d];
        if (ext > 0) *hi += ext;
        else *lo += ext;
        order[n++] = d;
    }
    for (int i = 1; i < n; i++) /* by |stride|: each must exceed the span of the smaller ones */
        for (int j = i; j > 0 && llabs(t->strides[order[j]]) < llabs(t->strides[order[j - 1]]); j--) {
            int tmp = order[j];
            order[j] = order[j - 1];
            order[j - 1] = tmp;
        }
    int64_t span = 0;
    for (int i = 0; i < n; i++) {
        int64_t st = llabs(t->strides[order[i]]);
        if (st <= span) return false;
        span += st * (t->shape[order[i]] - 1);
    }
    return true;
}

/* The geometry of v inside b (NULL if v's elements are not within b's memory span, repeat, or if
 * `contiguous_only` and b is not contiguous). */
static view_geom *view_geometry(const ds_tensor *b, const ds_tensor *v, bool contiguous_only) {
    if (v->dtype != b->dtype || !v->numel || !b->numel || !v->storage || v->storage != b->storage) return NULL;
    if (contiguous_only && !b->contiguous) return NULL;
    ptrdiff_t bytes = v->data - b->data, es = (ptrdiff_t)ds_dtype_size(v->dtype);
    if (bytes % es) return NULL;
    int64_t off = (int64_t)(bytes / es), blo, bhi, vlo, vhi;
    if (!layout_range(b, &blo, &bhi) || !layout_range(v, &vlo, &vhi)) return NULL;
    if (off + vlo < blo || off + vhi > bhi) return NULL;
    view_geom *g = ds_calloc(sizeof *g);
    if (!g) return NULL;
    g->refcount = 1;
    g->dtype = v->dtype;
    g->ndim = v->ndim;
    g->bndim = b->ndim;
    memcpy(g->shape, v->shape, sizeof(int64_t) * (size_t)v->ndim);
    memcpy(g->strides, v->strides, sizeof(int64_t) * (size_t)v->ndim);
    memcpy(g->bshape, b->shape, sizeof(int64_t) * (size_t)b->ndim);
    memcpy(g->bstrides, b->strides, sizeof(int64_t) * (size_t)b->ndim);
    g->boffset = -blo;
    g->offset = off - blo;
    g->span = bhi - blo + 1;
    return g;
}

static ds_status record_view_one(ds_tape *t, ds_tensor *b, ds_tensor *v, view_geom *g) {
    ds_tape_vjp vj = {view_vjp, g, geom_retain, geom_release};
    return record_custom_one(t, "view", 1, &b, 1, &v, &vj, DS_OP_COUNT, NULL);
}

/* Records v as a view of the tensor requiring grad that owns its storage, if there is one. */
static ds_status adopt_view(ds_tape *t, ds_tensor *v, bool *adopted) {
    *adopted = false;
    ds_tensor *b = storage_base(t, v->storage);
    if (!b || b == v) return DS_OK;
    int bid = lookup(t, b);
    if (bid < 0 || !t->req[bid]) return DS_OK;
    view_geom *g = view_geometry(b, v, true);
    if (!g) return DS_OK; /* not a plain view of b: v stays a constant */
    ds_status st = record_view_one(t, b, v, g);
    geom_release(g);
    *adopted = st == DS_OK;
    return st;
}

ds_status ds_tape_record_view(ds_tape *t, ds_tensor *base, ds_tensor *view) {
    view_geom *g = NULL;
    ds_status st = DS_OK;
    for (ds_tape *u = t; u && !st; u = u->outer) {
        int id = lookup(u, base);
        if (id < 0 || !u->req[id] || lookup(u, view) >= 0) continue;
        if (!g && !(g = view_geometry(base, view, false))) {
            char a[DS_SHAPE_STR_MAX], b[DS_SHAPE_STR_MAX];
            return ds_errorf(DS_ERR_VALUE, "record_view: a %s tensor of shape %s is not a view of distinct elements of the "
                             "%s tensor of shape %s", ds_dtype_name(view->dtype),
                             ds_shape_str(view->ndim, view->shape, a, sizeof a), ds_dtype_name(base->dtype),
                             ds_shape_str(base->ndim, base->shape, b, sizeof b));
        }
        st = record_view_one(u, base, view, g);
    }
    if (g) geom_release(g);
    return st;
}

/* A zero buffer of the geometry's span and its layouts of b and v over it. */
static ds_status span_views(const view_geom *g, ds_tensor **span, ds_tensor **b, ds_tensor **v) {
    ds_status st = ds_tensor_new_zeros(g->dtype, 1, &g->span, span);
    if (!st) st = ds_tensor_view(*span, g->bndim, g->bshape, g->bstrides, g->boffset, b);
    if (!st) st = ds_tensor_view(*span, g->ndim, g->shape, g->strides, g->offset, v);
    return st;
}

/* Backward of a view: the cotangent scattered into zeros laid out like the base (recorded on the active
 * tapes as a node whose backward is the gather). */
static ds_status view_vjp(void *ctx, const ds_tape_vjp_args *a, ds_tensor **gin) {
    view_geom *g = ctx;
    ds_tensor *S = NULL, *G = NULL, *Gv = NULL;
    ds_status st = span_views(g, &S, &G, &Gv);
    if (!st) st = ds_tensor_copy_into(Gv, a->gout[0]);
    if (!st && tl_active) {
        ds_tape_vjp vj = {gather_vjp, g, geom_retain, geom_release};
        st = ds_tape_record_custom(tl_active, "view_backward", 1, &a->gout[0], 1, &G, &vj);
    }
    ds_tensor_release(S);
    ds_tensor_release(Gv);
    if (st) ds_tensor_release(G);
    else gin[0] = G;
    return st;
}

/* Backward of the scatter: the view's elements gathered from the cotangent (recorded as a view). */
static ds_status gather_vjp(void *ctx, const ds_tape_vjp_args *a, ds_tensor **gin) {
    view_geom *g = ctx;
    ds_tensor *S = NULL, *Gb = NULL, *Gv = NULL, *r = NULL;
    ds_status st = span_views(g, &S, &Gb, &Gv);
    if (!st) st = ds_tensor_copy_into(Gb, a->gout[0]);
    if (!st) st = ds_tensor_new(g->dtype, g->ndim, g->shape, &r);
    if (!st) st = ds_tensor_copy_into(r, Gv);
    if (!st && tl_active) {
        ds_tape_vjp vj = {view_vjp, g, geom_retain, geom_release};
        st = ds_tape_record_custom(tl_active, "view", 1, &a->gout[0], 1, &r, &vj);
    }
    ds_tensor_release(S);
    ds_tensor_release(Gb);
    ds_tensor_release(Gv);
    if (st) ds_tensor_release(r);
    else gin[0] = r;
    return st;
}

/* ---------------------------------------------------------------- backward of custom nodes */
/* The context of a backward-graph callback running a custom node's backward. */
typedef struct custom_call {
    const ds_node *node; /* the tape's custom node (its graph lives as long as the tape) */
    int n_need;
    int idx[];           /* callback output j -> node input idx[j] */
} custom_call;

static ds_status custom_thunk(void *ctx, int n_in, ds_tensor *const *in, int n_out, ds_tensor *const *out) {
    const custom_call *cc = ctx;
    const ds_node *n = cc->node;
    const custom_entry *e = n->fn_ctx;
    int ni = n->n_in, no = n->n_out;
    ds_tensor *stack_g[16], **gin = ni <= 16 ? stack_g : ds_calloc(sizeof(ds_tensor *) * (size_t)ni);
    bool stack_n[16], *need = ni <= 16 ? stack_n : ds_calloc(sizeof(bool) * (size_t)ni);
    ds_status st = gin && need ? DS_OK : DS_ERR_NOMEM;
    if (st) goto done;
    for (int k = 0; k < ni; k++) {
        gin[k] = NULL;
        need[k] = false;
    }
    for (int j = 0; j < cc->n_need; j++) need[cc->idx[j]] = true;
    ds_tape_vjp_args a = {ni, in, no, in + ni, in + ni + no, need, n->op, n->op < DS_OP_COUNT ? n->attrs : NULL, n->text};
    if ((st = e->vjp.fn(e->vjp.ctx, &a, gin))) goto done;
    for (int j = 0; j < cc->n_need && !st; j++) {
        int k = cc->idx[j];
        ds_tensor *g = gin[k], *gc = NULL;
        if (!g) continue; /* zero: the callback's output is zeros already */
        if (!ds_shape_equal(g->ndim, g->shape, out[j]->ndim, out[j]->shape)) {
            char a1[DS_SHAPE_STR_MAX], a2[DS_SHAPE_STR_MAX];
            st = ds_errorf(DS_ERR_SHAPE, "%s: the backward returned a gradient of shape %s for input %d of shape %s", n->text,
                           ds_shape_str(g->ndim, g->shape, a1, sizeof a1), k,
                           ds_shape_str(out[j]->ndim, out[j]->shape, a2, sizeof a2));
            break;
        }
        if (g->dtype != out[j]->dtype) { /* cast (recorded on the active tapes like any op) */
            ds_attr at = {.kind = DS_ATTR_DTYPE, .v.dtype = out[j]->dtype};
            if ((st = ds_op_run1(DS_OP_CAST, 1, &g, &at, &gc))) break;
            g = gc;
        }
        st = ds_tensor_copy_into(out[j], g);
        /* keep the result connected to the ops that computed it, for a higher-order gradient */
        if (!st && tl_active) st = ds_tape_record(tl_active, DS_OP_COPY, 1, &g, NULL, 1, &out[j]);
        ds_tensor_release(gc);
    }
done:
    if (gin)
        for (int k = 0; k < ni; k++) ds_tensor_release(gin[k]);
    if (gin != stack_g) ds_free(gin);
    if (need != stack_n) ds_free(need);
    return st;
}

/* ds_ad_ctx.custom for tapes: emits the callback running node n's backward into the backward graph. */
static ds_status custom_backward(ds_ad_ctx *c, const ds_node *n) {
    int ni = n->n_in, no = n->n_out;
    if (!n->fn_ctx)
        return ds_errorf(DS_ERR_UNSUPPORTED, "grad: the host callback '%s' is not differentiable", n->text);
    custom_call *cc = ds_arena_alloc(&c->arena, sizeof *cc + sizeof(int) * (size_t)(ni + 1));
    if (!cc) return DS_ERR_NOMEM;
    ds_dtype dt[DS_OP_MAX_OUT];
    int nds[DS_OP_MAX_OUT];
    const int64_t *dims[DS_OP_MAX_OUT];
    ds_value *cin[256], *outs[DS_OP_MAX_OUT];
    int nn = 0;
    for (int k = 0; k < ni; k++) {
        const ds_value *v = n->in[k];
        if (!c->varied[v->id] || !ds_ad_float(v)) continue;
        if (nn == DS_OP_MAX_OUT)
            return ds_errorf(DS_ERR_UNSUPPORTED, "grad: custom node '%s' has more than %d inputs that need a gradient", n->text,
                             DS_OP_MAX_OUT);
        cc->idx[nn] = k;
        dt[nn] = v->type.dtype;
        nds[nn] = v->type.ndim;
        dims[nn] = v->type.shape;
        nn++;
    }
    if (!nn) return DS_OK;
    cc->node = n;
    cc->n_need = nn;
    ds_status st = DS_OK;
    for (int k = 0; k < ni + no && !st; k++) {
        const ds_value *v = k < ni ? n->in[k] : n->out[k - ni];
        if (!(cin[k] = ds_ad_bval(c, c->fmap[v->id]))) st = ds_error_status() ? ds_error_status() : DS_ERR_INTERNAL;
    }
    for (int k = 0; k < no && !st; k++) {
        const ds_value *v = n->out[k];
        ds_value *g = c->varied[v->id] ? c->ct[v->id] : NULL;
        if (!g) st = ds_ad_zeros(c, c->fmap[v->id], &g);
        cin[ni + no + k] = g;
    }
    if (!st) st = ds_graph_add_callback(c->bg, n->text, custom_thunk, cc, ni + 2 * no, cin, nn, dt, nds, dims, outs);
    for (int j = 0; j < nn && !st; j++) st = ds_ad_accumulate(c, n->in[cc->idx[j]], outs[j]);
    return st;
}

/* ---------------------------------------------------------------- backward */
/* The first value x was bound to (before any hook rebound it). */
static int first_value(const ds_tape *t, int id) {
    while (id >= 0 && t->origin[id] >= 0) id = t->origin[id];
    return id;
}

ds_status ds_tape_backward(ds_tape *t, int n_out, ds_tensor *const *outputs, ds_tensor *const *sens, int n_wrt,
                           ds_tensor *const *wrt, ds_tensor **grads) {
    for (int i = 0; i < n_out; i++) {
        const ds_tensor *y = outputs[i];
        if (!ds_dtype_is_float(y->dtype))
            return ds_errorf(DS_ERR_DTYPE, "backward: output %d is %s; only float outputs can be differentiated", i, ds_dtype_name(y->dtype));
        if ((!sens || !sens[i]) && y->numel != 1) {
            char s[DS_SHAPE_STR_MAX];
            return ds_errorf(DS_ERR_VALUE, "grad of a non-scalar output needs a sensitivity (sens): output %d has shape %s", i,
                             ds_shape_str(y->ndim, y->shape, s, sizeof s));
        }
        if (sens && sens[i] && (sens[i]->dtype != y->dtype || !ds_shape_equal(sens[i]->ndim, sens[i]->shape, y->ndim, y->shape))) {
            char a[DS_SHAPE_STR_MAX], b[DS_SHAPE_STR_MAX];
            return ds_errorf(DS_ERR_SHAPE, "backward: sensitivity %d is %s%s, output is %s%s", i, ds_dtype_name(sens[i]->dtype),
                             ds_shape_str(sens[i]->ndim, sens[i]->shape, a, sizeof a), ds_dtype_name(y->dtype),
                             ds_shape_str(y->ndim, y->shape, b, sizeof b));
        }
    }
    ds_graph *bg = NULL;
    ds_ad_ctx c;
    memset(&c, 0, sizeof c);
    ds_tensor **in = NULL, **res = NULL;
    ds_value **outv = NULL;
    unsigned char *pv = NULL;
    int n_in = 0, n_res = 0;
    ds_status st;
    for (int i = 0; i < n_out; i++) /* an output may be a view made outside ds_op_run */
        if (lookup(t, outputs[i]) < 0) {
            bool adopted;
            DS_TRY(adopt_view(t, outputs[i], &adopted));
        }
    DS_TRY(ds_graph_new("tape_backward", &bg));
    DS_TRY(ds_ad_init(&c, t->g, t->g, bg, false));
    c.custom = custom_backward;
    c.custom_data = t;
    pv = ds_calloc((size_t)t->g->params.n + 1);
    outv = ds_calloc(sizeof(ds_value *) * (size_t)(n_wrt + 1));
    res = ds_calloc(sizeof(ds_tensor *) * (size_t)(n_wrt + 1));
    if (!pv || !outv || !res) {
        st = DS_ERR_NOMEM;
        goto fail;
    }
    for (int i = 0; i < t->g->params.n; i++) pv[i] = t->req[((ds_value *)t->g->params.items[i])->id];
    for (int i = 0; i < n_out; i++) {
        int id = lookup(t, outputs[i]);
        if (id >= 0) c.useful[id] = 1;
    }
    DS_TRY(ds_ad_analyze(&c, pv));
    int n_sens = 0;
    for (int i = 0; i < n_out; i++) {
        const ds_tensor *y = outputs[i];
        int id = lookup(t, y);
        if (id < 0 || !t->req[id]) continue; /* it does not depend on a watched tensor */
        ds_value *seed;
        if (sens && sens[i]) {
            DS_TRY(ds_graph_add_param(bg, "sens", y->dtype, y->ndim, y->shape, false, &seed));
            n_sens++;
        } else {
            ds_attr at[3] = {{.kind = DS_ATTR_INTS, .n = y->ndim, .v.ints = y->shape},
                             {.kind = DS_ATTR_FLOAT, .v.f = 1.0},
                             {.kind = DS_ATTR_DTYPE, .v.dtype = y->dtype}};
            DS_TRY(ds_graph_add_op1(bg, DS_OP_FULL, 0, NULL, at, &seed));
        }
        DS_TRY(ds_ad_accumulate(&c, t->vals[id], seed));
    }
    DS_TRY(ds_ad_backward(&c));
    for (int i = 0; i < n_wrt; i++) {
        int id = first_value(t, lookup(t, wrt[i]));
        outv[i] = id >= 0 ? c.ct[id] : NULL;
        if (!outv[i]) {
            const ds_tensor *x = wrt[i];
            ds_attr at[3] = {{.kind = DS_ATTR_INTS, .n = x->ndim, .v.ints = x->shape},
                             {.kind = DS_ATTR_FLOAT, .v.f = 0.0},
                             {.kind = DS_ATTR_DTYPE, .v.dtype = x->dtype}};
            DS_TRY(ds_graph_add_op1(bg, DS_OP_FULL, 0, NULL, at, &outv[i]));
        }
    }
    DS_TRY(ds_graph_set_outputs(bg, n_wrt, outv));
    n_in = bg->params.n;
    in = ds_malloc(sizeof(ds_tensor *) * (size_t)(n_in + 1));
    if (!in) {
        st = DS_ERR_NOMEM;
        goto fail;
    }
    int k = 0;
    for (int i = 0; i < n_out; i++) {
        int id = lookup(t, outputs[i]);
        if (id >= 0 && t->req[id] && sens && sens[i]) in[k++] = sens[i];
    }
    for (int i = 0; i < c.res_f.n; i++) in[k++] = t->bound[((ds_value *)c.res_f.items[i])->id];
    if (k != n_in) {
        st = ds_errorf(DS_ERR_INTERNAL, "backward: %d inputs for %d parameters", k, n_in);
        goto fail;
    }
    /* The backward's ops are recorded on the active tapes other than t (an outer gradient differentiates
     * this one); t's own records stop at its forward. */
    ds_tape *prev = tl_active;
    if (tl_active == t) tl_active = t->outer;
    st = ds_graph_eval(bg, n_in, in, n_wrt, res, NULL);
    n_res = st ? 0 : n_wrt;
    for (int i = 0; i < n_res && !st; i++) /* a gradient that is an input (a sensitivity) is copied */
        for (int j = 0; j < n_in; j++)
            if (res[i] == in[j]) {
                ds_tensor *cp;
                if ((st = ds_op_run1(DS_OP_COPY, 1, &res[i], NULL, &cp))) break;
                ds_tensor_release(res[i]);
                res[i] = cp;
                break;
            }
    tl_active = prev;
    if (st) goto fail;
    memcpy(grads, res, sizeof(ds_tensor *) * (size_t)n_wrt);
    n_res = 0;
fail:
    for (int i = 0; i < n_res; i++) ds_tensor_release(res[i]);
    ds_ad_deinit(&c);
    ds_graph_release(bg);
    ds_free(in);
    ds_free(res);
    ds_free(outv);
    ds_free(pv);
    return st;
}
