/* Graph capture (public API in include/dynastat.h, section "graph capture"): the hook eager dispatch
 * calls while a trace is active. */
#ifndef DS_EXEC_TRACE_H
#define DS_EXEC_TRACE_H
#include <stdbool.h>

#include "dynastat.h"

/* This thread's active trace (what ds_trace_active returns); read directly by ds_op_run so the
 * untraced path costs one thread-local load. */
extern _Thread_local ds_trace *ds_trace_tls;

/* Called by ds_op_run with the active trace: when an input is mapped in t's chain or the op is
 * effectful, adds the op to t's graph, fills outputs with new symbolic tensors and sets *handled;
 * otherwise leaves *handled false (the op runs eagerly). */
ds_status ds_trace_dispatch(ds_trace *t, ds_op_id op, int n_in, ds_tensor *const *inputs, const ds_attr *attrs,
                            int max_out, ds_tensor **outputs, int *n_out, bool *handled);

/* Suspends the thread's active trace (returns it) so engine-internal eager work (plans, the
 * interpreter) runs eagerly; restore it with ds_trace_set_active. */
static inline ds_trace *ds_trace_suspend(void) {
    ds_trace *t = ds_trace_tls;
    ds_trace_tls = NULL;
    return t;
}
#endif
