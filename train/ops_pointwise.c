/* ops_pointwise.c — add, sub, mul and dropout on a tape (the unary ops:
 * ops_unary.c). */
#include "tape_internal.h"

/* NumPy's broadcast of two shapes; false if they do not broadcast. */
static bool broadcast(const mt_tensor *a, const mt_tensor *b, int *rank, int64_t *shape)
{
    int r = a->rank > b->rank ? a->rank : b->rank;
    for (int i = 0; i < r; i++) {
        int da = a->rank - r + i, db = b->rank - r + i;
        int64_t sa = da >= 0 ? a->shape[da] : 1, sb = db >= 0 ? b->shape[db] : 1;
        if (sa != sb && sa != 1 && sb != 1)
            return false;
        shape[i] = sa == 1 ? sb : sa;
    }
    *rank = r;
    return true;
}

typedef enum { BIN_ADD, BIN_SUB, BIN_MUL } binary_kind;
static const char *const binary_names[] = {"tape_add", "tape_sub", "tape_mul"};

static mt_status binary_backward(mt_tape *tape, const tape_node *n)
{
    const mt_tensor *g = n->out->grad;
    mt_value *a = n->in[0], *b = n->in[1];
    if (n->i == BIN_ADD || n->i == BIN_SUB) {
        mt_status s = mt_grad_add_reduced(tape, a, g);
        if (s || !b->requires_grad)
            return s;
        if (n->i == BIN_ADD)
            return mt_grad_add_reduced(tape, b, g);
        mt_tensor *neg;
        if ((s = mt_tape_scratch(tape, n->op, g->rank, g->shape, &neg)) ||
            (s = mt_mul_scalar_into(g, -1.0f, neg)))
            return s;
        return mt_grad_add_reduced(tape, b, neg);
    }
    /* mul: d a = g * b, d b = g * a, each summed back to its input's shape */
    mt_value *pairs[2][2] = {{a, b}, {b, a}};
    for (int k = 0; k < 2; k++) {
        mt_value *target = pairs[k][0], *other = pairs[k][1];
        if (!target->requires_grad)
            continue;
        mt_tensor *prod;
        mt_status s = mt_tape_scratch(tape, n->op, g->rank, g->shape, &prod);
        if (s || (s = mt_mul_into(g, other->data, prod)) ||
            (s = mt_grad_add_reduced(tape, target, prod)))
            return s;
    }
    return MT_OK;
}

static mt_status binary(binary_kind kind, mt_tape *tape, mt_value *a, mt_value *b,
                        mt_value **out)
{
    const char *op = binary_names[kind];
    mt_status s = mt_tape_check(op, tape, (const mt_value *[]){a, b}, 2, out);
    if (s)
        return s;
    int rank;
    int64_t shape[MT_MAX_RANK];
    if (!broadcast(a->data, b->data, &rank, shape))
        return mt_fail(MT_ERR_SHAPE, "%s: shapes do not broadcast: %s and %s", op,
                       MT_SHAPE(a->data), MT_SHAPE(b->data));
    mt_value *v;
    if ((s = mt_tape_value(tape, op, rank, shape, &v)))
        return s;
    mt_status (*const forward[])(const mt_tensor *, const mt_tensor *, mt_tensor *) = {
        mt_add_into, mt_sub_into, mt_mul_into};
    if ((s = forward[kind](a->data, b->data, v->data)))
        return s;
    tape_node node = {.op = op, .backward = binary_backward, .out = v, .in = {a, b},
                      .i = kind};
    if ((s = mt_tape_record(tape, &node)))
        return s;
    *out = v;
    return MT_OK;
}

mt_status mt_tape_add(mt_tape *tape, mt_value *a, mt_value *b, mt_value **out)
{ return binary(BIN_ADD, tape, a, b, out); }
mt_status mt_tape_sub(mt_tape *tape, mt_value *a, mt_value *b, mt_value **out)
{ return binary(BIN_SUB, tape, a, b, out); }
mt_status mt_tape_mul(mt_tape *tape, mt_value *a, mt_value *b, mt_value **out)
{ return binary(BIN_MUL, tape, a, b, out); }

/* ---- one input, same shape -------------------------------------------------------- */

/* g * saved (saved: the scalar f when NULL) into x's gradient. */
static mt_status scaled_backward(mt_tape *tape, const tape_node *n)
{
    mt_tensor *dst;
    mt_status s = mt_grad_target(tape, n->in[0], &dst);
    if (s || !dst)
        return s;
    s = n->saved ? mt_mul_into(n->out->grad, n->saved, dst)
                 : mt_mul_scalar_into(n->out->grad, n->f, dst);
    return s ? s : mt_grad_commit(tape, n->in[0], dst);
}

/* Checks the call (out included) and makes a value shaped like x. */
static mt_status unary_value(const char *op, mt_tape *tape, mt_value *x, mt_value **out,
                             mt_value **v)
{
    mt_status s = mt_tape_check(op, tape, (const mt_value *[]){x}, 1, out);
    return s ? s : mt_tape_value(tape, op, x->data->rank, x->data->shape, v);
}

mt_status mt_tape_dropout(mt_tape *tape, mt_value *x, float p, mt_rng *rng,
                          mt_value **out)
{
    const char *op = "tape_dropout";
    mt_status s = mt_tape_check(op, tape, (const mt_value *[]){x}, 1, out);
    if (s)
        return s;
    if (!(p >= 0.0f && p < 1.0f))
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "%s: p = %g is not in [0, 1)", op, (double)p);
    if (!rng)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "%s: rng is NULL", op);
    if (!tape->training || p == 0.0f) {
        *out = x;   /* the identity: nothing to record */
        return MT_OK;
    }
    mt_value *v;
    mt_tensor *mask;
    if ((s = unary_value(op, tape, x, out, &v)) ||
        (s = mt_tape_scratch(tape, op, x->data->rank, x->data->shape, &mask)))
        return s;
    /* mask = 0 with probability p, else 1/(1-p); drawn in row-major order */
    float keep = 1.0f / (1.0f - p);
    float *m = mask->data;
    int64_t count = mt_tensor_numel(mask);
    for (int64_t i = 0; i < count; i++)
        m[i] = mt_rng_uniform(rng) < p ? 0.0f : keep;
    if ((s = mt_mul_into(x->data, mask, v->data)))
        return s;
    tape_node node = {.op = op, .backward = scaled_backward, .out = v, .in = {x},
                      .saved = mask};
    if ((s = mt_tape_record(tape, &node)))
        return s;
    *out = v;
    return MT_OK;
}
