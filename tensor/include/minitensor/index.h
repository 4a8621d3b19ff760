/* minitensor/index.h — indexing and shape ops that copy data: gather rows
 * (index_select, embedding, take_along_dim), join (concat, stack), pad,
 * flip, roll, tril/triu. Names, argument order and results follow PyTorch.
 *
 * Every op has two forms, as in ops.h:
 *   mt_X(…, &out)       allocates a new contiguous result (free it with
 *                       mt_tensor_free);
 *   mt_X_into(…, out)   writes into a tensor you provide: the result's dtype,
 *                       exactly the result's shape, any strides but 0 (an
 *                       expanded out is refused). `out` must not overlap
 *                       any input (only tril/triu may run in place, with
 *                       out == the input).
 * Data may have any dtype (elements are copied, never converted), except
 * mt_pad, which is F32. Indices are I32 or I64 tensors of any strides.
 * Negative indices are an error, as in torch.index_select/embedding/gather
 * (unlike Python's a[-1]); every index is checked before anything is
 * written, and an out-of-range one fails with MT_ERR_INVALID_ARGUMENT naming
 * its value, its position in the index tensor and the size it must be below.
 * Inputs may be any views (transposed, sliced, expanded): read through their
 * strides, never copied first. Dims may be negative. On failure nothing is
 * allocated and out is untouched.
 */
#ifndef MINITENSOR_INDEX_H
#define MINITENSOR_INDEX_H

#include "minitensor/tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- gathering ----------------------------------------------------------- */

/* torch.index_select(x, dim, index): index is 1-D [K] (a scalar counts as
 * [1]); out.shape = x.shape with shape[dim] = K;
 * out[.., k, ..] = x[.., index[k], ..]. */
mt_status mt_index_select(const mt_tensor *x, int dim, const mt_tensor *index,
                          mt_tensor **out);
mt_status mt_index_select_into(const mt_tensor *x, int dim,
                               const mt_tensor *index, mt_tensor *out);

/* torch.nn.functional.embedding(indices, weight): indices any shape [*],
 * weight [num, dim] -> [*, dim]; out[i…, :] = weight[indices[i…], :].
 * A token lookup: one row copy (memcpy when rows are contiguous) per index. */
mt_status mt_embedding(const mt_tensor *indices, const mt_tensor *weight,
                       mt_tensor **out);
mt_status mt_embedding_into(const mt_tensor *indices, const mt_tensor *weight,
                            mt_tensor *out);

/* torch.take_along_dim(x, indices, dim) (numpy.take_along_axis): x and
 * indices have the same rank; the other dims broadcast (size 1 stretches);
 * out.shape = broadcast shape with shape[dim] = indices.shape[dim];
 * out[i…, j, k…] = x[i…, indices[i…, j, k…], k…]. */
mt_status mt_take_along_dim(const mt_tensor *x, const mt_tensor *indices,
                            int dim, mt_tensor **out);
mt_status mt_take_along_dim_into(const mt_tensor *x, const mt_tensor *indices,
                                 int dim, mt_tensor *out);

/* ---- joining ------------------------------------------------------------- */

/* torch.cat(tensors, dim): count >= 1 tensors of one dtype and rank >= 1,
 * equal in every dim but dim; out.shape[dim] = sum of theirs. (PyTorch's
 * legacy skipping of 1-D [0] inputs of another rank is not copied.) */
mt_status mt_concat(const mt_tensor *const *tensors, int count, int dim,
                    mt_tensor **out);
mt_status mt_concat_into(const mt_tensor *const *tensors, int count, int dim,
                         mt_tensor *out);

/* torch.stack(tensors, dim): count >= 1 tensors of one dtype and shape [*];
 * out has a new dim of size count at dim (-(rank+1)..rank). */
mt_status mt_stack(const mt_tensor *const *tensors, int count, int dim,
                   mt_tensor **out);
mt_status mt_stack_into(const mt_tensor *const *tensors, int count, int dim,
                        mt_tensor *out);

/* ---- padding, flipping, triangles ---------------------------------------- */

typedef enum mt_pad_mode {
    MT_PAD_CONSTANT = 0,  /* new elements = value */
    MT_PAD_REFLECT,       /* mirror without repeating the edge: pad < size */
    MT_PAD_REPLICATE,     /* repeat the edge element: size >= 1 */
    MT_PAD_CIRCULAR       /* wrap around (torch 'circular', Conv2d's
                             padding_mode='circular'): pad <= size */
} mt_pad_mode;

/* torch.nn.functional.pad(x, pads, mode, value) on an F32 tensor: pads holds
 * n_pads/2 (left, right) pairs, the first pair for the LAST dim, the next
 * for the one before (n_pads even, n_pads/2 <= rank). Any rank and any
 * number of padded dims in every mode (PyTorch limits reflect/replicate to
 * some ranks; the values are the same as numpy.pad's reflect/edge).
 * Negative pads crop, in every mode (as PyTorch: reflect/replicate pad by
 * the positive amounts, mirroring the uncropped edges, then crop); a crop
 * to size 0 gives an empty result (PyTorch refuses it in reflect/replicate
 * mode). Circular mode wraps around the entries the crops keep (as
 * PyTorch), at most once: each pad at most that many. value is used by
 * constant mode only. */
mt_status mt_pad(const mt_tensor *x, int n_pads, const int64_t *pads,
                 mt_pad_mode mode, float value, mt_tensor **out);
mt_status mt_pad_into(const mt_tensor *x, int n_pads, const int64_t *pads,
                      mt_pad_mode mode, float value, mt_tensor *out);

/* torch.flip(x, dims): reverses the listed dims (each at most once), a copy:
 * strides are never negative in minitensor. Same shape. */
mt_status mt_flip(const mt_tensor *x, const int *dims, int n_dims,
                  mt_tensor **out);
mt_status mt_flip_into(const mt_tensor *x, const int *dims, int n_dims,
                       mt_tensor *out);

/* torch.roll(x, shifts, dims): x's elements shifted cyclically, a copy of
 * x's shape and dtype: along dim dims[i] by shifts[i] (n of each; negative
 * dims and shifts, shifts larger than the dim; a dim listed twice rolls by
 * the sum, as torch). dims NULL: torch.roll(x, shifts) without dims, x
 * rolled as its flattened row-major elements (n must be 1). Any dtype;
 * out must not overlap x. */
mt_status mt_roll(const mt_tensor *x, int n, const int64_t *shifts,
                  const int *dims, mt_tensor **out);
mt_status mt_roll_into(const mt_tensor *x, int n, const int64_t *shifts,
                       const int *dims, mt_tensor *out);

/* torch.tril / torch.triu over the last two dims (rank >= 2, [.., R, C]):
 * keeps element (i, j) where j - i <= diagonal (tril) or j - i >= diagonal
 * (triu), zero elsewhere. Same shape; out may be x itself (in place). */
mt_status mt_tril(const mt_tensor *x, int64_t diagonal, mt_tensor **out);
mt_status mt_tril_into(const mt_tensor *x, int64_t diagonal, mt_tensor *out);
mt_status mt_triu(const mt_tensor *x, int64_t diagonal, mt_tensor **out);
mt_status mt_triu_into(const mt_tensor *x, int64_t diagonal, mt_tensor *out);

#ifdef __cplusplus
}
#endif
#endif
