/* Flatten: CNHW activations to a feature-major matrix whose rows are (channel, y, x). */
#include "../testing.h"
#include "ops.h"

#include <string.h>

void cfn_flatten_cnhw(const float *in, int c, int n, int hw, float *out) {
    for (int ch = 0; ch < c; ++ch)
        for (int i = 0; i < n; ++i) {
            const float *src = in + ((size_t)ch * n + i) * hw;
            for (int p = 0; p < hw; ++p) out[((size_t)ch * hw + p) * n + i] = src[p];
        }
}
