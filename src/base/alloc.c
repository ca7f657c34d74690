#include "base/alloc.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

static void *default_alloc(void *ctx, size_t n, size_t align) {
    (void)ctx;
    void *p = NULL;
    if (n == 0) n = 1;
    if (posix_memalign(&p, align, n) != 0) return NULL;
    return p;
}

static void default_free(void *ctx, void *p) {
    (void)ctx;
    free(p);
}

static ds_allocator g_alloc = {default_alloc, default_free, NULL};
static atomic_llong g_live;
static atomic_llong g_count;
static atomic_llong g_fail_at;
static atomic_bool g_debug;

void ds_set_allocator(const ds_allocator *a) {
    if (a) g_alloc = *a;
    else g_alloc = (ds_allocator){default_alloc, default_free, NULL};
}

void ds_alloc_debug_begin(int64_t fail_at) {
    atomic_store(&g_count, 0);
    atomic_store(&g_fail_at, fail_at);
    atomic_store(&g_debug, true);
}

int64_t ds_alloc_debug_count(void) { return atomic_load(&g_count); }

int64_t ds_alloc_live_blocks(void) { return atomic_load(&g_live); }

void *ds_malloc(size_t n) {
    if (atomic_load_explicit(&g_debug, memory_order_relaxed)) {
        long long k = atomic_fetch_add(&g_count, 1) + 1;
        long long f = atomic_load(&g_fail_at);
        if (f > 0 && k == f) {
            ds_errorf(DS_ERR_NOMEM, "out of memory (injected failure at allocation %lld)", k);
            return NULL;
        }
    }
    void *p = g_alloc.alloc(g_alloc.ctx, n, DS_ALIGN);
    if (!p) {
        ds_errorf(DS_ERR_NOMEM, "out of memory allocating %zu bytes", n);
        return NULL;
    }
    atomic_fetch_add_explicit(&g_live, 1, memory_order_relaxed);
    return p;
}

void *ds_calloc(size_t n) {
    void *p = ds_malloc(n);
    if (p) memset(p, 0, n);
    return p;
}

char *ds_strdup(const char *s) {
    size_t n = strlen(s) + 1;
    char *p = ds_malloc(n);
    if (p) memcpy(p, s, n);
    return p;
}

void ds_free(void *p) {
    if (!p) return;
    atomic_fetch_sub_explicit(&g_live, 1, memory_order_relaxed);
    g_alloc.free(g_alloc.ctx, p);
}
