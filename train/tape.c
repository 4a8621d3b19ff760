/* tape.c — the tape: values, parameters, recording and the backward walk. */
#include <stdio.h>
#include <string.h>

#include "tape_internal.h"

#define SLOTS_PER_CHUNK 128

struct slot_chunk {
    struct slot_chunk *next;
    value_slot slots[SLOTS_PER_CHUNK];
};

mt_status mt_tape_new(mt_tape **out)
{
    if (!out)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "tape_new: out is NULL");
    mt_tape *t = mt_alloc(sizeof *t, _Alignof(mt_tape));
    if (!t)
        return mt_fail(MT_ERR_OUT_OF_MEMORY, "tape_new: cannot allocate a tape");
    memset(t, 0, sizeof *t);
    mt_status s = mt_arena_new(0, &t->arena);
    if (s) {
        mt_dealloc(t);
        return s;
    }
    t->training = true;
    t->grad_enabled = true;
    *out = t;
    return MT_OK;
}

void mt_tape_free(mt_tape *tape)
{
    if (!tape)
        return;
    mt_arena_free(tape->arena);
    mt_dealloc(tape->nodes);
    for (struct slot_chunk *c = tape->chunks, *next; c; c = next) {
        next = c->next;
        mt_dealloc(c);
    }
    mt_dealloc(tape);
}

void mt_tape_reset(mt_tape *tape)
{
    if (!tape)
        return;
    mt_arena_reset(tape->arena);
    tape->n_nodes = 0;
    tape->chunk = tape->chunks;
    tape->chunk_used = 0;
    tape->walked = false;
    tape->generation++;
}

void mt_tape_training_set(mt_tape *tape, bool training)
{
    if (tape)
        tape->training = training;
}

bool mt_tape_training_get(const mt_tape *tape) { return tape && tape->training; }

void mt_tape_grad_set(mt_tape *tape, bool enabled)
{
    if (tape)
        tape->grad_enabled = enabled;
}

bool mt_tape_grad_get(const mt_tape *tape) { return tape && tape->grad_enabled; }

value_slot *mt_tape_slot(mt_tape *tape, const char *op)
{
    if (!tape->chunk || tape->chunk_used == SLOTS_PER_CHUNK) {
        struct slot_chunk *next = tape->chunk ? tape->chunk->next : tape->chunks;
        if (!next) {
            next = mt_alloc(sizeof *next, _Alignof(struct slot_chunk));
            if (!next) {
                mt_fail(MT_ERR_OUT_OF_MEMORY, "%s: cannot grow the tape", op);
                return NULL;
            }
            next->next = NULL;
            if (tape->chunk)
                tape->chunk->next = next;
            else
                tape->chunks = next;
        }
        tape->chunk = next;
        tape->chunk_used = 0;
    }
    value_slot *slot = &tape->chunk->slots[tape->chunk_used++];
    memset(slot, 0, sizeof *slot);
    slot->value.tape_ = tape;
    slot->value.generation_ = tape->generation;
    return slot;
}

mt_status mt_tape_scratch(mt_tape *tape, const char *op, int rank, const int64_t *shape,
                          mt_tensor **out)
{
    mt_status s = mt_arena_tensor(tape->arena, MT_DTYPE_F32, rank, shape, out);
    if (s) {
        char message[512];   /* formatting the error buffer into itself is undefined */
        snprintf(message, sizeof message, "%s", mt_last_error());
        return mt_fail(s, "%s: %s", op, message);
    }
    return MT_OK;
}

mt_status mt_tape_value(mt_tape *tape, const char *op, int rank, const int64_t *shape,
                        mt_value **out)
{
    mt_tensor *data;
    mt_status s = mt_tape_scratch(tape, op, rank, shape, &data);
    if (s)
        return s;
    value_slot *slot = mt_tape_slot(tape, op);
    if (!slot)
        return MT_ERR_OUT_OF_MEMORY;
    slot->value.data = data;
    *out = &slot->value;
    return MT_OK;
}

mt_status mt_tape_record(mt_tape *tape, const tape_node *node)
{
    bool needed = false;
    for (int i = 0; i < 3 && tape->grad_enabled; i++)
        needed |= node->in[i] && node->in[i]->requires_grad;
    node->out->requires_grad = needed;
    if (!needed)
        return MT_OK;   /* constants only: nothing to differentiate */
    if (tape->n_nodes == tape->cap_nodes) {
        size_t cap = tape->cap_nodes ? 2 * tape->cap_nodes : 64;
        tape_node *nodes = mt_alloc(cap * sizeof *nodes, _Alignof(tape_node));
        if (!nodes)
            return mt_fail(MT_ERR_OUT_OF_MEMORY, "%s: cannot grow the tape", node->op);
        if (tape->n_nodes)
            memcpy(nodes, tape->nodes, tape->n_nodes * sizeof *nodes);
        mt_dealloc(tape->nodes);
        tape->nodes = nodes;
        tape->cap_nodes = cap;
    }
    tape->nodes[tape->n_nodes++] = *node;
    return MT_OK;
}

mt_status mt_tape_check(const char *op, const mt_tape *tape, const mt_value *const *in,
                        int n_in, mt_value **out)
{
    if (!tape)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "%s: tape is NULL", op);
    if (!out)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "%s: out is NULL", op);
    if (tape->walked)
        return mt_fail(MT_ERR_INVALID_ARGUMENT,
                       "%s: the tape has been walked backwards; reset it first", op);
    for (int i = 0; i < n_in; i++) {
        if (!in[i] || !in[i]->data)
            return mt_fail(MT_ERR_INVALID_ARGUMENT, "%s: input %d is NULL", op, i);
        char name[24];
        snprintf(name, sizeof name, "input %d", i);
        mt_status s = mt_tape_owns(op, tape, in[i], name);
        if (s)
            return s;
    }
    return MT_OK;
}

mt_status mt_tape_owns(const char *op, const mt_tape *tape, const mt_value *v, const char *name)
{
    if (v->is_param_ || (v->tape_ == tape && v->generation_ == tape->generation))
        return MT_OK;
    /* backward on this tape would stop at such a value: its own tape's ops,
     * which lead to the parameters, would never see the gradient */
    if (v->tape_ == tape)
        return mt_fail(MT_ERR_INVALID_ARGUMENT,
                       "%s: %s %s was recorded before the tape's last reset", op, name,
                       MT_SHAPE(v->data));
    return mt_fail(MT_ERR_INVALID_ARGUMENT,
                   "%s: %s %s is not a value of this tape (another tape's, or not made by "
                   "mt_tape_*): pass tensors through mt_tape_constant", op, name,
                   MT_SHAPE(v->data));
}

/* ---- gradients ---------------------------------------------------------------- */

mt_status mt_grad_target(mt_tape *tape, mt_value *v, mt_tensor **dst)
{
    *dst = NULL;
    if (!v || !v->requires_grad)
        return MT_OK;
    if (!v->grad) {
        mt_status s = mt_tape_scratch(tape, "backward", v->data->rank, v->data->shape, &v->grad);
        if (s)
            return s;
    }
    if (!v->grad_live_) {
        *dst = v->grad;
        return MT_OK;
    }
    return mt_tape_scratch(tape, "backward", v->data->rank, v->data->shape, dst);
}

mt_status mt_grad_commit(mt_tape *tape, mt_value *v, mt_tensor *dst)
{
    (void)tape;
    if (!dst)
        return MT_OK;
    if (dst != v->grad) {
        mt_status s = mt_add_into(v->grad, dst, v->grad);
        if (s)
            return s;
    }
    v->grad_live_ = true;
    v->grad_seen_ = true;
    return MT_OK;
}

void mt_sum_to_shape(const mt_tensor *src, mt_tensor *dst)
{
    int rank = src->rank;
    int64_t dstride[MT_MAX_RANK];
    for (int i = 0; i < rank; i++) {
        int d = dst->rank - rank + i;
        dstride[i] = (d < 0 || dst->shape[d] == 1) ? 0 : dst->stride[d];
    }
    mt_tensor_fill(dst, 0.0f);
    if (mt_tensor_numel(src) == 0)
        return;
    if (rank == 2 && dst->rank == 1 && dst->shape[0] == src->shape[1] &&
        dst->stride[0] == 1 && src->stride[1] == 1) {
        /* a bias gradient: the column sums of [rows, cols], row by row (the
         * same order of additions as the general loop, vectorised) */
        float *o = dst->data;
        for (int64_t r = 0; r < src->shape[0]; r++) {
            const float *row = (const float *)src->data + r * src->stride[0];
            for (int64_t c = 0; c < src->shape[1]; c++)
                o[c] += row[c];
        }
        return;
    }
    int64_t index[MT_MAX_RANK] = {0};
    float *o = dst->data;
    do {
        int64_t so = 0, doff = 0;
        for (int i = 0; i < rank; i++) {
            so += index[i] * src->stride[i];
            doff += index[i] * dstride[i];
        }
        o[doff] += ((const float *)src->data)[so];
    } while (mt_index_next(rank, src->shape, index));
}

mt_status mt_grad_add_reduced(mt_tape *tape, mt_value *v, const mt_tensor *src)
{
    mt_tensor *dst;
    mt_status s = mt_grad_target(tape, v, &dst);
    if (s || !dst)
        return s;
    if (mt_tensor_same_shape(src, dst))
        s = mt_tensor_copy_into(src, dst);
    else
        mt_sum_to_shape(src, dst);
    return s ? s : mt_grad_commit(tape, v, dst);
}

mt_status mt_tape_backward(mt_tape *tape, mt_value *loss)
{
    const char *op = "tape_backward";
    if (!tape || !loss || !loss->data)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "%s: NULL argument", op);
    if (tape->walked)
        return mt_fail(MT_ERR_INVALID_ARGUMENT,
                       "%s: this recording was walked already; reset and record again", op);
    mt_status s = mt_tape_owns(op, tape, loss, "loss");
    if (s)
        return s;
    if (mt_tensor_numel(loss->data) != 1)
        return mt_fail(MT_ERR_SHAPE, "%s: the loss must hold one element, it is %s", op,
                       MT_SHAPE(loss->data));
    if (!loss->requires_grad)
        return mt_fail(MT_ERR_INVALID_ARGUMENT,
                       "%s: the loss does not depend on any parameter%s", op,
                       tape->grad_enabled ? "" : " (gradients are off: mt_tape_grad_set)");
    tape->walked = true;
    mt_tensor *seed;
    s = mt_grad_target(tape, loss, &seed);
    if (s || (s = mt_tensor_fill(seed, 1.0f)) || (s = mt_grad_commit(tape, loss, seed)))
        return s;
    for (size_t i = tape->n_nodes; i-- > 0;) {
        const tape_node *n = &tape->nodes[i];
        if (!n->out->grad_live_)
            continue;   /* the loss does not depend on this value */
        if ((s = n->backward(tape, n)))
            return s;
    }
    return MT_OK;
}

/* ---- parameters and constants ---------------------------------------------------- */

mt_status mt_param_new(const mt_tensor *init, const char *name, mt_value **out)
{
    const char *op = "param_new";
    mt_status s = mt_tensor_check(op, "init", init);
    if (s || (s = mt_check_f32(op, init)))
        return s;
    if (!out)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "%s: out is NULL", op);
    mt_value *p = mt_alloc(sizeof *p, _Alignof(mt_value));
    if (!p)
        return mt_fail(MT_ERR_OUT_OF_MEMORY, "%s: cannot allocate a parameter", op);
    memset(p, 0, sizeof *p);
    if ((s = mt_tensor_contiguous(init, &p->data)) ||
        (s = mt_tensor_zeros(MT_DTYPE_F32, init->rank, init->shape, &p->grad))) {
        mt_tensor_free(p->data);
        mt_dealloc(p);
        return s;
    }
    if (name)
        mt_tensor_name_set(p->data, name);
    p->requires_grad = true;
    p->is_param_ = true;
    *out = p;
    return MT_OK;
}

void mt_param_free(mt_value *param)
{
    if (!param || !param->is_param_)
        return;
    if (!param->is_shadow_)
        mt_tensor_free(param->data);
    mt_tensor_free(param->grad);
    mt_dealloc(param);
}

void mt_param_zero_grad(mt_value *param)
{
    if (!param || !param->is_param_)
        return;
    mt_tensor_fill(param->grad, 0.0f);
    param->grad_live_ = false;
}

mt_status mt_param_shadow_new(mt_value *param, mt_value **out)
{
    const char *op = "param_shadow_new";
    if (!param || !param->is_param_ || param->is_shadow_ || !out)
        return mt_fail(MT_ERR_INVALID_ARGUMENT,
                       "%s: need a parameter (not a shadow) and an out pointer", op);
    mt_value *p = mt_alloc(sizeof *p, _Alignof(mt_value));
    if (!p)
        return mt_fail(MT_ERR_OUT_OF_MEMORY, "%s: cannot allocate a shadow", op);
    memset(p, 0, sizeof *p);
    mt_status s = mt_tensor_zeros(MT_DTYPE_F32, param->data->rank, param->data->shape, &p->grad);
    if (s) {
        mt_dealloc(p);
        return s;
    }
    p->data = param->data;
    p->requires_grad = true;
    p->is_param_ = true;
    p->is_shadow_ = true;
    *out = p;
    return MT_OK;
}

mt_status mt_param_grad_reduce(mt_value *param, mt_value *const *shadows, const float *scale,
                               int n)
{
    const char *op = "param_grad_reduce";
    if (!param || !param->is_param_ || (n > 0 && (!shadows || !scale)) || n < 0)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "%s: NULL argument or n %d < 0", op, n);
    for (int i = 0; i < n; i++)
        if (!shadows[i] || !shadows[i]->is_shadow_ || shadows[i]->data != param->data)
            return mt_fail(MT_ERR_INVALID_ARGUMENT, "%s: shadows[%d] is not a shadow of %s",
                           op, i, param->data->name[0] ? param->data->name : "the parameter");
    float *g = param->grad->data;
    int64_t count = mt_tensor_numel(param->grad);
    if (!param->grad_live_)
        memset(g, 0, (size_t)count * sizeof *g);
    for (int i = 0; i < n; i++) {
        if (!shadows[i]->grad_live_)
            continue;   /* the shard's loss does not depend on param */
        param->grad_seen_ = true;
        const float *sg = shadows[i]->grad->data;
        const float k = scale[i];
        for (int64_t j = 0; j < count; j++)
            g[j] += k * sg[j];
        mt_param_zero_grad(shadows[i]);
    }
    param->grad_live_ = true;
    return MT_OK;
}

mt_status mt_tape_constant(mt_tape *tape, const mt_tensor *t, mt_value **out)
{
    const char *op = "tape_constant";
    mt_status s = mt_tape_check(op, tape, NULL, 0, out);
    if (s || (s = mt_tensor_check(op, "tensor", t)))
        return s;
    value_slot *slot = mt_tape_slot(tape, op);
    if (!slot)
        return MT_ERR_OUT_OF_MEMORY;
    /* the value never writes through data: casting const away is safe */
    slot->value.data = (mt_tensor *)t;
    *out = &slot->value;
    return MT_OK;
}
