/* kernel_avx2.c — the AVX2+FMA micro-kernel (6×16) and gemv.
 *
 * Compiled with -mavx2 -mfma (and nothing else in the library is), so the
 * binary still runs on older CPUs: gemm_native.c only calls in here after
 * MT_X86_HAS (cpu_x86.h) says the CPU has both.
 *
 * 6×16: 12 ymm accumulators + 2 B loads + 1 A broadcast = 15 of the 16 ymm
 * registers; per k step 2 loads, 6 broadcasts, 12 FMAs — enough independent
 * FMAs (12 >= 2 ports × 4 cycles latency) to keep both FMA pipes busy.
 */
#include <immintrin.h>

#include "cpu_x86.h"
#include "native.h"
#include "winograd.h"

#define MT_INLINE static inline __attribute__((always_inline))

enum { MR = 6, NR = 16 };

/* ---- store: C = [C +] acc [+ bias] [relu] --------------------------------- */

MT_INLINE __m256 epilogue(__m256 v, const float *c, const float *bias,
                          int flags)
{
    if (flags & MT_TILE_ACCUM)
        v = _mm256_add_ps(v, _mm256_loadu_ps(c));
    if (flags & MT_TILE_BIAS)
        v = _mm256_add_ps(v, _mm256_loadu_ps(bias));
    if (flags & MT_TILE_RELU) // max(0, v) returns v when v is NaN
        v = _mm256_max_ps(_mm256_setzero_ps(), v);
    return v;
}

/* The accumulators go through a local array first, with constant indices,
 * so the compiler keeps them in registers in the k loop (a variable index
 * into c0[] would force them to memory on every iteration). */
MT_INLINE void store_tile(const mt_tile *t, const __m256 *c0, const __m256 *c1)
{
    float acc[MR * NR];
#pragma GCC unroll 8
    for (int i = 0; i < MR; i++) {
        _mm256_storeu_ps(acc + i * NR, c0[i]);
        _mm256_storeu_ps(acc + i * NR + 8, c1[i]);
    }
    if (t->c_cs == 1 && t->n == NR) {
        const float *bias1 = t->flags & MT_TILE_BIAS ? t->bias + 8 : NULL;
        for (int i = 0; i < t->m; i++) {
            float *c = t->c + i * t->c_rs;
            __m256 v0 = _mm256_loadu_ps(acc + i * NR);
            __m256 v1 = _mm256_loadu_ps(acc + i * NR + 8);
            _mm256_storeu_ps(c, epilogue(v0, c, t->bias, t->flags));
            _mm256_storeu_ps(c + 8, epilogue(v1, c + 8, bias1, t->flags));
        }
        return;
    }
    mt_native_store_tile(t, acc, NR);
}

/* ---- the micro-kernel --------------------------------------------------------
 * rows and packed are compile-time constants after inlining: one loop per
 * row count, with constant strides for packed panels. */
MT_INLINE void tile_rows(const mt_tile *t, int rows, int packed)
{
    __m256 c0[MR], c1[MR];
#pragma GCC unroll 16 // as registers: left as a loop, GCC zeroed them in memory (rep stos)
    for (int i = 0; i < MR; i++)
        c0[i] = c1[i] = _mm256_setzero_ps();
    const float *a = t->a, *b = t->b;
    const int64_t a_rs = packed ? 1 : t->a_rs;
    const int64_t a_cs = packed ? MR : t->a_cs;
    const int64_t b_rs = packed ? NR : t->b_rs;
    for (int i = 0; i < rows; i++)
        _mm_prefetch((const char *)(t->c + i * t->c_rs), _MM_HINT_T0);
    for (int64_t p = 0; p < t->k; p++) {
        __m256 b0 = _mm256_loadu_ps(b), b1 = _mm256_loadu_ps(b + 8);
#pragma GCC unroll 8
        for (int i = 0; i < rows; i++) {
            __m256 av = _mm256_broadcast_ss(a + i * a_rs);
            c0[i] = _mm256_fmadd_ps(av, b0, c0[i]);
            c1[i] = _mm256_fmadd_ps(av, b1, c1[i]);
        }
        a += a_cs;
        b += b_rs;
    }
    store_tile(t, c0, c1);
}

static void tile_avx2(const mt_tile *t)
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
    default: tile_rows(t, 6, 0); break;
    }
}

/* ---- gemv: y = act(x·B + bias), B rows contiguous --------------------------
 * 64 columns at a time in 8 accumulators (8 >= 2 FMA ports × 4 cycles);
 * each row of B is read once, 256 contiguous bytes per chunk. */
static void gemv_avx2(int64_t n, int64_t k, const float *x, int64_t x_cs,
                      const float *b, int64_t b_rs, float *y, int64_t y_cs,
                      const float *bias, int flags)
{
    int64_t j0 = 0;
    for (; j0 + 64 <= n; j0 += 64) {
        __m256 acc[8];
        for (int v = 0; v < 8; v++)
            acc[v] = _mm256_setzero_ps();
        const float *bp = b + j0;
        for (int64_t p = 0; p < k; p++) {
            __m256 xv = _mm256_broadcast_ss(x + p * x_cs);
            for (int v = 0; v < 8; v++)
                acc[v] = _mm256_fmadd_ps(xv, _mm256_loadu_ps(bp + 8 * v),
                                         acc[v]);
            bp += b_rs;
        }
        float *yc = y + j0 * y_cs;
        if (y_cs == 1) {
            for (int v = 0; v < 8; v++)
                _mm256_storeu_ps(yc + 8 * v,
                                 epilogue(acc[v], NULL, bias ? bias + j0 + 8 * v
                                                            : NULL,
                                          flags & ~MT_TILE_ACCUM));
        } else {
            float tmp[64];
            for (int v = 0; v < 8; v++)
                _mm256_storeu_ps(tmp + 8 * v, acc[v]);
            mt_tile t = {.c = yc, .c_cs = y_cs, .m = 1, .n = 64,
                         .bias = bias ? bias + j0 : NULL, .flags = flags};
            mt_native_store_tile(&t, tmp, 64);
        }
    }
    for (; j0 + 8 <= n; j0 += 8) { // 8 columns, 4 partial sums over p
        __m256 acc[4];
        for (int v = 0; v < 4; v++)
            acc[v] = _mm256_setzero_ps();
        const float *bp = b + j0;
        int64_t p = 0;
        for (; p + 4 <= k; p += 4, bp += 4 * b_rs)
            for (int v = 0; v < 4; v++)
                acc[v] = _mm256_fmadd_ps(_mm256_broadcast_ss(x + (p + v) * x_cs),
                                         _mm256_loadu_ps(bp + v * b_rs), acc[v]);
        for (; p < k; p++, bp += b_rs)
            acc[0] = _mm256_fmadd_ps(_mm256_broadcast_ss(x + p * x_cs),
                                     _mm256_loadu_ps(bp), acc[0]);
        __m256 s = _mm256_add_ps(_mm256_add_ps(acc[0], acc[1]),
                                 _mm256_add_ps(acc[2], acc[3]));
        float tmp[8];
        _mm256_storeu_ps(tmp, s);
        mt_tile t = {.c = y + j0 * y_cs, .c_cs = y_cs, .m = 1, .n = 8,
                     .bias = bias ? bias + j0 : NULL, .flags = flags};
        mt_native_store_tile(&t, tmp, 8);
    }
    if (j0 < n)
        mt_native_gemv_generic(n - j0, k, x, x_cs, b + j0, b_rs, y + j0 * y_cs,
                               y_cs, bias ? bias + j0 : NULL, flags);
}

/* ---- the max of a fused pool: max(v, m) keeps a NaN in m, the blend one in v */
static void max_avx2(int64_t count, float *m, const float *v)
{
    int64_t i = 0;
    for (; i + 8 <= count; i += 8) {
        __m256 a = _mm256_loadu_ps(m + i), b = _mm256_loadu_ps(v + i);
        __m256 r = _mm256_max_ps(b, a); // b > a ? b : a
        _mm256_storeu_ps(m + i, _mm256_blendv_ps(r, b, _mm256_cmp_ps(b, b, _CMP_UNORD_Q)));
    }
    if (i < count)
        mt_native_max_generic(count - i, m + i, v + i);
}

/* ---- the sparse-input gemv ------------------------------------------------
 * compact: 8 entries per compare; an all-zero group (the background of an
 * image) costs one branch, the others one step per nonzero. sparse_gemv:
 * the gemv above with the row of B picked by idx[t]. */
static int64_t compact_avx2(int64_t k, const float *x, int32_t *idx, float *val)
{
    int64_t nnz = 0, p = 0;
    for (; p + 8 <= k; p += 8) {
        // NEQ_UQ: true for NaN, which must reach the sum
        unsigned m = (unsigned)_mm256_movemask_ps(
            _mm256_cmp_ps(_mm256_loadu_ps(x + p), _mm256_setzero_ps(), _CMP_NEQ_UQ));
        for (; m; m &= m - 1) {
            int64_t q = p + __builtin_ctz(m);
            idx[nnz] = (int32_t)q;
            val[nnz++] = x[q];
        }
    }
    for (; p < k; p++) {
        idx[nnz] = (int32_t)p;
        val[nnz] = x[p];
        nnz += x[p] != 0.0f; // true for NaN too
    }
    return nnz;
}

static void sparse_gemv_avx2(int64_t n, int64_t nnz, const int32_t *idx,
                             const float *val, const float *b, int64_t b_rs,
                             float *y, const float *bias, int flags)
{
    int64_t j0 = 0;
    for (; j0 + 64 <= n; j0 += 64) {
        __m256 acc[8];
        for (int v = 0; v < 8; v++)
            acc[v] = _mm256_setzero_ps();
        for (int64_t t = 0; t < nnz; t++) {
            const float *bp = b + idx[t] * b_rs + j0;
            __m256 xv = _mm256_broadcast_ss(val + t);
            for (int v = 0; v < 8; v++)
                acc[v] = _mm256_fmadd_ps(xv, _mm256_loadu_ps(bp + 8 * v), acc[v]);
        }
        for (int v = 0; v < 8; v++)
            _mm256_storeu_ps(y + j0 + 8 * v,
                             epilogue(acc[v], NULL, bias ? bias + j0 + 8 * v : NULL,
                                      flags & ~MT_TILE_ACCUM));
    }
    for (; j0 + 8 <= n; j0 += 8) {
        __m256 acc[2] = {_mm256_setzero_ps(), _mm256_setzero_ps()};
        int64_t t = 0;
        for (; t + 2 <= nnz; t += 2)
            for (int v = 0; v < 2; v++)
                acc[v] = _mm256_fmadd_ps(_mm256_broadcast_ss(val + t + v),
                                         _mm256_loadu_ps(b + idx[t + v] * b_rs + j0),
                                         acc[v]);
        if (t < nnz)
            acc[0] = _mm256_fmadd_ps(_mm256_broadcast_ss(val + t),
                                     _mm256_loadu_ps(b + idx[t] * b_rs + j0), acc[0]);
        _mm256_storeu_ps(y + j0, epilogue(_mm256_add_ps(acc[0], acc[1]), NULL,
                                          bias ? bias + j0 : NULL, flags & ~MT_TILE_ACCUM));
    }
    if (j0 < n)
        mt_native_sparse_gemv_generic(n - j0, nnz, idx, val, b + j0, b_rs, y + j0,
                                      bias ? bias + j0 : NULL, flags);
}

/* ---- dot: C = act(A·B + bias), A rows and B columns contiguous -------------
 * 4 columns × 2 accumulators (8 independent FMA chains); the k tail is a
 * masked load. */
static void dot_avx2(int64_t m, int64_t n, int64_t k, const float *a,
                     int64_t a_rs, const float *b, int64_t b_cs, float *c,
                     int64_t c_rs, int64_t c_cs, const float *bias, int flags)
{
    const int rest = (int)(k & 7);
    const __m256i tail = _mm256_cmpgt_epi32(
        _mm256_set1_epi32(rest), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
    const int64_t k16 = k & ~(int64_t)15, k8 = k & ~(int64_t)7;
    for (int64_t j0 = 0; j0 < n; j0 += 4) {
        int cols = n - j0 < 4 ? (int)(n - j0) : 4;
        const float *bj[4];
        for (int j = 0; j < 4; j++) // a short block repeats its last column
            bj[j] = b + (j0 + (j < cols ? j : cols - 1)) * b_cs;
        for (int64_t i = 0; i < m; i++) {
            const float *x = a + i * a_rs;
            __m256 acc0[4], acc1[4];
            for (int j = 0; j < 4; j++)
                acc0[j] = acc1[j] = _mm256_setzero_ps();
            int64_t p = 0;
            for (; p < k16; p += 16) {
                __m256 x0 = _mm256_loadu_ps(x + p), x1 = _mm256_loadu_ps(x + p + 8);
                for (int j = 0; j < 4; j++) {
                    acc0[j] = _mm256_fmadd_ps(x0, _mm256_loadu_ps(bj[j] + p), acc0[j]);
                    acc1[j] = _mm256_fmadd_ps(x1, _mm256_loadu_ps(bj[j] + p + 8),
                                              acc1[j]);
                }
            }
            if (p < k8) {
                __m256 x0 = _mm256_loadu_ps(x + p);
                for (int j = 0; j < 4; j++)
                    acc0[j] = _mm256_fmadd_ps(x0, _mm256_loadu_ps(bj[j] + p), acc0[j]);
                p += 8;
            }
            if (rest) {
                __m256 x0 = _mm256_maskload_ps(x + p, tail);
                for (int j = 0; j < 4; j++)
                    acc1[j] = _mm256_fmadd_ps(x0, _mm256_maskload_ps(bj[j] + p, tail),
                                              acc1[j]);
            }
            // 4 horizontal sums at once: [s0 s1 s2 s3]
            __m256 s0 = _mm256_add_ps(acc0[0], acc1[0]), s1 = _mm256_add_ps(acc0[1], acc1[1]);
            __m256 s2 = _mm256_add_ps(acc0[2], acc1[2]), s3 = _mm256_add_ps(acc0[3], acc1[3]);
            __m256 h01 = _mm256_hadd_ps(s0, s1), h23 = _mm256_hadd_ps(s2, s3);
            __m256 h = _mm256_hadd_ps(h01, h23);
            __m128 sum4 = _mm_add_ps(_mm256_castps256_ps128(h), _mm256_extractf128_ps(h, 1));
            float sum[4];
            _mm_storeu_ps(sum, sum4);
            mt_tile t = {.c = c + i * c_rs + j0 * c_cs, .c_cs = c_cs, .m = 1,
                         .n = cols, .bias = bias ? bias + j0 : NULL,
                         .flags = flags};
            mt_native_store_tile(&t, sum, 4);
        }
    }
}

static bool supported_avx2(void)
{
    return MT_X86_HAS(AVX2, "avx2") && MT_X86_HAS(FMA, "fma");
}

const mt_native_kernel mt_native_kernel_avx2 = {
    .name = "avx2+fma",
    .description = "native avx2+fma 6x16",
    .mr = MR, .nr = NR,
    .lanes = 8,
    .mc = 1020, .kc = 512, .nc = 256,
    .dot_max_m = 12,
    .tile = tile_avx2,
    .gemv = gemv_avx2,
    .dot = dot_avx2,
    .compact = compact_avx2,
    .sparse_gemv = sparse_gemv_avx2,
    .max = max_avx2,
    .winograd_in = mt_winograd_in,
    .winograd_out = mt_winograd_out,
    .supported = supported_avx2,
};
