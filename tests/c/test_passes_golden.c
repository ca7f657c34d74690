/* Golden tests of the passes: IR text in, one pass (or the whole pipeline), IR text out. Every case is
 * also verified and run through the equivalence oracle (passes_util.h). Run with DS_GOLDEN_SHOW=1 to
 * print the actual text of failing cases. */
#include <stdlib.h>

#include "ds_test.h"
#include "passes_util.h"

typedef struct golden {
    const char *name, *pass; /* pass NULL: ds_graph_optimize */
    const char *in, *out;
} golden;

static const golden k_cases[] = {
    {"inline_calls", "inline",
     "graph @f(%a: f32[3], %b: f32[3]) {\n"
     "  %0: f32[3] = mul(%a, %b) loc(\"f.py\":2)\n"
     "  %1: f32[3] = add(%0, %a) loc(\"f.py\":3)\n"
     "  return %1\n"
     "}\n\n"
     "graph @main(%x: f32[3]) {\n"
     "  %0: f32[3] = exp(%x) loc(\"main.py\":7)\n"
     "  %1: f32[3] = Call(%x, %0) @f loc(\"main.py\":8)\n"
     "  %2: f32[3] = Call(%1, %1) @f loc(\"main.py\":9)\n"
     "  return %2\n"
     "}\n",
     "graph @main(%x: f32[3]) {\n"
     "  %0: f32[3] = exp(%x) loc(\"main.py\":7)\n"
     "  %1: f32[3] = mul(%x, %0) loc(\"f.py\":2)\n"
     "  %2: f32[3] = add(%1, %x) loc(\"f.py\":3)\n"
     "  %3: f32[3] = mul(%2, %2) loc(\"f.py\":2)\n"
     "  %4: f32[3] = add(%3, %2) loc(\"f.py\":3)\n"
     "  return %4\n"
     "}\n"},
    {"inline_if_on_constant_with_effects", "inline",
     "graph @then(%a: f32[3]) {\n"
     "  %t1 = Print(%a) \"then\" !%t0\n"
     "  return %a !%t1\n"
     "}\n\n"
     "graph @else(%a: f32[3]) {\n"
     "  %0: f32[3] = neg(%a)\n"
     "  return %0\n"
     "}\n\n"
     "graph @main(%x: f32[3]) {\n"
     "  %t1 = Print(%x) \"before\" !%t0\n"
     "  %0: bool[] = Const true\n"
     "  %1: f32[3], %t2 = If(%0, %x) then @then else @else !%t1\n"
     "  %2: bool[] = Const false\n"
     "  %3: f32[3], %t3 = If(%2, %1) then @then else @else !%t2\n"
     "  %t4 = Print(%3) \"after\" !%t3\n"
     "  return %3 !%t4\n"
     "}\n",
     "graph @main(%x: f32[3]) {\n"
     "  %t1 = Print(%x) \"before\" !%t0\n"
     "  %0: bool[] = Const true\n"
     "  %t2 = Print(%x) \"then\" !%t1\n"
     "  %1: bool[] = Const false\n"
     "  %2: f32[3] = neg(%x)\n"
     "  %t3 = Print(%2) \"after\" !%t2\n"
     "  return %2 !%t3\n"
     "}\n"},
    {"inline_assign_through_weight", "inline",
     "graph @step(%w: f32[3] weight, %g: f32[3]) {\n"
     "  %0: f32[3] = sub(%w, %g)\n"
     "  %t1 = Assign(%w, %0) !%t0\n"
     "  return %0 !%t1\n"
     "}\n\n"
     "graph @train(%w: f32[3] weight, %x: f32[3]) {\n"
     "  %0: f32[3] = mul(%w, %x)\n"
     "  %1: f32[3], %t1 = Call(%w, %0) @step !%t0\n"
     "  %2: f32[3], %t2 = Call(%0, %x) @step !%t1\n"
     "  return %1, %2 !%t2\n"
     "}\n",
     "graph @step(%w: f32[3] weight, %g: f32[3]) {\n"
     "  %0: f32[3] = sub(%w, %g)\n"
     "  %t1 = Assign(%w, %0) !%t0\n"
     "  return %0 !%t1\n"
     "}\n\n"
     "graph @train(%w: f32[3] weight, %x: f32[3]) {\n"
     "  %0: f32[3] = mul(%w, %x)\n"
     "  %1: f32[3] = sub(%w, %0)\n"
     "  %t1 = Assign(%w, %1) !%t0\n"
     "  %2: f32[3], %t2 = Call(%0, %x) @step !%t1\n"
     "  return %1, %2 !%t2\n"
     "}\n"},
    {"fold", "fold",
     "graph @g(%x: f32[3]) {\n"
     "  %0: f32[3] = Const [1.0, 2.0, 3.0]\n"
     "  %1: f32[] = Const 0.5\n"
     "  %2: f32[3] = mul(%0, %1)\n"
     "  %3: i64[3] = cast(%2) {dtype=i64}\n"
     "  %4: i64[] = sum(%3) {axis=None, keepdims=false}\n"
     "  %5: f32[3], %t1 = uniform() {shape=[3], low=0.0, high=1.0, dtype=f32} !%t0\n"
     "  %6: f32[3] = add(%5, %2)\n"
     "  %7: f32[4096, 2] = broadcast_to(%1) {shape=[4096, 2]}\n"
     "  %8: f32[2, 2] = full() {shape=[2, 2], value=7.0, dtype=f32}\n"
     "  return %4, %6, %7, %8, %x !%t1\n"
     "}\n",
     "graph @g(%x: f32[3]) {\n"
     "  %0: f32[3] = Const [1.0, 2.0, 3.0]\n"
     "  %1: f32[] = Const 0.5\n"
     "  %2: f32[3] = Const [0.5, 1.0, 1.5]\n"
     "  %3: i64[3] = Const [0, 1, 1]\n"
     "  %4: i64[] = Const 2\n"
     "  %5: f32[3], %t1 = uniform() {shape=[3], low=0.0, high=1.0, dtype=f32} !%t0\n"
     "  %6: f32[3] = add(%5, %2)\n"
     "  %7: f32[4096, 2] = broadcast_to(%1) {shape=[4096, 2]}\n"
     "  %8: f32[2, 2] = Const [7.0, 7.0, 7.0, 7.0]\n"
     "  return %4, %6, %7, %8, %x !%t1\n"
     "}\n"},
    {"cse", "cse",
     "graph @g(%x: f32[2, 3], %y: f32[2, 3]) {\n"
     "  %0: f32[2, 3] = add(%x, %y)\n"
     "  %1: f32[2, 3] = add(%x, %y)\n"
     "  %2: f32[3] = sum(%0) {axis=[0], keepdims=false}\n"
     "  %3: f32[3] = sum(%1) {axis=[0], keepdims=false}\n"
     "  %4: f32[2] = sum(%1) {axis=[1], keepdims=false}\n"
     "  %5: f32[] = Const 0.0\n"
     "  %6: f32[] = Const -0.0\n"
     "  %7: f32[] = Const 0.0\n"
     "  %8: f32[3] = add(%2, %5)\n"
     "  %9: f32[3] = add(%3, %7)\n"
     "  %10: f32[3] = add(%3, %6)\n"
     "  %t1 = Print(%8) \"p\" !%t0\n"
     "  %t2 = Print(%9) \"p\" !%t1\n"
     "  %11: f32[3], %t3 = normal() {shape=[3], mean=0.0, std=1.0, dtype=f32} !%t2\n"
     "  %12: f32[3], %t4 = normal() {shape=[3], mean=0.0, std=1.0, dtype=f32} !%t3\n"
     "  return %8, %9, %10, %4, %11, %12 !%t4\n"
     "}\n",
     "graph @g(%x: f32[2, 3], %y: f32[2, 3]) {\n"
     "  %0: f32[2, 3] = add(%x, %y)\n"
     "  %1: f32[3] = sum(%0) {axis=[0], keepdims=false}\n"
     "  %2: f32[2] = sum(%0) {axis=[1], keepdims=false}\n"
     "  %3: f32[] = Const 0.0\n"
     "  %4: f32[] = Const -0.0\n"
     "  %5: f32[3] = add(%1, %3)\n"
     "  %6: f32[3] = add(%1, %4)\n"
     "  %t1 = Print(%5) \"p\" !%t0\n"
     "  %t2 = Print(%5) \"p\" !%t1\n"
     "  %7: f32[3], %t3 = normal() {shape=[3], mean=0.0, std=1.0, dtype=f32} !%t2\n"
     "  %8: f32[3], %t4 = normal() {shape=[3], mean=0.0, std=1.0, dtype=f32} !%t3\n"
     "  return %5, %5, %6, %2, %7, %8 !%t4\n"
     "}\n"},
    {"dce", "dce",
     "graph @g(%x: f32[3], %unused: f32[3]) {\n"
     "  %0: f32[3] = sin(%x)\n"
     "  %1: f32[3] = exp(%0)\n"
     "  %2: f32[3], %t1 = uniform() {shape=[3], low=0.0, high=1.0, dtype=f32} !%t0\n"
     "  %3: f32[3] = cos(%x)\n"
     "  %t2 = Print(%3) \"cos\" !%t1\n"
     "  %4: f32[3] = neg(%x)\n"
     "  return %4 !%t2\n"
     "}\n",
     "graph @g(%x: f32[3], %unused: f32[3]) {\n"
     "  %0: f32[3], %t1 = uniform() {shape=[3], low=0.0, high=1.0, dtype=f32} !%t0\n"
     "  %1: f32[3] = cos(%x)\n"
     "  %t2 = Print(%1) \"cos\" !%t1\n"
     "  %2: f32[3] = neg(%x)\n"
     "  return %2 !%t2\n"
     "}\n"},
    {"simplify", "simplify",
     "graph @g(%x: f32[2, 3], %i: i32[2, 3]) {\n"
     "  %0: f32[] = Const 0.0\n"
     "  %1: f32[] = Const -0.0\n"
     "  %2: f32[] = Const 1.0\n"
     "  %3: i32[] = Const 0\n"
     "  %4: f32[2, 3] = add(%x, %0)\n"
     "  %5: f32[2, 3] = add(%1, %x)\n"
     "  %6: f32[2, 3] = sub(%5, %0)\n"
     "  %7: f32[2, 3] = mul(%6, %2)\n"
     "  %8: f32[2, 3] = mul(%7, %0)\n"
     "  %9: i32[2, 3] = mul(%i, %3)\n"
     "  %10: f32[2, 3] = neg(%x)\n"
     "  %11: f32[2, 3] = neg(%10)\n"
     "  %12: f32[3, 2] = transpose(%11) {perm=[1, 0]}\n"
     "  %13: f32[2, 3] = transpose(%12) {perm=None}\n"
     "  %14: f32[6] = reshape(%13) {shape=[6]}\n"
     "  %15: f32[1, 6] = unsqueeze(%14) {axis=0}\n"
     "  %16: f32[3, 2] = reshape(%15) {shape=[3, -1]}\n"
     "  %17: f32[3, 2] = cast(%16) {dtype=f32}\n"
     "  return %4, %8, %9, %17\n"
     "}\n",
     "graph @g(%x: f32[2, 3], %i: i32[2, 3]) {\n"
     "  %0: f32[] = Const 0.0\n"
     "  %1: f32[] = Const -0.0\n"
     "  %2: f32[] = Const 1.0\n"
     "  %3: i32[] = Const 0\n"
     "  %4: f32[2, 3] = add(%x, %0)\n"
     "  %5: f32[2, 3] = mul(%x, %0)\n"
     "  %6: i32[2, 3] = full() {shape=[2, 3], value=0.0, dtype=i32}\n"
     "  %7: f32[2, 3] = neg(%x)\n"
     "  %8: f32[3, 2] = transpose(%x) {perm=[1, 0]}\n"
     "  %9: f32[6] = reshape(%x) {shape=[6]}\n"
     "  %10: f32[1, 6] = reshape(%x) {shape=[1, 6]}\n"
     "  %11: f32[3, 2] = reshape(%x) {shape=[3, 2]}\n"
     "  return %4, %5, %6, %11\n"
     "}\n"},
    {"pipeline_while", NULL,
     "graph @cond(%i: i64[], %acc: f32[3]) {\n"
     "  %0: i64[] = Const 4\n"
     "  %1: bool[] = less(%i, %0)\n"
     "  return %1\n"
     "}\n\n"
     "graph @scale(%a: f32[3], %c: f32[]) {\n"
     "  %0: f32[3] = mul(%a, %c)\n"
     "  return %0\n"
     "}\n\n"
     "graph @body(%i: i64[], %acc: f32[3]) {\n"
     "  %0: f32[] = Const 1.5\n"
     "  %1: f32[] = Const 1.5\n"
     "  %2: f32[] = mul(%0, %1)\n"
     "  %3: f32[3] = Call(%acc, %2) @scale\n"
     "  %4: f32[] = Const 0.0\n"
     "  %5: f32[3] = sub(%3, %4)\n"
     "  %6: f32[3] = exp(%acc)\n"
     "  %t1 = Print(%5) \"acc\" !%t0\n"
     "  %7: i64[] = Const 1\n"
     "  %8: i64[] = add(%i, %7)\n"
     "  return %8, %5 !%t1\n"
     "}\n\n"
     "graph @main(%i: i64[], %acc: f32[3]) {\n"
     "  %0: i64[], %1: f32[3], %t1 = While(%i, %acc) cond @cond body @body !%t0\n"
     "  return %0, %1 !%t1\n"
     "}\n",
     "graph @cond(%i: i64[], %acc: f32[3]) {\n"
     "  %0: i64[] = Const 4\n"
     "  %1: bool[] = less(%i, %0)\n"
     "  return %1\n"
     "}\n\n"
     "graph @body(%i: i64[], %acc: f32[3]) {\n"
     "  %0: f32[] = Const 2.25\n"
     "  %1: f32[3] = mul(%acc, %0)\n"
     "  %t1 = Print(%1) \"acc\" !%t0\n"
     "  %2: i64[] = Const 1\n"
     "  %3: i64[] = add(%i, %2)\n"
     "  return %3, %1 !%t1\n"
     "}\n\n"
     "graph @main(%i: i64[], %acc: f32[3]) {\n"
     "  %0: i64[], %1: f32[3], %t1 = While(%i, %acc) cond @cond body @body !%t0\n"
     "  return %0, %1 !%t1\n"
     "}\n"},
};

DS_TEST(golden_passes) {
    bool show = getenv("DS_GOLDEN_SHOW") != NULL;
    for (size_t c = 0; c < sizeof k_cases / sizeof k_cases[0]; c++) {
        const golden *k = &k_cases[c];
        ds_graph *g = NULL, *o = NULL, *e = NULL;
        char *text = NULL, *etext = NULL;
        ds_status st = ds_graph_parse(k->in, &g);
        if (st) {
            printf("  %s: input does not parse: %s\n", k->name, ds_error_message());
            CHECK(0);
            continue;
        }
        st = k->pass ? ds_graph_run_pass(g, k->pass, &o) : ds_graph_optimize(g, &o);
        if (st) printf("  %s: %s\n", k->name, ds_error_message());
        CHECK(st == DS_OK);
        if (o) {
            CHECK_OK(ds_graph_verify(o));
            CHECK_OK(ds_graph_print(o, &text));
            if (text && strcmp(text, k->out)) {
                printf("  %s: output differs from the golden text\n", k->name);
                if (show) printf("--- actual\n%s--- expected\n%s---\n", text, k->out);
                CHECK(0);
            }
            if (!pu_same_behavior(g, o, 4)) {
                printf("  %s: behaves differently\n", k->name);
                CHECK(0);
            }
        }
        /* the golden text itself is canonical */
        CHECK_OK(ds_graph_parse(k->out, &e));
        if (e) CHECK_OK(ds_graph_print(e, &etext));
        CHECK(etext && !strcmp(etext, k->out));
        ds_free(text);
        ds_free(etext);
        ds_graph_release(e);
        ds_graph_release(o);
        ds_graph_release(g);
    }
}

DS_TEST_MAIN()
