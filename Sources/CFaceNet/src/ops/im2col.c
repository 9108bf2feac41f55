#include "ops.h"

#include <string.h>

void cfn_im2col(const float *in, int channels, int n, int h, int w, int kernel_h, int kernel_w,
                int stride_h, int stride_w, int pad_h, int pad_w, int out_h, int out_w,
                int row_begin, int row_end, float *col) {
    (void)n;
    const size_t plane = (size_t)h * w;
    const size_t columns = (size_t)(row_end - row_begin) * out_w;
    size_t r = 0; /* row of col: (channel, ky, kx) */
    for (int c = 0; c < channels; ++c) {
        for (int ky = 0; ky < kernel_h; ++ky) {
            for (int kx = 0; kx < kernel_w; ++kx, ++r) {
                float *dst = col + r * columns;
                for (int row = row_begin; row < row_end; ++row) {
                    const int image = row / out_h;
                    const int oy = row - image * out_h;
                    const int iy = oy * stride_h - pad_h + ky;
                    if (iy < 0 || iy >= h) {
                        memset(dst, 0, sizeof(float) * (size_t)out_w);
                        dst += out_w;
                        continue;
                    }
                    const float *src = in + ((size_t)c * n + image) * plane + (size_t)iy * w;
                    const int ix0 = kx - pad_w;
                    if (stride_w == 1) {
                        /* Contiguous span with zero margins where the window leaves the input. */
                        int ox = 0;
                        for (; ox < out_w && ix0 + ox < 0; ++ox) dst[ox] = 0.0f;
                        int end = out_w;
                        while (end > ox && ix0 + end - 1 >= w) dst[--end] = 0.0f;
                        if (end > ox) memcpy(dst + ox, src + ix0 + ox, sizeof(float) * (size_t)(end - ox));
                    } else {
                        for (int ox = 0; ox < out_w; ++ox) {
                            const int ix = ix0 + ox * stride_w;
                            dst[ox] = (ix >= 0 && ix < w) ? src[ix] : 0.0f;
                        }
                    }
                    dst += out_w;
                }
            }
        }
    }
}
