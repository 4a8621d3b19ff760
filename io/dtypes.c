/* dtypes.c — the safetensors dtype table: one row per name the format
 * defines (huggingface/safetensors, Dtype), with its size and its mt_dtype. */
#include <string.h>

#include "st_internal.h"

/* rust_order: position in the crate's `enum Dtype`, which the writer sorts
 * by (descending) so that wider elements come first and stay aligned. */
static const st_dtype_info st_dtypes[] = {
    {"BOOL", 8, MT_DTYPE_BOOL, 0},
    {"F4", 4, -1, 1},
    {"F6_E2M3", 6, -1, 2},
    {"F6_E3M2", 6, -1, 3},
    {"U8", 8, MT_DTYPE_U8, 4},
    {"I8", 8, MT_DTYPE_I8, 5},
    {"F8_E5M2", 8, -1, 6},
    {"F8_E4M3", 8, -1, 7},
    {"F8_E8M0", 8, -1, 8},
    {"F8_E4M3FNUZ", 8, -1, 9},
    {"F8_E5M2FNUZ", 8, -1, 10},
    {"I16", 16, MT_DTYPE_I16, 11},
    {"U16", 16, MT_DTYPE_U16, 12},
    {"F16", 16, MT_DTYPE_F16, 13},
    {"BF16", 16, MT_DTYPE_BF16, 14},
    {"I32", 32, MT_DTYPE_I32, 15},
    {"U32", 32, MT_DTYPE_U32, 16},
    {"F32", 32, MT_DTYPE_F32, 17},
    {"C64", 64, -1, 18},
    {"F64", 64, MT_DTYPE_F64, 19},
    {"I64", 64, MT_DTYPE_I64, 20},
    {"U64", 64, MT_DTYPE_U64, 21},
};

const st_dtype_info *mt_st_dtype_lookup(const char *name, size_t len)
{
    for (size_t i = 0; i < sizeof st_dtypes / sizeof st_dtypes[0]; i++) {
        if (strlen(st_dtypes[i].name) == len &&
            memcmp(st_dtypes[i].name, name, len) == 0)
            return &st_dtypes[i];
    }
    return NULL;
}

const st_dtype_info *mt_st_dtype_of_mt(mt_dtype dtype)
{
    for (size_t i = 0; i < sizeof st_dtypes / sizeof st_dtypes[0]; i++) {
        if (st_dtypes[i].mt == (int)dtype)
            return &st_dtypes[i];
    }
    return NULL;
}
