#include "thread_pool.h"

#include "cfacenet.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
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

/* A job is over when its tasks are done, not when every helper has looked at it: a helper that
   the OS (or the hypervisor) has descheduled holds up only a task it took, and the caller runs
   the rest. So one word describes the job for claiming tasks (its number, its task count and its
   next unclaimed task), and a helper claims a task by a compare-and-swap of that word, which
   fails once the job it saw is over. Only after a claim does it read the job's function and
   argument: the claim proves the job open, and they are rewritten only after all its tasks are
   done. */
#define FIELD_BITS 24
#define FIELD_MASK ((UINT64_C(1) << FIELD_BITS) - 1)
#define MAX_TASKS_PER_JOB ((int)FIELD_MASK)

struct cfn_pool {
    int workers;
    pthread_t *threads;
    pthread_mutex_t mutex;
    pthread_cond_t wake;
    atomic_uint generation;  /* bumped for every job (and for shutdown): wakes the helpers */
    atomic_int sleepers;     /* helpers waiting on `wake` */
    _Atomic uint64_t claim;  /* job number << 48 | task count << 24 | next unclaimed task */
    atomic_int done;         /* tasks of the current job finished */
    atomic_int stop;
    atomic_int parked;       /* 1 after cfn_pool_park: helpers sleep instead of spinning */
    _Atomic(cfn_task_fn) fn; /* the current job's, valid while a task of it is claimed */
    _Atomic(void *) arg;
    cfn_thread_gauge *gauge; /* counts the helpers while a pass has them (may be NULL) */
    int counted;             /* the helpers are counted on `gauge` (owner thread only) */
};

typedef struct helper_start {
    cfn_pool *pool;
    int worker;
} helper_start;

/* Claims and runs tasks of the current job until none is left. */
static void take_tasks(cfn_pool *pool, int worker) {
    uint64_t word = atomic_load_explicit(&pool->claim, memory_order_acquire);
    for (;;) {
        const uint64_t task = word & FIELD_MASK, count = word >> FIELD_BITS & FIELD_MASK;
        if (task >= count) return;
        /* Acquire on success: the claimed word belongs to the release sequence of the job's
           publication, so fn and arg below are that job's. On failure `word` is reloaded. */
        if (!atomic_compare_exchange_weak_explicit(&pool->claim, &word, word + 1,
                                                   memory_order_acquire, memory_order_acquire))
            continue;
        const cfn_task_fn fn = atomic_load_explicit(&pool->fn, memory_order_relaxed);
        fn(atomic_load_explicit(&pool->arg, memory_order_relaxed), (int)task, worker);
        atomic_fetch_add_explicit(&pool->done, 1, memory_order_release);
        word = atomic_load_explicit(&pool->claim, memory_order_acquire);
    }
}

static unsigned wait_for_job(cfn_pool *pool, unsigned seen) {
    /* Spin only inside a pass: once the pass is over (parked), a helper sleeps at once, so
       an idle pool costs no CPU and a process never has more threads awake than passes need. */
    for (int i = 0; i < SPIN_POLLS && !atomic_load_explicit(&pool->parked, memory_order_acquire); ++i) {
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

/* The helpers count on the gauge from a pass's first job to its park: the threads the pass has
   put to work (spinning between its jobs, or asleep in a long gap of it), whether or not the OS
   runs them at that instant. Only the owner thread calls these. */
static void count_helpers(cfn_pool *pool, int counted) {
    if (!pool->gauge || pool->counted == counted) return;
    for (int i = 0; i < pool->workers - 1; ++i) {
        if (counted) cfn_thread_gauge_enter(pool->gauge);
        else cfn_thread_gauge_exit(pool->gauge);
    }
    pool->counted = counted;
}

static void stop_helpers(cfn_pool *pool, int started) {
    atomic_store_explicit(&pool->stop, 1, memory_order_release);
    wake_helpers(pool);
    for (int i = 0; i < started; ++i) pthread_join(pool->threads[i], NULL);
}

cfn_pool *cfn_pool_create(int workers) { return cfn_pool_create_gauged(workers, NULL); }

cfn_pool *cfn_pool_create_gauged(int workers, cfn_thread_gauge *gauge) {
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
    pool->gauge = gauge;
    count_helpers(pool, 1); /* they start spinning: a pass is creating the pool */
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
        count_helpers(pool, 0);
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
    count_helpers(pool, 0);
    stop_helpers(pool, pool->workers - 1);
    pthread_cond_destroy(&pool->wake);
    pthread_mutex_destroy(&pool->mutex);
    free(pool->threads);
    free(pool);
}

int cfn_pool_workers(const cfn_pool *pool) { return pool ? pool->workers : 1; }

int cfn_pool_sleeping_helpers(cfn_pool *pool) { return pool ? atomic_load(&pool->sleepers) : 0; }

cfn_thread_gauge *cfn_pool_gauge(const cfn_pool *pool) { return pool ? pool->gauge : NULL; }

void cfn_pool_park(cfn_pool *pool) {
    if (!pool) return;
    atomic_store_explicit(&pool->parked, 1, memory_order_release);
    count_helpers(pool, 0);
}

/* Tasks [first, first + count) of a job too large for one claim word. */
typedef struct task_range {
    cfn_task_fn fn;
    void *arg;
    int first;
} task_range;

static void range_task(void *arg, int task, int worker) {
    const task_range *r = arg;
    r->fn(r->arg, r->first + task, worker);
}

void cfn_pool_run(cfn_pool *pool, int count, cfn_task_fn fn, void *arg) {
    if (count <= 0) return;
    if (!pool || count == 1) {
        for (int t = 0; t < count; ++t) fn(arg, t, 0);
        return;
    }
    if (count > MAX_TASKS_PER_JOB) {
        for (int first = 0; first < count; first += MAX_TASKS_PER_JOB) {
            task_range r = {fn, arg, first};
            cfn_pool_run(pool, count - first < MAX_TASKS_PER_JOB ? count - first : MAX_TASKS_PER_JOB,
                         range_task, &r);
        }
        return;
    }
    count_helpers(pool, 1);
    atomic_store_explicit(&pool->parked, 0, memory_order_release);
    /* The previous job's tasks are all done: no helper is using fn or arg. */
    atomic_store_explicit(&pool->fn, fn, memory_order_relaxed);
    atomic_store_explicit(&pool->arg, arg, memory_order_relaxed);
    atomic_store_explicit(&pool->done, 0, memory_order_relaxed);
    const uint64_t job = (atomic_load_explicit(&pool->claim, memory_order_relaxed) >> (2 * FIELD_BITS)) + 1;
    atomic_store_explicit(&pool->claim, job << (2 * FIELD_BITS) | (uint64_t)count << FIELD_BITS,
                          memory_order_release); /* publishes the job */
    wake_helpers(pool);
    take_tasks(pool, 0);
    while (atomic_load_explicit(&pool->done, memory_order_acquire) < count) CPU_RELAX();
}
