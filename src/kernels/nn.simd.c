/* Per-ISA nn loops (see nn.h): the template nn_loops.h instantiated for float32 and float64, and the
 * optimizer loops for float16/bfloat16 (staged through float32 blocks). Compiled once per
 * instruction set with DS_ISA = generic | avx2 | avx512; only the table filler is exported. */
#include <math.h>
#include <stdbool.h>

#include "kernels/ew_simd.h"
#include "kernels/nn.h"

/* Number of operands an update reads (SGD without momentum has no buffer). */
static inline int opt_nop(int kind, const ds_nn_opt *o) {
    return kind == DS_NN_ADAM ? 4 + o->amsgrad : kind == DS_NN_SGD && o->momentum == 0 ? 2 : 3;
}

#define T float
#define SUF f32
#define L 16
#define EXP ds_vm_expf
#define LOG ds_vm_logf
#define SQRT sqrtf
#include "kernels/nn_loops.h"
#undef T
#undef SUF
#undef L
#undef EXP
#undef LOG
#undef SQRT

#define T double
#define SUF f64
#define L 8
#define EXP ds_vm_exp
#define LOG ds_vm_log
#define SQRT sqrt
#include "kernels/nn_loops.h"
#undef T
#undef SUF
#undef L
#undef EXP
#undef LOG
#undef SQRT

/* float16 (half = 1) / bfloat16 operands: blocks converted to float32, updated, converted back. */
static void opt_apply_half(int kind, int half, char **args, const int64_t *steps, int64_t n, const ds_nn_opt *o) {
    int nop = opt_nop(kind, o);
    float buf[5][DS_EW_BLOCK], *a[5] = {buf[0], buf[1], buf[2], buf[3], buf[4]};
    for (int64_t i0 = 0; i0 < n; i0 += DS_EW_BLOCK) {
        int64_t b = n - i0 < DS_EW_BLOCK ? n - i0 : DS_EW_BLOCK;
        for (int k = 0; k < nop; k++) ds_ew_load_f32(half, args[k] + i0 * steps[k], steps[k], buf[k], b);
        opt_run_f32(kind, a, b, o);
        for (int k = 0; k < nop; k++)
            if (k != 1) ds_ew_store_f32(half, buf[k], args[k] + i0 * steps[k], steps[k], b);
    }
}

#define OPT_LOOPS(KIND, name)                                                                      \
    static void name##_f16(char **a, const int64_t *s, int64_t n, void *c) { opt_apply_half(KIND, 1, a, s, n, c); } \
    static void name##_bf16(char **a, const int64_t *s, int64_t n, void *c) { opt_apply_half(KIND, 0, a, s, n, c); } \
    static void name##_f32(char **a, const int64_t *s, int64_t n, void *c) { opt_apply_f32(KIND, a, s, n, c); }      \
    static void name##_f64(char **a, const int64_t *s, int64_t n, void *c) { opt_apply_f64(KIND, a, s, n, c); }
OPT_LOOPS(DS_NN_SGD, sgd)
OPT_LOOPS(DS_NN_MOMENTUM, momentum)
OPT_LOOPS(DS_NN_ADAM, adam)

#define PAIR(vt_field, name)                                                                       \
    vt->vt_field[0] = name##_f32;                                                                  \
    vt->vt_field[1] = name##_f64;
#define QUAD(kind, name)                                                                           \
    vt->opt[kind][0] = name##_f16;                                                                 \
    vt->opt[kind][1] = name##_bf16;                                                                \
    vt->opt[kind][2] = name##_f32;                                                                 \
    vt->opt[kind][3] = name##_f64;

void DS_EW_SYM(ds_nn_fill_vt)(ds_nn_vt *vt) {
    PAIR(softmax_rows, softmax_rows)
    PAIR(softmax_cols, softmax_cols)
    PAIR(grad_rows, grad_rows)
    PAIR(grad_cols, grad_cols)
    PAIR(ce_fwd, ce_fwd)
    PAIR(ce_bwd, ce_bwd)
    PAIR(bce, bce)
    QUAD(DS_NN_SGD, sgd)
    QUAD(DS_NN_MOMENTUM, momentum)
    QUAD(DS_NN_ADAM, adam)
}
