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
    DS_ERR_AXIS,        /* axis out of range (Python: dynastat.AxisError, a ValueError and an IndexError) */
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

/* ---------------------------------------------------------------- graph IR
 * A graph is a list of nodes in program order over SSA values. A value has a dtype and a shape whose
 * dims are known (>= 0), unknown (DS_DIM_UNKNOWN) or symbolic (DS_DIM_SYM(k), k from ds_graph_symbol).
 * Nodes are ops of the op table or structural (constants, If, While, Call, print, assign, host
 * callbacks). Side effects are ordered by a state token threaded through effectful nodes by the builder.
 * Graphs are refcounted; nodes and values belong to their graph (never freed one by one). */
typedef struct ds_graph ds_graph;
typedef struct ds_node ds_node;
typedef struct ds_value ds_value;

#define DS_DIM_UNKNOWN ((int64_t)-1)
#define DS_DIM_SYM(k) ((int64_t)(-2 - (int64_t)(k)))
#define DS_DIM_IS_SYM(d) ((d) <= -2)
#define DS_DIM_SYM_INDEX(d) ((int)(-2 - (d)))

typedef enum ds_node_kind {
    DS_NODE_OP,       /* an op of the op table */
    DS_NODE_CONST,    /* a constant tensor */
    DS_NODE_IF,       /* subgraphs [then, else]; input 0 is the condition, the rest go to both branches */
    DS_NODE_WHILE,    /* subgraphs [cond, body]; inputs are the initial loop-carried values */
    DS_NODE_CALL,     /* subgraphs [callee] */
    DS_NODE_PRINT,    /* prints its inputs at run time (effect) */
    DS_NODE_ASSIGN,   /* writes input 1 into graph parameter input 0, in place (effect) */
    DS_NODE_CALLBACK, /* calls a host function (effect) */
    DS_NODE_KIND_COUNT
} ds_node_kind;

/* A host function for DS_NODE_CALLBACK: reads `in`, writes `out` (preallocated to the declared types). */
typedef ds_status (*ds_host_fn)(void *ctx, int n_in, ds_tensor *const *in, int n_out, ds_tensor *const *out);

/* A new empty graph; release with ds_graph_release. */
ds_status ds_graph_new(const char *name, ds_graph **out);
ds_graph *ds_graph_retain(ds_graph *g);
void ds_graph_release(ds_graph *g);
const char *ds_graph_name(const ds_graph *g);
/* The symbolic dim named `name` (created on first use), for parameter shapes. */
ds_status ds_graph_symbol(ds_graph *g, const char *name, int64_t *dim);
/* Source location given to the nodes added after this call (file is copied). line 0 = none. */
void ds_graph_set_loc(ds_graph *g, const char *file, int line, int col);

/* Adds a graph parameter (an input). `weight` marks a trainable parameter that ASSIGN may update. */
ds_status ds_graph_add_param(ds_graph *g, const char *name, ds_dtype dt, int ndim, const int64_t *dims,
                             bool weight, ds_value **out);
/* Adds a constant (the graph keeps a reference to `value`). */
ds_status ds_graph_add_const(ds_graph *g, ds_tensor *value, ds_value **out);
/* Adds an op node; runs the op's shape/dtype inference (errors carry the node's source location).
 * `attrs` as for ds_op_run (copied). Fills out[0..*n_out). */
ds_status ds_graph_add_op(ds_graph *g, ds_op_id op, int n_in, ds_value *const *in, const ds_attr *attrs,
                          int max_out, ds_value **out, int *n_out);
/* Shorthand for single-output ops. */
ds_status ds_graph_add_op1(ds_graph *g, ds_op_id op, int n_in, ds_value *const *in, const ds_attr *attrs,
                           ds_value **out);
/* If(cond) then_g(args) else else_g(args): both branches take `args` as parameters and must return
 * outputs of the same dtypes and shapes. */
ds_status ds_graph_add_if(ds_graph *g, ds_value *cond, ds_graph *then_g, ds_graph *else_g, int n_args,
                          ds_value *const *args, int max_out, ds_value **out, int *n_out);
/* While cond_g(vals) -> bool scalar: vals = body_g(vals). Loop-carried values keep dtype and shape. */
ds_status ds_graph_add_while(ds_graph *g, ds_graph *cond_g, ds_graph *body_g, int n_vals,
                             ds_value *const *init, ds_value **out);
/* Calls `callee` with `args`. */
ds_status ds_graph_add_call(ds_graph *g, ds_graph *callee, int n_args, ds_value *const *args, int max_out,
                            ds_value **out, int *n_out);
/* Prints `prefix` then the values at run time, in program order. */
ds_status ds_graph_add_print(ds_graph *g, const char *prefix, int n, ds_value *const *vals);
/* Writes `value` into the weight parameter `param` in place, in program order. */
ds_status ds_graph_add_assign(ds_graph *g, ds_value *param, ds_value *value);
/* Calls fn(ctx, ...) at run time in program order; outputs have the given dtypes and shapes. `name` is
 * for printing. The callback pointer is not saved by ds_graph_save. */
ds_status ds_graph_add_callback(ds_graph *g, const char *name, ds_host_fn fn, void *ctx, int n_in,
                                ds_value *const *in, int n_out, const ds_dtype *out_dtypes,
                                const int *out_ndims, const int64_t *const *out_dims, ds_value **out);
/* Sets the graph's outputs (closes it for building). */
ds_status ds_graph_set_outputs(ds_graph *g, int n, ds_value *const *vals);

int ds_graph_num_params(const ds_graph *g);
ds_value *ds_graph_param(const ds_graph *g, int i);
int ds_graph_num_outputs(const ds_graph *g);
ds_value *ds_graph_output(const ds_graph *g, int i);
int ds_graph_num_nodes(const ds_graph *g);
ds_node *ds_graph_node(const ds_graph *g, int i);

ds_dtype ds_value_dtype(const ds_value *v);
int ds_value_ndim(const ds_value *v);
const int64_t *ds_value_dims(const ds_value *v);

/* Checks the graph's invariants (SSA, types agree with inference, effects ordered, subgraphs
 * well-formed); DS_ERR_INTERNAL with a message naming the node otherwise. */
ds_status ds_graph_verify(const ds_graph *g);
/* The graph as readable text (types, shapes, source lines); free with ds_free. */
ds_status ds_graph_print(const ds_graph *g, char **out);
/* The graph as a Graphviz `digraph` (render with `dot -Tsvg`); free with ds_free. Parameters, constants
 * (their values when small), op nodes (name, attributes, result types, file:line) and the outputs are
 * nodes; edges carry the value's name as in ds_graph_print, effect-token edges are dashed. Every graph
 * used through If/While/Call is drawn once as a `subgraph cluster_*`, with an edge from each node using
 * it. Labels are escaped (any names and strings are safe); the output is deterministic. */
ds_status ds_graph_print_dot(const ds_graph *g, char **out);
/* Parses text in the format ds_graph_print writes. */
ds_status ds_graph_parse(const char *text, ds_graph **out);
/* Versioned binary format with constants: to/from a memory buffer (free with ds_free) or a file.
 * Loading refuses malformed input with DS_ERR_VALUE and never crashes. */
ds_status ds_graph_save_buffer(const ds_graph *g, void **data, size_t *size);
ds_status ds_graph_load_buffer(const void *data, size_t size, ds_graph **out);
ds_status ds_graph_save(const ds_graph *g, const char *path);
ds_status ds_graph_load(const char *path, ds_graph **out);

/* Where print nodes write (default: stdout). The Python binding routes it to sys.stdout. */
void ds_set_print_hook(void (*fn)(void *ctx, const char *text), void *ctx);

/* Reference interpreter: runs the graph node by node with eager ops (for tests and as the oracle
 * of the optimizing executor). inputs[i] binds param i; outputs get new references. */
ds_status ds_graph_eval(const ds_graph *g, int n_in, ds_tensor *const *inputs, int max_out,
                        ds_tensor **outputs, int *n_out);

/* ---------------------------------------------------------------- passes
 * Optimization passes never modify their input: each returns a new, verified graph computing the same
 * values bit for bit, with the same parameters, outputs (types included) and effects in the same order.
 * Passes: "inline" (Calls, and Ifs on a constant condition), "simplify" (exact algebraic identities),
 * "fold" (constant folding with the kernels), "cse" (common subexpressions), "dce" (dead code). With a
 * dump directory (ds_set_dump_dir, else the environment variable DS_DUMP_IR), the input and the IR after
 * each pass are written there as "<graph>.<nn>.<pass>.ir" (text) and ".dot" (Graphviz), nn from 00 =
 * the input. A pass producing an invalid graph is DS_ERR_INTERNAL naming it. */

/* Sets the process-wide IR dump directory (copied; created with its parents when dumping starts), which
 * takes precedence over DS_DUMP_IR; NULL or "" clears it (then DS_DUMP_IR, if set, decides). Set it
 * before compiling: passes already running keep the directory they started with. A directory that
 * cannot be created or a file that cannot be written makes the pass pipeline fail with DS_ERR_VALUE
 * naming the path. DS_ERR_VALUE if `dir` is longer than 4095 bytes. */
ds_status ds_set_dump_dir(const char *dir);

/* Runs inline, simplify, fold, cse, dce in rounds until nothing changes (at most 8 rounds), on `g` and
 * its subgraphs. *out is a new graph; release it. */
ds_status ds_graph_optimize(const ds_graph *g, ds_graph **out);
/* Runs the one pass named `pass_name` (DS_ERR_VALUE if unknown). *out is a new graph; release it. */
ds_status ds_graph_run_pass(const ds_graph *g, const char *pass_name, ds_graph **out);

/* ---------------------------------------------------------------- executor
 * A plan is a graph compiled for execution ("plan once, run many"). Compiling specialises the graph to
 * the concrete shapes and dtypes of the inputs: execution order, a shape for every value, kernel
 * pointers with prebuilt calls, views as precomputed headers, one memory arena shared by values whose
 * lifetimes do not overlap (with in-place updates), and fused elementwise groups that run as one tiled
 * kernel over the thread pool. A plan keeps a small cache (8) of compiled variants keyed by the input
 * shapes and dtypes: new shapes compile once, alternating shapes do not recompile; once the cache is
 * full and misses again, inputs whose shapes keep varying are compiled with dynamic dims (one variant
 * for every size, ops on them run eagerly), so compiles stay bounded.
 * Running a compiled variant allocates nothing but the returned output tensors (and the values of ops
 * whose output shape depends on the data, such as nonzero). Results equal ds_graph_eval's exactly;
 * effects (print, assign, host callbacks) run in program order. Host callbacks see tensors over the
 * plan's memory: they must not keep references to them after returning. A plan runs on one thread at a
 * time. */
typedef struct ds_plan ds_plan;

/* Statistics of a plan (the variant used last, plus counters of the whole plan). */
typedef struct ds_plan_statistics {
    int64_t arena_bytes;   /* the variant's memory arena (intermediate values) */
    int64_t value_bytes;   /* sum of the sizes of the values placed in the arena, without reuse */
    int64_t scratch_bytes; /* tile scratch of the fused groups (all threads) */
    int n_steps;           /* top-level steps per run (kernels, groups, copies, control flow, effects) */
    int n_kernels;         /* kernel launches per run at the top level (a fused group counts once) */
    int n_groups;          /* fused elementwise groups (a lone elementwise op is a group of one) */
    int n_fused_groups;    /* groups of 2 or more ops */
    int n_fused_ops;       /* ops inside groups of 2 or more */
    int n_views;           /* view ops turned into precomputed headers (no run-time work) */
    int n_inplace;         /* values written into the buffer of an input at its last use */
    int n_dynamic;         /* nodes run eagerly at run time (data-dependent shapes) */
    int n_variants;        /* compiled variants in the cache */
    int64_t n_compiles;    /* variants compiled by this plan so far */
    int64_t n_runs;        /* runs of this plan so far */
    double compile_ms;     /* wall time of the last compile */
} ds_plan_statistics;

/* A new plan for `g` (which it retains; g must have its outputs set). Nothing is compiled until the first
 * run or ds_plan_compile. Release with ds_plan_release. */
ds_status ds_plan_new(const ds_graph *g, ds_plan **out);
ds_plan *ds_plan_retain(ds_plan *p);
void ds_plan_release(ds_plan *p); /* NULL is allowed */
/* Compiles (or finds in the cache) the variant for the shapes and dtypes of `inputs` (their data is not
 * read; declared-only tensors are fine) without running it. */
ds_status ds_plan_compile(ds_plan *p, int n_in, ds_tensor *const *inputs);
/* Runs the plan: inputs[i] binds graph parameter i (non-contiguous inputs are copied first; weights
 * written by assign are updated in place). Compiles a variant if the shapes are new. Fills
 * outputs[0..*n_out) with new references to freshly allocated tensors. */
ds_status ds_plan_run(ds_plan *p, int n_in, ds_tensor *const *inputs, int max_out, ds_tensor **outputs,
                      int *n_out);
/* Like ds_plan_run, but writes the results into the caller's tensors outputs[0..n_out), which must
 * have the outputs' dtypes and shapes (n_out = the number of graph outputs). Contiguous outputs that
 * share no memory with the inputs are written directly by the kernels (no copy); with them, a run of a
 * compiled variant without data-dependent shapes performs no allocation at all. */
ds_status ds_plan_run_into(ds_plan *p, int n_in, ds_tensor *const *inputs, int n_out,
                           ds_tensor *const *outputs);
/* Fills *out with the plan's statistics. */
void ds_plan_stats(const ds_plan *p, ds_plan_statistics *out);

/* ---------------------------------------------------------------- autodiff
 * Reverse-mode differentiation, one mechanism for graphs and eager code: every op has a gradient rule
 * written as IR (or is declared to have a zero gradient, or none), and the reverse pass applies the
 * rules to a graph. If, While and Call are differentiated (While by saving the carried values of each
 * iteration and recomputing the body in the backward; the result equals the unrolled loop's gradient).
 * stop_gradient blocks gradients. Gradient graphs contain only differentiable ops, so they can be
 * differentiated again (higher orders; through While, second order at most). */

/* A new graph computing gradients of graph g. Its parameters are g's parameters, followed (with
 * sens_param) by one sensitivity per selected output, of that output's type; without sens_param every
 * selected output must be a scalar (one element), seeded with 1. It returns g's outputs followed by the
 * gradients of the selected outputs (summed, weighted by the sensitivities) with respect to the
 * parameters wrt_params[0..n_wrt), each of its parameter's type (zeros where a parameter does not
 * reach the outputs). outputs[] index g's outputs, wrt_params[] its parameters; both must be float.
 * The forward is recomputed inside the new graph with its effects in order and source locations kept.
 * Fails on ops without a gradient that a gradient would flow through, naming the op and its location.
 * *out is a new reference (release with ds_graph_release); g is not modified. */
ds_status ds_graph_grad(const ds_graph *g, int n_outputs_sel, const int *outputs, int n_wrt, const int *wrt_params,
                        bool sens_param, ds_graph **out);

/* An eager tape: records the ops run on tensors that require grad, as an IR graph bound to the live
 * tensors, and differentiates it. Refcounted; the tape holds references to every tensor it has seen
 * until it is released. A tape is used by one thread at a time. */
typedef struct ds_tape ds_tape;

/* A new empty tape; release with ds_tape_release. */
ds_status ds_tape_new(ds_tape **out);
ds_tape *ds_tape_retain(ds_tape *t);
void ds_tape_release(ds_tape *t); /* NULL is allowed; an active tape is deactivated */
/* Marks x (a float tensor) as a leaf that requires grad. Ops recorded afterwards that read it are
 * differentiated with respect to it. */
ds_status ds_tape_watch(ds_tape *t, ds_tensor *x);
/* Whether x requires grad on this tape (a watched leaf or the output of a recorded op). */
bool ds_tape_requires_grad(const ds_tape *t, const ds_tensor *x);
/* Records one op that has just run: inputs[0..n_in) produced outputs[0..n_out) with `attrs` (as given
 * to ds_op_run), on t and on the tapes t is nested in (ds_tape_push). Does nothing on a tape where no
 * input requires grad or the op's gradient is identically zero; refuses in-place writes (index_put)
 * into tensors that require grad. Appends one node per tape. */
ds_status ds_tape_record(ds_tape *t, ds_op_id op, int n_in, ds_tensor *const *inputs, const ds_attr *attrs, int n_out,
                         ds_tensor *const *outputs);
/* The tape eager dispatch records on, for this thread (NULL: none). Recording on a tape also records
 * on the tapes it is nested in (ds_tape_push), so nested gradients see every op. */
ds_tape *ds_tape_active(void);
/* Makes t (may be NULL) this thread's active tape and returns the previous one; t records together
 * with the tapes it was pushed inside of (none unless it is on the stack). Setting NULL pauses all
 * recording (no_grad); setting the returned tape back resumes it. The caller keeps t alive while it
 * is active. */
ds_tape *ds_tape_set_active(ds_tape *t);
/* Pushes t (not already active or nested) on this thread's stack of tapes: it becomes the active tape
 * and the previously active one keeps recording (every op is recorded on both). Retains t. */
ds_status ds_tape_push(ds_tape *t);
/* Pops t, which must be the active tape pushed by ds_tape_push; its outer tape becomes active again.
 * Releases the stack's reference. DS_ERR_VALUE if t is not the active tape. */
ds_status ds_tape_pop(ds_tape *t);
/* Gradients of outputs[0..n_out) (tensors recorded on the tape), weighted by sens[i] (of output i's
 * dtype and shape; sens or sens[i] NULL: output i must have one element and is seeded with 1), with
 * respect to wrt[0..n_wrt) (watched leaves or recorded tensors; others get zeros). Fills grads[i]
 * with new references of wrt[i]'s shape and dtype. The tape stays usable.
 * The backward runs eagerly with recording on the thread's active tapes except t itself: a backward
 * run while an outer tape is active (a gradient inside a function being differentiated) is recorded
 * there, so it can be differentiated again. A hooked tensor (ds_tape_add_hook) is differentiated
 * through its hooks: its gradient is the one its hooks return. */
ds_status ds_tape_backward(ds_tape *t, int n_out, ds_tensor *const *outputs, ds_tensor *const *sens, int n_wrt,
                           ds_tensor *const *wrt, ds_tensor **grads);
/* The tape's graph (borrowed; open: it has no outputs set), for inspection. */
const ds_graph *ds_tape_graph(const ds_tape *t);

/* Custom backward functions: a node of the tape whose backward is a host function (a Python bprop,
 * a tensor hook, a registered op gradient). It runs while the backward graph is evaluated, with the
 * node's inputs and outputs (the live tensors) and the cotangents of its outputs (zeros where none
 * flows); ops it runs are recorded on the active tapes, so its result can be differentiated again. */
typedef struct ds_tape_vjp_args {
    int n_in;
    ds_tensor *const *inputs;
    int n_out;
    ds_tensor *const *outputs;
    ds_tensor *const *gout;   /* n_out cotangents of the outputs */
    const bool *need;         /* need[i]: input i wants a cotangent (a float input that requires grad) */
    ds_op_id op;              /* the op of a node recorded for an op gradient override, else DS_OP_COUNT */
    const ds_attr *attrs;     /* its attrs in schema order (all filled), else NULL */
    const char *name;         /* the node's name */
} ds_tape_vjp_args;
/* Writes the cotangent of input i into gin[i] (a new reference of input i's shape; NULL = zero) for
 * the inputs with need[i]; gin[] is all NULL on entry. On failure sets the error and returns it (gin
 * entries already set are released by the caller). */
typedef ds_status (*ds_tape_vjp_fn)(void *ctx, const ds_tape_vjp_args *a, ds_tensor **gin);
/* A backward function with its context; retain/release (may be NULL) keep ctx alive as long as a
 * tape or the op registry refers to it. */
typedef struct ds_tape_vjp {
    ds_tape_vjp_fn fn;
    void *ctx;
    void (*retain)(void *ctx);
    void (*release)(void *ctx);
} ds_tape_vjp;

/* Records a custom node on t and the tapes it is nested in: outputs[0..n_out) were computed from
 * inputs[0..n_in) (by code that was not recorded), and their backward is `vjp`. Does nothing on a
 * tape where no input requires grad; the float outputs then require grad. An output may be one of the
 * inputs (an identity node: later uses read the node's output). At most 64 outputs and
 * n_in + 2 * n_out <= 256. `name` is copied. */
ds_status ds_tape_record_custom(ds_tape *t, const char *name, int n_in, ds_tensor *const *inputs, int n_out,
                                ds_tensor *const *outputs, const ds_tape_vjp *vjp);
/* Adds a hook on x for t and the tapes it is nested in where x requires grad: an identity node whose
 * backward is `vjp` (one input, x; one output, x), so the gradient flowing into x from its later uses
 * goes through the hook. Adding the same ctx to x twice in a row adds it once. */
ds_status ds_tape_add_hook(ds_tape *t, ds_tensor *x, const ds_tape_vjp *vjp);
/* Records, on t and the tapes it is nested in where `base` requires grad, that `view` (a header made
 * without ds_op_run, e.g. by ds_tensor_slice / select / unsqueeze / permute for basic indexing) views
 * elements of `base`: its later uses are differentiated into base. DS_ERR_VALUE if view does not view
 * distinct elements of base's storage within base's memory span. (Unrecorded views of a contiguous
 * tensor requiring grad are also adopted automatically when an op reads them or they are an output of
 * ds_tape_backward; recording them explicitly is exact, also for non-contiguous bases.) */
ds_status ds_tape_record_view(ds_tape *t, ds_tensor *base, ds_tensor *view);
/* DS_ERR_UNSUPPORTED if an in-place write of src (may be NULL) into dst, made without ds_op_run (slice
 * assignment through ds_tensor_copy_into), would break a gradient on t or the tapes it is nested in:
 * dst or src requires grad (itself or as a view of the memory of a tensor that does). */
ds_status ds_tape_check_write(const ds_tape *t, const ds_tensor *dst, const ds_tensor *src);
/* Overrides the gradient of `op` for eager recording (process-wide): while set, ops `op` recorded on
 * any tape become custom nodes whose backward is `vjp` (args.op and args.attrs tell the op and its
 * attrs). vjp NULL removes the override. Effectful ops (random draws, in-place writes) are never
 * overridden. */
ds_status ds_tape_set_op_vjp(ds_op_id op, const ds_tape_vjp *vjp);

/* ---------------------------------------------------------------- graph capture
 * A trace builds a graph by running ordinary eager code on symbolic tensors. While a trace is active
 * on the thread (ds_trace_set_active), ds_op_run adds a node to the trace's graph instead of running
 * when an input is mapped in the trace or its ancestors, or the op is effectful (random draws,
 * index_put, the optimizer *_update ops), and returns new symbolic tensors for the outputs; other ops
 * run eagerly as usual (their results become constants of the graph when a later node reads them).
 * Nothing is recorded on tapes for traced ops.
 * - A symbolic tensor is a declared-only tensor (no data; unknown and symbolic dims are -1) that the
 *   trace maps to a value of its graph. Reading its data fails. A concrete tensor may be mapped too
 *   ("bound", e.g. a weight given to ds_trace_add_param): ops on it then read the graph value.
 * - An unmapped concrete input becomes a constant holding a copy of its value at its first use (one
 *   constant per tensor and graph). An in-place effect (index_put, *_update) must write mapped tensors.
 * - Control flow: sub traces are made in a group of siblings sharing their parameters
 *   (ds_trace_new_group): the explicit ones, then one per "capture": a tensor mapped in an ancestor
 *   that any sibling reads becomes a parameter appended to every sibling's graph, and the group
 *   records the outer tensor (captures lift through several levels). A sibling is finished with its
 *   outputs (ds_trace_finish); its graph gets them when the group is used by ds_trace_add_if /
 *   ds_trace_add_while / ds_trace_add_call or ds_trace_get_graph (which close the whole group).
 * Traces are refcounted; a sub trace keeps its parent alive. A trace is used by one thread at a time. */
typedef struct ds_trace ds_trace;

/* The type of an explicit parameter of a group (dims as for ds_graph_add_param, symbols of the parent
 * trace's graph). */
typedef struct ds_trace_param_type {
    const char *name;
    ds_dtype dtype;
    int ndim;
    const int64_t *dims;
} ds_trace_param_type;

/* A new root trace building an empty graph named `name`. Release with ds_trace_release. */
ds_status ds_trace_new(const char *name, ds_trace **out);
ds_trace *ds_trace_retain(ds_trace *t);
void ds_trace_release(ds_trace *t); /* NULL is allowed */
/* This thread's active trace (NULL: none). */
ds_trace *ds_trace_active(void);
/* Makes t (may be NULL) this thread's active trace and returns the previous one, which the caller
 * restores when done. The caller keeps t alive while it is active. Plans and ds_graph_eval suspend the
 * active trace while they run (their ops run eagerly). */
ds_trace *ds_trace_set_active(ds_trace *t);
/* The trace's graph (borrowed; open until the trace is finished or its group is closed). */
ds_graph *ds_trace_graph(const ds_trace *t);
/* The parent of a sub trace (borrowed; NULL for a root). */
ds_trace *ds_trace_parent(const ds_trace *t);
/* Whether ds_trace_finish was called on t. */
bool ds_trace_is_finished(const ds_trace *t);
/* Source location of the nodes added to t's graph from now on (ds_graph_set_loc); sub traces start
 * with their parent's current location. */
void ds_trace_set_loc(ds_trace *t, const char *file, int line, int col);
/* Adds a parameter to the graph of root trace t and fills *out (may be NULL) with a new symbolic
 * tensor for it. `bind` (may be NULL) is a concrete tensor of the same dtype and rank (and the known
 * dims) that is mapped to the parameter too: pass it to ds_plan_run for that parameter, and in-place
 * effects on the parameter (assign, *_update, index_put) update it. */
ds_status ds_trace_add_param(ds_trace *t, const char *name, ds_dtype dt, int ndim, const int64_t *dims, bool weight,
                             ds_tensor *bind, ds_tensor **out);
/* Whether x is a symbolic tensor (made by a trace; its data can never be read). */
bool ds_tensor_is_symbolic(const ds_tensor *x);
/* The value x maps to in t, or else in the nearest ancestor mapping it (a value of that ancestor's
 * graph; borrowed); NULL when x is mapped nowhere (constants do not count). Does not capture. */
ds_value *ds_trace_lookup(const ds_trace *t, const ds_tensor *x);
/* Creates n sibling sub traces of `parent` (not finished) in subs[0..n) (new references), with
 * graphs named names[i] (names or names[i] may be NULL: "<parent graph>.<i>") and the explicit
 * parameters params[0..n_params) in each. */
ds_status ds_trace_new_group(ds_trace *parent, int n, const char *const *names, int n_params,
                             const ds_trace_param_type *params, ds_trace **subs);
/* Explicit parameters of a sub trace: their number and the symbolic tensor of parameter i (borrowed). */
int ds_trace_num_params(const ds_trace *sub);
ds_tensor *ds_trace_param(const ds_trace *sub, int i);
/* Captures of a sub trace's group so far: their number, and the outer tensor of capture i (borrowed),
 * which is graph parameter ds_trace_num_params(sub) + i of every sibling. */
int ds_trace_num_captures(const ds_trace *sub);
ds_tensor *ds_trace_capture(const ds_trace *sub, int i);
/* Finishes t with outputs outs[0..n_out) (symbolic tensors of t, tensors mapped in an ancestor, which
 * are captured, or concrete tensors, which become constants). A root trace's graph gets its outputs
 * and *out (may be NULL) a new reference to it. For a sub trace the outputs are recorded for its
 * group and `out` must be NULL. No ops can be added to a finished trace. */
ds_status ds_trace_finish(ds_trace *t, int n_out, ds_tensor *const *outs, ds_graph **out);
/* A new reference to t's graph. For a finished sub trace this closes its group first (every sibling
 * must be finished; each graph gets its recorded outputs); a root's graph may still be open. */
ds_status ds_trace_get_graph(ds_trace *t, ds_graph **out);
/* If(cond) in t over two finished siblings of a group whose parent is t: then_sub's graph if cond
 * (a bool scalar) is true, else else_sub's, called with args[0..n_args) (one per explicit group
 * parameter) followed by the captures. Fills outs[0..*n_out) with new symbolic tensors. */
ds_status ds_trace_add_if(ds_trace *t, ds_tensor *cond, ds_trace *then_sub, ds_trace *else_sub, int n_args,
                          ds_tensor *const *args, int max_out, ds_tensor **outs, int *n_out);
/* While in t over two finished siblings of a group whose parent is t: cond_sub returns one bool
 * scalar; body_sub returns the new loop-carried values. The explicit group parameters are the
 * loop-carried values and init[0..n_init) their initial values: the parameters' types must equal the
 * initial values' and the values the body returns, symbolic dims included (DS_ERR_SHAPE naming the
 * types otherwise). The captures are passed through the loop unchanged (appended to the body's
 * outputs). Fills outs[0..n_init) with the final values. */
ds_status ds_trace_add_while(ds_trace *t, ds_trace *cond_sub, ds_trace *body_sub, int n_init, ds_tensor *const *init,
                             ds_tensor **outs);
/* Calls, in t, `callee` (NULL: the graph of sub, a finished sub trace whose parent is t) with
 * args[0..n_args) (the explicit parameters), then the captures of sub's group, then extra[0..n_extra).
 * With callee = ds_graph_grad(graph of sub, ..., sens_param = true), extra are the sensitivities.
 * Fills outs[0..*n_out) with new symbolic tensors. */
ds_status ds_trace_add_call(ds_trace *t, ds_trace *sub, ds_graph *callee, int n_args, ds_tensor *const *args,
                            int n_extra, ds_tensor *const *extra, int max_out, ds_tensor **outs, int *n_out);
/* Adds a print of `prefix` and vals[0..n) to t's graph (in program order when it runs). */
ds_status ds_trace_add_print(ds_trace *t, const char *prefix, int n, ds_tensor *const *vals);
/* Adds an assign of `value` into `target`, which must map to a weight parameter of t's graph (a
 * tensor bound to a weight parameter, or its symbolic tensor; in a sub trace, a captured one). */
ds_status ds_trace_add_assign(ds_trace *t, ds_tensor *target, ds_tensor *value);
/* From now on x (any tensor) maps in t to the value `value` maps to (the functional form of an
 * in-place update such as x[i] = v; a concrete unmapped `value` becomes a constant, so
 * ds_trace_rebind(t, x, x) makes x a graph value holding its current data). The mapping is t's own:
 * ancestors keep theirs. */
ds_status ds_trace_rebind(ds_trace *t, ds_tensor *x, ds_tensor *value);

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
