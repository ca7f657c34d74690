/* GEMM: the BLAS wrapper and the builtin cache-blocked, packed GEMM.
 *
 * Builtin design (GotoBLAS/BLIS style): C is cut into a few blocks of rows x columns, one pool task
 * each. For every KC-deep slice a task packs its op(B) block once into NR-wide column panels (kept in
 * L2), then for each MC-row block packs op(A) into MR-tall row panels (small enough for L1) and runs
 * a register-tiled MR x NR micro-kernel over all panel pairs; edges are zero-padded in the packs. The
 * micro-kernels are written once with GCC vector extensions and instantiated per instruction set
 * through target attributes (AVX-512, AVX2+FMA, baseline), picked at run time. Blocks start at
 * multiples of MR and NR, so every element of C is computed the same way whatever the split: results
 * do not depend on the number of threads. */
#include "kernels/gemm.h"

#include <pthread.h>
#include <stdatomic.h>
#include <string.h>

#include "base/alloc.h"
#include "base/status.h"
#include "kernels/threadpool.h"

#ifdef DS_HAVE_CBLAS
#include <cblas.h>
/* OpenBLAS extensions, weak so that any other CBLAS links too. */
void openblas_set_num_threads(int num_threads);
int openblas_get_num_threads(void);
#pragma weak openblas_set_num_threads
#pragma weak openblas_get_num_threads
#endif

#ifndef DS_BLAS_NAME
#define DS_BLAS_NAME "builtin"
#endif

#if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__))
#define DS_GEMM_X86 1
#define DS_TARGET_AVX512 __attribute__((target("avx512f,avx512vl,avx2,fma")))
#define DS_TARGET_AVX2 __attribute__((target("avx2,fma")))
#endif

const char *ds_blas_backend(void) { return DS_BLAS_NAME; }

static inline int64_t imin(int64_t a, int64_t b) { return a < b ? a : b; }
static inline int64_t round_up(int64_t x, int64_t m) { return (x + m - 1) / m * m; }

/* ---------------------------------------------------------------- micro-kernels */
/* c[MR x NR] = alpha * (pa panel)^T (pb panel) + beta * c, where pa holds kc groups of MR values and
 * pb kc groups of NR values (64-byte aligned). beta == 0: c is not read. */
typedef void (*gemm_kernel_fn)(int64_t kc, const void *pa, const void *pb, void *c, int64_t ldc,
                               const void *alpha, const void *beta);

#define DS_GEMM_KERNEL(NAME, T, VL, MR, NV, ATTR)                                                  \
    ATTR static void NAME(int64_t kc, const void *pa_, const void *pb_, void *c_, int64_t ldc,   \
                          const void *alpha_, const void *beta_) {                                 \
        typedef T vt __attribute__((vector_size((VL) * sizeof(T))));                               \
        const T *pa = (const T *)pa_;                                                              \
        const vt *pb = (const vt *)pb_;                                                            \
        T *c = (T *)c_;                                                                            \
        const T alpha = *(const T *)alpha_, beta = *(const T *)beta_;                              \
        vt acc[MR][NV];                                                                            \
        for (int i = 0; i < (MR); i++)                                                             \
            for (int v = 0; v < (NV); v++) acc[i][v] = (vt){0};                                    \
        for (int64_t p = 0; p < kc; p++) {                                                         \
            vt b[NV];                                                                              \
            for (int v = 0; v < (NV); v++) b[v] = pb[v];                                           \
            for (int i = 0; i < (MR); i++) {                                                       \
                vt x = pa[i] - (vt){0};                                                            \
                for (int v = 0; v < (NV); v++) acc[i][v] += x * b[v];                              \
            }                                                                                      \
            pa += (MR);                                                                            \
            pb += (NV);                                                                            \
        }                                                                                          \
        for (int i = 0; i < (MR); i++) {                                                           \
            T *cr = c + i * ldc;                                                                   \
            for (int v = 0; v < (NV); v++) {                                                       \
                vt r = acc[i][v] * alpha, old;                                                     \
                if (beta != 0) {                                                                   \
                    memcpy(&old, cr + v * (VL), sizeof old);                                       \
                    r += old * beta;                                                               \
                }                                                                                  \
                memcpy(cr + v * (VL), &r, sizeof r);                                               \
            }                                                                                      \
        }                                                                                          \
    }

DS_GEMM_KERNEL(kern_f32_generic, float, 4, 4, 2, )
DS_GEMM_KERNEL(kern_f64_generic, double, 2, 4, 2, )
#ifdef DS_GEMM_X86
DS_GEMM_KERNEL(kern_f32_avx2, float, 8, 6, 2, DS_TARGET_AVX2)
DS_GEMM_KERNEL(kern_f64_avx2, double, 4, 6, 2, DS_TARGET_AVX2)
DS_GEMM_KERNEL(kern_f32_avx512, float, 16, 12, 2, DS_TARGET_AVX512)
DS_GEMM_KERNEL(kern_f64_avx512, double, 8, 12, 2, DS_TARGET_AVX512)
#endif

/* One micro-kernel and the blocking that suits it. */
typedef struct gemm_kernel {
    gemm_kernel_fn fn;
    int mr, nr;
    int64_t kc, mc, nc; /* depth of a K slice, tile rows, tile columns */
} gemm_kernel;

enum { ISA_GENERIC, ISA_AVX2, ISA_AVX512, ISA_COUNT };
static const char *const k_isa_name[ISA_COUNT] = {"generic", "avx2", "avx512"};

/* [isa][0 = f32, 1 = f64] */
static const gemm_kernel k_kernels[ISA_COUNT][2] = {
    {{kern_f32_generic, 4, 8, 256, 128, 512}, {kern_f64_generic, 4, 4, 256, 128, 256}},
#ifdef DS_GEMM_X86
    {{kern_f32_avx2, 6, 16, 256, 144, 1024}, {kern_f64_avx2, 6, 8, 256, 120, 512}},
    {{kern_f32_avx512, 12, 32, 256, 48, 1024}, {kern_f64_avx512, 12, 16, 256, 48, 512}},
#else
    {{kern_f32_generic, 4, 8, 256, 128, 512}, {kern_f64_generic, 4, 4, 256, 128, 256}},
    {{kern_f32_generic, 4, 8, 256, 128, 512}, {kern_f64_generic, 4, 4, 256, 128, 256}},
#endif
};

static int s_isa_best = -1; /* detected once */
static int s_isa = -1;      /* in use (may be forced lower by tests) */
static pthread_once_t s_isa_once = PTHREAD_ONCE_INIT;

static void isa_detect(void) {
    int best = ISA_GENERIC;
#ifdef DS_GEMM_X86
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) best = ISA_AVX2;
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl")) best = ISA_AVX512;
#endif
    s_isa_best = best;
    s_isa = best;
}

static int isa_current(void) {
    pthread_once(&s_isa_once, isa_detect);
    return s_isa;
}

const char *ds_gemm_builtin_isa(void) { return k_isa_name[isa_current()]; }

bool ds_gemm_builtin_force_isa(const char *isa) {
    isa_current();
    if (!isa) {
        s_isa = s_isa_best;
        return true;
    }
    for (int i = 0; i < ISA_COUNT; i++)
        if (strcmp(isa, k_isa_name[i]) == 0) {
            if (i > s_isa_best) return false;
            s_isa = i;
            return true;
        }
    return false;
}

/* ---------------------------------------------------------------- typed helpers: packing, edges */
typedef struct gemm_type {
    size_t es;
    /* Packs op(A)[i0:i0+mc, p0:p0+kc] into mr-tall panels (kc groups of mr, zero-padded rows). */
    void (*pack_a)(bool trans, const void *a, int64_t lda, int64_t i0, int64_t mc, int64_t p0,
                   int64_t kc, int mr, void *pa);
    /* Packs op(B)[p0:p0+kc, j0:j0+nc] into nr-wide panels (kc groups of nr, zero-padded columns). */
    void (*pack_b)(bool trans, const void *b, int64_t ldb, int64_t p0, int64_t kc, int64_t j0,
                   int64_t nc, int nr, void *pb);
    /* c[me x ne] = alpha * t + beta * c, t with row stride nr. */
    void (*edge)(const void *t, int nr, void *c, int64_t ldc, int64_t me, int64_t ne,
                 const void *alpha, const void *beta);
    /* c[m x n] *= beta (beta == 0: set to zero). */
    void (*scale)(int64_t m, int64_t n, void *c, int64_t ldc, const void *beta);
} gemm_type;

#define DS_GEMM_HELPERS(T, SUF)                                                                    \
    static void pack_a_##SUF(bool trans, const void *a_, int64_t lda, int64_t i0, int64_t mc,     \
                             int64_t p0, int64_t kc, int mr, void *pa_) {                          \
        const T *a = (const T *)a_;                                                                \
        T *pa = (T *)pa_;                                                                          \
        for (int64_t ir = 0; ir < mc; ir += mr) {                                                  \
            int64_t me = imin(mr, mc - ir);                                                        \
            if (!trans) {                                                                          \
                for (int64_t i = 0; i < me; i++) {                                                 \
                    const T *src = a + (i0 + ir + i) * lda + p0;                                   \
                    for (int64_t p = 0; p < kc; p++) pa[p * mr + i] = src[p];                      \
                }                                                                                  \
            } else {                                                                               \
                for (int64_t p = 0; p < kc; p++) {                                                 \
                    const T *src = a + (p0 + p) * lda + i0 + ir;                                   \
                    for (int64_t i = 0; i < me; i++) pa[p * mr + i] = src[i];                      \
                }                                                                                  \
            }                                                                                      \
            if (me < mr)                                                                           \
                for (int64_t p = 0; p < kc; p++)                                                   \
                    for (int64_t i = me; i < mr; i++) pa[p * mr + i] = 0;                          \
            pa += (int64_t)mr * kc;                                                                \
        }                                                                                          \
    }                                                                                              \
    static void pack_b_##SUF(bool trans, const void *b_, int64_t ldb, int64_t p0, int64_t kc,     \
                             int64_t j0, int64_t nc, int nr, void *pb_) {                          \
        const T *b = (const T *)b_;                                                                \
        T *pb = (T *)pb_;                                                                          \
        int64_t full = nc / nr * nr, ne = nc - full;                                               \
        if (!trans) { /* row by row: reads B sequentially */                                      \
            for (int64_t p = 0; p < kc; p++) {                                                     \
                const T *src = b + (p0 + p) * ldb + j0;                                            \
                T *dst = pb + p * nr;                                                              \
                for (int64_t jr = 0; jr < full; jr += nr, dst += (int64_t)nr * kc)                 \
                    for (int64_t j = 0; j < nr; j++) dst[j] = src[jr + j];                         \
                if (ne)                                                                            \
                    for (int64_t j = 0; j < nr; j++) dst[j] = j < ne ? src[full + j] : 0;          \
            }                                                                                      \
            return;                                                                                \
        }                                                                                          \
        for (int64_t jr = 0; jr < nc; jr += nr) {                                                  \
            int64_t me = imin(nr, nc - jr);                                                        \
            for (int64_t j = 0; j < me; j++) {                                                     \
                const T *src = b + (j0 + jr + j) * ldb + p0;                                       \
                for (int64_t p = 0; p < kc; p++) pb[p * nr + j] = src[p];                          \
            }                                                                                      \
            if (me < nr)                                                                           \
                for (int64_t p = 0; p < kc; p++)                                                   \
                    for (int64_t j = me; j < nr; j++) pb[p * nr + j] = 0;                          \
            pb += (int64_t)nr * kc;                                                                \
        }                                                                                          \
    }                                                                                              \
    static void edge_##SUF(const void *t_, int nr, void *c_, int64_t ldc, int64_t me, int64_t ne,  \
                           const void *alpha_, const void *beta_) {                                \
        const T *t = (const T *)t_;                                                                \
        T *c = (T *)c_;                                                                            \
        T alpha = *(const T *)alpha_, beta = *(const T *)beta_;                                    \
        for (int64_t i = 0; i < me; i++)                                                           \
            for (int64_t j = 0; j < ne; j++) {                                                     \
                T r = alpha * t[i * nr + j];                                                       \
                if (beta != 0) r += beta * c[i * ldc + j];                                         \
                c[i * ldc + j] = r;                                                                \
            }                                                                                      \
    }                                                                                              \
    static void scale_##SUF(int64_t m, int64_t n, void *c_, int64_t ldc, const void *beta_) {      \
        T *c = (T *)c_;                                                                            \
        T beta = *(const T *)beta_;                                                                \
        for (int64_t i = 0; i < m; i++)                                                            \
            for (int64_t j = 0; j < n; j++) c[i * ldc + j] = beta == 0 ? 0 : beta * c[i * ldc + j]; \
    }                                                                                              \
    static const gemm_type k_type_##SUF = {sizeof(T), pack_a_##SUF, pack_b_##SUF, edge_##SUF,      \
                                           scale_##SUF};

DS_GEMM_HELPERS(float, f32)
DS_GEMM_HELPERS(double, f64)

/* ---------------------------------------------------------------- the builtin driver */
/* A task is a block of C: `rows_t` rows (a multiple of the kernel's mc) by `cols_t` columns (a
 * multiple of nr). For each K slice it packs its B block once and reuses it for all its row blocks. */
typedef struct gemm_job {
    const gemm_type *ty;
    const gemm_kernel *kn;
    bool ta, tb;
    int64_t m, n, k;
    const char *a, *b;
    char *c;
    int64_t lda, ldb, ldc;
    const void *alpha, *beta, *one, *zero;
    int64_t rows_t, cols_t, tasks_n;
    atomic_int failed;
} gemm_job;

static void gemm_tasks(void *ctx, int64_t t0, int64_t t1) {
    gemm_job *j = (gemm_job *)ctx;
    const gemm_type *ty = j->ty;
    const gemm_kernel *kn = j->kn;
    size_t es = ty->es;
    int mr = kn->mr, nr = kn->nr;
    int64_t kcb = imin(kn->kc, j->k), mcb = imin(kn->mc, j->rows_t);
    /* the B panels are read with aligned vector loads: keep them on a 64-byte boundary */
    size_t a_bytes = (size_t)round_up((int64_t)((size_t)(round_up(mcb, mr) * kcb) * es), 64);
    size_t b_bytes = (size_t)(round_up(j->cols_t, nr) * kcb) * es;
    char *buf = (char *)ds_malloc(a_bytes + b_bytes + (size_t)mr * nr * es);
    if (!buf) {
        atomic_store(&j->failed, 1);
        return;
    }
    char *pa = buf, *pb = buf + a_bytes, *tmp = pb + b_bytes;
    for (int64_t t = t0; t < t1; t++) {
        int64_t r0 = (t / j->tasks_n) * j->rows_t, j0 = (t % j->tasks_n) * j->cols_t;
        int64_t r1 = imin(r0 + j->rows_t, j->m), nc = imin(j->cols_t, j->n - j0);
        for (int64_t p0 = 0; p0 < j->k; p0 += kcb) {
            int64_t kc = imin(kcb, j->k - p0);
            const void *beta = p0 == 0 ? j->beta : j->one;
            ty->pack_b(j->tb, j->b, j->ldb, p0, kc, j0, nc, nr, pb);
            for (int64_t i0 = r0; i0 < r1; i0 += mcb) {
                int64_t mc = imin(mcb, r1 - i0);
                ty->pack_a(j->ta, j->a, j->lda, i0, mc, p0, kc, mr, pa);
                for (int64_t jr = 0; jr < nc; jr += nr) {
                    int64_t ne = imin(nr, nc - jr);
                    const char *pbp = pb + (size_t)(jr * kc) * es;
                    for (int64_t ir = 0; ir < mc; ir += mr) {
                        int64_t me = imin(mr, mc - ir);
                        const char *pap = pa + (size_t)(ir * kc) * es;
                        char *cp = j->c + (size_t)((i0 + ir) * j->ldc + j0 + jr) * es;
                        if (me == mr && ne == nr) {
                            kn->fn(kc, pap, pbp, cp, j->ldc, j->alpha, beta);
                        } else {
                            kn->fn(kc, pap, pbp, tmp, nr, j->one, j->zero);
                            ty->edge(tmp, nr, cp, j->ldc, me, ne, j->alpha, beta);
                        }
                    }
                }
            }
        }
    }
    ds_free(buf);
}

static ds_status gemm_builtin(const gemm_type *ty, int dt, bool ta, bool tb, int64_t m, int64_t n,
                              int64_t k, const void *alpha, bool alpha_zero, const void *a,
                              int64_t lda, const void *b, int64_t ldb, const void *beta, void *c,
                              int64_t ldc, const void *one, const void *zero) {
    if (m <= 0 || n <= 0) return DS_OK;
    if (k <= 0 || alpha_zero) {
        ty->scale(m, n, c, ldc, beta);
        return DS_OK;
    }
    const gemm_kernel *kn = &k_kernels[isa_current()][dt];
    /* Task blocks are multiples of mr x nr starting at multiples of them, so every element of C is
     * computed the same way whatever the split; the split depends on the thread count only. */
    int nt = ds_in_parallel_region() ? 1 : ds_get_num_threads();
    double flops = 2.0 * (double)m * (double)n * (double)k;
    int64_t want = nt <= 1 || flops < 4e6 ? 1 : 4 * (int64_t)nt; /* tasks, for load balance */
    int64_t cols_t = imin(kn->nc, round_up(n, kn->nr));
    int64_t tasks_n = (n + cols_t - 1) / cols_t;
    int64_t row_tasks = (want + tasks_n - 1) / tasks_n;
    int64_t rows_t = round_up((m + row_tasks - 1) / row_tasks, kn->mr);
    if (rows_t > kn->mc) rows_t = round_up(rows_t, kn->mc);
    while (want > 1 && ((m + rows_t - 1) / rows_t) * tasks_n < want && cols_t > 2 * kn->nr) {
        cols_t = round_up(cols_t / 2, kn->nr); /* few rows: split columns further */
        tasks_n = (n + cols_t - 1) / cols_t;
    }
    gemm_job job = {.ty = ty, .kn = kn, .ta = ta, .tb = tb, .m = m, .n = n, .k = k,
                    .a = (const char *)a, .b = (const char *)b, .c = (char *)c,
                    .lda = lda, .ldb = ldb, .ldc = ldc, .alpha = alpha, .beta = beta,
                    .one = one, .zero = zero, .rows_t = rows_t, .cols_t = cols_t,
                    .tasks_n = tasks_n};
    atomic_init(&job.failed, 0);
    int64_t tasks = ((m + rows_t - 1) / rows_t) * tasks_n;
    ds_parallel_for(tasks, want > 1 ? 1 : tasks, gemm_tasks, &job);
    if (atomic_load(&job.failed))
        return ds_errorf(DS_ERR_NOMEM, "gemm: out of memory for packing buffers");
    return DS_OK;
}

ds_status ds_gemm_f32_builtin(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k,
                              float alpha, const float *a, int64_t lda, const float *b, int64_t ldb,
                              float beta, float *c, int64_t ldc) {
    static const float one = 1, zero = 0;
    return gemm_builtin(&k_type_f32, 0, trans_a, trans_b, m, n, k, &alpha, alpha == 0, a, lda, b,
                        ldb, &beta, c, ldc, &one, &zero);
}

ds_status ds_gemm_f64_builtin(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k,
                              double alpha, const double *a, int64_t lda, const double *b,
                              int64_t ldb, double beta, double *c, int64_t ldc) {
    static const double one = 1, zero = 0;
    return gemm_builtin(&k_type_f64, 1, trans_a, trans_b, m, n, k, &alpha, alpha == 0, a, lda, b,
                        ldb, &beta, c, ldc, &one, &zero);
}

/* ---------------------------------------------------------------- the BLAS path */
static int s_blas_cap = 1 << 30; /* thread cap from the BLAS's environment settings */
static pthread_once_t s_blas_once = PTHREAD_ONCE_INIT;

static void blas_init(void) {
#ifdef DS_HAVE_CBLAS
    /* OpenBLAS reads OPENBLAS_NUM_THREADS / GOTO_NUM_THREADS / OMP_NUM_THREADS when it loads; its
     * thread count then is the user's cap. From now on OpenBLAS runs on the calling thread only
     * (its own workers, which spin before sleeping, never get work) and we split big calls over our
     * pool instead. */
    if (openblas_get_num_threads) {
        int n = openblas_get_num_threads();
        if (n >= 1) s_blas_cap = n;
    }
    if (openblas_set_num_threads) openblas_set_num_threads(1);
#endif
}

int ds_gemm_max_threads(void) {
    pthread_once(&s_blas_once, blas_init); /* first, so that OpenBLAS is made single-threaded */
    if (ds_in_parallel_region()) return 1;
    int n = ds_get_num_threads();
    return n < s_blas_cap ? n : s_blas_cap;
}

#ifdef DS_HAVE_CBLAS
typedef struct blas_job {
    bool f64, ta, tb, split_m;
    int64_t m, n, k, step;
    double alpha, beta;
    const char *a, *b;
    char *c;
    int64_t lda, ldb, ldc;
} blas_job;

static void blas_call(const blas_job *j, int64_t m, int64_t n, const char *a, const char *b,
                      char *c) {
    enum CBLAS_TRANSPOSE ta = j->ta ? CblasTrans : CblasNoTrans;
    enum CBLAS_TRANSPOSE tb = j->tb ? CblasTrans : CblasNoTrans;
    if (j->f64)
        cblas_dgemm(CblasRowMajor, ta, tb, (int)m, (int)n, (int)j->k, j->alpha,
                    (const double *)a, (int)j->lda, (const double *)b, (int)j->ldb, j->beta,
                    (double *)c, (int)j->ldc);
    else
        cblas_sgemm(CblasRowMajor, ta, tb, (int)m, (int)n, (int)j->k, (float)j->alpha,
                    (const float *)a, (int)j->lda, (const float *)b, (int)j->ldb, (float)j->beta,
                    (float *)c, (int)j->ldc);
}

static void blas_part(void *ctx, int64_t p0, int64_t p1) {
    const blas_job *j = (const blas_job *)ctx;
    size_t es = j->f64 ? 8 : 4;
    for (int64_t p = p0; p < p1; p++) {
        if (j->split_m) {
            int64_t i0 = p * j->step, mc = imin(j->step, j->m - i0);
            if (mc <= 0) continue;
            const char *a = j->a + (size_t)(j->ta ? i0 : i0 * j->lda) * es;
            blas_call(j, mc, j->n, a, j->b, j->c + (size_t)(i0 * j->ldc) * es);
        } else {
            int64_t j0 = p * j->step, nc = imin(j->step, j->n - j0);
            if (nc <= 0) continue;
            const char *b = j->b + (size_t)(j->tb ? j0 * j->ldb : j0) * es;
            blas_call(j, j->m, nc, j->a, b, j->c + (size_t)j0 * es);
        }
    }
}

static bool blas_ok(int64_t m, int64_t n, int64_t k, int64_t lda, int64_t ldb, int64_t ldc) {
    const int64_t lim = 0x7fffffff;
    return m <= lim && n <= lim && k <= lim && lda <= lim && ldb <= lim && ldc <= lim;
}

static void blas_gemm(bool f64, bool ta, bool tb, int64_t m, int64_t n, int64_t k, double alpha,
                      const void *a, int64_t lda, const void *b, int64_t ldb, double beta, void *c,
                      int64_t ldc) {
    blas_job j = {.f64 = f64, .ta = ta, .tb = tb, .m = m, .n = n, .k = k, .alpha = alpha,
                  .beta = beta, .a = (const char *)a, .b = (const char *)b, .c = (char *)c,
                  .lda = lda, .ldb = ldb, .ldc = ldc};
    /* CBLAS wants leading dimensions >= max(1, stored row length) even where they do not matter. */
    int64_t acols = ta ? m : k, bcols = tb ? k : n;
    if (j.lda < acols) j.lda = acols > 0 ? acols : 1;
    if (j.ldb < bcols) j.ldb = bcols > 0 ? bcols : 1;
    if (j.ldc < n) j.ldc = n > 0 ? n : 1;
    int nt = ds_gemm_max_threads();
    double work = (double)m * (double)n * (double)k;
    if (nt <= 1 || work < 2.0e6 || (m < 32 && n < 32)) {
        blas_call(&j, m, n, j.a, j.b, j.c);
        return;
    }
    j.split_m = m >= n;
    int64_t len = j.split_m ? m : n, align = 16;
    j.step = round_up((len + nt - 1) / nt, align);
    int64_t parts = (len + j.step - 1) / j.step;
    ds_parallel_for(parts, 1, blas_part, &j);
}
#endif

ds_status ds_gemm_f32(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha,
                      const float *a, int64_t lda, const float *b, int64_t ldb, float beta, float *c,
                      int64_t ldc) {
#ifdef DS_HAVE_CBLAS
    if (m <= 0 || n <= 0) return DS_OK;
    if (blas_ok(m, n, k, lda, ldb, ldc) && k > 0) {
        blas_gemm(false, trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
        return DS_OK;
    }
#endif
    return ds_gemm_f32_builtin(trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}

ds_status ds_gemm_f64(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, double alpha,
                      const double *a, int64_t lda, const double *b, int64_t ldb, double beta,
                      double *c, int64_t ldc) {
#ifdef DS_HAVE_CBLAS
    if (m <= 0 || n <= 0) return DS_OK;
    if (blas_ok(m, n, k, lda, ldb, ldc) && k > 0) {
        blas_gemm(true, trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
        return DS_OK;
    }
#endif
    return ds_gemm_f64_builtin(trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}

/* ---------------------------------------------------------------- tiny products */
#define DS_GEMM_SMALL(NAME, T)                                                                            \
    void NAME(bool ta, bool tb, int64_t m, int64_t n, int64_t k, const T *a, int64_t lda, const T *b,  \
              int64_t ldb, T *c, int64_t ldc) {                                                         \
        int64_t sa = ta ? lda : 1, sb = tb ? 1 : ldb; /* step along k */                               \
        for (int64_t i = 0; i < m; i++) {                                                               \
            const T *ar = ta ? a + i : a + i * lda;                                                     \
            for (int64_t j = 0; j < n; j++) {                                                           \
                const T *bc = tb ? b + j * ldb : b + j;                                                 \
                T l[4] = {0, 0, 0, 0};                                                                  \
                for (int64_t p = 0; p < k; p++) l[p & 3] += ar[p * sa] * bc[p * sb];                    \
                c[i * ldc + j] = (l[0] + l[2]) + (l[1] + l[3]);                                         \
            }                                                                                           \
        }                                                                                               \
    }
DS_GEMM_SMALL(ds_gemm_small_f32, float)
DS_GEMM_SMALL(ds_gemm_small_f64, double)
