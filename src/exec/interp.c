/* The reference interpreter: evaluates a graph node by node with eager ops. Slow and simple on
 * purpose: it is the oracle the optimizing executor and the passes are tested against. */
#include <stdio.h>
#include <string.h>

#include "base/alloc.h"
#include "base/status.h"
#include "exec/exec.h"
#include "exec/trace.h"
#include "ir/ir.h"

static void default_print(void *ctx, const char *text) {
    fputs(text, stdout);
    fflush(stdout);
}

static void (*g_print_fn)(void *, const char *) = default_print;
static void *g_print_ctx;

void ds_set_print_hook(void (*fn)(void *ctx, const char *text), void *ctx) {
    g_print_fn = fn ? fn : default_print;
    g_print_ctx = fn ? ctx : NULL;
}

/* Prints `prefix` and the values like Python's print(prefix, *values). Shared with the executor. */
ds_status ds_exec_print(const char *prefix, int n, ds_tensor *const *vals) {
    char *buf = NULL;
    size_t len = strlen(prefix), cap = len + 2;
    char **parts = ds_malloc(sizeof(char *) * (size_t)(n ? n : 1));
    if (!parts) return DS_ERR_NOMEM;
    ds_status st = DS_OK;
    int done = 0;
    for (; done < n; done++) {
        if ((st = ds_tensor_format(vals[done], &parts[done]))) goto fail;
        cap += strlen(parts[done]) + 1;
    }
    buf = ds_malloc(cap);
    if (!buf) {
        st = DS_ERR_NOMEM;
        goto fail;
    }
    memcpy(buf, prefix, len);
    for (int i = 0; i < n; i++) {
        if (len > 0) buf[len++] = ' ';
        size_t l = strlen(parts[i]);
        memcpy(buf + len, parts[i], l);
        len += l;
    }
    buf[len++] = '\n';
    buf[len] = '\0';
    g_print_fn(g_print_ctx, buf);
fail:
    for (int i = 0; i < done; i++) ds_free(parts[i]);
    ds_free(parts);
    ds_free(buf);
    return st;
}

static ds_status eval(const ds_graph *g, int n_in, ds_tensor *const *inputs, ds_tensor **outputs, int depth);

static ds_status read_bool(ds_tensor *t, bool *out) {
    double v;
    ds_status st = ds_tensor_get_double(t, 0, &v);
    if (!st) *out = v != 0.0;
    return st;
}

static ds_status eval_node(const ds_node *n, ds_tensor **env, ds_tensor *const *graph_inputs, int depth) {
    int nd_in = n->n_in - (n->effect ? 1 : 0), nd_out = n->n_out - (n->effect ? 1 : 0);
    ds_tensor *in[256];
    if (nd_in > 256) return ds_errorf(DS_ERR_UNSUPPORTED, "node with more than 256 inputs");
    for (int i = 0; i < nd_in; i++) in[i] = env[n->in[i]->id];
    ds_tensor *res[DS_OP_MAX_OUT] = {NULL};
    ds_status st = DS_OK;
    switch (n->kind) {
    case DS_NODE_CONST:
        res[0] = ds_tensor_retain(n->constant);
        break;
    case DS_NODE_OP: {
        int got = 0;
        st = ds_op_run(n->op, nd_in, in, n->attrs, DS_OP_MAX_OUT, res, &got);
        break;
    }
    case DS_NODE_IF: {
        bool c;
        if ((st = read_bool(in[0], &c))) break;
        st = eval(n->sub[c ? 0 : 1], nd_in - 1, in + 1, res, depth + 1);
        break;
    }
    case DS_NODE_WHILE: {
        ds_tensor *vals[DS_OP_MAX_OUT], *next[DS_OP_MAX_OUT];
        for (int i = 0; i < nd_in; i++) vals[i] = ds_tensor_retain(in[i]);
        for (;;) {
            ds_tensor *c = NULL;
            bool go = false;
            st = eval(n->sub[0], nd_in, vals, &c, depth + 1);
            if (!st) st = read_bool(c, &go);
            ds_tensor_release(c);
            if (st || !go) break;
            if ((st = eval(n->sub[1], nd_in, vals, next, depth + 1))) break;
            for (int i = 0; i < nd_in; i++) {
                ds_tensor_release(vals[i]);
                vals[i] = next[i];
            }
        }
        for (int i = 0; i < nd_in; i++) {
            if (st) ds_tensor_release(vals[i]);
            else res[i] = vals[i];
        }
        break;
    }
    case DS_NODE_CALL:
        st = eval(n->sub[0], nd_in, in, res, depth + 1);
        break;
    case DS_NODE_PRINT:
        st = ds_exec_print(n->text, nd_in, in);
        break;
    case DS_NODE_ASSIGN:
        st = ds_tensor_copy_into(graph_inputs[n->in[0]->index], in[1]);
        break;
    case DS_NODE_CALLBACK: {
        if (!n->fn) /* parsed or loaded graphs keep a callback's name, not its function */
            st = ds_errorf(DS_ERR_VALUE, "callback '%s' has no host function (graphs read by ds_graph_parse or ds_graph_load do not keep callbacks)", n->text);
        for (int i = 0; i < nd_out && !st; i++) {
            const ds_meta *m = &n->out[i]->type;
            for (int d = 0; d < m->ndim; d++)
                if (m->shape[d] < 0) st = ds_errorf(DS_ERR_SHAPE, "callback '%s': output %d has an unknown dim", n->text, i);
            if (!st) st = ds_tensor_new_zeros(m->dtype, m->ndim, m->shape, &res[i]);
        }
        if (!st) st = n->fn(n->fn_ctx, nd_in, in, nd_out, res);
        break;
    }
    default:
        st = ds_errorf(DS_ERR_INTERNAL, "unknown node kind %d", (int)n->kind);
    }
    if (st) {
        for (int i = 0; i < nd_out; i++) ds_tensor_release(res[i]);
        char loc[256];
        if (n->loc.line > 0 && !strstr(ds_error_message(), ds_loc_str(&n->loc, loc, sizeof loc)))
            ds_error_prefix(loc);
        return st;
    }
    for (int i = 0; i < nd_out; i++) env[n->out[i]->id] = res[i];
    return DS_OK;
}

static ds_status eval(const ds_graph *g, int n_in, ds_tensor *const *inputs, ds_tensor **outputs, int depth) {
    if (depth > 200) return ds_errorf(DS_ERR_VALUE, "graph calls nested more than 200 deep");
    if (n_in != g->params.n) return ds_errorf(DS_ERR_VALUE, "graph '%s' takes %d inputs, got %d", g->name, g->params.n, n_in);
    ds_tensor **env = ds_calloc(sizeof(ds_tensor *) * (size_t)(g->n_values + 1));
    if (!env) return DS_ERR_NOMEM;
    ds_status st = DS_OK;
    for (int i = 0; i < n_in; i++) {
        const ds_value *p = g->params.items[i];
        const ds_tensor *t = inputs[i];
        bool ok = t->dtype == p->type.dtype && t->ndim == p->type.ndim;
        for (int d = 0; ok && d < t->ndim; d++) ok = p->type.shape[d] < 0 || p->type.shape[d] == t->shape[d];
        if (!ok) {
            char a[DS_SHAPE_STR_MAX], b[DS_SHAPE_STR_MAX];
            st = ds_errorf(DS_ERR_SHAPE, "graph '%s' parameter %d ('%s') is %s%s, got %s%s", g->name, i, p->name,
                           ds_dtype_name(p->type.dtype), ds_shape_str(p->type.ndim, p->type.shape, a, sizeof a),
                           ds_dtype_name(t->dtype), ds_shape_str(t->ndim, t->shape, b, sizeof b));
            goto done;
        }
        env[p->id] = ds_tensor_retain(inputs[i]);
    }
    for (int i = 0; i < g->nodes.n; i++)
        if ((st = eval_node(g->nodes.items[i], env, inputs, depth))) goto done;
    for (int i = 0; i < g->outputs.n; i++) outputs[i] = ds_tensor_retain(env[((ds_value *)g->outputs.items[i])->id]);
done:
    for (int i = 0; i < g->n_values; i++) ds_tensor_release(env[i]);
    ds_free(env);
    return st;
}

ds_status ds_graph_eval(const ds_graph *g, int n_in, ds_tensor *const *inputs, int max_out,
                        ds_tensor **outputs, int *n_out) {
    if (!g->closed) return ds_errorf(DS_ERR_VALUE, "graph '%s' has no outputs set", g->name);
    if (g->outputs.n > max_out) return ds_errorf(DS_ERR_VALUE, "graph returns %d outputs, room for %d", g->outputs.n, max_out);
    ds_trace *trace = ds_trace_suspend(); /* the interpreter runs eagerly, also inside a trace */
    ds_status st = eval(g, n_in, inputs, outputs, 0);
    ds_trace_set_active(trace);
    if (!st && n_out) *n_out = g->outputs.n;
    return st;
}
