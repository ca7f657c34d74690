/* Randomized equivalence tests: random graphs mixing arithmetic with identity constants, view chains,
 * duplicated expressions, constants, prints, random ops, weight assignments, Calls and Ifs are run
 * through every pass and the whole pipeline; the reference interpreter must see no difference. */
#include "ds_test.h"
#include "passes/manager.h"
#include "passes_util.h"

static const int64_t S23[2] = {2, 3}, S32[2] = {3, 2}, S6[1] = {6}, S3[1] = {3};

static uint64_t g_seed;
static int rnd(int n) {
    g_seed = g_seed * 6364136223846793005ull + 1442695040888963407ull;
    return (int)((g_seed >> 33) % (uint64_t)n);
}

typedef struct pool {
    ds_value *f[64], *i[64]; /* f32[2, 3] and i32[2, 3] values */
    int nf, ni;
} pool;

static ds_value *pick_f(pool *p) { return p->f[rnd(p->nf)]; }
static ds_value *pick_i(pool *p) { return p->i[rnd(p->ni)]; }

static ds_value *rand_const_f(ds_graph *g) {
    static const double vals[] = {0.0, -0.0, 1.0, 2.0, -1.5};
    double v = vals[rnd(5)];
    switch (rnd(3)) {
    case 0: return pu_scalar(g, DS_FLOAT32, v);
    case 1: return pu_const(g, DS_FLOAT32, 1, S3, (double[3]){v, v, v});
    default: return pu_const(g, DS_FLOAT32, 2, S23, (double[6]){v, v, v, v, v, v});
    }
}

/* a small callee: h(a) = a * 1 + c */
static ds_graph *make_callee(void) {
    ds_graph *h;
    PU(ds_graph_new("h", &h));
    ds_value *a = pu_param(h, "a", DS_FLOAT32, 2, S23, false);
    ds_value *r = pu_bin(h, DS_OP_ADD, pu_bin(h, DS_OP_MUL, a, pu_scalar(h, DS_FLOAT32, 1)), pu_scalar(h, DS_FLOAT32, 0.5));
    pu_outputs(h, 1, &r);
    return h;
}

static ds_graph *make_branch(const char *name, ds_op_id op, bool print) {
    ds_graph *b;
    PU(ds_graph_new(name, &b));
    ds_value *a = pu_param(b, "a", DS_FLOAT32, 2, S23, false), *r = pu_un(b, op, a);
    if (print) PU(ds_graph_add_print(b, name, 1, &r));
    pu_outputs(b, 1, &r);
    return b;
}

static void add_step(ds_graph *g, pool *p, ds_graph *callee, ds_graph *tb, ds_graph *eb, ds_value *w) {
    ds_value *v = NULL;
    switch (rnd(16)) {
    case 0: case 1: {
        static const ds_op_id ops[] = {DS_OP_NEG, DS_OP_EXP, DS_OP_SIN, DS_OP_ABS, DS_OP_SQRT};
        v = pu_un(g, ops[rnd(5)], pick_f(p));
        break;
    }
    case 2: case 3: case 4: {
        static const ds_op_id ops[] = {DS_OP_ADD, DS_OP_SUB, DS_OP_MUL, DS_OP_DIV, DS_OP_MAXIMUM};
        ds_value *a = pick_f(p), *b = rnd(2) ? rand_const_f(g) : pick_f(p);
        if (rnd(2)) {
            ds_value *t = a;
            a = b;
            b = t;
        }
        if (a->type.ndim == 2 || b->type.ndim == 2) v = pu_bin(g, ops[rnd(5)], a, b);
        break;
    }
    case 5: { /* integer arithmetic with 0 and 1 */
        static const ds_op_id ops[] = {DS_OP_ADD, DS_OP_SUB, DS_OP_MUL};
        ds_value *c = pu_scalar(g, DS_INT32, rnd(2));
        ds_value *iv = rnd(2) ? pu_bin(g, ops[rnd(3)], pick_i(p), c) : pu_bin(g, ops[rnd(3)], c, pick_i(p));
        if (iv && iv->type.dtype == DS_INT32 && p->ni < 64) p->i[p->ni++] = iv;
        break;
    }
    case 6: { /* view chains back to [2, 3] */
        ds_value *x = pick_f(p);
        int64_t p10[2] = {1, 0}, ax0[1] = {0};
        ds_attr u0 = {.kind = DS_ATTR_INT, .v.i = 0};
        switch (rnd(4)) {
        case 0: v = pu_ints_op(g, DS_OP_TRANSPOSE, pu_ints_op(g, DS_OP_TRANSPOSE, x, 2, p10), 2, p10); break;
        case 1: v = pu_ints_op(g, DS_OP_RESHAPE, pu_ints_op(g, DS_OP_RESHAPE, x, 1, S6), 2, S23); break;
        case 2: v = pu_ints_op(g, DS_OP_SQUEEZE, pu_op(g, DS_OP_UNSQUEEZE, 1, &x, &u0), 1, ax0); break;
        default: v = pu_ints_op(g, DS_OP_RESHAPE, pu_ints_op(g, DS_OP_TRANSPOSE, x, 2, p10), 2, S23); break;
        }
        break;
    }
    case 7: { /* a duplicate of an existing node */
        const ds_node *n = NULL;
        for (int k = 0; k < 4 && !n && ds_graph_num_nodes(g) > 0; k++) {
            const ds_node *c = ds_graph_node(g, rnd(ds_graph_num_nodes(g)));
            if (c && c->kind == DS_NODE_OP && !c->effect && c->n_out == 1 && c->n_in <= 2) n = c;
        }
        if (n) {
            ds_value *in[2] = {n->in[0], n->n_in > 1 ? n->in[1] : NULL};
            ds_value *d = pu_op(g, n->op, n->n_in, in, n->attrs);
            if (d && ds_meta_equal(&d->type, &p->f[0]->type)) v = d;
            else if (d && ds_meta_equal(&d->type, &p->i[0]->type) && p->ni < 64) p->i[p->ni++] = d;
        }
        break;
    }
    case 8: {
        ds_attr c = {.kind = DS_ATTR_DTYPE, .v.dtype = rnd(2) ? DS_FLOAT32 : DS_FLOAT64};
        ds_value *x = pu_op(g, DS_OP_CAST, 1, (ds_value *[]){pick_f(p)}, &c);
        v = x && x->type.dtype == DS_FLOAT32 ? x : NULL;
        break;
    }
    case 9: v = pu_bin(g, DS_OP_ADD, rand_const_f(g), rand_const_f(g)); break; /* foldable */
    case 10: {
        ds_value *x = pick_f(p);
        PU(ds_graph_add_print(g, "v", 1, &x));
        break;
    }
    case 11: {
        ds_attr a[4] = {{.kind = DS_ATTR_INTS, .n = 2, .v.ints = S23}};
        v = pu_op(g, DS_OP_UNIFORM, 0, NULL, a);
        break;
    }
    case 12: /* write the weight; later reads see the new value */
        PU(ds_graph_add_assign(g, w, pu_bin(g, DS_OP_ADD, w, pick_f(p))));
        break;
    case 13: {
        ds_value *x = pick_f(p);
        PU(ds_graph_add_call(g, callee, 1, &x, 1, &v, NULL));
        break;
    }
    case 14: {
        ds_value *c = rnd(2) ? pu_scalar(g, DS_BOOL, rnd(2)) : pu_op(g, DS_OP_ANY, 1, (ds_value *[]){pu_bin(g, DS_OP_GREATER, pick_f(p), rand_const_f(g))}, NULL);
        ds_value *x = pick_f(p);
        PU(ds_graph_add_if(g, c, tb, eb, 1, &x, 1, &v, NULL));
        break;
    }
    default: {
        ds_value *t = pu_op(g, DS_OP_TRANSPOSE, 1, &w, NULL); /* a view of the weight (perm None) */
        v = pu_op(g, DS_OP_TRANSPOSE, 1, &t, NULL);
        break;
    }
    }
    if (v && p->nf < 64 && ds_meta_equal(&v->type, &p->f[0]->type)) p->f[p->nf++] = v;
}

static ds_graph *random_graph(uint64_t seed, ds_graph *callee, ds_graph *tb, ds_graph *eb) {
    g_seed = seed;
    ds_graph *g;
    PU(ds_graph_new("rand", &g));
    pool p = {.nf = 0};
    ds_value *w = pu_param(g, "w", DS_FLOAT32, 2, S23, true);
    p.f[p.nf++] = pu_param(g, "x", DS_FLOAT32, 2, S23, false);
    p.f[p.nf++] = w;
    p.i[p.ni++] = pu_param(g, "i", DS_INT32, 2, S23, false);
    int steps = 5 + rnd(25);
    for (int s = 0; s < steps && !pu_fail; s++) add_step(g, &p, callee, tb, eb, w);
    ds_value *outs[4] = {p.f[p.nf - 1], p.f[rnd(p.nf)], p.i[p.ni - 1], p.f[rnd(p.nf)]};
    pu_outputs(g, 4, outs);
    (void)S32;
    return g;
}

DS_TEST(random_graphs_every_pass_and_pipeline) {
    pu_fail = 0;
    ds_graph *callee = make_callee(), *tb = make_branch("then", DS_OP_NEG, true), *eb = make_branch("else", DS_OP_TANH, false);
    const char *names[5] = {"inline", "simplify", "fold", "cse", "dce"};
    int graphs = 0, shrunk = 0;
    for (uint64_t seed = 1; seed <= 1000 && !pu_fail; seed++) {
        ds_graph *g = random_graph(seed, callee, tb, eb);
        if (pu_fail) {
            printf("  seed %llu: building failed\n", (unsigned long long)seed);
            ds_graph_release(g);
            break;
        }
        graphs++;
        bool ok = true;
        for (int k = 0; k <= 5 && ok; k++) {
            ds_graph *o = NULL;
            ds_status st = k < 5 ? ds_graph_run_pass(g, names[k], &o) : ds_graph_optimize(g, &o);
            if (st) printf("  seed %llu, %s: %s\n", (unsigned long long)seed, k < 5 ? names[k] : "optimize", ds_error_message());
            ok = st == DS_OK && pu_same_behavior(g, o, 2);
            if (!ok && st == DS_OK) printf("  seed %llu, %s: behaves differently\n", (unsigned long long)seed, k < 5 ? names[k] : "optimize");
            if (ok && k == 5 && ds_graph_num_nodes(o) < ds_graph_num_nodes(g)) shrunk++;
            ds_graph_release(o);
        }
        CHECK(ok);
        ds_graph_release(g);
    }
    CHECK(graphs == 1000 && shrunk > 700);
    ds_graph_release(callee);
    ds_graph_release(tb);
    ds_graph_release(eb);
}

DS_TEST_MAIN()
