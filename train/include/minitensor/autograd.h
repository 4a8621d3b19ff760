/* minitensor/autograd.h — reverse-mode automatic differentiation on a tape.
 *
 * A training step records the ops it runs on a tape, then walks the tape
 * backwards once to get the gradient of a scalar loss with respect to every
 * parameter (a value that requires a gradient):
 *
 *     mt_tape *tape;                 mt_tape_new(&tape);
 *     mt_value *w, *b;               mt_param_new(w0, "w", &w);
 *                                    mt_param_new(b0, "b", &b);
 *     for (each batch) {
 *         mt_tape_reset(tape);       // forget the last step's values
 *         mt_value *x, *h, *loss;
 *         mt_tape_constant(tape, images, &x);            // [N,784]
 *         mt_tape_linear(tape, x, w, b, &h);             // [N,10]
 *         mt_tape_cross_entropy(tape, h, labels, NULL, &loss);
 *         mt_tape_backward(tape, loss);   // w->grad, b->grad += d loss/d ·
 *         …optimizer step (optim.h), then mt_param_zero_grad…
 *     }
 *     mt_tape_free(tape); mt_param_free(w); mt_param_free(b);
 *
 * VALUES. An mt_value is a tensor (`data`) and, once backward has reached
 * it, its gradient (`grad`, same shape, contiguous F32). Values made by
 * mt_tape_* calls belong to the tape and stay valid until mt_tape_reset or
 * mt_tape_free. Parameters (mt_param_new) belong to you: they own their
 * data and gradient and outlive any tape. An op takes parameters and the
 * values of its own tape recorded since its last reset; a value of another
 * tape, or one from before a reset, is refused (MT_ERR_INVALID_ARGUMENT)
 * rather than giving it a gradient its own tape never passes on.
 *
 * GRADIENTS ACCUMULATE, as in PyTorch: backward adds into every parameter's
 * grad; mt_param_zero_grad clears it. A value whose inputs need no gradient
 * records nothing, so running a model on constants only (inference) costs
 * nothing beyond the ops themselves — or call the plain ops without a tape.
 *
 * MEMORY. The tape keeps its memory across resets: a step that records the
 * same ops on the same shapes as the step before allocates nothing.
 *
 * ERRORS follow error.h: every call returns mt_status; on failure the tape
 * records nothing and *out is left untouched. A tape is used by one thread.
 */
#ifndef MINITENSOR_AUTOGRAD_H
#define MINITENSOR_AUTOGRAD_H

#include <stdbool.h>
#include <stdint.h>

#include "minitensor/conv.h"
#include "minitensor/ops.h"
#include "minitensor/random.h"
#include "minitensor/tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct mt_tape mt_tape;

typedef struct mt_value {
    mt_tensor *data;        /* F32 (indices: I32/I64); any strides */
    mt_tensor *grad;        /* d loss / d data, or NULL before backward */
    bool requires_grad;     /* a gradient flows to this value */

    /* private */
    bool grad_live_;        /* grad holds a gradient (else: zero) */
    bool grad_seen_;        /* a backward has reached it (torch: grad is not None) */
    bool is_param_;
    bool is_shadow_;        /* shares another parameter's data */
    const mt_tape *tape_;   /* the tape that made it (NULL: a parameter) */
    uint64_t generation_;   /* the tape's reset count when it was made */
} mt_value;

/* ---- the tape --------------------------------------------------------------- */

mt_status mt_tape_new(mt_tape **out);
/* Free the tape and every value made on it. NULL is ignored. */
void mt_tape_free(mt_tape *tape);
/* Forget every value recorded since the last reset; keep the memory. */
void mt_tape_reset(mt_tape *tape);
/* Training mode (the default) makes dropout drop; evaluation mode passes
 * values through. */
void mt_tape_training_set(mt_tape *tape, bool training);
bool mt_tape_training_get(const mt_tape *tape);

/* With gradients off (torch.no_grad), ops compute values and record
 * nothing: evaluation passes cost what the plain ops cost. On by default. */
void mt_tape_grad_set(mt_tape *tape, bool enabled);
bool mt_tape_grad_get(const mt_tape *tape);

/* d loss / d v for every value v the loss depends on that requires a
 * gradient. `loss` must hold one element; its own gradient is 1. The tape
 * may be walked once per recording: record again (after a reset) before the
 * next backward. */
mt_status mt_tape_backward(mt_tape *tape, mt_value *loss);

/* ---- parameters and constants -------------------------------------------- */

/* A parameter: a copy of `init` (F32, any strides; copied to contiguous
 * memory the parameter owns), named `name` (may be NULL), with a zero
 * gradient of the same shape. Free with mt_param_free. */
mt_status mt_param_new(const mt_tensor *init, const char *name, mt_value **out);
void mt_param_free(mt_value *param);
/* Set the parameter's gradient to zero. */
void mt_param_zero_grad(mt_value *param);

/* Data parallelism: each thread records its shard of a batch on its own tape
 * with its own shadows of the parameters, then one thread sums the shadows'
 * gradients into the parameters in a fixed order (so the result does not
 * depend on which thread finished first) and steps the optimizer.
 *
 * A shadow of `param`: a parameter whose data IS param's data (not a copy;
 * param must outlive the shadow and the optimizer updates both) with its own
 * zero gradient. Free with mt_param_free (which leaves the data alone). */
mt_status mt_param_shadow_new(mt_value *param, mt_value **out);
/* param's gradient += Σ scale[i] · shadows[i]'s gradient, for i = 0..n-1 in
 * that order, then the shadows' gradients are zeroed. Every shadow must be a
 * shadow of param (MT_ERR_INVALID_ARGUMENT otherwise; nothing changes). */
mt_status mt_param_grad_reduce(mt_value *param, mt_value *const *shadows, const float *scale,
                               int n);

/* A value over your tensor `t` that needs no gradient (inputs, labels). The
 * tape does not copy t: keep it alive and unchanged until the next reset. */
mt_status mt_tape_constant(mt_tape *tape, const mt_tensor *t, mt_value **out);

/* ---- ops (shapes as the plain ops in ops.h / view.h) ------------------------ */

/* a + b, a - b, a * b with NumPy broadcasting; gradients are summed back to
 * each input's shape. */
mt_status mt_tape_add(mt_tape *tape, mt_value *a, mt_value *b, mt_value **out);
mt_status mt_tape_sub(mt_tape *tape, mt_value *a, mt_value *b, mt_value **out);
mt_status mt_tape_mul(mt_tape *tape, mt_value *a, mt_value *b, mt_value **out);

/* numpy.matmul for a [M,K] or [B…,M,K] and b [K,N] or [B…,K,N] (batch dims
 * broadcast); transposed views of either are used in place. */
mt_status mt_tape_matmul(mt_tape *tape, mt_value *a, mt_value *b, mt_value **out);

/* act(x [N,in] · w + bias), w [in,out] (Keras layout, or a transposed view
 * of a PyTorch [out,in] weight), bias [out] or NULL; act any mt_activation,
 * its derivative the unary op's (mt_tape_relu, mt_tape_gelu, … below). */
mt_status mt_tape_linear(mt_tape *tape, mt_value *x, mt_value *w, mt_value *bias,
                         mt_activation act, mt_value **out);

/* Views: the gradient flows back through the same view. */
mt_status mt_tape_reshape(mt_tape *tape, mt_value *x, int rank, const int64_t *shape,
                          mt_value **out);
mt_status mt_tape_transpose(mt_tape *tape, mt_value *x, int dim0, int dim1,
                            mt_value **out);

/* Sum or mean of every element: a scalar (rank 0). */
mt_status mt_tape_sum_all(mt_tape *tape, mt_value *x, mt_value **out);
mt_status mt_tape_mean_all(mt_tape *tape, mt_value *x, mt_value **out);

/* softmax / log_softmax along dim. */
mt_status mt_tape_softmax(mt_tape *tape, mt_value *x, int dim, mt_value **out);
mt_status mt_tape_log_softmax(mt_tape *tape, mt_value *x, int dim, mt_value **out);

/* Dropout (torch.nn.functional.dropout): in training mode each element is
 * zeroed with probability p and the rest scaled by 1/(1-p), drawing from
 * rng; in evaluation mode (or p == 0) the value passes through. 0 <= p < 1. */
mt_status mt_tape_dropout(mt_tape *tape, mt_value *x, float p, mt_rng *rng,
                          mt_value **out);

/* ---- convolution and pooling (conv.h / pool.h shapes) ------------------------ */

/* act(conv2d(x, kernel) + bias) as mt_conv2d (every layout, stride, padding,
 * dilation and groups it supports); act NONE or RELU (others:
 * MT_ERR_UNSUPPORTED). Gradients for x, kernel (in its own layout) and bias
 * [Cout] (may be NULL); the backward is im2col + GEMMs on tape scratch. */
mt_status mt_tape_conv2d(mt_tape *tape, mt_value *x, mt_value *kernel, mt_value *bias,
                         const mt_conv2d_params *params, mt_value **out);

/* mt_max_pool2d / mt_avg_pool2d on a tape (ceil_mode, padding, dilation and
 * count_include_pad as the forward). The max's gradient goes to the first
 * maximum of each window (a NaN wins), as torch's. */
mt_status mt_tape_max_pool2d(mt_tape *tape, mt_value *x, const mt_pool2d_params *params,
                            mt_value **out);
mt_status mt_tape_avg_pool2d(mt_tape *tape, mt_value *x, const mt_pool2d_params *params,
                             mt_value **out);

/* mt_global_avg_pool2d on a tape: [N,H,W,C] -> [N,C] (or keepdims). Flatten
 * a contiguous NHWC value with mt_tape_reshape (a view, Keras' order). */
mt_status mt_tape_global_avg_pool2d(mt_tape *tape, mt_value *x, mt_data_layout layout,
                                    bool keepdims, mt_value **out);

/* ---- losses (scalars, rank 0) ----------------------------------------------- */

typedef enum mt_reduction {
    MT_REDUCTION_MEAN = 0,  /* torch's default */
    MT_REDUCTION_SUM
} mt_reduction;

typedef struct mt_cross_entropy_options {
    mt_reduction reduction;
    float label_smoothing;  /* 0 <= ls <= 1, as torch */
    /* torch's ignore_index (its default: -100): rows whose target equals it
     * add nothing, get a zero gradient, and a mean is over the other rows
     * (NaN when there are none). Off unless use_ignore_index. */
    bool use_ignore_index;
    int64_t ignore_index;
} mt_cross_entropy_options;

/* torch.nn.functional.cross_entropy(logits [N,C], target [N] I32/I64 class
 * indices). options may be NULL (mean, no smoothing, no ignored index). A
 * target outside 0..C-1 (other than the ignored index) is an error naming
 * the row and the value. The losses copy their target: free or refill it
 * once the call returns. */
mt_status mt_tape_cross_entropy(mt_tape *tape, mt_value *logits, const mt_tensor *target,
                                const mt_cross_entropy_options *options, mt_value **out);

/* torch.nn.functional.binary_cross_entropy_with_logits(x, target) and
 * mse_loss(x, target): target F32, x's shape. */
mt_status mt_tape_bce_with_logits(mt_tape *tape, mt_value *x, const mt_tensor *target,
                                  mt_reduction reduction, mt_value **out);
mt_status mt_tape_mse_loss(mt_tape *tape, mt_value *x, const mt_tensor *target,
                           mt_reduction reduction, mt_value **out);
/* binary_cross_entropy_with_logits(x, target, pos_weight=pos_weight): the
 * positive term weighted, pos_weight F32 broadcasting to x's shape (e.g. [C]
 * for x [N,C]; NULL: 1), copied like the target. */
mt_status mt_tape_bce_with_logits_pos_weight(mt_tape *tape, mt_value *x, const mt_tensor *target,
                                             const mt_tensor *pos_weight, mt_reduction reduction,
                                             mt_value **out);

/* ==== the differentiable op set ======================================== */

/* ---- unary ops and activations (generated from tensor/unary_ops.h) ----------
 * y = f(x), x any F32 view, y x's shape (contiguous); the gradient is
 * torch's backward formula: relu'(0) = 0, abs'(0) = 0, clamp' = 1 at the
 * bounds and 0 outside, gelu / gelu_tanh as torch's gelu_backward,
 * pow_scalar' = 0 for the exponent 0. The math is the plain op's (ops.h). */
mt_status mt_tape_relu(mt_tape *tape, mt_value *x, mt_value **out);
mt_status mt_tape_gelu(mt_tape *tape, mt_value *x, mt_value **out);
mt_status mt_tape_gelu_tanh(mt_tape *tape, mt_value *x, mt_value **out);
mt_status mt_tape_tanh(mt_tape *tape, mt_value *x, mt_value **out);
mt_status mt_tape_sigmoid(mt_tape *tape, mt_value *x, mt_value **out);
mt_status mt_tape_silu(mt_tape *tape, mt_value *x, mt_value **out);
mt_status mt_tape_neg(mt_tape *tape, mt_value *x, mt_value **out);
mt_status mt_tape_abs(mt_tape *tape, mt_value *x, mt_value **out);
mt_status mt_tape_exp(mt_tape *tape, mt_value *x, mt_value **out);
mt_status mt_tape_log(mt_tape *tape, mt_value *x, mt_value **out);
mt_status mt_tape_sqrt(mt_tape *tape, mt_value *x, mt_value **out);
mt_status mt_tape_rsqrt(mt_tape *tape, mt_value *x, mt_value **out);
mt_status mt_tape_square(mt_tape *tape, mt_value *x, mt_value **out);
mt_status mt_tape_reciprocal(mt_tape *tape, mt_value *x, mt_value **out);
mt_status mt_tape_softplus(mt_tape *tape, mt_value *x, mt_value **out);
mt_status mt_tape_hardswish(mt_tape *tape, mt_value *x, mt_value **out);
mt_status mt_tape_leaky_relu(mt_tape *tape, mt_value *x, float negative_slope,
                             mt_value **out);
mt_status mt_tape_elu(mt_tape *tape, mt_value *x, float alpha, mt_value **out);
mt_status mt_tape_add_scalar(mt_tape *tape, mt_value *x, float s, mt_value **out);
mt_status mt_tape_mul_scalar(mt_tape *tape, mt_value *x, float s, mt_value **out);
mt_status mt_tape_pow_scalar(mt_tape *tape, mt_value *x, float exponent, mt_value **out);
mt_status mt_tape_clamp(mt_tape *tape, mt_value *x, float min, float max, mt_value **out);
/* sin, cos, erf, log1p, expm1; floor, ceil, round, trunc and sign pass a
 * zero gradient, as torch (also at their jumps). */
mt_status mt_tape_sin(mt_tape *tape, mt_value *x, mt_value **out);
mt_status mt_tape_cos(mt_tape *tape, mt_value *x, mt_value **out);
mt_status mt_tape_erf(mt_tape *tape, mt_value *x, mt_value **out);
mt_status mt_tape_log1p(mt_tape *tape, mt_value *x, mt_value **out);
mt_status mt_tape_expm1(mt_tape *tape, mt_value *x, mt_value **out);
mt_status mt_tape_floor(mt_tape *tape, mt_value *x, mt_value **out);
mt_status mt_tape_ceil(mt_tape *tape, mt_value *x, mt_value **out);
mt_status mt_tape_round(mt_tape *tape, mt_value *x, mt_value **out);
mt_status mt_tape_trunc(mt_tape *tape, mt_value *x, mt_value **out);
mt_status mt_tape_sign(mt_tape *tape, mt_value *x, mt_value **out);

/* ---- binary ops (NumPy broadcasting; gradients summed back to each input) --- */

/* a / b: da = g/b, db = -g·a/b². */
mt_status mt_tape_div(mt_tape *tape, mt_value *a, mt_value *b, mt_value **out);
/* torch.maximum / minimum: the gradient goes to the larger (smaller) input;
 * on a tie it splits evenly, half to each (as torch). */
mt_status mt_tape_maximum(mt_tape *tape, mt_value *a, mt_value *b, mt_value **out);
mt_status mt_tape_minimum(mt_tape *tape, mt_value *a, mt_value *b, mt_value **out);
/* a ** b: da = g·b·a^(b-1) (0 where b == 0), db = g·a^b·log(a) (0 where
 * a == 0 and b >= 0), as torch. */
mt_status mt_tape_pow(mt_tape *tape, mt_value *a, mt_value *b, mt_value **out);
/* cond ? a : b (torch.where), cond a BOOL tensor (kept by pointer until the
 * next reset); a gets g where cond holds, b elsewhere. */
mt_status mt_tape_where(mt_tape *tape, const mt_tensor *cond, mt_value *a, mt_value *b,
                        mt_value **out);

/* ---- reductions ------------------------------------------------------------
 * Over the dims dims[0..n_dims-1] (negative dims count from the end; each
 * at most once), or over every dim when n_dims is 0; keepdim keeps them as
 * size 1. The output is contiguous; sums run in double. */
mt_status mt_tape_sum(mt_tape *tape, mt_value *x, const int *dims, int n_dims,
                      bool keepdim, mt_value **out);
mt_status mt_tape_mean(mt_tape *tape, mt_value *x, const int *dims, int n_dims,
                       bool keepdim, mt_value **out);
/* torch.var / torch.std(x, dims, correction=c): Σ(x - mean)² / max(0, N - c)
 * (so inf, or NaN for 0/0, once c >= N, as torch). */
mt_status mt_tape_var(mt_tape *tape, mt_value *x, const int *dims, int n_dims,
                      float correction, bool keepdim, mt_value **out);
mt_status mt_tape_std(mt_tape *tape, mt_value *x, const int *dims, int n_dims,
                      float correction, bool keepdim, mt_value **out);
/* log Σ exp(x), computed around the max; d x = g·exp(x - out). An empty
 * reduced dim is MT_ERR_SHAPE. */
mt_status mt_tape_logsumexp(mt_tape *tape, mt_value *x, const int *dims, int n_dims,
                            bool keepdim, mt_value **out);
/* torch.amax / torch.amin: the gradient splits evenly over the elements
 * equal to the extreme (as torch). An empty reduced dim is MT_ERR_SHAPE. */
mt_status mt_tape_amax(mt_tape *tape, mt_value *x, const int *dims, int n_dims,
                       bool keepdim, mt_value **out);
mt_status mt_tape_amin(mt_tape *tape, mt_value *x, const int *dims, int n_dims,
                       bool keepdim, mt_value **out);
/* torch.max / torch.min(x, dim, keepdim).values: the gradient goes to the
 * index torch returns, the first extreme along dim (NaN counts as extreme).
 * An empty dim is MT_ERR_SHAPE. */
mt_status mt_tape_max(mt_tape *tape, mt_value *x, int dim, bool keepdim, mt_value **out);
mt_status mt_tape_min(mt_tape *tape, mt_value *x, int dim, bool keepdim, mt_value **out);

/* ---- normalisation ---------------------------------------------------------
 * weight and bias may be NULL (no affine part); when given they are F32 of
 * the shape below. y = (x - mean)/sqrt(var + eps)·weight + bias, var the
 * biased variance, as torch.nn.functional. eps must be finite and >= 0,
 * batch norm's momentum in [0, 1] (MT_ERR_INVALID_ARGUMENT). */
/* F.layer_norm(x, x.shape[-n_dims:], weight, bias, eps): over the last n_dims
 * dims; weight/bias have those dims' shape. */
mt_status mt_tape_layer_norm(mt_tape *tape, mt_value *x, int n_dims, mt_value *weight,
                             mt_value *bias, float eps, mt_value **out);
/* torch.nn.RMSNorm: x / sqrt(mean(x²) over the last n_dims + eps) · weight */
mt_status mt_tape_rms_norm(mt_tape *tape, mt_value *x, int n_dims, mt_value *weight,
                           float eps, mt_value **out);
/* F.batch_norm(x [N, C, *], running_mean, running_var [C] (two contiguous F32
 * tensors, or both NULL), weight, bias [C], training = mt_tape_training_get(tape),
 * momentum, eps). Training mode normalises with the batch's statistics and
 * then updates running_mean/var in place (momentum m: r = (1-m)·r + m·batch,
 * the batch variance unbiased, as torch); it needs more than one value per
 * channel. Evaluation mode uses the running statistics (the batch's when
 * they are NULL). */
mt_status mt_tape_batch_norm(mt_tape *tape, mt_value *x, mt_tensor *running_mean,
                             mt_tensor *running_var, mt_value *weight, mt_value *bias,
                             float momentum, float eps, mt_value **out);
/* F.group_norm(x [N, C, *], groups, weight, bias [C], eps); groups divides C. */
mt_status mt_tape_group_norm(mt_tape *tape, mt_value *x, int groups, mt_value *weight,
                             mt_value *bias, float eps, mt_value **out);

/* ---- gathers (index.h semantics) -------------------------------------------
 * The index tensors (I32/I64, any strides) are kept by pointer until the next
 * reset. The backward scatter-adds: a row or element picked several times
 * gets the sum of the gradients. */
/* F.embedding(indices [*], weight [num, dim]) -> [*, dim] */
mt_status mt_tape_embedding(mt_tape *tape, const mt_tensor *indices, mt_value *weight,
                            mt_value **out);
/* torch.index_select(x, dim, index [K]) */
mt_status mt_tape_index_select(mt_tape *tape, mt_value *x, int dim,
                               const mt_tensor *index, mt_value **out);
/* torch.take_along_dim(x, indices, dim), same rank, other dims broadcast */
mt_status mt_tape_take_along_dim(mt_tape *tape, mt_value *x, const mt_tensor *indices,
                                 int dim, mt_value **out);

/* ---- views (view.h semantics; the output shares x's data) -------------------
 * The gradient flows back through the same view: a slice's lands on its
 * elements, an expanded dim's copies are summed. */
mt_status mt_tape_narrow(mt_tape *tape, mt_value *x, int dim, int64_t start,
                         int64_t length, mt_value **out);
mt_status mt_tape_slice(mt_tape *tape, mt_value *x, int dim, int64_t start, int64_t stop,
                        int64_t step, mt_value **out);
/* torch.Tensor.expand / broadcast_to */
mt_status mt_tape_expand(mt_tape *tape, mt_value *x, int rank, const int64_t *shape,
                         mt_value **out);
mt_status mt_tape_squeeze(mt_tape *tape, mt_value *x, int dim, mt_value **out);
mt_status mt_tape_unsqueeze(mt_tape *tape, mt_value *x, int dim, mt_value **out);
/* perm has x's rank entries */
mt_status mt_tape_permute(mt_tape *tape, mt_value *x, const int *perm, mt_value **out);
/* torch.split(x, split_size, dim) / torch.chunk(x, chunks, dim): fills
 * outs[0..*count-1] with narrow views (each may feed different ops; their
 * gradients add up in x's); fails, recording nothing, if more than max_outs
 * pieces would be made. */
mt_status mt_tape_split(mt_tape *tape, mt_value *x, int64_t split_size, int dim,
                        int max_outs, mt_value **outs, int *count);
mt_status mt_tape_chunk(mt_tape *tape, mt_value *x, int chunks, int dim, int max_outs,
                        mt_value **outs, int *count);
/* torch.cat(xs[0..count-1], dim), 1 <= count <= 64: a new tensor; each input
 * gets its slice of the gradient. */
mt_status mt_tape_concat(mt_tape *tape, mt_value *const *xs, int count, int dim,
                         mt_value **out);

/* A contiguous copy of x (its gradient passes straight back): for a reshape
 * of a view that no view can express, e.g. [B,H,T,D] -> [B,T,H·D]. */
mt_status mt_tape_contiguous(mt_tape *tape, mt_value *x, mt_value **out);

/* ---- attention ---------------------------------------------------------------
 * F.scaled_dot_product_attention(q [.., Lq, E], k [.., Lk, E], v [.., Lk, Ev],
 * mask, is_causal, scale) -> [.., Lq, Ev]; batch dims broadcast as matmul.
 * mask: NULL, BOOL (true: attend) or F32 (added to the scores), broadcast to
 * [.., Lq, Lk], kept by pointer until the next reset. causal: the top-left
 * lower triangle (torch's is_causal). scale 0 means 1/sqrt(E). A row with no
 * key to attend to gives NaN, as torch. Recorded as matmul, scale, mask,
 * softmax and matmul, so the scores [.., Lq, Lk] stay on the tape. */
mt_status mt_tape_scaled_dot_product_attention(mt_tape *tape, mt_value *q, mt_value *k,
                                               mt_value *v, const mt_tensor *mask,
                                               bool causal, float scale, mt_value **out);

/* ---- recurrent layers (train/ops_rnn.c) ------------------------------------
 * torch.nn.RNN / LSTM / GRU with batch_first=True, one layer and one
 * direction per call (stack calls for more layers; for the reverse
 * direction run x reversed in time with mt_tape_index_select:
 * docs/training.md). The weights are PyTorch's weight_ih_l0, weight_hh_l0,
 * bias_ih_l0, bias_hh_l0 as they are in a state_dict, gates stacked in
 * torch's order: G = 4 (LSTM: i, f, g, o),
 * 3 (GRU: r, z, n with n = tanh(W_in x + b_in + r·(W_hn h + b_hn))), 1 (RNN).
 * x [N, L, F] is any view; h0, c0 [N, H] (or torch's [1, N, H]) or NULL
 * (zeros). *out gets the hidden state of every step [N, L, H] (contiguous);
 * h_n, c_n (NULL: not wanted) the last step's [N, H] (views; like every
 * value they die at the next reset: copy them out to carry the state on).
 * Gradients reach x, the weights, the biases, h0 and c0. The forward runs
 * the recurrence once and keeps the gates; the backward is BPTT over them
 * ((2·G + 2)·N·L·H floats of tape memory for the LSTM and GRU, 2·N·L·H for
 * the RNN). Errors name the op and the tensor ("weight_hh [12,4] must
 * be …"); a failed call records nothing. */
typedef struct mt_tape_rnn_weights {
    mt_value *weight_ih;   /* [G·H, F] */
    mt_value *weight_hh;   /* [G·H, H] */
    mt_value *bias_ih;     /* [G·H] or NULL (torch's bias=False: both NULL) */
    mt_value *bias_hh;     /* [G·H] or NULL */
} mt_tape_rnn_weights;

/* nn.LSTM: x [N,L,F], h0/c0 [N,H] or NULL -> out [N,L,H], h_n, c_n [N,H]. */
mt_status mt_tape_lstm(mt_tape *tape, mt_value *x, const mt_tape_rnn_weights *weights,
                       mt_value *h0, mt_value *c0, mt_value **out, mt_value **h_n,
                       mt_value **c_n);
/* nn.GRU: x [N,L,F], h0 [N,H] or NULL -> out [N,L,H], h_n [N,H]. */
mt_status mt_tape_gru(mt_tape *tape, mt_value *x, const mt_tape_rnn_weights *weights,
                      mt_value *h0, mt_value **out, mt_value **h_n);
/* nn.RNN(nonlinearity): MT_ACTIVATION_TANH or _RELU; shapes as the GRU's. */
mt_status mt_tape_rnn(mt_tape *tape, mt_value *x, const mt_tape_rnn_weights *weights,
                      mt_value *h0, mt_activation nonlinearity, mt_value **out,
                      mt_value **h_n);

#ifdef __cplusplus
}
#endif
#endif
