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
} rnn_cell;

typedef struct rnn_state {
    mt_nn_rnn_cell cell;
    int64_t gates, in, hidden;
    int layers, dirs;
    mt_rnn_return output;
    bool relu, reset_before;
    mt_mask_mode mask;     /* NONE: no mask input */
    bool mask_repeat;      /* masked steps repeat the last output, not zeros */
    rnn_cell c[];     /* layers·dirs, layer-major */
} rnn_state;

/* What every recurrent layer runs (rnn_layer.c); its state is an
 * rnn_state with layers·dirs cells. */
NN_INTERNAL extern const mt_layer_vtable mt_nn_rnn_vtable;

/* The layer of `cell` named `name` from n weight sets (layer-major, the
 * reverse direction after the forward one). keras: the matrices are
 * Keras' (in, out) kernels with Keras' gate order (GRU z, r, h), else
 * PyTorch's (out, in) with its own; the tensor names in messages are the
 * tensors' own. Options as the public constructors'. */
NN_INTERNAL mt_status mt_nn_rnn_build(mt_nn_rnn_cell cell, const char *name, int n,
                                      const mt_rnn_weights *w, bool keras,
                                      const mt_rnn_options *o, mt_layer **out);

#endif
