/* state_dict.c — layers from the names PyTorch's state_dict and Keras write
 * ("0.weight", "conv1.weight", "bn1.running_mean"; "dense/kernel",
 * "bn/moving_mean"), read in that framework's layouts. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "layer_internal.h"
#include "minitensor/view.h"

/* The longest tensor name the loaders look up: Keras nests layers in name
 * scopes, and NASNetMobile's variable paths reach 143 bytes. */
#define KEY_MAX 512

/* The names one framework gives a layer's tensors. */
typedef struct naming {
    const char *sep;   /* between the layer's name and the tensor's */
    const char *weight, *bias, *mean, *var, *gamma, *beta, *table;
    mt_weight_layout linear;
    mt_kernel_layout kernel;
    float bn_eps;
} naming;

static const naming pytorch = {".", "weight", "bias", "running_mean", "running_var",
                               "weight", "bias", "weight", MT_LAYOUT_OUT_IN, MT_KERNEL_OIHW, 1e-5f};
static const naming keras = {"/", "kernel", "bias", "moving_mean", "moving_variance",
                             "gamma", "beta", "embeddings", MT_LAYOUT_IN_OUT, MT_KERNEL_HWIO, 1e-3f};

/* One load: the framework's names, and the layer as errors name it
 * ("linear fc1"). */
typedef struct loader {
    const mt_state_dict *sd;
    const naming *nm;
    const char *prefix;
    char layer[KEY_MAX + 32];
} loader;

/* Checks the arguments of mt_<kind>_load and fills ld. */
static mt_status begin(const char *kind, const mt_state_dict *sd, const char *prefix,
                       mt_layer **out, loader *ld)
{
    if (!out)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "%s_load: out is NULL", kind);
    *out = NULL;
    if (!sd || !sd->file || !prefix)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "%s_load: NULL argument", kind);
    if (sd->framework != MT_FRAMEWORK_PYTORCH && sd->framework != MT_FRAMEWORK_KERAS)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "%s_load %s: unknown framework %d (set "
                       "MT_FRAMEWORK_PYTORCH or MT_FRAMEWORK_KERAS)", kind, prefix,
                       (int)sd->framework);
    if (strlen(prefix) > KEY_MAX - 64)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "%s_load: prefix of %zu bytes, at most %d",
                       kind, strlen(prefix), KEY_MAX - 64);
    ld->sd = sd;
    ld->nm = sd->framework == MT_FRAMEWORK_PYTORCH ? &pytorch : &keras;
    ld->prefix = prefix;
    snprintf(ld->layer, sizeof ld->layer, "%s %s", kind, prefix);
    return MT_OK;
}

/* The name of tensor prefix<sep>suffix into key; whether it is in the
 * file. Keras 2 (tf.keras) names variables "dense/kernel:0": a Keras name
 * missing from the file is looked up with ":0" too. */
static bool resolve(const loader *ld, const char *suffix, char key[KEY_MAX])
{
    size_t index, n = (size_t)snprintf(key, KEY_MAX, "%s%s%s", ld->prefix,
                                       ld->prefix[0] ? ld->nm->sep : "", suffix);
    bool found = mt_safetensors_find(ld->sd->file, key, &index) == MT_OK;
    if (!found && ld->nm == &keras && n + 2 < KEY_MAX) {
        memcpy(key + n, ":0", 3);
        found = mt_safetensors_find(ld->sd->file, key, &index) == MT_OK;
        if (!found)
            key[n] = '\0';
    }
    mt_clear_error();
    return found;
}

static mt_status fetch(const loader *ld, const char *suffix, bool required, mt_tensor **t);

/* torch.nn.utils.weight_norm keeps p.weight as p.weight_g (the norms) and
 * p.weight_v (the directions); parametrize.weight_norm as
 * p.parametrizations.weight.original0 and .original1. If the file holds
 * such a pair, *t = g·v/‖v‖ (the norm over each slice of dim 0, weight
 * norm's default dim, or over all of v when g is one number), named
 * p.weight; *found says whether it did. */
static mt_status weight_norm(const loader *ld, mt_tensor **t, bool *found)
{
    static const char *const names[2][2] = {
        {"weight_g", "weight_v"},
        {"parametrizations.weight.original0", "parametrizations.weight.original1"}};
    char key[KEY_MAX];
    int pick = resolve(ld, names[0][0], key) ? 0 : resolve(ld, names[1][0], key) ? 1 : -1;
    *found = pick >= 0;
    if (!*found)
        return MT_OK;
    mt_tensor *g, *v, *gc = NULL, *vc = NULL;
    mt_status s = fetch(ld, names[pick][0], true, &g);
    if (!s && (s = fetch(ld, names[pick][1], true, &v)))
        mt_tensor_free(g);
    if (s)
        return s;
    char gs[160], vs[160];
    int64_t rows = v->rank ? v->shape[0] : 1, n = mt_tensor_numel(v), gn = mt_tensor_numel(g);
    bool per_row = v->rank >= 1 && g->rank == v->rank && gn == rows && rows > 0;
    for (int d = 1; per_row && d < g->rank; d++)
        per_row = g->shape[d] == 1;
    if (!per_row && gn != 1)
        s = mt_fail(MT_ERR_UNSUPPORTED, "%s: weight norm %s and %s: expected the norms of dim "
                    "0 (weight_norm(dim=0), the default) or one norm (dim=None)", ld->layer,
                    mt_tensor_describe(g, gs, sizeof gs), mt_tensor_describe(v, vs, sizeof vs));
    if (!s)
        s = mt_nn_hold(g, true, &gc);
    if (!s)
        s = mt_nn_hold(v, true, &vc);
    if (!s)
        s = mt_tensor_zeros(MT_DTYPE_F32, v->rank, v->shape, t);
    if (!s) {
        int64_t groups = per_row ? rows : 1, per = groups ? n / groups : 0;
        const float *gp = gc->data, *vp = vc->data;
        float *w = (*t)->data;
        for (int64_t r = 0; r < groups; r++) {
            double sum = 0;
            for (int64_t i = 0; i < per; i++)
                sum += (double)vp[r * per + i] * vp[r * per + i];
            if (sum == 0.0) {   /* PyTorch would divide by 0: NaN weights */
                s = mt_fail(MT_ERR_FORMAT, "%s: weight norm %s: slice %lld of dim 0 is all "
                            "zeros", ld->layer, mt_tensor_describe(v, vs, sizeof vs),
                            (long long)r);
                break;
            }
            double scale = gp[per_row ? r : 0] / sqrt(sum);
            for (int64_t i = 0; i < per; i++)
                w[r * per + i] = (float)(vp[r * per + i] * scale);
        }
        if (!s) {
            snprintf(key, sizeof key, "%s%sweight", ld->prefix, ld->prefix[0] ? "." : "");
            mt_tensor_name_set(*t, key);
        } else {
            mt_tensor_free(*t);
            *t = NULL;
        }
    }
    mt_tensor_free(gc);
    mt_tensor_free(vc);
    mt_tensor_free(g);
    mt_tensor_free(v);
    return s;
}

/* Tensor prefix<sep>suffix into *t; if !required, a missing one is NULL.
 * A PyTorch weight may come as a weight norm pair (weight_norm above). */
static mt_status fetch(const loader *ld, const char *suffix, bool required, mt_tensor **t)
{
    char key[KEY_MAX];
    *t = NULL;
    if (!resolve(ld, suffix, key) && ld->nm == &pytorch && !strcmp(suffix, "weight")) {
        bool found;
        mt_status s = weight_norm(ld, t, &found);
        if (s || found)
            return s;
    }
    if (!resolve(ld, suffix, key) && !required)
        return MT_OK;
    mt_status s = mt_nn_get(ld->sd->file, ld->layer, key, t);
    // integer weights are quantized ones (Keras' model.quantize("int8")
    // stores an I8 kernel beside its kernel_scale): read as numbers they
    // would give a model off by the scale
    if (!s && (*t)->dtype != MT_DTYPE_F32 && (*t)->dtype != MT_DTYPE_F16 &&
        (*t)->dtype != MT_DTYPE_BF16 && (*t)->dtype != MT_DTYPE_F64)
        s = mt_fail(MT_ERR_DTYPE, "%s: %s is %s, not a float: quantized weights (Keras' "
                    "model.quantize, PyTorch's quantized modules) are not supported, export "
                    "the float model", ld->layer, key, mt_dtype_name((*t)->dtype));
    else if (!s)
        s = mt_nn_check_finite(ld->layer, *t);
    if (s) {
        mt_tensor_free(*t);
        *t = NULL;
    }
    return s;
}

/* Tensors a and b (each required or not) into *ta, *tb: both set, or on
 * failure both NULL. */
static mt_status fetch_pair(const loader *ld, const char *a, bool a_required, const char *b,
                            bool b_required, mt_tensor **ta, mt_tensor **tb)
{
    *tb = NULL;
    mt_status s = fetch(ld, a, a_required, ta);
    if (!s && (s = fetch(ld, b, b_required, tb))) {
        mt_tensor_free(*ta);
        *ta = NULL;
    }
    return s;
}

mt_status mt_linear_load(const mt_state_dict *weights, const char *prefix,
                         const mt_linear_options *options, mt_layer **out)
{
    loader ld;
    mt_status s = begin("linear", weights, prefix, out, &ld);
    if (s)
        return s;
    mt_linear_options o = options ? *options : (mt_linear_options){0};
    if (o.layout == MT_LAYOUT_AUTO)
        o.layout = ld.nm->linear;
    mt_tensor *w, *b;
    if (!(s = fetch_pair(&ld, ld.nm->weight, true, ld.nm->bias, false, &w, &b)))
        s = mt_linear_new(w, b, &o, out);
    mt_tensor_free(w);
    mt_tensor_free(b);
    return s;
}

mt_status mt_conv2d_load(const mt_state_dict *weights, const char *prefix,
                         const mt_conv2d_options *options, mt_layer **out)
{
    loader ld;
    mt_status s = begin("conv2d", weights, prefix, out, &ld);
    if (s)
        return s;
    mt_conv2d_options o = options ? *options : (mt_conv2d_options){0};
    if (o.layout == MT_KERNEL_AUTO)
        o.layout = ld.nm->kernel;
    mt_tensor *k, *b;
    if (!(s = fetch_pair(&ld, ld.nm->weight, true, ld.nm->bias, false, &k, &b)))
        s = mt_conv2d_new(k, b, &o, out);
    mt_tensor_free(k);
    mt_tensor_free(b);
    return s;
}

/* Keras' depthwise kernel k (kh, kw, C, m), or (k, C, m) for rank 3, as
 * the grouped HWIO kernel (kh, kw, 1, C·m), groups C, into a Conv2D (a
 * Conv1D for rank 3) with bias b (or none). */
static mt_status depthwise(const loader *ld, const mt_tensor *k, const mt_tensor *b,
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
    loader ld;
    mt_status s = begin(kind, weights, prefix, out, &ld);
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
    char key[KEY_MAX];
    if (resolve(&ld, "pointwise_kernel", key))
        return mt_fail(MT_ERR_UNSUPPORTED, "%s_load %s: %s is in the file: a "
                       "SeparableConv%dD is mt_separable_conv%dd_load", kind, prefix, key,
                       rank - 2, rank - 2);
    mt_tensor *k = NULL, *b = NULL;
    /* Keras 3 calls it kernel, Keras 2 depthwise_kernel */
    s = fetch(&ld, "depthwise_kernel", false, &k);
    if (!s && !k)
        s = fetch(&ld, ld.nm->weight, true, &k);
    if (!s)
        s = fetch(&ld, ld.nm->bias, false, &b);
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
    loader ld;
    mt_status s = begin(kind, weights, prefix, depthwise_out, &ld);
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
    if (!(s = fetch_pair(&ld, "depthwise_kernel", true, "pointwise_kernel", true, &dk, &pk)) &&
        !(s = fetch(&ld, ld.nm->bias, false, &b)) &&
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

mt_status mt_batch_norm_load(const mt_state_dict *weights, const char *prefix,
                             const mt_batch_norm_options *options, mt_layer **out)
{
    loader ld;
    mt_status s = begin("batch_norm", weights, prefix, out, &ld);
    if (s)
        return s;
    mt_batch_norm_options o = options ? *options : (mt_batch_norm_options){0};
    if (o.eps == 0.0f)
        o.eps = ld.nm->bn_eps;
    mt_tensor *m, *v, *w = NULL, *b = NULL;
    if (!(s = fetch_pair(&ld, ld.nm->mean, true, ld.nm->var, true, &m, &v)) &&
        !(s = fetch_pair(&ld, ld.nm->gamma, false, ld.nm->beta, false, &w, &b)) &&
        weights->framework == MT_FRAMEWORK_PYTORCH && !w != !b)
        // PyTorch's BatchNorm has both (affine) or neither; Keras' center or
        // scale may be off alone
        s = mt_fail(MT_ERR_NOT_FOUND, "batch_norm %s: %s%s%s is in the file but %s%s%s is "
                    "not (an affine BatchNorm has both)", prefix, prefix, ld.nm->sep,
                    w ? ld.nm->gamma : ld.nm->beta, prefix, ld.nm->sep,
                    w ? ld.nm->beta : ld.nm->gamma);
    if (!s)
        s = mt_batch_norm_new(m, v, w, b, &o, out);
    mt_tensor_free(m);
    mt_tensor_free(v);
    mt_tensor_free(w);
    mt_tensor_free(b);
    return s;
}

/* A norm's weight and bias (gamma, beta), either may be missing, but not
 * both: a wrong prefix would otherwise load as a norm without weights.
 * `ctor` names the constructor for a norm that truly has none. */
static mt_status norm_pair(const loader *ld, const char *ctor, mt_tensor **w, mt_tensor **b)
{
    mt_status s = fetch_pair(ld, ld->nm->gamma, false, ld->nm->beta, false, w, b);
    if (s || *w || *b)
        return s;
    char key[KEY_MAX];
    if (ld->nm == &keras && resolve(ld, "scale", key))
        return mt_fail(MT_ERR_UNSUPPORTED, "%s: %s is in the file: a Keras RMSNormalization "
                       "is mt_rms_norm_load", ld->layer, key);
    return mt_fail(MT_ERR_NOT_FOUND, "%s: neither %s%s%s nor %s%s%s is in the file (a norm "
                   "without weights, Keras' center=False, scale=False or PyTorch's "
                   "elementwise_affine=False, is %s(…, NULL, NULL, …))", ld->layer, ld->prefix,
                   ld->nm->sep, ld->nm->gamma, ld->prefix, ld->nm->sep, ld->nm->beta, ctor);
}

mt_status mt_layer_norm_load(const mt_state_dict *weights, const char *prefix,
                             const mt_norm_options *options, mt_layer **out)
{
    loader ld;
    mt_status s = begin("layer_norm", weights, prefix, out, &ld);
    if (s)
        return s;
    mt_norm_options o = options ? *options : (mt_norm_options){0};
    if (o.eps == 0.0f)
        o.eps = ld.nm->bn_eps;   /* the same defaults as BatchNorm's in both */
    mt_tensor *w, *b;
    if (!(s = norm_pair(&ld, "mt_layer_norm_new", &w, &b)))
        s = mt_layer_norm_new(w, b, &o, out);
    mt_tensor_free(w);
    mt_tensor_free(b);
    return s;
}

mt_status mt_rms_norm_load(const mt_state_dict *weights, const char *prefix,
                           const mt_norm_options *options, mt_layer **out)
{
    loader ld;
    mt_status s = begin("rms_norm", weights, prefix, out, &ld);
    if (s)
        return s;
    mt_norm_options o = options ? *options : (mt_norm_options){0};
    if (o.eps == 0.0f && weights->framework == MT_FRAMEWORK_KERAS)
        o.eps = 1e-6f;   /* RMSNormalization's; PyTorch's eps=None stays 0 */
    mt_tensor *w;
    if (!(s = fetch(&ld, weights->framework == MT_FRAMEWORK_KERAS ? "scale" : ld.nm->weight,
                    true, &w)))
        s = mt_rms_norm_new(w, &o, out);
    mt_tensor_free(w);
    return s;
}

mt_status mt_conv1d_load(const mt_state_dict *weights, const char *prefix,
                         const mt_conv2d_options *options, mt_layer **out)
{
    loader ld;
    mt_status s = begin("conv1d", weights, prefix, out, &ld);
    if (s)
        return s;
    mt_conv2d_options o = options ? *options : (mt_conv2d_options){0};
    if (o.layout == MT_KERNEL_AUTO)
        o.layout = ld.nm->kernel;
    mt_tensor *k, *b;
    if (!(s = fetch_pair(&ld, ld.nm->weight, true, ld.nm->bias, false, &k, &b)))
        s = mt_conv1d_new(k, b, &o, out);
    mt_tensor_free(k);
    mt_tensor_free(b);
    return s;
}

mt_status mt_conv_transpose2d_load(const mt_state_dict *weights, const char *prefix,
                                   const mt_conv_transpose2d_params *params,
                                   mt_layer **out)
{
    loader ld;
    mt_status s = begin("conv_transpose2d", weights, prefix, out, &ld);
    if (s)
        return s;
    if (weights->framework != MT_FRAMEWORK_PYTORCH)
        return mt_fail(MT_ERR_UNSUPPORTED, "conv_transpose2d_load %s: reads PyTorch's "
                       "[in, out/groups, kh, kw] weights; a Keras Conv2DTranspose is "
                       "mt_conv2d_transpose_load", prefix);
    mt_tensor *w, *b;
    if (!(s = fetch_pair(&ld, ld.nm->weight, true, ld.nm->bias, false, &w, &b)))
        s = mt_conv_transpose2d_new(w, b, params, out);
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

mt_status mt_conv2d_transpose_load(const mt_state_dict *weights, const char *prefix,
                                   const mt_conv2d_transpose_options *options,
                                   mt_layer **out)
{
    loader ld;
    mt_status s = begin("conv2d_transpose", weights, prefix, out, &ld);
    if (s)
        return s;
    if (weights->framework != MT_FRAMEWORK_KERAS)
        return mt_fail(MT_ERR_UNSUPPORTED, "conv2d_transpose_load %s: Keras only (a PyTorch "
                       "ConvTranspose2d is mt_conv_transpose2d_load)", prefix);
    const mt_conv2d_transpose_options o = options ? *options
                                                  : (mt_conv2d_transpose_options){0};
    mt_conv_transpose2d_params p = {
        .stride_h = o.stride_h ? o.stride_h : 1, .stride_w = o.stride_w ? o.stride_w : 1,
        .dilation_h = o.dilation_h ? o.dilation_h : 1,
        .dilation_w = o.dilation_w ? o.dilation_w : 1};
    if ((o.padding != MT_PADDING_VALID && o.padding != MT_PADDING_SAME) ||
        p.stride_h < 1 || p.stride_w < 1 || p.dilation_h < 1 || p.dilation_w < 1 ||
        (o.has_output_padding && (o.output_padding_h < 0 || o.output_padding_w < 0 ||
                                  o.output_padding_h >= p.stride_h ||
                                  o.output_padding_w >= p.stride_w)))
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "conv2d_transpose_load %s: strides (%lld,%lld) "
                       "and dilation (%lld,%lld) >= 1, padding VALID or SAME, output_padding "
                       "(%lld,%lld) >= 0 and below the strides", prefix,
                       (long long)p.stride_h, (long long)p.stride_w, (long long)p.dilation_h,
                       (long long)p.dilation_w, (long long)o.output_padding_h,
                       (long long)o.output_padding_w);
    mt_tensor *k, *b, *w = NULL;
    char ks[160], bs[160];
    if ((s = fetch_pair(&ld, ld.nm->weight, true, ld.nm->bias, false, &k, &b)))
        return s;
    const int64_t *ksh = k->shape;
    if (k->rank != 4 || (o.kernel_h && ksh[0] != o.kernel_h) ||
        (o.kernel_w && ksh[1] != o.kernel_w) || (o.out_channels && ksh[2] != o.out_channels) ||
        (o.in_channels && ksh[3] != o.in_channels))
        s = mt_fail(MT_ERR_SHAPE, "%s: kernel %s, expected [kh, kw, out, in] (Keras) with "
                    "kernel %lldx%lld, %lld out and %lld in channels (0: any)", ld.layer,
                    mt_tensor_describe(k, ks, sizeof ks), (long long)o.kernel_h,
                    (long long)o.kernel_w, (long long)o.out_channels, (long long)o.in_channels);
    else if (b && (b->rank != 1 || b->shape[0] != ksh[2]))
        s = mt_fail(MT_ERR_SHAPE, "%s: bias %s, expected [%lld] (the out channels of kernel "
                    "%s, Keras (kh,kw,out,in))", ld.layer, mt_tensor_describe(b, bs, sizeof bs),
                    (long long)ksh[2], mt_tensor_describe(k, ks, sizeof ks));
    // (kh, kw, out, in) is PyTorch's (in, out, kh, kw) permuted: a view
    if (!s && !(s = mt_permute(k, (const int[]){3, 2, 0, 1}, &w))) {
        mt_tensor_name_set(w, k->name);
        if (keras_tpad(o.padding, ksh[0], p.dilation_h, p.stride_h, o.has_output_padding,
                       o.output_padding_h, &p.pad_top, &p.pad_bottom, &p.output_padding_h) &&
            keras_tpad(o.padding, ksh[1], p.dilation_w, p.stride_w, o.has_output_padding,
                       o.output_padding_w, &p.pad_left, &p.pad_right, &p.output_padding_w))
            s = mt_conv_transpose2d_new(w, b, &p, out);
        else
            s = mt_fail(MT_ERR_OVERFLOW, "%s: kernel %s with dilation (%lld,%lld) and "
                        "output_padding (%lld,%lld): the dilated kernel (plus "
                        "output_padding) overflows", ld.layer,
                        mt_tensor_describe(k, ks, sizeof ks), (long long)p.dilation_h,
                        (long long)p.dilation_w, (long long)o.output_padding_h,
                        (long long)o.output_padding_w);
    }
    mt_tensor_free(w);
    mt_tensor_free(k);
    mt_tensor_free(b);
    return s;
}

mt_status mt_conv1d_transpose_load(const mt_state_dict *weights, const char *prefix,
                                   const mt_conv2d_transpose_options *options,
                                   mt_layer **out)
{
    loader ld;
    mt_status s = begin("conv1d_transpose", weights, prefix, out, &ld);
    if (s)
        return s;
    if (weights->framework != MT_FRAMEWORK_KERAS)
        return mt_fail(MT_ERR_UNSUPPORTED, "conv1d_transpose_load %s: Keras only (a PyTorch "
                       "ConvTranspose1d is mt_conv_transpose1d_load)", prefix);
    const mt_conv2d_transpose_options o = options ? *options
                                                  : (mt_conv2d_transpose_options){0};
    mt_conv_transpose2d_params p = {.stride_w = o.stride_w ? o.stride_w : 1,
                                    .dilation_w = o.dilation_w ? o.dilation_w : 1};
    if (o.kernel_h || o.stride_h || o.dilation_h || o.output_padding_h ||
        (o.padding != MT_PADDING_VALID && o.padding != MT_PADDING_SAME) ||
        p.stride_w < 1 || p.dilation_w < 1 || o.in_channels < 0 || o.out_channels < 0 ||
        o.kernel_w < 0 || (o.has_output_padding && (o.output_padding_w < 0 ||
                                                    o.output_padding_w >= p.stride_w)))
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "conv1d_transpose_load %s: the _h fields 0, "
                       "stride_w %lld and dilation_w %lld >= 1, padding VALID or SAME, "
                       "output_padding_w %lld >= 0 and below the stride", prefix,
                       (long long)p.stride_w, (long long)p.dilation_w,
                       (long long)o.output_padding_w);
    mt_tensor *k, *b, *w = NULL;
    char ks[160], bs[160];
    if ((s = fetch_pair(&ld, ld.nm->weight, true, ld.nm->bias, false, &k, &b)))
        return s;
    const int64_t *ksh = k->shape;
    if (k->rank != 3 || (o.kernel_w && ksh[0] != o.kernel_w) ||
        (o.out_channels && ksh[1] != o.out_channels) ||
        (o.in_channels && ksh[2] != o.in_channels))
        s = mt_fail(MT_ERR_SHAPE, "%s: kernel %s, expected [k, out, in] (Keras) with kernel "
                    "%lld, %lld out and %lld in channels (0: any)", ld.layer,
                    mt_tensor_describe(k, ks, sizeof ks), (long long)o.kernel_w,
                    (long long)o.out_channels, (long long)o.in_channels);
    else if (b && (b->rank != 1 || b->shape[0] != ksh[1]))
        s = mt_fail(MT_ERR_SHAPE, "%s: bias %s, expected [%lld] (the out channels of kernel "
                    "%s, Keras (k,out,in))", ld.layer, mt_tensor_describe(b, bs, sizeof bs),
                    (long long)ksh[1], mt_tensor_describe(k, ks, sizeof ks));
    // (k, out, in) is PyTorch's (in, out, k) reversed: a view
    if (!s && !(s = mt_permute(k, (const int[]){2, 1, 0}, &w))) {
        mt_tensor_name_set(w, k->name);
        if (keras_tpad(o.padding, ksh[0], p.dilation_w, p.stride_w, o.has_output_padding,
                       o.output_padding_w, &p.pad_left, &p.pad_right, &p.output_padding_w))
            s = mt_conv_transpose1d_new(w, b, &p, out);
        else
            s = mt_fail(MT_ERR_OVERFLOW, "%s: kernel %s with dilation_w %lld and "
                        "output_padding_w %lld: the dilated kernel (plus output_padding) "
                        "overflows", ld.layer,
                        mt_tensor_describe(k, ks, sizeof ks), (long long)p.dilation_w,
                        (long long)o.output_padding_w);
    }
    mt_tensor_free(w);
    mt_tensor_free(k);
    mt_tensor_free(b);
    return s;
}

mt_status mt_einsum_dense_load(const mt_state_dict *weights, const char *prefix,
                               const char *equation, mt_activation act, mt_layer **out)
{
    loader ld;
    mt_status s = begin("einsum_dense", weights, prefix, out, &ld);
    if (s)
        return s;
    if (weights->framework != MT_FRAMEWORK_KERAS)
        return mt_fail(MT_ERR_UNSUPPORTED, "einsum_dense_load %s: Keras only", prefix);
    mt_tensor *k, *b;
    if (!(s = fetch_pair(&ld, ld.nm->weight, true, ld.nm->bias, false, &k, &b)))
        s = mt_einsum_dense_new(k, b, equation, act, out);
    mt_tensor_free(k);
    mt_tensor_free(b);
    return s;
}

mt_status mt_group_norm_load(const mt_state_dict *weights, const char *prefix,
                             int num_groups, const mt_norm_options *options,
                             mt_layer **out)
{
    loader ld;
    mt_status s = begin("group_norm", weights, prefix, out, &ld);
    if (s)
        return s;
    mt_norm_options o = options ? *options : (mt_norm_options){0};
    if (o.eps == 0.0f)
        o.eps = ld.nm->bn_eps;
    mt_tensor *w, *b;
    if (!(s = norm_pair(&ld, "mt_group_norm_new", &w, &b)))
        s = mt_group_norm_new(num_groups, w, b, &o, out);
    mt_tensor_free(w);
    mt_tensor_free(b);
    return s;
}

mt_status mt_embedding_load(const mt_state_dict *weights, const char *prefix,
                            mt_layer **out)
{
    loader ld;
    mt_status s = begin("embedding", weights, prefix, out, &ld);
    if (s)
        return s;
    mt_tensor *w;
    if (!(s = fetch(&ld, ld.nm->table, true, &w)))
        s = mt_embedding_new(w, out);
    mt_tensor_free(w);
    return s;
}

/* Keras' MultiHeadAttention: p/query/kernel [E, H, Dk], p/key/kernel
 * [kdim, H, Dk], p/value/kernel [vdim, H, Dv], p/attention_output/kernel
 * [H, Dv, Eo], biases [H, Dk], [H, Dk], [H, Dv], [Eo] (none with
 * use_bias=False); the kernels merged to (in, out) matrices, no copy. */
static mt_status keras_attention(const loader *ld, int64_t num_heads, bool causal,
                                 mt_layer **out)
{
    static const char *const names[8] = {
        "query/kernel", "key/kernel", "value/kernel", "attention_output/kernel",
        "query/bias", "key/bias", "value/bias", "attention_output/bias"};
    if (num_heads < 1)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "%s: num_heads %lld", ld->layer,
                       (long long)num_heads);
    mt_tensor *t[8] = {0}, *m[8] = {0};
    mt_status s = MT_OK;
    for (int i = 0; !s && i < 8; i++)
        s = fetch(ld, names[i], i < 4, &t[i]);
    char ts[4][160];
    for (int i = 0; !s && i < 8; i++) {
        // the heads' dim: 1 in the in-kernels, 0 in the output kernel and
        // the biases; no dim 0 (then the merged dims cannot overflow)
        int rank = i < 4 ? 3 : i < 7 ? 2 : 1;
        if (t[i] && (t[i]->rank != rank || mt_tensor_numel(t[i]) < 1 ||
                     (rank > 1 && t[i]->shape[i >= 3 ? 0 : 1] != num_heads)))
            s = mt_fail(MT_ERR_SHAPE, "%s: %s, expected %s with %lld heads (num_heads)",
                        ld->layer, mt_tensor_describe(t[i], ts[0], sizeof ts[0]),
                        i == 3 ? "[heads, value_dim, out]" : i < 3 ? "[in, heads, dim]"
                        : i < 7 ? "[heads, dim]" : "[out]", (long long)num_heads);
    }
    // key_dim (query, key), value_dim (value, output) and out must agree
    if (!s && (t[1]->shape[2] != t[0]->shape[2] || t[3]->shape[1] != t[2]->shape[2]))
        s = mt_fail(MT_ERR_SHAPE, "%s: kernels %s, %s, %s, %s do not fit together: "
                    "expected [E, heads, key_dim], [kdim, heads, key_dim], [vdim, heads, "
                    "value_dim], [heads, value_dim, out]", ld->layer,
                    mt_tensor_describe(t[0], ts[0], sizeof ts[0]),
                    mt_tensor_describe(t[1], ts[1], sizeof ts[1]),
                    mt_tensor_describe(t[2], ts[2], sizeof ts[2]),
                    mt_tensor_describe(t[3], ts[3], sizeof ts[3]));
    for (int i = 4; !s && i < 8; i++)
        if (t[i] && t[i]->shape[t[i]->rank - 1] != t[i - 4]->shape[2])
            s = mt_fail(MT_ERR_SHAPE, "%s: bias %s does not fit kernel %s (its last dim)",
                        ld->layer, mt_tensor_describe(t[i], ts[0], sizeof ts[0]),
                        mt_tensor_describe(t[i - 4], ts[1], sizeof ts[1]));
    // (in, H, D) -> (in, H·D), (H, Dv, out) -> (H·Dv, out), biases flat
    for (int i = 0; !s && i < 8; i++) {
        if (!t[i])
            continue;
        int64_t shape[2] = {t[i]->shape[0], t[i]->shape[1]};
        if (i == 3)
            shape[1] = t[i]->shape[2], shape[0] *= t[i]->shape[1];
        else if (i < 3)
            shape[1] *= t[i]->shape[2];
        else
            shape[0] = mt_tensor_numel(t[i]);
        if (!(s = mt_view(t[i], i < 4 ? 2 : 1, shape, &m[i])))
            mt_tensor_name_set(m[i], t[i]->name);
    }
    for (int i = 0; i < 8; i++)
        mt_tensor_free(t[i]);
    if (s) {
        for (int i = 0; i < 8; i++)
            mt_tensor_free(m[i]);
        return s;
    }
    char name[MT_NAME_MAX + 32];
    snprintf(name, sizeof name, "multihead_attention %s", ld->prefix);
    return mt_nn_attention_new(name, m, num_heads, causal, true, out);
}

mt_status mt_multihead_attention_load(const mt_state_dict *weights, const char *prefix,
                                      int64_t num_heads, bool causal, mt_layer **out)
{
    loader ld;
    mt_status s = begin("multihead_attention", weights, prefix, out, &ld);
    if (s)
        return s;
    if (weights->framework == MT_FRAMEWORK_KERAS)
        return keras_attention(&ld, num_heads, causal, out);
    // add_bias_kv=True adds learned key/value rows this layer does not have:
    // refuse them rather than run without
    for (int i = 0; i < 2; i++) {
        char key[KEY_MAX];
        size_t index;
        snprintf(key, sizeof key, "%s%s%s", prefix, prefix[0] ? "." : "",
                 i ? "bias_v" : "bias_k");
        if (mt_safetensors_find(weights->file, key, &index) == MT_OK)
            return mt_fail(MT_ERR_UNSUPPORTED, "multihead_attention_load %s: %s is in the "
                           "file: add_bias_kv=True is not supported", prefix, key);
        mt_clear_error();
    }
    static const char *const names[7] = {"in_proj_weight", "in_proj_bias", "q_proj_weight",
                                         "k_proj_weight", "v_proj_weight",
                                         "out_proj.weight", "out_proj.bias"};
    mt_tensor *t[7] = {0};
    for (int i = 0; !s && i < 7; i++)
        s = fetch(&ld, names[i], i == 5, &t[i]);
    if (!s)
        s = mt_multihead_attention_new(&(mt_attention_weights){
            .in_proj_weight = t[0], .in_proj_bias = t[1], .q_weight = t[2],
            .k_weight = t[3], .v_weight = t[4], .out_weight = t[5], .out_bias = t[6]},
            num_heads, causal, out);
    for (int i = 0; i < 7; i++)
        mt_tensor_free(t[i]);
    return s;
}

mt_status mt_prelu_load(const mt_state_dict *weights, const char *prefix, mt_layer **out)
{
    loader ld;
    mt_status s = begin("prelu", weights, prefix, out, &ld);
    if (s)
        return s;
    mt_tensor *w;
    if (!(s = fetch(&ld, ld.nm == &keras ? "alpha" : "weight", true, &w)))
        s = mt_prelu_new(w, out);
    mt_tensor_free(w);
    return s;
}

/* The one number in t (any float dtype) into *v. */
static mt_status scalar(const loader *ld, const mt_tensor *t, float *v)
{
    char ts[160];
    if (mt_tensor_numel(t) != 1)
        return mt_fail(MT_ERR_SHAPE, "%s: %s: expected one number", ld->layer,
                       mt_tensor_describe(t, ts, sizeof ts));
    return mt_tensor_get_f32(t, (const int64_t[MT_MAX_RANK]){0}, v);
}

mt_status mt_dot_attention_load(const mt_state_dict *weights, const char *prefix,
                                const mt_keras_attention_options *options, mt_layer **out)
{
    loader ld;
    mt_status s = begin("dot_attention", weights, prefix, out, &ld);
    if (s)
        return s;
    if (ld.nm != &keras)
        return mt_fail(MT_ERR_UNSUPPORTED, "dot_attention_load %s: reads Keras' variables "
                       "(set MT_FRAMEWORK_KERAS)", prefix);
    bool concat = options && options->score_mode == MT_SCORE_MODE_CONCAT;
    char key[KEY_MAX];
    if (!concat && resolve(&ld, "concat_score_weight", key))
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "dot_attention_load %s: %s is in the file: "
                       "the layer has score_mode=\"concat\" (set MT_SCORE_MODE_CONCAT)",
                       prefix, key);
    mt_tensor *t[2];
    float v[2] = {1.0f, 1.0f};
    s = fetch_pair(&ld, "scale", !concat, "concat_score_weight", concat, &t[0], &t[1]);
    for (int i = 0; !s && i < 2; i++)
        if (t[i])
            s = scalar(&ld, t[i], &v[i]);
    if (!s)
        s = mt_dot_attention_new(v[0], v[1], options, out);
    mt_tensor_free(t[0]);
    mt_tensor_free(t[1]);
    return s;
}

mt_status mt_additive_attention_load(const mt_state_dict *weights, const char *prefix,
                                     const mt_keras_attention_options *options,
                                     mt_layer **out)
{
    loader ld;
    mt_status s = begin("additive_attention", weights, prefix, out, &ld);
    if (s)
        return s;
    if (ld.nm != &keras)
        return mt_fail(MT_ERR_UNSUPPORTED, "additive_attention_load %s: reads Keras' "
                       "variables (set MT_FRAMEWORK_KERAS)", prefix);
    mt_tensor *scale;
    if (!(s = fetch(&ld, "scale", true, &scale)))
        s = mt_additive_attention_new(scale, options, out);
    mt_tensor_free(scale);
    return s;
}

mt_status mt_conv_transpose1d_load(const mt_state_dict *weights, const char *prefix,
                                   const mt_conv_transpose2d_params *params,
                                   mt_layer **out)
{
    loader ld;
    mt_status s = begin("conv_transpose1d", weights, prefix, out, &ld);
    if (s)
        return s;
    if (weights->framework != MT_FRAMEWORK_PYTORCH)
        return mt_fail(MT_ERR_UNSUPPORTED, "conv_transpose1d_load %s: reads PyTorch's "
                       "[in, out/groups, k] weights; a Keras Conv1DTranspose is "
                       "mt_conv1d_transpose_load", prefix);
    mt_tensor *w, *b;
    if (!(s = fetch_pair(&ld, ld.nm->weight, true, ld.nm->bias, false, &w, &b)))
        s = mt_conv_transpose1d_new(w, b, params, out);
    mt_tensor_free(w);
    mt_tensor_free(b);
    return s;
}
