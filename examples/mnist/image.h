/* image.h — 8-bit grayscale images from PGM (P2/P5) and PNG files.
 *
 *     mt_image img;
 *     if (mt_image_load("digit.png", 0, &img) != MT_OK) {
 *         fprintf(stderr, "%s\n", mt_last_error());  // "digit.png: …"
 *         return 1;
 *     }
 *     // img.width × img.height bytes at img.pixels, 0 = black, 255 = white
 *     mt_image_free(&img);
 *
 * PNG goes through libpng (any bit depth or colour type, converted to gray;
 * transparent pixels are composited onto the gray level `matte`). A build
 * without libpng reads PGM only and fails on PNG with MT_ERR_UNSUPPORTED
 * ("… built without PNG support"). Images are limited to 16384×16384.
 *
 * Part of the mnist example's input readers, which belong in io/ and will
 * move there.
 */
#ifndef MNIST_IMAGE_H
#define MNIST_IMAGE_H

#include <stddef.h>
#include <stdint.h>

#include "minitensor/error.h"

#define MT_IMAGE_MAX_SIDE 16384

typedef struct mt_image {
    int width, height;
    uint8_t *pixels;  /* width·height bytes, row-major; mt_alloc'ed */
} mt_image;

/* Load `path`, telling PGM from PNG by the first bytes. Messages start with
 * the path. MT_ERR_IO (unreadable), MT_ERR_FORMAT (not a PGM or PNG image,
 * or a broken one), MT_ERR_UNSUPPORTED (PNG without libpng). *img is zeroed
 * on failure. */
mt_status mt_image_load(const char *path, uint8_t matte, mt_image *img);

/* Release the pixels; zeroes *img. Safe on a zeroed mt_image. */
void mt_image_free(mt_image *img);

/* The decoders behind mt_image_load, over bytes in memory; `label` starts
 * every message. */
mt_status mt_pgm_decode(const unsigned char *bytes, size_t size,
                        const char *label, mt_image *img);
mt_status mt_png_decode(const unsigned char *bytes, size_t size,
                        const char *label, uint8_t matte, mt_image *img);

#endif
