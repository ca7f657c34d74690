/* Dead-code elimination: drops nodes whose outputs nothing live reads. Effects (print, assign, callbacks,
 * random ops, in-place writes, and If/While/Call nodes whose subgraphs have effects) are always live, so
 * the token chain and everything feeding it stay. Parameters, graph outputs and subgraph signatures are
 * never changed; subgraphs are cleaned the same way. */
#include "base/alloc.h"
#include "passes/manager.h"
#include "passes/rewrite.h"

/* Marks live nodes (by id) walking backwards from the outputs and the effects. */
static ds_status dce_prepare(ds_rw *rw, const ds_graph *g, void **state) {
    char *live_val = ds_calloc((size_t)g->n_values + 1), *live = ds_calloc((size_t)g->nodes.n + 1);
    if (!live_val || !live) {
        ds_free(live_val);
        ds_free(live);
        return DS_ERR_NOMEM;
    }
    for (int i = 0; i < g->outputs.n; i++) live_val[((ds_value *)g->outputs.items[i])->id] = 1;
    for (int i = g->nodes.n - 1; i >= 0; i--) {
        const ds_node *n = g->nodes.items[i];
        bool l = n->effect;
        for (int k = 0; k < n->n_out && !l; k++) l = live_val[n->out[k]->id];
        if (!l) continue;
        live[i] = 1;
        for (int k = 0; k < n->n_in; k++) live_val[n->in[k]->id] = 1;
    }
    ds_free(live_val);
    *state = live;
    return DS_OK;
}

static ds_status dce_visit(ds_rw *rw, const ds_node *n, ds_value *const *in, ds_value **out) {
    const char *live = rw->state;
    if (live[n->id]) return ds_rw_clone_node(rw, n, in, out);
    ds_rw_changed(rw, 1); /* outputs stay NULL: dropped */
    return DS_OK;
}

static const ds_rw_pass k_dce = {.name = "dce", .prepare = dce_prepare, .release = ds_free, .visit = dce_visit};

ds_status ds_pass_dce(const ds_graph *g, ds_graph **out, int *changes) { return ds_rw_apply(&k_dce, g, out, changes); }
