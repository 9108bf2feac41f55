/* Layers shared by P-Net, R-Net and O-Net: weight loading, conv + PReLU + pool, the classifier. */
#include "mtcnn_layers.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The spec names the 3×3 layers that run Winograd: those with enough input channels for a
   transformed tile to feed the GEMM (P-Net's 10-channel conv2 gained nothing from F(2×2), 1.65×
   from F(4×4), alone; the 3-channel first layers stay direct). */
static int uses_winograd(const mtcnn_conv_spec *spec) {
    return spec->kernel == 3 && spec->winograd_tile != 0;
}

/* The spec's tile side: 2, 3 or 4 (anything else: 4). */
static int winograd_tile(const mtcnn_conv_spec *spec) {
    return spec->winograd_tile == 2 || spec->winograd_tile == 3 ? spec->winograd_tile : 4;
}

size_t mtcnn_conv_floats(const mtcnn_conv_spec *spec) {
    const int cout = spec->out_channels, cin = spec->in_channels;
    size_t winograd = 0;
    if (uses_winograd(spec))
        switch (winograd_tile(spec)) {
        case 2: winograd = cfn_winograd_conv_floats(cout, cin); break;
        case 3: winograd = cfn_winograd33_conv_floats(cout, cin); break;
        default: winograd = cfn_winograd43_conv_floats(cout, cin); break;
        }
    return cfn_flat_conv_floats(cout, cin, spec->kernel) + winograd;
}

size_t mtcnn_conv_scratch_floats(const mtcnn_conv_layer *layer) {
    const int cout = layer->conv.out_channels, cin = layer->conv.in_channels;
    if (!layer->has_winograd) return 0;
    switch (layer->winograd_tile) {
    case 2: return cfn_winograd_conv_scratch_floats(cout, cin);
    case 3: return cfn_winograd33_conv_scratch_floats(cout, cin);
    default: return cfn_winograd43_conv_scratch_floats(cout, cin);
    }
}

int mtcnn_winograd_forward(const mtcnn_conv_layer *layer, const float *in, size_t in_plane, int rs,
                           int images, int h, int w, int row_phase, float *out, size_t out_plane,
                           float *scratch) {
    if (!layer->has_winograd || !scratch) return 0;
    switch (layer->winograd_tile) {
    case 2:
        return cfn_winograd_conv_forward(&layer->winograd, in, in_plane, rs, images, h, w,
                                         row_phase, out, out_plane, scratch);
    case 3:
        return cfn_winograd33_conv_forward(&layer->winograd, in, in_plane, rs, images, h, w,
                                           row_phase, out, out_plane, scratch);
    default:
        return cfn_winograd43_conv_forward(&layer->winograd, in, in_plane, rs, images, h, w,
                                           row_phase, out, out_plane, scratch);
    }
}

cfn_status mtcnn_load_conv(const cfn_weight_source *source, const mtcnn_conv_spec *spec,
                           float **cursor, mtcnn_conv_layer *layer) {
    char name[128];
    const int64_t wshape[4] = {spec->out_channels, spec->in_channels, spec->kernel, spec->kernel};
    const int64_t vshape[1] = {spec->out_channels};
    const float *w, *b, *a;
    cfn_status status;
    snprintf(name, sizeof name, "%s.weight", spec->conv);
    if ((status = cfn_weight_fetch(source, name, 4, wshape, &w)) != CFN_OK) return status;
    snprintf(name, sizeof name, "%s.bias", spec->conv);
    if ((status = cfn_weight_fetch(source, name, 1, vshape, &b)) != CFN_OK) return status;
    snprintf(name, sizeof name, "%s.weight", spec->prelu);
    if ((status = cfn_weight_fetch(source, name, 1, vshape, &a)) != CFN_OK) return status;

    memset(layer, 0, sizeof *layer);
    *cursor = cfn_flat_conv_pack(&layer->conv, spec->out_channels, spec->in_channels,
                                 spec->kernel, w, b, a, *cursor);
    if (uses_winograd(spec)) {
        const int cout = spec->out_channels, cin = spec->in_channels;
        layer->winograd_tile = winograd_tile(spec);
        switch (layer->winograd_tile) {
        case 2: *cursor = cfn_winograd_conv_pack(&layer->winograd, cout, cin, w, b, a, *cursor); break;
        case 3: *cursor = cfn_winograd33_conv_pack(&layer->winograd, cout, cin, w, b, a, *cursor); break;
        default: *cursor = cfn_winograd43_conv_pack(&layer->winograd, cout, cin, w, b, a, *cursor); break;
        }
        layer->has_winograd = 1;
    }
    layer->pool_kernel = spec->pool_kernel;
    layer->pool_stride = spec->pool_stride;
    return CFN_OK;
}

cfn_status mtcnn_load_heads(const cfn_weight_source *source, const mtcnn_head_spec *heads,
                            int count, int in, int conv, float **cursor, cfn_flat_conv *out) {
    char name[128];
    int total = 0;
    for (int h = 0; h < count; ++h) total += heads[h].out;
    /* Stacked in PyTorch order first, then packed (model building only, not inference). */
    float *weight = malloc(((size_t)total * in + total) * sizeof(float));
    if (!weight)
        return cfn_message_fail(source->message, source->capacity, CFN_ERROR_OUT_OF_MEMORY,
                                "cannot allocate the heads' weights");
    float *bias = weight + (size_t)total * in;
    cfn_status status = CFN_OK;
    int row = 0;
    for (int h = 0; h < count && status == CFN_OK; ++h) {
        const int64_t wshape[4] = {heads[h].out, in, 1, 1};
        const int64_t vshape[1] = {heads[h].out};
        const float *w, *b;
        snprintf(name, sizeof name, "%s.weight", heads[h].name);
        if ((status = cfn_weight_fetch(source, name, conv ? 4 : 2, wshape, &w)) != CFN_OK) break;
        snprintf(name, sizeof name, "%s.bias", heads[h].name);
        if ((status = cfn_weight_fetch(source, name, 1, vshape, &b)) != CFN_OK) break;
        memcpy(weight + (size_t)row * in, w, (size_t)heads[h].out * in * sizeof(float));
        memcpy(bias + row, b, (size_t)heads[h].out * sizeof(float));
        row += heads[h].out;
    }
    if (status == CFN_OK) *cursor = cfn_flat_conv_pack(out, total, in, 1, weight, bias, NULL, *cursor);
    free(weight);
    return status;
}

void mtcnn_conv_layer_out(const mtcnn_conv_layer *layer, int h, int w, int *conv_h, int *conv_w,
                          int *out_h, int *out_w) {
    *conv_h = h - layer->conv.kernel + 1;
    *conv_w = w - layer->conv.kernel + 1;
    if (*conv_h <= 0 || *conv_w <= 0) {
        *conv_h = *conv_w = *out_h = *out_w = 0;
        return;
    }
    if (layer->pool_kernel) {
        *out_h = cfn_pool_out_extent(*conv_h, layer->pool_kernel, layer->pool_stride, 0, 1);
        *out_w = cfn_pool_out_extent(*conv_w, layer->pool_kernel, layer->pool_stride, 0, 1);
    } else {
        *out_h = *conv_h;
        *out_w = *conv_w;
    }
}

void mtcnn_conv_layer_forward(const mtcnn_conv_layer *layer, const float *in, int n, int h,
                              int w, float *conv_out, float *out, float *scratch, int portable) {
    int ch, cw, oh, ow;
    mtcnn_conv_layer_out(layer, h, w, &ch, &cw, &oh, &ow);
    const int k = layer->conv.kernel;
    const size_t plane = (size_t)n * h * w;
    if (layer->pool_kernel && !layer->has_winograd) {
        /* Image by image: one image's conv output (R-Net's conv1: 28 × 24 × 24 floats, 64 KB)
           is pooled while it is in cache, and the k − 1 rows below its valid ones are not
           computed. The n images' output at once (16 R-Net crops: 1 MB) went out to L3 and
           the pool read it back: 3 % of multiface's CPU time. */
        const size_t image = (size_t)h * w, pooled = (size_t)oh * ow;
        const size_t positions = (size_t)ch * w - (k - 1);
        for (int i = 0; i < n; ++i) {
            cfn_flat_conv_forward(&layer->conv, in + i * image, plane, w, positions, conv_out,
                                  image, portable);
            cfn_maxpool2d_s2_ceil_to(conv_out, layer->conv.out_channels, ch, cw, (size_t)w, image,
                                     layer->pool_kernel, out + i * pooled, (size_t)n * pooled,
                                     portable);
        }
        return;
    }
    if (portable ||
        !mtcnn_winograd_forward(layer, in, plane, w, n, h, w, 0, conv_out, plane, scratch)) {
        /* The n images as one tall image: rows straddling two images are computed and
           ignored. */
        const size_t positions = ((size_t)n * h - k + 1) * w - (k - 1);
        cfn_flat_conv_forward(&layer->conv, in, plane, w, positions, conv_out, plane, portable);
    }
    const int planes = layer->conv.out_channels * n;
    if (layer->pool_kernel)
        cfn_maxpool2d_s2_ceil_strided(conv_out, planes, ch, cw, (size_t)w, (size_t)h * w,
                                      layer->pool_kernel, out, portable);
    else
        cfn_compact_planes(conv_out, planes, ch, cw, (size_t)w, (size_t)h * w, out);
}

/* ---- classifier ------------------------------------------------------------------------- */

cfn_status mtcnn_classifier_init(mtcnn_classifier *net, const mtcnn_classifier_spec *spec,
                                 cfn_tensor_lookup_fn lookup, void *user, char *message,
                                 size_t capacity) {
    memset(net, 0, sizeof *net);
    if (!lookup)
        return cfn_message_fail(message, capacity, CFN_ERROR_INVALID_ARGUMENT,
                                "%s: lookup function is NULL", spec->net);
    const cfn_weight_source source = {lookup, user, message, capacity};

    /* Shapes through the conv stack give the flattened feature count. */
    int c = 3, h = spec->input_size, w = spec->input_size;
    for (int i = 0; i < spec->num_convs; ++i) {
        mtcnn_conv_layer probe;
        memset(&probe, 0, sizeof probe);
        probe.conv.kernel = spec->convs[i].kernel;
        probe.pool_kernel = spec->convs[i].pool_kernel;
        probe.pool_stride = spec->convs[i].pool_stride;
        int ch, cw;
        mtcnn_conv_layer_out(&probe, h, w, &ch, &cw, &h, &w);
        c = spec->convs[i].out_channels;
    }
    const int features = c * h * w;
    int head_out = 0;
    for (int i = 0; i < spec->num_heads; ++i) head_out += spec->heads[i].out;

    for (int i = 0; i < spec->num_convs; ++i)
        if (spec->convs[i].pool_kernel &&
            (spec->convs[i].pool_stride != 2 ||
             (spec->convs[i].pool_kernel != 2 && spec->convs[i].pool_kernel != 3)))
            return cfn_message_fail(message, capacity, CFN_ERROR_INVALID_ARGUMENT,
                                    "%s: pooling %d/%d is not MaxPool2d(2 or 3, stride 2)",
                                    spec->net, spec->convs[i].pool_kernel,
                                    spec->convs[i].pool_stride);
    size_t total = 0;
    for (int i = 0; i < spec->num_convs; ++i) total += mtcnn_conv_floats(&spec->convs[i]);
    total += cfn_flat_conv_floats(spec->dense_out, features, 1);
    total += cfn_flat_conv_floats(head_out, spec->dense_out, 1);
    float *storage = malloc(total * sizeof(float));
    if (!storage)
        return cfn_message_fail(message, capacity, CFN_ERROR_OUT_OF_MEMORY,
                                "%s: cannot allocate %zu bytes of weights", spec->net,
                                total * sizeof(float));
    net->storage = storage;
    net->input_size = spec->input_size;
    net->num_convs = spec->num_convs;
    net->max_batch = spec->max_batch;
    net->flat_c = c;
    net->flat_h = h;
    net->flat_w = w;
    net->dense_out = spec->dense_out;
    net->head_out = head_out;

    cfn_status status = CFN_OK;
    float *cursor = storage;
    for (int i = 0; i < spec->num_convs && status == CFN_OK; ++i)
        status = mtcnn_load_conv(&source, &spec->convs[i], &cursor, &net->convs[i]);
    if (status == CFN_OK) {
        char name[128];
        const int64_t wshape[2] = {spec->dense_out, features};
        const int64_t vshape[1] = {spec->dense_out};
        const float *dw, *db, *da;
        snprintf(name, sizeof name, "%s.weight", spec->dense);
        status = cfn_weight_fetch(&source, name, 2, wshape, &dw);
        if (status == CFN_OK) {
            snprintf(name, sizeof name, "%s.bias", spec->dense);
            status = cfn_weight_fetch(&source, name, 1, vshape, &db);
        }
        if (status == CFN_OK) {
            snprintf(name, sizeof name, "%s.weight", spec->dense_prelu);
            status = cfn_weight_fetch(&source, name, 1, vshape, &da);
        }
        if (status == CFN_OK) {
            /* facenet-pytorch flattens x.permute(0, 3, 2, 1): permute the weight once here
               instead of the activations on every call, then pack it. */
            float *permuted = malloc((size_t)spec->dense_out * features * sizeof(float));
            if (permuted) {
                cfn_linear_permute_hwc_weight(dw, spec->dense_out, c, h, w, permuted);
                cursor = cfn_flat_conv_pack(&net->dense, spec->dense_out, features, 1, permuted,
                                            db, da, cursor);
                free(permuted);
            } else {
                status = cfn_message_fail(message, capacity, CFN_ERROR_OUT_OF_MEMORY,
                                          "cannot allocate the permuted %s.weight", spec->dense);
            }
        }
    }
    if (status == CFN_OK)
        status = mtcnn_load_heads(&source, spec->heads, spec->num_heads, spec->dense_out, 0,
                                  &cursor, &net->head);
    if (status != CFN_OK) {
        /* Prefix the net's name so the caller knows which file was at fault. */
        if (message && capacity > 0) {
            char detail[CFN_ERROR_CAPACITY];
            snprintf(detail, sizeof detail, "%s", message);
            snprintf(message, capacity, "%s: %s", spec->net, detail);
        }
        mtcnn_classifier_release(net);
    }
    return status;
}

void mtcnn_classifier_release(mtcnn_classifier *net) {
    free(net->storage);
    net->storage = NULL;
}

cfn_status mtcnn_classifier_forward(const mtcnn_classifier *net, cfn_context *ctx,
                                    const char *name, const float *images, int n, float *prob,
                                    float *reg, float *landmarks) {
    if (!ctx) return CFN_ERROR_INVALID_ARGUMENT;
    if (!net) return cfn_context_fail(ctx, CFN_ERROR_INVALID_ARGUMENT, "%s: model is NULL", name);
    if (n < 0)
        return cfn_context_fail(ctx, CFN_ERROR_INVALID_ARGUMENT, "%s: negative count %d", name, n);
    ctx->error[0] = '\0';
    if (n == 0) return CFN_OK;
    if (!images || !prob || !reg || (net->head_out > 6 && !landmarks))
        return cfn_context_fail(ctx, CFN_ERROR_INVALID_ARGUMENT, "%s: NULL buffer", name);

    const int s = net->input_size;
    const int batch = n < net->max_batch ? n : net->max_batch;
    const int portable = ctx->portable_kernels;

    /* Plan: the input in CNHW, each layer's flat conv output and pooled (or compacted) output,
       flatten, dense, heads. */
    size_t floats = cfn_aligned_floats((size_t)3 * batch * s * s);
    size_t conv_sizes[MTCNN_MAX_CONVS], out_sizes[MTCNN_MAX_CONVS], scratch_floats = 0;
    int h = s, w = s;
    for (int i = 0; i < net->num_convs; ++i) {
        int ch, cw, oh, ow;
        mtcnn_conv_layer_out(&net->convs[i], h, w, &ch, &cw, &oh, &ow);
        conv_sizes[i] = (size_t)net->convs[i].conv.out_channels * batch * h * w;
        out_sizes[i] = (size_t)net->convs[i].conv.out_channels * batch * oh * ow;
        floats += cfn_aligned_floats(conv_sizes[i]) + cfn_aligned_floats(out_sizes[i]);
        const size_t scratch = mtcnn_conv_scratch_floats(&net->convs[i]);
        if (scratch > scratch_floats) scratch_floats = scratch;
        h = oh;
        w = ow;
    }
    const size_t features = (size_t)net->flat_c * net->flat_h * net->flat_w;
    floats += cfn_aligned_floats(features * batch) +
              cfn_aligned_floats((size_t)net->dense_out * batch) +
              cfn_aligned_floats((size_t)net->head_out * batch) + cfn_aligned_floats(scratch_floats);
    cfn_status status = cfn_context_begin(ctx, floats);
    if (status != CFN_OK) return status;
    float *in = cfn_context_take(ctx, (size_t)3 * batch * s * s);
    float *conv_buf[MTCNN_MAX_CONVS], *out_buf[MTCNN_MAX_CONVS];
    for (int i = 0; i < net->num_convs; ++i) {
        conv_buf[i] = cfn_context_take(ctx, conv_sizes[i]);
        out_buf[i] = cfn_context_take(ctx, out_sizes[i]);
    }
    float *flat = cfn_context_take(ctx, features * batch);
    float *dense = cfn_context_take(ctx, (size_t)net->dense_out * batch);
    float *head = cfn_context_take(ctx, (size_t)net->head_out * batch);
    float *scratch = scratch_floats ? cfn_context_take(ctx, scratch_floats) : NULL;

    for (int start = 0; start < n; start += batch) {
        const int count = n - start < batch ? n - start : batch;
        cfn_nchw_to_cnhw(images + (size_t)start * 3 * s * s, count, 3, s * s, in);
        const float *cur = in;
        h = w = s;
        for (int i = 0; i < net->num_convs; ++i) {
            int ch, cw, oh, ow;
            mtcnn_conv_layer_out(&net->convs[i], h, w, &ch, &cw, &oh, &ow);
            mtcnn_conv_layer_forward(&net->convs[i], cur, count, h, w, conv_buf[i], out_buf[i],
                                     scratch, portable);
            cur = out_buf[i];
            h = oh;
            w = ow;
        }
        cfn_flatten_cnhw(cur, net->flat_c, count, net->flat_h * net->flat_w, flat);
        /* Linear layers are 1×1 convolutions over features × count. */
        cfn_flat_conv_forward(&net->dense, flat, (size_t)count, 0, (size_t)count, dense,
                              (size_t)count, portable);
        cfn_flat_conv_forward(&net->head, dense, (size_t)count, 0, (size_t)count, head,
                              (size_t)count, portable);
        cfn_softmax_rows(head, 2, count, count);
        for (int i = 0; i < count; ++i) {
            const size_t k = (size_t)start + i;
            prob[k] = head[count + i];
            for (int j = 0; j < 4; ++j) reg[k * 4 + j] = head[(size_t)(2 + j) * count + i];
            if (net->head_out > 6)
                for (int j = 0; j < 10; ++j)
                    landmarks[k * 10 + j] = head[(size_t)(6 + j) * count + i];
        }
    }
    return CFN_OK;
}
