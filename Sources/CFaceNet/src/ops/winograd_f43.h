/*
 * Internal: the transforms of Winograd's F(4×4, 3×3) on 8 tiles side by side, for the MTCNN
 * kernel (conv_winograd.c, flat layout). For a tile's 6×6 input window d and a 3×3 filter g,
 * Y = Aᵀ [ (G g Gᵀ) ⊙ (Bᵀ d B) ] A with Lavin & Gray's (2016) matrices for the points
 * 0, ±1, ±2, ∞:
 *     Bᵀ = [4 0 −5 0 1 0; 0 −4 −4 1 1 0; 0 4 −4 −1 1 0; 0 −2 −1 2 1 0; 0 2 −1 −2 1 0; 0 4 0 −5 0 1]
 *     Aᵀ = [1 1 1 1 1 0; 0 1 −1 2 −2 0; 0 1 1 4 4 0; 0 1 −1 8 −8 1]
 * 36 multiplications per 16 outputs and input channel, against F(2×2)'s 16 per 4 (64 per 16).
 * A tile's 36 transform-domain points ξ = 6i + j lie `xi_stride` floats apart.
 * Include only inside `#if defined(__x86_64__) || defined(__i386__)`.
 */
#ifndef CFN_OPS_WINOGRAD_F43_H
#define CFN_OPS_WINOGRAD_F43_H

#include "avx2_lanes.h"

#include <stddef.h>
#include <string.h>

/* Columns 4t + j (t = 0…7) of the 34 floats at p, for j = 0…5: a 4-way deinterleave of
   p[0, 32) (two 128-bit lane swaps and a 4×4 transpose inside each lane), then columns
   4t + 4 and 4t + 5 as columns 4t and 4t + 1 moved one tile on, with p[32] and p[33] last. */
AVX2_INLINE void cfn_f43_columns8(const float *p, __m256 c[6]) {
    const __m256 a0 = _mm256_loadu_ps(p), a1 = _mm256_loadu_ps(p + 8);
    const __m256 a2 = _mm256_loadu_ps(p + 16), a3 = _mm256_loadu_ps(p + 24);
    const __m256 b0 = _mm256_permute2f128_ps(a0, a2, 0x20), b1 = _mm256_permute2f128_ps(a0, a2, 0x31);
    const __m256 b2 = _mm256_permute2f128_ps(a1, a3, 0x20), b3 = _mm256_permute2f128_ps(a1, a3, 0x31);
    const __m256 t0 = _mm256_unpacklo_ps(b0, b1), t1 = _mm256_unpackhi_ps(b0, b1);
    const __m256 t2 = _mm256_unpacklo_ps(b2, b3), t3 = _mm256_unpackhi_ps(b2, b3);
    c[0] = _mm256_shuffle_ps(t0, t2, _MM_SHUFFLE(1, 0, 1, 0));
    c[1] = _mm256_shuffle_ps(t0, t2, _MM_SHUFFLE(3, 2, 3, 2));
    c[2] = _mm256_shuffle_ps(t1, t3, _MM_SHUFFLE(1, 0, 1, 0));
    c[3] = _mm256_shuffle_ps(t1, t3, _MM_SHUFFLE(3, 2, 3, 2));
    const __m256i next = _mm256_setr_epi32(1, 2, 3, 4, 5, 6, 7, 0);
    c[4] = _mm256_blend_ps(_mm256_permutevar8x32_ps(c[0], next), _mm256_broadcast_ss(p + 32), 0x80);
    c[5] = _mm256_blend_ps(_mm256_permutevar8x32_ps(c[1], next), _mm256_broadcast_ss(p + 33), 0x80);
}

/* r = Bᵀ d for six vectors d[0…5] (either direction of the separable transform). */
AVX2_INLINE void cfn_f43_bt(const __m256 d[6], __m256 r[6]) {
    const __m256 four = _mm256_set1_ps(4.0f), five = _mm256_set1_ps(5.0f);
    const __m256 two = _mm256_set1_ps(2.0f);
    const __m256 p = _mm256_fnmadd_ps(four, d[2], d[4]); /* d4 − 4 d2 */
    const __m256 q = _mm256_fnmadd_ps(four, d[1], d[3]); /* d3 − 4 d1 */
    const __m256 s = _mm256_sub_ps(d[4], d[2]);
    const __m256 t = _mm256_mul_ps(two, _mm256_sub_ps(d[3], d[1]));
    r[0] = _mm256_fmadd_ps(four, d[0], _mm256_fnmadd_ps(five, d[2], d[4]));
    r[1] = _mm256_add_ps(p, q);
    r[2] = _mm256_sub_ps(p, q);
    r[3] = _mm256_add_ps(s, t);
    r[4] = _mm256_sub_ps(s, t);
    r[5] = _mm256_fmadd_ps(four, d[1], _mm256_fnmadd_ps(five, d[3], d[5]));
}

/* Bᵀ d B for 8 tiles side by side: `rows` points at their 6 × 34 input window, rows `rs`
   apart; point ξ of the 8 tiles goes to v + ξ·xi_stride. */
AVX2_INLINE void cfn_f43_input8(const float *rows, size_t rs, float *v, size_t xi_stride) {
    __m256 h[6][6]; /* h[i][j]: row i of the window, transformed along the row */
    for (int i = 0; i < 6; ++i) {
        __m256 c[6];
        cfn_f43_columns8(rows + (size_t)i * rs, c);
        cfn_f43_bt(c, h[i]);
    }
    for (int j = 0; j < 6; ++j) {
        const __m256 d[6] = {h[0][j], h[1][j], h[2][j], h[3][j], h[4][j], h[5][j]};
        __m256 r[6];
        cfn_f43_bt(d, r);
        for (int i = 0; i < 6; ++i) _mm256_storeu_ps(v + (size_t)(6 * i + j) * xi_stride, r[i]);
    }
}

/* The same for `tiles` ≤ 8 tiles whose window (top-left at row y0, column x0, either may be
   negative) leaves the plane: staged with zeros outside rows [0, h) and columns [0, w), so
   nothing outside the plane is read (and no value there, e.g. a NaN in a flat layout's
   garbage column, reaches a valid output). */
AVX2_INLINE void cfn_f43_input8_edge(const float *plane, size_t rs, int h, int w, int y0, int x0,
                                     int tiles, float *v, size_t xi_stride) {
    float window[6][40];
    memset(window, 0, sizeof window);
    const int c0 = x0 < 0 ? -x0 : 0;
    const int c1 = w - x0 < 4 * tiles + 2 ? w - x0 : 4 * tiles + 2;
    for (int i = 0; i < 6; ++i)
        if (y0 + i >= 0 && y0 + i < h && c1 > c0)
            memcpy(&window[i][c0], plane + (ptrdiff_t)(y0 + i) * (ptrdiff_t)rs + x0 + c0,
                   sizeof(float) * (size_t)(c1 - c0));
    cfn_f43_input8(&window[0][0], 40, v, xi_stride);
}

/* r = Aᵀ m for six vectors m[0…5]. */
AVX2_INLINE void cfn_f43_at(const __m256 m[6], __m256 r[4]) {
    const __m256 a = _mm256_add_ps(m[1], m[2]), b = _mm256_sub_ps(m[1], m[2]);
    const __m256 c = _mm256_add_ps(m[3], m[4]), d = _mm256_sub_ps(m[3], m[4]);
    r[0] = _mm256_add_ps(_mm256_add_ps(m[0], a), c);
    r[1] = _mm256_fmadd_ps(_mm256_set1_ps(2.0f), d, b);
    r[2] = _mm256_fmadd_ps(_mm256_set1_ps(4.0f), c, a);
    r[3] = _mm256_add_ps(_mm256_fmadd_ps(_mm256_set1_ps(8.0f), d, b), m[5]);
}

/* Aᵀ M A for 8 tiles of one output channel (point ξ at m + ξ·xi_stride): y[r][s] = the tiles'
   output (r, s), before bias and activation. */
AVX2_INLINE void cfn_f43_output8(const float *m, size_t xi_stride, __m256 y[4][4]) {
    __m256 s[4][6]; /* s[r][j]: column j of the tiles' M, transformed down the column */
    for (int j = 0; j < 6; ++j) {
        __m256 col[6], r[4];
        for (int i = 0; i < 6; ++i) col[i] = _mm256_loadu_ps(m + (size_t)(6 * i + j) * xi_stride);
        cfn_f43_at(col, r);
        for (int k = 0; k < 4; ++k) s[k][j] = r[k];
    }
    for (int k = 0; k < 4; ++k) cfn_f43_at(s[k], y[k]);
}

/* Writes y[0…3] (columns 4t + c of 8 tiles) interleaved: 32 floats, the inverse of
   cfn_f43_columns8's deinterleave. */
AVX2_INLINE void cfn_f43_store_interleaved(float *dst, const __m256 y[4]) {
    const __m256 u0 = _mm256_unpacklo_ps(y[0], y[1]), u1 = _mm256_unpackhi_ps(y[0], y[1]);
    const __m256 u2 = _mm256_unpacklo_ps(y[2], y[3]), u3 = _mm256_unpackhi_ps(y[2], y[3]);
    const __m256 e0 = _mm256_shuffle_ps(u0, u2, _MM_SHUFFLE(1, 0, 1, 0));
    const __m256 e1 = _mm256_shuffle_ps(u0, u2, _MM_SHUFFLE(3, 2, 3, 2));
    const __m256 e2 = _mm256_shuffle_ps(u1, u3, _MM_SHUFFLE(1, 0, 1, 0));
    const __m256 e3 = _mm256_shuffle_ps(u1, u3, _MM_SHUFFLE(3, 2, 3, 2));
    _mm256_storeu_ps(dst, _mm256_permute2f128_ps(e0, e1, 0x20));
    _mm256_storeu_ps(dst + 8, _mm256_permute2f128_ps(e2, e3, 0x20));
    _mm256_storeu_ps(dst + 16, _mm256_permute2f128_ps(e0, e1, 0x31));
    _mm256_storeu_ps(dst + 24, _mm256_permute2f128_ps(e2, e3, 0x31));
}

#endif
