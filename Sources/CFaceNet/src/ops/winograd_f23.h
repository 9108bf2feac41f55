/*
 * Internal: the transforms of Winograd's F(2×2, 3×3) on 8 tiles side by side, shared by the
 * MTCNN kernel (conv_winograd.c: flat layout, its own GEMM) and FaceNet's padded convolutions
 * (conv2d_winograd.c: CNHW layout, OpenBLAS GEMMs). For a tile's 4×4 input window d and a 3×3
 * filter g, Y = Aᵀ [ (G g Gᵀ) ⊙ (Bᵀ d B) ] A (Lavin & Gray 2016); the transforms only add and
 * subtract. A tile's 16 transform-domain points ξ = 4i + j lie `xi_stride` floats apart.
 * Include only inside `#if defined(__x86_64__) || defined(__i386__)`.
 */
#ifndef CFN_OPS_WINOGRAD_F23_H
#define CFN_OPS_WINOGRAD_F23_H

#include "avx2_lanes.h"

#include <stddef.h>
#include <string.h>

/* Bᵀ d B for 8 tiles side by side: `rows` points at their 4 × 18 input window, rows `rs`
   apart; point ξ of the 8 tiles goes to v + ξ·xi_stride. */
AVX2_INLINE void cfn_winograd_input8(const float *rows, size_t rs, float *v, size_t xi_stride) {
    __m256 d[4][4];
    for (int i = 0; i < 4; ++i) {
        const float *row = rows + (size_t)i * rs;
        const __m256 a = _mm256_loadu_ps(row), b = _mm256_loadu_ps(row + 8);
        const __m256 c = _mm256_loadu_ps(row + 2), e = _mm256_loadu_ps(row + 10);
        d[i][0] = cfn_evens8(a, b);
        d[i][1] = cfn_odds8(a, b);
        d[i][2] = cfn_evens8(c, e);
        d[i][3] = cfn_odds8(c, e);
    }
    for (int j = 0; j < 4; ++j) {
        const __m256 t0 = _mm256_sub_ps(d[0][j], d[2][j]), t1 = _mm256_add_ps(d[1][j], d[2][j]);
        const __m256 t2 = _mm256_sub_ps(d[2][j], d[1][j]), t3 = _mm256_sub_ps(d[1][j], d[3][j]);
        d[0][j] = t0; d[1][j] = t1; d[2][j] = t2; d[3][j] = t3;
    }
    for (int i = 0; i < 4; ++i) {
        _mm256_storeu_ps(v + (4 * i + 0) * xi_stride, _mm256_sub_ps(d[i][0], d[i][2]));
        _mm256_storeu_ps(v + (4 * i + 1) * xi_stride, _mm256_add_ps(d[i][1], d[i][2]));
        _mm256_storeu_ps(v + (4 * i + 2) * xi_stride, _mm256_sub_ps(d[i][2], d[i][1]));
        _mm256_storeu_ps(v + (4 * i + 3) * xi_stride, _mm256_sub_ps(d[i][1], d[i][3]));
    }
}

/* The same for `tiles` ≤ 8 tiles whose window (top-left at row y0, column x0, either may be
   negative) leaves the plane: it is staged with zeros outside rows [0, h) and columns [0, w),
   so nothing outside the plane is read (and no value there, e.g. a NaN in a flat layout's
   garbage column, reaches a valid output). */
AVX2_INLINE void cfn_winograd_input8_edge(const float *plane, size_t rs, int h, int w, int y0,
                                          int x0, int tiles, float *v, size_t xi_stride) {
    float window[4][24];
    memset(window, 0, sizeof window);
    const int c0 = x0 < 0 ? -x0 : 0;
    const int c1 = w - x0 < 2 * tiles + 2 ? w - x0 : 2 * tiles + 2;
    for (int i = 0; i < 4; ++i)
        if (y0 + i >= 0 && y0 + i < h && c1 > c0)
            memcpy(&window[i][c0], plane + (ptrdiff_t)(y0 + i) * (ptrdiff_t)rs + x0 + c0,
                   sizeof(float) * (size_t)(c1 - c0));
    cfn_winograd_input8(&window[0][0], 24, v, xi_stride);
}

/* Aᵀ M A for 8 tiles of one output channel (point ξ at m + ξ·xi_stride): y[r][s] = the tiles'
   output (r, s), before bias and activation. */
AVX2_INLINE void cfn_winograd_output8(const float *m, size_t xi_stride, __m256 y[2][2]) {
    __m256 s[2][4];
    for (int j = 0; j < 4; ++j) {
        const __m256 m0 = _mm256_loadu_ps(m + (0 + j) * xi_stride);
        const __m256 m1 = _mm256_loadu_ps(m + (4 + j) * xi_stride);
        const __m256 m2 = _mm256_loadu_ps(m + (8 + j) * xi_stride);
        const __m256 m3 = _mm256_loadu_ps(m + (12 + j) * xi_stride);
        s[0][j] = _mm256_add_ps(_mm256_add_ps(m0, m1), m2);
        s[1][j] = _mm256_sub_ps(_mm256_sub_ps(m1, m2), m3);
    }
    for (int r = 0; r < 2; ++r) {
        y[r][0] = _mm256_add_ps(_mm256_add_ps(s[r][0], s[r][1]), s[r][2]);
        y[r][1] = _mm256_sub_ps(_mm256_sub_ps(s[r][1], s[r][2]), s[r][3]);
    }
}

/* Writes y0 (even columns) and y1 (odd columns) of 8 tiles interleaved: 16 floats. */
AVX2_INLINE void cfn_winograd_store_interleaved(float *dst, __m256 y0, __m256 y1) {
    const __m256 lo = _mm256_unpacklo_ps(y0, y1), hi = _mm256_unpackhi_ps(y0, y1);
    _mm256_storeu_ps(dst, _mm256_permute2f128_ps(lo, hi, 0x20));
    _mm256_storeu_ps(dst + 8, _mm256_permute2f128_ps(lo, hi, 0x31));
}

#endif
