/* idx.c — the IDX reader: validate the header, then the size it announces.
 * Files are read as a stream (plain or gzip-compressed): the header first,
 * then exactly the bytes it announces, so a file never costs more memory
 * than its header claims (and at most IO_IDX_MAX_BYTES). */
#include <string.h>
#include <unistd.h>

#include "formats_internal.h"
#include "minitensor/idx.h"
#include "minitensor/memory.h"

static uint32_t be32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* Check the header in the first `size` bytes of p (all there is, or at
 * least the whole header): its rank, dims and data size. `inner` says the
 * bytes came out of a gzip stream. */
static mt_status check_header(const unsigned char *p, size_t size, const char *label,
                              bool inner, int *rank_out, int64_t dim[3],
                              uint64_t *numel_out)
{
    if (mt_io_is_gzip(p, size))
        return inner ? mt_fail(MT_ERR_FORMAT, "%s: gzip-compressed twice: decompress it "
                               "once (gunzip) and use the result", label)
                     : mt_fail(MT_ERR_FORMAT, "%s: gzip-compressed IDX data: decompress "
                               "it first (mt_idx_load reads .gz files)", label);
    if (size < 4 || p[0] != 0 || p[1] != 0)
        return mt_fail(MT_ERR_FORMAT, "%s: not an IDX file", label);
    if (p[2] != 0x08)
        return mt_fail(MT_ERR_FORMAT, "%s: IDX element type 0x%02x, expected 0x08 "
                       "(unsigned byte)", label, p[2]);
    int rank = p[3];
    if (rank < 1 || rank > 3)
        return mt_fail(MT_ERR_FORMAT, "%s: IDX rank %d, expected 1..3", label, rank);
    size_t header = 4 + 4 * (size_t)rank;
    if (size < header)
        return mt_fail(MT_ERR_FORMAT, "%s: truncated: %zu bytes, the header alone needs "
                       "%zu", label, size, header);
    uint64_t numel = 1;
    for (int d = 0; d < rank; d++) {
        dim[d] = be32(p + 4 + 4 * d);
        if (dim[d] && numel > UINT64_MAX / (uint64_t)dim[d])
            return mt_fail(MT_ERR_FORMAT, "%s: IDX dims are too large", label);
        numel *= (uint64_t)dim[d];
    }
    *rank_out = rank;
    *numel_out = numel;
    return MT_OK;
}

static mt_status size_mismatch(const char *label, uint64_t numel, uint64_t follow)
{
    return mt_fail(MT_ERR_FORMAT, "%s: %s: the header announces %llu bytes of data, "
                   "%llu follow", label, numel > follow ? "truncated" : "too long",
                   (unsigned long long)numel, (unsigned long long)follow);
}

mt_status mt_idx_parse(const void *bytes, size_t size, const char *label, mt_idx *idx)
{
    if (!idx)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "idx_parse: idx is NULL");
    memset(idx, 0, sizeof *idx);
    if (!label)
        label = "IDX data";
    if (!bytes && size)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "%s: bytes is NULL", label);
    const unsigned char *p = bytes;
    int rank = 0;
    int64_t dim[3];
    uint64_t numel = 0;
    mt_status s = check_header(p, size, label, false, &rank, dim, &numel);
    if (s)
        return s;
    size_t header = 4 + 4 * (size_t)rank;
    if (numel != size - header)
        return size_mismatch(label, numel, size - header);
    idx->rank = rank;
    memcpy(idx->dim, dim, (size_t)rank * sizeof dim[0]);
    idx->data = p + header;
    return MT_OK;
}

/* ---- streaming ------------------------------------------------------------- */

/* The bytes of the file: from the source itself, or through gzip. */
typedef struct idx_in {
    io_source *src;
    io_gz *gz;
} idx_in;

static mt_status in_read(idx_in *in, unsigned char *buf, size_t n, size_t *got)
{
    return in->gz ? mt_io_gz_read(in->gz, buf, n, got) : mt_io_source_read(in->src, buf, n, got);
}

/* Read what the header announces into a buffer that grows (doubling) up
 * to that size: a header that lies about a stream that ends early costs
 * little. *len is what was read. */
static mt_status read_body(idx_in *in, const char *label, unsigned char **buf,
                           size_t total, size_t head, size_t *len)
{
    size_t cap = total < ((size_t)1 << 20) ? total : (size_t)1 << 20;
    if (!in->gz)   /* plain: the size was checked against the file's */
        cap = total;
    unsigned char *b = mt_alloc(cap ? cap : 1, 64);
    if (!b)
        return mt_fail(MT_ERR_OUT_OF_MEMORY, "%s: out of memory (%zu bytes)", label, cap);
    memcpy(b, *buf, head);
    mt_dealloc(*buf);
    *buf = b;
    *len = head;
    for (;;) {
        size_t got;
        mt_status s = in_read(in, *buf + *len, cap - *len, &got);
        if (s)
            return s;
        *len += got;
        if (*len < cap || cap == total)
            return MT_OK;
        size_t grown = cap > total / 2 ? total : 2 * cap;
        b = mt_alloc(grown, 64);
        if (!b)
            return mt_fail(MT_ERR_OUT_OF_MEMORY, "%s: out of memory (%zu bytes)", label,
                           grown);
        memcpy(b, *buf, *len);
        mt_dealloc(*buf);
        *buf = b;
        cap = grown;
    }
}

static mt_status read_idx(idx_in *in, bool inner, unsigned char **bytes, size_t *size)
{
    const char *label = in->src->label;
    unsigned char *buf = mt_alloc(16, 16);
    if (!buf)
        return mt_fail(MT_ERR_OUT_OF_MEMORY, "%s: out of memory", label);
    size_t head = 0, got;
    int rank = 0;
    int64_t dim[3];
    uint64_t numel = 0;
    /* the first 4 bytes give the rank, which gives the header's size */
    mt_status s = in_read(in, buf, 4, &got);
    head = got;
    if (!s && head == 4 && buf[0] == 0 && buf[1] == 0 && buf[3] >= 1 && buf[3] <= 3) {
        s = in_read(in, buf + 4, 4 * (size_t)buf[3], &got);
        head += got;
    }
    if (!s)
        s = check_header(buf, head, label, inner, &rank, dim, &numel);
    if (!s && numel > IO_IDX_MAX_BYTES - head)
        s = mt_fail(MT_ERR_FORMAT, "%s: the header announces %llu bytes of data, more "
                    "than the %llu-byte limit for IDX files", label,
                    (unsigned long long)numel, (unsigned long long)IO_IDX_MAX_BYTES);
    uint64_t known = in->gz ? UINT64_MAX : in->src->size;
    if (!s && known != UINT64_MAX && (known < head || known - head != numel))
        s = size_mismatch(label, numel, known < head ? 0 : known - head);   /* fstat's */
    size_t total = head + (size_t)numel, len = 0;
    if (!s)
        s = read_body(in, label, &buf, total, head, &len);
    if (!s && len < total)
        s = size_mismatch(label, numel, len - head);
    if (!s) {   /* the end: nothing more (and, for gzip, the checksum verified) */
        unsigned char extra;
        s = in_read(in, &extra, 1, &got);
        if (!s && got)
            s = mt_fail(MT_ERR_FORMAT, "%s: too long: the header announces %llu bytes "
                        "of data, more follow", label, (unsigned long long)numel);
    }
    if (s) {
        mt_dealloc(buf);
        return s;
    }
    *bytes = buf;
    *size = total;
    return MT_OK;
}

mt_status mt_io_idx_read(io_source *src, unsigned char **bytes, size_t *size)
{
    *bytes = NULL;
    *size = 0;
    unsigned char magic[2];
    size_t got;
    mt_status s = mt_io_source_read(src, magic, 2, &got);
    if (s)
        return s;
    idx_in in = {src, NULL};
    /* (lseek) calls the function: wasi-libc's lseek macro is a GNU
     * statement expression, which this C11 build warns about */
    if (mt_io_is_gzip(magic, got)) {
        /* restart at the magic: from memory, or by seeking the descriptor */
        if (src->fd < 0)
            src->pos = 0;
        else if ((lseek)(src->fd, 0, SEEK_SET) != 0)
            return mt_fail(MT_ERR_IO, "%s: cannot seek back to the start", src->label);
        else
            src->pos = 0;
        if ((s = mt_io_gz_open(src, IO_IDX_MAX_BYTES, &in.gz)) != MT_OK)
            return s;
        s = read_idx(&in, true, bytes, size);
        mt_io_gz_close(in.gz);
        return s;
    }
    /* plain: the two bytes already read start the header */
    src->pos = 0;
    if (src->fd >= 0 && (lseek)(src->fd, 0, SEEK_SET) != 0)
        return mt_fail(MT_ERR_IO, "%s: cannot seek back to the start", src->label);
    return read_idx(&in, false, bytes, size);
}

mt_status mt_idx_load(const char *path, mt_idx *idx)
{
    if (!path || !idx)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "idx_load: %s is NULL",
                       path ? "idx" : "path");
    memset(idx, 0, sizeof *idx);
    int fd;
    uint64_t fsize;
    mt_status s = mt_io_open_regular(path, &fd, &fsize);
    if (s)
        return s;
    io_source src = {.fd = fd, .size = fsize, .label = path};
    unsigned char *bytes;
    size_t size;
    s = mt_io_idx_read(&src, &bytes, &size);
    close(fd);
    if (!s)
        s = mt_idx_parse(bytes, size, path, idx);
    if (s) {
        mt_dealloc(bytes);   /* NULL if the read failed */
        return s;
    }
    idx->owned_ = bytes;
    return MT_OK;
}

void mt_idx_free(mt_idx *idx)
{
    if (!idx)
        return;
    mt_dealloc(idx->owned_);
    memset(idx, 0, sizeof *idx);
}

bool mt_idx_gzip_supported(void)
{
#ifdef MT_HAVE_ZLIB
    return true;
#else
    return false;
#endif
}
