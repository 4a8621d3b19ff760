/* model.h — the Keras Fashion-MNIST CNN, rebuilt with minitensor's layers. */
#ifndef FASHION_MODEL_H
#define FASHION_MODEL_H

#include <stdint.h>

#include "minitensor/minitensor.h"

#define FASHION_SIDE 28
#define FASHION_CLASSES 10

/* Sequential([Input((28,28,1)),
 *             Conv2D(32, 3, activation='relu'), MaxPooling2D(2),
 *             Conv2D(64, 3, activation='relu'), MaxPooling2D(2),
 *             Flatten(), Dense(128, activation='relu'), Dropout(0.3),
 *             Dense(10)])
 * with the tensors conv1_w, conv1_b, conv2_w, conv2_b (Keras HWIO kernels),
 * d1_w, d1_b, d2_w, d2_b (Keras (in,out) or PyTorch (out,in), detected) of
 * `weights`; other tensors are ignored. Input [N,28,28,1] F32 pixels in
 * 0..1, output [N,10] logits. Keep `weights` open until the model is
 * freed. `frozen` freezes it (docs/building-a-model.md §7): conv2 keeps its
 * Winograd transform, so Winograd pays at batch 1 too, for a copy of the
 * weights made once. */
mt_status fashion_model_new(const mt_safetensors *weights, bool frozen, mt_sequential **out);

/* Logits for n images of 28×28 bytes (0..255, light object on black) into
 * logits[n*10], running the model in batches of up to 256. */
mt_status fashion_logits(mt_sequential *model, const uint8_t *pixels, int64_t n,
                         float *logits);

#endif
