/* dynastat: the public C API.
 *
 * Conventions (see docs/ARCHITECTURE.md):
 * - A function that can fail returns ds_status (DS_OK == 0) and writes its results through trailing
 *   out-params, which it leaves untouched on failure. ds_error_message() then says what went wrong.
 * - Refcounted objects: _new returns a new reference, _retain/_release adjust it. Arguments are borrowed;
 *   out-params carry a new reference the caller must release. Nothing steals a reference.
 * - Nothing a caller can do aborts the process or prints.
 */
#ifndef DYNASTAT_H
#define DYNASTAT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define DS_VERSION_MAJOR 0
#define DS_VERSION_MINOR 1
#define DS_VERSION_PATCH 0
#define DS_MAX_DIMS 8

/* ---------------------------------------------------------------- status and errors */
typedef enum ds_status {
    DS_OK = 0,
    DS_ERR_NOMEM,       /* an allocation failed */
    DS_ERR_SHAPE,       /* shapes do not fit the op (Python: ValueError) */
    DS_ERR_DTYPE,       /* dtype not supported by the op (Python: TypeError) */
    DS_ERR_INDEX,       /* index out of range (Python: IndexError) */
    DS_ERR_VALUE,       /* bad argument value (Python: ValueError) */
    DS_ERR_UNSUPPORTED, /* not implemented (Python: NotImplementedError) */
    DS_ERR_INTERNAL,    /* a bug in dynastat (Python: RuntimeError) */
    DS_STATUS_COUNT
} ds_status;

/* The message of the last failure on this thread ("" if none). Valid until the next failing call. */
const char *ds_error_message(void);
/* The status of the last failure on this thread (DS_OK if none). */
ds_status ds_error_status(void);
/* Sets this thread's error (printf-style) and returns `code`, so a failure reads `return ds_errorf(...)`. */
ds_status ds_errorf(ds_status code, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
/* Prepends "prefix: " to this thread's error message (used to add context such as the op name). */
void ds_error_prefix(const char *prefix);
/* Clears this thread's error. */
void ds_error_clear(void);

/* ---------------------------------------------------------------- memory */
/* Allocator hooks: every byte the library allocates goes through these. */
typedef struct ds_allocator {
    void *(*alloc)(void *ctx, size_t nbytes, size_t align); /* NULL on failure */
    void (*free)(void *ctx, void *ptr);
    void *ctx;
} ds_allocator;

/* Installs `a` (copied) as the allocator; NULL restores the default (aligned malloc). Not thread-safe:
 * call before any other use of the library. */
void ds_set_allocator(const ds_allocator *a);
/* Test support: counts allocations from now on and makes the `fail_at`-th one (1-based) fail;
 * fail_at <= 0 disables failing. */
void ds_alloc_debug_begin(int64_t fail_at);
/* Test support: number of allocations since ds_alloc_debug_begin. */
int64_t ds_alloc_debug_count(void);
/* Number of blocks allocated and not yet freed (all time). */
int64_t ds_alloc_live_blocks(void);

/* ---------------------------------------------------------------- dtypes */
typedef enum ds_dtype {
    DS_BOOL,
    DS_INT8,
    DS_UINT8,
    DS_INT16,
    DS_INT32,
    DS_INT64,
    DS_FLOAT16,
    DS_BFLOAT16,
    DS_FLOAT32,
    DS_FLOAT64,
    DS_DTYPE_COUNT
} ds_dtype;

/* Size of one element in bytes. */
size_t ds_dtype_size(ds_dtype dt);
/* Lower-case name: "float32", "bool", ... */
const char *ds_dtype_name(ds_dtype dt);
/* Parses a name as given by ds_dtype_name; returns false if unknown. */
bool ds_dtype_from_name(const char *name, ds_dtype *out);
bool ds_dtype_is_float(ds_dtype dt);
bool ds_dtype_is_int(ds_dtype dt); /* integer, not bool */
/* Result dtype of a Tensor-Tensor binary op (see docs/dtypes.md). */
ds_dtype ds_dtype_promote(ds_dtype a, ds_dtype b);

/* ---------------------------------------------------------------- tensors */
typedef struct ds_tensor ds_tensor;

/* A new contiguous tensor with uninitialised contents. */
ds_status ds_tensor_new(ds_dtype dt, int ndim, const int64_t *shape, ds_tensor **out);
/* A new contiguous tensor filled with zeros. */
ds_status ds_tensor_new_zeros(ds_dtype dt, int ndim, const int64_t *shape, ds_tensor **out);
/* A new contiguous tensor holding a copy of `data` (row-major, ds_dtype_size(dt) bytes per element). */
ds_status ds_tensor_from_data(ds_dtype dt, int ndim, const int64_t *shape, const void *data,
                              ds_tensor **out);
/* A tensor over memory the caller owns, with element strides. `release(ctx)` is called when the last
 * tensor viewing that memory goes away (may be NULL). No copy. */
ds_status ds_tensor_wrap(ds_dtype dt, int ndim, const int64_t *shape, const int64_t *strides,
                         void *data, void (*release)(void *ctx), void *ctx, ds_tensor **out);
/* A new 0-d tensor holding `value` converted to `dt`. */
ds_status ds_tensor_scalar(ds_dtype dt, double value, ds_tensor **out);
ds_status ds_tensor_scalar_int(ds_dtype dt, int64_t value, ds_tensor **out);

ds_tensor *ds_tensor_retain(ds_tensor *t);
void ds_tensor_release(ds_tensor *t); /* NULL is allowed */

ds_dtype ds_tensor_dtype(const ds_tensor *t);
int ds_tensor_ndim(const ds_tensor *t);
const int64_t *ds_tensor_shape(const ds_tensor *t);   /* ndim entries */
const int64_t *ds_tensor_strides(const ds_tensor *t); /* ndim entries, in elements */
int64_t ds_tensor_numel(const ds_tensor *t);
/* Address of element [0,...,0] (NULL for a tensor without storage). */
void *ds_tensor_data(const ds_tensor *t);
bool ds_tensor_is_contiguous(const ds_tensor *t);
/* True when both tensors view the same storage. */
bool ds_tensor_shares_storage(const ds_tensor *a, const ds_tensor *b);

/* `t` itself (retained) if contiguous, else a contiguous copy. */
ds_status ds_tensor_contiguous(ds_tensor *t, ds_tensor **out);
/* Copies `src` into `dst` elementwise, broadcasting src to dst's shape and converting dtype. */
ds_status ds_tensor_copy_into(ds_tensor *dst, const ds_tensor *src);
/* Reads element `index` (row-major flat index) as double / int64. */
ds_status ds_tensor_get_double(const ds_tensor *t, int64_t index, double *out);
ds_status ds_tensor_get_int(const ds_tensor *t, int64_t index, int64_t *out);

/* Views (no copy; the result shares storage with t). */
ds_status ds_tensor_reshape(ds_tensor *t, int ndim, const int64_t *shape, ds_tensor **out); /* -1 infers one dim; copies only if no view exists */
ds_status ds_tensor_permute(ds_tensor *t, const int *perm, ds_tensor **out);
ds_status ds_tensor_expand(ds_tensor *t, int ndim, const int64_t *shape, ds_tensor **out);
ds_status ds_tensor_slice(ds_tensor *t, int dim, int64_t start, int64_t stop, int64_t step,
                          ds_tensor **out); /* Python slice semantics after normalisation */
ds_status ds_tensor_select(ds_tensor *t, int dim, int64_t index, ds_tensor **out); /* drops dim */
ds_status ds_tensor_squeeze(ds_tensor *t, int dim, ds_tensor **out); /* dim < 0: all size-1 dims */
ds_status ds_tensor_unsqueeze(ds_tensor *t, int dim, ds_tensor **out);

/* Formats the tensor's values exactly as NumPy's str() of the same array (default print options).
 * *out is allocated with the library allocator; free it with ds_free. */
ds_status ds_tensor_format(const ds_tensor *t, char **out);
void ds_free(void *p);

/* ---------------------------------------------------------------- ops */
typedef enum ds_op_id {
#define DS_OP(ID, name, prim, kind, nin, nout, attrs) DS_OP_##ID,
#include "dynastat_ops.def"
#undef DS_OP
    DS_OP_COUNT
} ds_op_id;

typedef enum ds_op_kind {
    DS_KIND_UNARY,
    DS_KIND_BINARY,
    DS_KIND_REDUCE,
    DS_KIND_VIEW,
    DS_KIND_SHAPE,
    DS_KIND_CREATE,
    DS_KIND_RANDOM,
    DS_KIND_OTHER,
    DS_KIND_COUNT
} ds_op_kind;

typedef enum ds_attr_kind {
    DS_ATTR_NONE, /* absent optional attribute */
    DS_ATTR_BOOL,
    DS_ATTR_INT,
    DS_ATTR_FLOAT,
    DS_ATTR_INTS,
    DS_ATTR_DTYPE,
    DS_ATTR_KIND_COUNT
} ds_attr_kind;

/* One attribute value. INTS point at caller-owned memory that must outlive the call. */
typedef struct ds_attr {
    ds_attr_kind kind;
    int64_t n; /* INTS: number of entries */
    union {
        bool b;
        int64_t i;
        double f;
        const int64_t *ints;
        ds_dtype dtype;
    } v;
} ds_attr;

/* Static description of an op, from the op table. */
typedef struct ds_op_info {
    const char *name;      /* functional name, "add" */
    const char *prim;      /* primitive class name, "Add" */
    ds_op_kind kind;
    int n_in;              /* -1 = variadic */
    int n_out;             /* -1 = variadic */
    const char *attr_schema; /* "name:type[=default];..." */
    int n_attrs;
} ds_op_info;

const ds_op_info *ds_op_get_info(ds_op_id op);
/* Looks an op up by functional name; returns DS_OP_COUNT if unknown. */
ds_op_id ds_op_lookup(const char *name);

/* Name of attribute i of `op` in schema order (NULL if out of range). */
const char *ds_op_attr_name(ds_op_id op, int i);
/* Whether `op` has an implementation in this build. */
bool ds_op_is_implemented(ds_op_id op);

/* Runs `op` eagerly. `attrs` has info->n_attrs entries, in schema order (NONE = default).
 * On success fills outputs[0..*n_out) with new references; for variadic outputs, `outputs` must have
 * room for `max_out` tensors. */
ds_status ds_op_run(ds_op_id op, int n_in, ds_tensor *const *inputs, const ds_attr *attrs,
                    int max_out, ds_tensor **outputs, int *n_out);
/* Shorthand for single-output ops. */
ds_status ds_op_run1(ds_op_id op, int n_in, ds_tensor *const *inputs, const ds_attr *attrs,
                     ds_tensor **out);

/* ---------------------------------------------------------------- runtime */
/* Seeds the global random generator used by the RANDOM ops. */
void ds_random_seed(uint64_t seed);
/* Number of threads kernels may use (default: the number of cores). */
void ds_set_num_threads(int n);
int ds_get_num_threads(void);
/* Which GEMM backend was built in: "openblas", "cblas" or "builtin". */
const char *ds_blas_backend(void);
/* Widest SIMD level the kernels use on this CPU: "avx512", "avx2" or "generic". */
const char *ds_simd_level(void);

#ifdef __cplusplus
}
#endif
#endif /* DYNASTAT_H */
