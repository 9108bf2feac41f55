/*
 * MaxPool2d(kernel 2 or 3, stride 2, no padding, ceil_mode=True), the only pooling MTCNN uses.
 * Same results as cfn_maxpool2d (including NaN propagation) without its per-window clipping
 * arithmetic: rows past the bottom edge are replaced by the last row (max is idempotent), and
 * only the last output column can be a partial window.
 */
#include "ops.h"

#include <string.h>

#define MAX_NAN(m, v) ((v) > (m) || (v) != (v) ? (v) : (m))

#if defined(__x86_64__) || defined(__i386__)
#include "avx2_lanes.h"

AVX2_INLINE __m256 rows_max(const float *r0, const float *r1, const float *r2, int x) {
    return cfn_max_nan8(cfn_max_nan8(_mm256_loadu_ps(r0 + x), _mm256_loadu_ps(r1 + x)), _mm256_loadu_ps(r2 + x));
}

/* Output columns [0, n) of one output row, 8 at a time, in the same order of MAX_NAN as the
   scalar loop up to NaN payloads; returns how many columns it wrote. Only reads
   x < 2·n + kernel − 1 ≤ w (n: columns whose window is whole and whose vector loads fit). */
AVX2 static int pool_row_avx2(const float *r0, const float *r1, const float *r2, int kernel,
                              int n, float *dst) {
    int ox = 0;
    if (kernel == 2) {
        for (; ox + 8 <= n; ox += 8) {
            const int x = 2 * ox;
            const __m256 a = cfn_max_nan8(_mm256_loadu_ps(r0 + x), _mm256_loadu_ps(r1 + x));
            const __m256 b = cfn_max_nan8(_mm256_loadu_ps(r0 + x + 8), _mm256_loadu_ps(r1 + x + 8));
            _mm256_storeu_ps(dst + ox, cfn_pair_max8(a, b));
        }
    } else {
        for (; ox + 8 <= n; ox += 8) {
            const int x = 2 * ox;
            const __m256 a = rows_max(r0, r1, r2, x), b = rows_max(r0, r1, r2, x + 8);
            const __m256 c = rows_max(r0, r1, r2, x + 2), d = rows_max(r0, r1, r2, x + 10);
            _mm256_storeu_ps(dst + ox, cfn_max_nan8(cfn_pair_max8(a, b), cfn_evens8(c, d)));
        }
    }
    return ox;
}
#endif

void cfn_maxpool2d_s2_ceil(const float *in, int planes, int h, int w, int kernel, float *out) {
    cfn_maxpool2d_s2_ceil_strided(in, planes, h, w, (size_t)w, (size_t)h * w, kernel, out, 0);
}

void cfn_maxpool2d_s2_ceil_portable(const float *in, int planes, int h, int w, int kernel,
                                    float *out) {
    cfn_maxpool2d_s2_ceil_strided(in, planes, h, w, (size_t)w, (size_t)h * w, kernel, out, 1);
}

void cfn_maxpool2d_s2_ceil_strided(const float *in, int planes, int h, int w, size_t row_stride,
                                   size_t plane_stride, int kernel, float *out, int portable) {
    const int out_h = cfn_pool_out_extent(h, kernel, 2, 0, 1);
    const int out_w = cfn_pool_out_extent(w, kernel, 2, 0, 1);
    /* Output columns whose whole window lies inside the row. */
    int full_w = out_w;
    while (full_w > 0 && 2 * (full_w - 1) + kernel > w) --full_w;
#if defined(__x86_64__) || defined(__i386__)
    /* Vector loads of 8 outputs read up to x = 2·ox + 15 (kernel 2) or 2·ox + 17 (kernel 3). */
    int vec_w = full_w;
    while (vec_w > 0 && 2 * (vec_w - 1) + (kernel == 2 ? 2 : 4) > w) --vec_w;
    const int simd = !portable && cfn_cpu_has_avx2_fma();
#else
    (void)portable;
#endif
    for (int p = 0; p < planes; ++p) {
        const float *src = in + (size_t)p * plane_stride;
        float *dst = out + (size_t)p * out_h * out_w;
        for (int oy = 0; oy < out_h; ++oy, dst += out_w) {
            const int y0 = 2 * oy;
            const float *r0 = src + (size_t)y0 * row_stride;
            const float *r1 = y0 + 1 < h ? r0 + row_stride : r0;
            const float *r2 = kernel == 3 && y0 + 2 < h ? r0 + 2 * row_stride : r1;
            int start = 0;
#if defined(__x86_64__) || defined(__i386__)
            if (simd) start = pool_row_avx2(r0, r1, r2, kernel, vec_w, dst);
#endif
            if (kernel == 3) {
                for (int ox = start; ox < full_w; ++ox) {
                    const int x = 2 * ox;
                    float m = r0[x];
                    m = MAX_NAN(m, r0[x + 1]); m = MAX_NAN(m, r0[x + 2]);
                    m = MAX_NAN(m, r1[x]); m = MAX_NAN(m, r1[x + 1]); m = MAX_NAN(m, r1[x + 2]);
                    m = MAX_NAN(m, r2[x]); m = MAX_NAN(m, r2[x + 1]); m = MAX_NAN(m, r2[x + 2]);
                    dst[ox] = m;
                }
            } else {
                for (int ox = start; ox < full_w; ++ox) {
                    const int x = 2 * ox;
                    float m = r0[x];
                    m = MAX_NAN(m, r0[x + 1]);
                    m = MAX_NAN(m, r1[x]); m = MAX_NAN(m, r1[x + 1]);
                    dst[ox] = m;
                }
            }
            for (int ox = full_w; ox < out_w; ++ox) { /* partial window at the right edge */
                const int x0 = 2 * ox;
                const int x1 = x0 + kernel < w ? x0 + kernel : w;
                float m = r0[x0];
                for (int x = x0; x < x1; ++x) {
                    m = MAX_NAN(m, r0[x]);
                    m = MAX_NAN(m, r1[x]);
                    m = MAX_NAN(m, r2[x]);
                }
                dst[ox] = m;
            }
        }
    }
}

void cfn_compact_planes(const float *in, int planes, int h, int w, size_t row_stride,
                        size_t plane_stride, float *out) {
    for (int p = 0; p < planes; ++p)
        for (int y = 0; y < h; ++y)
            memcpy(out + ((size_t)p * h + y) * w, in + (size_t)p * plane_stride + (size_t)y * row_stride,
                   sizeof(float) * (size_t)w);
}
