/* A bump allocator: many small allocations freed all at once (IR nodes, values, attributes). */
#ifndef DS_BASE_ARENA_H
#define DS_BASE_ARENA_H
#include <stddef.h>

#include "dynastat.h"

typedef struct ds_arena_block ds_arena_block;
typedef struct ds_arena {
    ds_arena_block *head;
    size_t used, cap; /* within head */
    size_t total;     /* bytes handed out (statistics) */
} ds_arena;

void ds_arena_init(ds_arena *a);
/* Frees every block. */
void ds_arena_deinit(ds_arena *a);
/* `n` bytes aligned to 16, or NULL with DS_ERR_NOMEM set. Zero-filled. */
void *ds_arena_alloc(ds_arena *a, size_t n);
/* A copy of `n` bytes / of a NUL-terminated string in the arena (NULL stays NULL). */
void *ds_arena_dup(ds_arena *a, const void *p, size_t n);
char *ds_arena_strdup(ds_arena *a, const char *s);

/* A growable array of pointers on the library allocator. */
typedef struct ds_ptrvec {
    void **items;
    int n, cap;
} ds_ptrvec;
ds_status ds_ptrvec_push(ds_ptrvec *v, void *p);
void ds_ptrvec_deinit(ds_ptrvec *v);
#endif
