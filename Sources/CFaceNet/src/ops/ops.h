/*
 * Internal ops shared by the networks. One op per file; every op writes into buffers the
 * caller owns and allocates nothing.
 *
 * Layout: activations are stored channel-major across the batch ("CNHW"): channel c of image n
 * is the H×W plane at data + (c·N + n)·H·W. A tensor is then a matrix of C rows and P = N·H·W
 * columns, so
 *   - a 1×1 convolution over the whole batch is a single GEMM (no im2col);
 *   - a channel slice [c0, c1) is contiguous: concatenation along channels is free, each branch
 *     of an Inception block writes straight into its slice of the output.
 */
#ifndef CFN_OPS_H
#define CFN_OPS_H

#include <stddef.h>

#include "gemm_packed.h"

typedef enum cfn_activation {
    CFN_ACTIVATION_NONE = 0,
    CFN_ACTIVATION_RELU = 1,
} cfn_activation;

/* A 2-D convolution whose weights the model owns. */
typedef struct cfn_conv2d {
    int in_channels, out_channels;
    int kernel_h, kernel_w;
    int stride_h, stride_w;
    int pad_h, pad_w;
    const float *weight;   /* [out_channels][in_channels · kernel_h · kernel_w] (PyTorch's
                              order), packed by cfn_gemm_pack_a */
    const float *bias;     /* [out_channels], or NULL */
    const float *winograd; /* 16 packed out × in transformed filters (conv2d_winograd.c), or
                              NULL */
    int weight_rows;       /* rows per panel of `weight`: CFN_GEMM_MR_WIDE, or 0 for
                              CFN_GEMM_MR (gemm_packed.h) */
    int blas;              /* 1: `weight` is not packed but row-major, [out][depth], for the
                              portable path's SGEMM (conv_blas.c); `winograd` is then NULL */
} cfn_conv2d;

/* Output extent of a convolution or floor-mode pooling along one axis (≤ 0: input too small). */
static inline int cfn_conv_out_extent(int in, int kernel, int stride, int pad) {
    return (in + 2 * pad - kernel) / stride + 1 - ((in + 2 * pad - kernel) < 0 ? 1 : 0);
}

/* Rows per panel of the convolution's packed weights (and Winograd filters). */
static inline int cfn_conv2d_panel_rows(const cfn_conv2d *conv) {
    return conv->weight_rows ? conv->weight_rows : CFN_GEMM_MR;
}

/* True when the convolution is a plain GEMM over its input (1×1, stride 1, no padding). */
int cfn_conv2d_is_pointwise(const cfn_conv2d *conv);

/* The GEMM depth of its im2col form: in_channels · kernel_h · kernel_w. */
int cfn_conv2d_depth(const cfn_conv2d *conv);

/*
 * out (CNHW, out_channels × n × out_h × out_w) = act(conv(in) + bias), on `engine`'s workers:
 * the input unfolded into the product's packed strips as it goes (no im2col buffer). With
 * `winograd` 1, a convolution with Winograd filters runs cfn_conv2d_winograd_forward on
 * `scratch` instead (unless the CPU lacks AVX2, the engine is portable, or `scratch_capacity`
 * floats hold less than one tile row). `out` must not overlap `in`.
 */
void cfn_conv2d_forward(const cfn_conv2d *conv, const float *in, int n, int h, int w, float *out,
                        float *scratch, size_t scratch_capacity, cfn_activation act, int winograd,
                        const cfn_gemm_engine *engine);

/* ---- The portable path (conv_blas.c): weights row-major, one SGEMM per layer ------------- */

/* Floats of the im2col matrix of a convolution over n images of h × w (0 for a pointwise one,
   whose input is that matrix already). */
size_t cfn_conv2d_blas_scratch_floats(const cfn_conv2d *conv, int n, int h, int w);

/* out (CNHW) = act(conv(in) + bias) for a convolution with `blas` weights: the input unfolded
   over the whole batch into `scratch` (cfn_conv2d_blas_scratch_floats), then one SGEMM (one per
   worker of `pool` when OpenBLAS runs on its caller alone). */
void cfn_conv2d_blas_forward(const cfn_conv2d *conv, const float *in, int n, int h, int w,
                             float *out, float *scratch, cfn_activation act, cfn_pool *pool);

/* C (m × n) = epilogue(A · B), A row-major m × k, B k × n and C with leading dimension n, as
   cfn_gemm_run's epilogues; CFN_GEMM_RESIDUAL needs m × n floats of `product` (else NULL). */
void cfn_blas_product(cfn_pool *pool, int m, int n, int k, const float *a, const float *b,
                      float *c, float *product, cfn_gemm_epilogue epilogue);

/* ---- Winograd F(2×2, 3×3) for CNHW convolutions (conv2d_winograd.c) ------------------------ */

/* 1 for a 3×3, stride-1 convolution with padding 0 or 1 on both axes. */
int cfn_conv2d_winograd_eligible(const cfn_conv2d *conv);

/* Floats of its transformed, packed filters (0 when not eligible). */
size_t cfn_conv2d_winograd_weight_floats(const cfn_conv2d *conv);

/* Transforms `weight` (PyTorch's [out][in][3][3], unpacked) into u: 16 packed out × in
   matrices; the caller then sets conv->winograd = u. */
void cfn_conv2d_winograd_pack(const cfn_conv2d *conv, const float *weight, float *u);

/* Scratch floats of cfn_conv2d_winograd_forward on n images of h × w: for all tile rows at once
   (`whole`) or for one (the least it works with). 0 when conv->winograd is NULL. */
size_t cfn_conv2d_winograd_scratch_floats(const cfn_conv2d *conv, int n, int h, int w, int whole);

/* out = act(conv(in) + bias) by Winograd, in as many chunks of tile rows as `capacity` floats
   of scratch require. Returns 0, having done nothing, without Winograd filters, AVX2 + FMA, or
   scratch for one tile row. */
int cfn_conv2d_winograd_forward(const cfn_conv2d *conv, const float *in, int n, int h, int w,
                                float *out, float *scratch, size_t capacity, cfn_activation act,
                                const cfn_gemm_engine *engine);

/* C (m × n, leading dimension ldc) = alpha · A (m × k) · B (k × n, leading dimension ldb) + beta · C. */
void cfn_gemm(int m, int n, int k, float alpha, const float *a, const float *b, int ldb,
              float beta, float *c, int ldc);

/* C (m × n) = Aᵀ · B, A stored k × m (leading dimension lda): a packed panel's product. */
void cfn_gemm_transposed_a(int m, int n, int k, const float *a, int lda, const float *b, int ldb,
                           float *c, int ldc);

/* Threads cfn_gemm's BLAS uses per call (process-wide, set by the application). */
int cfn_gemm_threads(void);

/* rows × cols block with leading dimension ld: x = act(x + bias[row]) (bias may be NULL). */
void cfn_bias_activation(float *x, int rows, int cols, int ld, const float *bias,
                         cfn_activation act);

/*
 * Max pooling over `planes` independent H×W planes, PyTorch semantics: windows that start in the
 * padding or past the input are clipped; ceil_mode as nn.MaxPool2d(ceil_mode=True).
 */
int cfn_pool_out_extent(int in, int kernel, int stride, int pad, int ceil_mode);
void cfn_maxpool2d(const float *in, int planes, int h, int w, int kernel, int stride, int pad,
                   int ceil_mode, float *out);

/* out[p] = mean of plane p (AdaptiveAvgPool2d(1)). */
void cfn_global_avgpool(const float *in, int planes, int plane_size, float *out);

/* NCHW (n × c × hw) → CNHW (c × n × hw), and back. */
void cfn_nchw_to_cnhw(const float *in, int n, int c, int hw, float *out);
void cfn_cnhw_to_nchw(const float *in, int c, int n, int hw, float *out);

/* Each of `rows` rows of length `cols` divided by max(‖row‖₂, 1e-12) (F.normalize). */
void cfn_l2_normalize_rows(float *x, int rows, int cols);

/* ---- MTCNN ops (prelu.c, softmax.c, linear.c, flatten.c, area_resample.c, maxpool_s2.c) - */
#include <stdint.h>

/* rows × cols block with leading dimension ld: x = x > 0 ? x : slope[row] · x (nn.PReLU). */
void cfn_prelu(float *x, int rows, int cols, int ld, const float *slope);
/* x = prelu(x + bias[row]): a convolution's bias and its PReLU fused in one pass. */
void cfn_bias_prelu(float *x, int rows, int cols, int ld, const float *bias, const float *slope);

/* PyTorch's max in a pooling window: v replaces m when greater or NaN (NaN propagates). The
   stride-2 pool and the fused conv + pool take their windows' maxima in the same order. */
#define CFN_MAX_NAN(m, v) ((v) > (m) || (v) != (v) ? (v) : (m))

/* MaxPool2d(kernel 2 or 3, stride 2, ceil_mode=True) over `planes` H×W planes: the same results
   as cfn_maxpool2d for those parameters, faster (no per-window clipping). */
void cfn_maxpool2d_s2_ceil(const float *in, int planes, int h, int w, int kernel, float *out);
/* The same over strided planes: plane p's row y starts at in + p·plane_stride + y·row_stride
   (a flat convolution's output); `out` is compact (planes × out_h × out_w). `portable` forces
   the scalar loops (otherwise AVX2 when available; both give the same values). */
void cfn_maxpool2d_s2_ceil_strided(const float *in, int planes, int h, int w, size_t row_stride,
                                   size_t plane_stride, int kernel, float *out, int portable);

/* The same with output plane p at out + p · out_plane (planes of a CNHW batch: one image's
   channels lie n images' planes apart). */
void cfn_maxpool2d_s2_ceil_to(const float *in, int planes, int h, int w, size_t row_stride,
                              size_t plane_stride, int kernel, float *out, size_t out_plane,
                              int portable);

/* Copies the h × w top-left block of strided planes into compact planes (planes × h × w). */
void cfn_compact_planes(const float *in, int planes, int h, int w, size_t row_stride,
                        size_t plane_stride, float *out);

/* ---- Direct flat convolution (conv_flat.c) ---------------------------------------------- */

/* Output channels computed together; weights are packed and padded to a multiple of this. */
#define CFN_FLAT_CONV_BLOCK 4

/* A stride-1, unpadded k×k convolution with its bias and an optional PReLU, packed. */
typedef struct cfn_flat_conv {
    int in_channels, out_channels, kernel;
    const float *weight; /* [⌈out/4⌉][in][k][k][4], zero-padded output channels */
    const float *bias;   /* [⌈out/4⌉·4] */
    const float *slope;  /* [⌈out/4⌉·4], or NULL: no activation */
} cfn_flat_conv;

/* Copies a layer's bias (NULL: zeros) and PReLU slope (NULL: zeros) into b and a, `count`
   each, for the packed convolutions; returns the slope pointer they keep (a, or NULL for no
   activation). */
const float *cfn_pack_bias_slope(float *b, float *a, int count, const float *bias,
                                 const float *slope);

/* Floats of storage cfn_flat_conv_pack writes (weight, bias and slope, padded). */
size_t cfn_flat_conv_floats(int out_channels, int in_channels, int kernel);

/*
 * Packs a PyTorch weight [out][in][k][k], bias [out] (NULL: zero) and PReLU slope [out] (NULL:
 * no activation) into `storage` (cfn_flat_conv_floats floats) and fills *conv. Returns the end
 * of the storage written.
 */
float *cfn_flat_conv_pack(cfn_flat_conv *conv, int out_channels, int in_channels, int kernel,
                          const float *weight, const float *bias, const float *slope,
                          float *storage);

/*
 * out[o][p] = act(bias[o] + Σ_c,ky,kx w[o][c][ky][kx] · in[c][p + ky·rs + kx]) for positions
 * p < `positions`; input channel c is the plane at in + c·in_plane, output channel o the plane
 * at out + o·out_plane. Every p + (k−1)·rs + k − 1 must lie inside its input plane. `portable`
 * forces the plain C path (otherwise AVX2 + FMA when the CPU has them).
 */
void cfn_flat_conv_forward(const cfn_flat_conv *conv, const float *in, size_t in_plane, int rs,
                           size_t positions, float *out, size_t out_plane, int portable);

/*
 * A 3×3 flat convolution (bias, optional PReLU) of conv_h × conv_w valid outputs (input rows rs
 * floats apart, conv_h + 2 rows per plane), then MaxPool2d(2, 2, ceil_mode=True), in one pass:
 * out holds out_channels planes of ⌈conv_h / 2⌉ × ⌈conv_w / 2⌉, bit-identical to
 * cfn_flat_conv_forward followed by cfn_maxpool2d_s2_ceil_strided. Reads no input past row
 * conv_h + 1, column conv_w + 1. Returns 0 (nothing done: the caller runs those two) without
 * AVX2 + FMA, when `portable`, for another kernel size or below 2 × 2 conv outputs; 1 when done.
 */
int cfn_flat_conv_maxpool2_forward(const cfn_flat_conv *conv, const float *in, size_t in_plane,
                                   int rs, int conv_h, int conv_w, float *out, int portable);

/*
 * P-Net's head (pnet_head.c): `head` is the 1×1 convolution to 6 channels (2 face logits, then
 * 4 box regressions, no activation) over `rows` rows of `width` positions (input rows rs floats
 * apart, channel c at in + c·in_plane); writes the softmax face probability to prob[y·width + x]
 * and regression j to reg[j·reg_plane + y·width + x]. Bit-identical to cfn_flat_conv_forward,
 * cfn_softmax_rows and copying the rows out. Reads only the `width` valid positions of a row.
 * Returns 0 (nothing done) without AVX2 + FMA or when `portable`; 1 when done.
 */
int cfn_pnet_head_forward(const cfn_flat_conv *head, const float *in, size_t in_plane, int rs,
                          int rows, int width, float *prob, float *reg, size_t reg_plane,
                          int portable);

/* ---- Winograd F(2×2, 3×3) convolution (conv_winograd.c) --------------------------------- */

/* A stride-1, unpadded 3×3 convolution with its bias and optional PReLU, its filters
   transformed (U = G g Gᵀ) and packed for the AVX2 kernel. */
typedef struct cfn_winograd_conv {
    int in_channels, out_channels;
    const float *weight; /* [16][⌈out/4⌉][in][4], zero-padded output channels */
    const float *bias;   /* [⌈out/4⌉·4] */
    const float *slope;  /* [⌈out/4⌉·4], or NULL: no activation */
} cfn_winograd_conv;

/* U = G g Gᵀ of one 3×3 filter g (row-major), G = [1 0 0; ½ ½ ½; ½ −½ ½; 0 0 1], in double:
   u[4i + j]. G's halves are exact, so U rounded to float differs from exact by one rounding. */
void cfn_winograd_filter_f23(const float *g, double u[16]);

/* Floats of storage cfn_winograd_conv_pack writes. */
size_t cfn_winograd_conv_floats(int out_channels, int in_channels);

/* Transforms and packs a PyTorch weight [out][in][3][3], bias [out] (NULL: zero) and PReLU
   slope [out] (NULL: none) into `storage`; returns the end of the storage written. */
float *cfn_winograd_conv_pack(cfn_winograd_conv *conv, int out_channels, int in_channels,
                              const float *weight, const float *bias, const float *slope,
                              float *storage);

/* Floats of scratch one cfn_winograd_conv_forward call needs (whatever the image size). */
size_t cfn_winograd_conv_scratch_floats(int out_channels, int in_channels);

/*
 * The convolution of `images` images of h × w stacked in each input plane (channel c at
 * in + c·in_plane, rows `rs` apart, image k from row k·h) into the same layout: image k's
 * (h − 2) × (w − 2) result starts at row k·h of each output plane (channel o at
 * out + o·out_plane), as a flat convolution of the stacked images leaves it. Reads only rows
 * of each image and columns < w; writes those results and possibly column w − 2 (a flat
 * layout's garbage column), nothing at or past column w and nothing in rows h − 2, h − 1 of an
 * image.
 *
 * `row_phase`: the parity of output row 0's row in the whole image when this call computes a
 * band of it. Tiles pair the whole image's output rows (2k, 2k + 1) whatever the band, so the
 * band's values are bit for bit those of the whole image (a tile's second row does not depend
 * on the input row above it, not even through rounding). Each stacked image's tiles start at
 * its own row −row_phase, so an image's results do not depend on its place in the stack.
 *
 * Needs AVX2 + FMA: returns 0 without touching `out` when the CPU lacks them (the caller then
 * runs cfn_flat_conv_forward), 1 when done.
 */
int cfn_winograd_conv_forward(const cfn_winograd_conv *conv, const float *in, size_t in_plane,
                              int rs, int images, int h, int w, int row_phase, float *out,
                              size_t out_plane, float *scratch);

/* ---- Winograd F(4×4, 3×3) convolution (conv_winograd43.c) -------------------------------- */

/* The same convolution with F(4×4, 3×3) (36 multiplications per 16 outputs and input channel
   against F(2×2)'s 64), on the same cfn_winograd_conv whose weight then holds
   [36][⌈out/4⌉][in][4] transformed filters: pack, scratch and forward as the F(2×2) functions
   above, with these differences. Tiles are 4×4: `row_phase` counts modulo 4 (tiles start at
   output row −(row_phase mod 4) of each image), and a band's values are bit for bit those of
   the whole image when the band starts at a multiple of 4 of the whole image's output rows and
   ends at one or at the image's end (a tile's rows depend, through rounding, on all of its 6
   input rows). Writes only the (h − 2) × (w − 2) results of each image. */
size_t cfn_winograd43_conv_floats(int out_channels, int in_channels);
float *cfn_winograd43_conv_pack(cfn_winograd_conv *conv, int out_channels, int in_channels,
                                const float *weight, const float *bias, const float *slope,
                                float *storage);
size_t cfn_winograd43_conv_scratch_floats(int out_channels, int in_channels);
int cfn_winograd43_conv_forward(const cfn_winograd_conv *conv, const float *in, size_t in_plane,
                                int rs, int images, int h, int w, int row_phase, float *out,
                                size_t out_plane, float *scratch);

/*
 * P-Net's conv3 and head in one pass: cfn_winograd43_conv_forward of one image (rs, h, w,
 * row_phase as there) followed by cfn_pnet_head_forward on its output rows [first, last), without
 * storing the convolution's output (the largest of P-Net's buffers, which the head read back
 * from L3). `head`: the 1×1 convolution to 6 channels over the convolution's output channels.
 * Writes prob[(y − first)·(w − 2) + x] and reg[j·reg_plane + (y − first)·(w − 2) + x] for the
 * rows y in [first, last) and the columns x < w − 2, bit-identical to the two calls. `scratch`:
 * cfn_winograd43_head_scratch_floats. Returns 0 (nothing done) without AVX2 + FMA or for another
 * head.
 */
size_t cfn_winograd43_head_scratch_floats(int out_channels, int in_channels);
int cfn_winograd43_conv_pnet_head(const cfn_winograd_conv *conv, const cfn_flat_conv *head,
                                  const float *in, size_t in_plane, int rs, int h, int w,
                                  int row_phase, int first, int last, float *prob, float *reg,
                                  size_t reg_plane, float *scratch);

/* ---- Winograd F(3×3, 3×3) convolution (conv_winograd33.c) -------------------------------- */

/* The same convolution with F(3×3, 3×3) (25 multiplications per 9 outputs and input channel):
   [25][⌈out/4⌉][in][4] transformed filters, tiles of 3×3 gathered 8 at a time value by value,
   for maps a few tiles wide (R-Net's 9×9). `row_phase` counts modulo 3. Writes only the
   (h − 2) × (w − 2) results of each image. */
size_t cfn_winograd33_conv_floats(int out_channels, int in_channels);
float *cfn_winograd33_conv_pack(cfn_winograd_conv *conv, int out_channels, int in_channels,
                                const float *weight, const float *bias, const float *slope,
                                float *storage);
size_t cfn_winograd33_conv_scratch_floats(int out_channels, int in_channels);
int cfn_winograd33_conv_forward(const cfn_winograd_conv *conv, const float *in, size_t in_plane,
                                int rs, int images, int h, int w, int row_phase, float *out,
                                size_t out_plane, float *scratch);

/* 1 when the CPU (and OS) support AVX2 and FMA, and FACEREC_DISABLE_AVX2 is not set (then
   every op takes its portable path, as on arm64). */
int cfn_cpu_has_avx2_fma(void);
/* 1 when the CPU has AVX-512F and the OS saves the ZMM and mask registers (0 under
   FACEREC_DISABLE_AVX2). */
int cfn_cpu_has_avx512f(void);

/* FaceNet's MaxPool2d(3, stride 2) (floor mode, no padding) of `planes` h × w planes: 16 output
   columns at a time when `avx512` (the engine runs AVX-512 kernels), cfn_maxpool2d otherwise. */
void cfn_maxpool3x3_s2(const float *in, int planes, int h, int w, int avx512, float *out);

/* Softmax across the `rows` channels of each column (nn.Softmax(dim=1) on CNHW), in place. */
void cfn_softmax_rows(float *x, int rows, int cols, int ld);

/*
 * out (out_features × n) = weight (out_features × in_features) · in (in_features × n) + bias:
 * nn.Linear on feature-major activations (CNHW with H = W = 1).
 */
void cfn_linear_forward(const float *weight, const float *bias, int out_features,
                        int in_features, const float *in, int n, float *out);

/*
 * Reorders a Linear weight that follows x.permute(0, 3, 2, 1).flatten() (features ordered
 * (x, y, channel)) into (channel, y, x) order, so it applies to cfn_flatten_cnhw's output.
 */
void cfn_linear_permute_hwc_weight(const float *weight, int out_features, int c, int h, int w,
                                   float *out);

/* CNHW (c × n × hw) → feature-major ((c·hw) × n), rows ordered (channel, y, x). */
void cfn_flatten_cnhw(const float *in, int c, int n, int hw, float *out);

/*
 * F.interpolate(mode='area') of the RGB8 region at (x0, y0), region_w × region_h, to
 * out_h × out_w, normalised as (v − 127.5) · 0.0078125, written as 3 planes. `scratch` holds
 * cfn_area_resample_scratch_floats(region_w, out_w) floats (4-byte aligned). `portable` forces
 * the plain C row sums (otherwise AVX2 when available; both give the same integers).
 */
size_t cfn_area_resample_scratch_floats(int region_w, int out_w);
void cfn_area_resample_rgb8(const uint8_t *rgb, size_t stride, int x0, int y0, int region_w,
                            int region_h, int out_h, int out_w, float *out, void *scratch,
                            int portable);
/* The same for output rows [row_begin, row_end) only, written as 3 planes of
   (row_end − row_begin) × out_w. */
void cfn_area_resample_rgb8_rows(const uint8_t *rgb, size_t stride, int x0, int y0, int region_w,
                                 int region_h, int out_h, int out_w, int row_begin, int row_end,
                                 float *out, void *scratch, int portable);
/* 1 when every window's sum is exact in float32 (integer fast path), 0 otherwise. */
int cfn_area_resample_exact_fast(int region_h, int region_w, int out_h, int out_w);

#endif
