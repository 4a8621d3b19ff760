/* kernel_avx512.c — the AVX-512 micro-kernel (8×32), gemv, dot and packing.
 *
 * Compiled with -mavx512f -mavx2 -mfma only; called only after
 * MT_X86_HAS(AVX512F) (cpu_x86.h; which also checks that the OS saves
 * the zmm state).
 *
 * 8×32: 16 zmm accumulators, 2 B loads and 8 broadcasts per k step. On
 * Zen 4 a zmm FMA is two 256-bit halves, so the FMA peak equals AVX2's;
 * what AVX-512 buys is half the instructions and loads per FLOP (and 32
 * registers). Measured here (one core, packed panels in L1/L2): 6, 8, 12
 * and 14 rows all reach 96-98% of the FMA peak in isolation; 8 rows won
 * in full GEMMs because 8 divides the power-of-two and MNIST sizes (no
 * ragged tiles: 12 rows waste 3% at M = 256) and 8 row streams are cheap
 * to read in place when A is not packed.
 *
 * meson.build compiles this file twice: MT_AVX512_MR=8 ("avx512") and
 * MT_AVX512_MR=12 ("avx512-12x32", 24 accumulators). A core with two
 * 512-bit FMA units (Xeon Gold/Platinum) needs >= 4 cycles × 2 units = 8
 * FMAs in flight plus room for the loads: 8×32 issues 10 loads per 16
 * FMAs, 12×32 14 per 24, and packs A (12 row streams read in place would
 * collide in L1 sets at power-of-two strides). The automatic choice takes
 * 12×32 only where mt_native_avx512_fma_units() measures two units; on
 * Zen 4 (one) 8×32 stays faster. MT_AVX512_MR=6|14 builds other variants
 * for re-measuring.
 */
#include <cpuid.h>
#include <immintrin.h>
#include <stdatomic.h>
#include <string.h>

#include "cpu_x86.h"
#include "native.h"
#include "winograd.h"

#define MT_INLINE static inline __attribute__((always_inline))
#define STR_(x) #x
#define STR(x) STR_(x)

#ifndef MT_AVX512_MR
#define MT_AVX512_MR 8
#endif
/* Each shape is its own table entry (meson.build compiles this file once
 * per shape); the 8-row one keeps the plain name. */
#if MT_AVX512_MR == 8
#define KERNEL_SYMBOL mt_native_kernel_avx512
#define KERNEL_NAME "avx512"
#elif MT_AVX512_MR == 12
#define KERNEL_SYMBOL mt_native_kernel_avx512_12x32
#define KERNEL_NAME "avx512-12x32"
#else
#define KERNEL_SYMBOL mt_native_kernel_avx512_other
#define KERNEL_NAME "avx512-" STR(MT_AVX512_MR) "x32"
#endif
enum { MR = MT_AVX512_MR, NR = 32 };

/* ---- store: C = [C +] acc [+ bias] [relu], masked to the tile's columns -- */

MT_INLINE __m512 epilogue(__m512 v, __mmask16 mask, const float *c,
                          const float *bias, int flags)
{
    if (flags & MT_TILE_ACCUM)
        v = _mm512_add_ps(v, _mm512_maskz_loadu_ps(mask, c));
    if (flags & MT_TILE_BIAS)
        v = _mm512_add_ps(v, _mm512_maskz_loadu_ps(mask, bias));
    if (flags & MT_TILE_RELU) // max(0, v) returns v when v is NaN
        v = _mm512_max_ps(_mm512_setzero_ps(), v);
    return v;
}

/* The accumulators go through a local array first, with constant indices,
 * so the compiler keeps them in registers in the k loop (a variable index
 * into c0[] would force them to memory on every iteration). */
MT_INLINE void store_tile(const mt_tile *t, const __m512 *c0, const __m512 *c1)
{
    float acc[MR * NR];
#pragma GCC unroll 16
    for (int i = 0; i < MR; i++) {
        _mm512_storeu_ps(acc + i * NR, c0[i]);
        _mm512_storeu_ps(acc + i * NR + 16, c1[i]);
    }
    if (t->c_cs == 1) {
        int n0 = t->n < 16 ? t->n : 16, n1 = t->n - n0;
        __mmask16 m0 = (__mmask16)((1u << n0) - 1);
        __mmask16 m1 = (__mmask16)((1u << n1) - 1);
        const float *bias1 = t->flags & MT_TILE_BIAS ? t->bias + 16 : NULL;
        for (int i = 0; i < t->m; i++) {
            float *c = t->c + i * t->c_rs;
            __m512 v0 = _mm512_loadu_ps(acc + i * NR);
            __m512 v1 = _mm512_loadu_ps(acc + i * NR + 16);
            _mm512_mask_storeu_ps(c, m0, epilogue(v0, m0, c, t->bias,
                                                  t->flags));
            if (n1 > 0)
                _mm512_mask_storeu_ps(c + 16, m1,
                                      epilogue(v1, m1, c + 16, bias1,
                                               t->flags));
        }
        return;
    }
    mt_native_store_tile(t, acc, NR);
}

/* ---- the micro-kernel ------------------------------------------------------ */

MT_INLINE void tile_rows(const mt_tile *t, int rows, int packed)
{
    __m512 c0[MR], c1[MR];
#pragma GCC unroll 16 // as registers: left as a loop, GCC zeroed them in memory (rep stos)
    for (int i = 0; i < MR; i++)
        c0[i] = c1[i] = _mm512_setzero_ps();
    const float *a = t->a, *b = t->b;
    const int64_t a_rs = packed ? 1 : t->a_rs;
    const int64_t a_cs = packed ? MR : t->a_cs;
    const int64_t b_rs = packed ? NR : t->b_rs;
    for (int i = 0; i < rows; i++) {
        _mm_prefetch((const char *)(t->c + i * t->c_rs), _MM_HINT_T0);
        _mm_prefetch((const char *)(t->c + i * t->c_rs + 31), _MM_HINT_T0);
    }
    for (int64_t p = 0; p < t->k; p++) {
        __m512 b0 = _mm512_loadu_ps(b), b1 = _mm512_loadu_ps(b + 16);
#pragma GCC unroll 16
        for (int i = 0; i < rows; i++) {
            __m512 av = _mm512_set1_ps(a[i * a_rs]);
            c0[i] = _mm512_fmadd_ps(av, b0, c0[i]);
            c1[i] = _mm512_fmadd_ps(av, b1, c1[i]);
        }
        a += a_cs;
        b += b_rs;
    }
    store_tile(t, c0, c1);
}

static void tile_avx512(const mt_tile *t)
{
    if (t->flags & MT_TILE_PACKED_A) {
        if (t->b_rs == NR)
            tile_rows(t, MR, 1);
        else
            tile_rows(t, MR, 0);
        return;
    }
    switch (t->m) {
    case 1: tile_rows(t, 1, 0); break;
    case 2: tile_rows(t, 2, 0); break;
    case 3: tile_rows(t, 3, 0); break;
    case 4: tile_rows(t, 4, 0); break;
    case 5: tile_rows(t, 5, 0); break;
    case 6: tile_rows(t, 6, 0); break;
#if MT_AVX512_MR > 6
    case 7: tile_rows(t, 7, 0); break;
    case 8: tile_rows(t, 8, 0); break;
#endif
#if MT_AVX512_MR > 8
    case 9: tile_rows(t, 9, 0); break;
    case 10: tile_rows(t, 10, 0); break;
    case 11: tile_rows(t, 11, 0); break;
    case 12: tile_rows(t, 12, 0); break;
#endif
#if MT_AVX512_MR > 12
    case 13: tile_rows(t, 13, 0); break;
    case 14: tile_rows(t, 14, 0); break;
#endif
    default: tile_rows(t, MR, 0); break;
    }
}

/* ---- gemv: y = act(x·B + bias), B rows contiguous --------------------------
 * 128 columns at a time in 8 zmm accumulators; the last < 128 columns in
 * masked 16-column pieces. */
MT_INLINE void gemv_store(__m512 v, __mmask16 mask, float *y, int64_t y_cs,
                          const float *bias, int flags)
{
    v = epilogue(v, mask, NULL, bias, flags & ~MT_TILE_ACCUM);
    if (y_cs == 1) {
        _mm512_mask_storeu_ps(y, mask, v);
    } else {
        float tmp[16];
        _mm512_storeu_ps(tmp, v);
        for (int j = 0; j < 16; j++)
            if (mask >> j & 1)
                y[j * y_cs] = tmp[j];
    }
}

static void gemv_avx512(int64_t n, int64_t k, const float *x, int64_t x_cs,
                        const float *b, int64_t b_rs, float *y, int64_t y_cs,
                        const float *bias, int flags)
{
    int64_t j0 = 0;
    for (; j0 + 128 <= n; j0 += 128) {
        __m512 acc[8];
        for (int v = 0; v < 8; v++)
            acc[v] = _mm512_setzero_ps();
        const float *bp = b + j0;
        for (int64_t p = 0; p < k; p++) {
            __m512 xv = _mm512_set1_ps(x[p * x_cs]);
            for (int v = 0; v < 8; v++)
                acc[v] = _mm512_fmadd_ps(xv, _mm512_loadu_ps(bp + 16 * v),
                                         acc[v]);
            bp += b_rs;
        }
        for (int v = 0; v < 8; v++)
            gemv_store(acc[v], 0xffff, y + (j0 + 16 * v) * y_cs, y_cs,
                       bias ? bias + j0 + 16 * v : NULL, flags);
    }
    for (; j0 < n; j0 += 16) { // 16 columns, 4 partial sums over p
        int cols = n - j0 < 16 ? (int)(n - j0) : 16;
        __mmask16 mask = (__mmask16)((1u << cols) - 1);
        __m512 acc[4];
        for (int v = 0; v < 4; v++)
            acc[v] = _mm512_setzero_ps();
        const float *bp = b + j0;
        int64_t p = 0;
        for (; p + 4 <= k; p += 4, bp += 4 * b_rs)
            for (int v = 0; v < 4; v++)
                acc[v] = _mm512_fmadd_ps(
                    _mm512_set1_ps(x[(p + v) * x_cs]),
                    _mm512_maskz_loadu_ps(mask, bp + v * b_rs), acc[v]);
        for (; p < k; p++, bp += b_rs)
            acc[0] = _mm512_fmadd_ps(_mm512_set1_ps(x[p * x_cs]),
                                     _mm512_maskz_loadu_ps(mask, bp), acc[0]);
        __m512 s = _mm512_add_ps(_mm512_add_ps(acc[0], acc[1]),
                                 _mm512_add_ps(acc[2], acc[3]));
        gemv_store(s, mask, y + j0 * y_cs, y_cs, bias ? bias + j0 : NULL,
                   flags);
    }
}

/* ---- the max of a fused pool: max(v, m) keeps a NaN in m, the blend one in v */
static void max_avx512(int64_t count, float *m, const float *v)
{
    int64_t i = 0;
    for (; i < count; i += 16) {
        __mmask16 in = count - i >= 16 ? 0xffff : (__mmask16)((1u << (count - i)) - 1);
        __m512 a = _mm512_maskz_loadu_ps(in, m + i), b = _mm512_maskz_loadu_ps(in, v + i);
        __m512 r = _mm512_max_ps(b, a); // b > a ? b : a
        r = _mm512_mask_mov_ps(r, _mm512_cmp_ps_mask(b, b, _CMP_UNORD_Q), b);
        _mm512_mask_storeu_ps(m + i, in, r);
    }
}

/* ---- the sparse-input gemv ------------------------------------------------
 * compact: 16 entries per step, the nonzero ones moved to the front of a
 * register (vcompressps into a register and a plain store: the compressing
 * store to memory is microcoded on Zen 4). sparse_gemv: the gemv above
 * with the row of B picked by idx[t]. */
__attribute__((target("popcnt")))
static int64_t compact_avx512(int64_t k, const float *x, int32_t *idx, float *val)
{
    int64_t nnz = 0;
    __m512i pos = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    for (int64_t p = 0; p < k; p += 16) {
        __mmask16 in = k - p >= 16 ? 0xffff : (__mmask16)((1u << (k - p)) - 1);
        __m512 v = _mm512_maskz_loadu_ps(in, x + p);
        // NEQ_UQ: true for NaN, which must reach the sum
        __mmask16 m = _mm512_mask_cmp_ps_mask(in, v, _mm512_setzero_ps(), _CMP_NEQ_UQ);
        _mm512_storeu_ps(val + nnz, _mm512_maskz_compress_ps(m, v));
        _mm512_storeu_si512(idx + nnz, _mm512_maskz_compress_epi32(m, pos));
        nnz += _mm_popcnt_u32(m);
        pos = _mm512_add_epi32(pos, _mm512_set1_epi32(16));
    }
    return nnz;
}

static void sparse_gemv_avx512(int64_t n, int64_t nnz, const int32_t *idx,
                               const float *val, const float *b, int64_t b_rs,
                               float *y, const float *bias, int flags)
{
    int64_t j0 = 0;
    for (; j0 + 128 <= n; j0 += 128) {
        __m512 acc[8];
        for (int v = 0; v < 8; v++)
            acc[v] = _mm512_setzero_ps();
        for (int64_t t = 0; t < nnz; t++) {
            const float *bp = b + idx[t] * b_rs + j0;
            __m512 xv = _mm512_set1_ps(val[t]);
            for (int v = 0; v < 8; v++)
                acc[v] = _mm512_fmadd_ps(xv, _mm512_loadu_ps(bp + 16 * v), acc[v]);
        }
        for (int v = 0; v < 8; v++)
            gemv_store(acc[v], 0xffff, y + j0 + 16 * v, 1,
                       bias ? bias + j0 + 16 * v : NULL, flags);
    }
    for (; j0 < n; j0 += 16) {
        int cols = n - j0 < 16 ? (int)(n - j0) : 16;
        __mmask16 mask = (__mmask16)((1u << cols) - 1);
        __m512 acc[2] = {_mm512_setzero_ps(), _mm512_setzero_ps()};
        int64_t t = 0;
        for (; t + 2 <= nnz; t += 2)
            for (int v = 0; v < 2; v++)
                acc[v] = _mm512_fmadd_ps(
                    _mm512_set1_ps(val[t + v]),
                    _mm512_maskz_loadu_ps(mask, b + idx[t + v] * b_rs + j0), acc[v]);
        if (t < nnz)
            acc[0] = _mm512_fmadd_ps(_mm512_set1_ps(val[t]),
                                     _mm512_maskz_loadu_ps(mask, b + idx[t] * b_rs + j0),
                                     acc[0]);
        gemv_store(_mm512_add_ps(acc[0], acc[1]), mask, y + j0, 1,
                   bias ? bias + j0 : NULL, flags);
    }
}

/* ---- dot: C = act(A·B + bias), A rows and B columns contiguous -------------
 * 4 columns × 2 accumulators (8 independent FMA chains); the k tail is a
 * masked load, so there is no scalar remainder loop. */
static void dot_avx512(int64_t m, int64_t n, int64_t k, const float *a,
                       int64_t a_rs, const float *b, int64_t b_cs, float *c,
                       int64_t c_rs, int64_t c_cs, const float *bias, int flags)
{
    const __mmask16 tail = (__mmask16)((1u << (k & 15)) - 1);
    const int64_t k32 = k & ~(int64_t)31, k16 = k & ~(int64_t)15;
    for (int64_t j0 = 0; j0 < n; j0 += 4) {
        int cols = n - j0 < 4 ? (int)(n - j0) : 4;
        const float *bj[4];
        for (int j = 0; j < 4; j++) // a short block repeats its last column
            bj[j] = b + (j0 + (j < cols ? j : cols - 1)) * b_cs;
        for (int64_t i = 0; i < m; i++) {
            const float *x = a + i * a_rs;
            __m512 acc0[4], acc1[4];
            for (int j = 0; j < 4; j++)
                acc0[j] = acc1[j] = _mm512_setzero_ps();
            int64_t p = 0;
            for (; p < k32; p += 32) {
                __m512 x0 = _mm512_loadu_ps(x + p), x1 = _mm512_loadu_ps(x + p + 16);
                for (int j = 0; j < 4; j++) {
                    acc0[j] = _mm512_fmadd_ps(x0, _mm512_loadu_ps(bj[j] + p), acc0[j]);
                    acc1[j] = _mm512_fmadd_ps(x1, _mm512_loadu_ps(bj[j] + p + 16),
                                              acc1[j]);
                }
            }
            if (p < k16) {
                __m512 x0 = _mm512_loadu_ps(x + p);
                for (int j = 0; j < 4; j++)
                    acc0[j] = _mm512_fmadd_ps(x0, _mm512_loadu_ps(bj[j] + p), acc0[j]);
                p += 16;
            }
            if (tail) {
                __m512 x0 = _mm512_maskz_loadu_ps(tail, x + p);
                for (int j = 0; j < 4; j++)
                    acc1[j] = _mm512_fmadd_ps(
                        x0, _mm512_maskz_loadu_ps(tail, bj[j] + p), acc1[j]);
            }
            float sum[4];
            for (int j = 0; j < 4; j++)
                sum[j] = _mm512_reduce_add_ps(_mm512_add_ps(acc0[j], acc1[j]));
            mt_tile t = {.c = c + i * c_rs + j0 * c_cs, .c_cs = c_cs, .m = 1,
                         .n = cols, .bias = bias ? bias + j0 : NULL,
                         .flags = flags};
            mt_native_store_tile(&t, sum, 4);
        }
    }
}

/* ---- packing -----------------------------------------------------------------
 * The common layouts (row-major A, transposed B) are transposes of 8×8
 * blocks: 8 loads, 24 shuffles, 8 stores per 64 floats. Everything else
 * goes to the portable packers. */
MT_INLINE void transpose8(__m256 r[8])
{
    __m256 t0 = _mm256_unpacklo_ps(r[0], r[1]), t1 = _mm256_unpackhi_ps(r[0], r[1]);
    __m256 t2 = _mm256_unpacklo_ps(r[2], r[3]), t3 = _mm256_unpackhi_ps(r[2], r[3]);
    __m256 t4 = _mm256_unpacklo_ps(r[4], r[5]), t5 = _mm256_unpackhi_ps(r[4], r[5]);
    __m256 t6 = _mm256_unpacklo_ps(r[6], r[7]), t7 = _mm256_unpackhi_ps(r[6], r[7]);
    __m256 s0 = _mm256_shuffle_ps(t0, t2, 0x44), s1 = _mm256_shuffle_ps(t0, t2, 0xee);
    __m256 s2 = _mm256_shuffle_ps(t1, t3, 0x44), s3 = _mm256_shuffle_ps(t1, t3, 0xee);
    __m256 s4 = _mm256_shuffle_ps(t4, t6, 0x44), s5 = _mm256_shuffle_ps(t4, t6, 0xee);
    __m256 s6 = _mm256_shuffle_ps(t5, t7, 0x44), s7 = _mm256_shuffle_ps(t5, t7, 0xee);
    r[0] = _mm256_permute2f128_ps(s0, s4, 0x20);
    r[1] = _mm256_permute2f128_ps(s1, s5, 0x20);
    r[2] = _mm256_permute2f128_ps(s2, s6, 0x20);
    r[3] = _mm256_permute2f128_ps(s3, s7, 0x20);
    r[4] = _mm256_permute2f128_ps(s0, s4, 0x31);
    r[5] = _mm256_permute2f128_ps(s1, s5, 0x31);
    r[6] = _mm256_permute2f128_ps(s2, s6, 0x31);
    r[7] = _mm256_permute2f128_ps(s3, s7, 0x31);
}

// 8 rows of src (row stride ld, contiguous along p) -> dst[p*dst_ld + i]
MT_INLINE void transpose_rows8(int64_t k, const float *src, int64_t ld,
                               float *dst, int64_t dst_ld)
{
    int64_t p = 0;
    for (; p + 8 <= k; p += 8) {
        __m256 r[8];
        for (int i = 0; i < 8; i++)
            r[i] = _mm256_loadu_ps(src + i * ld + p);
        transpose8(r);
        for (int j = 0; j < 8; j++)
            _mm256_storeu_ps(dst + (p + j) * dst_ld, r[j]);
    }
    for (; p < k; p++)
        for (int i = 0; i < 8; i++)
            dst[p * dst_ld + i] = src[i * ld + p];
}

// 4 rows of src (row stride ld, contiguous along p) -> dst[p*dst_ld + i]
MT_INLINE void transpose_rows4(int64_t k, const float *src, int64_t ld,
                               float *dst, int64_t dst_ld)
{
    int64_t p = 0;
    for (; p + 8 <= k; p += 8) {
        __m256 r0 = _mm256_loadu_ps(src + p), r1 = _mm256_loadu_ps(src + ld + p);
        __m256 r2 = _mm256_loadu_ps(src + 2 * ld + p), r3 = _mm256_loadu_ps(src + 3 * ld + p);
        __m256 t0 = _mm256_unpacklo_ps(r0, r1), t1 = _mm256_unpackhi_ps(r0, r1);
        __m256 t2 = _mm256_unpacklo_ps(r2, r3), t3 = _mm256_unpackhi_ps(r2, r3);
        // column p + j in the low half of s[j], p + 4 + j in its high half
        __m256 s[4] = {_mm256_shuffle_ps(t0, t2, 0x44), _mm256_shuffle_ps(t0, t2, 0xee),
                       _mm256_shuffle_ps(t1, t3, 0x44), _mm256_shuffle_ps(t1, t3, 0xee)};
        for (int j = 0; j < 4; j++) {
            _mm_storeu_ps(dst + (p + j) * dst_ld, _mm256_castps256_ps128(s[j]));
            _mm_storeu_ps(dst + (p + 4 + j) * dst_ld, _mm256_extractf128_ps(s[j], 1));
        }
    }
    for (; p < k; p++)
        for (int i = 0; i < 4; i++)
            dst[p * dst_ld + i] = src[i * ld + p];
}

/* Rows contiguous along p (the usual A): each MR-row panel as 8×8 and 4×8
 * transposes (12×32: 8 + 4 rows; the generic copy took 4.6 % of a 1024³
 * product on Emerald Rapids). */
static void pack_a_avx512(int64_t m, int64_t k, const float *a, int64_t a_rs,
                          int64_t a_cs, float *dst)
{
    if (MR % 4 || a_cs != 1) {
        mt_native_pack_a_generic(m, k, a, a_rs, a_cs, dst, MR);
        return;
    }
    int64_t i0 = 0;
    for (; i0 + MR <= m; i0 += MR, dst += MR * k) {
        int r = 0;
        for (; r + 8 <= MR; r += 8)
            transpose_rows8(k, a + (i0 + r) * a_rs, a_rs, dst + r, MR);
        for (; r < MR; r += 4)
            transpose_rows4(k, a + (i0 + r) * a_rs, a_rs, dst + r, MR);
    }
    if (i0 < m)
        mt_native_pack_a_generic(m - i0, k, a + i0 * a_rs, a_rs, a_cs, dst, MR);
}

static void pack_b_avx512(int64_t k, int64_t n, const float *b, int64_t b_rs,
                          int64_t b_cs, float *dst)
{
    if (b_rs != 1) { // rows contiguous (the usual case): a copy
        if (b_cs != 1) {
            mt_native_pack_b_generic(k, n, b, b_rs, b_cs, dst, NR);
            return;
        }
        int64_t j0 = 0;
        for (; j0 + NR <= n; j0 += NR, dst += k * NR) {
            const float *src = b + j0;
            for (int64_t p = 0; p < k; p++) {
                _mm512_storeu_ps(dst + p * NR, _mm512_loadu_ps(src + p * b_rs));
                _mm512_storeu_ps(dst + p * NR + 16,
                                 _mm512_loadu_ps(src + p * b_rs + 16));
            }
        }
        if (j0 < n)
            mt_native_pack_b_generic(k, n - j0, b + j0, b_rs, 1, dst, NR);
        return;
    }
    // columns contiguous (a transposed view): 8×8 transposes
    int64_t j0 = 0;
    for (; j0 + NR <= n; j0 += NR, dst += k * NR)
        for (int g = 0; g < NR; g += 8)
            transpose_rows8(k, b + (j0 + g) * b_cs, b_cs, dst + g, NR);
    if (j0 < n)
        mt_native_pack_b_generic(k, n - j0, b + j0 * b_cs, b_rs, b_cs, dst, NR);
}

#if MT_AVX512_MR == 8
/* ---- how many 512-bit FMAs per cycle -----------------------------------------
 * 12 independent chains (>= 4 cycles latency × 2 units) of zmm FMAs and of
 * ymm FMAs, the same count of each, timed in TSC ticks, the fastest of 15
 * interleaved runs (a run that was preempted is slower, never faster).
 * ymm FMAs run on two pipes on every AVX-512 CPU; a CPU with two 512-bit
 * FMA units (Xeon Gold/Platinum, Ice Lake server, Zen 5) runs zmm FMAs as
 * fast, so twice the FLOPs, while one unit (Zen 4: double-pumped halves,
 * small Xeons: ports 0+1 fused) takes twice as long. ~0.3 ms, once. */
#define FMA12(fma, x, y)                                                        \
    x##0 = fma(x##0, y, y); x##1 = fma(x##1, y, y); x##2 = fma(x##2, y, y);     \
    x##3 = fma(x##3, y, y); x##4 = fma(x##4, y, y); x##5 = fma(x##5, y, y);     \
    x##6 = fma(x##6, y, y); x##7 = fma(x##7, y, y); x##8 = fma(x##8, y, y);     \
    x##9 = fma(x##9, y, y); x##a = fma(x##a, y, y); x##b = fma(x##b, y, y)
#define FMA_RUN(T, set1, fma, add)                                              \
    T v0 = set1(0), v1 = set1(1), v2 = set1(2), v3 = set1(3), v4 = set1(4),     \
      v5 = set1(5), v6 = set1(6), v7 = set1(7), v8 = set1(8), v9 = set1(9),     \
      va = set1(10), vb = set1(11), y = set1(0.5f);                             \
    uint64_t t0 = __rdtsc();                                                    \
    for (int it = 0; it < 2048; it++) {                                         \
        FMA12(fma, v, y);                                                       \
        __asm__ volatile("" : "+v"(v0), "+v"(v6)); /* keep the loop */          \
    }                                                                           \
    uint64_t dt = __rdtsc() - t0;                                               \
    T s = add(add(add(v0, v1), add(v2, v3)), add(add(v4, v5), add(v6, v7)));    \
    s = add(s, add(add(v8, v9), add(va, vb)));                                  \
    __asm__ volatile("" : : "v"(s));                                            \
    return dt

static uint64_t run_zmm(void)
{
    FMA_RUN(__m512, _mm512_set1_ps, _mm512_fmadd_ps, _mm512_add_ps);
}

static uint64_t run_ymm(void)
{
    FMA_RUN(__m256, _mm256_set1_ps, _mm256_fmadd_ps, _mm256_add_ps);
}

// measured once; two threads racing the first call both measure (harmless)
static _Atomic int fma_units;

/* The display family and model and the vendor string (cpuid leaves 0 and
 * 1: two cpuid instructions, ~10 us in a VM where each traps). */
static unsigned cpu_model(char vendor[13], unsigned *family)
{
    unsigned a, b, c, d;
    __cpuid(0, a, b, c, d);
    memcpy(vendor, &b, 4);
    memcpy(vendor + 4, &d, 4);
    memcpy(vendor + 8, &c, 4);
    vendor[12] = '\0';
    __cpuid(1, a, b, c, d);
    unsigned fam = (a >> 8) & 0xf, model = (a >> 4) & 0xf;
    if (fam == 0xf)
        fam += (a >> 20) & 0xff;
    if (fam == 6 || fam >= 0xf)
        model |= ((a >> 16) & 0xf) << 4;
    *family = fam;
    return model;
}

/* The CPU model's count where it has one (mt_native_avx512_fma_units_of):
 * a timing differs from run to run, and on an Emerald Rapids VM 1 run in
 * 20 measured one unit (zmm FMAs throttled for the whole 0.2 ms window, a
 * frequency-license transition), so the kernel, its blocking and the
 * results changed between runs of one program. Else the best of up to 15
 * runs of each loop (~10 us a pair on Zen 4). It runs at the first matmul
 * of every process, so it stops once neither best has improved by 1 % for
 * 3 pairs in a row, after at least 5 (time for an AVX-512 power-license
 * warm-up to pass): on a quiet core the first pairs already reach it (all
 * 15 were 0.15 ms of a 1.4 ms `mnist predict`). */
int mt_native_avx512_fma_units(void)
{
    int units = atomic_load_explicit(&fma_units, memory_order_relaxed);
    if (units)
        return units;
    char vendor[13];
    unsigned family, model = cpu_model(vendor, &family);
    units = mt_native_avx512_fma_units_of(vendor, family, model);
    if (units) {
        atomic_store_explicit(&fma_units, units, memory_order_relaxed);
        return units;
    }
    uint64_t z = UINT64_MAX, y = UINT64_MAX;
    for (int r = 0, stable = 0; r < 15 && (r < 5 || stable < 3); r++) {
        uint64_t tz = run_zmm(), ty = run_ymm();
        bool better = tz < z - z / 100 || ty < y - y / 100;
        stable = better ? 0 : stable + 1;
        z = tz < z ? tz : z;
        y = ty < y ? ty : y;
    }
    units = 2 * y > (uint64_t)(1.5 * (double)z) ? 2 : 1; // zmm FLOPs / ymm FLOPs > 1.5
    atomic_store_explicit(&fma_units, units, memory_order_relaxed);
    return units;
}
#endif

static bool supported_avx512(void)
{
    return MT_X86_HAS(AVX512F, "avx512f") && MT_X86_HAS(FMA, "fma");
}

#if MT_AVX512_MR > 8
/* 12 rows: 24 accumulators, 3 loads per 8 FMAs (8×32: 16 and 5 per 8) —
 * what two 512-bit FMA units need (latency 4 × 2 units × a margin for the
 * loads). With one unit (Zen 4) 8×32 is faster: 97 vs 83-95 GFLOP/s at
 * 512..2048 (one core, CPU time), so auto takes 12×32 only with two. */
static bool two_fma_units(void) { return mt_native_avx512_fma_units() >= 2; }
#endif

const mt_native_kernel KERNEL_SYMBOL = {
    .name = KERNEL_NAME,
    .description = "native avx512 " STR(MT_AVX512_MR) "x32",
    .mr = MR, .nr = NR,
    .lanes = 16,
    .mc = 1024 / MR * MR, .kc = 512, .nc = 256,
    .dot_max_m = 4,
    .pack_aliased_a = MR > 8,
    .tile = tile_avx512,
    .gemv = gemv_avx512,
    .dot = dot_avx512,
    .compact = compact_avx512,
    .sparse_gemv = sparse_gemv_avx512,
    .max = max_avx512,
    .pack_a = pack_a_avx512,
    .pack_b = pack_b_avx512,
    .winograd_in = mt_winograd_in,
    .winograd_out = mt_winograd_out,
    .supported = supported_avx512,
#if MT_AVX512_MR > 8
    .auto_ok = two_fma_units,
#endif
};
