/* model.h — a GPT-style character model (nanoGPT's layout) run by minitensor.
 *
 *     x = wte[tokens] + wpe[positions]                        // (T,C)
 *     n_layer times: x = x + attn(ln_1(x)); x = x + mlp(ln_2(x))
 *     logits = ln_f(x) · lm_head^T                            // (T,V)
 *
 * attn is causal multi-head self-attention (c_attn's output splits into q, k,
 * v in that order), mlp is c_proj(gelu(c_fc(x))) with exact GELU and width
 * 4·C, LayerNorm has eps 1e-5 and the biased variance, as PyTorch.
 *
 * Weights come from a safetensors file with nanoGPT's names and PyTorch
 * (out,in) layouts; __metadata__ holds n_layer, n_head, n_embd, block_size
 * and vocab (the characters in token-id order) as strings. Biases and a tied
 * head are known from which tensors are present: each missing .bias is a
 * zero bias, a missing lm_head.weight means the head is transformer.wte
 * (and a missing transformer.wte.weight beside lm_head.weight the reverse:
 * safetensors.torch.save_model keeps only lm_head.weight of a tied pair).
 * All names may start with "_orig_mod." (a torch.compile'd nanoGPT's
 * state_dict).
 * Other tensors (nanoGPT's attn.bias mask buffers) are ignored. F32, F16 and
 * BF16 weights load (the last two converted to F32).
 *
 * Use: charlm_model_new() once, then a charlm_state per sequence being
 * generated; charlm_forward() appends tokens to the state's KV cache. */
#ifndef CHARLM_MODEL_H
#define CHARLM_MODEL_H

#include <stdbool.h>
#include <stdint.h>

#include "minitensor/minitensor.h"

#define CHARLM_LN_EPS 1e-5f

/* Sizes from the metadata. */
typedef struct charlm_config {
    int64_t n_layer, n_head, n_embd, block_size, vocab_size;
} charlm_config;

/* One block's weights: PyTorch (out,in) tensors and [out] biases (NULL when
 * absent from the file). */
typedef struct charlm_block {
    mt_tensor *ln_1_w, *ln_1_b;
    mt_tensor *attn_w, *attn_b;     /* c_attn [3C,C], [3C] */
    mt_tensor *proj_w, *proj_b;     /* attn.c_proj [C,C], [C] */
    mt_tensor *ln_2_w, *ln_2_b;
    mt_tensor *fc_w, *fc_b;         /* mlp.c_fc [4C,C], [4C] */
    mt_tensor *fc2_w, *fc2_b;       /* mlp.c_proj [C,4C], [C] */
} charlm_block;

typedef struct charlm_model {
    charlm_config cfg;
    bool has_bias;                  /* any .bias tensor was present */
    bool tied;                      /* one of lm_head.weight and wte is missing:
                                       the head is wte */
    uint32_t *vocab;                /* [vocab_size] code points, by token id */
    mt_tensor *wte, *wpe;           /* [V,C], [block_size,C] */
    charlm_block *blocks;           /* [n_layer] */
    mt_tensor *ln_f_w, *ln_f_b;
    mt_tensor *head;                /* [V,C]: lm_head.weight, or wte */
    /* private: the code-point -> token lookup */
    int32_t ascii_[128];            /* token of each ASCII code point, or -1 */
    uint32_t *sorted_cp_;           /* [vocab_size] code points, ascending … */
    int32_t *sorted_id_;            /* … and their tokens */
} charlm_model;

/* Load and validate the model in `weights`: the metadata (decimal sizes
 * without sign, spaces or leading zeros, n_layer >= 0 and the others >= 1,
 * n_embd divisible by n_head, a vocab of distinct characters, no tensor of a
 * block past n_layer) and the shape of every tensor it needs. On failure *out is NULL and mt_last_error()
 * names the key or tensor with the expected and found values. The model
 * borrows tensors from `weights`: keep it open until charlm_model_free(). */
mt_status charlm_model_new(const mt_safetensors *weights, charlm_model **out);

/* Free the model (NULL is ignored). */
void charlm_model_free(charlm_model *m);

/* The token of code point cp, or -1 if the vocabulary lacks it. */
int32_t charlm_token(const charlm_model *m, uint32_t cp);

/* ---- running it -------------------------------------------------------------- */

/* A sequence in progress: the KV cache (n_layer × block_size positions) and
 * every buffer a forward pass needs, allocated once. */
typedef struct charlm_state charlm_state;

/* A state for `m` at position 0. MT_ERR_OUT_OF_MEMORY / MT_ERR_OVERFLOW if
 * the buffers do not fit. */
mt_status charlm_state_new(const charlm_model *m, charlm_state **out);

/* The model the state runs. */
const charlm_model *charlm_state_model(const charlm_state *s);

/* Free the state (NULL is ignored). */
void charlm_state_free(charlm_state *s);

/* Forget the sequence: the next forward starts at position 0. */
void charlm_state_reset(charlm_state *s);

/* Number of positions already in the KV cache. */
int64_t charlm_state_pos(const charlm_state *s);

/* Run tokens[0..n) at positions pos..pos+n-1, attending to the cached
 * positions before them, and append their keys and values to the cache.
 * *logits points at [n, vocab] floats (all_logits) or the last position's
 * [vocab] only, valid until the next call on this state. Fails (state
 * unchanged) with MT_ERR_INVALID_ARGUMENT for n < 1, a token outside the
 * vocabulary, or pos + n > block_size. No heap allocation. */
mt_status charlm_forward(charlm_state *s, const int32_t *tokens, int64_t n,
                         bool all_logits, const float **logits);

#endif
