/* minitensor/view.h — views: new shapes over the same data, never a copy
 * (except mt_reshape, which copies when no view exists, as torch.reshape).
 *
 * Each view but the splitting ones (below) comes in two forms:
 *   mt_X(t, …, &out)      a new heap tensor (VIEW) that keeps t alive;
 *                         release it with mt_tensor_free().
 *   mt_X_into(t, …, view) fills a struct you provide (BORROWED from t, no
 *                         allocation); t must outlive it. Use this in hot
 *                         loops: it never touches the heap.
 * Dims may be negative, counting from the end (-1 is the last dim).
 * On failure nothing is allocated and *out / *view are left unchanged.
 */
#ifndef MINITENSOR_VIEW_H
#define MINITENSOR_VIEW_H

#include "minitensor/tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

/* torch.Tensor.view: same elements, new shape (numel must match; one dim may
 * be -1 and is inferred). Never copies: fails with MT_ERR_SHAPE if t's
 * strides cannot express the new shape (use mt_reshape then). */
mt_status mt_view(const mt_tensor *t, int rank, const int64_t *shape,
                  mt_tensor **out);
mt_status mt_view_into(const mt_tensor *t, int rank, const int64_t *shape,
                       mt_tensor *view);

/* torch.reshape: a heap VIEW of t when its strides can express the shape
 * (as mt_view), else a new OWNED contiguous copy; either way free *out with
 * mt_tensor_free. One dim may be -1. Any dtype.
 * mt_reshape_into always copies t's elements, in row-major order, into `out`
 * (t's dtype, exactly the resolved shape, any strides but 0, no overlap
 * with t). */
mt_status mt_reshape(const mt_tensor *t, int rank, const int64_t *shape,
                     mt_tensor **out);
mt_status mt_reshape_into(const mt_tensor *t, int rank, const int64_t *shape,
                          mt_tensor *out);

/* Merge dims start_dim..end_dim (inclusive) into one:
 * flatten([N,28,28], 1, -1) -> [N,784] (Keras' Flatten). */
mt_status mt_flatten(const mt_tensor *t, int start_dim, int end_dim,
                     mt_tensor **out);
mt_status mt_flatten_into(const mt_tensor *t, int start_dim, int end_dim,
                          mt_tensor *view);

/* Swap two dims: transpose([M,K], 0, 1) -> [K,M] (strides swapped). */
mt_status mt_transpose(const mt_tensor *t, int dim0, int dim1,
                       mt_tensor **out);
mt_status mt_transpose_into(const mt_tensor *t, int dim0, int dim1,
                            mt_tensor *view);

/* Reorder dims: out.shape[i] = t.shape[perm[i]]; perm has t->rank entries,
 * each dim exactly once. */
mt_status mt_permute(const mt_tensor *t, const int *perm, mt_tensor **out);
mt_status mt_permute_into(const mt_tensor *t, const int *perm,
                          mt_tensor *view);

/* Elements start … start+length-1 along dim (0 <= start <= start+length <=
 * shape[dim]). */
mt_status mt_narrow(const mt_tensor *t, int dim, int64_t start,
                    int64_t length, mt_tensor **out);
mt_status mt_narrow_into(const mt_tensor *t, int dim, int64_t start,
                         int64_t length, mt_tensor *view);

/* Python's t[start:stop:step] along dim: step >= 1; start and stop are
 * clamped to 0..shape[dim] (negative values count from the end). */
mt_status mt_slice(const mt_tensor *t, int dim, int64_t start, int64_t stop,
                   int64_t step, mt_tensor **out);
mt_status mt_slice_into(const mt_tensor *t, int dim, int64_t start,
                        int64_t stop, int64_t step, mt_tensor *view);

/* torch.Tensor.expand (numpy.broadcast_to): t seen as `shape` (rank >= t's
 * rank). t's dims align with the last ones; a dim of size 1 stretches to any
 * size with stride 0, -1 keeps t's size, new leading dims get stride 0 (and
 * may not be -1). Writing through an expanded view writes shared elements. */
mt_status mt_expand(const mt_tensor *t, int rank, const int64_t *shape,
                    mt_tensor **out);
mt_status mt_expand_into(const mt_tensor *t, int rank, const int64_t *shape,
                         mt_tensor *view);

/* torch.squeeze(t, dim): drops dim if its size is 1; a dim of another size
 * leaves t's shape unchanged (as PyTorch), not an error. A scalar accepts
 * dim 0 or -1 and stays a scalar. */
mt_status mt_squeeze(const mt_tensor *t, int dim, mt_tensor **out);
mt_status mt_squeeze_into(const mt_tensor *t, int dim, mt_tensor *view);

/* torch.squeeze(t): drops every dim of size 1. */
mt_status mt_squeeze_all(const mt_tensor *t, mt_tensor **out);
mt_status mt_squeeze_all_into(const mt_tensor *t, mt_tensor *view);

/* torch.unsqueeze(t, dim): inserts a dim of size 1 at dim, which ranges over
 * -(rank+1)..rank (-1 appends). Its stride is PyTorch's: shape*stride of the
 * dim it precedes, 1 at the end. */
mt_status mt_unsqueeze(const mt_tensor *t, int dim, mt_tensor **out);
mt_status mt_unsqueeze_into(const mt_tensor *t, int dim, mt_tensor *view);

/* ---- splitting into several views ------------------------------------------
 * These fill an array of structs you provide with BORROWED views of t (no
 * heap; t must outlive them); there is no heap form. mt_split and mt_chunk
 * fill views[0..*count-1] and set *count. Pass views = NULL to get only *count (to
 * size the array); otherwise max_views must be >= the count, or the call
 * fails with MT_ERR_INVALID_ARGUMENT naming the count needed and writes
 * nothing. */

/* torch.split(t, split_size, dim): pieces of split_size along dim, the last
 * one smaller if the size does not divide: [5] by 2 -> 2,2,1. split_size 0
 * is allowed only for a dim of size 0 (one empty piece); a size-0 dim gives
 * one empty piece. */
mt_status mt_split(const mt_tensor *t, int64_t split_size, int dim,
                   mt_tensor *views, int max_views, int *count);

/* torch.split(t, [sizes…], dim) (torch.split_with_sizes): n_sizes pieces
 * of the given sizes (each >= 0, summing to the dim's size) into views,
 * which holds n_sizes structs. */
mt_status mt_split_with_sizes(const mt_tensor *t, const int64_t *sizes,
                              int n_sizes, int dim, mt_tensor *views);

/* torch.chunk(t, chunks, dim): pieces of ceil(size/chunks), so there may be
 * fewer than `chunks` ([6] in 4 chunks -> 2,2,2); a size-0 dim gives
 * `chunks` empty pieces. chunks >= 1. */
mt_status mt_chunk(const mt_tensor *t, int chunks, int dim, mt_tensor *views,
                   int max_views, int *count);

#ifdef __cplusplus
}
#endif
#endif
