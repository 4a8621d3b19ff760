/* dataset.h — Fashion-MNIST image/label sets: class names, checks and
 * scoring (the shared classifier's, with Fashion-MNIST's messages). */
#ifndef FASHION_DATASET_H
#define FASHION_DATASET_H

#include <stdint.h>

#include "classifier.h"
#include "minitensor/idx.h"
#include "model.h"

/* What a bad label is not, in check messages. */
#define FASHION_LABEL_KIND "a class (0..9)"

/* "T-shirt/top", "Trouser", … "Ankle boot", in label order. */
extern const char *const fashion_class_names[FASHION_CLASSES];

/* Check that `images` is [N,28,28] and `labels` is [N] of classes 0..9.
 * Messages start with the name of the offending set. */
mt_status fashion_check_dataset(const mt_idx *images, const char *images_name,
                                const mt_idx *labels, const char *labels_name);

/* The index of the largest of 10 logits (the first one on ties). */
#define fashion_argmax classifier_argmax

typedef classifier_score fashion_score;

/* Score n rows of logits[n*10] against labels[n]. */
#define fashion_score_logits classifier_score_logits

#endif
