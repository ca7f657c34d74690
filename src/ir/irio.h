/* Pieces shared by the IR's text printer (print.c), text parser (parse.c) and binary file format
 * (serialize.c). The formats themselves are described in docs/ir.md and at the top of print.c and
 * serialize.c. Implemented in print.c. */
#ifndef DS_IR_IRIO_H
#define DS_IR_IRIO_H
#include "ir/ir.h"

/* Subgraphs may nest this deep (the verifier's limit); the parser and the loader refuse deeper. */
#define DS_IRIO_MAX_DEPTH 64
/* Symbolic dims read from text or files have indices below this (other code keeps indices in an int). */
#define DS_IRIO_MAX_SYMBOL (1 << 20)

/* Whether the known dims of m multiply (zeros counted as ones) to at most INT64_MAX / 16, so element
 * and byte strides fit in int64. Types read from text or files must pass (other code assumes it). */
bool ds_irio_dims_fit(const ds_meta *m);

/* Fills `out` (an empty vector; the caller deinits it) with every graph reachable from `root` through
 * If/While/Call nodes, root included, each listed once and after all the graphs it uses, so root is
 * last. DS_ERR_VALUE if a graph reaches itself. Borrowed pointers. */
ds_status ds_irio_graph_order(const ds_graph *root, ds_ptrvec *out);

/* Short dtype names of the text format: "bool", "i8", "u8", "i16", "i32", "i64", "f16", "bf16",
 * "f32", "f64". */
const char *ds_irio_dtype_short(ds_dtype dt);
/* Parses the n bytes at s as a short or long ("float32") dtype name. */
bool ds_irio_dtype_parse(const char *s, size_t n, ds_dtype *out);

/* Parses the NUL-terminated decimal text `s` into one element of float dtype `dt` at dst (strtod for
 * float64, strtof then rounding for the narrower types). False if `s` is not entirely a number. The
 * printer writes the shortest text this function turns back into the same bits. */
bool ds_irio_float_from_text(ds_dtype dt, const char *s, void *dst);

/* Sets the source location the next nodes of `g` get, copying `file` into the graph's arena
 * (ds_graph_set_loc keeps the old file when that copy fails; this reports DS_ERR_NOMEM). */
ds_status ds_irio_set_loc(ds_graph *g, const char *file, int line, int col);

/* Whether the host stores numbers little-endian (the file format and hex constants are). */
bool ds_irio_little_endian(void);
/* Copies n elements of `size` bytes, reversing each element's bytes when `swap`. */
void ds_irio_copy_elems(void *dst, const void *src, size_t n, size_t size, bool swap);
#endif
