/* state_dict_swin.c — the Swin Transformer's layers from a torchvision
 * state_dict: ShiftedWindowAttention and PatchMerging (swin_layers.c), and
 * Swin V2's ShiftedWindowAttentionV2 (swin_v2_layer.c) and PatchMergingV2. */
#include <stdio.h>

#include "state_dict_internal.h"

mt_status mt_shifted_window_attention_load(const mt_state_dict *weights, const char *prefix,
                                           const mt_window_attention_options *options,
                                           mt_layer **out)
{
    mt_nn_loader ld;
    mt_status s = mt_nn_load_begin("shifted_window_attention", weights, prefix, out, &ld);
    if (s)
        return s;
    if (ld.keras)
        return mt_fail(MT_ERR_UNSUPPORTED, "%s: reads torchvision's names (set "
                       "MT_FRAMEWORK_PYTORCH)", ld.layer);
    static const char *const names[5] = {"qkv.weight", "qkv.bias", "proj.weight",
                                         "proj.bias", "relative_position_bias_table"};
    mt_tensor *t[6] = {0};
    for (int i = 0; !s && i < 5; i++)
        s = mt_nn_load_fetch(&ld, names[i], i % 2 == 0, &t[i]);
    // the index is an integer buffer (not a float weight): read as it is
    char key[MT_NN_KEY_MAX];
    if (!s && mt_nn_load_resolve(&ld, "relative_position_index", key))
        s = mt_nn_get(weights->file, ld.layer, key, &t[5]);
    if (!s)
        s = mt_shifted_window_attention_new(
            &(mt_window_attention_weights){.qkv_weight = t[0], .qkv_bias = t[1],
                                           .proj_weight = t[2], .proj_bias = t[3],
                                           .relative_position_bias_table = t[4],
                                           .relative_position_index = t[5]},
            options, out);
    for (int i = 0; i < 6; i++)
        mt_tensor_free(t[i]);
    return s;
}

mt_status mt_shifted_window_attention_v2_load(const mt_state_dict *weights,
                                              const char *prefix,
                                              const mt_window_attention_options *options,
                                              mt_layer **out)
{
    mt_nn_loader ld;
    mt_status s = mt_nn_load_begin("shifted_window_attention_v2", weights, prefix, out, &ld);
    if (s)
        return s;
    if (ld.keras)
        return mt_fail(MT_ERR_UNSUPPORTED, "%s: reads torchvision's names (set "
                       "MT_FRAMEWORK_PYTORCH)", ld.layer);
    static const char *const names[9] = {
        "qkv.weight", "qkv.bias", "proj.weight", "proj.bias", "logit_scale",
        "cpb_mlp.0.weight", "cpb_mlp.0.bias", "cpb_mlp.2.weight", "relative_coords_table"};
    static const bool required[9] = {true, false, true, false, true, true, false, true, false};
    mt_tensor *t[10] = {0};
    for (int i = 0; !s && i < 9; i++)
        s = mt_nn_load_fetch(&ld, names[i], required[i], &t[i]);
    char key[MT_NN_KEY_MAX];
    if (!s && mt_nn_load_resolve(&ld, "relative_position_index", key))
        s = mt_nn_get(weights->file, ld.layer, key, &t[9]);
    if (!s)
        s = mt_shifted_window_attention_v2_new(
            &(mt_window_attention_v2_weights){
                .qkv_weight = t[0], .qkv_bias = t[1], .proj_weight = t[2], .proj_bias = t[3],
                .logit_scale = t[4], .cpb_mlp0_weight = t[5], .cpb_mlp0_bias = t[6],
                .cpb_mlp2_weight = t[7], .relative_coords_table = t[8],
                .relative_position_index = t[9]},
            options, out);
    for (int i = 0; i < 10; i++)
        mt_tensor_free(t[i]);
    return s;
}

/* PatchMerging "p", or PatchMergingV2 (v2) */
static mt_status merging_load(const char *kind, bool v2, const mt_state_dict *weights,
                              const char *prefix, const mt_norm_options *options,
                              mt_layer **out)
{
    mt_nn_loader ld;
    mt_status s = mt_nn_load_begin(kind, weights, prefix, out, &ld);
    if (s)
        return s;
    if (ld.keras)
        return mt_fail(MT_ERR_UNSUPPORTED, "%s: reads torchvision's names (set "
                       "MT_FRAMEWORK_PYTORCH)", ld.layer);
    char key[MT_NN_KEY_MAX];
    if (mt_nn_load_resolve(&ld, "reduction.bias", key))
        return mt_fail(MT_ERR_UNSUPPORTED, "%s: %s is in the file: torchvision's reduction "
                       "has no bias", ld.layer, key);
    mt_tensor *w = NULL, *nw = NULL, *nb = NULL;
    if (!(s = mt_nn_load_fetch(&ld, "reduction.weight", true, &w)) &&
        !(s = mt_nn_load_pair(&ld, "norm.weight", true, "norm.bias", true, &nw, &nb)))
        s = v2 ? mt_patch_merging_v2_new(nw, nb, w, options, out)
               : mt_patch_merging_new(nw, nb, w, options, out);
    mt_tensor_free(w);
    mt_tensor_free(nw);
    mt_tensor_free(nb);
    return s;
}

mt_status mt_patch_merging_load(const mt_state_dict *weights, const char *prefix,
                                const mt_norm_options *options, mt_layer **out)
{
    return merging_load("patch_merging", false, weights, prefix, options, out);
}

mt_status mt_patch_merging_v2_load(const mt_state_dict *weights, const char *prefix,
                                   const mt_norm_options *options, mt_layer **out)
{
    return merging_load("patch_merging_v2", true, weights, prefix, options, out);
}
