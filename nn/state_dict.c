/* state_dict.c — layers from the names PyTorch's state_dict and Keras write
 * ("0.weight", "conv1.weight", "bn1.running_mean"; "dense/kernel",
 * "bn/moving_mean"), read in that framework's layouts. */
#include <stdio.h>

#include "layer_internal.h"

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

static mt_status resolve(const char *op, const mt_state_dict *sd, const char *prefix,
                         mt_layer **out, const naming **nm)
{
    if (!out)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "%s: out is NULL", op);
    *out = NULL;
    if (!sd || !sd->file || !prefix)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "%s: NULL argument", op);
    if (sd->framework != MT_FRAMEWORK_PYTORCH && sd->framework != MT_FRAMEWORK_KERAS)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "%s %s: unknown framework %d (set "
                       "MT_FRAMEWORK_PYTORCH or MT_FRAMEWORK_KERAS)", op, prefix,
                       (int)sd->framework);
    *nm = sd->framework == MT_FRAMEWORK_PYTORCH ? &pytorch : &keras;
    return MT_OK;
}

/* Tensor prefix<sep>suffix into *t; if !required, a missing one is NULL. */
static mt_status fetch(const mt_state_dict *sd, const naming *nm, const char *layer,
                       const char *prefix, const char *suffix, bool required, mt_tensor **t)
{
    char key[2 * MT_NAME_MAX];
    snprintf(key, sizeof key, "%s%s%s", prefix, prefix[0] ? nm->sep : "", suffix);
    *t = NULL;
    size_t index;
    if (!required && mt_safetensors_find(sd->file, key, &index) == MT_ERR_NOT_FOUND) {
        mt_clear_error();
        return MT_OK;
    }
    mt_status s = nn_get(sd->file, layer, key, t);
    if (!s && (s = nn_check_finite(layer, *t))) {
        mt_tensor_free(*t);
        *t = NULL;
    }
    return s;
}

mt_status mt_linear_load(const mt_state_dict *weights, const char *prefix,
                         const mt_linear_options *options, mt_layer **out)
{
    const naming *nm = NULL;
    mt_status s = resolve("linear_load", weights, prefix, out, &nm);
    if (s)
        return s;
    char layer[MT_NAME_MAX + 16];
    snprintf(layer, sizeof layer, "linear %s", prefix);
    mt_linear_options o = options ? *options : (mt_linear_options){0};
    if (o.layout == MT_LAYOUT_AUTO)
        o.layout = nm->linear;
    mt_tensor *w = NULL, *b = NULL;
    if (!(s = fetch(weights, nm, layer, prefix, nm->weight, true, &w)) &&
        !(s = fetch(weights, nm, layer, prefix, nm->bias, false, &b)))
        s = mt_linear_new(w, b, &o, out);
    mt_tensor_free(w);
    mt_tensor_free(b);
    return s;
}

mt_status mt_conv2d_load(const mt_state_dict *weights, const char *prefix,
                         const mt_conv2d_options *options, mt_layer **out)
{
    const naming *nm = NULL;
    mt_status s = resolve("conv2d_load", weights, prefix, out, &nm);
    if (s)
        return s;
    char layer[MT_NAME_MAX + 16];
    snprintf(layer, sizeof layer, "conv2d %s", prefix);
    mt_conv2d_options o = options ? *options : (mt_conv2d_options){0};
    if (o.layout == MT_KERNEL_AUTO)
        o.layout = nm->kernel;
    mt_tensor *k = NULL, *b = NULL;
    if (!(s = fetch(weights, nm, layer, prefix, nm->weight, true, &k)) &&
        !(s = fetch(weights, nm, layer, prefix, nm->bias, false, &b)))
        s = mt_conv2d_new(k, b, &o, out);
    mt_tensor_free(k);
    mt_tensor_free(b);
    return s;
}

mt_status mt_batch_norm_load(const mt_state_dict *weights, const char *prefix,
                             const mt_batch_norm_options *options, mt_layer **out)
{
    const naming *nm = NULL;
    mt_status s = resolve("batch_norm_load", weights, prefix, out, &nm);
    if (s)
        return s;
    char layer[MT_NAME_MAX + 16];
    snprintf(layer, sizeof layer, "batch_norm %s", prefix);
    mt_batch_norm_options o = options ? *options : (mt_batch_norm_options){0};
    if (o.eps == 0.0f)
        o.eps = nm->bn_eps;
    mt_tensor *m = NULL, *v = NULL, *w = NULL, *b = NULL;
    if (!(s = fetch(weights, nm, layer, prefix, nm->mean, true, &m)) &&
        !(s = fetch(weights, nm, layer, prefix, nm->var, true, &v)) &&
        !(s = fetch(weights, nm, layer, prefix, nm->gamma, false, &w)) &&
        !(s = fetch(weights, nm, layer, prefix, nm->beta, false, &b)))
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
    const naming *nm = NULL;
    mt_status s = resolve("layer_norm_load", weights, prefix, out, &nm);
    if (s)
        return s;
    char layer[MT_NAME_MAX + 16];
    snprintf(layer, sizeof layer, "layer_norm %s", prefix);
    mt_norm_options o = options ? *options : (mt_norm_options){0};
    if (o.eps == 0.0f)
        o.eps = nm->bn_eps;   /* the same defaults as BatchNorm's in both */
    mt_tensor *w = NULL, *b = NULL;
    if (!(s = fetch(weights, nm, layer, prefix, nm->gamma, false, &w)) &&
        !(s = fetch(weights, nm, layer, prefix, nm->beta, false, &b)))
        s = mt_layer_norm_new(w, b, &o, out);
    mt_tensor_free(w);
    mt_tensor_free(b);
    return s;
}

mt_status mt_embedding_load(const mt_state_dict *weights, const char *prefix,
                            mt_layer **out)
{
    const naming *nm = NULL;
    mt_status s = resolve("embedding_load", weights, prefix, out, &nm);
    if (s)
        return s;
    char layer[MT_NAME_MAX + 16];
    snprintf(layer, sizeof layer, "embedding %s", prefix);
    mt_tensor *w = NULL;
    if (!(s = fetch(weights, nm, layer, prefix, nm->table, true, &w)))
        s = mt_embedding_new(w, out);
    mt_tensor_free(w);
    return s;
}

mt_status mt_multihead_attention_load(const mt_state_dict *weights, const char *prefix,
                                      int64_t num_heads, bool causal, mt_layer **out)
{
    const naming *nm = NULL;
    mt_status s = resolve("multihead_attention_load", weights, prefix, out, &nm);
    if (s)
        return s;
    if (weights->framework != MT_FRAMEWORK_PYTORCH)
        return mt_fail(MT_ERR_UNSUPPORTED, "multihead_attention_load %s: only PyTorch's "
                       "names are known", prefix);
    char layer[MT_NAME_MAX + 32];
    snprintf(layer, sizeof layer, "multihead_attention %s", prefix);
    static const char *const names[7] = {"in_proj_weight", "in_proj_bias", "q_proj_weight",
                                         "k_proj_weight", "v_proj_weight",
                                         "out_proj.weight", "out_proj.bias"};
    mt_tensor *t[7] = {0};
    for (int i = 0; !s && i < 7; i++)
        s = fetch(weights, nm, layer, prefix, names[i], i == 5, &t[i]);
    if (!s)
        s = mt_multihead_attention_new(&(mt_attention_weights){
            .in_proj_weight = t[0], .in_proj_bias = t[1], .q_weight = t[2],
            .k_weight = t[3], .v_weight = t[4], .out_weight = t[5], .out_bias = t[6]},
            num_heads, causal, out);
    for (int i = 0; i < 7; i++)
        mt_tensor_free(t[i]);
    return s;
}
