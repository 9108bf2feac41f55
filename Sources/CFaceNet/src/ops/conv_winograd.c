/*
 * 3×3 convolution (stride 1, no padding) by Winograd's minimal filtering F(2×2, 3×3), with the
 * bias and PReLU fused into the store: 16 multiplications per 2×2 outputs and input channel
 * instead of 36. MTCNN spends most of its arithmetic in 3×3 layers (P-Net's 16→32, R-Net's
 * 28→48, O-Net's 32→64 and 64→64) where the direct kernel (conv_flat.c) already runs close to
 * the FMA peak: fewer multiplications are the only way left to make them faster.
 *
 * For each tile of 2×2 outputs, with d its 4×4 input window, g a 3×3 filter:
 *     Y = Aᵀ [ Σ_c (G g_c Gᵀ) ⊙ (Bᵀ d_c B) ] A
 * (Lavin & Gray, "Fast Algorithms for Convolutional Neural Networks", 2016). The transforms
 * only add and subtract, and G's halves are exact in float, so the result differs from the
 * direct sum by rounding alone (within 3e-6 of the direct kernel on the nets' layer shapes).
 *
 * Layout: planes with a row stride `rs` (a flat convolution's layout, conv_flat.c), holding one
 * image or several stacked vertically. Tiles are gathered into segments of up to CHUNK tiles
 * (runs of tile rows, across rows and images, so that narrow images still fill them): the
 * segment's transformed input V[c][ξ][t] (ξ = 4i + j, the 16 transform-domain points), one
 * small GEMM per ξ into M[o][ξ][t], then the inverse transform, bias and PReLU into the output
 * rows. A segment's buffers stay in L2, and a tile's 16 points lie at fixed offsets
 * (ξ·XI_STRIDE) from each other, which the transforms address without extra registers.
 *
 * AVX2 + FMA only: the portable build keeps the direct convolution (callers choose).
 */
#include "../testing.h"
#include "cfacenet_mtcnn.h"
#include "ops.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>

/* Tiles per segment; a multiple of 16 (the GEMM's column block). */
#define CHUNK 64
/* Floats between two points ξ of one channel: CHUNK tiles plus room for the 8 columns a
   transform of a run's last tiles writes past the segment's end. */
#define XI_STRIDE (CHUNK + 8)
/* Floats between two channels of V or of M: 16 points, plus one cache line so that the GEMM's
   loads of 16 channels (or stores of 4) do not all fall in one L1 set. */
#define CHANNEL_STRIDE (16 * XI_STRIDE + 16)

void cfn_winograd_filter_f23(const float *g, double u[16]) {
    /* G = [1 0 0; ½ ½ ½; ½ −½ ½; 0 0 1]; U = G g Gᵀ in double, rounded once by the caller. */
    static const double G[4][3] = {{1, 0, 0}, {0.5, 0.5, 0.5}, {0.5, -0.5, 0.5}, {0, 0, 1}};
    double t[4][3]; /* G g */
    for (int i = 0; i < 4; ++i)
        for (int k = 0; k < 3; ++k)
            t[i][k] = G[i][0] * g[k] + G[i][1] * g[3 + k] + G[i][2] * g[6 + k];
    for (int i = 0; i < 4; ++i)
        for (int j = 0; j < 4; ++j)
            u[4 * i + j] = t[i][0] * G[j][0] + t[i][1] * G[j][1] + t[i][2] * G[j][2];
}

size_t cfn_winograd_conv_floats(int out_channels, int in_channels) {
    const size_t padded = (size_t)(out_channels + 3) / 4 * 4;
    return 16 * padded * (size_t)in_channels + 2 * padded;
}

size_t cfn_winograd_conv_scratch_floats(int out_channels, int in_channels) {
    const size_t padded = (size_t)(out_channels + 3) / 4 * 4;
    return ((size_t)in_channels + padded) * CHANNEL_STRIDE;
}

float *cfn_winograd_conv_pack(cfn_winograd_conv *conv, int out_channels, int in_channels,
                              const float *weight, const float *bias, const float *slope,
                              float *storage) {
    const int padded = (out_channels + 3) / 4 * 4;
    float *u = storage;
    float *b = u + (size_t)16 * padded * in_channels;
    float *a = b + padded;
    memset(storage, 0, cfn_winograd_conv_floats(out_channels, in_channels) * sizeof(float));
    for (int o = 0; o < out_channels; ++o)
        for (int c = 0; c < in_channels; ++c) {
            double t[16];
            cfn_winograd_filter_f23(weight + ((size_t)o * in_channels + c) * 9, t);
            for (int xi = 0; xi < 16; ++xi)
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
#include "winograd_f23.h"

/* M[o][ξ][0, cols) = Σ_c U[ξ][o][c] · V[c][ξ][0, cols), cols a multiple of 16: 4 output
   channels × 16 tiles in 8 accumulators (cfn_winograd_gemm), or × 32 tiles in 8 zmm
   accumulators where the CPU has AVX-512 (cfn_winograd_gemm_avx512: the same bits). */
AVX512 static void transform_gemm_avx512(const float *u, const float *v, float *m, int cin,
                                       int cout_padded, int cols) {
    cfn_winograd_gemm_avx512(u, v, m, 16, XI_STRIDE, CHANNEL_STRIDE, cin, cout_padded, cols);
}

AVX2 static void transform_gemm(const float *u, const float *v, float *m, int cin, int cout_padded,
                                int cols) {
    if (cfn_cpu_has_avx512f())
        transform_gemm_avx512(u, v, m, cin, cout_padded, cols);
    else
        cfn_winograd_gemm(u, v, m, 16, XI_STRIDE, CHANNEL_STRIDE, cin, cout_padded, cols);
}

AVX2_INLINE __m256 activate(__m256 v, __m256 bias, const float *slope, __m256 a) {
    v = _mm256_add_ps(v, bias);
    return slope ? cfn_prelu8(v, a) : v;
}

/* Aᵀ M A of 8 tiles, then bias and PReLU. */
AVX2_INLINE void output_tiles8(const float *m, const int stride, __m256 bias, const float *slope,
                               __m256 a, __m256 y[2][2]) {
    cfn_winograd_output8(m, (size_t)stride, y);
    for (int r = 0; r < 2; ++r)
        for (int c = 0; c < 2; ++c) y[r][c] = activate(y[r][c], bias, slope, a);
}

/* A run of tiles of one tile row: output rows y0, y0 + 1 of image `image`, tiles [tx0, tx0 +
   count), at columns [col, col + count) of the segment's V and M. */
typedef struct tile_run {
    int image, y0, tx0, count, col;
} tile_run;

/* The input window of a run (or a group of 8 of its tiles), as input_tiles8 wants it. */
AVX2_INLINE void input_run(const float *plane, int rs, int h, int w, const tile_run *run,
                           float *vc) {
    const float *image = plane + (size_t)run->image * h * rs;
    const int y0 = run->y0;
    int t = 0;
    if (y0 >= 0 && y0 + 3 < h)
        for (; t + 8 <= run->count && 2 * (run->tx0 + t) + 18 <= w; t += 8)
            cfn_winograd_input8(image + (size_t)y0 * rs + 2 * (run->tx0 + t), (size_t)rs,
                                vc + run->col + t, XI_STRIDE);
    /* The edge: fewer than 8 tiles, or a window past the image. Writes 8 columns: those past
       the run belong to the next run (written after this one) or to the segment's padding. */
    for (; t < run->count; t += 8)
        cfn_winograd_input8_edge(image, (size_t)rs, h, w, y0, 2 * (run->tx0 + t),
                                 run->count - t < 8 ? run->count - t : 8, vc + run->col + t,
                                 XI_STRIDE);
}

/* Aᵀ M A, bias and PReLU of one run for output channel o, into the image's rows. Writes the
   outputs inside the (h − 2) × (w − 2) block, plus (vector path) the flat layout's garbage
   column w − 2 when w − 2 is odd: it is < w ≤ rs and no valid output reads it. */
AVX2_INLINE void output_run(const cfn_winograd_conv *conv, const float *mo, int o, float *plane,
                            int rs, int h, int w, const tile_run *run) {
    const int oh = h - 2, ow = w - 2;
    const __m256 bias = _mm256_set1_ps(conv->bias[o]);
    const __m256 a = _mm256_set1_ps(conv->slope ? conv->slope[o] : 0.0f);
    /* The tile's rows inside the output: y0 = −1 (row phase 1) has its second row only. */
    const int first_row = run->y0 >= 0, second_row = run->y0 + 1 < oh;
    float *row1 = plane + (size_t)run->image * h * rs + (ptrdiff_t)(run->y0 + 1) * rs;
    float *row0 = row1 - rs; /* not dereferenced when y0 = −1 */
    int t = 0;
    for (; t + 8 <= run->count && 2 * (run->tx0 + t) + 16 <= rs; t += 8) {
        __m256 y[2][2];
        output_tiles8(mo + run->col + t, XI_STRIDE, bias, conv->slope, a, y);
        if (first_row) cfn_winograd_store_interleaved(row0 + 2 * (run->tx0 + t), y[0][0], y[0][1]);
        if (second_row) cfn_winograd_store_interleaved(row1 + 2 * (run->tx0 + t), y[1][0], y[1][1]);
    }
    for (; t < run->count; t += 8) { /* vector arithmetic, scalar stores inside the output */
        __m256 y[2][2];
        float lanes[2][2][8];
        output_tiles8(mo + run->col + t, XI_STRIDE, bias, conv->slope, a, y);
        for (int r = 0; r < 2; ++r)
            for (int c = 0; c < 2; ++c) _mm256_storeu_ps(lanes[r][c], y[r][c]);
        for (int k = 0; k < 8 && t + k < run->count; ++k) {
            const int x = 2 * (run->tx0 + t + k);
            for (int c = 0; c < 2 && x + c < ow; ++c) {
                if (first_row) row0[x + c] = lanes[0][c][k];
                if (second_row) row1[x + c] = lanes[1][c][k];
            }
        }
    }
}

/* One segment: the runs' input transforms, the GEMMs over their `tiles` columns, the inverse
   transforms into the output. */
AVX2 static void winograd_segment(const cfn_winograd_conv *conv, const float *in, size_t in_plane,
                                  int rs, int h, int w, float *out, size_t out_plane,
                                  const tile_run *runs, int run_count, int tiles, float *v,
                                  float *m) {
    const int cin = conv->in_channels, cout = conv->out_channels;
    const int cols = (tiles + 15) / 16 * 16;
    for (int c = 0; c < cin; ++c) {
        float *vc = v + (size_t)c * CHANNEL_STRIDE;
        for (int r = 0; r < run_count; ++r) input_run(in + (size_t)c * in_plane, rs, h, w, &runs[r], vc);
        for (int t = tiles; t < cols; ++t) /* GEMM padding: zeros, not stale floats */
            for (int xi = 0; xi < 16; ++xi) vc[xi * XI_STRIDE + t] = 0.0f;
    }
    transform_gemm(conv->weight, v, m, cin, (cout + 3) / 4 * 4, cols);
    for (int o = 0; o < cout; ++o)
        for (int r = 0; r < run_count; ++r)
            output_run(conv, m + (size_t)o * CHANNEL_STRIDE, o, out + (size_t)o * out_plane, rs, h,
                       w, &runs[r]);
}
#endif

int cfn_winograd_conv_forward(const cfn_winograd_conv *conv, const float *in, size_t in_plane,
                              int rs, int images, int h, int w, int row_phase, float *out,
                              size_t out_plane, float *scratch) {
#if defined(__x86_64__) || defined(__i386__)
    if (!cfn_cpu_has_avx2_fma() || images < 1 || h < 3 || w < 3) return 0;
    float *v = scratch;
    float *m = scratch + (size_t)conv->in_channels * CHANNEL_STRIDE;
    const int oh = h - 2, ow = w - 2, phase = row_phase & 1;
    /* ⌈ow / 2⌉ tiles per tile row (an odd width leaves the last tile half outside); tile rows
       start at output row −phase of each image. Runs are gathered into segments of up to
       CHUNK tiles, so narrow images (R-Net's 9-wide outputs) still give the GEMM full rows. */
    const int tiles_x = (ow + 1) / 2;
    tile_run runs[CHUNK];
    int run_count = 0, tiles = 0;
    for (int image = 0; image < images; ++image)
        for (int y0 = -phase; y0 < oh; y0 += 2)
            for (int tx0 = 0; tx0 < tiles_x;) {
                if (tiles == CHUNK) {
                    winograd_segment(conv, in, in_plane, rs, h, w, out, out_plane, runs, run_count,
                                     tiles, v, m);
                    run_count = tiles = 0;
                }
                const int count = tiles_x - tx0 < CHUNK - tiles ? tiles_x - tx0 : CHUNK - tiles;
                runs[run_count++] = (tile_run){image, y0, tx0, count, tiles};
                tiles += count;
                tx0 += count;
            }
    if (tiles > 0)
        winograd_segment(conv, in, in_plane, rs, h, w, out, out_plane, runs, run_count, tiles, v, m);
    return 1;
#else
    (void)conv; (void)in; (void)in_plane; (void)rs; (void)images; (void)h; (void)w;
    (void)row_phase; (void)out; (void)out_plane; (void)scratch;
    return 0;
#endif
}

/* ---- test entries (testing.h) ------------------------------------------------------- */

#if defined(__x86_64__) || defined(__i386__)
AVX2 static void gemm_avx2(const float *u, const float *v, float *m, int points, size_t xi_stride,
                           size_t channel_stride, int cin, int cout_padded, int cols) {
    cfn_winograd_gemm(u, v, m, points, xi_stride, channel_stride, cin, cout_padded, cols);
}

AVX512 static void gemm_avx512(const float *u, const float *v, float *m, int points,
                               size_t xi_stride, size_t channel_stride, int cin, int cout_padded,
                               int cols) {
    cfn_winograd_gemm_avx512(u, v, m, points, xi_stride, channel_stride, cin, cout_padded, cols);
}
#endif

int cfn_winograd_gemm_paths(const float *u, const float *v, float *m, int points, int xi_stride,
                            int channel_stride, int cin, int cout_padded, int cols, int avx512) {
    if (!u || !v || !m || points < 1 || cin < 1 || cout_padded < 4 || cout_padded % 4 ||
        cols < 16 || cols % 16 || xi_stride < cols || channel_stride < points * xi_stride)
        return -1;
#if defined(__x86_64__) || defined(__i386__)
    if (avx512) {
        if (!cfn_cpu_has_avx512f()) return 0;
        gemm_avx512(u, v, m, points, (size_t)xi_stride, (size_t)channel_stride, cin, cout_padded, cols);
    } else {
        if (!cfn_cpu_has_avx2_fma()) return 0;
        gemm_avx2(u, v, m, points, (size_t)xi_stride, (size_t)channel_stride, cin, cout_padded, cols);
    }
    return 1;
#else
    (void)avx512;
    return 0;
#endif
}


int cfn_conv3x3_prelu(const float *weight, const float *bias, const float *slope, int out_channels,
                      int in_channels, const float *in, int images, int h, int w, int rs,
                      int row_phase, int winograd, float *out) {
    if (!weight || !in || !out || out_channels <= 0 || in_channels <= 0 || images < 1 || h < 3 ||
        w < 3 || rs < w || winograd < 0 || winograd > 3)
        return -1;
    const size_t plane = (size_t)images * h * rs;
    int done = 0;
    if (winograd) {
        /* 1: F(2×2, 3×3) (this file); 2: F(4×4, 3×3) (conv_winograd43.c); 3: F(3×3, 3×3)
           (conv_winograd33.c). */
        size_t floats;
        if (winograd == 2)
            floats = cfn_winograd43_conv_floats(out_channels, in_channels) +
                     cfn_winograd43_conv_scratch_floats(out_channels, in_channels);
        else if (winograd == 3)
            floats = cfn_winograd33_conv_floats(out_channels, in_channels) +
                     cfn_winograd33_conv_scratch_floats(out_channels, in_channels);
        else
            floats = cfn_winograd_conv_floats(out_channels, in_channels) +
                     cfn_winograd_conv_scratch_floats(out_channels, in_channels);
        float *storage = malloc(floats * sizeof(float));
        if (!storage) return -1;
        cfn_winograd_conv conv;
        if (winograd == 2) {
            float *scratch = cfn_winograd43_conv_pack(&conv, out_channels, in_channels, weight,
                                                      bias, slope, storage);
            done = cfn_winograd43_conv_forward(&conv, in, plane, rs, images, h, w, row_phase, out,
                                               plane, scratch);
        } else if (winograd == 3) {
            float *scratch = cfn_winograd33_conv_pack(&conv, out_channels, in_channels, weight,
                                                      bias, slope, storage);
            done = cfn_winograd33_conv_forward(&conv, in, plane, rs, images, h, w, row_phase, out,
                                               plane, scratch);
        } else {
            float *scratch = cfn_winograd_conv_pack(&conv, out_channels, in_channels, weight, bias,
                                                    slope, storage);
            done = cfn_winograd_conv_forward(&conv, in, plane, rs, images, h, w, row_phase, out,
                                             plane, scratch);
        }
        free(storage);
    } else {
        float *storage = malloc(cfn_flat_conv_floats(out_channels, in_channels, 3) * sizeof(float));
        if (!storage) return -1;
        cfn_flat_conv conv;
        cfn_flat_conv_pack(&conv, out_channels, in_channels, 3, weight, bias, slope, storage);
        /* Positions up to the last image's last valid output: the flat kernel reads no further. */
        cfn_flat_conv_forward(&conv, in, plane, rs, plane - 2 * (size_t)rs - (size_t)(rs - w) - 2,
                              out, plane, 0);
        free(storage);
        done = 1;
    }
    return done;
}
