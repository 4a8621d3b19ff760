/* view.c — view, reshape, flatten, transpose, permute, narrow, slice.
 *
 * Each view is computed into a caller struct (*_into, BORROWED); the heap
 * forms wrap that result in a VIEW that keeps its base alive. mt_reshape is
 * the one function here that may copy (when no view exists). */
#include <string.h>

#include "minitensor/view.h"
#include "internal.h"

void mt_view_init(mt_tensor *view, const mt_tensor *src)
{
    *view = *src;
    view->ownership = MT_OWNERSHIP_BORROWED;
    view->base_ = NULL;
    view->refs_ = 0;
    view->block_ = NULL;
}

mt_status mt_view_to_heap(const char *op, const mt_tensor *src,
                          const mt_tensor *view, mt_tensor **out)
{
    if (!out)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "%s: out is NULL", op);
    mt_tensor *t = mt_tensor_struct_new();
    if (!t)
        return mt_fail(MT_ERR_OUT_OF_MEMORY, "%s: cannot allocate a view", op);
    *t = *view;
    t->refs_ = 1;
    t->ownership = MT_OWNERSHIP_VIEW;
    if (src->refs_ > 0) {   /* heap tensor: keep its root alive */
        mt_tensor *root = src->base_ ? src->base_ : (mt_tensor *)src;
        root->refs_++;
        t->base_ = root;
    }
    *out = t;
    return MT_OK;
}

static mt_status check_src(const char *op, const mt_tensor *t, const void *view)
{
    mt_status s = mt_tensor_check(op, "input", t);
    if (s)
        return s;
    if (!view)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "%s: output is NULL", op);
    return MT_OK;
}

/* ---- reshape ---------------------------------------------------------------- */

/* Strides for viewing t as `shape`, or false when t's layout cannot express
 * it (the algorithm of PyTorch's computeStride: split t into runs of dims
 * that are contiguous with each other; each new dim must fall in one run). */
static bool reshape_strides(const mt_tensor *t, int rank, const int64_t *shape,
                            int64_t *stride)
{
    if (t->rank == 0 || mt_tensor_numel(t) == 0 || mt_tensor_is_contiguous(t)) {
        int64_t s = 1;
        for (int d = rank - 1; d >= 0; d--) {
            stride[d] = s;
            s *= shape[d] ? shape[d] : 1;
        }
        return true;
    }
    int view_d = rank - 1;
    int64_t chunk_stride = t->stride[t->rank - 1];
    int64_t tensor_numel = 1, view_numel = 1;
    for (int td = t->rank - 1; td >= 0; td--) {
        tensor_numel *= t->shape[td];
        bool run_ends = td == 0 || (t->shape[td - 1] != 1 &&
                                    t->stride[td - 1] != tensor_numel * chunk_stride);
        if (!run_ends)
            continue;
        while (view_d >= 0 && (view_numel < tensor_numel || shape[view_d] == 1)) {
            stride[view_d] = view_numel * chunk_stride;
            view_numel *= shape[view_d];
            view_d--;
        }
        if (view_numel != tensor_numel)
            return false;
        if (td > 0) {
            chunk_stride = t->stride[td - 1];
            tensor_numel = view_numel = 1;
        }
    }
    return view_d == -1;
}

/* want = shape with a -1 resolved against t's numel; fails unless the
 * element counts match. */
static mt_status resolve_shape(const char *op, const mt_tensor *t, int rank,
                               const int64_t *shape, int64_t *want)
{
    if (rank < 0 || rank > MT_MAX_RANK)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "%s: rank %d out of range 0..%d",
                       op, rank, MT_MAX_RANK);
    if (rank > 0 && !shape)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "%s: shape is NULL", op);
    int infer = -1;
    int64_t known = 1;
    for (int d = 0; d < rank; d++) {
        want[d] = shape[d];
        if (shape[d] == -1 && infer < 0) {
            infer = d;
            continue;
        }
        if (shape[d] < 0)
            return mt_fail(MT_ERR_INVALID_ARGUMENT, "%s: invalid dim %lld at %d",
                           op, (long long)shape[d], d);
        if (shape[d] != 0 && known > INT64_MAX / shape[d])
            return mt_fail(MT_ERR_OVERFLOW, "%s: element count overflows", op);
        known *= shape[d];
    }
    int64_t numel = mt_tensor_numel(t);
    if (infer >= 0) {
        if (known == 0 || numel % known != 0)
            return mt_fail(MT_ERR_SHAPE, "%s: cannot infer dim %d: %s has %lld elements",
                           op, infer, MT_SHAPE(t), (long long)numel);
        want[infer] = numel / known;
        known = numel;
    }
    if (known != numel) {
        mt_tensor target;
        mt_tensor_init_contiguous(&target, t->dtype, rank, want, NULL);
        return mt_fail(MT_ERR_SHAPE, "%s: %s has %lld elements, %s needs %lld",
                       op, MT_SHAPE(t), (long long)numel, MT_SHAPE(&target),
                       (long long)known);
    }
    return MT_OK;
}

static void view_as(const mt_tensor *t, int rank, const int64_t *shape,
                    const int64_t *stride, mt_tensor *view)
{
    mt_tensor src = *t;  /* t may be view itself */
    mt_view_init(view, &src);
    view->rank = rank;
    for (int d = 0; d < MT_MAX_RANK; d++) {
        view->shape[d] = d < rank ? shape[d] : 0;
        view->stride[d] = d < rank ? stride[d] : 0;
    }
}

/* mt_view_into for op (which its messages name). */
static mt_status view_into(const char *op, const mt_tensor *t, int rank, const int64_t *shape,
                           mt_tensor *view)
{
    mt_status s = check_src(op, t, view);
    int64_t want[MT_MAX_RANK], stride[MT_MAX_RANK];
    if (s || (s = resolve_shape(op, t, rank, shape, want)))
        return s;
    if (!reshape_strides(t, rank, want, stride)) {
        mt_tensor target;
        mt_tensor_init_contiguous(&target, t->dtype, rank, want, NULL);
        return mt_fail(MT_ERR_SHAPE, "%s: cannot view non-contiguous %s as %s; "
                       "use mt_reshape (copies) or mt_tensor_contiguous", op,
                       MT_SHAPE(t), MT_SHAPE(&target));
    }
    view_as(t, rank, want, stride, view);
    return MT_OK;
}

mt_status mt_view_into(const mt_tensor *t, int rank, const int64_t *shape,
                       mt_tensor *view)
{
    return view_into("view", t, rank, shape, view);
}

mt_status mt_view(const mt_tensor *t, int rank, const int64_t *shape,
                  mt_tensor **out)
{
    mt_tensor view;
    mt_status s = mt_view_into(t, rank, shape, &view);
    return s ? s : mt_view_to_heap("view", t, &view, out);
}

mt_status mt_reshape(const mt_tensor *t, int rank, const int64_t *shape,
                     mt_tensor **out)
{
    const char *op = "reshape";
    mt_status s = check_src(op, t, out);
    int64_t want[MT_MAX_RANK], stride[MT_MAX_RANK];
    if (s || (s = resolve_shape(op, t, rank, shape, want)))
        return s;
    mt_tensor view;
    if (reshape_strides(t, rank, want, stride)) {
        view_as(t, rank, want, stride, &view);
        return mt_view_to_heap(op, t, &view, out);
    }
    mt_tensor *copy;
    if ((s = mt_tensor_alloc(op, t->dtype, rank, want, &copy)))
        return s;
    mt_copy_reshaped(t, copy);
    *out = copy;
    return MT_OK;
}

mt_status mt_reshape_into(const mt_tensor *t, int rank, const int64_t *shape,
                          mt_tensor *out)
{
    const char *op = "reshape";
    mt_status s = check_src(op, t, out);
    int64_t want[MT_MAX_RANK];
    if (s || (s = resolve_shape(op, t, rank, shape, want)) ||
        (s = mt_check_out(op, out, t->dtype, rank, want)))
        return s;
    if (mt_tensors_overlap(out, t))
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "%s: out %s overlaps the input %s",
                       op, MT_SHAPE(out), MT_SHAPE(t));
    mt_copy_reshaped(t, out);
    return MT_OK;
}

/* ---- flatten ------------------------------------------------------------------ */

mt_status mt_flatten_into(const mt_tensor *t, int start_dim, int end_dim,
                          mt_tensor *view)
{
    const char *op = "flatten";
    mt_status s = check_src(op, t, view);
    if (s)
        return s;
    if (t->rank == 0)  /* a scalar flattens to one element, as in PyTorch */
        return view_into(op, t, 1, (int64_t[]){1}, view);
    int start, end;
    if (!mt_dim_resolve(start_dim, t->rank, &start) ||
        !mt_dim_resolve(end_dim, t->rank, &end) || start > end)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "flatten: dims %d..%d invalid for %s",
                       start_dim, end_dim, MT_SHAPE(t));
    int64_t shape[MT_MAX_RANK];
    int rank = 0;
    for (int d = 0; d < start; d++)
        shape[rank++] = t->shape[d];
    int64_t merged = 1;
    for (int d = start; d <= end; d++)
        merged *= t->shape[d];
    shape[rank++] = merged;
    for (int d = end + 1; d < t->rank; d++)
        shape[rank++] = t->shape[d];
    return view_into(op, t, rank, shape, view);
}

mt_status mt_flatten(const mt_tensor *t, int start_dim, int end_dim, mt_tensor **out)
{
    mt_tensor view;
    mt_status s = mt_flatten_into(t, start_dim, end_dim, &view);
    return s ? s : mt_view_to_heap("flatten", t, &view, out);
}

/* ---- transpose / permute ------------------------------------------------------ */

mt_status mt_permute_into(const mt_tensor *t, const int *perm, mt_tensor *view)
{
    const char *op = "permute";
    mt_status s = check_src(op, t, view);
    if (s)
        return s;
    if (!perm && t->rank > 0)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "%s: perm is NULL", op);
    bool seen[MT_MAX_RANK] = {false};
    int resolved[MT_MAX_RANK];
    for (int d = 0; d < t->rank; d++) {
        if (!mt_dim_resolve(perm[d], t->rank, &resolved[d]) || seen[resolved[d]])
            return mt_fail(MT_ERR_INVALID_ARGUMENT,
                           "%s: perm is not a permutation of the %d dims of %s",
                           op, t->rank, MT_SHAPE(t));
        seen[resolved[d]] = true;
    }
    mt_tensor src = *t;  /* t may be view itself */
    mt_view_init(view, &src);
    for (int d = 0; d < src.rank; d++) {
        view->shape[d] = src.shape[resolved[d]];
        view->stride[d] = src.stride[resolved[d]];
    }
    return MT_OK;
}

mt_status mt_permute(const mt_tensor *t, const int *perm, mt_tensor **out)
{
    mt_tensor view;
    mt_status s = mt_permute_into(t, perm, &view);
    return s ? s : mt_view_to_heap("permute", t, &view, out);
}

mt_status mt_transpose_into(const mt_tensor *t, int dim0, int dim1, mt_tensor *view)
{
    const char *op = "transpose";
    mt_status s = check_src(op, t, view);
    if (s)
        return s;
    int d0, d1;
    if (!mt_dim_resolve(dim0, t->rank, &d0) || !mt_dim_resolve(dim1, t->rank, &d1))
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "%s: dims %d,%d out of range for %s",
                       op, dim0, dim1, MT_SHAPE(t));
    int perm[MT_MAX_RANK];
    for (int d = 0; d < t->rank; d++)
        perm[d] = d;
    perm[d0] = d1;
    perm[d1] = d0;
    return mt_permute_into(t, perm, view);
}

mt_status mt_transpose(const mt_tensor *t, int dim0, int dim1, mt_tensor **out)
{
    mt_tensor view;
    mt_status s = mt_transpose_into(t, dim0, dim1, &view);
    return s ? s : mt_view_to_heap("transpose", t, &view, out);
}

/* ---- narrow / slice --------------------------------------------------------- */

mt_status mt_slice_into(const mt_tensor *t, int dim, int64_t start, int64_t stop,
                        int64_t step, mt_tensor *view)
{
    const char *op = "slice";
    mt_status s = check_src(op, t, view);
    if (s)
        return s;
    int d;
    if (!mt_dim_resolve(dim, t->rank, &d))
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "%s: dim %d out of range for %s",
                       op, dim, MT_SHAPE(t));
    if (step < 1)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "%s: step %lld must be >= 1",
                       op, (long long)step);
    int64_t size = t->shape[d];
    if (start < 0)
        start = start < -size ? 0 : start + size;
    if (stop < 0)
        stop = stop < -size ? 0 : stop + size;
    start = start > size ? size : start;
    stop = stop > size ? size : stop;
    int64_t count = stop > start ? (stop - start - 1) / step + 1 : 0;
    mt_tensor src = *t;
    mt_view_init(view, &src);
    if (count > 0)
        view->data = (char *)src.data +
                     start * src.stride[d] * (int64_t)mt_dtype_size(src.dtype);
    view->shape[d] = count;
    view->stride[d] = src.stride[d] * step;
    return MT_OK;
}

mt_status mt_slice(const mt_tensor *t, int dim, int64_t start, int64_t stop,
                   int64_t step, mt_tensor **out)
{
    mt_tensor view;
    mt_status s = mt_slice_into(t, dim, start, stop, step, &view);
    return s ? s : mt_view_to_heap("slice", t, &view, out);
}

mt_status mt_narrow_into(const mt_tensor *t, int dim, int64_t start,
                         int64_t length, mt_tensor *view)
{
    const char *op = "narrow";
    mt_status s = check_src(op, t, view);
    if (s)
        return s;
    int d;
    if (!mt_dim_resolve(dim, t->rank, &d))
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "%s: dim %d out of range for %s",
                       op, dim, MT_SHAPE(t));
    if (start < 0 || length < 0 || start > t->shape[d] || length > t->shape[d] - start)
        return mt_fail(MT_ERR_INVALID_ARGUMENT,
                       "%s: [%lld, %lld+%lld) out of range for dim %d of %s", op,
                       (long long)start, (long long)start, (long long)length, d,
                       MT_SHAPE(t));
    return mt_slice_into(t, d, start, start + length, 1, view);
}

mt_status mt_narrow(const mt_tensor *t, int dim, int64_t start, int64_t length,
                    mt_tensor **out)
{
    mt_tensor view;
    mt_status s = mt_narrow_into(t, dim, start, length, &view);
    return s ? s : mt_view_to_heap("narrow", t, &view, out);
}
