/* map.c — the elementwise driver: validation, broadcasting, the row walk. */
#include "map.h"

enum { MAX_OPERANDS = MT_MAP_MAX_IN + 1 };

/* out shape = broadcast of all inputs; false if some aligned dims differ
 * and neither is 1. */
static bool broadcast_shape(int n, const mt_tensor *const *in, int *rank, int64_t *shape)
{
    int r = 0;
    for (int k = 0; k < n; k++)
        r = in[k]->rank > r ? in[k]->rank : r;
    for (int i = 0; i < r; i++) {
        int64_t size = 1;
        for (int k = 0; k < n; k++) {
            int d = in[k]->rank - r + i;
            int64_t s = d >= 0 ? in[k]->shape[d] : 1;
            if (s != 1 && size != 1 && s != size)
                return false;
            if (s != 1)
                size = s;
        }
        shape[i] = size;
    }
    *rank = r;
    return true;
}

/* t's strides aligned to an output of `rank` dims: 0 where t broadcasts. */
static void broadcast_strides(const mt_tensor *t, int rank, const int64_t *shape,
                              int64_t *stride)
{
    for (int i = 0; i < rank; i++) {
        int d = t->rank - rank + i;
        stride[i] = (d < 0 || (t->shape[d] == 1 && shape[i] != 1)) ? 0 : t->stride[d];
    }
}

static bool same_view(const mt_tensor *x, const mt_tensor *y)
{
    if (x->data != y->data || x->dtype != y->dtype || x->rank != y->rank)
        return false;
    for (int d = 0; d < x->rank; d++)
        if (x->shape[d] != y->shape[d] || x->stride[d] != y->stride[d])
            return false;
    return true;
}

static mt_status check_inputs(const mt_map_op *op, const mt_tensor *const *in, int *rank,
                              int64_t *shape)
{
    mt_status s;
    for (int k = 0; k < op->n_in; k++) {
        const mt_tensor *t = in[k];
        if ((s = mt_tensor_check(op->name, op->in_name[k], t)))
            return s;
        if (op->in_dtype[k] == MT_DTYPE_F32 && (s = mt_check_f32(op->name, t)))
            return s;
        if (t->dtype != op->in_dtype[k])
            return mt_fail(MT_ERR_DTYPE, "%s: %s %s has dtype %s; expected %s", op->name,
                           op->in_name[k], MT_SHAPE(t), mt_dtype_name(t->dtype),
                           mt_dtype_name(op->in_dtype[k]));
    }
    if (!broadcast_shape(op->n_in, in, rank, shape)) {
        if (op->n_in == 2)
            return mt_fail(MT_ERR_SHAPE, "%s: shapes do not broadcast: %s %s and %s %s",
                           op->name, op->in_name[0], MT_SHAPE(in[0]), op->in_name[1],
                           MT_SHAPE(in[1]));
        return mt_fail(MT_ERR_SHAPE, "%s: shapes do not broadcast: %s %s, %s %s and %s %s",
                       op->name, op->in_name[0], MT_SHAPE(in[0]), op->in_name[1],
                       MT_SHAPE(in[1]), op->in_name[2], MT_SHAPE(in[2]));
    }
    return MT_OK;
}

/* out: valid, the result's dtype and shape, no element written twice, and
 * either the same view as an input (in place) or disjoint from it. */
static mt_status check_out(const mt_map_op *op, const mt_tensor *const *in,
                           const mt_tensor *out, int rank, const int64_t *shape)
{
    mt_status s = mt_tensor_check(op->name, "out", out);
    if (s)
        return s;
    if (out->dtype != op->out_dtype)
        return mt_fail(MT_ERR_DTYPE, "%s: out %s has dtype %s; the result is %s", op->name,
                       MT_SHAPE(out), mt_dtype_name(out->dtype),
                       mt_dtype_name(op->out_dtype));
    mt_tensor want;
    mt_tensor_init_contiguous(&want, op->out_dtype, rank, shape, NULL);
    if (!mt_tensor_same_shape(out, &want))
        return mt_fail(MT_ERR_SHAPE, "%s: out is %s, result is %s", op->name, MT_SHAPE(out),
                       MT_SHAPE(&want));
    for (int d = 0; d < out->rank; d++)
        if (out->stride[d] == 0 && out->shape[d] > 1)
            return mt_fail(MT_ERR_INVALID_ARGUMENT, "%s: out %s has stride 0 in dim %d: "
                           "its elements share memory", op->name, MT_SHAPE(out), d);
    for (int k = 0; k < op->n_in; k++)
        if (mt_tensors_overlap(out, in[k]) && !same_view(out, in[k]))
            return mt_fail(MT_ERR_INVALID_ARGUMENT, "%s: out %s partially overlaps %s %s "
                           "(in place needs the very same view)", op->name, MT_SHAPE(out),
                           op->in_name[k], MT_SHAPE(in[k]));
    return MT_OK;
}

/* Walks out in rows of its (merged) innermost dim. */
static void map_run(const mt_map_op *op, const mt_tensor *const *in, const void *ctx,
                    mt_tensor *out)
{
    if (mt_tensor_numel(out) == 0)
        return;
    const int n_ops = op->n_in + 1, rank = out->rank;
    int64_t bst[MAX_OPERANDS][MT_MAX_RANK];
    for (int k = 0; k < op->n_in; k++)
        broadcast_strides(in[k], rank, out->shape, bst[k]);
    for (int d = 0; d < rank; d++)
        bst[op->n_in][d] = out->stride[d];

    // merge dim d into the previous one when every operand steps evenly across
    int r = 0;
    int64_t shape[MT_MAX_RANK], st[MAX_OPERANDS][MT_MAX_RANK];
    for (int d = 0; d < rank; d++) {
        if (out->shape[d] == 1)
            continue;
        bool merge = r > 0;
        for (int k = 0; k < n_ops && merge; k++)
            merge = st[k][r - 1] == bst[k][d] * out->shape[d];
        if (!merge)
            shape[r++] = 1;
        shape[r - 1] *= out->shape[d];
        for (int k = 0; k < n_ops; k++)
            st[k][r - 1] = bst[k][d];
    }
    if (r == 0) { // a single element
        shape[r++] = 1;
        for (int k = 0; k < n_ops; k++)
            st[k][0] = 0;
    }

    char *base[MAX_OPERANDS];
    int64_t esize[MAX_OPERANDS], inner[MAX_OPERANDS];
    for (int k = 0; k < n_ops; k++) {
        const mt_tensor *t = k < op->n_in ? in[k] : out;
        base[k] = (char *)t->data;
        esize[k] = (int64_t)mt_dtype_size(t->dtype);
        inner[k] = st[k][r - 1];
    }
    int64_t index[MT_MAX_RANK] = {0};
    void *p[MAX_OPERANDS];
    do {
        for (int k = 0; k < n_ops; k++) {
            int64_t off = 0;
            for (int d = 0; d < r - 1; d++)
                off += index[d] * st[k][d];
            p[k] = base[k] + off * esize[k];
        }
        op->row(shape[r - 1], p, inner, ctx);
    } while (mt_index_next(r - 1, shape, index));
}

mt_status mt_map_into(const mt_map_op *op, const mt_tensor *const *in, const void *ctx,
                      mt_tensor *out)
{
    int rank = 0;
    int64_t shape[MT_MAX_RANK];
    mt_status s = check_inputs(op, in, &rank, shape);
    if (s || (s = check_out(op, in, out, rank, shape)))
        return s;
    map_run(op, in, ctx, out);
    return MT_OK;
}

mt_status mt_map_new(const mt_map_op *op, const mt_tensor *const *in, const void *ctx,
                     mt_tensor **out)
{
    int rank = 0;
    int64_t shape[MT_MAX_RANK];
    mt_status s = check_inputs(op, in, &rank, shape);
    if (s)
        return s;
    if (!out)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "%s: out is NULL", op->name);
    mt_tensor *t;
    if ((s = mt_tensor_zeros(op->out_dtype, rank, shape, &t)))
        return s;
    map_run(op, in, ctx, t);
    *out = t;
    return MT_OK;
}
