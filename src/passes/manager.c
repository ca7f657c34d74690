/* The pass manager: pipelines of passes to a fixed point, verification after every pass, IR dumps. */
#include "passes/manager.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "base/status.h"
#include "passes/rewrite.h"

static const ds_pass k_passes[] = {
    {"inline", ds_pass_inline}, {"simplify", ds_pass_simplify}, {"fold", ds_pass_fold},
    {"cse", ds_pass_cse},       {"dce", ds_pass_dce},
};
#define N_PASSES ((int)(sizeof k_passes / sizeof k_passes[0]))

const ds_pass *ds_pass_find(const char *name) {
    for (int i = 0; name && i < N_PASSES; i++)
        if (!strcmp(k_passes[i].name, name)) return &k_passes[i];
    return NULL;
}

/* Writes the graph's text to "<dir>/<graph>.<nn>.<pass>.ir" (file-name-unsafe characters become '_'). */
static ds_status dump(const char *dir, const ds_graph *g, int seq, const char *pass) {
    char name[128], path[1024];
    size_t i = 0;
    for (const char *s = g->name; *s && i < sizeof name - 1; s++, i++) {
        char c = *s;
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
        name[i] = ok ? c : '_';
    }
    name[i] = '\0';
    int len = snprintf(path, sizeof path, "%s/%s.%02d.%s.ir", dir, name, seq, pass);
    if (len < 0 || (size_t)len >= sizeof path) return ds_errorf(DS_ERR_VALUE, "DS_DUMP_IR: the path for '%s' is too long", name);
    char *text = NULL;
    ds_status st = ds_graph_print(g, &text);
    if (st) return st;
    FILE *f = fopen(path, "w");
    bool ok = f && fputs(text, f) >= 0;
    if (f && fclose(f) != 0) ok = false;
    ds_free(text);
    if (!ok) return ds_errorf(DS_ERR_VALUE, "DS_DUMP_IR: cannot write '%s'", path);
    return DS_OK;
}

ds_status ds_pass_pipeline(const ds_graph *g, const ds_pass *passes, int n, int max_rounds, ds_graph **out) {
    ds_status st = ds_graph_verify(g);
    if (st) return st;
    const char *dir = getenv("DS_DUMP_IR");
    if (dir && !*dir) dir = NULL;
    int seq = 0;
    if (dir && (st = dump(dir, g, seq++, "input"))) return st;
    const ds_graph *cur = g; /* the latest result; owned (a pass's output) once it differs from g */
    ds_graph *owned = NULL;
    for (int round = 0; round < max_rounds && !st; round++) {
        int changes = 0;
        for (int i = 0; i < n && !st; i++) {
            ds_graph *next = NULL;
            int c = 0;
            if ((st = passes[i].run(cur, &next, &c))) {
                char prefix[64];
                snprintf(prefix, sizeof prefix, "pass '%s'", passes[i].name);
                if (st != DS_ERR_NOMEM && !strstr(ds_error_message(), prefix)) ds_error_prefix(prefix);
                break;
            }
            if ((st = ds_graph_verify(next))) {
                char msg[1024];
                snprintf(msg, sizeof msg, "%s", ds_error_message());
                if (st != DS_ERR_NOMEM)
                    st = ds_errorf(DS_ERR_INTERNAL, "pass '%s' produced an invalid graph: %s", passes[i].name, msg);
                ds_graph_release(next);
                break;
            }
            ds_graph_release(owned);
            cur = owned = next;
            changes += c;
            if (dir) st = dump(dir, cur, seq++, passes[i].name);
        }
        if (changes == 0) break;
    }
    if (st) {
        ds_graph_release(owned);
        return st;
    }
    if (!owned) return ds_rw_clone(g, out); /* no pass ran: still hand out a graph of our own */
    *out = owned;
    return DS_OK;
}

ds_status ds_graph_optimize(const ds_graph *g, ds_graph **out) {
    return ds_pass_pipeline(g, k_passes, N_PASSES, DS_PASS_MAX_ROUNDS, out);
}

ds_status ds_graph_run_pass(const ds_graph *g, const char *pass_name, ds_graph **out) {
    const ds_pass *p = ds_pass_find(pass_name);
    if (!p) return ds_errorf(DS_ERR_VALUE, "unknown pass '%s' (passes: inline, simplify, fold, cse, dce)", pass_name ? pass_name : "(null)");
    return ds_pass_pipeline(g, p, 1, 1, out);
}
