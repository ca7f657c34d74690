/* The op registry, expanded from include/dynastat_ops.def: per op its info, attribute schema and impl. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "base/status.h"
#include "ops/op.h"


static op_entry g_ops[DS_OP_COUNT] = {
#define DS_OP(ID, name, prim, kind, nin, nout, attrs) \
    [DS_OP_##ID] = {.info = {name, prim, DS_KIND_##kind, nin, nout, attrs, 0}},
#include "dynastat_ops.def"
#undef DS_OP
};
static pthread_once_t g_once = PTHREAD_ONCE_INIT;
static bool g_ready;

/* Parses "name:type[=default];..." into the entry's attribute table. */
static void parse_schema(op_entry *e) {
    const char *s = e->info.attr_schema;
    int n = 0;
    while (*s && n < DS_MAX_ATTRS) {
        const char *end = strchr(s, ';');
        size_t len = end ? (size_t)(end - s) : strlen(s);
        char buf[96];
        if (len >= sizeof buf) len = sizeof buf - 1;
        memcpy(buf, s, len);
        buf[len] = '\0';
        char *colon = strchr(buf, ':'), *eq = strchr(buf, '=');
        DS_ASSERT(colon);
        *colon = '\0';
        if (eq) *eq = '\0';
        snprintf(e->names[n], sizeof e->names[n], "%s", buf);
        const char *type = colon + 1, *def = eq ? eq + 1 : NULL;
        ds_attr_kind k = !strcmp(type, "bool")    ? DS_ATTR_BOOL
                         : !strcmp(type, "int")   ? DS_ATTR_INT
                         : !strcmp(type, "float") ? DS_ATTR_FLOAT
                         : !strcmp(type, "ints")  ? DS_ATTR_INTS
                                                  : DS_ATTR_DTYPE;
        e->kinds[n] = k;
        ds_attr d = {.kind = DS_ATTR_NONE};
        e->required[n] = def == NULL;
        if (def && strcmp(def, "None") != 0) {
            d.kind = k;
            switch (k) {
            case DS_ATTR_BOOL: d.v.b = !strcmp(def, "True"); break;
            case DS_ATTR_INT: d.v.i = strtoll(def, NULL, 10); break;
            case DS_ATTR_FLOAT: d.v.f = strtod(def, NULL); break;
            case DS_ATTR_DTYPE: ds_dtype_from_name(def, &d.v.dtype); break;
            default: d.kind = DS_ATTR_NONE; break;
            }
        }
        e->defaults[n++] = d;
        s += len;
        if (*s == ';') s++;
    }
    e->info.n_attrs = n;
}

static void init_registry(void) {
    ds_op_impl table[DS_OP_COUNT];
    memset(table, 0, sizeof table);
    ds_ops_register_elementwise(table);
    ds_ops_register_reduce(table);
    ds_ops_register_matmul(table);
    ds_ops_register_view(table);
    ds_ops_register_shape(table);
    ds_ops_register_index(table);
    ds_ops_register_create(table);
    ds_ops_register_grad(table);
    ds_ops_register_conv(table);
    ds_ops_register_nn(table);
    for (int i = 0; i < DS_OP_COUNT; i++) {
        g_ops[i].impl = table[i];
        parse_schema(&g_ops[i]);
    }
    g_ready = true;
}

static inline void ensure_ready(void) {
    if (__builtin_expect(!g_ready, 0)) pthread_once(&g_once, init_registry);
}

const op_entry *ds_op_entry_get(ds_op_id op) {
    ensure_ready();
    return &g_ops[op];
}

const ds_op_info *ds_op_get_info(ds_op_id op) {
    if ((unsigned)op >= DS_OP_COUNT) return NULL;
    ensure_ready();
    return &g_ops[op].info;
}

ds_op_id ds_op_lookup(const char *name) {
    for (int i = 0; i < DS_OP_COUNT; i++)
        if (!strcmp(g_ops[i].info.name, name)) return (ds_op_id)i;
    return DS_OP_COUNT;
}

/* Name of attribute i of op (for the Python layer and messages). */
const char *ds_op_attr_name(ds_op_id op, int i) {
    ensure_ready();
    return (unsigned)op < DS_OP_COUNT && i < g_ops[op].info.n_attrs ? g_ops[op].names[i] : NULL;
}

/* Whether the op has an implementation (the registry test checks every op does). */
bool ds_op_is_implemented(ds_op_id op) {
    ensure_ready();
    return (unsigned)op < DS_OP_COUNT && g_ops[op].impl.run && g_ops[op].impl.infer;
}

void ds_meta_of(const ds_tensor *t, ds_meta *m) {
    m->dtype = t->dtype;
    m->ndim = t->ndim;
    memcpy(m->shape, t->shape, sizeof(int64_t) * (size_t)t->ndim);
}

static const char *const k_attr_kind_name[DS_ATTR_KIND_COUNT] = {"None", "bool", "int", "float", "ints", "dtype"};

ds_status ds_op_fill_attrs(const op_entry *e, const ds_attr *attrs, ds_attr *full) {
    for (int i = 0; i < e->info.n_attrs; i++) {
        ds_attr a = attrs ? attrs[i] : (ds_attr){.kind = DS_ATTR_NONE};
        ds_attr_kind want = e->kinds[i];
        if (a.kind == DS_ATTR_NONE) {
            if (e->required[i])
                return ds_errorf(DS_ERR_VALUE, "missing required attribute '%s'", e->names[i]);
            a = e->defaults[i];
        } else if (a.kind != want) {
            if (want == DS_ATTR_FLOAT && a.kind == DS_ATTR_INT) a = (ds_attr){.kind = DS_ATTR_FLOAT, .v.f = (double)a.v.i};
            else if (want == DS_ATTR_FLOAT && a.kind == DS_ATTR_BOOL) a = (ds_attr){.kind = DS_ATTR_FLOAT, .v.f = a.v.b};
            else if (want == DS_ATTR_INT && a.kind == DS_ATTR_BOOL) a = (ds_attr){.kind = DS_ATTR_INT, .v.i = a.v.b};
            else if (want == DS_ATTR_BOOL && a.kind == DS_ATTR_INT) a = (ds_attr){.kind = DS_ATTR_BOOL, .v.b = a.v.i != 0};
            else
                return ds_errorf(DS_ERR_DTYPE, "attribute '%s' must be %s, got %s", e->names[i],
                                 k_attr_kind_name[want], k_attr_kind_name[a.kind]);
        }
        full[i] = a;
    }
    return DS_OK;
}
