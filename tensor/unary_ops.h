/* unary_ops.h (internal) — THE list of unary ops and activations.
 *
 * One row per op generates its public functions mt_<name> / mt_<name>_into
 * (unary.c), its name in messages, and — for a row with an activation — the
 * epilogue every matmul backend and conv2d apply (mt_activation_rows). To
 * add an op: a scalar function below, one row, a declaration in ops.h, a
 * test row (tests/op_table/rows_elementwise.c) and its cases, and — for the
 * tape (train/ops_unary.c makes mt_tape_<name> from each row) — the
 * derivative, a declaration in autograd.h and a finite-difference row in
 * tests/test_autograd.c. An activation
 * is kind ACT and gets its value in mt_activation (ops.h); the
 * static_asserts in unary.c fail until the enum and the ACT rows agree one
 * to one.
 *
 *   X(name, params, kind, activation, scalar, deriv)
 *     params      0, 1 or 2 float parameters (p, q) the public function takes
 *     kind        ACT: also an activation, fused as MT_ACTIVATION_<activation>;
 *                 OP: an op only (activation _)
 *     scalar      float f(float x, float p, float q): the math, in float,
 *                 with PyTorch's definition (and its NaN/inf behaviour)
 *     deriv       float d(float x, float y, float p, float q): dy/dx at x,
 *                 y = scalar(x): PyTorch's backward formula (its choice at
 *                 kinks: relu'(0) = 0, abs'(0) = 0, clamp' = 1 at the bounds)
 *
 * The vector form: the compiler vectorises each op's contiguous row loop
 * (unary.c) where the math allows; ReLU also has an in-register form in
 * the native micro-kernels (MT_TILE_RELU, tensor/native), the others run
 * through the row loop over finished rows of C.
 */
#ifndef MT_UNARY_OPS_H
#define MT_UNARY_OPS_H

#include <math.h>
#include <stdint.h>
#include <string.h>

#include "minitensor/ops.h"

#define MT_UNARY_OPS(X)                                          \
    X(relu,       0, ACT, RELU,      u_relu,       d_relu)       \
    X(gelu,       0, ACT, GELU,      u_gelu,       d_gelu)       \
    X(gelu_tanh,  0, ACT, GELU_TANH, u_gelu_tanh,  d_gelu_tanh)  \
    X(tanh,       0, ACT, TANH,      u_tanh,       d_tanh)       \
    X(sigmoid,    0, ACT, SIGMOID,   u_sigmoid,    d_sigmoid)    \
    X(silu,       0, ACT, SILU,      u_silu,       d_silu)       \
    X(neg,        0, OP,  _,         u_neg,        d_neg)        \
    X(abs,        0, OP,  _,         u_abs,        d_abs)        \
    X(exp,        0, OP,  _,         u_exp,        d_exp)        \
    X(log,        0, OP,  _,         u_log,        d_log)        \
    X(sqrt,       0, OP,  _,         u_sqrt,       d_sqrt)       \
    X(rsqrt,      0, OP,  _,         u_rsqrt,      d_rsqrt)      \
    X(square,     0, OP,  _,         u_square,     d_square)     \
    X(reciprocal, 0, OP,  _,         u_reciprocal, d_reciprocal) \
    X(softplus,   0, OP,  _,         u_softplus,   d_softplus)   \
    X(hardswish,  0, OP,  _,         u_hardswish,  d_hardswish)  \
    X(leaky_relu, 1, OP,  _,         u_leaky_relu, d_leaky_relu) \
    X(elu,        1, OP,  _,         u_elu,        d_elu)        \
    X(add_scalar, 1, OP,  _,         u_add_scalar, d_add_scalar) \
    X(mul_scalar, 1, OP,  _,         u_mul_scalar, d_mul_scalar) \
    X(pow_scalar, 1, OP,  _,         u_pow_scalar, d_pow_scalar) \
    X(clamp,      2, OP,  _,         u_clamp,      d_clamp)      \
    X(sin,        0, OP,  _,         u_sin,        d_sin)        \
    X(cos,        0, OP,  _,         u_cos,        d_cos)        \
    X(erf,        0, OP,  _,         u_erf,        d_erf)        \
    X(log1p,      0, OP,  _,         u_log1p,      d_log1p)      \
    X(expm1,      0, OP,  _,         u_expm1,      d_expm1)      \
    X(floor,      0, OP,  _,         u_floor,      d_zero)       \
    X(ceil,       0, OP,  _,         u_ceil,       d_zero)       \
    X(round,      0, OP,  _,         u_round,      d_zero)       \
    X(trunc,      0, OP,  _,         u_trunc,      d_zero)       \
    X(sign,       0, OP,  _,         u_sign,       d_zero)

#define MT_UNARY_FN static inline float

/* Comparisons written so that NaN falls through to the NaN result. */
#if defined(__wasm__)
/* clang 14 compiles x < 0 ? 0 : x to wasm's f32(x4).max, which turns -0 into
 * +0 (PyTorch keeps -0). The same choice on the bits: negative, nonzero and
 * not NaN (0x80000001..0xff800000) becomes +0, anything else stays. */
MT_UNARY_FN u_relu(float x, float p, float q)
{
    (void)p, (void)q;
    uint32_t b;
    memcpy(&b, &x, sizeof b);
    b &= b - 0x80000001u < 0x7f800000u ? 0u : ~0u;
    memcpy(&x, &b, sizeof x);
    return x;
}
#else
MT_UNARY_FN u_relu(float x, float p, float q) { (void)p, (void)q; return x < 0.0f ? 0.0f : x; }
#endif

/* x·Φ(x) = x/2 · erfc(-x/√2): erfc, not 1 + erf, keeps the far negative
 * tail accurate (1 + erf(-5/√2) cancels to a few correct bits). */
MT_UNARY_FN u_gelu(float x, float p, float q)
{
    (void)p, (void)q;
    return 0.5f * x * erfcf(-x * 0.70710678118654752f);
}

/* torch gelu(approximate='tanh'): x/2 · (1 + tanh(√(2/π)·(x + 0.044715x³))) */
MT_UNARY_FN u_gelu_tanh(float x, float p, float q)
{
    (void)p, (void)q;
    const float k = 0.79788456080286536f; // √(2/π)
    return 0.5f * x * (1.0f + tanhf(k * (x + 0.044715f * x * x * x)));
}

MT_UNARY_FN u_tanh(float x, float p, float q) { (void)p, (void)q; return tanhf(x); }

/* 1/(1 + e^-x): e^-x overflows to inf for x < -88, giving exactly 0. */
MT_UNARY_FN u_sigmoid(float x, float p, float q) { (void)p, (void)q; return 1.0f / (1.0f + expf(-x)); }
MT_UNARY_FN u_silu(float x, float p, float q) { (void)p, (void)q; return x / (1.0f + expf(-x)); }

MT_UNARY_FN u_neg(float x, float p, float q) { (void)p, (void)q; return -x; }
MT_UNARY_FN u_abs(float x, float p, float q) { (void)p, (void)q; return fabsf(x); }
MT_UNARY_FN u_exp(float x, float p, float q) { (void)p, (void)q; return expf(x); }
MT_UNARY_FN u_log(float x, float p, float q) { (void)p, (void)q; return logf(x); }
MT_UNARY_FN u_sqrt(float x, float p, float q) { (void)p, (void)q; return sqrtf(x); }
MT_UNARY_FN u_rsqrt(float x, float p, float q) { (void)p, (void)q; return 1.0f / sqrtf(x); }
MT_UNARY_FN u_square(float x, float p, float q) { (void)p, (void)q; return x * x; }
MT_UNARY_FN u_reciprocal(float x, float p, float q) { (void)p, (void)q; return 1.0f / x; }

/* torch's default beta = 1, threshold = 20: linear above 20 (where
 * log1p(e^x) == x in float anyway, and e^x would overflow from 88 on). */
MT_UNARY_FN u_softplus(float x, float p, float q)
{
    (void)p, (void)q;
    return x > 20.0f ? x : log1pf(expf(x));
}

/* x · relu6(x + 3) / 6, in torch's order of operations. */
MT_UNARY_FN u_hardswish(float x, float p, float q)
{
    (void)p, (void)q;
    float r = x + 3.0f;
    r = r < 0.0f ? 0.0f : r > 6.0f ? 6.0f : r;
    return x * r / 6.0f;
}

MT_UNARY_FN u_leaky_relu(float x, float slope, float q) { (void)q; return x > 0.0f ? x : x * slope; }

/* alpha·(e^x - 1) for x <= 0 (expm1: accurate near 0), x above. + 0
 * turns expm1(-0) = -0 into torch's e^-0 - 1 = +0 (elu(-0) = 0). */
MT_UNARY_FN u_elu(float x, float alpha, float q)
{
    (void)q;
    return x > 0.0f ? x : alpha * (expm1f(x) + 0.0f);
}

MT_UNARY_FN u_add_scalar(float x, float s, float q) { (void)q; return x + s; }
MT_UNARY_FN u_mul_scalar(float x, float s, float q) { (void)q; return x * s; }

/* torch.pow(x, e) for a scalar e computes e = ±0.5 as sqrt / rsqrt, so
 * (-inf)^0.5 is NaN there (powf says inf) and (-0)^0.5 is -0. */
MT_UNARY_FN u_pow_scalar(float x, float e, float q)
{
    (void)q;
    return e == 0.5f ? sqrtf(x) : e == -0.5f ? 1.0f / sqrtf(x) : powf(x, e);
}

/* min(max(x, lo), hi) as torch.clamp: NaN x stays NaN, lo > hi gives hi,
 * a NaN bound gives NaN. */
MT_UNARY_FN u_clamp(float x, float lo, float hi)
{
    float v = x < lo ? lo : x;
    v = v > hi ? hi : v;
    return lo != lo ? lo : hi != hi ? hi : v;
}

MT_UNARY_FN u_sin(float x, float p, float q) { (void)p, (void)q; return sinf(x); }
MT_UNARY_FN u_cos(float x, float p, float q) { (void)p, (void)q; return cosf(x); }
MT_UNARY_FN u_erf(float x, float p, float q) { (void)p, (void)q; return erff(x); }
MT_UNARY_FN u_log1p(float x, float p, float q) { (void)p, (void)q; return log1pf(x); }
MT_UNARY_FN u_expm1(float x, float p, float q) { (void)p, (void)q; return expm1f(x); }
MT_UNARY_FN u_floor(float x, float p, float q) { (void)p, (void)q; return floorf(x); }
MT_UNARY_FN u_ceil(float x, float p, float q) { (void)p, (void)q; return ceilf(x); }
/* torch.round: halves to even (2.5 -> 2, 3.5 -> 4), as rintf in the default
 * rounding mode; roundf would take them away from zero. */
MT_UNARY_FN u_round(float x, float p, float q) { (void)p, (void)q; return rintf(x); }
MT_UNARY_FN u_trunc(float x, float p, float q) { (void)p, (void)q; return truncf(x); }
/* torch.sign: NaN and -0 give +0 */
MT_UNARY_FN u_sign(float x, float p, float q)
{
    (void)p, (void)q;
    return x > 0.0f ? 1.0f : x < 0.0f ? -1.0f : 0.0f;
}

/* ---- derivatives: dy/dx given x and y = f(x), as torch's backward ---------- */

#define MT_DERIV_FN static inline float

/* torch: threshold_backward on the result (0 at 0 and for NaN) */
MT_DERIV_FN d_relu(float x, float y, float p, float q) { (void)x, (void)p, (void)q; return y > 0.0f ? 1.0f : 0.0f; }

/* torch gelu_backward: Φ(x) + x·φ(x) */
MT_DERIV_FN d_gelu(float x, float y, float p, float q)
{
    (void)y, (void)p, (void)q;
    float cdf = 0.5f * erfcf(-x * 0.70710678118654752f);
    float pdf = expf(-0.5f * x * x) * 0.39894228040143268f; // 1/√(2π)
    return cdf + x * pdf;
}

/* torch gelu_backward(approximate='tanh'), term by term */
MT_DERIV_FN d_gelu_tanh(float x, float y, float p, float q)
{
    (void)y, (void)p, (void)q;
    const float k = 0.79788456080286536f, kappa = 0.044715f;
    float t = tanhf(k * (x + kappa * x * x * x));
    return 0.5f * (1.0f + t) + 0.5f * x * (1.0f - t * t) * k * (1.0f + 3.0f * kappa * x * x);
}

MT_DERIV_FN d_tanh(float x, float y, float p, float q) { (void)x, (void)p, (void)q; return 1.0f - y * y; }
MT_DERIV_FN d_sigmoid(float x, float y, float p, float q) { (void)x, (void)p, (void)q; return y * (1.0f - y); }

/* torch silu_backward: s·(1 + x·(1 - s)), s = sigmoid(x) */
MT_DERIV_FN d_silu(float x, float y, float p, float q)
{
    (void)y, (void)p, (void)q;
    float s = 1.0f / (1.0f + expf(-x));
    return s * (1.0f + x * (1.0f - s));
}

MT_DERIV_FN d_neg(float x, float y, float p, float q) { (void)x, (void)y, (void)p, (void)q; return -1.0f; }
/* torch: sgn(x), 0 at 0 */
MT_DERIV_FN d_abs(float x, float y, float p, float q) { (void)y, (void)p, (void)q; return x > 0.0f ? 1.0f : x < 0.0f ? -1.0f : 0.0f; }
MT_DERIV_FN d_exp(float x, float y, float p, float q) { (void)x, (void)p, (void)q; return y; }
MT_DERIV_FN d_log(float x, float y, float p, float q) { (void)y, (void)p, (void)q; return 1.0f / x; }
/* torch: grad / (2·result) */
MT_DERIV_FN d_sqrt(float x, float y, float p, float q) { (void)x, (void)p, (void)q; return 0.5f / y; }
/* torch: -0.5·result³ */
MT_DERIV_FN d_rsqrt(float x, float y, float p, float q) { (void)x, (void)p, (void)q; return -0.5f * y * y * y; }
MT_DERIV_FN d_square(float x, float y, float p, float q) { (void)y, (void)p, (void)q; return 2.0f * x; }
/* torch: -result² */
MT_DERIV_FN d_reciprocal(float x, float y, float p, float q) { (void)x, (void)p, (void)q; return -y * y; }

/* torch softplus_backward (beta 1, threshold 20): z/(z + 1), z = e^x */
MT_DERIV_FN d_softplus(float x, float y, float p, float q)
{
    (void)y, (void)p, (void)q;
    if (x > 20.0f)
        return 1.0f;
    float z = expf(x);
    return z / (z + 1.0f);
}

/* torch hardswish_backward: 0 below -3, x/3 + 1/2 up to 3 (inclusive), 1 above */
MT_DERIV_FN d_hardswish(float x, float y, float p, float q)
{
    (void)y, (void)p, (void)q;
    return x < -3.0f ? 0.0f : x <= 3.0f ? x / 3.0f + 0.5f : 1.0f;
}

MT_DERIV_FN d_leaky_relu(float x, float y, float slope, float q) { (void)y, (void)q; return x > 0.0f ? 1.0f : slope; }
/* torch elu_backward (is_result false): alpha·e^x for x <= 0 */
MT_DERIV_FN d_elu(float x, float y, float alpha, float q) { (void)y, (void)q; return x > 0.0f ? 1.0f : alpha * expf(x); }
MT_DERIV_FN d_add_scalar(float x, float y, float s, float q) { (void)x, (void)y, (void)s, (void)q; return 1.0f; }
MT_DERIV_FN d_mul_scalar(float x, float y, float s, float q) { (void)x, (void)y, (void)q; return s; }

/* torch pow_backward: 0 for e == 0 (even at x = 0), else e·x^(e-1) */
MT_DERIV_FN d_pow_scalar(float x, float y, float e, float q)
{
    (void)y, (void)q;
    return e == 0.0f ? 0.0f : e * powf(x, e - 1.0f);
}

/* torch clamp_backward: 1 where lo <= x <= hi (bounds included), else 0 */
MT_DERIV_FN d_clamp(float x, float y, float lo, float hi)
{
    (void)y;
    return x >= lo && x <= hi ? 1.0f : 0.0f;
}

MT_DERIV_FN d_sin(float x, float y, float p, float q) { (void)y, (void)p, (void)q; return cosf(x); }
MT_DERIV_FN d_cos(float x, float y, float p, float q) { (void)y, (void)p, (void)q; return -sinf(x); }
/* 2/√π · e^(-x²) */
MT_DERIV_FN d_erf(float x, float y, float p, float q)
{
    (void)y, (void)p, (void)q;
    return 1.12837916709551257f * expf(-x * x);
}
MT_DERIV_FN d_log1p(float x, float y, float p, float q) { (void)y, (void)p, (void)q; return 1.0f / (x + 1.0f); }
/* torch: grad·(result + 1) */
MT_DERIV_FN d_expm1(float x, float y, float p, float q) { (void)x, (void)p, (void)q; return y + 1.0f; }
/* floor, ceil, round, trunc, sign: torch's zero gradient, also at the jumps */
MT_DERIV_FN d_zero(float x, float y, float p, float q) { (void)x, (void)y, (void)p, (void)q; return 0.0f; }

/* A row of n elements: y[i·sy] = f(x[i·sx], p, q); y may be x (sy == sx). */
typedef void (*mt_unary_row_fn)(int64_t n, const float *x, int64_t sx, float *y,
                                int64_t sy, float p, float q);

/* The row function of act; NULL for MT_ACTIVATION_NONE or an unknown value. */
mt_unary_row_fn mt_activation_row(mt_activation act);

/* Applies act in place to the m×n block c(i,j) = c[i*rs + j*cs] (NONE: no-op).
 * act must be valid (the entry points check it with mt_activation_check). */
void mt_activation_rows(mt_activation act, float *c, int64_t m, int64_t n, int64_t rs,
                        int64_t cs);

/* MT_OK if act is a known activation, else MT_ERR_INVALID_ARGUMENT with
 * "<op>: unknown activation <act>". */
mt_status mt_activation_check(const char *op, mt_activation act);

#endif
