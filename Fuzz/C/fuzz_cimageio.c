/* libFuzzer target for the CImageIO shim itself (no Swift in the loop): cio_decode on
 * arbitrary bytes, both the JPEG and the PNG decoder, plus a PNG round trip of what decodes.
 * Built by scripts/fuzz.sh:
 *   clang -O1 -g -fsanitize=fuzzer,address -ISources/CImageIO/include Sources/CImageIO/*.c \
 *         Fuzz/C/fuzz_cimageio.c -ljpeg -lpng
 * Checks the shim's contract from cimageio.h: `out` is always initialised, errors leave no
 * buffers behind (LeakSanitizer), a message is set on failure, and a success describes a
 * consistent RGB8 image. */
#include "cimageio.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* 4 megapixels: large enough for every seed, small enough that a fuzzed header cannot make
 * one input take seconds (the limit path is itself part of what is tested). */
#define FUZZ_MAX_PIXELS 4000000

static void check(int condition, const char *what) {
    if (!condition) {
        /* A contract violation is a finding: crash so libFuzzer saves the input. */
        __builtin_trap();
    }
    (void)what;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    cio_image image;
    memset(&image, 0xA5, sizeof image); /* garbage in: cio_decode must initialise `out` */
    cio_status status = cio_decode(data, size, FUZZ_MAX_PIXELS, &image);
    if (status == CIO_OK) {
        check(image.width > 0 && image.height > 0, "positive dimensions");
        check((int64_t)image.width * image.height <= FUZZ_MAX_PIXELS, "pixel limit honoured");
        check(image.pixels != NULL, "pixels present");
        check((image.exif == NULL) == (image.exif_size == 0), "exif pointer/size agree");
        /* Touch the last pixel byte: ASan flags a short buffer. */
        volatile uint8_t last = image.pixels[(size_t)image.width * image.height * 3 - 1];
        (void)last;
        if (image.exif_size > 0) {
            volatile uint8_t e = image.exif[image.exif_size - 1];
            (void)e;
        }
        /* Small images: encode what was decoded and decode it again, which must succeed. */
        if ((int64_t)image.width * image.height <= 4096) {
            uint8_t *png = NULL;
            size_t png_size = 0;
            char message[CIO_MESSAGE_SIZE];
            check(cio_encode_png_rgb8(image.pixels, image.width, image.height, &png, &png_size, message) == CIO_OK,
                  "re-encode succeeds");
            cio_image again;
            check(cio_decode(png, png_size, FUZZ_MAX_PIXELS, &again) == CIO_OK, "round trip decodes");
            check(again.width == image.width && again.height == image.height, "round trip keeps size");
            check(memcmp(again.pixels, image.pixels, (size_t)image.width * image.height * 3) == 0,
                  "round trip keeps pixels");
            cio_image_free(&again);
            cio_free(png);
        }
    } else {
        check(image.pixels == NULL && image.exif == NULL && image.exif_size == 0, "no buffers on error");
        check(memchr(image.message, 0, CIO_MESSAGE_SIZE) != NULL, "message is terminated");
    }
    cio_image_free(&image);
    cio_image_free(&image); /* documented as safe on an already-freed image */
    return 0;
}
