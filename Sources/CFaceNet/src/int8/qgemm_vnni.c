/*
 * The AVX-512 VNNI int8 micro-tile: vpdpbusd adds four u8 × s8 products into each of 16 int32
 * lanes in one instruction (no intermediate saturation). Two 16-row panels × 8 columns keep 16
 * accumulators in zmm registers; each column's 4 activation bytes are broadcast from memory.
 */
#include "qgemm.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>

#define VNNI __attribute__((target("avx2,fma,avx512f,avx512bw,avx512vnni")))

VNNI static void tile_two_panels(const int8_t *a, int depth4,
                                 const uint8_t *const cols[CFN_Q_COLUMNS], int32_t *acc) {
    const size_t panel_bytes = (size_t)depth4 * CFN_Q_PANEL;
    __m512i s0[CFN_Q_COLUMNS], s1[CFN_Q_COLUMNS];
    for (int c = 0; c < CFN_Q_COLUMNS; ++c) s0[c] = s1[c] = _mm512_setzero_si512();
    const int8_t *w0 = a, *w1 = a + panel_bytes;
    for (int k = 0; k < depth4; k += 4, w0 += 64, w1 += 64) {
        const __m512i p0 = _mm512_load_si512(w0), p1 = _mm512_load_si512(w1);
        for (int c = 0; c < CFN_Q_COLUMNS; ++c) {
            int32_t v;
            __builtin_memcpy(&v, cols[c] + k, 4);
            const __m512i b = _mm512_set1_epi32(v);
            s0[c] = _mm512_dpbusd_epi32(s0[c], b, p0);
            s1[c] = _mm512_dpbusd_epi32(s1[c], b, p1);
        }
    }
    for (int c = 0; c < CFN_Q_COLUMNS; ++c) {
        _mm512_storeu_si512(acc + c * 2 * CFN_Q_PANEL, s0[c]);
        _mm512_storeu_si512(acc + c * 2 * CFN_Q_PANEL + CFN_Q_PANEL, s1[c]);
    }
}

VNNI static void tile_one_panel(const int8_t *a, int depth4,
                                const uint8_t *const cols[CFN_Q_COLUMNS], int32_t *acc) {
    __m512i s0[CFN_Q_COLUMNS];
    for (int c = 0; c < CFN_Q_COLUMNS; ++c) s0[c] = _mm512_setzero_si512();
    const int8_t *w0 = a;
    for (int k = 0; k < depth4; k += 4, w0 += 64) {
        const __m512i p0 = _mm512_load_si512(w0);
        for (int c = 0; c < CFN_Q_COLUMNS; ++c) {
            int32_t v;
            __builtin_memcpy(&v, cols[c] + k, 4);
            s0[c] = _mm512_dpbusd_epi32(s0[c], _mm512_set1_epi32(v), p0);
        }
    }
    for (int c = 0; c < CFN_Q_COLUMNS; ++c) _mm512_storeu_si512(acc + c * 2 * CFN_Q_PANEL, s0[c]);
}

void cfn_q_tile_vnni(const int8_t *a, int panels, int depth4,
                     const uint8_t *const cols[CFN_Q_COLUMNS], int32_t *acc) {
    if (panels == 2) tile_two_panels(a, depth4, cols, acc);
    else tile_one_panel(a, depth4, cols, acc);
}
#else
void cfn_q_tile_vnni(const int8_t *a, int panels, int depth4,
                     const uint8_t *const cols[CFN_Q_COLUMNS], int32_t *acc) {
    cfn_q_tile_reference(a, panels, depth4, cols, acc);
}
#endif
