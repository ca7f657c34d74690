/* Inlining: a Call node is replaced by the callee's nodes (parameters bound to the call's arguments),
 * and an If node whose condition is a constant by the nodes of the branch it takes. Inlined nodes keep
 * their own source locations; their effects are threaded into the caller's token chain where the call
 * was, so effects keep their order. Calls inside inlined bodies, If branches and While bodies are
 * inlined too; nesting deeper than DS_RW_MAX_INLINE_DEPTH (a graph that calls itself) is an error.
 *
 * Left as is: a call whose callee assigns a parameter that is not a weight parameter of the caller (the
 * write would have no target), a call whose inlined outputs would get different types than the node
 * declares (e.g. an If whose branches differ in a dim, or a callee with its own symbolic dims), a call
 * whose callee's nodes do not fit the actual arguments (it fails when it runs; inlining would turn that
 * into a compile-time error), and calls that would grow the graph past DS_INLINE_MAX_NODES nodes. */
#include "base/status.h"
#include "passes/manager.h"
#include "passes/rewrite.h"

#define DS_INLINE_MAX_NODES (1 << 18)

/* Whether every ASSIGN in `sub` targets a parameter bound to a weight parameter of the caller. */
static bool assigns_ok(const ds_rw *rw, const ds_graph *sub, ds_value *const *args) {
    for (int i = 0; i < sub->nodes.n; i++) {
        const ds_node *n = sub->nodes.items[i];
        if (n->kind != DS_NODE_ASSIGN) continue;
        const ds_value *a = args[n->in[0]->index];
        if (a->producer || !a->weight || a->kind != DS_VALUE_TENSOR) return false;
    }
    return true;
}

/* Inlines `sub` for node n, or clones n if it cannot be inlined. */
static ds_status inline_body(ds_rw *rw, const ds_node *n, const ds_graph *sub, ds_value *const *in,
                             ds_value *const *args, ds_value **out) {
    int dout = n->n_out - (n->effect ? 1 : 0);
    if (!assigns_ok(rw, sub, args) || rw->dst->nodes.n + sub->nodes.n > DS_INLINE_MAX_NODES || sub->outputs.n != dout)
        return ds_rw_clone_node(rw, n, in, out);
    ds_rw_mark mark;
    ds_rw_mark_get(rw, &mark);
    ds_status st = ds_rw_inline(rw, sub, args, out);
    if (st == DS_ERR_SHAPE || st == DS_ERR_DTYPE || st == DS_ERR_INDEX) {
        /* the callee's nodes do not fit the actual argument types (the call fails when it runs):
         * keep the call, so the error surfaces at run time where it belongs */
        ds_error_clear();
        ds_rw_rollback(rw, &mark);
        for (int j = 0; j < dout; j++) out[j] = NULL;
        return ds_rw_clone_node(rw, n, in, out);
    }
    if (st) {
        ds_rw_rollback(rw, &mark);
        return st;
    }
    for (int k = 0; k < dout; k++)
        if (!ds_meta_equal(&out[k]->type, &n->out[k]->type)) {
            ds_rw_rollback(rw, &mark);
            for (int j = 0; j < dout; j++) out[j] = NULL;
            return ds_rw_clone_node(rw, n, in, out);
        }
    ds_rw_changed(rw, 1);
    return DS_OK;
}

static ds_status inline_visit(ds_rw *rw, const ds_node *n, ds_value *const *in, ds_value **out) {
    if (n->kind == DS_NODE_CALL) return inline_body(rw, n, n->sub[0], in, in, out);
    if (n->kind == DS_NODE_IF) {
        const ds_node *c = in[0]->producer;
        double v;
        if (c && c->kind == DS_NODE_CONST && c->constant->numel == 1 && !ds_tensor_get_double(c->constant, 0, &v))
            return inline_body(rw, n, n->sub[v != 0.0 ? 0 : 1], in, in + 1, out);
    }
    return ds_rw_clone_node(rw, n, in, out);
}

static const ds_rw_pass k_inline = {.name = "inline", .visit = inline_visit};

ds_status ds_pass_inline(const ds_graph *g, ds_graph **out, int *changes) {
    return ds_rw_apply(&k_inline, g, out, changes);
}
