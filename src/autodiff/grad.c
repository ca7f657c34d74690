/* The reverse-mode pass: analysis, re-emission of the forward, the backward of straight-line code,
 * and ds_graph_grad. Control flow is in grad_control.c, the eager tape in tape.c.
 *
 * How a graph is differentiated (ds_graph_grad):
 * 1. Analysis. A value is "varied" if it depends differentiably on a differentiated parameter, and
 *    "useful" if a cotangent can reach it from a selected output; only nodes with a useful, varied
 *    output get a backward. Subgraphs are summarised recursively (While by fixed points).
 * 2. The forward is re-emitted into the new graph node by node, effects in their order, each node with
 *    its source location. Active If / Call / While nodes are re-emitted in augmented forms that also
 *    return what their backward needs (grad_control.c).
 * 3. The backward walks the nodes in reverse, calling each op's rule (rules*.c) with the output
 *    cotangents and accumulating the input cotangents with add. Backward nodes carry the forward
 *    node's source location.
 * The result returns the forward outputs followed by the gradients of the chosen parameters (zeros
 * when a parameter does not reach the outputs), and passes ds_graph_verify. */
#include <stdio.h>
#include <string.h>

#include "autodiff/pass.h"
#include "base/alloc.h"
#include "base/status.h"

/* ---------------------------------------------------------------- context */
ds_status ds_ad_init(ds_ad_ctx *c, const ds_graph *src, ds_graph *fg, ds_graph *bg, bool recompute) {
    memset(c, 0, sizeof *c);
    ds_arena_init(&c->arena);
    c->src = src;
    c->fg = fg;
    c->bg = bg;
    c->recompute = recompute;
    c->tape = fg == src;
    c->nv = src->n_values;
    size_t n = (size_t)(c->nv ? c->nv : 1);
    c->fmap = ds_calloc(sizeof(ds_value *) * n);
    c->ct = ds_calloc(sizeof(ds_value *) * n);
    c->varied = ds_calloc(n);
    c->useful = ds_calloc(n);
    c->info = ds_calloc(sizeof(void *) * (size_t)(src->nodes.n ? src->nodes.n : 1));
    if (!c->fmap || !c->ct || !c->varied || !c->useful || !c->info) {
        ds_ad_deinit(c);
        return DS_ERR_NOMEM;
    }
    if (c->tape) { /* the forward values are the source's own */
        for (int i = 0; i < src->params.n; i++) {
            ds_value *p = src->params.items[i];
            c->fmap[p->id] = p;
        }
        for (int i = 0; i < src->nodes.n; i++) {
            const ds_node *nd = src->nodes.items[i];
            for (int k = 0; k < nd->n_out; k++) c->fmap[nd->out[k]->id] = nd->out[k];
        }
    }
    return DS_OK;
}

void ds_ad_deinit(ds_ad_ctx *c) {
    ds_free(c->fmap);
    ds_free(c->ct);
    ds_free(c->varied);
    ds_free(c->useful);
    ds_free(c->info);
    ds_free(c->bmap);
    for (int i = 0; i < c->graphs.n; i++) ds_graph_release(c->graphs.items[i]);
    ds_ptrvec_deinit(&c->graphs);
    ds_ptrvec_deinit(&c->res_f);
    ds_ptrvec_deinit(&c->res_b);
    ds_arena_deinit(&c->arena);
    memset(c, 0, sizeof *c);
}

ds_status ds_ad_hold(ds_ad_ctx *c, ds_graph *g) {
    ds_status st = ds_ptrvec_push(&c->graphs, g);
    if (st) ds_graph_release(g);
    return st;
}

ds_status ds_ad_copy_symbols(ds_graph *to, const ds_graph *from) {
    for (int i = 0; i < from->symbols.n; i++) {
        int64_t d;
        ds_status st = ds_graph_symbol(to, from->symbols.items[i], &d);
        if (st) return st;
    }
    return DS_OK;
}

bool ds_ad_active(const ds_ad_ctx *c, const ds_node *n) {
    for (int k = 0; k < ds_ad_data_out(n); k++) {
        int id = n->out[k]->id;
        if (c->useful[id] && c->varied[id]) return true;
    }
    return false;
}

/* ---------------------------------------------------------------- analysis */
static unsigned char *flags(int n) { return ds_calloc((size_t)(n > 0 ? n : 1)); }

static ds_status run_varied(const ds_graph *s, unsigned char *vv) {
    ds_status st = DS_OK;
    for (int i = 0; i < s->nodes.n && !st; i++) {
        const ds_node *n = s->nodes.items[i];
        int ni = ds_ad_data_in(n), no = ds_ad_data_out(n);
        unsigned char *ov = NULL, *ov2 = NULL, *pv = NULL;
        switch (n->kind) {
        case DS_NODE_OP:
            if (ds_grad_entry_get(n->op)->kind == DS_GRAD_ZERO) break;
            /* fallthrough */
        case DS_NODE_CALLBACK: {
            bool any = false;
            for (int k = 0; k < ni; k++) any |= vv[n->in[k]->id] != 0;
            for (int k = 0; k < no; k++) vv[n->out[k]->id] = any && ds_ad_float(n->out[k]);
            break;
        }
        case DS_NODE_IF:
        case DS_NODE_CALL: {
            int off = n->kind == DS_NODE_IF, na = ni - off;
            pv = flags(na), ov = flags(no), ov2 = flags(no);
            if (!pv || !ov || !ov2) {
                st = DS_ERR_NOMEM;
                break;
            }
            for (int k = 0; k < na; k++) pv[k] = vv[n->in[off + k]->id];
            for (int b = 0; b < n->n_sub && !st; b++) {
                st = ds_ad_sub_varied(n->sub[b], pv, ov2);
                for (int k = 0; k < no && !st; k++) ov[k] |= ov2[k];
            }
            for (int k = 0; k < no && !st; k++) vv[n->out[k]->id] = ov[k] && ds_ad_float(n->out[k]);
            break;
        }
        case DS_NODE_WHILE: {
            pv = flags(ni), ov = flags(ni);
            if (!pv || !ov) {
                st = DS_ERR_NOMEM;
                break;
            }
            for (int k = 0; k < ni; k++) pv[k] = vv[n->in[k]->id];
            st = ds_ad_loop_flags(n, pv, NULL, ov, NULL);
            for (int k = 0; k < no && !st; k++) vv[n->out[k]->id] = ov[k];
            break;
        }
        default: break;
        }
        ds_free(pv);
        ds_free(ov);
        ds_free(ov2);
    }
    return st;
}

static ds_status run_useful(const ds_graph *s, const unsigned char *vv, unsigned char *uu) {
    ds_status st = DS_OK;
    for (int i = s->nodes.n - 1; i >= 0 && !st; i--) {
        const ds_node *n = s->nodes.items[i];
        int ni = ds_ad_data_in(n), no = ds_ad_data_out(n);
        bool act = false;
        for (int k = 0; k < no; k++) act |= uu[n->out[k]->id] && vv[n->out[k]->id];
        if (!act) continue;
        unsigned char *pv = NULL, *ou = NULL, *pu = NULL, *U = NULL;
        switch (n->kind) {
        case DS_NODE_OP:
        case DS_NODE_CALLBACK:
            for (int k = 0; k < ni; k++)
                if (vv[n->in[k]->id]) uu[n->in[k]->id] = 1;
            break;
        case DS_NODE_IF:
        case DS_NODE_CALL: {
            int off = n->kind == DS_NODE_IF, na = ni - off;
            pv = flags(na), ou = flags(no), pu = flags(na);
            if (!pv || !ou || !pu) {
                st = DS_ERR_NOMEM;
                break;
            }
            for (int k = 0; k < na; k++) pv[k] = vv[n->in[off + k]->id];
            for (int k = 0; k < no; k++) ou[k] = uu[n->out[k]->id] && vv[n->out[k]->id];
            for (int b = 0; b < n->n_sub && !st; b++) {
                st = ds_ad_sub_useful(n->sub[b], pv, ou, pu);
                for (int k = 0; k < na && !st; k++)
                    if (pu[k] && pv[k]) uu[n->in[off + k]->id] = 1;
            }
            break;
        }
        case DS_NODE_WHILE: {
            pv = flags(ni), ou = flags(ni), pu = flags(ni), U = flags(ni);
            if (!pv || !ou || !pu || !U) {
                st = DS_ERR_NOMEM;
                break;
            }
            for (int k = 0; k < ni; k++) {
                pv[k] = vv[n->in[k]->id];
                ou[k] = uu[n->out[k]->id] && vv[n->out[k]->id];
            }
            st = ds_ad_loop_flags(n, pv, ou, pu, U);
            for (int k = 0; k < ni && !st; k++)
                if (U[k] && pv[k]) uu[n->in[k]->id] = 1;
            break;
        }
        default: break;
        }
        ds_free(pv);
        ds_free(ou);
        ds_free(pu);
        ds_free(U);
    }
    return st;
}

static void seed_params(const ds_graph *s, const unsigned char *pv, unsigned char *vv) {
    for (int i = 0; i < s->params.n; i++) {
        const ds_value *p = s->params.items[i];
        vv[p->id] = pv && pv[i] && ds_ad_float(p);
    }
}

ds_status ds_ad_sub_varied(const ds_graph *s, const unsigned char *pv, unsigned char *ov) {
    unsigned char *vv = flags(s->n_values);
    if (!vv) return DS_ERR_NOMEM;
    seed_params(s, pv, vv);
    ds_status st = run_varied(s, vv);
    for (int k = 0; k < s->outputs.n && !st; k++) ov[k] = vv[((ds_value *)s->outputs.items[k])->id];
    ds_free(vv);
    return st;
}

ds_status ds_ad_sub_useful(const ds_graph *s, const unsigned char *pv, const unsigned char *ou, unsigned char *pu) {
    unsigned char *vv = flags(s->n_values), *uu = flags(s->n_values);
    ds_status st = vv && uu ? DS_OK : DS_ERR_NOMEM;
    if (!st) {
        seed_params(s, pv, vv);
        st = run_varied(s, vv);
    }
    for (int k = 0; k < s->outputs.n && !st; k++)
        if (ou[k]) uu[((ds_value *)s->outputs.items[k])->id] = 1;
    if (!st) st = run_useful(s, vv, uu);
    for (int i = 0; i < s->params.n && !st; i++) pu[i] = uu[((ds_value *)s->params.items[i])->id];
    ds_free(vv);
    ds_free(uu);
    return st;
}

ds_status ds_ad_loop_flags(const ds_node *n, const unsigned char *iv, const unsigned char *ou, unsigned char *V, unsigned char *U) {
    const ds_graph *body = n->sub[1];
    int nc = ds_ad_data_in(n);
    unsigned char *tmp = flags(nc);
    if (!tmp) return DS_ERR_NOMEM;
    ds_status st = DS_OK;
    for (int j = 0; j < nc; j++) V[j] = iv[j] && ds_ad_float(n->in[j]);
    for (bool changed = true; changed && !st;) { /* monotone: at most nc rounds */
        changed = false;
        st = ds_ad_sub_varied(body, V, tmp);
        for (int j = 0; j < nc && !st; j++)
            if (tmp[j] && !V[j] && ds_ad_float(n->in[j])) V[j] = 1, changed = true;
    }
    if (ou && U) {
        for (int j = 0; j < nc; j++) U[j] = ou[j] && V[j];
        for (bool changed = true; changed && !st;) {
            changed = false;
            st = ds_ad_sub_useful(body, V, U, tmp);
            for (int j = 0; j < nc && !st; j++)
                if (tmp[j] && V[j] && !U[j]) U[j] = 1, changed = true;
        }
    }
    ds_free(tmp);
    return st;
}

ds_status ds_ad_analyze(ds_ad_ctx *c, const unsigned char *pvaried) {
    seed_params(c->src, pvaried, c->varied);
    ds_status st = run_varied(c->src, c->varied);
    return st ? st : run_useful(c->src, c->varied, c->useful);
}

/* ---------------------------------------------------------------- forward re-emission */
static ds_status located(const ds_node *n, ds_status st) {
    char buf[256];
    if (st && n->loc.line > 0 && !strstr(ds_error_message(), ds_loc_str(&n->loc, buf, sizeof buf))) ds_error_prefix(buf);
    return st;
}

/* Emits node n into fg as it is (If / Call / While with their original subgraphs). */
ds_status ds_ad_emit_plain(ds_ad_ctx *c, const ds_node *n) {
    int ni = ds_ad_data_in(n), no = ds_ad_data_out(n), got = 0;
    ds_value *stack[64], **in = ni <= 64 ? stack : ds_malloc(sizeof(ds_value *) * (size_t)ni);
    ds_value *outs[DS_OP_MAX_OUT];
    ds_graph *fg = c->fg;
    if (!in) return DS_ERR_NOMEM;
    ds_status st = DS_OK;
    for (int k = 0; k < ni && !st; k++)
        if (!(in[k] = c->fmap[n->in[k]->id])) st = ds_errorf(DS_ERR_INTERNAL, "grad: node %d reads an unmapped value", n->id);
    if (st) goto done;
    switch (n->kind) {
    case DS_NODE_CONST: st = ds_graph_add_const(fg, n->constant, &outs[0]); break;
    case DS_NODE_OP:
        if (no > 0 && c->fmap[n->out[0]->id]) goto done; /* a replayed random draw */
        if (c->recompute && ds_op_get_info(n->op)->kind == DS_KIND_RANDOM) {
            st = ds_errorf(DS_ERR_UNSUPPORTED, "grad: %s draws random numbers in code the backward must recompute (control flow nested in "
                           "a While body, or a branch with too many values to save), and the draws cannot be replayed; "
                           "move it to the top level of the loop body or out of the loop", ds_op_get_info(n->op)->name);
            break;
        }
        st = ds_graph_add_op(fg, n->op, ni, in, n->attrs, DS_OP_MAX_OUT, outs, &got);
        break;
    case DS_NODE_PRINT:
        if (!c->recompute) st = ds_graph_add_print(fg, n->text, ni, in);
        break;
    case DS_NODE_ASSIGN:
        if (!c->recompute) st = ds_graph_add_assign(fg, in[0], in[1]);
        break;
    case DS_NODE_CALLBACK: {
        ds_dtype dt[DS_OP_MAX_OUT];
        int nds[DS_OP_MAX_OUT];
        const int64_t *dims[DS_OP_MAX_OUT];
        for (int k = 0; k < no; k++) {
            dt[k] = n->out[k]->type.dtype;
            nds[k] = n->out[k]->type.ndim;
            dims[k] = n->out[k]->type.shape;
        }
        st = ds_graph_add_callback(fg, n->text, n->fn, n->fn_ctx, ni, in, no, dt, nds, dims, outs);
        break;
    }
    case DS_NODE_IF: st = ds_graph_add_if(fg, in[0], n->sub[0], n->sub[1], ni - 1, in + 1, DS_OP_MAX_OUT, outs, &got); break;
    case DS_NODE_CALL: st = ds_graph_add_call(fg, n->sub[0], ni, in, DS_OP_MAX_OUT, outs, &got); break;
    case DS_NODE_WHILE: st = ds_graph_add_while(fg, n->sub[0], n->sub[1], ni, in, outs); break;
    default: st = ds_errorf(DS_ERR_INTERNAL, "grad: unknown node kind %d", (int)n->kind);
    }
    for (int k = 0; k < no && !st; k++) c->fmap[n->out[k]->id] = outs[k];
done:
    if (in != stack) ds_free(in);
    return located(n, st);
}

ds_status ds_ad_forward(ds_ad_ctx *c) {
    ds_status st = DS_OK;
    for (int i = 0; i < c->src->nodes.n && !st; i++) {
        const ds_node *n = c->src->nodes.items[i];
        ds_graph_set_loc(c->fg, n->loc.file, n->loc.line, n->loc.col);
        bool act = c->bg && ds_ad_active(c, n);
        switch (n->kind) {
        case DS_NODE_IF:
        case DS_NODE_CALL:
            st = act ? ds_ad_forward_branch(c, n) : c->recompute ? ds_ad_copy_structural(c, n) : ds_ad_emit_plain(c, n);
            break;
        case DS_NODE_WHILE:
            st = act ? ds_ad_forward_loop(c, n) : c->recompute ? ds_ad_copy_structural(c, n) : ds_ad_emit_plain(c, n);
            break;
        default: st = ds_ad_emit_plain(c, n);
        }
        st = located(n, st);
    }
    ds_graph_set_loc(c->fg, NULL, 0, 0);
    return st;
}

/* ---------------------------------------------------------------- backward */
ds_value *ds_ad_bval(ds_ad_ctx *c, ds_value *fv) {
    if (!fv) {
        ds_errorf(DS_ERR_INTERNAL, "grad: a forward value is missing");
        return NULL;
    }
    if (c->bg == c->fg) return fv;
    if (fv->id >= c->nbmap) {
        ds_errorf(DS_ERR_INTERNAL, "grad: a forward value was created after the backward started");
        return NULL;
    }
    if (c->bmap[fv->id]) return c->bmap[fv->id];
    ds_value *v = NULL;
    ds_status st;
    if (fv->producer && fv->producer->kind == DS_NODE_CONST) st = ds_graph_add_const(c->bg, fv->producer->constant, &v);
    else {
        char name[32];
        snprintf(name, sizeof name, "saved%d", c->res_f.n);
        st = ds_graph_add_param(c->bg, name, fv->type.dtype, fv->type.ndim, fv->type.shape, false, &v);
        if (!st) st = ds_ptrvec_push(&c->res_f, fv);
        if (!st && (st = ds_ptrvec_push(&c->res_b, v))) c->res_f.n--;
    }
    if (st) return NULL;
    c->bmap[fv->id] = v;
    return v;
}

ds_status ds_ad_zeros(ds_ad_ctx *c, ds_value *fv, ds_value **out) {
    const ds_meta *t = &fv->type;
    if (ds_meta_static(t)) {
        ds_attr at[3] = {{.kind = DS_ATTR_INTS, .n = t->ndim, .v.ints = t->shape},
                         {.kind = DS_ATTR_FLOAT, .v.f = 0.0},
                         {.kind = DS_ATTR_DTYPE, .v.dtype = t->dtype}};
        return ds_graph_add_op1(c->bg, DS_OP_FULL, 0, NULL, at, out);
    }
    ds_value *like = ds_ad_bval(c, fv);
    if (!like) return ds_error_status() ? ds_error_status() : DS_ERR_INTERNAL;
    return ds_graph_add_op1(c->bg, DS_OP_ZEROS_LIKE, 1, &like, NULL, out);
}

ds_status ds_ad_accumulate(ds_ad_ctx *c, const ds_value *v, ds_value *g) {
    if (!g) return DS_OK;
    ds_status st;
    if (g->type.dtype != v->type.dtype) {
        ds_attr at = {.kind = DS_ATTR_DTYPE, .v.dtype = v->type.dtype};
        if ((st = ds_graph_add_op1(c->bg, DS_OP_CAST, 1, &g, &at, &g))) return st;
    }
    ds_value **slot = &c->ct[v->id];
    if (!*slot) {
        *slot = g;
        return DS_OK;
    }
    ds_value *in[2] = {*slot, g};
    return ds_graph_add_op1(c->bg, DS_OP_ADD, 2, in, NULL, slot);
}

static ds_value *rule_fwd(void *pass, const ds_value *v) {
    ds_ad_ctx *c = pass;
    return ds_ad_bval(c, c->fmap[v->id]);
}

static ds_status backward_op(ds_ad_ctx *c, const ds_node *n, const bool *need, ds_value **gout, ds_value **gin,
                             ds_value **sofar, bool *replaced) {
    const ds_grad_entry *e = ds_grad_entry_get(n->op);
    const char *name = ds_op_get_info(n->op)->name;
    if (e->kind == DS_GRAD_ZERO) return DS_OK;
    if (e->kind != DS_GRAD_RULE)
        return ds_errorf(DS_ERR_UNSUPPORTED, "grad: %s is not differentiable (%s)", name,
                         e->why ? e->why : "no gradient rule is defined for it");
    int ni = ds_ad_data_in(n), no = ds_ad_data_out(n);
    for (int k = 0; k < ni; k++) {
        sofar[k] = c->ct[n->in[k]->id];
        replaced[k] = false;
    }
    ds_grad_call r = {c->bg, n, ni, no, gout, need, gin, sofar, replaced, DS_OK, rule_fwd, c};
    ds_status st = e->fn(&r);
    if (!st) st = r.st;
    if (st) {
        if (!strstr(ds_error_message(), "grad")) {
            char p[64];
            snprintf(p, sizeof p, "grad of %s", name);
            ds_error_prefix(p);
        }
        return st;
    }
    for (int k = 0; k < ni; k++) /* replacements first: they include only what was there before */
        if (need[k] && gin[k] && replaced[k]) c->ct[n->in[k]->id] = NULL;
    for (int k = 0; k < ni && !st; k++)
        if (need[k] && gin[k] && replaced[k]) st = ds_ad_accumulate(c, n->in[k], gin[k]);
    for (int k = 0; k < ni && !st; k++)
        if (need[k] && gin[k] && !replaced[k]) st = ds_ad_accumulate(c, n->in[k], gin[k]);
    return st;
}

ds_status ds_ad_backward(ds_ad_ctx *c) {
    if (c->fg != c->bg && !c->bmap) {
        c->nbmap = c->fg->n_values;
        if (!(c->bmap = ds_calloc(sizeof(ds_value *) * (size_t)(c->nbmap ? c->nbmap : 1)))) return DS_ERR_NOMEM;
    }
    ds_status st = DS_OK;
    for (int i = c->src->nodes.n - 1; i >= 0 && !st; i--) {
        const ds_node *n = c->src->nodes.items[i];
        int ni = ds_ad_data_in(n), no = ds_ad_data_out(n);
        bool has = false, any = false;
        for (int k = 0; k < no; k++) has |= c->ct[n->out[k]->id] && c->varied[n->out[k]->id];
        if (!has || !ds_ad_active(c, n)) continue;
        for (int k = n->kind == DS_NODE_IF; k < ni; k++) any |= c->varied[n->in[k]->id] != 0;
        if (!any) continue;
        ds_graph_set_loc(c->bg, n->loc.file, n->loc.line, n->loc.col);
        for (int k = 0; k < ni && c->assigned; k++)
            if (c->assigned[n->in[k]->id]) {
                st = ds_errorf(DS_ERR_UNSUPPORTED, "grad: parameter '%s' is assigned by the graph and also used by the "
                               "differentiated computation, whose backward would read its new value; compute the gradient "
                               "in a graph without the assignment", n->in[k]->name);
                break;
            }
        if (st) break;
        switch (n->kind) {
        case DS_NODE_OP: {
            bool stack_b[128], *need = ni <= 64 ? stack_b : ds_malloc(2 * sizeof(bool) * (size_t)ni);
            ds_value *stack_v[128], **gin = ni <= 64 ? stack_v : ds_malloc(2 * sizeof(ds_value *) * (size_t)ni), *gout[DS_OP_MAX_OUT];
            if (!need || !gin) st = DS_ERR_NOMEM;
            for (int k = 0; k < ni && !st; k++) {
                need[k] = c->varied[n->in[k]->id] && ds_ad_float(n->in[k]);
                gin[k] = NULL;
            }
            for (int k = 0; k < no; k++) gout[k] = c->varied[n->out[k]->id] ? c->ct[n->out[k]->id] : NULL;
            if (!st) st = backward_op(c, n, need, gout, gin, gin + ni, need + ni);
            if (need != stack_b) ds_free(need);
            if (gin != stack_v) ds_free(gin);
            break;
        }
        case DS_NODE_IF:
        case DS_NODE_CALL: st = ds_ad_backward_branch(c, n); break;
        case DS_NODE_WHILE: st = ds_ad_backward_loop(c, n); break;
        case DS_NODE_CALLBACK:
            if (c->custom) { /* the tape's custom nodes */
                st = c->custom(c, n);
                break;
            }
            st = ds_errorf(DS_ERR_UNSUPPORTED, "grad: the host callback '%s' is not differentiable; wrap its result in "
                           "stop_gradient if no gradient should flow through it", n->text);
            break;
        default: break;
        }
        st = located(n, st);
    }
    ds_graph_set_loc(c->bg, NULL, 0, 0);
    return st;
}

/* ---------------------------------------------------------------- ds_graph_grad */
static bool is_scalar(const ds_meta *m) {
    for (int d = 0; d < m->ndim; d++)
        if (m->shape[d] != 1) return false;
    return true;
}

static ds_status check_request(const ds_graph *g, int n_sel, const int *outputs, int n_wrt, const int *wrt, bool sens) {
    if (!g->closed) return ds_errorf(DS_ERR_VALUE, "grad: graph '%s' has no outputs set", g->name);
    if (n_sel < 0 || n_wrt < 0) return ds_errorf(DS_ERR_VALUE, "grad: negative counts of outputs or parameters");
    for (int i = 0; i < n_sel; i++) {
        if (outputs[i] < 0 || outputs[i] >= g->outputs.n)
            return ds_errorf(DS_ERR_INDEX, "grad: output %d is out of range (graph '%s' has %d outputs)", outputs[i], g->name,
                             g->outputs.n);
        const ds_value *v = g->outputs.items[outputs[i]];
        if (!ds_dtype_is_float(v->type.dtype))
            return ds_errorf(DS_ERR_DTYPE, "grad: output %d is %s; only float outputs can be differentiated", outputs[i],
                             ds_dtype_name(v->type.dtype));
        if (!sens && !is_scalar(&v->type)) {
            char s[DS_SHAPE_STR_MAX];
            return ds_errorf(DS_ERR_VALUE, "grad of a non-scalar output needs a sensitivity (sens_param): output %d has shape %s",
                             outputs[i], ds_shape_str(v->type.ndim, v->type.shape, s, sizeof s));
        }
    }
    for (int i = 0; i < n_wrt; i++) {
        if (wrt[i] < 0 || wrt[i] >= g->params.n)
            return ds_errorf(DS_ERR_INDEX, "grad: parameter %d is out of range (graph '%s' has %d parameters)", wrt[i], g->name,
                             g->params.n);
        const ds_value *p = g->params.items[wrt[i]];
        if (!ds_dtype_is_float(p->type.dtype))
            return ds_errorf(DS_ERR_DTYPE, "grad: parameter %d ('%s') is %s; only float parameters can be differentiated", wrt[i],
                             p->name, ds_dtype_name(p->type.dtype));
    }
    return DS_OK;
}

ds_status ds_graph_grad(const ds_graph *g, int n_sel, const int *outputs, int n_wrt, const int *wrt, bool sens_param,
                        ds_graph **out) {
    ds_status st = check_request(g, n_sel, outputs, n_wrt, wrt, sens_param);
    if (st) return st;
    ds_graph *G = NULL;
    ds_ad_ctx c;
    unsigned char *pv = NULL, *assigned = NULL;
    ds_value **res = NULL;
    char name[256];
    memset(&c, 0, sizeof c);
    snprintf(name, sizeof name, "%s_grad", g->name);
    DS_TRY(ds_graph_new(name, &G));
    DS_TRY(ds_ad_copy_symbols(G, g));
    DS_TRY(ds_ad_init(&c, g, G, G, false));
    pv = flags(g->params.n);
    assigned = flags(g->n_values);
    res = ds_malloc(sizeof(ds_value *) * (size_t)(g->outputs.n + n_wrt + 1));
    if (!pv || !assigned || !res) {
        st = DS_ERR_NOMEM;
        goto fail;
    }
    for (int i = 0; i < g->params.n; i++) {
        const ds_value *p = g->params.items[i];
        DS_TRY(ds_graph_add_param(G, p->name, p->type.dtype, p->type.ndim, p->type.shape, p->weight, &c.fmap[p->id]));
    }
    for (int i = 0; i < n_wrt; i++) pv[wrt[i]] = 1;
    for (int i = 0; i < g->nodes.n; i++) {
        const ds_node *n = g->nodes.items[i];
        if (n->kind == DS_NODE_ASSIGN) assigned[n->in[0]->id] = 1;
    }
    c.assigned = assigned;
    for (int i = 0; i < n_sel; i++) c.useful[((ds_value *)g->outputs.items[outputs[i]])->id] = 1;
    DS_TRY(ds_ad_analyze(&c, pv));
    DS_TRY(ds_ad_forward(&c));
    for (int i = 0; i < n_sel; i++) {
        ds_value *v = g->outputs.items[outputs[i]], *fv = c.fmap[v->id], *seed;
        if (sens_param) {
            char sn[32];
            snprintf(sn, sizeof sn, "sens%d", i);
            DS_TRY(ds_graph_add_param(G, sn, fv->type.dtype, fv->type.ndim, fv->type.shape, false, &seed));
        } else {
            ds_attr at[3] = {{.kind = DS_ATTR_INTS, .n = fv->type.ndim, .v.ints = fv->type.shape},
                             {.kind = DS_ATTR_FLOAT, .v.f = 1.0},
                             {.kind = DS_ATTR_DTYPE, .v.dtype = fv->type.dtype}};
            DS_TRY(ds_graph_add_op1(G, DS_OP_FULL, 0, NULL, at, &seed));
        }
        DS_TRY(ds_ad_accumulate(&c, v, seed));
    }
    DS_TRY(ds_ad_backward(&c));
    int nres = 0;
    for (int i = 0; i < g->outputs.n; i++) res[nres++] = c.fmap[((ds_value *)g->outputs.items[i])->id];
    for (int i = 0; i < n_wrt; i++) {
        ds_value *p = g->params.items[wrt[i]], *gr = c.ct[p->id];
        if (!gr) DS_TRY(ds_ad_zeros(&c, c.fmap[p->id], &gr));
        res[nres++] = gr;
    }
    DS_TRY(ds_graph_set_outputs(G, nres, res));
#ifndef NDEBUG
    DS_TRY(ds_graph_verify(G)); /* the tests verify every result; debug builds check here too */
#endif
    *out = G;
    G = NULL;
fail:
    ds_ad_deinit(&c);
    ds_free(pv);
    ds_free(assigned);
    ds_free(res);
    ds_graph_release(G);
    return st;
}
