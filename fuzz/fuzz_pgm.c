/* fuzz_pgm.c — libFuzzer target: arbitrary bytes through the PGM decoder
 * (P2 and P5); every pixel of an accepted image is touched. Build and run
 * with fuzz/run.sh SECONDS pgm. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "minitensor/image.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    mt_image img;
    if (mt_pgm_decode(data, size, "fuzz", &img) != MT_OK) {
        if (img.pixels)
            abort();   /* zeroed on failure */
        return 0;
    }
    if (img.width < 1 || img.height < 1 || img.width > MT_IMAGE_MAX_SIDE ||
        img.height > MT_IMAGE_MAX_SIDE)
        abort();
    unsigned sum = 0;
    for (size_t i = 0; i < (size_t)img.width * (size_t)img.height; i++)
        sum += img.pixels[i];
    (void)sum;
    mt_image_free(&img);
    return 0;
}
