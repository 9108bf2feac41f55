/* The plain C int8 micro-tile: the definition the SIMD kernels are checked against, and the
   fallback on CPUs without AVX2. */
#include "qgemm.h"

void cfn_q_tile_reference(const int8_t *a, int panels, int depth4,
                          const uint8_t *const cols[CFN_Q_COLUMNS], int32_t *acc) {
    const size_t panel_bytes = (size_t)depth4 * CFN_Q_PANEL;
    for (int c = 0; c < CFN_Q_COLUMNS; ++c) {
        for (int r = 0; r < panels * CFN_Q_PANEL; ++r) {
            const int8_t *w = a + (size_t)(r / CFN_Q_PANEL) * panel_bytes + (r % CFN_Q_PANEL) * 4;
            const uint8_t *x = cols[c];
            int32_t sum = 0;
            for (int g = 0; g < depth4 / 4; ++g, w += 4 * CFN_Q_PANEL, x += 4)
                for (int t = 0; t < 4; ++t) sum += (int32_t)w[t] * (int32_t)x[t];
            acc[c * 2 * CFN_Q_PANEL + r] = sum;
        }
    }
}

void cfn_q_pack_weights(const int8_t *w, int rows, int depth, int8_t *packed) {
    const int depth4 = cfn_q_depth4(depth);
    for (int p = 0; p < rows / CFN_Q_PANEL; ++p)
        for (int g = 0; g < depth4 / 4; ++g)
            for (int r = 0; r < CFN_Q_PANEL; ++r)
                for (int t = 0; t < 4; ++t) {
                    const int k = 4 * g + t, row = p * CFN_Q_PANEL + r;
                    *packed++ = k < depth ? w[(size_t)row * depth + k] : 0;
                }
}
