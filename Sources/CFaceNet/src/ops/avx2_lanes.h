/*
 * Internal: the AVX2 + FMA helpers several kernels share (conv_flat.c, conv_winograd.c,
 * maxpool_s2.c, conv_maxpool2.c), and the target attributes of the AVX-512 paths. Functions are compiled for AVX2 by attribute, never by a
 * global flag, so the package builds for any x86-64 and each caller checks
 * cfn_cpu_has_avx2_fma() at run time.
 * Include only inside `#if defined(__x86_64__) || defined(__i386__)`.
 */
#ifndef CFN_OPS_AVX2_LANES_H
#define CFN_OPS_AVX2_LANES_H

#include <immintrin.h>

#define AVX2 __attribute__((target("avx2,fma")))
#define AVX2_INLINE __attribute__((target("avx2,fma"), always_inline)) static inline
/* The AVX-512 paths (FaceNet's epilogue, unfolding, Winograd transforms, max-pool; MTCNN's
   Winograd GEMM and P-Net's first layer), called only where cfn_cpu_has_avx512f() holds. */
#define AVX512 __attribute__((target("avx2,fma,avx512f")))
#define AVX512_INLINE __attribute__((target("avx2,fma,avx512f"), always_inline)) static inline

/* x[2i] of the 16 floats a ‖ b, in order. */
AVX2_INLINE __m256 cfn_evens8(__m256 a, __m256 b) {
    const __m256 even = _mm256_shuffle_ps(a, b, _MM_SHUFFLE(2, 0, 2, 0));
    /* shuffle_ps works per 128-bit half: restore the order p0 p1 p2 p3 | p4 p5 p6 p7. */
    return _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(even), _MM_SHUFFLE(3, 1, 2, 0)));
}

/* x[2i + 1] of the 16 floats a ‖ b, in order. */
AVX2_INLINE __m256 cfn_odds8(__m256 a, __m256 b) {
    const __m256 odd = _mm256_shuffle_ps(a, b, _MM_SHUFFLE(3, 1, 3, 1));
    return _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(odd), _MM_SHUFFLE(3, 1, 2, 0)));
}

/* PyTorch's PReLU on 8 lanes: v where v > 0, slope · v otherwise (−0 and NaN take the slope). */
AVX2_INLINE __m256 cfn_prelu8(__m256 v, __m256 slope) {
    return _mm256_blendv_ps(_mm256_mul_ps(v, slope), v, _mm256_cmp_ps(v, _mm256_setzero_ps(), _CMP_GT_OQ));
}

/* One step of a 4-output-channel × 16-position tile (the direct convolution's, the Winograd
   GEMM's and P-Net's head): acc[2o + h] += w[o] · x_h for the 4 packed weights w[0..3] and the
   two 8-position halves x0, x1. Always inlined, so the 8 accumulators stay in registers. */
AVX2_INLINE void cfn_fma4x16(const float *w, __m256 x0, __m256 x1, __m256 acc[8]) {
    for (int o = 0; o < 4; ++o) {
        const __m256 wv = _mm256_broadcast_ss(w + o);
        acc[2 * o] = _mm256_fmadd_ps(wv, x0, acc[2 * o]);
        acc[2 * o + 1] = _mm256_fmadd_ps(wv, x1, acc[2 * o + 1]);
    }
}

/* The transform-domain GEMM of a Winograd convolution (F(2×2), F(3×3) and F(4×4) share it):
   M[o][ξ][0, cols) = Σ_c U[ξ][o][c] · V[c][ξ][0, cols) for each of the `points` points ξ, cols
   a multiple of 16; 4 output channels × 16 tiles in 8 accumulators (cfn_fma4x16). V and M keep
   a channel every `channel_stride` floats and a point every `xi_stride`; U holds, per point,
   cout_padded / 4 groups of cin × 4 weights. Always inlined, so each kernel's constants fold. */
AVX2_INLINE void cfn_winograd_gemm(const float *u, const float *v, float *m, int points, size_t xi_stride,
                                   size_t channel_stride, int cin, int cout_padded, int cols) {
    for (int xi = 0; xi < points; ++xi) {
        const float *vx = v + (size_t)xi * xi_stride;
        for (int ob = 0; ob < cout_padded / 4; ++ob) {
            const float *w0 = u + ((size_t)xi * (cout_padded / 4) + ob) * cin * 4;
            float *dst = m + (size_t)ob * 4 * channel_stride + (size_t)xi * xi_stride;
            for (int t = 0; t < cols; t += 16) {
                __m256 acc[8];
                for (int i = 0; i < 8; ++i) acc[i] = _mm256_setzero_ps();
                const float *w = w0;
                for (int c = 0; c < cin; ++c, w += 4)
                    cfn_fma4x16(w, _mm256_loadu_ps(vx + (size_t)c * channel_stride + t),
                                _mm256_loadu_ps(vx + (size_t)c * channel_stride + t + 8), acc);
                for (int o = 0; o < 4; ++o) {
                    _mm256_storeu_ps(dst + (size_t)o * channel_stride + t, acc[2 * o]);
                    _mm256_storeu_ps(dst + (size_t)o * channel_stride + t + 8, acc[2 * o + 1]);
                }
            }
        }
    }
}

/* cfn_winograd_gemm with AVX-512: 4 output channels × 32 tiles in 8 accumulators (a last block
   of 16 tiles in 4). Each sum runs over c in the same order, one FMA per step, so M is the same
   bit for bit; with half as many instructions per FMA, and twice the work between an
   accumulator's FMAs, the product no longer waits on the FMA's latency (on Zen 4, which runs a
   512-bit FMA as two 256-bit halves, that is its gain; where the CPU has two 512-bit FMA
   units it is twice the rate). */
AVX512_INLINE void cfn_winograd_gemm_avx512(const float *u, const float *v, float *m, int points,
                                            size_t xi_stride, size_t channel_stride, int cin,
                                            int cout_padded, int cols) {
    for (int xi = 0; xi < points; ++xi) {
        const float *vx = v + (size_t)xi * xi_stride;
        for (int ob = 0; ob < cout_padded / 4; ++ob) {
            const float *w0 = u + ((size_t)xi * (cout_padded / 4) + ob) * cin * 4;
            float *dst = m + (size_t)ob * 4 * channel_stride + (size_t)xi * xi_stride;
            int t = 0;
            for (; t + 32 <= cols; t += 32) {
                __m512 acc[8];
                for (int i = 0; i < 8; ++i) acc[i] = _mm512_setzero_ps();
                const float *w = w0;
                for (int c = 0; c < cin; ++c, w += 4) {
                    const float *x = vx + (size_t)c * channel_stride + t;
                    const __m512 x0 = _mm512_loadu_ps(x), x1 = _mm512_loadu_ps(x + 16);
                    for (int o = 0; o < 4; ++o) {
                        const __m512 wv = _mm512_set1_ps(w[o]);
                        acc[2 * o] = _mm512_fmadd_ps(wv, x0, acc[2 * o]);
                        acc[2 * o + 1] = _mm512_fmadd_ps(wv, x1, acc[2 * o + 1]);
                    }
                }
                for (int o = 0; o < 4; ++o) {
                    _mm512_storeu_ps(dst + (size_t)o * channel_stride + t, acc[2 * o]);
                    _mm512_storeu_ps(dst + (size_t)o * channel_stride + t + 16, acc[2 * o + 1]);
                }
            }
            if (t < cols) { /* cols is a multiple of 16: one block of 16 left */
                __m512 acc[4];
                for (int i = 0; i < 4; ++i) acc[i] = _mm512_setzero_ps();
                const float *w = w0;
                for (int c = 0; c < cin; ++c, w += 4) {
                    const __m512 x0 = _mm512_loadu_ps(vx + (size_t)c * channel_stride + t);
                    for (int o = 0; o < 4; ++o) acc[o] = _mm512_fmadd_ps(_mm512_set1_ps(w[o]), x0, acc[o]);
                }
                for (int o = 0; o < 4; ++o) _mm512_storeu_ps(dst + (size_t)o * channel_stride + t, acc[o]);
            }
        }
    }
}

/* CFN_MAX_NAN(m, v) (ops.h) on 8 lanes (v where v > m or v is NaN): max_ps returns its
   second operand when either is NaN, so a NaN in m is put back explicitly. */
AVX2_INLINE __m256 cfn_max_nan8(__m256 m, __m256 v) {
    return _mm256_blendv_ps(_mm256_max_ps(m, v), m, _mm256_cmp_ps(m, m, _CMP_UNORD_Q));
}

/* cfn_prelu8 on 16 lanes, the same blend (v where v > 0, slope · v otherwise). */
AVX512_INLINE __m512 cfn_prelu16(__m512 v, __m512 slope) {
    const __mmask16 positive = _mm512_cmp_ps_mask(v, _mm512_setzero_ps(), _CMP_GT_OQ);
    return _mm512_mask_blend_ps(positive, _mm512_mul_ps(v, slope), v);
}

/* cfn_max_nan8 on 16 lanes, operation for operation (vmaxps, then m put back where it is NaN),
   so that 16-lane kernels give their 8-lane twins' bits, signs of zeros included. */
AVX512_INLINE __m512 cfn_max_nan16(__m512 m, __m512 v) {
    return _mm512_mask_blend_ps(_mm512_cmp_ps_mask(m, m, _CMP_UNORD_Q), _mm512_max_ps(m, v), m);
}

/* cfn_pair_max8 on 32 values: lane i = cfn_max_nan16(x[2i], x[2i + 1]) of a ‖ b. */
AVX512_INLINE __m512 cfn_pair_max16(__m512 a, __m512 b) {
    const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
    const __m512i odd = _mm512_setr_epi32(1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31);
    return cfn_max_nan16(_mm512_permutex2var_ps(a, even, b), _mm512_permutex2var_ps(a, odd, b));
}

/* Pairs (2i, 2i + 1) of the 16 values a ‖ b, maxed: lane i = cfn_max_nan8(x[2i], x[2i + 1]). */
AVX2_INLINE __m256 cfn_pair_max8(__m256 a, __m256 b) {
    const __m256 even = _mm256_shuffle_ps(a, b, _MM_SHUFFLE(2, 0, 2, 0));
    const __m256 odd = _mm256_shuffle_ps(a, b, _MM_SHUFFLE(3, 1, 3, 1));
    /* shuffle_ps works per 128-bit half: restore the order p0 p1 p2 p3 | p4 p5 p6 p7. */
    return _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(cfn_max_nan8(even, odd)),
                                                  _MM_SHUFFLE(3, 1, 2, 0)));
}

#endif
