/* The typed loops of kernels/conv.c, included once per element type with
 *   T     the element type (float, double)
 *   SFX   the name suffix (f32, f64)
 *   GEMM  the GEMM of that type (ds_gemm_f32, ds_gemm_f64)
 *   UT    the unsigned integer type of T's size (uint32_t, uint64_t), for branch-free selection
 * defined. Contracts are in kernels/conv.h. Not a header of its own: conv.c is its only user. */
#define FN_(a, b) a##_##b
#define FN2(a, b) FN_(a, b)
#define FN(name) FN2(name, SFX)

/* ---------------------------------------------------------------- im2col / col2im */
/* The output columns [lo, hi) of one kernel column offset `coff` (input column = ow * sw + coff) that
 * read inside the image. */
static inline void FN(valid_cols)(const ds_conv2d_geom *g, int64_t coff, int64_t *lo, int64_t *hi) {
    int64_t a, b;
    if (g->sw == 1) { /* no divisions: they would cost more than copying a short row */
        a = coff >= 0 ? 0 : -coff;
        b = g->w - coff;
    } else {
        a = coff >= 0 ? 0 : (-coff + g->sw - 1) / g->sw;
        b = g->w - 1 - coff < 0 ? 0 : (g->w - 1 - coff) / g->sw + 1;
    }
    if (b > g->wo) b = g->wo;
    if (a > g->wo) a = g->wo;
    *lo = a;
    *hi = b < a ? a : b;
}

/* Row (c, i, j) of the column matrix for output rows [oh0, oh1). The geometry is read into locals
 * first: the library builds with -fno-strict-aliasing, so every store would otherwise reload it. */
static void FN(im2col_row)(const ds_conv2d_geom *g, const T *img, int64_t c, int64_t i, int64_t j, int64_t oh0,
                           int64_t oh1, T *dst) {
    int64_t coff = j * g->dw - g->pl, lo, hi, wo = g->wo, w = g->w, h = g->h, sw = g->sw;
    int64_t ih = oh0 * g->sh - g->pt + i * g->dh, sh = g->sh;
    FN(valid_cols)(g, coff, &lo, &hi);
    const T *plane = img + c * h * w + coff;
    for (int64_t oh = oh0; oh < oh1; oh++, dst += wo, ih += sh) {
        if (ih < 0 || ih >= h) {
            memset(dst, 0, sizeof(T) * (size_t)wo);
            continue;
        }
        const T *src = plane + ih * w;
        if (lo > 0) memset(dst, 0, sizeof(T) * (size_t)lo);
        if (sw == 1) memcpy(dst + lo, src + lo, sizeof(T) * (size_t)(hi - lo));
        else
            for (int64_t ow = lo; ow < hi; ow++) dst[ow] = src[ow * sw];
        if (hi < wo) memset(dst + hi, 0, sizeof(T) * (size_t)(wo - hi));
    }
}

/* Adds row (c, i, j) of the column matrix back into the image (geometry in locals, as above). */
static void FN(col2im_row)(const ds_conv2d_geom *g, const T *src, int64_t c, int64_t i, int64_t j, int64_t oh0,
                           int64_t oh1, T *img) {
    int64_t coff = j * g->dw - g->pl, lo, hi, wo = g->wo, w = g->w, h = g->h, sw = g->sw;
    int64_t ih = oh0 * g->sh - g->pt + i * g->dh, sh = g->sh;
    FN(valid_cols)(g, coff, &lo, &hi);
    T *plane = img + c * h * w + coff;
    for (int64_t oh = oh0; oh < oh1; oh++, src += wo, ih += sh) {
        if (ih < 0 || ih >= h) continue;
        T *d = plane + ih * w;
        if (sw == 1)
            for (int64_t ow = lo; ow < hi; ow++) d[ow] += src[ow];
        else
            for (int64_t ow = lo; ow < hi; ow++) d[ow * sw] += src[ow];
    }
}

typedef struct FN(col_job) {
    const ds_conv2d_geom *g;
    int64_t oh0, oh1, ld; /* ld: row stride of the column matrix */
    const T *in;
    T *out;
} FN(col_job);

static void FN(im2col_rows)(void *ctx, int64_t r0, int64_t r1) {
    FN(col_job) *jb = ctx;
    int64_t kh = jb->g->kh, kw = jb->g->kw, c = r0 / (kh * kw), i = r0 / kw % kh, j = r0 % kw;
    for (int64_t r = r0; r < r1; r++) { /* (c, i, j) counted along, not divided out per row */
        FN(im2col_row)(jb->g, jb->in, c, i, j, jb->oh0, jb->oh1, jb->out + r * jb->ld);
        if (++j == kw) j = 0, i++;
        if (i == kh) i = 0, c++;
    }
}

static void FN(col2im_channels)(void *ctx, int64_t c0, int64_t c1) {
    FN(col_job) *jb = ctx;
    int64_t kh = jb->g->kh, kw = jb->g->kw;
    const T *src = jb->in + c0 * kh * kw * jb->ld;
    for (int64_t c = c0; c < c1; c++)
        for (int64_t i = 0; i < kh; i++)
            for (int64_t j = 0; j < kw; j++, src += jb->ld) FN(col2im_row)(jb->g, src, c, i, j, jb->oh0, jb->oh1, jb->out);
}

/* im2col / col2im with column-matrix row stride ld (on the pool when called outside it). */
static void FN(im2col_ld)(const ds_conv2d_geom *g, int64_t cg, const T *img, int64_t oh0, int64_t oh1, T *col,
                          int64_t ld) {
    FN(col_job) j = {g, oh0, oh1, ld, img, col};
    int64_t P = (oh1 - oh0) * g->wo;
    ds_parallel_for(cg * g->kh * g->kw, 32768 / (P + 1) + 1, FN(im2col_rows), &j);
}

static void FN(col2im_ld)(const ds_conv2d_geom *g, int64_t cg, const T *col, int64_t oh0, int64_t oh1, T *img,
                          int64_t ld) {
    FN(col_job) j = {g, oh0, oh1, ld, col, img};
    int64_t P = (oh1 - oh0) * g->wo * g->kh * g->kw;
    ds_parallel_for(cg, 32768 / (P + 1) + 1, FN(col2im_channels), &j);
}

void FN(ds_im2col)(const ds_conv2d_geom *g, int64_t cg, const T *img, int64_t oh0, int64_t oh1, T *col) {
    FN(im2col_ld)(g, cg, img, oh0, oh1, col, (oh1 - oh0) * g->wo);
}

void FN(ds_col2im)(const ds_conv2d_geom *g, int64_t cg, const T *col, int64_t oh0, int64_t oh1, T *img) {
    FN(col2im_ld)(g, cg, col, oh0, oh1, img, (oh1 - oh0) * g->wo);
}

/* ---------------------------------------------------------------- a block of samples
 * Samples [s0, s1) of the batch, per group. With one sample, the columns of `blk` output rows at a
 * time (the 1x1 path: none). With several (whole images, see conv_plan), the columns of all of them
 * side by side, [K, S * P], so one GEMM covers the block; tmp [O/groups, S * P] carries dy or y in
 * that layout. */
typedef struct FN(conv_bufs) {
    T *col, *tmp;
    int64_t blk;
} FN(conv_bufs);

/* Rows [gi * og, (gi + 1) * og) of samples [s0, s1) of a [N, O, P] tensor <-> tmp [og, S * P]. */
static void FN(gather_rows)(const ds_conv2d_geom *g, const T *t, int64_t s0, int64_t s1, int64_t gi, T *tmp, bool back) {
    int64_t og = g->o / g->groups, P = g->ho * g->wo, S = s1 - s0;
    for (int64_t s = s0; s < s1; s++)
        for (int64_t o = 0; o < og; o++) {
            T *a = tmp + o * S * P + (s - s0) * P, *b = (T *)t + (s * g->o + gi * og + o) * P;
            if (back) memcpy(b, a, sizeof(T) * (size_t)P);
            else memcpy(a, b, sizeof(T) * (size_t)P);
        }
}

static ds_status FN(fwd_block)(const ds_conv2d_geom *g, const T *x, const T *w, T *y, int64_t s0, int64_t s1,
                               FN(conv_bufs) *b) {
    int64_t cg = g->c / g->groups, og = g->o / g->groups, K = cg * g->kh * g->kw, P = g->ho * g->wo, S = s1 - s0;
    int64_t xs = g->c * g->h * g->w, ys = g->o * P;
    ds_status st = DS_OK;
    for (int64_t gi = 0; gi < g->groups && !st; gi++) {
        const T *wg = w + gi * og * K, *xg = x + s0 * xs + gi * cg * g->h * g->w;
        T *yg = y + s0 * ys + gi * og * P;
        if (!b->col) { /* 1x1: the image is the column matrix */
            st = GEMM(false, false, og, P, K, 1, wg, K, xg, P, 0, yg, P);
        } else if (S == 1) {
            for (int64_t oh0 = 0; oh0 < g->ho && !st; oh0 += b->blk) {
                int64_t oh1 = oh0 + b->blk < g->ho ? oh0 + b->blk : g->ho, ncol = (oh1 - oh0) * g->wo;
                FN(im2col_ld)(g, cg, xg, oh0, oh1, b->col, ncol);
                st = GEMM(false, false, og, ncol, K, 1, wg, K, b->col, ncol, 0, yg + oh0 * g->wo, P);
            }
        } else {
            for (int64_t s = 0; s < S; s++) FN(im2col_ld)(g, cg, xg + s * xs, 0, g->ho, b->col + s * P, S * P);
            st = GEMM(false, false, og, S * P, K, 1, wg, K, b->col, S * P, 0, b->tmp, S * P);
            if (!st) FN(gather_rows)(g, y, s0, s1, gi, b->tmp, true);
        }
    }
    return st;
}

/* dx of samples [s0, s1) (overwritten). */
static ds_status FN(bwd_input_block)(const ds_conv2d_geom *g, const T *dy, const T *w, T *dx, int64_t s0, int64_t s1,
                                     FN(conv_bufs) *b) {
    int64_t cg = g->c / g->groups, og = g->o / g->groups, K = cg * g->kh * g->kw, P = g->ho * g->wo, S = s1 - s0;
    int64_t xs = g->c * g->h * g->w, ys = g->o * P;
    ds_status st = DS_OK;
    if (b->col) memset(dx + s0 * xs, 0, sizeof(T) * (size_t)(S * xs));
    for (int64_t gi = 0; gi < g->groups && !st; gi++) {
        const T *dyg = dy + s0 * ys + gi * og * P, *wg = w + gi * og * K;
        T *dxg = dx + s0 * xs + gi * cg * g->h * g->w;
        if (!b->col) {
            st = GEMM(true, false, K, P, og, 1, wg, K, dyg, P, 0, dxg, P);
        } else if (S == 1) {
            for (int64_t oh0 = 0; oh0 < g->ho && !st; oh0 += b->blk) {
                int64_t oh1 = oh0 + b->blk < g->ho ? oh0 + b->blk : g->ho, ncol = (oh1 - oh0) * g->wo;
                st = GEMM(true, false, K, ncol, og, 1, wg, K, dyg + oh0 * g->wo, P, 0, b->col, ncol);
                if (!st) FN(col2im_ld)(g, cg, b->col, oh0, oh1, dxg, ncol);
            }
        } else {
            FN(gather_rows)(g, dy, s0, s1, gi, b->tmp, false);
            st = GEMM(true, false, K, S * P, og, 1, wg, K, b->tmp, S * P, 0, b->col, S * P);
            for (int64_t s = 0; s < S && !st; s++) FN(col2im_ld)(g, cg, b->col + s * P, 0, g->ho, dxg + s * xs, S * P);
        }
    }
    return st;
}

/* dw (+)= the filter gradient of samples [s0, s1) (overwritten if `first`). */
static ds_status FN(bwd_filter_block)(const ds_conv2d_geom *g, const T *dy, const T *x, T *dw, int64_t s0, int64_t s1,
                                      FN(conv_bufs) *b, bool first) {
    int64_t cg = g->c / g->groups, og = g->o / g->groups, K = cg * g->kh * g->kw, P = g->ho * g->wo, S = s1 - s0;
    int64_t xs = g->c * g->h * g->w, ys = g->o * P;
    ds_status st = DS_OK;
    for (int64_t gi = 0; gi < g->groups && !st; gi++) {
        const T *dyg = dy + s0 * ys + gi * og * P, *xg = x + s0 * xs + gi * cg * g->h * g->w;
        T *dwg = dw + gi * og * K;
        if (!b->col) {
            st = GEMM(false, true, og, K, P, 1, dyg, P, xg, P, first ? 0 : 1, dwg, K);
        } else if (S == 1) {
            for (int64_t oh0 = 0; oh0 < g->ho && !st; oh0 += b->blk) {
                int64_t oh1 = oh0 + b->blk < g->ho ? oh0 + b->blk : g->ho, ncol = (oh1 - oh0) * g->wo;
                FN(im2col_ld)(g, cg, xg, oh0, oh1, b->col, ncol);
                st = GEMM(false, true, og, K, ncol, 1, dyg + oh0 * g->wo, P, b->col, ncol, first && oh0 == 0 ? 0 : 1,
                          dwg, K);
            }
        } else {
            for (int64_t s = 0; s < S; s++) FN(im2col_ld)(g, cg, xg + s * xs, 0, g->ho, b->col + s * P, S * P);
            FN(gather_rows)(g, dy, s0, s1, gi, b->tmp, false);
            st = GEMM(false, true, og, K, S * P, 1, b->tmp, S * P, b->col, S * P, first ? 0 : 1, dwg, K);
        }
    }
    return st;
}

/* ---------------------------------------------------------------- batch drivers */
typedef struct FN(conv_job) {
    const ds_conv2d_geom *g;
    conv_kind kind;
    const T *a, *b; /* fwd: x, w; input: dy, w; filter: dy, x */
    T *out;
    T *partial;     /* filter: chunk results 1.. (chunk 0 writes out) */
    conv_plan plan;
    atomic_int failed;
} FN(conv_job);

static void FN(conv_range)(void *ctx, int64_t b0, int64_t b1) {
    FN(conv_job) *j = ctx;
    const ds_conv2d_geom *g = j->g;
    const conv_plan *pl = &j->plan;
    int64_t K = g->c / g->groups * g->kh * g->kw, P = g->ho * g->wo;
    FN(conv_bufs) b = {NULL, NULL, pl->blk};
    if (!pl->pointwise) {
        int64_t ncol = pl->samples > 1 ? pl->samples * P : pl->blk * g->wo;
        b.col = ds_malloc(sizeof(T) * (size_t)(K * ncol));
        if (b.col && pl->samples > 1) b.tmp = ds_malloc(sizeof(T) * (size_t)(g->o / g->groups * ncol));
        if (!b.col || (pl->samples > 1 && !b.tmp)) {
            atomic_store(&j->failed, 1);
            ds_free(b.col);
            return;
        }
    }
    ds_status st = DS_OK;
    if (j->kind == CONV_BWD_FILTER) { /* b0..b1 are chunks of the batch */
        for (int64_t c = b0; c < b1 && !st; c++) {
            int64_t n0 = c * g->n / pl->chunks, n1 = (c + 1) * g->n / pl->chunks;
            T *dst = c == 0 ? j->out : j->partial + (c - 1) * g->o * K;
            for (int64_t s = n0; s < n1 && !st; s += pl->samples)
                st = FN(bwd_filter_block)(g, j->a, j->b, dst, s, s + pl->samples < n1 ? s + pl->samples : n1, &b, s == n0);
        }
    } else {
        for (int64_t s = b0; s < b1 && !st; s += pl->samples) {
            int64_t s1 = s + pl->samples < b1 ? s + pl->samples : b1;
            st = j->kind == CONV_FWD ? FN(fwd_block)(g, j->a, j->b, j->out, s, s1, &b)
                                     : FN(bwd_input_block)(g, j->a, j->b, j->out, s, s1, &b);
        }
    }
    if (st) atomic_store(&j->failed, 1);
    ds_free(b.col);
    ds_free(b.tmp);
}

static ds_status FN(conv_run)(const ds_conv2d_geom *g, conv_kind kind, const T *a, const T *b, T *out) {
    int64_t wsize = g->o * (g->c / g->groups) * g->kh * g->kw;
    FN(conv_job) j = {.g = g, .kind = kind, .a = a, .b = b, .out = out};
    conv_plan_of(g, kind, &j.plan);
    atomic_init(&j.failed, 0);
    if (kind == CONV_BWD_FILTER) {
        if (g->n == 0 || g->ho * g->wo == 0) {
            memset(out, 0, sizeof(T) * (size_t)wsize);
            return DS_OK;
        }
        if (j.plan.chunks > 1 && !(j.partial = ds_malloc(sizeof(T) * (size_t)((j.plan.chunks - 1) * wsize))))
            return DS_ERR_NOMEM;
        ds_parallel_for(j.plan.chunks, 1, FN(conv_range), &j);
        for (int64_t c = 1; c < j.plan.chunks && !atomic_load(&j.failed); c++) {
            const T *p = j.partial + (c - 1) * wsize;
            for (int64_t e = 0; e < wsize; e++) out[e] += p[e];
        }
        ds_free(j.partial);
    } else if (j.plan.batch_parallel) {
        ds_parallel_for(g->n, j.plan.grain, FN(conv_range), &j);
    } else {
        FN(conv_range)(&j, 0, g->n);
    }
    return atomic_load(&j.failed) ? ds_errorf(DS_ERR_NOMEM, "out of memory in conv2d") : DS_OK;
}

ds_status FN(ds_conv2d)(const ds_conv2d_geom *g, const T *x, const T *w, T *y) {
    return FN(conv_run)(g, CONV_FWD, x, w, y);
}

ds_status FN(ds_conv2d_backprop_input)(const ds_conv2d_geom *g, const T *dy, const T *w, T *dx) {
    return FN(conv_run)(g, CONV_BWD_INPUT, dy, w, dx);
}

ds_status FN(ds_conv2d_backprop_filter)(const ds_conv2d_geom *g, const T *dy, const T *x, T *dw) {
    return FN(conv_run)(g, CONV_BWD_FILTER, dy, x, dw);
}

/* ---------------------------------------------------------------- pooling */
/* The maxima of the windows of output row oh, columns [ow0, ow1) (at most POOL_ROW_CHUNK): bi gets each
 * window's plane index of its first maximum (NaN wins) or -1, bv its value. Taps run in window order
 * (row, then column) over the taps inside the input, selected with masks (a branch here is
 * mispredicted on random data). */
static void FN(max_row)(const ds_pool2d_geom *g, const T *x, int64_t oh, int64_t ow0, int64_t ow1, int64_t *bi,
                        T *bv) {
    int64_t r0 = oh * g->sh - g->pt, w = g->w, dh = g->dh, dw = g->dw;
    tap_range rows;
    taps_inside(r0, g->kh, dh, g->h, &rows);
    for (int64_t ow = ow0; ow < ow1; ow++) {
        int64_t c0 = ow * g->sw - g->pl, best = -1;
        tap_range cols;
        taps_inside(c0, g->kw, dw, w, &cols);
        UT bu = 0;
        for (int64_t i = rows.lo; i < rows.hi; i++) {
            const T *row = x + (r0 + i * dh) * w + c0;
            for (int64_t jj = cols.lo; jj < cols.hi; jj++) {
                T v = row[jj * dw], b;
                UT vu;
                memcpy(&vu, &v, sizeof v);
                memcpy(&b, &bu, sizeof b);
                int64_t take = -(int64_t)((best < 0) | (v > b) | ((v != v) & (b == b)));
                bu = (vu & (UT)take) | (bu & ~(UT)take);
                best = ((row - x + jj * dw) & take) | (best & ~take);
            }
        }
        bi[ow - ow0] = best;
        memcpy(&bv[ow - ow0], &bu, sizeof bu);
    }
}

/* max_row for the common 2x2 window, stride 2, no padding or dilation (every window inside the
 * input): the same first-maximum / NaN-wins selection, unrolled over the four taps. */
static void FN(max_row_2x2)(const ds_pool2d_geom *g, const T *x, int64_t oh, int64_t ow0, int64_t ow1, int64_t *bi,
                            T *bv) {
    int64_t w = g->w;
    const T *r0 = x + 2 * oh * w, *r1 = r0 + w;
    for (int64_t ow = ow0; ow < ow1; ow++) {
        int64_t c = 2 * ow;
        T best = r0[c];
        int64_t at = (r0 - x) + c;
        const T cand[3] = {r0[c + 1], r1[c], r1[c + 1]};
        const int64_t pos[3] = {(r0 - x) + c + 1, (r1 - x) + c, (r1 - x) + c + 1};
        for (int k = 0; k < 3; k++) {
            bool take = (cand[k] > best) | ((cand[k] != cand[k]) & (best == best));
            best = take ? cand[k] : best;
            at = take ? pos[k] : at;
        }
        bi[ow - ow0] = at;
        bv[ow - ow0] = best;
    }
}

typedef struct FN(pool_job) {
    const ds_pool2d_geom *g;
    pool_kind kind;
    const T *a, *b;
    T *out;
} FN(pool_job);

static void FN(pool_planes)(void *ctx, int64_t p0, int64_t p1) {
    FN(pool_job) *j = ctx;
    const ds_pool2d_geom *g = j->g;
    int64_t in_sz = g->h * g->w, out_sz = g->ho * g->wo;
    bool to_input = j->kind == POOL_MAX_GRAD || j->kind == POOL_AVG_GRAD;
    bool fast2x2 = g->kh == 2 && g->kw == 2 && g->sh == 2 && g->sw == 2 && g->dh == 1 && g->dw == 1 && g->pt == 0 &&
                   g->pl == 0 && 2 * g->ho <= g->h && 2 * g->wo <= g->w;
    for (int64_t p = p0; p < p1; p++) {
        const T *a = j->a + p * (to_input ? out_sz : in_sz), *b = j->b ? j->b + p * in_sz : NULL;
        T *o = j->out + p * (to_input ? in_sz : out_sz);
        if (to_input) memset(o, 0, sizeof(T) * (size_t)in_sz);
        bool mx = j->kind == POOL_MAX || j->kind == POOL_MAX_GRAD || j->kind == POOL_MAX_GATHER;
        for (int64_t oh = 0; oh < g->ho && mx; oh++)
            for (int64_t ow0 = 0; ow0 < g->wo; ow0 += POOL_ROW_CHUNK) {
                int64_t ow1 = ow0 + POOL_ROW_CHUNK < g->wo ? ow0 + POOL_ROW_CHUNK : g->wo, bi[POOL_ROW_CHUNK];
                T bv[POOL_ROW_CHUNK];
                if (fast2x2) FN(max_row_2x2)(g, j->kind == POOL_MAX ? a : b, oh, ow0, ow1, bi, bv);
                else FN(max_row)(g, j->kind == POOL_MAX ? a : b, oh, ow0, ow1, bi, bv);
                T *ok = o + oh * g->wo + ow0;
                const T *ak = a + oh * g->wo + ow0;
                if (j->kind == POOL_MAX)
                    for (int64_t k = 0; k < ow1 - ow0; k++) ok[k] = bi[k] >= 0 ? bv[k] : (T)-INFINITY;
                else if (j->kind == POOL_MAX_GATHER)
                    for (int64_t k = 0; k < ow1 - ow0; k++) ok[k] = bi[k] >= 0 ? a[bi[k]] : 0;
                else
                    for (int64_t k = 0; k < ow1 - ow0; k++)
                        if (bi[k] >= 0) o[bi[k]] += ak[k];
            }
        for (int64_t oh = 0; oh < g->ho && !mx; oh++) {
            for (int64_t ow = 0; ow < g->wo; ow++) {
                int64_t k = oh * g->wo + ow;
                pool_window win;
                pool_avg_window(g, oh, ow, &win);
                if (j->kind == POOL_AVG) {
                    double s = 0;
                    for (int64_t ih = win.h0; ih < win.h1; ih++)
                        for (int64_t iw = win.w0; iw < win.w1; iw++) s += (double)a[ih * g->w + iw];
                    o[k] = win.div > 0 ? (T)(s / (double)win.div) : 0;
                } else if (win.div > 0) {
                    T v = (T)((double)a[k] / (double)win.div);
                    for (int64_t ih = win.h0; ih < win.h1; ih++)
                        for (int64_t iw = win.w0; iw < win.w1; iw++) o[ih * g->w + iw] += v;
                }
            }
        }
    }
}

static void FN(pool_run)(const ds_pool2d_geom *g, pool_kind kind, const T *a, const T *b, T *out) {
    FN(pool_job) j = {g, kind, a, b, out};
    int64_t work = g->ho * g->wo * g->kh * g->kw + g->h * g->w + 1;
    ds_parallel_for(g->planes, 16384 / work + 1, FN(pool_planes), &j);
}

void FN(ds_max_pool2d)(const ds_pool2d_geom *g, const T *x, T *y) { FN(pool_run)(g, POOL_MAX, x, NULL, y); }
void FN(ds_max_pool2d_grad)(const ds_pool2d_geom *g, const T *dy, const T *x, T *dx) {
    FN(pool_run)(g, POOL_MAX_GRAD, dy, x, dx);
}
void FN(ds_max_pool2d_gather)(const ds_pool2d_geom *g, const T *src, const T *x, T *out) {
    FN(pool_run)(g, POOL_MAX_GATHER, src, x, out);
}
void FN(ds_avg_pool2d)(const ds_pool2d_geom *g, const T *x, T *y) { FN(pool_run)(g, POOL_AVG, x, NULL, y); }
void FN(ds_avg_pool2d_grad)(const ds_pool2d_geom *g, const T *dy, T *dx) { FN(pool_run)(g, POOL_AVG_GRAD, dy, NULL, dx); }

/* ---------------------------------------------------------------- adaptive average pooling */
typedef struct FN(adaptive_job) {
    int64_t h, w, ho, wo;
    bool grad;
    const T *in;
    T *out;
} FN(adaptive_job);

static void FN(adaptive_planes)(void *ctx, int64_t p0, int64_t p1) {
    FN(adaptive_job) *j = ctx;
    int64_t in_sz = j->h * j->w, out_sz = j->ho * j->wo;
    for (int64_t p = p0; p < p1; p++) {
        const T *a = j->in + p * (j->grad ? out_sz : in_sz);
        T *o = j->out + p * (j->grad ? in_sz : out_sz);
        if (j->grad) memset(o, 0, sizeof(T) * (size_t)in_sz);
        for (int64_t oh = 0; oh < j->ho; oh++) {
            int64_t h0 = oh * j->h / j->ho, h1 = ((oh + 1) * j->h + j->ho - 1) / j->ho;
            for (int64_t ow = 0; ow < j->wo; ow++) {
                int64_t w0 = ow * j->w / j->wo, w1 = ((ow + 1) * j->w + j->wo - 1) / j->wo;
                double cnt = (double)((h1 - h0) * (w1 - w0));
                if (!j->grad) {
                    double s = 0;
                    for (int64_t ih = h0; ih < h1; ih++)
                        for (int64_t iw = w0; iw < w1; iw++) s += (double)a[ih * j->w + iw];
                    o[oh * j->wo + ow] = cnt > 0 ? (T)(s / cnt) : 0;
                } else if (cnt > 0) {
                    T v = (T)((double)a[oh * j->wo + ow] / cnt);
                    for (int64_t ih = h0; ih < h1; ih++)
                        for (int64_t iw = w0; iw < w1; iw++) o[ih * j->w + iw] += v;
                }
            }
        }
    }
}

static void FN(adaptive_run)(int64_t planes, int64_t h, int64_t w, int64_t ho, int64_t wo, bool grad, const T *in,
                             T *out) {
    FN(adaptive_job) j = {h, w, ho, wo, grad, in, out};
    ds_parallel_for(planes, 16384 / (h * w + ho * wo + 1) + 1, FN(adaptive_planes), &j);
}

void FN(ds_adaptive_avg_pool2d)(int64_t planes, int64_t h, int64_t w, int64_t ho, int64_t wo, const T *x, T *y) {
    FN(adaptive_run)(planes, h, w, ho, wo, false, x, y);
}

void FN(ds_adaptive_avg_pool2d_grad)(int64_t planes, int64_t h, int64_t w, int64_t ho, int64_t wo, const T *dy,
                                     T *dx) {
    FN(adaptive_run)(planes, h, w, ho, wo, true, dy, dx);
}

#undef FN
#undef FN2
#undef FN_
