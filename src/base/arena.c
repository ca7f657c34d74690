#include "base/arena.h"

#include <string.h>

#include "base/alloc.h"

struct ds_arena_block {
    ds_arena_block *next;
    size_t cap;
    _Alignas(16) unsigned char data[];
};

#define ARENA_MIN_BLOCK 8192

void ds_arena_init(ds_arena *a) { memset(a, 0, sizeof *a); }

void ds_arena_deinit(ds_arena *a) {
    ds_arena_block *b = a->head;
    while (b) {
        ds_arena_block *next = b->next;
        ds_free(b);
        b = next;
    }
    memset(a, 0, sizeof *a);
}

void *ds_arena_alloc(ds_arena *a, size_t n) {
    n = (n + 15) & ~(size_t)15;
    if (!a->head || a->used + n > a->cap) {
        size_t cap = n > ARENA_MIN_BLOCK ? n : ARENA_MIN_BLOCK;
        if (a->head && a->head->cap * 2 > cap && a->head->cap < (1u << 20)) cap = a->head->cap * 2;
        ds_arena_block *b = ds_malloc(sizeof(ds_arena_block) + cap);
        if (!b) return NULL;
        b->next = a->head;
        b->cap = cap;
        a->head = b;
        a->used = 0;
        a->cap = cap;
    }
    void *p = a->head->data + a->used;
    a->used += n;
    a->total += n;
    memset(p, 0, n);
    return p;
}

void *ds_arena_dup(ds_arena *a, const void *p, size_t n) {
    if (!p) return NULL;
    void *q = ds_arena_alloc(a, n ? n : 1);
    if (q && n) memcpy(q, p, n);
    return q;
}

char *ds_arena_strdup(ds_arena *a, const char *s) { return s ? ds_arena_dup(a, s, strlen(s) + 1) : NULL; }

ds_status ds_ptrvec_push(ds_ptrvec *v, void *p) {
    if (v->n == v->cap) {
        int cap = v->cap ? v->cap * 2 : 8;
        void **items = ds_malloc(sizeof(void *) * (size_t)cap);
        if (!items) return DS_ERR_NOMEM;
        if (v->n) memcpy(items, v->items, sizeof(void *) * (size_t)v->n);
        ds_free(v->items);
        v->items = items;
        v->cap = cap;
    }
    v->items[v->n++] = p;
    return DS_OK;
}

void ds_ptrvec_deinit(ds_ptrvec *v) {
    ds_free(v->items);
    v->items = NULL;
    v->n = v->cap = 0;
}
