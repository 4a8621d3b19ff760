/* atomic_file.h (io-private) — replace a file atomically: a temporary file
 * next to the target, written, fsynced, renamed over it. Used by
 * mt_safetensors_save (writer.c) and mt_file_write_atomic (atomic_file.c).
 *
 * The temporary file is ".NAME.mt-tmp-PID-TAG" (NAME cut so that the whole
 * fits NAME_MAX). A save killed part-way leaves one behind; the next save
 * of the same target removes those whose PID is no longer alive on this
 * host (kill(PID, 0) fails with ESRCH), never one of a live process.
 */
#ifndef MT_IO_ATOMIC_FILE_H
#define MT_IO_ATOMIC_FILE_H

#include <stddef.h>

#include "minitensor/error.h"

#if defined(__GNUC__) || defined(__clang__)
#define MT_ATOMIC_INTERNAL __attribute__((visibility("hidden")))
#else
#define MT_ATOMIC_INTERNAL
#endif

typedef struct io_atomic {
    const char *path;   /* the target */
    char *tmp;          /* the temporary file (mt_alloc) */
    int fd;             /* open on tmp, for writing */
} io_atomic;

/* Refuse a target that exists and is not a regular file (a FIFO, a device,
 * a directory; a symlink is replaced, not followed), remove stale
 * temporaries of the target, then create the temporary file: mode and
 * owner/group of the existing target (owner where the process may set it),
 * else 0666 & ~umask. MT_ERR_IO with the system's reason; nothing is left
 * behind on failure. Messages start with `label`. */
MT_ATOMIC_INTERNAL mt_status mt_io_atomic_begin(const char *label, const char *path,
                                                io_atomic *a);

/* Write n bytes to fd (restarting after EINTR and short writes). Returns 0,
 * or the errno of the failure (EIO if write wrote nothing). */
MT_ATOMIC_INTERNAL int mt_io_write_all(int fd, const void *p, size_t n);

/* End the save. write_err != 0 (the errno of a failed write): remove the
 * temporary file, MT_ERR_IO "LABEL: write failed: <reason> (the existing
 * file, if any, is unchanged)". Otherwise fsync, close and rename it over
 * the target (then fsync the directory, best effort); a failing step
 * reports the same way. Always releases *a. */
MT_ATOMIC_INTERNAL mt_status mt_io_atomic_finish(const char *label, io_atomic *a,
                                                 int write_err);

#endif
