/* minitensor/norm.h — normalisation layers as functions: layer, RMS, batch
 * (inference) and group norm on F32 tensors.
 *
 * Each op has two forms: mt_X(…, &out) allocates a new contiguous result of
 * x's shape; mt_X_into(…, out) writes into a tensor you provide (x's shape,
 * F32, any strides but no stride-0 dim). `out` may be x itself (same data
 * and strides: in place) but must not otherwise overlap x or any
 * parameter. Inputs may be any views; nothing is copied. weight/bias are
 * optional (NULL = 1 / 0). Statistics are accumulated in double, variances
 * are biased (divide by N), as PyTorch.
 * eps must be finite and >= 0. On failure nothing is written.
 */
#ifndef MINITENSOR_NORM_H
#define MINITENSOR_NORM_H

#include "minitensor/tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

/* torch.nn.functional.layer_norm(x, x.shape[-k:], weight, bias, eps):
 * normalises over the last k = normalized_rank dims (1 <= k <= rank):
 * (x - mean) / sqrt(var + eps) * weight + bias; weight and bias have
 * exactly the shape of those k dims. */
mt_status mt_layer_norm(const mt_tensor *x, int normalized_rank,
                        const mt_tensor *weight, const mt_tensor *bias,
                        float eps, mt_tensor **out);
mt_status mt_layer_norm_into(const mt_tensor *x, int normalized_rank,
                             const mt_tensor *weight, const mt_tensor *bias,
                             float eps, mt_tensor *out);

/* torch.nn.RMSNorm(x.shape[-k:], eps)(x): x / sqrt(mean(x^2) + eps) * weight
 * over the last k dims; weight (optional) has the shape of those k dims. */
mt_status mt_rms_norm(const mt_tensor *x, int normalized_rank,
                      const mt_tensor *weight, float eps, mt_tensor **out);
mt_status mt_rms_norm_into(const mt_tensor *x, int normalized_rank,
                           const mt_tensor *weight, float eps,
                           mt_tensor *out);

/* torch.nn.functional.batch_norm(x, running_mean, running_var, weight, bias,
 * training=False, eps), the inference form: per channel c,
 * (x - running_mean[c]) / sqrt(running_var[c] + eps) * weight[c] + bias[c].
 * channel_dim is 1 for PyTorch's [N,C,...] and -1 for [N,...,C] (NHWC);
 * x has rank >= 2; running_mean, running_var (required), weight and bias
 * are [C]. */
mt_status mt_batch_norm(const mt_tensor *x, int channel_dim,
                        const mt_tensor *running_mean,
                        const mt_tensor *running_var, const mt_tensor *weight,
                        const mt_tensor *bias, float eps, mt_tensor **out);
mt_status mt_batch_norm_into(const mt_tensor *x, int channel_dim,
                             const mt_tensor *running_mean,
                             const mt_tensor *running_var,
                             const mt_tensor *weight, const mt_tensor *bias,
                             float eps, mt_tensor *out);

/* torch.nn.functional.group_norm(x, num_groups, weight, bias, eps) for
 * channel_dim 1 ([N,C,...]); channel_dim -1 is the same for [N,...,C].
 * x has rank >= 2, dim 0 is the batch; C channels split into num_groups
 * groups of C/num_groups consecutive channels (num_groups must divide C);
 * each (sample, group) is normalised over its channels and all other dims;
 * then weight[c], bias[c] ([C]) per channel. */
mt_status mt_group_norm(const mt_tensor *x, int num_groups, int channel_dim,
                        const mt_tensor *weight, const mt_tensor *bias,
                        float eps, mt_tensor **out);
mt_status mt_group_norm_into(const mt_tensor *x, int num_groups,
                             int channel_dim, const mt_tensor *weight,
                             const mt_tensor *bias, float eps,
                             mt_tensor *out);

#ifdef __cplusplus
}
#endif
#endif
