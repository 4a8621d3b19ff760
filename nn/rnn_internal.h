/* rnn_internal.h (nn-private) — what the recurrent layer (rnn_layer.c) and
 * its loaders (rnn_load.c) share. */
#ifndef MT_NN_RNN_INTERNAL_H
#define MT_NN_RNN_INTERNAL_H

#include "layer_internal.h"
#include "minitensor/rnn.h"

typedef enum mt_nn_rnn_cell {
    MT_NN_RNN_CELL_LSTM = 0,
    MT_NN_RNN_CELL_GRU,
    MT_NN_RNN_CELL_ELMAN
} mt_nn_rnn_cell;

/* The layer of `cell` named `name` from n weight sets (layer-major, the
 * reverse direction after the forward one). keras: the matrices are
 * Keras' (in, out) kernels with Keras' gate order (GRU z, r, h), else
 * PyTorch's (out, in) with its own; the tensor names in messages are the
 * tensors' own. Options as the public constructors'. */
NN_INTERNAL mt_status mt_nn_rnn_build(mt_nn_rnn_cell cell, const char *name, int n,
                                      const mt_rnn_weights *w, bool keras,
                                      const mt_rnn_options *o, mt_layer **out);

#endif
