/* Printing tensor values exactly as NumPy's str() does (ds_tensor_format is in dynastat.h).
 *
 * Floats use the shortest digits that identify the value within its own dtype (NumPy's Dragon4
 * "unique" mode, reimplemented here). bfloat16, which NumPy lacks, is treated as NumPy treats its
 * own float types, with bfloat16's parameters: 8 significand bits, finfo precision 2, so an array
 * switches to scientific notation at 1e2 (NumPy: float16 1e3, float32 1e6, float64 1e8) and a 0-d
 * value at 1e2 (NumPy: 1e3, 1e6, 1e16). */
#ifndef DS_TENSOR_FORMAT_H
#define DS_TENSOR_FORMAT_H
#include <stddef.h>

#include "dynastat.h"

/* Writes NumPy's str() of one scalar of float dtype `dt` (float16, bfloat16, float32, float64)
 * whose value is `v` (already representable in dt), e.g. "2.0", "0.1", "1e-05", "-inf", "nan".
 * Writes at most n-1 characters and a NUL into buf (if n > 0); returns the full length. */
size_t ds_format_float_scalar(ds_dtype dt, double v, char *buf, size_t n);
#endif
