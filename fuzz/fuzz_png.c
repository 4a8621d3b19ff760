/* fuzz_png.c — libFuzzer target: arbitrary bytes through the PNG decoder
 * (libpng: the header through the simplified API, the pixels row by row,
 * then minitensor's strictness pass); every pixel of an accepted image is
 * touched. Inputs whose IHDR announces more
 * than 2^20 pixels are skipped: they only make libpng allocate and fill
 * large buffers, which slows the search without reaching new code of ours.
 * Build and run with fuzz/run.sh SECONDS png. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "minitensor/image.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint32_t be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size >= 24 && (uint64_t)be32(data + 16) * be32(data + 20) > (1u << 20))
        return 0;
    mt_image img;
    if (mt_png_decode(data, size, "fuzz", 0, &img) != MT_OK) {
        if (img.pixels)
            abort();   /* zeroed on failure */
        return 0;
    }
    if (img.width < 1 || img.height < 1)
        abort();
    unsigned sum = 0;
    for (size_t i = 0; i < (size_t)img.width * (size_t)img.height; i++)
        sum += img.pixels[i];
    (void)sum;
    mt_image_free(&img);
    return 0;
}
