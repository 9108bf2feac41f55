/* Layers shared by P-Net, R-Net and O-Net: weight loading, conv + PReLU + pool, the classifier. */
#include "mtcnn_layers.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

size_t mtcnn_conv_floats(const mtcnn_conv_spec *spec) {
    return (size_t)spec->out_channels * spec->in_channels * spec->kernel * spec->kernel +
           2 * (size_t)spec->out_channels;
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

    const size_t wcount = (size_t)spec->out_channels * spec->in_channels * spec->kernel * spec->kernel;
    float *dst = *cursor;
    memcpy(dst, w, wcount * sizeof(float));
    memcpy(dst + wcount, b, (size_t)spec->out_channels * sizeof(float));
    memcpy(dst + wcount + spec->out_channels, a, (size_t)spec->out_channels * sizeof(float));
    *cursor = dst + mtcnn_conv_floats(spec);

    memset(layer, 0, sizeof *layer);
    layer->conv.in_channels = spec->in_channels;
    layer->conv.out_channels = spec->out_channels;
    layer->conv.kernel_h = layer->conv.kernel_w = spec->kernel;
    layer->conv.stride_h = layer->conv.stride_w = 1;
    layer->conv.weight = dst;
    layer->conv.bias = NULL;
    layer->bias = dst + wcount;
    layer->slope = dst + wcount + spec->out_channels;
    layer->pool_kernel = spec->pool_kernel;
    layer->pool_stride = spec->pool_stride;
    return CFN_OK;
}

cfn_status mtcnn_load_heads(const cfn_weight_source *source, const mtcnn_head_spec *heads,
                            int count, int in, int conv, float *weight, float *bias) {
    char name[128];
    cfn_status status;
    int row = 0;
    for (int h = 0; h < count; ++h) {
        const int64_t wshape[4] = {heads[h].out, in, 1, 1};
        const int64_t vshape[1] = {heads[h].out};
        const float *w, *b;
        snprintf(name, sizeof name, "%s.weight", heads[h].name);
        if ((status = cfn_weight_fetch(source, name, conv ? 4 : 2, wshape, &w)) != CFN_OK)
            return status;
        snprintf(name, sizeof name, "%s.bias", heads[h].name);
        if ((status = cfn_weight_fetch(source, name, 1, vshape, &b)) != CFN_OK) return status;
        memcpy(weight + (size_t)row * in, w, (size_t)heads[h].out * in * sizeof(float));
        memcpy(bias + row, b, (size_t)heads[h].out * sizeof(float));
        row += heads[h].out;
    }
    return CFN_OK;
}

void mtcnn_conv_layer_out(const mtcnn_conv_layer *layer, int h, int w, int *conv_h, int *conv_w,
                          int *out_h, int *out_w) {
    *conv_h = h - layer->conv.kernel_h + 1;
    *conv_w = w - layer->conv.kernel_w + 1;
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

size_t mtcnn_conv_col_floats(const mtcnn_conv_layer *layer, int n, int h, int w) {
    const size_t full = cfn_conv2d_full_col_floats(&layer->conv, n, h, w);
    const size_t row = cfn_conv2d_row_col_floats(&layer->conv, w);
    size_t need = full < MTCNN_COL_CAP ? full : MTCNN_COL_CAP;
    return need > row ? need : row;
}

float *mtcnn_conv_layer_forward(const mtcnn_conv_layer *layer, const float *in, int n, int h,
                                int w, float *conv_out, float *pool_out, float *col,
                                size_t col_capacity) {
    int ch, cw, oh, ow;
    mtcnn_conv_layer_out(layer, h, w, &ch, &cw, &oh, &ow);
    cfn_conv2d_forward(&layer->conv, in, n, h, w, conv_out, col, col_capacity,
                       CFN_ACTIVATION_NONE);
    const int columns = n * ch * cw;
    cfn_bias_prelu(conv_out, layer->conv.out_channels, columns, columns, layer->bias,
                   layer->slope);
    if (!layer->pool_kernel) return conv_out;
    if (layer->pool_stride == 2 && (layer->pool_kernel == 2 || layer->pool_kernel == 3))
        cfn_maxpool2d_s2_ceil(conv_out, layer->conv.out_channels * n, ch, cw, layer->pool_kernel,
                              pool_out);
    else
        cfn_maxpool2d(conv_out, layer->conv.out_channels * n, ch, cw, layer->pool_kernel,
                      layer->pool_stride, 0, 1, pool_out);
    return pool_out;
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
        probe.conv.kernel_h = probe.conv.kernel_w = spec->convs[i].kernel;
        probe.conv.stride_h = probe.conv.stride_w = 1;
        probe.pool_kernel = spec->convs[i].pool_kernel;
        probe.pool_stride = spec->convs[i].pool_stride;
        int ch, cw;
        mtcnn_conv_layer_out(&probe, h, w, &ch, &cw, &h, &w);
        c = spec->convs[i].out_channels;
    }
    const int features = c * h * w;
    int head_out = 0;
    for (int i = 0; i < spec->num_heads; ++i) head_out += spec->heads[i].out;

    size_t total = 0;
    for (int i = 0; i < spec->num_convs; ++i) total += mtcnn_conv_floats(&spec->convs[i]);
    total += (size_t)spec->dense_out * features + 2 * (size_t)spec->dense_out;
    total += (size_t)head_out * spec->dense_out + head_out;
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
               instead of the activations on every call. */
            cfn_linear_permute_hwc_weight(dw, spec->dense_out, c, h, w, cursor);
            net->dense_weight = cursor;
            cursor += (size_t)spec->dense_out * features;
            memcpy(cursor, db, (size_t)spec->dense_out * sizeof(float));
            net->dense_bias = cursor;
            cursor += spec->dense_out;
            memcpy(cursor, da, (size_t)spec->dense_out * sizeof(float));
            net->dense_slope = cursor;
            cursor += spec->dense_out;
        }
    }
    if (status == CFN_OK) {
        status = mtcnn_load_heads(&source, spec->heads, spec->num_heads, spec->dense_out, 0,
                                  cursor, cursor + (size_t)head_out * spec->dense_out);
        net->head_weight = cursor;
        net->head_bias = cursor + (size_t)head_out * spec->dense_out;
    }
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

    /* Plan: the input in CNHW, each layer's conv and pool outputs, flatten, dense, heads. */
    size_t floats = cfn_aligned_floats((size_t)3 * batch * s * s);
    size_t conv_sizes[MTCNN_MAX_CONVS], pool_sizes[MTCNN_MAX_CONVS], col = 0;
    int h = s, w = s;
    for (int i = 0; i < net->num_convs; ++i) {
        int ch, cw, oh, ow;
        mtcnn_conv_layer_out(&net->convs[i], h, w, &ch, &cw, &oh, &ow);
        const size_t need = mtcnn_conv_col_floats(&net->convs[i], batch, h, w);
        if (need > col) col = need;
        conv_sizes[i] = (size_t)net->convs[i].conv.out_channels * batch * ch * cw;
        pool_sizes[i] = net->convs[i].pool_kernel
                            ? (size_t)net->convs[i].conv.out_channels * batch * oh * ow
                            : 0;
        floats += cfn_aligned_floats(conv_sizes[i]) + cfn_aligned_floats(pool_sizes[i]);
        h = oh;
        w = ow;
    }
    const size_t features = (size_t)net->flat_c * net->flat_h * net->flat_w;
    floats += cfn_aligned_floats(col) + cfn_aligned_floats(features * batch) +
              cfn_aligned_floats((size_t)net->dense_out * batch) +
              cfn_aligned_floats((size_t)net->head_out * batch);
    cfn_status status = cfn_context_begin(ctx, floats);
    if (status != CFN_OK) return status;
    float *in = cfn_context_take(ctx, (size_t)3 * batch * s * s);
    float *conv_buf[MTCNN_MAX_CONVS], *pool_buf[MTCNN_MAX_CONVS];
    for (int i = 0; i < net->num_convs; ++i) {
        conv_buf[i] = cfn_context_take(ctx, conv_sizes[i]);
        pool_buf[i] = cfn_context_take(ctx, pool_sizes[i]);
    }
    float *col_buf = cfn_context_take(ctx, col);
    float *flat = cfn_context_take(ctx, features * batch);
    float *dense = cfn_context_take(ctx, (size_t)net->dense_out * batch);
    float *head = cfn_context_take(ctx, (size_t)net->head_out * batch);

    for (int start = 0; start < n; start += batch) {
        const int count = n - start < batch ? n - start : batch;
        cfn_nchw_to_cnhw(images + (size_t)start * 3 * s * s, count, 3, s * s, in);
        const float *cur = in;
        h = w = s;
        for (int i = 0; i < net->num_convs; ++i) {
            int ch, cw, oh, ow;
            mtcnn_conv_layer_out(&net->convs[i], h, w, &ch, &cw, &oh, &ow);
            cur = mtcnn_conv_layer_forward(&net->convs[i], cur, count, h, w, conv_buf[i],
                                           pool_buf[i], col_buf, col);
            h = oh;
            w = ow;
        }
        cfn_flatten_cnhw(cur, net->flat_c, count, net->flat_h * net->flat_w, flat);
        cfn_linear_forward(net->dense_weight, net->dense_bias, net->dense_out, (int)features,
                           flat, count, dense);
        cfn_prelu(dense, net->dense_out, count, count, net->dense_slope);
        cfn_linear_forward(net->head_weight, net->head_bias, net->head_out, net->dense_out, dense,
                           count, head);
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
