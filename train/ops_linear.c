/* ops_linear.c — matmul and the fused linear layer on a tape. */
#include "tape_ops_internal.h"
#include "../tensor/unary_ops.h"

/* The view of t with its last two dims swapped (t stays alive). */
static mt_status swap_last(const mt_tensor *t, mt_tensor *view)
{
    return mt_transpose_into(t, -1, -2, view);
}

/* v's gradient += a · b, where a · b may have extra (broadcast) batch dims
 * that are summed away. */
static mt_status add_product(mt_tape *tape, const char *op, mt_value *v,
                             const mt_tensor *a, const mt_tensor *b)
{
    if (!v || !v->requires_grad)
        return MT_OK;
    int rank = a->rank > b->rank ? a->rank : b->rank;
    int64_t shape[MT_MAX_RANK];
    for (int i = 0; i < rank - 2; i++) {
        int da = a->rank - rank + i, db = b->rank - rank + i;
        int64_t sa = da >= 0 ? a->shape[da] : 1, sb = db >= 0 ? b->shape[db] : 1;
        shape[i] = sa == 1 ? sb : sa;
    }
    shape[rank - 2] = a->shape[a->rank - 2];
    shape[rank - 1] = b->shape[b->rank - 1];
    mt_tensor full;
    mt_tensor_init_contiguous(&full, MT_DTYPE_F32, rank, shape, NULL);
    mt_tensor *dst;
    mt_status s;
    if (mt_tensor_same_shape(&full, v->data)) {
        if ((s = mt_grad_target(tape, v, &dst)) || (s = mt_matmul_into(a, b, dst)))
            return s;
        return mt_grad_commit(tape, v, dst);
    }
    mt_tensor *tmp;
    if ((s = mt_tape_scratch(tape, op, rank, shape, &tmp)) || (s = mt_matmul_into(a, b, tmp)))
        return s;
    return mt_grad_add_reduced(tape, v, tmp);
}

/* C = A·B: dA = dC·Bᵀ, dB = Aᵀ·dC. */
static mt_status matmul_backward(mt_tape *tape, const tape_node *n)
{
    const mt_tensor *g = n->out->grad;
    mt_value *a = n->in[0], *b = n->in[1];
    mt_tensor bt, at;
    mt_status s = swap_last(b->data, &bt);
    if (s || (s = add_product(tape, n->op, a, g, &bt)) || (s = swap_last(a->data, &at)))
        return s;
    return add_product(tape, n->op, b, &at, g);
}

mt_status mt_tape_matmul(mt_tape *tape, mt_value *a, mt_value *b, mt_value **out)
{
    const char *op = "tape_matmul";
    mt_status s = mt_tape_check(op, tape, (const mt_value *[]){a, b}, 2, out);
    if (s)
        return s;
    const mt_tensor *ta = a->data, *tb = b->data;
    if (ta->rank < 2 || tb->rank < 2)
        return mt_fail(MT_ERR_SHAPE, "%s: both inputs need rank >= 2, got %s and %s "
                       "(unsqueeze a vector first)", op, MT_SHAPE(ta), MT_SHAPE(tb));
    int rank = ta->rank > tb->rank ? ta->rank : tb->rank;
    int64_t shape[MT_MAX_RANK];
    for (int i = 0; i < rank - 2; i++) {
        int da = ta->rank - rank + i, db = tb->rank - rank + i;
        int64_t sa = da >= 0 ? ta->shape[da] : 1, sb = db >= 0 ? tb->shape[db] : 1;
        if (sa != sb && sa != 1 && sb != 1)
            return mt_fail(MT_ERR_SHAPE, "%s: batch dims do not broadcast: %s x %s", op,
                           MT_SHAPE(ta), MT_SHAPE(tb));
        shape[i] = sa == 1 ? sb : sa;
    }
    if (ta->shape[ta->rank - 1] != tb->shape[tb->rank - 2])
        return mt_fail(MT_ERR_SHAPE, "%s: inner dimensions differ: %s x %s", op,
                       MT_SHAPE(ta), MT_SHAPE(tb));
    shape[rank - 2] = ta->shape[ta->rank - 2];
    shape[rank - 1] = tb->shape[tb->rank - 1];
    mt_value *v;
    if ((s = mt_tape_value(tape, op, rank, shape, &v)) || (s = mt_matmul_into(ta, tb, v->data)))
        return s;
    tape_node node = {.op = op, .backward = matmul_backward, .out = v, .in = {a, b}};
    if ((s = mt_tape_record(tape, &node)))
        return s;
    *out = v;
    return MT_OK;
}

/* y = act(x·w + bias): dz = dy·act'(z), dx = dz·wᵀ, dw = xᵀ·dz, dbias = Σ_rows dz. */
static mt_status linear_backward(mt_tape *tape, const tape_node *n)
{
    const mt_tensor *dz = n->out->grad;
    mt_value *x = n->in[0], *w = n->in[1], *bias = n->in[2];
    mt_status s;
    if (n->act != MT_ACTIVATION_NONE) {
        mt_tensor *pre;   /* g · act'(z), z the saved pre-activation */
        if ((s = mt_tape_scratch(tape, n->op, dz->rank, dz->shape, &pre)))
            return s;
        const mt_tensor *z = n->saved ? n->saved : n->out->data;   /* relu: y stands in */
        mt_tape_activation_backward(n->act, z, n->out->data, dz, pre);
        dz = pre;
    }
    mt_tensor wt, xt;
    if ((s = swap_last(w->data, &wt)) || (s = add_product(tape, n->op, x, dz, &wt)) ||
        (s = swap_last(x->data, &xt)) || (s = add_product(tape, n->op, w, &xt, dz)))
        return s;
    return bias ? mt_grad_add_reduced(tape, bias, dz) : MT_OK;
}

mt_status mt_tape_linear(mt_tape *tape, mt_value *x, mt_value *w, mt_value *bias,
                         mt_activation act, mt_value **out)
{
    const char *op = "tape_linear";
    mt_status s = mt_tape_check(op, tape, (const mt_value *[]){x, w}, 2, out);
    if (s)
        return s;
    if ((s = mt_activation_check(op, act)))
        return s;
    const mt_tensor *tx = x->data, *tw = w->data;
    if (tx->rank != 2 || tw->rank != 2 || tx->shape[1] != tw->shape[0])
        return mt_fail(MT_ERR_SHAPE, "%s: x %s and w %s must be [N,in] and [in,out]", op,
                       MT_SHAPE(tx), MT_SHAPE(tw));
    if (bias && (!bias->data || bias->data->rank != 1 ||
                 bias->data->shape[0] != tw->shape[1]))
        return mt_fail(MT_ERR_SHAPE, "%s: bias must be [%lld]", op,
                       (long long)tw->shape[1]);
    if (bias && (s = mt_tape_owns(op, tape, bias, "bias")))
        return s;
    mt_value *v;
    const int64_t shape[2] = {tx->shape[0], tw->shape[1]};
    const mt_tensor *tb = bias ? bias->data : NULL;
    mt_tensor *z = NULL;   /* the pre-activation, kept for act' */
    if ((s = mt_tape_value(tape, op, 2, shape, &v)))
        return s;
    /* relu' needs only y (torch's rule: y > 0), so relu stays fused; the other
     * activations' derivatives need z, kept beside y */
    if (act == MT_ACTIVATION_NONE || act == MT_ACTIVATION_RELU) {
        if ((s = mt_matmul_fused_into(tx, tw, tb, act, v->data)))
            return s;
    } else {
        if ((s = mt_tape_scratch(tape, op, 2, shape, &z)) ||
            (s = mt_matmul_fused_into(tx, tw, tb, MT_ACTIVATION_NONE, z)) ||
            (s = mt_tensor_copy_into(z, v->data)))
            return s;
        mt_activation_rows(act, v->data->data, shape[0], shape[1], shape[1], 1);
    }
    tape_node node = {.op = op, .backward = linear_backward, .out = v,
                      .in = {x, w, bias}, .act = act, .saved = z};
    if ((s = mt_tape_record(tape, &node)))
        return s;
    *out = v;
    return MT_OK;
}
