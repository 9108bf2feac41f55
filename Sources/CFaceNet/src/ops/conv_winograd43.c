/*
 * 3×3 convolution (stride 1, no padding) by Winograd's minimal filtering F(4×4, 3×3), with the
 * bias and PReLU fused into the store: 36 multiplications per 4×4 outputs and input channel
 * instead of the direct kernel's 144 (F(2×2, 3×3), which this kernel ran before 2026-12-07,
 * needs 64). MTCNN spends most of its arithmetic in 3×3 layers (P-Net's 16→32, R-Net's 28→48,
 * O-Net's 32→64 and 64→64) where the direct kernel (conv_flat.c) already runs close to the
 * FMA peak: fewer multiplications are the only way left to make them faster.
 *
 * For each tile of 4×4 outputs, with d its 6×6 input window, g a 3×3 filter:
 *     Y = Aᵀ [ Σ_c (G g_c Gᵀ) ⊙ (Bᵀ d_c B) ] A
 * (Lavin & Gray, "Fast Algorithms for Convolutional Neural Networks", 2016; the matrices are in
 * winograd_f43.h). G's sixths and twenty-fourths are applied in double and rounded once, and
 * the transforms scale by at most 8, so the result differs from the direct sum by rounding
 * alone (MTCNNKernelPathTests bounds it on the nets' layer shapes).
 *
 * Layout: planes with a row stride `rs` (a flat convolution's layout, conv_flat.c), holding one
 * image or several stacked vertically. Tiles are gathered into segments of up to CHUNK tiles
 * (runs of tile rows, across rows and images, so that narrow images still fill them): the
 * segment's transformed input V[c][ξ][t] (ξ = 6i + j, the 36 transform-domain points), one
 * small GEMM per ξ into M[o][ξ][t], then the inverse transform, bias and PReLU into the output
 * rows. A segment's buffers stay in L2, and a tile's 36 points lie at fixed offsets
 * (ξ·XI_STRIDE) from each other, which the transforms address without extra registers.
 *
 * A tile's 16 outputs are only worth its larger transforms when most of them are inside the
 * image: R-Net's 9×9 maps fill 81 of 144 (3×3 tiles) and ran slower than with F(2×2)
 * (conv_winograd.c); R-Net takes F(3×3) (conv_winograd33.c), P-Net's conv2 and conv3 and
 * O-Net's conv2 and conv3 this kernel.
 *
 * P-Net's conv3 can end in its head instead (cfn_winograd43_conv_pnet_head): each group of 8
 * tiles' outputs, all 32 channels, stays in L1 and goes through the 1×1 head there.
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
/* Transform-domain points per tile. */
#define POINTS 36
/* Floats between two channels of V or of M: 36 points, plus one cache line so that the GEMM's
   loads of 16 channels (or stores of 4) do not all fall in one L1 set. */
#define CHANNEL_STRIDE (POINTS * XI_STRIDE + 16)

/* U = G g Gᵀ of one 3×3 filter for F(4×4, 3×3), in double: u[6i + j]. */
static void filter_f43(const float *g, double u[POINTS]) {
    static const double G[6][3] = {{1.0 / 4, 0, 0},
                                   {-1.0 / 6, -1.0 / 6, -1.0 / 6},
                                   {-1.0 / 6, 1.0 / 6, -1.0 / 6},
                                   {1.0 / 24, 1.0 / 12, 1.0 / 6},
                                   {1.0 / 24, -1.0 / 12, 1.0 / 6},
                                   {0, 0, 1}};
    double t[6][3]; /* G g */
    for (int i = 0; i < 6; ++i)
        for (int k = 0; k < 3; ++k)
            t[i][k] = G[i][0] * g[k] + G[i][1] * g[3 + k] + G[i][2] * g[6 + k];
    for (int i = 0; i < 6; ++i)
        for (int j = 0; j < 6; ++j)
            u[6 * i + j] = t[i][0] * G[j][0] + t[i][1] * G[j][1] + t[i][2] * G[j][2];
}

size_t cfn_winograd43_conv_floats(int out_channels, int in_channels) {
    const size_t padded = (size_t)(out_channels + 3) / 4 * 4;
    return POINTS * padded * (size_t)in_channels + 2 * padded;
}

size_t cfn_winograd43_conv_scratch_floats(int out_channels, int in_channels) {
    const size_t padded = (size_t)(out_channels + 3) / 4 * 4;
    return ((size_t)in_channels + padded) * CHANNEL_STRIDE;
}

float *cfn_winograd43_conv_pack(cfn_winograd_conv *conv, int out_channels, int in_channels,
                                const float *weight, const float *bias, const float *slope,
                                float *storage) {
    const int padded = (out_channels + 3) / 4 * 4;
    float *u = storage;
    float *b = u + (size_t)POINTS * padded * in_channels;
    float *a = b + padded;
    memset(storage, 0, cfn_winograd43_conv_floats(out_channels, in_channels) * sizeof(float));
    for (int o = 0; o < out_channels; ++o)
        for (int c = 0; c < in_channels; ++c) {
            double t[POINTS];
            filter_f43(weight + ((size_t)o * in_channels + c) * 9, t);
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
#include "pnet_head_tile.h"
#include "winograd_f43.h"

/* M[o][ξ][0, cols) = Σ_c U[ξ][o][c] · V[c][ξ][0, cols), cols a multiple of 16: 4 output
   channels × 16 tiles in 8 accumulators (cfn_winograd_gemm), or × 32 tiles in 8 zmm
   accumulators where the CPU has AVX-512 (cfn_winograd_gemm_avx512: the same bits). */
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

AVX2_INLINE __m256 activate(__m256 v, __m256 bias, const float *slope, __m256 a) {
    v = _mm256_add_ps(v, bias);
    return slope ? cfn_prelu8(v, a) : v;
}

/* Aᵀ M A of 8 tiles, then bias and PReLU. */
AVX2_INLINE void output_tiles8(const float *m, const int stride, __m256 bias, const float *slope,
                               __m256 a, __m256 y[4][4]) {
    cfn_f43_output8(m, (size_t)stride, y);
    for (int r = 0; r < 4; ++r)
        for (int c = 0; c < 4; ++c) y[r][c] = activate(y[r][c], bias, slope, a);
}

/* A run of tiles of one tile row: output rows [y0, y0 + 4) of image `image`, tiles [tx0, tx0 +
   count), at columns [col, col + count) of the segment's V and M. */
typedef struct tile_run {
    int image, y0, tx0, count, col;
} tile_run;

/* The input windows of a run, 8 tiles at a time. */
AVX2_INLINE void input_run(const float *plane, int rs, int h, int w, const tile_run *run,
                           float *vc) {
    const float *image = plane + (size_t)run->image * h * rs;
    const int y0 = run->y0;
    int t = 0;
    if (y0 >= 0 && y0 + 5 < h)
        for (; t + 8 <= run->count && 4 * (run->tx0 + t) + 34 <= w; t += 8)
            cfn_f43_input8(image + (size_t)y0 * rs + 4 * (run->tx0 + t), (size_t)rs,
                           vc + run->col + t, XI_STRIDE);
    /* The edge: fewer than 8 tiles, or a window past the image. Writes 8 columns: those past
       the run belong to the next run (written after this one) or to the segment's padding. */
    for (; t < run->count; t += 8)
        cfn_f43_input8_edge(image, (size_t)rs, h, w, y0, 4 * (run->tx0 + t),
                            run->count - t < 8 ? run->count - t : 8, vc + run->col + t,
                            XI_STRIDE);
}

/* Aᵀ M A, bias and PReLU of one run for output channel o, into the image's rows. Writes only
   the outputs inside the (h − 2) × (w − 2) block: 8 whole tiles inside it with vector stores,
   the rest value by value. */
AVX2_INLINE void output_run(const cfn_winograd_conv *conv, const float *mo, int o, float *plane,
                            int rs, int h, int w, const tile_run *run) {
    const int oh = h - 2, ow = w - 2;
    const __m256 bias = _mm256_set1_ps(conv->bias[o]);
    const __m256 a = _mm256_set1_ps(conv->slope ? conv->slope[o] : 0.0f);
    /* The tile's rows inside the output: [r0, r1) of its 4 (a band's first tile row starts
       above the band when its row phase is not 0; the image's last one may end below). */
    const int r0 = run->y0 < 0 ? -run->y0 : 0;
    const int r1 = oh - run->y0 < 4 ? oh - run->y0 : 4;
    float *top = plane + (size_t)run->image * h * rs + (ptrdiff_t)run->y0 * rs; /* row r at top + r·rs */
    int t = 0;
    for (; t + 8 <= run->count && 4 * (run->tx0 + t) + 32 <= ow; t += 8) {
        __m256 y[4][4];
        output_tiles8(mo + run->col + t, XI_STRIDE, bias, conv->slope, a, y);
        for (int r = r0; r < r1; ++r)
            cfn_f43_store_interleaved(top + (ptrdiff_t)r * rs + 4 * (run->tx0 + t), y[r]);
    }
    for (; t < run->count; t += 8) { /* vector arithmetic, scalar stores inside the output */
        __m256 y[4][4];
        float lanes[4][4][8];
        output_tiles8(mo + run->col + t, XI_STRIDE, bias, conv->slope, a, y);
        for (int r = 0; r < 4; ++r)
            for (int c = 0; c < 4; ++c) _mm256_storeu_ps(lanes[r][c], y[r][c]);
        for (int k = 0; k < 8 && t + k < run->count; ++k) {
            const int x = 4 * (run->tx0 + t + k);
            for (int r = r0; r < r1; ++r)
                for (int c = 0; c < 4 && x + c < ow; ++c)
                    top[(ptrdiff_t)r * rs + x + c] = lanes[r][c][k];
        }
    }
}

/* A segment's transform-domain product M: the runs' input transforms into V, then the GEMMs
   over their `tiles` columns. */
AVX2_INLINE void segment_product(const cfn_winograd_conv *conv, const float *in, size_t in_plane,
                                 int rs, int h, int w, const tile_run *runs, int run_count,
                                 int tiles, float *v, float *m) {
    const int cin = conv->in_channels, cout = conv->out_channels;
    const int cols = (tiles + 15) / 16 * 16;
    for (int c = 0; c < cin; ++c) {
        float *vc = v + (size_t)c * CHANNEL_STRIDE;
        for (int r = 0; r < run_count; ++r) input_run(in + (size_t)c * in_plane, rs, h, w, &runs[r], vc);
        for (int t = tiles; t < cols; ++t) /* GEMM padding: zeros, not stale floats */
            for (int xi = 0; xi < POINTS; ++xi) vc[xi * XI_STRIDE + t] = 0.0f;
    }
    transform_gemm(conv->weight, v, m, cin, (cout + 3) / 4 * 4, cols);
}

/* One segment: its product M, then the inverse transforms, bias and PReLU into the output. */
AVX2 static void winograd_segment(const cfn_winograd_conv *conv, const float *in, size_t in_plane,
                                  int rs, int h, int w, float *out, size_t out_plane,
                                  const tile_run *runs, int run_count, int tiles, float *v,
                                  float *m) {
    const int cout = conv->out_channels;
    segment_product(conv, in, in_plane, rs, h, w, runs, run_count, tiles, v, m);
    for (int o = 0; o < cout; ++o)
        for (int r = 0; r < run_count; ++r)
            output_run(conv, m + (size_t)o * CHANNEL_STRIDE, o, out + (size_t)o * out_plane, rs, h,
                       w, &runs[r]);
}

/* n ≤ 32 floats of a row: a whole group's 32 in vector moves (a copy of variable length is a
   call to memmove: 1.5 % of the portrait's time when every copy was one). */
AVX2_INLINE void copy_row32(float *dst, const float *src, int n) {
    if (n == 32)
        for (int k = 0; k < 32; k += 8) _mm256_storeu_ps(dst + k, _mm256_loadu_ps(src + k));
    else memcpy(dst, src, sizeof(float) * (size_t)n);
}

/* P-Net's head on 8 tiles of one run: the convolution's outputs of every channel (bias, PReLU)
   into `ybuf` (channel o's 16 tile positions at ybuf + 128·o, lanes = tiles), then
   cfn_pnet_head_tile over them, two tile positions (16 floats) at a time with the channels 128
   floats apart — the tile pnet_head.c runs over a stored row, so the values are its values bit
   for bit — and the rows in [first, last) of the columns inside the output, put back in image
   order, into `prob` and `reg`. */
AVX2_INLINE void head_tiles8(const cfn_winograd_conv *conv, const cfn_flat_conv *head,
                             const float *mt, const tile_run *run, int t, int ow, int first,
                             int last, float *ybuf, float *prob, float *reg, size_t reg_plane) {
    const int cout = conv->out_channels;
    for (int o = 0; o < cout; ++o) {
        const __m256 bias = _mm256_set1_ps(conv->bias[o]);
        const __m256 a = _mm256_set1_ps(conv->slope ? conv->slope[o] : 0.0f);
        __m256 y[4][4];
        output_tiles8(mt + (size_t)o * CHANNEL_STRIDE, XI_STRIDE, bias, conv->slope, a, y);
        for (int q = 0; q < 16; ++q) _mm256_storeu_ps(ybuf + 128 * o + 8 * q, y[q / 4][q % 4]);
    }
    /* rows[j][r][32]: output j (0 the probability, 1–4 the regressions) at tile row r, 8 tiles ×
       4 columns in image order. */
    float rows[5][4][32];
    for (int q = 0; q < 16; q += 2) { /* tile positions q, q + 1: columns c, c + 1 of row q / 4 */
        float p[16], g[4][16];
        cfn_pnet_head_tile(head, ybuf + 8 * q, 128, 16, p, g[0], 16);
        for (int j = 0; j < 5; ++j) {
            const float *v = j == 0 ? p : g[j - 1];
            float *row = rows[j][q / 4];
            for (int k = 0; k < 8; ++k) {
                row[4 * k + q % 4] = v[k];
                row[4 * k + q % 4 + 1] = v[8 + k];
            }
        }
    }
    const int x0 = 4 * (run->tx0 + t);
    const int tiles = run->count - t < 8 ? run->count - t : 8;
    const int n = ow - x0 < 4 * tiles ? ow - x0 : 4 * tiles;
    for (int r = 0; r < 4; ++r) {
        const int y = run->y0 + r;
        if (y < first || y >= last) continue;
        const size_t at = (size_t)(y - first) * ow + x0;
        copy_row32(prob + at, rows[0][r], n);
        for (int j = 0; j < 4; ++j) copy_row32(reg + (size_t)j * reg_plane + at, rows[1 + j][r], n);
    }
}

AVX2 static void segment_head(const cfn_winograd_conv *conv, const cfn_flat_conv *head,
                              const float *in, size_t in_plane, int rs, int h, int w,
                              const tile_run *runs, int run_count, int tiles, float *v, float *m,
                              float *ybuf, int first, int last, float *prob, float *reg,
                              size_t reg_plane) {
    segment_product(conv, in, in_plane, rs, h, w, runs, run_count, tiles, v, m);
    for (int r = 0; r < run_count; ++r)
        for (int t = 0; t < runs[r].count; t += 8)
            head_tiles8(conv, head, m + runs[r].col + t, &runs[r], t, w - 2, first, last, ybuf,
                        prob, reg, reg_plane);
}
#endif

int cfn_winograd43_conv_forward(const cfn_winograd_conv *conv, const float *in, size_t in_plane,
                                int rs, int images, int h, int w, int row_phase, float *out,
                                size_t out_plane, float *scratch) {
#if defined(__x86_64__) || defined(__i386__)
    if (!cfn_cpu_has_avx2_fma() || images < 1 || h < 3 || w < 3) return 0;
    float *v = scratch;
    float *m = scratch + (size_t)conv->in_channels * CHANNEL_STRIDE;
    const int oh = h - 2, ow = w - 2, phase = row_phase & 3;
    /* ⌈ow / 4⌉ tiles per tile row (the last may reach past the output); tile rows start at
       output row −phase of each image. Runs are gathered into segments of up to CHUNK tiles,
       so narrow images (R-Net's 9-wide outputs) still give the GEMM full rows. */
    const int tiles_x = (ow + 3) / 4;
    tile_run runs[CHUNK];
    int run_count = 0, tiles = 0;
    for (int image = 0; image < images; ++image)
        for (int y0 = -phase; y0 < oh; y0 += 4)
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

size_t cfn_winograd43_head_scratch_floats(int out_channels, int in_channels) {
    return cfn_winograd43_conv_scratch_floats(out_channels, in_channels) +
           (size_t)128 * out_channels;
}

int cfn_winograd43_conv_pnet_head(const cfn_winograd_conv *conv, const cfn_flat_conv *head,
                                  const float *in, size_t in_plane, int rs, int h, int w,
                                  int row_phase, int first, int last, float *prob, float *reg,
                                  size_t reg_plane, float *scratch) {
#if defined(__x86_64__) || defined(__i386__)
    if (!cfn_cpu_has_avx2_fma() || h < 3 || w < 3 || head->kernel != 1 ||
        head->out_channels != 6 || head->slope || head->in_channels != conv->out_channels)
        return 0;
    float *v = scratch;
    float *m = scratch + (size_t)conv->in_channels * CHANNEL_STRIDE;
    float *ybuf = m + (size_t)((conv->out_channels + 3) / 4 * 4) * CHANNEL_STRIDE;
    const int oh = h - 2, ow = w - 2, phase = row_phase & 3;
    if (first < 0) { /* rows above the output: none to write, prob and reg start at row 0 */
        prob += (size_t)(-first) * ow;
        reg += (size_t)(-first) * ow;
        first = 0;
    }
    if (last > oh) last = oh;
    const int tiles_x = (ow + 3) / 4;
    tile_run runs[CHUNK];
    int run_count = 0, tiles = 0;
    /* Tile rows as cfn_winograd43_conv_forward lays them (from output row −phase), those with
       no row in [first, last) left out: a tile's values do not depend on the others. */
    for (int y0 = -phase; y0 < oh; y0 += 4) {
        if (y0 + 4 <= first || y0 >= last) continue;
        for (int tx0 = 0; tx0 < tiles_x;) {
            if (tiles == CHUNK) {
                segment_head(conv, head, in, in_plane, rs, h, w, runs, run_count, tiles, v, m,
                             ybuf, first, last, prob, reg, reg_plane);
                run_count = tiles = 0;
            }
            const int count = tiles_x - tx0 < CHUNK - tiles ? tiles_x - tx0 : CHUNK - tiles;
            runs[run_count++] = (tile_run){0, y0, tx0, count, tiles};
            tiles += count;
            tx0 += count;
        }
    }
    if (tiles > 0)
        segment_head(conv, head, in, in_plane, rs, h, w, runs, run_count, tiles, v, m, ybuf,
                     first, last, prob, reg, reg_plane);
    return 1;
#else
    (void)conv; (void)head; (void)in; (void)in_plane; (void)rs; (void)h; (void)w;
    (void)row_phase; (void)first; (void)last; (void)prob; (void)reg; (void)reg_plane;
    (void)scratch;
    return 0;
#endif
}

/* ---- test entry (testing.h) --------------------------------------------------------- */

int cfn_winograd43_pnet_head_paths(const float *weight, const float *bias, const float *slope,
                                   int cout, int cin, const float *head_weight,
                                   const float *head_bias, const float *in, int h, int w, int rs,
                                   int row_phase, int first, int last, int fused, float *prob,
                                   float *reg) {
    if (!weight || !head_weight || !head_bias || !in || !prob || !reg || cout <= 0 || cin <= 0 ||
        h < 3 || w < 3 || rs < w || first < 0 || last > h - 2 || first >= last)
        return -1;
    const size_t conv_floats = cfn_winograd43_conv_floats(cout, cin);
    const size_t head_floats = cfn_flat_conv_floats(6, cout, 1);
    const size_t scratch_floats = cfn_winograd43_head_scratch_floats(cout, cin);
    const size_t plane = (size_t)h * rs;
    const size_t out_floats = fused ? 0 : (size_t)cout * plane;
    float *storage = malloc((conv_floats + head_floats + scratch_floats + out_floats) * sizeof(float));
    if (!storage) return -1;
    cfn_winograd_conv conv;
    cfn_flat_conv head;
    cfn_winograd43_conv_pack(&conv, cout, cin, weight, bias, slope, storage);
    cfn_flat_conv_pack(&head, 6, cout, 1, head_weight, head_bias, NULL, storage + conv_floats);
    float *scratch = storage + conv_floats + head_floats;
    const int ow = w - 2;
    const size_t reg_plane = (size_t)(last - first) * ow;
    int done;
    if (fused) {
        done = cfn_winograd43_conv_pnet_head(&conv, &head, in, plane, rs, h, w, row_phase, first,
                                             last, prob, reg, reg_plane, scratch);
    } else {
        float *out = scratch + scratch_floats;
        done = cfn_winograd43_conv_forward(&conv, in, plane, rs, 1, h, w, row_phase, out, plane,
                                           scratch);
        if (done)
            done = cfn_pnet_head_forward(&head, out + (size_t)first * rs, plane, rs, last - first,
                                         ow, prob, reg, reg_plane, 0);
    }
    free(storage);
    return done;
}
