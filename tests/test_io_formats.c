/* test_io_formats.c — io/'s input formats (minitensor/idx.h, image.h): IDX
 * plain and gzip-compressed, PGM P2/P5, PNG; every malformed input with its
 * message; the builds without zlib or libpng.
 *
 *   test_io_formats IMAGE_DIR     (tests/mnist: committed PGM/PNG fixtures)
 *
 * Temporary files go to the current directory (meson: the build dir). */
#include "test_util.h"

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
    remove("io_formats_small.idx");
    remove("io_formats_bad.idx");
    remove("io_formats_empty.idx");
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
                 "io_formats_junk.idx.gz: trailing data after the gzip stream (not "
                 "another gzip member)");
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
        {"P2 2 2 255\n1 2 3", "x.pgm: pixel 3 of 4 is missing or above maxval 255"},
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
#ifdef MT_TEST_HAVE_ZLIB
        cmocka_unit_test(idx_gzip),
        cmocka_unit_test(idx_gzip_out_of_memory),
#else
        cmocka_unit_test(idx_gzip_without_zlib),
#endif
        cmocka_unit_test(pgm_decodes),
        cmocka_unit_test(pgm_malformed),
        cmocka_unit_test(png_decodes_and_rejects),
        cmocka_unit_test(image_load_files),
    };
    return cmocka_run_group_tests_name("io formats", tests, NULL, NULL);
}
