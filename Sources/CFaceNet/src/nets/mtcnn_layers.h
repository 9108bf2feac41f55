/* Internal: the layers MTCNN's three networks share (conv + PReLU, merged heads, classifier). */
#ifndef CFN_NETS_MTCNN_LAYERS_H
#define CFN_NETS_MTCNN_LAYERS_H

#include "cfacenet_mtcnn.h"
#include "../core/context.h"
#include "../core/weights.h"
#include "../ops/ops.h"

/* Conv2d (no padding, stride 1) + PReLU, optionally followed by MaxPool2d(2 or 3, stride 2,
   ceil_mode=True): a packed direct convolution with the bias and PReLU fused, and for the 3×3
   layers with 16 or more input channels (where most of the nets' arithmetic is) the same
   packed for Winograd (F(4×4), F(3×3) or F(2×2)), which the AVX2 path runs instead. */
typedef struct mtcnn_conv_layer {
    cfn_flat_conv conv;
    cfn_winograd_conv winograd;
    int has_winograd;
    /* 4: F(4×4, 3×3) (conv_winograd43.c), 3: F(3×3, 3×3) (conv_winograd33.c), 2: F(2×2, 3×3)
       (conv_winograd.c) */
    int winograd_tile;
    int pool_kernel, pool_stride; /* 0: no pooling */
} mtcnn_conv_layer;

typedef struct mtcnn_conv_spec {
    const char *conv, *prelu;
    int in_channels, out_channels, kernel;
    int pool_kernel, pool_stride;
    /* Output tile side of the layer's Winograd kernel, for the layers that take one (3×3, 16 or
       more input channels): 4 for F(4×4, 3×3), 3 for F(3×3, 3×3), 2 for F(2×2, 3×3); 0 for
       the others. */
    int winograd_tile;
} mtcnn_conv_spec;

/* A head: a Linear or 1×1 Conv2d by name, `out` outputs; heads are stacked into one matrix. */
typedef struct mtcnn_head_spec {
    const char *name;
    int out;
} mtcnn_head_spec;

/* Floats of storage a conv layer keeps (weight, bias, slope, in both packings). */
size_t mtcnn_conv_floats(const mtcnn_conv_spec *spec);

/* Floats of scratch mtcnn_conv_layer_forward needs for the layer (0 without Winograd). */
size_t mtcnn_conv_scratch_floats(const mtcnn_conv_layer *layer);

/* Copies a conv layer's tensors to *cursor (advanced) and fills *layer. */
cfn_status mtcnn_load_conv(const cfn_weight_source *source, const mtcnn_conv_spec *spec,
                           float **cursor, mtcnn_conv_layer *layer);

/*
 * Stacks heads (each "<name>.weight" [out, in] or [out, in, 1, 1] and "<name>.bias" [out]) into
 * one packed 1×1 convolution at *cursor (advanced by cfn_flat_conv_floats(Σout, in, 1)).
 * conv = 1 expects the 4-D 1×1 convolution shape.
 */
cfn_status mtcnn_load_heads(const cfn_weight_source *source, const mtcnn_head_spec *heads,
                            int count, int in, int conv, float **cursor, cfn_flat_conv *out);

/* The layer's Winograd convolution (its F(4×4) or F(2×2) kernel) of `images` stacked images, as
   cfn_winograd_conv_forward; 0 (nothing done) when the layer has none or the CPU lacks AVX2. */
int mtcnn_winograd_forward(const mtcnn_conv_layer *layer, const float *in, size_t in_plane, int rs,
                           int images, int h, int w, int row_phase, float *out, size_t out_plane,
                           float *scratch);

/* Output extents of a conv layer (with its pooling) on h × w; ≤ 0 when the input is too small. */
void mtcnn_conv_layer_out(const mtcnn_conv_layer *layer, int h, int w, int *conv_h, int *conv_w,
                          int *out_h, int *out_w);

/*
 * Runs a conv layer on n compact images stacked per channel (CNHW, h × w): the convolution
 * into `conv_out` (C × n·h·w, flat layout), then the pooling, or for a layer without pooling
 * the copy of the valid region, into `out` (compact CNHW). A pooled layer without Winograd
 * (the nets' first) runs image by image through the first C × h·w floats of `conv_out`.
 * `scratch`: the layer's mtcnn_conv_scratch_floats. `portable` as cfn_flat_conv_forward (and
 * no Winograd).
 */
void mtcnn_conv_layer_forward(const mtcnn_conv_layer *layer, const float *in, int n, int h,
                              int w, float *conv_out, float *out, float *scratch, int portable);

/* ---- R-Net and O-Net: conv stack → permuted flatten → Linear + PReLU → stacked heads ------- */

#define MTCNN_MAX_CONVS 4
#define MTCNN_MAX_HEADS 3

typedef struct mtcnn_classifier_spec {
    const char *net; /* "R-Net", for messages */
    int input_size;
    int num_convs;
    mtcnn_conv_spec convs[MTCNN_MAX_CONVS];
    const char *dense, *dense_prelu;
    int dense_out;
    int num_heads;
    mtcnn_head_spec heads[MTCNN_MAX_HEADS];
    int max_batch; /* images per chunk: bounds the workspace */
} mtcnn_classifier_spec;

typedef struct mtcnn_classifier {
    int input_size, num_convs, max_batch;
    mtcnn_conv_layer convs[MTCNN_MAX_CONVS];
    int flat_c, flat_h, flat_w;
    int dense_out;
    cfn_flat_conv dense; /* Linear + PReLU as a 1×1 convolution, features in (c, y, x) order */
    int head_out;
    cfn_flat_conv head; /* the stacked heads */
    float *storage;
} mtcnn_classifier;

cfn_status mtcnn_classifier_init(mtcnn_classifier *net, const mtcnn_classifier_spec *spec,
                                 cfn_tensor_lookup_fn lookup, void *user, char *message,
                                 size_t capacity);
void mtcnn_classifier_release(mtcnn_classifier *net);

/*
 * n images NCHW (n × 3 × S × S), processed in chunks of max_batch. Writes the face probability
 * (softmax of head rows 0–1, row 1) to prob (n), head rows 2–5 to reg (n × 4) and, when the net
 * has them, rows 6–15 to landmarks (n × 10). `name` ("R-Net") prefixes error messages.
 */
cfn_status mtcnn_classifier_forward(const mtcnn_classifier *net, cfn_context *ctx,
                                    const char *name, const float *images, int n, float *prob,
                                    float *reg, float *landmarks);

#endif
