/*
 * torchvision's NMS loop (nms_kernel_impl in torchvision/csrc/ops/cpu/nms_kernel.cpp) over boxes
 * already in descending score order, one column array per coordinate and the areas: box i, if
 * not suppressed, suppresses every later box j whose IoU, inter / (area_i + area_j − inter) in
 * float, exceeds the threshold compared in double. The vector path takes 8 later boxes at a
 * time with the same float operations per lane, and compares against the largest float not
 * above the threshold (the same test: every float past it is past the threshold); groups whose
 * 8 boxes are all suppressed already are skipped, as the scalar loop skips each. The last NMS
 * over all of P-Net's levels compares every pair of ~600 boxes that mostly survive: 0.4 ms on
 * one thread in the Swift loop, while the other threads wait.
 */
#include "ops.h"

#include <float.h>
#include <math.h>
#include <string.h>

static void suppress_scalar(const float *x1, const float *y1, const float *x2, const float *y2,
                            const float *area, int i, int from, int n, double threshold,
                            unsigned char *suppressed) {
    for (int j = from; j < n; ++j) {
        if (suppressed[j]) continue;
        /* std::max(a, b) is a < b ? b : a, std::min(a, b) is b < a ? b : a (NaN: a). */
        const float xx1 = x1[i] < x1[j] ? x1[j] : x1[i], yy1 = y1[i] < y1[j] ? y1[j] : y1[i];
        const float xx2 = x2[j] < x2[i] ? x2[j] : x2[i], yy2 = y2[j] < y2[i] ? y2[j] : y2[i];
        const float dw = xx2 - xx1, dh = yy2 - yy1;
        const float w = 0.0f < dw ? dw : 0.0f, h = 0.0f < dh ? dh : 0.0f;
        const float inter = w * h;
        const float iou = inter / (area[i] + area[j] - inter);
        if ((double)iou > threshold) suppressed[j] = 1;
    }
}

#if defined(__x86_64__) || defined(__i386__)
#include "avx2_lanes.h"

/* Lanes whose value is NaN compare false, as (double)NaN > threshold does. */
AVX2 static int suppress_avx2(const float *x1, const float *y1, const float *x2, const float *y2,
                              const float *area, int i, int n, float below,
                              unsigned char *suppressed) {
    const __m256 ix1 = _mm256_set1_ps(x1[i]), iy1 = _mm256_set1_ps(y1[i]);
    const __m256 ix2 = _mm256_set1_ps(x2[i]), iy2 = _mm256_set1_ps(y2[i]);
    const __m256 ia = _mm256_set1_ps(area[i]), zero = _mm256_setzero_ps();
    const __m256 limit = _mm256_set1_ps(below);
    int j = i + 1;
    for (; j + 8 <= n; j += 8) {
        uint64_t done;
        memcpy(&done, suppressed + j, sizeof done);
        if (done == 0x0101010101010101ull) continue;
        /* As the scalar loop's std::max(i, j): _mm256_max_ps(j, i) is j > i ? j : i, so i on
           NaN; std::min(i, j) likewise; and std::max(0, d) is _mm256_max_ps(d, 0). */
        const __m256 xx1 = _mm256_max_ps(_mm256_loadu_ps(x1 + j), ix1);
        const __m256 yy1 = _mm256_max_ps(_mm256_loadu_ps(y1 + j), iy1);
        const __m256 xx2 = _mm256_min_ps(_mm256_loadu_ps(x2 + j), ix2);
        const __m256 yy2 = _mm256_min_ps(_mm256_loadu_ps(y2 + j), iy2);
        const __m256 w = _mm256_max_ps(_mm256_sub_ps(xx2, xx1), zero);
        const __m256 h = _mm256_max_ps(_mm256_sub_ps(yy2, yy1), zero);
        const __m256 inter = _mm256_mul_ps(w, h);
        const __m256 iou = _mm256_div_ps(inter, _mm256_sub_ps(_mm256_add_ps(ia, _mm256_loadu_ps(area + j)), inter));
        const int over = _mm256_movemask_ps(_mm256_cmp_ps(iou, limit, _CMP_GT_OQ));
        for (int lane = 0; lane < 8; ++lane)
            if (over >> lane & 1) suppressed[j + lane] = 1;
    }
    return j;
}
#endif

int cfn_nms_suppress(const float *x1, const float *y1, const float *x2, const float *y2,
                     const float *area, int n, double threshold, unsigned char *suppressed) {
    if (n <= 0) return 0;
    memset(suppressed, 0, (size_t)n);
    /* The largest float not above the threshold (converted only within float's range). */
    float below;
    if (threshold >= FLT_MAX) below = FLT_MAX;         /* no IoU (at most 1, or NaN) passes */
    else if (threshold < -FLT_MAX) below = -INFINITY;  /* every IoU but NaN passes */
    else {
        below = (float)threshold;
        if ((double)below > threshold) below = nextafterf(below, -INFINITY);
    }
#if defined(__x86_64__) || defined(__i386__)
    const int vector = cfn_cpu_has_avx2_fma() && threshold == threshold;
#endif
    int kept = 0;
    for (int i = 0; i < n; ++i) {
        if (suppressed[i]) continue;
        ++kept;
        int from = i + 1;
#if defined(__x86_64__) || defined(__i386__)
        if (vector) from = suppress_avx2(x1, y1, x2, y2, area, i, n, below, suppressed);
#endif
        suppress_scalar(x1, y1, x2, y2, area, i, from, n, threshold, suppressed);
    }
    return kept;
}
