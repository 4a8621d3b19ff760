/* idx.h — IDX files of unsigned bytes: the MNIST image and label files.
 *
 *     mt_idx images;
 *     if (mt_idx_load("t10k-images-idx3-ubyte", &images) != MT_OK) {
 *         fprintf(stderr, "%s\n", mt_last_error());
 *         return 1;
 *     }
 *     // images.rank == 3, images.dim = {N, 28, 28}, images.data: N*784 bytes
 *     mt_idx_free(&images);
 *
 * Format (big-endian): 0x00 0x00 type rank, then rank u32 dims, then the
 * elements row-major. Only type 0x08 (unsigned byte) and ranks 1..3 are
 * read; the file must hold exactly the bytes its header announces.
 *
 * Part of the mnist example's input readers, which belong in io/ and will
 * move there.
 */
#ifndef MNIST_IDX_H
#define MNIST_IDX_H

#include <stddef.h>
#include <stdint.h>

#include "minitensor/error.h"

typedef struct mt_idx {
    int rank;               /* 1 (labels) … 3 (images) */
    int64_t dim[3];         /* outermost first */
    const uint8_t *data;    /* dim[0]·…·dim[rank-1] bytes, row-major */
    unsigned char *owned_;  /* private: the file's bytes (mt_idx_load) */
} mt_idx;

/* Parse an IDX image already in memory, without copying: idx->data points
 * into `bytes`, which the caller keeps alive. `label` names the data in
 * messages ("labels.idx: truncated: the header announces 1000 bytes of data,
 * 990 follow"). Fails with MT_ERR_FORMAT; *idx is zeroed on failure. */
mt_status mt_idx_parse(const void *bytes, size_t size, const char *label,
                       mt_idx *idx);

/* Read and parse the file at `path` (messages start with the path). Release
 * with mt_idx_free. MT_ERR_IO if it cannot be read. */
mt_status mt_idx_load(const char *path, mt_idx *idx);

/* Release what mt_idx_load read; zeroes *idx. Safe on a parsed or zeroed
 * mt_idx. */
void mt_idx_free(mt_idx *idx);

#endif
