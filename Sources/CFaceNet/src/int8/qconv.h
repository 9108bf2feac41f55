/*
 * Internal: FaceNet's int8 convolutions and the NHWC ops around them.
 *
 * The int8 network keeps its activations in float32, NHWC (pixel-major: channel c of pixel p
 * at x + p · ld + c, so a channel slice of a concatenation is a column range), and quantises
 * each convolution's input on the way in: per tensor, u8 = clamp(round(x / scale) + zero_point)
 * with the scale calibrated for that layer (calibrate.c), the zero point 0 after a ReLU and 128 for
 * the signed input image. Weights are quantised per output channel at build time (qgemm.h).
 */
#ifndef CFN_INT8_QCONV_H
#define CFN_INT8_QCONV_H

#include <stddef.h>
#include <stdint.h>

#include "../core/thread_pool.h"
#include "cfacenet.h"
#include "qgemm.h"

/* The builds of the loops written once in C and compiled for several instruction sets (fconv.c's
   float32 layers, qconv.c's epilogue, quantize.c's quantiser): contraction is off in each, so
   all builds give the same floats and bytes. */
typedef enum cfn_loop_build {
    CFN_LOOP_PLAIN = 0,  /* the target's baseline */
    CFN_LOOP_AVX2 = 1,   /* the CPU must have AVX2 */
    CFN_LOOP_AVX512 = 2, /* the CPU must have AVX-512F (and BW, which comes with it) */
} cfn_loop_build;
/* The widest build this CPU runs within a context's kernel set: plain for
   CFN_KERNELS_PORTABLE, at most AVX2 for CFN_KERNELS_AVX2. */
cfn_loop_build cfn_loop_build_for(cfn_kernel_set set);

typedef struct cfn_qconv {
    int in_channels, in_stride; /* in_stride: in_channels rounded up to 4 (the u8 pixel) */
    int out_channels;
    int kernel_h, kernel_w, stride, pad_h, pad_w;
    int depth4;                 /* kernel_h · kernel_w · in_stride, order (ky, kx, channel) */
    const int8_t *weight;       /* packed (qgemm.h) */
    const float *weight_scale;  /* [out_channels]: float weight ≈ q · weight_scale */
    const int32_t *row_sum;     /* [out_channels]: Σ q, for the zero point */
    const float *bias;          /* [out_channels] */
    int scale_index;            /* its input's scale in the model's activation scales */
    int zero_point;             /* its input's: 0 (after a ReLU) or 128 (the image) */
    const float *float_weight;  /* NULL, or (ky, kx, channel) depth × out_channels: float32 layer */
} cfn_qconv;

/* How a product's results land in `out`. */
typedef struct cfn_qconv_epilogue {
    int residual;  /* 0: out = act(v); 1: out = act(out + scale · v) */
    float scale;
    int relu;
} cfn_qconv_epilogue;

/* Quantises float weights [out][in][kh][kw] (PyTorch's order, BatchNorm folded) into `conv`'s
   buffers: per output channel scale max|w| / CFN_Q_WEIGHT_MAX, reordered to (ky, kx, channel)
   and packed into `packed`, using `matrix` (out_channels · depth4 bytes) on the way. */
void cfn_qconv_set_weights(const cfn_qconv *conv, const float *w, int8_t *matrix, int8_t *packed,
                           float *weight_scale, int32_t *row_sum);

/* Output extent along one axis. */
static inline int cfn_qconv_out(int in, int kernel, int stride, int pad) {
    return (in + 2 * pad - kernel) / stride + 1;
}

/* Scratch bytes one worker needs for `conv`'s unfolded columns. */
static inline size_t cfn_qconv_scratch_bytes(const cfn_qconv *conv) {
    return (size_t)CFN_Q_COLUMNS * (size_t)conv->depth4 + 64;
}

/*
 * out (NHWC, row stride ldo) ← epilogue(dequantised product) of the u8 NHWC input `xq`
 * (n × h × w × in_stride, quantised with in_scale and conv->zero_point): on `pool`'s workers,
 * each with `scratch_stride` bytes of `scratch`; the products on `kernels`, the epilogue's loop
 * in `build` (one the CPU runs).
 */
void cfn_qconv_forward(const cfn_qconv *conv, const uint8_t *xq, int n, int h, int w,
                       float in_scale, float *out, int ldo, cfn_qconv_epilogue epilogue,
                       cfn_pool *pool, uint8_t *scratch, size_t scratch_stride,
                       cfn_q_kernels kernels, cfn_loop_build build);

/* ---- fconv.c ------------------------------------------------------------------------------ */

/* Scratch bytes one worker needs for `conv` in float32. */
size_t cfn_fconv_scratch_bytes(const cfn_qconv *conv);
/* As cfn_qconv_forward, in float32 with conv->float_weight, on the float NHWC input x (row
   stride ldx, not overlapping out), with the loop's `build` (one the CPU runs). */
void cfn_fconv_forward(const cfn_qconv *conv, const float *x, int ldx, int n, int h, int w,
                       float *out, int ldo, cfn_qconv_epilogue epilogue, cfn_pool *pool,
                       unsigned char *scratch, size_t scratch_stride, cfn_loop_build build);
/* Reorders float weights [out][in][kh][kw] (PyTorch's order) into conv->float_weight's
   (ky, kx, channel) × out order at `dst`. */
void cfn_fconv_set_weights(const cfn_qconv *conv, const float *w, float *dst);

/* ---- quantize.c ---------------------------------------------------------------------------- */

/* xq[p · stride + c] = u8(x[p · ldx + c]) for c < channels, zero_point for channels … stride,
   with the loop's `build` (one the CPU runs). */
void cfn_q_quantize(const float *x, int pixels, int channels, int ldx, float scale,
                    int zero_point, int stride, uint8_t *xq, cfn_pool *pool, cfn_loop_build build);
/* The NCHW float image batch to u8 NHWC with 4 bytes per pixel (3 channels, then zero_point). */
void cfn_q_quantize_image(const float *images, int n, int h, int w, float scale, int zero_point,
                          uint8_t *xq);
/* The largest x[p · ldx + c] (absolute value when `absolute`), for calibration. */
float cfn_q_max(const float *x, int pixels, int channels, int ldx, int absolute);

/* ---- calibrate.c --------------------------------------------------------------------------- */

#define CFN_Q_CALIBRATE_MAX 0 /* the largest value */
#define CFN_Q_CALIBRATE_MSE 1 /* the least squared quantisation error */
/* The clipping value of one layer's (non-negative) input for u8 quantisation: scale = it / 255. */
float cfn_q_calibrate_clip(const float *x, int pixels, int channels, int ldx, int method);

/* ---- nhwc_pool.c --------------------------------------------------------------------------- */

/* MaxPool2d(3, stride 2), floor mode: `channels` channels of NHWC x (row stride ldx) into out
   (row stride ldo). */
void cfn_nhwc_maxpool3x3_s2(const float *x, int n, int h, int w, int channels, int ldx,
                            float *out, int ldo);
/* out[i · channels + c] = mean over the h · w pixels of image i (AdaptiveAvgPool2d(1)). */
void cfn_nhwc_global_avgpool(const float *x, int n, int hw, int channels, float *out);

#endif
