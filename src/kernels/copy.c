#include "kernels/copy.h"

#include <string.h>

#include "base/threadpool.h"

typedef struct fill_ctx {
    char *dst;
    unsigned char elem[8];
    size_t esize;
} fill_ctx;

#define FILL_LOOP(T)                                                                               \
    do {                                                                                           \
        T v;                                                                                       \
        memcpy(&v, c->elem, sizeof v);                                                             \
        T *d = (T *)c->dst;                                                                        \
        for (int64_t i = b; i < e; i++) d[i] = v;                                                  \
    } while (0)

static void fill_range(void *p, int64_t b, int64_t e) {
    const fill_ctx *c = p;
    switch (c->esize) {
    case 1: memset(c->dst + b, c->elem[0], (size_t)(e - b)); break;
    case 2: FILL_LOOP(uint16_t); break;
    case 4: FILL_LOOP(uint32_t); break;
    case 8: FILL_LOOP(uint64_t); break;
    default:
        for (int64_t i = b; i < e; i++) memcpy(c->dst + (size_t)i * c->esize, c->elem, c->esize);
    }
}

void ds_fill_elems(void *dst, int64_t n, const void *elem, size_t esize) {
    if (n <= 0) return;
    fill_ctx c = {.dst = dst, .esize = esize};
    memcpy(c.elem, elem, esize);
    ds_parallel_for(n, (int64_t)(1 << 16), fill_range, &c);
}

typedef struct rows_ctx {
    char *dst;
    const char *src;
    const int64_t *offsets;
    size_t row_bytes;
    int64_t axis_len, nidx; /* take */
} rows_ctx;

/* memcpy with the common element sizes inlined (rows of one scalar are frequent: x[i, j], take). */
static inline void copy_row(char *d, const char *s, size_t n) {
    switch (n) {
    case 1: *d = *s; break;
    case 2: memcpy(d, s, 2); break;
    case 4: memcpy(d, s, 4); break;
    case 8: memcpy(d, s, 8); break;
    default: memcpy(d, s, n); break;
    }
}

static void gather_range(void *p, int64_t b, int64_t e) {
    const rows_ctx *c = p;
    for (int64_t r = b; r < e; r++)
        copy_row(c->dst + (size_t)r * c->row_bytes, c->src + c->offsets[r], c->row_bytes);
}

static int64_t row_grain(size_t row_bytes) {
    int64_t g = (int64_t)((1u << 15) / (row_bytes ? row_bytes : 1));
    return g < 1 ? 1 : g;
}

void ds_gather_rows(void *dst, const void *src, const int64_t *offsets, int64_t nrows,
                    size_t row_bytes) {
    if (nrows <= 0 || row_bytes == 0) return;
    rows_ctx c = {.dst = dst, .src = src, .offsets = offsets, .row_bytes = row_bytes};
    ds_parallel_for(nrows, row_grain(row_bytes), gather_range, &c);
}

static void take_range(void *p, int64_t b, int64_t e) {
    const rows_ctx *c = p;
    int64_t o = b / c->nidx, j = b % c->nidx;
    for (int64_t r = b; r < e; r++) {
        copy_row(c->dst + (size_t)r * c->row_bytes,
                 c->src + ((size_t)o * (size_t)c->axis_len + (size_t)c->offsets[j]) * c->row_bytes,
                 c->row_bytes);
        if (++j == c->nidx) {
            j = 0;
            o++;
        }
    }
}

void ds_take_rows(void *dst, const void *src, int64_t outer, int64_t axis_len, const int64_t *idx,
                  int64_t nidx, size_t row_bytes) {
    int64_t nrows = outer * nidx;
    if (nrows <= 0 || row_bytes == 0) return;
    rows_ctx c = {.dst = dst, .src = src, .offsets = idx, .row_bytes = row_bytes,
                  .axis_len = axis_len, .nidx = nidx};
    ds_parallel_for(nrows, row_grain(row_bytes), take_range, &c);
}
