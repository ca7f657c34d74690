/* Convolution (im2col + GEMM) and pooling kernels; see kernels/conv.h. The typed loops live in
 * kernels/conv_loops.h, instantiated below for float and double. */
#include "kernels/conv.h"

#include <math.h>
#include <stdatomic.h>
#include <string.h>

#include "base/alloc.h"
#include "base/status.h"
#include "base/threadpool.h"
#include "kernels/gemm.h"

typedef enum conv_kind { CONV_FWD, CONV_BWD_INPUT, CONV_BWD_FILTER } conv_kind;
#define CONV_GEMM_COLS 256 /* columns a GEMM should have at least, when images are small */
#define POOL_ROW_CHUNK 128 /* output columns per pass of the max-pooling row loop */
typedef enum pool_kind { POOL_MAX, POOL_MAX_GRAD, POOL_MAX_GATHER, POOL_AVG, POOL_AVG_GRAD } pool_kind;

/* A 1x1 convolution with stride 1 and no padding: the input image is its own column matrix. */
static bool conv_pointwise(const ds_conv2d_geom *g) {
    return g->kh == 1 && g->kw == 1 && g->sh == 1 && g->sw == 1 && g->pt == 0 && g->pl == 0 && g->ho == g->h &&
           g->wo == g->w;
}

/* How a convolution call is split (a function of the shapes, and of the thread count only where the
 * results do not depend on it). */
typedef struct conv_plan {
    bool pointwise;      /* 1x1 path: no column matrix */
    bool batch_parallel; /* forward / backward-input: samples across the pool, GEMMs single-threaded */
    int64_t blk;         /* output rows per column block when images go one at a time */
    int64_t samples;     /* whole images side by side in one column matrix (1: one at a time) */
    int64_t chunks;      /* filter gradient: batch chunks, each with its own partial sum */
    int64_t grain;       /* batch_parallel: samples per task at least */
} conv_plan;

static void conv_plan_of(const ds_conv2d_geom *g, conv_kind kind, conv_plan *p) {
    int64_t K = g->c / g->groups * g->kh * g->kw, P = g->ho * g->wo, wsize = g->o * K;
    int nt = ds_get_num_threads();
    p->pointwise = conv_pointwise(g);
    /* row blocks keep the column buffer within DS_CONV_COL_ELEMS (at least one row) */
    int64_t row = K * g->wo;
    p->blk = row > 0 ? DS_CONV_COL_ELEMS / row : g->ho;
    if (p->blk < 1) p->blk = 1;
    if (p->blk > g->ho) p->blk = g->ho > 0 ? g->ho : 1;
    /* small images: several side by side so a GEMM has about CONV_GEMM_COLS columns (more would
     * only push the column matrix out of cache) */
    int64_t want = P > 0 ? (CONV_GEMM_COLS + P - 1) / P : 1, fit = K * P > 0 ? DS_CONV_COL_ELEMS / (K * P) : 1;
    p->samples = want < fit ? want : fit;
    if (p->samples > g->n) p->samples = g->n;
    if (p->pointwise || p->samples < 1) p->samples = 1;
    /* filter gradient: up to 8 chunks, partial sums within 4M elements; the order of the sums
     * depends on the shapes only, not on the thread count */
    p->chunks = g->n < 8 ? g->n : 8;
    while (p->chunks > 1 && (p->chunks - 1) * wsize > (1 << 22)) p->chunks--;
    if (p->chunks < 1) p->chunks = 1;
    /* forward / backward-input: split the batch when there are enough samples for every thread, or a
     * sample's work is too small for a GEMM to split well; else samples in turn, GEMMs on the pool */
    double work = (double)wsize * (double)P;
    p->batch_parallel = kind != CONV_BWD_FILTER && g->n > 1 && (g->n >= nt || work < (double)(1 << 22));
    int64_t per = g->n / (2 * (int64_t)nt);
    p->grain = per < 1 ? 1 : per < p->samples ? per : p->samples;
}

/* The taps i in [lo, hi) of a window starting at `start` (kernel k, dilation d) that fall inside [0, n). */
typedef struct tap_range {
    int64_t lo, hi;
} tap_range;

static inline void taps_inside(int64_t start, int64_t k, int64_t d, int64_t n, tap_range *r) {
    if (d == 1) { /* no divisions in the common case: they would dominate a small window */
        r->lo = start >= 0 ? 0 : -start;
        r->hi = n - start;
    } else {
        r->lo = start >= 0 ? 0 : (-start + d - 1) / d;
        r->hi = n - 1 - start < 0 ? 0 : (n - 1 - start) / d + 1;
    }
    if (r->hi > k) r->hi = k;
    if (r->hi < r->lo) r->hi = r->lo;
}

/* The part of an average-pooling window inside the input, and its divisor. */
typedef struct pool_window {
    int64_t h0, h1, w0, w1, div;
} pool_window;

static void pool_avg_window(const ds_pool2d_geom *g, int64_t oh, int64_t ow, pool_window *win) {
    int64_t hs = oh * g->sh - g->pt, ws = ow * g->sw - g->pl;
    int64_t he = hs + g->kh < g->h + g->pb ? hs + g->kh : g->h + g->pb;
    int64_t we = ws + g->kw < g->w + g->pr ? ws + g->kw : g->w + g->pr;
    int64_t full = (he - hs) * (we - ws);
    win->h0 = hs > 0 ? hs : 0;
    win->w0 = ws > 0 ? ws : 0;
    win->h1 = he < g->h ? he : g->h;
    win->w1 = we < g->w ? we : g->w;
    if (win->h1 < win->h0) win->h1 = win->h0;
    if (win->w1 < win->w0) win->w1 = win->w0;
    int64_t inside = (win->h1 - win->h0) * (win->w1 - win->w0);
    win->div = g->divisor > 0 ? g->divisor : g->count_include_pad ? full : inside;
}

#define T float
#define SFX f32
#define GEMM ds_gemm_f32
#define UT uint32_t
#include "kernels/conv_loops.h"
#undef T
#undef SFX
#undef GEMM
#undef UT

#define T double
#define SFX f64
#define GEMM ds_gemm_f64
#define UT uint64_t
#include "kernels/conv_loops.h"
#undef T
#undef SFX
#undef GEMM
#undef UT
