/* convert.c — little-endian file bytes to F32, whatever their alignment.
 * Every load goes through memcpy (rule 14: no alignment is guaranteed). */
#include <string.h>

#include "st_internal.h"

/* IEEE half -> float, exactly (normals, subnormals, inf, NaN payload). */
static float half_to_f32(uint16_t h)
{
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
    uint32_t exp = (h >> 10) & 0x1fu;
    uint32_t man = h & 0x3ffu;
    uint32_t bits;
    if (exp == 0x1f) {
        bits = sign | 0x7f800000u | (man << 13);
    } else if (exp != 0) {
        bits = sign | ((exp + 112u) << 23) | (man << 13);
    } else if (man == 0) {
        bits = sign;
    } else {
        /* subnormal: normalise */
        exp = 113;
        while (!(man & 0x400u)) {
            man <<= 1;
            exp--;
        }
        man &= 0x3ffu;
        bits = sign | (exp << 23) | (man << 13);
    }
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

static uint64_t le(const uint8_t *p, size_t n)
{
    uint64_t v = 0;
    for (size_t i = n; i-- > 0;) v = (v << 8) | p[i];
    return v;
}

void mt_st_convert_to_f32(float *dst, const uint8_t *src, mt_dtype dtype,
                          size_t n)
{
    switch (dtype) {
    case MT_DTYPE_F32:
        memcpy(dst, src, n * 4);  /* host is little-endian (checked at open) */
        break;
    case MT_DTYPE_F16:
        for (size_t i = 0; i < n; i++)
            dst[i] = half_to_f32((uint16_t)le(src + 2 * i, 2));
        break;
    case MT_DTYPE_BF16:
        for (size_t i = 0; i < n; i++) {
            uint32_t bits = (uint32_t)le(src + 2 * i, 2) << 16;
            memcpy(&dst[i], &bits, 4);
        }
        break;
    case MT_DTYPE_F64:
        for (size_t i = 0; i < n; i++) {
            uint64_t bits = le(src + 8 * i, 8);
            double d;
            memcpy(&d, &bits, 8);
            dst[i] = (float)d;
        }
        break;
    case MT_DTYPE_I64:
        for (size_t i = 0; i < n; i++)
            dst[i] = (float)(int64_t)le(src + 8 * i, 8);
        break;
    case MT_DTYPE_U64:
        for (size_t i = 0; i < n; i++)
            dst[i] = (float)le(src + 8 * i, 8);
        break;
    case MT_DTYPE_I32:
        for (size_t i = 0; i < n; i++)
            dst[i] = (float)(int32_t)(uint32_t)le(src + 4 * i, 4);
        break;
    case MT_DTYPE_U32:
        for (size_t i = 0; i < n; i++)
            dst[i] = (float)(uint32_t)le(src + 4 * i, 4);
        break;
    case MT_DTYPE_I16:
        for (size_t i = 0; i < n; i++)
            dst[i] = (float)(int16_t)(uint16_t)le(src + 2 * i, 2);
        break;
    case MT_DTYPE_U16:
        for (size_t i = 0; i < n; i++)
            dst[i] = (float)(uint16_t)le(src + 2 * i, 2);
        break;
    case MT_DTYPE_I8:
        for (size_t i = 0; i < n; i++) dst[i] = (float)(int8_t)src[i];
        break;
    case MT_DTYPE_U8:
        for (size_t i = 0; i < n; i++) dst[i] = (float)src[i];
        break;
    case MT_DTYPE_BOOL:
        for (size_t i = 0; i < n; i++) dst[i] = src[i] ? 1.0f : 0.0f;
        break;
    default:
        break;
    }
}
