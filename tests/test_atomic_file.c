/* test_atomic_file.c — the atomic writer behind mt_safetensors_save and
 * mt_file_write_atomic (io/atomic_file.c): targets that are not regular
 * files, the target's mode and owner, temporaries of killed saves, file
 * names at NAME_MAX, failing writes, messages.
 *
 * Everything happens in a fresh directory under /tmp. */
#define _POSIX_C_SOURCE 200809L
#include "test_util.h"

#include <dirent.h>
#include <errno.h>
#include <sys/stat.h>
#ifndef __wasm__   /* wasm32 (WASI): no signals, resource limits, processes */
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#endif
#include <unistd.h>

#include "minitensor/file.h"

static char dir[256];

static int make_dir(void **state)
{
    (void)state;
    snprintf(dir, sizeof dir, "/tmp/mt_atomic_test_XXXXXX");
    return mkdtemp(dir) ? 0 : -1;
}

static int remove_dir(void **state)
{
    (void)state;
    DIR *d = opendir(dir);
    if (d) {
        struct dirent *e;
        char p[600];
        while ((e = readdir(d))) {
            if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
                continue;
            snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
            unlink(p);
        }
        closedir(d);
    }
    rmdir(dir);
    return 0;
}

static int entries(void)
{
    DIR *d = opendir(dir);
    assert_non_null(d);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        n += strcmp(e->d_name, ".") && strcmp(e->d_name, "..");
    closedir(d);
    return n;
}

#ifndef __wasm__   /* only the tests wasm32 leaves out use it */
static void put(const char *path, const char *text)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    fputs(text, f);
    assert_int_equal(fclose(f), 0);
}
#endif

/* The file's bytes as a string (small files only). */
static void get(const char *path, char *buf, size_t cap)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    size_t n = fread(buf, 1, cap - 1, f);
    buf[n] = '\0';
    fclose(f);
}

#ifndef __wasm__   /* only the tests wasm32 leaves out use it */
static bool exists(const char *path)
{
    struct stat sb;
    return lstat(path, &sb) == 0;
}
#endif

/* ---- mt_file_write_atomic ------------------------------------------------------ */

static void writes_and_replaces(void **state)
{
    (void)state;
    char path[400], text[64];
    snprintf(path, sizeof path, "%s/out.txt", dir);
    assert_ok(mt_file_write_atomic(path, "first", 5));
    get(path, text, sizeof text);
    assert_string_equal(text, "first");
    assert_ok(mt_file_write_atomic(path, "2nd", 3));
    get(path, text, sizeof text);
    assert_string_equal(text, "2nd");
    assert_ok(mt_file_write_atomic(path, NULL, 0));   /* an empty file */
    get(path, text, sizeof text);
    assert_string_equal(text, "");
    assert_int_equal(entries(), 1);                   /* no temporary left */
    assert_fails(mt_file_write_atomic(NULL, "x", 1), MT_ERR_INVALID_ARGUMENT,
                 "file_write_atomic: path must not be NULL or empty");
    assert_fails(mt_file_write_atomic(path, NULL, 1), MT_ERR_INVALID_ARGUMENT,
                 "data is NULL but size is not 0");
    char slash[400];
    snprintf(slash, sizeof slash, "%s/", dir);
    assert_fails(mt_file_write_atomic(slash, "x", 1), MT_ERR_INVALID_ARGUMENT,
                 "the path names a directory");
    snprintf(slash, sizeof slash, "%s/no/such/dir/x", dir);
    assert_fails(mt_file_write_atomic(slash, "x", 1), MT_ERR_IO,
                 "cannot create a temporary file next to it: No such file or directory");
    unlink(path);
}

/* A FIFO (or a device such as /dev/full) at the target is refused before
 * anything is created, and stays what it was. Before the fix the FIFO was
 * replaced by a regular file. */
static void refuses_non_regular_targets(void **state)
{
    (void)state;
#ifndef __wasm__   /* WASI has no mkfifo */
    char fifo[400];
    snprintf(fifo, sizeof fifo, "%s/pipe", dir);
    assert_int_equal(mkfifo(fifo, 0600), 0);
    assert_fails(mt_file_write_atomic(fifo, "x", 1), MT_ERR_IO,
                 "pipe: not a regular file (it is a FIFO): refusing to replace it");
    float v = 1;
    mt_tensor *t;
    assert_ok(mt_tensor_from_data(MT_DTYPE_F32, 1, (int64_t[]){1}, &v, &t));
    mt_safetensors_item item = {"w", 0, t};
    assert_fails(mt_safetensors_save(fifo, &item, 1, NULL, 0), MT_ERR_IO,
                 "not a regular file (it is a FIFO)");
    struct stat sb;
    assert_int_equal(lstat(fifo, &sb), 0);
    assert_true(S_ISFIFO(sb.st_mode));
    assert_int_equal(entries(), 1);
    unlink(fifo);
    mt_tensor_free(t);
#endif
    /* a directory at the target: refused with the same message */
    char sub[400];
    snprintf(sub, sizeof sub, "%s/sub", dir);
    assert_int_equal(mkdir(sub, 0700), 0);
    assert_fails(mt_file_write_atomic(sub, "x", 1), MT_ERR_IO,
                 "not a regular file (it is a directory)");
    rmdir(sub);
}

#ifndef __wasm__   /* WASI has no chmod/chown, no processes */
/* The target keeps its mode (0600 stays 0600, not 0666 & ~umask) and its
 * owner and group. As root the owner is a foreign one, which only fchown
 * can keep; otherwise the process's own. */
static void keeps_mode_and_owner(void **state)
{
    (void)state;
    char path[400];
    snprintf(path, sizeof path, "%s/secret.bin", dir);
    put(path, "old");
    assert_int_equal(chmod(path, 0600), 0);
    uid_t uid = geteuid() == 0 ? 4321 : geteuid();
    gid_t gid = geteuid() == 0 ? 4322 : getegid();
    assert_int_equal(chown(path, uid, gid), 0);
    assert_ok(mt_file_write_atomic(path, "new", 3));
    struct stat sb;
    assert_int_equal(stat(path, &sb), 0);
    assert_int_equal(sb.st_mode & 07777, 0600);
    assert_int_equal(sb.st_uid, uid);
    assert_int_equal(sb.st_gid, gid);

    assert_int_equal(chmod(path, 0640), 0);
    float v = 2;
    mt_tensor *t;
    assert_ok(mt_tensor_from_data(MT_DTYPE_F32, 1, (int64_t[]){1}, &v, &t));
    mt_safetensors_item item = {"w", 0, t};
    assert_ok(mt_safetensors_save(path, &item, 1, NULL, 0));
    assert_int_equal(stat(path, &sb), 0);
    assert_int_equal(sb.st_mode & 07777, 0640);
    assert_int_equal(sb.st_uid, uid);
    mt_tensor_free(t);
    unlink(path);
}

/* A process id that is certainly not alive: a child that has exited and
 * been reaped. */
static long dead_pid(void)
{
    pid_t child = fork();
    assert_true(child >= 0);
    if (child == 0)
        _exit(0);
    int status;
    assert_int_equal(waitpid(child, &status, 0), child);
    return (long)child;
}

/* A save killed part-way leaves ".NAME.mt-tmp-PID-TAG"; the next save of
 * the same target removes it when PID is dead, and nothing else. */
static void removes_stale_temporaries(void **state)
{
    (void)state;
    char path[400], stale[500], live[500], parent[500], other[500], odd[500];
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    long dead = dead_pid();
    snprintf(stale, sizeof stale, "%s/.model.safetensors.mt-tmp-%ld-0123abcd", dir, dead);
    snprintf(live, sizeof live, "%s/.model.safetensors.mt-tmp-%ld-0123abcd", dir,
             (long)getpid());
    snprintf(parent, sizeof parent, "%s/.model.safetensors.mt-tmp-%ld-0123abcd", dir,
             (long)getppid());
    snprintf(other, sizeof other, "%s/.other.bin.mt-tmp-%ld-0123abcd", dir, dead);
    snprintf(odd, sizeof odd, "%s/.model.safetensors.mt-tmp-%ld-notatag", dir, dead);
    const char *made[] = {stale, live, parent, other, odd};
    for (int i = 0; i < 5; i++)
        put(made[i], "partial save");
    float v = 3;
    mt_tensor *t;
    assert_ok(mt_tensor_from_data(MT_DTYPE_F32, 1, (int64_t[]){1}, &v, &t));
    mt_safetensors_item item = {"w", 0, t};
    assert_ok(mt_safetensors_save(path, &item, 1, NULL, 0));
    assert_false(exists(stale));   /* the killed save's leftover */
    assert_true(exists(live));     /* a live process (ours): kept */
    assert_true(exists(parent));   /* another live process: kept */
    assert_true(exists(other));    /* another target's: kept */
    assert_true(exists(odd));      /* not our naming: kept */
    /* mt_file_write_atomic cleans up the same way */
    put(stale, "partial save");
    assert_ok(mt_file_write_atomic(path, "x", 1));
    assert_false(exists(stale));
    for (int i = 1; i < 5; i++)
        unlink(made[i]);
    unlink(path);
    mt_tensor_free(t);
}
#endif

/* File names of 250 and 255 bytes (NAME_MAX): the temporary name is
 * shortened to fit, and stays unique. */
static void long_file_names(void **state)
{
    (void)state;
    for (size_t len = 250; len <= 255; len += 5) {
        char name[256], path[700];
        memset(name, 'n', len);
        memcpy(name + len - 4, ".bin", 4);
        name[len] = '\0';
        snprintf(path, sizeof path, "%s/%s", dir, name);
        assert_ok(mt_file_write_atomic(path, "long", 4));
        char text[16];
        get(path, text, sizeof text);
        assert_string_equal(text, "long");
        float v = 4;
        mt_tensor *t;
        assert_ok(mt_tensor_from_data(MT_DTYPE_F32, 1, (int64_t[]){1}, &v, &t));
        mt_safetensors_item item = {"w", 0, t};
        assert_ok(mt_safetensors_save(path, &item, 1, NULL, 0));
        mt_tensor_free(t);
        assert_int_equal(entries(), 1);
        unlink(path);
    }
    /* a multi-byte name: cut at a character boundary (the temporary name
     * is then still valid UTF-8; the save works either way) */
    char name[256], path[700];
    size_t n = 0;
    while (n + 2 <= 250) {
        name[n++] = (char)0xc3;
        name[n++] = (char)0xa9;   /* é */
    }
    name[n] = '\0';
    snprintf(path, sizeof path, "%s/%s", dir, name);
    assert_ok(mt_file_write_atomic(path, "e", 1));
    assert_int_equal(entries(), 1);
    unlink(path);
}

#ifndef __wasm__   /* WASI has no resource limits */
/* A write failing part-way (the file-size limit here, as a full disk
 * would; a real ENOSPC needs a small file system to fill) leaves the old
 * file and no temporary, and says why. */
static void failed_write_keeps_old_file(void **state)
{
    (void)state;
    char path[400], text[64];
    snprintf(path, sizeof path, "%s/logits.bin", dir);
    put(path, "previous logits");
    size_t big = 1 << 20;
    char *bytes = calloc(big, 1);
    assert_non_null(bytes);
    struct rlimit old, lim;
    assert_int_equal(getrlimit(RLIMIT_FSIZE, &old), 0);
    lim = old;
    lim.rlim_cur = 64 * 1024;
    void (*prev)(int) = signal(SIGXFSZ, SIG_IGN);
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &lim), 0);
    mt_status st = mt_file_write_atomic(path, bytes, big);
    setrlimit(RLIMIT_FSIZE, &old);
    signal(SIGXFSZ, prev);
    assert_int_equal(st, MT_ERR_IO);
    assert_non_null(strstr(mt_last_error(), "logits.bin: write failed: File too large "
                                            "(the existing file, if any, is unchanged)"));
    get(path, text, sizeof text);
    assert_string_equal(text, "previous logits");
    assert_int_equal(entries(), 1);
    free(bytes);
    unlink(path);
}
#endif

/* A tensor name that is not UTF-8 is escaped in the message, which stays
 * valid UTF-8 (before: the raw byte was echoed). */
static void invalid_name_is_escaped(void **state)
{
    (void)state;
    char path[400];
    snprintf(path, sizeof path, "%s/bad.safetensors", dir);
    float v = 5;
    mt_tensor *t;
    assert_ok(mt_tensor_from_data(MT_DTYPE_F32, 1, (int64_t[]){1}, &v, &t));
    mt_safetensors_item item = {"w\xff\xc3\xa9\xe2\x82", 0, t};
    assert_fails(mt_safetensors_save(path, &item, 1, NULL, 0), MT_ERR_INVALID_ARGUMENT,
                 "tensor name 'w\\xff\xc3\xa9\\xe2\\x82' is not valid UTF-8 (byte 1)");
    for (const unsigned char *p = (const unsigned char *)mt_last_error(); *p; p++)
        assert_true(*p < 0x80 || (p[0] == 0xc3 && p[1] == 0xa9 && p++));
    assert_int_equal(entries(), 0);
    mt_tensor_free(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(writes_and_replaces),
        cmocka_unit_test(refuses_non_regular_targets),
#ifndef __wasm__
        cmocka_unit_test(keeps_mode_and_owner),
        cmocka_unit_test(removes_stale_temporaries),
#endif
        cmocka_unit_test(long_file_names),
#ifndef __wasm__
        cmocka_unit_test(failed_write_keeps_old_file),
#endif
        cmocka_unit_test(invalid_name_is_escaped),
    };
    return cmocka_run_group_tests_name("atomic file", tests, make_dir, remove_dir);
}
