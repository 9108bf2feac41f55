/*
 * CFaceNet's test entries: the kernels and layer ops behind the public API (cfacenet.h,
 * cfacenet_mtcnn.h), exposed so each path can be checked against a plain reference or PyTorch
 * on its own. Implemented in CFaceNet (its shared library exports them too) but not part of its
 * API: they trust more of their arguments, and change with the kernels. Only the package's
 * tests use them, through the CFaceNetTesting target whose header includes this one.
 */
#ifndef CFACENET_TESTING_H
#define CFACENET_TESTING_H

#include <stddef.h>
#include <stdint.h>

#include "cfacenet.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- FaceNet's stages ----------------------------------------------------------------------- */

/*
 * Testing: called with each stage's output during a forward pass, named as facenet-pytorch's
 * InceptionResnetV1 modules ("conv2d_4b", "repeat_1", "mixed_6a", "repeat_2", "mixed_7a",
 * "repeat_3", "block8", "last_bn"), in the CNHW layout (channel c of image k at
 * x + (c·n + k)·h·w; last_bn: 512 × n × 1 × 1, before the L2 normalisation). `x` is valid only
 * during the call.
 */
typedef void (*cfn_facenet_stage_observer)(void *user, const char *stage, const float *x,
                                           int channels, int n, int h, int w);

/*
 * Testing: cfn_facenet_embed, handing each stage's output to `observer` (with `user`) as it is
 * computed, so a test can compare every stage with facenet-pytorch's and name the first one
 * that differs. `observer` NULL: exactly cfn_facenet_embed.
 */
cfn_status cfn_facenet_embed_observed(const cfn_facenet *model, cfn_context *ctx,
                                      const float *images, int n, int height, int width,
                                      float *embeddings, cfn_facenet_stage_observer observer,
                                      void *user);

/*
 * Testing: cfn_facenet_create with the portable path's layout whatever the CPU: weights kept
 * row-major and every layer run as one SGEMM over the whole batch (as on a CPU without AVX2,
 * arm64, or under FACEREC_DISABLE_AVX2), so that path is checked on any machine.
 */
cfn_status cfn_facenet_create_portable(cfn_tensor_lookup_fn lookup, void *user, cfn_facenet **out,
                                       char *message, size_t capacity);

/*
 * Testing: how many of the context's helper threads are asleep (waiting for a job on the pool's
 * condition variable) right now, and in *helpers (when not NULL) how many it has. A pass ends
 * by sending them to sleep, so between passes the two become equal at once.
 */
int cfn_context_sleeping_helpers(const cfn_context *ctx, int *helpers);

/* ---- FaceNet's kernels ---------------------------------------------------------------------- */

/*
 * Testing: FaceNet's 3×3 stride-1 convolution two ways, each to be checked against a plain
 * reference. out = act(conv3×3(in) + bias) (bias may be NULL; act ReLU when `relu`) of n images
 * in the CNHW layout (channel c of image k at in + (c·n + k)·h·w), padding `pad` (0 or 1) on
 * every side, into out_channels × n × (h + 2·pad − 2) × (w + 2·pad − 2). `winograd` 1: the
 * Winograd F(2×2, 3×3) path on the CPU's best kernels (AVX-512 transforms and products where it
 * has them), 2: the same capped at AVX2, with `scratch_floats` of scratch (0: enough for one
 * chunk; smaller values force chunks of tile rows); 0: the GEMM over the unfolded input.
 * `threads` workers share the work.
 * Returns 1 when done, 0 when Winograd was asked for on a CPU without AVX2 + FMA or with scratch
 * for less than one tile row, −1 for bad arguments or no memory.
 */
int cfn_conv3x3_cnhw(const float *weight, const float *bias, int out_channels, int in_channels,
                     const float *in, int n, int h, int w, int pad, int relu, int winograd,
                     size_t scratch_floats, int threads, float *out);

/*
 * Testing: any of FaceNet's convolutions as the GEMM over the unfolded input (never Winograd),
 * to be checked against a plain reference: weight out_channels × in_channels × kernel_h ×
 * kernel_w, `stride` both ways, padding pad_h / pad_w, n images in the CNHW layout as above, into
 * out_channels × n × out_h × out_w (out_h = (h + 2·pad_h − kernel_h) / stride + 1, out_w alike).
 * `kernels` picks the products' and the unfolding's kernels as cfn_context_set_kernels does
 * (CFN_KERNELS_BEST on an AVX-512 CPU: the vector unfolding; CFN_KERNELS_AVX2: the scalar one,
 * into the same FMA chains, so the two must agree bit for bit). `threads` workers share the
 * work. Returns 1 when done, −1 for bad arguments or no memory.
 */
int cfn_conv2d_cnhw(const float *weight, const float *bias, int out_channels, int in_channels,
                    int kernel_h, int kernel_w, int stride, int pad_h, int pad_w, const float *in,
                    int n, int h, int w, int relu, cfn_kernel_set kernels, int threads, float *out);

/*
 * Testing: FaceNet's matrix product. For each i < count, with A_i = a + i·m·k (m × k,
 * row-major), B_i = b + i·k·ldb (k × n, leading dimension ldb) and C_i = c + i·m·ldc:
 * epilogue 0: C_i = A_i·B_i; 1: C_i = act(A_i·B_i + bias[row]); 2: C_i = act(C_i + scale ·
 * (A_i·B_i + bias[row])); act is ReLU when `relu`, bias may be NULL. A is packed as the
 * network packs its weights, in panels of `panel_rows` rows (6, the layout of FaceNet's layers
 * up to Mixed_6a, or 16, that of repeat_2 on); `threads` workers share the
 * work; `kernels` picks the micro-kernel (a cfn_kernel_set: CFN_KERNELS_PORTABLE runs BLAS on
 * each packed panel, the path of CPUs without AVX2; CFN_KERNELS_AVX2 the 6 × 16 AVX2 kernel;
 * CFN_KERNELS_BEST AVX-512 where the CPU has it).
 * Returns 0, or −1 for bad arguments or no memory.
 */
int cfn_gemm_check(int m, int n, int k, int count, const float *a, const float *b, int ldb,
                   float *c, int ldc, int epilogue, const float *bias, float scale, int relu,
                   int threads, int kernels, int panel_rows);

/*
 * Testing: FaceNet's MaxPool2d(3, stride 2) (floor mode, no padding) of `planes` h × w planes
 * (h, w ≥ 3) into planes × ((h − 3) / 2 + 1) × ((w − 3) / 2 + 1), on the kernels a context with
 * this cfn_kernel_set runs: AVX-512 for CFN_KERNELS_BEST on a CPU that has it, the plain loop
 * otherwise. Returns 0, or −1 for bad arguments.
 */
int cfn_maxpool3x3_s2_check(const float *in, int planes, int h, int w, int kernels, float *out);

/* ---- Building blocks ------------------------------------------------------------------------
 * The layer ops the nets are made of, exposed so each can be checked against PyTorch on its
 * own. Activations are channel-major ("CNHW": channel c of image i is the plane at
 * (c·N + i)·H·W); a dense layer's activations are features × batch.
 */

/* x = x > 0 ? x : slope[row] · x on a rows × cols block with leading dimension ld (nn.PReLU). */
void cfn_prelu(float *x, int rows, int cols, int ld, const float *slope);
/* Softmax across the `rows` channels of every column, in place (nn.Softmax(dim=1)). */
void cfn_softmax_rows(float *x, int rows, int cols, int ld);
/* out (out_features × n) = weight (out_features × in_features) · in (in_features × n) + bias. */
void cfn_linear_forward(const float *weight, const float *bias, int out_features,
                        int in_features, const float *in, int n, float *out);
/* Reorders a Linear weight written for x.permute(0, 3, 2, 1).flatten() to (channel, y, x). */
void cfn_linear_permute_hwc_weight(const float *weight, int out_features, int c, int h, int w,
                                   float *out);
/* CNHW (c × n × hw) → features × n, features ordered (channel, y, x). */
void cfn_flatten_cnhw(const float *in, int c, int n, int hw, float *out);
/* nn.MaxPool2d output extent (ceil_mode as PyTorch; 0 when the kernel does not fit) and the
   forward pass over `planes` H×W planes. */
int cfn_pool_out_extent(int in, int kernel, int stride, int pad, int ceil_mode);
void cfn_maxpool2d(const float *in, int planes, int h, int w, int kernel, int stride, int pad,
                   int ceil_mode, float *out);
/* The stride-2 ceil-mode special case the nets use (kernel 2 or 3): AVX2 where available, and
   the same forced onto its portable loops (for testing one against the other). */
void cfn_maxpool2d_s2_ceil(const float *in, int planes, int h, int w, int kernel, float *out);
void cfn_maxpool2d_s2_ceil_portable(const float *in, int planes, int h, int w, int kernel,
                                    float *out);
/*
 * The nets' two 3×3 convolution kernels, for testing one against the other: out =
 * PReLU(conv3x3(in) + bias) (slope NULL: no PReLU) of `images` images of h × w values stacked
 * in each of in_channels planes (rows rs ≥ w floats apart, image k from row k·h) into
 * out_channels planes of the same size, where image k's (h − 2) × (w − 2) result starts at row
 * k·h. `winograd` 1: Winograd F(2×2, 3×3), with `row_phase` as cfn_winograd_conv_forward
 * (ops.h) documents; 2: Winograd F(4×4, 3×3) (cfn_winograd43_conv_forward, row_phase modulo
 * 4); 0: the direct kernel. Returns 1 when done, 0 when Winograd was asked for
 * on a CPU without AVX2 + FMA, −1 for bad arguments or no memory.
 */
int cfn_conv3x3_prelu(const float *weight, const float *bias, const float *slope, int out_channels,
                      int in_channels, const float *in, int images, int h, int w, int rs,
                      int row_phase, int winograd, float *out);

/*
 * P-Net's first layer two ways, for testing one against the other: PReLU(conv3x3(in) + bias)
 * (slope NULL: no PReLU) of one h × w image in each of in_channels planes (rows rs ≥ w floats
 * apart), then MaxPool2d(2, 2, ceil_mode=True), into out_channels planes of ⌈(h − 2) / 2⌉ ×
 * ⌈(w − 2) / 2⌉. `fused` 1: the one-pass kernel (its AVX-512 tiles where the CPU has them);
 * 2: the one-pass kernel on its AVX2 tiles alone; 3: on its AVX-512 tiles (rows of 16 whole
 * windows or more); 0: the direct kernel, then the pool. Returns 1 when done, 0 when a fused
 * kernel was asked for on a CPU without its instructions or for a conv output under 2 × 2, −1
 * for bad arguments or no memory.
 */
int cfn_conv3x3_prelu_maxpool2(const float *weight, const float *bias, const float *slope,
                               int out_channels, int in_channels, const float *in, int h, int w,
                               int rs, int fused, float *out);

/*
 * P-Net's head two ways, for testing one against the other: the 1×1 convolution of `cin`
 * planes (rows × rs floats each, `rows` rows of `width` ≤ rs valid values) to 6 channels
 * (`weight` [6][cin], `bias` [6]), the softmax of channels 0-1 and the regressions 2-5, written
 * as P-Net writes them: prob (rows × width, the face probability) and reg (4 planes of
 * rows × width). `fused` 1: the fused AVX2 kernel (ops/pnet_head.c); 0: the direct kernel, then
 * cfn_softmax_rows and the copies. Returns 1 when done, 0 when the fused kernel was asked for
 * on a CPU without AVX2 + FMA, −1 for bad arguments or no memory.
 */
int cfn_pnet_head_paths(const float *weight, const float *bias, int cin, const float *in,
                        int rows, int width, int rs, int fused, float *prob, float *reg);

/*
 * P-Net's conv3 and head two ways, for testing one against the other: PReLU(conv3x3(in) + bias)
 * by Winograd F(4×4, 3×3) of one h × w image in `cin` planes (rows rs ≥ w floats apart), tiles
 * from output row −(row_phase mod 4), to `cout` channels, then P-Net's head (`head_weight`
 * [6][cout], `head_bias` [6]) on output rows [first, last): prob ((last − first) × (w − 2)) and
 * reg (4 such planes). `fused` 1: cfn_winograd43_conv_pnet_head; 0: cfn_winograd43_conv_forward
 * into a buffer, then cfn_pnet_head_forward. Returns 1 when done, 0 on a CPU without AVX2 + FMA,
 * −1 for bad arguments or no memory.
 */
int cfn_winograd43_pnet_head_paths(const float *weight, const float *bias, const float *slope,
                                   int cout, int cin, const float *head_weight,
                                   const float *head_bias, const float *in, int h, int w, int rs,
                                   int row_phase, int first, int last, int fused, float *prob,
                                   float *reg);

/*
 * exp of n floats two ways, for testing one against the other and against libm: `vector` 0:
 * cfn_expf (ops/expf.h, what the softmax runs); 1: its AVX2 form (what P-Net's head runs).
 * Returns 1 when done, 0 when the vector form was asked for on a CPU without AVX2 + FMA, −1 for
 * bad arguments.
 */
int cfn_expf_paths(const float *x, int n, int vector, float *out);

/*
 * The direct ("flat") convolution of conv_flat.c on one path: `path` 0 portable C, 1 AVX2 + FMA
 * tiles, 2 AVX2 with whole 32-position blocks on AVX-512 (what runs where the CPU has it).
 * Output position p < positions of channel o is out[o · out_plane + p], as cfn_flat_conv_forward
 * computes it from `in` (in_channels planes in_plane floats apart, rows rs apart; the caller
 * provides the window's inputs for every position). Returns 1 when done, 0 when the CPU lacks
 * the path asked for, −1 for bad arguments or no memory.
 */
int cfn_flat_conv_paths(const float *weight, const float *bias, const float *slope,
                        int out_channels, int in_channels, int kernel, const float *in,
                        size_t in_plane, int rs, size_t positions, int path, float *out,
                        size_t out_plane);

/*
 * The Winograd convolutions' transform-domain GEMM (MTCNN's F(2×2), F(3×3) and F(4×4) share
 * it): m[o·channel_stride + ξ·xi_stride + t] = Σ_c u[((ξ·cout_padded/4 + o/4)·cin + c)·4 + o%4]
 * · v[c·channel_stride + ξ·xi_stride + t] for t < cols, on its AVX2 form (`avx512` 0) or its
 * AVX-512 form (1). cols a multiple of 16, cout_padded of 4, xi_stride ≥ cols, channel_stride
 * ≥ points · xi_stride. Returns 1 when done, 0 when the CPU lacks the form asked for, −1 for
 * bad arguments.
 */
int cfn_winograd_gemm_paths(const float *u, const float *v, float *m, int points, int xi_stride,
                            int channel_stride, int cin, int cout_padded, int cols, int avx512);

/* ---- FaceNet's int8 kernels ----------------------------------------------------------------- */

/*
 * Testing: one int8 product on the kernels named by `kernels` (0 plain C, 1 AVX2, 2 AVX-512
 * VNNI): acc (columns × rows, column-major) = W · X for int8 weights `w` (rows × depth,
 * row-major, each in −63 … 63; rows a multiple of 16) and u8 activations `x` (columns × depth,
 * column-major). Returns 1 when done, 0 when the CPU lacks the kernels asked for, −1 for bad
 * arguments or no memory.
 */
int cfn_q_gemm_test(const int8_t *w, const uint8_t *x, int rows, int columns, int depth,
                    int kernels, int32_t *acc);

/*
 * Testing: one of the int8 network's float32 convolutions: v = conv(x: NHWC n × h × w ×
 * in_channels) with weight [out][in][k][k] (PyTorch's order), bias, stride and zero padding
 * `pad`, then the epilogue into out (NHWC, n × oh × ow × out_channels): out = v, or with
 * `residual` out + scale · v (out read first), then with `relu` max(·, 0) as `t < 0 ? 0 : t`.
 * On the loop's plain build (build 0), its AVX2 one (1) or its AVX-512 one (2). out_channels a
 * multiple of 16. Returns 1 when done, 0 when the CPU lacks the build's instructions, −1 for
 * bad arguments or no memory.
 */
int cfn_fconv_test(const float *x, int n, int h, int w, int in_channels, const float *weight,
                   const float *bias, int out_channels, int kernel, int stride, int pad,
                   int residual, float scale, int relu, int build, float *out);

#ifdef __cplusplus
}
#endif

#endif /* CFACENET_TESTING_H */
