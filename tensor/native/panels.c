/* panels.c — packing A and B into panels, and the scalar tile store: the
 * parts of the blocked GEMM every micro-kernel shares (gemm_native.c packs
 * with them unless a kernel brings its own; every kernel stores its edge
 * tiles through mt_native_store_tile). Separate from kernel_generic.c
 * because they run on every call whichever kernel is in use, so a size-
 * optimised build (wasm/meson.build) keeps this file at -O3 and the
 * portable kernel at -Oz.
 */
#include <string.h>

#include "native.h"

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
