/*
 * Area resampling = adaptive average pooling (F.interpolate(mode='area')) of an RGB8 region,
 * fused with MTCNN's normalisation. Output cell (oy, ox) averages input rows
 * [⌊oy·H/OH⌋, ⌈(oy+1)·H/OH⌉) and columns [⌊ox·W/OW⌋, ⌈(ox+1)·W/OW⌉).
 *
 * PyTorch sums in float32 (rows outer, columns inner) and divides by kh, then by kw. The pixels
 * are integers, so while a window's sum stays below 2^24 every summation order gives the same
 * exact float; the fast path sums in integers (separably, rows then columns). Windows that could
 * exceed 2^24 take the slow path that repeats PyTorch's float accumulation order.
 */
#include "ops.h"

#include <stdint.h>

#if defined(__x86_64__) || defined(__i386__)
#include "avx2_lanes.h"
#define CFN_HAVE_X86 1
#else
#define CFN_HAVE_X86 0
#endif

static inline int window_start(int i, int in, int out) { return (int)(((int64_t)i * in) / out); }
static inline int window_end(int i, int in, int out) {
    return (int)((((int64_t)(i + 1) * in) + out - 1) / out);
}

static inline float normalise(float sum, int kh, int kw) {
    const float mean = sum / (float)kh / (float)kw;
    return (mean - 127.5f) * 0.0078125f;
}

int cfn_area_resample_exact_fast(int region_h, int region_w, int out_h, int out_w) {
    const int64_t kh = (region_h + out_h - 1) / out_h + 1;
    const int64_t kw = (region_w + out_w - 1) / out_w + 1;
    return kh * kw * 255 < (int64_t)1 << 24;
}

/* Column sums of rows [ys, ye) of the region, n = 3 · region_w bytes per row (portable). */
static void row_sums_u32(const uint8_t *src, size_t stride, int rows, int n, uint32_t *sums) {
    for (int j = 0; j < n; ++j) sums[j] = src[j];
    for (int y = 1; y < rows; ++y) {
        src += stride;
        for (int j = 0; j < n; ++j) sums[j] += src[j];
    }
}

#if CFN_HAVE_X86
/* 16 bytes widened to 16-bit lanes. */
__attribute__((target("avx2"))) static inline __m256i widen16(const uint8_t *p) {
    return _mm256_cvtepu8_epi16(_mm_loadu_si128((const __m128i *)p));
}

/* Bytes ahead of the current column group that the row loop asks the cache for (4 groups):
   a small level sums 20-70 rows per window, more streams than the hardware prefetcher tracks,
   and without the hint the loop waited on L3 (35 % of its time, perf, portrait pyramid). */
#define ROW_SUMS_PREFETCH_BYTES 256

/* The same in 16-bit lanes (rows ≤ 257 keeps every sum ≤ 65535): 64 columns (one cache line
   per row) at a time summed down all the rows in registers, then 16 and the scalar tail: the
   pyramid's largest cost after the convolutions. */
__attribute__((target("avx2"))) static void row_sums_u16_avx2(const uint8_t *src, size_t stride,
                                                               int rows, int n, uint16_t *sums) {
    int j = 0;
    for (; j + 64 <= n; j += 64) {
        const uint8_t *p = src + j;
        _mm_prefetch((const char *)(p + ROW_SUMS_PREFETCH_BYTES), _MM_HINT_T0);
        __m256i a0 = widen16(p), a1 = widen16(p + 16), a2 = widen16(p + 32), a3 = widen16(p + 48);
        for (int y = 1; y < rows; ++y) {
            p += stride;
            _mm_prefetch((const char *)(p + ROW_SUMS_PREFETCH_BYTES), _MM_HINT_T0);
            a0 = _mm256_add_epi16(a0, widen16(p));
            a1 = _mm256_add_epi16(a1, widen16(p + 16));
            a2 = _mm256_add_epi16(a2, widen16(p + 32));
            a3 = _mm256_add_epi16(a3, widen16(p + 48));
        }
        _mm256_storeu_si256((__m256i *)(sums + j), a0);
        _mm256_storeu_si256((__m256i *)(sums + j + 16), a1);
        _mm256_storeu_si256((__m256i *)(sums + j + 32), a2);
        _mm256_storeu_si256((__m256i *)(sums + j + 48), a3);
    }
    for (; j + 16 <= n; j += 16) {
        const uint8_t *p = src + j;
        __m256i acc = widen16(p);
        for (int y = 1; y < rows; ++y) {
            p += stride;
            acc = _mm256_add_epi16(acc, widen16(p));
        }
        _mm256_storeu_si256((__m256i *)(sums + j), acc);
    }
    for (; j < n; ++j) {
        const uint8_t *p = src + j;
        unsigned v = 0;
        for (int y = 0; y < rows; ++y, p += stride) v += *p;
        sums[j] = (uint16_t)v;
    }
}

/* Window sums of 2, 3 and 4 pixels along a row of 16-bit column sums (RGB interleaved, so a
   pixel is 3 elements): w2[i] = s[i] + s[i + 3], w3[i] = w2[i] + s[i + 6], w4[i] = w3[i] +
   s[i + 9], for i < n (s holds n + 32 elements, zeros past n). Every output column of a level
   whose windows are at most 4 pixels wide then takes its sums with three loads from the array
   of its width, instead of a loop whose length varies from column to column. */
AVX2 static void window_sums_u16_avx2(const uint16_t *s, int n, int widest, uint16_t *w2,
                                      uint16_t *w3, uint16_t *w4) {
    for (int i = 0; i < n; i += 16) {
        const __m256i two = _mm256_add_epi16(_mm256_loadu_si256((const __m256i *)(s + i)),
                                             _mm256_loadu_si256((const __m256i *)(s + i + 3)));
        _mm256_storeu_si256((__m256i *)(w2 + i), two);
        if (widest < 3) continue;
        const __m256i three =
            _mm256_add_epi16(two, _mm256_loadu_si256((const __m256i *)(s + i + 6)));
        _mm256_storeu_si256((__m256i *)(w3 + i), three);
        if (widest < 4) continue;
        const __m256i four =
            _mm256_add_epi16(three, _mm256_loadu_si256((const __m256i *)(s + i + 9)));
        _mm256_storeu_si256((__m256i *)(w4 + i), four);
    }
}

/* The windowed column pass for one output row: output column ox's three channel sums are the
   16-bit pair at `sums16 + offset[ox]` (its window array and first pixel) and the one after it,
   gathered 8 columns at a time, then PyTorch's sum / kh / kw and the normalisation, in the same
   IEEE operations as the scalar loop below (which takes the last out_w % 8 columns). The scalar
   loop spent a third of the resample's time moving one 16-bit value at a time. */
AVX2 static void windowed_columns_avx2(const uint16_t *sums16, const int32_t *offset,
                                       const float *kw, float kh, int out_w, float *dst,
                                       size_t plane) {
    const int *base = (const int *)(const void *)sums16;
    const __m256i low16 = _mm256_set1_epi32(0xffff);
    const __m256 khv = _mm256_set1_ps(kh), mid = _mm256_set1_ps(127.5f);
    const __m256 step = _mm256_set1_ps(0.0078125f);
    int ox = 0;
    for (; ox + 8 <= out_w; ox += 8) {
        const __m256i at = _mm256_loadu_si256((const __m256i *)(offset + ox));
        /* Scale 2: the offsets count 16-bit elements. R and G come in one 32-bit lane, B in the
           low half of the next; the reads stay inside the arrays' 32-element padding. */
        const __m256i rg = _mm256_i32gather_epi32(base, at, 2);
        const __m256i bx = _mm256_i32gather_epi32(base, _mm256_add_epi32(at, _mm256_set1_epi32(2)), 2);
        const __m256i channel[3] = {_mm256_and_si256(rg, low16), _mm256_srli_epi32(rg, 16),
                                    _mm256_and_si256(bx, low16)};
        const __m256 width = _mm256_loadu_ps(kw + ox);
        for (int c = 0; c < 3; ++c) {
            const __m256 mean = _mm256_div_ps(_mm256_div_ps(_mm256_cvtepi32_ps(channel[c]), khv), width);
            _mm256_storeu_ps(dst + c * plane + ox, _mm256_mul_ps(_mm256_sub_ps(mean, mid), step));
        }
    }
    for (; ox < out_w; ++ox)
        for (int c = 0; c < 3; ++c)
            dst[c * plane + ox] = ((float)sums16[offset[ox] + c] / kh / kw[ox] - 127.5f) * 0.0078125f;
}

/* The column pass for one output row of a level whose windows are wider than 4 pixels (the
   pyramid's levels below about 1/3 scale: 5 to 75 pixels): a window's three channel sums in
   the low lanes of one 4 × 32-bit vector, a pixel's 16-bit R, G, B (and the next R, ignored)
   widened and added per step, into `sums` (3 × out_w floats), then sum / kh / kw and the
   normalisation 8 columns at a time: the same IEEE operations as the scalar loop. That loop's
   three loads and adds per pixel, its bookkeeping and its 4-wide divisions took 12 ns a
   column, most of the resample's own time on the portrait. */
AVX2 static void wide_columns_avx2(const uint16_t *sums16, const int32_t *xs, const int32_t *xe,
                                   const float *kw, float kh, int out_w, float *sums, float *dst,
                                   size_t plane) {
    for (int ox = 0; ox < out_w; ++ox) {
        const uint16_t *p = sums16 + 3 * (size_t)xs[ox];
        __m128i acc = _mm_setzero_si128();
        for (int x = xs[ox]; x < xe[ox]; ++x, p += 3)
            acc = _mm_add_epi32(acc, _mm_cvtepu16_epi32(_mm_loadl_epi64((const __m128i *)p)));
        float v[4];
        _mm_storeu_ps(v, _mm_cvtepi32_ps(acc)); /* exact: the sums are below 2^24 */
        sums[ox] = v[0];
        sums[out_w + ox] = v[1];
        sums[2 * out_w + ox] = v[2];
    }
    const __m256 khv = _mm256_set1_ps(kh), mid = _mm256_set1_ps(127.5f);
    const __m256 step = _mm256_set1_ps(0.0078125f);
    for (int c = 0; c < 3; ++c) {
        const float *sc = sums + (size_t)c * out_w;
        float *dc = dst + c * plane;
        int ox = 0;
        for (; ox + 8 <= out_w; ox += 8) {
            const __m256 mean = _mm256_div_ps(_mm256_div_ps(_mm256_loadu_ps(sc + ox), khv), _mm256_loadu_ps(kw + ox));
            _mm256_storeu_ps(dc + ox, _mm256_mul_ps(_mm256_sub_ps(mean, mid), step));
        }
        for (; ox < out_w; ++ox) dc[ox] = (sc[ox] / kh / kw[ox] - 127.5f) * 0.0078125f;
    }
}
#endif

/* Floats of the per-row region of the scratch: the 32-bit row sums (3·region_w), or the four
   16-bit arrays of the windowed path (row sums and 2-, 3-, 4-pixel windows, each padded). */
static size_t row_region_floats(int region_w) {
    const size_t narrow = (size_t)2 * (3 * (size_t)region_w + 32);
    return narrow > (size_t)3 * region_w ? narrow : (size_t)3 * region_w;
}

size_t cfn_area_resample_scratch_floats(int region_w, int out_w) {
    return row_region_floats(region_w) + (size_t)6 * out_w;
}

void cfn_area_resample_rgb8(const uint8_t *rgb, size_t stride, int x0, int y0, int region_w,
                            int region_h, int out_h, int out_w, float *out, void *scratch,
                            int portable) {
    cfn_area_resample_rgb8_rows(rgb, stride, x0, y0, region_w, region_h, out_h, out_w, 0, out_h,
                                out, scratch, portable);
}

void cfn_area_resample_rgb8_rows(const uint8_t *rgb, size_t stride, int x0, int y0, int region_w,
                                 int region_h, int out_h, int out_w, int row_begin, int row_end,
                                 float *out, void *scratch, int portable) {
    const size_t plane = (size_t)(row_end - row_begin) * out_w;
    if (cfn_area_resample_exact_fast(region_h, region_w, out_h, out_w)) {
        /* Scratch: row sums, then per output column its window [xs, xe) and width, then the
           column sums of one output row per channel. */
        uint32_t *row_sums = scratch;
        int32_t *xs = (int32_t *)(row_sums + row_region_floats(region_w));
        int32_t *xe = xs + out_w;
        float *kw = (float *)(xe + out_w);
        float *sums = kw + out_w;
        for (int ox = 0; ox < out_w; ++ox) {
            xs[ox] = window_start(ox, region_w, out_w);
            xe[ox] = window_end(ox, region_w, out_w);
            kw[ox] = (float)(xe[ox] - xs[ox]);
        }
        const int n = region_w * 3;
        /* Window heights never exceed ⌈H / OH⌉ + 1. */
        const int max_rows = (region_h + out_h - 1) / out_h + 1;
#if CFN_HAVE_X86
        const int narrow = !portable && max_rows <= 257 && cfn_cpu_has_avx2_fma();
#else
        const int narrow = 0;
        (void)portable;
#endif
        uint16_t *row_sums16 = (uint16_t *)row_sums;
        /* The windowed column pass: windows of at most 4 pixels (every pyramid level down to a
           scale of about 1/3) and sums that stay within 16 bits (4 · 64 rows · 255). */
        int widest = 0;
        for (int ox = 0; ox < out_w; ++ox)
            if (xe[ox] - xs[ox] > widest) widest = xe[ox] - xs[ox];
        const int windowed = narrow && widest <= 4 && max_rows <= 64;
        const size_t padded_n = (size_t)n + 32;
        uint16_t *by_width[5] = {NULL, row_sums16, row_sums16 + padded_n,
                                 row_sums16 + 2 * padded_n, row_sums16 + 3 * padded_n};
        /* Windowed: each column's sums sit at offset[ox] in the arrays, [width][3·xs] (the
           `sums` region, unused on this path, holds the offsets). */
        int32_t *offset = (int32_t *)sums;
        /* wide_columns_avx2 reads one element past a window's last pixel. */
        if (narrow && !windowed) row_sums16[n] = 0;
        if (windowed) { /* the vector loads past n read zeros, never stale or unset memory */
            for (int i = n; i < (int)padded_n; ++i) row_sums16[i] = 0;
            for (int ox = 0; ox < out_w; ++ox)
                offset[ox] = (int32_t)((by_width[xe[ox] - xs[ox]] - row_sums16) + 3 * xs[ox]);
        }
        for (int oy = row_begin; oy < row_end; ++oy) {
            const int ys = window_start(oy, region_h, out_h), ye = window_end(oy, region_h, out_h);
            const uint8_t *src = rgb + (size_t)(y0 + ys) * stride + (size_t)x0 * 3;
#if CFN_HAVE_X86
            if (narrow) row_sums_u16_avx2(src, stride, ye - ys, n, row_sums16);
            else
#endif
                row_sums_u32(src, stride, ye - ys, n, row_sums);
#if CFN_HAVE_X86
            if (windowed) {
                window_sums_u16_avx2(row_sums16, n, widest, by_width[2], by_width[3], by_width[4]);
                windowed_columns_avx2(row_sums16, offset, kw, (float)(ye - ys), out_w,
                                      out + (size_t)(oy - row_begin) * out_w, plane);
                continue;
            }
            if (narrow) {
                wide_columns_avx2(row_sums16, xs, xe, kw, (float)(ye - ys), out_w, sums,
                                  out + (size_t)(oy - row_begin) * out_w, plane);
                continue;
            }
#endif
            for (int ox = 0; ox < out_w; ++ox) {
                uint32_t r = 0, g = 0, b = 0;
                if (narrow) {
                    for (int x = xs[ox]; x < xe[ox]; ++x) {
                        r += row_sums16[3 * x];
                        g += row_sums16[3 * x + 1];
                        b += row_sums16[3 * x + 2];
                    }
                } else {
                    for (int x = xs[ox]; x < xe[ox]; ++x) {
                        r += row_sums[3 * x];
                        g += row_sums[3 * x + 1];
                        b += row_sums[3 * x + 2];
                    }
                }
                /* Exact: the sums are below 2^24. */
                sums[ox] = (float)r;
                sums[out_w + ox] = (float)g;
                sums[2 * out_w + ox] = (float)b;
            }
            /* The divisions in vector form: IEEE division is exact whatever the width, and
               these are most of the op's time in scalar form. */
            const float kh = (float)(ye - ys);
            float *dst = out + (size_t)(oy - row_begin) * out_w;
            for (int c = 0; c < 3; ++c) {
                const float *sc = sums + (size_t)c * out_w;
                float *dc = dst + c * plane;
                for (int ox = 0; ox < out_w; ++ox) dc[ox] = (sc[ox] / kh / kw[ox] - 127.5f) * 0.0078125f;
            }
        }
        return;
    }
    for (int oy = row_begin; oy < row_end; ++oy) {
        const int ys = window_start(oy, region_h, out_h), ye = window_end(oy, region_h, out_h);
        for (int ox = 0; ox < out_w; ++ox) {
            const int xs = window_start(ox, region_w, out_w), xe = window_end(ox, region_w, out_w);
            for (int c = 0; c < 3; ++c) {
                float sum = 0.0f;
                for (int y = ys; y < ye; ++y) {
                    const uint8_t *src = rgb + (size_t)(y0 + y) * stride + (size_t)x0 * 3 + c;
                    for (int x = xs; x < xe; ++x) sum += (float)src[3 * x];
                }
                out[c * plane + (size_t)(oy - row_begin) * out_w + ox] = normalise(sum, ye - ys, xe - xs);
            }
        }
    }
}
