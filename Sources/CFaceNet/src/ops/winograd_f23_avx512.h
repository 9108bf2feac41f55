/*
 * Internal: Winograd F(2×2, 3×3)'s transforms (winograd_f23.h) on 16 tiles side by side with
 * AVX-512, for FaceNet's convolutions (conv2d_winograd.c) on CPUs that have it. Lane masks take
 * the place of the 8-tile version's staged windows and scalar edges: a group may start left of
 * the plane (padding), end past its right edge or hold fewer than 16 tiles, and reads or writes
 * nothing outside. The arithmetic is the 8-tile version's, operation for operation, so both give
 * the same bits.
 * Include only inside `#if defined(__x86_64__) || defined(__i386__)`.
 */
#ifndef CFN_OPS_WINOGRAD_F23_AVX512_H
#define CFN_OPS_WINOGRAD_F23_AVX512_H

#include "avx2_lanes.h"

#include <stddef.h>

/* Lanes [0, count) set (count clamped to 0 … 16). */
AVX512_INLINE __mmask16 cfn_lanes16(int count) {
    return count <= 0 ? (__mmask16)0 : count >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << count) - 1);
}

/* x[2i] and x[2i + 1] of the 32 floats a ‖ b. */
AVX512_INLINE __m512 cfn_evens16(__m512 a, __m512 b) {
    const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
    return _mm512_permutex2var_ps(a, even, b);
}
AVX512_INLINE __m512 cfn_odds16(__m512 a, __m512 b) {
    const __m512i odd = _mm512_setr_epi32(1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31);
    return _mm512_permutex2var_ps(a, odd, b);
}

/* Bᵀ d B for `tiles` ≤ 16 tiles side by side whose 4 × (2 · tiles + 2) window has its top-left
   corner at row y0, column x0 of an h × w plane (rows rs apart; y0 and x0 may be negative):
   values outside the plane are zeros. Point ξ of the tiles goes to v + ξ·xi_stride, lanes
   [0, tiles) only. */
AVX512_INLINE void cfn_winograd_input16(const float *plane, size_t rs, int h, int w, int y0,
                                        int x0, int tiles, float *v, size_t xi_stride) {
    /* Columns x0 + j, j < 2 · tiles + 2, inside [0, w): three 16-column loads' masks. */
    const int first = x0 < 0 ? -x0 : 0;
    const int last = (w - x0 < 2 * tiles + 2 ? w - x0 : 2 * tiles + 2); /* one past */
    __mmask16 mask[3];
    for (int q = 0; q < 3; ++q)
        mask[q] = (__mmask16)(cfn_lanes16(last - 16 * q) & ~cfn_lanes16(first - 16 * q));
    __m512 d[4][4];
    for (int i = 0; i < 4; ++i) {
        __m512 r0 = _mm512_setzero_ps(), r1 = r0, r2 = r0;
        if (y0 + i >= 0 && y0 + i < h) {
            const float *row = plane + (ptrdiff_t)(y0 + i) * (ptrdiff_t)rs + x0;
            r0 = _mm512_maskz_loadu_ps(mask[0], row);
            r1 = _mm512_maskz_loadu_ps(mask[1], row + 16);
            r2 = _mm512_maskz_loadu_ps(mask[2], row + 32);
        }
        /* Columns 2 … 33: the windows' right halves. */
        const __m512 c = _mm512_castsi512_ps(_mm512_alignr_epi32(_mm512_castps_si512(r1), _mm512_castps_si512(r0), 2));
        const __m512 e = _mm512_castsi512_ps(_mm512_alignr_epi32(_mm512_castps_si512(r2), _mm512_castps_si512(r1), 2));
        d[i][0] = cfn_evens16(r0, r1);
        d[i][1] = cfn_odds16(r0, r1);
        d[i][2] = cfn_evens16(c, e);
        d[i][3] = cfn_odds16(c, e);
    }
    for (int j = 0; j < 4; ++j) {
        const __m512 t0 = _mm512_sub_ps(d[0][j], d[2][j]), t1 = _mm512_add_ps(d[1][j], d[2][j]);
        const __m512 t2 = _mm512_sub_ps(d[2][j], d[1][j]), t3 = _mm512_sub_ps(d[1][j], d[3][j]);
        d[0][j] = t0; d[1][j] = t1; d[2][j] = t2; d[3][j] = t3;
    }
    const __mmask16 out = cfn_lanes16(tiles);
    for (int i = 0; i < 4; ++i) {
        _mm512_mask_storeu_ps(v + (4 * i + 0) * xi_stride, out, _mm512_sub_ps(d[i][0], d[i][2]));
        _mm512_mask_storeu_ps(v + (4 * i + 1) * xi_stride, out, _mm512_add_ps(d[i][1], d[i][2]));
        _mm512_mask_storeu_ps(v + (4 * i + 2) * xi_stride, out, _mm512_sub_ps(d[i][2], d[i][1]));
        _mm512_mask_storeu_ps(v + (4 * i + 3) * xi_stride, out, _mm512_sub_ps(d[i][1], d[i][3]));
    }
}

/* Aᵀ M A for `tiles` ≤ 16 tiles of one output channel (point ξ at m + ξ·xi_stride, lanes past
   `tiles` not read): y[r][s] = the tiles' output (r, s), before bias and activation. */
AVX512_INLINE void cfn_winograd_output16(const float *m, size_t xi_stride, int tiles,
                                         __m512 y[2][2]) {
    const __mmask16 in = cfn_lanes16(tiles);
    __m512 s[2][4];
    for (int j = 0; j < 4; ++j) {
        const __m512 m0 = _mm512_maskz_loadu_ps(in, m + (0 + j) * xi_stride);
        const __m512 m1 = _mm512_maskz_loadu_ps(in, m + (4 + j) * xi_stride);
        const __m512 m2 = _mm512_maskz_loadu_ps(in, m + (8 + j) * xi_stride);
        const __m512 m3 = _mm512_maskz_loadu_ps(in, m + (12 + j) * xi_stride);
        s[0][j] = _mm512_add_ps(_mm512_add_ps(m0, m1), m2);
        s[1][j] = _mm512_sub_ps(_mm512_sub_ps(m1, m2), m3);
    }
    for (int r = 0; r < 2; ++r) {
        y[r][0] = _mm512_add_ps(_mm512_add_ps(s[r][0], s[r][1]), s[r][2]);
        y[r][1] = _mm512_sub_ps(_mm512_sub_ps(s[r][1], s[r][2]), s[r][3]);
    }
}

/* Writes y0 (even columns) and y1 (odd columns) of 16 tiles interleaved, columns [0, cols)
   of the 32 only. */
AVX512_INLINE void cfn_winograd_store_interleaved16(float *dst, __m512 y0, __m512 y1, int cols) {
    const __m512i lo = _mm512_setr_epi32(0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
    const __m512i hi = _mm512_setr_epi32(8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31);
    _mm512_mask_storeu_ps(dst, cfn_lanes16(cols), _mm512_permutex2var_ps(y0, lo, y1));
    _mm512_mask_storeu_ps(dst + 16, cfn_lanes16(cols - 16), _mm512_permutex2var_ps(y0, hi, y1));
}

#endif
