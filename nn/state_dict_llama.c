/* state_dict_llama.c — Llama's attention from a state_dict, by Hugging
 * Face's names (q_proj, k_proj, v_proj, o_proj, and Qwen3's and OLMo2's
 * q_norm, k_norm), Meta's and llama2.c's (wq, wk, wv, wo), GPT-NeoX's
 * (query_key_value, dense: Pythia), or GPT-2's (c_attn, c_proj: Hugging
 * Face's and nanoGPT's, without RoPE). */
#include <stdio.h>

#include "minitensor/view.h"
#include "state_dict_internal.h"

typedef enum naming { NAMING_NONE, NAMING_HF, NAMING_META, NAMING_NEOX, NAMING_GPT2 } naming;

/* GPT-NeoX packs q, k, v per head: rows [H, 3, D] of query_key_value (its
 * forward views the output as [N, L, H, 3·D] and splits the last dim).
 * Part `which` (0 q, 1 k, 2 v) of packed [H·3·D, …] (rank 1 or 2) as a
 * contiguous [H·D, …] copy named after it. */
static mt_status neox_part(const char *layer, const mt_tensor *packed, int64_t heads,
                           int which, mt_tensor **out)
{
    char ts[160];
    int64_t rows = packed->shape[0], cols = packed->rank == 2 ? packed->shape[1] : 1;
    // (rows / 3 / heads, not rows / (3 · heads): heads may be anything >= 1)
    if (packed->rank > 2 || rows == 0 || rows % 3 || (rows / 3) % heads)
        return mt_fail(MT_ERR_SHAPE, "%s: %s, expected [n_heads·3·D%s] with n_heads %lld",
                       layer, mt_tensor_describe(packed, ts, sizeof ts),
                       packed->rank == 2 ? ", E" : "", (long long)heads);
    int64_t d = rows / 3 / heads;
    mt_tensor *split = NULL, *part = NULL, *flat = NULL;
    mt_status s = mt_view(packed, 4, (int64_t[]){heads, 3, d, cols}, &split);
    if (!s && !(s = mt_narrow(split, 1, which, 1, &part)))
        s = mt_tensor_contiguous(part, &flat);
    if (!s && !(s = mt_view(flat, packed->rank, (int64_t[]){heads * d, cols}, out)))
        mt_tensor_name_set(*out, packed->name);
    mt_tensor_free(flat);
    mt_tensor_free(part);
    mt_tensor_free(split);
    return s;
}

/* GPT-NeoX's p.query_key_value.{weight,bias} split into q, k, v (t[0..2],
 * t[4..6]), p.dense.{weight,bias} as the output (t[3], t[7]). */
static mt_status load_neox(const mt_nn_loader *ld, int64_t heads, mt_tensor *t[8])
{
    mt_tensor *qkv = NULL, *qkv_bias = NULL;
    mt_status s = mt_nn_load_pair(ld, "query_key_value.weight", true, "query_key_value.bias",
                                  false, &qkv, &qkv_bias);
    if (!s)
        s = mt_nn_load_pair(ld, "dense.weight", true, "dense.bias", false, &t[3], &t[7]);
    if (!s && heads < 1)
        s = mt_fail(MT_ERR_INVALID_ARGUMENT, "%s: n_heads %lld", ld->layer, (long long)heads);
    for (int i = 0; !s && i < 3; i++) {
        s = neox_part(ld->layer, qkv, heads, i, &t[i]);
        if (!s && qkv_bias)
            s = neox_part(ld->layer, qkv_bias, heads, i, &t[4 + i]);
    }
    mt_tensor_free(qkv);
    mt_tensor_free(qkv_bias);
    return s;
}

/* Part `which` (0 q, 1 k, 2 v) of GPT-2's packed c_attn: its weight w as
 * an (out, in) view [E, E] (columns of Hugging Face's Conv1D [E, 3E],
 * transposed; rows of nanoGPT's nn.Linear [3E, E]), or its bias [3E]. */
static mt_status gpt2_part(const mt_tensor *t, bool conv1d, int which, mt_tensor **out)
{
    mt_tensor *part = NULL;
    int64_t e = t->shape[0] / (t->rank == 1 || !conv1d ? 3 : 1);
    mt_status s = mt_narrow(t, t->rank == 2 && conv1d, which * e, e, &part);
    if (!s && t->rank == 2 && conv1d) {
        s = mt_transpose(part, 0, 1, out);
        mt_tensor_free(part);
    } else if (!s) {
        *out = part;
    }
    if (!s)
        mt_tensor_name_set(*out, t->name);
    return s;
}

/* GPT-2's p.c_attn.{weight,bias} split into q, k, v views (t[0..2],
 * t[4..6]) and p.c_proj.{weight,bias} (t[3], t[7]), in the layout
 * c_attn's shape says: [E, 3E] Conv1D (in, out), [3E, E] nn.Linear. */
static mt_status load_gpt2(const mt_nn_loader *ld, mt_tensor *t[8])
{
    mt_tensor *qkv = NULL, *qkv_bias = NULL, *proj = NULL;
    mt_status s = mt_nn_load_pair(ld, "c_attn.weight", true, "c_attn.bias", false, &qkv,
                                  &qkv_bias);
    if (!s)
        s = mt_nn_load_pair(ld, "c_proj.weight", true, "c_proj.bias", false, &proj, &t[7]);
    bool conv1d = !s && qkv->rank == 2 && qkv->shape[1] == 3 * qkv->shape[0];
    bool linear = !s && qkv->rank == 2 && qkv->shape[0] == 3 * qkv->shape[1];
    char ts[2][160];
    if (!s && (!(conv1d || linear) || qkv->shape[0] < 1 ||
               (qkv_bias && (qkv_bias->rank != 1 || qkv_bias->shape[0] != 3 * (conv1d
                   ? qkv->shape[0] : qkv->shape[1])))))
        s = mt_fail(MT_ERR_SHAPE, "%s: %s%s%s, expected [E, 3E] (Hugging Face's Conv1D) or "
                    "[3E, E] (nanoGPT's nn.Linear) and a bias [3E]", ld->layer,
                    mt_tensor_describe(qkv, ts[0], sizeof ts[0]), qkv_bias ? " and " : "",
                    qkv_bias ? mt_tensor_describe(qkv_bias, ts[1], sizeof ts[1]) : "");
    for (int i = 0; !s && i < 3; i++) {
        s = gpt2_part(qkv, conv1d, i, &t[i]);
        if (!s && qkv_bias)
            s = gpt2_part(qkv_bias, conv1d, i, &t[4 + i]);
    }
    // c_proj is square: the layout is c_attn's
    if (!s && conv1d && proj->rank == 2) {
        s = mt_transpose(proj, 0, 1, &t[3]);
        if (!s)
            mt_tensor_name_set(t[3], proj->name);
    } else if (!s) {
        t[3] = proj;
        proj = NULL;
    }
    mt_tensor_free(qkv);
    mt_tensor_free(qkv_bias);
    mt_tensor_free(proj);
    return s;
}

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
    char key[4][MT_NN_KEY_MAX];
    naming nm = mt_nn_load_resolve(&ld, "q_proj.weight", key[0])  ? NAMING_HF
                : mt_nn_load_resolve(&ld, "wq.weight", key[1])    ? NAMING_META
                : mt_nn_load_resolve(&ld, "query_key_value.weight", key[2]) ? NAMING_NEOX
                : mt_nn_load_resolve(&ld, "c_attn.weight", key[3]) ? NAMING_GPT2
                                                                   : NAMING_NONE;
    if (nm == NAMING_NONE)
        return mt_fail(MT_ERR_NOT_FOUND, "llama_attention_load %s: none of %s (Hugging "
                       "Face), %s (Meta, llama2.c), %s (GPT-NeoX) and %s (GPT-2) is in the "
                       "file", prefix, key[0], key[1], key[2], key[3]);
    mt_tensor *t[10] = {0};
    if (nm == NAMING_NEOX)
        s = load_neox(&ld, options->n_heads, t);
    else if (nm == NAMING_GPT2)
        s = load_gpt2(&ld, t);
    for (int i = 0; nm < NAMING_NEOX && !s && i < 4; i++) {
        char suffix[2][16];
        snprintf(suffix[0], sizeof suffix[0], "%s.weight", names[nm == NAMING_META][i]);
        snprintf(suffix[1], sizeof suffix[1], "%s.bias", names[nm == NAMING_META][i]);
        s = mt_nn_load_pair(&ld, suffix[0], true, suffix[1], false, &t[i], &t[4 + i]);
    }
    // Qwen3's and OLMo2's q and k norms (read under any naming: a file that
    // has them means them)
    if (!s)
        s = mt_nn_load_pair(&ld, "q_norm.weight", false, "k_norm.weight", false, &t[8], &t[9]);
    mt_llama_attention_options o = *options;
    o.rope.pairing = nm == NAMING_META ? MT_ROPE_PAIRING_INTERLEAVED : MT_ROPE_PAIRING_HALF;
    o.no_rope = o.no_rope || nm == NAMING_GPT2;
    if (!s)
        s = mt_llama_attention_new(&(mt_attention_weights){
            .q_weight = t[0], .k_weight = t[1], .v_weight = t[2], .out_weight = t[3],
            .q_bias = t[4], .k_bias = t[5], .v_bias = t[6], .out_bias = t[7],
            .q_norm_weight = t[8], .k_norm_weight = t[9]}, &o, out);
    for (int i = 0; i < 10; i++)
        mt_tensor_free(t[i]);
    return s;
}
