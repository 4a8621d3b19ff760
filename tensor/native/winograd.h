/* winograd.h (internal) — the input and output transforms of Winograd
 * F(2×2, 3×3) fused with a 2×2 max pool (conv_rows.c runs the rest).
 *
 * Plain C loops over channels, written so that they vectorise: conv_rows.c
 * compiles them for the library's baseline, and each x86-64 kernel file
 * includes this header again under its own ISA flags and offers them in its
 * mt_native_kernel entry (winograd_in / winograd_out), so an AVX-512 core
 * transforms 16 channels to an instruction instead of 4 (the transforms
 * were a fifth of the Fashion CNN at batch 256 on Emerald Rapids).
 */
#ifndef MT_NATIVE_WINOGRAD_H
#define MT_NATIVE_WINOGRAD_H

#include <stdbool.h>
#include <stdint.h>

/* max(m, v) that propagates NaN, as max_pool2d does. */
static inline float mt_winograd_max_nan(float m, float v) { return v > m || v != v ? v : m; }

/* V = Bᵀ d B for one input tile, every channel: d(i, j) row i, column j
 * at d + i·rs + j·cs, channels contiguous; V[4i+j] at v + (4i+j)·plane.
 * Written out in full, a loop over channels, so that it vectorises. */
static inline void mt_winograd_in(int64_t cin, const float *d, int64_t rs, int64_t cs,
                                  float *restrict v, int64_t plane)
{
    for (int i = 0; i < 4; i++) {  // Bᵀ d, row i of the result, into planes 4i..4i+3
        // the two rows it mixes: d0 - d2, d1 + d2, -d1 + d2, d1 - d3
        const float *restrict a = d + (i == 0 ? 0 : 1) * rs;
        const float *restrict b = d + (i == 3 ? 3 : 2) * rs;
        const float sa = i == 2 ? -1.0f : 1.0f, sb = i == 0 || i == 3 ? -1.0f : 1.0f;
        float *restrict o0 = v + 4 * i * plane, *restrict o1 = o0 + plane,
                        *restrict o2 = o1 + plane, *restrict o3 = o2 + plane;
        const float *restrict a0 = a, *restrict a1 = a + cs, *restrict a2 = a + 2 * cs,
                              *restrict a3 = a + 3 * cs;
        const float *restrict b0 = b, *restrict b1 = b + cs, *restrict b2 = b + 2 * cs,
                              *restrict b3 = b + 3 * cs;
        for (int64_t c = 0; c < cin; c++) {
            float q0 = sa * a0[c] + sb * b0[c], q1 = sa * a1[c] + sb * b1[c];
            float q2 = sa * a2[c] + sb * b2[c], q3 = sa * a3[c] + sb * b3[c];
            o0[c] = q0 - q2, o1[c] = q1 + q2, o2[c] = q2 - q1, o3[c] = q1 - q3;
        }
    }
}

/* Y = Aᵀ M A for one output tile, every channel, then bias, ReLU and the
 * max of the four values into y (contiguous channels). M[k] at m + k·plane. */
static inline void mt_winograd_out(int64_t cout, const float *m, int64_t plane,
                                   const float *bias, bool relu, float *restrict y)
{
    const float *restrict p[16];
    for (int k = 0; k < 16; k++)
        p[k] = m + k * plane;
    const float *restrict m0 = p[0], *restrict m1 = p[1], *restrict m2 = p[2],
                          *restrict m3 = p[3], *restrict m4 = p[4], *restrict m5 = p[5],
                          *restrict m6 = p[6], *restrict m7 = p[7], *restrict m8 = p[8],
                          *restrict m9 = p[9], *restrict m10 = p[10], *restrict m11 = p[11],
                          *restrict m12 = p[12], *restrict m13 = p[13], *restrict m14 = p[14],
                          *restrict m15 = p[15];
    for (int64_t o = 0; o < cout; o++) {
        // Aᵀ M: rows (M0 + M1 + M2, M1 - M2 - M3) of the 4×4 tile, per column
        float r00 = m0[o] + m4[o] + m8[o], r01 = m1[o] + m5[o] + m9[o];
        float r02 = m2[o] + m6[o] + m10[o], r03 = m3[o] + m7[o] + m11[o];
        float r10 = m4[o] - m8[o] - m12[o], r11 = m5[o] - m9[o] - m13[o];
        float r12 = m6[o] - m10[o] - m14[o], r13 = m7[o] - m11[o] - m15[o];
        float y00 = r00 + r01 + r02, y01 = r01 - r02 - r03;
        float y10 = r10 + r11 + r12, y11 = r11 - r12 - r13;
        y[o] = mt_winograd_max_nan(mt_winograd_max_nan(mt_winograd_max_nan(y00, y01), y10), y11);
    }
    // the bias and ReLU after the max give the same numbers (rounding is
    // monotonic): separate loops, each vectorised
    if (bias)
        for (int64_t o = 0; o < cout; o++)
            y[o] += bias[o];
    if (relu)
        for (int64_t o = 0; o < cout; o++)
            y[o] = y[o] < 0.0f ? 0.0f : y[o];
}

#endif
