/* kernel_generic.c — the portable micro-kernel, packing and gemv.
 *
 * Plain C the compiler vectorises (SSE2 on any x86-64, NEON, wasm SIMD128
 * with -msimd128). Used where no hand-written kernel applies, and as the
 * packing / store helpers of the ISA kernels.
 */
#include <string.h>

#include "native.h"

#if defined(__GNUC__) || defined(__clang__)
#define MT_INLINE static inline __attribute__((always_inline))
#else
#define MT_INLINE static inline
#endif

/* ---- packing -------------------------------------------------------------- */

// A (m×k) -> ceil(m/mr) panels, each k columns of mr values (zero-padded rows)
void mt_native_pack_a_generic(int64_t m, int64_t k, const float *a,
                              int64_t a_rs, int64_t a_cs, float *dst, int mr)
{
    for (int64_t i0 = 0; i0 < m; i0 += mr) {
        int64_t rows = m - i0 < mr ? m - i0 : mr;
        const float *ap = a + i0 * a_rs;
        if (a_rs == 1) { // column p of the panel is contiguous
            for (int64_t p = 0; p < k; p++) {
                const float *src = ap + p * a_cs;
                float *d = dst + p * mr;
                int64_t i = 0;
                for (; i < rows; i++)
                    d[i] = src[i];
                for (; i < mr; i++)
                    d[i] = 0.0f;
            }
        } else {
            for (int64_t i = 0; i < rows; i++) {
                const float *src = ap + i * a_rs;
                for (int64_t p = 0; p < k; p++)
                    dst[p * mr + i] = src[p * a_cs];
            }
            for (int64_t i = rows; i < mr; i++)
                for (int64_t p = 0; p < k; p++)
                    dst[p * mr + i] = 0.0f;
        }
        dst += k * mr;
    }
}

// B (k×n) -> ceil(n/nr) panels, each k rows of nr values (zero-padded cols)
void mt_native_pack_b_generic(int64_t k, int64_t n, const float *b,
                              int64_t b_rs, int64_t b_cs, float *dst, int nr)
{
    for (int64_t j0 = 0; j0 < n; j0 += nr) {
        int64_t cols = n - j0 < nr ? n - j0 : nr;
        const float *bp = b + j0 * b_cs;
        if (b_cs == 1) { // row p of the panel is contiguous
            for (int64_t p = 0; p < k; p++) {
                float *d = dst + p * nr;
                memcpy(d, bp + p * b_rs, (size_t)cols * sizeof(float));
                for (int64_t j = cols; j < nr; j++)
                    d[j] = 0.0f;
            }
        } else {
            for (int64_t j = 0; j < cols; j++) {
                const float *src = bp + j * b_cs;
                for (int64_t p = 0; p < k; p++)
                    dst[p * nr + j] = src[p * b_rs];
            }
            for (int64_t j = cols; j < nr; j++)
                for (int64_t p = 0; p < k; p++)
                    dst[p * nr + j] = 0.0f;
        }
        dst += k * nr;
    }
}

/* ---- the shared scalar store ---------------------------------------------- */

void mt_native_store_tile(const mt_tile *t, const float *acc, int ld)
{
    for (int i = 0; i < t->m; i++) {
        float *c = t->c + i * t->c_rs;
        for (int j = 0; j < t->n; j++) {
            float v = acc[i * ld + j];
            if (t->flags & MT_TILE_ACCUM)
                v += c[j * t->c_cs];
            if (t->flags & MT_TILE_BIAS)
                v += t->bias[j];
            if ((t->flags & MT_TILE_RELU) && v < 0.0f)
                v = 0.0f;
            c[j * t->c_cs] = v;
        }
    }
}

/* ---- the portable micro-kernel: 4×16 ---------------------------------------
 * 64 accumulators: 16 SSE/NEON/SIMD128 registers, which fits NEON and
 * wasm; SSE2 spills a little, but x86-64 has the AVX kernels anyway. */
enum { GMR = 4, GNR = 16 };

MT_INLINE void tile_rows(const mt_tile *t, int rows)
{
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

static void tile_generic(const mt_tile *t)
{
    if (t->flags & MT_TILE_PACKED_A) { // packed: all rows readable
        tile_rows(t, GMR);
        return;
    }
    switch (t->m) {
    case 1: tile_rows(t, 1); break;
    case 2: tile_rows(t, 2); break;
    case 3: tile_rows(t, 3); break;
    default: tile_rows(t, GMR); break;
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

/* ---- dot: C = act(A·B + bias), A rows and B columns contiguous -------------
 * 4 columns of B at a time (they stay in L1 while every row of A passes),
 * 16 partial sums per column the compiler turns into vectors. */
enum { DOT_COLS = 4, DOT_LANES = 16 };

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
            float acc[DOT_COLS][DOT_LANES] = {{0}};
            int64_t p = 0;
            for (; p + DOT_LANES <= k; p += DOT_LANES)
                for (int j = 0; j < DOT_COLS; j++)
                    for (int l = 0; l < DOT_LANES; l++)
                        acc[j][l] += x[p + l] * bj[j][p + l];
            float sum[DOT_COLS];
            for (int j = 0; j < DOT_COLS; j++) {
                float s = 0.0f;
                for (int l = 0; l < DOT_LANES; l++)
                    s += acc[j][l];
                for (int64_t q = p; q < k; q++)
                    s += x[q] * bj[j][q];
                sum[j] = s;
            }
            mt_tile t = {.c = c + i * c_rs + j0 * c_cs, .c_cs = c_cs, .m = 1,
                         .n = cols, .bias = bias ? bias + j0 : NULL,
                         .flags = flags};
            mt_native_store_tile(&t, sum, DOT_COLS);
        }
    }
}

const mt_native_kernel mt_native_kernel_generic = {
    .name = "generic",
    .description = "native generic 4x16",
    .mr = GMR, .nr = GNR,
    .mc = 128, .kc = 256, .nc = 2048,
    .tile = tile_generic,
    .gemv = mt_native_gemv_generic,
    .dot = mt_native_dot_generic,
};
