/* Graph lifetime, values, nodes and accessors. */
#include <stdio.h>
#include <string.h>

#include "base/alloc.h"
#include "base/status.h"
#include "ir/ir.h"

ds_status ds_graph_new(const char *name, ds_graph **out) {
    ds_graph *g = ds_calloc(sizeof(ds_graph));
    if (!g) return DS_ERR_NOMEM;
    g->refcount = 1;
    ds_arena_init(&g->arena);
    g->name = ds_strdup(name ? name : "graph");
    if (!g->name) {
        ds_free(g);
        return DS_ERR_NOMEM;
    }
    *out = g;
    return DS_OK;
}

ds_graph *ds_graph_retain(ds_graph *g) {
    if (g) g->refcount++;
    return g;
}

void ds_graph_release(ds_graph *g) {
    if (!g || --g->refcount > 0) return;
    for (int i = 0; i < g->nodes.n; i++) {
        ds_node *n = g->nodes.items[i];
        ds_tensor_release(n->constant);
        for (int k = 0; k < n->n_sub; k++) ds_graph_release(n->sub[k]);
    }
    for (int i = 0; i < g->symbols.n; i++) ds_free(g->symbols.items[i]);
    ds_ptrvec_deinit(&g->params);
    ds_ptrvec_deinit(&g->nodes);
    ds_ptrvec_deinit(&g->outputs);
    ds_ptrvec_deinit(&g->symbols);
    ds_arena_deinit(&g->arena);
    ds_free(g->name);
    ds_free(g);
}

const char *ds_graph_name(const ds_graph *g) { return g->name; }

ds_status ds_graph_symbol(ds_graph *g, const char *name, int64_t *dim) {
    for (int i = 0; i < g->symbols.n; i++)
        if (!strcmp(g->symbols.items[i], name)) {
            *dim = DS_DIM_SYM(i);
            return DS_OK;
        }
    char *s = ds_strdup(name);
    if (!s) return DS_ERR_NOMEM;
    ds_status st = ds_ptrvec_push(&g->symbols, s);
    if (st) {
        ds_free(s);
        return st;
    }
    *dim = DS_DIM_SYM(g->symbols.n - 1);
    return DS_OK;
}

void ds_graph_set_loc(ds_graph *g, const char *file, int line, int col) {
    if (file && (!g->cur_loc.file || strcmp(file, g->cur_loc.file) != 0)) {
        const char *copy = ds_arena_strdup(&g->arena, file);
        if (copy) g->cur_loc.file = copy;
    } else if (!file) g->cur_loc.file = NULL;
    g->cur_loc.line = line;
    g->cur_loc.col = col;
}

const char *ds_loc_str(const ds_loc *loc, char *buf, size_t n) {
    if (!loc || loc->line <= 0) {
        buf[0] = '\0';
        return buf;
    }
    if (loc->col > 0) snprintf(buf, n, "%s:%d:%d", loc->file ? loc->file : "?", loc->line, loc->col);
    else snprintf(buf, n, "%s:%d", loc->file ? loc->file : "?", loc->line);
    return buf;
}

ds_value *ds_ir_new_value(ds_graph *g, ds_value_kind kind, const ds_meta *type) {
    ds_value *v = ds_arena_alloc(&g->arena, sizeof(ds_value));
    if (!v) return NULL;
    v->id = g->n_values++;
    v->kind = kind;
    if (type) v->type = *type;
    v->index = -1;
    return v;
}

ds_node *ds_ir_new_node(ds_graph *g, ds_node_kind kind, int n_in, ds_value *const *in, int n_out,
                        const ds_meta *out_types) {
    ds_node *n = ds_arena_alloc(&g->arena, sizeof(ds_node));
    if (!n) return NULL;
    n->kind = kind;
    n->n_in = n_in;
    n->n_out = n_out;
    n->in = ds_arena_alloc(&g->arena, sizeof(ds_value *) * (size_t)(n_in + 1));
    n->out = ds_arena_alloc(&g->arena, sizeof(ds_value *) * (size_t)(n_out + 1));
    if (!n->in || !n->out) return NULL;
    for (int i = 0; i < n_in; i++) n->in[i] = in ? in[i] : NULL;
    for (int i = 0; i < n_out; i++) {
        n->out[i] = ds_ir_new_value(g, DS_VALUE_TENSOR, out_types ? &out_types[i] : NULL);
        if (!n->out[i]) return NULL;
        n->out[i]->producer = n;
        n->out[i]->index = i;
    }
    n->loc = g->cur_loc;
    return n;
}

ds_status ds_ir_append(ds_graph *g, ds_node *n) {
    if (g->closed) return ds_errorf(DS_ERR_VALUE, "graph '%s' is closed (its outputs are set)", g->name);
    n->id = g->nodes.n;
    ds_status st = ds_ptrvec_push(&g->nodes, n);
    if (st) return st;
    for (int i = 0; i < n->n_in; i++)
        if (n->in[i]) n->in[i]->uses++;
    return DS_OK;
}

ds_value *ds_ir_token(ds_graph *g) {
    if (!g->cur_token) {
        g->entry_token = ds_ir_new_value(g, DS_VALUE_TOKEN, NULL);
        g->cur_token = g->entry_token;
    }
    return g->cur_token;
}

ds_attr *ds_ir_copy_attrs(ds_graph *g, const ds_attr *attrs, int n) {
    if (n == 0) return NULL;
    ds_attr *a = ds_arena_alloc(&g->arena, sizeof(ds_attr) * (size_t)n);
    if (!a) return NULL;
    for (int i = 0; i < n; i++) {
        a[i] = attrs ? attrs[i] : (ds_attr){.kind = DS_ATTR_NONE};
        if (a[i].kind == DS_ATTR_INTS) {
            int64_t *ints = ds_arena_alloc(&g->arena, sizeof(int64_t) * (size_t)(a[i].n ? a[i].n : 1));
            if (!ints) return NULL;
            if (a[i].n) memcpy(ints, attrs[i].v.ints, sizeof(int64_t) * (size_t)a[i].n);
            a[i].v.ints = ints;
        }
    }
    return a;
}

bool ds_meta_equal(const ds_meta *a, const ds_meta *b) {
    return a->dtype == b->dtype && ds_shape_equal(a->ndim, a->shape, b->ndim, b->shape);
}

int ds_graph_num_params(const ds_graph *g) { return g->params.n; }
ds_value *ds_graph_param(const ds_graph *g, int i) { return i >= 0 && i < g->params.n ? g->params.items[i] : NULL; }
int ds_graph_num_outputs(const ds_graph *g) { return g->outputs.n; }
ds_value *ds_graph_output(const ds_graph *g, int i) { return i >= 0 && i < g->outputs.n ? g->outputs.items[i] : NULL; }
int ds_graph_num_nodes(const ds_graph *g) { return g->nodes.n; }
ds_node *ds_graph_node(const ds_graph *g, int i) { return i >= 0 && i < g->nodes.n ? g->nodes.items[i] : NULL; }
ds_dtype ds_value_dtype(const ds_value *v) { return v->type.dtype; }
int ds_value_ndim(const ds_value *v) { return v->type.ndim; }
const int64_t *ds_value_dims(const ds_value *v) { return v->type.shape; }
