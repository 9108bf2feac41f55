/*
 * Calibration of one layer's input scale: the clipping value c (scale c / 255) that minimises
 * the expected squared error of u8 quantisation over the values seen, from a histogram of
 * CALIBRATION_BINS bins over [0, max]: values below c cost Δ² / 12 each (Δ = c / 255, uniform
 * rounding error), values above cost their distance to c squared. Taking the largest value
 * (c = max) instead spends the 256 levels on rare outliers: on FaceNet's synthetic-weight
 * network that left the embeddings at cosine 0.965–0.99 to float32's.
 */
#include "qconv.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define CALIBRATION_BINS 2048

float cfn_q_calibrate_clip(const float *x, int pixels, int channels, int ldx, int method) {
    const float most = cfn_q_max(x, pixels, channels, ldx, 0);
    if (!(most > 0.0f) || method == CFN_Q_CALIBRATE_MAX) return most;
    double *hist = calloc(CALIBRATION_BINS, sizeof(double));
    if (!hist) return most;
    const float per_bin = CALIBRATION_BINS / most;
    for (int p = 0; p < pixels; ++p) {
        const float *row = x + (size_t)p * ldx;
        for (int c = 0; c < channels; ++c) {
            if (row[c] <= 0.0f) continue; /* zeros (after a ReLU) are exact at any scale */
            int bin = (int)(row[c] * per_bin);
            hist[bin < CALIBRATION_BINS ? bin : CALIBRATION_BINS - 1] += 1.0;
        }
    }
    /* Candidates: the upper edges of bins 16 … BINS. */
    const double width = (double)most / CALIBRATION_BINS;
    double best_error = INFINITY;
    int best = CALIBRATION_BINS;
    double below = 0.0;
    for (int b = 0; b < 15; ++b) below += hist[b];
    for (int edge = 16; edge <= CALIBRATION_BINS; ++edge) {
        below += hist[edge - 1];
        const double clip = edge * width, step = clip / 255.0;
        double error = below * step * step / 12.0;
        for (int b = edge; b < CALIBRATION_BINS && error < best_error; ++b) {
            const double d = (b + 0.5) * width - clip;
            error += hist[b] * d * d;
        }
        if (error < best_error) {
            best_error = error;
            best = edge;
        }
    }
    free(hist);
    return (float)(best * width);
}
