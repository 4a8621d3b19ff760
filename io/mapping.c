/* mapping.c — get a file's bytes: mmap read-only where the host has it,
 * otherwise (WASI, or a file system that cannot map) read it into memory.
 * Mapping touches no page: opening a 1 GiB file costs what a 1 MiB one does. */
#if !defined(_WIN32)
#define _POSIX_C_SOURCE 200809L
#endif

#include <errno.h>
#include <string.h>

#include "st_internal.h"

#if defined(__wasi__) || defined(MT_IO_NO_MMAP)
#define ST_HAVE_MMAP 0
#else
#define ST_HAVE_MMAP 1
#endif

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#if ST_HAVE_MMAP
#include <sys/mman.h>
#endif

#ifndef O_CLOEXEC
#define O_CLOEXEC 0
#endif
#ifndef O_NONBLOCK
#define O_NONBLOCK 0
#endif

/* Read exactly `size` bytes from fd into a new heap buffer. */
static mt_status read_whole(int fd, size_t size, const char *label,
                            st_mapping *map)
{
    uint8_t *buf = mt_alloc(size ? size : 1, 64);
    if (!buf)
        return mt_fail(MT_ERR_OUT_OF_MEMORY,
                       "%s: out of memory reading %zu bytes", label, size);
    size_t got = 0;
    while (got < size) {
        size_t want = size - got;
        if (want > ((size_t)1 << 30)) want = (size_t)1 << 30;
        ssize_t r = pread(fd, buf + got, want, (off_t)got);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) {
            int e = errno;
            mt_dealloc(buf);
            if (r == 0)
                return mt_fail(MT_ERR_IO,
                               "%s: file shrank while being read (%zu of %zu "
                               "bytes)", label, got, size);
            return mt_fail(MT_ERR_IO, "%s: read failed: %s", label,
                           strerror(e));
        }
        got += (size_t)r;
    }
    map->base = buf;
    map->size = size;
    map->kind = ST_MAP_HEAP;
    return MT_OK;
}

mt_status mt_st_map_file(const char *path, const char *label, st_mapping *map)
{
    memset(map, 0, sizeof *map);
    /* O_NONBLOCK: opening a FIFO must not wait for a writer */
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0)
        return mt_fail(MT_ERR_IO, "%s: cannot open: %s", label,
                       strerror(errno));
    struct stat sb;
    if (fstat(fd, &sb) != 0) {
        int e = errno;
        close(fd);
        return mt_fail(MT_ERR_IO, "%s: cannot stat: %s", label, strerror(e));
    }
    if (!S_ISREG(sb.st_mode)) {
        close(fd);
        return mt_fail(MT_ERR_IO, "%s: not a regular file", label);
    }
    if (sb.st_size < 0 || (uint64_t)sb.st_size > (uint64_t)SIZE_MAX) {
        close(fd);
        return mt_fail(MT_ERR_UNSUPPORTED,
                       "%s: file of %lld bytes does not fit in this host's "
                       "address space", label, (long long)sb.st_size);
    }
    size_t size = (size_t)sb.st_size;
    mt_status st = MT_OK;
    if (size == 0) {
        /* nothing to map; the header check reports the short file */
        map->base = NULL;
        map->size = 0;
        map->kind = ST_MAP_NONE;
    } else {
#if ST_HAVE_MMAP
        void *p = mmap(NULL, size, PROT_READ, MAP_PRIVATE, fd, 0);
        if (p != MAP_FAILED) {
            map->base = p;
            map->size = size;
            map->kind = ST_MAP_MMAP;
            /* No read-around while the header is parsed: the first fault
             * would otherwise read read_ahead_kb (often MiBs) of data. */
            (void)posix_madvise(p, size, POSIX_MADV_RANDOM);
        } else {
            st = read_whole(fd, size, label, map);  /* e.g. ENODEV */
        }
#else
        st = read_whole(fd, size, label, map);
#endif
    }
    close(fd);
    return st;
}

void mt_st_map_header_ahead(const st_mapping *map, size_t len)
{
#if ST_HAVE_MMAP
    if (map->kind != ST_MAP_MMAP || len <= 4096) return;
    if (len > map->size) len = map->size;
    /* read exactly the header's pages ahead (one request, not one per
     * page fault) */
    (void)posix_madvise((void *)(uintptr_t)map->base, len,
                        POSIX_MADV_WILLNEED);
#else
    (void)map;
    (void)len;
#endif
}

void mt_st_map_header_done(const st_mapping *map)
{
#if ST_HAVE_MMAP
    /* tensors are read in order: give the kernel its read-around back */
    if (map->kind == ST_MAP_MMAP)
        (void)posix_madvise((void *)(uintptr_t)map->base, map->size,
                            POSIX_MADV_NORMAL);
#else
    (void)map;
#endif
}

void mt_st_unmap(st_mapping *map)
{
    switch (map->kind) {
#if ST_HAVE_MMAP
    case ST_MAP_MMAP:
        munmap((void *)(uintptr_t)map->base, map->size);
        break;
#endif
    case ST_MAP_HEAP:
        mt_dealloc((void *)(uintptr_t)map->base);
        break;
    default:
        break;
    }
    memset(map, 0, sizeof *map);
}
