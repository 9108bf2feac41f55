#ifndef CIMAGEIO_INTERNAL_H
#define CIMAGEIO_INTERNAL_H
#include "cimageio.h"
#include <stdarg.h>
#include <stdio.h>

/* Formats a message into image->message (always NUL-terminated). */
void cio_set_message(char *message, const char *format, ...) __attribute__((format(printf, 2, 3)));

/* Checks width*height against the limit (and against what size_t can address for RGB8). */
cio_status cio_check_dimensions(int64_t width, int64_t height, int64_t max_pixels, char *message);

#endif
