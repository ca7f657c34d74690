/* Helpers for the pass tests: terse graph building, node counting, and the equivalence oracle (the
 * reference interpreter run on the original and the optimized graph with the same random inputs). */
#ifndef DS_TEST_PASSES_UTIL_H
#define DS_TEST_PASSES_UTIL_H
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "dynastat.h"
#include "ir/ir.h"

static int pu_fail; /* set when a building helper failed (tests CHECK(!pu_fail)) */

static inline void pu_check(ds_status st, const char *what, int line) {
    if (st) {
        printf("  line %d: %s failed: %s\n", line, what, ds_error_message());
        pu_fail = 1;
    }
}
#define PU(expr) pu_check((expr), #expr, __LINE__)

static inline ds_value *pu_param(ds_graph *g, const char *name, ds_dtype dt, int nd, const int64_t *dims, bool weight) {
    ds_value *v = NULL;
    PU(ds_graph_add_param(g, name, dt, nd, dims, weight, &v));
    return v;
}
static inline ds_value *pu_op(ds_graph *g, ds_op_id op, int n, ds_value *const *in, const ds_attr *attrs) {
    ds_value *v = NULL;
    PU(ds_graph_add_op1(g, op, n, in, attrs, &v));
    return v;
}
static inline ds_value *pu_un(ds_graph *g, ds_op_id op, ds_value *a) { return pu_op(g, op, 1, &a, NULL); }
static inline ds_value *pu_bin(ds_graph *g, ds_op_id op, ds_value *a, ds_value *b) {
    ds_value *in[2] = {a, b};
    return pu_op(g, op, 2, in, NULL);
}
static inline ds_value *pu_ints_op(ds_graph *g, ds_op_id op, ds_value *a, int n, const int64_t *ints) {
    ds_attr at[2] = {{.kind = DS_ATTR_INTS, .n = n, .v.ints = ints}, {.kind = DS_ATTR_NONE}};
    return pu_op(g, op, 1, &a, at);
}
static inline ds_value *pu_uniform(ds_graph *g, int n, const int64_t *shape) {
    ds_attr at[4] = {{.kind = DS_ATTR_INTS, .n = n, .v.ints = shape}};
    return pu_op(g, DS_OP_UNIFORM, 0, NULL, at);
}
static inline ds_value *pu_const(ds_graph *g, ds_dtype dt, int nd, const int64_t *shape, const double *vals) {
    ds_tensor *t = NULL;
    ds_value *v = NULL;
    PU(ds_tensor_new(dt, nd, shape, &t));
    if (!t) return NULL;
    ds_tensor *s = NULL;
    for (int64_t i = 0; i < ds_tensor_numel(t); i++) {
        PU(ds_tensor_scalar(dt, vals[i], &s));
        if (!s) break;
        memcpy((char *)ds_tensor_data(t) + i * ds_dtype_size(dt), ds_tensor_data(s), ds_dtype_size(dt));
        ds_tensor_release(s);
    }
    PU(ds_graph_add_const(g, t, &v));
    ds_tensor_release(t);
    return v;
}
static inline ds_value *pu_scalar(ds_graph *g, ds_dtype dt, double x) { return pu_const(g, dt, 0, NULL, &x); }
static inline void pu_outputs(ds_graph *g, int n, ds_value *const *v) { PU(ds_graph_set_outputs(g, n, v)); }

static inline int pu_count_kind(const ds_graph *g, ds_node_kind k) {
    int c = 0;
    for (int i = 0; i < g->nodes.n; i++) c += ((ds_node *)g->nodes.items[i])->kind == k;
    return c;
}
static inline int pu_count_op(const ds_graph *g, ds_op_id op) {
    int c = 0;
    for (int i = 0; i < g->nodes.n; i++) {
        const ds_node *n = g->nodes.items[i];
        c += n->kind == DS_NODE_OP && n->op == op;
    }
    return c;
}

/* ---------------------------------------------------------------- the oracle */
static uint64_t pu_rng;
static inline uint64_t pu_next(void) {
    pu_rng ^= pu_rng << 13;
    pu_rng ^= pu_rng >> 7;
    pu_rng ^= pu_rng << 17;
    return pu_rng;
}

/* A random tensor for parameter p: symbols get 2 + their index, unknown dims 3; floats include the
 * awkward values (-0.0, NaN, inf) now and then. */
static inline ds_tensor *pu_random_input(const ds_value *p) {
    int64_t shape[DS_MAX_DIMS];
    for (int d = 0; d < p->type.ndim; d++) {
        int64_t x = p->type.shape[d];
        shape[d] = x >= 0 ? x : DS_DIM_IS_SYM(x) ? 2 + DS_DIM_SYM_INDEX(x) : 3;
    }
    ds_tensor *t = NULL;
    if (ds_tensor_new(p->type.dtype, p->type.ndim, shape, &t)) return NULL;
    for (int64_t i = 0; i < ds_tensor_numel(t); i++) {
        uint64_t r = pu_next();
        double v;
        if (ds_dtype_is_float(p->type.dtype)) {
            int pick = (int)(r % 16);
            v = pick == 0 ? -0.0 : pick == 1 ? NAN : pick == 2 ? INFINITY : ((double)(r >> 11) / 9007199254740992.0) * 4 - 2;
        } else if (p->type.dtype == DS_BOOL) v = (double)(r & 1);
        else v = (double)((int64_t)(r % 11) - 5);
        ds_tensor *s;
        if (ds_tensor_scalar(p->type.dtype, v, &s)) continue;
        memcpy((char *)ds_tensor_data(t) + i * ds_dtype_size(t->dtype), ds_tensor_data(s), ds_dtype_size(t->dtype));
        ds_tensor_release(s);
    }
    return t;
}

typedef struct pu_capture {
    char text[16384];
    size_t len;
} pu_capture;
static inline void pu_capture_fn(void *ctx, const char *s) {
    pu_capture *c = ctx;
    size_t n = strlen(s);
    if (c->len + n < sizeof c->text) {
        memcpy(c->text + c->len, s, n + 1);
        c->len += n;
    }
}

static inline bool pu_same_tensor(const ds_tensor *a, const ds_tensor *b) {
    if (ds_tensor_dtype(a) != ds_tensor_dtype(b) || ds_tensor_ndim(a) != ds_tensor_ndim(b)) return false;
    if (memcmp(ds_tensor_shape(a), ds_tensor_shape(b), sizeof(int64_t) * (size_t)ds_tensor_ndim(a))) return false;
    ds_tensor *ca, *cb;
    if (ds_tensor_contiguous((ds_tensor *)a, &ca)) return false;
    if (ds_tensor_contiguous((ds_tensor *)b, &cb)) {
        ds_tensor_release(ca);
        return false;
    }
    bool same = !memcmp(ds_tensor_data(ca), ds_tensor_data(cb), (size_t)ds_tensor_numel(a) * ds_dtype_size(ds_tensor_dtype(a)));
    ds_tensor_release(ca);
    ds_tensor_release(cb);
    return same;
}

static inline ds_tensor *pu_copy(const ds_tensor *t) {
    ds_tensor *c = NULL;
    if (t && !ds_tensor_new(ds_tensor_dtype(t), ds_tensor_ndim(t), ds_tensor_shape(t), &c)) ds_tensor_copy_into(c, t);
    return c;
}

/* Runs `a` and `b` on the same random inputs `trials` times: outputs, printed text and the parameters'
 * final contents (assign writes them) must be bit-identical, or both runs fail with the same status. */
static inline bool pu_same_behavior(const ds_graph *a, const ds_graph *b, int trials) {
    int np = ds_graph_num_params(a);
    if (np != ds_graph_num_params(b) || ds_graph_num_outputs(a) != ds_graph_num_outputs(b) || np > 16) return false;
    bool ok = true;
    pu_rng = 0x9e3779b97f4a7c15ull;
    for (int t = 0; t < trials && ok; t++) {
        ds_tensor *in_a[16], *in_b[16], *out_a[16] = {NULL}, *out_b[16] = {NULL};
        for (int i = 0; i < np; i++) {
            in_a[i] = pu_random_input(ds_graph_param(a, i));
            in_b[i] = pu_copy(in_a[i]);
        }
        static pu_capture ca, cb;
        ca.len = cb.len = 0;
        ca.text[0] = cb.text[0] = '\0';
        ds_set_print_hook(pu_capture_fn, &ca);
        ds_random_seed(42 + (uint64_t)t);
        int na = 0, nb = 0;
        ds_status sa = ds_graph_eval(a, np, in_a, 16, out_a, &na);
        ds_set_print_hook(pu_capture_fn, &cb);
        ds_random_seed(42 + (uint64_t)t);
        ds_status sb = ds_graph_eval(b, np, in_b, 16, out_b, &nb);
        ds_set_print_hook(NULL, NULL);
        if (sa != sb) {
            printf("  oracle: status %d vs %d (%s)\n", (int)sa, (int)sb, ds_error_message());
            ok = false;
        }
        for (int i = 0; ok && !sa && i < na; i++)
            if (!pu_same_tensor(out_a[i], out_b[i])) {
                printf("  oracle: output %d differs (trial %d)\n", i, t);
                ok = false;
            }
        for (int i = 0; ok && !sa && i < np; i++)
            if (!pu_same_tensor(in_a[i], in_b[i])) {
                printf("  oracle: parameter %d ends different (trial %d)\n", i, t);
                ok = false;
            }
        if (ok && strcmp(ca.text, cb.text)) {
            printf("  oracle: printed text differs:\n---\n%s---\n%s---\n", ca.text, cb.text);
            ok = false;
        }
        for (int i = 0; i < np; i++) {
            ds_tensor_release(in_a[i]);
            ds_tensor_release(in_b[i]);
        }
        for (int i = 0; i < 16; i++) {
            ds_tensor_release(out_a[i]);
            ds_tensor_release(out_b[i]);
        }
    }
    return ok;
}
#endif
