/* score.c — what makes a pair of IDX files a 28×28, 10-class test set, and
 * scoring. */
#include <string.h>

#include "classifier.h"

mt_status classifier_check_dataset(const mt_idx *images, const char *images_name,
                                   const mt_idx *labels, const char *labels_name,
                                   const char *label_kind)
{
    if (images->rank != 3)
        return mt_fail(MT_ERR_SHAPE, "%s: an IDX file of rank %d, expected images "
                       "[N,28,28]", images_name, images->rank);
    if (images->dim[1] != CLASSIFIER_SIDE || images->dim[2] != CLASSIFIER_SIDE)
        return mt_fail(MT_ERR_SHAPE, "%s: images are %lldx%lld, expected 28x28",
                       images_name, (long long)images->dim[1], (long long)images->dim[2]);
    if (labels->rank != 1)
        return mt_fail(MT_ERR_SHAPE, "%s: an IDX file of rank %d, expected labels [N]",
                       labels_name, labels->rank);
    if (labels->dim[0] != images->dim[0])
        return mt_fail(MT_ERR_SHAPE, "%s: %lld labels for %lld images in %s", labels_name,
                       (long long)labels->dim[0], (long long)images->dim[0], images_name);
    if (images->dim[0] == 0)   /* an accuracy of 0.00% would be a made-up number */
        return mt_fail(MT_ERR_SHAPE, "%s: no images (an IDX file of [0,28,28])", images_name);
    for (int64_t i = 0; i < labels->dim[0]; i++)
        if (labels->data[i] >= CLASSIFIER_CLASSES)
            return mt_fail(MT_ERR_FORMAT, "%s: label %u at index %lld is not %s",
                           labels_name, labels->data[i], (long long)i, label_kind);
    return MT_OK;
}

int classifier_argmax(const float *logits)
{
    int best = 0;
    for (int c = 1; c < CLASSIFIER_CLASSES; c++)
        if (logits[c] > logits[best])
            best = c;
    return best;
}

void classifier_score_logits(const float *logits, const uint8_t *labels, int64_t n,
                             classifier_score *score)
{
    memset(score, 0, sizeof *score);
    score->n = n;
    for (int64_t i = 0; i < n; i++) {
        int pred = classifier_argmax(logits + i * CLASSIFIER_CLASSES);
        score->confusion[labels[i]][pred]++;
        score->correct += pred == labels[i];
    }
}
