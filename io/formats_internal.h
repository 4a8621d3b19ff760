/* formats_internal.h (io-private) — what the input-format readers (idx.c,
 * image.c, pgm.c, png.c) share: whole-file reads and gzip decompression.
 *
 * Not public API: hidden from the shared library, linked into the static
 * one. Every heap byte comes from mt_alloc (memory.h).
 */
#ifndef MT_IO_FORMATS_INTERNAL_H
#define MT_IO_FORMATS_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>

#include "minitensor/error.h"

#if defined(__GNUC__) || defined(__clang__)
#define MT_FORMATS_INTERNAL __attribute__((visibility("hidden")))
#else
#define MT_FORMATS_INTERNAL
#endif

/* Read `path` (at most `limit` bytes) into *bytes, a buffer from mt_alloc
 * the caller releases with mt_dealloc; *size is its length. An empty file
 * gives *bytes == NULL, *size == 0. Fails with MT_ERR_IO ("PATH:
 * <strerror>"), MT_ERR_FORMAT ("PATH: larger than LIMIT bytes") or
 * MT_ERR_OUT_OF_MEMORY. */
MT_FORMATS_INTERNAL mt_status io_read_file(const char *path, size_t limit,
                                           unsigned char **bytes, size_t *size);

/* True if `bytes` start like a gzip stream (1f 8b). */
MT_FORMATS_INTERNAL bool io_is_gzip(const unsigned char *bytes, size_t size);

/* Decompress the gzip stream(s) in `gz` (concatenated members allowed) into
 * *bytes (mt_alloc, caller frees; NULL if empty), at most `limit` bytes.
 * Messages start with `label`. MT_ERR_FORMAT (corrupt, truncated, too
 * large, trailing garbage), MT_ERR_UNSUPPORTED (built without zlib),
 * MT_ERR_OUT_OF_MEMORY. */
MT_FORMATS_INTERNAL mt_status io_gunzip(const unsigned char *gz, size_t size,
                                        const char *label, size_t limit,
                                        unsigned char **bytes, size_t *out_size);

#endif
