/* pool1d_layer.c — 1-D pooling on channels-last sequences [N,L,C]: MaxPool1D
 * and AvgPool1D (the 2-D pools on [N,L,1,C] views). The global ones, with
 * or without a mask, are in mask_layers.c. */
#include <stdio.h>

#include "layer_internal.h"
#include "minitensor/pool.h"
#include "minitensor/reduce.h"
#include "minitensor/view.h"

static mt_status pool1d_infer(const mt_layer *l, int n, const mt_shape *in,
                              const char *const *from, mt_shape *out)
{
    (void)n;
    const mt_pool2d_params *p = l->state;
    if (in->rank != 3 || in->dtype != MT_DTYPE_F32)
        return mt_fail(MT_ERR_SHAPE, "expects F32 channels-last sequences [N,L,C] (3 dims), "
                       "%s gives %s with %d dims", from[0], mt_dtype_name(in->dtype), in->rank);
    int64_t ol = mt_nn_window_len(in->dim[1], p->pool_h, p->stride_h, 1, p->padding,
                                  p->pad_top, p->pad_bottom, p->ceil_mode);
    if (ol < 0)
        return mt_fail(MT_ERR_OVERFLOW, "its window %lld on the length %lld %s gives: a size "
                       "overflows", (long long)p->pool_h, (long long)in->dim[1], from[0]);
    if (ol < 1)
        return mt_fail(MT_ERR_SHAPE, "its window %lld does not fit the length %lld %s gives",
                       (long long)p->pool_h, (long long)in->dim[1], from[0]);
    *out = *in;
    out->dim[1] = ol;
    return MT_OK;
}

static mt_status pool1d_forward(const mt_layer *l, int n, const mt_tensor *const *in,
                                void *scratch, mt_tensor *out)
{
    (void)n, (void)scratch;
    mt_tensor x4, y4;   /* [N,L,1,C] and [N,OL,1,C] */
    mt_status s = mt_unsqueeze_into(in[0], 2, &x4);
    if (!s)
        s = mt_unsqueeze_into(out, 2, &y4);
    if (s)
        return s;
    return l->info.kind == MT_LAYER_MAX_POOL1D ? mt_max_pool2d_into(&x4, l->state, &y4)
                                               : mt_avg_pool2d_into(&x4, l->state, &y4);
}

static const mt_layer_vtable pool1d_vtable = {
    .n_inputs = 1, .infer = pool1d_infer, .forward = pool1d_forward};

static mt_status pool1d_new(const char *op, mt_layer_kind kind, const mt_pool1d_options *o,
                            mt_layer **out)
{
    if (!o || !out)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "%s: %s is NULL", op, out ? "options" : "out");
    *out = NULL;
    if (o->pool < 1 || o->stride < 0 || o->pad < 0 || o->pad > o->pool / 2)   /* 2·pad wraps */
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "%s: pool %lld, stride %lld or pad %lld out "
                       "of range (pool >= 1, stride >= 0, pad at most half the window)", op,
                       (long long)o->pool, (long long)o->stride, (long long)o->pad);
    if (o->padding != MT_PADDING_VALID && o->padding != MT_PADDING_SAME)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "%s: padding %d, expected MT_PADDING_VALID or "
                       "MT_PADDING_SAME (PyTorch's padding: .pad)", op, (int)o->padding);
    char name[64];
    snprintf(name, sizeof name, "%s %lld", op, (long long)o->pool);
    mt_layer *l = mt_nn_layer_alloc(op, &pool1d_vtable, kind, name, sizeof(mt_pool2d_params));
    if (!l)
        return MT_ERR_OUT_OF_MEMORY;
    mt_pool2d_params *p = l->state;
    *p = (mt_pool2d_params){.pool_h = o->pool, .pool_w = 1,
                            .stride_h = o->stride ? o->stride : o->pool, .stride_w = 1,
                            .padding = o->pad ? MT_PADDING_EXPLICIT : o->padding,
                            .pad_top = o->pad, .pad_bottom = o->pad,
                            .count_include_pad = o->count_include_pad,
                            .ceil_mode = o->ceil_mode};
    l->info.kernel_h = p->pool_h;
    l->info.stride_h = p->stride_h;
    l->info.padding = p->padding;
    *out = l;
    return MT_OK;
}

mt_status mt_max_pool1d_new(const mt_pool1d_options *options, mt_layer **out)
{
    return pool1d_new("max_pool1d", MT_LAYER_MAX_POOL1D, options, out);
}

mt_status mt_avg_pool1d_new(const mt_pool1d_options *options, mt_layer **out)
{
    return pool1d_new("avg_pool1d", MT_LAYER_AVG_POOL1D, options, out);
}
