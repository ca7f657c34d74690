/* Tests of the IR text format: golden text for every node kind, exact round trips, hand-written text,
 * parse errors with line:column, malformed text refused cleanly, allocation-failure sweeps. */
#include <stdlib.h>

#include "ds_test.h"
#include "base/strbuf.h"
#include "ir/irio.h"
#include "ir_samples.h"

static const char *k_dense_golden =
    "graph @dense<batch>(%x: f32[batch, 4], %w: f32[4, 3] weight, %b: f32[3] weight) {\n"
    "  %0: f32[batch, 3] = matmul(%x, %w) {transpose_a=false, transpose_b=false} loc(\"model.py\":12:5)\n"
    "  %1: f32[batch, 3] = add(%0, %b) loc(\"model.py\":13:5)\n"
    "  %2: f32[batch, 3] = relu(%1) loc(\"model.py\":13:5)\n"
    "  return %2\n"
    "}\n";

/* Every node kind; shared subgraphs (neg), two graphs named "body" and two named "main"; constants of
 * every dtype (hex when a value has no exact decimal form or there are more than 16). */
static const char *k_sink_golden =
    "graph @neg(%x: f32[3]) {\n"
    "  %0: f32[3] = neg(%x)\n"
    "  return %0\n"
    "}\n"
    "\n"
    "graph @main(%x: f32[3]) {\n"
    "  %t1 = Print(%x) \"x:\" !%t0\n"
    "  return %x !%t1\n"
    "}\n"
    "\n"
    "graph @cond(%i: i64[], %acc: f32[]) {\n"
    "  %0: i64[] = Const 10\n"
    "  %1: bool[] = less(%i, %0)\n"
    "  return %1\n"
    "}\n"
    "\n"
    "graph @body(%i: i64[], %acc: f32[]) {\n"
    "  %0: i64[] = Const 1\n"
    "  %1: f32[] = Const 2.0\n"
    "  %2: i64[] = add(%i, %0)\n"
    "  %3: f32[] = mul(%acc, %1)\n"
    "  %t1 = Print(%i) \"i =\" !%t0\n"
    "  return %2, %3 !%t1\n"
    "}\n"
    "\n"
    "graph @body.4 \"body\"(%i: i64[], %acc: f32[]) {\n"
    "  %0: i64[] = Const 1\n"
    "  %1: f32[] = Const 2.0\n"
    "  %2: i64[] = add(%i, %0)\n"
    "  %3: f32[] = mul(%acc, %1)\n"
    "  %t1 = Print(%i) \"i =\" !%t0\n"
    "  return %2, %3 !%t1\n"
    "}\n"
    "\n"
    "graph @main.5 \"main\"<batch, \"seq len\">(%x: f32[batch, 4], %w: f32[4, 3] weight, %b: f32[3] weight, %arg.3: f32[?, 3] \"my param\", %n: i64[], %c: bool[], %arg.6: f32[3] \"t0\", %arg.7: f32[3] \"y\", %arg.8: f32[\"seq len\"] \"y\", %arg.9: i32[3] \"\") {\n"
    "  %0: f32[batch, 3] = matmul(%x, %w) {transpose_a=false, transpose_b=false} loc(\"model dir/my \\\"model\\\".py\":12:5)\n"
    "  %1: f32[batch, 3] = add(%0, %b) loc(\"model dir/my \\\"model\\\".py\":13)\n"
    "  %2: f32[batch, 1] = sum(%1) {axis=[1], keepdims=true}\n"
    "  %3: i64[] = argmax(%x) {axis=None, keepdims=false}\n"
    "  %4: f16[5] = one_hot(%n) {depth=5, on_value=1.5, off_value=-0.1, axis=-1, dtype=f16}\n"
    "  %5: bf16[batch, 4] = cast(%x) {dtype=bf16}\n"
    "  %6: f32[batch, 4] = clip(%x) {min=None, max=6.0}\n"
    "  %7: f32[3] = var(%arg.3) {axis=[0], keepdims=false, ddof=1}\n"
    "  %8: f32[2, 2], %t1 = uniform() {shape=[2, 2], low=0.0, high=1.0, dtype=f32} !%t0 loc(\"rand.py\":3:1)\n"
    "  %9: f32[1, 3], %10: f32[3, 3] = split(%w) {sizes=[1, 3], axis=0}\n"
    "  %11: bool[2] = Const [true, false]\n"
    "  %12: bool[2] = Const hex\"0102\"\n"
    "  %13: i8[2] = Const [-128, 127]\n"
    "  %14: u8[] = Const 255\n"
    "  %15: i16[4] = Const [-32768, 0, 1, 32767]\n"
    "  %16: i32[2, 2] = Const [-2147483648, -1, 0, 2147483647]\n"
    "  %17: i64[2] = Const [-9223372036854775808, 9223372036854775807]\n"
    "  %18: f16[5] = Const [1.0, -0.0, 6e-08, inf, nan]\n"
    "  %19: bf16[4] = Const [1.0, 3.14, -inf, 9e-41]\n"
    "  %20: f32[5] = Const [0.1, -0.0, 1e-45, -3.4028235e+38, 16777216.0]\n"
    "  %21: f32[2] = Const [nan, -nan]\n"
    "  %22: f64[4] = Const [0.1, 0.3333333333333333, 1e+300, -2.5e-320]\n"
    "  %23: f64[] = Const hex\"230100000000f07f\"\n"
    "  %24: f32[40] = Const hex\"000040c0000030c0000020c0000010c0000000c00000e0bf0000c0bf0000a0bf000080bf000040bf000000bf000080be000000000000803e0000003f0000403f0000803f0000a03f0000c03f0000e03f0000004000001040000020400000304000004040000050400000604000007040000080400000884000009040000098400000a0400000a8400000b0400000b8400000c0400000c8400000d0400000d840\"\n"
    "  %25: f32[0, 3] = Const []\n"
    "  %26: f32[3] = If(%c, %b) then @neg else @neg\n"
    "  %27: f32[3], %t2 = If(%c, %26) then @main else @neg !%t1\n"
    "  %28: f32[3] = Call(%27) @neg\n"
    "  %29: f32[] = Const 0.0\n"
    "  %30: i64[], %31: f32[], %t3 = While(%n, %29) cond @cond body @body !%t2\n"
    "  %32: i64[], %33: f32[], %t4 = While(%30, %31) cond @cond body @body.4 !%t3\n"
    "  %t5 = Print(%x, %1) \"say \\\"hi\\\"\\n\\tback\\\\slash \\x01\" !%t4\n"
    "  %t6 = Print() \"\" !%t5\n"
    "  %34: f32[4, 3] = mul(%w, %w)\n"
    "  %t7 = Assign(%w, %34) !%t6\n"
    "  %35: f32[batch, $7], %t8 = Callback(%x) \"python fn <lambda>\" !%t7 loc(\"host.py\":40:2)\n"
    "  return %1, %2, %3, %4, %5, %6, %7, %8, %10, %28, %33, %x !%t8\n"
    "}\n";

/* print(parse(print(g))) == print(g), the parsed graph verifies and its constants are bit-identical. */
static bool text_round_trip(const ds_graph *g) {
    char *a = print_or_null(g), *b = NULL;
    ds_graph *h = NULL;
    bool ok = a && ds_graph_parse(a, &h) == DS_OK && ds_graph_verify(h) == DS_OK && (b = print_or_null(h)) && !strcmp(a, b) &&
              same_constants(g, h);
    if (!ok) printf("  round trip failed: %s\n", ds_error_message());
    if (!ok && a && b) printf("--- printed\n%s--- reparsed\n%s", a, b);
    ds_free(a);
    ds_free(b);
    ds_graph_release(h);
    return ok;
}

DS_TEST(golden_dense) {
    ds_graph *g = sample_dense();
    CHECK(g != NULL);
    char *s = print_or_null(g);
    CHECK(s && !strcmp(s, k_dense_golden));
    if (s && strcmp(s, k_dense_golden)) printf("%s", s);
    CHECK(text_round_trip(g));
    ds_free(s);
    ds_graph_release(g);
}

DS_TEST(golden_every_node_kind) {
    ds_graph *g = sample_kitchen_sink();
    CHECK(g != NULL);
    CHECK_OK(ds_graph_verify(g));
    char *s = print_or_null(g);
    CHECK(s && !strcmp(s, k_sink_golden));
    if (s && strcmp(s, k_sink_golden)) printf("%s", s);
    /* the golden text itself parses back to the same graph */
    ds_graph *h = NULL;
    CHECK_OK(ds_graph_parse(k_sink_golden, &h));
    CHECK(h && same_constants(g, h));
    CHECK(text_round_trip(g));
    ds_free(s);
    ds_graph_release(h);
    ds_graph_release(g);
}

DS_TEST(round_trip_token_only_graph) {
    ds_graph *g = sample_token_only(), *caller = NULL;
    ds_value *x, *y;
    int64_t s[1] = {3};
    int n;
    CHECK_OK(ds_graph_new("caller", &caller));
    CHECK_OK(ds_graph_add_param(caller, "x", DS_FLOAT32, 1, s, false, &x));
    CHECK_OK(ds_graph_add_call(caller, g, 1, &x, 1, &y, &n)); /* effectful: the callee has a token */
    CHECK_OK(ds_graph_set_outputs(caller, 1, &y));
    char *t = print_or_null(caller);
    CHECK(t && strstr(t, "graph @token_only(%x: f32[3]) {\n  return %x !%t0\n}"));
    CHECK(t && strstr(t, "%0: f32[3], %t1 = Call(%x) @token_only !%t0\n  return %0 !%t1\n"));
    CHECK(text_round_trip(caller));
    ds_free(t);
    ds_graph_release(caller);
    ds_graph_release(g);
}

static void capture(void *ctx, const char *text) { snprintf(ctx, 64, "%s", text); }

DS_TEST(hand_written_text_runs) {
    const char *text =
        "# types of op results, attributes and tokens may be left out\n"
        "graph @f<n>(%x: f32[n], %y: float32[n]) {\n"
        "  %s = add(%x, %y)          # inferred f32[n]\n"
        "  %k: f32[] = Const 2\n"
        "  %m = mul(%s, %k)\n"
        "  %r = sum(%m) {keepdims=false}\n"
        "  Print(%r) \"r:\"\n"
        "  return %r\n"
        "}\n";
    ds_graph *g = NULL;
    CHECK_OK(ds_graph_parse(text, &g));
    if (!g) return;
    CHECK_OK(ds_graph_verify(g));
    char *s = print_or_null(g);
    const char *want =
        "graph @f<n>(%x: f32[n], %y: f32[n]) {\n"
        "  %0: f32[n] = add(%x, %y)\n"
        "  %1: f32[] = Const 2.0\n"
        "  %2: f32[n] = mul(%0, %1)\n"
        "  %3: f32[] = sum(%2) {axis=None, keepdims=false}\n"
        "  %t1 = Print(%3) \"r:\" !%t0\n"
        "  return %3 !%t1\n"
        "}\n";
    CHECK(s && !strcmp(s, want));
    if (s && strcmp(s, want)) printf("%s", s);
    int64_t shape[1] = {3};
    float xv[3] = {1, 2, 3}, yv[3] = {1, 1, 1};
    ds_tensor *in[2], *out = NULL;
    CHECK_OK(ds_tensor_from_data(DS_FLOAT32, 1, shape, xv, &in[0]));
    CHECK_OK(ds_tensor_from_data(DS_FLOAT32, 1, shape, yv, &in[1]));
    char printed[64] = "";
    ds_set_print_hook(capture, printed);
    CHECK_OK(ds_graph_eval(g, 2, in, 1, &out, NULL));
    ds_set_print_hook(NULL, NULL);
    CHECK(!strcmp(printed, "r: 18.0\n"));
    double v = 0;
    if (out) CHECK_OK(ds_tensor_get_double(out, 0, &v));
    CHECK(v == 18.0);
    ds_tensor_release(out);
    ds_tensor_release(in[0]);
    ds_tensor_release(in[1]);
    ds_free(s);
    ds_graph_release(g);
}

DS_TEST(parsed_callback_fails_at_run_time) {
    const char *text =
        "graph @g(%x: f32[2]) {\n"
        "  %0: f32[2], %t1 = Callback(%x) \"my_hook\" !%t0\n"
        "  return %0 !%t1\n"
        "}\n";
    ds_graph *g = NULL;
    CHECK_OK(ds_graph_parse(text, &g));
    if (!g) return;
    CHECK(ds_graph_node(g, 0)->kind == DS_NODE_CALLBACK && ds_graph_node(g, 0)->fn == NULL);
    CHECK(text_round_trip(g));
    int64_t s[1] = {2};
    ds_tensor *x, *out = NULL;
    CHECK_OK(ds_tensor_new_zeros(DS_FLOAT32, 1, s, &x));
    CHECK_ERR(ds_graph_eval(g, 1, &x, 1, &out, NULL), DS_ERR_VALUE, "callback 'my_hook' has no host function");
    ds_tensor_release(x);
    ds_graph_release(g);
}

typedef struct parse_case {
    const char *text, *error;
} parse_case;

#define G1(body) "graph @g(%x: f32[3], %w: f32[3] weight) {\n" body "}\n"

static const parse_case k_errors[] = {
    {"", "line 1, column 1: expected 'graph', found end of text"},
    {"grph @g() {}", "line 1, column 1: expected 'graph', found 'grph'"},
    {"graph g() {}", "line 1, column 7: expected a graph label (@name), found 'g'"},
    {"graph @g(%x: f32[3] {\n}", "line 1, column 21: expected ')', found '{'"},
    {"graph @g(%x: f33[3]) {}", "line 1, column 14: expected a dtype (f32, i64, bool, ...), found 'f33'"},
    {"graph @g(%x: f32[n]) {}", "line 1, column 18: unknown symbol 'n' (declare a graph's symbols in <...>"},
    {"graph @g<n, n>() {}", "line 1, column 13: symbol 'n' is declared twice"},
    {"graph @g(%x: f32[-2]) {}", "line 1, column 18: a dim is a size >= 0, ?, a symbol or $k"},
    {"graph @g(%x: f32[99999999999999999999]) {}", "line 1, column 18: '99999999999999999999' is not an integer"},
    {"graph @g(%x: f32[1,2,3,4,5,6,7,8,9]) {}", "line 1, column 34: a type has at most 8 dims"},
    {"graph @g(%x: f32[3], %x: f32[3]) {}", "line 1, column 22: %x is defined twice"},
    {G1("  %0 = add(%x, %y)\n  return %0\n"), "line 2, column 16: unknown value %y"},
    {G1("  %0 = frobnicate(%x)\n"), "line 2, column 8: unknown op 'frobnicate'"},
    {G1("  %0 = sum(%x) {axes=[0]}\n"), "line 2, column 17: sum has no attribute 'axes'"},
    {G1("  %0 = sum(%x) {keepdims=true, keepdims=false}\n"), "line 2, column 32: attribute 'keepdims' is given twice"},
    {G1("  %0 = sum(%x) {axis=[0, 1.5]}\n"), "line 2, column 26: '1.5' is not an integer in the int64 range"},
    {G1("  %0 = sum(%x) {axis=@g}\n"), "line 2, column 22: expected an attribute value (None, true, 3, 1.5, [1, 2] or a dtype), found '@g'"},
    {G1("  %0: f32[4] = neg(%x)\n"), "line 2, column 3: %0 is annotated f32[4] but neg gives f32[3]"},
    {G1("  %0: i32[3] = neg(%x)\n"), "line 2, column 3: %0 is annotated i32[3] but neg gives f32[3]"},
    {G1("  %0 = neg(%x)\n  %0 = neg(%x)\n"), "line 3, column 3: %0 is defined twice"},
    {G1("  %0, %1 = neg(%x)\n"), "line 2, column 3: neg gives 1 value, 2 named"},
    {G1("  %c: f32[2] = Const [1.0, 2.0]\n  %0 = matmul(%x, %c) loc(\"m.py\":4:2)\n"), "line 3, column 3: m.py:4:2: matmul:"},
    {G1("  %0 = Const 1.0\n"), "line 2, column 8: Const needs one result with its type"},
    {G1("  %0: f32[3] = Const [1.0, 2.0]\n"), "line 2, column 31: the list has 2 values, the type holds 3"},
    {G1("  %0: f32[1] = Const [1.0, 2.0]\n"), "line 2, column 26: the list has more values than the type holds (1)"},
    {G1("  %0: f32[] = Const [1.0]\n"), "line 2, column 21: a 0-d constant is one value, not a list"},
    {G1("  %0: u8[] = Const 300\n"), "line 2, column 20: 300 is out of range for uint8"},
    {G1("  %0: bool[] = Const 1\n"), "line 2, column 22: expected true or false, found '1'"},
    {G1("  %0: f32[] = Const abc\n"), "line 2, column 21: expected a number, found 'abc'"},
    {G1("  %0: f32[?] = Const []\n"), "line 2, column 3: a constant's shape must be known"},
    {G1("  %0: f32[2] = Const hex\"0000\"\n"), "line 2, column 25: the hex data holds 2 bytes, the type needs 8"},
    {G1("  %0: i16[1] = Const hex\"00zz\"\n"), "line 2, column 25: bad hex digit in constant data"},
    {G1("  %0: f32[1000000, 1000000] = Const []\n"), "line 2, column 37: the constant has more elements than the text holds"},
    {G1("  %0: f32[0, 4294967296, 4294967296] = Const []\n"), "line 2, column 36: a shape with too many elements"},
    {G1("  Print(%x) \"a\n"), "line 2, column 13: unterminated string"},
    {G1("  Print(%x) \"a\\q\"\n"), "line 2, column 15: unknown escape in a string (use \\\\ \\\" \\n \\t \\r or \\xHH)"},
    {G1("  Print(%x) \"a\\x00\"\n"), "line 2, column 13: a string cannot hold \\x00"},
    {G1("  Print(%x)\n"), "line 3, column 1: expected the prefix string, found '}'"},
    {G1("  %t1 = Print(%x) \"a\" !%t0\n  %t2 = Print(%x) \"b\" !%t0\n"), "line 3, column 24: effects out of order: %t0 is not the current state token"},
    {G1("  %0 = neg(%x) !%t0\n"), "line 2, column 17: this node has no effects and takes no state token"},
    {G1("  %t1 = Print(%x) \"a\" !%x\n"), "line 2, column 24: %x is not a state token"},
    {G1("  %0: f32[3], %t1 = neg(%x)\n"), "line 2, column 3: neg gives 1 value, 2 named"},
    {G1("  Assign(%x, %w)\n"), "line 2, column 3: assign: the target must be a weight parameter"},
    {G1("  Assign(%w)\n"), "line 2, column 3: Assign takes two values"},
    {G1("  %0 = Call(%x) @h\n"), "line 2, column 17: unknown graph @h (a graph is defined before the graphs using it)"},
    {G1("  %0 = If(%x) then @g else @g\n"), "line 2, column 20: a graph cannot use itself (@g)"},
    {G1("  %0 = neg(%x) loc(\"f.py\":0)\n"), "line 2, column 27: line or column out of range"},
    {G1("  %0 = neg(%x) ^\n"), "line 2, column 16: unexpected character '^'"},
    {G1("  %0 = neg(%x) \xff\n"), "line 2, column 16: unexpected byte 0xff"},
    {G1("  %0 = neg(%x)\n  return %1\n"), "line 3, column 10: unknown value %1"},
    {G1("  return %x, \n"), "line 3, column 1: expected a value (%name), found '}'"},
    {G1("  return %x %x\n"), "line 2, column 13: expected '}' after return, found '%x'"},
    {"graph @g(%x: f32[3]) {\n  %0 = neg(%x)\n", "line 3, column 1: expected '}' closing the graph, found end of text"},
    {"graph @g(%x: f32[3]) { return %x }\ngraph @g(%x: f32[3]) { return %x }", "line 2, column 7: graph @g is defined twice"},
    {"graph @f(%x: i32[3]) { return %x }\ngraph @g(%x: f32[3]) { %0 = Call(%x) @f return %0 }",
     "line 2, column 24: Call graph 'f' parameter 0 is int32 rank 1, given float32 rank 1"},
    {"graph @f(%x: f32[3]) { }\ngraph @g(%x: f32[3]) { %0 = Call(%x) @f return %0 }", "line 2, column 24: Call graph 'f' has no outputs set"},
};

DS_TEST(parse_errors_say_where) {
    for (size_t i = 0; i < sizeof k_errors / sizeof k_errors[0]; i++) {
        ds_graph *g = NULL;
        ds_status st = ds_graph_parse(k_errors[i].text, &g);
        if (st != DS_ERR_VALUE || !strstr(ds_error_message(), k_errors[i].error)) {
            printf("  case %zu: expected \"%s\", got %d \"%s\"\n", i, k_errors[i].error, (int)st, ds_error_message());
            *ds_failed_ = 1;
        }
        CHECK(g == NULL);
        ds_graph_release(g);
    }
}

/* Nesting deeper than the verifier allows is refused while parsing. */
DS_TEST(parse_refuses_deep_nesting) {
    ds_strbuf sb;
    ds_strbuf_init(&sb);
    ds_strbuf_puts(&sb, "graph @g0(%x: f32[]) { return %x }\n");
    for (int i = 1; i <= 70; i++)
        ds_strbuf_printf(&sb, "graph @g%d(%%x: f32[]) { %%0 = Call(%%x) @g%d return %%0 }\n", i, i - 1);
    char *text = NULL;
    CHECK_OK(ds_strbuf_finish(&sb, &text));
    ds_graph *g = NULL;
    CHECK_ERR(ds_graph_parse(text, &g), DS_ERR_VALUE, "line 66, column 39: subgraphs nested more than 64 deep");
    ds_free(text);
}

/* Every prefix of valid text, and random byte changes, are parsed or refused cleanly, leaking nothing. */
DS_TEST(malformed_text_refused_cleanly) {
    ds_graph *g = sample_kitchen_sink();
    char *text = print_or_null(g);
    CHECK(text != NULL);
    if (!text) return;
    size_t n = strlen(text);
    char *buf = malloc(n + 1);
    int64_t base = ds_alloc_live_blocks();
    int parsed = 0;
    for (size_t len = 0; len < n; len++) {
        memcpy(buf, text, len);
        buf[len] = '\0';
        ds_graph *h = NULL;
        ds_status st = ds_graph_parse(buf, &h);
        CHECK(st == DS_OK || st == DS_ERR_VALUE);
        if (st == DS_OK) { /* cut right after a graph */
            size_t end = len;
            while (end && (buf[end - 1] == '\n' || buf[end - 1] == ' ')) end--;
            CHECK(end && buf[end - 1] == '}');
            parsed++;
            ds_graph_release(h);
        } else CHECK(!strncmp(ds_error_message(), "line ", 5));
    }
    CHECK(parsed > 0);
    uint64_t seed = 0x9e3779b97f4a7c15ull;
    static const char bytes[] = "%@$\"\\(){}[]<>,=:!?#-+.0123456789xet \n\x80";
    for (int it = 0; it < 3000; it++) {
        memcpy(buf, text, n + 1);
        for (int k = 0; k < 1 + it % 3; k++) {
            seed ^= seed << 13, seed ^= seed >> 7, seed ^= seed << 17;
            buf[seed % n] = bytes[(seed >> 32) % (sizeof bytes - 1)];
        }
        ds_graph *h = NULL;
        ds_status st = ds_graph_parse(buf, &h);
        CHECK(st == DS_OK || st == DS_ERR_VALUE);
        if (st == DS_OK) {
            CHECK_OK(ds_graph_verify(h));
            char *again = print_or_null(h);
            CHECK(again != NULL);
            ds_free(again);
            ds_graph_release(h);
        }
    }
    CHECK(ds_alloc_live_blocks() == base);
    free(buf);
    ds_free(text);
    ds_graph_release(g);
}

DS_TEST(alloc_failure_sweep_print) {
    ds_graph *g = sample_kitchen_sink();
    CHECK(g != NULL);
    char *want = print_or_null(g);
    for (int64_t k = 1; g && want; k++) {
        int64_t base = ds_alloc_live_blocks();
        char *s = NULL;
        ds_alloc_debug_begin(k);
        ds_status st = ds_graph_print(g, &s);
        int64_t used = ds_alloc_debug_count();
        ds_alloc_debug_begin(0);
        CHECK(st == DS_OK || st == DS_ERR_NOMEM);
        CHECK(st != DS_OK || !strcmp(s, want));
        ds_free(s);
        CHECK(ds_alloc_live_blocks() == base);
        if (st == DS_OK && used < k) break;
    }
    ds_free(want);
    ds_graph_release(g);
}

DS_TEST(alloc_failure_sweep_parse) {
    ds_graph *g = sample_kitchen_sink();
    char *text = g ? print_or_null(g) : NULL;
    CHECK(text != NULL);
    for (int64_t k = 1; text; k++) {
        int64_t base = ds_alloc_live_blocks();
        ds_graph *h = NULL;
        ds_alloc_debug_begin(k);
        ds_status st = ds_graph_parse(text, &h);
        int64_t used = ds_alloc_debug_count();
        ds_alloc_debug_begin(0);
        CHECK(st == DS_OK || st == DS_ERR_NOMEM);
        if (st == DS_OK) {
            char *again = print_or_null(h);
            CHECK(again && !strcmp(again, text));
            ds_free(again);
        }
        ds_graph_release(h);
        CHECK(ds_alloc_live_blocks() == base);
        if (st == DS_OK && used < k) break;
    }
    ds_free(text);
    ds_graph_release(g);
}

DS_TEST_MAIN()
