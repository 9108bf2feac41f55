/*
 * P-Net (facenet-pytorch PNet), fully convolutional over one pyramid level. Large levels are
 * processed in horizontal bands of output rows: output row oy sees input rows [2·oy, 2·oy + 12),
 * so a band of R output rows needs 2·R + 10 input rows (the last band takes the rest of the
 * image, which reproduces MaxPool2d's ceil_mode window at the bottom edge). The same bands let
 * several threads share one level: each computes a disjoint range of output rows.
 *
 * Every layer is a flat convolution (ops/conv_flat.c, and on AVX2 Winograd F(4×4, 3×3) for
 * conv2 and conv3, ops/conv_winograd43.c): activations keep the width of the layer's input as
 * their row stride, and the columns past the valid width are never read for a valid output.
 * Winograd's 4-row tiles make a band's values those of the whole level only when the band is
 * cut on the level's multiples of 4 and its tiles see all their input rows: bands start on a
 * multiple of 4 output rows and read 4 input rows more (conv2's last tile needs 2 pool rows
 * below the band's), the extra rows computed and dropped.
 */
#include "mtcnn_layers.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Input pixels per band: bounds the workspace whatever the image size. */
#define PNET_BAND_PIXELS (1 << 16)
#define PNET_HEADS 6 /* conv4_1 (2 logits) stacked over conv4_2 (4 regressions) */

struct cfn_mtcnn_pnet {
    mtcnn_conv_layer convs[3]; /* conv2 and conv3 (83 % of the multiply-adds) run Winograd on AVX2 */
    cfn_flat_conv head;
    float *storage;
};

static const mtcnn_conv_spec pnet_convs[3] = {
    {"conv1", "prelu1", 3, 10, 3, 2, 2, 0},
    {"conv2", "prelu2", 10, 16, 3, 0, 0, 4},
    {"conv3", "prelu3", 16, 32, 3, 0, 0, 4},
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
    size_t total = cfn_flat_conv_floats(PNET_HEADS, 32, 1);
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
        status = mtcnn_load_heads(&source, pnet_heads, 2, 32, 1, &cursor, &model->head);
    if (status != CFN_OK) {
        if (message && capacity > 0) {
            char detail[CFN_ERROR_CAPACITY];
            snprintf(detail, sizeof detail, "%s", message);
            snprintf(message, capacity, "P-Net: %s", detail);
        }
        cfn_mtcnn_pnet_destroy(model);
        return status;
    }
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

/* Extents of one band of `rows` input rows × `width` through the layers. */
typedef struct pnet_band_shape {
    int pool_h, pool_w; /* after conv1 + pool1 */
    size_t conv1, pool1, conv2, conv3, head; /* floats of each buffer */
} pnet_band_shape;

static pnet_band_shape band_shape(int rows, int width) {
    pnet_band_shape s;
    s.pool_h = cfn_pool_out_extent(rows - 2, 2, 2, 0, 1);
    s.pool_w = cfn_pool_out_extent(width - 2, 2, 2, 0, 1);
    s.conv1 = (size_t)10 * (rows - 2) * width;
    s.pool1 = (size_t)10 * s.pool_h * s.pool_w;
    s.conv2 = (size_t)16 * (s.pool_h - 2) * s.pool_w;
    s.conv3 = (size_t)32 * (s.pool_h - 4) * s.pool_w;
    s.head = (size_t)PNET_HEADS * (s.pool_h - 4) * s.pool_w;
    return s;
}

typedef struct pnet_workspace {
    float *input; /* 3 × rows × width band of the resampled level (RGB8 entry only) */
    float *conv1, *pool1, *conv2, *conv3, *head;
    float *winograd; /* conv2's and conv3's Winograd scratch */
} pnet_workspace;

/* Scratch of the Winograd kernels of conv2 and of conv3 with the head (one at a time). */
static size_t winograd_scratch_floats(void) {
    const size_t conv2 = cfn_winograd43_conv_scratch_floats(pnet_convs[1].out_channels,
                                                            pnet_convs[1].in_channels);
    const size_t conv3 = cfn_winograd43_head_scratch_floats(pnet_convs[2].out_channels,
                                                            pnet_convs[2].in_channels);
    return conv2 > conv3 ? conv2 : conv3;
}

static size_t workspace_floats(int max_rows, int width, int with_input) {
    const pnet_band_shape s = band_shape(max_rows, width);
    return (with_input ? cfn_aligned_floats((size_t)3 * max_rows * width) : 0) +
           cfn_aligned_floats(s.conv1) + cfn_aligned_floats(s.pool1) +
           cfn_aligned_floats(s.conv2) + cfn_aligned_floats(s.conv3) + cfn_aligned_floats(s.head) +
           cfn_aligned_floats(winograd_scratch_floats());
}

static pnet_workspace take_workspace(cfn_context *ctx, int max_rows, int width, int with_input) {
    const pnet_band_shape s = band_shape(max_rows, width);
    pnet_workspace ws;
    ws.input = with_input ? cfn_context_take(ctx, (size_t)3 * max_rows * width) : NULL;
    ws.conv1 = cfn_context_take(ctx, s.conv1);
    ws.pool1 = cfn_context_take(ctx, s.pool1);
    ws.conv2 = cfn_context_take(ctx, s.conv2);
    ws.conv3 = cfn_context_take(ctx, s.conv3);
    ws.head = cfn_context_take(ctx, s.head);
    ws.winograd = cfn_context_take(ctx, winograd_scratch_floats());
    return ws;
}

/*
 * One band: `rows` input rows × `width` (channel c at in + c·in_plane; at least 2·count + 10
 * rows, band_input_rows) → output rows [r0, r0 + count) computed, of which [r0 + first,
 * r0 + last) are written to prob (out_w wide) and reg (4 planes of out_plane).
 */
static void pnet_band(const cfn_mtcnn_pnet *model, const float *in, size_t in_plane, int rows,
                      int width, const pnet_workspace *ws, int portable, float *prob, float *reg,
                      size_t out_plane, int out_w, int r0, int count, int first, int last) {
    const pnet_band_shape s = band_shape(rows, width);
    const int ph = s.pool_h, pw = s.pool_w;
    const size_t plane1 = (size_t)(rows - 2) * width;
    /* conv1 + PReLU + pool1 fused on AVX2: conv1's full-resolution output is never stored. */
    if (!cfn_flat_conv_maxpool2_forward(&model->convs[0].conv, in, in_plane, width, rows - 2,
                                        width - 2, ws->pool1, portable)) {
        cfn_flat_conv_forward(&model->convs[0].conv, in, in_plane, width, plane1 - 2, ws->conv1,
                              plane1, portable);
        cfn_maxpool2d_s2_ceil_strided(ws->conv1, 10, rows - 2, width - 2, (size_t)width, plane1,
                                      2, ws->pool1, portable);
    }
    const size_t plane2 = (size_t)(ph - 2) * pw, plane3 = (size_t)(ph - 4) * pw;
    const mtcnn_conv_layer *conv2 = &model->convs[1], *conv3 = &model->convs[2];
    if (portable || !mtcnn_winograd_forward(conv2, ws->pool1, (size_t)ph * pw, pw, 1, ph, pw, r0,
                                            ws->conv2, plane2, ws->winograd))
        cfn_flat_conv_forward(&conv2->conv, ws->pool1, (size_t)ph * pw, pw, plane2 - 2, ws->conv2,
                              plane2, portable);
    /* conv2's output is (ph − 2) × (pw − 2) valid values in rows pw apart, of which conv3 needs
       the first count + 2 (ph − 4 ≥ count: the band may have read rows for conv2's tiles).
       On AVX2 conv3 runs with the head, its output never stored. */
    const size_t first_cell = (size_t)(r0 + first) * out_w;
    if (!portable && conv3->has_winograd && conv3->winograd_tile == 4 &&
        cfn_winograd43_conv_pnet_head(&conv3->winograd, &model->head, ws->conv2, plane2, pw,
                                      count + 2, pw - 2, r0, first, last, prob + first_cell,
                                      reg + first_cell, out_plane, ws->winograd))
        return;
    if (portable || !mtcnn_winograd_forward(conv3, ws->conv2, plane2, pw, 1, count + 2, pw - 2, r0,
                                            ws->conv3, plane3, ws->winograd))
        cfn_flat_conv_forward(&conv3->conv, ws->conv2, plane2, pw, plane3 - 2, ws->conv3, plane3,
                              portable);
    /* out_w == pw − 4. The head, its softmax and the copies into the level's rows (reached
       without AVX2, or for a conv3 without F(4×4)): fused where the CPU has AVX2. */
    if (cfn_pnet_head_forward(&model->head, ws->conv3 + (size_t)first * pw, plane3, pw,
                              last - first, out_w, prob + first_cell, reg + first_cell, out_plane,
                              portable))
        return;
    cfn_flat_conv_forward(&model->head, ws->conv3, plane3, pw, plane3 - 2, ws->head, plane3,
                          portable);
    for (int oy = first; oy < last; ++oy) {
        float *row = ws->head + (size_t)oy * pw;
        cfn_softmax_rows(row, 2, out_w, plane3);
        const size_t at = (size_t)(r0 + oy) * out_w;
        memcpy(prob + at, row + plane3, sizeof(float) * (size_t)out_w);
        for (int j = 0; j < 4; ++j)
            memcpy(reg + j * out_plane + at, row + (size_t)(2 + j) * plane3,
                   sizeof(float) * (size_t)out_w);
    }
}

/* Input rows a band of `count` output rows from output row r0 reads on a level `height` rows
   high: 2·count + 10, plus 4 for conv2's last Winograd tile (2 pool rows), up to the level's
   end (the last band takes the rest, for the ceil-mode pool's bottom window). */
static int band_input_rows(int r0, int count, int out_h, int height) {
    const int rest = height - 2 * r0;
    return r0 + count == out_h || 2 * count + 14 > rest ? rest : 2 * count + 14;
}

/* Output rows per band for a level `width` wide: a multiple of 4 (at least 4), so that every
   band but a level's last starts and ends on conv3's 4-row Winograd tiles and its values are
   bit for bit the whole level's (cfn_winograd43_conv_forward). */
static int band_rows(int width) {
    const int band = PNET_BAND_PIXELS / (2 * width) / 4 * 4;
    return band < 4 ? 4 : band;
}

int cfn_mtcnn_pnet_band_rows(int level_width) {
    return band_rows(level_width > 0 ? level_width : 1);
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
    int band = band_rows(width);
    if (band >= out_h) band = out_h;
    const int max_rows = band == out_h || 2 * band + 14 > height ? height : 2 * band + 14;
    cfn_status status = cfn_context_begin(ctx, workspace_floats(max_rows, width, 0));
    if (status != CFN_OK) return status;
    const pnet_workspace ws = take_workspace(ctx, max_rows, width, 0);

    const size_t in_plane = (size_t)height * width;
    const size_t out_plane = (size_t)out_h * out_w;
    for (int r0 = 0; r0 < out_h; r0 += band) {
        const int count = out_h - r0 < band ? out_h - r0 : band;
        const int rows = band_input_rows(r0, count, out_h, height);
        /* The band is read in place: the planes keep the image's plane stride. */
        pnet_band(model, image + (size_t)2 * r0 * width, in_plane, rows, width, &ws,
                  ctx->portable_kernels, prob, reg, out_plane, out_w, r0, count, 0, count);
    }
    return CFN_OK;
}

cfn_status cfn_mtcnn_pnet_forward_rgb8(const cfn_mtcnn_pnet *model, cfn_context *ctx,
                                       const uint8_t *rgb, int width, int height, size_t stride,
                                       int level_height, int level_width, int row_begin,
                                       int row_end, float *prob, float *reg) {
    if (!ctx) return CFN_ERROR_INVALID_ARGUMENT;
    if (!model || !rgb || !prob || !reg)
        return cfn_context_fail(ctx, CFN_ERROR_INVALID_ARGUMENT, "P-Net: NULL argument");
    if (width <= 0 || height <= 0 || stride < (size_t)width * 3)
        return cfn_context_fail(ctx, CFN_ERROR_INVALID_ARGUMENT,
                                "P-Net: bad image %d×%d with stride %zu", width, height, stride);
    if (level_height < CFN_MTCNN_PNET_MIN_INPUT || level_width < CFN_MTCNN_PNET_MIN_INPUT)
        return cfn_context_fail(ctx, CFN_ERROR_INVALID_ARGUMENT,
                                "P-Net: level %d×%d is smaller than %d×%d", level_height,
                                level_width, CFN_MTCNN_PNET_MIN_INPUT, CFN_MTCNN_PNET_MIN_INPUT);
    int out_h, out_w;
    cfn_mtcnn_pnet_output_size(level_height, level_width, &out_h, &out_w);
    if (row_begin < 0 || row_end > out_h || row_begin > row_end)
        return cfn_context_fail(ctx, CFN_ERROR_INVALID_ARGUMENT,
                                "P-Net: output rows [%d, %d) outside the level's %d rows",
                                row_begin, row_end, out_h);
    /* The rows computed: [row_begin, row_end) widened to multiples of 4 (or the level's end),
       so that a range's values do not depend on where the level was cut between threads; the
       rows outside the range are computed and dropped (at most 3 at each end). */
    const int begin = row_begin / 4 * 4;
    const int end = row_end == out_h || (row_end + 3) / 4 * 4 > out_h ? out_h : (row_end + 3) / 4 * 4;
    if (row_begin == row_end) return CFN_OK;
    int band = band_rows(level_width);
    if (band > end - begin) band = end - begin;
    /* band_input_rows: at most 2·band + 14 (the level's last band: at most 2·band + 10). */
    int max_rows = 2 * band + 14;
    if (max_rows > level_height) max_rows = level_height;
    const size_t scratch_floats = cfn_area_resample_scratch_floats(width, level_width);
    const size_t floats = workspace_floats(max_rows, level_width, 1) +
                          cfn_aligned_floats(scratch_floats);
    cfn_status status = cfn_context_begin(ctx, floats);
    if (status != CFN_OK) return status;
    const pnet_workspace ws = take_workspace(ctx, max_rows, level_width, 1);
    float *scratch = cfn_context_take(ctx, scratch_floats);

    const size_t out_plane = (size_t)out_h * out_w;
    for (int r0 = begin; r0 < end; r0 += band) {
        const int count = end - r0 < band ? end - r0 : band;
        const int rows = band_input_rows(r0, count, out_h, level_height);
        const int first = row_begin > r0 ? row_begin - r0 : 0;
        const int last = row_end < r0 + count ? row_end - r0 : count;
        if (first >= last) continue;
        cfn_area_resample_rgb8_rows(rgb, stride, 0, 0, width, height, level_height, level_width,
                                    2 * r0, 2 * r0 + rows, ws.input, scratch,
                                    ctx->portable_kernels);
        pnet_band(model, ws.input, (size_t)rows * level_width, rows, level_width, &ws,
                  ctx->portable_kernels, prob, reg, out_plane, out_w, r0, count, first, last);
    }
    return CFN_OK;
}
