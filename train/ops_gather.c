/* ops_gather.c — embedding, index_select and take_along_dim on a tape. The
 * backward scatter-adds the output's gradient into the source's: a row
 * picked by several indices gets the sum of their gradients. */
#include "minitensor/index.h"
#include "tape_ops_internal.h"

typedef enum { GATHER_EMBEDDING, GATHER_INDEX_SELECT, GATHER_TAKE_ALONG_DIM } gather_kind;

static const char *const gather_names[] = {"tape_embedding", "tape_index_select",
                                           "tape_take_along_dim"};

/* The I32/I64 index at pos, negative values counting from `size` back. */
static int64_t index_at(const mt_tensor *ix, const int64_t *pos, int64_t size)
{
    const void *p = mt_element_ptr(ix, pos);
    int64_t v = ix->dtype == MT_DTYPE_I64 ? *(const int64_t *)p : *(const int32_t *)p;
    return v < 0 ? v + size : v;
}

static mt_status gather_backward(mt_tape *tape, const tape_node *n)
{
    mt_value *x = n->in[0];
    mt_tensor *dst;
    mt_status s = mt_grad_target(tape, x, &dst);
    if (s || !dst || (s = mt_tensor_fill(dst, 0.0f)))
        return s;
    const mt_tensor *g = n->out->grad, *ix = n->saved, *xt = x->data;
    gather_kind kind = (gather_kind)(n->i >> 8);
    int d = (int)(n->i & 0xff);
    const float *pg = g->data;
    float *pd = dst->data;
    if (mt_tensor_numel(g) == 0)
        return mt_grad_commit(tape, x, dst);
    int64_t idx[MT_MAX_RANK] = {0}, k = 0;
    do {
        int64_t src[MT_MAX_RANK], pos[MT_MAX_RANK];
        if (kind == GATHER_EMBEDDING) {
            src[0] = index_at(ix, idx, xt->shape[0]);
            src[1] = idx[g->rank - 1];
        } else {
            for (int i = 0; i < g->rank; i++) {
                src[i] = xt->shape[i] == 1 ? 0 : idx[i];
                pos[i] = ix->rank == 0 ? 0 : ix->shape[ix->rank == 1 ? 0 : i] == 1 ? 0 : idx[i];
            }
            pos[0] = kind == GATHER_INDEX_SELECT ? idx[d] : pos[0];
            src[d] = index_at(ix, kind == GATHER_INDEX_SELECT ? &pos[0] : pos, xt->shape[d]);
        }
        int64_t off = 0;
        for (int i = 0; i < xt->rank; i++)
            off += src[i] * dst->stride[i];
        pd[off] += pg[k++];
    } while (mt_index_next(g->rank, g->shape, idx));
    return mt_grad_commit(tape, x, dst);
}

static mt_status gather(gather_kind kind, mt_tape *tape, mt_value *x, const mt_tensor *ix,
                        int dim, mt_value **out)
{
    const char *op = gather_names[kind];
    mt_status s = mt_tape_check(op, tape, (const mt_value *[]){x}, 1, out);
    if (s || (s = mt_check_f32(op, x->data)) || (s = mt_tensor_check(op, "indices", ix)))
        return s;
    if (ix->dtype != MT_DTYPE_I64 && ix->dtype != MT_DTYPE_I32)
        return mt_fail(MT_ERR_DTYPE, "%s: indices must be I32 or I64", op);
    const mt_tensor *xt = x->data;
    int rank = 0, d = 0;
    int64_t shape[MT_MAX_RANK];
    if (kind == GATHER_EMBEDDING) {
        if (xt->rank != 2 || ix->rank + 1 > MT_MAX_RANK)
            return mt_fail(MT_ERR_SHAPE, "%s: weight %s must be [num, dim]; indices %s", op,
                           MT_SHAPE(xt), MT_SHAPE(ix));
        rank = ix->rank + 1;
        for (int i = 0; i < ix->rank; i++)
            shape[i] = ix->shape[i];
        shape[rank - 1] = xt->shape[1];
    } else {
        if (!mt_dim_resolve(dim, xt->rank, &d))
            return mt_fail(MT_ERR_INVALID_ARGUMENT, "%s: dim %d out of range for %s", op, dim,
                           MT_SHAPE(xt));
        rank = xt->rank;
        if (kind == GATHER_INDEX_SELECT) {
            if (ix->rank > 1)
                return mt_fail(MT_ERR_SHAPE, "%s: index %s must be 1-D", op, MT_SHAPE(ix));
            for (int i = 0; i < rank; i++)
                shape[i] = i == d ? mt_tensor_numel(ix) : xt->shape[i];
        } else {
            if (ix->rank != xt->rank)
                return mt_fail(MT_ERR_SHAPE, "%s: x %s and indices %s differ in rank", op,
                               MT_SHAPE(xt), MT_SHAPE(ix));
            for (int i = 0; i < rank; i++)
                shape[i] = i == d || xt->shape[i] == 1 ? ix->shape[i] : xt->shape[i];
        }
    }
    mt_value *v;
    if ((s = mt_tape_value(tape, op, rank, shape, &v)))
        return s;
    switch (kind) {
    case GATHER_EMBEDDING: s = mt_embedding_into(ix, xt, v->data); break;
    case GATHER_INDEX_SELECT: s = mt_index_select_into(xt, d, ix, v->data); break;
    case GATHER_TAKE_ALONG_DIM: s = mt_take_along_dim_into(xt, ix, d, v->data); break;
    }
    if (s)
        return s;   /* the plain op's message: index out of range … */
    tape_node node = {.op = op, .backward = gather_backward, .out = v, .in = {x}, .saved = ix,
                      .i = (int64_t)kind << 8 | d};
    if ((s = mt_tape_record(tape, &node)))
        return s;
    *out = v;
    return MT_OK;
}

mt_status mt_tape_embedding(mt_tape *tape, const mt_tensor *indices, mt_value *weight,
                            mt_value **out)
{ return gather(GATHER_EMBEDDING, tape, weight, indices, 0, out); }
mt_status mt_tape_index_select(mt_tape *tape, mt_value *x, int dim, const mt_tensor *index,
                               mt_value **out)
{ return gather(GATHER_INDEX_SELECT, tape, x, index, dim, out); }
mt_status mt_tape_take_along_dim(mt_tape *tape, mt_value *x, const mt_tensor *indices, int dim,
                                 mt_value **out)
{ return gather(GATHER_TAKE_ALONG_DIM, tape, x, indices, dim, out); }
