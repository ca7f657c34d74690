/* The verifier: checks a graph's invariants after building and after every pass. */
#include <string.h>

#include "base/alloc.h"
#include "base/status.h"
#include "ir/ir.h"

static const char *const k_kind_names[DS_NODE_KIND_COUNT] = {"op", "const", "If", "While", "Call", "print", "assign", "callback"};

static ds_status node_error(const ds_graph *g, const ds_node *n, const char *what) {
    char loc[256];
    ds_loc_str(&n->loc, loc, sizeof loc);
    return ds_errorf(DS_ERR_INTERNAL, "verify: graph '%s', node %d (%s%s%s)%s%s: %s", g->name, n->id,
                     k_kind_names[n->kind], n->kind == DS_NODE_OP ? " " : "",
                     n->kind == DS_NODE_OP ? ds_op_get_info(n->op)->name : "", loc[0] ? " at " : "", loc, what);
}

/* Subgraphs already verified in this verification (a subgraph shared by many nodes is checked once). */
typedef ds_ptrvec seen_set;

static ds_status verify_graph(const ds_graph *g, int depth, seen_set *seen);

static ds_status verify_subgraphs(const ds_graph *g, const ds_node *n, int depth, seen_set *seen) {
    int want = n->kind == DS_NODE_CALL ? 1 : (n->kind == DS_NODE_IF || n->kind == DS_NODE_WHILE) ? 2 : 0;
    if (n->n_sub != want) return node_error(g, n, "wrong number of subgraphs");
    int n_args = n->n_in - (n->effect ? 1 : 0) - (n->kind == DS_NODE_IF ? 1 : 0);
    bool sub_effect = false;
    for (int k = 0; k < n->n_sub; k++) {
        const ds_graph *s = n->sub[k];
        if (s->params.n != n_args) return node_error(g, n, "subgraph parameter count differs from the arguments");
        bool done = false;
        for (int i = 0; i < seen->n && !done; i++) done = seen->items[i] == s;
        if (!done) {
            ds_status st = verify_graph(s, depth + 1, seen);
            if (st) return st;
            if ((st = ds_ptrvec_push(seen, (void *)s))) return st;
        }
        sub_effect |= s->entry_token != NULL;
    }
    if (sub_effect != n->effect) return node_error(g, n, "token threading does not match the subgraphs' effects");
    return DS_OK;
}

static ds_status verify_graph(const ds_graph *g, int depth, seen_set *seen) {
    if (depth > 64) return ds_errorf(DS_ERR_INTERNAL, "verify: subgraphs nested more than 64 deep");
    if (!g->closed) return ds_errorf(DS_ERR_INTERNAL, "verify: graph '%s' has no outputs set", g->name);
    ds_status st = DS_OK;
    char *defined = ds_calloc((size_t)g->n_values + 1);
    if (!defined) return DS_ERR_NOMEM;
    for (int i = 0; i < g->params.n; i++) {
        ds_value *p = g->params.items[i];
        if (p->producer || p->index != i || p->id >= g->n_values) {
            st = ds_errorf(DS_ERR_INTERNAL, "verify: graph '%s': parameter %d is malformed", g->name, i);
            goto done;
        }
        defined[p->id] = 1;
    }
    const ds_value *tok = g->entry_token;
    if (tok) defined[tok->id] = 1;
    for (int i = 0; i < g->nodes.n; i++) {
        const ds_node *n = g->nodes.items[i];
        if (n->id != i) {
            st = node_error(g, n, "node id does not match its position");
            goto done;
        }
        for (int k = 0; k < n->n_in; k++) {
            const ds_value *v = n->in[k];
            if (!v || v->id >= g->n_values || !defined[v->id]) {
                st = node_error(g, n, "an input is not defined before its use in this graph");
                goto done;
            }
            bool is_tok = v->kind == DS_VALUE_TOKEN;
            bool last = k == n->n_in - 1;
            if (is_tok != (n->effect && last)) {
                st = node_error(g, n, is_tok ? "a state token is used as data" : "the effect's last input is not a token");
                goto done;
            }
            if (is_tok && v != tok) {
                st = node_error(g, n, "effects are out of order (the token is not the current one)");
                goto done;
            }
        }
        for (int k = 0; k < n->n_out; k++) {
            const ds_value *v = n->out[k];
            if (!v || v->producer != n || v->index != k || v->id >= g->n_values || defined[v->id]) {
                st = node_error(g, n, "an output value is malformed or defined twice");
                goto done;
            }
            defined[v->id] = 1;
        }
        if (n->effect) {
            if (n->n_out == 0 || n->out[n->n_out - 1]->kind != DS_VALUE_TOKEN) {
                st = node_error(g, n, "an effect does not produce a token");
                goto done;
            }
            tok = n->out[n->n_out - 1];
        }
        switch (n->kind) {
        case DS_NODE_OP: {
            if ((unsigned)n->op >= DS_OP_COUNT) {
                st = node_error(g, n, "unknown op");
                goto done;
            }
            if (n->effect != ds_op_is_effectful(n->op)) {
                st = node_error(g, n, "effect flag does not match the op");
                goto done;
            }
            int nd = n->n_in - (n->effect ? 1 : 0), no = 0;
            ds_meta in[64], out[DS_OP_MAX_OUT];
            if (nd > 64) break; /* very wide concat: skip re-inference */
            for (int k = 0; k < nd; k++) in[k] = n->in[k]->type;
            ds_status ist = ds_ir_infer(n->op, nd, in, n->attrs, out, &no);
            if (ist == DS_ERR_NOMEM) {
                st = ist;
                goto done;
            }
            if (ist != DS_OK) {
                st = node_error(g, n, "inference fails on the node's own inputs");
                goto done;
            }
            int data_out = n->n_out - (n->effect ? 1 : 0);
            if (no != data_out) {
                st = node_error(g, n, "output count differs from inference");
                goto done;
            }
            for (int k = 0; k < no; k++)
                if (!ds_meta_equal(&out[k], &n->out[k]->type)) {
                    st = node_error(g, n, "an output type differs from inference");
                    goto done;
                }
            break;
        }
        case DS_NODE_CONST:
            if (!n->constant || n->n_in != 0 || n->n_out != 1) {
                st = node_error(g, n, "a constant needs a tensor and one output");
                goto done;
            }
            break;
        case DS_NODE_ASSIGN: {
            const ds_value *p = n->in[0];
            if (p->producer || !p->weight) {
                st = node_error(g, n, "assign target is not a weight parameter");
                goto done;
            }
            break;
        }
        case DS_NODE_IF:
        case DS_NODE_WHILE:
        case DS_NODE_CALL:
            if ((st = verify_subgraphs(g, n, depth, seen))) goto done;
            break;
        case DS_NODE_PRINT:
        case DS_NODE_CALLBACK:
            if (!n->effect) {
                st = node_error(g, n, "print and callbacks must be effects");
                goto done;
            }
            break;
        default:
            st = node_error(g, n, "unknown node kind");
            goto done;
        }
    }
    for (int i = 0; i < g->outputs.n; i++) {
        const ds_value *v = g->outputs.items[i];
        if (!v || v->id >= g->n_values || !defined[v->id] || v->kind != DS_VALUE_TENSOR) {
            st = ds_errorf(DS_ERR_INTERNAL, "verify: graph '%s': output %d is not a value defined in the graph", g->name, i);
            goto done;
        }
    }
    if (tok != g->cur_token) st = ds_errorf(DS_ERR_INTERNAL, "verify: graph '%s': the final token is not the last effect's", g->name);
done:
    ds_free(defined);
    return st;
}

ds_status ds_graph_verify(const ds_graph *g) {
    seen_set seen = {0};
    ds_status st = verify_graph(g, 0, &seen);
    ds_ptrvec_deinit(&seen);
    return st;
}
