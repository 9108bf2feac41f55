#ifndef CIMAGEIO_INTERNAL_H
#define CIMAGEIO_INTERNAL_H
#include "cimageio.h"
#include <stdarg.h>
#include <stdio.h>

/* Formats a message into image->message (always NUL-terminated). */
void cio_set_message(char *message, const char *format, ...) __attribute__((format(printf, 2, 3)));

/* Checks width*height against the limit (and against what size_t can address for RGB8). */
cio_status cio_check_dimensions(int64_t width, int64_t height, int64_t max_pixels, char *message);

/*
 * Ends a decode: on success hands the pixel and EXIF buffers over to `out`; on failure frees
 * them, zeroes the dimensions and copies `message`. Shared by the JPEG and PNG decoders.
 */
cio_status cio_finish_decode(cio_status status, uint8_t *pixels, uint8_t *exif, size_t exif_size,
                             const char *message, cio_image *out);

#endif
