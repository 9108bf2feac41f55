#include "ops.h"

#include <math.h>

void cfn_l2_normalize_rows(float *x, int rows, int cols) {
    for (int r = 0; r < rows; ++r) {
        float *row = x + (size_t)r * cols;
        double sum = 0.0;
        for (int j = 0; j < cols; ++j) sum += (double)row[j] * row[j];
        double norm = sqrt(sum);
        if (norm < 1e-12) norm = 1e-12;
        const float inv = (float)(1.0 / norm);
        for (int j = 0; j < cols; ++j) row[j] *= inv;
    }
}
