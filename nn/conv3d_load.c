/* conv3d_load.c — Conv3D by the names PyTorch's state_dict ("c1.weight"
 * OIDHW, "c1.bias") and Keras ("c1/kernel" DHWIO, "c1/bias"; Keras 2's
 * "c1/kernel:0") give it. */
#include <stdio.h>
#include <string.h>

#include "layer_internal.h"

/* as state_dict.c: Keras nests layers in name scopes (NASNetMobile: 143 bytes) */
enum { KEY_MAX = 512 };

/* Tensor prefix<sep>what into *t (Keras 2's "…:0" too); a missing one is
 * NULL unless required. Integer weights (quantized) and NaN or infinite
 * ones are refused, naming `layer`. */
static mt_status fetch(const mt_state_dict *sd, const char *layer, const char *prefix,
                       const char *what, bool required, mt_tensor **t)
{
    bool keras = sd->framework == MT_FRAMEWORK_KERAS;
    char key[KEY_MAX];
    size_t index, n = (size_t)snprintf(key, sizeof key, "%s%s%s", prefix,
                                       prefix[0] ? (keras ? "/" : ".") : "", what);
    *t = NULL;
    bool found = mt_safetensors_find(sd->file, key, &index) == MT_OK;
    if (!found && keras && n + 3 <= sizeof key) {
        memcpy(key + n, ":0", 3);
        found = mt_safetensors_find(sd->file, key, &index) == MT_OK;
        if (!found)
            key[n] = '\0';
    }
    mt_clear_error();
    if (!found && !required)
        return MT_OK;
    mt_status s = mt_nn_get(sd->file, layer, key, t);
    if (!s && (*t)->dtype != MT_DTYPE_F32 && (*t)->dtype != MT_DTYPE_F16 &&
        (*t)->dtype != MT_DTYPE_BF16 && (*t)->dtype != MT_DTYPE_F64)
        s = mt_fail(MT_ERR_DTYPE, "%s: %s is %s, not a float: quantized weights are not "
                    "supported, export the float model", layer, key,
                    mt_dtype_name((*t)->dtype));
    else if (!s)
        s = mt_nn_check_finite(layer, *t);
    if (s) {
        mt_tensor_free(*t);
        *t = NULL;
    }
    return s;
}

mt_status mt_conv3d_load(const mt_state_dict *weights, const char *prefix,
                         const mt_conv3d_options *options, mt_layer **out)
{
    if (!out)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "conv3d_load: out is NULL");
    *out = NULL;
    if (!weights || !weights->file || !prefix)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "conv3d_load: NULL argument");
    if (weights->framework != MT_FRAMEWORK_PYTORCH && weights->framework != MT_FRAMEWORK_KERAS)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "conv3d_load %s: unknown framework %d (set "
                       "MT_FRAMEWORK_PYTORCH or MT_FRAMEWORK_KERAS)", prefix,
                       (int)weights->framework);
    if (strlen(prefix) > KEY_MAX - 16)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "conv3d_load: prefix of %zu bytes, at most %d",
                       strlen(prefix), KEY_MAX - 16);
    bool keras = weights->framework == MT_FRAMEWORK_KERAS;
    char layer[KEY_MAX + 16];
    snprintf(layer, sizeof layer, "conv3d %s", prefix);
    mt_conv3d_options o = options ? *options : (mt_conv3d_options){0};
    if (o.layout == MT_KERNEL_AUTO)
        o.layout = keras ? MT_KERNEL_HWIO : MT_KERNEL_OIHW;
    mt_tensor *k, *b = NULL;
    mt_status s = fetch(weights, layer, prefix, keras ? "kernel" : "weight", true, &k);
    if (!s && !(s = fetch(weights, layer, prefix, "bias", false, &b)))
        s = mt_conv3d_new(k, b, &o, out);
    mt_tensor_free(k);
    mt_tensor_free(b);
    return s;
}
