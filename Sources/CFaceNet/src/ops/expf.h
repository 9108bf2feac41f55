/*
 * Internal: expf in scalar and in AVX2 form, the two bit for bit the same on every float.
 *
 * The algorithm is glibc's expf (2.28 on, from Arm's optimized-routines): x·32/ln 2 = k + r,
 * exp(x) = 2^(k/32) · 2^(r/32), 2^(k/32) from a 32-entry table of doubles with the exponent
 * added in integer form, 2^(r/32) by a cubic in double; the float result is the double rounded
 * once. Written with every multiply and add separate (no FMA), so the C loop and the vector
 * lanes round alike: checked on all 2^32 inputs, they agree everywhere, and differ from glibc's
 * FMA build in two inputs by one unit in the last place. That takes a compiler that does not
 * fuse a multiply with an add written as separate steps: clang's default (-ffp-contract=on,
 * SwiftPM's build), not -ffp-contract=fast; ExpTests checks it on the build that runs.
 *
 * Why not libm's expf: P-Net's head needs one exp per cell of the pyramid (a third of a million
 * on a 1.8-megapixel photo), and calling it cell by cell took 2 % of the detection's time; the
 * vector form takes 16 cells in four lanes of double. Both the head (pnet_head_tile.h) and the
 * scalar softmax (softmax.c) use these, so the fused and unfused paths stay bit-identical.
 */
#ifndef CFN_OPS_EXPF_H
#define CFN_OPS_EXPF_H

#include <math.h>
#include <stdint.h>
#include <string.h>

/* 2^(i/32) as a double's bits, less i << 47 (the exponent's share, added back from k). */
static const uint64_t cfn_exp2_32ths[32] = {
    0x3ff0000000000000, 0x3fefd9b0d3158574, 0x3fefb5586cf9890f, 0x3fef9301d0125b51,
    0x3fef72b83c7d517b, 0x3fef54873168b9aa, 0x3fef387a6e756238, 0x3fef1e9df51fdee1,
    0x3fef06fe0a31b715, 0x3feef1a7373aa9cb, 0x3feedea64c123422, 0x3feece086061892d,
    0x3feebfdad5362a27, 0x3feeb42b569d4f82, 0x3feeab07dd485429, 0x3feea47eb03a5585,
    0x3feea09e667f3bcd, 0x3fee9f75e8ec5f74, 0x3feea11473eb0187, 0x3feea589994cce13,
    0x3feeace5422aa0db, 0x3feeb737b0cdc5e5, 0x3feec49182a3f090, 0x3feed503b23e255d,
    0x3feee89f995ad3ad, 0x3feeff76f2fb5e47, 0x3fef199bdd85529c, 0x3fef3720dcef9069,
    0x3fef5818dcfba487, 0x3fef7c97337b9b5f, 0x3fefa4afa2a490da, 0x3fefd0765b6e4540,
};

#define CFN_EXPF_INV_LN2_32 (0x1.71547652b82fep+0 * 32)
#define CFN_EXPF_SHIFT 0x1.8p+52 /* adding it rounds to an integer, kept in the low bits */
#define CFN_EXPF_C0 (0x1.c6af84b912394p-5 / 32 / 32 / 32)
#define CFN_EXPF_C1 (0x1.ebfce50fac4f3p-3 / 32 / 32)
#define CFN_EXPF_C2 (0x1.62e42ff0c52d6p-1 / 32)
#define CFN_EXPF_OVERFLOW 0x1.62e42ep6f   /* above: +∞ */
#define CFN_EXPF_UNDERFLOW -0x1.9fe368p6f /* below: +0 */

static inline float cfn_expf(float x) {
#pragma STDC FP_CONTRACT OFF
    if (x != x) return x + x;
    if (x > CFN_EXPF_OVERFLOW) return INFINITY;
    if (x < CFN_EXPF_UNDERFLOW) return 0.0f;
    const double z = CFN_EXPF_INV_LN2_32 * (double)x;
    double kd = z + CFN_EXPF_SHIFT;
    uint64_t ki;
    memcpy(&ki, &kd, sizeof ki);
    kd -= CFN_EXPF_SHIFT;
    const double r = z - kd;
    const uint64_t bits = cfn_exp2_32ths[ki % 32] + (ki << 47);
    double s;
    memcpy(&s, &bits, sizeof s);
    double p = CFN_EXPF_C0 * r;
    p = p + CFN_EXPF_C1;
    const double r2 = r * r;
    double y = CFN_EXPF_C2 * r;
    y = y + 1.0;
    double q = p * r2;
    y = q + y;
    y = y * s;
    return (float)y;
}

#if defined(__x86_64__) || defined(__i386__)
#include "avx2_lanes.h"

/* cfn_expf of 4 floats, in double lanes. */
AVX2_INLINE __m128 cfn_expf4_avx2(__m128 x) {
    const __m256d z = _mm256_mul_pd(_mm256_set1_pd(CFN_EXPF_INV_LN2_32), _mm256_cvtps_pd(x));
    __m256d kd = _mm256_add_pd(z, _mm256_set1_pd(CFN_EXPF_SHIFT));
    const __m256i ki = _mm256_castpd_si256(kd);
    kd = _mm256_sub_pd(kd, _mm256_set1_pd(CFN_EXPF_SHIFT));
    const __m256d r = _mm256_sub_pd(z, kd);
    const __m256i index = _mm256_and_si256(ki, _mm256_set1_epi64x(31));
    const __m256i bits = _mm256_add_epi64(
        _mm256_i64gather_epi64((const long long *)cfn_exp2_32ths, index, 8), _mm256_slli_epi64(ki, 47));
    const __m256d p = _mm256_add_pd(_mm256_mul_pd(_mm256_set1_pd(CFN_EXPF_C0), r), _mm256_set1_pd(CFN_EXPF_C1));
    __m256d y = _mm256_add_pd(_mm256_mul_pd(_mm256_set1_pd(CFN_EXPF_C2), r), _mm256_set1_pd(1.0));
    y = _mm256_add_pd(_mm256_mul_pd(p, _mm256_mul_pd(r, r)), y);
    __m128 e = _mm256_cvtpd_ps(_mm256_mul_pd(y, _mm256_castsi256_pd(bits)));
    /* The scalar form's early returns, in its order of precedence. */
    e = _mm_blendv_ps(e, _mm_setzero_ps(), _mm_cmp_ps(x, _mm_set1_ps(CFN_EXPF_UNDERFLOW), _CMP_LT_OQ));
    e = _mm_blendv_ps(e, _mm_set1_ps(INFINITY), _mm_cmp_ps(x, _mm_set1_ps(CFN_EXPF_OVERFLOW), _CMP_GT_OQ));
    return _mm_blendv_ps(e, _mm_add_ps(x, x), _mm_cmp_ps(x, x, _CMP_UNORD_Q));
}

/* cfn_expf of 8 floats. */
AVX2_INLINE __m256 cfn_expf8_avx2(__m256 x) {
    return _mm256_set_m128(cfn_expf4_avx2(_mm256_extractf128_ps(x, 1)),
                           cfn_expf4_avx2(_mm256_castps256_ps128(x)));
}
#endif

#endif
