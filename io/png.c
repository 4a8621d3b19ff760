/* png.c — the PNG decoder: any PNG to 8-bit gray through libpng (the header
 * checked by the simplified API, the pixels read row by row).
 * Without libpng (meson -Dpng=disabled, or wasm32) it reports that. */
#include <string.h>

#include "minitensor/image.h"
#include "minitensor/memory.h"

#ifdef MT_HAVE_PNG
#include <png.h>
#include <setjmp.h>
#include <stdio.h>

/* ---- the chunk walk ----------------------------------------------------------
 * Before libpng sees the bytes: every chunk's length fits in what is left
 * of the file, and the chunks reach IEND. libpng allocates a buffer of the
 * announced length for some chunks (sPLT, iCCP, …) before reading them: a
 * 100-byte file announcing a 1.9 GB chunk made it allocate and clear 1.9 GB
 * (found by fuzz_png). */
static uint32_t be32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

typedef struct png_walk {
    bool complete;       /* IEND reached */
    uint64_t idat;       /* bytes of image data (all IDAT chunks) */
    uint64_t raw_min;    /* bytes the IHDR's image needs uncompressed, at least */
} png_walk;

/* Scanline bytes without filter bytes: less than any layout needs. */
static uint64_t raw_bytes(const unsigned char *ihdr)
{
    static const unsigned channels[7] = {1, 0, 3, 1, 2, 0, 4};
    uint64_t w = be32(ihdr), h = be32(ihdr + 4);
    unsigned depth = ihdr[8], colour = ihdr[9];
    if (colour > 6 || !channels[colour] || depth > 16)
        return 0;   /* libpng reports it */
    return h * ((w * channels[colour] * depth + 7) / 8);
}

static mt_status walk_chunks(const unsigned char *bytes, size_t size, const char *label,
                             png_walk *walk)
{
    size_t pos = 8;   /* after the signature */
    memset(walk, 0, sizeof *walk);
    for (;;) {
        if (size - pos < 12)
            return MT_OK;   /* no IEND: reported once the header was checked */
        uint32_t len = be32(bytes + pos);
        const unsigned char *type = bytes + pos + 4;
        bool named = true;   /* four ASCII letters, as every chunk type is */
        for (int i = 0; i < 4; i++)
            named = named && ((type[i] | 0x20) >= 'a' && (type[i] | 0x20) <= 'z');
        if (len > size - pos - 12 && named)
            return mt_fail(MT_ERR_FORMAT, "%s: bad PNG: chunk '%.4s' announces %lu bytes, "
                           "more than the %zu left in the file (truncated)", label,
                           (const char *)type, (unsigned long)len, size - pos - 12);
        if (len > size - pos - 12)
            return mt_fail(MT_ERR_FORMAT, "%s: bad PNG: the chunk at byte %zu announces "
                           "%lu bytes, more than the %zu left in the file", label, pos,
                           (unsigned long)len, size - pos - 12);
        if (named && len == 13 && pos == 8 && memcmp(type, "IHDR", 4) == 0)
            walk->raw_min = raw_bytes(bytes + pos + 8);
        if (named && memcmp(type, "IDAT", 4) == 0)
            walk->idat += len;
        pos += 12 + (size_t)len;
        if (named && memcmp(type, "IEND", 4) == 0) {
            walk->complete = true;
            return MT_OK;
        }
    }
}

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

/* Read every row (only unpacked to a byte per pixel) and the chunks after
 * the image, up to IEND. Called once the simplified API decoded the image,
 * so the header is known to be sane (sides <= MT_IMAGE_MAX_SIDE). The
 * context lives in the caller's frame: what the callbacks write to it
 * survives the longjmp (locals of this function changed after setjmp
 * would not be guaranteed to). */
static mt_status check_strict(check_ctx *c, const char *label)
{
    png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, c, check_error,
                                             check_warning);
    png_infop info = png ? png_create_info_struct(png) : NULL;
    if (!info) {
        png_destroy_read_struct(&png, NULL, NULL);
        return mt_fail(MT_ERR_OUT_OF_MEMORY, "%s: out of memory", label);
    }
    png_bytep volatile row = NULL;
    if (setjmp(png_jmpbuf(png))) {
        png_free(png, row);
        png_destroy_read_struct(&png, &info, NULL);
        if (c->ran_out)
            return mt_fail(MT_ERR_FORMAT, "%s: bad PNG: the file ends before its IEND chunk "
                           "(truncated)", label);
        return mt_fail(MT_ERR_FORMAT, "%s: bad PNG: %s", label, c->message);
    }
    png_set_read_fn(png, c, check_read);
    png_read_info(png, info);
    bool palette = png_get_color_type(png, info) == PNG_COLOR_TYPE_PALETTE;
    png_colorp plte;
    int colours = 0;
    if (palette && !png_get_PLTE(png, info, &plte, &colours))
        png_error(png, "a palette image without a palette");
    png_set_packing(png);   /* one byte per index, even at 1, 2 or 4 bits */
    int passes = png_set_interlace_handling(png);
    png_read_update_info(png, info);
    size_t rowbytes = png_get_rowbytes(png, info);
    row = png_malloc(png, rowbytes);
    png_uint_32 height = png_get_image_height(png, info);
    for (int pass = 0; pass < passes; pass++) {
        for (png_uint_32 y = 0; y < height; y++) {
            /* zeros: an interlaced pass fills only its own pixels, and
             * index 0 always exists */
            memset(row, 0, rowbytes);
            png_read_row(png, row, NULL);
            for (size_t x = 0; palette && x < rowbytes; x++) {
                if (row[x] >= colours) {
                    int index = row[x];
                    png_free(png, row);
                    png_destroy_read_struct(&png, &info, NULL);
                    return mt_fail(MT_ERR_FORMAT, "%s: bad PNG: a pixel uses palette "
                                   "index %d, but the palette has %d colours", label,
                                   index, colours);
                }
            }
        }
    }
    png_read_end(png, NULL);
    png_free(png, row);
    png_destroy_read_struct(&png, &info, NULL);
    return MT_OK;
}

/* ---- the gray pixels -----------------------------------------------------
 * Gray as Pillow's convert("L") makes it, which is what Keras' load_img and
 * torchvision's Grayscale hand a model: the samples as stored (gAMA, cHRM,
 * sRGB and iCCP do not change them), 16-bit samples scaled to 8 bits
 * (round(v * 255 / 65535)), colour to ITU-R 601-2 luma
 * L = (19595 R + 38470 G + 7471 B + 2^15) >> 16. Alpha (a channel, or tRNS)
 * composites L onto `matte` in the same stored values:
 * (L A + matte (255 - A)) / 255. libpng's simplified API converted in linear
 * light instead: pure red came out 127 (Pillow: 76), green 220 (150), 50%
 * gray at 50% alpha over black 93 (64). One row buffer, whatever the size;
 * an interlaced pass fills only its own pixels of a row. */
static mt_status decode_gray(check_ctx *c, const char *label, uint8_t matte, uint8_t *px)
{
    png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, c, check_error,
                                             check_warning);
    png_infop info = png ? png_create_info_struct(png) : NULL;
    if (!info) {
        png_destroy_read_struct(&png, NULL, NULL);
        return mt_fail(MT_ERR_OUT_OF_MEMORY, "%s: out of memory", label);
    }
    png_bytep volatile row = NULL;
    if (setjmp(png_jmpbuf(png))) {
        png_free(png, row);
        png_destroy_read_struct(&png, &info, NULL);
        if (c->ran_out)
            return mt_fail(MT_ERR_FORMAT, "%s: bad PNG: the image data ends early "
                           "(truncated)", label);
        return mt_fail(MT_ERR_FORMAT, "%s: bad PNG: %s", label, c->message);
    }
    png_set_read_fn(png, c, check_read);
    png_read_info(png, info);
    png_set_expand(png);     /* palette to RGB, gray below 8 bits to 8, tRNS to alpha */
    png_set_scale_16(png);
    int passes = png_set_interlace_handling(png);
    png_read_update_info(png, info);
    unsigned channels = png_get_channels(png, info);   /* G, GA, RGB or RGBA */
    png_uint_32 width = png_get_image_width(png, info);
    png_uint_32 height = png_get_image_height(png, info);
    row = png_malloc(png, png_get_rowbytes(png, info));
    for (int pass = 0; pass < passes; pass++) {
        for (png_uint_32 y = 0; y < height; y++) {
            png_read_row(png, row, NULL);
            if (passes > 1 && !PNG_ROW_IN_INTERLACE_PASS(y, pass))
                continue;
            for (png_uint_32 x = 0; x < width; x++) {
                if (passes > 1 && !PNG_COL_IN_INTERLACE_PASS(x, pass))
                    continue;
                const png_byte *p = row + (size_t)x * channels;
                uint32_t l = channels >= 3
                                 ? (19595u * p[0] + 38470u * p[1] + 7471u * p[2] + 0x8000u) >> 16
                                 : p[0];
                if (channels == 2 || channels == 4) {
                    uint32_t a = p[channels - 1];
                    l = (l * a + matte * (255u - a) + 127u) / 255u;
                }
                px[(size_t)y * width + x] = (uint8_t)l;
            }
        }
    }
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
    static const unsigned char magic[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    png_walk walk = {false, 0, 0};
    if (size >= 8 && memcmp(bytes, magic, 8) == 0) {
        mt_status s = walk_chunks(bytes, size, label, &walk);
        if (s)
            return s;
    }
    if (!png_image_begin_read_from_memory(&im, bytes, size))
        return mt_fail(MT_ERR_FORMAT, "%s: bad PNG: %s", label, im.message);
    if (im.width > MT_IMAGE_MAX_SIDE || im.height > MT_IMAGE_MAX_SIDE) {
        png_image_free(&im);
        return mt_fail(MT_ERR_FORMAT, "%s: a %ux%u PNG is larger than %dx%d", label,
                       (unsigned)im.width, (unsigned)im.height, MT_IMAGE_MAX_SIDE,
                       MT_IMAGE_MAX_SIDE);
    }
    if (!walk.complete) {
        png_image_free(&im);
        return mt_fail(MT_ERR_FORMAT, "%s: bad PNG: the file ends before its IEND chunk "
                       "(truncated)", label);
    }
    /* deflate expands at most 1032:1: checked before the pixels are
     * allocated, a small file cannot claim a huge image */
    if (walk.idat * 1032 + 1024 < walk.raw_min) {
        png_image_free(&im);
        return mt_fail(MT_ERR_FORMAT, "%s: bad PNG: %llu bytes of image data cannot hold "
                       "a %ux%u image (truncated)", label, (unsigned long long)walk.idat,
                       (unsigned)im.width, (unsigned)im.height);
    }
    png_uint_32 width = im.width, height = im.height;
    png_image_free(&im);   /* the header is sane: the pixels come from decode_gray */
    uint8_t *px = mt_alloc((size_t)width * height, 64);
    if (!px)
        return mt_fail(MT_ERR_OUT_OF_MEMORY, "%s: out of memory", label);
    check_ctx decode = {.bytes = bytes, .size = size};
    mt_status s = decode_gray(&decode, label, matte, px);
    check_ctx strict = {.bytes = bytes, .size = size};
    if (!s)
        s = check_strict(&strict, label);
    if (s) {
        mt_dealloc(px);
        return s;
    }
    img->width = (int)width;
    img->height = (int)height;
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
