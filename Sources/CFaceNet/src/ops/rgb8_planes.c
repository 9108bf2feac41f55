/*
 * Interleaved 8-bit RGB to three float32 planes, each value (v − offset) · scale: the tensor
 * facenet-pytorch's `extract_face` hands to FaceNet (`to_tensor(np.float32(crop))`, then
 * `fixed_image_standardization` when offset = 127.5 and scale = 1/128). The subtraction and the
 * product round as two float32 operations in both paths (never one fused multiply-add), so
 * every CPU gives the same floats.
 *
 * The vector path takes 16 pixels (48 bytes) at a time: three 16-byte loads, one byte shuffle
 * per load and channel picks that channel's bytes into place, and the OR of the three gives its
 * 16 values in order.
 */
#include "cfacenet_mtcnn.h"
#include "ops.h"

#include <stdint.h>

#if defined(__x86_64__) || defined(__i386__)
#include "avx2_lanes.h"

/* Sixteen bytes of channel `ch` from 16 pixels: byte s comes from position 3·s + ch of the 48. */
AVX2_INLINE __m128i channel_bytes(__m128i a, __m128i b, __m128i c, const __m128i mask[3]) {
    return _mm_or_si128(_mm_or_si128(_mm_shuffle_epi8(a, mask[0]), _mm_shuffle_epi8(b, mask[1])),
                        _mm_shuffle_epi8(c, mask[2]));
}

AVX2_INLINE void store_scaled(__m128i bytes, __m256 offset, __m256 scale, float *out) {
    const __m256 lo = _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(bytes));
    const __m256 hi = _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(_mm_unpackhi_epi64(bytes, bytes)));
    _mm256_storeu_ps(out, _mm256_mul_ps(_mm256_sub_ps(lo, offset), scale));
    _mm256_storeu_ps(out + 8, _mm256_mul_ps(_mm256_sub_ps(hi, offset), scale));
}

/* Returns the pixels done (a multiple of 16). */
AVX2 static size_t planes_avx2(const uint8_t *rgb, size_t pixels, float offset, float scale, float *out) {
    /* mask[ch][j] picks, into byte s, position 3·s + ch when it lies in load j (-128: zero). */
    __m128i mask[3][3];
    for (int ch = 0; ch < 3; ++ch)
        for (int j = 0; j < 3; ++j) {
            int8_t m[16];
            for (int s = 0; s < 16; ++s) {
                const int p = 3 * s + ch;
                m[s] = p / 16 == j ? (int8_t)(p % 16) : (int8_t)-128;
            }
            mask[ch][j] = _mm_loadu_si128((const __m128i *)m);
        }
    const __m256 o = _mm256_set1_ps(offset), k = _mm256_set1_ps(scale);
    size_t i = 0;
    for (; i + 16 <= pixels; i += 16) {
        const uint8_t *p = rgb + 3 * i;
        const __m128i a = _mm_loadu_si128((const __m128i *)p);
        const __m128i b = _mm_loadu_si128((const __m128i *)(p + 16));
        const __m128i c = _mm_loadu_si128((const __m128i *)(p + 32));
        for (int ch = 0; ch < 3; ++ch)
            store_scaled(channel_bytes(a, b, c, mask[ch]), o, k, out + (size_t)ch * pixels + i);
    }
    return i;
}
#endif

void cfn_rgb8_to_planes(const uint8_t *rgb, size_t pixels, float offset, float scale, float *out) {
    size_t i = 0;
#if defined(__x86_64__) || defined(__i386__)
    if (cfn_cpu_has_avx2_fma()) i = planes_avx2(rgb, pixels, offset, scale, out);
#endif
    for (; i < pixels; ++i)
        for (int ch = 0; ch < 3; ++ch) {
            const float centred = (float)rgb[3 * i + ch] - offset;
            out[(size_t)ch * pixels + i] = centred * scale;
        }
}
