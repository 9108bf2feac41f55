/* The public entry point of the area resampling op, with argument checks and scratch. */
#include "mtcnn_layers.h"

cfn_status cfn_mtcnn_resample(cfn_context *ctx, const uint8_t *rgb, int width, int height,
                              size_t stride, int x0, int y0, int x1, int y1, int out_height,
                              int out_width, float *out) {
    if (!ctx) return CFN_ERROR_INVALID_ARGUMENT;
    if (!rgb || !out)
        return cfn_context_fail(ctx, CFN_ERROR_INVALID_ARGUMENT, "resample: NULL buffer");
    if (width <= 0 || height <= 0 || stride < (size_t)width * 3)
        return cfn_context_fail(ctx, CFN_ERROR_INVALID_ARGUMENT,
                                "resample: bad image %d×%d with stride %zu", width, height, stride);
    if (x0 < 0 || y0 < 0 || x1 > width || y1 > height || x1 <= x0 || y1 <= y0)
        return cfn_context_fail(ctx, CFN_ERROR_INVALID_ARGUMENT,
                                "resample: region [%d, %d) × [%d, %d) is empty or outside the "
                                "%d×%d image", x0, x1, y0, y1, width, height);
    if (out_height <= 0 || out_width <= 0)
        return cfn_context_fail(ctx, CFN_ERROR_INVALID_ARGUMENT,
                                "resample: output size %d×%d", out_height, out_width);
    const int region_w = x1 - x0;
    const size_t scratch = cfn_area_resample_scratch_floats(region_w, out_width);
    cfn_status status = cfn_context_begin(ctx, cfn_aligned_floats(scratch));
    if (status != CFN_OK) return status;
    cfn_area_resample_rgb8(rgb, stride, x0, y0, region_w, y1 - y0, out_height, out_width, out,
                           cfn_context_take(ctx, scratch), ctx->portable_kernels);
    return CFN_OK;
}
