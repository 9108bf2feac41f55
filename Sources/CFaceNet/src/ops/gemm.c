/* The one place that calls BLAS: MTCNN's linear layers, FaceNet's layers on CPUs without AVX2
   (conv_blas.c), and its products on portable contexts (gemm_packed.c). */
#include "ops.h"

#include <cblas.h>

void cfn_gemm(int m, int n, int k, float alpha, const float *a, const float *b, int ldb,
              float beta, float *c, int ldc) {
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, m, n, k, alpha, a, k, b, ldb, beta, c,
                ldc);
}

void cfn_gemm_transposed_a(int m, int n, int k, const float *a, int lda, const float *b, int ldb,
                           float *c, int ldc) {
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, m, n, k, 1.0f, a, lda, b, ldb, 0.0f, c,
                ldc);
}

int cfn_gemm_threads(void) {
    const int n = openblas_get_num_threads();
    return n < 1 ? 1 : n;
}
