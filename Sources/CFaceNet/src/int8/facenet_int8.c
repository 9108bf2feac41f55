/*
 * FaceNet (Inception-ResNet-v1) with int8 convolutions: an approximation of cfn_facenet, opt-in.
 *
 * Every convolution but FLOAT32_LAYERS runs on int8 (qconv.h): its weights, BatchNorm folded
 * exactly as the float network folds them, quantised per output channel at build time; its
 * input quantised per tensor with a scale calibrated on face crops (cfn_facenet_int8_calibrate:
 * a clipping value of what each layer's input takes over the calibration batch, calibrate.c,
 * itself run through the int8 layers before it). FLOAT32_LAYERS run in float32 (fconv.c). The
 * residual additions, the pooling, last_linear + last_bn and the L2 norm stay in float32, and
 * so do the activations between layers (NHWC: a branch writes its channel
 * slice of the concatenation, a residual block's up-projection adds into its input in place).
 * Branch opening 1×1 convolutions that read the same input are stacked, as in the float net.
 */
#include "cfacenet.h"

#include "../core/context.h"
#include "../core/weights.h"
#include "../ops/ops.h"
#include "qconv.h"

#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BN_EPS 0.001f
#define CALIBRATION_CHUNK 16

typedef struct q_block {
    cfn_qconv stem, branch[3], up;
    float scale;
    int relu;
} q_block;

struct cfn_facenet_int8 {
    cfn_qconv conv1a, conv2a, conv2b, conv3b, conv4a, conv4b;
    q_block block35[5];
    cfn_qconv m6_b0, m6_b1_1x1, m6_b1_3x3, m6_b1_s2;
    q_block block17[10];
    cfn_qconv m7_stem, m7_b0_s2, m7_b1_s2, m7_b2_3x3, m7_b2_s2;
    q_block block8[6];
    float *last_weight; /* 1792 × 512: last_linear with last_bn folded, transposed */
    float *last_bias;   /* 512 */
    int layers;         /* convolutions (CFN_FACENET_INT8_LAYERS) */
    unsigned char float_layer[CFN_FACENET_INT8_LAYERS]; /* 1: that convolution runs in float32 */
    const cfn_qconv *conv[CFN_FACENET_INT8_LAYERS];     /* every convolution, by scale index */
    float scales[CFN_FACENET_INT8_LAYERS]; /* each one's input scale; 0 until calibrated */
    unsigned char *storage;
    size_t storage_bytes, weight_bytes;
};

/* ---- Building ------------------------------------------------------------------------------ */

typedef struct qbuilder {
    cfn_weight_source source;
    unsigned char *storage; /* NULL while counting */
    size_t used;
    float *staging;         /* one layer's float weights (out × in·kh·kw) */
    int8_t *matrix;         /* the same quantised, (ky, kx, channel) order */
    size_t staging_floats, matrix_bytes;
    int layers;
    const unsigned char *float_layer;
    const cfn_qconv **conv;
} qbuilder;

static void *take(qbuilder *b, size_t bytes) {
    void *p = b->storage ? b->storage + b->used : NULL;
    b->used += (bytes + 63) & ~(size_t)63;
    return p;
}

static void qconv_init(qbuilder *b, cfn_qconv *c, int cin, int cout, int kh, int kw, int stride,
                       int ph, int pw, int zero_point) {
    c->in_channels = cin;
    c->in_stride = (cin + 3) & ~3;
    c->out_channels = cout;
    c->kernel_h = kh;
    c->kernel_w = kw;
    c->stride = stride;
    c->pad_h = ph;
    c->pad_w = pw;
    c->depth4 = kh * kw * c->in_stride;
    c->weight = take(b, cfn_q_packed_bytes(cout, c->depth4));
    c->weight_scale = take(b, sizeof(float) * cout);
    c->row_sum = take(b, sizeof(int32_t) * cout);
    c->bias = take(b, sizeof(float) * cout);
    c->scale_index = b->layers++;
    b->conv[c->scale_index] = c;
    c->zero_point = zero_point;
    c->float_weight = b->float_layer[c->scale_index]
                          ? take(b, sizeof(float) * (size_t)cout * cin * kh * kw)
                          : NULL;
    const size_t staged = (size_t)cout * cin * kh * kw, matrix = (size_t)cout * c->depth4;
    if (staged > b->staging_floats) b->staging_floats = staged;
    if (matrix > b->matrix_bytes) b->matrix_bytes = matrix;
}

static void qconv_seal(qbuilder *b, cfn_qconv *c) {
    if (!b->storage) return;
    if (c->float_weight) cfn_fconv_set_weights(c, b->staging, (float *)c->float_weight);
    cfn_qconv_set_weights(c, b->staging, b->matrix, (int8_t *)c->weight, (float *)c->weight_scale,
                          (int32_t *)c->row_sum);
}

static cfn_status load_rows(qbuilder *b, cfn_qconv *c, int row, const char *prefix, int cout) {
    if (!b->storage) return CFN_OK;
    const size_t k = (size_t)c->in_channels * c->kernel_h * c->kernel_w;
    return cfn_weight_fold_conv_bn(&b->source, prefix, c->in_channels, cout, c->kernel_h,
                                   c->kernel_w, BN_EPS, b->staging + row * k,
                                   (float *)c->bias + row);
}

#define TRY(expr)                                                                              \
    do {                                                                                       \
        cfn_status try_status_ = (expr);                                                       \
        if (try_status_ != CFN_OK) return try_status_;                                         \
    } while (0)

static cfn_status basic(qbuilder *b, cfn_qconv *c, const char *prefix, int cin, int cout, int kh,
                        int kw, int stride, int ph, int pw) {
    qconv_init(b, c, cin, cout, kh, kw, stride, ph, pw, 0);
    TRY(load_rows(b, c, 0, prefix, cout));
    qconv_seal(b, c);
    return CFN_OK;
}

static cfn_status plain_1x1(qbuilder *b, cfn_qconv *c, const char *prefix, int cin, int cout) {
    qconv_init(b, c, cin, cout, 1, 1, 1, 0, 0, 0);
    if (!b->storage) return CFN_OK;
    char name[256];
    const float *w, *bias;
    const int64_t wshape[4] = {cout, cin, 1, 1}, bshape[1] = {cout};
    snprintf(name, sizeof name, "%s.weight", prefix);
    TRY(cfn_weight_fetch(&b->source, name, 4, wshape, &w));
    snprintf(name, sizeof name, "%s.bias", prefix);
    TRY(cfn_weight_fetch(&b->source, name, 1, bshape, &bias));
    memcpy(b->staging, w, sizeof(float) * (size_t)cout * cin);
    memcpy((float *)c->bias, bias, sizeof(float) * (size_t)cout);
    qconv_seal(b, c);
    return CFN_OK;
}

static cfn_status build_block35(qbuilder *b, q_block *blk, const char *p) {
    char n[3][128];
    qconv_init(b, &blk->stem, 256, 96, 1, 1, 1, 0, 0, 0);
    snprintf(n[0], sizeof n[0], "%s.branch0", p);
    snprintf(n[1], sizeof n[1], "%s.branch1.0", p);
    snprintf(n[2], sizeof n[2], "%s.branch2.0", p);
    for (int i = 0; i < 3; ++i) TRY(load_rows(b, &blk->stem, 32 * i, n[i], 32));
    qconv_seal(b, &blk->stem);
    snprintf(n[0], sizeof n[0], "%s.branch1.1", p);
    snprintf(n[1], sizeof n[1], "%s.branch2.1", p);
    snprintf(n[2], sizeof n[2], "%s.branch2.2", p);
    for (int i = 0; i < 3; ++i) TRY(basic(b, &blk->branch[i], n[i], 32, 32, 3, 3, 1, 1, 1));
    snprintf(n[0], sizeof n[0], "%s.conv2d", p);
    TRY(plain_1x1(b, &blk->up, n[0], 96, 256));
    blk->scale = 0.17f;
    blk->relu = 1;
    return CFN_OK;
}

static cfn_status build_factorised(qbuilder *b, q_block *blk, const char *p, int width, int branch,
                                   int k, float scale, int relu) {
    char n[2][128];
    qconv_init(b, &blk->stem, width, 2 * branch, 1, 1, 1, 0, 0, 0);
    snprintf(n[0], sizeof n[0], "%s.branch0", p);
    snprintf(n[1], sizeof n[1], "%s.branch1.0", p);
    for (int i = 0; i < 2; ++i) TRY(load_rows(b, &blk->stem, branch * i, n[i], branch));
    qconv_seal(b, &blk->stem);
    snprintf(n[0], sizeof n[0], "%s.branch1.1", p);
    snprintf(n[1], sizeof n[1], "%s.branch1.2", p);
    TRY(basic(b, &blk->branch[0], n[0], branch, branch, 1, k, 1, 0, k / 2));
    TRY(basic(b, &blk->branch[1], n[1], branch, branch, k, 1, 1, k / 2, 0));
    snprintf(n[0], sizeof n[0], "%s.conv2d", p);
    TRY(plain_1x1(b, &blk->up, n[0], 2 * branch, width));
    blk->scale = scale;
    blk->relu = relu;
    return CFN_OK;
}

static cfn_status build_last(qbuilder *b, cfn_facenet_int8 *m) {
    m->last_weight = take(b, sizeof(float) * 1792 * 512);
    m->last_bias = take(b, sizeof(float) * 512);
    if (!b->storage) return CFN_OK;
    const float *w, *gamma, *beta, *mean, *var;
    const int64_t wshape[2] = {512, 1792}, vshape[1] = {512};
    TRY(cfn_weight_fetch(&b->source, "last_linear.weight", 2, wshape, &w));
    TRY(cfn_weight_fetch(&b->source, "last_bn.weight", 1, vshape, &gamma));
    TRY(cfn_weight_fetch(&b->source, "last_bn.bias", 1, vshape, &beta));
    TRY(cfn_weight_fetch(&b->source, "last_bn.running_mean", 1, vshape, &mean));
    TRY(cfn_weight_fetch(&b->source, "last_bn.running_var", 1, vshape, &var));
    for (int o = 0; o < 512; ++o) {
        if (var[o] + BN_EPS <= 0.0f)
            return cfn_message_fail(b->source.message, b->source.capacity, CFN_ERROR_NON_FINITE,
                                    "tensor 'last_bn.running_var' is negative at element %d", o);
        const double scale = (double)gamma[o] / sqrt((double)var[o] + (double)BN_EPS);
        for (int j = 0; j < 1792; ++j)
            m->last_weight[(size_t)j * 512 + o] = (float)(w[(size_t)o * 1792 + j] * scale);
        m->last_bias[o] = (float)(beta[o] - mean[o] * scale);
    }
    return CFN_OK;
}

static cfn_status build(qbuilder *b, cfn_facenet_int8 *m) {
    char p[64];
    b->layers = 0;
    qconv_init(b, &m->conv1a, 3, 32, 3, 3, 2, 0, 0, 128); /* the signed image: zero point 128 */
    TRY(load_rows(b, &m->conv1a, 0, "conv2d_1a", 32));
    qconv_seal(b, &m->conv1a);
    TRY(basic(b, &m->conv2a, "conv2d_2a", 32, 32, 3, 3, 1, 0, 0));
    TRY(basic(b, &m->conv2b, "conv2d_2b", 32, 64, 3, 3, 1, 1, 1));
    TRY(basic(b, &m->conv3b, "conv2d_3b", 64, 80, 1, 1, 1, 0, 0));
    TRY(basic(b, &m->conv4a, "conv2d_4a", 80, 192, 3, 3, 1, 0, 0));
    TRY(basic(b, &m->conv4b, "conv2d_4b", 192, 256, 3, 3, 2, 0, 0));
    for (int i = 0; i < 5; ++i) {
        snprintf(p, sizeof p, "repeat_1.%d", i);
        TRY(build_block35(b, &m->block35[i], p));
    }
    TRY(basic(b, &m->m6_b0, "mixed_6a.branch0", 256, 384, 3, 3, 2, 0, 0));
    TRY(basic(b, &m->m6_b1_1x1, "mixed_6a.branch1.0", 256, 192, 1, 1, 1, 0, 0));
    TRY(basic(b, &m->m6_b1_3x3, "mixed_6a.branch1.1", 192, 192, 3, 3, 1, 1, 1));
    TRY(basic(b, &m->m6_b1_s2, "mixed_6a.branch1.2", 192, 256, 3, 3, 2, 0, 0));
    for (int i = 0; i < 10; ++i) {
        snprintf(p, sizeof p, "repeat_2.%d", i);
        TRY(build_factorised(b, &m->block17[i], p, 896, 128, 7, 0.10f, 1));
    }
    qconv_init(b, &m->m7_stem, 896, 768, 1, 1, 1, 0, 0, 0);
    TRY(load_rows(b, &m->m7_stem, 0, "mixed_7a.branch0.0", 256));
    TRY(load_rows(b, &m->m7_stem, 256, "mixed_7a.branch1.0", 256));
    TRY(load_rows(b, &m->m7_stem, 512, "mixed_7a.branch2.0", 256));
    qconv_seal(b, &m->m7_stem);
    TRY(basic(b, &m->m7_b0_s2, "mixed_7a.branch0.1", 256, 384, 3, 3, 2, 0, 0));
    TRY(basic(b, &m->m7_b1_s2, "mixed_7a.branch1.1", 256, 256, 3, 3, 2, 0, 0));
    TRY(basic(b, &m->m7_b2_3x3, "mixed_7a.branch2.1", 256, 256, 3, 3, 1, 1, 1));
    TRY(basic(b, &m->m7_b2_s2, "mixed_7a.branch2.2", 256, 256, 3, 3, 2, 0, 0));
    for (int i = 0; i < 5; ++i) {
        snprintf(p, sizeof p, "repeat_3.%d", i);
        TRY(build_factorised(b, &m->block8[i], p, 1792, 192, 3, 0.20f, 1));
    }
    TRY(build_factorised(b, &m->block8[5], "block8", 1792, 192, 3, 1.0f, 0));
    TRY(build_last(b, m));
    return CFN_OK;
}

/*
 * The convolutions kept in float32, by scale index: conv2d_1a (0: on the image, 0.4 % of the
 * network's multiply-adds), conv2d_2a (1: 4 %) and conv2d_3b (3: the 1×1 after the stem's max
 * pool, 0.5 %). Keeping one layer group at a time in float32 (FaceRecBenchmarks
 * facenet-int8-layers) shows the stem's six convolutions carry most of the int8 error, these
 * three the most of it per multiply-add: with them in float32 the minimum cosine to float32 on
 * face_images_1000 at 240×240, calibrated on other faces, rose from 0.9926 to 0.9970, at a few
 * per cent of int8's time (docs/PERFORMANCE.md, "int8 FaceNet").
 */
static const int FLOAT32_LAYERS[] = {0, 1, 3};

/* CFACENET_INT8_FLOAT_LAYERS in the environment ("3,5-7"; a leading '!' takes the complement)
   replaces FLOAT32_LAYERS, for measuring each layer's share of the error. */
static void choose_float_layers(unsigned char *mask) {
    memset(mask, 0, CFN_FACENET_INT8_LAYERS);
    const char *v = getenv("CFACENET_INT8_FLOAT_LAYERS");
    if (!v) {
        for (size_t i = 0; i < sizeof FLOAT32_LAYERS / sizeof FLOAT32_LAYERS[0]; ++i)
            mask[FLOAT32_LAYERS[i]] = 1;
        return;
    }
    int invert = 0;
    if (*v == '!') {
        invert = 1;
        ++v;
    }
    while (*v) {
        char *end;
        long a = strtol(v, &end, 10), z = a;
        if (end == v) break;
        v = end;
        if (*v == '-') {
            z = strtol(v + 1, &end, 10);
            v = end;
        }
        for (long i = a; i <= z; ++i)
            if (i >= 0 && i < CFN_FACENET_INT8_LAYERS) mask[i] = 1;
        if (*v == ',') ++v;
    }
    if (invert)
        for (int i = 0; i < CFN_FACENET_INT8_LAYERS; ++i) mask[i] = !mask[i];
}

cfn_status cfn_facenet_int8_create(cfn_tensor_lookup_fn lookup, void *user,
                                   cfn_facenet_int8 **out, char *message, size_t capacity) {
    if (message && capacity) message[0] = '\0';
    if (!out)
        return cfn_message_fail(message, capacity, CFN_ERROR_INVALID_ARGUMENT, "out is NULL");
    *out = NULL;
    if (!lookup)
        return cfn_message_fail(message, capacity, CFN_ERROR_INVALID_ARGUMENT, "lookup is NULL");
    cfn_facenet_int8 *model = calloc(1, sizeof *model);
    if (!model)
        return cfn_message_fail(message, capacity, CFN_ERROR_OUT_OF_MEMORY, "cannot allocate model");
    choose_float_layers(model->float_layer);
    qbuilder b;
    memset(&b, 0, sizeof b);
    b.float_layer = model->float_layer;
    b.conv = model->conv;
    b.source = (cfn_weight_source){lookup, user, message, capacity};
    cfn_status status = build(&b, model); /* pass 1 counts */
    if (status == CFN_OK) {
        model->storage_bytes = b.used;
        model->storage = aligned_alloc(64, b.used);
        b.staging = malloc(b.staging_floats * sizeof(float));
        b.matrix = malloc(b.matrix_bytes);
        if (!model->storage || !b.staging || !b.matrix)
            status = cfn_message_fail(message, capacity, CFN_ERROR_OUT_OF_MEMORY,
                                      "cannot allocate %zu bytes of weights", b.used);
    }
    if (status == CFN_OK) {
        b.storage = model->storage;
        b.used = 0;
        status = build(&b, model);
    }
    free(b.staging);
    free(b.matrix);
    if (status != CFN_OK) {
        cfn_facenet_int8_destroy(model);
        return status;
    }
    model->layers = b.layers;
    *out = model;
    return CFN_OK;
}

void cfn_facenet_int8_destroy(cfn_facenet_int8 *model) {
    if (!model) return;
    free(model->storage);
    free(model);
}

size_t cfn_facenet_int8_weight_bytes(const cfn_facenet_int8 *model) {
    return model ? model->storage_bytes : 0;
}

int cfn_facenet_int8_scale_count(const cfn_facenet_int8 *model) { return model ? model->layers : 0; }

cfn_status cfn_facenet_int8_get_scales(const cfn_facenet_int8 *model, float *scales, int count) {
    if (!model || !scales || count != model->layers) return CFN_ERROR_INVALID_ARGUMENT;
    memcpy(scales, model->scales, sizeof(float) * (size_t)count);
    return CFN_OK;
}

cfn_status cfn_facenet_int8_set_scales(cfn_facenet_int8 *model, const float *scales, int count) {
    if (!model || !scales || count != model->layers) return CFN_ERROR_INVALID_ARGUMENT;
    for (int i = 0; i < count; ++i)
        if (!(scales[i] > 0.0f) || !isfinite(scales[i])) return CFN_ERROR_INVALID_ARGUMENT;
    memcpy(model->scales, scales, sizeof(float) * (size_t)count);
    return CFN_OK;
}

/* ---- Forward ------------------------------------------------------------------------------- */

typedef struct dims {
    int h1, w1, h2, w2, h3, w3, h4, w4, h5, w5, h6, w6, h7, w7;
} dims;

static dims dims_for(int h, int w) {
    dims d;
    d.h1 = cfn_qconv_out(h, 3, 2, 0);    d.w1 = cfn_qconv_out(w, 3, 2, 0);
    d.h2 = cfn_qconv_out(d.h1, 3, 1, 0); d.w2 = cfn_qconv_out(d.w1, 3, 1, 0);
    d.h3 = cfn_qconv_out(d.h2, 3, 2, 0); d.w3 = cfn_qconv_out(d.w2, 3, 2, 0);
    d.h4 = cfn_qconv_out(d.h3, 3, 1, 0); d.w4 = cfn_qconv_out(d.w3, 3, 1, 0);
    d.h5 = cfn_qconv_out(d.h4, 3, 2, 0); d.w5 = cfn_qconv_out(d.w4, 3, 2, 0);
    d.h6 = cfn_qconv_out(d.h5, 3, 2, 0); d.w6 = cfn_qconv_out(d.w5, 3, 2, 0);
    d.h7 = cfn_qconv_out(d.h6, 3, 2, 0); d.w7 = cfn_qconv_out(d.w6, 3, 2, 0);
    return d;
}

static size_t max2(size_t a, size_t b) { return a > b ? a : b; }

typedef struct pass {
    float *scales;      /* read, or written layer by layer when calibrating */
    int calibrating;
    uint8_t *xq;        /* the quantised input of the layer running */
    uint8_t *scratch;
    size_t scratch_stride;
    cfn_pool *pool;
    cfn_q_kernels kernels;
    cfn_loop_build build; /* of the float32 layers, the quantiser and the epilogue */
} pass;

/* CFN_Q_CALIBRATE_MSE; CFACENET_INT8_CALIBRATION=max in the environment picks the largest value
   instead (for comparing the two). */
static int calibration_method(void) {
    const char *v = getenv("CFACENET_INT8_CALIBRATION");
    return v && strcmp(v, "max") == 0 ? CFN_Q_CALIBRATE_MAX : CFN_Q_CALIBRATE_MSE;
}

/* out (row stride ldo) ← conv(x: n × h × w pixels of conv->in_channels, row stride ldx). */
static void run(const pass *s, const cfn_qconv *c, const float *x, int ldx, int n, int h, int w,
                float *out, int ldo, cfn_qconv_epilogue e) {
    const int pixels = n * h * w;
    if (c->float_weight) {
        const float *end = x + (size_t)(pixels - 1) * ldx + c->in_channels;
        if (out < end && x < out + (size_t)pixels * ldo) {
            /* An Inception branch's convolution in place (never one of FLOAT32_LAYERS; only
               CFACENET_INT8_FLOAT_LAYERS picks one): its input, copied contiguous into the
               u8 buffer, which holds at least 4 · in_channels bytes a pixel for every such
               branch (forward's sizes). */
            float *copy = (float *)s->xq;
            for (int p = 0; p < pixels; ++p)
                memcpy(copy + (size_t)p * c->in_channels, x + (size_t)p * ldx,
                       sizeof(float) * (size_t)c->in_channels);
            x = copy;
            ldx = c->in_channels;
        }
        cfn_fconv_forward(c, x, ldx, n, h, w, out, ldo, e, s->pool, s->scratch, s->scratch_stride,
                          s->build);
        return;
    }
    if (s->calibrating) {
        const float most = cfn_q_calibrate_clip(x, pixels, c->in_channels, ldx, calibration_method()) / 255.0f;
        if (most > s->scales[c->scale_index]) s->scales[c->scale_index] = most;
    }
    const float scale = s->scales[c->scale_index] > 0.0f ? s->scales[c->scale_index] : 1.0f;
    cfn_q_quantize(x, pixels, c->in_channels, ldx, scale, 0, c->in_stride, s->xq, s->pool, s->build);
    cfn_qconv_forward(c, s->xq, n, h, w, scale, out, ldo, e, s->pool, s->scratch,
                      s->scratch_stride, s->kernels, s->build);
}

static const cfn_qconv_epilogue RELU = {0, 1.0f, 1};

static void residual(const pass *s, const q_block *blk, const float *cat, float *x, int n, int h,
                     int w) {
    const cfn_qconv_epilogue e = {1, blk->scale, blk->relu};
    run(s, &blk->up, cat, blk->up.in_channels, n, h, w, x, blk->up.out_channels, e);
}

static void block35(const pass *s, const q_block *blk, float *x, float *cat, float *t, int n,
                    int h, int w) {
    run(s, &blk->stem, x, 256, n, h, w, cat, 96, RELU);
    run(s, &blk->branch[0], cat + 32, 96, n, h, w, cat + 32, 96, RELU);
    run(s, &blk->branch[1], cat + 64, 96, n, h, w, t, 32, RELU);
    run(s, &blk->branch[2], t, 32, n, h, w, cat + 64, 96, RELU);
    residual(s, blk, cat, x, n, h, w);
}

static void factorised(const pass *s, const q_block *blk, float *x, float *cat, int n, int h,
                       int w) {
    const int width = blk->stem.in_channels, branch = blk->branch[0].in_channels;
    run(s, &blk->stem, x, width, n, h, w, cat, 2 * branch, RELU);
    run(s, &blk->branch[0], cat + branch, 2 * branch, n, h, w, cat + branch, 2 * branch, RELU);
    run(s, &blk->branch[1], cat + branch, 2 * branch, n, h, w, cat + branch, 2 * branch, RELU);
    residual(s, blk, cat, x, n, h, w);
}

static size_t scratch_need(const cfn_qconv *c, size_t most) {
    return max2(most, cfn_qconv_scratch_bytes(c));
}

static cfn_status forward(const cfn_facenet_int8 *m, float *scales, int calibrating,
                          cfn_context *ctx, const float *images, int n, int height, int width,
                          float *embeddings) {
    if (!ctx) return CFN_ERROR_INVALID_ARGUMENT;
    if (!m || !images || !embeddings)
        return cfn_context_fail(ctx, CFN_ERROR_INVALID_ARGUMENT,
                                "model, images and embeddings must not be NULL");
    if (n < 1)
        return cfn_context_fail(ctx, CFN_ERROR_INVALID_ARGUMENT, "batch size %d is not positive", n);
    if (height < CFN_FACENET_MIN_INPUT || width < CFN_FACENET_MIN_INPUT)
        return cfn_context_fail(ctx, CFN_ERROR_INVALID_ARGUMENT,
                                "input %d×%d is smaller than the minimum %d×%d", width, height,
                                CFN_FACENET_MIN_INPUT, CFN_FACENET_MIN_INPUT);
    const dims d = dims_for(height, width);
    if ((size_t)n * d.h2 * d.w2 > (size_t)INT_MAX / 64 || (size_t)n * height * width > (size_t)INT_MAX / 4)
        return cfn_context_fail(ctx, CFN_ERROR_INVALID_ARGUMENT,
                                "batch of %d images of %d×%d is too large for one pass; split it", n,
                                width, height);
    if (!calibrating)
        for (int i = 0; i < m->layers; ++i)
            if (!(scales[i] > 0.0f))
                return cfn_context_fail(ctx, CFN_ERROR_INVALID_ARGUMENT,
                                        "the int8 network is not calibrated (layer %d has no activation scale)", i);

    const size_t s1 = (size_t)d.h1 * d.w1, s2 = (size_t)d.h2 * d.w2, s3 = (size_t)d.h3 * d.w3;
    const size_t s4 = (size_t)d.h4 * d.w4, s5 = (size_t)d.h5 * d.w5, s6 = (size_t)d.h6 * d.w6;
    const size_t s7 = (size_t)d.h7 * d.w7;
    const size_t big = n * max2(max2(32 * s1, 64 * s2), max2(max2(80 * s3, 192 * s4),
                                                           max2(256 * s5, max2(896 * s6, 1792 * s7))));
    const size_t tmp = n * max2(192 * s5, max2(768 * s6, 384 * s7));
    const size_t xq_floats = (max2(big, 4 * (size_t)n * height * width) + 3) / 4;
    const cfn_qconv *widest[] = {&m->conv4b, &m->m6_b0, &m->m6_b1_s2, &m->m7_b0_s2,
                                 &m->m7_b2_3x3, &m->block17[0].branch[0], &m->block8[0].stem};
    size_t scratch_stride = 0;
    for (size_t i = 0; i < sizeof widest / sizeof widest[0]; ++i)
        scratch_stride = scratch_need(widest[i], scratch_stride);
    for (int i = 0; i < m->layers; ++i)
        if (m->conv[i]->float_weight) scratch_stride = max2(scratch_stride, cfn_fconv_scratch_bytes(m->conv[i]));
    scratch_stride = (scratch_stride + 63) & ~(size_t)63;

    const int threads = ctx->threads > 0 ? ctx->threads : cfn_gemm_threads();
    cfn_pool *pool = cfn_context_pool(ctx, threads);
    const int workers = cfn_pool_workers(pool);
    const size_t scratch_floats = (workers * scratch_stride + 3) / 4;
    const size_t total = 2 * cfn_aligned_floats(big) + 2 * cfn_aligned_floats(tmp) +
                         cfn_aligned_floats(xq_floats) + cfn_aligned_floats(scratch_floats) +
                         cfn_aligned_floats(1792 * (size_t)n) + cfn_aligned_floats(512 * (size_t)n);
    cfn_status status = cfn_context_begin(ctx, total);
    if (status != CFN_OK) {
        cfn_pool_park(pool);
        return status;
    }
    float *a = cfn_context_take(ctx, big), *b = cfn_context_take(ctx, big);
    float *cat = cfn_context_take(ctx, tmp), *t = cfn_context_take(ctx, tmp);
    pass s;
    s.scales = scales;
    s.calibrating = calibrating;
    s.xq = (uint8_t *)cfn_context_take(ctx, xq_floats);
    s.scratch = (uint8_t *)cfn_context_take(ctx, scratch_floats);
    s.scratch_stride = scratch_stride;
    s.pool = pool;
    const cfn_kernel_set set = ctx->portable_kernels ? CFN_KERNELS_PORTABLE : ctx->kernels;
    s.kernels = set == CFN_KERNELS_PORTABLE ? CFN_Q_KERNELS_REFERENCE
                : set == CFN_KERNELS_AVX2   ? cfn_q_kernels_best(CFN_Q_KERNELS_AVX2)
                                            : cfn_q_kernels_best(CFN_Q_KERNELS_VNNI);
    s.build = cfn_loop_build_for(set);
    float *pooled = cfn_context_take(ctx, 1792 * (size_t)n);
    float *projected = cfn_context_take(ctx, 512 * (size_t)n);

    /* The image: signed, zero point 128, scale from its largest magnitude. */
    const cfn_qconv *c1 = &m->conv1a;
    if (c1->float_weight) {
        /* The image to NHWC in b (free until conv2a; it holds 32 · h1 · w1 ≥ 3 · h · w floats
           an image). */
        const size_t plane = (size_t)height * width;
        for (int i = 0; i < n; ++i)
            for (size_t p = 0; p < plane; ++p)
                for (int ch = 0; ch < 3; ++ch)
                    b[((size_t)i * plane + p) * 3 + ch] = images[((size_t)i * 3 + ch) * plane + p];
        run(&s, c1, b, 3, n, height, width, a, 32, RELU);
    } else {
    if (calibrating) {
        float most = 0.0f;
        const size_t count = (size_t)n * 3 * height * width;
        for (size_t i = 0; i < count; ++i) most = fmaxf(most, fabsf(images[i]));
        if (most / 127.0f > scales[c1->scale_index]) scales[c1->scale_index] = most / 127.0f;
    }
    const float image_scale = scales[c1->scale_index] > 0.0f ? scales[c1->scale_index] : 1.0f;
    cfn_q_quantize_image(images, n, height, width, image_scale, 128, s.xq);
    cfn_qconv_forward(c1, s.xq, n, height, width, image_scale, a, 32, RELU, pool,
                      s.scratch, s.scratch_stride, s.kernels, s.build);
    }
    run(&s, &m->conv2a, a, 32, n, d.h1, d.w1, b, 32, RELU);
    run(&s, &m->conv2b, b, 32, n, d.h2, d.w2, a, 64, RELU);
    cfn_nhwc_maxpool3x3_s2(a, n, d.h2, d.w2, 64, 64, b, 64);
    run(&s, &m->conv3b, b, 64, n, d.h3, d.w3, a, 80, RELU);
    run(&s, &m->conv4a, a, 80, n, d.h3, d.w3, b, 192, RELU);
    run(&s, &m->conv4b, b, 192, n, d.h4, d.w4, a, 256, RELU);

    for (int i = 0; i < 5; ++i) block35(&s, &m->block35[i], a, cat, t, n, d.h5, d.w5);
    /* Mixed_6a: a (256 wide) → b (896 wide). */
    run(&s, &m->m6_b0, a, 256, n, d.h5, d.w5, b, 896, RELU);
    run(&s, &m->m6_b1_1x1, a, 256, n, d.h5, d.w5, cat, 192, RELU);
    run(&s, &m->m6_b1_3x3, cat, 192, n, d.h5, d.w5, t, 192, RELU);
    run(&s, &m->m6_b1_s2, t, 192, n, d.h5, d.w5, b + 384, 896, RELU);
    cfn_nhwc_maxpool3x3_s2(a, n, d.h5, d.w5, 256, 256, b + 640, 896);

    for (int i = 0; i < 10; ++i) factorised(&s, &m->block17[i], b, cat, n, d.h6, d.w6);
    /* Mixed_7a: b (896 wide) → a (1792 wide). */
    run(&s, &m->m7_stem, b, 896, n, d.h6, d.w6, cat, 768, RELU);
    run(&s, &m->m7_b0_s2, cat, 768, n, d.h6, d.w6, a, 1792, RELU);
    run(&s, &m->m7_b1_s2, cat + 256, 768, n, d.h6, d.w6, a + 384, 1792, RELU);
    run(&s, &m->m7_b2_3x3, cat + 512, 768, n, d.h6, d.w6, t, 256, RELU);
    run(&s, &m->m7_b2_s2, t, 256, n, d.h6, d.w6, a + 640, 1792, RELU);
    cfn_nhwc_maxpool3x3_s2(b, n, d.h6, d.w6, 896, 896, a + 896, 1792);

    for (int i = 0; i < 6; ++i) factorised(&s, &m->block8[i], a, cat, n, d.h7, d.w7);

    cfn_nhwc_global_avgpool(a, n, (int)s7, 1792, pooled);
    cfn_gemm(n, 512, 1792, 1.0f, pooled, m->last_weight, 512, 0.0f, projected, 512);
    for (int i = 0; i < n; ++i)
        for (int o = 0; o < 512; ++o)
            embeddings[(size_t)i * 512 + o] = projected[(size_t)i * 512 + o] + m->last_bias[o];
    cfn_l2_normalize_rows(embeddings, n, CFN_FACENET_EMBEDDING_SIZE);
    cfn_pool_park(pool);
    return CFN_OK;
}

cfn_status cfn_facenet_int8_calibrate(cfn_facenet_int8 *model, cfn_context *ctx,
                                      const float *images, int n, int height, int width) {
    if (!ctx) return CFN_ERROR_INVALID_ARGUMENT;
    if (!model) return cfn_context_fail(ctx, CFN_ERROR_INVALID_ARGUMENT, "model is NULL");
    if (!images) return cfn_context_fail(ctx, CFN_ERROR_INVALID_ARGUMENT, "images is NULL");
    if (n < 1)
        return cfn_context_fail(ctx, CFN_ERROR_INVALID_ARGUMENT, "batch size %d is not positive", n);
    /* Chunks of CALIBRATION_CHUNK crops keep the workspace of a normal batch; each layer's scale
       is the largest over every chunk so far (zero: none yet), and the next chunk is quantised
       with the scales grown so far. A layer that only ever sees zeros gets scale 1. */
    float scales[CFN_FACENET_INT8_LAYERS] = {0};
    float embeddings[CALIBRATION_CHUNK * CFN_FACENET_EMBEDDING_SIZE];
    const size_t image_floats = (size_t)3 * height * width;
    for (int first = 0; first < n; first += CALIBRATION_CHUNK) {
        const int count = n - first < CALIBRATION_CHUNK ? n - first : CALIBRATION_CHUNK;
        const cfn_status status = forward(model, scales, 1, ctx, images + first * image_floats, count,
                                          height, width, embeddings);
        if (status != CFN_OK) return status;
    }
    for (int i = 0; i < model->layers; ++i) model->scales[i] = scales[i] > 0.0f ? scales[i] : 1.0f;
    return CFN_OK;
}

cfn_status cfn_facenet_int8_embed(const cfn_facenet_int8 *model, cfn_context *ctx,
                                  const float *images, int n, int height, int width,
                                  float *embeddings) {
    return forward(model, model ? (float *)model->scales : NULL, 0, ctx, images, n, height, width,
                   embeddings);
}
