#include "thread_pool.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define CPU_RELAX() _mm_pause()
#else
#define CPU_RELAX() ((void)0)
#endif

/* Polls of the job counter before a helper sleeps: ~0.3–1 ms of pause instructions, longer
   than the gaps between the jobs of one pass, far shorter than the gaps between passes. */
#define SPIN_POLLS 20000

struct cfn_pool {
    int workers;
    pthread_t *threads;
    pthread_mutex_t mutex;
    pthread_cond_t wake;
    atomic_uint generation; /* bumped for every job (and for shutdown) */
    atomic_int sleepers;    /* helpers waiting on `wake` */
    atomic_int next_task;
    atomic_int busy;        /* helpers not yet finished with the current job */
    atomic_int stop;
    cfn_task_fn fn;         /* the current job, published by `generation` */
    void *arg;
    int count;
};

typedef struct helper_start {
    cfn_pool *pool;
    int worker;
} helper_start;

static void take_tasks(cfn_pool *pool, int worker) {
    for (int t; (t = atomic_fetch_add_explicit(&pool->next_task, 1, memory_order_relaxed)) < pool->count;)
        pool->fn(pool->arg, t, worker);
}

static unsigned wait_for_job(cfn_pool *pool, unsigned seen) {
    for (int i = 0; i < SPIN_POLLS; ++i) {
        const unsigned g = atomic_load_explicit(&pool->generation, memory_order_acquire);
        if (g != seen) return g;
        CPU_RELAX();
    }
    pthread_mutex_lock(&pool->mutex);
    atomic_fetch_add(&pool->sleepers, 1);
    unsigned g;
    /* sleepers is raised before generation is read (both sequentially consistent), and
       cfn_pool_run bumps generation before reading sleepers: one of the two sees the other. */
    while ((g = atomic_load(&pool->generation)) == seen) pthread_cond_wait(&pool->wake, &pool->mutex);
    atomic_fetch_sub(&pool->sleepers, 1);
    pthread_mutex_unlock(&pool->mutex);
    return g;
}

static void *helper_main(void *p) {
    helper_start start = *(helper_start *)p;
    free(p);
    cfn_pool *pool = start.pool;
    unsigned seen = 0;
    for (;;) {
        seen = wait_for_job(pool, seen);
        if (atomic_load_explicit(&pool->stop, memory_order_acquire)) break;
        take_tasks(pool, start.worker);
        atomic_fetch_sub_explicit(&pool->busy, 1, memory_order_release);
    }
    return NULL;
}

static void wake_helpers(cfn_pool *pool) {
    atomic_fetch_add(&pool->generation, 1);
    if (atomic_load(&pool->sleepers) > 0) {
        pthread_mutex_lock(&pool->mutex);
        pthread_cond_broadcast(&pool->wake);
        pthread_mutex_unlock(&pool->mutex);
    }
}

static void stop_helpers(cfn_pool *pool, int started) {
    atomic_store_explicit(&pool->stop, 1, memory_order_release);
    wake_helpers(pool);
    for (int i = 0; i < started; ++i) pthread_join(pool->threads[i], NULL);
}

cfn_pool *cfn_pool_create(int workers) {
    if (workers < 2) return NULL;
    if (workers > CFN_POOL_MAX_WORKERS) workers = CFN_POOL_MAX_WORKERS;
    cfn_pool *pool = calloc(1, sizeof *pool);
    if (!pool) return NULL;
    pool->threads = calloc((size_t)workers - 1, sizeof *pool->threads);
    if (!pool->threads || pthread_mutex_init(&pool->mutex, NULL) != 0) {
        free(pool->threads);
        free(pool);
        return NULL;
    }
    pthread_cond_init(&pool->wake, NULL);
    pool->workers = workers;
    int started = 0;
    for (; started < workers - 1; ++started) {
        helper_start *start = malloc(sizeof *start);
        if (!start) break;
        start->pool = pool;
        start->worker = started + 1;
        if (pthread_create(&pool->threads[started], NULL, helper_main, start) != 0) {
            free(start);
            break;
        }
    }
    if (started < workers - 1) {
        stop_helpers(pool, started);
        pthread_cond_destroy(&pool->wake);
        pthread_mutex_destroy(&pool->mutex);
        free(pool->threads);
        free(pool);
        return NULL;
    }
    return pool;
}

void cfn_pool_destroy(cfn_pool *pool) {
    if (!pool) return;
    stop_helpers(pool, pool->workers - 1);
    pthread_cond_destroy(&pool->wake);
    pthread_mutex_destroy(&pool->mutex);
    free(pool->threads);
    free(pool);
}

int cfn_pool_workers(const cfn_pool *pool) { return pool ? pool->workers : 1; }

void cfn_pool_run(cfn_pool *pool, int count, cfn_task_fn fn, void *arg) {
    if (count <= 0) return;
    if (!pool || count == 1) {
        for (int t = 0; t < count; ++t) fn(arg, t, 0);
        return;
    }
    pool->fn = fn;
    pool->arg = arg;
    pool->count = count;
    atomic_store_explicit(&pool->next_task, 0, memory_order_relaxed);
    atomic_store_explicit(&pool->busy, pool->workers - 1, memory_order_relaxed);
    wake_helpers(pool); /* the sequentially consistent bump publishes the job */
    take_tasks(pool, 0);
    while (atomic_load_explicit(&pool->busy, memory_order_acquire) > 0) CPU_RELAX();
}
