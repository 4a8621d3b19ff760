/* minitensor/ops.h — arithmetic on F32 tensors: elementwise ops, activations,
 * matmul, reductions.
 *
 * Every op has two forms:
 *   mt_X(…, &out)       allocates a new contiguous result;
 *   mt_X_into(…, out)   writes into a tensor you provide (right shape and
 *                       dtype, any strides). `out` may be the very same view
 *                       as an input (same data, shape and strides: in place)
 *                       but must not otherwise overlap an input
 *                       (MT_ERR_INVALID_ARGUMENT), nor have a stride 0 dim.
 * Inputs may be any views (transposed, narrowed, broadcast). Other dtypes
 * fail with MT_ERR_DTYPE: convert them with mt_tensor_to_f32 first.
 * Dims may be negative (-1 is the last). On failure, out is untouched.
 * Semantics follow PyTorch (torch.X), including NaN and ±inf.
 */
#ifndef MINITENSOR_OPS_H
#define MINITENSOR_OPS_H

#include "minitensor/tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Activation applied by fused kernels (mt_matmul_fused, conv2d) and layers;
 * each is the unary op of the same name. LeakyReLU is not one: its slope
 * would not fit an enum (use mt_leaky_relu after the product). */
typedef enum mt_activation {
    MT_ACTIVATION_NONE = 0,
    MT_ACTIVATION_RELU = 1,
    MT_ACTIVATION_GELU = 2,       /* exact (erf) form */
    MT_ACTIVATION_GELU_TANH = 3,  /* torch gelu(approximate='tanh') */
    MT_ACTIVATION_TANH = 4,
    MT_ACTIVATION_SIGMOID = 5,
    MT_ACTIVATION_SILU = 6,
    MT_ACTIVATION_COUNT           /* the number of values, not an activation */
} mt_activation;

/* "none", "relu", "gelu", "gelu_tanh", "tanh", "sigmoid", "silu"; NULL for
 * a value that is not an activation (so it also validates). Static string. */
const char *mt_activation_name(mt_activation act);

/* out = act(x), same shape (NONE copies x). MT_ERR_INVALID_ARGUMENT for an
 * unknown act. */
mt_status mt_activation_apply(const mt_tensor *x, mt_activation act, mt_tensor **out);
mt_status mt_activation_apply_into(const mt_tensor *x, mt_activation act,
                                   mt_tensor *out);

/* ---- matmul --------------------------------------------------------------
 * mt_matmul(a, b) is the ordinary product C = A·B, as numpy.matmul:
 *   a [..., M, K] · b [..., K, N] -> [..., M, N]
 * Batch dims broadcast (a [B,M,K] · b [K,N] -> [B,M,N]). A 1-D a is a row
 * vector [K] -> result drops M; a 1-D b is a column [K] -> result drops N.
 * Transposed views are used in place (mapped to BLAS transpose flags), so
 * mt_matmul(x, transpose(w)) with PyTorch (out,in) weights copies nothing. */
mt_status mt_matmul(const mt_tensor *a, const mt_tensor *b, mt_tensor **out);
mt_status mt_matmul_into(const mt_tensor *a, const mt_tensor *b,
                         mt_tensor *out);

/* torch.einsum for F32 operands (any views): equation as PyTorch writes
 * it ("bij,bjk->bik", implicit "ij,jk", "ii->i", "...ij,...jk", spaces
 * allowed); letters of the same name have equal sizes or 1 (broadcast).
 * Repeated letters within an operand take the diagonal, letters missing
 * from the output are summed; a contraction of two runs as one batched
 * mt_matmul on views where the strides allow. Three or more operands (up
 * to 32) are contracted in pairs left to right, as torch without
 * opt_einsum, each intermediate keeping the letters still needed; where
 * that order needs an intermediate of more than 8 dims (torch allows 64),
 * in pairs chosen greedily (each step the pair with the fewest result
 * dims): the same sums in another order, equal up to rounding.
 * out: the result, new; _into: any out strides, not overlapping the
 * operands.
 * MT_ERR_INVALID_ARGUMENT / MT_ERR_SHAPE name the equation, the letter and
 * the shapes (for a chain, the operand and the pairwise step that failed);
 * MT_ERR_OVERFLOW if broadcast operands' letter sizes multiply past
 * int64. */
mt_status mt_einsum(const char *equation, int n_operands, const mt_tensor *const *operands,
                    mt_tensor **out);
mt_status mt_einsum_into(const char *equation, int n_operands,
                         const mt_tensor *const *operands, mt_tensor *out);
/* The result's shape alone (operands' data is not read): *rank and
 * shape[0..*rank-1] (room for MT_MAX_RANK); the same errors. */
mt_status mt_einsum_shape(const char *equation, int n_operands,
                          const mt_tensor *const *operands, int *rank, int64_t *shape);

/* The two halves of mt_matmul_fused(_into) below (call those): _relu takes
 * act NONE or RELU only (else MT_ERR_INVALID_ARGUMENT), _any every act. A
 * program whose every act is NONE or RELU (a constant) links none of the
 * other activations' math. */
mt_status mt_matmul_fused_relu(const mt_tensor *a, const mt_tensor *b,
                               const mt_tensor *bias, mt_activation act,
                               mt_tensor **out);
mt_status mt_matmul_fused_relu_into(const mt_tensor *a, const mt_tensor *b,
                                    const mt_tensor *bias, mt_activation act,
                                    mt_tensor *out);
mt_status mt_matmul_fused_any(const mt_tensor *a, const mt_tensor *b,
                              const mt_tensor *bias, mt_activation act,
                              mt_tensor **out);
mt_status mt_matmul_fused_any_into(const mt_tensor *a, const mt_tensor *b,
                                   const mt_tensor *bias, mt_activation act,
                                   mt_tensor *out);

/* act(A·B + bias) in one pass over C: bias is [N] (or NULL), added to every
 * row; act (any mt_activation, the same numbers as mt_activation_apply) is
 * applied as C is written. Linear and conv2d layers use it.
 * MT_ERR_INVALID_ARGUMENT for an unknown act. (C99 inline: also an ordinary
 * exported function.) */
inline mt_status mt_matmul_fused(const mt_tensor *a, const mt_tensor *b,
                                 const mt_tensor *bias, mt_activation act,
                                 mt_tensor **out)
{
    return act == MT_ACTIVATION_NONE || act == MT_ACTIVATION_RELU
               ? mt_matmul_fused_relu(a, b, bias, act, out)
               : mt_matmul_fused_any(a, b, bias, act, out);
}
inline mt_status mt_matmul_fused_into(const mt_tensor *a, const mt_tensor *b,
                                      const mt_tensor *bias, mt_activation act,
                                      mt_tensor *out)
{
    return act == MT_ACTIVATION_NONE || act == MT_ACTIVATION_RELU
               ? mt_matmul_fused_relu_into(a, b, bias, act, out)
               : mt_matmul_fused_any_into(a, b, bias, act, out);
}

/* Two fused matmuls in a row, an MLP's two Linear layers:
 *   y = act2(act1(x·w1 + b1)·w2 + b2)
 *   x [M,K], w1 [K,H], b1 [H] or NULL, w2 [H,N], b2 [N] or NULL -> y [M,N]
 * The same numbers as two mt_matmul_fused calls, but the hidden [M,H] is
 * never stored whole: rows go through both products in blocks that stay in
 * the cache. Any strides; out must not overlap an input. MT_ERR_SHAPE if
 * the shapes do not chain (the message names them), MT_ERR_INVALID_ARGUMENT
 * for an unknown act; out is untouched on failure. */
mt_status mt_matmul_fused2(const mt_tensor *x, const mt_tensor *w1,
                           const mt_tensor *b1, mt_activation act1,
                           const mt_tensor *w2, const mt_tensor *b2,
                           mt_activation act2, mt_tensor **out);
mt_status mt_matmul_fused2_into(const mt_tensor *x, const mt_tensor *w1,
                                const mt_tensor *b1, mt_activation act1,
                                const mt_tensor *w2, const mt_tensor *b2,
                                mt_activation act2, mt_tensor *out);

/* The same two products for an x that is mostly zeros (the pixels of a
 * digit, one-hot or bag-of-words features), and mt_matmul_fused_into's:
 * blocks of rows of x sparse enough to gain read only the rows of w1 (w)
 * under their nonzero entries; denser blocks run the dense kernel. An
 * MNIST digit (~150 of 784 pixels inked) reads a fifth of the first layer.
 * The same numbers as the dense forms (up to rounding) when w1 (w) is
 * finite; against an infinite or NaN weight a zero of x may give 0 where
 * the dense product gives NaN. So check the weight once
 * (mt_tensor_check_finite) and call these while it stays finite: a frozen
 * model does (mt_graph_freeze). Sparse blocks need unit column strides
 * (x, w1 and the output); other layouts run dense. Errors as above. */
mt_status mt_matmul_fused2_sparse(const mt_tensor *x, const mt_tensor *w1,
                                  const mt_tensor *b1, mt_activation act1,
                                  const mt_tensor *w2, const mt_tensor *b2,
                                  mt_activation act2, mt_tensor **out);
mt_status mt_matmul_fused2_sparse_into(const mt_tensor *x, const mt_tensor *w1,
                                       const mt_tensor *b1, mt_activation act1,
                                       const mt_tensor *w2, const mt_tensor *b2,
                                       mt_activation act2, mt_tensor *out);
mt_status mt_matmul_fused_sparse(const mt_tensor *x, const mt_tensor *w,
                                 const mt_tensor *b, mt_activation act, mt_tensor **out);
mt_status mt_matmul_fused_sparse_into(const mt_tensor *x, const mt_tensor *w,
                                      const mt_tensor *b, mt_activation act,
                                      mt_tensor *out);

/* ---- unary: out = f(x), same shape -----------------------------------------
 * As torch.X: neg, abs, exp, log (log 0 = -inf, log -1 = NaN), sqrt,
 * rsqrt (1/sqrt), square, reciprocal (1/x), tanh, sigmoid, gelu (exact,
 * x·Φ(x)), gelu_tanh (torch gelu(approximate='tanh')), silu (x·sigmoid(x)),
 * softplus (log(1 + e^x), beta 1, linear above threshold 20), hardswish,
 * relu (max(x, 0); NaN stays NaN). */
mt_status mt_neg(const mt_tensor *x, mt_tensor **out);
mt_status mt_neg_into(const mt_tensor *x, mt_tensor *out);
mt_status mt_abs(const mt_tensor *x, mt_tensor **out);
mt_status mt_abs_into(const mt_tensor *x, mt_tensor *out);
mt_status mt_exp(const mt_tensor *x, mt_tensor **out);
mt_status mt_exp_into(const mt_tensor *x, mt_tensor *out);
mt_status mt_log(const mt_tensor *x, mt_tensor **out);
mt_status mt_log_into(const mt_tensor *x, mt_tensor *out);
mt_status mt_sqrt(const mt_tensor *x, mt_tensor **out);
mt_status mt_sqrt_into(const mt_tensor *x, mt_tensor *out);
mt_status mt_rsqrt(const mt_tensor *x, mt_tensor **out);
mt_status mt_rsqrt_into(const mt_tensor *x, mt_tensor *out);
mt_status mt_square(const mt_tensor *x, mt_tensor **out);
mt_status mt_square_into(const mt_tensor *x, mt_tensor *out);
mt_status mt_reciprocal(const mt_tensor *x, mt_tensor **out);
mt_status mt_reciprocal_into(const mt_tensor *x, mt_tensor *out);
mt_status mt_tanh(const mt_tensor *x, mt_tensor **out);
mt_status mt_tanh_into(const mt_tensor *x, mt_tensor *out);
mt_status mt_sigmoid(const mt_tensor *x, mt_tensor **out);
mt_status mt_sigmoid_into(const mt_tensor *x, mt_tensor *out);
mt_status mt_gelu(const mt_tensor *x, mt_tensor **out);
mt_status mt_gelu_into(const mt_tensor *x, mt_tensor *out);
mt_status mt_gelu_tanh(const mt_tensor *x, mt_tensor **out);
mt_status mt_gelu_tanh_into(const mt_tensor *x, mt_tensor *out);
mt_status mt_silu(const mt_tensor *x, mt_tensor **out);
mt_status mt_silu_into(const mt_tensor *x, mt_tensor *out);
mt_status mt_softplus(const mt_tensor *x, mt_tensor **out);
mt_status mt_softplus_into(const mt_tensor *x, mt_tensor *out);
mt_status mt_hardswish(const mt_tensor *x, mt_tensor **out);
mt_status mt_hardswish_into(const mt_tensor *x, mt_tensor *out);
mt_status mt_relu(const mt_tensor *x, mt_tensor **out);
mt_status mt_relu_into(const mt_tensor *x, mt_tensor *out);

/* As torch.X: sin, cos, erf, log1p (log(1 + x), accurate near 0), expm1
 * (e^x - 1, accurate near 0), floor, ceil, round (halves to even, as
 * torch.round: 2.5 -> 2), trunc, sign (-1, 0 or 1; NaN and -0 give 0, as
 * torch.sign). */
mt_status mt_sin(const mt_tensor *x, mt_tensor **out);
mt_status mt_sin_into(const mt_tensor *x, mt_tensor *out);
mt_status mt_cos(const mt_tensor *x, mt_tensor **out);
mt_status mt_cos_into(const mt_tensor *x, mt_tensor *out);
mt_status mt_erf(const mt_tensor *x, mt_tensor **out);
mt_status mt_erf_into(const mt_tensor *x, mt_tensor *out);
mt_status mt_log1p(const mt_tensor *x, mt_tensor **out);
mt_status mt_log1p_into(const mt_tensor *x, mt_tensor *out);
mt_status mt_expm1(const mt_tensor *x, mt_tensor **out);
mt_status mt_expm1_into(const mt_tensor *x, mt_tensor *out);
mt_status mt_floor(const mt_tensor *x, mt_tensor **out);
mt_status mt_floor_into(const mt_tensor *x, mt_tensor *out);
mt_status mt_ceil(const mt_tensor *x, mt_tensor **out);
mt_status mt_ceil_into(const mt_tensor *x, mt_tensor *out);
mt_status mt_round(const mt_tensor *x, mt_tensor **out);
mt_status mt_round_into(const mt_tensor *x, mt_tensor *out);
mt_status mt_trunc(const mt_tensor *x, mt_tensor **out);
mt_status mt_trunc_into(const mt_tensor *x, mt_tensor *out);
mt_status mt_sign(const mt_tensor *x, mt_tensor **out);
mt_status mt_sign_into(const mt_tensor *x, mt_tensor *out);

/* ---- unary with parameters, same shape --------------------------------------- */
/* x > 0 ? x : slope·x (torch leaky_relu(x, negative_slope)). */
mt_status mt_leaky_relu(const mt_tensor *x, float slope, mt_tensor **out);
mt_status mt_leaky_relu_into(const mt_tensor *x, float slope, mt_tensor *out);
/* x > 0 ? x : alpha·(e^x - 1) (torch elu(x, alpha)). */
mt_status mt_elu(const mt_tensor *x, float alpha, mt_tensor **out);
mt_status mt_elu_into(const mt_tensor *x, float alpha, mt_tensor *out);
/* min(max(x, lo), hi) (torch clamp): ±INFINITY for no bound; NaN x stays
 * NaN; lo > hi gives hi everywhere; a NaN bound gives NaN. */
mt_status mt_clamp(const mt_tensor *x, float lo, float hi, mt_tensor **out);
mt_status mt_clamp_into(const mt_tensor *x, float lo, float hi, mt_tensor *out);
/* x + s, x·s, x^e (powf: torch.pow(x, e) for float e). */
mt_status mt_add_scalar(const mt_tensor *x, float s, mt_tensor **out);
mt_status mt_add_scalar_into(const mt_tensor *x, float s, mt_tensor *out);
mt_status mt_mul_scalar(const mt_tensor *x, float s, mt_tensor **out);
mt_status mt_mul_scalar_into(const mt_tensor *x, float s, mt_tensor *out);
mt_status mt_pow_scalar(const mt_tensor *x, float e, mt_tensor **out);
mt_status mt_pow_scalar_into(const mt_tensor *x, float e, mt_tensor *out);

/* ---- binary, with NumPy broadcasting -----------------------------------------
 * Shapes are aligned from the right; a dim of 1 (or a missing dim) stretches:
 * [N,128] + [128] -> [N,128] (the bias add); [3,1] * [1,4] -> [3,4].
 * Non-broadcastable shapes fail with MT_ERR_SHAPE. maximum / minimum
 * propagate NaN (torch.maximum, not fmax); pow is powf (torch.pow). */
mt_status mt_add(const mt_tensor *a, const mt_tensor *b, mt_tensor **out);
mt_status mt_add_into(const mt_tensor *a, const mt_tensor *b, mt_tensor *out);
mt_status mt_sub(const mt_tensor *a, const mt_tensor *b, mt_tensor **out);
mt_status mt_sub_into(const mt_tensor *a, const mt_tensor *b, mt_tensor *out);
mt_status mt_mul(const mt_tensor *a, const mt_tensor *b, mt_tensor **out);
mt_status mt_mul_into(const mt_tensor *a, const mt_tensor *b, mt_tensor *out);
mt_status mt_div(const mt_tensor *a, const mt_tensor *b, mt_tensor **out);
mt_status mt_div_into(const mt_tensor *a, const mt_tensor *b, mt_tensor *out);
mt_status mt_maximum(const mt_tensor *a, const mt_tensor *b, mt_tensor **out);
mt_status mt_maximum_into(const mt_tensor *a, const mt_tensor *b, mt_tensor *out);
mt_status mt_minimum(const mt_tensor *a, const mt_tensor *b, mt_tensor **out);
mt_status mt_minimum_into(const mt_tensor *a, const mt_tensor *b, mt_tensor *out);
mt_status mt_pow(const mt_tensor *a, const mt_tensor *b, mt_tensor **out);
mt_status mt_pow_into(const mt_tensor *a, const mt_tensor *b, mt_tensor *out);

/* ---- comparisons: F32 a, b broadcast -> BOOL mask (1 byte, 0/1) --------------
 * a == b, a != b, a < b, a <= b, a > b, a >= b as IEEE: any comparison
 * with NaN is false except ne. out (for _into) must be MT_DTYPE_BOOL. */
mt_status mt_eq(const mt_tensor *a, const mt_tensor *b, mt_tensor **out);
mt_status mt_eq_into(const mt_tensor *a, const mt_tensor *b, mt_tensor *out);
mt_status mt_ne(const mt_tensor *a, const mt_tensor *b, mt_tensor **out);
mt_status mt_ne_into(const mt_tensor *a, const mt_tensor *b, mt_tensor *out);
mt_status mt_lt(const mt_tensor *a, const mt_tensor *b, mt_tensor **out);
mt_status mt_lt_into(const mt_tensor *a, const mt_tensor *b, mt_tensor *out);
mt_status mt_le(const mt_tensor *a, const mt_tensor *b, mt_tensor **out);
mt_status mt_le_into(const mt_tensor *a, const mt_tensor *b, mt_tensor *out);
mt_status mt_gt(const mt_tensor *a, const mt_tensor *b, mt_tensor **out);
mt_status mt_gt_into(const mt_tensor *a, const mt_tensor *b, mt_tensor *out);
mt_status mt_ge(const mt_tensor *a, const mt_tensor *b, mt_tensor **out);
mt_status mt_ge_into(const mt_tensor *a, const mt_tensor *b, mt_tensor *out);

/* cond ? a : b elementwise (torch.where): cond BOOL, a and b F32, all three
 * broadcast together; the result is F32. */
mt_status mt_where(const mt_tensor *cond, const mt_tensor *a, const mt_tensor *b,
                   mt_tensor **out);
mt_status mt_where_into(const mt_tensor *cond, const mt_tensor *a, const mt_tensor *b,
                        mt_tensor *out);

#ifdef __cplusplus
}
#endif

/* ---- along dims ------------------------------------------------------------
 * Reductions (sum, mean, var, std, min, max, argmin, argmax, logsumexp),
 * cumsum, softmax and log_softmax are declared in minitensor/reduce.h,
 * included here so code that includes ops.h keeps compiling. */
#include "minitensor/reduce.h"

#endif
