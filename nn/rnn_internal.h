/* rnn_internal.h (nn-private) — what the recurrent layer (rnn_layer.c),
 * its constructors (rnn_build.c) and loaders (rnn_load.c) share. */
#ifndef MT_NN_RNN_INTERNAL_H
#define MT_NN_RNN_INTERNAL_H

#include "layer_internal.h"
#include "minitensor/rnn.h"

typedef enum mt_nn_rnn_cell {
    MT_NN_RNN_CELL_LSTM = 0,
    MT_NN_RNN_CELL_GRU,
    MT_NN_RNN_CELL_ELMAN
} mt_nn_rnn_cell;

/* One layer and direction, packed. */
typedef struct rnn_cell {
    mt_tensor *wx;    /* [in, G·H] */
    mt_tensor *wh;    /* [H, G·H] */
    mt_tensor *bx;    /* [G·H]: b_ih + b_hh, except GRU's b_hn when reset after */
    mt_tensor *bhn;   /* [H]: that b_hn (GRU, reset after U_n h); else NULL */
    mt_tensor *wr;    /* [H, P]: LSTM proj_size's w_hr (in, out); else NULL */
    bool wh_finite;   /* wh has no NaN or inf: h·U of h = 0 is 0 (else NaN, as in PyTorch) */
} rnn_cell;

typedef struct rnn_state {
    mt_nn_rnn_cell cell;
    int64_t gates, in, hidden;
    int64_t width;         /* h's width: P with an LSTM's proj_size, else H */
    int layers, dirs;
    mt_rnn_return output;
    bool relu, reset_before;
    mt_mask_mode mask;     /* NONE: no mask input */
    bool mask_repeat;      /* masked steps repeat the last output, not zeros */
    mt_rnn_merge merge;    /* how the outputs of two directions join */
    bool go_backwards;     /* the layer reads x (and the mask) last step first */
    mt_rnn_activation act, rec_act;   /* resolved: never DEFAULT */
    bool plain;            /* act and rec_act are the cell's defaults (tanh or
                              relu for an RNN): the step kernels for those */
    rnn_cell c[];     /* layers·dirs, layer-major */
} rnn_state;

/* Where MT_RNN_RETURN_ALL's outputs lie in each sample's packed row of
 * `size` floats: h_n [layers·D, W] at h_n (0), c_n [layers·D, H] at c_n
 * (an LSTM's; else 0 wide), the last layer's two final h merged [W] at
 * merged (a bidirectional merge other than CONCAT; else 0 wide), then
 * the sequence [L, step] at seq (step W·D, or W merged). The states come
 * first: their places do not depend on L. */
typedef struct rnn_packing {
    int64_t h_n, c_n, merged, seq, step, size;
} rnn_packing;

/* The packing of a layer of these dims for sequences of len steps
 * (rnn_output.c; the sizes are bounded by the layer's infer). */
NN_INTERNAL rnn_packing mt_nn_rnn_packing(bool lstm, int layers, int dirs, int64_t width,
                                          int64_t hidden, mt_rnn_merge merge, int64_t len);

/* What every recurrent layer runs (rnn_layer.c); its state is an
 * rnn_state with layers·dirs cells. */
NN_INTERNAL extern const mt_layer_vtable mt_nn_rnn_vtable;

/* One step of each cell over nb rows (rnn_step.c), st's activations: p
 * the step's input projections x·W + b (row n at p + n·p_sn), r the
 * step's h·U [nb, G·H] (used as scratch: overwritten), h and c [nb, H]
 * the state, updated in place; an LSTM writes its o ⊙ act(c) into h,
 * which is h itself unless a projection follows. GRU, PyTorch's order
 * (reset after U_n h): bhn [H] is b_hn. Keras' reset_after=False is two
 * halves: the gates (r, z; z into r's z columns, tmp = r ⊙ h), then,
 * once r's n columns hold U_n·tmp, the update. */
NN_INTERNAL void mt_nn_lstm_step(const rnn_state *st, int64_t nb, const float *p,
                                 int64_t p_sn, float *r, float *h, float *c);
NN_INTERNAL void mt_nn_gru_step(const rnn_state *st, int64_t nb, const float *p, int64_t p_sn,
                                float *r, const float *bhn, float *h);
NN_INTERNAL void mt_nn_gru_before_gates(const rnn_state *st, int64_t nb, const float *p,
                                        int64_t p_sn, float *r, const float *h, float *tmp);
NN_INTERNAL void mt_nn_gru_before_update(const rnn_state *st, int64_t nb, const float *p,
                                         int64_t p_sn, float *r, float *h);
NN_INTERNAL void mt_nn_elman_step(const rnn_state *st, int64_t nb, const float *p,
                                  int64_t p_sn, float *r, float *h);

/* The layer of `cell` named `name` from n weight sets (layer-major, the
 * reverse direction after the forward one). keras: the matrices are
 * Keras' (in, out) kernels with Keras' gate order (GRU z, r, h), else
 * PyTorch's (out, in) with its own; the tensor names in messages are the
 * tensors' own. Options as the public constructors'. */
NN_INTERNAL mt_status mt_nn_rnn_build(mt_nn_rnn_cell cell, const char *name, int n,
                                      const mt_rnn_weights *w, bool keras,
                                      const mt_rnn_options *o, mt_layer **out);

#endif
