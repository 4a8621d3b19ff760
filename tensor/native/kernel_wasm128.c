/* kernel_wasm128.c — the wasm SIMD128 micro-kernel (4×8) and gemv.
 *
 * Built only when the compiler targets wasm32 with -msimd128 (wasm has no
 * run-time feature detection: a module either uses SIMD or does not).
 * Baseline SIMD128 has no fused multiply-add, so each step is mul + add.
 * 4×8: 8 v128 accumulators + 2 B loads + 1 splat. A 6×8 tile (15 live
 * vectors) should fit 16 registers but spilled in V8 and wazero.
 */
#include "native.h"

#if defined(__wasm_simd128__)
#include <wasm_simd128.h>

#define MT_INLINE static inline __attribute__((always_inline))

/* 4x8: a 4x8 tile needs more live vectors than V8/wazero keep in
 * registers (measured: 122K -> 146-150K images/s for MNIST batch 256). */
enum { MR = 4, NR = 8 };

MT_INLINE void tile_rows(const mt_tile *t, int rows, int packed)
{
    v128_t c0[MR], c1[MR];
    for (int i = 0; i < MR; i++)
        c0[i] = c1[i] = wasm_f32x4_splat(0.0f);
    const float *a = t->a, *b = t->b;
    const int64_t a_rs = packed ? 1 : t->a_rs;
    const int64_t a_cs = packed ? MR : t->a_cs;
    const int64_t b_rs = packed ? NR : t->b_rs;
    for (int64_t p = 0; p < t->k; p++) {
        v128_t b0 = wasm_v128_load(b), b1 = wasm_v128_load(b + 4);
        for (int i = 0; i < rows; i++) {
            v128_t av = wasm_f32x4_splat(a[i * a_rs]);
            c0[i] = wasm_f32x4_add(c0[i], wasm_f32x4_mul(av, b0));
            c1[i] = wasm_f32x4_add(c1[i], wasm_f32x4_mul(av, b1));
        }
        a += a_cs;
        b += b_rs;
    }
    float acc[MR * NR];
    for (int i = 0; i < MR; i++) {
        wasm_v128_store(acc + i * NR, c0[i]);
        wasm_v128_store(acc + i * NR + 4, c1[i]);
    }
    mt_native_store_tile(t, acc, NR);
}

static void tile_wasm128(const mt_tile *t)
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
    default: tile_rows(t, 4, 0); break;
    }
}

/* y = act(x·B + bias), B rows contiguous: 32 columns in 8 accumulators. */
static void gemv_wasm128(int64_t n, int64_t k, const float *x, int64_t x_cs,
                         const float *b, int64_t b_rs, float *y, int64_t y_cs,
                         const float *bias, int flags)
{
    int64_t j0 = 0;
    for (; j0 + 32 <= n; j0 += 32) {
        v128_t acc[8];
        for (int v = 0; v < 8; v++)
            acc[v] = wasm_f32x4_splat(0.0f);
        const float *bp = b + j0;
        for (int64_t p = 0; p < k; p++, bp += b_rs) {
            v128_t xv = wasm_f32x4_splat(x[p * x_cs]);
            /* The farthest load first, kept first by the barrier: one bounds
             * check in the host's JIT then covers the whole row (Go/wazero:
             * ~23 -> ~20 us per image). */
            v128_t last = wasm_v128_load(bp + 28);
            __asm__ volatile("" ::: "memory");
            for (int v = 0; v < 7; v++)
                acc[v] = wasm_f32x4_add(acc[v],
                                        wasm_f32x4_mul(xv, wasm_v128_load(bp + 4 * v)));
            acc[7] = wasm_f32x4_add(acc[7], wasm_f32x4_mul(xv, last));
        }
        float tmp[32];
        for (int v = 0; v < 8; v++)
            wasm_v128_store(tmp + 4 * v, acc[v]);
        mt_tile t = {.c = y + j0 * y_cs, .c_cs = y_cs, .m = 1, .n = 32,
                     .bias = bias ? bias + j0 : NULL, .flags = flags};
        mt_native_store_tile(&t, tmp, 32);
    }
    if (j0 < n)
        mt_native_gemv_generic(n - j0, k, x, x_cs, b + j0, b_rs, y + j0 * y_cs,
                               y_cs, bias ? bias + j0 : NULL, flags);
}

const mt_native_kernel mt_native_kernel_wasm128 = {
    .name = "wasm-simd128",
    .description = "native wasm-simd128 4x8",
    .mr = MR, .nr = NR,
    .mc = 120, .kc = 256, .nc = 2048,
    .dot_max_m = 4,
    .tile = tile_wasm128,
    .gemv = gemv_wasm128,
};

#else
typedef int mt_native_wasm128_unused; // ISO C forbids an empty file
#endif
