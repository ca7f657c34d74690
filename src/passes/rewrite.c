/* The rebuild engine the passes share, the alias analysis, and in-place graph edits (see rewrite.h). */
#include "passes/rewrite.h"

#include <string.h>

#include "base/alloc.h"
#include "base/status.h"

#define MAX_SUBGRAPH_DEPTH 128

struct ds_rw_run {
    const ds_rw_pass *pass;
    const ds_graph **memo_old;
    ds_graph **memo_new;
    int memo_n, memo_cap;
    int changes;
};

struct ds_rw_alias {
    int n;     /* source values */
    int *cls;  /* union-find parent */
    int *fw;   /* per class root: first write position (INT_MAX none, -1 untouchable) */
    int *lu;   /* per value: last use position (-1 unused; graph outputs use n_nodes) */
};

static const char *const k_kind_names[DS_NODE_KIND_COUNT] = {"op", "const", "If", "While", "Call", "print", "assign", "callback"};

static const char *node_name(const ds_node *n) {
    return n->kind == DS_NODE_OP ? ds_op_get_info(n->op)->name : k_kind_names[n->kind];
}

static ds_status build(ds_rw_run *run, const ds_graph *src, int depth, ds_graph **out);

/* ---------------------------------------------------------------- alias analysis */
static int uf_find(int *p, int x) {
    while (p[x] != x) {
        p[x] = p[p[x]];
        x = p[x];
    }
    return x;
}

static void uf_union(int *p, int a, int b) {
    a = uf_find(p, a);
    b = uf_find(p, b);
    if (a != b) p[a < b ? b : a] = a < b ? a : b;
}

static void alias_free(ds_rw_alias *a) {
    if (!a) return;
    ds_free(a->cls);
    ds_free(a->fw);
    ds_free(a->lu);
    ds_free(a);
}

static void note_write(ds_rw_alias *a, const ds_value *v, int pos) {
    int r = uf_find(a->cls, v->id);
    if (v->producer) a->fw[r] = -1; /* writes into a computed value: never rewrite around them */
    else if (a->fw[r] > pos) a->fw[r] = pos;
}

static bool may_alias_op(ds_op_id op) {
    return ds_op_get_info(op)->kind == DS_KIND_VIEW || (ds_op_entry_get(op)->impl.flags & DS_IMPL_ALLOCATES);
}

static ds_status alias_compute(const ds_graph *g, ds_rw_alias **out) {
    ds_rw_alias *a = ds_calloc(sizeof *a);
    if (!a) return DS_ERR_NOMEM;
    int n = g->n_values + 1;
    a->n = g->n_values;
    a->cls = ds_malloc(sizeof(int) * (size_t)n);
    a->fw = ds_malloc(sizeof(int) * (size_t)n);
    a->lu = ds_malloc(sizeof(int) * (size_t)n);
    if (!a->cls || !a->fw || !a->lu) {
        alias_free(a);
        return DS_ERR_NOMEM;
    }
    for (int i = 0; i < n; i++) {
        a->cls[i] = i;
        a->fw[i] = INT_MAX;
        a->lu[i] = -1;
    }
    for (int i = 0; i < g->nodes.n; i++) {
        const ds_node *nd = g->nodes.items[i];
        int din = nd->n_in - (nd->effect ? 1 : 0), dout = nd->n_out - (nd->effect ? 1 : 0);
        for (int k = 0; k < din; k++) a->lu[nd->in[k]->id] = i;
        bool joins = nd->kind == DS_NODE_IF || nd->kind == DS_NODE_WHILE || nd->kind == DS_NODE_CALL ||
                     (nd->kind == DS_NODE_OP && may_alias_op(nd->op));
        if (joins)
            for (int o = 0; o < dout; o++)
                for (int k = 0; k < din; k++) uf_union(a->cls, nd->out[o]->id, nd->in[k]->id);
    }
    for (int i = 0; i < g->outputs.n; i++) a->lu[((ds_value *)g->outputs.items[i])->id] = g->nodes.n;
    for (int i = 0; i < g->nodes.n; i++) {
        const ds_node *nd = g->nodes.items[i];
        int din = nd->n_in - (nd->effect ? 1 : 0);
        if (nd->kind == DS_NODE_ASSIGN || (nd->kind == DS_NODE_OP && nd->op == DS_OP_INDEX_PUT)) note_write(a, nd->in[0], i);
        else if (nd->effect && nd->kind != DS_NODE_PRINT && !(nd->kind == DS_NODE_OP && ds_op_get_info(nd->op)->kind == DS_KIND_RANDOM))
            for (int k = 0; k < din; k++) note_write(a, nd->in[k], i); /* If/While/Call/callbacks, other in-place ops */
    }
    *out = a;
    return DS_OK;
}

static int alias_fw(const ds_rw_alias *a, const ds_value *v) { return a->fw[uf_find(a->cls, v->id)]; }

static int dst_fw(const ds_rw *rw, const ds_value *v) { return v->id < rw->dst_fw_cap ? rw->dst_fw[v->id] : INT_MAX; }

bool ds_rw_can_replace(const ds_rw *rw, const ds_value *y, ds_value *const *reads, int n_reads) {
    if (!rw->alias) return true;
    int lu = rw->alias->lu[y->id];
    if (lu >= alias_fw(rw->alias, y)) return false;
    for (int i = 0; i < n_reads; i++)
        if (reads[i] && lu >= dst_fw(rw, reads[i])) return false;
    return true;
}

bool ds_rw_node_replaceable(const ds_rw *rw, const ds_node *n) {
    if (!rw->alias) return true;
    for (int o = 0; o < n->n_out - (n->effect ? 1 : 0); o++)
        if (rw->alias->lu[n->out[o]->id] >= alias_fw(rw->alias, n->out[o])) return false;
    return true;
}

/* Records that src value `v` became dst value `d` (for ds_rw_can_replace). */
static ds_status note_mapping(ds_rw *rw, const ds_value *v, const ds_value *d) {
    if (!rw->alias) return DS_OK;
    if (d->id >= rw->dst_fw_cap) {
        int cap = rw->dst_fw_cap ? rw->dst_fw_cap : 64;
        while (cap <= d->id) cap *= 2;
        int *p = ds_malloc(sizeof(int) * (size_t)cap);
        if (!p) return DS_ERR_NOMEM;
        if (rw->dst_fw_cap) memcpy(p, rw->dst_fw, sizeof(int) * (size_t)rw->dst_fw_cap);
        for (int i = rw->dst_fw_cap; i < cap; i++) p[i] = INT_MAX;
        ds_free(rw->dst_fw);
        rw->dst_fw = p;
        rw->dst_fw_cap = cap;
    }
    int fw = alias_fw(rw->alias, v);
    if (fw < rw->dst_fw[d->id]) rw->dst_fw[d->id] = fw;
    return DS_OK;
}

/* ---------------------------------------------------------------- emission */
void ds_rw_changed(ds_rw *rw, int n) { rw->run->changes += n; }

static ds_status set_loc(ds_rw *rw, const ds_loc *loc) {
    ds_graph *g = rw->dst;
    const char *file = NULL;
    if (loc->file) {
        if (loc->file != rw->loc_src_file) {
            const char *copy = ds_arena_strdup(&g->arena, loc->file);
            if (!copy) return DS_ERR_NOMEM;
            rw->loc_src_file = loc->file;
            rw->loc_dst_file = copy;
        }
        file = rw->loc_dst_file;
    }
    g->cur_loc = (ds_loc){file, loc->line, loc->col};
    return DS_OK;
}

ds_status ds_rw_emit_op(ds_rw *rw, const ds_node *like, ds_op_id op, int n_in, ds_value *const *in,
                        const ds_attr *attrs, ds_value **out) {
    ds_status st = set_loc(rw, &like->loc);
    if (!st) st = ds_graph_add_op1(rw->dst, op, n_in, in, attrs, out);
    return st;
}

ds_status ds_rw_emit_const(ds_rw *rw, const ds_node *like, ds_tensor *t, ds_value **out) {
    ds_status st = set_loc(rw, &like->loc);
    if (!st) st = ds_graph_add_const(rw->dst, t, out);
    return st;
}

ds_status ds_rw_subgraph(ds_rw *rw, const ds_graph *sub, ds_graph **out) {
    ds_rw_run *run = rw->run;
    for (int i = 0; i < run->memo_n; i++)
        if (run->memo_old[i] == sub) {
            *out = run->memo_new[i];
            return DS_OK;
        }
    ds_graph *g;
    ds_status st = build(run, sub, rw->depth + 1, &g); /* first: it memoizes the subgraphs nested in sub */
    if (st) return st;
    if (run->memo_n == run->memo_cap) {
        int cap = run->memo_cap ? run->memo_cap * 2 : 8;
        const ds_graph **o = ds_malloc(sizeof(*o) * (size_t)cap);
        ds_graph **nw = ds_malloc(sizeof(*nw) * (size_t)cap);
        if (!o || !nw) {
            ds_free(o);
            ds_free(nw);
            ds_graph_release(g);
            return DS_ERR_NOMEM;
        }
        if (run->memo_n) {
            memcpy(o, run->memo_old, sizeof(*o) * (size_t)run->memo_n);
            memcpy(nw, run->memo_new, sizeof(*nw) * (size_t)run->memo_n);
        }
        ds_free(run->memo_old);
        ds_free(run->memo_new);
        run->memo_old = o;
        run->memo_new = nw;
        run->memo_cap = cap;
    }
    run->memo_old[run->memo_n] = sub;
    run->memo_new[run->memo_n++] = g;
    *out = g;
    return DS_OK;
}

ds_status ds_rw_clone_node(ds_rw *rw, const ds_node *n, ds_value *const *in, ds_value **out) {
    int din = n->n_in - (n->effect ? 1 : 0), dout = n->n_out - (n->effect ? 1 : 0), got = dout;
    ds_graph *subs[2] = {NULL, NULL};
    ds_status st = DS_OK;
    for (int k = 0; k < n->n_sub && k < 2; k++)
        if ((st = ds_rw_subgraph(rw, n->sub[k], &subs[k]))) return st;
    if ((st = set_loc(rw, &n->loc))) return st;
    ds_graph *g = rw->dst;
    switch (n->kind) {
    case DS_NODE_OP: st = ds_graph_add_op(g, n->op, din, in, n->attrs, DS_OP_MAX_OUT, out, &got); break;
    case DS_NODE_CONST: st = ds_graph_add_const(g, n->constant, out); break;
    case DS_NODE_IF: st = ds_graph_add_if(g, in[0], subs[0], subs[1], din - 1, in + 1, DS_OP_MAX_OUT, out, &got); break;
    case DS_NODE_WHILE: st = ds_graph_add_while(g, subs[0], subs[1], din, in, out); break;
    case DS_NODE_CALL: st = ds_graph_add_call(g, subs[0], din, in, DS_OP_MAX_OUT, out, &got); break;
    case DS_NODE_PRINT: st = ds_graph_add_print(g, n->text, din, in); break;
    case DS_NODE_ASSIGN: st = ds_graph_add_assign(g, in[0], in[1]); break;
    case DS_NODE_CALLBACK: {
        ds_dtype dts[DS_OP_MAX_OUT];
        int nds[DS_OP_MAX_OUT];
        const int64_t *dims[DS_OP_MAX_OUT];
        for (int i = 0; i < dout; i++) {
            dts[i] = n->out[i]->type.dtype;
            nds[i] = n->out[i]->type.ndim;
            dims[i] = n->out[i]->type.shape;
        }
        st = ds_graph_add_callback(g, n->text, n->fn, n->fn_ctx, din, in, dout, dts, nds, dims, out);
        break;
    }
    default: return ds_errorf(DS_ERR_INTERNAL, "rewrite: unknown node kind %d", (int)n->kind);
    }
    if (!st && got != dout)
        st = ds_errorf(DS_ERR_INTERNAL, "rewrite: node %d (%s) re-emitted with %d outputs instead of %d", n->id, node_name(n), got, dout);
    return st;
}

/* ---------------------------------------------------------------- the walk */
static ds_status walk(ds_rw *rw, ds_rw_frame *f) {
    const ds_graph *src = f->src;
    ds_value *stack_in[64], **in = stack_in, *out[DS_OP_MAX_OUT + 1];
    int cap = 64;
    ds_status st = DS_OK;
    for (int i = 0; i < src->nodes.n; i++) {
        const ds_node *n = src->nodes.items[i];
        int din = n->n_in - (n->effect ? 1 : 0), dout = n->n_out - (n->effect ? 1 : 0);
        if (din > cap) {
            if (in != stack_in) ds_free(in);
            cap = din;
            if (!(in = ds_malloc(sizeof(ds_value *) * (size_t)cap))) return DS_ERR_NOMEM;
        }
        bool reads_dropped = false;
        for (int k = 0; k < din; k++) reads_dropped |= !(in[k] = f->map[n->in[k]->id]);
        if (reads_dropped) { /* what reads a dropped value is dropped too; an effect cannot be */
            if (!n->effect) continue;
            st = ds_errorf(DS_ERR_INTERNAL, "pass '%s': graph '%s', node %d (%s) is an effect reading a value the pass dropped",
                           rw->pass->name, src->name, n->id, node_name(n));
            goto done;
        }
        memset(out, 0, sizeof(ds_value *) * (size_t)(dout + 1));
        rw->frame = f;
        st = rw->pass->visit ? rw->pass->visit(rw, n, in, out) : ds_rw_clone_node(rw, n, in, out);
        rw->frame = f;
        if (st) goto done;
        for (int k = 0; k < dout; k++) {
            const ds_value *v = n->out[k];
            if (!out[k]) continue;
            if (out[k]->kind != DS_VALUE_TENSOR || !ds_meta_equal(&out[k]->type, &v->type)) {
                char a[DS_SHAPE_STR_MAX], b[DS_SHAPE_STR_MAX];
                st = ds_errorf(DS_ERR_INTERNAL, "pass '%s': graph '%s', node %d (%s): output %d changes type from %s%s to %s%s",
                               rw->pass->name, src->name, n->id, node_name(n), k, ds_dtype_name(v->type.dtype),
                               ds_shape_str(v->type.ndim, v->type.shape, a, sizeof a), ds_dtype_name(out[k]->type.dtype),
                               ds_shape_str(out[k]->type.ndim, out[k]->type.shape, b, sizeof b));
                goto done;
            }
            f->map[v->id] = out[k];
            if (f == &rw->root && (st = note_mapping(rw, v, out[k]))) goto done;
        }
    }
done:
    if (in != stack_in) ds_free(in);
    return st;
}

ds_status ds_rw_inline(ds_rw *rw, const ds_graph *sub, ds_value *const *args, ds_value **outs) {
    ds_rw_frame *parent = rw->frame;
    if (parent->depth + 1 > DS_RW_MAX_INLINE_DEPTH)
        return ds_errorf(DS_ERR_VALUE, "inline: calls nested more than %d deep (graph '%s' calls itself?)",
                         DS_RW_MAX_INLINE_DEPTH, sub->name);
    ds_rw_frame f = {sub, ds_calloc(sizeof(ds_value *) * (size_t)(sub->n_values + 1)), parent, parent->depth + 1};
    if (!f.map) return DS_ERR_NOMEM;
    for (int i = 0; i < sub->params.n; i++) f.map[((ds_value *)sub->params.items[i])->id] = args[i];
    ds_status st = walk(rw, &f);
    for (int i = 0; !st && i < sub->outputs.n; i++) {
        outs[i] = f.map[((ds_value *)sub->outputs.items[i])->id];
        if (!outs[i]) st = ds_errorf(DS_ERR_INTERNAL, "pass '%s': output %d of inlined graph '%s' was dropped", rw->pass->name, i, sub->name);
    }
    rw->frame = parent;
    ds_free(f.map);
    return st;
}

void ds_rw_mark_get(const ds_rw *rw, ds_rw_mark *m) {
    m->nodes = rw->dst->nodes.n;
    m->values = rw->dst->n_values;
    m->cur_token = rw->dst->cur_token;
    m->entry_token = rw->dst->entry_token;
}

void ds_rw_rollback(ds_rw *rw, const ds_rw_mark *m) {
    ds_graph *g = rw->dst;
    for (int i = g->nodes.n - 1; i >= m->nodes; i--) {
        ds_node *n = g->nodes.items[i];
        for (int k = 0; k < n->n_in; k++)
            if (n->in[k]) n->in[k]->uses--;
        ds_tensor_release(n->constant);
        n->constant = NULL;
        for (int k = 0; k < n->n_sub; k++) ds_graph_release(n->sub[k]);
        n->n_sub = 0;
    }
    g->nodes.n = m->nodes;
    g->n_values = m->values;
    g->cur_token = m->cur_token;
    g->entry_token = m->entry_token;
    for (int i = m->values; i < rw->dst_fw_cap; i++) rw->dst_fw[i] = INT_MAX;
}

/* ---------------------------------------------------------------- one graph */
static ds_status begin_graph(ds_rw *rw, const ds_graph *src) {
    ds_status st;
    if ((st = ds_graph_new(src->name, &rw->dst))) return st;
    for (int i = 0; i < src->symbols.n; i++) {
        int64_t d;
        if ((st = ds_graph_symbol(rw->dst, src->symbols.items[i], &d))) return st;
    }
    if (!(rw->root.map = ds_calloc(sizeof(ds_value *) * (size_t)(src->n_values + 1)))) return DS_ERR_NOMEM;
    if (rw->pass->needs_alias && (st = alias_compute(src, &rw->alias))) return st;
    for (int i = 0; i < src->params.n; i++) {
        const ds_value *p = src->params.items[i];
        ds_value *q;
        if ((st = ds_graph_add_param(rw->dst, p->name, p->type.dtype, p->type.ndim, p->type.shape, p->weight, &q))) return st;
        rw->root.map[p->id] = q;
        if ((st = note_mapping(rw, p, q))) return st;
    }
    return DS_OK;
}

static ds_status build(ds_rw_run *run, const ds_graph *src, int depth, ds_graph **out) {
    if (depth > MAX_SUBGRAPH_DEPTH) return ds_errorf(DS_ERR_VALUE, "rewrite: subgraphs nested more than %d deep", MAX_SUBGRAPH_DEPTH);
    if (!src->closed) return ds_errorf(DS_ERR_VALUE, "graph '%s' has no outputs set", src->name);
    ds_rw rw = {.pass = run->pass, .run = run, .depth = depth};
    rw.root.src = src;
    rw.frame = &rw.root;
    ds_value *stack_outs[16], **outs = stack_outs;
    ds_status st = begin_graph(&rw, src);
    if (!st && run->pass->prepare) st = run->pass->prepare(&rw, src, &rw.state);
    if (!st) st = walk(&rw, &rw.root);
    if (!st && src->outputs.n > 16 && !(outs = ds_malloc(sizeof(ds_value *) * (size_t)src->outputs.n))) st = DS_ERR_NOMEM;
    for (int i = 0; !st && i < src->outputs.n; i++) {
        outs[i] = rw.root.map[((ds_value *)src->outputs.items[i])->id];
        if (!outs[i]) st = ds_errorf(DS_ERR_INTERNAL, "pass '%s': graph '%s' output %d was dropped", run->pass->name, src->name, i);
    }
    if (!st) {
        rw.dst->cur_loc = (ds_loc){NULL, 0, 0};
        st = ds_graph_set_outputs(rw.dst, src->outputs.n, outs);
    }
    if (outs != stack_outs) ds_free(outs);
    if (run->pass->release && rw.state) run->pass->release(rw.state);
    alias_free(rw.alias);
    ds_free(rw.dst_fw);
    ds_free(rw.root.map);
    if (st) {
        ds_graph_release(rw.dst);
        return st;
    }
    *out = rw.dst;
    return DS_OK;
}

ds_status ds_rw_apply(const ds_rw_pass *pass, const ds_graph *src, ds_graph **out, int *changes) {
    ds_rw_run run = {.pass = pass};
    ds_graph *g = NULL;
    ds_status st = build(&run, src, 0, &g);
    for (int i = 0; i < run.memo_n; i++) ds_graph_release(run.memo_new[i]);
    ds_free(run.memo_old);
    ds_free(run.memo_new);
    if (st) return st;
    *out = g;
    if (changes) *changes = run.changes;
    return DS_OK;
}

/* ---------------------------------------------------------------- whole-graph helpers */
ds_status ds_rw_clone(const ds_graph *g, ds_graph **out) {
    static const ds_rw_pass clone = {.name = "clone"};
    return ds_rw_apply(&clone, g, out, NULL);
}

ds_status ds_rw_replace_uses(ds_graph *g, ds_value *old, ds_value *new, int *n_replaced) {
    if (old->id >= g->n_values || new->id >= g->n_values || old->kind != DS_VALUE_TENSOR || new->kind != DS_VALUE_TENSOR)
        return ds_errorf(DS_ERR_INTERNAL, "replace_uses: values must be tensors of graph '%s'", g->name);
    if (!ds_meta_equal(&old->type, &new->type))
        return ds_errorf(DS_ERR_INTERNAL, "replace_uses: value %d and value %d differ in type", old->id, new->id);
    int def = new->producer ? new->producer->id : -1, count = 0;
    for (int i = 0; i < g->nodes.n && i <= def; i++) {
        const ds_node *n = g->nodes.items[i];
        for (int k = 0; k < n->n_in; k++)
            if (n->in[k] == old)
                return ds_errorf(DS_ERR_INTERNAL, "replace_uses: value %d is used by node %d before value %d is defined", old->id, i, new->id);
    }
    for (int i = 0; i < g->nodes.n; i++) {
        ds_node *n = g->nodes.items[i];
        for (int k = 0; k < n->n_in; k++)
            if (n->in[k] == old) {
                n->in[k] = new;
                count++;
            }
    }
    for (int i = 0; i < g->outputs.n; i++)
        if (g->outputs.items[i] == old) {
            g->outputs.items[i] = new;
            count++;
        }
    old->uses -= count;
    new->uses += count;
    if (n_replaced) *n_replaced = count;
    return DS_OK;
}

ds_status ds_rw_remove_nodes(ds_graph *g, bool (*dead)(const ds_node *n, void *ctx), void *ctx, int *n_removed) {
    int *dead_uses = ds_calloc(sizeof(int) * (size_t)(g->n_values + 1));
    char *is_dead = ds_calloc((size_t)g->nodes.n + 1);
    ds_status st = DS_OK;
    if (!dead_uses || !is_dead) {
        st = DS_ERR_NOMEM;
        goto done;
    }
    for (int i = 0; i < g->nodes.n; i++) {
        const ds_node *n = g->nodes.items[i];
        if (!(is_dead[i] = dead(n, ctx))) continue;
        if (n->effect) {
            st = ds_errorf(DS_ERR_INTERNAL, "remove_nodes: node %d (%s) of graph '%s' is an effect", i, node_name(n), g->name);
            goto done;
        }
        for (int k = 0; k < n->n_in; k++) dead_uses[n->in[k]->id]++;
    }
    for (int i = 0; i < g->nodes.n; i++) {
        const ds_node *n = g->nodes.items[i];
        for (int k = 0; is_dead[i] && k < n->n_out; k++)
            if (n->out[k]->uses != dead_uses[n->out[k]->id]) {
                st = ds_errorf(DS_ERR_INTERNAL, "remove_nodes: node %d (%s) of graph '%s' has a live use", i, node_name(n), g->name);
                goto done;
            }
    }
    int kept = 0, removed = 0, nv = 0;
    for (int i = 0; i < g->params.n; i++) ((ds_value *)g->params.items[i])->id = nv++;
    if (g->entry_token) g->entry_token->id = nv++;
    for (int i = 0; i < g->nodes.n; i++) {
        ds_node *n = g->nodes.items[i];
        if (is_dead[i]) {
            for (int k = 0; k < n->n_in; k++) n->in[k]->uses--;
            ds_tensor_release(n->constant);
            n->constant = NULL;
            for (int k = 0; k < n->n_sub; k++) ds_graph_release(n->sub[k]);
            n->n_sub = 0;
            removed++;
            continue;
        }
        n->id = kept;
        g->nodes.items[kept++] = n;
        for (int k = 0; k < n->n_out; k++) n->out[k]->id = nv++;
    }
    g->nodes.n = kept;
    g->n_values = nv;
    if (n_removed) *n_removed = removed;
done:
    ds_free(dead_uses);
    ds_free(is_dead);
    return st;
}
