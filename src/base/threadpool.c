/* The one pool of worker threads. Workers sleep on a condition variable between jobs (no spinning),
 * so the pool never fights BLAS threads for the cores. The calling thread takes the first share. */
#include "base/threadpool.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

#include "dynastat.h"

#define DS_MAX_THREADS 64

typedef struct pool {
    pthread_mutex_t mu;
    pthread_cond_t work_cv;
    pthread_cond_t done_cv;
    pthread_mutex_t submit_mu; /* one job at a time */
    int nworkers;              /* threads started (excluding callers) */
    uint64_t generation;       /* bumped per job */
    /* the current job */
    ds_range_fn fn;
    void *ctx;
    int64_t n, chunk;
    atomic_llong next;  /* next chunk start */
    int pending;        /* workers still busy on this job */
    int wanted;         /* workers asked to join this job */
    uint64_t start_gen[DS_MAX_THREADS]; /* generation when each worker was created */
} pool;

static pool g_pool = {.mu = PTHREAD_MUTEX_INITIALIZER,
                      .work_cv = PTHREAD_COND_INITIALIZER,
                      .done_cv = PTHREAD_COND_INITIALIZER,
                      .submit_mu = PTHREAD_MUTEX_INITIALIZER};
static int g_num_threads; /* 0 = not configured yet */
static _Thread_local bool tl_in_task;

static int default_threads(void) {
    const char *env = getenv("DS_NUM_THREADS");
    if (env && atoi(env) > 0) return atoi(env);
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (int)(n > DS_MAX_THREADS ? DS_MAX_THREADS : n) : 1;
}

void ds_set_num_threads(int n) {
    if (n < 1) n = 1;
    if (n > DS_MAX_THREADS) n = DS_MAX_THREADS;
    g_num_threads = n;
}

int ds_get_num_threads(void) {
    if (!g_num_threads) g_num_threads = default_threads();
    return g_num_threads;
}

bool ds_in_parallel_region(void) { return tl_in_task; }

static void run_chunks(pool *p) {
    for (;;) {
        int64_t b = atomic_fetch_add(&p->next, p->chunk);
        if (b >= p->n) break;
        int64_t e = b + p->chunk < p->n ? b + p->chunk : p->n;
        p->fn(p->ctx, b, e);
    }
}

static void *worker_main(void *arg) {
    pool *p = &g_pool;
    int index = (int)(intptr_t)arg;
    uint64_t seen;
    pthread_mutex_lock(&p->mu);
    seen = p->start_gen[index];
    for (;;) {
        while (p->generation == seen || index >= p->wanted) {
            if (p->generation != seen) seen = p->generation; /* a job not meant for us */
            pthread_cond_wait(&p->work_cv, &p->mu);
        }
        seen = p->generation;
        pthread_mutex_unlock(&p->mu);
        tl_in_task = true;
        run_chunks(p);
        tl_in_task = false;
        pthread_mutex_lock(&p->mu);
        if (--p->pending == 0) pthread_cond_signal(&p->done_cv);
    }
    return NULL;
}

/* Starts workers up to `want` (called with submit_mu held). */
static int ensure_workers(pool *p, int want) {
    while (p->nworkers < want) {
        pthread_t th;
        pthread_attr_t attr;
        pthread_attr_init(&attr);
        pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
        pthread_mutex_lock(&p->mu);
        int index = p->nworkers++;
        p->start_gen[index] = p->generation;
        pthread_mutex_unlock(&p->mu);
        if (pthread_create(&th, &attr, worker_main, (void *)(intptr_t)index) != 0) {
            pthread_mutex_lock(&p->mu);
            p->nworkers--;
            pthread_mutex_unlock(&p->mu);
            pthread_attr_destroy(&attr);
            break;
        }
        pthread_attr_destroy(&attr);
    }
    return p->nworkers;
}

void ds_parallel_for(int64_t n, int64_t grain, ds_range_fn fn, void *ctx) {
    if (n <= 0) return;
    if (grain < 1) grain = 1;
    int nt = ds_get_num_threads();
    if (nt <= 1 || n < 2 * grain || tl_in_task) {
        fn(ctx, 0, n);
        return;
    }
    int64_t max_tasks = n / grain;
    int tasks = (int)(max_tasks < nt ? max_tasks : nt);
    pool *p = &g_pool;
    pthread_mutex_lock(&p->submit_mu);
    int workers = ensure_workers(p, tasks - 1);
    if (workers < 1) {
        pthread_mutex_unlock(&p->submit_mu);
        fn(ctx, 0, n);
        return;
    }
    if (workers > tasks - 1) workers = tasks - 1;
    /* a few chunks per thread balance uneven cores without much overhead */
    int64_t chunk = (n + (int64_t)(workers + 1) * 4 - 1) / ((int64_t)(workers + 1) * 4);
    if (chunk < grain) chunk = grain;
    pthread_mutex_lock(&p->mu);
    p->fn = fn;
    p->ctx = ctx;
    p->n = n;
    p->chunk = chunk;
    atomic_store(&p->next, 0);
    p->pending = workers;
    p->wanted = workers;
    p->generation++;
    pthread_cond_broadcast(&p->work_cv);
    pthread_mutex_unlock(&p->mu);

    tl_in_task = true;
    run_chunks(p);
    tl_in_task = false;

    pthread_mutex_lock(&p->mu);
    while (p->pending > 0) pthread_cond_wait(&p->done_cv, &p->mu);
    pthread_mutex_unlock(&p->mu);
    pthread_mutex_unlock(&p->submit_mu);
}
