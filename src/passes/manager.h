/* The optimization passes and the pass manager (public entry points in include/dynastat.h, "passes").
 *
 * Every pass has the same shape: it reads `g` (borrowed, never modified) and writes a new graph to *out
 * (release it), or fails leaving *out untouched. *changes (may be NULL) counts what it rewrote, so the
 * manager can stop at a fixed point. A pass alone does not verify its result; the manager does. */
#ifndef DS_PASSES_MANAGER_H
#define DS_PASSES_MANAGER_H
#include "ir/ir.h"

typedef ds_status (*ds_pass_fn)(const ds_graph *g, ds_graph **out, int *changes);

typedef struct ds_pass {
    const char *name;
    ds_pass_fn run;
} ds_pass;

/* Inlines Call nodes, and If nodes whose condition is a constant, into the caller (inline.c). */
ds_status ds_pass_inline(const ds_graph *g, ds_graph **out, int *changes);
/* Algebraic simplification that keeps every value bit-identical (simplify.c). */
ds_status ds_pass_simplify(const ds_graph *g, ds_graph **out, int *changes);
/* Constant folding by running the kernels (fold.c). */
ds_status ds_pass_fold(const ds_graph *g, ds_graph **out, int *changes);
/* Common-subexpression elimination (cse.c). */
ds_status ds_pass_cse(const ds_graph *g, ds_graph **out, int *changes);
/* Dead-code elimination (dce.c). */
ds_status ds_pass_dce(const ds_graph *g, ds_graph **out, int *changes);

/* The pass named `name` ("inline", "simplify", "fold", "cse", "dce"), or NULL. */
const ds_pass *ds_pass_find(const char *name);

#define DS_PASS_MAX_ROUNDS 8

/* Runs passes[0..n) in order, as a round, repeating rounds until one changes nothing or `max_rounds`
 * rounds ran. The input is verified first (its own verifier error is returned as is); after every pass
 * the result is verified, and a failure is DS_ERR_INTERNAL naming the pass. With a dump directory
 * (ds_set_dump_dir, else the environment variable DS_DUMP_IR), creates it if missing and writes the input
 * and the result of every pass as "<dir>/<graph>.<nn>.<pass>.ir" and ".dot" (nn counts from 00 = the
 * input). *out is a new graph (release it). */
ds_status ds_pass_pipeline(const ds_graph *g, const ds_pass *passes, int n, int max_rounds, ds_graph **out);
#endif
