/* file.h — read a whole (bounded) file into memory, for the input readers.
 *
 * Part of the mnist example's input readers (idx, pgm, png), which belong in
 * io/ and will move there; their API is already minitensor-style. */
#ifndef MNIST_FILE_H
#define MNIST_FILE_H

#include <stddef.h>

#include "minitensor/error.h"

/* Read `path` (at most `limit` bytes) into *bytes, a buffer from mt_alloc
 * that the caller releases with mt_dealloc; *size is its length. Empty files
 * give *bytes == NULL, *size == 0. Fails with MT_ERR_IO ("PATH: <strerror>")
 * or MT_ERR_FORMAT ("PATH: larger than LIMIT bytes"). */
mt_status mt_file_read(const char *path, size_t limit, unsigned char **bytes,
                       size_t *size);

#endif
