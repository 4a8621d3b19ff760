/* ops_attention.c — scaled dot-product attention on a tape, composed from
 * tape ops (matmul, mul_scalar, where/add, softmax, matmul): its gradient is
 * theirs. The scores [.., Lq, Lk] are kept for the backward. */
#include <math.h>

#include "tape_ops_internal.h"

/* A constant value over a fresh arena tensor of shape (filled by caller). */
static mt_status arena_constant(mt_tape *tape, const char *op, mt_dtype dtype, int rank,
                                const int64_t *shape, mt_tensor **t, mt_value **v)
{
    mt_status s = mt_arena_tensor(tape->arena, dtype, rank, shape, t);
    if (s)
        return tape_fail_prefixed(s, op);
    return mt_tape_constant(tape, *t, v);
}

mt_status mt_tape_scaled_dot_product_attention(mt_tape *tape, mt_value *q, mt_value *k,
                                               mt_value *v, const mt_tensor *mask,
                                               bool causal, float scale, mt_value **out)
{
    const char *op = "tape_scaled_dot_product_attention";
    mt_status s = mt_tape_check(op, tape, (const mt_value *[]){q, k, v}, 3, out);
    if (s)
        return s;
    const mt_tensor *tq = q->data, *tk = k->data, *tv = v->data;
    if (tq->rank < 2 || tk->rank < 2 || tv->rank < 2 ||
        tq->shape[tq->rank - 1] != tk->shape[tk->rank - 1] ||
        tk->shape[tk->rank - 2] != tv->shape[tv->rank - 2])
        return mt_fail(MT_ERR_SHAPE, "%s: q %s, k %s, v %s must be [.., Lq, E], [.., Lk, E], "
                       "[.., Lk, Ev]", op, MT_SHAPE(tq), MT_SHAPE(tk), MT_SHAPE(tv));
    if (mask && mask->dtype != MT_DTYPE_BOOL && mask->dtype != MT_DTYPE_F32)
        return mt_fail(MT_ERR_DTYPE, "%s: mask %s must be BOOL (true: attend) or F32 (added)",
                       op, MT_SHAPE(mask));
    int64_t lq = tq->shape[tq->rank - 2], lk = tk->shape[tk->rank - 2];
    /* torch: scale None -> 1/sqrt(E) */
    if (!(scale > 0.0f) && !(scale < 0.0f))
        scale = 1.0f / sqrtf((float)tq->shape[tq->rank - 1]);
    mt_value *kt, *scores, *scaled, *masked, *p, *neg_inf = NULL;
    if ((s = mt_tape_transpose(tape, k, -1, -2, &kt)) ||
        (s = mt_tape_matmul(tape, q, kt, &scores)) ||
        (s = mt_tape_mul_scalar(tape, scores, scale, &scaled)))
        return s;
    // the mask broadcasts to the scores (it must not widen them)
    const mt_tensor *ts = scores->data;
    bool fits = !mask || mask->rank <= ts->rank;
    for (int i = 1; fits && i <= (mask ? mask->rank : 0); i++) {
        int64_t m = mask->shape[mask->rank - i];
        fits = m == 1 || m == ts->shape[ts->rank - i];
    }
    if (!fits)
        return mt_fail(MT_ERR_SHAPE, "%s: mask %s does not broadcast to the scores %s "
                       "([.., Lq, Lk])", op, MT_SHAPE(mask), MT_SHAPE(ts));
    masked = scaled;
    if (causal || (mask && mask->dtype == MT_DTYPE_BOOL)) {
        mt_tensor *fill;
        if ((s = arena_constant(tape, op, MT_DTYPE_F32, 0, NULL, &fill, &neg_inf)))
            return s;
        *(float *)fill->data = -INFINITY;
    }
    if (causal) {
        /* torch is_causal: the top-left lower triangle, tril(ones(Lq, Lk)) */
        mt_tensor *tril;
        if ((s = mt_arena_tensor(tape->arena, MT_DTYPE_BOOL, 2, (int64_t[]){lq, lk}, &tril)))
            return tape_fail_prefixed(s, op);
        bool *b = tril->data;
        for (int64_t i = 0; i < lq; i++)
            for (int64_t j = 0; j < lk; j++)
                b[i * lk + j] = j <= i;
        if ((s = mt_tape_where(tape, tril, masked, neg_inf, &masked)))
            return s;
    }
    if (mask && mask->dtype == MT_DTYPE_BOOL) {
        if ((s = mt_tape_where(tape, mask, masked, neg_inf, &masked)))
            return s;
    } else if (mask) {
        mt_value *add;
        if ((s = mt_tape_constant(tape, mask, &add)) ||
            (s = mt_tape_add(tape, masked, add, &masked)))
            return s;
    }
    if ((s = mt_tape_softmax(tape, masked, -1, &p)))
        return s;
    return mt_tape_matmul(tape, p, v, out);
}

/* ---- contiguous: a copy (for a reshape that a view cannot do) ----------------- */

static mt_status copy_backward(mt_tape *tape, const tape_node *n)
{
    return mt_grad_add_reduced(tape, n->in[0], n->out->grad);
}

mt_status mt_tape_contiguous(mt_tape *tape, mt_value *x, mt_value **out)
{
    const char *op = "tape_contiguous";
    mt_status s = mt_tape_check(op, tape, (const mt_value *[]){x}, 1, out);
    if (s || (s = mt_check_f32(op, x->data)))
        return s;
    mt_value *v;
    if ((s = mt_tape_value(tape, op, x->data->rank, x->data->shape, &v)) ||
        (s = mt_tensor_copy_into(x->data, v->data)))
        return s;
    tape_node node = {.op = op, .backward = copy_backward, .out = v, .in = {x}};
    if ((s = mt_tape_record(tape, &node)))
        return s;
    *out = v;
    return MT_OK;
}
