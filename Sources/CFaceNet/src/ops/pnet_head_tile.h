/*
 * Internal: one tile of P-Net's head (the 1×1 convolution to 6 channels, the two-logit softmax,
 * the regressions) in vector form, shared by its fused head over conv3's stored output
 * (pnet_head.c) and the F(4×4) convolution that runs the head on its outputs in L1
 * (conv_winograd43.c). Include only inside `#if defined(__x86_64__) || defined(__i386__)`.
 */
#ifndef CFN_OPS_PNET_HEAD_TILE_H
#define CFN_OPS_PNET_HEAD_TILE_H

#include <math.h>
#include <stddef.h>

#include "avx2_lanes.h"
#include "expf.h"
#include "ops.h"

/* The face probability of 16 cells from their two logits x0, x1, bit for bit what
   cfn_softmax_rows leaves in its second row, without its per-cell branches (which of the two
   logits is larger is a coin toss from cell to cell, and the mispredictions made the softmax
   3.4 % of the portrait's time against 2 % for the head's 1×1 convolution). As there: the larger
   logit hi (x0 on a tie) contributes exp(hi − hi) = 1 (NaN for an infinite or NaN hi), the other
   cfn_expf(lo − hi) (expf.h: here in vector form, the same bits), the sum is e0 + e1 and the
   face row e1 / (e0 + e1). */
AVX2_INLINE void cfn_face_probability16(const float *x0, const float *x1, int n, float *prob) {
    float p[16];
    for (int h = 0; h < 2; ++h) {
        const __m256 a = _mm256_loadu_ps(x0 + 8 * h), b = _mm256_loadu_ps(x1 + 8 * h);
        const __m256 gt = _mm256_cmp_ps(b, a, _CMP_GT_OQ); /* x1 is the larger: the maximum's update */
        const __m256 hi = _mm256_blendv_ps(a, b, gt), lo = _mm256_blendv_ps(b, a, gt);
        const __m256 dh = _mm256_sub_ps(hi, hi);
        const __m256 eh = _mm256_blendv_ps(_mm256_set1_ps(1.0f), dh, _mm256_cmp_ps(dh, dh, _CMP_UNORD_Q));
        const __m256 el = cfn_expf8_avx2(_mm256_sub_ps(lo, hi));
        const __m256 e0 = _mm256_blendv_ps(eh, el, gt), e1 = _mm256_blendv_ps(el, eh, gt);
        /* 16 cells straight to `prob`; fewer through p (a copy loop of variable length is a
           call to memmove). */
        _mm256_storeu_ps((n == 16 ? prob : p) + 8 * h, _mm256_div_ps(e1, _mm256_add_ps(e0, e1)));
    }
    if (n < 16)
        for (int k = 0; k < n; ++k) prob[k] = p[k];
}

/* Floats ahead (4 tiles) that each of the 32 input planes asks the cache for: the tile reads
   32 planes in step, a band's 2 MB of them from L3, and the hardware prefetcher does not follow
   that many streams. Without the hint the head took 10 % of P-Net's time, with it 3 % (perf,
   portrait pyramid). */
#define HEAD_PREFETCH_FLOATS 64

/* 6 channels × 16 positions from `in` (input channel c at in + c·in_plane), the first `n` ≤ 16
   of them valid (the loads past them are masked: they may lie past the last input plane): the
   face probability to prob[0, n) and regression j to reg[j·reg_plane + (0, n)]. */
AVX2_INLINE void cfn_pnet_head_tile(const cfn_flat_conv *head, const float *in, size_t in_plane, int n,
                           float *prob, float *reg, size_t reg_plane) {
    const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    const __m256i m0 = _mm256_cmpgt_epi32(_mm256_set1_epi32(n), lane);
    const __m256i m1 = _mm256_cmpgt_epi32(_mm256_set1_epi32(n - 8), lane);
    const int cin = head->in_channels;
    const float *wa = head->weight, *wb = head->weight + (size_t)cin * CFN_FLAT_CONV_BLOCK;
    __m256 acc[8], e0 = _mm256_setzero_ps(), e1 = e0, f0 = e0, f1 = e0; /* channels 0-3, 4, 5 */
    for (int i = 0; i < 8; ++i) acc[i] = _mm256_setzero_ps();
    for (int c = 0; c < cin; ++c, wa += CFN_FLAT_CONV_BLOCK, wb += CFN_FLAT_CONV_BLOCK) {
        const float *x = in + (size_t)c * in_plane;
        _mm_prefetch((const char *)(x + HEAD_PREFETCH_FLOATS), _MM_HINT_T0);
        const __m256 x0 = n >= 8 ? _mm256_loadu_ps(x) : _mm256_maskload_ps(x, m0);
        const __m256 x1 = n >= 16 ? _mm256_loadu_ps(x + 8) : _mm256_maskload_ps(x + 8, m1);
        cfn_fma4x16(wa, x0, x1, acc);
        __m256 w = _mm256_broadcast_ss(wb);
        e0 = _mm256_fmadd_ps(w, x0, e0); e1 = _mm256_fmadd_ps(w, x1, e1);
        w = _mm256_broadcast_ss(wb + 1);
        f0 = _mm256_fmadd_ps(w, x0, f0); f1 = _mm256_fmadd_ps(w, x1, f1);
    }
    const float *bias = head->bias;
    float out[6][16];
    const __m256 sums[6][2] = {{acc[0], acc[1]}, {acc[2], acc[3]}, {acc[4], acc[5]},
                               {acc[6], acc[7]}, {e0, e1},         {f0, f1}};
    for (int o = 0; o < 6; ++o) {
        const __m256 b = _mm256_set1_ps(bias[o]);
        _mm256_storeu_ps(out[o], _mm256_add_ps(sums[o][0], b));
        _mm256_storeu_ps(out[o] + 8, _mm256_add_ps(sums[o][1], b));
    }
    cfn_face_probability16(out[0], out[1], n, prob);
    for (int j = 0; j < 4; ++j)
        for (int k = 0; k < n; ++k) reg[(size_t)j * reg_plane + k] = out[2 + j][k];
}

#endif
