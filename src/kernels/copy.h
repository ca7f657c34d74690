/* Raw copy kernels for joining, gathering and filling: contiguous buffers, byte rows, run on the
 * thread pool when large. They never fail and never allocate. */
#ifndef DS_KERNELS_COPY_H
#define DS_KERNELS_COPY_H
#include <stddef.h>
#include <stdint.h>

/* Sets dst[0..n) (elements of `esize` bytes, esize in 1..8) to the element at `elem`. */
void ds_fill_elems(void *dst, int64_t n, const void *elem, size_t esize);

/* Row r of dst (row_bytes each, dst contiguous) = the row_bytes at src + offsets[r] (bytes),
 * for r in [0, nrows). */
void ds_gather_rows(void *dst, const void *src, const int64_t *offsets, int64_t nrows,
                    size_t row_bytes);

/* np.take on a contiguous [outer, axis_len, row] source: dst[o, j, :] = src[o, idx[j], :] for
 * o < outer, j < nidx. idx entries must already be in [0, axis_len). */
void ds_take_rows(void *dst, const void *src, int64_t outer, int64_t axis_len, const int64_t *idx,
                  int64_t nidx, size_t row_bytes);
#endif
