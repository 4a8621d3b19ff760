/* conv3d_load.c — Conv3D and the transposed 3-D convs by the names
 * PyTorch's state_dict ("c1.weight", "c1.bias"; under weight norm
 * c1.weight_g and c1.weight_v) and Keras ("c1/kernel", "c1/bias"; Keras
 * 2's "c1/kernel:0") give them, read as the other state_dict loaders read
 * theirs. */
#include "minitensor/view.h"
#include "state_dict_internal.h"

mt_status mt_conv3d_load(const mt_state_dict *weights, const char *prefix,
                         const mt_conv3d_options *options, mt_layer **out)
{
    mt_nn_loader ld;
    mt_status s = mt_nn_load_begin("conv3d", weights, prefix, out, &ld);
    if (s)
        return s;
    mt_conv3d_options o = options ? *options : (mt_conv3d_options){0};
    if (o.layout == MT_KERNEL_AUTO)   /* DHWIO and OIDHW, as Conv2D's HWIO and OIHW */
        o.layout = ld.nm->kernel;
    mt_tensor *k, *b;
    if (!(s = mt_nn_load_pair(&ld, ld.nm->weight, true, ld.nm->bias, false, &k, &b)))
        s = mt_conv3d_new(k, b, &o, out);
    mt_tensor_free(k);
    mt_tensor_free(b);
    return s;
}

/* ConvTranspose3D by PyTorch's names: c1.weight [in, out/groups, kd, kh,
 * kw] (or its weight norm pair), c1.bias. */
mt_status mt_conv_transpose3d_load(const mt_state_dict *weights, const char *prefix,
                                   const mt_conv_transpose3d_params *params, mt_layer **out)
{
    mt_nn_loader ld;
    mt_status s = mt_nn_load_begin("conv_transpose3d", weights, prefix, out, &ld);
    if (s)
        return s;
    if (ld.keras)
        return mt_fail(MT_ERR_UNSUPPORTED, "conv_transpose3d_load %s: reads PyTorch's "
                       "[in, out/groups, kd, kh, kw] weights; a Keras Conv3DTranspose is "
                       "mt_conv3d_transpose_load", prefix);
    mt_tensor *w, *b;
    if (!(s = mt_nn_load_pair(&ld, ld.nm->weight, true, ld.nm->bias, false, &w, &b)))
        s = mt_conv_transpose3d_new(w, b, params, out);
    mt_tensor_free(w);
    mt_tensor_free(b);
    return s;
}

/* Checks Keras' options (zeros resolved into stride and dil). */
static mt_status keras_options(const char *prefix, const mt_conv3d_transpose_options *o,
                               int64_t stride[3], int64_t dil[3], int64_t opad[3])
{
    const int64_t size[3] = {o->kernel_d, o->kernel_h, o->kernel_w};
    const int64_t s0[3] = {o->stride_d, o->stride_h, o->stride_w};
    const int64_t d0[3] = {o->dilation_d, o->dilation_h, o->dilation_w};
    const int64_t op[3] = {o->output_padding_d, o->output_padding_h, o->output_padding_w};
    bool valid = (o->padding == MT_PADDING_VALID || o->padding == MT_PADDING_SAME) &&
                 o->in_channels >= 0 && o->out_channels >= 0;
    for (int a = 0; a < 3; a++) {
        stride[a] = s0[a] ? s0[a] : 1;
        dil[a] = d0[a] ? d0[a] : 1;
        opad[a] = op[a];
        valid = valid && size[a] >= 0 && stride[a] >= 1 && dil[a] >= 1 &&
                (o->has_output_padding ? op[a] >= 0 && op[a] < stride[a] : op[a] == 0);
    }
    if (!valid)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "conv3d_transpose_load %s: strides "
                       "(%lld,%lld,%lld) and dilation (%lld,%lld,%lld) >= 1, padding VALID "
                       "or SAME, output_padding (%lld,%lld,%lld) >= 0 and below the strides "
                       "(0 without has_output_padding), kernel size and channels >= 0",
                       prefix, (long long)stride[0], (long long)stride[1],
                       (long long)stride[2], (long long)dil[0], (long long)dil[1],
                       (long long)dil[2], (long long)op[0], (long long)op[1],
                       (long long)op[2]);
    return MT_OK;
}

/* Keras' Conv3DTranspose: c1/kernel (kd, kh, kw, out, in), read as
 * PyTorch's (in, out, kd, kh, kw) through a permuted view, and c1/bias;
 * Keras' padding and output_padding become PyTorch's pads as for
 * Conv2DTranspose (mt_nn_keras_tpad). */
mt_status mt_conv3d_transpose_load(const mt_state_dict *weights, const char *prefix,
                                   const mt_conv3d_transpose_options *options,
                                   mt_layer **out)
{
    mt_nn_loader ld;
    mt_status s = mt_nn_load_begin("conv3d_transpose", weights, prefix, out, &ld);
    if (s)
        return s;
    if (!ld.keras)
        return mt_fail(MT_ERR_UNSUPPORTED, "conv3d_transpose_load %s: Keras only (a PyTorch "
                       "ConvTranspose3d is mt_conv_transpose3d_load)", prefix);
    const mt_conv3d_transpose_options o = options ? *options
                                                  : (mt_conv3d_transpose_options){0};
    int64_t stride[3], dil[3], opad[3];
    if ((s = keras_options(prefix, &o, stride, dil, opad)))
        return s;
    mt_tensor *k, *b, *w = NULL;
    char ks[160], bs[160];
    if ((s = mt_nn_load_pair(&ld, ld.nm->weight, true, ld.nm->bias, false, &k, &b)))
        return s;
    const int64_t want[5] = {o.kernel_d, o.kernel_h, o.kernel_w, o.out_channels,
                             o.in_channels};
    bool fits = k->rank == 5;
    for (int d = 0; fits && d < 5; d++)
        fits = k->shape[d] > 0 && (!want[d] || k->shape[d] == want[d]);
    if (!fits)
        s = mt_fail(MT_ERR_SHAPE, "%s: kernel %s, expected [kd, kh, kw, out, in] (Keras) "
                    "with kernel (%lld,%lld,%lld), %lld out and %lld in channels (0: any), "
                    "no dim 0", ld.layer, mt_tensor_describe(k, ks, sizeof ks),
                    (long long)want[0], (long long)want[1], (long long)want[2],
                    (long long)want[3], (long long)want[4]);
    else if (b && (b->rank != 1 || b->shape[0] != k->shape[3]))
        s = mt_fail(MT_ERR_SHAPE, "%s: bias %s, expected [%lld] (the out channels of kernel "
                    "%s, Keras (kd,kh,kw,out,in))", ld.layer,
                    mt_tensor_describe(b, bs, sizeof bs), (long long)k->shape[3],
                    mt_tensor_describe(k, ks, sizeof ks));
    if (!s && !(s = mt_permute(k, (const int[]){4, 3, 0, 1, 2}, &w))) {
        mt_tensor_name_set(w, k->name);
        int64_t before[3], after[3], extra[3];
        bool fit = true;
        for (int a = 0; fit && a < 3; a++)
            fit = mt_nn_keras_tpad(o.padding, k->shape[a], dil[a], stride[a],
                                   o.has_output_padding, opad[a], &before[a], &after[a],
                                   &extra[a]);
        if (!fit)
            s = mt_fail(MT_ERR_OVERFLOW, "%s: kernel %s with dilation (%lld,%lld,%lld) and "
                        "output_padding (%lld,%lld,%lld): the dilated kernel (plus "
                        "output_padding) overflows", ld.layer,
                        mt_tensor_describe(k, ks, sizeof ks), (long long)dil[0],
                        (long long)dil[1], (long long)dil[2], (long long)opad[0],
                        (long long)opad[1], (long long)opad[2]);
        else
            s = mt_conv_transpose3d_new(w, b, &(mt_conv_transpose3d_params){
                    .stride_d = stride[0], .stride_h = stride[1], .stride_w = stride[2],
                    .pad_front = before[0], .pad_back = after[0], .pad_top = before[1],
                    .pad_bottom = after[1], .pad_left = before[2], .pad_right = after[2],
                    .output_padding_d = extra[0], .output_padding_h = extra[1],
                    .output_padding_w = extra[2], .dilation_d = dil[0],
                    .dilation_h = dil[1], .dilation_w = dil[2]}, out);
    }
    mt_tensor_free(w);
    mt_tensor_free(k);
    mt_tensor_free(b);
    return s;
}
