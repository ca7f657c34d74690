/* Fused elementwise groups: partitioning, lowering to a tiled program of kernel loops, and running it.
 *
 * A group is a set of elementwise ops (unary, binary, where, cast, clip) with the same output shape,
 * in one effect segment. Ops join the group of one of their producers while no op outside the group
 * has read any of its values yet; a group then runs at its last member without reordering anything
 * else, so the unit graph stays acyclic. Inputs from outside may broadcast.
 *
 * A group runs over tiles of its flat output range (a few thousand elements). For each tile every
 * member op calls the same per-dtype loop eager mode uses (kernels/elementwise.h), with the same dtype
 * conversions, so results are bit-identical; values used only inside the group live in per-thread
 * tile scratch, and only the group's real outputs are written to memory. Tiles are split across the
 * thread pool. An output may take over the buffer of an input read for the last time (in place). */
#include <string.h>

#include "base/alloc.h"
#include "base/status.h"
#include "base/threadpool.h"
#include "exec/plan.h"
#include "ops/ew_rules.h"

#define FZ_MAX_MEMBERS 28
#define FZ_MAX_EXT 32
#define FZ_MAX_SLOTS 64 /* >= FZ_MAX_EXT gathered inputs + FZ_MAX_MEMBERS live values + 3 temporaries */
#define FZ_TILE_MAX 8192
#define FZ_TILE_MIN 512
#define FZ_TILE_BYTES (48 * 1024) /* tile working set per thread: about an L1 data cache */
#define FZ_PARALLEL_WORK 65536     /* elements x cost below which a group runs on one thread */

enum { FZ_SCR, FZ_EXT, FZ_OUT };
enum { EXT_LINEAR, EXT_GATHER };

typedef struct fz_arg {
    int8_t kind;   /* FZ_SCR, FZ_EXT, FZ_OUT */
    int8_t scalar; /* step 0 */
    int16_t idx;
    int32_t isz;
} fz_arg;

typedef struct fz_instr {
    ds_loop_fn fn;
    void *ctx;
    int nargs;
    bool one; /* computes a single (broadcast scalar) element */
    fz_arg a[4]; /* inputs, then the output */
} fz_instr;

typedef struct fz_ext {
    const ds_tensor *t; /* header: its data is read each run (params and bound outputs move) */
    int mode;
    int64_t step; /* LINEAR: bytes between elements (0: a broadcast scalar) */
    int isz, slot;
    int nd;       /* GATHER: the group's dims (coalesced) and the operand's byte strides over them */
    int64_t shape[DS_MAX_DIMS], bst[DS_MAX_DIMS];
} fz_ext;

struct plan_group {
    int64_t numel, tile, ntiles, slot_bytes;
    int n_ins, n_ext, n_out, n_scr, ntasks;
    fz_instr *ins;
    fz_ext *ext;
    ds_tensor **out;
    int *out_isz;
    ds_clip_bounds *clip; /* per member */
};

/* ---------------------------------------------------------------- lowering one op to loops */
enum { R_IN = 0, R_TMP = 3, R_OUT = 6 };

typedef struct micro {
    ds_loop_fn fn;
    int nargs;
    int8_t arg[4];
    bool clip;
} micro;

typedef struct lowered {
    int n, ntmp;
    micro m[4];
    ds_dtype tmp_dt[3];
    int8_t tmp_src[3];
    int64_t cost;
} lowered;

static void add_micro(lowered *L, ds_loop_fn fn, int nargs, int a0, int a1, int a2, int a3) {
    L->m[L->n++] = (micro){fn, nargs, {(int8_t)a0, (int8_t)a1, (int8_t)a2, (int8_t)a3}, false};
}

/* A conversion of operand `src` into a new temporary; its ref, or -1 if no kernel exists. */
static int add_cast(lowered *L, int src, ds_dtype from, ds_dtype to) {
    ds_loop_fn fn = ds_kernel_cast(from, to);
    if (!fn) return -1;
    int t = L->ntmp++;
    L->tmp_dt[t] = to;
    L->tmp_src[t] = (int8_t)src;
    add_micro(L, fn, 2, src, R_TMP + t, 0, 0);
    L->cost += 1;
    return R_TMP + t;
}

/* The loops computing node n exactly as its eager implementation does (ops/elementwise.c): the same
 * compute dtypes and conversions. False if some loop does not exist (the op then runs unfused and
 * reports the error). */
static bool lower(const ds_node *n, const ds_dtype *in, ds_dtype out, lowered *L) {
    memset(L, 0, sizeof *L);
    ds_op_id op = n->op;
    ds_op_kind kind = ds_op_get_info(op)->kind;
    ds_loop_fn fn;
    if (kind == DS_KIND_UNARY) {
        if (ds_ew_is_math_unary(op) && in[0] != out) { /* int/bool: to float32 into the output, then in place */
            if (!(fn = ds_kernel_cast(in[0], out))) return false;
            add_micro(L, fn, 2, R_IN, R_OUT, 0, 0);
            if (!(fn = ds_kernel_unary(op, out))) return false;
            add_micro(L, fn, 2, R_OUT, R_OUT, 0, 0);
        } else {
            if (!(fn = ds_kernel_unary(op, in[0]))) return false;
            add_micro(L, fn, 2, R_IN, R_OUT, 0, 0);
        }
        L->cost += ds_ew_op_cost(op, out);
        return true;
    }
    if (kind == DS_KIND_BINARY) {
        ds_dtype cdt = out;
        if (ds_ew_binary_compute_dtype(op, in[0], in[1], &cdt)) {
            ds_error_clear();
            return false;
        }
        int a = in[0] == cdt ? R_IN : add_cast(L, R_IN, in[0], cdt);
        int b = in[1] == cdt ? R_IN + 1 : add_cast(L, R_IN + 1, in[1], cdt);
        if (a < 0 || b < 0 || !(fn = ds_kernel_binary(op, cdt))) return false;
        add_micro(L, fn, 3, a, b, R_OUT, 0);
        L->cost += ds_ew_op_cost(op, cdt);
        return true;
    }
    switch (op) {
    case DS_OP_WHERE: {
        int c = in[0] == DS_BOOL ? R_IN : add_cast(L, R_IN, in[0], DS_BOOL);
        int x = in[1] == out ? R_IN + 1 : add_cast(L, R_IN + 1, in[1], out);
        int y = in[2] == out ? R_IN + 2 : add_cast(L, R_IN + 2, in[2], out);
        if (c < 0 || x < 0 || y < 0 || !(fn = ds_kernel_where(ds_dtype_size(out)))) return false;
        add_micro(L, fn, 4, c, x, y, R_OUT);
        L->cost += 1;
        return true;
    }
    case DS_OP_CAST:
        if (!(fn = ds_kernel_cast(in[0], out))) return false;
        add_micro(L, fn, 2, R_IN, R_OUT, 0, 0);
        L->cost += 1;
        return true;
    case DS_OP_CLIP:
        if (!(fn = ds_kernel_clip(in[0])) || out != in[0]) return false;
        add_micro(L, fn, 2, R_IN, R_OUT, 0, 0);
        L->m[L->n - 1].clip = true;
        L->cost += 1;
        return true;
    default: return false;
    }
}

bool plan_fusable(const plan_variant *v, const ds_node *n) {
    if (n->kind != DS_NODE_OP || n->effect || n->n_out != 1) return false;
    ds_op_kind kind = ds_op_get_info(n->op)->kind;
    if (kind != DS_KIND_UNARY && kind != DS_KIND_BINARY && n->op != DS_OP_WHERE && n->op != DS_OP_CAST && n->op != DS_OP_CLIP)
        return false;
    const plan_slot *o = &v->slots[n->out[0]->id];
    if (o->kind != SLOT_ARENA || v->hdr[n->out[0]->id].numel <= 0 || n->n_in > 3) return false;
    ds_dtype in[3];
    for (int k = 0; k < n->n_in; k++) {
        const plan_slot *s = &v->slots[n->in[k]->id];
        if (s->kind == SLOT_DYN || s->kind == SLOT_NONE) return false;
        in[k] = s->meta.dtype;
    }
    lowered L;
    return lower(n, in, o->meta.dtype, &L);
}

/* ---------------------------------------------------------------- partitioning */
typedef struct ginfo {
    const ds_meta *shape;
    int segment, size, ext;
    bool closed; /* an op outside the group has read one of its values */
} ginfo;

int plan_fuse_partition(const ds_graph *g, const bool *fusable, const int *segment, const plan_variant *v, int *group) {
    int n = g->nodes.n, ng = 0;
    ginfo *gi = ds_malloc(sizeof(ginfo) * (size_t)(n + 1));
    if (!gi) return -1;
    for (int i = 0; i < n; i++) {
        const ds_node *node = g->nodes.items[i];
        int join = -1, join_ext = 0;
        group[i] = -1;
        if (fusable[i]) {
            const ds_meta *m = &v->slots[node->out[0]->id].meta;
            for (int k = 0; k < node->n_in; k++) {
                const ds_node *p = node->in[k]->producer;
                int h = p ? group[p->id] : -1;
                if (h < 0 || h <= join || gi[h].closed || gi[h].segment != segment[i] || gi[h].size >= FZ_MAX_MEMBERS ||
                    !ds_shape_equal(gi[h].shape->ndim, gi[h].shape->shape, m->ndim, m->shape))
                    continue;
                int ext = 0;
                for (int q = 0; q < node->n_in; q++) {
                    const ds_node *pq = node->in[q]->producer;
                    ext += !pq || group[pq->id] != h;
                }
                if (gi[h].ext + ext > FZ_MAX_EXT) continue;
                join = h;
                join_ext = ext;
            }
            if (join < 0) {
                join = ng++;
                gi[join] = (ginfo){m, segment[i], 0, 0, false};
                join_ext = node->n_in;
            }
            group[i] = join;
            gi[join].size++;
            gi[join].ext += join_ext;
        }
        for (int k = 0; k < node->n_in; k++) {
            const ds_node *p = node->in[k]->producer;
            int h = p ? group[p->id] : -1;
            if (h >= 0 && h != group[i]) gi[h].closed = true;
        }
    }
    ds_free(gi);
    return ng;
}

/* ---------------------------------------------------------------- building a group's program */
typedef struct slot_alloc {
    uint64_t used;
    int max, max_isz; /* slots used at once; widest element stored in one */
} slot_alloc;

static int scr_alloc(slot_alloc *a) {
    for (int i = 0; i < FZ_MAX_SLOTS; i++)
        if (!(a->used & (1ull << i))) {
            a->used |= 1ull << i;
            if (i + 1 > a->max) a->max = i + 1;
            return i;
        }
    return -1;
}

static void scr_free(slot_alloc *a, fz_arg arg) {
    if (arg.kind == FZ_SCR) a->used &= ~(1ull << arg.idx);
}

static int index_of(const int *a, int n, int x) {
    for (int i = 0; i < n; i++)
        if (a[i] == x) return i;
    return -1;
}

/* How an outside operand is read over the group's flat range: a strided run, or gathered per tile. */
static void ext_init(fz_ext *e, const ds_tensor *t, const ds_meta *S) {
    int64_t st[DS_MAX_DIMS], isz = (int64_t)ds_dtype_size(t->dtype);
    e->t = t;
    e->isz = (int)isz;
    e->slot = -1;
    for (int d = 0; d < S->ndim; d++) {
        int td = d - (S->ndim - t->ndim);
        st[d] = td < 0 || t->shape[td] == 1 ? 0 : t->strides[td] * isz;
    }
    int nd = 0; /* drop size-1 dims, merge dims contiguous with their inner neighbour */
    for (int d = 0; d < S->ndim; d++) {
        if (S->shape[d] == 1) continue;
        if (nd > 0 && e->bst[nd - 1] == st[d] * S->shape[d]) {
            e->shape[nd - 1] *= S->shape[d];
            e->bst[nd - 1] = st[d];
            continue;
        }
        e->shape[nd] = S->shape[d];
        e->bst[nd++] = st[d];
    }
    e->nd = nd;
    e->mode = nd <= 1 ? EXT_LINEAR : EXT_GATHER;
    e->step = nd == 1 ? e->bst[0] : 0;
}

ds_status plan_group_build(plan_variant *v, int si) {
    plan_step *s = &v->steps[si];
    const ds_graph *g = v->g;
    int nm = s->n_members;
    const ds_node *n0 = g->nodes.items[s->members[0]];
    const ds_meta *S = &v->slots[n0->out[0]->id].meta;
    plan_group *grp = ds_arena_alloc(&v->mem, sizeof(plan_group));
    if (!grp) return DS_ERR_NOMEM;
    s->grp = grp;
    grp->numel = ds_shape_numel(S->ndim, S->shape);
    grp->n_ext = s->n_in;
    grp->n_out = s->n_out;
    grp->ext = ds_arena_alloc(&v->mem, sizeof(fz_ext) * (size_t)(s->n_in + 1));
    grp->out = ds_arena_alloc(&v->mem, sizeof(ds_tensor *) * (size_t)(s->n_out + 1));
    grp->out_isz = ds_arena_alloc(&v->mem, sizeof(int) * (size_t)(s->n_out + 1));
    grp->clip = ds_arena_alloc(&v->mem, sizeof(ds_clip_bounds) * (size_t)nm);
    grp->ins = ds_arena_alloc(&v->mem, sizeof(fz_instr) * (size_t)(4 * nm));
    fz_arg *val = ds_malloc(sizeof(fz_arg) * (size_t)nm);
    int *last = ds_malloc(sizeof(int) * (size_t)nm);
    ds_status st = DS_OK;
    if (!grp->ext || !grp->out || !grp->out_isz || !grp->clip || !grp->ins || !val || !last) {
        st = DS_ERR_NOMEM;
        goto done;
    }
    slot_alloc sa = {0, 0, 1};
    for (int e = 0; e < s->n_in; e++) {
        ext_init(&grp->ext[e], &v->hdr[s->in_ids[e]], S);
        if (grp->ext[e].mode == EXT_GATHER) grp->ext[e].slot = scr_alloc(&sa);
    }
    for (int o = 0; o < s->n_out; o++) {
        grp->out[o] = &v->hdr[s->out_ids[o]];
        grp->out_isz[o] = (int)ds_dtype_size(v->hdr[s->out_ids[o]].dtype);
    }
    /* last member reading each member's value */
    for (int j = 0; j < nm; j++) {
        last[j] = -1;
        const ds_node *n = g->nodes.items[s->members[j]];
        for (int k = 0; k < n->n_in; k++) {
            const ds_node *p = n->in[k]->producer;
            int mj = p ? index_of(s->members, j, p->id) : -1;
            if (mj >= 0) last[mj] = j;
        }
    }
    int64_t cost = 0;
    for (int j = 0; j < nm; j++) {
        const ds_node *n = g->nodes.items[s->members[j]];
        int oid = n->out[0]->id;
        fz_arg refs[7];
        ds_dtype idt[3];
        for (int k = 0; k < n->n_in; k++) {
            const ds_node *p = n->in[k]->producer;
            int mj = p ? index_of(s->members, j, p->id) : -1, id = n->in[k]->id;
            idt[k] = v->slots[id].meta.dtype;
            if (mj >= 0) refs[R_IN + k] = val[mj];
            else {
                int e = index_of(s->in_ids, s->n_in, id);
                const fz_ext *x = &grp->ext[e];
                refs[R_IN + k] = (fz_arg){FZ_EXT, x->mode == EXT_LINEAR && x->step == 0, (int16_t)e, x->isz};
            }
        }
        int isz = (int)ds_dtype_size(v->slots[oid].meta.dtype);
        int o = index_of(s->out_ids, s->n_out, oid), reuse = -1;
        /* the loops read element i before writing element i: the result may overwrite an input that
         * dies here and has the same element size */
        for (int k = 0; k < n->n_in && reuse < 0 && o < 0; k++) {
            const ds_node *p = n->in[k]->producer;
            int mj = p ? index_of(s->members, j, p->id) : -1;
            if (mj >= 0 && last[mj] == j && val[mj].kind == FZ_SCR && val[mj].isz == isz) reuse = mj;
        }
        if (o >= 0) refs[R_OUT] = (fz_arg){FZ_OUT, 0, (int16_t)o, isz};
        else if (reuse >= 0) {
            refs[R_OUT] = val[reuse];
            last[reuse] = -2; /* its slot now belongs to this member's value */
        } else refs[R_OUT] = (fz_arg){FZ_SCR, 0, (int16_t)scr_alloc(&sa), isz};
        if (isz > sa.max_isz) sa.max_isz = isz;
        val[j] = refs[R_OUT];
        lowered L;
        if (!lower(n, idt, v->slots[oid].meta.dtype, &L)) {
            st = ds_errorf(DS_ERR_INTERNAL, "plan: a fused op lost its kernel");
            goto done;
        }
        for (int t = 0; t < L.ntmp; t++) {
            fz_arg src = refs[L.tmp_src[t]];
            refs[R_TMP + t] = (fz_arg){FZ_SCR, src.scalar, (int16_t)scr_alloc(&sa), (int32_t)ds_dtype_size(L.tmp_dt[t])};
            if (refs[R_TMP + t].isz > sa.max_isz) sa.max_isz = refs[R_TMP + t].isz;
        }
        bool full = refs[R_OUT].idx < 0;
        for (int t = 0; t < L.ntmp; t++) full |= refs[R_TMP + t].idx < 0;
        if (full) {
            st = ds_errorf(DS_ERR_INTERNAL, "plan: a fused group needs too much scratch");
            goto done;
        }
        if (n->op == DS_OP_CLIP) {
            ds_clip_bounds *b = &grp->clip[j];
            b->has_lo = !ds_attr_is_none(&n->attrs[0]);
            b->has_hi = !ds_attr_is_none(&n->attrs[1]);
            b->lo = b->has_lo ? n->attrs[0].v.f : 0;
            b->hi = b->has_hi ? n->attrs[1].v.f : 0;
        }
        for (int m = 0; m < L.n; m++) {
            fz_instr *in = &grp->ins[grp->n_ins++];
            in->fn = L.m[m].fn;
            in->ctx = L.m[m].clip ? &grp->clip[j] : NULL;
            in->nargs = L.m[m].nargs;
            for (int a = 0; a < in->nargs; a++) in->a[a] = refs[L.m[m].arg[a]];
            in->one = in->a[in->nargs - 1].scalar; /* a conversion of a broadcast scalar */
        }
        for (int t = 0; t < L.ntmp; t++) scr_free(&sa, refs[R_TMP + t]);
        for (int k = 0; k < n->n_in; k++) {
            const ds_node *p = n->in[k]->producer;
            int mj = p ? index_of(s->members, j, p->id) : -1;
            if (mj >= 0 && last[mj] == j) {
                scr_free(&sa, val[mj]);
                last[mj] = -2; /* freed once, even if read twice */
            }
        }
        if (last[j] == -1) scr_free(&sa, val[j]);
        cost += L.cost;
    }
    grp->n_scr = sa.max;
    /* tiles: a working set that stays in cache */
    int64_t bpe = (int64_t)grp->n_scr * sa.max_isz;
    for (int e = 0; e < grp->n_ext; e++) bpe += grp->ext[e].step ? grp->ext[e].isz : 0;
    for (int o = 0; o < grp->n_out; o++) bpe += grp->out_isz[o];
    int64_t tile = FZ_TILE_MAX;
    while (tile > FZ_TILE_MIN && tile * bpe > FZ_TILE_BYTES) tile >>= 1;
    if (grp->numel < tile) tile = (grp->numel + 63) / 64 * 64;
    grp->tile = tile;
    grp->slot_bytes = tile * 8;
    grp->ntiles = (grp->numel + tile - 1) / tile;
    grp->ntasks = grp->numel * (cost ? cost : 1) >= FZ_PARALLEL_WORK && grp->ntiles >= 2 ? v->scratch_tasks : 1;
    if (grp->ntasks > grp->ntiles) grp->ntasks = (int)grp->ntiles;
    int64_t per_task = ((int64_t)grp->n_scr * grp->slot_bytes + 63) / 64 * 64 + 64;
    if (grp->n_scr && per_task > v->scratch_per_task) v->scratch_per_task = per_task;
    /* in place: an output takes the buffer of an input the group reads for the last time, when every
     * read of that input comes no later than the output's first write */
    bool taken[FZ_MAX_EXT + 1] = {false};
    for (int o = 0; o < grp->n_out; o++) {
        int so = s->out_ids[o], first_write = grp->n_ins;
        for (int i = grp->n_ins - 1; i >= 0; i--) {
            const fz_arg *a = &grp->ins[i].a[grp->ins[i].nargs - 1];
            if (a->kind == FZ_OUT && a->idx == o) first_write = i;
        }
        for (int e = 0; e < grp->n_ext && v->slots[so].buf == so; e++) {
            int se = s->in_ids[e];
            const fz_ext *x = &grp->ext[e];
            if (taken[e] || v->slots[se].kind != SLOT_ARENA || v->slots[se].last != si || x->mode != EXT_LINEAR ||
                x->step != x->isz || x->isz != grp->out_isz[o] || v->hdr[se].numel != grp->numel)
                continue;
            bool ok = true;
            for (int e2 = 0; ok && e2 < grp->n_ext; e2++) ok = e2 == e || v->slots[s->in_ids[e2]].root != se;
            for (int i = first_write + 1; ok && i < grp->n_ins; i++)
                for (int a = 0; a + 1 < grp->ins[i].nargs; a++) ok &= !(grp->ins[i].a[a].kind == FZ_EXT && grp->ins[i].a[a].idx == e);
            if (!ok) continue;
            taken[e] = true;
            v->slots[so].buf = plan_buf_find(v, se);
            v->n_inplace++;
        }
    }
done:
    ds_free(val);
    ds_free(last);
    return st;
}

/* ---------------------------------------------------------------- running */
/* Copies elements [b, b + n) of the operand's broadcast view over the group into dst. */
static void gather(const fz_ext *e, char *dst, int64_t b, int64_t n) {
    int nd = e->nd, isz = e->isz;
    int64_t idx[DS_MAX_DIMS], rem = b;
    const char *p = e->t->data;
    for (int d = nd - 1; d >= 0; d--) {
        idx[d] = rem % e->shape[d];
        rem /= e->shape[d];
        p += idx[d] * e->bst[d];
    }
    int64_t inner = e->shape[nd - 1], ist = e->bst[nd - 1];
    while (n > 0) {
        int64_t run = inner - idx[nd - 1];
        if (run > n) run = n;
        if (ist == isz) memcpy(dst, p, (size_t)(run * isz));
        else if (isz == 4)
            for (int64_t i = 0; i < run; i++) memcpy(dst + i * 4, p + i * ist, 4);
        else if (isz == 8)
            for (int64_t i = 0; i < run; i++) memcpy(dst + i * 8, p + i * ist, 8);
        else if (isz == 2)
            for (int64_t i = 0; i < run; i++) memcpy(dst + i * 2, p + i * ist, 2);
        else
            for (int64_t i = 0; i < run; i++) dst[i] = p[i * ist];
        dst += run * isz;
        n -= run;
        if (n <= 0) break;
        p += run * ist;
        idx[nd - 1] += run;
        for (int d = nd - 1; d > 0 && idx[d] == e->shape[d]; d--) {
            p += e->bst[d - 1] - e->shape[d] * e->bst[d];
            idx[d] = 0;
            idx[d - 1]++;
        }
    }
}

static void run_tile(const plan_group *g, char *scr, int64_t b, int64_t n) {
    char *ep[FZ_MAX_EXT + 1];
    int64_t es[FZ_MAX_EXT + 1];
    for (int e = 0; e < g->n_ext; e++) {
        const fz_ext *x = &g->ext[e];
        if (x->mode == EXT_LINEAR) {
            ep[e] = x->t->data + b * x->step;
            es[e] = x->step;
        } else {
            ep[e] = scr + x->slot * g->slot_bytes;
            es[e] = x->isz;
            gather(x, ep[e], b, n);
        }
    }
    for (int i = 0; i < g->n_ins; i++) {
        const fz_instr *in = &g->ins[i];
        char *args[4];
        int64_t steps[4];
        for (int k = 0; k < in->nargs; k++) {
            const fz_arg *a = &in->a[k];
            switch (a->kind) {
            case FZ_SCR:
                args[k] = scr + a->idx * g->slot_bytes;
                steps[k] = a->scalar ? 0 : a->isz;
                break;
            case FZ_EXT:
                args[k] = ep[a->idx];
                steps[k] = es[a->idx];
                break;
            default:
                args[k] = g->out[a->idx]->data + b * a->isz;
                steps[k] = a->isz;
                break;
            }
        }
        in->fn(args, steps, in->one ? 1 : n, in->ctx);
    }
}

typedef struct group_job {
    const plan_group *g;
    char *scratch;
    int64_t per_task;
    atomic_llong next;
} group_job;

static void group_task(void *ctx, int64_t tb, int64_t te) {
    group_job *j = ctx;
    const plan_group *g = j->g;
    char *scr = j->scratch + tb * j->per_task;
    for (;;) {
        int64_t t = atomic_fetch_add_explicit(&j->next, 1, memory_order_relaxed);
        if (t >= g->ntiles) break;
        int64_t b = t * g->tile, n = g->numel - b < g->tile ? g->numel - b : g->tile;
        run_tile(g, scr, b, n);
    }
}

void plan_group_run(plan_variant *v, plan_group *grp) {
    if (grp->numel <= 0) return;
    int ntasks = grp->ntasks, nt = ds_get_num_threads();
    if (ntasks > nt) ntasks = nt;
    group_job j = {grp, v->scratch, v->scratch_per_task, 0};
    if (ntasks <= 1 || ds_in_parallel_region()) group_task(&j, 0, 1);
    else ds_parallel_for(ntasks, 1, group_task, &j);
}
