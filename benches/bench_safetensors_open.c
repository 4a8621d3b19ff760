/* bench_safetensors_open.c — opening costs the header, not the data.
 *
 *   bench_safetensors_open [TENSORS [REPS]]     (defaults: 16, 2001)
 *
 * Writes two files in /tmp with the same header (TENSORS F32 tensors, header
 * padded to the same length): 1 MiB and 1 GiB of data, the big one sparse
 * (ftruncate, no data written). Validates first: both open, list the right
 * tensors, a tensor read from the mapping is a zero-copy borrowed view, and
 * opening touches no data page (mincore over the 1 GiB file afterwards).
 * Then times open+close, alternating the files after a warm-up, and reports
 * the median (and p10/p90) per file, a table and one JSON line.
 * Exit 1 if validation fails or the 1 GiB open costs >= 1 ms more than the
 * 1 MiB one.
 */
#define _DEFAULT_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include "bench_clock.h"
#include "minitensor/minitensor.h"

#define LIMIT_US 1000.0

static double now_us(void) { return bench_seconds(CLOCK_MONOTONIC) * 1e6; }

/* Header of `n` F32 tensors [rows, 256] tiling `data_bytes`, padded with
 * spaces to `pad_to` bytes. Returns the header length or 0. */
static size_t make_header(char *h, size_t cap, int n, uint64_t data_bytes,
                          size_t pad_to)
{
    uint64_t total_rows = data_bytes / 1024, off = 0;
    uint64_t base = total_rows / (uint64_t)n;
    size_t o = 0;
    o += (size_t)snprintf(h + o, cap - o, "{\"__metadata__\":{\"bench\":\"open\"}");
    for (int i = 0; i < n && o < cap; i++) {
        /* the last tensor takes the remainder: the tensors tile the data */
        uint64_t rows = i < n - 1 ? base : total_rows - base * (uint64_t)(n - 1);
        o += (size_t)snprintf(h + o, cap - o,
                              ",\"layer.%04d.weight\":{\"dtype\":\"F32\",\"shape\""
                              ":[%llu,256],\"data_offsets\":[%llu,%llu]}",
                              i, (unsigned long long)rows,
                              (unsigned long long)off,
                              (unsigned long long)(off + rows * 1024));
        off += rows * 1024;
    }
    if (o + 1 >= cap || off != data_bytes) return 0;
    h[o++] = '}';
    if (o > pad_to) return 0;
    memset(h + o, ' ', pad_to - o);
    return pad_to;
}

static int write_file(const char *path, const char *header, size_t n,
                      uint64_t data_bytes)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) return -1;
    uint8_t len[8];
    for (int i = 0; i < 8; i++) len[i] = (uint8_t)((uint64_t)n >> (8 * i));
    int ok = write(fd, len, 8) == 8 && write(fd, header, n) == (ssize_t)n &&
             ftruncate(fd, (off_t)(8 + n + data_bytes)) == 0;  /* sparse */
    close(fd);
    return ok ? 0 : -1;
}

/* Pages of `path` in the page cache (mincore through our own mapping). */
static long resident_pages(const char *path, long *total)
{
    int fd = open(path, O_RDONLY);
    if (fd < 0) return -1;
    struct stat sb;
    fstat(fd, &sb);
    size_t size = (size_t)sb.st_size, page = (size_t)sysconf(_SC_PAGESIZE);
    void *p = mmap(NULL, size, PROT_READ, MAP_SHARED, fd, 0);
    close(fd);
    if (p == MAP_FAILED) return -1;
    size_t pages = (size + page - 1) / page;
    unsigned char *vec = malloc(pages);
    long n = -1;
    if (vec && mincore(p, size, vec) == 0) {
        n = 0;
        for (size_t i = 0; i < pages; i++) n += vec[i] & 1;
    }
    free(vec);
    munmap(p, size);
    *total = (long)pages;
    return n;
}

static void drop_cache(const char *path)
{
    int fd = open(path, O_RDONLY);
    if (fd < 0) return;
    fdatasync(fd);
    posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
    close(fd);
}

static int validate(const char *path, int n, uint64_t data_bytes)
{
    mt_safetensors *f;
    if (mt_safetensors_open(path, &f) != MT_OK) {
        fprintf(stderr, "validate: %s\n", mt_last_error());
        return -1;
    }
    int ok = mt_safetensors_count(f) == (size_t)n;
    mt_safetensors_entry e;
    ok = ok && mt_safetensors_info(f, (size_t)n - 1, &e) == MT_OK &&
         e.end == data_bytes && e.shape[1] == 256;
    mt_tensor *t = NULL;
    ok = ok && mt_safetensors_get_f32(f, "layer.0000.weight", &t) == MT_OK &&
         t->ownership == MT_OWNERSHIP_BORROWED &&
         mt_safetensors_info(f, 0, &e) == MT_OK && t->data == e.data;
    mt_tensor_free(t);
    mt_safetensors_close(f);
    if (!ok) fprintf(stderr, "validate: %s lists the wrong tensors\n", path);
    return ok ? 0 : -1;
}

static void cpu_model(char *buf, size_t cap)
{
    snprintf(buf, cap, "unknown");
    FILE *fp = fopen("/proc/cpuinfo", "r");
    if (!fp) return;
    char line[512];
    while (fgets(line, sizeof line, fp)) {
        if (!strncmp(line, "model name", 10)) {
            char *c = strchr(line, ':');
            if (c) {
                c += 2;
                c[strcspn(c, "\n")] = '\0';
                snprintf(buf, cap, "%s", c);
            }
            break;
        }
    }
    fclose(fp);
}

int main(int argc, char **argv)
{
    int n = argc > 1 ? atoi(argv[1]) : 16;
    int reps = argc > 2 ? atoi(argv[2]) : 2001;
    if (n < 1 || n > 100000 || reps < 11) {
        fprintf(stderr, "usage: %s [TENSORS (1..100000) [REPS (>= 11)]]\n",
                argv[0]);
        return 2;
    }
    const uint64_t small = (uint64_t)1 << 20, large = (uint64_t)1 << 30;
    if (small / (uint64_t)n < 1024) {
        fprintf(stderr, "at most 1024 tensors (1 MiB of F32 rows of 256)\n");
        return 2;
    }
    char dir[] = "/tmp/mt_bench_open_XXXXXX";
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    char path_s[64], path_l[64];
    snprintf(path_s, sizeof path_s, "%s/1MiB.safetensors", dir);
    snprintf(path_l, sizeof path_l, "%s/1GiB.safetensors", dir);
    size_t cap = (size_t)n * 128 + 256;
    char *hs = malloc(cap), *hl = malloc(cap);
    /* both headers padded to the same length */
    size_t pad = ((size_t)n * 96 + 64 + 7) / 8 * 8;
    size_t ns = make_header(hs, cap, n, small, pad);
    size_t nl = make_header(hl, cap, n, large, pad);
    int status = 1;
    double *ts = NULL, *tl = NULL;
    if (!ns || !nl || write_file(path_s, hs, ns, small) != 0 ||
        write_file(path_l, hl, nl, large) != 0) {
        fprintf(stderr, "cannot write the files in %s\n", dir);
        goto out;
    }

    /* ---- validate before timing ---- */
    if (validate(path_s, n, small) || validate(path_l, n, large)) goto out;
    drop_cache(path_l);
    mt_safetensors *f;
    for (int i = 0; i < 10; i++) {
        if (mt_safetensors_open(path_l, &f) != MT_OK) goto out;
        mt_safetensors_close(f);
    }
    long total_pages = 0;
    long resident = resident_pages(path_l, &total_pages);
    long header_pages = (long)((8 + nl + 4095) / 4096);
    if (resident < 0 || resident > header_pages) {
        fprintf(stderr, "opening touched data: %ld of %ld pages resident "
                "(header: %ld)\n", resident, total_pages, header_pages);
        goto out;
    }

    /* ---- time: warm up, then alternate ---- */
    ts = malloc(sizeof(double) * (size_t)reps);
    tl = malloc(sizeof(double) * (size_t)reps);
    if (!ts || !tl) goto out;
    for (int i = 0; i < 100; i++) {
        const char *p = i % 2 ? path_l : path_s;
        if (mt_safetensors_open(p, &f) != MT_OK) goto out;
        mt_safetensors_close(f);
    }
    for (int i = 0; i < reps; i++) {
        for (int k = 0; k < 2; k++) {
            const char *p = k ? path_l : path_s;
            double t0 = now_us();
            if (mt_safetensors_open(p, &f) != MT_OK) goto out;
            mt_safetensors_close(f);
            double dt = now_us() - t0;
            if (k) tl[i] = dt; else ts[i] = dt;
        }
    }
    qsort(ts, (size_t)reps, sizeof *ts, bench_cmp_double);
    qsort(tl, (size_t)reps, sizeof *tl, bench_cmp_double);
    double ms = ts[reps / 2], ml = tl[reps / 2], delta = ml - ms;
    int pass = delta < LIMIT_US;

    struct utsname u;
    uname(&u);
    char cpu[256];
    cpu_model(cpu, sizeof cpu);
    printf("safetensors open+close: %d F32 tensors, header %zu bytes, %d "
           "reps, 1 thread\n", n, nl, reps);
    printf("machine: %s %s %s, %s, %ld cpus\n", u.sysname, u.release,
           u.machine, cpu, sysconf(_SC_NPROCESSORS_ONLN));
    printf("\n%-10s %14s %12s %12s %12s\n", "file", "bytes", "median_us",
           "p10_us", "p90_us");
    printf("%-10s %14llu %12.2f %12.2f %12.2f\n", "1 MiB",
           (unsigned long long)(8 + ns + small), ms, ts[reps / 10],
           ts[reps * 9 / 10]);
    printf("%-10s %14llu %12.2f %12.2f %12.2f\n", "1 GiB",
           (unsigned long long)(8 + nl + large), ml, tl[reps / 10],
           tl[reps * 9 / 10]);
    printf("\n1 GiB - 1 MiB: %+.2f us (limit %.0f us): %s\n", delta, LIMIT_US,
           pass ? "PASS" : "FAIL");
    printf("pages of the 1 GiB file resident after 10 opens: %ld of %ld "
           "(header: %ld)\n\n", resident, total_pages, header_pages);
    printf("{\"bench\":\"safetensors_open\",\"machine\":{\"os\":\"%s %s\","
           "\"arch\":\"%s\",\"cpu\":\"%s\",\"cpus\":%ld},\"threads\":1,"
           "\"tensors\":%d,\"header_bytes\":%zu,\"reps\":%d,"
           "\"small\":{\"bytes\":%llu,\"median_us\":%.3f,\"p10_us\":%.3f,"
           "\"p90_us\":%.3f},"
           "\"large\":{\"bytes\":%llu,\"median_us\":%.3f,\"p10_us\":%.3f,"
           "\"p90_us\":%.3f},"
           "\"delta_us\":%.3f,\"limit_us\":%.0f,\"resident_pages\":%ld,"
           "\"pass\":%s}\n",
           u.sysname, u.release, u.machine, cpu,
           sysconf(_SC_NPROCESSORS_ONLN), n, nl, reps,
           (unsigned long long)(8 + ns + small), ms, ts[reps / 10],
           ts[reps * 9 / 10], (unsigned long long)(8 + nl + large), ml,
           tl[reps / 10], tl[reps * 9 / 10], delta, LIMIT_US, resident,
           pass ? "true" : "false");
    status = pass ? 0 : 1;
out:
    free(ts);
    free(tl);
    unlink(path_s);
    unlink(path_l);
    rmdir(dir);
    free(hs);
    free(hl);
    return status;
}
