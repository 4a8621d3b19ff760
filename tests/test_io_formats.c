/* test_io_formats.c — io/'s input formats (minitensor/idx.h, image.h): IDX
 * plain and gzip-compressed, PGM P2/P5, PNG; every malformed input with its
 * message; the builds without zlib or libpng; hostile input: FIFOs and
 * devices, files over the size limits, gzip bombs (memory and time
 * bounded), headers announcing more than the data holds, PNG palette
 * indices past the palette, PNGs without IEND or with oversized chunks.
 *
 *   test_io_formats IMAGE_DIR     (tests/mnist: committed PGM/PNG fixtures)
 *
 * Temporary files go to the current directory (meson: the build dir). */
#define _POSIX_C_SOURCE 200809L
#include "test_util.h"

#ifndef __wasm__   /* wasm32 (WASI): no signals */
#include <signal.h>
#endif
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "minitensor/idx.h"
#include "minitensor/image.h"

#ifdef MT_TEST_HAVE_ZLIB
#include <zlib.h>
#endif

static const char *image_dir;

/* ---- helpers ------------------------------------------------------------------ */

static void write_file(const char *path, const void *bytes, size_t size)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(bytes, 1, size, f), size);
    assert_int_equal(fclose(f), 0);
}

/* The whole file (malloc'ed, caller frees). */
static unsigned char *read_fixture(const char *name, size_t *size)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", image_dir, name);
    FILE *f = fopen(path, "rb");
    if (!f)
        fail_msg("cannot open %s", path);
    unsigned char *buf = malloc(1 << 20);
    assert_non_null(buf);
    *size = fread(buf, 1, 1 << 20, f);
    fclose(f);
    return buf;
}

/* An IDX file: magic 00 00 08 rank, dims, then `data` (numel bytes). */
static size_t make_idx(unsigned char *buf, int rank, const uint32_t *dims,
                       const unsigned char *data, size_t data_size)
{
    buf[0] = buf[1] = 0;
    buf[2] = 0x08;
    buf[3] = (unsigned char)rank;
    size_t n = 4;
    for (int d = 0; d < rank; d++, n += 4) {
        buf[n] = (unsigned char)(dims[d] >> 24);
        buf[n + 1] = (unsigned char)(dims[d] >> 16);
        buf[n + 2] = (unsigned char)(dims[d] >> 8);
        buf[n + 3] = (unsigned char)dims[d];
    }
    if (data_size)
        memcpy(buf + n, data, data_size);
    return n + data_size;
}

/* A [2,2,3] IDX: "images" 0..11. */
static size_t small_idx(unsigned char *buf)
{
    unsigned char px[12];
    for (int i = 0; i < 12; i++)
        px[i] = (unsigned char)(i * 20);
    return make_idx(buf, 3, (uint32_t[]){2, 2, 3}, px, 12);
}

/* ---- IDX ------------------------------------------------------------------------ */

static void idx_parses_ranks_1_to_3(void **state)
{
    (void)state;
    unsigned char buf[64];
    mt_idx idx;
    size_t n = small_idx(buf);
    assert_ok(mt_idx_parse(buf, n, "small", &idx));
    assert_int_equal(idx.rank, 3);
    assert_int_equal(idx.dim[0], 2);
    assert_int_equal(idx.dim[1], 2);
    assert_int_equal(idx.dim[2], 3);
    assert_ptr_equal(idx.data, buf + 16);   /* no copy */
    assert_int_equal(idx.data[11], 220);
    mt_idx_free(&idx);                      /* nothing owned: harmless */
    n = make_idx(buf, 1, (uint32_t[]){3}, (const unsigned char *)"\x01\x02\x09", 3);
    assert_ok(mt_idx_parse(buf, n, "labels", &idx));
    assert_int_equal(idx.rank, 1);
    assert_int_equal(idx.dim[0], 3);
    assert_int_equal(idx.data[2], 9);
    n = make_idx(buf, 3, (uint32_t[]){0, 28, 28}, NULL, 0);   /* no images at all */
    assert_ok(mt_idx_parse(buf, n, "empty set", &idx));
    assert_int_equal(idx.dim[0], 0);
    mt_idx_free(NULL);
}

static void idx_malformed(void **state)
{
    (void)state;
    unsigned char buf[64];
    mt_idx idx;
    size_t n = small_idx(buf);
    assert_fails(mt_idx_parse(buf, 0, "x.idx", &idx), MT_ERR_FORMAT, "x.idx: not an IDX file");
    assert_fails(mt_idx_parse(buf, 3, "x.idx", &idx), MT_ERR_FORMAT, "x.idx: not an IDX file");
    buf[0] = 1;
    assert_fails(mt_idx_parse(buf, n, "x.idx", &idx), MT_ERR_FORMAT, "x.idx: not an IDX file");
    buf[0] = 0;
    buf[2] = 0x0d;   /* float */
    assert_fails(mt_idx_parse(buf, n, "x.idx", &idx), MT_ERR_FORMAT,
                 "x.idx: IDX element type 0x0d, expected 0x08 (unsigned byte)");
    buf[2] = 0x08;
    buf[3] = 4;
    assert_fails(mt_idx_parse(buf, n, "x.idx", &idx), MT_ERR_FORMAT,
                 "x.idx: IDX rank 4, expected 1..3");
    buf[3] = 0;
    assert_fails(mt_idx_parse(buf, n, "x.idx", &idx), MT_ERR_FORMAT,
                 "x.idx: IDX rank 0, expected 1..3");
    buf[3] = 3;
    assert_fails(mt_idx_parse(buf, 8, "x.idx", &idx), MT_ERR_FORMAT,
                 "x.idx: truncated: 8 bytes, the header alone needs 16");
    assert_fails(mt_idx_parse(buf, n - 2, "x.idx", &idx), MT_ERR_FORMAT,
                 "x.idx: truncated: the header announces 12 bytes of data, 10 follow");
    assert_fails(mt_idx_parse(buf, n + 1, "x.idx", &idx), MT_ERR_FORMAT,
                 "x.idx: too long: the header announces 12 bytes of data, 13 follow");
    assert_null(idx.data);   /* zeroed on failure */
    assert_int_equal(idx.rank, 0);
    n = make_idx(buf, 3, (uint32_t[]){0xffffffffu, 0xffffffffu, 0xffffffffu}, NULL, 0);
    assert_fails(mt_idx_parse(buf, n, "x.idx", &idx), MT_ERR_FORMAT,
                 "x.idx: IDX dims are too large");
    const unsigned char gz[] = {0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3};
    assert_fails(mt_idx_parse(gz, sizeof gz, "x.idx.gz", &idx), MT_ERR_FORMAT,
                 "x.idx.gz: gzip-compressed IDX data: decompress it first");
    assert_fails(mt_idx_parse(buf, n, "x", NULL), MT_ERR_INVALID_ARGUMENT,
                 "idx_parse: idx is NULL");
}

static void idx_load_files(void **state)
{
    (void)state;
    unsigned char buf[64];
    size_t n = small_idx(buf);
    write_file("io_formats_small.idx", buf, n);
    mt_idx idx;
    assert_ok(mt_idx_load("io_formats_small.idx", &idx));
    assert_int_equal(idx.rank, 3);
    assert_int_equal(idx.data[5], 100);
    mt_idx_free(&idx);
    assert_null(idx.data);

    write_file("io_formats_bad.idx", buf, n - 1);   /* the message names the file */
    assert_fails(mt_idx_load("io_formats_bad.idx", &idx), MT_ERR_FORMAT,
                 "io_formats_bad.idx: truncated: the header announces 12 bytes of data, "
                 "11 follow");
    write_file("io_formats_empty.idx", buf, 0);
    assert_fails(mt_idx_load("io_formats_empty.idx", &idx), MT_ERR_FORMAT,
                 "io_formats_empty.idx: not an IDX file");
    assert_fails(mt_idx_load("io_formats_missing.idx", &idx), MT_ERR_IO,
                 "io_formats_missing.idx: No such file or directory");
    assert_fails(mt_idx_load(".", &idx), MT_ERR_IO,
                 ".: not a regular file (it is a directory)");
    assert_fails(mt_idx_load(NULL, &idx), MT_ERR_INVALID_ARGUMENT, "idx_load: path is NULL");
    /* a plain file whose header announces 1 GiB: the size mismatch is
     * found from fstat, before the data is read or its buffer allocated */
    n = make_idx(buf, 3, (uint32_t[]){1 << 20, 32, 32}, (const unsigned char *)"abc", 3);
    write_file("io_formats_lie.idx", buf, n);
    alloc_probe probe;
    probe_install(&probe, -1);
    assert_fails(mt_idx_load("io_formats_lie.idx", &idx), MT_ERR_FORMAT,
                 "io_formats_lie.idx: truncated: the header announces 1073741824 bytes of "
                 "data, 3 follow");
    assert_true(probe.allocations <= 1);   /* the 16-byte header */
    probe_remove();
    remove("io_formats_lie.idx");
    remove("io_formats_small.idx");
    remove("io_formats_bad.idx");
    remove("io_formats_empty.idx");
}

/* Only regular files are read. A FIFO used to block the open (or the read)
 * forever, /dev/zero to be read up to the size limit (gigabytes); both now
 * fail at once. alarm(): a hang fails the test instead of waiting for the
 * harness's timeout. */
static void inputs_must_be_regular_files(void **state)
{
    (void)state;
    mt_idx idx;
    mt_image img;
#ifndef __wasm__   /* WASI has no mkfifo, no alarm */
    remove("io_formats_fifo");   /* left by an interrupted run */
    assert_int_equal(mkfifo("io_formats_fifo", 0600), 0);
    alarm(20);
    assert_fails(mt_idx_load("io_formats_fifo", &idx), MT_ERR_IO,
                 "io_formats_fifo: not a regular file (it is a FIFO)");
    assert_fails(mt_image_load("io_formats_fifo", 0, &img), MT_ERR_IO,
                 "io_formats_fifo: not a regular file (it is a FIFO)");
#endif
    assert_fails(mt_idx_load("/dev/zero", &idx), MT_ERR_IO,
                 "/dev/zero: not a regular file (it is a character device)");
    assert_fails(mt_image_load("/dev/zero", 0, &img), MT_ERR_IO,
                 "/dev/zero: not a regular file (it is a character device)");
    assert_fails(mt_image_load(".", 0, &img), MT_ERR_IO,
                 ".: not a regular file (it is a directory)");
#ifndef __wasm__
    alarm(0);
    remove("io_formats_fifo");
#endif
}

/* Plain files: the size limit is checked (fstat) before anything is read. */
static void image_file_size_limit(void **state)
{
    (void)state;
    FILE *f = fopen("io_formats_big.pgm", "wb");
    assert_non_null(f);
    fputs("P5 28 28 255\n", f);
    assert_int_equal(fseek(f, (long)MT_IMAGE_MAX_FILE, SEEK_SET), 0);   /* sparse */
    fputc(0, f);
    assert_int_equal(fclose(f), 0);
    alloc_probe probe;
    probe_install(&probe, -1);
    mt_image img;
    assert_fails(mt_image_load("io_formats_big.pgm", 0, &img), MT_ERR_FORMAT,
                 "io_formats_big.pgm: 16777217 bytes, more than the 16777216-byte limit "
                 "for an image");
    assert_int_equal(probe.allocations, 0);   /* nothing read */
    probe_remove();
    remove("io_formats_big.pgm");
}

/* ---- IDX, gzip-compressed ------------------------------------------------------------ */

#ifdef MT_TEST_HAVE_ZLIB
/* `data` as one gzip member appended at buf + *len. */
static void gzip_append(unsigned char *buf, size_t cap, size_t *len, const void *data,
                        size_t size)
{
    z_stream zs;
    memset(&zs, 0, sizeof zs);
    assert_int_equal(deflateInit2(&zs, 9, Z_DEFLATED, 16 + MAX_WBITS, 8,
                                  Z_DEFAULT_STRATEGY), Z_OK);
    zs.next_in = (Bytef *)data;
    zs.avail_in = (uInt)size;
    zs.next_out = buf + *len;
    zs.avail_out = (uInt)(cap - *len);
    assert_int_equal(deflate(&zs, Z_FINISH), Z_STREAM_END);
    *len += zs.total_out;
    deflateEnd(&zs);
}

static void idx_gzip(void **state)
{
    (void)state;
    assert_true(mt_idx_gzip_supported());
    unsigned char idx_bytes[64], gz[4096];
    size_t n = small_idx(idx_bytes), len = 0;
    gzip_append(gz, sizeof gz, &len, idx_bytes, n);
    write_file("io_formats.idx.gz", gz, len);
    mt_idx idx;
    assert_ok(mt_idx_load("io_formats.idx.gz", &idx));
    assert_int_equal(idx.rank, 3);
    assert_memory_equal(idx.data, idx_bytes + 16, 12);
    mt_idx_free(&idx);

    /* detected by content, not by name */
    write_file("io_formats_gz.idx", gz, len);
    assert_ok(mt_idx_load("io_formats_gz.idx", &idx));
    mt_idx_free(&idx);

    /* two members (header, then data), as `cat a.gz b.gz` makes */
    size_t two = 0;
    gzip_append(gz, sizeof gz, &two, idx_bytes, 16);
    gzip_append(gz, sizeof gz, &two, idx_bytes + 16, 12);
    write_file("io_formats_two.idx.gz", gz, two);
    assert_ok(mt_idx_load("io_formats_two.idx.gz", &idx));
    assert_int_equal(idx.data[11], 220);
    mt_idx_free(&idx);

    /* malformed streams */
    len = 0;
    gzip_append(gz, sizeof gz, &len, idx_bytes, n);
    write_file("io_formats_trunc.idx.gz", gz, len - 6);
    assert_fails(mt_idx_load("io_formats_trunc.idx.gz", &idx), MT_ERR_FORMAT,
                 "io_formats_trunc.idx.gz: truncated gzip stream (it ends after");
    gz[len - 2] ^= 0xff;   /* the trailer's size (which is also a size hint) */
    write_file("io_formats_crc.idx.gz", gz, len);
    assert_fails(mt_idx_load("io_formats_crc.idx.gz", &idx), MT_ERR_FORMAT,
                 "io_formats_crc.idx.gz: corrupt gzip data (incorrect length check)");
    gz[len - 2] ^= 0xff;
    gz[len - 8] ^= 0xff;   /* the trailer's CRC-32 */
    write_file("io_formats_crc.idx.gz", gz, len);
    assert_fails(mt_idx_load("io_formats_crc.idx.gz", &idx), MT_ERR_FORMAT,
                 "io_formats_crc.idx.gz: corrupt gzip data (incorrect data check)");
    gz[len - 8] ^= 0xff;
    gz[2] = 7;             /* compression method: not deflate */
    write_file("io_formats_method.idx.gz", gz, len);
    assert_fails(mt_idx_load("io_formats_method.idx.gz", &idx), MT_ERR_FORMAT,
                 "io_formats_method.idx.gz: corrupt gzip data (unknown compression method)");
    gz[2] = 8;
    memcpy(gz + len, "junk", 4);
    write_file("io_formats_junk.idx.gz", gz, len + 4);
    assert_fails(mt_idx_load("io_formats_junk.idx.gz", &idx), MT_ERR_FORMAT,
                 "io_formats_junk.idx.gz: 4 bytes of trailing data after the gzip stream");
    /* a good stream of a bad IDX file: the IDX error, naming the file */
    len = 0;
    gzip_append(gz, sizeof gz, &len, idx_bytes, n - 3);
    write_file("io_formats_short.idx.gz", gz, len);
    assert_fails(mt_idx_load("io_formats_short.idx.gz", &idx), MT_ERR_FORMAT,
                 "io_formats_short.idx.gz: truncated: the header announces 12 bytes of "
                 "data, 9 follow");
    len = 0;
    gzip_append(gz, sizeof gz, &len, "", 0);
    write_file("io_formats_nothing.idx.gz", gz, len);
    assert_fails(mt_idx_load("io_formats_nothing.idx.gz", &idx), MT_ERR_FORMAT,
                 "io_formats_nothing.idx.gz: not an IDX file");
    assert_null(idx.data);

    const char *made[] = {"io_formats.idx.gz", "io_formats_gz.idx", "io_formats_two.idx.gz",
                          "io_formats_trunc.idx.gz", "io_formats_crc.idx.gz",
                          "io_formats_method.idx.gz", "io_formats_junk.idx.gz",
                          "io_formats_short.idx.gz", "io_formats_nothing.idx.gz"};
    for (size_t i = 0; i < sizeof made / sizeof made[0]; i++)
        remove(made[i]);
}

/* Every allocation failure is a clean MT_ERR_OUT_OF_MEMORY (zlib's own
 * memory included), with nothing leaked. */
static void idx_gzip_out_of_memory(void **state)
{
    (void)state;
    unsigned char idx_bytes[64], gz[4096];
    size_t n = small_idx(idx_bytes), len = 0;
    gzip_append(gz, sizeof gz, &len, idx_bytes, n);
    write_file("io_formats_oom.idx.gz", gz, len);
    alloc_probe probe;
    for (long k = 0;; k++) {
        probe_install(&probe, k);
        mt_idx idx;
        mt_status s = mt_idx_load("io_formats_oom.idx.gz", &idx);
        if (s == MT_OK) {
            mt_idx_free(&idx);
            assert_int_equal(probe.live, 0);
            probe_remove();
            assert_true(k > 2);   /* file buffer, zlib state and window, output */
            break;
        }
        assert_int_equal(s, MT_ERR_OUT_OF_MEMORY);
        assert_int_equal(probe.live, 0);
        probe_remove();
    }
    remove("io_formats_oom.idx.gz");
}

/* ---- gzip bombs -------------------------------------------------------------------------- */

/* Peak bytes held through mt_alloc (zlib's memory included). */
typedef struct peak_probe {
    size_t live, peak;
} peak_probe;

static void *peak_alloc(size_t size, size_t align, void *user)
{
    peak_probe *p = user;
    assert_true(align <= 64);   /* a 64-byte header keeps any alignment io/ asks */
    unsigned char *b = aligned_alloc(64, (size + 64 + 63) / 64 * 64);
    if (!b)
        return NULL;
    memcpy(b, &size, sizeof size);
    p->live += size;
    if (p->live > p->peak)
        p->peak = p->live;
    return b + 64;
}

static void peak_free(void *ptr, void *user)
{
    if (!ptr)
        return;
    peak_probe *p = user;
    unsigned char *b = (unsigned char *)ptr - 64;
    size_t size;
    memcpy(&size, b, sizeof size);
    p->live -= size;
    free(b);
}

/* One gzip member holding `zeros` zero bytes after `prefix`, appended to *out. */
static void gzip_zeros(unsigned char **out, size_t *len, size_t *cap, const void *prefix,
                       size_t prefix_size, size_t zeros)
{
    static unsigned char chunk[1 << 16];
    z_stream zs;
    memset(&zs, 0, sizeof zs);
    assert_int_equal(deflateInit2(&zs, 9, Z_DEFLATED, 16 + MAX_WBITS, 8,
                                  Z_DEFAULT_STRATEGY), Z_OK);
    size_t left = zeros;
    bool first = true;
    for (;;) {
        if (first) {
            zs.next_in = (Bytef *)prefix;
            zs.avail_in = (uInt)prefix_size;
            first = false;
        } else {
            size_t k = left < sizeof chunk ? left : sizeof chunk;
            zs.next_in = chunk;
            zs.avail_in = (uInt)k;
            left -= k;
        }
        int flush = left == 0 && zs.avail_in == 0 ? Z_FINISH : Z_NO_FLUSH;
        if (!first && left == 0)
            flush = Z_FINISH;
        do {
            if (*cap - *len < 65536) {
                *cap = 2 * *cap + 65536;
                *out = realloc(*out, *cap);
                assert_non_null(*out);
            }
            zs.next_out = *out + *len;
            zs.avail_out = (uInt)(*cap - *len);
            int z = deflate(&zs, flush);
            assert_true(z == Z_OK || z == Z_STREAM_END || z == Z_BUF_ERROR);
            *len = (size_t)(zs.next_out - *out);
            if (z == Z_STREAM_END) {
                deflateEnd(&zs);
                return;
            }
        } while (zs.avail_out == 0 || zs.avail_in > 0 || flush == Z_FINISH);
    }
}

static double seconds(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* A 2 MB .gz that inflates to 2 GiB: 128 members of 16 MiB of zeros (as
 * `cat` of gzip files makes), after a first member holding `prefix`.
 * Loading it must fail at once, holding little memory. Before the fix the
 * whole file was inflated first (2 GiB held, 11 s). */
static void load_bomb(const char *path, const void *prefix, size_t prefix_size,
                      mt_status want, const char *message, size_t max_peak)
{
    static unsigned char *zeros;   /* one member of 16 MiB of zeros, made once */
    static size_t zeros_len;
    if (!zeros) {
        size_t zcap = 0;
        gzip_zeros(&zeros, &zeros_len, &zcap, NULL, 0, (size_t)16 << 20);
    }
    unsigned char *gz = NULL;
    size_t len = 0, cap = 0;
    gzip_zeros(&gz, &len, &cap, prefix, prefix_size, 0);
    cap = len + 128 * zeros_len;
    gz = realloc(gz, cap);
    assert_non_null(gz);
    for (int i = 0; i < 128; i++, len += zeros_len)
        memcpy(gz + len, zeros, zeros_len);
    assert_true(len > 1000000 && len < 4000000);   /* ~2 MB of gzip */
    write_file(path, gz, len);
    free(gz);
    peak_probe peak = {0, 0};
    mt_allocator_set(&(mt_allocator){peak_alloc, peak_free, &peak});
    double t0 = seconds();
    mt_idx idx;
    mt_status s = mt_idx_load(path, &idx);
    double took = seconds() - t0;
    mt_allocator_set(NULL);
    if (s != want || !strstr(mt_last_error(), message))
        fail_msg("got %s \"%s\"", mt_status_name(s), mt_last_error());
    if (peak.peak > max_peak)
        fail_msg("%s: peak %zu bytes held, expected at most %zu", path, peak.peak, max_peak);
    assert_int_equal(peak.live, 0);
    assert_true(took < 2.0);
    remove(path);
}

static void idx_gzip_bombs(void **state)
{
    (void)state;
    /* zeros only: not IDX after 4 bytes */
    load_bomb("io_formats_bomb0.gz", NULL, 0, MT_ERR_FORMAT,
              "io_formats_bomb0.gz: IDX element type 0x00", (size_t)1 << 20);
    /* a valid header for one 28x28 image (784 bytes), then 2 GiB of zeros:
     * "too long" one byte past what the header announced */
    unsigned char head[16];
    make_idx(head, 3, (uint32_t[]){1, 28, 28}, NULL, 0);
    load_bomb("io_formats_bomb1.gz", head, 16, MT_ERR_FORMAT,
              "io_formats_bomb1.gz: too long: the header announces 784 bytes of data, "
              "more follow", (size_t)1 << 20);
    /* a header announcing more than the 2 GiB limit: refused before any data */
    make_idx(head, 3, (uint32_t[]){100000000, 28, 28}, NULL, 0);
    load_bomb("io_formats_bomb2.gz", head, 16, MT_ERR_FORMAT,
              "io_formats_bomb2.gz: the header announces 78400000000 bytes of data, more "
              "than the 2147483648-byte limit for IDX files", (size_t)1 << 20);
    /* a header announcing 1 GiB over a stream that has 4 bytes: what it
     * holds grows with what arrives, not with what the header claims */
    make_idx(head, 3, (uint32_t[]){1 << 20, 32, 32}, NULL, 0);
    unsigned char gz[256];
    size_t len = 0;
    unsigned char lie[20];
    memcpy(lie, head, 16);
    memset(lie + 16, 7, 4);
    gzip_append(gz, sizeof gz, &len, lie, 20);
    write_file("io_formats_lie.gz", gz, len);
    peak_probe peak = {0, 0};
    mt_allocator_set(&(mt_allocator){peak_alloc, peak_free, &peak});
    mt_idx idx;
    mt_status s = mt_idx_load("io_formats_lie.gz", &idx);
    mt_allocator_set(NULL);
    assert_int_equal(s, MT_ERR_FORMAT);
    assert_non_null(strstr(mt_last_error(), "io_formats_lie.gz: truncated: the header "
                                            "announces 1073741824 bytes of data, 4 follow"));
    assert_true(peak.peak < ((size_t)2 << 20));
    remove("io_formats_lie.gz");
    /* gzip inside gzip: say what to do */
    unsigned char inner[256], outer[512];
    size_t ilen = 0, olen = 0;
    unsigned char plain[64];
    size_t n = small_idx(plain);
    gzip_append(inner, sizeof inner, &ilen, plain, n);
    gzip_append(outer, sizeof outer, &olen, inner, ilen);
    write_file("io_formats_twice.gz", outer, olen);
    assert_fails(mt_idx_load("io_formats_twice.gz", &idx), MT_ERR_FORMAT,
                 "io_formats_twice.gz: gzip-compressed twice: decompress it once (gunzip) "
                 "and use the result");
    remove("io_formats_twice.gz");
}
#else
static void idx_gzip_without_zlib(void **state)
{
    (void)state;
    assert_false(mt_idx_gzip_supported());
    const unsigned char gz[] = {0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3, 3, 0, 0, 0, 0, 0,
                                0, 0, 0, 0};
    write_file("io_formats.idx.gz", gz, sizeof gz);
    mt_idx idx;
    assert_fails(mt_idx_load("io_formats.idx.gz", &idx), MT_ERR_UNSUPPORTED,
                 "io_formats.idx.gz: gzip-compressed, but minitensor was built without "
                 "zlib");
    remove("io_formats.idx.gz");
}
#endif

/* ---- PGM ------------------------------------------------------------------------------ */

static void pgm_decodes(void **state)
{
    (void)state;
    mt_image img;
    const char p5[] = "P5\n# comment\n3 2\n255\n\x00\x10\x20\x30\x40\xff";
    assert_ok(mt_pgm_decode((const unsigned char *)p5, sizeof p5 - 1, "p5", &img));
    assert_int_equal(img.width, 3);
    assert_int_equal(img.height, 2);
    assert_memory_equal(img.pixels, "\x00\x10\x20\x30\x40\xff", 6);
    mt_image_free(&img);
    assert_null(img.pixels);
    /* P2, maxval 15: scaled to 0..255 (v * 255 / 15 = v * 17) */
    const char p2[] = "P2 2 2 15 # four pixels\n0 1\n# half\n7 15\n";
    assert_ok(mt_pgm_decode((const unsigned char *)p2, sizeof p2 - 1, "p2", &img));
    assert_memory_equal(img.pixels, "\x00\x11\x77\xff", 4);
    mt_image_free(&img);
    /* 16-bit P5: big-endian, scaled */
    const unsigned char p16[] = "P5 2 1 65535\n\xff\xff\x80\x00";
    assert_ok(mt_pgm_decode(p16, sizeof p16 - 1, "p16", &img));
    assert_int_equal(img.pixels[0], 255);
    assert_int_equal(img.pixels[1], 128);
    mt_image_free(&img);
    mt_image_free(NULL);
}

static void pgm_malformed(void **state)
{
    (void)state;
    mt_image img;
    const struct { const char *bytes; const char *message; } cases[] = {
        {"P6 1 1 255\n\x01", "x.pgm: not a PGM image"},
        {"P5 0 1 255\n", "x.pgm: bad PGM header (width, height 1..16384, maxval 1..65535)"},
        {"P5 16385 1 255\n", "x.pgm: bad PGM header (width, height 1..16384"},
        {"P5 2 2\n", "x.pgm: bad PGM header (width, height"},
        {"P5 2 2 70000\n", "x.pgm: bad PGM header (width, height"},
        {"P5 2 2 0\n", "x.pgm: bad PGM header (width, height"},
        {"P5 2 2 255", "x.pgm: bad PGM header"},
        {"P5 x 2 255\n", "x.pgm: bad PGM header"},
        {"P5 28 28 255\n\x01\x02\x03", "x.pgm: truncated: a 28x28 PGM needs 784 bytes of "
                                       "pixels, 3 follow"},
        {"P5 2 1 65535\n\x01\x02\x03", "x.pgm: truncated: a 2x1 PGM needs 4 bytes of "
                                       "pixels, 3 follow"},
        {"P2 2 2 255\n1 2 3", "x.pgm: truncated: a 2x2 text PGM needs at least 7 bytes "
                              "of pixels, 5 follow"},
        {"P2 2 2 255\n1 2 3  ", "x.pgm: pixel 3 of 4 is missing or above maxval 255"},
        {"P2 16384 16384 255\n0 0", "x.pgm: truncated: a 16384x16384 text PGM needs at "
                                    "least 536870911 bytes of pixels, 3 follow"},
        {"P2 2 2 15\n1 16 3 4", "x.pgm: pixel 1 of 4 is missing or above maxval 15"},
        {"P2 2 2 255\n1 2 x 4", "x.pgm: pixel 2 of 4 is missing or above maxval 255"},
        {"P5 2 1 100\n\x05\xc8", "x.pgm: pixel 1 is 200, above maxval 100"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char *b = cases[i].bytes;
        /* the strings hold no NUL bytes: strlen is their size */
        assert_fails(mt_pgm_decode((const unsigned char *)b, strlen(b), "x.pgm", &img),
                     MT_ERR_FORMAT, cases[i].message);
        assert_null(img.pixels);
    }
    assert_fails(mt_pgm_decode(NULL, 4, "x", &img), MT_ERR_INVALID_ARGUMENT,
                 "pgm_decode: bytes is NULL");
}

/* ---- PNG ------------------------------------------------------------------------------ */

/* CRC-32 (PNG's), bit by bit: tests only. */
static uint32_t crc32_of(const unsigned char *p, size_t n)
{
    uint32_t c = 0xffffffffu;
    for (size_t i = 0; i < n; i++) {
        c ^= p[i];
        for (int k = 0; k < 8; k++)
            c = c & 1 ? 0xedb88320u ^ (c >> 1) : c >> 1;
    }
    return c ^ 0xffffffffu;
}

static size_t put_be32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)(v >> 24);
    p[1] = (unsigned char)(v >> 16);
    p[2] = (unsigned char)(v >> 8);
    p[3] = (unsigned char)v;
    return 4;
}

/* A PNG signature and IHDR for width×height 8-bit gray, then a dummy IDAT. */
static size_t png_header(unsigned char *buf, uint32_t width, uint32_t height)
{
    static const unsigned char sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    memcpy(buf, sig, 8);
    size_t n = 8;
    n += put_be32(buf + n, 13);
    unsigned char *chunk = buf + n;
    memcpy(buf + n, "IHDR", 4);
    n += 4;
    n += put_be32(buf + n, width);
    n += put_be32(buf + n, height);
    memcpy(buf + n, "\x08\x00\x00\x00\x00", 5);
    n += 5;
    n += put_be32(buf + n, crc32_of(chunk, 17));
    n += put_be32(buf + n, 0);
    chunk = buf + n;
    memcpy(buf + n, "IDAT", 4);
    n += 4;
    n += put_be32(buf + n, crc32_of(chunk, 4));
    return n;
}

static void png_decodes_and_rejects(void **state)
{
    (void)state;
    mt_image img;
    size_t size;
    unsigned char *png = read_fixture("nine-rgb.png", &size);
    if (!mt_image_png_supported()) {
        assert_fails(mt_png_decode(png, size, "nine-rgb.png", 0, &img), MT_ERR_UNSUPPORTED,
                     "nine-rgb.png: a PNG image, but minitensor was built without PNG "
                     "support");
        free(png);
        return;
    }
    assert_ok(mt_png_decode(png, size, "nine-rgb.png", 0, &img));   /* RGB -> gray */
    assert_int_equal(img.width, 28);
    assert_int_equal(img.height, 28);
    int lit = 0;
    for (int i = 0; i < 28 * 28; i++)
        lit += img.pixels[i] > 128;
    assert_true(lit > 50 && lit < 400);   /* a digit: some light pixels, mostly dark */
    mt_image_free(&img);

    assert_fails(mt_png_decode(png, 40, "cut.png", 0, &img), MT_ERR_FORMAT, "cut.png: bad PNG: ");
    assert_null(img.pixels);
    png[20] ^= 0x01;   /* inside IHDR: its CRC no longer matches */
    assert_fails(mt_png_decode(png, size, "crc.png", 0, &img), MT_ERR_FORMAT, "crc.png: bad PNG: ");
    free(png);

    unsigned char buf[128];
    size_t n = png_header(buf, 20000, 1);
    assert_fails(mt_png_decode(buf, n, "wide.png", 0, &img), MT_ERR_FORMAT,
                 "wide.png: a 20000x1 PNG is larger than 16384x16384");
    n = png_header(buf, 0, 1);
    assert_fails(mt_png_decode(buf, n, "zero.png", 0, &img), MT_ERR_FORMAT,
                 "zero.png: bad PNG: ");
}

/* A chunk: length, type, data, CRC. */
static size_t png_chunk(unsigned char *buf, const char *type, const unsigned char *data,
                        size_t len)
{
    size_t n = put_be32(buf, (uint32_t)len);
    memcpy(buf + n, type, 4);
    if (len)
        memcpy(buf + n + 4, data, len);
    n += put_be32(buf + n + 4 + len, crc32_of(buf + 4, 4 + len)) + 4 + len;
    return n;
}

/* A PNG of colour type `colour` and width×height at `depth` bits, with a
 * PLTE of `colours` entries of `rgb` (none if 0) and the raw scanlines `raw`
 * (filter byte + packed samples) in a stored (level 0) zlib stream, so no
 * compressor is needed; IEND only if `iend`. */
static size_t stored_png(unsigned char *buf, uint32_t width, uint32_t height, int depth,
                         int colour, const unsigned char *rgb, int colours,
                         const unsigned char *raw, size_t raw_len, bool iend)
{
    static const unsigned char sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    memcpy(buf, sig, 8);
    size_t n = 8;
    unsigned char ihdr[13];
    put_be32(ihdr, width);
    put_be32(ihdr + 4, height);
    memcpy(ihdr + 8, (unsigned char[]){(unsigned char)depth, (unsigned char)colour, 0, 0, 0},
           5);
    n += png_chunk(buf + n, "IHDR", ihdr, 13);
    if (colours)
        n += png_chunk(buf + n, "PLTE", rgb, 3 * (size_t)colours);
    unsigned char z[256];
    size_t zn = 0;
    z[zn++] = 0x78;
    z[zn++] = 0x01;
    z[zn++] = 0x01;   /* final block, stored */
    z[zn++] = (unsigned char)raw_len;
    z[zn++] = (unsigned char)(raw_len >> 8);
    z[zn++] = (unsigned char)~raw_len;
    z[zn++] = (unsigned char)(~raw_len >> 8);
    memcpy(z + zn, raw, raw_len);
    zn += raw_len;
    uint32_t a = 1, b = 0;   /* Adler-32 */
    for (size_t i = 0; i < raw_len; i++) {
        a = (a + raw[i]) % 65521;
        b = (b + a) % 65521;
    }
    zn += put_be32(z + zn, b << 16 | a);
    n += png_chunk(buf + n, "IDAT", z, zn);
    if (iend)
        n += png_chunk(buf + n, "IEND", NULL, 0);
    return n;
}

/* A palette PNG (colour type 3), as stored_png. */
static size_t palette_png(unsigned char *buf, uint32_t width, uint32_t height, int depth,
                          const unsigned char *rgb, int colours, const unsigned char *raw,
                          size_t raw_len, bool iend)
{
    return stored_png(buf, width, height, depth, 3, rgb, colours, raw, raw_len, iend);
}

/* Gray as Pillow's convert("L") gives it (what Keras' load_img and
 * torchvision's Grayscale feed a model): ITU-R 601-2 luma of the stored
 * samples, L = (19595 R + 38470 G + 7471 B + 32768) >> 16, no gamma
 * correction; alpha composited onto the matte in stored values,
 * (L A + matte (255 - A)) / 255 rounded. libpng's simplified API worked in
 * linear light: red 127, green 220, blue 76, and 93 for the gray+alpha pixel
 * over black. */
static void png_gray_as_pillow(void **state)
{
    (void)state;
    if (!mt_image_png_supported())
        return;   /* png_decodes_and_rejects checks the build without libpng */
    unsigned char buf[512];
    mt_image img;
    /* RGB, 4x1: red, green, blue, white */
    const unsigned char rgb[13] = {0, 255, 0, 0, 0, 255, 0, 0, 0, 255, 255, 255, 255};
    size_t n = stored_png(buf, 4, 1, 8, 2, NULL, 0, rgb, sizeof rgb, true);
    assert_ok(mt_png_decode(buf, n, "rgb.png", 0, &img));
    assert_memory_equal(img.pixels, ((unsigned char[]){76, 150, 29, 255}), 4);
    mt_image_free(&img);
    /* gray+alpha, 2x1: 128 at alpha 128, 200 at alpha 0 */
    const unsigned char ga[5] = {0, 128, 128, 200, 0};
    n = stored_png(buf, 2, 1, 8, 4, NULL, 0, ga, sizeof ga, true);
    assert_ok(mt_png_decode(buf, n, "ga.png", 0, &img));
    assert_memory_equal(img.pixels, ((unsigned char[]){64, 0}), 2);
    mt_image_free(&img);
    assert_ok(mt_png_decode(buf, n, "ga.png", 255, &img));   /* 48769 / 255 = 191.25 */
    assert_memory_equal(img.pixels, ((unsigned char[]){191, 255}), 2);
    mt_image_free(&img);
    /* a gAMA chunk (gamma 1.0) does not change the samples */
    const unsigned char gray[4] = {0, 0, 64, 128};
    size_t m = stored_png(buf, 3, 1, 8, 0, NULL, 0, gray, sizeof gray, true);
    unsigned char gama[4];
    put_be32(gama, 100000);
    unsigned char chunk[16];
    size_t k = png_chunk(chunk, "gAMA", gama, 4);
    memmove(buf + 33 + k, buf + 33, m - 33);   /* after the signature and IHDR */
    memcpy(buf + 33, chunk, k);
    assert_ok(mt_png_decode(buf, m + k, "gama.png", 0, &img));
    assert_memory_equal(img.pixels, ((unsigned char[]){0, 64, 128}), 3);
    mt_image_free(&img);
}

/* 16-bit samples scale linearly to 0..255, as in a 16-bit PGM: libpng's
 * simplified API took them for linear light and gamma-encoded them (50%
 * gray, 32896, came out as 186). Expected: round(v * 255 / 65535). */
static void png_16_bit(void **state)
{
    (void)state;
    if (!mt_image_png_supported())
        return;   /* png_decodes_and_rejects checks the build without libpng */
    unsigned char buf[512];
    mt_image img;
    /* gray, 5x1: 0, 1000, 16448, 32896, 65535 */
    const unsigned char gray[11] = {0, 0x00, 0x00, 0x03, 0xe8, 0x40, 0x40, 0x80, 0x80,
                                    0xff, 0xff};
    size_t n = stored_png(buf, 5, 1, 16, 0, NULL, 0, gray, sizeof gray, true);
    assert_ok(mt_png_decode(buf, n, "gray16.png", 0, &img));
    assert_memory_equal(img.pixels, "\x00\x04\x40\x80\xff", 5);
    mt_image_free(&img);
    /* RGB, 2x1: (32896, 32896, 32896), (16448, 16448, 16448) */
    const unsigned char rgb[13] = {0, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80,
                                   0x40, 0x40, 0x40, 0x40, 0x40, 0x40};
    n = stored_png(buf, 2, 1, 16, 2, NULL, 0, rgb, sizeof rgb, true);
    assert_ok(mt_png_decode(buf, n, "rgb16.png", 0, &img));
    assert_memory_equal(img.pixels, "\x80\x40", 2);
    mt_image_free(&img);
    /* the same gray samples in a 16-bit PGM */
    const unsigned char pgm[] = "P5 5 1 65535\n\x00\x00\x03\xe8\x40\x40\x80\x80\xff\xff";
    assert_ok(mt_pgm_decode(pgm, sizeof pgm - 1, "gray16.pgm", &img));
    assert_memory_equal(img.pixels, "\x00\x04\x40\x80\xff", 5);
    mt_image_free(&img);
}

/* libpng's simplified API accepted pixels that index past the palette
 * (they came out black: the prediction changed) and files without IEND. */
static void png_strict(void **state)
{
    (void)state;
    if (!mt_image_png_supported())
        return;   /* png_decodes_and_rejects checks the build without libpng */
    const unsigned char bw[6] = {0, 0, 0, 255, 255, 255};   /* black, white */
    unsigned char buf[512];
    mt_image img;
    /* 2x2, 8 bits: indices 0 1 / 1 0 */
    const unsigned char ok[6] = {0, 0, 1, 0, 1, 0};
    size_t n = palette_png(buf, 2, 2, 8, bw, 2, ok, 6, true);
    assert_ok(mt_png_decode(buf, n, "ok.png", 0, &img));
    assert_memory_equal(img.pixels, "\x00\xff\xff\x00", 4);
    mt_image_free(&img);
    /* index 5 of a 2-colour palette */
    const unsigned char bad[6] = {0, 0, 5, 0, 1, 0};
    n = palette_png(buf, 2, 2, 8, bw, 2, bad, 6, true);
    assert_fails(mt_png_decode(buf, n, "index.png", 0, &img), MT_ERR_FORMAT,
                 "index.png: bad PNG: a pixel uses palette index 5, but the palette has "
                 "2 colours");
    assert_null(img.pixels);
    /* 1 bit per pixel, a 1-colour palette, a pixel of index 1 (0x40: the
     * second pixel of the row) */
    const unsigned char bit[4] = {0, 0x40, 0, 0x00};
    n = palette_png(buf, 2, 2, 1, bw, 1, bit, 4, true);
    assert_fails(mt_png_decode(buf, n, "bit.png", 0, &img), MT_ERR_FORMAT,
                 "bit.png: bad PNG: a pixel uses palette index 1, but the palette has "
                 "1 colours");
    /* no IEND: the file stops after the image data */
    n = palette_png(buf, 2, 2, 8, bw, 2, ok, 6, false);
    assert_fails(mt_png_decode(buf, n, "cut.png", 0, &img), MT_ERR_FORMAT,
                 "cut.png: bad PNG: the file ends before its IEND chunk (truncated)");
    /* a chunk announcing more bytes than the file has: refused before
     * libpng allocates that much (fuzz_png found a 106-byte file with a
     * 1.9 GB sPLT chunk: 1.9 GB allocated and cleared, 10 s) */
    size_t m = palette_png(buf, 2, 2, 8, bw, 2, ok, 6, true);
    memmove(buf + 33 + 12 + 4, buf + 33, m - 33);
    put_be32(buf + 33, 0x73737373u);
    memcpy(buf + 37, "sPLT", 4);
    memset(buf + 41, 's', 4 + 4);
    m += 16;
    assert_fails(mt_png_decode(buf, m, "splt.png", 0, &img), MT_ERR_FORMAT,
                 "splt.png: bad PNG: chunk 'sPLT' announces 1936946035 bytes, more than the");
    /* an IHDR of 16384x16384 (256 MiB of pixels) over 17 bytes of image
     * data: refused before the pixels are allocated */
    n = palette_png(buf, 2, 2, 8, bw, 2, ok, 6, true);
    put_be32(buf + 16, 16384);
    put_be32(buf + 20, 16384);
    put_be32(buf + 29, crc32_of(buf + 12, 17));
    alloc_probe probe;
    probe_install(&probe, -1);
    assert_fails(mt_png_decode(buf, n, "big.png", 0, &img), MT_ERR_FORMAT,
                 "big.png: bad PNG: 17 bytes of image data cannot hold a 16384x16384 image");
    assert_int_equal(probe.allocations, 0);
    probe_remove();
    /* through mt_image_load too */
    n = palette_png(buf, 2, 2, 8, bw, 2, ok, 6, false);
    write_file("io_formats_noiend.png", buf, n);
    assert_fails(mt_image_load("io_formats_noiend.png", 0, &img), MT_ERR_FORMAT,
                 "io_formats_noiend.png: bad PNG: the file ends before its IEND chunk");
    remove("io_formats_noiend.png");
}

/* ---- mt_image_load: the signature picks the decoder ---------------------------------------- */

static void image_load_files(void **state)
{
    (void)state;
    mt_image img;
    char path[1024];
    snprintf(path, sizeof path, "%s/seven.pgm", image_dir);
    assert_ok(mt_image_load(path, 0, &img));
    assert_int_equal(img.width, 28);
    mt_image_free(&img);
    snprintf(path, sizeof path, "%s/two-inverted.png", image_dir);
    if (mt_image_png_supported()) {
        assert_ok(mt_image_load(path, 0, &img));
        assert_int_equal(img.height, 28);
        assert_int_equal(img.pixels[0], 255);   /* black on white */
        mt_image_free(&img);
    } else {
        assert_fails(mt_image_load(path, 0, &img), MT_ERR_UNSUPPORTED,
                     "built without PNG support");
    }
    snprintf(path, sizeof path, "%s/not-an-image.txt", image_dir);
    assert_fails(mt_image_load(path, 0, &img), MT_ERR_FORMAT,
                 "not-an-image.txt: not a PGM (P2/P5) or PNG image");
    snprintf(path, sizeof path, "%s/truncated.pgm", image_dir);
    assert_fails(mt_image_load(path, 0, &img), MT_ERR_FORMAT,
                 "truncated.pgm: truncated: a 28x28 PGM needs 784 bytes of pixels, 100 "
                 "follow");
    write_file("io_formats_empty.pgm", "", 0);
    assert_fails(mt_image_load("io_formats_empty.pgm", 0, &img), MT_ERR_FORMAT,
                 "io_formats_empty.pgm: not a PGM (P2/P5) or PNG image (empty file)");
    remove("io_formats_empty.pgm");
    assert_fails(mt_image_load("io_formats_missing.png", 0, &img), MT_ERR_IO,
                 "io_formats_missing.png: No such file or directory");
    assert_null(img.pixels);
    assert_fails(mt_image_load(NULL, 0, &img), MT_ERR_INVALID_ARGUMENT,
                 "image_load: path is NULL");
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: test_io_formats IMAGE_DIR\n");
        return 2;
    }
    image_dir = argv[1];
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(idx_parses_ranks_1_to_3),
        cmocka_unit_test(idx_malformed),
        cmocka_unit_test(idx_load_files),
        cmocka_unit_test(inputs_must_be_regular_files),
        cmocka_unit_test(image_file_size_limit),
#ifdef MT_TEST_HAVE_ZLIB
        cmocka_unit_test(idx_gzip),
        cmocka_unit_test(idx_gzip_out_of_memory),
        cmocka_unit_test(idx_gzip_bombs),
#else
        cmocka_unit_test(idx_gzip_without_zlib),
#endif
        cmocka_unit_test(pgm_decodes),
        cmocka_unit_test(pgm_malformed),
        cmocka_unit_test(png_decodes_and_rejects),
        cmocka_unit_test(png_strict),
        cmocka_unit_test(png_16_bit),
        cmocka_unit_test(png_gray_as_pillow),
        cmocka_unit_test(image_load_files),
    };
    return cmocka_run_group_tests_name("io formats", tests, NULL, NULL);
}
