/* Strided multi-operand iteration: the engine behind every elementwise op and copy.
 * Operands are broadcast to one shape, dims are coalesced, and a NumPy-style inner loop is called
 * on runs of the innermost dim. Large iterations are split across the thread pool. */
#ifndef DS_TENSOR_ITER_H
#define DS_TENSOR_ITER_H
#include "tensor/tensor.h"

#define DS_ITER_MAX_OPS 5

/* Inner loop: args[k] points at operand k's first element of the run, steps[k] is its byte stride,
 * n is the run length. ctx is passed through. Must be safe to call from several threads at once
 * on disjoint runs. */
typedef void (*ds_loop_fn)(char **args, const int64_t *steps, int64_t n, void *ctx);

typedef struct ds_iter {
    int nop;
    int ndim;
    int64_t numel;
    int64_t shape[DS_MAX_DIMS];
    int64_t strides[DS_ITER_MAX_OPS][DS_MAX_DIMS]; /* bytes */
    char *base[DS_ITER_MAX_OPS];
} ds_iter;

/* Prepares an iteration over `nop` tensors broadcast to (ndim, shape). Operands whose shape does not
 * broadcast give DS_ERR_SHAPE. By convention outputs come last. */
ds_status ds_iter_init(ds_iter *it, int nop, ds_tensor *const *ops, int ndim, const int64_t *shape);
/* Runs fn over the whole iteration, in parallel when numel * cost_per_elem is large. */
void ds_iter_run(const ds_iter *it, ds_loop_fn fn, void *ctx, int64_t cost_per_elem);
#endif
