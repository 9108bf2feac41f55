/*
 * Internal: a small pool of threads that one forward pass spreads its work over.
 *
 * The caller's thread is worker 0 and takes tasks too; the helpers spin for a short while
 * after each job (a pass issues hundreds of jobs microseconds apart, and waking a sleeping
 * thread costs more than most of them) and then sleep on a condition variable; at the end of a
 * pass cfn_pool_park sends them to sleep at once, so an idle pool costs nothing. Jobs are tasks 0 … count − 1 claimed from one atomic word per job, and a job
 * is over when its tasks are done: a helper that has not shown up (descheduled) does not hold
 * it up.
 */
#ifndef CFN_CORE_THREAD_POOL_H
#define CFN_CORE_THREAD_POOL_H

/* Runs one task; `worker` (0 … workers − 1) indexes per-worker scratch. */
typedef void (*cfn_task_fn)(void *arg, int task, int worker);

typedef struct cfn_pool cfn_pool;
typedef struct cfn_thread_gauge cfn_thread_gauge; /* cfacenet.h */

/* The most workers a pool has (cfn_pool_create clamps to it). */
#define CFN_POOL_MAX_WORKERS 64

/* A pool of `workers` threads in all, the caller's included (workers − 1 are started). NULL
   when workers < 2 or the threads cannot be created. */
cfn_pool *cfn_pool_create(int workers);
/* The same, with helpers counted on `gauge` from a pass's first job to cfn_pool_park (NULL:
   uncounted). */
cfn_pool *cfn_pool_create_gauged(int workers, cfn_thread_gauge *gauge);
void cfn_pool_destroy(cfn_pool *pool);
cfn_thread_gauge *cfn_pool_gauge(const cfn_pool *pool);
/* Ends a pass: the helpers stop spinning and sleep until the next job, and are no longer
   counted on the gauge. Without it they spin up to SPIN_POLLS polls after the last job. */
void cfn_pool_park(cfn_pool *pool);
/* Helpers asleep on the pool's condition variable now (0 for a NULL pool). */
int cfn_pool_sleeping_helpers(cfn_pool *pool);
/* Threads that take tasks (1 for a NULL pool). */
int cfn_pool_workers(const cfn_pool *pool);

/* Tasks per worker a job is cut into (when it has that many items): enough that a worker slowed
   by another process on its core does not hold the job up, few enough that batch 1's small
   jobs are not cut into slivers (against 4: FaceNet batch-1 passes 2.5 and 1.8 % faster, batch 8
   the same; against 8: 3–7 % faster; paired passes alternating in one process). */
#define CFN_POOL_TASKS_PER_WORKER 2

/* Tasks to cut `items` independent items into (channels, planes, rows): at most
   CFN_POOL_TASKS_PER_WORKER per worker, at least 1. Task t then takes items
   [t · items / tasks, (t + 1) · items / tasks). */
static inline int cfn_pool_task_count(const cfn_pool *pool, int items) {
    const int most = CFN_POOL_TASKS_PER_WORKER * cfn_pool_workers(pool);
    return items < 1 ? 1 : items < most ? items : most;
}

/* Runs fn(arg, t, worker) for every t in [0, count) and returns when all are done. With a NULL
   pool, or one task, the caller runs them all. Not reentrant: one job at a time per pool. */
void cfn_pool_run(cfn_pool *pool, int count, cfn_task_fn fn, void *arg);

#endif
