/* Convolution and pooling kernels on raw contiguous NCHW buffers (float32 and float64).
 *
 * Convolution is im2col + GEMM per group: the columns of the output positions are gathered into a
 * [K, positions] matrix (K = C/groups * kh * kw) and multiplied by the group's weight [O/groups, K].
 * Small images are laid side by side (a few samples per GEMM, about 256 columns); large ones go in
 * blocks of output rows, so the column buffer stays within DS_CONV_COL_ELEMS. A 1x1 convolution with
 * stride 1 and no padding skips im2col (the input is already the column matrix). The gradients reuse
 * the layout: backward-input is W^T dy followed by col2im (a scatter-add of the columns back into the
 * image), backward-filter is dy col^T summed over the batch.
 *
 * Threading (DESIGN.md idea 7): either the batch is split across the pool (each task runs its GEMMs
 * single-threaded) or, when there are few samples of large work, samples run one after the other and
 * each GEMM (and im2col/col2im) uses the pool; never both. The filter gradient sums the batch in a
 * fixed number of chunks that depends on the shapes only, combined in a fixed order, so results do
 * not depend on the number of threads.
 *
 * Pooling loops run one (n, c) plane per task. Window positions outside the input are padding: they
 * never win a max and count for an average only with count_include_pad (PyTorch's rule, including
 * ceil_mode windows that run past the padding, whose extra positions never count). */
#ifndef DS_KERNELS_CONV_H
#define DS_KERNELS_CONV_H
#include <stdbool.h>
#include <stdint.h>

#include "dynastat.h"

#define DS_CONV_COL_ELEMS (1 << 20) /* largest im2col block, in elements */

/* x [n, c, h, w] * w [o, c / groups, kh, kw] -> y [n, o, ho, wo]. pt / pl: zero padding at the top
 * and left (the bottom and right padding are implied by ho, wo). sh, sw: strides; dh, dw: dilations. */
typedef struct ds_conv2d_geom {
    int64_t n, c, h, w;
    int64_t o, kh, kw;
    int64_t ho, wo;
    int64_t sh, sw, pt, pl, dh, dw;
    int64_t groups;
} ds_conv2d_geom;

/* y = conv2d(x, w). Fails only with DS_ERR_NOMEM (column buffers), leaving y partly written. */
ds_status ds_conv2d_f32(const ds_conv2d_geom *g, const float *x, const float *w, float *y);
ds_status ds_conv2d_f64(const ds_conv2d_geom *g, const double *x, const double *w, double *y);
/* dx = the gradient of conv2d with respect to x, for output gradient dy (dx is overwritten). */
ds_status ds_conv2d_backprop_input_f32(const ds_conv2d_geom *g, const float *dy, const float *w, float *dx);
ds_status ds_conv2d_backprop_input_f64(const ds_conv2d_geom *g, const double *dy, const double *w, double *dx);
/* dw = the gradient of conv2d with respect to w, for output gradient dy (dw is overwritten). */
ds_status ds_conv2d_backprop_filter_f32(const ds_conv2d_geom *g, const float *dy, const float *x, float *dw);
ds_status ds_conv2d_backprop_filter_f64(const ds_conv2d_geom *g, const double *dy, const double *x,
                                        double *dw);

/* Columns of output rows [oh0, oh1) of one image group: img is [cg, h, w], col is
 * [cg * kh * kw, (oh1 - oh0) * wo] (row r = (c, i, j), column = (oh - oh0) * wo + ow); padding reads
 * as zero. Exposed for tests. */
void ds_im2col_f32(const ds_conv2d_geom *g, int64_t cg, const float *img, int64_t oh0, int64_t oh1, float *col);
void ds_im2col_f64(const ds_conv2d_geom *g, int64_t cg, const double *img, int64_t oh0, int64_t oh1, double *col);
/* The adjoint of im2col: adds each column entry into the image position it was read from (padding
 * entries are dropped). img is accumulated into, not cleared. */
void ds_col2im_f32(const ds_conv2d_geom *g, int64_t cg, const float *col, int64_t oh0, int64_t oh1, float *img);
void ds_col2im_f64(const ds_conv2d_geom *g, int64_t cg, const double *col, int64_t oh0, int64_t oh1, double *img);

/* Pooling windows over `planes` planes of h x w: output (oh, ow) covers rows oh * sh - pt + i * dh
 * (i < kh) and columns ow * sw - pl + j * dw (j < kw). pb / pr: padding at the bottom / right (for
 * the count_include_pad divisor). divisor > 0 overrides the average's divisor. */
typedef struct ds_pool2d_geom {
    int64_t planes, h, w, ho, wo;
    int64_t kh, kw, sh, sw, pt, pb, pl, pr, dh, dw;
    bool count_include_pad;
    int64_t divisor;
} ds_pool2d_geom;

/* y = max over each window (the first maximum; NaN wins; an all-padding window gives -inf). */
void ds_max_pool2d_f32(const ds_pool2d_geom *g, const float *x, float *y);
void ds_max_pool2d_f64(const ds_pool2d_geom *g, const double *x, double *y);
/* dx (overwritten) = dy routed to each window's maximum position of x (as chosen by max_pool2d). */
void ds_max_pool2d_grad_f32(const ds_pool2d_geom *g, const float *dy, const float *x, float *dx);
void ds_max_pool2d_grad_f64(const ds_pool2d_geom *g, const double *dy, const double *x, double *dx);
/* out (pooled shape) = src at each window's maximum position of x (0 for an all-padding window):
 * the adjoint of max_pool2d_grad in its dy argument. */
void ds_max_pool2d_gather_f32(const ds_pool2d_geom *g, const float *src, const float *x, float *out);
void ds_max_pool2d_gather_f64(const ds_pool2d_geom *g, const double *src, const double *x, double *out);
/* y = the window average (divisor as above; 0 where the divisor is 0). */
void ds_avg_pool2d_f32(const ds_pool2d_geom *g, const float *x, float *y);
void ds_avg_pool2d_f64(const ds_pool2d_geom *g, const double *x, double *y);
/* dx (overwritten) = the adjoint of avg_pool2d applied to dy. */
void ds_avg_pool2d_grad_f32(const ds_pool2d_geom *g, const float *dy, float *dx);
void ds_avg_pool2d_grad_f64(const ds_pool2d_geom *g, const double *dy, double *dx);

/* Adaptive average pooling of `planes` planes h x w to ho x wo: output row i averages input rows
 * [floor(i * h / ho), ceil((i + 1) * h / ho)), likewise for columns (PyTorch's windows). */
void ds_adaptive_avg_pool2d_f32(int64_t planes, int64_t h, int64_t w, int64_t ho, int64_t wo, const float *x, float *y);
void ds_adaptive_avg_pool2d_f64(int64_t planes, int64_t h, int64_t w, int64_t ho, int64_t wo, const double *x,
                                double *y);
/* dx (overwritten, planes x h x w) = the adjoint of adaptive_avg_pool2d applied to dy. */
void ds_adaptive_avg_pool2d_grad_f32(int64_t planes, int64_t h, int64_t w, int64_t ho, int64_t wo, const float *dy,
                                     float *dx);
void ds_adaptive_avg_pool2d_grad_f64(int64_t planes, int64_t h, int64_t w, int64_t ho, int64_t wo, const double *dy,
                                     double *dx);
#endif
