/*
 * MaxPool2d(kernel 2 or 3, stride 2, no padding, ceil_mode=True), the only pooling MTCNN uses.
 * Same results as cfn_maxpool2d (including NaN propagation) without its per-window clipping
 * arithmetic: rows past the bottom edge are replaced by the last row (max is idempotent), and
 * only the last output column can be a partial window.
 */
#include "../testing.h"
#include "ops.h"

#include <string.h>

/* The input rows of output row oy's window (kernel 2 reads r0 and r1): rows past the bottom
   edge are the last one again, which makes ceil mode's partial window a whole one. */
typedef struct window_rows {
    const float *r0, *r1, *r2;
} window_rows;

static inline window_rows rows_of_window(const float *plane, int oy, int h, size_t row_stride,
                                         int kernel) {
    const int y0 = 2 * oy;
    window_rows w;
    w.r0 = plane + (size_t)y0 * row_stride;
    w.r1 = y0 + 1 < h ? w.r0 + row_stride : w.r0;
    w.r2 = kernel == 3 && y0 + 2 < h ? w.r0 + 2 * row_stride : w.r1;
    return w;
}

#if defined(__x86_64__) || defined(__i386__)
#include "avx2_lanes.h"

AVX2_INLINE __m256 rows_max(const float *r0, const float *r1, const float *r2, int x) {
    const __m256 top = cfn_max_nan8(_mm256_loadu_ps(r0 + x), _mm256_loadu_ps(r1 + x));
    return cfn_max_nan8(top, _mm256_loadu_ps(r2 + x));
}

/* 8 output columns from ox on, in the same order of CFN_MAX_NAN as the scalar loop up to NaN
   payloads. Reads x < 2·ox + 16 (kernel 2) or 2·ox + 18 (kernel 3). */
AVX2_INLINE void pool8_avx2(const float *r0, const float *r1, const float *r2, int kernel, int ox,
                            float *dst) {
    const int x = 2 * ox;
    if (kernel == 2) {
        const __m256 a = cfn_max_nan8(_mm256_loadu_ps(r0 + x), _mm256_loadu_ps(r1 + x));
        const __m256 b = cfn_max_nan8(_mm256_loadu_ps(r0 + x + 8), _mm256_loadu_ps(r1 + x + 8));
        _mm256_storeu_ps(dst + ox, cfn_pair_max8(a, b));
    } else {
        const __m256 a = rows_max(r0, r1, r2, x), b = rows_max(r0, r1, r2, x + 8);
        const __m256 c = rows_max(r0, r1, r2, x + 2), d = rows_max(r0, r1, r2, x + 10);
        _mm256_storeu_ps(dst + ox, cfn_max_nan8(cfn_pair_max8(a, b), cfn_evens8(c, d)));
    }
}

/* 4 output columns from ox on (SSE lanes), reading exactly their windows: x < 2·ox + 8 (kernel
   2) or 2·ox + 9 (kernel 3), so any whole-window column can end a group. */
AVX2_INLINE __m128 max_nan4(__m128 m, __m128 v) {
    return _mm_blendv_ps(_mm_max_ps(m, v), m, _mm_cmpunord_ps(m, m));
}
AVX2_INLINE __m128 rows_max4(const float *r0, const float *r1, const float *r2, int x) {
    return max_nan4(max_nan4(_mm_loadu_ps(r0 + x), _mm_loadu_ps(r1 + x)), _mm_loadu_ps(r2 + x));
}
AVX2_INLINE void pool4_avx2(const float *r0, const float *r1, const float *r2, int kernel, int ox,
                            float *dst) {
    const int x = 2 * ox;
    __m128 a, b;
    if (kernel == 2) {
        a = max_nan4(_mm_loadu_ps(r0 + x), _mm_loadu_ps(r1 + x));
        b = max_nan4(_mm_loadu_ps(r0 + x + 4), _mm_loadu_ps(r1 + x + 4));
    } else {
        a = rows_max4(r0, r1, r2, x);
        b = rows_max4(r0, r1, r2, x + 4);
    }
    /* (x0, x1), (x2, x3), ... paired: evens and odds of a ‖ b (one 128-bit lane, no fix-up). */
    __m128 m = max_nan4(_mm_shuffle_ps(a, b, _MM_SHUFFLE(2, 0, 2, 0)),
                        _mm_shuffle_ps(a, b, _MM_SHUFFLE(3, 1, 3, 1)));
    if (kernel == 3) {
        /* Third columns x + 2, x + 4, x + 6, x + 8: c = x + 2 … x + 5 (lanes 0, 2),
           d = x + 5 … x + 8 (lanes 1, 3). */
        const __m128 c = rows_max4(r0, r1, r2, x + 2), d = rows_max4(r0, r1, r2, x + 5);
        m = max_nan4(m, _mm_shuffle_ps(c, d, _MM_SHUFFLE(3, 1, 2, 0)));
    }
    _mm_storeu_ps(dst + ox, m);
}

/* Whole-window output columns [0, whole) of one output row; returns how many it wrote. Groups
   of 8 cover [0, n8) (n8 ≤ whole: columns whose 8-wide loads, which read one column past the
   window for kernel 3, stay in the row), groups of 4 the rest. A last group that would pass its
   end is shifted left to end there: the overlap gets the same values again, and the nets'
   narrow maps (R-Net's 11 and 4 pooled columns, O-Net's 23 and 10) leave at most the partial
   edge column to the scalar loop. */
AVX2_INLINE int pool_row_avx2_inline(const float *r0, const float *r1, const float *r2, int kernel,
                                     int n8, int whole, float *dst) {
    int done = 0;
    if (n8 >= 8) {
        for (int ox = 0; ox < n8; ox += 8)
            pool8_avx2(r0, r1, r2, kernel, ox + 8 <= n8 ? ox : n8 - 8, dst);
        done = n8;
    }
    if (whole - done > 0 && whole >= 4) {
        for (int ox = done; ox < whole; ox += 4)
            pool4_avx2(r0, r1, r2, kernel, ox + 4 <= whole ? ox : whole - 4, dst);
        done = whole;
    }
    return done;
}

AVX2 static int pool_row_avx2(const float *r0, const float *r1, const float *r2, int kernel,
                              int n8, int whole, float *dst) {
    return pool_row_avx2_inline(r0, r1, r2, kernel, n8, whole, dst);
}

/*
 * Kernel 3 over every plane, rows of at least 8 columns: the row loop above inlined, and the
 * ceil-mode column at the right edge (a window of the row's last two columns, when w is even)
 * taken from the vector of the row's last 8 columns' three-row maxima, its lanes 6 and 7. The
 * same maxima as the scalar edge loop, up to NaN payloads and the sign of a zero (max_ps keeps
 * its second operand on a tie, the scalar loop its first), as in the vector columns. On
 * R-Net's and O-Net's narrow maps (22 and 46 columns: 11 and 23 pooled) the per-row call and
 * the edge column's scalar loop were most of the pool's time.
 */
AVX2 static void pool_planes_k3_avx2(const float *in, int planes, int h, int w, size_t row_stride,
                                     size_t plane_stride, float *out, size_t out_plane, int out_h,
                                     int out_w, int vec_w, int full_w) {
    const int edge = full_w < out_w; /* one partial column: w even */
    for (int p = 0; p < planes; ++p) {
        const float *src = in + (size_t)p * plane_stride;
        float *dst = out + (size_t)p * out_plane;
        for (int oy = 0; oy < out_h; ++oy, dst += out_w) {
            const window_rows r = rows_of_window(src, oy, h, row_stride, 3);
            pool_row_avx2_inline(r.r0, r.r1, r.r2, 3, vec_w, full_w, dst);
            if (edge) {
                const __m256 v = rows_max(r.r0, r.r1, r.r2, w - 8);
                const __m256 hi = _mm256_permutevar8x32_ps(v, _mm256_set1_epi32(7));
                const __m256 lo = _mm256_permutevar8x32_ps(v, _mm256_set1_epi32(6));
                _mm_store_ss(dst + full_w, _mm256_castps256_ps128(cfn_max_nan8(lo, hi)));
            }
        }
    }
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
    const size_t out_plane = (size_t)cfn_pool_out_extent(h, kernel, 2, 0, 1) *
                             (size_t)cfn_pool_out_extent(w, kernel, 2, 0, 1);
    cfn_maxpool2d_s2_ceil_to(in, planes, h, w, row_stride, plane_stride, kernel, out, out_plane,
                             portable);
}

void cfn_maxpool2d_s2_ceil_to(const float *in, int planes, int h, int w, size_t row_stride,
                              size_t plane_stride, int kernel, float *out, size_t out_plane,
                              int portable) {
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
    /* Kernel 3 leaves at most one partial column; the row loop needs 4 whole ones (w ≥ 9) and
       the edge column's vector 8 columns. */
    if (simd && kernel == 3 && w >= 9) {
        pool_planes_k3_avx2(in, planes, h, w, row_stride, plane_stride, out, out_plane, out_h, out_w,
                            vec_w, full_w);
        return;
    }
#else
    (void)portable;
#endif
    for (int p = 0; p < planes; ++p) {
        const float *src = in + (size_t)p * plane_stride;
        float *dst = out + (size_t)p * out_plane;
        for (int oy = 0; oy < out_h; ++oy, dst += out_w) {
            const window_rows rows = rows_of_window(src, oy, h, row_stride, kernel);
            const float *r0 = rows.r0, *r1 = rows.r1, *r2 = rows.r2;
            int start = 0;
#if defined(__x86_64__) || defined(__i386__)
            if (simd) start = pool_row_avx2(r0, r1, r2, kernel, vec_w, full_w, dst);
#endif
            if (kernel == 3) {
                for (int ox = start; ox < full_w; ++ox) {
                    const int x = 2 * ox;
                    float m = r0[x];
                    m = CFN_MAX_NAN(m, r0[x + 1]);
                    m = CFN_MAX_NAN(m, r0[x + 2]);
                    m = CFN_MAX_NAN(m, r1[x]);
                    m = CFN_MAX_NAN(m, r1[x + 1]);
                    m = CFN_MAX_NAN(m, r1[x + 2]);
                    m = CFN_MAX_NAN(m, r2[x]);
                    m = CFN_MAX_NAN(m, r2[x + 1]);
                    m = CFN_MAX_NAN(m, r2[x + 2]);
                    dst[ox] = m;
                }
            } else {
                for (int ox = start; ox < full_w; ++ox) {
                    const int x = 2 * ox;
                    float m = r0[x];
                    m = CFN_MAX_NAN(m, r0[x + 1]);
                    m = CFN_MAX_NAN(m, r1[x]); m = CFN_MAX_NAN(m, r1[x + 1]);
                    dst[ox] = m;
                }
            }
            for (int ox = full_w; ox < out_w; ++ox) { /* partial window at the right edge */
                const int x0 = 2 * ox;
                const int x1 = x0 + kernel < w ? x0 + kernel : w;
                float m = r0[x0];
                for (int x = x0; x < x1; ++x) {
                    m = CFN_MAX_NAN(m, r0[x]);
                    m = CFN_MAX_NAN(m, r1[x]);
                    m = CFN_MAX_NAN(m, r2[x]);
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
