/* formats_internal.h (io-private) — what the input-format readers (idx.c,
 * image.c, pgm.c, png.c) and the fuzz targets share: opening input files
 * (regular files only), byte sources, bounded whole-file reads, streaming
 * gzip decompression and the streaming IDX reader.
 *
 * Not public API: hidden from the shared library, linked into the static
 * one. Every heap byte comes from mt_alloc (memory.h).
 */
#ifndef MT_IO_FORMATS_INTERNAL_H
#define MT_IO_FORMATS_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "minitensor/error.h"

#if defined(__GNUC__) || defined(__clang__)
#define MT_FORMATS_INTERNAL __attribute__((visibility("hidden")))
#else
#define MT_FORMATS_INTERNAL
#endif

/* The absolute bound on an IDX file's (decompressed) size, and on the
 * compressed bytes read: 2 GiB, far above MNIST's 47 MB. */
#define IO_IDX_MAX_BYTES ((uint64_t)1 << 31)

/* Open `path` read-only if it is a regular file. The open is non-blocking
 * (a FIFO cannot make it wait for a writer), then fstat decides: a FIFO,
 * device, directory or socket fails with MT_ERR_IO "PATH: not a regular
 * file (it is a FIFO)". *fd (blocking again) and *size on success;
 * "PATH: <strerror>" when it cannot be opened. */
MT_FORMATS_INTERNAL mt_status mt_io_open_regular(const char *path, int *fd,
                                                 uint64_t *size);

/* Bytes from a file descriptor (fd >= 0) or from memory (fd < 0: mem,
 * size). `size` is the file's size when known (fstat), else UINT64_MAX. */
typedef struct io_source {
    int fd;
    const unsigned char *mem;
    uint64_t size, pos;
    const char *label;           /* starts every message */
} io_source;

/* Read up to n bytes into buf; *got < n only at the end of the source.
 * MT_ERR_IO "LABEL: read failed: <strerror>". */
MT_FORMATS_INTERNAL mt_status mt_io_source_read(io_source *src, unsigned char *buf,
                                                size_t n, size_t *got);

/* Read the regular file `path`, at most `limit` bytes, into *bytes (mt_alloc,
 * caller frees with mt_dealloc; NULL for an empty file) of *size bytes. A
 * larger file fails before anything is read (MT_ERR_FORMAT "PATH: N bytes,
 * more than the LIMIT-byte limit for WHAT"); also MT_ERR_IO (see
 * mt_io_open_regular), MT_ERR_OUT_OF_MEMORY. */
MT_FORMATS_INTERNAL mt_status mt_io_read_file(const char *path, size_t limit,
                                              const char *what,
                                              unsigned char **bytes, size_t *size);

/* True if `bytes` start like a gzip stream (1f 8b). */
MT_FORMATS_INTERNAL bool mt_io_is_gzip(const unsigned char *bytes, size_t size);

/* Streaming gzip decompression of a source: concatenated members allowed,
 * anything else after a member is an error. Memory: zlib's state and a
 * 64 KiB input buffer; the output goes straight to the caller's buffer, so
 * the caller bounds it by what it asks for. At most `in_limit` compressed
 * bytes are read. */
typedef struct io_gz io_gz;

/* MT_ERR_UNSUPPORTED (built without zlib), MT_ERR_OUT_OF_MEMORY. The
 * source must outlive the stream. */
MT_FORMATS_INTERNAL mt_status mt_io_gz_open(io_source *src, uint64_t in_limit,
                                            io_gz **out);
/* Decompress up to n bytes into buf; *got < n only at the end of the last
 * member. MT_ERR_FORMAT (corrupt, truncated, trailing data, compressed
 * input over in_limit), MT_ERR_IO, MT_ERR_OUT_OF_MEMORY. */
MT_FORMATS_INTERNAL mt_status mt_io_gz_read(io_gz *gz, unsigned char *buf, size_t n,
                                            size_t *got);
MT_FORMATS_INTERNAL void mt_io_gz_close(io_gz *gz);

/* The whole IDX file from `src`, plain or gzip-compressed (told by its
 * first bytes), into *bytes (mt_alloc, caller frees) of *size bytes. Reads
 * the header first and never holds more than the header announces (at
 * most IO_IDX_MAX_BYTES): a gzip bomb fails as soon as it produces one
 * byte more. The header is validated as mt_idx_parse does; so are the
 * sizes (truncated, too long). */
MT_FORMATS_INTERNAL mt_status mt_io_idx_read(io_source *src, unsigned char **bytes,
                                             size_t *size);

#endif
