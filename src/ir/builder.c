/* Building graphs: parameters, constants, op nodes with shape inference, control flow, effects. */
#include <string.h>

#include "base/alloc.h"
#include "base/status.h"
#include "ir/ir.h"

bool ds_op_is_effectful(ds_op_id op) {
    const ds_op_info *info = ds_op_get_info(op);
    return info->kind == DS_KIND_RANDOM || op == DS_OP_INDEX_PUT || (ds_op_entry_get(op)->impl.flags & DS_IMPL_EFFECT);
}

/* ---------------------------------------------------------------- inference with symbolic dims */
/* Op inference works on concrete dims. A symbolic or unknown dim is replaced by a "probe" value, and
 * inference runs twice with two different probe sets: an output dim that is the same in both runs is
 * static; one that is probe k in both runs is the dim probe k stands for (its symbol); anything else
 * is derived from probes (stride, concat, reshape...) and becomes unknown. */
#define PROBE_COUNT 64   /* 0..31 stand for symbols, 32.. for unknown dims */
#define PROBE_SYMBOLS 32
static int64_t g_probes[2][PROBE_COUNT];

/* Distinct primes, large enough not to collide with typical dims, small enough that a product of three
 * stays far from int64 overflow. */
static void init_probes(void) {
    for (int set = 0; set < 2; set++)
        for (int k = 0; k < PROBE_COUNT; k++)
            for (int64_t c = 40001 + (int64_t)k * 8192 + set * 4099;; c += 2) {
                bool prime = true;
                for (int64_t d = 3; d * d <= c; d += 2)
                    if (c % d == 0) {
                        prime = false;
                        break;
                    }
                if (prime) {
                    g_probes[set][k] = c;
                    break;
                }
            }
}

/* Broadcasting ops: before probing, give every non-static dim the value it must have at run time.
 * A dim facing a static dim > 1 must equal it; non-static dims facing only each other (or 1) must
 * agree: equal symbols stay, anything else becomes one shared unknown. Marks the positions whose
 * result is unknown in `unknown_at` (right-aligned). */
static void harmonize_broadcast(int n_in, ds_meta *in, bool *unknown_at) {
    int nd = 0;
    for (int i = 0; i < n_in; i++) nd = in[i].ndim > nd ? in[i].ndim : nd;
    for (int k = 0; k < nd; k++) {
        int64_t fixed = 1, sym = 0; /* sym: 0 none yet, else the shared non-static dim */
        bool mixed = false;
        for (int i = 0; i < n_in; i++) {
            int d = in[i].ndim - 1 - k;
            if (d < 0) continue;
            int64_t v = in[i].shape[d];
            if (v > 1) fixed = v;
            else if (v < 0) {
                if (sym == 0) sym = v;
                else if (sym != v || v == DS_DIM_UNKNOWN) mixed = true;
            }
        }
        unknown_at[k] = false;
        if (sym == 0) continue;
        int64_t to = fixed > 1 ? fixed : (mixed ? DS_DIM_UNKNOWN : sym);
        if (to == DS_DIM_UNKNOWN) unknown_at[k] = true; /* a shared stand-in that maps back to unknown */
        for (int i = 0; i < n_in; i++) {
            int d = in[i].ndim - 1 - k;
            if (d >= 0 && in[i].shape[d] < 0) in[i].shape[d] = to == DS_DIM_UNKNOWN ? DS_DIM_SYM(PROBE_SYMBOLS - 1) : to;
        }
    }
}

ds_status ds_ir_infer(ds_op_id op, int n_in, const ds_meta *in, const ds_attr *attrs, ds_meta *out, int *n_out) {
    const op_entry *e = ds_op_entry_get(op);
    bool symbolic = false;
    for (int i = 0; i < n_in && !symbolic; i++)
        for (int d = 0; d < in[i].ndim; d++) symbolic |= in[i].shape[d] < 0;
    if (!symbolic) return e->impl.infer(op, n_in, in, attrs, out, n_out);
    if (!g_probes[0][0]) init_probes();
    int64_t probe_dim[PROBE_COUNT]; /* what each used probe stands for */
    bool used[PROBE_COUNT] = {false};
    int next_unknown = PROBE_SYMBOLS;
    ds_meta stack[32], *base = n_in <= 16 ? stack : ds_malloc(sizeof(ds_meta) * 2 * (size_t)n_in);
    if (!base) return DS_ERR_NOMEM;
    ds_meta *probed = base + n_in;
    for (int i = 0; i < n_in; i++) base[i] = in[i];
    bool unknown_at[DS_MAX_DIMS] = {false};
    if (e->info.kind == DS_KIND_BINARY || op == DS_OP_WHERE) harmonize_broadcast(n_in, base, unknown_at);
    /* which probe each non-static dim gets */
    for (int i = 0; i < n_in; i++)
        for (int d = 0; d < base[i].ndim; d++) {
            int64_t dim = base[i].shape[d];
            if (dim >= 0) continue;
            int k = DS_DIM_IS_SYM(dim) ? (int)((-2 - dim) % PROBE_SYMBOLS)
                                       : (next_unknown < PROBE_COUNT ? next_unknown++ : PROBE_COUNT - 1);
            probe_dim[k] = DS_DIM_IS_SYM(dim) ? dim : DS_DIM_UNKNOWN;
            used[k] = true;
            base[i].shape[d] = -1 - k; /* remember k; replaced by the probe value below */
        }
    ds_meta res[2][DS_OP_MAX_OUT];
    int nres[2] = {0, 0};
    ds_status st = DS_OK;
    for (int set = 0; set < 2 && !st; set++) {
        for (int i = 0; i < n_in; i++) {
            probed[i] = base[i];
            for (int d = 0; d < base[i].ndim; d++)
                if (base[i].shape[d] < 0) probed[i].shape[d] = g_probes[set][-1 - base[i].shape[d]];
        }
        st = e->impl.infer(op, n_in, probed, attrs, res[set], &nres[set]);
    }
    if (base != stack) ds_free(base);
    if (st) return st;
    *n_out = nres[0];
    for (int o = 0; o < nres[0]; o++) {
        out[o] = res[0][o];
        for (int d = 0; d < out[o].ndim; d++) {
            int64_t a = res[0][o].shape[d], b = res[1][o].shape[d];
            if (a == b) continue; /* static */
            out[o].shape[d] = DS_DIM_UNKNOWN;
            for (int k = 0; k < PROBE_COUNT; k++)
                if (used[k] && a == g_probes[0][k] && b == g_probes[1][k]) {
                    out[o].shape[d] = probe_dim[k];
                    break;
                }
        }
        for (int k = 0; k < out[o].ndim && k < DS_MAX_DIMS; k++)
            if (unknown_at[k]) out[o].shape[out[o].ndim - 1 - k] = DS_DIM_UNKNOWN;
    }
    return DS_OK;
}

/* ---------------------------------------------------------------- parameters and constants */
static ds_status check_open(ds_graph *g) {
    if (g->closed) return ds_errorf(DS_ERR_VALUE, "graph '%s' is closed (its outputs are set)", g->name);
    return DS_OK;
}

ds_status ds_graph_add_param(ds_graph *g, const char *name, ds_dtype dt, int ndim, const int64_t *dims,
                             bool weight, ds_value **out) {
    ds_status st = check_open(g);
    if (st) return st;
    if (ndim < 0 || ndim > DS_MAX_DIMS) return ds_errorf(DS_ERR_SHAPE, "a parameter has at most %d dims", DS_MAX_DIMS);
    if ((unsigned)dt >= DS_DTYPE_COUNT) return ds_errorf(DS_ERR_DTYPE, "invalid dtype %d", (int)dt);
    for (int i = 0; i < ndim; i++)
        if (dims[i] < DS_DIM_UNKNOWN && -2 - dims[i] >= (int64_t)g->symbols.n)
            return ds_errorf(DS_ERR_VALUE, "parameter dim %d names an undefined symbol", i);
    ds_meta m = {dt, ndim, {0}};
    if (ndim) memcpy(m.shape, dims, sizeof(int64_t) * (size_t)ndim);
    ds_value *v = ds_ir_new_value(g, DS_VALUE_TENSOR, &m);
    if (!v) return DS_ERR_NOMEM;
    v->index = g->params.n;
    v->weight = weight;
    v->name = ds_arena_strdup(&g->arena, name ? name : "");
    if (!v->name) return DS_ERR_NOMEM;
    st = ds_ptrvec_push(&g->params, v);
    if (st) return st;
    *out = v;
    return DS_OK;
}

ds_status ds_graph_add_const(ds_graph *g, ds_tensor *value, ds_value **out) {
    ds_status st = check_open(g);
    if (st) return st;
    if (!value->data && value->numel != 0) return ds_errorf(DS_ERR_VALUE, "a constant needs data");
    ds_meta m;
    ds_meta_of(value, &m);
    ds_node *n = ds_ir_new_node(g, DS_NODE_CONST, 0, NULL, 1, &m);
    if (!n) return DS_ERR_NOMEM;
    /* constants are stored contiguous so the file format and folding can read them directly */
    st = ds_tensor_contiguous(value, &n->constant);
    if (st) return st;
    st = ds_ir_append(g, n);
    if (st) {
        ds_tensor_release(n->constant);
        n->constant = NULL;
        return st;
    }
    *out = n->out[0];
    return DS_OK;
}

/* ---------------------------------------------------------------- nodes */
/* Adds the token to an effectful node: it consumes the current token and produces the next one. */
static ds_status thread_token(ds_graph *g, ds_node *n) {
    ds_value *tok = ds_ir_token(g);
    if (!tok) return DS_ERR_NOMEM;
    ds_value *next = ds_ir_new_value(g, DS_VALUE_TOKEN, NULL);
    if (!next) return DS_ERR_NOMEM;
    n->in[n->n_in++] = tok;
    next->producer = n;
    next->index = n->n_out;
    n->out[n->n_out++] = next;
    n->effect = true;
    g->cur_token = next;
    return DS_OK;
}

static ds_status located(ds_graph *g, ds_status st) {
    char buf[256];
    if (st && g->cur_loc.line > 0) ds_error_prefix(ds_loc_str(&g->cur_loc, buf, sizeof buf));
    return st;
}

static ds_status check_inputs(ds_graph *g, int n_in, ds_value *const *in, const char *what) {
    for (int i = 0; i < n_in; i++) {
        if (!in[i]) return ds_errorf(DS_ERR_VALUE, "%s: input %d is NULL", what, i);
        if (in[i]->kind != DS_VALUE_TENSOR) return ds_errorf(DS_ERR_VALUE, "%s: input %d is a state token", what, i);
    }
    return DS_OK;
}

ds_status ds_graph_add_op(ds_graph *g, ds_op_id op, int n_in, ds_value *const *in, const ds_attr *attrs,
                          int max_out, ds_value **out, int *n_out) {
    if ((unsigned)op >= DS_OP_COUNT) return ds_errorf(DS_ERR_VALUE, "unknown op id %d", (int)op);
    const op_entry *e = ds_op_entry_get(op);
    ds_status st = check_open(g);
    if (st) return st;
    if (e->info.n_in >= 0 && n_in != e->info.n_in) {
        st = ds_errorf(DS_ERR_VALUE, "%s: expected %d inputs, got %d", e->info.name, e->info.n_in, n_in);
        return located(g, st);
    }
    if ((st = check_inputs(g, n_in, in, e->info.name))) return located(g, st);
    ds_meta stack[16], *metas = n_in <= 16 ? stack : ds_malloc(sizeof(ds_meta) * (size_t)n_in);
    ds_meta outs[DS_OP_MAX_OUT];
    ds_attr full[DS_MAX_ATTRS];
    int nout = 0;
    if (!metas) return DS_ERR_NOMEM;
    for (int i = 0; i < n_in; i++) metas[i] = in[i]->type;
    st = ds_op_fill_attrs(e, attrs, full);
    if (!st) st = ds_ir_infer(op, n_in, metas, full, outs, &nout);
    if (metas != stack) ds_free(metas);
    if (st) {
        ds_error_prefix(e->info.name);
        return located(g, st);
    }
    if (nout > max_out) return located(g, ds_errorf(DS_ERR_VALUE, "%s returns %d outputs, room for %d", e->info.name, nout, max_out));
    bool effect = ds_op_is_effectful(op);
    ds_node *n = ds_ir_new_node(g, DS_NODE_OP, n_in, in, nout, outs);
    if (!n) return DS_ERR_NOMEM;
    if (effect) {
        /* room for the token was reserved by ds_ir_new_node (+1) */
        if ((st = thread_token(g, n))) return st;
    }
    n->op = op;
    n->attrs = ds_ir_copy_attrs(g, full, e->info.n_attrs);
    if (e->info.n_attrs && !n->attrs) return DS_ERR_NOMEM;
    if ((st = ds_ir_append(g, n))) return st;
    for (int i = 0; i < nout; i++) out[i] = n->out[i];
    if (n_out) *n_out = nout;
    return DS_OK;
}

ds_status ds_graph_add_op1(ds_graph *g, ds_op_id op, int n_in, ds_value *const *in, const ds_attr *attrs,
                           ds_value **out) {
    ds_value *res[DS_OP_MAX_OUT];
    int n = 0;
    ds_status st = ds_graph_add_op(g, op, n_in, in, attrs, DS_OP_MAX_OUT, res, &n);
    if (st) return st;
    if (n != 1) return ds_errorf(DS_ERR_VALUE, "%s returns %d outputs, not 1", ds_op_get_info(op)->name, n);
    *out = res[0];
    return DS_OK;
}

/* A structural node calling subgraphs; threads the token when any subgraph has effects. */
static ds_status add_structural(ds_graph *g, ds_node_kind kind, int n_in, ds_value *const *in, int n_sub,
                                ds_graph *const *sub, int n_out, const ds_meta *out_types, ds_node **res) {
    ds_node *n = ds_ir_new_node(g, kind, n_in, in, n_out, out_types);
    if (!n) return DS_ERR_NOMEM;
    n->sub = ds_arena_alloc(&g->arena, sizeof(ds_graph *) * (size_t)n_sub);
    if (!n->sub) return DS_ERR_NOMEM;
    bool effect = false;
    for (int i = 0; i < n_sub; i++) effect |= sub[i]->entry_token != NULL;
    ds_status st;
    if (effect && (st = thread_token(g, n))) return st;
    if ((st = ds_ir_append(g, n))) return st;
    for (int i = 0; i < n_sub; i++) n->sub[i] = ds_graph_retain(sub[i]);
    n->n_sub = n_sub;
    *res = n;
    return DS_OK;
}

static ds_status check_sub(ds_graph *sub, const char *role, int n_args, ds_value *const *args) {
    if (!sub->closed) return ds_errorf(DS_ERR_VALUE, "%s graph '%s' has no outputs set", role, sub->name);
    if (sub->params.n != n_args)
        return ds_errorf(DS_ERR_VALUE, "%s graph '%s' takes %d parameters, given %d", role, sub->name, sub->params.n, n_args);
    for (int i = 0; i < n_args; i++) {
        ds_value *p = sub->params.items[i];
        if (p->type.dtype != args[i]->type.dtype || p->type.ndim != args[i]->type.ndim)
            return ds_errorf(DS_ERR_SHAPE, "%s graph '%s' parameter %d is %s rank %d, given %s rank %d", role, sub->name, i,
                             ds_dtype_name(p->type.dtype), p->type.ndim, ds_dtype_name(args[i]->type.dtype), args[i]->type.ndim);
    }
    return DS_OK;
}

/* The subgraph's output types in the caller's terms: a symbolic dim of the subgraph takes the dim the
 * caller passes for the parameter dim carrying that symbol (unknown if no parameter carries it). */
static void output_types_for(const ds_graph *sub, ds_value *const *args, ds_meta *types) {
    for (int i = 0; i < sub->outputs.n; i++) {
        types[i] = ((ds_value *)sub->outputs.items[i])->type;
        for (int d = 0; d < types[i].ndim; d++) {
            int64_t dim = types[i].shape[d];
            if (!DS_DIM_IS_SYM(dim)) continue;
            int64_t mapped = DS_DIM_UNKNOWN;
            for (int p = 0; p < sub->params.n && mapped == DS_DIM_UNKNOWN; p++) {
                const ds_value *pv = sub->params.items[p];
                for (int k = 0; k < pv->type.ndim; k++)
                    if (pv->type.shape[k] == dim && k < args[p]->type.ndim) {
                        mapped = args[p]->type.shape[k];
                        break;
                    }
            }
            types[i].shape[d] = mapped;
        }
    }
}

ds_status ds_graph_add_if(ds_graph *g, ds_value *cond, ds_graph *then_g, ds_graph *else_g, int n_args,
                          ds_value *const *args, int max_out, ds_value **out, int *n_out) {
    ds_status st = check_open(g);
    if (!st) st = check_inputs(g, 1, &cond, "If");
    if (!st) st = check_inputs(g, n_args, args, "If");
    if (!st) st = check_sub(then_g, "If then", n_args, args);
    if (!st) st = check_sub(else_g, "If else", n_args, args);
    if (!st && (cond->type.ndim != 0 && !(cond->type.ndim == 1 && cond->type.shape[0] == 1)))
        st = ds_errorf(DS_ERR_SHAPE, "If: the condition must be a scalar, got rank %d", cond->type.ndim);
    if (!st && then_g->outputs.n != else_g->outputs.n)
        st = ds_errorf(DS_ERR_VALUE, "If: the branches return %d and %d values", then_g->outputs.n, else_g->outputs.n);
    if (!st && then_g->outputs.n > max_out) st = ds_errorf(DS_ERR_VALUE, "If returns %d values, room for %d", then_g->outputs.n, max_out);
    if (!st && then_g->outputs.n > DS_OP_MAX_OUT) st = ds_errorf(DS_ERR_VALUE, "If: too many outputs (at most %d)", DS_OP_MAX_OUT);
    ds_meta types[DS_OP_MAX_OUT], etypes[DS_OP_MAX_OUT];
    if (!st) {
        output_types_for(then_g, args, types);
        output_types_for(else_g, args, etypes);
        for (int i = 0; i < then_g->outputs.n && !st; i++) {
            if (types[i].dtype != etypes[i].dtype || types[i].ndim != etypes[i].ndim) {
                char a[DS_SHAPE_STR_MAX], b[DS_SHAPE_STR_MAX];
                st = ds_errorf(DS_ERR_SHAPE, "If: branch output %d differs: then gives %s%s, else gives %s%s", i,
                               ds_dtype_name(types[i].dtype), ds_shape_str(types[i].ndim, types[i].shape, a, sizeof a),
                               ds_dtype_name(etypes[i].dtype), ds_shape_str(etypes[i].ndim, etypes[i].shape, b, sizeof b));
                break;
            }
            for (int d = 0; d < types[i].ndim; d++)
                if (types[i].shape[d] != etypes[i].shape[d]) {
                    if (types[i].shape[d] >= 0 && etypes[i].shape[d] >= 0) {
                        char a[DS_SHAPE_STR_MAX], b[DS_SHAPE_STR_MAX];
                        st = ds_errorf(DS_ERR_SHAPE, "If: branch output %d differs in shape: then gives %s, else gives %s", i,
                                       ds_shape_str(types[i].ndim, types[i].shape, a, sizeof a),
                                       ds_shape_str(etypes[i].ndim, etypes[i].shape, b, sizeof b));
                        break;
                    }
                    types[i].shape[d] = DS_DIM_UNKNOWN;
                }
        }
    }
    if (st) return located(g, st);
    ds_value *ins[1 + DS_OP_MAX_OUT];
    if (n_args > DS_OP_MAX_OUT) return ds_errorf(DS_ERR_VALUE, "If: too many arguments");
    ins[0] = cond;
    for (int i = 0; i < n_args; i++) ins[1 + i] = args[i];
    ds_graph *subs[2] = {then_g, else_g};
    ds_node *n;
    if ((st = add_structural(g, DS_NODE_IF, 1 + n_args, ins, 2, subs, then_g->outputs.n, types, &n))) return st;
    for (int i = 0; i < then_g->outputs.n; i++) out[i] = n->out[i];
    if (n_out) *n_out = then_g->outputs.n;
    return DS_OK;
}

ds_status ds_graph_add_while(ds_graph *g, ds_graph *cond_g, ds_graph *body_g, int n_vals,
                             ds_value *const *init, ds_value **out) {
    ds_status st = check_open(g);
    if (!st) st = check_inputs(g, n_vals, init, "While");
    if (!st) st = check_sub(cond_g, "While cond", n_vals, init);
    if (!st) st = check_sub(body_g, "While body", n_vals, init);
    if (!st && (cond_g->outputs.n != 1 || ((ds_value *)cond_g->outputs.items[0])->type.dtype != DS_BOOL))
        st = ds_errorf(DS_ERR_VALUE, "While: the cond graph must return one bool scalar");
    if (!st && body_g->outputs.n != n_vals)
        st = ds_errorf(DS_ERR_VALUE, "While: the body returns %d values for %d loop-carried values", body_g->outputs.n, n_vals);
    ds_meta types[DS_OP_MAX_OUT];
    if (!st && n_vals > DS_OP_MAX_OUT) st = ds_errorf(DS_ERR_VALUE, "While: too many loop-carried values");
    if (!st) {
        output_types_for(body_g, init, types);
        for (int i = 0; i < n_vals && !st; i++)
            if (!ds_meta_equal(&types[i], &init[i]->type)) {
                char a[DS_SHAPE_STR_MAX], b[DS_SHAPE_STR_MAX];
                st = ds_errorf(DS_ERR_SHAPE, "While: loop-carried value %d changes from %s%s to %s%s in the body", i,
                               ds_dtype_name(init[i]->type.dtype), ds_shape_str(init[i]->type.ndim, init[i]->type.shape, a, sizeof a),
                               ds_dtype_name(types[i].dtype), ds_shape_str(types[i].ndim, types[i].shape, b, sizeof b));
            }
    }
    if (st) return located(g, st);
    ds_graph *subs[2] = {cond_g, body_g};
    ds_node *n;
    if ((st = add_structural(g, DS_NODE_WHILE, n_vals, init, 2, subs, n_vals, types, &n))) return st;
    for (int i = 0; i < n_vals; i++) out[i] = n->out[i];
    return DS_OK;
}

ds_status ds_graph_add_call(ds_graph *g, ds_graph *callee, int n_args, ds_value *const *args, int max_out,
                            ds_value **out, int *n_out) {
    ds_status st = check_open(g);
    if (!st) st = check_inputs(g, n_args, args, "Call");
    if (!st) st = check_sub(callee, "Call", n_args, args);
    if (!st && callee->outputs.n > max_out) st = ds_errorf(DS_ERR_VALUE, "Call returns %d values, room for %d", callee->outputs.n, max_out);
    if (!st && callee->outputs.n > DS_OP_MAX_OUT) st = ds_errorf(DS_ERR_VALUE, "Call: too many outputs");
    if (st) return located(g, st);
    ds_meta types[DS_OP_MAX_OUT];
    output_types_for(callee, args, types);
    ds_node *n;
    if ((st = add_structural(g, DS_NODE_CALL, n_args, args, 1, &callee, callee->outputs.n, types, &n))) return st;
    for (int i = 0; i < callee->outputs.n; i++) out[i] = n->out[i];
    if (n_out) *n_out = callee->outputs.n;
    return DS_OK;
}

ds_status ds_graph_add_print(ds_graph *g, const char *prefix, int n, ds_value *const *vals) {
    ds_status st = check_open(g);
    if (!st) st = check_inputs(g, n, vals, "print");
    if (st) return located(g, st);
    ds_node *node = ds_ir_new_node(g, DS_NODE_PRINT, n, vals, 0, NULL);
    if (!node) return DS_ERR_NOMEM;
    node->text = ds_arena_strdup(&g->arena, prefix ? prefix : "");
    if (!node->text) return DS_ERR_NOMEM;
    if ((st = thread_token(g, node))) return st;
    return ds_ir_append(g, node);
}

ds_status ds_graph_add_assign(ds_graph *g, ds_value *param, ds_value *value) {
    ds_status st = check_open(g);
    ds_value *in[2] = {param, value};
    if (!st) st = check_inputs(g, 2, in, "assign");
    if (!st && (param->producer || !param->weight))
        st = ds_errorf(DS_ERR_VALUE, "assign: the target must be a weight parameter of the graph");
    if (!st && param->type.dtype != value->type.dtype)
        st = ds_errorf(DS_ERR_DTYPE, "assign: cannot write %s into the %s parameter '%s'", ds_dtype_name(value->type.dtype),
                       ds_dtype_name(param->type.dtype), param->name);
    if (!st) {
        int nd;
        int64_t b[DS_MAX_DIMS];
        st = ds_shape_broadcast(param->type.ndim, param->type.shape, value->type.ndim, value->type.shape, &nd, b);
        if (!st && !ds_shape_equal(nd, b, param->type.ndim, param->type.shape)) {
            char a[DS_SHAPE_STR_MAX], c[DS_SHAPE_STR_MAX];
            st = ds_errorf(DS_ERR_SHAPE, "assign: a value of shape %s does not fit parameter '%s' of shape %s",
                           ds_shape_str(value->type.ndim, value->type.shape, a, sizeof a), param->name,
                           ds_shape_str(param->type.ndim, param->type.shape, c, sizeof c));
        }
    }
    if (st) return located(g, st);
    ds_node *node = ds_ir_new_node(g, DS_NODE_ASSIGN, 2, in, 0, NULL);
    if (!node) return DS_ERR_NOMEM;
    if ((st = thread_token(g, node))) return st;
    return ds_ir_append(g, node);
}

ds_status ds_graph_add_callback(ds_graph *g, const char *name, ds_host_fn fn, void *ctx, int n_in,
                                ds_value *const *in, int n_out, const ds_dtype *out_dtypes,
                                const int *out_ndims, const int64_t *const *out_dims, ds_value **out) {
    ds_status st = check_open(g);
    if (!st) st = check_inputs(g, n_in, in, "callback");
    if (!st && n_out > DS_OP_MAX_OUT) st = ds_errorf(DS_ERR_VALUE, "callback: too many outputs");
    if (st) return located(g, st);
    ds_meta types[DS_OP_MAX_OUT];
    for (int i = 0; i < n_out; i++) {
        if (out_ndims[i] < 0 || out_ndims[i] > DS_MAX_DIMS) return ds_errorf(DS_ERR_SHAPE, "callback: bad output rank");
        for (int d = 0; d < out_ndims[i]; d++)
            if (out_dims[i][d] < DS_DIM_UNKNOWN && -2 - out_dims[i][d] >= ((int64_t)1 << 20)) /* may be unnamed */
                return ds_errorf(DS_ERR_VALUE, "callback: output %d dim %d is not a valid symbolic dim", i, d);
        types[i].dtype = out_dtypes[i];
        types[i].ndim = out_ndims[i];
        if (out_ndims[i]) memcpy(types[i].shape, out_dims[i], sizeof(int64_t) * (size_t)out_ndims[i]);
    }
    ds_node *node = ds_ir_new_node(g, DS_NODE_CALLBACK, n_in, in, n_out, types);
    if (!node) return DS_ERR_NOMEM;
    node->text = ds_arena_strdup(&g->arena, name ? name : "callback");
    node->fn = fn;
    node->fn_ctx = ctx;
    if (!node->text) return DS_ERR_NOMEM;
    if ((st = thread_token(g, node))) return st;
    if ((st = ds_ir_append(g, node))) return st;
    for (int i = 0; i < n_out; i++) out[i] = node->out[i];
    return DS_OK;
}

ds_status ds_graph_set_outputs(ds_graph *g, int n, ds_value *const *vals) {
    ds_status st = check_open(g);
    if (!st) st = check_inputs(g, n, vals, "outputs");
    if (st) return st;
    for (int i = 0; i < n; i++) {
        if ((st = ds_ptrvec_push(&g->outputs, vals[i]))) return st;
        vals[i]->uses++;
    }
    g->closed = true;
    return DS_OK;
}
