/* state_dict_llama.c — Llama's attention from a state_dict, by Hugging
 * Face's names (q_proj, k_proj, v_proj, o_proj, and Qwen3's and OLMo2's
 * q_norm, k_norm) or Meta's and llama2.c's (wq, wk, wv, wo). */
#include <stdio.h>

#include "state_dict_internal.h"

mt_status mt_llama_attention_load(const mt_state_dict *weights, const char *prefix,
                                  const mt_llama_attention_options *options, mt_layer **out)
{
    static const char *const names[2][4] = {{"q_proj", "k_proj", "v_proj", "o_proj"},
                                            {"wq", "wk", "wv", "wo"}};
    mt_nn_loader ld;
    mt_status s = mt_nn_load_begin("llama_attention", weights, prefix, out, &ld);
    if (s)
        return s;
    if (ld.keras)
        return mt_fail(MT_ERR_UNSUPPORTED, "llama_attention_load %s: reads PyTorch's names "
                       "(set MT_FRAMEWORK_PYTORCH)", prefix);
    if (!options)
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "llama_attention_load %s: options is NULL "
                       "(n_heads is required)", prefix);
    // the names say the convention, and with it the pairing: Hugging Face's
    // conversion permuted q and k rows for rotate_half, Meta's files did not
    char key[2][MT_NN_KEY_MAX];
    bool hf = mt_nn_load_resolve(&ld, "q_proj.weight", key[0]);
    if (!hf && !mt_nn_load_resolve(&ld, "wq.weight", key[1]))
        return mt_fail(MT_ERR_NOT_FOUND, "llama_attention_load %s: neither %s (Hugging "
                       "Face) nor %s (Meta, llama2.c) is in the file", prefix, key[0], key[1]);
    const char *const *nm = names[hf ? 0 : 1];
    mt_tensor *t[10] = {0};
    for (int i = 0; !s && i < 4; i++) {
        char suffix[2][16];
        snprintf(suffix[0], sizeof suffix[0], "%s.weight", nm[i]);
        snprintf(suffix[1], sizeof suffix[1], "%s.bias", nm[i]);
        s = mt_nn_load_pair(&ld, suffix[0], true, suffix[1], false, &t[i], &t[4 + i]);
    }
    // Qwen3's and OLMo2's q and k norms, under Hugging Face's names
    if (!s && hf)
        s = mt_nn_load_pair(&ld, "q_norm.weight", false, "k_norm.weight", false, &t[8], &t[9]);
    mt_llama_attention_options o = *options;
    o.rope.pairing = hf ? MT_ROPE_PAIRING_HALF : MT_ROPE_PAIRING_INTERLEAVED;
    if (!s)
        s = mt_llama_attention_new(&(mt_attention_weights){
            .q_weight = t[0], .k_weight = t[1], .v_weight = t[2], .out_weight = t[3],
            .q_bias = t[4], .k_bias = t[5], .v_bias = t[6], .out_bias = t[7],
            .q_norm_weight = t[8], .k_norm_weight = t[9]}, &o, out);
    for (int i = 0; i < 10; i++)
        mt_tensor_free(t[i]);
    return s;
}
