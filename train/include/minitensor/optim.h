/* minitensor/optim.h — optimizers with PyTorch's update rules, gradient
 * clipping and learning-rate schedules.
 *
 *     mt_optimizer_options o = mt_optimizer_defaults(MT_OPTIMIZER_ADAM);
 *     o.lr = 1e-3f;
 *     mt_optimizer *opt;
 *     mt_optimizer_new(&o, params, n_params, &opt);
 *     for (each batch) {
 *         …record the loss on a tape, mt_tape_backward…
 *         mt_optimizer_step(opt);        // params -= update(grad)
 *         mt_optimizer_zero_grad(opt);
 *     }
 *     mt_optimizer_free(opt);
 *
 * The updates are torch.optim's (1.13, single-tensor form) in F32:
 *   SGD:   g = grad + wd·p; buf = g on the first step, else
 *          momentum·buf + (1−dampening)·g; g = g + momentum·buf (Nesterov)
 *          or buf (momentum ≠ 0); p −= lr·g.
 *   Adam:  g = grad + wd·p; m = β1·m + (1−β1)·g; v = β2·v + (1−β2)·g²;
 *          p −= lr/(1−β1^t) · m / (√v/√(1−β2^t) + eps).
 *   AdamW: p ·= 1 − lr·wd, then Adam without the wd term.
 * The optimizer keeps pointers to the parameters (they must outlive it) and
 * owns its state (moments, momentum buffers), which checkpoints read and
 * write through mt_optimizer_state_at.
 */
#ifndef MINITENSOR_OPTIM_H
#define MINITENSOR_OPTIM_H

#include <stddef.h>
#include <stdint.h>

#include "minitensor/autograd.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum mt_optimizer_kind {
    MT_OPTIMIZER_SGD = 0,
    MT_OPTIMIZER_ADAM,
    MT_OPTIMIZER_ADAMW,
    MT_OPTIMIZER_KIND_COUNT
} mt_optimizer_kind;

typedef struct mt_optimizer_options {
    mt_optimizer_kind kind;
    float lr;              /* >= 0 */
    float weight_decay;    /* >= 0 */
    float momentum;        /* SGD: >= 0 */
    float dampening;       /* SGD */
    bool nesterov;         /* SGD: needs momentum > 0 and dampening 0 */
    float beta1, beta2;    /* Adam(W): in [0, 1) */
    float eps;             /* Adam(W): >= 0 */
} mt_optimizer_options;

typedef struct mt_optimizer mt_optimizer;

/* torch.optim's defaults for kind: SGD lr 0.01 (torch has no default: pick
 * yours), momentum 0; Adam lr 1e-3, betas (0.9, 0.999), eps 1e-8, weight
 * decay 0; AdamW the same with weight decay 1e-2. */
mt_optimizer_options mt_optimizer_defaults(mt_optimizer_kind kind);

/* An optimizer over n_params parameters (values from mt_param_new). Fails on
 * invalid options (the message names the field), NULL or non-parameter
 * values, a parameter given twice (or with its shadow), or allocation
 * failure. */
mt_status mt_optimizer_new(const mt_optimizer_options *options, mt_value *const *params,
                           int n_params, mt_optimizer **out);
void mt_optimizer_free(mt_optimizer *opt);

/* One update of every parameter from its gradient. As torch.optim skips a
 * parameter whose grad is None, a parameter no backward has reached and
 * whose gradient is all zero is left alone (no weight decay; its state and
 * step count unchanged); Adam's bias correction and SGD's first momentum
 * step count each parameter's own updates, as torch's state['step']. */
mt_status mt_optimizer_step(mt_optimizer *opt);
/* Zero every parameter's gradient. */
void mt_optimizer_zero_grad(mt_optimizer *opt);

/* The options the optimizer runs with (lr as last set). */
mt_optimizer_options mt_optimizer_options_get(const mt_optimizer *opt);

/* The learning rate used by the next step (schedules set it each step). */
mt_status mt_optimizer_lr_set(mt_optimizer *opt, float lr);
float mt_optimizer_lr_get(const mt_optimizer *opt);

/* Steps taken so far; set when restoring a checkpoint (it sets every
 * parameter's own count, Adam's t, to steps: 0..2^62-1, as a checkpoint's). */
int64_t mt_optimizer_steps_get(const mt_optimizer *opt);
mt_status mt_optimizer_steps_set(mt_optimizer *opt, int64_t steps);

/* The optimizer's state as named tensors, for checkpoints: for parameter
 * "w", "w.exp_avg" and "w.exp_avg_sq" (Adam, AdamW) or "w.momentum_buffer"
 * (SGD with momentum). The tensors belong to the optimizer: read them, or
 * copy saved values into them (mt_tensor_copy_into). A momentum buffer is
 * used from the first step on only once steps > 0. */
size_t mt_optimizer_state_count(const mt_optimizer *opt);
mt_status mt_optimizer_state_at(const mt_optimizer *opt, size_t index,
                                const char **name, mt_tensor **tensor);

/* torch.nn.utils.clip_grad_norm_: if the global L2 norm of all gradients
 * exceeds max_norm, scale every gradient by max_norm / (norm + 1e-6); a NaN
 * norm makes every gradient NaN, as torch's (parameters optimizer_step
 * skips are left alone). total_norm (may be NULL) gets the norm before
 * clipping. */
mt_status mt_grad_clip_norm(mt_value *const *params, int n_params, float max_norm,
                            float *total_norm);

/* Learning rate at `step` (0-based):
 * step decay (torch StepLR): base · gamma^floor(step / step_size);
 * cosine with linear warmup (nanoGPT's get_lr): base·(step+1)/(warmup+1)
 * during warmup, then a cosine from base down to min_lr at total_steps, and
 * min_lr after. Invalid arguments give NaN. */
float mt_lr_step_decay(float base, int64_t step, int64_t step_size, float gamma);
float mt_lr_cosine_warmup(float base, int64_t step, int64_t warmup, int64_t total_steps,
                          float min_lr);

#ifdef __cplusplus
}
#endif
#endif
