/* minitensor/attention.h — scaled dot-product attention and rotary
 * position embedding (RoPE, below) on F32 tensors.
 *
 *   out = softmax(scale * q·kᵀ + mask) · v
 *   q [..., Lq, E] · k [..., Lk, E] · v [..., Lk, Ev] -> out [..., Lq, Ev]
 *
 * The leading dims ("...", e.g. [batch, heads]) broadcast between q, k and
 * v (NumPy rules); out has the broadcast leading dims. Lq may differ from
 * Lk: a KV cache passes q of length 1 against k/v of length t.
 *
 * Options:
 *   mask   NULL, or BOOL (true = the key takes part, as torch) or F32 (added
 *          to the scores, e.g. -inf), broadcastable to [..., Lq, Lk] (its
 *          leading dims must not be larger than out's).
 *   causal query i sees keys j <= i + (Lk - Lq): aligned at the bottom
 *          right, so the last query sees every key — the KV-cache case. For
 *          Lq == Lk this is torch's is_causal=True; for Lq != Lk torch aligns
 *          top-left instead. Combined with mask if both are given.
 *   scale  multiplies q·kᵀ; 0 means 1/sqrt(E).
 *
 * A query row whose every key is masked out (or -inf) gives a row of zeros;
 * torch gives NaN there. NaN in the scores propagates (NaN row), as torch.
 * A NaN or inf in a row of v that a query does not see (masked, or after
 * it with causal): the fused path below never reads it; the matmul path
 * multiplies it by weight 0, a NaN row (torch's math backend: NaN too).
 *
 * Small problems (Lq*Lk*(E+Ev) <= 8192, e.g. a KV-cache step of one query
 * against 64 keys of 16 dims) run one fused pass per query row: scores in
 * blocks on the stack, online softmax with the max subtracted, the weighted
 * v rows accumulated straight into out — no heap at all. Larger ones compute
 * q·kᵀ and p·v with mt_matmul on views (its SIMD kernels are faster there;
 * measured by benches/bench_attention.c) with the [Lq, Lk] scores in a
 * per-thread buffer that is kept for reuse: the first call (or a larger
 * problem) allocates it, later calls allocate nothing (as matmul's own
 * packing buffers). Inputs may be any views (strided, broadcast); nothing
 * is copied. mt_X(…, &out) allocates a contiguous result; mt_X_into(…, out)
 * writes into a tensor you provide (F32, right shape, any strides but no
 * stride-0 dim) that must not overlap an input. On failure nothing is
 * written, except that an allocation failure inside the matmul path can
 * leave out partly written.
 */
#ifndef MINITENSOR_ATTENTION_H
#define MINITENSOR_ATTENTION_H

#include "minitensor/tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

/* torch.nn.functional.scaled_dot_product_attention(q, k, v, attn_mask=mask,
 * is_causal=causal, scale=scale) (bottom-right causal, zeros for fully
 * masked rows: see above). q, k, v rank >= 2; fails on E or Lk mismatch,
 * leading dims that do not broadcast, a mask of another dtype or shape. */
mt_status mt_scaled_dot_product_attention(const mt_tensor *q,
                                          const mt_tensor *k,
                                          const mt_tensor *v,
                                          const mt_tensor *mask, bool causal,
                                          float scale, mt_tensor **out);
mt_status mt_scaled_dot_product_attention_into(const mt_tensor *q,
                                               const mt_tensor *k,
                                               const mt_tensor *v,
                                               const mt_tensor *mask,
                                               bool causal, float scale,
                                               mt_tensor *out);

/* ---- rotary position embedding (RoPE) -----------------------------------------
 * Llama's, Mistral's, Qwen's, GPT-NeoX's position encoding of q and k: the
 * head dim (last) holds d/2 pairs (a, b); pair i at position p turns by
 * the angle p·theta^(-2i/d):
 *   a' = a·cos - b·sin,   b' = b·cos + a·sin.
 * x is any rank >= 2 with the head dim last and the positions along
 * seq_dim (negative from the end): -2 for Hugging Face's q/k [N, heads, L,
 * d] (after its transpose), -3 for llama2.c's and Meta's [N, L, heads, d]
 * (before it). Step t of x is at position offset + t.
 * Options (NULL, or zeroed fields: the defaults):
 *   pairing     which elements pair up (below); HALF is the default;
 *   theta       the base, > 0; 0 means 10000 (Llama 2's; Llama 3 uses
 *               500000, rope_theta in HF's config);
 *   offset      the position of step 0, >= 0: a KV-cache step that feeds
 *               token t alone passes offset t;
 *   rotary_dim  how many leading dims of the head dim turn (even); 0: all.
 *               The rest pass through (GPT-NeoX's, Phi's partial rotary;
 *               the frequencies then count over rotary_dim).
 *   scaling     Hugging Face's rope_scaling (below); zeroed: none.
 * The angles are computed in float32 as PyTorch's references do
 * (inv_freq = 1/theta^(2i/d) and p·inv_freq each rounded to float, then
 * cos and sin). */
typedef enum mt_rope_pairing {
    MT_ROPE_PAIRING_HALF = 0,    /* Hugging Face's rotate_half: (x[i], x[i + r/2]), r the
                                    rotated dims (its checkpoints' q/k rows are permuted
                                    for this) */
    MT_ROPE_PAIRING_INTERLEAVED  /* Meta's and llama2.c's complex pairs: (x[2i], x[2i+1])
                                    (GPT-J's rotate_every_two) */
} mt_rope_pairing;

/* rope_scaling of a Hugging Face config.json, by its "rope_type":
 *   LINEAR  "linear": every inv_freq divided by factor (positions
 *           interpolated);
 *   LLAMA3  "llama3" (Llama 3.1, 3.2, 3.3): with wavelen = 2π/inv_freq and
 *           lo = original_max_position / low_freq_factor, hi =
 *           original_max_position / high_freq_factor, a wavelength below
 *           hi keeps its inv_freq, one above lo is divided by factor, and
 *           between them s = (original_max_position / wavelen -
 *           low_freq_factor) / (high_freq_factor - low_freq_factor) blends
 *           (1 - s)·inv_freq/factor + s·inv_freq (in float32, in that order,
 *           as transformers' _compute_llama3_parameters and Meta's
 *           apply_scaling).
 * Fields: factor (both; finite, > 0: Llama 3.1's 8, 3.2's 32);
 * low_freq_factor, high_freq_factor, original_max_position (LLAMA3 only:
 * 0 means 1, 4 and 8192, Llama 3.1's values; high must be above low).
 * Not modelled: "dynamic" (NTK, which depends on the sequence length),
 * "yarn", "longrope". */
typedef enum mt_rope_scaling_type {
    MT_ROPE_SCALING_NONE = 0,
    MT_ROPE_SCALING_LINEAR,
    MT_ROPE_SCALING_LLAMA3
} mt_rope_scaling_type;

typedef struct mt_rope_scaling {
    mt_rope_scaling_type type;
    float factor;
    float low_freq_factor;
    float high_freq_factor;
    int64_t original_max_position;
} mt_rope_scaling;

typedef struct mt_rope_options {
    mt_rope_pairing pairing;
    float theta;
    int64_t offset;
    int64_t rotary_dim;
    mt_rope_scaling scaling;
} mt_rope_options;

/* RoPE of x (F32, rank >= 2, any view) with positions along seq_dim ->
 * out of x's shape. Fails (nothing written) on a NULL x, another dtype,
 * seq_dim out of range or the last dim, an odd rotary_dim or one past the
 * head dim, theta <= 0 or not finite, a negative offset, an unknown
 * pairing or scaling type, a scaling factor <= 0 or not finite, LLAMA3
 * frequency factors not 0 < low < high (finite), a negative
 * original_max_position, a theta or factor so small that a frequency or
 * the last position's angle overflows float; _into also on out of another shape or dtype, with a stride-0
 * dim, or overlapping x (out may be x itself, the same view: in place). */
mt_status mt_rotary_embedding(const mt_tensor *x, int seq_dim, const mt_rope_options *options,
                              mt_tensor **out);
mt_status mt_rotary_embedding_into(const mt_tensor *x, int seq_dim,
                                   const mt_rope_options *options, mt_tensor *out);

#ifdef __cplusplus
}
#endif
#endif
