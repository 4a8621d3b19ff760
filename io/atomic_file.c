/* atomic_file.c — replace a file atomically (temporary file + fsync +
 * rename), keeping the target's mode and owner, refusing targets that are
 * not regular files, cleaning up after saves that were killed; and
 * mt_file_write_atomic, the same for a caller's byte buffer. */
#if !defined(_WIN32)
#define _POSIX_C_SOURCE 200809L
#endif

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#if !defined(__wasi__)
#include <signal.h>   /* kill(pid, 0): is a process alive? */
#endif

#include "atomic_file.h"
#include "minitensor/file.h"
#include "minitensor/memory.h"

#ifndef O_CLOEXEC
#define O_CLOEXEC 0
#endif
#ifndef NAME_MAX
#define NAME_MAX 255
#endif
#ifndef PATH_MAX
#define PATH_MAX 4096
#endif

#define TMP_MARK ".mt-tmp-"
/* "." NAME TMP_MARK PID(<= 20 digits) "-" TAG(8 hex): NAME gets the rest */
#define NAME_ROOM (NAME_MAX - 1 - (int)(sizeof TMP_MARK - 1) - 20 - 1 - 8)

static long own_pid(void)
{
#if defined(__wasi__)
    return 0;          /* WASI has no process ids; O_EXCL still decides */
#else
    return (long)getpid();
#endif
}

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

/* The directory part of path ("" or ending in '/') and the name part cut
 * to NAME_ROOM bytes, at a UTF-8 character boundary. */
static void split(const char *path, size_t *dir_len, size_t *name_len)
{
    const char *slash = strrchr(path, '/');
    *dir_len = slash ? (size_t)(slash - path) + 1 : 0;
    size_t n = strlen(path + *dir_len);
    if (n > NAME_ROOM) {
        n = NAME_ROOM;
        while (n > 0 && ((unsigned char)path[*dir_len + n] & 0xc0) == 0x80)
            n--;   /* the byte at n continues a character: cut before it */
    }
    *name_len = n;
}

/* Remove ".NAME.mt-tmp-PID-TAG" files of dead processes: what saves of the
 * same target left when they were killed. Best effort: errors are ignored
 * (an unreadable directory, a file of another user in a sticky one). */
static void remove_stale(const char *path, size_t dir_len, size_t name_len)
{
#if defined(__wasi__)
    (void)path, (void)dir_len, (void)name_len;
#else
    char dir[PATH_MAX];
    if (dir_len >= sizeof dir)
        return;
    if (dir_len) {
        memcpy(dir, path, dir_len);
        dir[dir_len] = '\0';
    } else {
        strcpy(dir, ".");
    }
    DIR *d = opendir(dir);
    if (!d)
        return;
    long me = own_pid();
    const char *name = path + dir_len;
    struct dirent *e;
    while ((e = readdir(d))) {
        const char *p = e->d_name;
        if (p[0] != '.' || strncmp(p + 1, name, name_len) != 0 ||
            strncmp(p + 1 + name_len, TMP_MARK, sizeof TMP_MARK - 1) != 0)
            continue;
        p += 1 + name_len + sizeof TMP_MARK - 1;
        char *end;
        errno = 0;
        long pid = strtol(p, &end, 10);
        if (errno || end == p || *p < '0' || *p > '9' || *end != '-' ||
            strlen(end + 1) != 8 || strspn(end + 1, "0123456789abcdef") != 8)
            continue;
        if (pid <= 0 || pid == me || kill((pid_t)pid, 0) == 0 || errno != ESRCH)
            continue;   /* alive (or not ours to judge): keep it */
        char stale[PATH_MAX];
        if ((size_t)snprintf(stale, sizeof stale, "%.*s%s", (int)dir_len, path,
                             e->d_name) >= sizeof stale)
            continue;
        struct stat sb;
        if (lstat(stale, &sb) == 0 && S_ISREG(sb.st_mode))
            (void)unlink(stale);
    }
    closedir(d);
#endif
}

/* Give the temporary file the target's owner, group and mode. Setting the
 * owner needs privileges: EPERM keeps ours (the group too, if not ours). */
static int copy_owner_and_mode(int fd, const struct stat *target)
{
#if defined(__wasi__)
    (void)fd, (void)target;
    return 0;
#else
    if (fchown(fd, target->st_uid, target->st_gid) != 0 && errno != EPERM) {
        return errno;
    }
    /* after fchown, which may clear set-user-ID bits */
    if (fchmod(fd, target->st_mode & 07777) != 0)
        return errno;
    return 0;
#endif
}

mt_status mt_io_atomic_begin(const char *label, const char *path, io_atomic *a)
{
    static unsigned counter;
    memset(a, 0, sizeof *a);
    a->fd = -1;
    a->path = path;
    size_t dir_len, name_len;
    split(path, &dir_len, &name_len);
    if (name_len == 0)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "%s: the path names a directory, not a "
                       "file", label);
    struct stat target;
    bool exists = lstat(path, &target) == 0;
    if (exists && !S_ISREG(target.st_mode) && !S_ISLNK(target.st_mode))
        return mt_fail(MT_ERR_IO, "%s: not a regular file (it is %s): refusing to replace "
                       "it; save to a file path", label, kind_of(target.st_mode));
    bool keep = exists && S_ISREG(target.st_mode);
    remove_stale(path, dir_len, name_len);

    size_t cap = dir_len + name_len + 64;
    a->tmp = mt_alloc(cap, 1);
    if (!a->tmp)
        return mt_fail(MT_ERR_OUT_OF_MEMORY, "%s: out of memory", label);
    for (int attempt = 0; attempt < 100; attempt++) {
        unsigned tag = (unsigned)time(NULL) * 2654435761u + counter++ * 40503u +
                       (unsigned)attempt * 2246822519u;
        snprintf(a->tmp, cap, "%.*s.%.*s" TMP_MARK "%ld-%08x", (int)dir_len, path,
                 (int)name_len, path + dir_len, own_pid(), tag);
        /* 0600 until the target's mode is copied: never readable by more
         * than the target was */
        a->fd = open(a->tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, keep ? 0600 : 0666);
        if (a->fd >= 0 || errno != EEXIST)
            break;
    }
    if (a->fd < 0) {
        int e = errno;
        mt_dealloc(a->tmp);
        a->tmp = NULL;
        return mt_fail(MT_ERR_IO, "%s: cannot create a temporary file next to it: %s",
                       label, strerror(e));
    }
    int e = keep ? copy_owner_and_mode(a->fd, &target) : 0;
    if (e) {
        close(a->fd);
        unlink(a->tmp);
        mt_dealloc(a->tmp);
        a->tmp = NULL;
        return mt_fail(MT_ERR_IO, "%s: cannot give the new file the mode of the old one: "
                       "%s (the existing file is unchanged)", label, strerror(e));
    }
    return MT_OK;
}

int mt_io_write_all(int fd, const void *p, size_t n)
{
    const unsigned char *b = p;
    while (n > 0) {
        size_t chunk = n > ((size_t)1 << 30) ? (size_t)1 << 30 : n;
        ssize_t w = write(fd, b, chunk);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return w < 0 ? errno : EIO;
        b += w;
        n -= (size_t)w;
    }
    return 0;
}

/* Make the rename durable; best effort (not every file system can). */
static void sync_dir(const char *path)
{
    const char *slash = strrchr(path, '/');
    char dir[PATH_MAX];
    if (!slash) {
        strcpy(dir, ".");
    } else if (slash == path) {
        strcpy(dir, "/");
    } else {
        size_t n = (size_t)(slash - path);
        if (n >= sizeof dir) return;
        memcpy(dir, path, n);
        dir[n] = '\0';
    }
    int fd = open(dir, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return;
    (void)fsync(fd);
    close(fd);
}

mt_status mt_io_atomic_finish(const char *label, io_atomic *a, int write_err)
{
    const char *step = "write";
    int err = write_err;
    if (!err && fsync(a->fd) != 0) {
        err = errno;
        step = "fsync";
    }
    if (close(a->fd) != 0 && !err) {
        err = errno;
        step = "close";
    }
    if (!err && rename(a->tmp, a->path) != 0) {
        err = errno;
        step = "rename";
    }
    mt_status st = MT_OK;
    if (err) {
        unlink(a->tmp);
        st = mt_fail(MT_ERR_IO, "%s: %s failed: %s (the existing file, if any, is "
                     "unchanged)", label, step, strerror(err));
    } else {
        sync_dir(a->path);
    }
    mt_dealloc(a->tmp);
    memset(a, 0, sizeof *a);
    a->fd = -1;
    return st;
}

mt_status mt_file_write_atomic(const char *path, const void *data, size_t size)
{
    if (!path || !*path || (!data && size))
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "file_write_atomic: %s",
                       !path || !*path ? "path must not be NULL or empty"
                                       : "data is NULL but size is not 0");
    io_atomic a;
    mt_status st = mt_io_atomic_begin(path, path, &a);
    if (st)
        return st;
    return mt_io_atomic_finish(path, &a, size ? mt_io_write_all(a.fd, data, size) : 0);
}
