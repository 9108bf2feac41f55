/*
 * The int8 network's arithmetic ceiling on this core: multiply-adds per second of the float32
 * FMA (vfmadd231ps, 8 per instruction) against the int8 product's step, AVX2's vpmaddubsw (32
 * u8 × s8 products, pairs added into int16) + vpmaddwd by ones (pairs into int32) + vpaddd, and
 * AVX-512 VNNI's vpdpbusd (64 products into int32 in one instruction) where the CPU has it.
 * Independent accumulators, operands in registers: instruction throughput alone, no memory.
 * Their ratio bounds what int8 can gain over float32 in the products (qgemm_avx2.c,
 * qgemm_vnni.c against gemm_packed.c), before the float network's Winograd layers lower it.
 *
 *   cc -O2 Benchmarks/int8_ceiling.c -o /tmp/int8_ceiling && /tmp/int8_ceiling
 */
#include <immintrin.h>
#include <stdio.h>
#include <time.h>

#define ROUNDS 3
#define STEPS 20000000L

static double seconds(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

/* 12 FMA chains: more than latency × throughput (4 × 2 on Zen 3 and 4) keeps both pipes busy.
   Named variables, not an array, so that every compiler keeps them in registers. */
__attribute__((target("avx2,fma"), noinline)) static float fma_chains(long steps) {
    __m256 x = _mm256_set1_ps(1.0000001f), y = _mm256_set1_ps(0.9999999f);
    /* Different starting values: identical chains would be computed once. */
    __m256 a0 = _mm256_set1_ps(0), a1 = _mm256_set1_ps(1), a2 = _mm256_set1_ps(2);
    __m256 a3 = _mm256_set1_ps(3), a4 = _mm256_set1_ps(4), a5 = _mm256_set1_ps(5);
    __m256 a6 = _mm256_set1_ps(6), a7 = _mm256_set1_ps(7), a8 = _mm256_set1_ps(8);
    __m256 a9 = _mm256_set1_ps(9), a10 = _mm256_set1_ps(10), a11 = _mm256_set1_ps(11);
    for (long s = 0; s < steps; ++s) {
        a0 = _mm256_fmadd_ps(x, y, a0); a1 = _mm256_fmadd_ps(x, y, a1);
        a2 = _mm256_fmadd_ps(x, y, a2); a3 = _mm256_fmadd_ps(x, y, a3);
        a4 = _mm256_fmadd_ps(x, y, a4); a5 = _mm256_fmadd_ps(x, y, a5);
        a6 = _mm256_fmadd_ps(x, y, a6); a7 = _mm256_fmadd_ps(x, y, a7);
        a8 = _mm256_fmadd_ps(x, y, a8); a9 = _mm256_fmadd_ps(x, y, a9);
        a10 = _mm256_fmadd_ps(x, y, a10); a11 = _mm256_fmadd_ps(x, y, a11);
        __asm__ volatile("" : "+x"(x), "+x"(y)); /* no hoisting out of the loop */
    }
    const __m256 sum = _mm256_add_ps(
        _mm256_add_ps(_mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3)),
                      _mm256_add_ps(_mm256_add_ps(a4, a5), _mm256_add_ps(a6, a7))),
        _mm256_add_ps(_mm256_add_ps(a8, a9), _mm256_add_ps(a10, a11)));
    return _mm256_cvtss_f32(sum);
}

/* 6 chains of the AVX2 step, each on its own pair of operands (no common subexpressions). The
   chains depend only through vpaddd (1 cycle), so 6 are plenty; with more, 16 ymm registers no
   longer hold accumulators, operands and temporaries, and compilers spill. */
#define AVX2_STEP(acc, x, w) acc = _mm256_add_epi32(acc, _mm256_madd_epi16(_mm256_maddubs_epi16(x, w), ones))
__attribute__((target("avx2,fma"), noinline)) static int avx2_steps(long steps) {
    __m256i x0 = _mm256_set1_epi8(3), x1 = _mm256_set1_epi8(4), x2 = _mm256_set1_epi8(6);
    __m256i w0 = _mm256_set1_epi8(5), w1 = _mm256_set1_epi8(7);
    const __m256i ones = _mm256_set1_epi16(1), zero = _mm256_setzero_si256();
    __m256i a0 = zero, a1 = zero, a2 = zero, a3 = zero, a4 = zero, a5 = zero;
    for (long s = 0; s < steps; ++s) {
        AVX2_STEP(a0, x0, w0); AVX2_STEP(a1, x0, w1); AVX2_STEP(a2, x1, w0);
        AVX2_STEP(a3, x1, w1); AVX2_STEP(a4, x2, w0); AVX2_STEP(a5, x2, w1);
        __asm__ volatile("" : "+x"(x0), "+x"(x1), "+x"(x2), "+x"(w0), "+x"(w1));
    }
    const __m256i sum = _mm256_add_epi32(_mm256_add_epi32(_mm256_add_epi32(a0, a1), _mm256_add_epi32(a2, a3)),
                                         _mm256_add_epi32(a4, a5));
    return _mm256_extract_epi32(sum, 0);
}

/* 8 chains of vpdpbusd on zmm registers. */
#define VNNI_STEP(acc, x, w) acc = _mm512_dpbusd_epi32(acc, x, w)
__attribute__((target("avx512f,avx512bw,avx512vnni"), noinline)) static int vnni_steps(long steps) {
    __m512i x0 = _mm512_set1_epi8(3), x1 = _mm512_set1_epi8(4), x2 = _mm512_set1_epi8(6);
    __m512i x3 = _mm512_set1_epi8(9), w0 = _mm512_set1_epi8(5), w1 = _mm512_set1_epi8(7);
    const __m512i zero = _mm512_setzero_si512();
    __m512i a0 = zero, a1 = zero, a2 = zero, a3 = zero, a4 = zero, a5 = zero, a6 = zero, a7 = zero;
    for (long s = 0; s < steps; ++s) {
        VNNI_STEP(a0, x0, w0); VNNI_STEP(a1, x0, w1); VNNI_STEP(a2, x1, w0); VNNI_STEP(a3, x1, w1);
        VNNI_STEP(a4, x2, w0); VNNI_STEP(a5, x2, w1); VNNI_STEP(a6, x3, w0); VNNI_STEP(a7, x3, w1);
        __asm__ volatile("" : "+v"(x0), "+v"(x1), "+v"(x2), "+v"(x3), "+v"(w0), "+v"(w1));
    }
    const __m512i sum = _mm512_add_epi32(
        _mm512_add_epi32(_mm512_add_epi32(a0, a1), _mm512_add_epi32(a2, a3)),
        _mm512_add_epi32(_mm512_add_epi32(a4, a5), _mm512_add_epi32(a6, a7)));
    return _mm512_reduce_add_epi32(sum);
}

int main(void) {
    if (!__builtin_cpu_supports("avx2") || !__builtin_cpu_supports("fma")) {
        printf("this CPU lacks AVX2 + FMA: the int8 network runs its plain C kernels\n");
        return 0;
    }
    const int vnni = __builtin_cpu_supports("avx512vnni");
    volatile float sink_f;
    volatile int sink_i;
    for (int round = 0; round < ROUNDS; ++round) {
        double t = seconds();
        sink_f = fma_chains(STEPS);
        const double fma = STEPS * 12.0 * 8 / (seconds() - t) / 1e9;
        t = seconds();
        sink_i = avx2_steps(STEPS);
        const double avx2 = STEPS * 6.0 * 32 / (seconds() - t) / 1e9;
        printf("float32 FMA %.1f GMAC/s; int8 AVX2 step %.1f GMAC/s (%.2f×)", fma, avx2, avx2 / fma);
        if (vnni) {
            t = seconds();
            sink_i = vnni_steps(STEPS);
            const double dp = STEPS * 8.0 * 64 / (seconds() - t) / 1e9;
            printf("; int8 vpdpbusd %.1f GMAC/s (%.2f×)", dp, dp / fma);
        }
        printf("\n");
    }
    (void)sink_f;
    (void)sink_i;
    return 0;
}
