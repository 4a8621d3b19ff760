/* gzip.c — gzip streams decompressed in memory through zlib (optional:
 * meson -Dzlib=…). Without zlib every call reports that. */
#include <string.h>

#include "formats_internal.h"
#include "minitensor/memory.h"

bool io_is_gzip(const unsigned char *bytes, size_t size)
{
    return size >= 2 && bytes[0] == 0x1f && bytes[1] == 0x8b;
}

#ifdef MT_HAVE_ZLIB
#include <limits.h>
#include <stdint.h>
#include <zlib.h>

/* zlib's memory, counted with the rest of minitensor's. */
static voidpf z_alloc(voidpf opaque, uInt items, uInt size)
{
    (void)opaque;
    return mt_alloc((size_t)items * size, 16);
}

static void z_free(voidpf opaque, voidpf p)
{
    (void)opaque;
    mt_dealloc(p);
}

/* Grow *buf (holding `len` bytes) to at least `want` bytes, at most limit+1
 * (one byte more than allowed: reaching it means "too large"). */
static bool grow(unsigned char **buf, size_t len, size_t *cap, size_t want, size_t limit)
{
    size_t grown = *cap ? *cap : 64 * 1024;
    while (grown < want)
        grown = grown > SIZE_MAX / 2 ? SIZE_MAX : 2 * grown;
    if (grown > limit + 1)
        grown = limit + 1;
    unsigned char *p = mt_alloc(grown, 64);
    if (!p)
        return false;
    if (len)
        memcpy(p, *buf, len);
    mt_dealloc(*buf);
    *buf = p;
    *cap = grown;
    return true;
}

static mt_status inflate_all(z_stream *zs, const unsigned char *gz, size_t size,
                             const char *label, size_t limit, unsigned char **buf,
                             size_t *len)
{
    size_t cap = 0, in_used = 0;
    /* ISIZE (the last 4 bytes: the size mod 2^32) is a good first guess,
     * unless it is more than deflate can expand to (1032:1): a lie. */
    size_t hint = size >= 18 ? (size_t)gz[size - 4] | (size_t)gz[size - 3] << 8 |
                                   (size_t)gz[size - 2] << 16 | (size_t)gz[size - 1] << 24
                             : 0;
    if (hint / 1032 > size)
        hint = 0;
    if (!grow(buf, 0, &cap, hint && hint <= limit ? hint + 1 : 64 * 1024, limit))
        return mt_fail(MT_ERR_OUT_OF_MEMORY, "%s: out of memory", label);
    for (;;) {
        if (*len == cap) {
            if (cap > limit)
                return mt_fail(MT_ERR_FORMAT, "%s: larger than %zu bytes once "
                               "decompressed", label, limit);
            if (!grow(buf, *len, &cap, cap + 1, limit))
                return mt_fail(MT_ERR_OUT_OF_MEMORY, "%s: out of memory", label);
        }
        size_t in_left = size - in_used, out_left = cap - *len;
        zs->next_in = (Bytef *)(gz + in_used);
        zs->avail_in = in_left > UINT_MAX ? UINT_MAX : (uInt)in_left;
        zs->next_out = *buf + *len;
        zs->avail_out = out_left > UINT_MAX ? UINT_MAX : (uInt)out_left;
        uInt in_before = zs->avail_in, out_before = zs->avail_out;
        int z = inflate(zs, Z_NO_FLUSH);
        in_used += in_before - zs->avail_in;
        *len += out_before - zs->avail_out;
        if (*len > limit)
            return mt_fail(MT_ERR_FORMAT, "%s: larger than %zu bytes once decompressed",
                           label, limit);
        if (z == Z_STREAM_END) {
            if (in_used == size)
                return MT_OK;
            if (!io_is_gzip(gz + in_used, size - in_used))   /* another member? */
                return mt_fail(MT_ERR_FORMAT, "%s: %zu bytes of trailing data after the "
                               "gzip stream", label, size - in_used);
            inflateReset(zs);
        } else if (z == Z_DATA_ERROR || z == Z_NEED_DICT) {
            return mt_fail(MT_ERR_FORMAT, "%s: corrupt gzip data (%s)", label,
                           zs->msg ? zs->msg : "invalid stream");
        } else if (z == Z_MEM_ERROR) {
            return mt_fail(MT_ERR_OUT_OF_MEMORY, "%s: out of memory in zlib", label);
        } else if (z == Z_BUF_ERROR && in_used == size && zs->avail_out > 0) {
            return mt_fail(MT_ERR_FORMAT, "%s: truncated gzip stream (it ends after %zu "
                           "bytes)", label, size);
        } else if (z != Z_OK && z != Z_BUF_ERROR) {
            return mt_fail(MT_ERR_FORMAT, "%s: gzip error %d", label, z);
        }
    }
}

mt_status io_gunzip(const unsigned char *gz, size_t size, const char *label,
                    size_t limit, unsigned char **bytes, size_t *out_size)
{
    *bytes = NULL;
    *out_size = 0;
    if (!io_is_gzip(gz, size))
        return mt_fail(MT_ERR_FORMAT, "%s: not gzip data", label);
    z_stream zs;
    memset(&zs, 0, sizeof zs);
    zs.zalloc = z_alloc;
    zs.zfree = z_free;
    if (inflateInit2(&zs, 16 + MAX_WBITS) != Z_OK)   /* gzip wrapper only */
        return mt_fail(MT_ERR_OUT_OF_MEMORY, "%s: cannot start zlib", label);
    unsigned char *buf = NULL;
    size_t len = 0;
    mt_status s = inflate_all(&zs, gz, size, label, limit, &buf, &len);
    inflateEnd(&zs);
    if (s || len == 0) {
        mt_dealloc(buf);
        return s;
    }
    *bytes = buf;
    *out_size = len;
    return MT_OK;
}

#else

mt_status io_gunzip(const unsigned char *gz, size_t size, const char *label,
                    size_t limit, unsigned char **bytes, size_t *out_size)
{
    (void)gz, (void)size, (void)limit;
    *bytes = NULL;
    *out_size = 0;
    return mt_fail(MT_ERR_UNSUPPORTED, "%s: gzip-compressed, but minitensor was built "
                   "without zlib (reconfigure with -Dzlib=enabled and zlib1g-dev "
                   "installed, or gunzip the file first)", label);
}

#endif
