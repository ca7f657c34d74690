/* Running the steps of a plan variant: op kernels on prebuilt calls, fused groups, copies, eager ops
 * (data-dependent shapes), control flow through the subplans' variants, and effects in program order.
 * Nothing here allocates, except eager ops, dynamic control flow and printing. */
#include <string.h>

#include "base/alloc.h"
#include "base/status.h"
#include "exec/plan.h"
#include "tensor/iter.h"

/* ---------------------------------------------------------------- helpers */
ds_status plan_copy(ds_tensor *dst, const ds_tensor *src) {
    return dst->numel == 0 ? DS_OK : ds_copy_strided(dst, src);
}

static void extent(const ds_tensor *t, uintptr_t *lo, uintptr_t *hi) {
    int64_t a = 0, b = 0, isz = (int64_t)ds_dtype_size(t->dtype);
    for (int d = 0; d < t->ndim; d++) {
        int64_t e = (t->shape[d] - 1) * t->strides[d];
        if (e < 0) a += e;
        else b += e;
    }
    *lo = (uintptr_t)t->data + (uintptr_t)(a * isz);
    *hi = (uintptr_t)t->data + (uintptr_t)((b + 1) * isz);
}

bool plan_overlap(const ds_tensor *a, const ds_tensor *b) {
    if (!a->data || !b->data || a->numel <= 0 || b->numel <= 0) return false;
    uintptr_t alo, ahi, blo, bhi;
    extent(a, &alo, &ahi);
    extent(b, &blo, &bhi);
    return alo < bhi && blo < ahi;
}

void plan_error_loc(const ds_node *n) {
    char loc[256];
    if (n && n->loc.line > 0 && !strstr(ds_error_message(), ds_loc_str(&n->loc, loc, sizeof loc))) ds_error_prefix(loc);
}

static ds_status read_bool(const ds_tensor *t, bool *out) {
    double x;
    ds_status st = ds_tensor_get_double(t, 0, &x);
    if (!st) *out = x != 0.0;
    return st;
}

static bool is_header(const plan_variant *v, const ds_tensor *t) { return t >= v->hdr && t < v->hdr + v->n_slots; }

/* A value leaving through a DYN slot must not be one of the variant's headers (reused next run). */
static ds_status own(const plan_variant *v, ds_tensor **t) {
    if (!is_header(v, *t)) return DS_OK;
    ds_tensor *c;
    ds_status st = ds_tensor_new((*t)->dtype, (*t)->ndim, (*t)->shape, &c);
    if (!st) st = plan_copy(c, *t);
    if (st) {
        ds_tensor_release(c);
        return st;
    }
    ds_tensor_release(*t);
    *t = c;
    return DS_OK;
}

/* ---------------------------------------------------------------- control flow */
/* Whether loop value i of a While is a weight parameter its body passes through unchanged (a weight
 * captured by the body). The loop then uses the caller's tensor itself, as the interpreter does, so an
 * Assign in the body writes the weight (a loop buffer would drop the write after the loop). */
static bool while_by_ref(const plan_step *s, int i) {
    const ds_graph *body = s->node->sub[1];
    const ds_value *p = body->params.items[i];
    return p->weight && body->outputs.items[i] == p;
}

static ds_status run_while_static(plan_variant *v, plan_step *s) {
    int n = s->n_out;
    ds_tensor *bufs[2][DS_OP_MAX_OUT], **cur = bufs[0], **nxt = bufs[1], **a = s->out, *cond = s->wb[n];
    ds_status st;
    for (int i = 0; i < n; i++) {
        bool ref = while_by_ref(s, i);
        cur[i] = ref ? s->in[i] : a[i];
        nxt[i] = ref ? s->in[i] : s->wb[i];
        if (!ref && (st = plan_copy(a[i], s->in[i]))) return st;
    }
    for (;;) {
        bool go;
        if ((st = plan_exec(s->sub[0], cur, &cond, NULL)) || (st = read_bool(cond, &go))) return st;
        if (!go) break;
        if ((st = plan_exec(s->sub[1], cur, nxt, NULL))) return st;
        ds_tensor **t = cur;
        cur = nxt;
        nxt = t;
    }
    for (int i = 0; i < n; i++)
        if (cur[i] != a[i] && (st = plan_copy(a[i], cur[i]))) return st;
    return DS_OK;
}

/* As the interpreter does, with the subplans' general path (shapes may change between iterations). */
static ds_status run_while_dynamic(plan_variant *v, plan_step *s) {
    int n = s->n_in;
    ds_tensor *vals[DS_OP_MAX_OUT], *next[DS_OP_MAX_OUT];
    ds_status st = DS_OK;
    for (int i = 0; i < n; i++) vals[i] = ds_tensor_retain(s->in[i]);
    for (;;) {
        ds_tensor *c = NULL;
        bool go = false;
        st = plan_run_general(s->subplan[0], n, vals, &c);
        if (!st) st = read_bool(c, &go);
        ds_tensor_release(c);
        if (st || !go) break;
        if ((st = plan_run_general(s->subplan[1], n, vals, next))) break;
        for (int i = 0; i < n; i++) {
            if (while_by_ref(s, i)) { /* keep the caller's tensor (next[i] is a copy of it) */
                ds_tensor_release(next[i]);
                continue;
            }
            ds_tensor_release(vals[i]);
            vals[i] = next[i];
        }
    }
    for (int i = 0; i < n && !st; i++) st = own(v, &vals[i]);
    for (int i = 0; i < n; i++) {
        if (st) ds_tensor_release(vals[i]);
        else v->env[s->out_ids[i]] = vals[i];
    }
    return st;
}

/* If and Call: the chosen subgraph's variant writes straight into the step's output buffers. */
static ds_status run_sub(plan_variant *v, plan_step *s, int k, int first) {
    if (!s->dynamic) return plan_exec(s->sub[k], s->in + first, s->out, NULL);
    ds_tensor *res[DS_OP_MAX_OUT];
    ds_status st = plan_run_general(s->subplan[k], s->n_in - first, s->in + first, res);
    if (st) return st;
    for (int i = 0; i < s->n_out; i++) v->env[s->out_ids[i]] = res[i];
    return DS_OK;
}

/* ---------------------------------------------------------------- one step */
ds_status plan_step_run(plan_variant *v, plan_step *s) {
    ds_status st = DS_OK;
    if (s->gather)
        for (int k = 0; k < s->n_in; k++) s->in[k] = v->env[s->in_ids[k]];
    switch (s->kind) {
    case STEP_KERNEL:
        if ((st = s->run(&s->call))) ds_error_prefix(s->call.info->name);
        break;
    case STEP_FUSED: plan_group_run(v, s->grp); return DS_OK;
    case STEP_COPY: st = plan_copy(s->out[0], s->in[0]); break;
    case STEP_EAGER: {
        ds_tensor *res[DS_OP_MAX_OUT];
        int got = 0;
        st = ds_op_run(s->node->op, s->n_in, s->in, s->node->attrs, DS_OP_MAX_OUT, res, &got);
        if (st) break;
        for (int k = 0; k < got; k++) {
            if (k < s->n_out) v->env[s->out_ids[k]] = res[k];
            else ds_tensor_release(res[k]);
        }
        break;
    }
    case STEP_IF: {
        bool c;
        if (!(st = read_bool(s->in[0], &c))) st = run_sub(v, s, c ? 0 : 1, 1);
        break;
    }
    case STEP_WHILE: st = s->dynamic ? run_while_dynamic(v, s) : run_while_static(v, s); break;
    case STEP_CALL: st = run_sub(v, s, 0, 0); break;
    case STEP_PRINT: st = ds_exec_print(s->node->text, s->n_in, s->in); break;
    case STEP_ASSIGN: {
        int idx = s->node->in[0]->index; /* writes the caller's tensor (and its contiguous stand-in) */
        st = ds_tensor_copy_into(v->orig_in[idx], s->in[1]);
        if (!st && v->tmp_in[idx]) st = ds_tensor_copy_into(v->tmp_in[idx], s->in[1]);
        break;
    }
    case STEP_CALLBACK: {
        if (s->dynamic) {
            for (int k = 0; k < s->n_out; k++) {
                const ds_meta *m = &v->slots[s->out_ids[k]].meta;
                for (int d = 0; d < m->ndim; d++)
                    if (m->shape[d] < 0) {
                        st = ds_errorf(DS_ERR_SHAPE, "callback '%s': output %d has an unknown dim", s->node->text, k);
                        goto out;
                    }
            }
        }
        for (int k = 0; k < s->n_out; k++)
            if (s->out[k]->numel) memset(s->out[k]->data, 0, (size_t)s->out[k]->numel * ds_dtype_size(s->out[k]->dtype));
        if (!s->node->fn) {
            st = ds_errorf(DS_ERR_VALUE, "callback '%s' has no host function (graphs read by ds_graph_parse or "
                           "ds_graph_load do not keep callbacks)", s->node->text);
            break;
        }
        st = s->node->fn(s->node->fn_ctx, s->n_in, s->in, s->n_out, s->out);
        break;
    }
    default: st = ds_errorf(DS_ERR_INTERNAL, "plan: unknown step kind %d", (int)s->kind);
    }
out:
    if (st) plan_error_loc(s->node);
    return st;
}
