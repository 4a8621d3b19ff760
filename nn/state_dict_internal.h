/* state_dict_internal.h (nn-private) — what the state_dict loaders
 * (state_dict.c, state_dict_conv.c, state_dict_attention.c) share: one
 * load's framework names, and reading its tensors by them. */
#ifndef MT_NN_STATE_DICT_INTERNAL_H
#define MT_NN_STATE_DICT_INTERNAL_H

#include <stdbool.h>

#include "layer_internal.h"

/* The longest tensor name the loaders look up: Keras nests layers in name
 * scopes, and NASNetMobile's variable paths reach 143 bytes. */
#define MT_NN_KEY_MAX 512

/* The names one framework gives a layer's tensors. */
typedef struct mt_nn_naming {
    const char *sep;   /* between the layer's name and the tensor's */
    const char *weight, *bias, *mean, *var, *gamma, *beta, *table;
    mt_weight_layout linear;
    mt_kernel_layout kernel;
    float bn_eps;
} mt_nn_naming;

/* One load: the framework's names, and the layer as errors name it
 * ("linear fc1"). */
typedef struct mt_nn_loader {
    const mt_state_dict *sd;
    const mt_nn_naming *nm;
    bool keras;
    const char *prefix;
    char layer[MT_NN_KEY_MAX + 32];
} mt_nn_loader;

/* Checks the arguments of mt_<kind>_load (out set to NULL first) and
 * fills ld. */
NN_INTERNAL mt_status mt_nn_load_begin(const char *kind, const mt_state_dict *sd,
                                       const char *prefix, mt_layer **out, mt_nn_loader *ld);

/* The name of tensor prefix<sep>suffix into key; whether it is in the
 * file. Keras 2 (tf.keras) names variables "dense/kernel:0": a Keras name
 * missing from the file is looked up with ":0" too. */
NN_INTERNAL bool mt_nn_load_resolve(const mt_nn_loader *ld, const char *suffix,
                                    char key[MT_NN_KEY_MAX]);

/* Whether tensor `key` (a whole name) is in the file; a Keras one is looked
 * up as Keras 2's "key:0" too, and key then extended. */
NN_INTERNAL bool mt_nn_load_exists(const mt_nn_loader *ld, char key[MT_NN_KEY_MAX]);

/* Tensor `key` (a whole name, resolved as mt_nn_load_exists does) into *t,
 * checked to be a finite float; if !required, a missing one is NULL. */
NN_INTERNAL mt_status mt_nn_load_key(const mt_nn_loader *ld, char key[MT_NN_KEY_MAX],
                                     bool required, mt_tensor **t);

/* Tensor prefix<sep>suffix into *t, checked to be a finite float; if
 * !required, a missing one is NULL. A PyTorch weight may come as a weight
 * norm pair (weight_g and weight_v). */
NN_INTERNAL mt_status mt_nn_load_fetch(const mt_nn_loader *ld, const char *suffix,
                                       bool required, mt_tensor **t);

/* Tensors a and b (each required or not) into *ta, *tb: both set, or on
 * failure both NULL. */
NN_INTERNAL mt_status mt_nn_load_pair(const mt_nn_loader *ld, const char *a, bool a_required,
                                      const char *b, bool b_required, mt_tensor **ta,
                                      mt_tensor **tb);

/* Keras' output length for one dim of a transposed conv, (in - 1)·stride
 * + c, as PyTorch's pads and output_padding: c is stride ('same') or
 * max(k, stride) ('valid') without output_padding, else k % 2 + op
 * ('same') or k + op ('valid'), k the dilated kernel. TensorFlow crops
 * k - c rows when c < k, the odd one at the bottom; PyTorch adds rows
 * beyond k at the bottom. False if k or k + op overflows (a dilation
 * near INT64_MAX): the loaders refuse it. */
NN_INTERNAL bool mt_nn_keras_tpad(mt_padding padding, int64_t k, int64_t dil,
                                  int64_t stride, bool has_op, int64_t op, int64_t *before,
                                  int64_t *after, int64_t *extra);

#endif
