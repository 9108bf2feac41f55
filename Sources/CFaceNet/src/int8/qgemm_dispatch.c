/* Which int8 kernels this CPU runs (CPUID + XGETBV, probed once). */
#include "qconv.h"
#include "qgemm.h"

#include "../ops/ops.h"

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>

/* AVX-512F (checked with the OS's ZMM state by cfn_cpu_has_avx512f), BW and VNNI. */
static int detect_vnni(void) {
    if (!cfn_cpu_has_avx512f()) return 0;
    unsigned a, b, c, d;
    if (!__get_cpuid_count(7, 0, &a, &b, &c, &d)) return 0;
    return (b & (1u << 30)) != 0 && (c & (1u << 11)) != 0;
}
#endif

int cfn_cpu_has_avx512_vnni(void) {
#if defined(__x86_64__) || defined(__i386__)
    static volatile int cached = -1; /* racing threads compute the same answer */
    int v = cached;
    if (v < 0) cached = v = detect_vnni();
    return v;
#else
    return 0;
#endif
}

cfn_q_kernels cfn_q_kernels_best(cfn_q_kernels most) {
    if (most >= CFN_Q_KERNELS_VNNI && cfn_cpu_has_avx512_vnni()) return CFN_Q_KERNELS_VNNI;
    if (most >= CFN_Q_KERNELS_AVX2 && cfn_cpu_has_avx2_fma()) return CFN_Q_KERNELS_AVX2;
    return CFN_Q_KERNELS_REFERENCE;
}

cfn_loop_build cfn_loop_build_for(cfn_kernel_set set) {
    if (set == CFN_KERNELS_PORTABLE || !cfn_cpu_has_avx2_fma()) return CFN_LOOP_PLAIN;
    if (set == CFN_KERNELS_AVX2 || !cfn_cpu_has_avx512f()) return CFN_LOOP_AVX2;
    return CFN_LOOP_AVX512;
}

cfn_q_tile_fn cfn_q_tile_for(cfn_q_kernels kernels) {
    switch (kernels) {
    case CFN_Q_KERNELS_VNNI: return cfn_q_tile_vnni;
    case CFN_Q_KERNELS_AVX2: return cfn_q_tile_avx2;
    default: return cfn_q_tile_reference;
    }
}
