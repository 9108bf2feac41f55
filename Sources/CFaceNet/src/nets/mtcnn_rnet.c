/* R-Net (facenet-pytorch RNet): 24×24 crops → face probability and box regression. */
#include "mtcnn_layers.h"

#include <stdlib.h>

struct cfn_mtcnn_rnet {
    mtcnn_classifier net;
};

static const mtcnn_classifier_spec rnet_spec = {
    .net = "R-Net",
    .input_size = CFN_MTCNN_RNET_INPUT,
    .num_convs = 3,
    .convs = {
        {"conv1", "prelu1", 3, 28, 3, 3, 2, 0},
        /* F(3×3) Winograd: its 3×3 tiles are the 9×9 map exactly (225 multiplications per
           channel pair; F(2×2) 400, F(4×4) 324). Alone, 16 crops, one thread: F(2×2) 0.30–0.31
           ms, F(4×4) 0.33, F(3×3) 0.18–0.19. */
        {"conv2", "prelu2", 28, 48, 3, 3, 2, 3},
        {"conv3", "prelu3", 48, 64, 2, 0, 0, 0},
    },
    .dense = "dense4",
    .dense_prelu = "prelu4",
    .dense_out = 128,
    .num_heads = 2,
    .heads = {{"dense5_1", 2}, {"dense5_2", 4}},
    /* 16 crops: a chunk's activations (~110 KB per crop) stay in L2 from layer to layer; at
       128 they went to L3 and R-Net took 1.5–1.8x as long per crop (single-thread harness,
       256 crops). 16 crops are still 400 Winograd tiles for conv2. */
    .max_batch = 16,
};

cfn_status cfn_mtcnn_rnet_create(cfn_tensor_lookup_fn lookup, void *user, cfn_mtcnn_rnet **out,
                                 char *message, size_t capacity) {
    if (!out)
        return cfn_message_fail(message, capacity, CFN_ERROR_INVALID_ARGUMENT,
                                "R-Net: output pointer is NULL");
    *out = NULL;
    cfn_mtcnn_rnet *model = calloc(1, sizeof *model);
    if (!model)
        return cfn_message_fail(message, capacity, CFN_ERROR_OUT_OF_MEMORY,
                                "R-Net: cannot allocate the model");
    const cfn_status status =
        mtcnn_classifier_init(&model->net, &rnet_spec, lookup, user, message, capacity);
    if (status != CFN_OK) {
        free(model);
        return status;
    }
    *out = model;
    return CFN_OK;
}

void cfn_mtcnn_rnet_destroy(cfn_mtcnn_rnet *model) {
    if (!model) return;
    mtcnn_classifier_release(&model->net);
    free(model);
}

cfn_status cfn_mtcnn_rnet_forward(const cfn_mtcnn_rnet *model, cfn_context *ctx,
                                  const float *images, int n, float *prob, float *reg) {
    return mtcnn_classifier_forward(model ? &model->net : NULL, ctx, "R-Net", images, n, prob,
                                    reg, NULL);
}
