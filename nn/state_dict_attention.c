/* state_dict_attention.c — attention layers from a state_dict: PyTorch's
 * nn.MultiheadAttention, Hugging Face's (GPT-2's, BERT's, ViT's, CLIP's …), and Keras'
 * MultiHeadAttention, Attention and AdditiveAttention. */
#include <stdio.h>
#include <string.h>

#include "minitensor/view.h"
#include "state_dict_internal.h"

/* Keras' MultiHeadAttention: p/query/kernel [E, H, Dk], p/key/kernel
 * [kdim, H, Dk], p/value/kernel [vdim, H, Dv], p/attention_output/kernel
 * [H, Dv, Eo], biases [H, Dk], [H, Dk], [H, Dv], [Eo] (none with
 * use_bias=False); the kernels merged to (in, out) matrices, no copy.
 * GroupQueryAttention stores the same names with Hkv key and value heads
 * (dividing H) in the key and value kernels and biases. */
static mt_status keras_attention(const mt_nn_loader *ld, int64_t num_heads, bool causal,
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
        s = mt_nn_load_fetch(ld, names[i], i < 4, &t[i]);
    char ts[4][160];
    // key and value heads: num_heads, or fewer dividing it (grouped-query)
    int64_t kv_heads = !s && t[1]->rank == 3 && t[1]->shape[1] >= 1 &&
                               num_heads % t[1]->shape[1] == 0 ? t[1]->shape[1] : num_heads;
    for (int i = 0; !s && i < 8; i++) {
        // the heads' dim: 1 in the in-kernels, 0 in the output kernel and
        // the biases; no dim 0 (then the merged dims cannot overflow)
        int rank = i < 4 ? 3 : i < 7 ? 2 : 1;
        int64_t want = i == 1 || i == 2 || i == 5 || i == 6 ? kv_heads : num_heads;
        if (t[i] && (t[i]->rank != rank || mt_tensor_numel(t[i]) < 1 ||
                     (rank > 1 && t[i]->shape[i >= 3 ? 0 : 1] != want)))
            s = mt_fail(MT_ERR_SHAPE, "%s: %s, expected %s with %lld heads (%s)",
                        ld->layer, mt_tensor_describe(t[i], ts[0], sizeof ts[0]),
                        i == 3 ? "[heads, value_dim, out]" : i < 3 ? "[in, heads, dim]"
                        : i < 7 ? "[heads, dim]" : "[out]", (long long)want,
                        want == num_heads ? "num_heads" : "the key's, dividing num_heads");
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
    return mt_nn_attention_new(name, m, num_heads, kv_heads, causal, true, out);
}

/* Hugging Face's GPT-2 (GPT2Attention, DistilGPT2's too): p.c_attn.weight
 * [E, 3E] and p.c_proj.weight [E, E] are Conv1D weights, (in, out), so
 * their transposes (views) are in_proj_weight (q, k, v rows in that order,
 * as GPT-2 splits them) and out_proj's weight; p.c_attn.bias [3E] and
 * p.c_proj.bias [E]. The shapes are checked here, as the file has them. */
static mt_status gpt2_attention(const mt_nn_loader *ld, int64_t num_heads, bool causal,
                                mt_layer **out)
{
    static const char *const names[4] = {"c_attn.weight", "c_attn.bias", "c_proj.weight",
                                         "c_proj.bias"};
    mt_tensor *t[4] = {0}, *in_proj = NULL, *out_proj = NULL;
    mt_status s = MT_OK;
    for (int i = 0; !s && i < 4; i++)
        s = mt_nn_load_fetch(ld, names[i], i % 2 == 0, &t[i]);
    char ts[2][160];
    if (!s && (t[2]->rank != 2 || t[2]->shape[0] != t[2]->shape[1] || t[2]->shape[0] < 1 ||
               t[0]->rank != 2 || t[0]->shape[0] != t[2]->shape[0] ||
               t[0]->shape[1] != 3 * t[2]->shape[0]))
        s = mt_fail(MT_ERR_SHAPE, "%s: %s and %s, expected [E, 3E] and [E, E] (GPT-2's "
                    "Conv1D weights, (in, out))", ld->layer,
                    mt_tensor_describe(t[0], ts[0], sizeof ts[0]),
                    mt_tensor_describe(t[2], ts[1], sizeof ts[1]));
    if (!s && !(s = mt_transpose(t[0], 0, 1, &in_proj)) &&
        !(s = mt_transpose(t[2], 0, 1, &out_proj))) {
        mt_tensor_name_set(in_proj, t[0]->name);
        mt_tensor_name_set(out_proj, t[2]->name);
        s = mt_multihead_attention_new(&(mt_attention_weights){
            .in_proj_weight = in_proj, .in_proj_bias = t[1], .out_weight = out_proj,
            .out_bias = t[3]}, num_heads, causal, out);
    }
    mt_tensor_free(in_proj);
    mt_tensor_free(out_proj);
    for (int i = 0; i < 4; i++)
        mt_tensor_free(t[i]);
    return s;
}

/* Hugging Face's encoders and decoders keep q, k, v and the output as four
 * nn.Linears ((out, in) weights, biases if present) under their own names. */
typedef struct hf_names {
    const char *q, *k, *v, *o;
} hf_names;

static const hf_names hf_conventions[] = {
    {"q_proj", "k_proj", "v_proj", "out_proj"},             /* CLIP, BART, Whisper, OPT */
    {"self.query", "self.key", "self.value", "output.dense"}, /* BERT, RoBERTa, ELECTRA */
    {"attention.query", "attention.key", "attention.value", "output.dense"}, /* ViT, DeiT */
    {"q_lin", "k_lin", "v_lin", "out_lin"},                 /* DistilBERT */
};

static mt_status hf_attention(const mt_nn_loader *ld, const hf_names *nm, int64_t num_heads,
                              bool causal, mt_layer **out)
{
    const char *const role[4] = {nm->q, nm->k, nm->v, nm->o};
    mt_tensor *t[8] = {0};
    mt_status s = MT_OK;
    for (int i = 0; !s && i < 4; i++) {
        char w[32], b[32];
        snprintf(w, sizeof w, "%s.weight", role[i]);
        snprintf(b, sizeof b, "%s.bias", role[i]);
        s = mt_nn_load_pair(ld, w, true, b, false, &t[i], &t[4 + i]);
    }
    if (!s)
        s = mt_multihead_attention_new(&(mt_attention_weights){
            .q_weight = t[0], .k_weight = t[1], .v_weight = t[2], .out_weight = t[3],
            .q_bias = t[4], .k_bias = t[5], .v_bias = t[6], .out_bias = t[7]},
            num_heads, causal, out);
    for (int i = 0; i < 8; i++)
        mt_tensor_free(t[i]);
    return s;
}

mt_status mt_multihead_attention_load(const mt_state_dict *weights, const char *prefix,
                                      int64_t num_heads, bool causal, mt_layer **out)
{
    mt_nn_loader ld;
    mt_status s = mt_nn_load_begin("multihead_attention", weights, prefix, out, &ld);
    if (s)
        return s;
    if (weights->framework == MT_FRAMEWORK_KERAS)
        return keras_attention(&ld, num_heads, causal, out);
    char key[MT_NN_KEY_MAX];
    if (mt_nn_load_resolve(&ld, "c_attn.weight", key))
        return gpt2_attention(&ld, num_heads, causal, out);
    for (size_t i = 0; i < sizeof hf_conventions / sizeof hf_conventions[0]; i++) {
        char q[32];
        snprintf(q, sizeof q, "%s.weight", hf_conventions[i].q);
        if (mt_nn_load_resolve(&ld, q, key))
            return hf_attention(&ld, &hf_conventions[i], num_heads, causal, out);
    }
    // add_bias_kv=True adds learned key/value rows this layer does not have:
    // refuse them rather than run without
    for (int i = 0; i < 2; i++) {
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
        s = mt_nn_load_fetch(&ld, names[i], i == 5, &t[i]);
    if (!s)
        s = mt_multihead_attention_new(&(mt_attention_weights){
            .in_proj_weight = t[0], .in_proj_bias = t[1], .q_weight = t[2],
            .k_weight = t[3], .v_weight = t[4], .out_weight = t[5], .out_bias = t[6]},
            num_heads, causal, out);
    for (int i = 0; i < 7; i++)
        mt_tensor_free(t[i]);
    return s;
}

/* The one number in t (any float dtype) into *v. */
static mt_status scalar(const mt_nn_loader *ld, const mt_tensor *t, float *v)
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
    mt_nn_loader ld;
    mt_status s = mt_nn_load_begin("dot_attention", weights, prefix, out, &ld);
    if (s)
        return s;
    if (!ld.keras)
        return mt_fail(MT_ERR_UNSUPPORTED, "dot_attention_load %s: reads Keras' variables "
                       "(set MT_FRAMEWORK_KERAS)", prefix);
    bool concat = options && options->score_mode == MT_SCORE_MODE_CONCAT;
    char key[MT_NN_KEY_MAX];
    if (!concat && mt_nn_load_resolve(&ld, "concat_score_weight", key))
        return mt_fail(MT_ERR_INVALID_ARGUMENT, "dot_attention_load %s: %s is in the file: "
                       "the layer has score_mode=\"concat\" (set MT_SCORE_MODE_CONCAT)",
                       prefix, key);
    mt_tensor *t[2];
    float v[2] = {1.0f, 1.0f};
    s = mt_nn_load_pair(&ld, "scale", !concat, "concat_score_weight", concat, &t[0], &t[1]);
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
    mt_nn_loader ld;
    mt_status s = mt_nn_load_begin("additive_attention", weights, prefix, out, &ld);
    if (s)
        return s;
    if (!ld.keras)
        return mt_fail(MT_ERR_UNSUPPORTED, "additive_attention_load %s: reads Keras' "
                       "variables (set MT_FRAMEWORK_KERAS)", prefix);
    mt_tensor *scale;
    if (!(s = mt_nn_load_fetch(&ld, "scale", true, &scale)))
        s = mt_additive_attention_new(scale, options, out);
    mt_tensor_free(scale);
    return s;
}
