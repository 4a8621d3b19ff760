/* predict.c — `fashion predict IMAGE...`: classify image files. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "dataset.h"
#include "minitensor/image.h"

/* Load one image as 784 bytes, light object on black. */
static mt_status load(const char *path, bool invert, uint8_t *px)
{
    mt_image img;
    mt_status s = mt_image_load(path, invert ? 255 : 0, &img);
    if (s)
        return s;
    if (img.width != FASHION_SIDE || img.height != FASHION_SIDE) {
        s = mt_fail(MT_ERR_SHAPE, "%s: image is %dx%d, expected 28x28", path, img.width,
                    img.height);
        mt_image_free(&img);
        return s;
    }
    for (int i = 0; i < FASHION_SIDE * FASHION_SIDE; i++)
        px[i] = invert ? (uint8_t)(255 - img.pixels[i]) : img.pixels[i];
    mt_image_free(&img);
    return MT_OK;
}

int fashion_predict(mt_sequential *model, char **paths, int n, bool invert)
{
    enum { PIXELS = FASHION_SIDE * FASHION_SIDE };
    uint8_t *px = malloc((size_t)n * PIXELS);
    float *logits = malloc((size_t)n * FASHION_CLASSES * sizeof *logits);
    mt_tensor *z = NULL, *p = NULL;
    mt_status s = px && logits ? MT_OK : mt_fail(MT_ERR_OUT_OF_MEMORY, "out of memory");
    for (int i = 0; !s && i < n; i++)
        s = load(paths[i], invert, px + (size_t)i * PIXELS);
    if (!s)
        s = fashion_logits(model, px, n, logits);
    if (!s)
        s = mt_tensor_wrap(&z, MT_DTYPE_F32, 2, (int64_t[]){n, FASHION_CLASSES}, logits);
    if (!s)
        s = mt_softmax(z, -1, &p);   /* probabilities, contiguous [n,10] */
    if (s)
        fprintf(stderr, "fashion: %s\n", mt_last_error());
    for (int i = 0; !s && i < n; i++) {
        const float *prob = (const float *)p->data + i * FASHION_CLASSES;
        int best = fashion_argmax(logits + i * FASHION_CLASSES);
        printf("%s: %d %s (%.1f%%)\n ", paths[i], best, fashion_class_names[best],
               100.0 * (double)prob[best]);
        for (int c = 0; c < FASHION_CLASSES; c++)
            printf(" %d:%.4f", c, (double)prob[c]);
        printf("\n");
    }
    mt_tensor_free(p);
    mt_tensor_free(z);
    free(logits);
    free(px);
    return s ? 1 : 0;
}
