/* Convolution as GEMM: weight (Cout × Cin·kh·kw) times the unfolded input (Cin·kh·kw × P). */
#include "ops.h"

int cfn_conv2d_is_pointwise(const cfn_conv2d *conv) {
    return conv->kernel_h == 1 && conv->kernel_w == 1 && conv->stride_h == 1 &&
           conv->stride_w == 1 && conv->pad_h == 0 && conv->pad_w == 0;
}

static size_t conv_k(const cfn_conv2d *conv) {
    return (size_t)conv->in_channels * conv->kernel_h * conv->kernel_w;
}

size_t cfn_conv2d_full_col_floats(const cfn_conv2d *conv, int n, int h, int w) {
    if (cfn_conv2d_is_pointwise(conv)) return 0;
    const int out_h = cfn_conv_out_extent(h, conv->kernel_h, conv->stride_h, conv->pad_h);
    const int out_w = cfn_conv_out_extent(w, conv->kernel_w, conv->stride_w, conv->pad_w);
    return conv_k(conv) * (size_t)n * out_h * out_w;
}

size_t cfn_conv2d_row_col_floats(const cfn_conv2d *conv, int w) {
    if (cfn_conv2d_is_pointwise(conv)) return 0;
    const int out_w = cfn_conv_out_extent(w, conv->kernel_w, conv->stride_w, conv->pad_w);
    return conv_k(conv) * (size_t)out_w;
}

void cfn_conv2d_forward(const cfn_conv2d *conv, const float *in, int n, int h, int w, float *out,
                        float *col, size_t col_capacity, cfn_activation act, int winograd) {
    if (winograd && conv->winograd &&
        cfn_conv2d_winograd_forward(conv, in, n, h, w, out, col, col_capacity, act))
        return;
    const int out_h = cfn_conv_out_extent(h, conv->kernel_h, conv->stride_h, conv->pad_h);
    const int out_w = cfn_conv_out_extent(w, conv->kernel_w, conv->stride_w, conv->pad_w);
    const int columns = n * out_h * out_w; /* leading dimension of `out` */
    const int k = (int)conv_k(conv);

    if (cfn_conv2d_is_pointwise(conv)) {
        cfn_gemm(conv->out_channels, columns, k, 1.0f, conv->weight, in, columns, 0.0f, out,
                 columns);
        cfn_bias_activation(out, conv->out_channels, columns, columns, conv->bias, act);
        return;
    }

    const int total_rows = n * out_h;
    int rows_per_chunk = (int)(col_capacity / ((size_t)k * out_w));
    if (rows_per_chunk < 1) rows_per_chunk = 1; /* the planner guarantees one row fits */
    if (rows_per_chunk > total_rows) rows_per_chunk = total_rows;

    for (int row = 0; row < total_rows; row += rows_per_chunk) {
        const int row_end = row + rows_per_chunk < total_rows ? row + rows_per_chunk : total_rows;
        const int chunk_columns = (row_end - row) * out_w;
        cfn_im2col(in, conv->in_channels, n, h, w, conv->kernel_h, conv->kernel_w, conv->stride_h,
                   conv->stride_w, conv->pad_h, conv->pad_w, out_h, out_w, row, row_end, col);
        float *dst = out + (size_t)row * out_w;
        cfn_gemm(conv->out_channels, chunk_columns, k, 1.0f, conv->weight, col, chunk_columns,
                 0.0f, dst, columns);
        /* Epilogue while the chunk is still in cache. */
        cfn_bias_activation(dst, conv->out_channels, chunk_columns, columns, conv->bias, act);
    }
}
