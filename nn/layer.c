/* layer.c — what all layers share: allocation, info, running one alone. */
#include <stdio.h>
#include <string.h>

#include "layer_internal.h"
#include "minitensor/memory.h"
#include "minitensor/view.h"

mt_layer *nn_layer_alloc(const char *op, const struct nn_layer_ops *ops,
                         mt_layer_kind kind, const char *name)
{
    mt_layer *l = mt_alloc(sizeof *l, _Alignof(mt_layer));
    if (!l) {
        mt_fail(MT_ERR_OUT_OF_MEMORY, "%s: cannot allocate the layer", op);
        return NULL;
    }
    memset(l, 0, sizeof *l);
    l->ops = ops;
    l->info.kind = kind;
    snprintf(l->name, sizeof l->name, "%s", name);
    l->info.name = l->name;
    return l;
}

mt_status nn_infer_same(const mt_layer *l, const nn_shape *in, nn_shape *out,
                        const char *from)
{
    (void)l, (void)from;
    *out = *in;
    return MT_OK;
}

static void shape_of(const mt_tensor *t, nn_shape *s)
{
    s->rank = t->rank;
    memcpy(s->dim, t->shape, (size_t)t->rank * sizeof t->shape[0]);
}

mt_status mt_layer_info_get(const mt_layer *layer, mt_layer_info *info)
{
    if (!layer || !info)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "layer_get_info: NULL argument");
    *info = layer->info;
    return MT_OK;
}

mt_status mt_layer_forward(const mt_layer *layer, const mt_tensor *x,
                           mt_tensor **out)
{
    if (!layer || !x || !out)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "layer_forward: NULL argument");
    *out = NULL;
    if (x->rank < 0 || x->rank > MT_MAX_RANK)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "%s: input rank %d is invalid",
                       layer->name, x->rank);
    nn_shape in, shape;
    shape_of(x, &in);
    mt_status s = layer->ops->infer(layer, &in, &shape, "the input");
    if (s) {
        char why[512], xs[160];
        snprintf(why, sizeof why, "%s", mt_last_error());
        return mt_fail(s, "%s: %s (input %s)", layer->name, why,
                       mt_tensor_describe(x, xs, sizeof xs));
    }
    if (layer->ops->is_view) {
        /* Validate through the layer, then hand out a heap view of x (which
         * keeps x alive) with the same shape. */
        mt_tensor view;
        if ((s = layer->ops->forward(layer, x, false, &view)))
            return s;
        return mt_view(x, view.rank, view.shape, out);
    }
    mt_tensor *y;
    if ((s = mt_tensor_zeros(MT_DTYPE_F32, shape.rank, shape.dim, &y)))
        return s;
    if ((s = layer->ops->forward(layer, x, false, y))) {
        mt_tensor_free(y);
        return s;
    }
    *out = y;
    return MT_OK;
}

void mt_layer_free(mt_layer *layer)
{
    if (!layer)
        return;
    if (layer->ops->release)
        layer->ops->release(layer);
    mt_dealloc(layer);
}
