/* Compiling a graph into a plan variant for concrete input types:
 *  1. classify every node in program order with concrete shapes (ds_ir_infer): op kernel, fusable
 *     elementwise op, view (a precomputed header, or a copy when a reshape has no view), eager op
 *     (data-dependent shapes), control flow (static through compiled subplan variants, or dynamic),
 *     effect;
 *  2. partition the fusable ops into groups (plan_fuse.c); values used only inside a group live in
 *     tile scratch;
 *  3. emit steps in program order, a group at its last member;
 *  4. liveness, the groups' tiled programs (with in-place outputs), arena offsets (plan_memory.c);
 *  5. one allocation for arena and tile scratch, header addresses, output binding, statistics. */
#include <stdint.h>
#include <string.h>

#include "base/alloc.h"
#include "base/status.h"
#include "base/threadpool.h"
#include "exec/plan.h"

typedef enum node_class { NC_NONE, NC_KERNEL, NC_ELEM, NC_COPYVIEW, NC_EAGER, NC_CTRL, NC_EFFECT } node_class;

typedef struct node_info {
    node_class cls;
    bool dynamic;          /* control flow / callback whose outputs are DYN */
    int copy_src, copy_dst; /* COPYVIEW: the reshape copies src into slot copy_dst */
    plan_variant *sub[2];  /* static control flow: retained, handed to the step */
    ds_plan *subplan[2];
} node_info;

typedef struct build {
    ds_plan *p;
    plan_variant *v;
    const ds_graph *g;
    node_info *ni;
    int *group, *segment;
    int n_groups;
} build;

/* A stand-in data address for computing view offsets before the arena exists. */
#define FAKE_BASE ((char *)(uintptr_t)((uint64_t)1 << 44))

static int data_in(const ds_node *n) { return n->n_in - (n->effect ? 1 : 0); }
static int data_out(const ds_node *n) { return n->n_out - (n->effect ? 1 : 0); }

static void meta_unknown(ds_meta *m) {
    for (int d = 0; d < m->ndim; d++)
        if (m->shape[d] < 0) m->shape[d] = DS_DIM_UNKNOWN;
}

static bool meta_concrete(const ds_meta *m) {
    for (int d = 0; d < m->ndim; d++)
        if (m->shape[d] < 0) return false;
    return true;
}

static void header_init(plan_variant *v, int id, const ds_meta *m, const int64_t *strides) {
    ds_tensor *t = &v->hdr[id];
    memset(t, 0, sizeof *t);
    t->refcount = 1;
    t->dtype = m->dtype;
    t->ndim = m->ndim;
    if (m->ndim) memcpy(t->shape, m->shape, sizeof(int64_t) * (size_t)m->ndim);
    if (strides && m->ndim) memcpy(t->strides, strides, sizeof(int64_t) * (size_t)m->ndim);
    else ds_shape_contiguous_strides(m->ndim, m->shape, t->strides);
    t->storage = &v->storage;
    ds_tensor_update_layout(t);
    v->env[id] = t;
}

static void slot_init(plan_variant *v, int id, slot_kind kind, const ds_meta *m) {
    plan_slot *s = &v->slots[id];
    memset(s, 0, sizeof *s);
    s->kind = kind;
    s->root = s->buf = id;
    s->def = s->last = DS_PLAN_LAST_NONE;
    s->meta = *m;
    if (kind == SLOT_DYN || kind == SLOT_NONE) {
        v->env[id] = NULL;
        return;
    }
    header_init(v, id, m, NULL);
    if (kind == SLOT_ARENA) s->nbytes = v->hdr[id].numel * (int64_t)ds_dtype_size(m->dtype);
}

int plan_new_slot(plan_variant *v, const ds_meta *m) {
    if (v->n_slots >= v->cap_slots) return -1;
    int id = v->n_slots++;
    slot_init(v, id, SLOT_ARENA, m);
    return id;
}

/* ---------------------------------------------------------------- 1. classifying nodes */
static ds_status classify_view(build *b, const ds_node *n, const ds_meta *om) {
    plan_variant *v = b->v;
    const op_entry *e = ds_op_entry_get(n->op);
    int src = n->in[0]->id, dst = n->out[0]->id;
    const plan_slot *ss = &v->slots[src];
    ds_tensor fake = v->hdr[src], *fp = &fake, *res = NULL;
    fake.refcount = 1;
    fake.storage = NULL;
    fake.data = FAKE_BASE;
    int64_t strides[DS_MAX_DIMS];
    /* reshapes (and any view op not known to be metadata-only) of a layout that has no such view copy */
    bool meta_only = n->op == DS_OP_TRANSPOSE || n->op == DS_OP_BROADCAST_TO || n->op == DS_OP_SQUEEZE ||
                     n->op == DS_OP_UNSQUEEZE || n->op == DS_OP_SLICE;
    if (!meta_only && !fake.contiguous && ds_shape_numel(om->ndim, om->shape) == fake.numel &&
        !ds_tensor_reshape_strides(&fake, om->ndim, om->shape, strides)) {
        int c = plan_new_slot(v, &ss->meta); /* no view exists: copy, then view the copy */
        if (c < 0) return ds_errorf(DS_ERR_INTERNAL, "plan: out of slots");
        b->ni[n->id] = (node_info){.cls = NC_COPYVIEW, .copy_src = src, .copy_dst = c};
        slot_init(v, dst, SLOT_VIEW, om);
        v->slots[dst].root = c;
        v->n_views++;
        return DS_OK;
    }
    /* other inputs (reshape_like, broadcast_like) give shapes only */
    int nin = data_in(n);
    ds_tensor *ins[8] = {fp};
    if (nin > 8) return ds_errorf(DS_ERR_UNSUPPORTED, "plan: view op %s with %d inputs", e->info.name, nin);
    for (int k = 1; k < nin; k++) ins[k] = v->env[n->in[k]->id];
    ds_op_call call = {n->op, &e->info, nin, ins, n->attrs, 1, &res};
    ds_status st = e->impl.run(&call);
    if (st) {
        ds_error_prefix(e->info.name);
        plan_error_loc(n);
        return st;
    }
    ds_meta m;
    ds_meta_of(res, &m);
    slot_init(v, dst, SLOT_VIEW, &m);
    header_init(v, dst, &m, res->strides);
    plan_slot *ds = &v->slots[dst];
    ds->root = ss->root;
    ds->off = (ss->kind == SLOT_VIEW ? ss->off : 0) + (int64_t)((uintptr_t)res->data - (uintptr_t)FAKE_BASE);
    ds_tensor_release(res);
    b->ni[n->id].cls = NC_NONE;
    v->n_views++;
    return DS_OK;
}

static ds_status classify_op(build *b, const ds_node *n) {
    plan_variant *v = b->v;
    const op_entry *e = ds_op_entry_get(n->op);
    int nin = data_in(n), nout = data_out(n), no = 0;
    bool dyn = false;
    ds_meta stack[16], *metas = nin <= 16 ? stack : ds_malloc(sizeof(ds_meta) * (size_t)nin), om[DS_OP_MAX_OUT];
    if (!metas) return DS_ERR_NOMEM;
    for (int k = 0; k < nin; k++) {
        const plan_slot *s = &v->slots[n->in[k]->id];
        dyn |= s->kind == SLOT_DYN;
        metas[k] = s->meta;
    }
    ds_status st = ds_ir_infer(n->op, nin, metas, n->attrs, om, &no);
    if (metas != stack) ds_free(metas);
    if (st == DS_ERR_NOMEM) return st;
    if (st) {
        if (!dyn) {
            ds_error_prefix(e->info.name);
            plan_error_loc(n);
            return st;
        }
        ds_error_clear(); /* the eager run will report it with the real shapes */
        no = nout;
        for (int k = 0; k < nout; k++) {
            om[k] = n->out[k]->type;
            meta_unknown(&om[k]);
        }
    }
    if (no != nout) return ds_errorf(DS_ERR_INTERNAL, "plan: %s infers %d outputs, the node has %d", e->info.name, no, nout);
    bool concrete = true;
    for (int k = 0; k < nout; k++) concrete &= meta_concrete(&om[k]);
    bool view = e->info.kind == DS_KIND_VIEW;
    if (!concrete || (dyn && view) || ((e->impl.flags & DS_IMPL_ALLOCATES) && !view) || !e->impl.run) {
        b->ni[n->id].cls = NC_EAGER;
        for (int k = 0; k < nout; k++) slot_init(v, n->out[k]->id, SLOT_DYN, &om[k]);
        v->n_dynamic++;
        return DS_OK;
    }
    if (view) return classify_view(b, n, &om[0]);
    for (int k = 0; k < nout; k++) slot_init(v, n->out[k]->id, SLOT_ARENA, &om[k]);
    b->ni[n->id].cls = plan_fusable(v, n) ? NC_ELEM : NC_KERNEL;
    return DS_OK;
}

/* If/While/Call: static when every input is static and the subgraphs compile for the arguments'
 * types with static outputs of agreeing types; otherwise dynamic (the subplans run through their
 * general path at run time, as the interpreter would, reporting errors only when reached). */
static ds_status classify_ctrl(build *b, const ds_node *n) {
    plan_variant *v = b->v;
    node_info *ni = &b->ni[n->id];
    int nin = data_in(n), nout = data_out(n), first = n->kind == DS_NODE_IF ? 1 : 0, nargs = nin - first;
    ni->cls = NC_CTRL;
    bool ok = true;
    ds_status st = DS_OK;
    for (int k = 0; k < nin; k++) ok &= v->slots[n->in[k]->id].kind != SLOT_DYN;
    for (int k = 0; k < n->n_sub; k++)
        if ((st = plan_sub(b->p, n, k, &ni->subplan[k]))) return st;
    ds_meta stack[16], *args = nargs <= 16 ? stack : ds_malloc(sizeof(ds_meta) * (size_t)nargs), om[DS_OP_MAX_OUT];
    if (!args) return DS_ERR_NOMEM;
    for (int k = 0; k < nargs; k++) args[k] = v->slots[n->in[first + k]->id].meta;
    for (int k = 0; ok && k < n->n_sub; k++) {
        plan_variant *sv;
        st = plan_variant_get(ni->subplan[k], nargs, args, &sv);
        if (st == DS_ERR_NOMEM) goto done;
        if (st) {
            ds_error_clear();
            st = DS_OK;
            ok = false;
            break;
        }
        sv->refcount++;
        ni->sub[k] = sv;
    }
    if (ok) {
        const plan_variant *s0 = ni->sub[0], *s1 = ni->sub[1];
        const plan_variant *body = n->kind == DS_NODE_WHILE ? s1 : s0;
        for (int i = 0; ok && i < nout; i++) {
            const plan_slot *o = &body->slots[body->out_ids[i]];
            om[i] = o->meta;
            ok = o->kind != SLOT_DYN;
            if (ok && n->kind == DS_NODE_IF) {
                const plan_slot *o1 = &s1->slots[s1->out_ids[i]];
                ok = o1->kind != SLOT_DYN && ds_meta_equal(&o->meta, &o1->meta);
            }
            if (ok && n->kind == DS_NODE_WHILE) ok = ds_meta_equal(&o->meta, &args[i]);
        }
        if (ok && n->kind == DS_NODE_WHILE) ok = s0->n_outputs == 1 && s0->slots[s0->out_ids[0]].kind != SLOT_DYN;
    }
    if (!ok) {
        for (int k = 0; k < 2; k++) {
            plan_variant_release(ni->sub[k]);
            ni->sub[k] = NULL;
        }
        ni->dynamic = true;
        v->n_dynamic++;
    }
    for (int i = 0; i < nout; i++) {
        if (!ok) {
            om[i] = n->out[i]->type;
            meta_unknown(&om[i]);
        }
        slot_init(v, n->out[i]->id, ok ? SLOT_ARENA : SLOT_DYN, &om[i]);
    }
done:
    if (args != stack) ds_free(args);
    return st;
}

static ds_status classify_node(build *b, const ds_node *n) {
    plan_variant *v = b->v;
    node_info *ni = &b->ni[n->id];
    switch (n->kind) {
    case DS_NODE_CONST: {
        ds_tensor *c = n->constant;
        if (!c->contiguous) {
            ds_tensor *cc;
            ds_status st = ds_tensor_contiguous(c, &cc);
            if (st) return st;
            if ((st = ds_ptrvec_push(&v->owned, cc))) {
                ds_tensor_release(cc);
                return st;
            }
            c = cc;
        }
        ds_meta m;
        ds_meta_of(c, &m);
        int id = n->out[0]->id;
        slot_init(v, id, SLOT_CONST, &m);
        v->hdr[id].data = c->data;
        v->hdr[id].storage = c->storage;
        ni->cls = NC_NONE;
        return DS_OK;
    }
    case DS_NODE_OP: return classify_op(b, n);
    case DS_NODE_IF:
    case DS_NODE_WHILE:
    case DS_NODE_CALL: return classify_ctrl(b, n);
    case DS_NODE_PRINT:
    case DS_NODE_ASSIGN: ni->cls = NC_EFFECT; return DS_OK;
    case DS_NODE_CALLBACK: {
        ni->cls = NC_EFFECT;
        int nout = data_out(n);
        for (int k = 0; k < nout; k++) ni->dynamic |= !meta_concrete(&n->out[k]->type);
        for (int k = 0; k < nout; k++) {
            ds_meta m = n->out[k]->type;
            meta_unknown(&m);
            slot_init(v, n->out[k]->id, ni->dynamic ? SLOT_DYN : SLOT_ARENA, &m);
        }
        return DS_OK;
    }
    default: return ds_errorf(DS_ERR_INTERNAL, "plan: unknown node kind %d", (int)n->kind);
    }
}

/* ---------------------------------------------------------------- 3. emitting steps */
static plan_step *step_add(plan_variant *v, step_kind kind, const ds_node *n, int n_in, int n_ids_out) {
    if (v->n_steps >= v->cap_steps) {
        ds_errorf(DS_ERR_INTERNAL, "plan: out of steps");
        return NULL;
    }
    plan_step *s = &v->steps[v->n_steps];
    memset(s, 0, sizeof *s);
    s->kind = kind;
    s->node = n;
    s->n_in = n_in;
    s->n_out = n_ids_out;
    s->in_ids = ds_arena_alloc(&v->mem, sizeof(int) * (size_t)(n_in + 1));
    s->out_ids = ds_arena_alloc(&v->mem, sizeof(int) * (size_t)(n_ids_out + 1));
    s->in = ds_arena_alloc(&v->mem, sizeof(ds_tensor *) * (size_t)(n_in + 1));
    s->out = ds_arena_alloc(&v->mem, sizeof(ds_tensor *) * (size_t)(n_ids_out + 1));
    if (!s->in_ids || !s->out_ids || !s->in || !s->out) return NULL;
    v->n_steps++;
    return s;
}

static ds_status emit_copy(plan_variant *v, const ds_node *n, int src, int dst) {
    plan_step *s = step_add(v, STEP_COPY, n, 1, 1);
    if (!s) return ds_error_status();
    s->in_ids[0] = src;
    s->out_ids[0] = dst;
    return DS_OK;
}

static bool contains(const int *a, int n, int x) {
    for (int i = 0; i < n; i++)
        if (a[i] == x) return true;
    return false;
}

static ds_status emit_group(build *b, int gid, const int *members, int nm) {
    plan_variant *v = b->v;
    int nin = 0, nout = 0, cap = 0;
    for (int j = 0; j < nm; j++) cap += ((const ds_node *)b->g->nodes.items[members[j]])->n_in;
    int *ins = ds_arena_alloc(&v->mem, sizeof(int) * (size_t)(cap + 1)), *outs = ds_arena_alloc(&v->mem, sizeof(int) * (size_t)(nm + 1));
    int *mem = ds_arena_dup(&v->mem, members, sizeof(int) * (size_t)nm);
    if (!ins || !outs || !mem) return DS_ERR_NOMEM;
    for (int j = 0; j < nm; j++) {
        const ds_node *n = b->g->nodes.items[members[j]];
        for (int k = 0; k < n->n_in; k++) {
            const ds_node *p = n->in[k]->producer;
            if (p && b->group[p->id] == gid) continue;
            if (!contains(ins, nin, n->in[k]->id)) ins[nin++] = n->in[k]->id;
        }
        if (v->slots[n->out[0]->id].kind == SLOT_ARENA) outs[nout++] = n->out[0]->id;
    }
    plan_step *s = step_add(v, STEP_FUSED, b->g->nodes.items[members[nm - 1]], nin, nout);
    if (!s) return ds_error_status();
    memcpy(s->in_ids, ins, sizeof(int) * (size_t)nin);
    memcpy(s->out_ids, outs, sizeof(int) * (size_t)nout);
    s->n_members = nm;
    s->members = mem;
    v->n_groups++;
    if (nm > 1) {
        v->n_fused_groups++;
        v->n_fused_ops += nm;
    }
    return DS_OK;
}

static ds_status emit_node(build *b, const ds_node *n) {
    plan_variant *v = b->v;
    node_info *ni = &b->ni[n->id];
    int nin = data_in(n), nout = data_out(n);
    static const step_kind k_ctrl[] = {[DS_NODE_IF] = STEP_IF, [DS_NODE_WHILE] = STEP_WHILE, [DS_NODE_CALL] = STEP_CALL,
                                       [DS_NODE_PRINT] = STEP_PRINT, [DS_NODE_ASSIGN] = STEP_ASSIGN, [DS_NODE_CALLBACK] = STEP_CALLBACK};
    plan_step *s;
    ds_status st;
    switch (ni->cls) {
    case NC_COPYVIEW: return emit_copy(v, n, ni->copy_src, ni->copy_dst);
    case NC_KERNEL:
    case NC_EAGER: {
        if (!(s = step_add(v, ni->cls == NC_KERNEL ? STEP_KERNEL : STEP_EAGER, n, nin, nout))) return ds_error_status();
        for (int k = 0; k < nin; k++) s->in_ids[k] = n->in[k]->id;
        for (int k = 0; k < nout; k++) s->out_ids[k] = n->out[k]->id;
        const op_entry *e = ds_op_entry_get(n->op);
        s->run = e->impl.run;
        s->call = (ds_op_call){n->op, &e->info, nin, s->in, n->attrs, nout, s->out};
        return DS_OK;
    }
    case NC_CTRL:
    case NC_EFFECT: {
        bool loop = n->kind == DS_NODE_WHILE && !ni->dynamic;
        int first = n->kind == DS_NODE_IF ? 1 : 0;
        int ids[1 + DS_OP_MAX_OUT], *in_ids = nin <= 1 + DS_OP_MAX_OUT ? ids : ds_malloc(sizeof(int) * (size_t)nin);
        if (!in_ids) return DS_ERR_NOMEM;
        for (int k = 0; k < nin; k++) {
            in_ids[k] = n->in[k]->id;
            /* static subplans take contiguous arguments */
            if (ni->cls == NC_CTRL && !ni->dynamic && !loop && k >= first && !v->hdr[in_ids[k]].contiguous) {
                int c = plan_new_slot(v, &v->slots[in_ids[k]].meta);
                if (c < 0 || (st = emit_copy(v, n, in_ids[k], c))) {
                    if (in_ids != ids) ds_free(in_ids);
                    return c < 0 ? ds_errorf(DS_ERR_INTERNAL, "plan: out of slots") : st;
                }
                in_ids[k] = c;
            }
        }
        s = step_add(v, k_ctrl[n->kind], n, nin, loop ? 2 * nout + 1 : nout);
        if (s) memcpy(s->in_ids, in_ids, sizeof(int) * (size_t)nin);
        if (in_ids != ids) ds_free(in_ids);
        if (!s) return ds_error_status();
        s->n_out = nout;
        s->dynamic = ni->dynamic;
        for (int k = 0; k < nout; k++) s->out_ids[k] = n->out[k]->id;
        for (int k = 0; k < 2; k++) {
            s->sub[k] = ni->sub[k];
            ni->sub[k] = NULL;
            s->subplan[k] = ni->subplan[k];
        }
        if (loop) { /* the second set of loop-carried buffers, and the condition's result */
            if (!(s->wb = ds_arena_alloc(&v->mem, sizeof(ds_tensor *) * (size_t)(nout + 1)))) return DS_ERR_NOMEM;
            for (int k = 0; k <= nout; k++) {
                const plan_variant *cv = s->sub[0];
                const ds_meta *m = k < nout ? &v->slots[n->out[k]->id].meta : &cv->slots[cv->out_ids[0]].meta;
                int c = plan_new_slot(v, m);
                if (c < 0) return ds_errorf(DS_ERR_INTERNAL, "plan: out of slots");
                s->out_ids[nout + k] = c;
            }
        }
        return DS_OK;
    }
    default: return DS_OK; /* constants and views: no run-time work */
    }
}

static ds_status emit_steps(build *b) {
    const ds_graph *g = b->g;
    int n = g->nodes.n, ng = b->n_groups;
    /* members of each group in program order: start[gid] .. start[gid + 1] in members[] */
    int *start = ds_calloc(sizeof(int) * (size_t)(ng + 2)), *members = ds_malloc(sizeof(int) * (size_t)(n + 1));
    ds_status st = DS_OK;
    if (!start || !members) {
        st = DS_ERR_NOMEM;
        goto done;
    }
    for (int i = 0; i < n; i++)
        if (b->group[i] >= 0) start[b->group[i] + 2]++;
    for (int k = 2; k < ng + 2; k++) start[k] += start[k - 1];
    for (int i = 0; i < n; i++)
        if (b->group[i] >= 0) members[start[b->group[i] + 1]++] = i;
    for (int i = 0; i < n && !st; i++) {
        int gid = b->group[i];
        if (gid < 0) st = emit_node(b, g->nodes.items[i]);
        else if (members[start[gid + 1] - 1] == i) /* a group runs at its last member */
            st = emit_group(b, gid, members + start[gid], start[gid + 1] - start[gid]);
    }
done:
    ds_free(start);
    ds_free(members);
    return st;
}

/* ---------------------------------------------------------------- 5. addresses and outputs */
/* Outputs whose buffer can be the caller's tensor: a root in the arena, or a dense view of all of one.
 * A root sharing its buffer with no other slot then needs no arena memory at all. */
static void bind_outputs(plan_variant *v) {
    for (int i = 0; i < v->n_params; i++) v->slots[v->param_ids[i]].movable = true;
    for (int i = 0; i < v->n_outputs; i++) {
        int id = v->out_ids[i], r = -1;
        const plan_slot *s = &v->slots[id];
        if (s->kind == SLOT_ARENA) r = id;
        else if (s->kind == SLOT_VIEW && v->slots[s->root].kind == SLOT_ARENA && s->off == 0 && v->hdr[id].contiguous &&
                 v->hdr[id].numel * (int64_t)ds_dtype_size(s->meta.dtype) == v->slots[s->root].nbytes)
            r = s->root;
        v->out_bind[i] = -1;
        if (r < 0 || contains(v->out_bind, i, r)) continue;
        v->out_bind[i] = r;
        v->slots[r].movable = true;
        bool alone = plan_buf_find(v, r) == r;
        for (int k = 0; alone && k < v->n_slots; k++) alone = k == r || v->slots[k].kind != SLOT_ARENA || plan_buf_find(v, k) != r;
        v->slots[r].outside = alone;
    }
}

static ds_status finish(build *b) {
    plan_variant *v = b->v;
    size_t total = (size_t)v->arena_bytes + (size_t)v->scratch_bytes;
    if (!(v->data = ds_malloc(total ? total : 64))) return DS_ERR_NOMEM;
    v->storage.refcount = 1;
    v->storage.data = v->data;
    v->storage.nbytes = total;
    v->scratch = v->data + v->arena_bytes;
    for (int id = 0; id < v->n_slots; id++)
        if (v->slots[id].kind == SLOT_ARENA && !v->slots[id].outside) v->hdr[id].data = v->data + v->slots[plan_buf_find(v, id)].off;
    int nr = 0, nd = 0;
    for (int id = 0; id < v->n_slots; id++) {
        plan_slot *s = &v->slots[id];
        if (s->kind == SLOT_VIEW) {
            const ds_tensor *root = &v->hdr[s->root];
            v->hdr[id].storage = root->storage;
            v->hdr[id].data = root->data ? root->data + s->off : NULL;
            if (v->slots[s->root].movable) nr++;
        }
        if (s->kind == SLOT_DYN && !s->movable) nd++;
    }
    v->rebind = ds_arena_alloc(&v->mem, sizeof(int) * (size_t)(nr + 1));
    v->dyn_ids = ds_arena_alloc(&v->mem, sizeof(int) * (size_t)(nd + 1));
    if (!v->rebind || !v->dyn_ids) return DS_ERR_NOMEM;
    for (int id = 0; id < v->n_slots; id++) {
        const plan_slot *s = &v->slots[id];
        if (s->kind == SLOT_VIEW && v->slots[s->root].movable) v->rebind[v->n_rebind++] = id;
        if (s->kind == SLOT_DYN && !s->movable) v->dyn_ids[v->n_dyn++] = id; /* not the parameters */
    }
    for (int i = 0; i < v->n_steps; i++) {
        plan_step *s = &v->steps[i];
        for (int k = 0; k < s->n_in; k++) {
            s->in[k] = v->env[s->in_ids[k]];
            s->gather |= v->slots[s->in_ids[k]].kind == SLOT_DYN;
        }
        for (int k = 0; k < s->n_out; k++) s->out[k] = v->env[s->out_ids[k]];
        if (s->wb)
            for (int k = 0; k <= s->n_out; k++) s->wb[k] = v->env[s->out_ids[s->n_out + k]];
        if (s->kind == STEP_KERNEL || s->kind == STEP_FUSED || s->kind == STEP_COPY || s->kind == STEP_EAGER) v->n_kernels++;
    }
    return DS_OK;
}

/* ---------------------------------------------------------------- the driver */
ds_status plan_compile(ds_plan *p, const ds_meta *in, plan_variant **out) {
    const ds_graph *g = p->g;
    int nn = g->nodes.n, nv = g->n_values, np = g->params.n, no = g->outputs.n;
    ds_status st = DS_OK;
    build b = {p, NULL, g, NULL, NULL, NULL, 0};
    plan_variant *v = ds_calloc(sizeof(plan_variant));
    if (!v) return DS_ERR_NOMEM;
    b.v = v;
    v->refcount = 1;
    ds_arena_init(&v->mem);
    v->g = g;
    v->depth = p->depth;
    int extra = 1, cap_steps = 1, nkey = 0;
    for (int i = 0; i < nn; i++) { /* extra slots: reshape copies, subplan argument copies, loop buffers */
        const ds_node *n = g->nodes.items[i];
        bool ctrl = n->kind == DS_NODE_IF || n->kind == DS_NODE_WHILE || n->kind == DS_NODE_CALL;
        if (n->kind == DS_NODE_OP && ds_op_get_info(n->op)->kind == DS_KIND_VIEW) extra++;
        if (ctrl) extra += n->n_in + n->n_out + 1;
        cap_steps += 1 + (ctrl ? n->n_in : 0);
    }
    for (int i = 0; i < np; i++) nkey += 2 + in[i].ndim;
    v->cap_slots = nv + extra;
    v->cap_steps = cap_steps;
    v->n_slots = nv;
    v->n_params = np;
    v->n_outputs = no;
    v->n_key = nkey;
    v->slots = ds_arena_alloc(&v->mem, sizeof(plan_slot) * (size_t)v->cap_slots);
    v->hdr = ds_arena_alloc(&v->mem, sizeof(ds_tensor) * (size_t)v->cap_slots);
    v->env = ds_arena_alloc(&v->mem, sizeof(ds_tensor *) * (size_t)v->cap_slots);
    v->steps = ds_arena_alloc(&v->mem, sizeof(plan_step) * (size_t)cap_steps);
    v->key = ds_arena_alloc(&v->mem, sizeof(int64_t) * (size_t)(nkey + 1));
    v->param_ids = ds_arena_alloc(&v->mem, sizeof(int) * (size_t)(np + 1));
    v->tmp_in = ds_arena_alloc(&v->mem, sizeof(ds_tensor *) * (size_t)(np + 1));
    v->tmp_out = ds_arena_alloc(&v->mem, sizeof(ds_tensor *) * (size_t)(no + 1));
    v->out_ids = ds_arena_alloc(&v->mem, sizeof(int) * (size_t)(no + 1));
    v->out_bind = ds_arena_alloc(&v->mem, sizeof(int) * (size_t)(no + 1));
    v->bound = ds_arena_alloc(&v->mem, sizeof(bool) * (size_t)(no + 1));
    v->dst = ds_arena_alloc(&v->mem, sizeof(ds_tensor *) * (size_t)(no + 1));
    v->owned_out = ds_arena_alloc(&v->mem, sizeof(bool) * (size_t)(no + 1));
    b.ni = ds_arena_alloc(&v->mem, sizeof(node_info) * (size_t)(nn + 1));
    b.group = ds_arena_alloc(&v->mem, sizeof(int) * (size_t)(nn + 1));
    b.segment = ds_arena_alloc(&v->mem, sizeof(int) * (size_t)(nn + 1));
    bool *fusable = ds_arena_alloc(&v->mem, sizeof(bool) * (size_t)(nn + 1));
    if (!v->slots || !v->hdr || !v->env || !v->steps || !v->key || !v->param_ids || !v->tmp_in || !v->tmp_out || !v->out_ids ||
        !v->out_bind || !v->bound || !v->dst || !v->owned_out || !b.ni || !b.group || !b.segment || !fusable) {
        st = DS_ERR_NOMEM;
        goto fail;
    }
    ds_meta none = {DS_BOOL, 0, {0}};
    for (int id = 0; id < nv; id++) slot_init(v, id, SLOT_NONE, &none);
    for (int i = 0, k = 0; i < np; i++) {
        const ds_value *pv = g->params.items[i];
        ds_meta m = in[i];
        if (p->dyn_param[i]) /* its open dims are not specialised: any size matches */
            for (int d = 0; d < m.ndim; d++)
                if (pv->type.shape[d] < 0) m.shape[d] = DS_DIM_UNKNOWN;
        v->key[k++] = m.dtype;
        v->key[k++] = m.ndim;
        for (int d = 0; d < m.ndim; d++) v->key[k++] = m.shape[d];
        v->param_ids[i] = pv->id;
        slot_init(v, pv->id, p->dyn_param[i] ? SLOT_DYN : SLOT_PARAM, &m);
        v->hdr[pv->id].storage = NULL;
    }
    /* 1. classify */
    for (int i = 0, seg = 0; i < nn; i++) {
        const ds_node *n = g->nodes.items[i];
        b.segment[i] = seg;
        if (n->effect) seg++; /* effects are barriers: nothing is fused or reordered across them */
        DS_TRY(classify_node(&b, n));
        fusable[i] = b.ni[i].cls == NC_ELEM;
    }
    /* 2. fuse; a member's output used only inside its group lives in tile scratch */
    b.n_groups = plan_fuse_partition(g, fusable, b.segment, v, b.group);
    if (b.n_groups < 0) {
        st = DS_ERR_NOMEM;
        goto fail;
    }
    for (int i = 0; i < nn; i++) {
        const ds_node *n = g->nodes.items[i];
        /* a compiled view reads only its first input's memory; the others give shapes */
        int nread = b.ni[i].cls == NC_NONE && n->kind == DS_NODE_OP ? 1 : n->n_in;
        for (int k = 0; k < nread; k++) {
            const ds_node *pn = n->in[k]->producer;
            if (pn && b.group[pn->id] >= 0 && b.group[pn->id] != b.group[i]) v->slots[n->in[k]->id].external = true;
        }
    }
    for (int i = 0; i < no; i++) {
        v->out_ids[i] = ((ds_value *)g->outputs.items[i])->id;
        v->slots[v->out_ids[i]].external = true;
    }
    for (int i = 0; i < nn; i++) {
        const ds_node *n = g->nodes.items[i];
        if (b.group[i] < 0 || v->slots[n->out[0]->id].external) continue;
        v->slots[n->out[0]->id].kind = SLOT_FUSED;
        v->slots[n->out[0]->id].nbytes = 0;
        v->env[n->out[0]->id] = NULL;
    }
    /* 3. steps; 4. liveness, group programs, memory */
    DS_TRY(emit_steps(&b));
    plan_liveness(v);
    v->scratch_tasks = ds_get_num_threads();
    for (int i = 0; i < v->n_steps; i++)
        if (v->steps[i].kind == STEP_FUSED) DS_TRY(plan_group_build(v, i));
    bind_outputs(v);
    DS_TRY(plan_memory_assign(v));
    v->scratch_bytes = v->scratch_per_task * v->scratch_tasks;
    /* 5. addresses */
    DS_TRY(finish(&b));
    *out = v;
    return DS_OK;
fail:
    if (b.ni)
        for (int i = 0; i < nn; i++)
            for (int k = 0; k < 2; k++) plan_variant_release(b.ni[i].sub[k]);
    plan_variant_release(v);
    return st;
}
