#ifndef CIMAGEIO_H
#define CIMAGEIO_H
/* CImageIO: JPEG and PNG decoding (to RGB8) and PNG encoding over libjpeg-turbo and libpng.
 *
 * libjpeg's default error handler calls exit() and libpng's longjmps; neither may escape into
 * Swift. Every entry point here catches them inside C and returns a status plus a message.
 * All outputs are malloc'd by the shim and released with cio_image_free / cio_free; on any error
 * every allocation made so far is released and the output fields are NULL/0. */

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
    CIO_OK = 0,
    CIO_ERR_EMPTY = 1,          /* zero bytes of input */
    CIO_ERR_UNKNOWN_FORMAT = 2, /* neither JPEG nor PNG magic bytes */
    CIO_ERR_TRUNCATED = 3,      /* the data ends before the image does */
    CIO_ERR_CORRUPT = 4,        /* the codec rejected the data (message says why) */
    CIO_ERR_TOO_LARGE = 5,      /* width*height exceeds the caller's pixel limit */
    CIO_ERR_NO_MEMORY = 6,
    CIO_ERR_UNSUPPORTED = 7,    /* valid but unsupported (e.g. a 2-component JPEG) */
    CIO_ERR_INVALID_ARGUMENT = 8
} cio_status;

typedef enum { CIO_FORMAT_UNKNOWN = 0, CIO_FORMAT_JPEG = 1, CIO_FORMAT_PNG = 2 } cio_format;

#define CIO_MESSAGE_SIZE 256

/* A decoded image. `pixels` is RGB8 interleaved, row-major, width*height*3 bytes. `exif` is the
 * raw TIFF-structured EXIF payload (JPEG APP1 after "Exif\0\0", or a PNG eXIf chunk), or NULL. */
typedef struct {
    int32_t width;
    int32_t height;
    uint8_t *pixels;
    uint8_t *exif;
    size_t exif_size;
    int32_t format;  /* cio_format */
    /* Header dimensions, filled as soon as they are known (also when decoding then fails, so a
     * too-large error can name them). */
    int32_t declared_width;
    int32_t declared_height;
    char message[CIO_MESSAGE_SIZE];
} cio_image;

/* Identifies the format by magic bytes (needs at least 8 bytes for PNG, 3 for JPEG). */
cio_format cio_sniff(const uint8_t *data, size_t size);

/* Decodes JPEG or PNG bytes to RGB8. `max_pixels` > 0 bounds width*height and is checked after
 * reading the header and before the pixel buffer (or libjpeg's coefficient buffers) are
 * allocated. `out` is always initialised; release it with cio_image_free whatever the status. */
cio_status cio_decode(const uint8_t *data, size_t size, int64_t max_pixels, cio_image *out);

/* Decoders for one format (cio_decode dispatches to these). */
cio_status cio_decode_jpeg(const uint8_t *data, size_t size, int64_t max_pixels, cio_image *out);
cio_status cio_decode_png(const uint8_t *data, size_t size, int64_t max_pixels, cio_image *out);

/* Releases what a decode allocated; safe on a zeroed or already-freed image. */
void cio_image_free(cio_image *image);

/* Encodes RGB8 pixels (width*height*3 bytes, no padding) as an 8-bit RGB PNG. On success
 * *out_data is malloc'd (release with cio_free) and *out_size set. `message` receives the
 * reason on failure (CIO_MESSAGE_SIZE bytes). */
cio_status cio_encode_png_rgb8(const uint8_t *pixels, int32_t width, int32_t height,
                               uint8_t **out_data, size_t *out_size, char *message);

void cio_free(void *pointer);

#ifdef __cplusplus
}
#endif
#endif
