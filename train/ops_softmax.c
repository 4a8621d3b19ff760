/* ops_softmax.c — softmax and log_softmax along a dim on a tape. */
#include <math.h>

#include "tape_internal.h"

static mt_status softmax_backward(mt_tape *tape, const tape_node *n)
{
    mt_value *x = n->in[0];
    mt_tensor *dst;
    mt_status s = mt_grad_target(tape, x, &dst);
    if (s || !dst)
        return s;
    const mt_tensor *y = n->out->data, *g = n->out->grad;   /* both contiguous */
    bool log_form = n->f != 0.0f;
    int d = (int)n->i;
    int64_t len = y->shape[d], step = y->stride[d];
    int64_t outer[MT_MAX_RANK];
    for (int i = 0; i < y->rank; i++)
        outer[i] = i == d ? 1 : y->shape[i];
    if (mt_tensor_numel(y) == 0)
        return mt_grad_commit(tape, x, dst);
    int64_t index[MT_MAX_RANK] = {0};
    do {
        int64_t off = 0;
        for (int i = 0; i < y->rank; i++)
            off += index[i] * y->stride[i];
        const float *py = (const float *)y->data + off, *pg = (const float *)g->data + off;
        float *pd = (float *)dst->data + off;
        double dot = 0.0;
        for (int64_t k = 0; k < len; k++)
            dot += log_form ? pg[k * step] : (double)pg[k * step] * py[k * step];
        for (int64_t k = 0; k < len; k++) {
            float yk = py[k * step], gk = pg[k * step];
            /* softmax: y (g - Σ g y); log_softmax: g - exp(y) Σ g */
            pd[k * step] = log_form ? (float)(gk - expf(yk) * dot)
                                    : (float)(yk * (gk - dot));
        }
    } while (mt_index_next(y->rank, outer, index));
    return mt_grad_commit(tape, x, dst);
}

static mt_status softmax(const char *op, bool log_form, mt_tape *tape, mt_value *x,
                         int dim, mt_value **out)
{
    mt_status s = mt_tape_check(op, tape, (const mt_value *[]){x}, 1, out);
    if (s)
        return s;
    int d;
    if (!mt_dim_resolve(dim, x->data->rank, &d))
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "%s: dim %d out of range for %s", op, dim,
                       MT_SHAPE(x->data));
    mt_value *v;
    if ((s = mt_tape_value(tape, op, x->data->rank, x->data->shape, &v)) ||
        (s = (log_form ? mt_log_softmax_into : mt_softmax_into)(x->data, d, v->data)))
        return s;
    tape_node node = {.op = op, .backward = softmax_backward, .out = v, .in = {x},
                      .i = d, .f = log_form ? 1.0f : 0.0f};
    if ((s = mt_tape_record(tape, &node)))
        return s;
    *out = v;
    return MT_OK;
}

mt_status mt_tape_softmax(mt_tape *tape, mt_value *x, int dim, mt_value **out)
{ return softmax("tape_softmax", false, tape, x, dim, out); }
mt_status mt_tape_log_softmax(mt_tape *tape, mt_value *x, int dim, mt_value **out)
{ return softmax("tape_log_softmax", true, tape, x, dim, out); }
