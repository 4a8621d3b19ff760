/* dataset.h — MNIST image/label sets: checks and scoring (the shared
 * classifier's, with MNIST's messages), for the tests and benchmarks. */
#ifndef MNIST_DATASET_H
#define MNIST_DATASET_H

#include <stdint.h>

#include "classifier.h"
#include "minitensor/idx.h"
#include "model.h"

/* What a bad label is not, in check messages. */
#define MNIST_LABEL_KIND "a digit"

/* Check that `images` is [N,28,28] and `labels` is [N] of digits 0..9.
 * Messages start with the name of the offending set. */
mt_status mnist_check_dataset(const mt_idx *images, const char *images_name,
                              const mt_idx *labels, const char *labels_name);

/* The index of the largest of 10 logits (the first one on ties). */
#define mnist_argmax classifier_argmax

typedef classifier_score mnist_score;

/* Score n rows of logits[n*10] against labels[n]. */
#define mnist_score_logits classifier_score_logits

#endif
