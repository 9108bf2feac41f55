/* The int8 network's test entries (testing.h): every micro-tile over a whole matrix, and one
   float32 layer on either build of its loop. */
#include "../testing.h"
#include "qconv.h"
#include "qgemm.h"
#include "../ops/ops.h"

#include <stdlib.h>
#include <string.h>

int cfn_q_gemm_test(const int8_t *w, const uint8_t *x, int rows, int columns, int depth,
                    int kernels, int32_t *acc) {
    if (!w || !x || !acc || rows < CFN_Q_PANEL || rows % CFN_Q_PANEL || columns < 1 || depth < 1 ||
        kernels < 0 || kernels > 2)
        return -1;
    if (cfn_q_kernels_best((cfn_q_kernels)kernels) != (cfn_q_kernels)kernels) return 0;
    const int depth4 = cfn_q_depth4(depth);
    int8_t *packed = aligned_alloc(64, cfn_q_packed_bytes(rows, depth) + 64);
    uint8_t *xs = malloc((size_t)columns * depth4);
    if (!packed || !xs) {
        free(packed);
        free(xs);
        return -1;
    }
    cfn_q_pack_weights(w, rows, depth, packed);
    for (int p = 0; p < columns; ++p) {
        memset(xs + (size_t)p * depth4, 0, (size_t)depth4);
        memcpy(xs + (size_t)p * depth4, x + (size_t)p * depth, (size_t)depth);
    }
    const cfn_q_tile_fn tile = cfn_q_tile_for((cfn_q_kernels)kernels);
    int32_t tile_acc[CFN_Q_COLUMNS * 2 * CFN_Q_PANEL] __attribute__((aligned(64)));
    const int panels = rows / CFN_Q_PANEL;
    for (int col0 = 0; col0 < columns; col0 += CFN_Q_COLUMNS) {
        const int count = columns - col0 < CFN_Q_COLUMNS ? columns - col0 : CFN_Q_COLUMNS;
        const uint8_t *cols[CFN_Q_COLUMNS];
        for (int q = 0; q < CFN_Q_COLUMNS; ++q)
            cols[q] = xs + (size_t)(col0 + (q < count ? q : 0)) * depth4;
        for (int p = 0; p < panels; p += 2) {
            const int used = panels - p >= 2 ? 2 : 1;
            tile(packed + (size_t)p * CFN_Q_PANEL * depth4, used, depth4, cols, tile_acc);
            for (int q = 0; q < count; ++q)
                for (int r = 0; r < used * CFN_Q_PANEL; ++r)
                    acc[(size_t)(col0 + q) * rows + p * CFN_Q_PANEL + r] = tile_acc[q * 2 * CFN_Q_PANEL + r];
        }
    }
    free(packed);
    free(xs);
    return 1;
}

int cfn_fconv_test(const float *x, int n, int h, int w, int in_channels, const float *weight,
                   const float *bias, int out_channels, int kernel, int stride, int pad,
                   int residual, float scale, int relu, int build, float *out) {
    if (!x || !weight || !bias || !out || n < 1 || h < kernel || w < kernel || in_channels < 1 ||
        out_channels < 16 || out_channels % 16 || kernel < 1 || stride < 1 || pad < 0 ||
        build < CFN_LOOP_PLAIN || build > CFN_LOOP_AVX512)
        return -1;
    if (build == CFN_LOOP_AVX512 && !cfn_cpu_has_avx512f()) return 0;
    if (build == CFN_LOOP_AVX2 && !cfn_cpu_has_avx2_fma()) return 0;
    cfn_qconv c;
    memset(&c, 0, sizeof c);
    c.in_channels = in_channels;
    c.out_channels = out_channels;
    c.kernel_h = c.kernel_w = kernel;
    c.stride = stride;
    c.pad_h = c.pad_w = pad;
    c.bias = bias;
    const size_t weights = (size_t)out_channels * in_channels * kernel * kernel;
    float *fw = malloc(sizeof(float) * weights);
    unsigned char *scratch = malloc(cfn_fconv_scratch_bytes(&c) + 64);
    if (!fw || !scratch) {
        free(fw);
        free(scratch);
        return -1;
    }
    cfn_fconv_set_weights(&c, weight, fw);
    c.float_weight = fw;
    const cfn_qconv_epilogue epilogue = {residual != 0, scale, relu != 0};
    cfn_fconv_forward(&c, x, in_channels, n, h, w, out, out_channels, epilogue, NULL, scratch,
                      cfn_fconv_scratch_bytes(&c) + 64, (cfn_loop_build)build);
    free(fw);
    free(scratch);
    return 1;
}
