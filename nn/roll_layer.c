/* roll_layer.c — torch.roll as a layer (mt_roll_into, index.h): the cyclic
 * shift of Swin's shifted windows, or any roll along dims but the batch. */
#include <stdio.h>
#include <string.h>

#include "layer_internal.h"
#include "minitensor/index.h"

typedef struct roll_state {
    int n;
    int64_t *shift;   /* n of each, after the struct */
    int *dim;
} roll_state;

static mt_status roll_infer(const mt_layer *l, int n, const mt_shape *in,
                            const char *const *from, mt_shape *out)
{
    (void)n;
    const roll_state *st = l->state;
    for (int i = 0; i < st->n; i++) {
        int d = st->dim[i] < 0 ? st->dim[i] + in->rank : st->dim[i];
        if (d < 1 || d >= in->rank)
            return mt_fail(MT_ERR_SHAPE, "expects a dim %d (not the batch), %s gives %d dims",
                           st->dim[i], from[0], in->rank);
    }
    *out = *in;
    return MT_OK;
}

static mt_status roll_forward(const mt_layer *l, int n, const mt_tensor *const *in,
                              void *scratch, mt_tensor *out)
{
    (void)n, (void)scratch;
    const roll_state *st = l->state;
    return mt_roll_into(in[0], st->n, st->shift, st->dim, out);
}

static const mt_layer_vtable roll_vtable = {
    .n_inputs = 1, .infer = roll_infer, .forward = roll_forward};

mt_status mt_roll_new(int n, const int64_t *shifts, const int *dims, mt_layer **out)
{
    if (!out)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "roll: out is NULL");
    *out = NULL;
    if (n < 1 || n > 64 || !shifts || !dims)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "roll: shifts or dims is NULL or n %d is not "
                       "1..64 (a layer rolls along dims: the flattened roll would mix the "
                       "batch)", n);
    for (int i = 0; i < n; i++)
        if (dims[i] == 0 || dims[i] < -MT_MAX_RANK || dims[i] >= MT_MAX_RANK)
            return mt_fail(MT_ERR_INVALID_ARGUMENT, "roll: dim %d is the batch or out of "
                           "range", dims[i]);
    char name[64];
    snprintf(name, sizeof name, "roll %lld along dim %d%s", (long long)shifts[0], dims[0],
             n > 1 ? ", ..." : "");
    // the shifts (8-byte aligned after the struct), then the dims
    size_t head = (sizeof(roll_state) + 7) / 8 * 8;
    mt_layer *l = mt_nn_layer_alloc("roll", &roll_vtable, MT_LAYER_ROLL, name,
                                    head + (size_t)n * (sizeof(int64_t) + sizeof(int)));
    if (!l)
        return MT_ERR_OUT_OF_MEMORY;
    roll_state *st = l->state;
    st->n = n;
    st->shift = (int64_t *)(void *)((char *)st + head);
    st->dim = (int *)(void *)(st->shift + n);
    memcpy(st->shift, shifts, (size_t)n * sizeof *shifts);
    memcpy(st->dim, dims, (size_t)n * sizeof *dims);
    *out = l;
    return MT_OK;
}
