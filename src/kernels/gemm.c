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

/* ---------------------------------------------------------------- skinny products (float32) */
/* C = alpha * op(A) op(B) + beta * C when m or k is small: the batch dimension of a dense layer and
 * its gradients (x @ W^T, dY @ W, dY^T @ X), where a general GEMM spends much of its time packing.
 * One register-tiled kernel broadcasts U(r, p) and multiplies it into VL-wide vectors of V(p, e):
 *   nn, tn: r = row of C (U = op(A), read in place), e = column of C (V = rows of B);
 *   nt, tt: C^T = op(B) op(A)^T: r = column of C (U = rows of B), e = row of C (V = A^T: A itself
 *           for tt, for nt a transpose of A that each thread packs once, small because m is).
 * B is never packed (it is the big operand); V blocks are copied only when zero padding is needed or
 * their rows are a page apart. Every element of C is one FMA chain over p = 0..k-1 in order, then
 * alpha * sum + beta * c, so results depend on neither the tiling, the thread split nor the ISA. */

#define SK_NV_MAX 4         /* vectors per kernel row */
#define SK_MR_MAX 12        /* kernel rows */
#define SK_MAX_SLOTS 8      /* threads one call is split across */
#define SK_MAX_K 16384      /* per-thread buffers are at most 64 x SK_MAX_K floats */

/* c[r * ldc + e] = alpha * sum_p U(r, p) V(p, e) + beta * c[...] (beta == 0: c not read) for r < MR,
 * e < NV * VL; V(p, e) = v[p * ldv + e]; U(r, p) = u[r * su + p] when ROWS, else u[r + p * su]. */
typedef void (*sk_kernel_fn)(int64_t k, const float *u, int64_t su, const float *v, int64_t ldv,
                             float *c, int64_t ldc, float alpha, float beta);

#define SK_KERNEL(NAME, VL, MR, NV, ROWS, ATTR)                                                    \
    ATTR static void NAME(int64_t k, const float *u, int64_t su, const float *v, int64_t ldv,      \
                          float *c, int64_t ldc, float alpha, float beta) {                        \
        typedef float vt __attribute__((vector_size((VL) * 4)));                                   \
        typedef float vtu __attribute__((vector_size((VL) * 4), aligned(4)));                      \
        vt acc[MR][NV];                                                                            \
        _Pragma("GCC unroll 16") for (int r = 0; r < (MR); r++)                                    \
            _Pragma("GCC unroll 4") for (int e = 0; e < (NV); e++) acc[r][e] = (vt){0};            \
        /* ROWS: row r is q[r / 3] + (r % 3) * su: four base registers and indexed addressing */   \
        const float *q0 = u, *q1 = (MR) > 3 ? u + 3 * su : u, *q2 = (MR) > 6 ? u + 6 * su : u,    \
                    *q3 = (MR) > 9 ? u + 9 * su : u;                                               \
        for (int64_t p = 0; p < k; p++) {                                                          \
            vt b[NV];                                                                              \
            _Pragma("GCC unroll 4") for (int e = 0; e < (NV); e++)                                 \
                b[e] = *(const vtu *)(v + e * (VL));                                               \
            _Pragma("GCC unroll 16") for (int r = 0; r < (MR); r++) {                              \
                const float *q = r < 3 ? q0 : r < 6 ? q1 : r < 9 ? q2 : q3;                        \
                vt x = ((ROWS) ? q[(r % 3) * su] : q0[r]) - (vt){0};                               \
                _Pragma("GCC unroll 4") for (int e = 0; e < (NV); e++) acc[r][e] += x * b[e];      \
            }                                                                                      \
            v += ldv;                                                                              \
            if (ROWS) q0++, q1++, q2++, q3++;                                                      \
            else q0 += su;                                                                         \
        }                                                                                          \
        _Pragma("GCC unroll 16") for (int r = 0; r < (MR); r++)                                    \
            _Pragma("GCC unroll 4") for (int e = 0; e < (NV); e++) {                               \
                vtu *cp = (vtu *)(c + r * ldc + e * (VL));                                         \
                vt x = alpha == 1 ? acc[r][e] : acc[r][e] * alpha;                                 \
                if (beta != 0) x += *cp * beta;                                                    \
                *cp = x;                                                                           \
            }                                                                                      \
    }

/* Lane i of the result: lane m[i] of the concatenation x:y. GCC has a builtin for run-time masks; clang's
 * __builtin_shufflevector needs constant indices, so clang gets a lane loop (only this packing uses it). */
#if defined(__clang__)
#define SK_SHUFFLE(T, x, y, m, VL)                                                                 \
    ({                                                                                             \
        T o_;                                                                                      \
        for (int c_ = 0; c_ < (VL); c_++) o_[c_] = (m)[c_] < (VL) ? (x)[(m)[c_]] : (y)[(m)[c_] - (VL)]; \
        o_;                                                                                        \
    })
#else
#define SK_SHUFFLE(T, x, y, m, VL) __builtin_shuffle(x, y, m)
#endif

/* pk[p * mp + i] = a[i * lda + p] for i < m, p < k, and 0 for m <= i < mp (mp a multiple of VL,
 * pk 64-byte aligned). VL x VL blocks are transposed in registers by log2(VL) butterfly stages;
 * stage d swaps the off-diagonal d x d blocks of every 2d x 2d block. */
#define SK_PACK(NAME, VL, ATTR)                                                                    \
    ATTR static void NAME(const float *a, int64_t lda, int64_t m, int64_t k, float *pk, int64_t mp) { \
        typedef float vt __attribute__((vector_size((VL) * 4)));                                   \
        typedef float vtu __attribute__((vector_size((VL) * 4), aligned(4)));                      \
        typedef int32_t vi __attribute__((vector_size((VL) * 4)));                                 \
        vi lo[4], hi[4];                                                                           \
        _Pragma("GCC unroll 4") for (int s = 0; (1 << s) < (VL); s++)                               \
            _Pragma("GCC unroll 16") for (int c = 0; c < (VL); c++) {                              \
                int d = 1 << s;                                                                    \
                lo[s][c] = c & d ? (VL) + c - d : c;                                               \
                hi[s][c] = c & d ? (VL) + c : c + d;                                               \
            }                                                                                      \
        int64_t kf = k / (VL) * (VL);                                                              \
        for (int64_t i0 = 0; i0 < mp; i0 += (VL)) {                                                \
            int64_t rows = imin(VL, m - i0);                                                       \
            for (int64_t p0 = 0; p0 < kf; p0 += (VL)) {                                            \
                vt r[VL];                                                                          \
                _Pragma("GCC unroll 16") for (int q = 0; q < (VL); q++)                            \
                    r[q] = q < rows ? *(const vtu *)(a + (i0 + q) * lda + p0) : (vt){0};           \
                _Pragma("GCC unroll 4") for (int s = 0; (1 << s) < (VL); s++)                       \
                    _Pragma("GCC unroll 16") for (int q = 0; q < (VL); q++) if (!(q & (1 << s))) { \
                        vt x = r[q], y = r[q + (1 << s)];                                          \
                        r[q] = SK_SHUFFLE(vt, x, y, lo[s], VL);                                    \
                        r[q + (1 << s)] = SK_SHUFFLE(vt, x, y, hi[s], VL);                         \
                    }                                                                              \
                _Pragma("GCC unroll 16") for (int q = 0; q < (VL); q++)                            \
                    *(vt *)(pk + (p0 + q) * mp + i0) = r[q];                                       \
            }                                                                                      \
            for (int64_t p = kf; p < k; p++)                                                       \
                for (int64_t i = 0; i < (VL); i++)                                                 \
                    pk[p * mp + i0 + i] = i < rows ? a[(i0 + i) * lda + p] : 0;                    \
        }                                                                                          \
    }

typedef void (*sk_pack_fn)(const float *a, int64_t lda, int64_t m, int64_t k, float *pk, int64_t mp);

/* One ISA's kernels, fn[rows][nv - 1][mr]; NULL where not instantiated (a remainder of rows is
 * covered by the largest instantiated mr that fits; mr = 1 always exists). */
typedef struct sk_isa {
    int vl;
    sk_pack_fn pack;
    sk_kernel_fn fn[2][SK_NV_MAX][SK_MR_MAX + 1];
} sk_isa;

#define SK_PAIR(ISA, VL, MR, NV, ATTR)                                                             \
    SK_KERNEL(sk_##ISA##_c##MR##x##NV, VL, MR, NV, 0, ATTR)                                        \
    SK_KERNEL(sk_##ISA##_r##MR##x##NV, VL, MR, NV, 1, ATTR)
#define SK_C(ISA, MR, NV) [MR] = sk_##ISA##_c##MR##x##NV
#define SK_R(ISA, MR, NV) [MR] = sk_##ISA##_r##MR##x##NV

#ifdef DS_GEMM_X86
/* AVX-512: 32 registers, at most 24 accumulators */
#define SK512(MR, NV) SK_PAIR(avx512, 16, MR, NV, DS_TARGET_AVX512)
SK512(12, 1) SK512(8, 1) SK512(4, 1) SK512(2, 1) SK512(1, 1)
SK512(12, 2) SK512(8, 2) SK512(4, 2) SK512(2, 2) SK512(1, 2)
SK512(8, 3) SK512(4, 3) SK512(2, 3) SK512(1, 3)
SK512(6, 4) SK512(4, 4) SK512(2, 4) SK512(1, 4)
SK_PACK(sk_pack_avx512, 16, DS_TARGET_AVX512)
#define SK512_NV12(X, NV) {X(avx512, 12, NV), X(avx512, 8, NV), X(avx512, 4, NV), X(avx512, 2, NV), X(avx512, 1, NV)}
#define SK512_NV3(X) {X(avx512, 8, 3), X(avx512, 4, 3), X(avx512, 2, 3), X(avx512, 1, 3)}
#define SK512_NV4(X) {X(avx512, 6, 4), X(avx512, 4, 4), X(avx512, 2, 4), X(avx512, 1, 4)}
static const sk_isa k_sk_avx512 = {
    16, sk_pack_avx512,
    {{SK512_NV12(SK_C, 1), SK512_NV12(SK_C, 2), SK512_NV3(SK_C), SK512_NV4(SK_C)},
     {SK512_NV12(SK_R, 1), SK512_NV12(SK_R, 2), SK512_NV3(SK_R), SK512_NV4(SK_R)}}};

/* AVX2: 16 registers, at most 12 accumulators */
#define SK256(MR, NV) SK_PAIR(avx2, 8, MR, NV, DS_TARGET_AVX2)
SK256(6, 1) SK256(4, 1) SK256(2, 1) SK256(1, 1)
SK256(6, 2) SK256(4, 2) SK256(2, 2) SK256(1, 2)
SK256(4, 3) SK256(2, 3) SK256(1, 3)
SK256(3, 4) SK256(2, 4) SK256(1, 4)
SK_PACK(sk_pack_avx2, 8, DS_TARGET_AVX2)
#define SK256_NV12(X, NV) {X(avx2, 6, NV), X(avx2, 4, NV), X(avx2, 2, NV), X(avx2, 1, NV)}
#define SK256_NV3(X) {X(avx2, 4, 3), X(avx2, 2, 3), X(avx2, 1, 3)}
#define SK256_NV4(X) {X(avx2, 3, 4), X(avx2, 2, 4), X(avx2, 1, 4)}
static const sk_isa k_sk_avx2 = {
    8, sk_pack_avx2,
    {{SK256_NV12(SK_C, 1), SK256_NV12(SK_C, 2), SK256_NV3(SK_C), SK256_NV4(SK_C)},
     {SK256_NV12(SK_R, 1), SK256_NV12(SK_R, 2), SK256_NV3(SK_R), SK256_NV4(SK_R)}}};
#endif

static const sk_isa *sk_isa_current(void) {
#ifdef DS_GEMM_X86
    int isa = isa_current();
    if (isa == ISA_AVX512) return &k_sk_avx512;
    if (isa == ISA_AVX2) return &k_sk_avx2;
#endif
    return NULL;
}

bool ds_gemm_skinny_ok(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k) {
    const sk_isa *is = sk_isa_current();
    if (!is || m <= 0 || n <= 0 || k <= 0 || k > SK_MAX_K) return false;
    if (trans_b) /* C^T written element by element, A^T packed: m small; enough columns to amortize */
        return m <= 64 && n >= 32;
    if (is->vl >= 16) return m <= 64 || k <= 64;
    /* AVX2 (measured against OpenBLAS's Haswell kernels): only where it was faster */
    return m <= 16 || (k <= 64 && (double)m * (double)n <= 4.2e6);
}

/* Largest instantiated mr <= limit for nv vectors. */
static int sk_mr_fit(const sk_isa *is, int nv, int64_t limit) {
    for (int mr = (int)imin(SK_MR_MAX, limit); mr > 1; mr--)
        if (is->fn[0][nv - 1][mr]) return mr;
    return 1;
}

/* Estimated cost of covering R x Vn with tiles of nv vectors, in FMA issue slots: per k step a tile
 * issues max(mr * nv FMAs, mr + nv loads, 8 independent chains for the FMA latency), plus its
 * stores and setup. */
static double sk_cost(const sk_isa *is, int nv, int64_t R, int64_t Vn, int64_t k) {
    int64_t nr = (int64_t)nv * is->vl, full = Vn / nr, rem = Vn - full * nr;
    double cost = 0;
    for (int part = 0; part < 2; part++) {
        int64_t blocks = part == 0 ? full : rem > 0;
        int bnv = part == 0 ? nv : (int)((rem + is->vl - 1) / is->vl);
        if (!blocks) continue;
        int mmax = sk_mr_fit(is, bnv, SK_MR_MAX);
        double per = 0;
        for (int64_t r = 0; r < R;) {
            int mr = sk_mr_fit(is, bnv, R - r);
            int64_t tiles = mr == mmax ? (R - r) / mr : 1;
            int64_t work = (int64_t)mr * bnv, slots = work;
            if (mr + bnv > slots) slots = mr + bnv;
            if (slots < 8) slots = 8;
            per += (double)tiles * ((double)k * (double)slots + 2.0 * (double)work + 24.0);
            r += tiles * mr;
        }
        cost += (double)blocks * per;
    }
    return cost;
}

typedef struct sk_job {
    const sk_isa *is;
    bool rows, trans_out; /* U read by rows; C written transposed */
    int nv;
    int64_t R, Vn, k;
    const float *u, *v; /* v == NULL: V is A^T, packed from pa by each thread */
    int64_t su, ldv;
    const float *pa;
    int64_t lda_p, m_p;
    float *c;
    int64_t ldc;
    float alpha, beta;
    int64_t rchunk, nvb, ntasks; /* task t: rows (t / nvb) * rchunk + [0, rchunk), V block t % nvb */
    int nslots;
    atomic_int slot_next, failed;
    /* thread slot s owns tasks [lo, hi) (packed as lo | hi << 32) and takes them from the front;
     * a thread out of work steals from the back of the others, so each thread's part of C stays
     * contiguous (few cache lines written by two cores) */
    struct {
        _Alignas(64) atomic_ullong lohi;
    } range[SK_MAX_SLOTS];
} sk_job;

static bool sk_take(sk_job *j, int s, bool front, int64_t *t) {
    atomic_ullong *x = &j->range[s].lohi;
    unsigned long long cur = atomic_load_explicit(x, memory_order_relaxed);
    for (;;) {
        unsigned long long lo = cur & 0xffffffffu, hi = cur >> 32;
        if (lo >= hi) return false;
        unsigned long long next = front ? (lo + 1) | hi << 32 : lo | (hi - 1) << 32;
        if (atomic_compare_exchange_weak_explicit(x, &cur, next, memory_order_relaxed,
                                                  memory_order_relaxed)) {
            *t = (int64_t)(front ? lo : hi - 1);
            return true;
        }
    }
}

/* One thread's share of a job: its own tasks, then any left over. */
static void sk_worker(void *ctx, int64_t w0, int64_t w1) {
    (void)w0, (void)w1;
    sk_job *j = (sk_job *)ctx;
    const sk_isa *is = j->is;
    const int vl = is->vl, nr = vl * j->nv, mr_max = sk_mr_fit(is, j->nv, SK_MR_MAX);
    float *pack = NULL, *vcopy = NULL; /* this thread's A^T (nt); its copy of one V block */
    int64_t vcopy_block = -1;
    float tmp[SK_MR_MAX * SK_NV_MAX * 16] __attribute__((aligned(64)));
    /* locals, so that the stores to C need not reload them */
    const float *vbase = j->v, *u = j->u;
    int64_t ldv = j->ldv, su = j->su, k = j->k, ldc = j->ldc;
    float *c = j->c, alpha = j->alpha, beta = j->beta;
    bool rows = j->rows, trans_out = j->trans_out;
    int me = atomic_fetch_add_explicit(&j->slot_next, 1, memory_order_relaxed), victim = 0;
    for (;;) {
        int64_t t = 0;
        if (atomic_load_explicit(&j->failed, memory_order_relaxed)) break;
        if (me >= j->nslots || !sk_take(j, me, true, &t)) {
            while (victim < j->nslots && !sk_take(j, victim, false, &t)) victim++;
            if (victim == j->nslots) break;
        }
        int64_t vb = t % j->nvb, r0 = (t / j->nvb) * j->rchunk, r1 = imin(r0 + j->rchunk, j->R);
        int64_t e0 = vb * nr, w = imin(nr, j->Vn - e0);
        int nv = (int)((w + vl - 1) / vl);
        int64_t wp = (int64_t)nv * vl, lv = ldv;
        const float *v;
        if (!vbase && !pack) { /* nt: this thread's own A^T, made once; it stays in this core's cache */
            ldv = lv = round_up(j->m_p, vl);
            pack = (float *)ds_malloc((size_t)(ldv * k) * sizeof(float));
            if (!pack) {
                atomic_store(&j->failed, 1);
                break;
            }
            is->pack(j->pa, j->lda_p, j->m_p, k, pack, ldv);
        }
        if (pack) {
            v = pack + e0;
        } else if (w != wp || (r1 - r0 > mr_max && ldv >= 1024)) {
            /* a partial block (zero-padded), or one read by several tiles with its rows a page or
             * more apart: a dense copy, so that the kernel's loads walk lines, not pages */
            if (!vcopy && !(vcopy = (float *)ds_malloc((size_t)(k * nr) * sizeof(float)))) {
                atomic_store(&j->failed, 1);
                break;
            }
            if (vcopy_block != vb) {
                const float *src = vbase + e0;
                for (int64_t p = 0; p < k; p++) {
                    memcpy(vcopy + p * wp, src + p * ldv, (size_t)w * sizeof(float));
                    if (w < wp) memset(vcopy + p * wp + w, 0, (size_t)(wp - w) * sizeof(float));
                }
                vcopy_block = vb;
            }
            v = vcopy, lv = wp;
        } else {
            v = vbase + e0;
        }
        bool direct = !trans_out && w == wp;
        for (int64_t r = r0; r < r1;) {
            int mr = sk_mr_fit(is, nv, r1 - r);
            sk_kernel_fn fn = is->fn[rows][nv - 1][mr];
            const float *ur = rows ? u + r * su : u + r;
            if (direct) {
                fn(k, ur, su, v, lv, c + r * ldc + e0, ldc, alpha, beta);
            } else if (trans_out) { /* row e0 + e of C, columns r.., is column e of tmp */
                fn(k, ur, su, v, lv, tmp, wp, 1.0f, 0.0f);
                for (int64_t e = 0; e < w; e++) {
                    float *cr = c + (e0 + e) * ldc + r;
                    if (beta == 0)
                        for (int i = 0; i < mr; i++) cr[i] = alpha * tmp[i * wp + e];
                    else
                        for (int i = 0; i < mr; i++) cr[i] = alpha * tmp[i * wp + e] + beta * cr[i];
                }
            } else { /* a partial block of columns */
                fn(k, ur, su, v, lv, tmp, wp, 1.0f, 0.0f);
                for (int i = 0; i < mr; i++) {
                    float *cr = c + (r + i) * ldc + e0;
                    if (beta == 0)
                        for (int64_t e = 0; e < w; e++) cr[e] = alpha * tmp[i * wp + e];
                    else
                        for (int64_t e = 0; e < w; e++) cr[e] = alpha * tmp[i * wp + e] + beta * cr[e];
                }
            }
            r += mr;
        }
    }
    ds_free(pack);
    ds_free(vcopy);
}

ds_status ds_gemm_f32_skinny(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha,
                             const float *a, int64_t lda, const float *b, int64_t ldb, float beta,
                             float *c, int64_t ldc) {
    if (!ds_gemm_skinny_ok(trans_a, trans_b, m, n, k))
        return ds_errorf(DS_ERR_INTERNAL, "gemm: a %lld x %lld x %lld product is not a skinny one", (long long)m,
                         (long long)n, (long long)k);
    const sk_isa *is = sk_isa_current();
    sk_job j = {.is = is, .k = k, .c = c, .ldc = ldc, .alpha = alpha, .beta = beta};
    if (!trans_b) { /* nn, tn: broadcast op(A), vectors along the rows of B */
        j.R = m, j.Vn = n, j.u = a, j.su = lda, j.rows = !trans_a, j.v = b, j.ldv = ldb;
    } else { /* nt, tt: C^T = op(B) op(A)^T */
        j.R = n, j.Vn = m, j.u = b, j.su = ldb, j.rows = true, j.trans_out = true;
        if (trans_a) j.v = a, j.ldv = lda;
        else j.pa = a, j.lda_p = lda, j.m_p = m;
    }
    int nv = 1;
    double best = 0;
    for (int cand = 1; cand <= SK_NV_MAX; cand++) {
        double cost = sk_cost(is, cand, j.R, j.Vn, k);
        if (cand == 1 || cost <= best) best = cost, nv = cand; /* ties: wider */
    }
    j.nv = nv;
    int mr = sk_mr_fit(is, nv, SK_MR_MAX);
    j.nvb = (j.Vn + (int64_t)is->vl * nv - 1) / ((int64_t)is->vl * nv);
    int nt = ds_in_parallel_region() ? 1 : ds_get_num_threads();
    if (nt > SK_MAX_SLOTS) nt = SK_MAX_SLOTS;
    double flops = 2.0 * (double)m * (double)n * (double)k;
    int64_t want = nt > 1 && flops >= 1e6 ? 4 * (int64_t)nt : 1; /* tasks, for load balance */
    /* Chunks of whole tiles (of whole cache lines of C when it is written transposed), few enough
     * rows that a task's part of a large C spans few pages: tasks go along rows of C, then down. */
    int64_t align = j.trans_out ? 16 : mr, nrc = (want + j.nvb - 1) / j.nvb;
    j.rchunk = imin(round_up((j.R + nrc - 1) / nrc, align), round_up(96, align));
    j.ntasks = j.nvb * ((j.R + j.rchunk - 1) / j.rchunk);
    j.nslots = (int)(want > 1 ? imin(nt, j.ntasks) : 1);
    atomic_init(&j.slot_next, 0);
    atomic_init(&j.failed, 0);
    for (int s = 0; s < j.nslots; s++) {
        unsigned long long lo = (unsigned long long)(j.ntasks * s / j.nslots),
                           hi = (unsigned long long)(j.ntasks * (s + 1) / j.nslots);
        atomic_init(&j.range[s].lohi, lo | hi << 32);
    }
    ds_parallel_for(j.nslots, 1, sk_worker, &j);
    if (atomic_load(&j.failed)) return ds_errorf(DS_ERR_NOMEM, "gemm: out of memory for packing buffers");
    return DS_OK;
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
    if (m <= 0 || n <= 0) return DS_OK;
    if (alpha != 0 && ds_gemm_skinny_ok(trans_a, trans_b, m, n, k))
        return ds_gemm_f32_skinny(trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
#ifdef DS_HAVE_CBLAS
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
