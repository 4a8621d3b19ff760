/* activation.c — ReLU and Softmax layers: same shape in and out. A ReLU
 * describes itself as an epilogue, so a layer before it that can absorb
 * one (Linear, Conv2D, Add) applies it as it writes. */
#include "layer_internal.h"

/* ---- ReLU --------------------------------------------------------------------- */

static mt_status relu_forward(const mt_layer *l, int n, const mt_tensor *const *in,
                              void *scratch, mt_tensor *out)
{
    (void)l, (void)n, (void)scratch;
    return mt_relu_into(in[0], out);
}

static bool relu_as_epilogue(const mt_layer *l, mt_layer_epilogue *e)
{
    (void)l;
    *e = (mt_layer_epilogue){.act = MT_ACTIVATION_RELU};
    return true;
}

static const mt_layer_vtable relu_vtable = {
    .n_inputs = 1,
    .infer = nn_infer_same,
    .forward = relu_forward,
    .as_epilogue = relu_as_epilogue,
};

mt_status mt_relu_new(mt_layer **out)
{
    if (!out)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "relu: out is NULL");
    *out = nn_layer_alloc("relu", &relu_vtable, MT_LAYER_RELU, "relu", 0);
    return *out ? MT_OK : MT_ERR_OUT_OF_MEMORY;
}

/* ---- Softmax ------------------------------------------------------------------ */

static mt_status softmax_infer(const mt_layer *l, int n, const mt_shape *in,
                               const char *const *from, mt_shape *out)
{
    (void)n;
    int dim = l->info.dim;
    if (dim < -in->rank || dim >= in->rank)
        return mt_fail(MT_ERR_SHAPE, "dim %d is out of range for the %d dims %s gives",
                       dim, in->rank, from[0]);
    *out = *in;
    return MT_OK;
}

static mt_status softmax_forward(const mt_layer *l, int n, const mt_tensor *const *in,
                                 void *scratch, mt_tensor *out)
{
    (void)n, (void)scratch;
    return mt_softmax_into(in[0], l->info.dim, out);
}

static const mt_layer_vtable softmax_vtable = {
    .n_inputs = 1,
    .infer = softmax_infer,
    .forward = softmax_forward,
};

mt_status mt_softmax_new(int dim, mt_layer **out)
{
    if (!out)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "softmax: out is NULL");
    *out = NULL;
    if (dim < -MT_MAX_RANK || dim >= MT_MAX_RANK)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "softmax: dim %d is out of range "
                       "-%d..%d", dim, MT_MAX_RANK, MT_MAX_RANK - 1);
    mt_layer *l = nn_layer_alloc("softmax", &softmax_vtable, MT_LAYER_SOFTMAX, "softmax", 0);
    if (!l)
        return MT_ERR_OUT_OF_MEMORY;
    l->info.dim = dim;
    *out = l;
    return MT_OK;
}
