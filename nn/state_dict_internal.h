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

/* A Keras transposed convolution (Conv1DTranspose, Conv2DTranspose,
 * Conv3DTranspose) over `dims` spatial dims, its options per dim in order
 * (d, h, w; 0 is any kernel size, a stride or dilation of 1). */
typedef struct mt_nn_keras_tconv {
    int dims;                      /* 1, 2 or 3 */
    mt_padding padding;            /* VALID or SAME */
    bool has_output_padding;       /* else output_padding must be 0 */
    int64_t size[3], stride[3], dilation[3], output_padding[3];
    int64_t in_channels, out_channels;   /* 0: any */
} mt_nn_keras_tconv;

/* The kernel (k..., out, in) and bias under ld's prefix, checked against c,
 * as PyTorch's weight (in, out, k...) (a permuted view) *w and bias *b, and
 * Keras' output size as PyTorch's pads: before, after and output_padding
 * (extra) per dim; c's strides and dilations resolved. Fails naming the
 * `kind`'s load or ld's layer; on failure *w and *b are NULL. */
NN_INTERNAL mt_status mt_nn_keras_tconv_load(const char *kind, const mt_nn_loader *ld,
                                             mt_nn_keras_tconv *c, int64_t before[3],
                                             int64_t after[3], int64_t extra[3],
                                             mt_tensor **w, mt_tensor **b);

#endif
