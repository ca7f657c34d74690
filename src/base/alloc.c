#include "base/alloc.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
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

/* Every block carries a DS_ALIGN-byte header saying where it came from, so ds_free can hand small
 * default-allocator blocks to a per-thread cache instead of the system allocator: a tiny tensor then
 * costs a list pop, not a posix_memalign (the dominant cost of a tiny eager op). */
typedef struct block_header {
    uint32_t cls;      /* size class (1..CACHE_CLASSES) or 0 = not cacheable */
    uint32_t from_default;
} block_header;

#define CACHE_CLASSES 32  /* classes of DS_ALIGN bytes: up to 2 KiB */
#if defined(__SANITIZE_ADDRESS__)
#define CACHE_DEPTH 0 /* let AddressSanitizer see every free */
#else
#define CACHE_DEPTH 32 /* blocks kept per class and thread */
#endif

typedef struct block_cache {
    void *head[CACHE_CLASSES + 1];
    int count[CACHE_CLASSES + 1];
} block_cache;

static _Thread_local block_cache tl_cache;

void *ds_malloc(size_t n) {
    if (atomic_load_explicit(&g_debug, memory_order_relaxed)) {
        long long k = atomic_fetch_add(&g_count, 1) + 1;
        long long f = atomic_load(&g_fail_at);
        if (f > 0 && k == f) {
            ds_errorf(DS_ERR_NOMEM, "out of memory (injected failure at allocation %lld)", k);
            return NULL;
        }
    }
    bool dflt = g_alloc.alloc == default_alloc;
    uint32_t cls = dflt && n <= (size_t)CACHE_CLASSES * DS_ALIGN ? (uint32_t)((n + DS_ALIGN - 1) / DS_ALIGN) : 0;
    if (cls == 0 && dflt && n == 0) cls = 1;
    if (cls && tl_cache.head[cls]) {
        void *p = tl_cache.head[cls];
        tl_cache.head[cls] = *(void **)p;
        tl_cache.count[cls]--;
        atomic_fetch_add_explicit(&g_live, 1, memory_order_relaxed);
        return p;
    }
    size_t size = cls ? (size_t)cls * DS_ALIGN : n;
    char *raw = g_alloc.alloc(g_alloc.ctx, size + DS_ALIGN, DS_ALIGN);
    if (!raw) {
        ds_errorf(DS_ERR_NOMEM, "out of memory allocating %zu bytes", n);
        return NULL;
    }
    block_header *h = (block_header *)raw;
    h->cls = cls;
    h->from_default = dflt;
    atomic_fetch_add_explicit(&g_live, 1, memory_order_relaxed);
    return raw + DS_ALIGN;
}

void ds_free(void *p) {
    if (!p) return;
    atomic_fetch_sub_explicit(&g_live, 1, memory_order_relaxed);
    char *raw = (char *)p - DS_ALIGN;
    block_header *h = (block_header *)raw;
    uint32_t cls = h->cls;
    if (cls && tl_cache.count[cls] < CACHE_DEPTH) {
        *(void **)p = tl_cache.head[cls];
        tl_cache.head[cls] = p;
        tl_cache.count[cls]++;
        return;
    }
    if (h->from_default) default_free(NULL, raw);
    else g_alloc.free(g_alloc.ctx, raw);
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


