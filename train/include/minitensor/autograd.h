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
 * data and gradient and outlive any tape.
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
    bool is_param_;
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

/* A value over your tensor `t` that needs no gradient (inputs, labels). The
 * tape does not copy t: keep it alive and unchanged until the next reset. */
mt_status mt_tape_constant(mt_tape *tape, const mt_tensor *t, mt_value **out);

/* ---- ops (shapes as the plain ops in ops.h / view.h) ------------------------ */

/* a + b, a - b, a * b with NumPy broadcasting; gradients are summed back to
 * each input's shape. */
mt_status mt_tape_add(mt_tape *tape, mt_value *a, mt_value *b, mt_value **out);
mt_status mt_tape_sub(mt_tape *tape, mt_value *a, mt_value *b, mt_value **out);
mt_status mt_tape_mul(mt_tape *tape, mt_value *a, mt_value *b, mt_value **out);
/* s * x. */
mt_status mt_tape_mul_scalar(mt_tape *tape, mt_value *x, float s, mt_value **out);
/* max(x, 0); the gradient is 0 where x <= 0, as torch.relu. */
mt_status mt_tape_relu(mt_tape *tape, mt_value *x, mt_value **out);

/* numpy.matmul for a [M,K] or [B…,M,K] and b [K,N] or [B…,K,N] (batch dims
 * broadcast); transposed views of either are used in place. */
mt_status mt_tape_matmul(mt_tape *tape, mt_value *a, mt_value *b, mt_value **out);

/* x [N,in] · w + bias, w [in,out] (Keras layout, or a transposed view of a
 * PyTorch [out,in] weight), bias [out] or NULL; act fused (NONE or RELU). */
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

/* mt_maxpool2d / mt_avg_pool2d on a tape (ceil_mode, padding, dilation and
 * count_include_pad as the forward). The max's gradient goes to the first
 * maximum of each window (a NaN wins), as torch's. */
mt_status mt_tape_maxpool2d(mt_tape *tape, mt_value *x, const mt_pool2d_params *params,
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
} mt_cross_entropy_options;

/* torch.nn.functional.cross_entropy(logits [N,C], target [N] I32/I64 class
 * indices). options may be NULL (mean, no smoothing). A target outside
 * 0..C-1 is an error naming the row and the value. */
mt_status mt_tape_cross_entropy(mt_tape *tape, mt_value *logits, const mt_tensor *target,
                                const mt_cross_entropy_options *options, mt_value **out);

/* torch.nn.functional.binary_cross_entropy_with_logits(x, target) and
 * mse_loss(x, target): target F32, x's shape. */
mt_status mt_tape_bce_with_logits(mt_tape *tape, mt_value *x, const mt_tensor *target,
                                  mt_reduction reduction, mt_value **out);
mt_status mt_tape_mse_loss(mt_tape *tape, mt_value *x, const mt_tensor *target,
                           mt_reduction reduction, mt_value **out);

#ifdef __cplusplus
}
#endif
#endif
