/* png.c — the PNG decoder: libpng's simplified API, any PNG to 8-bit gray.
 * Without libpng (meson -Dpng=disabled, or wasm32) it reports that. */
#include <string.h>

#include "minitensor/image.h"
#include "minitensor/memory.h"

#ifdef MT_HAVE_PNG
#include <png.h>
#include <setjmp.h>
#include <stdio.h>

/* ---- the strictness pass ----------------------------------------------------
 * The simplified API decodes well but forgives two things that change what
 * a model sees: pixels indexing past the end of the palette (they come out
 * black) and a file that stops before IEND (never read). One pass through
 * libpng's row reader, with no conversion, checks both. */

typedef struct check_ctx {
    const unsigned char *bytes;
    size_t size, pos;
    bool ran_out;        /* a read past the end of the bytes */
    char message[160];
} check_ctx;

static void check_read(png_structp png, png_bytep out, size_t n)
{
    check_ctx *c = png_get_io_ptr(png);
    if (c->size - c->pos < n) {
        c->ran_out = true;
        png_error(png, "the file ends early");
    }
    memcpy(out, c->bytes + c->pos, n);
    c->pos += n;
}

static void check_error(png_structp png, png_const_charp msg)
{
    check_ctx *c = png_get_error_ptr(png);
    snprintf(c->message, sizeof c->message, "%s", msg);
    png_longjmp(png, 1);
}

static void check_warning(png_structp png, png_const_charp msg)
{
    (void)png, (void)msg;   /* warnings are not failures; the decode pass had them too */
}

/* Read every row (no transformations) and the chunks after the image, up to
 * IEND. Called once the simplified API decoded the image, so the header is
 * known to be sane (sides <= MT_IMAGE_MAX_SIDE). */
static mt_status check_strict(const unsigned char *bytes, size_t size, const char *label)
{
    check_ctx c = {.bytes = bytes, .size = size};
    png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &c, check_error,
                                             check_warning);
    png_infop info = png ? png_create_info_struct(png) : NULL;
    if (!info) {
        png_destroy_read_struct(&png, NULL, NULL);
        return mt_fail(MT_ERR_OUT_OF_MEMORY, "%s: out of memory", label);
    }
    png_bytep volatile row = NULL;
    int max_index, colours;
    if (setjmp(png_jmpbuf(png))) {
        png_free(png, row);
        png_destroy_read_struct(&png, &info, NULL);
        if (c.ran_out)
            return mt_fail(MT_ERR_FORMAT, "%s: bad PNG: the file ends before its IEND chunk "
                           "(truncated)", label);
        return mt_fail(MT_ERR_FORMAT, "%s: bad PNG: %s", label, c.message);
    }
    png_set_read_fn(png, &c, check_read);
    png_set_check_for_invalid_index(png, 1);
    png_read_info(png, info);
    int passes = png_set_interlace_handling(png);
    png_read_update_info(png, info);
    row = png_malloc(png, png_get_rowbytes(png, info));
    png_uint_32 height = png_get_image_height(png, info);
    for (int pass = 0; pass < passes; pass++)
        for (png_uint_32 y = 0; y < height; y++)
            png_read_row(png, row, NULL);
    if (png_get_color_type(png, info) == PNG_COLOR_TYPE_PALETTE) {
        png_colorp palette;
        int n = 0;
        png_get_PLTE(png, info, &palette, &n);
        colours = n;
        max_index = png_get_palette_max(png, info);
        if (max_index >= colours) {
            png_free(png, row);
            png_destroy_read_struct(&png, &info, NULL);
            return mt_fail(MT_ERR_FORMAT, "%s: bad PNG: a pixel uses palette index %d, but "
                           "the palette has %d colours", label, max_index, colours);
        }
    }
    png_read_end(png, NULL);
    png_free(png, row);
    png_destroy_read_struct(&png, &info, NULL);
    return MT_OK;
}

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
    mt_status s = check_strict(bytes, size, label);
    if (s) {
        mt_dealloc(px);
        return s;
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
