/* dtype.c — per-dtype facts in one table, and conversion to F32. */
#include <string.h>

#include "internal.h"

typedef struct dtype_traits {
    const char *name;   /* safetensors spelling */
    size_t size;        /* bytes per element */
} dtype_traits;

static const dtype_traits traits[MT_DTYPE_COUNT] = {
    [MT_DTYPE_F32] = {"F32", 4},   [MT_DTYPE_F16] = {"F16", 2},
    [MT_DTYPE_BF16] = {"BF16", 2}, [MT_DTYPE_F64] = {"F64", 8},
    [MT_DTYPE_I64] = {"I64", 8},   [MT_DTYPE_I32] = {"I32", 4},
    [MT_DTYPE_I16] = {"I16", 2},   [MT_DTYPE_I8] = {"I8", 1},
    [MT_DTYPE_U64] = {"U64", 8},   [MT_DTYPE_U32] = {"U32", 4},
    [MT_DTYPE_U16] = {"U16", 2},   [MT_DTYPE_U8] = {"U8", 1},
    [MT_DTYPE_BOOL] = {"BOOL", 1},
};

size_t mt_dtype_size(mt_dtype dtype)
{
    return (unsigned)dtype < MT_DTYPE_COUNT ? traits[dtype].size : 0;
}

const char *mt_dtype_name(mt_dtype dtype)
{
    return (unsigned)dtype < MT_DTYPE_COUNT ? traits[dtype].name : "INVALID";
}

mt_status mt_dtype_from_name(const char *name, mt_dtype *dtype)
{
    if (!name || !dtype)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "dtype_from_name: NULL argument");
    for (int i = 0; i < MT_DTYPE_COUNT; i++) {
        if (strcmp(name, traits[i].name) == 0) {
            *dtype = (mt_dtype)i;
            return MT_OK;
        }
    }
    return mt_fail(MT_ERR_DTYPE, "dtype_from_name: unsupported dtype \"%s\"", name);
}

/* IEEE binary16 -> binary32, exact for every input (subnormals, inf, NaN). */
float mt_f16_to_f32(uint16_t h)
{
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
    uint32_t exp = (h >> 10) & 0x1fu;
    uint32_t mant = h & 0x3ffu;
    uint32_t bits;
    if (exp == 0x1f) {                       /* inf / NaN */
        bits = sign | 0x7f800000u | (mant << 13);
    } else if (exp != 0) {                   /* normal */
        bits = sign | ((exp + 112u) << 23) | (mant << 13);
    } else if (mant == 0) {                  /* zero */
        bits = sign;
    } else {                                 /* subnormal: normalise */
        exp = 113;
        while (!(mant & 0x400u)) {
            mant <<= 1;
            exp--;
        }
        bits = sign | (exp << 23) | ((mant & 0x3ffu) << 13);
    }
    float f;
    memcpy(&f, &bits, sizeof f);
    return f;
}

/* bfloat16 is the top half of a binary32. */
float mt_bf16_to_f32(uint16_t h)
{
    uint32_t bits = (uint32_t)h << 16;
    float f;
    memcpy(&f, &bits, sizeof f);
    return f;
}


float mt_element_to_f32(mt_dtype dtype, const void *p)
{
    switch (dtype) {
    case MT_DTYPE_F32: { float v; memcpy(&v, p, 4); return v; }
    case MT_DTYPE_F16: { uint16_t v; memcpy(&v, p, 2); return mt_f16_to_f32(v); }
    case MT_DTYPE_BF16: { uint16_t v; memcpy(&v, p, 2); return mt_bf16_to_f32(v); }
    case MT_DTYPE_F64: { double v; memcpy(&v, p, 8); return (float)v; }
    case MT_DTYPE_I64: { int64_t v; memcpy(&v, p, 8); return (float)v; }
    case MT_DTYPE_I32: { int32_t v; memcpy(&v, p, 4); return (float)v; }
    case MT_DTYPE_I16: { int16_t v; memcpy(&v, p, 2); return (float)v; }
    case MT_DTYPE_I8: { int8_t v; memcpy(&v, p, 1); return (float)v; }
    case MT_DTYPE_U64: { uint64_t v; memcpy(&v, p, 8); return (float)v; }
    case MT_DTYPE_U32: { uint32_t v; memcpy(&v, p, 4); return (float)v; }
    case MT_DTYPE_U16: { uint16_t v; memcpy(&v, p, 2); return (float)v; }
    case MT_DTYPE_U8: return (float)*(const uint8_t *)p;
    case MT_DTYPE_BOOL: return *(const uint8_t *)p ? 1.0f : 0.0f;
    default: return 0.0f;
    }
}
