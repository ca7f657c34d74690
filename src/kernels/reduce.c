/* The reduction driver (see reduce.h): splits [outer, r, inner] into pieces, converts uncommon dtypes
 * in small blocks to a work type (float32, float64 or int64), runs the per-ISA loops of
 * reduce.simd.c, and combines partial results in a fixed order. */
#include "kernels/reduce.h"

#include <math.h>
#include <pthread.h>
#include <string.h>

#include "base/alloc.h"
#include "base/status.h"
#include "base/threadpool.h"
#include "tensor/dtype.h"

/* ---------------------------------------------------------------- ISA selection */
static ds_reduce_vt g_vt;
static int g_best; /* 0 generic, 1 avx2, 2 avx512 */
static pthread_once_t g_vt_once = PTHREAD_ONCE_INIT;

static void vt_init(void) {
    g_best = 0;
#if defined(__x86_64__) || defined(DS_X86_64)
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") &&
        __builtin_cpu_supports("f16c"))
        g_best = 1;
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
        __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq"))
        g_best = 2;
    if (g_best == 2) ds_reduce_fill_vt_avx512(&g_vt);
    else if (g_best == 1) ds_reduce_fill_vt_avx2(&g_vt);
    else
#endif
        ds_reduce_fill_vt_generic(&g_vt);
}

static inline const ds_reduce_vt *vt_get(void) {
    pthread_once(&g_vt_once, vt_init);
    return &g_vt;
}

bool ds_reduce_set_isa(const char *isa) {
    vt_get();
    int want = !isa ? g_best : !strcmp(isa, "generic") ? 0 : !strcmp(isa, "avx2") ? 1
                                                         : !strcmp(isa, "avx512") ? 2 : -1;
    if (want < 0 || want > g_best) return false;
#if defined(__x86_64__) || defined(DS_X86_64)
    if (want == 2) ds_reduce_fill_vt_avx512(&g_vt);
    else if (want == 1) ds_reduce_fill_vt_avx2(&g_vt);
    else
#endif
        ds_reduce_fill_vt_generic(&g_vt);
    return true;
}

ds_dtype ds_reduce_out_dtype(ds_reduce_kind kind, ds_dtype in) {
    switch (kind) {
    case DS_REDUCE_SUM:
    case DS_REDUCE_PROD: return ds_dtype_is_float(in) ? in : DS_INT64;
    case DS_REDUCE_MEAN:
    case DS_REDUCE_VAR:
    case DS_REDUCE_STD: return ds_dtype_is_float(in) ? in : DS_FLOAT32;
    case DS_REDUCE_ALL:
    case DS_REDUCE_ANY: return DS_BOOL;
    case DS_REDUCE_ARGMAX:
    case DS_REDUCE_ARGMIN: return DS_INT64;
    default: return in;
    }
}

/* ---------------------------------------------------------------- accumulators and the job */
typedef enum { OP_SUM, OP_PROD, OP_MAX, OP_MIN, OP_ALL, OP_ANY, OP_SQDEV, OP_ARGMAX, OP_ARGMIN } red_op;
typedef enum { FIN_PLAIN, FIN_DIV, FIN_SQRT_DIV } red_fin;
typedef enum { W_F32, W_F64, W_I64 } work_t;

/* One partial result: a double or int64 value, plus an index for argmax/argmin (-1 = empty). */
typedef struct racc {
    union {
        double d;
        int64_t i;
    } v;
    int64_t idx;
} racc;

#define CHUNK_ELEMS 65536 /* elements per piece when one output's reduction is split */
#define COLW 512          /* columns per piece when reducing over rows */
#define ROWBLK 256        /* rows summed into a block total before joining the running total */
#define CONV_ELEMS 2048   /* elements per conversion block */

typedef struct red_job {
    red_op op;
    red_fin fin;
    bool fl; /* accumulate in double (else int64) */
    work_t w;
    ds_dtype in, out;
    const char *x;
    int64_t outer, r, inner;
    int64_t ostride, run, run_stride; /* layout, see ds_reduce_ex */
    char *y;
    const double *center; /* OP_SQDEV: per output */
    double div;
    int64_t cw, ncc, rows, nrc;
    racc *partial;
    const ds_reduce_vt *vt;
} red_job;

static void acc_init(const red_job *j, racc *a, int64_t n) {
    racc v = {.idx = -1};
    switch (j->op) {
    case OP_SUM:
    case OP_SQDEV:
        if (j->fl) v.v.d = 0;
        else v.v.i = 0;
        break;
    case OP_PROD:
        if (j->fl) v.v.d = 1;
        else v.v.i = 1;
        break;
    case OP_MAX:
        if (j->fl) v.v.d = -INFINITY;
        else v.v.i = INT64_MIN;
        break;
    case OP_MIN:
        if (j->fl) v.v.d = INFINITY;
        else v.v.i = INT64_MAX;
        break;
    case OP_ALL: v.v.i = 1; break;
    default: v.v.i = 0; break;
    }
    for (int64_t k = 0; k < n; k++) a[k] = v;
}

/* Whether candidate value b beats current a (argmax/argmin; NaN wins, ties keep a). */
static inline bool arg_better_d(bool is_max, double b, double a) {
    if (a != a) return false;
    return b != b || (is_max ? b > a : b < a);
}
static inline bool arg_better_i(bool is_max, int64_t b, int64_t a) { return is_max ? b > a : b < a; }

/* a = a (op) b. b comes after a in index order. */
static void acc_merge(const red_job *j, racc *a, const racc *b) {
    switch (j->op) {
    case OP_SUM:
    case OP_SQDEV:
        if (j->fl) a->v.d += b->v.d;
        else a->v.i = (int64_t)((uint64_t)a->v.i + (uint64_t)b->v.i);
        break;
    case OP_PROD:
        if (j->fl) a->v.d *= b->v.d;
        else a->v.i = (int64_t)((uint64_t)a->v.i * (uint64_t)b->v.i);
        break;
    case OP_MAX:
        if (j->fl) {
            if (b->v.d > a->v.d || b->v.d != b->v.d) a->v.d = b->v.d;
        } else if (b->v.i > a->v.i) a->v.i = b->v.i;
        break;
    case OP_MIN:
        if (j->fl) {
            if (b->v.d < a->v.d || b->v.d != b->v.d) a->v.d = b->v.d;
        } else if (b->v.i < a->v.i) a->v.i = b->v.i;
        break;
    case OP_ALL: a->v.i = a->v.i && b->v.i; break;
    case OP_ANY: a->v.i = a->v.i || b->v.i; break;
    case OP_ARGMAX:
    case OP_ARGMIN: {
        bool mx = j->op == OP_ARGMAX;
        if (b->idx < 0) break;
        if (a->idx < 0 || (j->fl ? arg_better_d(mx, b->v.d, a->v.d) : arg_better_i(mx, b->v.i, a->v.i)))
            *a = *b;
        break;
    }
    }
}

static void acc_store(const red_job *j, const racc *a, char *dst) {
    if (j->op == OP_ARGMAX || j->op == OP_ARGMIN) {
        ds_dtype_store_int(j->out, dst, a->idx);
        return;
    }
    if (!j->fl) {
        ds_dtype_store_int(j->out, dst, a->v.i);
        return;
    }
    double v = a->v.d;
    if (j->fin == FIN_DIV) v /= j->div;
    else if (j->fin == FIN_SQRT_DIV) v = sqrt(v / j->div);
    ds_dtype_store_double(j->out, dst, v);
}

/* ---------------------------------------------------------------- conversion to the work type */
#define CONV_ROWS(ST, DT, EXPR)                                                                    \
    for (int64_t i = 0; i < nrows; i++) {                                                          \
        const ST *s = (const ST *)src + i * ld;                                                    \
        DT *d = (DT *)dst + i * c;                                                                 \
        for (int64_t k = 0; k < c; k++) {                                                          \
            ST v = s[k];                                                                           \
            d[k] = (DT)(EXPR);                                                                     \
        }                                                                                          \
    }

#define CONV_INTS(DT)                                                                              \
    switch (in) {                                                                                  \
    case DS_BOOL: CONV_ROWS(uint8_t, DT, v != 0) break;                                            \
    case DS_INT8: CONV_ROWS(int8_t, DT, v) break;                                                  \
    case DS_UINT8: CONV_ROWS(uint8_t, DT, v) break;                                                \
    case DS_INT16: CONV_ROWS(int16_t, DT, v) break;                                                \
    case DS_INT32: CONV_ROWS(int32_t, DT, v) break;                                                \
    case DS_INT64: CONV_ROWS(int64_t, DT, v) break;                                                \
    case DS_FLOAT32: CONV_ROWS(float, DT, v) break;                                                \
    case DS_FLOAT64: CONV_ROWS(double, DT, v) break;                                               \
    case DS_FLOAT16: CONV_ROWS(uint16_t, DT, ds_half_to_f32(v)) break;                             \
    case DS_BFLOAT16: CONV_ROWS(uint16_t, DT, ds_bf16_to_f32(v)) break;                            \
    default: break;                                                                                \
    }

/* dst[nrows x c] (contiguous, work type w) = src rows of c elements with row stride ld. */
static void convert_rows(ds_dtype in, const char *src, int64_t nrows, int64_t ld, int64_t c,
                         work_t w, void *dst) {
    if (w == W_F32) {
        CONV_INTS(float)
    } else if (w == W_F64) {
        CONV_INTS(double)
    } else {
        CONV_INTS(int64_t)
    }
}

static bool is_native(ds_dtype in, work_t w) {
    return (w == W_F32 && in == DS_FLOAT32) || (w == W_F64 && in == DS_FLOAT64) ||
           (w == W_I64 && in == DS_INT64);
}

/* ---------------------------------------------------------------- 1-D runs (inner == 1) */
/* Reduces n work-type values at w (indices idx0..) and merges the result into *acc. */
static void run_1d(const red_job *j, const void *w, int64_t n, int64_t idx0, double center,
                   racc *acc) {
    const ds_reduce_vt *vt = j->vt;
    racc b = {.idx = -1};
    const float *f = (const float *)w;
    const double *d = (const double *)w;
    const int64_t *q = (const int64_t *)w;
    switch (j->op) {
    case OP_SUM:
        if (j->w == W_F32) b.v.d = vt->sum_f32(f, n);
        else if (j->w == W_F64) b.v.d = vt->sum_f64(d, n);
        else {
            uint64_t s = 0;
            for (int64_t k = 0; k < n; k++) s += (uint64_t)q[k];
            b.v.i = (int64_t)s;
        }
        break;
    case OP_SQDEV:
        b.v.d = j->w == W_F32 ? vt->sqdev_f32(f, n, center) : vt->sqdev_f64(d, n, center);
        break;
    case OP_PROD:
        if (j->w == W_I64) {
            uint64_t p = 1;
            for (int64_t k = 0; k < n; k++) p *= (uint64_t)q[k];
            b.v.i = (int64_t)p;
        } else {
            double p = 1;
            if (j->w == W_F32)
                for (int64_t k = 0; k < n; k++) p *= f[k];
            else
                for (int64_t k = 0; k < n; k++) p *= d[k];
            b.v.d = p;
        }
        break;
    case OP_MAX:
    case OP_MIN: {
        bool mx = j->op == OP_MAX;
        if (j->w == W_F32) b.v.d = mx ? vt->max_f32(f, n) : vt->min_f32(f, n);
        else if (j->w == W_F64) b.v.d = mx ? vt->max_f64(d, n) : vt->min_f64(d, n);
        else {
            int64_t m = q[0];
            for (int64_t k = 1; k < n; k++) m = (mx ? q[k] > m : q[k] < m) ? q[k] : m;
            b.v.i = m;
        }
        break;
    }
    case OP_ALL:
    case OP_ANY: {
        bool want = j->op == OP_ANY; /* stop at the first element whose truth is `want` */
        int64_t k = 0;
        if (j->w == W_F32)
            while (k < n && (f[k] != 0) != want) k++;
        else if (j->w == W_F64)
            while (k < n && (d[k] != 0) != want) k++;
        else
            while (k < n && (q[k] != 0) != want) k++;
        b.v.i = (k < n) == want;
        break;
    }
    case OP_ARGMAX:
    case OP_ARGMIN: {
        bool mx = j->op == OP_ARGMAX;
        if (j->w == W_F32) {
            float v = mx ? vt->max_f32(f, n) : vt->min_f32(f, n);
            b.v.d = v;
            b.idx = idx0 + vt->find_f32(f, n, v);
        } else if (j->w == W_F64) {
            double v = mx ? vt->max_f64(d, n) : vt->min_f64(d, n);
            b.v.d = v;
            b.idx = idx0 + vt->find_f64(d, n, v);
        } else {
            int64_t m = q[0], at = 0;
            for (int64_t k = 1; k < n; k++)
                if (mx ? q[k] > m : q[k] < m) m = q[k], at = k;
            b.v.i = m;
            b.idx = idx0 + at;
        }
        break;
    }
    }
    acc_merge(j, acc, &b);
}

/* ---------------------------------------------------------------- row blocks (inner > 1) */
/* Reduces nrows rows of c work-type columns (row stride ld) at w into acc[0..c). */
static void run_rows(const red_job *j, const void *w, int64_t nrows, int64_t ld, int64_t c,
                     int64_t idx0, const double *center, racc *acc) {
    const ds_reduce_vt *vt = j->vt;
    const float *f = (const float *)w;
    const double *d = (const double *)w;
    const int64_t *q = (const int64_t *)w;
    double tmp[COLW];
    float tmpf[COLW];
    switch (j->op) {
    case OP_SUM:
    case OP_SQDEV:
        if (j->w == W_I64) {
            for (int64_t i = 0; i < nrows; i++)
                for (int64_t k = 0; k < c; k++)
                    acc[k].v.i = (int64_t)((uint64_t)acc[k].v.i + (uint64_t)q[i * ld + k]);
            break;
        }
        for (int64_t i0 = 0; i0 < nrows; i0 += ROWBLK) {
            int64_t nb = nrows - i0 < ROWBLK ? nrows - i0 : ROWBLK;
            memset(tmp, 0, sizeof(double) * (size_t)c);
            if (j->op == OP_SUM) {
                if (j->w == W_F32) vt->sum_rows_f32(f + i0 * ld, nb, ld, c, tmp);
                else vt->sum_rows_f64(d + i0 * ld, nb, ld, c, tmp);
            } else {
                if (j->w == W_F32) vt->sqdev_rows_f32(f + i0 * ld, nb, ld, c, center, tmp);
                else vt->sqdev_rows_f64(d + i0 * ld, nb, ld, c, center, tmp);
            }
            for (int64_t k = 0; k < c; k++) acc[k].v.d += tmp[k];
        }
        break;
    case OP_PROD:
        for (int64_t i = 0; i < nrows; i++)
            for (int64_t k = 0; k < c; k++) {
                if (j->w == W_I64) acc[k].v.i = (int64_t)((uint64_t)acc[k].v.i * (uint64_t)q[i * ld + k]);
                else acc[k].v.d *= j->w == W_F32 ? (double)f[i * ld + k] : d[i * ld + k];
            }
        break;
    case OP_MAX:
    case OP_MIN: {
        bool mx = j->op == OP_MAX;
        if (j->w == W_F32) {
            memcpy(tmpf, f, sizeof(float) * (size_t)c);
            (mx ? vt->max_rows_f32 : vt->min_rows_f32)(f + ld, nrows - 1, ld, c, tmpf);
            for (int64_t k = 0; k < c; k++) {
                racc b = {.v.d = tmpf[k], .idx = -1};
                acc_merge(j, &acc[k], &b);
            }
        } else if (j->w == W_F64) {
            memcpy(tmp, d, sizeof(double) * (size_t)c);
            (mx ? vt->max_rows_f64 : vt->min_rows_f64)(d + ld, nrows - 1, ld, c, tmp);
            for (int64_t k = 0; k < c; k++) {
                racc b = {.v.d = tmp[k], .idx = -1};
                acc_merge(j, &acc[k], &b);
            }
        } else {
            for (int64_t i = 0; i < nrows; i++)
                for (int64_t k = 0; k < c; k++) {
                    int64_t v = q[i * ld + k];
                    if (mx ? v > acc[k].v.i : v < acc[k].v.i) acc[k].v.i = v;
                }
        }
        break;
    }
    case OP_ALL:
    case OP_ANY: {
        bool any = j->op == OP_ANY;
        for (int64_t i = 0; i < nrows; i++)
            for (int64_t k = 0; k < c; k++) {
                bool t = j->w == W_F32 ? f[i * ld + k] != 0
                         : j->w == W_F64 ? d[i * ld + k] != 0 : q[i * ld + k] != 0;
                if (any) acc[k].v.i |= t;
                else acc[k].v.i &= t;
            }
        break;
    }
    case OP_ARGMAX:
    case OP_ARGMIN: {
        bool mx = j->op == OP_ARGMAX;
        for (int64_t i = 0; i < nrows; i++)
            for (int64_t k = 0; k < c; k++) {
                racc *a = &acc[k];
                if (j->w == W_I64) {
                    int64_t v = q[i * ld + k];
                    if (a->idx < 0 || arg_better_i(mx, v, a->v.i)) a->v.i = v, a->idx = idx0 + i;
                } else {
                    double v = j->w == W_F32 ? (double)f[i * ld + k] : d[i * ld + k];
                    if (a->idx < 0 || arg_better_d(mx, v, a->v.d)) a->v.d = v, a->idx = idx0 + i;
                }
            }
        break;
    }
    }
}

/* ---------------------------------------------------------------- pieces and the parallel loop */
/* Reduces the rows [i0, i1) (all inside one run) x columns [j0, j0 + c) of outer slice o. */
static void reduce_segment(const red_job *j, int64_t o, int64_t i0, int64_t i1, int64_t j0,
                           int64_t c, racc *acc) {
    size_t es = ds_dtype_size(j->in);
    int64_t elem = o * j->ostride + (i0 / j->run) * j->run_stride + (i0 % j->run) * j->inner + j0;
    const char *base = j->x + (size_t)elem * es;
    const double *center = j->center ? j->center + o * j->inner + j0 : NULL;
    int64_t n = i1 - i0;
    bool native = is_native(j->in, j->w);
    _Alignas(64) char wbuf[CONV_ELEMS * 8];
    if (j->inner == 1) {
        double cen = center ? center[0] : 0;
        if (native) {
            run_1d(j, base, n, i0, cen, acc);
            return;
        }
        for (int64_t k = 0; k < n; k += CONV_ELEMS) {
            int64_t nb = n - k < CONV_ELEMS ? n - k : CONV_ELEMS;
            convert_rows(j->in, base + (size_t)k * es, 1, 0, nb, j->w, wbuf);
            run_1d(j, wbuf, nb, i0 + k, cen, acc);
        }
        return;
    }
    if (native) {
        run_rows(j, base, n, j->inner, c, i0, center, acc);
        return;
    }
    int64_t rb = CONV_ELEMS / c;
    for (int64_t k = 0; k < n; k += rb) {
        int64_t nb = n - k < rb ? n - k : rb;
        convert_rows(j->in, base + (size_t)(k * j->inner) * es, nb, j->inner, c, j->w, wbuf);
        run_rows(j, wbuf, nb, c, c, i0 + k, center, acc);
    }
}

/* Reduces rows [i0, i1) x columns [j0, j0 + c) of outer slice o into acc[0..c), one run at a
 * time (max/min read a segment's first row as the start value, so segments are never empty). */
static void reduce_piece(const red_job *j, int64_t o, int64_t i0, int64_t i1, int64_t j0,
                         int64_t c, racc *acc) {
    while (i0 < i1) {
        int64_t end = (i0 / j->run + 1) * j->run;
        if (end > i1) end = i1;
        reduce_segment(j, o, i0, end, j0, c, acc);
        i0 = end;
    }
}

static void reduce_items(void *ctx, int64_t b, int64_t e) {
    const red_job *j = (const red_job *)ctx;
    racc acc[COLW];
    for (int64_t it = b; it < e; it++) {
        int64_t rc = it % j->nrc, cc = (it / j->nrc) % j->ncc, o = it / j->nrc / j->ncc;
        int64_t j0 = cc * j->cw, c = j->inner - j0 < j->cw ? j->inner - j0 : j->cw;
        int64_t i0 = rc * j->rows, i1 = i0 + j->rows < j->r ? i0 + j->rows : j->r;
        acc_init(j, acc, c);
        reduce_piece(j, o, i0, i1, j0, c, acc);
        if (j->nrc == 1) {
            size_t os = ds_dtype_size(j->out);
            for (int64_t k = 0; k < c; k++)
                acc_store(j, &acc[k], j->y + (size_t)(o * j->inner + j0 + k) * os);
        } else {
            memcpy(j->partial + (o * j->nrc + rc) * j->inner + j0, acc, sizeof(racc) * (size_t)c);
        }
    }
}

static ds_status reduce_run(red_job *j) {
    size_t os = ds_dtype_size(j->out);
    int64_t nout = j->outer * j->inner;
    if (nout == 0) return DS_OK;
    if (j->r == 0) { /* identity everywhere */
        racc a;
        acc_init(j, &a, 1);
        for (int64_t k = 0; k < nout; k++) acc_store(j, &a, j->y + (size_t)k * os);
        return DS_OK;
    }
    j->vt = vt_get();
    if (j->inner == 1) {
        j->cw = 1;
        j->ncc = 1;
        j->rows = j->outer >= 64 || j->r <= CHUNK_ELEMS ? j->r : CHUNK_ELEMS;
    } else {
        j->cw = j->inner < COLW ? j->inner : COLW;
        j->ncc = (j->inner + j->cw - 1) / j->cw;
        int64_t rows = CHUNK_ELEMS / j->cw;
        j->rows = j->outer * j->ncc >= 64 || j->r <= rows ? j->r : rows;
    }
    j->nrc = (j->r + j->rows - 1) / j->rows;
    if (j->nrc > 1) {
        j->partial = (racc *)ds_malloc(sizeof(racc) * (size_t)(j->outer * j->nrc * j->inner));
        if (!j->partial) return DS_ERR_NOMEM;
    }
    int64_t items = j->outer * j->ncc * j->nrc, per_item = j->rows * j->cw;
    int64_t grain = per_item >= 32768 ? 1 : 32768 / per_item;
    ds_parallel_for(items, grain, reduce_items, j);
    if (j->nrc > 1) {
        for (int64_t o = 0; o < j->outer; o++)
            for (int64_t k = 0; k < j->inner; k++) {
                racc a = j->partial[o * j->nrc * j->inner + k];
                for (int64_t rc = 1; rc < j->nrc; rc++)
                    acc_merge(j, &a, &j->partial[(o * j->nrc + rc) * j->inner + k]);
                acc_store(j, &a, j->y + (size_t)(o * j->inner + k) * os);
            }
        ds_free(j->partial);
        j->partial = NULL;
    }
    return DS_OK;
}

static work_t work_type(ds_dtype in, bool fl) {
    if (in == DS_FLOAT64) return W_F64;
    if (ds_dtype_is_float(in)) return W_F32;
    return fl ? W_F64 : W_I64;
}

ds_status ds_reduce(ds_reduce_kind kind, ds_dtype in, const void *x, int64_t outer, int64_t r,
                    int64_t inner, ds_dtype out, void *y, int64_t ddof) {
    return ds_reduce_ex(kind, in, x, outer, r, inner, r * inner, r, 0, out, y, ddof);
}

ds_status ds_reduce_ex(ds_reduce_kind kind, ds_dtype in, const void *x, int64_t outer, int64_t r,
                       int64_t inner, int64_t ostride, int64_t run, int64_t run_stride,
                       ds_dtype out, void *y, int64_t ddof) {
    static const red_op k_op[DS_REDUCE_KIND_COUNT] = {
        [DS_REDUCE_SUM] = OP_SUM,       [DS_REDUCE_PROD] = OP_PROD,     [DS_REDUCE_MEAN] = OP_SUM,
        [DS_REDUCE_MAX] = OP_MAX,       [DS_REDUCE_MIN] = OP_MIN,       [DS_REDUCE_ALL] = OP_ALL,
        [DS_REDUCE_ANY] = OP_ANY,       [DS_REDUCE_VAR] = OP_SQDEV,     [DS_REDUCE_STD] = OP_SQDEV,
        [DS_REDUCE_ARGMAX] = OP_ARGMAX, [DS_REDUCE_ARGMIN] = OP_ARGMIN,
    };
    if ((unsigned)kind >= DS_REDUCE_KIND_COUNT)
        return ds_errorf(DS_ERR_INTERNAL, "reduce: bad kind %d", (int)kind);
    bool isf = ds_dtype_is_float(in);
    red_job j = {.op = k_op[kind], .fin = FIN_PLAIN, .in = in, .out = out, .x = (const char *)x,
                 .outer = outer, .r = r, .inner = inner, .ostride = ostride,
                 .run = run > 0 ? run : 1, .run_stride = run_stride, .y = (char *)y};
    switch (kind) {
    case DS_REDUCE_SUM:
    case DS_REDUCE_PROD:
    case DS_REDUCE_MAX:
    case DS_REDUCE_MIN:
    case DS_REDUCE_ARGMAX:
    case DS_REDUCE_ARGMIN: j.fl = isf; break;
    case DS_REDUCE_ALL:
    case DS_REDUCE_ANY: j.fl = false; break;
    default: j.fl = true; break;
    }
    j.w = kind == DS_REDUCE_ALL || kind == DS_REDUCE_ANY ? work_type(in, isf) : work_type(in, j.fl);
    if (kind == DS_REDUCE_MEAN) {
        j.fin = FIN_DIV;
        j.div = (double)r;
    }
    if (kind != DS_REDUCE_VAR && kind != DS_REDUCE_STD) return reduce_run(&j);

    /* variance: means first (in double), then the squared deviations from them */
    ds_status st = DS_OK;
    int64_t nout = outer * inner;
    double *means = (double *)ds_malloc(sizeof(double) * (size_t)(nout > 0 ? nout : 1));
    if (!means) return DS_ERR_NOMEM;
    red_job mj = j;
    mj.op = OP_SUM;
    mj.fin = FIN_DIV;
    mj.div = (double)r;
    mj.out = DS_FLOAT64;
    mj.y = (char *)means;
    DS_TRY(reduce_run(&mj));
    j.center = means;
    j.fin = kind == DS_REDUCE_STD ? FIN_SQRT_DIV : FIN_DIV;
    j.div = r - ddof > 0 ? (double)(r - ddof) : 0.0;
    if (r == 0) j.fin = FIN_DIV; /* 0 / 0: NaN */
    DS_TRY(reduce_run(&j));
fail:
    ds_free(means);
    return st;
}
