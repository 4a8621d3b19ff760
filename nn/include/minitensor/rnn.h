/* minitensor/rnn.h — recurrent layers for inference: LSTM, GRU and the
 * Elman RNN (tanh, ReLU, …), as PyTorch's nn.LSTM / nn.GRU / nn.RNN and
 * Keras' LSTM / GRU / SimpleRNN (and Bidirectional around them) compute
 * them, from zero initial states or from states given as inputs.
 *
 *     // PyTorch: nn.LSTM(8, 32, num_layers=2, batch_first=True), then
 *     //          a Linear on out[:, -1]
 *     const mt_state_dict sd = {file, MT_FRAMEWORK_PYTORCH};
 *     mt_lstm_load(&sd, "rnn", &(mt_rnn_options){
 *                      .output = MT_RNN_RETURN_LAST_STEP}, &l);
 *     mt_sequential_add(model, l);      // [N,L,8] -> [N,32]
 *
 * Layout. Input x [N, L, F] (batch first: Keras, and PyTorch's
 * batch_first=True), any strides. A PyTorch model built with the default
 * batch_first=False has the same weights: give it your [L, N, F] data as
 * the view mt_permute(x, {1, 0, 2}) (no copy), and read its sequence
 * output as [N, L, H·D]. (There is no time-major option: a model splits
 * large batches along dim 0, which must be the batch.)
 *
 * Output (.output; D = 2 if bidirectional, else 1; H·D is H for a
 * .merge other than CONCAT, and h's H is P for an LSTM with proj_size):
 *   MT_RNN_RETURN_SEQUENCES   (the zero default) every step [N, L, H·D]:
 *                             PyTorch's `out`, Keras' return_sequences=True;
 *                             a bidirectional layer gives, at step t, the
 *                             forward state after x[0..t] and the backward
 *                             one after x[L-1..t] (PyTorch's concat and
 *                             Keras' Bidirectional(merge_mode='concat'));
 *   MT_RNN_RETURN_FINAL_STATE [N, H·D]: each direction's state after the
 *                             whole sequence: Keras' return_sequences=False
 *                             (also under Bidirectional), PyTorch's
 *                             torch.cat([h_n[-2], h_n[-1]], 1) (h_n[-1] if
 *                             unidirectional);
 *   MT_RNN_RETURN_LAST_STEP   [N, H·D]: PyTorch's out[:, -1]. The same as
 *                             FINAL_STATE for one direction; bidirectional,
 *                             the backward half is its state after x[L-1]
 *                             only;
 *   MT_RNN_RETURN_CELL_STATE  [N, H·D], LSTM only: each direction's cell
 *                             state c after the whole sequence (Keras'
 *                             return_state=True's last output, PyTorch's
 *                             c_n[-1]). An encoder whose h and c both feed
 *                             a decoder is one layer with ALL;
 *   MT_RNN_RETURN_H_N         [N, layers·D, H]: every layer's and
 *                             direction's final h (PyTorch's h_n, batch
 *                             first: h_n.permute(1, 0, 2));
 *   MT_RNN_RETURN_C_N         [N, layers·D, H], LSTM only: PyTorch's c_n
 *                             the same way. Both fit the state inputs
 *                             below: a model run one step at a time (text
 *                             generation) feeds them back;
 *   MT_RNN_RETURN_ALL         all of the above from one run: [N, K], each
 *                             sample's outputs packed in one row (the
 *                             states, then the steps: K = K0 + L·S, K0
 *                             fixed by the weights, S the step width
 *                             H·D). Take each out with a layer of
 *                             mt_rnn_output_new (below), a view of the row,
 *                             no copy: PyTorch's `out, (h_n, c_n) =
 *                             lstm(x)` and Keras' return_sequences=True,
 *                             return_state=True (also Bidirectional's
 *                             five outputs) are one layer run once:
 *
 *     mt_lstm_load(&sd, "rnn", &(mt_rnn_options){
 *                      .output = MT_RNN_RETURN_ALL}, &l);
 *     mt_graph_add(g, "lstm", l, 1, &x, &all);           // [N, K]
 *     mt_rnn_output_new(l, MT_RNN_RETURN_SEQUENCES,
 *                       MT_RNN_DIRECTION_BOTH, &o);       // out [N, L, H·D]
 *     mt_graph_add(g, "out", o, 1, &all, &y);
 *     mt_rnn_output_new(l, MT_RNN_RETURN_H_N, MT_RNN_DIRECTION_BOTH, &o);
 *     mt_graph_add(g, "h_n", o, 1, &all, &h_n);          // [N, layers·D, H]
 *     // … C_N the same; mark y, h_n, c_n as outputs
 *
 * Initial states. In a graph the layer takes one input (the sequence,
 * zero states) or, for an LSTM, three (sequence, h0, c0), for a GRU or
 * RNN two (sequence, h0); a masked layer's mask comes right after the
 * sequence (see Masks). Each state is [N, layers·D, H] (PyTorch's h0
 * [layers·D, N, H] as the view mt_permute(h0, {1, 0, 2})) or [N,
 * layers·D·H]: a Keras initial_state=[h, c] of one layer is [N, H] each,
 * and a FINAL_STATE / CELL_STATE output fits a one-layer decoder's input
 * as it is. Layer k's direction d starts from the entry k·D + d.
 *
 * Masks (.mask KEEP or IGNORE): sequences of different lengths in one
 * batch. The layer then takes the mask [N, L] (BOOL or any integer
 * dtype, any strides) as its second input, right after the sequence and
 * before h0 (c0): (x, mask), (x, mask, h0) or (x, mask, h0, c0). At a
 * masked step each direction keeps its state (h and c carry over, the
 * step's input is skipped), so the final states are those after the last
 * kept step, the backward direction starts from its initial state at the
 * last kept step, and a fully masked row keeps its initial state. This is
 * Keras' Embedding(mask_zero=True) -> LSTM / GRU / SimpleRNN /
 * Bidirectional (KEEP; the mask from mt_padding_mask_new(0, KEEP, …) on
 * the ids, padding='pre' or 'post'), and PyTorch's pack_padded_sequence(x,
 * lengths, batch_first=True, enforce_sorted=False) on right-padded x (KEEP
 * with mask[n, t] = t < lengths[n]; h_n / c_n and pad_packed_sequence's
 * output, whose padded steps are zeros). Masked steps output zeros, or
 * with .mask_repeat the direction's last output (Keras' plain LSTM: at
 * padding='post' it repeats the last valid h; at 'pre' the leading
 * padding is zeros either way). FINAL_STATE, CELL_STATE, H_N and C_N are
 * the states; LAST_STEP is the sequence output at step L-1 (zeros where
 * that step is masked, as pad_packed_sequence's out[:, -1]). ALL's
 * outputs are these same ones.
 *
 * Weights are copied at construction into one layout ((in, out) matrices,
 * PyTorch's gate order, the two biases summed where the math allows), in
 * F32 whatever their dtype: the file may be closed once the layer exists.
 * Each forward needs scratch of about N·L·(G·H + 2·H·D) floats (G = 4 for
 * LSTM, 3 for GRU, 1 for RNN), which a model places in its workspace.
 *
 * PyTorch's nn.LSTM(proj_size=P) (p.weight_hr_l<k>) is loaded: h, the
 * outputs and h0 / H_N are P wide (P·D for two directions), c, c0, C_N
 * and CELL_STATE stay H wide. Keras' Bidirectional(merge_mode='sum',
 * 'mul', 'ave') is .merge, go_backwards=True .go_backwards, activation= /
 * recurrent_activation= the options of those names; none of them shows
 * in the weights, so set them as the model was built. merge_mode=None and
 * a Bidirectional's merged states are refused (see .merge).
 *
 * PyTorch's dropout= between layers does nothing at inference, nor here.
 * Keras' stateful=True carries each batch's final states into the next
 * call: run the layer with the state inputs and take the states as
 * outputs (FINAL_STATE and CELL_STATE, or H_N and C_N, from one layer
 * with ALL), fed back into the next call; the flag itself is not an
 * option. Not supported: left-padded batches packed by PyTorch
 * (pack_padded_sequence takes the first lengths[n] steps: right-pad them,
 * or mask the front and accept Keras' semantics: state carried over the
 * padding), Keras 2's hard_sigmoid (see .recurrent_activation) and
 * activations not in mt_rnn_activation.
 */
#ifndef MINITENSOR_RNN_H
#define MINITENSOR_RNN_H

#include <stdbool.h>
#include <stdint.h>

#include "minitensor/nn.h"

#ifdef __cplusplus
extern "C" {
#endif

/* What a recurrent layer returns (see the top of this header). */
typedef enum mt_rnn_return {
    MT_RNN_RETURN_SEQUENCES = 0,
    MT_RNN_RETURN_FINAL_STATE,
    MT_RNN_RETURN_LAST_STEP,
    MT_RNN_RETURN_CELL_STATE,
    MT_RNN_RETURN_H_N,
    MT_RNN_RETURN_C_N,
    MT_RNN_RETURN_ALL
} mt_rnn_return;

/* Which direction's final state mt_rnn_output_new takes. */
typedef enum mt_rnn_direction {
    MT_RNN_DIRECTION_BOTH = 0,   /* as the output is described above */
    MT_RNN_DIRECTION_FORWARD,
    MT_RNN_DIRECTION_BACKWARD
} mt_rnn_direction;

/* How a bidirectional layer joins its two directions' outputs (Keras'
 * Bidirectional(merge_mode=…); see .merge below). */
typedef enum mt_rnn_merge {
    MT_RNN_MERGE_CONCAT = 0,   /* [fwd, bwd] along the last dim: H·2 wide */
    MT_RNN_MERGE_SUM,          /* fwd + bwd: H wide */
    MT_RNN_MERGE_MUL,          /* fwd ⊙ bwd */
    MT_RNN_MERGE_AVE,          /* (fwd + bwd) / 2 */
    MT_RNN_MERGE_NONE          /* merge_mode=None, two outputs: refused (see .merge) */
} mt_rnn_merge;

/* A Keras cell's activation or recurrent_activation (see .activation). */
typedef enum mt_rnn_activation {
    MT_RNN_ACTIVATION_DEFAULT = 0,   /* tanh (activation), sigmoid (recurrent) */
    MT_RNN_ACTIVATION_TANH,
    MT_RNN_ACTIVATION_SIGMOID,
    MT_RNN_ACTIVATION_HARD_SIGMOID,  /* Keras 3's relu6(x + 3) / 6 */
    MT_RNN_ACTIVATION_RELU,
    MT_RNN_ACTIVATION_LINEAR         /* the identity */
} mt_rnn_activation;

/* Options (a zeroed struct, or NULL, means "all defaults"):
 *   input_size     expected F, or 0 for "whatever the weights say";
 *   hidden_size    expected H, or 0;
 *   num_layers     stacked layers (PyTorch's num_layers), or 0: 1 for the
 *                  constructors, what the file holds for the loaders;
 *   bidirectional  true: two directions per layer (the loaders also find
 *                  them in the file without it);
 *   output         MT_RNN_RETURN_SEQUENCES, _FINAL_STATE, _LAST_STEP,
 *                  _H_N, (LSTM) _CELL_STATE, _C_N, or _ALL (every one
 *                  of them, see mt_rnn_output_new);
 *   act            mt_rnn_*: the nonlinearity, MT_ACTIVATION_TANH (or
 *                  NONE, the default) or MT_ACTIVATION_RELU (PyTorch's
 *                  nonlinearity='relu', Keras' SimpleRNN(activation=
 *                  'relu')); must be NONE for LSTM and GRU (and when
 *                  .activation is set);
 *   reset_before   GRU: Keras' reset_after=False, n = tanh(W_n x + b_n +
 *                  U_n (r ⊙ h)). The default (false) is PyTorch's and
 *                  Keras' reset_after=True, n = tanh(W_n x + b_in + r ⊙
 *                  (U_n h + b_hn)). mt_gru_load reads it from Keras' bias
 *                  shape ([3H]: reset_after=False, [2, 3H]: True); set it
 *                  only for a Keras GRU without bias (a PyTorch state
 *                  dict's GRU refuses it);
 *   mask           MT_MASK_MODE_KEEP (Keras: nonzero = the step counts)
 *                  or _IGNORE (nonzero = padding): the layer takes a mask
 *                  [N, L] (see "Masks" above); NONE (the default): no mask;
 *   mask_repeat    with a mask: a masked step outputs the direction's
 *                  last output (zeros before its first kept step), as
 *                  Keras' plain LSTM / GRU / SimpleRNN(return_sequences=
 *                  True) do; false (the default): zeros, as PyTorch's
 *                  pad_packed_sequence and Keras' Bidirectional;
 *   merge          bidirectional: how SEQUENCES, FINAL_STATE and LAST_STEP
 *                  join the two directions (Keras' merge_mode): CONCAT
 *                  (the default, H·2 wide), SUM, MUL or AVE (H wide,
 *                  elementwise). The states (CELL_STATE, H_N, C_N) are
 *                  never merged (Keras returns a Bidirectional's states
 *                  apart): with a merge other than CONCAT they are refused
 *                  (MT_ERR_INVALID_ARGUMENT), load them with CONCAT or
 *                  take them from ALL (which keeps them apart). NONE
 *                  (merge_mode=None: two outputs) is MT_ERR_UNSUPPORTED: a
 *                  layer has one output; load with CONCAT and split it in
 *                  two with mt_narrow_new(-1, 0, H) and mt_narrow_new(-1,
 *                  H, H), which is what Keras returns (or, from ALL, two
 *                  views: mt_rnn_output_new's directions). One direction: only
 *                  CONCAT;
 *   go_backwards   Keras' go_backwards=True: the layer reads the sequence
 *                  (and mask) from the last step to the first, and its
 *                  SEQUENCES output is in that reversed order, as Keras
 *                  returns it. One direction only (Keras refuses a
 *                  Bidirectional around such a layer);
 *   activation     the cell's activation (Keras' activation=): LSTM's g
 *                  and tanh(c), GRU's candidate, the RNN's nonlinearity;
 *                  DEFAULT is tanh;
 *   recurrent_activation  LSTM's i, f, o and GRU's r, z gates (Keras'
 *                  recurrent_activation=); DEFAULT is sigmoid; must be
 *                  DEFAULT for an RNN. Keras 2's hard_sigmoid (0.2·x +
 *                  0.5, clipped) is not Keras 3's HARD_SIGMOID: an old
 *                  model that used it is not supported (nothing in the
 *                  weights shows it). */
typedef struct mt_rnn_options {
    int64_t input_size;
    int64_t hidden_size;
    int num_layers;
    bool bidirectional;
    mt_rnn_return output;
    mt_activation act;
    bool reset_before;
    mt_mask_mode mask;
    bool mask_repeat;
    mt_rnn_merge merge;
    bool go_backwards;
    mt_rnn_activation activation, recurrent_activation;
} mt_rnn_options;

/* One layer and direction's weights as PyTorch stores them: w_ih
 * [G·H, in] (in: F for the first layer, H·D above it), w_hh [G·H, H],
 * b_ih and b_hh [G·H] or both NULL (bias=False), with PyTorch's gate
 * order: LSTM i, f, g, o (G = 4); GRU r, z, n (G = 3); RNN (G = 1);
 * w_hr NULL, or for an LSTM with proj_size P (every set or none) [P, H]:
 * h = w_hr·(o ⊙ tanh c) is P wide, so w_hh is [G·H, P], the next layer's
 * in is P·D and the outputs and h states are P wide (c stays H). Any
 * views, any float dtype. */
typedef struct mt_rnn_weights {
    const mt_tensor *w_ih, *w_hh, *b_ih, *b_hh, *w_hr;
} mt_rnn_weights;

/* An LSTM / GRU / RNN layer from `n` weight sets in PyTorch's order
 * (layer 0, layer 0 reverse if bidirectional, layer 1, …): n must be
 * num_layers·D. x [N, L, F] -> [N, L, H·D] or [N, H·D] (options.output).
 * Copies the weights (see above). Fails with MT_ERR_SHAPE naming the
 * tensor, its shape and the one expected ("lstm wi: w_hh wh [16,5],
 * expected [20,5] (PyTorch (gates*hidden, input or hidden) with 4 gates,
 * input 3, hidden 5; layer 0)": H is w_hh's, or w_hr's with proj_size),
 * MT_ERR_DTYPE on a weight that is not F32, F16, BF16 or F64,
 * MT_ERR_INVALID_ARGUMENT (or, for merge NONE, MT_ERR_UNSUPPORTED) on a bad
 * option or count; *out is NULL then. The layer is named after the
 * first w_ih ("lstm wi"). */
mt_status mt_lstm_new(int n, const mt_rnn_weights *weights, const mt_rnn_options *options,
                      mt_layer **out);
mt_status mt_gru_new(int n, const mt_rnn_weights *weights, const mt_rnn_options *options,
                     mt_layer **out);
mt_status mt_rnn_new(int n, const mt_rnn_weights *weights, const mt_rnn_options *options,
                     mt_layer **out);

/* A layer taking one output out of the packed [N, K] output of `rnn`, a
 * layer of mt_lstm_* / mt_gru_* / mt_rnn_new or _load with .output =
 * MT_RNN_RETURN_ALL: `output` is any other mt_rnn_return, its shape the
 * one described at the top of this header (L is found from K). With
 * `direction` FORWARD or BACKWARD it is that direction's part: its final
 * h [N, W] (FINAL_STATE) or c [N, H] (CELL_STATE) of the last layer,
 * never merged, or with CONCAT its half of SEQUENCES [N, L, W] or
 * LAST_STEP [N, W] (not H_N, C_N). Keras' Bidirectional(return_state=
 * True) returns [seq, h_fwd, c_fwd, h_bwd, c_bwd] (GRU, SimpleRNN: [seq,
 * h_fwd, h_bwd]), the sequences (or, with return_sequences=False,
 * FINAL_STATE) merged as .merge says; merge_mode=None returns [seq_fwd,
 * seq_bwd, …]: SEQUENCES FORWARD and BACKWARD of a CONCAT layer. The output is a view of its input (no copy, no
 * workspace). Copies what it needs from rnn: rnn may be freed or owned
 * by a model. Fails (*out NULL) with MT_ERR_INVALID_ARGUMENT on NULLs, a
 * layer that is not recurrent or not ALL, an output or direction out of
 * range or that the layer lacks (CELL_STATE / C_N of a GRU, BACKWARD of
 * one direction, one direction's SEQUENCES of a merging layer); as a layer, on an input that is not F32 [N, K] of
 * that layer's packing (MT_ERR_SHAPE / MT_ERR_DTYPE). */
mt_status mt_rnn_output_new(const mt_layer *rnn, mt_rnn_return output,
                            mt_rnn_direction direction, mt_layer **out);

/* The same from a state dict, layer "p":
 *   PyTorch  p.weight_ih_l<k>, p.weight_hh_l<k>, p.bias_ih_l<k>,
 *            p.bias_hh_l<k>, and the same with suffix _reverse for the
 *            backward direction; both biases or neither. num_layers 0 and
 *            bidirectional false take what the file holds; an LSTM's
 *            p.weight_hr_l<k> (proj_size) in every layer or none (in a
 *            GRU's or RNN's: MT_ERR_FORMAT). An nn.LSTMCell / GRUCell /
 *            RNNCell "p" (p.weight_ih, p.weight_hh, p.bias_ih, p.bias_hh)
 *            is one layer: the cell called on each step in turn, from
 *            zero states or from h0 (c0) [N, H] given as inputs (an
 *            RNNCell(nonlinearity='relu') needs .act). A Python loop
 *            `h, c = cell(x[:, t], (h, c))` is one graph run per step on
 *            x[:, t] as [N, 1, F] (mt_narrow(x, 1, t, 1)), the new h and
 *            c (.output = ALL: its FINAL_STATE and CELL_STATE) fed back
 *            as the next step's inputs.
 *   Keras    p/<cell>/kernel [F, G·H], p/<cell>/recurrent_kernel [H, G·H],
 *            p/<cell>/bias ([G·H]; GRU reset_after=True: [2, G·H]) or
 *            none, where <cell> is lstm_cell, gru_cell or simple_rnn_cell
 *            (Keras 3's and 2's variable paths; p/kernel is found too).
 *            Under Bidirectional "p": p/forward_<name>/<cell>/… and
 *            p/backward_<name>/<cell>/… (or, for a backward_layer= of
 *            its own name, the one other layer under p). Gate order i, f, c, o (LSTM) and
 *            z, r, h (GRU), reordered on load. One layer per load (Keras
 *            stacks layers itself).
 * Missing tensors are MT_ERR_NOT_FOUND naming them (also a PyTorch layer
 * missing between others: l0 and l2 without l1); integer weights
 * MT_ERR_DTYPE; NaN or infinite ones MT_ERR_FORMAT; shapes as above. */
mt_status mt_lstm_load(const mt_state_dict *weights, const char *prefix,
                       const mt_rnn_options *options, mt_layer **out);
mt_status mt_gru_load(const mt_state_dict *weights, const char *prefix,
                      const mt_rnn_options *options, mt_layer **out);
mt_status mt_rnn_load(const mt_state_dict *weights, const char *prefix,
                      const mt_rnn_options *options, mt_layer **out);

#ifdef __cplusplus
}
#endif
#endif
