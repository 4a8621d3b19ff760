/* st_walk.h — what the fuzz target does with one input; shared with the
 * regression replay in tests/test_safetensors_malformed.c.
 *
 * Open the bytes from memory; if they validate, visit every tensor through
 * every accessor (info, find, get, get_f32, get_checked), read every byte of
 * every tensor, read the metadata, then re-serialize everything storable and
 * check that the copy opens to the same entries. Any inconsistency aborts:
 * the fuzzer reports it like a crash. */
#ifndef MT_FUZZ_ST_WALK_H
#define MT_FUZZ_ST_WALK_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "minitensor/safetensors.h"
#include "minitensor/tensor.h"

#define ST_WALK_CHECK(cond) \
    do {                    \
        if (!(cond)) abort(); \
    } while (0)

static volatile uint8_t st_walk_sink;

/* True if the entry can be a minitensor tensor. */
static int st_walk_storable(const mt_safetensors_entry *e)
{
    if (!e->storable || e->rank > MT_MAX_RANK) return 0;
    int64_t run = 1;  /* the same rule as reader.c's tensor_shape() */
    for (size_t d = 0; d < e->rank; d++) {
        uint64_t v = e->shape[d];
        if (v > (uint64_t)INT64_MAX || (v && run > INT64_MAX / (int64_t)v))
            return 0;
        if (v) run *= (int64_t)v;
    }
    return 1;
}

static void st_walk_roundtrip(const mt_safetensors *f)
{
    size_t n = mt_safetensors_count(f), nm = mt_safetensors_metadata_count(f);
    mt_safetensors_item *items = calloc(n + 1, sizeof *items);
    mt_safetensors_kv *kv = calloc(nm + 1, sizeof *kv);
    mt_tensor **ts = calloc(n + 1, sizeof *ts);
    ST_WALK_CHECK(items && kv && ts);
    int ok = 1;
    for (size_t i = 0; i < n && ok; i++) {
        mt_safetensors_entry e;
        ST_WALK_CHECK(mt_safetensors_info(f, i, &e) == MT_OK);
        if (!st_walk_storable(&e) ||
            mt_safetensors_get_at(f, i, &ts[i]) != MT_OK) {
            ok = 0;
            break;
        }
        items[i].name = e.name;
        items[i].name_len = e.name_len;
        items[i].tensor = ts[i];
    }
    for (size_t i = 0; i < nm && ok; i++)
        ST_WALK_CHECK(mt_safetensors_metadata_at(f, i, &kv[i]) == MT_OK);
    if (ok) {
        void *buf = NULL;
        size_t size = 0;
        mt_status st = mt_safetensors_serialize(items, n, kv, nm, &buf, &size);
        /* only allocation can fail on what a valid file gave us */
        ST_WALK_CHECK(st == MT_OK || st == MT_ERR_OUT_OF_MEMORY);
        if (st == MT_OK) {
            mt_safetensors *g = NULL;
            ST_WALK_CHECK(mt_safetensors_open_memory(buf, size, &g) == MT_OK);
            ST_WALK_CHECK(mt_safetensors_count(g) == n);
            ST_WALK_CHECK(mt_safetensors_metadata_count(g) == nm);
            for (size_t i = 0; i < n; i++) {
                mt_safetensors_entry a, b;
                size_t j;
                ST_WALK_CHECK(mt_safetensors_info(f, i, &a) == MT_OK);
                ST_WALK_CHECK(mt_safetensors_find_n(g, a.name, a.name_len,
                                                    &j) == MT_OK);
                ST_WALK_CHECK(mt_safetensors_info(g, j, &b) == MT_OK);
                ST_WALK_CHECK(a.dtype == b.dtype && a.rank == b.rank &&
                              a.nbytes == b.nbytes);
                ST_WALK_CHECK(a.rank == 0 ||
                              memcmp(a.shape, b.shape,
                                     a.rank * sizeof *a.shape) == 0);
                ST_WALK_CHECK(a.nbytes == 0 ||
                              memcmp(a.data, b.data, (size_t)a.nbytes) == 0);
            }
            mt_safetensors_close(g);
            mt_safetensors_buffer_free(buf);
        }
    }
    for (size_t i = 0; i < n; i++) mt_tensor_free(ts[i]);
    free(items);
    free(kv);
    free(ts);
}

static void st_walk(const uint8_t *data, size_t size)
{
    mt_safetensors *f = NULL;
    if (mt_safetensors_open_memory(data, size, &f) != MT_OK) {
        ST_WALK_CHECK(f == NULL);
        return;
    }
    size_t n = mt_safetensors_count(f);
    uint64_t expect_begin = 0;
    for (size_t i = 0; i < n; i++) {
        mt_safetensors_entry e;
        ST_WALK_CHECK(mt_safetensors_info(f, i, &e) == MT_OK);
        /* file order tiles the data section */
        ST_WALK_CHECK(e.begin == expect_begin && e.end - e.begin == e.nbytes);
        expect_begin = e.end;
        ST_WALK_CHECK(e.file_offset + e.nbytes <= size);
        uint8_t acc = 0;
        for (uint64_t k = 0; k < e.nbytes; k++)
            acc ^= ((const uint8_t *)e.data)[k];
        st_walk_sink = acc;
        size_t j = (size_t)-1;
        ST_WALK_CHECK(mt_safetensors_find_n(f, e.name, e.name_len, &j) ==
                      MT_OK && j == i);

        mt_tensor *t = NULL, *t32 = NULL, *tc = NULL;
        mt_status st = mt_safetensors_get_at(f, i, &t);
        ST_WALK_CHECK((st == MT_OK) == st_walk_storable(&e));
        if (t) {
            ST_WALK_CHECK(mt_tensor_numel(t) == (int64_t)e.numel);
            ST_WALK_CHECK(e.nbytes == 0 ||
                          memcmp(t->data, e.data, (size_t)e.nbytes) == 0);
            int64_t shape[MT_MAX_RANK];
            for (size_t d = 0; d < e.rank; d++) shape[d] = t->shape[d];
            if (e.name_len == strlen(e.name)) {
                ST_WALK_CHECK(mt_safetensors_get_checked(
                                  f, e.name, e.dtype, (int)e.rank, shape,
                                  &tc) == MT_OK);
                mt_tensor_free(tc);
                int64_t wrong[MT_MAX_RANK + 1];
                memcpy(wrong, shape, sizeof shape);
                wrong[0] = e.rank ? shape[0] ^ 1 : 0;
                ST_WALK_CHECK(mt_safetensors_get_checked(
                                  f, e.name, e.dtype, (int)e.rank + !e.rank,
                                  wrong, &tc) == MT_ERR_SHAPE && !tc);
            }
            mt_tensor_free(t);
        }
        st = mt_safetensors_get_f32_at(f, i, &t32);
        if (st == MT_OK) {
            ST_WALK_CHECK(t32->dtype == MT_DTYPE_F32);
            mt_tensor_free(t32);
        } else {
            ST_WALK_CHECK(t32 == NULL);
        }
    }
    size_t nm = mt_safetensors_metadata_count(f);
    for (size_t i = 0; i < nm; i++) {
        mt_safetensors_kv kv;
        ST_WALK_CHECK(mt_safetensors_metadata_at(f, i, &kv) == MT_OK);
        if (kv.key_len == strlen(kv.key)) {
            const char *v = NULL;
            size_t vl = 0;
            ST_WALK_CHECK(mt_safetensors_metadata_get(f, kv.key, &v, &vl) ==
                          MT_OK && v == kv.value && vl == kv.value_len);
        }
    }
    st_walk_roundtrip(f);
    mt_safetensors_close(f);
}

#endif
