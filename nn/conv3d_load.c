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

/* Keras' Conv3DTranspose: c1/kernel (kd, kh, kw, out, in), read as
 * PyTorch's (in, out, kd, kh, kw) through a permuted view, and c1/bias;
 * Keras' padding and output_padding become PyTorch's pads as for the 1-D
 * and 2-D ones (mt_nn_keras_tconv_load). */
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
    mt_nn_keras_tconv c = {
        .dims = 3, .padding = o.padding, .has_output_padding = o.has_output_padding,
        .size = {o.kernel_d, o.kernel_h, o.kernel_w},
        .stride = {o.stride_d, o.stride_h, o.stride_w},
        .dilation = {o.dilation_d, o.dilation_h, o.dilation_w},
        .output_padding = {o.output_padding_d, o.output_padding_h, o.output_padding_w},
        .in_channels = o.in_channels, .out_channels = o.out_channels};
    int64_t before[3], after[3], extra[3];
    mt_tensor *w, *b;
    if ((s = mt_nn_keras_tconv_load("conv3d_transpose", &ld, &c, before, after, extra, &w,
                                    &b)))
        return s;
    s = mt_conv_transpose3d_new(w, b, &(mt_conv_transpose3d_params){
            .stride_d = c.stride[0], .stride_h = c.stride[1], .stride_w = c.stride[2],
            .pad_front = before[0], .pad_back = after[0], .pad_top = before[1],
            .pad_bottom = after[1], .pad_left = before[2], .pad_right = after[2],
            .output_padding_d = extra[0], .output_padding_h = extra[1],
            .output_padding_w = extra[2], .dilation_d = c.dilation[0],
            .dilation_h = c.dilation[1], .dilation_w = c.dilation[2], .activation = o.act}, out);
    mt_tensor_free(w);
    mt_tensor_free(b);
    return s;
}
