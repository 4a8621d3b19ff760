/* linear_safetensors.c — a Linear layer from tensors of a safetensors file. */
#include <stdio.h>

#include "layer_internal.h"

mt_status mt_linear_from_safetensors(const mt_safetensors *file,
                                     const char *weight_name,
                                     const char *bias_name,
                                     const mt_linear_options *options,
                                     mt_layer **out)
{
    if (!file || !weight_name || !out)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "linear_from_safetensors: NULL argument");
    *out = NULL;
    char layer[MT_NAME_MAX + 16];
    snprintf(layer, sizeof layer, "linear %s", weight_name);
    mt_tensor *w = NULL, *b = NULL;
    mt_status s = mt_nn_get(file, layer, weight_name, &w);
    if (!s && bias_name)
        s = mt_nn_get(file, layer, bias_name, &b);
    if (!s)
        s = mt_linear_new(w, b, options, out);
    if (!s && ((s = mt_nn_check_finite(layer, w)) || (b && (s = mt_nn_check_finite(layer, b))))) {
        mt_layer_free(*out);
        *out = NULL;
    }
    mt_tensor_free(w);
    mt_tensor_free(b);
    return s;
}
