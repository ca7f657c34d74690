/* The IR text parser: ds_graph_parse reads the format ds_graph_print writes (print.c, docs/ir.md).
 *
 * Every graph is rebuilt through the builder, so op inference and the builder's checks apply, and a
 * type annotation that disagrees with what the builder infers is an error naming the value. Errors are
 * DS_ERR_VALUE (DS_ERR_NOMEM when memory runs out) with "line L, column C: " in front. The parser is a
 * single pass over a flat grammar (no recursion), so malformed text cannot exhaust the stack.
 *
 * Beyond what the printer writes, it accepts: any order and any subset of an op's attributes (the rest
 * take their defaults), results without types on op/If/While/Call nodes (inferred), effect tokens left
 * out (the builder threads them anyway), any %names made of [A-Za-z0-9_.], long dtype names
 * (float32), and # comments. Callback nodes are created without a host function (fn == NULL); running
 * one fails with an error saying the callback is not bound. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "base/status.h"
#include "base/strbuf.h"
#include "ir/irio.h"
#include "tensor/dtype.h"

typedef enum tkind { T_EOF, T_PUNCT, T_VAL, T_GRAPH, T_IDENT, T_NUM, T_STR, T_SYMIDX } tkind;

typedef struct token {
    tkind kind;
    const char *s; /* T_VAL, T_GRAPH, T_SYMIDX: after the sigil; T_STR: between the quotes, undecoded */
    size_t n;
    int line, col;
} token;

/* ---------------------------------------------------------------- a name -> pointer hash map */
typedef struct entry {
    const char *s; /* a slice of the text */
    size_t n;
    void *v;
} entry;

typedef struct smap {
    entry *e;
    size_t cap, n;
} smap;

static size_t hash(const char *s, size_t n) {
    size_t h = 1469598103934665603u;
    for (size_t i = 0; i < n; i++) h = (h ^ (unsigned char)s[i]) * 1099511628211u;
    return h;
}

static void *smap_get(const smap *m, const char *s, size_t n) {
    if (!m->cap) return NULL;
    for (size_t i = hash(s, n) & (m->cap - 1);; i = (i + 1) & (m->cap - 1)) {
        const entry *e = &m->e[i];
        if (!e->s) return NULL;
        if (e->n == n && memcmp(e->s, s, n) == 0) return e->v;
    }
}

static ds_status smap_put(smap *m, const char *s, size_t n, void *v) { /* s must not be present */
    if (2 * (m->n + 1) > m->cap) {
        size_t cap = m->cap ? 2 * m->cap : 64;
        entry *e = ds_calloc(sizeof(entry) * cap);
        if (!e) return DS_ERR_NOMEM;
        for (size_t k = 0; k < m->cap; k++) {
            if (!m->e[k].s) continue;
            size_t i = hash(m->e[k].s, m->e[k].n) & (cap - 1);
            while (e[i].s) i = (i + 1) & (cap - 1);
            e[i] = m->e[k];
        }
        ds_free(m->e);
        m->e = e;
        m->cap = cap;
    }
    size_t i = hash(s, n) & (m->cap - 1);
    while (m->e[i].s) i = (i + 1) & (m->cap - 1);
    m->e[i] = (entry){s, n, v};
    m->n++;
    return DS_OK;
}

static void smap_clear(smap *m) {
    if (m->cap) memset(m->e, 0, sizeof(entry) * m->cap);
    m->n = 0;
}

/* ---------------------------------------------------------------- the parser and its lexer */
typedef struct parser {
    const char *p, *end, *line_start;
    int line;
    token t;                    /* the current token */
    ds_strbuf name, text, file; /* decoded strings: names (short-lived), node text, loc file */
    ds_ptrvec graphs;           /* parsed graphs (owned references) in text order */
    int *depth;                 /* per graph: how deep its subgraphs nest */
    smap labels;                /* graph label -> ordinal + 1 */
    ds_graph *g;                /* the graph being parsed */
    int g_depth;
    smap vals;                  /* value name -> ds_value* in g */
    ds_value **args;
    int n_args, cap_args;
} parser;

static bool is_alpha(int c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; }
static bool is_digit(int c) { return c >= '0' && c <= '9'; }
static bool is_hex(int c) { return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }
static int hex_val(int c) { return is_digit(c) ? c - '0' : (c | 32) - 'a' + 10; }

static ds_status perr(const token *at, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
static ds_status perr(const token *at, const char *fmt, ...) {
    char msg[768];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return ds_errorf(DS_ERR_VALUE, "line %d, column %d: %s", at->line, at->col, msg);
}

static const char *desc(const token *t, char *buf, size_t n) {
    int len = t->n > 24 ? 24 : (int)t->n;
    const char *more = t->n > 24 ? "..." : "";
    switch (t->kind) {
    case T_EOF: return "end of text";
    case T_STR: return "a string";
    case T_VAL: snprintf(buf, n, "'%%%.*s%s'", len, t->s, more); break;
    case T_GRAPH: snprintf(buf, n, "'@%.*s%s'", len, t->s, more); break;
    case T_SYMIDX: snprintf(buf, n, "'$%.*s%s'", len, t->s, more); break;
    default: snprintf(buf, n, "'%.*s%s'", len, t->s, more); break;
    }
    return buf;
}

static ds_status expected(parser *p, const char *what) {
    char d[48];
    return perr(&p->t, "expected %s, found %s", what, desc(&p->t, d, sizeof d));
}

static bool name_char(int c) { return is_alpha(c) || is_digit(c) || c == '.'; }

static ds_status next(parser *p) {
    const char *s = p->p;
    for (;;) {
        if (*s == '\n') p->line_start = ++s, p->line++;
        else if (*s == ' ' || *s == '\t' || *s == '\r') s++;
        else if (*s == '#')
            while (*s && *s != '\n') s++;
        else break;
    }
    token t = {T_EOF, s, 0, p->line, (int)(s - p->line_start) + 1};
    unsigned char c = (unsigned char)*s;
    if (!c) {
    } else if (c == '%' || c == '@' || c == '$') {
        const char *b = ++s;
        while (c == '$' ? is_digit((unsigned char)*s) : name_char((unsigned char)*s)) s++;
        if (s == b) return perr(&t, c == '$' ? "expected a symbol index after '$'" : "expected a name after '%c'", c);
        t.kind = c == '%' ? T_VAL : c == '@' ? T_GRAPH : T_SYMIDX;
        t.s = b;
        t.n = (size_t)(s - b);
    } else if (c == '"') {
        const char *b = ++s;
        while (*s != '"') {
            if (!*s || *s == '\n') return perr(&t, "unterminated string");
            if (*s++ != '\\') continue;
            if (*s == 'x' && is_hex((unsigned char)s[1]) && is_hex((unsigned char)s[2])) s += 3;
            else if (*s && strchr("\\\"ntr", *s)) s++;
            else {
                token at = t;
                at.col = (int)(s - p->line_start);
                return perr(&at, "unknown escape in a string (use \\\\ \\\" \\n \\t \\r or \\xHH)");
            }
        }
        t.kind = T_STR;
        t.s = b;
        t.n = (size_t)(s++ - b);
    } else if (is_alpha(c)) {
        while (is_alpha((unsigned char)*s) || is_digit((unsigned char)*s)) s++;
        t.kind = T_IDENT;
        t.n = (size_t)(s - t.s);
    } else if (is_digit(c) || (c == '.' && is_digit((unsigned char)s[1])) ||
               ((c == '-' || c == '+') && (is_digit((unsigned char)s[1]) || (s[1] && strchr(".in", s[1]))))) {
        for (s++; name_char((unsigned char)*s) || ((*s == '+' || *s == '-') && strchr("eEpP", s[-1])); s++) {
        }
        t.kind = T_NUM;
        t.n = (size_t)(s - t.s);
    } else if (strchr("(){}[]<>,=:!?", c)) {
        t.kind = T_PUNCT;
        t.n = 1;
        s++;
    } else if (c >= 0x20 && c < 0x7f) return perr(&t, "unexpected character '%c'", c);
    else return perr(&t, "unexpected byte 0x%02x", c);
    p->t = t;
    p->p = s;
    return DS_OK;
}

static bool is_punct(const token *t, char c) { return t->kind == T_PUNCT && t->s[0] == c; }
static bool is_word(const token *t, const char *w) {
    return t->kind == T_IDENT && strlen(w) == t->n && memcmp(t->s, w, t->n) == 0;
}

static ds_status expect_punct(parser *p, char c) {
    if (!is_punct(&p->t, c)) {
        char what[8] = {'\'', c, '\'', 0};
        return expected(p, what);
    }
    return next(p);
}

/* Decodes the string token t into sb (NUL-terminated, replacing its contents). */
static ds_status decode(const token *t, ds_strbuf *sb) {
    ds_strbuf_truncate(sb, 0);
    ds_strbuf_reserve(sb, t->n);
    for (size_t i = 0; i < t->n; i++) {
        char c = t->s[i];
        if (c == '\\') {
            c = t->s[++i];
            if (c == 'x') {
                c = (char)(hex_val((unsigned char)t->s[i + 1]) * 16 + hex_val((unsigned char)t->s[i + 2]));
                i += 2;
                if (!c) return perr(t, "a string cannot hold \\x00");
            } else c = c == 'n' ? '\n' : c == 't' ? '\t' : c == 'r' ? '\r' : c;
        }
        ds_strbuf_putc(sb, c);
    }
    return sb->status;
}

/* The text of an identifier, number or string token, NUL-terminated, in p->name. */
static ds_status token_text(parser *p, const token *t) {
    if (t->kind == T_STR) return decode(t, &p->name);
    ds_strbuf_truncate(&p->name, 0);
    ds_strbuf_reserve(&p->name, 0);
    return ds_strbuf_append(&p->name, t->s, t->n);
}

/* ---------------------------------------------------------------- numbers and types */
static bool int_of(const token *t, int64_t *out) {
    char buf[64];
    if (t->kind != T_NUM || t->n >= sizeof buf) return false;
    memcpy(buf, t->s, t->n);
    buf[t->n] = '\0';
    char *end;
    errno = 0;
    long long v = strtoll(buf, &end, 10);
    if (*end || errno) return false;
    *out = v;
    return true;
}

static ds_status to_int(const token *t, int64_t *out) {
    if (!int_of(t, out)) return perr(t, "'%.*s' is not an integer in the int64 range", (int)(t->n > 40 ? 40 : t->n), t->s);
    return DS_OK;
}

/* Whether t reads as a float of dtype dt (into dst). */
static bool to_float(const token *t, ds_dtype dt, void *dst) {
    char buf[128];
    bool word = t->kind == T_IDENT && (is_word(t, "inf") || is_word(t, "nan"));
    if ((t->kind != T_NUM && !word) || t->n >= sizeof buf) return false;
    memcpy(buf, t->s, t->n);
    buf[t->n] = '\0';
    return ds_irio_float_from_text(dt, buf, dst);
}

static ds_status parse_int(parser *p, int64_t *out) {
    if (p->t.kind != T_NUM) return expected(p, "an integer");
    ds_status st = to_int(&p->t, out);
    return st ? st : next(p);
}

static ds_status parse_type(parser *p, ds_meta *m) {
    ds_status st;
    if (p->t.kind != T_IDENT || !ds_irio_dtype_parse(p->t.s, p->t.n, &m->dtype))
        return expected(p, "a dtype (f32, i64, bool, ...)");
    if ((st = next(p)) || (st = expect_punct(p, '['))) return st;
    m->ndim = 0;
    while (!is_punct(&p->t, ']')) {
        token t = p->t;
        int64_t dim = 0;
        if (m->ndim == DS_MAX_DIMS) return perr(&t, "a type has at most %d dims", DS_MAX_DIMS);
        if (t.kind == T_NUM) {
            if ((st = to_int(&t, &dim))) return st;
            if (dim < 0) return perr(&t, "a dim is a size >= 0, ?, a symbol or $k");
        } else if (is_punct(&t, '?')) dim = DS_DIM_UNKNOWN;
        else if (t.kind == T_SYMIDX) {
            char buf[32];
            int64_t k = t.n < 9 ? (memcpy(buf, t.s, t.n), buf[t.n] = 0, strtoll(buf, NULL, 10)) : INT64_MAX;
            if (k >= DS_IRIO_MAX_SYMBOL) return perr(&t, "symbol index out of range (at most %d)", DS_IRIO_MAX_SYMBOL - 1);
            dim = -2 - k;
        } else if (t.kind == T_IDENT || t.kind == T_STR) {
            if ((st = token_text(p, &t))) return st;
            int k = 0;
            while (k < p->g->symbols.n && strcmp(p->g->symbols.items[k], p->name.data) != 0) k++;
            if (k == p->g->symbols.n)
                return perr(&t, "unknown symbol '%s' (declare a graph's symbols in <...> after its name)", p->name.data);
            dim = DS_DIM_SYM(k);
        } else return expected(p, "a dim (a size, ?, a symbol or $k)");
        m->shape[m->ndim++] = dim;
        if ((st = next(p))) return st;
        if (!is_punct(&p->t, ',')) break;
        if ((st = next(p))) return st;
    }
    if (!ds_irio_dims_fit(m)) return perr(&p->t, "a shape with too many elements");
    return expect_punct(p, ']');
}

static void type_str(const ds_graph *g, const ds_meta *m, char *buf, size_t n) {
    size_t len = (size_t)snprintf(buf, n, "%s[", ds_irio_dtype_short(m->dtype));
    for (int d = 0; d < m->ndim && len < n; d++) {
        int64_t x = m->shape[d];
        const char *sep = d ? ", " : "";
        if (x >= 0) len += (size_t)snprintf(buf + len, n - len, "%s%lld", sep, (long long)x);
        else if (x == DS_DIM_UNKNOWN) len += (size_t)snprintf(buf + len, n - len, "%s?", sep);
        else if (-2 - x < g->symbols.n) len += (size_t)snprintf(buf + len, n - len, "%s%s", sep, (char *)g->symbols.items[-2 - x]);
        else len += (size_t)snprintf(buf + len, n - len, "%s$%lld", sep, (long long)(-2 - x));
    }
    if (len < n) snprintf(buf + len, n - len, "]");
}

/* ---------------------------------------------------------------- nodes */
typedef struct result {
    token at;
    bool typed;
    ds_meta type;
} result;

typedef struct stmt {
    token at, body;
    int n_res;
    result res[DS_OP_MAX_OUT + 1];
    ds_node_kind kind;
    ds_op_id op;
    ds_graph *sub[2];
    ds_attr attrs[DS_MAX_ATTRS];
    int64_t *ints[DS_MAX_ATTRS]; /* owned INTS arrays */
    ds_tensor *constant;         /* owned */
    bool has_tok, has_loc, has_file;
    token tok;
    int line, col;
} stmt;

static ds_status build_err(const token *at, ds_status st) {
    if (st == DS_ERR_NOMEM) return st;
    char msg[1024];
    snprintf(msg, sizeof msg, "%s", ds_error_message());
    return ds_errorf(DS_ERR_VALUE, "line %d, column %d: %s", at->line, at->col, msg);
}

static ds_status lookup(parser *p, const token *t, ds_value **out) {
    *out = smap_get(&p->vals, t->s, t->n);
    if (!*out) return perr(t, "unknown value %%%.*s", (int)t->n, t->s);
    return DS_OK;
}

/* [%v {, %v}] into p->args. */
static ds_status parse_values(parser *p) {
    ds_status st = DS_OK;
    p->n_args = 0;
    while (p->t.kind == T_VAL) {
        if (p->n_args == p->cap_args) {
            int cap = p->cap_args ? 2 * p->cap_args : 16;
            ds_value **a = ds_malloc(sizeof(ds_value *) * (size_t)cap);
            if (!a) return DS_ERR_NOMEM;
            if (p->n_args) memcpy(a, p->args, sizeof(ds_value *) * (size_t)p->n_args);
            ds_free(p->args);
            p->args = a;
            p->cap_args = cap;
        }
        if ((st = lookup(p, &p->t, &p->args[p->n_args++])) || (st = next(p))) return st;
        if (!is_punct(&p->t, ',')) break;
        if ((st = next(p))) return st;
        if (p->t.kind != T_VAL) return expected(p, "a value (%name)");
    }
    return st;
}

static ds_status parse_args(parser *p) {
    ds_status st = expect_punct(p, '(');
    if (!st) st = parse_values(p);
    return st ? st : expect_punct(p, ')');
}

static ds_status parse_graph_ref(parser *p, const char *word, ds_graph **out) {
    ds_status st;
    if (word) {
        if (!is_word(&p->t, word)) {
            char what[16];
            snprintf(what, sizeof what, "'%s'", word);
            return expected(p, what);
        }
        if ((st = next(p))) return st;
    }
    if (p->t.kind != T_GRAPH) return expected(p, "a graph (@name)");
    intptr_t k = (intptr_t)smap_get(&p->labels, p->t.s, p->t.n);
    if (!k) return perr(&p->t, "unknown graph @%.*s (a graph is defined before the graphs using it)", (int)p->t.n, p->t.s);
    *out = p->graphs.items[k - 1];
    if (*out == p->g) return perr(&p->t, "a graph cannot use itself (@%.*s)", (int)p->t.n, p->t.s);
    if (p->depth[k - 1] + 1 > p->g_depth) p->g_depth = p->depth[k - 1] + 1;
    if (p->g_depth > DS_IRIO_MAX_DEPTH) return perr(&p->t, "subgraphs nested more than %d deep", DS_IRIO_MAX_DEPTH);
    return next(p);
}

static ds_status parse_attr_value(parser *p, stmt *s, int i) {
    ds_attr *a = &s->attrs[i];
    token t = p->t;
    ds_status st = DS_OK;
    if (is_word(&t, "None")) a->kind = DS_ATTR_NONE;
    else if (is_word(&t, "true") || is_word(&t, "false")) *a = (ds_attr){.kind = DS_ATTR_BOOL, .v.b = t.s[0] == 't'};
    else if (int_of(&t, &a->v.i)) a->kind = DS_ATTR_INT;
    else if (to_float(&t, DS_FLOAT64, &a->v.f)) a->kind = DS_ATTR_FLOAT;
    else if (t.kind == T_IDENT && ds_irio_dtype_parse(t.s, t.n, &a->v.dtype)) a->kind = DS_ATTR_DTYPE;
    else if (is_punct(&t, '[')) {
        int64_t cap = 0;
        a->kind = DS_ATTR_INTS;
        a->n = 0;
        if ((st = next(p))) return st;
        while (!is_punct(&p->t, ']')) {
            if (a->n == cap) {
                cap = cap ? 2 * cap : 8;
                int64_t *v = ds_malloc(sizeof(int64_t) * (size_t)cap);
                if (!v) return DS_ERR_NOMEM;
                if (a->n) memcpy(v, s->ints[i], sizeof(int64_t) * (size_t)a->n);
                ds_free(s->ints[i]);
                s->ints[i] = v;
                a->v.ints = v;
            }
            if ((st = parse_int(p, &s->ints[i][a->n]))) return st;
            a->n++;
            if (!is_punct(&p->t, ',')) break;
            if ((st = next(p))) return st;
        }
        return expect_punct(p, ']');
    } else return expected(p, "an attribute value (None, true, 3, 1.5, [1, 2] or a dtype)");
    return next(p);
}

static ds_status parse_attrs(parser *p, stmt *s) {
    const ds_op_info *info = ds_op_get_info(s->op);
    bool given[DS_MAX_ATTRS] = {false};
    ds_status st = next(p);
    while (!st && !is_punct(&p->t, '}')) {
        token t = p->t;
        if (t.kind != T_IDENT) return expected(p, "an attribute name");
        int i = 0;
        while (i < info->n_attrs && !(strlen(ds_op_attr_name(s->op, i)) == t.n && !memcmp(ds_op_attr_name(s->op, i), t.s, t.n))) i++;
        if (i == info->n_attrs) return perr(&t, "%s has no attribute '%.*s'", info->name, (int)t.n, t.s);
        if (given[i]) return perr(&t, "attribute '%.*s' is given twice", (int)t.n, t.s);
        given[i] = true;
        if ((st = next(p)) || (st = expect_punct(p, '=')) || (st = parse_attr_value(p, s, i))) return st;
        if (!is_punct(&p->t, ',')) break;
        st = next(p);
    }
    return st ? st : expect_punct(p, '}');
}

static ds_status parse_elem(parser *p, ds_dtype dt, void *dst) {
    static const int64_t lo[] = {0, INT8_MIN, 0, INT16_MIN, INT32_MIN, INT64_MIN};
    static const int64_t hi[] = {1, INT8_MAX, UINT8_MAX, INT16_MAX, INT32_MAX, INT64_MAX};
    token t = p->t;
    ds_status st;
    if (dt == DS_BOOL) {
        if (!is_word(&t, "true") && !is_word(&t, "false")) return expected(p, "true or false");
        *(uint8_t *)dst = t.s[0] == 't';
    } else if (ds_dtype_is_float(dt)) {
        if (!to_float(&t, dt, dst)) return expected(p, "a number");
    } else {
        int64_t v = 0;
        if ((st = to_int(&t, &v))) return st;
        if (v < lo[dt] || v > hi[dt]) return perr(&t, "%lld is out of range for %s", (long long)v, ds_dtype_name(dt));
        union {
            int64_t i;
            unsigned char b[8];
        } u;
        ds_dtype_store_int(dt, u.b, v);
        memcpy(dst, u.b, ds_dtype_size(dt));
    }
    return next(p);
}

static ds_status parse_const(parser *p, stmt *s) {
    ds_status st;
    if (s->n_res != 1 || !s->res[0].typed)
        return perr(&s->body, "Const needs one result with its type, as in %%0: f32[2] = Const [1.0, 2.0]");
    const ds_meta *m = &s->res[0].type;
    int64_t numel = 1, room = (int64_t)(p->end - p->t.s);
    for (int d = 0; d < m->ndim; d++) {
        if (m->shape[d] < 0) return perr(&s->res[0].at, "a constant's shape must be known");
        if (m->shape[d] && numel > room / m->shape[d]) return perr(&p->t, "the constant has more elements than the text holds");
        numel *= m->shape[d];
    }
    if ((st = ds_tensor_new(m->dtype, m->ndim, m->shape, &s->constant))) return st;
    size_t size = ds_dtype_size(m->dtype);
    unsigned char *data = ds_tensor_data(s->constant);
    if (is_word(&p->t, "hex")) {
        if ((st = next(p))) return st;
        token t = p->t;
        if (t.kind != T_STR) return expected(p, "a string of hex digits");
        if (t.n != 2 * (size_t)numel * size)
            return perr(&t, "the hex data holds %zu bytes, the type needs %zu", t.n / 2, (size_t)numel * size);
        bool swap = !ds_irio_little_endian();
        for (size_t i = 0; i < t.n; i += 2) {
            if (!is_hex((unsigned char)t.s[i]) || !is_hex((unsigned char)t.s[i + 1])) return perr(&t, "bad hex digit in constant data");
            size_t byte = i / 2, b = swap ? (byte / size) * size + size - 1 - byte % size : byte;
            data[b] = (unsigned char)(hex_val((unsigned char)t.s[i]) * 16 + hex_val((unsigned char)t.s[i + 1]));
        }
        return next(p);
    }
    if (m->ndim == 0) {
        if (is_punct(&p->t, '[')) return perr(&p->t, "a 0-d constant is one value, not a list");
        return parse_elem(p, m->dtype, data);
    }
    if (!is_punct(&p->t, '[')) return expected(p, "a list of values or hex\"...\"");
    if ((st = next(p))) return st;
    for (int64_t i = 0; i < numel; i++) {
        if (i == 0 && is_punct(&p->t, ']')) return perr(&p->t, "the list has no values, the type holds %lld", (long long)numel);
        if ((st = parse_elem(p, m->dtype, data + (size_t)i * size))) return st;
        if (i + 1 < numel && is_punct(&p->t, ']'))
            return perr(&p->t, "the list has %lld values, the type holds %lld", (long long)i + 1, (long long)numel);
        if (i + 1 < numel && (st = expect_punct(p, ','))) return st;
    }
    if (!is_punct(&p->t, ']')) return perr(&p->t, "the list has more values than the type holds (%lld)", (long long)numel);
    return next(p);
}

/* "!%t": the state token consumed; an undefined name in a graph without effects so far names its
 * entry token. It must be the current token. */
static ds_status check_token(parser *p, const token *t) {
    ds_value *v = smap_get(&p->vals, t->s, t->n);
    if (!v && !p->g->entry_token) {
        if (!(v = ds_ir_token(p->g))) return DS_ERR_NOMEM;
        ds_status st = smap_put(&p->vals, t->s, t->n, v);
        if (st) return st;
    }
    if (!v) return perr(t, "unknown state token %%%.*s", (int)t->n, t->s);
    if (v->kind != DS_VALUE_TOKEN) return perr(t, "%%%.*s is not a state token", (int)t->n, t->s);
    if (v != p->g->cur_token) return perr(t, "effects out of order: %%%.*s is not the current state token", (int)t->n, t->s);
    return DS_OK;
}

static ds_status build(parser *p, stmt *s) {
    ds_graph *g = p->g;
    ds_value *outs[DS_OP_MAX_OUT], *v = NULL;
    ds_value **a = p->args;
    int n = p->n_args, nout = 0, before = g->nodes.n;
    ds_status st = ds_irio_set_loc(g, s->has_file ? p->file.data : NULL, s->has_loc ? s->line : 0, s->has_loc ? s->col : 0);
    if (!st && s->has_tok) st = check_token(p, &s->tok);
    if (st) return st;
    switch (s->kind) {
    case DS_NODE_OP: st = ds_graph_add_op(g, s->op, n, a, s->attrs, DS_OP_MAX_OUT, outs, &nout); break;
    case DS_NODE_CONST: st = ds_graph_add_const(g, s->constant, &v); break;
    case DS_NODE_IF:
        if (n < 1) return perr(&s->body, "If takes a condition and the branches' arguments");
        st = ds_graph_add_if(g, a[0], s->sub[0], s->sub[1], n - 1, a + 1, DS_OP_MAX_OUT, outs, &nout);
        break;
    case DS_NODE_WHILE: st = ds_graph_add_while(g, s->sub[0], s->sub[1], n, a, outs); break;
    case DS_NODE_CALL: st = ds_graph_add_call(g, s->sub[0], n, a, DS_OP_MAX_OUT, outs, &nout); break;
    case DS_NODE_PRINT: st = ds_graph_add_print(g, p->text.data, n, a); break;
    case DS_NODE_ASSIGN:
        if (n != 2) return perr(&s->body, "Assign takes two values (%%param, %%value)");
        st = ds_graph_add_assign(g, a[0], a[1]);
        break;
    default: { /* callback: the results' types are its outputs' */
        int nd = s->n_res - (s->n_res && !s->res[s->n_res - 1].typed);
        ds_dtype dts[DS_OP_MAX_OUT];
        int nds[DS_OP_MAX_OUT];
        const int64_t *dims[DS_OP_MAX_OUT];
        for (int i = 0; i < nd; i++) {
            if (!s->res[i].typed || i == DS_OP_MAX_OUT) return perr(&s->res[i].at, "a callback's results need their types");
            dts[i] = s->res[i].type.dtype;
            nds[i] = s->res[i].type.ndim;
            dims[i] = s->res[i].type.shape;
        }
        st = ds_graph_add_callback(g, p->text.data, NULL, NULL, n, a, nd, dts, nds, dims, outs);
    }
    }
    if (st) return build_err(&s->at, st);
    if (g->nodes.n != before + 1) return ds_errorf(DS_ERR_INTERNAL, "parse: the builder did not add one node");
    ds_node *node = g->nodes.items[before];
    if (s->has_tok && !node->effect) return perr(&s->tok, "this node has no effects and takes no state token");
    int nd = node->n_out - (node->effect ? 1 : 0);
    if (s->n_res != nd && s->n_res != node->n_out)
        return perr(&s->at, "%.*s gives %d value%s%s, %d named", (int)s->body.n, s->body.s, nd, nd == 1 ? "" : "s",
                    node->effect ? " and a state token" : "", s->n_res);
    for (int k = 0; k < s->n_res; k++) {
        result *r = &s->res[k];
        v = node->out[k];
        if (smap_get(&p->vals, r->at.s, r->at.n)) return perr(&r->at, "%%%.*s is defined twice", (int)r->at.n, r->at.s);
        if (v->kind == DS_VALUE_TOKEN && r->typed) return perr(&r->at, "%%%.*s is a state token and has no type", (int)r->at.n, r->at.s);
        if (r->typed && !ds_meta_equal(&r->type, &v->type)) {
            char want[160], got[160];
            type_str(g, &r->type, want, sizeof want);
            type_str(g, &v->type, got, sizeof got);
            return perr(&r->at, "%%%.*s is annotated %s but %.*s gives %s", (int)r->at.n, r->at.s, want, (int)s->body.n, s->body.s, got);
        }
        if ((st = smap_put(&p->vals, r->at.s, r->at.n, v))) return st;
    }
    return DS_OK;
}

static ds_status parse_stmt(parser *p, stmt *s) {
    ds_status st = DS_OK;
    s->at = p->t;
    while (p->t.kind == T_VAL) { /* results */
        if (s->n_res == DS_OP_MAX_OUT + 1) return perr(&p->t, "too many results");
        result *r = &s->res[s->n_res++];
        r->at = p->t;
        if ((st = next(p))) return st;
        if (is_punct(&p->t, ':')) {
            r->typed = true;
            if ((st = next(p)) || (st = parse_type(p, &r->type))) return st;
        }
        if (!is_punct(&p->t, ',')) break;
        if ((st = next(p))) return st;
    }
    if (s->n_res && (st = expect_punct(p, '='))) return st;
    s->body = p->t;
    if (p->t.kind != T_IDENT) return expected(p, "an op, Const, If, While, Call, Print, Assign or Callback");
    static const char *const kw[] = {"Const", "If", "While", "Call", "Print", "Assign", "Callback"};
    static const ds_node_kind kinds[] = {DS_NODE_CONST, DS_NODE_IF, DS_NODE_WHILE, DS_NODE_CALL, DS_NODE_PRINT, DS_NODE_ASSIGN, DS_NODE_CALLBACK};
    s->kind = DS_NODE_OP;
    for (int i = 0; i < 7; i++)
        if (is_word(&p->t, kw[i])) s->kind = kinds[i];
    if (s->kind == DS_NODE_OP) {
        char name[64];
        s->op = DS_OP_COUNT;
        if (p->t.n < sizeof name) {
            memcpy(name, p->t.s, p->t.n);
            name[p->t.n] = '\0';
            s->op = ds_op_lookup(name);
        }
        if (s->op == DS_OP_COUNT) return perr(&p->t, "unknown op '%.*s'", (int)(p->t.n > 40 ? 40 : p->t.n), p->t.s);
    }
    if ((st = next(p))) return st;
    switch (s->kind) {
    case DS_NODE_CONST: st = parse_const(p, s); break;
    case DS_NODE_IF:
    case DS_NODE_WHILE:
        if (!(st = parse_args(p)) && !(st = parse_graph_ref(p, s->kind == DS_NODE_IF ? "then" : "cond", &s->sub[0])))
            st = parse_graph_ref(p, s->kind == DS_NODE_IF ? "else" : "body", &s->sub[1]);
        break;
    case DS_NODE_CALL:
        if (!(st = parse_args(p))) st = parse_graph_ref(p, NULL, &s->sub[0]);
        break;
    case DS_NODE_PRINT:
    case DS_NODE_CALLBACK:
        if ((st = parse_args(p))) break;
        if (p->t.kind != T_STR) return expected(p, s->kind == DS_NODE_PRINT ? "the prefix string" : "the callback's name string");
        if (!(st = decode(&p->t, &p->text))) st = next(p);
        break;
    case DS_NODE_ASSIGN: st = parse_args(p); break;
    default:
        if (!(st = parse_args(p)) && is_punct(&p->t, '{')) st = parse_attrs(p, s);
    }
    if (!st && is_punct(&p->t, '!')) {
        if ((st = next(p))) return st;
        if (p->t.kind != T_VAL) return expected(p, "a state token (%t0)");
        s->has_tok = true;
        s->tok = p->t;
        st = next(p);
    }
    if (!st && is_word(&p->t, "loc")) {
        s->has_loc = true;
        if ((st = next(p)) || (st = expect_punct(p, '('))) return st;
        if (p->t.kind == T_STR) {
            s->has_file = true;
            if ((st = decode(&p->t, &p->file)) || (st = next(p)) || (st = expect_punct(p, ':'))) return st;
        }
        int64_t line = 0, col = 0;
        token lt = p->t;
        if ((st = parse_int(p, &line))) return st;
        if (is_punct(&p->t, ':') && ((st = next(p)) || (st = parse_int(p, &col)))) return st;
        if (line <= 0 || line > INT32_MAX || col < INT32_MIN || col > INT32_MAX) return perr(&lt, "line or column out of range");
        s->line = (int)line;
        s->col = (int)col;
        st = expect_punct(p, ')');
    }
    return st ? st : build(p, s);
}

static ds_status parse_node(parser *p) {
    stmt s;
    memset(&s, 0, sizeof s);
    ds_status st = parse_stmt(p, &s);
    for (int i = 0; i < DS_MAX_ATTRS; i++) ds_free(s.ints[i]);
    ds_tensor_release(s.constant);
    return st;
}

static ds_status parse_return(parser *p) {
    token at = p->t;
    ds_status st = next(p);
    if (!st) st = parse_values(p);
    if (!st && is_punct(&p->t, '!')) {
        if ((st = next(p))) return st;
        if (p->t.kind != T_VAL) return expected(p, "a state token (%t0)");
        token t = p->t;
        if ((st = check_token(p, &t)) || (st = next(p))) return st;
    }
    if (!st && (st = ds_graph_set_outputs(p->g, p->n_args, p->args))) return build_err(&at, st);
    return st;
}

static ds_status parse_graph(parser *p) {
    ds_status st = next(p);
    if (st) return st;
    if (p->t.kind != T_GRAPH) return expected(p, "a graph label (@name)");
    token label = p->t;
    if (smap_get(&p->labels, label.s, label.n)) return perr(&label, "graph @%.*s is defined twice", (int)label.n, label.s);
    if ((st = next(p))) return st;
    if (p->t.kind == T_STR) {
        if ((st = decode(&p->t, &p->name)) || (st = next(p))) return st;
    } else if ((st = token_text(p, &label))) return st;
    ds_graph *g;
    if ((st = ds_graph_new(p->name.data, &g))) return st;
    if ((st = ds_ptrvec_push(&p->graphs, g))) {
        ds_graph_release(g);
        return st;
    }
    int gi = p->graphs.n - 1;
    if (gi % 16 == 0) {
        int *d = ds_malloc(sizeof(int) * (size_t)(gi + 16));
        if (!d) return DS_ERR_NOMEM;
        if (gi) memcpy(d, p->depth, sizeof(int) * (size_t)gi);
        ds_free(p->depth);
        p->depth = d;
    }
    p->depth[gi] = 0;
    if ((st = smap_put(&p->labels, label.s, label.n, (void *)(intptr_t)(gi + 1)))) return st;
    p->g = g;
    p->g_depth = 0;
    smap_clear(&p->vals);
    if (is_punct(&p->t, '<')) {
        if ((st = next(p))) return st;
        while (!is_punct(&p->t, '>')) {
            token t = p->t;
            int64_t dim;
            int before = g->symbols.n;
            if (t.kind != T_IDENT && t.kind != T_STR) return expected(p, "a symbol name");
            if ((st = token_text(p, &t)) || (st = ds_graph_symbol(g, p->name.data, &dim))) return st;
            if (g->symbols.n == before) return perr(&t, "symbol '%s' is declared twice", p->name.data);
            if ((st = next(p))) return st;
            if (!is_punct(&p->t, ',')) break;
            if ((st = next(p))) return st;
        }
        if ((st = expect_punct(p, '>'))) return st;
    }
    if ((st = expect_punct(p, '('))) return st;
    while (p->t.kind == T_VAL) {
        token t = p->t;
        ds_meta m;
        bool weight = false;
        ds_value *v;
        if (smap_get(&p->vals, t.s, t.n)) return perr(&t, "%%%.*s is defined twice", (int)t.n, t.s);
        if ((st = next(p)) || (st = expect_punct(p, ':')) || (st = parse_type(p, &m))) return st;
        if (is_word(&p->t, "weight")) {
            weight = true;
            if ((st = next(p))) return st;
        }
        if (p->t.kind == T_STR) {
            if ((st = decode(&p->t, &p->name)) || (st = next(p))) return st;
        } else if ((st = token_text(p, &t))) return st;
        if ((st = ds_graph_add_param(g, p->name.data, m.dtype, m.ndim, m.shape, weight, &v))) return build_err(&t, st);
        if ((st = smap_put(&p->vals, t.s, t.n, v))) return st;
        if (!is_punct(&p->t, ',')) break;
        if ((st = next(p))) return st;
        if (p->t.kind != T_VAL) return expected(p, "a parameter (%name: type)");
    }
    if ((st = expect_punct(p, ')')) || (st = expect_punct(p, '{'))) return st;
    while (!is_punct(&p->t, '}')) {
        if (p->t.kind == T_EOF) return expected(p, "'}' closing the graph");
        if (is_word(&p->t, "return")) {
            if ((st = parse_return(p))) return st;
            if (!is_punct(&p->t, '}')) return expected(p, "'}' after return");
            break;
        }
        if ((st = parse_node(p))) return st;
    }
    p->depth[gi] = p->g_depth;
    return next(p);
}

ds_status ds_graph_parse(const char *text, ds_graph **out) {
    if (!text || !out) return ds_errorf(DS_ERR_VALUE, "ds_graph_parse: NULL argument");
    parser p;
    memset(&p, 0, sizeof p);
    p.p = p.line_start = text;
    p.end = text + strlen(text);
    p.line = 1;
    ds_strbuf_init(&p.name);
    ds_strbuf_init(&p.text);
    ds_strbuf_init(&p.file);
    ds_status st = next(&p);
    while (!st && p.t.kind != T_EOF) {
        if (!is_word(&p.t, "graph")) st = expected(&p, "'graph'");
        else st = parse_graph(&p);
    }
    if (!st && p.graphs.n == 0) st = expected(&p, "'graph'");
    if (!st) *out = ds_graph_retain(p.graphs.items[p.graphs.n - 1]);
    for (int i = 0; i < p.graphs.n; i++) ds_graph_release(p.graphs.items[i]);
    ds_ptrvec_deinit(&p.graphs);
    ds_free(p.depth);
    ds_free(p.labels.e);
    ds_free(p.vals.e);
    ds_free(p.args);
    ds_strbuf_deinit(&p.name);
    ds_strbuf_deinit(&p.text);
    ds_strbuf_deinit(&p.file);
    return st;
}
