/* view_dims.c — views that add, drop or stretch dims (expand, squeeze,
 * unsqueeze) and split a tensor into several views (split, chunk). */
#include "minitensor/view.h"
#include "internal.h"

static mt_status check_src(const char *op, const mt_tensor *t, const void *view)
{
    mt_status s = mt_tensor_check(op, "input", t);
    if (s)
        return s;
    if (!view)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "%s: output is NULL", op);
    return MT_OK;
}

/* view = t with the given rank, shape and strides (t may be view itself). */
static void view_set(const mt_tensor *t, int rank, const int64_t *shape,
                     const int64_t *stride, mt_tensor *view)
{
    mt_tensor src = *t;
    mt_view_init(view, &src);
    view->rank = rank;
    for (int d = 0; d < MT_MAX_RANK; d++) {
        view->shape[d] = d < rank ? shape[d] : 0;
        view->stride[d] = d < rank ? stride[d] : 0;
    }
}

/* ---- expand ----------------------------------------------------------------- */

mt_status mt_expand_into(const mt_tensor *t, int rank, const int64_t *shape,
                         mt_tensor *view)
{
    const char *op = "expand";
    mt_status s = check_src(op, t, view);
    if (s)
        return s;
    if (rank < t->rank || rank > MT_MAX_RANK)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "%s: rank %d must be %d..%d for %s",
                       op, rank, t->rank, MT_MAX_RANK, MT_SHAPE(t));
    if (rank > 0 && !shape)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "%s: shape is NULL", op);
    int64_t want[MT_MAX_RANK] = {0}, stride[MT_MAX_RANK] = {0};
    int lead = rank - t->rank;
    for (int d = 0; d < rank; d++) {
        int td = d - lead;
        if (td < 0) {
            if (shape[d] < 0)
                return mt_fail(MT_ERR_INVALID_ARGUMENT,
                               "%s: size %lld not allowed for new leading dim %d",
                               op, (long long)shape[d], d);
            want[d] = shape[d];
            stride[d] = 0;
            continue;
        }
        int64_t have = t->shape[td];
        if (shape[d] == -1 || shape[d] == have) {
            want[d] = have;
            stride[d] = t->stride[td];
        } else if (have == 1 && shape[d] >= 0) {
            want[d] = shape[d];
            stride[d] = 0;
        } else {
            return mt_fail(MT_ERR_SHAPE, "%s: cannot expand dim %d of %s (size %lld) "
                           "to %lld", op, td, MT_SHAPE(t), (long long)have,
                           (long long)shape[d]);
        }
    }
    int64_t numel;
    if (!mt_shape_numel(rank, want, &numel))
        return mt_fail(MT_ERR_OVERFLOW, "%s: element count overflows", op);
    view_set(t, rank, want, stride, view);
    return MT_OK;
}

mt_status mt_expand(const mt_tensor *t, int rank, const int64_t *shape,
                    mt_tensor **out)
{
    mt_tensor view;
    mt_status s = mt_expand_into(t, rank, shape, &view);
    return s ? s : mt_view_to_heap("expand", t, &view, out);
}

/* ---- squeeze / unsqueeze ---------------------------------------------------- */

/* t without the dims marked in drop. */
static void drop_dims(const mt_tensor *t, const bool *drop, mt_tensor *view)
{
    int64_t shape[MT_MAX_RANK], stride[MT_MAX_RANK];
    int rank = 0;
    for (int d = 0; d < t->rank; d++) {
        if (drop[d])
            continue;
        shape[rank] = t->shape[d];
        stride[rank++] = t->stride[d];
    }
    view_set(t, rank, shape, stride, view);
}

mt_status mt_squeeze_into(const mt_tensor *t, int dim, mt_tensor *view)
{
    const char *op = "squeeze";
    mt_status s = check_src(op, t, view);
    if (s)
        return s;
    int d = 0;
    /* PyTorch treats a scalar as having one dim for this purpose */
    if (!mt_dim_resolve(dim, t->rank ? t->rank : 1, &d))
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "%s: dim %d out of range for %s",
                       op, dim, MT_SHAPE(t));
    bool drop[MT_MAX_RANK] = {false};
    if (t->rank > 0)
        drop[d] = t->shape[d] == 1;
    drop_dims(t, drop, view);
    return MT_OK;
}

mt_status mt_squeeze(const mt_tensor *t, int dim, mt_tensor **out)
{
    mt_tensor view;
    mt_status s = mt_squeeze_into(t, dim, &view);
    return s ? s : mt_view_to_heap("squeeze", t, &view, out);
}

mt_status mt_squeeze_all_into(const mt_tensor *t, mt_tensor *view)
{
    mt_status s = check_src("squeeze", t, view);
    if (s)
        return s;
    bool drop[MT_MAX_RANK] = {false};
    for (int d = 0; d < t->rank; d++)
        drop[d] = t->shape[d] == 1;
    drop_dims(t, drop, view);
    return MT_OK;
}

mt_status mt_squeeze_all(const mt_tensor *t, mt_tensor **out)
{
    mt_tensor view;
    mt_status s = mt_squeeze_all_into(t, &view);
    return s ? s : mt_view_to_heap("squeeze", t, &view, out);
}

mt_status mt_unsqueeze_into(const mt_tensor *t, int dim, mt_tensor *view)
{
    const char *op = "unsqueeze";
    mt_status s = check_src(op, t, view);
    if (s)
        return s;
    int d;
    if (t->rank >= MT_MAX_RANK || !mt_dim_resolve(dim, t->rank + 1, &d))
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "%s: dim %d out of range for %s "
                       "(at most rank %d)", op, dim, MT_SHAPE(t), MT_MAX_RANK);
    int64_t shape[MT_MAX_RANK], stride[MT_MAX_RANK];
    for (int i = 0, j = 0; i <= t->rank; i++) {
        if (i == d) {
            shape[i] = 1;
            stride[i] = d < t->rank ? t->shape[d] * t->stride[d] : 1;
        } else {
            shape[i] = t->shape[j];
            stride[i] = t->stride[j++];
        }
    }
    view_set(t, t->rank + 1, shape, stride, view);
    return MT_OK;
}

mt_status mt_unsqueeze(const mt_tensor *t, int dim, mt_tensor **out)
{
    mt_tensor view;
    mt_status s = mt_unsqueeze_into(t, dim, &view);
    return s ? s : mt_view_to_heap("unsqueeze", t, &view, out);
}

/* ---- split / chunk ---------------------------------------------------------- */

/* Pieces of `piece` along dim d (the last smaller), or `count` empty pieces
 * when the dim is empty; validated by the callers. */
static mt_status fill_pieces(const char *op, const mt_tensor *t, int d, int64_t piece,
                             int64_t count, mt_tensor *views, int max_views, int *out_count)
{
    if (count > max_views && views)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "%s: %s along dim %d gives %lld views, "
                       "the array holds %d", op, MT_SHAPE(t), d, (long long)count,
                       max_views);
    if (count > INT32_MAX)
        return mt_fail(MT_ERR_OVERFLOW, "%s: %lld views", op, (long long)count);
    if (views) {
        mt_tensor src = *t;  /* t may be one of the views */
        int64_t size = src.shape[d];
        for (int64_t i = 0; i < count; i++) {
            int64_t start = i * piece < size ? i * piece : size;
            int64_t len = size - start < piece ? size - start : piece;
            mt_tensor *v = &views[i];
            mt_view_init(v, &src);
            if (len > 0)
                v->data = (char *)src.data +
                          start * src.stride[d] * (int64_t)mt_dtype_size(src.dtype);
            v->shape[d] = len;
        }
    }
    *out_count = (int)count;
    return MT_OK;
}

static mt_status split_check(const char *op, const mt_tensor *t, int dim,
                             const int *count, int *d)
{
    mt_status s = mt_tensor_check(op, "input", t);
    if (s)
        return s;
    if (!count)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "%s: count is NULL", op);
    if (!mt_dim_resolve(dim, t->rank, d))
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "%s: dim %d out of range for %s",
                       op, dim, MT_SHAPE(t));
    return MT_OK;
}

mt_status mt_split(const mt_tensor *t, int64_t split_size, int dim,
                   mt_tensor *views, int max_views, int *count)
{
    const char *op = "split";
    int d;
    mt_status s = split_check(op, t, dim, count, &d);
    if (s)
        return s;
    int64_t size = t->shape[d];
    if (split_size < 0 || (split_size == 0 && size != 0))
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "%s: split_size %lld invalid for dim %d "
                       "of %s (must be >= 1, or 0 for a size-0 dim)", op,
                       (long long)split_size, d, MT_SHAPE(t));
    /* ceil(size / split_size) without size + split_size - 1, which
     * overflows for split_size near INT64_MAX */
    int64_t n = size == 0 ? 1 : 1 + (size - 1) / split_size;
    return fill_pieces(op, t, d, split_size, n, views, max_views, count);
}

mt_status mt_chunk(const mt_tensor *t, int chunks, int dim, mt_tensor *views,
                   int max_views, int *count)
{
    const char *op = "chunk";
    int d;
    mt_status s = split_check(op, t, dim, count, &d);
    if (s)
        return s;
    if (chunks < 1)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "%s: chunks %d must be >= 1", op, chunks);
    int64_t size = t->shape[d];
    int64_t piece = (size + chunks - 1) / chunks;
    int64_t n = size == 0 ? chunks : (size + piece - 1) / piece;
    return fill_pieces(op, t, d, piece, n, views, max_views, count);
}

mt_status mt_split_with_sizes(const mt_tensor *t, const int64_t *sizes, int n_sizes,
                              int dim, mt_tensor *views)
{
    const char *op = "split_with_sizes";
    int d, unused = 0;
    mt_status s = split_check(op, t, dim, &unused, &d);
    if (s)
        return s;
    if (n_sizes < 1 || !sizes || !views)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "%s: sizes or views is NULL, or n_sizes "
                       "%d < 1", op, n_sizes);
    int64_t total = 0;
    for (int i = 0; i < n_sizes; i++) {
        if (sizes[i] < 0 || sizes[i] > t->shape[d] - total)
            return mt_fail(MT_ERR_INVALID_ARGUMENT, "%s: size %lld at %d does not fit dim "
                           "%d of %s (sizes must be >= 0 and sum to %lld)", op,
                           (long long)sizes[i], i, d, MT_SHAPE(t), (long long)t->shape[d]);
        total += sizes[i];
    }
    if (total != t->shape[d])
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "%s: sizes sum to %lld, dim %d of %s is %lld",
                       op, (long long)total, d, MT_SHAPE(t), (long long)t->shape[d]);
    mt_tensor src = *t;  /* t may be one of the views */
    int64_t start = 0;
    for (int i = 0; i < n_sizes; i++) {
        mt_view_init(&views[i], &src);
        if (sizes[i] > 0)
            views[i].data = (char *)src.data +
                            start * src.stride[d] * (int64_t)mt_dtype_size(src.dtype);
        views[i].shape[d] = sizes[i];
        start += sizes[i];
    }
    return MT_OK;
}
