/* demo.c — `mnist` with no command: the built-in test digits, a few drawn in
 * ASCII, and the accuracy. */
#include <stdio.h>
#include <stdlib.h>

#include "commands.h"
#include "dataset.h"
#include "embedded.h"

enum { SHOWN = 4 };

static void print_model(const mt_sequential *model)
{
    printf("model:");
    for (int i = 0; i < mt_sequential_count(model); i++) {
        mt_layer_info info;
        if (mt_layer_get_info(mt_sequential_layer(model, i), &info))
            continue;
        printf("%s %s", i ? " ->" : "", info.name);
        if (info.kind == MT_LAYER_LINEAR)
            printf(" (%lld->%lld, %s%s)", (long long)info.in_features,
                   (long long)info.out_features,
                   info.layout == MT_LAYOUT_IN_OUT ? "Keras (in,out)" : "PyTorch (out,in)",
                   info.act == MT_ACTIVATION_RELU ? ", relu" : "");
    }
    printf("\n\n");
}

/* Digits `which[0..n)` side by side, each with its label and prediction. */
static void draw(const uint8_t *pixels, const uint8_t *labels, const float *logits,
                 const int64_t *which, int n)
{
    static const char ramp[] = " .:-=+*#%@";
    for (int r = 0; r < MNIST_SIDE; r++) {
        for (int k = 0; k < n; k++) {
            const uint8_t *row = pixels + (which[k] * MNIST_SIDE + r) * MNIST_SIDE;
            for (int c = 0; c < MNIST_SIDE; c++)
                putchar(ramp[row[c] * 10 / 256]);
            printf(k + 1 < n ? "   " : "\n");
        }
    }
    for (int k = 0; k < n; k++) {
        int pred = mnist_argmax(logits + which[k] * MNIST_CLASSES);
        printf("#%-4lld label %d -> %d %-9s%s", (long long)which[k], labels[which[k]], pred,
               pred == labels[which[k]] ? "" : "(wrong)", k + 1 < n ? "   " : "\n\n");
    }
}

int mnist_demo(mt_sequential *model)
{
    mt_idx images, labels;
    mt_status s;
    if ((s = mt_idx_parse(mnist_test_images, mnist_test_images_size, "built-in images",
                          &images)) ||
        (s = mt_idx_parse(mnist_test_labels, mnist_test_labels_size, "built-in labels",
                          &labels)) ||
        (s = mnist_check_dataset(&images, "built-in images", &labels, "built-in labels"))) {
        fprintf(stderr, "mnist: %s\n", mt_last_error());
        return 1;
    }
    int64_t n = images.dim[0];
    float *logits = malloc((size_t)(n ? n : 1) * MNIST_CLASSES * sizeof *logits);
    if (!logits) {
        fprintf(stderr, "mnist: out of memory\n");
        return 1;
    }
    if ((s = mnist_logits(model, images.data, n, logits))) {
        fprintf(stderr, "mnist: %s\n", mt_last_error());
        free(logits);
        return 1;
    }
    print_model(model);

    /* The first few digits, and the first one the model gets wrong. */
    int64_t which[SHOWN];
    int shown = 0;
    for (int64_t i = 0; i < n && shown < SHOWN - 1; i++)
        which[shown++] = i;
    for (int64_t i = shown; i < n && shown < SHOWN; i++)
        if (mnist_argmax(logits + i * MNIST_CLASSES) != labels.data[i])
            which[shown++] = i;
    draw(images.data, labels.data, logits, which, shown);

    mnist_score score;
    mnist_score_logits(logits, labels.data, n, &score);
    printf("accuracy on %lld held-out digits: %.2f%% (%lld correct)\n", (long long)n,
           n ? 100.0 * (double)score.correct / (double)n : 0.0, (long long)score.correct);
    free(logits);
    return 0;
}
