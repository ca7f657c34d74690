/* Gradient rules of views, joins and splits, gathers, tile, pad, and of the autodiff support ops.
 * Decisions:
 *   views: the inverse view (reshape back, inverse permutation, sum over broadcast dims, squeeze /
 *          unsqueeze back); strided_slice: slice_scatter of the cotangent into zeros
 *   concat / stack / split: split / slice / concat of the cotangents (missing ones are zeros)
 *   gather, index: index_add into zeros; gather_elements: scatter_add into zeros; no gradient to indices
 *   tile: the sum over the tiles; pad: pad with the negated paddings (crops the padding, zero-fills crops)
 *   one_hot, nonzero: zero (integer inputs or outputs)
 *   index_put: not differentiable (an in-place write; use slice_scatter or index_add in gradients)
 *   stop_gradient, zeros_like, ones_like, tensor_list_new: zero
 *   the *_like ops: no gradient to the reference (used for its shape only)
 *   tensor_list_push: the last row to the pushed value, the other rows to the list
 *   tensor_list_drop: not differentiable (it only appears in gradients of While: third order) */
#include <stdint.h>
#include <string.h>

#include "autodiff/autodiff.h"
#include "base/status.h"

#define G0 (r->gout[0])
#define X(i) ds_gr_x(r, i)

static ds_value *slice(ds_grad_call *r, ds_value *a, int n, const int64_t *b, const int64_t *e, const int64_t *s) {
    ds_attr at[3] = {{.kind = DS_ATTR_INTS, .n = n, .v.ints = b},
                     {.kind = DS_ATTR_INTS, .n = n, .v.ints = e},
                     {.kind = DS_ATTR_INTS, .n = n, .v.ints = s}};
    return ds_gr_op(r, DS_OP_SLICE, 1, &a, at);
}

/* Rows [lo, hi) of a along axis (hi = INT64_MAX: to the end). */
static ds_value *slice_axis(ds_grad_call *r, ds_value *a, int axis, int64_t lo, int64_t hi) {
    int64_t b[DS_MAX_DIMS], e[DS_MAX_DIMS], s[DS_MAX_DIMS];
    for (int d = 0; d <= axis; d++) {
        b[d] = d == axis ? lo : 0;
        e[d] = d == axis ? hi : INT64_MAX;
        s[d] = 1;
    }
    return slice(r, a, axis + 1, b, e, s);
}

/* Concatenation of the output cotangents along axis, zeros for missing ones (split, split_like). */
static ds_status concat_outputs(ds_grad_call *r, int axis) {
    ds_value *parts[DS_OP_MAX_OUT];
    for (int i = 0; i < r->n_out; i++) parts[i] = r->gout[i] ? r->gout[i] : ds_gr_zeros_out(r, i);
    ds_attr at = {.kind = DS_ATTR_INT, .v.i = axis};
    if (r->need[0]) r->gin[0] = ds_gr_fit(r, ds_gr_op(r, DS_OP_CONCAT, r->n_out, parts, &at), 0);
    return r->st;
}

static int norm_axis(int64_t a, int nd) { return (int)(a < 0 ? a + nd : a); }

/* ---------------------------------------------------------------- views */
static ds_status rule_reshape(ds_grad_call *r) {
    if (r->need[0]) r->gin[0] = ds_gr_fit(r, ds_gr_reshape(r, G0, 0), 0);
    return r->st;
}

static ds_status rule_transpose(ds_grad_call *r) {
    if (!r->need[0]) return DS_OK;
    int nd = ds_gr_xt(r, 0)->ndim, inv[DS_MAX_DIMS];
    const ds_attr *p = &r->node->attrs[0];
    for (int i = 0; i < nd; i++) {
        int src = p->kind == DS_ATTR_NONE ? nd - 1 - i : norm_axis(p->v.ints[i], nd);
        inv[src] = i;
    }
    r->gin[0] = ds_gr_fit(r, ds_gr_transpose(r, G0, nd, inv), 0);
    return r->st;
}

static ds_status rule_fit(ds_grad_call *r) { /* broadcast_to, broadcast_like, copy, index_add's base... */
    if (r->need[0]) r->gin[0] = ds_gr_fit(r, G0, 0);
    return r->st;
}

static ds_status rule_squeeze(ds_grad_call *r) {
    if (!r->need[0]) return DS_OK;
    const ds_attr *ax = &r->node->attrs[0];
    ds_value *g = G0;
    if (ax->kind == DS_ATTR_NONE) g = ds_gr_reshape(r, g, 0);
    else {
        int nd = ds_gr_xt(r, 0)->ndim;
        bool mask[DS_MAX_DIMS] = {false};
        for (int64_t k = 0; k < ax->n; k++) mask[norm_axis(ax->v.ints[k], nd)] = true;
        for (int d = 0; d < nd; d++)
            if (mask[d]) g = ds_gr_unsqueeze(r, g, d);
    }
    r->gin[0] = ds_gr_fit(r, g, 0);
    return r->st;
}

static ds_status rule_unsqueeze(ds_grad_call *r) {
    if (r->need[0])
        r->gin[0] = ds_gr_fit(r, ds_gr_squeeze(r, G0, norm_axis(r->node->attrs[0].v.i, ds_gr_yt(r, 0)->ndim)), 0);
    return r->st;
}

static ds_status rule_slice(ds_grad_call *r) {
    if (!r->need[0]) return DS_OK;
    ds_value *in[2] = {ds_gr_zeros_in(r, 0), G0};
    r->gin[0] = ds_gr_op(r, DS_OP_SLICE_SCATTER, 2, in, r->node->attrs);
    return r->st;
}

/* ---------------------------------------------------------------- concat, stack, split */
static ds_status rule_concat(ds_grad_call *r) {
    int n = r->n_in, ax = norm_axis(r->node->attrs[0].v.i, ds_gr_yt(r, 0)->ndim);
    bool known = true;
    int64_t sizes[DS_OP_MAX_OUT];
    for (int i = 0; i < n; i++) known &= ds_gr_xt(r, i)->shape[ax] >= 0;
    if (known && n <= DS_OP_MAX_OUT) {
        for (int i = 0; i < n; i++) sizes[i] = ds_gr_xt(r, i)->shape[ax];
        ds_value *parts[DS_OP_MAX_OUT], *g = G0;
        ds_attr at[2] = {{.kind = DS_ATTR_INTS, .n = n, .v.ints = sizes}, {.kind = DS_ATTR_INT, .v.i = ax}};
        int got = 0;
        ds_status st = ds_graph_add_op(r->g, DS_OP_SPLIT, 1, &g, at, DS_OP_MAX_OUT, parts, &got);
        if (st) return st;
        for (int i = 0; i < n; i++)
            if (r->need[i]) r->gin[i] = ds_gr_fit(r, parts[i], i);
    } else if (known) { /* more inputs than split returns: one slice each */
        int64_t off = 0;
        for (int i = 0; i < n; i++) {
            int64_t len = ds_gr_xt(r, i)->shape[ax];
            if (r->need[i]) r->gin[i] = ds_gr_fit(r, slice_axis(r, G0, ax, off, off + len), i);
            off += len;
        }
    } else {
        if (n > DS_OP_MAX_OUT)
            return ds_errorf(DS_ERR_UNSUPPORTED, "gradient of concat: more than %d inputs of unknown sizes", DS_OP_MAX_OUT);
        ds_value *in[DS_OP_MAX_OUT + 1], *parts[DS_OP_MAX_OUT];
        in[0] = G0;
        for (int i = 0; i < n; i++) in[1 + i] = X(i);
        if (r->st) return r->st;
        ds_attr at = {.kind = DS_ATTR_INT, .v.i = ax};
        int got = 0;
        ds_status st = ds_graph_add_op(r->g, DS_OP_SPLIT_LIKE, n + 1, in, &at, DS_OP_MAX_OUT, parts, &got);
        if (st) return st;
        for (int i = 0; i < n; i++)
            if (r->need[i]) r->gin[i] = ds_gr_fit(r, parts[i], i);
    }
    return r->st;
}

static ds_status rule_stack(ds_grad_call *r) {
    int ax = norm_axis(r->node->attrs[0].v.i, ds_gr_yt(r, 0)->ndim);
    for (int i = 0; i < r->n_in; i++)
        if (r->need[i]) r->gin[i] = ds_gr_fit(r, ds_gr_squeeze(r, slice_axis(r, G0, ax, i, i + 1), ax), i);
    return r->st;
}

static ds_status rule_split(ds_grad_call *r) {
    return concat_outputs(r, norm_axis(r->node->attrs[r->node->op == DS_OP_SPLIT ? 1 : 0].v.i, ds_gr_xt(r, 0)->ndim));
}

/* ---------------------------------------------------------------- gathers */
/* Scatters go into the cotangent accumulated so far for input i when there is one, else into zeros. */
static ds_value *scatter_base(ds_grad_call *r, int i) {
    if (!r->sofar[i]) return ds_gr_zeros_in(r, i);
    r->replaced[i] = true;
    return r->sofar[i];
}

/* gather(p, ix; axis): with the axis moved to the front, the gradient is index_add into zeros. */
static ds_status rule_gather(ds_grad_call *r) {
    if (!r->need[0]) return DS_OK;
    const ds_meta *pt = ds_gr_xt(r, 0);
    int nd = pt->ndim, ni = ds_gr_xt(r, 1)->ndim, ax = norm_axis(r->node->attrs[0].v.i, nd);
    int gperm[DS_MAX_DIMS], pperm[DS_MAX_DIMS], inv[DS_MAX_DIMS], k = 0;
    for (int d = 0; d < ni; d++) gperm[k++] = ax + d; /* g: p[:ax] + I + p[ax+1:] -> I + p[:ax] + p[ax+1:] */
    for (int d = 0; d < ax; d++) gperm[k++] = d;
    for (int d = ax + ni; d < nd - 1 + ni; d++) gperm[k++] = d;
    k = 0;
    pperm[k++] = ax; /* p -> [A] + p[:ax] + p[ax+1:] */
    for (int d = 0; d < nd; d++)
        if (d != ax) pperm[k++] = d;
    for (int d = 0; d < nd; d++) inv[pperm[d]] = d;
    ds_meta zt = *pt;
    for (int d = 0; d < nd; d++) zt.shape[d] = pt->shape[pperm[d]];
    ds_value *base;
    if (ax == 0) base = scatter_base(r, 0);
    else base = ds_gr_zeros(r, &zt, ds_meta_static(pt) ? NULL : ds_gr_transpose(r, X(0), nd, pperm));
    ds_value *in[3] = {base, ds_gr_transpose(r, G0, nd - 1 + ni, gperm), X(1)};
    ds_value *acc = ds_gr_op(r, DS_OP_INDEX_ADD, 3, in, NULL);
    r->gin[0] = ds_gr_fit(r, ds_gr_transpose(r, acc, nd, inv), 0);
    return r->st;
}

static ds_status rule_gather_elements(ds_grad_call *r) {
    if (!r->need[0]) return DS_OK;
    ds_value *in[3] = {scatter_base(r, 0), X(1), G0};
    ds_attr at = r->node->attrs[0];
    r->gin[0] = ds_gr_fit(r, ds_gr_op(r, DS_OP_SCATTER_ADD, 3, in, &at), 0);
    return r->st;
}

static ds_status rule_index(ds_grad_call *r) {
    if (!r->need[0]) return DS_OK;
    int k = r->n_in - 1;
    ds_value *in[DS_MAX_DIMS + 2];
    if (k > DS_MAX_DIMS) return ds_errorf(DS_ERR_INTERNAL, "index with %d index tensors", k);
    in[0] = scatter_base(r, 0);
    in[1] = G0;
    for (int j = 0; j < k; j++) in[2 + j] = X(1 + j);
    r->gin[0] = ds_gr_fit(r, ds_gr_op(r, DS_OP_INDEX_ADD, k + 2, in, NULL), 0);
    return r->st;
}

/* ---------------------------------------------------------------- tile, pad */
/* tile(x; m): with x's dims d preceded by size-m_d dims, the output is that broadcast, flattened; the
 * gradient reshapes g that way and sums the repeat dims. */
static ds_status rule_tile(ds_grad_call *r) {
    if (!r->need[0]) return DS_OK;
    const ds_meta *xt = ds_gr_xt(r, 0);
    const ds_attr *m = &r->node->attrs[0];
    int nd = xt->ndim, n = nd > m->n ? nd : (int)m->n, k = 0;
    int64_t shape[2 * DS_MAX_DIMS], reps[DS_MAX_DIMS];
    bool mask[2 * DS_MAX_DIMS] = {false};
    for (int d = 0; d < n; d++) {
        int xd = d - (n - nd), md = d - (n - (int)m->n);
        int64_t s = xd >= 0 ? xt->shape[xd] : 1;
        reps[d] = md >= 0 ? m->v.ints[md] : 1;
        if (reps[d] != 1) {
            mask[k] = true;
            shape[k++] = reps[d];
        }
        shape[k++] = s;
    }
    if (k > DS_MAX_DIMS)
        return ds_errorf(DS_ERR_UNSUPPORTED, "gradient of tile: %d repeated dims of a %d-d tensor need more than %d dims", k - n, n,
                         DS_MAX_DIMS);
    ds_value *g = G0, *split;
    ds_meta st = {xt->dtype, k, {0}};
    memcpy(st.shape, shape, sizeof(int64_t) * (size_t)k);
    if (ds_meta_static(xt)) {
        ds_attr at = {.kind = DS_ATTR_INTS, .n = k, .v.ints = st.shape};
        split = ds_gr_op(r, DS_OP_RESHAPE, 1, &g, &at);
    } else { /* a reference of the split shape: x with a size-1 dim before each repeated dim, tiled */
        ds_value *u = X(0);
        for (int d = 0; d < n - nd; d++) u = ds_gr_unsqueeze(r, u, 0);
        int64_t m2[2 * DS_MAX_DIMS];
        for (int d = 0, j = 0; d < n; d++) {
            if (reps[d] != 1) {
                u = ds_gr_unsqueeze(r, u, j);
                m2[j++] = reps[d];
            }
            m2[j++] = 1;
        }
        ds_attr at = {.kind = DS_ATTR_INTS, .n = k, .v.ints = m2};
        ds_value *ref = ds_gr_op(r, DS_OP_TILE, 1, &u, &at);
        ds_value *in[2] = {g, ref};
        split = ds_gr_op(r, DS_OP_RESHAPE_LIKE, 2, in, NULL);
    }
    r->gin[0] = ds_gr_fit(r, ds_gr_sum(r, split, mask, false), 0);
    return r->st;
}

static ds_status rule_pad(ds_grad_call *r) {
    if (!r->need[0]) return DS_OK;
    const ds_attr *p = &r->node->attrs[0];
    int64_t neg[2 * DS_MAX_DIMS];
    for (int64_t i = 0; i < p->n; i++) neg[i] = -p->v.ints[i];
    ds_attr at[2] = {{.kind = DS_ATTR_INTS, .n = p->n, .v.ints = neg}, {.kind = DS_ATTR_FLOAT, .v.f = 0}};
    ds_value *g = G0;
    r->gin[0] = ds_gr_fit(r, ds_gr_op(r, DS_OP_PAD, 1, &g, at), 0);
    return r->st;
}

/* ---------------------------------------------------------------- support ops */
static ds_status rule_slice_scatter(ds_grad_call *r) {
    ds_value *g = G0;
    if (r->need[0]) {
        ds_value *in[2] = {g, ds_gr_k(r, 0, g)};
        r->gin[0] = ds_gr_fit(r, ds_gr_op(r, DS_OP_SLICE_SCATTER, 2, in, r->node->attrs), 0);
    }
    if (r->need[1]) r->gin[1] = ds_gr_fit(r, ds_gr_op(r, DS_OP_SLICE, 1, &g, r->node->attrs), 1);
    return r->st;
}

static ds_status rule_index_add(ds_grad_call *r) {
    int k = r->n_in - 2;
    if (r->need[0]) r->gin[0] = ds_gr_fit(r, G0, 0);
    if (r->need[1]) {
        ds_value *in[DS_MAX_DIMS + 1];
        in[0] = G0;
        for (int j = 0; j < k && j < DS_MAX_DIMS; j++) in[1 + j] = X(2 + j);
        r->gin[1] = ds_gr_fit(r, ds_gr_op(r, DS_OP_INDEX, k + 1, in, NULL), 1);
    }
    return r->st;
}

static ds_status rule_scatter_add(ds_grad_call *r) {
    if (r->need[0]) r->gin[0] = ds_gr_fit(r, G0, 0);
    if (r->need[2]) {
        const ds_meta *it = ds_gr_xt(r, 1), *st = ds_gr_xt(r, 2);
        ds_value *in[2] = {G0, X(1)};
        ds_attr at = r->node->attrs[0];
        ds_value *d = ds_gr_op(r, DS_OP_GATHER_ELEMENTS, 2, in, &at); /* index's shape */
        if (!ds_shape_equal(it->ndim, it->shape, st->ndim, st->shape)) { /* src may be larger than index */
            if (ds_meta_static(it) && ds_meta_static(st)) {
                int64_t pads[2 * DS_MAX_DIMS];
                for (int k = 0; k < st->ndim; k++) pads[2 * k] = 0, pads[2 * k + 1] = st->shape[k] - it->shape[k];
                ds_attr pa[2] = {{.kind = DS_ATTR_INTS, .n = 2 * st->ndim, .v.ints = pads}, {.kind = DS_ATTR_FLOAT, .v.f = 0}};
                d = ds_gr_op(r, DS_OP_PAD, 1, &d, pa);
            } else if (ds_meta_static(it)) { /* into zeros of src's shape, at the index's extent */
                int64_t b[DS_MAX_DIMS], e[DS_MAX_DIMS], s[DS_MAX_DIMS];
                for (int k = 0; k < it->ndim; k++) b[k] = 0, e[k] = it->shape[k], s[k] = 1;
                ds_attr sa[3] = {{.kind = DS_ATTR_INTS, .n = it->ndim, .v.ints = b},
                                 {.kind = DS_ATTR_INTS, .n = it->ndim, .v.ints = e},
                                 {.kind = DS_ATTR_INTS, .n = it->ndim, .v.ints = s}};
                ds_value *sin[2] = {ds_gr_zeros_in(r, 2), d};
                d = ds_gr_op(r, DS_OP_SLICE_SCATTER, 2, sin, sa);
            } else if (!ds_meta_static(st) || !ds_meta_static(it)) {
                return ds_errorf(DS_ERR_UNSUPPORTED, "gradient of scatter_add: an index with unknown dims must have src's shape");
            }
        }
        r->gin[2] = ds_gr_fit(r, d, 2);
    }
    return r->st;
}

static ds_status rule_sum_like(ds_grad_call *r) {
    if (r->need[0]) r->gin[0] = ds_gr_fit(r, ds_gr_bcast(r, G0, 0), 0);
    return r->st;
}

static ds_status rule_list_push(ds_grad_call *r) {
    ds_value *g = G0;
    if (r->need[0]) {
        int64_t b = 0, e = -1, s = 1;
        r->gin[0] = slice(r, g, 1, &b, &e, &s);
    }
    if (r->need[1]) {
        ds_value *in[2] = {g, ds_gr_const(r, -1, DS_INT64)};
        r->gin[1] = ds_gr_fit(r, ds_gr_op(r, DS_OP_INDEX, 2, in, NULL), 1);
    }
    return r->st;
}

#define RULE(op, fn) t[DS_OP_##op] = (ds_grad_entry){DS_GRAD_RULE, fn, NULL}
#define ZERO(op, why) t[DS_OP_##op] = (ds_grad_entry){DS_GRAD_ZERO, NULL, why}
#define NONE(op, why) t[DS_OP_##op] = (ds_grad_entry){DS_GRAD_NONE, NULL, why}

/* Fills the rule table entries of the shape, view, gather and support ops. */
void ds_grad_register_shape(ds_grad_entry *t) {
    RULE(RESHAPE, rule_reshape);
    RULE(TRANSPOSE, rule_transpose);
    RULE(BROADCAST_TO, rule_fit);
    RULE(SQUEEZE, rule_squeeze);
    RULE(UNSQUEEZE, rule_unsqueeze);
    RULE(SLICE, rule_slice);
    RULE(COPY, rule_fit);
    RULE(CONCAT, rule_concat);
    RULE(STACK, rule_stack);
    RULE(SPLIT, rule_split);
    RULE(GATHER, rule_gather);
    RULE(GATHER_ELEMENTS, rule_gather_elements);
    RULE(INDEX, rule_index);
    RULE(TILE, rule_tile);
    RULE(PAD, rule_pad);
    ZERO(ONE_HOT, "its input is integer indices");
    ZERO(NONZERO, "its result is integer indices");
    NONE(INDEX_PUT, "it writes in place; use slice_scatter or index_add for a differentiable update");
    ZERO(STOP_GRADIENT, "it stops gradients");
    ZERO(ZEROS_LIKE, "its result does not depend on the input's values");
    ZERO(ONES_LIKE, "its result does not depend on the input's values");
    RULE(SUM_LIKE, rule_sum_like);
    RULE(BROADCAST_LIKE, rule_fit);
    RULE(RESHAPE_LIKE, rule_reshape);
    RULE(SPLIT_LIKE, rule_split);
    RULE(SLICE_SCATTER, rule_slice_scatter);
    RULE(INDEX_ADD, rule_index_add);
    RULE(SCATTER_ADD, rule_scatter_add);
    ZERO(TENSOR_LIST_NEW, "it creates an empty list");
    RULE(TENSOR_LIST_PUSH, rule_list_push);
    NONE(TENSOR_LIST_DROP, "it only appears in gradients of While loops; third-order gradients through While are not supported");
}
