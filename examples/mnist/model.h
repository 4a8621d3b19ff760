/* model.h — the Keras MNIST model, rebuilt with minitensor's layers. */
#ifndef MNIST_MODEL_H
#define MNIST_MODEL_H

#include <stdint.h>

#include "minitensor/minitensor.h"

#define MNIST_SIDE 28
#define MNIST_CLASSES 10

/* Sequential([Flatten(input_shape=(28,28)), Dense(128, activation='relu'),
 *             Dropout(0.2), Dense(10)])
 * with the tensors d1_w, d1_b, d2_w, d2_b of `weights` (Keras (in,out) or
 * PyTorch (out,in) layout, detected per layer; other tensors are ignored).
 * Input [N,28,28] F32 pixels in 0..1, output [N,10] logits. Keep `weights`
 * open until the model is freed. `frozen` freezes it (docs/building-a-model.md
 * §7): its first layer then reads only the weight rows under a digit's
 * inked pixels, about a third of the time per image, for a copy of the
 * weights (401 KB) made once — 0.2 ms, which pays over a data set, not
 * over a few images. */
mt_status mnist_model_new(const mt_safetensors *weights, bool frozen, mt_sequential **out);

/* Logits for n images of 28×28 bytes (0..255, white on black) into
 * logits[n*10], running the model in batches. */
mt_status mnist_logits(mt_sequential *model, const uint8_t *pixels, int64_t n,
                       float *logits);

#endif
