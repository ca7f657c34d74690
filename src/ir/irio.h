/* Pieces shared by the IR's text printer (print.c), text parser (parse.c) and binary file format
 * (serialize.c). The formats themselves are described in docs/ir.md and at the top of print.c and
 * serialize.c. Implemented in print.c. */
#ifndef DS_IR_IRIO_H
#define DS_IR_IRIO_H
#include "base/strbuf.h"
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

/* Labels of the graphs of `order` (as from ds_irio_graph_order), the names the text format gives them
 * after '@': a graph's name when that is an identifier not used by an earlier graph, else
 * "<sanitized name>.<index>". Fills *labels (order->n strings) and *is_name (whether label i is the
 * graph's name) even on failure; the caller frees each label and both arrays with ds_free. */
ds_status ds_irio_graph_labels(const ds_ptrvec *order, char ***labels, bool **is_name);
/* Whether parameter i of g is written %<its name> by the text format (else %arg.<i>). */
bool ds_irio_param_named(const ds_graph *g, int i);

/* Pieces of the text format, appended to sb as ds_graph_print writes them (errors are sticky in sb):
 * a type ("f32[batch, 3]", symbols named by g); an op node's attributes ("{axis=[1], keepdims=true}",
 * nothing for an op without attributes); a double-quoted string with \\ \" \n \t \r \xHH escapes. */
void ds_irio_put_type(ds_strbuf *sb, const ds_graph *g, const ds_meta *m);
void ds_irio_put_attrs(ds_strbuf *sb, const ds_node *n);
void ds_irio_put_str(ds_strbuf *sb, const char *s);
/* Appends a constant's values as the text format writes them ("1.5", "[1, 2, 3]") when it has at most
 * max_elems (and at most 16) elements, each with an exact decimal form; else appends nothing and
 * returns false. */
bool ds_irio_put_const_values(ds_strbuf *sb, const ds_tensor *t, int max_elems);

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
