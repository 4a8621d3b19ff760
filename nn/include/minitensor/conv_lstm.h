/* minitensor/conv_lstm.h — Keras' ConvLSTM1D, ConvLSTM2D and ConvLSTM3D for
 * inference: an LSTM whose state is an image and whose matmuls are
 * convolutions (Shi et al. 2015), as in precipitation nowcasting and
 * video prediction models.
 *
 *     mt_layer *l;
 *     mt_conv_lstm_load(&sd, "conv_lstm2d", &(mt_conv_lstm_options){
 *                           .padding = MT_PADDING_SAME}, &l);
 *     // x [N, T, H, W, C] -> [N, T, H, W, F]
 *
 * Channels last, as Keras' default: x is [N, T, s..., C] with 1, 2 or 3
 * spatial dims s (ConvLSTM1D: [N,T,W,C], 2D: [N,T,H,W,C], 3D:
 * [N,T,D,H,W,C]). Each step t, with the kernel K [k..., C, 4F] and the
 * recurrent kernel U [k'..., F, 4F] split into Keras' gates i, f, c, o:
 *
 *     z = conv(x_t, K; strides, dilation, padding) + b + conv(h, U; SAME)
 *     i = ra(z_i)  f = ra(z_f)  o = ra(z_o)
 *     c = f ⊙ c + i ⊙ a(z_c)    h = o ⊙ a(c)
 *
 * with a = tanh and ra = sigmoid unless .activation / .recurrent_activation
 * say otherwise. h and c start at zero, or at the inputs h0 and c0
 * [N, o..., F] (Keras' initial_state=[h0, c0]) given after x; o... is the
 * input conv's output size (SAME: ceil(s / stride); VALID: floor((s - dk) /
 * stride) + 1). Masks are not supported. Keras' Bidirectional around the
 * layer: see .merge.
 *
 * Each step runs two convolutions on the conv2d / conv3d kernels
 * (ConvLSTM1D on conv2d over a height of 1) into scratch, then the LSTM's
 * gates pixel by pixel; nothing is allocated per step beyond what those
 * convolutions keep for reuse.
 */
#ifndef MINITENSOR_CONV_LSTM_H
#define MINITENSOR_CONV_LSTM_H

#include "minitensor/nn.h"
#include "minitensor/rnn.h"   /* mt_rnn_return, mt_rnn_activation */

#ifdef __cplusplus
extern "C" {
#endif

/* Options (a zeroed struct, or NULL, means "all defaults"):
 *   stride, dilation  per spatial dim in order (d, h, w; the first `rank`
 *                  entries), 0 meaning 1: Keras' strides= and
 *                  dilation_rate= of the input conv (the recurrent conv
 *                  always has stride 1, no dilation, SAME padding);
 *   padding        MT_PADDING_VALID (Keras' default) or MT_PADDING_SAME;
 *   output         MT_RNN_RETURN_SEQUENCES (the default; Keras'
 *                  return_sequences=True) [N, T, o..., F];
 *                  MT_RNN_RETURN_FINAL_STATE or _LAST_STEP (the same here:
 *                  return_sequences=False, and return_state's h) [N, o..., F];
 *                  MT_RNN_RETURN_CELL_STATE (return_state's c) [N, o..., F];
 *   go_backwards   Keras' go_backwards=True: the steps run from the last to
 *                  the first, and SEQUENCES is in that order, as Keras
 *                  returns it;
 *   activation, recurrent_activation  as mt_rnn_options' (DEFAULT: tanh
 *                  and sigmoid, Keras' defaults);
 *   merge          a Bidirectional (mt_conv_lstm_load finds one by its
 *                  p/forward_<name>/ and p/backward_<name>/ variables):
 *                  Keras' merge_mode, CONCAT (the default: [.., 2F]), SUM,
 *                  MUL or AVE. The backward direction runs the steps the
 *                  other way (go_backwards flipped) and its sequence is
 *                  turned back into time order, as Keras does; LAST_STEP
 *                  and FINAL_STATE merge both directions' last h. A
 *                  Bidirectional takes no initial state, and CELL_STATE
 *                  and merge_mode=None (NONE) are MT_ERR_UNSUPPORTED. */
typedef struct mt_conv_lstm_options {
    int64_t stride[3], dilation[3];
    mt_padding padding;
    mt_rnn_return output;
    bool go_backwards;
    mt_rnn_activation activation, recurrent_activation;
    mt_rnn_merge merge;
} mt_conv_lstm_options;

/* A ConvLSTM layer from Keras' kernel [k..., C, 4F] (rank + 2 dims, rank
 * 1..3 spatial), recurrent_kernel [k'..., F, 4F] (the same rank) and bias
 * [4F] or NULL (use_bias=False), gates in Keras' order i, f, c, o. Any
 * views and float dtypes (held as F32). x [N, T, s..., C] (and h0, c0)
 * -> see options.output. Fails with MT_ERR_SHAPE naming the tensors and
 * shapes, MT_ERR_DTYPE on a weight that is not a float,
 * MT_ERR_INVALID_ARGUMENT on a bad option; *out is NULL then. */
mt_status mt_conv_lstm_new(const mt_tensor *kernel, const mt_tensor *recurrent_kernel,
                           const mt_tensor *bias, const mt_conv_lstm_options *options,
                           mt_layer **out);

/* The same from Keras' variables p/conv_lstm_cell/kernel,
 * p/conv_lstm_cell/recurrent_kernel and p/conv_lstm_cell/bias (if any;
 * Keras 3's paths, p/kernel… and Keras 2's ":0" names are found too).
 * Keras only (a PyTorch state_dict: MT_ERR_UNSUPPORTED). A Bidirectional
 * "p" (Keras' p/forward_<name>/conv_lstm_cell/kernel …, and
 * p/backward_<name>/…) loads both directions, joined by options->merge.
 * Missing tensors are MT_ERR_NOT_FOUND naming them, NaN or infinite ones
 * MT_ERR_FORMAT. */
mt_status mt_conv_lstm_load(const mt_state_dict *weights, const char *prefix,
                            const mt_conv_lstm_options *options, mt_layer **out);

#ifdef __cplusplus
}
#endif
#endif
