/*
 * Direct k×k convolution (stride 1, no padding) over "flat" planes, with the bias and PReLU
 * fused into the store: MTCNN's layers have few channels (3→10, 10→16, 16→32, ...), where
 * im2col + GEMM spends more time copying than multiplying.
 *
 * Flat: every input channel is one contiguous plane read with a row stride `rs`, and output
 * position p is the window whose top-left input element is at offset p:
 *     out[o][p] = act(bias[o] + Σ_c Σ_ky Σ_kx w[o][c][ky][kx] · in[c][p + ky·rs + kx]).
 * For an image of width rs, positions whose column is past rs − k are garbage (their windows
 * wrap to the next row) and the caller ignores them; in exchange every vector of 8 positions is
 * contiguous whatever the image width, and n images stacked vertically run as one tall image.
 * A 1×1 convolution (k = 1) over features × batch is a Linear layer.
 *
 * Two implementations with the same arithmetic up to float reassociation: AVX2 + FMA (4 output
 * channels × 16 positions in 8 accumulators; where the CPU has AVX-512, whole blocks of 32
 * positions in 8 zmm accumulators, the same bits), chosen at run time on CPUs that have it, and
 * a portable C one (also selectable per context, so both paths are tested).
 */
#include "../testing.h"
#include "ops.h"

#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#include <immintrin.h>
#define CFN_HAVE_X86 1
#else
#define CFN_HAVE_X86 0
#endif

size_t cfn_flat_conv_floats(int out_channels, int in_channels, int kernel) {
    const size_t blocks = (size_t)(out_channels + CFN_FLAT_CONV_BLOCK - 1) / CFN_FLAT_CONV_BLOCK;
    return blocks * CFN_FLAT_CONV_BLOCK * ((size_t)in_channels * kernel * kernel + 2);
}

float *cfn_flat_conv_pack(cfn_flat_conv *conv, int out_channels, int in_channels, int kernel,
                          const float *weight, const float *bias, const float *slope,
                          float *storage) {
    const int blocks = (out_channels + CFN_FLAT_CONV_BLOCK - 1) / CFN_FLAT_CONV_BLOCK;
    const int padded = blocks * CFN_FLAT_CONV_BLOCK;
    const size_t taps = (size_t)in_channels * kernel * kernel;
    float *packed = storage;
    float *b = packed + (size_t)padded * taps;
    float *a = b + padded;
    memset(storage, 0, cfn_flat_conv_floats(out_channels, in_channels, kernel) * sizeof(float));
    for (int o = 0; o < out_channels; ++o) {
        float *dst = packed + (size_t)(o / CFN_FLAT_CONV_BLOCK) * taps * CFN_FLAT_CONV_BLOCK +
                     o % CFN_FLAT_CONV_BLOCK;
        for (size_t t = 0; t < taps; ++t) dst[t * CFN_FLAT_CONV_BLOCK] = weight[(size_t)o * taps + t];
    }
    conv->in_channels = in_channels;
    conv->out_channels = out_channels;
    conv->kernel = kernel;
    conv->weight = packed;
    conv->bias = b;
    conv->slope = cfn_pack_bias_slope(b, a, out_channels, bias, slope);
    return a + padded;
}

const float *cfn_pack_bias_slope(float *b, float *a, int count, const float *bias,
                                 const float *slope) {
    for (int o = 0; o < count; ++o) {
        b[o] = bias ? bias[o] : 0.0f;
        a[o] = slope ? slope[o] : 0.0f;
    }
    return slope ? a : NULL;
}

/* ---- portable ---------------------------------------------------------------------------- */

#define PORTABLE_TILE 32

static void flat_conv_portable(const cfn_flat_conv *conv, const float *in, size_t in_plane, int rs,
                               size_t positions, float *out, size_t out_plane) {
    const int k = conv->kernel, cin = conv->in_channels, cout = conv->out_channels;
    const size_t taps = (size_t)cin * k * k;
    float acc[CFN_FLAT_CONV_BLOCK][PORTABLE_TILE];
    for (size_t p0 = 0; p0 < positions; p0 += PORTABLE_TILE) {
        const int n = positions - p0 < PORTABLE_TILE ? (int)(positions - p0) : PORTABLE_TILE;
        for (int o0 = 0; o0 < cout; o0 += CFN_FLAT_CONV_BLOCK) {
            const float *w = conv->weight + (size_t)(o0 / CFN_FLAT_CONV_BLOCK) * taps * CFN_FLAT_CONV_BLOCK;
            memset(acc, 0, sizeof acc);
            for (int c = 0; c < cin; ++c)
                for (int ky = 0; ky < k; ++ky)
                    for (int kx = 0; kx < k; ++kx, w += CFN_FLAT_CONV_BLOCK) {
                        const float *x = in + (size_t)c * in_plane + (size_t)ky * rs + kx + p0;
                        for (int o = 0; o < CFN_FLAT_CONV_BLOCK; ++o)
                            for (int j = 0; j < n; ++j) acc[o][j] += w[o] * x[j];
                    }
            for (int o = 0; o < CFN_FLAT_CONV_BLOCK && o0 + o < cout; ++o) {
                const float b = conv->bias[o0 + o];
                float *dst = out + (size_t)(o0 + o) * out_plane + p0;
                if (conv->slope) {
                    const float a = conv->slope[o0 + o];
                    for (int j = 0; j < n; ++j) {
                        const float v = acc[o][j] + b;
                        dst[j] = v > 0.0f ? v : a * v; /* PyTorch: −0 and NaN take the slope */
                    }
                } else {
                    for (int j = 0; j < n; ++j) dst[j] = acc[o][j] + b;
                }
            }
        }
    }
}

/* ---- AVX2 + FMA -------------------------------------------------------------------------- */

#if CFN_HAVE_X86
#include "avx2_lanes.h"

/* act(acc + bias) for one output channel, stored in full or under `mask`. */
AVX2_INLINE void store_channel(float *dst, __m256 acc, float bias, const float *slope, int o,
                               int masked, __m256i mask) {
    __m256 v = _mm256_add_ps(acc, _mm256_set1_ps(bias));
    if (slope) v = cfn_prelu8(v, _mm256_set1_ps(slope[o]));
    if (masked) _mm256_maskstore_ps(dst, mask, v);
    else _mm256_storeu_ps(dst, v);
}

/* 4 output channels × 16 positions: 8 accumulators, 2 inputs and a weight stay in registers
   (4 × 24 needs all 16 and the compiler spills). `k` is a constant at every call site. */
AVX2_INLINE void tile16(const float *in, size_t in_plane, int rs, int cin, const int k,
                        const float *w, float *out, size_t out_plane, const float *bias,
                        const float *slope, int nout) {
    __m256 acc[8];
    for (int i = 0; i < 8; ++i) acc[i] = _mm256_setzero_ps();
    for (int c = 0; c < cin; ++c) {
        const float *src = in + (size_t)c * in_plane;
        for (int ky = 0; ky < k; ++ky) {
            const float *row = src + (size_t)ky * rs;
            for (int kx = 0; kx < k; ++kx, w += 4)
                cfn_fma4x16(w, _mm256_loadu_ps(row + kx), _mm256_loadu_ps(row + kx + 8), acc);
        }
    }
    const __m256i none = _mm256_setzero_si256();
    for (int o = 0; o < 4 && o < nout; ++o) {
        store_channel(out + (size_t)o * out_plane, acc[2 * o], bias[o], slope, o, 0, none);
        store_channel(out + (size_t)o * out_plane + 8, acc[2 * o + 1], bias[o], slope, o, 0, none);
    }
}

/* 4 output channels × 8 positions; `masked`: only the lanes set in `mask` are read and written
   (the loads then never touch memory past the last position). */
AVX2_INLINE void tile8(const float *in, size_t in_plane, int rs, int cin, const int k,
                       const float *w, float *out, size_t out_plane, const float *bias,
                       const float *slope, int nout, const int masked, __m256i mask) {
    __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
    for (int c = 0; c < cin; ++c) {
        const float *src = in + (size_t)c * in_plane;
        for (int ky = 0; ky < k; ++ky) {
            const float *row = src + (size_t)ky * rs;
            for (int kx = 0; kx < k; ++kx, w += 4) {
                const __m256 x = masked ? _mm256_maskload_ps(row + kx, mask) : _mm256_loadu_ps(row + kx);
                a0 = _mm256_fmadd_ps(_mm256_broadcast_ss(w), x, a0);
                a1 = _mm256_fmadd_ps(_mm256_broadcast_ss(w + 1), x, a1);
                a2 = _mm256_fmadd_ps(_mm256_broadcast_ss(w + 2), x, a2);
                a3 = _mm256_fmadd_ps(_mm256_broadcast_ss(w + 3), x, a3);
            }
        }
    }
    store_channel(out, a0, bias[0], slope, 0, masked, mask);
    if (nout > 1) store_channel(out + out_plane, a1, bias[1], slope, 1, masked, mask);
    if (nout > 2) store_channel(out + 2 * out_plane, a2, bias[2], slope, 2, masked, mask);
    if (nout > 3) store_channel(out + 3 * out_plane, a3, bias[3], slope, 3, masked, mask);
}

/* Floats ahead of the current 16 positions that each of the tile's cin · k input rows asks the
   cache for. The tile reads cin · k rows (30 for P-Net's conv2) in step, more streams than the
   hardware prefetcher follows from L3: with the hint, conv2's share of P-Net fell by a fifth
   (perf, portrait pyramid; prefetches never fault, so past the last plane is harmless). */
#define FLAT_PREFETCH_FLOATS 64

/* store_channel on 16 lanes, stored in full. */
AVX512_INLINE void store_channel16(float *dst, __m512 acc, float bias, const float *slope, int o) {
    __m512 v = _mm512_add_ps(acc, _mm512_set1_ps(bias));
    if (slope) v = cfn_prelu16(v, _mm512_set1_ps(slope[o]));
    _mm512_storeu_ps(dst, v);
}

/* tile16 on AVX-512: 4 output channels × 32 positions in 8 accumulators, each output's FMA
   chain in tile16's order, so the same bits. */
AVX512_INLINE void tile32(const float *in, size_t in_plane, int rs, int cin, const int k,
                          const float *w, float *out, size_t out_plane, const float *bias,
                          const float *slope, int nout) {
    __m512 acc[8];
    for (int i = 0; i < 8; ++i) acc[i] = _mm512_setzero_ps();
    for (int c = 0; c < cin; ++c) {
        const float *src = in + (size_t)c * in_plane;
        for (int ky = 0; ky < k; ++ky) {
            const float *row = src + (size_t)ky * rs;
            for (int kx = 0; kx < k; ++kx, w += 4) {
                const __m512 x0 = _mm512_loadu_ps(row + kx), x1 = _mm512_loadu_ps(row + kx + 16);
                for (int o = 0; o < 4; ++o) {
                    const __m512 wv = _mm512_set1_ps(w[o]);
                    acc[2 * o] = _mm512_fmadd_ps(wv, x0, acc[2 * o]);
                    acc[2 * o + 1] = _mm512_fmadd_ps(wv, x1, acc[2 * o + 1]);
                }
            }
        }
    }
    for (int o = 0; o < 4 && o < nout; ++o) {
        store_channel16(out + (size_t)o * out_plane, acc[2 * o], bias[o], slope, o);
        store_channel16(out + (size_t)o * out_plane + 16, acc[2 * o + 1], bias[o], slope, o);
    }
}

/* Positions [0, 32 · ⌊positions / 32⌋) in tile32s, with flat_conv_avx2_k's prefetches; returns
   the positions done (the AVX2 tiles take the rest). Reads what tile16 would at p and p + 16. */
AVX512_INLINE size_t flat_conv_avx512_k(const cfn_flat_conv *conv, const float *in,
                                        size_t in_plane, int rs, size_t positions, float *out,
                                        size_t out_plane, const int k) {
    const int cin = conv->in_channels, cout = conv->out_channels;
    const size_t block_floats = (size_t)cin * k * k * CFN_FLAT_CONV_BLOCK;
    size_t p = 0;
    for (; p + 32 <= positions; p += 32) {
        for (int c = 0; c < cin; ++c)
            for (int ky = 0; ky < k; ++ky) {
                const float *row = in + p + (size_t)c * in_plane + (size_t)ky * rs;
                _mm_prefetch((const char *)(row + 2 * FLAT_PREFETCH_FLOATS), _MM_HINT_T0);
                _mm_prefetch((const char *)(row + 2 * FLAT_PREFETCH_FLOATS + 16), _MM_HINT_T0);
            }
        for (int o0 = 0; o0 < cout; o0 += CFN_FLAT_CONV_BLOCK)
            tile32(in + p, in_plane, rs, cin, k, conv->weight + (size_t)(o0 / 4) * block_floats,
                   out + (size_t)o0 * out_plane + p, out_plane, conv->bias + o0,
                   conv->slope ? conv->slope + o0 : NULL, cout - o0);
    }
    return p;
}

AVX512 static size_t flat_conv_avx512(const cfn_flat_conv *conv, const float *in, size_t in_plane,
                                      int rs, size_t positions, float *out, size_t out_plane) {
    switch (conv->kernel) {
    case 1: return flat_conv_avx512_k(conv, in, in_plane, rs, positions, out, out_plane, 1);
    case 2: return flat_conv_avx512_k(conv, in, in_plane, rs, positions, out, out_plane, 2);
    case 3: return flat_conv_avx512_k(conv, in, in_plane, rs, positions, out, out_plane, 3);
    default: return flat_conv_avx512_k(conv, in, in_plane, rs, positions, out, out_plane, conv->kernel);
    }
}

/* `avx512`: whole 32-position blocks first take flat_conv_avx512 (the same bits). */
AVX2_INLINE void flat_conv_avx2_k(const cfn_flat_conv *conv, const float *in, size_t in_plane,
                                  int rs, size_t positions, float *out, size_t out_plane,
                                  const int k, int avx512) {
    const int cin = conv->in_channels, cout = conv->out_channels;
    const size_t block_floats = (size_t)cin * k * k * CFN_FLAT_CONV_BLOCK;
    const float *slope_base = conv->slope;
    size_t p = avx512 ? flat_conv_avx512(conv, in, in_plane, rs, positions, out, out_plane) : 0;
    /* Positions outermost: a tile's input window stays in L1 while every channel block
       reads it. */
    for (; p + 16 <= positions; p += 16) {
        for (int c = 0; c < cin; ++c) /* rows of the tile 4 tiles ahead, for all blocks */
            for (int ky = 0; ky < k; ++ky)
                _mm_prefetch((const char *)(in + p + FLAT_PREFETCH_FLOATS + (size_t)c * in_plane +
                                            (size_t)ky * rs),
                             _MM_HINT_T0);
        for (int o0 = 0; o0 < cout; o0 += CFN_FLAT_CONV_BLOCK)
            tile16(in + p, in_plane, rs, cin, k, conv->weight + (size_t)(o0 / 4) * block_floats,
                   out + (size_t)o0 * out_plane + p, out_plane, conv->bias + o0,
                   slope_base ? slope_base + o0 : NULL, cout - o0);
    }
    for (; p + 8 <= positions; p += 8)
        for (int o0 = 0; o0 < cout; o0 += CFN_FLAT_CONV_BLOCK)
            tile8(in + p, in_plane, rs, cin, k, conv->weight + (size_t)(o0 / 4) * block_floats,
                  out + (size_t)o0 * out_plane + p, out_plane, conv->bias + o0,
                  slope_base ? slope_base + o0 : NULL, cout - o0, 0, _mm256_setzero_si256());
    if (p < positions) {
        const int left = (int)(positions - p);
        const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
        const __m256i mask = _mm256_cmpgt_epi32(_mm256_set1_epi32(left), lane);
        for (int o0 = 0; o0 < cout; o0 += CFN_FLAT_CONV_BLOCK)
            tile8(in + p, in_plane, rs, cin, k, conv->weight + (size_t)(o0 / 4) * block_floats,
                  out + (size_t)o0 * out_plane + p, out_plane, conv->bias + o0,
                  slope_base ? slope_base + o0 : NULL, cout - o0, 1, mask);
    }
}

AVX2 static void flat_conv_avx2(const cfn_flat_conv *conv, const float *in, size_t in_plane, int rs,
                                size_t positions, float *out, size_t out_plane, int avx512) {
    switch (conv->kernel) {
    case 1: flat_conv_avx2_k(conv, in, in_plane, rs, positions, out, out_plane, 1, avx512); break;
    case 2: flat_conv_avx2_k(conv, in, in_plane, rs, positions, out, out_plane, 2, avx512); break;
    case 3: flat_conv_avx2_k(conv, in, in_plane, rs, positions, out, out_plane, 3, avx512); break;
    default: flat_conv_avx2_k(conv, in, in_plane, rs, positions, out, out_plane, conv->kernel, avx512); break;
    }
}

/* CPUID + XGETBV: AVX2 and FMA present and the OS saves the YMM registers. */
static int detect_avx2_fma(void) {
    unsigned a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d)) return 0;
    const unsigned fma = 1u << 12, osxsave = 1u << 27, avx = 1u << 28;
    if ((c & (fma | osxsave | avx)) != (fma | osxsave | avx)) return 0;
    unsigned lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    if ((lo & 6u) != 6u) return 0; /* XMM and YMM state */
    if (!__get_cpuid_count(7, 0, &a, &b, &c, &d)) return 0;
    return (b & (1u << 5)) != 0;
}

/* CPUID + XGETBV: AVX-512F present and the OS saves the opmask and all 32 ZMM registers. */
static int detect_avx512f(void) {
    if (!detect_avx2_fma()) return 0;
    unsigned a, b, c, d, lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    if ((lo & 0xe6u) != 0xe6u) return 0; /* XMM, YMM, opmask, ZMM_Hi256, Hi16_ZMM */
    if (!__get_cpuid_count(7, 0, &a, &b, &c, &d)) return 0;
    return (b & (1u << 16)) != 0;
}
#endif

/* FACEREC_DISABLE_AVX2 set to anything but "" or "0": the process runs as on a CPU without
   AVX2 (x86-64 v1, or arm64), every op on its portable path. The SIMD kernels are compiled with
   target attributes and chosen here at run time, so a build flag such as -mno-avx2 would not
   keep them from running: this switch is what exercises the portable code on an AVX2 machine. */
static int simd_disabled(void) {
    const char *v = getenv("FACEREC_DISABLE_AVX2");
    return v && v[0] && strcmp(v, "0") != 0;
}

int cfn_cpu_has_avx512f(void) {
#if CFN_HAVE_X86
    static volatile int cached = -1;
    int v = cached;
    if (v < 0) cached = v = !simd_disabled() && detect_avx512f();
    return v;
#else
    return 0;
#endif
}

int cfn_cpu_has_avx2_fma(void) {
#if CFN_HAVE_X86
    /* -1: not probed yet. Racing threads compute the same answer. */
    static volatile int cached = -1;
    int v = cached;
    if (v < 0) cached = v = !simd_disabled() && detect_avx2_fma();
    return v;
#else
    return 0;
#endif
}

void cfn_flat_conv_forward(const cfn_flat_conv *conv, const float *in, size_t in_plane, int rs,
                           size_t positions, float *out, size_t out_plane, int portable) {
#if CFN_HAVE_X86
    if (!portable && cfn_cpu_has_avx2_fma()) {
        flat_conv_avx2(conv, in, in_plane, rs, positions, out, out_plane, cfn_cpu_has_avx512f());
        return;
    }
#else
    (void)portable;
#endif
    flat_conv_portable(conv, in, in_plane, rs, positions, out, out_plane);
}

/* ---- test entry (testing.h) --------------------------------------------------------- */

int cfn_flat_conv_paths(const float *weight, const float *bias, const float *slope,
                        int out_channels, int in_channels, int kernel, const float *in,
                        size_t in_plane, int rs, size_t positions, int path, float *out,
                        size_t out_plane) {
    if (!weight || !in || !out || out_channels <= 0 || in_channels <= 0 || kernel <= 0 ||
        rs < kernel || path < 0 || path > 2 || out_plane < positions)
        return -1;
#if CFN_HAVE_X86
    if (path == 1 && !cfn_cpu_has_avx2_fma()) return 0;
    if (path == 2 && !cfn_cpu_has_avx512f()) return 0;
#else
    if (path > 0) return 0;
#endif
    float *storage = malloc(cfn_flat_conv_floats(out_channels, in_channels, kernel) * sizeof(float));
    if (!storage) return -1;
    cfn_flat_conv conv;
    cfn_flat_conv_pack(&conv, out_channels, in_channels, kernel, weight, bias, slope, storage);
#if CFN_HAVE_X86
    if (path > 0) flat_conv_avx2(&conv, in, in_plane, rs, positions, out, out_plane, path == 2);
    else
#endif
        flat_conv_portable(&conv, in, in_plane, rs, positions, out, out_plane);
    free(storage);
    return 1;
}
