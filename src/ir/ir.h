/* The graph IR's data structures (public API in include/dynastat.h, section "graph IR").
 * Passes, the printer/parser, the file format, autodiff and the executor work on these directly. */
#ifndef DS_IR_IR_H
#define DS_IR_IR_H
#include "base/arena.h"
#include "ops/op.h"

typedef enum ds_value_kind {
    DS_VALUE_TENSOR,
    DS_VALUE_TOKEN, /* the state token ordering effects (no data) */
} ds_value_kind;

struct ds_value {
    int id;              /* unique within its graph, dense from 0 */
    ds_value_kind kind;
    ds_meta type;        /* dtype and dims (see DS_DIM_*) */
    ds_node *producer;   /* NULL for parameters and the entry token */
    int index;           /* output index in producer, or parameter index (-1 for the entry token) */
    const char *name;    /* parameter name, or NULL */
    bool weight;         /* a trainable parameter (ASSIGN target) */
    int uses;            /* number of node inputs and graph outputs reading it */
};

typedef struct ds_loc {
    const char *file; /* arena string or NULL */
    int line, col;
} ds_loc;

struct ds_node {
    int id;
    ds_node_kind kind;
    ds_op_id op;         /* DS_NODE_OP */
    int n_in, n_out;
    ds_value **in;       /* for effectful nodes the last input is the token */
    ds_value **out;      /* for effectful nodes the last output is the token */
    ds_attr *attrs;      /* DS_NODE_OP: info->n_attrs entries (INTS copied into the arena) */
    int n_sub;
    ds_graph **sub;      /* retained subgraphs (If: then, else; While: cond, body; Call: callee) */
    ds_tensor *constant; /* DS_NODE_CONST (retained) */
    const char *text;    /* PRINT prefix / CALLBACK name */
    ds_host_fn fn;       /* CALLBACK */
    void *fn_ctx;
    bool effect;         /* threads the token */
    ds_loc loc;
    void *pass_data;     /* scratch for passes */
};

struct ds_graph {
    int64_t refcount;
    char *name;
    ds_arena arena;
    ds_ptrvec params;   /* ds_value* */
    ds_ptrvec nodes;    /* ds_node*, program order */
    ds_ptrvec outputs;  /* ds_value* (the exit token is kept separately) */
    ds_ptrvec symbols;  /* char* names of symbolic dims */
    ds_value *entry_token; /* created on the first effect (or by a subgraph that has effects) */
    ds_value *cur_token;   /* the token the next effect consumes */
    int n_values;
    bool closed;        /* outputs set */
    ds_loc cur_loc;
};

/* Internal builder pieces shared by the builder, parser, file loader and passes. */
ds_value *ds_ir_new_value(ds_graph *g, ds_value_kind kind, const ds_meta *type);
/* A node with room for n_in inputs and n_out outputs (outputs get fresh values of the given types). */
ds_node *ds_ir_new_node(ds_graph *g, ds_node_kind kind, int n_in, ds_value *const *in, int n_out,
                        const ds_meta *out_types);
ds_status ds_ir_append(ds_graph *g, ds_node *n);
/* The current token, creating the entry token if needed. */
ds_value *ds_ir_token(ds_graph *g);
/* Copies attrs (with INTS arrays) into the graph's arena. */
ds_attr *ds_ir_copy_attrs(ds_graph *g, const ds_attr *attrs, int n);
/* Formats a source location as "file:line:col" into buf ("" when none). */
const char *ds_loc_str(const ds_loc *loc, char *buf, size_t n);
/* Infers op outputs for inputs with possibly symbolic/unknown dims. */
ds_status ds_ir_infer(ds_op_id op, int n_in, const ds_meta *in, const ds_attr *attrs, ds_meta *out, int *n_out);
/* Whether an op has side effects (random ops, in-place writes). */
bool ds_op_is_effectful(ds_op_id op);
/* Types equal (dtype and dims, symbols compared by index). */
bool ds_meta_equal(const ds_meta *a, const ds_meta *b);
#endif
