/* The int8 network's pooling in NHWC: channels are contiguous, so each window is a few vector
   maxima (or sums) of whole pixels. */
#include "qconv.h"

#include <string.h>

void cfn_nhwc_maxpool3x3_s2(const float *x, int n, int h, int w, int channels, int ldx,
                            float *out, int ldo) {
    const int oh = (h - 3) / 2 + 1, ow = (w - 3) / 2 + 1;
    for (int i = 0; i < n; ++i)
        for (int oy = 0; oy < oh; ++oy)
            for (int ox = 0; ox < ow; ++ox) {
                float *y = out + (((size_t)i * oh + oy) * ow + ox) * ldo;
                const float *first = x + (((size_t)i * h + 2 * oy) * w + 2 * ox) * ldx;
                memcpy(y, first, sizeof(float) * (size_t)channels);
                for (int ky = 0; ky < 3; ++ky)
                    for (int kx = 0; kx < 3; ++kx) {
                        const float *v = x + (((size_t)i * h + 2 * oy + ky) * w + 2 * ox + kx) * ldx;
                        for (int c = 0; c < channels; ++c) y[c] = v[c] > y[c] ? v[c] : y[c];
                    }
            }
}

void cfn_nhwc_global_avgpool(const float *x, int n, int hw, int channels, float *out) {
    for (int i = 0; i < n; ++i) {
        float *y = out + (size_t)i * channels;
        memset(y, 0, sizeof(float) * (size_t)channels);
        for (int p = 0; p < hw; ++p) {
            const float *v = x + ((size_t)i * hw + p) * channels;
            for (int c = 0; c < channels; ++c) y[c] += v[c];
        }
        for (int c = 0; c < channels; ++c) y[c] /= (float)hw;
    }
}
