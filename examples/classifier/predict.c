/* predict.c — `NAME predict IMAGE...`: classify image files. */
#include <stdio.h>
#include <stdlib.h>

#include "classifier.h"
#include "minitensor/image.h"

enum { PIXELS = CLASSIFIER_SIDE * CLASSIFIER_SIDE };

/* Load one image as 784 bytes, light on black. */
static mt_status load(const char *path, bool invert, uint8_t *px)
{
    mt_image img;
    mt_status s = mt_image_load(path, invert ? 255 : 0, &img);
    if (s)
        return s;
    if (img.width != CLASSIFIER_SIDE || img.height != CLASSIFIER_SIDE) {
        s = mt_fail(MT_ERR_SHAPE, "%s: image is %dx%d, expected 28x28", path, img.width,
                    img.height);
        mt_image_free(&img);
        return s;
    }
    for (int i = 0; i < PIXELS; i++)
        px[i] = invert ? (uint8_t)(255 - img.pixels[i]) : img.pixels[i];
    mt_image_free(&img);
    return MT_OK;
}

int classifier_predict(const classifier_spec *spec, mt_sequential *model, char **paths,
                       int n, bool invert)
{
    uint8_t *px = malloc((size_t)n * PIXELS);
    float *logits = malloc((size_t)n * CLASSIFIER_CLASSES * sizeof *logits);
    mt_tensor *z = NULL, *p = NULL;
    mt_status s = px && logits ? MT_OK : mt_fail(MT_ERR_OUT_OF_MEMORY, "out of memory");
    for (int i = 0; !s && i < n; i++)
        s = load(paths[i], invert, px + (size_t)i * PIXELS);
    if (!s)
        s = classifier_logits(spec, model, px, n, logits, NULL, paths);
    if (!s)
        s = mt_tensor_wrap(MT_DTYPE_F32, 2, (int64_t[]){n, CLASSIFIER_CLASSES}, logits, &z);
    if (!s)
        s = mt_softmax(z, -1, &p);   /* probabilities, contiguous [n,10] */
    if (s)
        fprintf(stderr, "%s: %s\n", spec->name, mt_last_error());
    for (int i = 0; !s && i < n; i++) {
        const float *prob = (const float *)p->data + i * CLASSIFIER_CLASSES;
        int best = classifier_argmax(logits + i * CLASSIFIER_CLASSES);
        if (spec->class_names)
            printf("%s: %d %s (%.1f%%)\n ", paths[i], best, spec->class_names[best],
                   100.0 * (double)prob[best]);
        else
            printf("%s: %d\n ", paths[i], best);
        for (int c = 0; c < CLASSIFIER_CLASSES; c++)
            printf(" %d:%.4f", c, (double)prob[c]);
        printf("\n");
    }
    mt_tensor_free(p);
    mt_tensor_free(z);
    free(logits);
    free(px);
    return s ? 1 : 0;
}
