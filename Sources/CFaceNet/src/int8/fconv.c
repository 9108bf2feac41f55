/*
 * A float32 convolution on the int8 network's NHWC activations, for the few layers kept in
 * float32 (facenet_int8.c says which and why). Each task unfolds FCONV_PIXELS output pixels at
 * a time into its worker's scratch, (ky, kx, channel) order, and accumulates them against the
 * float weights (depth × out_channels) in a fixed order with separate multiplies and adds
 * (contraction off): the loop's plain and AVX-512 builds and its AVX2 form in intrinsics give
 * the same floats, so the network still does not depend on the CPU. The AVX2 form is what an
 * AVX2-only CPU runs: the plain build is compiled for the x86-64 baseline (4 lanes), and on it
 * these three layers (5 % of the multiply-adds) took a third of the int8 network's time on a
 * Zen 3. The epilogue is the int8 layers' (qconv.h).
 */
#include "qconv.h"

#include "../ops/ops.h"

#include <string.h>

#pragma clang fp contract(off)

#define FCONV_PIXELS 4
#define FCONV_LANES 16 /* output channels per accumulator row; every FaceNet width is a multiple */
_Static_assert(FCONV_PIXELS == 4, "columns_avx2 reads four unfolded pixels");

size_t cfn_fconv_scratch_bytes(const cfn_qconv *c) {
    return sizeof(float) * FCONV_PIXELS * (size_t)c->in_channels * c->kernel_h * c->kernel_w + 64;
}

void cfn_fconv_set_weights(const cfn_qconv *c, const float *w, float *dst) {
    const int cin = c->in_channels, kh = c->kernel_h, kw = c->kernel_w, cout = c->out_channels;
    for (int o = 0; o < cout; ++o)
        for (int ch = 0; ch < cin; ++ch)
            for (int ky = 0; ky < kh; ++ky)
                for (int kx = 0; kx < kw; ++kx)
                    dst[((size_t)(ky * kw + kx) * cin + ch) * cout + o] =
                        w[(((size_t)o * cin + ch) * kh + ky) * kw + kx];
}

typedef struct fconv_job {
    const cfn_qconv *c;
    const float *x;
    int ldx, h, w, oh, ow, columns, tasks;
    cfn_loop_build build;
    float *out;
    int ldo;
    cfn_qconv_epilogue e;
    unsigned char *scratch;
    size_t scratch_stride;
} fconv_job;

static void unfold(const fconv_job *j, int p, float *dst) {
    const cfn_qconv *c = j->c;
    const int cin = c->in_channels, ox = p % j->ow, oy = (p / j->ow) % j->oh, image = p / (j->ow * j->oh);
    for (int ky = 0; ky < c->kernel_h; ++ky) {
        const int iy = oy * c->stride - c->pad_h + ky;
        for (int kx = 0; kx < c->kernel_w; ++kx, dst += cin) {
            const int ix = ox * c->stride - c->pad_w + kx;
            if (iy < 0 || iy >= j->h || ix < 0 || ix >= j->w)
                memset(dst, 0, sizeof(float) * (size_t)cin);
            else
                memcpy(dst, j->x + (((size_t)image * j->h + iy) * j->w + ix) * j->ldx,
                       sizeof(float) * (size_t)cin);
        }
    }
}

/* Columns p0 … p0 + count (≤ FCONV_PIXELS), unfolded at `cols` (depth floats each). */
#define FCONV_BODY                                                                             \
    const cfn_qconv *c = j->c;                                                                 \
    const int cout = c->out_channels, depth = c->in_channels * c->kernel_h * c->kernel_w;      \
    for (int o0 = 0; o0 < cout; o0 += FCONV_LANES) {                                           \
        float acc[FCONV_PIXELS][FCONV_LANES];                                                  \
        for (int q = 0; q < FCONV_PIXELS; ++q)                                                 \
            for (int r = 0; r < FCONV_LANES; ++r) acc[q][r] = 0.0f;                            \
        const float *wk = c->float_weight + o0;                                                \
        for (int k = 0; k < depth; ++k, wk += cout)                                            \
            for (int q = 0; q < FCONV_PIXELS; ++q) {                                           \
                const float v = cols[(size_t)q * depth + k];                                   \
                for (int r = 0; r < FCONV_LANES; ++r) acc[q][r] += v * wk[r];                  \
            }                                                                                  \
        for (int q = 0; q < count; ++q) {                                                      \
            float *y = j->out + (size_t)(p0 + q) * j->ldo + o0;                                \
            for (int r = 0; r < FCONV_LANES; ++r) {                                            \
                const float v = acc[q][r] + c->bias[o0 + r];                                   \
                const float t = j->e.residual ? y[r] + j->e.scale * v : v;                     \
                y[r] = j->e.relu && t < 0.0f ? 0.0f : t;                                       \
            }                                                                                  \
        }                                                                                      \
    }

static void columns_plain(const fconv_job *j, const float *cols, int p0, int count) { FCONV_BODY }

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>

/* FCONV_BODY in AVX2 intrinsics, the same operations in the same order (a multiply, then an
   add; never fused): the 4 pixels × 16 channels in 8 registers, and the epilogue 8 lanes at a
   time. Compiled from the plain loop, clang kept one sum on the stack and ran the epilogue one
   float at a time, with its branches; written out, the loop's time fell by a fifth (perf on
   FaceRecBenchmarks facenet-int8, Zen 3: 19.1–19.6 % of the int8 tiles' samples → 14.7–14.9 %). */
__attribute__((target("avx2"))) static void
columns_avx2(const fconv_job *j, const float *cols, int p0, int count) {
    const cfn_qconv *c = j->c;
    const int cout = c->out_channels, depth = c->in_channels * c->kernel_h * c->kernel_w;
    const __m256 zero = _mm256_setzero_ps(), scale = _mm256_set1_ps(j->e.scale);
    const float *x0 = cols, *x1 = cols + depth, *x2 = cols + 2 * (size_t)depth,
                *x3 = cols + 3 * (size_t)depth;
    for (int o0 = 0; o0 < cout; o0 += FCONV_LANES) {
        __m256 acc[FCONV_PIXELS][2];
        for (int q = 0; q < FCONV_PIXELS; ++q) acc[q][0] = acc[q][1] = zero;
        const float *wk = c->float_weight + o0;
        for (int k = 0; k < depth; ++k, wk += cout) {
            const __m256 w0 = _mm256_loadu_ps(wk), w1 = _mm256_loadu_ps(wk + 8);
            const float v[FCONV_PIXELS] = {x0[k], x1[k], x2[k], x3[k]};
            for (int q = 0; q < FCONV_PIXELS; ++q) {
                const __m256 x = _mm256_set1_ps(v[q]);
                acc[q][0] = _mm256_add_ps(acc[q][0], _mm256_mul_ps(x, w0));
                acc[q][1] = _mm256_add_ps(acc[q][1], _mm256_mul_ps(x, w1));
            }
        }
        for (int q = 0; q < count; ++q) {
            float *y = j->out + (size_t)(p0 + q) * j->ldo + o0;
            for (int h = 0; h < 2; ++h) {
                const __m256 v = _mm256_add_ps(acc[q][h], _mm256_loadu_ps(c->bias + o0 + 8 * h));
                __m256 t = j->e.residual ? _mm256_add_ps(_mm256_loadu_ps(y + 8 * h), _mm256_mul_ps(scale, v)) : v;
                /* t < 0 ? 0 : t, as the plain loop: −0 and NaN stay as they are (max would not). */
                if (j->e.relu) t = _mm256_blendv_ps(t, zero, _mm256_cmp_ps(t, zero, _CMP_LT_OQ));
                _mm256_storeu_ps(y + 8 * h, t);
            }
        }
    }
}

__attribute__((target("avx2,fma,avx512f"))) static void
columns_avx512(const fconv_job *j, const float *cols, int p0, int count) {
    FCONV_BODY
}
#endif

static void fconv_task(void *arg, int task, int worker) {
    const fconv_job *j = arg;
    const int groups = (j->columns + FCONV_PIXELS - 1) / FCONV_PIXELS;
    const int g0 = (int)((long long)task * groups / j->tasks);
    const int g1 = (int)((long long)(task + 1) * groups / j->tasks);
    const int depth = j->c->in_channels * j->c->kernel_h * j->c->kernel_w;
    float *cols = (float *)(((uintptr_t)(j->scratch + (size_t)worker * j->scratch_stride) + 63) &
                            ~(uintptr_t)63);
    for (int g = g0; g < g1; ++g) {
        const int p0 = g * FCONV_PIXELS;
        const int count = j->columns - p0 < FCONV_PIXELS ? j->columns - p0 : FCONV_PIXELS;
        for (int q = 0; q < FCONV_PIXELS; ++q) /* spare columns repeat the first */
            unfold(j, q < count ? p0 + q : p0, cols + (size_t)q * depth);
#if defined(__x86_64__) || defined(__i386__)
        if (j->build == CFN_LOOP_AVX512) {
            columns_avx512(j, cols, p0, count);
            continue;
        }
        if (j->build == CFN_LOOP_AVX2) {
            columns_avx2(j, cols, p0, count);
            continue;
        }
#endif
        columns_plain(j, cols, p0, count);
    }
}

void cfn_fconv_forward(const cfn_qconv *c, const float *x, int ldx, int n, int h, int w,
                       float *out, int ldo, cfn_qconv_epilogue e, cfn_pool *pool,
                       unsigned char *scratch, size_t scratch_stride, cfn_loop_build build) {
    fconv_job j;
    j.c = c;
    j.x = x;
    j.ldx = ldx;
    j.h = h;
    j.w = w;
    j.oh = cfn_qconv_out(h, c->kernel_h, c->stride, c->pad_h);
    j.ow = cfn_qconv_out(w, c->kernel_w, c->stride, c->pad_w);
    j.columns = n * j.oh * j.ow;
    j.tasks = cfn_pool_task_count(pool, (j.columns + FCONV_PIXELS - 1) / FCONV_PIXELS);
    j.build = build;
    j.out = out;
    j.ldo = ldo;
    j.e = e;
    j.scratch = scratch;
    j.scratch_stride = scratch_stride;
    cfn_pool_run(pool, j.tasks, fconv_task, &j);
}
