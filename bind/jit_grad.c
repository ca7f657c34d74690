/* JitFunction, gradients: the graph state an entry shares with the tape nodes recording its calls, and those
 * nodes. A jit_graph holds no Python objects (a tape may release it after the JitFunction is gone): the
 * retained graph, its forward plan (jit_run_plan runs a fresh one when it is busy), its float outputs and
 * params, the params it assigns, and its gradient graphs and their plans, built on the first backward. A
 * jit_call is the snapshot of the assigned params taken before one recorded forward. jit_record_call records
 * a run as one custom tape node whose backward (grad_run) runs the gradient graph as step 4 of the contract
 * at the top of bind/jit.c describes. */
#include <string.h>

#include "base/alloc.h"
#include "jit.h"
#include "ir/ir.h" /* node kinds: finding the parameters a graph assigns */

/* ---------------------------------------------------------------- graph state shared with tape nodes */
static void jit_graph_retain(void *ctx) { ((jit_graph *)ctx)->refcount++; }

void jit_graph_release(void *ctx) {
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

ds_status jit_graph_new(ds_graph *g, jit_graph **out) {
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
        jit_graph_release(jg);
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
ds_status jit_run_plan(const ds_graph *g, ds_plan **slot, bool *busy, int n_in, ds_tensor *const *in, int max_out,
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
struct jit_call {
    int64_t refcount;
    jit_graph *jg;
    ds_tensor *snap[]; /* per param: its value before the forward, or NULL (not assigned) */
};

static void jit_call_retain(void *ctx) { ((jit_call *)ctx)->refcount++; }

void jit_call_release(void *ctx) {
    jit_call *c = ctx;
    if (!c || --c->refcount > 0) return;
    for (int i = 0; i < c->jg->n_params; i++) ds_tensor_release(c->snap[i]);
    jit_graph_release(c->jg);
    ds_free(c);
}

ds_status jit_call_new(jit_graph *jg, ds_tensor *const *in, jit_call **out) {
    jit_call *c = ds_calloc(sizeof *c + sizeof(ds_tensor *) * (size_t)(jg->n_params + 1));
    if (!c) return DS_ERR_NOMEM;
    c->refcount = 1;
    jit_graph_retain(jg);
    c->jg = jg;
    ds_status st = DS_OK;
    for (int i = 0; i < jg->n_params && !st; i++)
        if (jg->assigned[i]) st = fresh_copy(in[i], &c->snap[i]);
    if (st) jit_call_release(c);
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
        st = jit_run_plan(jg->gg[v], &jg->gplan[v], &jg->gbusy[v], n_in, in, n_res, res);
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

/* ---------------------------------------------------------------- recording a call */
int jit_record_call(JitFunctionObject *jf, ds_tape *tape, jit_graph *jg, jit_call *call, ds_tensor *const *in,
                    ds_tensor *const *outs) {
    ds_tensor *fstack[8], **fouts = jg->n_fo <= 8 ? fstack : PyMem_Malloc(sizeof(ds_tensor *) * (size_t)jg->n_fo);
    if (!fouts) {
        PyErr_NoMemory();
        return -1;
    }
    for (int j = 0; j < jg->n_fo; j++) fouts[j] = outs[jg->fo[j]];
    ds_tape_vjp v = call ? (ds_tape_vjp){vjp_call, call, jit_call_retain, jit_call_release}
                         : (ds_tape_vjp){vjp_graph, jg, jit_graph_retain, jit_graph_release};
    ds_status st = ds_tape_record_custom(tape, ds_graph_name(jg->g), jg->n_params, in, jg->n_fo, fouts, &v);
    if (fouts != fstack) PyMem_Free(fouts);
    if (st) {
        PyObject *nm = jit_fn_name(jf);
        if (nm) {
            PyErr_Format(st == DS_ERR_NOMEM ? PyExc_MemoryError : PyExc_ValueError,
                         "JitFunction '%U': cannot record the call for gradients: %s", nm, ds_error_message());
            Py_DECREF(nm);
        }
        return -1;
    }
    return 0;
}
