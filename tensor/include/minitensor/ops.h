/* minitensor/ops.h — arithmetic on F32 tensors.
 *
 * Every op has two forms:
 *   mt_X(…, &out)       allocates a new contiguous F32 result;
 *   mt_X_into(…, out)   writes into a tensor you provide (right shape, F32,
 *                       any strides). `out` may be the same tensor as an
 *                       input of the same shape (in place) but must not
 *                       partially overlap an input.
 * Inputs may be any views (transposed, narrowed, broadcast). Other dtypes
 * fail with MT_ERR_DTYPE: convert them with mt_tensor_to_f32 first.
 * Dims may be negative (-1 is the last). On failure, out is untouched.
 */
#ifndef MINITENSOR_OPS_H
#define MINITENSOR_OPS_H

#include "minitensor/tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Activation applied by fused kernels and layers. */
typedef enum mt_activation {
    MT_ACTIVATION_NONE = 0,
    MT_ACTIVATION_RELU
} mt_activation;

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

/* act(A·B + bias) in one pass over C: bias is [N] (or NULL), added to every
 * row; act is applied as each tile of C is written. Linear layers use it. */
mt_status mt_matmul_fused(const mt_tensor *a, const mt_tensor *b,
                          const mt_tensor *bias, mt_activation act,
                          mt_tensor **out);
mt_status mt_matmul_fused_into(const mt_tensor *a, const mt_tensor *b,
                               const mt_tensor *bias, mt_activation act,
                               mt_tensor *out);

/* ---- elementwise, with NumPy broadcasting --------------------------------
 * Shapes are aligned from the right; a dim of 1 (or a missing dim) stretches:
 * [N,128] + [128] -> [N,128] (the bias add); [3,1] * [1,4] -> [3,4]. */
mt_status mt_add(const mt_tensor *a, const mt_tensor *b, mt_tensor **out);
mt_status mt_add_into(const mt_tensor *a, const mt_tensor *b, mt_tensor *out);
mt_status mt_sub(const mt_tensor *a, const mt_tensor *b, mt_tensor **out);
mt_status mt_sub_into(const mt_tensor *a, const mt_tensor *b, mt_tensor *out);
mt_status mt_mul(const mt_tensor *a, const mt_tensor *b, mt_tensor **out);
mt_status mt_mul_into(const mt_tensor *a, const mt_tensor *b, mt_tensor *out);

/* s * t, same shape. */
mt_status mt_scale(const mt_tensor *t, float s, mt_tensor **out);
mt_status mt_scale_into(const mt_tensor *t, float s, mt_tensor *out);

/* max(t, 0), same shape. NaN stays NaN. */
mt_status mt_relu(const mt_tensor *t, mt_tensor **out);
mt_status mt_relu_into(const mt_tensor *t, mt_tensor *out);

#ifdef __cplusplus
}
#endif

/* ---- along dims ------------------------------------------------------------
 * Reductions (sum, mean, var, std, min, max, argmin, argmax, logsumexp),
 * cumsum, softmax and log_softmax are declared in minitensor/reduce.h,
 * included here so code that includes ops.h keeps compiling. */
#include "minitensor/reduce.h"

#endif
