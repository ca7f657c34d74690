/* nn ops (dynastat_ops.def, section "nn"): the softmax family, fused losses and in-place optimizer
 * updates. Float inputs only; float16/bfloat16 are computed in float32 (optimizer updates per block).
 *
 *   softmax(x; axis=-1), log_softmax(x; axis=-1)
 *       exp(x - max) / sum(exp(x - max)) and (x - max) - log(sum(exp(x - max))) along axis (a 0-d x is one
 *       element: softmax 1, log_softmax 0).
 *   softmax_grad(y, g; axis), log_softmax_grad(y, g; axis)
 *       the backward from the forward output y: y (g - sum(g y)) and g - exp(y) sum(g) (used by the
 *       gradient rules; differentiable themselves, so gradients go to any order).
 *   softmax_cross_entropy(logits, labels; sparse=None, reduction=0, ignore_index=-100, label_smoothing=0)
 *       logits [N, C] (or [C]: one sample). sparse (None: whether labels are integers): labels are
 *       int32/int64 [N] (or 0-d) class indices; a label equal to ignore_index (None: no index is
 *       ignored) contributes 0 and is not counted by the mean; any other label outside [0, C) is
 *       DS_ERR_INDEX naming it. Dense: labels are probabilities of the logits' dtype and shape. With smoothing eps the targets become (1 - eps) t + eps / C.
 *       loss_i = -sum_j T_ij log_softmax(x_i)_j; reduction 0 none ([N], or 0-d for [C]), 1 mean (over
 *       the counted rows; NaN if none), 2 sum. As PyTorch's cross_entropy.
 *   softmax_cross_entropy_grad(logits, labels, g; sparse, reduction, ignore_index, label_smoothing)
 *       g (shaped like the loss) times d loss / d logits = w_i (softmax(x_i) sum(T_i) - T_i), fused.
 *   bce_with_logits(logits, targets; reduction=0)
 *       max(x, 0) - x t + log1p(exp(-|x|)) elementwise (targets of the logits' dtype and shape),
 *       reduced as above (mean over all elements). PyTorch's pos_weight p composes as
 *       (1 - t) x + (1 + (p - 1) t) bce_with_logits(x, 1), the last factor being softplus(-x).
 *   sgd_update(param, grad, momentum_buf [, lr [, step]]; lr, momentum=0, dampening=0, nesterov=False,
 *              weight_decay=0, step=0)                                            -- torch.optim.SGD
 *       d = grad + weight_decay param; with momentum != 0: buf = d on the first step (step == 1), else
 *       buf = momentum buf + (1 - dampening) d; d = nesterov ? d + momentum buf : buf. param -= lr d.
 *       step counts updates from 1; the default 0 never initialises (a zero buffer then differs from
 *       PyTorch only when dampening != 0). Without momentum the buffer is neither read nor written
 *       (any tensor of param's dtype will do). nesterov needs momentum > 0 and dampening == 0.
 *   momentum_update(param, grad, accum [, lr]; lr, momentum, nesterov=False, weight_decay=0)
 *       MindSpore's Momentum / ApplyMomentum: g = grad + weight_decay param; accum = momentum accum + g;
 *       param -= nesterov ? lr g + lr momentum accum : lr accum.
 *   adam_update(param, grad, m, v [, v_max] [, lr [, step]]; lr, beta1=0.9, beta2=0.999, eps=1e-8,
 *               weight_decay=0, step=0, decoupled=False, amsgrad=False)    -- torch.optim.Adam / AdamW
 *       Adam: g = grad + weight_decay param; AdamW (decoupled): param *= 1 - lr weight_decay. Then
 *       m = lerp(m, g, 1 - beta1); v = beta2 v + (1 - beta2) g^2; param -= lr / (1 - beta1^step)
 *       m / (sqrt(v) / sqrt(1 - beta2^step) + eps), with step the 1-based number of this update.
 *       step 0 applies no bias correction (param -= lr m / (sqrt(v) + eps): MindSpore's
 *       AdamWeightDecay, or a caller that folds the correction into lr and eps). amsgrad (PyTorch's):
 *       v_max = max(v_max, v), an extra state input after v, replaces v in the denominator.
 *   The updates write param and their state tensors in place (DS_IMPL_EFFECT, no outputs, in one pass
 *   over memory, parallel for large tensors). lr is an attribute, or a one-element float tensor input
 *   after the state tensors (learning-rate schedules in graphs); likewise step (sgd, adam) as an
 *   optional tensor after lr: its value is read when the op runs. All tensors must share param's
 *   float dtype and shape (written ones may not be broadcast views). */
#include <math.h>
#include <string.h>

#include "base/alloc.h"
#include "base/status.h"
#include "kernels/nn.h"
#include "ops/op.h"
#include "tensor/dtype.h"
#include "tensor/iter.h"

#define SHAPE_S(m, buf) ds_shape_str((m)->ndim, (m)->shape, (buf), sizeof(buf))
enum { RED_NONE, RED_MEAN, RED_SUM };

static bool is_half(ds_dtype dt) { return dt == DS_FLOAT16 || dt == DS_BFLOAT16; }
static ds_dtype compute_dtype(ds_dtype dt) { return is_half(dt) ? DS_FLOAT32 : dt; }

static ds_status need_float(const ds_meta *m, const char *what) {
    if (ds_dtype_is_float(m->dtype)) return DS_OK;
    return ds_errorf(DS_ERR_DTYPE, "%s must be a float tensor, got %s", what, ds_dtype_name(m->dtype));
}

/* Same rank and dims (a dim of -1, unknown until run time, agrees with anything). */
static bool same_shape(const ds_meta *a, const ds_meta *b) {
    if (a->ndim != b->ndim) return false;
    for (int d = 0; d < a->ndim; d++)
        if (a->shape[d] != b->shape[d] && a->shape[d] >= 0 && b->shape[d] >= 0) return false;
    return true;
}

static ds_status need_like(const ds_meta *m, const char *what, const ds_meta *ref, const char *ref_name) {
    char a[DS_SHAPE_STR_MAX], b[DS_SHAPE_STR_MAX];
    if (m->dtype != ref->dtype)
        return ds_errorf(DS_ERR_DTYPE, "%s is %s but %s is %s; they must have the same dtype", what,
                         ds_dtype_name(m->dtype), ref_name, ds_dtype_name(ref->dtype));
    if (!same_shape(m, ref))
        return ds_errorf(DS_ERR_SHAPE, "%s of shape %s does not match %s of shape %s", what, SHAPE_S(m, a), ref_name,
                         SHAPE_S(ref, b));
    return DS_OK;
}

/* Whether labels are class indices: the sparse attribute, or (None) whether they are integers. */
static bool ce_sparse(const ds_attr *a, ds_dtype labels) {
    return a->kind == DS_ATTR_BOOL ? a->v.b : ds_dtype_is_int(labels);
}

static ds_status check_reduction(const ds_attr *a) {
    if (a->v.i >= RED_NONE && a->v.i <= RED_SUM) return DS_OK;
    return ds_errorf(DS_ERR_VALUE, "reduction must be 0 (none), 1 (mean) or 2 (sum), got %lld", (long long)a->v.i);
}

/* t as a contiguous tensor of dtype dt: t itself (retained) or a converted copy. */
static ds_status dense_as(ds_tensor *t, ds_dtype dt, ds_tensor **out) {
    if (t->dtype == dt) return ds_tensor_contiguous(t, out);
    ds_tensor *r = NULL;
    ds_status st = ds_tensor_new(dt, t->ndim, t->shape, &r);
    if (!st) st = ds_tensor_copy_into(r, t);
    if (st) {
        ds_tensor_release(r);
        return st;
    }
    *out = r;
    return DS_OK;
}

/* Where a kernel writes out's values: out itself (retained) if it has dtype dt, else a temporary. */
static ds_status out_as(ds_tensor *out, ds_dtype dt, ds_tensor **buf) {
    if (out->dtype == dt) {
        *buf = ds_tensor_retain(out);
        return DS_OK;
    }
    return ds_tensor_new(dt, out->ndim, out->shape, buf);
}

/* Copies a temporary from out_as into out (converting) and releases it. */
static ds_status out_done(ds_tensor *out, ds_tensor *buf) {
    ds_status st = buf != out ? ds_tensor_copy_into(out, buf) : DS_OK;
    ds_tensor_release(buf);
    return st;
}

/* ---------------------------------------------------------------- softmax family */
static ds_status softmax_axis(const ds_attr *a, int ndim, int *axis) {
    int64_t ax = a->kind == DS_ATTR_INT ? a->v.i : -1;
    if (ndim == 0 && (ax == 0 || ax == -1)) {
        *axis = 0;
        return DS_OK;
    }
    return ds_axis_normalize(ax, ndim, "axis", axis);
}

static ds_status softmax_infer(ds_op_id op, int n_in, const ds_meta *in, const ds_attr *attrs, ds_meta *out,
                               int *n_out) {
    int axis;
    ds_status st = need_float(&in[0], n_in == 1 ? "input" : "y");
    if (!st && n_in == 2) st = need_like(&in[1], "the cotangent g", &in[0], "y");
    if (!st) st = softmax_axis(&attrs[0], in[0].ndim, &axis);
    if (st) return st;
    *out = in[0];
    *n_out = 1;
    return DS_OK;
}

static ds_status softmax_run(ds_op_call *c) {
    bool grad = c->n_in == 2, lg = c->op == DS_OP_LOG_SOFTMAX || c->op == DS_OP_LOG_SOFTMAX_GRAD;
    ds_tensor *x = c->in[0], *a = NULL, *b = NULL, *y = NULL;
    ds_dtype cdt = compute_dtype(x->dtype);
    ds_status st;
    int axis;
    DS_TRY(softmax_axis(&c->attrs[0], x->ndim, &axis));
    int64_t outer = 1, n = x->ndim ? x->shape[axis] : 1, inner = 1;
    for (int d = 0; d < x->ndim; d++) {
        if (d < axis) outer *= x->shape[d];
        if (d > axis) inner *= x->shape[d];
    }
    DS_TRY(dense_as(x, cdt, &a));
    if (grad) DS_TRY(dense_as(c->in[1], cdt, &b));
    DS_TRY(out_as(c->out[0], cdt, &y));
    if (grad) ds_nn_softmax_grad(cdt, lg, a->data, b->data, y->data, outer, n, inner);
    else ds_nn_softmax(cdt, lg, a->data, y->data, outer, n, inner);
    st = out_done(c->out[0], y);
    y = NULL;
fail:
    ds_tensor_release(a);
    ds_tensor_release(b);
    ds_tensor_release(y);
    return st;
}

/* ---------------------------------------------------------------- softmax cross-entropy */
/* attrs: sparse, reduction, ignore_index, label_smoothing (the same for the _grad op). */
static ds_status ce_infer(ds_op_id op, int n_in, const ds_meta *in, const ds_attr *attrs, ds_meta *out,
                          int *n_out) {
    const ds_meta *x = &in[0], *lab = &in[1];
    char s0[DS_SHAPE_STR_MAX], s1[DS_SHAPE_STR_MAX];
    bool sparse = ce_sparse(&attrs[0], lab->dtype);
    double eps = attrs[3].v.f;
    ds_status st = need_float(x, "logits");
    if (st) return st;
    if (x->ndim != 1 && x->ndim != 2)
        return ds_errorf(DS_ERR_SHAPE, "logits must have shape [N, C] or [C], got %s", SHAPE_S(x, s0));
    if (sparse) {
        if (lab->dtype != DS_INT32 && lab->dtype != DS_INT64)
            return ds_errorf(DS_ERR_DTYPE, "sparse labels must be int32 or int64 class indices, got %s "
                             "(for class probabilities pass sparse=False)", ds_dtype_name(lab->dtype));
        if (lab->ndim != x->ndim - 1 || (x->ndim == 2 && lab->shape[0] != x->shape[0] && lab->shape[0] >= 0 && x->shape[0] >= 0))
            return ds_errorf(DS_ERR_SHAPE, "sparse labels of shape %s do not match logits of shape %s (expected %s)",
                             SHAPE_S(lab, s0), SHAPE_S(x, s1), x->ndim == 2 ? "[N]: one class index per row" : "a 0-d index");
    } else if ((st = need_like(lab, "dense labels", x, "logits"))) {
        return st;
    }
    if ((st = check_reduction(&attrs[1]))) return st;
    if (!(eps >= 0 && eps <= 1)) return ds_errorf(DS_ERR_VALUE, "label_smoothing must be in [0, 1], got %g", eps);
    ds_meta loss = {x->dtype, 0, {0}};
    if (attrs[1].v.i == RED_NONE && x->ndim == 2) loss.ndim = 1, loss.shape[0] = x->shape[0];
    if (op == DS_OP_SOFTMAX_CROSS_ENTROPY) {
        *out = loss;
    } else {
        if ((st = need_like(&in[2], "the cotangent g", &loss, "the loss"))) return st;
        *out = *x;
    }
    *n_out = 1;
    return DS_OK;
}

/* The problem for the kernels: logits (and dense labels) contiguous in the compute dtype, sparse labels
 * validated into int64. */
typedef struct ce_setup {
    ds_nn_ce p;
    ds_tensor *x, *t;
    int64_t *labels;
    int64_t counted; /* rows the mean divides by */
} ce_setup;

static void ce_release(ce_setup *s) {
    ds_tensor_release(s->x);
    ds_tensor_release(s->t);
    ds_free(s->labels);
}

static ds_status ce_prepare(ds_op_call *c, ds_dtype cdt, ce_setup *s) {
    ds_tensor *x = c->in[0], *lab = c->in[1];
    const ds_attr *a = c->attrs;
    ds_status st;
    memset(s, 0, sizeof *s);
    s->p.dtype = cdt;
    s->p.n = x->ndim == 2 ? x->shape[0] : 1;
    s->p.c = x->shape[x->ndim - 1];
    s->p.has_ignore = a[2].kind == DS_ATTR_INT;
    s->p.ignore_index = s->p.has_ignore ? a[2].v.i : 0;
    s->p.smoothing = a[3].v.f;
    DS_TRY(dense_as(x, cdt, &s->x));
    s->p.logits = s->x->data;
    if (!ce_sparse(&a[0], lab->dtype)) {
        DS_TRY(dense_as(lab, cdt, &s->t));
        s->p.targets = s->t->data;
        s->counted = s->p.n;
        return DS_OK;
    }
    s->labels = ds_malloc(sizeof(int64_t) * (size_t)(s->p.n ? s->p.n : 1));
    if (!s->labels) {
        st = DS_ERR_NOMEM;
        goto fail;
    }
    size_t es = ds_dtype_size(lab->dtype);
    for (int64_t i = 0; i < s->p.n; i++) {
        const char *at = lab->data + (lab->ndim ? i * lab->strides[0] * (int64_t)es : 0);
        int64_t v = ds_dtype_load_int(lab->dtype, at);
        s->labels[i] = v;
        if (s->p.has_ignore && v == s->p.ignore_index) continue;
        if (v < 0 || v >= s->p.c) {
            if (x->ndim == 1) st = ds_errorf(DS_ERR_INDEX, "label %lld is out of range for %lld classes", (long long)v, (long long)s->p.c);
            else st = ds_errorf(DS_ERR_INDEX, "label %lld of sample %lld is out of range for %lld classes", (long long)v, (long long)i, (long long)s->p.c);
            goto fail;
        }
        s->counted++;
    }
    s->p.labels = s->labels;
    return DS_OK;
fail:
    ce_release(s);
    memset(s, 0, sizeof *s);
    return st;
}

static ds_status ce_run(ds_op_call *c) {
    ds_tensor *out = c->out[0], *y = NULL;
    ds_dtype cdt = compute_dtype(c->in[0]->dtype);
    int64_t red = c->attrs[1].v.i;
    ce_setup s;
    ds_status st = ce_prepare(c, cdt, &s);
    if (st) return st;
    double *v = ds_malloc(sizeof(double) * (size_t)(s.p.n ? s.p.n : 1));
    if (!v) {
        st = DS_ERR_NOMEM;
        goto fail;
    }
    if (c->op == DS_OP_SOFTMAX_CROSS_ENTROPY) {
        ds_nn_ce_forward(&s.p, v);
        if (red == RED_NONE) {
            for (int64_t i = 0; i < s.p.n; i++) ds_dtype_store_double(out->dtype, out->data + i * (int64_t)ds_dtype_size(out->dtype), v[i]);
        } else {
            double sum = 0;
            for (int64_t i = 0; i < s.p.n; i++) sum += v[i];
            ds_dtype_store_double(out->dtype, out->data, red == RED_MEAN ? sum / (double)s.counted : sum);
        }
    } else { /* row weights from the loss cotangent g */
        ds_tensor *g = c->in[2];
        double g0 = 0;
        if (red != RED_NONE) {
            DS_TRY(ds_tensor_get_double(g, 0, &g0));
            if (red == RED_MEAN) g0 /= (double)s.counted;
        }
        for (int64_t i = 0; i < s.p.n; i++) {
            if (red == RED_NONE) DS_TRY(ds_tensor_get_double(g, i, &v[i]));
            else v[i] = g0;
        }
        DS_TRY(out_as(out, cdt, &y));
        ds_nn_ce_backward(&s.p, v, y->data);
        st = out_done(out, y);
        y = NULL;
    }
fail:
    ds_free(v);
    ds_tensor_release(y);
    ce_release(&s);
    return st;
}

/* ---------------------------------------------------------------- binary cross-entropy with logits */
static ds_status bce_infer(ds_op_id op, int n_in, const ds_meta *in, const ds_attr *attrs, ds_meta *out,
                           int *n_out) {
    ds_status st = need_float(&in[0], "logits");
    if (!st) st = need_like(&in[1], "targets", &in[0], "logits");
    if (!st) st = check_reduction(&attrs[0]);
    if (st) return st;
    *out = in[0];
    if (attrs[0].v.i != RED_NONE) out->ndim = 0;
    *n_out = 1;
    return DS_OK;
}

static ds_status bce_run(ds_op_call *c) {
    ds_tensor *out = c->out[0], *x = NULL, *t = NULL, *y = NULL;
    ds_dtype cdt = compute_dtype(c->in[0]->dtype);
    int64_t red = c->attrs[0].v.i, n = c->in[0]->numel;
    ds_status st;
    DS_TRY(dense_as(c->in[0], cdt, &x));
    DS_TRY(dense_as(c->in[1], cdt, &t));
    if (red == RED_NONE) {
        DS_TRY(out_as(out, cdt, &y));
        ds_nn_bce(cdt, x->data, t->data, n, y->data);
        st = out_done(out, y);
        y = NULL;
    } else {
        double s = ds_nn_bce(cdt, x->data, t->data, n, NULL);
        ds_dtype_store_double(out->dtype, out->data, red == RED_MEAN ? s / (double)n : s);
    }
fail:
    ds_tensor_release(x);
    ds_tensor_release(t);
    ds_tensor_release(y);
    return st;
}

/* ---------------------------------------------------------------- optimizer updates */
static const char *const k_state_names[DS_NN_OPT_COUNT][5] = {
    {"param", "grad", "momentum_buf"}, {"param", "grad", "accum"}, {"param", "grad", "m", "v", "v_max"}};

static ds_nn_opt_kind opt_kind(ds_op_id op) {
    return op == DS_OP_SGD_UPDATE ? DS_NN_SGD : op == DS_OP_MOMENTUM_UPDATE ? DS_NN_MOMENTUM : DS_NN_ADAM;
}
/* Number of leading tensor inputs (param, grad, state); Adam with amsgrad (attribute 7) has v_max. */
static int opt_nstate(ds_nn_opt_kind k, const ds_attr *attrs) { return k == DS_NN_ADAM ? 4 + attrs[7].v.b : 3; }
static int opt_nextra(ds_nn_opt_kind k) { return k == DS_NN_MOMENTUM ? 1 : 2; } /* lr [, step] */
/* Index of the step attribute (-1: none); lr is attribute 0 of every update. */
static int step_attr(ds_nn_opt_kind k) { return k == DS_NN_MOMENTUM ? -1 : 5; }

static ds_status need_scalar(const ds_meta *m, const char *what, bool float_only) {
    int64_t n = 1;
    for (int d = 0; d < m->ndim; d++) n *= m->shape[d] < 0 ? 1 : m->shape[d];
    char s[DS_SHAPE_STR_MAX];
    if (n != 1 || (float_only ? !ds_dtype_is_float(m->dtype) : m->dtype == DS_BOOL))
        return ds_errorf(float_only ? DS_ERR_DTYPE : DS_ERR_VALUE, "%s must be a one-element %s tensor, got %s of shape %s",
                         what, float_only ? "float" : "numeric", ds_dtype_name(m->dtype), SHAPE_S(m, s));
    return DS_OK;
}

static ds_status check_hyper(const char *name, double v, double lo, double hi, bool hi_open) {
    if (v >= lo && (hi_open ? v < hi : v <= hi)) return DS_OK;
    return ds_errorf(DS_ERR_VALUE, "%s must be in [%g, %g%s, got %g", name, lo, hi, hi_open ? ")" : "]", v);
}

static ds_status opt_infer(ds_op_id op, int n_in, const ds_meta *in, const ds_attr *attrs, ds_meta *out, int *n_out) {
    ds_nn_opt_kind k = opt_kind(op);
    int ns = opt_nstate(k, attrs), nx = opt_nextra(k);
    const char *const *names = k_state_names[k];
    ds_status st;
    if (n_in < ns || n_in > ns + nx)
        return ds_errorf(DS_ERR_VALUE, "expects the tensors %s, %s, %s%s%s%s%s, then optionally lr%s: got %d inputs", names[0],
                         names[1], names[2], ns >= 4 ? ", " : "", ns >= 4 ? names[3] : "", ns == 5 ? ", " : "",
                         ns == 5 ? names[4] : "", nx == 2 ? " and step" : "", n_in);
    if ((st = need_float(&in[0], "param"))) return st;
    bool momentum = k != DS_NN_SGD || attrs[1].v.f != 0;
    for (int i = 1; i < ns; i++)
        if ((i < 2 || momentum) && (st = need_like(&in[i], names[i], &in[0], "param"))) return st;
    if (k == DS_NN_SGD && !momentum && in[2].dtype != in[0].dtype && (st = need_like(&in[2], names[2], &in[0], "param")))
        return st;
    if (n_in > ns && (st = need_scalar(&in[ns], "lr", true))) return st;
    if (n_in > ns + 1 && (st = need_scalar(&in[ns + 1], "step", false))) return st;
    if (n_in == ns && attrs[0].kind != DS_ATTR_FLOAT)
        return ds_errorf(DS_ERR_VALUE, "lr is missing: pass the lr attribute or an lr tensor after %s", names[ns - 1]);
    if (attrs[0].kind == DS_ATTR_FLOAT && (st = check_hyper("lr", attrs[0].v.f, 0, INFINITY, false))) return st;
    int sa = step_attr(k);
    if (sa >= 0 && n_in <= ns + 1 && attrs[sa].v.i < 0)
        return ds_errorf(DS_ERR_VALUE, "step must be >= 0 (the 1-based number of this update, or 0), got %lld",
                         (long long)attrs[sa].v.i);
    if (k == DS_NN_SGD) { /* lr, momentum, dampening, nesterov, weight_decay, step */
        if ((st = check_hyper("momentum", attrs[1].v.f, 0, INFINITY, false)) ||
            (st = check_hyper("weight_decay", attrs[4].v.f, 0, INFINITY, false)))
            return st;
        if (attrs[3].v.b && (attrs[1].v.f <= 0 || attrs[2].v.f != 0))
            return ds_errorf(DS_ERR_VALUE, "nesterov momentum requires a momentum > 0 and zero dampening (got momentum %g, dampening %g)",
                             attrs[1].v.f, attrs[2].v.f);
    } else if (k == DS_NN_MOMENTUM) { /* lr, momentum, nesterov, weight_decay */
        if ((st = check_hyper("momentum", attrs[1].v.f, 0, INFINITY, false)) ||
            (st = check_hyper("weight_decay", attrs[3].v.f, 0, INFINITY, false)))
            return st;
    } else { /* lr, beta1, beta2, eps, weight_decay, step, decoupled, amsgrad */
        if ((st = check_hyper("beta1", attrs[1].v.f, 0, 1, true)) || (st = check_hyper("beta2", attrs[2].v.f, 0, 1, true)) ||
            (st = check_hyper("eps", attrs[3].v.f, 0, INFINITY, false)) ||
            (st = check_hyper("weight_decay", attrs[4].v.f, 0, INFINITY, false)))
            return st;
    }
    *n_out = 0;
    return DS_OK;
}

/* A written operand may not be a broadcast view, nor the same memory as another operand. */
static ds_status check_targets(ds_tensor *const *ops, int nop, const char *const *names) {
    for (int i = 0; i < nop; i++) {
        for (int d = 0; i != 1 && d < ops[i]->ndim; d++)
            if (ops[i]->strides[d] == 0 && ops[i]->shape[d] > 1)
                return ds_errorf(DS_ERR_VALUE, "%s is a broadcast view (stride 0 in dim %d); it cannot be updated in place", names[i], d);
        for (int j = 0; j < i; j++)
            if (ops[i]->numel && ops[i]->data == ops[j]->data)
                return ds_errorf(DS_ERR_VALUE, "%s and %s are the same memory; each must be its own tensor", names[j], names[i]);
    }
    return DS_OK;
}

static ds_status opt_run(ds_op_call *c) {
    ds_nn_opt_kind k = opt_kind(c->op);
    const ds_attr *a = c->attrs;
    int ns = opt_nstate(k, a);
    ds_nn_opt o;
    memset(&o, 0, sizeof o);
    ds_status st;
    double lr = a[0].kind == DS_ATTR_FLOAT ? a[0].v.f : 0, stepd = 0;
    if (c->n_in > ns) {
        if ((st = ds_tensor_get_double(c->in[ns], 0, &lr))) return st;
        if ((st = check_hyper("lr", lr, 0, INFINITY, false))) return st;
    }
    int sa = step_attr(k);
    int64_t step = sa >= 0 ? a[sa].v.i : 0;
    if (c->n_in > ns + 1) {
        if ((st = ds_tensor_get_double(c->in[ns + 1], 0, &stepd))) return st;
        if (stepd != floor(stepd) || stepd < 0 || stepd > 9e15)
            return ds_errorf(DS_ERR_VALUE, "step must be an integer >= 0 (the 1-based number of this update, or 0), got %g", stepd);
        step = (int64_t)stepd;
    }
    o.lr = lr;
    if (k == DS_NN_SGD) {
        o.momentum = a[1].v.f, o.dampening = a[2].v.f, o.nesterov = a[3].v.b, o.weight_decay = a[4].v.f;
        o.first = step == 1;
    } else if (k == DS_NN_MOMENTUM) {
        o.momentum = a[1].v.f, o.nesterov = a[2].v.b, o.weight_decay = a[3].v.f;
    } else {
        o.beta1 = a[1].v.f, o.beta2 = a[2].v.f, o.eps = a[3].v.f, o.weight_decay = a[4].v.f, o.decoupled = a[6].v.b;
        o.amsgrad = a[7].v.b;
        o.step_size = step ? lr / (1.0 - pow(o.beta1, (double)step)) : lr; /* step 0: no bias correction */
        o.bc2_sqrt = step ? sqrt(1.0 - pow(o.beta2, (double)step)) : 1.0;
    }
    int nop = k == DS_NN_SGD && o.momentum == 0 ? 2 : ns;
    if ((st = check_targets(c->in, nop, k_state_names[k]))) return st;
    ds_tensor *p = c->in[0];
    for (int i = 1; i < nop; i++) /* infer checked metadata; shapes may have been unknown then */
        if (!ds_shape_equal(c->in[i]->ndim, c->in[i]->shape, p->ndim, p->shape)) {
            char s0[DS_SHAPE_STR_MAX], s1[DS_SHAPE_STR_MAX];
            return ds_errorf(DS_ERR_SHAPE, "%s of shape %s does not match param of shape %s", k_state_names[k][i],
                             ds_shape_str(c->in[i]->ndim, c->in[i]->shape, s0, sizeof s0), ds_shape_str(p->ndim, p->shape, s1, sizeof s1));
        }
    if (p->numel == 0) return DS_OK;
    ds_loop_fn fn = ds_nn_opt_loop(k, p->dtype);
    if (!fn) return ds_errorf(DS_ERR_DTYPE, "param must be a float tensor, got %s", ds_dtype_name(p->dtype));
    ds_iter it;
    if ((st = ds_iter_init(&it, nop, c->in, p->ndim, p->shape))) return st;
    ds_iter_run(&it, fn, &o, k == DS_NN_ADAM ? 8 : 2);
    return DS_OK;
}

/* ---------------------------------------------------------------- registration */
/* Fills the nn ops' slots of the registry table. */
void ds_ops_register_nn(ds_op_impl *table) {
    static const ds_op_id softmax[] = {DS_OP_SOFTMAX, DS_OP_LOG_SOFTMAX, DS_OP_SOFTMAX_GRAD, DS_OP_LOG_SOFTMAX_GRAD};
    for (size_t i = 0; i < sizeof softmax / sizeof softmax[0]; i++) table[softmax[i]] = (ds_op_impl){softmax_infer, softmax_run, 0};
    table[DS_OP_SOFTMAX_CROSS_ENTROPY] = (ds_op_impl){ce_infer, ce_run, 0};
    table[DS_OP_SOFTMAX_CROSS_ENTROPY_GRAD] = (ds_op_impl){ce_infer, ce_run, 0};
    table[DS_OP_BCE_WITH_LOGITS] = (ds_op_impl){bce_infer, bce_run, 0};
    table[DS_OP_SGD_UPDATE] = (ds_op_impl){opt_infer, opt_run, DS_IMPL_EFFECT};
    table[DS_OP_MOMENTUM_UPDATE] = (ds_op_impl){opt_infer, opt_run, DS_IMPL_EFFECT};
    table[DS_OP_ADAM_UPDATE] = (ds_op_impl){opt_infer, opt_run, DS_IMPL_EFFECT};
}
