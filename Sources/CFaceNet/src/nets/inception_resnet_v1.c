/*
 * Inception-ResNet-v1 exactly as facenet-pytorch's InceptionResnetV1 (classify=False).
 *
 * Built once: every BasicConv2d has its BatchNorm (eps 0.001) folded into weight and bias, and
 * the 1×1 convolutions that open the branches of a block (which all read the block input) are
 * stacked into one weight matrix, so each block starts with a single GEMM. last_bn is folded into
 * last_linear the same way. Every weight matrix is then packed for cfn_gemm_run (gemm_packed.h),
 * and the 3×3 stride-1 filters are also kept in Winograd form.
 *
 * Without AVX2 + FMA (arm64, older x86-64, or FACEREC_DISABLE_AVX2 set) the weights stay
 * row-major instead and every layer is one SGEMM over the whole batch (conv_blas.c).
 *
 * Forward, in the CNHW layout of ops.h, on the context's worker threads: branches write
 * straight into their channel slice of the concatenation, and each residual block's 1×1
 * up-projection adds its scaled output to the block input in place, in the product's epilogue.
 */
#include "cfacenet.h"

#include "../core/context.h"
#include "../core/weights.h"
#include "../ops/ops.h"
#include "../testing.h"

#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BN_EPS 0.001f
#define BLOCK35_COUNT 5
#define BLOCK17_COUNT 10
#define BLOCK8_COUNT 5
/* Upper bound on Winograd's scratch: larger inputs are transformed in chunks of tile rows. */
#define WINOGRAD_CHUNK_FLOATS ((size_t)1 << 21)

typedef struct residual_block {
    cfn_conv2d stem;       /* the branches' opening 1×1 convs, stacked (ReLU) */
    cfn_conv2d branch[3];  /* the rest of the branches (Block35: b1, b2a, b2b; others: two) */
    cfn_conv2d up;         /* 1×1 back to the input width, with bias, scaled */
    float scale;
    int relu;
} residual_block;

typedef struct mixed_6a {
    cfn_conv2d b0;                   /* 256→384, 3×3 s2 */
    cfn_conv2d b1_1x1, b1_3x3, b1_s2; /* 256→192→192→256 */
} mixed_6a;

typedef struct mixed_7a {
    cfn_conv2d stem;                 /* 896→3×256 stacked 1×1 */
    cfn_conv2d b0_s2, b1_s2;         /* 256→384, 256→256, 3×3 s2 */
    cfn_conv2d b2_3x3, b2_s2;        /* 256→256 p1, 256→256 s2 */
} mixed_7a;

struct cfn_facenet {
    cfn_conv2d conv1a, conv2a, conv2b, conv3b, conv4a, conv4b;
    residual_block block35[BLOCK35_COUNT];
    mixed_6a mixed6a;
    residual_block block17[BLOCK17_COUNT];
    mixed_7a mixed7a;
    residual_block block8[BLOCK8_COUNT + 1]; /* the last one is `block8` (no ReLU, scale 1) */
    cfn_conv2d last;                          /* last_linear with last_bn folded, 1792→512 */

    float *storage; /* every weight and bias, one allocation */
    size_t storage_floats;
    int blas;       /* weights row-major for the portable path's SGEMMs (conv_blas.c) */
};

/* ---- Building ------------------------------------------------------------------------------ */

typedef struct builder {
    cfn_weight_source source;
    float *storage;  /* NULL while counting */
    size_t used;     /* floats handed out (or counted) */
    float *staging;  /* one layer's unpacked weights while it is folded (NULL while counting) */
    size_t staging_floats; /* the largest layer's (counted in the first pass) */
    int weight_rows;       /* panel rows of the layers being built (0: CFN_GEMM_MR) */
    int blas;              /* keep weights row-major, no Winograd filters (conv_blas.c) */
} builder;

static float *builder_take(builder *b, size_t count) {
    float *p = b->storage ? b->storage + b->used : NULL;
    b->used += cfn_aligned_floats(count);
    return p;
}

/* Reserves a layer's packed weights, bias and (3×3 stride 1) Winograd filters; its unpacked
   weights are then loaded into the staging buffer and packed by conv_seal. */
static void conv_init(builder *b, cfn_conv2d *conv, int cin, int cout, int kh, int kw, int stride,
                      int ph, int pw) {
    conv->in_channels = cin;
    conv->out_channels = cout;
    conv->kernel_h = kh;
    conv->kernel_w = kw;
    conv->stride_h = conv->stride_w = stride;
    conv->pad_h = ph;
    conv->pad_w = pw;
    const int depth = cfn_conv2d_depth(conv);
    const size_t staged = (size_t)cout * depth;
    if (staged > b->staging_floats) b->staging_floats = staged;
    conv->blas = b->blas;
    if (b->blas) {
        conv->weight_rows = 0;
        conv->weight = builder_take(b, staged);
        conv->bias = builder_take(b, (size_t)cout);
        conv->winograd = NULL;
        return;
    }
    conv->weight_rows = b->weight_rows;
    conv->weight =
        builder_take(b, cfn_gemm_packed_floats_rows(cout, depth, cfn_conv2d_panel_rows(conv)));
    conv->bias = builder_take(b, (size_t)cout);
    /* The 3×3 stride-1 layers also keep their filters in Winograd form (16/9 of their weights,
       ~9 MB in all); the packed ones stay for portable contexts. */
    const size_t transformed = cfn_conv2d_winograd_weight_floats(conv);
    conv->winograd = transformed > 0 ? builder_take(b, transformed) : NULL;
}

/* Packs the staged weights (and their Winograd transform) into the layer's storage. */
static void conv_seal(builder *b, cfn_conv2d *conv) {
    if (!b->storage) return;
    const int depth = cfn_conv2d_depth(conv);
    if (conv->blas) {
        memcpy((float *)conv->weight, b->staging, sizeof(float) * (size_t)conv->out_channels * depth);
        return;
    }
    cfn_gemm_pack_a_rows(b->staging, conv->out_channels, depth, depth, cfn_conv2d_panel_rows(conv),
                         (float *)conv->weight);
    if (conv->winograd) cfn_conv2d_winograd_pack(conv, b->staging, (float *)conv->winograd);
}

/* Folds BasicConv2d `prefix` into rows [row, row + cout) of the staged weights (rows of a
   stacked 1×1) and of `conv`'s bias. */
static cfn_status load_basic_rows(builder *b, cfn_conv2d *conv, int row, const char *prefix,
                                  int cout) {
    if (!b->storage) return CFN_OK;
    const size_t k = (size_t)cfn_conv2d_depth(conv);
    return cfn_weight_fold_conv_bn(&b->source, prefix, conv->in_channels, cout, conv->kernel_h,
                                   conv->kernel_w, BN_EPS, b->staging + row * k,
                                   (float *)conv->bias + row);
}

static cfn_status basic(builder *b, cfn_conv2d *conv, const char *prefix, int cin, int cout,
                        int kh, int kw, int stride, int ph, int pw) {
    conv_init(b, conv, cin, cout, kh, kw, stride, ph, pw);
    const cfn_status status = load_basic_rows(b, conv, 0, prefix, cout);
    if (status == CFN_OK) conv_seal(b, conv);
    return status;
}

/* A plain nn.Conv2d 1×1 with bias ("<prefix>.weight", "<prefix>.bias"). */
static cfn_status plain_1x1(builder *b, cfn_conv2d *conv, const char *prefix, int cin, int cout) {
    conv_init(b, conv, cin, cout, 1, 1, 1, 0, 0);
    if (!b->storage) return CFN_OK;
    char name[256];
    const float *w, *bias;
    const int64_t wshape[4] = {cout, cin, 1, 1}, bshape[1] = {cout};
    cfn_status status;
    snprintf(name, sizeof name, "%s.weight", prefix);
    if ((status = cfn_weight_fetch(&b->source, name, 4, wshape, &w)) != CFN_OK) return status;
    snprintf(name, sizeof name, "%s.bias", prefix);
    if ((status = cfn_weight_fetch(&b->source, name, 1, bshape, &bias)) != CFN_OK) return status;
    memcpy(b->staging, w, sizeof(float) * (size_t)cout * cin);
    memcpy((float *)conv->bias, bias, sizeof(float) * (size_t)cout);
    conv_seal(b, conv);
    return CFN_OK;
}

#define TRY(expr)                                                                              \
    do {                                                                                       \
        cfn_status try_status_ = (expr);                                                       \
        if (try_status_ != CFN_OK) return try_status_;                                         \
    } while (0)

static cfn_status build_block35(builder *b, residual_block *blk, const char *p) {
    char n[3][128];
    conv_init(b, &blk->stem, 256, 96, 1, 1, 1, 0, 0);
    snprintf(n[0], sizeof n[0], "%s.branch0", p);
    snprintf(n[1], sizeof n[1], "%s.branch1.0", p);
    snprintf(n[2], sizeof n[2], "%s.branch2.0", p);
    for (int i = 0; i < 3; ++i) TRY(load_basic_rows(b, &blk->stem, 32 * i, n[i], 32));
    conv_seal(b, &blk->stem);
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

/* Block17 (width 896, branch 128, 1×7 then 7×1) and Block8 (1792, 192, 1×3 then 3×1). */
static cfn_status build_factorised(builder *b, residual_block *blk, const char *p, int width,
                                   int branch, int k, float scale, int relu) {
    char n[2][128];
    conv_init(b, &blk->stem, width, 2 * branch, 1, 1, 1, 0, 0);
    snprintf(n[0], sizeof n[0], "%s.branch0", p);
    snprintf(n[1], sizeof n[1], "%s.branch1.0", p);
    for (int i = 0; i < 2; ++i) TRY(load_basic_rows(b, &blk->stem, branch * i, n[i], branch));
    conv_seal(b, &blk->stem);
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

static cfn_status build_last(builder *b, cfn_conv2d *last) {
    conv_init(b, last, 1792, 512, 1, 1, 1, 0, 0);
    if (!b->storage) return CFN_OK;
    const float *w, *gamma, *beta, *mean, *var;
    const int64_t wshape[2] = {512, 1792}, vshape[1] = {512};
    TRY(cfn_weight_fetch(&b->source, "last_linear.weight", 2, wshape, &w));
    TRY(cfn_weight_fetch(&b->source, "last_bn.weight", 1, vshape, &gamma));
    TRY(cfn_weight_fetch(&b->source, "last_bn.bias", 1, vshape, &beta));
    TRY(cfn_weight_fetch(&b->source, "last_bn.running_mean", 1, vshape, &mean));
    TRY(cfn_weight_fetch(&b->source, "last_bn.running_var", 1, vshape, &var));
    float *weight = b->staging, *bias = (float *)last->bias;
    for (int o = 0; o < 512; ++o) {
        if (var[o] + BN_EPS <= 0.0f)
            return cfn_message_fail(b->source.message, b->source.capacity, CFN_ERROR_NON_FINITE,
                                    "tensor 'last_bn.running_var' is negative at element %d", o);
        const double scale = (double)gamma[o] / sqrt((double)var[o] + (double)BN_EPS);
        for (int j = 0; j < 1792; ++j) weight[(size_t)o * 1792 + j] = (float)(w[(size_t)o * 1792 + j] * scale);
        bias[o] = (float)(beta[o] - mean[o] * scale);
    }
    conv_seal(b, last);
    return CFN_OK;
}

static cfn_status build(builder *b, cfn_facenet *m) {
    char p[64];
    b->weight_rows = 0;
    TRY(basic(b, &m->conv1a, "conv2d_1a", 3, 32, 3, 3, 2, 0, 0));
    TRY(basic(b, &m->conv2a, "conv2d_2a", 32, 32, 3, 3, 1, 0, 0));
    TRY(basic(b, &m->conv2b, "conv2d_2b", 32, 64, 3, 3, 1, 1, 1));
    TRY(basic(b, &m->conv3b, "conv2d_3b", 64, 80, 1, 1, 1, 0, 0));
    TRY(basic(b, &m->conv4a, "conv2d_4a", 80, 192, 3, 3, 1, 0, 0));
    TRY(basic(b, &m->conv4b, "conv2d_4b", 192, 256, 3, 3, 2, 0, 0));
    for (int i = 0; i < BLOCK35_COUNT; ++i) {
        snprintf(p, sizeof p, "repeat_1.%d", i);
        TRY(build_block35(b, &m->block35[i], p));
    }
    mixed_6a *m6 = &m->mixed6a;
    TRY(basic(b, &m6->b0, "mixed_6a.branch0", 256, 384, 3, 3, 2, 0, 0));
    TRY(basic(b, &m6->b1_1x1, "mixed_6a.branch1.0", 256, 192, 1, 1, 1, 0, 0));
    TRY(basic(b, &m6->b1_3x3, "mixed_6a.branch1.1", 192, 192, 3, 3, 1, 1, 1));
    TRY(basic(b, &m6->b1_s2, "mixed_6a.branch1.2", 192, 256, 3, 3, 2, 0, 0));
    /* From repeat_2 on, on CPUs with AVX-512, 16-row weight panels (gemm_packed.h): 8 × 32
       tiles for repeat_2's 64 columns at batch 1 (against 6 × 32 on 6-row panels, paired passes
       0.98–1.00 at batch 1, 0.98 at batch 8), and after Mixed_7a's stem, where batch 1 at
       160×160 multiplies the weights by at most 16 columns (9, 16 Winograd tiles, 1 for the last
       layer), kernels that put the rows in the vector lanes. The AVX2 kernel takes a 16-row
       panel as 6 + 6 + 4 rows, its last tile a third idle, and its broadcasts then stride 64
       bytes per depth step instead of 24: on a Zen 3 these layers' products ran at 0.85–0.90 of
       their rate on 6-row panels, so AVX2-only CPUs keep 6 rows throughout. */
    b->weight_rows = cfn_cpu_has_avx512f() ? CFN_GEMM_MR_WIDE : 0;
    for (int i = 0; i < BLOCK17_COUNT; ++i) {
        snprintf(p, sizeof p, "repeat_2.%d", i);
        TRY(build_factorised(b, &m->block17[i], p, 896, 128, 7, 0.10f, 1));
    }
    mixed_7a *m7 = &m->mixed7a;
    conv_init(b, &m7->stem, 896, 768, 1, 1, 1, 0, 0);
    TRY(load_basic_rows(b, &m7->stem, 0, "mixed_7a.branch0.0", 256));
    TRY(load_basic_rows(b, &m7->stem, 256, "mixed_7a.branch1.0", 256));
    TRY(load_basic_rows(b, &m7->stem, 512, "mixed_7a.branch2.0", 256));
    conv_seal(b, &m7->stem);
    TRY(basic(b, &m7->b0_s2, "mixed_7a.branch0.1", 256, 384, 3, 3, 2, 0, 0));
    TRY(basic(b, &m7->b1_s2, "mixed_7a.branch1.1", 256, 256, 3, 3, 2, 0, 0));
    TRY(basic(b, &m7->b2_3x3, "mixed_7a.branch2.1", 256, 256, 3, 3, 1, 1, 1));
    TRY(basic(b, &m7->b2_s2, "mixed_7a.branch2.2", 256, 256, 3, 3, 2, 0, 0));
    for (int i = 0; i < BLOCK8_COUNT; ++i) {
        snprintf(p, sizeof p, "repeat_3.%d", i);
        TRY(build_factorised(b, &m->block8[i], p, 1792, 192, 3, 0.20f, 1));
    }
    TRY(build_factorised(b, &m->block8[BLOCK8_COUNT], "block8", 1792, 192, 3, 1.0f, 0));
    TRY(build_last(b, &m->last));
    return CFN_OK;
}

/* `blas`: weights row-major for the portable path, else packed for the SIMD kernels. */
static cfn_status create(cfn_tensor_lookup_fn lookup, void *user, cfn_facenet **out,
                         char *message, size_t capacity, int blas) {
    if (message && capacity) message[0] = '\0';
    if (!out)
        return cfn_message_fail(message, capacity, CFN_ERROR_INVALID_ARGUMENT, "out is NULL");
    *out = NULL;
    if (!lookup)
        return cfn_message_fail(message, capacity, CFN_ERROR_INVALID_ARGUMENT, "lookup is NULL");

    cfn_facenet *model = calloc(1, sizeof *model);
    if (!model)
        return cfn_message_fail(message, capacity, CFN_ERROR_OUT_OF_MEMORY, "cannot allocate model");

    /* Pass 1 counts the floats every layer needs; pass 2 fills one allocation. */
    builder b = {{lookup, user, message, capacity}, NULL, 0, NULL, 0, 0, blas};
    model->blas = blas;
    cfn_status status = build(&b, model);
    if (status == CFN_OK) {
        model->storage_floats = b.used;
        model->storage = aligned_alloc(CFN_ALIGNMENT, b.used * sizeof(float));
        b.staging = malloc(b.staging_floats * sizeof(float));
        if (!model->storage || !b.staging)
            status = cfn_message_fail(message, capacity, CFN_ERROR_OUT_OF_MEMORY,
                                      "cannot allocate %zu bytes of weights",
                                      (b.used + b.staging_floats) * sizeof(float));
    }
    if (status == CFN_OK) {
        b.storage = model->storage;
        b.used = 0;
        status = build(&b, model);
    }
    free(b.staging);
    if (status != CFN_OK) {
        cfn_facenet_destroy(model);
        return status;
    }
    *out = model;
    return CFN_OK;
}

cfn_status cfn_facenet_create(cfn_tensor_lookup_fn lookup, void *user, cfn_facenet **out,
                              char *message, size_t capacity) {
    /* The layout follows the kernels this CPU runs: a model is read-only once built. */
    return create(lookup, user, out, message, capacity,
                  cfn_gemm_kernels_for(CFN_KERNELS_BEST) == CFN_GEMM_KERNELS_PORTABLE);
}

cfn_status cfn_facenet_create_portable(cfn_tensor_lookup_fn lookup, void *user, cfn_facenet **out,
                                       char *message, size_t capacity) {
    return create(lookup, user, out, message, capacity, 1);
}

void cfn_facenet_destroy(cfn_facenet *model) {
    if (!model) return;
    free(model->storage);
    free(model);
}

size_t cfn_facenet_weight_bytes(const cfn_facenet *model) {
    return model ? model->storage_floats * sizeof(float) : 0;
}

/* ---- Forward ------------------------------------------------------------------------------- */

/* Spatial extents of each stage for one input size. */
typedef struct stage_dims {
    int h1, w1;  /* conv2d_1a */
    int h2, w2;  /* conv2d_2a, conv2d_2b */
    int h3, w3;  /* maxpool_3a, conv2d_3b */
    int h4, w4;  /* conv2d_4a */
    int h5, w5;  /* conv2d_4b, repeat_1 ("17×17" at 160) */
    int h6, w6;  /* mixed_6a, repeat_2 ("8×8") */
    int h7, w7;  /* mixed_7a, repeat_3, block8 ("3×3") */
} stage_dims;

static stage_dims dims_for(int h, int w) {
    stage_dims d;
    d.h1 = cfn_conv_out_extent(h, 3, 2, 0);     d.w1 = cfn_conv_out_extent(w, 3, 2, 0);
    d.h2 = cfn_conv_out_extent(d.h1, 3, 1, 0);  d.w2 = cfn_conv_out_extent(d.w1, 3, 1, 0);
    d.h3 = cfn_pool_out_extent(d.h2, 3, 2, 0, 0); d.w3 = cfn_pool_out_extent(d.w2, 3, 2, 0, 0);
    d.h4 = cfn_conv_out_extent(d.h3, 3, 1, 0);  d.w4 = cfn_conv_out_extent(d.w3, 3, 1, 0);
    d.h5 = cfn_conv_out_extent(d.h4, 3, 2, 0);  d.w5 = cfn_conv_out_extent(d.w4, 3, 2, 0);
    d.h6 = cfn_conv_out_extent(d.h5, 3, 2, 0);  d.w6 = cfn_conv_out_extent(d.w5, 3, 2, 0);
    d.h7 = cfn_conv_out_extent(d.h6, 3, 2, 0);  d.w7 = cfn_conv_out_extent(d.w6, 3, 2, 0);
    return d;
}

static size_t max_size(size_t a, size_t b) { return a > b ? a : b; }

/* Workspace buffers of one forward pass, sized for (n, h, w). */
typedef struct workspace {
    float *big[2];           /* stem ping-pong, then the stage activations */
    float *cat, *t1, *t2;    /* block concatenation and branch temporaries */
    float *scratch;          /* Winograd's transformed tiles */
    size_t scratch_floats;
    float *pooled;           /* 1792 × n */
    float *projected;        /* 512 × n */
    float *blas_scratch;     /* im2col matrices and residual products (portable models) */
    cfn_gemm_engine engine;  /* the context's workers and their packing scratch */
    int winograd;            /* 3×3 stride-1 layers by Winograd (0 on portable contexts) */
} workspace;

typedef struct plan {
    size_t big, tmp, winograd, gemm, blas, total; /* gemm: packing scratch of one worker */
} plan;

/* The portable path's scratch: the largest im2col matrix of any layer, and the largest residual
   product (width × P of a block's up-projection). */
static size_t blas_need(const cfn_facenet *m, int n, int h, int w, const stage_dims *d) {
    const struct {
        const cfn_conv2d *conv;
        int h, w;
    } layers[] = {
        {&m->conv1a, h, w},           {&m->conv2a, d->h1, d->w1},
        {&m->conv2b, d->h2, d->w2},   {&m->conv4a, d->h3, d->w3},
        {&m->conv4b, d->h4, d->w4},   {&m->block35[0].branch[0], d->h5, d->w5},
        {&m->mixed6a.b0, d->h5, d->w5}, {&m->mixed6a.b1_3x3, d->h5, d->w5},
        {&m->mixed6a.b1_s2, d->h5, d->w5}, {&m->block17[0].branch[0], d->h6, d->w6},
        {&m->block17[0].branch[1], d->h6, d->w6}, {&m->mixed7a.b0_s2, d->h6, d->w6},
        {&m->mixed7a.b1_s2, d->h6, d->w6}, {&m->mixed7a.b2_3x3, d->h6, d->w6},
        {&m->mixed7a.b2_s2, d->h6, d->w6}, {&m->block8[0].branch[0], d->h7, d->w7},
        {&m->block8[0].branch[1], d->h7, d->w7},
    };
    size_t most = (size_t)n * max_size(256 * (size_t)d->h5 * d->w5,
                                       max_size(896 * (size_t)d->h6 * d->w6, 1792 * (size_t)d->h7 * d->w7));
    for (size_t i = 0; i < sizeof layers / sizeof layers[0]; ++i)
        most = max_size(most, cfn_conv2d_blas_scratch_floats(layers[i].conv, n, layers[i].h, layers[i].w));
    return most;
}

/* Winograd scratch of a convolution: for all its tile rows at once, and the least it works
   with (one tile row). */
static void winograd_need(const cfn_conv2d *c, int n, int h, int w, size_t *full, size_t *row) {
    *full = max_size(*full, cfn_conv2d_winograd_scratch_floats(c, n, h, w, 1));
    *row = max_size(*row, cfn_conv2d_winograd_scratch_floats(c, n, h, w, 0));
}

static plan plan_for(const cfn_facenet *m, int n, int h, int w, const stage_dims *d,
                     int workers) {
    plan p;
    const size_t s2 = (size_t)d->h2 * d->w2, s1 = (size_t)d->h1 * d->w1;
    const size_t s3 = (size_t)d->h3 * d->w3, s4 = (size_t)d->h4 * d->w4;
    const size_t s5 = (size_t)d->h5 * d->w5, s6 = (size_t)d->h6 * d->w6, s7 = (size_t)d->h7 * d->w7;
    p.big = n * max_size(max_size(3 * (size_t)h * w, 32 * s1),
                         max_size(max_size(64 * s2, 80 * s3),
                                  max_size(192 * s4, max_size(256 * s5, max_size(896 * s6, 1792 * s7)))));
    p.tmp = n * max_size(192 * s5, max_size(768 * s6, 384 * s7));

    size_t full = 0, row = 0;
    winograd_need(&m->conv2a, n, d->h1, d->w1, &full, &row);
    winograd_need(&m->conv2b, n, d->h2, d->w2, &full, &row);
    winograd_need(&m->conv4a, n, d->h3, d->w3, &full, &row);
    winograd_need(&m->block35[0].branch[0], n, d->h5, d->w5, &full, &row);
    winograd_need(&m->mixed6a.b1_3x3, n, d->h5, d->w5, &full, &row);
    winograd_need(&m->mixed7a.b2_3x3, n, d->h6, d->w6, &full, &row);
    p.winograd = max_size(full < WINOGRAD_CHUNK_FLOATS ? full : WINOGRAD_CHUNK_FLOATS, row);
    /* Every product's depth is some layer's in_channels · kh · kw (Winograd's: in_channels). */
    const cfn_conv2d *layers[] = {&m->conv1a, &m->conv2a, &m->conv2b, &m->conv3b, &m->conv4a,
                                  &m->conv4b, &m->block35[0].stem, &m->block35[0].branch[0],
                                  &m->block35[0].up, &m->mixed6a.b0, &m->mixed6a.b1_1x1,
                                  &m->mixed6a.b1_3x3, &m->mixed6a.b1_s2, &m->block17[0].stem,
                                  &m->block17[0].branch[0], &m->block17[0].branch[1],
                                  &m->block17[0].up, &m->mixed7a.stem, &m->mixed7a.b0_s2,
                                  &m->mixed7a.b2_3x3, &m->block8[0].stem,
                                  &m->block8[0].branch[0], &m->block8[0].branch[1],
                                  &m->block8[0].up, &m->last};
    p.gemm = 0;
    for (size_t i = 0; i < sizeof layers / sizeof layers[0]; ++i)
        p.gemm = max_size(p.gemm, cfn_gemm_scratch_floats(cfn_conv2d_depth(layers[i])));
    p.gemm = cfn_aligned_floats(p.gemm);
    p.blas = m->blas ? blas_need(m, n, h, w, d) : 0;

    p.total = 2 * cfn_aligned_floats(p.big) + 3 * cfn_aligned_floats(p.tmp) +
              cfn_aligned_floats(p.winograd) + cfn_aligned_floats(1792 * (size_t)n) +
              cfn_aligned_floats(512 * (size_t)n) + (size_t)workers * p.gemm +
              cfn_aligned_floats(p.blas);
    return p;
}

static void conv(const workspace *ws, const cfn_conv2d *c, const float *in, int n, int h, int w,
                 float *out, cfn_activation act) {
    if (c->blas) {
        cfn_conv2d_blas_forward(c, in, n, h, w, out, ws->blas_scratch, act, ws->engine.pool);
        return;
    }
    cfn_conv2d_forward(c, in, n, h, w, out, ws->scratch, ws->scratch_floats, act, ws->winograd,
                       &ws->engine);
}

/* MaxPool2d(3, stride 2) of `planes` h × w planes, a range of planes per task. */
typedef struct pool_job {
    const float *in;
    float *out;
    int planes, h, w, tasks;
    int avx512; /* the engine runs AVX-512 kernels: the pool does too */
} pool_job;

static void pool_task(void *arg, int task, int worker) {
    (void)worker;
    const pool_job *j = arg;
    const int p0 = task * j->planes / j->tasks, p1 = (task + 1) * j->planes / j->tasks;
    const int out_h = cfn_pool_out_extent(j->h, 3, 2, 0, 0), out_w = cfn_pool_out_extent(j->w, 3, 2, 0, 0);
    cfn_maxpool3x3_s2(j->in + (size_t)p0 * j->h * j->w, p1 - p0, j->h, j->w, j->avx512,
                      j->out + (size_t)p0 * out_h * out_w);
}

static void maxpool3x3_s2(const workspace *ws, const float *in, int planes, int h, int w, float *out) {
    pool_job job = {in, out, planes, h, w, cfn_pool_task_count(ws->engine.pool, planes),
                    ws->engine.kernels == CFN_GEMM_KERNELS_AVX512};
    cfn_pool_run(ws->engine.pool, job.tasks, pool_task, &job);
}

/* x (width × P) ← act(x + scale · (up · cat + bias)) in place, PyTorch's order of operations. */
static void residual(const workspace *ws, const residual_block *blk, const float *cat, float *x,
                     int columns) {
    const cfn_gemm_epilogue sum = {CFN_GEMM_RESIDUAL, blk->up.bias, blk->scale, blk->relu};
    if (blk->up.blas) {
        cfn_blas_product(ws->engine.pool, blk->up.out_channels, columns, blk->up.in_channels,
                         blk->up.weight, cat, x, ws->blas_scratch, sum);
        return;
    }
    const cfn_gemm_job job = {blk->up.out_channels, columns, blk->up.in_channels, 1,
                              blk->up.weight, 0, cat, columns, 0, x, columns, 0,
                              sum, NULL, NULL, blk->up.weight_rows};
    cfn_gemm_run(&ws->engine, &job);
}

static void block35_forward(const workspace *ws, const residual_block *blk, float *x, int n, int h,
                            int w) {
    const size_t P = (size_t)n * h * w;
    conv(ws, &blk->stem, x, n, h, w, ws->cat, CFN_ACTIVATION_RELU);           /* b0 | b1a | b2a */
    conv(ws, &blk->branch[0], ws->cat + 32 * P, n, h, w, ws->t1, CFN_ACTIVATION_RELU);
    conv(ws, &blk->branch[1], ws->cat + 64 * P, n, h, w, ws->t2, CFN_ACTIVATION_RELU);
    conv(ws, &blk->branch[2], ws->t2, n, h, w, ws->cat + 64 * P, CFN_ACTIVATION_RELU);
    memcpy(ws->cat + 32 * P, ws->t1, sizeof(float) * 32 * P);
    residual(ws, blk, ws->cat, x, (int)P);
}

static void factorised_forward(const workspace *ws, const residual_block *blk, float *x, int n,
                               int h, int w) {
    const size_t P = (size_t)n * h * w;
    const int branch = blk->branch[0].in_channels;
    conv(ws, &blk->stem, x, n, h, w, ws->cat, CFN_ACTIVATION_RELU);           /* b0 | b1a */
    conv(ws, &blk->branch[0], ws->cat + branch * P, n, h, w, ws->t1, CFN_ACTIVATION_RELU);
    conv(ws, &blk->branch[1], ws->t1, n, h, w, ws->cat + branch * P, CFN_ACTIVATION_RELU);
    residual(ws, blk, ws->cat, x, (int)P);
}

static void mixed6a_forward(const workspace *ws, const mixed_6a *m, const float *x, int n,
                            const stage_dims *d, float *y) {
    const size_t P6 = (size_t)n * d->h6 * d->w6;
    conv(ws, &m->b0, x, n, d->h5, d->w5, y, CFN_ACTIVATION_RELU);
    conv(ws, &m->b1_1x1, x, n, d->h5, d->w5, ws->t1, CFN_ACTIVATION_RELU);
    conv(ws, &m->b1_3x3, ws->t1, n, d->h5, d->w5, ws->t2, CFN_ACTIVATION_RELU);
    conv(ws, &m->b1_s2, ws->t2, n, d->h5, d->w5, y + 384 * P6, CFN_ACTIVATION_RELU);
    maxpool3x3_s2(ws, x, 256 * n, d->h5, d->w5, y + 640 * P6);
}

static void mixed7a_forward(const workspace *ws, const mixed_7a *m, const float *x, int n,
                            const stage_dims *d, float *y) {
    const size_t P6 = (size_t)n * d->h6 * d->w6, P7 = (size_t)n * d->h7 * d->w7;
    conv(ws, &m->stem, x, n, d->h6, d->w6, ws->cat, CFN_ACTIVATION_RELU);
    conv(ws, &m->b0_s2, ws->cat, n, d->h6, d->w6, y, CFN_ACTIVATION_RELU);
    conv(ws, &m->b1_s2, ws->cat + 256 * P6, n, d->h6, d->w6, y + 384 * P7, CFN_ACTIVATION_RELU);
    conv(ws, &m->b2_3x3, ws->cat + 512 * P6, n, d->h6, d->w6, ws->t1, CFN_ACTIVATION_RELU);
    conv(ws, &m->b2_s2, ws->t1, n, d->h6, d->w6, y + 640 * P7, CFN_ACTIVATION_RELU);
    maxpool3x3_s2(ws, x, 896 * n, d->h6, d->w6, y + 896 * P7);
}

cfn_status cfn_facenet_embed(const cfn_facenet *model, cfn_context *ctx, const float *images,
                             int n, int height, int width, float *embeddings) {
    return cfn_facenet_embed_observed(model, ctx, images, n, height, width, embeddings, NULL, NULL);
}

/* Hands a stage's output (channels × n × h × w, CNHW) to the observer, when there is one. */
static void observe(cfn_facenet_stage_observer observer, void *user, const char *stage,
                    const float *x, int channels, int n, int h, int w) {
    if (observer) observer(user, stage, x, channels, n, h, w);
}

cfn_status cfn_facenet_embed_observed(const cfn_facenet *model, cfn_context *ctx,
                                      const float *images, int n, int height, int width,
                                      float *embeddings, cfn_facenet_stage_observer observer,
                                      void *user) {
    if (!ctx) return CFN_ERROR_INVALID_ARGUMENT;
    if (!model || !images || !embeddings)
        return cfn_context_fail(ctx, CFN_ERROR_INVALID_ARGUMENT,
                                "model, images and embeddings must not be NULL");
    if (n < 1)
        return cfn_context_fail(ctx, CFN_ERROR_INVALID_ARGUMENT, "batch size %d is not positive", n);
    if (height < CFN_FACENET_MIN_INPUT || width < CFN_FACENET_MIN_INPUT)
        return cfn_context_fail(ctx, CFN_ERROR_INVALID_ARGUMENT,
                                "input %d×%d is smaller than the minimum %d×%d", width, height,
                                CFN_FACENET_MIN_INPUT, CFN_FACENET_MIN_INPUT);
    const stage_dims d = dims_for(height, width);
    /* BLAS takes int dimensions: the widest activation matrix must fit. */
    if ((size_t)n * d.h2 * d.w2 > (size_t)INT_MAX / 64 || (size_t)n * height * width > (size_t)INT_MAX / 4)
        return cfn_context_fail(ctx, CFN_ERROR_INVALID_ARGUMENT,
                                "batch of %d images of %d×%d is too large for one pass; split it", n,
                                width, height);

    const int threads = ctx->threads > 0 ? ctx->threads : cfn_gemm_threads();
    cfn_pool *pool = cfn_context_pool(ctx, threads);
    const int workers = cfn_pool_workers(pool);
    const plan p = plan_for(model, n, height, width, &d, workers);
    cfn_status status = cfn_context_begin(ctx, p.total);
    if (status != CFN_OK) {
        cfn_pool_park(pool);
        return status;
    }
    workspace ws;
    ws.big[0] = cfn_context_take(ctx, p.big);
    ws.big[1] = cfn_context_take(ctx, p.big);
    ws.cat = cfn_context_take(ctx, p.tmp);
    ws.t1 = cfn_context_take(ctx, p.tmp);
    ws.t2 = cfn_context_take(ctx, p.tmp);
    ws.scratch = cfn_context_take(ctx, p.winograd);
    ws.scratch_floats = p.winograd;
    ws.pooled = cfn_context_take(ctx, 1792 * (size_t)n);
    ws.projected = cfn_context_take(ctx, 512 * (size_t)n);
    ws.blas_scratch = cfn_context_take(ctx, p.blas);
    ws.engine.pool = pool;
    ws.engine.scratch = cfn_context_take(ctx, (size_t)workers * p.gemm);
    ws.engine.scratch_stride = p.gemm;
    ws.engine.kernels = cfn_gemm_kernels_for(ctx->kernels);
    ws.winograd = !ctx->portable_kernels;

    float *a = ws.big[0], *b = ws.big[1];
    const cfn_activation relu = CFN_ACTIVATION_RELU;
    cfn_nchw_to_cnhw(images, n, 3, height * width, a);
    conv(&ws, &model->conv1a, a, n, height, width, b, relu);
    conv(&ws, &model->conv2a, b, n, d.h1, d.w1, a, relu);
    conv(&ws, &model->conv2b, a, n, d.h2, d.w2, b, relu);
    maxpool3x3_s2(&ws, b, 64 * n, d.h2, d.w2, a);
    conv(&ws, &model->conv3b, a, n, d.h3, d.w3, b, relu);
    conv(&ws, &model->conv4a, b, n, d.h3, d.w3, a, relu);
    conv(&ws, &model->conv4b, a, n, d.h4, d.w4, b, relu);
    observe(observer, user, "conv2d_4b", b, 256, n, d.h5, d.w5);

    for (int i = 0; i < BLOCK35_COUNT; ++i) block35_forward(&ws, &model->block35[i], b, n, d.h5, d.w5);
    observe(observer, user, "repeat_1", b, 256, n, d.h5, d.w5);
    mixed6a_forward(&ws, &model->mixed6a, b, n, &d, a);
    observe(observer, user, "mixed_6a", a, 896, n, d.h6, d.w6);
    for (int i = 0; i < BLOCK17_COUNT; ++i)
        factorised_forward(&ws, &model->block17[i], a, n, d.h6, d.w6);
    observe(observer, user, "repeat_2", a, 896, n, d.h6, d.w6);
    mixed7a_forward(&ws, &model->mixed7a, a, n, &d, b);
    observe(observer, user, "mixed_7a", b, 1792, n, d.h7, d.w7);
    for (int i = 0; i < BLOCK8_COUNT; ++i)
        factorised_forward(&ws, &model->block8[i], b, n, d.h7, d.w7);
    observe(observer, user, "repeat_3", b, 1792, n, d.h7, d.w7);
    factorised_forward(&ws, &model->block8[BLOCK8_COUNT], b, n, d.h7, d.w7);
    observe(observer, user, "block8", b, 1792, n, d.h7, d.w7);

    /* Pooled features are a 1792 × n matrix; last_linear + last_bn is a 1×1 conv over n pixels. */
    cfn_global_avgpool(b, 1792 * n, d.h7 * d.w7, ws.pooled);
    conv(&ws, &model->last, ws.pooled, n, 1, 1, ws.projected, CFN_ACTIVATION_NONE);
    observe(observer, user, "last_bn", ws.projected, CFN_FACENET_EMBEDDING_SIZE, n, 1, 1);
    cfn_cnhw_to_nchw(ws.projected, CFN_FACENET_EMBEDDING_SIZE, n, 1, embeddings);
    cfn_l2_normalize_rows(embeddings, n, CFN_FACENET_EMBEDDING_SIZE);
    cfn_pool_park(pool); /* the helpers sleep until this context's next pass */
    return CFN_OK;
}
