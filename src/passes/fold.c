/* Constant folding: an op node whose inputs are all constants is run now, with the same kernels the
 * graph would run (ds_op_run), and replaced by constants holding its results -- so folded values are
 * bit-identical to computed ones.
 *
 * Not folded: effects (random ops, in-place writes), structural nodes (If with a constant condition and
 * Calls are inline's job; While could loop forever), ops whose result type would change (a result whose
 * shape depends on the data, like nonzero, has unknown dims in the graph), results over
 * DS_FOLD_MAX_ELEMS elements in all, results that would grow the graph -- more than
 * DS_FOLD_MAX_GROWTH elements and more than the inputs hold together (broadcast_to, tile, full, arange of
 * large shapes stay ops) --, and values an in-place write may reach (ds_rw_can_replace). A node whose
 * kernel fails (e.g. an index out of range) is left alone, so the error surfaces when the graph runs. */
#include "base/alloc.h"
#include "base/status.h"
#include "passes/manager.h"
#include "passes/rewrite.h"

#define DS_FOLD_MAX_ELEMS (1 << 20)
#define DS_FOLD_MAX_GROWTH 4096

static bool is_const(const ds_value *v) { return v->producer && v->producer->kind == DS_NODE_CONST; }

/* Whether the node's results fit the size limits (all dims known). */
static bool fits(const ds_node *n, ds_value *const *in, int din) {
    int64_t total = 0, in_total = 0;
    for (int k = 0; k < n->n_out; k++) {
        const ds_meta *m = &n->out[k]->type;
        int64_t c = 1;
        for (int d = 0; d < m->ndim; d++) {
            if (m->shape[d] < 0) return false;
            if (m->shape[d] > DS_FOLD_MAX_ELEMS) return false;
            c *= m->shape[d];
            if (c > DS_FOLD_MAX_ELEMS) return false;
        }
        total += c;
        if (total > DS_FOLD_MAX_ELEMS) return false;
    }
    for (int k = 0; k < din; k++) in_total += in[k]->producer->constant->numel;
    return total <= DS_FOLD_MAX_GROWTH || total <= in_total;
}

/* A result that owns its storage (kernels may return views of their constant inputs). */
static ds_status own(ds_tensor *r, ds_tensor *const *ins, int din, ds_tensor **out) {
    bool shared = false;
    for (int k = 0; k < din; k++) shared |= ds_tensor_shares_storage(r, ins[k]);
    if (!shared) {
        *out = ds_tensor_retain(r);
        return DS_OK;
    }
    ds_tensor *c;
    ds_status st = ds_tensor_new(r->dtype, r->ndim, r->shape, &c);
    if (st) return st;
    if ((st = ds_tensor_copy_into(c, r))) {
        ds_tensor_release(c);
        return st;
    }
    *out = c;
    return DS_OK;
}

static ds_status fold_visit(ds_rw *rw, const ds_node *n, ds_value *const *in, ds_value **out) {
    int din = n->n_in;
    if (n->kind != DS_NODE_OP || n->effect || !ds_op_is_implemented(n->op) || n->n_out == 0)
        return ds_rw_clone_node(rw, n, in, out);
    for (int k = 0; k < din; k++)
        if (!is_const(in[k])) return ds_rw_clone_node(rw, n, in, out);
    if (!fits(n, in, din) || din > 256) return ds_rw_clone_node(rw, n, in, out);
    for (int k = 0; k < n->n_out; k++)
        if (!ds_rw_can_replace(rw, n->out[k], in, din)) return ds_rw_clone_node(rw, n, in, out);
    ds_tensor *ins[256], *res[DS_OP_MAX_OUT] = {NULL};
    for (int k = 0; k < din; k++) ins[k] = in[k]->producer->constant;
    int got = 0;
    ds_status st = ds_op_run(n->op, din, ins, n->attrs, DS_OP_MAX_OUT, res, &got);
    if (st == DS_ERR_NOMEM) return st;
    if (st) {
        ds_error_clear(); /* not ours to report: the graph fails the same way when it runs */
        return ds_rw_clone_node(rw, n, in, out);
    }
    bool same = got == n->n_out;
    for (int k = 0; k < got && same; k++) {
        ds_meta m;
        ds_meta_of(res[k], &m);
        same = ds_meta_equal(&m, &n->out[k]->type);
    }
    ds_rw_mark mark;
    ds_rw_mark_get(rw, &mark);
    for (int k = 0; k < got && same && !st; k++) {
        ds_tensor *c = NULL;
        st = own(res[k], ins, din, &c);
        if (!st) st = ds_rw_emit_const(rw, n, c, &out[k]);
        ds_tensor_release(c);
    }
    for (int k = 0; k < got; k++) ds_tensor_release(res[k]);
    if (st) {
        ds_rw_rollback(rw, &mark);
        return st;
    }
    if (!same) return ds_rw_clone_node(rw, n, in, out);
    ds_rw_changed(rw, 1);
    return DS_OK;
}

static const ds_rw_pass k_fold = {.name = "fold", .visit = fold_visit, .needs_alias = true};

ds_status ds_pass_fold(const ds_graph *g, ds_graph **out, int *changes) { return ds_rw_apply(&k_fold, g, out, changes); }
