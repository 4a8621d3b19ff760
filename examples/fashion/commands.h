/* commands.h — the fashion program's commands. Each prints its own errors
 * (one line on stderr) and returns the process exit status. */
#ifndef FASHION_COMMANDS_H
#define FASHION_COMMANDS_H

#include <stdbool.h>

#include "minitensor/minitensor.h"

/* No command: classify the embedded test images, draw a few, print the
 * accuracy. */
int fashion_demo(mt_sequential *model);

/* Classify 28×28 PGM/PNG images; print each class and the probabilities.
 * `invert`: the images are dark objects on white. */
int fashion_predict(mt_sequential *model, char **paths, int n, bool invert);

/* Score IDX images against IDX labels (plain or gzip-compressed): accuracy,
 * per-class accuracy and the confusion matrix (or, with `json`, one JSON
 * object). `logits_path`, if not NULL, receives the N×10 logits as
 * little-endian float32. */
int fashion_eval(mt_sequential *model, const char *images, const char *labels,
                 const char *logits_path, bool json);

#endif
