/* ops_shape.c — views (reshape, transpose) and whole-tensor sums on a tape. */
#include <math.h>
#include <stdio.h>

#include "tape_internal.h"

/* The gradient of a view is the same view of the output's gradient, taken
 * backwards: reshape back to the input's shape, or swap the dims again. */
static mt_status view_backward(mt_tape *tape, const tape_node *n)
{
    const mt_tensor *g = n->out->grad;   /* contiguous, the view's shape */
    mt_value *x = n->in[0];
    mt_tensor back;
    mt_status s = n->i >= 0
        ? mt_transpose_into(g, (int)(n->i >> 8), (int)(n->i & 0xff), &back)
        : mt_view_into(g, x->data->rank, x->data->shape, &back);
    mt_tensor *dst;
    if (s || (s = mt_grad_target(tape, x, &dst)) || !dst)
        return s;
    return (s = mt_tensor_copy_into(&back, dst)) ? s : mt_grad_commit(tape, x, dst);
}

static mt_status view_value(const char *op, mt_tape *tape, mt_value *x, mt_value **view,
                            value_slot **slot)
{
    mt_status s = mt_tape_check(op, tape, (const mt_value *[]){x}, 1, view);
    if (s)
        return s;
    if (x->data->dtype != MT_DTYPE_F32 && x->requires_grad)
        return mt_fail(MT_ERR_DTYPE, "%s: gradients need F32", op);
    *slot = mt_tape_slot(tape, op);
    return *slot ? MT_OK : MT_ERR_OUT_OF_MEMORY;
}

static mt_status view_finish(mt_tape *tape, const char *op, mt_value *x, value_slot *slot,
                             int64_t code, mt_value **out)
{
    slot->value.data = &slot->data_view;
    tape_node node = {.op = op, .backward = view_backward, .out = &slot->value,
                      .in = {x}, .i = code};
    mt_status s = mt_tape_record(tape, &node);
    if (s)
        return s;
    *out = &slot->value;
    return MT_OK;
}

mt_status mt_tape_reshape(mt_tape *tape, mt_value *x, int rank, const int64_t *shape,
                          mt_value **out)
{
    const char *op = "tape_reshape";
    value_slot *slot = NULL;
    mt_status s = view_value(op, tape, x, out, &slot);
    if (s)
        return s;
    if ((s = mt_view_into(x->data, rank, shape, &slot->data_view))) {
        if (mt_tensor_is_contiguous(x->data))
            return s;
        /* the plain op's hint (mt_reshape, mt_tensor_contiguous) would cut
         * the gradient off: name the tape's copy */
        char message[512];
        snprintf(message, sizeof message, "%s", mt_last_error());
        return mt_fail(s, "%s: %s (on a tape: mt_tape_contiguous, then reshape)", op, message);
    }
    return view_finish(tape, op, x, slot, -1, out);
}

mt_status mt_tape_transpose(mt_tape *tape, mt_value *x, int dim0, int dim1,
                            mt_value **out)
{
    const char *op = "tape_transpose";
    value_slot *slot = NULL;
    mt_status s = view_value(op, tape, x, out, &slot);
    if (s || (s = mt_transpose_into(x->data, dim0, dim1, &slot->data_view)))
        return s;
    int d0, d1;   /* resolved (non-negative) dims, packed in the node's integer */
    mt_dim_resolve(dim0, x->data->rank, &d0);
    mt_dim_resolve(dim1, x->data->rank, &d1);
    return view_finish(tape, op, x, slot, (int64_t)d0 << 8 | d1, out);
}

/* d x = g (a scalar) / count, everywhere. */
static mt_status fill_backward(mt_tape *tape, const tape_node *n)
{
    mt_tensor *dst;
    mt_status s = mt_grad_target(tape, n->in[0], &dst);
    if (s || !dst)
        return s;
    float g = *(const float *)n->out->grad->data;
    return (s = mt_tensor_fill(dst, g * n->f)) ? s : mt_grad_commit(tape, n->in[0], dst);
}

static mt_status sum_all(const char *op, bool mean, mt_tape *tape, mt_value *x,
                         mt_value **out)
{
    mt_status s = mt_tape_check(op, tape, (const mt_value *[]){x}, 1, out);
    if (s || (s = mt_check_f32(op, x->data)))
        return s;
    mt_value *v;
    if ((s = mt_tape_value(tape, op, 0, NULL, &v)))
        return s;
    int64_t count = mt_tensor_numel(x->data);
    double total = 0.0;
    if (count > 0) {
        int64_t index[MT_MAX_RANK] = {0};
        do
            total += *(const float *)mt_element_ptr(x->data, index);
        while (mt_index_next(x->data->rank, x->data->shape, index));
    }
    /* torch: the mean of nothing is NaN */
    float scale = mean ? (count ? 1.0f / (float)count : NAN) : 1.0f;
    *(float *)v->data->data = mean ? (float)(total / (double)count) : (float)total;
    tape_node node = {.op = op, .backward = fill_backward, .out = v, .in = {x}, .f = scale};
    if ((s = mt_tape_record(tape, &node)))
        return s;
    *out = v;
    return MT_OK;
}

mt_status mt_tape_sum_all(mt_tape *tape, mt_value *x, mt_value **out)
{ return sum_all("tape_sum_all", false, tape, x, out); }
mt_status mt_tape_mean_all(mt_tape *tape, mt_value *x, mt_value **out)
{ return sum_all("tape_mean_all", true, tape, x, out); }
