/* A C target needs a source file; the functions are implemented in CFaceNet. */
#include "cfacenet_testing.h"
