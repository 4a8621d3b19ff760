/* ops_view.c — views on a tape: narrow, slice, expand, squeeze, unsqueeze,
 * permute, split/chunk (pieces are narrows), and concat.
 *
 * A view's gradient: take x's (zeroed) gradient buffer, apply the SAME view
 * to it, and add the output's gradient through that view. One rule covers
 * every view: strided slices land on their elements, an expanded (stride 0)
 * dim sums its copies (the adds run one after another), a permutation or an
 * inserted size-1 dim lands where it came from. */
#include <stdio.h>

#include "minitensor/index.h"
#include "tape_ops_internal.h"

typedef enum {
    VIEW_NARROW,     /* dim, start, length */
    VIEW_SLICE,      /* dim, start, stop, step */
    VIEW_EXPAND,     /* rank, shape… */
    VIEW_SQUEEZE,    /* dim */
    VIEW_UNSQUEEZE,  /* dim */
    VIEW_PERMUTE,    /* rank, perm… */
    VIEW_UNCONCAT    /* dim, start, length: the input is a slice of the output */
} view_kind;

static const char *const view_names[] = {"tape_narrow", "tape_slice", "tape_expand",
                                          "tape_squeeze", "tape_unsqueeze", "tape_permute",
                                          "tape_concat"};

static mt_status apply_view(view_kind kind, const int64_t *a, const mt_tensor *t,
                            mt_tensor *view)
{
    switch (kind) {
    case VIEW_NARROW:
    case VIEW_UNCONCAT:
        return mt_narrow_into(t, (int)a[0], a[1], a[2], view);
    case VIEW_SLICE:
        return mt_slice_into(t, (int)a[0], a[1], a[2], a[3], view);
    case VIEW_EXPAND:
        return mt_expand_into(t, (int)a[0], a + 1, view);
    case VIEW_SQUEEZE:
        return mt_squeeze_into(t, (int)a[0], view);
    case VIEW_UNSQUEEZE:
        return mt_unsqueeze_into(t, (int)a[0], view);
    case VIEW_PERMUTE: {
        int perm[MT_MAX_RANK];
        for (int i = 0; i < (int)a[0]; i++)
            perm[i] = (int)a[1 + i];
        return mt_permute_into(t, perm, view);
    }
    }
    return MT_ERR_INVALID_ARGUMENT;
}

/* dst[i…] += src[i…] over src's shape, both any strides; sequential, so a
 * dst with stride 0 accumulates every contribution. */
static void add_strided(const mt_tensor *src, mt_tensor *dst)
{
    if (mt_tensor_numel(src) == 0)
        return;
    int64_t index[MT_MAX_RANK] = {0};
    do
        *(float *)mt_element_ptr(dst, index) += *(const float *)mt_element_ptr(src, index);
    while (mt_index_next(src->rank, src->shape, index));
}

static mt_status view_backward(mt_tape *tape, const tape_node *n)
{
    view_kind kind = (view_kind)n->i;
    const int64_t *args = n->saved->data;
    mt_value *x = n->in[0];
    mt_tensor *dst;
    mt_status s = mt_grad_target(tape, x, &dst);
    if (s || !dst)
        return s;
    mt_tensor view;
    if ((s = mt_tensor_fill(dst, 0.0f)))
        return s;
    if (kind == VIEW_UNCONCAT) {
        /* x is one piece of the output: its gradient is that piece of g */
        if ((s = apply_view(kind, args, n->out->grad, &view)) ||
            (s = mt_tensor_copy_into(&view, dst)))
            return s;
    } else {
        if ((s = apply_view(kind, args, dst, &view)))
            return s;
        add_strided(n->out->grad, &view);
    }
    return mt_grad_commit(tape, x, dst);
}

/* Records a view of x described by (kind, args[0..n_args-1]). */
static mt_status view(view_kind kind, mt_tape *tape, mt_value *x, const int64_t *args,
                      int n_args, mt_value **out)
{
    const char *op = view_names[kind];
    mt_status s = mt_tape_check(op, tape, (const mt_value *[]){x}, 1, out);
    if (s || (s = mt_check_f32(op, x->data)))
        return s;
    mt_tensor probe;   /* checks the arguments before anything is allocated */
    if ((s = apply_view(kind, args, x->data, &probe)))
        return tape_fail_prefixed(s, op);
    mt_tensor *saved;
    if ((s = mt_arena_tensor(tape->arena, MT_DTYPE_I64, 1, (int64_t[]){n_args}, &saved)))
        return tape_fail_prefixed(s, op);
    for (int i = 0; i < n_args; i++)
        ((int64_t *)saved->data)[i] = args[i];
    value_slot *slot = mt_tape_slot(tape, op);
    if (!slot)
        return MT_ERR_OUT_OF_MEMORY;
    slot->data_view = probe;
    slot->value.data = &slot->data_view;
    tape_node node = {.op = op, .backward = view_backward, .out = &slot->value, .in = {x},
                      .saved = saved, .i = kind};
    if ((s = mt_tape_record(tape, &node)))
        return s;
    *out = &slot->value;
    return MT_OK;
}

mt_status mt_tape_narrow(mt_tape *tape, mt_value *x, int dim, int64_t start, int64_t length,
                         mt_value **out)
{ return view(VIEW_NARROW, tape, x, (int64_t[]){dim, start, length}, 3, out); }

mt_status mt_tape_slice(mt_tape *tape, mt_value *x, int dim, int64_t start, int64_t stop,
                        int64_t step, mt_value **out)
{ return view(VIEW_SLICE, tape, x, (int64_t[]){dim, start, stop, step}, 4, out); }

mt_status mt_tape_squeeze(mt_tape *tape, mt_value *x, int dim, mt_value **out)
{ return view(VIEW_SQUEEZE, tape, x, (int64_t[]){dim}, 1, out); }

mt_status mt_tape_unsqueeze(mt_tape *tape, mt_value *x, int dim, mt_value **out)
{ return view(VIEW_UNSQUEEZE, tape, x, (int64_t[]){dim}, 1, out); }

mt_status mt_tape_expand(mt_tape *tape, mt_value *x, int rank, const int64_t *shape,
                         mt_value **out)
{
    if (rank < 0 || rank > MT_MAX_RANK || (rank > 0 && !shape))
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "tape_expand: rank %d (max %d) or shape NULL",
                       rank, MT_MAX_RANK);
    int64_t args[1 + MT_MAX_RANK] = {rank};
    for (int i = 0; i < rank; i++)
        args[1 + i] = shape[i];
    return view(VIEW_EXPAND, tape, x, args, 1 + rank, out);
}

mt_status mt_tape_permute(mt_tape *tape, mt_value *x, const int *perm, mt_value **out)
{
    if (!x || !x->data || !perm)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "tape_permute: x or perm is NULL");
    int64_t args[1 + MT_MAX_RANK] = {x->data->rank};
    for (int i = 0; i < x->data->rank; i++)
        args[1 + i] = perm[i];
    return view(VIEW_PERMUTE, tape, x, args, 1 + x->data->rank, out);
}

/* ---- split / chunk: pieces are narrows of x -------------------------------------- */

static mt_status pieces(const char *op, mt_tape *tape, mt_value *x, int64_t piece, int dim,
                        int max_outs, mt_value **outs, int *count)
{
    mt_status s = mt_tape_check(op, tape, (const mt_value *[]){x}, 1, outs);
    if (s)
        return s;
    int d;
    if (!count || !mt_dim_resolve(dim, x->data->rank, &d))
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "%s: dim %d out of range for %s (or count "
                       "NULL)", op, dim, MT_SHAPE(x->data));
    int64_t size = x->data->shape[d];
    if (piece <= 0 && size > 0)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "%s: piece size %lld for dim %d of %s", op,
                       (long long)piece, dim, MT_SHAPE(x->data));
    int64_t n = size == 0 ? 1 : (size + piece - 1) / piece;
    if (n > max_outs)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "%s: %lld pieces, room for %d", op,
                       (long long)n, max_outs);
    for (int64_t k = 0; k < n; k++) {
        int64_t start = k * piece, len = size - start < piece ? size - start : piece;
        if ((s = mt_tape_narrow(tape, x, d, start, size ? len : 0, &outs[k])))
            return s;
    }
    *count = (int)n;
    return MT_OK;
}

mt_status mt_tape_split(mt_tape *tape, mt_value *x, int64_t split_size, int dim,
                        int max_outs, mt_value **outs, int *count)
{ return pieces("tape_split", tape, x, split_size, dim, max_outs, outs, count); }

mt_status mt_tape_chunk(mt_tape *tape, mt_value *x, int chunks, int dim, int max_outs,
                        mt_value **outs, int *count)
{
    const char *op = "tape_chunk";
    int d;
    if (!x || !x->data || !mt_dim_resolve(dim, x->data->rank, &d) || chunks < 1)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "%s: x NULL, dim %d out of range or "
                       "chunks %d < 1", op, dim, chunks);
    int64_t size = x->data->shape[d];
    if (size > 0)
        return pieces(op, tape, x, (size + chunks - 1) / chunks, dim, max_outs, outs, count);
    /* torch: a size-0 dim gives `chunks` empty pieces */
    mt_status s = mt_tape_check(op, tape, (const mt_value *[]){x}, 1, outs);
    if (s || !count)
        return s ? s : mt_fail(MT_ERR_INVALID_ARGUMENT, "%s: count is NULL", op);
    if (chunks > max_outs)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "%s: %d pieces, room for %d", op, chunks,
                       max_outs);
    for (int k = 0; k < chunks; k++)
        if ((s = mt_tape_narrow(tape, x, d, 0, 0, &outs[k])))
            return s;
    *count = chunks;
    return MT_OK;
}

/* ---- concat: one node per input that needs a gradient -------------------------------- */

mt_status mt_tape_concat(mt_tape *tape, mt_value *const *xs, int count, int dim,
                         mt_value **out)
{
    const char *op = "tape_concat";
    mt_status s = mt_tape_check(op, tape, NULL, 0, out);
    if (s)
        return s;
    if (!xs || count < 1 || count > 64)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "%s: %d inputs (1..64)", op, count);
    const mt_tensor *data[64];
    for (int k = 0; k < count; k++) {
        if (!xs[k] || !xs[k]->data)
            return mt_fail(MT_ERR_INVALID_ARGUMENT, "%s: input %d is NULL", op, k);
        char name[24];
        snprintf(name, sizeof name, "input %d", k);
        if ((s = mt_tape_owns(op, tape, xs[k], name)))
            return s;
        data[k] = xs[k]->data;
    }
    int d;
    if (!mt_dim_resolve(dim, data[0]->rank, &d))
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "%s: dim %d out of range for %s", op, dim,
                       MT_SHAPE(data[0]));
    int64_t shape[MT_MAX_RANK];
    for (int i = 0; i < data[0]->rank; i++)
        shape[i] = data[0]->shape[i];
    shape[d] = 0;
    for (int k = 0; k < count; k++) {
        if (data[k]->rank != data[0]->rank)
            return mt_fail(MT_ERR_SHAPE, "%s: input %d is %s, input 0 %s", op, k,
                           MT_SHAPE(data[k]), MT_SHAPE(data[0]));
        shape[d] += data[k]->shape[d];
    }
    mt_value *v;
    if ((s = mt_tape_value(tape, op, data[0]->rank, shape, &v)) ||
        (s = mt_concat_into(data, count, d, v->data)))
        return s;
    int64_t start = 0;
    for (int k = 0; k < count; k++) {
        int64_t len = data[k]->shape[d];
        if (xs[k]->requires_grad && tape->grad_enabled) {
            mt_tensor *saved;
            if ((s = mt_arena_tensor(tape->arena, MT_DTYPE_I64, 1, (int64_t[]){3}, &saved)))
                return tape_fail_prefixed(s, op);
            int64_t *a = saved->data;
            a[0] = d, a[1] = start, a[2] = len;
            tape_node node = {.op = op, .backward = view_backward, .out = v, .in = {xs[k]},
                              .saved = saved, .i = VIEW_UNCONCAT};
            if ((s = mt_tape_record(tape, &node)))
                return s;
        }
        start += len;
    }
    *out = v;
    return MT_OK;
}
