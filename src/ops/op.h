/* How an op is implemented: infer (shape and dtype from input metadata and attrs) and run (kernel).
 * Each ops/<family>.c file fills its ops' entries in the registry table through a register function. */
#ifndef DS_OPS_OP_H
#define DS_OPS_OP_H
#include "tensor/tensor.h"

/* The metadata infer sees: dtype and shape (a dim of -1 is unknown until run time). */
typedef struct ds_meta {
    ds_dtype dtype;
    int ndim;
    int64_t shape[DS_MAX_DIMS];
} ds_meta;

#define DS_OP_MAX_OUT 64 /* most outputs an op may return (split) */

/* One call of an op. attrs has info->n_attrs entries with defaults already filled in. */
typedef struct ds_op_call {
    ds_op_id op;
    const ds_op_info *info;
    int n_in;
    ds_tensor *const *in;
    const ds_attr *attrs;
    int n_out;
    ds_tensor **out; /* preallocated from infer, unless the impl has DS_IMPL_ALLOCATES */
} ds_op_call;

/* Computes output metadata. `in` has n_in entries. Sets *n_out. Errors name shapes/dtypes; the
 * dispatcher prefixes the op name. */
typedef ds_status (*ds_infer_fn)(ds_op_id op, int n_in, const ds_meta *in, const ds_attr *attrs,
                                 ds_meta *out, int *n_out);
/* Computes outputs. With DS_IMPL_ALLOCATES it must create c->out[0..n_out) itself (views, ops whose
 * output shape depends on data); otherwise they are preallocated contiguous tensors. */
typedef ds_status (*ds_run_fn)(ds_op_call *c);

enum {
    DS_IMPL_ALLOCATES = 1u << 0, /* run creates its outputs */
    DS_IMPL_EFFECT = 1u << 1,    /* reads/writes state (random generator, in-place writes) */
};

typedef struct ds_op_impl {
    ds_infer_fn infer;
    ds_run_fn run;
    unsigned flags;
} ds_op_impl;

/* Register functions, one per ops/<family>.c, each filling its ops' slots of table[DS_OP_COUNT]. */
void ds_ops_register_elementwise(ds_op_impl *table);
void ds_ops_register_reduce(ds_op_impl *table);
void ds_ops_register_matmul(ds_op_impl *table);
void ds_ops_register_view(ds_op_impl *table);
void ds_ops_register_shape(ds_op_impl *table);
void ds_ops_register_index(ds_op_impl *table);
void ds_ops_register_create(ds_op_impl *table);
void ds_ops_register_grad(ds_op_impl *table);
void ds_ops_register_conv(ds_op_impl *table);
void ds_ops_register_nn(ds_op_impl *table);

#define DS_MAX_ATTRS 8

/* A registry entry: the op table line, its impl, and its parsed attribute schema. */
typedef struct op_entry {
    ds_op_info info;
    ds_op_impl impl;
    ds_attr defaults[DS_MAX_ATTRS]; /* NONE + !required = optional without default */
    bool required[DS_MAX_ATTRS];
    ds_attr_kind kinds[DS_MAX_ATTRS];
    char names[DS_MAX_ATTRS][24];
} op_entry;

/* The registry entry of a valid op id (the registry is built on first use). */
const op_entry *ds_op_entry_get(ds_op_id op);

/* Fills `full` (n_attrs entries) with `attrs` converted to the schema's kinds, or the defaults;
 * a missing required attribute or a kind that does not convert is an error. attrs may be NULL. */
ds_status ds_op_fill_attrs(const op_entry *e, const ds_attr *attrs, ds_attr *full);

/* Copies src into dst, broadcasting src to dst's shape and converting its dtype; the two must not
 * overlap in memory (ds_tensor_copy_into handles overlap with a temporary). Allocates nothing. */
ds_status ds_copy_strided(ds_tensor *dst, const ds_tensor *src);

/* Meta of a tensor. */
void ds_meta_of(const ds_tensor *t, ds_meta *m);
/* Attribute readers for impls (the dispatcher guarantees kinds match the schema or are NONE). */
static inline bool ds_attr_is_none(const ds_attr *a) { return a->kind == DS_ATTR_NONE; }
#endif

