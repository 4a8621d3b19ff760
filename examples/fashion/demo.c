/* demo.c — `fashion` with no command: the built-in test images, a few drawn
 * in ASCII with their predicted classes, and the accuracy. */
#include <stdio.h>
#include <stdlib.h>

#include "commands.h"
#include "dataset.h"
#include "embedded.h"

enum { SHOWN = 4, COLUMN = FASHION_SIDE + 3 };

static void print_model(const mt_sequential *model)
{
    printf("model:\n");
    for (int i = 0; i < mt_sequential_count(model); i++) {
        mt_layer_info info;
        if (mt_layer_get_info(mt_sequential_layer(model, i), &info))
            continue;
        printf("  %d %s", i + 1, info.name);
        if (info.kind == MT_LAYER_CONV2D)
            printf(" (%lldx%lld, %lld->%lld channels, %s%s)", (long long)info.kernel_h,
                   (long long)info.kernel_w, (long long)info.in_channels,
                   (long long)info.out_channels,
                   info.kernel_layout == MT_KERNEL_HWIO ? "Keras HWIO" : "PyTorch OIHW",
                   info.act == MT_ACTIVATION_RELU ? ", relu" : "");
        else if (info.kind == MT_LAYER_LINEAR)
            printf(" (%lld->%lld, %s%s)", (long long)info.in_features,
                   (long long)info.out_features,
                   info.layout == MT_LAYOUT_IN_OUT ? "Keras (in,out)" : "PyTorch (out,in)",
                   info.act == MT_ACTIVATION_RELU ? ", relu" : "");
        printf("\n");
    }
    printf("\n");
}

/* Images `which[0..n)` side by side, each with its label and prediction. */
static void draw(const uint8_t *pixels, const uint8_t *labels, const float *logits,
                 const int64_t *which, int n)
{
    static const char ramp[] = " .:-=+*#%@";
    for (int r = 0; r < FASHION_SIDE; r++) {
        for (int k = 0; k < n; k++) {
            const uint8_t *row = pixels + (which[k] * FASHION_SIDE + r) * FASHION_SIDE;
            for (int c = 0; c < FASHION_SIDE; c++)
                putchar(ramp[row[c] * 10 / 256]);
            printf(k + 1 < n ? "   " : "\n");
        }
    }
    for (int k = 0; k < n; k++)
        printf("#%-4lld %-*s", (long long)which[k], k + 1 < n ? COLUMN - 6 : 0,
               fashion_class_names[labels[which[k]]]);
    printf("\n");
    for (int k = 0; k < n; k++) {
        int pred = fashion_argmax(logits + which[k] * FASHION_CLASSES);
        char text[64];
        snprintf(text, sizeof text, "-> %s%s", fashion_class_names[pred],
                 pred == labels[which[k]] ? "" : " (wrong)");
        printf("%-*s", k + 1 < n ? COLUMN : 0, text);
    }
    printf("\n\n");
}

int fashion_demo(mt_sequential *model)
{
    mt_idx images, labels;
    mt_status s;
    if ((s = mt_idx_parse(fashion_test_images, fashion_test_images_size, "built-in images",
                          &images)) ||
        (s = mt_idx_parse(fashion_test_labels, fashion_test_labels_size, "built-in labels",
                          &labels)) ||
        (s = fashion_check_dataset(&images, "built-in images", &labels,
                                   "built-in labels"))) {
        fprintf(stderr, "fashion: %s\n", mt_last_error());
        return 1;
    }
    int64_t n = images.dim[0];
    float *logits = malloc((size_t)(n ? n : 1) * FASHION_CLASSES * sizeof *logits);
    if (!logits) {
        fprintf(stderr, "fashion: out of memory\n");
        return 1;
    }
    if ((s = fashion_logits(model, images.data, n, logits))) {
        fprintf(stderr, "fashion: %s\n", mt_last_error());
        free(logits);
        return 1;
    }
    print_model(model);

    /* The first few images, and the first one the model gets wrong. */
    int64_t which[SHOWN];
    int shown = 0;
    for (int64_t i = 0; i < n && shown < SHOWN - 1; i++)
        which[shown++] = i;
    for (int64_t i = shown; i < n && shown < SHOWN; i++)
        if (fashion_argmax(logits + i * FASHION_CLASSES) != labels.data[i])
            which[shown++] = i;
    draw(images.data, labels.data, logits, which, shown);

    fashion_score score;
    fashion_score_logits(logits, labels.data, n, &score);
    printf("accuracy on %lld held-out images: %.2f%% (%lld correct)\n", (long long)n,
           n ? 100.0 * (double)score.correct / (double)n : 0.0, (long long)score.correct);
    free(logits);
    return 0;
}
