/* Tests of the IR core: building, inference with symbolic dims, effects, verification, evaluation. */
#include "ds_test.h"
#include "ir/ir.h"

static ds_tensor *full_f32(int ndim, const int64_t *shape, float v) {
    ds_tensor *t;
    if (ds_tensor_new(DS_FLOAT32, ndim, shape, &t)) return NULL;
    float *p = ds_tensor_data(t);
    for (int64_t i = 0; i < ds_tensor_numel(t); i++) p[i] = v;
    return t;
}

DS_TEST(build_verify_eval_dense) {
    ds_graph *g;
    CHECK_OK(ds_graph_new("dense", &g));
    int64_t batch;
    CHECK_OK(ds_graph_symbol(g, "batch", &batch));
    int64_t xs[2] = {batch, 4}, ws[2] = {4, 3}, bs[1] = {3};
    ds_value *x, *w, *b, *mm, *y, *r;
    CHECK_OK(ds_graph_add_param(g, "x", DS_FLOAT32, 2, xs, false, &x));
    CHECK_OK(ds_graph_add_param(g, "w", DS_FLOAT32, 2, ws, true, &w));
    CHECK_OK(ds_graph_add_param(g, "b", DS_FLOAT32, 1, bs, true, &b));
    ds_graph_set_loc(g, "model.py", 12, 5);
    ds_value *in[2] = {x, w};
    CHECK_OK(ds_graph_add_op1(g, DS_OP_MATMUL, 2, in, NULL, &mm));
    CHECK(mm->type.ndim == 2 && mm->type.shape[0] == batch && mm->type.shape[1] == 3);
    ds_value *in2[2] = {mm, b};
    CHECK_OK(ds_graph_add_op1(g, DS_OP_ADD, 2, in2, NULL, &y));
    CHECK(y->type.shape[0] == batch);
    CHECK_OK(ds_graph_add_op1(g, DS_OP_RELU, 1, &y, NULL, &r));
    int64_t wrong[2] = {5, 3};
    ds_value *bad_w, *bad;
    CHECK_OK(ds_graph_add_param(g, "w2", DS_FLOAT32, 2, wrong, false, &bad_w));
    ds_value *in3[2] = {x, bad_w};
    CHECK_ERR(ds_graph_add_op1(g, DS_OP_MATMUL, 2, in3, NULL, &bad), DS_ERR_SHAPE, "model.py:12:5: matmul:");
    CHECK_OK(ds_graph_set_outputs(g, 1, &r));
    CHECK_OK(ds_graph_verify(g));
    int64_t s1[2] = {2, 4}, s2[2] = {4, 3}, s3[1] = {3}, s4[2] = {5, 3};
    ds_tensor *args[4] = {full_f32(2, s1, 1.f), full_f32(2, s2, 0.5f), full_f32(1, s3, -1.5f), full_f32(2, s4, 0.f)};
    ds_tensor *out;
    int n;
    CHECK_OK(ds_graph_eval(g, 4, args, 1, &out, &n));
    CHECK(n == 1 && ds_tensor_shape(out)[0] == 2);
    const float *p = ds_tensor_data(out);
    CHECK(p[0] == 0.5f); /* relu(4*0.5 - 1.5) */
    ds_tensor_release(out);
    for (int i = 0; i < 4; i++) ds_tensor_release(args[i]);
    ds_graph_release(g);
}

DS_TEST(effects_are_threaded_and_verified) {
    ds_graph *g;
    CHECK_OK(ds_graph_new("effects", &g));
    int64_t s[1] = {3};
    ds_value *w, *x, *y;
    CHECK_OK(ds_graph_add_param(g, "w", DS_FLOAT32, 1, s, true, &w));
    CHECK_OK(ds_graph_add_param(g, "x", DS_FLOAT32, 1, s, false, &x));
    ds_value *in[2] = {w, x};
    CHECK_OK(ds_graph_add_op1(g, DS_OP_ADD, 2, in, NULL, &y));
    CHECK_OK(ds_graph_add_assign(g, w, y));
    CHECK_ERR(ds_graph_add_assign(g, x, y), DS_ERR_VALUE, "target must be a weight parameter");
    CHECK_OK(ds_graph_add_print(g, "w:", 1, &w));
    CHECK_OK(ds_graph_set_outputs(g, 1, &y));
    CHECK(g->entry_token && g->cur_token != g->entry_token);
    CHECK_OK(ds_graph_verify(g));
    ds_tensor *args[2] = {full_f32(1, s, 1.f), full_f32(1, s, 2.f)}, *out;
    CHECK_OK(ds_graph_eval(g, 2, args, 1, &out, NULL));
    CHECK(((float *)ds_tensor_data(args[0]))[0] == 3.f); /* assigned in place */
    ds_tensor_release(out);
    /* breaking the token chain is caught */
    ds_node *print = ds_graph_node(g, 2);
    ds_value *saved = print->in[print->n_in - 1];
    print->in[print->n_in - 1] = g->entry_token;
    CHECK_ERR(ds_graph_verify(g), DS_ERR_INTERNAL, "effects are out of order");
    print->in[print->n_in - 1] = saved;
    for (int i = 0; i < 2; i++) ds_tensor_release(args[i]);
    ds_graph_release(g);
}

/* while (i < 10) { i = i + 1; acc = acc * 2 } */
DS_TEST(while_and_if) {
    ds_graph *cond, *body, *g, *then_g, *else_g;
    ds_value *ci, *ca, *bi, *ba, *ten, *lt, *one, *two, *ni, *na;
    ds_tensor *t10, *t1, *t2;
    CHECK_OK(ds_tensor_scalar(DS_INT64, 10, &t10));
    CHECK_OK(ds_tensor_scalar(DS_INT64, 1, &t1));
    CHECK_OK(ds_tensor_scalar(DS_FLOAT32, 2, &t2));
    CHECK_OK(ds_graph_new("cond", &cond));
    CHECK_OK(ds_graph_add_param(cond, "i", DS_INT64, 0, NULL, false, &ci));
    CHECK_OK(ds_graph_add_param(cond, "acc", DS_FLOAT32, 0, NULL, false, &ca));
    CHECK_OK(ds_graph_add_const(cond, t10, &ten));
    ds_value *in[2] = {ci, ten};
    CHECK_OK(ds_graph_add_op1(cond, DS_OP_LESS, 2, in, NULL, &lt));
    CHECK_OK(ds_graph_set_outputs(cond, 1, &lt));
    CHECK_OK(ds_graph_new("body", &body));
    CHECK_OK(ds_graph_add_param(body, "i", DS_INT64, 0, NULL, false, &bi));
    CHECK_OK(ds_graph_add_param(body, "acc", DS_FLOAT32, 0, NULL, false, &ba));
    CHECK_OK(ds_graph_add_const(body, t1, &one));
    CHECK_OK(ds_graph_add_const(body, t2, &two));
    ds_value *a1[2] = {bi, one}, *a2[2] = {ba, two};
    CHECK_OK(ds_graph_add_op1(body, DS_OP_ADD, 2, a1, NULL, &ni));
    CHECK_OK(ds_graph_add_op1(body, DS_OP_MUL, 2, a2, NULL, &na));
    ds_value *bo[2] = {ni, na};
    CHECK_OK(ds_graph_set_outputs(body, 2, bo));
    CHECK_OK(ds_graph_new("main", &g));
    ds_value *i0, *acc0, *res[2];
    CHECK_OK(ds_graph_add_param(g, "i", DS_INT64, 0, NULL, false, &i0));
    CHECK_OK(ds_graph_add_param(g, "acc", DS_FLOAT32, 0, NULL, false, &acc0));
    ds_value *init[2] = {i0, acc0};
    CHECK_OK(ds_graph_add_while(g, cond, body, 2, init, res));
    /* if acc > 100 then acc else -acc */
    ds_value *hundred, *gt, *ta, *ea, *neg, *sel;
    ds_tensor *t100;
    CHECK_OK(ds_tensor_scalar(DS_FLOAT32, 100, &t100));
    CHECK_OK(ds_graph_add_const(g, t100, &hundred));
    ds_value *cmp[2] = {res[1], hundred};
    CHECK_OK(ds_graph_add_op1(g, DS_OP_GREATER, 2, cmp, NULL, &gt));
    CHECK_OK(ds_graph_new("then", &then_g));
    CHECK_OK(ds_graph_add_param(then_g, "a", DS_FLOAT32, 0, NULL, false, &ta));
    CHECK_OK(ds_graph_set_outputs(then_g, 1, &ta));
    CHECK_OK(ds_graph_new("else", &else_g));
    CHECK_OK(ds_graph_add_param(else_g, "a", DS_FLOAT32, 0, NULL, false, &ea));
    CHECK_OK(ds_graph_add_op1(else_g, DS_OP_NEG, 1, &ea, NULL, &neg));
    CHECK_OK(ds_graph_set_outputs(else_g, 1, &neg));
    int n;
    CHECK_OK(ds_graph_add_if(g, gt, then_g, else_g, 1, &res[1], 1, &sel, &n));
    ds_value *outs[2] = {res[0], sel};
    CHECK_OK(ds_graph_set_outputs(g, 2, outs));
    CHECK_OK(ds_graph_verify(g));
    ds_tensor *args[2], *out[2];
    CHECK_OK(ds_tensor_scalar(DS_INT64, 3, &args[0]));
    CHECK_OK(ds_tensor_scalar(DS_FLOAT32, 1, &args[1]));
    CHECK_OK(ds_graph_eval(g, 2, args, 2, out, &n));
    double v;
    CHECK_OK(ds_tensor_get_double(out[0], 0, &v));
    CHECK(v == 10);
    CHECK_OK(ds_tensor_get_double(out[1], 0, &v));
    CHECK(v == 128); /* 2^7 > 100 */
    for (int i = 0; i < 2; i++) {
        ds_tensor_release(out[i]);
        ds_tensor_release(args[i]);
    }
    ds_tensor *ts[] = {t10, t1, t2, t100};
    for (int i = 0; i < 4; i++) ds_tensor_release(ts[i]);
    ds_graph *gs[] = {cond, body, g, then_g, else_g};
    for (int i = 0; i < 5; i++) ds_graph_release(gs[i]);
}

DS_TEST(if_branches_must_agree) {
    ds_graph *g, *a, *b;
    ds_value *c, *x, *pa, *pb, *sum, *out;
    int64_t s[1] = {3};
    CHECK_OK(ds_graph_new("g", &g));
    CHECK_OK(ds_graph_add_param(g, "c", DS_BOOL, 0, NULL, false, &c));
    CHECK_OK(ds_graph_add_param(g, "x", DS_FLOAT32, 1, s, false, &x));
    CHECK_OK(ds_graph_new("a", &a));
    CHECK_OK(ds_graph_add_param(a, "x", DS_FLOAT32, 1, s, false, &pa));
    CHECK_OK(ds_graph_set_outputs(a, 1, &pa));
    CHECK_OK(ds_graph_new("b", &b));
    CHECK_OK(ds_graph_add_param(b, "x", DS_FLOAT32, 1, s, false, &pb));
    ds_attr none[2] = {{.kind = DS_ATTR_NONE}, {.kind = DS_ATTR_NONE}};
    CHECK_OK(ds_graph_add_op1(b, DS_OP_SUM, 1, &pb, none, &sum));
    CHECK_OK(ds_graph_set_outputs(b, 1, &sum));
    int n;
    ds_graph_set_loc(g, "f.py", 7, 0);
    CHECK_ERR(ds_graph_add_if(g, c, a, b, 1, &x, 1, &out, &n), DS_ERR_SHAPE, "f.py:7: If: branch output 0 differs: then gives float32[3], else gives float32[]");
    ds_graph_release(g);
    ds_graph_release(a);
    ds_graph_release(b);
}

DS_TEST(alloc_failure_sweep_builder) {
    for (int64_t k = 1;; k++) {
        int64_t base = ds_alloc_live_blocks();
        ds_alloc_debug_begin(k);
        ds_graph *g = NULL;
        ds_value *x, *y, *z;
        int64_t s[1] = {4};
        ds_status st = ds_graph_new("g", &g);
        if (!st) st = ds_graph_add_param(g, "x", DS_FLOAT32, 1, s, false, &x);
        if (!st) st = ds_graph_add_op1(g, DS_OP_EXP, 1, &x, NULL, &y);
        ds_value *in[2] = {x, y};
        if (!st) st = ds_graph_add_op1(g, DS_OP_MUL, 2, in, NULL, &z);
        if (!st) st = ds_graph_add_print(g, "z", 1, &z);
        if (!st) st = ds_graph_set_outputs(g, 1, &z);
        if (!st) st = ds_graph_verify(g);
        int64_t used = ds_alloc_debug_count();
        ds_alloc_debug_begin(0);
        ds_graph_release(g);
        CHECK(st == DS_OK || st == DS_ERR_NOMEM);
        CHECK(ds_alloc_live_blocks() == base);
        if (st == DS_OK && used < k) break;
        if (k > 1000) break;
    }
}

DS_TEST(symbolic_inference) {
    ds_graph *g;
    CHECK_OK(ds_graph_new("sym", &g));
    int64_t n2, n3;
    CHECK_OK(ds_graph_symbol(g, "n2", &n2));
    CHECK_OK(ds_graph_symbol(g, "n3", &n3));
    int64_t s23[2] = {n2, n3}, s3[1] = {3}, sn[1] = {n2}, su[1] = {DS_DIM_UNKNOWN};
    ds_value *x, *t, *c, *v3, *vn, *vu, *r;
    CHECK_OK(ds_graph_add_param(g, "x", DS_FLOAT64, 2, s23, false, &x));
    CHECK_OK(ds_graph_add_param(g, "v3", DS_FLOAT64, 1, s3, false, &v3));
    CHECK_OK(ds_graph_add_param(g, "vn", DS_FLOAT64, 1, sn, false, &vn));
    CHECK_OK(ds_graph_add_param(g, "vu", DS_FLOAT64, 1, su, false, &vu));
    CHECK_OK(ds_graph_add_op1(g, DS_OP_TANH, 1, &x, NULL, &t)); /* symbols kept */
    CHECK(t->type.shape[0] == n2 && t->type.shape[1] == n3);
    ds_attr ax = {.kind = DS_ATTR_INT, .v.i = 0};
    ds_value *two[2] = {x, x};
    CHECK_OK(ds_graph_add_op1(g, DS_OP_CONCAT, 2, two, &ax, &c)); /* 2*n2: derived, unknown */
    CHECK(c->type.shape[0] == DS_DIM_UNKNOWN && c->type.shape[1] == n3);
    int64_t b0[1] = {0}, e0[1] = {INT64_MAX}, s2[1] = {2};
    ds_attr sl[3] = {{.kind = DS_ATTR_INTS, .n = 1, .v.ints = b0}, {.kind = DS_ATTR_INTS, .n = 1, .v.ints = e0},
                     {.kind = DS_ATTR_INTS, .n = 1, .v.ints = s2}};
    CHECK_OK(ds_graph_add_op1(g, DS_OP_SLICE, 1, &x, sl, &r)); /* every other row: unknown */
    CHECK(r->type.shape[0] == DS_DIM_UNKNOWN && r->type.shape[1] == n3);
    ds_value *p1[2] = {vn, v3}, *p2[2] = {vu, vu}, *p3[2] = {vn, vn};
    CHECK_OK(ds_graph_add_op1(g, DS_OP_ADD, 2, p1, NULL, &r)); /* [n2] + [3] must be [3] */
    CHECK(r->type.ndim == 1 && r->type.shape[0] == 3);
    CHECK_OK(ds_graph_add_op1(g, DS_OP_ADD, 2, p2, NULL, &r)); /* [?] + [?] */
    CHECK(r->type.shape[0] == DS_DIM_UNKNOWN);
    CHECK_OK(ds_graph_add_op1(g, DS_OP_MUL, 2, p3, NULL, &r)); /* [n2] * [n2] */
    CHECK(r->type.shape[0] == n2);
    ds_graph_release(g);
}

DS_TEST_MAIN()
