/* PReLU with one slope per channel (nn.PReLU(num_parameters=C)). */
#include "../testing.h"
#include "ops.h"

void cfn_prelu(float *x, int rows, int cols, int ld, const float *slope) {
    for (int r = 0; r < rows; ++r) {
        float *row = x + (size_t)r * ld;
        const float a = slope[r];
        /* PyTorch: x > 0 ? x : a·x (so −0 and NaN take the slope branch). */
        for (int j = 0; j < cols; ++j) {
            const float v = row[j];
            row[j] = v > 0.0f ? v : a * v;
        }
    }
}

void cfn_bias_prelu(float *x, int rows, int cols, int ld, const float *bias, const float *slope) {
    for (int r = 0; r < rows; ++r) {
        float *row = x + (size_t)r * ld;
        const float b = bias[r], a = slope[r];
        /* Same float ops as Conv2d's bias add followed by PReLU, in one pass over memory. */
        for (int j = 0; j < cols; ++j) {
            const float v = row[j] + b;
            row[j] = v > 0.0f ? v : a * v;
        }
    }
}
