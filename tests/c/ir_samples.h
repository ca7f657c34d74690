/* Sample graphs for the IR text and file format tests and the fuzz seed corpus: together they use every
 * node kind, every attribute kind, constants of every dtype (small and large, with NaN payloads,
 * negative zeros, subnormals and infinities), shared subgraphs, effects inside subgraphs, symbolic and
 * unknown dims, and odd names and source locations. Each builder returns a new graph or NULL. */
#ifndef DS_TESTS_IR_SAMPLES_H
#define DS_TESTS_IR_SAMPLES_H
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "dynastat.h"
#include "ir/ir.h"
#include "ir/irio.h"

#define S_TRY(expr)                                                                                \
    do {                                                                                           \
        if ((expr) != DS_OK) goto fail;                                                            \
    } while (0)

static ds_status sample_host_fn(void *ctx, int n_in, ds_tensor *const *in, int n_out, ds_tensor *const *out) {
    (void)ctx;
    (void)n_in;
    (void)in;
    (void)n_out;
    (void)out;
    return DS_OK;
}

/* A constant from raw bytes. */
static ds_status sample_const(ds_graph *g, ds_dtype dt, int ndim, const int64_t *shape, const void *data, ds_value **out) {
    ds_tensor *t;
    ds_status st = ds_tensor_from_data(dt, ndim, shape, data, &t);
    if (st) return st;
    st = ds_graph_add_const(g, t, out);
    ds_tensor_release(t);
    return st;
}

/* One small constant of each dtype, plus a big one and an empty one. */
static ds_status sample_constants(ds_graph *g) {
    ds_value *v;
    int64_t s2[1] = {2}, s4[1] = {4}, s5[1] = {5}, s40[1] = {40}, s03[2] = {0, 3}, s22[2] = {2, 2};
    uint8_t b[2] = {1, 0}, b_odd[2] = {1, 2};
    int8_t i8[2] = {-128, 127};
    uint8_t u8 = 255;
    int16_t i16[4] = {-32768, 0, 1, 32767};
    int32_t i32[2][2] = {{INT32_MIN, -1}, {0, INT32_MAX}};
    int64_t i64[2] = {INT64_MIN, INT64_MAX};
    uint16_t f16[5] = {0x3c00, 0x8000, 0x0001, 0x7c00, 0x7e00};  /* 1, -0, smallest subnormal, inf, nan */
    uint16_t bf16[4] = {0x3f80, 0x4049, 0xff80, 0x0001};         /* 1, 3.140625, -inf, subnormal */
    float f32[5] = {0.1f, -0.0f, 1e-45f, -3.4028235e38f, 16777216.0f};
    uint32_t f32_nan[2] = {0x7fc00000u, 0xffc00000u};            /* nan, -nan */
    double f64[4] = {0.1, 1.0 / 3.0, 1e300, -2.5e-320};
    uint64_t f64_payload = 0x7ff0000000000123ull;                /* a signalling NaN: hex */
    float big[40];
    for (int i = 0; i < 40; i++) big[i] = (float)i * 0.25f - 3.0f;
    S_TRY(sample_const(g, DS_BOOL, 1, s2, b, &v));
    S_TRY(sample_const(g, DS_BOOL, 1, s2, b_odd, &v)); /* a bool byte of 2: hex */
    S_TRY(sample_const(g, DS_INT8, 1, s2, i8, &v));
    S_TRY(sample_const(g, DS_UINT8, 0, NULL, &u8, &v));
    S_TRY(sample_const(g, DS_INT16, 1, s4, i16, &v));
    S_TRY(sample_const(g, DS_INT32, 2, s22, i32, &v));
    S_TRY(sample_const(g, DS_INT64, 1, s2, i64, &v));
    S_TRY(sample_const(g, DS_FLOAT16, 1, s5, f16, &v));
    S_TRY(sample_const(g, DS_BFLOAT16, 1, s4, bf16, &v));
    S_TRY(sample_const(g, DS_FLOAT32, 1, s5, f32, &v));
    S_TRY(sample_const(g, DS_FLOAT32, 1, s2, f32_nan, &v));
    S_TRY(sample_const(g, DS_FLOAT64, 1, s4, f64, &v));
    S_TRY(sample_const(g, DS_FLOAT64, 0, NULL, &f64_payload, &v));
    S_TRY(sample_const(g, DS_FLOAT32, 1, s40, big, &v));
    S_TRY(sample_const(g, DS_FLOAT32, 2, s03, big, &v));
    return DS_OK;
fail:
    return ds_error_status() ? ds_error_status() : DS_ERR_INTERNAL;
}

/* body(i, acc): prints i, returns (i + 1, acc * 2) */
static ds_graph *sample_loop_body(const char *name) {
    ds_graph *g = NULL;
    ds_value *i, *acc, *one, *two, *ni, *na;
    S_TRY(ds_graph_new(name, &g));
    S_TRY(ds_graph_add_param(g, "i", DS_INT64, 0, NULL, false, &i));
    S_TRY(ds_graph_add_param(g, "acc", DS_FLOAT32, 0, NULL, false, &acc));
    int64_t k1 = 1;
    float k2 = 2.0f;
    S_TRY(sample_const(g, DS_INT64, 0, NULL, &k1, &one));
    S_TRY(sample_const(g, DS_FLOAT32, 0, NULL, &k2, &two));
    ds_value *a1[2] = {i, one}, *a2[2] = {acc, two};
    S_TRY(ds_graph_add_op1(g, DS_OP_ADD, 2, a1, NULL, &ni));
    S_TRY(ds_graph_add_op1(g, DS_OP_MUL, 2, a2, NULL, &na));
    S_TRY(ds_graph_add_print(g, "i =", 1, &i));
    ds_value *outs[2] = {ni, na};
    S_TRY(ds_graph_set_outputs(g, 2, outs));
    return g;
fail:
    ds_graph_release(g);
    return NULL;
}

/* cond(i, acc): i < 10 */
static ds_graph *sample_loop_cond(const char *name) {
    ds_graph *g = NULL;
    ds_value *i, *acc, *ten, *lt;
    S_TRY(ds_graph_new(name, &g));
    S_TRY(ds_graph_add_param(g, "i", DS_INT64, 0, NULL, false, &i));
    S_TRY(ds_graph_add_param(g, "acc", DS_FLOAT32, 0, NULL, false, &acc));
    int64_t k = 10;
    S_TRY(sample_const(g, DS_INT64, 0, NULL, &k, &ten));
    ds_value *in[2] = {i, ten};
    S_TRY(ds_graph_add_op1(g, DS_OP_LESS, 2, in, NULL, &lt));
    S_TRY(ds_graph_set_outputs(g, 1, &lt));
    return g;
fail:
    ds_graph_release(g);
    return NULL;
}

/* A graph of one parameter (f32[3]) returning it negated (or as is, printing it first), named `name`. */
static ds_graph *sample_unary(const char *name, bool negate) {
    ds_graph *g = NULL;
    ds_value *x, *y;
    int64_t s[1] = {3};
    S_TRY(ds_graph_new(name, &g));
    S_TRY(ds_graph_add_param(g, "x", DS_FLOAT32, 1, s, false, &x));
    y = x;
    if (negate) S_TRY(ds_graph_add_op1(g, DS_OP_NEG, 1, &x, NULL, &y));
    else S_TRY(ds_graph_add_print(g, "x:", 1, &x));
    S_TRY(ds_graph_set_outputs(g, 1, &y));
    return g;
fail:
    ds_graph_release(g);
    return NULL;
}

/* Every node kind, attribute kind and naming oddity in one graph. */
static ds_graph *sample_kitchen_sink(void) {
    ds_graph *g = NULL, *neg = NULL, *same = NULL, *cond = NULL, *body = NULL, *body2 = NULL;
    ds_value *x, *w, *b, *u, *n, *c, *t0, *y1, *y2, *p3, *mm, *sum, *am, *oh, *cst, *clp, *var, *rnd, *spl[2], *r[2], *sel, *cl, *cb, *lp[2], *lp2[2];
    int64_t batch, seq, xs[2], ws[2] = {4, 3}, bs[1] = {3}, us[2] = {DS_DIM_UNKNOWN, 3}, s3[1] = {3};
    int nout;
    S_TRY(ds_graph_new("main", &g));
    S_TRY(ds_graph_symbol(g, "batch", &batch));
    S_TRY(ds_graph_symbol(g, "seq len", &seq));
    xs[0] = batch;
    xs[1] = 4;
    int64_t seqs[1] = {seq};
    S_TRY(ds_graph_add_param(g, "x", DS_FLOAT32, 2, xs, false, &x));
    S_TRY(ds_graph_add_param(g, "w", DS_FLOAT32, 2, ws, true, &w));
    S_TRY(ds_graph_add_param(g, "b", DS_FLOAT32, 1, bs, true, &b));
    S_TRY(ds_graph_add_param(g, "my param", DS_FLOAT32, 2, us, false, &u));
    S_TRY(ds_graph_add_param(g, "n", DS_INT64, 0, NULL, false, &n));
    S_TRY(ds_graph_add_param(g, "c", DS_BOOL, 0, NULL, false, &c));
    S_TRY(ds_graph_add_param(g, "t0", DS_FLOAT32, 1, s3, false, &t0));
    S_TRY(ds_graph_add_param(g, "y", DS_FLOAT32, 1, s3, false, &y1));
    S_TRY(ds_graph_add_param(g, "y", DS_FLOAT32, 1, seqs, false, &y2));
    S_TRY(ds_graph_add_param(g, "", DS_INT32, 1, s3, false, &p3));
    ds_graph_set_loc(g, "model dir/my \"model\".py", 12, 5);
    ds_value *in2[2] = {x, w};
    ds_attr mm_attrs[2] = {{.kind = DS_ATTR_BOOL, .v.b = false}, {.kind = DS_ATTR_BOOL, .v.b = false}};
    S_TRY(ds_graph_add_op1(g, DS_OP_MATMUL, 2, in2, mm_attrs, &mm));
    ds_graph_set_loc(g, "model dir/my \"model\".py", 13, 0);
    ds_value *in3[2] = {mm, b};
    S_TRY(ds_graph_add_op1(g, DS_OP_ADD, 2, in3, NULL, &mm));
    ds_graph_set_loc(g, NULL, 0, 0);
    int64_t axis1[1] = {1};
    ds_attr sum_attrs[2] = {{.kind = DS_ATTR_INTS, .n = 1, .v.ints = axis1}, {.kind = DS_ATTR_BOOL, .v.b = true}};
    S_TRY(ds_graph_add_op1(g, DS_OP_SUM, 1, &mm, sum_attrs, &sum));
    S_TRY(ds_graph_add_op1(g, DS_OP_ARGMAX, 1, &x, NULL, &am));
    ds_attr oh_attrs[5] = {{.kind = DS_ATTR_INT, .v.i = 5}, {.kind = DS_ATTR_FLOAT, .v.f = 1.5}, {.kind = DS_ATTR_FLOAT, .v.f = -0.1},
                           {.kind = DS_ATTR_INT, .v.i = -1}, {.kind = DS_ATTR_DTYPE, .v.dtype = DS_FLOAT16}};
    S_TRY(ds_graph_add_op1(g, DS_OP_ONE_HOT, 1, &n, oh_attrs, &oh));
    ds_attr cast_attrs[1] = {{.kind = DS_ATTR_DTYPE, .v.dtype = DS_BFLOAT16}};
    S_TRY(ds_graph_add_op1(g, DS_OP_CAST, 1, &x, cast_attrs, &cst));
    ds_attr clip_attrs[2] = {{.kind = DS_ATTR_NONE}, {.kind = DS_ATTR_FLOAT, .v.f = 6.0}};
    S_TRY(ds_graph_add_op1(g, DS_OP_CLIP, 1, &x, clip_attrs, &clp));
    int64_t axis0[1] = {0};
    ds_attr var_attrs[3] = {{.kind = DS_ATTR_INTS, .n = 1, .v.ints = axis0}, {.kind = DS_ATTR_BOOL}, {.kind = DS_ATTR_INT, .v.i = 1}};
    S_TRY(ds_graph_add_op1(g, DS_OP_VAR, 1, &u, var_attrs, &var));
    int64_t shape22[2] = {2, 2}, sizes[2] = {1, 3};
    ds_attr uni_attrs[4] = {{.kind = DS_ATTR_INTS, .n = 2, .v.ints = shape22}};
    ds_graph_set_loc(g, "rand.py", 3, 1);
    S_TRY(ds_graph_add_op1(g, DS_OP_UNIFORM, 0, NULL, uni_attrs, &rnd));
    ds_graph_set_loc(g, NULL, 0, 0);
    ds_attr split_attrs[2] = {{.kind = DS_ATTR_INTS, .n = 2, .v.ints = sizes}, {.kind = DS_ATTR_INT, .v.i = 0}};
    S_TRY(ds_graph_add_op(g, DS_OP_SPLIT, 1, &w, split_attrs, 2, spl, &nout));
    S_TRY(sample_constants(g));
    /* shared subgraphs: `neg` is both branches of the If and the callee of a Call */
    S_TRY((neg = sample_unary("neg", true)) ? DS_OK : DS_ERR_NOMEM);
    S_TRY((same = sample_unary("main", false)) ? DS_OK : DS_ERR_NOMEM); /* named like the graph using it */
    S_TRY(ds_graph_add_if(g, c, neg, neg, 1, &b, 1, r, &nout));
    S_TRY(ds_graph_add_if(g, c, same, neg, 1, &r[0], 1, &sel, &nout));
    S_TRY(ds_graph_add_call(g, neg, 1, &sel, 1, &cl, &nout));
    S_TRY((cond = sample_loop_cond("cond")) ? DS_OK : DS_ERR_NOMEM);
    S_TRY((body = sample_loop_body("body")) ? DS_OK : DS_ERR_NOMEM);
    S_TRY((body2 = sample_loop_body("body")) ? DS_OK : DS_ERR_NOMEM); /* a different graph, same name */
    float zero = 0;
    ds_value *acc0;
    S_TRY(sample_const(g, DS_FLOAT32, 0, NULL, &zero, &acc0));
    ds_value *init[2] = {n, acc0};
    S_TRY(ds_graph_add_while(g, cond, body, 2, init, lp));
    S_TRY(ds_graph_add_while(g, cond, body2, 2, lp, lp2));
    ds_value *pv[2] = {x, mm};
    S_TRY(ds_graph_add_print(g, "say \"hi\"\n\tback\\slash \x01", 2, pv));
    S_TRY(ds_graph_add_print(g, "", 0, NULL));
    ds_value *nw;
    ds_value *ws_in[2] = {w, w};
    S_TRY(ds_graph_add_op1(g, DS_OP_MUL, 2, ws_in, NULL, &nw));
    S_TRY(ds_graph_add_assign(g, w, nw));
    ds_dtype cdt[1] = {DS_FLOAT32};
    int cnd[1] = {2};
    int64_t cdims0[2] = {batch, DS_DIM_SYM(7)};
    const int64_t *cdims[1] = {cdims0};
    ds_graph_set_loc(g, "host.py", 40, 2);
    S_TRY(ds_graph_add_callback(g, "python fn <lambda>", sample_host_fn, NULL, 1, &x, 1, cdt, cnd, cdims, &cb));
    ds_value *outs[12] = {mm, sum, am, oh, cst, clp, var, rnd, spl[1], cl, lp2[1], x};
    S_TRY(ds_graph_set_outputs(g, 12, outs));
    (void)t0, (void)y1, (void)y2, (void)p3;
    ds_graph_release(neg);
    ds_graph_release(same);
    ds_graph_release(cond);
    ds_graph_release(body);
    ds_graph_release(body2);
    return g;
fail:
    ds_graph_release(g);
    ds_graph_release(neg);
    ds_graph_release(same);
    ds_graph_release(cond);
    ds_graph_release(body);
    ds_graph_release(body2);
    return NULL;
}

/* A small graph the tests can run: relu(x @ w + b) with a symbolic batch. */
static ds_graph *sample_dense(void) {
    ds_graph *g = NULL;
    ds_value *x, *w, *b, *mm, *y, *r;
    int64_t batch;
    S_TRY(ds_graph_new("dense", &g));
    S_TRY(ds_graph_symbol(g, "batch", &batch));
    int64_t xs[2] = {batch, 4}, ws[2] = {4, 3}, bs[1] = {3};
    S_TRY(ds_graph_add_param(g, "x", DS_FLOAT32, 2, xs, false, &x));
    S_TRY(ds_graph_add_param(g, "w", DS_FLOAT32, 2, ws, true, &w));
    S_TRY(ds_graph_add_param(g, "b", DS_FLOAT32, 1, bs, true, &b));
    ds_graph_set_loc(g, "model.py", 12, 5);
    ds_value *in[2] = {x, w};
    S_TRY(ds_graph_add_op1(g, DS_OP_MATMUL, 2, in, NULL, &mm));
    ds_graph_set_loc(g, "model.py", 13, 5);
    ds_value *in2[2] = {mm, b};
    S_TRY(ds_graph_add_op1(g, DS_OP_ADD, 2, in2, NULL, &y));
    S_TRY(ds_graph_add_op1(g, DS_OP_RELU, 1, &y, NULL, &r));
    S_TRY(ds_graph_set_outputs(g, 1, &r));
    return g;
fail:
    ds_graph_release(g);
    return NULL;
}

/* A graph whose entry token exists although no node has effects (its callers thread the token). */
static ds_graph *sample_token_only(void) {
    ds_graph *g = NULL;
    ds_value *x;
    int64_t s[1] = {3};
    S_TRY(ds_graph_new("token_only", &g));
    S_TRY(ds_graph_add_param(g, "x", DS_FLOAT32, 1, s, false, &x));
    S_TRY(ds_graph_set_outputs(g, 1, &x));
    S_TRY(ds_ir_token(g) ? DS_OK : DS_ERR_NOMEM);
    return g;
fail:
    ds_graph_release(g);
    return NULL;
}
/* ---------------------------------------------------------------- checks shared by the IR tests */
/* The printed graph, or NULL if printing fails (free with ds_free). */
static inline char *print_or_null(const ds_graph *g) {
    char *s = NULL;
    if (ds_graph_print(g, &s) != DS_OK) return NULL;
    return s;
}

/* Whether the constants of two graphs (and of their subgraphs, in print order) hold identical bytes. */
static inline bool same_constants(const ds_graph *a, const ds_graph *b) {
    ds_ptrvec oa = {0}, ob = {0};
    bool same = ds_irio_graph_order(a, &oa) == DS_OK && ds_irio_graph_order(b, &ob) == DS_OK && oa.n == ob.n;
    for (int i = 0; same && i < oa.n; i++) {
        const ds_graph *ga = oa.items[i], *gb = ob.items[i];
        same = ga->nodes.n == gb->nodes.n;
        for (int k = 0; same && k < ga->nodes.n; k++) {
            const ds_node *na = ga->nodes.items[k], *nb = gb->nodes.items[k];
            if (na->kind != DS_NODE_CONST) continue;
            const ds_tensor *ta = na->constant, *tb = nb->constant;
            size_t bytes = (size_t)ds_tensor_numel(ta) * ds_dtype_size(ds_tensor_dtype(ta));
            same = nb->kind == DS_NODE_CONST && ds_tensor_dtype(ta) == ds_tensor_dtype(tb) &&
                   ds_tensor_numel(ta) == ds_tensor_numel(tb) && (!bytes || !memcmp(ds_tensor_data(ta), ds_tensor_data(tb), bytes));
        }
    }
    ds_ptrvec_deinit(&oa);
    ds_ptrvec_deinit(&ob);
    return same;
}

#endif
