/* Status codes and the thread-local error message (public part in include/dynastat.h). */
#ifndef DS_BASE_STATUS_H
#define DS_BASE_STATUS_H
#include "dynastat.h"

/* Our own invariants only; never for anything a caller can cause. */
#ifdef NDEBUG
#define DS_ASSERT(c) ((void)0)
#else
#include <assert.h>
#define DS_ASSERT(c) assert(c)
#endif

/* Evaluates a ds_status expression and jumps to `fail` if it is not DS_OK (status kept in `st`). */
#define DS_TRY(expr)                                                                               \
    do {                                                                                           \
        st = (expr);                                                                               \
        if (st != DS_OK) goto fail;                                                                \
    } while (0)

#define DS_UNUSED(x) ((void)(x))
#endif
