/* gzip.c — gzip streams decompressed as they are read, through zlib
 * (optional: meson -Dzlib=…). Without zlib, opening a stream reports that.
 *
 * Nothing is decompressed ahead of the caller: inflate writes straight
 * into the caller's buffer, so what the caller asks for bounds the memory
 * and the time a gzip bomb can take. */
#include <string.h>

#include "formats_internal.h"
#include "minitensor/memory.h"

bool mt_io_is_gzip(const unsigned char *bytes, size_t size)
{
    return size >= 2 && bytes[0] == 0x1f && bytes[1] == 0x8b;
}

#ifdef MT_HAVE_ZLIB
#include <limits.h>
#include <zlib.h>

#define IN_BYTES (64 * 1024)

struct io_gz {
    z_stream zs;
    io_source *src;
    uint64_t in_limit, in_total;
    bool src_end;        /* the source has no more bytes */
    bool member_end;     /* a member ended: another follows, or nothing */
    bool end;            /* the last member ended and the source is empty */
    unsigned char in[IN_BYTES];
};

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

mt_status mt_io_gz_open(io_source *src, uint64_t in_limit, io_gz **out)
{
    *out = NULL;
    io_gz *gz = mt_alloc(sizeof *gz, 16);
    if (!gz)
        return mt_fail(MT_ERR_OUT_OF_MEMORY, "%s: out of memory", src->label);
    memset(gz, 0, offsetof(io_gz, in));
    gz->zs.zalloc = z_alloc;
    gz->zs.zfree = z_free;
    gz->src = src;
    gz->in_limit = in_limit;
    if (inflateInit2(&gz->zs, 16 + MAX_WBITS) != Z_OK) {   /* gzip wrapper only */
        mt_dealloc(gz);
        return mt_fail(MT_ERR_OUT_OF_MEMORY, "%s: out of memory starting zlib", src->label);
    }
    *out = gz;
    return MT_OK;
}

void mt_io_gz_close(io_gz *gz)
{
    if (!gz)
        return;
    inflateEnd(&gz->zs);
    mt_dealloc(gz);
}

/* Keep at least `want` (1 or 2) unread input bytes if the source has them. */
static mt_status fill(io_gz *gz, size_t want)
{
    while (gz->zs.avail_in < want && !gz->src_end) {
        if (gz->zs.avail_in)
            memmove(gz->in, gz->zs.next_in, gz->zs.avail_in);
        size_t have = gz->zs.avail_in, got;
        mt_status s = mt_io_source_read(gz->src, gz->in + have, IN_BYTES - have, &got);
        if (s)
            return s;
        gz->src_end = got == 0;
        gz->in_total += got;
        if (gz->in_total > gz->in_limit)
            return mt_fail(MT_ERR_FORMAT, "%s: more than %llu bytes of gzip data",
                           gz->src->label, (unsigned long long)gz->in_limit);
        gz->zs.next_in = gz->in;
        gz->zs.avail_in = (uInt)(have + got);
    }
    return MT_OK;
}

/* After a member: another member, or the end. */
static mt_status next_member(io_gz *gz)
{
    mt_status s = fill(gz, 2);
    if (s)
        return s;
    if (gz->zs.avail_in == 0) {
        gz->end = true;
        return MT_OK;
    }
    if (!mt_io_is_gzip(gz->zs.next_in, gz->zs.avail_in)) {
        /* count what is left, for the message (the input bound holds) */
        uint64_t trailing = gz->zs.avail_in;
        gz->zs.avail_in = 0;
        while (!gz->src_end) {
            if ((s = fill(gz, 1)) != MT_OK)
                return s;
            trailing += gz->zs.avail_in;
            gz->zs.avail_in = 0;
        }
        return mt_fail(MT_ERR_FORMAT, "%s: %llu bytes of trailing data after the gzip "
                       "stream", gz->src->label, (unsigned long long)trailing);
    }
    inflateReset(&gz->zs);
    gz->member_end = false;
    return MT_OK;
}

mt_status mt_io_gz_read(io_gz *gz, unsigned char *buf, size_t n, size_t *got)
{
    *got = 0;
    const char *label = gz->src->label;
    while (*got < n && !gz->end) {
        mt_status s = gz->member_end ? next_member(gz) : fill(gz, 1);
        if (s)
            return s;
        if (gz->end || gz->member_end)
            continue;
        size_t want = n - *got;
        gz->zs.next_out = buf + *got;
        gz->zs.avail_out = want > UINT_MAX ? UINT_MAX : (uInt)want;
        uInt before = gz->zs.avail_out;
        int z = inflate(&gz->zs, Z_NO_FLUSH);
        *got += before - gz->zs.avail_out;
        if (z == Z_STREAM_END) {
            gz->member_end = true;
        } else if (z == Z_DATA_ERROR || z == Z_NEED_DICT) {
            return mt_fail(MT_ERR_FORMAT, "%s: corrupt gzip data (%s)", label,
                           gz->zs.msg ? gz->zs.msg : "invalid stream");
        } else if (z == Z_MEM_ERROR) {
            return mt_fail(MT_ERR_OUT_OF_MEMORY, "%s: out of memory in zlib", label);
        } else if (z == Z_BUF_ERROR) {
            /* no progress possible: the input ran out inside a member */
            if (gz->zs.avail_in == 0 && gz->src_end)
                return mt_fail(MT_ERR_FORMAT, "%s: truncated gzip stream (it ends after "
                               "%llu bytes)", label, (unsigned long long)gz->in_total);
        } else if (z != Z_OK) {
            return mt_fail(MT_ERR_FORMAT, "%s: gzip error %d", label, z);
        }
    }
    return MT_OK;
}

#else

struct io_gz {
    int unused;
};

mt_status mt_io_gz_open(io_source *src, uint64_t in_limit, io_gz **out)
{
    (void)in_limit;
    *out = NULL;
    return mt_fail(MT_ERR_UNSUPPORTED, "%s: gzip-compressed, but minitensor was built "
                   "without zlib (reconfigure with -Dzlib=enabled and zlib1g-dev "
                   "installed, or gunzip the file first)", src->label);
}

mt_status mt_io_gz_read(io_gz *gz, unsigned char *buf, size_t n, size_t *got)
{
    (void)gz, (void)buf, (void)n;
    *got = 0;
    return mt_fail(MT_ERR_UNSUPPORTED, "gzip: built without zlib");
}

void mt_io_gz_close(io_gz *gz)
{
    (void)gz;
}

#endif
