/* idx.c — the IDX reader: validate the header against the size, then point
 * at the bytes; gzip-compressed files are decompressed first. */
#include <string.h>

#include "formats_internal.h"
#include "minitensor/idx.h"
#include "minitensor/memory.h"

#define IDX_MAX_FILE ((size_t)1 << 31) /* 2 GiB: far above MNIST's 47 MB */

static uint32_t be32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
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
    if (io_is_gzip(p, size))
        return mt_fail(MT_ERR_FORMAT, "%s: gzip-compressed IDX data (mt_idx_load "
                       "decompresses files; mt_idx_parse reads plain IDX)", label);
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
    int64_t dim[3];
    for (int d = 0; d < rank; d++) {
        dim[d] = be32(p + 4 + 4 * d);
        if (dim[d] && numel > UINT64_MAX / (uint64_t)dim[d])
            return mt_fail(MT_ERR_FORMAT, "%s: IDX dims are too large", label);
        numel *= (uint64_t)dim[d];
    }
    if (numel != size - header)
        return mt_fail(MT_ERR_FORMAT, "%s: %s: the header announces %llu bytes of data, "
                       "%zu follow", label, numel > size - header ? "truncated" : "too long",
                       (unsigned long long)numel, size - header);
    idx->rank = rank;
    memcpy(idx->dim, dim, (size_t)rank * sizeof dim[0]);
    idx->data = p + header;
    return MT_OK;
}

mt_status mt_idx_load(const char *path, mt_idx *idx)
{
    if (!path || !idx)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "idx_load: %s is NULL",
                       path ? "idx" : "path");
    memset(idx, 0, sizeof *idx);
    unsigned char *bytes, *plain;
    size_t size, plain_size;
    mt_status s = io_read_file(path, IDX_MAX_FILE, &bytes, &size);
    if (!s && io_is_gzip(bytes, size)) {
        s = io_gunzip(bytes, size, path, IDX_MAX_FILE, &plain, &plain_size);
        mt_dealloc(bytes);
        bytes = s ? NULL : plain;
        size = s ? 0 : plain_size;
    }
    if (!s)
        s = mt_idx_parse(bytes, size, path, idx);
    if (s) {
        mt_dealloc(bytes);
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
