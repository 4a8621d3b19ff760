/* state_dict_conv.c — the convolutions whose weights need more than a
 * layout flag: Keras' depthwise and separable kernels, and the transposed
 * convolutions of both frameworks. */
#include <stdio.h>

#include "minitensor/view.h"
#include "state_dict_internal.h"

/* Keras' depthwise kernel k (kh, kw, C, m), or (k, C, m) for rank 3, as
 * the grouped HWIO kernel (kh, kw, 1, C·m), groups C, into a Conv2D (a
 * Conv1D for rank 3) with bias b (or none). */
static mt_status depthwise(const mt_nn_loader *ld, const mt_tensor *k, const mt_tensor *b,
                           mt_conv2d_options o, int rank, mt_layer **out)
{
    char ks[160];
    if (k->rank != rank || mt_tensor_numel(k) < 1)   /* no dim 0: C·m cannot overflow */
        return mt_fail(MT_ERR_SHAPE, "%s: kernel %s, expected [%schannels, multiplier]",
                       ld->layer, mt_tensor_describe(k, ks, sizeof ks),
                       rank == 4 ? "kh, kw, " : "k, ");
    /* a heap view, which keeps k alive for the layer if k owns a copy */
    int64_t shape[4] = {k->shape[0], 1, 1, 1};
    if (rank == 4)
        shape[1] = k->shape[1];
    shape[rank - 1] = k->shape[rank - 2] * k->shape[rank - 1];
    mt_tensor *grouped;
    mt_status s = mt_view(k, rank, shape, &grouped);
    if (s)
        return s;
    mt_tensor_name_set(grouped, k->name);
    o.layout = MT_KERNEL_HWIO;
    o.groups = k->shape[rank - 2];
    s = rank == 4 ? mt_conv2d_new(grouped, b, &o, out) : mt_conv1d_new(grouped, b, &o, out);
    mt_tensor_free(grouped);
    return s;
}

/* mt_depthwise_conv2d_load (kind "depthwise_conv2d", rank 4) and
 * mt_depthwise_conv1d_load ("depthwise_conv1d", rank 3). */
static mt_status depthwise_load(const char *kind, int rank, const mt_state_dict *weights,
                                const char *prefix, const mt_conv2d_options *options,
                                mt_layer **out)
{
    mt_nn_loader ld;
    mt_status s = mt_nn_load_begin(kind, weights, prefix, out, &ld);
    if (s)
        return s;
    if (weights->framework != MT_FRAMEWORK_KERAS)
        return mt_fail(MT_ERR_UNSUPPORTED, "%s_load %s: Keras only (a PyTorch depthwise "
                       "conv is mt_conv%dd_load with .groups = its channels)", kind, prefix,
                       rank - 2);
    mt_conv2d_options o = options ? *options : (mt_conv2d_options){0};
    if ((o.layout != MT_KERNEL_AUTO && o.layout != MT_KERNEL_HWIO) || o.groups != 0)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "%s_load %s: layout and groups come from "
                       "the kernel (leave them 0)", kind, prefix);
    // a SeparableConv's bias belongs after its pointwise kernel: reading
    // it here would add it in the wrong place
    char key[MT_NN_KEY_MAX];
    if (mt_nn_load_resolve(&ld, "pointwise_kernel", key))
        return mt_fail(MT_ERR_UNSUPPORTED, "%s_load %s: %s is in the file: a "
                       "SeparableConv%dD is mt_separable_conv%dd_load", kind, prefix, key,
                       rank - 2, rank - 2);
    mt_tensor *k = NULL, *b = NULL;
    /* Keras 3 calls it kernel, Keras 2 depthwise_kernel */
    s = mt_nn_load_fetch(&ld, "depthwise_kernel", false, &k);
    if (!s && !k)
        s = mt_nn_load_fetch(&ld, ld.nm->weight, true, &k);
    if (!s)
        s = mt_nn_load_fetch(&ld, ld.nm->bias, false, &b);
    if (!s)
        s = depthwise(&ld, k, b, o, rank, out);
    mt_tensor_free(k);
    mt_tensor_free(b);
    return s;
}

mt_status mt_depthwise_conv2d_load(const mt_state_dict *weights, const char *prefix,
                                   const mt_conv2d_options *options, mt_layer **out)
{
    return depthwise_load("depthwise_conv2d", 4, weights, prefix, options, out);
}

mt_status mt_depthwise_conv1d_load(const mt_state_dict *weights, const char *prefix,
                                   const mt_conv2d_options *options, mt_layer **out)
{
    return depthwise_load("depthwise_conv1d", 3, weights, prefix, options, out);
}

/* mt_separable_conv2d_load (kind "separable_conv2d", rank 4) and
 * mt_separable_conv1d_load ("separable_conv1d", rank 3). */
static mt_status separable_load(const char *kind, int rank, const mt_state_dict *weights,
                                const char *prefix, const mt_conv2d_options *options,
                                mt_layer **depthwise_out, mt_layer **pointwise_out)
{
    if (!depthwise_out || !pointwise_out)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "%s_load: out is NULL", kind);
    *pointwise_out = NULL;
    if (depthwise_out == pointwise_out)   /* the second layer would overwrite the first */
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "%s_load: depthwise_out and pointwise_out "
                       "are the same pointer", kind);
    mt_nn_loader ld;
    mt_status s = mt_nn_load_begin(kind, weights, prefix, depthwise_out, &ld);
    if (s)
        return s;
    if (weights->framework != MT_FRAMEWORK_KERAS)
        return mt_fail(MT_ERR_UNSUPPORTED, "%s_load %s: Keras only", kind, prefix);
    mt_conv2d_options o = options ? *options : (mt_conv2d_options){0};
    if (o.layout != MT_KERNEL_AUTO || o.groups != 0 || o.padding == MT_PADDING_EXPLICIT)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "%s_load %s: layout and groups come from "
                       "the kernels (leave them 0), padding VALID or SAME", kind, prefix);
    // strides, padding, dilation and the kernel size go to the depthwise
    // step; the filters, the bias and the activation to the pointwise one
    mt_conv2d_options po = {.act = o.act, .out_channels = o.out_channels};
    o.act = MT_ACTIVATION_NONE;
    o.out_channels = 0;
    mt_tensor *dk, *pk, *b = NULL;
    if (!(s = mt_nn_load_pair(&ld, "depthwise_kernel", true, "pointwise_kernel", true, &dk, &pk)) &&
        !(s = mt_nn_load_fetch(&ld, ld.nm->bias, false, &b)) &&
        !(s = depthwise(&ld, dk, NULL, o, rank, depthwise_out))) {
        /* the two steps must chain: the pointwise kernel takes the C·m
         * channels the depthwise one gives */
        int64_t cm = dk->shape[rank - 2] * dk->shape[rank - 1];
        char ds[160], ps[160];
        if (pk->rank == rank && pk->shape[rank - 2] != cm)
            s = mt_fail(MT_ERR_SHAPE, "%s: pointwise kernel %s takes %lld channels, depthwise "
                        "kernel %s gives %lld (channels x multiplier)", ld.layer,
                        mt_tensor_describe(pk, ps, sizeof ps), (long long)pk->shape[rank - 2],
                        mt_tensor_describe(dk, ds, sizeof ds), (long long)cm);
        else
            s = rank == 4 ? mt_conv2d_new(pk, b, &po, pointwise_out)
                          : mt_conv1d_new(pk, b, &po, pointwise_out);
        if (s) {
            mt_layer_free(*depthwise_out);
            *depthwise_out = NULL;
        }
    }
    mt_tensor_free(dk);
    mt_tensor_free(pk);
    mt_tensor_free(b);
    return s;
}

mt_status mt_separable_conv2d_load(const mt_state_dict *weights, const char *prefix,
                                   const mt_conv2d_options *options, mt_layer **depthwise_out,
                                   mt_layer **pointwise_out)
{
    return separable_load("separable_conv2d", 4, weights, prefix, options, depthwise_out,
                          pointwise_out);
}

mt_status mt_separable_conv1d_load(const mt_state_dict *weights, const char *prefix,
                                   const mt_conv2d_options *options, mt_layer **depthwise_out,
                                   mt_layer **pointwise_out)
{
    return separable_load("separable_conv1d", 3, weights, prefix, options, depthwise_out,
                          pointwise_out);
}

mt_status mt_conv_transpose2d_load(const mt_state_dict *weights, const char *prefix,
                                   const mt_conv_transpose2d_params *params,
                                   mt_layer **out)
{
    mt_nn_loader ld;
    mt_status s = mt_nn_load_begin("conv_transpose2d", weights, prefix, out, &ld);
    if (s)
        return s;
    if (weights->framework != MT_FRAMEWORK_PYTORCH)
        return mt_fail(MT_ERR_UNSUPPORTED, "conv_transpose2d_load %s: reads PyTorch's "
                       "[in, out/groups, kh, kw] weights; a Keras Conv2DTranspose is "
                       "mt_conv2d_transpose_load", prefix);
    mt_tensor *w, *b;
    if (!(s = mt_nn_load_pair(&ld, ld.nm->weight, true, ld.nm->bias, false, &w, &b)))
        s = mt_conv_transpose2d_new(w, b, params, out);
    mt_tensor_free(w);
    mt_tensor_free(b);
    return s;
}

mt_status mt_conv_transpose1d_load(const mt_state_dict *weights, const char *prefix,
                                   const mt_conv_transpose2d_params *params,
                                   mt_layer **out)
{
    mt_nn_loader ld;
    mt_status s = mt_nn_load_begin("conv_transpose1d", weights, prefix, out, &ld);
    if (s)
        return s;
    if (weights->framework != MT_FRAMEWORK_PYTORCH)
        return mt_fail(MT_ERR_UNSUPPORTED, "conv_transpose1d_load %s: reads PyTorch's "
                       "[in, out/groups, k] weights; a Keras Conv1DTranspose is "
                       "mt_conv1d_transpose_load", prefix);
    mt_tensor *w, *b;
    if (!(s = mt_nn_load_pair(&ld, ld.nm->weight, true, ld.nm->bias, false, &w, &b)))
        s = mt_conv_transpose1d_new(w, b, params, out);
    mt_tensor_free(w);
    mt_tensor_free(b);
    return s;
}

/* state_dict_internal.h says what it gives. */
bool mt_nn_keras_tpad(mt_padding padding, int64_t k, int64_t dil, int64_t stride,
                      bool has_op, int64_t op, int64_t *before, int64_t *after,
                      int64_t *extra)
{
    if (k > 1 && dil > (INT64_MAX - 1) / (k - 1))
        return false;
    int64_t span = dil * (k - 1) + 1;
    if (has_op && op > INT64_MAX - span)
        return false;
    int64_t c = padding == MT_PADDING_SAME ? (has_op ? span % 2 + op : stride)
                                           : (has_op ? span + op : (span > stride ? span
                                                                                  : stride));
    int64_t crop = span > c ? span - c : 0;
    *before = crop / 2;
    *after = crop - *before;
    *extra = c > span ? c - span : 0;
    return true;
}

/* The h and w values of a 2-D transposed conv's options ("(1,2)"), or the
 * w value of a 1-D one ("2"), into buf. */
static const char *spatial_text(bool two_d, const int64_t v[2], char *buf, size_t size)
{
    if (two_d)
        snprintf(buf, size, "(%lld,%lld)", (long long)v[0], (long long)v[1]);
    else
        snprintf(buf, size, "%lld", (long long)v[1]);
    return buf;
}

/* mt_conv2d_transpose_load (kind "conv2d_transpose", rank 4: Keras'
 * kernel (kh, kw, out, in)) and mt_conv1d_transpose_load
 * ("conv1d_transpose", rank 3: (k, out, in); the _h options unused). */
static mt_status keras_transpose_load(const char *kind, int rank, const mt_state_dict *weights,
                                      const char *prefix,
                                      const mt_conv2d_transpose_options *options,
                                      mt_layer **out)
{
    mt_nn_loader ld;
    mt_status s = mt_nn_load_begin(kind, weights, prefix, out, &ld);
    if (s)
        return s;
    if (!ld.keras)
        return mt_fail(MT_ERR_UNSUPPORTED, "%s_load %s: Keras only (a PyTorch "
                       "ConvTranspose%dd is mt_conv_transpose%dd_load)", kind, prefix, rank - 2,
                       rank - 2);
    const mt_conv2d_transpose_options o = options ? *options
                                                  : (mt_conv2d_transpose_options){0};
    const bool two_d = rank == 4;
    if (!two_d && (o.kernel_h || o.stride_h || o.dilation_h || o.output_padding_h))
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "%s_load %s: the _h fields 0 (a 1-D "
                       "transposed conv has only the _w ones)", kind, prefix);
    // per spatial dim, h then w; a 1-D conv uses the w entries only
    const int first = two_d ? 0 : 1;
    const int64_t size[2] = {o.kernel_h, o.kernel_w},
                  stride[2] = {o.stride_h ? o.stride_h : 1, o.stride_w ? o.stride_w : 1},
                  dil[2] = {o.dilation_h ? o.dilation_h : 1, o.dilation_w ? o.dilation_w : 1},
                  op[2] = {o.output_padding_h, o.output_padding_w};
    bool valid = (o.padding == MT_PADDING_VALID || o.padding == MT_PADDING_SAME) &&
                 o.in_channels >= 0 && o.out_channels >= 0;
    for (int d = first; d < 2; d++)
        valid = valid && size[d] >= 0 && stride[d] >= 1 && dil[d] >= 1 &&
                (!o.has_output_padding || (op[d] >= 0 && op[d] < stride[d]));
    char t[3][48];
    if (!o.has_output_padding && (op[0] || op[1]))   // else silently Keras' None
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "%s_load %s: output_padding %s given but "
                       "has_output_padding is false (set it, or leave output_padding 0 for "
                       "Keras' output_padding=None)", kind, prefix,
                       spatial_text(two_d, op, t[2], sizeof t[2]));
    if (!valid)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "%s_load %s: strides %s and dilation %s >= 1, "
                       "padding VALID or SAME, output_padding %s >= 0 and below the strides, "
                       "kernel size and channels >= 0", kind, prefix,
                       spatial_text(two_d, stride, t[0], sizeof t[0]),
                       spatial_text(two_d, dil, t[1], sizeof t[1]),
                       spatial_text(two_d, op, t[2], sizeof t[2]));
    mt_tensor *k, *b, *w = NULL;
    char ks[160], bs[160];
    if ((s = mt_nn_load_pair(&ld, ld.nm->weight, true, ld.nm->bias, false, &k, &b)))
        return s;
    const char *layout = two_d ? "kh,kw,out,in" : "k,out,in";
    const int64_t want[4] = {o.kernel_h, o.kernel_w, o.out_channels, o.in_channels};
    bool fits = k->rank == rank;
    for (int d = 0; fits && d < rank; d++)
        fits = k->shape[d] > 0 && (!want[first + d] || k->shape[d] == want[first + d]);
    if (!fits)
        s = mt_fail(MT_ERR_SHAPE, "%s: kernel %s, expected [%s, out, in] (Keras) with kernel "
                    "%s, %lld out and %lld in channels (0: any), no dim 0", ld.layer,
                    mt_tensor_describe(k, ks, sizeof ks), two_d ? "kh, kw" : "k",
                    spatial_text(two_d, size, t[0], sizeof t[0]),
                    (long long)o.out_channels, (long long)o.in_channels);
    else if (b && (b->rank != 1 || b->shape[0] != k->shape[rank - 2]))
        s = mt_fail(MT_ERR_SHAPE, "%s: bias %s, expected [%lld] (the out channels of kernel "
                    "%s, Keras (%s))", ld.layer, mt_tensor_describe(b, bs, sizeof bs),
                    (long long)k->shape[rank - 2], mt_tensor_describe(k, ks, sizeof ks), layout);
    // Keras' (kh, kw, out, in) is PyTorch's (in, out, kh, kw) permuted, and
    // (k, out, in) is (in, out, k) reversed: a view
    if (!s && !(s = mt_permute(k, two_d ? (const int[]){3, 2, 0, 1} : (const int[]){2, 1, 0},
                               &w))) {
        mt_tensor_name_set(w, k->name);
        int64_t before[2] = {0}, after[2] = {0}, extra[2] = {0};
        bool fit = true;
        for (int d = first; fit && d < 2; d++)
            fit = mt_nn_keras_tpad(o.padding, k->shape[d - first], dil[d], stride[d],
                                   o.has_output_padding, op[d], &before[d], &after[d],
                                   &extra[d]);
        mt_conv_transpose2d_params p = {
            .stride_w = stride[1], .dilation_w = dil[1], .pad_left = before[1],
            .pad_right = after[1], .output_padding_w = extra[1]};
        if (two_d) {
            p.stride_h = stride[0], p.dilation_h = dil[0];
            p.pad_top = before[0], p.pad_bottom = after[0], p.output_padding_h = extra[0];
        }
        if (!fit)
            s = mt_fail(MT_ERR_OVERFLOW, "%s: kernel %s with dilation %s and output_padding "
                        "%s: the dilated kernel (plus output_padding) overflows", ld.layer,
                        mt_tensor_describe(k, ks, sizeof ks),
                        spatial_text(two_d, dil, t[1], sizeof t[1]),
                        spatial_text(two_d, op, t[2], sizeof t[2]));
        else
            s = two_d ? mt_conv_transpose2d_new(w, b, &p, out)
                      : mt_conv_transpose1d_new(w, b, &p, out);
    }
    mt_tensor_free(w);
    mt_tensor_free(k);
    mt_tensor_free(b);
    return s;
}

mt_status mt_conv2d_transpose_load(const mt_state_dict *weights, const char *prefix,
                                   const mt_conv2d_transpose_options *options,
                                   mt_layer **out)
{
    return keras_transpose_load("conv2d_transpose", 4, weights, prefix, options, out);
}

mt_status mt_conv1d_transpose_load(const mt_state_dict *weights, const char *prefix,
                                   const mt_conv2d_transpose_options *options,
                                   mt_layer **out)
{
    return keras_transpose_load("conv1d_transpose", 3, weights, prefix, options, out);
}
