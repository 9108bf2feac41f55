/*
 * An int8 convolution as one product: packed 7-bit weights (Cout × kh·kw·Cin) times the u8
 * input unfolded one 8-column block at a time into the worker's scratch (a pointwise layer
 * reads its input pixels in place), int32 sums dequantised in the epilogue:
 *   v = (Σ q_w · q_x − zero_point · Σ q_w) · in_scale · weight_scale[o] + bias[o].
 * Work items are (column block, pair of panels), block-major, so a task unfolds each of its
 * blocks once and small layers (batch 1's 3×3 maps) still spread over every worker.
 */
#include "qconv.h"

#include "../ops/ops.h"

#include <math.h>
#include <string.h>

#pragma clang fp contract(off)

void cfn_qconv_set_weights(const cfn_qconv *conv, const float *w, int8_t *matrix, int8_t *packed,
                           float *weight_scale, int32_t *row_sum) {
    const int cin = conv->in_channels, kh = conv->kernel_h, kw = conv->kernel_w;
    const int depth = conv->depth4, src_depth = cin * kh * kw;
    for (int o = 0; o < conv->out_channels; ++o) {
        const float *src = w + (size_t)o * src_depth;
        float most = 0.0f;
        for (int k = 0; k < src_depth; ++k) most = fmaxf(most, fabsf(src[k]));
        const float scale = most > 0.0f ? most / CFN_Q_WEIGHT_MAX : 1.0f;
        weight_scale[o] = scale;
        int32_t sum = 0;
        int8_t *dst = matrix + (size_t)o * depth;
        memset(dst, 0, (size_t)depth);
        for (int c = 0; c < cin; ++c)
            for (int ky = 0; ky < kh; ++ky)
                for (int kx = 0; kx < kw; ++kx) {
                    float v = nearbyintf(src[(c * kh + ky) * kw + kx] / scale);
                    if (v > CFN_Q_WEIGHT_MAX) v = CFN_Q_WEIGHT_MAX;
                    if (v < -CFN_Q_WEIGHT_MAX) v = -CFN_Q_WEIGHT_MAX;
                    dst[(ky * kw + kx) * conv->in_stride + c] = (int8_t)v;
                    sum += (int32_t)v;
                }
        row_sum[o] = sum;
    }
    cfn_q_pack_weights(matrix, conv->out_channels, depth, packed);
}

typedef struct qconv_job {
    const cfn_qconv *conv;
    const uint8_t *xq;
    int n, h, w, out_h, out_w, columns;
    int blocks, pairs, items, tasks;
    float in_scale;
    float *out;
    int ldo;
    cfn_qconv_epilogue epilogue;
    uint8_t *scratch;
    size_t scratch_stride;
    cfn_q_tile_fn tile;
    cfn_loop_build build; /* the epilogue's */
} qconv_job;

/* Column `p`'s kh · kw · in_stride bytes, (ky, kx, channel) order, padding as the zero point. */
static void unfold_column(const qconv_job *j, int p, uint8_t *dst) {
    const cfn_qconv *c = j->conv;
    const int ox = p % j->out_w, rest = p / j->out_w, oy = rest % j->out_h, image = rest / j->out_h;
    const size_t pixel = (size_t)c->in_stride;
    const uint8_t *plane = j->xq + (size_t)image * j->h * j->w * pixel;
    for (int ky = 0; ky < c->kernel_h; ++ky) {
        const int iy = oy * c->stride - c->pad_h + ky;
        for (int kx = 0; kx < c->kernel_w; ++kx, dst += pixel) {
            const int ix = ox * c->stride - c->pad_w + kx;
            if (iy < 0 || iy >= j->h || ix < 0 || ix >= j->w) {
                memset(dst, c->zero_point, pixel);
            } else {
                const uint8_t *src = plane + ((size_t)iy * j->w + ix) * pixel;
                /* Pixels are a multiple of 16 bytes but the image's 4: inline copies, not calls. */
                size_t b = 0;
                for (; b + 16 <= pixel; b += 16) {
                    uint64_t lo, hi;
                    __builtin_memcpy(&lo, src + b, 8);
                    __builtin_memcpy(&hi, src + b + 8, 8);
                    __builtin_memcpy(dst + b, &lo, 8);
                    __builtin_memcpy(dst + b + 8, &hi, 8);
                }
                for (; b < pixel; b += 4) {
                    uint32_t v;
                    __builtin_memcpy(&v, src + b, 4);
                    __builtin_memcpy(dst + b, &v, 4);
                }
            }
        }
    }
}

/* The epilogue's loop, compiled three times (plain, AVX2: 8 lanes, AVX-512: 16 lanes);
   contraction is off for this file, so all round every multiply and add alike and give the
   same floats. */
#define EPILOGUE_BODY                                                                          \
    const cfn_qconv *c = j->conv;                                                              \
    const float *bias = c->bias + row0, *ws = c->weight_scale + row0;                          \
    const int32_t *rs = c->row_sum + row0;                                                     \
    const int32_t zp = c->zero_point;                                                          \
    const float in_scale = j->in_scale, scale = j->epilogue.scale;                             \
    const int relu = j->epilogue.relu;                                                         \
    for (int q = 0; q < cols; ++q) {                                                           \
        const int32_t *a = acc + q * 2 * CFN_Q_PANEL;                                          \
        float *y = j->out + (size_t)(col0 + q) * j->ldo + row0;                                \
        if (j->epilogue.residual) {                                                            \
            for (int r = 0; r < rows; ++r) {                                                   \
                const float v = (float)(a[r] - zp * rs[r]) * (in_scale * ws[r]) + bias[r];     \
                const float t = y[r] + scale * v;                                              \
                y[r] = relu && t < 0.0f ? 0.0f : t;                                            \
            }                                                                                  \
        } else {                                                                               \
            for (int r = 0; r < rows; ++r) {                                                   \
                const float v = (float)(a[r] - zp * rs[r]) * (in_scale * ws[r]) + bias[r];     \
                y[r] = relu && v < 0.0f ? 0.0f : v;                                            \
            }                                                                                  \
        }                                                                                      \
    }

static void epilogue_plain(const qconv_job *j, const int32_t *acc, int row0, int rows, int col0,
                           int cols) {
    EPILOGUE_BODY
}

#if defined(__x86_64__) || defined(__i386__)
__attribute__((target("avx2"))) static void
epilogue_avx2(const qconv_job *j, const int32_t *acc, int row0, int rows, int col0, int cols) {
    EPILOGUE_BODY
}

__attribute__((target("avx2,fma,avx512f"))) static void
epilogue_avx512(const qconv_job *j, const int32_t *acc, int row0, int rows, int col0, int cols) {
    EPILOGUE_BODY
}
#endif

static void epilogue(const qconv_job *j, const int32_t *acc, int row0, int rows, int col0,
                     int cols) {
#if defined(__x86_64__) || defined(__i386__)
    if (j->build == CFN_LOOP_AVX512) {
        epilogue_avx512(j, acc, row0, rows, col0, cols);
        return;
    }
    if (j->build == CFN_LOOP_AVX2) {
        epilogue_avx2(j, acc, row0, rows, col0, cols);
        return;
    }
#endif
    epilogue_plain(j, acc, row0, rows, col0, cols);
}

static void qconv_task(void *arg, int task, int worker) {
    const qconv_job *j = arg;
    const cfn_qconv *c = j->conv;
    const int i0 = (int)((long long)task * j->items / j->tasks);
    const int i1 = (int)((long long)(task + 1) * j->items / j->tasks);
    const int pointwise = c->kernel_h == 1 && c->kernel_w == 1 && c->stride == 1 &&
                          c->pad_h == 0 && c->pad_w == 0;
    uint8_t *strip = (uint8_t *)(((uintptr_t)(j->scratch + (size_t)worker * j->scratch_stride) + 63) &
                                 ~(uintptr_t)63);
    const size_t panel_bytes = (size_t)c->depth4 * CFN_Q_PANEL;
    const int panels = c->out_channels / CFN_Q_PANEL;
    int32_t acc[CFN_Q_COLUMNS * 2 * CFN_Q_PANEL] __attribute__((aligned(64)));
    const uint8_t *cols[CFN_Q_COLUMNS];
    int block = -1, count = 0;
    for (int i = i0; i < i1; ++i) {
        const int b = i / j->pairs, pair = i % j->pairs;
        const int col0 = b * CFN_Q_COLUMNS;
        if (b != block) {
            block = b;
            count = j->columns - col0 < CFN_Q_COLUMNS ? j->columns - col0 : CFN_Q_COLUMNS;
            for (int q = 0; q < CFN_Q_COLUMNS; ++q) {
                const int p = col0 + (q < count ? q : 0); /* spare lanes repeat the first */
                if (pointwise) {
                    cols[q] = j->xq + (size_t)p * c->in_stride;
                } else {
                    uint8_t *dst = strip + (size_t)q * c->depth4;
                    if (q < count) unfold_column(j, p, dst);
                    cols[q] = q < count ? dst : strip;
                }
            }
        }
        const int panel = 2 * pair, used = panels - panel >= 2 ? 2 : 1;
        j->tile(c->weight + panel * panel_bytes, used, c->depth4, cols, acc);
        epilogue(j, acc, panel * CFN_Q_PANEL, used * CFN_Q_PANEL, col0, count);
    }
}

void cfn_qconv_forward(const cfn_qconv *conv, const uint8_t *xq, int n, int h, int w,
                       float in_scale, float *out, int ldo, cfn_qconv_epilogue epilogue,
                       cfn_pool *pool, uint8_t *scratch, size_t scratch_stride,
                       cfn_q_kernels kernels, cfn_loop_build build) {
    qconv_job j;
    j.conv = conv;
    j.xq = xq;
    j.n = n;
    j.h = h;
    j.w = w;
    j.out_h = cfn_qconv_out(h, conv->kernel_h, conv->stride, conv->pad_h);
    j.out_w = cfn_qconv_out(w, conv->kernel_w, conv->stride, conv->pad_w);
    j.columns = n * j.out_h * j.out_w;
    j.blocks = (j.columns + CFN_Q_COLUMNS - 1) / CFN_Q_COLUMNS;
    j.pairs = (conv->out_channels / CFN_Q_PANEL + 1) / 2;
    j.items = j.blocks * j.pairs;
    j.tasks = cfn_pool_task_count(pool, j.items);
    j.in_scale = in_scale;
    j.out = out;
    j.ldo = ldo;
    j.epilogue = epilogue;
    j.scratch = scratch;
    j.scratch_stride = scratch_stride;
    j.tile = cfn_q_tile_for(kernels);
    j.build = build;
    cfn_pool_run(pool, j.tasks, qconv_task, &j);
}
