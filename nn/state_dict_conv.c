/* state_dict_conv.c — the convolutions whose weights need more than a
 * layout flag: Keras' depthwise and separable kernels, and the transposed
 * convolutions of both frameworks. */
#include <stdio.h>
#include <string.h>

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
    char bs[160];
    const int64_t cm = k->shape[rank - 2] * k->shape[rank - 1];
    if (b && (b->rank != 1 || b->shape[0] != cm))
        return mt_fail(MT_ERR_SHAPE, "%s: bias %s, expected [%lld] (channels·multiplier of "
                       "kernel %s, [%schannels, multiplier])", ld->layer,
                       mt_tensor_describe(b, bs, sizeof bs), (long long)cm,
                       mt_tensor_describe(k, ks, sizeof ks), rank == 4 ? "kh, kw, " : "k, ");
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
    if (s && s != MT_ERR_OUT_OF_MEMORY) {   // the conv's message names the grouped view
        char why[512];
        snprintf(why, sizeof why, "%s", mt_last_error());
        return mt_fail(s, "%s: kernel %s read as grouped [%s1, %lld], groups %lld: %s",
                       ld->layer, mt_tensor_describe(k, ks, sizeof ks),
                       rank == 4 ? "kh, kw, " : "k, ", (long long)cm,
                       (long long)k->shape[rank - 2], why);
    }
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

/* Keras' output length for one dim of a transposed conv, (in - 1)·stride
 * + c, as PyTorch's pads and output_padding: c is stride ('same') or
 * max(k, stride) ('valid') without output_padding, else k % 2 + op
 * ('same') or k + op ('valid'), k the dilated kernel. TensorFlow crops
 * k - c rows when c < k, the odd one at the bottom; PyTorch adds rows
 * beyond k at the bottom. False if k or k + op overflows (a dilation
 * near INT64_MAX): the loaders refuse it. */
static bool keras_tpad(mt_padding padding, int64_t k, int64_t dil, int64_t stride,
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

/* One value per spatial dim: "2" for one dim, "(1,2)" or "(1,2,3)". */
static const char *dims_text(int dims, const int64_t *v, char *buf, size_t size)
{
    if (dims == 1)
        snprintf(buf, size, "%lld", (long long)v[0]);
    else if (dims == 2)
        snprintf(buf, size, "(%lld,%lld)", (long long)v[0], (long long)v[1]);
    else
        snprintf(buf, size, "(%lld,%lld,%lld)", (long long)v[0], (long long)v[1],
                 (long long)v[2]);
    return buf;
}

mt_status mt_nn_keras_tconv_load(const char *kind, const mt_nn_loader *ld,
                                 mt_nn_keras_tconv *c, int64_t before[3], int64_t after[3],
                                 int64_t extra[3], mt_tensor **w, mt_tensor **b)
{
    static const char *const names[3] = {"k", "kh, kw", "kd, kh, kw"},
                             *const layouts[3] = {"k,out,in", "kh,kw,out,in",
                                                  "kd,kh,kw,out,in"};
    const int dims = c->dims, rank = dims + 2;
    *w = *b = NULL;
    bool valid = (c->padding == MT_PADDING_VALID || c->padding == MT_PADDING_SAME) &&
                 c->in_channels >= 0 && c->out_channels >= 0;
    bool stray_op = false;   // output_padding without has_output_padding: Keras' None
    for (int d = 0; d < dims; d++) {
        c->stride[d] = c->stride[d] ? c->stride[d] : 1;
        c->dilation[d] = c->dilation[d] ? c->dilation[d] : 1;
        int64_t op = c->output_padding[d];
        stray_op = stray_op || (!c->has_output_padding && op);
        valid = valid && c->size[d] >= 0 && c->stride[d] >= 1 && c->dilation[d] >= 1 &&
                (!c->has_output_padding || (op >= 0 && op < c->stride[d]));
    }
    char t[3][64];
    if (stray_op)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "%s_load %s: output_padding %s given but "
                       "has_output_padding is false (set it, or leave output_padding 0 for "
                       "Keras' output_padding=None)", kind, ld->prefix,
                       dims_text(dims, c->output_padding, t[2], sizeof t[2]));
    if (!valid)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "%s_load %s: strides %s and dilation %s >= 1, "
                       "padding VALID or SAME, output_padding %s >= 0 and below the strides, "
                       "kernel size and channels >= 0", kind, ld->prefix,
                       dims_text(dims, c->stride, t[0], sizeof t[0]),
                       dims_text(dims, c->dilation, t[1], sizeof t[1]),
                       dims_text(dims, c->output_padding, t[2], sizeof t[2]));
    mt_tensor *k;
    char ks[160], bs[160];
    mt_status s = mt_nn_load_pair(ld, ld->nm->weight, true, ld->nm->bias, false, &k, b);
    if (s)
        return s;
    int64_t want[5];
    memcpy(want, c->size, (size_t)dims * sizeof *want);
    want[dims] = c->out_channels, want[dims + 1] = c->in_channels;
    bool fits = k->rank == rank;
    for (int d = 0; fits && d < rank; d++)
        fits = k->shape[d] > 0 && (!want[d] || k->shape[d] == want[d]);
    if (!fits)
        s = mt_fail(MT_ERR_SHAPE, "%s: kernel %s, expected [%s, out, in] (Keras) with kernel "
                    "%s, %lld out and %lld in channels (0: any), no dim 0", ld->layer,
                    mt_tensor_describe(k, ks, sizeof ks), names[dims - 1],
                    dims_text(dims, c->size, t[0], sizeof t[0]), (long long)c->out_channels,
                    (long long)c->in_channels);
    else if (*b && ((*b)->rank != 1 || (*b)->shape[0] != k->shape[dims]))
        s = mt_fail(MT_ERR_SHAPE, "%s: bias %s, expected [%lld] (the out channels of kernel "
                    "%s, Keras (%s))", ld->layer, mt_tensor_describe(*b, bs, sizeof bs),
                    (long long)k->shape[dims], mt_tensor_describe(k, ks, sizeof ks),
                    layouts[dims - 1]);
    for (int d = 0; !s && d < dims; d++)
        if (!keras_tpad(c->padding, k->shape[d], c->dilation[d], c->stride[d],
                        c->has_output_padding, c->output_padding[d], &before[d], &after[d],
                        &extra[d]))
            s = mt_fail(MT_ERR_OVERFLOW, "%s: kernel %s with dilation %s and output_padding "
                        "%s: the dilated kernel (plus output_padding) overflows", ld->layer,
                        mt_tensor_describe(k, ks, sizeof ks),
                        dims_text(dims, c->dilation, t[1], sizeof t[1]),
                        dims_text(dims, c->output_padding, t[2], sizeof t[2]));
    // Keras' (k..., out, in) is PyTorch's (in, out, k...) permuted: a view
    int perm[5] = {rank - 1, rank - 2};
    for (int d = 0; d < dims; d++)
        perm[d + 2] = d;
    if (!s && !(s = mt_permute(k, perm, w)))
        mt_tensor_name_set(*w, k->name);
    mt_tensor_free(k);
    if (s) {
        mt_tensor_free(*b);
        *b = NULL;
    }
    return s;
}

/* mt_conv2d_transpose_load (kind "conv2d_transpose", 2 dims) and
 * mt_conv1d_transpose_load ("conv1d_transpose", 1 dim: the _w options;
 * the _h ones must be 0). */
static mt_status keras_transpose_load(const char *kind, int dims, const mt_state_dict *weights,
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
                       "ConvTranspose%dd is mt_conv_transpose%dd_load)", kind, prefix, dims,
                       dims);
    const mt_conv2d_transpose_options o = options ? *options
                                                  : (mt_conv2d_transpose_options){0};
    if (dims == 1 && (o.kernel_h || o.stride_h || o.dilation_h || o.output_padding_h))
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "%s_load %s: the _h fields 0 (a 1-D "
                       "transposed conv has only the _w ones)", kind, prefix);
    mt_nn_keras_tconv c = {
        .dims = dims, .padding = o.padding, .has_output_padding = o.has_output_padding,
        .size = {o.kernel_h, o.kernel_w}, .stride = {o.stride_h, o.stride_w},
        .dilation = {o.dilation_h, o.dilation_w},
        .output_padding = {o.output_padding_h, o.output_padding_w},
        .in_channels = o.in_channels, .out_channels = o.out_channels};
    if (dims == 1) {   /* the w entries */
        c.size[0] = o.kernel_w, c.stride[0] = o.stride_w, c.dilation[0] = o.dilation_w;
        c.output_padding[0] = o.output_padding_w;
    }
    int64_t before[3], after[3], extra[3];
    mt_tensor *w, *b;
    if ((s = mt_nn_keras_tconv_load(kind, &ld, &c, before, after, extra, &w, &b)))
        return s;
    const int x = dims - 1;   /* the width's index */
    mt_conv_transpose2d_params p = {
        .stride_w = c.stride[x], .dilation_w = c.dilation[x], .pad_left = before[x],
        .pad_right = after[x], .output_padding_w = extra[x], .activation = o.act};
    if (dims == 2) {
        p.stride_h = c.stride[0], p.dilation_h = c.dilation[0];
        p.pad_top = before[0], p.pad_bottom = after[0], p.output_padding_h = extra[0];
    }
    s = dims == 2 ? mt_conv_transpose2d_new(w, b, &p, out)
                  : mt_conv_transpose1d_new(w, b, &p, out);
    mt_tensor_free(w);
    mt_tensor_free(b);
    return s;
}

mt_status mt_conv2d_transpose_load(const mt_state_dict *weights, const char *prefix,
                                   const mt_conv2d_transpose_options *options,
                                   mt_layer **out)
{
    return keras_transpose_load("conv2d_transpose", 2, weights, prefix, options, out);
}

mt_status mt_conv1d_transpose_load(const mt_state_dict *weights, const char *prefix,
                                   const mt_conv2d_transpose_options *options,
                                   mt_layer **out)
{
    return keras_transpose_load("conv1d_transpose", 1, weights, prefix, options, out);
}
