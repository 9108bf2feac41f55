/*
 * FaceNet's 3×3 stride-1 convolutions (padding 0 or 1) by Winograd's F(2×2, 3×3), in the CNHW
 * layout of ops.h: 16 multiplications per 2×2 outputs and input channel instead of 36. These
 * layers are over a third of the network's multiply-adds (conv2d_2a, 2b, 4a, the Block35
 * branches, Mixed_6a's and Mixed_7a's inner 3×3s), and im2col + GEMM spends a further fifth of
 * a pass copying their 9× unfolded inputs.
 *
 * For a chunk of tile rows (2 output rows of one image each): the input transform
 * V[ξ][c][t] = Bᵀ d B of every tile's 4×4 window (zeros outside the image: the padding), 16
 * OpenBLAS GEMMs M[ξ] = U[ξ] · V[ξ] (U[ξ] = the transformed filters, cout × cin, made at load
 * time), then the inverse transform Aᵀ M A, bias and ReLU into the output rows. The GEMMs are
 * OpenBLAS's, threaded as every other layer (which is why FaceNet, with several BLAS threads,
 * sends only its wide layers here: inception_resnet_v1.c); the transforms (winograd_f23.h)
 * need AVX2, and without it the caller keeps im2col + GEMM.
 *
 * The result differs from the direct sum by rounding only (the transforms add and subtract,
 * G's halves are exact); FaceNet's parity test holds it to facenet-pytorch at 1e-4.
 */
#include "cfacenet.h"
#include "ops.h"

#include <stdlib.h>
#include <string.h>

/* Tile columns past a row's last tile that an 8-wide transform may write or read: each
   channel's row of V and M is this much longer than the chunk's tiles. */
#define TILE_PAD 8

/* Output extents and tile grid of the convolution on h × w inputs. */
typedef struct tile_grid {
    int out_h, out_w;
    int rows_per_image, tiles_per_row; /* ⌈out_h / 2⌉, ⌈out_w / 2⌉ */
} tile_grid;

static tile_grid grid_for(const cfn_conv2d *conv, int h, int w) {
    tile_grid g;
    g.out_h = cfn_conv_out_extent(h, 3, 1, conv->pad_h);
    g.out_w = cfn_conv_out_extent(w, 3, 1, conv->pad_w);
    g.rows_per_image = (g.out_h + 1) / 2;
    g.tiles_per_row = (g.out_w + 1) / 2;
    return g;
}

int cfn_conv2d_winograd_eligible(const cfn_conv2d *conv) {
    return conv->kernel_h == 3 && conv->kernel_w == 3 && conv->stride_h == 1 &&
           conv->stride_w == 1 && conv->pad_h == conv->pad_w && conv->pad_h >= 0 &&
           conv->pad_h <= 1;
}

size_t cfn_conv2d_winograd_weight_floats(const cfn_conv2d *conv) {
    return cfn_conv2d_winograd_eligible(conv)
               ? (size_t)16 * conv->out_channels * conv->in_channels
               : 0;
}

void cfn_conv2d_winograd_pack(const cfn_conv2d *conv, float *u) {
    const int cout = conv->out_channels, cin = conv->in_channels;
    for (int o = 0; o < cout; ++o)
        for (int c = 0; c < cin; ++c) {
            double t[16];
            cfn_winograd_filter_f23(conv->weight + ((size_t)o * cin + c) * 9, t);
            for (int xi = 0; xi < 16; ++xi) u[((size_t)xi * cout + o) * cin + c] = (float)t[xi];
        }
}

/* Floats of scratch for `tiles` tiles at once: V and M, each 16 points × channels × row. */
static size_t chunk_floats(const cfn_conv2d *conv, size_t tiles) {
    return (size_t)16 * (conv->in_channels + conv->out_channels) * (tiles + TILE_PAD);
}

size_t cfn_conv2d_winograd_scratch_floats(const cfn_conv2d *conv, int n, int h, int w,
                                          int whole) {
    if (!conv->winograd) return 0;
    const tile_grid g = grid_for(conv, h, w);
    const size_t rows = whole ? (size_t)n * g.rows_per_image : 1;
    return chunk_floats(conv, rows * g.tiles_per_row);
}

#if defined(__x86_64__) || defined(__i386__)
#include "winograd_f23.h"

/* V for tile rows [r0, r1) (row r = image · rows_per_image + ty), channel stride `ld`. */
AVX2 static void input_transform(const cfn_conv2d *conv, const float *in, int n, int h, int w,
                                 const tile_grid *g, int r0, int r1, float *v, size_t ld) {
    const int cin = conv->in_channels, pad = conv->pad_h, tw = g->tiles_per_row;
    const size_t plane = (size_t)h * w, xi_stride = (size_t)cin * ld;
    for (int c = 0; c < cin; ++c) {
        float *vc = v + (size_t)c * ld;
        for (int r = r0; r < r1; ++r) {
            const int image = r / g->rows_per_image, ty = r % g->rows_per_image;
            const float *src = in + ((size_t)c * n + image) * plane;
            const int y0 = 2 * ty - pad;
            float *dst = vc + (size_t)(r - r0) * tw;
            int tx = 0;
            if (y0 >= 0 && y0 + 4 <= h) {
                /* With padding, tile 0's window starts in it: staged first, since an 8-wide
                   transform writes 8 columns and the vector groups then overwrite 1..7. */
                if (pad) cfn_winograd_input8_edge(src, (size_t)w, h, w, y0, -pad, 1, dst, xi_stride);
                /* Whole windows: 8 tiles read 18 columns. */
                for (tx = pad ? 1 : 0; tx + 8 <= tw && 2 * tx - pad + 18 <= w; tx += 8)
                    cfn_winograd_input8(src + (size_t)y0 * w + 2 * tx - pad, (size_t)w, dst + tx,
                                        xi_stride);
            }
            /* The right edge, and rows that reach into the padding: staged. A group's columns
               past the row are the next row's (written after it) or the chunk's padding. */
            for (; tx < tw; tx += 8) {
                const int tiles = tw - tx < 8 ? tw - tx : 8;
                cfn_winograd_input8_edge(src, (size_t)w, h, w, y0, 2 * tx - pad, tiles, dst + tx,
                                         xi_stride);
            }
        }
    }
}

/* act(y + bias) on 8 lanes: ReLU as cfn_bias_activation's (v > 0 ? v : 0). */
AVX2_INLINE __m256 bias_act(__m256 y, __m256 bias, int relu) {
    const __m256 v = _mm256_add_ps(y, bias);
    return relu ? _mm256_and_ps(v, _mm256_cmp_ps(v, _mm256_setzero_ps(), _CMP_GT_OQ)) : v;
}

/* Aᵀ M A, bias and activation of tile rows [r0, r1) into the output planes. */
AVX2 static void output_transform(const cfn_conv2d *conv, const float *m, size_t ld, int n,
                                  const tile_grid *g, int r0, int r1, float *out, int relu) {
    const int cout = conv->out_channels, tw = g->tiles_per_row, oh = g->out_h, ow = g->out_w;
    const size_t plane = (size_t)oh * ow, xi_stride = (size_t)cout * ld;
    for (int o = 0; o < cout; ++o) {
        const __m256 bias = _mm256_set1_ps(conv->bias ? conv->bias[o] : 0.0f);
        const float *mo = m + (size_t)o * ld;
        for (int r = r0; r < r1; ++r) {
            const int image = r / g->rows_per_image, ty = r % g->rows_per_image;
            float *row0 = out + ((size_t)o * n + image) * plane + (size_t)(2 * ty) * ow;
            float *row1 = row0 + ow;
            const int second = 2 * ty + 1 < oh;
            const float *mt = mo + (size_t)(r - r0) * tw;
            int tx = 0;
            for (; tx + 8 <= tw && 2 * tx + 16 <= ow; tx += 8) {
                __m256 y[2][2];
                cfn_winograd_output8(mt + tx, xi_stride, y);
                cfn_winograd_store_interleaved(row0 + 2 * tx, bias_act(y[0][0], bias, relu),
                                               bias_act(y[0][1], bias, relu));
                if (second)
                    cfn_winograd_store_interleaved(row1 + 2 * tx, bias_act(y[1][0], bias, relu),
                                                   bias_act(y[1][1], bias, relu));
            }
            for (; tx < tw; tx += 8) { /* the right edge: vector arithmetic, scalar stores */
                __m256 y[2][2];
                float lanes[2][2][8];
                cfn_winograd_output8(mt + tx, xi_stride, y);
                for (int a = 0; a < 2; ++a)
                    for (int b = 0; b < 2; ++b) _mm256_storeu_ps(lanes[a][b], bias_act(y[a][b], bias, relu));
                for (int k = 0; k < 8 && tx + k < tw; ++k)
                    for (int b = 0; b < 2 && 2 * (tx + k) + b < ow; ++b) {
                        row0[2 * (tx + k) + b] = lanes[0][b][k];
                        if (second) row1[2 * (tx + k) + b] = lanes[1][b][k];
                    }
            }
        }
    }
}

static void winograd_forward(const cfn_conv2d *conv, const float *in, int n, int h, int w,
                             float *out, float *scratch, size_t capacity, cfn_activation act) {
    const tile_grid g = grid_for(conv, h, w);
    const int cin = conv->in_channels, cout = conv->out_channels, tw = g.tiles_per_row;
    const int total_rows = n * g.rows_per_image;
    /* Tile rows per chunk: as many as the scratch holds (the caller checked that one fits). */
    const size_t per_point = (size_t)16 * (cin + cout);
    const size_t fit = (capacity / per_point - TILE_PAD) / (size_t)tw;
    const int rows = fit >= (size_t)total_rows ? total_rows : fit < 1 ? 1 : (int)fit;
    for (int r0 = 0; r0 < total_rows; r0 += rows) {
        const int r1 = r0 + rows < total_rows ? r0 + rows : total_rows;
        const size_t tiles = (size_t)(r1 - r0) * tw, ld = tiles + TILE_PAD;
        float *v = scratch, *m = scratch + (size_t)16 * cin * ld;
        input_transform(conv, in, n, h, w, &g, r0, r1, v, ld);
        for (int xi = 0; xi < 16; ++xi)
            cfn_gemm(cout, (int)tiles, cin, 1.0f, conv->winograd + (size_t)xi * cout * cin,
                     v + (size_t)xi * cin * ld, (int)ld, 0.0f, m + (size_t)xi * cout * ld,
                     (int)ld);
        output_transform(conv, m, ld, n, &g, r0, r1, out, act == CFN_ACTIVATION_RELU);
    }
}
#endif

int cfn_conv2d_winograd_forward(const cfn_conv2d *conv, const float *in, int n, int h, int w,
                                float *out, float *scratch, size_t capacity, cfn_activation act) {
#if defined(__x86_64__) || defined(__i386__)
    if (!conv->winograd || !cfn_cpu_has_avx2_fma() ||
        capacity < cfn_conv2d_winograd_scratch_floats(conv, n, h, w, 0))
        return 0;
    winograd_forward(conv, in, n, h, w, out, scratch, capacity, act);
    return 1;
#else
    (void)conv; (void)in; (void)n; (void)h; (void)w; (void)out; (void)scratch; (void)capacity;
    (void)act;
    return 0;
#endif
}

/* ---- test entry (cfacenet.h) -------------------------------------------------------------- */

int cfn_conv3x3_cnhw(const float *weight, const float *bias, int out_channels, int in_channels,
                     const float *in, int n, int h, int w, int pad, int relu, int winograd,
                     size_t scratch_floats, float *out) {
    if (!weight || !in || !out || out_channels <= 0 || in_channels <= 0 || n < 1 || pad < 0 ||
        pad > 1 || h + 2 * pad < 3 || w + 2 * pad < 3)
        return -1;
    cfn_conv2d conv = {in_channels, out_channels, 3, 3, 1, 1, pad, pad, weight, bias, NULL};
    const cfn_activation act = relu ? CFN_ACTIVATION_RELU : CFN_ACTIVATION_NONE;
    float *u = NULL;
    if (winograd) {
        u = malloc(cfn_conv2d_winograd_weight_floats(&conv) * sizeof(float));
        if (!u) return -1;
        cfn_conv2d_winograd_pack(&conv, u);
        conv.winograd = u;
        if (scratch_floats == 0) scratch_floats = cfn_conv2d_winograd_scratch_floats(&conv, n, h, w, 1);
    } else {
        scratch_floats = cfn_conv2d_full_col_floats(&conv, n, h, w);
    }
    float *scratch = malloc((scratch_floats > 0 ? scratch_floats : 1) * sizeof(float));
    int done = scratch != NULL ? 1 : -1;
    if (scratch && winograd)
        done = cfn_conv2d_winograd_forward(&conv, in, n, h, w, out, scratch, scratch_floats, act);
    else if (scratch)
        cfn_conv2d_forward(&conv, in, n, h, w, out, scratch, scratch_floats, act, 0);
    free(scratch);
    free(u);
    return done;
}
