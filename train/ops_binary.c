/* ops_binary.c — div, maximum, minimum, pow and where on a tape, with NumPy
 * broadcasting; each gradient is formed at the output's shape and summed
 * back to its input's. */
#include <math.h>

#include "tape_ops_internal.h"

typedef enum { BIN_DIV, BIN_MAXIMUM, BIN_MINIMUM, BIN_POW, BIN_WHERE } binary_kind;

/* d out / d a (side 0) or d b (side 1) at one element, times g. */
static float partial(binary_kind kind, int side, float a, float b, float y, float g, bool c)
{
    switch (kind) {
    case BIN_DIV:
        return side == 0 ? g / b : -g * a / (b * b);
    case BIN_MAXIMUM:
    case BIN_MINIMUM: {
        /* torch: where(a == b, g/2, g), zeroed where the other input wins */
        if (a == b)
            return g * 0.5f;
        bool a_wins = kind == BIN_MAXIMUM ? a > b : a < b;
        return (side == 0) == a_wins ? g : 0.0f;
    }
    case BIN_POW:
        if (side == 0)
            return b == 0.0f ? 0.0f : g * b * powf(a, b - 1.0f);
        return a == 0.0f && b >= 0.0f ? 0.0f : g * y * logf(a);
    case BIN_WHERE:
        return (side == 0) == c ? g : 0.0f;
    }
    return 0.0f;
}

static mt_status binary_backward(mt_tape *tape, const tape_node *n)
{
    const mt_tensor *y = n->out->data, *g = n->out->grad;
    const mt_tensor *cond = n->saved;
    mt_tensor ea, eb, ec;
    mt_status s = mt_expand_into(n->in[0]->data, y->rank, y->shape, &ea);
    if (s || (s = mt_expand_into(n->in[1]->data, y->rank, y->shape, &eb)) ||
        (cond && (s = mt_expand_into(cond, y->rank, y->shape, &ec))))
        return s;
    binary_kind kind = (binary_kind)n->i;
    for (int side = 0; side < 2; side++) {
        mt_value *target = n->in[side];
        if (!target->requires_grad || mt_tensor_numel(y) == 0)
            continue;
        mt_tensor *full;
        if ((s = mt_tape_scratch(tape, n->op, y->rank, y->shape, &full)))
            return s;
        const float *py = y->data, *pg = g->data;
        float *pf = full->data;
        int64_t index[MT_MAX_RANK] = {0}, k = 0;
        do {
            float a = *(const float *)mt_element_ptr(&ea, index);
            float b = *(const float *)mt_element_ptr(&eb, index);
            bool c = cond && *(const bool *)mt_element_ptr(&ec, index);
            pf[k] = partial(kind, side, a, b, py[k], pg[k], c);
            k++;
        } while (mt_index_next(y->rank, y->shape, index));
        if ((s = mt_grad_add_reduced(tape, target, full)))
            return s;
    }
    return MT_OK;
}

static const char *const binary_names[] = {"tape_div", "tape_maximum", "tape_minimum",
                                           "tape_pow", "tape_where"};

static mt_status binary(binary_kind kind, mt_tape *tape, const mt_tensor *cond, mt_value *a,
                        mt_value *b, mt_value **out)
{
    const char *op = binary_names[kind];
    mt_status s = mt_tape_check(op, tape, (const mt_value *[]){a, b}, 2, out);
    if (s || (s = mt_check_f32(op, a->data)) || (s = mt_check_f32(op, b->data)))
        return s;
    if (kind == BIN_WHERE && (s = mt_tensor_check(op, "cond", cond)))
        return s;
    /* the output's shape: broadcast a, b (and cond) by hand */
    const mt_tensor *in[3] = {a->data, b->data, cond};
    int rank = 0;
    int64_t shape[MT_MAX_RANK];
    for (int t = 0; t < 3; t++)
        if (in[t] && in[t]->rank > rank)
            rank = in[t]->rank;
    for (int i = 0; i < rank; i++) {
        shape[i] = 1;
        for (int t = 0; t < 3; t++) {
            int d = in[t] ? in[t]->rank - rank + i : -1;
            int64_t size = d >= 0 ? in[t]->shape[d] : 1;
            if (size != 1 && shape[i] != 1 && size != shape[i])
                return mt_fail(MT_ERR_SHAPE, "%s: shapes do not broadcast: %s and %s%s%s",
                               op, MT_SHAPE(a->data), MT_SHAPE(b->data),
                               cond ? " (cond " : "", cond ? MT_SHAPE(cond) : "");
            if (size != 1)
                shape[i] = size;
        }
    }
    mt_value *v;
    if ((s = mt_tape_value(tape, op, rank, shape, &v)))
        return s;
    switch (kind) {
    case BIN_DIV: s = mt_div_into(a->data, b->data, v->data); break;
    case BIN_MAXIMUM: s = mt_maximum_into(a->data, b->data, v->data); break;
    case BIN_MINIMUM: s = mt_minimum_into(a->data, b->data, v->data); break;
    case BIN_POW: s = mt_pow_into(a->data, b->data, v->data); break;
    case BIN_WHERE: s = mt_where_into(cond, a->data, b->data, v->data); break;
    }
    if (s)
        return tape_fail_prefixed(s, op);
    tape_node node = {.op = op, .backward = binary_backward, .out = v, .in = {a, b},
                      .saved = cond, .i = kind};
    if ((s = mt_tape_record(tape, &node)))
        return s;
    *out = v;
    return MT_OK;
}

mt_status mt_tape_div(mt_tape *tape, mt_value *a, mt_value *b, mt_value **out)
{ return binary(BIN_DIV, tape, NULL, a, b, out); }
mt_status mt_tape_maximum(mt_tape *tape, mt_value *a, mt_value *b, mt_value **out)
{ return binary(BIN_MAXIMUM, tape, NULL, a, b, out); }
mt_status mt_tape_minimum(mt_tape *tape, mt_value *a, mt_value *b, mt_value **out)
{ return binary(BIN_MINIMUM, tape, NULL, a, b, out); }
mt_status mt_tape_pow(mt_tape *tape, mt_value *a, mt_value *b, mt_value **out)
{ return binary(BIN_POW, tape, NULL, a, b, out); }
mt_status mt_tape_where(mt_tape *tape, const mt_tensor *cond, mt_value *a, mt_value *b,
                        mt_value **out)
{ return binary(BIN_WHERE, tape, cond, a, b, out); }
