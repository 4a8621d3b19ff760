/* index.c — gathering by index tensors: index_select, embedding,
 * take_along_dim. Every index is checked before anything is written. */
#include <stdio.h>
#include <string.h>

#include "minitensor/index.h"
#include "internal.h"

/* ---- shared checks ---------------------------------------------------------- */

static mt_status check_index_tensor(const char *op, const char *what,
                                    const mt_tensor *ix)
{
    mt_status s = mt_tensor_check(op, what, ix);
    if (s)
        return s;
    if (ix->dtype != MT_DTYPE_I32 && ix->dtype != MT_DTYPE_I64)
        return mt_fail(MT_ERR_DTYPE, "%s: %s %s has dtype %s; indices must be I32 or I64",
                       op, what, MT_SHAPE(ix), mt_dtype_name(ix->dtype));
    return MT_OK;
}

/* Every value of ix lies in 0..size-1; else names the first bad one, where
 * it is in ix and the size of the dim it indexes. */
static mt_status check_range(const char *op, const mt_tensor *ix, int dim, int64_t size)
{
    if (mt_tensor_numel(ix) == 0)
        return MT_OK;
    int64_t pos[MT_MAX_RANK] = {0};
    do {
        int64_t v = mt_index_at(ix, pos);
        if (v >= 0 && v < size)
            continue;
        char where[128];
        size_t len = (size_t)snprintf(where, sizeof where, "[");
        for (int d = 0; d < ix->rank && len < sizeof where; d++)
            len += (size_t)snprintf(where + len, sizeof where - len, d ? ",%lld" : "%lld",
                                    (long long)pos[d]);
        if (len < sizeof where)
            snprintf(where + len, sizeof where - len, "]");
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "%s: index %lld at position %s is out "
                       "of range for dim %d of size %lld", op, (long long)v, where, dim,
                       (long long)size);
    } while (mt_index_next(ix->rank, ix->shape, pos));
    return MT_OK;
}

/* No overlap between out and an input. */
static mt_status check_apart(const char *op, const mt_tensor *out, const mt_tensor *a,
                             const mt_tensor *b)
{
    if (mt_tensors_overlap(out, a) || mt_tensors_overlap(out, b))
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "%s: out %s overlaps an input", op,
                       MT_SHAPE(out));
    return MT_OK;
}

/* t's shape and strides without dim d. */
static void drop_dim(const mt_tensor *t, int d, int64_t *shape, int64_t *stride)
{
    for (int i = 0, j = 0; i < t->rank; i++)
        if (i != d) {
            if (shape)
                shape[j] = t->shape[i];
            stride[j++] = t->stride[i];
        }
}

/* The dtype and shape of a result. */
typedef struct result_shape {
    mt_dtype dtype;
    int rank;
    int64_t shape[MT_MAX_RANK];
} result_shape;

/* Allocates *t for a caller whose result pointer is out. */
static mt_status result_new(const char *op, const result_shape *r, mt_tensor **out,
                            mt_tensor **t)
{
    if (!out)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "%s: out is NULL", op);
    return mt_tensor_alloc(op, r->dtype, r->rank, r->shape, t);
}

/* ---- index_select ------------------------------------------------------------ */

static mt_status index_select_prepare(const mt_tensor *x, int dim, const mt_tensor *index,
                                      int *d, result_shape *r)
{
    const char *op = "index_select";
    mt_status s = mt_tensor_check(op, "x", x);
    if (s || (s = check_index_tensor(op, "index", index)))
        return s;
    if (index->rank > 1)
        return mt_fail(MT_ERR_SHAPE, "%s: index %s must be 1-D", op, MT_SHAPE(index));
    if (!mt_dim_resolve(dim, x->rank, d))
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "%s: dim %d out of range for x %s",
                       op, dim, MT_SHAPE(x));
    if ((s = check_range(op, index, *d, x->shape[*d])))
        return s;
    r->dtype = x->dtype;
    r->rank = x->rank;
    for (int i = 0; i < x->rank; i++)
        r->shape[i] = x->shape[i];
    r->shape[*d] = mt_tensor_numel(index);
    return MT_OK;
}

static void index_select_run(const mt_tensor *x, int d, const mt_tensor *index,
                             mt_tensor *out)
{
    size_t esize = mt_dtype_size(x->dtype);
    int64_t shape[MT_MAX_RANK], xs[MT_MAX_RANK], os[MT_MAX_RANK];
    drop_dim(x, d, shape, xs);
    drop_dim(out, d, NULL, os);
    int64_t k_count = out->shape[d];
    for (int64_t k = 0; k < k_count; k++) {
        int64_t pos = index->rank ? k : 0;
        int64_t v = mt_index_at(index, &pos);
        mt_copy_strided(esize, x->rank - 1, shape,
                        (const char *)x->data + v * x->stride[d] * (int64_t)esize, xs,
                        (char *)out->data + k * out->stride[d] * (int64_t)esize, os);
    }
}

mt_status mt_index_select(const mt_tensor *x, int dim, const mt_tensor *index,
                          mt_tensor **out)
{
    int d;
    result_shape r;
    mt_status s = index_select_prepare(x, dim, index, &d, &r);
    mt_tensor *t;
    if (s || (s = result_new("index_select", &r, out, &t)))
        return s;
    index_select_run(x, d, index, t);
    *out = t;
    return MT_OK;
}

mt_status mt_index_select_into(const mt_tensor *x, int dim, const mt_tensor *index,
                               mt_tensor *out)
{
    const char *op = "index_select";
    int d;
    result_shape r;
    mt_status s = index_select_prepare(x, dim, index, &d, &r);
    if (s || (s = mt_check_out(op, out, r.dtype, r.rank, r.shape)) ||
        (s = check_apart(op, out, x, index)))
        return s;
    index_select_run(x, d, index, out);
    return MT_OK;
}

/* ---- embedding --------------------------------------------------------------- */

static mt_status embedding_prepare(const mt_tensor *indices, const mt_tensor *weight,
                                   result_shape *r)
{
    const char *op = "embedding";
    mt_status s = check_index_tensor(op, "indices", indices);
    if (s || (s = mt_tensor_check(op, "weight", weight)))
        return s;
    if (weight->rank != 2)
        return mt_fail(MT_ERR_SHAPE, "%s: weight %s must be [num, dim]", op,
                       MT_SHAPE(weight));
    if (indices->rank >= MT_MAX_RANK)
        return mt_fail(MT_ERR_SHAPE, "%s: indices %s: the result would exceed rank %d",
                       op, MT_SHAPE(indices), MT_MAX_RANK);
    if ((s = check_range(op, indices, 0, weight->shape[0])))
        return s;
    r->dtype = weight->dtype;
    r->rank = indices->rank + 1;
    for (int i = 0; i < indices->rank; i++)
        r->shape[i] = indices->shape[i];
    r->shape[indices->rank] = weight->shape[1];
    return MT_OK;
}

static void embedding_run(const mt_tensor *indices, const mt_tensor *weight,
                          mt_tensor *out)
{
    if (mt_tensor_numel(out) == 0)
        return;
    size_t esize = mt_dtype_size(weight->dtype);
    if (weight->stride[1] == 1 && mt_tensor_is_contiguous(out) &&
        mt_tensor_is_contiguous(indices)) {
        /* the token-lookup path: one memcpy per index, no index arithmetic */
        size_t row = (size_t)weight->shape[1] * esize;
        int64_t n = mt_tensor_numel(indices);
        const char *w = weight->data;
        char *o = out->data;
        for (int64_t i = 0; i < n; i++) {
            int64_t v = indices->dtype == MT_DTYPE_I32 ? ((const int32_t *)indices->data)[i]
                                                       : ((const int64_t *)indices->data)[i];
            memcpy(o + (size_t)i * row, w + v * weight->stride[0] * (int64_t)esize, row);
        }
        return;
    }
    int64_t row_shape[1] = {weight->shape[1]};
    int64_t ws[1] = {weight->stride[1]}, os[1] = {out->stride[out->rank - 1]};
    int64_t pos[MT_MAX_RANK] = {0};   /* pos[rank-1] stays 0: the row start */
    do {
        int64_t v = mt_index_at(indices, pos);
        mt_copy_strided(esize, 1, row_shape,
                        (const char *)weight->data + v * weight->stride[0] * (int64_t)esize,
                        ws, mt_element_ptr(out, pos), os);
    } while (mt_index_next(indices->rank, indices->shape, pos));
}

mt_status mt_embedding(const mt_tensor *indices, const mt_tensor *weight,
                       mt_tensor **out)
{
    result_shape r;
    mt_status s = embedding_prepare(indices, weight, &r);
    mt_tensor *t;
    if (s || (s = result_new("embedding", &r, out, &t)))
        return s;
    embedding_run(indices, weight, t);
    *out = t;
    return MT_OK;
}

mt_status mt_embedding_into(const mt_tensor *indices, const mt_tensor *weight,
                            mt_tensor *out)
{
    const char *op = "embedding";
    result_shape r;
    mt_status s = embedding_prepare(indices, weight, &r);
    if (s || (s = mt_check_out(op, out, r.dtype, r.rank, r.shape)) ||
        (s = check_apart(op, out, indices, weight)))
        return s;
    embedding_run(indices, weight, out);
    return MT_OK;
}

/* ---- take_along_dim ----------------------------------------------------------- */

static mt_status take_prepare(const mt_tensor *x, const mt_tensor *ix, int dim, int *d,
                              result_shape *r)
{
    const char *op = "take_along_dim";
    mt_status s = mt_tensor_check(op, "x", x);
    if (s || (s = check_index_tensor(op, "indices", ix)))
        return s;
    if (x->rank != ix->rank)
        return mt_fail(MT_ERR_SHAPE, "%s: x %s and indices %s must have the same rank",
                       op, MT_SHAPE(x), MT_SHAPE(ix));
    if (!mt_dim_resolve(dim, x->rank, d))
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "%s: dim %d out of range for x %s",
                       op, dim, MT_SHAPE(x));
    r->dtype = x->dtype;
    r->rank = x->rank;
    for (int i = 0; i < x->rank; i++) {
        int64_t a = x->shape[i], b = ix->shape[i];
        if (i == *d)
            r->shape[i] = b;
        else if (a == b || a == 1 || b == 1)
            r->shape[i] = a == 1 ? b : a;
        else
            return mt_fail(MT_ERR_SHAPE, "%s: x %s and indices %s do not broadcast "
                           "outside dim %d", op, MT_SHAPE(x), MT_SHAPE(ix), *d);
    }
    return check_range(op, ix, *d, x->shape[*d]);
}

/* t's strides over the result shape: 0 where t has size 1 and the result not. */
static void stretch(const mt_tensor *t, const int64_t *shape, int64_t *stride)
{
    for (int i = 0; i < t->rank; i++)
        stride[i] = t->shape[i] == 1 && shape[i] != 1 ? 0 : t->stride[i];
}

static void take_run(const mt_tensor *x, const mt_tensor *ix, int d, mt_tensor *out)
{
    if (mt_tensor_numel(out) == 0)
        return;
    size_t esize = mt_dtype_size(x->dtype);
    int rank = out->rank;
    int64_t xs[MT_MAX_RANK], is[MT_MAX_RANK];
    stretch(x, out->shape, xs);
    stretch(ix, out->shape, is);
    xs[d] = 0;   /* along dim the index value picks the element */
    bool wide = ix->dtype == MT_DTYPE_I64;
    int inner = rank - 1;
    int64_t n = out->shape[inner];
    int64_t pos[MT_MAX_RANK] = {0};
    do {
        int64_t xo = 0, io = 0, oo = 0;
        for (int i = 0; i < inner; i++) {
            xo += pos[i] * xs[i];
            io += pos[i] * is[i];
            oo += pos[i] * out->stride[i];
        }
        for (int64_t j = 0; j < n; j++) {
            int64_t at = io + j * is[inner];
            int64_t v = wide ? ((const int64_t *)ix->data)[at]
                             : ((const int32_t *)ix->data)[at];
            int64_t src = xo + j * xs[inner] + v * x->stride[d];
            memcpy((char *)out->data + (oo + j * out->stride[inner]) * (int64_t)esize,
                   (const char *)x->data + src * (int64_t)esize, esize);
        }
    } while (mt_index_next(inner, out->shape, pos));
}

mt_status mt_take_along_dim(const mt_tensor *x, const mt_tensor *indices, int dim,
                            mt_tensor **out)
{
    int d;
    result_shape r;
    mt_status s = take_prepare(x, indices, dim, &d, &r);
    mt_tensor *t;
    if (s || (s = result_new("take_along_dim", &r, out, &t)))
        return s;
    take_run(x, indices, d, t);
    *out = t;
    return MT_OK;
}

mt_status mt_take_along_dim_into(const mt_tensor *x, const mt_tensor *indices, int dim,
                                 mt_tensor *out)
{
    const char *op = "take_along_dim";
    int d;
    result_shape r;
    mt_status s = take_prepare(x, indices, dim, &d, &r);
    if (s || (s = mt_check_out(op, out, r.dtype, r.rank, r.shape)) ||
        (s = check_apart(op, out, x, indices)))
        return s;
    take_run(x, indices, d, out);
    return MT_OK;
}
