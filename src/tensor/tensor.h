/* Tensors: refcounted storage plus a strided view (shape, element strides, data pointer).
 * The struct is visible inside the library and to bind/ (for speed); C users see it as opaque. */
#ifndef DS_TENSOR_TENSOR_H
#define DS_TENSOR_TENSOR_H
#include <stdbool.h>
#include <stdint.h>

#include "dynastat.h"

typedef struct ds_storage {
    int64_t refcount;
    void *data;
    size_t nbytes;
    void (*release)(void *ctx); /* external memory: called when the storage dies */
    void *ctx;
    void *block; /* non-NULL: data lives in this library block (freed with the storage) */
} ds_storage;

struct ds_tensor {
    int64_t refcount;
    ds_dtype dtype;
    int ndim;
    int64_t numel;
    int64_t shape[DS_MAX_DIMS];
    int64_t strides[DS_MAX_DIMS]; /* in elements; may be 0 (broadcast) or negative */
    char *data;                   /* address of element [0,...,0] */
    ds_storage *storage;          /* NULL for a declared-only tensor */
    bool contiguous;              /* row-major dense */
    void *user;                   /* one pointer for upper layers (tape entry, ...) */
    bool symbolic;                /* a value of a graph being traced (declared-only; see exec/trace.c) */
};

/* Shape helpers. */
int64_t ds_shape_numel(int ndim, const int64_t *shape);
void ds_shape_contiguous_strides(int ndim, const int64_t *shape, int64_t *strides);
bool ds_shape_equal(int na, const int64_t *a, int nb, const int64_t *b);
/* NumPy broadcast of two shapes into out (ndim in *out_ndim); DS_ERR_SHAPE if incompatible. */
ds_status ds_shape_broadcast(int na, const int64_t *a, int nb, const int64_t *b, int *out_ndim,
                             int64_t *out);
/* Normalises a possibly negative axis against ndim; DS_ERR_AXIS naming `what` if out of range. */
ds_status ds_axis_normalize(int64_t axis, int ndim, const char *what, int *out);
/* Writes "[2, 3]" into buf (for error messages); returns buf. */
char *ds_shape_str(int ndim, const int64_t *shape, char *buf, size_t n);
#define DS_SHAPE_STR_MAX 192

/* Recomputes numel and the contiguous flag after shape/strides changed. */
void ds_tensor_update_layout(ds_tensor *t);
/* A new tensor header viewing t's storage with the given layout (data = t's storage address + byte
 * offset from t->data). */
ds_status ds_tensor_view(ds_tensor *t, int ndim, const int64_t *shape, const int64_t *strides,
                         int64_t elem_offset, ds_tensor **out);
/* Strides that view t with `shape` without a copy; false if no such view exists. */
bool ds_tensor_reshape_strides(const ds_tensor *t, int ndim, const int64_t *shape, int64_t *strides);
/* A declared-only tensor: dtype and shape, no storage (shape entries may be -1 = unknown). */
ds_status ds_tensor_new_declared(ds_dtype dt, int ndim, const int64_t *shape, ds_tensor **out);
#endif
