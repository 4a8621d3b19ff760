/* minitensor/reduce.h — reductions, cumsum, softmax, sort and topk over dims
 * of F32 tensors.
 *
 * Reductions come in two forms, as torch.sum(x, dim) and torch.sum(x, dims):
 *   mt_sum(x, dim, keepdim, &out)               one dim;
 *   mt_sum_dims(x, dims, n_dims, keepdim, &out) a list of dims (any order,
 *                                               no repeats); n_dims 0 = all
 *                                               dims (dims may be NULL then).
 * [.., D, ..] -> [.., ..] (reduced dims removed), or [.., 1, ..] with
 * keepdim. Results are F32 (argmin/argmax: I64). Each op has an `_into`
 * form writing into a tensor you provide (right shape and dtype, any
 * strides but no stride-0 dim); for reductions it must not overlap the
 * input. A rank-0 input accepts dim 0 or -1 (as torch) and reduces its one
 * element.
 *
 * Semantics follow PyTorch:
 *   - sums are accumulated in double; sum of nothing = 0, mean of nothing =
 *     NaN, logsumexp of nothing = -inf; min/max/argmin/argmax of nothing
 *     fail with MT_ERR_SHAPE (an empty result is fine: [0,3] over dim 1);
 *   - NaN propagates through every reduction; min/max return NaN if a lane
 *     holds one; argmin/argmax return the first NaN's index (NaN counts as
 *     both the maximum and the minimum), else the first extreme's index;
 *   - var/std divide by max(0, N - correction) (correction 1 = unbiased,
 *     0 = population), so N <= correction gives inf (or NaN for 0/0);
 *   - logsumexp is stable (max subtracted); all -inf -> -inf, any +inf -> inf.
 * On failure nothing is written and *out is untouched.
 */
#ifndef MINITENSOR_REDUCE_H
#define MINITENSOR_REDUCE_H

#include "minitensor/tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- sum, mean: torch.sum / torch.mean ---------------------------------- */

/* Sum over dim: [.., D, ..] -> [.., ..] (or [.., 1, ..] with keepdim). */
mt_status mt_sum(const mt_tensor *t, int dim, bool keepdim, mt_tensor **out);
mt_status mt_sum_into(const mt_tensor *t, int dim, bool keepdim,
                      mt_tensor *out);
/* Sum over the n_dims dims listed (0 = all dims). */
mt_status mt_sum_dims(const mt_tensor *t, const int *dims, int n_dims,
                      bool keepdim, mt_tensor **out);
mt_status mt_sum_dims_into(const mt_tensor *t, const int *dims, int n_dims,
                           bool keepdim, mt_tensor *out);

/* Mean over dim (NaN for an empty dim). */
mt_status mt_mean(const mt_tensor *t, int dim, bool keepdim, mt_tensor **out);
mt_status mt_mean_into(const mt_tensor *t, int dim, bool keepdim,
                       mt_tensor *out);
mt_status mt_mean_dims(const mt_tensor *t, const int *dims, int n_dims,
                       bool keepdim, mt_tensor **out);
mt_status mt_mean_dims_into(const mt_tensor *t, const int *dims, int n_dims,
                            bool keepdim, mt_tensor *out);

/* ---- var, std: torch.var / torch.std with `correction` -------------------
 * sum((x - mean)^2) / max(0, N - correction); std = sqrt(var). correction
 * must be >= 0. Two passes in double (mean first), no cancellation. */
mt_status mt_var(const mt_tensor *t, int dim, int correction, bool keepdim,
                 mt_tensor **out);
mt_status mt_var_into(const mt_tensor *t, int dim, int correction,
                      bool keepdim, mt_tensor *out);
mt_status mt_var_dims(const mt_tensor *t, const int *dims, int n_dims,
                      int correction, bool keepdim, mt_tensor **out);
mt_status mt_var_dims_into(const mt_tensor *t, const int *dims, int n_dims,
                           int correction, bool keepdim, mt_tensor *out);
mt_status mt_std(const mt_tensor *t, int dim, int correction, bool keepdim,
                 mt_tensor **out);
mt_status mt_std_into(const mt_tensor *t, int dim, int correction,
                      bool keepdim, mt_tensor *out);
mt_status mt_std_dims(const mt_tensor *t, const int *dims, int n_dims,
                      int correction, bool keepdim, mt_tensor **out);
mt_status mt_std_dims_into(const mt_tensor *t, const int *dims, int n_dims,
                           int correction, bool keepdim, mt_tensor *out);

/* ---- min, max: torch.amin / torch.amax (values only) ----------------------
 * MT_ERR_SHAPE if a reduced lane is empty. */
mt_status mt_min(const mt_tensor *t, int dim, bool keepdim, mt_tensor **out);
mt_status mt_min_into(const mt_tensor *t, int dim, bool keepdim,
                      mt_tensor *out);
mt_status mt_min_dims(const mt_tensor *t, const int *dims, int n_dims,
                      bool keepdim, mt_tensor **out);
mt_status mt_min_dims_into(const mt_tensor *t, const int *dims, int n_dims,
                           bool keepdim, mt_tensor *out);
mt_status mt_max(const mt_tensor *t, int dim, bool keepdim, mt_tensor **out);
mt_status mt_max_into(const mt_tensor *t, int dim, bool keepdim,
                      mt_tensor *out);
mt_status mt_max_dims(const mt_tensor *t, const int *dims, int n_dims,
                      bool keepdim, mt_tensor **out);
mt_status mt_max_dims_into(const mt_tensor *t, const int *dims, int n_dims,
                           bool keepdim, mt_tensor *out);

/* ---- sort, topk: torch.sort(stable=True) / torch.topk ---------------------
 * Along dim: values (F32) and indices (I64 from the allocating forms; I32
 * or I64 tensors for _into) of x's shape with dim k long (sort: the whole
 * dim). Either output may be NULL when not wanted (not both). Ascending,
 * or descending / largest; NaN counts as larger than every number (first
 * when descending, last when ascending, as torch); equal values (0 and -0
 * too) keep their order, so ties go to the lower index — topk's choice
 * among ties, which torch leaves unspecified, and its results are always
 * sorted. k from 0 to the dim's length (MT_ERR_INVALID_ARGUMENT else); a
 * scalar x (dim 0 or -1) gives itself for k 0 as for k 1, as torch.
 * The _into outputs must not overlap the input or each other. Each lane is
 * read into per-thread scratch kept for reuse (5 floats an element, and one). */
mt_status mt_sort(const mt_tensor *x, int dim, bool descending, mt_tensor **values,
                  mt_tensor **indices);
mt_status mt_sort_into(const mt_tensor *x, int dim, bool descending, mt_tensor *values,
                       mt_tensor *indices);
mt_status mt_topk(const mt_tensor *x, int64_t k, int dim, bool largest, mt_tensor **values,
                  mt_tensor **indices);
mt_status mt_topk_into(const mt_tensor *x, int64_t k, int dim, bool largest,
                       mt_tensor *values, mt_tensor *indices);

/* ---- argmin, argmax: torch.argmin / torch.argmax, I64 results -------------
 * One dim: the index along dim. _all: torch.argmax(x) — the index into the
 * row-major flattened tensor; [] (or all-1 dims with keepdim). */
mt_status mt_argmin(const mt_tensor *t, int dim, bool keepdim,
                    mt_tensor **out);
mt_status mt_argmin_into(const mt_tensor *t, int dim, bool keepdim,
                         mt_tensor *out);
mt_status mt_argmin_all(const mt_tensor *t, bool keepdim, mt_tensor **out);
mt_status mt_argmin_all_into(const mt_tensor *t, bool keepdim,
                             mt_tensor *out);
mt_status mt_argmax(const mt_tensor *t, int dim, bool keepdim,
                    mt_tensor **out);
mt_status mt_argmax_into(const mt_tensor *t, int dim, bool keepdim,
                         mt_tensor *out);
mt_status mt_argmax_all(const mt_tensor *t, bool keepdim, mt_tensor **out);
mt_status mt_argmax_all_into(const mt_tensor *t, bool keepdim,
                             mt_tensor *out);

/* ---- logsumexp: torch.logsumexp ------------------------------------------ */
mt_status mt_logsumexp(const mt_tensor *t, int dim, bool keepdim,
                       mt_tensor **out);
mt_status mt_logsumexp_into(const mt_tensor *t, int dim, bool keepdim,
                            mt_tensor *out);
mt_status mt_logsumexp_dims(const mt_tensor *t, const int *dims, int n_dims,
                            bool keepdim, mt_tensor **out);
mt_status mt_logsumexp_dims_into(const mt_tensor *t, const int *dims,
                                 int n_dims, bool keepdim, mt_tensor *out);

/* ---- along one dim, same shape --------------------------------------------
 * For these `out` may be the input tensor itself (same data and strides: in
 * place) but must not otherwise overlap it. */

/* torch.cumsum: out[.., i, ..] = sum of t[.., 0..i, ..] (in double). */
mt_status mt_cumsum(const mt_tensor *t, int dim, mt_tensor **out);
mt_status mt_cumsum_into(const mt_tensor *t, int dim, mt_tensor *out);

/* softmax / log_softmax along dim; numerically stable (max subtracted). */
mt_status mt_softmax(const mt_tensor *t, int dim, mt_tensor **out);
mt_status mt_softmax_into(const mt_tensor *t, int dim, mt_tensor *out);
mt_status mt_log_softmax(const mt_tensor *t, int dim, mt_tensor **out);
mt_status mt_log_softmax_into(const mt_tensor *t, int dim, mt_tensor *out);

#ifdef __cplusplus
}
#endif
#endif
