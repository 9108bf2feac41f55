/*
 * FaceNet's layers on the portable path (CPUs without AVX2 + FMA, arm64): the weights stay
 * row-major, as BLAS takes them, and each layer is one SGEMM over the whole batch — the input
 * unfolded once into an im2col matrix (depth × n·out_h·out_w; a pointwise layer's input is that
 * matrix already), then C = W · B, then bias and activation (or the residual sum) in one pass
 * over C.
 *
 * Threads: OpenBLAS pinned to one thread (what a ComputeBudget does, so that the budget sees
 * every thread) gets one SGEMM per worker of the pass, each on a contiguous slice of C's
 * columns (or, for products narrower than a slice's worth, of its rows). OpenBLAS running its
 * own threads gets the whole product in one call, the pool's helpers asleep meanwhile so that
 * they never spin against it.
 */
#include "ops.h"

#include <string.h>

/* Columns a slice of a product has at least: narrower products are cut by rows instead. */
#define MIN_SLICE_COLUMNS 64

size_t cfn_conv2d_blas_scratch_floats(const cfn_conv2d *conv, int n, int h, int w) {
    if (cfn_conv2d_is_pointwise(conv)) return 0;
    const int out_h = cfn_conv_out_extent(h, conv->kernel_h, conv->stride_h, conv->pad_h);
    const int out_w = cfn_conv_out_extent(w, conv->kernel_w, conv->stride_w, conv->pad_w);
    return (size_t)cfn_conv2d_depth(conv) * n * out_h * out_w;
}

/* ---- im2col -------------------------------------------------------------------------------- */

typedef struct unfold_job {
    const cfn_conv2d *conv;
    const float *in; /* CNHW */
    int n, h, w, out_h, out_w, tasks;
    float *out; /* depth × n·out_h·out_w */
} unfold_job;

/* Rows [r0, r1) of the im2col matrix: row (c · kh + ky) · kw + kx, column
   (image · out_h + oy) · out_w + ox holds in[c][image][oy·sh − ph + ky][ox·sw − pw + kx], or 0
   in the padding. */
static void unfold_task(void *arg, int task, int worker) {
    (void)worker;
    const unfold_job *u = arg;
    const cfn_conv2d *conv = u->conv;
    const int kh = conv->kernel_h, kw = conv->kernel_w, sh = conv->stride_h, sw = conv->stride_w;
    const int depth = cfn_conv2d_depth(conv);
    const int r0 = (int)((long)task * depth / u->tasks), r1 = (int)((long)(task + 1) * depth / u->tasks);
    const size_t plane = (size_t)u->h * u->w, columns = (size_t)u->n * u->out_h * u->out_w;
    for (int r = r0; r < r1; ++r) {
        const int c = r / (kh * kw), ky = r / kw % kh, kx = r % kw;
        float *dst = u->out + (size_t)r * columns;
        /* Output columns [lo, hi) of a row read inside the input row; the rest are padding. */
        const int ix0 = kx - conv->pad_w;
        int lo = ix0 >= 0 ? 0 : (-ix0 + sw - 1) / sw;
        int hi = ix0 > u->w - 1 ? 0 : (u->w - 1 - ix0) / sw + 1;
        if (hi > u->out_w) hi = u->out_w;
        if (lo > hi) lo = hi;
        for (int image = 0; image < u->n; ++image) {
            const float *src = u->in + ((size_t)c * u->n + image) * plane;
            for (int oy = 0; oy < u->out_h; ++oy, dst += u->out_w) {
                const int iy = oy * sh - conv->pad_h + ky;
                if (iy < 0 || iy >= u->h) {
                    memset(dst, 0, sizeof(float) * (size_t)u->out_w);
                    continue;
                }
                const float *row = src + (size_t)iy * u->w;
                for (int ox = 0; ox < lo; ++ox) dst[ox] = 0.0f;
                if (sw == 1)
                    memcpy(dst + lo, row + lo + ix0, sizeof(float) * (size_t)(hi - lo));
                else
                    for (int ox = lo; ox < hi; ++ox) dst[ox] = row[ox * sw + ix0];
                for (int ox = hi; ox < u->out_w; ++ox) dst[ox] = 0.0f;
            }
        }
    }
}

/* ---- the product --------------------------------------------------------------------------- */

typedef struct blas_job {
    int m, n, k;
    const float *a; /* m × k, row-major */
    const float *b; /* k × n, leading dimension n */
    float *c;       /* m × n, leading dimension n */
    float *product; /* m × n scratch for the residual's A·B (CFN_GEMM_RESIDUAL only) */
    cfn_gemm_epilogue epilogue;
    int slices, by_rows;
} blas_job;

/* The epilogue over rows [r0, r1), columns [c0, c1) of C (t: A·B where it is not C itself),
   in PyTorch's order of operations. */
static void epilogue(const blas_job *j, const float *t, int r0, int r1, int c0, int c1) {
    const cfn_gemm_epilogue *e = &j->epilogue;
    if (e->kind == CFN_GEMM_STORE && !e->relu) return;
    for (int r = r0; r < r1; ++r) {
        const float bias = e->bias ? e->bias[r] : 0.0f;
        float *out = j->c + (size_t)r * j->n;
        const float *v = t + (size_t)r * j->n;
        for (int col = c0; col < c1; ++col) {
            float x = v[col];
            if (e->kind == CFN_GEMM_BIAS_ACT) x = x + bias;
            else if (e->kind == CFN_GEMM_RESIDUAL) x = out[col] + e->scale * (x + bias);
            out[col] = e->relu ? (x > 0.0f ? x : 0.0f) : x;
        }
    }
}

static void slice_task(void *arg, int task, int worker) {
    (void)worker;
    const blas_job *j = arg;
    float *t = j->epilogue.kind == CFN_GEMM_RESIDUAL ? j->product : j->c;
    int r0 = 0, r1 = j->m, c0 = 0, c1 = j->n;
    if (j->by_rows) {
        r0 = (int)((long)task * j->m / j->slices);
        r1 = (int)((long)(task + 1) * j->m / j->slices);
    } else { /* slice edges on 16-column boundaries: whole vectors for BLAS's kernels */
        const int strips = (j->n + 15) / 16;
        c0 = (int)((long)task * strips / j->slices) * 16;
        c1 = (int)((long)(task + 1) * strips / j->slices) * 16;
        if (c1 > j->n) c1 = j->n;
    }
    if (r0 >= r1 || c0 >= c1) return;
    cfn_gemm(r1 - r0, c1 - c0, j->k, 1.0f, j->a + (size_t)r0 * j->k, j->b + c0, j->n, 0.0f,
             t + (size_t)r0 * j->n + c0, j->n);
    epilogue(j, t, r0, r1, c0, c1);
}

void cfn_blas_product(cfn_pool *pool, int m, int n, int k, const float *a, const float *b,
                      float *c, float *product, cfn_gemm_epilogue epilogue) {
    blas_job j = {m, n, k, a, b, c, product, epilogue, 1, 0};
    const int workers = cfn_pool_workers(pool);
    if (workers > 1 && cfn_gemm_threads() == 1) {
        j.by_rows = n < MIN_SLICE_COLUMNS * workers;
        j.slices = j.by_rows ? (m < workers ? m : workers) : workers;
        cfn_pool_run(pool, j.slices, slice_task, &j);
        return;
    }
    cfn_pool_park(pool); /* OpenBLAS's threads (or the caller alone) take it from here */
    slice_task(&j, 0, 0);
}

void cfn_conv2d_blas_forward(const cfn_conv2d *conv, const float *in, int n, int h, int w,
                             float *out, float *scratch, cfn_activation act, cfn_pool *pool) {
    const int out_h = cfn_conv_out_extent(h, conv->kernel_h, conv->stride_h, conv->pad_h);
    const int out_w = cfn_conv_out_extent(w, conv->kernel_w, conv->stride_w, conv->pad_w);
    const int columns = n * out_h * out_w, depth = cfn_conv2d_depth(conv);
    const float *b = in;
    if (!cfn_conv2d_is_pointwise(conv)) {
        unfold_job u = {conv, in, n, h, w, out_h, out_w, cfn_pool_task_count(pool, depth), scratch};
        cfn_pool_run(pool, u.tasks, unfold_task, &u);
        b = scratch;
    }
    const cfn_gemm_epilogue e = {CFN_GEMM_BIAS_ACT, conv->bias, 1.0f, act == CFN_ACTIVATION_RELU};
    cfn_blas_product(pool, conv->out_channels, columns, depth, conv->weight, b, out, NULL, e);
}
