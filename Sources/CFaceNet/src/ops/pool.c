#include "../testing.h"
#include "gemm_packed.h"
#include "ops.h"

#include <float.h>

#if defined(__x86_64__) || defined(__i386__)
#include "avx2_lanes.h"

/* CFN_MAX_NAN(m, v) on 16 lanes: v where v > m or v is NaN. */
AVX512_INLINE __m512 max_nan16(__m512 m, __m512 v) {
    const __mmask16 take = _mm512_cmp_ps_mask(v, m, _CMP_GT_OQ) | _mm512_cmp_ps_mask(v, v, _CMP_UNORD_Q);
    return _mm512_mask_blend_ps(take, m, v);
}

/* FaceNet's MaxPool2d(3, stride 2) with every window inside the plane, 16 output columns per
   group: the three rows' maxima first, then each window's three columns (the evens, odds and
   evens shifted by two of 33 columns). The same maxima as the scalar loop, NaN included (which
   of two NaNs survives may differ; PyTorch leaves that open too). */
AVX512 static void maxpool3x3_s2_avx512(const float *in, int planes, int h, int w, int out_h,
                                        int out_w, float *out) {
    const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
    const __m512i odd = _mm512_setr_epi32(1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31);
    for (int p = 0; p < planes; ++p) {
        const float *src = in + (size_t)p * h * w;
        float *dst = out + (size_t)p * out_h * out_w;
        for (int oy = 0; oy < out_h; ++oy) {
            const float *r0 = src + (size_t)(2 * oy) * w, *r1 = r0 + w, *r2 = r1 + w;
            for (int ox = 0; ox < out_w; ox += 16) {
                const int x = 2 * ox, count = out_w - ox < 16 ? out_w - ox : 16;
                __m512 col[3];
                for (int q = 0; q < 3; ++q) {
                    const int left = w - x - 16 * q;
                    const __mmask16 m = left >= 16 ? (__mmask16)0xffff
                                        : left > 0 ? (__mmask16)((1u << left) - 1) : (__mmask16)0;
                    const int o = x + 16 * q;
                    col[q] = max_nan16(max_nan16(_mm512_maskz_loadu_ps(m, r0 + o), _mm512_maskz_loadu_ps(m, r1 + o)),
                                       _mm512_maskz_loadu_ps(m, r2 + o));
                }
                const __m512 shifted0 = _mm512_castsi512_ps(_mm512_alignr_epi32(
                    _mm512_castps_si512(col[1]), _mm512_castps_si512(col[0]), 2));
                const __m512 shifted1 = _mm512_castsi512_ps(_mm512_alignr_epi32(
                    _mm512_castps_si512(col[2]), _mm512_castps_si512(col[1]), 2));
                const __m512 best = max_nan16(max_nan16(_mm512_permutex2var_ps(col[0], even, col[1]),
                                                        _mm512_permutex2var_ps(col[0], odd, col[1])),
                                              _mm512_permutex2var_ps(shifted0, even, shifted1));
                _mm512_mask_storeu_ps(dst + (size_t)oy * out_w + ox, (__mmask16)((1u << count) - 1), best);
            }
        }
    }
}
#endif

int cfn_pool_out_extent(int in, int kernel, int stride, int pad, int ceil_mode) {
    const int span = in + 2 * pad - kernel;
    if (span < 0) return 0;
    int out = (ceil_mode ? (span + stride - 1) / stride : span / stride) + 1;
    /* PyTorch: the last window must start inside the input or its left padding. */
    if (ceil_mode && (out - 1) * stride >= in + pad) out -= 1;
    return out;
}

void cfn_maxpool2d(const float *in, int planes, int h, int w, int kernel, int stride, int pad,
                   int ceil_mode, float *out) {
    const int out_h = cfn_pool_out_extent(h, kernel, stride, pad, ceil_mode);
    const int out_w = cfn_pool_out_extent(w, kernel, stride, pad, ceil_mode);
    if (pad == 0 && (out_h - 1) * stride + kernel <= h && (out_w - 1) * stride + kernel <= w) {
        /* Every window inside the input (FaceNet's pools): whole output rows at a time, the
           window's elements visited in the same order as below, so the same results. */
        for (int p = 0; p < planes; ++p) {
            const float *src = in + (size_t)p * h * w;
            float *dst = out + (size_t)p * out_h * out_w;
            for (int oy = 0; oy < out_h; ++oy) {
                float *row = dst + (size_t)oy * out_w;
                for (int ox = 0; ox < out_w; ++ox) row[ox] = -FLT_MAX;
                for (int y = oy * stride; y < oy * stride + kernel; ++y)
                    for (int x = 0; x < kernel; ++x) {
                        const float *col = src + (size_t)y * w + x;
                        for (int ox = 0; ox < out_w; ++ox) row[ox] = CFN_MAX_NAN(row[ox], col[ox * stride]);
                    }
            }
        }
        return;
    }
    for (int p = 0; p < planes; ++p) {
        const float *src = in + (size_t)p * h * w;
        float *dst = out + (size_t)p * out_h * out_w;
        for (int oy = 0; oy < out_h; ++oy) {
            int y0 = oy * stride - pad, y1 = y0 + kernel;
            if (y0 < 0) y0 = 0;
            if (y1 > h) y1 = h;
            for (int ox = 0; ox < out_w; ++ox) {
                int x0 = ox * stride - pad, x1 = x0 + kernel;
                if (x0 < 0) x0 = 0;
                if (x1 > w) x1 = w;
                float best = -FLT_MAX;
                for (int y = y0; y < y1; ++y)
                    for (int x = x0; x < x1; ++x) {
                        const float v = src[(size_t)y * w + x];
                        /* NaN propagates as in PyTorch. */
                        if (v > best || v != v) best = v;
                    }
                dst[(size_t)oy * out_w + ox] = best;
            }
        }
    }
}

void cfn_maxpool3x3_s2(const float *in, int planes, int h, int w, int avx512, float *out) {
#if defined(__x86_64__) || defined(__i386__)
    if (avx512 && h >= 3 && w >= 3) {
        maxpool3x3_s2_avx512(in, planes, h, w, cfn_pool_out_extent(h, 3, 2, 0, 0),
                             cfn_pool_out_extent(w, 3, 2, 0, 0), out);
        return;
    }
#else
    (void)avx512;
#endif
    cfn_maxpool2d(in, planes, h, w, 3, 2, 0, 0, out);
}

int cfn_maxpool3x3_s2_check(const float *in, int planes, int h, int w, int kernels, float *out) {
    if (!in || !out || planes < 1 || h < 3 || w < 3) return -1;
    cfn_maxpool3x3_s2(in, planes, h, w,
                      cfn_gemm_kernels_for((cfn_kernel_set)kernels) == CFN_GEMM_KERNELS_AVX512, out);
    return 0;
}

void cfn_global_avgpool(const float *in, int planes, int plane_size, float *out) {
    for (int p = 0; p < planes; ++p) {
        const float *src = in + (size_t)p * plane_size;
        double sum = 0.0;
        for (int i = 0; i < plane_size; ++i) sum += src[i];
        out[p] = (float)(sum / plane_size);
    }
}
