/* minitensor/file.h — write a whole file atomically.
 *
 *     if (mt_file_write_atomic("logits.bin", buf, n) != MT_OK)
 *         fprintf(stderr, "%s\n", mt_last_error());
 *         // "logits.bin: write failed: No space left on device (the
 *         //  existing file, if any, is unchanged)"
 *
 * The same machinery as mt_safetensors_save: the bytes go to a new
 * temporary file next to the target (".NAME.mt-tmp-PID-TAG", NAME shortened
 * so that any legal file name works), which is fsynced and renamed over the
 * target, so readers see the old file or the new one, never a part. On any
 * failure (a full disk, a quota, a file-size limit) the temporary file is
 * removed and the target is untouched.
 *
 * The target must be a regular file or not exist: a FIFO, a device
 * (/dev/full, /dev/null) or a directory is refused before anything is
 * written — it would otherwise be replaced by a regular file. A symlink is
 * replaced, not followed. An existing target keeps its mode and, where the
 * process may set them (root), its owner and group; a new file gets
 * 0666 & ~umask.
 *
 * Temporary files of earlier saves of the same target that were killed
 * part-way (their process id is no longer alive on this host) are removed
 * by the next save. (On a directory shared between hosts or PID
 * namespaces, a save running elsewhere can look dead: its temporary file
 * is removed and that save fails cleanly, its target untouched.)
 */
#ifndef MINITENSOR_FILE_H
#define MINITENSOR_FILE_H

#include <stddef.h>

#include "minitensor/error.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Replace (or create) `path` with the `size` bytes at `data` (NULL allowed
 * when size is 0), atomically. Messages start with the path and carry the
 * system's reason. MT_ERR_INVALID_ARGUMENT (NULL or empty path, NULL data
 * with size > 0, a path ending in '/'), MT_ERR_IO (not a regular file;
 * cannot create, write, fsync or rename: the target is unchanged),
 * MT_ERR_OUT_OF_MEMORY. */
mt_status mt_file_write_atomic(const char *path, const void *data, size_t size);

#ifdef __cplusplus
}
#endif
#endif
