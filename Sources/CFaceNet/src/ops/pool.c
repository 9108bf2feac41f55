#include "ops.h"

#include <float.h>

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

void cfn_global_avgpool(const float *in, int planes, int plane_size, float *out) {
    for (int p = 0; p < planes; ++p) {
        const float *src = in + (size_t)p * plane_size;
        double sum = 0.0;
        for (int i = 0; i < plane_size; ++i) sum += src[i];
        out[p] = (float)(sum / plane_size);
    }
}
