/* eval.c — `NAME eval IMAGES LABELS`: accuracy, per-class accuracy, the
 * confusion matrix; optionally the logits to a file, or JSON. IDX files may
 * be gzip-compressed (as Fashion-MNIST is distributed): mt_idx_load reads
 * both. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "classifier.h"

/* n×10 logits as little-endian float32, whatever the host's byte order,
 * written atomically: on any failure (a full disk) an existing file at
 * `path` is unchanged and the message carries the system's reason. */
static mt_status write_logits(const char *path, const float *logits, int64_t n)
{
    size_t count = (size_t)n * CLASSIFIER_CLASSES;
    unsigned char *bytes = malloc(count ? count * 4 : 1);
    if (!bytes)
        return mt_fail(MT_ERR_OUT_OF_MEMORY, "%s: out of memory", path);
    for (size_t i = 0; i < count; i++) {
        uint32_t u;
        memcpy(&u, &logits[i], sizeof u);
        for (int b = 0; b < 4; b++)
            bytes[4 * i + (size_t)b] = (unsigned char)(u >> (8 * b));
    }
    mt_status s = mt_file_write_atomic(path, bytes, count * 4);
    free(bytes);
    return s;
}

static double percent(int64_t part, int64_t whole)
{
    return whole ? 100.0 * (double)part / (double)whole : 0.0;
}

static void print_report(const classifier_spec *spec, const classifier_score *sc)
{
    printf("images: %lld  correct: %lld  accuracy: %.2f%%\n\n", (long long)sc->n,
           (long long)sc->correct, percent(sc->correct, sc->n));
    printf("per-class accuracy:\n");
    for (int t = 0; t < CLASSIFIER_CLASSES; t++) {
        int64_t total = 0;
        for (int p = 0; p < CLASSIFIER_CLASSES; p++)
            total += sc->confusion[t][p];
        if (spec->class_names)
            printf("  %d %-12s", t, spec->class_names[t]);
        else
            printf("  %d:", t);
        printf(" %6.2f%% (%lld/%lld)\n", percent(sc->confusion[t][t], total),
               (long long)sc->confusion[t][t], (long long)total);
    }
    printf("\nconfusion matrix (rows: label, columns: prediction):\n      ");
    for (int p = 0; p < CLASSIFIER_CLASSES; p++)
        printf("%6d", p);
    for (int t = 0; t < CLASSIFIER_CLASSES; t++) {
        printf("\n  %d:  ", t);
        for (int p = 0; p < CLASSIFIER_CLASSES; p++)
            printf("%6lld", (long long)sc->confusion[t][p]);
    }
    printf("\n");
}

int classifier_eval(const classifier_spec *spec, mt_sequential *model,
                    const char *images_path, const char *labels_path,
                    const char *logits_path, bool json)
{
    mt_idx images = {0}, labels = {0};
    float *logits = NULL;
    mt_status s;
    if (!(s = mt_idx_load(images_path, &images)) && !(s = mt_idx_load(labels_path, &labels)))
        s = classifier_check_dataset(&images, images_path, &labels, labels_path,
                                     spec->label_kind);
    int64_t n = images.dim[0];
    if (!s && !(logits = malloc((size_t)(n ? n : 1) * CLASSIFIER_CLASSES * sizeof *logits)))
        s = mt_fail(MT_ERR_OUT_OF_MEMORY, "out of memory");
    if (!s)
        s = classifier_logits(spec, model, images.data, n, logits, images_path, NULL);
    if (!s && logits_path)
        s = write_logits(logits_path, logits, n);
    if (s) {
        fprintf(stderr, "%s: %s\n", spec->name, mt_last_error());
    } else {
        classifier_score score;
        classifier_score_logits(logits, labels.data, n, &score);
        if (json)
            printf("{\"n\": %lld, \"correct\": %lld, \"accuracy\": %.6g}\n", (long long)n,
                   (long long)score.correct, percent(score.correct, n) / 100.0);
        else
            print_report(spec, &score);
    }
    free(logits);
    mt_idx_free(&labels);
    mt_idx_free(&images);
    return s ? 1 : 0;
}
