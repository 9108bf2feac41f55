/* PNG → RGB8 over libpng, matching PIL's Image.open(f).convert("RGB"):
 * palette → its RGB entries (tRNS ignored), grey → replicated, any alpha dropped (PIL's
 * RGBA→RGB does not composite), 1/2/4-bit grey scaled to 0..255, 16-bit RGB/RGBA/grey+alpha
 * reduced to the high byte (PIL's "RGB;16B"-style unpackers), and 16-bit grey *clamped* to 255:
 * PIL opens it as mode "I;16" and its I;16→L/RGB conversion saturates rather than scales.
 * libpng errors longjmp back here and become a status + message. */
#include "internal.h"

#include <setjmp.h>
#include <stdlib.h>
#include <string.h>

#include <png.h>

typedef struct {
    const uint8_t *data;
    size_t size;
    size_t offset;
    int truncated;     /* a read ran past the end of the data */
    int rows_done;     /* the image is complete: errors after this (trailing chunks) are ignored */
    png_structp png;
    png_infop info;
    uint8_t *pixels;
    uint8_t *scratch;  /* 16-bit grey rows, or the whole interlaced 16-bit grey image */
    png_bytep *rows;
    uint8_t *exif;
    size_t exif_size;
    char message[CIO_MESSAGE_SIZE];
} png_context;

static void on_error(png_structp png, png_const_charp text) {
    png_context *ctx = png_get_error_ptr(png);
    if (!ctx->truncated) snprintf(ctx->message, sizeof ctx->message, "%s", text ? text : "libpng error");
    png_longjmp(png, 1);
}

static void on_warning(png_structp png, png_const_charp text) { (void)png; (void)text; }

static void on_read(png_structp png, png_bytep buffer, png_size_t length) {
    png_context *ctx = png_get_io_ptr(png);
    if (length > ctx->size - ctx->offset) {
        ctx->truncated = 1;
        snprintf(ctx->message, sizeof ctx->message,
                 "data ends after %zu bytes; needed %zu more at offset %zu", ctx->size,
                 (size_t)length, ctx->offset);
        png_error(png, ctx->message);
    }
    memcpy(buffer, ctx->data + ctx->offset, length);
    ctx->offset += length;
}

static void keep_exif(png_context *ctx) {
#ifdef PNG_eXIf_SUPPORTED
    if (ctx->exif) return;
    png_bytep exif = NULL;
    png_uint_32 n = 0;
    if (png_get_eXIf_1(ctx->png, ctx->info, &n, &exif) && exif && n > 0) {
        ctx->exif = malloc(n);
        if (!ctx->exif) return; /* optional */
        memcpy(ctx->exif, exif, n);
        ctx->exif_size = n;
    }
#else
    (void)ctx;
#endif
}

static cio_status finish(png_context *ctx, cio_status status, cio_image *out) {
    png_destroy_read_struct(&ctx->png, ctx->info ? &ctx->info : NULL, NULL);
    free(ctx->rows);
    free(ctx->scratch);
    cio_finish_decode(status, ctx->pixels, ctx->exif, ctx->exif_size, ctx->message, out);
    free(ctx);
    return status;
}

static void grey16_to_rgb(const uint8_t *in, uint8_t *out, size_t width) {
    for (size_t x = 0; x < width; x++) {
        unsigned v = ((unsigned)in[2 * x] << 8) | in[2 * x + 1];
        uint8_t g = v > 255 ? 255 : (uint8_t)v;
        out[3 * x] = out[3 * x + 1] = out[3 * x + 2] = g;
    }
}

cio_status cio_decode_png(const uint8_t *data, size_t size, int64_t max_pixels, cio_image *out) {
    if (!out) return CIO_ERR_INVALID_ARGUMENT;
    memset(out, 0, sizeof *out);
    out->format = CIO_FORMAT_PNG;
    if (!data || size == 0) {
        cio_set_message(out->message, "no data");
        return CIO_ERR_EMPTY;
    }
    png_context *ctx = calloc(1, sizeof *ctx);
    if (!ctx) {
        cio_set_message(out->message, "out of memory for the decoder state");
        return CIO_ERR_NO_MEMORY;
    }
    ctx->data = data;
    ctx->size = size;
    ctx->png = png_create_read_struct(PNG_LIBPNG_VER_STRING, ctx, on_error, on_warning);
    if (!ctx->png) {
        snprintf(ctx->message, sizeof ctx->message, "png_create_read_struct failed");
        return finish(ctx, CIO_ERR_NO_MEMORY, out);
    }
    ctx->info = png_create_info_struct(ctx->png);
    if (!ctx->info) {
        snprintf(ctx->message, sizeof ctx->message, "png_create_info_struct failed");
        return finish(ctx, CIO_ERR_NO_MEMORY, out);
    }
    if (setjmp(png_jmpbuf(ctx->png))) {
        if (ctx->rows_done) {
            out->width = (int32_t)png_get_image_width(ctx->png, ctx->info);
            out->height = (int32_t)png_get_image_height(ctx->png, ctx->info);
            return finish(ctx, CIO_OK, out);
        }
        return finish(ctx, ctx->truncated ? CIO_ERR_TRUNCATED : CIO_ERR_CORRUPT, out);
    }
    png_set_read_fn(ctx->png, ctx, on_read);
    /* libpng's default 1,000,000-per-side cap would reject images PIL opens; the caller's pixel
     * limit below is the real guard. */
    png_set_user_limits(ctx->png, 0x7fffffff, 0x7fffffff);
    png_read_info(ctx->png, ctx->info);

    png_uint_32 width = 0, height = 0;
    int bit_depth = 0, color_type = 0, interlace = 0;
    png_get_IHDR(ctx->png, ctx->info, &width, &height, &bit_depth, &color_type, &interlace, NULL,
                 NULL);
    out->declared_width = (int32_t)width;
    out->declared_height = (int32_t)height;
    cio_status dims = cio_check_dimensions(width, height, max_pixels, ctx->message);
    if (dims != CIO_OK) return finish(ctx, dims, out);
    keep_exif(ctx);

    const int grey16 = (color_type == PNG_COLOR_TYPE_GRAY && bit_depth == 16);
    if (color_type == PNG_COLOR_TYPE_PALETTE) png_set_palette_to_rgb(ctx->png);
    if (color_type == PNG_COLOR_TYPE_GRAY && bit_depth < 8) png_set_expand_gray_1_2_4_to_8(ctx->png);
    if (!grey16) {
        if (bit_depth == 16) png_set_strip_16(ctx->png);
        if (color_type & PNG_COLOR_MASK_ALPHA || png_get_valid(ctx->png, ctx->info, PNG_INFO_tRNS))
            png_set_strip_alpha(ctx->png);
        if (!(color_type & PNG_COLOR_MASK_COLOR)) png_set_gray_to_rgb(ctx->png);
    }
    const int passes = png_set_interlace_handling(ctx->png);
    png_read_update_info(ctx->png, ctx->info);

    const size_t w = width, h = height;
    const size_t rowbytes = png_get_rowbytes(ctx->png, ctx->info);
    const size_t expected = grey16 ? w * 2 : w * 3;
    if (rowbytes != expected || png_get_bit_depth(ctx->png, ctx->info) != (grey16 ? 16 : 8)) {
        snprintf(ctx->message, sizeof ctx->message,
                 "unexpected row layout after transforms (%zu bytes for width %zu)", rowbytes, w);
        return finish(ctx, CIO_ERR_UNSUPPORTED, out);
    }
    ctx->pixels = malloc(w * h * 3);
    if (!ctx->pixels) {
        snprintf(ctx->message, sizeof ctx->message, "out of memory for %zux%zu pixels", w, h);
        return finish(ctx, CIO_ERR_NO_MEMORY, out);
    }
    if (!grey16) {
        ctx->rows = malloc(h * sizeof(png_bytep));
        if (!ctx->rows) {
            snprintf(ctx->message, sizeof ctx->message, "out of memory for row pointers");
            return finish(ctx, CIO_ERR_NO_MEMORY, out);
        }
        for (size_t y = 0; y < h; y++) ctx->rows[y] = ctx->pixels + y * w * 3;
        png_read_image(ctx->png, ctx->rows);
    } else if (passes > 1) {
        /* Interlaced rows are refined over several passes: keep the whole 16-bit image. */
        ctx->scratch = malloc(w * 2 * h);
        ctx->rows = malloc(h * sizeof(png_bytep));
        if (!ctx->scratch || !ctx->rows) {
            snprintf(ctx->message, sizeof ctx->message, "out of memory for the 16-bit image");
            return finish(ctx, CIO_ERR_NO_MEMORY, out);
        }
        for (size_t y = 0; y < h; y++) ctx->rows[y] = ctx->scratch + y * w * 2;
        png_read_image(ctx->png, ctx->rows);
        for (size_t y = 0; y < h; y++) grey16_to_rgb(ctx->rows[y], ctx->pixels + y * w * 3, w);
    } else {
        ctx->scratch = malloc(w * 2);
        if (!ctx->scratch) {
            snprintf(ctx->message, sizeof ctx->message, "out of memory for a row");
            return finish(ctx, CIO_ERR_NO_MEMORY, out);
        }
        for (size_t y = 0; y < h; y++) {
            png_read_row(ctx->png, ctx->scratch, NULL);
            grey16_to_rgb(ctx->scratch, ctx->pixels + y * w * 3, w);
        }
    }
    ctx->rows_done = 1;
    out->width = (int32_t)width;
    out->height = (int32_t)height;
    /* Chunks after the image data may carry eXIf; their damage is not the image's. */
    png_read_end(ctx->png, ctx->info);
    keep_exif(ctx);
    return finish(ctx, CIO_OK, out);
}
