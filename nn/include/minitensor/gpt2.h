/* minitensor/gpt2.h — a GPT-2-style language model run for generation:
 * one sequence fed token by token (or a prompt at once) over a KV cache,
 * the logits of the newest token out. The llama.h API for the other
 * family of small decoders.
 *
 * The checkpoints it loads by their names (PyTorch state_dicts, any storable
 * float dtype, read as F32):
 *   Hugging Face's GPT2LMHeadModel (gpt2, distilgpt2, and the models
 *     trained from their configs): transformer.wte.weight [vocab, E],
 *     transformer.wpe.weight [n_positions, E], transformer.h.{i}.ln_1,
 *     .attn.c_attn [E, 3E], .attn.c_proj [E, E], .ln_2, .mlp.c_fc [E, 4E],
 *     .mlp.c_proj [4E, E] (Conv1D weights, (in, out)),
 *     transformer.ln_f, lm_head.weight (or tied: wte is the head where it
 *     is absent, as save_pretrained writes it); the attn.bias and
 *     attn.masked_bias buffers of older checkpoints are not read;
 *   GPT2Model's own state_dict: the same without "transformer." (wte.weight,
 *     h.{i}.…, ln_f), the head tied to wte unless lm_head.weight is there;
 *   nanoGPT's GPT: Hugging Face's names with nn.Linear weights ((out, in):
 *     c_attn [3E, E], c_fc [4E, E]), with or without biases (bias=False
 *     leaves out every .bias, the LayerNorms' too).
 * Which layout a file has is read from block 0's c_attn weight ([E, 3E] or
 * [3E, E]); every block's c_attn and c_fc must then agree (a square c_proj
 * cannot tell, and follows its block's). The biases likewise: block 0's
 * c_attn.bias says whether the model has them, and then every Linear and
 * LayerNorm must have its bias, or none may (a file with one missing or
 * left over is refused, as a LayerNorm without its weight is). options.prefix goes before every name (torch.compile's
 * "_orig_mod.").
 * Each block: h += attn(ln_1(h)); h += c_proj(gelu(c_fc(ln_2(h)))), with
 * h = wte[token] + wpe[position] in front and logits = head(ln_f(h)). The
 * attention is causal, q, k, v split from c_attn in that order, H heads of
 * E / H. The blocks are counted in the file as mt_llama counts them (at
 * least one; a tensor of a block past a gap is refused); every shape is
 * checked when it loads, naming the tensor; a head's bias is refused.
 *
 *     mt_gpt2 *m;
 *     mt_gpt2_load(&(mt_state_dict){file, MT_FRAMEWORK_PYTORCH},
 *                  &(mt_gpt2_options){.n_heads = 12}, &m);
 *     const float *logits;
 *     mt_gpt2_forward(m, n_prompt, prompt, &logits);   // the prompt at once
 *     for (…) { int64_t t = pick(logits); mt_gpt2_forward(m, 1, &t, &logits); }
 *
 * One model per thread: the cache and buffers are the model's. The forward
 * pass allocates nothing: every buffer is made by mt_gpt2_load for max_len
 * positions. */
#ifndef MINITENSOR_GPT2_H
#define MINITENSOR_GPT2_H

#include "minitensor/nn.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct mt_gpt2 mt_gpt2;

/* The MLP's GELU. AUTO: the tanh form with Conv1D weights (Hugging Face's
 * activation_function "gelu_new", every GPT-2 checkpoint's), the exact
 * (erf) form with nn.Linear ones (nanoGPT's nn.GELU()). */
typedef enum mt_gpt2_gelu {
    MT_GPT2_GELU_AUTO = 0,
    MT_GPT2_GELU_TANH,
    MT_GPT2_GELU_EXACT
} mt_gpt2_gelu;

/* options:
 *   n_heads   n_head, required (>= 1, dividing E);
 *   norm_eps  layer_norm_epsilon; 0: 1e-5 (GPT-2's and nanoGPT's);
 *   gelu      above;
 *   max_len   the positions the cache holds (the prompt and every token
 *             generated after it); 0: all of wpe's rows (n_positions);
 *             at most that, since a position past it has no embedding;
 *   prefix    put before every name (at most 256 bytes); NULL: none. */
typedef struct mt_gpt2_options {
    int64_t n_heads;
    float norm_eps;
    mt_gpt2_gelu gelu;
    int64_t max_len;
    const char *prefix;
} mt_gpt2_options;

/* The model in `weights` (MT_FRAMEWORK_PYTORCH) -> *out. Fails naming the
 * tensor on a missing or misshapen weight, MT_ERR_NOT_FOUND if the file
 * has neither naming's wte, MT_ERR_OVERFLOW / _OUT_OF_MEMORY if the cache
 * and buffers for max_len do not fit. */
mt_status mt_gpt2_load(const mt_state_dict *weights, const mt_gpt2_options *options,
                       mt_gpt2 **out);

/* Feed tokens[0..n) at the next positions (n >= 1; ids in 0..vocab-1);
 * *logits points at the last one's [vocab] logits, the model's, valid
 * until its next call. Fails (the cache unchanged) on a bad id, naming it
 * and its place, or when the cache would pass max_len (then mt_gpt2_reset
 * and feed a shorter context). */
mt_status mt_gpt2_forward(mt_gpt2 *model, int64_t n, const int64_t *tokens,
                          const float **logits);

/* The same, with the logits of every token fed (scoring a text): logits is
 * the caller's, n·vocab floats, row i the logits after tokens[i]. */
mt_status mt_gpt2_forward_all(mt_gpt2 *model, int64_t n, const int64_t *tokens,
                              float *logits);

/* Forget the sequence: the next token is at position 0. */
void mt_gpt2_reset(mt_gpt2 *model);

/* The positions fed since the last reset; the vocabulary size; the number
 * of blocks; the positions the cache holds. 0 for NULL. */
int64_t mt_gpt2_position(const mt_gpt2 *model);
int64_t mt_gpt2_vocab(const mt_gpt2 *model);
int64_t mt_gpt2_layers(const mt_gpt2 *model);
int64_t mt_gpt2_max_len(const mt_gpt2 *model);

void mt_gpt2_free(mt_gpt2 *model);

#ifdef __cplusplus
}
#endif

#endif
