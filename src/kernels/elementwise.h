/* Elementwise CPU kernels: NumPy-style inner loops (see ds_loop_fn in tensor/iter.h) looked up by op
 * and dtype. Kernels see only raw buffers and byte steps; ops/elementwise.c does dtype promotion,
 * broadcasting (through ds_iter) and error reporting. The loops are compiled once per instruction
 * set (src/kernels/ew_*.simd.c) and the widest one the CPU supports is chosen at first use.
 *
 * Every loop has a contiguous fast path (all steps equal to the item sizes) written so that GCC
 * vectorizes it; binary loops also have vectorized paths for a broadcast scalar (step 0) on either
 * side. float16/bfloat16 are converted to float32 in blocks, computed, and converted back. */
#ifndef DS_KERNELS_ELEMENTWISE_H
#define DS_KERNELS_ELEMENTWISE_H
#include <stdbool.h>
#include <stddef.h>

#include "tensor/iter.h"

/* Unary loop for `op` (a UNARY-kind op) on dtype dt: args[0] = input (dt), args[1] = output.
 * The output dtype is dt, except LOGICAL_NOT which writes bool (uint8 0/1). NULL if the pair is
 * unsupported: math ops (exp, log, sqrt, rsqrt, sin, cos, tanh, sigmoid, gelu, erf, reciprocal)
 * exist for float dtypes only, NEG not for bool, BITWISE_NOT not for floats. FLOOR/CEIL/ROUND on
 * ints and bool are copies; ROUND is half-to-even. The input and output may be the same buffer. */
ds_loop_fn ds_kernel_unary(ds_op_id op, ds_dtype dt);

/* Binary loop for `op` (a BINARY-kind op) on inputs already in dt: args[0] = a, args[1] = b,
 * args[2] = out. Output dtype is dt, or bool (uint8 0/1) for comparisons and logical ops. A step of
 * 0 on a or b is a broadcast scalar. NULL if unsupported: DIV exists for floats only, FLOOR_DIV /
 * MOD / POW not for bool, SUB not for bool, BITWISE_* not for floats. Integer division or modulo by
 * zero gives 0 (never traps), as in NumPy; INT_MIN // -1 wraps to INT_MIN. */
ds_loop_fn ds_kernel_binary(ds_op_id op, ds_dtype dt);

/* Conversion loop from -> to (all 10 x 10 pairs): args[0] = src, args[1] = dst. C conversion rules:
 * to bool is x != 0 (NaN -> true); float to integer truncates toward zero (through int32 for the
 * narrow types, so out-of-range values wrap like NumPy on x86); narrowing integers wrap; float to
 * float16/bfloat16 rounds to nearest even. Never NULL for valid dtypes. */
ds_loop_fn ds_kernel_cast(ds_dtype from, ds_dtype to);

/* Select loop for elements of elem_size bytes (1, 2, 4 or 8): args = cond (bool), x, y, out;
 * out = cond ? x : y. NULL for other sizes. */
ds_loop_fn ds_kernel_where(size_t elem_size);

/* ctx of a clip loop: bounds as doubles, each optional. */
typedef struct ds_clip_bounds {
    double lo, hi;
    bool has_lo, has_hi;
} ds_clip_bounds;

/* Clip loop for dt (args[0] = in, args[1] = out, ctx = const ds_clip_bounds *): out = min(max(x, lo),
 * hi) with the absent bounds skipped; NaN passes through. For integer dtypes the bounds are
 * truncated toward zero and saturated to the dtype's range. */
ds_loop_fn ds_kernel_clip(ds_dtype dt);

/* Test support: uses the kernels compiled for `isa` ("generic", "avx2", "avx512"; NULL = the default:
 * the best the CPU supports, or the one the environment variable DS_SIMD names) from now on. Returns false (and changes nothing) if the CPU cannot run them or
 * they are not built. Not thread-safe: call only while no kernels run. */
bool ds_kernel_set_isa(const char *isa);

/* ---------------------------------------------------------------- internal: the per-ISA tables */
typedef struct ds_ew_table {
    ds_loop_fn unary[DS_OP_COUNT][DS_DTYPE_COUNT];
    ds_loop_fn binary[DS_OP_COUNT][DS_DTYPE_COUNT];
    ds_loop_fn cast[DS_DTYPE_COUNT][DS_DTYPE_COUNT];
    ds_loop_fn where[4]; /* by log2(elem_size) */
    ds_loop_fn clip[DS_DTYPE_COUNT];
} ds_ew_table;

/* Each ew_*.simd.c defines these once per ISA (suffix _generic, _avx2, _avx512); each fills its part
 * of the table. */
#define DS_EW_DECLARE_FILLERS(isa)                                                                 \
    void ds_ew_fill_unary_##isa(ds_ew_table *t);                                                   \
    void ds_ew_fill_binary_##isa(ds_ew_table *t);                                                  \
    void ds_ew_fill_cast_##isa(ds_ew_table *t);
DS_EW_DECLARE_FILLERS(generic)
#if defined(__x86_64__) || defined(DS_X86_64)
DS_EW_DECLARE_FILLERS(avx2)
DS_EW_DECLARE_FILLERS(avx512)
#endif
#endif
