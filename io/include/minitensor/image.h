/* minitensor/image.h — 8-bit grayscale images from PGM (P2/P5) and PNG
 * files.
 *
 *     mt_image img;
 *     if (mt_image_load("digit.png", 0, &img) != MT_OK) {
 *         fprintf(stderr, "%s\n", mt_last_error());  // "digit.png: …"
 *         return 1;
 *     }
 *     // img.width × img.height bytes at img.pixels, 0 = black, 255 = white
 *     mt_image_free(&img);
 *
 * PGM: P2 (text) and P5 (binary), maxval 1..65535, scaled to 0..255; data
 * after the first image is ignored. PNG goes through libpng (any bit depth
 * or colour type), converted to gray as Pillow's convert("L") does: the
 * stored samples (no gamma correction), 16-bit ones scaled to 8 bits, colour
 * to ITU-R 601-2 luma; transparent pixels are composited onto the gray level
 * `matte`, (L·A + matte·(255−A)) / 255. A build without libpng (meson -Dpng=disabled, or
 * wasm32) reads PGM only and fails on PNG with MT_ERR_UNSUPPORTED ("… built
 * without PNG support"); mt_image_png_supported() tells which build you
 * have. Images are limited to MT_IMAGE_MAX_SIDE on each side, files to
 * MT_IMAGE_MAX_FILE bytes (16 MiB: a 4096×4096 8-bit P5 image), checked
 * before anything is read.
 *
 * Only regular files are read: a FIFO, a device (/dev/zero) or a directory
 * fails at once with MT_ERR_IO ("PATH: not a regular file (it is a FIFO)…").
 * PNG files must be complete (up to IEND) and a palette image's pixels must
 * all index its palette.
 */
#ifndef MINITENSOR_IMAGE_H
#define MINITENSOR_IMAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "minitensor/error.h"

#ifdef __cplusplus
extern "C" {
#endif

#define MT_IMAGE_MAX_SIDE 16384
#define MT_IMAGE_MAX_FILE ((size_t)16 << 20)

typedef struct mt_image {
    int width, height;
    uint8_t *pixels;  /* width·height bytes, row-major; from mt_alloc */
} mt_image;

/* Load `path`, telling PGM from PNG by the first bytes. Messages start with
 * the path. MT_ERR_IO (unreadable, or not a regular file), MT_ERR_FORMAT
 * (larger than MT_IMAGE_MAX_FILE, not a PGM or PNG image, or a broken
 * one), MT_ERR_UNSUPPORTED (PNG without libpng),
 * MT_ERR_OUT_OF_MEMORY. *img is zeroed on failure; on success release it
 * with mt_image_free. */
mt_status mt_image_load(const char *path, uint8_t matte, mt_image *img);

/* Release the pixels; zeroes *img. Safe on a zeroed mt_image. */
void mt_image_free(mt_image *img);

/* The decoders behind mt_image_load, over bytes in memory (not kept);
 * `label` starts every message. Same errors and ownership. */
mt_status mt_pgm_decode(const unsigned char *bytes, size_t size,
                        const char *label, mt_image *img);
mt_status mt_png_decode(const unsigned char *bytes, size_t size,
                        const char *label, uint8_t matte, mt_image *img);

/* True if this build decodes PNG (built with libpng). */
bool mt_image_png_supported(void);

#ifdef __cplusplus
}
#endif
#endif
