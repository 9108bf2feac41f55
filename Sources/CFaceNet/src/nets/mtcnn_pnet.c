/*
 * P-Net (facenet-pytorch PNet), fully convolutional over one pyramid level. Large levels are
 * processed in horizontal bands of output rows: output row oy sees input rows [2·oy, 2·oy + 12),
 * so a band of R output rows needs 2·R + 10 input rows (the last band takes the rest of the
 * image, which reproduces MaxPool2d's ceil_mode window at the bottom edge).
 */
#include "mtcnn_layers.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Input pixels per band: bounds the workspace (~30 MB) whatever the image size. */
#define PNET_BAND_PIXELS (1 << 16)
#define PNET_HEADS 6 /* conv4_1 (2 logits) stacked over conv4_2 (4 regressions) */

struct cfn_mtcnn_pnet {
    mtcnn_conv_layer convs[3];
    cfn_conv2d head;
    float *storage;
};

static const mtcnn_conv_spec pnet_convs[3] = {
    {"conv1", "prelu1", 3, 10, 3, 2, 2},
    {"conv2", "prelu2", 10, 16, 3, 0, 0},
    {"conv3", "prelu3", 16, 32, 3, 0, 0},
};
static const mtcnn_head_spec pnet_heads[2] = {{"conv4_1", 2}, {"conv4_2", 4}};

cfn_status cfn_mtcnn_pnet_create(cfn_tensor_lookup_fn lookup, void *user, cfn_mtcnn_pnet **out,
                                 char *message, size_t capacity) {
    if (!out)
        return cfn_message_fail(message, capacity, CFN_ERROR_INVALID_ARGUMENT,
                                "P-Net: output pointer is NULL");
    *out = NULL;
    if (!lookup)
        return cfn_message_fail(message, capacity, CFN_ERROR_INVALID_ARGUMENT,
                                "P-Net: lookup function is NULL");
    cfn_mtcnn_pnet *model = calloc(1, sizeof *model);
    size_t total = PNET_HEADS * 32 + PNET_HEADS;
    for (int i = 0; i < 3; ++i) total += mtcnn_conv_floats(&pnet_convs[i]);
    float *storage = model ? malloc(total * sizeof(float)) : NULL;
    if (!storage) {
        free(model);
        return cfn_message_fail(message, capacity, CFN_ERROR_OUT_OF_MEMORY,
                                "P-Net: cannot allocate the model");
    }
    model->storage = storage;
    const cfn_weight_source source = {lookup, user, message, capacity};
    cfn_status status = CFN_OK;
    float *cursor = storage;
    for (int i = 0; i < 3 && status == CFN_OK; ++i)
        status = mtcnn_load_conv(&source, &pnet_convs[i], &cursor, &model->convs[i]);
    if (status == CFN_OK)
        status = mtcnn_load_heads(&source, pnet_heads, 2, 32, 1, cursor, cursor + PNET_HEADS * 32);
    if (status != CFN_OK) {
        if (message && capacity > 0) {
            char detail[CFN_ERROR_CAPACITY];
            snprintf(detail, sizeof detail, "%s", message);
            snprintf(message, capacity, "P-Net: %s", detail);
        }
        cfn_mtcnn_pnet_destroy(model);
        return status;
    }
    model->head.in_channels = 32;
    model->head.out_channels = PNET_HEADS;
    model->head.kernel_h = model->head.kernel_w = 1;
    model->head.stride_h = model->head.stride_w = 1;
    model->head.weight = cursor;
    model->head.bias = cursor + PNET_HEADS * 32;
    *out = model;
    return CFN_OK;
}

void cfn_mtcnn_pnet_destroy(cfn_mtcnn_pnet *model) {
    if (!model) return;
    free(model->storage);
    free(model);
}

void cfn_mtcnn_pnet_output_size(int height, int width, int *out_height, int *out_width) {
    int oh = 0, ow = 0;
    if (height >= CFN_MTCNN_PNET_MIN_INPUT && width >= CFN_MTCNN_PNET_MIN_INPUT) {
        oh = cfn_pool_out_extent(height - 2, 2, 2, 0, 1) - 4;
        ow = cfn_pool_out_extent(width - 2, 2, 2, 0, 1) - 4;
    }
    if (out_height) *out_height = oh;
    if (out_width) *out_width = ow;
}

/* Buffer sizes of one band of `rows` input rows (× width). */
typedef struct pnet_band_plan {
    size_t input, conv[3], pool, head, col;
} pnet_band_plan;

static pnet_band_plan plan_band(const cfn_mtcnn_pnet *model, int rows, int width) {
    pnet_band_plan plan;
    memset(&plan, 0, sizeof plan);
    plan.input = (size_t)3 * rows * width;
    int h = rows, w = width;
    for (int i = 0; i < 3; ++i) {
        int ch, cw, oh, ow;
        mtcnn_conv_layer_out(&model->convs[i], h, w, &ch, &cw, &oh, &ow);
        const size_t col = mtcnn_conv_col_floats(&model->convs[i], 1, h, w);
        if (col > plan.col) plan.col = col;
        plan.conv[i] = (size_t)model->convs[i].conv.out_channels * ch * cw;
        if (model->convs[i].pool_kernel) plan.pool = (size_t)model->convs[i].conv.out_channels * oh * ow;
        h = oh;
        w = ow;
    }
    plan.head = (size_t)PNET_HEADS * h * w;
    return plan;
}

cfn_status cfn_mtcnn_pnet_forward(const cfn_mtcnn_pnet *model, cfn_context *ctx,
                                  const float *image, int height, int width, float *prob,
                                  float *reg) {
    if (!ctx) return CFN_ERROR_INVALID_ARGUMENT;
    if (!model || !image || !prob || !reg)
        return cfn_context_fail(ctx, CFN_ERROR_INVALID_ARGUMENT, "P-Net: NULL argument");
    if (height < CFN_MTCNN_PNET_MIN_INPUT || width < CFN_MTCNN_PNET_MIN_INPUT)
        return cfn_context_fail(ctx, CFN_ERROR_INVALID_ARGUMENT,
                                "P-Net: input %d×%d is smaller than %d×%d", height, width,
                                CFN_MTCNN_PNET_MIN_INPUT, CFN_MTCNN_PNET_MIN_INPUT);
    int out_h, out_w;
    cfn_mtcnn_pnet_output_size(height, width, &out_h, &out_w);

    int band = PNET_BAND_PIXELS / (2 * width);
    if (band < 1) band = 1;
    const int single = band >= out_h;
    if (single) band = out_h;
    const int max_rows = single ? height : 2 * band + 10;
    const pnet_band_plan plan = plan_band(model, max_rows, width);

    size_t floats = cfn_aligned_floats(single ? 0 : plan.input) + cfn_aligned_floats(plan.pool) +
                    cfn_aligned_floats(plan.head) + cfn_aligned_floats(plan.col);
    for (int i = 0; i < 3; ++i) floats += cfn_aligned_floats(plan.conv[i]);
    cfn_status status = cfn_context_begin(ctx, floats);
    if (status != CFN_OK) return status;
    float *band_in = single ? NULL : cfn_context_take(ctx, plan.input);
    float *conv[3];
    for (int i = 0; i < 3; ++i) conv[i] = cfn_context_take(ctx, plan.conv[i]);
    float *pool = cfn_context_take(ctx, plan.pool);
    float *head = cfn_context_take(ctx, plan.head);
    float *col = cfn_context_take(ctx, plan.col);

    const size_t in_plane = (size_t)height * width;
    const size_t out_plane = (size_t)out_h * out_w;
    for (int r0 = 0; r0 < out_h; r0 += band) {
        const int count = out_h - r0 < band ? out_h - r0 : band;
        const int rows = r0 + count == out_h ? height - 2 * r0 : 2 * count + 10;
        const float *in = image;
        if (!single) {
            for (int c = 0; c < 3; ++c)
                memcpy(band_in + (size_t)c * rows * width, image + c * in_plane + (size_t)2 * r0 * width,
                       sizeof(float) * (size_t)rows * width);
            in = band_in;
        }
        const float *cur = in;
        int h = rows, w = width;
        for (int i = 0; i < 3; ++i) {
            int ch, cw, oh, ow;
            mtcnn_conv_layer_out(&model->convs[i], h, w, &ch, &cw, &oh, &ow);
            cur = mtcnn_conv_layer_forward(&model->convs[i], cur, 1, h, w, conv[i], pool, col,
                                           plan.col);
            h = oh;
            w = ow;
        }
        /* h == count and w == out_w by construction of the band. */
        const int columns = h * w;
        cfn_conv2d_forward(&model->head, cur, 1, h, w, head, NULL, 0, CFN_ACTIVATION_NONE);
        cfn_softmax_rows(head, 2, columns, columns);
        memcpy(prob + (size_t)r0 * out_w, head + columns, sizeof(float) * (size_t)columns);
        for (int j = 0; j < 4; ++j)
            memcpy(reg + j * out_plane + (size_t)r0 * out_w, head + (size_t)(2 + j) * columns,
                   sizeof(float) * (size_t)columns);
    }
    return CFN_OK;
}
