/* idx.c — the IDX reader: validate the header against the size, then point
 * at the bytes. */
#include <string.h>

#include "file.h"
#include "idx.h"
#include "minitensor/memory.h"

#define IDX_MAX_FILE ((size_t)1 << 31) /* 2 GiB: far above MNIST's 47 MB */

static uint32_t be32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

mt_status mt_idx_parse(const void *bytes, size_t size, const char *label, mt_idx *idx)
{
    memset(idx, 0, sizeof *idx);
    const unsigned char *p = bytes;
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
    memset(idx, 0, sizeof *idx);
    unsigned char *bytes;
    size_t size;
    mt_status s = mt_file_read(path, IDX_MAX_FILE, &bytes, &size);
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
    mt_dealloc(idx->owned_);
    memset(idx, 0, sizeof *idx);
}
