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
 * The builders, the resampling and the forward passes return a cfn_status;
 * cfn_mtcnn_pnet_output_size and the destructors cannot fail. Nothing aborts or exits on bad
 * input. The layer ops the nets are made of are declared, for tests, in the CFaceNetTesting
 * target's header.
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

/*
 * The horizontal pass of PIL's `Image.resize(size, BILINEAR)` on 8-bit RGB (Pillow's
 * ImagingResampleHorizontal_8bpc), as facenet-pytorch's extract_face runs it: `rows` rows of
 * in_width pixels from `src` to out_width pixels in `dst`, output pixel xx of a row = per
 * channel clip8((2^21 + Σ_{k < count[xx]} pixel(first[xx] + k) · weights[xx · stride + k]) >> 22)
 * with Pillow's 22-bit fixed-point weights (non-negative, summing to 2^22). Bit for bit Pillow's
 * bytes on every CPU.
 */
void cfn_pil_resample_horizontal(const uint8_t *src, int in_width, int rows, int out_width,
                                 const int32_t *first, const int32_t *count,
                                 const int32_t *weights, int stride, uint8_t *dst);

/*
 * The vertical pass of the same resize (Pillow's ImagingResampleVertical_8bpc): out_height rows
 * of row_bytes bytes to `dst`, byte i of output row yy = clip8((2^21 + Σ_{k < count[yy]}
 * src[(first[yy] + k) · row_bytes + i] · weights[yy · stride + k]) >> 22), with Pillow's 22-bit
 * fixed-point weights as above. Every row first[yy] … first[yy] + count[yy] − 1 must lie in `src`
 * (not checked), and `dst` must not overlap it. Bit for bit Pillow's bytes on every CPU.
 */
void cfn_pil_resample_vertical(const uint8_t *src, size_t row_bytes, int out_height,
                               const int32_t *first, const int32_t *count,
                               const int32_t *weights, int stride, uint8_t *dst);

/*
 * Interleaved 8-bit RGB (`pixels` pixels, 3 · pixels bytes) to three float32 planes at out,
 * out + pixels and out + 2 · pixels (3 · pixels floats, not overlapping the input): value
 * (v − offset) · scale, as two float32 operations (the same floats on every CPU). offset 127.5
 * and scale 1/128 give facenet-pytorch's fixed_image_standardization.
 */
void cfn_rgb8_to_planes(const uint8_t *rgb, size_t pixels, float offset, float scale, float *out);

/*
 * torchvision's NMS (`nms`) over n boxes already in descending score order, given as columns
 * (corners and areas): marks in suppressed[0, n) the boxes a higher-scored kept box overlaps by
 * an IoU (float32) above `threshold` (compared in double), as torchvision's CPU kernel does, and
 * returns how many are kept.
 */
int cfn_nms_suppress(const float *x1, const float *y1, const float *x2, const float *y2,
                     const float *area, int n, double threshold, unsigned char *suppressed);

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

/*
 * Output rows of one of the bands P-Net computes a level `level_width` wide in (a multiple of 4,
 * at least 4). A cfn_mtcnn_pnet_forward_rgb8 call for rows [k·band, (k + 1)·band) (or to the
 * level's end) runs exactly one band and reads no input row the band would not read in a call
 * for the whole level: cutting a level there shares it between threads at no extra cost.
 */
int cfn_mtcnn_pnet_band_rows(int level_width);

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

#ifdef __cplusplus
}
#endif

#endif /* CFACENET_MTCNN_H */
