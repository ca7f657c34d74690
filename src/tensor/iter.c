/* Strided multi-operand iteration (see iter.h). */
#include "tensor/iter.h"

#include <string.h>

#include "base/status.h"
#include "base/threadpool.h"

ds_status ds_iter_init(ds_iter *it, int nop, ds_tensor *const *ops, int ndim, const int64_t *shape) {
    DS_ASSERT(nop <= DS_ITER_MAX_OPS);
    int64_t st[DS_ITER_MAX_OPS][DS_MAX_DIMS];
    for (int k = 0; k < nop; k++) {
        const ds_tensor *t = ops[k];
        int64_t isz = (int64_t)ds_dtype_size(t->dtype);
        if (t->ndim > ndim) goto bad;
        for (int d = 0; d < ndim; d++) {
            int td = d - (ndim - t->ndim);
            if (td < 0) st[k][d] = 0;
            else if (t->shape[td] == shape[d]) st[k][d] = shape[d] == 1 ? 0 : t->strides[td] * isz;
            else if (t->shape[td] == 1) st[k][d] = 0;
            else goto bad;
        }
        it->base[k] = t->data;
        continue;
    bad : {
        char a[DS_SHAPE_STR_MAX], b[DS_SHAPE_STR_MAX];
        return ds_errorf(DS_ERR_SHAPE, "shape %s cannot be broadcast to %s",
                         ds_shape_str(t->ndim, t->shape, a, sizeof a), ds_shape_str(ndim, shape, b, sizeof b));
    }
    }
    it->nop = nop;
    it->numel = ds_shape_numel(ndim, shape);
    /* drop size-1 dims and merge dims that are contiguous with their inner neighbour for every operand */
    int n = 0;
    for (int d = 0; d < ndim; d++) {
        if (shape[d] == 1) continue;
        if (n > 0) {
            bool merge = true;
            for (int k = 0; k < nop; k++)
                if (it->strides[k][n - 1] != st[k][d] * shape[d]) merge = false;
            if (merge) {
                it->shape[n - 1] *= shape[d];
                for (int k = 0; k < nop; k++) it->strides[k][n - 1] = st[k][d];
                continue;
            }
        }
        it->shape[n] = shape[d];
        for (int k = 0; k < nop; k++) it->strides[k][n] = st[k][d];
        n++;
    }
    it->ndim = n;
    return DS_OK;
}

/* Runs flat elements [begin, end) of the iteration. */
static void iter_range(const ds_iter *it, ds_loop_fn fn, void *ctx, int64_t begin, int64_t end) {
    int nop = it->nop, nd = it->ndim;
    int64_t steps[DS_ITER_MAX_OPS];
    char *ptr[DS_ITER_MAX_OPS];
    if (nd == 0) {
        for (int k = 0; k < nop; k++) {
            steps[k] = 0;
            ptr[k] = it->base[k];
        }
        if (begin < end) fn(ptr, steps, 1, ctx);
        return;
    }
    int64_t inner = it->shape[nd - 1];
    int64_t idx[DS_MAX_DIMS];
    int64_t rem = begin;
    for (int d = nd - 1; d >= 0; d--) {
        idx[d] = rem % it->shape[d];
        rem /= it->shape[d];
    }
    for (int k = 0; k < nop; k++) {
        steps[k] = it->strides[k][nd - 1];
        int64_t off = 0;
        for (int d = 0; d < nd; d++) off += idx[d] * it->strides[k][d];
        ptr[k] = it->base[k] + off;
    }
    int64_t pos = begin;
    while (pos < end) {
        int64_t run = inner - idx[nd - 1];
        if (run > end - pos) run = end - pos;
        fn(ptr, steps, run, ctx);
        pos += run;
        if (pos >= end) break;
        /* advance to the start of the next row */
        for (int k = 0; k < nop; k++) ptr[k] += run * steps[k];
        idx[nd - 1] += run;
        for (int d = nd - 1; d > 0 && idx[d] == it->shape[d]; d--) {
            for (int k = 0; k < nop; k++)
                ptr[k] += it->strides[k][d - 1] - it->shape[d] * it->strides[k][d];
            idx[d] = 0;
            idx[d - 1]++;
        }
    }
}

typedef struct range_job {
    const ds_iter *it;
    ds_loop_fn fn;
    void *ctx;
} range_job;

static void range_task(void *p, int64_t b, int64_t e) {
    range_job *j = p;
    iter_range(j->it, j->fn, j->ctx, b, e);
}

/* Elements of work (times cost) below which a loop is not worth splitting across threads. */
#define DS_PARALLEL_GRAIN 32768

void ds_iter_run(const ds_iter *it, ds_loop_fn fn, void *ctx, int64_t cost_per_elem) {
    if (it->numel <= 0) return;
    if (cost_per_elem < 1) cost_per_elem = 1;
    int64_t grain = DS_PARALLEL_GRAIN / cost_per_elem;
    if (grain < 256) grain = 256;
    if (it->numel < 2 * grain) {
        iter_range(it, fn, ctx, 0, it->numel);
        return;
    }
    range_job j = {it, fn, ctx};
    ds_parallel_for(it->numel, grain, range_task, &j);
}
