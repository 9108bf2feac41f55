#!/usr/bin/env bash
# Checks, on the release build's objects, that the C loops written once and compiled for several
# instruction sets give the same floats in every build this CPU runs: the int8 network's float32
# layers (fconv.c: plain, AVX2, AVX-512). `swift test` cannot: SwiftPM's debug configuration
# compiles C at -O0, where no build is vectorised, so its comparisons of these builds compare
# scalar code (docs/TESTING.md, "What swift test cannot see").
#
#   swift build -c release --product FaceRecBenchmarks && scripts/check-release-kernel-builds.sh
#
# Prints one line per shape and build; exits non-zero if any float differs from the plain build's.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ ! -d .build/release/CFaceNet.build ]; then
    echo "no release objects: run swift build -c release --product FaceRecBenchmarks first" >&2
    exit 2
fi
objects=$(find .build/release/CFaceNet.build -name '*.o' | sort)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

cat > "$work/check.c" <<'C'
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testing.h" /* cfn_fconv_test */

static unsigned state = 12345;
static float next(void) {
    state = state * 1664525u + 1013904223u;
    return (float)(state >> 8) / 16777216.0f * 2 - 1;
}

int main(void) {
    /* conv2d_1a's shape (3 → 32, 3×3 stride 2), a padded 3×3, conv2d_3b's 1×1 (64 → 80). */
    const int shapes[3][5] = {{3, 32, 3, 2, 0}, {5, 16, 3, 1, 1}, {64, 80, 1, 1, 0}};
    int failed = 0;
    for (int t = 0; t < 3; ++t) {
        const int cin = shapes[t][0], cout = shapes[t][1], k = shapes[t][2];
        const int stride = shapes[t][3], pad = shapes[t][4], n = 2, h = 19, w = 17;
        const int oh = (h + 2 * pad - k) / stride + 1, ow = (w + 2 * pad - k) / stride + 1;
        const size_t nx = (size_t)n * h * w * cin, nw = (size_t)cout * cin * k * k;
        const size_t no = (size_t)n * oh * ow * cout;
        float *x = malloc(nx * 4), *weight = malloc(nw * 4), *bias = malloc((size_t)cout * 4);
        float *plain = malloc(no * 4), *wide = malloc(no * 4);
        for (size_t i = 0; i < nx; ++i) x[i] = next();
        for (size_t i = 0; i < nw; ++i) weight[i] = next();
        for (int i = 0; i < cout; ++i) bias[i] = next();
        if (cfn_fconv_test(x, n, h, w, cin, weight, bias, cout, k, stride, pad, 0, plain) != 1) {
            printf("fconv %d→%d k%d: the plain build failed\n", cin, cout, k);
            return 1;
        }
        for (int build = 1; build <= 2; ++build) {
            const int status = cfn_fconv_test(x, n, h, w, cin, weight, bias, cout, k, stride, pad, build, wide);
            if (status == 0) {
                printf("fconv %d→%d k%d: build %d does not run on this CPU\n", cin, cout, k, build);
                continue;
            }
            if (status != 1) {
                printf("fconv %d→%d k%d: build %d failed (status %d)\n", cin, cout, k, build, status);
                failed = 1;
                continue;
            }
            size_t differing = 0;
            for (size_t i = 0; i < no; ++i) differing += memcmp(&plain[i], &wide[i], 4) != 0;
            printf("fconv %d→%d k%d: build %d, %zu of %zu floats differ from the plain build's\n",
                   cin, cout, k, build, differing, no);
            failed |= differing != 0;
        }
        free(x); free(weight); free(bias); free(plain); free(wide);
    }
    return failed;
}
C
# shellcheck disable=SC2086,SC2046  # the object list and pkg-config's flags are meant to split
cc -O2 -I Sources/CFaceNet/src -I Sources/CFaceNet/include "$work/check.c" $objects -o "$work/check" \
    $(pkg-config --libs openblas) -lm -lpthread
"$work/check"
