/* Tests of the Graphviz writer (ds_graph_print_dot) and the pass manager's IR dumps (ds_set_dump_dir):
 * key pieces of the output, a syntax check of the dot text (strings, escapes, braces, record labels),
 * escaping of hostile names, determinism, allocation-failure sweeps, and .ir/.dot files written after
 * every pass that parse back. When Graphviz is installed, the dumped files must also render. */
#include <errno.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ds_test.h"
#include "ir_samples.h"

/* ---------------------------------------------------------------- helpers */
static int count_of(const char *s, const char *sub) {
    int n = 0;
    for (const char *p = s; (p = strstr(p, sub)); p += strlen(sub)) n++;
    return n;
}

/* Whether s is entirely valid UTF-8. */
static bool utf8_ok(const char *s) {
    const unsigned char *p = (const unsigned char *)s;
    while (*p) {
        int len = *p < 0x80 ? 1 : (*p & 0xe0) == 0xc0 ? 2 : (*p & 0xf0) == 0xe0 ? 3 : (*p & 0xf8) == 0xf0 ? 4 : 0;
        if (!len || (len == 2 && *p < 0xc2)) return false;
        for (int i = 1; i < len; i++)
            if ((p[i] & 0xc0) != 0x80) return false;
        p += len;
    }
    return true;
}

/* A record label's text (the string's contents, lexer escapes still in): braces balanced with
 * backslash escapes honoured, and nothing after the closing brace. */
static bool record_ok(const char *s, size_t n) {
    int depth = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '\\') {
            if (++i >= n) return false;
            continue;
        }
        if (depth == 0 && s[i] != '{') return false; /* text outside the outer braces */
        if (s[i] == '{') depth++;
        else if (s[i] == '}') depth--;
    }
    return depth == 0;
}

/* A plain label's text: every one of { } | < > is escaped. */
static bool plain_ok(const char *s, size_t n) {
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '\\') {
            if (++i >= n) return false;
            continue;
        }
        if (strchr("{}|<>", s[i])) return false;
    }
    return true;
}

/* A syntax check of the writer's dot: one `digraph ... { }`, balanced braces and brackets outside
 * strings, strings closed on their line with valid escapes, no control characters, record labels
 * well-formed, other labels with their special characters escaped, valid UTF-8. */
static bool dot_ok(const char *s) {
    if (!s || strncmp(s, "digraph ", 8) != 0 || !utf8_ok(s)) return false;
    int braces = 0, brackets = 0;
    bool closed = false;
    for (const char *p = s; *p; p++) {
        unsigned char c = (unsigned char)*p;
        if (c < 0x20 && c != '\n') return false;
        if (closed && c != '\n') return false; /* nothing after the graph's closing brace */
        if (c == '"') {
            const char *start = ++p;
            while (*p && *p != '"') {
                if (*p == '\n' || (unsigned char)*p < 0x20) return false;
                if (*p == '\\' && (!p[1] || p[1] == '\n')) return false;
                p += *p == '\\' ? 2 : 1;
            }
            if (!*p) return false;
            size_t n = (size_t)(p - start);
            bool record = n && start[0] == '{';
            if (record ? !record_ok(start, n) : !plain_ok(start, n)) return false;
        } else if (c == '{') braces++;
        else if (c == '}') {
            if (--braces < 0) return false;
            if (braces == 0) closed = true;
        } else if (c == '[') brackets++;
        else if (c == ']' && --brackets < 0) return false;
    }
    return closed && braces == 0 && brackets == 0;
}

static char *dot_or_null(const ds_graph *g) {
    char *s = NULL;
    if (ds_graph_print_dot(g, &s) != DS_OK) return NULL;
    return s;
}

static char *read_file(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    size_t cap = 1 << 16, len = 0;
    char *buf = malloc(cap);
    size_t got;
    while (buf && (got = fread(buf + len, 1, cap - len - 1, f)) > 0) {
        len += got;
        if (cap - len <= 1) {
            char *nb = realloc(buf, cap * 2);
            if (!nb) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = nb;
            cap *= 2;
        }
    }
    fclose(f);
    if (buf) buf[len] = '\0';
    return buf;
}

static bool have_graphviz(void) { return system("command -v dot >/dev/null 2>&1") == 0; }

/* ---------------------------------------------------------------- sample graphs */
static const char *k_file = "dir/my \"model\" <v{1}|x> & \\.py";
static const char *k_file_escaped = "dir/my \\\"model\\\" \\<v\\{1\\}\\|x\\> &amp; \\\\.py:12:5";

/* branch(a: f32[2, 3]) -> op(a) */
static ds_graph *branch(const char *name, ds_op_id op) {
    ds_graph *g = NULL;
    ds_value *a, *r;
    int64_t s[2] = {2, 3};
    S_TRY(ds_graph_new(name, &g));
    S_TRY(ds_graph_add_param(g, "a", DS_FLOAT32, 2, s, false, &a));
    S_TRY(ds_graph_add_op1(g, op, 1, &a, NULL, &r));
    S_TRY(ds_graph_set_outputs(g, 1, &r));
    return g;
fail:
    ds_graph_release(g);
    return NULL;
}

/* main(x: f32[2, 3], n: i64[], c: bool[]): a constant, an op with a located hostile file name, a
 * print effect, a big constant, an If and a While (whose body prints). */
static ds_graph *sample_features(void) {
    ds_graph *g = NULL, *then_g = NULL, *else_g = NULL, *cond = NULL, *body = NULL;
    ds_value *x, *n, *c, *k, *y, *s, *big, *r, *lp[2], *acc0;
    int64_t xs[2] = {2, 3}, s40[1] = {40};
    int nout;
    S_TRY(ds_graph_new("main", &g));
    S_TRY(ds_graph_add_param(g, "x", DS_FLOAT32, 2, xs, false, &x));
    S_TRY(ds_graph_add_param(g, "n", DS_INT64, 0, NULL, false, &n));
    S_TRY(ds_graph_add_param(g, "c", DS_BOOL, 0, NULL, false, &c));
    float two = 2.0f, zero = 0.0f, data[40];
    for (int i = 0; i < 40; i++) data[i] = (float)i;
    S_TRY(sample_const(g, DS_FLOAT32, 0, NULL, &two, &k));
    ds_graph_set_loc(g, k_file, 12, 5);
    ds_value *in[2] = {x, k};
    S_TRY(ds_graph_add_op1(g, DS_OP_MUL, 2, in, NULL, &y));
    ds_graph_set_loc(g, NULL, 0, 0);
    int64_t axis1[1] = {1};
    ds_attr sum_attrs[2] = {{.kind = DS_ATTR_INTS, .n = 1, .v.ints = axis1}, {.kind = DS_ATTR_BOOL, .v.b = true}};
    S_TRY(ds_graph_add_op1(g, DS_OP_SUM, 1, &y, sum_attrs, &s));
    S_TRY(ds_graph_add_print(g, "say \"hi\" <{|}>\n", 1, &y));
    S_TRY(sample_const(g, DS_FLOAT32, 1, s40, data, &big));
    S_TRY((then_g = branch("then_branch", DS_OP_NEG)) ? DS_OK : DS_ERR_NOMEM);
    S_TRY((else_g = branch("else_branch", DS_OP_RELU)) ? DS_OK : DS_ERR_NOMEM);
    S_TRY(ds_graph_add_if(g, c, then_g, else_g, 1, &y, 1, &r, &nout));
    S_TRY((cond = sample_loop_cond("cond")) ? DS_OK : DS_ERR_NOMEM);
    S_TRY((body = sample_loop_body("body")) ? DS_OK : DS_ERR_NOMEM);
    S_TRY(sample_const(g, DS_FLOAT32, 0, NULL, &zero, &acc0));
    ds_value *init[2] = {n, acc0};
    S_TRY(ds_graph_add_while(g, cond, body, 2, init, lp));
    ds_value *outs[4] = {r, s, lp[1], big};
    S_TRY(ds_graph_set_outputs(g, 4, outs));
    ds_graph_release(then_g);
    ds_graph_release(else_g);
    ds_graph_release(cond);
    ds_graph_release(body);
    return g;
fail:
    ds_graph_release(g);
    ds_graph_release(then_g);
    ds_graph_release(else_g);
    ds_graph_release(cond);
    ds_graph_release(body);
    return NULL;
}

/* ---------------------------------------------------------------- the dot writer */
DS_TEST(dot_every_feature) {
    ds_graph *g = sample_features();
    CHECK(g != NULL);
    char *d = g ? dot_or_null(g) : NULL;
    CHECK(d != NULL);
    if (!d) {
        printf("  %s\n", ds_error_message());
        ds_graph_release(g);
        return;
    }
    CHECK(dot_ok(d));
    CHECK(!strncmp(d, "digraph \"main\" {\n", 17));
    CHECK(strstr(d, "compound=true") != NULL);
    /* parameters, with their types */
    CHECK(strstr(d, "label=\"%x\\nf32[2, 3]\"") != NULL);
    CHECK(strstr(d, "label=\"%c\\nbool[]\"") != NULL);
    /* a small constant shows its value, a big one only its type */
    CHECK(strstr(d, "{Const 2.0|%0: f32[]}") != NULL);
    CHECK(strstr(d, "{Const|%3: f32[40]}") != NULL);
    /* an op: name, result type, the escaped source location */
    char want[256];
    snprintf(want, sizeof want, "{mul|%%1: f32[2, 3]|%s}", k_file_escaped);
    CHECK(strstr(d, want) != NULL);
    if (!strstr(d, want)) printf("  want %s\n", want);
    /* attributes, their braces escaped */
    CHECK(strstr(d, "{sum|\\{axis=[1], keepdims=true\\}|%2: f32[2, 1]}") != NULL);
    /* the print effect: its string as in the text format, escaped for dot; dashed token edges */
    CHECK(strstr(d, "{Print|\\\"say \\\\\\\"hi\\\\\\\" \\<\\{\\|\\}\\>\\\\n\\\"}") != NULL);
    CHECK(strstr(d, "g3_t0 [shape=oval, style=dashed, label=\"%t0\"]") != NULL);
    CHECK(strstr(d, "g3_t0 -> g3_n4 [style=dashed, label=\"%t0\"]") != NULL);
    CHECK(count_of(d, "style=dashed, label=\"%t") >= 4); /* main: print, while; body: print, return */
    /* If and While: one cluster per subgraph, an edge from the node to each */
    CHECK(count_of(d, "subgraph cluster_") == 4);
    CHECK(strstr(d, "subgraph cluster_0_then_branch {") != NULL);
    CHECK(strstr(d, "subgraph cluster_3_body {") != NULL);
    CHECK(strstr(d, "{If|then @then_branch\\nelse @else_branch|%4: f32[2, 3]}") != NULL);
    CHECK(strstr(d, "{While|cond @cond\\nbody @body|%6: i64[]\\n%7: f32[]}") != NULL);
    CHECK(strstr(d, "-> g0_p0 [lhead=cluster_0_then_branch, style=bold") != NULL);
    CHECK(strstr(d, "-> g1_p0 [lhead=cluster_1_else_branch, style=bold") != NULL);
    CHECK(strstr(d, "-> g2_p0 [lhead=cluster_2_cond, style=bold") != NULL);
    CHECK(strstr(d, "-> g3_p0 [lhead=cluster_3_body, style=bold") != NULL);
    CHECK(count_of(d, "lhead=") == 4);
    /* nodes inside a cluster */
    CHECK(strstr(d, "    g0_n0 [shape=Mrecord, style=filled, fillcolor=\"#ffffff\", label=\"{neg|%0: f32[2, 3]}\"];") != NULL);
    /* edges carry the value; outputs are marked by index */
    CHECK(strstr(d, "g4_p0 -> g4_n1 [label=\"%x\"]") != NULL);
    CHECK(count_of(d, "label=\"return\"") == 5);
    CHECK(strstr(d, "-> g4_ret [style=bold, label=\"0: %4\"]") != NULL);
    CHECK(strstr(d, "-> g4_ret [style=bold, label=\"3: %3\"]") != NULL);
    /* deterministic, and the same for a graph read back from text */
    char *again = dot_or_null(g), *text = print_or_null(g);
    CHECK(again && !strcmp(again, d));
    ds_graph *h = NULL;
    CHECK_OK(ds_graph_parse(text ? text : "", &h));
    char *reparsed = h ? dot_or_null(h) : NULL;
    CHECK(reparsed && !strcmp(reparsed, d));
    if (getenv("DS_TEST_SHOW_DOT")) printf("%s", d);
    ds_free(again);
    ds_free(text);
    ds_free(reparsed);
    ds_graph_release(h);
    ds_free(d);
    ds_graph_release(g);
}

DS_TEST(dot_every_sample) {
    ds_graph *gs[4] = {sample_kitchen_sink(), sample_dense(), sample_token_only(), NULL};
    ds_graph *open_g = NULL;
    CHECK_OK(ds_graph_new("open", &open_g)); /* no outputs, no nodes: a cluster-less anchor-free graph */
    gs[3] = open_g;
    for (int i = 0; i < 4; i++) {
        CHECK(gs[i] != NULL);
        char *d = gs[i] ? dot_or_null(gs[i]) : NULL;
        CHECK(d && dot_ok(d));
        if (d && !dot_ok(d)) printf("%s", d);
        if (i == 0 && d) {
            CHECK(count_of(d, "subgraph cluster_") == 5); /* neg (shared), main, cond, body, body.4 */
            CHECK(strstr(d, "label=\"@body.4 \\\"body\\\"\"") != NULL);
            CHECK(strstr(d, "label=\"%arg.3 \\\"my param\\\"\\nf32[?, 3]\"") != NULL);
            CHECK(strstr(d, "\\\"python fn \\<lambda\\>\\\"") != NULL);
            CHECK(strstr(d, "label=\"%w\\nf32[4, 3] weight\"") != NULL);
            CHECK(count_of(d, "lhead=cluster_0_neg") == 4); /* If (both branches), If (else), Call */
        }
        if (i == 2 && d) CHECK(strstr(d, "g0_t0 -> g0_ret [style=dashed, label=\"%t0\"]") != NULL);
        if (i == 3 && d) CHECK(!strcmp(d, "digraph \"open\" {\n"
                                          "  graph [compound=true, fontname=\"Helvetica\", fontsize=12, labelloc=t, labeljust=l, label=\"@open\"];\n"
                                          "  node [fontname=\"Helvetica\", fontsize=10];\n"
                                          "  edge [fontname=\"Helvetica\", fontsize=9];\n"
                                          "  g0_anchor [shape=point, style=invis];\n"
                                          "}\n"));
        ds_free(d);
        ds_graph_release(gs[i]);
    }
}

/* Names with control characters, invalid UTF-8, valid UTF-8 and every special character. */
DS_TEST(dot_hostile_names) {
    ds_graph *g = NULL, *sub = NULL;
    ds_value *x, *r;
    int64_t s[1] = {3};
    CHECK_OK(ds_graph_new("g\"\\{}|<>\n\xff", &g));
    CHECK_OK(ds_graph_new("sub \xce\xbb \x01", &sub));
    if (!g || !sub) goto done;
    ds_value *a;
    CHECK_OK(ds_graph_add_param(sub, "a\tb\xc3", DS_FLOAT32, 1, s, false, &a));
    CHECK_OK(ds_graph_set_outputs(sub, 1, &a));
    CHECK_OK(ds_graph_add_param(g, "x", DS_FLOAT32, 1, s, false, &x));
    ds_graph_set_loc(g, "\xe2\x82\xac\r\\N\\l.py", 7, 0);
    int nout;
    CHECK_OK(ds_graph_add_call(g, sub, 1, &x, 1, &r, &nout));
    CHECK_OK(ds_graph_add_print(g, "\\G \xed\xa0\x80", 1, &r)); /* a surrogate: not valid UTF-8 */
    CHECK_OK(ds_graph_set_outputs(g, 1, &r));
    char *d = dot_or_null(g);
    CHECK(d && dot_ok(d));
    if (d) {
        CHECK(strstr(d, "label=\"@sub_____.0 \\\"sub \xce\xbb \\\\x01\\\"\"") != NULL);    /* UTF-8 kept, control visible */
        CHECK(strstr(d, "label=\"%arg.0 \\\"a\\\\tb\\\\xc3\\\"\\nf32[3]\"") != NULL); /* a lone lead byte visible */
        CHECK(strstr(d, "|\xe2\x82\xac\\\\r\\\\N\\\\l.py:7}") != NULL);              /* backslashes never escapes */
        CHECK(strstr(d, "\\\"\\\\\\\\G \\\\xed\\\\xa0\\\\x80\\\"") != NULL);
        CHECK(strstr(d, "label=\"@g_________.1 \\\"g\\\\\\\"\\\\\\\\\\{\\}\\|\\<\\>\\\\n\\\\xff\\\"\"") != NULL);
        if (!dot_ok(d)) printf("%s", d);
    }
    ds_free(d);
done:
    ds_graph_release(sub);
    ds_graph_release(g);
}

DS_TEST(dot_null_arguments) {
    char *s = NULL;
    CHECK_ERR(ds_graph_print_dot(NULL, &s), DS_ERR_VALUE, "NULL argument");
    ds_graph *g = sample_dense();
    CHECK_ERR(ds_graph_print_dot(g, NULL), DS_ERR_VALUE, "NULL argument");
    CHECK(s == NULL);
    ds_graph_release(g);
}

DS_TEST(alloc_failure_sweep_dot) {
    ds_graph *g = sample_kitchen_sink();
    CHECK(g != NULL);
    char *want = g ? dot_or_null(g) : NULL;
    CHECK(want != NULL);
    for (int64_t k = 1; want; k++) {
        int64_t base = ds_alloc_live_blocks();
        char *s = NULL;
        ds_alloc_debug_begin(k);
        ds_status st = ds_graph_print_dot(g, &s);
        int64_t used = ds_alloc_debug_count();
        ds_alloc_debug_begin(0);
        CHECK(st == DS_OK || st == DS_ERR_NOMEM);
        CHECK(st != DS_OK || !strcmp(s, want));
        CHECK(st == DS_OK || s == NULL);
        ds_free(s);
        CHECK(ds_alloc_live_blocks() == base);
        if (st == DS_OK && used < k) break;
    }
    ds_free(want);
    ds_graph_release(g);
}

/* ---------------------------------------------------------------- dumps */
static const char *const k_pass_names[] = {"inline", "simplify", "fold", "cse", "dce"};

/* The file "<dir>/<name>.<nn>.<pass>.<ext>" for dump number seq (0: the input) of ds_graph_optimize, or
 * of ds_graph_run_pass(pass) when pass is not NULL. */
static void dump_path(char *buf, size_t n, const char *dir, const char *name, int seq, const char *pass, const char *ext) {
    const char *p = seq == 0 ? "input" : pass ? pass : k_pass_names[(seq - 1) % 5];
    snprintf(buf, n, "%s/%s.%02d.%s.%s", dir, name, seq, p, ext);
}

/* Checks the dumps of one run in dir (see dump_path) and removes them; returns how many there were. */
static int check_and_remove_dumps(int *ds_failed_, const char *dir, const char *name, const char *pass) {
    bool render = have_graphviz();
    char path[1024];
    int count = 0;
    for (int seq = 0; seq < 100; seq++) {
        dump_path(path, sizeof path, dir, name, seq, pass, "ir");
        if (access(path, R_OK) != 0) break;
        count++;
        char *text = read_file(path);
        CHECK(text != NULL);
        ds_graph *h = NULL;
        CHECK_OK(ds_graph_parse(text ? text : "", &h));
        char *again = h ? print_or_null(h) : NULL;
        CHECK(again && text && !strcmp(again, text));
        /* the .dot beside it is the dot of the same graph */
        char dpath[1024];
        dump_path(dpath, sizeof dpath, dir, name, seq, pass, "dot");
        char *dot = read_file(dpath), *want = h ? dot_or_null(h) : NULL;
        CHECK(dot && dot_ok(dot));
        CHECK(dot && want && !strcmp(dot, want));
        if (render) {
            char cmd[2200];
            snprintf(cmd, sizeof cmd, "dot -Tsvg '%s' -o /dev/null", dpath);
            CHECK(system(cmd) == 0);
        }
        free(text);
        free(dot);
        ds_free(again);
        ds_free(want);
        ds_graph_release(h);
        CHECK(unlink(path) == 0);
        CHECK(unlink(dpath) == 0);
    }
    return count;
}

DS_TEST(dump_dir_writes_ir_and_dot_after_every_pass) {
    char base[] = "/tmp/ds_dot_XXXXXX";
    CHECK(mkdtemp(base) != NULL);
    char dir[256], envdir[256], parent[256], grand[256];
    snprintf(grand, sizeof grand, "%s/a", base);
    snprintf(parent, sizeof parent, "%s/a/b", base);
    snprintf(dir, sizeof dir, "%s/a//b/c/", base); /* missing parents, a double and a trailing slash */
    snprintf(envdir, sizeof envdir, "%s/env", base);
    setenv("DS_DUMP_IR", envdir, 1); /* ds_set_dump_dir takes precedence */
    CHECK_OK(ds_set_dump_dir(dir));
    ds_graph *g = sample_features(), *o = NULL;
    CHECK(g != NULL);
    CHECK_OK(ds_graph_optimize(g, &o));
    CHECK(access(envdir, F_OK) != 0);
    char path[512];
    snprintf(path, sizeof path, "%s/a/b/c/main.00.input.dot", base);
    CHECK(access(path, R_OK) == 0);
    snprintf(path, sizeof path, "%s/a/b/c/main.01.inline.ir", base);
    CHECK(access(path, R_OK) == 0);
    /* the last dump is the optimized graph */
    int count = 0;
    for (int seq = 0; seq < 100; seq++) {
        char p[512];
        dump_path(p, sizeof p, dir, "main", seq, NULL, "ir");
        if (access(p, R_OK) != 0) break;
        count = seq + 1;
    }
    CHECK(count >= 6);
    if (count && o) {
        char p[512];
        dump_path(p, sizeof p, dir, "main", count - 1, NULL, "ir");
        char *text = read_file(p), *want = print_or_null(o);
        CHECK(text && want && !strcmp(text, want));
        free(text);
        ds_free(want);
    }
    CHECK(check_and_remove_dumps(ds_failed_, dir, "main", NULL) == count);
    /* cleared: DS_DUMP_IR applies again */
    CHECK_OK(ds_set_dump_dir(NULL));
    ds_graph *o2 = NULL;
    CHECK_OK(ds_graph_run_pass(g, "dce", &o2));
    CHECK(check_and_remove_dumps(ds_failed_, envdir, "main", "dce") == 2);
    ds_graph_release(o2);
    o2 = NULL;
    /* neither set: no dumps ("" clears like NULL) */
    unsetenv("DS_DUMP_IR");
    CHECK_OK(ds_set_dump_dir(""));
    CHECK_OK(ds_graph_run_pass(g, "dce", &o2));
    snprintf(path, sizeof path, "%s/main.00.input.ir", dir);
    CHECK(access(path, F_OK) != 0);
    ds_graph_release(o2);
    CHECK(rmdir(envdir) == 0);
    CHECK(rmdir(dir) == 0);
    CHECK(rmdir(parent) == 0);
    CHECK(rmdir(grand) == 0);
    CHECK(rmdir(base) == 0);
    ds_graph_release(o);
    ds_graph_release(g);
}

DS_TEST(dump_dir_errors_name_the_path) {
    char base[] = "/tmp/ds_dot_err_XXXXXX";
    CHECK(mkdtemp(base) != NULL);
    ds_graph *g = sample_dense(), *o = NULL;
    CHECK(g != NULL);
    char file[256], bad[300], msg[400];
    /* a parent that is a regular file */
    snprintf(file, sizeof file, "%s/file", base);
    FILE *f = fopen(file, "w");
    CHECK(f != NULL);
    if (f) fclose(f);
    snprintf(bad, sizeof bad, "%s/sub/dir", file);
    CHECK_OK(ds_set_dump_dir(bad));
    snprintf(msg, sizeof msg, "IR dump: cannot create the directory '%s': Not a directory", file);
    CHECK_ERR(ds_graph_optimize(g, &o), DS_ERR_VALUE, msg);
    CHECK(o == NULL);
    /* the directory itself is a regular file */
    CHECK_OK(ds_set_dump_dir(file));
    snprintf(msg, sizeof msg, "IR dump: cannot create the directory '%s': Not a directory", file);
    CHECK_ERR(ds_graph_optimize(g, &o), DS_ERR_VALUE, msg);
    /* a dump file that cannot be written (a directory is in its place) */
    char blocker[300];
    snprintf(blocker, sizeof blocker, "%s/dense.00.input.dot", base);
    CHECK(mkdir(blocker, 0777) == 0);
    CHECK_OK(ds_set_dump_dir(base));
    snprintf(msg, sizeof msg, "IR dump: cannot write '%s': Is a directory", blocker);
    CHECK_ERR(ds_graph_optimize(g, &o), DS_ERR_VALUE, msg);
    CHECK(o == NULL);
    /* a path longer than the setting holds */
    size_t n = 5000;
    char *longp = malloc(n + 1);
    if (longp) {
        memset(longp, 'a', n);
        longp[n] = '\0';
        CHECK_ERR(ds_set_dump_dir(longp), DS_ERR_VALUE, "longer than 4095 bytes");
        free(longp);
    }
    CHECK_OK(ds_set_dump_dir(NULL));
    char ir[300];
    snprintf(ir, sizeof ir, "%s/dense.00.input.ir", base);
    CHECK(unlink(ir) == 0);
    CHECK(rmdir(blocker) == 0);
    CHECK(unlink(file) == 0);
    CHECK(rmdir(base) == 0);
    ds_graph_release(g);
}

/* Failing allocation N while optimizing with dumps on: DS_ERR_NOMEM or success, nothing leaks. */
DS_TEST(alloc_failure_sweep_dump) {
    char base[] = "/tmp/ds_dot_sweep_XXXXXX";
    CHECK(mkdtemp(base) != NULL);
    ds_graph *g = NULL;
    ds_value *x, *y;
    int64_t s[1] = {3};
    CHECK_OK(ds_graph_new("tiny", &g));
    CHECK_OK(ds_graph_add_param(g, "x", DS_FLOAT32, 1, s, false, &x));
    CHECK_OK(ds_graph_add_op1(g, DS_OP_NEG, 1, &x, NULL, &y));
    CHECK_OK(ds_graph_set_outputs(g, 1, &y));
    CHECK_OK(ds_set_dump_dir(base));
    for (int64_t k = 1; g; k++) {
        int64_t live = ds_alloc_live_blocks();
        ds_graph *o = NULL;
        ds_alloc_debug_begin(k);
        ds_status st = ds_graph_optimize(g, &o);
        int64_t used = ds_alloc_debug_count();
        ds_alloc_debug_begin(0);
        CHECK(st == DS_OK || st == DS_ERR_NOMEM);
        CHECK(st == DS_OK || o == NULL);
        ds_graph_release(o);
        CHECK(ds_alloc_live_blocks() == live);
        if (st == DS_OK && used < k) break;
        if (k > 100000) break;
    }
    CHECK_OK(ds_set_dump_dir(NULL));
    CHECK(check_and_remove_dumps(ds_failed_, base, "tiny", NULL) >= 1);
    CHECK(rmdir(base) == 0);
    ds_graph_release(g);
}

DS_TEST_MAIN()
