/*
 * PIL's resampling passes for 8-bit RGB (Pillow's ImagingResampleHorizontal_8bpc and
 * ImagingResampleVertical_8bpc), the `Image.resize(BILINEAR)` facenet-pytorch crops faces with.
 * Each output byte is (2^21 + Σ_k input(first + k) · weight_k) >> 22, clipped to 0…255, in exact
 * 32-bit integers (weights are 22-bit fixed point summing to 2^22, so no sum overflows), so any
 * order of the sum gives Pillow's bytes.
 *
 * Horizontal: the vector path takes 8 output pixels at a time, one lane each: per tap a gather
 * of each lane's pixel (4 bytes: R, G, B and the next pixel's R, dropped) and three 32-bit
 * multiply-adds. The scalar loop, three multiply-adds per pixel and tap, was the detection's last
 * serial step (0.5 ms for a portrait's face).
 *
 * Vertical: an output row is a weighted sum of whole input rows, so the vector path takes 32
 * bytes of it at a time, one 32-bit multiply-add per byte and tap. It replaced a Swift loop that
 * the x86-64 baseline build ran on SSE2, without a 32-bit multiply.
 */
#include "cfacenet_mtcnn.h"
#include "ops.h"

#include <stdint.h>
#include <stdlib.h>

#define PIL_HALF (1 << 21)

static inline uint8_t clip8(int32_t v) {
    v >>= 22;
    return (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
}

static void row_scalar(const uint8_t *src, int out_width, const int32_t *first,
                       const int32_t *count, const int32_t *weights, int stride, uint8_t *dst) {
    for (int xx = 0; xx < out_width; ++xx) {
        const uint8_t *p = src + 3 * (size_t)first[xx];
        const int32_t *w = weights + (size_t)xx * stride;
        int32_t r = PIL_HALF, g = PIL_HALF, b = PIL_HALF;
        for (int k = 0; k < count[xx]; ++k, p += 3) {
            r += (int32_t)p[0] * w[k];
            g += (int32_t)p[1] * w[k];
            b += (int32_t)p[2] * w[k];
        }
        dst[3 * xx] = clip8(r);
        dst[3 * xx + 1] = clip8(g);
        dst[3 * xx + 2] = clip8(b);
    }
}

#if defined(__x86_64__) || defined(__i386__)
#include "avx2_lanes.h"

/* Rows but the last (whose gathers could read a byte past the image) on 8-pixel groups;
   `offset` and `tap_weight` are tap-major: [k · groups8 + xx], a lane past its count reading
   the pixel `first` with weight 0. */
AVX2 static void rows_avx2(const uint8_t *src, size_t row_bytes, int rows, int out_width,
                           const int32_t *offset, const int32_t *tap_weight, int taps,
                           int groups8, uint8_t *dst, size_t dst_row_bytes) {
    const __m256i byte = _mm256_set1_epi32(0xff), half = _mm256_set1_epi32(PIL_HALF);
    const __m256i top = _mm256_set1_epi32(255), zero = _mm256_setzero_si256();
    for (int y = 0; y < rows; ++y) {
        /* The gathers' base on a 4-byte boundary, the row's offset from it added to each lane. */
        const uint8_t *row_start = src + (size_t)y * row_bytes;
        const size_t misalign = (uintptr_t)row_start & 3;
        const int *row = (const int *)(const void *)(row_start - misalign);
        const __m256i shift = _mm256_set1_epi32((int)misalign);
        uint8_t *out = dst + (size_t)y * dst_row_bytes;
        for (int xx = 0; xx + 8 <= out_width; xx += 8) {
            __m256i r = half, g = half, b = half;
            for (int k = 0; k < taps; ++k) {
                const __m256i at = _mm256_add_epi32(
                    _mm256_loadu_si256((const __m256i *)(offset + (size_t)k * groups8 + xx)), shift);
                const __m256i w = _mm256_loadu_si256((const __m256i *)(tap_weight + (size_t)k * groups8 + xx));
                const __m256i v = _mm256_i32gather_epi32(row, at, 1);
                r = _mm256_add_epi32(r, _mm256_mullo_epi32(_mm256_and_si256(v, byte), w));
                g = _mm256_add_epi32(g, _mm256_mullo_epi32(_mm256_and_si256(_mm256_srli_epi32(v, 8), byte), w));
                b = _mm256_add_epi32(b, _mm256_mullo_epi32(_mm256_and_si256(_mm256_srli_epi32(v, 16), byte), w));
            }
            int32_t c[3][8];
            const __m256i sums[3] = {r, g, b};
            for (int ch = 0; ch < 3; ++ch) {
                const __m256i v = _mm256_min_epi32(_mm256_max_epi32(_mm256_srai_epi32(sums[ch], 22), zero), top);
                _mm256_storeu_si256((__m256i *)c[ch], v);
            }
            for (int i = 0; i < 8; ++i) {
                out[3 * (xx + i)] = (uint8_t)c[0][i];
                out[3 * (xx + i) + 1] = (uint8_t)c[1][i];
                out[3 * (xx + i) + 2] = (uint8_t)c[2][i];
            }
        }
    }
}
#endif

void cfn_pil_resample_horizontal(const uint8_t *src, int in_width, int rows, int out_width,
                                 const int32_t *first, const int32_t *count,
                                 const int32_t *weights, int stride, uint8_t *dst) {
    if (rows <= 0 || out_width <= 0) return;
    const size_t row_bytes = 3 * (size_t)in_width, dst_row_bytes = 3 * (size_t)out_width;
    int vector_rows = 0, groups8 = out_width / 8 * 8;
#if defined(__x86_64__) || defined(__i386__)
    int32_t *offset = NULL;
    if (cfn_cpu_has_avx2_fma() && groups8 > 0 && rows > 1 && stride > 0 &&
        row_bytes <= (size_t)1 << 30 && (offset = malloc(2 * sizeof(int32_t) * (size_t)stride * groups8))) {
        int32_t *tap_weight = offset + (size_t)stride * groups8;
        for (int k = 0; k < stride; ++k)
            for (int xx = 0; xx < groups8; ++xx) {
                const int used = k < count[xx];
                offset[(size_t)k * groups8 + xx] = 3 * (first[xx] + (used ? k : 0));
                tap_weight[(size_t)k * groups8 + xx] = used ? weights[(size_t)xx * stride + k] : 0;
            }
        vector_rows = rows - 1;
        rows_avx2(src, row_bytes, vector_rows, out_width, offset, tap_weight, stride, groups8, dst,
                  dst_row_bytes);
        free(offset);
    }
#endif
    for (int y = 0; y < rows; ++y) {
        const int from = y < vector_rows ? groups8 : 0;
        row_scalar(src + (size_t)y * row_bytes, out_width - from, first + from, count + from,
                   weights + (size_t)from * stride, stride, dst + (size_t)y * dst_row_bytes + 3 * (size_t)from);
    }
}

/* ---- Vertical pass -------------------------------------------------------------------------- */

/* Output row yy, bytes [from, row_bytes): Σ over its taps of source row · weight. */
static void vertical_row_scalar(const uint8_t *src, size_t row_bytes, size_t from, int first,
                                int count, const int32_t *w, uint8_t *out) {
    for (size_t i = from; i < row_bytes; ++i) {
        int32_t sum = PIL_HALF;
        for (int k = 0; k < count; ++k) sum += (int32_t)src[(size_t)(first + k) * row_bytes + i] * w[k];
        out[i] = clip8(sum);
    }
}

#if defined(__x86_64__) || defined(__i386__)
/* 32 bytes of an output row per step: four 8-lane 32-bit sums, one multiply-add per tap each,
   then Pillow's shift and clip, packed back to bytes. Returns the bytes done. */
AVX2 static size_t vertical_row_avx2(const uint8_t *src, size_t row_bytes, int first, int count,
                                     const int32_t *w, uint8_t *out) {
    const __m256i half = _mm256_set1_epi32(PIL_HALF);
    size_t i = 0;
    for (; i + 32 <= row_bytes; i += 32) {
        __m256i s0 = half, s1 = half, s2 = half, s3 = half;
        for (int k = 0; k < count; ++k) {
            const uint8_t *row = src + (size_t)(first + k) * row_bytes + i;
            const __m256i wk = _mm256_set1_epi32(w[k]);
            s0 = _mm256_add_epi32(s0, _mm256_mullo_epi32(_mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)row)), wk));
            s1 = _mm256_add_epi32(s1, _mm256_mullo_epi32(_mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)(row + 8))), wk));
            s2 = _mm256_add_epi32(s2, _mm256_mullo_epi32(_mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)(row + 16))), wk));
            s3 = _mm256_add_epi32(s3, _mm256_mullo_epi32(_mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)(row + 24))), wk));
        }
        /* >> 22, then the saturating packs clip to 0…255 as clip8 does; the packs work within
           128-bit halves, so the permute puts the bytes back in order. */
        const __m256i lo = _mm256_packs_epi32(_mm256_srai_epi32(s0, 22), _mm256_srai_epi32(s1, 22));
        const __m256i hi = _mm256_packs_epi32(_mm256_srai_epi32(s2, 22), _mm256_srai_epi32(s3, 22));
        const __m256i bytes = _mm256_packus_epi16(lo, hi);
        _mm256_storeu_si256((__m256i *)(out + i),
                            _mm256_permutevar8x32_epi32(bytes, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7)));
    }
    return i;
}
#endif

void cfn_pil_resample_vertical(const uint8_t *src, size_t row_bytes, int out_height,
                               const int32_t *first, const int32_t *count,
                               const int32_t *weights, int stride, uint8_t *dst) {
#if defined(__x86_64__) || defined(__i386__)
    const int vector = cfn_cpu_has_avx2_fma();
#endif
    for (int yy = 0; yy < out_height; ++yy) {
        const int32_t *w = weights + (size_t)yy * stride;
        uint8_t *out = dst + (size_t)yy * row_bytes;
        size_t done = 0;
#if defined(__x86_64__) || defined(__i386__)
        if (vector) done = vertical_row_avx2(src, row_bytes, first[yy], count[yy], w, out);
#endif
        vertical_row_scalar(src, row_bytes, done, first[yy], count[yy], w, out);
    }
}
