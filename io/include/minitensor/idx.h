/* minitensor/idx.h — IDX files of unsigned bytes: the MNIST and
 * Fashion-MNIST image and label files, plain or gzip-compressed.
 *
 *     mt_idx images;
 *     if (mt_idx_load("t10k-images-idx3-ubyte.gz", &images) != MT_OK) {
 *         fprintf(stderr, "%s\n", mt_last_error());
 *         return 1;
 *     }
 *     // images.rank == 3, images.dim = {N, 28, 28}, images.data: N*784 bytes
 *     mt_idx_free(&images);
 *
 * Format (big-endian): 0x00 0x00 type rank, then rank u32 dims, then the
 * elements row-major. Only type 0x08 (unsigned byte) and ranks 1..3 are
 * read; the data must be exactly the bytes the header announces.
 *
 * GZIP. mt_idx_load recognises a gzip stream by its first two bytes (not by
 * the file name) and decompresses it in memory, through zlib. A build
 * without zlib (meson -Dzlib=disabled, or no zlib1g-dev when configured)
 * fails on such a file with MT_ERR_UNSUPPORTED ("… built without zlib");
 * mt_idx_gzip_supported() tells which build you have.
 *
 * LIMITS. Files (and decompressed data) of at most 2 GiB. The file is read
 * as a stream, header first: no more memory is taken than the header
 * announces, and reading stops at the first byte beyond it, so a gzip bomb
 * (a small .gz that inflates to gigabytes) fails at once with "too long".
 * Only regular files are read: a FIFO, a device (/dev/zero) or a directory
 * fails at once with MT_ERR_IO ("PATH: not a regular file (it is a FIFO)…").
 *
 * Errors: every message starts with the file name (or the `label` given to
 * mt_idx_parse) and says what is wrong: "labels.idx: truncated: the header
 * announces 1000 bytes of data, 990 follow".
 */
#ifndef MINITENSOR_IDX_H
#define MINITENSOR_IDX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "minitensor/error.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct mt_idx {
    int rank;               /* 1 (labels) … 3 (images) */
    int64_t dim[3];         /* outermost first */
    const uint8_t *data;    /* dim[0]·…·dim[rank-1] bytes, row-major */
    unsigned char *owned_;  /* private: the (decompressed) bytes mt_idx_load read */
} mt_idx;

/* Parse uncompressed IDX bytes already in memory, without copying:
 * idx->data points into `bytes`, which the caller keeps alive (nothing to
 * free). `label` names the data in messages. Fails with MT_ERR_FORMAT (gzip
 * data included: decompress it first, or give the file to mt_idx_load);
 * *idx is zeroed on failure. */
mt_status mt_idx_parse(const void *bytes, size_t size, const char *label,
                       mt_idx *idx);

/* Read the file at `path`, decompress it if it is gzip, parse it. One
 * allocation, owned by *idx: release it with mt_idx_free. Fails with
 * MT_ERR_IO (cannot read, not a regular file), MT_ERR_FORMAT (not IDX,
 * broken gzip, size mismatch, over the limit), MT_ERR_UNSUPPORTED (gzip without zlib) or
 * MT_ERR_OUT_OF_MEMORY; *idx is zeroed on failure. */
mt_status mt_idx_load(const char *path, mt_idx *idx);

/* Release what mt_idx_load read; zeroes *idx. Safe on a parsed or zeroed
 * mt_idx. */
void mt_idx_free(mt_idx *idx);

/* True if this build reads gzip-compressed IDX files (built with zlib). */
bool mt_idx_gzip_supported(void);

#ifdef __cplusplus
}
#endif
#endif
