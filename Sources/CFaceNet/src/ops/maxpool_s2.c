/*
 * MaxPool2d(kernel 2 or 3, stride 2, no padding, ceil_mode=True), the only pooling MTCNN uses.
 * Same results as cfn_maxpool2d (including NaN propagation) without its per-window clipping
 * arithmetic: rows past the bottom edge are replaced by the last row (max is idempotent), and
 * only the last output column can be a partial window.
 */
#include "ops.h"

#define MAX_NAN(m, v) ((v) > (m) || (v) != (v) ? (v) : (m))

void cfn_maxpool2d_s2_ceil(const float *in, int planes, int h, int w, int kernel, float *out) {
    const int out_h = cfn_pool_out_extent(h, kernel, 2, 0, 1);
    const int out_w = cfn_pool_out_extent(w, kernel, 2, 0, 1);
    /* Output columns whose whole window lies inside the row. */
    int full_w = out_w;
    while (full_w > 0 && 2 * (full_w - 1) + kernel > w) --full_w;
    for (int p = 0; p < planes; ++p) {
        const float *src = in + (size_t)p * h * w;
        float *dst = out + (size_t)p * out_h * out_w;
        for (int oy = 0; oy < out_h; ++oy, dst += out_w) {
            const int y0 = 2 * oy;
            const float *r0 = src + (size_t)y0 * w;
            const float *r1 = y0 + 1 < h ? r0 + w : r0;
            const float *r2 = kernel == 3 && y0 + 2 < h ? r0 + 2 * (size_t)w : r1;
            if (kernel == 3) {
                for (int ox = 0; ox < full_w; ++ox) {
                    const int x = 2 * ox;
                    float m = r0[x];
                    m = MAX_NAN(m, r0[x + 1]); m = MAX_NAN(m, r0[x + 2]);
                    m = MAX_NAN(m, r1[x]); m = MAX_NAN(m, r1[x + 1]); m = MAX_NAN(m, r1[x + 2]);
                    m = MAX_NAN(m, r2[x]); m = MAX_NAN(m, r2[x + 1]); m = MAX_NAN(m, r2[x + 2]);
                    dst[ox] = m;
                }
            } else {
                for (int ox = 0; ox < full_w; ++ox) {
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
