/* dataset.h — MNIST image/label sets: checks and scoring. */
#ifndef MNIST_DATASET_H
#define MNIST_DATASET_H

#include <stdint.h>

#include "minitensor/idx.h"
#include "model.h"

/* Check that `images` is [N,28,28] and `labels` is [N] of digits 0..9.
 * Messages start with the name of the offending set. */
mt_status mnist_check_dataset(const mt_idx *images, const char *images_name,
                              const mt_idx *labels, const char *labels_name);

/* The index of the largest of 10 logits (the first one on ties). */
int mnist_argmax(const float *logits);

typedef struct mnist_score {
    int64_t n, correct;
    int64_t confusion[MNIST_CLASSES][MNIST_CLASSES];  /* [true][predicted] */
} mnist_score;

/* Score n rows of logits[n*10] against labels[n]. */
void mnist_score_logits(const float *logits, const uint8_t *labels, int64_t n,
                        mnist_score *score);

#endif
