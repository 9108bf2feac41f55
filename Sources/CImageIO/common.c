/* Format sniffing, dispatch, limits and release: shared by the JPEG and PNG decoders. */
#include "internal.h"

#include <stdlib.h>
#include <string.h>

void cio_set_message(char *message, const char *format, ...) {
    if (!message) return;
    va_list args;
    va_start(args, format);
    vsnprintf(message, CIO_MESSAGE_SIZE, format, args);
    va_end(args);
}

cio_format cio_sniff(const uint8_t *data, size_t size) {
    static const uint8_t png_magic[8] = {0x89, 'P', 'N', 'G', 0x0D, 0x0A, 0x1A, 0x0A};
    if (!data) return CIO_FORMAT_UNKNOWN;
    if (size >= 3 && data[0] == 0xFF && data[1] == 0xD8 && data[2] == 0xFF) return CIO_FORMAT_JPEG;
    if (size >= 8 && memcmp(data, png_magic, 8) == 0) return CIO_FORMAT_PNG;
    return CIO_FORMAT_UNKNOWN;
}

cio_status cio_check_dimensions(int64_t width, int64_t height, int64_t max_pixels, char *message) {
    if (width <= 0 || height <= 0) {
        cio_set_message(message, "invalid dimensions %lldx%lld", (long long)width, (long long)height);
        return CIO_ERR_CORRUPT;
    }
    /* Both are below 2^31, so the product fits in int64. */
    int64_t pixels = width * height;
    if (max_pixels > 0 && pixels > max_pixels) {
        cio_set_message(message, "%lldx%lld is %lld pixels, over the limit of %lld",
                        (long long)width, (long long)height, (long long)pixels,
                        (long long)max_pixels);
        return CIO_ERR_TOO_LARGE;
    }
    if ((uint64_t)pixels > (uint64_t)(SIZE_MAX / 3)) {
        cio_set_message(message, "%lldx%lld does not fit in memory", (long long)width,
                        (long long)height);
        return CIO_ERR_TOO_LARGE;
    }
    return CIO_OK;
}

static void reset(cio_image *out) {
    memset(out, 0, sizeof(*out));
}

cio_status cio_decode(const uint8_t *data, size_t size, int64_t max_pixels, cio_image *out) {
    if (!out) return CIO_ERR_INVALID_ARGUMENT;
    reset(out);
    if (!data || size == 0) {
        cio_set_message(out->message, "no data");
        return CIO_ERR_EMPTY;
    }
    switch (cio_sniff(data, size)) {
    case CIO_FORMAT_JPEG:
        return cio_decode_jpeg(data, size, max_pixels, out);
    case CIO_FORMAT_PNG:
        return cio_decode_png(data, size, max_pixels, out);
    default:
        cio_set_message(out->message, "neither JPEG (FF D8 FF) nor PNG signature in the first bytes");
        return CIO_ERR_UNKNOWN_FORMAT;
    }
}

void cio_image_free(cio_image *image) {
    if (!image) return;
    free(image->pixels);
    free(image->exif);
    image->pixels = NULL;
    image->exif = NULL;
    image->exif_size = 0;
}

void cio_free(void *pointer) { free(pointer); }

cio_status cio_finish_decode(cio_status status, uint8_t *pixels, uint8_t *exif, size_t exif_size,
                             const char *message, cio_image *out) {
    if (status == CIO_OK) {
        out->pixels = pixels;
        out->exif = exif;
        out->exif_size = exif_size;
    } else {
        free(pixels);
        free(exif);
        out->width = out->height = 0;
        snprintf(out->message, sizeof out->message, "%s", message);
    }
    return status;
}
