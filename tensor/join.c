/* join.c — concat (torch.cat) and stack: one strided copy per input. */
#include <stdio.h>

#include "minitensor/index.h"
#include "internal.h"

/* The inputs exist and share a dtype; first's rank is the reference. */
static mt_status check_inputs(const char *op, const mt_tensor *const *ts, int count)
{
    if (!ts)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "%s: tensors is NULL", op);
    if (count < 1)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "%s: count %d must be >= 1", op, count);
    for (int i = 0; i < count; i++) {
        char what[32];
        snprintf(what, sizeof what, "tensors[%d]", i);
        mt_status s = mt_tensor_check(op, what, ts[i]);
        if (s)
            return s;
        if (ts[i]->dtype != ts[0]->dtype)
            return mt_fail(MT_ERR_DTYPE, "%s: tensors[%d] %s is %s, tensors[0] is %s", op,
                           i, MT_SHAPE(ts[i]), mt_dtype_name(ts[i]->dtype),
                           mt_dtype_name(ts[0]->dtype));
    }
    return MT_OK;
}

static mt_status check_apart(const char *op, const mt_tensor *const *ts, int count,
                             const mt_tensor *out)
{
    for (int i = 0; i < count; i++)
        if (mt_tensors_overlap(out, ts[i]))
            return mt_fail(MT_ERR_INVALID_ARGUMENT, "%s: out %s overlaps tensors[%d] %s",
                           op, MT_SHAPE(out), i, MT_SHAPE(ts[i]));
    return MT_OK;
}

/* ---- concat ------------------------------------------------------------------- */

static mt_status concat_prepare(const mt_tensor *const *ts, int count, int dim, int *d,
                                int64_t *shape)
{
    const char *op = "concat";
    mt_status s = check_inputs(op, ts, count);
    if (s)
        return s;
    int rank = ts[0]->rank;
    if (rank == 0)
        return mt_fail(MT_ERR_SHAPE, "%s: tensors[0] is a scalar; concat needs rank >= 1",
                       op);
    if (!mt_dim_resolve(dim, rank, d))
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "%s: dim %d out of range for %s", op, dim,
                       MT_SHAPE(ts[0]));
    for (int i = 0; i < rank; i++)
        shape[i] = ts[0]->shape[i];
    for (int k = 1; k < count; k++) {
        const mt_tensor *t = ts[k];
        bool fits = t->rank == rank;
        for (int i = 0; fits && i < rank; i++)
            fits = i == *d || t->shape[i] == shape[i];
        if (!fits)
            return mt_fail(MT_ERR_SHAPE, "%s: tensors[%d] %s does not match tensors[0] %s "
                           "outside dim %d", op, k, MT_SHAPE(t), MT_SHAPE(ts[0]), *d);
        if (shape[*d] > INT64_MAX - t->shape[*d])
            return mt_fail(MT_ERR_OVERFLOW, "%s: size along dim %d overflows", op, *d);
        shape[*d] += t->shape[*d];
    }
    return MT_OK;
}

static void concat_run(const mt_tensor *const *ts, int count, int d, mt_tensor *out)
{
    size_t esize = mt_dtype_size(out->dtype);
    int64_t at = 0;
    for (int k = 0; k < count; k++) {
        const mt_tensor *t = ts[k];
        mt_copy_strided(esize, t->rank, t->shape, t->data, t->stride,
                        (char *)out->data + at * out->stride[d] * (int64_t)esize,
                        out->stride);
        at += t->shape[d];
    }
}

mt_status mt_concat(const mt_tensor *const *tensors, int count, int dim, mt_tensor **out)
{
    int d;
    int64_t shape[MT_MAX_RANK];
    mt_status s = concat_prepare(tensors, count, dim, &d, shape);
    if (s)
        return s;
    if (!out)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "concat: out is NULL");
    mt_tensor *t;
    if ((s = mt_tensor_alloc("concat", tensors[0]->dtype, tensors[0]->rank, shape,
                             &t)))
        return s;
    concat_run(tensors, count, d, t);
    *out = t;
    return MT_OK;
}

mt_status mt_concat_into(const mt_tensor *const *tensors, int count, int dim,
                         mt_tensor *out)
{
    int d;
    int64_t shape[MT_MAX_RANK];
    mt_status s = concat_prepare(tensors, count, dim, &d, shape);
    if (s || (s = mt_check_out("concat", out, tensors[0]->dtype, tensors[0]->rank, shape)) ||
        (s = check_apart("concat", tensors, count, out)))
        return s;
    concat_run(tensors, count, d, out);
    return MT_OK;
}

/* ---- stack -------------------------------------------------------------------- */

static mt_status stack_prepare(const mt_tensor *const *ts, int count, int dim, int *d,
                               int64_t *shape)
{
    const char *op = "stack";
    mt_status s = check_inputs(op, ts, count);
    if (s)
        return s;
    int rank = ts[0]->rank;
    if (rank >= MT_MAX_RANK || !mt_dim_resolve(dim, rank + 1, d))
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "%s: dim %d out of range for %s "
                       "(result rank at most %d)", op, dim, MT_SHAPE(ts[0]), MT_MAX_RANK);
    for (int k = 1; k < count; k++)
        if (!mt_tensor_same_shape(ts[k], ts[0]))
            return mt_fail(MT_ERR_SHAPE, "%s: tensors[%d] %s differs from tensors[0] %s",
                           op, k, MT_SHAPE(ts[k]), MT_SHAPE(ts[0]));
    for (int i = 0, j = 0; i <= rank; i++)
        shape[i] = i == *d ? count : ts[0]->shape[j++];
    return MT_OK;
}

static void stack_run(const mt_tensor *const *ts, int count, int d, mt_tensor *out)
{
    size_t esize = mt_dtype_size(out->dtype);
    int64_t os[MT_MAX_RANK];
    for (int i = 0, j = 0; i < out->rank; i++)
        if (i != d)
            os[j++] = out->stride[i];
    for (int k = 0; k < count; k++) {
        const mt_tensor *t = ts[k];
        mt_copy_strided(esize, t->rank, t->shape, t->data, t->stride,
                        (char *)out->data + k * out->stride[d] * (int64_t)esize, os);
    }
}

mt_status mt_stack(const mt_tensor *const *tensors, int count, int dim, mt_tensor **out)
{
    int d;
    int64_t shape[MT_MAX_RANK];
    mt_status s = stack_prepare(tensors, count, dim, &d, shape);
    if (s)
        return s;
    if (!out)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "stack: out is NULL");
    mt_tensor *t;
    if ((s = mt_tensor_alloc("stack", tensors[0]->dtype, tensors[0]->rank + 1, shape,
                             &t)))
        return s;
    stack_run(tensors, count, d, t);
    *out = t;
    return MT_OK;
}

mt_status mt_stack_into(const mt_tensor *const *tensors, int count, int dim,
                        mt_tensor *out)
{
    int d;
    int64_t shape[MT_MAX_RANK];
    mt_status s = stack_prepare(tensors, count, dim, &d, shape);
    if (s || (s = mt_check_out("stack", out, tensors[0]->dtype, tensors[0]->rank + 1,
                               shape)) ||
        (s = check_apart("stack", tensors, count, out)))
        return s;
    stack_run(tensors, count, d, out);
    return MT_OK;
}
