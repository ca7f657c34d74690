/* The binary graph file format: ds_graph_save_buffer, ds_graph_load_buffer, ds_graph_save, ds_graph_load.
 *
 * Version 1. Integers are little-endian; str = u32 length + bytes (length 0xffffffff: no string);
 * type = u8 dtype, u8 ndim, i64 dims[ndim] (a dim is a size, -1 unknown, or -2-k for symbol k).
 *
 *   file   "DSGR", u32 version, u32 n_graphs, graph[n_graphs]
 *          every graph comes after the graphs it uses; the last one is the graph that was saved
 *   graph  str name, u32 n_symbols, str[n_symbols], u32 n_params, {str name, u8 weight, type}[n_params],
 *          u32 n_nodes, node[n_nodes], u32 n_outputs, u32 value[n_outputs],
 *          u8 flags (bit 0: the graph has a state token, i.e. effects)
 *   node   u8 kind (ds_node_kind), u8 flags (bit 0: threads the state token),
 *          str loc file, i32 line, i32 col,
 *          u32 n_in, u32 value[n_in]      data inputs (the token input is implied),
 *          u32 n_out, type[n_out]         data outputs (checked against what the builder infers),
 *          then by kind:  OP        str op name, u8 n_attrs, {str name, u8 kind, value}[n_attrs]
 *                                   value: NONE -, BOOL u8, INT i64, FLOAT f64 bits, INTS u32 n + i64[n],
 *                                   DTYPE u8
 *                         CONST     u64 nbytes, the elements (little-endian), of type out[0]
 *                         IF, WHILE u32 graph, u32 graph (then/else, cond/body);  CALL  u32 graph
 *                         PRINT, CALLBACK  str text;  ASSIGN -
 *   Values are numbered per graph: the parameters, then each node's data outputs in order. Ops and
 *   attributes are stored by name, so files survive additions to the op table.
 *
 * Loading rebuilds each graph through the builder, so a loaded graph verifies. Malformed input is
 * refused with DS_ERR_VALUE; every count is bounded by the bytes left before anything is allocated. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "base/alloc.h"
#include "base/status.h"
#include "base/strbuf.h"
#include "ir/irio.h"

#define MAGIC "DSGR"
#define VERSION 1u
#define NO_STRING 0xffffffffu

/* ---------------------------------------------------------------- writing */
static void w_bytes(ds_strbuf *sb, uint64_t v, int n) {
    char b[8];
    for (int i = 0; i < n; i++) b[i] = (char)(v >> (8 * i));
    ds_strbuf_append(sb, b, (size_t)n);
}
static void w_u8(ds_strbuf *sb, unsigned v) { w_bytes(sb, v, 1); }
static void w_u32(ds_strbuf *sb, uint32_t v) { w_bytes(sb, v, 4); }
static void w_i64(ds_strbuf *sb, int64_t v) { w_bytes(sb, (uint64_t)v, 8); }

static void w_str(ds_strbuf *sb, const char *s) {
    if (!s) {
        w_u32(sb, NO_STRING);
        return;
    }
    size_t n = strlen(s);
    w_u32(sb, (uint32_t)n);
    ds_strbuf_append(sb, s, n);
}

static void w_type(ds_strbuf *sb, const ds_meta *m) {
    w_u8(sb, (unsigned)m->dtype);
    w_u8(sb, (unsigned)m->ndim);
    for (int d = 0; d < m->ndim; d++) w_i64(sb, m->shape[d]);
}

typedef struct slot {
    const ds_value *v;
    uint32_t index;
} slot;

static ds_status w_value(ds_strbuf *sb, const ds_graph *g, const slot *slots, const ds_value *v, const char *what) {
    if (!v || v->id < 0 || v->id >= g->n_values || slots[v->id].v != v)
        return ds_errorf(DS_ERR_VALUE, "ds_graph_save: graph '%s': %s is not a value of the graph", g->name, what);
    w_u32(sb, slots[v->id].index);
    return DS_OK;
}

static ds_status save_node(ds_strbuf *sb, const ds_ptrvec *order, const ds_graph *g, slot *slots, uint32_t *next,
                           const ds_node *n) {
    static const int want_sub[DS_NODE_KIND_COUNT] = {[DS_NODE_IF] = 2, [DS_NODE_WHILE] = 2, [DS_NODE_CALL] = 1};
    ds_status st;
    if ((unsigned)n->kind >= DS_NODE_KIND_COUNT || n->n_sub != want_sub[n->kind])
        return ds_errorf(DS_ERR_VALUE, "ds_graph_save: graph '%s': node %d is malformed", g->name, n->id);
    w_u8(sb, (unsigned)n->kind);
    w_u8(sb, n->effect ? 1 : 0);
    w_str(sb, n->loc.file);
    w_u32(sb, (uint32_t)n->loc.line);
    w_u32(sb, (uint32_t)n->loc.col);
    uint32_t nin = 0, nout = 0;
    for (int i = 0; i < n->n_in; i++) nin += n->in[i] && n->in[i]->kind == DS_VALUE_TOKEN ? 0 : 1;
    w_u32(sb, nin);
    for (int i = 0; i < n->n_in; i++)
        if (!(n->in[i] && n->in[i]->kind == DS_VALUE_TOKEN) && (st = w_value(sb, g, slots, n->in[i], "a node input"))) return st;
    for (int i = 0; i < n->n_out; i++) nout += n->out[i]->kind == DS_VALUE_TOKEN ? 0 : 1;
    w_u32(sb, nout);
    for (int i = 0; i < n->n_out; i++) {
        const ds_value *v = n->out[i];
        if (v->kind == DS_VALUE_TOKEN) continue;
        if (v->id < 0 || v->id >= g->n_values) return ds_errorf(DS_ERR_VALUE, "ds_graph_save: graph '%s': a bad value id", g->name);
        slots[v->id] = (slot){v, (*next)++};
        w_type(sb, &v->type);
    }
    switch (n->kind) {
    case DS_NODE_OP: {
        const ds_op_info *info = ds_op_get_info(n->op);
        if (!info || (info->n_attrs && !n->attrs)) return ds_errorf(DS_ERR_VALUE, "ds_graph_save: graph '%s': node %d has a bad op", g->name, n->id);
        w_str(sb, info->name);
        w_u8(sb, (unsigned)info->n_attrs);
        for (int i = 0; i < info->n_attrs; i++) {
            const ds_attr *a = &n->attrs[i];
            uint64_t bits;
            w_str(sb, ds_op_attr_name(n->op, i));
            w_u8(sb, (unsigned)a->kind);
            switch (a->kind) {
            case DS_ATTR_BOOL: w_u8(sb, a->v.b ? 1 : 0); break;
            case DS_ATTR_INT: w_i64(sb, a->v.i); break;
            case DS_ATTR_FLOAT:
                memcpy(&bits, &a->v.f, 8);
                w_bytes(sb, bits, 8);
                break;
            case DS_ATTR_INTS:
                w_u32(sb, (uint32_t)a->n);
                for (int64_t k = 0; k < a->n; k++) w_i64(sb, a->v.ints[k]);
                break;
            case DS_ATTR_DTYPE: w_u8(sb, (unsigned)a->v.dtype); break;
            default: break;
            }
        }
        break;
    }
    case DS_NODE_CONST: {
        const ds_tensor *t = n->constant;
        if (!t || !t->contiguous || nout != 1 || !ds_shape_equal(t->ndim, t->shape, n->out[0]->type.ndim, n->out[0]->type.shape))
            return ds_errorf(DS_ERR_VALUE, "ds_graph_save: graph '%s': constant node %d is malformed", g->name, n->id);
        size_t size = ds_dtype_size(t->dtype), nbytes = (size_t)t->numel * size;
        w_i64(sb, (int64_t)nbytes);
        if (ds_strbuf_reserve(sb, nbytes)) return sb->status;
        ds_irio_copy_elems(sb->data + sb->len, t->data, (size_t)t->numel, size, !ds_irio_little_endian());
        sb->len += nbytes;
        sb->data[sb->len] = '\0';
        break;
    }
    case DS_NODE_IF:
    case DS_NODE_WHILE:
    case DS_NODE_CALL:
        for (int k = 0; k < n->n_sub; k++) {
            int gi = 0;
            while (gi < order->n && order->items[gi] != n->sub[k]) gi++;
            w_u32(sb, (uint32_t)gi);
        }
        break;
    case DS_NODE_PRINT:
    case DS_NODE_CALLBACK: w_str(sb, n->text ? n->text : ""); break;
    default: break;
    }
    return DS_OK;
}

static ds_status save_graph(ds_strbuf *sb, const ds_ptrvec *order, const ds_graph *g) {
    if (!g->closed) return ds_errorf(DS_ERR_VALUE, "ds_graph_save: graph '%s' has no outputs set", g->name);
    slot *slots = ds_calloc(sizeof(slot) * (size_t)(g->n_values + 1));
    if (!slots) return DS_ERR_NOMEM;
    ds_status st = DS_OK;
    uint32_t next = 0;
    w_str(sb, g->name);
    w_u32(sb, (uint32_t)g->symbols.n);
    for (int i = 0; i < g->symbols.n; i++) w_str(sb, g->symbols.items[i]);
    w_u32(sb, (uint32_t)g->params.n);
    for (int i = 0; i < g->params.n; i++) {
        const ds_value *v = g->params.items[i];
        if (v->id < 0 || v->id >= g->n_values) {
            st = ds_errorf(DS_ERR_VALUE, "ds_graph_save: graph '%s': a bad value id", g->name);
            goto done;
        }
        slots[v->id] = (slot){v, next++};
        w_str(sb, v->name ? v->name : "");
        w_u8(sb, v->weight ? 1 : 0);
        w_type(sb, &v->type);
    }
    w_u32(sb, (uint32_t)g->nodes.n);
    for (int i = 0; i < g->nodes.n && !st; i++) st = save_node(sb, order, g, slots, &next, g->nodes.items[i]);
    w_u32(sb, (uint32_t)g->outputs.n);
    for (int i = 0; i < g->outputs.n && !st; i++) st = w_value(sb, g, slots, g->outputs.items[i], "an output");
    w_u8(sb, g->entry_token ? 1 : 0);
done:
    ds_free(slots);
    return st ? st : sb->status;
}

ds_status ds_graph_save_buffer(const ds_graph *g, void **data, size_t *size) {
    if (!g || !data || !size) return ds_errorf(DS_ERR_VALUE, "ds_graph_save_buffer: NULL argument");
    ds_ptrvec order = {0};
    ds_strbuf sb;
    ds_strbuf_init(&sb);
    ds_status st = ds_irio_graph_order(g, &order);
    if (!st) {
        ds_strbuf_append(&sb, MAGIC, 4);
        w_u32(&sb, VERSION);
        w_u32(&sb, (uint32_t)order.n);
    }
    for (int i = 0; i < order.n && !st; i++) st = save_graph(&sb, &order, order.items[i]);
    size_t n = sb.len;
    char *buf;
    if (!st && !(st = ds_strbuf_finish(&sb, &buf))) {
        *data = buf;
        *size = n;
    }
    ds_strbuf_deinit(&sb);
    ds_ptrvec_deinit(&order);
    return st;
}

/* ---------------------------------------------------------------- reading */
typedef struct reader {
    const unsigned char *p;
    size_t n, off;
    ds_strbuf str;     /* the last string read */
    ds_ptrvec graphs;  /* loaded graphs (owned references) */
    int *depth;        /* per graph: how deep its subgraphs nest */
    ds_ptrvec vals;    /* values of the graph being loaded, by file index */
    ds_value **args;
    uint32_t cap_args;
    int64_t *ints[DS_MAX_ATTRS];
} reader;

static ds_status bad(const reader *r, const char *what) {
    return ds_errorf(DS_ERR_VALUE, "graph file: %s at byte %zu", what, r->off);
}

static ds_status r_uint(reader *r, int n, uint64_t *out) {
    if (r->n - r->off < (size_t)n) return ds_errorf(DS_ERR_VALUE, "graph file: truncated at byte %zu", r->n);
    uint64_t v = 0;
    for (int i = 0; i < n; i++) v |= (uint64_t)r->p[r->off + i] << (8 * i);
    r->off += (size_t)n;
    *out = v;
    return DS_OK;
}

#define READ(n, dst)                                                                               \
    do {                                                                                           \
        uint64_t v_ = 0;                                                                             \
        if ((st = r_uint(r, n, &v_))) return st;                                                   \
        dst = v_;                                                                                  \
    } while (0)

/* A count of items of at least `each` bytes, bounded by the bytes left. */
static ds_status r_count(reader *r, size_t each, uint32_t *out) {
    uint64_t v = 0;
    ds_status st = r_uint(r, 4, &v);
    if (st) return st;
    if (v > (r->n - r->off) / each) {
        r->off -= 4;
        return bad(r, "a count larger than the data");
    }
    *out = (uint32_t)v;
    return DS_OK;
}

/* Reads a string into r->str; *present is false for "no string". */
static ds_status r_str(reader *r, bool *present) {
    uint64_t n = 0;
    ds_status st = r_uint(r, 4, &n);
    if (st) return st;
    *present = n != NO_STRING;
    if (!*present) n = 0;
    if (n > r->n - r->off) return ds_errorf(DS_ERR_VALUE, "graph file: truncated at byte %zu", r->n);
    if (memchr(r->p + r->off, 0, n)) return bad(r, "a string holding a NUL byte");
    ds_strbuf_truncate(&r->str, 0);
    ds_strbuf_reserve(&r->str, 0);
    ds_strbuf_append(&r->str, (const char *)r->p + r->off, n);
    r->off += n;
    return r->str.status;
}

static ds_status r_name(reader *r) { /* a string that must be present */
    bool present;
    ds_status st = r_str(r, &present);
    if (!st && !present) return bad(r, "a missing name");
    return st;
}

static ds_status r_type(reader *r, ds_meta *m) {
    ds_status st;
    unsigned dt, nd;
    READ(1, dt);
    READ(1, nd);
    if (dt >= DS_DTYPE_COUNT) return bad(r, "an invalid dtype");
    if (nd > DS_MAX_DIMS) return bad(r, "an invalid rank");
    m->dtype = (ds_dtype)dt;
    m->ndim = (int)nd;
    for (unsigned d = 0; d < nd; d++) {
        int64_t dim;
        READ(8, dim);
        if (dim < DS_DIM_SYM(DS_IRIO_MAX_SYMBOL - 1)) return bad(r, "an invalid dim");
        m->shape[d] = dim;
    }
    if (!ds_irio_dims_fit(m)) return bad(r, "a shape with too many elements");
    return DS_OK;
}

/* A builder failure while loading, as DS_ERR_VALUE naming the graph and node. */
static ds_status build_err(const ds_graph *g, int node, ds_status st) {
    if (st == DS_OK || st == DS_ERR_NOMEM) return st;
    char msg[900];
    snprintf(msg, sizeof msg, "%s", ds_error_message());
    if (node < 0) return ds_errorf(DS_ERR_VALUE, "graph file: graph '%s': %s", g->name, msg);
    return ds_errorf(DS_ERR_VALUE, "graph file: graph '%s', node %d: %s", g->name, node, msg);
}

static ds_status r_graph_ref(reader *r, int gi, int *depth, ds_graph **out) {
    ds_status st;
    uint32_t k;
    READ(4, k);
    if (k >= (uint32_t)gi) {
        r->off -= 4;
        return bad(r, "a reference to a graph not defined before");
    }
    *out = r->graphs.items[k];
    if (r->depth[k] + 1 > *depth) *depth = r->depth[k] + 1;
    if (*depth > DS_IRIO_MAX_DEPTH) return bad(r, "subgraphs nested too deep");
    return DS_OK;
}

static ds_status load_attrs(reader *r, ds_op_id op, ds_attr *attrs) {
    ds_status st;
    unsigned n;
    const ds_op_info *info = ds_op_get_info(op);
    READ(1, n);
    if (n > (unsigned)info->n_attrs) return bad(r, "too many attributes");
    for (unsigned k = 0; k < n; k++) {
        if ((st = r_name(r))) return st;
        int i = 0;
        while (i < info->n_attrs && strcmp(ds_op_attr_name(op, i), r->str.data) != 0) i++;
        if (i == info->n_attrs) return ds_errorf(DS_ERR_VALUE, "graph file: %s has no attribute '%s'", info->name, r->str.data);
        ds_attr *a = &attrs[i];
        unsigned kind;
        READ(1, kind);
        if (kind >= DS_ATTR_KIND_COUNT || a->kind != DS_ATTR_NONE || r->ints[i]) return bad(r, "a bad attribute");
        a->kind = (ds_attr_kind)kind;
        switch (a->kind) {
        case DS_ATTR_BOOL: {
            unsigned b;
            READ(1, b);
            if (b > 1) return bad(r, "a bad bool");
            a->v.b = b;
            break;
        }
        case DS_ATTR_INT: READ(8, a->v.i); break;
        case DS_ATTR_FLOAT: {
            uint64_t bits;
            READ(8, bits);
            memcpy(&a->v.f, &bits, 8);
            break;
        }
        case DS_ATTR_INTS: {
            uint32_t m;
            if ((st = r_count(r, 8, &m))) return st;
            if (!(r->ints[i] = ds_malloc(sizeof(int64_t) * (m ? m : 1)))) return DS_ERR_NOMEM;
            for (uint32_t j = 0; j < m; j++) READ(8, r->ints[i][j]);
            a->n = m;
            a->v.ints = r->ints[i];
            break;
        }
        case DS_ATTR_DTYPE: {
            unsigned dt;
            READ(1, dt);
            if (dt >= DS_DTYPE_COUNT) return bad(r, "an invalid dtype");
            a->v.dtype = (ds_dtype)dt;
            break;
        }
        default: break;
        }
    }
    return DS_OK;
}

static ds_status load_const(reader *r, const ds_meta *m, ds_tensor **out) {
    ds_status st;
    size_t size = ds_dtype_size(m->dtype), numel = 1, room = r->n - r->off;
    uint64_t nbytes;
    for (int d = 0; d < m->ndim; d++) {
        if (m->shape[d] < 0) return bad(r, "a constant of unknown shape");
        if (m->shape[d] && numel > room / size / (size_t)m->shape[d]) return ds_errorf(DS_ERR_VALUE, "graph file: truncated at byte %zu", r->n);
        numel *= (size_t)m->shape[d];
    }
    READ(8, nbytes);
    if (nbytes != numel * size) return bad(r, "constant data of the wrong size");
    if (nbytes > r->n - r->off) return ds_errorf(DS_ERR_VALUE, "graph file: truncated at byte %zu", r->n);
    if ((st = ds_tensor_new(m->dtype, m->ndim, m->shape, out))) return st;
    ds_irio_copy_elems(ds_tensor_data(*out), r->p + r->off, numel, size, !ds_irio_little_endian());
    r->off += nbytes;
    return DS_OK;
}

static ds_status load_node(reader *r, ds_graph *g, int gi, int index, int *depth) {
    ds_status st;
    unsigned kind, flags;
    int32_t line, col;
    uint32_t nin, nout;
    bool present;
    ds_meta types[DS_OP_MAX_OUT];
    READ(1, kind);
    READ(1, flags);
    if (kind >= DS_NODE_KIND_COUNT) return bad(r, "an unknown node kind");
    if (flags > 1) return bad(r, "unknown node flags");
    if ((st = r_str(r, &present))) return st;
    if ((st = ds_irio_set_loc(g, present ? r->str.data : NULL, 0, 0))) return st;
    READ(4, line);
    READ(4, col);
    g->cur_loc.line = line;
    g->cur_loc.col = col;
    if ((st = r_count(r, 4, &nin))) return st;
    if (nin > r->cap_args) {
        ds_free(r->args);
        r->cap_args = 0;
        if (!(r->args = ds_malloc(sizeof(ds_value *) * nin))) return DS_ERR_NOMEM;
        r->cap_args = nin;
    }
    for (uint32_t i = 0; i < nin; i++) {
        uint32_t k;
        READ(4, k);
        if (k >= (uint32_t)r->vals.n) {
            r->off -= 4;
            return bad(r, "a value used before it is defined");
        }
        r->args[i] = r->vals.items[k];
    }
    if ((st = r_count(r, 2, &nout))) return st;
    if (nout > DS_OP_MAX_OUT) return bad(r, "too many outputs");
    for (uint32_t i = 0; i < nout; i++)
        if ((st = r_type(r, &types[i]))) return st;
    ds_value *outs[DS_OP_MAX_OUT], *v;
    ds_graph *sub[2];
    ds_tensor *t = NULL;
    ds_value **a = r->args;
    int n = (int)nin, got = 0, before = g->nodes.n;
    switch ((ds_node_kind)kind) {
    case DS_NODE_OP: {
        ds_attr attrs[DS_MAX_ATTRS];
        memset(attrs, 0, sizeof attrs);
        if ((st = r_name(r))) return st;
        ds_op_id op = ds_op_lookup(r->str.data);
        if (op == DS_OP_COUNT) return ds_errorf(DS_ERR_VALUE, "graph file: unknown op '%s'", r->str.data);
        if (!(st = load_attrs(r, op, attrs))) st = build_err(g, index, ds_graph_add_op(g, op, n, a, attrs, DS_OP_MAX_OUT, outs, &got));
        for (int i = 0; i < DS_MAX_ATTRS; i++) {
            ds_free(r->ints[i]);
            r->ints[i] = NULL;
        }
        break;
    }
    case DS_NODE_CONST:
        if (nout != 1 || nin != 0) return bad(r, "a malformed constant");
        if (!(st = load_const(r, &types[0], &t))) st = build_err(g, index, ds_graph_add_const(g, t, &v));
        ds_tensor_release(t);
        break;
    case DS_NODE_IF:
    case DS_NODE_WHILE:
        if ((st = r_graph_ref(r, gi, depth, &sub[0])) || (st = r_graph_ref(r, gi, depth, &sub[1]))) return st;
        if (kind == DS_NODE_WHILE) st = build_err(g, index, ds_graph_add_while(g, sub[0], sub[1], n, a, outs));
        else if (n < 1) return bad(r, "an If without a condition");
        else st = build_err(g, index, ds_graph_add_if(g, a[0], sub[0], sub[1], n - 1, a + 1, DS_OP_MAX_OUT, outs, &got));
        break;
    case DS_NODE_CALL:
        if (!(st = r_graph_ref(r, gi, depth, &sub[0]))) st = build_err(g, index, ds_graph_add_call(g, sub[0], n, a, DS_OP_MAX_OUT, outs, &got));
        break;
    case DS_NODE_PRINT:
        if (!(st = r_name(r))) st = build_err(g, index, ds_graph_add_print(g, r->str.data, n, a));
        break;
    case DS_NODE_ASSIGN:
        if (n != 2) return bad(r, "an Assign without two inputs");
        st = build_err(g, index, ds_graph_add_assign(g, a[0], a[1]));
        break;
    default: {
        ds_dtype dts[DS_OP_MAX_OUT];
        int nds[DS_OP_MAX_OUT];
        const int64_t *dims[DS_OP_MAX_OUT];
        for (uint32_t i = 0; i < nout; i++) {
            dts[i] = types[i].dtype;
            nds[i] = types[i].ndim;
            dims[i] = types[i].shape;
        }
        if (!(st = r_name(r)))
            st = build_err(g, index, ds_graph_add_callback(g, r->str.data, NULL, NULL, n, a, (int)nout, dts, nds, dims, outs));
    }
    }
    if (st) return st;
    if (g->nodes.n != before + 1) return ds_errorf(DS_ERR_INTERNAL, "graph file: the builder did not add one node");
    ds_node *node = g->nodes.items[before];
    if (node->effect != (flags == 1)) return ds_errorf(DS_ERR_VALUE, "graph file: graph '%s', node %d: effect flag differs from the builder's", g->name, index);
    if (node->n_out - (node->effect ? 1 : 0) != (int)nout)
        return ds_errorf(DS_ERR_VALUE, "graph file: graph '%s', node %d: the builder gives %d outputs, the file %u", g->name, index,
                         node->n_out - (node->effect ? 1 : 0), nout);
    for (uint32_t i = 0; i < nout; i++) {
        if (!ds_meta_equal(&node->out[i]->type, &types[i]))
            return ds_errorf(DS_ERR_VALUE, "graph file: graph '%s', node %d: output %u's type differs from the builder's", g->name, index, i);
        if ((st = ds_ptrvec_push(&r->vals, node->out[i]))) return st;
    }
    return DS_OK;
}

static ds_status load_graph(reader *r, int gi) {
    ds_status st;
    ds_graph *g;
    uint32_t count;
    if ((st = r_name(r)) || (st = ds_graph_new(r->str.data, &g))) return st;
    if ((st = ds_ptrvec_push(&r->graphs, g))) {
        ds_graph_release(g);
        return st;
    }
    r->vals.n = 0;
    int depth = 0;
    if ((st = r_count(r, 4, &count))) return st;
    for (uint32_t i = 0; i < count; i++) {
        int64_t dim;
        int before = g->symbols.n;
        if ((st = r_name(r)) || (st = ds_graph_symbol(g, r->str.data, &dim))) return st;
        if (g->symbols.n == before) return bad(r, "a symbol declared twice");
    }
    if ((st = r_count(r, 7, &count))) return st;
    for (uint32_t i = 0; i < count; i++) {
        ds_meta m;
        unsigned weight;
        ds_value *v;
        char *name;
        if ((st = r_name(r))) return st;
        READ(1, weight);
        if (weight > 1) return bad(r, "a bad weight flag");
        if ((st = r_type(r, &m))) return st;
        name = r->str.data;
        if ((st = build_err(g, -1, ds_graph_add_param(g, name, m.dtype, m.ndim, m.shape, weight, &v)))) return st;
        if ((st = ds_ptrvec_push(&r->vals, v))) return st;
    }
    if ((st = r_count(r, 22, &count))) return st;
    for (uint32_t i = 0; i < count; i++)
        if ((st = load_node(r, g, gi, (int)i, &depth))) return st;
    if ((st = r_count(r, 4, &count))) return st;
    if (count > r->cap_args) {
        ds_free(r->args);
        r->cap_args = 0;
        if (!(r->args = ds_malloc(sizeof(ds_value *) * count))) return DS_ERR_NOMEM;
        r->cap_args = count;
    }
    for (uint32_t i = 0; i < count; i++) {
        uint32_t k;
        READ(4, k);
        if (k >= (uint32_t)r->vals.n) {
            r->off -= 4;
            return bad(r, "an output that is not a value of the graph");
        }
        r->args[i] = r->vals.items[k];
    }
    if ((st = build_err(g, -1, ds_graph_set_outputs(g, (int)count, r->args)))) return st;
    unsigned flags;
    READ(1, flags);
    if (flags > 1 || (!flags && g->entry_token)) return bad(r, "graph flags that do not match its effects");
    if (flags && !ds_ir_token(g)) return DS_ERR_NOMEM;
    r->depth[gi] = depth;
    return DS_OK;
}

ds_status ds_graph_load_buffer(const void *data, size_t size, ds_graph **out) {
    if ((!data && size) || !out) return ds_errorf(DS_ERR_VALUE, "ds_graph_load_buffer: NULL argument");
    reader rd, *r = &rd;
    memset(r, 0, sizeof *r);
    r->p = data;
    r->n = size;
    ds_strbuf_init(&r->str);
    ds_status st = DS_OK;
    uint32_t version, count;
    if (size < 4 || memcmp(data, MAGIC, 4) != 0) {
        bool prefix = size < 4 && (size == 0 || memcmp(data, MAGIC, size) == 0);
        st = prefix ? ds_errorf(DS_ERR_VALUE, "graph file: truncated at byte %zu", size)
                    : ds_errorf(DS_ERR_VALUE, "graph file: not a dynastat graph file (no DSGR magic)");
        goto done;
    }
    r->off = 4;
    uint64_t v = 0;
    if ((st = r_uint(r, 4, &v))) goto done;
    version = (uint32_t)v;
    if (version != VERSION) {
        st = ds_errorf(DS_ERR_VALUE, "graph file: unsupported version %u (this build reads version %u)", version, VERSION);
        goto done;
    }
    if ((st = r_count(r, 21, &count))) goto done;
    if (count == 0) {
        st = bad(r, "no graphs");
        goto done;
    }
    if (!(r->depth = ds_malloc(sizeof(int) * count))) {
        st = DS_ERR_NOMEM;
        goto done;
    }
    for (uint32_t i = 0; i < count && !st; i++) st = load_graph(r, (int)i);
    if (!st && r->off != r->n) st = bad(r, "unexpected bytes after the graphs");
    if (!st) *out = ds_graph_retain(r->graphs.items[r->graphs.n - 1]);
done:
    for (int i = 0; i < r->graphs.n; i++) ds_graph_release(r->graphs.items[i]);
    for (int i = 0; i < DS_MAX_ATTRS; i++) ds_free(r->ints[i]);
    ds_ptrvec_deinit(&r->graphs);
    ds_ptrvec_deinit(&r->vals);
    ds_free(r->depth);
    ds_free(r->args);
    ds_strbuf_deinit(&r->str);
    return st;
}

/* ---------------------------------------------------------------- files */
ds_status ds_graph_save(const ds_graph *g, const char *path) {
    if (!path) return ds_errorf(DS_ERR_VALUE, "ds_graph_save: NULL path");
    void *data;
    size_t size;
    ds_status st = ds_graph_save_buffer(g, &data, &size);
    if (st) return st;
    FILE *f = fopen(path, "wb");
    if (!f) st = ds_errorf(DS_ERR_VALUE, "graph file '%s': %s", path, strerror(errno));
    else {
        if (fwrite(data, 1, size, f) != size) st = ds_errorf(DS_ERR_VALUE, "graph file '%s': %s", path, strerror(errno));
        if (fclose(f) != 0 && !st) st = ds_errorf(DS_ERR_VALUE, "graph file '%s': %s", path, strerror(errno));
    }
    ds_free(data);
    return st;
}

ds_status ds_graph_load(const char *path, ds_graph **out) {
    if (!path || !out) return ds_errorf(DS_ERR_VALUE, "ds_graph_load: NULL argument");
    FILE *f = fopen(path, "rb");
    if (!f) return ds_errorf(DS_ERR_VALUE, "graph file '%s': %s", path, strerror(errno));
    ds_status st = DS_OK;
    char *buf = NULL;
    size_t len = 0, cap = 0;
    for (;;) {
        if (len == cap) {
            size_t ncap = cap ? 2 * cap : 1 << 16;
            char *nb = ds_malloc(ncap);
            if (!nb) {
                st = DS_ERR_NOMEM;
                break;
            }
            if (len) memcpy(nb, buf, len);
            ds_free(buf);
            buf = nb;
            cap = ncap;
        }
        size_t got = fread(buf + len, 1, cap - len, f);
        len += got;
        if (got == 0) {
            if (ferror(f)) st = ds_errorf(DS_ERR_VALUE, "graph file '%s': %s", path, strerror(errno));
            break;
        }
    }
    fclose(f);
    if (!st) {
        st = ds_graph_load_buffer(buf, len, out);
        if (st && st != DS_ERR_NOMEM) {
            char msg[900];
            snprintf(msg, sizeof msg, "%s", ds_error_message());
            const char *rest = strncmp(msg, "graph file: ", 12) == 0 ? msg + 12 : msg;
            ds_errorf(st, "graph file '%s': %s", path, rest);
        }
    }
    ds_free(buf);
    return st;
}
