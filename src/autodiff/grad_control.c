/* The reverse pass through control flow.
 *
 * If and Call. Each branch (the callee) is differentiated into a pair of graphs: an augmented forward
 * that returns the branch's outputs followed by the values its backward needs ("residuals"), and a
 * backward graph taking (output cotangents, residuals) and returning the cotangents of the arguments.
 * The forward If returns both branches' residuals: a branch returns zero placeholders (broadcast views,
 * no memory) for the other branch's, so both have the same outputs; the backward is an If on the same
 * condition over the two backward graphs. Effects stay in the forward branch and run once. When the
 * residuals would exceed the 64 values a node may return, the backward graphs instead recompute the
 * branch from its arguments (prints and assigns dropped, random draws refused).
 *
 * While. Loop-carried values are saved per iteration and the body is recomputed in the backward:
 * - The forward loop is augmented with a trip counter and, per carried value the body changes, a
 *   tensor list to which each iteration appends the value it starts from (tensor_list_push appends
 *   in place, amortized O(1)). Random draws at the body's top level are appended to lists too.
 *   Values the body passes through unchanged are not saved; carried values that are themselves
 *   append-only lists (a loop of a gradient graph) are rebuilt by dropping rows (tensor_list_drop).
 * - The backward loop runs k = n-1 .. 0: it reads the state of iteration k from the lists, re-runs the
 *   body forward on it (prints and assigns dropped, random draws replayed from their lists) and applies
 *   the body's backward to the carried cotangents. The result equals the gradient of the unrolled loop.
 *   Cost: one extra forward of the body per iteration; memory: the carried values of every iteration.
 * - Random ops inside control flow nested in the body cannot be replayed: the pass refuses them. */
#include <stdio.h>
#include <string.h>

#include "autodiff/pass.h"
#include "base/alloc.h"
#include "base/status.h"

#define MAXV DS_OP_MAX_OUT

static ds_status new_graph(const char *base, const char *suffix, const ds_graph *syms, ds_graph **out) {
    char name[256];
    snprintf(name, sizeof name, "%s_%s", base, suffix);
    ds_status st = ds_graph_new(name, out);
    if (!st && (st = ds_ad_copy_symbols(*out, syms))) {
        ds_graph_release(*out);
        *out = NULL;
    }
    return st;
}

static ds_status param_like(ds_graph *g, const char *name, const ds_meta *t, bool weight, ds_value **out) {
    return ds_graph_add_param(g, name, t->dtype, t->ndim, t->shape, weight, out);
}

/* Parameters of g mirroring those of s; map[s param id] gets them. */
static ds_status mirror_params(ds_graph *g, const ds_graph *s, ds_value **map) {
    for (int i = 0; i < s->params.n; i++) {
        const ds_value *p = s->params.items[i];
        ds_status st = param_like(g, p->name, &p->type, p->weight, &map[p->id]);
        if (st) return st;
    }
    return DS_OK;
}

static ds_value *op1(ds_graph *g, ds_op_id op, int n, ds_value *const *in, const ds_attr *attrs, ds_status *st) {
    ds_value *v = NULL;
    if (!*st) *st = ds_graph_add_op1(g, op, n, in, attrs, &v);
    return *st ? NULL : v;
}

/* ---------------------------------------------------------------- forward-only copies */
/* A copy of s with prints and assigns dropped (recompute mode); the caller releases it. */
static ds_status copy_graph(ds_ad_ctx *c, const ds_graph *s, ds_graph **out) {
    ds_graph *F = NULL;
    ds_ad_ctx sf;
    memset(&sf, 0, sizeof sf);
    ds_status st;
    DS_TRY(new_graph(s->name, "copy", s, &F));
    DS_TRY(ds_ad_init(&sf, s, F, NULL, true));
    DS_TRY(mirror_params(F, s, sf.fmap));
    DS_TRY(ds_ad_forward(&sf));
    ds_value *outs[MAXV];
    for (int k = 0; k < s->outputs.n; k++) outs[k] = sf.fmap[((ds_value *)s->outputs.items[k])->id];
    DS_TRY(ds_graph_set_outputs(F, s->outputs.n, outs));
    *out = F;
    F = NULL;
fail:
    ds_ad_deinit(&sf);
    ds_graph_release(F);
    return st;
}

ds_status ds_ad_copy_structural(ds_ad_ctx *c, const ds_node *n) {
    ds_graph *subs[2] = {NULL, NULL};
    ds_value *in[MAXV + 1], *outs[MAXV];
    int ni = ds_ad_data_in(n), no = ds_ad_data_out(n), got = 0;
    ds_status st = DS_OK;
    if (ni > MAXV + 1) return ds_errorf(DS_ERR_UNSUPPORTED, "grad: a call with more than %d arguments inside a recomputed loop body", MAXV);
    for (int k = 0; k < ni; k++) in[k] = c->fmap[n->in[k]->id];
    for (int b = 0; b < n->n_sub && !st; b++) st = copy_graph(c, n->sub[b], &subs[b]);
    if (!st) {
        if (n->kind == DS_NODE_IF) st = ds_graph_add_if(c->fg, in[0], subs[0], subs[1], ni - 1, in + 1, MAXV, outs, &got);
        else if (n->kind == DS_NODE_CALL) st = ds_graph_add_call(c->fg, subs[0], ni, in, MAXV, outs, &got);
        else st = ds_graph_add_while(c->fg, subs[0], subs[1], ni, in, outs);
    }
    for (int k = 0; k < no && !st; k++) c->fmap[n->out[k]->id] = outs[k];
    ds_graph_release(subs[0]);
    ds_graph_release(subs[1]);
    return st;
}

/* ---------------------------------------------------------------- If and Call */
typedef struct branch_info {
    int n_br;
    ds_graph *bwd[2];
    int n_sel, sel[MAXV];   /* outputs with a cotangent parameter */
    int n_need, need[MAXV]; /* arguments (If: after the condition) with a cotangent result */
    int n_res;
    ds_value *res[MAXV];    /* fg values the backward takes after the cotangents */
} branch_info;

/* One branch differentiated with residuals: forward F, backward Bw and their context. */
typedef struct branch_build {
    ds_ad_ctx sc;
    ds_graph *F, *Bw;
    ds_value *grads[MAXV];
} branch_build;

static void branch_build_free(branch_build *bb) {
    ds_ad_deinit(&bb->sc);
    ds_graph_release(bb->F);
    ds_graph_release(bb->Bw);
    memset(bb, 0, sizeof *bb);
}

/* Differentiates branch S of node n in context sc whose fg and bg are set up, parameters mapped and
 * cotangent parameters ctp[] made; fills grads. */
static ds_status diff_branch(ds_ad_ctx *c, const ds_node *n, const branch_info *bi, ds_ad_ctx *sc, ds_value **ctp,
                             ds_value **grads) {
    const ds_graph *S = sc->src;
    int off = n->kind == DS_NODE_IF;
    unsigned char pv[MAXV + 1];
    for (int i = 0; i < S->params.n; i++) pv[i] = c->varied[n->in[off + i]->id];
    for (int k = 0; k < bi->n_sel; k++) sc->useful[((ds_value *)S->outputs.items[bi->sel[k]])->id] = 1;
    ds_status st;
    DS_TRY(ds_ad_analyze(sc, pv));
    DS_TRY(ds_ad_forward(sc));
    for (int k = 0; k < bi->n_sel; k++) DS_TRY(ds_ad_accumulate(sc, S->outputs.items[bi->sel[k]], ctp[k]));
    DS_TRY(ds_ad_backward(sc));
    for (int j = 0; j < bi->n_need; j++) {
        ds_value *p = S->params.items[bi->need[j]];
        grads[j] = sc->ct[p->id];
        if (!grads[j]) DS_TRY(ds_ad_zeros(sc, sc->fmap[p->id], &grads[j]));
    }
fail:
    return st;
}

static ds_status cot_params(ds_graph *Bw, const ds_graph *S, const branch_info *bi, ds_value **ctp) {
    for (int k = 0; k < bi->n_sel; k++) {
        char name[32];
        snprintf(name, sizeof name, "ct%d", bi->sel[k]);
        ds_status st = param_like(Bw, name, &((ds_value *)S->outputs.items[bi->sel[k]])->type, false, &ctp[k]);
        if (st) return st;
    }
    return DS_OK;
}

/* Residual mode for branch b; `other` (may be NULL) is the first branch's build, whose residuals this
 * branch's backward takes as unused parameters placed before its own. */
static ds_status build_residual(ds_ad_ctx *c, const ds_node *n, const branch_info *bi, int b, branch_build *other,
                                branch_build *bb) {
    const ds_graph *S = n->sub[b];
    ds_value *ctp[MAXV], *dummy;
    ds_status st;
    DS_TRY(new_graph(S->name, "fwd", S, &bb->F));
    DS_TRY(new_graph(S->name, "bwd", S, &bb->Bw));
    DS_TRY(ds_ad_init(&bb->sc, S, bb->F, bb->Bw, c->recompute));
    DS_TRY(mirror_params(bb->F, S, bb->sc.fmap));
    DS_TRY(cot_params(bb->Bw, S, bi, ctp));
    for (int i = 0; other && i < other->sc.res_f.n; i++)
        DS_TRY(param_like(bb->Bw, "other", &((ds_value *)other->sc.res_f.items[i])->type, false, &dummy));
    DS_TRY(diff_branch(c, n, bi, &bb->sc, ctp, bb->grads));
fail:
    return st;
}

/* A zero of type t in g without memory: a scalar broadcast (unknown dims become 0). */
static ds_value *placeholder(ds_graph *g, const ds_meta *t, ds_status *st) {
    int64_t shape[DS_MAX_DIMS];
    for (int d = 0; d < t->ndim; d++) shape[d] = t->shape[d] >= 0 ? t->shape[d] : 0;
    ds_attr at[3] = {{.kind = DS_ATTR_INTS, .n = 0, .v.ints = shape},
                     {.kind = DS_ATTR_FLOAT, .v.f = 0.0},
                     {.kind = DS_ATTR_DTYPE, .v.dtype = t->dtype}};
    ds_value *z = op1(g, DS_OP_FULL, 0, NULL, at, st);
    if (t->ndim == 0 || !z) return z;
    ds_attr bt = {.kind = DS_ATTR_INTS, .n = t->ndim, .v.ints = shape};
    return op1(g, DS_OP_BROADCAST_TO, 1, &z, &bt, st);
}

/* The augmented forward graphs' outputs: branch outputs, then the residuals of both branches. */
static ds_status finish_forward(branch_build *bb, int nb, int b, const ds_graph *S) {
    ds_value *outs[3 * MAXV];
    int k = 0;
    ds_status st = DS_OK;
    for (int i = 0; i < S->outputs.n; i++) outs[k++] = bb[b].sc.fmap[((ds_value *)S->outputs.items[i])->id];
    for (int o = 0; o < nb; o++)
        for (int i = 0; i < bb[o].sc.res_f.n && !st; i++) {
            ds_value *r = bb[o].sc.res_f.items[i];
            outs[k++] = o == b ? r : placeholder(bb[b].F, &r->type, &st);
        }
    return st ? st : ds_graph_set_outputs(bb[b].F, k, outs);
}

/* Rematerializing backward graphs: Bw(cotangents, args) recomputes the branch itself. */
static ds_status build_remat(ds_ad_ctx *c, const ds_node *n, branch_info *bi) {
    int off = n->kind == DS_NODE_IF, na = ds_ad_data_in(n) - off;
    ds_status st = DS_OK;
    for (int b = 0; b < bi->n_br && !st; b++) {
        const ds_graph *S = n->sub[b];
        ds_graph *Bw = NULL;
        ds_ad_ctx sc;
        ds_value *ctp[MAXV], *grads[MAXV];
        memset(&sc, 0, sizeof sc);
        DS_TRY(new_graph(S->name, "bwd", S, &Bw));
        DS_TRY(ds_ad_init(&sc, S, Bw, Bw, true));
        DS_TRY(cot_params(Bw, S, bi, ctp));
        DS_TRY(mirror_params(Bw, S, sc.fmap));
        DS_TRY(diff_branch(c, n, bi, &sc, ctp, grads));
        DS_TRY(ds_graph_set_outputs(Bw, bi->n_need, grads));
        bi->bwd[b] = Bw;
        st = ds_ad_hold(c, Bw);
        Bw = NULL;
    fail:
        ds_ad_deinit(&sc);
        ds_graph_release(Bw);
    }
    bi->n_res = na;
    for (int i = 0; i < na; i++) bi->res[i] = c->fmap[n->in[off + i]->id];
    return st;
}

ds_status ds_ad_forward_branch(ds_ad_ctx *c, const ds_node *n) {
    int off = n->kind == DS_NODE_IF, ni = ds_ad_data_in(n), na = ni - off, no = ds_ad_data_out(n), got = 0;
    if (na > MAXV) return ds_errorf(DS_ERR_UNSUPPORTED, "grad: a call with more than %d arguments", MAXV);
    branch_info *bi = ds_arena_alloc(&c->arena, sizeof *bi);
    if (!bi) return DS_ERR_NOMEM;
    bi->n_br = n->kind == DS_NODE_IF ? 2 : 1;
    for (int k = 0; k < no; k++)
        if (c->useful[n->out[k]->id] && c->varied[n->out[k]->id]) bi->sel[bi->n_sel++] = k;
    for (int i = 0; i < na; i++)
        if (c->varied[n->in[off + i]->id] && c->useful[n->in[off + i]->id]) bi->need[bi->n_need++] = i;
    branch_build bb[2];
    memset(bb, 0, sizeof bb);
    ds_value *in[MAXV + 1], *outs[3 * MAXV];
    for (int k = 0; k < ni; k++) in[k] = c->fmap[n->in[k]->id];
    ds_status st = DS_OK;
    for (int b = 0; b < bi->n_br && !st; b++) st = build_residual(c, n, bi, b, b == 1 ? &bb[0] : NULL, &bb[b]);
    if (st) goto fail;
    int nres = bb[0].sc.res_f.n + bb[1].sc.res_f.n;
    if (no + nres > MAXV || bi->n_sel + nres > MAXV) { /* too many residuals: recompute instead */
        branch_build_free(&bb[0]);
        branch_build_free(&bb[1]);
        c->info[n->id] = bi;
        DS_TRY(build_remat(c, n, bi));
        return c->recompute ? ds_ad_copy_structural(c, n) : ds_ad_emit_plain(c, n);
    }
    if (bi->n_br == 2) /* then's backward takes else's residuals too, after its own */
        for (int i = 0; i < bb[1].sc.res_f.n; i++) {
            ds_value *dummy;
            DS_TRY(param_like(bb[0].Bw, "other", &((ds_value *)bb[1].sc.res_f.items[i])->type, false, &dummy));
        }
    for (int b = 0; b < bi->n_br; b++) {
        DS_TRY(ds_graph_set_outputs(bb[b].Bw, bi->n_need, bb[b].grads));
        DS_TRY(finish_forward(bb, bi->n_br, b, n->sub[b]));
    }
    if (n->kind == DS_NODE_IF) st = ds_graph_add_if(c->fg, in[0], bb[0].F, bb[1].F, na, in + 1, MAXV, outs, &got);
    else st = ds_graph_add_call(c->fg, bb[0].F, na, in, MAXV, outs, &got);
    if (st) goto fail;
    for (int k = 0; k < no; k++) c->fmap[n->out[k]->id] = outs[k];
    bi->n_res = nres;
    for (int i = 0; i < nres; i++) bi->res[i] = outs[no + i];
    for (int b = 0; b < bi->n_br; b++) {
        bi->bwd[b] = bb[b].Bw;
        bb[b].Bw = NULL;
        DS_TRY(ds_ad_hold(c, bi->bwd[b]));
    }
    c->info[n->id] = bi;
fail:
    branch_build_free(&bb[0]);
    branch_build_free(&bb[1]);
    return st;
}

ds_status ds_ad_backward_branch(ds_ad_ctx *c, const ds_node *n) {
    branch_info *bi = c->info[n->id];
    if (!bi) return ds_errorf(DS_ERR_INTERNAL, "grad: a branch node has no forward bookkeeping");
    int off = n->kind == DS_NODE_IF, na = bi->n_sel + bi->n_res, got = 0;
    if (na > MAXV)
        return ds_errorf(DS_ERR_UNSUPPORTED, "grad: the backward of this %s needs %d values (at most %d)",
                         off ? "If" : "Call", na, MAXV);
    ds_value *args[MAXV], *outs[MAXV];
    ds_status st = DS_OK;
    for (int k = 0; k < bi->n_sel && !st; k++) {
        const ds_value *o = n->out[bi->sel[k]];
        args[k] = c->ct[o->id];
        if (!args[k]) st = ds_ad_zeros(c, c->fmap[o->id], &args[k]);
    }
    for (int i = 0; i < bi->n_res && !st; i++)
        if (!(args[bi->n_sel + i] = ds_ad_bval(c, bi->res[i]))) st = ds_error_status() ? ds_error_status() : DS_ERR_INTERNAL;
    if (st) return st;
    if (off) {
        ds_value *cond = ds_ad_bval(c, c->fmap[n->in[0]->id]);
        if (!cond) return DS_ERR_NOMEM;
        st = ds_graph_add_if(c->bg, cond, bi->bwd[0], bi->bwd[1], na, args, MAXV, outs, &got);
    } else st = ds_graph_add_call(c->bg, bi->bwd[0], na, args, MAXV, outs, &got);
    for (int j = 0; j < bi->n_need && !st; j++) st = ds_ad_accumulate(c, n->in[off + bi->need[j]], outs[j]);
    return st;
}
