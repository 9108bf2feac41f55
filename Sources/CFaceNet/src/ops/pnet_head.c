/*
 * P-Net's head in one pass: the 1×1 convolution to 6 channels (conv4_1's two face logits
 * stacked over conv4_2's four box regressions), softmax over the two logits, and the
 * regressions, written straight into the level's output rows. Unfused, the head ran as a flat
 * convolution (6 channels in two 4-channel tiles: 8 lanes of work for 6), wrote 6 planes, and a
 * softmax pass and five row copies read them back; together a seventh of P-Net's time.
 *
 * Here one tile is 6 channels × 16 positions (12 accumulators) of one output row. The
 * arithmetic is the unfused path's: the same FMA chain per output (input channels in order, from
 * zero), the bias added after it, and ops/softmax.c's softmax in branch-free form (same
 * operations, same cfn_expf), so the outputs are bit-identical to it.
 */
#include "../testing.h"
#include "ops.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__) || defined(__i386__)
#include "pnet_head_tile.h"

AVX2 static void pnet_head_avx2(const cfn_flat_conv *head, const float *in, size_t in_plane,
                                int rs, int rows, int width, float *prob, float *reg,
                                size_t reg_plane) {
    for (int y = 0; y < rows; ++y) {
        const float *row = in + (size_t)y * rs;
        float *prob_row = prob + (size_t)y * width, *reg_row = reg + (size_t)y * width;
        for (int x = 0; x < width; x += 16) {
            const int n = width - x < 16 ? width - x : 16;
            cfn_pnet_head_tile(head, row + x, in_plane, n, prob_row + x, reg_row + x, reg_plane);
        }
    }
}
#endif

int cfn_pnet_head_forward(const cfn_flat_conv *head, const float *in, size_t in_plane, int rs,
                          int rows, int width, float *prob, float *reg, size_t reg_plane,
                          int portable) {
#if defined(__x86_64__) || defined(__i386__)
    if (portable || head->kernel != 1 || head->out_channels != 6 || head->slope ||
        !cfn_cpu_has_avx2_fma())
        return 0;
    pnet_head_avx2(head, in, in_plane, rs, rows, width, prob, reg, reg_plane);
    return 1;
#else
    (void)head; (void)in; (void)in_plane; (void)rs; (void)rows; (void)width; (void)prob;
    (void)reg; (void)reg_plane; (void)portable;
    return 0;
#endif
}

/* ---- test entry (testing.h) --------------------------------------------------------- */

int cfn_pnet_head_paths(const float *weight, const float *bias, int cin, const float *in,
                        int rows, int width, int rs, int fused, float *prob, float *reg) {
    if (!weight || !bias || !in || !prob || !reg || cin <= 0 || rows <= 0 || width <= 0 ||
        rs < width)
        return -1;
    const size_t in_plane = (size_t)rows * rs, out_plane = (size_t)rows * width;
    const size_t pack_floats = cfn_flat_conv_floats(6, cin, 1);
    float *storage = malloc((pack_floats + (fused ? 0 : 6 * in_plane)) * sizeof(float));
    if (!storage) return -1;
    cfn_flat_conv head;
    cfn_flat_conv_pack(&head, 6, cin, 1, weight, bias, NULL, storage);
    int done = 1;
    if (fused) {
        done = cfn_pnet_head_forward(&head, in, in_plane, rs, rows, width, prob, reg, out_plane, 0);
    } else {
        /* The unfused path, as pnet_band runs it without the fused kernel. */
        float *out = storage + pack_floats;
        cfn_flat_conv_forward(&head, in, in_plane, rs, in_plane, out, in_plane, 0);
        for (int y = 0; y < rows; ++y) {
            float *row = out + (size_t)y * rs;
            cfn_softmax_rows(row, 2, width, in_plane);
            memcpy(prob + (size_t)y * width, row + in_plane, sizeof(float) * (size_t)width);
            for (int j = 0; j < 4; ++j)
                memcpy(reg + j * out_plane + (size_t)y * width, row + (size_t)(2 + j) * in_plane,
                       sizeof(float) * (size_t)width);
        }
    }
    free(storage);
    return done;
}
