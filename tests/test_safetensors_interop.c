/* test_safetensors_interop.c — the C side of tests/safetensors/interop.py.
 *
 *   dump FILE          print what minitensor reads from FILE as JSON: every
 *                      tensor's name, dtype, shape, offsets, raw bytes and
 *                      (if convertible) its F32 conversion; the metadata.
 *   write OUT          write a fixed set of tensors (every dtype, 0-d,
 *                      zero-size, a transposed view, unusual names) and
 *                      metadata; interop.py rebuilds the same set with
 *                      Python's safetensors and compares.
 *   roundtrip IN OUT   read IN with minitensor and save every tensor and the
 *                      metadata to OUT.
 * Exit 0 on success, 1 with the message on stderr otherwise.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "minitensor/minitensor.h"

#define CHECK(call)                                                     \
    do {                                                                \
        if ((call) != MT_OK) {                                          \
            fprintf(stderr, "%s: %s\n", #call, mt_last_error());        \
            exit(1);                                                    \
        }                                                               \
    } while (0)

static void hex(const void *p, size_t n)
{
    const uint8_t *b = p;
    putchar('"');
    for (size_t i = 0; i < n; i++) printf("%02x", b[i]);
    putchar('"');
}

static int dump(const char *path)
{
    mt_safetensors *f;
    CHECK(mt_safetensors_open(path, &f));
    printf("{\"tensors\":[");
    for (size_t i = 0; i < mt_safetensors_count(f); i++) {
        mt_safetensors_entry e;
        CHECK(mt_safetensors_info(f, i, &e));
        printf("%s\n{\"name\":", i ? "," : "");
        hex(e.name, e.name_len);
        printf(",\"dtype\":\"%s\",\"shape\":[", e.dtype_name);
        for (size_t d = 0; d < e.rank; d++)
            printf("%s%llu", d ? "," : "", (unsigned long long)e.shape[d]);
        printf("],\"offsets\":[%llu,%llu],\"data\":",
               (unsigned long long)e.begin, (unsigned long long)e.end);
        hex(e.data, (size_t)e.nbytes);
        printf(",\"f32\":");
        mt_tensor *t;
        if (e.storable) {
            CHECK(mt_safetensors_get_f32_at(f, i, &t));
            hex(t->data, (size_t)e.numel * 4);
            mt_tensor_free(t);
            /* get() must give the stored bytes too */
            CHECK(mt_safetensors_get_at(f, i, &t));
            if (e.nbytes && memcmp(t->data, e.data, (size_t)e.nbytes) != 0) {
                fprintf(stderr, "get() bytes differ for tensor %zu\n", i);
                return 1;
            }
            mt_tensor_free(t);
        } else {
            printf("null");
        }
        printf("}");
    }
    printf("],\n\"metadata\":");
    if (!mt_safetensors_has_metadata(f)) {
        printf("null");
    } else {
        printf("[");
        for (size_t i = 0; i < mt_safetensors_metadata_count(f); i++) {
            mt_safetensors_kv kv;
            CHECK(mt_safetensors_metadata_at(f, i, &kv));
            printf("%s[", i ? "," : "");
            hex(kv.key, kv.key_len);
            putchar(',');
            hex(kv.value, kv.value_len);
            putchar(']');
        }
        printf("]");
    }
    printf("}\n");
    mt_safetensors_close(f);
    return 0;
}

/* Element i of the fixed tensors; interop.py has the same formulas. */
static double float_value(int64_t i) { return (double)(i % 17 - 8) * 0.375; }

static void fill(mt_tensor *t)
{
    int64_t n = mt_tensor_numel(t);
    for (int64_t i = 0; i < n; i++) {
        uint8_t *p = (uint8_t *)t->data + (size_t)i * mt_dtype_size(t->dtype);
        int64_t k = (i * 7919) % 200;
        switch (t->dtype) {
        case MT_DTYPE_F32: { float v = (float)float_value(i); memcpy(p, &v, 4); break; }
        case MT_DTYPE_F64: { double v = float_value(i); memcpy(p, &v, 8); break; }
        case MT_DTYPE_F16: case MT_DTYPE_BF16: {
            /* the same values through their float32 bits (exact) */
            float v = (float)float_value(i);
            uint32_t bits;
            memcpy(&bits, &v, 4);
            uint16_t h;
            if (t->dtype == MT_DTYPE_BF16) {
                h = (uint16_t)(bits >> 16);
            } else if (v == 0) {
                h = (uint16_t)((bits >> 16) & 0x8000u);
            } else {  /* normal values only: |v| in [0.375, 3] */
                uint32_t exp = ((bits >> 23) & 0xffu) - 127 + 15;
                h = (uint16_t)(((bits >> 16) & 0x8000u) | (exp << 10) |
                               ((bits >> 13) & 0x3ffu));
            }
            memcpy(p, &h, 2);
            break;
        }
        case MT_DTYPE_I8: { int8_t v = i == 0 ? INT8_MIN : i == 1 ? INT8_MAX : (int8_t)(k - 100); memcpy(p, &v, 1); break; }
        case MT_DTYPE_U8: { uint8_t v = i == 1 ? UINT8_MAX : (uint8_t)k; memcpy(p, &v, 1); break; }
        case MT_DTYPE_I16: { int16_t v = i == 0 ? INT16_MIN : i == 1 ? INT16_MAX : (int16_t)(k - 100); memcpy(p, &v, 2); break; }
        case MT_DTYPE_U16: { uint16_t v = i == 1 ? UINT16_MAX : (uint16_t)k; memcpy(p, &v, 2); break; }
        case MT_DTYPE_I32: { int32_t v = i == 0 ? INT32_MIN : i == 1 ? INT32_MAX : (int32_t)(k - 100); memcpy(p, &v, 4); break; }
        case MT_DTYPE_U32: { uint32_t v = i == 1 ? UINT32_MAX : (uint32_t)k; memcpy(p, &v, 4); break; }
        case MT_DTYPE_I64: { int64_t v = i == 0 ? INT64_MIN : i == 1 ? INT64_MAX : k - 100; memcpy(p, &v, 8); break; }
        case MT_DTYPE_U64: { uint64_t v = i == 1 ? UINT64_MAX : (uint64_t)k; memcpy(p, &v, 8); break; }
        case MT_DTYPE_BOOL: { uint8_t v = i % 3 == 0; memcpy(p, &v, 1); break; }
        default: break;
        }
    }
}

static int write_fixed(const char *out)
{
    static const mt_dtype dts[] = {
        MT_DTYPE_F32, MT_DTYPE_F16, MT_DTYPE_BF16, MT_DTYPE_F64, MT_DTYPE_I64,
        MT_DTYPE_I32, MT_DTYPE_I16, MT_DTYPE_I8, MT_DTYPE_U64, MT_DTYPE_U32,
        MT_DTYPE_U16, MT_DTYPE_U8, MT_DTYPE_BOOL};
    enum { ND = sizeof dts / sizeof dts[0], NI = ND + 5 };
    mt_tensor *ts[NI];
    mt_safetensors_item items[NI];
    char names[ND][32];
    for (int i = 0; i < ND; i++) {
        CHECK(mt_tensor_zeros(dts[i], 3, (int64_t[]){2, 3, 4}, &ts[i]));
        fill(ts[i]);
        snprintf(names[i], sizeof names[i], "layer.%s", mt_dtype_name(dts[i]));
        items[i] = (mt_safetensors_item){names[i], 0, ts[i]};
    }
    /* 0-d */
    CHECK(mt_tensor_full(0, NULL, 2.5f, &ts[ND]));
    items[ND] = (mt_safetensors_item){"scalar", 0, ts[ND]};
    /* zero-size */
    CHECK(mt_tensor_zeros(MT_DTYPE_F32, 2, (int64_t[]){0, 5}, &ts[ND + 1]));
    items[ND + 1] = (mt_safetensors_item){"zero", 0, ts[ND + 1]};
    CHECK(mt_tensor_zeros(MT_DTYPE_I64, 2, (int64_t[]){3, 0}, &ts[ND + 2]));
    items[ND + 2] = (mt_safetensors_item){"zero_i64", 0, ts[ND + 2]};
    /* [[0,1,2],[3,4,5]] transposed: a non-contiguous view */
    mt_tensor *m;
    CHECK(mt_tensor_zeros(MT_DTYPE_F32, 2, (int64_t[]){2, 3}, &m));
    for (int i = 0; i < 6; i++) ((float *)m->data)[i] = (float)i;
    CHECK(mt_transpose(m, 0, 1, &ts[ND + 3]));
    items[ND + 3] = (mt_safetensors_item){"transposed", 0, ts[ND + 3]};
    /* a name that needs escaping, with UTF-8 and a NUL */
    static const char odd[] = "\xc3\xa9t\xc3\xa9 \xf0\x9f\x98\x80 \"q\" \\ \n\x01\0end";
    CHECK(mt_tensor_full(1, (int64_t[]){2}, -1.0f, &ts[ND + 4]));
    items[ND + 4] = (mt_safetensors_item){odd, sizeof odd - 1, ts[ND + 4]};

    mt_safetensors_kv meta = {"producer", "minitensor \xe2\x9c\x93", 0, 0};
    CHECK(mt_safetensors_save(out, items, NI, &meta, 1));
    for (int i = 0; i < NI; i++) mt_tensor_free(ts[i]);
    mt_tensor_free(m);
    return 0;
}

static int roundtrip(const char *in, const char *out)
{
    mt_safetensors *f;
    CHECK(mt_safetensors_open(in, &f));
    size_t n = mt_safetensors_count(f), nm = mt_safetensors_metadata_count(f);
    mt_safetensors_item *items = calloc(n + 1, sizeof *items);
    mt_tensor **ts = calloc(n + 1, sizeof *ts);
    mt_safetensors_kv *kv = calloc(nm + 1, sizeof *kv);
    for (size_t i = 0; i < n; i++) {
        mt_safetensors_entry e;
        CHECK(mt_safetensors_info(f, i, &e));
        CHECK(mt_safetensors_get_at(f, i, &ts[i]));
        items[i] = (mt_safetensors_item){e.name, e.name_len, ts[i]};
    }
    for (size_t i = 0; i < nm; i++) CHECK(mt_safetensors_metadata_at(f, i, &kv[i]));
    CHECK(mt_safetensors_save(out, items, n, kv, nm));
    for (size_t i = 0; i < n; i++) mt_tensor_free(ts[i]);
    mt_safetensors_close(f);
    free(items);
    free(ts);
    free(kv);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc == 3 && !strcmp(argv[1], "dump")) return dump(argv[2]);
    if (argc == 3 && !strcmp(argv[1], "write")) return write_fixed(argv[2]);
    if (argc == 4 && !strcmp(argv[1], "roundtrip"))
        return roundtrip(argv[2], argv[3]);
    fprintf(stderr, "usage: %s dump FILE | write OUT | roundtrip IN OUT\n",
            argv[0]);
    return 2;
}
