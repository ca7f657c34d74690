/* Eager dispatch: run one op now (infer, allocate outputs, run the kernel), and record it on the
 * thread's active autodiff tape when one is set. While a trace is active, ops reading its symbolic
 * tensors (and effects) are added to its graph instead (exec/trace.c). */
#include <string.h>

#include "base/alloc.h"
#include "base/status.h"
#include "exec/trace.h"
#include "ops/op.h"

#define DS_STACK_INPUTS 16

ds_status ds_op_run(ds_op_id op, int n_in, ds_tensor *const *inputs, const ds_attr *attrs,
                    int max_out, ds_tensor **outputs, int *n_out) {
    if ((unsigned)op >= DS_OP_COUNT) return ds_errorf(DS_ERR_VALUE, "unknown op id %d", (int)op);
    ds_trace *trace = ds_trace_tls; /* graph capture: the op may become a node instead of running */
    if (trace) {
        bool handled = false;
        ds_status st = ds_trace_dispatch(trace, op, n_in, inputs, attrs, max_out, outputs, n_out, &handled);
        if (handled) return st;
    }
    const op_entry *e = ds_op_entry_get(op);
    if (!e->impl.run) return ds_errorf(DS_ERR_UNSUPPORTED, "%s: not implemented", e->info.name);
    if (e->info.n_in >= 0 && n_in != e->info.n_in)
        return ds_errorf(DS_ERR_VALUE, "%s: expected %d inputs, got %d", e->info.name, e->info.n_in, n_in);
    ds_status st = DS_OK;
    ds_attr full[DS_MAX_ATTRS];
    ds_meta stack_meta[DS_STACK_INPUTS], *in_meta = stack_meta;
    ds_meta out_meta[DS_OP_MAX_OUT];
    ds_tensor *outs[DS_OP_MAX_OUT];
    int nout = 0;
    if (n_in > DS_STACK_INPUTS) {
        in_meta = ds_malloc(sizeof(ds_meta) * (size_t)n_in);
        if (!in_meta) return DS_ERR_NOMEM;
    }
    for (int i = 0; i < n_in; i++) {
        const ds_tensor *t = inputs[i];
        if (!t) {
            st = ds_errorf(DS_ERR_VALUE, "input %d is NULL", i);
            goto fail;
        }
        if ((!t->data && t->numel != 0) || t->symbolic) {
            st = t->symbolic ? ds_errorf(DS_ERR_VALUE, "input %d is a symbolic tensor (a value of a graph being compiled) "
                                         "used outside its trace", i)
                             : ds_errorf(DS_ERR_VALUE, "input %d is a declared-only tensor without data", i);
            goto fail;
        }
        ds_meta_of(t, &in_meta[i]);
    }
    DS_TRY(ds_op_fill_attrs(e, attrs, full));
    int inferred = 0;
    DS_TRY(e->impl.infer(op, n_in, in_meta, full, out_meta, &inferred));
    if (inferred > max_out) {
        st = ds_errorf(DS_ERR_VALUE, "op returns %d outputs, room for %d", inferred, max_out);
        goto fail;
    }
    nout = inferred;
    memset(outs, 0, sizeof(ds_tensor *) * (size_t)nout);
    if (!(e->impl.flags & DS_IMPL_ALLOCATES))
        for (int i = 0; i < nout; i++)
            DS_TRY(ds_tensor_new(out_meta[i].dtype, out_meta[i].ndim, out_meta[i].shape, &outs[i]));
    ds_op_call call = {op, &e->info, n_in, inputs, full, nout, outs};
    DS_TRY(e->impl.run(&call));
    ds_tape *tape = ds_tape_active(); /* record for gradients (a no-op unless an input requires grad) */
    if (tape) DS_TRY(ds_tape_record(tape, op, n_in, inputs, full, nout, outs));
    if (in_meta != stack_meta) ds_free(in_meta);
    if (nout) memcpy(outputs, outs, sizeof(ds_tensor *) * (size_t)nout);
    if (n_out) *n_out = nout;
    return DS_OK;
fail:
    for (int i = 0; i < nout; i++) ds_tensor_release(outs[i]);
    if (in_meta != stack_meta) ds_free(in_meta);
    ds_error_prefix(e->info.name);
    return st;
}

ds_status ds_op_run1(ds_op_id op, int n_in, ds_tensor *const *inputs, const ds_attr *attrs,
                     ds_tensor **out) {
    ds_tensor *res[DS_OP_MAX_OUT];
    int n = 0;
    ds_status st = ds_op_run(op, n_in, inputs, attrs, DS_OP_MAX_OUT, res, &n);
    if (st) return st;
    if (n != 1) {
        for (int i = 0; i < n; i++) ds_tensor_release(res[i]);
        return ds_errorf(DS_ERR_VALUE, "%s returns %d outputs, not 1", ds_op_entry_get(op)->info.name, n);
    }
    *out = res[0];
    return DS_OK;
}
