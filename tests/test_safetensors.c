/* test_safetensors.c — the safetensors reader and writer on valid input.
 *
 * References are independent of our own writer: hand-made byte files with
 * hand-computed values, the byte vectors of the Rust crate's own tests
 * (safetensors/src/tensor.rs: test_serialization, test_empty, …) and the
 * examples' MNIST file written by Python's safetensors. Malformed files are
 * in test_safetensors_malformed.c; Python interop in safetensors/interop.py.
 *
 * argv[1] (optional): the MNIST example file, for the real-file test. */
#define _POSIX_C_SOURCE 200809L
#include "test_util.h"

#include <dirent.h>
#include <errno.h>
#ifndef __wasm__   /* wasm32 (WASI): no signals, no resource limits */
#include <signal.h>
#include <sys/resource.h>
#endif
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static const char *mnist_path;

/* ---- helpers ------------------------------------------------------------------ */

/* 8-byte length + header + data, in a malloc'ed buffer (16-byte aligned). */
static uint8_t *build(const char *header, const void *data, size_t data_len,
                      size_t *size)
{
    size_t n = strlen(header);
    *size = 8 + n + data_len;
    uint8_t *b = malloc(*size ? *size : 1);
    assert_non_null(b);
    for (int i = 0; i < 8; i++) b[i] = (uint8_t)((uint64_t)n >> (8 * i));
    memcpy(b + 8, header, n);
    if (data_len) memcpy(b + 8 + n, data, data_len);
    return b;
}

static char tmpdir[256];

static int make_tmpdir(void **state)
{
    (void)state;
    snprintf(tmpdir, sizeof tmpdir, "/tmp/mt_st_test_XXXXXX");
    return mkdtemp(tmpdir) ? 0 : -1;
}

static int remove_tmpdir(void **state)
{
    (void)state;
    DIR *d = opendir(tmpdir);
    if (d) {
        struct dirent *e;
        char p[512];
        while ((e = readdir(d))) {
            if (e->d_name[0] == '.' && (!e->d_name[1] ||
                (e->d_name[1] == '.' && !e->d_name[2])))
                continue;
            snprintf(p, sizeof p, "%s/%s", tmpdir, e->d_name);
            unlink(p);
        }
        closedir(d);
    }
    rmdir(tmpdir);
    return 0;
}

static void write_file(const char *path, const void *data, size_t n)
{
    FILE *fp = fopen(path, "wb");
    assert_non_null(fp);
    assert_int_equal(fwrite(data, 1, n, fp), n);
    assert_int_equal(fclose(fp), 0);
}

static uint8_t *read_file(const char *path, size_t *n)
{
    FILE *fp = fopen(path, "rb");
    assert_non_null(fp);
    fseek(fp, 0, SEEK_END);
    long len = ftell(fp);
    fseek(fp, 0, SEEK_SET);
    uint8_t *b = malloc((size_t)len + 1);
    assert_non_null(b);
    assert_int_equal(fread(b, 1, (size_t)len, fp), (size_t)len);
    fclose(fp);
    *n = (size_t)len;
    return b;
}

/* Number of entries in tmpdir (temporary files must not be left behind). */
static int count_dir_entries(void)
{
    DIR *d = opendir(tmpdir);
    assert_non_null(d);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) n++;
    closedir(d);
    return n;
}

/* ---- reading ---------------------------------------------------------------- */

/* Header padded to 64 bytes: the data starts 8-aligned in the buffer. */
#define HDR_F32 "{\"w\":{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[0,24]}}"

static void test_open_memory_zero_copy(void **state)
{
    (void)state;
    char header[64 + 1];
    snprintf(header, sizeof header, "%-64s", HDR_F32);  /* space padded */
    float vals[6] = {1, -2, 3.5f, 0, 1e30f, -0.0f};
    size_t size;
    uint8_t *buf = build(header, vals, sizeof vals, &size);

    mt_safetensors *f;
    assert_ok(mt_safetensors_open_memory(buf, size, &f));
    assert_int_equal(mt_safetensors_count(f), 1);
    assert_int_equal(mt_safetensors_header_size(f), 64);
    assert_int_equal(mt_safetensors_data_offset(f), 72);
    assert_false(mt_safetensors_has_metadata(f));

    mt_safetensors_entry e;
    assert_ok(mt_safetensors_info(f, 0, &e));
    assert_string_equal(e.name, "w");
    assert_int_equal(e.name_len, 1);
    assert_string_equal(e.dtype_name, "F32");
    assert_true(e.storable);
    assert_int_equal(e.dtype, MT_DTYPE_F32);
    assert_int_equal(e.bits, 32);
    assert_int_equal(e.rank, 2);
    assert_int_equal(e.shape[0], 2);
    assert_int_equal(e.shape[1], 3);
    assert_int_equal(e.numel, 6);
    assert_int_equal(e.nbytes, 24);
    assert_int_equal(e.begin, 0);
    assert_int_equal(e.end, 24);
    assert_int_equal(e.file_offset, 72);
    assert_ptr_equal(e.data, buf + 72);

    mt_tensor *t, *t32;
    assert_ok(mt_safetensors_get(f, "w", &t));
    assert_int_equal(t->ownership, MT_OWNERSHIP_BORROWED);
    assert_ptr_equal(t->data, buf + 72);          /* zero-copy */
    assert_string_equal(t->name, "w");
    assert_int_equal(t->dtype, MT_DTYPE_F32);
    assert_int_equal(t->rank, 2);
    assert_int_equal(t->shape[0], 2);
    assert_int_equal(t->stride[0], 3);
    assert_ok(mt_safetensors_get_f32(f, "w", &t32));
    assert_ptr_equal(t32->data, buf + 72);        /* F32: copies nothing */
    assert_memory_equal(t32->data, vals, sizeof vals);

    size_t idx = 99;
    assert_ok(mt_safetensors_find(f, "w", &idx));
    assert_int_equal(idx, 0);
    mt_tensor_free(t);
    mt_tensor_free(t32);
    mt_safetensors_close(f);
    free(buf);
}

static void test_unaligned_buffer_is_copied(void **state)
{
    (void)state;
    char header[64 + 1];
    snprintf(header, sizeof header, "%-64s", HDR_F32);
    float vals[6] = {1, 2, 3, 4, 5, 6};
    size_t size;
    uint8_t *aligned = build(header, vals, sizeof vals, &size);
    uint8_t *raw = malloc(size + 1);
    memcpy(raw + 1, aligned, size);     /* data now at an odd address */

    mt_safetensors *f;
    assert_ok(mt_safetensors_open_memory(raw + 1, size, &f));
    mt_tensor *t, *t32;
    assert_ok(mt_safetensors_get(f, "w", &t));
    assert_int_equal(t->ownership, MT_OWNERSHIP_OWNED);
    assert_memory_equal(t->data, vals, sizeof vals);
    assert_ok(mt_safetensors_get_f32(f, "w", &t32));
    assert_memory_equal(t32->data, vals, sizeof vals);
    mt_tensor_free(t);
    mt_tensor_free(t32);
    mt_safetensors_close(f);
    free(raw);
    free(aligned);
}

static void test_open_path_is_mapped(void **state)
{
    (void)state;
    char header[64 + 1], path[300];
    snprintf(header, sizeof header, "%-64s", HDR_F32);
    float vals[6] = {6, 5, 4, 3, 2, 1};
    size_t size;
    uint8_t *buf = build(header, vals, sizeof vals, &size);
    snprintf(path, sizeof path, "%s/mapped.safetensors", tmpdir);
    write_file(path, buf, size);

    mt_safetensors *f;
    assert_ok(mt_safetensors_open(path, &f));
    mt_safetensors_entry e;
    assert_ok(mt_safetensors_info(f, 0, &e));
    mt_tensor *t;
    assert_ok(mt_safetensors_get_f32(f, "w", &t));
    assert_int_equal(t->ownership, MT_OWNERSHIP_BORROWED);
    assert_ptr_equal(t->data, e.data);            /* in the mapping */
#ifdef __wasm__   /* WASI cannot map: the file is read into a 64-aligned buffer */
    assert_true((uintptr_t)e.data % 64 == 72 % 64);
#else
    assert_true((uintptr_t)e.data % 4096 == 72);  /* page-aligned mapping */
#endif
    assert_memory_equal(t->data, vals, sizeof vals);
    mt_tensor_free(t);
    mt_safetensors_close(f);
    free(buf);
}

/* Hand-computed conversions of every storable dtype to F32. */
static void test_get_f32_conversions(void **state)
{
    (void)state;
    static const uint8_t f16[] = {
        0x00, 0x3c,   /* 1.0 */
        0x00, 0xc0,   /* -2.0 */
        0xff, 0x7b,   /* 65504 */
        0x01, 0x00,   /* 2^-24, smallest subnormal */
        0x00, 0x7c,   /* +inf */
        0x00, 0x80,   /* -0.0 */
        0x55, 0x35,   /* 0x3555 = 0.333251953125 */
    };
    static const uint8_t bf16[] = {0x80, 0x3f, 0xa0, 0xc0, 0x80, 0x7f};
    double f64v[3] = {0.1, 1e300, -3.5};
    uint8_t f64[24];
    memcpy(f64, f64v, 24);
    static const uint8_t i8[] = {0x80, 0x7f, 0xff};
    static const uint8_t u8[] = {0, 255};
    static const uint8_t i16[] = {0x00, 0x80, 0xff, 0xff};
    static const uint8_t u16[] = {0xff, 0xff};
    static const uint8_t i32[] = {0x00, 0x00, 0x00, 0x80};
    static const uint8_t u32[] = {0xff, 0xff, 0xff, 0xff};
    static const uint8_t i64[] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
    static const uint8_t u64[] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
    static const uint8_t boo[] = {0, 1, 2};

    uint8_t data[256];
    size_t o = 0;
#define PUT(a) (memcpy(data + o, a, sizeof a), o += sizeof a)
    PUT(f16); PUT(bf16); PUT(f64); PUT(i8); PUT(u8); PUT(i16); PUT(u16);
    PUT(i32); PUT(u32); PUT(i64); PUT(u64); PUT(boo);
#undef PUT
    const char *header =
        "{\"f16\":{\"dtype\":\"F16\",\"shape\":[7],\"data_offsets\":[0,14]},"
        "\"bf16\":{\"dtype\":\"BF16\",\"shape\":[3],\"data_offsets\":[14,20]},"
        "\"f64\":{\"dtype\":\"F64\",\"shape\":[3],\"data_offsets\":[20,44]},"
        "\"i8\":{\"dtype\":\"I8\",\"shape\":[3],\"data_offsets\":[44,47]},"
        "\"u8\":{\"dtype\":\"U8\",\"shape\":[2],\"data_offsets\":[47,49]},"
        "\"i16\":{\"dtype\":\"I16\",\"shape\":[2],\"data_offsets\":[49,53]},"
        "\"u16\":{\"dtype\":\"U16\",\"shape\":[1],\"data_offsets\":[53,55]},"
        "\"i32\":{\"dtype\":\"I32\",\"shape\":[1],\"data_offsets\":[55,59]},"
        "\"u32\":{\"dtype\":\"U32\",\"shape\":[1],\"data_offsets\":[59,63]},"
        "\"i64\":{\"dtype\":\"I64\",\"shape\":[1],\"data_offsets\":[63,71]},"
        "\"u64\":{\"dtype\":\"U64\",\"shape\":[1],\"data_offsets\":[71,79]},"
        "\"bool\":{\"dtype\":\"BOOL\",\"shape\":[3],\"data_offsets\":[79,82]}}";
    assert_int_equal(o, 82);
    size_t size;
    uint8_t *buf = build(header, data, o, &size);
    mt_safetensors *f;
    assert_ok(mt_safetensors_open_memory(buf, size, &f));
    assert_int_equal(mt_safetensors_count(f), 12);

    struct { const char *name; size_t n; float want[8]; } cases[] = {
        {"f16", 7, {1.0f, -2.0f, 65504.0f, 5.9604644775390625e-8f, INFINITY,
                    -0.0f, 0.333251953125f}},
        {"bf16", 3, {1.0f, -5.0f, INFINITY}},
        {"f64", 3, {(float)0.1, INFINITY, -3.5f}},
        {"i8", 3, {-128, 127, -1}},
        {"u8", 2, {0, 255}},
        {"i16", 2, {-32768, -1}},
        {"u16", 1, {65535}},
        {"i32", 1, {-2147483648.0f}},
        {"u32", 1, {4294967296.0f}},
        {"i64", 1, {-1}},
        {"u64", 1, {18446744073709551616.0f}},
        {"bool", 3, {0, 1, 1}},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        mt_tensor *t;
        assert_ok(mt_safetensors_get_f32(f, cases[c].name, &t));
        assert_int_equal(t->dtype, MT_DTYPE_F32);
        assert_int_equal(t->ownership, MT_OWNERSHIP_OWNED);
        assert_int_equal(mt_tensor_numel(t), (int64_t)cases[c].n);
        assert_string_equal(t->name, cases[c].name);
        const float *v = t->data;
        for (size_t i = 0; i < cases[c].n; i++) {
            if (v[i] != cases[c].want[i] ||
                signbit(v[i]) != signbit(cases[c].want[i])) {
                print_error("%s[%zu]: got %.9g want %.9g\n", cases[c].name, i,
                            (double)v[i], (double)cases[c].want[i]);
                fail();
            }
        }
        mt_tensor_free(t);
    }
    /* get() keeps the stored dtype */
    mt_tensor *t;
    assert_ok(mt_safetensors_get(f, "i16", &t));
    assert_int_equal(t->dtype, MT_DTYPE_I16);
    int16_t iv[2];
    memcpy(iv, t->data, 4);
    assert_int_equal(iv[0], -32768);
    mt_tensor_free(t);
    mt_safetensors_close(f);
    free(buf);
}

static void test_scalar_and_empty(void **state)
{
    (void)state;
    const char *header =
        "{\"s\":{\"dtype\":\"F32\",\"shape\":[],\"data_offsets\":[0,4]},"
        "\"e\":{\"dtype\":\"F32\",\"shape\":[0,3],\"data_offsets\":[4,4]},"
        "\"e2\":{\"dtype\":\"I64\",\"shape\":[5,0],\"data_offsets\":[0,0]}}";
    float v = 7.5f;
    size_t size;
    uint8_t *buf = build(header, &v, 4, &size);
    mt_safetensors *f;
    assert_ok(mt_safetensors_open_memory(buf, size, &f));
    assert_int_equal(mt_safetensors_count(f), 3);
    /* file order: by offsets, ties by name: e2 [0,0], s [0,4], e [4,4] */
    mt_safetensors_entry e;
    assert_ok(mt_safetensors_info(f, 0, &e));
    assert_string_equal(e.name, "e2");
    assert_ok(mt_safetensors_info(f, 1, &e));
    assert_string_equal(e.name, "s");
    assert_int_equal(e.rank, 0);
    assert_int_equal(e.numel, 1);
    assert_ok(mt_safetensors_info(f, 2, &e));
    assert_string_equal(e.name, "e");
    assert_int_equal(e.numel, 0);

    mt_tensor *t;
    assert_ok(mt_safetensors_get_f32(f, "s", &t));
    assert_int_equal(t->rank, 0);
    assert_int_equal(mt_tensor_numel(t), 1);
    assert_true(*(float *)t->data == 7.5f);
    mt_tensor_free(t);
    assert_ok(mt_safetensors_get(f, "e", &t));
    assert_int_equal(t->rank, 2);
    assert_int_equal(mt_tensor_numel(t), 0);
    mt_tensor_free(t);
    assert_ok(mt_safetensors_get_f32(f, "e2", &t));
    assert_int_equal(mt_tensor_numel(t), 0);
    mt_tensor_free(t);
    mt_safetensors_close(f);
    free(buf);
}

/* Dtypes minitensor cannot store: listed and validated, never mis-read. */
static void test_unstorable_dtypes(void **state)
{
    (void)state;
    const char *header =
        "{\"a\":{\"dtype\":\"F8_E4M3\",\"shape\":[2],\"data_offsets\":[0,2]},"
        "\"b\":{\"dtype\":\"C64\",\"shape\":[1],\"data_offsets\":[2,10]},"
        "\"c\":{\"dtype\":\"F4\",\"shape\":[2,3],\"data_offsets\":[10,13]},"
        "\"d\":{\"dtype\":\"F6_E2M3\",\"shape\":[4],\"data_offsets\":[13,16]},"
        "\"e\":{\"dtype\":\"F8_E5M2FNUZ\",\"shape\":[1],\"data_offsets\":[16,17]},"
        "\"f\":{\"dtype\":\"F8_E8M0\",\"shape\":[1],\"data_offsets\":[17,18]}}";
    uint8_t data[18] = {0};
    size_t size;
    uint8_t *buf = build(header, data, sizeof data, &size);
    mt_safetensors *f;
    assert_ok(mt_safetensors_open_memory(buf, size, &f));
    assert_int_equal(mt_safetensors_count(f), 6);
    mt_safetensors_entry e;
    assert_ok(mt_safetensors_info(f, 2, &e));
    assert_string_equal(e.dtype_name, "F4");
    assert_false(e.storable);
    assert_int_equal(e.dtype, MT_DTYPE_COUNT);
    assert_int_equal(e.bits, 4);
    assert_int_equal(e.nbytes, 3);
    mt_tensor *t = (mt_tensor *)1;
    assert_fails(mt_safetensors_get(f, "a", &t), MT_ERR_DTYPE,
                 "tensor 'a' has dtype F8_E4M3, which minitensor cannot store");
    assert_null(t);
    assert_fails(mt_safetensors_get_f32(f, "b", &t), MT_ERR_DTYPE, "C64");
    assert_fails(mt_safetensors_get_at(f, 3, &t), MT_ERR_DTYPE, "F6_E2M3");
    mt_safetensors_close(f);
    free(buf);
}

/* Valid files minitensor tensors cannot represent: listed, clean errors. */
static void test_rank_and_dim_limits(void **state)
{
    (void)state;
    const char *header =
        "{\"r9\":{\"dtype\":\"U8\",\"shape\":[1,1,1,1,1,1,1,1,2],"
        "\"data_offsets\":[0,2]},"
        "\"huge\":{\"dtype\":\"U8\",\"shape\":[18446744073709551615,0],"
        "\"data_offsets\":[2,2]},"
        "\"wide\":{\"dtype\":\"F32\",\"shape\":[1099511627776,"
        "1099511627776,0],\"data_offsets\":[2,2]},"
        "\"strides\":{\"dtype\":\"F32\",\"shape\":[0,1099511627776,"
        "1099511627776],\"data_offsets\":[2,2]},"
        "\"fine\":{\"dtype\":\"F32\",\"shape\":[3037000499,0,"
        "3037000499],\"data_offsets\":[2,2]}}";
    uint8_t data[2] = {3, 4};
    size_t size;
    uint8_t *buf = build(header, data, 2, &size);
    mt_safetensors *f;
    assert_ok(mt_safetensors_open_memory(buf, size, &f));
    size_t i;
    mt_safetensors_entry e;
    assert_ok(mt_safetensors_find(f, "r9", &i));
    assert_ok(mt_safetensors_info(f, i, &e));
    assert_int_equal(e.rank, 9);
    assert_ok(mt_safetensors_find(f, "huge", &i));
    assert_ok(mt_safetensors_info(f, i, &e));
    assert_true(e.shape[0] == UINT64_MAX);
    mt_tensor *t;
    assert_fails(mt_safetensors_get(f, "r9", &t), MT_ERR_SHAPE,
                 "tensor 'r9' has rank 9; minitensor tensors have at most 8");
    assert_fails(mt_safetensors_get(f, "huge", &t), MT_ERR_OVERFLOW,
                 "does not fit minitensor's int64 dims");
    /* found by the fuzzer: empty, but 2^40 x 2^40 overflows before the 0 */
    assert_fails(mt_safetensors_get_f32(f, "wide", &t), MT_ERR_OVERFLOW,
                 "tensor 'wide': shape [1099511627776,1099511627776,0] does "
                 "not fit minitensor's int64 dims (dim 1 overflows)");
    /* its strides would overflow: the product of nonzero dims must fit */
    assert_fails(mt_safetensors_get(f, "strides", &t), MT_ERR_OVERFLOW,
                 "tensor 'strides': shape [0,1099511627776,1099511627776]");
    assert_ok(mt_safetensors_get(f, "fine", &t));
    assert_int_equal(mt_tensor_numel(t), 0);
    assert_int_equal(t->shape[2], 3037000499);
    mt_tensor_free(t);
    mt_safetensors_close(f);
    free(buf);
}

static void test_get_checked(void **state)
{
    (void)state;
    const char *header =
        "{\"fc1.weight\":{\"dtype\":\"F16\",\"shape\":[3,2],"
        "\"data_offsets\":[0,12]}}";
    uint8_t data[12] = {0};
    size_t size;
    uint8_t *buf = build(header, data, 12, &size);
    mt_safetensors *f;
    assert_ok(mt_safetensors_open_memory(buf, size, &f));
    mt_tensor *t = NULL;
    assert_fails(mt_safetensors_get_checked(f, "fc1.weight", MT_DTYPE_F32, 2,
                                            (int64_t[]){2, 3}, &t),
                 MT_ERR_DTYPE,
                 "safetensors: <memory>: tensor 'fc1.weight': expected F32 "
                 "[2,3], found F16 [3,2]");
    assert_null(t);
    assert_fails(mt_safetensors_get_checked(f, "fc1.weight", MT_DTYPE_F16, 2,
                                            (int64_t[]){2, 3}, &t),
                 MT_ERR_SHAPE, "expected F16 [2,3], found F16 [3,2]");
    assert_fails(mt_safetensors_get_checked(f, "fc1.weight", MT_DTYPE_F16, 1,
                                            (int64_t[]){6}, &t),
                 MT_ERR_SHAPE, "expected F16 [6], found F16 [3,2]");
    assert_fails(mt_safetensors_get_checked(f, "fc1.bias", MT_DTYPE_F16, 1,
                                            (int64_t[]){6}, &t),
                 MT_ERR_NOT_FOUND, "no tensor named 'fc1.bias'");
    /* the neighbour in name order that shares the longest prefix is named
     * (a mistyped suffix, Keras' renumbered dense_3 for dense_2); none if
     * no name shares a first byte */
    assert_fails(mt_safetensors_get(f, "fc1.bias", &t), MT_ERR_NOT_FOUND,
                 "no tensor named 'fc1.bias' (1 tensors; the nearest name is 'fc1.weight')");
    assert_fails(mt_safetensors_get(f, "bias", &t), MT_ERR_NOT_FOUND,
                 "no tensor named 'bias' (1 tensors)");
    assert_ok(mt_safetensors_get_checked(f, "fc1.weight", MT_DTYPE_F16, 2,
                                         (int64_t[]){3, 2}, &t));
    assert_int_equal(t->shape[0], 3);
    mt_tensor_free(t);
    mt_safetensors_close(f);
    free(buf);
}

/* mt_safetensors_unread: what no get has read, in file order; a failed
 * get (wrong dtype, missing) reads nothing; every kind of get counts. */
static void test_unread(void **state)
{
    (void)state;
    const char *header =
        "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
        "\"b\":{\"dtype\":\"F16\",\"shape\":[2],\"data_offsets\":[4,8]},"
        "\"c\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[8,12]},"
        "\"d\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[12,16]}}";
    uint8_t data[16] = {0};
    size_t size, idx[4] = {9, 9, 9, 9};
    uint8_t *buf = build(header, data, 16, &size);
    mt_safetensors *f;
    assert_ok(mt_safetensors_open_memory(buf, size, &f));
    assert_int_equal(mt_safetensors_unread(f, NULL, 0), 4);
    mt_tensor *t = NULL;
    assert_fails(mt_safetensors_get_checked(f, "b", MT_DTYPE_F32, 1, (int64_t[]){2}, &t),
                 MT_ERR_DTYPE, "expected F32 [2], found F16 [2]");
    assert_fails(mt_safetensors_get(f, "e", &t), MT_ERR_NOT_FOUND, "no tensor named 'e'");
    assert_int_equal(mt_safetensors_unread(f, idx, 4), 4);
    assert_ok(mt_safetensors_get_f32(f, "b", &t));
    mt_tensor_free(t);
    assert_ok(mt_safetensors_get_at(f, 3, &t));
    mt_tensor_free(t);
    /* a and c are left; cap 1 writes the first only */
    idx[0] = idx[1] = 9;
    assert_int_equal(mt_safetensors_unread(f, idx, 1), 2);
    assert_int_equal(idx[0], 0);
    assert_int_equal(idx[1], 9);
    assert_int_equal(mt_safetensors_unread(f, idx, 4), 2);
    assert_int_equal(idx[1], 2);
    assert_ok(mt_safetensors_get(f, "a", &t));
    mt_tensor_free(t);
    assert_ok(mt_safetensors_get_checked(f, "c", MT_DTYPE_F32, 1, (int64_t[]){1}, &t));
    mt_tensor_free(t);
    assert_int_equal(mt_safetensors_unread(f, idx, 4), 0);
    assert_int_equal(mt_safetensors_unread(NULL, idx, 4), 0);
    mt_safetensors_close(f);
    free(buf);
}

/* Names sharing more than a quote shows (80 bytes, as diffusers' LoRA
 * names do): the hint adds both tails from before the first differing
 * byte, so the mistyped part is visible. */
static void test_missing_long_name_shows_where_it_differs(void **state)
{
    (void)state;
#define LONG_PREFIX "mid_block.attentions.0.transformer_blocks.0.attn1.processor." \
                    "to_k_lora.down_proj_layer."
    const char *header =
        "{\"" LONG_PREFIX "bias\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]},"
        "\"" LONG_PREFIX "weight\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[1,2]}}";
    uint8_t data[2] = {1, 2};
    size_t size, i;
    uint8_t *buf = build(header, data, 2, &size);
    mt_safetensors *f;
    assert_ok(mt_safetensors_open_memory(buf, size, &f));
    assert_fails(mt_safetensors_find(f, LONG_PREFIX "wieght", &i), MT_ERR_NOT_FOUND,
                 "; from byte 67 they read 'ra.down_proj_layer.wieght' and "
                 "'ra.down_proj_layer.weight')");
#undef LONG_PREFIX
    mt_safetensors_close(f);
    free(buf);
}

/* Names are decoded bytes: escapes resolved, NUL kept, no truncation. */
static void test_names_with_nul_and_escapes(void **state)
{
    (void)state;
    const char *header =
        "{\"a\\u0000b\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]},"
        "\"a\\u0000c\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[1,2]},"
        "\"\\u00e9\\ud83d\\ude00\\\"\\\\\\/\\n\":{\"dtype\":\"U8\",\"shape\":[1],"
        "\"data_offsets\":[2,3]},"
        "\"\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[3,4]}}";
    uint8_t data[4] = {10, 20, 30, 40};
    size_t size;
    uint8_t *buf = build(header, data, 4, &size);
    mt_safetensors *f;
    assert_ok(mt_safetensors_open_memory(buf, size, &f));
    size_t i;
    mt_safetensors_entry e;
    assert_ok(mt_safetensors_find_n(f, "a\0c", 3, &i));
    assert_ok(mt_safetensors_info(f, i, &e));
    assert_int_equal(e.name_len, 3);
    assert_memory_equal(e.name, "a\0c", 4);     /* NUL-terminated too */
    assert_int_equal(*(const uint8_t *)e.data, 20);
    assert_fails(mt_safetensors_find(f, "a", &i), MT_ERR_NOT_FOUND,
                 "no tensor named 'a'");
    const char *fancy = "\xc3\xa9\xf0\x9f\x98\x80\"\\/\n";
    assert_ok(mt_safetensors_find(f, fancy, &i));
    mt_tensor *t;
    assert_ok(mt_safetensors_get_at(f, i, &t));
    assert_int_equal(*(uint8_t *)t->data, 30);
    mt_tensor_free(t);
    assert_ok(mt_safetensors_find(f, "", &i));   /* the empty name */
    assert_ok(mt_safetensors_get(f, "", &t));
    assert_int_equal(*(uint8_t *)t->data, 40);
    mt_tensor_free(t);
    mt_safetensors_close(f);
    free(buf);
}

static void test_metadata(void **state)
{
    (void)state;
    const char *header =
        "{\"__metadata__\":{\"format\":\"pt\",\"a\\u0000k\":\"v\\u0000w\","
        "\"empty\":\"\"},"
        "\"x\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]}}";
    uint8_t d = 1;
    size_t size;
    uint8_t *buf = build(header, &d, 1, &size);
    mt_safetensors *f;
    assert_ok(mt_safetensors_open_memory(buf, size, &f));
    assert_true(mt_safetensors_has_metadata(f));
    assert_int_equal(mt_safetensors_metadata_count(f), 3);
    mt_safetensors_kv kv;
    assert_ok(mt_safetensors_metadata_at(f, 0, &kv));   /* byte order */
    assert_int_equal(kv.key_len, 3);
    assert_memory_equal(kv.key, "a\0k", 3);
    assert_int_equal(kv.value_len, 3);
    assert_memory_equal(kv.value, "v\0w", 4);
    assert_ok(mt_safetensors_metadata_at(f, 1, &kv));
    assert_string_equal(kv.key, "empty");
    assert_string_equal(kv.value, "");
    const char *v;
    size_t vlen;
    assert_ok(mt_safetensors_metadata_get(f, "format", &v, &vlen));
    assert_string_equal(v, "pt");
    assert_int_equal(vlen, 2);
    assert_fails(mt_safetensors_metadata_get(f, "nope", &v, NULL),
                 MT_ERR_NOT_FOUND, "no __metadata__ key 'nope'");
    assert_fails(mt_safetensors_metadata_at(f, 3, &kv),
                 MT_ERR_INVALID_ARGUMENT, "out of range");
    mt_safetensors_close(f);
    free(buf);

    /* an empty __metadata__ object is "present, no pairs" */
    buf = build("{\"__metadata__\":{}}", NULL, 0, &size);
    assert_ok(mt_safetensors_open_memory(buf, size, &f));
    assert_true(mt_safetensors_has_metadata(f));
    assert_int_equal(mt_safetensors_metadata_count(f), 0);
    assert_int_equal(mt_safetensors_count(f), 0);
    mt_safetensors_close(f);
    free(buf);
}

static void test_argument_errors(void **state)
{
    (void)state;
    mt_safetensors *f = (mt_safetensors *)1;
    assert_fails(mt_safetensors_open(NULL, &f), MT_ERR_INVALID_ARGUMENT,
                 "safetensors: open");
    assert_fails(mt_safetensors_open_memory(NULL, 8, &f),
                 MT_ERR_INVALID_ARGUMENT, "open_memory");
    assert_null(f);
    assert_int_equal(mt_safetensors_count(NULL), 0);
    mt_safetensors_close(NULL);

    size_t size;
    uint8_t *buf = build("{}", NULL, 0, &size);
    assert_ok(mt_safetensors_open_memory(buf, size, &f));
    mt_safetensors_entry e;
    mt_tensor *t;
    assert_fails(mt_safetensors_info(f, 0, &e), MT_ERR_INVALID_ARGUMENT,
                 "index 0 out of range (0 tensors)");
    assert_fails(mt_safetensors_get_at(f, 0, &t), MT_ERR_INVALID_ARGUMENT,
                 "out of range");
    assert_fails(mt_safetensors_get(f, NULL, &t), MT_ERR_INVALID_ARGUMENT,
                 "NULL");
    mt_safetensors_close(f);
    free(buf);
}

static void test_file_errors(void **state)
{
    (void)state;
    char path[300];
    mt_safetensors *f;
    snprintf(path, sizeof path, "%s/does-not-exist.safetensors", tmpdir);
    assert_fails(mt_safetensors_open(path, &f), MT_ERR_IO, "cannot open");
    assert_true(strstr(mt_last_error(), path) != NULL);
    assert_fails(mt_safetensors_open(tmpdir, &f), MT_ERR_IO,
                 "not a regular file");
#ifndef __wasm__   /* WASI has no mkfifo */
    /* a FIFO must not block waiting for a writer */
    snprintf(path, sizeof path, "%s/fifo", tmpdir);
    assert_int_equal(mkfifo(path, 0600), 0);
    assert_fails(mt_safetensors_open(path, &f), MT_ERR_IO,
                 "not a regular file");
    unlink(path);
#endif
    /* an empty file */
    snprintf(path, sizeof path, "%s/empty.safetensors", tmpdir);
    write_file(path, "", 0);
    assert_fails(mt_safetensors_open(path, &f), MT_ERR_FORMAT,
                 "empty.safetensors: file is 0 bytes, shorter than the "
                 "8-byte header length");
    unlink(path);
}

/* The MNIST example file, written by Python's safetensors 0.7.0. */
static void test_real_file(void **state)
{
    (void)state;
    if (!mnist_path) skip();
    mt_safetensors *f;
    assert_ok(mt_safetensors_open(mnist_path, &f));
    assert_int_equal(mt_safetensors_count(f), 4);
    const char *v;
    assert_ok(mt_safetensors_metadata_get(f, "format", &v, NULL));
    assert_string_equal(v, "keras-dense-in-out");
    mt_tensor *w;
    assert_ok(mt_safetensors_get_checked(f, "d1_w", MT_DTYPE_F32, 2,
                                         (int64_t[]){784, 128}, &w));
    assert_int_equal(w->ownership, MT_OWNERSHIP_BORROWED);
    mt_tensor_free(w);
    assert_ok(mt_safetensors_get_checked(f, "d2_b", MT_DTYPE_F32, 1,
                                         (int64_t[]){10}, &w));
    mt_tensor_free(w);
    mt_safetensors_close(f);
}

/* 100,000 tensors: open and look every one up by name. */
static void test_many_tensors(void **state)
{
    (void)state;
    enum { N = 100000 };
    size_t cap = (size_t)N * 80 + 64;
    char *header = malloc(cap);
    size_t o = 0;
    header[o++] = '{';
    for (int i = 0; i < N; i++)
        o += (size_t)snprintf(header + o, cap - o,
                              "%s\"layer.%d.w\":{\"dtype\":\"U8\",\"shape\":[1],"
                              "\"data_offsets\":[%d,%d]}", i ? "," : "",
                              N - 1 - i, i, i + 1);
    header[o++] = '}';
    header[o] = '\0';
    uint8_t *data = malloc(N);
    for (int i = 0; i < N; i++) data[i] = (uint8_t)(i * 7);
    size_t size;
    uint8_t *buf = build(header, data, N, &size);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    mt_safetensors *f;
    assert_ok(mt_safetensors_open_memory(buf, size, &f));
    assert_int_equal(mt_safetensors_count(f), N);
    char name[32];
    for (int i = 0; i < N; i++) {
        size_t idx;
        snprintf(name, sizeof name, "layer.%d.w", i);
        assert_ok(mt_safetensors_find(f, name, &idx));
        mt_safetensors_entry e;
        assert_ok(mt_safetensors_info(f, idx, &e));
        /* layer.i sits at offset N-1-i */
        assert_int_equal(e.begin, (uint64_t)(N - 1 - i));
        assert_int_equal(*(const uint8_t *)e.data,
                         (uint8_t)((N - 1 - i) * 7));
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double secs = (double)(t1.tv_sec - t0.tv_sec) +
                  (double)(t1.tv_nsec - t0.tv_nsec) * 1e-9;
    print_message("open + 100000 lookups: %.3f s\n", secs);
    assert_true(secs < 20.0);   /* O(n log n), not O(n^2), even under ASan */
    mt_safetensors_close(f);
    free(buf);
    free(data);
    free(header);
}

/* Every allocation failure during open is a clean MT_ERR_OUT_OF_MEMORY
 * that leaks nothing. */
static void test_open_out_of_memory(void **state)
{
    (void)state;
    const char *header =
        "{\"__metadata__\":{\"k\":\"v\",\"j\":\"w\"},"
        "\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
        "\"b\":{\"dtype\":\"F16\",\"shape\":[2],\"data_offsets\":[4,8]}}";
    uint8_t data[8] = {0};
    size_t size;
    uint8_t *buf = build(header, data, 8, &size);
    alloc_probe probe;
    bool succeeded = false;
    for (long k = 0; k < 100 && !succeeded; k++) {
        probe_install(&probe, k);
        mt_safetensors *f = NULL;
        mt_status st = mt_safetensors_open_memory(buf, size, &f);
        if (st == MT_OK) {
            mt_tensor *t = NULL;
            st = mt_safetensors_get_f32(f, "b", &t);
            if (st == MT_OK) {
                succeeded = true;
                mt_tensor_free(t);
            } else {
                assert_int_equal(st, MT_ERR_OUT_OF_MEMORY);
                assert_null(t);
            }
            mt_safetensors_close(f);
        } else {
            assert_int_equal(st, MT_ERR_OUT_OF_MEMORY);
            assert_null(f);
        }
        probe_remove();
        assert_int_equal(probe.live, 0);
    }
    assert_true(succeeded);
    free(buf);
}

/* ---- writing ---------------------------------------------------------------- */

/* The Rust crate's test_serialization / test_empty byte vectors. */
static void test_serialize_matches_rust_crate(void **state)
{
    (void)state;
    float vals[6] = {0, 1, 2, 3, 4, 5};
    mt_tensor *t;
    assert_ok(mt_tensor_from_data(MT_DTYPE_F32, 3, (int64_t[]){1, 2, 3},
                                  vals, &t));
    mt_safetensors_item item = {"attn.0", 0, t};
    void *out;
    size_t n;
    assert_ok(mt_safetensors_serialize(&item, 1, NULL, 0, &out, &n));
    static const uint8_t want[] = {
        64, 0, 0, 0, 0, 0, 0, 0, 123, 34, 97, 116, 116, 110, 46, 48, 34, 58,
        123, 34, 100, 116, 121, 112, 101, 34, 58, 34, 70, 51, 50, 34, 44, 34,
        115, 104, 97, 112, 101, 34, 58, 91, 49, 44, 50, 44, 51, 93, 44, 34,
        100, 97, 116, 97, 95, 111, 102, 102, 115, 101, 116, 115, 34, 58, 91,
        48, 44, 50, 52, 93, 125, 125, 0, 0, 0, 0, 0, 0, 128, 63, 0, 0, 0, 64,
        0, 0, 64, 64, 0, 0, 128, 64, 0, 0, 160, 64};
    assert_int_equal(n, sizeof want);
    assert_memory_equal(out, want, sizeof want);
    mt_safetensors_buffer_free(out);

    /* test_serialization_forced_alignement: 7 spaces of padding */
    mt_tensor *t4;
    assert_ok(mt_tensor_from_data(MT_DTYPE_F32, 4,
                                  (int64_t[]){1, 1, 2, 3}, vals, &t4));
    item = (mt_safetensors_item){"attn0", 0, t4};
    assert_ok(mt_safetensors_serialize(&item, 1, NULL, 0, &out, &n));
    static const uint8_t want4[] = {
        72, 0, 0, 0, 0, 0, 0, 0, 123, 34, 97, 116, 116, 110, 48, 34, 58, 123,
        34, 100, 116, 121, 112, 101, 34, 58, 34, 70, 51, 50, 34, 44, 34, 115,
        104, 97, 112, 101, 34, 58, 91, 49, 44, 49, 44, 50, 44, 51, 93, 44, 34,
        100, 97, 116, 97, 95, 111, 102, 102, 115, 101, 116, 115, 34, 58, 91,
        48, 44, 50, 52, 93, 125, 125, 32, 32, 32, 32, 32, 32, 32, 0, 0, 0, 0,
        0, 0, 128, 63, 0, 0, 0, 64, 0, 0, 64, 64, 0, 0, 128, 64, 0, 0, 160,
        64};
    assert_int_equal(n, sizeof want4);
    assert_memory_equal(out, want4, sizeof want4);
    mt_safetensors_buffer_free(out);

    /* test_empty, with and without metadata */
    assert_ok(mt_safetensors_serialize(NULL, 0, NULL, 0, &out, &n));
    static const uint8_t empty[] = {8, 0, 0, 0, 0, 0, 0, 0, 123, 125,
                                    32, 32, 32, 32, 32, 32};
    assert_int_equal(n, sizeof empty);
    assert_memory_equal(out, empty, sizeof empty);
    mt_safetensors_buffer_free(out);
    mt_safetensors_kv kv = {"framework", "pt", 0, 0};
    assert_ok(mt_safetensors_serialize(NULL, 0, &kv, 1, &out, &n));
    static const uint8_t meta[] = {
        40, 0, 0, 0, 0, 0, 0, 0, 123, 34, 95, 95, 109, 101, 116, 97, 100, 97,
        116, 97, 95, 95, 34, 58, 123, 34, 102, 114, 97, 109, 101, 119, 111,
        114, 107, 34, 58, 34, 112, 116, 34, 125, 125, 32, 32, 32, 32, 32};
    assert_int_equal(n, sizeof meta);
    assert_memory_equal(out, meta, sizeof meta);
    mt_safetensors_buffer_free(out);
    mt_tensor_free(t);
    mt_tensor_free(t4);
}

/* Every dtype, 0-d, zero-size and a transposed (non-contiguous) view:
 * layout order, alignment and element order. */
static void test_save_all_dtypes_roundtrip(void **state)
{
    (void)state;
    static const mt_dtype dts[] = {
        MT_DTYPE_F32, MT_DTYPE_F16, MT_DTYPE_BF16, MT_DTYPE_F64, MT_DTYPE_I64,
        MT_DTYPE_I32, MT_DTYPE_I16, MT_DTYPE_I8, MT_DTYPE_U64, MT_DTYPE_U32,
        MT_DTYPE_U16, MT_DTYPE_U8, MT_DTYPE_BOOL};
    enum { ND = sizeof dts / sizeof dts[0] };
    mt_tensor *ts[ND + 3];
    mt_safetensors_item items[ND + 3];
    char names[ND][16];
    uint8_t bytes[64];
    for (int i = 0; i < 64; i++) bytes[i] = (uint8_t)(i * 37 + 1);
    for (int i = 0; i < ND; i++) {
        assert_ok(mt_tensor_from_data(dts[i], 2, (int64_t[]){2, 3},
                                      bytes, &ts[i]));
        snprintf(names[i], sizeof names[i], "t_%s", mt_dtype_name(dts[i]));
        items[i] = (mt_safetensors_item){names[i], 0, ts[i]};
    }
    float sv = 3.25f;
    assert_ok(mt_tensor_from_data(MT_DTYPE_F32, 0, NULL, &sv, &ts[ND]));
    items[ND] = (mt_safetensors_item){"scalar", 0, ts[ND]};
    assert_ok(mt_tensor_zeros(MT_DTYPE_I16, 3,
                              (int64_t[]){2, 0, 4}, &ts[ND + 1]));
    items[ND + 1] = (mt_safetensors_item){"empty", 0, ts[ND + 1]};
    /* [[0,1,2],[3,4,5]] transposed -> [[0,3],[1,4],[2,5]] */
    float m[6] = {0, 1, 2, 3, 4, 5};
    mt_tensor *mat;
    assert_ok(mt_tensor_from_data(MT_DTYPE_F32, 2, (int64_t[]){2, 3},
                                  m, &mat));
    assert_ok(mt_transpose(mat, 0, 1, &ts[ND + 2]));
    assert_false(mt_tensor_is_contiguous(ts[ND + 2]));
    items[ND + 2] = (mt_safetensors_item){"transposed", 0, ts[ND + 2]};
    mt_safetensors_kv meta[2] = {{"b", "2", 0, 0}, {"a", "1", 0, 0}};

    char path[300];
    snprintf(path, sizeof path, "%s/all.safetensors", tmpdir);
    assert_ok(mt_safetensors_save(path, items, ND + 3, meta, 2));
    size_t fsize;
    uint8_t *file = read_file(path, &fsize);
    void *mem;
    size_t msize;
    assert_ok(mt_safetensors_serialize(items, ND + 3, meta, 2, &mem, &msize));
    assert_int_equal(fsize, msize);
    assert_memory_equal(file, mem, fsize);   /* save == serialize */
    mt_safetensors_buffer_free(mem);
    /* header starts with '{', padded with spaces to a multiple of 8 */
    uint64_t hn = 0;
    for (int i = 7; i >= 0; i--) hn = hn << 8 | file[i];
    assert_int_equal(hn % 8, 0);
    assert_int_equal(file[8], '{');
    assert_true(memcmp(file + 8, "{\"__metadata__\":{\"a\":\"1\",\"b\":\"2\"},",
                       34) == 0);
    free(file);

    mt_safetensors *f;
    assert_ok(mt_safetensors_open(path, &f));
    assert_int_equal(mt_safetensors_count(f), ND + 3);
    /* file order: widest dtype first (U64 I64 F64 F32 U32 I32 BF16 F16 U16
     * I16 I8 U8 BOOL, the crate's order), then by name */
    static const char *order[] = {
        "t_U64", "t_I64", "t_F64", "scalar", "t_F32", "transposed", "t_U32",
        "t_I32", "t_BF16", "t_F16", "t_U16", "empty", "t_I16", "t_I8",
        "t_U8", "t_BOOL"};
    uint64_t data_off = mt_safetensors_data_offset(f);
    for (size_t i = 0; i < ND + 3; i++) {
        mt_safetensors_entry e;
        assert_ok(mt_safetensors_info(f, i, &e));
        assert_string_equal(e.name, order[i]);
        assert_int_equal((data_off + e.begin) % (e.bits / 8), 0);  /* aligned */
    }
    for (int i = 0; i < ND; i++) {
        mt_tensor *t;
        assert_ok(mt_safetensors_get(f, names[i], &t));
        assert_int_equal(t->dtype, dts[i]);
        assert_int_equal(t->ownership, MT_OWNERSHIP_BORROWED);
        assert_memory_equal(t->data, bytes, 6 * mt_dtype_size(dts[i]));
        mt_tensor_free(t);
    }
    mt_tensor *t;
    assert_ok(mt_safetensors_get(f, "scalar", &t));
    assert_int_equal(t->rank, 0);
    assert_true(*(float *)t->data == 3.25f);
    mt_tensor_free(t);
    assert_ok(mt_safetensors_get_checked(f, "empty", MT_DTYPE_I16, 3,
                                         (int64_t[]){2, 0, 4}, &t));
    mt_tensor_free(t);
    assert_ok(mt_safetensors_get_checked(f, "transposed", MT_DTYPE_F32, 2,
                                         (int64_t[]){3, 2}, &t));
    static const float tr[6] = {0, 3, 1, 4, 2, 5};
    assert_memory_equal(t->data, tr, sizeof tr);
    mt_tensor_free(t);
    mt_safetensors_close(f);
    for (int i = 0; i < ND + 3; i++) mt_tensor_free(ts[i]);
    mt_tensor_free(mat);
}

static void test_save_rejects_bad_input_creating_nothing(void **state)
{
    (void)state;
    char path[300];
    snprintf(path, sizeof path, "%s/bad.safetensors", tmpdir);
    float v[2] = {1, 2};
    mt_tensor *t;
    assert_ok(mt_tensor_from_data(MT_DTYPE_F32, 1, (int64_t[]){2}, v, &t));
    int before = count_dir_entries();
    mt_safetensors_item dup[2] = {{"x", 0, t}, {"x", 0, t}};
    assert_fails(mt_safetensors_save(path, dup, 2, NULL, 0),
                 MT_ERR_INVALID_ARGUMENT, "duplicate tensor name 'x'");
    mt_safetensors_item reserved = {"__metadata__", 0, t};
    assert_fails(mt_safetensors_save(path, &reserved, 1, NULL, 0),
                 MT_ERR_INVALID_ARGUMENT, "'__metadata__' is reserved");
    mt_safetensors_item bad_utf8 = {"\xff", 0, t};
    assert_fails(mt_safetensors_save(path, &bad_utf8, 1, NULL, 0),
                 MT_ERR_INVALID_ARGUMENT, "is not valid UTF-8");
    mt_safetensors_item null_tensor = {"n", 0, NULL};
    assert_fails(mt_safetensors_save(path, &null_tensor, 1, NULL, 0),
                 MT_ERR_INVALID_ARGUMENT, "must not be NULL");
    mt_safetensors_kv dupkv[2] = {{"k", "1", 0, 0}, {"k", "2", 0, 0}};
    mt_safetensors_item ok = {"ok", 0, t};
    assert_fails(mt_safetensors_save(path, &ok, 1, dupkv, 2),
                 MT_ERR_INVALID_ARGUMENT, "duplicate metadata key 'k'");
    mt_tensor broken = *t;
    broken.refs_ = 0;
    broken.shape[0] = -1;
    mt_safetensors_item neg = {"neg", 0, &broken};
    assert_fails(mt_safetensors_save(path, &neg, 1, NULL, 0),
                 MT_ERR_INVALID_ARGUMENT, "tensor 'neg': dim 0 is negative");
    broken = *t;
    broken.refs_ = 0;
    broken.dtype = (mt_dtype)77;
    mt_safetensors_item bad_dtype = {"bd", 0, &broken};
    assert_fails(mt_safetensors_save(path, &bad_dtype, 1, NULL, 0),
                 MT_ERR_INVALID_ARGUMENT, "invalid dtype 77");
    assert_fails(mt_safetensors_save(NULL, &ok, 1, NULL, 0),
                 MT_ERR_INVALID_ARGUMENT, "path");
    assert_int_equal(count_dir_entries(), before);   /* nothing created */
    char nodir[300];
    snprintf(nodir, sizeof nodir, "%s/no/such/dir/x.safetensors", tmpdir);
    assert_fails(mt_safetensors_save(nodir, &ok, 1, NULL, 0), MT_ERR_IO,
                 "cannot create a temporary file");
    mt_tensor_free(t);
}

#ifndef __wasm__   /* WASI has no resource limits */
/* A write failing part-way (here: the file size limit, as a full disk
 * would) leaves the old file intact and no temporary file behind. */
static void test_save_failure_keeps_old_file(void **state)
{
    (void)state;
    char path[300];
    snprintf(path, sizeof path, "%s/keep.safetensors", tmpdir);
    float small[1] = {42};
    mt_tensor *t;
    assert_ok(mt_tensor_from_data(MT_DTYPE_F32, 1, (int64_t[]){1},
                                  small, &t));
    mt_safetensors_item item = {"w", 0, t};
    assert_ok(mt_safetensors_save(path, &item, 1, NULL, 0));
    size_t n0;
    uint8_t *before = read_file(path, &n0);
    int entries = count_dir_entries();

    mt_tensor *big;
    assert_ok(mt_tensor_zeros(MT_DTYPE_F32, 1, (int64_t[]){1 << 20}, &big));
    item.tensor = big;
    struct rlimit old, lim;
    assert_int_equal(getrlimit(RLIMIT_FSIZE, &old), 0);
    lim = old;
    lim.rlim_cur = 64 * 1024;
    void (*prev)(int) = signal(SIGXFSZ, SIG_IGN);
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &lim), 0);
    mt_status st = mt_safetensors_save(path, &item, 1, NULL, 0);
    setrlimit(RLIMIT_FSIZE, &old);
    signal(SIGXFSZ, prev);
    assert_int_equal(st, MT_ERR_IO);
    assert_non_null(strstr(mt_last_error(), "write failed"));
    assert_non_null(strstr(mt_last_error(), "unchanged"));

    size_t n1;
    uint8_t *after = read_file(path, &n1);
    assert_int_equal(n0, n1);
    assert_memory_equal(before, after, n0);
    assert_int_equal(count_dir_entries(), entries);  /* no temp file left */
    /* and the replacement works once the limit is gone */
    assert_ok(mt_safetensors_save(path, &item, 1, NULL, 0));
    mt_safetensors *f;
    assert_ok(mt_safetensors_open(path, &f));
    mt_safetensors_entry e;
    assert_ok(mt_safetensors_info(f, 0, &e));
    assert_int_equal(e.numel, 1 << 20);
    mt_safetensors_close(f);
    free(before);
    free(after);
    mt_tensor_free(t);
    mt_tensor_free(big);
}
#endif

/* Names and metadata that need escaping survive a round trip, NULs too. */
static void test_save_escapes_roundtrip(void **state)
{
    (void)state;
    uint8_t one = 1;
    mt_tensor *t;
    assert_ok(mt_tensor_from_data(MT_DTYPE_U8, 1, (int64_t[]){1}, &one, &t));
    const char weird[] = "q\"b\\s/\x01\x1f\x7f\xc3\xa9\n\t\0z";
    mt_safetensors_item item = {weird, sizeof weird - 1, t};
    mt_safetensors_kv kv = {"k\"\n", "v\\\x02", 0, 0};
    void *mem;
    size_t n;
    assert_ok(mt_safetensors_serialize(&item, 1, &kv, 1, &mem, &n));
    /* serde_json's escapes: \" \\ \n \t, \u00xx for other controls */
    const char *expect_hdr =
        "{\"__metadata__\":{\"k\\\"\\n\":\"v\\\\\\u0002\"},"
        "\"q\\\"b\\\\s/\\u0001\\u001f\x7f\xc3\xa9\\n\\t\\u0000z\":"
        "{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]}}";
    assert_memory_equal((uint8_t *)mem + 8, expect_hdr, strlen(expect_hdr));
    mt_safetensors *f;
    assert_ok(mt_safetensors_open_memory(mem, n, &f));
    mt_safetensors_entry e;
    assert_ok(mt_safetensors_info(f, 0, &e));
    assert_int_equal(e.name_len, sizeof weird - 1);
    assert_memory_equal(e.name, weird, sizeof weird - 1);
    const char *v;
    assert_ok(mt_safetensors_metadata_get(f, "k\"\n", &v, NULL));
    assert_string_equal(v, "v\\\x02");
    mt_safetensors_close(f);
    mt_safetensors_buffer_free(mem);
    mt_tensor_free(t);
}

/* An empty tensor keeps its dims, however large; no stride arithmetic
 * overflows on the way (a hand-built struct: the tensor API rejects it). */
static void test_save_empty_with_huge_dims(void **state)
{
    (void)state;
    mt_tensor t;
    memset(&t, 0, sizeof t);
    t.dtype = MT_DTYPE_F32;
    t.rank = 3;
    t.shape[0] = 0;
    t.shape[1] = t.shape[2] = (int64_t)1 << 62;
    t.stride[0] = t.stride[1] = t.stride[2] = 1;
    mt_safetensors_item item = {"e", 0, &t};
    void *mem;
    size_t n;
    assert_ok(mt_safetensors_serialize(&item, 1, NULL, 0, &mem, &n));
    const char *h = "{\"e\":{\"dtype\":\"F32\",\"shape\":[0,4611686018427387904,"
                    "4611686018427387904],\"data_offsets\":[0,0]}}";
    assert_memory_equal((uint8_t *)mem + 8, h, strlen(h));
    mt_safetensors *f;
    assert_ok(mt_safetensors_open_memory(mem, n, &f));
    mt_tensor *back;
    assert_fails(mt_safetensors_get(f, "e", &back), MT_ERR_OVERFLOW,
                 "does not fit minitensor's int64 dims");
    mt_safetensors_close(f);
    mt_safetensors_buffer_free(mem);
}

/* ---- the JSON parser itself (white box) -------------------------------------- */

#include "json.h"

static mt_status json_walk(const char *text, size_t n)
{
    char *arena = malloc(n + 1);
    json_parser p;
    mt_json_init(&p, "json", (const uint8_t *)text, n, arena, n + 1);
    json_token t;
    mt_status st;
    do {
        st = mt_json_next(&p, &t);
    } while (st == MT_OK && t.kind != JSON_EOF);
    free(arena);
    return st;
}

static void test_json_depth_bound(void **state)
{
    (void)state;
    enum { N = 100000 };
    char *deep = malloc(2 * N);
    memset(deep, '[', N);
    memset(deep + N, ']', N);
    assert_fails(json_walk(deep, 2 * N), MT_ERR_FORMAT,
                 "nesting deeper than 128 levels");
    assert_ok(json_walk(deep + N - 128, 256));  /* exactly 128 is fine */
    free(deep);
    const char *ok = "{\"a\":[1,-2.5e+3,true,false,null,\"x\"],\"b\":{}}";
    assert_ok(json_walk(ok, strlen(ok)));
    assert_ok(json_walk(" \t\r\n0 ", 6));
}

static void test_json_u64_exact(void **state)
{
    (void)state;
    struct { const char *s; json_u64_status want; uint64_t v; } cases[] = {
        {"0", JSON_U64_OK, 0},
        {"18446744073709551615", JSON_U64_OK, UINT64_MAX},
        {"18446744073709551616", JSON_U64_TOO_LARGE, 0},
        {"99999999999999999999", JSON_U64_TOO_LARGE, 0},
        {"-0", JSON_U64_NEGATIVE, 0},
        {"4.0", JSON_U64_FRACTION, 0},
        {"4e0", JSON_U64_EXPONENT, 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        json_token t = {JSON_NUMBER, cases[i].s, strlen(cases[i].s), 0};
        uint64_t v = 12345;
        assert_int_equal(mt_json_number_u64(&t, &v), cases[i].want);
        if (cases[i].want == JSON_U64_OK) assert_true(v == cases[i].v);
    }
}

int main(int argc, char **argv)
{
    if (argc > 1) mnist_path = argv[1];
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_open_memory_zero_copy),
        cmocka_unit_test(test_unaligned_buffer_is_copied),
        cmocka_unit_test(test_open_path_is_mapped),
        cmocka_unit_test(test_get_f32_conversions),
        cmocka_unit_test(test_scalar_and_empty),
        cmocka_unit_test(test_unstorable_dtypes),
        cmocka_unit_test(test_rank_and_dim_limits),
        cmocka_unit_test(test_get_checked),
        cmocka_unit_test(test_unread),
        cmocka_unit_test(test_missing_long_name_shows_where_it_differs),
        cmocka_unit_test(test_names_with_nul_and_escapes),
        cmocka_unit_test(test_metadata),
        cmocka_unit_test(test_argument_errors),
        cmocka_unit_test(test_file_errors),
        cmocka_unit_test(test_real_file),
        cmocka_unit_test(test_many_tensors),
        cmocka_unit_test(test_open_out_of_memory),
        cmocka_unit_test(test_serialize_matches_rust_crate),
        cmocka_unit_test(test_save_all_dtypes_roundtrip),
        cmocka_unit_test(test_save_rejects_bad_input_creating_nothing),
#ifndef __wasm__
        cmocka_unit_test(test_save_failure_keeps_old_file),
#endif
        cmocka_unit_test(test_save_escapes_roundtrip),
        cmocka_unit_test(test_save_empty_with_huge_dims),
        cmocka_unit_test(test_json_depth_bound),
        cmocka_unit_test(test_json_u64_exact),
    };
    return cmocka_run_group_tests(tests, make_tmpdir, remove_tmpdir);
}
