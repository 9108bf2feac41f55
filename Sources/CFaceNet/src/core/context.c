#include "context.h"

#include "../testing.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *cfn_status_string(cfn_status status) {
    switch (status) {
    case CFN_OK: return "ok";
    case CFN_ERROR_INVALID_ARGUMENT: return "invalid argument";
    case CFN_ERROR_MISSING_TENSOR: return "missing tensor";
    case CFN_ERROR_SHAPE_MISMATCH: return "shape mismatch";
    case CFN_ERROR_NON_FINITE: return "non-finite value";
    case CFN_ERROR_OUT_OF_MEMORY: return "out of memory";
    }
    return "unknown status";
}

cfn_context *cfn_context_create(void) {
    cfn_context *ctx = calloc(1, sizeof *ctx);
    return ctx;
}

void cfn_context_destroy(cfn_context *ctx) {
    if (!ctx) return;
    cfn_pool_destroy(ctx->pool);
    free(ctx->arena);
    free(ctx);
}

const char *cfn_context_last_error(const cfn_context *ctx) { return ctx ? ctx->error : ""; }

size_t cfn_context_workspace_bytes(const cfn_context *ctx) { return ctx ? ctx->arena_bytes : 0; }

uint64_t cfn_context_allocation_count(const cfn_context *ctx) { return ctx ? ctx->allocations : 0; }

void cfn_context_set_portable_kernels(cfn_context *ctx, int portable) {
    cfn_context_set_kernels(ctx, portable ? CFN_KERNELS_PORTABLE : CFN_KERNELS_BEST);
}

void cfn_context_set_kernels(cfn_context *ctx, cfn_kernel_set kernels) {
    if (!ctx) return;
    ctx->kernels = kernels == CFN_KERNELS_PORTABLE || kernels == CFN_KERNELS_AVX2 ? kernels
                                                                                 : CFN_KERNELS_BEST;
    ctx->portable_kernels = ctx->kernels == CFN_KERNELS_PORTABLE;
}

void cfn_context_set_threads(cfn_context *ctx, int threads) {
    if (!ctx) return;
    ctx->threads = threads < 0 ? 0 : threads > CFN_POOL_MAX_WORKERS ? CFN_POOL_MAX_WORKERS : threads;
}

void cfn_context_set_thread_gauge(cfn_context *ctx, cfn_thread_gauge *gauge) {
    if (!ctx || ctx->gauge == gauge) return;
    cfn_pool_destroy(ctx->pool); /* its helpers count on the old gauge */
    ctx->pool = NULL;
    ctx->gauge = gauge;
}

cfn_pool *cfn_context_pool(cfn_context *ctx, int workers) {
    if (workers > CFN_POOL_MAX_WORKERS) workers = CFN_POOL_MAX_WORKERS;
    if (workers < 2) return NULL;
    if (ctx->pool && cfn_pool_workers(ctx->pool) == workers) return ctx->pool;
    cfn_pool_destroy(ctx->pool);
    ctx->pool = cfn_pool_create_gauged(workers, ctx->gauge);
    return ctx->pool;
}

cfn_status cfn_context_fail(cfn_context *ctx, cfn_status status, const char *format, ...) {
    va_list args;
    va_start(args, format);
    vsnprintf(ctx->error, sizeof ctx->error, format, args);
    va_end(args);
    return status;
}

cfn_status cfn_message_fail(char *message, size_t capacity, cfn_status status, const char *format,
                            ...) {
    if (message && capacity > 0) {
        va_list args;
        va_start(args, format);
        vsnprintf(message, capacity, format, args);
        va_end(args);
    }
    return status;
}

cfn_status cfn_context_begin(cfn_context *ctx, size_t floats) {
    ctx->error[0] = '\0';
    ctx->arena_used = 0;
    if (floats > SIZE_MAX / sizeof(float) - CFN_ALIGNMENT)
        return cfn_context_fail(ctx, CFN_ERROR_OUT_OF_MEMORY, "workspace of %zu floats overflows",
                                floats);
    const size_t bytes = floats * sizeof(float);
    if (bytes <= ctx->arena_bytes) return CFN_OK;
    /* Contents need not survive, so free before allocating: the peak stays one arena. */
    free(ctx->arena);
    ctx->arena = NULL;
    ctx->arena_bytes = 0;
    const size_t rounded = (bytes + CFN_ALIGNMENT - 1) / CFN_ALIGNMENT * CFN_ALIGNMENT;
    float *arena = aligned_alloc(CFN_ALIGNMENT, rounded);
    if (!arena)
        return cfn_context_fail(ctx, CFN_ERROR_OUT_OF_MEMORY,
                                "cannot allocate a workspace of %zu bytes", rounded);
    ctx->arena = arena;
    ctx->arena_bytes = rounded;
    ctx->allocations += 1;
    return CFN_OK;
}

float *cfn_context_take(cfn_context *ctx, size_t count) {
    float *buffer = ctx->arena + ctx->arena_used;
    ctx->arena_used += cfn_aligned_floats(count);
    return buffer;
}

/* ---- test entry (testing.h) --------------------------------------------------------------- */

int cfn_context_sleeping_helpers(const cfn_context *ctx, int *helpers) {
    cfn_pool *pool = ctx ? ctx->pool : NULL;
    if (helpers) *helpers = cfn_pool_workers(pool) - 1;
    return cfn_pool_sleeping_helpers(pool);
}
