/* elementwise.c — add/sub/mul with NumPy broadcasting, scale, relu. */
#include "minitensor/ops.h"
#include "internal.h"

typedef enum { OP_ADD, OP_SUB, OP_MUL, OP_SCALE, OP_RELU } map_op;

static const char *const op_names[] = {"add", "sub", "mul", "scale", "relu"};

/* out shape = broadcast(a, b); false if some aligned dims differ and neither is 1. */
static bool broadcast_shape(const mt_tensor *a, const mt_tensor *b, int *rank,
                            int64_t *shape)
{
    int r = a->rank > b->rank ? a->rank : b->rank;
    for (int i = 0; i < r; i++) {
        int da = a->rank - r + i, db = b->rank - r + i;
        int64_t sa = da >= 0 ? a->shape[da] : 1;
        int64_t sb = db >= 0 ? b->shape[db] : 1;
        if (sa != sb && sa != 1 && sb != 1)
            return false;
        shape[i] = sa == 1 ? sb : sa;
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

/* One row of the output: n elements along the last dim. */
static void map_row(map_op op, float s, int64_t n, const float *a, int64_t sa,
                    const float *b, int64_t sb, float *o, int64_t so)
{
    switch (op) {
    case OP_ADD: for (int64_t i = 0; i < n; i++) o[i * so] = a[i * sa] + b[i * sb]; break;
    case OP_SUB: for (int64_t i = 0; i < n; i++) o[i * so] = a[i * sa] - b[i * sb]; break;
    case OP_MUL: for (int64_t i = 0; i < n; i++) o[i * so] = a[i * sa] * b[i * sb]; break;
    case OP_SCALE: for (int64_t i = 0; i < n; i++) o[i * so] = a[i * sa] * s; break;
    case OP_RELU:
        for (int64_t i = 0; i < n; i++) {
            float v = a[i * sa];
            o[i * so] = v < 0.0f ? 0.0f : v;  /* NaN stays NaN */
        }
        break;
    }
}

/* Applies op over out's shape; b is NULL for unary ops. */
static void map_apply(map_op op, float s, const mt_tensor *a, const mt_tensor *b,
                      mt_tensor *out)
{
    int rank = out->rank;
    if (mt_tensor_numel(out) == 0)
        return;
    int64_t sa[MT_MAX_RANK], sb[MT_MAX_RANK] = {0};
    broadcast_strides(a, rank, out->shape, sa);
    if (b)
        broadcast_strides(b, rank, out->shape, sb);
    int64_t n = rank ? out->shape[rank - 1] : 1;
    int64_t last_a = rank ? sa[rank - 1] : 0, last_b = rank ? sb[rank - 1] : 0;
    int64_t last_o = rank ? out->stride[rank - 1] : 0;
    int64_t index[MT_MAX_RANK] = {0};
    int outer_rank = rank ? rank - 1 : 0;
    do {
        int64_t oa = 0, ob = 0, oo = 0;
        for (int d = 0; d < outer_rank; d++) {
            oa += index[d] * sa[d];
            ob += index[d] * sb[d];
            oo += index[d] * out->stride[d];
        }
        const float *pb = b ? (const float *)b->data + ob : NULL;
        map_row(op, s, n, (const float *)a->data + oa, last_a, pb, last_b,
                (float *)out->data + oo, last_o);
    } while (mt_index_next(outer_rank, out->shape, index));
}

static mt_status check_out(const char *op, const mt_tensor *out, int rank,
                           const int64_t *shape)
{
    mt_status s = mt_check_tensor(op, "out", out);
    if (s || (s = mt_check_f32(op, out)))
        return s;
    mt_tensor want;
    mt_tensor_init_contiguous(&want, MT_DTYPE_F32, rank, shape, NULL);
    if (!mt_tensor_same_shape(out, &want))
        return mt_fail(MT_ERR_SHAPE, "%s: out is %s, result is %s", op, MT_SHAPE(out),
                       MT_SHAPE(&want));
    return MT_OK;
}

/* Validates inputs and computes the result shape. */
static mt_status map_prepare(map_op op, const mt_tensor *a, const mt_tensor *b,
                             bool binary, int *rank, int64_t *shape)
{
    const char *name = op_names[op];
    mt_status s = mt_check_tensor(name, "a", a);
    if (s || (s = mt_check_f32(name, a)))
        return s;
    if (!binary) {
        *rank = a->rank;
        for (int d = 0; d < a->rank; d++)
            shape[d] = a->shape[d];
        return MT_OK;
    }
    if ((s = mt_check_tensor(name, "b", b)) || (s = mt_check_f32(name, b)))
        return s;
    if (!broadcast_shape(a, b, rank, shape))
        return mt_fail(MT_ERR_SHAPE, "%s: shapes do not broadcast: %s and %s", name,
                       MT_SHAPE(a), MT_SHAPE(b));
    return MT_OK;
}

static mt_status map_into(map_op op, float s, const mt_tensor *a, const mt_tensor *b,
                          bool binary, mt_tensor *out)
{
    int rank = 0;
    int64_t shape[MT_MAX_RANK];
    mt_status st = map_prepare(op, a, b, binary, &rank, shape);
    if (st || (st = check_out(op_names[op], out, rank, shape)))
        return st;
    map_apply(op, s, a, b, out);
    return MT_OK;
}

static mt_status map_new(map_op op, float s, const mt_tensor *a, const mt_tensor *b,
                         bool binary, mt_tensor **out)
{
    int rank = 0;
    int64_t shape[MT_MAX_RANK];
    mt_status st = map_prepare(op, a, b, binary, &rank, shape);
    if (st)
        return st;
    if (!out)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "%s: out is NULL", op_names[op]);
    mt_tensor *t;
    if ((st = mt_tensor_zeros(MT_DTYPE_F32, rank, shape, &t)))
        return st;
    map_apply(op, s, a, b, t);
    *out = t;
    return MT_OK;
}

mt_status mt_add(const mt_tensor *a, const mt_tensor *b, mt_tensor **out)
{ return map_new(OP_ADD, 0, a, b, true, out); }
mt_status mt_add_into(const mt_tensor *a, const mt_tensor *b, mt_tensor *out)
{ return map_into(OP_ADD, 0, a, b, true, out); }
mt_status mt_sub(const mt_tensor *a, const mt_tensor *b, mt_tensor **out)
{ return map_new(OP_SUB, 0, a, b, true, out); }
mt_status mt_sub_into(const mt_tensor *a, const mt_tensor *b, mt_tensor *out)
{ return map_into(OP_SUB, 0, a, b, true, out); }
mt_status mt_mul(const mt_tensor *a, const mt_tensor *b, mt_tensor **out)
{ return map_new(OP_MUL, 0, a, b, true, out); }
mt_status mt_mul_into(const mt_tensor *a, const mt_tensor *b, mt_tensor *out)
{ return map_into(OP_MUL, 0, a, b, true, out); }
mt_status mt_scale(const mt_tensor *t, float s, mt_tensor **out)
{ return map_new(OP_SCALE, s, t, NULL, false, out); }
mt_status mt_scale_into(const mt_tensor *t, float s, mt_tensor *out)
{ return map_into(OP_SCALE, s, t, NULL, false, out); }
mt_status mt_relu(const mt_tensor *t, mt_tensor **out)
{ return map_new(OP_RELU, 0, t, NULL, false, out); }
mt_status mt_relu_into(const mt_tensor *t, mt_tensor *out)
{ return map_into(OP_RELU, 0, t, NULL, false, out); }
