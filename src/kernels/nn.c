/* The nn kernel drivers (see nn.h): the run-time ISA choice, and the split of each kernel's work into
 * rows, column blocks or fixed parts run on the thread pool. */
#include "kernels/nn.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "base/threadpool.h"

/* ---------------------------------------------------------------- ISA selection */
static ds_nn_vt g_vt;
static int g_best; /* 0 generic, 1 avx2, 2 avx512 */
static pthread_once_t g_once = PTHREAD_ONCE_INIT;

static void fill(int level) {
#if defined(__x86_64__) || defined(DS_X86_64)
    if (level == 2) ds_nn_fill_vt_avx512(&g_vt);
    else if (level == 1) ds_nn_fill_vt_avx2(&g_vt);
    else
#endif
        ds_nn_fill_vt_generic(&g_vt);
}

static int level_of(const char *isa) {
    return !strcmp(isa, "generic") ? 0 : !strcmp(isa, "avx2") ? 1 : !strcmp(isa, "avx512") ? 2 : -1;
}

/* The widest variant the CPU runs, or the one DS_SIMD names if the CPU runs it (as elementwise.c). */
static void vt_init(void) {
    g_best = 0;
#if defined(__x86_64__) || defined(DS_X86_64)
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && __builtin_cpu_supports("f16c")) g_best = 1;
    if (g_best == 1 && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
        __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq"))
        g_best = 2;
#endif
    const char *env = getenv("DS_SIMD");
    int want = env ? level_of(env) : -1;
    fill(want >= 0 && want <= g_best ? want : g_best);
}

static inline const ds_nn_vt *vt(void) {
    pthread_once(&g_once, vt_init);
    return &g_vt;
}

bool ds_nn_set_isa(const char *isa) {
    vt();
    int want = isa ? level_of(isa) : g_best;
    if (want < 0 || want > g_best) return false;
    fill(want);
    return true;
}

static inline int fidx(ds_dtype dt) { return dt == DS_FLOAT64; }
static inline int64_t esize(ds_dtype dt) { return dt == DS_FLOAT64 ? 8 : 4; }

/* Units per chunk so that a chunk holds about 16K elements of work. */
static inline int64_t grain_for(int64_t elems_per_unit) {
    int64_t g = 16384 / (elems_per_unit > 0 ? elems_per_unit : 1);
    return g > 0 ? g : 1;
}

/* ---------------------------------------------------------------- softmax */
typedef struct sm_job {
    const ds_nn_vt *vt;
    int t;
    int log;
    const char *a, *b; /* forward: x; backward: y, g */
    char *out;
    int64_t n, inner, nblk, es;
} sm_job;

static void sm_rows(void *ctx, int64_t b, int64_t e) {
    const sm_job *j = ctx;
    int64_t off = b * j->n * j->es;
    if (j->b) j->vt->grad_rows[j->t](j->a + off, j->b + off, j->out + off, e - b, j->n, j->log);
    else j->vt->softmax_rows[j->t](j->a + off, j->out + off, e - b, j->n, j->log);
}

static void sm_cols(void *ctx, int64_t b, int64_t e) {
    const sm_job *j = ctx;
    for (int64_t u = b; u < e; u++) {
        int64_t o = u / j->nblk, j0 = (u % j->nblk) * DS_NN_COLS;
        int64_t w = j->inner - j0 < DS_NN_COLS ? j->inner - j0 : DS_NN_COLS;
        int64_t off = (o * j->n * j->inner + j0) * j->es;
        if (j->b) j->vt->grad_cols[j->t](j->a + off, j->b + off, j->out + off, j->n, j->inner, w, j->log);
        else j->vt->softmax_cols[j->t](j->a + off, j->out + off, j->n, j->inner, w, j->log);
    }
}

static void sm_run(sm_job *j, int64_t outer) {
    if (outer == 0 || j->n == 0 || j->inner == 0) return;
    if (j->inner == 1) {
        ds_parallel_for(outer, grain_for(j->n), sm_rows, j);
        return;
    }
    j->nblk = (j->inner + DS_NN_COLS - 1) / DS_NN_COLS;
    ds_parallel_for(outer * j->nblk, grain_for(j->n * (j->inner < DS_NN_COLS ? j->inner : DS_NN_COLS)), sm_cols, j);
}

void ds_nn_softmax(ds_dtype dt, bool log, const void *x, void *y, int64_t outer, int64_t n, int64_t inner) {
    sm_job j = {vt(), fidx(dt), log, x, NULL, y, n, inner, 0, esize(dt)};
    sm_run(&j, outer);
}

void ds_nn_softmax_grad(ds_dtype dt, bool log, const void *y, const void *g, void *dx, int64_t outer, int64_t n,
                        int64_t inner) {
    sm_job j = {vt(), fidx(dt), log, y, g, dx, n, inner, 0, esize(dt)};
    sm_run(&j, outer);
}

/* ---------------------------------------------------------------- cross-entropy */
typedef struct ce_job {
    const ds_nn_ce *p;
    const ds_nn_vt *vt;
    double *loss;
    const double *w;
    char *dx;
} ce_job;

static inline bool ce_ignored(const ds_nn_ce *p, int64_t i) {
    return p->labels && p->has_ignore && p->labels[i] == p->ignore_index;
}

static void ce_task(void *ctx, int64_t b, int64_t e) {
    const ce_job *j = ctx;
    const ds_nn_ce *p = j->p;
    int t = fidx(p->dtype);
    int64_t row = p->c * esize(p->dtype);
    for (int64_t i = b; i < e; i++) {
        const char *x = (const char *)p->logits + i * row;
        const char *tg = p->targets ? (const char *)p->targets + i * row : NULL;
        int64_t label = p->labels ? p->labels[i] : -1;
        if (j->loss) j->loss[i] = ce_ignored(p, i) ? 0.0 : j->vt->ce_fwd[t](x, p->c, label, tg, p->smoothing);
        else if (ce_ignored(p, i)) memset(j->dx + i * row, 0, (size_t)row);
        else j->vt->ce_bwd[t](x, p->c, label, tg, p->smoothing, j->w[i], j->dx + i * row);
    }
}

void ds_nn_ce_forward(const ds_nn_ce *p, double *loss) {
    ce_job j = {p, vt(), loss, NULL, NULL};
    ds_parallel_for(p->n, grain_for(p->c), ce_task, &j);
}

void ds_nn_ce_backward(const ds_nn_ce *p, const double *w, void *dx) {
    ce_job j = {p, vt(), NULL, w, dx};
    ds_parallel_for(p->n, grain_for(p->c), ce_task, &j);
}

/* ---------------------------------------------------------------- binary cross-entropy */
#define BCE_PARTS 64 /* at most this many parts, each at least BCE_MIN elements */
#define BCE_MIN 4096

typedef struct bce_job {
    const ds_nn_vt *vt;
    int t;
    const char *x, *tg;
    char *out;
    int64_t n, parts, es;
    double partial[BCE_PARTS];
} bce_job;

static void bce_task(void *ctx, int64_t b, int64_t e) {
    bce_job *j = ctx;
    for (int64_t p = b; p < e; p++) {
        int64_t lo = j->n * p / j->parts, hi = j->n * (p + 1) / j->parts;
        j->partial[p] = j->vt->bce[j->t](j->x + lo * j->es, j->tg + lo * j->es, j->out ? j->out + lo * j->es : NULL, hi - lo);
    }
}

double ds_nn_bce(ds_dtype dt, const void *x, const void *t, int64_t n, void *out) {
    if (n <= 0) return 0;
    int64_t parts = (n + BCE_MIN - 1) / BCE_MIN;
    bce_job j = {vt(), fidx(dt), x, t, out, n, parts < BCE_PARTS ? parts : BCE_PARTS, esize(dt), {0}};
    ds_parallel_for(j.parts, 1, bce_task, &j); /* part boundaries depend on n only: same sum on any pool */
    double s = 0;
    for (int64_t p = 0; p < j.parts; p++) s += j.partial[p];
    return s;
}

/* ---------------------------------------------------------------- optimizers */
ds_loop_fn ds_nn_opt_loop(ds_nn_opt_kind kind, ds_dtype dt) {
    if ((unsigned)kind >= DS_NN_OPT_COUNT) return NULL;
    switch (dt) {
    case DS_FLOAT16: return vt()->opt[kind][0];
    case DS_BFLOAT16: return vt()->opt[kind][1];
    case DS_FLOAT32: return vt()->opt[kind][2];
    case DS_FLOAT64: return vt()->opt[kind][3];
    default: return NULL;
    }
}
