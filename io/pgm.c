/* pgm.c — the PGM decoder: P2 (text) and P5 (binary), maxval 1..65535,
 * scaled to 0..255. Trailing data (further images) is ignored. */
#include <stdbool.h>
#include <string.h>

#include "minitensor/image.h"
#include "minitensor/memory.h"

typedef struct cursor {
    const unsigned char *p, *end;
} cursor;

static int is_space(int c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

/* Skip whitespace and '#' comments (to the end of the line). */
static void skip_blanks(cursor *c)
{
    while (c->p < c->end && (is_space(*c->p) || *c->p == '#')) {
        if (*c->p == '#')
            while (c->p < c->end && *c->p != '\n')
                c->p++;
        else
            c->p++;
    }
}

/* A decimal number <= max, after blanks; false if there is none. */
static bool read_uint(cursor *c, long max, long *value)
{
    skip_blanks(c);
    if (c->p == c->end || *c->p < '0' || *c->p > '9')
        return false;
    long v = 0;
    while (c->p < c->end && *c->p >= '0' && *c->p <= '9') {
        v = v * 10 + (*c->p++ - '0');
        if (v > max)
            return false;
    }
    *value = v;
    return true;
}

mt_status mt_pgm_decode(const unsigned char *bytes, size_t size, const char *label,
                        mt_image *img)
{
    if (!img || (!bytes && size))
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "pgm_decode: %s is NULL",
                       img ? "bytes" : "img");
    memset(img, 0, sizeof *img);
    if (!label)
        label = "PGM data";
    if (size < 2 || bytes[0] != 'P' || (bytes[1] != '2' && bytes[1] != '5'))
        return mt_fail(MT_ERR_FORMAT, "%s: not a PGM image", label);
    cursor c = {bytes + 2, bytes + size};
    bool text = bytes[1] == '2';
    long w, h, maxval;
    if (!read_uint(&c, MT_IMAGE_MAX_SIDE, &w) || !read_uint(&c, MT_IMAGE_MAX_SIDE, &h) ||
        !read_uint(&c, 65535, &maxval) || w < 1 || h < 1 || maxval < 1)
        return mt_fail(MT_ERR_FORMAT, "%s: bad PGM header (width, height 1..%d, "
                       "maxval 1..65535)", label, MT_IMAGE_MAX_SIDE);
    if (c.p == c.end || !is_space(*c.p))
        return mt_fail(MT_ERR_FORMAT, "%s: bad PGM header", label);
    c.p++;   /* the single whitespace before the raster */
    size_t n = (size_t)w * (size_t)h, bps = maxval > 255 ? 2 : 1;
    if (!text && (size_t)(c.end - c.p) < n * bps)
        return mt_fail(MT_ERR_FORMAT, "%s: truncated: a %ldx%ld PGM needs %zu bytes of "
                       "pixels, %zu follow", label, w, h, n * bps, (size_t)(c.end - c.p));
    /* P2: a digit per pixel and a blank between two, at least. Checked
     * before allocating: a 20-byte header must not cost 256 MiB. */
    if (text && (size_t)(c.end - c.p) < 2 * n - 1)
        return mt_fail(MT_ERR_FORMAT, "%s: truncated: a %ldx%ld text PGM needs at least "
                       "%zu bytes of pixels, %zu follow", label, w, h, 2 * n - 1,
                       (size_t)(c.end - c.p));
    uint8_t *px = mt_alloc(n, 64);
    if (!px)
        return mt_fail(MT_ERR_OUT_OF_MEMORY, "%s: out of memory", label);
    for (size_t i = 0; i < n; i++) {
        long v = 0;
        if (!text) {
            v = bps == 1 ? c.p[i] : c.p[2 * i] << 8 | c.p[2 * i + 1];
        } else if (!read_uint(&c, maxval, &v)) {
            mt_dealloc(px);
            return mt_fail(MT_ERR_FORMAT, "%s: pixel %zu of %zu is missing or above "
                           "maxval %ld", label, i, n, maxval);
        }
        if (v > maxval) {
            mt_dealloc(px);
            return mt_fail(MT_ERR_FORMAT, "%s: pixel %zu is %ld, above maxval %ld", label,
                           i, v, maxval);
        }
        px[i] = (uint8_t)((v * 255 + maxval / 2) / maxval);
    }
    img->width = (int)w;
    img->height = (int)h;
    img->pixels = px;
    return MT_OK;
}
