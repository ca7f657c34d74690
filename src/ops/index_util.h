/* Shared pieces of the indexing ops (ops/index.c) and their gradient support ops (ops/grad_ops.c). */
#ifndef DS_OPS_INDEX_UTIL_H
#define DS_OPS_INDEX_UTIL_H
#include "ops/op.h"
#include "tensor/dtype.h"

/* DS_ERR_DTYPE unless dt is an integer dtype (bool gets a hint to convert masks with nonzero). */
ds_status ds_index_check_dtype(ds_dtype dt, const char *what);

/* Reads one index value of dtype dt. */
static inline int64_t ds_index_load(ds_dtype dt, const char *p) {
    switch (dt) {
    case DS_INT64: return *(const int64_t *)p;
    case DS_INT32: return *(const int32_t *)p;
    default: return ds_dtype_load_int(dt, p);
    }
}

/* NumPy advanced indexing of x's leading k dims by index metas ix[0..k): checks the index dtypes, their
 * broadcast shape B (-1 dims are unknown) into (nb, b), and the result shape T = B + x.shape[k:] into
 * (nt, t). Errors use NumPy's wording. */
ds_status ds_index_target(const ds_meta *x, int k, const ds_meta *ix, int *nb, int64_t *b, int *nt, int64_t *t);
#endif
