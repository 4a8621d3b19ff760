/* time_distributed_layer.c — Keras' TimeDistributed(layer): a layer run on
 * one input, on every step of [N,T,…] at once, as one batch of N·T samples
 * [N·T,…] (Keras folds the batch the same way). Neither a Reshape (which
 * keeps the batch dim) nor the layer itself can do this in a graph. */
#include <stdio.h>
#include <string.h>

#include "layer_internal.h"
#include "minitensor/view.h"

typedef struct td_state {
    mt_layer *inner;   /* owned */
} td_state;

/* in with its first two dims as one: [N,T,…] -> [N·T,…]; false if N·T
 * overflows. */
static bool fold(const mt_shape *in, mt_shape *folded)
{
    bool fits = !in->dim[1] || in->dim[0] <= INT64_MAX / in->dim[1];
    *folded = (mt_shape){.dtype = in->dtype, .rank = in->rank - 1};
    folded->dim[0] = fits ? in->dim[0] * in->dim[1] : 0;
    memcpy(folded->dim + 1, in->dim + 2, (size_t)(in->rank - 2) * sizeof *in->dim);
    return fits;
}

static mt_status td_infer(const mt_layer *l, int n, const mt_shape *in,
                          const char *const *from, mt_shape *out)
{
    const mt_layer *inner = ((const td_state *)l->state)->inner;
    char is[96];
    mt_shape folded, y;
    if (in->rank < 3)
        return mt_fail(MT_ERR_SHAPE, "expects steps [N,T,…] (3 or more dims), %s gives %s",
                       from[0], mt_nn_shape_text(in, is, sizeof is));
    if (!fold(in, &folded))
        return mt_fail(MT_ERR_OVERFLOW, "the batch times the steps of %s %s overflows",
                       from[0], mt_nn_shape_text(in, is, sizeof is));
    mt_status s = inner->vt->infer(inner, n, &folded, from, &y);
    if (s) {   /* the inner layer's predicate, with its name in front */
        char why[512];
        snprintf(why, sizeof why, "%s", mt_last_error());
        return mt_fail(s, "%s (on each step, as %s): %s", inner->info.name,
                       mt_nn_shape_text(&folded, is, sizeof is), why);
    }
    if (y.rank < 1 || y.rank >= MT_MAX_RANK || y.dim[0] != folded.dim[0])
        return mt_fail(MT_ERR_UNSUPPORTED, "%s gives %s for %s: not one row per step",
                       inner->info.name, mt_nn_shape_text(&y, is, sizeof is), from[0]);
    *out = (mt_shape){.dtype = y.dtype, .rank = y.rank + 1, .dim = {in->dim[0], in->dim[1]}};
    memcpy(out->dim + 2, y.dim + 1, (size_t)(y.rank - 1) * sizeof *y.dim);
    return MT_OK;
}

/* The input folded; the input's copy if its strides cannot be folded,
 * then the inner layer's scratch (mt_nn_forward_as). */
static size_t td_scratch(const mt_layer *l, int n, const mt_shape *in)
{
    mt_shape folded;
    fold(in, &folded);   /* infer checked it */
    return mt_nn_forward_as_scratch(((const td_state *)l->state)->inner, n, in, &folded);
}

static mt_status td_forward(const mt_layer *l, int n, const mt_tensor *const *in,
                            void *scratch, mt_tensor *out)
{
    const mt_tensor *x = in[0];
    mt_shape xs = {.dtype = x->dtype, .rank = x->rank}, folded, ys;
    memcpy(xs.dim, x->shape, (size_t)x->rank * sizeof *x->shape);
    fold(&xs, &folded);
    ys = (mt_shape){.rank = out->rank - 1, .dim = {out->shape[0] * out->shape[1]}};
    memcpy(ys.dim + 1, out->shape + 2, (size_t)(out->rank - 2) * sizeof *out->shape);
    return mt_nn_forward_as(((const td_state *)l->state)->inner, n, x, &folded, &ys, scratch,
                            out);
}

static void td_release(void *state)
{
    mt_layer *inner = ((td_state *)state)->inner;
    inner->in_model = false;   /* held by this layer until now */
    mt_layer_free(inner);
}

static const mt_layer_vtable td_vtable = {
    .n_inputs = 1,
    .infer = td_infer,
    .forward = td_forward,
    .scratch_bytes = td_scratch,
    .release = td_release,
};

mt_status mt_time_distributed_new(mt_layer *layer, mt_layer **out)
{
    if (!layer || !out) {
        if (out)
            *out = NULL;
        mt_layer_free(layer);
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "time_distributed: %s is NULL",
                       layer ? "out" : "layer");
    }
    *out = NULL;
    if (layer->in_model)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "time_distributed: %s already belongs to a "
                       "model", layer->info.name);
    // an inference Dropout passes [N,T,…] through as it is: its own
    // TimeDistributed
    if (layer->info.kind == MT_LAYER_DROPOUT) {
        *out = layer;
        return MT_OK;
    }
    mt_status s = MT_OK;
    // a layer of any number of inputs (0: an RNN's optional initial
    // states, a global pool's optional mask) runs on the one; one that
    // needs more says so when its input is given
    if (layer->vt->n_inputs > 1)
        s = mt_fail(MT_ERR_UNSUPPORTED, "time_distributed: %s takes %d inputs, not one",
                    layer->info.name, layer->vt->n_inputs);
    else if (layer->vt->flags & MT_LAYER_FLAG_VIEW)
        s = mt_fail(MT_ERR_UNSUPPORTED, "time_distributed: %s is a view (Flatten, Reshape): "
                    "give it the steps' dims directly (TimeDistributed(Flatten()) is "
                    "mt_flatten_new(2, -1))", layer->info.name);
    char name[MT_NAME_MAX + 16];
    snprintf(name, sizeof name, "time_distributed %s", layer->info.name);
    mt_layer *l = s ? NULL : mt_nn_layer_alloc("time_distributed", &td_vtable,
                                               MT_LAYER_TIME_DISTRIBUTED, name,
                                               sizeof(td_state));
    if (!l) {
        mt_layer_free(layer);
        return s ? s : MT_ERR_OUT_OF_MEMORY;
    }
    layer->in_model = true;   /* freed with l, not by its builder */
    ((td_state *)l->state)->inner = layer;
    *out = l;
    return MT_OK;
}
