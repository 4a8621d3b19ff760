/* state_dict.c — layers from the names PyTorch's state_dict and Keras write
 * ("0.weight", "conv1.weight", "bn1.running_mean"; "dense/kernel",
 * "bn/moving_mean"), read in that framework's layouts. */
#include <stdio.h>

#include "layer_internal.h"
#include "minitensor/view.h"

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
    char layer[MT_NAME_MAX + 32];
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
    ld->sd = sd;
    ld->nm = sd->framework == MT_FRAMEWORK_PYTORCH ? &pytorch : &keras;
    ld->prefix = prefix;
    snprintf(ld->layer, sizeof ld->layer, "%s %s", kind, prefix);
    return MT_OK;
}

/* Tensor prefix<sep>suffix into *t; if !required, a missing one is NULL. */
static mt_status fetch(const loader *ld, const char *suffix, bool required, mt_tensor **t)
{
    char key[2 * MT_NAME_MAX];
    snprintf(key, sizeof key, "%s%s%s", ld->prefix, ld->prefix[0] ? ld->nm->sep : "", suffix);
    *t = NULL;
    size_t index;
    if (!required && mt_safetensors_find(ld->sd->file, key, &index) == MT_ERR_NOT_FOUND) {
        mt_clear_error();
        return MT_OK;
    }
    mt_status s = mt_nn_get(ld->sd->file, ld->layer, key, t);
    if (!s && (s = mt_nn_check_finite(ld->layer, *t))) {
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

mt_status mt_depthwise_conv2d_load(const mt_state_dict *weights, const char *prefix,
                                   const mt_conv2d_options *options, mt_layer **out)
{
    loader ld;
    mt_status s = begin("depthwise_conv2d", weights, prefix, out, &ld);
    if (s)
        return s;
    if (weights->framework != MT_FRAMEWORK_KERAS)
        return mt_fail(MT_ERR_UNSUPPORTED, "depthwise_conv2d_load %s: Keras only (a PyTorch "
                       "depthwise conv is mt_conv2d_load with .groups = its channels)",
                       prefix);
    mt_conv2d_options o = options ? *options : (mt_conv2d_options){0};
    if ((o.layout != MT_KERNEL_AUTO && o.layout != MT_KERNEL_HWIO) || o.groups != 0)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "depthwise_conv2d_load %s: layout and groups "
                       "come from the kernel (leave them 0)", prefix);
    mt_tensor *k = NULL, *b = NULL, *grouped = NULL;
    /* Keras 3 calls it kernel, Keras 2 depthwise_kernel */
    s = fetch(&ld, "depthwise_kernel", false, &k);
    if (!s && !k)
        s = fetch(&ld, ld.nm->weight, true, &k);
    if (!s)
        s = fetch(&ld, ld.nm->bias, false, &b);
    char ks[160];
    if (!s && k->rank != 4)
        s = mt_fail(MT_ERR_SHAPE, "%s: kernel %s, expected [kh, kw, channels, multiplier]",
                    ld.layer, mt_tensor_describe(k, ks, sizeof ks));
    /* (kh, kw, C, m) is the grouped HWIO kernel (kh, kw, 1, C·m), groups C;
     * a heap view, which keeps k alive for the layer if k owns a copy */
    if (!s && !(s = mt_view(k, 4, (int64_t[]){k->shape[0], k->shape[1], 1,
                                              k->shape[2] * k->shape[3]}, &grouped))) {
        mt_tensor_name_set(grouped, k->name);
        o.layout = MT_KERNEL_HWIO;
        o.groups = k->shape[2];
        s = mt_conv2d_new(grouped, b, &o, out);
    }
    mt_tensor_free(grouped);
    mt_tensor_free(k);
    mt_tensor_free(b);
    return s;
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
    if (!(s = fetch_pair(&ld, ld.nm->gamma, false, ld.nm->beta, false, &w, &b)))
        s = mt_layer_norm_new(w, b, &o, out);
    mt_tensor_free(w);
    mt_tensor_free(b);
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
        return mt_fail(MT_ERR_UNSUPPORTED, "conv_transpose2d_load %s: only PyTorch's "
                       "[in, out/groups, kh, kw] weights are known", prefix);
    mt_tensor *w, *b;
    if (!(s = fetch_pair(&ld, ld.nm->weight, true, ld.nm->bias, false, &w, &b)))
        s = mt_conv_transpose2d_new(w, b, params, out);
    mt_tensor_free(w);
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
    if (!(s = fetch_pair(&ld, ld.nm->gamma, false, ld.nm->beta, false, &w, &b)))
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

mt_status mt_multihead_attention_load(const mt_state_dict *weights, const char *prefix,
                                      int64_t num_heads, bool causal, mt_layer **out)
{
    loader ld;
    mt_status s = begin("multihead_attention", weights, prefix, out, &ld);
    if (s)
        return s;
    if (weights->framework != MT_FRAMEWORK_PYTORCH)
        return mt_fail(MT_ERR_UNSUPPORTED, "multihead_attention_load %s: only PyTorch's "
                       "names are known", prefix);
    // add_bias_kv=True adds learned key/value rows this layer does not have:
    // refuse them rather than run without
    for (int i = 0; i < 2; i++) {
        char key[2 * MT_NAME_MAX];
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
