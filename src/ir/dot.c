/* The Graphviz writer (ds_graph_print_dot): a graph and every graph it uses as one `digraph`.
 *
 *   digraph "main" {
 *     graph [compound=true, ...  label="@main"];
 *     subgraph cluster_0_body {            every graph used through If/While/Call, once, callees first
 *       label="@body";
 *       g0_p0 [shape=ellipse, label="%i\ni64[]"];                                 parameters
 *       g0_n0 [shape=Mrecord, label="{Const 1|%0: i64[]}"];                       constants (values when small)
 *       g0_n2 [shape=Mrecord, label="{add|%2: i64[]|model.py:12:5}"];            ops: name, attrs, results, loc
 *       g0_p0 -> g0_n2 [label="%i"];                                               data edges carry the value
 *       g0_n4 -> g0_ret [style=dashed, label="%t1"];                               effect-token edges are dashed
 *       g0_ret [shape=box, label="return"];  g0_n2 -> g0_ret [label="0: %2"];     outputs, by index
 *     }
 *     ... the printed graph's own nodes and edges at the top level ...
 *     g1_n3 -> g0_p0 [lhead=cluster_0_body, label="body"];   a structural node to each of its subgraphs
 *   }
 *
 * Value names, graph labels and types are those of the text format (print.c), so a .dot file can be read
 * next to the .ir file of the same graph. A graph used by several nodes is drawn once and gets an edge
 * from each. Output is deterministic (no addresses; graphs, nodes and values in program order).
 *
 * Labels: every label is a quoted string whose text is escaped for both plain and record labels: '"' as
 * \", '\\' as \\, each of { } | < > with a backslash, '&' as &amp; (Graphviz decodes entities), line
 * breaks as \n. Text that comes from the user (names, file names, print prefixes) has its control
 * characters written as visible escapes (\n, \t, \xHH) first, and bytes that are not valid UTF-8 as a
 * visible \xHH, so a user string can never break the file or change the label's layout. */
#include <stdio.h>
#include <string.h>

#include "base/alloc.h"
#include "base/status.h"
#include "base/strbuf.h"
#include "ir/irio.h"

#define DOT_CONST_MAX 8 /* constants with at most this many elements show their values */

typedef struct vinfo {
    const ds_value *v; /* the value described (guards against values of other graphs) */
    char kind;         /* 'p' parameter, 'n' node result, 't' entry token */
    int idx;           /* parameter index or node index */
    int num;           /* the text format's number: %<num> for results, %t<num> for tokens */
} vinfo;

typedef struct dotw {
    ds_strbuf sb;  /* the output */
    ds_strbuf raw; /* one label's (or field's) text before escaping */
    ds_ptrvec order;
    char **labels;
    bool *label_is_name;
    const ds_graph *g; /* the graph being written */
    int gi;            /* its index in order */
    const char *ind;   /* indentation of its lines: "  " at the top level, "    " in a cluster */
    vinfo *vals;       /* by value id */
} dotw;

/* ---------------------------------------------------------------- escaping */
/* Length of the valid UTF-8 sequence of 2 to 4 bytes at p (n bytes left), or 0. */
static int utf8_len(const unsigned char *p, size_t n) {
    unsigned char c = p[0];
    int len;
    unsigned char lo = 0x80, hi = 0xbf;
    if (c >= 0xc2 && c <= 0xdf) len = 2;
    else if (c >= 0xe0 && c <= 0xef) {
        len = 3;
        if (c == 0xe0) lo = 0xa0;
        if (c == 0xed) hi = 0x9f;
    } else if (c >= 0xf0 && c <= 0xf4) {
        len = 4;
        if (c == 0xf0) lo = 0x90;
        if (c == 0xf4) hi = 0x8f;
    } else return 0;
    if ((size_t)len > n) return 0;
    if (p[1] < lo || p[1] > hi) return 0;
    for (int i = 2; i < len; i++)
        if (p[i] < 0x80 || p[i] > 0xbf) return 0;
    return len;
}

/* Appends user text to the raw label: control characters as visible escapes (\n, \t, \r, \xHH), the
 * rest as is (the escaping into dot happens later, in put_esc). */
static void put_plain(ds_strbuf *sb, const char *s) {
    for (; s && *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '\n') ds_strbuf_puts(sb, "\\n");
        else if (c == '\t') ds_strbuf_puts(sb, "\\t");
        else if (c == '\r') ds_strbuf_puts(sb, "\\r");
        else if (c < 0x20 || c == 0x7f) ds_strbuf_printf(sb, "\\x%02x", c);
        else ds_strbuf_putc(sb, (char)c);
    }
}

/* Appends raw label text escaped for a quoted dot label (plain or record field): a '\n' in the raw text
 * is a line break; invalid UTF-8 bytes and stray control characters become a visible \xHH. */
static void put_esc(ds_strbuf *out, const char *s, size_t n) {
    const unsigned char *p = (const unsigned char *)s;
    for (size_t i = 0; i < n;) {
        unsigned char c = p[i];
        if (c >= 0x80) {
            int len = utf8_len(p + i, n - i);
            if (len) {
                ds_strbuf_append(out, (const char *)p + i, (size_t)len);
                i += (size_t)len;
            } else {
                ds_strbuf_printf(out, "\\\\x%02x", c);
                i++;
            }
            continue;
        }
        switch (c) {
        case '"': ds_strbuf_puts(out, "\\\""); break;
        case '\\': ds_strbuf_puts(out, "\\\\"); break;
        case '{':
        case '}':
        case '|':
        case '<':
        case '>':
            ds_strbuf_putc(out, '\\');
            ds_strbuf_putc(out, (char)c);
            break;
        case '&': ds_strbuf_puts(out, "&amp;"); break; /* Graphviz decodes HTML entities in labels */
        case '\n': ds_strbuf_puts(out, "\\n"); break;
        default:
            if (c < 0x20 || c == 0x7f) ds_strbuf_printf(out, "\\\\x%02x", c);
            else ds_strbuf_putc(out, (char)c);
        }
        i++;
    }
}

/* Appends the raw buffer escaped, then empties it. */
static void flush_raw(dotw *w) {
    put_esc(&w->sb, w->raw.data ? w->raw.data : "", w->raw.len);
    ds_strbuf_truncate(&w->raw, 0);
}

/* ---------------------------------------------------------------- values */
static const vinfo *info_of(const dotw *w, const ds_value *v) {
    if (!v || v->id < 0 || v->id >= w->g->n_values) return NULL;
    const vinfo *vi = &w->vals[v->id];
    return vi->v == v ? vi : NULL;
}

/* The value's name in the text format (%x, %arg.3, %4, %t2), into the raw buffer. */
static void put_vname(dotw *w, const ds_value *v) {
    const vinfo *vi = info_of(w, v);
    ds_strbuf *raw = &w->raw;
    if (!vi) ds_strbuf_puts(raw, "%?");
    else if (vi->kind == 'p' && ds_irio_param_named(w->g, vi->idx)) ds_strbuf_printf(raw, "%%%s", v->name);
    else if (vi->kind == 'p') ds_strbuf_printf(raw, "%%arg.%d", vi->idx);
    else if (v->kind == DS_VALUE_TOKEN) ds_strbuf_printf(raw, "%%t%d", vi->num);
    else ds_strbuf_printf(raw, "%%%d", vi->num);
}

/* The dot id of the node drawing the value's producer (false for a value of another graph). */
static bool endpoint(const dotw *w, const ds_value *v, char *buf, size_t n) {
    const vinfo *vi = info_of(w, v);
    if (!vi) return false;
    if (vi->kind == 'p') snprintf(buf, n, "g%d_p%d", w->gi, vi->idx);
    else if (vi->kind == 't') snprintf(buf, n, "g%d_t0", w->gi);
    else snprintf(buf, n, "g%d_n%d", w->gi, vi->idx);
    return true;
}

/* ---------------------------------------------------------------- nodes */
/* Record field separator: ends the current field and starts the next. */
static void field(dotw *w, bool *first) {
    if (!*first) ds_strbuf_putc(&w->sb, '|');
    *first = false;
    flush_raw(w);
}

static void put_loc_raw(dotw *w, const ds_loc *loc) {
    put_plain(&w->raw, loc->file ? loc->file : "?");
    ds_strbuf_printf(&w->raw, ":%d", loc->line);
    if (loc->col) ds_strbuf_printf(&w->raw, ":%d", loc->col);
}

static void put_node(dotw *w, int k) {
    const ds_node *n = w->g->nodes.items[k];
    ds_strbuf *sb = &w->sb, *raw = &w->raw;
    const char *fill = "#ffffff";
    switch (n->kind) {
    case DS_NODE_CONST: fill = "#eeeeee"; break;
    case DS_NODE_IF:
    case DS_NODE_WHILE:
    case DS_NODE_CALL: fill = "#fff2cc"; break;
    case DS_NODE_PRINT:
    case DS_NODE_ASSIGN:
    case DS_NODE_CALLBACK: fill = "#f8d7da"; break;
    default: fill = n->effect ? "#f8d7da" : "#ffffff"; break;
    }
    ds_strbuf_printf(sb, "%sg%d_n%d [shape=Mrecord, style=filled, fillcolor=\"%s\", label=\"{", w->ind, w->gi, k, fill);
    bool first = true;
    /* the head: what the node is */
    switch (n->kind) {
    case DS_NODE_CONST:
        ds_strbuf_puts(raw, "Const");
        if (n->constant) {
            size_t mark = raw->len;
            ds_strbuf_putc(raw, ' ');
            if (!ds_irio_put_const_values(raw, n->constant, DOT_CONST_MAX)) ds_strbuf_truncate(raw, mark);
        }
        break;
    case DS_NODE_OP: {
        const ds_op_info *info = ds_op_get_info(n->op);
        ds_strbuf_puts(raw, info ? info->name : "?");
        if (info && info->n_attrs && n->attrs) {
            field(w, &first);
            ds_irio_put_attrs(raw, n);
        }
        break;
    }
    case DS_NODE_IF:
    case DS_NODE_WHILE:
    case DS_NODE_CALL: {
        static const char *const words[3][3] = {{"If", "then", "else"}, {"While", "cond", "body"}, {"Call", "", ""}};
        const char *const *wd = words[n->kind - DS_NODE_IF];
        ds_strbuf_puts(raw, wd[0]);
        field(w, &first);
        for (int s = 0; s < n->n_sub; s++) {
            const char *word = wd[1 + (s & 1)];
            if (s) ds_strbuf_putc(raw, '\n');
            if (*word) ds_strbuf_printf(raw, "%s ", word);
            int gi = -1;
            for (int i = 0; i < w->order.n && gi < 0; i++)
                if (w->order.items[i] == n->sub[s]) gi = i;
            ds_strbuf_printf(raw, "@%s", gi >= 0 ? w->labels[gi] : "?");
        }
        break;
    }
    case DS_NODE_PRINT:
    case DS_NODE_CALLBACK:
        ds_strbuf_puts(raw, n->kind == DS_NODE_PRINT ? "Print" : "Callback");
        field(w, &first);
        ds_irio_put_str(raw, n->text);
        break;
    case DS_NODE_ASSIGN: ds_strbuf_puts(raw, "Assign"); break;
    default: ds_strbuf_printf(raw, "?kind%d", (int)n->kind); break;
    }
    /* its data results with their types */
    bool any = false;
    for (int i = 0; i < n->n_out; i++) {
        const ds_value *v = n->out[i];
        if (!v || v->kind == DS_VALUE_TOKEN) continue;
        if (!any) field(w, &first);
        else ds_strbuf_putc(raw, '\n');
        any = true;
        put_vname(w, v);
        ds_strbuf_puts(raw, ": ");
        ds_irio_put_type(raw, w->g, &v->type);
    }
    if (n->loc.line > 0) {
        field(w, &first);
        put_loc_raw(w, &n->loc);
    }
    field(w, &first);
    ds_strbuf_puts(sb, "}\"];\n");
}

/* Edges into node k (data solid, the token dashed), each labelled with the value. */
static void put_in_edges(dotw *w, int k) {
    const ds_node *n = w->g->nodes.items[k];
    char src[48];
    for (int i = 0; i < n->n_in; i++) {
        const ds_value *v = n->in[i];
        if (!endpoint(w, v, src, sizeof src)) continue;
        bool tok = v->kind == DS_VALUE_TOKEN;
        ds_strbuf_printf(&w->sb, "%s%s -> g%d_n%d [%slabel=\"", w->ind, src, w->gi, k, tok ? "style=dashed, " : "");
        put_vname(w, v);
        flush_raw(w);
        ds_strbuf_puts(&w->sb, "\"];\n");
    }
}

/* The label of graph gi ("@label", then the name as a string when the label is not the name). */
static void put_graph_label(dotw *w, int gi) {
    const ds_graph *g = w->order.items[gi];
    ds_strbuf_printf(&w->raw, "@%s", w->labels[gi]);
    if (!w->label_is_name[gi]) {
        ds_strbuf_putc(&w->raw, ' ');
        ds_irio_put_str(&w->raw, g->name);
    }
    flush_raw(w);
}

/* The node a structural node's edge to graph gi points at (a node inside its cluster). */
static void anchor_id(const dotw *w, int gi, char *buf, size_t n) {
    const ds_graph *g = w->order.items[gi];
    if (g->params.n) snprintf(buf, n, "g%d_p0", gi);
    else if (g->entry_token) snprintf(buf, n, "g%d_t0", gi);
    else if (g->nodes.n) snprintf(buf, n, "g%d_n0", gi);
    else if (g->closed) snprintf(buf, n, "g%d_ret", gi);
    else snprintf(buf, n, "g%d_anchor", gi);
}

static void cluster_name(const dotw *w, int gi, char *buf, size_t n) {
    int len = snprintf(buf, n, "cluster_%d_", gi);
    for (const char *s = w->labels[gi]; *s && len >= 0 && (size_t)len < n - 1; s++) buf[len++] = *s == '.' ? '_' : *s;
    if (len >= 0 && (size_t)len < n) buf[len] = '\0';
}

static ds_status put_graph(dotw *w, int gi) {
    const ds_graph *g = w->order.items[gi];
    ds_strbuf *sb = &w->sb;
    bool root = gi == w->order.n - 1;
    w->g = g;
    w->gi = gi;
    w->vals = ds_calloc(sizeof(vinfo) * (size_t)(g->n_values + 1));
    if (!w->vals) return DS_ERR_NOMEM;
    /* name the values as the text format does */
    int ndata = 0, ntok = 0;
    for (int i = 0; i < g->params.n; i++) {
        const ds_value *v = g->params.items[i];
        if (v && v->id >= 0 && v->id < g->n_values) w->vals[v->id] = (vinfo){v, 'p', i, i};
    }
    const ds_value *et = g->entry_token;
    if (et && et->id >= 0 && et->id < g->n_values) w->vals[et->id] = (vinfo){et, 't', -1, 0};
    for (int k = 0; k < g->nodes.n; k++) {
        const ds_node *n = g->nodes.items[k];
        for (int i = 0; i < n->n_out; i++) {
            const ds_value *v = n->out[i];
            if (!v || v->id < 0 || v->id >= g->n_values) continue;
            bool tok = v->kind == DS_VALUE_TOKEN;
            w->vals[v->id] = (vinfo){v, 'n', k, tok ? ++ntok : ndata++};
        }
    }
    const char *ind = root ? "  " : "    ";
    w->ind = ind;
    if (!root) {
        char cname[64];
        cluster_name(w, gi, cname, sizeof cname);
        ds_strbuf_printf(sb, "  subgraph %s {\n    graph [style=rounded, color=\"#7f7f7f\", label=\"", cname);
        put_graph_label(w, gi);
        ds_strbuf_puts(sb, "\"];\n");
    }
    /* parameters and the entry token */
    for (int i = 0; i < g->params.n; i++) {
        const ds_value *v = g->params.items[i];
        ds_strbuf_printf(sb, "%sg%d_p%d [shape=ellipse, style=filled, fillcolor=\"%s\", label=\"", ind, gi, i,
                         v->weight ? "#d9ead3" : "#dbe9f6");
        put_vname(w, v);
        if (!ds_irio_param_named(g, i)) {
            ds_strbuf_putc(&w->raw, ' ');
            ds_irio_put_str(&w->raw, v->name ? v->name : "");
        }
        ds_strbuf_putc(&w->raw, '\n');
        ds_irio_put_type(&w->raw, g, &v->type);
        if (v->weight) ds_strbuf_puts(&w->raw, " weight");
        flush_raw(w);
        ds_strbuf_puts(sb, "\"];\n");
    }
    if (et) ds_strbuf_printf(sb, "%sg%d_t0 [shape=oval, style=dashed, label=\"%%t0\"];\n", ind, gi);
    /* nodes, each followed by the edges into it */
    for (int k = 0; k < g->nodes.n; k++) {
        put_node(w, k);
        put_in_edges(w, k);
    }
    /* the outputs */
    char src[48];
    if (g->closed) {
        ds_strbuf_printf(sb, "%sg%d_ret [shape=box, style=\"bold,filled\", fillcolor=\"#e2d9f3\", label=\"return\"];\n", ind, gi);
        for (int i = 0; i < g->outputs.n; i++) {
            const ds_value *v = g->outputs.items[i];
            if (!endpoint(w, v, src, sizeof src)) continue;
            ds_strbuf_printf(sb, "%s%s -> g%d_ret [style=bold, label=\"%d: ", ind, src, gi, i);
            put_vname(w, v);
            flush_raw(w);
            ds_strbuf_puts(sb, "\"];\n");
        }
        if (et && endpoint(w, g->cur_token, src, sizeof src)) {
            ds_strbuf_printf(sb, "%s%s -> g%d_ret [style=dashed, label=\"", ind, src, gi);
            put_vname(w, g->cur_token);
            flush_raw(w);
            ds_strbuf_puts(sb, "\"];\n");
        }
    } else if (!g->params.n && !et && !g->nodes.n) {
        ds_strbuf_printf(sb, "%sg%d_anchor [shape=point, style=invis];\n", ind, gi);
    }
    if (!root) ds_strbuf_puts(sb, "  }\n");
    ds_free(w->vals);
    w->vals = NULL;
    return sb->status ? sb->status : w->raw.status;
}

/* Edges from every If/While/Call node to the clusters of its subgraphs (at the top level: an edge
 * written inside a cluster would pull its other end into that cluster). */
static void put_sub_edges(dotw *w) {
    for (int gi = 0; gi < w->order.n; gi++) {
        const ds_graph *g = w->order.items[gi];
        for (int k = 0; k < g->nodes.n; k++) {
            const ds_node *n = g->nodes.items[k];
            if (n->kind != DS_NODE_IF && n->kind != DS_NODE_WHILE && n->kind != DS_NODE_CALL) continue;
            static const char *const words[3][2] = {{"then", "else"}, {"cond", "body"}, {"call", "call"}};
            for (int s = 0; s < n->n_sub; s++) {
                int si = -1;
                for (int i = 0; i < w->order.n && si < 0; i++)
                    if (w->order.items[i] == n->sub[s]) si = i;
                if (si < 0) continue;
                char cname[64], anchor[48];
                cluster_name(w, si, cname, sizeof cname);
                anchor_id(w, si, anchor, sizeof anchor);
                ds_strbuf_printf(&w->sb, "  g%d_n%d -> %s [lhead=%s, style=bold, color=\"#b58900\", fontcolor=\"#b58900\", label=\"%s\"];\n",
                                 gi, k, anchor, cname, words[n->kind - DS_NODE_IF][s & 1]);
            }
        }
    }
}

ds_status ds_graph_print_dot(const ds_graph *g, char **out) {
    if (!g || !out) return ds_errorf(DS_ERR_VALUE, "ds_graph_print_dot: NULL argument");
    dotw w = {0};
    ds_strbuf_init(&w.sb);
    ds_strbuf_init(&w.raw);
    ds_status st = ds_irio_graph_order(g, &w.order);
    if (!st) st = ds_irio_graph_labels(&w.order, &w.labels, &w.label_is_name);
    if (!st) {
        int root = w.order.n - 1;
        ds_strbuf_printf(&w.sb, "digraph \"%s\" {\n", w.labels[root]);
        ds_strbuf_puts(&w.sb, "  graph [compound=true, fontname=\"Helvetica\", fontsize=12, labelloc=t, labeljust=l, label=\"");
        put_graph_label(&w, root);
        ds_strbuf_puts(&w.sb, "\"];\n  node [fontname=\"Helvetica\", fontsize=10];\n  edge [fontname=\"Helvetica\", fontsize=9];\n");
        for (int i = 0; i < w.order.n && !st; i++) st = put_graph(&w, i);
    }
    if (!st) {
        put_sub_edges(&w);
        ds_strbuf_puts(&w.sb, "}\n");
        st = w.raw.status;
    }
    if (!st) st = ds_strbuf_finish(&w.sb, out);
    ds_strbuf_deinit(&w.sb);
    ds_strbuf_deinit(&w.raw);
    for (int i = 0; w.labels && i < w.order.n; i++) ds_free(w.labels[i]);
    ds_free(w.labels);
    ds_free(w.label_is_name);
    ds_free(w.vals);
    ds_ptrvec_deinit(&w.order);
    return st;
}
