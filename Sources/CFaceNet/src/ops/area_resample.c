/*
 * Area resampling = adaptive average pooling (F.interpolate(mode='area')) of an RGB8 region,
 * fused with MTCNN's normalisation. Output cell (oy, ox) averages input rows
 * [⌊oy·H/OH⌋, ⌈(oy+1)·H/OH⌉) and columns [⌊ox·W/OW⌋, ⌈(ox+1)·W/OW⌉).
 *
 * PyTorch sums in float32 (rows outer, columns inner) and divides by kh, then by kw. The pixels
 * are integers, so while a window's sum stays below 2^24 every summation order gives the same
 * exact float; the fast path sums in integers (separably, rows then columns). Windows that could
 * exceed 2^24 take the slow path that repeats PyTorch's float accumulation order.
 */
#include "ops.h"

#include <stdint.h>

static inline int window_start(int i, int in, int out) { return (int)(((int64_t)i * in) / out); }
static inline int window_end(int i, int in, int out) {
    return (int)((((int64_t)(i + 1) * in) + out - 1) / out);
}

static inline float normalise(float sum, int kh, int kw) {
    const float mean = sum / (float)kh / (float)kw;
    return (mean - 127.5f) * 0.0078125f;
}

int cfn_area_resample_exact_fast(int region_h, int region_w, int out_h, int out_w) {
    const int64_t kh = (region_h + out_h - 1) / out_h + 1;
    const int64_t kw = (region_w + out_w - 1) / out_w + 1;
    return kh * kw * 255 < (int64_t)1 << 24;
}

void cfn_area_resample_rgb8(const uint8_t *rgb, size_t stride, int x0, int y0, int region_w,
                            int region_h, int out_h, int out_w, float *out, uint32_t *row_sums) {
    const size_t plane = (size_t)out_h * out_w;
    if (cfn_area_resample_exact_fast(region_h, region_w, out_h, out_w)) {
        for (int oy = 0; oy < out_h; ++oy) {
            const int ys = window_start(oy, region_h, out_h), ye = window_end(oy, region_h, out_h);
            for (int j = 0; j < region_w * 3; ++j) row_sums[j] = 0;
            for (int y = ys; y < ye; ++y) {
                const uint8_t *src = rgb + (size_t)(y0 + y) * stride + (size_t)x0 * 3;
                for (int j = 0; j < region_w * 3; ++j) row_sums[j] += src[j];
            }
            for (int ox = 0; ox < out_w; ++ox) {
                const int xs = window_start(ox, region_w, out_w);
                const int xe = window_end(ox, region_w, out_w);
                uint32_t r = 0, g = 0, b = 0;
                for (int x = xs; x < xe; ++x) {
                    r += row_sums[3 * x];
                    g += row_sums[3 * x + 1];
                    b += row_sums[3 * x + 2];
                }
                const size_t at = (size_t)oy * out_w + ox;
                out[at] = normalise((float)r, ye - ys, xe - xs);
                out[plane + at] = normalise((float)g, ye - ys, xe - xs);
                out[2 * plane + at] = normalise((float)b, ye - ys, xe - xs);
            }
        }
        return;
    }
    for (int oy = 0; oy < out_h; ++oy) {
        const int ys = window_start(oy, region_h, out_h), ye = window_end(oy, region_h, out_h);
        for (int ox = 0; ox < out_w; ++ox) {
            const int xs = window_start(ox, region_w, out_w), xe = window_end(ox, region_w, out_w);
            for (int c = 0; c < 3; ++c) {
                float sum = 0.0f;
                for (int y = ys; y < ye; ++y) {
                    const uint8_t *src = rgb + (size_t)(y0 + y) * stride + (size_t)x0 * 3 + c;
                    for (int x = xs; x < xe; ++x) sum += (float)src[3 * x];
                }
                out[c * plane + (size_t)oy * out_w + ox] = normalise(sum, ye - ys, xe - xs);
            }
        }
    }
}
