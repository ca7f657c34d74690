/* Internal interface of the autodiff module (public API: include/dynastat.h, section "autodiff").
 *
 * A gradient rule is code that emits IR through the builder: given a forward node (its attrs and
 * the types of its inputs and outputs), the forward values it needs (fetched on demand, as values of
 * the graph receiving the backward) and the cotangents of its outputs, it emits the cotangents of the
 * inputs. Rules emit only differentiable ops, so the result can be differentiated again.
 *
 * The rule table is expanded from the op table (include/dynastat_ops.def): every op has a decision,
 * a rule, "zero gradient" or "not differentiable" (with the reason), filled by one register function
 * per family (rules_*.c). */
#ifndef DS_AUTODIFF_AUTODIFF_H
#define DS_AUTODIFF_AUTODIFF_H
#include "ir/ir.h"

typedef struct ds_grad_call ds_grad_call;
typedef ds_status (*ds_grad_rule_fn)(ds_grad_call *r);

typedef enum ds_grad_kind {
    DS_GRAD_UNSET, /* no decision yet (the rules test checks that none is left) */
    DS_GRAD_RULE,  /* differentiable: `fn` emits the input cotangents */
    DS_GRAD_ZERO,  /* the gradient is zero wherever it exists (or no input or output is a float) */
    DS_GRAD_NONE,  /* not differentiable: an error when a gradient has to flow through it */
} ds_grad_kind;

typedef struct ds_grad_entry {
    ds_grad_kind kind;
    ds_grad_rule_fn fn;
    const char *why; /* ZERO / NONE: the reason, for documentation and messages */
} ds_grad_entry;

/* The rule table entry of a valid op id. */
const ds_grad_entry *ds_grad_entry_get(ds_op_id op);

/* One application of a rule. */
struct ds_grad_call {
    ds_graph *g;           /* the graph receiving the backward nodes */
    const ds_node *node;   /* the forward node: attrs and the types of node->in / node->out */
    int n_in, n_out;       /* data inputs and outputs (without state tokens) */
    ds_value *const *gout; /* cotangents of the outputs (NULL = zero; at least one is set) */
    const bool *need;      /* need[i]: input i wants a cotangent */
    ds_value **gin;        /* out: cotangents of the inputs (NULL = zero), all NULL on entry */
    ds_value *const *sofar; /* the cotangents accumulated so far for each input (NULL = none) */
    bool *replaced;        /* out: replaced[i]: gin[i] already includes sofar[i] (a rule that scatters
                            * into the accumulated cotangent instead of into zeros), all false on entry */
    ds_status st;          /* the first failure of an emit helper below (rules return it) */
    /* Set by the pass: the value of forward value v (an input or output of node) in g. */
    ds_value *(*fwd)(void *pass, const ds_value *v);
    void *pass;
};

/* ---------------------------------------------------------------- emit helpers for rules
 * Each returns the new value, or NULL after recording the failure in r->st; any NULL argument makes
 * it return NULL, so a rule can chain them and return r->st at the end. */
ds_value *ds_gr_x(ds_grad_call *r, int i); /* forward input i */
ds_value *ds_gr_y(ds_grad_call *r, int i); /* forward output i */
static inline const ds_meta *ds_gr_xt(const ds_grad_call *r, int i) { return &r->node->in[i]->type; }
static inline const ds_meta *ds_gr_yt(const ds_grad_call *r, int i) { return &r->node->out[i]->type; }
ds_value *ds_gr_op(ds_grad_call *r, ds_op_id op, int n, ds_value *const *in, const ds_attr *attrs);
ds_value *ds_gr_un(ds_grad_call *r, ds_op_id op, ds_value *a);
ds_value *ds_gr_bin(ds_grad_call *r, ds_op_id op, ds_value *a, ds_value *b);
ds_value *ds_gr_where(ds_grad_call *r, ds_value *c, ds_value *a, ds_value *b);
/* A scalar constant of dtype dt. */
ds_value *ds_gr_const(ds_grad_call *r, double v, ds_dtype dt);
/* A scalar constant of a's dtype. */
ds_value *ds_gr_k(ds_grad_call *r, double v, const ds_value *a);
ds_value *ds_gr_cast(ds_grad_call *r, ds_value *a, ds_dtype dt);
/* g reduced (summed over broadcast dims) and cast to the type of forward input i. */
ds_value *ds_gr_fit(ds_grad_call *r, ds_value *g, int i);
/* g broadcast / reshaped to the shape of forward input i (dtype kept). */
ds_value *ds_gr_bcast(ds_grad_call *r, ds_value *g, int i);
ds_value *ds_gr_reshape(ds_grad_call *r, ds_value *g, int i);
/* Zeros of the type of forward input i / output i. */
ds_value *ds_gr_zeros_in(ds_grad_call *r, int i);
ds_value *ds_gr_zeros_out(ds_grad_call *r, int i);
/* Zeros of the given type; `like` (a value of that type) is used when dims are not static. */
ds_value *ds_gr_zeros(ds_grad_call *r, const ds_meta *type, ds_value *like);
ds_value *ds_gr_unsqueeze(ds_grad_call *r, ds_value *a, int axis);
ds_value *ds_gr_squeeze(ds_grad_call *r, ds_value *a, int axis);
ds_value *ds_gr_transpose(ds_grad_call *r, ds_value *a, int nd, const int *perm);
/* Sum over the axes in mask (ndim of a entries); keepdims as given. */
ds_value *ds_gr_sum(ds_grad_call *r, ds_value *a, const bool *mask, bool keepdims);
/* Records a failure in r->st (first one wins) and returns NULL. */
ds_value *ds_gr_fail(ds_grad_call *r, ds_status st);

/* Whether all dims of m are known. */
bool ds_meta_static(const ds_meta *m);

/* Register functions, one per rules_*.c. */
void ds_grad_register_elementwise(ds_grad_entry *table);
void ds_grad_register_reduce(ds_grad_entry *table);
void ds_grad_register_shape(ds_grad_entry *table);
void ds_grad_register_conv(ds_grad_entry *table);
void ds_grad_register_nn(ds_grad_entry *table);
#endif
