/* FaceNet's matrix product on weights packed at load time (gemm_packed.h). */
#include "../testing.h"
#include "gemm_packed.h"

#include "cfacenet.h"
#include "ops.h"

#include <stdlib.h>
#include <string.h>

#define MR CFN_GEMM_MR
#define NR CFN_GEMM_NR
/* Packed B of one task stays within ~256 KB (a quarter of a 1 MB L2) whatever the depth:
   columns per task block. At batch 1, 256 KB blocks ran 1.5–2 % faster than 128 KB ones (paired
   passes alternating in one process), 768 KB no faster; batch 8 the same either way. */
#define B_BLOCK_FLOATS 65536
#define MAX_BLOCK_COLUMNS 512
/* How far ahead of its reads the AVX-512 kernels prefetch the weight panel. At batch 1 every
   panel comes from DRAM once per pass, and the hardware prefetcher alone left the kernels
   waiting on it: batch 1 at 160×160 ran 13.0–13.3 ms per pass without, 11.4–11.7 with 1 KB and
   10.9–11.6 with 2 or 4 KB ahead (alternating binaries). */
#define A_PREFETCH_BYTES 2048
/* Weight matrices at least this large (floats, per product) have their next panel prefetched
   while a panel is multiplied (next_panel_share); smaller ones stay in cache between passes, and
   there the extra prefetches cost time (conv2d_2a's 32 × 32 Winograd products at batch 1 took
   1.25× as long with them, paired passes). */
#define NEXT_PANEL_MIN_FLOATS 65536
/* Row ranges narrower than this share one packing of their block (cfn_gemm_run). */
#define SHARED_PACKING_ROWS 32

cfn_gemm_kernels cfn_gemm_kernels_for(cfn_kernel_set requested) {
    if (requested == CFN_KERNELS_PORTABLE || !cfn_cpu_has_avx2_fma()) return CFN_GEMM_KERNELS_PORTABLE;
    if (requested == CFN_KERNELS_AVX2 || !cfn_cpu_has_avx512f()) return CFN_GEMM_KERNELS_AVX2;
    return CFN_GEMM_KERNELS_AVX512;
}

const char *cfn_kernels_name(void) {
    switch (cfn_gemm_kernels_for(CFN_KERNELS_BEST)) {
    case CFN_GEMM_KERNELS_AVX512: return "avx512";
    case CFN_GEMM_KERNELS_AVX2: return "avx2";
    default: return "portable";
    }
}

size_t cfn_gemm_packed_floats_rows(int m, int k, int rows) {
    return (size_t)((m + rows - 1) / rows) * rows * (size_t)k + (rows == MR ? 0 : MR);
}

size_t cfn_gemm_packed_floats(int m, int k) {
    return cfn_gemm_packed_floats_rows(m, k, MR);
}

void cfn_gemm_pack_a_rows(const float *a, int m, int k, int lda, int rows, float *packed) {
    const int panels = (m + rows - 1) / rows;
    for (int p = 0; p < panels; ++p) {
        float *panel = packed + (size_t)p * rows * k;
        for (int r = 0; r < rows; ++r) {
            const int row = p * rows + r;
            for (int j = 0; j < k; ++j) panel[(size_t)j * rows + r] = row < m ? a[(size_t)row * lda + j] : 0.0f;
        }
    }
    if (rows != MR) memset(packed + (size_t)panels * rows * k, 0, sizeof(float) * MR);
}

void cfn_gemm_pack_a(const float *a, int m, int k, int lda, float *packed) {
    cfn_gemm_pack_a_rows(a, m, k, lda, MR, packed);
}

static int block_columns(int k) {
    int nc = B_BLOCK_FLOATS / (k > 0 ? k : 1) / NR * NR;
    return nc < NR ? NR : nc > MAX_BLOCK_COLUMNS ? MAX_BLOCK_COLUMNS : nc;
}

/* Packed strips of one block, then room for a panel's rows of its products (the portable
   kernel's). */
size_t cfn_gemm_scratch_floats(int k) {
    return (size_t)block_columns(k) * ((size_t)k + CFN_GEMM_MR_WIDE);
}

/* Rows of B ahead of the one being copied whose block segment is prefetched: B's rows are far
   apart (whole activation planes), so the hardware prefetcher does not follow them. */
#define PACK_PREFETCH_ROWS 4

/* Rows [k0, k1) of columns [col0, col0 + cols) of B (k rows in all) into strips of k × 16,
   zero past `cols`. Row by row, so that each row's segment is read in one sequential run. */
static void pack_b(const float *b, int ldb, int k, int k0, int k1, int col0, int cols, float *dst) {
    const int full = cols / NR, tail = cols - full * NR;
    for (int p = k0; p < k1; ++p) {
        if (p + PACK_PREFETCH_ROWS < k1) {
            const char *ahead = (const char *)(b + (size_t)(p + PACK_PREFETCH_ROWS) * ldb + col0);
            for (int off = 0; off < cols * (int)sizeof(float); off += 64)
                __builtin_prefetch(ahead + off, 0, 3);
        }
        const float *src = b + (size_t)p * ldb + col0;
        float *out = dst + (size_t)p * NR;
        for (int s = 0; s < full; ++s) memcpy(out + (size_t)s * NR * k, src + s * NR, sizeof(float) * NR);
        if (tail) {
            float *last = out + (size_t)full * NR * k;
            memcpy(last, src + full * NR, sizeof(float) * tail);
            memset(last + tail, 0, sizeof(float) * (NR - tail));
        }
    }
}

/* Rows [k0, k1) of the task's B block into strips, from memory or from the job's producer. */
static void fill_strips(const cfn_gemm_job *job, int product, int k0, int k1, int col0, int cols,
                        float *strips) {
    if (job->produce)
        job->produce(job->source, job->k, k0, k1, col0, cols, strips);
    else
        pack_b(job->b + (size_t)product * job->b_stride, job->ldb, job->k, k0, k1, col0, cols,
               strips);
}

/* The epilogue of rows × cols products (leading dimension ldt), one element at a time. */
static void epilogue_scalar(const float *t, int ldt, int rows, int cols, float *c, int ldc,
                            int row0, const cfn_gemm_epilogue *e) {
    for (int r = 0; r < rows; ++r) {
        const float bias = e->bias ? e->bias[row0 + r] : 0.0f;
        float *out = c + (size_t)r * ldc;
        for (int j = 0; j < cols; ++j) {
            float v = t[(size_t)r * ldt + j];
            if (e->kind == CFN_GEMM_BIAS_ACT) v = v + bias;
            else if (e->kind == CFN_GEMM_RESIDUAL) v = out[j] + e->scale * (v + bias);
            out[j] = e->relu ? (v > 0.0f ? v : 0.0f) : v;
        }
    }
}

#if defined(__x86_64__) || defined(__i386__)
#include "avx2_lanes.h"

AVX2_INLINE __m256 act8(__m256 v, int relu) {
    return relu ? _mm256_and_ps(v, _mm256_cmp_ps(v, _mm256_setzero_ps(), _CMP_GT_OQ)) : v;
}

/* acc (6 × 16, row-major) = Σ_p panel[p][r] · strip[p][j]: k rank-1 updates in 12 ymm
   accumulators. In assembly, not intrinsics, so that it runs at full speed in every build: a
   debug (-O0) build keeps intrinsics' vectors in memory, ~10× slower, and the test suite runs
   on debug builds. */
AVX2 static void rank_updates_6x16(long k, const float *panel, long a_step, const float *strip,
                                   float *acc) {
    __asm__ volatile(
        "vxorps %%ymm4, %%ymm4, %%ymm4\n\t"
        "vxorps %%ymm5, %%ymm5, %%ymm5\n\t"
        "vxorps %%ymm6, %%ymm6, %%ymm6\n\t"
        "vxorps %%ymm7, %%ymm7, %%ymm7\n\t"
        "vxorps %%ymm8, %%ymm8, %%ymm8\n\t"
        "vxorps %%ymm9, %%ymm9, %%ymm9\n\t"
        "vxorps %%ymm10, %%ymm10, %%ymm10\n\t"
        "vxorps %%ymm11, %%ymm11, %%ymm11\n\t"
        "vxorps %%ymm12, %%ymm12, %%ymm12\n\t"
        "vxorps %%ymm13, %%ymm13, %%ymm13\n\t"
        "vxorps %%ymm14, %%ymm14, %%ymm14\n\t"
        "vxorps %%ymm15, %%ymm15, %%ymm15\n\t"
        "test %[k], %[k]\n\t"
        "jz 2f\n\t"
        "1:\n\t"
        "vmovups (%[b]), %%ymm0\n\t"
        "vmovups 32(%[b]), %%ymm1\n\t"
        "vbroadcastss (%[a]), %%ymm2\n\t"
        "vfmadd231ps %%ymm0, %%ymm2, %%ymm4\n\t"
        "vfmadd231ps %%ymm1, %%ymm2, %%ymm5\n\t"
        "vbroadcastss 4(%[a]), %%ymm3\n\t"
        "vfmadd231ps %%ymm0, %%ymm3, %%ymm6\n\t"
        "vfmadd231ps %%ymm1, %%ymm3, %%ymm7\n\t"
        "vbroadcastss 8(%[a]), %%ymm2\n\t"
        "vfmadd231ps %%ymm0, %%ymm2, %%ymm8\n\t"
        "vfmadd231ps %%ymm1, %%ymm2, %%ymm9\n\t"
        "vbroadcastss 12(%[a]), %%ymm3\n\t"
        "vfmadd231ps %%ymm0, %%ymm3, %%ymm10\n\t"
        "vfmadd231ps %%ymm1, %%ymm3, %%ymm11\n\t"
        "vbroadcastss 16(%[a]), %%ymm2\n\t"
        "vfmadd231ps %%ymm0, %%ymm2, %%ymm12\n\t"
        "vfmadd231ps %%ymm1, %%ymm2, %%ymm13\n\t"
        "vbroadcastss 20(%[a]), %%ymm3\n\t"
        "vfmadd231ps %%ymm0, %%ymm3, %%ymm14\n\t"
        "vfmadd231ps %%ymm1, %%ymm3, %%ymm15\n\t"
        "add %[as], %[a]\n\t"
        "add $64, %[b]\n\t"
        "dec %[k]\n\t"
        "jnz 1b\n\t"
        "2:\n\t"
        "vmovups %%ymm4, (%[c])\n\t"
        "vmovups %%ymm5, 32(%[c])\n\t"
        "vmovups %%ymm6, 64(%[c])\n\t"
        "vmovups %%ymm7, 96(%[c])\n\t"
        "vmovups %%ymm8, 128(%[c])\n\t"
        "vmovups %%ymm9, 160(%[c])\n\t"
        "vmovups %%ymm10, 192(%[c])\n\t"
        "vmovups %%ymm11, 224(%[c])\n\t"
        "vmovups %%ymm12, 256(%[c])\n\t"
        "vmovups %%ymm13, 288(%[c])\n\t"
        "vmovups %%ymm14, 320(%[c])\n\t"
        "vmovups %%ymm15, 352(%[c])\n\t"
        "vzeroupper\n\t"
        : [a] "+r"(panel), [b] "+r"(strip), [k] "+r"(k)
        : [c] "r"(acc), [as] "r"(a_step)
        : "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8", "xmm9",
          "xmm10", "xmm11", "xmm12", "xmm13", "xmm14", "xmm15", "cc", "memory");
}

/* One 6 × 16 tile and its epilogue (A's rows a_step bytes apart per k). */
AVX2 static void tile_avx2(int k, const float *a, long a_step, const float *b, float *c, int ldc,
                           int rows, int cols, int row0, const cfn_gemm_epilogue *e) {
    float tile[MR][NR] __attribute__((aligned(32)));
    rank_updates_6x16(k, a, a_step, b, &tile[0][0]);
    if (rows < MR || cols < NR) {
        epilogue_scalar(&tile[0][0], NR, rows, cols, c, ldc, row0, e);
        return;
    }
    for (int r = 0; r < MR; ++r) {
        float *out = c + (size_t)r * ldc;
        __m256 v0 = _mm256_load_ps(tile[r]), v1 = _mm256_load_ps(tile[r] + 8);
        if (e->kind != CFN_GEMM_STORE) {
            const __m256 bias = _mm256_set1_ps(e->bias ? e->bias[row0 + r] : 0.0f);
            v0 = _mm256_add_ps(v0, bias);
            v1 = _mm256_add_ps(v1, bias);
        }
        if (e->kind == CFN_GEMM_RESIDUAL) {
            const __m256 scale = _mm256_set1_ps(e->scale);
            v0 = _mm256_add_ps(_mm256_loadu_ps(out), _mm256_mul_ps(scale, v0));
            v1 = _mm256_add_ps(_mm256_loadu_ps(out + 8), _mm256_mul_ps(scale, v1));
        }
        _mm256_storeu_ps(out, act8(v0, e->relu));
        _mm256_storeu_ps(out + 8, act8(v1, e->relu));
    }
}

/* Where one pass of an AVX-512 kernel over a weight panel prefetches the panel after it into
   L2: `at`, advancing `step` bytes per k step.
   At batch 1 every panel comes from memory once per pass, and one that several tiles cross (two
   8-row halves × the strip pairs) arrived during the first of them, at the rate one core pulls
   from memory. In isolation (one thread, k = 896, 64 columns, 100 MB of 16-row panels) the 8 × 32
   tiles ran 128–134 GFLOPS, against 172–176 with the panels in L2: the first pass over each panel
   at ~73. Pass i of n now prefetches the i-th n-th of the next panel, spread over its k steps, so
   that panel arrives while all n passes compute: 161–164 GFLOPS in the same test. A panel with
   one pass, or the last of a task, gets step 0 (the same line each step: a load slot, no
   traffic): there, a prefetch one panel ahead at the loads' pace was no faster. */
typedef struct panel_prefetch {
    const char *at;
    long step;
} panel_prefetch;

/* Pass `pass` of `passes` over `current` (panel_bytes long) with `next` the panel after it, or
   NULL when there is none to fetch. */
static panel_prefetch next_panel_share(const float *current, const float *next, long panel_bytes,
                                       int pass, int passes, int k) {
    panel_prefetch p = {(const char *)current, 0};
    if (!next || passes < 2 || k < 1) return p;
    p.step = (panel_bytes + (long)passes * k - 1) / ((long)passes * k);
    p.at = (const char *)next + (long)pass * p.step * k;
    return p;
}

/* AVX-512 (where the core has it: twice the multiply-adds per instruction, and on cores with
   512-bit pipes twice per cycle: 240 against 120 GFLOPS per core of FMAs alone on this machine's
   Zen 5). In assembly like the AVX2 kernel. Each output is the same chain of FMAs over
   p = 0 … k − 1 as in the AVX2 kernel, so both give the same bits.

   acc (6 × 32, row-major) = Σ_p panel[p][r] · (strip0[p] ‖ strip1[p]): two adjacent strips
   (strip1 = strip0 + 16k floats) in 12 zmm accumulators, 6 broadcasts and 2 loads per 12 FMAs. */
AVX512 static void rank_updates_6x32_avx512(long k, const float *panel, long a_step,
                                            const float *strip, float *acc,
                                            panel_prefetch next) {
    const long strip_bytes = k * NR * (long)sizeof(float);
    __asm__ volatile(
        "vpxord %%zmm4, %%zmm4, %%zmm4\n\t"
        "vpxord %%zmm5, %%zmm5, %%zmm5\n\t"
        "vpxord %%zmm6, %%zmm6, %%zmm6\n\t"
        "vpxord %%zmm7, %%zmm7, %%zmm7\n\t"
        "vpxord %%zmm8, %%zmm8, %%zmm8\n\t"
        "vpxord %%zmm9, %%zmm9, %%zmm9\n\t"
        "vpxord %%zmm10, %%zmm10, %%zmm10\n\t"
        "vpxord %%zmm11, %%zmm11, %%zmm11\n\t"
        "vpxord %%zmm12, %%zmm12, %%zmm12\n\t"
        "vpxord %%zmm13, %%zmm13, %%zmm13\n\t"
        "vpxord %%zmm14, %%zmm14, %%zmm14\n\t"
        "vpxord %%zmm15, %%zmm15, %%zmm15\n\t"
        "test %[k], %[k]\n\t"
        "jz 2f\n\t"
        "1:\n\t"
        "prefetcht0 %c[ahead](%[a])\n\t"
        "prefetcht1 (%[next])\n\t"
        "add %[ns], %[next]\n\t"
        "vmovups (%[b]), %%zmm0\n\t"
        "vmovups (%[b], %[sb]), %%zmm1\n\t"
        "vbroadcastss (%[a]), %%zmm2\n\t"
        "vfmadd231ps %%zmm0, %%zmm2, %%zmm4\n\t"
        "vfmadd231ps %%zmm1, %%zmm2, %%zmm5\n\t"
        "vbroadcastss 4(%[a]), %%zmm3\n\t"
        "vfmadd231ps %%zmm0, %%zmm3, %%zmm6\n\t"
        "vfmadd231ps %%zmm1, %%zmm3, %%zmm7\n\t"
        "vbroadcastss 8(%[a]), %%zmm2\n\t"
        "vfmadd231ps %%zmm0, %%zmm2, %%zmm8\n\t"
        "vfmadd231ps %%zmm1, %%zmm2, %%zmm9\n\t"
        "vbroadcastss 12(%[a]), %%zmm3\n\t"
        "vfmadd231ps %%zmm0, %%zmm3, %%zmm10\n\t"
        "vfmadd231ps %%zmm1, %%zmm3, %%zmm11\n\t"
        "vbroadcastss 16(%[a]), %%zmm2\n\t"
        "vfmadd231ps %%zmm0, %%zmm2, %%zmm12\n\t"
        "vfmadd231ps %%zmm1, %%zmm2, %%zmm13\n\t"
        "vbroadcastss 20(%[a]), %%zmm3\n\t"
        "vfmadd231ps %%zmm0, %%zmm3, %%zmm14\n\t"
        "vfmadd231ps %%zmm1, %%zmm3, %%zmm15\n\t"
        "add %[as], %[a]\n\t"
        "add $64, %[b]\n\t"
        "dec %[k]\n\t"
        "jnz 1b\n\t"
        "2:\n\t"
        "vmovups %%zmm4, (%[c])\n\t"
        "vmovups %%zmm5, 64(%[c])\n\t"
        "vmovups %%zmm6, 128(%[c])\n\t"
        "vmovups %%zmm7, 192(%[c])\n\t"
        "vmovups %%zmm8, 256(%[c])\n\t"
        "vmovups %%zmm9, 320(%[c])\n\t"
        "vmovups %%zmm10, 384(%[c])\n\t"
        "vmovups %%zmm11, 448(%[c])\n\t"
        "vmovups %%zmm12, 512(%[c])\n\t"
        "vmovups %%zmm13, 576(%[c])\n\t"
        "vmovups %%zmm14, 640(%[c])\n\t"
        "vmovups %%zmm15, 704(%[c])\n\t"
        "vzeroupper\n\t"
        : [a] "+r"(panel), [b] "+r"(strip), [k] "+r"(k), [next] "+r"(next.at)
        : [c] "r"(acc), [sb] "r"(strip_bytes), [as] "r"(a_step), [ns] "r"(next.step),
          [ahead] "i"(A_PREFETCH_BYTES)
        : "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8", "xmm9",
          "xmm10", "xmm11", "xmm12", "xmm13", "xmm14", "xmm15", "cc", "memory");
}

/* acc (6 × 16, rows 32 floats apart, as the 6 × 32 tile's left half) = Σ_p panel[p][r] · strip[p]:
   the last strip of an odd count, in 6 zmm accumulators with the broadcasts folded into the FMAs. */
AVX512 static void rank_updates_6x16_avx512(long k, const float *panel, long a_step,
                                            const float *strip, float *acc,
                                            panel_prefetch next) {
    __asm__ volatile(
        "vpxord %%zmm4, %%zmm4, %%zmm4\n\t"
        "vpxord %%zmm5, %%zmm5, %%zmm5\n\t"
        "vpxord %%zmm6, %%zmm6, %%zmm6\n\t"
        "vpxord %%zmm7, %%zmm7, %%zmm7\n\t"
        "vpxord %%zmm8, %%zmm8, %%zmm8\n\t"
        "vpxord %%zmm9, %%zmm9, %%zmm9\n\t"
        "test %[k], %[k]\n\t"
        "jz 2f\n\t"
        "1:\n\t"
        "prefetcht0 %c[ahead](%[a])\n\t"
        "prefetcht1 (%[next])\n\t"
        "add %[ns], %[next]\n\t"
        "vmovups (%[b]), %%zmm0\n\t"
        "vfmadd231ps (%[a])%{1to16%}, %%zmm0, %%zmm4\n\t"
        "vfmadd231ps 4(%[a])%{1to16%}, %%zmm0, %%zmm5\n\t"
        "vfmadd231ps 8(%[a])%{1to16%}, %%zmm0, %%zmm6\n\t"
        "vfmadd231ps 12(%[a])%{1to16%}, %%zmm0, %%zmm7\n\t"
        "vfmadd231ps 16(%[a])%{1to16%}, %%zmm0, %%zmm8\n\t"
        "vfmadd231ps 20(%[a])%{1to16%}, %%zmm0, %%zmm9\n\t"
        "add %[as], %[a]\n\t"
        "add $64, %[b]\n\t"
        "dec %[k]\n\t"
        "jnz 1b\n\t"
        "2:\n\t"
        "vmovups %%zmm4, (%[c])\n\t"
        "vmovups %%zmm5, 128(%[c])\n\t"
        "vmovups %%zmm6, 256(%[c])\n\t"
        "vmovups %%zmm7, 384(%[c])\n\t"
        "vmovups %%zmm8, 512(%[c])\n\t"
        "vmovups %%zmm9, 640(%[c])\n\t"
        "vzeroupper\n\t"
        : [a] "+r"(panel), [b] "+r"(strip), [k] "+r"(k), [next] "+r"(next.at)
        : [c] "r"(acc), [as] "r"(a_step), [ns] "r"(next.step), [ahead] "i"(A_PREFETCH_BYTES)
        : "xmm0", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8", "xmm9", "cc", "memory");
}

/* The epilogue of `rows` rows × `cols` ≤ 32 columns of products (leading dimension ldt) into C,
   with lane masks for partial tiles instead of the scalar loop: the same operations as the AVX2
   epilogue (bias added, then for the residual out + scale · v, then ReLU). */
AVX512 static void store_rows_avx512(const float *tile, int ldt, float *c, int ldc, int rows,
                                     int cols, int row0, const cfn_gemm_epilogue *e) {
    const __mmask16 m0 = cols >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << cols) - 1);
    const __mmask16 m1 = cols >= 32 ? (__mmask16)0xffff
                         : cols > 16 ? (__mmask16)((1u << (cols - 16)) - 1) : (__mmask16)0;
    const __m512 zero = _mm512_setzero_ps(), scale = _mm512_set1_ps(e->scale);
    for (int r = 0; r < rows; ++r) {
        const float *t = tile + (size_t)r * ldt;
        float *out = c + (size_t)r * ldc;
        const __m512 bias = _mm512_set1_ps(e->bias ? e->bias[row0 + r] : 0.0f);
        for (int h = 0; h < 2; ++h) {
            const __mmask16 m = h ? m1 : m0;
            if (!m) break;
            __m512 v = _mm512_maskz_loadu_ps(m, t + 16 * h);
            if (e->kind != CFN_GEMM_STORE) v = _mm512_add_ps(v, bias);
            if (e->kind == CFN_GEMM_RESIDUAL)
                v = _mm512_add_ps(_mm512_maskz_loadu_ps(m, out + 16 * h), _mm512_mul_ps(scale, v));
            if (e->relu) v = _mm512_maskz_mov_ps(_mm512_cmp_ps_mask(v, zero, _CMP_GT_OQ), v);
            _mm512_mask_storeu_ps(out + 16 * h, m, v);
        }
    }
}

/* The 16-row panels' wide tiles: acc (8 × 32, row-major) = Σ_p panel[p][r] · (strip0[p] ‖
   strip1[p]) for 8 rows of a panel (a_step bytes apart per k): 16 zmm accumulators (zmm16–31,
   which only AVX-512 has), 8 broadcasts and 2 loads per 16 FMAs: a third more FMAs per strip
   byte than 6 × 32. */
AVX512 static void rank_updates_8x32_avx512(long k, const float *panel, long a_step,
                                            const float *strip, float *acc,
                                            panel_prefetch next) {
    const long strip_bytes = k * NR * (long)sizeof(float);
    __asm__ volatile(
        "vpxord %%zmm16, %%zmm16, %%zmm16\n\t"
        "vpxord %%zmm17, %%zmm17, %%zmm17\n\t"
        "vpxord %%zmm18, %%zmm18, %%zmm18\n\t"
        "vpxord %%zmm19, %%zmm19, %%zmm19\n\t"
        "vpxord %%zmm20, %%zmm20, %%zmm20\n\t"
        "vpxord %%zmm21, %%zmm21, %%zmm21\n\t"
        "vpxord %%zmm22, %%zmm22, %%zmm22\n\t"
        "vpxord %%zmm23, %%zmm23, %%zmm23\n\t"
        "vpxord %%zmm24, %%zmm24, %%zmm24\n\t"
        "vpxord %%zmm25, %%zmm25, %%zmm25\n\t"
        "vpxord %%zmm26, %%zmm26, %%zmm26\n\t"
        "vpxord %%zmm27, %%zmm27, %%zmm27\n\t"
        "vpxord %%zmm28, %%zmm28, %%zmm28\n\t"
        "vpxord %%zmm29, %%zmm29, %%zmm29\n\t"
        "vpxord %%zmm30, %%zmm30, %%zmm30\n\t"
        "vpxord %%zmm31, %%zmm31, %%zmm31\n\t"
        "test %[k], %[k]\n\t"
        "jz 2f\n\t"
        "1:\n\t"
        "prefetcht0 %c[ahead](%[a])\n\t"
        "prefetcht1 (%[next])\n\t"
        "add %[ns], %[next]\n\t"
        "vmovups (%[b]), %%zmm0\n\t"
        "vmovups (%[b], %[sb]), %%zmm1\n\t"
        "vbroadcastss 0(%[a]), %%zmm2\n\t"
        "vfmadd231ps %%zmm0, %%zmm2, %%zmm16\n\t"
        "vfmadd231ps %%zmm1, %%zmm2, %%zmm17\n\t"
        "vbroadcastss 4(%[a]), %%zmm3\n\t"
        "vfmadd231ps %%zmm0, %%zmm3, %%zmm18\n\t"
        "vfmadd231ps %%zmm1, %%zmm3, %%zmm19\n\t"
        "vbroadcastss 8(%[a]), %%zmm2\n\t"
        "vfmadd231ps %%zmm0, %%zmm2, %%zmm20\n\t"
        "vfmadd231ps %%zmm1, %%zmm2, %%zmm21\n\t"
        "vbroadcastss 12(%[a]), %%zmm3\n\t"
        "vfmadd231ps %%zmm0, %%zmm3, %%zmm22\n\t"
        "vfmadd231ps %%zmm1, %%zmm3, %%zmm23\n\t"
        "vbroadcastss 16(%[a]), %%zmm2\n\t"
        "vfmadd231ps %%zmm0, %%zmm2, %%zmm24\n\t"
        "vfmadd231ps %%zmm1, %%zmm2, %%zmm25\n\t"
        "vbroadcastss 20(%[a]), %%zmm3\n\t"
        "vfmadd231ps %%zmm0, %%zmm3, %%zmm26\n\t"
        "vfmadd231ps %%zmm1, %%zmm3, %%zmm27\n\t"
        "vbroadcastss 24(%[a]), %%zmm2\n\t"
        "vfmadd231ps %%zmm0, %%zmm2, %%zmm28\n\t"
        "vfmadd231ps %%zmm1, %%zmm2, %%zmm29\n\t"
        "vbroadcastss 28(%[a]), %%zmm3\n\t"
        "vfmadd231ps %%zmm0, %%zmm3, %%zmm30\n\t"
        "vfmadd231ps %%zmm1, %%zmm3, %%zmm31\n\t"
        "add %[as], %[a]\n\t"
        "add $64, %[b]\n\t"
        "dec %[k]\n\t"
        "jnz 1b\n\t"
        "2:\n\t"
        "vmovups %%zmm16, 0(%[c])\n\t"
        "vmovups %%zmm17, 64(%[c])\n\t"
        "vmovups %%zmm18, 128(%[c])\n\t"
        "vmovups %%zmm19, 192(%[c])\n\t"
        "vmovups %%zmm20, 256(%[c])\n\t"
        "vmovups %%zmm21, 320(%[c])\n\t"
        "vmovups %%zmm22, 384(%[c])\n\t"
        "vmovups %%zmm23, 448(%[c])\n\t"
        "vmovups %%zmm24, 512(%[c])\n\t"
        "vmovups %%zmm25, 576(%[c])\n\t"
        "vmovups %%zmm26, 640(%[c])\n\t"
        "vmovups %%zmm27, 704(%[c])\n\t"
        "vmovups %%zmm28, 768(%[c])\n\t"
        "vmovups %%zmm29, 832(%[c])\n\t"
        "vmovups %%zmm30, 896(%[c])\n\t"
        "vmovups %%zmm31, 960(%[c])\n\t"
        "vzeroupper\n\t"
        : [a] "+r"(panel), [b] "+r"(strip), [k] "+r"(k), [next] "+r"(next.at)
        : [c] "r"(acc), [as] "r"(a_step), [ns] "r"(next.step), [sb] "r"(strip_bytes),
          [ahead] "i"(A_PREFETCH_BYTES)
        : "xmm0", "xmm1", "xmm2", "xmm3", "xmm16", "xmm17", "xmm18", "xmm19",
          "xmm20", "xmm21", "xmm22", "xmm23", "xmm24", "xmm25", "xmm26", "xmm27",
          "xmm28", "xmm29", "xmm30", "xmm31",
          "cc", "memory");
}

/* acc (8 × 16, rows 32 floats apart, as the 8 × 32 tile's left half): an odd last strip, the
   broadcasts folded into the FMAs. */
AVX512 static void rank_updates_8x16_avx512(long k, const float *panel, long a_step,
                                            const float *strip, float *acc,
                                            panel_prefetch next) {
    __asm__ volatile(
        "vpxord %%zmm24, %%zmm24, %%zmm24\n\t"
        "vpxord %%zmm25, %%zmm25, %%zmm25\n\t"
        "vpxord %%zmm26, %%zmm26, %%zmm26\n\t"
        "vpxord %%zmm27, %%zmm27, %%zmm27\n\t"
        "vpxord %%zmm28, %%zmm28, %%zmm28\n\t"
        "vpxord %%zmm29, %%zmm29, %%zmm29\n\t"
        "vpxord %%zmm30, %%zmm30, %%zmm30\n\t"
        "vpxord %%zmm31, %%zmm31, %%zmm31\n\t"
        "test %[k], %[k]\n\t"
        "jz 2f\n\t"
        "1:\n\t"
        "prefetcht0 %c[ahead](%[a])\n\t"
        "prefetcht1 (%[next])\n\t"
        "add %[ns], %[next]\n\t"
        "vmovups (%[b]), %%zmm0\n\t"
        "vfmadd231ps 0(%[a])%{1to16%}, %%zmm0, %%zmm24\n\t"
        "vfmadd231ps 4(%[a])%{1to16%}, %%zmm0, %%zmm25\n\t"
        "vfmadd231ps 8(%[a])%{1to16%}, %%zmm0, %%zmm26\n\t"
        "vfmadd231ps 12(%[a])%{1to16%}, %%zmm0, %%zmm27\n\t"
        "vfmadd231ps 16(%[a])%{1to16%}, %%zmm0, %%zmm28\n\t"
        "vfmadd231ps 20(%[a])%{1to16%}, %%zmm0, %%zmm29\n\t"
        "vfmadd231ps 24(%[a])%{1to16%}, %%zmm0, %%zmm30\n\t"
        "vfmadd231ps 28(%[a])%{1to16%}, %%zmm0, %%zmm31\n\t"
        "add %[as], %[a]\n\t"
        "add $64, %[b]\n\t"
        "dec %[k]\n\t"
        "jnz 1b\n\t"
        "2:\n\t"
        "vmovups %%zmm24, 0(%[c])\n\t"
        "vmovups %%zmm25, 128(%[c])\n\t"
        "vmovups %%zmm26, 256(%[c])\n\t"
        "vmovups %%zmm27, 384(%[c])\n\t"
        "vmovups %%zmm28, 512(%[c])\n\t"
        "vmovups %%zmm29, 640(%[c])\n\t"
        "vmovups %%zmm30, 768(%[c])\n\t"
        "vmovups %%zmm31, 896(%[c])\n\t"
        "vzeroupper\n\t"
        : [a] "+r"(panel), [b] "+r"(strip), [k] "+r"(k), [next] "+r"(next.at)
        : [c] "r"(acc), [as] "r"(a_step), [ns] "r"(next.step), [ahead] "i"(A_PREFETCH_BYTES)
        : "xmm0", "xmm24", "xmm25", "xmm26", "xmm27", "xmm28", "xmm29", "xmm30",
          "xmm31",
          "cc", "memory");
}

/* The tiles of eight rows (half `half` of 2) of a 16-row panel across a task's strips: pairs of
   strips as 8 × 32, an odd last one as 8 × 16, each with its epilogue; the passes of both halves
   share the prefetch of `next` (next_panel_share). */
AVX512 static void half_panel_tiles_avx512(int k, const float *panel, int half, const float *next,
                                           const float *strips, float *c, int ldc, int rows,
                                           int cols, int row0, const cfn_gemm_epilogue *e) {
    float tile[8][2 * NR] __attribute__((aligned(64)));
    const long a_step = CFN_GEMM_MR_WIDE * (long)sizeof(float);
    const long panel_bytes = CFN_GEMM_MR_WIDE * (long)k * (long)sizeof(float);
    const float *whole = panel - 8 * half;
    const int pairs = ((cols + NR - 1) / NR + 1) / 2;
    int s = 0;
    for (; (s + 1) * NR < cols; s += 2) {
        const panel_prefetch ahead =
            next_panel_share(whole, next, panel_bytes, half * pairs + s / 2, 2 * pairs, k);
        rank_updates_8x32_avx512(k, panel, a_step, strips + (size_t)s * NR * k, &tile[0][0], ahead);
        const int width = cols - s * NR < 2 * NR ? cols - s * NR : 2 * NR;
        store_rows_avx512(&tile[0][0], 2 * NR, c + s * NR, ldc, rows, width, row0, e);
    }
    if (s * NR < cols) {
        const panel_prefetch ahead =
            next_panel_share(whole, next, panel_bytes, half * pairs + s / 2, 2 * pairs, k);
        rank_updates_8x16_avx512(k, panel, a_step, strips + (size_t)s * NR * k, &tile[0][0], ahead);
        store_rows_avx512(&tile[0][0], 2 * NR, c + s * NR, ldc, rows, cols - s * NR, row0, e);
    }
}

/* acc (12 × 16, row-major) = Σ_p (panel0[p] ‖ panel1[p])[r] · strip[p]: two adjacent panels
   (panel1 = panel0 + 6k floats) against one strip, for products of at most 16 columns (batch 1's
   3 × 3 maps, the last linear layer), where one panel's 6 chains of FMAs would wait on their
   own latency: 12 chains keep both FMA pipes busy. */
AVX512 static void rank_updates_12x16_avx512(long k, const float *panel, const float *strip,
                                             float *acc) {
    const long panel_bytes = k * MR * (long)sizeof(float);
    __asm__ volatile(
        "vpxord %%zmm4, %%zmm4, %%zmm4\n\t"
        "vpxord %%zmm5, %%zmm5, %%zmm5\n\t"
        "vpxord %%zmm6, %%zmm6, %%zmm6\n\t"
        "vpxord %%zmm7, %%zmm7, %%zmm7\n\t"
        "vpxord %%zmm8, %%zmm8, %%zmm8\n\t"
        "vpxord %%zmm9, %%zmm9, %%zmm9\n\t"
        "vpxord %%zmm10, %%zmm10, %%zmm10\n\t"
        "vpxord %%zmm11, %%zmm11, %%zmm11\n\t"
        "vpxord %%zmm12, %%zmm12, %%zmm12\n\t"
        "vpxord %%zmm13, %%zmm13, %%zmm13\n\t"
        "vpxord %%zmm14, %%zmm14, %%zmm14\n\t"
        "vpxord %%zmm15, %%zmm15, %%zmm15\n\t"
        "test %[k], %[k]\n\t"
        "jz 2f\n\t"
        "1:\n\t"
        "prefetcht0 %c[ahead](%[a])\n\t"
        "prefetcht0 %c[ahead](%[a], %[sa])\n\t"
        "vmovups (%[b]), %%zmm0\n\t"
        "vfmadd231ps (%[a])%{1to16%}, %%zmm0, %%zmm4\n\t"
        "vfmadd231ps 4(%[a])%{1to16%}, %%zmm0, %%zmm5\n\t"
        "vfmadd231ps 8(%[a])%{1to16%}, %%zmm0, %%zmm6\n\t"
        "vfmadd231ps 12(%[a])%{1to16%}, %%zmm0, %%zmm7\n\t"
        "vfmadd231ps 16(%[a])%{1to16%}, %%zmm0, %%zmm8\n\t"
        "vfmadd231ps 20(%[a])%{1to16%}, %%zmm0, %%zmm9\n\t"
        "vfmadd231ps (%[a], %[sa])%{1to16%}, %%zmm0, %%zmm10\n\t"
        "vfmadd231ps 4(%[a], %[sa])%{1to16%}, %%zmm0, %%zmm11\n\t"
        "vfmadd231ps 8(%[a], %[sa])%{1to16%}, %%zmm0, %%zmm12\n\t"
        "vfmadd231ps 12(%[a], %[sa])%{1to16%}, %%zmm0, %%zmm13\n\t"
        "vfmadd231ps 16(%[a], %[sa])%{1to16%}, %%zmm0, %%zmm14\n\t"
        "vfmadd231ps 20(%[a], %[sa])%{1to16%}, %%zmm0, %%zmm15\n\t"
        "add $24, %[a]\n\t"
        "add $64, %[b]\n\t"
        "dec %[k]\n\t"
        "jnz 1b\n\t"
        "2:\n\t"
        "vmovups %%zmm4, (%[c])\n\t"
        "vmovups %%zmm5, 64(%[c])\n\t"
        "vmovups %%zmm6, 128(%[c])\n\t"
        "vmovups %%zmm7, 192(%[c])\n\t"
        "vmovups %%zmm8, 256(%[c])\n\t"
        "vmovups %%zmm9, 320(%[c])\n\t"
        "vmovups %%zmm10, 384(%[c])\n\t"
        "vmovups %%zmm11, 448(%[c])\n\t"
        "vmovups %%zmm12, 512(%[c])\n\t"
        "vmovups %%zmm13, 576(%[c])\n\t"
        "vmovups %%zmm14, 640(%[c])\n\t"
        "vmovups %%zmm15, 704(%[c])\n\t"
        "vzeroupper\n\t"
        : [a] "+r"(panel), [b] "+r"(strip), [k] "+r"(k)
        : [c] "r"(acc), [sa] "r"(panel_bytes), [ahead] "i"(A_PREFETCH_BYTES)
        : "xmm0", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8", "xmm9", "xmm10", "xmm11", "xmm12",
          "xmm13", "xmm14", "xmm15", "cc", "memory");
}

/* Panels [p0, p1) of a task whose block is one strip (≤ 16 columns): pairs of panels as 12 × 16
   tiles, an odd last one as 6 × 16. */
AVX512 static void narrow_tiles_avx512(int k, const float *a, int m, int p0, int p1,
                                       const float *strip, float *c, int ldc, int cols,
                                       const cfn_gemm_epilogue *e) {
    float tile[2 * MR][NR] __attribute__((aligned(64)));
    int p = p0;
    for (; p + 1 < p1; p += 2) {
        const int row0 = p * MR, second = m - row0 - MR < MR ? m - row0 - MR : MR;
        rank_updates_12x16_avx512(k, a + (size_t)p * MR * k, strip, &tile[0][0]);
        store_rows_avx512(&tile[0][0], NR, c + (size_t)row0 * ldc, ldc, MR + second, cols, row0, e);
    }
    if (p < p1) {
        const int row0 = p * MR, rows = m - row0 < MR ? m - row0 : MR;
        float half[MR][2 * NR] __attribute__((aligned(64)));
        const float *panel = a + (size_t)p * MR * k;
        const panel_prefetch none = {(const char *)panel, 0}; /* narrow tiles: no next panel */
        rank_updates_6x16_avx512(k, panel, MR * sizeof(float), strip, &half[0][0], none);
        store_rows_avx512(&half[0][0], 2 * NR, c + (size_t)row0 * ldc, ldc, rows, cols, row0, e);
    }
}

/* The tiles of six rows of a panel (a_step bytes apart per k) across a task's strips: pairs of
   strips as 6 × 32, an odd last one as 6 × 16, each with its epilogue; on 6-row panels the
   passes share the prefetch of `next` (next_panel_share). */
AVX512 static void panel_tiles_avx512(int k, const float *panel, long a_step, const float *next,
                                      const float *strips, float *c, int ldc, int rows, int cols,
                                      int row0, const cfn_gemm_epilogue *e) {
    float tile[MR][2 * NR] __attribute__((aligned(64)));
    const long panel_bytes = MR * (long)k * (long)sizeof(float);
    const int pairs = ((cols + NR - 1) / NR + 1) / 2;
    int s = 0;
    for (; (s + 1) * NR < cols; s += 2) {
        const panel_prefetch ahead = next_panel_share(panel, next, panel_bytes, s / 2, pairs, k);
        rank_updates_6x32_avx512(k, panel, a_step, strips + (size_t)s * NR * k, &tile[0][0], ahead);
        const int width = cols - s * NR < 2 * NR ? cols - s * NR : 2 * NR;
        store_rows_avx512(&tile[0][0], 2 * NR, c + s * NR, ldc, rows, width, row0, e);
    }
    if (s * NR < cols) {
        const panel_prefetch ahead = next_panel_share(panel, next, panel_bytes, s / 2, pairs, k);
        rank_updates_6x16_avx512(k, panel, a_step, strips + (size_t)s * NR * k, &tile[0][0], ahead);
        store_rows_avx512(&tile[0][0], 2 * NR, c + s * NR, ldc, rows, cols - s * NR, row0, e);
    }
}

/* ---- Products of at most 16 columns on 16-row panels ----------------------------------------
   With one strip of B, the 6-row kernels broadcast a weight per FMA, and on cores that issue two
   loads a cycle those broadcasts, not the FMAs, set the pace (12 × 16 tiles ran at 62–69 % of the
   FMA peak on a Xeon of the kind); and every lane past the product's columns (7 of 16 at 9) is
   wasted. Here a 16-row panel gives one vector of weights per k, each of the n columns' values
   is broadcast, and each lane is a row: n FMAs per vector load, none wasted. Each output is
   still the chain of FMAs over p = 0 … k − 1 from zero, as in the other kernels. */

/* acc[j][r] (j < N columns, r < 16 · PANELS rows) = Σ_p panel[p][r] · b[p · b_step + j]; panel 1
   is `second` floats after panel 0; B is a strip (b_step 16) or B itself, read in place.
   N and PANELS are constants where it is inlined. */
AVX512_INLINE void rows16_updates(long k, const float *panel, long second, const float *b,
                                  long b_step, int N, int PANELS, float *acc) {
    __m512 c0[16], c1[16];
    for (int j = 0; j < N; ++j) c0[j] = c1[j] = _mm512_setzero_ps();
    for (long p = 0; p < k; ++p) {
        _mm_prefetch((const char *)(panel + 16 * p) + A_PREFETCH_BYTES, _MM_HINT_T0);
        const __m512 a0 = _mm512_loadu_ps(panel + 16 * p);
        if (PANELS == 2) {
            _mm_prefetch((const char *)(panel + second + 16 * p) + A_PREFETCH_BYTES, _MM_HINT_T0);
            const __m512 a1 = _mm512_loadu_ps(panel + second + 16 * p);
            for (int j = 0; j < N; ++j) {
                const __m512 v = _mm512_set1_ps(b[b_step * p + j]);
                c0[j] = _mm512_fmadd_ps(a0, v, c0[j]);
                c1[j] = _mm512_fmadd_ps(a1, v, c1[j]);
            }
        } else {
            for (int j = 0; j < N; ++j)
                c0[j] = _mm512_fmadd_ps(a0, _mm512_set1_ps(b[b_step * p + j]), c0[j]);
        }
    }
    for (int j = 0; j < N; ++j) {
        _mm512_store_ps(acc + 32 * j, c0[j]);
        if (PANELS == 2) _mm512_store_ps(acc + 32 * j + 16, c1[j]);
    }
}

typedef void (*rows16_kernel)(long k, const float *panel, long second, const float *b,
                              long b_step, float *acc);

#define ROWS16_KERNELS(N)                                                                        \
    AVX512 static void rows16_pair_##N(long k, const float *panel, long second, const float *b,  \
                                       long b_step, float *acc) {                                \
        rows16_updates(k, panel, second, b, b_step, N, 2, acc);                                  \
    }                                                                                            \
    AVX512 static void rows16_one_##N(long k, const float *panel, long second, const float *b,   \
                                      long b_step, float *acc) {                                 \
        rows16_updates(k, panel, second, b, b_step, N, 1, acc);                                  \
    }
ROWS16_KERNELS(1) ROWS16_KERNELS(2) ROWS16_KERNELS(3) ROWS16_KERNELS(4) ROWS16_KERNELS(5)
ROWS16_KERNELS(6) ROWS16_KERNELS(7) ROWS16_KERNELS(8) ROWS16_KERNELS(9) ROWS16_KERNELS(10)
ROWS16_KERNELS(11) ROWS16_KERNELS(12) ROWS16_KERNELS(13) ROWS16_KERNELS(14) ROWS16_KERNELS(15)
ROWS16_KERNELS(16)

/* By column count; pairs of panels need 2n accumulators, so 15 and 16 columns take one panel at
   a time. */
static const rows16_kernel rows16_pair[17] = {
    NULL, rows16_pair_1, rows16_pair_2, rows16_pair_3, rows16_pair_4, rows16_pair_5,
    rows16_pair_6, rows16_pair_7, rows16_pair_8, rows16_pair_9, rows16_pair_10, rows16_pair_11,
    rows16_pair_12, rows16_pair_13, rows16_pair_14, NULL, NULL};
static const rows16_kernel rows16_one[17] = {
    NULL, rows16_one_1, rows16_one_2, rows16_one_3, rows16_one_4, rows16_one_5, rows16_one_6,
    rows16_one_7, rows16_one_8, rows16_one_9, rows16_one_10, rows16_one_11, rows16_one_12,
    rows16_one_13, rows16_one_14, rows16_one_15, rows16_one_16};

/* The epilogue of acc[j][r] (`rows` ≤ 32 rows, `cols` columns) into C: rows are lanes, so each
   column is gathered from and scattered to C's rows, with the operations of store_rows_avx512. */
AVX512 static void store_columns_avx512(const float *acc, float *c, int ldc, int rows, int cols,
                                        int row0, const cfn_gemm_epilogue *e) {
    const __m512i lanes = _mm512_set_epi32(15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0);
    const __m512i offsets = _mm512_mullo_epi32(lanes, _mm512_set1_epi32(ldc));
    const __m512 zero = _mm512_setzero_ps(), scale = _mm512_set1_ps(e->scale);
    for (int h = 0; h * 16 < rows; ++h) {
        const int live = rows - 16 * h < 16 ? rows - 16 * h : 16;
        const __mmask16 m = (__mmask16)(live == 16 ? 0xffff : (1u << live) - 1);
        const __m512 bias = e->bias ? _mm512_maskz_loadu_ps(m, e->bias + row0 + 16 * h) : zero;
        float *base = c + (size_t)16 * h * ldc;
        for (int j = 0; j < cols; ++j) {
            __m512 v = _mm512_load_ps(acc + 32 * j + 16 * h);
            if (e->kind != CFN_GEMM_STORE) v = _mm512_add_ps(v, bias);
            if (e->kind == CFN_GEMM_RESIDUAL)
                v = _mm512_add_ps(_mm512_mask_i32gather_ps(zero, m, offsets, base + j, 4),
                                  _mm512_mul_ps(scale, v));
            if (e->relu) v = _mm512_maskz_mov_ps(_mm512_cmp_ps_mask(v, zero, _CMP_GT_OQ), v);
            _mm512_mask_i32scatter_ps(base + j, m, offsets, v, 4);
        }
    }
}

/* Panels [p0, p1) of 16 rows of a task whose block is `cols` ≤ 16 columns of B (a strip, b_step
   16, or B in place, b_step its leading dimension). */
AVX512 static void rows16_tiles_avx512(int k, const float *a, int m, int p0, int p1,
                                       const float *b, long b_step, float *c, int ldc, int cols,
                                       const cfn_gemm_epilogue *e) {
    float acc[NR][2 * CFN_GEMM_MR_WIDE] __attribute__((aligned(64)));
    const long panel_floats = (long)CFN_GEMM_MR_WIDE * k;
    int p = p0;
    if (rows16_pair[cols]) {
        for (; p + 1 < p1; p += 2) {
            const int row0 = p * CFN_GEMM_MR_WIDE;
            const int rows = m - row0 < 2 * CFN_GEMM_MR_WIDE ? m - row0 : 2 * CFN_GEMM_MR_WIDE;
            rows16_pair[cols](k, a + (size_t)p * panel_floats, panel_floats, b, b_step, &acc[0][0]);
            store_columns_avx512(&acc[0][0], c + (size_t)row0 * ldc, ldc, rows, cols, row0, e);
        }
    }
    for (; p < p1; ++p) {
        const int row0 = p * CFN_GEMM_MR_WIDE;
        const int rows = m - row0 < CFN_GEMM_MR_WIDE ? m - row0 : CFN_GEMM_MR_WIDE;
        rows16_one[cols](k, a + (size_t)p * panel_floats, 0, b, b_step, &acc[0][0]);
        store_columns_avx512(&acc[0][0], c + (size_t)row0 * ldc, ldc, rows, cols, row0, e);
    }
}
#endif

/* A job cut into tasks: (product, column block, range of A panels). */
typedef struct gemm_run {
    const cfn_gemm_job *job;
    const cfn_gemm_engine *engine;
    int panels, block_columns, blocks, ranges;
    float *shared;           /* the one block's strips, packed by all workers first (or NULL) */
    int in_place;            /* B is read where it is, unpacked (rows16_tiles_avx512) */
    int fill_tasks;
    int packed[CFN_POOL_MAX_WORKERS]; /* the (product, block) whose B each worker's scratch holds */
} gemm_run;

/* The task's share: product, column block [col0, col0 + cols) and panels [p0, p1). */
typedef struct gemm_task_span {
    int product, block, col0, cols, p0, p1;
} gemm_task_span;

static int panel_rows(const cfn_gemm_job *job) {
    return job->a_rows ? job->a_rows : MR;
}

static gemm_task_span task_span(const gemm_run *run, int task) {
    const int per_product = run->blocks * run->ranges;
    gemm_task_span t;
    t.product = task / per_product;
    t.block = task % per_product / run->ranges;
    const int range = task % run->ranges;
    t.col0 = t.block * run->block_columns;
    t.cols = run->job->n - t.col0 < run->block_columns ? run->job->n - t.col0 : run->block_columns;
    t.p0 = range * run->panels / run->ranges;
    t.p1 = (range + 1) * run->panels / run->ranges;
    return t;
}

#if defined(__x86_64__) || defined(__i386__)
/* Packs the block's B (unless this worker's scratch holds it already, or the kernels read it in
   place), then its tiles: 6 × 32 and 6 × 16 on AVX-512, 6 × 16 on AVX2. */
static void task_avx2(void *arg, int task, int worker) {
    gemm_run *run = arg;
    const cfn_gemm_job *job = run->job;
    const gemm_task_span t = task_span(run, task);
    const float *a = job->a + (size_t)t.product * job->a_stride;
    float *c = job->c + (size_t)t.product * job->c_stride + t.col0;
    const int avx512 = run->engine->kernels == CFN_GEMM_KERNELS_AVX512, pr = panel_rows(job);
    if (run->in_place) {
        rows16_tiles_avx512(job->k, a, job->m, t.p0, t.p1,
                            job->b + (size_t)t.product * job->b_stride + t.col0, job->ldb, c,
                            job->ldc, t.cols, &job->epilogue);
        return;
    }
    float *strips = run->engine->scratch + (size_t)worker * run->engine->scratch_stride;
    const int block_id = t.product * run->blocks + t.block;
    if (run->shared) {
        strips = run->shared;
    } else if (run->packed[worker] != block_id) {
        fill_strips(job, t.product, 0, job->k, t.col0, t.cols, strips);
        run->packed[worker] = block_id;
    }
    if (avx512 && t.cols <= NR) {
        if (pr == MR)
            narrow_tiles_avx512(job->k, a, job->m, t.p0, t.p1, strips, c, job->ldc, t.cols,
                                &job->epilogue);
        else
            rows16_tiles_avx512(job->k, a, job->m, t.p0, t.p1, strips, NR, c, job->ldc, t.cols,
                                &job->epilogue);
        return;
    }
    /* Row tiles of each panel: 6 rows on the 6-row layout; on the 16-row layout two of 8
       (AVX-512) or three of 6, 6 and 4 (AVX2). */
    const int wide512 = avx512 && pr == CFN_GEMM_MR_WIDE, tile_rows = wide512 ? 8 : MR;
    const long a_step = pr * (long)sizeof(float);
    const int prefetch_next = (size_t)job->m * job->k >= NEXT_PANEL_MIN_FLOATS;
    for (int p = t.p0; p < t.p1; ++p) {
        const float *next =
            prefetch_next && p + 1 < t.p1 ? a + (size_t)(p + 1) * pr * job->k : NULL;
        for (int sub = 0; sub < pr; sub += tile_rows) {
            const int row0 = p * pr + sub;
            if (row0 >= job->m) break;
            const int left = job->m - row0 < pr - sub ? job->m - row0 : pr - sub;
            const int rows = left < tile_rows ? left : tile_rows;
            const float *panel = a + (size_t)p * pr * job->k + sub;
            float *c_rows = c + (size_t)row0 * job->ldc;
            if (wide512) {
                half_panel_tiles_avx512(job->k, panel, sub / tile_rows, next, strips, c_rows,
                                        job->ldc, rows, t.cols, row0, &job->epilogue);
            } else if (avx512) {
                panel_tiles_avx512(job->k, panel, a_step, next, strips, c_rows, job->ldc, rows,
                                   t.cols, row0, &job->epilogue);
            } else {
                for (int s = 0; s * NR < t.cols; ++s) {
                    const int width = t.cols - s * NR < NR ? t.cols - s * NR : NR;
                    tile_avx2(job->k, panel, a_step, strips + (size_t)s * NR * job->k,
                              c_rows + s * NR, job->ldc, rows, width, row0, &job->epilogue);
                }
            }
        }
    }
}
#endif

/* Portable contexts over packed weights: each panel, stored k × 6, is Aᵀ of a 6-row product
   that BLAS computes into scratch; the epilogue then writes C. A produced B is computed strip
   by strip (each strip is a k × 16 matrix). */
static void task_portable(void *arg, int task, int worker) {
    gemm_run *run = arg;
    const cfn_gemm_job *job = run->job;
    const gemm_task_span t = task_span(run, task);
    float *scratch = run->engine->scratch + (size_t)worker * run->engine->scratch_stride;
    float *products = scratch + (size_t)run->block_columns * job->k;
    const float *a = job->a + (size_t)t.product * job->a_stride;
    float *c = job->c + (size_t)t.product * job->c_stride + t.col0;
    const int pr = panel_rows(job);
    if (job->produce) {
        job->produce(job->source, job->k, 0, job->k, t.col0, t.cols, scratch);
        for (int p = t.p0; p < t.p1; ++p) {
            const int row0 = p * pr, rows = job->m - row0 < pr ? job->m - row0 : pr;
            for (int s = 0; s * NR < t.cols; ++s) {
                const int width = t.cols - s * NR < NR ? t.cols - s * NR : NR;
                cfn_gemm_transposed_a(rows, NR, job->k, a + (size_t)p * pr * job->k, pr,
                                      scratch + (size_t)s * NR * job->k, NR, products, NR);
                epilogue_scalar(products, NR, rows, width,
                                c + (size_t)row0 * job->ldc + s * NR, job->ldc, row0,
                                &job->epilogue);
            }
        }
        return;
    }
    const float *b = job->b + (size_t)t.product * job->b_stride + t.col0;
    for (int p = t.p0; p < t.p1; ++p) {
        const int row0 = p * pr, rows = job->m - row0 < pr ? job->m - row0 : pr;
        cfn_gemm_transposed_a(rows, t.cols, job->k, a + (size_t)p * pr * job->k, pr, b, job->ldb,
                              products, t.cols);
        epilogue_scalar(products, t.cols, rows, t.cols, c + (size_t)row0 * job->ldc, job->ldc,
                        row0, &job->epilogue);
    }
}

/* Rows of the shared block's strips, a range per task. */
static void fill_task(void *arg, int task, int worker) {
    (void)worker;
    const gemm_run *run = arg;
    const int k = run->job->k;
    fill_strips(run->job, 0, task * k / run->fill_tasks, (task + 1) * k / run->fill_tasks, 0,
                run->job->n, run->shared);
}

void cfn_gemm_run(const cfn_gemm_engine *engine, const cfn_gemm_job *job) {
    if (job->m <= 0 || job->n <= 0 || job->count <= 0) return;
    gemm_run run;
    run.job = job;
    run.engine = engine;
    cfn_task_fn task = task_portable;
    int vector = 0;
#if defined(__x86_64__) || defined(__i386__)
    vector = engine->kernels != CFN_GEMM_KERNELS_PORTABLE;
    if (vector) task = task_avx2;
#endif
    run.panels = (job->m + panel_rows(job) - 1) / panel_rows(job);
    run.block_columns = block_columns(job->k);
    run.blocks = (job->n + run.block_columns - 1) / run.block_columns;
    int workers = cfn_pool_workers(engine->pool);
    if (workers > CFN_POOL_MAX_WORKERS) workers = CFN_POOL_MAX_WORKERS;
    /* Split the rows too when columns alone give too few tasks (batch 1's narrow products). */
    const int coarse = job->count * run.blocks, wanted = CFN_POOL_TASKS_PER_WORKER * workers;
    run.ranges = workers == 1 || coarse >= wanted ? 1 : (wanted + coarse - 1) / coarse;
    if (run.ranges > run.panels) run.ranges = run.panels;
    for (int i = 0; i < workers; ++i) run.packed[i] = -1;
    run.shared = NULL;
    /* A B of at most 16 columns in memory against 16-row panels: the kernels broadcast its values
       where they are, so there is nothing to pack (and no packing job to wait for). */
    run.in_place = engine->kernels == CFN_GEMM_KERNELS_AVX512 && panel_rows(job) == CFN_GEMM_MR_WIDE &&
                   job->n <= NR && !job->produce;
    cfn_pool *pool = workers > 1 ? engine->pool : NULL;
    /* One block split between workers into slivers of rows: they pack it together, once, into
       worker 0's scratch, instead of each packing (or unfolding) all of it. With wider ranges,
       each task packing the block itself costs less than the packing job's wait (batch 1 at
       160×160 on two workers, paired passes: 0.987 / 0.990 / 0.989 with SHARED_PACKING_ROWS,
       0.971–0.987 with no shared packing at all). */
    if (vector && pool && coarse == 1 && run.ranges > 1 && !run.in_place &&
        job->m / run.ranges < SHARED_PACKING_ROWS) {
        run.shared = engine->scratch;
        run.fill_tasks = cfn_pool_task_count(pool, job->k);
        cfn_pool_run(pool, run.fill_tasks, fill_task, &run);
    }
    cfn_pool_run(pool, coarse * run.ranges, task, &run);
}

/* ---- test entry (testing.h) --------------------------------------------------------------- */

int cfn_gemm_check(int m, int n, int k, int count, const float *a, const float *b, int ldb,
                   float *c, int ldc, int epilogue, const float *bias, float scale, int relu,
                   int threads, int kernels, int panel_rows) {
    if (m < 1 || n < 1 || k < 1 || count < 1 || !a || !b || !c || ldb < n || ldc < n ||
        epilogue < CFN_GEMM_STORE || epilogue > CFN_GEMM_RESIDUAL || threads < 1 ||
        (panel_rows != MR && panel_rows != CFN_GEMM_MR_WIDE))
        return -1;
    const size_t matrix = cfn_gemm_packed_floats_rows(m, k, panel_rows);
    const size_t per_worker = cfn_gemm_scratch_floats(k);
    float *packed = malloc((size_t)count * matrix * sizeof(float));
    float *strips = aligned_alloc(64, (size_t)threads * per_worker * sizeof(float));
    cfn_pool *pool = threads > 1 ? cfn_pool_create(threads) : NULL;
    int status = packed && strips && (threads == 1 || pool) ? 0 : -1;
    if (status == 0) {
        for (int i = 0; i < count; ++i)
            cfn_gemm_pack_a_rows(a + (size_t)i * m * k, m, k, k, panel_rows,
                                 packed + (size_t)i * matrix);
        const cfn_gemm_engine engine = {pool, strips, per_worker,
                                        cfn_gemm_kernels_for((cfn_kernel_set)kernels)};
        const cfn_gemm_job job = {m, n, k, count, packed, matrix, b, ldb, (size_t)k * ldb, c, ldc,
                                  (size_t)m * ldc,
                                  {(cfn_gemm_epilogue_kind)epilogue, bias, scale, relu != 0},
                                  NULL, NULL, panel_rows};
        cfn_gemm_run(&engine, &job);
    }
    cfn_pool_destroy(pool);
    free(strips);
    free(packed);
    return status;
}
