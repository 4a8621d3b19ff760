/* read_file.c — input files: regular files only, opened without blocking;
 * byte sources (a descriptor or memory); whole-file reads with a size bound
 * checked before anything is read. */
#if !defined(_WIN32)
#define _POSIX_C_SOURCE 200809L
#endif

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "formats_internal.h"
#include "minitensor/memory.h"

#ifndef O_CLOEXEC
#define O_CLOEXEC 0
#endif
#ifndef O_NONBLOCK
#define O_NONBLOCK 0
#endif

static const char *kind_of(mode_t m)
{
    if (S_ISDIR(m)) return "a directory";
    if (S_ISFIFO(m)) return "a FIFO";
    if (S_ISCHR(m)) return "a character device";
    if (S_ISBLK(m)) return "a block device";
#ifdef S_ISSOCK
    if (S_ISSOCK(m)) return "a socket";
#endif
    return "not a plain file";
}

mt_status mt_io_open_regular(const char *path, int *fd, uint64_t *size)
{
    *fd = -1;
    *size = 0;
    /* O_NONBLOCK: opening a FIFO must not wait for a writer. Regular files
     * ignore the flag, so reads stay ordinary blocking reads. */
    int f = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (f < 0)
        return mt_fail(MT_ERR_IO, "%s: %s", path, strerror(errno));
    struct stat sb;
    if (fstat(f, &sb) != 0) {
        int e = errno;
        close(f);
        return mt_fail(MT_ERR_IO, "%s: %s", path, strerror(e));
    }
    if (!S_ISREG(sb.st_mode)) {
        close(f);
        return mt_fail(MT_ERR_IO, "%s: not a regular file (it is %s); give the path "
                       "of a file", path, kind_of(sb.st_mode));
    }
    *fd = f;
    *size = sb.st_size < 0 ? 0 : (uint64_t)sb.st_size;
    return MT_OK;
}

mt_status mt_io_source_read(io_source *src, unsigned char *buf, size_t n, size_t *got)
{
    *got = 0;
    if (src->fd < 0) {
        uint64_t left = src->size - src->pos;
        size_t k = left < n ? (size_t)left : n;
        if (k)
            memcpy(buf, src->mem + src->pos, k);
        src->pos += k;
        *got = k;
        return MT_OK;
    }
    while (*got < n) {
        size_t want = n - *got > ((size_t)1 << 30) ? (size_t)1 << 30 : n - *got;
        ssize_t r = read(src->fd, buf + *got, want);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return mt_fail(MT_ERR_IO, "%s: read failed: %s", src->label, strerror(errno));
        if (r == 0)
            break;
        *got += (size_t)r;
        src->pos += (uint64_t)r;
    }
    return MT_OK;
}

mt_status mt_io_read_file(const char *path, size_t limit, const char *what,
                          unsigned char **bytes, size_t *size)
{
    *bytes = NULL;
    *size = 0;
    int fd;
    uint64_t fsize;
    mt_status s = mt_io_open_regular(path, &fd, &fsize);
    if (s)
        return s;
    if (fsize > limit) {
        close(fd);
        return mt_fail(MT_ERR_FORMAT, "%s: %llu bytes, more than the %zu-byte limit for %s",
                       path, (unsigned long long)fsize, limit, what);
    }
    /* One byte more than fstat said: a file growing while it is read is
     * caught by the limit, not read without end. */
    unsigned char *buf = mt_alloc((size_t)fsize + 1, 64);
    if (!buf) {
        close(fd);
        return mt_fail(MT_ERR_OUT_OF_MEMORY, "%s: out of memory (%llu bytes)", path,
                       (unsigned long long)fsize);
    }
    io_source src = {.fd = fd, .size = fsize, .label = path};
    size_t len;
    s = mt_io_source_read(&src, buf, (size_t)fsize + 1, &len);
    close(fd);
    if (!s && len > limit)
        s = mt_fail(MT_ERR_FORMAT, "%s: more than the %zu-byte limit for %s (the file "
                    "grew while it was read)", path, limit, what);
    if (s || len == 0) {
        mt_dealloc(buf);
        return s;
    }
    *bytes = buf;
    *size = len;
    return MT_OK;
}
