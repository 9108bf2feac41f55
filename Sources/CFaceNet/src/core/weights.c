#include "weights.h"

#include "context.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

static void format_shape(char *out, size_t capacity, int ndim, const int64_t *shape) {
    size_t used = (size_t)snprintf(out, capacity, "[");
    for (int i = 0; i < ndim && used < capacity; ++i)
        used += (size_t)snprintf(out + used, capacity - used, i ? ", %lld" : "%lld",
                                 (long long)shape[i]);
    if (used < capacity) snprintf(out + used, capacity - used, "]");
}

cfn_status cfn_weight_fetch(const cfn_weight_source *source, const char *name, int ndim,
                            const int64_t *shape, const float **data) {
    cfn_tensor_view view;
    memset(&view, 0, sizeof view);
    if (!source->lookup(source->user, name, &view) || !view.data)
        return cfn_message_fail(source->message, source->capacity, CFN_ERROR_MISSING_TENSOR,
                                "missing tensor '%s'", name);
    int same = view.ndim == ndim;
    for (int i = 0; same && i < ndim; ++i) same = view.shape[i] == shape[i];
    if (!same) {
        char got[128], want[128];
        format_shape(got, sizeof got, view.ndim < 0 ? 0 : (view.ndim > CFN_MAX_DIMS ? CFN_MAX_DIMS : view.ndim), view.shape);
        format_shape(want, sizeof want, ndim, shape);
        return cfn_message_fail(source->message, source->capacity, CFN_ERROR_SHAPE_MISMATCH,
                                "tensor '%s' has shape %s, expected %s", name, got, want);
    }
    size_t count = 1;
    for (int i = 0; i < ndim; ++i) count *= (size_t)shape[i];
    for (size_t i = 0; i < count; ++i)
        if (!isfinite(view.data[i]))
            return cfn_message_fail(source->message, source->capacity, CFN_ERROR_NON_FINITE,
                                    "tensor '%s' holds a non-finite value at element %zu", name, i);
    *data = view.data;
    return CFN_OK;
}

cfn_status cfn_weight_fold_conv_bn(const cfn_weight_source *source, const char *prefix, int cin,
                                   int cout, int kh, int kw, float eps, float *weight, float *bias) {
    char name[256];
    const float *w, *gamma, *beta, *mean, *var;
    const int64_t wshape[4] = {cout, cin, kh, kw};
    const int64_t vshape[1] = {cout};
    cfn_status status;

#define FETCH(suffix, nd, shp, dst)                                                            \
    snprintf(name, sizeof name, "%s.%s", prefix, suffix);                                      \
    if ((status = cfn_weight_fetch(source, name, nd, shp, &dst)) != CFN_OK) return status;
    FETCH("conv.weight", 4, wshape, w)
    FETCH("bn.weight", 1, vshape, gamma)
    FETCH("bn.bias", 1, vshape, beta)
    FETCH("bn.running_mean", 1, vshape, mean)
    FETCH("bn.running_var", 1, vshape, var)
#undef FETCH

    const size_t k = (size_t)cin * kh * kw;
    for (int o = 0; o < cout; ++o) {
        if (var[o] + eps <= 0.0f)
            return cfn_message_fail(source->message, source->capacity, CFN_ERROR_NON_FINITE,
                                    "tensor '%s.bn.running_var' is negative at element %d", prefix, o);
        const double scale = (double)gamma[o] / sqrt((double)var[o] + (double)eps);
        for (size_t j = 0; j < k; ++j) weight[o * k + j] = (float)(w[o * k + j] * scale);
        bias[o] = (float)(beta[o] - mean[o] * scale);
    }
    return CFN_OK;
}
