/* Reduction kernels on raw contiguous buffers.
 *
 * Every reduction is posed on a contiguous input viewed as [outer, r, inner]: y[o, j] reduces
 * x[o, 0..r, j]. ops/reduce.c brings any axis set into that form (permuting and copying only when the
 * reduced axes are not adjacent in memory).
 *
 * Accuracy: float sums accumulate in double (f16/bf16 through float32 blocks), with pairwise
 * combination along contiguous runs, so float32 results are at least as accurate as NumPy's pairwise
 * float32 sums. Integer sums and products wrap in int64. Variance is two-pass (mean, then squared
 * deviations), in double.
 *
 * Parallelism: the work is cut into pieces whose boundaries depend on the shape only, and partial
 * results are combined in a fixed order, so the result is the same for any thread count. */
#ifndef DS_KERNELS_REDUCE_H
#define DS_KERNELS_REDUCE_H
#include <stdbool.h>
#include <stdint.h>

#include "dynastat.h"

typedef enum ds_reduce_kind {
    DS_REDUCE_SUM,
    DS_REDUCE_PROD,
    DS_REDUCE_MEAN,
    DS_REDUCE_MAX, /* NaN propagates */
    DS_REDUCE_MIN,
    DS_REDUCE_ALL,
    DS_REDUCE_ANY,
    DS_REDUCE_VAR, /* divisor max(r - ddof, 0) */
    DS_REDUCE_STD,
    DS_REDUCE_ARGMAX, /* first occurrence; the first NaN wins */
    DS_REDUCE_ARGMIN,
    DS_REDUCE_KIND_COUNT
} ds_reduce_kind;

/* The output dtype NumPy-style rules give `kind` on input dtype `in`: SUM/PROD of bool and ints ->
 * int64, of floats -> same; MEAN/VAR/STD of bool and ints -> float32, of floats -> same; MAX/MIN ->
 * same; ALL/ANY -> bool; ARGMAX/ARGMIN -> int64. */
ds_dtype ds_reduce_out_dtype(ds_reduce_kind kind, ds_dtype in);

/* y[o, j] = kind over i < r of x[o, i, j], for x contiguous [outer, r, inner] of dtype `in` and y
 * contiguous [outer, inner] of dtype `out` (any dtype; the result is converted). An empty reduction
 * (r == 0) gives the identity (sum 0, prod 1, all true, any false) or NaN (mean, var, std); MAX, MIN,
 * ARGMAX and ARGMIN need r >= 1 (the caller reports the error). ARG* write int64 indices into i.
 * Runs on the thread pool when large. Fails only with DS_ERR_NOMEM. */
ds_status ds_reduce(ds_reduce_kind kind, ds_dtype in, const void *x, int64_t outer, int64_t r,
                    int64_t inner, ds_dtype out, void *y, int64_t ddof);

/* Like ds_reduce over a non-contiguous layout: element (o, i, j) is at element offset
 * o * ostride + (i / run) * run_stride + (i % run) * inner + j from x, i.e. the reduced index walks
 * r / run runs of `run` contiguous rows (run must divide r). ds_reduce is the case ostride =
 * r * inner, run = r. Lets [A, C, B] reduce A and B (batch-norm statistics) without a copy. */
ds_status ds_reduce_ex(ds_reduce_kind kind, ds_dtype in, const void *x, int64_t outer, int64_t r,
                       int64_t inner, int64_t ostride, int64_t run, int64_t run_stride,
                       ds_dtype out, void *y, int64_t ddof);

/* Test support: uses the loops compiled for `isa` ("generic", "avx2", "avx512"; NULL = the best the
 * CPU runs). Returns false (and changes nothing) if the CPU cannot run them. Not thread-safe. */
bool ds_reduce_set_isa(const char *isa);

/* ---------------------------------------------------------------- internal: per-ISA loops
 * Defined in reduce.simd.c once per instruction set. "rows" loops walk r rows of c contiguous
 * columns with row stride ld (elements) and update acc[0..c). */
typedef struct ds_reduce_vt {
    double (*sum_f32)(const float *x, int64_t n); /* pairwise, double lanes */
    double (*sum_f64)(const double *x, int64_t n);
    double (*sqdev_f32)(const float *x, int64_t n, double m); /* sum of (x - m)^2 */
    double (*sqdev_f64)(const double *x, int64_t n, double m);
    void (*sum_rows_f32)(const float *x, int64_t r, int64_t ld, int64_t c, double *acc);
    void (*sum_rows_f64)(const double *x, int64_t r, int64_t ld, int64_t c, double *acc);
    void (*sqdev_rows_f32)(const float *x, int64_t r, int64_t ld, int64_t c, const double *m,
                           double *acc);
    void (*sqdev_rows_f64)(const double *x, int64_t r, int64_t ld, int64_t c, const double *m,
                           double *acc);
    /* NaN-propagating max / min of n >= 1 values */
    float (*max_f32)(const float *x, int64_t n);
    float (*min_f32)(const float *x, int64_t n);
    double (*max_f64)(const double *x, int64_t n);
    double (*min_f64)(const double *x, int64_t n);
    void (*max_rows_f32)(const float *x, int64_t r, int64_t ld, int64_t c, float *acc);
    void (*min_rows_f32)(const float *x, int64_t r, int64_t ld, int64_t c, float *acc);
    void (*max_rows_f64)(const double *x, int64_t r, int64_t ld, int64_t c, double *acc);
    void (*min_rows_f64)(const double *x, int64_t r, int64_t ld, int64_t c, double *acc);
    /* index of the first element equal to v (or of the first NaN if v is NaN); n if none */
    int64_t (*find_f32)(const float *x, int64_t n, float v);
    int64_t (*find_f64)(const double *x, int64_t n, double v);
} ds_reduce_vt;

void ds_reduce_fill_vt_generic(ds_reduce_vt *vt);
#if defined(__x86_64__) || defined(DS_X86_64)
void ds_reduce_fill_vt_avx2(ds_reduce_vt *vt);
void ds_reduce_fill_vt_avx512(ds_reduce_vt *vt);
#endif
#endif
