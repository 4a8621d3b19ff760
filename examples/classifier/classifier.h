/* classifier.h — the command line shared by the 28×28 grayscale, 10-class
 * example programs (examples/mnist, examples/fashion):
 *
 *   NAME [--weights FILE]                    the built-in demo
 *   NAME [--weights FILE] predict [--invert] IMAGE...
 *   NAME [--weights FILE] eval IMAGES LABELS [--logits OUT] [--json]
 *
 * A program fills a classifier_spec (its name, texts, model and embedded
 * data) and returns classifier_main(). Every message starts with the name. */
#ifndef CLASSIFIER_H
#define CLASSIFIER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "minitensor/idx.h"
#include "minitensor/minitensor.h"

#define CLASSIFIER_SIDE 28
#define CLASSIFIER_CLASSES 10

typedef struct classifier_spec {
    const char *name;    /* "mnist": the program, first word of every message */
    const char *usage;   /* the --help text */
    const char *items;   /* what the demo counts: "digits", "images" */
    /* Label order; NULL when the classes are the digits themselves (output
     * then shows numbers only). */
    const char *const *class_names;
    /* Print the demo's model one layer per line, numbered (else on one line
     * joined by "->"). */
    bool model_per_line;
    /* Build the model from `weights` (kept open until the model is freed),
     * frozen or not, and run it on n 28×28 byte images into logits[n*10]. */
    mt_status (*model_new)(const mt_safetensors *weights, bool frozen, mt_sequential **out);
    mt_status (*logits)(mt_sequential *model, const uint8_t *pixels, int64_t n,
                        float *logits);
    /* What the program calls a bad label in check messages: "a digit". */
    const char *label_kind;
    /* The embedded files: weights (safetensors), test images and labels (IDX). */
    const unsigned char *weights, *images, *labels;
    size_t weights_size, images_size, labels_size;
} classifier_spec;

/* Parse argv, load the weights and run the command. Returns the exit status:
 * 0 success, 1 bad input or failure, 2 bad command line. */
int classifier_main(const classifier_spec *spec, int argc, char **argv);

/* ---- the commands (each prints its own errors, returns the exit status) */

/* No command: classify the embedded test images, draw a few, print the
 * accuracy. */
int classifier_demo(const classifier_spec *spec, mt_sequential *model);

/* Classify 28×28 PGM/PNG images; print each class and the probabilities.
 * `invert`: the images are dark on white. */
int classifier_predict(const classifier_spec *spec, mt_sequential *model, char **paths,
                       int n, bool invert);

/* Score IDX images against IDX labels (plain or gzip-compressed): accuracy,
 * per-class accuracy and the confusion matrix (or, with `json`, one JSON
 * object). `logits_path`, if not NULL, receives the N×10 logits as
 * little-endian float32. */
int classifier_eval(const classifier_spec *spec, mt_sequential *model, const char *images,
                    const char *labels, const char *logits_path, bool json);

/* spec->logits, then a check that every logit is finite: NaN or Inf (finite
 * weights that overflow float32) fails naming paths[i] (predict) or
 * "source: image i" (paths NULL) and the class. */
mt_status classifier_logits(const classifier_spec *spec, mt_sequential *model,
                            const uint8_t *pixels, int64_t n, float *logits,
                            const char *source, char *const *paths);

/* ---- image/label sets and scoring */

/* Check that `images` is [N,28,28] and `labels` is [N] of classes 0..9.
 * Messages start with the name of the offending set; a bad label "is not
 * `label_kind`". */
mt_status classifier_check_dataset(const mt_idx *images, const char *images_name,
                                   const mt_idx *labels, const char *labels_name,
                                   const char *label_kind);

/* The index of the largest of 10 logits (the first one on ties). */
int classifier_argmax(const float *logits);

typedef struct classifier_score {
    int64_t n, correct;
    int64_t confusion[CLASSIFIER_CLASSES][CLASSIFIER_CLASSES];  /* [true][predicted] */
} classifier_score;

/* Score n rows of logits[n*10] against labels[n]. */
void classifier_score_logits(const float *logits, const uint8_t *labels, int64_t n,
                             classifier_score *score);

#endif
