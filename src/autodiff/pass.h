/* The reverse pass's working state, shared by grad.c (analysis, straight-line code, ds_graph_grad),
 * grad_control.c (If, Call, While) and tape.c.
 *
 * A context differentiates one source graph `src`. Its forward values are re-emitted into `fg` and
 * the backward is emitted into `bg`:
 *   fg == bg          ds_graph_grad's top level, and loop bodies recomputed inside a loop's backward
 *   fg != bg          branches and callees: the backward graph receives the forward values it uses
 *                     as extra parameters ("residuals"), which the augmented forward graph returns
 *   fg == src (tape)  the forward already ran; residuals are bound to the tape's live tensors
 *   bg == NULL        a forward-only copy (cond and body of an augmented loop) */
#ifndef DS_AUTODIFF_PASS_H
#define DS_AUTODIFF_PASS_H
#include "autodiff/autodiff.h"
#include "base/arena.h"

typedef struct ds_ad_ctx {
    const ds_graph *src;
    ds_graph *fg, *bg;
    bool recompute;          /* the forward runs a second time (inside a loop's backward, or to rebuild a
                              * branch): prints and assigns are dropped, random draws must be replayed */
    bool tape;               /* fg == src: nothing is re-emitted */
    int nv;                  /* src->n_values */
    ds_value **fmap;         /* src value id -> fg value (may be preset: parameters, replayed draws) */
    ds_value **ct;           /* src value id -> accumulated cotangent (a bg value) */
    unsigned char *varied;   /* src value id -> depends differentiably on a differentiated input */
    unsigned char *useful;   /* src value id -> a cotangent may reach it from a seed */
    const unsigned char *assigned; /* top level: src value id -> a weight assigned by the graph */
    ds_value **bmap;         /* fg value id -> its value in bg (fg != bg) */
    int nbmap;
    ds_ptrvec res_f, res_b;  /* residuals: fg values and the bg parameters receiving them */
    void **info;             /* src node id -> control-flow bookkeeping from the forward */
    ds_ptrvec graphs;        /* graphs this context holds a reference to */
    ds_arena arena;
    /* tape: the backward of a custom node (a CALLBACK node of the tape's graph whose backward is a
     * host function); NULL elsewhere, where callbacks are not differentiable */
    ds_status (*custom)(struct ds_ad_ctx *c, const ds_node *n);
    void *custom_data;
} ds_ad_ctx;

ds_status ds_ad_init(ds_ad_ctx *c, const ds_graph *src, ds_graph *fg, ds_graph *bg, bool recompute);
void ds_ad_deinit(ds_ad_ctx *c);
/* Varied / useful analysis. pvaried[i]: parameter i is differentiated; c->useful must hold the seeds. */
ds_status ds_ad_analyze(ds_ad_ctx *c, const unsigned char *pvaried);
/* Re-emits src into fg (parameters and preset values must be in fmap). */
ds_status ds_ad_forward(ds_ad_ctx *c);
/* Emits node n into fg as it is (subgraphs unchanged); prints, assigns dropped when recomputing. */
ds_status ds_ad_emit_plain(ds_ad_ctx *c, const ds_node *n);
/* Emits the backward of src into bg from the cotangents in ct. */
ds_status ds_ad_backward(ds_ad_ctx *c);
/* The bg value of fg value fv (a residual parameter when fg != bg). NULL on failure. */
ds_value *ds_ad_bval(ds_ad_ctx *c, ds_value *fv);
/* ct[v] += g. */
ds_status ds_ad_accumulate(ds_ad_ctx *c, const ds_value *v, ds_value *g);
/* Zeros of the type of fg value fv, in bg. */
ds_status ds_ad_zeros(ds_ad_ctx *c, ds_value *fv, ds_value **out);
/* Whether node n carries a cotangent: an output that is useful and varied. */
bool ds_ad_active(const ds_ad_ctx *c, const ds_node *n);
/* A graph for the context to release at deinit (the reference is taken over). */
ds_status ds_ad_hold(ds_ad_ctx *c, ds_graph *g);
/* Copies the symbols of `from` into `to` (same names, same order). */
ds_status ds_ad_copy_symbols(ds_graph *to, const ds_graph *from);
static inline bool ds_ad_float(const ds_value *v) { return v->kind == DS_VALUE_TENSOR && ds_dtype_is_float(v->type.dtype); }
static inline int ds_ad_data_in(const ds_node *n) { return n->n_in - (n->effect ? 1 : 0); }
static inline int ds_ad_data_out(const ds_node *n) { return n->n_out - (n->effect ? 1 : 0); }

/* Subgraph summaries for the analysis: output flags from parameter flags. */
ds_status ds_ad_sub_varied(const ds_graph *s, const unsigned char *pv, unsigned char *ov);
ds_status ds_ad_sub_useful(const ds_graph *s, const unsigned char *pv, const unsigned char *ou, unsigned char *pu);
/* The fixed points of a While node: V[j] (carried value j varies), U[j] (a cotangent reaches it).
 * iv: init values varied; ou: outputs useful (NULL: skip U). */
ds_status ds_ad_loop_flags(const ds_node *n, const unsigned char *iv, const unsigned char *ou, unsigned char *V, unsigned char *U);

/* Control flow (grad_control.c): the forward and backward of an active If / Call / While, and the
 * forward-only copy of an inactive one while recomputing. */
ds_status ds_ad_forward_branch(ds_ad_ctx *c, const ds_node *n);
ds_status ds_ad_backward_branch(ds_ad_ctx *c, const ds_node *n);
ds_status ds_ad_forward_loop(ds_ad_ctx *c, const ds_node *n);
ds_status ds_ad_backward_loop(ds_ad_ctx *c, const ds_node *n);
ds_status ds_ad_copy_structural(ds_ad_ctx *c, const ds_node *n);
#endif
