/*
 * Convolution as GEMM: the packed weight (Cout × Cin·kh·kw) times the unfolded input
 * (Cin·kh·kw × P) on cfn_gemm_run, with bias and activation in the product's epilogue. The
 * input is unfolded straight into the engine's packed strips, one column block at a time by
 * the task that multiplies it, so no im2col matrix is ever stored: for a pointwise convolution
 * B is the input itself.
 */
#include "../testing.h"
#include "ops.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int cfn_conv2d_is_pointwise(const cfn_conv2d *conv) {
    return conv->kernel_h == 1 && conv->kernel_w == 1 && conv->stride_h == 1 &&
           conv->stride_w == 1 && conv->pad_h == 0 && conv->pad_w == 0;
}

int cfn_conv2d_depth(const cfn_conv2d *conv) {
    return conv->in_channels * conv->kernel_h * conv->kernel_w;
}

/* The unfolded input: column (image · out_h + oy) · out_w + ox, row (c · kh + ky) · kw + kx. */
typedef struct unfold_source {
    const cfn_conv2d *conv;
    const float *in;
    int n, h, w, out_h, out_w;
    int avx512; /* the engine runs AVX-512 kernels: unfold with them too */
    int avx2;   /* it runs AVX2 (or AVX-512) kernels */
} unfold_source;

#if defined(__x86_64__) || defined(__i386__)
#include "avx2_lanes.h"

/* Strips of one block at most (MAX_BLOCK_COLUMNS in gemm_packed.c / 16). */
#define UNFOLD_MAX_STRIPS 32
/* Output rows one strip of a stride-2 layer may cross and still be read with masked loads and
   permutes rather than a gather: FaceNet's 16 lanes cross at most 2 output rows in conv2d_1a,
   conv2d_4b and Mixed_6a (79, 17 and 8 wide at 160×160) and 6 in Mixed_7a (3 wide). */
#define UNFOLD_MAX_RUNS 6

/* Where the 16 columns of one strip read the input, for the kernel's tap (0, 0): lane j's
   offset within a channel's images (image · h · w + iy · w + ix), its input row and column, and
   whether it is a column at all. A tap (ky, kx) reads offset + ky · w + kx where row iy + ky and
   column ix + kx are inside the image. */
typedef struct unfold_lanes {
    __m512i offset, iy, ix;
    __mmask16 valid;
    int consecutive; /* the valid lanes read consecutive floats: a masked load, not a gather */
    /* Otherwise, where the valid lanes are at most UNFOLD_MAX_RUNS runs that each read every
       other float (stride 2: one run per output row the strip crosses), `runs` of them: lanes
       run_lanes[q], the first at offset run_offset[q], lane t's value being float
       2 · (t − first) of the 32 from there (run_index[q]). 0: a gather. */
    int runs;
    __mmask16 run_lanes[UNFOLD_MAX_RUNS];
    int run_first[UNFOLD_MAX_RUNS], run_offset[UNFOLD_MAX_RUNS];
    __m512i run_index[UNFOLD_MAX_RUNS];
} unfold_lanes;

/* Bit i of a 16-bit mask moved to bit 2i: the floats of a 32-float window that lanes read. */
static inline uint32_t unfold_spread_bits(uint32_t x) {
    x = (x | x << 8) & 0x00ff00ffu;
    x = (x | x << 4) & 0x0f0f0f0fu;
    x = (x | x << 2) & 0x33333333u;
    return (x | x << 1) & 0x55555555u;
}

/* Where columns col0 … col0 + 15 of the unfolded input read at the kernel's tap (0, 0): lane j's
   input row iy, column ix, and offset within a channel's images (image · h · w + iy · w + ix).
   A tap (ky, kx) reads offset + ky · w + kx where row iy + ky and column ix + kx are inside the
   image. Lanes past the last column get the values the formula gives; callers mask them. */
static void unfold_lane_origins(const unfold_source *u, int col0, int iy[16], int ix[16],
                                int offset[16]) {
    const cfn_conv2d *conv = u->conv;
    int ox = col0 % u->out_w, row = col0 / u->out_w;
    int oy = row % u->out_h, image = row / u->out_h;
    for (int j = 0; j < 16; ++j) {
        iy[j] = oy * conv->stride_h - conv->pad_h;
        ix[j] = ox * conv->stride_w - conv->pad_w;
        offset[j] = image * u->h * u->w + iy[j] * u->w + ix[j];
        if (++ox == u->out_w) {
            ox = 0;
            if (++oy == u->out_h) {
                oy = 0;
                ++image;
            }
        }
    }
}

AVX512 static void unfold_lanes_for(const unfold_source *u, int col0, int cols, unfold_lanes *l) {
    const cfn_conv2d *conv = u->conv;
    int offset[16] __attribute__((aligned(64))), iy[16] __attribute__((aligned(64))),
        ix[16] __attribute__((aligned(64)));
    unfold_lane_origins(u, col0, iy, ix, offset);
    int consecutive = 1;
    for (int j = 1; j < cols && j < 16; ++j)
        if (offset[j] != offset[0] + j) consecutive = 0;
    l->offset = _mm512_load_si512(offset);
    l->iy = _mm512_load_si512(iy);
    l->ix = _mm512_load_si512(ix);
    const int valid = cols < 16 ? cols : 16;
    l->valid = (__mmask16)((1u << valid) - 1);
    l->consecutive = consecutive;
    l->runs = 0;
    if (consecutive || conv->stride_w != 2) return;
    const __m512i twice_lane = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24,
                                                 26, 28, 30);
    int runs = 0;
    for (int j = 0; j < valid; ++j) {
        if (j > 0 && offset[j] == offset[j - 1] + 2) {
            l->run_lanes[runs - 1] |= (__mmask16)(1u << j);
            continue;
        }
        if (runs == UNFOLD_MAX_RUNS) return; /* too many rows for this strip: a gather */
        l->run_lanes[runs] = (__mmask16)(1u << j);
        l->run_first[runs] = j;
        l->run_offset[runs] = offset[j];
        l->run_index[runs] = _mm512_sub_epi32(twice_lane, _mm512_set1_epi32(2 * j));
        ++runs;
    }
    l->runs = runs;
}

/* The 16 lanes of a strip's runs at `plane` + `shift`, zero where `inside` is clear: per run,
   two masked loads of the 32-float window (the masks skip the floats of padding lanes, so no
   load reaches outside the image) and a permute that picks its even floats. */
AVX512_INLINE __m512 unfold_runs(const unfold_lanes *l, const float *plane, int shift,
                                 __mmask16 inside) {
    __m512 v = _mm512_setzero_ps();
    for (int q = 0; q < l->runs; ++q) {
        const __mmask16 lanes = inside & l->run_lanes[q];
        const uint32_t floats = unfold_spread_bits((uint32_t)lanes >> l->run_first[q]);
        const float *window = plane + l->run_offset[q] + shift;
        const __m512 low = _mm512_maskz_loadu_ps((__mmask16)floats, window);
        const __m512 high = _mm512_maskz_loadu_ps((__mmask16)(floats >> 16), window + 16);
        v = _mm512_mask_mov_ps(v, l->run_lanes[q], _mm512_permutex2var_ps(low, l->run_index[q], high));
    }
    return v;
}

/* unfold_strips on AVX-512: each (row, strip) is one masked load, a few loads and permutes
   (stride 2) or one gather of 16 lanes whose addresses and padding masks come from the strip's
   precomputed lanes. A gather costs several times the loads and permutes: conv2d_4b's
   unfolding was 12 % of its time with gathers. */
AVX512 static void unfold_strips_avx512(const unfold_source *u, int k, int k0, int k1, int col0,
                                        int cols, float *strips) {
    const cfn_conv2d *conv = u->conv;
    const int kh = conv->kernel_h, kw = conv->kernel_w;
    const size_t channel = (size_t)u->n * u->h * u->w, strip_floats = (size_t)CFN_GEMM_NR * k;
    const int count = (cols + 15) / 16;
    unfold_lanes lanes[UNFOLD_MAX_STRIPS];
    for (int s = 0; s < count; ++s)
        unfold_lanes_for(u, col0 + 16 * s, cols - 16 * s, &lanes[s]);
    const __m512i h = _mm512_set1_epi32(u->h), w = _mm512_set1_epi32(u->w);
    int c = k0 / (kh * kw), ky = k0 / kw % kh, kx = k0 % kw;
    for (int r = k0; r < k1; ++r) {
        const float *plane = u->in + (size_t)c * channel;
        const __m512i dy = _mm512_set1_epi32(ky), dx = _mm512_set1_epi32(kx);
        const int shift = ky * u->w + kx;
        float *row = strips + (size_t)r * CFN_GEMM_NR;
        for (int s = 0; s < count; ++s) {
            const unfold_lanes *l = &lanes[s];
            const __m512i y = _mm512_add_epi32(l->iy, dy), x = _mm512_add_epi32(l->ix, dx);
            /* 0 ≤ y < h and 0 ≤ x < w as unsigned compares (negative values wrap high). */
            const __mmask16 inside = _mm512_mask_cmplt_epu32_mask(
                _mm512_mask_cmplt_epu32_mask(l->valid, y, h), x, w);
            __m512 v;
            if (l->consecutive)
                v = _mm512_maskz_loadu_ps(inside, plane + _mm_cvtsi128_si32(_mm512_castsi512_si128(l->offset)) + shift);
            else if (l->runs)
                v = unfold_runs(l, plane, shift, inside);
            else
                v = _mm512_mask_i32gather_ps(_mm512_setzero_ps(), inside,
                                             _mm512_add_epi32(l->offset, _mm512_set1_epi32(shift)),
                                             plane, 4);
            _mm512_store_ps(row + (size_t)s * strip_floats, v);
        }
        if (++kx == kw) {
            kx = 0;
            if (++ky == kh) {
                ky = 0;
                ++c;
            }
        }
    }
}

/* Layers of stride 1 and "same" padding (out_h = h, out_w = w), where column j of the unfolded
   input reads offset j − (pad_h · w + pad_w) of a channel's images at tap (0, 0), so a strip's
   16 lanes read 16 consecutive floats at every tap: FaceNet's 1×7, 7×1, 1×3 and 3×1 layers (its
   3×3 stride-1 layers run by Winograd). */
static int unfold_is_consecutive(const unfold_source *u) {
    const cfn_conv2d *conv = u->conv;
    return conv->stride_h == 1 && conv->stride_w == 1 && u->out_h == u->h && u->out_w == u->w;
}

/* unfold_strips on AVX2: each (row, strip) is two masked loads on consecutive layers
   (unfold_is_consecutive) and two gathers on the others (the stride-2 ones), the masks clearing
   the lanes whose tap falls in the padding, so that no load reaches outside the input. The
   scalar loop walked each output row's run with its bounds: in FaceNet's repeat_2 at batch 1
   (8 × 8 maps, 16-column strips of two output rows) unfolding took ~10 % of the pass on a
   Zen 3, and in the stride-2 layers ~5 %. */
AVX2 static void unfold_strips_avx2(const unfold_source *u, int k, int k0, int k1, int col0,
                                    int cols, float *strips) {
    const cfn_conv2d *conv = u->conv;
    const int kh = conv->kernel_h, kw = conv->kernel_w, consecutive = unfold_is_consecutive(u);
    const size_t channel = (size_t)u->n * u->h * u->w, strip_floats = (size_t)CFN_GEMM_NR * k;
    const int count = (cols + 15) / 16;
    /* Per strip, its lanes' origins (unfold_lane_origins); lanes past `cols` get a row no tap
       brings inside (−h − kh), so their masks stay clear. */
    __m256i iy[UNFOLD_MAX_STRIPS][2], ix[UNFOLD_MAX_STRIPS][2], offset[UNFOLD_MAX_STRIPS][2];
    for (int s = 0; s < count; ++s) {
        int y[16] __attribute__((aligned(32))), x[16] __attribute__((aligned(32))),
            at[16] __attribute__((aligned(32)));
        unfold_lane_origins(u, col0 + 16 * s, y, x, at);
        for (int j = cols - 16 * s; j < 16; ++j) y[j] = -u->h - kh;
        for (int half = 0; half < 2; ++half) {
            iy[s][half] = _mm256_load_si256((const __m256i *)(y + 8 * half));
            ix[s][half] = _mm256_load_si256((const __m256i *)(x + 8 * half));
            offset[s][half] = _mm256_load_si256((const __m256i *)(at + 8 * half));
        }
    }
    const __m256i h = _mm256_set1_epi32(u->h), w = _mm256_set1_epi32(u->w),
                  below = _mm256_set1_epi32(-1);
    int c = k0 / (kh * kw), ky = k0 / kw % kh, kx = k0 % kw;
    for (int r = k0; r < k1; ++r) {
        const float *plane = u->in + (size_t)c * channel;
        const __m256i dy = _mm256_set1_epi32(ky), dx = _mm256_set1_epi32(kx);
        const int tap = ky * u->w + kx;
        const __m256i tap8 = _mm256_set1_epi32(tap);
        float *out = strips + (size_t)r * CFN_GEMM_NR;
        for (int s = 0; s < count; ++s) {
            for (int half = 0; half < 2; ++half) {
                const __m256i y = _mm256_add_epi32(iy[s][half], dy),
                              x = _mm256_add_epi32(ix[s][half], dx);
                /* −1 < y < h and −1 < x < w. */
                const __m256i inside = _mm256_and_si256(
                    _mm256_and_si256(_mm256_cmpgt_epi32(y, below), _mm256_cmpgt_epi32(h, y)),
                    _mm256_and_si256(_mm256_cmpgt_epi32(x, below), _mm256_cmpgt_epi32(w, x)));
                __m256 v;
                if (consecutive) /* the lanes read on from the first one's offset */
                    v = _mm256_maskload_ps(plane + (_mm256_cvtsi256_si32(offset[s][half]) + tap),
                                           inside);
                else
                    v = _mm256_mask_i32gather_ps(_mm256_setzero_ps(), plane,
                                                 _mm256_add_epi32(offset[s][half], tap8),
                                                 _mm256_castsi256_ps(inside), 4);
                _mm256_store_ps(out + (size_t)s * strip_floats + 8 * half, v);
            }
        }
        if (++kx == kw) {
            kx = 0;
            if (++ky == kh) {
                ky = 0;
                ++c;
            }
        }
    }
}
#endif

/* Rows [k0, k1), columns [col0, col0 + cols) of the unfolded input into strips of k × 16
   (cfn_gemm_b_producer).
   Each row walks the columns in runs that stay within one output row and one strip, tracking
   the output position by increments (a division per element costs more than the copy). */
static void unfold_strips(const void *source, int k, int k0, int k1, int col0, int cols,
                          float *strips) {
    const unfold_source *u = source;
#if defined(__x86_64__) || defined(__i386__)
    if (u->avx512 && cols <= 16 * UNFOLD_MAX_STRIPS) {
        unfold_strips_avx512(u, k, k0, k1, col0, cols, strips);
        return;
    }
    if (u->avx2 && cols <= 16 * UNFOLD_MAX_STRIPS) {
        unfold_strips_avx2(u, k, k0, k1, col0, cols, strips);
        return;
    }
#endif
    const cfn_conv2d *conv = u->conv;
    const int kh = conv->kernel_h, kw = conv->kernel_w, sw = conv->stride_w, w = u->w;
    const size_t plane = (size_t)u->h * w, strip_floats = (size_t)CFN_GEMM_NR * k;
    const int padded = (cols + CFN_GEMM_NR - 1) / CFN_GEMM_NR * CFN_GEMM_NR;
    const int first_row = col0 / u->out_w;
    const int first_ox = col0 % u->out_w, first_oy = first_row % u->out_h,
              first_image = first_row / u->out_h;
    int c = k0 / (kh * kw), ky = k0 / kw % kh, kx = k0 % kw; /* row r = (c · kh + ky) · kw + kx */
    for (int r = k0; r < k1; ++r) {
        float *row = strips + (size_t)r * CFN_GEMM_NR;
        int ox = first_ox, oy = first_oy, image = first_image, j = 0;
        while (j < cols) {
            int len = u->out_w - ox;
            if (len > cols - j) len = cols - j;
            if (len > CFN_GEMM_NR - j % CFN_GEMM_NR) len = CFN_GEMM_NR - j % CFN_GEMM_NR;
            float *dst = row + (size_t)(j / CFN_GEMM_NR) * strip_floats + j % CFN_GEMM_NR;
            const int iy = oy * conv->stride_h - conv->pad_h + ky;
            if (iy < 0 || iy >= u->h) {
                for (int t = 0; t < len; ++t) dst[t] = 0.0f;
            } else {
                const float *src = u->in + ((size_t)c * u->n + image) * plane + (size_t)iy * w;
                const int ix0 = ox * sw - conv->pad_w + kx;
                /* Outputs t in [lo, hi) read inside the row; the rest are padding. */
                int lo = 0, hi = len;
                if (ix0 < 0) lo = sw == 1 ? -ix0 : (-ix0 + sw - 1) / sw;
                if (ix0 + (hi - 1) * sw >= w) hi = sw == 1 ? w - ix0 : (w - 1 - ix0) / sw + 1;
                if (hi < lo) hi = lo;
                /* Runs are at most 16 floats: loops, not memcpy calls. */
                for (int t = 0; t < lo; ++t) dst[t] = 0.0f;
                if (sw == 1)
                    for (int t = lo; t < hi; ++t) dst[t] = src[ix0 + t];
                else
                    for (int t = lo; t < hi; ++t) dst[t] = src[ix0 + t * sw];
                for (int t = hi; t < len; ++t) dst[t] = 0.0f;
            }
            j += len;
            ox += len;
            if (ox == u->out_w) {
                ox = 0;
                if (++oy == u->out_h) {
                    oy = 0;
                    ++image;
                }
            }
        }
        for (; j < padded; ++j) row[(size_t)(j / CFN_GEMM_NR) * strip_floats + j % CFN_GEMM_NR] = 0.0f;
        if (++kx == kw) {
            kx = 0;
            if (++ky == kh) {
                ky = 0;
                ++c;
            }
        }
    }
}

void cfn_conv2d_forward(const cfn_conv2d *conv, const float *in, int n, int h, int w, float *out,
                        float *scratch, size_t scratch_capacity, cfn_activation act, int winograd,
                        const cfn_gemm_engine *engine) {
    if (winograd && conv->winograd &&
        cfn_conv2d_winograd_forward(conv, in, n, h, w, out, scratch, scratch_capacity, act, engine))
        return;
    const int out_h = cfn_conv_out_extent(h, conv->kernel_h, conv->stride_h, conv->pad_h);
    const int out_w = cfn_conv_out_extent(w, conv->kernel_w, conv->stride_w, conv->pad_w);
    const int columns = n * out_h * out_w; /* leading dimension of `out` */
    const unfold_source unfold = {conv, in, n, h, w, out_h, out_w,
                                  engine->kernels == CFN_GEMM_KERNELS_AVX512,
                                  engine->kernels != CFN_GEMM_KERNELS_PORTABLE};
    const int pointwise = cfn_conv2d_is_pointwise(conv);
    const cfn_gemm_job job = {conv->out_channels, columns, cfn_conv2d_depth(conv), 1,
                              conv->weight, 0, in, columns, 0, out, columns, 0,
                              {CFN_GEMM_BIAS_ACT, conv->bias, 1.0f, act == CFN_ACTIVATION_RELU},
                              pointwise ? NULL : unfold_strips, pointwise ? NULL : &unfold,
                              conv->weight_rows};
    cfn_gemm_run(engine, &job);
}

/* ---- test entry (testing.h) --------------------------------------------------------------- */

int cfn_conv2d_cnhw(const float *weight, const float *bias, int out_channels, int in_channels,
                    int kernel_h, int kernel_w, int stride, int pad_h, int pad_w, const float *in,
                    int n, int h, int w, int relu, cfn_kernel_set kernels, int threads, float *out) {
    if (!weight || !in || !out || out_channels <= 0 || in_channels <= 0 || kernel_h < 1 ||
        kernel_w < 1 || stride < 1 || pad_h < 0 || pad_w < 0 || n < 1 || threads < 1 ||
        h + 2 * pad_h < kernel_h || w + 2 * pad_w < kernel_w)
        return -1;
    cfn_conv2d conv = {in_channels, out_channels, kernel_h, kernel_w, stride, stride,
                       pad_h, pad_w, NULL, bias, NULL};
    const int depth = cfn_conv2d_depth(&conv);
    const size_t gemm_floats = cfn_gemm_scratch_floats(depth);
    float *packed = malloc(cfn_gemm_packed_floats(out_channels, depth) * sizeof(float));
    float *strips = aligned_alloc(64, (size_t)threads * gemm_floats * sizeof(float));
    cfn_pool *pool = threads > 1 ? cfn_pool_create(threads) : NULL;
    int done = -1;
    if (packed && strips && (threads == 1 || pool)) {
        cfn_gemm_pack_a(weight, out_channels, depth, depth, packed);
        conv.weight = packed;
        const cfn_gemm_engine engine = {pool, strips, gemm_floats, cfn_gemm_kernels_for(kernels)};
        cfn_conv2d_forward(&conv, in, n, h, w, out, NULL, 0,
                           relu ? CFN_ACTIVATION_RELU : CFN_ACTIVATION_NONE, 0, &engine);
        done = 1;
    }
    cfn_pool_destroy(pool);
    free(strips);
    free(packed);
    return done;
}
