/*
 * FaceNet's 3×3 stride-1 convolutions (padding 0 or 1) by Winograd's F(2×2, 3×3), in the CNHW
 * layout of ops.h: 16 multiplications per 2×2 outputs and input channel instead of 36. These
 * layers are over a third of the network's multiply-adds (conv2d_2a, 2b, 4a, the Block35
 * branches, Mixed_6a's and Mixed_7a's inner 3×3s), and the GEMM over their unfolded input
 * copies 9 values per input value.
 *
 * For a chunk of tile rows (2 output rows of one image each): the input transform
 * V[ξ][c][t] = Bᵀ d B of every tile's 4×4 window (zeros outside the image: the padding), the
 * 16 products M[ξ] = U[ξ] · V[ξ] (U[ξ] = the transformed filters, cout × cin, packed at load
 * time) as one cfn_gemm_run job, then the inverse transform Aᵀ M A, bias and ReLU into the
 * output rows. Both transforms are spread over the engine's workers by channel, or, where the
 * transformed filters fit in L2, each worker takes whole tile rows through all three steps
 * (winograd_by_rows). The transforms need AVX2 (winograd_f23.h: 8 tiles at a time) and run 16 at
 * a time where the engine runs AVX-512 (winograd_f23_avx512.h); without AVX2 the caller keeps
 * the GEMM over the unfolded input.
 *
 * The result differs from the direct sum by rounding only (the transforms add and subtract,
 * G's halves are exact); FaceNet's parity test holds it to facenet-pytorch at 1e-4.
 */
#include "../testing.h"
#include "cfacenet.h"
#include "ops.h"

#include <stdlib.h>
#include <string.h>

/* Tile columns past a row's last tile that an 8-wide transform may write or read: each
   channel's row of V and M is this much longer than the chunk's tiles. */
#define TILE_PAD 8

/* Output extents and tile grid of the convolution on h × w inputs. */
typedef struct tile_grid {
    int out_h, out_w;
    int rows_per_image, tiles_per_row; /* ⌈out_h / 2⌉, ⌈out_w / 2⌉ */
} tile_grid;

static tile_grid grid_for(const cfn_conv2d *conv, int h, int w) {
    tile_grid g;
    g.out_h = cfn_conv_out_extent(h, 3, 1, conv->pad_h);
    g.out_w = cfn_conv_out_extent(w, 3, 1, conv->pad_w);
    g.rows_per_image = (g.out_h + 1) / 2;
    g.tiles_per_row = (g.out_w + 1) / 2;
    return g;
}

int cfn_conv2d_winograd_eligible(const cfn_conv2d *conv) {
    return conv->kernel_h == 3 && conv->kernel_w == 3 && conv->stride_h == 1 &&
           conv->stride_w == 1 && conv->pad_h == conv->pad_w && conv->pad_h >= 0 &&
           conv->pad_h <= 1;
}

/* Floats of one of the 16 packed transformed filter matrices. */
static size_t filter_floats(const cfn_conv2d *conv) {
    return cfn_gemm_packed_floats_rows(conv->out_channels, conv->in_channels,
                                       cfn_conv2d_panel_rows(conv));
}

size_t cfn_conv2d_winograd_weight_floats(const cfn_conv2d *conv) {
    return cfn_conv2d_winograd_eligible(conv) ? 16 * filter_floats(conv) : 0;
}

void cfn_conv2d_winograd_pack(const cfn_conv2d *conv, const float *weight, float *u) {
    const int cout = conv->out_channels, cin = conv->in_channels;
    const int rows = cfn_conv2d_panel_rows(conv);
    const size_t matrix = filter_floats(conv);
    memset(u, 0, 16 * matrix * sizeof(float)); /* zero rows past cout, and the padding */
    for (int o = 0; o < cout; ++o)
        for (int c = 0; c < cin; ++c) {
            double t[16];
            cfn_winograd_filter_f23(weight + ((size_t)o * cin + c) * 9, t);
            for (int xi = 0; xi < 16; ++xi)
                u[(size_t)xi * matrix + cfn_gemm_packed_index_rows(o, c, cin, rows)] = (float)t[xi];
        }
}

/* Floats of scratch for `tiles` tiles at once: V and M, each 16 points × channels × row. */
static size_t chunk_floats(const cfn_conv2d *conv, size_t tiles) {
    return (size_t)16 * (conv->in_channels + conv->out_channels) * (tiles + TILE_PAD);
}

size_t cfn_conv2d_winograd_scratch_floats(const cfn_conv2d *conv, int n, int h, int w,
                                          int whole) {
    if (!conv->winograd) return 0;
    const tile_grid g = grid_for(conv, h, w);
    const size_t rows = whole ? (size_t)n * g.rows_per_image : 1;
    return chunk_floats(conv, rows * g.tiles_per_row);
}

#if defined(__x86_64__) || defined(__i386__)
#include "winograd_f23.h"

/* V of channels [c0, c1) for tile rows [r0, r1) (row r = image · rows_per_image + ty), channel
   stride `ld`. */
AVX2 static void input_transform(const cfn_conv2d *conv, const float *in, int n, int h, int w,
                                 const tile_grid *g, int r0, int r1, int c0, int c1, float *v,
                                 size_t ld) {
    const int cin = conv->in_channels, pad = conv->pad_h, tw = g->tiles_per_row;
    const size_t plane = (size_t)h * w, xi_stride = (size_t)cin * ld;
    for (int c = c0; c < c1; ++c) {
        float *vc = v + (size_t)c * ld;
        for (int r = r0; r < r1; ++r) {
            const int image = r / g->rows_per_image, ty = r % g->rows_per_image;
            const float *src = in + ((size_t)c * n + image) * plane;
            const int y0 = 2 * ty - pad;
            float *dst = vc + (size_t)(r - r0) * tw;
            int tx = 0;
            if (y0 >= 0 && y0 + 4 <= h) {
                /* With padding, tile 0's window starts in it: staged first, since an 8-wide
                   transform writes 8 columns and the vector groups then overwrite 1..7. */
                if (pad) cfn_winograd_input8_edge(src, (size_t)w, h, w, y0, -pad, 1, dst, xi_stride);
                /* Whole windows: 8 tiles read 18 columns. */
                for (tx = pad ? 1 : 0; tx + 8 <= tw && 2 * tx - pad + 18 <= w; tx += 8)
                    cfn_winograd_input8(src + (size_t)y0 * w + 2 * tx - pad, (size_t)w, dst + tx,
                                        xi_stride);
            }
            /* The right edge, and rows that reach into the padding: staged. A group's columns
               past the row are the next row's (written after it) or the chunk's padding. */
            for (; tx < tw; tx += 8) {
                const int tiles = tw - tx < 8 ? tw - tx : 8;
                cfn_winograd_input8_edge(src, (size_t)w, h, w, y0, 2 * tx - pad, tiles, dst + tx,
                                         xi_stride);
            }
        }
    }
}

/* act(y + bias) on 8 lanes: ReLU as cfn_bias_activation's (v > 0 ? v : 0). */
AVX2_INLINE __m256 bias_act(__m256 y, __m256 bias, int relu) {
    const __m256 v = _mm256_add_ps(y, bias);
    return relu ? _mm256_and_ps(v, _mm256_cmp_ps(v, _mm256_setzero_ps(), _CMP_GT_OQ)) : v;
}

/* Aᵀ M A, bias and activation of output channels [o0, o1), tile rows [r0, r1), into the
   output planes. */
AVX2 static void output_transform(const cfn_conv2d *conv, const float *m, size_t ld, int n,
                                  const tile_grid *g, int r0, int r1, int o0, int o1, float *out,
                                  int relu) {
    const int cout = conv->out_channels, tw = g->tiles_per_row, oh = g->out_h, ow = g->out_w;
    const size_t plane = (size_t)oh * ow, xi_stride = (size_t)cout * ld;
    for (int o = o0; o < o1; ++o) {
        const __m256 bias = _mm256_set1_ps(conv->bias ? conv->bias[o] : 0.0f);
        const float *mo = m + (size_t)o * ld;
        for (int r = r0; r < r1; ++r) {
            const int image = r / g->rows_per_image, ty = r % g->rows_per_image;
            float *row0 = out + ((size_t)o * n + image) * plane + (size_t)(2 * ty) * ow;
            float *row1 = row0 + ow;
            const int second = 2 * ty + 1 < oh;
            const float *mt = mo + (size_t)(r - r0) * tw;
            int tx = 0;
            for (; tx + 8 <= tw && 2 * tx + 16 <= ow; tx += 8) {
                __m256 y[2][2];
                cfn_winograd_output8(mt + tx, xi_stride, y);
                cfn_winograd_store_interleaved(row0 + 2 * tx, bias_act(y[0][0], bias, relu),
                                               bias_act(y[0][1], bias, relu));
                if (second)
                    cfn_winograd_store_interleaved(row1 + 2 * tx, bias_act(y[1][0], bias, relu),
                                                   bias_act(y[1][1], bias, relu));
            }
            for (; tx < tw; tx += 8) { /* the right edge: vector arithmetic, scalar stores */
                __m256 y[2][2];
                float lanes[2][2][8];
                cfn_winograd_output8(mt + tx, xi_stride, y);
                for (int a = 0; a < 2; ++a)
                    for (int b = 0; b < 2; ++b) _mm256_storeu_ps(lanes[a][b], bias_act(y[a][b], bias, relu));
                for (int k = 0; k < 8 && tx + k < tw; ++k)
                    for (int b = 0; b < 2 && 2 * (tx + k) + b < ow; ++b) {
                        row0[2 * (tx + k) + b] = lanes[0][b][k];
                        if (second) row1[2 * (tx + k) + b] = lanes[1][b][k];
                    }
            }
        }
    }
}

#include "winograd_f23_avx512.h"

/* input_transform on AVX-512: 16 tiles per group, lane masks for the padding and the edges. */
AVX512 static void input_transform_avx512(const cfn_conv2d *conv, const float *in, int n, int h,
                                          int w, const tile_grid *g, int r0, int r1, int c0,
                                          int c1, float *v, size_t ld) {
    const int cin = conv->in_channels, pad = conv->pad_h, tw = g->tiles_per_row;
    const size_t plane = (size_t)h * w, xi_stride = (size_t)cin * ld;
    for (int c = c0; c < c1; ++c) {
        float *vc = v + (size_t)c * ld;
        for (int r = r0; r < r1; ++r) {
            const int image = r / g->rows_per_image, ty = r % g->rows_per_image;
            const float *src = in + ((size_t)c * n + image) * plane;
            float *dst = vc + (size_t)(r - r0) * tw;
            for (int tx = 0; tx < tw; tx += 16)
                cfn_winograd_input16(src, (size_t)w, h, w, 2 * ty - pad, 2 * tx - pad,
                                     tw - tx < 16 ? tw - tx : 16, dst + tx, xi_stride);
        }
    }
}

AVX512_INLINE __m512 bias_act16(__m512 y, __m512 bias, int relu) {
    const __m512 v = _mm512_add_ps(y, bias);
    return relu ? _mm512_maskz_mov_ps(_mm512_cmp_ps_mask(v, _mm512_setzero_ps(), _CMP_GT_OQ), v) : v;
}

/* output_transform on AVX-512: 16 tiles per group, masked stores at the right edge. */
AVX512 static void output_transform_avx512(const cfn_conv2d *conv, const float *m, size_t ld,
                                           int n, const tile_grid *g, int r0, int r1, int o0,
                                           int o1, float *out, int relu) {
    const int cout = conv->out_channels, tw = g->tiles_per_row, oh = g->out_h, ow = g->out_w;
    const size_t plane = (size_t)oh * ow, xi_stride = (size_t)cout * ld;
    for (int o = o0; o < o1; ++o) {
        const __m512 bias = _mm512_set1_ps(conv->bias ? conv->bias[o] : 0.0f);
        const float *mo = m + (size_t)o * ld;
        for (int r = r0; r < r1; ++r) {
            const int image = r / g->rows_per_image, ty = r % g->rows_per_image;
            float *row0 = out + ((size_t)o * n + image) * plane + (size_t)(2 * ty) * ow;
            const int second = 2 * ty + 1 < oh;
            const float *mt = mo + (size_t)(r - r0) * tw;
            for (int tx = 0; tx < tw; tx += 16) {
                __m512 y[2][2];
                cfn_winograd_output16(mt + tx, xi_stride, tw - tx < 16 ? tw - tx : 16, y);
                cfn_winograd_store_interleaved16(row0 + 2 * tx, bias_act16(y[0][0], bias, relu),
                                                 bias_act16(y[0][1], bias, relu), ow - 2 * tx);
                if (second)
                    cfn_winograd_store_interleaved16(row0 + ow + 2 * tx,
                                                     bias_act16(y[1][0], bias, relu),
                                                     bias_act16(y[1][1], bias, relu), ow - 2 * tx);
            }
        }
    }
}

/* The transforms for the engine's kernels: AVX-512 where its products run AVX-512. */
static void transform_input(int avx512, const cfn_conv2d *conv, const float *in, int n, int h,
                            int w, const tile_grid *g, int r0, int r1, int c0, int c1, float *v,
                            size_t ld) {
    if (avx512)
        input_transform_avx512(conv, in, n, h, w, g, r0, r1, c0, c1, v, ld);
    else
        input_transform(conv, in, n, h, w, g, r0, r1, c0, c1, v, ld);
}

static void transform_output(int avx512, const cfn_conv2d *conv, const float *m, size_t ld,
                             int n, const tile_grid *g, int r0, int r1, int o0, int o1,
                             float *out, int relu) {
    if (avx512)
        output_transform_avx512(conv, m, ld, n, g, r0, r1, o0, o1, out, relu);
    else
        output_transform(conv, m, ld, n, g, r0, r1, o0, o1, out, relu);
}

/* One chunk of tile rows; each transform task takes a range of channels. */
typedef struct winograd_chunk {
    const cfn_conv2d *conv;
    const float *in;
    float *out, *v, *m;
    int n, h, w, r0, r1, tasks, relu, avx512;
    size_t ld;
    const tile_grid *g;
} winograd_chunk;

static void input_task(void *arg, int task, int worker) {
    (void)worker;
    const winograd_chunk *k = arg;
    const int cin = k->conv->in_channels;
    transform_input(k->avx512, k->conv, k->in, k->n, k->h, k->w, k->g, k->r0, k->r1, task * cin / k->tasks,
                    (task + 1) * cin / k->tasks, k->v, k->ld);
}

static void output_task(void *arg, int task, int worker) {
    (void)worker;
    const winograd_chunk *k = arg;
    const int cout = k->conv->out_channels;
    transform_output(k->avx512, k->conv, k->m, k->ld, k->n, k->g, k->r0, k->r1, task * cout / k->tasks,
                     (task + 1) * cout / k->tasks, k->out, k->relu);
}

/* Tile-row tasks: when the transformed filters fit in L2 (conv2d_2a's and 2b's 64–128 KB, the
   Block35 branches'), each task takes a few tile rows through all three steps on one worker:
   input transform, the 16 products on that worker alone, inverse transform, with its V and M
   (≤ ~384 KB) still in its L2. Otherwise the three steps run one after the other over the
   whole chunk, each spread over the workers (V and M of a large map pass through L3). */
#define FUSED_MAX_FILTER_FLOATS ((size_t)65536) /* 256 KB of transformed filters */
#define FUSED_TASK_FLOATS ((size_t)196608)      /* V + M of one task: 768 KB */
#define FUSED_MIN_TILES 64                       /* products of fewer columns run at a loss */

typedef struct winograd_rows {
    const cfn_conv2d *conv;
    const float *in;
    float *out, *scratch;
    size_t per_worker; /* scratch floats of one worker */
    int n, h, w, rows, total_rows, relu;
    const tile_grid *g;
    const cfn_gemm_engine *engine;
} winograd_rows;

static void rows_task(void *arg, int task, int worker) {
    const winograd_rows *t = arg;
    const cfn_conv2d *conv = t->conv;
    const int cin = conv->in_channels, cout = conv->out_channels, tw = t->g->tiles_per_row;
    const int r0 = task * t->rows, r1 = r0 + t->rows < t->total_rows ? r0 + t->rows : t->total_rows;
    const size_t tiles = (size_t)(r1 - r0) * tw, ld = tiles + TILE_PAD;
    float *v = t->scratch + (size_t)worker * t->per_worker, *m = v + (size_t)16 * cin * ld;
    const int avx512 = t->engine->kernels == CFN_GEMM_KERNELS_AVX512;
    transform_input(avx512, conv, t->in, t->n, t->h, t->w, t->g, r0, r1, 0, cin, v, ld);
    const cfn_gemm_engine solo = {NULL,
                                  t->engine->scratch + (size_t)worker * t->engine->scratch_stride,
                                  t->engine->scratch_stride, t->engine->kernels};
    const cfn_gemm_job job = {cout, (int)tiles, cin, 16,
                              conv->winograd, filter_floats(conv),
                              v, (int)ld, (size_t)cin * ld, m, (int)ld, (size_t)cout * ld,
                              {CFN_GEMM_STORE, NULL, 1.0f, 0}, NULL, NULL, conv->weight_rows};
    cfn_gemm_run(&solo, &job);
    transform_output(avx512, conv, m, ld, t->n, t->g, r0, r1, 0, cout, t->out, t->relu);
}

/* Runs the convolution as tile-row tasks and returns 1, or returns 0 when it does not suit
   (large filters, too few tile rows, or too little scratch for one task per worker). */
static int winograd_by_rows(const cfn_conv2d *conv, const float *in, int n, int h, int w,
                            float *out, float *scratch, size_t capacity, cfn_activation act,
                            const cfn_gemm_engine *engine, const tile_grid *g) {
    const int cin = conv->in_channels, cout = conv->out_channels, tw = g->tiles_per_row;
    const int total_rows = n * g->rows_per_image, workers = cfn_pool_workers(engine->pool);
    if (filter_floats(conv) * 16 > FUSED_MAX_FILTER_FLOATS || total_rows < 2 * workers)
        return 0;
    const size_t per_point = (size_t)16 * (cin + cout);
    int rows = (int)(FUSED_TASK_FLOATS / per_point / (size_t)tw);
    const int even = (total_rows + 2 * workers - 1) / (2 * workers); /* ≥ 2 tasks per worker */
    if (rows > even) rows = even;
    if (rows < 1) rows = 1;
    if (rows * tw < FUSED_MIN_TILES) return 0;
    const size_t per_worker = chunk_floats(conv, (size_t)rows * tw);
    if (per_worker * (size_t)workers > capacity) return 0;
    winograd_rows t = {conv, in, out, scratch, per_worker, n, h, w, rows, total_rows,
                       act == CFN_ACTIVATION_RELU, g, engine};
    cfn_pool_run(engine->pool, (total_rows + rows - 1) / rows, rows_task, &t);
    return 1;
}

static void winograd_forward(const cfn_conv2d *conv, const float *in, int n, int h, int w,
                             float *out, float *scratch, size_t capacity, cfn_activation act,
                             const cfn_gemm_engine *engine) {
    const tile_grid g = grid_for(conv, h, w);
    if (winograd_by_rows(conv, in, n, h, w, out, scratch, capacity, act, engine, &g)) return;
    const int cin = conv->in_channels, cout = conv->out_channels, tw = g.tiles_per_row;
    const int total_rows = n * g.rows_per_image;
    /* Tile rows per chunk: as many as the scratch holds (the caller checked that one fits). */
    const size_t per_point = (size_t)16 * (cin + cout);
    const size_t fit = (capacity / per_point - TILE_PAD) / (size_t)tw;
    const int rows = fit >= (size_t)total_rows ? total_rows : fit < 1 ? 1 : (int)fit;
    winograd_chunk chunk = {conv, in, out, scratch, NULL, n, h, w, 0, 0, 0,
                            act == CFN_ACTIVATION_RELU, engine->kernels == CFN_GEMM_KERNELS_AVX512,
                            0, &g};
    for (int r0 = 0; r0 < total_rows; r0 += rows) {
        chunk.r0 = r0;
        chunk.r1 = r0 + rows < total_rows ? r0 + rows : total_rows;
        const size_t tiles = (size_t)(chunk.r1 - r0) * tw;
        chunk.ld = tiles + TILE_PAD;
        chunk.m = scratch + (size_t)16 * cin * chunk.ld;
        chunk.tasks = cfn_pool_task_count(engine->pool, cin);
        cfn_pool_run(engine->pool, chunk.tasks, input_task, &chunk);
        const cfn_gemm_job job = {cout, (int)tiles, cin, 16,
                                  conv->winograd, filter_floats(conv),
                                  chunk.v, (int)chunk.ld, (size_t)cin * chunk.ld,
                                  chunk.m, (int)chunk.ld, (size_t)cout * chunk.ld,
                                  {CFN_GEMM_STORE, NULL, 1.0f, 0}, NULL, NULL, conv->weight_rows};
        cfn_gemm_run(engine, &job);
        chunk.tasks = cfn_pool_task_count(engine->pool, cout);
        cfn_pool_run(engine->pool, chunk.tasks, output_task, &chunk);
    }
}
#endif

int cfn_conv2d_winograd_forward(const cfn_conv2d *conv, const float *in, int n, int h, int w,
                                float *out, float *scratch, size_t capacity, cfn_activation act,
                                const cfn_gemm_engine *engine) {
#if defined(__x86_64__) || defined(__i386__)
    if (!conv->winograd || engine->kernels == CFN_GEMM_KERNELS_PORTABLE ||
        capacity < cfn_conv2d_winograd_scratch_floats(conv, n, h, w, 0))
        return 0;
    winograd_forward(conv, in, n, h, w, out, scratch, capacity, act, engine);
    return 1;
#else
    (void)conv; (void)in; (void)n; (void)h; (void)w; (void)out; (void)scratch; (void)capacity;
    (void)act; (void)engine;
    return 0;
#endif
}

/* ---- test entry (testing.h) --------------------------------------------------------------- */

int cfn_conv3x3_cnhw(const float *weight, const float *bias, int out_channels, int in_channels,
                     const float *in, int n, int h, int w, int pad, int relu, int winograd,
                     size_t scratch_floats, int threads, float *out) {
    if (!weight || !in || !out || out_channels <= 0 || in_channels <= 0 || n < 1 || pad < 0 ||
        pad > 1 || h + 2 * pad < 3 || w + 2 * pad < 3 || threads < 1)
        return -1;
    if (!winograd) /* the GEMM over the unfolded input: conv2d.c's test entry */
        return cfn_conv2d_cnhw(weight, bias, out_channels, in_channels, 3, 3, 1, pad, pad, in, n, h,
                               w, relu, CFN_KERNELS_BEST, threads, out);
    cfn_conv2d conv = {in_channels, out_channels, 3, 3, 1, 1, pad, pad, NULL, bias, NULL};
    const cfn_activation act = relu ? CFN_ACTIVATION_RELU : CFN_ACTIVATION_NONE;
    const int depth = cfn_conv2d_depth(&conv);
    float *packed = malloc(cfn_gemm_packed_floats(out_channels, depth) * sizeof(float));
    float *u = malloc(cfn_conv2d_winograd_weight_floats(&conv) * sizeof(float));
    if (!packed || !u) {
        free(packed);
        free(u);
        return -1;
    }
    cfn_gemm_pack_a(weight, out_channels, depth, depth, packed);
    conv.weight = packed;
    cfn_conv2d_winograd_pack(&conv, weight, u);
    conv.winograd = u;
    if (scratch_floats == 0) scratch_floats = cfn_conv2d_winograd_scratch_floats(&conv, n, h, w, 1);
    const size_t gemm_floats = cfn_gemm_scratch_floats(depth);
    float *scratch = malloc((scratch_floats > 0 ? scratch_floats : 1) * sizeof(float));
    float *strips = aligned_alloc(64, (size_t)threads * gemm_floats * sizeof(float));
    cfn_pool *pool = threads > 1 ? cfn_pool_create(threads) : NULL;
    const cfn_gemm_engine engine = {pool, strips, gemm_floats,
                                    cfn_gemm_kernels_for(winograd == 2 ? CFN_KERNELS_AVX2 : CFN_KERNELS_BEST)};
    int done = scratch && strips && (threads == 1 || pool) ? 1 : -1;
    if (done == 1)
        done = cfn_conv2d_winograd_forward(&conv, in, n, h, w, out, scratch, scratch_floats, act,
                                           &engine);
    cfn_pool_destroy(pool);
    free(strips);
    free(scratch);
    free(u);
    free(packed);
    return done;
}
