/* The IR text printer (ds_graph_print), and the pieces it shares with the parser and the file format.
 *
 * The text format (docs/ir.md has the full grammar). ds_graph_parse reads everything written here, and
 * print(parse(print(g))) == print(g) byte for byte:
 *
 *   graph @body<n>(%i: i64[], %acc: f32[n] weight, %arg.2: f32[?] "a name that is no identifier") {
 *     %0: i64[] = Const 1
 *     %1: i64[] = add(%i, %0) loc("model.py":12:5)
 *     %2: f32[n] = sum(%acc) {axis=[0], keepdims=true}
 *     %t1 = Print(%1, %2) "i, acc =" !%t0
 *     return %1, %2 !%t1
 *   }
 *
 *   graph @main(%x: f32[3]) { ... %4: f32[3] = Call(%x) @body ... }
 *
 * - Every graph reachable from the printed one is written once, before the graphs that use it, and
 *   referred to by its label (@name); the printed graph comes last. A label is the graph's name when that
 *   is an identifier ([A-Za-z_][A-Za-z0-9_]*) not used by an earlier graph; otherwise it is
 *   "<name with other characters as _>.<k>" and the name follows as a string.
 * - <a, b> declares the graph's symbolic dims in index order. A dim is a number, ? (unknown), a symbol
 *   (identifier or string), or $k: symbol index k that this graph does not name (a callee's symbol seen
 *   through a Call's result type).
 * - Parameters are %name when the name is an identifier other than t<digits> and unique among the
 *   parameters, else %arg.<i> followed by the name as a string; `weight` marks trainable ones.
 *   Node results are %0, %1, ... in order; state tokens are %t0 (the entry token), %t1, ...
 * - A node: [results =] body [!%tK] [loc("file":line[:col])]. Results carry their types; a node with
 *   effects also names the token it produces (%tK, last) and the one it consumes (!%tK). Bodies:
 *     Const <value> | Const [v, ...] | Const hex"<little-endian bytes>"   (constants)
 *     <op>(args) {attr=value, ...}       every attribute in schema order: None, true/false, 3, 1.5,
 *                                        [1, 2], f32; an op without attributes has no braces
 *     If(cond, args) then @g else @h | While(args) cond @g body @h | Call(args) @g
 *     Print(args) "prefix" | Assign(%param, %value) | Callback(args) "name"
 *   Constants of up to 16 elements whose values all have an exact decimal form are written as values
 *   (floats as the shortest decimal that reads back to the same bits), others as hex bytes.
 * - return [values] [!%tK]: the graph's outputs, and its final token when it has effects. A graph
 *   whose outputs are not set has no return line.
 * - Strings are in double quotes with \\ \" \n \t \r \xHH escapes; # starts a comment. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "base/status.h"
#include "base/strbuf.h"
#include "ir/irio.h"
#include "tensor/dtype.h"

#define INLINE_MAX 16 /* constants with at most this many elements may be written as values */

/* ---------------------------------------------------------------- shared helpers */
static const char *const k_short[DS_DTYPE_COUNT] = {"bool", "i8", "u8", "i16", "i32", "i64", "f16", "bf16", "f32", "f64"};

const char *ds_irio_dtype_short(ds_dtype dt) { return (unsigned)dt < DS_DTYPE_COUNT ? k_short[dt] : "?"; }

bool ds_irio_dtype_parse(const char *s, size_t n, ds_dtype *out) {
    for (int i = 0; i < DS_DTYPE_COUNT; i++) {
        const char *names[2] = {k_short[i], ds_dtype_name((ds_dtype)i)};
        for (int k = 0; k < 2; k++)
            if (strlen(names[k]) == n && memcmp(names[k], s, n) == 0) {
                *out = (ds_dtype)i;
                return true;
            }
    }
    return false;
}

bool ds_irio_float_from_text(ds_dtype dt, const char *s, void *dst) {
    char *end;
    if (!(*s == '-' || *s == '+' || *s == '.' || (*s >= '0' && *s <= '9') || *s == 'i' || *s == 'n')) return false;
    if (dt == DS_FLOAT64) {
        double v = strtod(s, &end);
        if (*end) return false;
        memcpy(dst, &v, sizeof v);
        return true;
    }
    float f = strtof(s, &end);
    if (*end) return false;
    if (dt == DS_FLOAT32) memcpy(dst, &f, sizeof f);
    else if (dt == DS_FLOAT16) {
        ds_half h = ds_f32_to_half(f);
        memcpy(dst, &h, sizeof h);
    } else if (dt == DS_BFLOAT16) {
        ds_bf16 b = ds_f32_to_bf16(f);
        memcpy(dst, &b, sizeof b);
    } else return false;
    return true;
}

ds_status ds_irio_set_loc(ds_graph *g, const char *file, int line, int col) {
    if (!file) g->cur_loc.file = NULL;
    else if (!g->cur_loc.file || strcmp(file, g->cur_loc.file) != 0) {
        const char *copy = ds_arena_strdup(&g->arena, file);
        if (!copy) return DS_ERR_NOMEM;
        g->cur_loc.file = copy;
    }
    g->cur_loc.line = line;
    g->cur_loc.col = col;
    return DS_OK;
}

bool ds_irio_little_endian(void) {
    const uint16_t one = 1;
    unsigned char b;
    memcpy(&b, &one, 1);
    return b == 1;
}

void ds_irio_copy_elems(void *dst, const void *src, size_t n, size_t size, bool swap) {
    if (!n) return;
    if (!swap || size == 1) {
        memcpy(dst, src, n * size);
        return;
    }
    unsigned char *d = dst;
    const unsigned char *s = src;
    for (size_t i = 0; i < n; i++)
        for (size_t b = 0; b < size; b++) d[i * size + b] = s[i * size + size - 1 - b];
}

bool ds_irio_dims_fit(const ds_meta *m) {
    int64_t prod = 1;
    for (int d = 0; d < m->ndim; d++) {
        int64_t x = m->shape[d] > 1 ? m->shape[d] : 1;
        if (prod > INT64_MAX / 16 / x) return false;
        prod *= x;
    }
    return true;
}

static bool contains(const ds_ptrvec *v, const void *p) {
    for (int i = 0; i < v->n; i++)
        if (v->items[i] == p) return true;
    return false;
}

ds_status ds_irio_graph_order(const ds_graph *root, ds_ptrvec *out) {
    typedef struct frame {
        const ds_graph *g;
        int node, sub;
    } frame;
    ds_ptrvec stack = {0}; /* graphs being visited (a path from root) */
    frame *frames = NULL;
    int cap = 0;
    ds_status st = DS_OK;
    const ds_graph *next = root;
    while (next || stack.n) {
        if (next) { /* descend */
            if (contains(&stack, next)) {
                st = ds_errorf(DS_ERR_VALUE, "graph '%s' uses itself as a subgraph", next->name);
                goto fail;
            }
            if (stack.n == cap) {
                int ncap = cap ? cap * 2 : 16;
                frame *nf = ds_malloc(sizeof(frame) * (size_t)ncap);
                if (!nf) {
                    st = DS_ERR_NOMEM;
                    goto fail;
                }
                if (frames) memcpy(nf, frames, sizeof(frame) * (size_t)stack.n);
                ds_free(frames);
                frames = nf;
                cap = ncap;
            }
            frames[stack.n] = (frame){next, 0, 0};
            DS_TRY(ds_ptrvec_push(&stack, (void *)next));
            next = NULL;
        }
        frame *f = &frames[stack.n - 1];
        while (!next && f->node < f->g->nodes.n) {
            const ds_node *n = f->g->nodes.items[f->node];
            if (f->sub < n->n_sub) {
                const ds_graph *s = n->sub[f->sub++];
                if (s && !contains(out, s)) next = s;
            } else {
                f->node++;
                f->sub = 0;
            }
        }
        if (!next) { /* all subgraphs listed: list this one */
            DS_TRY(ds_ptrvec_push(out, (void *)f->g));
            stack.n--;
        }
    }
fail:
    ds_ptrvec_deinit(&stack);
    ds_free(frames);
    return st;
}

/* ---------------------------------------------------------------- text pieces */
static bool is_alpha(int c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; }
static bool is_digit(int c) { return c >= '0' && c <= '9'; }

static bool is_ident(const char *s) {
    if (!s || !is_alpha((unsigned char)*s)) return false;
    for (s++; *s; s++)
        if (!is_alpha((unsigned char)*s) && !is_digit((unsigned char)*s)) return false;
    return true;
}

static void put_str(ds_strbuf *sb, const char *s) {
    ds_strbuf_putc(sb, '"');
    for (; s && *s; s++) {
        unsigned char c = (unsigned char)*s;
        switch (c) {
        case '"': ds_strbuf_puts(sb, "\\\""); break;
        case '\\': ds_strbuf_puts(sb, "\\\\"); break;
        case '\n': ds_strbuf_puts(sb, "\\n"); break;
        case '\t': ds_strbuf_puts(sb, "\\t"); break;
        case '\r': ds_strbuf_puts(sb, "\\r"); break;
        default:
            if (c < 0x20 || c == 0x7f) ds_strbuf_printf(sb, "\\x%02x", c);
            else ds_strbuf_putc(sb, (char)c);
        }
    }
    ds_strbuf_putc(sb, '"');
}

void ds_irio_put_str(ds_strbuf *sb, const char *s) { put_str(sb, s); }

/* An identifier as is, anything else as a string. */
static void put_name(ds_strbuf *sb, const char *s) {
    if (is_ident(s)) ds_strbuf_puts(sb, s);
    else put_str(sb, s);
}

/* The shortest decimal text of the float element at p that ds_irio_float_from_text reads back to the
 * same bits; false when there is none (a NaN with a payload), buf then holds "nan" or "-nan". */
static bool float_text(ds_dtype dt, const void *p, char *buf, size_t n) {
    size_t size = ds_dtype_size(dt);
    union {
        double d;
        unsigned char b[8];
    } in, back;
    memcpy(in.b, p, size);
    double v = ds_dtype_load_double(dt, in.b);
    if (isnan(v)) snprintf(buf, n, "%s", signbit(v) ? "-nan" : "nan");
    else if (isinf(v)) snprintf(buf, n, "%s", v < 0 ? "-inf" : "inf");
    else {
        for (int prec = 1; prec <= 17; prec++) {
            snprintf(buf, n, "%.*g", prec, v);
            if (ds_irio_float_from_text(dt, buf, back.b) && memcmp(back.b, in.b, size) == 0) break;
        }
        if (!strpbrk(buf, ".e")) strncat(buf, ".0", n - strlen(buf) - 1);
    }
    return ds_irio_float_from_text(dt, buf, back.b) && memcmp(back.b, in.b, size) == 0;
}

/* The exact text of one constant element; false if it has none. */
static bool elem_text(ds_dtype dt, const unsigned char *p, char *buf, size_t n) {
    if (ds_dtype_is_float(dt)) return float_text(dt, p, buf, n);
    union {
        int64_t i;
        unsigned char b[8];
    } u;
    memcpy(u.b, p, ds_dtype_size(dt));
    if (dt == DS_BOOL) {
        if (u.b[0] > 1) return false;
        snprintf(buf, n, "%s", u.b[0] ? "true" : "false");
        return true;
    }
    snprintf(buf, n, "%lld", (long long)ds_dtype_load_int(dt, u.b));
    return true;
}

bool ds_irio_put_const_values(ds_strbuf *sb, const ds_tensor *t, int max_elems) {
    ds_dtype dt = t->dtype;
    size_t size = ds_dtype_size(dt), n = (size_t)t->numel;
    const unsigned char *data = (const unsigned char *)t->data;
    char text[INLINE_MAX][48];
    bool as_values = t->numel >= 0 && n <= INLINE_MAX && n <= (size_t)(max_elems > 0 ? max_elems : 0);
    for (size_t i = 0; i < n && as_values; i++) as_values = elem_text(dt, data + i * size, text[i], sizeof text[i]);
    if (!as_values) return false;
    if (t->ndim == 0) {
        ds_strbuf_puts(sb, text[0]);
        return true;
    }
    ds_strbuf_putc(sb, '[');
    for (size_t i = 0; i < n; i++) {
        if (i) ds_strbuf_puts(sb, ", ");
        ds_strbuf_puts(sb, text[i]);
    }
    ds_strbuf_putc(sb, ']');
    return true;
}

static void put_const(ds_strbuf *sb, const ds_tensor *t) {
    if (ds_irio_put_const_values(sb, t, INLINE_MAX)) return;
    ds_dtype dt = t->dtype;
    size_t size = ds_dtype_size(dt), n = (size_t)t->numel;
    const unsigned char *data = (const unsigned char *)t->data;
    static const char hex[] = "0123456789abcdef";
    bool swap = !ds_irio_little_endian();
    ds_strbuf_puts(sb, "hex\"");
    if (ds_strbuf_reserve(sb, 2 * n * size + 1)) return;
    char *w = sb->data + sb->len;
    for (size_t i = 0; i < n; i++)
        for (size_t b = 0; b < size; b++) {
            unsigned char c = data[i * size + (swap ? size - 1 - b : b)];
            *w++ = hex[c >> 4];
            *w++ = hex[c & 15];
        }
    sb->len += 2 * n * size;
    sb->data[sb->len] = '\0';
    ds_strbuf_putc(sb, '"');
}

void ds_irio_put_type(ds_strbuf *sb, const ds_graph *g, const ds_meta *m) {
    ds_strbuf_puts(sb, ds_irio_dtype_short(m->dtype));
    ds_strbuf_putc(sb, '[');
    for (int d = 0; d < m->ndim && d < DS_MAX_DIMS; d++) {
        int64_t dim = m->shape[d];
        if (d) ds_strbuf_puts(sb, ", ");
        if (dim >= 0) ds_strbuf_printf(sb, "%lld", (long long)dim);
        else if (dim == DS_DIM_UNKNOWN) ds_strbuf_putc(sb, '?');
        else {
            int64_t k = -2 - dim;
            if (k < g->symbols.n) put_name(sb, g->symbols.items[k]);
            else ds_strbuf_printf(sb, "$%lld", (long long)k);
        }
    }
    ds_strbuf_putc(sb, ']');
}

void ds_irio_put_attrs(ds_strbuf *sb, const ds_node *n) {
    const ds_op_info *info = ds_op_get_info(n->op);
    if (!info || info->n_attrs == 0 || !n->attrs) return;
    ds_strbuf_putc(sb, '{');
    for (int i = 0; i < info->n_attrs; i++) {
        const ds_attr *a = &n->attrs[i];
        char buf[48];
        ds_strbuf_printf(sb, "%s%s=", i ? ", " : "", ds_op_attr_name(n->op, i));
        switch (a->kind) {
        case DS_ATTR_BOOL: ds_strbuf_puts(sb, a->v.b ? "true" : "false"); break;
        case DS_ATTR_INT: ds_strbuf_printf(sb, "%lld", (long long)a->v.i); break;
        case DS_ATTR_FLOAT:
            float_text(DS_FLOAT64, &a->v.f, buf, sizeof buf);
            ds_strbuf_puts(sb, buf);
            break;
        case DS_ATTR_INTS:
            ds_strbuf_putc(sb, '[');
            for (int64_t k = 0; k < a->n; k++) ds_strbuf_printf(sb, "%s%lld", k ? ", " : "", (long long)a->v.ints[k]);
            ds_strbuf_putc(sb, ']');
            break;
        case DS_ATTR_DTYPE: ds_strbuf_puts(sb, ds_irio_dtype_short(a->v.dtype)); break;
        default: ds_strbuf_puts(sb, "None"); break;
        }
    }
    ds_strbuf_putc(sb, '}');
}

/* ---------------------------------------------------------------- graphs */
typedef struct vname {
    const ds_value *v; /* the value named (guards against values of other graphs) */
    char kind;         /* 'p' parameter, 'd' node result, 't' token */
    int num;
} vname;

typedef struct printer {
    ds_strbuf sb;
    ds_ptrvec order;       /* graphs, callees first */
    char **labels;         /* per graph in order */
    bool *label_is_name;   /* else the name is printed after the label */
    const ds_graph *g;     /* the graph being printed */
    vname *names;          /* by value id */
    bool *param_named;     /* parameter i is referred to by its name */
} printer;

static void name_value(printer *p, const ds_value *v, char kind, int num) {
    if (v && v->id >= 0 && v->id < p->g->n_values) p->names[v->id] = (vname){v, kind, num};
}

static void put_ref(printer *p, const ds_value *v) {
    ds_strbuf *sb = &p->sb;
    const vname *nm = v && v->id >= 0 && v->id < p->g->n_values ? &p->names[v->id] : NULL;
    if (!nm || nm->v != v) ds_strbuf_puts(sb, "%?"); /* not a value of this graph (an invalid graph) */
    else if (nm->kind == 'p' && p->param_named[nm->num]) ds_strbuf_printf(sb, "%%%s", v->name);
    else if (nm->kind == 'p') ds_strbuf_printf(sb, "%%arg.%d", nm->num);
    else ds_strbuf_printf(sb, nm->kind == 't' ? "%%t%d" : "%%%d", nm->num);
}

static void put_graph_ref(printer *p, const ds_graph *s) {
    for (int i = 0; i < p->order.n; i++)
        if (p->order.items[i] == s) {
            ds_strbuf_printf(&p->sb, "@%s", p->labels[i]);
            return;
        }
    ds_strbuf_puts(&p->sb, "@?");
}

static void put_args(printer *p, const ds_node *n) {
    ds_strbuf_putc(&p->sb, '(');
    int k = 0;
    for (int i = 0; i < n->n_in; i++) {
        if (n->in[i] && n->in[i]->kind == DS_VALUE_TOKEN) continue;
        if (k++) ds_strbuf_puts(&p->sb, ", ");
        put_ref(p, n->in[i]);
    }
    ds_strbuf_putc(&p->sb, ')');
}

static bool token_like(const char *s) { /* t<digits>: the names of state tokens */
    if (s[0] != 't' || !s[1]) return false;
    for (s++; *s; s++)
        if (!is_digit((unsigned char)*s)) return false;
    return true;
}

static void put_node(printer *p, const ds_node *n, int *ndata, int *ntok) {
    ds_strbuf *sb = &p->sb;
    ds_strbuf_puts(sb, "  ");
    int shown = 0;
    for (int k = 0; k < n->n_out; k++) {
        const ds_value *v = n->out[k];
        if (!v) continue;
        bool tok = v->kind == DS_VALUE_TOKEN;
        name_value(p, v, tok ? 't' : 'd', tok ? ++*ntok : (*ndata)++);
        if (shown++) ds_strbuf_puts(sb, ", ");
        put_ref(p, v);
        if (!tok) {
            ds_strbuf_puts(sb, ": ");
            ds_irio_put_type(sb, p->g, &v->type);
        }
    }
    if (shown) ds_strbuf_puts(sb, " = ");
    switch (n->kind) {
    case DS_NODE_CONST:
        ds_strbuf_puts(sb, "Const ");
        if (n->constant) put_const(sb, n->constant);
        break;
    case DS_NODE_OP: {
        const ds_op_info *info = ds_op_get_info(n->op);
        ds_strbuf_puts(sb, info ? info->name : "?");
        put_args(p, n);
        if (info && info->n_attrs && n->attrs) ds_strbuf_putc(sb, ' ');
        ds_irio_put_attrs(sb, n);
        break;
    }
    case DS_NODE_IF:
    case DS_NODE_WHILE:
    case DS_NODE_CALL: {
        static const char *const words[3][3] = {{"If", " then ", " else "}, {"While", " cond ", " body "}, {"Call", " ", ""}};
        const char *const *w = words[n->kind - DS_NODE_IF];
        ds_strbuf_puts(sb, w[0]);
        put_args(p, n);
        for (int k = 0; k < n->n_sub; k++) {
            ds_strbuf_puts(sb, w[1 + (k & 1)]);
            put_graph_ref(p, n->sub[k]);
        }
        break;
    }
    case DS_NODE_PRINT:
    case DS_NODE_CALLBACK:
        ds_strbuf_puts(sb, n->kind == DS_NODE_PRINT ? "Print" : "Callback");
        put_args(p, n);
        ds_strbuf_putc(sb, ' ');
        put_str(sb, n->text);
        break;
    case DS_NODE_ASSIGN:
        ds_strbuf_puts(sb, "Assign");
        put_args(p, n);
        break;
    default: ds_strbuf_printf(sb, "?kind%d", (int)n->kind); break;
    }
    for (int i = 0; i < n->n_in; i++)
        if (n->in[i] && n->in[i]->kind == DS_VALUE_TOKEN) {
            ds_strbuf_puts(sb, " !");
            put_ref(p, n->in[i]);
        }
    if (n->loc.line > 0) {
        ds_strbuf_puts(sb, " loc(");
        if (n->loc.file) {
            put_str(sb, n->loc.file);
            ds_strbuf_putc(sb, ':');
        }
        ds_strbuf_printf(sb, "%d", n->loc.line);
        if (n->loc.col) ds_strbuf_printf(sb, ":%d", n->loc.col);
        ds_strbuf_putc(sb, ')');
    }
    ds_strbuf_putc(sb, '\n');
}

bool ds_irio_param_named(const ds_graph *g, int i) {
    const ds_value *v = g->params.items[i];
    bool named = v->name && is_ident(v->name) && !token_like(v->name);
    for (int k = 0; k < g->params.n && named; k++) {
        const ds_value *o = g->params.items[k];
        named = k == i || !o->name || strcmp(o->name, v->name) != 0;
    }
    return named;
}

static ds_status print_graph(printer *p, int gi) {
    const ds_graph *g = p->order.items[gi];
    ds_strbuf *sb = &p->sb;
    p->g = g;
    p->names = ds_calloc(sizeof(vname) * (size_t)(g->n_values + 1));
    p->param_named = ds_calloc((size_t)g->params.n + 1);
    if (!p->names || !p->param_named) return DS_ERR_NOMEM;
    ds_strbuf_printf(sb, "graph @%s", p->labels[gi]);
    if (!p->label_is_name[gi]) {
        ds_strbuf_putc(sb, ' ');
        put_str(sb, g->name);
    }
    if (g->symbols.n) {
        ds_strbuf_putc(sb, '<');
        for (int i = 0; i < g->symbols.n; i++) {
            if (i) ds_strbuf_puts(sb, ", ");
            put_name(sb, g->symbols.items[i]);
        }
        ds_strbuf_putc(sb, '>');
    }
    ds_strbuf_putc(sb, '(');
    for (int i = 0; i < g->params.n; i++) {
        const ds_value *v = g->params.items[i];
        bool named = ds_irio_param_named(g, i);
        p->param_named[i] = named;
        name_value(p, v, 'p', i);
        if (i) ds_strbuf_puts(sb, ", ");
        put_ref(p, v);
        ds_strbuf_puts(sb, ": ");
        ds_irio_put_type(sb, g, &v->type);
        if (v->weight) ds_strbuf_puts(sb, " weight");
        if (!named) {
            ds_strbuf_putc(sb, ' ');
            put_str(sb, v->name ? v->name : "");
        }
    }
    ds_strbuf_puts(sb, ") {\n");
    name_value(p, g->entry_token, 't', 0);
    int ndata = 0, ntok = 0;
    for (int i = 0; i < g->nodes.n; i++) put_node(p, g->nodes.items[i], &ndata, &ntok);
    if (g->closed) {
        ds_strbuf_puts(sb, "  return");
        for (int i = 0; i < g->outputs.n; i++) {
            ds_strbuf_puts(sb, i ? ", " : " ");
            put_ref(p, g->outputs.items[i]);
        }
        if (g->entry_token) {
            ds_strbuf_puts(sb, " !");
            put_ref(p, g->cur_token);
        }
        ds_strbuf_putc(sb, '\n');
    }
    ds_strbuf_puts(sb, "}\n");
    ds_free(p->names);
    ds_free(p->param_named);
    p->names = NULL;
    p->param_named = NULL;
    return sb->status;
}

/* Labels: the name if it is an identifier not taken yet, else "<sanitized name>.<k>". */
ds_status ds_irio_graph_labels(const ds_ptrvec *order, char ***labels_out, bool **is_name_out) {
    int n = order->n;
    char **labels = ds_calloc(sizeof(char *) * (size_t)(n + 1));
    bool *is_name = ds_calloc((size_t)n + 1);
    *labels_out = labels;
    *is_name_out = is_name;
    if (!labels || !is_name) return DS_ERR_NOMEM;
    for (int i = 0; i < n; i++) {
        const char *name = ((const ds_graph *)order->items[i])->name;
        bool free_name = is_ident(name);
        for (int k = 0; k < i && free_name; k++) free_name = strcmp(labels[k], name) != 0;
        if (free_name) {
            labels[i] = ds_strdup(name);
            is_name[i] = true;
        } else {
            char buf[64];
            size_t len = 0;
            for (const char *s = name; *s && len < 32; s++, len++)
                buf[len] = is_alpha((unsigned char)*s) || (len && is_digit((unsigned char)*s)) ? *s : '_';
            if (!len) buf[len++] = 'g';
            snprintf(buf + len, sizeof buf - len, ".%d", i);
            labels[i] = ds_strdup(buf);
        }
        if (!labels[i]) return DS_ERR_NOMEM;
    }
    return DS_OK;
}

ds_status ds_graph_print(const ds_graph *g, char **out) {
    if (!g || !out) return ds_errorf(DS_ERR_VALUE, "ds_graph_print: NULL argument");
    printer p = {0};
    ds_strbuf_init(&p.sb);
    ds_status st = ds_irio_graph_order(g, &p.order);
    if (!st) st = ds_irio_graph_labels(&p.order, &p.labels, &p.label_is_name);
    for (int i = 0; i < p.order.n && !st; i++) {
        if (i) ds_strbuf_putc(&p.sb, '\n');
        st = print_graph(&p, i);
    }
    if (!st) st = ds_strbuf_finish(&p.sb, out);
    ds_strbuf_deinit(&p.sb);
    for (int i = 0; p.labels && i < p.order.n; i++) ds_free(p.labels[i]);
    ds_free(p.labels);
    ds_free(p.label_is_name);
    ds_free(p.names);
    ds_free(p.param_named);
    ds_ptrvec_deinit(&p.order);
    return st;
}
