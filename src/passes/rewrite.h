/* The mutation toolkit the passes share.
 *
 * Convention: a pass never mutates its input. It rebuilds: it walks the source graph in program order
 * and emits into a new graph through the builder (so inference re-checks every node, tokens are
 * re-threaded in program order, and locations are kept), deciding per node to clone it, replace its
 * outputs with values already emitted, or drop it. Subgraphs (If/While/Call) are transformed by the same
 * pass, once per distinct subgraph. The result is a new graph the pass manager verifies.
 *
 * Invariants the engine enforces on every pass: every value keeps its type (dtype and dims) -- a pass
 * that would change one gets DS_ERR_INTERNAL naming it; a node reading a dropped value is dropped too,
 * and an effect reading one, or a dropped graph output, is DS_ERR_INTERNAL naming the pass. Effects are
 * re-emitted in the order the walk meets them, so they keep their order; keeping them at all is each
 * pass's duty (passes only ever drop nodes that are not effects).
 *
 * What passes may change: which tensors alias. After CSE, simplify and fold, two graph outputs may be
 * the same value, and an output may be a parameter or a constant of the graph. A consumer that hands
 * outputs to users as mutable tensors (executor, binding) must copy those.
 *
 * In-place helpers (ds_rw_replace_uses, ds_rw_remove_nodes) are offered for code that edits a graph it
 * owns and that nobody else has seen (autodiff, front ends); the passes themselves do not use them. */
#ifndef DS_PASSES_REWRITE_H
#define DS_PASSES_REWRITE_H
#include <limits.h>

#include "ir/ir.h"

typedef struct ds_rw ds_rw;

/* A pass expressed as a rebuild. All hooks are optional. */
typedef struct ds_rw_pass {
    const char *name;
    /* Per source graph analysis, called when the rebuild of `src` starts (also for each subgraph);
     * the state is rw->state while that graph is rebuilt and freed by `release`. */
    ds_status (*prepare)(ds_rw *rw, const ds_graph *src, void **state);
    void (*release)(void *state);
    /* Decides what node `n` becomes (n belongs to rw->frame->src: the graph being rebuilt, or a body
     * being inlined). `in` are the dst values of its data inputs (no token). It must
     * set out[0..data outputs) to dst values of the same types (emitting nodes or reusing values),
     * or to NULL to drop a value nothing uses. NULL visit = ds_rw_clone_node. */
    ds_status (*visit)(ds_rw *rw, const ds_node *n, ds_value *const *in, ds_value **out);
    /* Compute the alias analysis of each source graph (ds_rw_can_replace) before the walk. */
    bool needs_alias;
    void *ctx; /* pass-wide data */
} ds_rw_pass;

typedef struct ds_rw_run ds_rw_run; /* one application of a pass to a graph and its subgraphs */
typedef struct ds_rw_alias ds_rw_alias;

/* One source graph being walked into rw->dst (several when Call bodies are inlined). */
typedef struct ds_rw_frame {
    const ds_graph *src;
    ds_value **map; /* src value id -> dst value */
    struct ds_rw_frame *parent;
    int depth; /* inline depth, 0 for the graph being rebuilt */
} ds_rw_frame;

struct ds_rw {
    const ds_rw_pass *pass;
    ds_rw_run *run;
    ds_graph *dst;
    ds_rw_frame *frame;  /* innermost source graph */
    ds_rw_frame root;    /* the graph being rebuilt */
    void *state;         /* from pass->prepare */
    ds_rw_alias *alias;  /* root frame's alias analysis (needs_alias) */
    int *dst_fw;         /* dst value id -> first write position of its source classes */
    int dst_fw_cap;
    const char *loc_src_file, *loc_dst_file; /* last location file translated */
    int depth;           /* subgraph nesting */
};

/* Applies `pass` to `src` (and its subgraphs), producing a new graph (*out, release it) that is not yet
 * verified. *changes (may be NULL) counts the rewrites the pass reported with ds_rw_changed. */
ds_status ds_rw_apply(const ds_rw_pass *pass, const ds_graph *src, ds_graph **out, int *changes);

/* Counts n rewrites (the pass manager iterates to a fixed point on these). */
void ds_rw_changed(ds_rw *rw, int n);

/* Emits a copy of `n` with inputs `in` (data only) into rw->dst, its subgraphs transformed by the
 * current pass; fills out[] with the copy's data outputs. */
ds_status ds_rw_clone_node(ds_rw *rw, const ds_node *n, ds_value *const *in, ds_value **out);
/* Emits op `op` at the source location of `like` (attrs: info->n_attrs entries or NULL). */
ds_status ds_rw_emit_op(ds_rw *rw, const ds_node *like, ds_op_id op, int n_in, ds_value *const *in,
                        const ds_attr *attrs, ds_value **out);
/* Emits a constant (retained) at the source location of `like`. */
ds_status ds_rw_emit_const(ds_rw *rw, const ds_node *like, ds_tensor *t, ds_value **out);
/* The current pass applied to subgraph `sub` (memoized per run; the run owns the reference). */
ds_status ds_rw_subgraph(ds_rw *rw, const ds_graph *sub, ds_graph **out);
/* Walks the nodes of `sub` into rw->dst with its parameters bound to `args` (dst values), through the
 * pass's visit (so nested nodes are transformed too); outs[i] = what sub's output i became. Inline
 * depth is capped at DS_RW_MAX_INLINE_DEPTH (DS_ERR_VALUE). Alias queries do not cover inlined nodes. */
#define DS_RW_MAX_INLINE_DEPTH 64
ds_status ds_rw_inline(ds_rw *rw, const ds_graph *sub, ds_value *const *args, ds_value **outs);

/* Undo support: a mark records the dst graph's end; rollback removes every node emitted since
 * (releasing constants and subgraphs, restoring uses and the token). */
typedef struct ds_rw_mark {
    int nodes, values;
    ds_value *cur_token, *entry_token;
} ds_rw_mark;
void ds_rw_mark_get(const ds_rw *rw, ds_rw_mark *m);
void ds_rw_rollback(ds_rw *rw, const ds_rw_mark *m);

/* ---------------------------------------------------------------- in-place writes and aliasing
 * Values may be written in place after they are computed (ASSIGN writes a weight parameter, INDEX_PUT
 * its first input, and effectful If/While/Call/callback nodes may write their arguments), and views
 * share storage. A rewrite that makes later reads see a different tensor than before (replacing y by x,
 * merging two nodes, folding) is only safe while no such write intervenes. The analysis groups source
 * values into may-alias classes (views, ops that may return an input, structural nodes) and records
 * each class's first write position in program order; writes to anything but a parameter count as
 * happening before everything (the class is never touched). Requires pass->needs_alias. */

/* True when replacing root-frame source value `y` by an expression reading the dst values `reads`
 * (the replacement itself included) cannot change what any read observes: every use of y comes
 * before the first write to y's class and to the classes of every value in `reads`. */
bool ds_rw_can_replace(const ds_rw *rw, const ds_value *y, ds_value *const *reads, int n_reads);
/* Whether `n`'s outputs may be replaced at all (each is unused or read before any write to it). */
bool ds_rw_node_replaceable(const ds_rw *rw, const ds_node *n);

/* ---------------------------------------------------------------- whole-graph helpers */
/* A deep copy of `g` (subgraphs copied once each, sharing preserved); release *out. */
ds_status ds_rw_clone(const ds_graph *g, ds_graph **out);
/* Replaces every use of `old` (node inputs and graph outputs) by `new` in `g`, in place. Both must be
 * values of `g` with equal types and `new` must be defined before the first use of `old`
 * (DS_ERR_INTERNAL otherwise, nothing changed). *n_replaced (may be NULL) counts the uses replaced. */
ds_status ds_rw_replace_uses(ds_graph *g, ds_value *old, ds_value *new, int *n_replaced);
/* Removes, in place, the nodes for which dead(node, ctx) is true, then renumbers nodes and values
 * densely in program order. A dead node must not be effectful and its outputs must have no uses
 * (DS_ERR_INTERNAL otherwise, nothing changed). Releases their constants and subgraphs. */
ds_status ds_rw_remove_nodes(ds_graph *g, bool (*dead)(const ds_node *n, void *ctx), void *ctx, int *n_removed);
#endif
