/*
 * 3×3 convolution (stride 1, no padding) by Winograd's F(3×3, 3×3), with the bias and PReLU
 * fused into the store: 25 multiplications per 3×3 outputs and input channel (the direct
 * kernel: 81). It is R-Net's conv2 kernel: R-Net's 9×9 output maps are exactly 3×3 tiles of
 * 3×3, where F(2×2)'s 5×5 tiles of 2×2 compute 100 outputs for 81 (400 multiplications per
 * map and channel pair, here 225) and F(4×4)'s 3×3 tiles of 4×4 compute 144 (324).
 *
 * For each tile, with d its 5×5 input window and g a 3×3 filter, Y = Aᵀ [ (G g Gᵀ) ⊙ (Bᵀ d B) ] A
 * with the Toom-Cook matrices of the points 0, 1, −1, 2, ∞:
 *     Bᵀ = [2 −1 −2 1 0; 0 −2 −1 1 0; 0 2 −3 1 0; 0 −1 0 1 0; 0 2 −1 −2 1]
 *     G  = [½ 0 0; −½ −½ −½; −⅙ ⅙ −⅙; ⅙ ⅓ ⅔; 0 0 1]
 *     Aᵀ = [1 1 1 1 0; 0 1 −1 2 0; 0 1 1 4 1]
 * G is applied in double and rounded once; the result differs from the direct sum by rounding.
 *
 * Tiles 3 columns apart do not fit 8-float vectors as F(2×2)'s and F(4×4)'s do (stride 2 and 4
 * deinterleave within 128-bit lanes), and R-Net's 9-wide maps hold only 3 tiles per row: each
 * group of 8 tiles (any rows, any images of the stack) is gathered value by value into 25
 * vectors, one lane per tile, and scattered back the same way. The GEMM between (one per
 * transform-domain point over a segment of up to CHUNK tiles) is conv_winograd.c's.
 *
 * AVX2 + FMA only: the portable build keeps the direct convolution (callers choose).
 */
#include "cfacenet_mtcnn.h"
#include "ops.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>

/* Tiles per segment; a multiple of 16 (the GEMM's column block). */
#define CHUNK 64
/* Floats between two points ξ of one channel (8 more than CHUNK, so that the GEMM's loads of
   successive points do not fall in one L1 set). */
#define XI_STRIDE (CHUNK + 8)
#define POINTS 25
/* Floats between two channels of V or of M, plus one cache line (as in conv_winograd.c). */
#define CHANNEL_STRIDE (POINTS * XI_STRIDE + 16)

/* U = G g Gᵀ of one 3×3 filter, in double: u[5i + j]. */
static void filter_f33(const float *g, double u[POINTS]) {
    static const double G[5][3] = {{0.5, 0, 0},
                                   {-0.5, -0.5, -0.5},
                                   {-1.0 / 6, 1.0 / 6, -1.0 / 6},
                                   {1.0 / 6, 1.0 / 3, 2.0 / 3},
                                   {0, 0, 1}};
    double t[5][3]; /* G g */
    for (int i = 0; i < 5; ++i)
        for (int k = 0; k < 3; ++k)
            t[i][k] = G[i][0] * g[k] + G[i][1] * g[3 + k] + G[i][2] * g[6 + k];
    for (int i = 0; i < 5; ++i)
        for (int j = 0; j < 5; ++j)
            u[5 * i + j] = t[i][0] * G[j][0] + t[i][1] * G[j][1] + t[i][2] * G[j][2];
}

size_t cfn_winograd33_conv_floats(int out_channels, int in_channels) {
    const size_t padded = (size_t)(out_channels + 3) / 4 * 4;
    return POINTS * padded * (size_t)in_channels + 2 * padded;
}

size_t cfn_winograd33_conv_scratch_floats(int out_channels, int in_channels) {
    const size_t padded = (size_t)(out_channels + 3) / 4 * 4;
    return ((size_t)in_channels + padded) * CHANNEL_STRIDE;
}

float *cfn_winograd33_conv_pack(cfn_winograd_conv *conv, int out_channels, int in_channels,
                                const float *weight, const float *bias, const float *slope,
                                float *storage) {
    const int padded = (out_channels + 3) / 4 * 4;
    float *u = storage;
    float *b = u + (size_t)POINTS * padded * in_channels;
    float *a = b + padded;
    memset(storage, 0, cfn_winograd33_conv_floats(out_channels, in_channels) * sizeof(float));
    for (int o = 0; o < out_channels; ++o)
        for (int c = 0; c < in_channels; ++c) {
            double t[POINTS];
            filter_f33(weight + ((size_t)o * in_channels + c) * 9, t);
            for (int xi = 0; xi < POINTS; ++xi)
                /* [ξ][o / 4][c][o % 4]: the GEMM broadcasts 4 output channels per c. */
                u[(((size_t)xi * (padded / 4) + o / 4) * in_channels + c) * 4 + o % 4] = (float)t[xi];
        }
    conv->in_channels = in_channels;
    conv->out_channels = out_channels;
    conv->weight = u;
    conv->bias = b;
    conv->slope = cfn_pack_bias_slope(b, a, out_channels, bias, slope);
    return a + padded;
}

#if defined(__x86_64__) || defined(__i386__)
#include "avx2_lanes.h"

/* M[o][ξ][0, cols) = Σ_c U[ξ][o][c] · V[c][ξ][0, cols), cols a multiple of 16 (cfn_winograd_gemm, or
   its AVX-512 form where the CPU has it, as in conv_winograd.c). */
AVX512 static void transform_gemm_avx512(const float *u, const float *v, float *m, int cin,
                                       int cout_padded, int cols) {
    cfn_winograd_gemm_avx512(u, v, m, POINTS, XI_STRIDE, CHANNEL_STRIDE, cin, cout_padded, cols);
}

AVX2 static void transform_gemm(const float *u, const float *v, float *m, int cin, int cout_padded,
                                int cols) {
    if (cfn_cpu_has_avx512f())
        transform_gemm_avx512(u, v, m, cin, cout_padded, cols);
    else
        cfn_winograd_gemm(u, v, m, POINTS, XI_STRIDE, CHANNEL_STRIDE, cin, cout_padded, cols);
}

/* r = Bᵀ d for five vectors (either direction of the separable transform). */
AVX2_INLINE void bt5(const __m256 d[5], __m256 r[5]) {
    const __m256 two = _mm256_set1_ps(2.0f), three = _mm256_set1_ps(3.0f);
    r[0] = _mm256_sub_ps(_mm256_fmadd_ps(two, _mm256_sub_ps(d[0], d[2]), d[3]), d[1]);
    r[1] = _mm256_sub_ps(_mm256_fnmadd_ps(two, d[1], d[3]), d[2]);
    r[2] = _mm256_fmadd_ps(two, d[1], _mm256_fnmadd_ps(three, d[2], d[3]));
    r[3] = _mm256_sub_ps(d[3], d[1]);
    r[4] = _mm256_sub_ps(_mm256_fmadd_ps(two, _mm256_sub_ps(d[1], d[3]), d[4]), d[2]);
}

/* r = Aᵀ m for five vectors. */
AVX2_INLINE void at5(const __m256 m[5], __m256 r[3]) {
    const __m256 a = _mm256_add_ps(m[1], m[2]), b = _mm256_sub_ps(m[1], m[2]);
    r[0] = _mm256_add_ps(_mm256_add_ps(m[0], a), m[3]);
    r[1] = _mm256_fmadd_ps(_mm256_set1_ps(2.0f), m[3], b);
    r[2] = _mm256_add_ps(_mm256_fmadd_ps(_mm256_set1_ps(4.0f), m[3], a), m[4]);
}

typedef struct tile33 {
    int image, y0, x0; /* top-left output (and input) position of the tile in its image */
} tile33;

/* One segment of `count` tiles for input channel planes `in` and output planes `out`. */
AVX2 static void segment33(const cfn_winograd_conv *conv, const float *in, size_t in_plane, int rs,
                           int h, int w, float *out, size_t out_plane, const tile33 *tiles,
                           int count, float *v, float *m) {
    const int cin = conv->in_channels, cout = conv->out_channels;
    const int cols = (count + 15) / 16 * 16;
    const int oh = h - 2, ow = w - 2;
    for (int c = 0; c < cin; ++c) {
        const float *plane = in + (size_t)c * in_plane;
        float *vc = v + (size_t)c * CHANNEL_STRIDE;
        for (int g = 0; g < cols; g += 8) {
            float d[POINTS][8];
            for (int k = 0; k < 8; ++k) {
                if (g + k >= count) { /* GEMM padding: zeros, not stale floats */
                    for (int xi = 0; xi < POINTS; ++xi) d[xi][k] = 0.0f;
                    continue;
                }
                const tile33 *t = &tiles[g + k];
                const float *src = plane + (size_t)t->image * h * rs;
                if (t->y0 >= 0 && t->y0 + 5 <= h && t->x0 + 5 <= w) {
                    const float *row = src + (size_t)t->y0 * rs + t->x0;
                    for (int i = 0; i < 5; ++i, row += rs)
                        for (int j = 0; j < 5; ++j) d[5 * i + j][k] = row[j];
                } else { /* zeros outside the image: nothing past row h or column w is read */
                    for (int i = 0; i < 5; ++i)
                        for (int j = 0; j < 5; ++j) {
                            const int y = t->y0 + i, x = t->x0 + j;
                            d[5 * i + j][k] = y >= 0 && y < h && x < w ? src[(size_t)y * rs + x] : 0.0f;
                        }
                }
            }
            __m256 col[5][5]; /* Bᵀ down each column, then along each row */
            for (int j = 0; j < 5; ++j) {
                __m256 x[5], r[5];
                for (int i = 0; i < 5; ++i) x[i] = _mm256_loadu_ps(d[5 * i + j]);
                bt5(x, r);
                for (int i = 0; i < 5; ++i) col[i][j] = r[i];
            }
            for (int i = 0; i < 5; ++i) {
                __m256 r[5];
                bt5(col[i], r);
                for (int j = 0; j < 5; ++j)
                    _mm256_storeu_ps(vc + (size_t)(5 * i + j) * XI_STRIDE + g, r[j]);
            }
        }
    }
    transform_gemm(conv->weight, v, m, cin, (cout + 3) / 4 * 4, cols);
    for (int o = 0; o < cout; ++o) {
        const float *mo = m + (size_t)o * CHANNEL_STRIDE;
        float *dst = out + (size_t)o * out_plane;
        const __m256 bias = _mm256_set1_ps(conv->bias[o]);
        const __m256 slope = _mm256_set1_ps(conv->slope ? conv->slope[o] : 0.0f);
        for (int g = 0; g < count; g += 8) {
            __m256 s[3][5];
            for (int j = 0; j < 5; ++j) {
                __m256 x[5], r[3];
                for (int i = 0; i < 5; ++i) x[i] = _mm256_loadu_ps(mo + (size_t)(5 * i + j) * XI_STRIDE + g);
                at5(x, r);
                for (int i = 0; i < 3; ++i) s[i][j] = r[i];
            }
            float y[9][8];
            for (int i = 0; i < 3; ++i) {
                __m256 r[3];
                at5(s[i], r);
                for (int j = 0; j < 3; ++j) {
                    __m256 val = _mm256_add_ps(r[j], bias);
                    if (conv->slope) val = cfn_prelu8(val, slope);
                    _mm256_storeu_ps(y[3 * i + j], val);
                }
            }
            for (int k = 0; k < 8 && g + k < count; ++k) {
                const tile33 *t = &tiles[g + k];
                float *base = dst + (size_t)t->image * h * rs;
                for (int i = 0; i < 3; ++i) {
                    const int yy = t->y0 + i;
                    if (yy < 0 || yy >= oh) continue;
                    for (int j = 0; j < 3 && t->x0 + j < ow; ++j)
                        base[(size_t)yy * rs + t->x0 + j] = y[3 * i + j][k];
                }
            }
        }
    }
}
#endif

int cfn_winograd33_conv_forward(const cfn_winograd_conv *conv, const float *in, size_t in_plane,
                                int rs, int images, int h, int w, int row_phase, float *out,
                                size_t out_plane, float *scratch) {
#if defined(__x86_64__) || defined(__i386__)
    if (!cfn_cpu_has_avx2_fma() || images < 1 || h < 3 || w < 3) return 0;
    float *v = scratch;
    float *m = scratch + (size_t)conv->in_channels * CHANNEL_STRIDE;
    const int oh = h - 2, ow = w - 2, phase = row_phase % 3;
    tile33 tiles[CHUNK];
    int count = 0;
    for (int image = 0; image < images; ++image)
        for (int y0 = -phase; y0 < oh; y0 += 3)
            for (int x0 = 0; x0 < ow; x0 += 3) {
                if (count == CHUNK) {
                    segment33(conv, in, in_plane, rs, h, w, out, out_plane, tiles, count, v, m);
                    count = 0;
                }
                tiles[count++] = (tile33){image, y0, x0};
            }
    if (count > 0) segment33(conv, in, in_plane, rs, h, w, out, out_plane, tiles, count, v, m);
    return 1;
#else
    (void)conv; (void)in; (void)in_plane; (void)rs; (void)images; (void)h; (void)w;
    (void)row_phase; (void)out; (void)out_plane; (void)scratch;
    return 0;
#endif
}
