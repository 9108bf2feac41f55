/*
 * CFaceNet: forward passes of FaceNet (Inception-ResNet-v1) and MTCNN (P-Net, R-Net, O-Net)
 * on OpenBLAS. Math only: the caller parses files and hands tensors over by name.
 *
 * Objects
 *   - A model (cfn_facenet, cfn_mtcnn_*) is built once from named float32 tensors and is
 *     read-only afterwards (BatchNorm folded, weights packed). Any number of threads may use
 *     one model at once, each through its own context.
 *   - A context (cfn_context) owns the workspace arena of one caller thread, the last error
 *     message and the worker threads its FaceNet passes spread over. A forward pass allocates
 *     only when the arena must grow for a larger shape than any seen before (or the first time
 *     it needs its worker threads); a repeated shape allocates nothing.
 *
 * Every function that can fail returns a cfn_status (the builders and forward passes); the
 * others say what they return. Nothing aborts or exits on bad input. The kernels' test entries
 * are not part of this API: they are declared in the CFaceNetTesting target's header.
 */
#ifndef CFACENET_H
#define CFACENET_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum cfn_status {
    CFN_OK = 0,
    CFN_ERROR_INVALID_ARGUMENT = 1, /* null pointer, bad count, input size out of range */
    CFN_ERROR_MISSING_TENSOR = 2,   /* a required weight tensor was not supplied */
    CFN_ERROR_SHAPE_MISMATCH = 3,   /* a weight tensor has the wrong shape */
    CFN_ERROR_NON_FINITE = 4,       /* a weight tensor holds NaN or infinity */
    CFN_ERROR_OUT_OF_MEMORY = 5,
} cfn_status;

/* A short English name for a status ("invalid argument", ...; "unknown status" for a value
   outside the enum). Never NULL. */
const char *cfn_status_string(cfn_status status);

/* A view of one named tensor: float32, contiguous, row-major (PyTorch's layout). */
#define CFN_MAX_DIMS 8
typedef struct cfn_tensor_view {
    const float *data;
    int ndim;
    int64_t shape[CFN_MAX_DIMS];
} cfn_tensor_view;

/*
 * Called by the model builders for each tensor they need, by its PyTorch state_dict key
 * (e.g. "repeat_1.0.branch0.conv.weight"). Return 1 and fill *out when found, 0 when absent.
 * The data must stay valid until the builder returns; builders copy what they keep.
 */
typedef int (*cfn_tensor_lookup_fn)(void *user, const char *name, cfn_tensor_view *out);

/* ---- Contexts ---------------------------------------------------------------------------- */

typedef struct cfn_context cfn_context;

/* NULL when out of memory. */
cfn_context *cfn_context_create(void);
void cfn_context_destroy(cfn_context *ctx);
/* The message of the last failed call on this context ("" when none, or when ctx is NULL). */
const char *cfn_context_last_error(const cfn_context *ctx);
/* Bytes held by the workspace arena (grows to the largest shape seen, never shrinks; 0 for
   a NULL ctx). */
size_t cfn_context_workspace_bytes(const cfn_context *ctx);
/* Number of times the arena has (re)allocated: constant across repeated calls of one shape
   (0 for a NULL ctx). */
uint64_t cfn_context_allocation_count(const cfn_context *ctx);
/*
 * 1: forward passes on this context use the portable C kernels even on CPUs with AVX2 + FMA
 * (the SIMD kernels are chosen at run time otherwise), and direct convolutions where the SIMD
 * path uses Winograd's (P-Net's conv3). For testing one path against the other.
 */
void cfn_context_set_portable_kernels(cfn_context *ctx, int portable);

/*
 * Which kernels a context's passes may use: the fastest the CPU runs (the default), the portable
 * C kernels (as cfn_context_set_portable_kernels(ctx, 1)), or AVX2 at most (FaceNet's products
 * skip their AVX-512 kernels on a CPU that has them). Every set computes the same network; the
 * choice is for testing one path against another and for measuring.
 */
typedef enum cfn_kernel_set {
    CFN_KERNELS_BEST = 0,
    CFN_KERNELS_PORTABLE = 1,
    CFN_KERNELS_AVX2 = 2,
} cfn_kernel_set;
void cfn_context_set_kernels(cfn_context *ctx, cfn_kernel_set kernels);
/*
 * The kernels the best set runs on this CPU, as a short name: "avx512", "avx2", or "portable"
 * (no AVX2 + FMA: arm64, older x86-64, or the environment variable FACEREC_DISABLE_AVX2 set to
 * anything but "" or "0" when the process first asks). On "portable", FaceNet keeps its weights
 * row-major and runs each layer as one OpenBLAS SGEMM over the whole batch. Never NULL.
 */
const char *cfn_kernels_name(void);
/*
 * Threads one FaceNet pass on this context uses, the caller's included (clamped to 1 … 64).
 * 0, the default, follows OpenBLAS's thread count at the time of the pass
 * (openblas_set_num_threads, OPENBLAS_NUM_THREADS), so that one setting sizes both. The helper
 * threads start with the first pass that needs them, spin briefly between the products of a
 * pass and sleep as soon as the pass ends; cfn_context_destroy stops them.
 */
void cfn_context_set_threads(cfn_context *ctx, int threads);

/*
 * A thread gauge counts the threads doing CFaceNet work at once and remembers the most it has
 * seen: a context's helper threads are counted from the first job of a FaceNet pass to its end
 * (working, or spinning between the pass's jobs), and a caller brackets its own compute with
 * enter and exit. The Swift
 * library's compute budget keeps one, so that its limit can be checked and monitored. All
 * functions accept NULL (then do nothing, or return 0).
 */
typedef struct cfn_thread_gauge cfn_thread_gauge;
/* NULL when out of memory. */
cfn_thread_gauge *cfn_thread_gauge_create(void);
/* Only once no context uses it any more. */
void cfn_thread_gauge_destroy(cfn_thread_gauge *gauge);
void cfn_thread_gauge_enter(cfn_thread_gauge *gauge);
void cfn_thread_gauge_exit(cfn_thread_gauge *gauge);
/* Threads counted now. */
int cfn_thread_gauge_running(const cfn_thread_gauge *gauge);
/* The most counted at once since creation or the last reset. */
int cfn_thread_gauge_peak(const cfn_thread_gauge *gauge);
/* Restarts the high-water mark from the current count. */
void cfn_thread_gauge_reset_peak(cfn_thread_gauge *gauge);
/* The gauge this context's helper threads count themselves on (NULL: none, the default). */
void cfn_context_set_thread_gauge(cfn_context *ctx, cfn_thread_gauge *gauge);

/* ---- FaceNet: Inception-ResNet-v1 (facenet-pytorch InceptionResnetV1, classify=False) ---- */

#define CFN_FACENET_EMBEDDING_SIZE 512
#define CFN_FACENET_MIN_INPUT 80

typedef struct cfn_facenet cfn_facenet;

/*
 * Builds the network from facenet-pytorch state_dict tensors (logits.* are not asked for).
 * On failure *out is NULL and, when message is not NULL, a description naming the tensor is
 * written to message (at most capacity bytes, NUL-terminated).
 */
cfn_status cfn_facenet_create(cfn_tensor_lookup_fn lookup, void *user, cfn_facenet **out,
                              char *message, size_t capacity);
void cfn_facenet_destroy(cfn_facenet *model);
/* Bytes of packed weights held by the model (0 for a NULL model). */
size_t cfn_facenet_weight_bytes(const cfn_facenet *model);

/*
 * Embeds n standardised images, NCHW float32 (n × 3 × height × width), height and width at
 * least CFN_FACENET_MIN_INPUT, into n × 512 L2-normalised embeddings written to `embeddings`.
 * Returns CFN_OK; CFN_ERROR_INVALID_ARGUMENT for a NULL pointer, n < 1, an input smaller than
 * the minimum or a batch too large for one pass (split it); CFN_ERROR_OUT_OF_MEMORY when the
 * workspace cannot grow. On failure the reason is in cfn_context_last_error(ctx) (when ctx is
 * not NULL).
 */
cfn_status cfn_facenet_embed(const cfn_facenet *model, cfn_context *ctx, const float *images,
                             int n, int height, int width, float *embeddings);

/* ---- FaceNet in int8: an approximation, opt-in ----------------------------------------------- */

/*
 * The same network with int8 convolutions (u8 activations × 7-bit weights, int32 sums, AVX-512
 * VNNI or AVX2 kernels where the CPU has them, plain C elsewhere; every path gives the same
 * result), but for conv2d_1a, 2a and 3b, kept in float32 (5 % of the work, much of the
 * error). Weights are quantised per output channel when the model is built; each convolution's
 * input is quantised per tensor with a scale calibrated on face crops. Residual additions,
 * pooling, last_linear + last_bn and the L2 norm stay in float32. Embeddings approximate
 * cfn_facenet_embed's (cosine similarity about 0.995 or more on face crops): never the default.
 */
typedef struct cfn_facenet_int8 cfn_facenet_int8;

/* Activation scales of the int8 network: one per convolution. */
#define CFN_FACENET_INT8_LAYERS 104

/* Builds it from the tensors cfn_facenet_create takes, uncalibrated; errors as there. */
cfn_status cfn_facenet_int8_create(cfn_tensor_lookup_fn lookup, void *user,
                                   cfn_facenet_int8 **out, char *message, size_t capacity);
void cfn_facenet_int8_destroy(cfn_facenet_int8 *model);
/* Bytes of weights held, quantised and float32 (0 for NULL). */
size_t cfn_facenet_int8_weight_bytes(const cfn_facenet_int8 *model);
/* CFN_FACENET_INT8_LAYERS (0 for NULL). */
int cfn_facenet_int8_scale_count(const cfn_facenet_int8 *model);
/*
 * Calibrates the activation scales on n standardised face crops (as cfn_facenet_embed takes
 * them): each int8 convolution's input scale becomes the clipping value with the least squared
 * quantisation error over the values it sees over the crops / 255 (the float32 layers' scales
 * are unused), layer by layer through the int8 layers before it,
 * in passes of 16 crops (each layer keeps the largest over the passes so far). Replaces any
 * earlier scales. Not thread-safe: calibrate before sharing the model. Errors as
 * cfn_facenet_embed.
 */
cfn_status cfn_facenet_int8_calibrate(cfn_facenet_int8 *model, cfn_context *ctx,
                                      const float *images, int n, int height, int width);
/* Copies the count (= cfn_facenet_int8_scale_count) scales out, or in (each positive and
   finite); CFN_ERROR_INVALID_ARGUMENT otherwise. */
cfn_status cfn_facenet_int8_get_scales(const cfn_facenet_int8 *model, float *scales, int count);
cfn_status cfn_facenet_int8_set_scales(cfn_facenet_int8 *model, const float *scales, int count);
/* As cfn_facenet_embed; CFN_ERROR_INVALID_ARGUMENT also when the model is not calibrated. */
cfn_status cfn_facenet_int8_embed(const cfn_facenet_int8 *model, cfn_context *ctx,
                                  const float *images, int n, int height, int width,
                                  float *embeddings);

#ifdef __cplusplus
}
#endif

#endif /* CFACENET_H */
