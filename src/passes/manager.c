/* The pass manager: pipelines of passes to a fixed point, verification after every pass, IR dumps. */
#include "passes/manager.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>

#include "base/alloc.h"
#include "base/status.h"
#include "base/strbuf.h"
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

/* ---------------------------------------------------------------- IR dumps */
#define DUMP_DIR_MAX 4096

static pthread_mutex_t g_dump_mu = PTHREAD_MUTEX_INITIALIZER;
static char g_dump_dir[DUMP_DIR_MAX]; /* "" = not set */

ds_status ds_set_dump_dir(const char *dir) {
    size_t len = dir ? strlen(dir) : 0;
    if (len >= DUMP_DIR_MAX) return ds_errorf(DS_ERR_VALUE, "ds_set_dump_dir: the path is longer than %d bytes", DUMP_DIR_MAX - 1);
    pthread_mutex_lock(&g_dump_mu);
    if (len) memcpy(g_dump_dir, dir, len);
    g_dump_dir[len] = '\0';
    pthread_mutex_unlock(&g_dump_mu);
    return DS_OK;
}

/* A copy of the dump directory in effect (ds_set_dump_dir's, else DS_DUMP_IR), or NULL (no dumps, or
 * DS_ERR_NOMEM: *st says which). Free with ds_free. */
static char *dump_dir(ds_status *st) {
    *st = DS_OK;
    char *copy = NULL;
    pthread_mutex_lock(&g_dump_mu);
    if (g_dump_dir[0] && !(copy = ds_strdup(g_dump_dir))) *st = DS_ERR_NOMEM;
    pthread_mutex_unlock(&g_dump_mu);
    if (copy || *st) return copy;
    const char *env = getenv("DS_DUMP_IR");
    if (env && *env && !(copy = ds_strdup(env))) *st = DS_ERR_NOMEM;
    return copy;
}

/* mkdir -p: creates `dir` and its missing parents. */
static ds_status make_dirs(const char *dir) {
    size_t n = strlen(dir);
    char *path = ds_malloc(n + 1);
    if (!path) return DS_ERR_NOMEM;
    memcpy(path, dir, n + 1);
    ds_status st = DS_OK;
    for (size_t i = 1; i <= n && !st; i++) {
        if (path[i] != '/' && path[i] != '\0') continue;
        if (path[i - 1] == '/') continue; /* "a//b", or a trailing slash */
        char c = path[i];
        path[i] = '\0';
        struct stat info;
        if (mkdir(path, 0777) != 0) { /* fine if it is a directory already (EEXIST, or EACCES/EROFS above it) */
            int err = errno;
            if (stat(path, &info) != 0 || !S_ISDIR(info.st_mode))
                st = ds_errorf(DS_ERR_VALUE, "IR dump: cannot create the directory '%s': %s", path,
                               strerror(err == EEXIST ? ENOTDIR : err));
        }
        path[i] = c;
    }
    ds_free(path);
    return st;
}

/* Writes `text` to "<dir>/<name>.<nn>.<pass>.<ext>". */
static ds_status write_dump(const char *dir, const char *name, int seq, const char *pass, const char *ext, const char *text) {
    ds_strbuf path;
    ds_strbuf_init(&path);
    ds_strbuf_printf(&path, "%s/%s.%02d.%s.%s", dir, name, seq, pass, ext);
    if (path.status) {
        ds_strbuf_deinit(&path);
        return DS_ERR_NOMEM;
    }
    ds_status st = DS_OK;
    errno = 0;
    FILE *f = fopen(path.data, "w");
    if (!f) st = ds_errorf(DS_ERR_VALUE, "IR dump: cannot write '%s': %s", path.data, strerror(errno));
    else {
        size_t len = strlen(text);
        bool ok = fwrite(text, 1, len, f) == len;
        int err = errno;
        if (fclose(f) != 0 && ok) {
            ok = false;
            err = errno;
        }
        if (!ok) st = ds_errorf(DS_ERR_VALUE, "IR dump: cannot write '%s': %s", path.data, strerror(err ? err : EIO));
    }
    ds_strbuf_deinit(&path);
    return st;
}

/* Writes the graph's text and Graphviz to "<dir>/<graph>.<nn>.<pass>.ir" and ".dot" (file-name-unsafe
 * characters of the graph's name become '_'). */
static ds_status dump(const char *dir, const ds_graph *g, int seq, const char *pass) {
    char name[128];
    size_t i = 0;
    for (const char *s = g->name; *s && i < sizeof name - 1; s++, i++) {
        char c = *s;
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
        name[i] = ok ? c : '_';
    }
    if (!i) name[i++] = '_';
    name[i] = '\0';
    char *text = NULL;
    ds_status st = ds_graph_print(g, &text);
    if (!st) st = write_dump(dir, name, seq, pass, "ir", text);
    ds_free(text);
    text = NULL;
    if (!st) st = ds_graph_print_dot(g, &text);
    if (!st) st = write_dump(dir, name, seq, pass, "dot", text);
    ds_free(text);
    return st;
}

ds_status ds_pass_pipeline(const ds_graph *g, const ds_pass *passes, int n, int max_rounds, ds_graph **out) {
    ds_status st = ds_graph_verify(g);
    if (st) return st;
    char *dir = dump_dir(&st);
    if (st) return st;
    int seq = 0;
    if (dir && !(st = make_dirs(dir))) st = dump(dir, g, seq++, "input");
    if (st) {
        ds_free(dir);
        return st;
    }
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
    ds_free(dir);
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
