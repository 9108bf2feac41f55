/*
 * Per-tensor activation quantisation: u8 = clamp(round(x / scale) + zero_point, 0, 255), rounding
 * half up (the clamped value is non-negative, so +0.5 and truncation). The loop is written once
 * and compiled three times, plain, for AVX2 (8 lanes) and for AVX-512 (16 lanes), the widest
 * the CPU runs chosen at run time; all give the same bytes (contraction is off, so no build
 * fuses the multiply and the add). Pixels are spread over the pool's workers.
 */
#include "qconv.h"

#include "../ops/ops.h"

#include <math.h>

#pragma clang fp contract(off)

#define QUANTIZE_ROW(x, channels, inverse, zp, stride, dst)                                    \
    do {                                                                                       \
        for (int c_ = 0; c_ < (channels); ++c_) {                                              \
            float v_ = (x)[c_] * (inverse);                                                    \
            v_ += (float)(zp); /* a statement of its own: never fused into an FMA */           \
            v_ = v_ < 0.0f ? 0.0f : v_;                                                        \
            v_ = v_ > 255.0f ? 255.0f : v_;                                                    \
            (dst)[c_] = (uint8_t)(int)(v_ + 0.5f);                                             \
        }                                                                                      \
        for (int c_ = (channels); c_ < (stride); ++c_) (dst)[c_] = (uint8_t)(zp);               \
    } while (0)

static void quantize_rows_plain(const float *x, int p0, int p1, int channels, int ldx,
                                float inverse, int zp, int stride, uint8_t *xq) {
    for (int p = p0; p < p1; ++p)
        QUANTIZE_ROW(x + (size_t)p * ldx, channels, inverse, zp, stride, xq + (size_t)p * stride);
}

#if defined(__x86_64__) || defined(__i386__)
__attribute__((target("avx2"))) static void
quantize_rows_avx2(const float *x, int p0, int p1, int channels, int ldx, float inverse, int zp,
                   int stride, uint8_t *xq) {
    for (int p = p0; p < p1; ++p)
        QUANTIZE_ROW(x + (size_t)p * ldx, channels, inverse, zp, stride, xq + (size_t)p * stride);
}

__attribute__((target("avx2,fma,avx512f,avx512bw"))) static void
quantize_rows_avx512(const float *x, int p0, int p1, int channels, int ldx, float inverse, int zp,
                     int stride, uint8_t *xq) {
    for (int p = p0; p < p1; ++p)
        QUANTIZE_ROW(x + (size_t)p * ldx, channels, inverse, zp, stride, xq + (size_t)p * stride);
}
#endif

typedef struct quantize_job {
    const float *x;
    int pixels, channels, ldx, zp, stride, tasks;
    cfn_loop_build build;
    float inverse;
    uint8_t *xq;
} quantize_job;

static void quantize_task(void *arg, int task, int worker) {
    (void)worker;
    const quantize_job *j = arg;
    const int p0 = (int)((long long)task * j->pixels / j->tasks);
    const int p1 = (int)((long long)(task + 1) * j->pixels / j->tasks);
#if defined(__x86_64__) || defined(__i386__)
    if (j->build == CFN_LOOP_AVX512) {
        quantize_rows_avx512(j->x, p0, p1, j->channels, j->ldx, j->inverse, j->zp, j->stride, j->xq);
        return;
    }
    if (j->build == CFN_LOOP_AVX2) {
        quantize_rows_avx2(j->x, p0, p1, j->channels, j->ldx, j->inverse, j->zp, j->stride, j->xq);
        return;
    }
#endif
    quantize_rows_plain(j->x, p0, p1, j->channels, j->ldx, j->inverse, j->zp, j->stride, j->xq);
}

void cfn_q_quantize(const float *x, int pixels, int channels, int ldx, float scale,
                    int zero_point, int stride, uint8_t *xq, cfn_pool *pool, cfn_loop_build build) {
    quantize_job j = {x, pixels, channels, ldx, zero_point, stride,
                      cfn_pool_task_count(pool, pixels), build, 1.0f / scale, xq};
    cfn_pool_run(pool, j.tasks, quantize_task, &j);
}

void cfn_q_quantize_image(const float *images, int n, int h, int w, float scale, int zero_point,
                          uint8_t *xq) {
    const float inverse = 1.0f / scale;
    const size_t plane = (size_t)h * w;
    for (int i = 0; i < n; ++i)
        for (size_t p = 0; p < plane; ++p) {
            float px[3];
            for (int c = 0; c < 3; ++c) px[c] = images[((size_t)i * 3 + c) * plane + p];
            QUANTIZE_ROW(px, 3, inverse, zero_point, 4, xq + ((size_t)i * plane + p) * 4);
        }
}

float cfn_q_max(const float *x, int pixels, int channels, int ldx, int absolute) {
    float most = 0.0f;
    for (int p = 0; p < pixels; ++p) {
        const float *row = x + (size_t)p * ldx;
        for (int c = 0; c < channels; ++c) {
            const float v = absolute ? fabsf(row[c]) : row[c];
            most = v > most ? v : most;
        }
    }
    return most;
}
