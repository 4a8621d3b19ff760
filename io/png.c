/* png.c — the PNG decoder: libpng's simplified API, any PNG to 8-bit gray.
 * Without libpng (meson -Dpng=disabled, or wasm32) it reports that. */
#include <string.h>

#include "minitensor/image.h"
#include "minitensor/memory.h"

#ifdef MT_HAVE_PNG
#include <png.h>

mt_status mt_png_decode(const unsigned char *bytes, size_t size, const char *label,
                        uint8_t matte, mt_image *img)
{
    if (!img || (!bytes && size))
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "png_decode: %s is NULL",
                       img ? "bytes" : "img");
    memset(img, 0, sizeof *img);
    if (!label)
        label = "PNG data";
    png_image im;
    memset(&im, 0, sizeof im);
    im.version = PNG_IMAGE_VERSION;
    if (!png_image_begin_read_from_memory(&im, bytes, size))
        return mt_fail(MT_ERR_FORMAT, "%s: bad PNG: %s", label, im.message);
    if (im.width > MT_IMAGE_MAX_SIDE || im.height > MT_IMAGE_MAX_SIDE) {
        png_image_free(&im);
        return mt_fail(MT_ERR_FORMAT, "%s: a %ux%u PNG is larger than %dx%d", label,
                       (unsigned)im.width, (unsigned)im.height, MT_IMAGE_MAX_SIDE,
                       MT_IMAGE_MAX_SIDE);
    }
    im.format = PNG_FORMAT_GRAY;
    uint8_t *px = mt_alloc(PNG_IMAGE_SIZE(im), 64);
    if (!px) {
        png_image_free(&im);
        return mt_fail(MT_ERR_OUT_OF_MEMORY, "%s: out of memory", label);
    }
    png_color background = {matte, matte, matte};
    if (!png_image_finish_read(&im, &background, px, 0, NULL)) {
        png_image_free(&im);
        mt_dealloc(px);
        return mt_fail(MT_ERR_FORMAT, "%s: bad PNG: %s", label, im.message);
    }
    img->width = (int)im.width;
    img->height = (int)im.height;
    img->pixels = px;
    return MT_OK;
}

#else

mt_status mt_png_decode(const unsigned char *bytes, size_t size, const char *label,
                        uint8_t matte, mt_image *img)
{
    (void)bytes, (void)size, (void)matte;
    if (!img)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "png_decode: img is NULL");
    memset(img, 0, sizeof *img);
    return mt_fail(MT_ERR_UNSUPPORTED, "%s: a PNG image, but minitensor was built without "
                   "PNG support (reconfigure with -Dpng=enabled and libpng installed)",
                   label ? label : "PNG data");
}

#endif

bool mt_image_png_supported(void)
{
#ifdef MT_HAVE_PNG
    return true;
#else
    return false;
#endif
}
