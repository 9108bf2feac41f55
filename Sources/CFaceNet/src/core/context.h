/* Internal: the per-thread context (workspace arena + last error) shared by every network. */
#ifndef CFN_CORE_CONTEXT_H
#define CFN_CORE_CONTEXT_H

#include "cfacenet.h"
#include "thread_pool.h"

#define CFN_ERROR_CAPACITY 512
/* Every buffer carved from the arena starts on a cache line (and AVX) boundary. */
#define CFN_ALIGNMENT 64

struct cfn_context {
    float *arena;           /* one aligned block, reused by every forward pass */
    size_t arena_bytes;     /* capacity of `arena` */
    size_t arena_used;      /* bump pointer during one forward pass */
    uint64_t allocations;   /* times the arena was (re)allocated */
    int portable_kernels;   /* 1: plain C kernels even where AVX2 is available */
    cfn_kernel_set kernels; /* what cfn_context_set_kernels asked for (portable_kernels follows) */
    int threads;            /* threads per FaceNet pass; 0: OpenBLAS's count */
    cfn_pool *pool;         /* its helpers (NULL until a pass needs more than one thread) */
    cfn_thread_gauge *gauge; /* where the helpers count themselves (NULL: nowhere) */
    char error[CFN_ERROR_CAPACITY];
};

/* Records a printf-style message on the context and returns `status`. */
cfn_status cfn_context_fail(cfn_context *ctx, cfn_status status, const char *format, ...)
    __attribute__((format(printf, 3, 4)));

/* Writes a printf-style message into a caller buffer (may be NULL) and returns `status`. */
cfn_status cfn_message_fail(char *message, size_t capacity, cfn_status status, const char *format,
                            ...) __attribute__((format(printf, 4, 5)));

/* Rounds a float count up so that consecutive buffers stay CFN_ALIGNMENT-aligned. */
static inline size_t cfn_aligned_floats(size_t count) {
    const size_t per_line = CFN_ALIGNMENT / sizeof(float);
    return (count + per_line - 1) / per_line * per_line;
}

/*
 * Starts a forward pass that needs `floats` floats of workspace in total (the sum of
 * cfn_aligned_floats over every buffer it will take). Grows the arena only when it is too
 * small; the contents are not preserved.
 */
cfn_status cfn_context_begin(cfn_context *ctx, size_t floats);

/* The pool of `workers` threads (the caller's included), started or resized on first use;
   NULL for one worker, or when threads cannot be started (the pass then runs on the caller). */
cfn_pool *cfn_context_pool(cfn_context *ctx, int workers);

/* Takes the next buffer of `count` floats; cfn_context_begin reserved room for it. */
float *cfn_context_take(cfn_context *ctx, size_t count);

#endif
