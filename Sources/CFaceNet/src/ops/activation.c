#include "ops.h"

void cfn_bias_activation(float *x, int rows, int cols, int ld, const float *bias,
                         cfn_activation act) {
    if (!bias && act == CFN_ACTIVATION_NONE) return;
    for (int r = 0; r < rows; ++r) {
        float *row = x + (size_t)r * ld;
        const float b = bias ? bias[r] : 0.0f;
        if (act == CFN_ACTIVATION_RELU) {
            for (int j = 0; j < cols; ++j) {
                const float v = row[j] + b;
                row[j] = v > 0.0f ? v : 0.0f;
            }
        } else {
            for (int j = 0; j < cols; ++j) row[j] += b;
        }
    }
}
