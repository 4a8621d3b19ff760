/* pool_layers.c — GlobalAveragePooling2D: the mean over H and W of NHWC. */
#include "layer_internal.h"
#include "minitensor/reduce.h"

static mt_status gap_infer(const mt_layer *l, int n, const mt_shape *in,
                           const char *const *from, mt_shape *out)
{
    (void)l, (void)n;
    if (in->rank != 4)
        return mt_fail(MT_ERR_SHAPE, "expects NHWC input (4 dims: N,H,W,C), %s gives %d "
                       "dims", from[0], in->rank);
    if (in->dim[1] < 1 || in->dim[2] < 1)
        return mt_fail(MT_ERR_SHAPE, "expects a non-empty image, %s gives %lldx%lld",
                       from[0], (long long)in->dim[1], (long long)in->dim[2]);
    *out = (mt_shape){.dtype = MT_DTYPE_F32, .rank = 2, .dim = {in->dim[0], in->dim[3]}};
    return MT_OK;
}

static mt_status gap_forward(const mt_layer *l, int n, const mt_tensor *const *in,
                             void *scratch, mt_tensor *out)
{
    (void)l, (void)n, (void)scratch;
    return mt_mean_dims_into(in[0], (const int[]){1, 2}, 2, false, out);
}

static const mt_layer_vtable gap_vtable = {
    .n_inputs = 1,
    .infer = gap_infer,
    .forward = gap_forward,
};

mt_status mt_global_avg_pool2d_new(mt_layer **out)
{
    if (!out)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "global_avg_pool2d: out is NULL");
    *out = nn_layer_alloc("global_avg_pool2d", &gap_vtable, MT_LAYER_GLOBAL_AVG_POOL2D,
                          "global_avg_pool2d", 0);
    return *out ? MT_OK : MT_ERR_OUT_OF_MEMORY;
}
