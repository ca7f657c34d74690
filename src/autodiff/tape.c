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
 * (the optimized executor will replace it) while recording is switched off on this thread. */
#include <stdint.h>
#include <string.h>

#include "autodiff/pass.h"
#include "base/alloc.h"
#include "base/status.h"

struct ds_tape {
    int64_t refcount;
    ds_graph *g;
    ds_tensor **bound;     /* value id -> tensor (a reference) */
    ds_value **vals;       /* value id -> value */
    unsigned char *req;    /* value id -> requires grad */
    int cap_bound;
    const ds_tensor **keys; /* open addressing: tensor -> value id */
    int *ids;
    int cap, count;
};

static _Thread_local ds_tape *tl_active;

ds_tape *ds_tape_active(void) { return tl_active; }

ds_tape *ds_tape_set_active(ds_tape *t) {
    ds_tape *prev = tl_active;
    tl_active = t;
    return prev;
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
    ds_free(t->bound);
    ds_free(t->vals);
    ds_free(t->req);
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

/* Binds tensor x to value v (the tape takes a reference). */
static ds_status bind(ds_tape *t, ds_tensor *x, ds_value *v, bool req) {
    ds_status st;
    if (v->id >= t->cap_bound) {
        int cap = t->cap_bound ? t->cap_bound : 64;
        while (cap <= v->id) cap *= 2;
        ds_tensor **b = ds_calloc(sizeof(ds_tensor *) * (size_t)cap);
        ds_value **vs = ds_calloc(sizeof(ds_value *) * (size_t)cap);
        unsigned char *r = ds_calloc((size_t)cap);
        if (!b || !vs || !r) {
            ds_free(b);
            ds_free(vs);
            ds_free(r);
            return DS_ERR_NOMEM;
        }
        if (t->cap_bound) {
            memcpy(b, t->bound, sizeof(ds_tensor *) * (size_t)t->cap_bound);
            memcpy(vs, t->vals, sizeof(ds_value *) * (size_t)t->cap_bound);
            memcpy(r, t->req, (size_t)t->cap_bound);
        }
        ds_free(t->bound);
        ds_free(t->vals);
        ds_free(t->req);
        t->bound = b;
        t->vals = vs;
        t->req = r;
        t->cap_bound = cap;
    }
    if (2 * (t->count + 1) > t->cap && (st = map_grow(t))) return st;
    uint32_t s = slot_of(x, t->cap);
    while (t->keys[s] && t->keys[s] != x) s = (s + 1) & (uint32_t)(t->cap - 1);
    if (!t->keys[s]) t->count++;
    t->keys[s] = x;
    t->ids[s] = v->id;
    t->bound[v->id] = ds_tensor_retain(x);
    t->vals[v->id] = v;
    t->req[v->id] = req;
    return DS_OK;
}

/* The value bound to x, binding it to a new parameter if needed. */
static ds_status value_of(ds_tape *t, ds_tensor *x, bool req, ds_value **out) {
    int id = lookup(t, x);
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
ds_status ds_tape_record(ds_tape *t, ds_op_id op, int n_in, ds_tensor *const *inputs, const ds_attr *attrs, int n_out,
                         ds_tensor *const *outputs) {
    bool any = false;
    for (int i = 0; i < n_in && !any; i++) {
        int id = lookup(t, inputs[i]);
        any = id >= 0 && t->req[id];
    }
    if (!any || (unsigned)op >= DS_OP_COUNT) return DS_OK;
    const ds_grad_entry *ge = ds_grad_entry_get(op);
    if (ge->kind == DS_GRAD_ZERO) return DS_OK;
    const op_entry *e = ds_op_entry_get(op);
    if (ds_op_is_effectful(op))
        return ds_errorf(DS_ERR_UNSUPPORTED, "%s: an in-place write into a tensor that requires grad is not supported "
                         "(use a functional form such as slice_scatter or index_add)", e->info.name);
    if (n_out > DS_OP_MAX_OUT) return ds_errorf(DS_ERR_VALUE, "%s: too many outputs to record", e->info.name);
    ds_value *stack[16], **in = n_in <= 16 ? stack : ds_malloc(sizeof(ds_value *) * (size_t)n_in);
    ds_meta metas[DS_OP_MAX_OUT];
    ds_attr full[DS_MAX_ATTRS];
    ds_status st = in ? DS_OK : DS_ERR_NOMEM;
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

/* ---------------------------------------------------------------- backward */
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
    int n_in = 0;
    ds_status st;
    DS_TRY(ds_graph_new("tape_backward", &bg));
    DS_TRY(ds_ad_init(&c, t->g, t->g, bg, false));
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
        int id = lookup(t, wrt[i]);
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
    ds_tape *prev = ds_tape_set_active(NULL); /* the backward's own ops are not recorded */
    st = ds_graph_eval(bg, n_in, in, n_wrt, res, NULL);
    ds_tape_set_active(prev);
    if (st) goto fail;
    memcpy(grads, res, sizeof(ds_tensor *) * (size_t)n_wrt);
fail:
    ds_ad_deinit(&c);
    ds_graph_release(bg);
    ds_free(in);
    ds_free(res);
    ds_free(outv);
    ds_free(pv);
    return st;
}
