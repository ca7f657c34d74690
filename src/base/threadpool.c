/* The one pool of worker threads. The calling thread takes the first share of a job. Between jobs a
 * worker spins briefly (100 µs by the clock, with pause instructions) so that the back-to-back parallel
 * ops of a training step start without a wake-up (a futex wake-up and its reply cost about 60 µs here), then
 * sleeps on a condition variable: an idle pool never keeps a core busy, so it does not fight BLAS or
 * other threads for the cores (DESIGN.md idea 7). The submitter waits for the workers the same way. */
#include "base/threadpool.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "dynastat.h"

#define DS_MAX_THREADS 64
/* Spin this long before sleeping. Timed by the clock (read every 64 pause rounds), because a pause
 * lasts anything from 10 ns to 140 ns depending on the CPU. */
#define DS_SPIN_NS 100000

static uint64_t mono_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static inline void cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ __volatile__("yield");
#endif
}

typedef struct pool {
    pthread_mutex_t mu;
    pthread_cond_t work_cv;
    pthread_cond_t done_cv;
    pthread_mutex_t submit_mu; /* one job at a time */
    int nworkers;              /* threads started (excluding callers) */
    atomic_uint_fast64_t generation; /* bumped per job (under mu, so sleepers cannot miss it) */
    /* the current job */
    ds_range_fn fn;
    void *ctx;
    int64_t n, chunk;
    atomic_llong next;  /* next chunk start */
    atomic_int pending; /* workers still busy on this job */
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
    pthread_mutex_lock(&p->mu);
    uint64_t seen = p->start_gen[index];
    pthread_mutex_unlock(&p->mu);
    for (;;) {
        uint64_t g = atomic_load_explicit(&p->generation, memory_order_acquire);
        if (g == seen) {
            uint64_t t0 = mono_ns();
            for (unsigned spin = 1; g == seen; spin++) {
                cpu_relax();
                g = atomic_load_explicit(&p->generation, memory_order_acquire);
                if (spin % 64 == 0 && mono_ns() - t0 >= DS_SPIN_NS) break;
            }
        }
        if (g == seen) {
            pthread_mutex_lock(&p->mu);
            while ((g = atomic_load_explicit(&p->generation, memory_order_acquire)) == seen)
                pthread_cond_wait(&p->work_cv, &p->mu);
            pthread_mutex_unlock(&p->mu);
        }
        seen = g;
        if (index >= p->wanted) continue; /* a job not meant for us */
        tl_in_task = true;
        run_chunks(p);
        tl_in_task = false;
        if (atomic_fetch_sub_explicit(&p->pending, 1, memory_order_acq_rel) == 1) {
            pthread_mutex_lock(&p->mu); /* the submitter checks `pending` under mu before it sleeps */
            pthread_cond_signal(&p->done_cv);
            pthread_mutex_unlock(&p->mu);
        }
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
        p->start_gen[index] = atomic_load(&p->generation);
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
    p->fn = fn;
    p->ctx = ctx;
    p->n = n;
    p->chunk = chunk;
    atomic_store(&p->next, 0);
    atomic_store(&p->pending, workers);
    p->wanted = workers;
    pthread_mutex_lock(&p->mu);
    atomic_fetch_add_explicit(&p->generation, 1, memory_order_release); /* publishes the job */
    pthread_cond_broadcast(&p->work_cv);
    pthread_mutex_unlock(&p->mu);

    tl_in_task = true;
    run_chunks(p);
    tl_in_task = false;

    if (atomic_load_explicit(&p->pending, memory_order_acquire) > 0) {
        uint64_t t0 = mono_ns();
        for (unsigned spin = 1; atomic_load_explicit(&p->pending, memory_order_acquire) > 0; spin++) {
            cpu_relax();
            if (spin % 64 == 0 && mono_ns() - t0 >= DS_SPIN_NS) break;
        }
    }
    if (atomic_load_explicit(&p->pending, memory_order_acquire) > 0) {
        pthread_mutex_lock(&p->mu);
        while (atomic_load_explicit(&p->pending, memory_order_acquire) > 0) pthread_cond_wait(&p->done_cv, &p->mu);
        pthread_mutex_unlock(&p->mu);
    }
    pthread_mutex_unlock(&p->submit_mu);
}
