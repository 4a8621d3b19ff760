/* copy.c — the strided copy kernel under concat, stack, flip, index_select,
 * embedding, reshape and friends, and the shared `out` check. */
#include <string.h>

#include "internal.h"

mt_status mt_check_out(const char *op, const mt_tensor *out, mt_dtype dtype,
                       int rank, const int64_t *shape)
{
    mt_status s = mt_tensor_check(op, "out", out);
    if (s)
        return s;
    mt_tensor want;
    mt_tensor_init_contiguous(&want, dtype, rank, shape, NULL);
    if (out->dtype != dtype)
        return mt_fail(MT_ERR_DTYPE, "%s: out %s has dtype %s, result is %s", op,
                       MT_SHAPE(out), mt_dtype_name(out->dtype), mt_dtype_name(dtype));
    if (!mt_tensor_same_shape(out, &want))
        return mt_fail(MT_ERR_SHAPE, "%s: out is %s, result is %s", op, MT_SHAPE(out),
                       MT_SHAPE(&want));
    for (int d = 0; d < out->rank; d++)   /* an expanded out: elements share memory */
        if (out->stride[d] == 0 && out->shape[d] > 1)
            return mt_fail(MT_ERR_INVALID_ARGUMENT, "%s: out %s has stride 0 in dim %d, "
                           "so its elements overlap", op, MT_SHAPE(out), d);
    return MT_OK;
}

/* One run of n elements; the fixed sizes let the compiler emit plain moves. */
static void copy_run(size_t esize, int64_t n, const char *src, int64_t ss,
                     char *dst, int64_t ds)
{
    if (ss == 1 && ds == 1) {
        memcpy(dst, src, (size_t)n * esize);
        return;
    }
    int64_t sb = ss * (int64_t)esize, db = ds * (int64_t)esize;
    switch (esize) {
    case 4:
        for (int64_t i = 0; i < n; i++)
            memcpy(dst + i * db, src + i * sb, 4);
        break;
    case 8:
        for (int64_t i = 0; i < n; i++)
            memcpy(dst + i * db, src + i * sb, 8);
        break;
    default:
        for (int64_t i = 0; i < n; i++)
            memcpy(dst + i * db, src + i * sb, esize);
    }
}

void mt_copy_strided(size_t esize, int rank, const int64_t *shape,
                     const void *src, const int64_t *src_stride,
                     void *dst, const int64_t *dst_stride)
{
    int64_t numel;
    if (!mt_shape_numel(rank, shape, &numel) || numel == 0)
        return;
    /* Merge a dim into the one inside it wherever both sides step over it as
     * one longer run, and drop size-1 dims: concat of [N,2] rows into a
     * contiguous out becomes one memcpy instead of N. */
    int64_t sh[MT_MAX_RANK], ss[MT_MAX_RANK], ds[MT_MAX_RANK];
    int r = 0;
    for (int d = 0; d < rank; d++) {
        if (shape[d] == 1)
            continue;
        if (r > 0 && ss[r - 1] == shape[d] * src_stride[d] &&
            ds[r - 1] == shape[d] * dst_stride[d]) {
            sh[r - 1] *= shape[d];
        } else {
            sh[r] = shape[d];
            r++;
        }
        ss[r - 1] = src_stride[d];
        ds[r - 1] = dst_stride[d];
    }
    if (r == 0) {
        memcpy(dst, src, esize);
        return;
    }
    int outer = r - 1;
    int64_t n = sh[outer];
    int64_t index[MT_MAX_RANK] = {0};
    do {
        int64_t so = 0, dof = 0;
        for (int d = 0; d < outer; d++) {
            so += index[d] * ss[d];
            dof += index[d] * ds[d];
        }
        copy_run(esize, n, (const char *)src + so * (int64_t)esize, ss[outer],
                 (char *)dst + dof * (int64_t)esize, ds[outer]);
    } while (mt_index_next(outer, sh, index));
}

void mt_copy_reshaped(const mt_tensor *src, mt_tensor *dst)
{
    size_t esize = mt_dtype_size(src->dtype);
    /* Either side contiguous: view it with the other's shape, one kernel call. */
    if (mt_tensor_is_contiguous(dst) || mt_tensor_is_contiguous(src)) {
        bool to_src = mt_tensor_is_contiguous(dst);
        const mt_tensor *shaped = to_src ? src : dst;
        mt_tensor flat;
        mt_tensor_init_contiguous(&flat, src->dtype, shaped->rank, shaped->shape,
                                  to_src ? dst->data : src->data);
        if (to_src)
            mt_copy_strided(esize, src->rank, src->shape, src->data, src->stride,
                            flat.data, flat.stride);
        else
            mt_copy_strided(esize, dst->rank, dst->shape, flat.data, flat.stride,
                            dst->data, dst->stride);
        return;
    }
    int64_t n = mt_tensor_numel(src);
    int64_t si[MT_MAX_RANK] = {0}, di[MT_MAX_RANK] = {0};
    for (int64_t i = 0; i < n; i++) {
        memcpy(mt_element_ptr(dst, di), mt_element_ptr(src, si), esize);
        mt_index_next(src->rank, src->shape, si);
        mt_index_next(dst->rank, dst->shape, di);
    }
}
