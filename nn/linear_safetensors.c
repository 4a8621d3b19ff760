/* linear_safetensors.c — a Linear layer from tensors of a safetensors file. */
#include <stdio.h>

#include "layer_internal.h"

/* Fetch `name` for the layer, naming the layer in the message on failure. */
static mt_status get(const mt_safetensors *file, const char *layer, const char *name,
                     mt_tensor **out)
{
    mt_status s = mt_safetensors_get(file, name, out);
    /* NaN/Inf weights would only show up as NaN outputs: refuse them here. */
    if (!s && (s = mt_tensor_check_finite(*out))) {
        mt_tensor_free(*out);
        *out = NULL;
    }
    if (s) {
        char why[512];
        snprintf(why, sizeof why, "%s", nn_error_detail(mt_last_error()));
        return mt_fail(s, "linear %s: %s", layer, why);
    }
    return MT_OK;
}

mt_status mt_linear_from_safetensors(const mt_safetensors *file,
                                     const char *weight_name,
                                     const char *bias_name,
                                     const mt_linear_options *options,
                                     mt_layer **out)
{
    if (!file || !weight_name || !out)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "linear_from_safetensors: NULL argument");
    *out = NULL;
    mt_tensor *w = NULL, *b = NULL;
    mt_status s = get(file, weight_name, weight_name, &w);
    if (!s && bias_name)
        s = get(file, weight_name, bias_name, &b);
    if (!s)
        s = mt_linear_new(w, b, options, out);
    mt_tensor_free(w);
    mt_tensor_free(b);
    return s;
}
