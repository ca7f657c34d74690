/* Dense matrix multiply on raw row-major buffers: C = alpha * op(A) * op(B) + beta * C.
 *
 * op(A) is m x k and op(B) is k x n. When trans_a is false A is stored m x k with row stride lda,
 * otherwise it is stored k x m (so op(A) = A^T); likewise for B. C is m x n with row stride ldc.
 * beta == 0 means C is not read (NaNs in C do not propagate), as in BLAS.
 *
 * ds_gemm_f32/f64 use the linked BLAS when there is one (DS_HAVE_CBLAS), else the builtin kernels;
 * float32 products with a small m or k go to the skinny kernels first (ds_gemm_skinny_ok below).
 * Threading (DESIGN.md idea 7): the BLAS itself is kept single-threaded; a large call made outside the
 * thread pool is split into row (or column) blocks run on the pool, one single-threaded BLAS call per
 * block, so BLAS threads and pool threads never compete. A call made from inside a pool task runs on
 * the calling thread only. OPENBLAS_NUM_THREADS / GOTO_NUM_THREADS / OMP_NUM_THREADS, as read by
 * OpenBLAS at load time, cap the number of blocks. */
#ifndef DS_KERNELS_GEMM_H
#define DS_KERNELS_GEMM_H
#include <stdbool.h>
#include <stdint.h>

#include "dynastat.h"

/* C = alpha * op(A) op(B) + beta * C in float32. Fails only with DS_ERR_NOMEM (builtin packing
 * buffers), leaving C partly written. Leading dimensions must be >= the stored row lengths. */
ds_status ds_gemm_f32(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha,
                      const float *a, int64_t lda, const float *b, int64_t ldb, float beta, float *c,
                      int64_t ldc);
/* Same in float64. */
ds_status ds_gemm_f64(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, double alpha,
                      const double *a, int64_t lda, const double *b, int64_t ldb, double beta,
                      double *c, int64_t ldc);

/* The builtin cache-blocked, packed GEMM (always compiled; used by ds_gemm_* without a BLAS).
 * Parallel over tiles of C on the thread pool when called outside it. */
ds_status ds_gemm_f32_builtin(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k,
                              float alpha, const float *a, int64_t lda, const float *b, int64_t ldb,
                              float beta, float *c, int64_t ldc);
ds_status ds_gemm_f64_builtin(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k,
                              double alpha, const double *a, int64_t lda, const double *b,
                              int64_t ldb, double beta, double *c, int64_t ldc);

/* Instruction set of the builtin micro-kernels: "avx512", "avx2" or "generic". */
const char *ds_gemm_builtin_isa(void);
/* Test support: forces the builtin micro-kernels to `isa` ("avx512", "avx2", "generic"), or back to
 * the best one for this CPU with NULL. Returns false (and changes nothing) if the CPU lacks it.
 * Not thread-safe: call while no GEMM runs. */
bool ds_gemm_builtin_force_isa(const char *isa);

/* The skinny path of ds_gemm_f32 (used before BLAS and the builtin kernels when it applies), on CPUs
 * with AVX-512 or AVX2 (as ds_gemm_builtin_force_isa sets: none with "generic"), for k <= 16384 and
 * with trans_b: m <= 64 and n >= 32; without: m <= 64 or k <= 64 (AVX2: m <= 16, or k <= 64 and
 * m * n <= 4.2e6, where it beat OpenBLAS's Haswell kernels).
 * Register-tiled, no packing of B; split over the pool when called outside it. Every element of C is
 * one FMA chain over k in order, so results do not depend on the thread count or the ISA.
 * ds_gemm_f32_skinny fails with DS_ERR_NOMEM (per-thread buffers; C then partly written), and with
 * DS_ERR_INTERNAL (C untouched) when ds_gemm_skinny_ok(...) is false. */
bool ds_gemm_skinny_ok(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k);
ds_status ds_gemm_f32_skinny(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha,
                             const float *a, int64_t lda, const float *b, int64_t ldb, float beta,
                             float *c, int64_t ldc);

/* Largest number of threads the BLAS path splits one call across (1 inside a pool task). */
int ds_gemm_max_threads(void);
/* Tiny products (m*n*k <= DS_GEMM_SMALL_WORK): C = A @ B (row-major, transposes as in ds_gemm_*), each
 * element a dot product accumulated in 4 lanes (lane = p mod 4) reduced as (l0 + l2) + (l1 + l3), the
 * order of a 4-wide SIMD dot product (and of MindSpore's CPU kernels, whose printed results the seed
 * examples show). No threads, no BLAS call overhead. */
#define DS_GEMM_SMALL_WORK 4096
void ds_gemm_small_f32(bool ta, bool tb, int64_t m, int64_t n, int64_t k, const float *a, int64_t lda,
                       const float *b, int64_t ldb, float *c, int64_t ldc);
void ds_gemm_small_f64(bool ta, bool tb, int64_t m, int64_t n, int64_t k, const double *a, int64_t lda,
                       const double *b, int64_t ldb, double *c, int64_t ldc);
#endif
