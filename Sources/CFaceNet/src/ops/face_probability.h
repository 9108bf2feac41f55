/*
 * Internal: P-Net's face probability in vector form, shared by its fused head (pnet_head.c) and
 * the F(4×4) convolution that ends in that head (conv_winograd43.c). Include only inside
 * `#if defined(__x86_64__) || defined(__i386__)`.
 */
#ifndef CFN_OPS_FACE_PROBABILITY_H
#define CFN_OPS_FACE_PROBABILITY_H

#include <math.h>

#include "avx2_lanes.h"

/* The face probability of 16 cells from their two logits x0, x1, bit for bit what
   cfn_softmax_rows leaves in its second row, without its per-cell branches (which of the two
   logits is larger is a coin toss from cell to cell, and the mispredictions made the softmax
   3.4 % of the portrait's time against 2 % for the head's 1×1 convolution). As there: the larger
   logit hi (x0 on a tie) contributes exp(hi − hi) = 1 (NaN for an infinite or NaN hi), the other
   expf(lo − hi), the sum is e0 + e1 and the face row e1 / (e0 + e1). */
AVX2_INLINE void cfn_face_probability16(const float *x0, const float *x1, int n, float *prob) {
    float d[16], p[16];
    __m256 gt[2], eh[2];
    for (int h = 0; h < 2; ++h) {
        const __m256 a = _mm256_loadu_ps(x0 + 8 * h), b = _mm256_loadu_ps(x1 + 8 * h);
        gt[h] = _mm256_cmp_ps(b, a, _CMP_GT_OQ); /* x1 is the larger: the maximum's update */
        const __m256 hi = _mm256_blendv_ps(a, b, gt[h]), lo = _mm256_blendv_ps(b, a, gt[h]);
        const __m256 dh = _mm256_sub_ps(hi, hi);
        eh[h] = _mm256_blendv_ps(_mm256_set1_ps(1.0f), dh, _mm256_cmp_ps(dh, dh, _CMP_UNORD_Q));
        _mm256_storeu_ps(d + 8 * h, _mm256_sub_ps(lo, hi));
    }
    for (int k = 0; k < n; ++k) d[k] = d[k] == 0.0f ? 1.0f : expf(d[k]);
    for (int h = 0; h < 2; ++h) {
        const __m256 el = _mm256_loadu_ps(d + 8 * h);
        const __m256 e0 = _mm256_blendv_ps(eh[h], el, gt[h]), e1 = _mm256_blendv_ps(el, eh[h], gt[h]);
        /* 16 cells straight to `prob`; fewer through p (a copy loop of variable length is a
           call to memmove). */
        _mm256_storeu_ps((n == 16 ? prob : p) + 8 * h, _mm256_div_ps(e1, _mm256_add_ps(e0, e1)));
    }
    if (n < 16)
        for (int k = 0; k < n; ++k) prob[k] = p[k];
}

#endif
