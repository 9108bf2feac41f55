/* Softmax across channels (nn.Softmax(dim=1)) for channel-major activations. */
#include "../testing.h"
#include "expf.h"
#include "ops.h"

void cfn_softmax_rows(float *x, int rows, int cols, int ld) {
    for (int j = 0; j < cols; ++j) {
        float best = x[j];
        for (int r = 1; r < rows; ++r) {
            const float v = x[(size_t)r * ld + j];
            if (v > best) best = v;
        }
        /* Subtracting the maximum keeps exp() finite, as PyTorch does. */
        float sum = 0.0f;
        for (int r = 0; r < rows; ++r) {
            float *v = &x[(size_t)r * ld + j];
            /* exp(0) is exactly 1: the maximum's own term (one of P-Net's two, per cell)
               needs no call. NaN and ∞ − ∞ still go through the exp. cfn_expf (expf.h), not
               libm's: the same bits as P-Net's vector head on every platform. */
            const float d = *v - best;
            *v = d == 0.0f ? 1.0f : cfn_expf(d);
            sum += *v;
        }
        for (int r = 0; r < rows; ++r) x[(size_t)r * ld + j] /= sum;
    }
}
