/* dataset.h — Fashion-MNIST image/label sets: class names, checks, scoring. */
#ifndef FASHION_DATASET_H
#define FASHION_DATASET_H

#include <stdint.h>

#include "minitensor/idx.h"
#include "model.h"

/* "T-shirt/top", "Trouser", … "Ankle boot", in label order. */
extern const char *const fashion_class_names[FASHION_CLASSES];

/* Check that `images` is [N,28,28] and `labels` is [N] of classes 0..9.
 * Messages start with the name of the offending set. */
mt_status fashion_check_dataset(const mt_idx *images, const char *images_name,
                                const mt_idx *labels, const char *labels_name);

/* The index of the largest of 10 logits (the first one on ties). */
int fashion_argmax(const float *logits);

typedef struct fashion_score {
    int64_t n, correct;
    int64_t confusion[FASHION_CLASSES][FASHION_CLASSES];  /* [true][predicted] */
} fashion_score;

/* Score n rows of logits[n*10] against labels[n]. */
void fashion_score_logits(const float *logits, const uint8_t *labels, int64_t n,
                          fashion_score *score);

#endif
