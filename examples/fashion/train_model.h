/* train_model.h — the two models `fashion train` builds, as parameters and a
 * forward pass on a tape.
 *
 *   mlp: the MNIST example's net: Flatten → Dense 128 ReLU → Dropout 0.2 →
 *        Dense 10. Parameters d1_w [784,128], d1_b, d2_w [128,10], d2_b
 *        (Keras (in,out) layout, so `mnist eval --weights` reads them).
 *   cnn: the Fashion CNN (model.c): Conv 3×3×32 ReLU → MaxPool 2 → Conv
 *        3×3×64 ReLU → MaxPool 2 → Flatten → Dense 128 ReLU → Dropout 0.3 →
 *        Dense 10, NHWC with Keras HWIO kernels, names as model.c reads them.
 * Weights start as PyTorch's defaults (kaiming-uniform, biases U(±1/√fan_in))
 * drawn from the run's generator. */
#ifndef FASHION_TRAIN_MODEL_H
#define FASHION_TRAIN_MODEL_H

#include "minitensor/minitensor.h"

#define TRAIN_MAX_PARAMS 8

typedef struct train_model {
    const char *kind;                  /* "mlp" or "cnn" */
    int n_params;
    mt_value *params[TRAIN_MAX_PARAMS];
    float dropout;
} train_model;

/* A model of `kind` with freshly initialised weights. MT_ERR_INVALID_ARGUMENT
 * for an unknown kind. */
mt_status train_model_new(const char *kind, mt_rng *rng, train_model *m);
void train_model_free(train_model *m);

/* logits [B,10] of images [B,28,28] (F32 in 0..1) recorded on tape; dropout
 * draws from rng in training mode. */
mt_status train_model_forward(train_model *m, mt_tape *tape, mt_value *images, mt_rng *rng,
                              mt_value **logits);

#endif
