/*
 * A flat 3×3 convolution with its bias and PReLU, followed by MaxPool2d(2, 2, ceil_mode=True),
 * in one pass: P-Net's first layer. Unfused, that layer writes ten channels at the full
 * resolution of the pyramid level (40 bytes per pixel, megabytes per band, past L2) for the
 * pool to read back, and its 10 output channels fill three 4-channel tiles of the direct kernel
 * (12 lanes of work for 10). Here each tile is 2 output channels × 16 conv columns × the
 * window's 2 conv rows, pooled in registers: only the pooled quarter is written and no lane is
 * wasted.
 *
 * The arithmetic is the unfused AVX2 path's, operation for operation: the same FMA chain per
 * output (input channels, then ky, then kx, from zero), bias added after it, PyTorch's PReLU,
 * then the pool's max in its order (rows, then column pairs). Results are bit-identical to
 * cfn_flat_conv_forward + cfn_maxpool2d_s2_ceil_strided (up to NaN payloads); the test compares
 * them for equality. Where the CPU has AVX-512, rows of 16 whole windows or more take tiles of
 * 32 conv columns, the same operations on twice the lanes (bit for bit the AVX2 tiles').
 */
#include "../testing.h"
#include "ops.h"

#include <math.h>
#include <stdlib.h>

#if defined(__x86_64__) || defined(__i386__)
#include "avx2_lanes.h"

/* The packed taps of output channel o (conv_flat.c's layout: blocks of CFN_FLAT_CONV_BLOCK
   channels, a channel's taps CFN_FLAT_CONV_BLOCK floats apart). */
static inline const float *channel_taps(const cfn_flat_conv *conv, int o) {
    const size_t block_floats = (size_t)conv->in_channels * 9 * CFN_FLAT_CONV_BLOCK;
    return conv->weight + (size_t)(o / CFN_FLAT_CONV_BLOCK) * block_floats + o % CFN_FLAT_CONV_BLOCK;
}

/* Conv + bias + PReLU at flat position `p` of one output channel (`w`: its packed taps, 4
   floats apart), as the vector tile computes it lane by lane (fmaf is the same fused
   multiply-add; compiled for FMA it is the same instruction). */
AVX2 static float conv_at(const float *in, size_t in_plane, int rs, int cin, const float *w,
                          float bias, const float *slope, size_t p) {
    float acc = 0.0f;
    for (int c = 0; c < cin; ++c)
        for (int ky = 0; ky < 3; ++ky)
            for (int kx = 0; kx < 3; ++kx, w += CFN_FLAT_CONV_BLOCK)
                acc = fmaf(*w, in[(size_t)c * in_plane + p + (size_t)ky * rs + kx], acc);
    const float v = acc + bias;
    return slope && !(v > 0.0f) ? *slope * v : v;
}

/* One pooled output the scalar way: the window's conv values at rows y0, y1 (y1 == y0 on the
   bottom edge) and columns x0, x0 + 1 (only x0 on the right edge), maxed in the pool's order. */
AVX2 static float pooled_at(const float *in, size_t in_plane, int rs, int cin, const float *w,
                            float bias, const float *slope, int y0, int y1, int x0,
                            int two_columns) {
    const size_t p0 = (size_t)y0 * rs + x0, p1 = (size_t)y1 * rs + x0;
    float m = conv_at(in, in_plane, rs, cin, w, bias, slope, p0);
    if (two_columns) m = CFN_MAX_NAN(m, conv_at(in, in_plane, rs, cin, w, bias, slope, p0 + 1));
    m = CFN_MAX_NAN(m, conv_at(in, in_plane, rs, cin, w, bias, slope, p1));
    if (two_columns) m = CFN_MAX_NAN(m, conv_at(in, in_plane, rs, cin, w, bias, slope, p1 + 1));
    return m;
}

/* act(acc + bias), as conv_flat.c's store. */
AVX2_INLINE __m256 activate(__m256 acc, float bias, const float *slope) {
    const __m256 v = _mm256_add_ps(acc, _mm256_set1_ps(bias));
    return slope ? cfn_prelu8(v, _mm256_set1_ps(*slope)) : v;
}

/* 8 pooled columns of 2 output channels (`w`: the first one's packed taps; the second's follow
   at w + 1), from conv rows r0 and r1 (the same row on the bottom edge) at 16 columns. */
AVX2_INLINE void tile2x16x2(const float *r0, const float *r1, size_t in_plane, int rs, int cin,
                            const float *w, const float *bias, const float *slope, int second,
                            float *out0, float *out1) {
    __m256 a00 = _mm256_setzero_ps(), a01 = a00, a10 = a00, a11 = a00; /* channel 0: row, half */
    __m256 b00 = a00, b01 = a00, b10 = a00, b11 = a00;                 /* channel 1 */
    for (int c = 0; c < cin; ++c) {
        const float *s0 = r0 + (size_t)c * in_plane, *s1 = r1 + (size_t)c * in_plane;
        for (int ky = 0; ky < 3; ++ky, s0 += rs, s1 += rs) {
            for (int kx = 0; kx < 3; ++kx, w += CFN_FLAT_CONV_BLOCK) {
                const __m256 x00 = _mm256_loadu_ps(s0 + kx), x01 = _mm256_loadu_ps(s0 + kx + 8);
                const __m256 x10 = _mm256_loadu_ps(s1 + kx), x11 = _mm256_loadu_ps(s1 + kx + 8);
                const __m256 wa = _mm256_broadcast_ss(w), wb = _mm256_broadcast_ss(w + 1);
                a00 = _mm256_fmadd_ps(wa, x00, a00); a01 = _mm256_fmadd_ps(wa, x01, a01);
                a10 = _mm256_fmadd_ps(wa, x10, a10); a11 = _mm256_fmadd_ps(wa, x11, a11);
                b00 = _mm256_fmadd_ps(wb, x00, b00); b01 = _mm256_fmadd_ps(wb, x01, b01);
                b10 = _mm256_fmadd_ps(wb, x10, b10); b11 = _mm256_fmadd_ps(wb, x11, b11);
            }
        }
    }
    /* The pool: rows first (max_nan8), then column pairs (cfn_pair_max8), as maxpool_s2.c. */
    const __m256 lo0 = cfn_max_nan8(activate(a00, bias[0], slope), activate(a10, bias[0], slope));
    const __m256 hi0 = cfn_max_nan8(activate(a01, bias[0], slope), activate(a11, bias[0], slope));
    _mm256_storeu_ps(out0, cfn_pair_max8(lo0, hi0));
    if (!second) return;
    const float *slope1 = slope ? slope + 1 : NULL;
    const __m256 lo1 = cfn_max_nan8(activate(b00, bias[1], slope1), activate(b10, bias[1], slope1));
    const __m256 hi1 = cfn_max_nan8(activate(b01, bias[1], slope1), activate(b11, bias[1], slope1));
    _mm256_storeu_ps(out1, cfn_pair_max8(lo1, hi1));
}

/* activate on 16 lanes. */
AVX512_INLINE __m512 activate16(__m512 acc, float bias, const float *slope) {
    const __m512 v = _mm512_add_ps(acc, _mm512_set1_ps(bias));
    return slope ? cfn_prelu16(v, _mm512_set1_ps(*slope)) : v;
}

/* tile2x16x2 on AVX-512: 16 pooled columns of 2 output channels from 32 conv columns, the same
   FMA chain per output and the same pool, lane by lane. */
AVX512_INLINE void tile2x32x2(const float *r0, const float *r1, size_t in_plane, int rs, int cin,
                              const float *w, const float *bias, const float *slope, int second,
                              float *out0, float *out1) {
    __m512 a00 = _mm512_setzero_ps(), a01 = a00, a10 = a00, a11 = a00; /* channel 0: row, half */
    __m512 b00 = a00, b01 = a00, b10 = a00, b11 = a00;                 /* channel 1 */
    for (int c = 0; c < cin; ++c) {
        const float *s0 = r0 + (size_t)c * in_plane, *s1 = r1 + (size_t)c * in_plane;
        for (int ky = 0; ky < 3; ++ky, s0 += rs, s1 += rs) {
            for (int kx = 0; kx < 3; ++kx, w += CFN_FLAT_CONV_BLOCK) {
                const __m512 x00 = _mm512_loadu_ps(s0 + kx), x01 = _mm512_loadu_ps(s0 + kx + 16);
                const __m512 x10 = _mm512_loadu_ps(s1 + kx), x11 = _mm512_loadu_ps(s1 + kx + 16);
                const __m512 wa = _mm512_set1_ps(w[0]), wb = _mm512_set1_ps(w[1]);
                a00 = _mm512_fmadd_ps(wa, x00, a00); a01 = _mm512_fmadd_ps(wa, x01, a01);
                a10 = _mm512_fmadd_ps(wa, x10, a10); a11 = _mm512_fmadd_ps(wa, x11, a11);
                b00 = _mm512_fmadd_ps(wb, x00, b00); b01 = _mm512_fmadd_ps(wb, x01, b01);
                b10 = _mm512_fmadd_ps(wb, x10, b10); b11 = _mm512_fmadd_ps(wb, x11, b11);
            }
        }
    }
    const __m512 lo0 = cfn_max_nan16(activate16(a00, bias[0], slope), activate16(a10, bias[0], slope));
    const __m512 hi0 = cfn_max_nan16(activate16(a01, bias[0], slope), activate16(a11, bias[0], slope));
    _mm512_storeu_ps(out0, cfn_pair_max16(lo0, hi0));
    if (!second) return;
    const float *slope1 = slope ? slope + 1 : NULL;
    const __m512 lo1 = cfn_max_nan16(activate16(b00, bias[1], slope1), activate16(b10, bias[1], slope1));
    const __m512 hi1 = cfn_max_nan16(activate16(b01, bias[1], slope1), activate16(b11, bias[1], slope1));
    _mm512_storeu_ps(out1, cfn_pair_max16(lo1, hi1));
}

/* Pooled columns [0, whole) of one output row (whole ≥ 16) from conv rows r0, r1, 16 at a time,
   the last tile shifted left as conv_maxpool2_avx2's are. Twice the AVX2 tile's work per
   instruction: on Zen 4 (512-bit FMAs in two halves) the same FMA rate with room to spare. */
AVX512 static void pooled_row_avx512(const cfn_flat_conv *conv, const float *r0, const float *r1,
                                     size_t in_plane, int rs, int whole, float *dst,
                                     size_t out_plane) {
    const int cin = conv->in_channels, cout = conv->out_channels;
    for (int ox = 0; ox < whole; ox += 16) {
        const int at = ox + 16 <= whole ? ox : whole - 16;
        for (int o = 0; o < cout; o += 2) {
            tile2x32x2(r0 + 2 * at, r1 + 2 * at, in_plane, rs, cin, channel_taps(conv, o),
                       conv->bias + o, conv->slope ? conv->slope + o : NULL, o + 1 < cout,
                       dst + (size_t)o * out_plane + at,
                       o + 1 < cout ? dst + (size_t)(o + 1) * out_plane + at : NULL);
        }
    }
}

/* `avx512`: the rows with at least 16 whole windows take pooled_row_avx512. */
AVX2 static void conv_maxpool2_avx2(const cfn_flat_conv *conv, const float *in, size_t in_plane,
                                    int rs, int conv_h, int conv_w, int avx512, float *out) {
    const int cin = conv->in_channels, cout = conv->out_channels;
    const int out_h = (conv_h + 1) / 2, out_w = (conv_w + 1) / 2;
    const size_t out_plane = (size_t)out_h * out_w;
    /* Pooled columns whose window has both conv columns; vector tiles cover them 8 at a time,
       the last tile shifted left to end at the last one (overlapping columns get the same
       values again), so no load reaches past the row's conv_w + 2 input columns. */
    const int whole = conv_w / 2;
    for (int oy = 0; oy < out_h; ++oy) {
        const int y0 = 2 * oy, y1 = y0 + 1 < conv_h ? y0 + 1 : y0;
        const float *r0 = in + (size_t)y0 * rs, *r1 = in + (size_t)y1 * rs;
        float *dst = out + (size_t)oy * out_w;
        const int wide = avx512 && whole >= 16;
        if (wide) pooled_row_avx512(conv, r0, r1, in_plane, rs, whole, dst, out_plane);
        for (int ox = 0; !wide && whole >= 8 && ox < whole; ox += 8) {
            const int at = ox + 8 <= whole ? ox : whole - 8;
            for (int o = 0; o < cout; o += 2) {
                const float *slope = conv->slope ? conv->slope + o : NULL;
                tile2x16x2(r0 + 2 * at, r1 + 2 * at, in_plane, rs, cin, channel_taps(conv, o),
                           conv->bias + o, slope,
                           o + 1 < cout, dst + (size_t)o * out_plane + at,
                           o + 1 < cout ? dst + (size_t)(o + 1) * out_plane + at : NULL);
            }
        }
        /* Narrow levels (fewer than 8 whole windows) and the right edge's one-column window. */
        for (int ox = whole >= 8 ? whole : 0; ox < out_w; ++ox)
            for (int o = 0; o < cout; ++o) {
                dst[(size_t)o * out_plane + ox] =
                    pooled_at(in, in_plane, rs, cin, channel_taps(conv, o), conv->bias[o],
                              conv->slope ? conv->slope + o : NULL, y0, y1, 2 * ox,
                              2 * ox + 1 < conv_w);
            }
    }
}
#endif

int cfn_flat_conv_maxpool2_forward(const cfn_flat_conv *conv, const float *in, size_t in_plane,
                                   int rs, int conv_h, int conv_w, float *out, int portable) {
#if defined(__x86_64__) || defined(__i386__)
    /* Below 2 × 2 conv outputs the pool's extent rule (ceil_mode) is the unfused code's. */
    if (portable || conv->kernel != 3 || conv_h < 2 || conv_w < 2 || !cfn_cpu_has_avx2_fma())
        return 0;
    conv_maxpool2_avx2(conv, in, in_plane, rs, conv_h, conv_w, cfn_cpu_has_avx512f(), out);
    return 1;
#else
    (void)conv; (void)in; (void)in_plane; (void)rs; (void)conv_h; (void)conv_w; (void)out;
    (void)portable;
    return 0;
#endif
}

/* ---- test entry (testing.h) --------------------------------------------------------- */

int cfn_conv3x3_prelu_maxpool2(const float *weight, const float *bias, const float *slope,
                               int out_channels, int in_channels, const float *in, int h, int w,
                               int rs, int fused, float *out) {
    if (!weight || !in || !out || out_channels <= 0 || in_channels <= 0 || h < 3 || w < 3 ||
        rs < w || fused < 0 || fused > 3)
        return -1;
    const size_t in_plane = (size_t)h * rs, conv_plane = (size_t)(h - 2) * rs;
    const size_t pack_floats = cfn_flat_conv_floats(out_channels, in_channels, 3);
    const size_t conv_floats = fused ? 0 : (size_t)out_channels * conv_plane;
    float *storage = malloc((pack_floats + conv_floats) * sizeof(float));
    if (!storage) return -1;
    cfn_flat_conv conv;
    cfn_flat_conv_pack(&conv, out_channels, in_channels, 3, weight, bias, slope, storage);
    int done = 1;
    if (fused >= 2) { /* the AVX2 tiles alone (2), or the AVX-512 ones wherever they apply (3) */
#if defined(__x86_64__) || defined(__i386__)
        done = cfn_cpu_has_avx2_fma() && (fused == 2 || cfn_cpu_has_avx512f()) && h - 2 >= 2 &&
               w - 2 >= 2;
        if (done) conv_maxpool2_avx2(&conv, in, in_plane, rs, h - 2, w - 2, fused == 3, out);
#else
        done = 0;
#endif
    } else if (fused) {
        done = cfn_flat_conv_maxpool2_forward(&conv, in, in_plane, rs, h - 2, w - 2, out, 0);
    } else {
        /* The unfused default path, as P-Net ran it before: the direct kernel, then the pool. */
        float *conv_out = storage + pack_floats;
        cfn_flat_conv_forward(&conv, in, in_plane, rs, conv_plane - 2, conv_out, conv_plane, 0);
        cfn_maxpool2d_s2_ceil_strided(conv_out, out_channels, h - 2, w - 2, (size_t)rs, conv_plane,
                                      2, out, 0);
    }
    free(storage);
    return done;
}
