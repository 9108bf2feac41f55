/* JPEG → RGB8 over libjpeg-turbo, matching what PIL's Image.open(f).convert("RGB") produces:
 * YCbCr/RGB/greyscale through libjpeg's own conversion; CMYK/YCCK read as CMYK, inverted as PIL's
 * "CMYK;I" rawmode does (PIL assumes Adobe's inverted convention for every 4-component JPEG),
 * then PIL's cmyk2rgb. Errors longjmp back here; libjpeg never calls exit(). */
#include "internal.h"

#include <setjmp.h>
#include <stdlib.h>
#include <string.h>

#include <jpeglib.h>
#include <jerror.h>

/* Real images have at most a few dozen scans; thousands are a CPU-exhaustion attack on the
 * progressive decoder (each scan re-walks the whole coefficient buffer). */
#define CIO_JPEG_MAX_SCANS 1000

/* Everything the error path must release lives on the heap, so its values are defined after
 * longjmp (automatic variables changed after setjmp would not be). */
typedef struct {
    struct jpeg_error_mgr pub;
    struct jpeg_progress_mgr progress;
    jmp_buf jump;
    struct jpeg_decompress_struct cinfo;
    int created;
    int hit_eof;        /* libjpeg reported premature end of data (JWRN_JPEG_EOF) */
    int finishing;      /* inside jpeg_finish_decompress: every row is already decoded */
    int too_many_scans;
    int warnings;
    uint8_t *pixels;
    uint8_t *row;       /* CMYK row buffer */
    uint8_t *exif;
    size_t exif_size;
    char message[CIO_MESSAGE_SIZE];
} jpeg_context;

static void on_error_exit(j_common_ptr cinfo) {
    jpeg_context *ctx = (jpeg_context *)cinfo->err;
    char buffer[JMSG_LENGTH_MAX];
    (*cinfo->err->format_message)(cinfo, buffer);
    snprintf(ctx->message, sizeof ctx->message, "%s", buffer);
    longjmp(ctx->jump, 1);
}

static void on_emit_message(j_common_ptr cinfo, int level) {
    jpeg_context *ctx = (jpeg_context *)cinfo->err;
    if (level >= 0) return; /* trace messages */
    ctx->warnings++;
    if (cinfo->err->msg_code == JWRN_JPEG_EOF) ctx->hit_eof = 1;
}

static void on_output_message(j_common_ptr cinfo) { (void)cinfo; /* never print to stderr */ }

static void on_progress(j_common_ptr cinfo) {
    jpeg_context *ctx = (jpeg_context *)cinfo->err;
    struct jpeg_decompress_struct *d = (struct jpeg_decompress_struct *)cinfo;
    if (d->input_scan_number > CIO_JPEG_MAX_SCANS) {
        ctx->too_many_scans = 1;
        snprintf(ctx->message, sizeof ctx->message, "more than %d scans", CIO_JPEG_MAX_SCANS);
        longjmp(ctx->jump, 1);
    }
}

/* PIL Convert.c cmyk2rgb on PIL's (already inverted) CMYK values. */
static inline uint8_t cmyk_channel(int c, int nk) {
    int tmp = c * nk + 128;
    int v = nk - (((tmp >> 8) + tmp) >> 8);
    return (uint8_t)(v < 0 ? 0 : (v > 255 ? 255 : v));
}

static void cmyk_row_to_rgb(const uint8_t *cmyk, uint8_t *rgb, int width) {
    for (int x = 0; x < width; x++) {
        /* libjpeg yields Adobe-inverted values; PIL's "CMYK;I" unpacker inverts them back. */
        int c = 255 - cmyk[0], m = 255 - cmyk[1], y = 255 - cmyk[2], k = 255 - cmyk[3];
        int nk = 255 - k;
        rgb[0] = cmyk_channel(c, nk);
        rgb[1] = cmyk_channel(m, nk);
        rgb[2] = cmyk_channel(y, nk);
        cmyk += 4;
        rgb += 3;
    }
}

static void keep_exif(jpeg_context *ctx) {
    static const uint8_t header[6] = {'E', 'x', 'i', 'f', 0, 0};
    for (jpeg_saved_marker_ptr m = ctx->cinfo.marker_list; m; m = m->next) {
        if (m->marker != JPEG_APP0 + 1 || m->data_length < 6 || !m->data) continue;
        if (memcmp(m->data, header, 6) != 0) continue;
        size_t n = m->data_length - 6;
        if (n == 0) return;
        ctx->exif = malloc(n);
        if (!ctx->exif) return; /* EXIF is optional: no memory for it is not fatal */
        memcpy(ctx->exif, m->data + 6, n);
        ctx->exif_size = n;
        return;
    }
}

static cio_status finish(jpeg_context *ctx, cio_status status, cio_image *out) {
    if (ctx->created) jpeg_destroy_decompress(&ctx->cinfo);
    free(ctx->row);
    cio_finish_decode(status, ctx->pixels, ctx->exif, ctx->exif_size, ctx->message, out);
    free(ctx);
    return status;
}

cio_status cio_decode_jpeg(const uint8_t *data, size_t size, int64_t max_pixels, cio_image *out) {
    if (!out) return CIO_ERR_INVALID_ARGUMENT;
    memset(out, 0, sizeof *out);
    out->format = CIO_FORMAT_JPEG;
    if (!data || size == 0) {
        cio_set_message(out->message, "no data");
        return CIO_ERR_EMPTY;
    }
    jpeg_context *ctx = calloc(1, sizeof *ctx);
    if (!ctx) {
        cio_set_message(out->message, "out of memory for the decoder state");
        return CIO_ERR_NO_MEMORY;
    }
    ctx->cinfo.err = jpeg_std_error(&ctx->pub);
    ctx->pub.error_exit = on_error_exit;
    ctx->pub.emit_message = on_emit_message;
    ctx->pub.output_message = on_output_message;

    if (setjmp(ctx->jump)) {
        if (ctx->finishing && !ctx->hit_eof) {
            /* Every row was already decoded; junk after the last scan loses nothing. */
            out->width = (int32_t)ctx->cinfo.output_width;
            out->height = (int32_t)ctx->cinfo.output_height;
            return finish(ctx, CIO_OK, out);
        }
        cio_status status = CIO_ERR_CORRUPT;
        if (!ctx->too_many_scans && ctx->hit_eof) {
            status = CIO_ERR_TRUNCATED;
            char detail[CIO_MESSAGE_SIZE];
            snprintf(detail, sizeof detail, "%s", ctx->message);
            snprintf(ctx->message, sizeof ctx->message,
                     "data ends after %zu bytes, before the image is complete (%.160s)", size, detail);
        }
        return finish(ctx, status, out);
    }

    jpeg_create_decompress(&ctx->cinfo);
    ctx->created = 1;
    ctx->progress.progress_monitor = on_progress;
    ctx->cinfo.progress = &ctx->progress;
    jpeg_mem_src(&ctx->cinfo, data, (unsigned long)size);
    jpeg_save_markers(&ctx->cinfo, JPEG_APP0 + 1, 0xFFFF);
    jpeg_read_header(&ctx->cinfo, TRUE);
    if (ctx->hit_eof) {
        snprintf(ctx->message, sizeof ctx->message, "data ends after %zu bytes, inside the header",
                 size);
        return finish(ctx, CIO_ERR_TRUNCATED, out);
    }

    struct jpeg_decompress_struct *cinfo = &ctx->cinfo;
    out->declared_width = (int32_t)cinfo->image_width;
    out->declared_height = (int32_t)cinfo->image_height;
    cio_status dims = cio_check_dimensions(cinfo->image_width, cinfo->image_height, max_pixels,
                                           ctx->message);
    if (dims != CIO_OK) return finish(ctx, dims, out);

    int cmyk = 0;
    switch (cinfo->jpeg_color_space) {
    case JCS_GRAYSCALE:
    case JCS_YCbCr:
    case JCS_RGB:
        cinfo->out_color_space = JCS_RGB;
        break;
    case JCS_CMYK:
    case JCS_YCCK:
        cinfo->out_color_space = JCS_CMYK;
        cmyk = 1;
        break;
    default:
        snprintf(ctx->message, sizeof ctx->message,
                 "unsupported JPEG colour space (%d components)", cinfo->num_components);
        return finish(ctx, CIO_ERR_UNSUPPORTED, out);
    }
    keep_exif(ctx);

    jpeg_start_decompress(cinfo);
    if (ctx->hit_eof) {
        snprintf(ctx->message, sizeof ctx->message,
                 "data ends after %zu bytes, before the last scan", size);
        return finish(ctx, CIO_ERR_TRUNCATED, out);
    }
    const size_t width = cinfo->output_width, height = cinfo->output_height;
    if (width != cinfo->image_width || height != cinfo->image_height ||
        cinfo->output_components != (cmyk ? 4 : 3)) {
        snprintf(ctx->message, sizeof ctx->message, "unexpected output geometry");
        return finish(ctx, CIO_ERR_CORRUPT, out);
    }
    ctx->pixels = malloc(width * height * 3);
    if (!ctx->pixels) {
        snprintf(ctx->message, sizeof ctx->message, "out of memory for %zux%zu pixels", width,
                 height);
        return finish(ctx, CIO_ERR_NO_MEMORY, out);
    }
    if (cmyk) {
        ctx->row = malloc(width * 4);
        if (!ctx->row) {
            snprintf(ctx->message, sizeof ctx->message, "out of memory for a row");
            return finish(ctx, CIO_ERR_NO_MEMORY, out);
        }
    }
    while (cinfo->output_scanline < height) {
        size_t y = cinfo->output_scanline;
        JSAMPROW row = cmyk ? ctx->row : ctx->pixels + y * width * 3;
        if (jpeg_read_scanlines(cinfo, &row, 1) != 1) {
            /* The memory source never suspends; no progress means the stream is broken. */
            snprintf(ctx->message, sizeof ctx->message, "decoder made no progress at row %zu", y);
            return finish(ctx, CIO_ERR_CORRUPT, out);
        }
        if (cmyk) cmyk_row_to_rgb(ctx->row, ctx->pixels + y * width * 3, (int)width);
        if (ctx->hit_eof) {
            snprintf(ctx->message, sizeof ctx->message,
                     "data ends after %zu bytes, at row %zu of %zu", size, y, height);
            return finish(ctx, CIO_ERR_TRUNCATED, out);
        }
    }
    /* All rows are decoded. Like PIL ("image file is truncated"), a stream that ends before
     * its EOI marker still counts as truncated; other trouble after the last scan does not. */
    ctx->finishing = 1;
    jpeg_finish_decompress(cinfo);
    if (ctx->hit_eof) {
        snprintf(ctx->message, sizeof ctx->message,
                 "data ends after %zu bytes, before the EOI marker", size);
        return finish(ctx, CIO_ERR_TRUNCATED, out);
    }
    out->width = (int32_t)width;
    out->height = (int32_t)height;
    return finish(ctx, CIO_OK, out);
}
