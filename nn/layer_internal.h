/* layer_internal.h (nn-private) — what every layer implements, and what the
 * Sequential container needs to know about layers. */
#ifndef MT_NN_LAYER_INTERNAL_H
#define MT_NN_LAYER_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>

#include "minitensor/nn.h"

/* Shared by nn/ sources, linked into the static library (tests), not
 * exported from the shared one. */
#if defined(__GNUC__) || defined(__clang__)
#define NN_INTERNAL __attribute__((visibility("hidden")))
#else
#define NN_INTERNAL
#endif

/* A shape being inferred through the layers. */
typedef struct nn_shape {
    int rank;
    int64_t dim[MT_MAX_RANK];
} nn_shape;

struct nn_layer_ops {
    /* Output shape for input shape `in`. On mismatch, fail with a message
     * that is a predicate about the layer, with `from` naming where the
     * input comes from: "expects 784 input features, <from> gives 28". */
    mt_status (*infer)(const mt_layer *l, const nn_shape *in, nn_shape *out,
                       const char *from);
    /* true: forward fills `out` as a view of `in` (no storage of its own);
     * false: `out` is an F32 tensor of the inferred shape to write into. */
    bool is_view;
    /* Compute. `fuse_relu`: also apply max(0, ·) (only Linear and Conv2D
     * accept it: see nn_fuses_relu). */
    mt_status (*forward)(const mt_layer *l, const mt_tensor *in,
                         bool fuse_relu, mt_tensor *out);
    /* Release what the layer holds besides the struct. (optional) */
    void (*release)(mt_layer *l);
};

typedef struct nn_linear {
    mt_tensor *weight;    /* as given (or converted to F32); one reference */
    mt_tensor *bias;      /* [out] F32 or NULL; one reference */
    mt_tensor w;          /* [in,out] view of weight (transposed if OUT_IN) */
} nn_linear;

typedef struct nn_conv2d {
    mt_tensor *kernel;    /* contiguous F32, as given or converted; one reference */
    mt_tensor *bias;      /* [out] F32 or NULL; one reference */
    mt_conv2d_params params;   /* strides resolved; activation as built */
} nn_conv2d;

struct mt_layer {
    const struct nn_layer_ops *ops;
    mt_layer_info info;           /* info.name points at `name` */
    char name[MT_NAME_MAX + 16];
    nn_linear linear;             /* MT_LAYER_LINEAR only */
    nn_conv2d conv;               /* MT_LAYER_CONV2D only */
    mt_pool2d_params pool;        /* MT_LAYER_MAXPOOL2D only (strides resolved) */
    bool owned;                   /* added to a model, which frees it */
};

/* True for the kinds whose forward can apply a following ReLU itself. */
static inline bool nn_fuses_relu(mt_layer_kind kind)
{
    return kind == MT_LAYER_LINEAR || kind == MT_LAYER_CONV2D;
}

/* A zeroed layer of `kind` named `name`; NULL (with the error set, naming
 * `op`) if out of memory. */
NN_INTERNAL mt_layer *nn_layer_alloc(const char *op, const struct nn_layer_ops *ops,
                                     mt_layer_kind kind, const char *name);

/* A library message without its leading operation name when that is
 * tensor_check_finite (the layer names itself instead). */
static inline const char *nn_error_detail(const char *message)
{
    static const char prefix[] = "tensor_check_finite: ";
    for (size_t i = 0; i + 1 < sizeof prefix; i++)
        if (message[i] != prefix[i])
            return message;
    return message + sizeof prefix - 1;
}

/* The `infer` of layers whose output has their input's shape. */
NN_INTERNAL mt_status nn_infer_same(const mt_layer *l, const nn_shape *in,
                                    nn_shape *out, const char *from);

#endif
