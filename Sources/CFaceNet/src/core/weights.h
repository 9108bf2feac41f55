/* Internal: fetching named tensors through the caller's lookup, with shape and value checks. */
#ifndef CFN_CORE_WEIGHTS_H
#define CFN_CORE_WEIGHTS_H

#include "cfacenet.h"

typedef struct cfn_weight_source {
    cfn_tensor_lookup_fn lookup;
    void *user;
    char *message;   /* where failures are described (may be NULL) */
    size_t capacity;
} cfn_weight_source;

/*
 * Looks `name` up and checks it has exactly the given shape and only finite values.
 * On success *data points at the caller's tensor (valid until the builder returns).
 */
cfn_status cfn_weight_fetch(const cfn_weight_source *source, const char *name, int ndim,
                            const int64_t *shape, const float **data);

/*
 * Reads "<prefix>.conv.weight" [cout, cin, kh, kw] and "<prefix>.bn.{weight,bias,running_mean,
 * running_var}" [cout] and writes the BatchNorm-folded weight (cout × cin·kh·kw) and bias (cout):
 *   w' = w · γ / √(σ² + eps),   b' = β − μ · γ / √(σ² + eps).
 */
cfn_status cfn_weight_fold_conv_bn(const cfn_weight_source *source, const char *prefix, int cin,
                                   int cout, int kh, int kw, float eps, float *weight, float *bias);

#endif
