/* Memory planning: lifetimes of the arena buffers over the step list, and their offsets in one arena.
 *
 * A buffer is an arena slot together with the slots that took it over in place (union-find on
 * slot.buf). Its lifetime runs from the first step defining one of its slots to the last step reading
 * one of them or a view of them (graph outputs live to the end). Buffers whose lifetimes do not
 * overlap may share memory: they are placed greedily by decreasing size, each at the lowest offset of
 * the smallest gap that fits between the buffers already placed that are alive at the same time. */
#include <stdlib.h>

#include "base/alloc.h"
#include "exec/plan.h"

#define ALIGN 64

static void use(plan_variant *v, int id, int s) {
    plan_slot *x = &v->slots[id];
    if (s > x->last) x->last = s;
    plan_slot *r = &v->slots[x->root];
    if (s > r->last) r->last = s;
}

static void def(plan_variant *v, int id, int s) {
    plan_slot *x = &v->slots[id];
    if (x->def < 0) x->def = s;
}

void plan_liveness(plan_variant *v) {
    for (int id = 0; id < v->n_slots; id++) v->slots[id].def = v->slots[id].last = DS_PLAN_LAST_NONE;
    for (int i = 0; i < v->n_steps; i++) {
        const plan_step *s = &v->steps[i];
        for (int k = 0; k < s->n_in; k++) use(v, s->in_ids[k], i);
        int nout = s->wb ? 2 * s->n_out + 1 : s->n_out;
        for (int k = 0; k < nout; k++) {
            def(v, s->out_ids[k], i);
            if (s->wb) use(v, s->out_ids[k], i); /* loop buffers live through the loop */
        }
    }
    for (int i = 0; i < v->n_outputs; i++) use(v, v->out_ids[i], DS_PLAN_LAST_END);
}

int plan_buf_find(plan_variant *v, int s) {
    while (v->slots[s].buf != s) {
        int p = v->slots[s].buf;
        v->slots[s].buf = v->slots[p].buf; /* path halving */
        s = p;
    }
    return s;
}

typedef struct buffer {
    int id;
    int first, last;
    int64_t size, off;
} buffer;

static int by_size_desc(const void *a, const void *b) {
    const buffer *x = a, *y = b;
    if (x->size != y->size) return x->size > y->size ? -1 : 1;
    if (x->first != y->first) return x->first < y->first ? -1 : 1;
    return x->id - y->id;
}

ds_status plan_memory_assign(plan_variant *v) {
    int n = v->n_slots, nb = 0;
    int *index = ds_malloc(sizeof(int) * (size_t)(n + 1));
    buffer *bufs = ds_malloc(sizeof(buffer) * (size_t)(n + 1));
    int *placed = ds_malloc(sizeof(int) * (size_t)(n + 1)); /* indices into bufs, by offset */
    if (!index || !bufs || !placed) {
        ds_free(index);
        ds_free(bufs);
        ds_free(placed);
        return DS_ERR_NOMEM;
    }
    v->value_bytes = 0;
    for (int id = 0; id < n; id++) index[id] = -1;
    for (int id = 0; id < n; id++) {
        plan_slot *s = &v->slots[id];
        if (s->kind != SLOT_ARENA || s->outside) continue;
        v->value_bytes += s->nbytes;
        int r = plan_buf_find(v, id);
        if (index[r] < 0) {
            index[r] = nb;
            bufs[nb++] = (buffer){r, 0x7fffffff, -1, 0, 0};
        }
        buffer *b = &bufs[index[r]];
        int first = s->def < 0 ? 0 : s->def, last = s->last < first ? first : s->last;
        if (first < b->first) b->first = first;
        if (last > b->last) b->last = last;
        int64_t size = (s->nbytes + ALIGN - 1) / ALIGN * ALIGN;
        if (size > b->size) b->size = size;
    }
    qsort(bufs, (size_t)nb, sizeof(buffer), by_size_desc);
    int np = 0;
    int64_t arena = 0;
    for (int i = 0; i < nb; i++) {
        buffer *b = &bufs[i];
        int64_t best = -1, best_gap = INT64_MAX, prev_end = 0;
        int at = np;
        for (int k = 0; k < np; k++) {
            const buffer *p = &bufs[placed[k]];
            if (p->last < b->first || b->last < p->first) continue; /* not alive together */
            int64_t gap = p->off - prev_end;
            if (gap >= b->size && gap < best_gap) {
                best = prev_end;
                best_gap = gap;
            }
            if (p->off + p->size > prev_end) prev_end = p->off + p->size;
        }
        if (best < 0) best = prev_end;
        b->off = best;
        while (at > 0 && bufs[placed[at - 1]].off > best) at--; /* keep `placed` sorted by offset */
        for (int k = np; k > at; k--) placed[k] = placed[k - 1];
        placed[at] = i;
        np++;
        if (best + b->size > arena) arena = best + b->size;
        v->slots[b->id].off = best;
    }
    v->arena_bytes = arena;
    ds_free(index);
    ds_free(bufs);
    ds_free(placed);
    return DS_OK;
}
