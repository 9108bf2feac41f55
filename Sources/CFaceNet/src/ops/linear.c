/* Fully connected layer on feature-major activations (features × batch, i.e. CNHW with H=W=1). */
#include "../testing.h"
#include "ops.h"

void cfn_linear_forward(const float *weight, const float *bias, int out_features,
                        int in_features, const float *in, int n, float *out) {
    cfn_gemm(out_features, n, in_features, 1.0f, weight, in, n, 0.0f, out, n);
    cfn_bias_activation(out, out_features, n, n, bias, CFN_ACTIVATION_NONE);
}

void cfn_linear_permute_hwc_weight(const float *weight, int out_features, int c, int h, int w,
                                   float *out) {
    const size_t k = (size_t)c * h * w;
    for (int o = 0; o < out_features; ++o) {
        const float *src = weight + (size_t)o * k;
        float *dst = out + (size_t)o * k;
        for (int ch = 0; ch < c; ++ch)
            for (int y = 0; y < h; ++y)
                for (int x = 0; x < w; ++x)
                    /* PyTorch feature index after permute(0, 3, 2, 1): (x, y, ch). */
                    dst[((size_t)ch * h + y) * w + x] = src[((size_t)x * h + y) * c + ch];
    }
}
