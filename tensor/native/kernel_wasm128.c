/* kernel_wasm128.c — the wasm SIMD128 micro-kernel (4×8), gemv and packing.
 *
 * Built only when the compiler targets wasm32 with -msimd128 (wasm has no
 * run-time feature detection: a module either uses SIMD or does not).
 * Baseline SIMD128 has no fused multiply-add, so each step is mul + add.
 *
 * Why 4×8: V8 (x64) allocates 15 xmm registers and may issue all the loads
 * of a loop iteration before its arithmetic (it did for 5×8 even when clang
 * emitted them row by row), so the accumulators and one k step's loads
 * must fit in 14, one more holding a product: 4×8 is 8 accumulators, 2 B
 * loads and 4 broadcasts. 5×8 (17) spilled, and so did 4×8 with k unrolled
 * by 2: in Node, 256×784×128 went 1.44 -> 2.19 ms and 1.46 -> 1.92 ms.
 */
#include "native.h"

#if defined(__wasm_simd128__)
#include <wasm_simd128.h>

#define MT_INLINE static inline __attribute__((always_inline))

enum { MR = 4, NR = 8 };

/* C = [C +] acc [+ bias] [ReLU]: whole tiles (MR rows, NR unit-stride
 * columns) in vectors, with the operations in the order of
 * mt_native_store_tile (so the same results), which stores the others. In
 * Node, 256×784×128: 1.36 -> 1.33 ms, 512³: 7.10 -> 6.90 ms. One copy, not
 * inlined into every tile shape, and not unrolled: module size. */
__attribute__((noinline)) static void store_tile_wasm128(const mt_tile *t,
                                                         const float *acc)
{
    if (t->m != MR || t->n != NR || t->c_cs != 1) {
        mt_native_store_tile(t, acc, NR);
        return;
    }
    const v128_t zero = wasm_f32x4_splat(0.0f);
#pragma clang loop unroll(disable)
    for (int i = 0; i < MR; i++) {
        float *c = t->c + i * t->c_rs;
        v128_t v0 = wasm_v128_load(acc + i * NR);
        v128_t v1 = wasm_v128_load(acc + i * NR + 4);
        if (t->flags & MT_TILE_ACCUM) {
            v0 = wasm_f32x4_add(v0, wasm_v128_load(c));
            v1 = wasm_f32x4_add(v1, wasm_v128_load(c + 4));
        }
        if (t->flags & MT_TILE_BIAS) {
            v0 = wasm_f32x4_add(v0, wasm_v128_load(t->bias));
            v1 = wasm_f32x4_add(v1, wasm_v128_load(t->bias + 4));
        }
        if (t->flags & MT_TILE_RELU) { // pmax(v, 0) = v < 0 ? 0 : v, NaN kept
            v0 = wasm_f32x4_pmax(v0, zero);
            v1 = wasm_f32x4_pmax(v1, zero);
        }
        wasm_v128_store(c, v0);
        wasm_v128_store(c + 4, v1);
    }
}

MT_INLINE void tile_rows(const mt_tile *t, int rows, int packed)
{
    v128_t c0[MR], c1[MR];
    for (int i = 0; i < MR; i++)
        c0[i] = c1[i] = wasm_f32x4_splat(0.0f);
    const float *a = t->a, *b = t->b;
    const int64_t a_rs = packed ? 1 : t->a_rs;
    const int64_t a_cs = packed ? MR : t->a_cs;
    const int64_t b_rs = packed ? NR : t->b_rs;
    /* The loop ends on the B pointer (b_rs != 0: gemm_native.c packs a
     * broadcast B), not on an int64 count: one instruction less
     * per step (MNIST batch 256, the module in Node: 168K -> 175K/s). */
    const float *b_end = b + t->k * b_rs;
    for (; b != b_end; b += b_rs) {
        v128_t b0 = wasm_v128_load(b), b1 = wasm_v128_load(b + 4);
        for (int i = 0; i < rows; i++) {
            v128_t av = wasm_f32x4_splat(a[i * a_rs]);
            c0[i] = wasm_f32x4_add(c0[i], wasm_f32x4_mul(av, b0));
            c1[i] = wasm_f32x4_add(c1[i], wasm_f32x4_mul(av, b1));
        }
        a += a_cs;
    }
    float acc[MR * NR];
    for (int i = 0; i < rows; i++) {
        wasm_v128_store(acc + i * NR, c0[i]);
        wasm_v128_store(acc + i * NR + 4, c1[i]);
    }
    store_tile_wasm128(t, acc);
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

/* Columns j0..n-1 of gemv_wasm128 (the 10 logits of a classifier), 8 at a
 * time; a last block of fewer ends at column n, recomputing some columns
 * of the block before it, and stores only its new ones (128×10 in Node:
 * 0.73 -> 0.41 us against the generic gemv). Not inlined: with narrow
 * blocks in its function, V8 spilled in the 32-column loop (784×128: 6.8
 * -> 10.5 us). */
__attribute__((noinline)) static void
gemv_narrow(int64_t j0, int64_t n, int64_t k, const float *x, int64_t x_cs,
            const float *b, int64_t b_rs, float *y, int64_t y_cs,
            const float *bias, int flags)
{
    if (n < 8) {
        mt_native_gemv_generic(n - j0, k, x, x_cs, b + j0, b_rs, y + j0 * y_cs,
                               y_cs, bias ? bias + j0 : NULL, flags);
        return;
    }
    for (; j0 < n; j0 += 8) {
        const int64_t from = j0 + 8 <= n ? j0 : n - 8;
        v128_t acc0 = wasm_f32x4_splat(0.0f), acc1 = acc0;
        const float *bp = b + from;
        for (int64_t p = 0; p < k; p++, bp += b_rs) {
            v128_t xv = wasm_f32x4_splat(x[p * x_cs]);
            v128_t last = wasm_v128_load(bp + 4); // farthest first, as below
            __asm__ volatile("" ::: "memory");
            acc0 = wasm_f32x4_add(acc0, wasm_f32x4_mul(xv, wasm_v128_load(bp)));
            acc1 = wasm_f32x4_add(acc1, wasm_f32x4_mul(xv, last));
        }
        float tmp[8];
        wasm_v128_store(tmp, acc0);
        wasm_v128_store(tmp + 4, acc1);
        mt_tile t = {.c = y + j0 * y_cs, .c_cs = y_cs, .m = 1,
                     .n = (int)(n - j0 < 8 ? n - j0 : 8),
                     .bias = bias ? bias + j0 : NULL, .flags = flags};
        mt_native_store_tile(&t, tmp + (j0 - from), 8);
    }
}

/* y = act(x·B + bias), B rows contiguous: 32 columns in 8 accumulators,
 * two rows of B per step (each accumulator still adds row p before row
 * p+1: the same sums as one row per step). The farthest load of the second
 * row comes first, kept first by the barrier, so that one bounds check in
 * the host's JIT covers that row. Measured, MNIST layer 1 (1×784×128) in
 * the module: wazero 14.6 -> 12.0 us per call, V8 6.9 -> 8.4 us. Two rows
 * per step halve the loop's back-edge moves of the 8 accumulators, which
 * wazero pays for; V8 does worse with them. The module serves Go first (the
 * seed's use), and both stay within their targets (docs/wasm.md). */
static void gemv_wasm128(int64_t n, int64_t k, const float *x, int64_t x_cs,
                         const float *b, int64_t b_rs, float *y, int64_t y_cs,
                         const float *bias, int flags)
{
    int64_t j0 = 0;
    for (; j0 + 32 <= n; j0 += 32) {
        v128_t acc[8];
        for (int v = 0; v < 8; v++)
            acc[v] = wasm_f32x4_splat(0.0f);
        const float *bp = b + j0, *xp = x;
        int64_t p = k;
        for (; p >= 2; p -= 2, xp += 2 * x_cs, bp += 2 * b_rs) {
            v128_t x0 = wasm_v128_load32_splat(xp), x1 = wasm_v128_load32_splat(xp + x_cs);
            const float *bq = bp + b_rs;
            v128_t last = wasm_v128_load(bq + 28);
            __asm__ volatile("" ::: "memory");
            for (int v = 0; v < 7; v++) {
                acc[v] = wasm_f32x4_add(acc[v], wasm_f32x4_mul(x0, wasm_v128_load(bp + 4 * v)));
                acc[v] = wasm_f32x4_add(acc[v], wasm_f32x4_mul(x1, wasm_v128_load(bq + 4 * v)));
            }
            acc[7] = wasm_f32x4_add(acc[7], wasm_f32x4_mul(x0, wasm_v128_load(bp + 28)));
            acc[7] = wasm_f32x4_add(acc[7], wasm_f32x4_mul(x1, last));
        }
        if (p) {
            v128_t x0 = wasm_v128_load32_splat(xp);
            for (int v = 0; v < 8; v++)
                acc[v] = wasm_f32x4_add(acc[v], wasm_f32x4_mul(x0, wasm_v128_load(bp + 4 * v)));
        }
        float tmp[32];
        for (int v = 0; v < 8; v++)
            wasm_v128_store(tmp + 4 * v, acc[v]);
        mt_tile t = {.c = y + j0 * y_cs, .c_cs = y_cs, .m = 1, .n = 32,
                     .bias = bias ? bias + j0 : NULL, .flags = flags};
        mt_native_store_tile(&t, tmp, 32);
    }
    if (j0 < n)
        gemv_narrow(j0, n, k, x, x_cs, b, b_rs, y, y_cs, bias, flags);
}

/* A (a_cs == 1) into MR-row panels, 4×4 blocks transposed in registers;
 * the rest (other strides, the last rows) by the generic packer. */
static void pack_a_wasm128(int64_t m, int64_t k, const float *a, int64_t a_rs,
                           int64_t a_cs, float *dst)
{
    const int64_t full = a_cs == 1 ? m / MR * MR : 0;
    for (int64_t i0 = 0; i0 < full; i0 += MR, dst += k * MR) {
        const float *r0 = a + i0 * a_rs, *r1 = r0 + a_rs, *r2 = r1 + a_rs,
                    *r3 = r2 + a_rs;
        int64_t p = 0;
        for (; p + 4 <= k; p += 4) {
            v128_t x0 = wasm_v128_load(r0 + p), x1 = wasm_v128_load(r1 + p);
            v128_t x2 = wasm_v128_load(r2 + p), x3 = wasm_v128_load(r3 + p);
            v128_t t0 = wasm_i32x4_shuffle(x0, x1, 0, 4, 1, 5);
            v128_t t1 = wasm_i32x4_shuffle(x2, x3, 0, 4, 1, 5);
            v128_t t2 = wasm_i32x4_shuffle(x0, x1, 2, 6, 3, 7);
            v128_t t3 = wasm_i32x4_shuffle(x2, x3, 2, 6, 3, 7);
            float *d = dst + p * MR;
            wasm_v128_store(d, wasm_i64x2_shuffle(t0, t1, 0, 2));
            wasm_v128_store(d + 4, wasm_i64x2_shuffle(t0, t1, 1, 3));
            wasm_v128_store(d + 8, wasm_i64x2_shuffle(t2, t3, 0, 2));
            wasm_v128_store(d + 12, wasm_i64x2_shuffle(t2, t3, 1, 3));
        }
        for (; p < k; p++) {
            float *d = dst + p * MR;
            d[0] = r0[p], d[1] = r1[p], d[2] = r2[p], d[3] = r3[p];
        }
    }
    if (full < m)
        mt_native_pack_a_generic(m - full, k, a + full * a_rs, a_rs, a_cs, dst, MR);
}

/* B (b_cs == 1) into NR-column panels, two vector copies per row (the
 * generic packer's memcpy per row is a libc call here: 400 KB took 65 us,
 * now 10); the rest by the generic packer. */
static void pack_b_wasm128(int64_t k, int64_t n, const float *b, int64_t b_rs,
                           int64_t b_cs, float *dst)
{
    const int64_t full = b_cs == 1 ? n / NR * NR : 0;
    for (int64_t j0 = 0; j0 < full; j0 += NR) {
        const float *bp = b + j0;
        for (int64_t p = 0; p < k; p++, bp += b_rs, dst += NR) {
            wasm_v128_store(dst, wasm_v128_load(bp));
            wasm_v128_store(dst + 4, wasm_v128_load(bp + 4));
        }
    }
    if (full < n)
        mt_native_pack_b_generic(k, n - full, b + full * b_cs, b_rs, b_cs, dst, NR);
}

/* kc 1024 rather than 256: fewer passes over C and tile stores. In Node,
 * 256×784×128 (K in one block of 784 rather than 4 of 200) 1.35 -> 1.31
 * ms, 1024³ 61.0 -> 56.4 ms.
 * pack_min_m 32 (8 row panels): a B row of this tile is 32 bytes, half a
 * cache line, so read in place every k step touches a line of its own, and
 * a B not 16-byte aligned (the MNIST weights in the WASI build: 56 mod 64)
 * splits every fourth load across two; packed panels are contiguous and
 * 64-byte aligned. 256×784×128 took 1.53-1.60 ms with B in place, 1.41
 * with B packed, 1.31 with both; 32×784×128 with the misaligned B 201 vs
 * 187 us, 16 rows 100 vs 102 us; A packed needs 4 column panels to pay
 * (256×784×16: 173 us in place, 179 packed). */
const mt_native_kernel mt_native_kernel_wasm128 = {
    .name = "wasm-simd128",
    .description = "native wasm-simd128 4x8",
    .mr = MR, .nr = NR,
    .lanes = 4,
    .mc = 1024, .kc = 1024, .nc = 128,
    .dot_max_m = 4,
    .pack_min_m = 32,
    .tile = tile_wasm128,
    .gemv = gemv_wasm128,
    .pack_a = pack_a_wasm128,
    .pack_b = pack_b_wasm128,
};

#else
typedef int mt_native_wasm128_unused; // ISO C forbids an empty file
#endif
