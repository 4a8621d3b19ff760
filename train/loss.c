/* loss.c — cross-entropy, binary cross-entropy with logits and MSE. */
#include <math.h>

#include "tape_internal.h"

static int64_t target_at(const mt_tensor *target, int64_t i)
{
    const char *p = (const char *)target->data;
    return target->dtype == MT_DTYPE_I64 ? ((const int64_t *)(const void *)p)[i * target->stride[0]]
                                         : ((const int32_t *)(const void *)p)[i * target->stride[0]];
}

/* d logits = g · (softmax − q) / (N for a mean), q = (1−ls)·onehot + ls/C;
 * an ignored row (target -1 in the saved copy) gets 0 and is not counted. */
static mt_status cross_entropy_backward(mt_tape *tape, const tape_node *n)
{
    mt_value *logits = n->in[0];
    mt_tensor *dst;
    mt_status s = mt_grad_target(tape, logits, &dst);
    if (s || !dst)
        return s;
    const mt_tensor *probs = n->saved, *target = n->saved2;
    int64_t rows = probs->shape[0], classes = probs->shape[1], counted = 0;
    for (int64_t r = 0; r < rows; r++)
        counted += target_at(target, r) >= 0;
    float g = *(const float *)n->out->grad->data;
    if (n->i == MT_REDUCTION_MEAN)
        g /= (float)counted;
    float ls = n->f, off = ls / (float)classes, on = 1.0f - ls + off;
    const float *p = probs->data;
    float *d = dst->data;
    for (int64_t r = 0; r < rows; r++) {
        int64_t t = target_at(target, r);
        for (int64_t c = 0; c < classes; c++)
            d[r * classes + c] = t < 0 ? 0.0f : g * (p[r * classes + c] - (c == t ? on : off));
    }
    return mt_grad_commit(tape, logits, dst);
}

static mt_status check_target(const char *op, const mt_tensor *logits, const mt_tensor *target,
                              const mt_cross_entropy_options *o)
{
    mt_status s = mt_tensor_check(op, "target", target);
    if (s)
        return s;
    if (target->dtype != MT_DTYPE_I32 && target->dtype != MT_DTYPE_I64)
        return mt_fail(MT_ERR_DTYPE, "%s: target must be I32 or I64 class indices, not %s",
                       op, mt_dtype_name(target->dtype));
    if (logits->rank != 2 || target->rank != 1 || target->shape[0] != logits->shape[0])
        return mt_fail(MT_ERR_SHAPE, "%s: logits %s and target %s must be [N,C] and [N]",
                       op, MT_SHAPE(logits), MT_SHAPE(target));
    for (int64_t r = 0; r < target->shape[0]; r++) {
        int64_t t = target_at(target, r);
        if ((t < 0 || t >= logits->shape[1]) && !(o->use_ignore_index && t == o->ignore_index))
            return mt_fail(MT_ERR_INVALID_ARGUMENT,
                           "%s: target[%lld] = %lld is not a class in 0..%lld", op,
                           (long long)r, (long long)t, (long long)logits->shape[1] - 1);
    }
    return MT_OK;
}

mt_status mt_tape_cross_entropy(mt_tape *tape, mt_value *logits, const mt_tensor *target,
                                const mt_cross_entropy_options *options, mt_value **out)
{
    const char *op = "tape_cross_entropy";
    mt_cross_entropy_options o = options ? *options : (mt_cross_entropy_options){0};
    mt_status s = mt_tape_check(op, tape, (const mt_value *[]){logits}, 1, out);
    if (s || (s = mt_check_f32(op, logits->data)) ||
        (s = check_target(op, logits->data, target, &o)))
        return s;
    if (!(o.label_smoothing >= 0.0f && o.label_smoothing <= 1.0f))
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "%s: label_smoothing %g is not in [0, 1]",
                       op, (double)o.label_smoothing);
    if (o.reduction != MT_REDUCTION_MEAN && o.reduction != MT_REDUCTION_SUM)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "%s: unknown reduction %d", op,
                       (int)o.reduction);
    mt_value *v;
    mt_tensor *probs, *kept = NULL;
    const mt_tensor *x = logits->data;
    int64_t rows = x->shape[0], classes = x->shape[1];
    /* backward reads the targets after the call returns, when the caller may
     * have freed or refilled them: it gets a copy */
    bool record = tape->grad_enabled && logits->requires_grad;
    if ((s = mt_tape_value(tape, op, 0, NULL, &v)) ||
        (s = mt_tape_scratch(tape, op, 2, x->shape, &probs)) ||
        (record && (s = mt_arena_tensor(tape->arena, MT_DTYPE_I64, 1, &rows, &kept))) ||
        (s = mt_log_softmax_into(x, 1, probs)))
        return s;
    float *lp = probs->data;
    double total = 0.0, ls = o.label_smoothing;
    int64_t counted = 0;
    for (int64_t r = 0; r < rows; r++) {
        bool ignored = o.use_ignore_index && target_at(target, r) == o.ignore_index;
        if (kept)
            ((int64_t *)kept->data)[r] = ignored ? -1 : target_at(target, r);
        if (ignored)
            continue;
        counted++;
        double sum_lp = 0.0;
        for (int64_t c = 0; c < classes; c++)
            sum_lp += lp[r * classes + c];
        total -= (1.0 - ls) * lp[r * classes + target_at(target, r)] +
                 ls / (double)classes * sum_lp;
        for (int64_t c = 0; c < classes; c++)   /* keep probabilities for backward */
            lp[r * classes + c] = expf(lp[r * classes + c]);
    }
    /* torch: the mean over no rows is NaN */
    *(float *)v->data->data =
        (float)(o.reduction == MT_REDUCTION_MEAN ? total / (double)counted : total);
    tape_node node = {.op = op, .backward = cross_entropy_backward, .out = v,
                      .in = {logits}, .saved = probs, .saved2 = kept,
                      .f = o.label_smoothing, .i = o.reduction};
    if ((s = mt_tape_record(tape, &node)))
        return s;
    *out = v;
    return MT_OK;
}

/* ---- elementwise losses against an F32 target --------------------------------- */

typedef enum { LOSS_BCE, LOSS_MSE } pointwise_loss;

/* BCE with pos_weight pw (1 without): (1−t)·x + (1 + (pw−1)·t)·softplus(−x),
 * softplus(−x) = max(−x,0) + log(1 + e^−|x|): stable for large |x| (torch's
 * form). */
static double loss_value(pointwise_loss kind, double x, double t, double pw)
{
    if (kind == LOSS_MSE)
        return (x - t) * (x - t);
    return (1.0 - t) * x + (1.0 + (pw - 1.0) * t) * ((x < 0 ? -x : 0) + log1p(exp(-fabs(x))));
}

/* torch's backward: (1 + (pw−1)·t)·sigmoid(x) − pw·t (sigmoid(x) − t for pw 1) */
static float loss_grad(pointwise_loss kind, float x, float t, float pw)
{
    return kind == LOSS_MSE ? 2.0f * (x - t)
                            : (1.0f + (pw - 1.0f) * t) / (1.0f + expf(-x)) - pw * t;
}

static mt_status pointwise_backward(mt_tape *tape, const tape_node *n)
{
    mt_value *x = n->in[0];
    mt_tensor *dst;
    mt_status s = mt_grad_target(tape, x, &dst);
    if (s || !dst)
        return s;
    const mt_tensor *tx = x->data, *target = n->saved, *pos_weight = n->saved2;
    int64_t count = mt_tensor_numel(tx);
    float g = *(const float *)n->out->grad->data;
    if (n->i == MT_REDUCTION_MEAN)
        g /= (float)count;
    if (count) {
        int64_t index[MT_MAX_RANK] = {0}, flat = 0;
        float *d = dst->data;
        do {
            float xv = *(const float *)mt_element_ptr(tx, index);
            float tv = *(const float *)mt_element_ptr(target, index);
            float pw = pos_weight ? ((const float *)pos_weight->data)[flat] : 1.0f;
            d[flat++] = g * loss_grad((pointwise_loss)n->f, xv, tv, pw);
        } while (mt_index_next(tx->rank, tx->shape, index));
    }
    return mt_grad_commit(tape, x, dst);
}

static mt_status pointwise(const char *op, pointwise_loss kind, mt_tape *tape, mt_value *x,
                           const mt_tensor *target, const mt_tensor *pos_weight,
                           mt_reduction reduction, mt_value **out)
{
    mt_status s = mt_tape_check(op, tape, (const mt_value *[]){x}, 1, out);
    if (s || (s = mt_check_f32(op, x->data)) ||
        (s = mt_tensor_check(op, "target", target)) || (s = mt_check_f32(op, target)))
        return s;
    if (!mt_tensor_same_shape(x->data, target))
        return mt_fail(MT_ERR_SHAPE, "%s: input %s and target %s differ in shape", op,
                       MT_SHAPE(x->data), MT_SHAPE(target));
    if (reduction != MT_REDUCTION_MEAN && reduction != MT_REDUCTION_SUM)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "%s: unknown reduction %d", op,
                       (int)reduction);
    mt_tensor pw_view;   /* pos_weight broadcast to x's shape */
    if (pos_weight && ((s = mt_tensor_check(op, "pos_weight", pos_weight)) ||
                       (s = mt_check_f32(op, pos_weight))))
        return s;
    if (pos_weight && mt_expand_into(pos_weight, x->data->rank, x->data->shape, &pw_view))
        return mt_fail(MT_ERR_SHAPE, "%s: pos_weight %s does not broadcast to input %s", op,
                       MT_SHAPE(pos_weight), MT_SHAPE(x->data));
    mt_value *v;
    /* the target and pos_weight, copied for backward (see cross_entropy) */
    mt_tensor *kept = NULL, *kept_pw = NULL;
    bool record = tape->grad_enabled && x->requires_grad;
    if ((s = mt_tape_value(tape, op, 0, NULL, &v)) ||
        (record && ((s = mt_tape_scratch(tape, op, target->rank, target->shape, &kept)) ||
                    (s = mt_tensor_copy_into(target, kept)))) ||
        (record && pos_weight &&
         ((s = mt_tape_scratch(tape, op, target->rank, target->shape, &kept_pw)) ||
          (s = mt_tensor_copy_into(&pw_view, kept_pw)))))
        return s;
    int64_t count = mt_tensor_numel(x->data);
    double total = 0.0;
    if (count) {
        int64_t index[MT_MAX_RANK] = {0};
        do
            total += loss_value(kind, *(const float *)mt_element_ptr(x->data, index),
                                *(const float *)mt_element_ptr(target, index),
                                pos_weight ? *(const float *)mt_element_ptr(&pw_view, index)
                                           : 1.0);
        while (mt_index_next(x->data->rank, x->data->shape, index));
    }
    *(float *)v->data->data =
        (float)(reduction == MT_REDUCTION_MEAN ? total / (double)count : total);
    tape_node node = {.op = op, .backward = pointwise_backward, .out = v, .in = {x},
                      .saved = kept, .saved2 = kept_pw, .f = (float)kind, .i = reduction};
    if ((s = mt_tape_record(tape, &node)))
        return s;
    *out = v;
    return MT_OK;
}

mt_status mt_tape_bce_with_logits(mt_tape *tape, mt_value *x, const mt_tensor *target,
                                  mt_reduction reduction, mt_value **out)
{ return pointwise("tape_bce_with_logits", LOSS_BCE, tape, x, target, NULL, reduction, out); }
mt_status mt_tape_bce_with_logits_pos_weight(mt_tape *tape, mt_value *x, const mt_tensor *target,
                                             const mt_tensor *pos_weight, mt_reduction reduction,
                                             mt_value **out)
{
    return pointwise("tape_bce_with_logits", LOSS_BCE, tape, x, target, pos_weight, reduction,
                     out);
}
mt_status mt_tape_mse_loss(mt_tape *tape, mt_value *x, const mt_tensor *target,
                           mt_reduction reduction, mt_value **out)
{ return pointwise("tape_mse_loss", LOSS_MSE, tape, x, target, NULL, reduction, out); }
