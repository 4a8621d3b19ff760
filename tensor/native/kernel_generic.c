/* kernel_generic.c — the portable micro-kernel, gemv and dot products.
 *
 * Plain C the compiler vectorises (SSE2 on any x86-64, NEON, wasm SIMD128
 * with -msimd128). Used where no hand-written kernel applies, and as the
 * gemv / dot fallbacks of the ISA kernels that have none of their own.
 * Packing and the scalar tile store are in panels.c.
 */
#include <string.h>

#include "native.h"

#if defined(__GNUC__) || defined(__clang__)
#define MT_INLINE static inline __attribute__((always_inline))
#else
#define MT_INLINE static inline
#endif

/* ---- the portable micro-kernel: 4×8 ------------------------------------------
 * With GCC/Clang, 4-float vector extensions (SSE, NEON, wasm SIMD128 or
 * plain scalar code, whatever the target has): 8 accumulators, 2 B loads,
 * 1 broadcast — within 16 registers. Left to itself the compiler
 * vectorised the plain loops across rows (gathers) and ran at 6 GFLOP/s on
 * SSE2; this form runs at ~4× that. Other compilers get the plain loops. */
enum { GMR = 4, GNR = 8 };

#if defined(__GNUC__) || defined(__clang__)
typedef float v4f __attribute__((vector_size(16)));

MT_INLINE v4f load4(const float *p)
{
    v4f v;
    memcpy(&v, p, sizeof v);
    return v;
}

MT_INLINE void tile_rows(const mt_tile *t, int rows, int packed)
{
    v4f c0[GMR], c1[GMR];
    for (int i = 0; i < GMR; i++)
        c0[i] = c1[i] = (v4f){0, 0, 0, 0};
    const float *a = t->a, *b = t->b;
    const int64_t a_rs = packed ? 1 : t->a_rs;
    const int64_t a_cs = packed ? GMR : t->a_cs;
    for (int64_t p = 0; p < t->k; p++) {
        v4f b0 = load4(b), b1 = load4(b + 4);
        for (int i = 0; i < rows; i++) {
            float av = a[i * a_rs];
            v4f v = {av, av, av, av};
            c0[i] += v * b0;
            c1[i] += v * b1;
        }
        a += a_cs;
        b += t->b_rs;
    }
    float acc[GMR * GNR];
    for (int i = 0; i < GMR; i++) {
        memcpy(acc + i * GNR, &c0[i], sizeof c0[i]);
        memcpy(acc + i * GNR + 4, &c1[i], sizeof c1[i]);
    }
    mt_native_store_tile(t, acc, GNR);
}
#else
MT_INLINE void tile_rows(const mt_tile *t, int rows, int packed)
{
    (void)packed;
    float acc[GMR][GNR] = {{0}};
    const float *a = t->a, *b = t->b;
    for (int64_t p = 0; p < t->k; p++) {
        for (int i = 0; i < rows; i++) {
            float av = a[i * t->a_rs];
            for (int j = 0; j < GNR; j++)
                acc[i][j] += av * b[j];
        }
        a += t->a_cs;
        b += t->b_rs;
    }
    mt_native_store_tile(t, &acc[0][0], GNR);
}
#endif

static void tile_generic(const mt_tile *t)
{
    if (t->flags & MT_TILE_PACKED_A) { // packed: all rows readable
        tile_rows(t, GMR, 1);
        return;
    }
    switch (t->m) {
    case 1: tile_rows(t, 1, 0); break;
    case 2: tile_rows(t, 2, 0); break;
    case 3: tile_rows(t, 3, 0); break;
    default: tile_rows(t, GMR, 0); break;
    }
}

/* ---- gemv: y = act(x·B + bias), B rows contiguous -------------------------- */

enum { GEMV_CHUNK = 64 };

void mt_native_gemv_generic(int64_t n, int64_t k, const float *x,
                            int64_t x_cs, const float *b, int64_t b_rs,
                            float *y, int64_t y_cs, const float *bias,
                            int flags)
{
    for (int64_t j0 = 0; j0 < n; j0 += GEMV_CHUNK) {
        int64_t cols = n - j0 < GEMV_CHUNK ? n - j0 : GEMV_CHUNK;
        float acc[GEMV_CHUNK] = {0};
        const float *bp = b + j0;
        if (cols == GEMV_CHUNK) {
            for (int64_t p = 0; p < k; p++) {
                float xv = x[p * x_cs];
                for (int j = 0; j < GEMV_CHUNK; j++)
                    acc[j] += xv * bp[p * b_rs + j];
            }
        } else {
            for (int64_t p = 0; p < k; p++) {
                float xv = x[p * x_cs];
                for (int64_t j = 0; j < cols; j++)
                    acc[j] += xv * bp[p * b_rs + j];
            }
        }
        mt_tile t = {.c = y + j0 * y_cs, .c_rs = 0, .c_cs = y_cs,
                     .bias = bias ? bias + j0 : NULL, .m = 1, .n = (int)cols,
                     .flags = flags};
        mt_native_store_tile(&t, acc, GEMV_CHUNK);
    }
}

/* ---- the max of a fused pool ------------------------------------------------ */

void mt_native_max_generic(int64_t count, float *restrict m, const float *restrict v)
{
    for (int64_t i = 0; i < count; i++) // contiguous: the compiler vectorises it
        m[i] = v[i] > m[i] || v[i] != v[i] ? v[i] : m[i];
}

/* ---- the sparse-input gemv: only the rows of B under nonzero x ------------- */

int64_t mt_native_compact_generic(int64_t k, const float *x, int32_t *idx,
                                  float *val)
{
    int64_t nnz = 0;
    for (int64_t p = 0; p < k; p++) { // branch-free: digits mix zeros and ink
        idx[nnz] = (int32_t)p;
        val[nnz] = x[p];
        nnz += x[p] != 0.0f; // true for NaN too
    }
    return nnz;
}

/* 32 columns at a time in 8 four-float accumulators (left to itself the
 * compiler kept a 64-float accumulator array in memory: slower than the
 * dense gemv). */
enum { SPARSE_CHUNK = 32 };

void mt_native_sparse_gemv_generic(int64_t n, int64_t nnz, const int32_t *idx,
                                   const float *val, const float *b,
                                   int64_t b_rs, float *y, const float *bias,
                                   int flags)
{
    for (int64_t j0 = 0; j0 < n; j0 += SPARSE_CHUNK) {
        int64_t cols = n - j0 < SPARSE_CHUNK ? n - j0 : SPARSE_CHUNK;
        float acc[SPARSE_CHUNK] = {0};
#if defined(__GNUC__) || defined(__clang__)
        if (cols == SPARSE_CHUNK) {
            v4f c[SPARSE_CHUNK / 4];
            for (int q = 0; q < SPARSE_CHUNK / 4; q++)
                c[q] = (v4f){0, 0, 0, 0};
            for (int64_t t = 0; t < nnz; t++) {
                const float *bp = b + idx[t] * b_rs + j0;
                const v4f xv = {val[t], val[t], val[t], val[t]};
                for (int q = 0; q < SPARSE_CHUNK / 4; q++)
                    c[q] += xv * load4(bp + 4 * q);
            }
            memcpy(acc, c, sizeof c);
        } else
#endif
        {
            for (int64_t t = 0; t < nnz; t++) {
                const float xv = val[t], *bp = b + idx[t] * b_rs + j0;
                for (int64_t j = 0; j < cols; j++)
                    acc[j] += xv * bp[j];
            }
        }
        mt_tile t = {.c = y + j0, .c_cs = 1, .bias = bias ? bias + j0 : NULL,
                     .m = 1, .n = (int)cols, .flags = flags};
        mt_native_store_tile(&t, acc, SPARSE_CHUNK);
    }
}

/* ---- dot: C = act(A·B + bias), A rows and B columns contiguous -------------
 * 4 columns of B at a time (they stay in L1 while every row of A passes),
 * 2 four-float partial sums per column (8 independent chains). */
enum { DOT_COLS = 4 };

#if defined(__GNUC__) || defined(__clang__)
MT_INLINE float hsum4(v4f v) { return (v[0] + v[1]) + (v[2] + v[3]); }
#endif

void mt_native_dot_generic(int64_t m, int64_t n, int64_t k, const float *a,
                           int64_t a_rs, const float *b, int64_t b_cs, float *c,
                           int64_t c_rs, int64_t c_cs, const float *bias,
                           int flags)
{
    for (int64_t j0 = 0; j0 < n; j0 += DOT_COLS) {
        int cols = n - j0 < DOT_COLS ? (int)(n - j0) : DOT_COLS;
        const float *bj[DOT_COLS];
        for (int j = 0; j < DOT_COLS; j++) // a short block repeats its last column
            bj[j] = b + (j0 + (j < cols ? j : cols - 1)) * b_cs;
        for (int64_t i = 0; i < m; i++) {
            const float *x = a + i * a_rs;
            float sum[DOT_COLS];
            int64_t p = 0;
#if defined(__GNUC__) || defined(__clang__)
            v4f s0[DOT_COLS], s1[DOT_COLS];
            for (int j = 0; j < DOT_COLS; j++)
                s0[j] = s1[j] = (v4f){0, 0, 0, 0};
            for (; p + 8 <= k; p += 8) {
                v4f x0 = load4(x + p), x1 = load4(x + p + 4);
                for (int j = 0; j < DOT_COLS; j++) {
                    s0[j] += x0 * load4(bj[j] + p);
                    s1[j] += x1 * load4(bj[j] + p + 4);
                }
            }
            for (int j = 0; j < DOT_COLS; j++)
                sum[j] = hsum4(s0[j] + s1[j]);
#else
            for (int j = 0; j < DOT_COLS; j++)
                sum[j] = 0.0f;
#endif
            for (; p < k; p++)
                for (int j = 0; j < DOT_COLS; j++)
                    sum[j] += x[p] * bj[j][p];
            mt_tile t = {.c = c + i * c_rs + j0 * c_cs, .c_cs = c_cs, .m = 1,
                         .n = cols, .bias = bias ? bias + j0 : NULL,
                         .flags = flags};
            mt_native_store_tile(&t, sum, DOT_COLS);
        }
    }
}

const mt_native_kernel mt_native_kernel_generic = {
    .name = "generic",
    .description = "native generic 4x8",
    .mr = GMR, .nr = GNR,
    .lanes = 4,
    .mc = 1024, .kc = 256, .nc = 512,
    .dot_max_m = 4,
    .tile = tile_generic,
    .gemv = mt_native_gemv_generic,
    .dot = mt_native_dot_generic,
};
