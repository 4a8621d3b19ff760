/* state_dict.c — layers from the names PyTorch's state_dict and Keras write
 * ("0.weight", "conv1.weight", "bn1.running_mean"; "dense/kernel",
 * "bn/moving_mean"), read in that framework's layouts: the shared reading
 * of tensors by name, and the dense, convolution and norm loaders. The
 * depthwise, separable and transposed convolutions are in
 * state_dict_conv.c, the attentions in state_dict_attention.c. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "state_dict_internal.h"

static const mt_nn_naming pytorch = {".", "weight", "bias", "running_mean", "running_var",
                                     "weight", "bias", "weight", MT_LAYOUT_OUT_IN,
                                     MT_KERNEL_OIHW, 1e-5f};
static const mt_nn_naming keras = {"/", "kernel", "bias", "moving_mean", "moving_variance",
                                   "gamma", "beta", "embeddings", MT_LAYOUT_IN_OUT,
                                   MT_KERNEL_HWIO, 1e-3f};

mt_status mt_nn_load_begin(const char *kind, const mt_state_dict *sd, const char *prefix,
                           mt_layer **out, mt_nn_loader *ld)
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
    if (strlen(prefix) > MT_NN_KEY_MAX - 64)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "%s_load: prefix of %zu bytes, at most %d",
                       kind, strlen(prefix), MT_NN_KEY_MAX - 64);
    ld->sd = sd;
    ld->keras = sd->framework == MT_FRAMEWORK_KERAS;
    ld->nm = ld->keras ? &keras : &pytorch;
    ld->prefix = prefix;
    snprintf(ld->layer, sizeof ld->layer, "%s %s", kind, prefix);
    return MT_OK;
}

bool mt_nn_load_exists(const mt_nn_loader *ld, char key[MT_NN_KEY_MAX])
{
    size_t index, n = strlen(key);
    bool found = mt_safetensors_find(ld->sd->file, key, &index) == MT_OK;
    if (!found && ld->keras && n + 3 <= MT_NN_KEY_MAX) {
        memcpy(key + n, ":0", 3);
        found = mt_safetensors_find(ld->sd->file, key, &index) == MT_OK;
        if (!found)
            key[n] = '\0';
    }
    mt_clear_error();
    return found;
}

bool mt_nn_load_resolve(const mt_nn_loader *ld, const char *suffix, char key[MT_NN_KEY_MAX])
{
    snprintf(key, MT_NN_KEY_MAX, "%s%s%s", ld->prefix, ld->prefix[0] ? ld->nm->sep : "",
             suffix);
    return mt_nn_load_exists(ld, key);
}

/* torch.nn.utils.weight_norm keeps p.weight as p.weight_g (the norms) and
 * p.weight_v (the directions); parametrize.weight_norm as
 * p.parametrizations.weight.original0 and .original1. If the file holds
 * such a pair, *t = g·v/‖v‖ (the norm over each slice of dim 0, weight
 * norm's default dim, or over all of v when g is one number), named
 * p.weight; *found says whether it did. */
static mt_status weight_norm(const mt_nn_loader *ld, mt_tensor **t, bool *found)
{
    static const char *const names[2][2] = {
        {"weight_g", "weight_v"},
        {"parametrizations.weight.original0", "parametrizations.weight.original1"}};
    char key[MT_NN_KEY_MAX];
    int pick = mt_nn_load_resolve(ld, names[0][0], key)   ? 0
               : mt_nn_load_resolve(ld, names[1][0], key) ? 1
                                                          : -1;
    *found = pick >= 0;
    if (!*found)
        return MT_OK;
    mt_tensor *g, *v, *gc = NULL, *vc = NULL;
    mt_status s = mt_nn_load_fetch(ld, names[pick][0], true, &g);
    if (!s && (s = mt_nn_load_fetch(ld, names[pick][1], true, &v)))
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

mt_status mt_nn_load_key(const mt_nn_loader *ld, char key[MT_NN_KEY_MAX], bool required,
                         mt_tensor **t)
{
    *t = NULL;
    if (!mt_nn_load_exists(ld, key) && !required)
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

mt_status mt_nn_load_fetch(const mt_nn_loader *ld, const char *suffix, bool required,
                           mt_tensor **t)
{
    char key[MT_NN_KEY_MAX];
    *t = NULL;
    if (!mt_nn_load_resolve(ld, suffix, key) && !ld->keras && !strcmp(suffix, "weight")) {
        bool found;
        mt_status s = weight_norm(ld, t, &found);
        if (s || found)
            return s;
    }
    return mt_nn_load_key(ld, key, required, t);
}

mt_status mt_nn_load_pair(const mt_nn_loader *ld, const char *a, bool a_required,
                          const char *b, bool b_required, mt_tensor **ta, mt_tensor **tb)
{
    *tb = NULL;
    mt_status s = mt_nn_load_fetch(ld, a, a_required, ta);
    if (!s && (s = mt_nn_load_fetch(ld, b, b_required, tb))) {
        mt_tensor_free(*ta);
        *ta = NULL;
    }
    return s;
}

mt_status mt_linear_load(const mt_state_dict *weights, const char *prefix,
                         const mt_linear_options *options, mt_layer **out)
{
    mt_nn_loader ld;
    mt_status s = mt_nn_load_begin("linear", weights, prefix, out, &ld);
    if (s)
        return s;
    mt_linear_options o = options ? *options : (mt_linear_options){0};
    if (o.layout == MT_LAYOUT_AUTO)
        o.layout = ld.nm->linear;
    mt_tensor *w, *b;
    if (!(s = mt_nn_load_pair(&ld, ld.nm->weight, true, ld.nm->bias, false, &w, &b)))
        s = mt_linear_new(w, b, &o, out);
    mt_tensor_free(w);
    mt_tensor_free(b);
    return s;
}

mt_status mt_conv2d_load(const mt_state_dict *weights, const char *prefix,
                         const mt_conv2d_options *options, mt_layer **out)
{
    mt_nn_loader ld;
    mt_status s = mt_nn_load_begin("conv2d", weights, prefix, out, &ld);
    if (s)
        return s;
    mt_conv2d_options o = options ? *options : (mt_conv2d_options){0};
    if (o.layout == MT_KERNEL_AUTO)
        o.layout = ld.nm->kernel;
    mt_tensor *k, *b;
    if (!(s = mt_nn_load_pair(&ld, ld.nm->weight, true, ld.nm->bias, false, &k, &b)))
        s = mt_conv2d_new(k, b, &o, out);
    mt_tensor_free(k);
    mt_tensor_free(b);
    return s;
}

mt_status mt_conv1d_load(const mt_state_dict *weights, const char *prefix,
                         const mt_conv2d_options *options, mt_layer **out)
{
    mt_nn_loader ld;
    mt_status s = mt_nn_load_begin("conv1d", weights, prefix, out, &ld);
    if (s)
        return s;
    mt_conv2d_options o = options ? *options : (mt_conv2d_options){0};
    if (o.layout == MT_KERNEL_AUTO)
        o.layout = ld.nm->kernel;
    mt_tensor *k, *b;
    if (!(s = mt_nn_load_pair(&ld, ld.nm->weight, true, ld.nm->bias, false, &k, &b)))
        s = mt_conv1d_new(k, b, &o, out);
    mt_tensor_free(k);
    mt_tensor_free(b);
    return s;
}

mt_status mt_batch_norm_load(const mt_state_dict *weights, const char *prefix,
                             const mt_batch_norm_options *options, mt_layer **out)
{
    mt_nn_loader ld;
    mt_status s = mt_nn_load_begin("batch_norm", weights, prefix, out, &ld);
    if (s)
        return s;
    mt_batch_norm_options o = options ? *options : (mt_batch_norm_options){0};
    if (o.eps == 0.0f)
        o.eps = ld.nm->bn_eps;
    mt_tensor *m, *v, *w = NULL, *b = NULL;
    if (!(s = mt_nn_load_pair(&ld, ld.nm->mean, true, ld.nm->var, true, &m, &v)) &&
        !(s = mt_nn_load_pair(&ld, ld.nm->gamma, false, ld.nm->beta, false, &w, &b)) &&
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
static mt_status norm_pair(const mt_nn_loader *ld, const char *ctor, mt_tensor **w, mt_tensor **b)
{
    *w = *b = NULL;
    char key[MT_NN_KEY_MAX];
    // running statistics: a BatchNorm's prefix (or PyTorch's InstanceNorm
    // with track_running_stats=True), which this norm would run without them
    if (mt_nn_load_resolve(ld, ld->nm->mean, key))
        return mt_fail(MT_ERR_UNSUPPORTED, "%s: %s is in the file: running statistics are a "
                       "BatchNorm's (mt_batch_norm_load), which this norm would ignore",
                       ld->layer, key);
    mt_status s = mt_nn_load_pair(ld, ld->nm->gamma, false, ld->nm->beta, false, w, b);
    if (s || *w || *b)
        return s;
    if (ld->keras && mt_nn_load_resolve(ld, "scale", key))
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
    mt_nn_loader ld;
    mt_status s = mt_nn_load_begin("layer_norm", weights, prefix, out, &ld);
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
    mt_nn_loader ld;
    mt_status s = mt_nn_load_begin("rms_norm", weights, prefix, out, &ld);
    if (s)
        return s;
    mt_norm_options o = options ? *options : (mt_norm_options){0};
    if (o.eps == 0.0f && weights->framework == MT_FRAMEWORK_KERAS)
        o.eps = 1e-6f;   /* RMSNormalization's; PyTorch's eps=None stays 0 */
    mt_tensor *w;
    if (!(s = mt_nn_load_fetch(&ld, ld.keras ? "scale" : ld.nm->weight, true, &w)))
        s = mt_rms_norm_new(w, &o, out);
    mt_tensor_free(w);
    return s;
}

mt_status mt_einsum_dense_load(const mt_state_dict *weights, const char *prefix,
                               const char *equation, mt_activation act, mt_layer **out)
{
    mt_nn_loader ld;
    mt_status s = mt_nn_load_begin("einsum_dense", weights, prefix, out, &ld);
    if (s)
        return s;
    if (weights->framework != MT_FRAMEWORK_KERAS)
        return mt_fail(MT_ERR_UNSUPPORTED, "einsum_dense_load %s: Keras only", prefix);
    mt_tensor *k, *b;
    if (!(s = mt_nn_load_pair(&ld, ld.nm->weight, true, ld.nm->bias, false, &k, &b)))
        s = mt_einsum_dense_new(k, b, equation, act, out);
    mt_tensor_free(k);
    mt_tensor_free(b);
    return s;
}

mt_status mt_group_norm_load(const mt_state_dict *weights, const char *prefix,
                             int num_groups, const mt_norm_options *options,
                             mt_layer **out)
{
    mt_nn_loader ld;
    mt_status s = mt_nn_load_begin("group_norm", weights, prefix, out, &ld);
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
    mt_nn_loader ld;
    mt_status s = mt_nn_load_begin("embedding", weights, prefix, out, &ld);
    if (s)
        return s;
    mt_tensor *w;
    if (!(s = mt_nn_load_fetch(&ld, ld.nm->table, true, &w)))
        s = mt_embedding_new(w, out);
    mt_tensor_free(w);
    return s;
}

mt_status mt_prelu_load(const mt_state_dict *weights, const char *prefix, mt_layer **out)
{
    mt_nn_loader ld;
    mt_status s = mt_nn_load_begin("prelu", weights, prefix, out, &ld);
    if (s)
        return s;
    mt_tensor *w;
    if (!(s = mt_nn_load_fetch(&ld, ld.keras ? "alpha" : "weight", true, &w)))
        s = mt_prelu_new(w, out);
    mt_tensor_free(w);
    return s;
}
