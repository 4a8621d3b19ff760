/* minitensor/llama.h — a Llama-style language model run for generation:
 * one sequence fed token by token (or a prompt at once) over a KV cache,
 * the logits of the newest token out.
 *
 * The checkpoints it loads by their names (PyTorch state_dicts, any storable
 * float dtype, read as F32):
 *   Hugging Face's LlamaForCausalLM and the models of the same graph:
 *     SmolLM, TinyLlama, Llama 3.2 (with options.rope.scaling), Mistral
 *     (below its sliding window), Qwen2 (q/k/v biases), Qwen3 (q_norm,
 *     k_norm): model.embed_tokens.weight, model.layers.{i}.input_layernorm,
 *     .self_attn.{q,k,v,o}_proj, .post_attention_layernorm,
 *     .mlp.{gate,up,down}_proj, model.norm.weight, lm_head.weight (or tied:
 *     the embedding is the head where lm_head.weight is absent);
 *   Meta's and llama2.c's Transformer (the TinyStories models):
 *     tok_embeddings.weight, layers.{i}.attention_norm,
 *     .attention.{wq,wk,wv,wo}, .ffn_norm, .feed_forward.{w1,w3,w2},
 *     norm.weight, output.weight (or tied), interleaved RoPE pairs;
 *   LlamaModel's own state_dict: Hugging Face's names without "model."
 *     (embed_tokens.weight, layers.{i}.…, norm.weight), the head tied
 *     unless lm_head.weight is there.
 * options.prefix goes before every name (a checkpoint of a model trained
 * with torch.compile has its names under "_orig_mod.").
 * Each block: h += attention(rms_norm(h)); h += down(silu(gate(x)) ·
 * up(x)) with x = rms_norm(h); logits = head(rms_norm(h)). The number of
 * blocks is counted in the file (layers 0, 1, … while their q weight is
 * there; at least one, and a tensor of a later block is refused: a gap or
 * a missing q weight would cut the model short); every shape is checked
 * when it loads, naming the tensor. A head's bias is refused (a Llama has
 * none; the tied head would drop it).
 *
 *     mt_llama *m;
 *     mt_llama_load(&(mt_state_dict){file, MT_FRAMEWORK_PYTORCH},
 *                   &(mt_llama_options){.n_heads = 9, .n_kv_heads = 3,
 *                                       .norm_eps = 1e-5f,
 *                                       .rope = {.theta = 10000},
 *                                       .max_len = 2048}, &m);
 *     const float *logits;
 *     mt_llama_forward(m, n_prompt, prompt, &logits);  // the prompt at once
 *     for (…) { int64_t t = pick(logits); mt_llama_forward(m, 1, &t, &logits); }
 *
 * One model per thread: the cache and buffers are the model's. The forward
 * pass allocates nothing: every buffer is made by mt_llama_load for
 * max_len positions. */
#ifndef MINITENSOR_LLAMA_H
#define MINITENSOR_LLAMA_H

#include "minitensor/attention.h"
#include "minitensor/nn.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct mt_llama mt_llama;

/* options:
 *   n_heads     num_attention_heads (n_heads), required;
 *   n_kv_heads  num_key_value_heads, 0 to read it from the k weight's rows;
 *   norm_eps    rms_norm_eps (llama2.c's norm_eps), required (> 0, finite):
 *               the configs differ (1e-5, 1e-6), and so would the logits;
 *   rope        theta (rope_theta; 0: 10000), scaling (rope_scaling),
 *               rotary_dim; the pairing follows the names (Hugging Face's
 *               rotate_half, Meta's interleaved), offset is not read;
 *   qk_norm_eps the q/k norms' eps where the file has them (Qwen3); 0:
 *               norm_eps;
 *   max_len     the positions the cache holds, >= 1 (the prompt and every
 *               token generated after it);
 *   prefix      put before every name (at most 256 bytes); NULL: none. */
typedef struct mt_llama_options {
    int64_t n_heads;
    int64_t n_kv_heads;
    float norm_eps;
    mt_rope_options rope;
    float qk_norm_eps;
    int64_t max_len;
    const char *prefix;
} mt_llama_options;

/* The model in `weights` (MT_FRAMEWORK_PYTORCH) -> *out. Fails naming the
 * tensor on a missing or misshapen weight, MT_ERR_NOT_FOUND if the file
 * has none of the namings' embeddings, MT_ERR_OVERFLOW / _OUT_OF_MEMORY if the
 * cache and buffers for max_len do not fit. */
mt_status mt_llama_load(const mt_state_dict *weights, const mt_llama_options *options,
                        mt_llama **out);

/* Feed tokens[0..n) at the next positions (n >= 1; ids in 0..vocab-1);
 * *logits points at the last one's [vocab] logits, the model's, valid
 * until its next call. Fails (the cache unchanged) on a bad id, naming it
 * and its place, or when the cache would pass max_len (then
 * mt_llama_reset and feed a shorter context). */
mt_status mt_llama_forward(mt_llama *model, int64_t n, const int64_t *tokens,
                           const float **logits);

/* The same, with the logits of every token fed, for scoring a text
 * (perplexity, a loss): logits is the caller's, n·vocab floats, row i the
 * logits after tokens[i]. The head runs on every row: n times the work of
 * mt_llama_forward's. */
mt_status mt_llama_forward_all(mt_llama *model, int64_t n, const int64_t *tokens,
                               float *logits);

/* Forget the sequence: the next token is at position 0. */
void mt_llama_reset(mt_llama *model);

/* The positions fed since the last reset; the vocabulary size; the
 * number of blocks. 0 for NULL. */
int64_t mt_llama_position(const mt_llama *model);
int64_t mt_llama_vocab(const mt_llama *model);
int64_t mt_llama_layers(const mt_llama *model);

void mt_llama_free(mt_llama *model);

#ifdef __cplusplus
}
#endif

#endif
