/* One pool of worker threads for all kernels (see DESIGN.md idea 7). Waiting workers sleep. */
#ifndef DS_BASE_THREADPOOL_H
#define DS_BASE_THREADPOOL_H
#include <stdbool.h>
#include <stdint.h>

typedef void (*ds_range_fn)(void *ctx, int64_t begin, int64_t end);

/* Calls fn(ctx, b, e) over disjoint ranges covering [0, n). Runs inline (one call) when n < 2*grain,
 * when only one thread is configured, or when called from inside a pool task. Returns when all done. */
void ds_parallel_for(int64_t n, int64_t grain, ds_range_fn fn, void *ctx);
/* True while the calling thread is executing a pool task (BLAS calls then run single-threaded). */
bool ds_in_parallel_region(void);
#endif
