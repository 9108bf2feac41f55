/*
 * The AVX2 int8 micro-tile: vpmaddubsw multiplies 32 u8 activations by 32 s8 weights and adds
 * neighbouring pairs into int16 (never saturating: weights are 7-bit, qgemm.h), vpmaddwd by
 * ones adds those pairs into the int32 sums of 8 rows. A panel's 16 rows are two ymm of weights;
 * four columns at a time keep 8 accumulators in registers.
 */
#include "qgemm.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>

#define AVX2 __attribute__((target("avx2,fma")))

AVX2 void cfn_q_tile_avx2(const int8_t *a, int panels, int depth4,
                          const uint8_t *const cols[CFN_Q_COLUMNS], int32_t *acc) {
    const __m256i ones = _mm256_set1_epi16(1);
    const size_t panel_bytes = (size_t)depth4 * CFN_Q_PANEL;
    for (int p = 0; p < panels; ++p) {
        const int8_t *panel = a + p * panel_bytes;
        for (int c0 = 0; c0 < CFN_Q_COLUMNS; c0 += 4) {
            __m256i s[4][2];
            for (int c = 0; c < 4; ++c) s[c][0] = s[c][1] = _mm256_setzero_si256();
            const uint8_t *x0 = cols[c0], *x1 = cols[c0 + 1], *x2 = cols[c0 + 2], *x3 = cols[c0 + 3];
            const int8_t *w = panel;
            for (int k = 0; k < depth4; k += 4, w += 4 * CFN_Q_PANEL) {
                const __m256i lo = _mm256_load_si256((const __m256i *)w);
                const __m256i hi = _mm256_load_si256((const __m256i *)(w + 32));
                int32_t v0, v1, v2, v3;
                __builtin_memcpy(&v0, x0 + k, 4);
                __builtin_memcpy(&v1, x1 + k, 4);
                __builtin_memcpy(&v2, x2 + k, 4);
                __builtin_memcpy(&v3, x3 + k, 4);
                const __m256i b0 = _mm256_set1_epi32(v0), b1 = _mm256_set1_epi32(v1);
                const __m256i b2 = _mm256_set1_epi32(v2), b3 = _mm256_set1_epi32(v3);
#define STEP(c, b)                                                                              \
    s[c][0] = _mm256_add_epi32(s[c][0], _mm256_madd_epi16(_mm256_maddubs_epi16(b, lo), ones));  \
    s[c][1] = _mm256_add_epi32(s[c][1], _mm256_madd_epi16(_mm256_maddubs_epi16(b, hi), ones))
                STEP(0, b0);
                STEP(1, b1);
                STEP(2, b2);
                STEP(3, b3);
#undef STEP
            }
            for (int c = 0; c < 4; ++c) {
                int32_t *out = acc + (size_t)(c0 + c) * 2 * CFN_Q_PANEL + p * CFN_Q_PANEL;
                _mm256_storeu_si256((__m256i *)out, s[c][0]);
                _mm256_storeu_si256((__m256i *)(out + 8), s[c][1]);
            }
        }
    }
}
#else
void cfn_q_tile_avx2(const int8_t *a, int panels, int depth4,
                     const uint8_t *const cols[CFN_Q_COLUMNS], int32_t *acc) {
    cfn_q_tile_reference(a, panels, depth4, cols, acc);
}
#endif
