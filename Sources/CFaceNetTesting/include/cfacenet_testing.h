/*
 * CFaceNetTesting: the test entries of CFaceNet's kernels and layer ops, for the package's tests
 * only (not a product). The declarations live with their implementations in CFaceNet
 * (src/testing.h); this target only makes them importable (`import CFaceNetTesting`).
 */
#ifndef CFACENET_TESTING_PUBLIC_H
#define CFACENET_TESTING_PUBLIC_H

#include "../../CFaceNet/src/testing.h"

#endif /* CFACENET_TESTING_PUBLIC_H */
