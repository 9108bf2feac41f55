/* The test entry of expf.h: its scalar and vector forms over a buffer. */
#include "../testing.h"
#include "expf.h"
#include "ops.h"

#if defined(__x86_64__) || defined(__i386__)
AVX2 static void expf_avx2(const float *x, int n, float *out) {
    int i = 0;
    for (; i + 8 <= n; i += 8) _mm256_storeu_ps(out + i, cfn_expf8_avx2(_mm256_loadu_ps(x + i)));
    if (i < n) {
        float tail[8] = {0};
        for (int k = 0; k < n - i; ++k) tail[k] = x[i + k];
        _mm256_storeu_ps(tail, cfn_expf8_avx2(_mm256_loadu_ps(tail)));
        for (int k = 0; k < n - i; ++k) out[i + k] = tail[k];
    }
}
#endif

int cfn_expf_paths(const float *x, int n, int vector, float *out) {
    if (!x || !out || n < 0) return -1;
    if (!vector) {
        for (int i = 0; i < n; ++i) out[i] = cfn_expf(x[i]);
        return 1;
    }
#if defined(__x86_64__) || defined(__i386__)
    if (!cfn_cpu_has_avx2_fma()) return 0;
    expf_avx2(x, n, out);
    return 1;
#else
    return 0;
#endif
}
