/* Neural-network kernels on raw buffers: softmax / log_softmax and their backward, the fused softmax
 * cross-entropy and binary cross-entropy with logits, and the in-place optimizer updates (SGD,
 * Momentum, Adam/AdamW). Kernels see only buffers, sizes and float32/float64 data (ops/nn_ops.c
 * converts float16/bfloat16 and reports errors); the optimizer loops also take float16/bfloat16
 * operands directly and compute in float32.
 *
 * The loops are compiled once per instruction set (nn.simd.c) and the widest one the CPU supports is
 * used. They are branch-free inside (exp and log from vmath.h), so GCC vectorizes them; row sums
 * accumulate in double lanes. Work is split across the thread pool over rows (or column blocks) with
 * boundaries that depend on the shape only, so results do not depend on the thread count. */
#ifndef DS_KERNELS_NN_H
#define DS_KERNELS_NN_H
#include <stdbool.h>
#include <stdint.h>

#include "tensor/iter.h"

/* Softmax (log = false) or log_softmax (log = true) of x over the middle dim of a contiguous
 * [outer, n, inner] buffer of dtype dt (float32 or float64), written to y (same layout, not aliasing
 * x). Numerically stable (the row maximum is subtracted first). */
void ds_nn_softmax(ds_dtype dt, bool log, const void *x, void *y, int64_t outer, int64_t n, int64_t inner);

/* Backward of softmax / log_softmax over the middle dim of [outer, n, inner], from the forward
 * output y and the output cotangent g: softmax: dx = y * (g - sum(g * y)); log_softmax:
 * dx = g - exp(y) * sum(g). dx must not alias y or g. */
void ds_nn_softmax_grad(ds_dtype dt, bool log, const void *y, const void *g, void *dx, int64_t outer, int64_t n,
                        int64_t inner);

/* One softmax cross-entropy problem: n rows of c logits (contiguous [n, c], dtype float32/float64)
 * with either sparse class indices (labels[i] in [0, c), or == ignore_index when has_ignore: the row
 * is ignored) or dense targets (contiguous [n, c], the logits' dtype). With label smoothing eps the
 * target row T is (1 - eps) * onehot(label) + eps / c (sparse) or (1 - eps) * t + eps / c (dense), and
 * loss_i = -sum_j T_ij log_softmax(x_i)_j. */
typedef struct ds_nn_ce {
    ds_dtype dtype;
    int64_t n, c;
    const void *logits;
    const int64_t *labels; /* sparse (validated by the caller), else NULL */
    const void *targets;   /* dense, else NULL */
    int64_t ignore_index;
    bool has_ignore;
    double smoothing;
} ds_nn_ce;

/* loss[i] = loss of row i (0 for ignored rows), in double. */
void ds_nn_ce_forward(const ds_nn_ce *p, double *loss);
/* dx (contiguous [n, c], p->dtype) = w[i] * d loss_i / d x_i = w[i] * (softmax(x_i) * sum(T_i) - T_i);
 * rows that are ignored are 0. */
void ds_nn_ce_backward(const ds_nn_ce *p, const double *w, void *dx);

/* Binary cross-entropy with logits, per element max(x, 0) - x t + log1p(exp(-|x|)), for contiguous x
 * and t of n elements (float32/float64). With out != NULL writes the losses there and returns 0;
 * with out == NULL returns their sum (double accumulation, in a fixed order). */
double ds_nn_bce(ds_dtype dt, const void *x, const void *t, int64_t n, void *out);

/* ---------------------------------------------------------------- optimizer updates */
typedef enum ds_nn_opt_kind {
    DS_NN_SGD,      /* operands: param, grad, momentum_buf */
    DS_NN_MOMENTUM, /* operands: param, grad, accum */
    DS_NN_ADAM,     /* operands: param, grad, m, v [, v_max with amsgrad] */
    DS_NN_OPT_COUNT
} ds_nn_opt_kind;

/* Hyperparameters of one update call (ctx of the loops). */
typedef struct ds_nn_opt {
    double lr, weight_decay;
    double momentum, dampening; /* SGD, Momentum */
    bool nesterov;              /* SGD, Momentum */
    bool first;                 /* SGD: this is the first step (the buffer becomes the gradient) */
    double beta1, beta2, eps;   /* Adam */
    double step_size, bc2_sqrt; /* Adam: lr / (1 - beta1^t), sqrt(1 - beta2^t) (lr and 1 without correction) */
    bool decoupled;             /* Adam: AdamW's decoupled weight decay */
    bool amsgrad;               /* Adam: the denominator uses the running maximum of v */
} ds_nn_opt;

/* The loop that applies one update in place to runs of the operands (ds_loop_fn; ctx = const
 * ds_nn_opt *). All operands have dtype dt (any float dtype; float16/bfloat16 are computed in
 * float32). The equations are in ops/nn_ops.c. NULL for a non-float dt. */
ds_loop_fn ds_nn_opt_loop(ds_nn_opt_kind kind, ds_dtype dt);

/* Test support: uses the loops compiled for `isa` ("generic", "avx2", "avx512"; NULL = the best the
 * CPU supports). Returns false (and changes nothing) if the CPU cannot run them. Not thread-safe. */
bool ds_nn_set_isa(const char *isa);

/* ---------------------------------------------------------------- internal: the per-ISA table
 * Filled by nn.simd.c once per instruction set; [2] entries are indexed float32, float64. */
typedef struct ds_nn_vt {
    void (*softmax_rows[2])(const void *x, void *y, int64_t rows, int64_t n, int log);
    void (*softmax_cols[2])(const void *x, void *y, int64_t n, int64_t ld, int64_t w, int log);
    void (*grad_rows[2])(const void *y, const void *g, void *dx, int64_t rows, int64_t n, int log);
    void (*grad_cols[2])(const void *y, const void *g, void *dx, int64_t n, int64_t ld, int64_t w, int log);
    double (*ce_fwd[2])(const void *x, int64_t c, int64_t label, const void *t, double eps);
    void (*ce_bwd[2])(const void *x, int64_t c, int64_t label, const void *t, double eps, double w, void *dx);
    double (*bce[2])(const void *x, const void *t, void *out, int64_t n);
    ds_loop_fn opt[DS_NN_OPT_COUNT][4]; /* by float16, bfloat16, float32, float64 */
} ds_nn_vt;

#define DS_NN_COLS 128 /* column block of the strided (inner > 1) loops */

void ds_nn_fill_vt_generic(ds_nn_vt *vt);
#if defined(__x86_64__) || defined(DS_X86_64)
void ds_nn_fill_vt_avx2(ds_nn_vt *vt);
void ds_nn_fill_vt_avx512(ds_nn_vt *vt);
#endif
#endif
