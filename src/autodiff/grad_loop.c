/* The reverse pass through While (the strategy is described at the top of grad_control.c).
 *
 * Forward, for an active loop over carried values v (n of them):
 *   While cond'(v, cnt, lists..., draws...) body'(v, cnt, lists..., draws...)
 *   body': lists_j += v_j (for each carried value the body changes, the value an iteration starts
 *          from); v = body(v); draws_r += the r-th random draw; cnt += 1
 * Backward:
 *   While k >= 0: state_j = v_j unchanged ? v_j(init) : lists_j[k]   (append-only lists: rows dropped)
 *                 recompute body(state) with draws_r[k] replayed; ct = body's backward(ct); k -= 1
 *   starting from k = cnt - 1 and ct = the cotangents of the loop's outputs; the final ct are the
 *   cotangents of the initial values. */
#include <stdio.h>
#include <string.h>

#include "autodiff/pass.h"
#include "base/alloc.h"
#include "base/status.h"

#define MAXV DS_OP_MAX_OUT

enum { K_LIST, K_INV, K_APPEND }; /* how a carried value's per-iteration state is recovered */

typedef struct loop_info {
    int n;
    unsigned char V[MAXV], need[MAXV], kind[MAXV];
    int n_rand;
    const ds_node *rnodes[MAXV];
    ds_value *cnt;          /* fg: trip count */
    ds_value *slist[MAXV];  /* fg: K_LIST values' lists */
    ds_value *rlist[MAXV];  /* fg: lists of the random draws */
    ds_value *outs[MAXV];   /* fg: the loop's outputs */
} loop_info;

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

static ds_value *op1(ds_graph *g, ds_op_id op, int n, ds_value *const *in, const ds_attr *attrs, ds_status *st) {
    ds_value *v = NULL;
    if (!*st) *st = ds_graph_add_op1(g, op, n, in, attrs, &v);
    return *st ? NULL : v;
}

static ds_value *bin(ds_graph *g, ds_op_id op, ds_value *a, ds_value *b, ds_status *st) {
    ds_value *in[2] = {a, b};
    return op1(g, op, 2, in, NULL, st);
}

static ds_value *iconst(ds_graph *g, int64_t v, ds_status *st) {
    ds_tensor *t = NULL;
    ds_value *res = NULL;
    if (!*st) *st = ds_tensor_scalar_int(DS_INT64, v, &t);
    if (!*st) *st = ds_graph_add_const(g, t, &res);
    ds_tensor_release(t);
    return *st ? NULL : res;
}

static ds_value *param(ds_graph *g, const char *name, const ds_meta *t, bool weight, ds_status *st) {
    ds_value *v = NULL;
    if (!*st) *st = ds_graph_add_param(g, name, t->dtype, t->ndim, t->shape, weight, &v);
    return *st ? NULL : v;
}

static ds_value *list_new(ds_graph *g, const ds_meta *row, ds_status *st) {
    ds_attr at[2] = {{.kind = DS_ATTR_DTYPE, .v.dtype = row->dtype}, {.kind = DS_ATTR_INTS, .n = row->ndim, .v.ints = row->shape}};
    return op1(g, DS_OP_TENSOR_LIST_NEW, 0, NULL, at, st);
}

/* v with exactly the type of `like`. */
static ds_value *exact_type(ds_graph *g, ds_value *v, ds_value *like, ds_status *st) {
    if (*st) return NULL;
    if (v->type.dtype != like->type.dtype) {
        ds_attr at = {.kind = DS_ATTR_DTYPE, .v.dtype = like->type.dtype};
        v = op1(g, DS_OP_CAST, 1, &v, &at, st);
    }
    if (v && !ds_meta_equal(&v->type, &like->type)) v = bin(g, DS_OP_RESHAPE_LIKE, v, like, st);
    return v;
}

/* ---------------------------------------------------------------- forward */
/* Emits the augmented forward loop and records what the backward needs. */
ds_status ds_ad_forward_loop(ds_ad_ctx *c, const ds_node *n) {
    const ds_graph *C = n->sub[0], *B = n->sub[1];
    int nc = ds_ad_data_in(n);
    loop_info *li = ds_arena_alloc(&c->arena, sizeof *li);
    if (!li) return DS_ERR_NOMEM;
    li->n = nc;
    unsigned char iv[MAXV], ou[MAXV], U[MAXV];
    for (int j = 0; j < nc; j++) {
        iv[j] = c->varied[n->in[j]->id];
        ou[j] = c->useful[n->out[j]->id] && c->varied[n->out[j]->id];
    }
    ds_status st = ds_ad_loop_flags(n, iv, ou, li->V, U);
    if (st) return st;
    int nl = 0;
    for (int j = 0; j < nc; j++) {
        const ds_value *bo = B->outputs.items[j], *bp = B->params.items[j];
        li->need[j] = li->V[j] && U[j];
        li->kind[j] = bo == bp ? K_INV
                      : bo->producer && bo->producer->kind == DS_NODE_OP && bo->producer->op == DS_OP_TENSOR_LIST_PUSH &&
                              bo->producer->in[0] == bp
                          ? K_APPEND
                          : K_LIST;
        nl += li->kind[j] == K_LIST;
    }
    for (int i = 0; i < B->nodes.n; i++) {
        const ds_node *m = B->nodes.items[i];
        if (m->kind == DS_NODE_OP && ds_op_get_info(m->op)->kind == DS_KIND_RANDOM) {
            if (li->n_rand == MAXV) return ds_errorf(DS_ERR_UNSUPPORTED, "grad: a While body with more than %d random ops", MAXV);
            li->rnodes[li->n_rand++] = m;
        }
    }
    int total = nc + 1 + nl + li->n_rand;
    if (total > MAXV)
        return ds_errorf(DS_ERR_UNSUPPORTED, "grad: differentiating this While needs %d loop-carried values (at most %d)", total, MAXV);
    ds_value *init[MAXV], *cp[MAXV], *bp[MAXV], *bout[MAXV], *outs[MAXV];
    ds_graph *Cf = NULL, *Bf = NULL;
    ds_ad_ctx sf, sb;
    memset(&sf, 0, sizeof sf);
    memset(&sb, 0, sizeof sb);
    /* initial values: v, cnt = 0, empty lists */
    int k = 0;
    for (int j = 0; j < nc; j++) init[k++] = c->fmap[n->in[j]->id];
    init[k++] = iconst(c->fg, 0, &st);
    for (int j = 0; j < nc; j++)
        if (li->kind[j] == K_LIST) init[k++] = list_new(c->fg, &c->fmap[n->in[j]->id]->type, &st);
    for (int r = 0; r < li->n_rand; r++) init[k++] = list_new(c->fg, &li->rnodes[r]->out[0]->type, &st);
    if (st) goto fail;
    /* the two graphs take the same parameters */
    DS_TRY(new_graph(C->name, "fwd", c->fg, &Cf));
    DS_TRY(new_graph(B->name, "fwd", c->fg, &Bf));
    DS_TRY(ds_ad_init(&sf, C, Cf, NULL, c->recompute));
    DS_TRY(ds_ad_init(&sb, B, Bf, NULL, c->recompute));
    for (int i = 0; i < total; i++) {
        const ds_value *cpar = i < nc ? C->params.items[i] : NULL, *bpar = i < nc ? B->params.items[i] : NULL;
        const char *cn = cpar ? cpar->name : i == nc ? "count" : "list";
        cp[i] = param(Cf, cn, cpar ? &cpar->type : &init[i]->type, cpar && cpar->weight, &st);
        bp[i] = param(Bf, cn, bpar ? &bpar->type : &init[i]->type, bpar && bpar->weight, &st);
        if (st) goto fail;
        if (cpar) sf.fmap[cpar->id] = cp[i];
        if (bpar) sb.fmap[bpar->id] = bp[i];
    }
    DS_TRY(ds_ad_forward(&sf));
    DS_TRY(ds_graph_set_outputs(Cf, 1, &sf.fmap[((ds_value *)C->outputs.items[0])->id]));
    /* body': save the state it starts from, run the body, save the draws, count */
    k = nc + 1;
    for (int j = 0; j < nc; j++)
        if (li->kind[j] == K_LIST) {
            bout[k] = bin(Bf, DS_OP_TENSOR_LIST_PUSH, bp[k], bp[j], &st);
            k++;
        }
    if (st) goto fail;
    DS_TRY(ds_ad_forward(&sb));
    for (int j = 0; j < nc; j++) bout[j] = sb.fmap[((ds_value *)B->outputs.items[j])->id];
    for (int r = 0; r < li->n_rand; r++, k++) bout[k] = bin(Bf, DS_OP_TENSOR_LIST_PUSH, bp[k], sb.fmap[li->rnodes[r]->out[0]->id], &st);
    bout[nc] = bin(Bf, DS_OP_ADD, bp[nc], iconst(Bf, 1, &st), &st);
    if (st) goto fail;
    DS_TRY(ds_graph_set_outputs(Bf, total, bout));
    DS_TRY(ds_graph_add_while(c->fg, Cf, Bf, total, init, outs));
    for (int j = 0; j < nc; j++) c->fmap[n->out[j]->id] = li->outs[j] = outs[j];
    li->cnt = outs[nc];
    k = nc + 1;
    for (int j = 0; j < nc; j++)
        if (li->kind[j] == K_LIST) li->slist[j] = outs[k++];
    for (int r = 0; r < li->n_rand; r++) li->rlist[r] = outs[k++];
    c->info[n->id] = li;
fail:
    ds_ad_deinit(&sf);
    ds_ad_deinit(&sb);
    ds_graph_release(Cf);
    ds_graph_release(Bf);
    return st;
}

/* ---------------------------------------------------------------- backward */
/* Layout of the backward loop's carried values. */
typedef struct bl_layout {
    int total, i_ct[MAXV], i_st[MAXV], i_rand[MAXV];
} bl_layout;

ds_status ds_ad_backward_loop(ds_ad_ctx *c, const ds_node *n) {
    loop_info *li = c->info[n->id];
    if (!li) return ds_errorf(DS_ERR_INTERNAL, "grad: a While node has no forward bookkeeping");
    const ds_graph *B = n->sub[1];
    int nc = li->n;
    bl_layout L;
    memset(&L, 0, sizeof L);
    L.total = 2; /* k, cnt */
    for (int j = 0; j < nc; j++)
        if (li->need[j]) L.i_ct[j] = L.total++;
    for (int j = 0; j < nc; j++) L.i_st[j] = L.total++;
    for (int r = 0; r < li->n_rand; r++) L.i_rand[r] = L.total++;
    if (L.total > MAXV)
        return ds_errorf(DS_ERR_UNSUPPORTED, "grad: the backward of this While needs %d loop-carried values (at most %d)", L.total, MAXV);
    ds_value *init[MAXV], *cp[MAXV], *bp[MAXV], *bout[MAXV], *outs[MAXV], *state[MAXV];
    ds_graph *Cb = NULL, *Bb = NULL;
    ds_ad_ctx sc;
    memset(&sc, 0, sizeof sc);
    ds_status st = DS_OK;
    ds_value *cnt = ds_ad_bval(c, li->cnt);
    if (!cnt) return ds_error_status();
    init[0] = bin(c->bg, DS_OP_SUB, cnt, iconst(c->bg, 1, &st), &st);
    init[1] = cnt;
    for (int j = 0; j < nc && !st; j++) {
        if (li->need[j]) {
            ds_value *g = c->ct[n->out[j]->id], *like = ds_ad_bval(c, li->outs[j]);
            if (!like) return ds_error_status();
            if (!g) st = ds_ad_zeros(c, li->outs[j], &g);
            init[L.i_ct[j]] = exact_type(c->bg, g, like, &st);
        }
        ds_value *sv = li->kind[j] == K_LIST ? li->slist[j] : li->kind[j] == K_INV ? c->fmap[n->in[j]->id] : li->outs[j];
        if (!st && !(init[L.i_st[j]] = ds_ad_bval(c, sv))) st = ds_error_status();
    }
    for (int r = 0; r < li->n_rand && !st; r++)
        if (!(init[L.i_rand[r]] = ds_ad_bval(c, li->rlist[r]))) st = ds_error_status();
    if (st) goto fail;
    DS_TRY(new_graph(B->name, "bwd_cond", c->bg, &Cb));
    DS_TRY(new_graph(B->name, "bwd", c->bg, &Bb));
    for (int i = 0; i < L.total; i++) {
        cp[i] = param(Cb, i == 0 ? "k" : "v", &init[i]->type, false, &st);
        bp[i] = param(Bb, i == 0 ? "k" : "v", &init[i]->type, false, &st);
    }
    if (st) goto fail;
    ds_value *ge = bin(Cb, DS_OP_GREATER_EQUAL, cp[0], iconst(Cb, 0, &st), &st);
    if (st) goto fail;
    DS_TRY(ds_graph_set_outputs(Cb, 1, &ge));
    /* the state iteration k started from, and its draws */
    ds_value *k = bp[0];
    DS_TRY(ds_ad_init(&sc, B, Bb, Bb, true));
    for (int j = 0; j < nc; j++) {
        ds_value *s = bp[L.i_st[j]];
        if (li->kind[j] == K_LIST) state[j] = bin(Bb, DS_OP_INDEX, s, k, &st);
        else if (li->kind[j] == K_APPEND) state[j] = bin(Bb, DS_OP_TENSOR_LIST_DROP, s, bin(Bb, DS_OP_SUB, bp[1], k, &st), &st);
        else state[j] = s;
        if (st) goto fail;
        sc.fmap[((ds_value *)B->params.items[j])->id] = state[j];
    }
    for (int r = 0; r < li->n_rand; r++) {
        sc.fmap[li->rnodes[r]->out[0]->id] = bin(Bb, DS_OP_INDEX, bp[L.i_rand[r]], k, &st);
        if (st) goto fail;
    }
    /* recompute the body and run its backward on the carried cotangents */
    for (int j = 0; j < nc; j++)
        if (li->need[j]) sc.useful[((ds_value *)B->outputs.items[j])->id] = 1;
    DS_TRY(ds_ad_analyze(&sc, li->V));
    DS_TRY(ds_ad_forward(&sc));
    for (int j = 0; j < nc; j++)
        if (li->need[j]) DS_TRY(ds_ad_accumulate(&sc, B->outputs.items[j], bp[L.i_ct[j]]));
    DS_TRY(ds_ad_backward(&sc));
    bout[0] = bin(Bb, DS_OP_SUB, k, iconst(Bb, 1, &st), &st);
    for (int i = 1; i < L.total; i++) bout[i] = bp[i];
    for (int j = 0; j < nc && !st; j++)
        if (li->need[j]) {
            ds_value *g = sc.ct[((ds_value *)B->params.items[j])->id];
            if (!g) st = ds_ad_zeros(&sc, state[j], &g);
            bout[L.i_ct[j]] = exact_type(Bb, g, bp[L.i_ct[j]], &st);
        }
    if (st) goto fail;
    DS_TRY(ds_graph_set_outputs(Bb, L.total, bout));
    DS_TRY(ds_graph_add_while(c->bg, Cb, Bb, L.total, init, outs));
    for (int j = 0; j < nc; j++)
        if (li->need[j] && c->varied[n->in[j]->id]) DS_TRY(ds_ad_accumulate(c, n->in[j], outs[L.i_ct[j]]));
fail:
    ds_ad_deinit(&sc);
    ds_graph_release(Cb);
    ds_graph_release(Bb);
    return st;
}
