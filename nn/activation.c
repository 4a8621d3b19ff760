/* activation.c — ReLU and Softmax layers: same shape in and out. */
#include "layer_internal.h"

/* ---- ReLU --------------------------------------------------------------------- */

static mt_status relu_forward(const mt_layer *l, const mt_tensor *in, bool fuse_relu,
                              mt_tensor *out)
{
    (void)l, (void)fuse_relu;
    return mt_relu_into(in, out);
}

static const struct nn_layer_ops relu_ops = {
    .infer = nn_infer_same,
    .is_view = false,
    .forward = relu_forward,
};

mt_status mt_relu_new(mt_layer **out)
{
    if (!out)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "relu: out is NULL");
    *out = nn_layer_alloc("relu", &relu_ops, MT_LAYER_RELU, "relu");
    return *out ? MT_OK : MT_ERR_OUT_OF_MEMORY;
}

/* ---- Softmax ------------------------------------------------------------------ */

static mt_status softmax_infer(const mt_layer *l, const nn_shape *in, nn_shape *out,
                               const char *from)
{
    int dim = l->info.dim;
    if (dim < -in->rank || dim >= in->rank)
        return mt_fail(MT_ERR_SHAPE, "dim %d is out of range for the %d dims %s gives",
                       dim, in->rank, from);
    *out = *in;
    return MT_OK;
}

static mt_status softmax_forward(const mt_layer *l, const mt_tensor *in, bool fuse_relu,
                                 mt_tensor *out)
{
    (void)fuse_relu;
    return mt_softmax_into(in, l->info.dim, out);
}

static const struct nn_layer_ops softmax_ops = {
    .infer = softmax_infer,
    .is_view = false,
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
    mt_layer *l = nn_layer_alloc("softmax", &softmax_ops, MT_LAYER_SOFTMAX, "softmax");
    if (!l)
        return MT_ERR_OUT_OF_MEMORY;
    l->info.dim = dim;
    *out = l;
    return MT_OK;
}
