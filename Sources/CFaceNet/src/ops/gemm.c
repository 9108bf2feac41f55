/* The one place that calls BLAS: every convolution and linear layer ends up here. */
#include "ops.h"

#include <cblas.h>

void cfn_gemm(int m, int n, int k, float alpha, const float *a, const float *b, int ldb,
              float beta, float *c, int ldc) {
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, m, n, k, alpha, a, k, b, ldb, beta, c,
                ldc);
}

int cfn_gemm_threads(void) {
    const int n = openblas_get_num_threads();
    return n < 1 ? 1 : n;
}
