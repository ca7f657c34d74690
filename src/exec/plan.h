/* The graph executor's internals (public API in include/dynastat.h, section "executor").
 *
 * A ds_plan holds a small cache of variants, each the graph compiled for one signature of input shapes
 * and dtypes. A variant has one slot per graph value (plus extra slots for copies and loop buffers): a
 * tensor header the steps read and write, whose data points into the variant's arena, at a constant, at
 * the caller's input (re-pointed each run) or into another slot's memory (views). Steps run in order:
 * op kernels with prebuilt ds_op_call structs, fused elementwise groups, copies, control flow through
 * the variants of subplans, effects, and eager steps for values whose shape depends on the data.
 *
 * Files: plan.c (API, variant cache, running), plan_build.c (compiling), plan_fuse.c (grouping and the
 * tiled group kernel), plan_memory.c (liveness, in-place, arena offsets), plan_steps.c (running steps). */
#ifndef DS_EXEC_PLAN_H
#define DS_EXEC_PLAN_H
#include <stdatomic.h>

#include "base/arena.h"
#include "exec/exec.h"
#include "ir/ir.h"
#include "kernels/elementwise.h"

#define DS_PLAN_CACHE 8        /* compiled variants kept per plan */
#define DS_PLAN_MAX_DEPTH 200  /* nested If/While/Call, as in the interpreter */
#define DS_PLAN_LAST_NONE (-1) /* slot never read */
#define DS_PLAN_LAST_END 0x3fffffff /* live until the end of the run (graph outputs) */

typedef struct plan_variant plan_variant;
typedef struct plan_group plan_group;

/* ---------------------------------------------------------------- slots */
typedef enum slot_kind {
    SLOT_NONE,  /* a state token, or nothing */
    SLOT_PARAM, /* a graph parameter: bound to the caller's (contiguous) tensor each run (a parameter
                   compiled with dynamic dims is a DYN slot whose env is the caller's tensor) */
    SLOT_CONST, /* a header over a constant's data */
    SLOT_ARENA, /* a contiguous buffer in the arena (a root) */
    SLOT_VIEW,  /* a precomputed header over the memory of `root` at byte offset `off` */
    SLOT_FUSED, /* lives only in a fused group's tile scratch */
    SLOT_DYN,   /* produced at run time with a data-dependent shape: env holds a new reference */
} slot_kind;

typedef struct plan_slot {
    slot_kind kind;
    int root;       /* VIEW: its root slot (PARAM, CONST or ARENA); other kinds: itself */
    int buf;        /* ARENA: union-find parent of the buffer it shares (in-place updates) */
    int64_t off;    /* VIEW: byte offset from the root's data; ARENA (buffer root): offset in the arena */
    int64_t nbytes; /* ARENA: size of the buffer */
    int def, last;  /* step defining it and last step reading it (roots count their views' reads) */
    bool movable;   /* its data pointer changes per run (params, outputs bound to the caller's tensors) */
    bool external;  /* read outside its producer's fused group (or a graph output) */
    bool outside;   /* ARENA output root without arena memory: always bound (to the destination, or to a
                       temporary when the destination cannot be written directly) */
    ds_meta meta;   /* concrete type (DYN: dims may be DS_DIM_UNKNOWN) */
} plan_slot;

/* ---------------------------------------------------------------- steps */
typedef enum step_kind {
    STEP_KERNEL,   /* an op kernel on prebuilt headers */
    STEP_FUSED,    /* a fused elementwise group */
    STEP_COPY,     /* in[0] -> out[0] (reshape without a view, contiguous arguments of subplans) */
    STEP_EAGER,    /* an op run eagerly (dynamic shapes): outputs are new tensors */
    STEP_IF,
    STEP_WHILE,
    STEP_CALL,
    STEP_PRINT,
    STEP_ASSIGN,
    STEP_CALLBACK,
    STEP_KIND_COUNT
} step_kind;

typedef struct plan_step {
    step_kind kind;
    bool dynamic;        /* control flow through the subplans' general path (outputs DYN) */
    bool gather;         /* some inputs are DYN: refresh in[] from env before running */
    const ds_node *node; /* the node (for errors); for groups, the last member */
    int n_in, n_out;
    int *in_ids, *out_ids; /* slot ids (data values only) */
    ds_tensor **in, **out; /* the headers (in[] refreshed from env when gather) */
    ds_run_fn run;         /* KERNEL */
    ds_op_call call;       /* KERNEL */
    plan_group *grp;       /* FUSED */
    plan_variant *sub[2];  /* static If (then, else), While (cond, body), Call (callee): retained */
    ds_plan *subplan[2];   /* the subplans (borrowed from the plan) */
    ds_tensor **wb;        /* static While: the second set of loop buffers; wb[n_out] = cond result */
    int n_members;         /* FUSED: member node ids in program order */
    int *members;
} plan_step;

/* ---------------------------------------------------------------- variants and plans */
struct plan_variant {
    int64_t refcount;
    ds_arena mem; /* every structure of the variant */
    const ds_graph *g;
    int depth;
    int n_key;
    int64_t *key; /* per input: dtype, ndim, dims... (-1: any size) */
    int n_slots, cap_slots;
    plan_slot *slots;
    ds_tensor *hdr;  /* one header per slot */
    ds_tensor **env; /* per slot: the tensor steps read (headers, or DYN tensors during a run) */
    ds_storage storage; /* the arena's storage record (headers' storage) */
    char *data;         /* arena, then tile scratch (one ds_malloc block) */
    int64_t arena_bytes, value_bytes, scratch_bytes;
    char *scratch;
    int scratch_tasks;
    int64_t scratch_per_task;
    int n_steps, cap_steps;
    plan_step *steps;
    int n_params;
    int *param_ids;
    int n_outputs;
    int *out_ids;   /* slot of each graph output */
    int *out_bind;  /* root slot bound to the caller's tensor, or -1 (copy at the end) */
    int n_rebind;
    int *rebind;    /* views over movable roots, in dependency order */
    int n_dyn;
    int *dyn_ids;
    ds_ptrvec owned; /* tensors the variant keeps (contiguous copies of constants) */
    /* per run */
    ds_tensor **tmp_in; /* contiguous copies of non-contiguous inputs */
    ds_tensor **tmp_out; /* temporaries for `outside` outputs whose destination is unusable */
    ds_tensor *const *orig_in;
    bool *bound;        /* output i was written in place into its destination */
    ds_tensor **dst;    /* destination of each output */
    bool *owned_out;    /* dst[i] was allocated by the run */
    /* statistics */
    int n_kernels, n_groups, n_fused_groups, n_fused_ops, n_views, n_inplace, n_dynamic;
};

struct ds_plan {
    int64_t refcount;
    ds_graph *g;
    int depth;
    plan_variant *cache[DS_PLAN_CACHE]; /* most recently used first */
    int n_cache;
    ds_plan **subs; /* 2 per node: plans of its subgraphs (created on first need) */
    bool *dyn_param; /* parameters compiled with dynamic dims (their shapes kept changing) */
    int64_t n_compiles, n_runs;
    double compile_ms;
};

/* ---------------------------------------------------------------- plan.c */
/* The variant of p for these input types (compiled on a miss, then first in the cache). Borrowed. */
ds_status plan_variant_get(ds_plan *p, int n_in, const ds_meta *in, plan_variant **out);
ds_status plan_variant_for(ds_plan *p, int n_in, ds_tensor *const *inputs, plan_variant **out);
void plan_variant_release(plan_variant *v);
/* The plan of subgraph k of node n of p's graph (created on first use). Borrowed. */
ds_status plan_sub(ds_plan *p, const ds_node *n, int k, ds_plan **out);
/* Runs variant v. dests[i] (may be NULL, or have NULL entries) receive output i; outputs without a
 * destination go to results[i] as new references (results may be NULL when every dest is given). */
ds_status plan_exec(plan_variant *v, ds_tensor *const *inputs, ds_tensor *const *dests, ds_tensor **results);
/* Runs a subplan on tensors of any shape (compiling if needed); results get new references. */
ds_status plan_run_general(ds_plan *p, int n_in, ds_tensor *const *inputs, ds_tensor **results);

/* ---------------------------------------------------------------- plan_build.c */
/* Compiles p's graph for the input types `in` (already validated) into a new variant. */
ds_status plan_compile(ds_plan *p, const ds_meta *in, plan_variant **out);
/* A new extra slot (copies, loop buffers) of contiguous type m; -1 on NOMEM. */
int plan_new_slot(plan_variant *v, const ds_meta *m);

/* ---------------------------------------------------------------- plan_fuse.c */
/* Whether node n can run inside a fused group given its inputs' and output's types. */
bool plan_fusable(const plan_variant *v, const ds_node *n);
/* Partitions the fusable nodes (fusable[i]) into groups: group[i] = group id or -1. Returns the count. */
int plan_fuse_partition(const ds_graph *g, const bool *fusable, const int *segment, const plan_variant *v,
                        int *group);
/* Builds the tiled program of fused step s (its members: node ids in program order) and chooses
 * in-place outputs; scratch needs go to v->scratch_per_task. Needs liveness. */
ds_status plan_group_build(plan_variant *v, int s);
/* Runs a fused group. Never fails. */
void plan_group_run(plan_variant *v, plan_group *grp);

/* ---------------------------------------------------------------- plan_memory.c */
/* Steps defining and reading each slot (v->slots[].def/.last). */
void plan_liveness(plan_variant *v);
/* Union-find root of slot s's buffer. */
int plan_buf_find(plan_variant *v, int s);
/* Offsets of the arena buffers (greedy best fit by size over lifetimes); sets arena/value bytes. */
ds_status plan_memory_assign(plan_variant *v);

/* ---------------------------------------------------------------- plan_steps.c */
/* Runs step s of v; errors carry the node's op name and source location. */
ds_status plan_step_run(plan_variant *v, plan_step *s);
/* dst = src (same shape; dtype converted), element by element; never allocates. */
ds_status plan_copy(ds_tensor *dst, const ds_tensor *src);
/* Whether the memory spans of two tensors overlap. */
bool plan_overlap(const ds_tensor *a, const ds_tensor *b);
/* Adds "file:line:col: " of node n to the current error unless already there. */
void plan_error_loc(const ds_node *n);
#endif
