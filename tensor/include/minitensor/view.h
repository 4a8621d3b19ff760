/* minitensor/view.h — views: new shapes over the same data, never a copy.
 *
 * Each view comes in two forms:
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

/* Same elements, new shape (numel must match). One dim may be -1 and is
 * inferred. Fails with MT_ERR_SHAPE if t's strides cannot express the new
 * shape (call mt_tensor_contiguous first). */
mt_status mt_reshape(const mt_tensor *t, int rank, const int64_t *shape,
                     mt_tensor **out);
mt_status mt_reshape_into(const mt_tensor *t, int rank, const int64_t *shape,
                          mt_tensor *view);

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

#ifdef __cplusplus
}
#endif
#endif
