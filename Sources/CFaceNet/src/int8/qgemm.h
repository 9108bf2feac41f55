/*
 * Internal: FaceNet's int8 products. Activations are unsigned 8-bit (zero point 0 after a ReLU,
 * 128 for the signed input image), weights signed 7-bit (−63 … 63) per output channel, sums in
 * int32, results dequantised to float32 in the epilogue.
 *
 * Why 7-bit weights: AVX2's vpmaddubsw adds two u8 × s8 products into a saturating int16;
 * 255 · 63 · 2 = 32130 never saturates, so the AVX2, AVX-512 VNNI and plain C kernels compute
 * the same integers (the tests check they are bit-identical) and the network does not depend
 * on the CPU it runs on.
 *
 * Layout (lanes are output channels, so one column's results are consecutive channels of an
 * NHWC pixel):
 *   A, the weights: panels of CFN_Q_PANEL (16) rows; within a panel, for each group of 4 depth
 *      indices, 16 rows × 4 bytes (64 bytes: one zmm, or two ymm). Depth padded to a multiple
 *      of 4 with zero weights; rows are never padded (every FaceNet width is a multiple of 16).
 *   B, the activations: column-major, column p at b + p · ldb, `depth` bytes each.
 */
#ifndef CFN_INT8_QGEMM_H
#define CFN_INT8_QGEMM_H

#include <stddef.h>
#include <stdint.h>

#define CFN_Q_PANEL 16      /* rows per weight panel */
#define CFN_Q_COLUMNS 8     /* columns per micro-tile */
#define CFN_Q_WEIGHT_MAX 63 /* |quantised weight| ≤ this (7 bits) */

/* Depth rounded up to the weights' groups of 4. */
static inline int cfn_q_depth4(int depth) { return (depth + 3) & ~3; }

/* Bytes of packed weights for `rows` (a multiple of CFN_Q_PANEL) × `depth`. */
static inline size_t cfn_q_packed_bytes(int rows, int depth) {
    return (size_t)rows * (size_t)cfn_q_depth4(depth);
}

/* Packs int8 weights (rows × depth, row-major) into panels. */
void cfn_q_pack_weights(const int8_t *w, int rows, int depth, int8_t *packed);

/* The kernels a product may use. */
typedef enum cfn_q_kernels {
    CFN_Q_KERNELS_REFERENCE = 0, /* plain C */
    CFN_Q_KERNELS_AVX2 = 1,      /* vpmaddubsw + vpmaddwd */
    CFN_Q_KERNELS_VNNI = 2,      /* AVX-512 VNNI vpdpbusd */
} cfn_q_kernels;

/* The best kernels of this CPU, capped at `most`. */
cfn_q_kernels cfn_q_kernels_best(cfn_q_kernels most);
/* 1 when the CPU (and OS) run AVX-512F + BW + VNNI. */
int cfn_cpu_has_avx512_vnni(void);

/*
 * A micro-tile: acc[c][r] = Σ_k A[panel r][k] · B[column c][k] for `panels` (1 or 2) consecutive
 * panels at `a` (panel stride depth4 · 16 bytes) and CFN_Q_COLUMNS columns cols[0 … 7] (each
 * depth4 bytes), written to acc (CFN_Q_COLUMNS × 32 int32, column-major, 32 rows per column).
 * Every kernel returns the same integers.
 */
typedef void (*cfn_q_tile_fn)(const int8_t *a, int panels, int depth4,
                              const uint8_t *const cols[CFN_Q_COLUMNS], int32_t *acc);

void cfn_q_tile_reference(const int8_t *a, int panels, int depth4,
                          const uint8_t *const cols[CFN_Q_COLUMNS], int32_t *acc);
void cfn_q_tile_avx2(const int8_t *a, int panels, int depth4,
                     const uint8_t *const cols[CFN_Q_COLUMNS], int32_t *acc);
void cfn_q_tile_vnni(const int8_t *a, int panels, int depth4,
                     const uint8_t *const cols[CFN_Q_COLUMNS], int32_t *acc);

cfn_q_tile_fn cfn_q_tile_for(cfn_q_kernels kernels);

#endif
