#include "ops.h"

#include <string.h>

void cfn_nchw_to_cnhw(const float *in, int n, int c, int hw, float *out) {
    for (int i = 0; i < n; ++i)
        for (int ch = 0; ch < c; ++ch)
            memcpy(out + ((size_t)ch * n + i) * hw, in + ((size_t)i * c + ch) * hw,
                   sizeof(float) * (size_t)hw);
}

void cfn_cnhw_to_nchw(const float *in, int c, int n, int hw, float *out) {
    for (int i = 0; i < n; ++i)
        for (int ch = 0; ch < c; ++ch)
            memcpy(out + ((size_t)i * c + ch) * hw, in + ((size_t)ch * n + i) * hw,
                   sizeof(float) * (size_t)hw);
}
