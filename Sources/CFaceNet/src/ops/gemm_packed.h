/*
 * Internal: FaceNet's matrix product, C = epilogue(A · B), with A (the weights) packed once at
 * load time and the work spread over a cfn_pool.
 *
 * Why not OpenBLAS: at batch 1 the last stages multiply 90 MB of weights by 9- to 64-column
 * activations, and OpenBLAS repacks every weight matrix on every call (a second and third pass
 * over it) and splits each call between threads that spin against any other pool. Here the
 * weights are read once per pass, straight from their packed panels; a job of many products
 * (Winograd's 16) is one dispatch; and bias, ReLU and the residual's scale-and-add are applied
 * to each 6 × 16 tile on its way to C.
 *
 * Layouts. A (m × k) packed: ⌈m / 6⌉ panels of k × 6 floats (panel p holds rows 6p … 6p + 5,
 * k-major, zero past m), or (cfn_gemm_pack_a_rows with CFN_GEMM_MR_WIDE, chosen per layer)
 * ⌈m / 16⌉ panels of k × 16. B (k × n, row-major, leading dimension ldb, or made on the fly by
 * a producer) is packed per task into strips of k × 16 floats. C is row-major with leading
 * dimension ldc. The micro-kernels: on 6-row panels 6 rows × 32 columns (two strips, 12 AVX-512
 * accumulators), 12 × 16 for products of ≤ 16 columns, or 6 × 16 (AVX2); on 16-row panels
 * 8 × 32 (half a panel, 16 AVX-512 accumulators) and, for ≤ 16 columns, 32 rows × n with the
 * rows in the vector lanes (B read in place when it is in memory); AVX2 takes 16-row panels in
 * 6-, 6- and 4-row slices (a context limited to AVX2 on an AVX-512 CPU: a model built on a CPU
 * without AVX-512 packs 6-row panels only). On a portable context (CFN_KERNELS_PORTABLE, for
 * testing one path against another) BLAS multiplies each panel. A model built on a CPU without
 * AVX2 + FMA never comes here: it keeps its weights row-major and runs one SGEMM per layer
 * (conv_blas.c).
 */
#ifndef CFN_OPS_GEMM_PACKED_H
#define CFN_OPS_GEMM_PACKED_H

#include <stddef.h>

#include "../core/thread_pool.h"
#include "cfacenet.h"

#define CFN_GEMM_MR 6       /* rows of A per panel and per micro-tile */
#define CFN_GEMM_MR_WIDE 16 /* rows per panel of the wide layout: one AVX-512 vector per k */
#define CFN_GEMM_NR 16      /* columns of B per strip and per micro-tile */

/* Floats of a packed m × k matrix (6-row panels). */
size_t cfn_gemm_packed_floats(int m, int k);

/* Where element (row, col) of an m × k matrix sits in its packed form (6-row panels). */
static inline size_t cfn_gemm_packed_index(int row, int col, int k) {
    return ((size_t)(row / CFN_GEMM_MR) * k + (size_t)col) * CFN_GEMM_MR + (size_t)(row % CFN_GEMM_MR);
}

/* Packs rows [0, m) of a (row-major, leading dimension lda) into `packed` (6-row panels). */
void cfn_gemm_pack_a(const float *a, int m, int k, int lda, float *packed);

/* Where element (row, col) of an m × k matrix sits in its packed form with `rows` per panel. */
static inline size_t cfn_gemm_packed_index_rows(int row, int col, int k, int rows) {
    return ((size_t)(row / rows) * k + (size_t)col) * rows + (size_t)(row % rows);
}

/* The same with `rows` (CFN_GEMM_MR or CFN_GEMM_MR_WIDE) rows per panel. The wide layout's
   floats include CFN_GEMM_MR of padding after the last panel: the 6-row kernels read it as
   three 6-row tiles, the last of which reads 2 rows past each k. */
size_t cfn_gemm_packed_floats_rows(int m, int k, int rows);
void cfn_gemm_pack_a_rows(const float *a, int m, int k, int lda, int rows, float *packed);

typedef enum cfn_gemm_epilogue_kind {
    CFN_GEMM_STORE = 0,    /* C = A·B */
    CFN_GEMM_BIAS_ACT = 1, /* C = act(A·B + bias[row]) */
    CFN_GEMM_RESIDUAL = 2, /* C = act(C + scale · (A·B + bias[row])), the residual blocks' sum */
} cfn_gemm_epilogue_kind;

typedef struct cfn_gemm_epilogue {
    cfn_gemm_epilogue_kind kind;
    const float *bias; /* [m], or NULL (zero) */
    float scale;       /* CFN_GEMM_RESIDUAL only */
    int relu;          /* act = ReLU (v > 0 ? v : 0) when 1, identity when 0 */
} cfn_gemm_epilogue;

/* Writes rows [k0, k1) of columns [col0, col0 + cols) of a B (k rows in all) that exists only
   implicitly (a convolution's unfolded input) into strips of k × 16 floats, zero past `cols`. */
typedef void (*cfn_gemm_b_producer)(const void *source, int k, int k0, int k1, int col0, int cols,
                                    float *strips);

/* `count` products of one shape: product i multiplies a + i·a_stride by b + i·b_stride into
   c + i·c_stride (Winograd's 16 transform-domain products are one job). With a `produce`
   function, B is not read from memory but written into the strips by it (count must be 1). */
typedef struct cfn_gemm_job {
    int m, n, k, count;
    const float *a; /* packed (cfn_gemm_pack_a) */
    size_t a_stride;
    const float *b;
    int ldb;
    size_t b_stride;
    float *c;
    int ldc;
    size_t c_stride;
    cfn_gemm_epilogue epilogue;
    cfn_gemm_b_producer produce; /* NULL: B is b, ldb */
    const void *source;          /* its argument */
    int a_rows;                  /* rows per panel of a: CFN_GEMM_MR_WIDE, or 0 for CFN_GEMM_MR */
} cfn_gemm_job;

/* The micro-kernels a product runs on. */
typedef enum cfn_gemm_kernels {
    CFN_GEMM_KERNELS_PORTABLE = 0, /* BLAS on each panel */
    CFN_GEMM_KERNELS_AVX2 = 1,     /* 6 × 16 tiles, AVX2 + FMA */
    CFN_GEMM_KERNELS_AVX512 = 2,   /* 6 × 32 tiles, AVX-512F */
} cfn_gemm_kernels;

/* The fastest kernels this CPU runs within what `requested` allows. */
cfn_gemm_kernels cfn_gemm_kernels_for(cfn_kernel_set requested);

/* Where and how products run: the pool (NULL: the caller alone); per-worker scratch for packed
   B and products, cfn_gemm_scratch_floats(k) floats each, `scratch_stride` apart, 64-byte
   aligned; and the kernels (cfn_gemm_kernels_for). */
typedef struct cfn_gemm_engine {
    cfn_pool *pool;
    float *scratch;
    size_t scratch_stride;
    cfn_gemm_kernels kernels;
} cfn_gemm_engine;

/* Scratch floats one worker needs for products of depth k. */
size_t cfn_gemm_scratch_floats(int k);

/* Runs the job's products on the engine; returns when C is written. Allocates nothing. */
void cfn_gemm_run(const cfn_gemm_engine *engine, const cfn_gemm_job *job);

#endif
