/* The executor's API: plans, the cache of compiled variants, and running a variant (binding inputs and
 * outputs, running the steps, handing the results over). See plan.h for the overall design. */
#include <string.h>
#include <time.h>

#include "base/alloc.h"
#include "base/status.h"
#include "exec/plan.h"
#include "exec/trace.h"

/* ---------------------------------------------------------------- plans */
static ds_status plan_new_at(const ds_graph *g, int depth, ds_plan **out) {
    if (!g) return ds_errorf(DS_ERR_VALUE, "plan: the graph is NULL");
    if (!g->closed) return ds_errorf(DS_ERR_VALUE, "graph '%s' has no outputs set", g->name);
    if (depth > DS_PLAN_MAX_DEPTH) return ds_errorf(DS_ERR_VALUE, "graph calls nested more than %d deep", DS_PLAN_MAX_DEPTH);
    ds_plan *p = ds_calloc(sizeof(ds_plan));
    if (!p) return DS_ERR_NOMEM;
    if ((g->nodes.n && !(p->subs = ds_calloc(sizeof(ds_plan *) * 2 * (size_t)g->nodes.n))) ||
        (g->params.n && !(p->dyn_param = ds_calloc(sizeof(bool) * (size_t)g->params.n)))) {
        ds_free(p->subs);
        ds_free(p);
        return DS_ERR_NOMEM;
    }
    p->refcount = 1;
    p->depth = depth;
    p->g = ds_graph_retain((ds_graph *)g);
    *out = p;
    return DS_OK;
}

ds_status ds_plan_new(const ds_graph *g, ds_plan **out) { return plan_new_at(g, 0, out); }

ds_plan *ds_plan_retain(ds_plan *p) {
    if (p) p->refcount++;
    return p;
}

void ds_plan_release(ds_plan *p) {
    if (!p || --p->refcount > 0) return;
    for (int i = 0; i < p->n_cache; i++) plan_variant_release(p->cache[i]);
    if (p->subs)
        for (int i = 0; i < 2 * p->g->nodes.n; i++) ds_plan_release(p->subs[i]);
    ds_free(p->subs);
    ds_free(p->dyn_param);
    ds_graph_release(p->g);
    ds_free(p);
}

ds_status plan_sub(ds_plan *p, const ds_node *n, int k, ds_plan **out) {
    ds_plan **slot = &p->subs[2 * n->id + k];
    if (!*slot) {
        ds_status st = plan_new_at(n->sub[k], p->depth + 1, slot);
        if (st) return st;
    }
    *out = *slot;
    return DS_OK;
}

void plan_variant_release(plan_variant *v) {
    if (!v || --v->refcount > 0) return;
    for (int i = 0; i < v->n_steps; i++)
        for (int k = 0; k < 2; k++) plan_variant_release(v->steps[i].sub[k]);
    for (int i = 0; i < v->owned.n; i++) ds_tensor_release(v->owned.items[i]);
    ds_ptrvec_deinit(&v->owned);
    ds_free(v->data);
    ds_arena_deinit(&v->mem);
    ds_free(v);
}

/* ---------------------------------------------------------------- the variant cache */
static bool key_matches(const plan_variant *v, int n, const ds_meta *metas, ds_tensor *const *ts) {
    const int64_t *k = v->key;
    for (int i = 0; i < n; i++) {
        ds_dtype dt = ts ? ts[i]->dtype : metas[i].dtype;
        int nd = ts ? ts[i]->ndim : metas[i].ndim;
        const int64_t *sh = ts ? ts[i]->shape : metas[i].shape;
        if (k[0] != dt || k[1] != nd) return false;
        for (int d = 0; d < nd; d++)
            if (k[2 + d] != sh[d] && k[2 + d] >= 0) return false;
        k += 2 + nd;
    }
    return true;
}

static plan_variant *cache_find(ds_plan *p, int n, const ds_meta *metas, ds_tensor *const *ts) {
    for (int i = 0; i < p->n_cache; i++) {
        plan_variant *v = p->cache[i];
        if (!key_matches(v, n, metas, ts)) continue;
        if (i > 0) { /* most recently used first */
            memmove(&p->cache[1], &p->cache[0], sizeof(plan_variant *) * (size_t)i);
            p->cache[0] = v;
        }
        return v;
    }
    return NULL;
}

/* Checks input types against the graph's parameters, with the interpreter's message. */
static ds_status check_inputs(const ds_graph *g, int n, const ds_meta *in) {
    if (n != g->params.n) return ds_errorf(DS_ERR_VALUE, "graph '%s' takes %d inputs, got %d", g->name, g->params.n, n);
    for (int i = 0; i < n; i++) {
        const ds_value *p = g->params.items[i];
        const ds_meta *t = &in[i];
        bool ok = t->dtype == p->type.dtype && t->ndim == p->type.ndim;
        for (int d = 0; ok && d < t->ndim; d++) ok = t->shape[d] >= 0 && (p->type.shape[d] < 0 || p->type.shape[d] == t->shape[d]);
        if (!ok) {
            char a[DS_SHAPE_STR_MAX], b[DS_SHAPE_STR_MAX];
            return ds_errorf(DS_ERR_SHAPE, "graph '%s' parameter %d ('%s') is %s%s, got %s%s", g->name, i, p->name,
                             ds_dtype_name(p->type.dtype), ds_shape_str(p->type.ndim, p->type.shape, a, sizeof a),
                             ds_dtype_name(t->dtype), ds_shape_str(t->ndim, t->shape, b, sizeof b));
        }
    }
    return DS_OK;
}

static double now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec * 1e-6;
}

/* When the cache is full and misses again, parameters whose shapes vary among the cached variants are
 * compiled with dynamic dims from now on (ops on them run eagerly), so a value that keeps changing
 * shape (a list growing in a loop) compiles a bounded number of times. */
static void mark_dynamic(ds_plan *p, int n, const ds_meta *in) {
    for (int c = 0; c < p->n_cache; c++) {
        const int64_t *k = p->cache[c]->key;
        for (int i = 0; i < n; i++) {
            const ds_value *pv = p->g->params.items[i];
            for (int d = 0; d < in[i].ndim; d++)
                if (pv->type.shape[d] < 0 && k[2 + d] >= 0 && k[2 + d] != in[i].shape[d]) p->dyn_param[i] = true;
            k += 2 + k[1];
        }
    }
}

ds_status plan_variant_get(ds_plan *p, int n_in, const ds_meta *in, plan_variant **out) {
    plan_variant *v = cache_find(p, n_in, in, NULL);
    if (v) {
        *out = v;
        return DS_OK;
    }
    ds_status st = check_inputs(p->g, n_in, in);
    if (st) return st;
    if (p->n_cache == DS_PLAN_CACHE) mark_dynamic(p, n_in, in);
    double t0 = now_ms();
    if ((st = plan_compile(p, in, &v))) return st;
    p->compile_ms = now_ms() - t0;
    p->n_compiles++;
    if (p->n_cache == DS_PLAN_CACHE) plan_variant_release(p->cache[--p->n_cache]);
    memmove(&p->cache[1], &p->cache[0], sizeof(plan_variant *) * (size_t)p->n_cache);
    p->cache[0] = v;
    p->n_cache++;
    *out = v;
    return DS_OK;
}

ds_status plan_variant_for(ds_plan *p, int n_in, ds_tensor *const *inputs, plan_variant **out) {
    if (n_in != p->g->params.n)
        return ds_errorf(DS_ERR_VALUE, "graph '%s' takes %d inputs, got %d", p->g->name, p->g->params.n, n_in);
    for (int i = 0; i < n_in; i++)
        if (!inputs[i]) return ds_errorf(DS_ERR_VALUE, "graph '%s': input %d is NULL", p->g->name, i);
    plan_variant *v = cache_find(p, n_in, NULL, inputs);
    if (v) {
        *out = v;
        return DS_OK;
    }
    ds_meta stack[16] = {{0}}, *metas = n_in <= 16 ? stack : ds_malloc(sizeof(ds_meta) * (size_t)n_in);
    if (!metas) return DS_ERR_NOMEM;
    for (int i = 0; i < n_in; i++) ds_meta_of(inputs[i], &metas[i]);
    ds_status st = plan_variant_get(p, n_in, metas, out);
    if (metas != stack) ds_free(metas);
    return st;
}

/* ---------------------------------------------------------------- running a variant */
static void release_run_state(plan_variant *v) {
    for (int i = 0; i < v->n_dyn; i++) {
        ds_tensor_release(v->env[v->dyn_ids[i]]);
        v->env[v->dyn_ids[i]] = NULL;
    }
    for (int i = 0; i < v->n_params; i++) {
        ds_tensor_release(v->tmp_in[i]);
        v->tmp_in[i] = NULL;
    }
    for (int i = 0; i < v->n_outputs; i++) {
        ds_tensor_release(v->tmp_out[i]);
        v->tmp_out[i] = NULL;
    }
}

/* Points the headers of parameters at the inputs, and of bindable outputs at their destinations. */
static ds_status bind(plan_variant *v, ds_tensor *const *inputs, ds_tensor *const *dst) {
    for (int i = 0; i < v->n_params; i++) {
        ds_tensor *t = inputs[i];
        if (!t->data && t->numel) return ds_errorf(DS_ERR_VALUE, "input %d is a declared-only tensor without data", i);
        if (v->slots[v->param_ids[i]].kind == SLOT_DYN) { /* compiled with dynamic dims */
            v->env[v->param_ids[i]] = t;
            continue;
        }
        if (!t->contiguous) {
            ds_status st = ds_tensor_contiguous(t, &v->tmp_in[i]);
            if (st) return st;
            t = v->tmp_in[i];
        }
        ds_tensor *h = &v->hdr[v->param_ids[i]];
        h->data = t->data;
        h->storage = t->storage;
    }
    for (int i = 0; i < v->n_outputs; i++) {
        int r = v->out_bind[i];
        v->bound[i] = false;
        if (r < 0) continue;
        ds_tensor *h = &v->hdr[r], *d = dst[i];
        bool ok = d && d->contiguous && d->data;
        for (int k = 0; ok && k < v->n_params; k++) ok = !plan_overlap(d, inputs[k]);
        for (int k = 0; ok && k < i; k++) ok = !(v->bound[k] && plan_overlap(d, dst[k]));
        if (ok) {
            h->data = d->data;
            h->storage = d->storage;
            v->bound[i] = true;
        } else if (v->slots[r].outside) { /* no arena memory: a temporary */
            ds_status st = ds_tensor_new(h->dtype, h->ndim, h->shape, &v->tmp_out[i]);
            if (st) return st;
            h->data = v->tmp_out[i]->data;
            h->storage = v->tmp_out[i]->storage;
        } else {
            h->data = v->data + v->slots[plan_buf_find(v, r)].off;
            h->storage = &v->storage;
        }
    }
    for (int i = 0; i < v->n_rebind; i++) {
        int s = v->rebind[i];
        ds_tensor *h = &v->hdr[s], *root = &v->hdr[v->slots[s].root];
        h->data = root->data ? root->data + v->slots[s].off : NULL;
        h->storage = root->storage;
    }
    return DS_OK;
}

ds_status plan_exec(plan_variant *v, ds_tensor *const *inputs, ds_tensor *const *dests, ds_tensor **results) {
    ds_status st = DS_OK;
    int nout = v->n_outputs;
    ds_tensor **dst = v->dst;
    bool *owned = v->owned_out;
    for (int i = 0; i < nout; i++) {
        dst[i] = dests ? dests[i] : NULL;
        owned[i] = false;
    }
    for (int i = 0; i < nout; i++) {
        const plan_slot *s = &v->slots[v->out_ids[i]];
        if (dst[i] || s->kind == SLOT_DYN) continue;
        DS_TRY(ds_tensor_new(s->meta.dtype, s->meta.ndim, s->meta.shape, &dst[i]));
        owned[i] = true;
    }
    v->orig_in = inputs;
    DS_TRY(bind(v, inputs, dst));
    for (int i = 0; i < v->n_steps; i++) DS_TRY(plan_step_run(v, &v->steps[i]));
    for (int i = 0; i < nout; i++) {
        if (v->bound[i] || !dst[i]) continue;
        ds_tensor *src = v->env[v->out_ids[i]];
        if (!ds_shape_equal(src->ndim, src->shape, dst[i]->ndim, dst[i]->shape)) {
            char a[DS_SHAPE_STR_MAX], b[DS_SHAPE_STR_MAX];
            st = ds_errorf(DS_ERR_SHAPE, "output %d is %s, the destination is %s", i, ds_shape_str(src->ndim, src->shape, a, sizeof a),
                           ds_shape_str(dst[i]->ndim, dst[i]->shape, b, sizeof b));
            goto fail;
        }
        DS_TRY(plan_copy(dst[i], src));
    }
    if (results)
        for (int i = 0; i < nout; i++)
            if (!dests || !dests[i]) results[i] = dst[i] ? dst[i] : ds_tensor_retain(v->env[v->out_ids[i]]);
    release_run_state(v);
    return DS_OK;
fail:
    for (int i = 0; i < nout; i++)
        if (owned[i]) ds_tensor_release(dst[i]);
    release_run_state(v);
    return st;
}

ds_status plan_run_general(ds_plan *p, int n_in, ds_tensor *const *inputs, ds_tensor **results) {
    plan_variant *v;
    ds_status st = plan_variant_for(p, n_in, inputs, &v);
    if (st) return st;
    v->refcount++; /* a nested compile of the same plan cannot evict it while it runs */
    st = plan_exec(v, inputs, NULL, results);
    plan_variant_release(v);
    return st;
}

/* ---------------------------------------------------------------- the public API */
static ds_status plan_compile_impl(ds_plan *p, int n_in, ds_tensor *const *inputs) {
    plan_variant *v;
    return plan_variant_for(p, n_in, inputs, &v);
}

static ds_status plan_run_impl(ds_plan *p, int n_in, ds_tensor *const *inputs, int max_out, ds_tensor **outputs, int *n_out) {
    int nout = p->g->outputs.n;
    if (nout > max_out) return ds_errorf(DS_ERR_VALUE, "graph returns %d outputs, room for %d", nout, max_out);
    plan_variant *v;
    ds_status st = plan_variant_for(p, n_in, inputs, &v);
    if (st) return st;
    p->n_runs++;
    v->refcount++; /* stays alive even if a host callback compiles this plan for other shapes */
    st = plan_exec(v, inputs, NULL, outputs);
    plan_variant_release(v);
    if (st) return st;
    if (n_out) *n_out = nout;
    return DS_OK;
}

static ds_status plan_run_into_impl(ds_plan *p, int n_in, ds_tensor *const *inputs, int n_out, ds_tensor *const *outputs) {
    if (n_out != p->g->outputs.n)
        return ds_errorf(DS_ERR_VALUE, "graph '%s' returns %d outputs, %d destinations given", p->g->name, p->g->outputs.n, n_out);
    plan_variant *v;
    ds_status st = plan_variant_for(p, n_in, inputs, &v);
    if (st) return st;
    for (int i = 0; i < n_out; i++) {
        const ds_meta *m = &v->slots[v->out_ids[i]].meta;
        const ds_tensor *d = outputs[i];
        if (!d || (!d->data && d->numel)) return ds_errorf(DS_ERR_VALUE, "destination %d has no data", i);
        if (d->dtype != m->dtype)
            return ds_errorf(DS_ERR_DTYPE, "output %d is %s, the destination is %s", i, ds_dtype_name(m->dtype), ds_dtype_name(d->dtype));
        if (v->slots[v->out_ids[i]].kind != SLOT_DYN && !ds_shape_equal(m->ndim, m->shape, d->ndim, d->shape)) {
            char a[DS_SHAPE_STR_MAX], b[DS_SHAPE_STR_MAX];
            return ds_errorf(DS_ERR_SHAPE, "output %d is %s, the destination is %s", i, ds_shape_str(m->ndim, m->shape, a, sizeof a),
                             ds_shape_str(d->ndim, d->shape, b, sizeof b));
        }
    }
    p->n_runs++;
    v->refcount++;
    st = plan_exec(v, inputs, outputs, NULL);
    plan_variant_release(v);
    return st;
}

void ds_plan_stats(const ds_plan *p, ds_plan_statistics *out) {
    memset(out, 0, sizeof *out);
    out->n_variants = p->n_cache;
    out->n_compiles = p->n_compiles;
    out->n_runs = p->n_runs;
    out->compile_ms = p->compile_ms;
    if (!p->n_cache) return;
    const plan_variant *v = p->cache[0];
    out->arena_bytes = v->arena_bytes;
    out->value_bytes = v->value_bytes;
    out->scratch_bytes = v->scratch_bytes;
    out->n_steps = v->n_steps;
    out->n_kernels = v->n_kernels;
    out->n_groups = v->n_groups;
    out->n_fused_groups = v->n_fused_groups;
    out->n_fused_ops = v->n_fused_ops;
    out->n_views = v->n_views;
    out->n_inplace = v->n_inplace;
    out->n_dynamic = v->n_dynamic;
}

ds_status ds_plan_compile(ds_plan *p, int n_in, ds_tensor *const *inputs) {
    ds_trace *trace = ds_trace_suspend(); /* a plan runs eagerly, also inside a trace */
    ds_status st = plan_compile_impl(p, n_in, inputs);
    ds_trace_set_active(trace);
    return st;
}

ds_status ds_plan_run(ds_plan *p, int n_in, ds_tensor *const *inputs, int max_out, ds_tensor **outputs, int *n_out) {
    ds_trace *trace = ds_trace_suspend(); /* a plan runs eagerly, also inside a trace */
    ds_status st = plan_run_impl(p, n_in, inputs, max_out, outputs, n_out);
    ds_trace_set_active(trace);
    return st;
}

ds_status ds_plan_run_into(ds_plan *p, int n_in, ds_tensor *const *inputs, int n_out, ds_tensor *const *outputs) {
    ds_trace *trace = ds_trace_suspend(); /* a plan runs eagerly, also inside a trace */
    ds_status st = plan_run_into_impl(p, n_in, inputs, n_out, outputs);
    ds_trace_set_active(trace);
    return st;
}
