/*
 * CFaceNet MTCNN: forward passes of facenet-pytorch's P-Net, R-Net and O-Net, and the area
 * resampling (F.interpolate(mode='area')) + normalisation that feeds them.
 *
 * Objects follow cfacenet.h: a model (cfn_mtcnn_pnet, cfn_mtcnn_rnet, cfn_mtcnn_onet) is built
 * once from the facenet-pytorch state_dict tensors ("conv1.weight", "prelu1.weight",
 * "dense4.weight", ...) through a cfn_tensor_lookup_fn and is read-only afterwards; every forward
 * pass takes the cfn_context of the calling thread for its workspace and last error message.
 *
 * Image tensors are planar float32: channel c (RGB order) of image i is the H×W plane at
 * data + (i·3 + c)·H·W (NCHW, PyTorch's layout), already normalised as (x − 127.5) · 0.0078125.
 *
 * Every entry point returns a cfn_status; nothing aborts or exits on bad input.
 */
#ifndef CFACENET_MTCNN_H
#define CFACENET_MTCNN_H

#include "cfacenet.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- Area resampling ----------------------------------------------------------------------- */

/*
 * Resamples the region [x0, x1) × [y0, y1) of an RGB8 interleaved image (width × height, rows
 * of `stride` bytes) to out_height × out_width exactly as facenet-pytorch's imresample
 * (F.interpolate(mode='area'), i.e. adaptive average pooling, float32, sum / kh / kw) and
 * normalises each value as (v − 127.5) · 0.0078125. Writes 3 planes (3 × out_height ×
 * out_width) to `out`. The region must lie inside the image and be non-empty.
 */
cfn_status cfn_mtcnn_resample(cfn_context *ctx, const uint8_t *rgb, int width, int height,
                              size_t stride, int x0, int y0, int x1, int y1, int out_height,
                              int out_width, float *out);

/* ---- P-Net: fully convolutional proposal network -------------------------------------------- */

#define CFN_MTCNN_PNET_MIN_INPUT 12

typedef struct cfn_mtcnn_pnet cfn_mtcnn_pnet;

/*
 * Builds P-Net from conv1..conv3 (+ prelu1..prelu3), conv4_1 and conv4_2. On failure *out is
 * NULL and, when message is not NULL, a description naming the tensor is written there.
 */
cfn_status cfn_mtcnn_pnet_create(cfn_tensor_lookup_fn lookup, void *user, cfn_mtcnn_pnet **out,
                                 char *message, size_t capacity);
void cfn_mtcnn_pnet_destroy(cfn_mtcnn_pnet *model);

/* The output grid for an input of height × width (both 0 when either side is below 12). */
void cfn_mtcnn_pnet_output_size(int height, int width, int *out_height, int *out_width);

/*
 * One image, 3 × height × width (height, width ≥ CFN_MTCNN_PNET_MIN_INPUT). Writes the face
 * probability (softmax channel 1) to `prob` (out_height × out_width) and the box regression
 * (conv4_2) to `reg` (4 × out_height × out_width). Large inputs are processed in horizontal
 * bands, so the workspace stays bounded whatever the image size.
 */
cfn_status cfn_mtcnn_pnet_forward(const cfn_mtcnn_pnet *model, cfn_context *ctx,
                                  const float *image, int height, int width, float *prob,
                                  float *reg);

/*
 * P-Net on one pyramid level straight from an RGB8 image: the level is `image` (width × height,
 * rows of `stride` bytes) area-resampled and normalised as cfn_mtcnn_resample does to
 * level_height × level_width, and only output rows [row_begin, row_end) are computed (the level
 * is resampled band by band, never whole). `prob` and `reg` are the whole level's outputs, laid
 * out as cfn_mtcnn_pnet_forward's; only the rows asked for are written, so threads with their
 * own contexts may fill disjoint row ranges of the same buffers at once.
 */
cfn_status cfn_mtcnn_pnet_forward_rgb8(const cfn_mtcnn_pnet *model, cfn_context *ctx,
                                       const uint8_t *rgb, int width, int height, size_t stride,
                                       int level_height, int level_width, int row_begin,
                                       int row_end, float *prob, float *reg);

/* ---- R-Net: 24×24 refinement network -------------------------------------------------------- */

#define CFN_MTCNN_RNET_INPUT 24

typedef struct cfn_mtcnn_rnet cfn_mtcnn_rnet;

cfn_status cfn_mtcnn_rnet_create(cfn_tensor_lookup_fn lookup, void *user, cfn_mtcnn_rnet **out,
                                 char *message, size_t capacity);
void cfn_mtcnn_rnet_destroy(cfn_mtcnn_rnet *model);

/*
 * n ≥ 0 crops, n × 3 × 24 × 24. Writes the face probability (n) and the box regression
 * (n × 4, row-major). Any n is accepted: the batch is processed in bounded chunks.
 */
cfn_status cfn_mtcnn_rnet_forward(const cfn_mtcnn_rnet *model, cfn_context *ctx,
                                  const float *images, int n, float *prob, float *reg);

/* ---- O-Net: 48×48 output network ------------------------------------------------------------ */

#define CFN_MTCNN_ONET_INPUT 48

typedef struct cfn_mtcnn_onet cfn_mtcnn_onet;

cfn_status cfn_mtcnn_onet_create(cfn_tensor_lookup_fn lookup, void *user, cfn_mtcnn_onet **out,
                                 char *message, size_t capacity);
void cfn_mtcnn_onet_destroy(cfn_mtcnn_onet *model);

/*
 * n ≥ 0 crops, n × 3 × 48 × 48. Writes the face probability (n), the box regression (n × 4)
 * and the landmarks (n × 10: x₁…x₅ then y₁…y₅, relative to the crop, as dense6_3 gives them).
 */
cfn_status cfn_mtcnn_onet_forward(const cfn_mtcnn_onet *model, cfn_context *ctx,
                                  const float *images, int n, float *prob, float *reg,
                                  float *landmarks);

/* ---- Building blocks ------------------------------------------------------------------------
 * The layer ops the nets are made of, exposed so each can be checked against PyTorch on its
 * own. Activations are channel-major ("CNHW": channel c of image i is the plane at
 * (c·N + i)·H·W); a dense layer's activations are features × batch.
 */

/* x = x > 0 ? x : slope[row] · x on a rows × cols block with leading dimension ld (nn.PReLU). */
void cfn_prelu(float *x, int rows, int cols, int ld, const float *slope);
/* Softmax across the `rows` channels of every column, in place (nn.Softmax(dim=1)). */
void cfn_softmax_rows(float *x, int rows, int cols, int ld);
/* out (out_features × n) = weight (out_features × in_features) · in (in_features × n) + bias. */
void cfn_linear_forward(const float *weight, const float *bias, int out_features,
                        int in_features, const float *in, int n, float *out);
/* Reorders a Linear weight written for x.permute(0, 3, 2, 1).flatten() to (channel, y, x). */
void cfn_linear_permute_hwc_weight(const float *weight, int out_features, int c, int h, int w,
                                   float *out);
/* CNHW (c × n × hw) → features × n, features ordered (channel, y, x). */
void cfn_flatten_cnhw(const float *in, int c, int n, int hw, float *out);
/* nn.MaxPool2d output extent and forward over `planes` H×W planes (ceil_mode as PyTorch). */
int cfn_pool_out_extent(int in, int kernel, int stride, int pad, int ceil_mode);
void cfn_maxpool2d(const float *in, int planes, int h, int w, int kernel, int stride, int pad,
                   int ceil_mode, float *out);
/* The stride-2 ceil-mode special case the nets use (kernel 2 or 3): AVX2 where available, and
   the same forced onto its portable loops (for testing one against the other). */
void cfn_maxpool2d_s2_ceil(const float *in, int planes, int h, int w, int kernel, float *out);
void cfn_maxpool2d_s2_ceil_portable(const float *in, int planes, int h, int w, int kernel,
                                    float *out);
/*
 * The nets' two 3×3 convolution kernels, for testing one against the other: out =
 * PReLU(conv3x3(in) + bias) (slope NULL: no PReLU) of `images` images of h × w values stacked
 * in each of in_channels planes (rows rs ≥ w floats apart, image k from row k·h) into
 * out_channels planes of the same size, where image k's (h − 2) × (w − 2) result starts at row
 * k·h. `winograd` 1: Winograd F(2×2, 3×3), with `row_phase` as cfn_winograd_conv_forward
 * (ops.h) documents; 0: the direct kernel. Returns 1 when done, 0 when Winograd was asked for
 * on a CPU without AVX2 + FMA, −1 for bad arguments or no memory.
 */
int cfn_conv3x3_prelu(const float *weight, const float *bias, const float *slope, int out_channels,
                      int in_channels, const float *in, int images, int h, int w, int rs,
                      int row_phase, int winograd, float *out);

/*
 * P-Net's first layer two ways, for testing one against the other: PReLU(conv3x3(in) + bias)
 * (slope NULL: no PReLU) of one h × w image in each of in_channels planes (rows rs ≥ w floats
 * apart), then MaxPool2d(2, 2, ceil_mode=True), into out_channels planes of ⌈(h − 2) / 2⌉ ×
 * ⌈(w − 2) / 2⌉. `fused` 1: the one-pass kernel; 0: the direct kernel, then the pool. Returns 1
 * when done, 0 when the fused kernel was asked for on a CPU without AVX2 + FMA, −1 for bad
 * arguments or no memory.
 */
int cfn_conv3x3_prelu_maxpool2(const float *weight, const float *bias, const float *slope,
                               int out_channels, int in_channels, const float *in, int h, int w,
                               int rs, int fused, float *out);

#ifdef __cplusplus
}
#endif

#endif /* CFACENET_MTCNN_H */
