/* Tests of the passes' toolkit (src/passes/rewrite.h) and the pass manager's IR dumps. */
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ds_test.h"
#include "passes/manager.h"
#include "passes/rewrite.h"
#include "passes_util.h"

static const int64_t S3[1] = {3};

/* main(x) = f(x) + f(exp(x)) with a While whose body also calls f: f is shared three times. */
static ds_graph *make_shared(ds_graph **f_out) {
    ds_graph *f, *cond, *body, *g;
    PU(ds_graph_new("f", &f));
    ds_value *a = pu_param(f, "a", DS_FLOAT32, 1, S3, false), *r = pu_un(f, DS_OP_SIN, a);
    pu_outputs(f, 1, &r);
    PU(ds_graph_new("cond", &cond));
    ds_value *ci = pu_param(cond, "i", DS_FLOAT32, 1, S3, false);
    ds_value *lt = pu_op(cond, DS_OP_ALL, 1, (ds_value *[]){pu_bin(cond, DS_OP_LESS, ci, pu_scalar(cond, DS_FLOAT32, 0))}, NULL);
    pu_outputs(cond, 1, &lt);
    PU(ds_graph_new("body", &body));
    ds_value *bi = pu_param(body, "i", DS_FLOAT32, 1, S3, false), *br;
    PU(ds_graph_add_call(body, f, 1, &bi, 1, &br, NULL));
    PU(ds_graph_add_print(body, "body", 1, &br));
    pu_outputs(body, 1, &br);
    PU(ds_graph_new("main", &g));
    ds_value *x = pu_param(g, "x", DS_FLOAT32, 1, S3, false), *c1, *c2, *w;
    PU(ds_graph_add_call(g, f, 1, &x, 1, &c1, NULL));
    ds_value *e = pu_un(g, DS_OP_EXP, x);
    PU(ds_graph_add_call(g, f, 1, &e, 1, &c2, NULL));
    PU(ds_graph_add_while(g, cond, body, 1, &c2, &w));
    ds_value *out = pu_bin(g, DS_OP_ADD, pu_bin(g, DS_OP_ADD, c1, c2), w);
    pu_outputs(g, 1, &out);
    ds_graph_release(cond);
    ds_graph_release(body);
    *f_out = f;
    return g;
}

DS_TEST(clone_is_deep_and_keeps_sharing) {
    pu_fail = 0;
    ds_graph *f, *g = make_shared(&f), *c = NULL;
    CHECK(!pu_fail);
    CHECK_OK(ds_rw_clone(g, &c));
    if (c) {
        CHECK_OK(ds_graph_verify(c));
        CHECK(pu_same_behavior(g, c, 3));
        const ds_node *call1 = ds_graph_node(c, 0), *call2 = ds_graph_node(c, 2), *loop = ds_graph_node(c, 3);
        CHECK(call1->kind == DS_NODE_CALL && call2->kind == DS_NODE_CALL && loop->kind == DS_NODE_WHILE);
        CHECK(call1->sub[0] == call2->sub[0] && call1->sub[0] != f);
        const ds_graph *body = loop->sub[1];
        CHECK(body != ((ds_node *)g->nodes.items[3])->sub[1]);
        CHECK(((ds_node *)body->nodes.items[0])->sub[0] == call1->sub[0]);
        CHECK(call1->sub[0]->refcount == 3); /* the three nodes calling it */
        char *a = NULL, *b = NULL;
        CHECK_OK(ds_graph_print(g, &a));
        CHECK_OK(ds_graph_print(c, &b));
        CHECK(a && b && !strcmp(a, b));
        ds_free(a);
        ds_free(b);
        ds_graph_release(c);
    }
    ds_graph_release(f);
    ds_graph_release(g);
}

static bool dead_in_mask(const ds_node *n, void *ctx) { return (*(unsigned *)ctx >> n->id) & 1u; }

DS_TEST(replace_uses_and_remove_nodes_in_place) {
    pu_fail = 0;
    ds_graph *g, *orig = NULL;
    PU(ds_graph_new("g", &g));
    ds_value *x = pu_param(g, "x", DS_FLOAT32, 1, S3, false);
    ds_value *a = pu_un(g, DS_OP_NEG, x), *b = pu_un(g, DS_OP_NEG, a), *c = pu_un(g, DS_OP_EXP, b); /* nodes 0-2 */
    ds_value *d = pu_un(g, DS_OP_SIN, x), *k = pu_scalar(g, DS_FLOAT32, 1);                          /* nodes 3-4 */
    PU(ds_graph_add_print(g, "c", 1, &c));                                                             /* node 5 */
    ds_value *outs[2] = {c, b};
    pu_outputs(g, 2, outs);
    CHECK(!pu_fail);
    CHECK_OK(ds_rw_clone(g, &orig));
    int n = -1;
    CHECK_ERR(ds_rw_replace_uses(g, b, d, &n), DS_ERR_INTERNAL, "is used by node 2 before value");
    CHECK_ERR(ds_rw_replace_uses(g, b, k, &n), DS_ERR_INTERNAL, "differ in type");
    CHECK(n == -1);
    CHECK_OK(ds_rw_replace_uses(g, b, x, &n)); /* neg(neg(x)) -> x */
    CHECK(n == 2 && b->uses == 0 && x->uses == 4 && ds_graph_output(g, 1) == x);
    CHECK_OK(ds_graph_verify(g));
    unsigned mask = 1u << 0; /* a is still read by b */
    CHECK_ERR(ds_rw_remove_nodes(g, dead_in_mask, &mask, &n), DS_ERR_INTERNAL, "node 0 (neg) of graph 'g' has a live use");
    mask = 1u << 5;
    CHECK_ERR(ds_rw_remove_nodes(g, dead_in_mask, &mask, &n), DS_ERR_INTERNAL, "is an effect");
    mask = (1u << 0) | (1u << 1) | (1u << 3) | (1u << 4);
    CHECK_OK(ds_rw_remove_nodes(g, dead_in_mask, &mask, &n));
    CHECK(n == 4 && ds_graph_num_nodes(g) == 2 && x->uses == 2);
    CHECK(ds_graph_node(g, 0)->id == 0 && ds_graph_node(g, 0)->op == DS_OP_EXP && ds_graph_node(g, 1)->kind == DS_NODE_PRINT);
    CHECK(g->n_values == 4 && x->id == 0 && g->entry_token->id == 1 && c->id == 2); /* x, entry token, exp, print's token */
    CHECK_OK(ds_graph_verify(g));
    CHECK(orig && pu_same_behavior(orig, g, 3));
    ds_graph_release(orig);
    ds_graph_release(g);
}

/* A pass that replaces a value with one of another type is stopped by the engine. */
static ds_status retype_visit(ds_rw *rw, const ds_node *n, ds_value *const *in, ds_value **out) {
    if (n->kind == DS_NODE_OP && n->op == DS_OP_SUM) {
        out[0] = in[0];
        return DS_OK;
    }
    return ds_rw_clone_node(rw, n, in, out);
}

/* A pass that drops an effect's input. */
static ds_status drop_visit(ds_rw *rw, const ds_node *n, ds_value *const *in, ds_value **out) {
    if (n->kind == DS_NODE_OP && n->op == DS_OP_EXP) return DS_OK;
    return ds_rw_clone_node(rw, n, in, out);
}

DS_TEST(engine_rejects_type_changes_and_dropped_uses) {
    pu_fail = 0;
    ds_graph *g, *o = NULL;
    PU(ds_graph_new("g", &g));
    ds_value *x = pu_param(g, "x", DS_FLOAT32, 1, S3, false), *s = pu_op(g, DS_OP_SUM, 1, &x, NULL);
    ds_value *e = pu_un(g, DS_OP_EXP, s);
    PU(ds_graph_add_print(g, "e", 1, &e));
    pu_outputs(g, 1, &s);
    CHECK(!pu_fail);
    ds_rw_pass bad = {.name = "retype", .visit = retype_visit};
    CHECK_ERR(ds_rw_apply(&bad, g, &o, NULL), DS_ERR_INTERNAL, "pass 'retype': graph 'g', node 0 (sum): output 0 changes type from float32[] to float32[3]");
    ds_rw_pass drop = {.name = "drop", .visit = drop_visit};
    CHECK_ERR(ds_rw_apply(&drop, g, &o, NULL), DS_ERR_INTERNAL, "pass 'drop': graph 'g', node 2 (print) is an effect reading a value the pass dropped");
    CHECK(o == NULL);
    ds_graph_release(g);
}

/* Emitting then rolling back restores the graph exactly: uses, tokens, values. */
static ds_status rollback_visit(ds_rw *rw, const ds_node *n, ds_value *const *in, ds_value **out) {
    ds_rw_mark m;
    ds_rw_mark_get(rw, &m);
    ds_value *junk;
    ds_status st = ds_rw_emit_op(rw, n, DS_OP_NEG, 1, &in[0], NULL, &junk);
    if (!st) st = ds_graph_add_print(rw->dst, "junk", 1, &junk);
    if (st) return st;
    ds_rw_rollback(rw, &m);
    return ds_rw_clone_node(rw, n, in, out);
}

DS_TEST(rollback_restores_the_graph) {
    pu_fail = 0;
    ds_graph *g, *o = NULL;
    PU(ds_graph_new("g", &g));
    ds_value *x = pu_param(g, "x", DS_FLOAT32, 1, S3, false), *s = pu_un(g, DS_OP_EXP, x);
    pu_outputs(g, 1, &s);
    CHECK(!pu_fail);
    ds_rw_pass p = {.name = "rollback", .visit = rollback_visit};
    CHECK_OK(ds_rw_apply(&p, g, &o, NULL));
    if (o) {
        CHECK_OK(ds_graph_verify(o));
        CHECK(o->entry_token == NULL && o->n_values == 2 && ds_graph_param(o, 0)->uses == 1);
        char *a = NULL, *b = NULL;
        CHECK_OK(ds_graph_print(g, &a));
        CHECK_OK(ds_graph_print(o, &b));
        CHECK(a && b && !strcmp(a, b));
        ds_free(a);
        ds_free(b);
        ds_graph_release(o);
    }
    ds_graph_release(g);
}

/* DS_DUMP_IR=<dir> writes the input and every pass's result. */
DS_TEST(dump_ir_after_every_pass) {
    pu_fail = 0;
    char dir[] = "/tmp/ds_dump_XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    ds_graph *f, *g = make_shared(&f), *o = NULL;
    CHECK(!pu_fail);
    setenv("DS_DUMP_IR", dir, 1);
    CHECK_OK(ds_graph_optimize(g, &o));
    unsetenv("DS_DUMP_IR");
    const char *names[] = {"input", "inline", "simplify", "fold", "cse", "dce"};
    char path[512], last[512] = "";
    for (int i = 0; i < 6; i++) {
        snprintf(path, sizeof path, "%s/main.%02d.%s.ir", dir, i, names[i]);
        CHECK(access(path, R_OK) == 0);
    }
    int count = 0;
    for (int i = 0; i < 100; i++) { /* rounds repeat the five passes until nothing changes */
        snprintf(path, sizeof path, "%s/main.%02d.%s.ir", dir, i, i == 0 ? "input" : names[1 + (i - 1) % 5]);
        if (access(path, R_OK) != 0) break;
        snprintf(last, sizeof last, "%s", path);
        count++;
    }
    CHECK(count == 11); /* input + a round that changes + a round that confirms */
    FILE *fp = fopen(last, "r");
    char buf[8192] = "";
    size_t len = fp ? fread(buf, 1, sizeof buf - 1, fp) : 0;
    buf[len] = '\0';
    if (fp) fclose(fp);
    char *text = NULL;
    if (o) CHECK_OK(ds_graph_print(o, &text));
    CHECK(text && !strcmp(text, buf));
    ds_free(text);
    for (int i = 0; i < count; i++) {
        snprintf(path, sizeof path, "%s/main.%02d.%s.ir", dir, i, i == 0 ? "input" : names[1 + (i - 1) % 5]);
        unlink(path);
    }
    for (int i = 0; i < count; i++) { /* each .ir has its .dot beside it */
        snprintf(path, sizeof path, "%s/main.%02d.%s.dot", dir, i, i == 0 ? "input" : names[1 + (i - 1) % 5]);
        CHECK(unlink(path) == 0);
    }
    CHECK(rmdir(dir) == 0);
    /* a dump directory that cannot be created is reported (below a regular file: fails even as root) */
    ds_graph *o2 = NULL;
    char file[] = "/tmp/ds_dump_file_XXXXXX", bad[64];
    int fd = mkstemp(file);
    CHECK(fd >= 0);
    if (fd >= 0) close(fd);
    snprintf(bad, sizeof bad, "%s/dir", file);
    setenv("DS_DUMP_IR", bad, 1);
    char want[128];
    snprintf(want, sizeof want, "IR dump: cannot create the directory '%s': Not a directory", file);
    CHECK_ERR(ds_graph_optimize(g, &o2), DS_ERR_VALUE, want);
    unsetenv("DS_DUMP_IR");
    unlink(file);
    CHECK(o2 == NULL);
    ds_graph_release(o);
    ds_graph_release(f);
    ds_graph_release(g);
}

DS_TEST_MAIN()
